//! The ISO 8073 / ITU-T X.224 class 0 TPDUs that S7comm and S7comm-plus ride on, in RFC 1006
//! TPKTs ([`tpkt`]).

use super::error::S7Error;
use crate::protocols::framing::Framing;

use crate::protocols::tpkt::{self, TpktError, VERSION as TPKT_VERSION};
pub(super) use crate::protocols::tpkt::{tpdu, CC, CR, DC, DR, DT, ER, MIN_LEN as MIN_TPKT};

/// X.224 §13.3.4: calling and called TSAP parameter codes.
pub(super) const CALLING_TSAP: u8 = 0xc1;
pub(super) const CALLED_TSAP: u8 = 0xc2;
/// X.224 §13.7.3: EOT bit of the DT TPDU-NR byte.
pub(super) const EOT: u8 = 0x80;

/// Frames the TPKT at the start of a byte stream (RFC 1006 §6); its TPDU is [`tpdu`].
pub(super) fn frame(data: &[u8]) -> Framing<S7Error> {
    tpkt::frame(data).map_err(|e| match e {
        TpktError::NotTpkt => S7Error::NotTpkt,
        TpktError::Length => S7Error::TpktLength,
    })
}

/// One COTP TPDU (X.224 §13).
pub(super) enum Tpdu<'a> {
    /// CR or CC (code without credit) with its variable part (§13.3.4, §13.4.4).
    Connect { code: u8, params: &'a [u8] },
    /// DT (§13.7): end-of-TSDU flag and user data.
    Data { eot: bool, user: &'a [u8] },
    /// DR, DC, ER: disconnect or error, nothing to read.
    Control,
}

pub(super) fn cotp(tpdu: &[u8]) -> Result<Tpdu<'_>, S7Error> {
    let (&li, rest) = tpdu.split_first().ok_or(S7Error::EmptyTpdu)?;
    // §13.2.1: LI counts the header bytes after itself.
    let (header, user) = rest
        .split_at_checked(usize::from(li))
        .ok_or(S7Error::CotpLength)?;
    let code = *header.first().ok_or(S7Error::NoTpduCode)?;
    match code & 0xf0 {
        // §13.3.1: code, DST-REF (2), SRC-REF (2), class and options, then parameters.
        c @ (CR | CC) => {
            let params = header.get(6..).ok_or(S7Error::ConnectShort)?;
            Ok(Tpdu::Connect { code: c, params })
        }
        // §13.7.1: class 0 normal format is LI = 2, code, EOT + TPDU-NR.
        DT if li == 2 => Ok(Tpdu::Data {
            eot: header.get(1).is_some_and(|b| b & EOT != 0),
            user,
        }),
        DT => Err(S7Error::DtLength),
        DR | DC | ER => Ok(Tpdu::Control),
        _ => Err(S7Error::TpduType),
    }
}

/// The `(code, value)` parameters of a CR/CC variable part (X.224 §13.3.4: code, length,
/// value); stops at the first one that runs past the end.
pub(super) fn params(mut p: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let [code, len, rest @ ..] = p else {
            return None;
        };
        let (value, next) = rest.split_at_checked(usize::from(*len))?;
        let code = *code;
        p = next;
        Some((code, value))
    })
}

/// Well-formed parameters that include both TSAPs, as every S7 (and MMS) connection has.
pub(super) fn has_tsaps(p: &[u8]) -> bool {
    let mut used = 0usize;
    let (mut calling, mut called) = (false, false);
    for (code, value) in params(p) {
        used += 2 + value.len();
        calling |= code == CALLING_TSAP;
        called |= code == CALLED_TSAP;
    }
    used == p.len() && calling && called
}

/// The resync scan (after a gap or a broken header): a plausible class 0 DT TPKT. Passes over
/// bytes up to the next one; with none, keeps a possible header start that straddles the end.
pub(super) fn boundary(data: &[u8]) -> Framing<S7Error> {
    let found = data.windows(6).position(|w| {
        matches!(w, [TPKT_VERSION, 0, hi, lo, 2, DT]
            if usize::from(u16::from_be_bytes([*hi, *lo])) >= MIN_TPKT)
    });
    match found {
        Some(0) => frame(data),
        Some(skip) => Framing::skip(skip),
        None if data.len() > 5 => Framing::skip(data.len() - 5),
        None => Framing::Incomplete { needed: 6 },
    }
}
