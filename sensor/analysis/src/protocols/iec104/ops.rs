//! The evidence of IEC 104 ASDUs that change a controlled station: reset process, clock
//! synchronisation, parameter loading and file transfer (IEC 60870-5-101 §7.3.4-7.3.6, "101
//! §"; the 104 information object address is three octets, 104 clause 6).
//!
//! Element layouts (101 §7.2.6, read alongside Wireshark's packet-iec104.c):
//! - C_RP_NA_1: QRP (1 general reset of process, 2 reset of pending information with time tag
//!   of the event buffer);
//! - C_CS_NA_1: CP56Time2a (§7.2.6.18): milliseconds (2 octets, little-endian, 0..59999),
//!   minutes (6 bits, bit 7 invalid), hours (5 bits, bit 7 summer time), day of month (5
//!   bits) and day of week (3 bits), month (4 bits), year (7 bits, 0..99);
//! - P_ME_NA_1, P_ME_NB_1, P_ME_NC_1: normalized, scaled or short float value, then QPM;
//!   P_AC_NA_1: QPA;
//! - file transfer (F_* 120-127): every element starts with NOF, the name of the file (2
//!   octets); F_SC_NA_1 then has NOS and SCQ, whose low nibble says what the controlling
//!   station asks (1 select file, 2 request file, 3 deactivate file, 4 delete file, 5 select
//!   section, 6 request section, 7 deactivate section).

use super::{AsduHeader, ASDU_HEADER, IOA_LEN};
use crate::protocols::Direction;
use otwatch_common::observation::Details;

/// The type's name and description (101 §7.2.1.1).
fn type_name(type_id: u8) -> Option<&'static str> {
    Some(match type_id {
        103 => "C_CS_NA_1 clock synchronization",
        105 => "C_RP_NA_1 reset process",
        106 => "C_CD_NA_1 delay acquisition",
        110 => "P_ME_NA_1 parameter of measured value, normalized value",
        111 => "P_ME_NB_1 parameter of measured value, scaled value",
        112 => "P_ME_NC_1 parameter of measured value, short floating point number",
        113 => "P_AC_NA_1 parameter activation",
        120 => "F_FR_NA_1 file ready",
        121 => "F_SR_NA_1 section ready",
        122 => "F_SC_NA_1 call directory, select file, call file, call section",
        123 => "F_LS_NA_1 last section, last segment",
        124 => "F_AF_NA_1 ack file, ack section",
        125 => "F_SG_NA_1 segment",
        126 => "F_DR_TA_1 directory",
        127 => "F_SC_NB_1 query log",
        _ => return None,
    })
}

/// The evidence of an ASDU of a type that changes the station or moves a file, travelling
/// `dir`; empty for other types. `asdu` is the whole ASDU, its length already checked
/// against its type and count.
pub(super) fn details(h: &AsduHeader, asdu: &[u8], dir: Direction) -> Details {
    let Some(name) = type_name(h.type_id) else {
        return Vec::new();
    };
    // The first object's element (after its address; with SQ=1 the address comes once).
    let element = asdu.get(ASDU_HEADER + IOA_LEN..).unwrap_or_default();
    let ioa = match asdu.get(ASDU_HEADER..ASDU_HEADER + IOA_LEN) {
        Some(&[a, b, c]) => Some(u32::from_le_bytes([a, b, c, 0])),
        _ => None,
    };
    let mut d = Vec::with_capacity(4);
    match h.type_id {
        105 => {
            let qrp = element.first().copied();
            let meaning = match qrp {
                Some(1) => " (qualifier 1 general reset)",
                Some(2) => " (qualifier 2 reset of pending information with time tag)",
                _ => "",
            };
            d.push(("service", format!("{name}{meaning}")));
            d.extend(qrp.map(|q| ("value", q.to_string())));
        }
        103 => {
            d.push(("service", name.to_string()));
            d.push(("setting", "clock".to_string()));
            d.extend(cp56time2a(element).map(|t| ("value", t)));
        }
        110..=113 => {
            d.push(("service", name.to_string()));
            d.push(("setting", "parameters".to_string()));
            d.extend(parameter_value(h.type_id, element).map(|v| ("value", v)));
        }
        120..=127 => {
            d.push(("service", name.to_string()));
            let nof = match element {
                [a, b, ..] => Some(u16::from_le_bytes([*a, *b])),
                _ => None,
            };
            if let (Some(nof), Some(ioa)) = (nof, ioa) {
                d.push(("file", format!("file {nof} of IOA {ioa}")));
            }
            d.extend(file_op(h.type_id, element, dir).map(|o| ("file_op", o.to_string())));
        }
        _ => d.push(("service", name.to_string())),
    }
    d
}

/// What a file-transfer ASDU does with its file. The controlling station (the 104 client)
/// selects, requests and deletes with F_SC_NA_1; a file is written to the station when its
/// ready, section and segment ASDUs come from the controlling station, and read from it when
/// they come from the station (101 §7.4.11, transfer in control and monitor direction).
fn file_op(type_id: u8, element: &[u8], dir: Direction) -> Option<&'static str> {
    let moving = if dir == Direction::ToServer {
        "write"
    } else {
        "read"
    };
    match type_id {
        120 | 121 | 123 | 125 => Some(moving),
        122 => match element.get(3)? & 0x0f {
            1 | 5 => Some("open"),
            2 | 6 => Some("read"),
            3 | 7 => Some("close"),
            4 => Some("delete"),
            _ => None,
        },
        127 => Some("read"),
        // F_AF_NA_1 acknowledges, F_DR_TA_1 lists.
        _ => None,
    }
}

/// A CP56Time2a as local station time, "2024-03-01T12:30:05.250"; `None` when a field is
/// out of range.
pub(super) fn cp56time2a(b: &[u8]) -> Option<String> {
    let &[ms0, ms1, min, hour, day, month, year, ..] = b else {
        return None;
    };
    let ms = u16::from_le_bytes([ms0, ms1]);
    let (min, hour, day, month, year) = (
        min & 0x3f,
        hour & 0x1f,
        day & 0x1f,
        month & 0x0f,
        year & 0x7f,
    );
    if ms > 59_999
        || min > 59
        || hour > 23
        || !(1..=31).contains(&day)
        || !(1..=12).contains(&month)
        || year > 99
    {
        return None;
    }
    Some(format!(
        "{:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{:02}.{:03}",
        2000 + u16::from(year),
        ms / 1000,
        ms % 1000
    ))
}

/// The value a parameter ASDU loads (101 §7.2.6.6-8: NVA normalized to [-1, 1), SVA,
/// IEEE 754 short float), or the QPA of a parameter activation.
fn parameter_value(type_id: u8, e: &[u8]) -> Option<String> {
    Some(match (type_id, e) {
        (110, [a, b, ..]) => {
            let v = f64::from(i16::from_le_bytes([*a, *b])) / 32768.0;
            format!("{v}")
        }
        (111, [a, b, ..]) => i16::from_le_bytes([*a, *b]).to_string(),
        (112, [a, b, c, d, ..]) => format!("{}", f32::from_le_bytes([*a, *b, *c, *d])),
        (113, [qpa, ..]) => format!("qualifier {qpa}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp56time2a_is_read_field_by_field() {
        // 12:30:05.250 on 1 March 2024 (Friday), the invalid and summer-time bits set.
        let t = [0x82, 0x14, 0x80 | 30, 0x80 | 12, (5 << 5) | 1, 3, 24];
        assert_eq!(cp56time2a(&t).as_deref(), Some("2024-03-01T12:30:05.250"));
        assert_eq!(cp56time2a(&[0x60, 0xea, 0, 0, 1, 1, 0]), None); // 60000 ms
        assert_eq!(cp56time2a(&[0, 0, 0, 0, 0, 1, 0]), None); // day 0
        assert_eq!(cp56time2a(&[0, 0, 0]), None);
    }
}
