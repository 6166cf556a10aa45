//! Content that crosses one EtherNet/IP flow in pieces: a firmware image written through
//! Rockwell's Nonvolatile Storage object (ControlFLASH) or a file written through the File
//! object. Each piece is hashed as it passes (SHA-256, never buffered), and when the
//! transfer ends one operation reports its size and hash, so an alert can name the image.
//!
//! - Nonvolatile Storage (class 0xA1, Rockwell 1404-UM001 table G.23): Update (0x4B) carries
//!   the image size (UDINT) first; each Transfer (0x4D) carries the byte offset (UDINT) and
//!   the next piece. `EIP-FirmwareChange.pcap`: 5243 transfers of 350 bytes at consecutive
//!   offsets, 1 834 774 bytes in all, exactly the size the Update announced.
//! - File object (class 0x37, Vol. 1 §5-42): Initiate Download carries the file size and
//!   name; each Download Transfer carries a transfer number (USINT, counting up and
//!   wrapping), the packet type (0 first, 1 middle, 2 last, 3 abort, 4 first and last) and
//!   the data, followed in the last packet by a 16-bit checksum that is not file content.
//!
//! A transfer ends when the announced size has arrived (NVS), with the last packet or an
//! abort (File), when a new one starts, when the device is reset, or at a gap in the stream
//! (reported with the next message, `complete` false). A piece repeated at the same offset or
//! number (a retry) is hashed once; a missing one makes the transfer incomplete.

use super::{class, ops, service, Found, Kind};
use crate::protocols::reader::Cursor;
use otwatch_common::link::hex;
use otwatch_common::observation::{Details, Observation, Operation};
use ring::digest;

/// File Download Transfer packet types (Vol. 1 §5-42.4.5).
mod packet {
    pub const FIRST: u8 = 0;
    pub const LAST: u8 = 2;
    pub const ABORT: u8 = 3;
    pub const FIRST_AND_LAST: u8 = 4;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Nonvolatile Storage image; `next` is the next byte offset.
    Firmware,
    /// File object download; `next` is the next transfer number.
    File,
}

struct Transfer {
    content: Content,
    object: String,
    /// The file name from Initiate Download (File object only).
    file: Option<String>,
    digest: digest::Context,
    bytes: u64,
    declared: Option<u64>,
    next: u32,
    /// Pieces hashed so far (File: the first decides where numbering starts).
    pieces: u32,
    /// A piece went missing, or the start was not seen.
    holes: bool,
}

/// The transfer in progress on one flow, and one that ended at a gap and waits to be
/// reported.
#[derive(Default)]
pub struct Transfers {
    current: Option<Transfer>,
    ended: Option<Observation>,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers")
            .field("bytes", &self.current.as_ref().map(|t| t.bytes))
            .field("ended", &self.ended.is_some())
            .finish()
    }
}

impl Transfers {
    /// Looks at one request. Returns true when it was a piece of a transfer, which the
    /// caller reports no further (the ending operation stands for all of them).
    pub fn request(&mut self, f: &Found<'_>, out: &mut Vec<Observation>) -> bool {
        self.flush(out);
        let req = &f.request;
        match (f.class, req.service) {
            (Some(class::NVS), service::NVS_UPDATE) => {
                self.finish(out, false);
                let size = Cursor::new(req.data).u32_le();
                self.current = Some(Transfer::new(
                    Content::Firmware,
                    req,
                    None,
                    size.map(u64::from),
                ));
                false
            }
            (Some(class::NVS), service::NVS_TRANSFER) => {
                self.nvs_piece(f, out);
                true
            }
            (Some(class::FILE), service::FILE_INITIATE_DOWNLOAD) => {
                self.finish(out, false);
                let init = ops::initiate_download(req.data);
                let size = init.as_ref().map(|i| u64::from(i.size));
                let name = init.and_then(|i| i.name);
                self.current = Some(Transfer::new(Content::File, req, name, size));
                false
            }
            (Some(class::FILE), service::FILE_DOWNLOAD_TRANSFER) => {
                self.file_piece(f, out);
                true
            }
            _ => {
                // A reset ends whatever was being written.
                if f.kind == Kind::Op(Operation::Restart) {
                    self.finish(out, false);
                }
                false
            }
        }
    }

    /// Bytes were lost: the transfer ends here, reported with the next message.
    pub fn gap(&mut self) {
        if let Some(mut t) = self.current.take().filter(|t| t.pieces > 0) {
            t.holes = true;
            self.ended = Some(t.report(false));
        }
    }

    /// Reports a transfer that ended at a gap.
    pub fn flush(&mut self, out: &mut Vec<Observation>) {
        if let Some(o) = self.ended.take() {
            out.push(o);
        }
    }

    /// Ends the transfer; one that never carried a piece (an Update then a reset) has no
    /// content to report.
    fn finish(&mut self, out: &mut Vec<Observation>, normal_end: bool) {
        if let Some(t) = self.current.take().filter(|t| t.pieces > 0) {
            out.push(t.report(normal_end));
        }
    }

    fn nvs_piece(&mut self, f: &Found<'_>, out: &mut Vec<Observation>) {
        let mut c = Cursor::new(f.request.data);
        let Some(offset) = c.u32_le() else {
            return;
        };
        let piece = c.rest();
        if !matches!(&self.current, Some(t) if t.content == Content::Firmware) {
            self.finish(out, false);
            let mut t = Transfer::new(Content::Firmware, &f.request, None, None);
            t.next = offset;
            t.holes = offset != 0;
            self.current = Some(t);
        }
        let Some(t) = self.current.as_mut() else {
            return;
        };
        if offset < t.next {
            // A retry of a piece already hashed.
            return;
        }
        if offset > t.next {
            t.holes = true;
        }
        t.add(piece);
        t.next = offset.saturating_add(u32::try_from(piece.len()).unwrap_or(u32::MAX));
        if t.declared.is_some_and(|d| u64::from(t.next) >= d) {
            self.finish(out, true);
        }
    }

    fn file_piece(&mut self, f: &Found<'_>, out: &mut Vec<Observation>) {
        let mut c = Cursor::new(f.request.data);
        let (Some(number), Some(kind)) = (c.u8(), c.u8()) else {
            return;
        };
        if !matches!(&self.current, Some(t) if t.content == Content::File) {
            self.finish(out, false);
            let mut t = Transfer::new(Content::File, &f.request, None, None);
            t.holes = !matches!(kind, packet::FIRST | packet::FIRST_AND_LAST);
            self.current = Some(t);
        }
        let Some(t) = self.current.as_mut() else {
            return;
        };
        if kind == packet::ABORT {
            t.holes = true;
            self.finish(out, false);
            return;
        }
        let number = u32::from(number);
        if t.pieces > 0 && number == t.next.wrapping_sub(1) & 0xFF {
            return;
        }
        if t.pieces > 0 && number != t.next {
            t.holes = true;
        }
        let data = c.rest();
        // The last packet ends with the file checksum (INT), not content.
        let last = matches!(kind, packet::LAST | packet::FIRST_AND_LAST);
        let content = if last {
            data.get(..data.len().saturating_sub(2)).unwrap_or_default()
        } else {
            data
        };
        t.add(content);
        t.next = (number + 1) & 0xFF;
        if last {
            self.finish(out, true);
        }
    }
}

impl Transfer {
    fn new(
        content: Content,
        req: &super::Request<'_>,
        file: Option<String>,
        declared: Option<u64>,
    ) -> Transfer {
        // The object without the attribute or service details: what the content went to.
        let class = match content {
            Content::Firmware => class::NVS,
            Content::File => class::FILE,
        };
        let object = match ops::class_name(class) {
            Some(n) => format!("class {class:#04x} ({n})"),
            None => format!("class {class:#04x}"),
        };
        let object = match req.path.instance() {
            Some(i) => format!("{object} instance {i}"),
            None => object,
        };
        let file = file.or_else(|| {
            (content == Content::File).then(|| ops::file_instance(req.path.instance()))
        });
        Transfer {
            content,
            object,
            file,
            digest: digest::Context::new(&digest::SHA256),
            bytes: 0,
            declared,
            next: 0,
            pieces: 0,
            holes: false,
        }
    }

    fn add(&mut self, piece: &[u8]) {
        self.digest.update(piece);
        self.bytes = self.bytes.saturating_add(piece.len() as u64);
        self.pieces = self.pieces.saturating_add(1);
    }

    /// The operation that ends the transfer. Complete when it ended as its protocol ends
    /// one, nothing went missing, and the size matches what was announced.
    fn report(self, normal_end: bool) -> Observation {
        let complete = !self.holes
            && self.declared.is_none_or(|d| d == self.bytes)
            && (normal_end || self.declared == Some(self.bytes));
        let sha = hex(self.digest.finish().as_ref());
        let (op, code, service) = match self.content {
            Content::Firmware => (
                Operation::FirmwareUpdate,
                service::NVS_TRANSFER,
                ops::nvs_service(service::NVS_TRANSFER).to_owned(),
            ),
            Content::File => (
                Operation::FileTransfer,
                service::FILE_DOWNLOAD_TRANSFER,
                "Download_Transfer (File object)".to_owned(),
            ),
        };
        let mut details: Details = vec![("service", service), ("object", self.object)];
        if let Some(file) = self.file {
            details.push(("file", file));
            details.push(("file_op", "write".to_owned()));
        }
        details.push(("bytes", self.bytes.to_string()));
        details.push(("sha256", sha));
        details.push(("complete", complete.to_string()));
        Observation::Operation {
            op,
            function_code: Some(u32::from(code)),
            details,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::cip::{parse_request, walk_requests};
    use crate::protocols::testing::hex as unhex;

    /// Feeds CIP requests (hex) through one `Transfers`, returning what it reported.
    fn run(msgs: &[Vec<u8>], gap_after: Option<usize>) -> Vec<Observation> {
        let mut t = Transfers::default();
        let mut out = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let r = parse_request(m).unwrap();
            walk_requests(&r, &mut |f| {
                t.request(&f, &mut out);
            })
            .unwrap();
            if gap_after == Some(i) {
                t.gap();
            }
        }
        t.flush(&mut out);
        out
    }

    fn sha(b: &[u8]) -> String {
        hex(digest::digest(&digest::SHA256, b).as_ref())
    }

    fn nvs(offset: u32, piece: &[u8]) -> Vec<u8> {
        let mut m = unhex("4d0220a12401");
        m.extend_from_slice(&offset.to_le_bytes());
        m.extend_from_slice(piece);
        m
    }

    fn details(o: &Observation) -> &Details {
        match o {
            Observation::Operation { details, .. } => details,
            _ => panic!("{o:?}"),
        }
    }

    fn get<'a>(d: &'a Details, key: &str) -> &'a str {
        d.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v)
    }

    #[test]
    fn nvs_image_is_hashed_and_reported_when_the_announced_size_arrived() {
        // Update announcing 10 bytes (EIP-FirmwareChange.pcap frame 29 with a small size),
        // then three pieces, the second repeated (a retry).
        let update = unhex("4b0220a124010a00000000000000");
        let msgs = [
            update,
            nvs(0, b"abcd"),
            nvs(4, b"efg"),
            nvs(4, b"efg"),
            nvs(7, b"hij"),
        ];
        let out = run(&msgs, None);
        assert_eq!(out.len(), 1, "{out:?}");
        let d = details(&out[0]);
        assert_eq!(get(d, "bytes"), "10");
        assert_eq!(get(d, "sha256"), sha(b"abcdefghij"));
        assert_eq!(get(d, "complete"), "true");
        assert_eq!(
            get(d, "object"),
            "class 0xa1 (Rockwell Nonvolatile Storage) instance 1"
        );
        assert!(matches!(
            out[0],
            Observation::Operation {
                op: Operation::FirmwareUpdate,
                function_code: Some(0x4D),
                ..
            }
        ));
    }

    #[test]
    fn missing_pieces_resets_and_gaps_make_it_incomplete() {
        let update = unhex("4b0220a124010a00000000000000");
        let reset = unhex("05022001240100");
        // A piece missing, then the device is reset before the end.
        let out = run(&[update.clone(), nvs(0, b"ab"), nvs(4, b"ef"), reset], None);
        let d = details(&out[0]);
        assert_eq!(
            (get(d, "bytes"), get(d, "complete")),
            ("4", "false"),
            "{out:?}"
        );
        assert_eq!(get(d, "sha256"), sha(b"abef"));
        // A gap: reported with the next message, and what follows is a new, partial one.
        let out = run(
            &[update, nvs(0, b"ab"), nvs(2, b"cd"), nvs(6, b"gh")],
            Some(1),
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(get(details(&out[0]), "bytes"), "2");
        assert_eq!(get(details(&out[0]), "complete"), "false");
    }

    #[test]
    fn file_object_download() {
        // Initiate Download of "fw.bin" (4 bytes) on File instance 1, then a first packet
        // and a last one carrying a 2-byte checksum.
        let init = unhex("4c022037240104000000010001000165 6e 67da0400 06 66772e62696e");
        let first = unhex("5002203724010000 6162");
        let last = unhex("5002203724010102 6364 ffff");
        let out = run(&[init, first, last], None);
        assert_eq!(out.len(), 1, "{out:?}");
        let d = details(&out[0]);
        assert_eq!(get(d, "file"), "fw.bin");
        assert_eq!(get(d, "file_op"), "write");
        assert_eq!(get(d, "bytes"), "4");
        assert_eq!(get(d, "sha256"), sha(b"abcd"));
        assert_eq!(get(d, "complete"), "true");
        // An abort ends it incomplete.
        let abort = unhex("5002203724010203");
        let out = run(&[unhex("5002203724010000 6162"), abort], None);
        assert_eq!(get(details(&out[0]), "complete"), "false");
        assert_eq!(get(details(&out[0]), "file"), "instance 1");
    }
}
