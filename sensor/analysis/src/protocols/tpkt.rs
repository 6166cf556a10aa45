//! ISO transport on TCP, as S7comm and RDP ride on it: RFC 1006 §6 TPKT framing and the
//! ISO 8073 / ITU-T X.224 class 0 TPDU codes inside it.

use super::framing::Framing;

/// RFC 1006 §6: version 3, reserved 0, 16-bit length including this 4-byte header.
pub const VERSION: u8 = 3;
pub const HEADER: usize = 4;
/// The header plus the 3-byte class 0 DT header (X.224 §13.7): the shortest useful TPKT.
pub const MIN_LEN: usize = 7;

/// X.224 §13.1 table 8: TPDU codes (high nibble; CR/CC carry the credit in the low one).
pub const CR: u8 = 0xe0;
pub const CC: u8 = 0xd0;
pub const DR: u8 = 0x80;
pub const DC: u8 = 0xc0;
pub const DT: u8 = 0xf0;
pub const ER: u8 = 0x70;

/// Why the bytes at the start of a stream are not a TPKT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpktError {
    /// Not version 3 with reserved 0.
    NotTpkt,
    /// A length shorter than [`MIN_LEN`].
    Length,
}

/// Frames the TPKT at the start of a byte stream (RFC 1006 §6); its TPDU is
/// `data[HEADER..len]` ([`tpdu`]).
pub fn frame(data: &[u8]) -> Framing<TpktError> {
    match data {
        [] | [VERSION] | [VERSION, 0] | [VERSION, 0, _] => Framing::Incomplete { needed: HEADER },
        [VERSION, 0, hi, lo, ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if len < MIN_LEN {
                return Framing::broken(1, TpktError::Length);
            }
            if data.len() >= len {
                Framing::Complete { len }
            } else {
                Framing::Incomplete { needed: len }
            }
        }
        _ => Framing::broken(1, TpktError::NotTpkt),
    }
}

/// The TPDU of a TPKT that [`frame`] found complete.
pub fn tpdu(tpkt: &[u8]) -> &[u8] {
    tpkt.get(HEADER..).unwrap_or_default()
}
