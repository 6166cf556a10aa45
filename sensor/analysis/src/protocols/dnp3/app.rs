//! DNP3 application layer (IEEE 1815-2012 clause 4): the fragment header, function codes and a
//! walk over object headers that checks each header's qualifier and that the objects it
//! announces fit in the fragment.
//!
//! The walk knows the size of the fixed-size objects of IEEE 1815-2012 Annex A (checked against
//! Wireshark's `packet-dnp.c` object table); on an object it has no size for (a vendor group, a
//! variation it does not list) it stops quietly, because the rest of the fragment cannot be
//! framed without that size. Only what is certainly wrong is an error: a reserved qualifier
//! code, a range that runs backwards, or objects that run past the end of the fragment.

use crate::protocols::reader::Cursor;
use otwatch_common::observation::Operation;

/// Application function codes (IEEE 1815-2012 clause 4, function code tables).
pub mod function {
    pub const CONFIRM: u8 = 0;
    pub const READ: u8 = 1;
    pub const WRITE: u8 = 2;
    pub const SELECT: u8 = 3;
    pub const OPERATE: u8 = 4;
    pub const DIRECT_OPERATE: u8 = 5;
    pub const DIRECT_OPERATE_NR: u8 = 6;
    pub const IMMEDIATE_FREEZE: u8 = 7;
    pub const FREEZE_CLEAR_NR: u8 = 10;
    pub const FREEZE_AT_TIME: u8 = 11;
    pub const FREEZE_AT_TIME_NR: u8 = 12;
    pub const COLD_RESTART: u8 = 13;
    pub const WARM_RESTART: u8 = 14;
    pub const INITIALIZE_DATA: u8 = 15;
    pub const INITIALIZE_APPLICATION: u8 = 16;
    pub const START_APPLICATION: u8 = 17;
    pub const STOP_APPLICATION: u8 = 18;
    pub const SAVE_CONFIGURATION: u8 = 19;
    pub const ENABLE_UNSOLICITED: u8 = 20;
    pub const DISABLE_UNSOLICITED: u8 = 21;
    pub const ASSIGN_CLASS: u8 = 22;
    pub const DELAY_MEASURE: u8 = 23;
    pub const RECORD_CURRENT_TIME: u8 = 24;
    pub const OPEN_FILE: u8 = 25;
    pub const CLOSE_FILE: u8 = 26;
    pub const DELETE_FILE: u8 = 27;
    pub const GET_FILE_INFO: u8 = 28;
    pub const AUTHENTICATE_FILE: u8 = 29;
    pub const ABORT_FILE: u8 = 30;
    pub const ACTIVATE_CONFIG: u8 = 31;
    pub const RESPONSE: u8 = 129;
    pub const UNSOLICITED_RESPONSE: u8 = 130;
    pub const AUTHENTICATE_RESPONSE: u8 = 131;
}

/// The operation a request function code performs, `None` for confirmations, responses and
/// the secure-authentication exchange (reported as bare function codes).
pub fn operation(code: u8) -> Option<Operation> {
    use function::*;
    Some(match code {
        READ => Operation::Read,
        // A write whose objects are all g50 time objects is a time sync; the caller decides.
        WRITE => Operation::Write,
        // Control relay output blocks and analog output blocks (clause 4, controls).
        SELECT..=DIRECT_OPERATE_NR => Operation::Control,
        // Counter freezes (clause 4, freeze).
        IMMEDIATE_FREEZE..=FREEZE_AT_TIME_NR => Operation::Control,
        COLD_RESTART | WARM_RESTART => Operation::Restart,
        // Initialize data / application change what runs, without a start or stop.
        INITIALIZE_DATA | INITIALIZE_APPLICATION => Operation::Control,
        START_APPLICATION => Operation::CpuStart,
        STOP_APPLICATION => Operation::CpuStop,
        // Save configuration makes the running configuration the one the outstation starts
        // with; activate configuration puts a new one to work (clause 4).
        SAVE_CONFIGURATION | ACTIVATE_CONFIG => Operation::ConfigChange,
        // Which class the outstation reports points in: routine polling set-up.
        ASSIGN_CLASS => Operation::Write,
        ENABLE_UNSOLICITED | DISABLE_UNSOLICITED => Operation::Control,
        DELAY_MEASURE | RECORD_CURRENT_TIME => Operation::TimeSync,
        // Open, close, delete, get info, authenticate, abort (clause 4, file transfer).
        OPEN_FILE..=ABORT_FILE => Operation::FileTransfer,
        _ => return None,
    })
}

/// True for the codes an outstation sends (clause 4: 129-131).
pub fn is_response(code: u8) -> bool {
    matches!(
        code,
        function::RESPONSE | function::UNSOLICITED_RESPONSE | function::AUTHENTICATE_RESPONSE
    )
}

/// Internal indications (clause 4), first octet then second.
pub mod iin {
    pub const DEVICE_RESTART: u16 = 0x8000;
    pub const DEVICE_TROUBLE: u16 = 0x4000;
    pub const NEED_TIME: u16 = 0x1000;
    pub const NO_FUNC_CODE_SUPPORT: u16 = 0x0001;
    pub const OBJECT_UNKNOWN: u16 = 0x0002;
    pub const PARAMETER_ERROR: u16 = 0x0004;
    pub const CONFIG_CORRUPT: u16 = 0x0020;
}

/// The header of one application fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppHeader {
    /// Application control (clause 4): FIR 0x80, FIN 0x40, CON 0x20, UNS 0x10, SEQ 0x0f.
    pub control: u8,
    pub function: u8,
    /// Internal indications, responses only (clause 4).
    pub iin: Option<u16>,
}

impl AppHeader {
    /// UNS: the fragment is (or confirms) an unsolicited response.
    pub fn unsolicited(&self) -> bool {
        self.control & 0x10 != 0
    }
}

/// Why an application fragment is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("application header truncated")]
    HeaderTruncated,
    #[error("object header truncated")]
    ObjectHeaderTruncated,
    #[error("reserved object qualifier {0:#04x}")]
    ReservedQualifier(u8),
    #[error("object range start {start} after stop {stop}")]
    RangeBackwards { start: u32, stop: u32 },
    #[error("g{group}v{variation} objects run past the end of the fragment")]
    DataTruncated { group: u8, variation: u8 },
    #[error("qualifier {qualifier:#04x} cannot frame g{group}v{variation} object data")]
    NoDataLayout {
        group: u8,
        variation: u8,
        qualifier: u8,
    },
}

/// Splits a fragment into its header and the object headers that follow (clause 4): control
/// and function code, then two IIN octets in a response.
pub fn parse_header(fragment: &[u8]) -> Result<(AppHeader, &[u8]), AppError> {
    let (&control, rest) = fragment.split_first().ok_or(AppError::HeaderTruncated)?;
    let (&function, rest) = rest.split_first().ok_or(AppError::HeaderTruncated)?;
    if !is_response(function) {
        return Ok((
            AppHeader {
                control,
                function,
                iin: None,
            },
            rest,
        ));
    }
    let (iin, rest) = rest.split_at_checked(2).ok_or(AppError::HeaderTruncated)?;
    let iin = match iin {
        [a, b] => u16::from_be_bytes([*a, *b]),
        _ => return Err(AppError::HeaderTruncated),
    };
    Ok((
        AppHeader {
            control,
            function,
            iin: Some(iin),
        },
        rest,
    ))
}

/// Whether object headers of a function carry object data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Read, freeze, (dis)enable unsolicited, assign class: headers (and index lists) only.
    HeadersOnly,
    /// Write, select/operate, file commands, responses: each header is followed by objects.
    WithData,
}

/// How the objects of a function are laid out, `None` for functions not walked (freeze at
/// time mixes both layouts; authentication and activate config carry free-form objects).
pub fn walk_mode(function: u8) -> Option<Walk> {
    use function::*;
    match function {
        READ | IMMEDIATE_FREEZE..=FREEZE_CLEAR_NR | ENABLE_UNSOLICITED..=ASSIGN_CLASS => {
            Some(Walk::HeadersOnly)
        }
        WRITE..=DIRECT_OPERATE_NR | OPEN_FILE..=ABORT_FILE | RESPONSE | UNSOLICITED_RESPONSE => {
            Some(Walk::WithData)
        }
        _ => None,
    }
}

/// One device attribute (IEEE 1815-2012 Annex A, group 0): its variation says which attribute,
/// then a data type code, a length octet and the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub variation: u8,
    pub data_type: u8,
    pub value: &'a [u8],
}

/// Device attribute variations reported as identity (Annex A, group 0).
pub mod attribute {
    pub const SOFTWARE_VERSION: u8 = 242;
    pub const HARDWARE_VERSION: u8 = 243;
    pub const USER_ASSIGNED_ID: u8 = 246;
    pub const USER_ASSIGNED_NAME: u8 = 247;
    pub const SERIAL_NUMBER: u8 = 248;
    pub const PRODUCT_NAME: u8 = 250;
    pub const MANUFACTURER_NAME: u8 = 252;
    /// Data type code of a visible (ASCII) string.
    pub const VSTR: u8 = 1;
    /// Data type code of an octet string.
    pub const OSTR: u8 = 5;
}

/// Binary command objects: CROB (g12v1) and pattern control block (g12v2) (Annex A).
pub const GROUP_BINARY_COMMAND: u8 = 12;
/// Analog output blocks (g41) (Annex A).
pub const GROUP_ANALOG_COMMAND: u8 = 41;

/// Group 50 (time and date) objects: a write of these is a clock set (clause 4, time sync).
pub const GROUP_TIME: u8 = 50;
/// Group 70 (file control) objects (Annex A).
pub const GROUP_FILE: u8 = 70;

/// What an object walk found besides errors.
pub trait Visitor<'a> {
    fn object_header(&mut self, _group: u8, _variation: u8) {}
    fn attribute(&mut self, _attribute: Attribute<'a>) {}
    /// Whether [`Visitor::points`] should be called for objects of `group` that carry data.
    fn wants_points(&self, _group: u8) -> bool {
        false
    }
    /// Objects of `group` at point indexes `start..=stop` carry data: from a start-stop range
    /// (qualifiers 0x00-0x02), or one index prefix (qualifiers 0x17, 0x28, 0x39).
    fn points(&mut self, _group: u8, _variation: u8, _start: u32, _stop: u32) {}
    /// Whether [`Visitor::data`] should be called for objects of `group`.
    fn wants_data(&self, _group: u8) -> bool {
        false
    }
    /// The octets of objects of a wanted group: one size-prefixed object (prefix codes 4-6,
    /// also in requests that otherwise carry no data, like a read of g70v5), or all the
    /// fixed-size objects of a header without index prefixes.
    fn data(&mut self, _group: u8, _variation: u8, _data: &'a [u8]) {}
}

/// The data size of one object of a group and variation (Annex A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Fixed number of octets per object.
    Fixed(u8),
    /// Packed: this many bits per object, the whole range rounded up to octets.
    Bits(u8),
    /// Octet and virtual-terminal strings: the variation is the length (Annex A, groups 110-113).
    Variation,
    /// Device attributes: type code, length, value.
    Attribute,
    /// Not known here: stop walking.
    Unknown,
}

fn object_size(group: u8, variation: u8) -> Size {
    use Size::*;
    let fixed = |sizes: &[u8]| {
        usize::from(variation)
            .checked_sub(1)
            .and_then(|i| sizes.get(i))
            .map_or(Unknown, |&n| Fixed(n))
    };
    match group {
        0 if variation != 0 => Attribute,
        // Binary inputs and their events (Annex A, groups 1-4).
        1 if variation == 1 => Bits(1),
        1 => fixed(&[0, 1]),
        2 => fixed(&[1, 7, 3]),
        3 if variation == 1 => Bits(2),
        3 => fixed(&[0, 1]),
        4 => fixed(&[1, 7, 3]),
        // Binary outputs, output events, CROB and pattern objects (Annex A, groups 10-13).
        10 if variation == 1 => Bits(1),
        10 => fixed(&[0, 1]),
        11 => fixed(&[1, 7]),
        12 if variation == 3 => Bits(1),
        12 => fixed(&[11, 11]),
        13 => fixed(&[1, 7]),
        // Counters, frozen counters and their events (Annex A, groups 20-23).
        20 => fixed(&[5, 3, 5, 3, 4, 2, 4, 2]),
        21 => fixed(&[5, 3, 5, 3, 11, 9, 11, 9, 4, 2, 4, 2]),
        22 | 23 => fixed(&[5, 3, 5, 3, 11, 9, 11, 9]),
        // Analog inputs, frozen inputs, their events and deadbands (Annex A, groups 30-34).
        30 => fixed(&[5, 3, 4, 2, 5, 9]),
        31 => fixed(&[5, 3, 11, 9, 4, 2, 5, 9]),
        32 | 33 => fixed(&[5, 3, 11, 9, 5, 9, 11, 15]),
        34 => fixed(&[2, 4, 4]),
        // Analog output status, blocks, events and command events (Annex A, groups 40-43).
        40 => fixed(&[5, 3, 5, 9]),
        41 => fixed(&[5, 3, 5, 9]),
        42 | 43 => fixed(&[5, 3, 11, 9, 5, 9, 11, 15]),
        // Time and date, common time of occurrence, time delay (Annex A, groups 50-52).
        50 => fixed(&[6, 10, 6, 11]),
        51 => fixed(&[6, 6]),
        52 => fixed(&[2, 2]),
        // Internal indications (Annex A, group 80).
        80 if variation == 1 => Bits(1),
        // Unsigned 8-bit integers (Annex A, group 102).
        102 => fixed(&[1]),
        110..=113 if variation != 0 => Variation,
        _ => Unknown,
    }
}

/// Octets of a range, index or size field for a 2-bit width code (1, 2 or 4 octets).
fn width(code: u8) -> usize {
    match code {
        0 => 1,
        1 => 2,
        _ => 4,
    }
}

/// Objects that each carry their own size (prefix codes 4-6, e.g. g70 file objects with
/// qualifier 0x5b), handing each to the visitor when it wants the group.
fn sized_objects<'a>(
    r: &mut Cursor<'a>,
    group: u8,
    variation: u8,
    count: u64,
    prefix_len: usize,
    visit: &mut dyn Visitor<'a>,
) -> Result<(), AppError> {
    let data_truncated = AppError::DataTruncated { group, variation };
    if count.saturating_mul(prefix_len as u64) > r.remaining() as u64 {
        return Err(data_truncated);
    }
    let wanted = visit.wants_data(group);
    for _ in 0..count {
        let size = r.uint_le(prefix_len).ok_or(data_truncated)?;
        let size = usize::try_from(size).map_err(|_| data_truncated)?;
        let object = r.take(size).ok_or(data_truncated)?;
        if wanted {
            visit.data(group, variation, object);
        }
    }
    Ok(())
}

/// Walks the object headers of a fragment (clause 4, object header = group, variation,
/// qualifier, range), calling `visit` for each header and each device attribute.
pub fn walk_objects<'a>(
    objects: &'a [u8],
    mode: Walk,
    visit: &mut dyn Visitor<'a>,
) -> Result<(), AppError> {
    // DNP3 multi-octet fields are little-endian (clause 4).
    let mut r = Cursor::new(objects);
    while !r.is_empty() {
        let (group, variation, qualifier) = match r.take(3) {
            Some(&[g, v, q]) => (g, v, q),
            _ => return Err(AppError::ObjectHeaderTruncated),
        };
        visit.object_header(group, variation);
        // Qualifier (clause 4, object header): bit 7 reserved, object prefix code, range
        // specifier code.
        let prefix = (qualifier >> 4) & 0x07;
        let range = qualifier & 0x0f;
        if qualifier & 0x80 != 0 || prefix == 7 {
            return Err(AppError::ReservedQualifier(qualifier));
        }
        let truncated = AppError::ObjectHeaderTruncated;
        let mut span = None;
        let count: u64 = match range {
            // Start and stop indexes of 1, 2 or 4 octets.
            0..=2 => {
                let w = width(range);
                let start = r.uint_le(w).ok_or(truncated)?;
                let stop = r.uint_le(w).ok_or(truncated)?;
                if start > stop {
                    return Err(AppError::RangeBackwards { start, stop });
                }
                span = Some((start, stop));
                u64::from(stop - start) + 1
            }
            // Absolute address (obsolete): one object.
            3..=5 => {
                r.uint_le(width(range - 3)).ok_or(truncated)?;
                1
            }
            // No range field: all objects of the type (requests only).
            6 => 0,
            // Object count of 1, 2 or 4 octets.
            7..=9 => u64::from(r.uint_le(width(range - 7)).ok_or(truncated)?),
            // Free format: 1-octet count.
            0x0b => u64::from(r.uint_le(1).ok_or(truncated)?),
            _ => return Err(AppError::ReservedQualifier(qualifier)),
        };
        let data_truncated = AppError::DataTruncated { group, variation };
        let no_layout = AppError::NoDataLayout {
            group,
            variation,
            qualifier,
        };
        // Prefix codes 1-3 put a 1/2/4-octet index before each object; 4-6 a 1/2/4-octet size.
        let prefix_len = match prefix {
            0 => 0,
            p => width(p.saturating_sub(1) % 3),
        };
        if mode == Walk::WithData && (range == 6 || variation == 0) {
            // Objects that carry data name their points and their exact variation: "all
            // points" and "any variation" exist only in requests without data (clause 4).
            return Err(no_layout);
        }
        if mode == Walk::HeadersOnly {
            if range == 6 || prefix == 0 {
                continue;
            }
            if prefix > 3 {
                if !visit.wants_data(group) {
                    return Ok(());
                }
                sized_objects(&mut r, group, variation, count, prefix_len, visit)?;
                continue;
            }
            // Read by index list (e.g. qualifier 0x17): the indexes follow the header.
            let need = count.saturating_mul(prefix_len as u64);
            let need = usize::try_from(need).map_err(|_| data_truncated)?;
            r.take(need).ok_or(data_truncated)?;
            continue;
        }
        if prefix >= 4 {
            sized_objects(&mut r, group, variation, count, prefix_len, visit)?;
            continue;
        }
        if range == 0x0b {
            // Free format needs a prefix to frame its objects; an identifier prefix (1-3) is
            // not framed here.
            return if prefix == 0 { Err(no_layout) } else { Ok(()) };
        }
        let per_object = match object_size(group, variation) {
            Size::Fixed(n) => u64::from(n),
            Size::Variation => u64::from(variation),
            Size::Bits(bits) if prefix == 0 => {
                let need = count.saturating_mul(u64::from(bits)).div_ceil(8);
                let need = usize::try_from(need).map_err(|_| data_truncated)?;
                r.take(need).ok_or(data_truncated)?;
                continue;
            }
            Size::Attribute => {
                // At least type and length octets per attribute.
                if count.saturating_mul(prefix_len as u64 + 2) > r.remaining() as u64 {
                    return Err(data_truncated);
                }
                for _ in 0..count {
                    r.take(prefix_len).ok_or(data_truncated)?;
                    let head = r.take(2).ok_or(data_truncated)?;
                    let (data_type, len) = match head {
                        [t, l] => (*t, usize::from(*l)),
                        _ => return Err(data_truncated),
                    };
                    let value = r.take(len).ok_or(data_truncated)?;
                    visit.attribute(Attribute {
                        variation,
                        data_type,
                        value,
                    });
                }
                continue;
            }
            Size::Bits(_) | Size::Unknown => return Ok(()),
        };
        let need = count.saturating_mul(per_object + prefix_len as u64);
        let need = usize::try_from(need).map_err(|_| data_truncated)?;
        if !visit.wants_points(group) {
            let objects = r.take(need).ok_or(data_truncated)?;
            if prefix == 0 && visit.wants_data(group) {
                visit.data(group, variation, objects);
            }
            continue;
        }
        if need > r.remaining() {
            return Err(data_truncated);
        }
        match (prefix, span) {
            (0, Some((start, stop))) => {
                visit.points(group, variation, start, stop);
                r.take(need).ok_or(data_truncated)?;
            }
            // Index prefixes (prefix codes 1-3): each object names its point.
            (1..=3, _) => {
                let size = usize::try_from(per_object).map_err(|_| data_truncated)?;
                for _ in 0..count {
                    let index = r.uint_le(prefix_len).ok_or(data_truncated)?;
                    r.take(size).ok_or(data_truncated)?;
                    visit.points(group, variation, index, index);
                }
            }
            _ => {
                r.take(need).ok_or(data_truncated)?;
            }
        }
    }
    Ok(())
}
