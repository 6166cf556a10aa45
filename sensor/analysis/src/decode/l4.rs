//! Transport headers: TCP (RFC 9293 §3.1), UDP (RFC 768), ICMP (RFC 792) and ICMPv6
//! (RFC 4443 §2.1). Tunnels carried by IP or UDP are handed to [`super::tunnel`].

use super::{be16, be32, tunnel, DecodeError, Inner};
use crate::decode::LinkType;

pub mod proto {
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}

/// TCP flag bits (RFC 9293 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// The transport of an IP packet.
#[derive(Debug, Clone, Copy, Default)]
pub enum L4<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    Icmp {
        v6: bool,
        ty: u8,
        code: u8,
    },
    /// A fragment: the transport is decoded after reassembly.
    Fragment,
    /// Another IP protocol (see [`super::IpPacket::proto`]).
    #[default]
    Other,
}

/// Decodes the transport header of IP protocol `proto`.
pub fn decode(proto: u8, b: &[u8]) -> Result<(L4<'_>, Option<Inner<'_>>), DecodeError> {
    match proto {
        proto::TCP => Ok((tcp(b)?, None)),
        proto::UDP => {
            let l4 = udp(b)?;
            let inner = match l4 {
                L4::Udp {
                    dst_port: tunnel::VXLAN_PORT,
                    payload,
                    ..
                } => tunnel::vxlan(payload),
                _ => None,
            };
            Ok((l4, inner))
        }
        proto::ICMP | proto::ICMPV6 => {
            let ty = *b.first().ok_or(DecodeError::Icmp)?;
            let code = *b.get(1).ok_or(DecodeError::Icmp)?;
            Ok((
                L4::Icmp {
                    v6: proto == proto::ICMPV6,
                    ty,
                    code,
                },
                None,
            ))
        }
        proto::GRE => Ok((L4::Other, Some(tunnel::gre(b)?))),
        proto::IPIP | proto::IPV6 => Ok((
            L4::Other,
            Some(Inner {
                link: LinkType::Raw,
                data: b,
            }),
        )),
        _ => Ok((L4::Other, None)),
    }
}

fn tcp(b: &[u8]) -> Result<L4<'_>, DecodeError> {
    let off = (*b.get(12).ok_or(DecodeError::Tcp)? >> 4) as usize * 4;
    if off < 20 || off > b.len() {
        return Err(DecodeError::Tcp);
    }
    Ok(L4::Tcp {
        src_port: be16(b, 0).ok_or(DecodeError::Tcp)?,
        dst_port: be16(b, 2).ok_or(DecodeError::Tcp)?,
        seq: be32(b, 4).ok_or(DecodeError::Tcp)?,
        ack: be32(b, 8).ok_or(DecodeError::Tcp)?,
        flags: TcpFlags(*b.get(13).ok_or(DecodeError::Tcp)?),
        payload: b.get(off..).unwrap_or(&[]),
    })
}

fn udp(b: &[u8]) -> Result<L4<'_>, DecodeError> {
    let len = be16(b, 4).ok_or(DecodeError::Udp)? as usize;
    // A length of 0 happens with UDP jumbograms (RFC 2675); beyond the capture means the
    // frame was sliced: use what is there.
    if (len < 8 && len != 0) || b.len() < 8 {
        return Err(DecodeError::Udp);
    }
    let end = if len == 0 { b.len() } else { len.min(b.len()) };
    Ok(L4::Udp {
        src_port: be16(b, 0).ok_or(DecodeError::Udp)?,
        dst_port: be16(b, 2).ok_or(DecodeError::Udp)?,
        payload: b.get(8..end).unwrap_or(&[]),
    })
}
