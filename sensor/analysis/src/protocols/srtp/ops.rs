//! What each SRTP service request does, in the shared vocabulary of operations.
//!
//! Sources for the codes: GE's SNP manual GFK-0529C chapter 6 (table 6-1 and one section per
//! request, with the request code) for every code it documents; the DFRWS 2017 paper's table 2
//! (Denton et al.) lists the same ones. The codes GFK-0529 does not document (long status,
//! symbols, files, block services, clears, features) are named after the out-of-tree Wireshark
//! GE-SRTP plugin's table of service requests (packet-ge-srtp.c, GPL: names read, no code
//! taken); a code named only there is mapped only where its name leaves no doubt.
//!
//! Direction of program transfers: GFK-0529 6-114 says Program **Load** (0x40) "allows the
//! master to retrieve the user program from a Series 90-30 PLC" and Program **Store** (0x3F)
//! "to store a user program from the master SNP device to a Series 90-30 PLC" (it is also the
//! one sent with a text buffer and needs privilege 3). So store is a download to the PLC and
//! load an upload from it, in GE's own words; the DFRWS paper, and the Zeek and Lua parsers
//! that copied its table, have the two the other way round.
//!
//! - memory: Read System / Task / Program Block Memory (0x04-0x06) are reads, their writes
//!   (0x07-0x09) writes, as are Toggle Force System Memory (0x44: flips override and
//!   transition bits) and Clear Reference Memory (0x36); datagram setup and update
//!   (0x15-0x17, 0x48) read data;
//! - Set PLC State (0x23): new state 0 or 1 (run, I/O enabled or disabled) is a CPU start, 2
//!   or 6 (stop) a CPU stop (GFK-0529 6-70);
//! - Program Store 0x3F, Store Program Block 0x28, Program Block Program Store 0x2A, Store
//!   Block 0x3D and Program Store Extended 0x5A are program downloads, Program Change 0x41 (an
//!   edit of the running logic) too; Program Load 0x40, Program Block Load 0x2B, Program Block
//!   Program Load 0x2C, Load Block 0x3E and Program Load Extended 0x5B program uploads; Delete
//!   Program Block 0x2E, Clear All PLC Memory 0x35, Clear Logic Memory 0x37 and Clear
//!   Configuration 0x31 program deletes;
//! - Change Privilege Level 0x21 (a password in clear, 6-2), Lock/Unlock OEM 0x47 and Set
//!   Controller ID 0x22 are configuration changes (settings `security`, `security`, `name`);
//!   Set PLC Time/Date 0x24 a time setting (setting `clock`);
//! - Return Controller Type and ID 0x43 and Return Control Program Name 0x03 identify; short
//!   and long status, memory usage, fault tables, features (0x00-0x02, 0x38, 0x4D, 0x61)
//!   are diagnostics; Clear Fault Table 0x39 and Clear Selected Fault 0x60 control;
//! - file services on the PLC's file area: Read File 0x1D is a file read, Write File 0x1E and
//!   Create File 0x1B writes, Unlink File 0x1C and Format Disk 0x18 deletes (`file_op`).

use super::wire::{self, Range};
use otwatch_common::observation::{Details, Operation};

/// Service request codes used by name.
pub mod code {
    pub const SHORT_STATUS: u8 = 0x00;
    pub const PROGRAM_NAME: u8 = 0x03;
    pub const READ_SYSTEM_MEMORY: u8 = 0x04;
    pub const READ_TASK_MEMORY: u8 = 0x05;
    pub const READ_PROGRAM_BLOCK_MEMORY: u8 = 0x06;
    pub const WRITE_SYSTEM_MEMORY: u8 = 0x07;
    pub const WRITE_TASK_MEMORY: u8 = 0x08;
    pub const WRITE_PROGRAM_BLOCK_MEMORY: u8 = 0x09;
    pub const PROGRAMMER_LOGON: u8 = 0x20;
    pub const CHANGE_PRIVILEGE: u8 = 0x21;
    pub const SET_CONTROLLER_ID: u8 = 0x22;
    pub const SET_PLC_STATE: u8 = 0x23;
    pub const SET_TIME: u8 = 0x24;
    pub const PROGRAM_STORE: u8 = 0x3F;
    pub const PROGRAM_LOAD: u8 = 0x40;
    pub const CONTROLLER_TYPE_AND_ID: u8 = 0x43;
    pub const TOGGLE_FORCE: u8 = 0x44;
}

/// The service request's name (GFK-0529 where it documents it, else the Wireshark plugin's).
pub fn name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x00 => "PLC Short Status",
        0x01 => "PLC Long Status",
        0x02 => "PLC Memory Usage",
        0x03 => "Return Control Program Name",
        0x04 => "Read System Memory",
        0x05 => "Read Task Memory",
        0x06 => "Read Program Block Memory",
        0x07 => "Write System Memory",
        0x08 => "Write Task Memory",
        0x09 => "Write Program Block Memory",
        0x0A => "Define Symbol",
        0x0B => "Delete Symbol",
        0x0C => "Read System Memory Symbolic",
        0x0D => "Read Task Memory Symbolic",
        0x0E => "Read Program Block Memory Symbolic",
        0x0F => "Write System Memory Symbolic",
        0x10 => "Write Task Memory Symbolic",
        0x11 => "Write Program Block Memory Symbolic",
        0x12 => "Resolve System Memory Name",
        0x13 => "Resolve Task Memory Name",
        0x14 => "Resolve Program Block Memory Name",
        0x15 => "Establish Datagram",
        0x16 => "Update Datagram",
        0x17 => "Cancel Datagram",
        0x18 => "Format Disk",
        0x19 => "Open File",
        0x1A => "Close File",
        0x1B => "Create File",
        0x1C => "Unlink File",
        0x1D => "Read File",
        0x1E => "Write File",
        0x1F => "Seek File",
        0x20 => "Programmer Logon",
        0x21 => "Change PLC CPU Privilege Level",
        0x22 => "Set PLC CPU Controller ID",
        0x23 => "Set PLC State",
        0x24 => "Set PLC Time/Date",
        0x25 => "Return PLC Time/Date",
        0x26 => "Return Program Block Sizes",
        0x27 => "Return Program Block List",
        0x28 => "Store Program Block",
        0x29 => "Sequence Control",
        0x2A => "Program Block Program Store",
        0x2B => "Program Block Load",
        0x2C => "Program Block Program Load",
        0x2D => "Verify Program Block",
        0x2E => "Delete Program Block",
        0x2F => "Change Program Block Size",
        0x30 => "Declare Interrupt",
        0x31 => "Clear Configuration",
        0x32 => "Autoconfigure I/O",
        0x33 => "Replace I/O Module",
        0x34 => "Verify Configuration Block",
        0x35 => "Clear All PLC Memory",
        0x36 => "Clear Reference Memory",
        0x37 => "Clear Logic Memory",
        0x38 => "Return Fault Table",
        0x39 => "Clear Fault Table",
        0x3A => "Create Configuration Parameter Task",
        0x3B => "Delete Configuration Parameter Task",
        0x3C => "Return Configuration Sizes",
        0x3D => "Store Block",
        0x3E => "Load Block",
        0x3F => "Program Store",
        0x40 => "Program Load",
        0x41 => "Program Change",
        0x42 => "Verify Program",
        0x43 => "Return Controller Type and ID",
        0x44 => "Toggle Force System Memory",
        0x45 => "Access EEPROM",
        0x46 => "Manage Block",
        0x47 => "Lock/Unlock OEM",
        0x48 => "Write Datagram",
        0x49 => "Access FA Card",
        0x4A => "Read Configuration Parameter",
        0x4B => "Write Slot Configuration",
        0x4C => "Rename Task",
        0x4D => "Return Function Supported",
        0x4E => "Store Subrequest",
        0x4F => "Session Control",
        0x50 => "Return Subrequest List",
        0x51 => "Extra Piggyback Data",
        0x52 => "Store OS Extension",
        0x53 => "Load OS Extension",
        0x54 => "Delete OS Extension",
        0x55 => "Delete Subrequest",
        0x56 => "Share PLC Data",
        0x57 => "Toggle Force Program Block Memory",
        0x58 => "SFC Event Q Service",
        0x59 => "Interrogate I/O",
        0x5A => "Program Store Extended",
        0x5B => "Program Load Extended",
        0x5C => "Program Verify Extended",
        0x5D => "Activate Debugger",
        0x5E => "Configuration Change Control",
        0x5F => "Remote Server Register",
        0x60 => "Clear Selected Fault",
        0x61 => "Return PLC Features Supported",
        _ => return None,
    })
}

/// What a service request does, and its evidence when it changes the controller. `data` is
/// the request's data after the code (in the header; for Write System Memory's range too).
pub fn request(code: u8, data: &[u8]) -> (Option<Operation>, Details) {
    use Operation::*;
    let service = || ("service", name(code).unwrap_or("unknown").to_string());
    let with = |op: Operation| (Some(op), vec![service()]);
    let setting = |op: Operation, s: &str| (Some(op), vec![service(), ("setting", s.to_string())]);
    let file = |op: &str| {
        (
            Some(FileTransfer),
            vec![service(), ("file_op", op.to_string())],
        )
    };
    match code {
        0x00..=0x02 | 0x38 | 0x4D | 0x59 | 0x61 => (Some(Diagnostics), Vec::new()),
        0x03 | 0x43 => (Some(Identify), Vec::new()),
        0x04..=0x06 | 0x0C..=0x0E | 0x12..=0x17 | 0x25..=0x27 | 0x3C | 0x48 | 0x4A => {
            (Some(Read), Vec::new())
        }
        0x07..=0x09 => (Some(Write), memory_details(service(), data)),
        0x0F..=0x11 | 0x36 | 0x44 | 0x57 => with(Write),
        code::SET_PLC_STATE => set_state(service(), data.first().copied()),
        0x28 | 0x2A | 0x3D | 0x3F | 0x41 | 0x5A => with(ProgramDownload),
        0x2B | 0x2C | 0x3E | 0x40 | 0x5B => with(ProgramUpload),
        0x2E | 0x31 | 0x35 | 0x37 => with(ProgramDelete),
        0x21 | 0x47 => setting(ConfigChange, "security"),
        0x22 => setting(ConfigChange, "name"),
        0x24 => setting(TimeSync, "clock"),
        0x39 | 0x60 => with(Control),
        0x1D => file("read"),
        0x1B | 0x1E => file("write"),
        0x18 | 0x1C => file("delete"),
        0x19 | 0x1A | 0x1F => with(FileTransfer),
        _ => (None, Vec::new()),
    }
}

/// Set PLC State's new state (GFK-0529 6-70): 0 and 1 run, 2 and 6 stop.
fn set_state(service: (&'static str, String), state: Option<u8>) -> (Option<Operation>, Details) {
    let mut d = vec![service];
    d.extend(
        state
            .and_then(wire::state_name)
            .map(|s| ("state", s.to_string())),
    );
    match state {
        Some(0 | 1) => (Some(Operation::CpuStart), d),
        Some(2 | 6) => (Some(Operation::CpuStop), d),
        // Another value is refused by the PLC ("invalid new state"): a control attempt.
        _ => (Some(Operation::Control), d),
    }
}

/// A memory write's evidence: the memory type, first reference and count.
fn memory_details(service: (&'static str, String), data: &[u8]) -> Details {
    let mut d = vec![service];
    if let Some(r) = Range::parse(data) {
        match wire::segment(r.selector) {
            Some(s) => {
                let (first, count) = r.references(s.mode);
                d.push(("area", s.area.to_string()));
                d.push(("address", format!("%{}{first}", s.area)));
                d.push(("count", count.to_string()));
                d.push(("mode", s.mode.name().to_string()));
            }
            None => d.push(("selector", format!("{:#04x}", r.selector))),
        }
    }
    d
}
