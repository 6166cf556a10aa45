//! The OSI upper layers MMS rides on, between COTP and ACSE/MMS: the ISO 8327-1 / ITU-T X.225
//! session SPDU that starts each TSDU, and the ISO 8823-1 / ITU-T X.226 presentation PDU in its
//! user data, down to the presentation data values that hold ACSE and MMS APDUs.
//!
//! Session (X.225 §8): an SPDU is its SI (one octet), its LI (one octet, or 0xFF and two more)
//! and LI octets of parameters, each a PI or PGI code, a length and a value (§8.2). A
//! connection's set-up and release SPDUs (CONNECT, ACCEPT, REFUSE, FINISH, DISCONNECT, ABORT)
//! carry the presentation PDU in their User Data parameter (PGI 193, or Extended User Data
//! 194); data travels as a GIVE TOKENS (SI 1, category 0) concatenated with a DATA TRANSFER
//! (SI 1, category 2, §7.11) whose user information is the rest of the TSDU.
//!
//! Presentation (X.226 §8.2): the connect PPDUs (CP-type, CPA-PPDU) are BER SETs whose
//! normal-mode parameters end with the User-data; P-DATA and the release carry User-data alone;
//! User-data is fully-encoded-data (`[APPLICATION 1]`, a SEQUENCE OF PDV-list, each naming its
//! presentation context and holding one single-ASN.1-type or octet-aligned value) or
//! simply-encoded-data (`[APPLICATION 0]`, the value itself). The abstract syntax of each
//! context is not tracked: ACSE APDUs are `[APPLICATION n]` and MMS PDUs context-specific, so
//! the tag says which one a value is.

use super::error::MmsError;
use crate::protocols::ber::{self, Class, Reader, Tag};
use crate::protocols::reader::Cursor;

/// X.225 §8.3 SPDU identifiers (SI).
pub mod si {
    /// GIVE TOKENS (category 0) and DATA TRANSFER (category 2) share SI 1.
    pub const DATA: u8 = 1;
    pub const PLEASE_TOKENS: u8 = 2;
    pub const EXPEDITED: u8 = 5;
    pub const NOT_FINISHED: u8 = 8;
    pub const FINISH: u8 = 9;
    pub const DISCONNECT: u8 = 10;
    pub const REFUSE: u8 = 12;
    pub const CONNECT: u8 = 13;
    pub const ACCEPT: u8 = 14;
    pub const CONNECT_DATA_OVERFLOW: u8 = 15;
    pub const OVERFLOW_ACCEPT: u8 = 16;
    pub const ABORT: u8 = 25;
    pub const ABORT_ACCEPT: u8 = 26;
    pub const TYPED_DATA: u8 = 33;
}

/// X.225 §8.3.1.19: User Data and Extended User Data PGIs.
const USER_DATA: u8 = 193;
const EXTENDED_USER_DATA: u8 = 194;

/// The SPDUs MMS uses, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spdu {
    Connect,
    Accept,
    Refuse,
    Finish,
    Disconnect,
    NotFinished,
    Abort,
    /// DATA TRANSFER or TYPED DATA (after GIVE/PLEASE TOKENS).
    Data,
    /// What carries no MMS: tokens alone, ABORT ACCEPT, overflow handling, expedited data.
    Other,
}

impl Spdu {
    pub fn name(self) -> &'static str {
        match self {
            Spdu::Connect => "CONNECT",
            Spdu::Accept => "ACCEPT",
            Spdu::Refuse => "REFUSE",
            Spdu::Finish => "FINISH",
            Spdu::Disconnect => "DISCONNECT",
            Spdu::NotFinished => "NOT FINISHED",
            Spdu::Abort => "ABORT",
            Spdu::Data => "DATA TRANSFER",
            Spdu::Other => "SPDU",
        }
    }
}

/// One TSDU's session layer: which SPDU, and the presentation PDU it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session<'a> {
    pub spdu: Spdu,
    pub ppdu: Option<&'a [u8]>,
}

/// Reads an SPDU's SI and LI (§8.2.5: one octet, or 0xFF and two octets); the cursor is left
/// at its parameters.
fn header(c: &mut Cursor<'_>) -> Result<(u8, usize), MmsError> {
    let si = c.u8().ok_or(MmsError::SpduTruncated)?;
    let li = length(c).ok_or(MmsError::SpduTruncated)?;
    Ok((si, li))
}

fn length(c: &mut Cursor<'_>) -> Option<usize> {
    match c.u8()? {
        0xff => c.u16_be().map(usize::from),
        n => Some(usize::from(n)),
    }
}

/// Reads the session layer of one TSDU.
pub fn session(tsdu: &[u8]) -> Result<Session<'_>, MmsError> {
    let mut c = Cursor::new(tsdu);
    let (si, li) = header(&mut c)?;
    let available = c.remaining();
    let params = c.take(li).ok_or(MmsError::SpduLength {
        length: li,
        available,
    })?;
    let spdu = match si {
        si::DATA | si::PLEASE_TOKENS => {
            // §7.11.2 basic concatenation: a category 0 SPDU, then a category 2 one whose user
            // information fills the rest of the TSDU. Tokens alone carry nothing.
            if c.is_empty() {
                return Ok(Session {
                    spdu: Spdu::Other,
                    ppdu: None,
                });
            }
            let (si, li) = header(&mut c)?;
            if !matches!(si, si::DATA | si::TYPED_DATA) {
                return Err(MmsError::TokensWithoutData);
            }
            c.take(li).ok_or(MmsError::SpduLength {
                length: li,
                available: c.remaining(),
            })?;
            return Ok(Session {
                spdu: Spdu::Data,
                ppdu: Some(c.rest()),
            });
        }
        si::CONNECT => Spdu::Connect,
        si::ACCEPT => Spdu::Accept,
        si::REFUSE => Spdu::Refuse,
        si::FINISH => Spdu::Finish,
        si::DISCONNECT => Spdu::Disconnect,
        si::NOT_FINISHED => Spdu::NotFinished,
        si::ABORT => Spdu::Abort,
        si::ABORT_ACCEPT
        | si::EXPEDITED
        | si::CONNECT_DATA_OVERFLOW
        | si::OVERFLOW_ACCEPT
        | si::TYPED_DATA => Spdu::Other,
        other => return Err(MmsError::SpduType(other)),
    };
    if !c.is_empty() {
        // These SPDUs are never concatenated: their LI covers the whole TSDU.
        return Err(MmsError::SpduLength {
            length: li,
            available,
        });
    }
    let ppdu = if spdu == Spdu::Other {
        None
    } else {
        user_data_parameter(params)?
    };
    Ok(Session { spdu, ppdu })
}

/// The value of the User Data (or Extended User Data) parameter among an SPDU's parameters.
fn user_data_parameter(params: &[u8]) -> Result<Option<&[u8]>, MmsError> {
    let mut c = Cursor::new(params);
    while !c.is_empty() {
        let code = c.u8().ok_or(MmsError::SessionParameter)?;
        let len = length(&mut c).ok_or(MmsError::SessionParameter)?;
        let value = c.take(len).ok_or(MmsError::SessionParameter)?;
        if matches!(code, USER_DATA | EXTENDED_USER_DATA) {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// X.226 §8.2: `[APPLICATION 0] IMPLICIT OCTET STRING` simply-encoded-data and
/// `[APPLICATION 1] IMPLICIT SEQUENCE OF PDV-list` fully-encoded-data.
const SIMPLY_ENCODED: Tag = Tag::application(0, false);
const FULLY_ENCODED: Tag = Tag::application(1, true);
/// CP-type and CPA-PPDU: `[2] IMPLICIT SEQUENCE` normal-mode-parameters.
const NORMAL_MODE: Tag = Tag::context(2, true);

/// The presentation User-data of the PPDU an SPDU carries, as the whole User-data TLV:
/// `None` when the PPDU has none (an X.410-mode or refused connection, an abort).
pub fn user_data(spdu: Spdu, ppdu: &[u8]) -> Result<Option<&[u8]>, MmsError> {
    match spdu {
        Spdu::Connect | Spdu::Accept => {
            let what = if spdu == Spdu::Connect {
                "a CP-type SET"
            } else {
                "a CPA-PPDU SET"
            };
            let mut top = Reader::new(ppdu);
            let set = top
                .read_expect(Tag::SET)
                .map_err(|_| MmsError::Presentation(what))?;
            for tlv in Reader::new(set) {
                let tlv = tlv.map_err(|_| MmsError::Presentation(what))?;
                if tlv.tag == NORMAL_MODE {
                    return normal_mode_user_data(tlv.value, what);
                }
            }
            Ok(None)
        }
        // CPR-PPDU (refuse) and ARU/ARP-PPDU (abort) are not followed into.
        Spdu::Refuse | Spdu::Abort | Spdu::Other => Ok(None),
        // P-DATA and the release: the User-data alone.
        Spdu::Data | Spdu::Finish | Spdu::Disconnect | Spdu::NotFinished => {
            let tlv = Reader::new(ppdu)
                .read()
                .map_err(|_| MmsError::Presentation("User-data"))?;
            if tlv.tag == FULLY_ENCODED || tlv.tag == SIMPLY_ENCODED {
                Ok(ppdu.get(..tlv.encoded_len))
            } else {
                Err(MmsError::Presentation("User-data"))
            }
        }
    }
}

fn normal_mode_user_data<'a>(
    params: &'a [u8],
    what: &'static str,
) -> Result<Option<&'a [u8]>, MmsError> {
    let mut r = Reader::new(params);
    while !r.is_empty() {
        let before = r.remaining();
        let tlv = r.read().map_err(|_| MmsError::Presentation(what))?;
        if tlv.tag == FULLY_ENCODED || tlv.tag == SIMPLY_ENCODED {
            return Ok(before.get(..tlv.encoded_len));
        }
    }
    Ok(None)
}

/// The APDUs (each one BER TLV, ACSE or MMS) of a presentation User-data TLV
/// ([`user_data`]), in order; the iteration ends after the first malformed PDV-list.
pub fn apdus(user_data: &[u8]) -> Result<Apdus<'_>, MmsError> {
    let tlv = Reader::new(user_data)
        .read()
        .map_err(|_| MmsError::Presentation("User-data"))?;
    Ok(if tlv.tag == SIMPLY_ENCODED {
        Apdus {
            simple: Some(tlv.value),
            pdvs: Reader::new(&[]),
        }
    } else {
        Apdus {
            simple: None,
            pdvs: tlv.reader(),
        }
    })
}

/// Iterator of [`apdus`].
#[derive(Debug, Clone)]
pub struct Apdus<'a> {
    simple: Option<&'a [u8]>,
    pdvs: Reader<'a>,
}

impl<'a> Iterator for Apdus<'a> {
    type Item = Result<&'a [u8], MmsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(v) = self.simple.take() {
            return Some(Ok(v));
        }
        let pdv = match self.pdvs.next()? {
            Ok(p) if p.tag == Tag::SEQUENCE => p,
            _ => {
                self.pdvs = Reader::new(&[]);
                return Some(Err(MmsError::Presentation("a PDV-list")));
            }
        };
        let value = presentation_data_value(pdv.value);
        if value.is_err() {
            self.pdvs = Reader::new(&[]);
        }
        Some(value)
    }
}

/// A PDV-list (X.226 §8.2): transfer-syntax-name OPTIONAL, presentation-context-identifier,
/// then the value as `[0]` single-ASN1-type (the APDU's TLV) or `[1]` octet-aligned (its
/// encoding as an OCTET STRING).
fn presentation_data_value(pdv: &[u8]) -> Result<&[u8], MmsError> {
    for tlv in Reader::new(pdv) {
        let tlv = tlv.map_err(|_| MmsError::Presentation("a PDV-list"))?;
        match (tlv.tag.class, tlv.tag.number) {
            (Class::Universal, 2 | 6) => {}
            (Class::ContextSpecific, 0 | 1) => return Ok(tlv.value),
            _ => return Err(MmsError::PresentationValue),
        }
    }
    Err(MmsError::PresentationValue)
}

/// The TLV at the start of `bytes` must be all of it.
pub fn whole_tlv(bytes: &[u8]) -> Result<ber::Tlv<'_>, ber::Error> {
    let mut r = Reader::new(bytes);
    let tlv = r.read()?;
    if r.is_empty() {
        Ok(tlv)
    } else {
        Err(ber::Error::BadLength)
    }
}
