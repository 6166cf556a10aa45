//! What GOOSE (IEC 61850-8-1) and Sampled Values (IEC 61850-9-2) frames share: the header
//! after the ethertype (IEC 61850-8-1:2011 Annex C, "ISO/IEC 8802-3 frame format"; 9-2 §8.2
//! refers to it): APPID, Length, Reserved 1, Reserved 2, then the APDU. Length counts from
//! APPID, so it is 8 more than the APDU; octets after it are Ethernet padding. Edition 2 gives
//! the top bit of Reserved 1 the meaning "simulated" (the frame comes from a test set, not the
//! process). Also the bounded table of publishers both dissectors keep.

use otwatch_common::Mac;
use std::collections::HashMap;

/// The octets of the header before the APDU.
pub const HEADER_LEN: usize = 8;

/// What was wrong with the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("frame of {0} octets too short for the APPID/Length header")]
    Truncated(usize),
    #[error("Length {0} is less than the 8 octets of the header")]
    LengthTooSmall(u16),
    #[error("Length {declared} runs past the {available} octets of the frame")]
    LengthOverrun { declared: u16, available: usize },
}

/// The header and the APDU it delimits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub appid: u16,
    pub length: u16,
    pub reserved1: u16,
    pub reserved2: u16,
    /// The Length - 8 octets after the header.
    pub apdu: &'a [u8],
}

impl<'a> Header<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<Self, HeaderError> {
        let Some((&[a0, a1, l0, l1, r0, r1, r2, r3], rest)) =
            payload.split_first_chunk::<HEADER_LEN>()
        else {
            return Err(HeaderError::Truncated(payload.len()));
        };
        let length = u16::from_be_bytes([l0, l1]);
        let apdu_len = usize::from(length)
            .checked_sub(HEADER_LEN)
            .ok_or(HeaderError::LengthTooSmall(length))?;
        let apdu = rest.get(..apdu_len).ok_or(HeaderError::LengthOverrun {
            declared: length,
            available: payload.len(),
        })?;
        Ok(Header {
            appid: u16::from_be_bytes([a0, a1]),
            length,
            reserved1: u16::from_be_bytes([r0, r1]),
            reserved2: u16::from_be_bytes([r2, r3]),
            apdu,
        })
    }

    /// Edition 2's "simulate" bit (Reserved 1, bit 15).
    pub fn simulated(&self) -> bool {
        self.reserved1 & 0x8000 != 0
    }
}

/// Publishers remembered at most, per protocol: a substation has tens to hundreds of GoCBs and
/// SV streams. A table that fills up is emptied (each stream then starts afresh).
pub const MAX_STREAMS: usize = 4096;

/// A stream of one publisher: its source MAC, APPID and control block (a hash of gocbRef or
/// svID, so that two control blocks of one IED that share an APPID are kept apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub src: Mac,
    pub appid: u16,
    pub name: u64,
}

impl StreamKey {
    pub fn new(src: Mac, appid: u16, name: &[u8]) -> StreamKey {
        StreamKey {
            src,
            appid,
            name: fnv1a(name),
        }
    }
}

/// FNV-1a: a fixed hash, so the table behaves the same on every run.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The streams of one protocol, bounded by [`MAX_STREAMS`].
#[derive(Debug)]
pub struct Streams<V> {
    map: HashMap<StreamKey, V>,
}

impl<V> Default for Streams<V> {
    fn default() -> Self {
        Streams {
            map: HashMap::new(),
        }
    }
}

impl<V: Default> Streams<V> {
    /// The stream's state, made fresh the first time it is seen (emptying a full table first).
    pub fn entry(&mut self, key: StreamKey) -> &mut V {
        if self.map.len() >= MAX_STREAMS && !self.map.contains_key(&key) {
            self.map.clear();
        }
        self.map.entry(key).or_default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// True when `new` follows `old` going backwards, not by a wrap of the 32-bit counter (both
/// stNum and sqNum roll over to 1 after their maximum, IEC 61850-8-1 §18.1.2.5).
pub fn went_back(old: u32, new: u32) -> bool {
    new < old && !(old > 0xffff_0000 && new < 0x0001_0000)
}

/// The logical device part of an object reference "LDName/LN$FC$name" (IEC 61850-7-2
/// §6.2.3): the IED name followed by the LD instance, as MMS names the domain.
pub fn logical_device(reference: &str) -> Option<&str> {
    let (ld, rest) = reference.split_once('/')?;
    (!ld.is_empty() && !rest.is_empty()).then_some(ld)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bounds_the_apdu() {
        let frame = [
            0x30, 0x01, 0x00, 0x0a, 0x80, 0x00, 0x00, 0x00, 0x61, 0x00, 0xee, 0xee,
        ];
        let h = Header::parse(&frame).unwrap();
        assert_eq!((h.appid, h.length, h.apdu), (0x3001, 10, &[0x61, 0x00][..]));
        assert!(h.simulated());
        assert_eq!(
            Header::parse(&frame[..9]),
            Err(HeaderError::LengthOverrun {
                declared: 10,
                available: 9
            })
        );
        assert_eq!(
            Header::parse(&[0, 1, 0, 7, 0, 0, 0, 0]),
            Err(HeaderError::LengthTooSmall(7))
        );
        assert_eq!(Header::parse(&[0, 1]), Err(HeaderError::Truncated(2)));
    }

    #[test]
    fn counters_go_back_unless_they_wrap() {
        assert!(went_back(12, 1));
        assert!(!went_back(1, 2));
        assert!(!went_back(5, 5));
        assert!(!went_back(0xffff_ffff, 1));
    }

    #[test]
    fn logical_device_of_a_reference() {
        assert_eq!(
            logical_device("AA1C1Q01A1LD0/LLN0$GO$gcb_A"),
            Some("AA1C1Q01A1LD0")
        );
        assert_eq!(logical_device("nothing"), None);
        assert_eq!(logical_device("/LLN0"), None);
    }

    #[test]
    fn a_full_table_starts_again() {
        let mut t: Streams<usize> = Streams::default();
        for i in 0..MAX_STREAMS {
            *t.entry(StreamKey::new(Mac::ZERO, 0, &i.to_be_bytes())) = i;
        }
        assert_eq!(t.len(), MAX_STREAMS);
        assert_eq!(
            *t.entry(StreamKey::new(Mac::ZERO, 0, &5usize.to_be_bytes())),
            5
        );
        *t.entry(StreamKey::new(Mac::ZERO, 1, b"x")) = 1;
        assert_eq!(t.len(), 1);
    }
}
