//! The evidence of DNP3 requests that change an outstation: the function's name, the file a
//! file-transfer request names and what it does with it, the time a clock write sets.
//!
//! Function names are IEEE 1815-2012 clause 4's (function code table). File objects are group
//! 70 (IEEE 1815-2012 Annex A, checked against Wireshark's packet-dnp.c, which decodes the
//! same fields in file_write.pcap, file_read.pcap and file_delete.pcap):
//! - g70v3 file command: file name offset and size (2 + 2), creation time (6), permissions
//!   (2), authentication key (4), file size (4), operational mode (2: 0 null, 1 read,
//!   2 write, 3 append), maximum block size (2), request id (2), then the name;
//! - g70v4 file command status: handle (4), file size (4), maximum block size (2), request
//!   id (2), status code (1), optional text;
//! - g70v5 file transport: handle (4), block number (4, bit 31 = last block), data;
//! - g70v7 file descriptor: name offset and size, file type (2), size (4), time (6),
//!   permissions (2), request id (2), the name.
//!
//! An open names its file; its answer gives the handle that later reads, writes and the
//! close use, so the names of open files are kept per flow (a few, only while file transfer
//! is in use). g70v2 (file authentication) carries a user name and password: never read.
//!
//! Time and date (g50v1, and g50v3 "last recorded time" of the LAN procedure): 48-bit
//! milliseconds since 1970-01-01 UTC, least significant octet first.

use super::app::function;
use crate::protocols::reader::Cursor;
use crate::protocols::text::clean;
use otwatch_common::observation::Details;
use otwatch_common::Timestamp;

/// File handles remembered per flow, and opens waiting for their answer.
const MAX_FILES: usize = 4;

/// g70 variations (Annex A).
pub const FILE_COMMAND: u8 = 3;
pub const FILE_STATUS: u8 = 4;
pub const FILE_TRANSPORT: u8 = 5;
pub const FILE_DESCRIPTOR: u8 = 7;

/// The name IEEE 1815-2012 gives a function that changes the outstation; `None` for routine
/// functions (reads, writes of data, controls, freezes, unsolicited and class settings).
pub fn service(code: u8) -> Option<&'static str> {
    use function::*;
    Some(match code {
        COLD_RESTART => "cold restart",
        WARM_RESTART => "warm restart",
        INITIALIZE_DATA => "initialize data",
        INITIALIZE_APPLICATION => "initialize application",
        START_APPLICATION => "start application",
        STOP_APPLICATION => "stop application",
        SAVE_CONFIGURATION => "save configuration",
        DELAY_MEASURE => "delay measurement",
        RECORD_CURRENT_TIME => "record current time",
        OPEN_FILE => "open file",
        CLOSE_FILE => "close file",
        DELETE_FILE => "delete file",
        GET_FILE_INFO => "get file info",
        AUTHENTICATE_FILE => "authenticate file",
        ABORT_FILE => "abort file",
        ACTIVATE_CONFIG => "activate configuration",
        _ => return None,
    })
}

/// The time a g50v1/g50v3 object holds, as RFC 3339 UTC.
pub fn time_value(data: &[u8]) -> Option<String> {
    let b = data.get(..6)?;
    let ms = b
        .iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    Some(Timestamp(ms.saturating_mul(1_000_000)).rfc3339())
}

/// The name in a g70v3 or g70v7 object: both start with the name's offset and size.
fn name(object: &[u8]) -> Option<&[u8]> {
    let offset = usize::from(Cursor::at(object, 0)?.u16_le()?);
    let size = usize::from(Cursor::at(object, 2)?.u16_le()?);
    object.get(offset..offset.checked_add(size)?)
}

/// A g70 object as a file-transfer request or answer uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileObject<'a> {
    /// g70v3: the file's name, the mode asked and the id the answer will echo.
    Command {
        name: Option<&'a [u8]>,
        mode: u16,
        request_id: u16,
    },
    /// g70v4: the handle an open was given (or a close names), with the request id.
    Status { handle: u32, request_id: u16 },
    /// g70v5: file data of a handle.
    Transport { handle: u32 },
    /// g70v7: a file's description, with its name.
    Descriptor { name: Option<&'a [u8]> },
}

impl<'a> FileObject<'a> {
    /// Reads the g70 object of `variation`; `None` for the others (authentication included)
    /// and for objects too short for their fields.
    pub fn parse(variation: u8, object: &'a [u8]) -> Option<FileObject<'a>> {
        Some(match variation {
            FILE_COMMAND => FileObject::Command {
                name: name(object),
                mode: Cursor::at(object, 20)?.u16_le()?,
                request_id: Cursor::at(object, 24)?.u16_le()?,
            },
            FILE_STATUS => FileObject::Status {
                handle: Cursor::at(object, 0)?.u32_le()?,
                request_id: Cursor::at(object, 10)?.u16_le()?,
            },
            FILE_TRANSPORT => FileObject::Transport {
                handle: Cursor::at(object, 0)?.u32_le()?,
            },
            FILE_DESCRIPTOR => FileObject::Descriptor { name: name(object) },
            _ => return None,
        })
    }
}

/// The names of the files open on a flow, by handle.
#[derive(Default)]
pub struct Files {
    /// Opens sent, waiting for the handle: request id and name.
    pending: Vec<(u16, String)>,
    /// Handles given by the outstation, with the name they were opened under.
    open: Vec<(u32, String)>,
}

impl Files {
    /// The evidence of a file-transfer request (function `code`) whose first g70 object is
    /// `file`: service, file name, and what happens to the file.
    pub fn request(&mut self, code: u8, file: Option<FileObject<'_>>) -> Details {
        let mut details = Details::new();
        let (service, op) = match code {
            function::READ => ("read file data", Some("read")),
            function::WRITE => ("write file data", Some("write")),
            _ => (service(code).unwrap_or("file transfer"), None),
        };
        details.push(("service", service.to_string()));
        let (name, op) = match (code, file) {
            (
                function::OPEN_FILE,
                Some(FileObject::Command {
                    name,
                    mode,
                    request_id,
                }),
            ) => {
                let name = name.and_then(clean);
                if let Some(n) = &name {
                    push_capped(&mut self.pending, (request_id, n.clone()));
                }
                // Append writes too.
                let op = match mode {
                    1 => "read",
                    2 | 3 => "write",
                    _ => "open",
                };
                (name, Some(op))
            }
            (function::DELETE_FILE, Some(FileObject::Command { name, .. })) => {
                (name.and_then(clean), Some("delete"))
            }
            (function::GET_FILE_INFO, Some(FileObject::Descriptor { name })) => {
                (name.and_then(clean), None)
            }
            (
                function::CLOSE_FILE | function::ABORT_FILE,
                Some(FileObject::Status { handle, .. }),
            ) => {
                let at = self.open.iter().position(|(h, _)| *h == handle);
                (at.map(|i| self.open.remove(i).1), Some("close"))
            }
            (_, Some(FileObject::Transport { handle })) => (self.name_of(handle), op),
            _ => (None, op),
        };
        details.extend(name.map(|n| ("file", n)));
        details.extend(op.map(|o| ("file_op", o.to_string())));
        details
    }

    /// An outstation's answer: a g70v4 status binds the handle to the name its open asked.
    pub fn response(&mut self, file: Option<FileObject<'_>>) {
        let Some(FileObject::Status { handle, request_id }) = file else {
            return;
        };
        if let Some(i) = self.pending.iter().position(|(id, _)| *id == request_id) {
            let (_, name) = self.pending.remove(i);
            self.open.retain(|(h, _)| *h != handle);
            push_capped(&mut self.open, (handle, name));
        }
    }

    fn name_of(&self, handle: u32) -> Option<String> {
        self.open
            .iter()
            .find(|(h, _)| *h == handle)
            .map(|(_, n)| n.clone())
    }
}

/// Pushes, dropping the oldest entry at [`MAX_FILES`].
fn push_capped<T>(v: &mut Vec<T>, item: T) {
    if v.len() >= MAX_FILES {
        v.remove(0);
    }
    v.push(item);
}
