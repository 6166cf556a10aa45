//! S7comm-plus (S7-1200/1500, protocol id 0x72): requests and the PLC's session identity.
//!
//! Layout (moki-ics/s7commwireshark src/s7comm_plus/packet-s7comm_plus.c, `dissect_s7commp`):
//! a 4-byte header (0x72, protocol version, 16-bit data length), the data, and on the last
//! PDU of a message a 4-byte trailer (0x72, version, 0x0000). A PDU without trailer is a
//! fragment and the next PDU continues it; only the first fragment starts with the request
//! header. Version 0xFF is a 4-byte keep-alive, 0xFE a system event. Version 3 (firmware 1.5 and later, "DataFW1_5")
//! puts an integrity part (digest length 32 and the digest) in front of the data.
//!
//! The data of a request or response starts with an opcode (0x31 request, 0x32 response, 0x33
//! notification), two reserved bytes and a 16-bit function code (Explore, CreateObject,
//! SetMultiVariables, ...), reported as is.
//!
//! The CreateObject response that opens a session carries the ServerSessionVersion attribute
//! (id 306), a struct whose member 319 (LID_SessionVersionSystemPAOMString; ids as in
//! python-snap7 `snap7/s7commplus/protocol.py` and thomas-v2/S7CommPlusDriver) is a WString
//! `<n>;<order number>;V<x.y>` (e.g. `1;6ES7 214-1HE30-0XB0 ;V2.2`, in every session of the
//! corpus). Attributes are encoded as element id 0xA3, the id as a
//! variable-length integer (7 bits a byte, high bit = more), flags, a datatype (0x15 WString)
//! and a variable-length length (packet-s7comm_plus.c `s7commp_decode_value`).
//!
//! Requests that change the PLC (layouts as thomas-v2/S7CommPlusDriver serialises them in
//! `Core/CreateObjectRequest.cs` and `Core/SetVariableRequest.cs`, ids from its `Core/Ids.cs`
//! and packet-s7comm_plus.c's id name table; the request header is opcode, 2 reserved, function,
//! 2 reserved, sequence number, session id, transport flags):
//! - CreateObject under the PLC program (request id 3, `NativeObjects_thePLCProgram_Rid`):
//!   TIA Portal writes a block, e.g. a ProgramCycleOB (class 2647) "Main" with
//!   Block.BlockNumber (2521) 1 in s7comm-plus/S7-1200-Uploading-OB1-TIAV12.pcap, frame 127;
//!   a program download, with the block as "OB1";
//! - SetVariable of CPUexecUnit.operatingStateReq (attribute 2167 of object 52): the mode
//!   request, DInt 1 STOP and 3 RUN (S7CommPlusDriver `SetPlcOperatingState`).

use super::error::S7Error;
use super::{Facts, PLUS_PROTOCOL_ID};
use crate::protocols::text::clean;
use crate::protocols::{operation_or_code, source};
use otwatch_common::observation::{Details, Field, Observation, Operation, Source, Subject};

const KEEPALIVE: u8 = 0xff;
/// python-snap7 `ProtocolVersion.SYSTEM_EVENT`.
const SYSTEM_EVENT: u8 = 0xfe;
/// Version 3 ("DataFW1_5"): integrity part before the data.
const VERSION_INTEGRITY_FIRST: u8 = 3;
const DIGEST_LEN: u8 = 32;
const OPCODE_REQUEST: u8 = 0x31;
const OPCODE_RESPONSE: u8 = 0x32;
/// packet-s7comm_plus.c S7COMMP_FUNCTIONCODE_* values and python-snap7 `FunctionCode`.
const EXPLORE: u16 = 0x04bb;
const CREATE_OBJECT: u16 = 0x04ca;
const SET_VARIABLE: u16 = 0x04f2;
const GET_VARIABLE: u16 = 0x04fc;
const GET_LINK: u16 = 0x0524;
const SET_MULTI_VARIABLES: u16 = 0x0542;
const GET_MULTI_VARIABLES: u16 = 0x054c;
const INVOKE: u16 = 0x056b;
const SET_VAR_SUB_STREAMED: u16 = 0x057c;
const GET_VAR_SUB_STREAMED: u16 = 0x0586;
const GET_VARIABLES_ADDRESS: u16 = 0x0590;
/// Request ids and attributes (S7CommPlusDriver Core/Ids.cs).
const THE_PLC_PROGRAM_RID: u32 = 3;
const THE_CPU_EXEC_UNIT_RID: u32 = 52;
const OPERATING_STATE_REQ: u32 = 2167;
/// Attribute element, Block.BlockNumber (2521), flags 0.
const BLOCK_NUMBER_ATTRIBUTE: &[u8] = &[0xa3, 0x93, 0x59, 0x00];
/// Element id of the start of an object (packet-s7comm_plus.c S7COMMP_ITEMVAL_ELEMENTID_*).
const START_OF_OBJECT: u8 = 0xa1;
/// Datatypes (packet-s7comm_plus.c S7COMMP_ITEM_DATATYPE_*).
const UINT: u8 = 0x03;
const UDINT: u8 = 0x04;
const DINT: u8 = 0x08;
/// Offset of the request set after the request header.
const REQUEST_SET: usize = 14;
/// Attribute element, id 306 (ServerSessionVersion) as a variable-length integer.
const SESSION_VERSION_ATTRIBUTE: &[u8] = &[0xa3, 0x82, 0x32];
/// Member id 319, flags 0, datatype WString.
const SESSION_VERSION_STRING: &[u8] = &[0x82, 0x3f, 0x00, 0x15];
const SOURCE: Source = source::S7_PLUS_SESSION;

/// One S7comm-plus PDU.
pub(super) struct PlusPdu<'a> {
    /// No trailer: the next PDU continues this message.
    pub(super) fragment: bool,
    /// The data (after an integrity part), empty for a keep-alive.
    data: &'a [u8],
}

/// Whether `user` (a DT's user data) is one S7comm-plus PDU of a known version whose data
/// length fits, with or without trailer.
pub(super) fn header_fits(user: &[u8]) -> bool {
    match user {
        [PLUS_PROTOCOL_ID, KEEPALIVE, _, _] => true,
        [PLUS_PROTOCOL_ID, 1..=3 | SYSTEM_EVENT, ..] => parse(user).is_ok(),
        _ => false,
    }
}

pub(super) fn parse(pdu: &[u8]) -> Result<PlusPdu<'_>, S7Error> {
    let [PLUS_PROTOCOL_ID, version, hi, lo, rest @ ..] = pdu else {
        return Err(S7Error::PlusHeaderTruncated);
    };
    if *version == KEEPALIVE {
        return Ok(PlusPdu {
            fragment: false,
            data: &[],
        });
    }
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let (data, trailer) = rest.split_at_checked(len).ok_or(S7Error::PlusLength)?;
    let fragment = match trailer {
        [] => true,
        [PLUS_PROTOCOL_ID, _, 0, 0] => false,
        _ => return Err(S7Error::PlusTrailer),
    };
    let data = match (*version, data) {
        (VERSION_INTEGRITY_FIRST, [DIGEST_LEN, tail @ ..]) => {
            tail.get(usize::from(DIGEST_LEN)..).unwrap_or_default()
        }
        _ => data,
    };
    Ok(PlusPdu { fragment, data })
}

/// Reports the first fragment of a message: a request's function code, or the identity in a
/// CreateObject response.
pub(super) fn report(
    facts: &mut Facts,
    subject: Subject,
    pdu: &PlusPdu<'_>,
    out: &mut Vec<Observation>,
) {
    let [opcode, _, _, f0, f1, ..] = *pdu.data else {
        return;
    };
    let function = u16::from_be_bytes([f0, f1]);
    match opcode {
        OPCODE_REQUEST => {
            let op = match function {
                EXPLORE
                | GET_VARIABLE
                | GET_LINK
                | GET_MULTI_VARIABLES
                | GET_VAR_SUB_STREAMED
                | GET_VARIABLES_ADDRESS => Some(Operation::Read),
                SET_VARIABLE => match operating_state(pdu.data) {
                    Some((op, details)) => {
                        out.push(operation_or_code(Some(op), u32::from(function), details));
                        return;
                    }
                    None => Some(Operation::Write),
                },
                SET_MULTI_VARIABLES | SET_VAR_SUB_STREAMED => Some(Operation::Write),
                INVOKE => Some(Operation::Control),
                CREATE_OBJECT => {
                    if let Some(details) = program_object(pdu.data) {
                        let op = Some(Operation::ProgramDownload);
                        out.push(operation_or_code(op, u32::from(function), details));
                        return;
                    }
                    None
                }
                // DeleteObject, Add/RemoveLink, Begin/EndSequence, InitSSL, Abort and others.
                _ => None,
            };
            out.push(operation_or_code(op, u32::from(function), Vec::new()));
        }
        OPCODE_RESPONSE if function == CREATE_OBJECT => {
            session_identity(facts, subject, pdu.data, out)
        }
        _ => {}
    }
}

/// An unsigned variable-length integer (packet-s7comm_plus.c `tvb_get_varuint32`): 7 bits a
/// byte, high bit set on all but the last, at most 5 bytes. The value and its length.
fn vlq(data: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, &b) in data.iter().take(5).enumerate() {
        value = value.checked_shl(7)? | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The block kind of an object class (packet-s7comm_plus.c id names: OB.Class_Rid 2610 and
/// the OB classes 2637-2658, FB 2578, FC 2579, DB 2574).
fn block_kind(class: u32) -> Option<&'static str> {
    Some(match class {
        2610 | 2637..=2658 => "OB",
        2574 => "DB",
        2578 => "FB",
        2579 => "FC",
        _ => return None,
    })
}

/// The evidence of a CreateObject request under the PLC program: request id, a UDInt request
/// value, 4 unknown bytes, then the object (start of object, relation id, class id). `None`
/// for other CreateObject requests (a session, a subscription).
fn program_object(data: &[u8]) -> Option<Details> {
    let set = data.get(REQUEST_SET..)?;
    let (id, rest) = set.split_first_chunk::<4>()?;
    if u32::from_be_bytes(*id) != THE_PLC_PROGRAM_RID {
        return None;
    }
    let mut details = vec![("service", "CreateObject".to_string())];
    let block = (|| {
        let [_flags, UDINT, rest @ ..] = rest else {
            return None;
        };
        let (_, n) = vlq(rest)?;
        let [START_OF_OBJECT, _, _, _, _, class @ ..] = rest.get(n + 4..)? else {
            return None;
        };
        let kind = block_kind(vlq(class)?.0)?;
        let at = super::super::text::find(data, BLOCK_NUMBER_ATTRIBUTE)?;
        let number = match data.get(at + BLOCK_NUMBER_ATTRIBUTE.len()..)? {
            [UINT, hi, lo, ..] => u32::from(u16::from_be_bytes([*hi, *lo])),
            [UDINT, v @ ..] => vlq(v)?.0,
            _ => return None,
        };
        Some(format!("{kind}{number}"))
    })();
    details.extend(block.map(|b| ("block", b)));
    Some(details)
}

/// A SetVariable request of the CPU's operating state (object 52, attribute 2167): object id,
/// item count, attribute id, then the value (flags, datatype, value). DInt 1 stops the CPU, 3
/// starts it; another value is a mode change without a known meaning.
fn operating_state(data: &[u8]) -> Option<(Operation, Details)> {
    let set = data.get(REQUEST_SET..)?;
    let (id, rest) = set.split_first_chunk::<4>()?;
    if u32::from_be_bytes(*id) != THE_CPU_EXEC_UNIT_RID {
        return None;
    }
    let (_count, n) = vlq(rest)?;
    let rest = rest.get(n..)?;
    let (address, n) = vlq(rest)?;
    if address != OPERATING_STATE_REQ {
        return None;
    }
    let value = match rest.get(n..)? {
        // A one-byte signed VLQ: bit 6 is the sign, so 0..=0x3f are the small positives.
        [_flags, DINT, v, ..] if v & 0xc0 == 0 => Some(*v),
        _ => None,
    };
    let op = match value {
        Some(1) => Operation::CpuStop,
        Some(3) => Operation::CpuStart,
        _ => Operation::Control,
    };
    let mut details = vec![(
        "service",
        "SetVariable CPUexecUnit.operatingStateReq".to_string(),
    )];
    details.extend(value.map(|v| ("value", v.to_string())));
    Some((op, details))
}

/// Order number and firmware from the ServerSessionVersion string of a CreateObject response.
fn session_identity(facts: &mut Facts, subject: Subject, data: &[u8], out: &mut Vec<Observation>) {
    let Some(text) = session_string(data) else {
        return;
    };
    // `<n>;<order number>;V<x.y>`
    let mut parts = text.split(|&b| b == b';');
    let (Some(_), Some(order), Some(firmware)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (order, firmware) = (order.trim_ascii(), firmware.trim_ascii());
    let tidy = |s: &[u8]| super::super::text::is_tidy_ascii(s, 32);
    if !tidy(order) {
        return;
    }
    facts.model_from_order_number = true;
    facts
        .seen
        .emit(out, subject, Field::Model, order, SOURCE, || clean(order));
    if firmware.first() == Some(&b'V') && tidy(firmware) {
        facts
            .seen
            .emit(out, subject, Field::Firmware, firmware, SOURCE, || {
                clean(firmware)
            });
    }
    facts
        .seen
        .emit(out, subject, Field::Vendor, b"Siemens", SOURCE, || {
            Some("Siemens".to_string())
        });
}

/// The WString of member 319 after the ServerSessionVersion attribute, if present.
fn session_string(data: &[u8]) -> Option<&[u8]> {
    let at = super::super::text::find(data, SESSION_VERSION_ATTRIBUTE)?;
    let after = data.get(at + SESSION_VERSION_ATTRIBUTE.len()..)?;
    let at = super::super::text::find(after, SESSION_VERSION_STRING)?;
    let value = after.get(at + SESSION_VERSION_STRING.len()..)?;
    // One-byte variable-length length (high bit clear): the strings are short.
    let (&len, value) = value.split_first()?;
    if len & 0x80 != 0 {
        return None;
    }
    value.get(..usize::from(len))
}
