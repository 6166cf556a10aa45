//! The AMS/TCP and AMS headers and the ADS command bodies (Beckhoff Information System,
//! "TwinCAT ADS/AMS specification": AMS/TCP packet, AMS header, ADS commands 1-9). Every
//! integer is little-endian.

use super::AdsError;
use crate::protocols::reader::Cursor;

/// AMS/TCP header: reserved (u16, 0 for AMS packets), length of what follows (u32).
pub const TCP_HEADER_LEN: usize = 6;
/// AMS header: target Net ID and port, source Net ID and port, command id, state flags, data
/// length, error code, invoke id.
pub const AMS_HEADER_LEN: usize = 32;
/// The longest AMS packet taken as one: ADS caps a single read or write well below this
/// (a TwinCAT router's default buffer is a few MB); a longer length is a broken header.
pub const MAX_AMS_LEN: u32 = 16 * 1024 * 1024;

/// ADS command ids (AMS header `command id`).
pub mod command {
    pub const INVALID: u16 = 0;
    pub const READ_DEVICE_INFO: u16 = 1;
    pub const READ: u16 = 2;
    pub const WRITE: u16 = 3;
    pub const READ_STATE: u16 = 4;
    pub const WRITE_CONTROL: u16 = 5;
    pub const ADD_DEVICE_NOTIFICATION: u16 = 6;
    pub const DELETE_DEVICE_NOTIFICATION: u16 = 7;
    pub const DEVICE_NOTIFICATION: u16 = 8;
    pub const READ_WRITE: u16 = 9;

    /// The command's name, as Beckhoff writes it.
    pub fn name(id: u16) -> &'static str {
        match id {
            READ_DEVICE_INFO => "ReadDeviceInfo",
            READ => "Read",
            WRITE => "Write",
            READ_STATE => "ReadState",
            WRITE_CONTROL => "WriteControl",
            ADD_DEVICE_NOTIFICATION => "AddDeviceNotification",
            DELETE_DEVICE_NOTIFICATION => "DeleteDeviceNotification",
            DEVICE_NOTIFICATION => "DeviceNotification",
            READ_WRITE => "ReadWrite",
            _ => "Invalid",
        }
    }
}

/// AMS header state flags.
pub mod flags {
    /// The packet is a response.
    pub const RESPONSE: u16 = 0x0001;
    /// An ADS command (as opposed to an AMS system command).
    pub const ADS_COMMAND: u16 = 0x0004;
}

/// An AMS Net ID: six octets, written dotted (`5.13.117.96.1.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetId(pub [u8; 6]);

impl std::fmt::Display for NetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a}.{b}.{c}.{d}.{e}.{g}")
    }
}

/// The AMS header of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmsHeader {
    pub target: NetId,
    pub target_port: u16,
    pub source: NetId,
    pub source_port: u16,
    pub command: u16,
    pub state_flags: u16,
    /// Length of the ADS data after the header.
    pub data_len: u32,
    pub error: u32,
    pub invoke: u32,
}

impl AmsHeader {
    /// Reads the header at the start of `b` (at least [`AMS_HEADER_LEN`] bytes).
    pub fn parse(b: &[u8]) -> Option<AmsHeader> {
        let mut c = Cursor::new(b);
        Some(AmsHeader {
            target: NetId(c.array()?),
            target_port: c.u16_le()?,
            source: NetId(c.array()?),
            source_port: c.u16_le()?,
            command: c.u16_le()?,
            state_flags: c.u16_le()?,
            data_len: c.u32_le()?,
            error: c.u32_le()?,
            invoke: c.u32_le()?,
        })
    }

    pub fn is_response(&self) -> bool {
        self.state_flags & flags::RESPONSE != 0
    }
}

/// The AMS/TCP header at the start of `b`: `(reserved, length)`.
pub fn tcp_header(b: &[u8]) -> Option<(u16, u32)> {
    let mut c = Cursor::new(b);
    Some((c.u16_le()?, c.u32_le()?))
}

/// What an ADS request asks, as far as the monitor needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Read (2): index group, offset, length.
    Read { group: u32, offset: u32, len: u32 },
    /// Write (3): index group, offset, length, the data (its start when the packet was cut).
    Write {
        group: u32,
        offset: u32,
        len: u32,
        data: &'a [u8],
    },
    /// WriteControl (5): ADS state, device state, data.
    WriteControl { ads_state: u16, device_state: u16 },
    /// AddDeviceNotification (6): index group, offset, length, transmission mode.
    AddNotification {
        group: u32,
        offset: u32,
        len: u32,
        mode: u32,
    },
    /// ReadWrite (9): index group, offset, read length, the data written.
    ReadWrite {
        group: u32,
        offset: u32,
        read_len: u32,
        data: &'a [u8],
    },
    /// Commands without a body (ReadDeviceInfo, ReadState) or with one the monitor does not
    /// read (DeleteDeviceNotification).
    Other,
}

/// Reads the body of a request with command `cmd` (ADS spec §"ADS commands", request layouts).
/// `whole`: the body is all there (else its data may be cut short and is read as far as it
/// goes).
pub fn request(cmd: u16, body: &[u8], whole: bool) -> Result<Request<'_>, AdsError> {
    let short = || AdsError::Body(command::name(cmd));
    let mut c = Cursor::new(body);
    let r = match cmd {
        command::READ => Request::Read {
            group: c.u32_le().ok_or_else(short)?,
            offset: c.u32_le().ok_or_else(short)?,
            len: c.u32_le().ok_or_else(short)?,
        },
        command::WRITE => {
            let group = c.u32_le().ok_or_else(short)?;
            let offset = c.u32_le().ok_or_else(short)?;
            let len = c.u32_le().ok_or_else(short)?;
            let data = take(&mut c, len, whole).ok_or_else(short)?;
            Request::Write {
                group,
                offset,
                len,
                data,
            }
        }
        command::WRITE_CONTROL => {
            let ads_state = c.u16_le().ok_or_else(short)?;
            let device_state = c.u16_le().ok_or_else(short)?;
            let len = c.u32_le().ok_or_else(short)?;
            take(&mut c, len, whole).ok_or_else(short)?;
            Request::WriteControl {
                ads_state,
                device_state,
            }
        }
        command::ADD_DEVICE_NOTIFICATION => {
            let r = Request::AddNotification {
                group: c.u32_le().ok_or_else(short)?,
                offset: c.u32_le().ok_or_else(short)?,
                len: c.u32_le().ok_or_else(short)?,
                mode: c.u32_le().ok_or_else(short)?,
            };
            // max delay, cycle time, 16 reserved bytes
            c.skip(24).ok_or_else(short)?;
            r
        }
        command::READ_WRITE => {
            let group = c.u32_le().ok_or_else(short)?;
            let offset = c.u32_le().ok_or_else(short)?;
            let read_len = c.u32_le().ok_or_else(short)?;
            let len = c.u32_le().ok_or_else(short)?;
            let data = take(&mut c, len, whole).ok_or_else(short)?;
            Request::ReadWrite {
                group,
                offset,
                read_len,
                data,
            }
        }
        command::DELETE_DEVICE_NOTIFICATION => {
            c.u32_le().ok_or_else(short)?;
            Request::Other
        }
        _ => Request::Other,
    };
    Ok(r)
}

/// `len` bytes of data, or (`!whole`) as many of them as the packet's prefix holds.
fn take<'a>(c: &mut Cursor<'a>, len: u32, whole: bool) -> Option<&'a [u8]> {
    let len = usize::try_from(len).ok()?;
    if whole {
        c.take(len)
    } else {
        c.take(len.min(c.remaining()))
    }
}

/// A ReadDeviceInfo response: result, major and minor version, build, device name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo<'a> {
    pub result: u32,
    pub major: u8,
    pub minor: u8,
    pub build: u16,
    /// The name without its NUL padding.
    pub name: &'a [u8],
}

/// Length of a ReadDeviceInfo response: result, version (4 bytes), name (16 bytes).
pub const DEVICE_INFO_LEN: usize = 24;

/// Reads a ReadDeviceInfo response. The name is `char[16]`, NUL-padded; some servers (pyads'
/// test server) send it unpadded, which is read as far as it goes.
pub fn device_info(body: &[u8]) -> Option<DeviceInfo<'_>> {
    let mut c = Cursor::new(body);
    let result = c.u32_le()?;
    let major = c.u8()?;
    let minor = c.u8()?;
    let build = c.u16_le()?;
    let raw = c.rest();
    let raw = raw.get(..16).unwrap_or(raw);
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    Some(DeviceInfo {
        result,
        major,
        minor,
        build,
        name: raw.get(..end).unwrap_or_default(),
    })
}

/// The result code that starts every ADS response body but DeviceNotification's.
pub fn result(body: &[u8]) -> Option<u32> {
    Cursor::new(body).u32_le()
}

/// A ReadState response: result and ADS state (the device state after it is not used).
pub fn read_state(body: &[u8]) -> Option<(u32, u16)> {
    let mut c = Cursor::new(body);
    Some((c.u32_le()?, c.u16_le()?))
}

/// ADS states (ADSSTATE), as WriteControl sets them and ReadState reports them.
pub mod state {
    pub const RESET: u16 = 2;
    pub const START: u16 = 4;
    pub const RUN: u16 = 5;
    pub const STOP: u16 = 6;
    pub const SHUTDOWN: u16 = 12;
    pub const SUSPEND: u16 = 13;
    pub const RESUME: u16 = 14;
    pub const CONFIG: u16 = 15;
    pub const RECONFIG: u16 = 16;

    /// The state's name, as TwinCAT writes it (ADSSTATE_*).
    pub fn name(s: u16) -> &'static str {
        match s {
            0 => "INVALID",
            1 => "IDLE",
            RESET => "RESET",
            3 => "INIT",
            START => "START",
            RUN => "RUN",
            STOP => "STOP",
            7 => "SAVECFG",
            8 => "LOADCFG",
            9 => "POWERFAILURE",
            10 => "POWERGOOD",
            11 => "ERROR",
            SHUTDOWN => "SHUTDOWN",
            SUSPEND => "SUSPEND",
            RESUME => "RESUME",
            CONFIG => "CONFIG",
            RECONFIG => "RECONFIG",
            17 => "STOPPING",
            18 => "INCOMPATIBLE",
            19 => "EXCEPTION",
            _ => "unknown",
        }
    }
}
