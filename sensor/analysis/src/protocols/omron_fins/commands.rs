//! FINS command codes (MRC, SRC) with their names (FINS Commands Reference Manual W227,
//! section 3 "Command Lists" and 5 "Commands for CPU Units") and what each does in the shared
//! vocabulary of operations, with the evidence of those that change a controller.
//!
//! - Memory areas (I/O memory: CIO, WR, HR, AR, DM, EM, timers and counters): read and
//!   multiple read are reads; write, fill and transfer are writes, each also an `Access` of
//!   the area, word address and count ([`memory_area`]).
//! - Parameter areas (PLC Setup, I/O tables, routing tables, CPU bus unit setup) and data link
//!   tables: written or cleared, a configuration change (setting "parameters", "network").
//! - Program area (the user program, W227 5-3-6..5-3-8): read is a program upload, write a
//!   download, clear a delete; protect and protect clear carry the 4-byte password and change
//!   the security setting.
//! - Operating mode (5-3-9): RUN (with its mode: debug, monitor, run) starts the CPU, STOP
//!   stops it.
//! - Controller and connection data (5-3-10) identify; status, cycle time, loop-back and
//!   broadcast tests, error logs and messages are diagnostics; clock write sets the clock
//!   (time sync, setting "clock").
//! - Access right, error clear, forced set/reset: control.
//! - File memory (memory cards, EM file memory, 5-3-15..): single file read and write, delete,
//!   copy, rename and the area transfers to and from files are file transfers with `file_op`;
//!   transferring a file into the program area is a program download.
//! - Name set/delete change the node's name (setting "name").

use crate::protocols::reader::Cursor;
use otwatch_common::observation::{Access, Details, Operation};

/// A command code: main request code and sub-request code.
pub type Code = u16;

pub const MEMORY_AREA_READ: Code = 0x0101;
pub const MEMORY_AREA_WRITE: Code = 0x0102;
pub const MEMORY_AREA_FILL: Code = 0x0103;
pub const MEMORY_AREA_TRANSFER: Code = 0x0105;
pub const PROGRAM_AREA_PROTECT: Code = 0x0304;
pub const PROGRAM_AREA_PROTECT_CLEAR: Code = 0x0305;
pub const RUN: Code = 0x0401;
pub const STOP: Code = 0x0402;
pub const CONTROLLER_DATA_READ: Code = 0x0501;
pub const CLOCK_WRITE: Code = 0x0702;

/// Every command code W227 lists, with its name.
const NAMES: &[(Code, &str)] = &[
    (0x0101, "memory area read"),
    (0x0102, "memory area write"),
    (0x0103, "memory area fill"),
    (0x0104, "multiple memory area read"),
    (0x0105, "memory area transfer"),
    (0x0201, "parameter area read"),
    (0x0202, "parameter area write"),
    (0x0203, "parameter area clear"),
    (0x0220, "data link table read"),
    (0x0221, "data link table write"),
    (0x0304, "program area protect"),
    (0x0305, "program area protect clear"),
    (0x0306, "program area read"),
    (0x0307, "program area write"),
    (0x0308, "program area clear"),
    (0x0401, "run"),
    (0x0402, "stop"),
    (0x0501, "controller data read"),
    (0x0502, "connection data read"),
    (0x0601, "controller status read"),
    (0x0602, "network status read"),
    (0x0603, "data link status read"),
    (0x0620, "cycle time read"),
    (0x0701, "clock read"),
    (0x0702, "clock write"),
    (0x0801, "loop-back test"),
    (0x0802, "broadcast test results read"),
    (0x0803, "broadcast test data send"),
    (0x0920, "message read/clear, FAL/FALS read"),
    (0x0c01, "access right acquire"),
    (0x0c02, "access right forced acquire"),
    (0x0c03, "access right release"),
    (0x2101, "error clear"),
    (0x2102, "error log read"),
    (0x2103, "error log clear"),
    (0x2140, "FINS write access log read"),
    (0x2141, "FINS write access log clear"),
    (0x2201, "file name read"),
    (0x2202, "single file read"),
    (0x2203, "single file write"),
    (0x2204, "memory card format"),
    (0x2205, "file delete"),
    (0x2206, "volume label create/delete"),
    (0x2207, "file copy"),
    (0x2208, "file name change"),
    (0x2209, "file data check"),
    (0x220a, "memory area file transfer"),
    (0x220b, "parameter area file transfer"),
    (0x220c, "program area file transfer"),
    (0x220f, "file memory index read"),
    (0x2210, "file memory read"),
    (0x2211, "file memory write"),
    (0x2215, "directory create/delete"),
    (0x2220, "memory cassette transfer"),
    (0x2301, "forced set/reset"),
    (0x2302, "forced set/reset cancel"),
    (0x230a, "multiple forced status read"),
    (0x2601, "name set"),
    (0x2602, "name delete"),
    (0x2603, "name read"),
];

/// The name of a command code, `None` for one W227 does not list.
pub fn name(code: Code) -> Option<&'static str> {
    NAMES
        .binary_search_by_key(&code, |&(c, _)| c)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map(|&(_, n)| n)
}

/// Whether W227 lists `code` (the probe's test on ports other than 9600).
pub fn is_known(code: Code) -> bool {
    name(code).is_some()
}

/// What a command does, with its evidence when it changes the controller, and the memory
/// area it accesses (`params`: the bytes after the command code).
pub fn request(code: Code, params: &[u8]) -> (Option<Operation>, Details, Option<Access>) {
    use Operation::*;
    let service = || ("service", name(code).unwrap_or("unknown").to_string());
    let setting = |s: &str| vec![service(), ("setting", s.to_string())];
    let op = match code {
        0x0104 | 0x0201 | 0x0220 | 0x0701 | 0x2209 | 0x220f | 0x2210 | 0x230a => Read,
        MEMORY_AREA_READ => return (Some(Read), Vec::new(), memory_access(code, params)),
        MEMORY_AREA_WRITE | MEMORY_AREA_FILL | MEMORY_AREA_TRANSFER => {
            let access = memory_access(code, params);
            let mut d = vec![service()];
            if let Some(a) = access {
                d.push(("area", a.area.to_string()));
                d.extend(a.block.map(|b| ("bank", b.to_string())));
                d.push(("address", a.start.to_string()));
                d.push(("count", a.count.to_string()));
            }
            return (Some(Write), d, access);
        }
        0x0202 | 0x0203 => return (Some(ConfigChange), setting("parameters"), None),
        0x0221 => return (Some(ConfigChange), setting("network"), None),
        PROGRAM_AREA_PROTECT | PROGRAM_AREA_PROTECT_CLEAR => {
            return (Some(ConfigChange), setting("security"), None)
        }
        0x0306 => return (Some(ProgramUpload), vec![service()], None),
        0x0307 => return (Some(ProgramDownload), vec![service()], None),
        0x0308 => return (Some(ProgramDelete), vec![service()], None),
        RUN => {
            let mut d = vec![service()];
            d.extend(
                params
                    .get(2)
                    .and_then(|&m| run_mode(m))
                    .map(|m| ("mode", m.to_string())),
            );
            return (Some(CpuStart), d, None);
        }
        STOP => return (Some(CpuStop), vec![service()], None),
        0x0501 | 0x0502 | 0x2603 => Identify,
        0x0601..=0x0603 | 0x0620 | 0x0801..=0x0803 | 0x2102 | 0x2140 => Diagnostics,
        // Bit 14 of the first word clears messages; otherwise a message or FAL/FALS read.
        0x0920 if params.first().is_some_and(|&b| b & 0x40 != 0) => {
            return (Some(Control), vec![service()], None)
        }
        0x0920 => Diagnostics,
        CLOCK_WRITE => {
            let mut d = setting("clock");
            d.extend(clock_value(params).map(|v| ("value", v)));
            return (Some(TimeSync), d, None);
        }
        0x0c01..=0x0c03 | 0x2101 | 0x2301 | 0x2302 => {
            return (Some(Control), vec![service()], None)
        }
        0x2103 | 0x2141 => return (Some(Write), vec![service()], None),
        0x2601 | 0x2602 => return (Some(ConfigChange), setting("name"), None),
        0x2201 => return (Some(FileTransfer), vec![service()], None),
        0x2202 => return file(code, params.get(2..), "read"),
        0x2203 => return file(code, params.get(4..), "write"),
        0x2204 => return file(code, None, "delete"),
        0x2205 => return file(code, params.get(4..), "delete"),
        // Volume labels and directories: the card changes, no program or file is written.
        0x2206 | 0x2215 => return (Some(Write), vec![service()], None),
        // Copy: the destination file (after the source disk, name and destination disk).
        0x2207 => return file(code, params.get(16..), "write"),
        0x2208 => return file(code, params.get(2..), "write"),
        0x2211 => return file(code, None, "write"),
        0x220a..=0x220c => return file_transfer(code, params),
        _ => return (None, Vec::new(), None),
    };
    (Some(op), Vec::new(), None)
}

/// A file service on the 12-byte file name at the start of `name` (8.3 without the dot,
/// W227 5-3-15).
fn file(code: Code, name: Option<&[u8]>, op: &str) -> (Option<Operation>, Details, Option<Access>) {
    let mut d = vec![("service", self::name(code).unwrap_or("unknown").to_string())];
    d.extend(
        name.and_then(|n| n.get(..12))
            .and_then(file_name)
            .map(|f| ("file", f)),
    );
    d.push(("file_op", op.to_string()));
    (Some(Operation::FileTransfer), d, None)
}

/// Memory, parameter and program area file transfers: parameter code 0 copies the area into
/// a file, 1 a file into the area, 2 compares (W227 5-3-24..26). A file written into the
/// program area is a program download.
fn file_transfer(code: Code, params: &[u8]) -> (Option<Operation>, Details, Option<Access>) {
    // The file name follows the parameter code, the area's fields and the disk number.
    let name_at = match code {
        0x220a => 2 + 1 + 3 + 2 + 2,
        0x220b => 2 + 2 + 2 + 2 + 2,
        _ => 2 + 2 + 4 + 4 + 2,
    };
    let parameter = Cursor::new(params).u16_be();
    let (op, file_op) = match (code, parameter) {
        (0x220c, Some(1)) => (Operation::ProgramDownload, None),
        (_, Some(2)) => (Operation::Read, None),
        _ => (Operation::FileTransfer, Some("write")),
    };
    let mut d = vec![("service", name(code).unwrap_or("unknown").to_string())];
    d.extend(
        params
            .get(name_at..name_at + 12)
            .and_then(file_name)
            .map(|f| ("file", f)),
    );
    d.extend(file_op.map(|o| ("file_op", o.to_string())));
    (Some(op), d, None)
}

/// A FINS file name: 12 bytes, "NAME    .EXT" (8 characters, a period, 3), space-padded,
/// NUL-terminated when shorter.
pub fn file_name(raw: &[u8]) -> Option<String> {
    let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
    let name = crate::protocols::text::clean(raw)?;
    Some(match name.split_once('.') {
        Some((stem, ext)) => format!("{}.{}", stem.trim_end(), ext.trim_start()),
        None => name,
    })
}

/// RUN's mode code (W227 5-3-9): 01 debug, 02 monitor, 04 run.
fn run_mode(m: u8) -> Option<&'static str> {
    match m {
        0x01 => Some("debug"),
        0x02 => Some("monitor"),
        0x04 => Some("run"),
        _ => None,
    }
}

/// Clock write's BCD year, month, day, hour, minute and optional second (W227 5-3-13).
fn clock_value(params: &[u8]) -> Option<String> {
    let bcd = |b: u8| (b >> 4 < 10 && b & 0x0f < 10).then(|| (b >> 4) * 10 + (b & 0x0f));
    let mut c = Cursor::new(params);
    let [y, mo, d, h, mi] = c.array::<5>()?.map(bcd);
    let year = u16::from(y?) + if y? < 70 { 2000 } else { 1900 };
    let mut v = format!("{year}-{:02}-{:02} {:02}:{:02}", mo?, d?, h?, mi?);
    if let Some(s) = c.u8().and_then(bcd) {
        v.push_str(&format!(":{s:02}"));
    }
    Some(v)
}

/// The area a memory area write, fill or transfer writes (transfer: its destination): the
/// area code, 2-byte word address and bit, then the item count (W227 5-3-1..5-3-5).
pub fn memory_access(code: Code, params: &[u8]) -> Option<Access> {
    let mut c = Cursor::new(params);
    let op = if code == MEMORY_AREA_READ {
        Operation::Read
    } else {
        Operation::Write
    };
    if code == MEMORY_AREA_TRANSFER {
        c.skip(4)?;
    }
    let area = c.u8()?;
    let word = c.u16_be()?;
    let _bit = c.u8()?;
    let count = c.u16_be()?;
    let (area, block) = memory_area(area)?;
    Some(Access {
        op,
        unit: None,
        area,
        block,
        start: u32::from(word),
        count: u32::from(count),
    })
}

/// A memory area code's name, and the EM bank for banked EM (CS/CJ-mode codes, W342 5-2-2,
/// and the CV-mode codes of W227 5-2-2).
pub fn memory_area(code: u8) -> Option<(&'static str, Option<u32>)> {
    Some(match code {
        0x30 | 0x70 | 0x00 | 0x40 => ("cio_bit", None),
        0xb0 | 0xf0 | 0x80 | 0xc0 => ("cio", None),
        0x31 => ("wr_bit", None),
        0xb1 => ("wr", None),
        0x32 | 0x72 => ("hr_bit", None),
        0xb2 | 0xf2 => ("hr", None),
        0x33 => ("ar_bit", None),
        0xb3 => ("ar", None),
        0x02 => ("dm_bit", None),
        0x82 => ("dm", None),
        0x20..=0x2c => ("em_bit", Some(u32::from(code - 0x20))),
        0xa0..=0xac => ("em", Some(u32::from(code - 0xa0))),
        0x90..=0x97 => ("em", Some(u32::from(code - 0x90))),
        0x98 => ("em", None),
        0x0a => ("em_bit", None),
        0x01 | 0x09 => ("timer_counter_flag", None),
        0x81 | 0x89 => ("timer_counter", None),
        0x06 | 0x46 => ("task_flag", None),
        0x07 => ("condition_flag", None),
        0xdc => ("index_register", None),
        0x9c | 0xbc => ("data_register", None),
        _ => return None,
    })
}

#[cfg(test)]
#[test]
fn names_are_sorted() {
    assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
}
