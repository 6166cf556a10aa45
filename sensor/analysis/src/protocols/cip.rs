//! CIP (Common Industrial Protocol) explicit messages: the Message Router request and reply
//! layer shared by EtherNet/IP's TCP encapsulation (SendRRData / SendUnitData data items) and
//! any other transport that carries CIP.
//!
//! References: ODVA CIP Vol. 1 (Common Industrial Protocol) — §2-4 Message Router
//! request/response formats, Appendix A common services, Appendix C logical/port/symbolic
//! segments, §3-5.5 Connection Manager services, §5-2 Identity object, §5-42 File object;
//! Rockwell publication 1756-PM020 (Logix 5000 data access: tag services 0x4C–0x55); Rockwell
//! 1444-UM001 appendix A (vendor-specific Nonvolatile Storage object 0xA1 used by
//! ControlFLASH). Fields were cross-checked with Wireshark's `packet-cip.c` and Zeek ICSNPP
//! `enip-protocol.pac` dissections of the corpus captures.
//!
//! Everything here borrows from the message; nothing is allocated except the strings of an
//! emitted identity. What a device-changing request carries as evidence is in [`ops`]; the
//! hashing of firmware and file images written in pieces in [`transfer`].

pub mod ops;
pub mod transfer;
pub mod vendors;

use super::reader::Cursor;
use super::text::clean;
use otwatch_common::observation::{Field, Observation, Operation, Source, Subject};

/// Bit 7 of the service code marks a reply (Vol. 1 §2-4.2).
pub const REPLY: u8 = 0x80;

/// Object class codes used to interpret services (Vol. 1 §5 and vendor documents).
pub mod class {
    pub const IDENTITY: u32 = 0x01;
    pub const MESSAGE_ROUTER: u32 = 0x02;
    pub const CONNECTION_MANAGER: u32 = 0x06;
    /// File object (Vol. 1 §5-42).
    pub const FILE: u32 = 0x37;
    /// Time Sync object (Vol. 1 §5-34): the PTP clock.
    pub const TIME_SYNC: u32 = 0x43;
    /// Modbus object (Vol. 7A).
    pub const MODBUS: u32 = 0x44;
    /// Device Level Ring object (Vol. 2 §5-5).
    pub const DLR: u32 = 0x47;
    /// QoS object (Vol. 2 §5-6).
    pub const QOS: u32 = 0x48;
    /// CIP Security, EtherNet/IP Security and Certificate Management objects (Vol. 8 §5-3..5).
    pub const CIP_SECURITY: u32 = 0x5D;
    pub const ENIP_SECURITY: u32 = 0x5E;
    pub const CERTIFICATE_MANAGEMENT: u32 = 0x5F;
    /// PCCC object (Rockwell, Execute PCCC 0x4B).
    pub const PCCC: u32 = 0x67;
    /// Logix Program object: the programs (and, below them, routines) of a controller;
    /// `EIP-RebootorRestart.pcap` creates objects under it while downloading a project.
    pub const LOGIX_PROGRAM: u32 = 0x68;
    /// Logix Symbol object (1756-PM020).
    pub const SYMBOL: u32 = 0x6B;
    /// Logix Template object (1756-PM020).
    pub const TEMPLATE: u32 = 0x6C;
    /// Rockwell vendor-specific class answering 0x4C with tag values; seen polled by HMIs
    /// in `EthernetIP-CIP.pcap` and `mb2.pcap` (request: handle + count, reply: data).
    pub const LOGIX_READ_72: u32 = 0x72;
    /// Rockwell vendor-specific lock, addressed below the controller (0x8E) or a program
    /// (0x68): service 0x4B takes it, 0x4C gives it back (`EIP-LockPLCAttempt.pcap`, and
    /// around every change in `EIP-RebootorRestart.pcap`).
    pub const LOGIX_LOCK: u32 = 0x74;
    /// Rockwell Wall Clock Time object (pycomm3 `ClassCode.wall_clock_time`; Micro800 CIP
    /// client messaging): attribute 6 is the current UTC time in microseconds since 1970
    /// (`EIP-ChangeDateAttempt.pcap` sets it a day ahead of the capture).
    pub const WALL_CLOCK: u32 = 0x8B;
    /// Rockwell vendor-specific controller object: Start/Stop switch the controller's
    /// run mode (`cip_start_plc.pcap`, `cip_stop_plc.pcap`).
    pub const LOGIX_CONTROLLER: u32 = 0x8E;
    /// Port, TCP/IP Interface and Ethernet Link objects (Vol. 1 §5-36, Vol. 2 §5-3, §5-4).
    pub const PORT: u32 = 0xF4;
    pub const TCP_IP: u32 = 0xF5;
    pub const ETHERNET_LINK: u32 = 0xF6;
    /// Rockwell vendor-specific Nonvolatile Storage object: firmware update by ControlFLASH
    /// (1444-UM001 appendix A; 1404-UM001 table G.23: 0x4B Update, 0x4D Transfer).
    pub const NVS: u32 = 0xA1;
}

/// Service codes (Vol. 1 appendix A table and the class documents named above).
pub mod service {
    pub const GET_ATTRIBUTES_ALL: u8 = 0x01;
    pub const SET_ATTRIBUTES_ALL: u8 = 0x02;
    pub const GET_ATTRIBUTE_LIST: u8 = 0x03;
    pub const SET_ATTRIBUTE_LIST: u8 = 0x04;
    pub const RESET: u8 = 0x05;
    pub const START: u8 = 0x06;
    pub const STOP: u8 = 0x07;
    pub const CREATE: u8 = 0x08;
    pub const DELETE: u8 = 0x09;
    pub const MULTIPLE_SERVICE_PACKET: u8 = 0x0A;
    pub const APPLY_ATTRIBUTES: u8 = 0x0D;
    pub const GET_ATTRIBUTE_SINGLE: u8 = 0x0E;
    pub const SET_ATTRIBUTE_SINGLE: u8 = 0x10;
    pub const FIND_NEXT_OBJECT_INSTANCE: u8 = 0x11;
    pub const RESTORE: u8 = 0x15;
    pub const SAVE: u8 = 0x16;
    pub const GET_MEMBER: u8 = 0x18;
    pub const SET_MEMBER: u8 = 0x19;
    pub const INSERT_MEMBER: u8 = 0x1A;
    pub const REMOVE_MEMBER: u8 = 0x1B;
    // Logix data access (1756-PM020), on symbolic paths and the Symbol/Template objects.
    pub const READ_TAG: u8 = 0x4C;
    pub const WRITE_TAG: u8 = 0x4D;
    pub const READ_MODIFY_WRITE_TAG: u8 = 0x4E;
    pub const READ_TAG_FRAGMENTED: u8 = 0x52;
    pub const WRITE_TAG_FRAGMENTED: u8 = 0x53;
    pub const GET_INSTANCE_ATTRIBUTE_LIST: u8 = 0x55;
    // Connection Manager (Vol. 1 §3-5.5).
    pub const FORWARD_CLOSE: u8 = 0x4E;
    pub const UNCONNECTED_SEND: u8 = 0x52;
    pub const FORWARD_OPEN: u8 = 0x54;
    pub const GET_CONNECTION_DATA: u8 = 0x56;
    pub const SEARCH_CONNECTION_DATA: u8 = 0x57;
    pub const GET_CONNECTION_OWNER: u8 = 0x5A;
    pub const LARGE_FORWARD_OPEN: u8 = 0x5B;
    // File object (Vol. 1 §5-42).
    pub const FILE_INITIATE_UPLOAD: u8 = 0x4B;
    pub const FILE_INITIATE_DOWNLOAD: u8 = 0x4C;
    pub const FILE_UPLOAD_TRANSFER: u8 = 0x4F;
    pub const FILE_DOWNLOAD_TRANSFER: u8 = 0x50;
    // Nonvolatile Storage object (Rockwell 1404-UM001 table G.23).
    pub const NVS_UPDATE: u8 = 0x4B;
    pub const NVS_TRANSFER: u8 = 0x4D;
    // Rockwell lock object 0x74 (see `class::LOGIX_LOCK`).
    pub const LOCK: u8 = 0x4B;
    pub const UNLOCK: u8 = 0x4C;
}

/// Nesting allowed for Multiple Service Packet / Unconnected Send inside each other.
const MAX_DEPTH: u8 = 4;
/// Requests looked at in one message (all nesting levels together).
const MAX_REQUESTS: u16 = 256;

/// Why bytes are not a well-formed CIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CipError {
    #[error("empty CIP message")]
    Empty,
    #[error("request path runs past the end of the message")]
    PathOverrun,
    #[error("reply status runs past the end of the message")]
    StatusOverrun,
    #[error("malformed Multiple Service Packet")]
    MultipleService,
    #[error("malformed Unconnected Send")]
    UnconnectedSend,
    #[error("requests nested too deeply")]
    TooDeep,
}

/// A Message Router request (Vol. 1 §2-4.1): service, padded EPATH, request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub service: u8,
    pub path: Path<'a>,
    pub data: &'a [u8],
}

/// A Message Router reply (Vol. 1 §2-4.2). `service` is without the reply bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    pub service: u8,
    pub general_status: u8,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Request(Request<'a>),
    Reply(Reply<'a>),
}

/// Parses one Message Router request or reply.
pub fn parse(msg: &[u8]) -> Result<Message<'_>, CipError> {
    let mut c = Cursor::new(msg);
    let service = c.u8().ok_or(CipError::Empty)?;
    if service & REPLY != 0 {
        // Reply service, reserved, general status, additional status size (words).
        let (Some(_reserved), Some(general_status), Some(words)) = (c.u8(), c.u8(), c.u8()) else {
            return Err(CipError::StatusOverrun);
        };
        c.skip(usize::from(words) * 2)
            .ok_or(CipError::StatusOverrun)?;
        Ok(Message::Reply(Reply {
            service: service & !REPLY,
            general_status,
            data: c.rest(),
        }))
    } else {
        // Request path size is in 16-bit words.
        let words = c.u8().ok_or(CipError::PathOverrun)?;
        let path = c
            .take(usize::from(words) * 2)
            .ok_or(CipError::PathOverrun)?;
        Ok(Message::Request(Request {
            service,
            path: Path(path),
            data: c.rest(),
        }))
    }
}

/// Parses bytes that must be a request (an embedded request of a Multiple Service Packet or
/// an Unconnected Send).
pub fn parse_request(msg: &[u8]) -> Result<Request<'_>, CipError> {
    match parse(msg)? {
        Message::Request(r) => Ok(r),
        Message::Reply(_) => Err(CipError::Empty),
    }
}

/// A padded EPATH (Vol. 1 appendix C-1). Only the segments that name what a request acts on
/// are decoded; anything else ends the walk without error, since the path size already
/// bounds the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'a>(pub &'a [u8]);

/// Logical segment types (Vol. 1 C-1.4.2, bits 4..2 of the segment byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    Class,
    Instance,
    Member,
    ConnectionPoint,
    Attribute,
    Special,
    ServiceId,
}

/// One path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Port segment (C-1.4.1): port number and link address.
    Port {
        port: u16,
        link: &'a [u8],
    },
    Logical {
        kind: Logical,
        value: u32,
    },
    /// A symbolic segment (C-1.4.4) or an ANSI extended symbol data segment 0x91 (C-1.4.5),
    /// e.g. a Logix tag name.
    Symbol(&'a [u8]),
    /// Simple data segment 0x80 (C-1.4.5).
    Data(&'a [u8]),
    /// Network segment (C-1.4.3).
    Network(u8),
}

impl<'a> Path<'a> {
    pub fn segments(&self) -> Segments<'a> {
        Segments { rest: self.0 }
    }

    fn first_logical(&self, kind: Logical) -> Option<u32> {
        self.segments().find_map(|s| match s {
            Segment::Logical { kind: k, value } if k == kind => Some(value),
            _ => None,
        })
    }

    /// The first class id of the path.
    pub fn class(&self) -> Option<u32> {
        self.first_logical(Logical::Class)
    }

    pub fn instance(&self) -> Option<u32> {
        self.first_logical(Logical::Instance)
    }

    pub fn attribute(&self) -> Option<u32> {
        self.first_logical(Logical::Attribute)
    }

    /// The first symbol (tag name) of the path.
    pub fn symbol(&self) -> Option<&'a [u8]> {
        self.segments().find_map(|s| match s {
            Segment::Symbol(name) => Some(name),
            _ => None,
        })
    }
}

/// Iterator over a path's segments; stops at the first segment it cannot decode.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        let mut c = Cursor::new(self.rest);
        let seg = next_segment(&mut c);
        // A segment that cannot be decoded ends the walk.
        self.rest = if seg.is_some() { c.rest() } else { &[] };
        seg
    }
}

fn next_segment<'a>(c: &mut Cursor<'a>) -> Option<Segment<'a>> {
    let b = c.u8()?;
    match b >> 5 {
        // Port segment (C-1.4.1): 000E PPPP [link size if E] [port u16 if P=15] link [pad].
        0 => {
            let start = c.pos() - 1;
            let extended = b & 0x10 != 0;
            let link_len = if extended { usize::from(c.u8()?) } else { 1 };
            let port = match b & 0x0F {
                0x0F => c.u16_le()?,
                p => u16::from(p),
            };
            let link = c.take(link_len)?;
            if (c.pos() - start) % 2 == 1 {
                c.skip(1)?;
            }
            Some(Segment::Port { port, link })
        }
        // Logical segment (C-1.4.2): 001T TTFF.
        1 => {
            let kind = match (b >> 2) & 0x07 {
                0 => Logical::Class,
                1 => Logical::Instance,
                2 => Logical::Member,
                3 => Logical::ConnectionPoint,
                4 => Logical::Attribute,
                5 => Logical::Special,
                6 => Logical::ServiceId,
                _ => return None,
            };
            let value = match (kind, b & 0x03) {
                // Electronic key (C-1.4.2.3): key format 4, then 8 bytes.
                (Logical::Special, 0) => {
                    if c.u8()? != 4 {
                        return None;
                    }
                    c.skip(8)?;
                    4
                }
                (Logical::Special, _) => return None,
                (_, 0) => u32::from(c.u8()?),
                // 16- and 32-bit values follow a pad byte in a padded EPATH.
                (Logical::ServiceId, _) => return None,
                (_, 1) => {
                    c.skip(1)?;
                    u32::from(c.u16_le()?)
                }
                (_, 2) => {
                    c.skip(1)?;
                    c.u32_le()?
                }
                _ => return None,
            };
            Some(Segment::Logical { kind, value })
        }
        // Network segment (C-1.4.3): 0x5X carries a word count, the others one byte.
        2 => {
            if b & 0x10 != 0 {
                let words = usize::from(c.u8()?);
                c.skip(words * 2)?;
            } else {
                c.skip(1)?;
            }
            Some(Segment::Network(b))
        }
        // Symbolic segment (C-1.4.4): 011S SSSS then S bytes; S = 0 (extended) not decoded.
        3 => {
            let len = usize::from(b & 0x1F);
            if len == 0 {
                return None;
            }
            Some(Segment::Symbol(c.take(len)?))
        }
        // Data segment (C-1.4.5): 0x80 simple (word count), 0x91 ANSI extended symbol (byte
        // count, padded to an even length).
        4 => match b {
            0x80 => {
                let words = usize::from(c.u8()?);
                Some(Segment::Data(c.take(words * 2)?))
            }
            0x91 => {
                let len = usize::from(c.u8()?);
                let name = c.take(len)?;
                if len % 2 == 1 {
                    c.skip(1)?;
                }
                Some(Segment::Symbol(name))
            }
            _ => None,
        },
        // Data type segments and reserved: not decoded.
        _ => None,
    }
}

/// What a request does, in the shared vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Op(Operation),
    /// A service with no operation in the shared vocabulary.
    Code,
    /// Multiple Service Packet: carries embedded requests.
    MultipleService,
    /// Connection Manager Unconnected Send: carries one embedded request for another node.
    UnconnectedSend,
}

/// Classifies a request by service and the class it is addressed to. Services 0x00–0x31 are
/// common to all classes (Vol. 1 table ); 0x4B–0x63 mean something per class, so the
/// same code is a Forward Close on the Connection Manager and a Read-Modify-Write on a tag.
pub fn classify(svc: u8, class: Option<u32>) -> Kind {
    use service as s;
    use Operation::*;
    let op = match (svc, class) {
        (s::MULTIPLE_SERVICE_PACKET, _) => return Kind::MultipleService,
        (
            s::GET_ATTRIBUTES_ALL
            | s::GET_ATTRIBUTE_LIST
            | s::GET_ATTRIBUTE_SINGLE
            | s::FIND_NEXT_OBJECT_INSTANCE
            | s::GET_MEMBER,
            _,
        ) => Read,
        // Attribute writes on the objects that say how a device is reached, keeps time or
        // authenticates (see [`ops::config_setting`]).
        (s::SET_ATTRIBUTES_ALL | s::SET_ATTRIBUTE_LIST | s::SET_ATTRIBUTE_SINGLE, Some(c))
            if ops::config_setting(c).is_some() =>
        {
            ConfigChange
        }
        // Creating objects inside a Logix program changes the program.
        (s::CREATE, Some(class::LOGIX_PROGRAM)) => ProgramDownload,
        (
            s::SET_ATTRIBUTES_ALL
            | s::SET_ATTRIBUTE_LIST
            | s::CREATE
            | s::DELETE
            | s::APPLY_ATTRIBUTES
            | s::SET_ATTRIBUTE_SINGLE
            | s::RESTORE
            | s::SAVE
            | s::SET_MEMBER
            | s::INSERT_MEMBER
            | s::REMOVE_MEMBER,
            _,
        ) => Write,
        // Identity Reset (Vol. 1 §5-2.3.2): the device restarts (or returns to defaults).
        (s::RESET, Some(class::IDENTITY)) => Restart,
        (s::START, Some(class::IDENTITY | class::LOGIX_CONTROLLER)) => CpuStart,
        (s::STOP, Some(class::IDENTITY | class::LOGIX_CONTROLLER)) => CpuStop,
        (0x00..=0x4A, _) => return Kind::Code,
        // Connection Manager (Vol. 1 §3-5.5).
        (s::UNCONNECTED_SEND, Some(class::CONNECTION_MANAGER)) => return Kind::UnconnectedSend,
        (
            s::FORWARD_OPEN | s::LARGE_FORWARD_OPEN | s::FORWARD_CLOSE,
            Some(class::CONNECTION_MANAGER),
        ) => Control,
        (
            s::GET_CONNECTION_DATA | s::SEARCH_CONNECTION_DATA | s::GET_CONNECTION_OWNER,
            Some(class::CONNECTION_MANAGER),
        ) => Read,
        (_, Some(class::CONNECTION_MANAGER)) => return Kind::Code,
        // File object (Vol. 1 §5-42): a download writes a file into the device, an upload
        // reads one out (the EDS file instances are told apart in [`classify_request`]).
        (
            s::FILE_INITIATE_DOWNLOAD
            | s::FILE_DOWNLOAD_TRANSFER
            | s::FILE_INITIATE_UPLOAD
            | s::FILE_UPLOAD_TRANSFER,
            Some(class::FILE),
        ) => FileTransfer,
        (s::NVS_UPDATE | s::NVS_TRANSFER, Some(class::NVS)) => FirmwareUpdate,
        // Modbus object (Vol. 7A): 0x4B–0x4E read, 0x4F/0x50 write, 0x51 pass-through.
        (0x4B..=0x4E, Some(class::MODBUS)) => Read,
        (0x4F | 0x50, Some(class::MODBUS)) => Write,
        (s::READ_TAG, Some(class::TEMPLATE | class::LOGIX_READ_72)) => Read,
        // Logix tag services (1756-PM020) on a symbolic path or the Symbol object.
        (
            s::READ_TAG | s::READ_TAG_FRAGMENTED | s::GET_INSTANCE_ATTRIBUTE_LIST,
            None | Some(class::SYMBOL),
        ) => Read,
        (
            s::WRITE_TAG | s::WRITE_TAG_FRAGMENTED | s::READ_MODIFY_WRITE_TAG,
            None | Some(class::SYMBOL),
        ) => Write,
        _ => return Kind::Code,
    };
    Kind::Op(op)
}

/// [`classify`] refined by the rest of the request where the service and first class do not
/// decide: the Rockwell lock below the controller, and uploads of a device's own description
/// files.
pub fn classify_request(req: &Request<'_>) -> Kind {
    let class = req.path.class();
    let kind = classify(req.service, class);
    if class == Some(class::LOGIX_CONTROLLER)
        && matches!(req.service, service::LOCK | service::UNLOCK)
        && ops::second_class(&req.path) == Some(class::LOGIX_LOCK)
    {
        return Kind::Op(Operation::ConfigChange);
    }
    // Vol. 1 §5-42: instances 0xC8 and 0xC9 hold the device's EDS file and its icon, which
    // configuration tools read from every device they browse.
    if kind == Kind::Op(Operation::FileTransfer)
        && matches!(
            req.service,
            service::FILE_INITIATE_UPLOAD | service::FILE_UPLOAD_TRANSFER
        )
        && matches!(req.path.instance(), Some(0xC8 | 0xC9))
    {
        return Kind::Op(Operation::Read);
    }
    kind
}

/// One request found in a message, top-level or embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    pub service: u8,
    pub class: Option<u32>,
    pub kind: Kind,
    /// Inside an Unconnected Send: addressed to a node behind the one on the wire.
    pub routed: bool,
    /// The request itself (path and data), for the evidence of what it changes.
    pub request: Request<'a>,
}

/// Calls `f` for `req` and, recursively, every request embedded in it (Multiple Service
/// Packet, Unconnected Send), depth-first in wire order.
pub fn walk_requests<'a>(req: &Request<'a>, f: &mut impl FnMut(Found<'a>)) -> Result<(), CipError> {
    let mut budget = MAX_REQUESTS;
    walk(req, false, 0, &mut budget, f)
}

fn walk<'a>(
    req: &Request<'a>,
    routed: bool,
    depth: u8,
    budget: &mut u16,
    f: &mut impl FnMut(Found<'a>),
) -> Result<(), CipError> {
    if *budget == 0 {
        return Ok(());
    }
    *budget -= 1;
    let kind = classify_request(req);
    f(Found {
        service: req.service,
        class: req.path.class(),
        kind,
        routed,
        request: *req,
    });
    match kind {
        Kind::MultipleService | Kind::UnconnectedSend if depth >= MAX_DEPTH => {
            Err(CipError::TooDeep)
        }
        Kind::MultipleService => {
            for item in MultipleService::parse(req.data)? {
                if *budget == 0 {
                    break;
                }
                walk(&parse_request(item?)?, routed, depth + 1, budget, f)?;
            }
            Ok(())
        }
        Kind::UnconnectedSend => {
            let inner = parse_request(unconnected_send(req.data)?)?;
            walk(&inner, true, depth + 1, budget, f)
        }
        _ => Ok(()),
    }
}

/// The embedded message of an Unconnected Send request (Vol. 1 §3-5.5.2): priority/tick,
/// timeout ticks, message size (UINT), message, pad to even, route path size, reserved,
/// route path.
pub fn unconnected_send(data: &[u8]) -> Result<&[u8], CipError> {
    let mut c = Cursor::new(data);
    c.skip(2).ok_or(CipError::UnconnectedSend)?;
    let size = c.u16_le().ok_or(CipError::UnconnectedSend)?;
    c.take(usize::from(size)).ok_or(CipError::UnconnectedSend)
}

/// The items of a Multiple Service Packet request or reply (Vol. 1 appendix ): count
/// (UINT), that many offsets (UINT, from the count field), then the items back to back.
#[derive(Debug, Clone)]
pub struct MultipleService<'a> {
    data: &'a [u8],
    count: u16,
    next: u16,
}

impl<'a> MultipleService<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, CipError> {
        let mut c = Cursor::new(data);
        let count = c.u16_le().ok_or(CipError::MultipleService)?;
        c.skip(usize::from(count) * 2)
            .ok_or(CipError::MultipleService)?;
        Ok(MultipleService {
            data,
            count,
            next: 0,
        })
    }

    pub fn len(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn offset(&self, i: u16) -> Option<usize> {
        let at = 2 + usize::from(i) * 2;
        let b: [u8; 2] = self.data.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(u16::from_le_bytes(b)))
    }

    /// Item `i`: from its offset to the next item's offset (or the end).
    pub fn item(&self, i: u16) -> Result<&'a [u8], CipError> {
        let start = self.offset(i).ok_or(CipError::MultipleService)?;
        let end = if i + 1 < self.count {
            self.offset(i + 1).ok_or(CipError::MultipleService)?
        } else {
            self.data.len()
        };
        let header = 2 + usize::from(self.count) * 2;
        if start < header {
            return Err(CipError::MultipleService);
        }
        self.data.get(start..end).ok_or(CipError::MultipleService)
    }
}

impl<'a> Iterator for MultipleService<'a> {
    type Item = Result<&'a [u8], CipError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(self.item(i))
    }
}

/// Identity object instance attributes 1–7 (Vol. 1 §5-2.2.1), the layout shared by a Get
/// Attributes All reply and the ListIdentity CIP Identity item (Vol. 2 table 2-4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    pub vendor: u16,
    pub device_type: u16,
    pub product_code: u16,
    pub major: u8,
    pub minor: u8,
    pub status: u16,
    pub serial: u32,
    pub product_name: &'a [u8],
}

impl<'a> Identity<'a> {
    /// Reads the attributes from the start of `c`; the product name is a SHORT_STRING.
    pub fn read(c: &mut Cursor<'a>) -> Option<Identity<'a>> {
        let vendor = c.u16_le()?;
        let device_type = c.u16_le()?;
        let product_code = c.u16_le()?;
        let major = c.u8()?;
        let minor = c.u8()?;
        let status = c.u16_le()?;
        let serial = c.u32_le()?;
        let name_len = usize::from(c.u8()?);
        let product_name = c.take(name_len)?;
        Some(Identity {
            vendor,
            device_type,
            product_code,
            major,
            minor,
            status,
            serial,
            product_name,
        })
    }

    /// The inventory's device type for the CIP device type (Vol. 1 table 6-7.1 device
    /// profiles), where the profile says which kind of device it is. Communications
    /// adapters (0x0C) are left out: a 1756-ENBT is the Ethernet port of a PLC chassis as
    /// often as a remote I/O adapter, so behaviour decides.
    pub fn catalog_type(&self) -> Option<&'static str> {
        match self.device_type {
            0x0E => Some("plc"),
            0x07 | 0x23 | 0x2A => Some("io_module"),
            0x18 => Some("hmi"),
            0x2C => Some("switch"),
            _ => None,
        }
    }

    /// Emits vendor, device type, model, firmware and serial about `subject`. Values are
    /// formatted as Wireshark shows them: revision "4.03", serial "0x00524d8e".
    pub fn emit(&self, subject: Subject, source: Source, out: &mut Vec<Observation>) {
        let mut push = |field, value: String| {
            out.push(Observation::Identity {
                subject,
                field,
                value,
                source,
            })
        };
        push(
            Field::Vendor,
            match vendors::vendor_name(self.vendor) {
                Some(name) => name.to_owned(),
                None => format!("vendor id {}", self.vendor),
            },
        );
        if let Some(t) = self.catalog_type() {
            push(Field::DeviceType, t.to_owned());
        }
        if let Some(model) = clean(self.product_name) {
            push(Field::Model, model);
        }
        push(Field::Firmware, format!("{}.{:02}", self.major, self.minor));
        push(Field::Serial, format!("0x{:08x}", self.serial));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
