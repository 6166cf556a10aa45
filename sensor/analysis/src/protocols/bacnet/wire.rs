//! BACnet/IP framing: the BVLL (ASHRAE 135-2020 Annex J.2), the NPDU header (clause 6.2) and
//! the APDU header (clause 20.1), each parsed in place from the datagram.

use super::tags::TagError;
use crate::protocols::reader::Cursor;
use std::net::Ipv4Addr;

/// BVLL type octet of BACnet/IP (Annex J.2); 0x82 is BACnet/IPv6 (Annex U), not handled.
pub const BVLC_TYPE_BIP: u8 = 0x81;

/// BVLC functions (Annex J.2, table J-1).
pub mod bvlc {
    pub const RESULT: u8 = 0x00;
    pub const WRITE_BDT: u8 = 0x01;
    pub const READ_BDT: u8 = 0x02;
    pub const READ_BDT_ACK: u8 = 0x03;
    pub const FORWARDED_NPDU: u8 = 0x04;
    pub const REGISTER_FOREIGN_DEVICE: u8 = 0x05;
    pub const READ_FDT: u8 = 0x06;
    pub const READ_FDT_ACK: u8 = 0x07;
    pub const DELETE_FDT_ENTRY: u8 = 0x08;
    pub const DISTRIBUTE_BROADCAST_TO_NETWORK: u8 = 0x09;
    pub const ORIGINAL_UNICAST_NPDU: u8 = 0x0a;
    pub const ORIGINAL_BROADCAST_NPDU: u8 = 0x0b;
    pub const SECURE_BVLL: u8 = 0x0c;
}

/// APDU types (20.1.1).
pub mod pdu {
    pub const CONFIRMED_REQUEST: u8 = 0;
    pub const UNCONFIRMED_REQUEST: u8 = 1;
    pub const SIMPLE_ACK: u8 = 2;
    pub const COMPLEX_ACK: u8 = 3;
    pub const SEGMENT_ACK: u8 = 4;
    pub const ERROR: u8 = 5;
    pub const REJECT: u8 = 6;
    pub const ABORT: u8 = 7;
}

/// BACnetConfirmedServiceChoice (clause 21).
pub mod confirmed {
    pub const ACKNOWLEDGE_ALARM: u8 = 0;
    pub const CONFIRMED_COV_NOTIFICATION: u8 = 1;
    pub const CONFIRMED_EVENT_NOTIFICATION: u8 = 2;
    pub const GET_ALARM_SUMMARY: u8 = 3;
    pub const GET_ENROLLMENT_SUMMARY: u8 = 4;
    pub const SUBSCRIBE_COV: u8 = 5;
    pub const ATOMIC_READ_FILE: u8 = 6;
    pub const ATOMIC_WRITE_FILE: u8 = 7;
    pub const ADD_LIST_ELEMENT: u8 = 8;
    pub const REMOVE_LIST_ELEMENT: u8 = 9;
    pub const CREATE_OBJECT: u8 = 10;
    pub const DELETE_OBJECT: u8 = 11;
    pub const READ_PROPERTY: u8 = 12;
    pub const READ_PROPERTY_CONDITIONAL: u8 = 13;
    pub const READ_PROPERTY_MULTIPLE: u8 = 14;
    pub const WRITE_PROPERTY: u8 = 15;
    pub const WRITE_PROPERTY_MULTIPLE: u8 = 16;
    pub const DEVICE_COMMUNICATION_CONTROL: u8 = 17;
    pub const CONFIRMED_PRIVATE_TRANSFER: u8 = 18;
    pub const CONFIRMED_TEXT_MESSAGE: u8 = 19;
    pub const REINITIALIZE_DEVICE: u8 = 20;
    pub const READ_RANGE: u8 = 26;
    pub const LIFE_SAFETY_OPERATION: u8 = 27;
    pub const SUBSCRIBE_COV_PROPERTY: u8 = 28;
    pub const GET_EVENT_INFORMATION: u8 = 29;
    pub const SUBSCRIBE_COV_PROPERTY_MULTIPLE: u8 = 30;
}

/// BACnetUnconfirmedServiceChoice (clause 21).
pub mod unconfirmed {
    pub const I_AM: u8 = 0;
    pub const I_HAVE: u8 = 1;
    pub const UNCONFIRMED_COV_NOTIFICATION: u8 = 2;
    pub const UNCONFIRMED_EVENT_NOTIFICATION: u8 = 3;
    pub const UNCONFIRMED_PRIVATE_TRANSFER: u8 = 4;
    pub const UNCONFIRMED_TEXT_MESSAGE: u8 = 5;
    pub const TIME_SYNCHRONIZATION: u8 = 6;
    pub const WHO_HAS: u8 = 7;
    pub const WHO_IS: u8 = 8;
    pub const UTC_TIME_SYNCHRONIZATION: u8 = 9;
    pub const WRITE_GROUP: u8 = 10;
    pub const WHO_AM_I: u8 = 13;
    pub const YOU_ARE: u8 = 14;
}

/// The number reported as a BACnet function code: the APDU type in the high octet and the
/// service choice in the low one, both as on the wire.
pub fn function_code(pdu_type: u8, service: u8) -> u32 {
    (u32::from(pdu_type) << 8) | u32::from(service)
}

/// The function code of a BVLC function: the BVLL type octet (0x81) and the function.
pub fn bvlc_function_code(function: u8) -> u32 {
    (u32::from(BVLC_TYPE_BIP) << 8) | u32::from(function)
}

/// Why a datagram is not well-formed BACnet/IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BacnetError {
    #[error("not a BACnet/IP BVLL (type {0:#04x})")]
    BvlcType(u8),
    #[error("BVLL shorter than its 4-octet header")]
    BvlcShort,
    #[error("BVLC length {declared} does not match the {actual}-octet datagram")]
    BvlcLength { declared: u16, actual: usize },
    #[error("reserved BVLC function {0:#04x}")]
    BvlcFunction(u8),
    #[error("BVLC function {function:#04x} with a malformed {len}-octet body")]
    BvlcBody { function: u8, len: usize },
    #[error("NPDU protocol version {0} (only 1 is defined)")]
    NpduVersion(u8),
    #[error("NPDU truncated")]
    NpduTruncated,
    #[error("NPDU source address with SLEN 0")]
    SourceLength,
    #[error("NPDU source network 0xFFFF (the global broadcast)")]
    SourceNetwork,
    #[error("APDU truncated")]
    ApduTruncated,
    #[error("reserved APDU type {0}")]
    ApduType(u8),
    #[error(transparent)]
    Tag(#[from] TagError),
    #[error("malformed {0}")]
    Service(&'static str),
}

/// A BACnet Virtual Link Layer message (Annex J.2), borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bvll<'a> {
    pub function: u8,
    /// Forwarded-NPDU (J.2.5): the B/IP address of the device that originated the message.
    pub original_source: Option<(Ipv4Addr, u16)>,
    /// The NPDU, for the functions that carry one.
    pub npdu: Option<&'a [u8]>,
    /// BVLC Length when it disagrees with the datagram's length; the datagram is parsed
    /// as received (as Wireshark does) and the disagreement reported as a violation.
    pub bad_length: Option<u16>,
}

/// Parses a BVLL: type 0x81, function, length of the whole message (J.2, "BVLC Length"),
/// and checks the body against the function's fixed layout. A wrong BVLC Length is not an
/// error here (see [`Bvll::bad_length`]).
pub fn parse_bvll(data: &[u8]) -> Result<Bvll<'_>, BacnetError> {
    let Some((&[ty, function, l0, l1], body)) = data.split_first_chunk::<4>() else {
        return Err(BacnetError::BvlcShort);
    };
    if ty != BVLC_TYPE_BIP {
        return Err(BacnetError::BvlcType(ty));
    }
    let declared = u16::from_be_bytes([l0, l1]);
    let bad = BacnetError::BvlcBody {
        function,
        len: body.len(),
    };
    let check = |ok: bool| if ok { Ok(()) } else { Err(bad) };
    let mut bvll = Bvll {
        function,
        original_source: None,
        npdu: None,
        bad_length: (usize::from(declared) != data.len()).then_some(declared),
    };
    match function {
        // J.2.1: a 2-octet result code.
        bvlc::RESULT => check(body.len() == 2)?,
        // J.2.2, J.2.4: lists of 10-octet BDT entries (address, port, mask).
        bvlc::WRITE_BDT | bvlc::READ_BDT_ACK => check(body.len() % 10 == 0)?,
        // J.2.3, J.2.7: no body.
        bvlc::READ_BDT | bvlc::READ_FDT => check(body.is_empty())?,
        // J.2.5: original source address (4) and port (2), then the NPDU.
        bvlc::FORWARDED_NPDU => {
            let (&[a, b, c, d, p0, p1], npdu) = body.split_first_chunk::<6>().ok_or(bad)?;
            bvll.original_source = Some((Ipv4Addr::new(a, b, c, d), u16::from_be_bytes([p0, p1])));
            bvll.npdu = Some(npdu);
        }
        // J.2.6: time-to-live.
        bvlc::REGISTER_FOREIGN_DEVICE => check(body.len() == 2)?,
        // J.2.8: 10-octet FDT entries (address, port, TTL, time remaining).
        bvlc::READ_FDT_ACK => check(body.len() % 10 == 0)?,
        // J.2.9: the B/IP address of the entry to delete.
        bvlc::DELETE_FDT_ENTRY => check(body.len() == 6)?,
        // J.2.10-J.2.12: an NPDU.
        bvlc::DISTRIBUTE_BROADCAST_TO_NETWORK
        | bvlc::ORIGINAL_UNICAST_NPDU
        | bvlc::ORIGINAL_BROADCAST_NPDU => bvll.npdu = Some(body),
        // J.2.13 (clause 24 security wrapper): opaque here.
        bvlc::SECURE_BVLL => {}
        _ => return Err(BacnetError::BvlcFunction(function)),
    }
    Ok(bvll)
}

/// A network-layer PDU (clause 6.2), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Npdu<'a> {
    pub control: u8,
    /// DNET, when the message is for a remote network (0xFFFF: global broadcast).
    pub dnet: Option<u16>,
    /// SNET and SADR: the message comes from a device on another network, via a router.
    pub source: Option<(u16, &'a [u8])>,
    /// Network-layer message type (6.2.4), when the NSDU is not an APDU.
    pub network_message: Option<u8>,
    /// The APDU (or the network-layer message body).
    pub apdu: &'a [u8],
}

/// Parses an NPDU header (6.2.1 version, 6.2.2 control octet and addresses, 6.2.3 hop count,
/// 6.2.4 message type and vendor id).
pub fn parse_npdu(data: &[u8]) -> Result<Npdu<'_>, BacnetError> {
    let mut c = Cursor::new(data);
    let short = BacnetError::NpduTruncated;
    let version = c.u8().ok_or(short)?;
    if version != 1 {
        return Err(BacnetError::NpduVersion(version));
    }
    let control = c.u8().ok_or(short)?;
    let dnet = if control & 0x20 != 0 {
        let dnet = c.u16_be().ok_or(short)?;
        // DLEN 0 is a broadcast on DNET, without DADR.
        let dlen = c.u8().ok_or(short)?;
        c.skip(usize::from(dlen)).ok_or(short)?;
        Some(dnet)
    } else {
        None
    };
    let source = if control & 0x08 != 0 {
        let snet = c.u16_be().ok_or(short)?;
        let slen = c.u8().ok_or(short)?;
        // 6.2.2: a source is one station, never a broadcast (SLEN 0 or SNET 0xFFFF).
        if slen == 0 {
            return Err(BacnetError::SourceLength);
        }
        if snet == 0xffff {
            return Err(BacnetError::SourceNetwork);
        }
        Some((snet, c.take(usize::from(slen)).ok_or(short)?))
    } else {
        None
    };
    if dnet.is_some() {
        c.skip(1).ok_or(short)?; // hop count
    }
    let network_message = if control & 0x80 != 0 {
        let ty = c.u8().ok_or(short)?;
        if ty >= 0x80 {
            c.skip(2).ok_or(short)?; // proprietary message: vendor id
        }
        Some(ty)
    } else {
        None
    };
    Ok(Npdu {
        control,
        dnet,
        source,
        network_message,
        apdu: c.rest(),
    })
}

/// An application-layer PDU header (20.1.2-20.1.9), with the service data borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apdu<'a> {
    ConfirmedRequest {
        segmented: bool,
        invoke_id: u8,
        service: u8,
        body: &'a [u8],
    },
    UnconfirmedRequest {
        service: u8,
        body: &'a [u8],
    },
    SimpleAck {
        invoke_id: u8,
        service: u8,
    },
    ComplexAck {
        segmented: bool,
        invoke_id: u8,
        service: u8,
        body: &'a [u8],
    },
    SegmentAck {
        invoke_id: u8,
        from_server: bool,
    },
    Error {
        invoke_id: u8,
        service: u8,
    },
    Reject {
        invoke_id: u8,
        reason: u8,
    },
    Abort {
        invoke_id: u8,
        from_server: bool,
        reason: u8,
    },
}

/// Parses an APDU header.
pub fn parse_apdu(data: &[u8]) -> Result<Apdu<'_>, BacnetError> {
    let mut c = Cursor::new(data);
    let short = BacnetError::ApduTruncated;
    let first = c.u8().ok_or(short)?;
    // 20.1.2.11 / 20.1.5.x: segmented messages carry a sequence number and window size.
    let segmented = first & 0x08 != 0;
    Ok(match first >> 4 {
        pdu::CONFIRMED_REQUEST => {
            c.skip(1).ok_or(short)?; // max segments, max APDU accepted (20.1.2.4-5)
            let invoke_id = c.u8().ok_or(short)?;
            if segmented {
                c.skip(2).ok_or(short)?;
            }
            Apdu::ConfirmedRequest {
                segmented,
                invoke_id,
                service: c.u8().ok_or(short)?,
                body: c.rest(),
            }
        }
        pdu::UNCONFIRMED_REQUEST => Apdu::UnconfirmedRequest {
            service: c.u8().ok_or(short)?,
            body: c.rest(),
        },
        pdu::SIMPLE_ACK => Apdu::SimpleAck {
            invoke_id: c.u8().ok_or(short)?,
            service: c.u8().ok_or(short)?,
        },
        pdu::COMPLEX_ACK => {
            let invoke_id = c.u8().ok_or(short)?;
            if segmented {
                c.skip(2).ok_or(short)?;
            }
            Apdu::ComplexAck {
                segmented,
                invoke_id,
                service: c.u8().ok_or(short)?,
                body: c.rest(),
            }
        }
        pdu::SEGMENT_ACK => {
            let invoke_id = c.u8().ok_or(short)?;
            c.skip(2).ok_or(short)?; // sequence number, actual window size
            Apdu::SegmentAck {
                invoke_id,
                from_server: first & 0x01 != 0,
            }
        }
        pdu::ERROR => Apdu::Error {
            invoke_id: c.u8().ok_or(short)?,
            service: c.u8().ok_or(short)?,
        },
        pdu::REJECT => Apdu::Reject {
            invoke_id: c.u8().ok_or(short)?,
            reason: c.u8().ok_or(short)?,
        },
        pdu::ABORT => Apdu::Abort {
            invoke_id: c.u8().ok_or(short)?,
            reason: c.u8().ok_or(short)?,
            from_server: first & 0x01 != 0,
        },
        t => return Err(BacnetError::ApduType(t)),
    })
}
