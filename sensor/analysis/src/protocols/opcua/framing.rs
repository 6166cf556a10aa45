//! UA Connection Protocol and Secure Conversation framing (OPC 10000-6 §7.1.2, §6.7.2):
//! message types, the 8-byte header, and the checks the probe and the resynchronisation
//! after a gap rely on.

use crate::protocols::framing::Framing;
use crate::protocols::reader::Cursor;
use crate::protocols::{Direction, Probe};

/// Why OPC UA traffic is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpcUaError {
    #[error("unknown message type")]
    MessageType,
    #[error("invalid chunk type")]
    ChunkType,
    #[error("message size smaller than its header")]
    Size,
    #[error("Hello EndpointUrl overruns the message")]
    HelloUrlOverrun,
    #[error("Hello EndpointUrl longer than 4096 bytes")]
    HelloUrlLong,
    #[error("ReverseHello strings overrun the message")]
    ReverseHelloOverrun,
    #[error("OpenSecureChannel without a SecurityPolicyUri")]
    NoPolicy,
    #[error("OpenSecureChannel SecurityPolicyUri overruns the message")]
    PolicyOverrun,
}

/// MessageType (3 bytes), chunk type (1), MessageSize (UInt32): §7.1.2.2.
pub const HEADER_LEN: usize = 8;
/// Largest chunk believed when probing or resynchronising. Buffers are negotiated in
/// Hello/Acknowledge (§7.1.2.3-4); stacks default to 64 KiB and asyncua offers 2^31-1, so
/// this only rules out noise.
const MAX_PLAUSIBLE_CHUNK: u32 = 64 << 20;
/// §7.1.2.3: the EndpointUrl shall not be longer than 4096 bytes.
pub const MAX_ENDPOINT_URL: usize = 4096;
/// §6.7.2.3 SecurityPolicyUri prefix of the policies of OPC 10000-7.
pub const POLICY_PREFIX: &[u8] = b"http://opcfoundation.org/UA/SecurityPolicy#";

/// The message types of §7.1.2.2 (HEL, ACK, ERR, RHE) and §6.7.2.2 (OPN, MSG, CLO), as a
/// newtype so an unknown type survives as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType(pub [u8; 3]);

impl MessageType {
    pub const HELLO: MessageType = MessageType(*b"HEL");
    pub const ACKNOWLEDGE: MessageType = MessageType(*b"ACK");
    pub const ERROR: MessageType = MessageType(*b"ERR");
    pub const REVERSE_HELLO: MessageType = MessageType(*b"RHE");
    pub const OPEN: MessageType = MessageType(*b"OPN");
    pub const MESSAGE: MessageType = MessageType(*b"MSG");
    pub const CLOSE: MessageType = MessageType(*b"CLO");

    /// Smallest valid MessageSize, `None` for an unknown type. HEL: 5 UInt32 + String;
    /// ACK: 5 UInt32; ERR: UInt32 + String; RHE: 2 Strings; OPN: SecureChannelId, three
    /// Strings/ByteStrings, sequence header; MSG/CLO: SecureChannelId, TokenId, sequence
    /// header (§7.1.2.3-6, §6.7.2.2-4).
    fn min_size(self) -> Option<u32> {
        Some(match self {
            Self::HELLO => 32,
            Self::ACKNOWLEDGE => 28,
            Self::ERROR | Self::REVERSE_HELLO => 16,
            Self::OPEN => 32,
            Self::MESSAGE | Self::CLOSE => 24,
            _ => return None,
        })
    }

    /// Secure Conversation messages (carry a SecureChannelId and may be chunked).
    pub fn is_secure(self) -> bool {
        matches!(self, Self::OPEN | Self::MESSAGE | Self::CLOSE)
    }
}

/// A message (chunk) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: MessageType,
    pub chunk: u8,
    pub size: u32,
}

/// Bytes of one chunk looked at; the rest of a bigger chunk is passed over unread.
pub const CHUNK_PREFIX_CAP: usize = 64 << 10;

impl Header {
    /// Reads a header's fields; `None` with fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Option<Header> {
        let mut c = Cursor::new(data);
        let kind = MessageType(c.array()?);
        let chunk = c.u8()?;
        let size = c.u32_le()?;
        Some(Header { kind, chunk, size })
    }

    /// Whether the header can start a message (chunk).
    pub fn check(&self) -> Result<(), OpcUaError> {
        let Some(min) = self.kind.min_size() else {
            return Err(OpcUaError::MessageType);
        };
        // §7.1.2.2: chunk type is 'F' for HEL/ACK/ERR/RHE; §6.7.2.2: F, C or A for secure ones.
        let chunk_ok =
            self.chunk == b'F' || (self.kind.is_secure() && matches!(self.chunk, b'C' | b'A'));
        if !chunk_ok {
            return Err(OpcUaError::ChunkType);
        }
        if self.size < min {
            return Err(OpcUaError::Size);
        }
        Ok(())
    }
}

/// Frames the chunk at the start of a stream: complete once its first [`CHUNK_PREFIX_CAP`]
/// bytes are at hand (`len` is that prefix; the rest of the chunk is passed over unread).
pub fn frame(data: &[u8]) -> Framing<OpcUaError> {
    let Some(h) = Header::parse(data) else {
        return Framing::Incomplete { needed: HEADER_LEN };
    };
    if let Err(reason) = h.check() {
        return Framing::broken(1, reason);
    }
    let len = usize::try_from(h.size)
        .unwrap_or(usize::MAX)
        .min(CHUNK_PREFIX_CAP);
    if data.len() >= len {
        Framing::Complete { len }
    } else {
        Framing::Incomplete { needed: len }
    }
}

/// Whether a plausible header starts `data` (for probing and resynchronising); `channel`,
/// when known, must match a secure message's SecureChannelId.
fn plausible_header(data: &[u8], channel: Option<u32>) -> Probe {
    match Header::parse(data) {
        None => Probe::NeedMore,
        Some(h) if h.check().is_err() => Probe::No,
        Some(h) if h.size > MAX_PLAUSIBLE_CHUNK => Probe::No,
        Some(h) => match channel {
            Some(id) if h.kind.is_secure() => {
                let mut c = Cursor::new(data);
                match c.skip(HEADER_LEN).and_then(|()| c.u32_le()) {
                    None => Probe::NeedMore,
                    Some(got) if got == id || (h.kind == MessageType::OPEN && got == 0) => {
                        Probe::Yes
                    }
                    Some(_) => Probe::No,
                }
            }
            _ => Probe::Yes,
        },
    }
}

/// A client opens with Hello (or a server with ReverseHello); a server answers with
/// Acknowledge or Error; a capture that starts mid-connection shows OPN/MSG/CLO. Each must
/// carry a valid header and the fields that follow must be consistent with it.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    // (type, direction it may open a flow in, chunk types allowed)
    const STARTS: [(&[u8; 3], Option<Direction>, &[u8]); 7] = [
        (b"HEL", Some(Direction::ToServer), b"F"),
        (b"RHE", Some(Direction::ToServer), b"F"),
        (b"ACK", Some(Direction::ToClient), b"F"),
        (b"ERR", Some(Direction::ToClient), b"F"),
        (b"OPN", None, b"F"),
        (b"MSG", None, b"FCA"),
        (b"CLO", None, b"FCA"),
    ];
    let kind = data.get(..3).unwrap_or(data);
    let candidate = STARTS.iter().any(|(t, d, chunks)| {
        t.starts_with(kind)
            && d.is_none_or(|d| d == dir)
            && data.get(3).is_none_or(|c| chunks.contains(c))
    });
    if !candidate {
        return Probe::No;
    }
    let h = match plausible_header(data, None) {
        Probe::Yes => Header::parse(data),
        other => return other,
    };
    let Some(h) = h else {
        return Probe::No;
    };
    let mut c = Cursor::new(data);
    let _ = c.skip(HEADER_LEN);
    let after_header = h.size.saturating_sub(HEADER_LEN as u32);
    // A length field inside the message must fit what is left of it.
    let fits = |len: i32, used: u32| {
        len == -1 || u32::try_from(len).is_ok_and(|l| l <= after_header.saturating_sub(used))
    };
    match h.kind {
        MessageType::HELLO => {
            // ProtocolVersion (0 is the only version, §7.1.2.3), four buffer limits, URL.
            let Some(version) = c.u32_le() else {
                return Probe::NeedMore;
            };
            if version != 0 {
                return Probe::No;
            }
            if c.skip(16).is_none() {
                return Probe::NeedMore;
            }
            match c.i32_le() {
                None => Probe::NeedMore,
                Some(len) if fits(len, 24) && len <= MAX_ENDPOINT_URL as i32 => Probe::Yes,
                Some(_) => Probe::No,
            }
        }
        MessageType::ACKNOWLEDGE => match c.u32_le() {
            None => Probe::NeedMore,
            Some(0) if h.size == 28 => Probe::Yes,
            Some(_) => Probe::No,
        },
        MessageType::ERROR | MessageType::REVERSE_HELLO => {
            let first = match h.kind {
                // Error: StatusCode then Reason; ReverseHello: ServerUri first.
                MessageType::ERROR => c.skip(4).map(|()| 4),
                _ => Some(0),
            };
            match (first, c.i32_le()) {
                (Some(used), Some(len)) if fits(len, used + 4) => Probe::Yes,
                (Some(_), Some(_)) => Probe::No,
                _ => Probe::NeedMore,
            }
        }
        MessageType::OPEN => {
            // SecureChannelId, then the SecurityPolicyUri, which names an OPC UA policy.
            if c.skip(4).is_none() {
                return Probe::NeedMore;
            }
            let Some(len) = c.i32_le() else {
                return Probe::NeedMore;
            };
            if !(len > 0 && fits(len, 8) && len <= 256) {
                return Probe::No;
            }
            let rest = c.rest();
            let n = rest.len().min(POLICY_PREFIX.len());
            if rest.get(..n) != POLICY_PREFIX.get(..n) {
                Probe::No
            } else if n < POLICY_PREFIX.len() {
                Probe::NeedMore
            } else {
                Probe::Yes
            }
        }
        _ => Probe::Yes,
    }
}

/// The resync scan: the first plausible header in `data`; with none yet, keeps the bytes
/// from where one may start (a header may straddle the next delivery).
pub fn boundary(data: &[u8], channel: Option<u32>) -> Framing<OpcUaError> {
    for i in 0..data.len() {
        let at = data.get(i..).unwrap_or_default();
        match plausible_header(at, channel) {
            Probe::Yes | Probe::YesFromServer if i == 0 => return frame(data),
            Probe::Yes | Probe::YesFromServer | Probe::NeedMore if i > 0 => {
                return Framing::skip(i)
            }
            Probe::NeedMore => return Framing::Incomplete { needed: HEADER_LEN },
            _ => {}
        }
    }
    match data.len() {
        0 => Framing::Incomplete { needed: HEADER_LEN },
        n => Framing::skip(n),
    }
}
