//! SLMP (SeamLess Message Protocol), the MELSEC Communication (MC) protocol's QnA-compatible
//! 3E and 4E frames that Mitsubishi MELSEC Q, L, iQ-R and iQ-F controllers, their Ethernet
//! modules and third-party SLMP devices serve to HMIs, SCADA and engineering tools, in binary
//! and ASCII code, over TCP and UDP ([`wire`] for the layout).
//!
//! Recognition: the subheader (`50 00`/`D0 00`, 4E `54 00`/`D4 00`, or their ASCII text
//! `"5000"`...), then a data length that fills the message and, for a request, a command
//! whose high byte is one of the command classes (0x01 to 0x18). Ports 5006, 5007 and 5562
//! nominate it (the iQ-R and iQ-F defaults), any port by content; the probe answers `No` at
//! the first byte that starts no subheader.
//!
//! MELSOFT's own protocol (GX Works on UDP 5560 and TCP 5551, frames starting `5A 00` and
//! `57 01`, as the corpus capture `melsoft_UDP_clean_2.pcap` holds) is another protocol and
//! is not read here.
//!
//! What is reported ([`ops`]; the function code is the command):
//! - every request from the client: device reads and writes (with the device range as a
//!   data-area access: `D` from 100, 10 points), remote RUN, STOP, PAUSE, RESET and latch
//!   clear, password lock and unlock (an unlock is also a cleartext login without a user
//!   name: the password crosses in clear), file commands, Read CPU model;
//! - identity: a Read CPU model answer's model name (Q03UDVCPU, R04CPU, FX5U-32MT/ES) and
//!   code, and vendor Mitsubishi Electric; answers are paired with their requests in order
//!   (3E) or by serial number (4E);
//! - violations: data lengths that do not cover the fixed fields, 4E frames whose fixed
//!   bytes are not zero, datagrams whose length disagrees with their frame.

mod error;
pub mod ops;
pub mod wire;

pub use self::error::SlmpError;
use super::facts::Facts;
use super::framing::{self, Delivery, Framing, Stream, Unread};
use super::spec::ProtocolSpec;
use super::text::clean;
use super::violations::Violations;
use super::{operation_or_code, source, Direction, Dissector, Probe, Transport};
use ops::command;
use otwatch_common::observation::{Access, Field, Observation, Operation};
use wire::{Code, Frame};

/// Ports that nominate SLMP: 5006 (UDP) and 5007 (TCP) are the SLMP defaults of iQ-R and
/// iQ-F; 5562 is iQ-F's other default.
const PORTS: &[u16] = &[5006, 5007, 5562];

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "slmp",
    transport: Transport::Tcp,
    ports: PORTS,
    probe,
    new,
};

pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: "slmp",
    transport: Transport::Udp,
    ports: PORTS,
    probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<SlmpDissector>::default()
}

/// Bytes of a frame read: the header and the start of the body, enough for the fixed fields,
/// a device range and a few random-write items. The rest of a longer frame is passed over.
pub const FRAME_PREFIX_CAP: usize = 256;
/// Requests remembered per flow until answered.
const MAX_PENDING: usize = 16;
/// Identity facts remembered per flow.
const MAX_FACTS: usize = 8;
/// Random-write devices reported as accesses per request.
const MAX_RANDOM_ACCESSES: usize = 8;

// ---------------------------------------------------------------------------------------
// Recognition.

/// Command classes (the command's high byte) of SLMP: 0x01 (CPU), 0x04/0x14 (device), 0x06/
/// 0x16 (memory, modules), 0x08 (monitor), 0x10 (remote control), 0x16 (password), 0x18
/// (files), 0x02/0x12 (Q-series files), 0x0E/0x0F (node search, IP setting), 0x30/0x31
/// (CC-Link IE field: parameters, status).
fn known_class(cmd: u16) -> bool {
    matches!(
        cmd >> 8,
        0x01 | 0x02
            | 0x04
            | 0x06
            | 0x08
            | 0x0E
            | 0x0F
            | 0x10
            | 0x12
            | 0x14
            | 0x16
            | 0x18
            | 0x30
            | 0x31
    )
}

pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let total = match wire::total_len(data) {
        Ok(Some(t)) => t,
        Ok(None) => return Probe::NeedMore,
        Err(_) => return Probe::No,
    };
    let Some(fr) = wire::frame(data) else {
        return Probe::No;
    };
    // The first frame must be all there (or fill a long first segment) and say what it is.
    if data.len() < total.min(FRAME_PREFIX_CAP) {
        return Probe::NeedMore;
    }
    let fixed = fr.code.width(if fr.response { 2 } else { 6 });
    if total < wire::header_len(fr.code, fr.serial.is_some()) + fixed {
        return Probe::No;
    }
    if fr.response {
        return match wire::response(&fr) {
            Some(_) => Probe::YesFromServer,
            None => Probe::No,
        };
    }
    match wire::request(&fr) {
        Some(r) if known_class(r.command) && r.subcommand <= 0xFF => Probe::Yes,
        _ => Probe::No,
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

#[derive(Default)]
struct Side {
    resync: bool,
    unread: Unread,
}

/// A request waiting for its answer: the 4E serial (None for 3E) and the command.
#[derive(Debug, Clone, Copy)]
struct Asked {
    serial: Option<u16>,
    command: u16,
}

/// Per-flow SLMP state.
#[derive(Default)]
pub struct SlmpDissector {
    sides: [Side; 2],
    pending: Vec<Asked>,
    facts: Facts<MAX_FACTS>,
    violations: Violations,
    /// The CPU password's unlock was reported as a login.
    login_reported: bool,
}

/// Frames the message at the start of `data`: the whole frame or its first
/// [`FRAME_PREFIX_CAP`] bytes.
fn frame(data: &[u8]) -> Framing<SlmpError> {
    match wire::total_len(data) {
        Ok(Some(total)) => {
            let len = total.min(FRAME_PREFIX_CAP);
            if data.len() < len {
                Framing::Incomplete { needed: len }
            } else {
                Framing::Complete { len }
            }
        }
        Ok(None) => Framing::Incomplete { needed: 4 },
        Err(SlmpError::Subheader) => Framing::broken(1, SlmpError::Subheader),
        Err(e) => Framing::broken(2, e),
    }
}

/// After a gap: the next offset where a frame the probe would take starts.
fn boundary(data: &[u8]) -> Framing<SlmpError> {
    for i in 0..data.len() {
        match probe(Direction::ToServer, data.get(i..).unwrap_or_default()) {
            Probe::Yes | Probe::YesFromServer if i == 0 => return Framing::Complete { len: 0 },
            Probe::Yes | Probe::YesFromServer => return Framing::skip(i),
            Probe::NeedMore if i == 0 => return Framing::Incomplete { needed: 32 },
            Probe::NeedMore => return Framing::skip(i),
            Probe::No => {}
        }
    }
    Framing::skip(data.len())
}

impl SlmpDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: SlmpError) {
        self.violations.record(SPEC.name, reason, out);
    }

    /// One frame (or its prefix).
    fn message(&mut self, dir: Direction, m: &[u8], out: &mut Vec<Observation>) {
        let Some(fr) = wire::frame(m) else {
            self.violation(out, SlmpError::Header);
            return;
        };
        if fr.response {
            self.response(dir, &fr, out);
        } else {
            self.request(dir, &fr, out);
        }
    }

    fn request(&mut self, dir: Direction, fr: &Frame<'_>, out: &mut Vec<Observation>) {
        let Some(r) = wire::request(fr) else {
            self.violation(out, SlmpError::ShortBody("request", fr.body.len()));
            return;
        };
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(Asked {
            serial: fr.serial,
            command: r.command,
        });
        let code = u32::from(r.command);
        if dir != Direction::ToServer {
            out.push(Observation::FunctionCode(code));
            return;
        }
        let (op, mut details) = ops::request(r.command);
        match r.command {
            command::BATCH_READ | command::BATCH_WRITE => match wire::batch(fr.code, &r) {
                Some((d, points)) => {
                    if r.command == command::BATCH_WRITE {
                        details.push(("device", format!("{}{}", d.name, d.number)));
                    }
                    let op = if r.command == command::BATCH_WRITE {
                        Operation::Write
                    } else {
                        Operation::Read
                    };
                    out.push(access(op, fr, d, points));
                }
                None => self.violation(out, SlmpError::Data { command: r.command }),
            },
            command::RANDOM_WRITE => {
                let mut first = None;
                wire::random_write(fr.code, &r, MAX_RANDOM_ACCESSES, &mut |d, points| {
                    first.get_or_insert(d);
                    out.push(access(Operation::Write, fr, d, points));
                });
                if let Some(d) = first {
                    details.push(("device", format!("{}{}", d.name, d.number)));
                }
            }
            command::UNLOCK if !self.login_reported => {
                self.login_reported = true;
                out.push(Observation::CleartextLogin {
                    user: String::new(),
                    protocol: SPEC.name,
                });
            }
            _ => {}
        }
        if fr.code == Code::Ascii && !details.is_empty() {
            details.push(("code", "ASCII".to_string()));
        }
        out.push(operation_or_code(op, code, details));
    }

    fn response(&mut self, dir: Direction, fr: &Frame<'_>, out: &mut Vec<Observation>) {
        let Some((end, data)) = wire::response(fr) else {
            self.violation(out, SlmpError::ShortBody("response", fr.body.len()));
            return;
        };
        // 3E answers come in order; 4E ones carry the request's serial number.
        let i = match fr.serial {
            Some(s) => self.pending.iter().position(|a| a.serial == Some(s)),
            None => (!self.pending.is_empty()).then_some(0),
        };
        let Some(asked) = i.map(|i| self.pending.remove(i)) else {
            return;
        };
        if end != 0 || asked.command != command::READ_CPU_MODEL {
            return;
        }
        let Some((name, model)) = wire::cpu_model(fr.code, data) else {
            return;
        };
        let sender = dir.sender();
        let src = source::SLMP_CPU_MODEL;
        self.facts.emit(
            out,
            sender,
            Field::Vendor,
            b"Mitsubishi Electric",
            src,
            || Some("Mitsubishi Electric".to_string()),
        );
        self.facts
            .emit(out, sender, Field::Model, name, src, || clean(name));
        self.facts.emit(
            out,
            sender,
            Field::Description,
            &model.to_le_bytes(),
            src,
            || Some(format!("MELSEC CPU model code {model:#06x}")),
        );
    }
}

/// A device range as a data-area access; the network and station number name the addressed
/// station behind the server when they are not the server itself (network 0, station 0xFF).
fn access(op: Operation, fr: &Frame<'_>, d: wire::Device, points: u16) -> Observation {
    let own = fr.network == 0 && fr.station == 0xFF;
    Observation::Access(Access {
        op,
        unit: (!own).then_some(u32::from(fr.network) << 8 | u32::from(fr.station)),
        area: d.name,
        block: None,
        start: d.number,
        count: u32::from(points),
    })
}

impl Stream for SlmpDissector {
    type Error = SlmpError;

    fn on_delivery(&mut self, d: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        if d.ctx.transport != Transport::Udp {
            return None;
        }
        // One frame a datagram.
        match wire::total_len(d.data) {
            Ok(Some(total)) if total == d.data.len() => self.message(d.dir, d.data, out),
            Ok(Some(total)) => self.violation(
                out,
                SlmpError::DatagramLength {
                    datagram: d.data.len(),
                    frame: total,
                },
            ),
            _ => self.violation(out, SlmpError::Subheader),
        }
        Some(d.data.len())
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<SlmpError> {
        let side = &mut self.sides[dir.index()];
        if let Some(skip) = side.unread.pass(data) {
            return skip;
        }
        framing::step(&mut side.resync, data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: SlmpError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.message(dir, message, out);
        let total = wire::total_len(message).ok().flatten().unwrap_or(0);
        self.sides[dir.index()]
            .unread
            .set(total.saturating_sub(message.len()));
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = &mut self.sides[dir.index()];
        side.unread.clear();
        side.resync = true;
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests;
