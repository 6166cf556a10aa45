//! SLMP / MC protocol frames (Mitsubishi "SLMP Reference Manual" SH-080956ENG §4 "Message
//! format"; "MELSEC Communication Protocol Reference Manual" SH-080008 §3 for the QnA-compatible
//! 3E and 4E frames). Both codes are read here:
//!
//! - binary: numbers little-endian. 3E: subheader `50 00` (request) / `D0 00` (response),
//!   network no., station (PC) no., request destination module I/O no. (u16), multidrop
//!   station no., data length (u16, counting from the monitoring timer or end code). 4E:
//!   subheader `54 00` / `D4 00`, serial no. (u16), two fixed zero bytes, then as 3E.
//! - ASCII: the same fields as upper- or lower-case hexadecimal text, most significant digit
//!   first (`"5000" "00" "FF" "03FF" "00" "0018"`), each byte two characters, so every length
//!   counts characters. The CPU model name of a Read CPU model answer and device names stay
//!   text.
//!
//! A request's body is the monitoring timer, command and subcommand (u16 each) and the
//! command's data; a response's is the end code (u16: 0 is normal completion) and its data.

use super::SlmpError;
use crate::protocols::reader::Cursor;

/// Binary 3E header: subheader, network, station, module I/O, multidrop, data length.
pub const HEADER_3E: usize = 9;
/// Binary 4E header: 3E's plus serial number and two fixed zero bytes.
pub const HEADER_4E: usize = 13;

/// How the frame's numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Binary,
    Ascii,
}

impl Code {
    /// Bytes (binary) or characters (ASCII) a field of `n` bytes takes.
    pub fn width(self, n: usize) -> usize {
        match self {
            Code::Binary => n,
            Code::Ascii => 2 * n,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Code::Binary => "binary",
            Code::Ascii => "ASCII",
        }
    }
}

/// One frame's header and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub code: Code,
    pub response: bool,
    /// The 4E serial number (None for 3E).
    pub serial: Option<u16>,
    pub network: u8,
    pub station: u8,
    pub module_io: u16,
    pub multidrop: u8,
    /// What the data length counts: from the monitoring timer (request) or end code
    /// (response) on, in the frame's code.
    pub body: &'a [u8],
}

/// The shape of the frame at the start of `data`, from its subheader: `(code, 4E, response)`.
pub fn subheader(data: &[u8]) -> Option<(Code, bool, bool)> {
    match data {
        [0x50, 0x00, ..] => Some((Code::Binary, false, false)),
        [0xD0, 0x00, ..] => Some((Code::Binary, false, true)),
        [0x54, 0x00, ..] => Some((Code::Binary, true, false)),
        [0xD4, 0x00, ..] => Some((Code::Binary, true, true)),
        [a, b, b'0', b'0', ..] if matches!(b, b'0' | b'4') && matches!(a, b'5' | b'D' | b'd') => {
            Some((Code::Ascii, *b == b'4', *a != b'5'))
        }
        _ => None,
    }
}

/// Header length of a frame of this shape.
pub fn header_len(code: Code, four_e: bool) -> usize {
    code.width(if four_e { HEADER_4E } else { HEADER_3E })
}

/// A reader of the frame's numbers in its code.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    pub code: Code,
    pub c: Cursor<'a>,
}

impl<'a> Fields<'a> {
    pub fn new(code: Code, b: &'a [u8]) -> Fields<'a> {
        Fields {
            code,
            c: Cursor::new(b),
        }
    }

    /// A number of `n` bytes (1..=4).
    pub fn num(&mut self, n: usize) -> Option<u32> {
        match self.code {
            Code::Binary => self.c.uint_le(n),
            Code::Ascii => hex_text(self.c.take(2 * n)?),
        }
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.num(1).map(|v| v as u8)
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.num(2).map(|v| v as u16)
    }

    /// `n` raw bytes (text kept as it is).
    pub fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        self.c.take(n)
    }

    pub fn rest(&self) -> &'a [u8] {
        self.c.rest()
    }
}

/// A hexadecimal number written as text (at most 8 digits).
pub fn hex_text(t: &[u8]) -> Option<u32> {
    if t.is_empty() || t.len() > 8 {
        return None;
    }
    t.iter().try_fold(0u32, |acc, &ch| {
        let d = char::from(ch).to_digit(16)?;
        Some(acc << 4 | d)
    })
}

/// A decimal number written as text.
pub fn dec_text(t: &[u8]) -> Option<u32> {
    if t.is_empty() || t.len() > 10 {
        return None;
    }
    t.iter().try_fold(0u32, |acc, &ch| {
        let d = char::from(ch).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(d)
    })
}

/// The total length of the frame at the start of `data` once its header is at hand:
/// `Ok(Some(len))`, `Ok(None)` for "need more", or why it is no frame.
pub fn total_len(data: &[u8]) -> Result<Option<usize>, SlmpError> {
    let Some((code, four_e, _)) = subheader(data) else {
        return if data.len() < 4 && could_start(data) {
            Ok(None)
        } else {
            Err(SlmpError::Subheader)
        };
    };
    let header = header_len(code, four_e);
    let Some(h) = data.get(..header) else {
        return Ok(None);
    };
    let mut f = Fields::new(code, h);
    // subheader, (4E: serial, fixed zeros), network, station, module I/O, multidrop
    let skip = if four_e { 2 + 2 + 2 } else { 2 };
    let bad = SlmpError::Header;
    f.c.skip(code.width(skip)).ok_or(bad)?;
    if four_e {
        // The fixed zeros after the serial number.
        let zeros = h.get(code.width(4)..code.width(6)).ok_or(bad)?;
        if zeros.iter().any(|&b| b != 0 && b != b'0') {
            return Err(bad);
        }
    }
    // network, station, module I/O, multidrop: read so that ASCII ones must be hexadecimal
    for n in [1, 1, 2, 1] {
        f.num(n).ok_or(bad)?;
    }
    let len = f.u16().ok_or(bad)?;
    Ok(Some(header + usize::from(len)))
}

/// Whether `data` (shorter than a subheader) may start one.
fn could_start(data: &[u8]) -> bool {
    match data {
        [] => true,
        [a] => matches!(a, 0x50 | 0xD0 | 0x54 | 0xD4 | b'5' | b'D' | b'd'),
        [a, b] => subheader(&[*a, *b, b'0', b'0']).is_some(),
        [a, b, c] => subheader(&[*a, *b, *c, b'0']).is_some() && matches!(c, 0 | b'0'),
        _ => false,
    }
}

/// Reads the frame that fills `data` (as framed by [`total_len`], possibly cut short to a
/// prefix: `body` is what is there).
pub fn frame(data: &[u8]) -> Option<Frame<'_>> {
    let (code, four_e, response) = subheader(data)?;
    let mut f = Fields::new(code, data);
    f.c.skip(code.width(2))?;
    let serial = if four_e {
        let s = f.u16()?;
        f.num(2)?;
        Some(s)
    } else {
        None
    };
    let network = f.u8()?;
    let station = f.u8()?;
    let module_io = f.u16()?;
    let multidrop = f.u8()?;
    f.u16()?;
    Some(Frame {
        code,
        response,
        serial,
        network,
        station,
        module_io,
        multidrop,
        body: f.rest(),
    })
}

/// A request's fixed part: monitoring timer, command, subcommand; and the data after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub timer: u16,
    pub command: u16,
    pub subcommand: u16,
    pub data: &'a [u8],
}

pub fn request<'a>(fr: &Frame<'a>) -> Option<Request<'a>> {
    let mut f = Fields::new(fr.code, fr.body);
    Some(Request {
        timer: f.u16()?,
        command: f.u16()?,
        subcommand: f.u16()?,
        data: f.rest(),
    })
}

/// A response's end code and data.
pub fn response<'a>(fr: &Frame<'a>) -> Option<(u16, &'a [u8])> {
    let mut f = Fields::new(fr.code, fr.body);
    Some((f.u16()?, f.rest()))
}

/// A Read CPU model (0x0101) answer: the model name (16 characters, space-padded) and the
/// model code (u16).
pub fn cpu_model(code: Code, data: &[u8]) -> Option<(&[u8], u16)> {
    let mut f = Fields::new(code, data);
    let name = f.raw(16)?;
    let model = f.u16()?;
    let end = name
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    Some((name.get(..end)?, model))
}

/// A device: its code's name and the number of its first point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub name: &'static str,
    pub number: u32,
}

/// The device codes of the MC protocol (binary code, ASCII name, numbered in hexadecimal).
const DEVICES: &[(u16, &str, bool)] = &[
    (0x91, "SM", false),
    (0xA9, "SD", false),
    (0x9C, "X", true),
    (0x9D, "Y", true),
    (0x90, "M", false),
    (0x92, "L", false),
    (0x93, "F", false),
    (0x94, "V", false),
    (0xA0, "B", true),
    (0xA8, "D", false),
    (0xB4, "W", true),
    (0xC1, "TS", false),
    (0xC0, "TC", false),
    (0xC2, "TN", false),
    (0xC7, "SS", false),
    (0xC6, "SC", false),
    (0xC8, "SN", false),
    (0xC4, "CS", false),
    (0xC3, "CC", false),
    (0xC5, "CN", false),
    (0xA1, "SB", true),
    (0xB5, "SW", true),
    (0x98, "S", false),
    (0xA2, "DX", true),
    (0xA3, "DY", true),
    (0xCC, "Z", false),
    (0xAF, "R", false),
    (0xB0, "ZR", true),
    (0x62, "LZ", false),
    (0x2C, "RD", false),
    (0x51, "LTS", false),
    (0x50, "LTC", false),
    (0x52, "LTN", false),
    (0x59, "LSTS", false),
    (0x58, "LSTC", false),
    (0x5A, "LSTN", false),
    (0x55, "LCS", false),
    (0x54, "LCC", false),
    (0x56, "LCN", false),
];

/// The iQ-R subcommands (0x0002, 0x0003, 0x0082, 0x0083) address devices with a 4-byte
/// number and a 2-byte code; the Q-compatible ones with 3 bytes and 1.
pub fn long_addresses(subcommand: u16) -> bool {
    subcommand & 0x0002 != 0
}

/// Reads one device (Q: number 3 bytes + code 1 byte; iQ-R: 4 + 2; ASCII: the code's name in
/// 2 or 4 characters padded with `*`, then the number in 6 or 10 digits, hexadecimal for the
/// devices numbered so, else decimal).
pub fn device(f: &mut Fields<'_>, long: bool) -> Option<Device> {
    match f.code {
        Code::Binary => {
            let number = f.num(if long { 4 } else { 3 })?;
            let code = f.num(if long { 2 } else { 1 })? as u16;
            let name = DEVICES
                .iter()
                .find(|d| d.0 == code)
                .map_or("device", |d| d.1);
            Some(Device { name, number })
        }
        Code::Ascii => {
            let raw = f.raw(if long { 4 } else { 2 })?;
            let end = raw.iter().position(|&b| b == b'*').unwrap_or(raw.len());
            let text = raw.get(..end)?;
            let digits = f.raw(if long { 10 } else { 6 })?;
            let (name, hex) = DEVICES
                .iter()
                .find(|d| d.1.as_bytes().eq_ignore_ascii_case(text))
                .map_or(("device", false), |d| (d.1, d.2));
            let number = if hex {
                hex_text(digits)?
            } else {
                dec_text(digits)?
            };
            Some(Device { name, number })
        }
    }
}

/// A batch read or write (0x0401, 0x1401): the head device and the number of points.
pub fn batch(code: Code, r: &Request<'_>) -> Option<(Device, u16)> {
    let mut f = Fields::new(code, r.data);
    let d = device(&mut f, long_addresses(r.subcommand))?;
    Some((d, f.u16()?))
}

/// The devices of a random write (0x1402), at most `max`: bit units (subcommand bit 0) are
/// a count and (device, value u8 or u16); word units a word count, a double-word count, then
/// (device, u16) and (device, u32).
pub fn random_write(code: Code, r: &Request<'_>, max: usize, each: &mut impl FnMut(Device, u16)) {
    let long = long_addresses(r.subcommand);
    let mut f = Fields::new(code, r.data);
    let bits = r.subcommand & 1 != 0;
    let mut n = 0;
    let mut item = |f: &mut Fields<'_>, value: usize, points: u16| -> Option<()> {
        let d = device(f, long)?;
        f.num(value)?;
        if n < max {
            each(d, points);
            n += 1;
        }
        Some(())
    };
    if bits {
        let Some(count) = f.u8() else { return };
        let value = if long { 2 } else { 1 };
        for _ in 0..count {
            if item(&mut f, value, 1).is_none() {
                return;
            }
        }
        return;
    }
    let (Some(words), Some(dwords)) = (f.u8(), f.u8()) else {
        return;
    };
    for _ in 0..words {
        if item(&mut f, 2, 1).is_none() {
            return;
        }
    }
    for _ in 0..dwords {
        if item(&mut f, 4, 2).is_none() {
            return;
        }
    }
}
