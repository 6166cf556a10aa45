//! The evidence of device-changing S7comm requests: block names, PI services, the clock value
//! a client sets, and the SHA-256 of a block's load-memory image as it is downloaded.
//!
//! Layouts follow Wireshark's packet-s7comm.c (Thomas Wiens), read to learn the wire format:
//! - block file names (`s7comm_decode_plc_controls_filename`): `_` (complete module), the
//!   block type as two hex digits (08 OB, 0A DB, 0B SDB, 0C FC, 0D SFC, 0E FB, 0F SFB), the
//!   block number in five digits and the destination file system (P passive, A active);
//! - upload and download jobs (`s7comm_decode_plc_controls_updownload`): function, function
//!   status (bit 0: more data follows), two unknown bytes, four more (the upload id), the file
//!   name length and the file name;
//! - the data of a download-block answer: a 16-bit length, two unknown bytes (0x00FB), then
//!   that many bytes of the block;
//! - PI service jobs (`s7comm_decode_pi_service`): function, seven unknown bytes, a 16-bit
//!   parameter block length and the block, a 1-byte name length and the service name; the
//!   block of `_INSE`/`_DELE` is a block count, one unknown byte and 8-character file names
//!   (the file name without its `_`); PI service names from its `pi_service_names` table;
//! - the S7 timestamp (`s7comm_add_timestamp_to_tree`): reserved, century and year (BCD),
//!   month, day, hour, minute, second, then three BCD digits of milliseconds and a weekday
//!   nibble.

use crate::protocols::text::{clean, is_tidy_ascii};
use otwatch_common::link::hex;
use otwatch_common::observation::{Details, Observation, Operation};
use ring::digest::{Context, SHA256};

/// Job functions (packet-s7comm.h S7COMM_FUNC*).
pub(super) const REQUEST_DOWNLOAD: u8 = 0x1a;
pub(super) const DOWNLOAD_BLOCK: u8 = 0x1b;
pub(super) const DOWNLOAD_ENDED: u8 = 0x1c;
pub(super) const START_UPLOAD: u8 = 0x1d;
pub(super) const UPLOAD: u8 = 0x1e;
pub(super) const END_UPLOAD: u8 = 0x1f;
pub(super) const PI_SERVICE: u8 = 0x28;
pub(super) const PLC_STOP: u8 = 0x29;

/// Block names reported from one `_INSE`/`_DELE` job.
const MAX_BLOCKS: usize = 8;
/// Longest file name kept to recognise the blocks of one download.
const MAX_FILE_NAME: usize = 32;

/// The block a file name names: "OB1", "DB10", "SDB2000". A name of another form (Sinumerik
/// files) is reported as its text.
pub(super) fn block_name(file: &[u8]) -> Option<String> {
    let name = file.strip_prefix(b"_").unwrap_or(file);
    if let [t0, t1, n @ .., fs] = name {
        let kind = match [t0.to_ascii_uppercase(), t1.to_ascii_uppercase()] {
            [b'0', b'8'] => Some("OB"),
            [b'0', b'A'] => Some("DB"),
            [b'0', b'B'] => Some("SDB"),
            [b'0', b'C'] => Some("FC"),
            [b'0', b'D'] => Some("SFC"),
            [b'0', b'E'] => Some("FB"),
            [b'0', b'F'] => Some("SFB"),
            _ => None,
        };
        let number = (n.len() == 5 && n.iter().all(u8::is_ascii_digit))
            .then(|| n.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')));
        if let (Some(kind), Some(number), true) = (kind, number, fs.is_ascii_alphabetic()) {
            return Some(format!("{kind}{number}"));
        }
    }
    is_tidy_ascii(file, MAX_FILE_NAME)
        .then(|| clean(file))
        .flatten()
}

/// The file name of an upload or download job (functions 0x1A-0x1D); the upload and end
/// upload jobs (0x1E, 0x1F) carry none.
pub(super) fn job_file(param: &[u8]) -> Option<&[u8]> {
    let (&len, rest) = param.get(8..)?.split_first()?;
    rest.get(..usize::from(len)).filter(|f| !f.is_empty())
}

/// What an upload or download job is called (packet-s7comm.c `procedure_names`).
pub(super) fn updown_service(function: u8) -> &'static str {
    match function {
        REQUEST_DOWNLOAD => "request download",
        DOWNLOAD_BLOCK => "download block",
        DOWNLOAD_ENDED => "download ended",
        START_UPLOAD => "start upload",
        UPLOAD => "upload",
        _ => "end upload",
    }
}

/// A `(service, block)` evidence list.
pub(super) fn service_and_block(service: String, block: Option<String>) -> Details {
    let mut d = vec![("service", service)];
    d.extend(block.map(|b| ("block", b)));
    d
}

/// The operation and evidence of a PI service job (0x28).
pub(super) fn pi_service(param: &[u8]) -> (Operation, Details) {
    let parsed = (|| {
        let len = usize::from(u16::from_be_bytes(param.get(8..10)?.try_into().ok()?));
        let block = param.get(10..10 + len)?;
        let (&n, rest) = param.get(10 + len..)?.split_first()?;
        Some((rest.get(..usize::from(n))?, block))
    })();
    let Some((name, block)) = parsed else {
        return (Operation::Control, Vec::new());
    };
    let service = format!("PI service {}", clean(name).unwrap_or_default());
    let mut details = vec![("service", service)];
    let op = match name {
        // _INSE / _INS2: activate (insert) downloaded blocks into the running program.
        n if n.starts_with(b"_INS") => {
            blocks(block, &mut details);
            Operation::ProgramDownload
        }
        // _DELE: remove blocks.
        b"_DELE" => {
            blocks(block, &mut details);
            Operation::ProgramDelete
        }
        // P_PROGRAM in a PI job starts the CPU (warm start without argument, cold start with
        // "C "); the stop is its own function, 0x29.
        b"P_PROGRAM" => Operation::CpuStart,
        // _MODU: copy RAM to ROM, the running configuration becomes the one it boots with.
        b"_MODU" => {
            details.push(("setting", "configuration".to_string()));
            Operation::ConfigChange
        }
        // _GARB compress memory, Sinumerik _N_* services, unknown services.
        _ => Operation::Control,
    };
    (op, details)
}

/// The block names of an `_INSE`/`_DELE` parameter block: count, unknown byte, names.
fn blocks(block: &[u8], details: &mut Details) {
    let Some((&count, rest)) = block.split_first() else {
        return;
    };
    let names = rest.get(1..).unwrap_or_default().chunks_exact(8);
    for name in names.take(usize::from(count).min(MAX_BLOCKS)) {
        if let Some(b) = block_name(name) {
            details.push(("block", b));
        }
    }
}

/// The time a set-clock request sets, from its data: return code, transport size, 16-bit
/// length and the 10-byte S7 timestamp. Local PLC time, so without a zone:
/// "2016-02-08T23:08:10.000". `None` when the digits are not a valid time.
pub(super) fn set_clock_value(data: &[u8]) -> Option<String> {
    let &[_, _century, y, mo, d, h, mi, s, ms_hi, ms_lo] = data.get(4..14)? else {
        return None;
    };
    let bcd = |b: u8| (b >> 4 <= 9 && b & 0x0f <= 9).then(|| (b >> 4) * 10 + (b & 0x0f));
    let (y, mo, d, h, mi, s) = (bcd(y)?, bcd(mo)?, bcd(d)?, bcd(h)?, bcd(mi)?, bcd(s)?);
    let ms = u16::from(bcd(ms_hi)?) * 10 + u16::from(ms_lo >> 4);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    if ms_lo >> 4 > 9 {
        return None;
    }
    // packet-s7comm.c: years 90-99 are 1990-1999, 00-89 are 2000-2089.
    let year = if y >= 90 { 1900 } else { 2000 } + u16::from(y);
    Some(format!(
        "{year:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}"
    ))
}

/// The load-memory length a request download announces: after the file name, a length, one
/// unknown character, then the load-memory length and the MC7 code length as six ASCII digits
/// each (`_0800001P`, then `13`, `1`, `000332`, `000212` in tia_s300_downloadOb1.pcapng).
pub(super) fn announced_length(param: &[u8]) -> Option<u64> {
    let (&len, rest) = param.get(8..)?.split_first()?;
    let digits = rest.get(usize::from(len) + 2..usize::from(len) + 8)?;
    digits.iter().all(u8::is_ascii_digit).then(|| {
        digits
            .iter()
            .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'))
    })
}

/// One block download in progress: the PLC asks for the block in download-block jobs and the
/// client answers each with bytes of it, which are hashed as they pass (never buffered).
///
/// Captures often miss the client's empty DT TPDUs (7 bytes, no S7 data), so a gap in the
/// stream does not end a download. It is complete when it ran from request download to
/// download ended, every job had its answer, the last answer said no more data follows, and
/// the bytes add up to the load-memory length the request announced (or, when it announced
/// none, no bytes were lost at all).
pub(super) struct Download {
    /// The file name of the job that began it, to recognise the jobs that continue it.
    file: Vec<u8>,
    block: Option<String>,
    sha256: Context,
    bytes: u64,
    /// Load-memory length announced by the request download.
    expected: Option<u64>,
    /// Download-block jobs (the PLC asking) and answers (the client sending) seen.
    jobs: u32,
    answers: u32,
    /// Began with a request download (not mid-way, as after a late capture start).
    from_start: bool,
    /// The last answer said more data follows.
    more: bool,
    /// An answer was shorter than its length.
    short: bool,
    /// Bytes of the stream were lost while it ran.
    pub(super) gapped: bool,
}

impl Download {
    pub(super) fn new(file: &[u8], from_start: bool, expected: Option<u64>) -> Box<Download> {
        Box::new(Download {
            file: file.get(..MAX_FILE_NAME).unwrap_or(file).to_vec(),
            block: block_name(file),
            sha256: Context::new(&SHA256),
            bytes: 0,
            expected,
            jobs: 0,
            answers: 0,
            from_start,
            more: false,
            short: false,
            gapped: false,
        })
    }

    /// Whether a job's file name is this download's.
    pub(super) fn is_for(&self, file: &[u8]) -> bool {
        file.get(..MAX_FILE_NAME).unwrap_or(file) == self.file.as_slice()
    }

    /// A download-block job: the PLC asks for the next part.
    pub(super) fn job(&mut self) {
        self.jobs = self.jobs.saturating_add(1);
    }

    /// A download-block answer: its function status and data.
    pub(super) fn answer(&mut self, status: u8, data: &[u8]) {
        self.answers = self.answers.saturating_add(1);
        self.more = status & 0x01 != 0;
        let Some((len, rest)) = data.split_first_chunk::<2>() else {
            self.short = true;
            return;
        };
        let len = usize::from(u16::from_be_bytes(*len));
        let body = rest.get(2..).unwrap_or_default();
        let part = body.get(..len).unwrap_or(body);
        self.short |= part.len() < len;
        self.sha256.update(part);
        self.bytes += part.len() as u64;
    }

    /// The download's content as a program download: block, SHA-256 and size, and
    /// `complete=false` unless it is whole (see [`Download`]); `ended`: by download ended.
    /// Nothing when no block data was seen.
    pub(super) fn finish(self: Box<Self>, ended: bool, out: &mut Vec<Observation>) {
        if self.answers == 0 {
            return;
        }
        let sized = match self.expected {
            Some(n) => n == self.bytes,
            None => !self.gapped,
        };
        let complete = ended
            && self.from_start
            && !self.more
            && !self.short
            && self.jobs == self.answers
            && sized;
        let mut details: Details = self.block.map(|b| ("block", b)).into_iter().collect();
        details.push(("sha256", hex(self.sha256.finish().as_ref())));
        details.push(("bytes", self.bytes.to_string()));
        if !complete {
            details.push(("complete", "false".to_string()));
        }
        out.push(Observation::Operation {
            op: Operation::ProgramDownload,
            function_code: Some(u32::from(DOWNLOAD_BLOCK)),
            details,
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::testing::hex as unhex;

    #[test]
    fn block_names_decode_type_and_number() {
        // tshark: "_0800001P [OB1]", "0B02000A [SDB 2000]", "_0A00010A" DB10.
        assert_eq!(block_name(b"_0800001P").as_deref(), Some("OB1"));
        assert_eq!(block_name(b"0B02000A").as_deref(), Some("SDB2000"));
        assert_eq!(block_name(b"_0a00010A").as_deref(), Some("DB10"));
        assert_eq!(block_name(b"_0E00003P").as_deref(), Some("FB3"));
        // Other names are kept as text; binary is not.
        assert_eq!(block_name(b"_N_MPF_DIR").as_deref(), Some("_N_MPF_DIR"));
        assert_eq!(block_name(&[0x00, 0xff, 0x10]), None);
        assert_eq!(block_name(b""), None);
    }

    #[test]
    fn clock_values_are_bcd_times() {
        // snap7_s300_everything.pcapng frame 47: tshark "Feb  8, 2016 23:08:10.000".
        let data = unhex("ff09000a00191602082308100002");
        assert_eq!(
            set_clock_value(&data).as_deref(),
            Some("2016-02-08T23:08:10.000")
        );
        // Frame 46 (the read-clock answer): 14:51:37.916.
        let data = unhex("ff09000a00191602081451379162");
        assert_eq!(
            set_clock_value(&data).as_deref(),
            Some("2016-02-08T14:51:37.916")
        );
        // Not BCD, out of range, short.
        assert_eq!(
            set_clock_value(&unhex("ff09000a001916020823081a0002")),
            None
        );
        assert_eq!(
            set_clock_value(&unhex("ff09000a00191613082308100002")),
            None
        );
        assert_eq!(set_clock_value(&unhex("ff09000a0019")), None);
    }
}
