//! Why MMS traffic is malformed: every violation the dissector reports, from the TPKT (RFC 1006)
//! and COTP (X.224) framing through the ISO 8327 session and ISO 8823 presentation layers to
//! ACSE and MMS PDUs (ISO 9506-2).

use crate::protocols::ber;

/// Why MMS (or the OSI stack under it) is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MmsError {
    #[error("not a TPKT header (RFC 1006: version 3, reserved 0)")]
    NotTpkt,
    #[error("TPKT length shorter than a COTP header")]
    TpktLength,
    #[error("COTP TPDU malformed or not class 0")]
    Cotp,
    #[error("session SPDU header truncated")]
    SpduTruncated,
    #[error("session SPDU length {length} does not fit the {available} bytes of the TSDU")]
    SpduLength { length: usize, available: usize },
    #[error("session parameter runs past its SPDU")]
    SessionParameter,
    #[error("unknown session SPDU type {0:#04x}")]
    SpduType(u8),
    #[error("session give tokens not followed by data transfer")]
    TokensWithoutData,
    #[error("session {0} without user data")]
    NoUserData(&'static str),
    #[error("presentation PDU is not {0}")]
    Presentation(&'static str),
    #[error("presentation data value is not single-ASN.1 or octet-aligned")]
    PresentationValue,
    #[error("ACSE APDU malformed: {0}")]
    Acse(ber::Error),
    #[error("unknown ACSE APDU tag [APPLICATION {0}]")]
    AcseTag(u32),
    #[error("MMS PDU malformed: {0}")]
    Ber(ber::Error),
    #[error("MMS PDU has trailing bytes after its end")]
    Trailing,
    #[error("unknown MMS PDU tag {0}")]
    PduTag(ber::Tag),
    #[error("MMS {0} without an invoke id")]
    NoInvokeId(&'static str),
    #[error("MMS confirmed {0} without a service")]
    NoService(&'static str),
    #[error("MMS service tag {0} is not context-specific")]
    ServiceTag(ber::Tag),
    #[error("MMS answer to invoke id {0} that was never asked")]
    Unasked(u32),
}
