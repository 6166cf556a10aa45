//! Telnet (RFC 854): the server's pre-login banner and cleartext logins.
//!
//! Both directions are NVT text interleaved with IAC commands (RFC 854 "Telnet command
//! structure"): `IAC WILL|WONT|DO|DONT option` and subnegotiations `IAC SB ... IAC SE`
//! (RFC 855), with a data byte 255 sent as `IAC IAC`. The dissector strips them byte by byte,
//! so it consumes everything it is given and keeps only a little state between calls.
//!
//! A login is recognised from the server's prompts: after text ending in `login:`,
//! `username:` or `user name:` the client's next line is the user name (clients in character
//! mode send one key per segment; the bytes are gathered until CR or LF, bounded); after a
//! `password:` prompt the client's next line is the password, which is only counted, never
//! kept, and ends the login attempt.

use super::registry::ProtocolSpec;
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "telnet",
    transport: Transport::Tcp,
    ports: &[23],
    probe,
    new,
};

const PROTOCOL: &str = "telnet";
const MAX_TEXT_CHARS: usize = 256;
/// Banner bytes kept before the first prompt.
const BANNER_CAP: usize = 512;
/// Longest user name gathered; longer input is not a user name.
const USER_CAP: usize = 128;
/// Tail of the server's current line kept for prompt matching ("user name:" plus spaces).
const PROMPT_TAIL: usize = 32;
/// A subnegotiation longer than this is malformed (RFC 855 options are short).
const MAX_SUBNEGOTIATION: usize = 4096;
/// Logins reported per flow; a brute-force session is flagged by the first few.
const MAX_LOGINS: u8 = 8;
/// Printable text the probe reads looking for a login prompt at its end.
const PROBE_TEXT: usize = 2048;
/// Plain text shorter than this without a prompt yet: the probe waits for more.
const PROBE_WAIT: usize = 128;

// RFC 854 command codes.
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

fn new() -> Box<dyn Dissector> {
    Box::new(Telnet::default())
}

/// Option negotiation at the start of either direction (`IAC WILL|WONT|DO|DONT` or `IAC SB`),
/// or a server's plain-text greeting that ends in a login prompt.
fn probe(dir: Direction, data: &[u8]) -> Probe {
    match data {
        [] | [IAC] => return Probe::NeedMore,
        [IAC, cmd, ..] if (WILL..=DONT).contains(cmd) || *cmd == SB => {
            return if data.len() >= 3 {
                Probe::Yes
            } else {
                Probe::NeedMore
            }
        }
        [IAC, ..] => return Probe::No,
        _ => {}
    }
    if dir == Direction::ToServer {
        return Probe::No;
    }
    // Greetings of other server-first text protocols (SSH, RFB, HTTP, FTP/SMTP replies).
    let other_greeting = data.starts_with(b"SSH-")
        || data.starts_with(b"RFB ")
        || data.starts_with(b"HTTP/")
        || matches!(data, [a, b, c, b' ' | b'-', ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()));
    if other_greeting {
        return Probe::No;
    }
    // A plain-text greeting that ends in a login prompt (a device that does not negotiate).
    let Some(text) = data.get(..data.len().min(PROBE_TEXT)) else {
        return Probe::No;
    };
    let printable = text
        .iter()
        .all(|&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t' | 0));
    if !printable {
        return Probe::No;
    }
    if data.len() <= PROBE_TEXT && prompt(text.trim_ascii_end()).is_some() {
        Probe::Yes
    } else if data.len() < PROBE_WAIT {
        // Short text may be a banner whose prompt is still coming.
        Probe::NeedMore
    } else {
        Probe::No
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prompt {
    User,
    Password,
}

/// Which prompt `line` (trailing blanks removed) ends with, case-insensitively.
fn prompt(line: &[u8]) -> Option<Prompt> {
    let ends = |p: &[u8]| {
        line.len() >= p.len()
            && line
                .get(line.len() - p.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(p))
    };
    if ends(b"login:") || ends(b"username:") || ends(b"user name:") {
        Some(Prompt::User)
    } else if ends(b"password:") {
        Some(Prompt::Password)
    } else {
        None
    }
}

/// RFC 854/855 command parser state, per direction.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Iac {
    #[default]
    Data,
    /// After IAC.
    Command,
    /// After IAC WILL/WONT/DO/DONT: the option byte.
    Option,
    /// Inside IAC SB ... IAC SE.
    Sub,
    /// IAC inside a subnegotiation.
    SubCommand,
}

#[derive(Default)]
struct Side {
    iac: Iac,
    sub_len: usize,
    violated: bool,
}

impl Side {
    /// Runs one byte through the command parser; returns it when it is data.
    fn byte(&mut self, b: u8, out: &mut Vec<Observation>) -> Option<u8> {
        match (self.iac, b) {
            (Iac::Data, IAC) => self.iac = Iac::Command,
            (Iac::Data, _) => return Some(b),
            (Iac::Command, IAC) => {
                self.iac = Iac::Data;
                return Some(IAC);
            }
            (Iac::Command, WILL..=DONT) => self.iac = Iac::Option,
            (Iac::Command, SB) => {
                self.iac = Iac::Sub;
                self.sub_len = 0;
            }
            // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, stray SE: two-byte commands.
            (Iac::Command, _) | (Iac::Option, _) => self.iac = Iac::Data,
            (Iac::Sub, IAC) => self.iac = Iac::SubCommand,
            (Iac::Sub, _) => {
                self.sub_len += 1;
                if self.sub_len > MAX_SUBNEGOTIATION {
                    self.violation(out, "subnegotiation longer than 4096 bytes");
                    self.iac = Iac::Data;
                }
            }
            (Iac::SubCommand, SE) => self.iac = Iac::Data,
            (Iac::SubCommand, IAC) => self.iac = Iac::Sub,
            (Iac::SubCommand, _) => {
                self.violation(out, "subnegotiation not ended by IAC SE");
                self.iac = Iac::Data;
            }
        }
        None
    }

    fn violation(&mut self, out: &mut Vec<Observation>, reason: &str) {
        if !self.violated {
            self.violated = true;
            out.push(Observation::ProtocolViolation {
                protocol: PROTOCOL,
                reason: reason.to_string(),
            });
        }
    }
}

/// A fixed-capacity byte buffer; bytes past the capacity are dropped and remembered.
struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Buf {
            bytes: [0; N],
            len: 0,
            overflow: false,
        }
    }
}

impl<const N: usize> Buf<N> {
    fn push(&mut self, b: u8) {
        match self.bytes.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// The last [`PROMPT_TAIL`] bytes of the server's current line.
#[derive(Default)]
struct Tail {
    ring: [u8; PROMPT_TAIL],
    written: usize,
}

impl Tail {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.ring.get_mut(self.written % PROMPT_TAIL) {
            *slot = b;
        }
        self.written = self.written.saturating_add(1);
    }

    fn clear(&mut self) {
        self.written = 0;
    }

    /// The kept bytes in order.
    fn ordered(&self) -> ([u8; PROMPT_TAIL], usize) {
        let mut line = [0u8; PROMPT_TAIL];
        let n = self.written.min(PROMPT_TAIL);
        let start = self.written - n;
        for (i, slot) in line.iter_mut().take(n).enumerate() {
            *slot = self
                .ring
                .get((start + i) % PROMPT_TAIL)
                .copied()
                .unwrap_or(0);
        }
        (line, n)
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Login {
    #[default]
    Idle,
    /// A user-name prompt was seen; gathering the client's line.
    AwaitUser,
    /// A password prompt was seen; counting the client's line.
    AwaitPassword,
}

/// Per-flow Telnet state.
#[derive(Default)]
pub struct Telnet {
    client: Side,
    server: Side,
    login: Login,
    line: Tail,
    banner: Buf<BANNER_CAP>,
    /// Length of `banner` up to its last line end: the prompt line is not banner.
    banner_lines_end: usize,
    banner_done: bool,
    user_input: Buf<USER_CAP>,
    pending_user: Option<String>,
    /// The client's last byte was CR, so a following LF or NUL ends nothing new.
    client_after_cr: bool,
    logins: u8,
}

impl Dissector for Telnet {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        match dir {
            Direction::ToClient => {
                let mut text = false;
                for &b in data {
                    if let Some(b) = self.server.byte(b, out) {
                        self.server_text(b);
                        text = true;
                    }
                }
                // Prompts are not followed by a line end: look at the end of each delivery
                // that carried text (a later delivery of commands only is no new prompt).
                if text {
                    self.check_prompt(out);
                }
            }
            Direction::ToServer => {
                for &b in data {
                    if let Some(b) = self.client.byte(b, out) {
                        self.client_text(b, out);
                    }
                }
            }
        }
        data.len()
    }

    fn gap(&mut self, dir: Direction) {
        match dir {
            Direction::ToClient => {
                self.server.iac = Iac::Data;
                self.line.clear();
            }
            Direction::ToServer => {
                self.client.iac = Iac::Data;
                self.user_input.clear();
            }
        }
        self.login = Login::Idle;
    }
}

impl Telnet {
    fn server_text(&mut self, b: u8) {
        if !self.banner_done {
            self.banner.push(b);
            if b == b'\n' && !self.banner.overflow {
                self.banner_lines_end = self.banner.len;
            }
        }
        match b {
            b'\r' | b'\n' => self.line.clear(),
            0 => {}
            _ => self.line.push(b),
        }
    }

    fn check_prompt(&mut self, out: &mut Vec<Observation>) {
        let (tail, n) = self.line.ordered();
        let line = tail.get(..n).unwrap_or_default().trim_ascii_end();
        let Some(p) = prompt(line) else {
            return;
        };
        self.emit_banner(out);
        match p {
            Prompt::User => {
                self.login = Login::AwaitUser;
                self.user_input.clear();
            }
            Prompt::Password => self.login = Login::AwaitPassword,
        }
        self.client_after_cr = false;
    }

    fn emit_banner(&mut self, out: &mut Vec<Observation>) {
        if self.banner_done {
            return;
        }
        self.banner_done = true;
        let banner = self
            .banner
            .as_slice()
            .get(..self.banner_lines_end)
            .unwrap_or_default();
        let text = wire_text(banner);
        if text.is_empty() {
            return;
        }
        let os = text_os(banner);
        out.push(server(Field::Description, text));
        if let Some(os) = os {
            out.push(server(Field::Os, os.to_string()));
        }
    }

    fn client_text(&mut self, b: u8, out: &mut Vec<Observation>) {
        let after_cr = std::mem::replace(&mut self.client_after_cr, b == b'\r');
        let line_end = match b {
            b'\r' => true,
            // RFC 854: CR is followed by LF or NUL; a bare LF also ends a line.
            b'\n' | 0 => {
                if after_cr {
                    return;
                }
                b == b'\n'
            }
            _ => false,
        };
        match self.login {
            Login::Idle => {}
            Login::AwaitUser if line_end => {
                if self.user_input.overflow {
                    self.login = Login::Idle;
                } else if self.user_input.len > 0 {
                    self.pending_user = Some(wire_text(self.user_input.as_slice()));
                    self.login = Login::Idle;
                }
                self.user_input.clear();
            }
            Login::AwaitUser => match b {
                // Backspace and DEL edit the line in character mode.
                0x08 | 0x7f => self.user_input.pop(),
                0 => {}
                _ => self.user_input.push(b),
            },
            Login::AwaitPassword if line_end => {
                // The password itself is never looked at: only that a line was sent.
                self.login = Login::Idle;
                let user = self.pending_user.take().unwrap_or_default();
                if self.logins < MAX_LOGINS {
                    self.logins += 1;
                    out.push(Observation::CleartextLogin {
                        user,
                        protocol: PROTOCOL,
                    });
                }
            }
            Login::AwaitPassword => {}
        }
    }
}

fn server(field: Field, value: String) -> Observation {
    Observation::Identity {
        subject: Subject::Server,
        field,
        value,
        source: "telnet banner",
    }
}

/// An OS the banner names as a whole word (not part of a host name): conservative, names only.
fn text_os(text: &[u8]) -> Option<&'static str> {
    const NAMES: &[(&[u8], &str)] = &[
        (b"Ubuntu", "Ubuntu"),
        (b"Debian", "Debian"),
        (b"Raspbian", "Raspbian"),
        (b"CentOS", "CentOS"),
        (b"Red Hat", "Red Hat"),
        (b"Fedora", "Fedora"),
        (b"FreeBSD", "FreeBSD"),
        (b"OpenBSD", "OpenBSD"),
        (b"NetBSD", "NetBSD"),
    ];
    let word_edge = |b: Option<&u8>| match b {
        None => true,
        Some(b) => !(b.is_ascii_alphanumeric() || *b == b'.' || *b == b'_'),
    };
    NAMES.iter().find_map(|&(name, os)| {
        text.windows(name.len()).enumerate().find_map(|(i, w)| {
            let before = i.checked_sub(1).and_then(|j| text.get(j));
            (w == name && word_edge(before) && word_edge(text.get(i + name.len()))).then_some(os)
        })
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
            ip: IpAddr::V4(Ipv4Addr::new(192, 168, 0, last)),
            port,
            mac: None,
        };
        FlowCtx {
            client: ep(2, 1550),
            server: ep(1, 23),
            transport: Transport::Tcp,
            ts: Timestamp::ZERO,
            dst_mac: None,
        }
    }

    /// Feeds segments like the flow layer: per-direction buffers, consumed bytes drained.
    fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
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

    fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
        let segs: Vec<(bool, Vec<u8>)> = segs.iter().map(|(d, h)| (*d, hex(h))).collect();
        run_bytes(&segs)
    }

    fn login(user: &str) -> Observation {
        Observation::CleartextLogin {
            user: user.to_string(),
            protocol: PROTOCOL,
        }
    }

    // suricata-verify tests/telnet/telnet-01/telnet.pcap, tcp.stream 0, up to the shell prompt.
    const OPENBSD_LOGIN: &[(bool, &str)] = &[
        (
            true,
            "fffd03fffb18fffb1ffffb20fffb21fffb22fffb27fffd05fffb23",
        ), // 4
        (false, "fffd25"),                                             // 5
        (true, "fffc25"),                                              // 7
        (false, "fffb03fffd18fffd1ffffd20fffd21fffd22fffa22010bfff0"), // 9
        // 10
        (
            true,
            concat!(
                "fffa1f00500020fff0fffa220301000003620304020f05000007621c08020409421a0a027f0b0215",
                "0f0211100213110000120000fff0fffd03fffa22010ffff0",
            ),
        ),
        (false, "fffd27fffb05fffd23fffb26fffd26fffd24"), // 12
        (true, "fffe26fffc26fffc24"),                    // 13
        (false, "fffa2001fff0fffa2301fff0fffa2701fff0fffa1801fff0"), // 15
        // 17
        (
            true,
            concat!(
                "fffa2000393630302c39363030fff0fffa230062616d2e7a696e672e6f72673a302e30fff0fffa27",
                "0000444953504c41590162616d2e7a696e672e6f72673a302e30fff0fffa1800787465726d2d636f",
                "6c6f72fff0",
            ),
        ),
        (false, "fffd01"),                         // 19
        (true, "fffc01"),                          // 20
        (false, "fffb01fffa2102fff0fffc01"),       // 22
        (true, "fffd01fffe01"),                    // 23
        (false, "fffa2203058000118000128000fff0"), // 25
        (
            false,
            "0d0a4f70656e4253442f6933383620286f6f662920287474797032290d0a0d0a",
        ), // 27
        (false, "6c6f67696e3a20"),                 // 29
        (true, "66616b650d0a"),                    // 31
        (false, "fffb01"),                         // 33
        (true, "fffd01"),                          // 34
        (false, "50617373776f72643a"),             // 36
        (true, "757365720d0a"),                    // 38
        (false, "0d0a"),                           // 40
        (false, "fffc01"),                         // 42
        (true, "fffe01"),                          // 43
        // 45
        (
            false,
            concat!(
                "4c617374206c6f67696e3a20536174204e6f762032372032303a31313a3433206f6e207474797032",
                "2066726f6d2062616d2e7a696e672e6f72670d0a",
            ),
        ),
        // 47
        (
            false,
            concat!(
                "5761726e696e673a206e6f204b65726265726f73207469636b657473206973737565642e0d0a4f70",
                "656e42534420322e362d6265746120284f4f46292023343a20547565204f63742031322032303a34",
                "323a33322043445420313939390d0a0d0a57656c636f6d6520746f204f70656e4253443a20546865",
                "2070726f6163746976656c792073656375726520556e69782d6c696b65206f7065726174696e6720",
                "73797374656d2e0d0a0d0a506c6561736520757365207468652073656e6462756728312920757469",
                "6c69747920746f207265706f7274206275677320696e207468652073797374656d2e0d0a4265666f",
                "7265207265706f7274696e672061206275672c20706c656173652074727920746f20726570726f64",
                "756365206974207769746820746865206c61746573740d0a76657273696f6e206f66207468652063",
                "6f64652e20205769746820627567207265706f7274732c20706c656173652074727920746f20656e",
                "7375726520746861740d0a656e6f75676820696e666f726d6174696f6e20746f20726570726f6475",
                "6365207468652070726f626c656d20697320656e636c6f7365642c20616e6420696620610d0a6b6e",
                "6f776e2066697820666f72206974206578697374732c20696e636c75646520746861742061732077",
                "656c6c2e0d0a0d0a",
            ),
        ),
    ];
    // zeek testing/btest/Traces/mixed-vlan-mpls.pcap, tcp.stream 0: client side only.
    const VLAN_MPLS_CLIENT: &[(bool, &str)] = &[
        (true, "fffd03fffb1ffffb21"), // 3
        (true, "fffd01"),             // 5
        (true, "fffc18"),             // 6
        (true, "fffa1f00500018fff0"), // 7
        (true, "0d0a"),               // 9
    ];

    // Expected values from `tshark -r telnet.pcap -q -z follow,tcp,ascii,0`: banner
    // "OpenBSD/i386 (oof) (ttyp2)", "login: " answered "fake", "Password:" answered.
    #[test]
    fn real_login_banner_and_user() {
        assert_eq!(
            run(OPENBSD_LOGIN),
            vec![
                Observation::Identity {
                    subject: Subject::Server,
                    field: Field::Description,
                    value: "OpenBSD/i386 (oof) (ttyp2)".to_string(),
                    source: "telnet banner",
                },
                Observation::Identity {
                    subject: Subject::Server,
                    field: Field::Os,
                    value: "OpenBSD".to_string(),
                    source: "telnet banner",
                },
                login("fake"),
            ]
        );
    }

    #[test]
    fn password_is_never_reported() {
        // The password in this capture is "user".
        let text = format!("{:?}", run(OPENBSD_LOGIN));
        assert!(!text.contains("\"user\""));
    }

    #[test]
    fn byte_by_byte_delivery_gives_the_same_result() {
        let mut segs = Vec::new();
        for (to_server, h) in OPENBSD_LOGIN {
            for b in hex(h) {
                segs.push((*to_server, vec![b]));
            }
        }
        // One byte a delivery: the server's prompt is checked after every byte, the client's
        // user name arrives one key at a time.
        assert_eq!(run_bytes(&segs), run(OPENBSD_LOGIN));
    }

    #[test]
    fn character_mode_with_echo_and_backspace() {
        let mut segs = vec![(
            false,
            b"\r\nUser Access Verification\r\n\r\nUsername: ".to_vec(),
        )];
        for &k in b"admim\x7fn\r" {
            segs.push((true, vec![k]));
            // The server echoes each key.
            segs.push((false, vec![k]));
        }
        segs.push((true, vec![0]));
        segs.push((false, b"\nPassword: ".to_vec()));
        for &k in b"s3cret\r\n" {
            segs.push((true, vec![k]));
        }
        let out = run_bytes(&segs);
        assert_eq!(
            out,
            vec![
                Observation::Identity {
                    subject: Subject::Server,
                    field: Field::Description,
                    value: "User Access Verification".to_string(),
                    source: "telnet banner",
                },
                login("admin"),
            ]
        );
        assert!(!format!("{out:?}").contains("s3cret"));
    }

    #[test]
    fn password_only_prompt_reports_an_empty_user() {
        let out = run_bytes(&[(false, b"Password: ".to_vec()), (true, b"x\r\n".to_vec())]);
        assert_eq!(out, vec![login("")]);
    }

    #[test]
    fn iac_iac_is_data_and_subnegotiations_are_not() {
        let mut d = Side::default();
        let mut out = Vec::new();
        let bytes = [
            b'a', IAC, IAC, IAC, SB, 24, b'x', IAC, IAC, IAC, SE, IAC, WILL, 1, b'b',
        ];
        let data: Vec<u8> = bytes.iter().filter_map(|&b| d.byte(b, &mut out)).collect();
        assert_eq!(data, vec![b'a', IAC, b'b']);
        assert!(out.is_empty());
    }

    #[test]
    fn client_only_negotiation_emits_nothing() {
        assert!(run(VLAN_MPLS_CLIENT).is_empty());
    }

    #[test]
    fn probe_is_strict() {
        let c = |d: &[u8]| probe(Direction::ToServer, d);
        let s = |d: &[u8]| probe(Direction::ToClient, d);
        assert_eq!(c(&hex(OPENBSD_LOGIN[0].1)), Probe::Yes);
        assert_eq!(c(&hex(VLAN_MPLS_CLIENT[0].1)), Probe::Yes);
        assert_eq!(s(&hex(OPENBSD_LOGIN[1].1)), Probe::Yes);
        assert_eq!(s(b"\r\nrouter login: "), Probe::Yes);
        assert_eq!(s(b"\r\nWelcome"), Probe::NeedMore);
        assert_eq!(c(b""), Probe::NeedMore);
        assert_eq!(c(&[IAC]), Probe::NeedMore);
        assert_eq!(c(&[IAC, WILL]), Probe::NeedMore);
        assert_eq!(c(&[IAC, 0x00, 0x01]), Probe::No);
        assert_eq!(c(b"GET / HTTP/1.1\r\n"), Probe::No);
        assert_eq!(s(b"HTTP/1.1 200 OK\r\n\r\n\x00\x01\x02"), Probe::No);
        assert_eq!(s(b"SSH-2.0-OpenSSH_8.0\r\n"), Probe::No);
        assert_eq!(s(b"220 FTP server ready\r\n"), Probe::No);
        assert_eq!(s(b"RFB 003.008\n"), Probe::No);
        assert_eq!(s(&[b'a'; 600]), Probe::No);
        let mut motd = vec![b'-'; 1000];
        motd.extend_from_slice(b"\r\nplc login: ");
        assert_eq!(s(&motd), Probe::Yes);
        assert_eq!(s(&[b'a'; 200]), Probe::No);
        assert_eq!(s(&[0x16, 0x03, 0x01]), Probe::No);
    }

    #[test]
    fn truncations_and_random_bytes_never_panic() {
        for (to_server, h) in OPENBSD_LOGIN {
            let msg = hex(h);
            for cut in 0..=msg.len() {
                let piece = msg[..cut].to_vec();
                let _ = probe(Direction::ToServer, &piece);
                let _ = probe(Direction::ToClient, &piece);
                let _ = run_bytes(&[(*to_server, piece)]);
            }
        }
        let mut x: u32 = 0x2545_f491;
        for _ in 0..500 {
            let len = (x % 700) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = probe(Direction::ToClient, &bytes);
            let mut prompted = b"login: ".to_vec();
            prompted.extend_from_slice(&bytes);
            let _ = run_bytes(&[(false, prompted), (true, bytes.clone()), (false, bytes)]);
        }
    }
}
