//! IPv6 (RFC 8200 §3) and its extension headers (§4).

use super::defrag::FragmentInfo;
use super::{be16, be32, l4, DecodeError, Inner, IpPacket};
use std::net::{IpAddr, Ipv6Addr};

const HEADER_LEN: usize = 40;
/// Extension headers followed before the packet is called malformed.
const MAX_EXT_HEADERS: usize = 8;

mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

pub fn decode(b: &[u8]) -> Result<(IpPacket<'_>, Option<Inner<'_>>), DecodeError> {
    if b.len() < HEADER_LEN || b.first().map(|v| v >> 4) != Some(6) {
        return Err(DecodeError::Ipv6Header);
    }
    let plen = be16(b, 4).ok_or(DecodeError::Ipv6Header)? as usize;
    // A zero payload length with a Jumbo Payload option (RFC 2675) or a TSO capture: use the
    // frame; otherwise trim Ethernet padding.
    let end = if plen == 0 {
        b.len()
    } else {
        (HEADER_LEN + plen).min(b.len())
    };
    let addr = |at: usize| -> Result<IpAddr, DecodeError> {
        let o: [u8; 16] = b
            .get(at..at + 16)
            .and_then(|s| s.try_into().ok())
            .ok_or(DecodeError::Ipv6Header)?;
        Ok(IpAddr::V6(Ipv6Addr::from(o)))
    };
    let mut ip = IpPacket {
        src: addr(8)?,
        dst: addr(24)?,
        proto: *b.get(6).ok_or(DecodeError::Ipv6Header)?,
        ttl: *b.get(7).ok_or(DecodeError::Ipv6Header)?,
        fragment: None,
        payload: &[],
        l4: l4::L4::Other,
    };
    let mut rest = b.get(HEADER_LEN..end).ok_or(DecodeError::Ipv6Header)?;
    for _ in 0..MAX_EXT_HEADERS {
        match ip.proto {
            next_header::HOP_BY_HOP
            | next_header::ROUTING
            | next_header::DEST_OPTS
            | next_header::MOBILITY
            | next_header::HIP
            | next_header::SHIM6 => {
                // Hdr Ext Len in 8-octet units, not counting the first 8 (§4.3).
                let len = (*rest.get(1).ok_or(DecodeError::Ipv6ExtHeader)? as usize + 1) * 8;
                ip.proto = *rest.first().ok_or(DecodeError::Ipv6ExtHeader)?;
                rest = rest.get(len..).ok_or(DecodeError::Ipv6ExtHeader)?;
            }
            next_header::AH => {
                // RFC 4302 §2.2: Payload Len in 4-octet units, minus 2.
                let len = (*rest.get(1).ok_or(DecodeError::Ipv6ExtHeader)? as usize + 2) * 4;
                ip.proto = *rest.first().ok_or(DecodeError::Ipv6ExtHeader)?;
                rest = rest.get(len..).ok_or(DecodeError::Ipv6ExtHeader)?;
            }
            next_header::FRAGMENT => {
                // §4.5: next header, reserved, offset(13 bits)+res+M, identification.
                let nh = *rest.first().ok_or(DecodeError::Ipv6ExtHeader)?;
                let off_m = be16(rest, 2).ok_or(DecodeError::Ipv6ExtHeader)?;
                let id = be32(rest, 4).ok_or(DecodeError::Ipv6ExtHeader)?;
                ip.proto = nh;
                rest = rest.get(8..).ok_or(DecodeError::Ipv6ExtHeader)?;
                let offset = (off_m >> 3) as u32 * 8;
                let more = off_m & 1 == 1;
                if offset != 0 || more {
                    ip.fragment = Some(FragmentInfo { id, offset, more });
                    ip.payload = rest;
                    ip.l4 = l4::L4::Fragment;
                    return Ok((ip, None));
                }
                // An atomic fragment (RFC 6946): offset 0 and no more fragments.
            }
            next_header::ESP | next_header::NO_NEXT => {
                ip.payload = rest;
                return Ok((ip, None));
            }
            _ => {
                ip.payload = rest;
                let (l4, inner) = l4::decode(ip.proto, rest)?;
                ip.l4 = l4;
                return Ok((ip, inner));
            }
        }
    }
    Err(DecodeError::Ipv6ExtHeader)
}
