//! In-order TCP stream reassembly for one direction (RFC 9293 §3.4 sequence arithmetic).
//!
//! Segments that arrive in order go straight to the consumer without a copy; out-of-order
//! segments wait (bounded) until the hole fills, the peer acknowledges past the hole (the
//! bytes were lost to the capture), or a cap is hit. A skipped hole is reported as a gap so
//! the dissector can resynchronise.

/// `a < b` in 32-bit sequence space.
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Caps for one direction.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Out-of-order segments held.
    pub max_segments: usize,
    /// Bytes held: out-of-order segments plus bytes the dissector has not consumed yet.
    pub max_bytes: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_segments: 64,
            max_bytes: 256 << 10,
        }
    }
}

/// What a segment became.
#[derive(Debug, PartialEq, Eq)]
pub enum Deliver<'p> {
    /// Nothing to hand out (duplicate, or held out of order).
    Nothing,
    /// These in-order bytes follow the previous ones directly.
    Bytes(&'p [u8]),
}

/// One direction of a TCP stream.
#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of the next byte expected; `None` before the first data or SYN.
    next: Option<u32>,
    /// Out-of-order segments, sorted by sequence number.
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    /// Bytes the dissector has seen but not consumed (a message split across segments).
    pub pending: Vec<u8>,
    /// A hole was skipped since the consumer last looked.
    pub gap: bool,
}

impl Stream {
    /// The SYN fixes the initial sequence number; data starts one after it.
    pub fn syn(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(seq.wrapping_add(1));
        }
    }

    /// Bytes currently held (out of order plus pending).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes + self.pending.len()
    }

    /// Takes one segment. Returns the in-order part of `payload` (possibly trimmed of bytes
    /// already seen); call [`Stream::drain_ready`] afterwards for held segments that now fit.
    /// `dropped` counts bytes thrown away by caps.
    pub fn segment<'p>(
        &mut self,
        seq: u32,
        payload: &'p [u8],
        limits: &StreamLimits,
        dropped: &mut u64,
    ) -> Deliver<'p> {
        if payload.is_empty() {
            return Deliver::Nothing;
        }
        let next = *self.next.get_or_insert(seq);
        let end = seq.wrapping_add(payload.len() as u32);
        if !seq_lt(next, end) {
            return Deliver::Nothing; // entirely old: a retransmission
        }
        if seq_lt(next, seq) {
            // A hole before this segment: hold it.
            if self.held.len() >= limits.max_segments
                || self.held_bytes() + payload.len() > limits.max_bytes
            {
                // Give up on the hole: jump to the first held byte (or to this segment when
                // nothing is held); the caller drains from there. The skipped bytes count.
                let to = self.held.first().map_or(seq, |(s, _)| *s);
                *dropped += to.wrapping_sub(next) as u64;
                self.next = Some(to);
                self.gap = true;
                if to == seq {
                    self.next = Some(end);
                    return Deliver::Bytes(payload);
                }
            }
            let pos = self.held.partition_point(|(s, _)| seq_lt(*s, seq));
            if self
                .held
                .get(pos)
                .is_some_and(|(s, d)| *s == seq && d.len() >= payload.len())
            {
                return Deliver::Nothing;
            }
            self.held_bytes += payload.len();
            self.held.insert(pos, (seq, payload.to_vec()));
            return Deliver::Nothing;
        }
        let skip = next.wrapping_sub(seq) as usize;
        self.next = Some(end);
        Deliver::Bytes(payload.get(skip..).unwrap_or(&[]))
    }

    /// Pops the next held segment that is now in order (trimmed of overlap), if any.
    pub fn drain_ready(&mut self) -> Option<Vec<u8>> {
        loop {
            let next = self.next?;
            let (seq, len) = match self.held.first() {
                Some((s, d)) => (*s, d.len()),
                None => return None,
            };
            if seq_lt(next, seq) {
                return None;
            }
            let (_, mut data) = self.held.remove(0);
            self.held_bytes -= len;
            let end = seq.wrapping_add(len as u32);
            if !seq_lt(next, end) {
                continue; // wholly overlapped
            }
            let skip = next.wrapping_sub(seq) as usize;
            data.drain(..skip.min(data.len()));
            self.next = Some(end);
            return Some(data);
        }
    }

    /// The peer acknowledged `ack`: bytes before it that we never saw are lost for good.
    /// Returns true when a hole was skipped.
    pub fn acked(&mut self, ack: u32) -> bool {
        match self.next {
            Some(next) if seq_lt(next, ack) => {
                match self.held.first() {
                    Some((s, _)) if !seq_lt(ack, *s) => {
                        self.skip_hole();
                    }
                    Some(_) | None => {
                        // The hole reaches ack and nothing beyond it is held (or held starts
                        // later): jump to ack.
                        self.next = Some(ack);
                        self.gap = true;
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Jumps over the hole in front of the first held segment; false when nothing is held.
    pub fn skip_hole(&mut self) -> bool {
        match self.held.first() {
            Some((s, _)) => {
                if self.next != Some(*s) {
                    self.gap = true;
                }
                self.next = Some(*s);
                true
            }
            None => false,
        }
    }

    /// Forgets everything held; the next segment starts a fresh sequence.
    pub fn reset(&mut self) -> usize {
        let n = self.held_bytes();
        self.held.clear();
        self.held_bytes = 0;
        self.pending.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &mut Stream, seq: u32, p: &[u8], out: &mut Vec<u8>) {
        let mut dropped = 0;
        if let Deliver::Bytes(b) = s.segment(seq, p, &StreamLimits::default(), &mut dropped) {
            out.extend_from_slice(b);
        }
        while let Some(d) = s.drain_ready() {
            out.extend_from_slice(&d);
        }
    }

    #[test]
    fn reorders_and_trims_retransmissions() {
        let mut s = Stream::default();
        s.syn(u32::MAX - 2); // wraps
        let base = u32::MAX - 1;
        let mut out = Vec::new();
        collect(&mut s, base.wrapping_add(4), b"efgh", &mut out);
        collect(&mut s, base, b"abcd", &mut out);
        collect(&mut s, base.wrapping_add(2), b"cdef", &mut out); // old
        collect(&mut s, base.wrapping_add(6), b"ghij", &mut out); // overlaps 2
        assert_eq!(out, b"abcdefghij");
        assert!(!s.gap);
    }

    #[test]
    fn ack_past_a_hole_skips_it() {
        let mut s = Stream::default();
        let mut out = Vec::new();
        collect(&mut s, 100, b"abc", &mut out);
        collect(&mut s, 110, b"xyz", &mut out);
        assert_eq!(out, b"abc");
        assert!(s.acked(113));
        assert!(s.gap);
        while let Some(d) = s.drain_ready() {
            out.extend_from_slice(&d);
        }
        assert_eq!(out, b"abcxyz");
    }

    #[test]
    fn caps_bound_what_is_held() {
        let mut s = Stream::default();
        let limits = StreamLimits {
            max_segments: 4,
            max_bytes: 1024,
        };
        let mut dropped = 0;
        s.segment(0, b"a", &limits, &mut dropped);
        for i in 0..100u32 {
            s.segment(10 + i * 10, b"0123", &limits, &mut dropped);
            while s.drain_ready().is_some() {}
            assert!(s.held_bytes() <= 1024);
            assert!(s.held.len() <= 5);
        }
    }
}
