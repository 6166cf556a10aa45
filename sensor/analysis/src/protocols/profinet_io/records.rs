//! Record indexes (IEC 61158-6-10:2019, "Index"): what reading or writing one does,
//! in the shared operation vocabulary, and the names evidence shows.
//!
//! 0x0000-0x7FFF are user (manufacturer) parameter records, written by the controller at every
//! start of an AR and by engineering tools; 0x8000 and up are defined by the standard, per
//! subslot (0x8xxx), slot (0xCxxx), AR (0xExxx), API (0xF0xx) and device (0xF8xx).

use otwatch_common::observation::Operation;

/// I&M0: the rating plate (vendor, order id, serial, hardware and software revision).
pub const IM0: u16 = 0xaff0;
/// I&M1 (tag function and location), I&M2 (installation date), I&M3 (descriptor), I&M4
/// (signature, which PROFIsafe uses for the safety parameters' checksum).
pub const IM1: u16 = 0xaff1;
pub const IM4: u16 = 0xaff4;
/// I&M5 to I&M15 are reserved or profile-specific.
pub const IM15: u16 = 0xafff;
/// I&M0FilterData: which submodules carry I&M data.
pub const IM0_FILTER_DATA: u16 = 0xf840;
/// MultipleWrite: several records in one write.
pub const MULTIPLE_WRITE: u16 = 0xe040;
/// CombinedObjectContainer: several records of one submodule (its PDEV settings) in one.
pub const COMBINED_OBJECT_CONTAINER: u16 = 0x80b0;

/// The highest user (manufacturer parameter) index.
pub const USER_MAX: u16 = 0x7fff;

/// What reading record `index` is: identification (I&M, I&M0FilterData, the identification
/// data a submodule reports), diagnostics (the diagnosis, maintenance and log records), else a
/// read.
pub fn read_operation(index: u16) -> Operation {
    match index {
        IM0..=IM15 | IM0_FILTER_DATA | 0x8001 | 0xc001 | 0xe001 | 0xf000 => Operation::Identify,
        _ if is_diagnosis(index) => Operation::Diagnostics,
        _ => Operation::Read,
    }
}

/// Diagnosis and maintenance records per subslot, slot, AR and API (0x_00A-0x_00C,
/// 0x_010-0x_013 with _ = 0x80, 0xC0, 0xE0, 0xF0), the device's (0xF80C) and the log (0xF830).
fn is_diagnosis(index: u16) -> bool {
    let scope = index & 0xff00;
    let item = index & 0x00ff;
    (matches!(scope, 0x8000 | 0xc000 | 0xe000 | 0xf000)
        && matches!(item, 0x0a..=0x0c | 0x10..=0x13))
        || matches!(index, 0xf80c | 0xf830)
}

/// What writing record `index` is, and the setting a configuration change touches: writing
/// I&M1 to I&M4 rewrites what identifies the device in the plant (its tag, location,
/// installation date, descriptor, signature) and is a configuration change; parameter records
/// (user and standard ones, the PDEV port and interface settings included) are writes, because
/// a controller writes them at every start of an AR.
pub fn write_operation(index: u16) -> (Operation, Option<&'static str>) {
    match index {
        IM1..=IM4 => (Operation::ConfigChange, Some("identification")),
        _ => (Operation::Write, None),
    }
}

/// The name of a standard record index, for evidence.
pub fn name(index: u16) -> Option<&'static str> {
    Some(match index {
        0..=USER_MAX => "user parameter",
        0x8000 => "ExpectedIdentificationData",
        0x8001 => "RealIdentificationData",
        0x800a..=0x800c | 0xc00a..=0xc00c | 0xe00a..=0xe00c | 0xf00a..=0xf00c | 0xf80c => {
            "diagnosis"
        }
        0x8010..=0x8013 | 0xc010..=0xc013 | 0xe010..=0xe013 | 0xf010..=0xf013 => "maintenance",
        0x8028 => "RecordInputDataObjectElement",
        0x8029 => "RecordOutputDataObjectElement",
        0x802a => "PDPortDataReal",
        0x802b => "PDPortDataCheck",
        0x802c => "PDIRData",
        0x802f => "PDPortDataAdjust",
        0x8051 => "PDInterfaceMrpDataCheck",
        0x8052 => "PDInterfaceMrpDataAdjust",
        0x8071 => "PDInterfaceAdjust",
        0x8080 => "PDInterfaceDataReal",
        COMBINED_OBJECT_CONTAINER => "CombinedObjectContainer",
        IM0 => "I&M0",
        0xaff1 => "I&M1",
        0xaff2 => "I&M2",
        0xaff3 => "I&M3",
        IM4 => "I&M4",
        0xe002 => "ModuleDiffBlock",
        MULTIPLE_WRITE => "MultipleWrite",
        0xf830 => "LogData",
        0xf831 => "PDevData",
        IM0_FILTER_DATA => "I&M0FilterData",
        0xf841 => "PDRealData",
        0xf842 => "PDExpectedData",
        _ => return None,
    })
}

/// How a record is named in evidence: "api 0 slot 1 subslot 0x0001 index 0x01f4 (user
/// parameter)".
pub fn describe(api: u32, slot: u16, subslot: u16, index: u16) -> String {
    match name(index) {
        Some(n) => {
            format!("api {api} slot {slot} subslot {subslot:#06x} index {index:#06x} ({n})")
        }
        None => format!("api {api} slot {slot} subslot {subslot:#06x} index {index:#06x}"),
    }
}
