//! PNIO blocks (IEC 61158-6-10:2019, "BlockHeader" and the coding of the CM blocks): a
//! header of BlockType, BlockLength (the octets after the length, version included),
//! BlockVersionHigh and BlockVersionLow, then the content. Every field is big-endian.
//!
//! The blocks read here are those that name the two ends of an application relation (AR) and
//! say what they do: the AR, IOCR and alarm CR of a Connect, the expected submodules, the
//! control commands, the record read and write headers, and the I&M0 record.

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
        matches!(ty & !RESPONSE, PRM_END_REQ..=RELEASE_REQ | READY_FOR_COMPANION_REQ..=PRM_BEGIN_REQ)
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
    fn v1(&self) -> Result<Cursor<'a>, PnioError> {
        match self.version {
            (1, _) => Ok(Cursor::new(self.body)),
            (high, low) => Err(PnioError::BlockVersion {
                ty: self.ty,
                high,
                low,
            }),
        }
    }

    fn short(&self) -> PnioError {
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

fn uuid(c: &mut Cursor<'_>) -> Option<Uuid> {
    c.array().map(Uuid)
}

fn mac(c: &mut Cursor<'_>) -> Option<Mac> {
    c.array().map(Mac)
}

/// ARType values (IEC 61158-6-10, "ARType").
pub mod ar_type {
    pub const IOCAR_SINGLE: u16 = 0x0001;
    pub const IOCAR_CIR: u16 = 0x0003;
    pub const IOCAR_CONTROLLER_REDUNDANT: u16 = 0x0004;
    pub const IOCAR_DEVICE_REDUNDANT: u16 = 0x0005;
    /// Supervisor AR, also the DeviceAccess AR of engineering tools.
    pub const IOSAR: u16 = 0x0006;
    pub const IOCAR_SINGLE_RT_CLASS_3: u16 = 0x0010;
    pub const IOCAR_SR: u16 = 0x0020;

    /// An AR an IO controller opens (every type but the supervisor's).
    pub fn is_controller(t: u16) -> bool {
        matches!(
            t,
            IOCAR_SINGLE
                | IOCAR_CIR
                | IOCAR_CONTROLLER_REDUNDANT
                | IOCAR_DEVICE_REDUNDANT
                | IOCAR_SINGLE_RT_CLASS_3
                | IOCAR_SR
        )
    }

    pub fn name(t: u16) -> Option<&'static str> {
        Some(match t {
            IOCAR_SINGLE => "IOCARSingle",
            IOCAR_CIR => "IOCARCIR",
            IOCAR_CONTROLLER_REDUNDANT => "IOCAR controller redundant",
            IOCAR_DEVICE_REDUNDANT => "IOCAR device redundant",
            IOSAR => "IOSAR",
            IOCAR_SINGLE_RT_CLASS_3 => "IOCARSingle RT_CLASS_3",
            IOCAR_SR => "IOCARSR",
            _ => return None,
        })
    }
}

/// ARBlockReq (0x0101): the AR an IO controller or supervisor asks for, and who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArBlockReq<'a> {
    pub ar_type: u16,
    pub ar_uuid: Uuid,
    pub session_key: u16,
    pub initiator_mac: Mac,
    /// CMInitiatorObjectUUID: DEA00000-6C97-11D1-8271-{instance}{device}{vendor} of the initiator.
    pub initiator_object: Uuid,
    pub properties: u32,
    pub activity_timeout_factor: u16,
    pub udp_rt_port: u16,
    /// CMInitiatorStationName: the initiator's NameOfStation.
    pub station_name: &'a [u8],
}

impl<'a> ArBlockReq<'a> {
    pub fn parse(b: &Block<'a>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        let ar_type = c.u16_be().ok_or(short)?;
        let ar_uuid = uuid(&mut c).ok_or(short)?;
        let session_key = c.u16_be().ok_or(short)?;
        let initiator_mac = mac(&mut c).ok_or(short)?;
        let initiator_object = uuid(&mut c).ok_or(short)?;
        let properties = c.u32_be().ok_or(short)?;
        let activity_timeout_factor = c.u16_be().ok_or(short)?;
        let udp_rt_port = c.u16_be().ok_or(short)?;
        let name_len = c.u16_be().ok_or(short)?;
        let station_name = c.take(usize::from(name_len)).ok_or(short)?;
        Ok(ArBlockReq {
            ar_type,
            ar_uuid,
            session_key,
            initiator_mac,
            initiator_object,
            properties,
            activity_timeout_factor,
            udp_rt_port,
            station_name,
        })
    }
}

/// ARBlockRes (0x8101): the device's answer, with the MAC it uses for the AR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArBlockRes {
    pub ar_type: u16,
    pub ar_uuid: Uuid,
    pub session_key: u16,
    pub responder_mac: Mac,
    pub udp_rt_port: u16,
}

impl ArBlockRes {
    pub fn parse(b: &Block<'_>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        Ok(ArBlockRes {
            ar_type: c.u16_be().ok_or(short)?,
            ar_uuid: uuid(&mut c).ok_or(short)?,
            session_key: c.u16_be().ok_or(short)?,
            responder_mac: mac(&mut c).ok_or(short)?,
            udp_rt_port: c.u16_be().ok_or(short)?,
        })
    }
}

/// IOCRType values.
pub mod iocr_type {
    pub const INPUT: u16 = 1;
    pub const OUTPUT: u16 = 2;
    pub const MULTICAST_PROVIDER: u16 = 3;
    pub const MULTICAST_CONSUMER: u16 = 4;
}

/// IOCRBlockReq (0x0102): one cyclic communication relation of the AR, input (device to
/// controller) or output, with its frame and timing. The per-API lists of IO data objects and
/// IOCS that follow are checked to fit, and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IocrBlockReq {
    pub iocr_type: u16,
    pub reference: u16,
    /// LT: the ethertype (0x8892) or 0x0800 for RT over UDP.
    pub lt: u16,
    pub properties: u32,
    pub data_length: u16,
    pub frame_id: u16,
    pub send_clock_factor: u16,
    pub reduction_ratio: u16,
    pub phase: u16,
    pub frame_send_offset: u32,
    pub watchdog_factor: u16,
    pub data_hold_factor: u16,
    pub multicast_mac: Mac,
    pub apis: u16,
    pub io_data_objects: u32,
    pub iocs: u32,
}

impl IocrBlockReq {
    /// RT class from IOCRProperties bits 0-3 (1, 2, 3, 4 = RT_CLASS_UDP).
    pub fn rt_class(&self) -> u32 {
        self.properties & 0x0f
    }

    pub fn parse(b: &Block<'_>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        let mut u16_ = || c.u16_be().ok_or(short);
        let (iocr_type, reference, lt) = (u16_()?, u16_()?, u16_()?);
        let properties = c.u32_be().ok_or(short)?;
        let mut u16_ = || c.u16_be().ok_or(short);
        let data_length = u16_()?;
        let frame_id = u16_()?;
        let send_clock_factor = u16_()?;
        let reduction_ratio = u16_()?;
        let phase = u16_()?;
        let _sequence = u16_()?;
        let frame_send_offset = c.u32_be().ok_or(short)?;
        let mut u16_ = || c.u16_be().ok_or(short);
        let watchdog_factor = u16_()?;
        let data_hold_factor = u16_()?;
        let _tag_header = u16_()?;
        let multicast_mac = mac(&mut c).ok_or(short)?;
        let apis = c.u16_be().ok_or(short)?;
        let (mut io_data_objects, mut iocs) = (0u32, 0u32);
        for _ in 0..apis {
            let _api = c.u32_be().ok_or(short)?;
            // (SlotNumber, SubslotNumber, FrameOffset) per IO data object, then per IOCS.
            for count in [&mut io_data_objects, &mut iocs] {
                let n = c.u16_be().ok_or(short)?;
                c.skip(usize::from(n) * 6).ok_or(short)?;
                *count += u32::from(n);
            }
        }
        Ok(IocrBlockReq {
            iocr_type,
            reference,
            lt,
            properties,
            data_length,
            frame_id,
            send_clock_factor,
            reduction_ratio,
            phase,
            frame_send_offset,
            watchdog_factor,
            data_hold_factor,
            multicast_mac,
            apis,
            io_data_objects,
            iocs,
        })
    }
}

/// IOCRBlockRes (0x8102): the frame id the device chose for a CR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IocrBlockRes {
    pub iocr_type: u16,
    pub reference: u16,
    pub frame_id: u16,
}

impl IocrBlockRes {
    pub fn parse(b: &Block<'_>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        Ok(IocrBlockRes {
            iocr_type: c.u16_be().ok_or(short)?,
            reference: c.u16_be().ok_or(short)?,
            frame_id: c.u16_be().ok_or(short)?,
        })
    }
}

/// AlarmCRBlockReq (0x0103): the acyclic alarm channel of the AR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmCrBlockReq {
    pub alarm_cr_type: u16,
    pub lt: u16,
    pub properties: u32,
    pub rta_timeout_factor: u16,
    pub rta_retries: u16,
    pub local_alarm_reference: u16,
    pub max_alarm_data_length: u16,
    pub tag_header_high: u16,
    pub tag_header_low: u16,
}

impl AlarmCrBlockReq {
    pub fn parse(b: &Block<'_>) -> Result<Self, PnioError> {
        let mut c = b.v1()?;
        let short = b.short();
        let alarm_cr_type = c.u16_be().ok_or(short)?;
        let lt = c.u16_be().ok_or(short)?;
        let properties = c.u32_be().ok_or(short)?;
        let mut u16_ = || c.u16_be().ok_or(short);
        Ok(AlarmCrBlockReq {
            alarm_cr_type,
            lt,
            properties,
            rta_timeout_factor: u16_()?,
            rta_retries: u16_()?,
            local_alarm_reference: u16_()?,
            max_alarm_data_length: u16_()?,
            tag_header_high: u16_()?,
            tag_header_low: u16_()?,
        })
    }
}

/// One submodule the controller expects (ExpectedSubmoduleBlockReq, 0x0104).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedSubmodule {
    pub api: u32,
    pub slot: u16,
    pub module_ident: u32,
    pub subslot: u16,
    pub submodule_ident: u32,
    /// SubmoduleProperties bits 0-1: 0 no IO, 1 input, 2 output, 3 input and output.
    pub io_type: u16,
}

/// Calls `f` with every submodule of an ExpectedSubmoduleBlockReq, in order: NumberOfAPIs, then
/// per API and slot (API, SlotNumber, ModuleIdentNumber, ModuleProperties, NumberOfSubmodules)
/// the submodules (SubslotNumber, SubmoduleIdentNumber, SubmoduleProperties, one DataDescription
/// of six octets, two for an input-and-output submodule). Returns how many there were.
pub fn expected_submodules(
    b: &Block<'_>,
    mut f: impl FnMut(ExpectedSubmodule),
) -> Result<u32, PnioError> {
    let mut c = b.v1()?;
    let short = b.short();
    let mut count = 0u32;
    let apis = c.u16_be().ok_or(short)?;
    for _ in 0..apis {
        let api = c.u32_be().ok_or(short)?;
        let slot = c.u16_be().ok_or(short)?;
        let module_ident = c.u32_be().ok_or(short)?;
        let _module_properties = c.u16_be().ok_or(short)?;
        let submodules = c.u16_be().ok_or(short)?;
        for _ in 0..submodules {
            let subslot = c.u16_be().ok_or(short)?;
            let submodule_ident = c.u32_be().ok_or(short)?;
            let properties = c.u16_be().ok_or(short)?;
            let io_type = properties & 0x03;
            let descriptions = if io_type == 3 { 2 } else { 1 };
            c.skip(6 * descriptions).ok_or(short)?;
            count += 1;
            f(ExpectedSubmodule {
                api,
                slot,
                module_ident,
                subslot,
                submodule_ident,
                io_type,
            });
        }
    }
    Ok(count)
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
