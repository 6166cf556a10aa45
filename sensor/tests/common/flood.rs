//! Writes hostile captures for the flood tests and the flood benchmark: one packet each of
//! many flows from random sources, or a spoofed SYN flood on one controller. Deterministic
//! (a fixed-seed generator), so the same call writes the same bytes.

use std::io::{self, BufWriter, Write};
use std::path::Path;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    /// One packet per flow, half TCP SYN and half UDP, from random 10/8 sources to random
    /// 10/8 destinations and ports.
    Flows,
    /// TCP SYNs from random (spoofed) 10/8 sources and ports to 10.0.0.10:502.
    Syn,
}

/// splitmix64: small, fast and good enough to scatter addresses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes `packets` packets of `kind` to `path` as a classic pcap (Ethernet), 10 µs apart.
pub fn write(path: &Path, kind: Flood, packets: u64) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    // pcap global header: magic, v2.4, zone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET.
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let mut rng = Rng(0x006f_7477_6174_6368);
    let mut frame = Vec::with_capacity(64);
    let start_us: u64 = 1_700_000_000_000_000;
    for i in 0..packets {
        let r = rng.next();
        let src = [10, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8 | 1];
        let sport = 1024 + (r >> 32) as u16 % 60000;
        let (dst, dport, tcp) = match kind {
            Flood::Syn => ([10, 0, 0, 10], 502, true),
            Flood::Flows => {
                let d = rng.next();
                (
                    [10, (d >> 8) as u8, (d >> 16) as u8, (d >> 24) as u8 | 1],
                    1 + (d >> 32) as u16 % 65000,
                    i % 2 == 0,
                )
            }
        };
        frame.clear();
        // Ethernet: to the target's router, from the attacker's NIC.
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x66, 0x08, 0x00]);
        let l4_len = if tcp { 20 } else { 8 + 4 };
        let total = 20 + l4_len;
        let ip_start = frame.len();
        frame.extend_from_slice(&[0x45, 0]);
        frame.extend_from_slice(&(total as u16).to_be_bytes());
        frame.extend_from_slice(&(i as u16).to_be_bytes());
        frame.extend_from_slice(&[0x40, 0, 64, if tcp { 6 } else { 17 }, 0, 0]);
        frame.extend_from_slice(&src);
        frame.extend_from_slice(&dst);
        let c = ip_checksum(&frame[ip_start..ip_start + 20]);
        frame[ip_start + 10..ip_start + 12].copy_from_slice(&c.to_be_bytes());
        frame.extend_from_slice(&sport.to_be_bytes());
        frame.extend_from_slice(&dport.to_be_bytes());
        if tcp {
            frame.extend_from_slice(&(r as u32).to_be_bytes()); // seq
            frame.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]);
        } else {
            frame.extend_from_slice(&(l4_len as u16).to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0xde, 0xad, 0xbe, 0xef]);
        }
        let ts = start_us + i * 10;
        w.write_all(&((ts / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((ts % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&(frame.len() as u32).to_le_bytes())?;
        w.write_all(&(frame.len() as u32).to_le_bytes())?;
        w.write_all(&frame)?;
    }
    w.flush()
}
