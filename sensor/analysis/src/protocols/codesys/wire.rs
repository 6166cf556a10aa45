//! The CODESYS V3 layers as zero-copy views, bottom up, and the CODESYS V2 identity frame.
//!
//! Sources for every constant here (read, not copied):
//! - the CODESYS runtime SDK headers published with a vendor's runtime port
//!   (kendrion/cds-rts-econo, `Components/`): `CmpSrvItf.h` (service header tags 0xCD55 and
//!   0x7557, service groups, the reply bit 0x80), `CmpNameService.h` (name service package
//!   types and the NODEINFOPACKED2/3 layouts), `CmpBlkDrvItf.h` (TCP listen port 11740, UDP
//!   base port 1740 and index 0..3);
//! - Microsoft's ICS forensics tool (microsoft/ics-forensics-tools, MIT,
//!   `src/forensic/plugins/CodeSysV3/codesysv3_protocol/`): the block driver TCP header (magic
//!   0xE8170100 little-endian, then the total length), the datagram ("router") header bit
//!   fields, the channel layer types and the application block headers;
//! - FieldFuzz (momalab/ICSQuartz `fuzzers/fieldfuzz/pycodesys-master/lib/layers.py`): the same
//!   three layers built by an independent client, and the tag (BinTag) length encoding;
//! - for V2, Digital Bond's `codesys-v2-discover.nse` (digitalbond/Redpoint): the 0xBBBB
//!   request and the three strings of its answer at fixed offsets.
//!
//! Layers of V3 (names as in the runtime): block driver (TCP only: 8-byte header) → datagram
//! layer (router: 0xC5, addresses) → channel layer (channel manager, datagram service 0x40) →
//! service layer (0xCD55 header) → tags. The name service rides the datagram layer directly
//! (services 3 and 4).

use crate::protocols::reader::Cursor;

/// The block driver TCP header's magic, u32 0xE8170100 little-endian as it is on the wire.
pub const TCP_MAGIC: [u8; 4] = [0x00, 0x01, 0x17, 0xe8];
/// Magic and total length (which counts these 8 bytes).
pub const BLOCK_HEADER_LEN: usize = 8;
/// The largest block the framer accepts: the runtime's channel buffers are a few hundred
/// kilobytes at most (FieldFuzz and Microsoft's tool offer 0x1F4000 = 2 MB as receive buffer,
/// but send blocks of at most 512 bytes); anything above 4 MiB is not a block length.
pub const MAX_BLOCK_LEN: u32 = 4 << 20;

/// The datagram layer's first byte.
pub const DATAGRAM_MAGIC: u8 = 0xc5;
/// The datagram header before the addresses: magic, hop count and header length, priority
/// and flags, service, message id, address lengths.
pub const DATAGRAM_FIXED_LEN: usize = 6;

/// Datagram layer services (Microsoft's `DatagramLayerServices`; the runtime's router).
pub mod dg_service {
    pub const ADDRESS_NOTIFICATION_REQUEST: u8 = 1;
    pub const ADDRESS_NOTIFICATION_RESPONSE: u8 = 2;
    /// A name service request (to a runtime's name server).
    pub const NS_SERVER: u8 = 3;
    /// A name service answer (from a runtime to a client).
    pub const NS_CLIENT: u8 = 4;
    pub const CHANNEL_MANAGER: u8 = 0x40;

    pub fn name(s: u8) -> Option<&'static str> {
        Some(match s {
            ADDRESS_NOTIFICATION_REQUEST => "address notification request",
            ADDRESS_NOTIFICATION_RESPONSE => "address notification response",
            NS_SERVER => "name service request",
            NS_CLIENT => "name service answer",
            CHANNEL_MANAGER => "channel manager",
            _ => return None,
        })
    }
}

/// The block driver TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Total block length, header included.
    pub length: u32,
}

impl BlockHeader {
    /// The header at the start of `data`; `None` when shorter than 8 bytes or without magic.
    pub fn parse(data: &[u8]) -> Option<BlockHeader> {
        let mut c = Cursor::new(data);
        if c.array::<4>()? != TCP_MAGIC {
            return None;
        }
        Some(BlockHeader {
            length: c.u32_le()?,
        })
    }

    /// Whether the length can frame a block: at least a header and a datagram header.
    pub fn plausible(&self) -> bool {
        (BLOCK_HEADER_LEN as u32 + DATAGRAM_FIXED_LEN as u32..=MAX_BLOCK_LEN).contains(&self.length)
    }
}

/// Whether `data` starts like a block driver TCP header (as far as it goes).
pub fn starts_like_block(data: &[u8]) -> bool {
    let n = data.len().min(TCP_MAGIC.len());
    data.get(..n) == TCP_MAGIC.get(..n)
}

/// One datagram layer packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub hop_count: u8,
    /// Bits 6-7 of the third byte: 0 low, 1 normal, 2 high, 3 emergency.
    pub priority: u8,
    pub service: u8,
    pub message_id: u8,
    pub receiver: &'a [u8],
    pub sender: &'a [u8],
    /// What follows the addresses, after padding to a multiple of 4 bytes.
    pub payload: &'a [u8],
}

/// Why a datagram header cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramFault {
    Magic(u8),
    /// Shorter than its header and addresses.
    Short(usize),
    /// The header length (in 16-bit words) is below the 3 words of the fixed header.
    HeaderLength(u8),
}

impl<'a> Datagram<'a> {
    /// Byte 1: hop count in the high 5 bits, header length in 16-bit words in the low 3 (the
    /// offset of the receiver address; 3 in every implementation seen). Byte 2: priority (2
    /// bits), signal, address type, maximum block length. Byte 5: sender address length in
    /// words (high nibble), receiver's (low nibble). Receiver address, sender address, then
    /// zero padding to a multiple of 4 bytes.
    pub fn parse(data: &'a [u8]) -> Result<Datagram<'a>, DatagramFault> {
        let mut c = Cursor::new(data);
        let short = || DatagramFault::Short(data.len());
        let magic = c.u8().ok_or_else(short)?;
        if magic != DATAGRAM_MAGIC {
            return Err(DatagramFault::Magic(magic));
        }
        let b1 = c.u8().ok_or_else(short)?;
        let b2 = c.u8().ok_or_else(short)?;
        let service = c.u8().ok_or_else(short)?;
        let message_id = c.u8().ok_or_else(short)?;
        let lengths = c.u8().ok_or_else(short)?;
        let header_words = b1 & 0x07;
        if usize::from(header_words) * 2 < DATAGRAM_FIXED_LEN {
            return Err(DatagramFault::HeaderLength(header_words));
        }
        let receiver_len = usize::from(lengths & 0x0f) * 2;
        let sender_len = usize::from(lengths >> 4) * 2;
        let mut c = Cursor::at(data, usize::from(header_words) * 2).ok_or_else(short)?;
        let receiver = c.take(receiver_len).ok_or_else(short)?;
        let sender = c.take(sender_len).ok_or_else(short)?;
        let end = c.pos().next_multiple_of(4);
        let payload = data.get(end..).ok_or_else(short)?;
        Ok(Datagram {
            hop_count: b1 >> 3,
            priority: b2 >> 6,
            service,
            message_id,
            receiver,
            sender,
            payload,
        })
    }
}

/// Channel layer packet types (first byte of a channel manager payload; Microsoft's
/// `ChannelLayerType`, FieldFuzz's `layer4_meta` which sets 0xC0 on a meta request).
pub mod channel_type {
    pub const APPLICATION_BLOCK: u8 = 0x01;
    pub const APPLICATION_ACK: u8 = 0x02;
    pub const KEEP_ALIVE: u8 = 0x03;
    pub const GET_INFO: u8 = 0xc2;
    pub const OPEN_CHANNEL: u8 = 0xc3;
    pub const CLOSE_CHANNEL: u8 = 0xc4;
    /// Meta replies carry 0x80 with the request's number (0x83: open channel reply).
    pub const REPLY_BIT: u8 = 0x80;

    /// Whether `t` is a type the channel manager uses.
    pub fn known(t: u8) -> bool {
        matches!(t, 0x01..=0x03 | 0xc1..=0xc4 | 0x81..=0x84)
    }
}

/// The application block header: type 0x01, flags (0x80 request, 0x01 first block of a
/// service PDU), channel id, block id, acknowledged block id; a first block then gives the
/// whole service PDU's length and CRC-32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppBlock<'a> {
    pub request: bool,
    pub first: bool,
    pub channel: u16,
    pub block_id: u32,
    /// The service PDU's total length (first blocks only).
    pub total_len: Option<u32>,
    /// The service layer bytes this block carries.
    pub data: &'a [u8],
}

/// Flags of an application block.
pub const BLOCK_FLAG_REQUEST: u8 = 0x80;
pub const BLOCK_FLAG_FIRST: u8 = 0x01;

impl<'a> AppBlock<'a> {
    /// `data` starts at the channel layer type byte (0x01); `None` when truncated.
    pub fn parse(data: &'a [u8]) -> Option<AppBlock<'a>> {
        let mut c = Cursor::new(data);
        c.u8()?;
        let flags = c.u8()?;
        let channel = c.u16_le()?;
        let block_id = c.u32_le()?;
        let _ack = c.u32_le()?;
        let first = flags & BLOCK_FLAG_FIRST != 0;
        let total_len = if first {
            let len = c.u32_le()?;
            let _crc = c.u32_le()?;
            Some(len)
        } else {
            None
        };
        Some(AppBlock {
            request: flags & BLOCK_FLAG_REQUEST != 0,
            first,
            channel,
            block_id,
            total_len,
            data: c.rest(),
        })
    }
}

/// The service layer's protocol tags (`CmpSrvItf.h`: HEADERTAG_3S, HEADERTAG_CRYPT).
pub const HEADERTAG_3S: u16 = 0xcd55;
pub const HEADERTAG_CRYPT: u16 = 0x7557;
/// A service group with this bit is a reply (`SG_REPLY_PREFIX`).
pub const SG_REPLY: u16 = 0x0080;
/// Header tag and header size, then the 12 bytes every header has.
pub const SERVICE_HEADER_MIN: usize = 16;

/// The service layer header: protocol tag, header size (bytes after its own field), service
/// group (with the reply bit), service id, session id, content size; the tags start after the
/// header size's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceHeader<'a> {
    pub tag: u16,
    pub group: u16,
    pub service: u16,
    pub session: u32,
    pub content_size: u32,
    /// The tags (as much of them as the bytes hold).
    pub content: &'a [u8],
}

impl<'a> ServiceHeader<'a> {
    /// `None` when shorter than the header or the header size is below 12.
    pub fn parse(data: &'a [u8]) -> Option<ServiceHeader<'a>> {
        let mut c = Cursor::new(data);
        let tag = c.u16_le()?;
        let header_size = usize::from(c.u16_le()?);
        if header_size < SERVICE_HEADER_MIN - 4 {
            return None;
        }
        let group = c.u16_le()?;
        let service = c.u16_le()?;
        let session = c.u32_le()?;
        let content_size = c.u32_le()?;
        let content = data.get(4 + header_size..).unwrap_or_default();
        Some(ServiceHeader {
            tag,
            group,
            service,
            session,
            content_size,
            content,
        })
    }

    pub fn is_reply(&self) -> bool {
        self.group & SG_REPLY != 0
    }

    /// The group without the reply bit.
    pub fn base_group(&self) -> u16 {
        self.group & !SG_REPLY
    }
}

/// One tag (the runtime's BinTag): id and length as little-endian base-128 numbers, then the
/// value. Ids from 0x80 up hold further tags. A length may be padded with 0x80 continuation
/// bytes and a final 0 to align the value (Microsoft's `Tag.to_stream`), which the number
/// reading absorbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    pub id: u32,
    pub value: &'a [u8],
}

impl Tag<'_> {
    pub fn is_parent(&self) -> bool {
        self.id >= 0x80
    }

    /// The value as a little-endian number of 1 to 4 bytes.
    pub fn uint(&self) -> Option<u32> {
        match self.value.len() {
            1..=4 => Cursor::new(self.value).uint_le(self.value.len()),
            _ => None,
        }
    }
}

/// A base-128 number (7 bits a byte, low first; at most 5 bytes).
fn varint(c: &mut Cursor<'_>) -> Option<u32> {
    let mut value: u32 = 0;
    for shift in [0u32, 7, 14, 21, 28] {
        let b = c.u8()?;
        value |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The tags of a sequence, in order; stops (with `truncated` set) at one that runs past the
/// end.
#[derive(Debug, Clone)]
pub struct Tags<'a> {
    c: Cursor<'a>,
    pub truncated: bool,
}

impl<'a> Tags<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Tags {
            c: Cursor::new(data),
            truncated: false,
        }
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        if self.truncated || self.c.is_empty() {
            return None;
        }
        let tag = (|| {
            let id = varint(&mut self.c)?;
            let len = usize::try_from(varint(&mut self.c)?).ok()?;
            let value = self.c.take(len)?;
            Some(Tag { id, value })
        })();
        if tag.is_none() {
            self.truncated = true;
        }
        tag
    }
}

/// The first tag `id` of the sequence `data`.
pub fn find(data: &[u8], id: u32) -> Option<Tag<'_>> {
    Tags::new(data).find(|t| t.id == id)
}

/// The first tag `id` of `data`, looking inside parent tags too (depth-first, 3 levels).
pub fn find_deep(data: &[u8], id: u32) -> Option<Tag<'_>> {
    fn walk(data: &[u8], id: u32, depth: u8) -> Option<Tag<'_>> {
        for t in Tags::new(data) {
            if t.id == id {
                return Some(t);
            }
            if t.is_parent() && depth > 0 {
                if let Some(found) = walk(t.value, id, depth - 1) {
                    return Some(found);
                }
            }
        }
        None
    }
    walk(data, id, 3)
}

/// Name service package types (`CmpNameService.h`).
pub mod ns {
    pub const RESOLVE_NAME: u16 = 0xc201;
    pub const RESOLVE_ADDR: u16 = 0xc202;
    pub const RESOLVE_GATEWAY: u16 = 0xc203;
    pub const IDENTIFICATION: u16 = 0xc280;
    /// The name service package header: type, version, request id.
    pub const HEADER_LEN: usize = 8;
    /// Versions whose answer carries device and vendor names (NODEINFOPACKED2), and the one
    /// that adds flags and the serial number (NODEINFOPACKED3).
    pub const VERSION_WITH_DEVICEID: u16 = 0x0102;
    pub const VERSION_WITH_DEVICEID_SWAPPED: u16 = 0x0201;
    pub const VERSION_WITH_ADDRDIFFERENCE: u16 = 0x0103;
    pub const VERSION_WITH_ADDRDIFFERENCE_SWAPPED: u16 = 0x0301;
    pub const VERSION_WITH_FLAGS_AND_SN: u16 = 0x0400;
}

/// What a name service identification (0xC280) says of its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo<'a> {
    /// UTF-16LE, without the terminating NUL.
    pub node_name: &'a [u8],
    pub device_name: &'a [u8],
    pub vendor_name: &'a [u8],
    pub target_type: u32,
    pub target_id: u32,
    /// The (OEM) version: four bytes, most significant first when read as a number.
    pub target_version: u32,
    /// ASCII (version 4.0 only).
    pub serial: &'a [u8],
}

/// The name service package header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsHeader {
    pub kind: u16,
    pub version: u16,
    pub request_id: u32,
}

impl NsHeader {
    pub fn parse(data: &[u8]) -> Option<NsHeader> {
        let mut c = Cursor::new(data);
        Some(NsHeader {
            kind: c.u16_le()?,
            version: c.u16_le()?,
            request_id: c.u32_le()?,
        })
    }
}

/// The node of an identification package (`data` starts at the package header), for the
/// versions that name device and vendor (NODEINFOPACKED2 and 3); `None` for the first
/// version (no vendor) and for truncated packages.
pub fn node_info(data: &[u8]) -> Option<NodeInfo<'_>> {
    let h = NsHeader::parse(data)?;
    let v4 = match h.version {
        ns::VERSION_WITH_FLAGS_AND_SN => true,
        ns::VERSION_WITH_DEVICEID
        | ns::VERSION_WITH_DEVICEID_SWAPPED
        | ns::VERSION_WITH_ADDRDIFFERENCE
        | ns::VERSION_WITH_ADDRDIFFERENCE_SWAPPED => false,
        _ => return None,
    };
    if h.kind != ns::IDENTIFICATION {
        return None;
    }
    let mut c = Cursor::at(data, ns::HEADER_LEN)?;
    let _max_channels = c.u16_le()?;
    let _byte_order = c.u8()?;
    let _addr_difference = c.u8()?;
    let parent_components = usize::from(c.u16_le()?);
    let node_len = usize::from(c.u16_le()?);
    let device_len = usize::from(c.u16_le()?);
    let vendor_len = usize::from(c.u16_le()?);
    let target_type = c.u32_le()?;
    let target_id = c.u32_le()?;
    let target_version = c.u32_le()?;
    let mut serial_len = 0;
    if v4 {
        let _flags = c.u32_le()?;
        serial_len = usize::from(c.u8()?);
        let _oem_len = c.u8()?;
        let _blk_drv_type = c.u8()?;
        let _reserved = c.u8()?;
        c.skip(8)?;
    }
    c.skip(parent_components * 2)?;
    // Each string is followed by its NUL (one wide char, or one byte for the serial).
    let mut wide = |chars: usize| -> Option<&[u8]> {
        let s = c.take(chars * 2)?;
        c.skip(2)?;
        Some(s)
    };
    let node_name = wide(node_len)?;
    let device_name = wide(device_len)?;
    let vendor_name = wide(vendor_len)?;
    let serial = if v4 { c.take(serial_len)? } else { &[] };
    Some(NodeInfo {
        node_name,
        device_name,
        vendor_name,
        target_type,
        target_id,
        target_version,
        serial,
    })
}

/// A four-part version number written a.b.c.d, most significant byte first (CODESYS
/// versions such as 3.5.15.0 are 0x03050F00).
pub fn dotted_version(v: u32) -> String {
    let [a, b, c, d] = v.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// CODESYS V2.
pub mod v2 {
    /// Every V2 message starts with these two bytes (the discovery script rejects an answer
    /// whose first byte is not 0xBB).
    pub const MAGIC: [u8; 2] = [0xbb, 0xbb];
    /// The read identity request the discovery script sends, little-endian and big-endian
    /// runtimes: `bb bb 01 00 00 00 01` and `bb bb 01 00 00 01 01`.
    pub const IDENTITY_LE: [u8; 7] = [0xbb, 0xbb, 0x01, 0x00, 0x00, 0x00, 0x01];
    pub const IDENTITY_BE: [u8; 7] = [0xbb, 0xbb, 0x01, 0x00, 0x00, 0x01, 0x01];
    /// The answer's NUL-terminated strings, at these offsets from its first byte: operating
    /// system name, operating system type (version) and product type.
    pub const OS_NAME_AT: usize = 64;
    pub const OS_TYPE_AT: usize = 96;
    pub const PRODUCT_AT: usize = 128;
    /// Each string has at most 32 bytes before the next starts.
    pub const FIELD_LEN: usize = 32;

    /// Whether `data` is (a prefix of) the read identity request.
    pub fn is_identity_request(data: &[u8]) -> bool {
        let n = data.len().min(IDENTITY_LE.len());
        data.get(..n) == IDENTITY_LE.get(..n) || data.get(..n) == IDENTITY_BE.get(..n)
    }

    /// The NUL-terminated string at `at` (at most [`FIELD_LEN`] bytes).
    pub fn field(data: &[u8], at: usize) -> Option<&[u8]> {
        let raw = data.get(at..)?;
        let raw = raw.get(..FIELD_LEN.min(raw.len()))?;
        raw.split(|&b| b == 0).next()
    }
}
