//! Why SLMP / MC protocol traffic is malformed.

/// Why an SLMP frame is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlmpError {
    #[error("not an SLMP subheader (3E 5000/D000, 4E 5400/D400)")]
    Subheader,
    #[error("SLMP 4E frame without its two fixed zero bytes, or an ASCII header that is not hexadecimal")]
    Header,
    #[error("SLMP {0} data length {1} shorter than the fixed fields after it")]
    ShortBody(&'static str, usize),
    #[error("SLMP datagram of {datagram} bytes holds a frame of {frame}")]
    DatagramLength { datagram: usize, frame: usize },
    #[error("SLMP command {command:#06x} data shorter than its fields")]
    Data { command: u16 },
}
