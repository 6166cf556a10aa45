//! Beckhoff ADS (Automation Device Specification) over AMS, the protocol of TwinCAT
//! controllers and their engineering tools, and the TwinCAT UDP service beside it.
//!
//! - TCP port 48898: AMS/TCP packets ([`wire`]): a 6-byte AMS/TCP header (reserved 0,
//!   length), the 32-byte AMS header (target and source AMS Net ID and port, command id, state
//!   flags with the response bit, data length, error code, invoke id), then the ADS command's
//!   request or response. Both ends of a connection may send requests (two TwinCAT routers
//!   route for their own ADS devices); only the client's requests are operations, the
//!   server's are bare function codes.
//! - UDP port 48899: the discovery and add-route service ([`discovery`]).
//!
//! Recognition: an AMS/TCP packet starts with two zero bytes, a length of at least 32, a
//! command id 0-9 and an AMS data length that fills the packet; the probe answers `No` at the
//! first byte that is not zero. A discovery datagram starts with the magic `03 66 14 71`.
//!
//! What is reported ([`ops`] for the operations; the function code is the command id, or the
//! discovery service id):
//! - every request from the client: Write and ReadWrite as writes with the index group and
//!   offset, Read and AddDeviceNotification as reads, ReadDeviceInfo identification, ReadState
//!   diagnostics, WriteControl to RUN/STOP/RESET/CONFIG as CPU start, stop, restart and mode
//!   change with the ADS state as evidence; Read and Write as data-area accesses;
//! - identity: a ReadDeviceInfo answer gives vendor Beckhoff, the ADS device's name (as model:
//!   "TwinCAT System", "Plc30 App", the runtime the port serves) and its version as firmware;
//!   every packet's source AMS Net ID describes its sender; a discovery answer gives the host
//!   name and the TwinCAT version; a ReadState answer other than RUN is a status ("ADS state
//!   STOP", "ADS state CONFIG");
//! - an add-route request is a configuration change of the target's routes (setting
//!   `security`, with the route and Net ID as evidence), names its sender an engineering
//!   workstation, and, when it carries a password, is a cleartext login with its user name
//!   (never the password);
//! - violations: AMS/TCP lengths out of range, data lengths that do not fit, unknown command
//!   ids, request bodies shorter than their fields, malformed discovery datagrams.

pub mod discovery;
mod error;
pub mod ops;
pub mod wire;

pub use self::error::AdsError;
use super::facts;
use super::framing::{self, Delivery, Framing, Stream, Unframed, Unread};
use super::spec::ProtocolSpec;
use super::text::clean;
use super::violations::Violations;
use super::{operation_or_code, source, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Access, Field, Observation, Operation, Source, Subject};
use wire::{command, AmsHeader, Request, AMS_HEADER_LEN, MAX_AMS_LEN, TCP_HEADER_LEN};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "ads",
    transport: Transport::Tcp,
    ports: &[48898],
    probe,
    new,
};

pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: "ads",
    transport: Transport::Udp,
    ports: &[discovery::PORT],
    probe: probe_udp,
    new: new_udp,
};

fn new() -> Box<dyn Dissector> {
    Box::<AdsDissector>::default()
}

fn new_udp() -> Box<dyn Dissector> {
    Box::<DiscoveryDissector>::default()
}

/// Bytes of an AMS packet read: the headers and the start of the ADS data, enough for every
/// field the monitor uses (a ReadDeviceInfo answer is 24 bytes, a ReadWrite request's fixed
/// part 16, a symbol name for evidence is not kept). The rest of a longer packet is passed
/// over unread.
pub const PACKET_PREFIX_CAP: usize = TCP_HEADER_LEN + AMS_HEADER_LEN + 64;
/// Identity facts remembered per flow (for "already reported").
const MAX_FACTS: usize = 16;

// ---------------------------------------------------------------------------------------
// Recognition.

/// Whether an AMS/TCP packet starts `data`: `Ok(total length)`, or why not.
fn packet_at(data: &[u8]) -> Result<usize, Probe> {
    match data {
        [] | [0] => return Err(Probe::NeedMore),
        [0, 0, ..] => {}
        _ => return Err(Probe::No),
    }
    let Some((_, length)) = wire::tcp_header(data) else {
        return Err(Probe::NeedMore);
    };
    if !(AMS_HEADER_LEN as u32..=MAX_AMS_LEN).contains(&length) {
        return Err(Probe::No);
    }
    let Some(h) = data.get(TCP_HEADER_LEN..).and_then(AmsHeader::parse) else {
        return Err(Probe::NeedMore);
    };
    let fits = h.data_len.checked_add(AMS_HEADER_LEN as u32) == Some(length);
    if !fits || h.command > command::READ_WRITE {
        return Err(Probe::No);
    }
    Ok(TCP_HEADER_LEN + length as usize)
}

pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match packet_at(data) {
        Ok(_) => Probe::Yes,
        Err(p) => p,
    }
}

pub fn probe_udp(_dir: Direction, data: &[u8]) -> Probe {
    if data.first().is_some_and(|&b| b != discovery::MAGIC[0]) {
        return Probe::No;
    }
    match discovery::parse(data) {
        Ok((h, _)) if h.response => Probe::YesFromServer,
        Ok(_) => Probe::Yes,
        Err(_) => Probe::No,
    }
}

// ---------------------------------------------------------------------------------------
// Identity facts.

/// Identity facts already reported on this flow: a fingerprint of subject, field and raw
/// value, so that a repeat allocates nothing.
#[derive(Default)]
struct Facts {
    seen: facts::Facts<MAX_FACTS>,
}

impl Facts {
    fn vendor(&mut self, out: &mut Vec<Observation>, subject: Subject, source: Source) {
        self.seen
            .emit(out, subject, Field::Vendor, b"Beckhoff", source, || {
                Some("Beckhoff".to_string())
            });
    }

    fn net_id(&mut self, out: &mut Vec<Observation>, subject: Subject, id: wire::NetId) {
        self.seen.emit(
            out,
            subject,
            Field::Description,
            &id.0,
            source::ADS_NET_ID,
            || Some(format!("AMS Net ID {id}")),
        );
    }
}

// ---------------------------------------------------------------------------------------
// AMS over TCP.

#[derive(Default)]
struct Side {
    resync: bool,
    unread: Unread,
}

/// Per-flow ADS state.
#[derive(Default)]
pub struct AdsDissector {
    sides: [Side; 2],
    facts: Facts,
    violations: Violations,
}

/// Frames the AMS/TCP packet at the start of `data`: the whole packet, or its first
/// [`PACKET_PREFIX_CAP`] bytes.
fn frame(data: &[u8]) -> Framing<AdsError> {
    let Some((_, length)) = wire::tcp_header(data) else {
        return Framing::Incomplete {
            needed: TCP_HEADER_LEN,
        };
    };
    if length < AMS_HEADER_LEN as u32 {
        return Framing::broken(TCP_HEADER_LEN, AdsError::ShortPacket(length));
    }
    if length > MAX_AMS_LEN {
        return Framing::broken(TCP_HEADER_LEN, AdsError::LongPacket(length));
    }
    let len = (TCP_HEADER_LEN + length as usize).min(PACKET_PREFIX_CAP);
    if data.len() < len {
        return Framing::Incomplete { needed: len };
    }
    Framing::Complete { len }
}

/// After a gap: the next offset where a plausible AMS/TCP packet starts.
fn boundary(data: &[u8]) -> Framing<AdsError> {
    for i in 0..data.len() {
        match packet_at(data.get(i..).unwrap_or_default()) {
            Ok(_) if i == 0 => return Framing::Complete { len: 0 },
            Ok(_) => return Framing::skip(i),
            Err(Probe::NeedMore) if i == 0 => return Framing::Incomplete { needed: 38 },
            Err(Probe::NeedMore) => return Framing::skip(i),
            Err(_) => {}
        }
    }
    Framing::skip(data.len())
}

impl AdsDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: AdsError) {
        self.violations.record(SPEC.name, reason, out);
    }

    /// One AMS packet (or its prefix): `whole` is false when the rest was cut off.
    fn packet(&mut self, dir: Direction, p: &[u8], out: &mut Vec<Observation>) {
        let Some((reserved, length)) = wire::tcp_header(p) else {
            return;
        };
        // Reserved values other than 0 are the router's own commands (port connect, close),
        // spoken between a router and its local clients.
        if reserved != 0 {
            return;
        }
        let Some(h) = p.get(TCP_HEADER_LEN..).and_then(AmsHeader::parse) else {
            return;
        };
        if h.data_len.checked_add(AMS_HEADER_LEN as u32) != Some(length) {
            self.violation(
                out,
                AdsError::DataLength {
                    data_len: h.data_len,
                    length,
                },
            );
            return;
        }
        if h.command > command::READ_WRITE {
            self.violation(out, AdsError::Command(h.command));
            return;
        }
        let sender = dir.sender();
        self.facts.net_id(out, sender, h.source);
        let body = p.get(TCP_HEADER_LEN + AMS_HEADER_LEN..).unwrap_or_default();
        let whole = p.len() == TCP_HEADER_LEN + length as usize;
        if h.is_response() {
            self.response(dir, &h, body, out);
        } else {
            self.request(dir, &h, body, whole, out);
        }
    }

    fn request(
        &mut self,
        dir: Direction,
        h: &AmsHeader,
        body: &[u8],
        whole: bool,
        out: &mut Vec<Observation>,
    ) {
        let code = u32::from(h.command);
        let r = match wire::request(h.command, body, whole) {
            Ok(r) => r,
            Err(e) => {
                self.violation(out, e);
                out.push(Observation::FunctionCode(code));
                return;
            }
        };
        if dir != Direction::ToServer {
            out.push(Observation::FunctionCode(code));
            return;
        }
        let (op, details) = ops::request(h.command, &r, h.target_port);
        out.push(operation_or_code(op, code, details));
        let access = match r {
            Request::Read { group, offset, len } => Some((Operation::Read, group, offset, len)),
            Request::Write {
                group, offset, len, ..
            } => Some((Operation::Write, group, offset, len)),
            _ => None,
        };
        if let Some((op, group, start, count)) = access {
            let area = ops::area(group);
            out.push(Observation::Access(Access {
                op,
                unit: Some(u32::from(h.target_port)),
                area,
                block: (area == "index_group").then_some(group),
                start,
                count,
            }));
        }
    }

    fn response(&mut self, dir: Direction, h: &AmsHeader, body: &[u8], out: &mut Vec<Observation>) {
        if h.error != 0 {
            return;
        }
        if h.command == command::READ_STATE {
            // A runtime that is not running says so: STOP, CONFIG, ERROR, ...
            if let Some((0, state)) = wire::read_state(body) {
                if state != wire::state::RUN {
                    let sender = dir.sender();
                    let raw = state.to_le_bytes();
                    self.facts.seen.emit(
                        out,
                        sender,
                        Field::Status,
                        &raw,
                        source::ADS_READ_STATE,
                        || Some(format!("ADS state {}", wire::state::name(state))),
                    );
                }
            }
            return;
        }
        if h.command != command::READ_DEVICE_INFO {
            return;
        }
        let Some(info) = wire::device_info(body).filter(|i| i.result == 0) else {
            return;
        };
        let sender = dir.sender();
        let src = source::ADS_DEVICE_INFO;
        self.facts.vendor(out, sender, src);
        self.facts
            .seen
            .emit(out, sender, Field::Model, info.name, src, || {
                clean(info.name)
            });
        let version = [
            info.major,
            info.minor,
            info.build as u8,
            (info.build >> 8) as u8,
        ];
        self.facts
            .seen
            .emit(out, sender, Field::Firmware, &version, src, || {
                Some(format!("{}.{}.{}", info.major, info.minor, info.build))
            });
    }
}

impl Stream for AdsDissector {
    type Error = AdsError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<AdsError> {
        let side = &mut self.sides[dir.index()];
        if let Some(skip) = side.unread.pass(data) {
            return skip;
        }
        framing::step(&mut side.resync, data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: AdsError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.packet(dir, message, out);
        let total = wire::tcp_header(message).map_or(0, |(_, l)| TCP_HEADER_LEN + l as usize);
        self.sides[dir.index()]
            .unread
            .set(total.saturating_sub(message.len()));
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = &mut self.sides[dir.index()];
        side.unread.clear();
        side.resync = true;
    }
}

// ---------------------------------------------------------------------------------------
// Discovery and add route over UDP.

/// Per-flow state of the UDP service.
#[derive(Default)]
pub struct DiscoveryDissector {
    facts: Facts,
    violations: Violations,
}

impl Unframed for DiscoveryDissector {
    fn deliver(&mut self, d: Delivery<'_>, out: &mut Vec<Observation>) {
        let (h, tags) = match discovery::parse(d.data) {
            Ok(x) => x,
            Err(e) => {
                self.violations.record(UDP_SPEC.name, e, out);
                return;
            }
        };
        let sender = d.dir.sender();
        self.facts.net_id(out, sender, h.net_id);
        let src = source::ADS_DISCOVERY;
        if h.response {
            if let Some(name) = tags.host_name {
                self.facts
                    .seen
                    .emit(out, sender, Field::Hostname, name, src, || clean(name));
            }
            if let Some((major, minor, build)) = tags.twincat {
                self.facts.vendor(out, sender, src);
                let raw = [major, minor, build as u8, (build >> 8) as u8];
                self.facts
                    .seen
                    .emit(out, sender, Field::Firmware, &raw, src, || {
                        Some(format!("TwinCAT {major}.{minor}.{build}"))
                    });
            }
            return;
        }
        match h.service {
            discovery::service::DISCOVER => out.push(Observation::Operation {
                op: Operation::Identify,
                function_code: Some(h.service),
                details: Vec::new(),
            }),
            discovery::service::ADD_ROUTE => {
                let mut details = vec![("service", "add route".to_string())];
                details.extend(tags.route_name.and_then(clean).map(|r| ("route", r)));
                details.push(("ams_net_id", h.net_id.to_string()));
                details.push(("setting", "security".to_string()));
                out.push(Observation::Operation {
                    op: Operation::ConfigChange,
                    function_code: Some(h.service),
                    details,
                });
                self.facts.seen.emit(
                    out,
                    sender,
                    Field::DeviceType,
                    b"engineering_workstation",
                    source::ADS_ADD_ROUTE,
                    || Some("engineering_workstation".to_string()),
                );
                if tags.password {
                    out.push(Observation::CleartextLogin {
                        user: tags.user_name.and_then(clean).unwrap_or_default(),
                        protocol: UDP_SPEC.name,
                    });
                }
            }
            other => out.push(Observation::FunctionCode(other)),
        }
    }
}

#[cfg(test)]
mod tests;
