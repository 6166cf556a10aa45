//! The variable items of Read Var (0x04) and Write Var (0x05) jobs, as address ranges.
//!
//! Job parameter: function, item count, then per item (packet-s7comm.c
//! `s7comm_decode_param_item`, S7COMM_SYNTAXID_S7ANY): 0x12 variable specification, its
//! length (10), syntax id 0x10 (S7ANY), transport size, length (u16, elements), DB number
//! (u16), area, address (u24: byte offset × 8 + bit; counters and timers: their number,
//! snap7 `opReadArea`). Other syntax ids (DBREAD, symbolic 1200 addressing) have no S7ANY
//! address and are left out.

use otwatch_common::observation::{Access, Observation, Operation};

/// Variable specification marker and S7ANY syntax id.
const VAR_SPEC: u8 = 0x12;
const S7ANY: u8 = 0x10;
/// Areas whose address counts items, not bits.
const COUNTERS: u8 = 0x1c;
const TIMERS: u8 = 0x1d;

/// Area name (packet-s7comm.c S7COMM_AREA_*, in the STEP 7 mnemonics) and whether the DB
/// number belongs to it.
fn area(code: u8) -> Option<(&'static str, bool)> {
    Some(match code {
        0x80 => ("P", false),
        0x81 => ("I", false),
        0x82 => ("Q", false),
        0x83 => ("M", false),
        0x84 => ("db", true),
        0x85 => ("di", true),
        0x86 => ("L", false),
        COUNTERS => ("C", false),
        TIMERS => ("T", false),
        _ => return None,
    })
}

/// Bytes per element of a transport size (packet-s7comm.c S7COMM_TRANSPORT_SIZE_*): BIT,
/// BYTE and CHAR one, WORD/INT/DATE/S5TIME two, DWORD/DINT/REAL/TOD/TIME four, DATE_AND_TIME
/// eight. Counters and timers count elements.
fn element_bytes(transport_size: u8) -> u32 {
    match transport_size {
        0x04 | 0x05 | 0x09 | 0x0c => 2,
        0x06..=0x08 | 0x0a | 0x0b => 4,
        0x0f => 8,
        _ => 1,
    }
}

/// Reports the S7ANY items of a read or write var job parameter as accesses.
pub fn report(param: &[u8], op: Operation, out: &mut Vec<Observation>) {
    let Some((&count, mut rest)) = param.get(1..).and_then(<[u8]>::split_first) else {
        return;
    };
    for _ in 0..count {
        let Some((&[spec, len], after)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let Some((item, next)) = after.split_at_checked(usize::from(len)) else {
            return;
        };
        rest = next;
        let [syntax, size, l0, l1, d0, d1, code, a0, a1, a2] = match item {
            &[s, t, l0, l1, d0, d1, c, a0, a1, a2] => [s, t, l0, l1, d0, d1, c, a0, a1, a2],
            _ => continue,
        };
        if spec != VAR_SPEC || syntax != S7ANY {
            continue;
        }
        let Some((name, numbered)) = area(code) else {
            continue;
        };
        let elements = u32::from(u16::from_be_bytes([l0, l1]));
        let address = u32::from_be_bytes([0, a0, a1, a2]);
        let (start, count) = if matches!(code, COUNTERS | TIMERS) {
            (address, elements)
        } else {
            (address >> 3, elements.saturating_mul(element_bytes(size)))
        };
        out.push(Observation::Access(Access {
            op,
            unit: None,
            area: name,
            block: numbered.then(|| u32::from(u16::from_be_bytes([d0, d1]))),
            start,
            count,
        }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::testing::hex;

    fn access(area: &'static str, block: Option<u32>, start: u32, count: u32) -> Observation {
        Observation::Access(Access {
            op: Operation::Write,
            unit: None,
            area,
            block,
            start,
            count,
        })
    }

    fn items(param: &str) -> Vec<Observation> {
        let mut out = Vec::new();
        report(&hex(param), Operation::Write, &mut out);
        out
    }

    #[test]
    fn write_var_items_are_byte_ranges_of_their_area() {
        // snap7_s300_everything.pcapng frame 53: five items (tshark s7comm.param.item.area
        // 0x83 0x81 0x82 0x1d 0x1c, transp_size 4 2 2 29 28, length 16 16 16 8 8, address
        // byte 0 / number 0).
        let param = "0505120a10040010000083000000120a10020010000081000000120a100200100000820000\
                     00120a101d000800001d000000120a101c000800001c000000";
        assert_eq!(
            items(param),
            [
                access("M", None, 0, 32),
                access("I", None, 0, 16),
                access("Q", None, 0, 16),
                access("T", None, 0, 8),
                access("C", None, 0, 8),
            ]
        );
        // wincc_s400_production.pcapng frame 76: DB131, bit at byte 8 (transp_size 1 BIT).
        assert_eq!(
            items("0501120a10010001008384000040"),
            [access("db", Some(131), 8, 1)]
        );
        // snap7_s300_everything.pcapng frame 49: one REAL at MB16.
        assert_eq!(
            items("0501120a10080001000083000080"),
            [access("M", None, 16, 4)]
        );
    }

    #[test]
    fn other_syntaxes_and_truncations_are_left_out() {
        // Syntax 0xb0 (DBREAD) has no S7ANY address.
        assert!(items("0501120a b0010001008384000040").is_empty());
        let full = hex("0505120a10040010000083000000120a10020010000081000000");
        for n in 0..full.len() {
            let mut out = Vec::new();
            report(&full[..n], Operation::Read, &mut out);
            assert!(out.len() <= 2);
        }
    }
}
