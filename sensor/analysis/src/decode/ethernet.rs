//! Link layers: Ethernet II and IEEE 802.3/LLC (IEEE 802.3 §3.2, IEEE 802.2), 802.1Q VLAN tags
//! and 802.1ad QinQ stacks (IEEE 802.1Q §9), Linux cooked captures (SLL and SLL2, as written by
//! libpcap's "any" device) and BSD loopback (DLT_NULL / DLT_LOOP).

use super::{be16, decode_ethertype, ethertype, DecodeError, Net, Packet};
use otwatch_common::Mac;

mod field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const TYPE: usize = 12;
    pub const HEADER_LEN: usize = 14;
}

/// At most this many stacked VLAN tags are followed before the frame is called malformed.
const MAX_VLAN_TAGS: usize = 4;

pub fn decode_ethernet(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    if data.len() < field::HEADER_LEN {
        return Err(DecodeError::Ethernet);
    }
    let pkt = Packet {
        dst_mac: data.get(field::DST).and_then(Mac::from_slice),
        src_mac: data.get(field::SRC).and_then(Mac::from_slice),
        ..Packet::default()
    };
    let ty = be16(data, field::TYPE).ok_or(DecodeError::Ethernet)?;
    let rest = data.get(field::HEADER_LEN..).ok_or(DecodeError::Ethernet)?;
    after_type(pkt, ty, rest)
}

/// Follows VLAN tags, then hands the payload to the network layer. Values up to 1500 are an
/// IEEE 802.3 length, followed by an LLC header.
fn after_type<'a>(
    mut pkt: Packet<'a>,
    mut ty: u16,
    mut rest: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    let mut tags = 0;
    while matches!(ty, ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD) {
        tags += 1;
        if tags > MAX_VLAN_TAGS || rest.len() < 4 {
            return Err(DecodeError::Vlan);
        }
        let tci = be16(rest, 0).ok_or(DecodeError::Vlan)?;
        if pkt.vlan.is_none() {
            pkt.vlan = Some(tci & 0x0fff);
        }
        ty = be16(rest, 2).ok_or(DecodeError::Vlan)?;
        rest = rest.get(4..).ok_or(DecodeError::Vlan)?;
    }
    if ty <= 1500 {
        // IEEE 802.3 length field: trim the padding the length excludes.
        let body = rest.get(..ty as usize).unwrap_or(rest);
        return llc(pkt, body);
    }
    decode_ethertype(pkt, ty, rest)
}

/// IEEE 802.2 LLC, with SNAP (RFC 1042) when DSAP=SSAP=0xAA.
fn llc<'a>(mut pkt: Packet<'a>, body: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    let (&dsap, &ssap) = match (body.first(), body.get(1)) {
        (Some(d), Some(s)) => (d, s),
        _ => return Err(DecodeError::Llc),
    };
    let control = *body.get(2).ok_or(DecodeError::Llc)?;
    // U-format frames have a one-byte control field; I/S-format two bytes (802.2 §5.2).
    let header = if control & 0x03 == 0x03 { 3 } else { 4 };
    if dsap == 0xaa && ssap == 0xaa {
        let snap = body.get(3..8).ok_or(DecodeError::Llc)?;
        let oui = u32::from_be_bytes([0, snap[0], snap[1], snap[2]]);
        let pid = u16::from_be_bytes([snap[3], snap[4]]);
        let payload = body.get(8..).unwrap_or(&[]);
        if oui == 0 {
            // RFC 1042: an ethertype behind SNAP.
            return decode_ethertype(pkt, pid, payload);
        }
        pkt.net = Net::Llc {
            dsap,
            ssap,
            snap: Some((oui, pid)),
            payload,
        };
        return Ok(pkt);
    }
    pkt.net = Net::Llc {
        dsap,
        ssap,
        snap: None,
        payload: body.get(header..).unwrap_or(&[]),
    };
    Ok(pkt)
}

/// Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16-byte header.
pub fn decode_sll(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    if data.len() < 16 {
        return Err(DecodeError::LinuxSll);
    }
    let hatype = be16(data, 2).ok_or(DecodeError::LinuxSll)?;
    let alen = be16(data, 4).ok_or(DecodeError::LinuxSll)?;
    let proto = be16(data, 14).ok_or(DecodeError::LinuxSll)?;
    let addr = data.get(6..14).ok_or(DecodeError::LinuxSll)?;
    cooked(
        data.get(16..).unwrap_or(&[]),
        hatype,
        alen as usize,
        addr,
        proto,
    )
}

/// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20-byte header.
pub fn decode_sll2(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    if data.len() < 20 {
        return Err(DecodeError::LinuxSll);
    }
    let proto = be16(data, 0).ok_or(DecodeError::LinuxSll)?;
    let hatype = be16(data, 8).ok_or(DecodeError::LinuxSll)?;
    let alen = *data.get(11).ok_or(DecodeError::LinuxSll)?;
    let addr = data.get(12..20).ok_or(DecodeError::LinuxSll)?;
    cooked(
        data.get(20..).unwrap_or(&[]),
        hatype,
        alen as usize,
        addr,
        proto,
    )
}

/// ARPHRD_ETHER and the Linux pseudo protocol values used by cooked captures
/// (linux/if_ether.h: ETH_P_802_3 = 1, ETH_P_802_2 = 4).
fn cooked<'a>(
    rest: &'a [u8],
    hatype: u16,
    alen: usize,
    addr: &'a [u8],
    proto: u16,
) -> Result<Packet<'a>, DecodeError> {
    const ARPHRD_ETHER: u16 = 1;
    let mut pkt = Packet::default();
    if hatype == ARPHRD_ETHER && alen == 6 {
        pkt.src_mac = Mac::from_slice(addr);
    }
    match proto {
        0x0004 => llc(pkt, rest),
        0x0001 => Ok(pkt), // Novell raw 802.3 (IPX): nothing to decode.
        ty => after_type(pkt, ty, rest),
    }
}

/// BSD loopback: a 4-byte address family, host byte order (DLT_NULL) or network order
/// (DLT_LOOP). AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS.
pub fn decode_loopback(data: &[u8], network_order: bool) -> Result<Packet<'_>, DecodeError> {
    let fam = data.get(..4).ok_or(DecodeError::Loopback)?;
    let fam: [u8; 4] = fam.try_into().map_err(|_| DecodeError::Loopback)?;
    let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
    let af = if network_order {
        be
    } else if le < 256 {
        le
    } else {
        be
    };
    let rest = data.get(4..).unwrap_or(&[]);
    match af {
        2 | 10 | 24 | 28 | 30 => super::decode_raw_ip(rest),
        _ => Ok(Packet::default()),
    }
}
