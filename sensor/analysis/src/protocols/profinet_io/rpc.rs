//! The DCE/RPC connectionless (CL) PDU that carries the PROFINET IO Context Manager (The Open
//! Group C706, "DCE 1.1: Remote Procedure Call", chapter 12, connectionless PDUs; its use by
//! PNIO in IEC 61158-6-10:2019 §4.10.3), and the NDR header in front of the PNIO blocks.
//!
//! The 80-octet header carries a data representation label (drep); every integer of the header
//! and of the NDR header follows its byte order, and so do the first three fields of each UUID
//! (the last eight octets are bytes). The PNIO blocks after the NDR header are big-endian
//! whatever the label says (the coding of the PNIO blocks in IEC 61158-6-10 is fixed, not NDR).

use super::error::PnioError;
use crate::protocols::reader::Cursor;

/// Length of the CL header.
pub const HEADER_LEN: usize = 80;
/// Length of the NDR header of a request (ArgsMaximum, ArgsLength, MaximumCount, Offset,
/// ActualCount) and of a response (PNIOStatus instead of ArgsMaximum).
pub const NDR_LEN: usize = 20;
/// `rpc_vers` of every connectionless PDU.
pub const VERSION: u8 = 4;

/// A UUID in its canonical (textual, big-endian) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The UUID `d1-d2-d3-d4[0..2]-d4[2..8]`.
    pub const fn new(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Uuid {
        let a = d1.to_be_bytes();
        let b = d2.to_be_bytes();
        let c = d3.to_be_bytes();
        Uuid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// A UUID as written on the wire in `endian` order: its first three fields swapped when
    /// little-endian.
    pub fn from_wire(b: [u8; 16], endian: Endian) -> Uuid {
        match endian {
            Endian::Big => Uuid(b),
            Endian::Little => Uuid([
                b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15],
            ]),
        }
    }
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The integer byte order a drep label announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Big,
    Little,
}

impl Endian {
    fn u16(self, c: &mut Cursor<'_>) -> Option<u16> {
        match self {
            Endian::Big => c.u16_be(),
            Endian::Little => c.u16_le(),
        }
    }

    fn u32(self, c: &mut Cursor<'_>) -> Option<u32> {
        match self {
            Endian::Big => c.u32_be(),
            Endian::Little => c.u32_le(),
        }
    }
}

/// `ptype`: the connectionless packet types (C706 ch. 12); 11 and up are connection-oriented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketType(pub u8);

impl PacketType {
    pub const REQUEST: PacketType = PacketType(0);
    pub const PING: PacketType = PacketType(1);
    pub const RESPONSE: PacketType = PacketType(2);
    pub const FAULT: PacketType = PacketType(3);
    pub const WORKING: PacketType = PacketType(4);
    pub const NOCALL: PacketType = PacketType(5);
    pub const REJECT: PacketType = PacketType(6);
    pub const ACK: PacketType = PacketType(7);
    pub const CL_CANCEL: PacketType = PacketType(8);
    pub const FACK: PacketType = PacketType(9);
    pub const CANCEL_ACK: PacketType = PacketType(10);

    pub fn is_known(self) -> bool {
        self.0 <= Self::CANCEL_ACK.0
    }

    /// Sent only by the server of a call: answers and the replies to pings and cancels. (A
    /// fack goes either way, acknowledging fragments of a request or of a response.)
    pub fn from_server(self) -> bool {
        matches!(
            self,
            Self::RESPONSE | Self::FAULT | Self::WORKING | Self::NOCALL | Self::REJECT
        ) || self == Self::CANCEL_ACK
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "request",
            1 => "ping",
            2 => "response",
            3 => "fault",
            4 => "working",
            5 => "nocall",
            6 => "reject",
            7 => "ack",
            8 => "cl_cancel",
            9 => "fack",
            10 => "cancel_ack",
            _ => "unknown",
        }
    }
}

/// `flags1` bits (C706 ch. 12).
pub mod flags1 {
    pub const LAST_FRAG: u8 = 0x02;
    pub const FRAG: u8 = 0x04;
    pub const NO_FACK: u8 = 0x08;
    pub const MAYBE: u8 = 0x10;
    pub const IDEMPOTENT: u8 = 0x20;
    pub const BROADCAST: u8 = 0x40;
}

/// The connectionless header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ptype: PacketType,
    pub flags1: u8,
    pub flags2: u8,
    pub drep: [u8; 3],
    pub endian: Endian,
    pub object: Uuid,
    pub interface: Uuid,
    pub activity: Uuid,
    pub server_boot: u32,
    pub interface_version: u32,
    pub seq: u32,
    pub opnum: u16,
    pub interface_hint: u16,
    pub activity_hint: u16,
    /// `len`: the octets of the body (this fragment's).
    pub body_len: u16,
    pub fragment_num: u16,
    pub auth_proto: u8,
    /// `serial_hi << 8 | serial_lo`.
    pub serial: u16,
}

impl Header {
    /// One of several fragments of a call's arguments or results.
    pub fn is_fragment(&self) -> bool {
        self.flags1 & flags1::FRAG != 0
    }

    /// The body starts the call's arguments or results (an unfragmented call, or fragment 0).
    pub fn starts_call(&self) -> bool {
        !self.is_fragment() || self.fragment_num == 0
    }

    /// The body holds the call's arguments or results whole.
    pub fn is_whole(&self) -> bool {
        !self.is_fragment()
    }
}

/// A parsed PDU: its header and its body (the fragment's stub data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    pub header: Header,
    pub body: &'a [u8],
}

/// The byte order of a drep label, if it is one C706 defines (integer: 0 big-endian,
/// 1 little-endian; character: 0 ASCII, 1 EBCDIC; float: 0 IEEE to 3 IBM).
pub fn endian(drep: [u8; 3]) -> Option<Endian> {
    if drep[0] & 0x0e != 0 || drep[1] > 3 {
        return None;
    }
    match drep[0] >> 4 {
        0 => Some(Endian::Big),
        1 => Some(Endian::Little),
        _ => None,
    }
}

/// Parses the header and finds the body. Octets after the body (an authentication verifier)
/// are left alone.
pub fn parse(data: &[u8]) -> Result<Pdu<'_>, PnioError> {
    if data.len() < HEADER_LEN {
        return Err(PnioError::HeaderTruncated(data.len()));
    }
    let mut c = Cursor::new(data);
    let truncated = PnioError::HeaderTruncated(data.len());
    let [version, ptype, flags1, flags2] = c.array().ok_or(truncated)?;
    if version != VERSION {
        return Err(PnioError::Version(version));
    }
    let ptype = PacketType(ptype);
    if !ptype.is_known() {
        return Err(PnioError::PacketType(ptype.0));
    }
    let drep: [u8; 3] = c.array().ok_or(truncated)?;
    let endian = endian(drep).ok_or(PnioError::DataRepresentation(drep[0], drep[1]))?;
    let serial_hi = c.u8().ok_or(truncated)?;
    let mut uuid = || c.array().map(|b| Uuid::from_wire(b, endian));
    let (object, interface, activity) = (
        uuid().ok_or(truncated)?,
        uuid().ok_or(truncated)?,
        uuid().ok_or(truncated)?,
    );
    let u32_ = |c: &mut Cursor<'_>| endian.u32(c).ok_or(truncated);
    let u16_ = |c: &mut Cursor<'_>| endian.u16(c).ok_or(truncated);
    let server_boot = u32_(&mut c)?;
    let interface_version = u32_(&mut c)?;
    let seq = u32_(&mut c)?;
    let opnum = u16_(&mut c)?;
    let interface_hint = u16_(&mut c)?;
    let activity_hint = u16_(&mut c)?;
    let body_len = u16_(&mut c)?;
    let fragment_num = u16_(&mut c)?;
    let [auth_proto, serial_lo] = c.array().ok_or(truncated)?;
    let body = c.take(usize::from(body_len)).ok_or(PnioError::BodyLength {
        declared: body_len,
        available: data.len() - HEADER_LEN,
    })?;
    Ok(Pdu {
        header: Header {
            ptype,
            flags1,
            flags2,
            drep,
            endian,
            object,
            interface,
            activity,
            server_boot,
            interface_version,
            seq,
            opnum,
            interface_hint,
            activity_hint,
            body_len,
            fragment_num,
            auth_proto,
            serial: u16::from_be_bytes([serial_hi, serial_lo]),
        },
        body,
    })
}

/// The PNIO interfaces (IEC 61158-6-10 §4.10.3, "InterfaceUUID"): DEA0000x-6C97-11D1-8271-
/// 00A02442DF7D, x = 1 device, 2 controller, 3 supervisor, 4 parameter server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Device,
    Controller,
    Supervisor,
    ParameterServer,
}

impl Interface {
    pub const ALL: [Interface; 4] = [
        Interface::Device,
        Interface::Controller,
        Interface::Supervisor,
        Interface::ParameterServer,
    ];

    pub fn uuid(self) -> Uuid {
        let n = match self {
            Interface::Device => 1,
            Interface::Controller => 2,
            Interface::Supervisor => 3,
            Interface::ParameterServer => 4,
        };
        Uuid::new(
            0xdea0_0000 | n,
            0x6c97,
            0x11d1,
            [0x82, 0x71, 0x00, 0xa0, 0x24, 0x42, 0xdf, 0x7d],
        )
    }

    pub fn of(uuid: &Uuid) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.uuid() == *uuid)
    }

    pub fn name(self) -> &'static str {
        match self {
            Interface::Device => "device",
            Interface::Controller => "controller",
            Interface::Supervisor => "supervisor",
            Interface::ParameterServer => "parameter server",
        }
    }
}

/// What a PNIO object UUID says of the object it names (IEC 61158-6-10 §4.10.3,
/// "ObjectUUID"): DEA00000-6C97-11D1-8271-{instance}{device id}{vendor id}. The object UUID of a
/// call names the server of the call; CMInitiatorObjectUUID, the IO controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectId {
    pub instance: u16,
    pub device_id: u16,
    pub vendor_id: u16,
}

impl ObjectId {
    const PREFIX: [u8; 10] = [0xde, 0xa0, 0x00, 0x00, 0x6c, 0x97, 0x11, 0xd1, 0x82, 0x71];

    /// The PNIO identity in `uuid`, when it has the PNIO object prefix.
    pub fn of(uuid: &Uuid) -> Option<ObjectId> {
        let (prefix, node) = uuid.0.split_first_chunk::<10>()?;
        if *prefix != Self::PREFIX {
            return None;
        }
        let [i0, i1, d0, d1, v0, v1] = *node.first_chunk::<6>()?;
        Some(ObjectId {
            instance: u16::from_be_bytes([i0, i1]),
            device_id: u16::from_be_bytes([d0, d1]),
            vendor_id: u16::from_be_bytes([v0, v1]),
        })
    }
}

/// PNIOStatus (IEC 61158-6-10, "PNIOStatus"): ErrorCode, ErrorDecode, ErrorCode1,
/// ErrorCode2; all zero is "OK".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PnioStatus(pub [u8; 4]);

impl PnioStatus {
    pub fn is_ok(self) -> bool {
        self.0 == [0; 4]
    }
}

impl std::fmt::Display for PnioStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#010x}", u32::from_be_bytes(self.0))
    }
}

/// The NDR header in front of a call's PNIO blocks (IEC 61158-6-10, "NDRDataRequest" and
/// "NDRDataResponse").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ndr {
    /// ArgsMaximum, in requests.
    pub args_max: Option<u32>,
    /// PNIOStatus, in responses.
    pub status: Option<PnioStatus>,
    pub args_len: u32,
    pub max_count: u32,
    pub offset: u32,
    pub actual_count: u32,
}

impl Ndr {
    /// Reads the NDR header at the start of `body`, returning it and the octets after it.
    pub fn parse(body: &[u8], endian: Endian, request: bool) -> Result<(Ndr, &[u8]), PnioError> {
        let mut c = Cursor::new(body);
        let (args_max, status) = if request {
            (
                Some(endian.u32(&mut c).ok_or(PnioError::NdrTruncated)?),
                None,
            )
        } else {
            let s = c.array().ok_or(PnioError::NdrTruncated)?;
            (None, Some(PnioStatus(s)))
        };
        let mut next = || endian.u32(&mut c).ok_or(PnioError::NdrTruncated);
        let ndr = Ndr {
            args_max,
            status,
            args_len: next()?,
            max_count: next()?,
            offset: next()?,
            actual_count: next()?,
        };
        Ok((ndr, c.rest()))
    }

    /// The NDR rules (C706 ch. 14, conformant varying arrays; IEC 61158-6-10, "NDRData"): the
    /// arguments are one array from offset 0, whose ActualCount is ArgsLength and at most
    /// MaximumCount (and ArgsMaximum in a request). With `whole` (an unfragmented call) its
    /// octets are exactly the `args` that follow.
    pub fn check(&self, args: usize, whole: bool) -> Result<(), PnioError> {
        if self.offset != 0 {
            return Err(PnioError::NdrOffset(self.offset));
        }
        if self.actual_count != self.args_len || self.actual_count > self.max_count {
            return Err(PnioError::NdrCounts {
                args_len: self.args_len,
                max_count: self.max_count,
                actual_count: self.actual_count,
            });
        }
        if let Some(args_max) = self.args_max.filter(|&m| self.args_len > m) {
            return Err(PnioError::NdrArgsMaximum {
                args_max,
                args_len: self.args_len,
            });
        }
        let mismatch = if whole {
            usize::try_from(self.actual_count) != Ok(args)
        } else {
            // A first fragment holds at most the whole array.
            usize::try_from(self.actual_count).is_ok_and(|n| n < args)
        };
        if mismatch {
            return Err(PnioError::NdrLength {
                declared: self.actual_count,
                available: args,
            });
        }
        Ok(())
    }

    /// The arguments of this fragment: `args` up to ActualCount.
    pub fn args<'a>(&self, args: &'a [u8]) -> &'a [u8] {
        let n = usize::try_from(self.actual_count).unwrap_or(usize::MAX);
        args.get(..n).unwrap_or(args)
    }
}
