//! CODESYS, the runtime of hundreds of controller brands (Wago, Schneider M2xx, ABB AC500,
//! Festo, Eaton, Beckhoff's older CX, Raspberry Pi and industrial PC soft PLCs) and of the
//! engineering tool that programs them.
//!
//! **V3** (CODESYS 3.x, every current runtime), as the runtime's own components name its
//! layers ([`wire`] cites the sources of every field):
//! - TCP (block driver TCP, port 11740, up to 11743): each block starts with magic
//!   `00 01 17 e8` and its total length, then one datagram;
//! - UDP (block driver UDP, ports 1740-1743): one datagram a datagram;
//! - datagram layer (0xC5, hop count, priority, service, sender and receiver addresses): the
//!   name service (a client's resolve request, a runtime's identification answer with node,
//!   device and vendor name, version and serial) or the channel manager;
//! - channel layer: open/close channel, keep-alive, acknowledgements and application blocks,
//!   the first of which carries the start of a service PDU;
//! - service layer (0xCD55 header): service group and service, session, then tags.
//!
//! **V2** (CODESYS 2.3 runtimes, TCP 1200 and 2455): only the read identity exchange is public
//! (Digital Bond's `codesys-v2-discover.nse`): the request `bb bb 01 00 00 0x 01` and an
//! answer starting `bb` with the operating system name, its version and the product type at
//! fixed offsets. A V2 flow is recognised by that request (or an answer to it), its identity
//! reported; its other messages are not decoded (their layout is not published).
//!
//! What is reported ([`services`] for the operations):
//! - every request travelling to the flow's server as an `Operation` (function code: service
//!   group << 16 | service) or a bare `FunctionCode`: application download, online change and
//!   device download are program downloads (with the application logged in to, when seen),
//!   read application content an upload, delete application a program delete, start/stop
//!   application (and the PLC shell's `startprg`/`stopprg`) CPU start/stop, reset and reinit a
//!   restart; variable writes (IEC variable access, monitoring write and force, restore
//!   retains) writes; file downloads, uploads and deletes file transfers (`file_op` write, read,
//!   delete, and the file name); reset origin device, operation mode, node name and user
//!   management writes configuration changes (settings `factory_reset`, `mode`, `name`,
//!   `security`); target ident, reads and diagnostics as such; a name service resolve request is
//!   an identify;
//! - identity: a name service identification (node name as host name, device name as model,
//!   vendor, version as firmware, serial number; source::CODESYS_NAME_SERVICE), the device
//!   service's target ident answer (the same names; source::CODESYS_TARGET_IDENT), and a V2
//!   read identity answer (operating system and product; source::CODESYS_V2_IDENTITY);
//! - a device login's user name as a `CleartextLogin` when the password is only XOR-obscured
//!   (crypt type 1, or none named), and a refused login (nonzero result) as an `AuthFailure`;
//! - violations: blocks without magic or with impossible lengths, datagrams with another magic
//!   or truncated, unknown datagram services and channel layer types, truncated channel
//!   headers, service headers that are truncated or of an unknown protocol, tags that run past a
//!   whole service PDU, and truncated name service answers.
//!
//! A service PDU longer than a block continues in further blocks, which carry no header: only
//! the first block's service header and the tags it holds are read (enough for the service,
//! the identity answers and the login).

mod error;
pub mod services;
pub mod wire;

pub use self::error::CodesysError;
use super::facts::Facts;
use super::framing::{self, Delivery, Framing, Stream};
use super::spec::ProtocolSpec;
use super::text;
use super::violations::Violations;
use super::{source, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Details, Field, Observation, Operation, Subject};
use services::{device, device_tag, group};
use wire::{dg_service, AppBlock, BlockHeader, Datagram, DatagramFault, ServiceHeader};

const PROTOCOL: &str = "codesys";

/// Block driver TCP (`CmpBlkDrvItf.h`: listen port 11740; the next three for further
/// instances) and V2's two ports.
pub const TCP_PORTS: &[u16] = &[11740, 11741, 11742, 11743, 1200, 2455];
/// Block driver UDP: base port 1740 plus a port index of 0 to 3.
pub const UDP_PORTS: &[u16] = &[1740, 1741, 1742, 1743];

/// V3 over TCP, and V2.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: TCP_PORTS,
    probe: tcp_probe,
    new,
};

/// V3 over UDP.
pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: UDP_PORTS,
    probe: udp_probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<CodesysDissector>::default()
}

/// Identity facts remembered per flow.
const MAX_FACTS: usize = 24;

// ---------------------------------------------------------------------------------------
// Recognition.

/// A block driver TCP block holding a datagram, or V2's read identity request or answer.
pub fn tcp_probe(_dir: Direction, data: &[u8]) -> Probe {
    match data.first() {
        Some(0x00) => block_probe(data),
        Some(0xbb) => v2_probe(data),
        _ => Probe::No,
    }
}

fn block_probe(data: &[u8]) -> Probe {
    if !wire::starts_like_block(data) {
        return Probe::No;
    }
    let Some(h) = BlockHeader::parse(data) else {
        return Probe::NeedMore;
    };
    if !h.plausible() {
        return Probe::No;
    }
    let end = (h.length as usize).min(data.len());
    match data.get(wire::BLOCK_HEADER_LEN..end) {
        Some(dg) if !dg.is_empty() => datagram_probe(dg, data.len() < h.length as usize),
        _ => Probe::NeedMore,
    }
}

fn v2_probe(data: &[u8]) -> Probe {
    if wire::v2::is_identity_request(data) {
        return match data.len() < wire::v2::IDENTITY_LE.len() {
            true => Probe::NeedMore,
            false => Probe::Yes,
        };
    }
    let n = data.len().min(2);
    if data.get(..n) != wire::v2::MAGIC.get(..n) {
        return Probe::No;
    }
    match data.len() > wire::v2::PRODUCT_AT {
        true => Probe::YesFromServer,
        false => Probe::NeedMore,
    }
}

/// A datagram (UDP): a plausible header, a known service and a payload of that service.
pub fn udp_probe(_dir: Direction, data: &[u8]) -> Probe {
    match data.first() {
        Some(&wire::DATAGRAM_MAGIC) => datagram_probe(data, false),
        _ => Probe::No,
    }
}

/// `partial`: the datagram is cut short by the end of what was seen (a TCP block not yet
/// whole), so a truncated datagram asks for more.
fn datagram_probe(data: &[u8], partial: bool) -> Probe {
    let dg = match Datagram::parse(data) {
        Ok(dg) => dg,
        Err(DatagramFault::Short(_)) if partial => return Probe::NeedMore,
        Err(_) => return Probe::No,
    };
    // Every implementation seen writes a 3-word header (hop counts differ: 13 in both clients,
    // 14 in the runtime keep-alive FieldFuzz quotes).
    if data.get(1).is_some_and(|b| b & 0x07 != 3) {
        return Probe::No;
    }
    match dg.service {
        dg_service::NS_SERVER | dg_service::NS_CLIENT => {
            let Some(h) = wire::NsHeader::parse(dg.payload) else {
                return if partial { Probe::NeedMore } else { Probe::No };
            };
            match (h.kind, dg.service) {
                (wire::ns::IDENTIFICATION, dg_service::NS_CLIENT) => Probe::YesFromServer,
                (wire::ns::RESOLVE_NAME..=wire::ns::RESOLVE_GATEWAY, dg_service::NS_SERVER) => {
                    Probe::Yes
                }
                _ => Probe::No,
            }
        }
        dg_service::CHANNEL_MANAGER => match dg.payload.first() {
            Some(&t) if wire::channel_type::known(t) => channel_verdict(dg.payload),
            Some(_) => Probe::No,
            None if partial => Probe::NeedMore,
            None => Probe::No,
        },
        _ => Probe::No,
    }
}

/// An application block without the request flag whose service header has the reply bit is
/// a server's; anything else on a channel is taken as it comes.
fn channel_verdict(payload: &[u8]) -> Probe {
    let reply = AppBlock::parse(payload)
        .filter(|b| b.first && !b.request)
        .and_then(|b| ServiceHeader::parse(b.data))
        .is_some_and(|h| h.tag == wire::HEADERTAG_3S && h.is_reply());
    if reply {
        Probe::YesFromServer
    } else {
        Probe::Yes
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

/// Per-flow CODESYS state.
#[derive(Default)]
pub struct CodesysDissector {
    /// Per direction: looking for the next block header after a gap or a broken one.
    resync: [bool; 2],
    /// The first TCP delivery was seen (it decides between V2 and V3).
    started: bool,
    /// The flow speaks V2 (its first message was a V2 one).
    v2: bool,
    facts: Facts<MAX_FACTS>,
    violations: Violations,
    /// The user name of the last device login request, for its refusal.
    login_user: Option<String>,
    /// The application the client logged in to (evidence for downloads).
    application: Option<String>,
    /// Cleartext logins reported (once per user name change).
    login_reported: Option<String>,
}

impl CodesysDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: CodesysError) {
        self.violations.record(PROTOCOL, reason, out);
    }

    fn fact(
        &mut self,
        out: &mut Vec<Observation>,
        subject: Subject,
        field: Field,
        raw: &[u8],
        src: otwatch_common::observation::Source,
        value: Option<String>,
    ) {
        self.facts.emit(out, subject, field, raw, src, || value);
    }

    /// One datagram travelling `dir` (a UDP datagram, or a TCP block's body).
    fn datagram(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<Observation>) {
        let dg = match Datagram::parse(bytes) {
            Ok(dg) => dg,
            Err(DatagramFault::Magic(m)) => {
                return self.violation(out, CodesysError::DatagramMagic(m))
            }
            Err(DatagramFault::Short(n)) => {
                return self.violation(out, CodesysError::DatagramShort(n))
            }
            Err(DatagramFault::HeaderLength(w)) => {
                return self.violation(out, CodesysError::DatagramHeaderLength(w))
            }
        };
        match dg.service {
            dg_service::NS_SERVER => {
                if let Some(h) = wire::NsHeader::parse(dg.payload) {
                    out.push(Observation::Operation {
                        op: Operation::Identify,
                        function_code: Some(u32::from(h.kind)),
                        details: Vec::new(),
                    });
                } else {
                    self.violation(out, CodesysError::NameService);
                }
            }
            dg_service::NS_CLIENT => self.identification(dir.sender(), dg.payload, out),
            dg_service::CHANNEL_MANAGER => self.channel(dir, dg.payload, out),
            dg_service::ADDRESS_NOTIFICATION_REQUEST
            | dg_service::ADDRESS_NOTIFICATION_RESPONSE => {}
            other => self.violation(out, CodesysError::DatagramService(other)),
        }
    }

    /// A name service identification answer: the node speaks for itself.
    fn identification(&mut self, subject: Subject, payload: &[u8], out: &mut Vec<Observation>) {
        let Some(h) = wire::NsHeader::parse(payload) else {
            return self.violation(out, CodesysError::NameService);
        };
        if h.kind != wire::ns::IDENTIFICATION {
            return;
        }
        let Some(ni) = wire::node_info(payload) else {
            // The first version names no vendor; a known later version that does not fit is
            // truncated.
            if h.version != 0x0101 {
                self.violation(out, CodesysError::NameService);
            }
            return;
        };
        let src = source::CODESYS_NAME_SERVICE;
        let wide = |raw: &[u8]| text::clean(text::utf16le_text(raw).as_bytes());
        self.fact(
            out,
            subject,
            Field::Hostname,
            ni.node_name,
            src,
            wide(ni.node_name),
        );
        self.fact(
            out,
            subject,
            Field::Model,
            ni.device_name,
            src,
            wide(ni.device_name),
        );
        self.fact(
            out,
            subject,
            Field::Vendor,
            ni.vendor_name,
            src,
            wide(ni.vendor_name),
        );
        if ni.target_version != 0 {
            let raw = ni.target_version.to_le_bytes();
            let v = Some(wire::dotted_version(ni.target_version));
            self.fact(out, subject, Field::Firmware, &raw, src, v);
        }
        self.fact(
            out,
            subject,
            Field::Serial,
            ni.serial,
            src,
            text::clean(ni.serial),
        );
    }

    /// One channel layer packet.
    fn channel(&mut self, dir: Direction, payload: &[u8], out: &mut Vec<Observation>) {
        let Some(&t) = payload.first() else {
            return self.violation(out, CodesysError::ChannelShort("packet"));
        };
        if !wire::channel_type::known(t) {
            return self.violation(out, CodesysError::ChannelType(t));
        }
        if t != wire::channel_type::APPLICATION_BLOCK {
            return;
        }
        let Some(block) = AppBlock::parse(payload) else {
            return self.violation(out, CodesysError::ChannelShort("application block"));
        };
        if block.first {
            self.service(dir, &block, out);
        }
    }

    /// The service PDU a first application block starts.
    fn service(&mut self, dir: Direction, block: &AppBlock<'_>, out: &mut Vec<Observation>) {
        let Some(h) = ServiceHeader::parse(block.data) else {
            return self.violation(out, CodesysError::ServiceHeader);
        };
        match h.tag {
            wire::HEADERTAG_3S => {}
            // Encrypted services: nothing to read.
            wire::HEADERTAG_CRYPT => return,
            other => return self.violation(out, CodesysError::ServiceProtocol(other)),
        }
        let content_len = usize::try_from(h.content_size).unwrap_or(usize::MAX);
        let content = h.content.get(..content_len).unwrap_or(h.content);
        let whole = block
            .total_len
            .is_some_and(|n| n as usize <= block.data.len());
        let mut tags = wire::Tags::new(content);
        tags.by_ref().for_each(drop);
        if tags.truncated && whole {
            let (group, service) = (h.base_group(), h.service);
            self.violation(out, CodesysError::Tags { group, service });
        }
        if h.is_reply() {
            self.reply(dir, &h, content, out);
        } else {
            self.request(dir, &h, content, out);
        }
    }

    fn request(
        &mut self,
        dir: Direction,
        h: &ServiceHeader<'_>,
        content: &[u8],
        out: &mut Vec<Observation>,
    ) {
        let (grp, service) = (h.group, h.service);
        let code = services::code(grp, service);
        if dir != Direction::ToServer {
            // A request from the flow's server side: its peer is not a controller we know.
            return out.push(Observation::FunctionCode(code));
        }
        match (grp, service) {
            (group::DEVICE, device::LOGIN) => self.login(content, out),
            (group::APPLICATION, 0x01) => {
                if let Some(t) = wire::find(content, 0x01) {
                    self.application = text::clean(t.value);
                }
            }
            _ => {}
        }
        if grp == group::PLC_SHELL && service == 0x01 {
            let command = wire::find(content, services::PLC_SHELL_COMMAND_TAG)
                .map(|t| t.value)
                .unwrap_or_default();
            let mut details: Details = vec![("service", "plc shell command".to_string())];
            if let Some(c) = text::clean(command) {
                details.push(("command", c));
            }
            return out.push(Observation::Operation {
                op: services::shell_operation(command),
                function_code: Some(code),
                details,
            });
        }
        let Some((op, notable)) = services::operation(grp, service) else {
            return out.push(Observation::FunctionCode(code));
        };
        let mut details = Details::new();
        if notable {
            let name = services::name(grp, service).unwrap_or("service");
            details.push(("service", name.to_string()));
            self.evidence(grp, service, op, content, &mut details);
        }
        out.push(Observation::Operation {
            op,
            function_code: Some(code),
            details,
        });
    }

    /// What an operation's alert shows besides the service name.
    fn evidence(
        &self,
        grp: u16,
        service: u16,
        op: Operation,
        content: &[u8],
        details: &mut Details,
    ) {
        match (grp, op) {
            (group::APPLICATION, Operation::ProgramDownload | Operation::ProgramDelete) => {
                if let Some(app) = &self.application {
                    details.push(("program", app.clone()));
                }
            }
            (group::FILE_TRANSFER, _) => {
                let file_op = match service {
                    0x02 | 0x03 => "write",
                    0x05 | 0x06 => "read",
                    0x0e | 0x11 => "delete",
                    0x0f | 0x12 => "rename",
                    0x10 => "create",
                    _ => "sync",
                };
                details.push(("file_op", file_op.to_string()));
                let name = wire::find(content, 0x01).and_then(|t| text::clean(t.value));
                if let Some(name) = name {
                    details.push(("file", name));
                }
            }
            (group::DEVICE, Operation::ConfigChange) => {
                let setting = match service {
                    device::RESET_ORIGIN => "factory_reset",
                    device::SET_OPERATION_MODE => "mode",
                    _ => "name",
                };
                details.push(("setting", setting.to_string()));
            }
            (group::USER_MGMT, Operation::ConfigChange) => {
                details.push(("setting", "security".to_string()));
            }
            _ => {}
        }
    }

    /// A device login request: the user name (tag 0x81 → 0x10) crosses in clear; the password
    /// is as good as cleartext with crypt type 1 (XOR) or none named.
    fn login(&mut self, content: &[u8], out: &mut Vec<Observation>) {
        let user = wire::find(content, device_tag::CREDENTIALS)
            .and_then(|c| wire::find(c.value, device_tag::USER))
            .and_then(|u| text::clean(u.value))
            .unwrap_or_default();
        let crypt = wire::find(content, device_tag::CRYPT_TYPE).and_then(|t| t.uint());
        self.login_user = Some(user.clone());
        let weak = crypt.is_none_or(|c| c == device_tag::CRYPT_XOR);
        if weak && self.login_reported.as_ref() != Some(&user) {
            self.login_reported = Some(user.clone());
            out.push(Observation::CleartextLogin {
                user,
                protocol: PROTOCOL,
            });
        }
    }

    fn reply(
        &mut self,
        dir: Direction,
        h: &ServiceHeader<'_>,
        content: &[u8],
        out: &mut Vec<Observation>,
    ) {
        if dir != Direction::ToClient {
            return;
        }
        match (h.base_group(), h.service) {
            (group::DEVICE, device::GET_TARGET_IDENT) => {
                self.target_ident(dir.sender(), content, out)
            }
            (group::DEVICE, device::LOGIN) => {
                let result = wire::find(content, device_tag::REPLY_LOGIN)
                    .and_then(|t| wire::find(t.value, device_tag::LOGIN_RESULT))
                    .and_then(|t| t.uint());
                if result.is_some_and(|r| r != 0) {
                    out.push(Observation::AuthFailure {
                        user: self.login_user.take().unwrap_or_default(),
                        protocol: PROTOCOL,
                    });
                }
            }
            _ => {}
        }
    }

    /// The device service's target ident answer: device, vendor and node names (wide strings)
    /// and the runtime version.
    fn target_ident(&mut self, subject: Subject, content: &[u8], out: &mut Vec<Observation>) {
        let src = source::CODESYS_TARGET_IDENT;
        let strings = [
            (device_tag::NODE_NAME, Field::Hostname),
            (device_tag::DEVICE_NAME, Field::Model),
            (device_tag::VENDOR_NAME, Field::Vendor),
            (device_tag::SERIAL_NUMBER, Field::Serial),
        ];
        for (tag, field) in strings {
            if let Some(t) = wire::find_deep(content, tag) {
                self.fact(out, subject, field, t.value, src, tag_text(t.value));
            }
        }
        if let Some(t) = wire::find_deep(content, device_tag::RTS_VERSION) {
            let v = t.uint().filter(|&v| v != 0).map(wire::dotted_version);
            let v = v.or_else(|| tag_text(t.value));
            self.fact(out, subject, Field::Firmware, t.value, src, v);
        }
    }

    /// A V2 message (the delivery as it came).
    fn v2_message(&mut self, dir: Direction, data: &[u8], out: &mut Vec<Observation>) {
        if wire::v2::is_identity_request(data) && data.len() >= wire::v2::IDENTITY_LE.len() {
            if dir == Direction::ToServer {
                out.push(Observation::Operation {
                    op: Operation::Identify,
                    function_code: Some(0x01),
                    details: Vec::new(),
                });
            }
            return;
        }
        if dir != Direction::ToClient || data.first() != Some(&0xbb) {
            return;
        }
        let src = source::CODESYS_V2_IDENTITY;
        let subject = dir.sender();
        let os = wire::v2::field(data, wire::v2::OS_NAME_AT).and_then(text::clean);
        let os_version = wire::v2::field(data, wire::v2::OS_TYPE_AT).and_then(text::clean);
        let product = wire::v2::field(data, wire::v2::PRODUCT_AT).unwrap_or_default();
        let os_text = match (os, os_version) {
            (Some(o), Some(v)) if v.starts_with(&o) => Some(v),
            (Some(o), Some(v)) => Some(format!("{o} {v}")),
            (o, v) => o.or(v),
        };
        let raw_os = data.get(wire::v2::OS_NAME_AT..wire::v2::PRODUCT_AT);
        if let Some(raw) = raw_os {
            self.fact(out, subject, Field::Os, raw, src, os_text);
        }
        self.fact(
            out,
            subject,
            Field::Model,
            product,
            src,
            text::clean(product),
        );
    }
}

/// A tag's string value: UTF-16LE when it looks like it (every second byte zero, as the
/// runtime's wide strings are), else bytes up to the first NUL.
fn tag_text(raw: &[u8]) -> Option<String> {
    let wide = raw.len() >= 2
        && raw.len() % 2 == 0
        && raw.chunks_exact(2).take(4).all(|c| c.get(1) == Some(&0));
    if wide {
        text::clean(text::utf16le_text(raw).as_bytes())
    } else {
        text::clean(raw.split(|&b| b == 0).next().unwrap_or_default())
    }
}

/// Frames the block driver TCP block at the start of `data`.
fn block_frame(data: &[u8]) -> Framing<CodesysError> {
    if !wire::starts_like_block(data) {
        return Framing::broken(1, CodesysError::BlockMagic);
    }
    let Some(h) = BlockHeader::parse(data) else {
        return Framing::Incomplete {
            needed: wire::BLOCK_HEADER_LEN,
        };
    };
    if !h.plausible() {
        return Framing::broken(1, CodesysError::BlockLength(h.length));
    }
    let len = h.length as usize;
    match data.len() >= len {
        true => Framing::Complete { len },
        false => Framing::Incomplete { needed: len },
    }
}

/// The resync scan: the next magic whose header has a plausible length and is followed by a
/// datagram's magic.
fn block_boundary(data: &[u8]) -> Framing<CodesysError> {
    match text::find(data, &wire::TCP_MAGIC) {
        Some(0) => match (BlockHeader::parse(data), data.get(wire::BLOCK_HEADER_LEN)) {
            (Some(h), Some(&wire::DATAGRAM_MAGIC)) if h.plausible() => Framing::Complete {
                len: h.length as usize,
            },
            (Some(_), Some(_)) => Framing::skip(1),
            _ => Framing::Incomplete {
                needed: wire::BLOCK_HEADER_LEN + 1,
            },
        },
        Some(at) => Framing::skip(at),
        None => {
            let keep = (1..wire::TCP_MAGIC.len())
                .rev()
                .find(|&n| data.ends_with(wire::TCP_MAGIC.get(..n).unwrap_or_default()))
                .unwrap_or(0);
            Framing::skip(data.len() - keep)
        }
    }
}

impl Stream for CodesysDissector {
    type Error = CodesysError;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        let data = delivery.data;
        if delivery.ctx.transport == Transport::Udp {
            self.datagram(delivery.dir, data, out);
            return Some(data.len());
        }
        if !self.started {
            self.started = true;
            self.v2 = data.first() == Some(&0xbb);
        }
        if self.v2 {
            self.v2_message(delivery.dir, data, out);
            return Some(data.len());
        }
        None
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<CodesysError> {
        framing::step(
            &mut self.resync[dir.index()],
            data,
            block_frame,
            block_boundary,
        )
    }

    fn on_broken(&mut self, _dir: Direction, error: CodesysError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let body = message.get(wire::BLOCK_HEADER_LEN..).unwrap_or_default();
        self.datagram(dir, body, out);
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

#[cfg(test)]
mod tests;
