//! FTP control connection (RFC 959): the server's greeting, cleartext logins (USER then
//! PASS; the password is never kept), refused logins, file transfers, and the switch to TLS
//! (RFC 4217).
//!
//! Both directions are lines ending in CR LF (RFC 959 §4.1.1, §4.2); a bare LF is accepted.
//! A line longer than 4 KiB is a violation and ends parsing of that direction.
//!
//! Replies are matched to commands in order (RFC 959 §4.2: every command gets exactly one
//! final reply, 2yz-5yz, after any preliminary 1yz ones), so a refusal (530) is reported as
//! an `AuthFailure` only when it answers the USER or PASS of a login attempt, once per
//! attempt, with that attempt's user name.

use super::framing::{Delivery, Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::text::{self, wire_text, BANNER_OS_NAMES};
use super::violations::Violations;
use super::{Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Source, Subject};
use std::collections::VecDeque;

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "ftp",
    transport: Transport::Tcp,
    ports: &[21],
    probe,
    new,
};

const PROTOCOL: &str = "ftp";
const MAX_LINE: usize = 4096;
/// Longest first line the probe waits for before deciding.
const PROBE_LINE: usize = 512;
/// TLS record content type "handshake" (RFC 8446 §5.1): a ClientHello after AUTH TLS.
const TLS_HANDSHAKE: u8 = 0x16;
/// USER/PASS commands remembered while awaiting their replies; more pipelined logins than
/// this are counted as other commands (no user name to report, but replies stay in step).
const MAX_AWAITED_LOGINS: usize = 8;

fn new() -> Box<dyn Dissector> {
    Box::new(FtpDissector::default())
}

/// Commands that only FTP clients send (RFC 959 §4.1, RFC 2228, RFC 2389, RFC 2428, RFC 3659),
/// so a client's first line is not mistaken for SMTP or POP3 (USER/PASS are shared with POP3
/// but POP3 servers speak first, so a first payload from a client is rarely POP3).
const CLIENT_FIRST_COMMANDS: &[&[u8]] = &[
    b"USER", b"PASS", b"AUTH", b"SYST", b"FEAT", b"PWD", b"XPWD", b"CWD", b"CDUP", b"TYPE",
    b"PASV", b"EPSV", b"PORT", b"EPRT", b"RETR", b"STOR", b"LIST", b"NLST", b"MLSD", b"SIZE",
    b"MDTM",
];

/// Server: a `220` greeting (RFC 959 §4.2, §5.4) that is not an SMTP one; client: a line
/// starting with an FTP-only command.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    let line_end = data.iter().position(|&b| b == b'\n');
    let line = match line_end {
        Some(n) => data.get(..n).unwrap_or_default(),
        None if data.len() >= PROBE_LINE => return Probe::No,
        None => data,
    };
    match dir {
        Direction::ToClient => {
            const GREETING: &[u8] = b"220";
            let head = line.len().min(GREETING.len());
            if line.get(..head) != GREETING.get(..head) {
                return Probe::No;
            }
            match line.get(3) {
                None => return Probe::NeedMore,
                Some(b' ' | b'-') => {}
                Some(_) => return Probe::No,
            }
            if line_end.is_none() {
                return Probe::NeedMore;
            }
            if text::find_ignore_case(line, b"SMTP").is_some() {
                Probe::No
            } else {
                Probe::Yes
            }
        }
        Direction::ToServer => {
            let verb_len = line.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            if verb_len == line.len() && line_end.is_none() && verb_len < 4 {
                return Probe::NeedMore;
            }
            let (verb, after) = line.split_at(verb_len);
            let known = CLIENT_FIRST_COMMANDS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(verb));
            match (known, after.first()) {
                (true, Some(b' ' | b'\r')) => Probe::Yes,
                (true, None) if line_end.is_some() => Probe::Yes,
                (true, None) => Probe::NeedMore,
                _ => Probe::No,
            }
        }
    }
}

#[derive(Default)]
struct Side {
    /// Abandoned: a line too long, or the stream is no longer FTP text.
    dead: bool,
    /// After a gap: drop bytes up to the next line end.
    resync: bool,
    /// One violation per direction is enough to flag the flow.
    violated: bool,
}

/// A command awaiting its final reply.
#[derive(Debug, PartialEq, Eq)]
enum Awaited {
    /// This many commands that are not part of a login.
    Others(u32),
    /// USER or PASS of login attempt number `attempt` (counted by USER commands).
    Login { attempt: u32, user: String },
}

/// Why FTP control traffic is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FtpError {
    #[error("line longer than 4096 bytes")]
    LineTooLong,
    #[error("client line is not an FTP command")]
    NotACommand,
    #[error("PASS without a preceding USER")]
    PassWithoutUser,
    #[error("server line is not an FTP reply")]
    NotAReply,
}

/// Per-flow FTP control-connection state.
#[derive(Default)]
pub struct FtpDissector {
    client: Side,
    server: Side,
    /// USER's argument, waiting for PASS (RFC 959 §4.1.1: PASS must follow USER).
    pending_user: Option<String>,
    /// Commands sent and not yet answered, oldest first; emptied after a gap, when the
    /// pairing of replies and commands is lost.
    awaited: VecDeque<Awaited>,
    /// USER commands seen: the number of the current login attempt.
    attempts: u32,
    /// The last attempt reported as refused (a refused USER and the PASS sent after it
    /// anyway are one attempt).
    refused_attempt: Option<u32>,
    /// Code of the multi-line reply in progress (RFC 959 §4.2: `ddd-` ... `ddd `).
    multi_line: Option<[u8; 3]>,
    /// Code of the reply the current line belongs to.
    reply_code: [u8; 3],
    /// The greeting's first non-empty line was reported.
    banner_described: bool,
    banner_done: bool,
    os_emitted: bool,
    /// The client sent AUTH (RFC 2228 §3); a 234 reply means TLS follows.
    auth_pending: bool,
    /// TLS was negotiated: the rest of the connection is ciphertext.
    encrypted: bool,
    violations: Violations,
}

impl Stream for FtpDissector {
    type Error = FtpError;

    fn on_delivery(
        &mut self,
        delivery: Delivery<'_>,
        _out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let Delivery { dir, data, .. } = delivery;
        if self.encrypted || self.side(dir).dead {
            return Some(data.len());
        }
        if dir == Direction::ToServer && self.auth_pending && data.first() == Some(&TLS_HANDSHAKE) {
            // The ClientHello overtook the server's 234 reply.
            self.encrypted = true;
            return Some(data.len());
        }
        None
    }

    /// A line at a time; after a gap, from the next line end on. A line too long ends the
    /// direction, and nothing is read once TLS has started.
    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<FtpError> {
        let encrypted = self.encrypted;
        let side = self.side_mut(dir);
        if encrypted || side.dead {
            return Framing::skip(data.len());
        }
        let nl = data.iter().position(|&b| b == b'\n');
        if side.resync {
            side.resync = nl.is_none();
            return Framing::skip(nl.map_or(data.len(), |nl| nl + 1));
        }
        match nl {
            Some(nl) if nl <= MAX_LINE => Framing::Complete { len: nl + 1 },
            None if data.len() <= MAX_LINE => Framing::Incomplete {
                needed: data.len() + 1,
            },
            _ => {
                side.dead = true;
                Framing::broken(data.len(), FtpError::LineTooLong)
            }
        }
    }

    fn on_broken(&mut self, dir: Direction, error: FtpError, out: &mut Vec<Observation>) {
        self.violation(dir, out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        line: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let used = line.len();
        let line = text::without_eol(line);
        // A reply that starts TLS sets `encrypted`: framing passes over the rest.
        match dir {
            Direction::ToServer => self.command(line, out),
            Direction::ToClient => self.reply(line, out),
        }
        Some(used)
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = self.side_mut(dir);
        side.resync = true;
        // Mid-reply after a gap, continuation lines would look malformed: stop judging.
        side.violated = true;
        if dir == Direction::ToClient {
            self.multi_line = None;
        }
        // A lost command or reply would pair every later reply with the wrong command.
        self.awaited.clear();
    }
}

impl FtpDissector {
    fn side(&self, dir: Direction) -> &Side {
        match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        }
    }

    fn side_mut(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }

    fn violation(&mut self, dir: Direction, out: &mut Vec<Observation>, reason: FtpError) {
        let side = self.side_mut(dir);
        if !side.violated {
            side.violated = true;
            self.violations.record(PROTOCOL, reason, out);
        }
    }

    /// One client command line (RFC 959 §4.1, §5.3.1: `verb [SP argument] CRLF`).
    fn command(&mut self, line: &[u8], out: &mut Vec<Observation>) {
        let line = skip_telnet_commands(line);
        let verb_len = line.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let (verb, after) = line.split_at(verb_len);
        let args = match after.split_first() {
            None => &[][..],
            Some((b' ', args)) => args,
            Some(_) => &[][..],
        };
        if !(3..=4).contains(&verb_len) || !matches!(after.first(), None | Some(b' ')) {
            if !line.is_empty() {
                // The server answers it too (500), so it takes a place in the queue.
                self.await_other();
                self.violation(Direction::ToServer, out, FtpError::NotACommand);
            }
            return;
        }
        let is = |name: &[u8]| verb.eq_ignore_ascii_case(name);
        if is(b"USER") {
            // RFC 959 §4.1.1 USER NAME: starts a login attempt.
            let user = wire_text(args);
            self.attempts = self.attempts.wrapping_add(1);
            self.await_login(user.clone());
            self.pending_user = Some(user);
            return;
        }
        if is(b"PASS") {
            // RFC 959 §4.1.1 PASSWORD: the argument is the secret and is never read.
            match self.pending_user.take() {
                Some(user) => {
                    self.await_login(user.clone());
                    out.push(Observation::CleartextLogin {
                        user,
                        protocol: PROTOCOL,
                    });
                }
                None => {
                    self.await_other();
                    self.violation(Direction::ToServer, out, FtpError::PassWithoutUser);
                }
            }
            return;
        }
        self.await_other();
        if is(b"RETR") {
            // RFC 959 §4.1.3 RETRIEVE.
            operation(out, Operation::FileTransfer);
            operation(out, Operation::Read);
        } else if is(b"STOR") || is(b"STOU") || is(b"APPE") {
            // RFC 959 §4.1.3 STORE, STORE UNIQUE, APPEND.
            operation(out, Operation::FileTransfer);
            operation(out, Operation::Write);
        } else if is(b"DELE") {
            // RFC 959 §4.1.3 DELETE.
            operation(out, Operation::FileTransfer);
        } else if is(b"AUTH") {
            // RFC 2228 §3 AUTH; RFC 4217 §4 AUTH TLS.
            self.auth_pending = true;
        }
    }

    /// One server reply line (RFC 959 §4.2: `ddd SP text` or the multi-line `ddd-text` ...
    /// `ddd SP text`).
    fn reply(&mut self, line: &[u8], out: &mut Vec<Observation>) {
        let code = reply_code(line);
        let text = match self.multi_line {
            Some(open) => {
                if code == Some(open) && line.get(3) == Some(&b' ') {
                    self.multi_line = None;
                }
                match code {
                    Some(_) => line.get(4..).unwrap_or_default(),
                    None => line,
                }
            }
            None => {
                let Some(code) = code else {
                    if !line.is_empty() {
                        self.violation(Direction::ToClient, out, FtpError::NotAReply);
                    }
                    return;
                };
                match line.get(3) {
                    None | Some(b' ') => {}
                    Some(b'-') => self.multi_line = Some(code),
                    Some(_) => {
                        self.violation(Direction::ToClient, out, FtpError::NotAReply);
                        return;
                    }
                }
                self.reply_code = code;
                line.get(4..).unwrap_or_default()
            }
        };
        let finished = self.multi_line.is_none();
        if finished && !matches!(self.reply_code, [b'1', ..]) {
            self.final_reply(out);
        }
        match &self.reply_code {
            // RFC 959 §4.2 "220 Service ready for new user": the greeting.
            b"220" if !self.banner_done => {
                if !self.banner_described {
                    let value = wire_text(text);
                    if !value.is_empty() {
                        self.banner_described = true;
                        out.push(identity(Field::Description, value, source::FTP_BANNER));
                    }
                }
                self.os_hint(text, source::FTP_BANNER, out);
                self.banner_done = finished;
            }
            // RFC 959 §4.1.3 SYST, reply 215 "NAME system type".
            b"215" => self.os_hint(text, source::FTP_SYST, out),
            // RFC 4217 §4 / RFC 2228 §3: 234 accepts AUTH; TLS starts after this line.
            b"234" if self.auth_pending => self.encrypted = true,
            _ => {}
        }
    }

    /// Remembers a USER or PASS of the current attempt until its reply.
    fn await_login(&mut self, user: String) {
        let logins = self
            .awaited
            .iter()
            .filter(|a| matches!(a, Awaited::Login { .. }))
            .count();
        if logins >= MAX_AWAITED_LOGINS {
            return self.await_other();
        }
        self.awaited.push_back(Awaited::Login {
            attempt: self.attempts,
            user,
        });
    }

    fn await_other(&mut self) {
        match self.awaited.back_mut() {
            Some(Awaited::Others(n)) => *n = n.saturating_add(1),
            _ => self.awaited.push_back(Awaited::Others(1)),
        }
    }

    /// The final reply (RFC 959 §4.2: 2yz-5yz) to the oldest awaited command. A reply while
    /// none is awaited is the greeting, an unsolicited 421, or answers a command sent before
    /// the capture or a gap: it pairs with nothing.
    fn final_reply(&mut self, out: &mut Vec<Observation>) {
        let login = match self.awaited.front_mut() {
            None => return,
            Some(Awaited::Others(n)) if *n > 1 => {
                *n -= 1;
                return;
            }
            Some(Awaited::Others(_)) => {
                self.awaited.pop_front();
                return;
            }
            Some(Awaited::Login { .. }) => self.awaited.pop_front(),
        };
        let Some(Awaited::Login { attempt, user }) = login else {
            return;
        };
        if refuses_login(self.reply_code) && self.refused_attempt != Some(attempt) {
            self.refused_attempt = Some(attempt);
            out.push(Observation::AuthFailure {
                user,
                protocol: PROTOCOL,
            });
        }
    }

    fn os_hint(&mut self, text: &[u8], source: Source, out: &mut Vec<Observation>) {
        if self.os_emitted {
            return;
        }
        if let Some(os) = text_os(text) {
            self.os_emitted = true;
            out.push(identity(Field::Os, os.to_string(), source));
        }
    }
}

fn identity(field: Field, value: String, source: Source) -> Observation {
    Observation::Identity {
        subject: Subject::Server,
        field,
        value,
        source,
    }
}

fn operation(out: &mut Vec<Observation>, op: Operation) {
    out.push(Observation::Operation {
        op,
        function_code: None,
        details: Vec::new(),
    });
}

/// The three reply digits (RFC 959 §4.2: first digit 1-5).
fn reply_code(line: &[u8]) -> Option<[u8; 3]> {
    match line {
        [a @ b'1'..=b'5', b, c, ..] if b.is_ascii_digit() && c.is_ascii_digit() => {
            Some([*a, *b, *c])
        }
        _ => None,
    }
}

/// Whether a reply to USER or PASS refuses the login: 530 "Not logged in" (RFC 959 §4.2,
/// §5.4) and other permanent failures, but not 500-504, which say the command itself was
/// not understood or out of sequence rather than judging the credentials.
fn refuses_login(code: [u8; 3]) -> bool {
    matches!(code, [b'5', ..]) && !matches!(code, [b'5', b'0', b'0'..=b'4'])
}

/// The control connection is a Telnet NVT (RFC 959 §4.1.3 ABOR): clients may put Telnet IP
/// and Synch (IAC IP IAC DM, RFC 854) before a command.
fn skip_telnet_commands(mut line: &[u8]) -> &[u8] {
    while let [0xff, _, rest @ ..] = line {
        line = rest;
    }
    line
}

/// Windows names FTP greetings and SYST replies use, before [`BANNER_OS_NAMES`].
const WINDOWS_NAMES: &[(&[u8], &str)] = &[
    (b"Windows_NT", "Windows"),
    (b"Microsoft FTP Service", "Windows"),
];

/// An OS that greeting or SYST text names as a whole word (not part of a host name such as
/// `ftp.NetBSD.org`): conservative, names only.
fn text_os(text: &[u8]) -> Option<&'static str> {
    text::banner_os(text, WINDOWS_NAMES).or_else(|| text::banner_os(text, BANNER_OS_NAMES))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
