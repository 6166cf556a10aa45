//! ARP for IPv4 over Ethernet (RFC 826).

use super::{be16, DecodeError};
use otwatch_common::Mac;
use std::net::Ipv4Addr;

/// The fields of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// 1 = request, 2 = reply (RFC 826; RARP and others are kept as numbers).
    pub op: u16,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    pub const REQUEST: u16 = 1;
    pub const REPLY: u16 = 2;
}

pub fn decode(b: &[u8]) -> Result<ArpRepr, DecodeError> {
    // htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4)
    let htype = be16(b, 0).ok_or(DecodeError::Arp)?;
    let ptype = be16(b, 2).ok_or(DecodeError::Arp)?;
    if htype != 1 || ptype != 0x0800 || b.get(4) != Some(&6) || b.get(5) != Some(&4) {
        return Err(DecodeError::Arp);
    }
    let ip = |at: usize| -> Result<Ipv4Addr, DecodeError> {
        let o: [u8; 4] = b
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or(DecodeError::Arp)?;
        Ok(Ipv4Addr::from(o))
    };
    Ok(ArpRepr {
        op: be16(b, 6).ok_or(DecodeError::Arp)?,
        sender_mac: b
            .get(8..14)
            .and_then(Mac::from_slice)
            .ok_or(DecodeError::Arp)?,
        sender_ip: ip(14)?,
        target_mac: b
            .get(18..24)
            .and_then(Mac::from_slice)
            .ok_or(DecodeError::Arp)?,
        target_ip: ip(24)?,
    })
}
