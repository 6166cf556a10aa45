//! IPv4 (RFC 791 §3.1).

use super::defrag::FragmentInfo;
use super::{be16, l4, DecodeError, Inner, IpPacket};
use std::net::{IpAddr, Ipv4Addr};

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTO: usize = 9;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MIN_HEADER_LEN: usize = 20;
}

/// Decodes an IPv4 packet. The packet may be cut short by the capture's snap length: then the
/// payload is what was captured. A total length of 0 (TCP segmentation offload on the capturing
/// host) means "the rest of the frame". Ethernet padding beyond the total length is dropped.
pub fn decode(b: &[u8]) -> Result<(IpPacket<'_>, Option<Inner<'_>>), DecodeError> {
    let vihl = *b.get(field::VER_IHL).ok_or(DecodeError::Ipv4Header)?;
    let ihl = (vihl & 0x0f) as usize * 4;
    if vihl >> 4 != 4 || ihl < field::MIN_HEADER_LEN || b.len() < ihl {
        return Err(DecodeError::Ipv4Header);
    }
    let total = be16(b, field::TOTAL_LEN).ok_or(DecodeError::Ipv4Header)? as usize;
    let end = match total {
        0 => b.len(),
        t if t < ihl => return Err(DecodeError::Ipv4Header),
        t => t.min(b.len()),
    };
    let payload = b.get(ihl..end).ok_or(DecodeError::Ipv4Header)?;
    let addr = |at: usize| -> Result<IpAddr, DecodeError> {
        let o: [u8; 4] = b
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or(DecodeError::Ipv4Header)?;
        Ok(IpAddr::V4(Ipv4Addr::from(o)))
    };
    let proto = *b.get(field::PROTO).ok_or(DecodeError::Ipv4Header)?;
    let flags_frag = be16(b, field::FLAGS_FRAG).ok_or(DecodeError::Ipv4Header)?;
    let more = flags_frag & 0x2000 != 0;
    let offset = (flags_frag & 0x1fff) as u32 * 8;
    let mut ip = IpPacket {
        src: addr(field::SRC)?,
        dst: addr(field::DST)?,
        proto,
        ttl: *b.get(field::TTL).ok_or(DecodeError::Ipv4Header)?,
        fragment: None,
        payload,
        l4: l4::L4::Other,
    };
    if more || offset != 0 {
        ip.fragment = Some(FragmentInfo {
            id: be16(b, field::IDENT).ok_or(DecodeError::Ipv4Header)? as u32,
            offset,
            more,
        });
        ip.l4 = l4::L4::Fragment;
        return Ok((ip, None));
    }
    let (l4, inner) = l4::decode(proto, payload)?;
    ip.l4 = l4;
    Ok((ip, inner))
}
