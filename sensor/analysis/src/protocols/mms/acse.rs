//! ACSE (ISO 8650-1 / ITU-T X.227 §7) association set-up APDUs around MMS: the AARQ the
//! initiator sends and the AARE that answers it. What matters to a monitor: the application
//! context (MMS is 1.0.9506.2.3, ISO 9506-2 annex A; 1.0.9506.2.1 is its abstract syntax), the
//! AP titles and AE qualifiers that name the two ends, the result, and the MMS initiate PDU in
//! the user information (`[30] IMPLICIT Association-information`, a SEQUENCE OF EXTERNAL).

use super::error::MmsError;
use crate::protocols::ber::{self, Class, Oid, Reader, Tag, Tlv};

/// X.227 §7.1: AARQ `[APPLICATION 0]`, AARE `[APPLICATION 1]`, RLRQ 2, RLRE 3, ABRT 4.
pub const AARQ: u32 = 0;
pub const AARE: u32 = 1;
const LAST_APDU: u32 = 4;

/// An AP title (form 2, an OBJECT IDENTIFIER) and AE qualifier (form 2, an INTEGER), as one
/// end of an association is named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApName<'a> {
    pub ap_title: Option<Oid<'a>>,
    pub ae_qualifier: Option<i64>,
}

impl ApName<'_> {
    pub fn is_empty(&self) -> bool {
        self.ap_title.is_none() && self.ae_qualifier.is_none()
    }
}

/// An ACSE APDU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Apdu<'a> {
    /// The `[APPLICATION n]` number.
    pub kind: u32,
    pub context: Option<Oid<'a>>,
    /// AARQ: the called end (the responder); AARE: the responding end.
    pub responder: ApName<'a>,
    /// AARQ: the calling end (the initiator).
    pub initiator: ApName<'a>,
    /// AARE: 0 accepted, 1 rejected permanently, 2 rejected transiently (X.227 §7.1.4.8).
    pub result: Option<i64>,
    /// The encoding of the first EXTERNAL in the user information: the MMS PDU.
    pub user: Option<&'a [u8]>,
}

impl Apdu<'_> {
    /// Whether the association is for MMS (ISO 9506-2 annex A: `{ iso standard 9506 part(2)
    /// mms-application-context-version1(1) }`, and 1.0.9506.2.3 that IEC 61850-8-1 and most
    /// stacks use).
    pub fn is_mms(&self) -> bool {
        self.context.is_none_or(|c| c.starts_with(&[1, 0, 9506, 2]))
    }
}

/// Reads an ACSE APDU (one `[APPLICATION n]` TLV).
pub fn parse<'a>(apdu: &Tlv<'a>) -> Result<Apdu<'a>, MmsError> {
    let kind = apdu.tag.number;
    if apdu.tag.class != Class::Application || kind > LAST_APDU || !apdu.tag.constructed {
        return Err(MmsError::AcseTag(kind));
    }
    let mut a = Apdu {
        kind,
        ..Apdu::default()
    };
    // X.227 §7.1 (AARQ, AARE): the context-specific fields, by tag number.
    let (responder_title, responder_qualifier) = if kind == AARQ { (2, 3) } else { (4, 5) };
    for tlv in apdu.reader() {
        let tlv = tlv.map_err(MmsError::Acse)?;
        if tlv.tag.class != Class::ContextSpecific || kind > AARE {
            continue;
        }
        match tlv.tag.number {
            1 => a.context = Some(inner(&tlv)?.oid().map_err(MmsError::Acse)?),
            2 if kind == AARE => a.result = Some(inner(&tlv)?.integer().map_err(MmsError::Acse)?),
            n if n == responder_title => a.responder.ap_title = ap_title(&tlv)?,
            n if n == responder_qualifier => a.responder.ae_qualifier = ae_qualifier(&tlv)?,
            6 if kind == AARQ => a.initiator.ap_title = ap_title(&tlv)?,
            7 if kind == AARQ => a.initiator.ae_qualifier = ae_qualifier(&tlv)?,
            30 => a.user = external(tlv.value)?,
            _ => {}
        }
    }
    Ok(a)
}

/// The one TLV inside an EXPLICIT tag.
fn inner<'a>(tlv: &Tlv<'a>) -> Result<Tlv<'a>, MmsError> {
    tlv.reader().read().map_err(MmsError::Acse)
}

/// AP-title ::= CHOICE { ap-title-form1 Name, ap-title-form2 OBJECT IDENTIFIER }: form 2 only.
fn ap_title<'a>(tlv: &Tlv<'a>) -> Result<Option<Oid<'a>>, MmsError> {
    let t = inner(tlv)?;
    if t.tag == Tag::OBJECT_IDENTIFIER {
        t.oid().map(Some).map_err(MmsError::Acse)
    } else {
        Ok(None)
    }
}

/// AE-qualifier ::= CHOICE { form1 RelativeDistinguishedName, form2 INTEGER }: form 2 only.
fn ae_qualifier(tlv: &Tlv<'_>) -> Result<Option<i64>, MmsError> {
    let t = inner(tlv)?;
    if t.tag == Tag::INTEGER {
        t.integer().map(Some).map_err(MmsError::Acse)
    } else {
        Ok(None)
    }
}

/// X.690 EXTERNAL (`[UNIVERSAL 8]`): direct-reference, indirect-reference, data-value-
/// descriptor, all optional, then the encoding: `[0]` single-ASN1-type (a TLV) or `[1]`
/// octet-aligned; the first EXTERNAL's is returned.
fn external(info: &[u8]) -> Result<Option<&[u8]>, MmsError> {
    const EXTERNAL: Tag = Tag::universal(8, true);
    let Some(first) = Reader::new(info).next() else {
        return Ok(None);
    };
    let first = first.map_err(MmsError::Acse)?;
    if first.tag != EXTERNAL {
        return Err(MmsError::Acse(ber::Error::UnexpectedTag {
            expected: EXTERNAL,
            found: first.tag,
        }));
    }
    for tlv in first.reader() {
        let tlv = tlv.map_err(MmsError::Acse)?;
        if tlv.tag.class == Class::ContextSpecific && tlv.tag.number <= 1 {
            return Ok(Some(tlv.value));
        }
    }
    Ok(None)
}
