//! pcapng blocks, per draft-ietf-opsawg-pcapng (section numbers below refer to it).
//!
//! Packets come from Enhanced Packet Blocks (§4.3), Simple Packet Blocks (§4.4) and the
//! obsolete Packet Block (Appendix A). Section Header Blocks (§4.1) set the byte order and
//! reset the interfaces; Interface Description Blocks (§4.2) give each interface its link type
//! and timestamp resolution. Every other block (name resolution, statistics, decryption
//! secrets, custom, unknown) is skipped by its length (§3.1).

use otwatch_common::Timestamp;

use super::{u32_at, Stop, MAX_BATCH_FRAMES, MAX_RECORD};
use crate::capture::FrameMeta;
use crate::decode::LinkType;

/// §4.1: Block Type of a Section Header Block; the same in both byte orders.
pub(super) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// §11.1 block type codes.
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PACKET_BLOCK: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

/// Block Type + Block Total Length, and the trailing Block Total Length (§3.1).
const BLOCK_HDR: usize = 8;
const BLOCK_OVERHEAD: usize = 12;

/// More interfaces than this in one section is taken as corruption, not memory to spend.
const MAX_INTERFACES: usize = 1 << 16;

/// §4.2 options.
const OPT_ENDOFOPT: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// §4.1 Byte-Order Magic 0x1A2B3C4D as written: `Some(true)` for big-endian sections.
pub(super) fn byte_order(bom: &[u8]) -> Option<bool> {
    match bom {
        [0x1a, 0x2b, 0x3c, 0x4d] => Some(true),
        [0x4d, 0x3c, 0x2b, 0x1a] => Some(false),
        _ => None,
    }
}

/// Reader state: the current section's byte order and interfaces.
#[derive(Default)]
pub(super) struct Pcapng {
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Timestamp of the last packet with one, given to Simple Packet Blocks (which have none).
    last_ts: Timestamp,
}

struct Interface {
    link: LinkType,
    snaplen: u32,
    scale: TsScale,
    /// if_tsoffset in nanoseconds.
    offset_ns: i64,
}

/// How timestamp units of an interface become nanoseconds.
#[derive(Clone, Copy)]
enum TsScale {
    /// Units of 10^-n s with n <= 9: multiply.
    Mul(u64),
    /// Units of 10^-n s with n > 9: divide by 10^(n-9).
    Div(u64),
    /// Units of 2^-n s.
    Pow2(u32),
    /// Units so small that no 64-bit count reaches a nanosecond.
    Zero,
}

impl TsScale {
    /// §4.2 if_tsresol: "If the Most Significant Bit is equal to zero, the remaining bits
    /// indicates the resolution of the timestamp as a negative power of 10 (...). If the Most
    /// Significant Bit is equal to one, the remaining bits indicates the resolution as
    /// negative power of 2". The default is 6 (microseconds).
    fn from_tsresol(v: u8) -> TsScale {
        let n = u32::from(v & 0x7f);
        if v & 0x80 != 0 {
            TsScale::Pow2(n)
        } else if n <= 9 {
            TsScale::Mul(10u64.pow(9 - n))
        } else {
            10u64.checked_pow(n - 9).map_or(TsScale::Zero, TsScale::Div)
        }
    }

    fn to_nanos(self, units: u64) -> u64 {
        match self {
            TsScale::Mul(m) => units.saturating_mul(m),
            TsScale::Div(d) => units / d,
            TsScale::Pow2(n) => {
                // < 2^94, so the product cannot overflow.
                let ns = (u128::from(units) * 1_000_000_000)
                    .checked_shr(n)
                    .unwrap_or(0);
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
            TsScale::Zero => 0,
        }
    }
}

impl Interface {
    fn timestamp(&self, high: u32, low: u32) -> Timestamp {
        // §4.3: the timestamp is a 64-bit count of units split in two 32-bit words, upper first.
        let units = (u64::from(high) << 32) | u64::from(low);
        Timestamp(
            self.scale
                .to_nanos(units)
                .saturating_add_signed(self.offset_ns),
        )
    }
}

impl Pcapng {
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        u32_at(self.big_endian, b, at)
    }

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let w = b
            .get(at..)
            .and_then(|r| r.first_chunk::<2>())
            .copied()
            .unwrap_or([0; 2]);
        if self.big_endian {
            u16::from_be_bytes(w)
        } else {
            u16::from_le_bytes(w)
        }
    }

    /// Parses whole blocks from `data[*pos..]`, pushing a frame per packet block.
    pub(super) fn parse(
        &mut self,
        data: &[u8],
        pos: &mut usize,
        frames: &mut Vec<FrameMeta>,
    ) -> Stop {
        let mut p = *pos;
        let stop = loop {
            if frames.len() >= MAX_BATCH_FRAMES {
                break Stop::Full;
            }
            let rest = data.get(p..).unwrap_or_default();
            // §3.1 General Block Structure: Block Type, Block Total Length, body, Block Total
            // Length again. 12 bytes cover the header and, for an SHB, its byte-order magic.
            let Some(head) = rest.first_chunk::<BLOCK_OVERHEAD>() else {
                break Stop::NeedMore {
                    need: BLOCK_OVERHEAD,
                    what: "pcapng block header",
                };
            };
            if head.starts_with(&SHB_MAGIC) {
                // §4.1: the section's byte order, needed to read the block length itself.
                match byte_order(head.get(8..).unwrap_or_default()) {
                    Some(be) => self.big_endian = be,
                    None => {
                        break Stop::Corrupt(format!(
                            "section header block with unknown byte-order magic {}",
                            super::hex(head.get(8..).unwrap_or_default())
                        ))
                    }
                }
            }
            let btype = self.u32(head, 0);
            let len = self.u32(head, 4) as usize;
            if len % 4 != 0 || len < BLOCK_OVERHEAD {
                break Stop::Corrupt(format!(
                    "block total length {len} is not a multiple of 4 of at least 12"
                ));
            }
            if len > MAX_RECORD {
                break Stop::Corrupt(format!(
                    "block total length {len} exceeds the limit of {MAX_RECORD} bytes"
                ));
            }
            let Some(block) = rest.get(..len) else {
                break Stop::NeedMore {
                    need: len,
                    what: "pcapng block",
                };
            };
            let trailer = self.u32(block, len - 4) as usize;
            if trailer != len {
                break Stop::Corrupt(format!(
                    "block trailing length {trailer} differs from its leading length {len}"
                ));
            }
            let body = block.get(BLOCK_HDR..len - 4).unwrap_or_default();
            let data_at = p + BLOCK_HDR;
            let res = match btype {
                EPB => self.packet(body, data_at, frames, false),
                SHB => self.section_header(body),
                IDB => self.interface_description(body),
                SPB => self.simple_packet(body, data_at, frames),
                PACKET_BLOCK => self.packet(body, data_at, frames, true),
                _ => Ok(()),
            };
            if let Err(detail) = res {
                break Stop::Corrupt(detail);
            }
            p += len;
        };
        *pos = p;
        stop
    }

    /// §4.1 Section Header Block: Byte-Order Magic, Major Version, Minor Version, Section
    /// Length, options. A new section forgets the interfaces of the previous one.
    fn section_header(&mut self, body: &[u8]) -> Result<(), String> {
        let Some(f) = body.first_chunk::<16>() else {
            return Err("section header block shorter than 28 bytes".into());
        };
        let (major, minor) = (self.u16(f, 4), self.u16(f, 6));
        if major != 1 {
            return Err(format!("pcapng version {major}.{minor} is not supported"));
        }
        self.interfaces.clear();
        Ok(())
    }

    /// §4.2 Interface Description Block: LinkType (16 bits), Reserved, SnapLen, options.
    fn interface_description(&mut self, body: &[u8]) -> Result<(), String> {
        let Some(f) = body.first_chunk::<8>() else {
            return Err("interface description block shorter than 20 bytes".into());
        };
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(format!(
                "more than {MAX_INTERFACES} interfaces in one section"
            ));
        }
        let mut iface = Interface {
            link: LinkType::from_linktype(u32::from(self.u16(f, 0))),
            snaplen: self.u32(f, 4),
            scale: TsScale::from_tsresol(6),
            offset_ns: 0,
        };
        // §3.5 Options: Option Code (16 bits), Option Length (16 bits), value padded to 32
        // bits; opt_endofopt ends the list.
        let mut opts = body.get(8..).unwrap_or_default();
        while let Some(h) = opts.first_chunk::<4>() {
            let code = self.u16(h, 0);
            let olen = usize::from(self.u16(h, 2));
            if code == OPT_ENDOFOPT {
                break;
            }
            let Some(value) = opts.get(4..4 + olen) else {
                return Err(format!(
                    "interface option {code} of {olen} bytes runs past the end of the block"
                ));
            };
            match (code, value) {
                (IF_TSRESOL, [v]) => iface.scale = TsScale::from_tsresol(*v),
                // if_tsoffset: signed seconds added to every timestamp of the interface.
                (IF_TSOFFSET, v) if v.len() == 8 => {
                    let b = v.first_chunk::<8>().copied().unwrap_or_default();
                    let secs = if self.big_endian {
                        i64::from_be_bytes(b)
                    } else {
                        i64::from_le_bytes(b)
                    };
                    iface.offset_ns = secs.saturating_mul(1_000_000_000);
                }
                (IF_TSRESOL | IF_TSOFFSET, _) => {
                    return Err(format!("interface option {code} has a bad length {olen}"))
                }
                _ => {}
            }
            opts = opts.get(4 + olen.next_multiple_of(4)..).unwrap_or_default();
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// §4.3 Enhanced Packet Block: Interface ID, Timestamp (high, low), Captured Packet
    /// Length, Original Packet Length, packet data, options. With `obsolete`, Appendix A's
    /// Packet Block: Interface ID (16 bits), Drops Count (16 bits), then the same.
    fn packet(
        &mut self,
        body: &[u8],
        body_at: usize,
        frames: &mut Vec<FrameMeta>,
        obsolete: bool,
    ) -> Result<(), String> {
        let Some(f) = body.first_chunk::<20>() else {
            let name = if obsolete {
                "packet"
            } else {
                "enhanced packet"
            };
            return Err(format!("{name} block shorter than 32 bytes"));
        };
        let id = match obsolete {
            true => u32::from(self.u16(f, 0)),
            false => self.u32(f, 0),
        };
        self.push_timed(id, f, body.len(), body_at, frames)
    }

    /// A packet whose 20-byte fixed part `f` (interface, timestamp high and low, captured
    /// and original length) precedes its data: EPB and Packet Block.
    fn push_timed(
        &mut self,
        id: u32,
        f: &[u8; 20],
        body_len: usize,
        body_at: usize,
        frames: &mut Vec<FrameMeta>,
    ) -> Result<(), String> {
        let (high, low) = (self.u32(f, 4), self.u32(f, 8));
        let (caplen, orig) = (self.u32(f, 12), self.u32(f, 16));
        let Some(iface) = self.interfaces.get(id as usize) else {
            return Err(format!(
                "packet names interface {id} but the section describes {}",
                self.interfaces.len()
            ));
        };
        if caplen as usize > body_len - 20 {
            return Err(format!(
                "captured length {caplen} runs past the end of the block"
            ));
        }
        let ts = iface.timestamp(high, low);
        self.last_ts = ts;
        frames.push(FrameMeta {
            ts,
            link: iface.link,
            // The buffer never exceeds MAX_RECORD plus a chunk (< 2^32).
            offset: (body_at + 20) as u32,
            caplen,
            wire_len: orig.max(caplen),
            interface: id,
            vlan: 0,
        });
        Ok(())
    }

    /// §4.4 Simple Packet Block: Original Packet Length, packet data. It belongs to interface
    /// 0 and has no timestamp: we give it the last timestamp seen (zero before any), so time
    /// never runs backwards. The captured length is the smallest of the original length, the
    /// interface snaplen (0 = unlimited) and the bytes in the block.
    fn simple_packet(
        &mut self,
        body: &[u8],
        body_at: usize,
        frames: &mut Vec<FrameMeta>,
    ) -> Result<(), String> {
        let Some(f) = body.first_chunk::<4>() else {
            return Err("simple packet block shorter than 16 bytes".into());
        };
        let Some(iface) = self.interfaces.first() else {
            return Err("simple packet block before any interface description block".into());
        };
        let orig = self.u32(f, 0);
        let room = u32::try_from(body.len() - 4).unwrap_or(u32::MAX);
        let mut caplen = orig.min(room);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        frames.push(FrameMeta {
            ts: self.last_ts,
            link: iface.link,
            offset: (body_at + 4) as u32,
            caplen,
            wire_len: orig,
            interface: 0,
            vlan: 0,
        });
        Ok(())
    }
}
