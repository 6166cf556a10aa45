//! PROFINET DCP, the Discovery and basic Configuration Protocol of IEC 61158-6-10 (§4.3),
//! carried in PROFINET real-time frames (ethertype 0x8892) with frame IDs 0xFEFC..=0xFEFF.
//! Read against Wireshark's `plugins/epan/profinet/packet-pn-dcp.c` and Zeek ICSNPP
//! (`icsnpp-profinet-io-cm`, for the PROFINET framing); written from the standard's text.
//!
//! The payload handed in starts at the FrameID (the decoder has removed any VLAN tag). Other
//! PROFINET RT frames (cyclic I/O data, alarms, PTCP) share the ethertype and are ignored.
//!
//! What it reports, about the frame's source MAC:
//! - Identify responses, Get responses and Hello announcements describe the sender: NameOfStation
//!   (hostname), DeviceVendorValue (model, e.g. "S7-300EC"), DeviceID (vendor from a small table
//!   of PROFINET vendor IDs, and the description "profinet vendor 0x002a device 0x0101"), device
//!   role (device type, below) and IP parameter (a binding of the source MAC to the IP).
//! - Identify and Get requests are a client speaking; Set requests are operations, each block
//!   one: IP parameter, DHCP and DeviceInitiative are configuration changes of the "network"
//!   setting (the new address, mask and gateway as the value), NameOfStation and alias of the
//!   "name" (the new name), Factory Reset and Reset to Factory of "factory_reset" (the mode);
//!   Signal, which flashes the device's LED, is identification. DCP has no flow, so those
//!   operations have no connection to attach to, and the frame dissector is not given the
//!   destination MAC that names the device being changed.
//!
//! Device role (DeviceRoleDetails, §4.3.1.4.x): bit 0 IO-Device, bit 1 IO-Controller, bit 2
//! IO-Multidevice, bit 3 PN-Supervisor. Mapped conservatively: any IO-Controller is a `plc`
//! (a CPU that is also an I-device sets both bits); an IO-Device without the controller bit is an
//! `io_module`, except that network gear is an IO-Device too (a SCALANCE X or "FL SWITCH" answers
//! with role 0x01), so a DeviceVendorValue naming a switch gives `switch` and any other SCALANCE
//! gives no type. Supervisor and multidevice alone give no type.

use super::source;
use super::text::{clean, clean_text};
use super::{frame_sender, push_identity, violation};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Details, Field, Observation, Operation, Role, Subject};
use otwatch_common::{Mac, Timestamp};
use std::net::{IpAddr, Ipv4Addr};

/// Ethertype of PROFINET real-time frames.
pub const ETHERTYPE: u16 = 0x8892;

const PROTOCOL: &str = "profinet_dcp";
/// Blocks looked at per PDU; a response carries about ten.
const MAX_BLOCKS: usize = 64;
/// Characters kept of a station name set by a Set request (NameOfStation is at most 240).
const MAX_NAME_CHARS: usize = 240;

/// FrameIDs of DCP (IEC 61158-6-10 §4.3.1.2, table "FrameID").
pub mod frame_id {
    pub const HELLO: u16 = 0xfefc;
    pub const GET_SET: u16 = 0xfefd;
    pub const IDENTIFY_REQUEST: u16 = 0xfefe;
    pub const IDENTIFY_RESPONSE: u16 = 0xfeff;
}

/// ServiceID (§4.3.1.3.1).
pub mod service {
    pub const GET: u8 = 3;
    pub const SET: u8 = 4;
    pub const IDENTIFY: u8 = 5;
    pub const HELLO: u8 = 6;
}

/// ServiceType (§4.3.1.3.2).
pub mod service_type {
    pub const REQUEST: u8 = 0;
    pub const RESPONSE_SUCCESS: u8 = 1;
    pub const RESPONSE_UNSUPPORTED: u8 = 5;
}

/// Options and suboptions of DCP blocks (§4.3.1.4).
pub mod option {
    pub const IP: u8 = 1;
    pub const DEVICE: u8 = 2;
    pub const DHCP: u8 = 3;
    pub const CONTROL: u8 = 5;
    pub const DEVICE_INITIATIVE: u8 = 6;
    pub const ALL: u8 = 0xff;

    pub const IP_MAC: u8 = 1;
    pub const IP_PARAMETER: u8 = 2;
    pub const IP_FULL_SUITE: u8 = 3;

    pub const DEVICE_VENDOR: u8 = 1;
    pub const DEVICE_NAME_OF_STATION: u8 = 2;
    pub const DEVICE_ID: u8 = 3;
    pub const DEVICE_ROLE: u8 = 4;
    pub const DEVICE_OPTIONS: u8 = 5;
    pub const DEVICE_ALIAS: u8 = 6;
    pub const DEVICE_INSTANCE: u8 = 7;
    pub const DEVICE_OEM_ID: u8 = 8;

    pub const CONTROL_START: u8 = 1;
    pub const CONTROL_END: u8 = 2;
    pub const CONTROL_SIGNAL: u8 = 3;
    pub const CONTROL_RESPONSE: u8 = 4;
    pub const CONTROL_FACTORY_RESET: u8 = 5;
    pub const CONTROL_RESET_TO_FACTORY: u8 = 6;
}

/// Device role bits (DeviceRoleDetails).
pub mod role {
    pub const IO_DEVICE: u8 = 0x01;
    pub const IO_CONTROLLER: u8 = 0x02;
    pub const IO_MULTIDEVICE: u8 = 0x04;
    pub const PN_SUPERVISOR: u8 = 0x08;
}

/// PROFINET vendor IDs (assigned by PROFIBUS & PROFINET International), each checked against
/// the VendorID of published GSDML files named after the maker (the OpenCommissioning
/// `OC_ProfinetDeviceIds` collection), WAGO's against the I&M0 table of its own manual (750-657
/// IO-Link master, "Manufacturer ID 011D hex"). Sorted by ID. Shared with `profinet_io`.
const VENDORS: &[(u16, &str)] = &[
    (0x001a, "ABB"),
    (0x002a, "Siemens"),
    (0x005d, "Pepperl+Fuchs"),
    (0x0083, "SMC"),
    (0x00b0, "Phoenix Contact"),
    (0x0101, "SICK"),
    (0x0106, "Lenze"),
    (0x010a, "SEW-Eurodrive"),
    (0x010c, "HMS Industrial Networks"),
    (0x011d, "WAGO"),
    (0x011e, "Hilscher"),
    (0x011f, "Bosch Rexroth"),
    (0x0120, "Beckhoff"),
    (0x012f, "Murrelektronik"),
    (0x0134, "Weidmüller"),
    (0x0136, "ifm electronic"),
    (0x0137, "Cognex"),
    (0x014d, "Festo"),
    (0x0152, "Leuze electronic"),
    (0x019b, "KUKA"),
    (0x01b7, "FANUC"),
    (0x01fd, "Keyence"),
    (0x0378, "Balluff"),
    (0x092f, "Pilz"),
];

/// The maker of a PROFINET vendor ID, when it is in the table.
pub fn vendor_name(id: u16) -> Option<&'static str> {
    VENDORS
        .binary_search_by_key(&id, |&(v, _)| v)
        .ok()
        .and_then(|i| VENDORS.get(i))
        .map(|&(_, n)| n)
}

/// What was wrong with a DCP PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcpError {
    #[error("DCP header truncated")]
    Truncated,
    #[error("DCPDataLength {declared} runs past the {available} octets of the frame")]
    DataLength { declared: u16, available: usize },
    #[error(
        "DCP service {service} type {service_type} does not belong in frame ID {frame_id:#06x}"
    )]
    WrongFrame {
        frame_id: u16,
        service: u8,
        service_type: u8,
    },
    #[error("reserved DCP service type {0}")]
    ServiceType(u8),
    #[error("DCP block {option}/{suboption} length {len} runs past DCPDataLength")]
    BlockLength { option: u8, suboption: u8, len: u16 },
    #[error("DCP block {option}/{suboption} too short for its content")]
    BlockContent { option: u8, suboption: u8 },
}

/// A DCP PDU (§4.3.1.3), borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    pub frame_id: u16,
    pub service: u8,
    pub service_type: u8,
    pub xid: u32,
    /// The DCPDataLength octets after the header.
    pub data: &'a [u8],
}

impl<'a> Pdu<'a> {
    pub fn is_request(&self) -> bool {
        self.service_type == service_type::REQUEST
    }

    /// Blocks carry a 2-octet BlockInfo before their content in Identify and Get responses
    /// and in Hello (§4.3.1.4, "DCP-Identify-ResBlock", "DCP-Hello-ReqBlock").
    pub fn has_block_info(&self) -> bool {
        matches!(
            (self.service, self.service_type),
            (
                service::IDENTIFY | service::GET,
                service_type::RESPONSE_SUCCESS
            ) | (service::HELLO, service_type::REQUEST)
        )
    }

    /// The blocks, each padded to an even length (§4.3.1.4). A Get request is a list of
    /// option/suboption pairs without blocks and yields nothing.
    pub fn blocks(&self) -> Blocks<'a> {
        let skip = self.service == service::GET && self.is_request();
        Blocks {
            rest: if skip { &[] } else { self.data },
            count: 0,
        }
    }
}

/// One block: option, suboption and the DCPBlockLength octets after the length field
/// (including BlockInfo or BlockQualifier where the service has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    pub option: u8,
    pub suboption: u8,
    pub data: &'a [u8],
}

/// Iterator over the blocks of a PDU; stops after the first malformed block.
#[derive(Debug, Clone)]
pub struct Blocks<'a> {
    rest: &'a [u8],
    count: usize,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, DcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.count >= MAX_BLOCKS {
            return None;
        }
        self.count += 1;
        let Some((&[option, suboption, l0, l1], after)) = self.rest.split_first_chunk::<4>() else {
            self.rest = &[];
            return Some(Err(DcpError::Truncated));
        };
        let len = u16::from_be_bytes([l0, l1]);
        let Some((data, after)) = after.split_at_checked(usize::from(len)) else {
            self.rest = &[];
            return Some(Err(DcpError::BlockLength {
                option,
                suboption,
                len,
            }));
        };
        // An odd block is followed by one padding octet when anything follows.
        self.rest = if len % 2 == 1 {
            after.get(1..).unwrap_or(&[])
        } else {
            after
        };
        Some(Ok(Block {
            option,
            suboption,
            data,
        }))
    }
}

/// Parses the FrameID and the DCP header: ServiceID, ServiceType, Xid, ResponseDelay (or
/// reserved), DCPDataLength (§4.3.1.3). `Ok(None)` for frame IDs that are not DCP.
pub fn parse(payload: &[u8]) -> Result<Option<Pdu<'_>>, DcpError> {
    let Some((&[f0, f1], rest)) = payload.split_first_chunk::<2>() else {
        return Err(DcpError::Truncated);
    };
    let frame_id = u16::from_be_bytes([f0, f1]);
    if !(frame_id::HELLO..=frame_id::IDENTIFY_RESPONSE).contains(&frame_id) {
        return Ok(None);
    }
    let Some((&[service, service_type, x0, x1, x2, x3, _, _, l0, l1], rest)) =
        rest.split_first_chunk::<10>()
    else {
        return Err(DcpError::Truncated);
    };
    if !matches!(
        service_type,
        service_type::REQUEST | service_type::RESPONSE_SUCCESS | service_type::RESPONSE_UNSUPPORTED
    ) {
        return Err(DcpError::ServiceType(service_type));
    }
    let request = service_type == service_type::REQUEST;
    let fits = match frame_id {
        frame_id::IDENTIFY_REQUEST => service == service::IDENTIFY && request,
        frame_id::IDENTIFY_RESPONSE => service == service::IDENTIFY && !request,
        frame_id::GET_SET => matches!(service, service::GET | service::SET),
        _ => service == service::HELLO && request,
    };
    if !fits {
        return Err(DcpError::WrongFrame {
            frame_id,
            service,
            service_type,
        });
    }
    let declared = u16::from_be_bytes([l0, l1]);
    // Anything after DCPDataLength is Ethernet padding.
    let data = rest
        .get(..usize::from(declared))
        .ok_or(DcpError::DataLength {
            declared,
            available: rest.len(),
        })?;
    Ok(Some(Pdu {
        frame_id,
        service,
        service_type,
        xid: u32::from_be_bytes([x0, x1, x2, x3]),
        data,
    }))
}

/// IP parameter block content (§4.3.1.4.x, "IPParameterValue").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpParameter {
    /// BlockInfo: 0 not set, 1 set, 2 set by DHCP; bit 7: address conflict detected.
    pub block_info: u16,
    pub ip: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub gateway: Ipv4Addr,
}

/// What a describing PDU (Identify response, Get response, Hello) says about its sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Station<'a> {
    pub type_of_station: Option<&'a [u8]>,
    pub name_of_station: Option<&'a [u8]>,
    /// (VendorID, DeviceID).
    pub device_id: Option<(u16, u16)>,
    pub role: Option<u8>,
    pub ip: Option<IpParameter>,
    /// (OEM VendorID, OEM DeviceID).
    pub oem_device_id: Option<(u16, u16)>,
}

/// Collects the sender's facts from the blocks of a describing PDU. Returns what was read
/// before a malformed block together with the error.
pub fn station<'a>(pdu: &Pdu<'a>) -> (Station<'a>, Option<DcpError>) {
    let mut s = Station::default();
    for block in pdu.blocks() {
        let b = match block {
            Ok(b) => b,
            Err(e) => return (s, Some(e)),
        };
        let content = |min: usize| -> Result<&'a [u8], DcpError> {
            // Skip BlockInfo (2 octets) before the value.
            b.data
                .get(2..)
                .filter(|v| v.len() >= min)
                .ok_or(DcpError::BlockContent {
                    option: b.option,
                    suboption: b.suboption,
                })
        };
        let u16_at = |v: &[u8], i: usize| {
            v.get(i..i + 2)
                .and_then(|p| p.try_into().ok())
                .map(u16::from_be_bytes)
                .unwrap_or(0)
        };
        let ip_at = |v: &[u8], i: usize| {
            v.get(i..i + 4)
                .and_then(|p| <[u8; 4]>::try_from(p).ok())
                .map(Ipv4Addr::from)
                .unwrap_or(Ipv4Addr::UNSPECIFIED)
        };
        let r = match (b.option, b.suboption) {
            (option::DEVICE, option::DEVICE_VENDOR) => {
                content(0).map(|v| s.type_of_station = Some(v))
            }
            (option::DEVICE, option::DEVICE_NAME_OF_STATION) => {
                content(0).map(|v| s.name_of_station = Some(v))
            }
            (option::DEVICE, option::DEVICE_ID) => {
                content(4).map(|v| s.device_id = Some((u16_at(v, 0), u16_at(v, 2))))
            }
            (option::DEVICE, option::DEVICE_ROLE) => {
                content(1).map(|v| s.role = v.first().copied())
            }
            (option::DEVICE, option::DEVICE_OEM_ID) => {
                content(4).map(|v| s.oem_device_id = Some((u16_at(v, 0), u16_at(v, 2))))
            }
            (option::IP, option::IP_PARAMETER | option::IP_FULL_SUITE) => content(12).map(|v| {
                s.ip = Some(IpParameter {
                    block_info: u16_at(b.data, 0),
                    ip: ip_at(v, 0),
                    mask: ip_at(v, 4),
                    gateway: ip_at(v, 8),
                })
            }),
            _ => Ok(()),
        };
        if let Err(e) = r {
            return (s, Some(e));
        }
    }
    (s, None)
}

/// Catalog device type from the device role and the DeviceVendorValue (see the module notes).
pub fn device_type(role_bits: u8, type_of_station: Option<&str>) -> Option<&'static str> {
    let station = type_of_station.unwrap_or("").to_ascii_lowercase();
    if role_bits & role::IO_CONTROLLER != 0 {
        Some("plc")
    } else if role_bits & role::IO_DEVICE == 0 {
        None
    } else if station.contains("scalance x") || station.contains("switch") {
        Some("switch")
    } else if station.contains("scalance") {
        None
    } else {
        Some("io_module")
    }
}

/// The operation a Set request block asks for, with its evidence. Set blocks carry a
/// BlockQualifier (2 octets: 0 temporary, 1 permanent; for Reset to Factory the mode) before
/// the value (§4.3.1.4, "DCP-Set-ReqBlock").
fn set_operation(b: &Block<'_>) -> Option<(Operation, Details)> {
    let value = b.data.get(2..).unwrap_or_default();
    let change = |setting: &str, v: Option<String>| {
        let mut d = vec![
            ("service", "DCP Set".to_owned()),
            ("setting", setting.to_owned()),
        ];
        if let Some(v) = v {
            d.push(("value", v));
        }
        Some((Operation::ConfigChange, d))
    };
    match (b.option, b.suboption) {
        // Flashing the LED shows which device this is: identification, no change.
        (option::CONTROL, option::CONTROL_SIGNAL) => Some((Operation::Identify, Vec::new())),
        (option::CONTROL, option::CONTROL_FACTORY_RESET) => Some((
            Operation::ConfigChange,
            vec![
                ("service", "DCP Set factory reset".to_owned()),
                ("setting", "factory_reset".to_owned()),
            ],
        )),
        (option::CONTROL, option::CONTROL_RESET_TO_FACTORY) => {
            let qualifier = b.data.first_chunk::<2>().map(|q| u16::from_be_bytes(*q));
            let mut d = vec![
                ("service", "DCP Set reset to factory".to_owned()),
                ("setting", "factory_reset".to_owned()),
            ];
            if let Some(q) = qualifier {
                d.push(("value", reset_mode(q >> 1)));
            }
            Some((Operation::ConfigChange, d))
        }
        (option::CONTROL, _) => None,
        (option::IP, option::IP_PARAMETER | option::IP_FULL_SUITE) => {
            let ip = |i: usize| {
                value
                    .get(i..i + 4)
                    .and_then(|p| <[u8; 4]>::try_from(p).ok())
                    .map(Ipv4Addr::from)
            };
            let v = match (ip(0), ip(4), ip(8)) {
                (Some(a), Some(m), Some(g)) => Some(format!("{a}/{m} gateway {g}")),
                _ => None,
            };
            change("network", v)
        }
        (option::IP | option::DHCP | option::DEVICE_INITIATIVE, _) => change("network", None),
        (option::DEVICE, option::DEVICE_NAME_OF_STATION | option::DEVICE_ALIAS) => {
            change("name", clean_text(value, MAX_NAME_CHARS))
        }
        (option::DEVICE, _) => Some((Operation::Write, Vec::new())),
        _ => None,
    }
}

/// Reset to Factory modes (BlockQualifier bits 1-15, §4.3.1.4.x; names as Wireshark's
/// `packet-pn-dcp.c` gives them).
fn reset_mode(mode: u16) -> String {
    let name = match mode {
        1 => "reset application data",
        2 => "reset communication parameters",
        3 | 5 => "reset engineering parameters",
        4 => "reset all stored data",
        8 => "reset all stored data to factory values",
        9 => "reset and restore data",
        _ => return format!("mode {mode}"),
    };
    format!("mode {mode}: {name}")
}

/// [`FrameDissector`](super::FrameDissector) for PROFINET DCP.
pub fn parse_frame(src: Mac, payload: &[u8], _ts: Timestamp, out: &mut Vec<Observation>) {
    let pdu = match parse(payload) {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            out.push(violation(PROTOCOL, e.to_string()));
            return;
        }
    };
    let Some(subject) = frame_sender(PROTOCOL, "PROFINET DCP", src, out) else {
        return;
    };
    let speaks = |role| Observation::Speaks {
        subject,
        protocol: PROTOCOL,
        role,
        port: 0,
    };
    let code = Some(u32::from(pdu.service));
    match (pdu.service, pdu.is_request()) {
        (service::IDENTIFY, true) => {
            out.push(speaks(Role::Client));
            out.push(Observation::Operation {
                op: Operation::Identify,
                function_code: code,
                details: Vec::new(),
            });
        }
        (service::GET, true) => {
            out.push(speaks(Role::Client));
            out.push(Observation::Operation {
                op: Operation::Read,
                function_code: code,
                details: Vec::new(),
            });
        }
        (service::SET, true) => {
            out.push(speaks(Role::Client));
            set_request(&pdu, out);
        }
        _ => {
            // Responses, and Hello: the sender is the device.
            out.push(speaks(Role::Server));
            if pdu.has_block_info() {
                describe(src, &pdu, out);
            }
        }
    }
}

fn set_request(pdu: &Pdu<'_>, out: &mut Vec<Observation>) {
    let mut reported = false;
    for block in pdu.blocks() {
        let b = match block {
            Ok(b) => b,
            Err(e) => {
                out.push(violation(PROTOCOL, e.to_string()));
                break;
            }
        };
        if let Some((op, details)) = set_operation(&b) {
            reported = true;
            out.push(Observation::Operation {
                op,
                function_code: Some(u32::from(pdu.service)),
                details,
            });
        }
    }
    if !reported {
        out.push(Observation::FunctionCode(u32::from(pdu.service)));
    }
}

fn describe(src: Mac, pdu: &Pdu<'_>, out: &mut Vec<Observation>) {
    let subject = Subject::Mac(src);
    let (st, err) = station(pdu);
    let mut identity =
        |field, value: Option<String>, source| push_identity(out, subject, field, value, source);
    let model = st.type_of_station.and_then(clean);
    identity(
        Field::Hostname,
        st.name_of_station.and_then(clean),
        source::PROFINET_DCP_NAME_OF_STATION,
    );
    identity(
        Field::Model,
        model.clone(),
        source::PROFINET_DCP_DEVICE_VENDOR_VALUE,
    );
    if let Some((vendor, device)) = st.device_id {
        identity(
            Field::Vendor,
            vendor_name(vendor).map(str::to_owned),
            source::PROFINET_DCP_DEVICE_ID,
        );
        identity(
            Field::Description,
            Some(format!(
                "profinet vendor {vendor:#06x} device {device:#06x}"
            )),
            source::PROFINET_DCP_DEVICE_ID,
        );
    }
    if let Some(bits) = st.role {
        identity(
            Field::DeviceType,
            device_type(bits, model.as_deref()).map(str::to_owned),
            source::PROFINET_DCP_DEVICE_ROLE,
        );
    }
    if let Some(ip) = st.ip {
        let addr = IpAddr::V4(ip.ip);
        // BlockInfo low bits 1 or 2: the address is set (statically or by DHCP).
        if ip.block_info & 0x7f != 0 && is_unicast_ip(&addr) && !addr.is_loopback() {
            out.push(Observation::Binding {
                mac: src,
                ip: addr,
                source: "profinet dcp ip",
            });
        }
    }
    if let Some(e) = err {
        out.push(violation(PROTOCOL, e.to_string()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
