//! Schneider Electric UMAS ("Unity" engineering protocol), carried in Modbus function code 90
//! (0x5A). Schneider publishes no specification; the layout and codes below follow public
//! reverse engineering, read and cross-checked (no text or code copied):
//! - Wireshark's UMAS dissector, `epan/dissectors/packet-umas.[ch]` (B. Hutcheson, 2024):
//!   function code table and the READ_ID response layout;
//! - "The Unity (UMAS) protocol", parts I–IV, lirasenlared.blogspot.com (2017): part III says
//!   a program *upload* (0x30–0x32) goes computer → PLC and a *download* (0x33–0x35) PLC →
//!   computer;
//! - nmap `modicon-info.nse` (Digital Bond Redpoint): the CPU module name in the READ_ID
//!   answer, at the same offset Wireshark reads;
//! - the capture modbus/modicon_test.pcap, where 0x34 answers carry the program blocks from
//!   the PLC, confirming the direction.
//!
//! Request PDU: 0x5A, session key (the "pairing" byte), UMAS function code, data.
//! Response PDU: 0x5A, session key, status 0xFE (OK) or 0xFD (error), data.
//!
//! Schneider's "upload" and "download" are named from the PLC's side, the reverse of the
//! otwatch vocabulary (and of most vendors): otwatch's `program_download` is a program
//! written *into* the controller, so UMAS "upload" (0x30–0x32) is `program_download` and
//! UMAS "download" (0x33–0x35) is `program_upload`. Checked again: lirasenlared part III
//! ("A program upload (computer --> PLC)" for 0x30-0x32), a public UMAS client's function
//! table ("Initialize strategy download (copy from PLC to PC)" for 0x33), and
//! modbus/modicon_test.pcap, where the client's 53 DOWNLOAD_BLOCK (0x34) requests are 7-byte
//! PDUs and the PLC's answers about 250 bytes each: the program flows out of the PLC. The
//! evidence keeps Schneider's own name (`service` "UMAS initialize download (0x33)").

use otwatch_common::observation::Operation;

pub const INIT_COMM: u8 = 0x01;
pub const READ_ID: u8 = 0x02;
pub const READ_PROJECT_INFO: u8 = 0x03;
pub const READ_PLC_INFO: u8 = 0x04;
pub const READ_CARD_INFO: u8 = 0x06;
pub const REPEAT: u8 = 0x0a;
pub const TAKE_PLC_RESERVATION: u8 = 0x10;
pub const RELEASE_PLC_RESERVATION: u8 = 0x11;
pub const KEEP_ALIVE: u8 = 0x12;
pub const READ_MEMORY_BLOCK: u8 = 0x20;
/// Not in Wireshark's table; listed by other public UMAS descriptions as the write
/// counterpart of 0x20.
pub const WRITE_MEMORY_BLOCK: u8 = 0x21;
pub const READ_VARIABLES: u8 = 0x22;
pub const WRITE_VARIABLES: u8 = 0x23;
pub const READ_COILS_REGISTERS: u8 = 0x24;
pub const WRITE_COILS_REGISTERS: u8 = 0x25;
pub const INITIALIZE_UPLOAD: u8 = 0x30;
pub const UPLOAD_BLOCK: u8 = 0x31;
pub const END_STRATEGY_UPLOAD: u8 = 0x32;
pub const INITIALIZE_DOWNLOAD: u8 = 0x33;
pub const DOWNLOAD_BLOCK: u8 = 0x34;
pub const END_STRATEGY_DOWNLOAD: u8 = 0x35;
pub const START_PLC: u8 = 0x40;
pub const STOP_PLC: u8 = 0x41;
pub const MONITOR_PLC: u8 = 0x50;
pub const CHECK_PLC: u8 = 0x58;
pub const READ_IO_OBJECT: u8 = 0x70;
pub const WRITE_IO_OBJECT: u8 = 0x71;

/// Response status bytes.
pub const STATUS_OK: u8 = 0xfe;
pub const STATUS_ERROR: u8 = 0xfd;

/// The operation a UMAS request performs; `None` for session management and information
/// requests other than READ_ID (they are reported as function code 90).
pub fn operation(code: u8) -> Option<Operation> {
    Some(match code {
        READ_ID => Operation::Identify,
        READ_MEMORY_BLOCK | READ_VARIABLES | READ_COILS_REGISTERS | READ_IO_OBJECT => {
            Operation::Read
        }
        WRITE_MEMORY_BLOCK | WRITE_VARIABLES | WRITE_COILS_REGISTERS | WRITE_IO_OBJECT => {
            Operation::Write
        }
        // Computer → PLC: the program goes into the controller.
        INITIALIZE_UPLOAD | UPLOAD_BLOCK | END_STRATEGY_UPLOAD => Operation::ProgramDownload,
        // PLC → computer: the program is read out of the controller.
        INITIALIZE_DOWNLOAD | DOWNLOAD_BLOCK | END_STRATEGY_DOWNLOAD => Operation::ProgramUpload,
        START_PLC => Operation::CpuStart,
        STOP_PLC => Operation::CpuStop,
        _ => return None,
    })
}

/// The name of a UMAS function that moves a program or starts or stops the CPU, as the
/// public descriptions above call it; `None` for the others.
pub fn program_function_name(code: u8) -> Option<&'static str> {
    Some(match code {
        INITIALIZE_UPLOAD => "initialize upload",
        UPLOAD_BLOCK => "upload block",
        END_STRATEGY_UPLOAD => "end strategy upload",
        INITIALIZE_DOWNLOAD => "initialize download",
        DOWNLOAD_BLOCK => "download block",
        END_STRATEGY_DOWNLOAD => "end strategy download",
        START_PLC => "start PLC",
        STOP_PLC => "stop PLC",
        _ => return None,
    })
}

/// Offset, in a READ_ID answer's data (after the status byte), of the length byte of the CPU
/// module name; the name follows it. Wireshark: range (2), id (4), model (2), versions and
/// hardware (8), crash code (4), 2 more, then the length; modicon-info.nse reads the same
/// byte (ADU byte 33, 1-based).
const READ_ID_NAME_LEN_AT: usize = 22;

/// The CPU module name ("140 CPU 311 10", "BMX P34 2020") in a successful READ_ID answer.
/// `pdu` is the whole response PDU (0x5A, key, status, data).
pub fn read_id_module(pdu: &[u8]) -> Option<&[u8]> {
    let (&status, data) = pdu.get(2..)?.split_first()?;
    if status != STATUS_OK {
        return None;
    }
    let n = usize::from(*data.get(READ_ID_NAME_LEN_AT)?);
    let start = READ_ID_NAME_LEN_AT + 1;
    let name = data.get(start..start + n)?;
    // A module name is short printable text; anything else is not the layout we know.
    crate::protocols::text::is_tidy_ascii(name, 64).then_some(name)
}
