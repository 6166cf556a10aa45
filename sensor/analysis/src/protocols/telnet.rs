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
//!
//! A refused attempt is recognised from what the server says next: within [`VERDICT_TEXT`]
//! bytes of text after the password line, a refusal message ([`REFUSALS`]: "Login
//! incorrect", "Authentication failure", ...) or a new user-name prompt gives one
//! `AuthFailure` with the user typed at the prompt. The message may span segments (the
//! current line's tail is kept across deliveries); whatever follows it, repeats included,
//! belongs to no attempt until the next password line.

use super::framing::{Delivery, Unframed};
use super::source;
use super::spec::ProtocolSpec;
use super::text::{self, wire_text, BANNER_OS_NAMES};
use super::{violation, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "telnet",
    transport: Transport::Tcp,
    ports: &[23],
    probe,
    new,
};

const PROTOCOL: &str = "telnet";
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
/// Server text after a password line that may still carry the verdict; a session's output
/// after a successful login is not read for refusals.
const VERDICT_TEXT: u16 = 512;
/// Server messages that refuse a login, matched case-insensitively within a line: Linux and
/// BSD login(1) and PAM ("Login incorrect", "Authentication failure"), Cisco IOS ("% Login
/// invalid", "% Authentication failed"), and devices' "Access denied" / "Login failed".
/// At most [`PROMPT_TAIL`] bytes long.
const REFUSALS: &[&[u8]] = &[
    b"login incorrect",
    b"login failed",
    b"login invalid",
    b"authentication failure",
    b"authentication failed",
    b"access denied",
];
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
    Box::new(TelnetDissector::default())
}

/// Option negotiation at the start of either direction (`IAC WILL|WONT|DO|DONT` or `IAC SB`),
/// or a server's plain-text greeting that ends in a login prompt.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
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
    let ends = |p: &[u8]| text::ends_with_ignore_case(line, p);
    if ends(b"last login:") {
        // The start of login(1)'s "Last login: <date>" after a successful login, when the
        // line arrives in pieces: not a prompt.
        None
    } else if ends(b"login:") || ends(b"username:") || ends(b"user name:") {
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
            out.push(violation(PROTOCOL, reason));
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

    /// Whether the current line ends with `suffix`, ASCII case-insensitively.
    fn ends_with_ignore_case(&self, suffix: &[u8]) -> bool {
        let n = suffix.len();
        if n > PROMPT_TAIL || n > self.written {
            return false;
        }
        let start = self.written - n;
        suffix.iter().enumerate().all(|(i, want)| {
            self.ring
                .get((start + i) % PROMPT_TAIL)
                .is_some_and(|b| b.eq_ignore_ascii_case(want))
        })
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

/// A password was sent: the server's answer is awaited.
struct Verdict {
    /// The user typed at the prompt of this attempt (empty when there was none).
    user: String,
    /// Server text bytes still read for the answer.
    budget: u16,
}

/// Per-flow Telnet state.
#[derive(Default)]
pub struct TelnetDissector {
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
    verdict: Option<Verdict>,
}

impl Unframed for TelnetDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        let Delivery { dir, data, .. } = delivery;
        match dir {
            Direction::ToClient => {
                let mut text = false;
                for &b in data {
                    if let Some(b) = self.server.byte(b, out) {
                        self.server_text(b, out);
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
    }

    fn lost(&mut self, dir: Direction) {
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
        self.verdict = None;
    }
}

impl TelnetDissector {
    fn server_text(&mut self, b: u8, out: &mut Vec<Observation>) {
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
        if let Some(v) = &mut self.verdict {
            v.budget = v.budget.saturating_sub(1);
            if REFUSALS.iter().any(|r| self.line.ends_with_ignore_case(r)) {
                self.refused(out);
            } else if v.budget == 0 {
                self.verdict = None;
            }
        }
    }

    /// The awaited attempt was refused: reported once.
    fn refused(&mut self, out: &mut Vec<Observation>) {
        if let Some(v) = self.verdict.take() {
            out.push(Observation::AuthFailure {
                user: v.user,
                protocol: PROTOCOL,
            });
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
                // Asked for a user name again right after a password: that password was
                // refused (devices that re-prompt without a message).
                self.refused(out);
                self.login = Login::AwaitUser;
                self.user_input.clear();
            }
            Prompt::Password => {
                // A new password prompt is a new exchange (passwd(1) asks several times):
                // not read as a verdict on the last one.
                self.verdict = None;
                self.login = Login::AwaitPassword;
            }
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
        let os = text::banner_os(banner, BANNER_OS_NAMES);
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
                        user: user.clone(),
                        protocol: PROTOCOL,
                    });
                }
                self.verdict = Some(Verdict {
                    user,
                    budget: VERDICT_TEXT,
                });
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
        source: source::TELNET_BANNER,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
