//! PROFINET real-time frames (ethertype 0x8892) other than DCP: what each FrameID range is
//! (IEC 61158-6-10:2019, "FrameID"; the ranges as Wireshark's `packet-pn-rt.c` names them),
//! and the alarm PDUs of the acyclic channel (RTA-PDU: AlarmDstEndpoint, AlarmSrcEndpoint,
//! PDUType, AddFlags, SendSeqNum, AckSeqNum, VarPartLen, then the AlarmNotification block).
//!
//! Cyclic frames carry IO data between an IO controller and an IO device in both directions
//! (an IO controller AR always has an input and an output CR), so each end of a relation sends
//! them and each sender is marked as speaking `profinet_io`. The IO data itself is not decoded:
//! its layout lives in the Connect request and the GSD file. Alarm notifications name the
//! condition a device reports (diagnosis, pull, plug ...) and the submodule. DCP frames are
//! left to `profinet_dcp`, PTCP (time sync) frames and fragments are only classified.

use super::blocks::{block_type, Block};
use super::error::PnioError;
use super::rpc::PnioStatus;
use crate::protocols::reader::Cursor;
use crate::protocols::{frame_sender, source};
use otwatch_common::observation::{Field, Observation, Role};
use otwatch_common::{Mac, Timestamp};

/// The protocol cyclic data and alarms are reported as (the CM's too).
const PROTOCOL: &str = super::PROTOCOL;

/// What a FrameID says a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    /// Cyclic IO data of RT class 3 (isochronous, 0x0100-0x0FFF).
    Rtc3,
    /// Cyclic IO data of RT class 1 (0x8000-0xBFFF since PROFINET 2.3, RT class 2 before).
    Rtc1,
    /// Cyclic IO data of RT class 1 as PROFINET before 2.3 numbered it (0xC000-0xFBFF), also
    /// RT_CLASS_UDP.
    Rtc1Legacy,
    /// Acyclic alarm, high priority (0xFC01).
    AlarmHigh,
    /// Acyclic alarm, low priority (0xFE01).
    AlarmLow,
    /// DCP (0xFEFC-0xFEFF).
    Dcp,
    /// PTCP time synchronisation: sync (0x0020-0x0021, 0x0080-0x0081), announce (0xFF00-0xFF01),
    /// follow up (0xFF20-0xFF21) and delay (0xFF40-0xFF43).
    Ptcp,
    /// Fragments of a larger RT frame (0xFF80-0xFF8F).
    Fragment,
    /// Anything else: reserved identifiers and RSI (0xFE02).
    Other,
}

impl FrameClass {
    pub fn of(frame_id: u16) -> FrameClass {
        match frame_id {
            0x0020..=0x0021 | 0x0080..=0x0081 => FrameClass::Ptcp,
            0x0100..=0x0fff => FrameClass::Rtc3,
            0x8000..=0xbfff => FrameClass::Rtc1,
            0xc000..=0xfbff => FrameClass::Rtc1Legacy,
            0xfc01 => FrameClass::AlarmHigh,
            0xfe01 => FrameClass::AlarmLow,
            0xfefc..=0xfeff => FrameClass::Dcp,
            0xff00..=0xff01 | 0xff20..=0xff21 | 0xff40..=0xff43 => FrameClass::Ptcp,
            0xff80..=0xff8f => FrameClass::Fragment,
            _ => FrameClass::Other,
        }
    }

    pub fn is_cyclic(self) -> bool {
        matches!(
            self,
            FrameClass::Rtc3 | FrameClass::Rtc1 | FrameClass::Rtc1Legacy
        )
    }
}

/// The APDU status a cyclic frame ends with: CycleCounter, DataStatus, TransferStatus.
pub const APDU_STATUS_LEN: usize = 4;

/// RTA PDU types (PDUType bits 0-3).
pub mod pdu_type {
    pub const DATA: u8 = 1;
    pub const NACK: u8 = 2;
    pub const ACK: u8 = 3;
    pub const ERR: u8 = 4;
}

/// The fixed part of an RTA PDU, and what its VarPart holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtaPdu<'a> {
    pub dst_endpoint: u16,
    pub src_endpoint: u16,
    pub pdu_type: u8,
    pub version: u8,
    pub send_seq: u16,
    pub ack_seq: u16,
    pub var_part: &'a [u8],
}

impl<'a> RtaPdu<'a> {
    /// Reads the RTA PDU after the FrameID (octets past VarPartLen are frame padding).
    pub fn parse(data: &'a [u8]) -> Result<Self, PnioError> {
        let mut c = Cursor::new(data);
        let t = PnioError::RtaTruncated;
        let dst_endpoint = c.u16_be().ok_or(t)?;
        let src_endpoint = c.u16_be().ok_or(t)?;
        let [ty, _add_flags] = c.array().ok_or(t)?;
        let send_seq = c.u16_be().ok_or(t)?;
        let ack_seq = c.u16_be().ok_or(t)?;
        let var_len = c.u16_be().ok_or(t)?;
        let pdu_type = ty & 0x0f;
        if !(pdu_type::DATA..=pdu_type::ERR).contains(&pdu_type) {
            return Err(PnioError::RtaType(pdu_type));
        }
        let var_part = c.take(usize::from(var_len)).ok_or(PnioError::RtaLength {
            declared: var_len,
            available: c.remaining(),
        })?;
        Ok(RtaPdu {
            dst_endpoint,
            src_endpoint,
            pdu_type,
            version: ty >> 4,
            send_seq,
            ack_seq,
            var_part,
        })
    }

    /// The abort reason an ERR-RTA-PDU carries.
    pub fn error_status(&self) -> Option<PnioStatus> {
        (self.pdu_type == pdu_type::ERR)
            .then(|| self.var_part.first_chunk::<4>().copied().map(PnioStatus))
            .flatten()
    }
}

/// An AlarmNotification (blocks 0x0001 high and 0x0002 low): which condition, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmNotification {
    pub high: bool,
    pub alarm_type: u16,
    pub api: u32,
    pub slot: u16,
    pub subslot: u16,
    pub module_ident: u32,
    pub submodule_ident: u32,
    pub specifier: u16,
}

impl AlarmNotification {
    /// The AlarmNotification block at the start of a DATA-RTA-PDU's VarPart, if it is one (an
    /// AlarmAck, 0x8001/0x8002, answers it and is not one).
    pub fn parse(var_part: &[u8]) -> Result<Option<Self>, PnioError> {
        let (b, _) = Block::parse(var_part)?;
        let high = match b.ty {
            block_type::ALARM_NOTIFICATION_HIGH => true,
            block_type::ALARM_NOTIFICATION_LOW => false,
            _ => return Ok(None),
        };
        let mut c = Cursor::new(b.body);
        let short = PnioError::BlockContent(b.ty);
        Ok(Some(AlarmNotification {
            high,
            alarm_type: c.u16_be().ok_or(short)?,
            api: c.u32_be().ok_or(short)?,
            slot: c.u16_be().ok_or(short)?,
            subslot: c.u16_be().ok_or(short)?,
            module_ident: c.u32_be().ok_or(short)?,
            submodule_ident: c.u32_be().ok_or(short)?,
            specifier: c.u16_be().ok_or(short)?,
        }))
    }

    /// How the condition reads as evidence: "alarm Diagnosis (low priority) api 0 slot 1
    /// subslot 0x0001".
    pub fn describe(&self) -> String {
        let priority = if self.high { "high" } else { "low" };
        let (api, slot, subslot) = (self.api, self.slot, self.subslot);
        let place = format!("api {api} slot {slot} subslot {subslot:#06x}");
        match alarm_type_name(self.alarm_type) {
            Some(n) => format!("alarm {n} ({priority} priority) {place}"),
            None => format!(
                "alarm type {:#06x} ({priority} priority) {place}",
                self.alarm_type
            ),
        }
    }
}

/// AlarmType names (IEC 61158-6-10, "AlarmType").
pub fn alarm_type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0001 => "Diagnosis",
        0x0002 => "Process",
        0x0003 => "Pull",
        0x0004 => "Plug",
        0x0005 => "Status",
        0x0006 => "Update",
        0x0007 => "Redundancy",
        0x0008 => "Controlled by supervisor",
        0x0009 => "Released",
        0x000a => "Plug wrong submodule",
        0x000b => "Return of submodule",
        0x000c => "Diagnosis disappears",
        0x000d => "Multicast communication mismatch",
        0x000e => "Port data change",
        0x000f => "Sync data changed",
        0x0010 => "Isochronous mode problem",
        0x0011 => "Network component problem",
        0x0012 => "Time data changed",
        0x0013 => "Dynamic frame packing problem",
        0x001e => "Upload and retrieval",
        0x001f => "Pull module",
        _ => return None,
    })
}

/// [`FrameDissector`](crate::protocols::FrameDissector) for PROFINET RT frames: `payload`
/// starts at the FrameID.
pub fn parse_frame(src: Mac, payload: &[u8], _ts: Timestamp, out: &mut Vec<Observation>) {
    // A frame too short for a FrameID is DCP's to report.
    let Some((&[f0, f1], rest)) = payload.split_first_chunk::<2>() else {
        return;
    };
    let frame_id = u16::from_be_bytes([f0, f1]);
    let class = FrameClass::of(frame_id);
    let alarm = matches!(class, FrameClass::AlarmHigh | FrameClass::AlarmLow);
    if !class.is_cyclic() && !alarm {
        return;
    }
    if class.is_cyclic() && rest.len() < APDU_STATUS_LEN {
        out.push(crate::protocols::violation(
            PROTOCOL,
            PnioError::CyclicTruncated(frame_id),
        ));
        return;
    }
    let Some(subject) = frame_sender(PROTOCOL, "PROFINET RT", src, out) else {
        return;
    };
    // Both ends of an IO relation provide data (and alarms go both ways, with their acks):
    // the sender provides, the role says no more than that.
    out.push(Observation::Speaks {
        subject,
        protocol: PROTOCOL,
        role: Role::Server,
        port: 0,
    });
    if alarm {
        match RtaPdu::parse(rest).and_then(|p| {
            if p.pdu_type == pdu_type::DATA {
                AlarmNotification::parse(p.var_part)
            } else {
                Ok(None)
            }
        }) {
            Ok(Some(n)) => out.push(Observation::Identity {
                subject,
                field: Field::Status,
                value: n.describe(),
                source: source::PROFINET_IO_ALARM,
            }),
            Ok(None) => {}
            Err(e) => out.push(crate::protocols::violation(PROTOCOL, e)),
        }
    }
}
