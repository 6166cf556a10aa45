//! The goosePdu (IEC 61850-8-1:2011 Annex A, `IECGoosePdu ::= [APPLICATION 1] IMPLICIT
//! SEQUENCE`), read field by field in the order the standard gives them, each with its
//! context tag: gocbRef [0], timeAllowedtoLive [1], datSet [2], goID [3] OPTIONAL, t [4],
//! stNum [5], sqNum [6], simulation [7] DEFAULT FALSE (named `test` in edition 1), confRev
//! [8], ndsCom [9] DEFAULT FALSE, numDatSetEntries [10], allData [11] (SEQUENCE OF MMS
//! `Data`), security [12] OPTIONAL.

use super::GooseError;
use crate::protocols::ber::{self, Reader, Tag};

/// [APPLICATION 1] constructed.
pub const GOOSE_PDU: Tag = Tag::application(1, true);

/// The MMS `Data` alternatives (ISO 9506-2 `Data ::= CHOICE`, as IEC 61850-8-1 §8.1.2 uses
/// them): context tag number, name.
const DATA_TYPES: &[(u32, &str)] = &[
    (1, "array"),
    (2, "structure"),
    (3, "boolean"),
    (4, "bit-string"),
    (5, "integer"),
    (6, "unsigned"),
    (7, "floating-point"),
    (9, "octet-string"),
    (10, "visible-string"),
    (12, "binary-time"),
    (13, "bcd"),
    (14, "boolean-array"),
    (15, "object-id"),
    (16, "mms-string"),
    (17, "utc-time"),
];

/// The name of an MMS `Data` alternative.
pub fn data_type_name(tag: Tag) -> Option<&'static str> {
    if tag.class != ber::Class::ContextSpecific {
        return None;
    }
    DATA_TYPES
        .iter()
        .find(|(n, _)| *n == tag.number)
        .map(|(_, name)| *name)
}

/// A goosePdu, borrowed from the frame. Strings are the raw VisibleString octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoosePdu<'a> {
    pub gocb_ref: &'a [u8],
    /// Milliseconds.
    pub time_allowed_to_live: u32,
    pub dat_set: &'a [u8],
    pub go_id: Option<&'a [u8]>,
    /// UtcTime: seconds, fraction, quality (IEC 61850-8-1 §8.1.3.7).
    pub t: [u8; 8],
    pub st_num: u32,
    pub sq_num: u32,
    pub simulation: bool,
    pub conf_rev: u32,
    pub nds_com: bool,
    pub num_dat_set_entries: u32,
    /// The encoded `Data` values of allData.
    pub all_data: &'a [u8],
}

impl<'a> GoosePdu<'a> {
    /// Reads the APDU: exactly one goosePdu filling it.
    pub fn parse(apdu: &'a [u8]) -> Result<Self, GooseError> {
        let mut outer = Reader::new(apdu);
        let tlv = outer.read()?;
        if tlv.tag != GOOSE_PDU {
            return Err(GooseError::NotGoosePdu(tlv.tag));
        }
        if !outer.is_empty() {
            return Err(GooseError::TrailingOctets(outer.remaining().len()));
        }
        let mut r = tlv.reader();
        let ctx = |n| Tag::context(n, false);
        let gocb_ref = r.read_expect(ctx(0))?;
        let time_allowed_to_live = unsigned(r.read_expect(ctx(1))?, "timeAllowedtoLive")?;
        let dat_set = r.read_expect(ctx(2))?;
        let go_id = r.read_optional(ctx(3))?;
        let t = r.read_expect(ctx(4))?;
        let t: [u8; 8] = t.try_into().map_err(|_| GooseError::UtcTime(t.len()))?;
        let st_num = unsigned(r.read_expect(ctx(5))?, "stNum")?;
        let sq_num = unsigned(r.read_expect(ctx(6))?, "sqNum")?;
        let simulation = boolean(r.read_optional(ctx(7))?, "simulation")?;
        let conf_rev = unsigned(r.read_expect(ctx(8))?, "confRev")?;
        let nds_com = boolean(r.read_optional(ctx(9))?, "ndsCom")?;
        let num_dat_set_entries = unsigned(r.read_expect(ctx(10))?, "numDatSetEntries")?;
        let all_data = r.read_expect(Tag::context(11, true))?;
        // security [12] may follow; anything else is not a goosePdu.
        if let Some(tag) = r.peek_tag().filter(|t| t.number != 12) {
            return Err(GooseError::UnexpectedField(tag));
        }
        Ok(GoosePdu {
            gocb_ref,
            time_allowed_to_live,
            dat_set,
            go_id,
            t,
            st_num,
            sq_num,
            simulation,
            conf_rev,
            nds_com,
            num_dat_set_entries,
            all_data,
        })
    }

    /// How many entries allData holds (without allocating: every frame is checked).
    pub fn entry_count(&self) -> Result<u32, GooseError> {
        let mut n = 0u32;
        for tlv in Reader::new(self.all_data) {
            tlv?;
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    /// The entries of allData: how many, and of which types ("boolean" ×7, "bit-string" ×18),
    /// in the order each type first appears. Nested arrays and structures count as one entry.
    pub fn data_entries(&self) -> Result<DataSummary, GooseError> {
        let mut s = DataSummary::default();
        for tlv in Reader::new(self.all_data) {
            let tlv = tlv?;
            s.count += 1;
            let name = data_type_name(tlv.tag).unwrap_or("other");
            match s.types.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => s.types.push((name, 1)),
            }
        }
        Ok(s)
    }
}

/// The entries of a dataset's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSummary {
    pub count: u32,
    pub types: Vec<(&'static str, u32)>,
}

impl std::fmt::Display for DataSummary {
    /// "25 entries: boolean ×7, bit-string ×18".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entries", self.count)?;
        for (i, (name, n)) in self.types.iter().enumerate() {
            let sep = if i == 0 { ": " } else { ", " };
            write!(f, "{sep}{name} ×{n}")?;
        }
        Ok(())
    }
}

/// An INT32U field (a BER INTEGER that must fit 0..=2^32-1).
fn unsigned(value: &[u8], field: &'static str) -> Result<u32, GooseError> {
    let v = ber::integer(value)?;
    u32::try_from(v).map_err(|_| GooseError::Range { field, value: v })
}

/// A BOOLEAN field that defaults to FALSE: one octet, non-zero is TRUE (X.690 §8.2).
fn boolean(value: Option<&[u8]>, field: &'static str) -> Result<bool, GooseError> {
    match value {
        None => Ok(false),
        Some([b]) => Ok(*b != 0),
        Some(v) => Err(GooseError::Boolean {
            field,
            len: v.len(),
        }),
    }
}
