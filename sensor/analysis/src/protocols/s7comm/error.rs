//! Why S7comm traffic is malformed: every violation the dissector reports, from the TPKT
//! (RFC 1006) and COTP (X.224) framing up to S7comm and S7comm-plus PDUs.

/// Why S7comm (or its ISO-on-TCP framing) is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum S7Error {
    #[error("not a TPKT header (RFC 1006: version 3, reserved 0)")]
    NotTpkt,
    #[error("TPKT length shorter than a COTP header")]
    TpktLength,
    #[error("empty COTP TPDU")]
    EmptyTpdu,
    #[error("COTP length indicator exceeds the TPKT")]
    CotpLength,
    #[error("COTP header without a TPDU code")]
    NoTpduCode,
    #[error("COTP connection TPDU shorter than its fixed part")]
    ConnectShort,
    #[error("COTP DT length indicator is not 2 (class 0)")]
    DtLength,
    #[error("COTP TPDU type not used by ISO-on-TCP class 0")]
    TpduType,
    #[error("COTP data is neither S7comm (0x32) nor S7comm-plus (0x72)")]
    NotS7,
    #[error("S7comm header truncated")]
    HeaderTruncated,
    #[error("unknown S7comm ROSCTR")]
    Rosctr,
    #[error("S7comm parameter and data lengths disagree with the PDU length")]
    Lengths,
    #[error("S7comm job without a function code")]
    NoFunction,
    #[error("S7comm userdata parameter shorter than 8 bytes")]
    UserdataShort,
    #[error("S7comm-plus header truncated")]
    PlusHeaderTruncated,
    #[error("S7comm-plus data length exceeds the PDU")]
    PlusLength,
    #[error("S7comm-plus trailer malformed")]
    PlusTrailer,
}
