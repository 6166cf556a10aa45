//! BACnet tagged encoding (ASHRAE 135-2020 clause 20.2): the tag header, the application
//! primitive values the dissector needs (Unsigned, Enumerated, CharacterString,
//! BACnetObjectIdentifier) and skipping of constructed values between opening and closing
//! tags. Read against Wireshark's `packet-bacapp.c` (`fTagHeader`, `fCharacterString`) and
//! bacpypes3 `primitivedata.py`; written from the standard's text.
//!
//! Everything is bounded by the input: a length field larger than the rest of the APDU is an
//! error, never an allocation.

use crate::protocols::reader::Cursor;
use crate::protocols::text::{clean, MAX_TEXT_CHARS};

/// Application tag numbers (20.2.1.4, table 20-1).
pub mod app {
    pub const BOOLEAN: u8 = 1;
    pub const UNSIGNED: u8 = 2;
    pub const CHARACTER_STRING: u8 = 7;
    pub const ENUMERATED: u8 = 9;
    pub const OBJECT_IDENTIFIER: u8 = 12;
}

/// Object type `device` (21, BACnetObjectType).
pub const OBJECT_DEVICE: u32 = 8;
/// Instance number 4194303 is the "any device" wildcard (15.5.1.1.1 note, 16.10.1.1.1).
pub const WILDCARD_INSTANCE: u32 = 0x3f_ffff;

/// Why a tagged value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    #[error("BACnet tag runs past the end of the APDU")]
    Truncated,
    #[error("BACnet application tag {0} uses opening/closing tag encoding")]
    BadApplicationLvt(u8),
    #[error("BACnet extended tag number 255 is reserved")]
    ReservedTagNumber,
}

/// What a tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagBody<'a> {
    /// Primitive content octets.
    Value(&'a [u8]),
    /// Application-tagged BOOLEAN: the value lives in the LVT field (20.2.3).
    Boolean(bool),
    /// Context opening tag (LVT 6, 20.2.1.3.2).
    Open,
    /// Context closing tag (LVT 7).
    Close,
}

/// One tag with its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    pub number: u8,
    /// Context-specific class (bit 3 of the initial octet, 20.2.1.1).
    pub context: bool,
    pub body: TagBody<'a>,
}

impl<'a> Tag<'a> {
    /// The content octets of a primitive tag.
    pub fn value(&self) -> Option<&'a [u8]> {
        match self.body {
            TagBody::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_app(&self, number: u8) -> bool {
        !self.context && self.number == number
    }

    pub fn is_ctx(&self, number: u8) -> bool {
        self.context && self.number == number && matches!(self.body, TagBody::Value(_))
    }

    pub fn is_open(&self, number: u8) -> bool {
        self.context && self.number == number && self.body == TagBody::Open
    }

    pub fn is_close(&self, number: u8) -> bool {
        self.context && self.number == number && self.body == TagBody::Close
    }
}

/// Reads tags one after another from a byte slice.
#[derive(Debug, Clone)]
pub struct TagReader<'a> {
    cur: Cursor<'a>,
}

impl<'a> TagReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        TagReader {
            cur: Cursor::new(buf),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cur.is_empty()
    }

    /// The next tag without consuming it.
    pub fn peek(&self) -> Option<Result<Tag<'a>, TagError>> {
        self.clone().next()
    }

    /// Reads one tag (20.2.1): initial octet, extended tag number, extended length, content.
    fn read(&mut self) -> Result<Tag<'a>, TagError> {
        let c = &mut self.cur;
        let first = c.u8().ok_or(TagError::Truncated)?;
        let context = first & 0x08 != 0;
        let lvt = first & 0x07;
        // 20.2.1.2: tag number 15 means the number follows in the next octet.
        let number = match first >> 4 {
            15 => match c.u8().ok_or(TagError::Truncated)? {
                255 => return Err(TagError::ReservedTagNumber),
                n => n,
            },
            n => n,
        };
        let body = match (context, lvt) {
            (true, 6) => TagBody::Open,
            (true, 7) => TagBody::Close,
            (false, 6 | 7) => return Err(TagError::BadApplicationLvt(number)),
            (false, _) if number == app::BOOLEAN => TagBody::Boolean(lvt != 0),
            _ => {
                // 20.2.1.3.1: LVT 5 means an extended length: one octet (0..=253), or 254
                // and two octets, or 255 and four octets.
                let len = match lvt {
                    5 => match c.u8().ok_or(TagError::Truncated)? {
                        254 => usize::from(c.u16_be().ok_or(TagError::Truncated)?),
                        255 => c.u32_be().ok_or(TagError::Truncated)? as usize,
                        n => usize::from(n),
                    },
                    n => usize::from(n),
                };
                TagBody::Value(c.take(len).ok_or(TagError::Truncated)?)
            }
        };
        Ok(Tag {
            number,
            context,
            body,
        })
    }

    /// Skips everything up to and including the closing tag that matches an opening tag
    /// `number` already consumed, across nested constructed values.
    pub fn skip_constructed(&mut self, number: u8) -> Result<(), TagError> {
        let mut depth = 0usize;
        loop {
            let t = self.read()?;
            match t.body {
                TagBody::Open => depth += 1,
                TagBody::Close if depth == 0 && t.number == number => return Ok(()),
                TagBody::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// Reads the value enclosed in context opening/closing tags `number` (the opening tag
    /// already consumed): the first element when it is a single primitive value, else
    /// `None`; the reader ends after the closing tag either way.
    pub fn enclosed_value(&mut self, number: u8) -> Result<Option<Tag<'a>>, TagError> {
        let first = self.read()?;
        if first.is_close(number) {
            return Ok(None);
        }
        if first.body == TagBody::Open {
            self.skip_constructed(first.number)?;
            self.skip_constructed(number)?;
            return Ok(None);
        }
        if self.peek().transpose()?.is_some_and(|t| t.is_close(number)) {
            self.read()?;
            return Ok(Some(first));
        }
        // An array or list of values: not one identity value.
        self.skip_constructed(number)?;
        Ok(None)
    }
}

impl<'a> Iterator for TagReader<'a> {
    type Item = Result<Tag<'a>, TagError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.cur.is_empty() {
            return None;
        }
        let r = self.read();
        if r.is_err() {
            // Stop after an error: nothing after a broken tag can be framed.
            self.cur.seek(self.cur.buffer().len());
        }
        Some(r)
    }
}

/// Unsigned or Enumerated content (20.2.4, 20.2.11): 1 to 4 big-endian octets here; wider
/// values do not occur in the fields read.
pub fn unsigned(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 4 {
        return None;
    }
    Some(v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// BACnetObjectIdentifier (20.2.14): 10-bit object type, 22-bit instance.
pub fn object_id(v: &[u8]) -> Option<(u32, u32)> {
    let raw = u32::from_be_bytes(v.try_into().ok()?);
    Some((raw >> 22, raw & 0x3f_ffff))
}

/// Character sets of a CharacterString (20.2.9).
pub mod charset {
    /// ISO 10646 UTF-8 (ANSI X3.4 before 135-2008).
    pub const UTF8: u8 = 0;
    pub const DBCS: u8 = 1;
    pub const JIS_X_0208: u8 = 2;
    pub const UCS4: u8 = 3;
    pub const UCS2: u8 = 4;
    pub const ISO_8859_1: u8 = 5;
}

/// Input octets decoded per string; enough for [`MAX_TEXT_CHARS`] characters in any set.
const MAX_STRING_OCTETS: usize = MAX_TEXT_CHARS * 4;

/// Decodes CharacterString content (character-set octet, then the string) into clean display
/// text. UTF-8 (and its ASCII subset), UCS-2, UCS-4 (both big-endian) and ISO 8859-1 are
/// decoded; the double-byte sets are taken lossily as UTF-8.
pub fn character_string(v: &[u8]) -> Option<String> {
    let (&set, raw) = v.split_first()?;
    let raw = raw.get(..MAX_STRING_OCTETS).unwrap_or(raw);
    let decoded: String = match set {
        charset::UCS2 => char::decode_utf16(
            raw.chunks_exact(2)
                .filter_map(|p| p.try_into().ok())
                .map(u16::from_be_bytes),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        charset::UCS4 => raw
            .chunks_exact(4)
            .filter_map(|p| p.try_into().ok())
            .map(|p| char::from_u32(u32::from_be_bytes(p)).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        charset::ISO_8859_1 => raw.iter().map(|&b| char::from(b)).collect(),
        _ => return clean(raw),
    };
    clean(decoded.as_bytes())
}
