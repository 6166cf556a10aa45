//! The blocks of a Connect (IEC 61158-6-10:2019, the CM blocks of "IODConnectReq" and
//! "IODConnectRes"): the AR the initiator asks for and who it is, the device's answer with its
//! MAC, the cyclic (IOCR) and alarm (AlarmCR) communication relations, and the submodules the
//! controller expects. Every field is big-endian.

use super::blocks::{mac, uuid, Block};
use super::error::PnioError;
use super::rpc::Uuid;
use otwatch_common::Mac;

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
