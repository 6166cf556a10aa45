//! ISO transport on TCP, as S7comm, MMS and RDP ride on it: RFC 1006 §6 TPKT framing and the
//! ISO 8073 / ITU-T X.224 class 0 TPDUs inside it (X.224 §13: CR, CC, DR, DC, DT, ER).
//!
//! S7comm and MMS share port 102 and the same connection set-up (a CR with calling and called
//! TSAPs, a CC); only the first DT TPDU's user data tells them apart. [`first_data`] walks a
//! direction's first TPKTs to that user data, so each protocol's probe asks the same question
//! of it.

use super::framing::Framing;
use super::Probe;

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

/// X.224 §13.3.4: calling and called TSAP parameter codes.
pub const CALLING_TSAP: u8 = 0xc1;
pub const CALLED_TSAP: u8 = 0xc2;
/// X.224 §13.7.3: EOT bit of the DT TPDU-NR byte.
pub const EOT: u8 = 0x80;

/// Why the bytes at the start of a stream are not a TPKT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpktError {
    /// Not version 3 with reserved 0.
    NotTpkt,
    /// A length shorter than [`MIN_LEN`].
    Length,
}

/// Why a TPKT's TPDU is not a well-formed class 0 TPDU (each protocol on ISO transport
/// reports it in its own error type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CotpError {
    /// No byte at all after the TPKT header.
    Empty,
    /// The length indicator runs past the TPKT.
    Length,
    /// A length indicator of 0: no TPDU code.
    NoCode,
    /// A CR or CC shorter than its fixed part.
    ConnectShort,
    /// A DT whose length indicator is not 2 (class 0 normal format).
    DtLength,
    /// A TPDU code class 0 does not use.
    Type,
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

/// One COTP TPDU (X.224 §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tpdu<'a> {
    /// CR or CC (code without credit) with its variable part (§13.3.4, §13.4.4).
    Connect { code: u8, params: &'a [u8] },
    /// DT (§13.7): end-of-TSDU flag and user data.
    Data { eot: bool, user: &'a [u8] },
    /// DR, DC, ER: disconnect or error, nothing to read.
    Control,
}

/// Reads the class 0 TPDU of a TPKT ([`tpdu`]).
pub fn cotp(tpdu: &[u8]) -> Result<Tpdu<'_>, CotpError> {
    let (&li, rest) = tpdu.split_first().ok_or(CotpError::Empty)?;
    // §13.2.1: LI counts the header bytes after itself.
    let (header, user) = rest
        .split_at_checked(usize::from(li))
        .ok_or(CotpError::Length)?;
    let code = *header.first().ok_or(CotpError::NoCode)?;
    match code & 0xf0 {
        // §13.3.1: code, DST-REF (2), SRC-REF (2), class and options, then parameters.
        c @ (CR | CC) => {
            let params = header.get(6..).ok_or(CotpError::ConnectShort)?;
            Ok(Tpdu::Connect { code: c, params })
        }
        // §13.7.1: class 0 normal format is LI = 2, code, EOT + TPDU-NR.
        DT if li == 2 => Ok(Tpdu::Data {
            eot: header.get(1).is_some_and(|b| b & EOT != 0),
            user,
        }),
        DT => Err(CotpError::DtLength),
        DR | DC | ER => Ok(Tpdu::Control),
        _ => Err(CotpError::Type),
    }
}

/// The `(code, value)` parameters of a CR/CC variable part (X.224 §13.3.4: code, length,
/// value); stops at the first one that runs past the end.
pub fn params(mut p: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
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

/// Well-formed parameters that include both TSAPs, as every S7 and MMS connection request
/// has.
pub fn has_tsaps(p: &[u8]) -> bool {
    let (well_formed, calling, called) = tsaps(p);
    well_formed && calling && called
}

/// Whether CR/CC parameters are well formed, and hold a calling and a called TSAP.
fn tsaps(p: &[u8]) -> (bool, bool, bool) {
    let mut used = 0usize;
    let (mut calling, mut called) = (false, false);
    for (code, value) in params(p) {
        used += 2 + value.len();
        calling |= code == CALLING_TSAP;
        called |= code == CALLED_TSAP;
    }
    (used == p.len(), calling, called)
}

/// The resync scan (after a gap or a broken header): a plausible class 0 DT TPKT. Passes over
/// bytes up to the next one; with none, keeps a possible header start that straddles the end.
pub fn boundary(data: &[u8]) -> Framing<TpktError> {
    let found = data.windows(6).position(|w| {
        matches!(w, [VERSION, 0, hi, lo, 2, DT]
            if usize::from(u16::from_be_bytes([*hi, *lo])) >= MIN_LEN)
    });
    match found {
        Some(0) => frame(data),
        Some(skip) => Framing::skip(skip),
        None if data.len() > 5 => Framing::skip(data.len() - 5),
        None => Framing::Incomplete { needed: 6 },
    }
}

/// The first DT TPDU's user data (and its EOT flag) in the bytes buffered for one direction of
/// a connection, for a probe: connection requests with both TSAPs, connection confirms with
/// well-formed parameters (X.224 §13.4.4: the TSAPs are optional there, and some MMS stacks
/// leave them out) and empty DTs without EOT (seen before S7comm-plus PDUs) are passed over. `Err` is the probe's answer
/// when there is no such DT (yet): `NeedMore` while what is there still looks like ISO
/// transport, `No` when it does not.
pub fn first_data(data: &[u8]) -> Result<(&[u8], bool), Probe> {
    let mut rest = data;
    loop {
        let len = match frame(rest) {
            Framing::Complete { len } => len,
            Framing::Incomplete { .. } => return Err(partial_verdict(rest)),
            Framing::Resync { .. } => return Err(Probe::No),
        };
        match cotp(tpdu(rest.get(..len).unwrap_or_default())) {
            Ok(Tpdu::Connect { code: CR, params }) if has_tsaps(params) => {}
            Ok(Tpdu::Connect { code: CC, params }) if tsaps(params).0 => {}
            Ok(Tpdu::Data {
                eot: false,
                user: [],
            }) => {}
            Ok(Tpdu::Data { eot, user }) => return Ok((user, eot)),
            _ => return Err(Probe::No),
        }
        rest = rest.get(len..).unwrap_or_default();
        if rest.is_empty() {
            return Err(Probe::NeedMore);
        }
    }
}

/// An incomplete TPKT: `NeedMore` while its start still looks like a class 0 TPDU.
fn partial_verdict(rest: &[u8]) -> Probe {
    let plausible = match rest.get(4..6) {
        Some([li, code]) => match code & 0xf0 {
            DT => *li == 2,
            CR | CC => *li >= 6,
            _ => false,
        },
        _ => true,
    };
    if plausible {
        Probe::NeedMore
    } else {
        Probe::No
    }
}
