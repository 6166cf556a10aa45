//! PNIO blocks (IEC 61158-6-10:2019, "BlockHeader" and the coding of the CM blocks): a
//! header of BlockType, BlockLength (the octets after the length, version included),
//! BlockVersionHigh and BlockVersionLow, then the content. Every field is big-endian.
//!
//! Here the block header and what every call uses: the control commands, the record read and
//! write headers (MultipleWrite and CombinedObjectContainer included), and the I&M0 record; the
//! blocks of a Connect are in `connect`.

use super::error::PnioError;
use super::rpc::{PnioStatus, Uuid};
use crate::protocols::reader::Cursor;
use otwatch_common::Mac;

/// BlockType values (IEC 61158-6-10, "BlockType").
pub mod block_type {
    pub const ALARM_NOTIFICATION_HIGH: u16 = 0x0001;
    pub const ALARM_NOTIFICATION_LOW: u16 = 0x0002;
    pub const IOD_WRITE_REQ: u16 = 0x0008;
    pub const IOD_READ_REQ: u16 = 0x0009;
    pub const IM0: u16 = 0x0020;
    pub const AR_REQ: u16 = 0x0101;
    pub const IOCR_REQ: u16 = 0x0102;
    pub const ALARM_CR_REQ: u16 = 0x0103;
    pub const EXPECTED_SUBMODULE_REQ: u16 = 0x0104;
    /// IODControlReq: PrmEnd.
    pub const PRM_END_REQ: u16 = 0x0110;
    /// IODControlReq: PrmEnd of a plugged submodule.
    pub const PLUG_PRM_END_REQ: u16 = 0x0111;
    /// IOXControlReq: ApplicationReady.
    pub const APPLICATION_READY_REQ: u16 = 0x0112;
    pub const PLUG_APPLICATION_READY_REQ: u16 = 0x0113;
    /// IODReleaseReq.
    pub const RELEASE_REQ: u16 = 0x0114;
    pub const READY_FOR_COMPANION_REQ: u16 = 0x0116;
    pub const READY_FOR_RT_CLASS_3_REQ: u16 = 0x0117;
    pub const PRM_BEGIN_REQ: u16 = 0x0118;
    /// The response of a request block is the request type with bit 15 set.
    pub const RESPONSE: u16 = 0x8000;
    pub const IOD_WRITE_RES: u16 = RESPONSE | IOD_WRITE_REQ;
    pub const IOD_READ_RES: u16 = RESPONSE | IOD_READ_REQ;
    pub const AR_RES: u16 = RESPONSE | AR_REQ;
    pub const IOCR_RES: u16 = RESPONSE | IOCR_REQ;
    pub const ALARM_CR_RES: u16 = RESPONSE | ALARM_CR_REQ;
    pub const MODULE_DIFF: u16 = RESPONSE | EXPECTED_SUBMODULE_REQ;
    /// One record inside a CombinedObjectContainer.
    pub const CO_CONTAINER_CONTENT: u16 = 0x0401;

    /// The control blocks (IODControlReq, IOXControlReq, IODReleaseReq and their responses).
    pub fn is_control(ty: u16) -> bool {
        matches!(
            ty & !RESPONSE,
            PRM_END_REQ..=RELEASE_REQ | READY_FOR_COMPANION_REQ..=PRM_BEGIN_REQ
        )
    }
}

/// Blocks looked at in one call; a Connect of a large station carries a few dozen.
const MAX_BLOCKS: usize = 256;

/// One block: its type, version and content (after the version octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    pub ty: u16,
    pub version: (u8, u8),
    pub body: &'a [u8],
}

impl<'a> Block<'a> {
    /// Reads the block at the start of `data`; returns it and the octets after it.
    pub fn parse(data: &'a [u8]) -> Result<(Block<'a>, &'a [u8]), PnioError> {
        let mut c = Cursor::new(data);
        let (ty, len) = c
            .u16_be()
            .zip(c.u16_be())
            .ok_or(PnioError::BlockTruncated)?;
        if len < 2 {
            return Err(PnioError::BlockLength { ty, len });
        }
        let content = c.take(usize::from(len)).ok_or(PnioError::BlockOverrun {
            ty,
            len,
            available: data.len().saturating_sub(4),
        })?;
        let (&[high, low], body) = content
            .split_first_chunk::<2>()
            .ok_or(PnioError::BlockLength { ty, len })?;
        Ok((
            Block {
                ty,
                version: (high, low),
                body,
            },
            c.rest(),
        ))
    }

    /// The block's content for a decoder that knows version 1.x.
    pub(super) fn v1(&self) -> Result<Cursor<'a>, PnioError> {
        match self.version {
            (1, _) => Ok(Cursor::new(self.body)),
            (high, low) => Err(PnioError::BlockVersion {
                ty: self.ty,
                high,
                low,
            }),
        }
    }

    /// The error of content too short for its block.
    pub(super) fn short(&self) -> PnioError {
        PnioError::BlockContent(self.ty)
    }
}

/// The blocks of `data`, one after another; stops after the first malformed one.
pub fn blocks(data: &[u8]) -> Blocks<'_> {
    Blocks {
        rest: data,
        count: 0,
    }
}

/// Iterator of [`blocks`].
#[derive(Debug, Clone)]
pub struct Blocks<'a> {
    rest: &'a [u8],
    count: usize,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, PnioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.count >= MAX_BLOCKS {
            return None;
        }
        self.count += 1;
        match Block::parse(self.rest) {
            Ok((b, rest)) => {
                self.rest = rest;
                Some(Ok(b))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

pub(super) fn uuid(c: &mut Cursor<'_>) -> Option<Uuid> {
    c.array().map(Uuid)
}

pub(super) fn mac(c: &mut Cursor<'_>) -> Option<Mac> {
    c.array().map(Mac)
}

/// ControlCommand bits (IEC 61158-6-10, "ControlCommand").
pub mod command {
    pub const PRM_END: u16 = 0x0001;
    pub const APPLICATION_READY: u16 = 0x0002;
    pub const RELEASE: u16 = 0x0004;
    pub const DONE: u16 = 0x0008;
    pub const READY_FOR_COMPANION: u16 = 0x0010;
    pub const READY_FOR_RT_CLASS_3: u16 = 0x0020;
    pub const PRM_BEGIN: u16 = 0x0040;

    /// The name of a command (the lowest bit set; a request sets one).
    pub fn name(c: u16) -> Option<&'static str> {
        Some(match c & c.wrapping_neg() {
            PRM_END => "PrmEnd",
            APPLICATION_READY => "ApplicationReady",
            RELEASE => "Release",
            DONE => "Done",
            READY_FOR_COMPANION => "ReadyForCompanion",
            READY_FOR_RT_CLASS_3 => "ReadyForRT_CLASS_3",
            PRM_BEGIN => "PrmBegin",
            _ => return None,
        })
    }
}

/// IODControlReq/Res, IOXControlReq/Res, IODReleaseReq/Res (0x0110-0x0118 and responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlBlock {
    pub ty: u16,
    pub ar_uuid: Uuid,
    pub session_key: u16,
    pub command: u16,
    pub properties: u16,
}

impl ControlBlock {
    pub fn parse(b: &Block<'_>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        c.skip(2).ok_or(short)?;
        let ar_uuid = uuid(&mut c).ok_or(short)?;
        let session_key = c.u16_be().ok_or(short)?;
        // Reserved, or the AlarmSequenceNumber of a plug.
        c.skip(2).ok_or(short)?;
        Ok(ControlBlock {
            ty: b.ty,
            ar_uuid,
            session_key,
            command: c.u16_be().ok_or(short)?,
            properties: c.u16_be().ok_or(short)?,
        })
    }
}

/// IODReadReqHeader, IODReadResHeader, IODWriteReqHeader, IODWriteResHeader (0x0009, 0x8009,
/// 0x0008, 0x8008): which record of which submodule, and how long. Each is a 64-octet block
/// (BlockLength 60) followed, in a write request and a read response, by the record data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub ty: u16,
    pub seq: u16,
    pub ar_uuid: Uuid,
    pub api: u32,
    pub slot: u16,
    pub subslot: u16,
    pub index: u16,
    pub record_len: u32,
    /// The write's result, in an IODWriteResHeader.
    pub status: Option<PnioStatus>,
}

impl RecordHeader {
    pub fn parse(b: &Block<'_>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        let seq = c.u16_be().ok_or(short)?;
        let ar_uuid = uuid(&mut c).ok_or(short)?;
        let api = c.u32_be().ok_or(short)?;
        let slot = c.u16_be().ok_or(short)?;
        let subslot = c.u16_be().ok_or(short)?;
        c.skip(2).ok_or(short)?;
        let index = c.u16_be().ok_or(short)?;
        let record_len = c.u32_be().ok_or(short)?;
        let status = if b.ty == block_type::IOD_WRITE_RES {
            // AdditionalValue1, AdditionalValue2, then PNIOStatus.
            c.skip(4).ok_or(short)?;
            Some(PnioStatus(c.array().ok_or(short)?))
        } else {
            None
        };
        Ok(RecordHeader {
            ty: b.ty,
            seq,
            ar_uuid,
            api,
            slot,
            subslot,
            index,
            record_len,
            status,
        })
    }

    /// Whether record data follows this header in its message.
    pub fn carries_data(&self) -> bool {
        matches!(
            self.ty,
            block_type::IOD_WRITE_REQ | block_type::IOD_READ_RES
        )
    }
}

/// One record header and the record data after it, when the message carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub header: RecordHeader,
    pub data: &'a [u8],
}

/// Reads a record header block at the start of `args` and the record data after it, for a
/// read or write request or response. `expected` is the header type the call carries; data
/// cut short by the end of `args` is a violation only when `whole` (the call is unfragmented).
pub fn record(args: &[u8], expected: u16, whole: bool) -> Result<(Record<'_>, &[u8]), PnioError> {
    let (b, rest) = Block::parse(args)?;
    if b.ty != expected {
        return Err(PnioError::BlockType {
            expected,
            found: b.ty,
        });
    }
    let header = RecordHeader::parse(&b)?;
    if !header.carries_data() {
        return Ok((Record { header, data: &[] }, rest));
    }
    let declared = usize::try_from(header.record_len).unwrap_or(usize::MAX);
    let data = match rest.get(..declared) {
        Some(d) => d,
        None if whole => {
            return Err(PnioError::RecordLength {
                declared: header.record_len,
                available: rest.len(),
            })
        }
        None => rest,
    };
    Ok((
        Record { header, data },
        rest.get(data.len()..).unwrap_or(&[]),
    ))
}

/// The records inside a MultipleWrite (index 0xE040): each nested header with its data, padded
/// to a multiple of four octets (IEC 61158-6-10, "IODWriteMultipleReq").
pub fn multiple_write(data: &[u8], whole: bool) -> MultipleWrite<'_> {
    MultipleWrite {
        rest: data,
        whole,
        count: 0,
    }
}

/// Iterator of [`multiple_write`].
#[derive(Debug, Clone)]
pub struct MultipleWrite<'a> {
    rest: &'a [u8],
    whole: bool,
    count: usize,
}

impl<'a> Iterator for MultipleWrite<'a> {
    type Item = Result<Record<'a>, PnioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.count >= MAX_BLOCKS {
            return None;
        }
        self.count += 1;
        let start = self.rest.len();
        match record(self.rest, block_type::IOD_WRITE_REQ, self.whole) {
            Ok((r, rest)) => {
                let used = start - rest.len();
                let pad = (4 - used % 4) % 4;
                self.rest = rest.get(pad..).unwrap_or(&[]);
                Some(Ok(r))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// One record of a CombinedObjectContainer (index 0x80B0): where it goes and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainedRecord<'a> {
    pub api: u32,
    pub slot: u16,
    pub subslot: u16,
    pub index: u16,
    pub data: &'a [u8],
}

/// The records of a CombinedObjectContainer's data: COContainerContent blocks (0x0401) of
/// Padding, API, SlotNumber, SubslotNumber, Padding, Index, then the record (IEC 61158-6-10,
/// "COContainerContent").
pub fn co_container(
    data: &[u8],
) -> impl Iterator<Item = Result<ContainedRecord<'_>, PnioError>> + '_ {
    blocks(data).map(|b| {
        let b = b?;
        if b.ty != block_type::CO_CONTAINER_CONTENT {
            return Err(PnioError::BlockType {
                expected: block_type::CO_CONTAINER_CONTENT,
                found: b.ty,
            });
        }
        let mut c = b.v1()?;
        let short = b.short();
        c.skip(2).ok_or(short)?;
        let api = c.u32_be().ok_or(short)?;
        let slot = c.u16_be().ok_or(short)?;
        let subslot = c.u16_be().ok_or(short)?;
        c.skip(2).ok_or(short)?;
        let index = c.u16_be().ok_or(short)?;
        Ok(ContainedRecord {
            api,
            slot,
            subslot,
            index,
            data: c.rest(),
        })
    })
}

/// The results of a MultipleWrite: one IODWriteResHeader a record.
pub fn multiple_write_results(
    data: &[u8],
) -> impl Iterator<Item = Result<RecordHeader, PnioError>> + '_ {
    blocks(data).map(|b| {
        let b = b?;
        if b.ty != block_type::IOD_WRITE_RES {
            return Err(PnioError::BlockType {
                expected: block_type::IOD_WRITE_RES,
                found: b.ty,
            });
        }
        RecordHeader::parse(&b)
    })
}

/// The I&M0 record (index 0xAFF0; PROFIBUS guideline "Identification & Maintenance Functions"
/// and IEC 61158-6-10, "I&M0"): the electronic rating plate of a (sub)module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Im0<'a> {
    pub vendor_id: u16,
    /// OrderID, 20 visible characters padded with blanks.
    pub order_id: &'a [u8],
    /// IM_Serial_Number, 16 visible characters.
    pub serial_number: &'a [u8],
    pub hardware_revision: u16,
    /// IM_Software_Revision: prefix ('V', 'R', 'P', 'U' or 'T'), functional enhancement, bug
    /// fix, internal change.
    pub software_revision: (u8, u8, u8, u8),
    pub revision_counter: u16,
    pub profile_id: u16,
    pub profile_specific_type: u16,
    pub im_version: (u8, u8),
    pub im_supported: u16,
}

impl<'a> Im0<'a> {
    pub fn parse(b: &Block<'a>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        let vendor_id = c.u16_be().ok_or(short)?;
        let order_id = c.take(20).ok_or(short)?;
        let serial_number = c.take(16).ok_or(short)?;
        let hardware_revision = c.u16_be().ok_or(short)?;
        let [p, fe, bf, ic] = c.array().ok_or(short)?;
        let revision_counter = c.u16_be().ok_or(short)?;
        let profile_id = c.u16_be().ok_or(short)?;
        let profile_specific_type = c.u16_be().ok_or(short)?;
        let [major, minor] = c.array().ok_or(short)?;
        let im_supported = c.u16_be().ok_or(short)?;
        Ok(Im0 {
            vendor_id,
            order_id,
            serial_number,
            hardware_revision,
            software_revision: (p, fe, bf, ic),
            revision_counter,
            profile_id,
            profile_specific_type,
            im_version: (major, minor),
            im_supported,
        })
    }

    /// The software revision as devices print it: "V2.3.1" (prefix, functional enhancement,
    /// bug fix, internal change). `None` when the prefix is not one of the five letters.
    pub fn firmware(&self) -> Option<String> {
        let (p, fe, bf, ic) = self.software_revision;
        matches!(p, b'V' | b'R' | b'P' | b'U' | b'T')
            .then(|| format!("{}{fe}.{bf}.{ic}", char::from(p)))
    }
}
