//! What each SLMP command does, in the shared vocabulary of operations (SLMP Reference Manual
//! SH-080956ENG §5 "Commands" and the MC protocol manual SH-080008 §3.3 for the Q-series
//! file commands' successors):
//!
//! - device access: batch read 0x0401, random read 0x0403, multiple blocks 0x0406, monitor
//!   0x0801/0x0802, buffer memory 0x0613 and intelligent module 0x0601 are reads; their
//!   writes 0x1401, 0x1402, 0x1406, 0x1613, 0x1601 are writes;
//! - remote control: RUN 0x1001 is a CPU start, STOP 0x1002 and PAUSE 0x1003 CPU stops,
//!   RESET 0x1006 a restart, latch clear 0x1005 a write (it clears every latched device);
//! - remote password unlock 0x1630 and lock 0x1631 change the access protection
//!   (configuration change, setting `security`; an unlock carries the password in clear);
//! - Read CPU model 0x0101 identifies, loopback test 0x0619 is diagnostics;
//! - files (iQ-R/iQ-F, 0x18xx): reading a file 0x1828 is a program upload (`file_op` read),
//!   writing 0x1829, creating 0x1820, copying 0x1824 and changing attributes or dates
//!   0x1825/0x1826 program downloads (`file_op` write), deleting 0x1822 a program delete;
//!   open 0x1827 and close 0x182A are file transfers without direction, and the directory
//!   and search commands 0x1810/0x1811 reads.

use otwatch_common::observation::{Details, Operation};

/// Command codes used by name.
pub mod command {
    pub const READ_CPU_MODEL: u16 = 0x0101;
    pub const BATCH_READ: u16 = 0x0401;
    pub const BATCH_WRITE: u16 = 0x1401;
    pub const RANDOM_WRITE: u16 = 0x1402;
    pub const REMOTE_RUN: u16 = 0x1001;
    pub const REMOTE_STOP: u16 = 0x1002;
    pub const REMOTE_PAUSE: u16 = 0x1003;
    pub const LATCH_CLEAR: u16 = 0x1005;
    pub const REMOTE_RESET: u16 = 0x1006;
    pub const UNLOCK: u16 = 0x1630;
    pub const LOCK: u16 = 0x1631;
}

/// The command's name, as the SLMP manual writes it, for evidence.
pub fn name(cmd: u16) -> &'static str {
    match cmd {
        0x0101 => "Read CPU model",
        0x0401 => "Device Read",
        0x1401 => "Device Write",
        0x0403 => "Device Read Random",
        0x1402 => "Device Write Random",
        0x0406 => "Device Read Block",
        0x1406 => "Device Write Block",
        0x1001 => "Remote Run",
        0x1002 => "Remote Stop",
        0x1003 => "Remote Pause",
        0x1005 => "Remote Latch Clear",
        0x1006 => "Remote Reset",
        0x1630 => "Remote Password Unlock",
        0x1631 => "Remote Password Lock",
        0x1820 => "File New File",
        0x1822 => "File Delete File",
        0x1824 => "File Copy File",
        0x1825 => "File Change File Attributes",
        0x1826 => "File Change File Date",
        0x1827 => "File Open File",
        0x1828 => "File Read File",
        0x1829 => "File Write File",
        0x182A => "File Close File",
        0x1613 => "Memory Write",
        0x1601 => "Extend Unit Write",
        _ => "command",
    }
}

/// The operation a request performs and its evidence.
pub fn request(cmd: u16) -> (Option<Operation>, Details) {
    let service = || vec![("service", name(cmd).to_string())];
    let file = |op: &str| {
        let mut d = service();
        d.push(("file_op", op.to_string()));
        (Some(Operation::FileTransfer), d)
    };
    match cmd {
        0x0101 => (Some(Operation::Identify), Vec::new()),
        0x0619 => (Some(Operation::Diagnostics), Vec::new()),
        0x0401 | 0x0403 | 0x0406 | 0x0801 | 0x0802 | 0x0613 | 0x0601 | 0x1810 | 0x1811 => {
            (Some(Operation::Read), Vec::new())
        }
        0x1401 | 0x1402 | 0x1406 | 0x1613 | 0x1601 | 0x1005 => (Some(Operation::Write), service()),
        0x1001 => (Some(Operation::CpuStart), service()),
        0x1002 | 0x1003 => (Some(Operation::CpuStop), service()),
        0x1006 => (Some(Operation::Restart), service()),
        0x1630 | 0x1631 => {
            let mut d = service();
            d.push(("setting", "security".to_string()));
            (Some(Operation::ConfigChange), d)
        }
        0x1828 => file("read"),
        0x1820 | 0x1824 | 0x1825 | 0x1826 | 0x1829 => file("write"),
        0x1822 => file("delete"),
        0x1827 | 0x182A => (Some(Operation::FileTransfer), service()),
        _ => (None, Vec::new()),
    }
}
