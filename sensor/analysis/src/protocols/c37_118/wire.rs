//! IEEE C37.118.2-2011 frames (clause 6): the common header every frame starts with, the CHK
//! that ends it, and the configuration frames CFG-1 and CFG-2 (6.4, table 8) and CFG-3 (6.4,
//! table 10).
//!
//! ```text
//! SYNC(2) FRAMESIZE(2) IDCODE(2) SOC(4) FRACSEC(4) | payload | CHK(2)
//! ```
//!
//! SYNC is 0xAA, then a byte whose bits 6-4 are the frame type (0 data, 1 header, 2 CFG-1,
//! 3 CFG-2, 5 CFG-3, 4 command; 6 and 7 reserved) and bits 3-0 the version (1: C37.118-2005,
//! 2: C37.118.2-2011). FRAMESIZE counts every byte, CHK included. IDCODE is the data stream's
//! source (a command's destination). CHK is CRC-CCITT (polynomial 0x1021, initial 0xFFFF, no
//! final XOR) over all bytes before it (annex B).

use super::error::C37Error;
use crate::protocols::reader::Cursor;

pub const SYNC: u8 = 0xaa;
/// Common header and CHK.
pub const MIN_FRAME: usize = 16;
pub const HEADER_LEN: usize = 14;

/// The frame type of SYNC's second byte (6.2.1, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Data,
    Header,
    Cfg1,
    Cfg2,
    Cfg3,
    Command,
}

impl FrameType {
    pub fn of(byte: u8) -> Option<FrameType> {
        Some(match (byte >> 4) & 0x07 {
            0 => FrameType::Data,
            1 => FrameType::Header,
            2 => FrameType::Cfg1,
            3 => FrameType::Cfg2,
            4 => FrameType::Command,
            5 => FrameType::Cfg3,
            _ => return None,
        })
    }

    /// The value of the frame type bits (tshark's synphasor.frtype).
    pub fn bits(self) -> u8 {
        match self {
            FrameType::Data => 0,
            FrameType::Header => 1,
            FrameType::Cfg1 => 2,
            FrameType::Cfg2 => 3,
            FrameType::Command => 4,
            FrameType::Cfg3 => 5,
        }
    }
}

/// The common header (6.2, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub frame_type: FrameType,
    pub version: u8,
    pub size: u16,
    pub idcode: u16,
    pub soc: u32,
    pub fracsec: u32,
}

/// Checks SYNC's two bytes: 0xAA, the reserved bit 0, a defined frame type, a version.
pub fn sync(b0: u8, b1: u8) -> Result<(FrameType, u8), C37Error> {
    if b0 != SYNC {
        return Err(C37Error::NotSync);
    }
    let bad = || C37Error::Sync(u16::from_be_bytes([b0, b1]));
    let version = b1 & 0x0f;
    if b1 & 0x80 != 0 || version == 0 {
        return Err(bad());
    }
    Ok((FrameType::of(b1).ok_or_else(bad)?, version))
}

impl Header {
    /// Reads and checks the header; `Ok(None)` when fewer than 14 bytes are at hand.
    pub fn parse(data: &[u8]) -> Result<Option<Header>, C37Error> {
        let mut c = Cursor::new(data);
        let (Some(b0), Some(b1)) = (c.u8(), c.u8()) else {
            return Ok(None);
        };
        let (frame_type, version) = sync(b0, b1)?;
        let Some(size) = c.u16_be() else {
            return Ok(None);
        };
        if usize::from(size) < MIN_FRAME {
            return Err(C37Error::FrameSize(size));
        }
        let (Some(idcode), Some(soc), Some(fracsec)) = (c.u16_be(), c.u32_be(), c.u32_be()) else {
            return Ok(None);
        };
        Ok(Some(Header {
            frame_type,
            version,
            size,
            idcode,
            soc,
            fracsec,
        }))
    }
}

/// CRC-CCITT of annex B, one table lookup a byte.
pub fn crc_ccitt(data: &[u8]) -> u16 {
    data.iter().fold(0xffff, |crc, &b| {
        let i = usize::from((crc >> 8) as u8 ^ b);
        (crc << 8) ^ CRC_TABLE.get(i).copied().unwrap_or(0)
    })
}

const CRC_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
};

/// Checks a whole frame's CHK.
pub fn check_crc(frame: &[u8]) -> Result<(), C37Error> {
    let n = frame.len().saturating_sub(2);
    let (body, chk) = frame.split_at(n);
    let found = match chk {
        [a, b] => u16::from_be_bytes([*a, *b]),
        _ => return Err(C37Error::FrameSize(frame.len() as u16)),
    };
    let computed = crc_ccitt(body);
    if found != computed {
        return Err(C37Error::Crc { found, computed });
    }
    Ok(())
}

/// One PMU block of a CFG-1 or CFG-2 frame (6.4, table 8), or of a CFG-3 frame (table 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Station<'a> {
    /// STN: 16 bytes of ASCII (CFG-3: 0 to 255 bytes of UTF-8, after their length).
    pub name: &'a [u8],
    pub idcode: u16,
    /// G_PMU_ID (CFG-3 only): the PMU's 16-byte global ID.
    pub global_id: Option<&'a [u8]>,
    pub format: u16,
    pub phasors: u16,
    pub analogs: u16,
    pub digitals: u16,
    /// CHNAM: a name for each phasor, analog value and each of the 16 bits of a digital word;
    /// 16 bytes each (CFG-3: each its length byte and that many bytes).
    pub channel_names: &'a [u8],
    /// The names are CFG-3's, each after its length.
    pub prefixed_names: bool,
    /// FNOM bit 0: 50 Hz (else 60 Hz).
    pub fnom_50hz: bool,
    pub cfgcnt: u16,
}

impl<'a> Station<'a> {
    /// The channel names (CFG-1 and CFG-2: 16 bytes each, padded).
    pub fn channels(&self) -> Names<'a> {
        Names {
            rest: self.channel_names,
            prefixed: self.prefixed_names,
        }
    }
}

/// The channel names of a PMU block.
#[derive(Debug, Clone)]
pub struct Names<'a> {
    rest: &'a [u8],
    prefixed: bool,
}

impl<'a> Iterator for Names<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let mut c = Cursor::new(self.rest);
        let name = if self.prefixed {
            let len = c.u8()?;
            c.take(usize::from(len))?
        } else {
            c.take(16)?
        };
        self.rest = c.rest();
        Some(name)
    }
}

/// A CFG-1 or CFG-2 frame's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<'a> {
    pub time_base: u32,
    pub stations: Vec<Station<'a>>,
    /// DATA_RATE: frames per second when positive, seconds per frame when negative.
    pub data_rate: i16,
}

/// Most PMU blocks read from one configuration frame.
pub const MAX_STATIONS: usize = 64;

/// Reads the payload of a CFG-1 or CFG-2 frame (between the common header and CHK).
pub fn config(payload: &[u8]) -> Result<Config<'_>, C37Error> {
    configuration(payload, false)
}

/// CONT_IDX of a CFG-3 frame (table 10): 0 when the configuration is whole in this frame, else
/// 1, 2, ... for the fragments of a series, the last one 0xFFFF.
pub fn cont_idx(payload: &[u8]) -> Option<u16> {
    Cursor::new(payload).u16_be()
}

/// CONT_IDX of the last fragment of a CFG-3 series.
pub const LAST_FRAGMENT: u16 = 0xffff;

/// A CFG-3 name field (table 12): its length, then that many bytes.
fn name3<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let len = c.u8()?;
    c.take(usize::from(len))
}

/// Reads the configuration of a CFG-3 frame (6.4, table 10): what follows CONT_IDX, whole
/// (from one frame, or the fragments of a series joined):
///
/// ```text
/// TIME_BASE(4) NUM_PMU(2)
///   { STN(1+n) IDCODE(2) G_PMU_ID(16) FORMAT(2) PHNMR(2) ANNMR(2) DGNMR(2)
///     CHNAM((1+n) x (PHNMR + ANNMR + 16 DGNMR)) PHSCALE(12 PHNMR) ANSCALE(8 ANNMR)
///     DIGUNIT(4 DGNMR) PMU_LAT(4) PMU_LON(4) PMU_ELEV(4) SVC_CLASS(1) WINDOW(4)
///     GRP_DLY(4) FNOM(2) CFGCNT(2) } x NUM_PMU
/// DATA_RATE(2)
/// ```
pub fn config3(data: &[u8]) -> Result<Config<'_>, C37Error> {
    configuration(data, true)
}

/// A configuration of CFG-1 or CFG-2 (table 8), or of CFG-3 (`cfg3`, table 10).
fn configuration(data: &[u8], cfg3: bool) -> Result<Config<'_>, C37Error> {
    let short = C37Error::ConfigTruncated;
    let mut c = Cursor::new(data);
    let time_base = c.u32_be().ok_or(short)? & 0x00ff_ffff;
    let count = c.u16_be().ok_or(short)?;
    let mut stations = Vec::new();
    for _ in 0..count {
        let name = if cfg3 { name3(&mut c) } else { c.take(16) }.ok_or(short)?;
        let idcode = c.u16_be().ok_or(short)?;
        let global_id = if cfg3 {
            Some(c.take(16).ok_or(short)?)
        } else {
            None
        };
        let format = c.u16_be().ok_or(short)?;
        let phasors = c.u16_be().ok_or(short)?;
        let analogs = c.u16_be().ok_or(short)?;
        let digitals = c.u16_be().ok_or(short)?;
        let (ph, an, dg) = (
            usize::from(phasors),
            usize::from(analogs),
            usize::from(digitals),
        );
        let names = ph + an + 16 * dg;
        let channel_names = if cfg3 {
            let start = c.pos();
            for _ in 0..names {
                name3(&mut c).ok_or(short)?;
            }
            data.get(start..c.pos())
        } else {
            c.take(16 * names)
        }
        .ok_or(short)?;
        let rest = if cfg3 {
            // PHSCALE 12 bytes a phasor (flags, type, user byte, scale, angle adjustment),
            // ANSCALE 8 an analog value (scale, offset), DIGUNIT 4 a digital word; PMU_LAT,
            // PMU_LON, PMU_ELEV, SVC_CLASS, WINDOW, GRP_DLY.
            12 * ph + 8 * an + 4 * dg + (4 + 4 + 4 + 1 + 4 + 4)
        } else {
            // PHUNIT, ANUNIT, DIGUNIT: 4 bytes each.
            4 * (ph + an + dg)
        };
        c.skip(rest).ok_or(short)?;
        let fnom = c.u16_be().ok_or(short)?;
        let cfgcnt = c.u16_be().ok_or(short)?;
        if stations.len() < MAX_STATIONS {
            stations.push(Station {
                name,
                idcode,
                global_id,
                format,
                phasors,
                analogs,
                digitals,
                channel_names,
                prefixed_names: cfg3,
                fnom_50hz: fnom & 1 != 0,
                cfgcnt,
            });
        }
    }
    let data_rate = c.u16_be().ok_or(short)? as i16;
    Ok(Config {
        time_base,
        stations,
        data_rate,
    })
}

/// Commands (6.5, table 15).
pub mod command {
    pub const TURN_OFF: u16 = 1;
    pub const TURN_ON: u16 = 2;
    pub const SEND_HDR: u16 = 3;
    pub const SEND_CFG1: u16 = 4;
    pub const SEND_CFG2: u16 = 5;
    pub const SEND_CFG3: u16 = 6;
    pub const EXTENDED: u16 = 8;

    pub fn name(cmd: u16) -> &'static str {
        match cmd {
            TURN_OFF => "turn off transmission",
            TURN_ON => "turn on transmission",
            SEND_HDR => "send header frame",
            SEND_CFG1 => "send CFG-1 frame",
            SEND_CFG2 => "send CFG-2 frame",
            SEND_CFG3 => "send CFG-3 frame",
            EXTENDED => "extended frame",
            0x0100..=0x7fff => "user designated",
            _ => "reserved",
        }
    }
}
