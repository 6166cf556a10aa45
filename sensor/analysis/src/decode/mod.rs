//! Zero-copy decoding of L2–L4 headers.
//!
//! [`decode`] turns one captured frame into a [`Packet`]: borrowed views of the addresses,
//! ports and payloads that the flow layer needs, with nothing copied. Each header has its own
//! file with the standard's section next to the field offsets. Malformed headers come back as
//! a [`DecodeError`] naming the header kind, which the pipeline counts per kind; decoding never
//! panics on any input.
//!
//! Tunnels that mirror setups produce (GRE, ERSPAN, VXLAN, IP-in-IP, MPLS) are opened: the outer
//! IP packet is reported, and [`Packet::inner`] holds the encapsulated frame for a second pass.

pub mod arp;
pub mod defrag;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod link;
pub mod tunnel;

use otwatch_common::Mac;
use std::net::IpAddr;

pub use arp::ArpRepr;
pub use l4::{TcpFlags, L4};
pub use link::LinkType;

/// The network a packet was seen on: its capture segment and its 802.1Q VLAN. Addresses are
/// only compared within one `Lan`: the same IP (or 5-tuple) on two VLANs, or on two capture
/// segments, belongs to two hosts (or flows), as when cells that reuse one private range are
/// mirrored to one sensor.
///
/// `segment` is 0 unless the operator assigns capture interfaces to segments
/// (`capture.segments`): by default every interface mirrors one network, because a tap delivers
/// each direction of a link on its own interface and keying on the interface would split every
/// flow in two. `vlan` is 0 when untagged (and for 802.1p priority tags, whose VLAN id is 0).
/// Both fit in 12 bits (segments are 1-4095, like VLAN ids), so keys that hash whole words stay
/// one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lan {
    pub segment: u16,
    pub vlan: u16,
}

impl Lan {
    /// Untagged traffic of the default segment.
    pub const NONE: Lan = Lan {
        segment: 0,
        vlan: 0,
    };

    /// VLAN `vlan` of the default segment.
    pub const fn vlan(vlan: u16) -> Lan {
        Lan { segment: 0, vlan }
    }

    /// The 24 bits of a hashed key word that hold the LAN.
    pub fn bits(self) -> u64 {
        u64::from(self.segment & 0xfff) << 12 | u64::from(self.vlan & 0xfff)
    }

    /// True for untagged traffic of the default segment: everything of a capture without VLANs
    /// or segments, written exactly as before either existed.
    pub fn is_none(self) -> bool {
        self == Lan::NONE
    }
}

/// Written as an address's zone: empty for [`Lan::NONE`], else `seg<n>`, `vlan<id>` or
/// `seg<n>.vlan<id>`.
impl std::fmt::Display for Lan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.segment, self.vlan) {
            (0, 0) => Ok(()),
            (0, v) => write!(f, "vlan{v}"),
            (s, 0) => write!(f, "seg{s}"),
            (s, v) => write!(f, "seg{s}.vlan{v}"),
        }
    }
}

impl std::str::FromStr for Lan {
    type Err = String;

    /// Reads what [`Display`](std::fmt::Display) writes.
    fn from_str(s: &str) -> Result<Lan, String> {
        let num = |t: &str| -> Result<u16, String> {
            t.parse::<u16>()
                .ok()
                .filter(|n| (1..=4095).contains(n))
                .ok_or_else(|| format!("bad segment or VLAN number in {s:?}"))
        };
        let (seg, vlan) = match s.split_once('.') {
            Some((a, b)) => (Some(a), Some(b)),
            None if s.starts_with("seg") => (Some(s), None),
            None => (None, Some(s)),
        };
        let segment = match seg {
            Some(t) => num(t
                .strip_prefix("seg")
                .ok_or_else(|| format!("bad zone {s:?}"))?)?,
            None => 0,
        };
        let vlan = match vlan {
            Some("") => return Err(format!("bad zone {s:?}")),
            Some(t) => num(t
                .strip_prefix("vlan")
                .ok_or_else(|| format!("bad zone {s:?}"))?)?,
            None => 0,
        };
        Ok(Lan { segment, vlan })
    }
}

/// A decoded frame. Every slice borrows the capture buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Packet<'a> {
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// Outermost 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    pub net: Net<'a>,
    /// An encapsulated frame (GRE, ERSPAN, VXLAN, IP-in-IP) to decode after this one.
    pub inner: Option<Inner<'a>>,
}

/// What the frame carries above the link layer.
#[derive(Debug, Clone, Copy, Default)]
pub enum Net<'a> {
    Ip(IpPacket<'a>),
    Arp(ArpRepr),
    /// An Ethernet II payload with an ethertype the sensor does not decode itself (LLDP 0x88cc,
    /// PROFINET 0x8892, ...): for frame dissectors.
    Ether {
        ethertype: u16,
        payload: &'a [u8],
    },
    /// An IEEE 802.3 frame with an LLC header; `snap` holds (OUI, protocol id) for SNAP.
    Llc {
        dsap: u8,
        ssap: u8,
        snap: Option<(u32, u16)>,
        payload: &'a [u8],
    },
    /// Nothing decodable above the link (unknown link type, loopback family, ...).
    #[default]
    None,
}

/// An IPv4 or IPv6 packet.
#[derive(Debug, Clone, Copy)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the transport (after IPv6 extension headers).
    pub proto: u8,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Set when this packet is a fragment; the transport is then only decoded once reassembled.
    pub fragment: Option<defrag::FragmentInfo>,
    /// The transport payload of the IP packet (the fragment's bytes for a fragment).
    pub payload: &'a [u8],
    pub l4: L4<'a>,
}

/// A frame found inside another, with its own link type.
#[derive(Debug, Clone, Copy)]
pub struct Inner<'a> {
    pub link: LinkType,
    pub data: &'a [u8],
}

/// Which header was malformed. Used as the per-kind decode error counter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecodeError {
    Ethernet,
    Vlan,
    LinuxSll,
    Loopback,
    Llc,
    Arp,
    Ipv4Header,
    Ipv6Header,
    Ipv6ExtHeader,
    Tcp,
    Udp,
    Icmp,
    Tunnel,
    /// The capture's link type is not one the sensor decodes.
    UnsupportedLinkType,
}

impl DecodeError {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeError::Ethernet => "ethernet",
            DecodeError::Vlan => "vlan",
            DecodeError::LinuxSll => "linux_sll",
            DecodeError::Loopback => "loopback",
            DecodeError::Llc => "llc",
            DecodeError::Arp => "arp",
            DecodeError::Ipv4Header => "ipv4_header",
            DecodeError::Ipv6Header => "ipv6_header",
            DecodeError::Ipv6ExtHeader => "ipv6_ext_header",
            DecodeError::Tcp => "tcp_header",
            DecodeError::Udp => "udp_header",
            DecodeError::Icmp => "icmp_header",
            DecodeError::Tunnel => "tunnel",
            DecodeError::UnsupportedLinkType => "unsupported_link_type",
        }
    }

    pub const ALL: [DecodeError; 14] = [
        DecodeError::Ethernet,
        DecodeError::Vlan,
        DecodeError::LinuxSll,
        DecodeError::Loopback,
        DecodeError::Llc,
        DecodeError::Arp,
        DecodeError::Ipv4Header,
        DecodeError::Ipv6Header,
        DecodeError::Ipv6ExtHeader,
        DecodeError::Tcp,
        DecodeError::Udp,
        DecodeError::Icmp,
        DecodeError::Tunnel,
        DecodeError::UnsupportedLinkType,
    ];
}

/// Ethertypes the decoder follows (IEEE registry).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const LLDP: u16 = 0x88cc;
    pub const PROFINET: u16 = 0x8892;
    pub const ERSPAN_II: u16 = 0x88be;
    pub const ERSPAN_III: u16 = 0x22eb;
    pub const TEB: u16 = 0x6558;
}

/// Decodes one frame of link type `link`.
pub fn decode(link: LinkType, data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    match link {
        LinkType::Ethernet => ethernet::decode_ethernet(data),
        LinkType::LinuxSll => ethernet::decode_sll(data),
        LinkType::LinuxSll2 => ethernet::decode_sll2(data),
        LinkType::Null | LinkType::Loop => ethernet::decode_loopback(data, link == LinkType::Loop),
        LinkType::Raw => decode_raw_ip(data),
        LinkType::Ipv4 => ipv4_packet(data),
        LinkType::Ipv6 => ipv6_packet(data),
        LinkType::Other(_) => Err(DecodeError::UnsupportedLinkType),
    }
}

/// A frame that starts with an IP header of either version.
pub fn decode_raw_ip(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => ipv4_packet(data),
        Some(6) => ipv6_packet(data),
        _ => Err(DecodeError::Ipv4Header),
    }
}

fn ipv4_packet(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let (ip, inner) = ipv4::decode(data)?;
    Ok(Packet {
        net: Net::Ip(ip),
        inner,
        ..Packet::default()
    })
}

fn ipv6_packet(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let (ip, inner) = ipv6::decode(data)?;
    Ok(Packet {
        net: Net::Ip(ip),
        inner,
        ..Packet::default()
    })
}

/// Decodes the network layer after the link header, given the ethertype.
pub(crate) fn decode_ethertype<'a>(
    mut pkt: Packet<'a>,
    ethertype: u16,
    payload: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    match ethertype {
        ethertype::IPV4 => {
            let (ip, inner) = ipv4::decode(payload)?;
            pkt.net = Net::Ip(ip);
            pkt.inner = inner;
        }
        ethertype::IPV6 => {
            let (ip, inner) = ipv6::decode(payload)?;
            pkt.net = Net::Ip(ip);
            pkt.inner = inner;
        }
        ethertype::ARP => pkt.net = Net::Arp(arp::decode(payload)?),
        ethertype::MPLS | ethertype::MPLS_MC => {
            let inner = tunnel::mpls(payload)?;
            return decode_raw_ip(inner).map(|ip| Packet {
                net: ip.net,
                inner: ip.inner,
                ..pkt
            });
        }
        ethertype::ERSPAN_II | ethertype::ERSPAN_III | ethertype::TEB => {
            // A bare ERSPAN/TEB ethertype outside GRE is unusual; treat its body as Ethernet.
            pkt.inner = Some(Inner {
                link: LinkType::Ethernet,
                data: payload,
            });
        }
        other => {
            pkt.net = Net::Ether {
                ethertype: other,
                payload,
            }
        }
    }
    Ok(pkt)
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests;
