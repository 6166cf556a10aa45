//! SSH: the identification strings each side sends in cleartext before key exchange.
//!
//! RFC 4253 §4.2: `SSH-protoversion-softwareversion SP comments CR LF`, at most 255 bytes
//! including CR LF; the server MAY send other lines first, the client may not. Everything
//! after the identification string is binary packets and, soon, ciphertext, so each direction
//! stops after its banner.

use super::registry::ProtocolSpec;
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
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
const MAX_TEXT_CHARS: usize = 256;

fn new() -> Box<dyn Dissector> {
    Box::new(Ssh::default())
}

/// `SSH-` digits `.` digits `-`: the protoversion part of RFC 4253 §4.2.
fn probe(_dir: Direction, data: &[u8]) -> Probe {
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

#[derive(Default)]
struct Side {
    /// The banner was seen (or the direction was abandoned): ignore the rest.
    done: bool,
    pre_banner_lines: u8,
}

/// Per-flow SSH state: one banner per direction.
#[derive(Default)]
pub struct Ssh {
    client: Side,
    server: Side,
}

impl Dissector for Ssh {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        let (side, subject) = match dir {
            Direction::ToServer => (&mut self.client, Subject::Client),
            Direction::ToClient => (&mut self.server, Subject::Server),
        };
        if side.done {
            return data.len();
        }
        let mut rest = data;
        loop {
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() >= MAX_LINE {
                    violation(
                        out,
                        "line longer than 255 bytes before the identification string",
                    );
                    side.done = true;
                    return data.len();
                }
                return data.len() - rest.len();
            };
            let (line, tail) = rest.split_at(nl);
            rest = tail.get(1..).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > MAX_LINE {
                violation(
                    out,
                    "line longer than 255 bytes before the identification string",
                );
                side.done = true;
                return data.len();
            }
            if line.starts_with(b"SSH-") {
                emit_banner(subject, line, out);
                side.done = true;
                return data.len();
            }
            // RFC 4253 §4.2: only the server may send other lines first.
            if dir == Direction::ToServer || side.pre_banner_lines >= MAX_PRE_BANNER_LINES {
                violation(out, "data before the SSH identification string");
                side.done = true;
                return data.len();
            }
            side.pre_banner_lines += 1;
        }
    }

    fn gap(&mut self, dir: Direction) {
        // The banner opens the stream; after a gap there is nothing left to learn.
        match dir {
            Direction::ToServer => self.client.done = true,
            Direction::ToClient => self.server.done = true,
        }
    }
}

fn violation(out: &mut Vec<Observation>, reason: &str) {
    out.push(Observation::ProtocolViolation {
        protocol: PROTOCOL,
        reason: reason.to_string(),
    });
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
        source: "ssh banner",
    });
    if let Some(os) = banner_os(line) {
        out.push(Observation::Identity {
            subject,
            field: Field::Os,
            value: os.to_string(),
            source: "ssh banner",
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

/// Wire text as a printable owned string: lossy UTF-8, runs of whitespace and control
/// characters folded into one space, trimmed, capped at 256 characters.
// Private until protocols::text lands; then use that one.
fn wire_text(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = chars > 0;
            continue;
        }
        if chars + usize::from(pending_space) >= MAX_TEXT_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::{Endpoint, Transport};
    use otwatch_common::Timestamp;
    use std::net::{IpAddr, Ipv4Addr};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn ctx() -> FlowCtx {
        let ep = |last, port| Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            port,
            mac: None,
        };
        FlowCtx {
            client: ep(1, 49244),
            server: ep(2, 22),
            transport: Transport::Tcp,
            ts: Timestamp::ZERO,
            dst_mac: None,
        }
    }

    /// Feeds segments like the flow layer: per-direction buffers, consumed bytes drained.
    fn run(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
        let mut d = new();
        let mut pending = [Vec::new(), Vec::new()];
        let mut out = Vec::new();
        for (to_server, seg) in segs {
            let (dir, i) = if *to_server {
                (Direction::ToServer, 0)
            } else {
                (Direction::ToClient, 1)
            };
            pending[i].extend_from_slice(seg);
            let n = d.parse(dir, &pending[i], &ctx(), &mut out);
            assert!(n <= pending[i].len());
            pending[i].drain(..n);
        }
        out
    }

    fn identity(subject: Subject, field: Field, value: &str) -> Observation {
        Observation::Identity {
            subject,
            field,
            value: value.to_string(),
            source: "ssh banner",
        }
    }

    // zeek testing/btest/Traces/ssh/single-conn.pcap, tcp.stream 0: server banner (frame 4),
    // client banner (frame 6), client KEXINIT start (frame 8, first bytes).
    const SERVER_BANNER: &str = "5353482d312e39392d4f70656e5353485f332e3970310a";
    const CLIENT_BANNER: &str = "5353482d322e302d4f70656e5353485f332e382e3170310a";
    const CLIENT_KEXINIT: &str =
        "0000025c07147804f8bb207281ea50847685da5167970000003d6469666669652d68656c6c6d616e";

    #[test]
    fn banners_of_a_real_connection() {
        // tshark: ssh.protocol == "SSH-1.99-OpenSSH_3.9p1" (server), "SSH-2.0-OpenSSH_3.8.1p1".
        let out = run(&[
            (false, hex(SERVER_BANNER)),
            (true, hex(CLIENT_BANNER)),
            (true, hex(CLIENT_KEXINIT)),
        ]);
        assert_eq!(
            out,
            vec![
                identity(
                    Subject::Server,
                    Field::Description,
                    "SSH-1.99-OpenSSH_3.9p1"
                ),
                identity(
                    Subject::Client,
                    Field::Description,
                    "SSH-2.0-OpenSSH_3.8.1p1"
                ),
            ]
        );
    }

    #[test]
    fn banner_split_across_segments() {
        let b = hex(CLIENT_BANNER);
        let (a, c) = b.split_at(9);
        let out = run(&[(true, a.to_vec()), (true, c.to_vec())]);
        assert_eq!(
            out,
            vec![identity(
                Subject::Client,
                Field::Description,
                "SSH-2.0-OpenSSH_3.8.1p1"
            )]
        );
    }

    #[test]
    fn server_may_send_lines_before_its_banner() {
        let out = run(&[(
            false,
            b"Welcome\r\nSSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7\r\n".to_vec(),
        )]);
        assert_eq!(
            out,
            vec![
                identity(
                    Subject::Server,
                    Field::Description,
                    "SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7"
                ),
                identity(Subject::Server, Field::Os, "Debian"),
            ]
        );
    }

    #[test]
    fn client_must_not_send_lines_before_its_banner() {
        let out = run(&[(true, b"GET / HTTP/1.1\r\n".to_vec())]);
        assert!(matches!(
            out.as_slice(),
            [Observation::ProtocolViolation { .. }]
        ));
    }

    #[test]
    fn os_only_where_the_banner_states_it() {
        let os = |s: &str| banner_os(s.as_bytes());
        assert_eq!(os("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7"), Some("Debian"));
        assert_eq!(
            os("SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5"),
            Some("Ubuntu")
        );
        assert_eq!(os("SSH-2.0-OpenSSH_7.2 FreeBSD-20160310"), Some("FreeBSD"));
        assert_eq!(
            os("SSH-2.0-OpenSSH_7.4 NetBSD_Secure_Shell-20170419"),
            Some("NetBSD")
        );
        assert_eq!(os("SSH-2.0-OpenSSH_for_Windows_8.1"), Some("Windows"));
        assert_eq!(os("SSH-2.0-OpenSSH_3.8.1p1"), None);
        assert_eq!(os("SSH-2.0-dropbear_2019.78"), None);
        assert_eq!(os("SSH-2.0-OpenSSH_9.0 Debianish"), None);
        assert_eq!(os("SSH-2.0"), None);
    }

    #[test]
    fn probe_accepts_only_identification_strings() {
        let p = |d: &[u8]| probe(Direction::ToClient, d);
        assert_eq!(p(&hex(SERVER_BANNER)), Probe::Yes);
        assert_eq!(p(&hex(CLIENT_BANNER)), Probe::Yes);
        assert_eq!(p(b""), Probe::NeedMore);
        assert_eq!(p(b"SS"), Probe::NeedMore);
        assert_eq!(p(b"SSH-2.0"), Probe::NeedMore);
        assert_eq!(p(b"SSH-x"), Probe::No);
        assert_eq!(p(b"GET / HTTP/1.1\r\n"), Probe::No);
        assert_eq!(p(b"220 ftp ready\r\n"), Probe::No);
        assert_eq!(p(&hex(CLIENT_KEXINIT)), Probe::No);
        assert_eq!(p(b"SSH-11111111111111111111"), Probe::No);
    }

    #[test]
    fn long_lines_give_up_the_direction() {
        let out = run(&[(false, vec![b'a'; 300]), (false, hex(SERVER_BANNER))]);
        assert!(matches!(
            out.as_slice(),
            [Observation::ProtocolViolation { .. }]
        ));
    }

    #[test]
    fn truncations_and_random_bytes_never_panic() {
        let mut all = hex(SERVER_BANNER);
        all.extend(hex(CLIENT_KEXINIT));
        for cut in 0..=all.len() {
            let piece = &all[..cut];
            let _ = probe(Direction::ToServer, piece);
            for to_server in [true, false] {
                let _ = run(&[(to_server, piece.to_vec())]);
            }
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..500 {
            let len = (x % 400) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = probe(Direction::ToClient, &bytes);
            let _ = run(&[(false, bytes.clone()), (true, bytes)]);
        }
    }
}
