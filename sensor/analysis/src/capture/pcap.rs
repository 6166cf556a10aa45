//! pcap and pcapng capture files.
//!
//! [`CaptureFile`] reads either format, chosen by the magic number, through one buffer: the
//! file is read in large chunks, records are parsed in place, and each batch lends out the
//! buffer with one [`FrameMeta`] per frame. Nothing is allocated per record. A record cut by
//! the end of the buffer is moved to the front and the rest is read after it; the buffer grows
//! for a record larger than a chunk, up to [`MAX_RECORD`].
//!
//! Formats: classic pcap per draft-ietf-opsawg-pcap (here), pcapng per
//! draft-ietf-opsawg-pcapng (in `pcapng.rs`).

mod pcapng;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use otwatch_common::Timestamp;

use super::{Batch, CaptureError, FrameMeta, LinkType, PacketSource, Progress};

/// Bytes asked of the reader at a time.
const CHUNK: usize = 4 << 20;

/// Largest pcap record or pcapng block accepted; anything larger is reported as corrupt
/// rather than allocated.
pub const MAX_RECORD: usize = 64 << 20;

/// Frames per batch at most, so that the frame list stays small however large the buffer.
const MAX_BATCH_FRAMES: usize = 16_384;

/// draft-ietf-opsawg-pcap §5: a packet record larger than the snapshot length is invalid; like
/// libpcap we allow at least 262144 bytes because some writers put a smaller snaplen in the
/// header than they actually used.
const PCAP_MIN_SNAP_LIMIT: u32 = 262_144;

/// Where a parser pass over the buffer stopped. The parser leaves the position at the start of
/// the record it could not take.
enum Stop {
    /// The record at the position is incomplete: `need` bytes from there are needed.
    NeedMore { need: usize, what: &'static str },
    /// The batch holds [`MAX_BATCH_FRAMES`] frames.
    Full,
    /// The record at the position is malformed.
    Corrupt(String),
}

enum Format {
    Pcap(Pcap),
    Pcapng(pcapng::Pcapng),
}

enum State {
    Running,
    /// Frames before a fault were handed out; the error comes on the next call.
    Failed(CaptureError),
    Finished,
}

/// A pcap or pcapng capture file (or any byte stream holding one) as a [`PacketSource`].
pub struct CaptureFile {
    input: Input,
    frames: Vec<FrameMeta>,
    format: Format,
    state: State,
    total: Option<u64>,
}

/// The read side: one buffer over the byte stream.
struct Input {
    name: String,
    reader: Box<dyn Read + Send>,
    /// File data lives in `buf[..filled]`; `buf.len()` is the space available for reading.
    buf: Vec<u8>,
    filled: usize,
    /// Parse position in `buf`: every record before it has been handed out.
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
    chunk: usize,
    eof: bool,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("name", &self.input.name)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl CaptureFile {
    /// Opens a pcap or pcapng file; `progress().total` is the file size.
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: name.clone(),
            source,
        })?;
        let total = file.metadata().ok().map(|m| m.len());
        Self::with_chunk(Box::new(file), name, total, CHUNK)
    }

    /// Reads a capture from any byte stream (in-memory bytes for tests and fuzzing, a pipe).
    /// `name` is used in error messages; `total` is the stream length if known.
    pub fn from_reader(
        reader: Box<dyn Read + Send>,
        name: String,
        total: Option<u64>,
    ) -> Result<CaptureFile, CaptureError> {
        Self::with_chunk(reader, name, total, CHUNK)
    }

    /// As [`CaptureFile::from_reader`] with a chosen read size (tests use tiny ones so that
    /// records straddle the buffer end).
    fn with_chunk(
        reader: Box<dyn Read + Send>,
        name: String,
        total: Option<u64>,
        chunk: usize,
    ) -> Result<CaptureFile, CaptureError> {
        // Capping the chunk keeps every buffer offset within u32 (FrameMeta::offset).
        let chunk = chunk.clamp(1, MAX_RECORD);
        let mut input = Input {
            name,
            reader,
            buf: vec![0; chunk],
            filled: 0,
            pos: 0,
            base: 0,
            chunk,
            eof: false,
        };
        let format = input.detect()?;
        Ok(CaptureFile {
            input,
            frames: Vec::new(),
            format,
            state: State::Running,
            total,
        })
    }

    /// Ends the source with `err`: returned now if no frames are pending, else after them.
    fn fail(&mut self, err: CaptureError) -> Result<Option<Batch<'_>>, CaptureError> {
        if self.frames.is_empty() {
            self.state = State::Finished;
            Err(err)
        } else {
            self.state = State::Failed(err);
            Ok(Some(self.batch()))
        }
    }

    fn batch(&self) -> Batch<'_> {
        Batch::Buffer {
            buf: self.input.data(),
            frames: &self.frames,
        }
    }
}

impl PacketSource for CaptureFile {
    fn next_batch(&mut self) -> Result<Option<Batch<'_>>, CaptureError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Running => self.state = State::Running,
            State::Finished => return Ok(None),
            State::Failed(err) => return Err(err),
        }
        self.frames.clear();
        loop {
            let input = &mut self.input;
            let data = input.buf.get(..input.filled).unwrap_or_default();
            let stop = match &mut self.format {
                Format::Pcap(p) => p.parse(data, &mut input.pos, &mut self.frames),
                Format::Pcapng(p) => p.parse(data, &mut input.pos, &mut self.frames),
            };
            match stop {
                Stop::Full => break,
                Stop::Corrupt(detail) => {
                    let err = CaptureError::Corrupt {
                        path: input.name.clone(),
                        offset: input.offset(),
                        detail,
                    };
                    return self.fail(err);
                }
                Stop::NeedMore { need, what } => {
                    if !self.frames.is_empty() {
                        break;
                    }
                    let have = match input.fill_to(need) {
                        Ok(have) => have,
                        Err(err) => return self.fail(err),
                    };
                    if have < need {
                        // fill_to only comes up short at the end of the input.
                        if have == 0 {
                            self.state = State::Finished;
                            return Ok(None);
                        }
                        let err = CaptureError::Truncated {
                            path: input.name.clone(),
                            offset: input.offset(),
                            detail: format!(
                                "the {what} here needs {need} bytes but the file ends after {have}"
                            ),
                        };
                        return self.fail(err);
                    }
                }
            }
        }
        Ok(Some(self.batch()))
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.input.offset(),
            total: self.total,
        }
    }
}

impl Input {
    fn data(&self) -> &[u8] {
        self.buf.get(..self.filled).unwrap_or_default()
    }

    /// File offset of the parse position.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Makes `need` bytes from the parse position available if the input has them: moves the
    /// unparsed tail to the front of the buffer, grows the buffer if one record needs it, and
    /// reads until the buffer is full or the input ends. Returns the bytes available from the
    /// parse position. Only called when no batch is lent out.
    fn fill_to(&mut self, need: usize) -> Result<usize, CaptureError> {
        let have = self.filled - self.pos;
        if have >= need || self.eof {
            return Ok(have);
        }
        self.buf.copy_within(self.pos..self.filled, 0);
        self.base += self.pos as u64;
        self.pos = 0;
        self.filled = have;
        if self.buf.len() < need {
            // `need` is at most MAX_RECORD plus a record header: the parsers check first.
            self.buf.resize(need, 0);
        } else if self.buf.len() > self.chunk && need <= self.chunk && have <= self.chunk {
            // Give back the memory of a large record once it has been handed out.
            self.buf.truncate(self.chunk);
            self.buf.shrink_to_fit();
        }
        while let Some(space) = self.buf.get_mut(self.filled..).filter(|s| !s.is_empty()) {
            match self.reader.read(space) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.filled = (self.filled + n).min(self.buf.len()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        path: self.name.clone(),
                        source,
                    })
                }
            }
        }
        Ok(self.filled)
    }

    /// Reads the file header and picks the format from the magic number.
    fn detect(&mut self) -> Result<Format, CaptureError> {
        let have = self.fill_to(pcap_header::LEN)?;
        let head = self.data();
        let not_a_capture = |magic: String| CaptureError::NotACapture {
            path: self.name.clone(),
            magic,
        };
        let truncated = |need: usize, what: &str| CaptureError::Truncated {
            path: self.name.clone(),
            offset: 0,
            detail: format!("the {what} needs {need} bytes but the file has only {have}"),
        };
        if head.is_empty() {
            return Err(CaptureError::Empty {
                path: self.name.clone(),
            });
        }
        let Some(magic) = head.first_chunk::<4>() else {
            return Err(not_a_capture(hex(head)));
        };
        // draft-ietf-opsawg-pcap §4: magic 0xA1B2C3D4 (microseconds) or 0xA1B23C4D
        // (nanoseconds), written in the writer's byte order.
        let (big_endian, nanos) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            &pcapng::SHB_MAGIC => {
                // draft-ietf-opsawg-pcapng §4.1: the file starts with a Section Header Block
                // whose byte-order magic follows the type and length.
                let Some(bom) = head.get(8..12) else {
                    return Err(truncated(12, "pcapng section header"));
                };
                if pcapng::byte_order(bom).is_none() {
                    return Err(not_a_capture(hex(head.get(..12).unwrap_or_default())));
                }
                return Ok(Format::Pcapng(pcapng::Pcapng::default()));
            }
            _ => return Err(not_a_capture(hex(head.get(..16).unwrap_or(head)))),
        };
        let Some(h) = head.first_chunk::<{ pcap_header::LEN }>() else {
            return Err(truncated(pcap_header::LEN, "pcap file header"));
        };
        // §4: SnapLen at offset 16, LinkType at 20 (low 16 bits; the upper bits carry the
        // FCS length, which we do not need).
        let snaplen = u32_at(big_endian, h, pcap_header::SNAPLEN);
        let linktype = u32_at(big_endian, h, pcap_header::LINKTYPE) & 0xffff;
        self.pos = pcap_header::LEN;
        Ok(Format::Pcap(Pcap {
            big_endian,
            frac_to_ns: if nanos { 1 } else { 1000 },
            link: LinkType::from_linktype(linktype),
            max_incl: snaplen.max(PCAP_MIN_SNAP_LIMIT).min(MAX_RECORD as u32),
        }))
    }
}

/// draft-ietf-opsawg-pcap §4: the 24-byte file header.
mod pcap_header {
    pub const LEN: usize = 24;
    pub const SNAPLEN: usize = 16;
    pub const LINKTYPE: usize = 20;
}

/// Classic pcap after the file header.
struct Pcap {
    big_endian: bool,
    /// Nanoseconds per unit of the timestamp fraction (1000 for microsecond files).
    frac_to_ns: u64,
    link: LinkType,
    /// Largest acceptable captured length.
    max_incl: u32,
}

impl Pcap {
    fn parse(&self, data: &[u8], pos: &mut usize, frames: &mut Vec<FrameMeta>) -> Stop {
        // One copy of the loop per byte order, so the hot path has no byte-order branch.
        if self.big_endian {
            self.records::<true>(data, pos, frames)
        } else {
            self.records::<false>(data, pos, frames)
        }
    }

    fn records<const BE: bool>(
        &self,
        data: &[u8],
        pos: &mut usize,
        frames: &mut Vec<FrameMeta>,
    ) -> Stop {
        const HDR: usize = 16;
        let mut p = *pos;
        let stop = loop {
            if frames.len() >= MAX_BATCH_FRAMES {
                break Stop::Full;
            }
            // §5 Packet Record: Timestamp (seconds), Timestamp (micro- or nanoseconds),
            // Captured Packet Length, Original Packet Length, then the packet data.
            let Some(h) = data.get(p..).and_then(|r| r.first_chunk::<HDR>()) else {
                break Stop::NeedMore {
                    need: HDR,
                    what: "pcap record header",
                };
            };
            let secs = u32_at(BE, h, 0);
            let frac = u32_at(BE, h, 4);
            let incl = u32_at(BE, h, 8);
            let orig = u32_at(BE, h, 12);
            if incl > self.max_incl {
                break Stop::Corrupt(format!(
                    "pcap record captured length {incl} exceeds the limit of {} bytes",
                    self.max_incl
                ));
            }
            let need = HDR + incl as usize;
            if data.len() - p < need {
                break Stop::NeedMore {
                    need,
                    what: "pcap record",
                };
            }
            frames.push(FrameMeta {
                ts: Timestamp::from_secs_nanos(u64::from(secs), u64::from(frac) * self.frac_to_ns),
                link: self.link,
                // The buffer never exceeds MAX_RECORD plus a chunk (< 2^32).
                offset: (p + HDR) as u32,
                caplen: incl,
                wire_len: orig.max(incl),
                interface: 0,
                vlan: 0,
            });
            p += need;
        };
        *pos = p;
        stop
    }
}

/// The 32-bit word at `at` in `b` in the given byte order (0 past the end, which callers rule
/// out by taking fixed-size arrays, so the check folds away).
#[inline]
fn u32_at(big_endian: bool, b: &[u8], at: usize) -> u32 {
    let w = b
        .get(at..)
        .and_then(|r| r.first_chunk::<4>())
        .copied()
        .unwrap_or([0; 4]);
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}
