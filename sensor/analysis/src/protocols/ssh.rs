//! SSH: the identification strings each side sends in cleartext before key exchange.
//!
//! RFC 4253 §4.2: `SSH-protoversion-softwareversion SP comments CR LF`, at most 255 bytes
//! including CR LF; the server MAY send other lines first, the client may not. Everything
//! after the identification string is binary packets and, soon, ciphertext, so each direction
//! stops after its banner.

use super::framing::{Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::text::{self, wire_text};
use super::{violation, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "ssh",
    transport: Transport::Tcp,
    ports: &[22, 2222],
    probe,
    new,
};

const PROTOCOL: &str = "ssh";
/// RFC 4253 §4.2: the identification string is at most 255 characters including CR LF.
const MAX_LINE: usize = 255;
/// Lines a server may send before its identification string (RFC 4253 §4.2) that we skip.
const MAX_PRE_BANNER_LINES: u8 = 16;

fn new() -> Box<dyn Dissector> {
    Box::new(SshDissector::default())
}

/// `SSH-` digits `.` digits `-`: the protoversion part of RFC 4253 §4.2.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    const PREFIX: &[u8] = b"SSH-";
    let head_len = data.len().min(PREFIX.len());
    if data.get(..head_len) != PREFIX.get(..head_len) {
        return Probe::No;
    }
    // After "SSH-": major digits, '.', minor digits, '-'.
    let mut phase = 0u8; // 0: major, 1: minor
    let mut digits = 0usize;
    for &b in data.iter().skip(PREFIX.len()).take(16) {
        match (phase, b) {
            (_, b'0'..=b'9') => digits += 1,
            (0, b'.') if digits > 0 => {
                phase = 1;
                digits = 0;
            }
            (1, b'-') if digits > 0 => return Probe::Yes,
            _ => return Probe::No,
        }
    }
    if data.len() >= PREFIX.len() + 16 {
        Probe::No
    } else {
        Probe::NeedMore
    }
}

/// Why the start of an SSH stream is malformed (RFC 4253 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    #[error("line longer than 255 bytes before the identification string")]
    LineTooLong,
    #[error("data before the SSH identification string")]
    BeforeBanner,
}

#[derive(Default)]
struct Side {
    /// The banner was seen (or the direction was abandoned): ignore the rest.
    done: bool,
    pre_banner_lines: u8,
}

/// Per-flow SSH state: one banner per direction.
#[derive(Default)]
pub struct SshDissector {
    client: Side,
    server: Side,
}

impl SshDissector {
    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }
}

impl Stream for SshDissector {
    type Error = SshError;

    /// A line at a time until the banner; a line too long ends the direction.
    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<SshError> {
        let side = self.side(dir);
        if side.done {
            return Framing::skip(data.len());
        }
        match data.iter().position(|&b| b == b'\n') {
            None if data.len() < MAX_LINE => {
                return Framing::Incomplete {
                    needed: data.len() + 1,
                }
            }
            Some(nl) => {
                let line = data.get(..nl).unwrap_or_default();
                if text::without_eol(line).len() <= MAX_LINE {
                    return Framing::Complete { len: nl + 1 };
                }
            }
            None => {}
        }
        side.done = true;
        Framing::broken(data.len(), SshError::LineTooLong)
    }

    fn on_broken(&mut self, _dir: Direction, error: SshError, out: &mut Vec<Observation>) {
        out.push(violation(PROTOCOL, error));
    }

    fn on_message(
        &mut self,
        dir: Direction,
        line: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let used = line.len();
        let line = text::without_eol(line);
        let side = self.side(dir);
        if line.starts_with(b"SSH-") {
            emit_banner(dir.sender(), line, out);
            side.done = true;
        } else if dir == Direction::ToServer || side.pre_banner_lines >= MAX_PRE_BANNER_LINES {
            // RFC 4253 §4.2: only the server may send other lines first.
            self.on_broken(dir, SshError::BeforeBanner, out);
            self.side(dir).done = true;
        } else {
            side.pre_banner_lines += 1;
        }
        Some(used)
    }

    fn on_gap(&mut self, dir: Direction) {
        // The banner opens the stream; after a gap there is nothing left to learn.
        self.side(dir).done = true;
    }
}

fn emit_banner(subject: Subject, line: &[u8], out: &mut Vec<Observation>) {
    let text = wire_text(line);
    if text.is_empty() {
        return;
    }
    out.push(Observation::Identity {
        subject,
        field: Field::Description,
        value: text,
        source: source::SSH_BANNER,
    });
    if let Some(os) = banner_os(line) {
        out.push(Observation::Identity {
            subject,
            field: Field::Os,
            value: os.to_string(),
            source: source::SSH_BANNER,
        });
    }
}

/// The OS a banner states, only where the vendor's packaging says it unambiguously: Debian and
/// Ubuntu append `Debian-<pkgver>` / `Ubuntu-<pkgver>` as the RFC 4253 §4.2 comment, FreeBSD
/// `FreeBSD-<date>`, NetBSD `NetBSD_Secure_Shell-<date>`, and Microsoft's port names its
/// software `OpenSSH_for_Windows_<ver>`.
fn banner_os(line: &[u8]) -> Option<&'static str> {
    // Skip "SSH-protoversion-".
    let after_proto = line.get(4..)?;
    let dash = after_proto.iter().position(|&b| b == b'-')?;
    let software_and_comments = after_proto.get(dash + 1..)?;
    let (software, comments) = match software_and_comments.iter().position(|&b| b == b' ') {
        Some(sp) => (
            software_and_comments.get(..sp)?,
            software_and_comments.get(sp + 1..).unwrap_or_default(),
        ),
        None => (software_and_comments, &[][..]),
    };
    if software.starts_with(b"OpenSSH_for_Windows") {
        return Some("Windows");
    }
    const COMMENT_OS: &[(&[u8], &str)] = &[
        (b"Debian", "Debian"),
        (b"Ubuntu", "Ubuntu"),
        (b"Raspbian", "Raspbian"),
        (b"FreeBSD", "FreeBSD"),
        (b"NetBSD_Secure_Shell", "NetBSD"),
    ];
    COMMENT_OS.iter().find_map(|&(name, os)| {
        let after = comments.strip_prefix(name)?;
        matches!(after.first(), None | Some(b'-' | b' ')).then_some(os)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
