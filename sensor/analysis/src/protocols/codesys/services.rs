//! CODESYS V3 service groups and services with their names, and what each request does in the
//! shared vocabulary of operations.
//!
//! Numbers from the runtime SDK headers (kendrion/cds-rts-econo `Components/`): service groups
//! `SG_*` in `CmpSrvItf.h`; services `SRV_DEV_*` (`CmpDeviceItf.h`), `SRV_*` of the
//! application component (`CmpAppItf.h`), `SRVFT_*` (`CmpFileTransferItf.h`), the user
//! management's (`CmpUserMgrItf.h`), `SRV_IECVARACC_*` (`CmpIecVarAccessItf.h`) and
//! `SRV_MONITORING2_*` (`CmpMonitor2Itf.h`). The PLC shell's command words (`startprg`,
//! `stopprg`, `resetprg`, `resetprgcold`) are those FieldFuzz sends (momalab/ICSQuartz
//! `pycodesys.py`).
//!
//! In CODESYS words a "download" goes to the controller: an application download or online
//! change is a program download, a file download is a file transfer to the device.

use otwatch_common::observation::Operation;

/// Service groups (`SG_*`).
pub mod group {
    pub const DEVICE: u16 = 0x01;
    pub const APPLICATION: u16 = 0x02;
    pub const MONITORING: u16 = 0x03;
    pub const VISUALISATION: u16 = 0x04;
    pub const LOG: u16 = 0x05;
    pub const SETTINGS: u16 = 0x06;
    pub const FILE_TRANSFER: u16 = 0x08;
    pub const IEC_VAR_ACCESS: u16 = 0x09;
    pub const USER_MGMT: u16 = 0x0c;
    pub const TRACE_MANAGER: u16 = 0x0f;
    pub const PLC_SHELL: u16 = 0x11;
    pub const APPLICATION_BP: u16 = 0x12;
    pub const APPLICATION_FORCE: u16 = 0x13;
    pub const MONITORING2: u16 = 0x1b;
    pub const COREDUMP: u16 = 0x1f;
}

/// Device services (`SRV_DEV_*`).
pub mod device {
    pub const GET_TARGET_IDENT: u16 = 0x01;
    pub const LOGIN: u16 = 0x02;
    pub const LOGOUT: u16 = 0x03;
    pub const RESET_ORIGIN: u16 = 0x04;
    pub const ECHO: u16 = 0x05;
    pub const SET_OPERATION_MODE: u16 = 0x06;
    pub const GET_OPERATION_MODE: u16 = 0x07;
    pub const INTERACTIVE_LOGIN: u16 = 0x08;
    pub const SET_NODE_NAME: u16 = 0x09;
}

/// Device tags (`TAG_DEV_*`).
pub mod device_tag {
    pub const IDENTIFICATION: u32 = 0x01;
    pub const DEVICE_NAME: u32 = 0x02;
    pub const VENDOR_NAME: u32 = 0x03;
    pub const NODE_NAME: u32 = 0x04;
    pub const RTS_VERSION: u32 = 0x06;
    pub const SERIAL_NUMBER: u32 = 0x09;
    pub const REPLY_LOGIN: u32 = 0x82;
    pub const LOGIN_RESULT: u32 = 0x20;
    pub const CRYPT_TYPE: u32 = 0x22;
    pub const CREDENTIALS: u32 = 0x81;
    pub const USER: u32 = 0x10;
    /// `DEVICE_CRYPT_XOR`: the password XORed with a fixed key and a challenge the client
    /// picks, as good as cleartext.
    pub const CRYPT_XOR: u32 = 1;
}

/// The PLC shell's command string tag (FieldFuzz `plcshell`).
pub const PLC_SHELL_COMMAND_TAG: u32 = 0x10;

/// The function code of a service: group (without the reply bit) in the high 16 bits.
pub fn code(group: u16, service: u16) -> u32 {
    (u32::from(group & !crate::protocols::codesys::wire::SG_REPLY) << 16) | u32::from(service)
}

/// The name of a service, for evidence; `None` when the headers do not list it.
pub fn name(group: u16, service: u16) -> Option<&'static str> {
    Some(match (group, service) {
        (group::DEVICE, s) => match s {
            0x01 => "get target ident",
            0x02 => "login",
            0x03 => "logout",
            0x04 => "reset origin device",
            0x05 => "echo",
            0x06 => "set operation mode",
            0x07 => "get operation mode",
            0x08 => "interactive login",
            0x09 => "set node name",
            _ => return None,
        },
        (group::APPLICATION, s) => match s {
            0x01 => "application login",
            0x02 => "application logout",
            0x03 => "create application",
            0x04 => "delete application",
            0x05 => "application download",
            0x06 => "online change",
            0x07 => "device download",
            0x08 => "create device application",
            0x10 => "start application",
            0x11 => "stop application",
            0x12 => "reset application",
            0x13 => "set breakpoint",
            0x14 => "read status",
            0x15 => "delete breakpoint",
            0x16 => "read call stack",
            0x17 => "get area offset",
            0x18 => "read application list",
            0x19 => "set next statement",
            0x20 => "release force list",
            0x21 => "upload force list",
            0x22 => "single cycle",
            0x23 => "create boot project",
            0x24 => "reinit application",
            0x25 => "read application state list",
            0x26 => "load boot application",
            0x27 => "register boot application",
            0x28 => "check file consistency",
            0x29 => "read application info",
            0x30 => "download compact",
            0x31 => "read project info",
            0x32 => "define flow",
            0x33 => "read flow values",
            0x34 => "download encrypted",
            0x35 => "read application content",
            0x36 => "save retains",
            0x37 => "restore retains",
            0x38 => "get area address",
            0x39 => "leave execution points active",
            0x40 => "claim execution points",
            _ => return None,
        },
        (group::FILE_TRANSFER, s) => match s {
            0x01 => "get file info",
            0x02 => "start file download",
            0x03 => "restart file download",
            0x04 => "file download",
            0x05 => "start file upload",
            0x06 => "restart file upload",
            0x07 => "file upload",
            0x08 => "end file transfer",
            0x09 => "cancel file transfer",
            0x0a => "save signature",
            0x0b => "get saved signature",
            0x0c => "get directory info",
            0x0d => "cancel directory info",
            0x0e => "delete file",
            0x0f => "rename file",
            0x10 => "create directory",
            0x11 => "delete directory",
            0x12 => "rename directory",
            0x13 => "get free disk space",
            0x14 => "sync file transfer",
            _ => return None,
        },
        (group::USER_MGMT, s) => match s {
            0x01 => "read user management",
            0x02 => "write user management",
            0x03 => "read user rights",
            0x04 => "write user rights",
            0x05 => "add user",
            0x06 => "delete user",
            0x07 => "change password",
            _ => return None,
        },
        (group::IEC_VAR_ACCESS, s) => match s {
            0x01 => "register variable list",
            0x02 => "unregister variable list",
            0x03 => "read variable list",
            0x04 => "write variable list",
            0x05 => "read variables",
            0x06 => "write variables",
            0x07 => "browse root nodes",
            0x08 => "browse children",
            0x09 => "browse type descriptions",
            0x0a => "get address info",
            0x0b => "remove variables from list",
            0x0c => "get symbol sets",
            0x0d => "configure symbol set",
            _ => return None,
        },
        (group::MONITORING2, s) => match s {
            0x01 => "monitoring read",
            0x02 => "monitoring write",
            0x03 => "monitoring force",
            _ => return None,
        },
        (group::PLC_SHELL, 0x01) => "plc shell command",
        _ => return None,
    })
}

/// The name of a service group, for services [`name`] does not list.
pub fn group_name(group: u16) -> Option<&'static str> {
    Some(match group {
        group::DEVICE => "device",
        group::APPLICATION => "application",
        group::MONITORING => "monitoring",
        group::VISUALISATION => "visualisation",
        group::LOG => "log",
        group::SETTINGS => "settings",
        0x07 => "ethercat",
        group::FILE_TRANSFER => "file transfer",
        group::IEC_VAR_ACCESS => "iec variable access",
        0x0a => "component manager",
        0x0b => "io manager",
        group::USER_MGMT => "user management",
        0x0d => "online parameters",
        0x0e => "softvision",
        group::TRACE_MANAGER => "trace manager",
        0x10 => "fdt",
        group::PLC_SHELL => "plc shell",
        group::APPLICATION_BP => "breakpoints",
        group::APPLICATION_FORCE => "force",
        0x14 => "redundancy",
        0x16 => "io-link",
        0x17 => "etc service",
        0x18 => "alarm manager",
        0x19 => "profinet",
        0x1a => "sil2",
        group::MONITORING2 => "monitoring2",
        group::COREDUMP => "core dump",
        0x20 => "backup",
        0x21 => "runtime test",
        0x22 => "x509 certificates",
        0x23 => "security manager",
        _ => return None,
    })
}

/// Whether a request of this service changes the controller (its name then goes into the
/// evidence).
fn notable(op: Operation) -> bool {
    !matches!(
        op,
        Operation::Read | Operation::Identify | Operation::Diagnostics
    )
}

/// What a request does, and whether its name is evidence worth keeping.
pub fn operation(group: u16, service: u16) -> Option<(Operation, bool)> {
    use Operation::*;
    let op = match (group, service) {
        (group::DEVICE, s) => match s {
            device::GET_TARGET_IDENT => Identify,
            // A factory reset of the device's settings and users.
            device::RESET_ORIGIN => ConfigChange,
            device::ECHO | device::GET_OPERATION_MODE => Diagnostics,
            // Debug, locked or operational: which online actions are allowed.
            device::SET_OPERATION_MODE | device::SET_NODE_NAME => ConfigChange,
            _ => return None,
        },
        (group::APPLICATION, s) => match s {
            0x03 | 0x08 => Control,
            0x04 => ProgramDelete,
            0x05 | 0x06 | 0x07 | 0x30 | 0x34 => ProgramDownload,
            0x10 => CpuStart,
            0x11 => CpuStop,
            0x12 | 0x24 => Restart,
            0x13 | 0x15 | 0x19 | 0x20 | 0x22 | 0x23 | 0x26 | 0x27 | 0x32 | 0x39 | 0x40 => Control,
            0x14 | 0x16 | 0x25 | 0x28 | 0x33 => Diagnostics,
            0x17 | 0x18 | 0x21 | 0x29 | 0x31 | 0x36 | 0x38 => Read,
            0x35 => ProgramUpload,
            0x37 => Write,
            _ => return None,
        },
        (group::FILE_TRANSFER, s) => match s {
            0x01 | 0x0b | 0x0c | 0x0d | 0x13 => Read,
            // The start of a transfer (which names the file) and the file system changes; the
            // data blocks, end and cancel that follow are function codes only.
            0x02 | 0x03 | 0x05 | 0x06 | 0x0e..=0x12 | 0x14 => FileTransfer,
            _ => return None,
        },
        (group::USER_MGMT, s) => match s {
            0x01 | 0x03 => Read,
            0x02 | 0x04..=0x07 => ConfigChange,
            _ => return None,
        },
        (group::IEC_VAR_ACCESS, s) => match s {
            0x04 | 0x06 => Write,
            0x01..=0x03 | 0x05 | 0x07..=0x0d => Read,
            _ => return None,
        },
        (group::MONITORING2, s) => match s {
            0x01 => Read,
            0x02 | 0x03 => Write,
            _ => return None,
        },
        (group::LOG | group::TRACE_MANAGER | group::COREDUMP, _) => Diagnostics,
        _ => return None,
    };
    Some((op, notable(op)))
}

/// What a PLC shell command word does (`startprg`, `stopprg`, `resetprg`, `resetprgcold`,
/// `resetprgorg`); other commands are control.
pub fn shell_operation(command: &[u8]) -> Operation {
    let word = command
        .split(|b| b.is_ascii_whitespace() || *b == 0)
        .next()
        .unwrap_or_default();
    match word {
        b"startprg" => Operation::CpuStart,
        b"stopprg" => Operation::CpuStop,
        w if w.starts_with(b"resetprg") => Operation::Restart,
        _ => Operation::Control,
    }
}
