//! Why CODESYS traffic is malformed or refused: the block driver framing, the datagram,
//! channel and service layers of V3 (see [`super::wire`] for the sources of each rule).

/// Why a CODESYS message is malformed, or what the controller refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodesysError {
    #[error("CODESYS block driver header without magic 00 01 17 e8")]
    BlockMagic,
    #[error("CODESYS block driver length {0} outside 14..=4194304")]
    BlockLength(u32),
    #[error("CODESYS datagram starts with {0:#04x}, not 0xc5")]
    DatagramMagic(u8),
    #[error("CODESYS datagram of {0} bytes is shorter than its header and addresses")]
    DatagramShort(usize),
    #[error("CODESYS datagram header length {0} words is below the fixed 3")]
    DatagramHeaderLength(u8),
    #[error("unknown CODESYS datagram service {0:#04x}")]
    DatagramService(u8),
    #[error("unknown CODESYS channel layer type {0:#04x}")]
    ChannelType(u8),
    #[error("CODESYS channel layer {0} truncated")]
    ChannelShort(&'static str),
    #[error("CODESYS service layer header truncated or with a header size below 12")]
    ServiceHeader,
    #[error("unknown CODESYS service layer protocol {0:#06x}")]
    ServiceProtocol(u16),
    #[error("CODESYS service {group:#04x}/{service:#04x} tags run past the message")]
    Tags { group: u16, service: u16 },
    #[error("CODESYS name service package truncated")]
    NameService,
}
