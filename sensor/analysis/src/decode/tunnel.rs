//! Encapsulations that mirror and overlay setups put around frames: GRE (RFC 2784, key and
//! sequence per RFC 2890), ERSPAN type II and III, transparent Ethernet bridging, VXLAN
//! (RFC 7348) and MPLS label stacks (RFC 3032).

use super::{be16, ethertype, DecodeError, Inner};
use crate::decode::LinkType;

pub const VXLAN_PORT: u16 = 4789;

/// Opens a GRE header and returns the carried frame.
pub fn gre(b: &[u8]) -> Result<Inner<'_>, DecodeError> {
    let flags = be16(b, 0).ok_or(DecodeError::Tunnel)?;
    let proto = be16(b, 2).ok_or(DecodeError::Tunnel)?;
    // Version 0 only (version 1 is PPTP's enhanced GRE, which carries PPP).
    if flags & 0x0007 != 0 {
        return Err(DecodeError::Tunnel);
    }
    let mut off = 4;
    if flags & 0x8000 != 0 {
        off += 4; // checksum + reserved
    }
    if flags & 0x2000 != 0 {
        off += 4; // key
    }
    let has_seq = flags & 0x1000 != 0;
    if has_seq {
        off += 4;
    }
    let body = b.get(off..).ok_or(DecodeError::Tunnel)?;
    let (link, data) = match proto {
        ethertype::IPV4 | ethertype::IPV6 => (LinkType::Raw, body),
        ethertype::TEB => (LinkType::Ethernet, body),
        // ERSPAN type II has an 8-byte header (and needs the sequence bit); type I has none.
        ethertype::ERSPAN_II if has_seq => (
            LinkType::Ethernet,
            body.get(8..).ok_or(DecodeError::Tunnel)?,
        ),
        ethertype::ERSPAN_II => (LinkType::Ethernet, body),
        // ERSPAN type III: 12-byte header plus an 8-byte platform sub-header when O is set.
        ethertype::ERSPAN_III => {
            let o_bit = body.get(11).ok_or(DecodeError::Tunnel)? & 0x01 != 0;
            let skip = if o_bit { 20 } else { 12 };
            (
                LinkType::Ethernet,
                body.get(skip..).ok_or(DecodeError::Tunnel)?,
            )
        }
        ethertype::MPLS | ethertype::MPLS_MC => (LinkType::Raw, mpls(body)?),
        _ => return Err(DecodeError::Tunnel),
    };
    Ok(Inner { link, data })
}

/// VXLAN: an 8-byte header with the I flag, then an Ethernet frame.
pub fn vxlan(b: &[u8]) -> Option<Inner<'_>> {
    if b.len() < 8 + 14 || b.first()? & 0x08 == 0 {
        return None;
    }
    Some(Inner {
        link: LinkType::Ethernet,
        data: b.get(8..)?,
    })
}

/// Skips an MPLS label stack (4 bytes a label, bottom-of-stack bit ends it) and returns the
/// payload, which the caller decodes as IP by its version nibble.
pub fn mpls(b: &[u8]) -> Result<&[u8], DecodeError> {
    let mut off = 0;
    for _ in 0..16 {
        let bos = b.get(off + 2).ok_or(DecodeError::Tunnel)? & 0x01 != 0;
        off += 4;
        if bos {
            return b.get(off..).ok_or(DecodeError::Tunnel);
        }
    }
    Err(DecodeError::Tunnel)
}
