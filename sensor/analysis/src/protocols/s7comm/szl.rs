//! SZL (System-Zustandsliste, system status list) answers: the CPU's own identity.
//!
//! A read-SZL request (userdata, CPU functions, subfunction 1) carries the SZL-ID and index
//! after the 4-byte data header (return code, transport size, length). The answer repeats ID
//! and index, then the record length, the record count and the records
//! (packet-s7comm_szl_ids.c `s7comm_decode_ud_cpu_szl_subfunc`). An answer longer than one
//! PDU is sent in fragments: the parameter's data unit reference ties them together and the
//! last-data-unit flag is 1 on every fragment but the last; only the first holds the SZL
//! header. Fragments are joined here, up to [`MAX_ANSWER`] bytes.
//!
//! Records read (packet-s7comm_szl_ids.c, `s7comm_decode_szl_id_0111_idx_0001` and the 0x001C
//! decoders; Siemens "System Software for S7-300/400 System and Standard Functions",
//! SSL-ID W#16#xy11 and W#16#xy1C):
//! - 0x0011 / 0x0111 module identification, 28-byte records: index, order number (MLFB, 20
//!   ASCII characters), module type id, then `Ausbg` and `Ausbe`. Index 1 is the module's
//!   order number → Model; index 7 (basic firmware) holds `'V'`, major in `Ausbg` and minor,
//!   patch in `Ausbe` → Firmware `Vx.y.z`.
//! - 0x001C / 0x011C component identification, 34-byte records: index and 32 bytes of text:
//!   1 automation system (PLC) name → Hostname, 2 module name → Description, 5 serial number
//!   → Serial, 7 module type name → Model when no order number was seen.

use super::{Facts, S7Dissector};
use crate::protocols::source;
use crate::protocols::text::clean;
use otwatch_common::observation::{Field, Observation, Source, Subject};

/// Longest SZL answer joined from fragments (a full 0x001C list is about 350 bytes).
const MAX_ANSWER: usize = 4096;
/// packet-s7comm.h S7COMM_ITEM_RETVAL_DATA_OK.
const RETURN_OK: u8 = 0xff;
const MODULE_ID_RECORD: usize = 28;
const COMPONENT_ID_RECORD: usize = 34;
const SOURCE_MODULE: Source = source::S7_SZL_0011;
const SOURCE_COMPONENT: Source = source::S7_SZL_001C;

/// SZL-IDs whose records identify the module: the partial lists 0x11 and 0x1C of the CPU
/// (module class bits 15..12 = 0), any extract (bits 11..8).
pub(super) fn is_identity_id(id: u16) -> bool {
    id & 0xf000 == 0 && matches!(id & 0x00ff, 0x11 | 0x1c)
}

/// The SZL-ID a read-SZL request asks for; `None` for the follow-up requests of a fragmented
/// answer, which carry no ID.
pub(super) fn requested_id(data: &[u8]) -> Option<u16> {
    match data {
        [RETURN_OK, _, _, _, hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// A fragmented answer being joined.
#[derive(Default)]
pub(super) struct Reassembly {
    /// Data unit reference of the answer in progress.
    unit: Option<u8>,
    /// Who sends it (a gap in the other direction does not break it).
    from: Option<Subject>,
    buf: Vec<u8>,
}

impl Reassembly {
    pub(super) fn reset(&mut self) {
        self.unit = None;
        self.from = None;
        self.buf.clear();
    }

    /// Bytes from `sender` were lost: an answer it was sending cannot be completed.
    pub(super) fn gap(&mut self, sender: Subject) {
        if self.from == Some(sender) {
            self.reset();
        }
    }
}

/// A read-SZL answer (`data` is the userdata data part) from `subject`.
pub(super) fn response(
    s7: &mut S7Dissector,
    subject: Subject,
    unit_ref: u8,
    more: bool,
    data: &[u8],
    out: &mut Vec<Observation>,
) {
    let [ret, _, hi, lo, rest @ ..] = data else {
        return;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let body = rest.get(..len).unwrap_or(rest);
    if *ret != RETURN_OK {
        s7.szl.reset();
        return;
    }
    if s7.szl.unit == Some(unit_ref) && s7.szl.from == Some(subject) {
        // A continuation: no SZL header, just more record bytes.
        if s7.szl.buf.len() + body.len() > MAX_ANSWER {
            s7.szl.reset();
            return;
        }
        s7.szl.buf.extend_from_slice(body);
        if !more {
            let whole = std::mem::take(&mut s7.szl.buf);
            records(&mut s7.facts, subject, &whole, out);
            s7.szl.reset();
            s7.szl.buf = whole;
            s7.szl.buf.clear();
        }
        return;
    }
    s7.szl.reset();
    if more && unit_ref != 0 {
        // First fragment: keep it only when the list is one we read.
        let wanted = matches!(body, [hi, lo, ..] if is_identity_id(u16::from_be_bytes([*hi, *lo])));
        if wanted && body.len() <= MAX_ANSWER {
            s7.szl.unit = Some(unit_ref);
            s7.szl.from = Some(subject);
            s7.szl.buf.extend_from_slice(body);
        }
        return;
    }
    records(&mut s7.facts, subject, body, out);
}

/// Reads the identity records of a whole answer: SZL-ID, index, record length, record count,
/// records.
fn records(facts: &mut Facts, subject: Subject, body: &[u8], out: &mut Vec<Observation>) {
    let [id0, id1, _, _, len0, len1, n0, n1, records @ ..] = body else {
        return;
    };
    let id = u16::from_be_bytes([*id0, *id1]);
    if !is_identity_id(id) {
        return;
    }
    let record_len = usize::from(u16::from_be_bytes([*len0, *len1]));
    let count = usize::from(u16::from_be_bytes([*n0, *n1]));
    let module = id & 0xff == 0x11;
    let (expected, source) = if module {
        (MODULE_ID_RECORD, SOURCE_MODULE)
    } else {
        (COMPONENT_ID_RECORD, SOURCE_COMPONENT)
    };
    // The record length comes from the answer: CPUs send the documented size, but emulations
    // (snap7) send shorter module records (26 bytes: no Ausbe). Anything from the index and the
    // first field up to twice the documented size is read with the length it claims.
    if !(MIN_RECORD..=2 * expected).contains(&record_len) || count == 0 {
        return;
    }
    let mut any = false;
    for rec in records.chunks_exact(record_len).take(count) {
        let [i0, i1, rest @ ..] = rec else {
            continue;
        };
        let index = u16::from_be_bytes([*i0, *i1]);
        any = true;
        if module {
            module_record(facts, subject, index, rest, out);
        } else {
            component_record(facts, subject, index, rest, out);
        }
    }
    if any {
        facts
            .seen
            .emit(out, subject, Field::Vendor, b"Siemens", source, || {
                Some("Siemens".to_string())
            });
    }
}

/// A fixed-size text field without its NUL and space padding.
fn trim_text(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| *c != 0 && *c != b' ')
        .map_or(0, |i| i + 1);
    b.get(..end).unwrap_or(&[]).trim_ascii_start()
}

/// Smallest record worth reading: the index and a 20-byte text field.
const MIN_RECORD: usize = 22;

/// One 0x0011 record after its index: MLFB (20), module type id (2), Ausbg (2), Ausbe (2).
fn module_record(
    facts: &mut Facts,
    subject: Subject,
    index: u16,
    rest: &[u8],
    out: &mut Vec<Observation>,
) {
    let Some((mlfb, tail)) = rest.split_at_checked(20) else {
        return;
    };
    match (index, tail) {
        (0x0001, _) => {
            let order = trim_text(mlfb);
            if super::super::text::is_tidy_ascii(order, 20) {
                facts.model_from_order_number = true;
                facts
                    .seen
                    .emit(out, subject, Field::Model, order, SOURCE_MODULE, || {
                        clean(order)
                    });
            }
        }
        // Basic firmware: 'V', major | minor, patch.
        (0x0007, [_, _, b'V', major, minor, patch]) => {
            let raw = [b'V', *major, *minor, *patch];
            facts
                .seen
                .emit(out, subject, Field::Firmware, &raw, SOURCE_MODULE, || {
                    Some(format!("V{major}.{minor}.{patch}"))
                });
        }
        _ => {}
    }
}

/// One 0x001C record after its index: 32 bytes, text up to the first NUL for the indices read.
fn component_record(
    facts: &mut Facts,
    subject: Subject,
    index: u16,
    rest: &[u8],
    out: &mut Vec<Observation>,
) {
    let field = match index {
        0x0001 => Field::Hostname,
        0x0002 => Field::Description,
        0x0005 => Field::Serial,
        0x0007 if !facts.model_from_order_number => Field::Model,
        _ => return,
    };
    let text = rest.split(|&b| b == 0).next().unwrap_or_default();
    facts
        .seen
        .emit(out, subject, field, text, SOURCE_COMPONENT, || clean(text));
}
