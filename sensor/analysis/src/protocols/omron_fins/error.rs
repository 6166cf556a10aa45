//! Why FINS traffic is malformed, and the end codes a FINS responder refuses a command with
//! (FINS Commands Reference Manual W227, section 5-1 "End Codes"; FINS/TCP: W421 section 7-4).

/// Why a FINS or FINS/TCP message is malformed, or refused.
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
    #[error("FINS end code {code:#06x} ({}) to {command}", end_code_name(*code))]
    EndCode { code: u16, command: &'static str },
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
