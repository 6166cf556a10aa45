//! The ISO 8073 / ITU-T X.224 class 0 TPDUs that S7comm and S7comm-plus ride on, in RFC 1006
//! TPKTs: the shared reader ([`tpkt`]) with its errors in S7comm's terms.

use super::error::S7Error;
use crate::protocols::framing::Framing;

use crate::protocols::tpkt::{self, CotpError, TpktError};
pub(super) use crate::protocols::tpkt::{first_data, params, tpdu, Tpdu, CALLED_TSAP, CR};

/// Frames the TPKT at the start of a byte stream (RFC 1006 §6); its TPDU is [`tpdu`].
pub(super) fn frame(data: &[u8]) -> Framing<S7Error> {
    tpkt::frame(data).map_err(tpkt_error)
}

fn tpkt_error(e: TpktError) -> S7Error {
    match e {
        TpktError::NotTpkt => S7Error::NotTpkt,
        TpktError::Length => S7Error::TpktLength,
    }
}

/// One class 0 TPDU ([`tpkt::cotp`]).
pub(super) fn cotp(tpdu: &[u8]) -> Result<Tpdu<'_>, S7Error> {
    tpkt::cotp(tpdu).map_err(|e| match e {
        CotpError::Empty => S7Error::EmptyTpdu,
        CotpError::Length => S7Error::CotpLength,
        CotpError::NoCode => S7Error::NoTpduCode,
        CotpError::ConnectShort => S7Error::ConnectShort,
        CotpError::DtLength => S7Error::DtLength,
        CotpError::Type => S7Error::TpduType,
    })
}

/// The resync scan (after a gap or a broken header): [`tpkt::boundary`].
pub(super) fn boundary(data: &[u8]) -> Framing<S7Error> {
    tpkt::boundary(data).map_err(tpkt_error)
}
