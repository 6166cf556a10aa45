//! GE-SRTP messages: a 56-byte header, then a text buffer of the length the header gives.
//!
//! GE never published SRTP. Its mailbox part is the mailbox message of SNP, GE's serial
//! protocol for Series 90 PLCs, which GE did publish ("Series 90 PLC SNP Communications User's
//! Manual" GFK-0529C, 1998, chapter 3 and tables 3-6 to 3-11): SRTP carries SNP's bytes 3 to
//! 34 (1-based) at offsets 24 to 55, so SNP byte N is SRTP offset N + 21. The SRTP framing
//! around it (offsets 0 to 23: type, sequence number, text length) comes from Denton,
//! Karpisek, Breitinger and Baggili, "Leveraging the SRTP protocol for over-the-network memory
//! acquisition of a GE Fanuc Series 90-30" (DFRWS USA 2017, tables 1 and 4), confirmed by the
//! dumps of a PACSystems RX3i that the MIT-licensed gesrtp-py driver logs.
//!
//! Header (numbers little-endian):
//!
//! | offset | field |
//! |---|---|
//! | 0 | type: 0x00 connection request (56 zero bytes), 0x01 its answer, 0x02 request, 0x03 response (0x08: unknown, passed over) |
//! | 2-3 | sequence number (echoed by the response) |
//! | 4-5 | text length: bytes that follow the header |
//! | 26-28 | time stamp, BCD seconds, minutes, hours (optional) |
//! | 30 | mailbox sequence number (SNP byte 9; echoed by the response) |
//! | 31 | mailbox type (SNP byte 10): 0xC0 initial request, 0x80 initial request with text buffer, 0xD4 completion ACK, 0x94 completion ACK with text buffer, 0xD1 error NACK |
//! | 32-35, 36-39 | mailbox source and destination (SNP bytes 11-18) |
//! | 40-55 | by mailbox type, below |
//!
//! - 0xC0 (GFK-0529 table 3-6): packet number 40, total packets 41, service request code 42,
//!   its data 43-55 (13 bytes);
//! - 0x80 (table 3-7): total data length 42-43, packet number 48, total packets 49, service
//!   request code 50, its data 51-55 (5 bytes); the rest of the data in the text buffer;
//! - 0xD4 (table 3-9): status 42, minor status 43, response data 44-49, piggyback status 50-55
//!   (control program number, privilege level, last sweep time, PLC status word);
//! - 0x94 (table 3-10): total data length 42-43, packet number 48, total packets 49,
//!   piggyback status 50-55; the data in the text buffer;
//! - 0xD1 (table 3-11): major error status 42, minor error status 43.

use crate::protocols::reader::Cursor;

/// The fixed header every message has.
pub const HEADER_LEN: usize = 56;

/// The SRTP message types (offset 0).
pub mod kind {
    /// The client's first message: 56 zero bytes.
    pub const CONNECT: u8 = 0x00;
    /// The PLC's answer to it.
    pub const CONNECT_ACK: u8 = 0x01;
    pub const REQUEST: u8 = 0x02;
    pub const RESPONSE: u8 = 0x03;
    /// A type of unknown meaning that the Wireshark Lua dissector of Palatis/packet-ge-srtp
    /// (written on a FANUC robot controller's traffic) lists: framed by its text length and
    /// passed over.
    pub const OTHER: u8 = 0x08;
}

/// The mailbox types (offset 31, GFK-0529 tables 3-6 to 3-11).
pub mod mailbox {
    pub const REQUEST: u8 = 0xC0;
    pub const REQUEST_TEXT: u8 = 0x80;
    pub const ACK: u8 = 0xD4;
    pub const ACK_TEXT: u8 = 0x94;
    pub const NACK: u8 = 0xD1;
}

/// One message's header fields that matter here, and the text buffer (or the part of it that
/// was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u8,
    pub seq: u16,
    pub text_len: u16,
    pub mailbox_seq: u8,
    pub mailbox_type: u8,
    /// Offsets 40 to 55 (the mailbox type's own fields).
    pub tail: &'a [u8; 16],
    pub text: &'a [u8],
}

impl<'a> Message<'a> {
    /// The header at the start of `data` (at least [`HEADER_LEN`] bytes); the text buffer is
    /// what of it `data` holds.
    pub fn parse(data: &'a [u8]) -> Option<Message<'a>> {
        let mut c = Cursor::new(data);
        let kind = c.u8()?;
        c.skip(1)?;
        let seq = c.u16_le()?;
        let text_len = c.u16_le()?;
        c.seek(30)?;
        let mailbox_seq = c.u8()?;
        let mailbox_type = c.u8()?;
        c.seek(40)?;
        let tail: &[u8; 16] = c.take(16)?.try_into().ok()?;
        let text = c.rest();
        let text = text.get(..usize::from(text_len)).unwrap_or(text);
        Some(Message {
            kind,
            seq,
            text_len,
            mailbox_seq,
            mailbox_type,
            tail,
            text,
        })
    }

    /// Header offset `at` (40..56) of the tail.
    pub fn at(&self, at: usize) -> u8 {
        at.checked_sub(40)
            .and_then(|i| self.tail.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// The little-endian word at header offset `at`.
    pub fn word(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.at(at), self.at(at + 1)])
    }

    /// A request's service request code and the bytes of its data in the header: offset 42
    /// and 43-55 in an initial request, 50 and 51-55 in one with a text buffer.
    pub fn service(&self) -> Option<(u8, &'a [u8])> {
        let start = match self.mailbox_type {
            mailbox::REQUEST => 42,
            mailbox::REQUEST_TEXT => 50,
            _ => return None,
        };
        let tail: &'a [u8; 16] = self.tail;
        let code = *tail.get(start - 40)?;
        Some((code, tail.get(start - 39..)?))
    }
}

/// The length of the message at the start of `data`: `Ok(None)` until its header is there,
/// `Err(type)` when the first bytes are no SRTP header (a type other than 0x00-0x03 and 0x08,
/// or byte 1 not zero).
pub fn total_len(data: &[u8]) -> Result<Option<usize>, u8> {
    match data {
        [k, ..] if *k > kind::RESPONSE && *k != kind::OTHER => Err(*k),
        [k, b, ..] if *b != 0 => Err(*k),
        _ if data.len() < HEADER_LEN => Ok(None),
        [_, _, _, _, lo, hi, ..] => Ok(Some(
            HEADER_LEN + usize::from(u16::from_le_bytes([*lo, *hi])),
        )),
        _ => Ok(None),
    }
}

/// A reference memory type and access mode named by a segment selector (GFK-0529 table 6-4,
/// "Reference Data Segment Selectors"; the same values in the DFRWS paper's table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The memory type as GE writes it without `%`: R, AI, AQ, I, Q, T, M, SA, SB, SC, S, G, L, P.
    pub area: &'static str,
    pub mode: Mode,
}

/// How a segment selector counts offsets and lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bit,
    Byte,
    Word,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bit => "bit",
            Mode::Byte => "byte",
            Mode::Word => "word",
        }
    }
}

/// The memory type and mode of a segment selector; `None` for one table 6-4 does not list.
pub fn segment(selector: u8) -> Option<Segment> {
    use Mode::*;
    let (area, mode) = match selector {
        0x46 => ("I", Bit),
        0x10 => ("I", Byte),
        0x48 => ("Q", Bit),
        0x12 => ("Q", Byte),
        0x4A => ("T", Bit),
        0x14 => ("T", Byte),
        0x4C => ("M", Bit),
        0x16 => ("M", Byte),
        0x4E => ("SA", Bit),
        0x18 => ("SA", Byte),
        0x50 => ("SB", Bit),
        0x1A => ("SB", Byte),
        0x52 => ("SC", Bit),
        0x1C => ("SC", Byte),
        0x54 => ("S", Bit),
        0x1E => ("S", Byte),
        0x56 => ("G", Bit),
        0x38 => ("G", Byte),
        0x0A => ("AI", Word),
        0x0C => ("AQ", Word),
        0x08 => ("R", Word),
        0x00 => ("L", Word),
        // %P, a task's program data (GFK-0529, Read Task Memory: "segment selector = 4").
        0x04 => ("P", Word),
        _ => return None,
    };
    Some(Segment { area, mode })
}

/// A memory access of Read/Write System Memory (and Task / Program Block Memory): segment
/// selector, zero-based data offset and data length, in the selector's units (GFK-0529 6-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub selector: u8,
    pub offset: u16,
    pub length: u16,
}

impl Range {
    /// The range in `data`, the service request data after the code: selector, offset, length.
    pub fn parse(data: &[u8]) -> Option<Range> {
        let mut c = Cursor::new(data);
        Some(Range {
            selector: c.u8()?,
            offset: c.u16_le()?,
            length: c.u16_le()?,
        })
    }

    /// The first reference and how many, as a programmer numbers them (1-based, `%Q497` for
    /// byte offset 62 of %Q): bits for discrete memory, words for registers and analog I/O.
    pub fn references(&self, mode: Mode) -> (u32, u32) {
        let (offset, length) = (u32::from(self.offset), u32::from(self.length));
        match mode {
            Mode::Byte => (offset * 8 + 1, length * 8),
            Mode::Bit | Mode::Word => (offset + 1, length),
        }
    }
}

/// What a Return Controller Type and ID answer's text buffer says (GFK-0529 6-39, table 6-17:
/// text bytes 3-42 of the SNP text buffer are SRTP text offsets 0-39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerId<'a> {
    /// The CPU controller ID (up to 7 ASCII characters, NUL-terminated).
    pub controller_id: &'a [u8],
    pub major: u8,
    pub minor: u8,
    pub programs: u8,
    /// The main control program's name (up to 8 characters).
    pub program: &'a [u8],
}

/// Cut at the first NUL.
fn c_string(raw: &[u8]) -> &[u8] {
    raw.split(|&b| b == 0).next().unwrap_or_default()
}

/// A Return Controller Type and ID answer's text: controller ID (8 bytes), major and minor
/// type, number of control programs, a spare byte, the main program name (8 bytes).
pub fn controller_id(text: &[u8]) -> Option<ControllerId<'_>> {
    let mut c = Cursor::new(text);
    let controller_id = c_string(c.take(8)?);
    let major = c.u8()?;
    let minor = c.u8()?;
    let programs = c.u8()?;
    c.skip(1)?;
    let program = c_string(c.take(8)?);
    Some(ControllerId {
        controller_id,
        major,
        minor,
        programs,
        program,
    })
}

/// The model named by a PLC major and minor type (GFK-0529 table 6-16); `None` for a pair it
/// does not list (later CPUs: PACSystems RX3i and RX7i answer with types of their own).
pub fn model(major: u8, minor: u8) -> Option<&'static str> {
    Some(match (major, minor) {
        (0x0C, 0x1F) => "Series 90-70 CPU 731",
        (0x0C, 0x20) => "Series 90-70 CPU 732",
        (0x0C, 0x47) => "Series 90-70 CPU 771",
        (0x0C, 0x48) => "Series 90-70 CPU 772",
        (0x0C, 0x50) => "Series 90-70 CPU 780",
        (0x0C, 0x51) => "Series 90-70 CPU 781",
        (0x0C, 0x52) => "Series 90-70 CPU 782",
        (0x0C, 0x58) => "Series 90-70 CPU 788",
        (0x0C, 0x59) => "Series 90-70 CPU 789",
        (0x0C, 0x5C) => "Series 90-70 CPU 914",
        (0x0C, 0x5E) => "Series 90-70 CPU 924",
        (0x10, 0x1F) => "Series 90-20 CPU 211",
        (0x10, 0x1E) => "Series 90-30 CPU 311",
        (0x10, 0x20) => "Series 90-30 CPU 321",
        (0x10, 0x21) => "Series 90-30 CPU 313",
        (0x10, 0x22) => "Series 90-30 CPU 323",
        (0x10, 0x23) => "Series 90-30 CPU 331",
        (0x10, 0x24) => "Series 90-30 CPU 341",
        _ => return None,
    })
}

/// The family a major type names (table 6-16), for a minor type the table does not list.
pub fn family(major: u8) -> Option<&'static str> {
    match major {
        0x0C => Some("Series 90-70"),
        0x10 => Some("Series 90-30"),
        _ => None,
    }
}

/// The PLC state in bits 12-15 of the piggyback status word (GFK-0529 table 3-8), and the
/// states Set PLC State asks for (6-70: 0, 1, 2 and 6).
pub fn state_name(state: u8) -> Option<&'static str> {
    Some(match state {
        0 => "run I/O enabled",
        1 => "run I/O disabled",
        2 => "stop I/O disabled",
        3 => "CPU stop faulted",
        4 => "CPU halted",
        5 => "CPU suspended",
        6 => "stop I/O enabled",
        _ => return None,
    })
}

/// The major error status of an error NACK (GFK-0529 table 3-12).
pub fn major_error(code: u8) -> &'static str {
    match code {
        0x01 => "illegal service request",
        0x02 => "insufficient privilege",
        0x04 => "protocol sequence error",
        0x05 => "service request error",
        0x06 => "illegal mailbox type",
        0x07 => "service request queue full",
        _ => "unknown error",
    }
}
