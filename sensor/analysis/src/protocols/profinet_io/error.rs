//! Why PROFINET IO traffic is malformed: every violation the dissector reports, from the
//! DCE/RPC connectionless header through the NDR header and the PNIO blocks of the Context
//! Manager to the real-time alarm PDUs.

/// Why a PROFINET IO CM datagram or RT frame is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PnioError {
    #[error("DCE/RPC header truncated: {0} octets of 80")]
    HeaderTruncated(usize),
    #[error("DCE/RPC version {0}, not 4 (connectionless)")]
    Version(u8),
    #[error("unknown DCE/RPC connectionless packet type {0}")]
    PacketType(u8),
    #[error(
        "DCE/RPC data representation {0:#04x} {1:#04x} names no known integer, character or \
         float format"
    )]
    DataRepresentation(u8, u8),
    #[error(
        "DCE/RPC fragment length {declared} runs past the {available} octets after the header"
    )]
    BodyLength { declared: u16, available: usize },
    #[error("opnum {0} is no PNIO service")]
    Opnum(u16),
    #[error("PNIO NDR header truncated")]
    NdrTruncated,
    #[error("PNIO NDR array offset {0}, not 0")]
    NdrOffset(u32),
    #[error(
        "PNIO NDR counts disagree: ArgsLength {args_len}, MaximumCount {max_count}, \
         ActualCount {actual_count}"
    )]
    NdrCounts {
        args_len: u32,
        max_count: u32,
        actual_count: u32,
    },
    #[error("PNIO NDR ArgsLength {args_len} exceeds ArgsMaximum {args_max}")]
    NdrArgsMaximum { args_max: u32, args_len: u32 },
    #[error("PNIO NDR ActualCount {declared} disagrees with the {available} octets of arguments")]
    NdrLength { declared: u32, available: usize },
    #[error("PNIO block header truncated")]
    BlockTruncated,
    #[error("PNIO block {ty:#06x} length {len} is shorter than its version")]
    BlockLength { ty: u16, len: u16 },
    #[error("PNIO block {ty:#06x} length {len} runs past the {available} octets left")]
    BlockOverrun { ty: u16, len: u16, available: usize },
    #[error("PNIO block {ty:#06x} version {high}.{low} is not 1.x")]
    BlockVersion { ty: u16, high: u8, low: u8 },
    #[error("PNIO block {0:#06x} too short for its content")]
    BlockContent(u16),
    #[error("PNIO block {found:#06x} where {expected:#06x} belongs")]
    BlockType { expected: u16, found: u16 },
    #[error("PNIO record data length {declared} runs past the {available} octets left")]
    RecordLength { declared: u32, available: usize },
    #[error("PNIO RTA PDU truncated")]
    RtaTruncated,
    #[error("PNIO RTA PDU type {0} is none of DATA, NACK, ACK, ERR")]
    RtaType(u8),
    #[error("PNIO RTA VarPartLen {declared} runs past the {available} octets of the frame")]
    RtaLength { declared: u16, available: usize },
    #[error("PROFINET cyclic frame {0:#06x} shorter than its APDU status")]
    CyclicTruncated(u16),
}
