//! The one byte reader every dissector reads wire structures with.
//!
//! [`Cursor`] is a forward-only view of a byte slice: every read checks bounds and returns
//! `None` when the input is too short, leaving the position unchanged, so a parser written as
//! a chain of `?` never panics on truncated input. Integers come in both byte orders (`_be`:
//! network order, as Modbus, S7comm, TLS and most IETF protocols; `_le`: EtherNet/IP and CIP,
//! DNP3, OPC UA Binary, SMB). It never allocates.

/// A forward-only, bounds-checked reader over a byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// A cursor at offset `pos` of `buf` (fields at fixed offsets); `None` past the end.
    pub fn at(buf: &'a [u8], pos: usize) -> Option<Self> {
        let mut c = Cursor::new(buf);
        c.seek(pos)?;
        Some(c)
    }

    /// Offset of the next byte to read, from the start of the buffer.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to an absolute offset; `None` (and no move) past the end.
    pub fn seek(&mut self, pos: usize) -> Option<()> {
        if pos > self.buf.len() {
            return None;
        }
        self.pos = pos;
        Some(())
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// The whole underlying buffer (for formats with absolute offsets, like DNS pointers).
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub fn u16_be(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A three-byte big-endian length (TLS handshake lengths, RFC 8446 §4).
    pub fn u24_be(&mut self) -> Option<u32> {
        self.array()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    pub fn u32_be(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub fn u16_le(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub fn u32_le(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn i32_le(&mut self) -> Option<i32> {
        self.array().map(i32::from_le_bytes)
    }

    /// An unsigned little-endian integer of `n` bytes (0 to 4: DNP3 prefixes and ranges).
    pub fn uint_le(&mut self, n: usize) -> Option<u32> {
        if n > 4 {
            return None;
        }
        let b = self.take(n)?;
        Some(
            b.iter()
                .rev()
                .fold(0u32, |acc, &x| (acc << 8) | u32::from(x)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursor_reads_and_refuses_past_end() {
        let mut c = Cursor::new(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(c.u8(), Some(1));
        assert_eq!(c.u16_be(), Some(0x0203));
        assert_eq!(c.u32_be(), None);
        assert_eq!(c.pos(), 3);
        assert_eq!(c.take(3), Some(&[4, 5, 6][..]));
        assert!(c.is_empty());
        assert_eq!(c.skip(1), None);
        assert_eq!(c.take(usize::MAX), None);
        assert_eq!(c.seek(7), None);
        assert_eq!(c.seek(1), Some(()));
        assert_eq!(c.rest(), &[2, 3, 4, 5, 6]);
    }

    #[test]
    fn reads_both_byte_orders_and_stops_at_the_end() {
        let mut c = Cursor::new(&[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(c.u16_be(), Some(0x0102));
        assert_eq!(c.u16_le(), Some(0x0403));
        assert_eq!(c.u24_be(), Some(0x05_0607));
        assert_eq!(c.u8(), None);
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.uint_le(3), Some(0x03_0201));
        assert_eq!(Cursor::new(&[1, 2]).u32_le(), None);
        assert_eq!(Cursor::new(&[0; 8]).uint_le(5), None);
    }
}
