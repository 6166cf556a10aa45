//! Cisco Discovery Protocol, versions 1 and 2.
//!
//! CDP has no RFC; the layout below follows Cisco's published frame description (a 4-octet
//! header, then type/length/value fields whose length counts the 4-octet TLV header). The
//! caller strips the 802.3 + LLC/SNAP header (DSAP/SSAP 0xAA, OUI 00-00-0C, PID 0x2000) and
//! passes the CDP header onward; trailing Ethernet padding is tolerated.
//!
//! A CDP frame describes the device that sent it: the frame's source MAC is the subject.
//! The device's addresses (TLV 0x0002) and management addresses (0x0016) are addresses of that
//! device, so each becomes a `Binding` with the source MAC. For a switch the source MAC is a
//! port MAC while the address lives on a VLAN interface: "the same device" is what a Binding
//! means, not "this MAC answers ARP for this IP".

use super::ber::display_text;
use super::source;
use super::sysdescr::description_facts;
use super::text::{self, starts_with_ignore_case};
use super::{discovery_frame, push_identity, violation};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation};
use otwatch_common::{Mac, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const PROTOCOL: &str = "cdp";
/// Addresses kept from one frame (address and management-address TLVs together).
const MAX_ADDRESSES: usize = 8;

// TLV types.
const TLV_DEVICE_ID: u16 = 0x0001;
const TLV_ADDRESSES: u16 = 0x0002;
const TLV_PORT_ID: u16 = 0x0003;
const TLV_CAPABILITIES: u16 = 0x0004;
const TLV_SOFTWARE_VERSION: u16 = 0x0005;
const TLV_PLATFORM: u16 = 0x0006;
const TLV_NATIVE_VLAN: u16 = 0x000a;
const TLV_MANAGEMENT_ADDRESSES: u16 = 0x0016;

/// Capability bits (TLV 0x0004).
pub mod capability {
    pub const ROUTER: u32 = 0x01;
    pub const TRANSPARENT_BRIDGE: u32 = 0x02;
    pub const SOURCE_ROUTE_BRIDGE: u32 = 0x04;
    pub const SWITCH: u32 = 0x08;
    pub const HOST: u32 = 0x10;
    pub const IGMP: u32 = 0x20;
    pub const REPEATER: u32 = 0x40;
    pub const PHONE: u32 = 0x80;
}

/// What was wrong with a CDP frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdpError {
    #[error("CDP frame shorter than its 4-octet header")]
    Truncated,
    #[error("unknown CDP version {0}")]
    Version(u8),
    #[error("CDP TLV {tlv_type:#06x} has bad length {len}")]
    TlvLength { tlv_type: u16, len: u16 },
}

/// A parsed CDP frame, borrowed from the payload.
#[derive(Debug, Clone, Default)]
pub struct CdpFrame<'a> {
    pub version: u8,
    pub ttl: u8,
    pub checksum: u16,
    /// The checksum matched (RFC 1071 sum, or Cisco's variant for odd lengths).
    pub checksum_ok: bool,
    pub device_id: Option<&'a [u8]>,
    pub port_id: Option<&'a [u8]>,
    pub capabilities: Option<u32>,
    pub software_version: Option<&'a [u8]>,
    pub platform: Option<&'a [u8]>,
    pub native_vlan: Option<u16>,
    /// Unique IPv4/IPv6 addresses from the address and management-address TLVs.
    pub addresses: [Option<IpAddr>; MAX_ADDRESSES],
    /// Set when the TLV walk stopped early; fields before the fault are kept.
    pub malformed: Option<CdpError>,
}

impl CdpFrame<'_> {
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses.iter().flatten().copied()
    }

    fn add_address(&mut self, ip: IpAddr) {
        if self.addresses().any(|a| a == ip) {
            return;
        }
        if let Some(slot) = self.addresses.iter_mut().find(|s| s.is_none()) {
            *slot = Some(ip);
        }
    }
}

/// Parses a CDP frame (header onward).
pub fn parse(payload: &[u8]) -> Result<CdpFrame<'_>, CdpError> {
    // Header: version (1), TTL in seconds (1), checksum (2).
    let (&[version, ttl, c0, c1], mut rest) = payload
        .split_first_chunk::<4>()
        .ok_or(CdpError::Truncated)?;
    let mut f = CdpFrame {
        version,
        ttl,
        checksum: u16::from_be_bytes([c0, c1]),
        ..CdpFrame::default()
    };
    if !(1..=2).contains(&f.version) {
        return Err(CdpError::Version(f.version));
    }
    let mut end = 4;
    // TLV: type (2), length (2, counting these four octets), value.
    while let Some(&[t0, t1, l0, l1]) = rest.first_chunk::<4>() {
        let tlv_type = u16::from_be_bytes([t0, t1]);
        let len = u16::from_be_bytes([l0, l1]);
        let Some((tlv, after)) = rest.split_at_checked(usize::from(len)).filter(|_| len >= 4)
        else {
            // Zero bytes after the last TLV are Ethernet padding, and four stray bytes may be
            // a frame check sequence the capture kept; anything else is a fault.
            if rest.len() > 4 && rest.iter().any(|&b| b != 0) {
                f.malformed = Some(CdpError::TlvLength { tlv_type, len });
            }
            break;
        };
        rest = after;
        end += tlv.len();
        let value = tlv.get(4..).unwrap_or_default();
        match tlv_type {
            TLV_DEVICE_ID => f.device_id = Some(value),
            TLV_PORT_ID => f.port_id = Some(value),
            TLV_SOFTWARE_VERSION => f.software_version = Some(value),
            TLV_PLATFORM => f.platform = Some(value),
            TLV_CAPABILITIES => {
                f.capabilities = value
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes);
            }
            TLV_NATIVE_VLAN => {
                f.native_vlan = value
                    .get(..2)
                    .and_then(|b| b.try_into().ok())
                    .map(u16::from_be_bytes);
            }
            TLV_ADDRESSES | TLV_MANAGEMENT_ADDRESSES => parse_addresses(value, &mut f),
            _ => {}
        }
    }
    let pdu = payload.get(..end).unwrap_or(payload);
    f.checksum_ok = checksum_matches(pdu, f.checksum);
    Ok(f)
}

/// Address list: a 4-octet count, then per address a protocol type (1 = NLPID, 2 = 802.2),
/// protocol length, protocol, 2-octet address length and address. IPv4 is NLPID 0xCC; IPv6 is
/// the 802.2 SNAP header AA-AA-03-00-00-00 with ethertype 0x86DD.
fn parse_addresses<'a>(value: &'a [u8], f: &mut CdpFrame<'a>) {
    const SNAP_IPV6: &[u8] = &[0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x86, 0xdd];
    let Some((count, mut rest)) = value.split_first_chunk::<4>() else {
        return;
    };
    let count = u32::from_be_bytes(*count);
    for _ in 0..count.min(MAX_ADDRESSES as u32) {
        let Some((&[ptype, plen], r)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let Some((proto, r)) = r.split_at_checked(usize::from(plen)) else {
            return;
        };
        let Some((alen, r)) = r.split_first_chunk::<2>() else {
            return;
        };
        let Some((addr, r)) = r.split_at_checked(usize::from(u16::from_be_bytes(*alen))) else {
            return;
        };
        rest = r;
        let ip = match (ptype, proto) {
            (1, [0xcc]) => <[u8; 4]>::try_from(addr)
                .ok()
                .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            (2, p) if p == SNAP_IPV6 => <[u8; 16]>::try_from(addr)
                .ok()
                .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
            _ => None,
        };
        if let Some(ip) = ip {
            f.add_address(ip);
        }
    }
}

/// CDP uses the RFC 1071 Internet checksum over the whole PDU, except that Cisco's
/// implementation adds a trailing odd octet as a sign-extended 8-bit value instead of padding
/// it to a 16-bit word. Either form is accepted.
fn checksum_matches(pdu: &[u8], expected: u16) -> bool {
    let mut sum: u32 = 0;
    let words = pdu.chunks_exact(2);
    let last = words.remainder().first().copied();
    for (i, w) in words.enumerate() {
        // The checksum field itself (octets 2-3) counts as zero.
        if i != 1 {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
    }
    let fold = |mut s: u32| {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    };
    match last {
        None => fold(sum) == expected,
        Some(b) => {
            let rfc = fold(sum + (u32::from(b) << 8));
            let cisco = fold(sum.wrapping_add(i32::from(b as i8) as u32));
            rfc == expected || cisco == expected
        }
    }
}

/// [`FrameDissector`](super::FrameDissector) for CDP.
pub fn parse_frame(src: Mac, payload: &[u8], _ts: Timestamp, out: &mut Vec<Observation>) {
    let Some((f, subject)) = discovery_frame(PROTOCOL, "CDP", src, parse(payload), out) else {
        return;
    };
    let mut identity = |field, value: String, source| {
        let value = Some(value).filter(|v| !v.is_empty());
        push_identity(out, subject, field, value, source);
    };
    if let Some(id) = f.device_id {
        identity(Field::Hostname, display_text(id), source::CDP_DEVICE_ID);
    }
    let software = f.software_version.map(display_text).unwrap_or_default();
    let platform = f.platform.map(display_text).unwrap_or_default();
    if let Some(sw) = f.software_version {
        identity(
            Field::Description,
            banner_summary(sw),
            source::CDP_SOFTWARE_VERSION,
        );
        let facts = description_facts(&software);
        if let Some(os) = facts.os {
            identity(Field::Os, os, source::CDP_SOFTWARE_VERSION);
        }
        if let Some(fw) = facts.firmware {
            identity(Field::Firmware, fw, source::CDP_SOFTWARE_VERSION);
        }
    }
    // Platform strings are "cisco WS-C2960-24TT-L", "Cisco IP Phone 7941", "VMware ESX".
    let model = strip_prefix_ignore_case(&platform, "cisco ").unwrap_or(&platform);
    identity(Field::Model, model.trim().to_owned(), source::CDP_PLATFORM);
    // Other makers speak CDP too (VMware, HP, some phones); say Cisco only when the device does.
    let cisco = |s: &str| starts_with_ignore_case(s.as_bytes(), b"cisco");
    if cisco(&platform) || cisco(&software) {
        identity(Field::Vendor, "Cisco".to_owned(), source::CDP);
    }
    if let Some(t) = f.capabilities.and_then(device_type) {
        identity(Field::DeviceType, t.to_owned(), source::CDP_CAPABILITIES);
    }
    if !f.checksum_ok {
        out.push(violation(
            PROTOCOL,
            format!("CDP checksum {:#06x} does not match the frame", f.checksum),
        ));
    }
    if let Some(e) = f.malformed {
        out.push(violation(PROTOCOL, e.to_string()));
    }
    for ip in f.addresses() {
        if is_unicast_ip(&ip) && !ip.is_loopback() {
            out.push(Observation::Binding {
                mac: src,
                ip,
                source: "cdp address",
            });
        }
    }
}

/// The identifying lines of a software banner, joined: everything before the copyright,
/// support and build-date lines that follow them.
fn banner_summary(banner: &[u8]) -> String {
    const TRAILERS: &[&str] = &["Copyright", "Technical Support", "Compiled"];
    let mut summary = String::new();
    for line in banner.split(|&b| b == b'\n' || b == b'\r') {
        let line = display_text(line);
        if line.is_empty() {
            continue;
        }
        if TRAILERS.iter().any(|t| line.starts_with(t)) {
            break;
        }
        if !summary.is_empty() {
            summary.push(' ');
        }
        summary.push_str(&line);
        if summary.len() >= text::MAX_TEXT_CHARS {
            break;
        }
    }
    display_text(summary.as_bytes())
}

/// Catalog device type from CDP capabilities: a router routes even when it also switches; a
/// phone usually also reports host and bridge bits (its PC port), so it wins over both.
pub fn device_type(caps: u32) -> Option<&'static str> {
    use capability::*;
    if caps & ROUTER != 0 {
        Some("router")
    } else if caps & PHONE != 0 {
        Some("iot_device")
    } else if caps & (SWITCH | TRANSPARENT_BRIDGE | SOURCE_ROUTE_BRIDGE) != 0 {
        Some("switch")
    } else if caps & HOST != 0 {
        Some("it_host")
    } else {
        None
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if starts_with_ignore_case(s.as_bytes(), prefix.as_bytes()) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
