//! IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), bounded in entries, bytes and time.
//!
//! Overlapping fragments are resolved "first wins" (the bytes already held are kept), and a
//! datagram is released only when every byte from 0 to the end marked by the last fragment
//! is present. Everything dropped by a cap or a timeout is counted.

use crate::hash::Map;
use otwatch_common::Timestamp;
use std::net::IpAddr;

/// Where a fragment sits in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// Byte offset of this fragment's data in the datagram's payload.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
}

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy)]
pub struct DefragLimits {
    /// Datagrams being reassembled at once.
    pub max_pending: usize,
    /// Bytes held across all pending datagrams.
    pub max_bytes: usize,
    /// A datagram not complete this long after its first fragment is dropped.
    pub timeout_ns: u64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_pending: 4096,
            max_bytes: 16 << 20,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Counters of what the reassembler did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub reassembled: u64,
    /// Datagrams given up: timed out, evicted by a cap, or inconsistent.
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Sorted, non-overlapping byte ranges held.
    have: Vec<(u32, u32)>,
    /// Payload length, known once the last fragment (more = false) arrived.
    total: Option<u32>,
    first: Timestamp,
    frames: u32,
    wire_bytes: u32,
}

/// A whole datagram rebuilt from its fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// The transport payload.
    pub data: Vec<u8>,
    /// How many frames carried it, and their wire bytes together.
    pub frames: u32,
    pub wire_bytes: u32,
}

/// Largest reassembled payload (IPv4 total length limit; jumbograms are not fragmented).
const MAX_DATAGRAM: u32 = 65_535;
/// A datagram cut into more pieces than this is treated as an attack and dropped.
const MAX_PIECES: usize = 128;

#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: DefragLimits,
    pending: Map<Key, Pending>,
    bytes: usize,
    pub stats: DefragStats,
}

impl Defragmenter {
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            ..Default::default()
        }
    }

    /// Adds one fragment (carried by a frame of `wire_len` bytes); returns the whole datagram
    /// once complete.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        frag: FragmentInfo,
        data: &[u8],
    ) -> Option<Reassembled> {
        let key = Key {
            src,
            dst,
            proto,
            id: frag.id,
        };
        let start = frag.offset;
        let end = start.saturating_add(data.len() as u32);
        if end > MAX_DATAGRAM || (frag.more && data.is_empty()) {
            self.drop_key(&key);
            self.stats.dropped += 1;
            return None;
        }
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.limits.max_pending {
                self.evict_oldest();
            }
            self.pending.insert(
                key,
                Pending {
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    first: ts,
                    frames: 0,
                    wire_bytes: 0,
                },
            );
        }
        let grow = {
            let p = self.pending.get(&key)?;
            (end as usize).saturating_sub(p.data.len())
        };
        while self.bytes + grow > self.limits.max_bytes && self.pending.len() > 1 {
            if !self.evict_oldest_except(&key) {
                break;
            }
        }
        if self.bytes + grow > self.limits.max_bytes {
            self.drop_key(&key);
            self.stats.dropped += 1;
            return None;
        }
        let p = self.pending.get_mut(&key)?;
        if p.data.len() < end as usize {
            p.data.resize(end as usize, 0);
        }
        p.frames = p.frames.saturating_add(1);
        p.wire_bytes = p.wire_bytes.saturating_add(wire_len);
        self.bytes += grow;
        if !frag.more {
            if p.total.is_some_and(|t| t != end) {
                self.drop_key(&key);
                self.stats.dropped += 1;
                return None;
            }
            p.total = Some(end);
        }
        // Copy only the parts not already held (first wins).
        let mut cursor = start;
        let mut gaps: Vec<(u32, u32)> = Vec::new();
        for &(a, b) in &p.have {
            if b <= cursor || a >= end {
                continue;
            }
            if a > cursor {
                gaps.push((cursor, a));
            }
            cursor = cursor.max(b);
        }
        if cursor < end {
            gaps.push((cursor, end));
        }
        for (a, b) in gaps {
            let src_range = (a - start) as usize..(b - start) as usize;
            if let (Some(dst), Some(srcb)) =
                (p.data.get_mut(a as usize..b as usize), data.get(src_range))
            {
                dst.copy_from_slice(srcb);
            }
        }
        insert_range(&mut p.have, start, end);
        if p.have.len() > MAX_PIECES {
            self.drop_key(&key);
            self.stats.dropped += 1;
            return None;
        }
        let complete = match p.total {
            Some(t) => p.have.first() == Some(&(0, t)),
            None => false,
        };
        if complete {
            let p = self.pending.remove(&key)?;
            self.bytes = self.bytes.saturating_sub(p.data.len());
            self.stats.reassembled += 1;
            let mut data = p.data;
            data.truncate(p.total.unwrap_or(0) as usize);
            return Some(Reassembled {
                data,
                frames: p.frames,
                wire_bytes: p.wire_bytes,
            });
        }
        None
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_ns;
        let before = self.pending.len();
        let mut freed = 0usize;
        self.pending.retain(|_, p| {
            let keep = now.0.saturating_sub(p.first.0) < timeout;
            if !keep {
                freed += p.data.len();
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        self.stats.dropped += (before - self.pending.len()) as u64;
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn drop_key(&mut self, key: &Key) {
        if let Some(p) = self.pending.remove(key) {
            self.bytes = self.bytes.saturating_sub(p.data.len());
        }
    }

    fn evict_oldest(&mut self) {
        if let Some(k) = self.oldest(None) {
            self.drop_key(&k);
            self.stats.dropped += 1;
        }
    }

    fn evict_oldest_except(&mut self, keep: &Key) -> bool {
        match self.oldest(Some(keep)) {
            Some(k) => {
                self.drop_key(&k);
                self.stats.dropped += 1;
                true
            }
            None => false,
        }
    }

    fn oldest(&self, except: Option<&Key>) -> Option<Key> {
        self.pending
            .iter()
            .filter(|(k, _)| Some(*k) != except)
            .min_by_key(|(k, p)| (p.first, **k))
            .map(|(k, _)| *k)
    }
}

/// Inserts [a, b) into sorted disjoint ranges, merging neighbours.
fn insert_range(have: &mut Vec<(u32, u32)>, a: u32, b: u32) {
    if a >= b {
        return;
    }
    let mut merged = (a, b);
    have.retain(|&(x, y)| {
        if y < merged.0 || x > merged.1 {
            true
        } else {
            merged = (merged.0.min(x), merged.1.max(y));
            false
        }
    });
    let pos = have.partition_point(|&(x, _)| x < merged.0);
    have.insert(pos, merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn frag(d: &mut Defragmenter, off: u32, more: bool, data: &[u8]) -> Option<Reassembled> {
        d.push(
            Timestamp(off as u64),
            100,
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            17,
            FragmentInfo {
                id: 7,
                offset: off,
                more,
            },
            data,
        )
    }

    #[test]
    fn reassembles_out_of_order_and_overlapping() {
        let mut d = Defragmenter::new(DefragLimits::default());
        assert_eq!(frag(&mut d, 16, false, b"CCCC"), None);
        assert_eq!(frag(&mut d, 0, true, b"AAAAAAAA"), None);
        // Overlap: first wins for bytes 4..8.
        let out = frag(&mut d, 4, true, b"xxxxBBBBBBBB").unwrap();
        assert_eq!(&out.data, b"AAAAAAAABBBBBBBBCCCC");
        assert_eq!((out.frames, out.wire_bytes), (3, 300));
        assert_eq!(d.stats.reassembled, 1);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn caps_and_timeouts_are_counted() {
        let mut d = Defragmenter::new(DefragLimits {
            max_pending: 2,
            max_bytes: 64,
            timeout_ns: 10,
        });
        for id in 0..5u32 {
            d.push(
                Timestamp(id as u64),
                100,
                ip("10.0.0.1"),
                ip("10.0.0.2"),
                17,
                FragmentInfo {
                    id,
                    offset: 0,
                    more: true,
                },
                &[0u8; 8],
            );
        }
        assert_eq!(d.pending(), 2);
        assert_eq!(d.stats.dropped, 3);
        // Too large for the byte cap.
        assert!(frag(&mut d, 0, true, &[0u8; 100]).is_none());
        d.expire(Timestamp(1_000));
        assert_eq!(d.pending(), 0);
        assert!(d.stats.dropped >= 5);
    }

    #[test]
    fn rejects_beyond_max_datagram() {
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(frag(&mut d, 65_530, false, &[0u8; 16]).is_none());
        assert_eq!(d.stats.dropped, 1);
    }
}
