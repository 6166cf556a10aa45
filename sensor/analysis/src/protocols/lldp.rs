//! LLDP, the IEEE 802.1AB-2016 Link Layer Discovery Protocol (ethertype 0x88CC), with the
//! organizationally specific TLVs that carry identity: TIA-1057 LLDP-MED inventory, and the
//! PROFINET chassis MAC (IEC 61158-6-10).
//!
//! An LLDPDU describes the system that sent it, so the frame's source MAC is the subject of
//! every fact. Two choices worth knowing:
//! - The management address (§8.5.9) is an address of the sending *system*, not necessarily of
//!   the port MAC the frame came from (a switch sends from per-port MACs, and answers on a VLAN
//!   interface). It is still emitted as `Binding { mac: src, ip }`, because a Binding says
//!   "one device", and tying the IP to the MAC the inventory already keys this device by is
//!   what merges the two views. The chassis-ID MAC is not used: it is often a base MAC that
//!   never appears on the wire and would only create a phantom asset.
//! - System capabilities map to a device type only for router, telephone and bridge. "Station
//!   only" is not mapped: every PROFINET device (PLCs, I/O, even some switches) claims it.

use super::ber::display_text;
use super::source;
use super::sysdescr::description_facts;
use super::{discovery_frame, push_identity, violation};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation};
use otwatch_common::{Mac, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Ethertype of LLDP frames.
pub const ETHERTYPE: u16 = 0x88cc;

const PROTOCOL: &str = "lldp";
const MAX_MANAGEMENT_ADDRESSES: usize = 4;

// TLV types (IEEE 802.1AB-2016 §8.4.1, table 8-1).
const TLV_END: u8 = 0;
const TLV_CHASSIS_ID: u8 = 1;
const TLV_PORT_ID: u8 = 2;
const TLV_TTL: u8 = 3;
const TLV_PORT_DESCRIPTION: u8 = 4;
const TLV_SYSTEM_NAME: u8 = 5;
const TLV_SYSTEM_DESCRIPTION: u8 = 6;
const TLV_SYSTEM_CAPABILITIES: u8 = 7;
const TLV_MANAGEMENT_ADDRESS: u8 = 8;
const TLV_ORG_SPECIFIC: u8 = 127;

const OUI_TIA: [u8; 3] = [0x00, 0x12, 0xbb];
const OUI_PROFINET: [u8; 3] = [0x00, 0x0e, 0xcf];

/// Chassis ID subtype 4 (§8.5.2.2): the value is a MAC address.
pub const CHASSIS_SUBTYPE_MAC: u8 = 4;

/// System capability bits (§8.5.8.1, table 8-4).
pub mod capability {
    pub const OTHER: u16 = 1 << 0;
    pub const REPEATER: u16 = 1 << 1;
    pub const BRIDGE: u16 = 1 << 2;
    pub const WLAN_ACCESS_POINT: u16 = 1 << 3;
    pub const ROUTER: u16 = 1 << 4;
    pub const TELEPHONE: u16 = 1 << 5;
    pub const DOCSIS: u16 = 1 << 6;
    pub const STATION_ONLY: u16 = 1 << 7;
}

/// What was wrong with an LLDPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LldpError {
    #[error("LLDPDU does not start with Chassis ID, Port ID and TTL TLVs")]
    MandatoryTlvs,
    #[error("LLDP TLV type {tlv_type} length {len} runs past the frame")]
    Truncated { tlv_type: u8, len: u16 },
    #[error("LLDP TLV type {tlv_type} has invalid length {len}")]
    BadLength { tlv_type: u8, len: u16 },
}

/// A parsed LLDPDU, borrowed from the frame.
#[derive(Debug, Clone, Default)]
pub struct Lldpdu<'a> {
    /// Chassis ID subtype and value (§8.5.2).
    pub chassis_id: (u8, &'a [u8]),
    /// Port ID subtype and value (§8.5.3).
    pub port_id: (u8, &'a [u8]),
    /// Seconds (§8.5.4); 0 announces that the system is leaving.
    pub ttl: u16,
    pub port_description: Option<&'a [u8]>,
    pub system_name: Option<&'a [u8]>,
    pub system_description: Option<&'a [u8]>,
    /// (system capabilities, enabled capabilities), §8.5.8.
    pub capabilities: Option<(u16, u16)>,
    /// IPv4/IPv6 management addresses (§8.5.9); other address families are skipped.
    pub management_addresses: [Option<IpAddr>; MAX_MANAGEMENT_ADDRESSES],
    pub inventory: MedInventory<'a>,
    /// PROFINET "chassis MAC" org TLV (OUI 00-0E-CF, subtype 5).
    pub profinet_chassis_mac: Option<Mac>,
    /// Set when the TLV walk stopped early; the TLVs before the fault are kept.
    pub malformed: Option<LldpError>,
}

/// LLDP-MED inventory TLVs (ANSI/TIA-1057 §10.2.6, OUI 00-12-BB subtypes 5..=11).
#[derive(Debug, Clone, Default)]
pub struct MedInventory<'a> {
    pub hardware_revision: Option<&'a [u8]>,
    pub firmware_revision: Option<&'a [u8]>,
    pub software_revision: Option<&'a [u8]>,
    pub serial_number: Option<&'a [u8]>,
    pub manufacturer: Option<&'a [u8]>,
    pub model: Option<&'a [u8]>,
    pub asset_id: Option<&'a [u8]>,
}

impl Lldpdu<'_> {
    pub fn management_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.management_addresses.iter().flatten().copied()
    }

    /// The chassis ID when it is a MAC address.
    pub fn chassis_mac(&self) -> Option<Mac> {
        match self.chassis_id {
            (CHASSIS_SUBTYPE_MAC, v) if v.len() == 6 => Mac::from_slice(v),
            _ => None,
        }
    }
}

/// Parses an LLDPDU (the payload after the Ethernet header).
pub fn parse(payload: &[u8]) -> Result<Lldpdu<'_>, LldpError> {
    let mut pdu = Lldpdu::default();
    let mut rest = payload;
    let mut index = 0;
    while let Some((&[h0, h1], after)) = rest.split_first_chunk::<2>() {
        // §8.4.1: 7-bit type, 9-bit length.
        let tlv_type = h0 >> 1;
        let len = (u16::from(h0 & 1) << 8) | u16::from(h1);
        let Some((value, after)) = after.split_at_checked(usize::from(len)) else {
            if index < 3 {
                return Err(LldpError::MandatoryTlvs);
            }
            pdu.malformed = Some(LldpError::Truncated { tlv_type, len });
            break;
        };
        rest = after;
        // §8.2 / §9.2.7.7.1: the first three TLVs are Chassis ID, Port ID and TTL, in order.
        let expected = match index {
            0 => Some(TLV_CHASSIS_ID),
            1 => Some(TLV_PORT_ID),
            2 => Some(TLV_TTL),
            _ => None,
        };
        index += 1;
        if expected.is_some_and(|t| t != tlv_type) {
            return Err(LldpError::MandatoryTlvs);
        }
        let bad_length = LldpError::BadLength { tlv_type, len };
        match tlv_type {
            TLV_END => break,
            // §8.5.2.1 / §8.5.3.1: subtype octet and 1..=255 octets of ID.
            TLV_CHASSIS_ID | TLV_PORT_ID => {
                let Some((&subtype, id)) = value.split_first().filter(|(_, id)| !id.is_empty())
                else {
                    return Err(bad_length);
                };
                if tlv_type == TLV_CHASSIS_ID {
                    pdu.chassis_id = (subtype, id);
                } else {
                    pdu.port_id = (subtype, id);
                }
            }
            TLV_TTL => match value.first_chunk::<2>() {
                Some(t) => pdu.ttl = u16::from_be_bytes(*t),
                None => return Err(bad_length),
            },
            TLV_PORT_DESCRIPTION => pdu.port_description = Some(value),
            TLV_SYSTEM_NAME => pdu.system_name = Some(value),
            TLV_SYSTEM_DESCRIPTION => pdu.system_description = Some(value),
            TLV_SYSTEM_CAPABILITIES => match value {
                [a, b, c, d] => {
                    pdu.capabilities =
                        Some((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])))
                }
                _ => {
                    pdu.malformed = Some(bad_length);
                    break;
                }
            },
            TLV_MANAGEMENT_ADDRESS => {
                if let Some(ip) = management_address(value) {
                    if let Some(slot) = pdu.management_addresses.iter_mut().find(|s| s.is_none()) {
                        *slot = Some(ip);
                    }
                }
            }
            TLV_ORG_SPECIFIC => org_specific(value, &mut pdu),
            _ => {}
        }
    }
    if index < 3 {
        return Err(LldpError::MandatoryTlvs);
    }
    Ok(pdu)
}

/// §8.5.9: address string length (subtype + address, 2..=32), address subtype (IANA address
/// family: 1 = IPv4, 2 = IPv6), address, then interface numbering and an OID we do not need.
fn management_address(value: &[u8]) -> Option<IpAddr> {
    let (&len, rest) = value.split_first()?;
    let (&family, rest) = rest.split_first()?;
    let addr = rest.get(..usize::from(len).checked_sub(1)?)?;
    match family {
        1 => <[u8; 4]>::try_from(addr)
            .ok()
            .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        2 => <[u8; 16]>::try_from(addr)
            .ok()
            .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        _ => None,
    }
}

/// §8.6: organizationally specific TLV = OUI (3), subtype (1), information.
fn org_specific<'a>(value: &'a [u8], pdu: &mut Lldpdu<'a>) {
    let Some((&[o0, o1, o2, subtype], info)) = value.split_first_chunk::<4>() else {
        return;
    };
    let inv = &mut pdu.inventory;
    match ([o0, o1, o2], subtype) {
        // TIA-1057 §10.2.6.1–10.2.6.7: inventory strings, 0..=32 octets each.
        (OUI_TIA, 5) => inv.hardware_revision = Some(info),
        (OUI_TIA, 6) => inv.firmware_revision = Some(info),
        (OUI_TIA, 7) => inv.software_revision = Some(info),
        (OUI_TIA, 8) => inv.serial_number = Some(info),
        (OUI_TIA, 9) => inv.manufacturer = Some(info),
        (OUI_TIA, 10) => inv.model = Some(info),
        (OUI_TIA, 11) => inv.asset_id = Some(info),
        // IEC 61158-6-10 LLDP extension: chassis MAC of a PROFINET device.
        (OUI_PROFINET, 5) if info.len() == 6 => pdu.profinet_chassis_mac = Mac::from_slice(info),
        _ => {}
    }
}

/// [`FrameDissector`](super::FrameDissector) for LLDP.
pub fn parse_frame(src: Mac, payload: &[u8], _ts: Timestamp, out: &mut Vec<Observation>) {
    let Some((pdu, subject)) = discovery_frame(PROTOCOL, "LLDP", src, parse(payload), out) else {
        return;
    };
    let mut identity = |field, value: Option<String>, source| {
        push_identity(out, subject, field, value.filter(|v| !v.is_empty()), source);
    };
    identity(
        Field::Hostname,
        pdu.system_name.map(display_text),
        source::LLDP_SYSTEM_NAME,
    );
    if let Some(descr) = pdu.system_description.map(display_text) {
        let facts = description_facts(&descr);
        identity(Field::Os, facts.os, source::LLDP_SYSTEM_DESCRIPTION);
        identity(
            Field::Firmware,
            facts.firmware,
            source::LLDP_SYSTEM_DESCRIPTION,
        );
        identity(
            Field::Description,
            Some(descr),
            source::LLDP_SYSTEM_DESCRIPTION,
        );
    }
    if let Some((_, enabled)) = pdu.capabilities {
        identity(
            Field::DeviceType,
            device_type(enabled).map(str::to_owned),
            source::LLDP_CAPABILITIES,
        );
    }
    let inv = &pdu.inventory;
    let text = |v: Option<&[u8]>| v.map(display_text).filter(|s| !s.is_empty());
    // The firmware revision is the firmware; software revision stands in only without it.
    let firmware = text(inv.firmware_revision).or_else(|| text(inv.software_revision));
    identity(Field::Firmware, firmware, source::LLDP_MED_INVENTORY);
    identity(
        Field::Serial,
        text(inv.serial_number),
        source::LLDP_MED_INVENTORY,
    );
    identity(
        Field::Vendor,
        text(inv.manufacturer),
        source::LLDP_MED_INVENTORY,
    );
    identity(Field::Model, text(inv.model), source::LLDP_MED_INVENTORY);
    if let Some(e) = pdu.malformed {
        out.push(violation(PROTOCOL, e.to_string()));
    }
    for ip in pdu.management_addresses() {
        // 0.0.0.0 is common (PROFINET devices without an address yet).
        if is_unicast_ip(&ip) && !ip.is_loopback() {
            out.push(Observation::Binding {
                mac: src,
                ip,
                source: "lldp management address",
            });
        }
    }
}

/// Catalog device type from the *enabled* capabilities: a router routes even when it also
/// bridges; an IP phone also reports bridge (its PC port), so telephone wins over bridge.
pub fn device_type(enabled: u16) -> Option<&'static str> {
    use capability::*;
    if enabled & ROUTER != 0 {
        Some("router")
    } else if enabled & TELEPHONE != 0 {
        Some("iot_device")
    } else if enabled & BRIDGE != 0 {
        Some("switch")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
