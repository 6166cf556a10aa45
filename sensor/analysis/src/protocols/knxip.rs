//! KNXnet/IP (KNX Standard 03_08_02 Core, 03_08_03 Device Management, 03_08_04 Tunnelling,
//! 03_08_05 Routing; ISO/IEC 14543-3), UDP and TCP port 3671: how building automation tools
//! (ETS, visualisations, home servers) reach a KNX installation through a KNXnet/IP interface
//! (tunnelling) or router (routing).
//!
//! The wire, each part checked:
//! - the header (Core §5.2): header length 6, protocol version 0x10, service type, total
//!   length (the whole frame): it frames TCP streams, a UDP datagram holds one frame;
//! - search and description answers (Core §7.5): the device information DIB (KNX medium,
//!   device status, individual address, project-installation id, serial number, routing
//!   multicast address, MAC address, friendly name) and the other DIBs by their length;
//! - tunnelling, device configuration (a connection header, then cEMI) and routing (cEMI)
//!   ([`cemi`]): message code, source and destination address, TPCI and APCI.
//!
//! What is reported:
//! - identity from a search or description answer's device information DIB, about the device
//!   that answers: hostname the friendly name, serial the KNX serial number, a description
//!   with the individual address and medium, device type `building_controller` (a KNXnet/IP
//!   interface or router is the building network's controller-level gateway, Purdue level 1 as
//!   BACnet controllers are), and its MAC bound to the control endpoint's IP;
//! - operations: search and description requests are identify; an L_Data.req a client sends
//!   through a tunnel, a device configuration request or a routing indication sent to one
//!   host is an operation by its APCI ([`cemi::operation`]): GroupValueWrite a write,
//!   GroupValueRead a read, MemoryWrite a program download (ETS loads applications and
//!   parameters so), Restart a restart, IndividualAddressWrite and PropertyValue_Write
//!   configuration changes, each with the group or individual address as evidence; M_PropWrite
//!   is a configuration change, M_Reset a restart. The function code is the APCI service
//!   ([`cemi::service`]); the telegrams a server passes on from the bus (L_Data.ind/.con) are
//!   not the client's and report nothing. Routing indications to the multicast group are no
//!   conversation and report nothing either;
//! - violations: a header of another length or version, a total length unlike the datagram, a
//!   structure whose length runs past its frame, a cEMI frame cut short.

pub mod cemi;

use super::framing::{self, Delivery, Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::violations::Violations;
use super::{operation_or_code, push_identity, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Subject};
use otwatch_common::Mac;
use std::net::{IpAddr, Ipv4Addr};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    new,
};

pub static TCP_SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    new,
};

const PROTOCOL: &str = "knxip";
/// IANA "knx" (Core §8.6.3.1).
pub const PORT: u16 = 3671;
pub const HEADER_LEN: usize = 6;
const VERSION: u8 = 0x10;
/// Longest frame accepted (a cEMI frame is at most 255 octets of APDU, DIB lists a few
/// hundred).
pub const MAX_FRAME: usize = 1024;

/// Service types (Core §8.6.2 and the Tunnelling, Routing and Device Management parts).
pub mod service {
    pub const SEARCH_REQUEST: u16 = 0x0201;
    pub const SEARCH_RESPONSE: u16 = 0x0202;
    pub const DESCRIPTION_REQUEST: u16 = 0x0203;
    pub const DESCRIPTION_RESPONSE: u16 = 0x0204;
    pub const CONNECT_REQUEST: u16 = 0x0205;
    pub const CONNECT_RESPONSE: u16 = 0x0206;
    pub const CONNECTIONSTATE_REQUEST: u16 = 0x0207;
    pub const CONNECTIONSTATE_RESPONSE: u16 = 0x0208;
    pub const DISCONNECT_REQUEST: u16 = 0x0209;
    pub const DISCONNECT_RESPONSE: u16 = 0x020a;
    pub const SEARCH_REQUEST_EXT: u16 = 0x020b;
    pub const SEARCH_RESPONSE_EXT: u16 = 0x020c;
    pub const DEVICE_CONFIGURATION_REQUEST: u16 = 0x0310;
    pub const DEVICE_CONFIGURATION_ACK: u16 = 0x0311;
    pub const TUNNELLING_REQUEST: u16 = 0x0420;
    pub const TUNNELLING_ACK: u16 = 0x0421;
    pub const ROUTING_INDICATION: u16 = 0x0530;
}

/// Why KNXnet/IP traffic is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KnxIpError {
    #[error("KNXnet/IP header length {0} (6 expected)")]
    HeaderLength(u8),
    #[error("KNXnet/IP protocol version {0:#04x} (0x10 expected)")]
    Version(u8),
    #[error("KNXnet/IP total length {0} shorter than its header or over 1024")]
    TotalLength(u16),
    #[error("KNXnet/IP total length {declared} but the datagram holds {actual} octets")]
    DatagramLength { declared: usize, actual: usize },
    #[error("KNXnet/IP structure of length {0} runs past its frame")]
    Structure(u8),
    #[error("cEMI frame cut short")]
    CemiTruncated,
}

/// The KNXnet/IP header (Core §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub service: u16,
    pub total_length: u16,
}

impl Header {
    /// Reads and checks the header at the start of `data`; `Ok(None)` when fewer than 6 octets.
    pub fn parse(data: &[u8]) -> Result<Option<Header>, KnxIpError> {
        let Some(&[hl, version, s0, s1, l0, l1]) = data.get(..HEADER_LEN) else {
            return Ok(None);
        };
        if usize::from(hl) != HEADER_LEN {
            return Err(KnxIpError::HeaderLength(hl));
        }
        if version != VERSION {
            return Err(KnxIpError::Version(version));
        }
        let total_length = u16::from_be_bytes([l0, l1]);
        if !(HEADER_LEN..=MAX_FRAME).contains(&usize::from(total_length)) {
            return Err(KnxIpError::TotalLength(total_length));
        }
        Ok(Some(Header {
            service: u16::from_be_bytes([s0, s1]),
            total_length,
        }))
    }
}

/// Accepts a KNXnet/IP header (0x06 0x10) of a known service family with a possible length:
/// the first octet turns almost everything else away.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match data {
        [] | [0x06] | [0x06, 0x10] => return Probe::NeedMore,
        [0x06, 0x10, family, ..] if (0x02..=0x09).contains(family) => {}
        _ => return Probe::No,
    }
    let h = match Header::parse(data) {
        Ok(Some(h)) => h,
        Ok(None) => return Probe::NeedMore,
        Err(_) => return Probe::No,
    };
    if data.len() < usize::from(h.total_length) {
        return Probe::NeedMore;
    }
    use service::*;
    match h.service {
        SEARCH_RESPONSE
        | SEARCH_RESPONSE_EXT
        | DESCRIPTION_RESPONSE
        | CONNECT_RESPONSE
        | CONNECTIONSTATE_RESPONSE => Probe::YesFromServer,
        _ => Probe::Yes,
    }
}

fn new() -> Box<dyn Dissector> {
    Box::new(KnxIpDissector::default())
}

/// A device information DIB (Core §7.5.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo<'a> {
    pub medium: u8,
    pub status: u8,
    pub individual_address: u16,
    pub project: u16,
    pub serial: [u8; 6],
    pub multicast: Ipv4Addr,
    pub mac: [u8; 6],
    pub name: &'a [u8],
}

/// The DIBs of a search or description answer: the control endpoint's IP (from the HPAI a
/// search answer starts with) and the device information DIB, if there is one.
pub fn answer(
    service_type: u16,
    body: &[u8],
) -> Result<(Option<Ipv4Addr>, Option<DeviceInfo<'_>>), KnxIpError> {
    let mut rest = body;
    let mut endpoint = None;
    if service_type != service::DESCRIPTION_RESPONSE {
        let hpai = structure(&mut rest)?;
        if let [_, _, a, b, c, d, ..] = *hpai {
            endpoint = Some(Ipv4Addr::new(a, b, c, d)).filter(|ip| !ip.is_unspecified());
        }
    }
    let mut info = None;
    while !rest.is_empty() {
        let dib = structure(&mut rest)?;
        if let (None, [_, 0x01, medium, status, a0, a1, p0, p1, tail @ ..]) = (info, dib) {
            let (Some(serial), Some(mc), Some(mac), Some(name)) = (
                tail.get(..6),
                tail.get(6..10),
                tail.get(10..16),
                tail.get(16..),
            ) else {
                return Err(KnxIpError::Structure(dib.len() as u8));
            };
            let mut s = [0; 6];
            s.copy_from_slice(serial);
            let mut m = [0; 6];
            m.copy_from_slice(mac);
            info = Some(DeviceInfo {
                medium: *medium,
                status: *status,
                individual_address: u16::from_be_bytes([*a0, *a1]),
                project: u16::from_be_bytes([*p0, *p1]),
                serial: s,
                multicast: Ipv4Addr::new(mc[0], mc[1], mc[2], mc[3]),
                mac: m,
                name,
            });
        }
    }
    Ok((endpoint, info))
}

/// Takes one length-prefixed structure (HPAI, DIB, CRI, connection header) off `rest`.
fn structure<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], KnxIpError> {
    let len = rest.first().copied().unwrap_or(0);
    if len < 2 {
        return Err(KnxIpError::Structure(len));
    }
    let s = rest
        .get(..usize::from(len))
        .ok_or(KnxIpError::Structure(len))?;
    *rest = rest.get(usize::from(len)..).unwrap_or_default();
    Ok(s)
}

/// KNX media (Core §7.5.4.2, DIB KNX medium codes).
fn medium_name(m: u8) -> &'static str {
    match m {
        0x02 => "TP1",
        0x04 => "PL110",
        0x10 => "RF",
        0x20 => "KNX IP",
        _ => "unknown medium",
    }
}

/// Per-flow KNXnet/IP state.
#[derive(Default)]
pub struct KnxIpDissector {
    violations: Violations,
    resync: [bool; 2],
    /// The frame being read went to a group MAC (a search or routing multicast).
    to_group: bool,
    /// The device information was reported on this flow.
    described: bool,
}

impl KnxIpDissector {
    fn violation(&mut self, e: KnxIpError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, e, out);
    }

    fn frame(&mut self, dir: Direction, frame: &[u8], out: &mut Vec<Observation>) {
        let Ok(Some(h)) = Header::parse(frame) else {
            return;
        };
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        if let Err(e) = self.service(dir, h.service, body, out) {
            self.violation(e, out);
        }
    }

    fn service(
        &mut self,
        dir: Direction,
        service_type: u16,
        body: &[u8],
        out: &mut Vec<Observation>,
    ) -> Result<(), KnxIpError> {
        use service::*;
        match service_type {
            SEARCH_REQUEST | SEARCH_REQUEST_EXT | DESCRIPTION_REQUEST
                if dir == Direction::ToServer && !self.to_group =>
            {
                out.push(Observation::Operation {
                    op: Operation::Identify,
                    function_code: None,
                    details: Vec::new(),
                });
            }
            SEARCH_RESPONSE | SEARCH_RESPONSE_EXT | DESCRIPTION_RESPONSE => {
                let (endpoint, info) = answer(service_type, body)?;
                if let Some(info) = info.filter(|_| !self.described) {
                    self.described = true;
                    device_info(dir.sender(), endpoint, &info, out);
                }
            }
            TUNNELLING_REQUEST | DEVICE_CONFIGURATION_REQUEST => {
                let mut rest = body;
                structure(&mut rest)?;
                if dir == Direction::ToServer {
                    self.cemi(rest, out)?;
                } else {
                    cemi::parse(rest)?;
                }
            }
            ROUTING_INDICATION => {
                if self.to_group {
                    cemi::parse(body)?;
                } else {
                    self.cemi(body, out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A cEMI frame a client sends: its operation.
    fn cemi(&mut self, body: &[u8], out: &mut Vec<Observation>) -> Result<(), KnxIpError> {
        let c = cemi::parse(body)?;
        let (op, code, details) = match (c.message_code, c.data) {
            (cemi::mc::L_DATA_REQ | cemi::mc::L_DATA_IND, Some(d)) => {
                let Some(apci) = d.apci else { return Ok(()) };
                let code = cemi::service(apci);
                let op = cemi::operation(code);
                let mut details = Vec::new();
                if let Some((op, name)) = op {
                    if op != Operation::Read {
                        details.push(("service", name.to_string()));
                        let to = if d.group {
                            ("group_address", cemi::group_address(d.destination))
                        } else {
                            (
                                "individual_address",
                                cemi::individual_address(d.destination),
                            )
                        };
                        details.push(to);
                    }
                }
                (op.map(|o| o.0), u32::from(code), details)
            }
            (cemi::mc::M_PROP_WRITE_REQ, _) => (Some(Operation::ConfigChange), 0xf6, Vec::new()),
            (cemi::mc::M_PROP_READ_REQ, _) => (Some(Operation::Read), 0xfc, Vec::new()),
            (cemi::mc::M_RESET_REQ, _) => (Some(Operation::Restart), 0xf1, Vec::new()),
            _ => return Ok(()),
        };
        out.push(operation_or_code(op, code, details));
        Ok(())
    }
}

/// The identity a device information DIB gives the device that sent it.
fn device_info(
    subject: Subject,
    endpoint: Option<Ipv4Addr>,
    info: &DeviceInfo<'_>,
    out: &mut Vec<Observation>,
) {
    let src = source::KNXIP_DEVICE_INFO;
    let name: String = info
        .name
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| char::from(b))
        .collect();
    let name = super::text::clean_chars(name.chars(), 30);
    push_identity(out, subject, Field::Hostname, name, src);
    let s = info.serial;
    let serial = format!(
        "{:02x}{:02x}:{:02x}{:02x}{:02x}{:02x}",
        s[0], s[1], s[2], s[3], s[4], s[5]
    );
    push_identity(out, subject, Field::Serial, Some(serial), src);
    let d = format!(
        "KNX individual address {}, {}, manufacturer code {:#06x}",
        cemi::individual_address(info.individual_address),
        medium_name(info.medium),
        u16::from_be_bytes([s[0], s[1]])
    );
    push_identity(out, subject, Field::Description, Some(d), src);
    push_identity(
        out,
        subject,
        Field::DeviceType,
        Some("building_controller".to_string()),
        src,
    );
    let mac = Mac(info.mac);
    if let (Some(ip), true) = (endpoint, mac.is_unicast() && info.mac != [0; 6]) {
        out.push(Observation::Binding {
            mac,
            ip: IpAddr::V4(ip),
            source: "knxip device information",
        });
    }
}

fn frame(data: &[u8]) -> Framing<KnxIpError> {
    match Header::parse(data) {
        Ok(None) => Framing::Incomplete { needed: HEADER_LEN },
        Err(e) => Framing::broken(1, e),
        Ok(Some(h)) if data.len() >= usize::from(h.total_length) => Framing::Complete {
            len: usize::from(h.total_length),
        },
        Ok(Some(h)) => Framing::Incomplete {
            needed: usize::from(h.total_length),
        },
    }
}

/// The resync scan: the next 0x06 0x10 header.
fn boundary(data: &[u8]) -> Framing<KnxIpError> {
    match data.windows(2).position(|w| w == [0x06, 0x10]) {
        Some(0) => Framing::Complete { len: 0 },
        Some(i) => Framing::skip(i),
        None => Framing::skip(data.len().saturating_sub(1).max(1)),
    }
}

impl Stream for KnxIpDissector {
    type Error = KnxIpError;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        let Delivery { dir, data, ctx } = delivery;
        self.to_group = ctx.dst_mac.is_some_and(|m| m.is_group());
        if ctx.transport != Transport::Udp {
            return None;
        }
        match Header::parse(data) {
            Ok(None) => self.violation(KnxIpError::CemiTruncated, out),
            Err(e) => self.violation(e, out),
            Ok(Some(h)) if usize::from(h.total_length) != data.len() => self.violation(
                KnxIpError::DatagramLength {
                    declared: usize::from(h.total_length),
                    actual: data.len(),
                },
                out,
            ),
            Ok(Some(_)) => self.frame(dir, data, out),
        }
        Some(data.len())
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<KnxIpError> {
        framing::step(&mut self.resync[dir.index()], data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: KnxIpError, out: &mut Vec<Observation>) {
        self.violation(error, out);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.frame(dir, message, out);
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
