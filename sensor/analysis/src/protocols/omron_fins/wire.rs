//! The FINS frame (FINS Commands Reference Manual W227, section 2-2 "FINS Command and
//! Response Frames") and the FINS/TCP header that carries it on TCP (CS/CJ Ethernet Unit
//! Operation Manual W421, section 7-4 "FINS/TCP Method").
//!
//! A FINS frame is a 10-byte header, the command code (MRC, SRC), then parameters; a
//! response puts the end code (MRES, SRES) before its data:
//!
//! ```text
//! ICF RSV GCT DNA DA1 DA2 SNA SA1 SA2 SID | MRC SRC | [MRES SRES] | data
//! ```
//!
//! ICF: bit 7 gateway used, bit 6 response (0: command), bit 0 no response required, bits 1-5
//! reserved (0). RSV is 0. GCT is the number of gateways a frame may still cross (2, or 7 on
//! newer units). DNA/DA1/DA2 and SNA/SA1/SA2 are network, node and unit of destination and
//! source (network 0 is the local network, unit 0 the CPU). SID pairs a response with its
//! command.

use super::error::FinsError;
use crate::protocols::reader::Cursor;

/// Header and command code.
pub const MIN_FRAME: usize = 12;

/// Reserved bits of ICF (bits 1-5).
const ICF_RESERVED: u8 = 0x3e;
const ICF_RESPONSE: u8 = 0x40;
/// The highest gateway count W227 allows (2 by default, up to 7 with newer units).
pub const MAX_GCT: u8 = 7;

/// A FINS address: network, node, unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub network: u8,
    pub node: u8,
    pub unit: u8,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.network, self.node, self.unit)
    }
}

/// One FINS frame, read from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub icf: u8,
    pub gct: u8,
    pub destination: Address,
    pub source: Address,
    pub sid: u8,
    pub command: u16,
    /// A response's end code (masked neither of its relay nor CPU error flags).
    pub end_code: Option<u16>,
    /// Parameters of a command, data of a response (after the end code).
    pub data: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Reads and checks a FINS frame.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FinsError> {
        let mut c = Cursor::new(bytes);
        let short = FinsError::Short(bytes.len());
        let [icf, rsv, gct] = c.array().ok_or(short)?;
        let mut address = || -> Option<Address> {
            let [network, node, unit] = c.array()?;
            Some(Address {
                network,
                node,
                unit,
            })
        };
        let destination = address().ok_or(short)?;
        let source = address().ok_or(short)?;
        let sid = c.u8().ok_or(short)?;
        let command = c.u16_be().ok_or(short)?;
        if icf & ICF_RESERVED != 0 {
            return Err(FinsError::Icf(icf));
        }
        if rsv != 0 {
            return Err(FinsError::Rsv(rsv));
        }
        let end_code = if icf & ICF_RESPONSE != 0 {
            Some(c.u16_be().ok_or(FinsError::NoEndCode)?)
        } else {
            None
        };
        Ok(Frame {
            icf,
            gct,
            destination,
            source,
            sid,
            command,
            end_code,
            data: c.rest(),
        })
    }

    pub fn is_response(&self) -> bool {
        self.icf & ICF_RESPONSE != 0
    }
}

/// Whether an end code reports a failure: its main and sub code without the relay error bit
/// (0x8000) and the CPU's fatal and non-fatal error flags (0x0080, 0x0040), which only say
/// the CPU has an error, is something other than normal completion (0x0000) or "service
/// canceled" (0x0001, W227 5-1).
pub fn failed(end_code: u16) -> bool {
    end_code & 0x7f3f > 0x0001
}

/// The FINS/TCP header: "FINS", the length of what follows the length field, the command and
/// the error code (W421 7-4-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    pub length: u32,
    pub command: u32,
    pub error: u32,
}

pub const MAGIC: [u8; 4] = *b"FINS";
pub const TCP_HEADER_LEN: usize = 16;
/// The longest FINS/TCP length accepted: command and error code (8) and a FINS frame of at
/// most 2012 bytes (W421 7-4-1), with room for units that send more.
pub const MAX_TCP_LENGTH: u32 = 8200;

/// FINS/TCP commands (W421 7-4-3).
pub mod tcp_command {
    pub const NODE_ADDRESS_CLIENT: u32 = 0;
    pub const NODE_ADDRESS_SERVER: u32 = 1;
    pub const FRAME_SEND: u32 = 2;
    pub const FRAME_SEND_ERROR: u32 = 3;
    pub const CONNECTION_CONFIRMATION: u32 = 6;

    pub fn name(command: u32) -> Option<&'static str> {
        Some(match command {
            NODE_ADDRESS_CLIENT => "node address data send (client to server)",
            NODE_ADDRESS_SERVER => "node address data send (server to client)",
            FRAME_SEND => "FINS frame send",
            FRAME_SEND_ERROR => "FINS frame send error notification",
            CONNECTION_CONFIRMATION => "connection confirmation",
            _ => return None,
        })
    }
}

impl TcpHeader {
    /// Reads the header at the start of `data`; `None` when shorter than 16 bytes.
    pub fn parse(data: &[u8]) -> Option<TcpHeader> {
        let mut c = Cursor::new(data);
        if c.array::<4>()? != MAGIC {
            return None;
        }
        Some(TcpHeader {
            length: c.u32_be()?,
            command: c.u32_be()?,
            error: c.u32_be()?,
        })
    }

    /// Bytes of the whole message: the magic, the length field and `length`.
    pub fn message_len(&self) -> usize {
        8usize.saturating_add(self.length as usize)
    }
}

/// Whether `data` starts with as much of "FINS" as it holds.
pub fn starts_like_tcp(data: &[u8]) -> bool {
    let n = data.len().min(MAGIC.len());
    data.get(..n) == MAGIC.get(..n)
}
