//! Capture: the frames the analysis takes in, and the capture-file formats.
//!
//! Every source (capture files here; the sensor's AF_PACKET and AF_XDP rings) implements
//! [`PacketSource`] and hands out batches of frames borrowed from its own memory, so nothing is
//! copied between the wire (or the file) and the decoder. [`pcap`] reads pcap and pcapng from
//! any `std::io::Read`.

pub mod pcap;

pub use crate::decode::LinkType;

use otwatch_common::Timestamp;

/// Where a frame's bytes are in the batch buffer, and what the capture said about it.
#[derive(Debug, Clone, Copy)]
pub struct FrameMeta {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Offset of the first captured byte in the buffer of a [`Batch::Buffer`].
    pub offset: u32,
    /// Captured length (bytes present in the buffer).
    pub caplen: u32,
    /// Length on the wire; larger than `caplen` when the capture was sliced.
    pub wire_len: u32,
    /// Interface index (pcapng interface id; 0 for pcap and single-interface sources).
    pub interface: u32,
    /// The 802.1Q VLAN id the capture took out of the frame (AF_PACKET reports it beside the
    /// frame when the driver stripped the tag); 0 when any tag is still in the frame's bytes.
    pub vlan: u16,
}

/// One frame borrowed from a source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: &'a [u8],
    pub wire_len: u32,
    pub interface: u32,
    /// As [`FrameMeta::vlan`]: a VLAN tag the capture took out of the frame, else 0.
    pub vlan: u16,
}

/// A batch of frames borrowed from the source until the next call to
/// [`PacketSource::next_batch`].
#[derive(Debug, Clone, Copy)]
pub enum Batch<'a> {
    /// Frames at offsets into one buffer that is wholly the source's while the batch is lent:
    /// a capture file's read buffer, a TPACKET_V3 block the kernel has handed over.
    Buffer {
        buf: &'a [u8],
        frames: &'a [FrameMeta],
    },
    /// Frames lent one by one, for a source that may not lend the memory around them: the
    /// AF_XDP UMEM, whose other frames the kernel writes meanwhile.
    Frames(&'a [Frame<'a>]),
}

impl<'a> Batch<'a> {
    pub fn len(&self) -> usize {
        match self {
            Batch::Buffer { frames, .. } => frames.len(),
            Batch::Frames(frames) => frames.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frames in capture order. A meta whose range lies outside the buffer (a source bug)
    /// yields an empty frame rather than a panic.
    pub fn iter(&self) -> impl Iterator<Item = Frame<'a>> + 'a {
        match *self {
            Batch::Buffer { buf, frames } => Iter::Buffer(buf, frames.iter()),
            Batch::Frames(frames) => Iter::Frames(frames.iter()),
        }
    }
}

/// [`Batch::iter`]: one branch per frame, which the file path cannot measure.
enum Iter<'a> {
    Buffer(&'a [u8], std::slice::Iter<'a, FrameMeta>),
    Frames(std::slice::Iter<'a, Frame<'a>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Frame<'a>;

    #[inline]
    fn next(&mut self) -> Option<Frame<'a>> {
        match self {
            Iter::Buffer(buf, metas) => metas.next().map(|m| {
                let start = m.offset as usize;
                let data = buf
                    .get(start..start.saturating_add(m.caplen as usize))
                    .unwrap_or(&[]);
                Frame {
                    ts: m.ts,
                    link: m.link,
                    data,
                    wire_len: m.wire_len,
                    interface: m.interface,
                    vlan: m.vlan,
                }
            }),
            Iter::Frames(frames) => frames.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Buffer(_, metas) => metas.size_hint(),
            Iter::Frames(frames) => frames.size_hint(),
        }
    }
}

/// How far a source has got, for progress reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input consumed so far.
    pub done: u64,
    /// Total bytes of input when known (files), else `None` (live interfaces).
    pub total: Option<u64>,
}

/// Capture failures. After an error the source is finished: every frame before the bad spot
/// has already been handed out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a pcap or pcapng capture (first bytes {magic}); convert it with `editcap -F pcap` or check the file")]
    NotACapture { path: String, magic: String },
    /// No byte at all: a capture stopped before it wrote its header, or the wrong file.
    #[error(
        "{path} is empty: it holds no capture (was the capture stopped before it wrote anything?)"
    )]
    Empty { path: String },
    #[error(
        "{path} is corrupt at byte offset {offset}: {detail}; the packets before it were analysed"
    )]
    Corrupt {
        path: String,
        offset: u64,
        detail: String,
    },
    #[error("{path} is truncated at byte offset {offset}: {detail}; the packets before it were analysed (a capture cut short, e.g. by a killed tcpdump)")]
    Truncated {
        path: String,
        offset: u64,
        detail: String,
    },
}

/// A source of frames: capture files now, live interfaces later.
pub trait PacketSource {
    /// The next batch of frames; `Ok(None)` at the end of input. Frames stay valid until the
    /// next call. An error ends the source; frames before the fault were returned earlier.
    fn next_batch(&mut self) -> Result<Option<Batch<'_>>, CaptureError>;

    /// How much of the input has been consumed.
    fn progress(&self) -> Progress;
}
