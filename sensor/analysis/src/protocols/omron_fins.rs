//! Omron FINS (Factory Interface Network Service; FINS Commands Reference Manual W227, CS/CJ
//! Ethernet Unit Operation Manual W421), the command protocol of Omron's CS, CJ, CP, NJ and NX
//! controllers and of the tools and HMIs that talk to them (CX-Programmer, CX-One, NS panels,
//! SCADA drivers): on UDP port 9600 a datagram is one FINS frame; on TCP port 9600 each FINS
//! frame rides in a FINS/TCP message ("FINS", length, command, error code) after a node
//! address handshake ([`wire`]).
//!
//! Recognition: FINS/TCP by its "FINS" magic (the first byte rejects everything else); a
//! FINS/UDP datagram by a header whose reserved ICF bits and RSV are 0, whose gateway count is
//! at most 7 and whose command code is one W227 lists, so the content probe costs one
//! comparison on most foreign datagrams. A response (ICF bit 6) is only a server's.
//!
//! What is reported ([`commands`] for the operations):
//! - every command as an `Operation` (or a bare `FunctionCode`, the command code MRC << 8 |
//!   SRC): memory area writes, program area read/write/clear, RUN/STOP, clock write, parameter
//!   and name writes and file memory services carry their evidence (service, area, address,
//!   count, mode, file, clock value) and the destination FINS address (`node`,
//!   network.node.unit); memory area reads, writes, fills and transfers are also `Access`
//!   observations of the area. A command travelling to the flow's client (a PLC that sends
//!   FINS to its host) is a function code only;
//! - identity: a Controller Data Read (0501) response names the CPU model and version
//!   (source::OMRON_FINS_CONTROLLER_DATA, vendor Omron), and each end's FINS node number, from
//!   the node address handshake of FINS/TCP and the source address of local-network frames,
//!   is a description (source::OMRON_FINS_NODE);
//! - a `CleartextLogin` (without user) when Program Area Protect or Protect Clear carries the
//!   program password; the password is never read out;
//! - a response whose end code says the command failed (W227 5-1: format and parameter errors,
//!   unsupported services, mode and access right refusals ...) is the controller refusing, not
//!   malformed traffic: a `status` of the responder naming the end code, its meaning and the
//!   command refused ("FINS end code 0x2108 (write not possible: cannot change) refusing memory
//!   area write"; source::OMRON_FINS_END_CODE), each distinct one once per flow;
//! - violations: FINS/TCP headers without magic or with an impossible length, unknown FINS/TCP
//!   commands and nonzero FINS/TCP error codes, FINS frames shorter than header and command,
//!   reserved ICF bits or RSV set, responses without end code, and (once) a response that
//!   travels the same way as its command, whose identity and refusals are then not taken.
//!
//! Responses are paired with their command by SID and command code, in a small per-flow
//! table: Controller Data Read's parameter (00: model and version, 01: area data only) says
//! what its answer holds.

pub mod commands;
mod error;
pub mod wire;

pub use self::error::FinsError;
use super::facts::Facts;
use super::framing::{self, Delivery, Framing, Stream};
use super::spec::ProtocolSpec;
use super::text::{self};
use super::violations::Violations;
use super::{operation_or_code, source, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};
use wire::{tcp_command, Frame, TcpHeader};

const PROTOCOL: &str = "omron_fins";
/// FINS/UDP and FINS/TCP (W421 7-1: the default port of both).
pub const PORT: u16 = 9600;

/// FINS over UDP: one frame a datagram.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe: udp_probe,
    new,
};

/// FINS/TCP.
pub static TCP_SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe: tcp_probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<FinsDissector>::default()
}

/// Commands remembered until answered.
const MAX_PENDING: usize = 32;
/// Identity facts remembered per flow.
const MAX_FACTS: usize = 16;
/// Distinct refusals (end code and command) reported per flow.
const MAX_REFUSALS: usize = 8;
/// Controller Data Read's answer to parameter 00 or none: model (20 bytes), version (20),
/// system use (40), area data (12) (W227 5-3-10).
const CONTROLLER_DATA_LEN: usize = 92;

// ---------------------------------------------------------------------------------------
// Recognition.

/// A FINS/UDP datagram: a plausible header and a command code W227 lists.
pub fn udp_probe(_dir: Direction, data: &[u8]) -> Probe {
    match data {
        [icf, ..] if icf & 0x3e != 0 => Probe::No,
        [_, rsv, gct, dna, _, _, sna, ..]
            if *rsv == 0 && *gct <= wire::MAX_GCT && *dna < 0x80 && *sna < 0x80 =>
        {
            match Frame::parse(data) {
                Ok(f) if commands::is_known(f.command) => verdict(&f),
                _ => Probe::No,
            }
        }
        _ => Probe::No,
    }
}

/// A FINS/TCP message: the magic, a plausible length and a known FINS/TCP command.
pub fn tcp_probe(_dir: Direction, data: &[u8]) -> Probe {
    if !wire::starts_like_tcp(data) {
        return Probe::No;
    }
    let Some(h) = TcpHeader::parse(data) else {
        return Probe::NeedMore;
    };
    if !(8..=wire::MAX_TCP_LENGTH).contains(&h.length) || tcp_command::name(h.command).is_none() {
        return Probe::No;
    }
    match h.command {
        tcp_command::NODE_ADDRESS_SERVER => Probe::YesFromServer,
        tcp_command::FRAME_SEND => {
            let body = data.get(wire::TCP_HEADER_LEN..h.message_len().min(data.len()));
            match body.map(Frame::parse) {
                Some(Ok(f)) => verdict(&f),
                _ => Probe::Yes,
            }
        }
        _ => Probe::Yes,
    }
}

fn verdict(f: &Frame<'_>) -> Probe {
    if f.is_response() {
        Probe::YesFromServer
    } else {
        Probe::Yes
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

/// A command waiting for its response.
#[derive(Debug, Clone, Copy)]
struct Pending {
    sid: u8,
    command: u16,
    /// The first parameter byte.
    parameter: Option<u8>,
    /// Which way the command travelled.
    dir: Direction,
}

/// Per-flow FINS state.
#[derive(Default)]
pub struct FinsDissector {
    /// FINS/TCP, per direction: looking for the next "FINS" after a gap or broken header.
    resync: [bool; 2],
    pending: Vec<Pending>,
    /// Identity facts already reported: fingerprints of subject, field and value.
    facts: Facts<MAX_FACTS>,
    /// The refusals (failed end code, command) reported on this flow.
    refusals: Facts<MAX_REFUSALS>,
    violations: Violations,
    password_reported: bool,
    /// Commands travelled this way (per direction).
    commanded: [bool; 2],
    /// A response travelled the same way as its command (reported once; no answer is
    /// trusted after it).
    same_way_reported: bool,
}

impl FinsDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: FinsError) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// `subject`'s FINS node number (1-254; 0 is "this node", 255 broadcast).
    fn node(&mut self, out: &mut Vec<Observation>, subject: Subject, node: u8) {
        if node == 0 || node == 0xff {
            return;
        }
        let src = source::OMRON_FINS_NODE;
        self.facts
            .emit(out, subject, Field::Description, &[node], src, || {
                Some(format!("FINS node {node}"))
            });
    }

    /// One FINS frame travelling `dir`.
    fn frame(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<Observation>) {
        let f = match Frame::parse(bytes) {
            Ok(f) => f,
            Err(e) => return self.violation(out, e),
        };
        if f.source.network == 0 {
            self.node(out, dir.sender(), f.source.node);
        }
        match f.end_code {
            None => self.command(dir, &f, out),
            Some(end) => self.response(dir, &f, end, out),
        }
    }

    fn command(&mut self, dir: Direction, f: &Frame<'_>, out: &mut Vec<Observation>) {
        let code = f.command;
        self.commanded[dir.index()] = true;
        if dir == Direction::ToServer {
            let (op, mut details, access) = commands::request(code, f.data);
            if !details.is_empty() {
                details.push(("node", f.destination.to_string()));
            }
            out.push(operation_or_code(op, u32::from(code), details));
            out.extend(access.map(Observation::Access));
        } else {
            out.push(Observation::FunctionCode(u32::from(code)));
        }
        let protect = matches!(
            code,
            commands::PROGRAM_AREA_PROTECT | commands::PROGRAM_AREA_PROTECT_CLEAR
        );
        if protect && !self.password_reported {
            self.password_reported = true;
            out.push(Observation::CleartextLogin {
                user: String::new(),
                protocol: PROTOCOL,
            });
        }
        // ICF bit 0: no response required.
        if f.icf & 0x01 == 0 {
            self.pending.retain(|p| p.sid != f.sid || p.command != code);
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push(Pending {
                sid: f.sid,
                command: code,
                parameter: f.data.first().copied(),
                dir,
            });
        }
    }

    fn response(&mut self, dir: Direction, f: &Frame<'_>, end: u16, out: &mut Vec<Observation>) {
        let asked = self
            .pending
            .iter()
            .position(|p| p.sid == f.sid && p.command == f.command)
            .map(|i| self.pending.remove(i));
        // An answer goes back to whoever asked: one sent the same way as its command, or the
        // same way as every command of the flow, comes from the asker's side and says nothing
        // about the controller (a forged or replayed trace); after one, no answer on the flow
        // is trusted.
        let same_way = asked.map_or(
            self.commanded[dir.index()] && !self.commanded[dir.other().index()],
            |p| p.dir == dir,
        );
        if same_way && !self.same_way_reported {
            self.same_way_reported = true;
            self.violation(out, FinsError::SameWay(f.sid));
        }
        if self.same_way_reported {
            return;
        }
        if wire::failed(end) {
            // A refusal by the responder, not malformed traffic: a condition of the device.
            let command = commands::name(f.command).unwrap_or("an unknown command");
            let [a, b] = end.to_be_bytes();
            let [c, d] = f.command.to_be_bytes();
            self.refusals.emit(
                out,
                dir.sender(),
                Field::Status,
                &[a, b, c, d],
                source::OMRON_FINS_END_CODE,
                || Some(error::refusal(end, command)),
            );
            return;
        }
        let only_area_data = asked.is_some_and(|p| p.parameter == Some(1));
        if f.command == commands::CONTROLLER_DATA_READ && !only_area_data {
            self.controller_data(dir.sender(), f.data, out);
        }
    }

    /// Controller Data Read's model and version, from the responder.
    fn controller_data(&mut self, subject: Subject, data: &[u8], out: &mut Vec<Observation>) {
        let src = source::OMRON_FINS_CONTROLLER_DATA;
        let Some((model, version)) = model_and_version(data) else {
            return;
        };
        if let Some(m) = text::clean(model) {
            self.facts
                .emit(out, subject, Field::Vendor, b"Omron", src, || {
                    Some("Omron".to_string())
                });
            self.facts
                .emit(out, subject, Field::Model, model, src, || Some(m));
        }
        self.facts
            .emit(out, subject, Field::Firmware, version, src, || {
                text::clean(version)
            });
    }

    /// One FINS/TCP message.
    fn tcp_message(&mut self, dir: Direction, message: &[u8], out: &mut Vec<Observation>) {
        let Some(h) = TcpHeader::parse(message) else {
            return;
        };
        let body = message.get(wire::TCP_HEADER_LEN..).unwrap_or_default();
        if h.error != 0 {
            self.violation(out, FinsError::TcpError { code: h.error });
        }
        let short = |need: usize| {
            (body.len() < need).then(|| FinsError::TcpShort {
                command: tcp_command::name(h.command).unwrap_or("command"),
                length: h.length,
            })
        };
        match h.command {
            tcp_command::NODE_ADDRESS_CLIENT => {
                if let Some(e) = short(4) {
                    self.violation(out, e);
                }
            }
            tcp_command::NODE_ADDRESS_SERVER => {
                if let Some(e) = short(8) {
                    return self.violation(out, e);
                }
                // Client node, then server node, as 4-byte numbers (W421 7-4-3).
                let node = |at: usize| match body.get(at..at + 4) {
                    Some([0, 0, 0, n]) => *n,
                    _ => 0,
                };
                if h.error == 0 {
                    self.node(out, dir.receiver(), node(0));
                    self.node(out, dir.sender(), node(4));
                }
            }
            tcp_command::FRAME_SEND => self.frame(dir, body, out),
            tcp_command::FRAME_SEND_ERROR | tcp_command::CONNECTION_CONFIRMATION => {}
            other => self.violation(out, FinsError::TcpCommand(other)),
        }
    }
}

/// The CPU model and version of a Controller Data Read response's data (after the end code)
/// to parameter 00 or none (W227 5-3-10): 20 bytes of ASCII each, padded with NULs or spaces,
/// then 40 bytes for system use and 12 of area data. Each is cut at its first NUL.
pub fn model_and_version(data: &[u8]) -> Option<(&[u8], &[u8])> {
    if data.len() < CONTROLLER_DATA_LEN {
        return None;
    }
    let field = |range: std::ops::Range<usize>| {
        let raw = data.get(range).unwrap_or_default();
        raw.split(|&b| b == 0).next().unwrap_or_default()
    };
    Some((field(0..20), field(20..40)))
}

/// Frames the FINS/TCP message at the start of `data`.
fn tcp_frame(data: &[u8]) -> Framing<FinsError> {
    if !wire::starts_like_tcp(data) {
        return Framing::broken(1, FinsError::NotFinsTcp);
    }
    let Some(h) = TcpHeader::parse(data) else {
        return Framing::Incomplete {
            needed: wire::TCP_HEADER_LEN,
        };
    };
    if !(8..=wire::MAX_TCP_LENGTH).contains(&h.length) {
        return Framing::broken(1, FinsError::TcpLength(h.length));
    }
    match data.len() >= h.message_len() {
        true => Framing::Complete {
            len: h.message_len(),
        },
        false => Framing::Incomplete {
            needed: h.message_len(),
        },
    }
}

/// The resync scan: the next "FINS" whose header has a plausible length.
fn tcp_boundary(data: &[u8]) -> Framing<FinsError> {
    match text::find(data, &wire::MAGIC) {
        Some(0) => match TcpHeader::parse(data) {
            None => Framing::Incomplete {
                needed: wire::TCP_HEADER_LEN,
            },
            Some(h) if (8..=wire::MAX_TCP_LENGTH).contains(&h.length) => Framing::Complete {
                len: h.message_len(),
            },
            Some(_) => Framing::skip(1),
        },
        Some(at) => Framing::skip(at),
        None => {
            // Keep a tail that may be the start of "FINS".
            let keep = (1..wire::MAGIC.len())
                .rev()
                .find(|&n| data.ends_with(wire::MAGIC.get(..n).unwrap_or_default()))
                .unwrap_or(0);
            Framing::skip(data.len() - keep)
        }
    }
}

impl Stream for FinsDissector {
    type Error = FinsError;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        if delivery.ctx.transport != Transport::Udp {
            return None;
        }
        self.frame(delivery.dir, delivery.data, out);
        Some(delivery.data.len())
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<FinsError> {
        framing::step(&mut self.resync[dir.index()], data, tcp_frame, tcp_boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: FinsError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.tcp_message(dir, message, out);
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

#[cfg(test)]
mod tests;
