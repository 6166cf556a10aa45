//! A small reader for ASN.1 BER/DER encodings (ITU-T X.690), shared by the dissectors that
//! carry ASN.1: SNMP messages, X.509 certificates in TLS, and later LDAP and MMS.
//!
//! It reads one TLV (tag, length, value) at a time from a borrowed buffer and never copies,
//! allocates or panics. Nesting is left to the caller: a constructed value is read with a new
//! [`Reader`] over its content, so there is no recursion and no depth to bound. Every length
//! is checked against the bytes that are actually present before it is used.
//!
//! Limits, on purpose:
//! - Definite lengths only (X.690 §8.1.3.3–8.1.3.5). The indefinite form (§8.1.3.6) is
//!   refused with [`Error::IndefiniteLength`]; SNMP (RFC 3417 §8), LDAP (RFC 4511 §5.1) and DER
//!   forbid it anyway.
//! - Tag numbers up to 2^28 - 1 (four high-tag-number octets) and lengths up to 2^32 - 1
//!   (four length octets); longer encodings are refused.
//! - INTEGER values up to 64 bits, OBJECT IDENTIFIER arcs up to 64 bits.

use super::text::{self, MAX_TEXT_CHARS};
use std::fmt;

/// The class bits of an identifier octet (X.690 §8.1.2.2, table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Universal,
    Application,
    ContextSpecific,
    Private,
}

/// A decoded identifier: class, primitive/constructed, tag number (X.690 §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    pub class: Class,
    pub constructed: bool,
    pub number: u32,
}

impl Tag {
    pub const BOOLEAN: Tag = Tag::universal(1, false);
    pub const INTEGER: Tag = Tag::universal(2, false);
    pub const BIT_STRING: Tag = Tag::universal(3, false);
    pub const OCTET_STRING: Tag = Tag::universal(4, false);
    pub const NULL: Tag = Tag::universal(5, false);
    pub const OBJECT_IDENTIFIER: Tag = Tag::universal(6, false);
    pub const UTF8_STRING: Tag = Tag::universal(12, false);
    pub const SEQUENCE: Tag = Tag::universal(16, true);
    pub const SET: Tag = Tag::universal(17, true);
    pub const PRINTABLE_STRING: Tag = Tag::universal(19, false);
    pub const TELETEX_STRING: Tag = Tag::universal(20, false);
    pub const IA5_STRING: Tag = Tag::universal(22, false);
    pub const UTC_TIME: Tag = Tag::universal(23, false);
    pub const GENERALIZED_TIME: Tag = Tag::universal(24, false);
    pub const VISIBLE_STRING: Tag = Tag::universal(26, false);
    pub const UNIVERSAL_STRING: Tag = Tag::universal(28, false);
    pub const BMP_STRING: Tag = Tag::universal(30, false);

    pub const fn universal(number: u32, constructed: bool) -> Tag {
        Tag {
            class: Class::Universal,
            constructed,
            number,
        }
    }

    pub const fn application(number: u32, constructed: bool) -> Tag {
        Tag {
            class: Class::Application,
            constructed,
            number,
        }
    }

    pub const fn context(number: u32, constructed: bool) -> Tag {
        Tag {
            class: Class::ContextSpecific,
            constructed,
            number,
        }
    }
}

/// X.680 §8 notation: `[UNIVERSAL 16] constructed`, `[APPLICATION 0]`, `[3] constructed`.
impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.number;
        match self.class {
            Class::Universal => write!(f, "[UNIVERSAL {n}]"),
            Class::Application => write!(f, "[APPLICATION {n}]"),
            Class::ContextSpecific => write!(f, "[{n}]"),
            Class::Private => write!(f, "[PRIVATE {n}]"),
        }?;
        if self.constructed {
            f.write_str(" constructed")?;
        }
        Ok(())
    }
}

/// Why a BER encoding could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("BER data ends inside a TLV")]
    Truncated,
    #[error("BER tag number is too large")]
    TagTooLarge,
    #[error("BER indefinite length is not supported")]
    IndefiniteLength,
    #[error("BER length is too large or not minimally encoded")]
    BadLength,
    #[error("unexpected BER tag {found} (wanted {expected})")]
    UnexpectedTag { expected: Tag, found: Tag },
    #[error("BER INTEGER is empty or wider than 64 bits")]
    BadInteger,
    #[error("malformed BER OBJECT IDENTIFIER")]
    BadOid,
}

/// One TLV: its tag, the bytes of its value, and how many bytes the whole TLV took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
    /// Identifier + length + value octets.
    pub encoded_len: usize,
}

impl<'a> Tlv<'a> {
    /// A reader over the content of a constructed value.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }

    /// The value as a signed INTEGER (X.690 §8.3).
    pub fn integer(&self) -> Result<i64, Error> {
        integer(self.value)
    }

    /// The value as an OBJECT IDENTIFIER (X.690 §8.19).
    pub fn oid(&self) -> Result<Oid<'a>, Error> {
        Oid::new(self.value)
    }
}

/// Reads the identifier and length octets at the start of `data`.
///
/// Returns the tag, the number of header octets and the content length. The content is not
/// required to be present; [`Reader::read`] checks that.
pub fn parse_header(data: &[u8]) -> Result<(Tag, usize, usize), Error> {
    // X.690 §8.1.2: identifier octets.
    let first = *data.first().ok_or(Error::Truncated)?;
    let class = match first >> 6 {
        0 => Class::Universal,
        1 => Class::Application,
        2 => Class::ContextSpecific,
        _ => Class::Private,
    };
    let constructed = first & 0x20 != 0;
    let mut pos = 1;
    let number = if first & 0x1f != 0x1f {
        u32::from(first & 0x1f)
    } else {
        // §8.1.2.4: high-tag-number form, base 128, bit 8 set on all but the last octet.
        let mut n: u32 = 0;
        loop {
            let b = *data.get(pos).ok_or(Error::Truncated)?;
            pos += 1;
            if pos > 5 || (n == 0 && b == 0x80) {
                return Err(Error::TagTooLarge);
            }
            n = (n << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        n
    };
    // §8.1.3: length octets.
    let l0 = *data.get(pos).ok_or(Error::Truncated)?;
    pos += 1;
    let len = if l0 & 0x80 == 0 {
        usize::from(l0)
    } else if l0 == 0x80 {
        return Err(Error::IndefiniteLength);
    } else {
        let count = usize::from(l0 & 0x7f);
        if count > 4 {
            return Err(Error::BadLength);
        }
        let octets = data.get(pos..pos + count).ok_or(Error::Truncated)?;
        pos += count;
        let mut n: usize = 0;
        for &b in octets {
            n = (n << 8) | usize::from(b);
        }
        n
    };
    Ok((
        Tag {
            class,
            constructed,
            number,
        },
        pos,
        len,
    ))
}

/// A cursor over a sequence of TLVs (the content of a SEQUENCE, or a whole message).
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The tag of the next TLV without consuming it.
    pub fn peek_tag(&self) -> Option<Tag> {
        parse_header(self.rest).ok().map(|(tag, _, _)| tag)
    }

    /// Reads the next TLV. On error the reader is left unchanged.
    pub fn read(&mut self) -> Result<Tlv<'a>, Error> {
        let (tag, header, len) = parse_header(self.rest)?;
        let end = header.checked_add(len).ok_or(Error::BadLength)?;
        let value = self.rest.get(header..end).ok_or(Error::Truncated)?;
        self.rest = self.rest.get(end..).unwrap_or_default();
        Ok(Tlv {
            tag,
            value,
            encoded_len: end,
        })
    }

    /// Reads the next TLV and checks its tag; returns its value.
    pub fn read_expect(&mut self, expected: Tag) -> Result<&'a [u8], Error> {
        let mut probe = *self;
        let tlv = probe.read()?;
        if tlv.tag != expected {
            return Err(Error::UnexpectedTag {
                expected,
                found: tlv.tag,
            });
        }
        *self = probe;
        Ok(tlv.value)
    }

    /// Reads the next TLV if it has tag `tag`.
    pub fn read_optional(&mut self, tag: Tag) -> Result<Option<&'a [u8]>, Error> {
        if self.peek_tag() == Some(tag) {
            self.read_expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a SEQUENCE and returns a reader over its content.
    pub fn read_sequence(&mut self) -> Result<Reader<'a>, Error> {
        self.read_expect(Tag::SEQUENCE).map(Reader::new)
    }

    /// Reads an INTEGER.
    pub fn read_integer(&mut self) -> Result<i64, Error> {
        integer(self.read_expect(Tag::INTEGER)?)
    }

    /// Reads an OCTET STRING.
    pub fn read_octet_string(&mut self) -> Result<&'a [u8], Error> {
        self.read_expect(Tag::OCTET_STRING)
    }

    /// Reads an OBJECT IDENTIFIER.
    pub fn read_oid(&mut self) -> Result<Oid<'a>, Error> {
        Oid::new(self.read_expect(Tag::OBJECT_IDENTIFIER)?)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, Error>;

    /// Yields TLVs until the input ends; after an error it yields nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.read();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// Decodes a two's-complement INTEGER content of 1 to 8 octets (X.690 §8.3).
pub fn integer(value: &[u8]) -> Result<i64, Error> {
    if value.is_empty() || value.len() > 8 {
        // A non-negative 64-bit value may need a ninth, zero, octet.
        if value.len() == 9 && value.first() == Some(&0) {
            let mut n: u64 = 0;
            for &b in value.get(1..).unwrap_or_default() {
                n = (n << 8) | u64::from(b);
            }
            return i64::try_from(n).map_err(|_| Error::BadInteger);
        }
        return Err(Error::BadInteger);
    }
    let negative = value.first().is_some_and(|b| b & 0x80 != 0);
    let mut n: i64 = if negative { -1 } else { 0 };
    for &b in value {
        n = (n << 8) | i64::from(b);
    }
    Ok(n)
}

/// A validated OBJECT IDENTIFIER, borrowed in its encoded form (X.690 §8.19).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Oid<'a>(&'a [u8]);

impl<'a> Oid<'a> {
    /// Checks the encoding: non-empty, each subidentifier minimally encoded (§8.19.2), ending
    /// on a final octet, and fitting in 64 bits.
    pub fn new(value: &'a [u8]) -> Result<Oid<'a>, Error> {
        if value.is_empty() || value.last().is_some_and(|b| b & 0x80 != 0) {
            return Err(Error::BadOid);
        }
        let mut start = true;
        let mut octets = 0;
        for &b in value {
            if start && b == 0x80 {
                return Err(Error::BadOid);
            }
            octets += 1;
            // 9 octets of 7 bits hold 63 bits; a tenth could overflow u64.
            if octets > 9 {
                return Err(Error::BadOid);
            }
            start = b & 0x80 == 0;
            if start {
                octets = 0;
            }
        }
        Ok(Oid(value))
    }

    /// The encoded content octets.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The arcs, with the first subidentifier split into its two arcs (§8.19.4).
    pub fn arcs(&self) -> Arcs<'a> {
        Arcs {
            rest: self.0,
            pending: None,
            first: true,
        }
    }

    /// Whether the OID is exactly `arcs`.
    pub fn is(&self, arcs: &[u64]) -> bool {
        self.arcs().eq(arcs.iter().copied())
    }

    /// Whether the OID begins with `prefix`.
    pub fn starts_with(&self, prefix: &[u64]) -> bool {
        let mut mine = self.arcs();
        prefix.iter().all(|&p| mine.next() == Some(p))
    }

    /// The arc at `index` (0-based).
    pub fn arc(&self, index: usize) -> Option<u64> {
        self.arcs().nth(index)
    }
}

impl fmt::Display for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.arcs().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// Iterator over the arcs of an [`Oid`].
#[derive(Debug, Clone)]
pub struct Arcs<'a> {
    rest: &'a [u8],
    pending: Option<u64>,
    first: bool,
}

impl Iterator for Arcs<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        let mut n: u64 = 0;
        let mut used = 0;
        for &b in self.rest {
            used += 1;
            n = (n << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        if used == 0 {
            return None;
        }
        self.rest = self.rest.get(used..).unwrap_or_default();
        if self.first {
            // §8.19.4: the first subidentifier is X*40 + Y, X in 0..=2.
            self.first = false;
            let (x, y) = match n {
                0..=39 => (0, n),
                40..=79 => (1, n - 40),
                _ => (2, n - 80),
            };
            self.pending = Some(y);
            return Some(x);
        }
        Some(n)
    }
}

/// Makes wire bytes safe to show, as [`text::clean`]: lossy UTF-8, control characters
/// replaced by spaces, surrounding whitespace trimmed, at most [`MAX_TEXT_CHARS`] characters;
/// empty when nothing printable is left.
///
/// Used for any free text a dissector emits (BER string values, LLDP/CDP strings).
pub fn display_text(bytes: &[u8]) -> String {
    text::clean(bytes).unwrap_or_default()
}

/// Decodes the value of an ASN.1 character-string type (X.680 §41) for display, like
/// [`display_text`]. BMPString is UTF-16BE, UniversalString UTF-32BE; the 8-bit types
/// (UTF8String, PrintableString, IA5String, VisibleString, and TeletexString, which in practice
/// carries Latin-1 or UTF-8) are read as UTF-8. Returns `None` for non-string tags.
pub fn string_value(tlv: &Tlv<'_>) -> Option<String> {
    if tlv.tag.class != Class::Universal || tlv.tag.constructed {
        return None;
    }
    let chars = match tlv.tag.number {
        12 | 19 | 20 | 22 | 26 => return Some(display_text(tlv.value)),
        30 => {
            let units = tlv
                .value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            text::clean_chars(
                char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
                MAX_TEXT_CHARS,
            )
        }
        28 => text::clean_chars(
            tlv.value.chunks_exact(4).map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            }),
            MAX_TEXT_CHARS,
        ),
        _ => return None,
    };
    Some(chars.unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::testing::{hex, Noise};

    #[test]
    fn reads_snmp_header() {
        // SNMPv1 set-request from snmp/snmpv1_set.pcap (frame 1).
        let msg = hex(
            "30280201000400a32102047b086e690201000201003013301106082b0601020101050004056d75736563",
        );
        let mut top = Reader::new(&msg);
        let mut seq = top.read_sequence().unwrap();
        assert!(top.is_empty());
        assert_eq!(seq.read_integer(), Ok(0));
        assert_eq!(seq.read_octet_string(), Ok(&b""[..]));
        let pdu = seq.read().unwrap();
        assert_eq!(pdu.tag, Tag::context(3, true));
        let mut p = pdu.reader();
        assert_eq!(p.read_integer(), Ok(2_064_150_121));
        assert_eq!(p.read_integer(), Ok(0));
        assert_eq!(p.read_integer(), Ok(0));
        let mut vbs = p.read_sequence().unwrap();
        let mut vb = vbs.read_sequence().unwrap();
        let oid = vb.read_oid().unwrap();
        assert_eq!(oid.to_string(), "1.3.6.1.2.1.1.5.0");
        assert!(oid.is(&[1, 3, 6, 1, 2, 1, 1, 5, 0]));
        assert!(oid.starts_with(&[1, 3, 6, 1, 2, 1]));
        assert!(!oid.starts_with(&[1, 3, 6, 1, 4]));
        assert_eq!(vb.read_octet_string(), Ok(&b"musec"[..]));
    }

    #[test]
    fn integers() {
        assert_eq!(integer(&[0x7f]), Ok(127));
        assert_eq!(integer(&[0x80]), Ok(-128));
        assert_eq!(integer(&[0x00, 0x80]), Ok(128));
        assert_eq!(integer(&[0xff, 0x7f]), Ok(-129));
        assert_eq!(integer(&[]), Err(Error::BadInteger));
        assert_eq!(
            integer(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(Error::BadInteger)
        );
        assert_eq!(
            integer(&[0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Ok(i64::MAX)
        );
        assert_eq!(integer(&[1; 9]), Err(Error::BadInteger));
    }

    #[test]
    fn oids() {
        // 2.999.3 (X.690 §8.19.5 example) and an arc above 2^32.
        let o = Oid::new(&[0x88, 0x37, 0x03]).unwrap();
        assert_eq!(o.to_string(), "2.999.3");
        let o = Oid::new(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00]).unwrap();
        assert_eq!(o.to_string(), "1.3.4294967296");
        assert_eq!(o.arc(2), Some(1 << 32));
        assert!(Oid::new(&[]).is_err());
        assert!(Oid::new(&[0x2b, 0x86]).is_err());
        assert!(Oid::new(&[0x2b, 0x80, 0x01]).is_err());
        assert!(
            Oid::new(&[0x2b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err()
        );
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header(&[0x30, 0x81, 0x80]),
            Ok((Tag::SEQUENCE, 3, 128))
        );
        assert_eq!(
            parse_header(&[0x5f, 0x81, 0x01, 0x00]),
            Ok((Tag::application(129, false), 4, 0))
        );
        assert_eq!(parse_header(&[0x30, 0x80]), Err(Error::IndefiniteLength));
        assert_eq!(
            parse_header(&[0x30, 0x85, 1, 2, 3, 4, 5]),
            Err(Error::BadLength)
        );
        assert_eq!(parse_header(&[0x30, 0x82, 0x01]), Err(Error::Truncated));
        assert_eq!(
            parse_header(&[0x1f, 0x80, 0x01, 0x00]),
            Err(Error::TagTooLarge)
        );
        assert_eq!(
            parse_header(&[0x1f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00]),
            Err(Error::TagTooLarge)
        );
        let mut r = Reader::new(&[0x04, 0x05, 1, 2]);
        assert_eq!(r.read(), Err(Error::Truncated));
        assert_eq!(r.remaining().len(), 4);
        let mut r = Reader::new(&[0x02, 0x01, 0x05]);
        assert!(matches!(
            r.read_octet_string(),
            Err(Error::UnexpectedTag { .. })
        ));
        assert_eq!(r.read_integer(), Ok(5));
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(
            display_text(b"  Cisco IOS\r\nVersion 1\x00 "),
            "Cisco IOS  Version 1"
        );
        assert_eq!(display_text(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(display_text(&[b'x'; 1000]).chars().count(), MAX_TEXT_CHARS);
        let bmp = Tlv {
            tag: Tag::BMP_STRING,
            value: &[0, b'P', 0, b'L', 0xd8, 0x00],
            encoded_len: 8,
        };
        assert_eq!(string_value(&bmp).as_deref(), Some("PL\u{fffd}"));
        let int = Tlv {
            tag: Tag::INTEGER,
            value: &[1],
            encoded_len: 3,
        };
        assert_eq!(string_value(&int), None);
    }

    #[test]
    fn never_panics_on_junk() {
        let mut noise = Noise::new(0x2545_f491_4f6c_dd1d);
        for len in 0..64 {
            for _ in 0..200 {
                let data = noise.bytes(len);
                walk(Reader::new(&data), 0);
            }
        }
    }

    fn walk(r: Reader<'_>, depth: usize) {
        for tlv in r.flatten() {
            let _ = tlv.integer();
            if let Ok(o) = tlv.oid() {
                let _ = o.to_string();
            }
            let _ = string_value(&tlv);
            if tlv.tag.constructed && depth < 8 {
                walk(tlv.reader(), depth + 1);
            }
        }
    }
}
