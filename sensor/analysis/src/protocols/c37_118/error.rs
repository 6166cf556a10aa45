//! Why IEEE C37.118.2 traffic is malformed.

/// Why a synchrophasor frame is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum C37Error {
    #[error("frame does not start with the SYNC byte 0xAA")]
    NotSync,
    #[error("SYNC word {0:#06x} has a reserved frame type or version 0")]
    Sync(u16),
    #[error("FRAMESIZE {0} is shorter than the common header and CHK")]
    FrameSize(u16),
    #[error("FRAMESIZE {size} does not match the {datagram} bytes of the datagram")]
    Datagram { size: u16, datagram: usize },
    #[error("CHK {found:#06x} is not the CRC-CCITT {computed:#06x} of the frame")]
    Crc { found: u16, computed: u16 },
    #[error("configuration frame cut short: its PMU blocks run past FRAMESIZE")]
    ConfigTruncated,
    #[error("command frame without a CMD word")]
    CommandTruncated,
}
