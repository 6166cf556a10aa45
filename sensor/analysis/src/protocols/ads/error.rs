//! Why ADS traffic is malformed: the AMS/TCP framing, the AMS header, the ADS command bodies
//! and the UDP discovery datagrams.

/// Why an AMS packet or a discovery datagram is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdsError {
    #[error("AMS/TCP length {0} shorter than an AMS header (32 bytes)")]
    ShortPacket(u32),
    #[error("AMS/TCP length {0} longer than any ADS packet")]
    LongPacket(u32),
    #[error("AMS data length {data_len} does not fit the AMS/TCP length {length}")]
    DataLength { data_len: u32, length: u32 },
    #[error("unknown ADS command id {0}")]
    Command(u16),
    #[error("ADS {0} body shorter than its fields")]
    Body(&'static str),
    #[error("ADS answer to invoke id {0} that was never asked")]
    Unasked(u32),
    #[error("not an ADS discovery datagram (magic 03 66 14 71)")]
    NotDiscovery,
    #[error("ADS discovery header truncated")]
    DiscoveryTruncated,
    #[error("ADS discovery tag runs past the datagram")]
    Tag,
}
