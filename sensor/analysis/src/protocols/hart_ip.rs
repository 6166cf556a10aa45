//! HART-IP (HCF_SPEC-085, FieldComm Group), TCP and UDP port 5094: how a host (asset
//! management, a DCS) reaches HART field devices through a HART-IP gateway or multiplexer, or
//! a field device that speaks HART-IP itself.
//!
//! The wire, each part checked:
//! - the 8-octet HART-IP header (§10.2): version (1, or 2 for HART-IP 2), message type
//!   (0 request, 1 response, 2 publish, 3 error, 15 NAK), message id (0 session initiate,
//!   1 session close, 2 keep alive, 3 token-passing PDU, 4 direct PDU, 5 read audit log,
//!   128 discovery), status, sequence number and byte count (the whole message, header
//!   included): it frames TCP streams, and a UDP datagram holds one message;
//! - the session initiate body (§10.3.1: host type, inactivity close timer, 5 octets);
//! - the HART token-passing PDU of message id 3 ([`pdu`]): delimiter, short or long address,
//!   command, byte count, data (an answer's response code and device status first), check byte.
//!
//! What is reported:
//! - every HART command a host sends as an `Operation` or bare `FunctionCode` (the command
//!   octet, as tshark's `hart_ip.pt.command`): identify (0, 11, 21), reads, diagnostics (41,
//!   48), writes (17 message, 19, 34-38 range and damping, 43-46 zero and loop trims, 52, 55,
//!   79-83), configuration changes (6 polling address, 18 tag, 22 long tag, units, transfer
//!   function, variable assignments, preambles, burst mode), 40 fixed current mode (control)
//!   and 42 device reset (restart). A write carries its command's name and the device it
//!   addressed. A discovery request is an identify;
//! - identity of the device that answers first on the flow, which is the HART-IP server itself
//!   (a host polls the gateway's address 0, or its unique id, before its sub-devices): Command 0
//!   gives the model (expanded device type), vendor (manufacturer id, named only where
//!   [`pdu::manufacturer_name`] knows it, else kept in the description), firmware (software,
//!   hardware and device revisions), serial (the unique id, as tshark's long address) and the
//!   device type from the device profile ([`pdu::profile`]: field devices `io_module`, gateways
//!   and I/O systems `rtu`); Command 20's long tag and Command 13's tag are its hostname, the
//!   descriptor a description. Devices behind the server (another unique id answering) are
//!   listed in the server's description, a few per flow: they have no address of their own;
//! - violations: an unknown version, message type or id, a byte count shorter than the header
//!   or unlike the datagram, a session initiate body of the wrong size, a PDU that is cut
//!   short, has an unknown delimiter or a wrong check byte.

pub mod pdu;

use super::facts::Facts;
use super::framing::{self, Delivery, Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::violations::Violations;
use super::{operation_or_code, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Source, Subject};
use pdu::{Address, Pdu};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    new,
};

pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    new,
};

const PROTOCOL: &str = "hart_ip";
/// IANA "hart-ip", TCP and UDP.
pub const PORT: u16 = 5094;
/// Header length (§10.2).
pub const HEADER_LEN: usize = 8;
/// Largest message accepted: a token-passing PDU is at most 255 data octets plus its header,
/// and HART-IP 2 audit logs and direct PDUs stay well under this.
pub const MAX_MESSAGE: usize = 2048;
/// Identity facts remembered per flow.
const MAX_FACTS: usize = 32;
/// Sub-devices listed in the server's description per flow.
const MAX_SUB_DEVICES: usize = 8;

/// Message types (§10.2.2).
pub mod message_type {
    pub const REQUEST: u8 = 0;
    pub const RESPONSE: u8 = 1;
    pub const PUBLISH: u8 = 2;
    pub const ERROR: u8 = 3;
    pub const NAK: u8 = 15;
}

/// Message ids (§10.2.3).
pub mod message_id {
    pub const SESSION_INITIATE: u8 = 0;
    pub const SESSION_CLOSE: u8 = 1;
    pub const KEEP_ALIVE: u8 = 2;
    pub const TOKEN_PASSING_PDU: u8 = 3;
    pub const DIRECT_PDU: u8 = 4;
    pub const READ_AUDIT_LOG: u8 = 5;
    pub const DISCOVERY: u8 = 128;
}

/// Why HART-IP traffic is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HartIpError {
    #[error("unknown HART-IP version {0}")]
    Version(u8),
    #[error("unknown HART-IP message type {0}")]
    MessageType(u8),
    #[error("unknown HART-IP message id {0}")]
    MessageId(u8),
    #[error("HART-IP byte count {0} outside 8..=2048")]
    ByteCount(u16),
    #[error("HART-IP byte count {declared} but the datagram holds {actual} octets")]
    DatagramLength { declared: usize, actual: usize },
    #[error("HART-IP session initiate body of {0} octets (5 expected)")]
    SessionInitiate(usize),
    #[error("HART token-passing PDU cut short")]
    PduTruncated,
    #[error("HART delimiter {0:#04x} is not a STX, ACK or BACK frame")]
    Delimiter(u8),
    #[error("HART check byte {received:#04x} where the PDU's XOR is {computed:#04x}")]
    Checksum { received: u8, computed: u8 },
    #[error("HART token-passing PDU followed by {0} stray octets")]
    PduTrailing(usize),
}

/// The HART-IP header (§10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub message_type: u8,
    pub message_id: u8,
    pub status: u8,
    pub sequence: u16,
    /// The whole message's length, header included.
    pub byte_count: u16,
}

impl Header {
    /// Reads the header's octets; `None` when fewer than 8.
    pub fn parse(data: &[u8]) -> Option<Header> {
        let h = data.get(..HEADER_LEN)?;
        Some(Header {
            version: h[0],
            message_type: h[1],
            message_id: h[2],
            status: h[3],
            sequence: u16::from_be_bytes([h[4], h[5]]),
            byte_count: u16::from_be_bytes([h[6], h[7]]),
        })
    }

    /// Every field holds a value the specification defines.
    pub fn check(&self) -> Result<(), HartIpError> {
        use message_type::*;
        if !(1..=2).contains(&self.version) {
            return Err(HartIpError::Version(self.version));
        }
        if !matches!(
            self.message_type,
            REQUEST | RESPONSE | PUBLISH | ERROR | NAK
        ) {
            return Err(HartIpError::MessageType(self.message_type));
        }
        if !matches!(self.message_id, 0..=5 | message_id::DISCOVERY) {
            return Err(HartIpError::MessageId(self.message_id));
        }
        if !(HEADER_LEN..=MAX_MESSAGE).contains(&usize::from(self.byte_count)) {
            return Err(HartIpError::ByteCount(self.byte_count));
        }
        Ok(())
    }
}

/// Accepts a HART-IP header whose fields are all defined and whose byte count is one its
/// message can have, with a body that fits what its message id carries: one comparison (the
/// version octet, 1 or 2) rejects almost every other protocol, and the header's octets the
/// rest (a Modbus or other header that happens to start with 1 is no HART-IP whose length
/// would make the flow wait). Off port 5094 this is what finds HART-IP.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match data.first() {
        None => return Probe::NeedMore,
        Some(1 | 2) => {}
        Some(_) => return Probe::No,
    }
    let Some(h) = Header::parse(data) else {
        // Judge the octets there are: message type, then message id.
        let known_type = data.get(1).is_none_or(|t| matches!(t, 0..=3 | 15));
        let known_id = data.get(2).is_none_or(|i| matches!(i, 0..=5 | 128));
        return if known_type && known_id {
            Probe::NeedMore
        } else {
            Probe::No
        };
    };
    if !plausible(&h) {
        return Probe::No;
    }
    let Some(body) = data.get(HEADER_LEN..usize::from(h.byte_count)) else {
        return match data.get(HEADER_LEN) {
            Some(&d) if h.message_id == message_id::TOKEN_PASSING_PDU && !pdu::delimiter_ok(d) => {
                Probe::No
            }
            _ => Probe::NeedMore,
        };
    };
    if h.message_id == message_id::TOKEN_PASSING_PDU
        && h.message_type <= message_type::PUBLISH
        && pdu::parse(body).is_err()
    {
        return Probe::No;
    }
    match h.message_type {
        message_type::REQUEST => Probe::Yes,
        _ => Probe::YesFromServer,
    }
}

/// A header a HART-IP peer sends: defined fields, a request's status 0, publish only for a
/// PDU, and a byte count its message id allows (§10.3: session initiate 5 octets of body,
/// close and keep alive none, an error or NAK one status octet at most, a token-passing PDU
/// at least a short frame and at most 20 preambles, a long frame and 255 data octets).
fn plausible(h: &Header) -> bool {
    use message_id::*;
    use message_type::*;
    if h.check().is_err() || (h.message_type == REQUEST && h.status != 0) {
        return false;
    }
    let len = usize::from(h.byte_count);
    let answer = matches!(h.message_type, REQUEST | RESPONSE);
    match h.message_id {
        _ if h.message_type == PUBLISH && h.message_id != TOKEN_PASSING_PDU => false,
        SESSION_INITIATE if answer => len == HEADER_LEN + 5,
        SESSION_INITIATE | SESSION_CLOSE | KEEP_ALIVE if !answer => len <= HEADER_LEN + 1,
        SESSION_CLOSE | KEEP_ALIVE => len == HEADER_LEN,
        TOKEN_PASSING_PDU if h.message_type <= PUBLISH => {
            (HEADER_LEN + 5..=HEADER_LEN + 20 + 10 + 255).contains(&len)
        }
        _ => true,
    }
}

fn new() -> Box<dyn Dissector> {
    Box::new(HartIpDissector::default())
}

fn frame(data: &[u8]) -> Framing<HartIpError> {
    let Some(h) = Header::parse(data) else {
        return Framing::Incomplete { needed: HEADER_LEN };
    };
    if let Err(e) = h.check() {
        return Framing::broken(1, e);
    }
    let len = usize::from(h.byte_count);
    if data.len() >= len {
        Framing::Complete { len }
    } else {
        Framing::Incomplete { needed: len }
    }
}

/// The resync scan: a header whose fields are defined, followed by the end of the data or by
/// another such header.
fn boundary(data: &[u8]) -> Framing<HartIpError> {
    let plausible = |d: &[u8]| Header::parse(d).map(|h| h.check().is_ok().then_some(h));
    for i in 0..data.len() {
        let rest = data.get(i..).unwrap_or_default();
        let found = match plausible(rest) {
            None => None,
            Some(None) => continue,
            Some(Some(h)) => match rest.get(usize::from(h.byte_count)..) {
                None => None,
                Some([]) => Some(()),
                Some(next) if !matches!(plausible(next), Some(None)) => Some(()),
                Some(_) => continue,
            },
        };
        return match (i, found) {
            (0, Some(())) => Framing::Complete { len: 0 },
            (0, None) => Framing::Incomplete { needed: HEADER_LEN },
            (skip, _) => Framing::skip(skip),
        };
    }
    Framing::skip(data.len())
}

/// Per-flow HART-IP state.
#[derive(Default)]
pub struct HartIpDissector {
    violations: Violations,
    resync: [bool; 2],
    /// The unique id of the device that answered first: the HART-IP server itself.
    server: Option<[u8; 5]>,
    /// The server answered a short frame (polling address) before any long one.
    server_polled: bool,
    facts: Facts<MAX_FACTS>,
    sub_devices: usize,
}

impl HartIpDissector {
    fn violation(&mut self, e: HartIpError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, e, out);
    }

    fn message(&mut self, dir: Direction, msg: &[u8], out: &mut Vec<Observation>) {
        let Some(h) = Header::parse(msg) else { return };
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        match (h.message_id, h.message_type) {
            (message_id::SESSION_INITIATE, message_type::REQUEST | message_type::RESPONSE)
                if body.len() != 5 =>
            {
                self.violation(HartIpError::SessionInitiate(body.len()), out);
            }
            (message_id::DISCOVERY, message_type::REQUEST) if dir == Direction::ToServer => {
                out.push(Observation::Operation {
                    op: Operation::Identify,
                    function_code: None,
                    details: Vec::new(),
                });
            }
            (
                message_id::TOKEN_PASSING_PDU,
                message_type::REQUEST | message_type::RESPONSE | message_type::PUBLISH,
            ) => match pdu::parse(body) {
                Ok(p) => {
                    if p.checksum != p.computed {
                        let (received, computed) = (p.checksum, p.computed);
                        self.violation(HartIpError::Checksum { received, computed }, out);
                    }
                    if p.len < body.len() {
                        self.violation(HartIpError::PduTrailing(body.len() - p.len), out);
                    }
                    self.pdu(dir, h.message_type, &p, out);
                }
                Err(e) => self.violation(e, out),
            },
            _ => {}
        }
    }

    fn pdu(&mut self, dir: Direction, ty: u8, p: &Pdu<'_>, out: &mut Vec<Observation>) {
        if ty == message_type::REQUEST && !p.is_response() {
            if dir == Direction::ToServer {
                self.request(p, out);
            }
            return;
        }
        if ty == message_type::REQUEST || !p.is_response() || dir != Direction::ToClient {
            return;
        }
        // Bit 7 of the first octet: a communication error summary, no command data.
        if p.response_code().is_none_or(|c| c & 0x80 != 0) {
            return;
        }
        self.answer(p, out);
    }

    fn request(&mut self, p: &Pdu<'_>, out: &mut Vec<Observation>) {
        let number = p.command_number();
        let op = pdu::operation(number);
        let mut details = Vec::new();
        if let Some((_, name)) = op.filter(|(op, _)| op.changes_device()) {
            details.push(("command", format!("{number} {name}")));
            if let Some(setting) = pdu::setting(number) {
                details.push(("setting", setting.to_string()));
            }
            match p.address {
                Address::Unique(_) => {
                    details.push(("device", p.address.unique_hex().unwrap_or_default()))
                }
                Address::Polling(a) => details.push(("polling_address", a.to_string())),
            }
        }
        out.push(operation_or_code(
            op.map(|(op, _)| op),
            u32::from(p.command),
            details,
        ));
    }

    /// Whether an answer from `address` is about the server itself: the first device to
    /// answer on the flow is (by polling address or by unique id).
    fn is_server(&mut self, address: Address) -> bool {
        match address {
            Address::Polling(_) => {
                if self.server.is_none() {
                    self.server_polled = true;
                }
                self.server_polled
            }
            Address::Unique(u) => match self.server {
                Some(s) => s == u,
                None => {
                    self.server = Some(u);
                    true
                }
            },
        }
    }

    fn answer(&mut self, p: &Pdu<'_>, out: &mut Vec<Observation>) {
        let body = p.body();
        match p.command_number() {
            pdu::command::READ_UNIQUE_IDENTIFIER
            | pdu::command::READ_UNIQUE_IDENTIFIER_WITH_TAG
            | pdu::command::READ_UNIQUE_IDENTIFIER_WITH_LONG_TAG
                if p.command != 31 =>
            {
                let Some(id) = pdu::unique_identifier(body) else {
                    return;
                };
                // The answer names the device's unique id, whichever way it was addressed.
                if matches!(p.address, Address::Polling(_)) && self.server.is_none() {
                    self.server_polled = true;
                }
                let own = self.is_server(Address::Unique(id.address()));
                if own {
                    self.identity(&id, out);
                } else {
                    self.sub_device(&id, out);
                }
            }
            pdu::command::READ_LONG_TAG => {
                let raw = body.get(..32).unwrap_or(body);
                if self.is_server(p.address) {
                    if let Some(tag) = pdu::latin1(raw) {
                        self.fact(Field::Hostname, tag, source::HART_LONG_TAG, out);
                    }
                }
            }
            pdu::command::READ_TAG_DESCRIPTOR_DATE => {
                if !self.is_server(p.address) {
                    return;
                }
                if let Some(tag) = body.get(..6).and_then(pdu::packed_name) {
                    self.fact(Field::Hostname, tag, source::HART_TAG, out);
                }
                if let Some(d) = body.get(6..18).and_then(pdu::packed_name) {
                    let d = format!("HART descriptor {d}");
                    self.fact(Field::Description, d, source::HART_TAG, out);
                }
            }
            _ => {}
        }
    }

    fn identity(&mut self, id: &pdu::UniqueIdentifier, out: &mut Vec<Observation>) {
        let src = source::HART_COMMAND_0;
        self.fact(
            Field::Model,
            format!("HART device type {:#06x}", id.expanded_device_type),
            src,
            out,
        );
        if let Some(name) = pdu::manufacturer_name(id.manufacturer) {
            self.fact(Field::Vendor, name.to_string(), src, out);
        }
        self.fact(
            Field::Firmware,
            format!(
                "software revision {}, hardware revision {}, device revision {}",
                id.software_revision, id.hardware_revision, id.device_revision
            ),
            src,
            out,
        );
        let uid: String = id.address().iter().map(|b| format!("{b:02x}")).collect();
        self.fact(Field::Serial, uid, src, out);
        let profile = id.profile.and_then(pdu::profile);
        let mut d = format!(
            "HART {} device, manufacturer id {}, device id {:#08x}",
            id.universal_revision, id.manufacturer, id.device_id
        );
        if let Some((name, _)) = profile {
            d.push_str(&format!(", profile {name}"));
        }
        self.fact(Field::Description, d, src, out);
        if let Some((_, ty)) = profile {
            self.fact(Field::DeviceType, ty.to_string(), src, out);
        }
    }

    fn sub_device(&mut self, id: &pdu::UniqueIdentifier, out: &mut Vec<Observation>) {
        if self.sub_devices >= MAX_SUB_DEVICES {
            return;
        }
        let uid: String = id.address().iter().map(|b| format!("{b:02x}")).collect();
        let mut d = format!(
            "HART sub-device {uid}: device type {:#06x}, manufacturer id {}",
            id.expanded_device_type, id.manufacturer
        );
        if let Some(name) = pdu::manufacturer_name(id.manufacturer) {
            d.push_str(&format!(" ({name})"));
        }
        if let Some((name, _)) = id.profile.and_then(pdu::profile) {
            d.push_str(&format!(", {name}"));
        }
        if self.fact(Field::Description, d, source::HART_COMMAND_0, out) {
            self.sub_devices += 1;
        }
    }

    /// Emits the server's `field` = `value` unless this flow already did; `true` when emitted.
    fn fact(
        &mut self,
        field: Field,
        value: String,
        source: Source,
        out: &mut Vec<Observation>,
    ) -> bool {
        self.facts
            .emit_value(out, Subject::Server, field, value, source)
    }
}

impl Stream for HartIpDissector {
    type Error = HartIpError;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        let Delivery { dir, data, ctx } = delivery;
        if ctx.transport != Transport::Udp {
            return None;
        }
        // A datagram holds one message (§9.1).
        match Header::parse(data) {
            None => self.violation(HartIpError::PduTruncated, out),
            Some(h) => match h.check() {
                Err(e) => self.violation(e, out),
                Ok(()) if usize::from(h.byte_count) != data.len() => self.violation(
                    HartIpError::DatagramLength {
                        declared: usize::from(h.byte_count),
                        actual: data.len(),
                    },
                    out,
                ),
                Ok(()) => self.message(dir, data, out),
            },
        }
        Some(data.len())
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<HartIpError> {
        framing::step(&mut self.resync[dir.index()], data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: HartIpError, out: &mut Vec<Observation>) {
        self.violation(error, out);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.message(dir, message, out);
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
