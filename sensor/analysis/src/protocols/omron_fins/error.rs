//! Why FINS traffic is malformed, and the end codes a FINS responder refuses a command with
//! (FINS Commands Reference Manual W227, section 5-1 "End Codes"; FINS/TCP: W421 section 7-4).

/// Why a FINS or FINS/TCP message is malformed. (A response whose end code refuses its command
/// is well formed: see [`refusal`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FinsError {
    #[error("FINS/TCP header does not start with \"FINS\"")]
    NotFinsTcp,
    #[error("FINS/TCP length {0} outside 8..=8200")]
    TcpLength(u32),
    #[error("FINS/TCP {command} of {length} bytes is too short")]
    TcpShort { command: &'static str, length: u32 },
    #[error("unknown FINS/TCP command {0:#x}")]
    TcpCommand(u32),
    #[error("FINS/TCP error code {code:#x} ({})", tcp_error_name(*code))]
    TcpError { code: u32 },
    #[error("FINS frame of {0} bytes is shorter than its header and command code")]
    Short(usize),
    #[error("FINS ICF {0:#04x} has reserved bits set")]
    Icf(u8),
    #[error("FINS reserved byte is {0:#04x}, not 0")]
    Rsv(u8),
    #[error("FINS response without an end code")]
    NoEndCode,
    #[error("FINS response to SID {0:#04x} travels the same way as its command")]
    SameWay(u8),
}

/// The meaning of a FINS/TCP header's error code (W421 7-4).
pub fn tcp_error_name(code: u32) -> &'static str {
    match code {
        0x01 => "header is not FINS",
        0x02 => "data length too long",
        0x03 => "command not supported",
        0x20 => "all connections in use",
        0x21 => "node already connected",
        0x22 => "protected node accessed from an unspecified IP address",
        0x23 => "client node address out of range",
        0x24 => "client and server use the same node address",
        0x25 => "no node address left to allocate",
        _ => "unknown",
    }
}

/// The meaning of a FINS end code's main code (W227 5-1; the relay error bit 0x8000 and the
/// CPU error flags 0x0080/0x0040 are masked off first).
pub fn end_code_name(code: u16) -> &'static str {
    match (code >> 8) & 0x7f {
        0x00 => "normal completion",
        0x01 => "local node error",
        0x02 => "destination node error",
        0x03 => "communications controller error",
        0x04 => "service not supported",
        0x05 => "routing table error",
        0x10 => "command format error",
        0x11 => "parameter error",
        0x20 => "read not possible",
        0x21 => "write not possible",
        0x22 => "not executable in current mode",
        0x23 => "no such device",
        0x24 => "cannot start or stop",
        0x25 => "unit error",
        0x26 => "command error",
        0x30 => "access right error",
        0x40 => "abort",
        _ => "unknown",
    }
}

/// What a FINS end code's sub code adds to its main code (W227 5-1), where the manual says.
pub fn end_code_detail(code: u16) -> Option<&'static str> {
    Some(match code & 0x7f3f {
        0x0101 => "local node not in network",
        0x0102 => "token timeout",
        0x0103 => "retries failed",
        0x0104 => "too many send frames",
        0x0105 => "node address range error",
        0x0106 => "node address duplication",
        0x0201 => "destination node not in network",
        0x0202 => "unit missing",
        0x0203 => "third node missing",
        0x0204 => "destination node busy",
        0x0205 => "response timeout",
        0x0301 => "communications controller error",
        0x0302 => "CPU unit error",
        0x0303 => "controller error",
        0x0304 => "unit number error",
        0x0401 => "undefined command",
        0x0402 => "not supported by model or version",
        0x0501 => "destination address setting error",
        0x0502 => "no routing tables",
        0x0503 => "routing table error",
        0x0504 => "too many relays",
        0x1001 => "command too long",
        0x1002 => "command too short",
        0x1003 => "elements and data do not match",
        0x1004 => "command format error",
        0x1005 => "header error",
        0x1101 => "area classification missing",
        0x1102 => "access size error",
        0x1103 => "address range error",
        0x1104 => "address range exceeded",
        0x1106 => "program missing",
        0x1109 => "relational error",
        0x110a => "duplicate data access",
        0x110b => "response too long",
        0x110c => "parameter error",
        0x2002 => "protected",
        0x2003 => "table missing",
        0x2004 => "data missing",
        0x2005 => "program missing",
        0x2006 => "file missing",
        0x2007 => "data mismatch",
        0x2101 => "read only",
        0x2102 => "protected",
        0x2103 => "cannot register",
        0x2105 => "program missing",
        0x2106 => "file missing",
        0x2107 => "file name already exists",
        0x2108 => "cannot change",
        0x2201 => "not possible during execution",
        0x2202 => "not possible while running",
        0x2203 => "PLC in PROGRAM mode",
        0x2204 => "PLC in DEBUG mode",
        0x2205 => "PLC in MONITOR mode",
        0x2206 => "PLC in RUN mode",
        0x2207 => "node is not the polling node",
        0x2208 => "step cannot be executed",
        0x2301 => "file device missing",
        0x2302 => "memory missing",
        0x2303 => "clock missing",
        0x2401 => "table missing",
        0x2502 => "memory error",
        0x2503 => "I/O setting error",
        0x2504 => "too many I/O points",
        0x2505 => "CPU bus error",
        0x2506 => "I/O duplication",
        0x2507 => "I/O bus error",
        0x2509 => "SYSMAC BUS/2 error",
        0x250a => "CPU bus unit error",
        0x250d => "SYSMAC BUS number duplication",
        0x250f => "memory status error",
        0x2510 => "SYSMAC BUS terminator missing",
        0x2601 => "no protection",
        0x2602 => "incorrect password",
        0x2604 => "protected",
        0x2605 => "service already executing",
        0x2606 => "service stopped",
        0x2607 => "no execution right",
        0x2608 => "settings not complete",
        0x2609 => "necessary items not set",
        0x260a => "number already defined",
        0x260b => "error will not clear",
        0x3001 => "no access right",
        0x4001 => "service aborted",
        _ => return None,
    })
}

/// How a responder's refusal of `command` with the failed `code` reads: "FINS end code 0x2108
/// (write not possible: cannot change) refusing memory area write".
pub fn refusal(code: u16, command: &str) -> String {
    let main = end_code_name(code);
    match end_code_detail(code) {
        Some(sub) if sub != main => {
            format!("FINS end code {code:#06x} ({main}: {sub}) refusing {command}")
        }
        _ => format!("FINS end code {code:#06x} ({main}) refusing {command}"),
    }
}
