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

use super::{Facts, PLUS_PROTOCOL_ID};
use otwatch_common::observation::{Field, Observation, Operation, Subject};

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
/// Attribute element, id 306 (ServerSessionVersion) as a variable-length integer.
const SESSION_VERSION_ATTRIBUTE: &[u8] = &[0xa3, 0x82, 0x32];
/// Member id 319, flags 0, datatype WString.
const SESSION_VERSION_STRING: &[u8] = &[0x82, 0x3f, 0x00, 0x15];
const SOURCE: &str = "s7 plus session";

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

pub(super) fn parse(pdu: &[u8]) -> Result<PlusPdu<'_>, &'static str> {
    let [PLUS_PROTOCOL_ID, version, hi, lo, rest @ ..] = pdu else {
        return Err("S7comm-plus header truncated");
    };
    if *version == KEEPALIVE {
        return Ok(PlusPdu {
            fragment: false,
            data: &[],
        });
    }
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let (data, trailer) = rest
        .split_at_checked(len)
        .ok_or("S7comm-plus data length exceeds the PDU")?;
    let fragment = match trailer {
        [] => true,
        [PLUS_PROTOCOL_ID, _, 0, 0] => false,
        _ => return Err("S7comm-plus trailer malformed"),
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
                SET_VARIABLE | SET_MULTI_VARIABLES | SET_VAR_SUB_STREAMED => Some(Operation::Write),
                INVOKE => Some(Operation::Control),
                // CreateObject, DeleteObject, Add/RemoveLink, Begin/EndSequence, InitSSL,
                // Abort and others.
                _ => None,
            };
            super::push_op(out, op, u32::from(function));
        }
        OPCODE_RESPONSE if function == CREATE_OBJECT => {
            session_identity(facts, subject, pdu.data, out)
        }
        _ => {}
    }
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
    facts.text(out, subject, Field::Model, order, SOURCE);
    if firmware.first() == Some(&b'V') && tidy(firmware) {
        facts.text(out, subject, Field::Firmware, firmware, SOURCE);
    }
    facts.emit(out, subject, Field::Vendor, b"Siemens", SOURCE, || {
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
