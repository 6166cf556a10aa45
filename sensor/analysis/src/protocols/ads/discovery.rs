//! The TwinCAT UDP service on port 48899 ("ADS discovery"): the engineering tools' broadcast
//! search for TwinCAT systems and the "add route" request that lets a remote system talk to a
//! router. Beckhoff does not publish it; the layout here is the one TwinCAT and pyads'
//! `add_route_to_plc` use, and that the public capture `addroute1.pcapng` shows:
//!
//! - magic `03 66 14 71` (0x71146603 little-endian), invoke id (u32), service id (u32: 1
//!   discover, 6 add route; a response has bit 31 set), the sender's AMS Net ID (6) and port
//!   (u16), a tag count (u32);
//! - tags of id (u16), length (u16) and value: 1 status (u32), 2 password, 3 OS version, 4
//!   TwinCAT version (major, minor, build u16), 5 host name, 7 AMS Net ID, 12 route name, 13
//!   user name. Strings end with a NUL.

use super::wire::NetId;
use super::AdsError;
use crate::protocols::reader::Cursor;

pub const PORT: u16 = 48899;
/// The first four bytes of every datagram.
pub const MAGIC: [u8; 4] = [0x03, 0x66, 0x14, 0x71];
/// Header: magic, invoke id, service id, Net ID and port, tag count.
pub const HEADER_LEN: usize = 24;
/// A response's service id has this bit set.
pub const RESPONSE: u32 = 0x8000_0000;

/// Service ids.
pub mod service {
    pub const DISCOVER: u32 = 1;
    pub const ADD_ROUTE: u32 = 6;
}

/// Tag ids.
pub mod tag {
    pub const STATUS: u16 = 1;
    pub const PASSWORD: u16 = 2;
    pub const OS_VERSION: u16 = 3;
    pub const TWINCAT_VERSION: u16 = 4;
    pub const HOST_NAME: u16 = 5;
    pub const NET_ID: u16 = 7;
    pub const ROUTE_NAME: u16 = 12;
    pub const USER_NAME: u16 = 13;
}

/// Most tags read from one datagram.
const MAX_TAGS: u32 = 32;

/// One datagram's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub invoke: u32,
    /// Without the response bit.
    pub service: u32,
    pub response: bool,
    pub net_id: NetId,
    pub port: u16,
    pub tags: u32,
}

/// What a datagram says, the tags the monitor uses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tags<'a> {
    pub host_name: Option<&'a [u8]>,
    pub route_name: Option<&'a [u8]>,
    pub user_name: Option<&'a [u8]>,
    /// A password tag was present (its value is never kept).
    pub password: bool,
    /// TwinCAT version: major, minor, build.
    pub twincat: Option<(u8, u8, u16)>,
    pub status: Option<u32>,
}

/// Reads a datagram: its header and tags.
pub fn parse(d: &[u8]) -> Result<(Header, Tags<'_>), AdsError> {
    let mut c = Cursor::new(d);
    if c.array::<4>() != Some(MAGIC) {
        return Err(AdsError::NotDiscovery);
    }
    let short = AdsError::DiscoveryTruncated;
    let invoke = c.u32_le().ok_or(short)?;
    let service = c.u32_le().ok_or(short)?;
    let net_id = NetId(c.array().ok_or(short)?);
    let port = c.u16_le().ok_or(short)?;
    let count = c.u32_le().ok_or(short)?;
    let header = Header {
        invoke,
        service: service & !RESPONSE,
        response: service & RESPONSE != 0,
        net_id,
        port,
        tags: count,
    };
    let mut tags = Tags::default();
    for _ in 0..count.min(MAX_TAGS) {
        let id = c.u16_le().ok_or(AdsError::Tag)?;
        let len = c.u16_le().ok_or(AdsError::Tag)?;
        let value = c.take(usize::from(len)).ok_or(AdsError::Tag)?;
        let text = || {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            value.get(..end)
        };
        match id {
            tag::HOST_NAME => tags.host_name = text(),
            tag::ROUTE_NAME => tags.route_name = text(),
            tag::USER_NAME => tags.user_name = text(),
            tag::PASSWORD => tags.password = true,
            tag::STATUS => tags.status = Cursor::new(value).u32_le(),
            tag::TWINCAT_VERSION => {
                let mut v = Cursor::new(value);
                tags.twincat = (|| Some((v.u8()?, v.u8()?, v.u16_le()?)))();
            }
            _ => {}
        }
    }
    Ok((header, tags))
}
