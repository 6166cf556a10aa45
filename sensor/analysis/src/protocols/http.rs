//! HTTP/1.x over TCP (RFC 9110 semantics, RFC 9112 message syntax): who the client and
//! server say they are, and Basic credentials crossing in clear.
//!
//! Each direction of the stream is parsed message by message: the head (start line and
//! header fields) must be complete before it is consumed; bodies are skipped by
//! Content-Length or chunked framing (RFC 9112 §6.3, §7.1) without buffering. Whatever
//! cannot be followed (a malformed start line, a framing the rules do not resolve, a gap in
//! the stream, a protocol switch) stops parsing of that direction instead of guessing.
//!
//! Reported, about the end that sent the message (`Subject::Client` for requests on a
//! normally oriented flow):
//! - `User-Agent` → `Description` (raw, capped) and `Os` when it names one (source::HTTP_USER_AGENT);
//! - `Server` → `Description` and `Os` when it names one (source::HTTP_SERVER);
//! - `Authorization`/`Proxy-Authorization: Basic` → `CleartextLogin` with the user name
//!   (RFC 7617 §2: the part before the first colon). The password never leaves [`basic_user`].
//!
//! Repeated values (the same User-Agent on every request) are reported once per flow.
//!
//! For detection, per message:
//! - each request from the flow's client names the host it asks for: the authority of an
//!   absolute-form or authority-form (CONNECT) target, else the `Host` header (RFC 9112
//!   §3.2), without port or user info, as a `Lookup` ("http host"); address literals are not
//!   names;
//! - a request that carried credentials (`Authorization`, `Proxy-Authorization`) answered by
//!   401 or 403 (407 for the proxy's) is an `AuthFailure`, with the Basic user name (empty
//!   for other schemes). Requests are paired with responses in order (pipelining). Not
//!   refusals: an NTLM or Negotiate 401 that carries the next handshake token (RFC 4559 §5,
//!   [MS-NTHT] §2), and a Digest 401 with `stale=true` (RFC 7616 §3.3: the credentials were
//!   right, the nonce old).

use super::framing::{Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::{dns, text};
use super::{violation, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation};

const NAME: &str = "http";

/// HTTP/1.x on the usual plain-text web ports; found elsewhere by content.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: NAME,
    transport: Transport::Tcp,
    ports: &[80, 8080, 8000, 8008, 8081, 8888],
    probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<HttpDissector>::default()
}

/// Largest message head waited for; a longer one stops the direction.
const MAX_HEAD: usize = 16 * 1024;
/// Longest chunk-size line (with extensions) waited for.
const MAX_CHUNK_LINE: usize = 1024;
/// Empty lines skipped before a start line (RFC 9112 §2.2 asks to skip "at least one").
const MAX_LEADING_EMPTY: usize = 8;
/// Requests remembered while waiting for their responses (pipelining).
const MAX_PENDING: usize = 32;
/// Decoded Basic credentials larger than this are not examined.
const MAX_BASIC: usize = 384;

/// Methods the content probe accepts (RFC 9110 §9.3, RFC 5789 PATCH). Once a flow is HTTP,
/// any token is accepted as a method.
const METHODS: &[&[u8]] = &[
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"TRACE", b"PATCH",
];

/// A request line with a known method and `HTTP/1.` toward the server, or a status line
/// `HTTP/1.x NNN` toward the client.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    match dir {
        Direction::ToServer => probe_request(data),
        Direction::ToClient => probe_status(data),
    }
}

fn probe_request(data: &[u8]) -> Probe {
    let Some(sp) = data.iter().take(8).position(|&b| b == b' ') else {
        let could_be = data.len() < 8 && METHODS.iter().any(|m| m.starts_with(data));
        return if could_be { Probe::NeedMore } else { Probe::No };
    };
    if !METHODS.contains(&data.get(..sp).unwrap_or(&[])) {
        return Probe::No;
    }
    let line_end = data.iter().position(|&b| b == b'\n');
    let line = text::without_eol(data.get(..line_end.unwrap_or(data.len())).unwrap_or(&[]));
    match line_end {
        Some(_) => match parse_request_line(line) {
            Some(_) => Probe::Yes,
            None => Probe::No,
        },
        // The line is not complete yet: wait, unless it already holds what no request line can.
        None if data.len() < 2048 && !data.iter().any(|&b| b.is_ascii_control() && b != b'\r') => {
            Probe::NeedMore
        }
        None => Probe::No,
    }
}

fn probe_status(data: &[u8]) -> Probe {
    const PREFIX: &[u8] = b"HTTP/1.";
    if data.len() < 12 {
        let n = data.len().min(PREFIX.len());
        return if data.get(..n) == PREFIX.get(..n) {
            Probe::NeedMore
        } else {
            Probe::No
        };
    }
    let head = data.get(..12).unwrap_or(&[]);
    let ok = head.starts_with(PREFIX)
        && head.get(7).is_some_and(u8::is_ascii_digit)
        && head.get(8) == Some(&b' ')
        && head
            .get(9..12)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if ok {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `HTTP/` DIGIT `.` DIGIT (RFC 9112 §2.3), major version 1 only.
fn is_http1_version(v: &[u8]) -> bool {
    matches!(v, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if d.is_ascii_digit())
}

/// `method SP request-target SP HTTP-version` (RFC 9112 §3). Returns the method.
fn parse_request_line(line: &[u8]) -> Option<&[u8]> {
    let mut parts = line.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let sane_target = !target.is_empty() && target.iter().all(|&b| b > 0x20 && b != 0x7f);
    (parts.next().is_none() && is_token(method) && sane_target && is_http1_version(version))
        .then_some(method)
}

/// `HTTP-version SP status-code SP [reason-phrase]` (RFC 9112 §4); a missing SP before an
/// empty reason is tolerated. Returns the status code.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let version = line.get(..8)?;
    let code = line.get(9..12)?;
    let sep_ok = line.get(8) == Some(&b' ') && matches!(line.get(12), None | Some(b' '));
    if !is_http1_version(version) || !sep_ok || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// What a request asked for, as far as the framing of its response is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Method {
    #[default]
    Other,
    /// Responses to HEAD have no body (RFC 9112 §6.3 item 1).
    Head,
    /// A 2xx to CONNECT turns the connection into a tunnel (§6.3 item 2).
    Connect,
}

/// Where a direction is in its stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Expecting a start line.
    #[default]
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    /// Expecting a chunk-size line (RFC 9112 §7.1).
    ChunkSize,
    /// Skipping chunk data, then its CRLF.
    ChunkData(u64),
    /// Expecting the CRLF that ends chunk data.
    ChunkEnd,
    /// Skipping trailer fields up to the empty line (§7.1.2).
    Trailers,
    /// The body runs to the end of the connection (§6.3 item 8), or a tunnel: nothing more
    /// to parse, not an error.
    Opaque,
    /// Parsing of this direction gave up.
    Stopped,
}

/// Credentials a request carried, remembered until its response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Credentials {
    /// `Proxy-Authorization` (refused by 407) rather than `Authorization` (401, 403).
    proxy: bool,
    /// The Basic user name; empty for other schemes.
    user: String,
}

/// A request awaiting its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Pending {
    method: Method,
    credentials: Option<Credentials>,
}

/// Which kind of message a direction carries; decided by its first start line, so a flow
/// whose sides were guessed wrong still parses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Unknown,
    Requests,
    Responses,
}

#[derive(Debug, Default)]
struct Side {
    kind: Kind,
    state: State,
    /// Fingerprints of the last reported User-Agent / Server value and Basic user.
    last_product: Option<u64>,
    last_user: Option<u64>,
}

#[derive(Debug, Default)]
struct HttpDissector {
    sides: [Side; 2],
    /// Requests awaiting responses, oldest first (a small ring; only a request with Basic
    /// credentials brings an allocation, its user name).
    pending: [Pending; MAX_PENDING],
    pending_start: usize,
    pending_len: usize,
}

/// The fields of a message head that matter here.
#[derive(Debug, Default)]
struct Head<'a> {
    content_length: Option<u64>,
    bad_length: bool,
    transfer_encoding: Option<&'a [u8]>,
    upgrade: bool,
    product: Option<&'a [u8]>,
    basic: Option<&'a [u8]>,
    /// Which credential headers the message carried (any scheme).
    authorization: bool,
    proxy_authorization: bool,
    host: Option<&'a [u8]>,
    /// A 401/407 challenge that continues a handshake instead of refusing: an NTLM or
    /// Negotiate token, or a Digest `stale=true`.
    challenge_continues: bool,
    violation: Option<HttpError>,
}

impl Stream for HttpDissector {
    type Error = HttpError;

    /// A message head (found and read by [`HttpDissector::head`]), a body passed over, or a
    /// chunked body's size, end and trailer lines.
    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<HttpError> {
        let side = &mut self.sides[dir.index()];
        match side.state {
            State::Opaque | State::Stopped => Framing::skip(data.len()),
            State::Head => Framing::Complete { len: data.len() },
            State::Body(left) => pass(&mut side.state, left, data, State::Head, State::Body),
            State::ChunkData(left) => pass(
                &mut side.state,
                left,
                data,
                State::ChunkEnd,
                State::ChunkData,
            ),
            State::ChunkSize | State::ChunkEnd | State::Trailers => {
                match data.iter().take(MAX_CHUNK_LINE).position(|&b| b == b'\n') {
                    Some(nl) => Framing::Complete { len: nl + 1 },
                    None if data.len() < MAX_CHUNK_LINE => Framing::Incomplete {
                        needed: data.len() + 1,
                    },
                    None => {
                        side.state = State::Stopped;
                        Framing::broken(data.len(), HttpError::ChunkLine)
                    }
                }
            }
        }
    }

    fn on_broken(&mut self, _dir: Direction, error: HttpError, out: &mut Vec<Observation>) {
        out.push(violation(NAME, error));
    }

    fn on_message(
        &mut self,
        dir: Direction,
        data: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        if self.sides[dir.index()].state == State::Head {
            return match self.head(dir, data, out) {
                Some(n) => Some(n),
                None if self.sides[dir.index()].state == State::Stopped => Some(data.len()),
                None => None,
            };
        }
        let side = &mut self.sides[dir.index()];
        let line = text::without_eol(data);
        side.state = match side.state {
            State::ChunkSize => match chunk_size(line) {
                Some(0) => State::Trailers,
                Some(n) => State::ChunkData(n),
                None => {
                    stop(side, out, HttpError::ChunkSize);
                    return Some(data.len());
                }
            },
            State::ChunkEnd if line.is_empty() => State::ChunkSize,
            State::ChunkEnd => {
                stop(side, out, HttpError::ChunkOverrun);
                return Some(data.len());
            }
            // Trailer fields until the empty line.
            _ if line.is_empty() => State::Head,
            other => other,
        };
        Some(data.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        // Where the next message starts is unknown: stop rather than guess. A body that
        // runs to the close does not care.
        let side = &mut self.sides[dir.index()];
        if side.state != State::Opaque {
            side.state = State::Stopped;
        }
    }
}

/// Why an HTTP/1 message is malformed (RFC 9112).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("chunk line too long")]
    ChunkLine,
    #[error("malformed chunk size")]
    ChunkSize,
    #[error("chunk data longer than its size")]
    ChunkOverrun,
    #[error("malformed start line")]
    StartLine,
    #[error("message head too long")]
    HeadTooLong,
    #[error("requests and responses mixed in one direction")]
    Mixed,
    #[error("malformed status line")]
    StatusLine,
    #[error("malformed request line")]
    RequestLine,
    #[error("malformed Basic credentials")]
    BasicCredentials,
    #[error("obsolete header line folding")]
    LineFolding,
    #[error("header line without a colon")]
    NoColon,
    #[error("malformed header field name")]
    FieldName,
    #[error("both Transfer-Encoding and Content-Length")]
    TransferAndLength,
    #[error("request Transfer-Encoding does not end in chunked")]
    NotChunked,
    #[error("invalid or conflicting Content-Length")]
    ContentLength,
}

fn stop(side: &mut Side, out: &mut Vec<Observation>, reason: HttpError) {
    side.state = State::Stopped;
    out.push(violation(NAME, reason));
}

/// Passes over what `data` holds of the `left` bytes of a body or chunk: `state` becomes
/// `then` at its end, else `rest` of what is left.
fn pass(
    state: &mut State,
    left: u64,
    data: &[u8],
    then: State,
    rest: fn(u64) -> State,
) -> Framing<HttpError> {
    let take = left.min(data.len() as u64);
    *state = if take == left {
        then
    } else {
        rest(left - take)
    };
    Framing::skip(take as usize)
}

/// A chunk-size line: hex digits, optionally followed by `;` extensions (RFC 9112 §7.1.1).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

impl HttpDissector {
    /// Parses one message head at the start of `data`. Returns the bytes consumed, or `None`
    /// when the head is not complete yet (the direction may have been stopped instead).
    fn head(&mut self, dir: Direction, data: &[u8], out: &mut Vec<Observation>) -> Option<usize> {
        // RFC 9112 §2.2: empty lines before a start line are skipped.
        let mut skip = 0;
        for _ in 0..MAX_LEADING_EMPTY {
            match data.get(skip..) {
                Some([b'\r', b'\n', ..]) => skip += 2,
                Some([b'\n', ..]) => skip += 1,
                _ => break,
            }
        }
        let data = data.get(skip..)?;
        let side = &mut self.sides[dir.index()];
        let Some(len) = text::head_len(data) else {
            let first_line_bad = data.contains(&b'\n') && !looks_like_start(data);
            if data.len() > MAX_HEAD || first_line_bad {
                stop(
                    side,
                    out,
                    if first_line_bad {
                        HttpError::StartLine
                    } else {
                        HttpError::HeadTooLong
                    },
                );
            }
            return None;
        };
        let block = data.get(..len)?;
        let mut lines = text::lines(block);
        let start = lines.next().unwrap_or(&[]);
        let is_response = start.starts_with(b"HTTP/");
        let kind = if is_response {
            Kind::Responses
        } else {
            Kind::Requests
        };
        if side.kind != Kind::Unknown && side.kind != kind {
            stop(side, out, HttpError::Mixed);
            return None;
        }
        side.kind = kind;
        let mut head = Head::default();
        for line in lines.filter(|l| !l.is_empty()) {
            read_field(line, &mut head);
        }
        if head.transfer_encoding.is_some() && (head.content_length.is_some() || head.bad_length) {
            // RFC 9112 §6.3 item 3: Transfer-Encoding wins, but this is how requests are
            // smuggled past front ends.
            head.violation.get_or_insert(HttpError::TransferAndLength);
        }
        if let Some(reason) = head.violation {
            out.push(violation(NAME, reason));
        }
        let consumed = skip + len;
        let framing = if is_response {
            let Some(status) = parse_status_line(start) else {
                stop(side, out, HttpError::StatusLine);
                return None;
            };
            self.report(dir, &head, out);
            self.response_framing(status, &head, out)
        } else {
            let Some(method) = parse_request_line(start) else {
                stop(side, out, HttpError::RequestLine);
                return None;
            };
            let user = self.report(dir, &head, out);
            if dir == Direction::ToServer {
                lookup(start, &head, out);
            }
            let credentials = (head.authorization || head.proxy_authorization).then(|| {
                Credentials {
                    // Both at once: the origin server's verdict is the one that matters.
                    proxy: !head.authorization,
                    user: user.unwrap_or_default(),
                }
            });
            self.request_framing(method, &head, credentials)
        };
        let side = &mut self.sides[dir.index()];
        match framing {
            Ok(state) => side.state = state,
            Err(reason) => stop(side, out, reason),
        }
        Some(consumed)
    }

    /// User-Agent / Server and Basic credentials, once per distinct value. Returns the Basic
    /// user name, if any.
    fn report(
        &mut self,
        dir: Direction,
        head: &Head<'_>,
        out: &mut Vec<Observation>,
    ) -> Option<String> {
        let side = &mut self.sides[dir.index()];
        let subject = dir.sender();
        let (source, os) = match side.kind {
            Kind::Responses => (
                source::HTTP_SERVER,
                server_os as fn(&[u8]) -> Option<String>,
            ),
            _ => (
                source::HTTP_USER_AGENT,
                user_agent_os as fn(&[u8]) -> Option<String>,
            ),
        };
        if let Some(p) = head.product {
            let fp = text::fingerprint(p);
            if side.last_product != Some(fp) {
                side.last_product = Some(fp);
                if let Some(os) = os(p) {
                    out.push(Observation::Identity {
                        subject,
                        field: Field::Os,
                        value: os,
                        source,
                    });
                }
                if let Some(desc) = text::clean(p) {
                    out.push(Observation::Identity {
                        subject,
                        field: Field::Description,
                        value: desc,
                        source,
                    });
                }
            }
        }
        let token = head.basic?;
        let Some(user) = basic_user(token) else {
            out.push(violation(NAME, HttpError::BasicCredentials));
            return None;
        };
        let fp = text::fingerprint(user.as_bytes());
        if side.last_user != Some(fp) {
            side.last_user = Some(fp);
            out.push(Observation::CleartextLogin {
                user: user.clone(),
                protocol: NAME,
            });
        }
        Some(user)
    }

    /// RFC 9112 §6.3 for requests: chunked, else Content-Length, else no body.
    fn request_framing(
        &mut self,
        method: &[u8],
        head: &Head<'_>,
        credentials: Option<Credentials>,
    ) -> Result<State, HttpError> {
        let method = match method {
            b"HEAD" => Method::Head,
            b"CONNECT" => Method::Connect,
            _ => Method::Other,
        };
        if self.pending_len < MAX_PENDING {
            let slot = (self.pending_start + self.pending_len) % MAX_PENDING;
            if let Some(p) = self.pending.get_mut(slot) {
                *p = Pending {
                    method,
                    credentials,
                };
            }
            self.pending_len += 1;
        }
        let body = body_framing(head, false)?;
        // After CONNECT or an Upgrade request the client may switch protocols at once.
        if method == Method::Connect || head.upgrade {
            return Ok(State::Opaque);
        }
        Ok(body.unwrap_or(State::Head))
    }

    /// RFC 9112 §6.3 for responses: no body for HEAD, 1xx, 204 and 304; a tunnel after a 2xx
    /// to CONNECT and after 101; then chunked, Content-Length, or to the end of the
    /// connection.
    fn response_framing(
        &mut self,
        status: u16,
        head: &Head<'_>,
        out: &mut Vec<Observation>,
    ) -> Result<State, HttpError> {
        if (100..200).contains(&status) && status != 101 {
            // Interim response: the final one is still to come for the same request.
            return Ok(State::Head);
        }
        let request = if self.pending_len > 0 {
            let r = self
                .pending
                .get_mut(self.pending_start)
                .map(std::mem::take)
                .unwrap_or_default();
            self.pending_start = (self.pending_start + 1) % MAX_PENDING;
            self.pending_len -= 1;
            r
        } else {
            Pending::default()
        };
        if let Some(c) = request.credentials {
            // RFC 9110 §15.5.2 401, §15.5.4 403, §15.5.8 407.
            let refused = if c.proxy {
                status == 407
            } else {
                status == 401 || status == 403
            };
            let continues = status != 403 && head.challenge_continues;
            if refused && !continues {
                out.push(Observation::AuthFailure {
                    user: c.user,
                    protocol: NAME,
                });
            }
        }
        let method = request.method;
        if status == 101 || (method == Method::Connect && (200..300).contains(&status)) {
            self.sides[Direction::ToServer as usize].state = State::Opaque;
            return Ok(State::Opaque);
        }
        if method == Method::Head || status == 204 || status == 304 {
            return Ok(State::Head);
        }
        Ok(body_framing(head, true)?.unwrap_or(State::Opaque))
    }
}

/// The body framing a head declares (RFC 9112 §6.3 items 3–6), `None` when it declares none.
fn body_framing(head: &Head<'_>, response: bool) -> Result<Option<State>, HttpError> {
    if let Some(te) = head.transfer_encoding {
        // The final coding must be chunked for a request; a response without it runs to
        // the close (§6.3 item 4).
        let last = te.rsplit(|&b| b == b',').next().unwrap_or(&[]).trim_ascii();
        return if last.eq_ignore_ascii_case(b"chunked") {
            Ok(Some(State::ChunkSize))
        } else if response {
            Ok(Some(State::Opaque))
        } else {
            Err(HttpError::NotChunked)
        };
    }
    if head.bad_length {
        return Err(HttpError::ContentLength);
    }
    Ok(match head.content_length {
        None => None,
        // An explicit empty body: the next message follows at once (a response must not
        // be read to the close).
        Some(0) => Some(State::Head),
        Some(n) => Some(State::Body(n)),
    })
}

/// Whether the first line of `data` could start an HTTP/1 message.
fn looks_like_start(data: &[u8]) -> bool {
    let line = text::without_eol(data.split(|&b| b == b'\n').next().unwrap_or(&[]));
    parse_request_line(line).is_some() || parse_status_line(line).is_some()
}

/// Reads one header field line into `head` (RFC 9112 §5, RFC 9110 §5.5).
fn read_field<'a>(line: &'a [u8], head: &mut Head<'a>) {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        // RFC 9112 §5.2: obsolete line folding.
        head.violation.get_or_insert(HttpError::LineFolding);
        return;
    }
    let Some((name, value)) = text::header_field(line) else {
        head.violation.get_or_insert(HttpError::NoColon);
        return;
    };
    if !is_token(name) {
        // Includes whitespace before the colon, which RFC 9112 §5.1 says to reject.
        head.violation.get_or_insert(HttpError::FieldName);
        return;
    }
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if is(b"content-length") {
        // RFC 9110 §8.6: one decimal value; a list of identical values is tolerated.
        for v in value.split(|&b| b == b',') {
            let v = v.trim_ascii();
            let n = (!v.is_empty() && v.len() <= 18 && v.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                .flatten();
            match (n, head.content_length) {
                (None, _) => head.bad_length = true,
                (Some(n), Some(old)) if n != old => head.bad_length = true,
                (Some(n), _) => head.content_length = Some(n),
            }
        }
    } else if is(b"transfer-encoding") {
        head.transfer_encoding = Some(value);
    } else if is(b"upgrade") {
        head.upgrade = true;
    } else if is(b"user-agent") || is(b"server") {
        head.product.get_or_insert(value);
    } else if is(b"authorization") || is(b"proxy-authorization") {
        // RFC 9110 §11.4: auth-scheme, then the token; RFC 7617 §2 scheme "Basic".
        if is(b"authorization") {
            head.authorization = true;
        } else {
            head.proxy_authorization = true;
        }
        let mut parts = value.splitn(2, |&b| b == b' ');
        let scheme = parts.next().unwrap_or(&[]);
        if scheme.eq_ignore_ascii_case(b"basic") {
            head.basic
                .get_or_insert(parts.next().unwrap_or(&[]).trim_ascii());
        }
    } else if is(b"www-authenticate") || is(b"proxy-authenticate") {
        head.challenge_continues |= challenge_continues(value);
    } else if is(b"host") {
        head.host.get_or_insert(value);
    }
}

/// Whether a challenge (RFC 9110 §11.6.1) continues a handshake rather than refusing: NTLM
/// or Negotiate with a token after the scheme (RFC 4559 §5, [MS-NTHT] §2), or Digest with
/// `stale=true` (RFC 7616 §3.3).
fn challenge_continues(value: &[u8]) -> bool {
    let mut parts = value.splitn(2, |&b| b == b' ');
    let scheme = parts.next().unwrap_or(&[]);
    let rest = parts.next().unwrap_or(&[]).trim_ascii();
    let is = |s: &[u8]| scheme.eq_ignore_ascii_case(s);
    if is(b"ntlm") || is(b"negotiate") {
        // A token68 (RFC 9110 §11.2) alone, not a list of further challenges.
        return !rest.is_empty() && !rest.contains(&b',');
    }
    is(b"digest") && text::find_ignore_case(rest, b"stale=true").is_some()
}

/// Reports the host a request asks for (RFC 9112 §3.2.2: the authority of an absolute-form
/// target wins over Host; §3.2.3: CONNECT's authority-form target).
fn lookup(start_line: &[u8], head: &Head<'_>, out: &mut Vec<Observation>) {
    let mut parts = start_line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or(&[]);
    let target = parts.next().unwrap_or(&[]);
    let authority = match text::find(target, b"://") {
        // Absolute-form: scheme "://" authority [path] (RFC 3986 §3).
        Some(at) if target.get(..at).is_some_and(is_token) => {
            let rest = target.get(at + 3..).unwrap_or(&[]);
            let end = rest
                .iter()
                .position(|b| matches!(b, b'/' | b'?' | b'#'))
                .unwrap_or(rest.len());
            rest.get(..end)
        }
        _ if method == b"CONNECT" => Some(target),
        _ => head.host,
    };
    if let Some(name) = authority.and_then(host_of).and_then(dns::lookup_name) {
        out.push(Observation::Lookup {
            name,
            via: "http host",
        });
    }
}

/// The host of an authority (RFC 3986 §3.2): without user info and port; `None` for an
/// IP-literal in brackets and for text that is no authority.
fn host_of(authority: &[u8]) -> Option<&[u8]> {
    // User info ends at the last '@' and is never read (it may hold a password).
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    if host_port.starts_with(b"[") {
        return None;
    }
    let host = match host_port.iter().position(|&b| b == b':') {
        Some(colon) => {
            let port = host_port.get(colon + 1..)?;
            if !port.iter().all(u8::is_ascii_digit) {
                return None;
            }
            host_port.get(..colon)?
        }
        None => host_port,
    };
    (!host.is_empty()).then_some(host)
}

/// The user name of Basic credentials (RFC 7617 §2: base64 of `user-id ":" password`; the
/// user-id cannot contain a colon, so it ends at the first one). The decoded secret stays
/// in a stack buffer that is wiped before returning.
pub fn basic_user(token: &[u8]) -> Option<String> {
    let mut buf = [0u8; MAX_BASIC];
    let user = text::base64_decode(token, &mut buf).and_then(|n| {
        let plain = buf.get(..n)?;
        let colon = plain.iter().position(|&b| b == b':')?;
        let user = plain.get(..colon)?;
        Some(text::clean_text(user, 128).unwrap_or_default())
    });
    buf.fill(0);
    user
}

/// Windows version names of NT kernel versions as `Windows NT x.y` tokens carry them (NT
/// 10.0 covers Windows 10 and 11, which user agents do not tell apart).
pub fn windows_nt_name(version: &[u8]) -> String {
    let name = match version {
        b"5.0" => "Windows 2000",
        b"5.1" => "Windows XP",
        b"5.2" => "Windows XP x64 / Server 2003",
        b"6.0" => "Windows Vista",
        b"6.1" => "Windows 7",
        b"6.2" => "Windows 8",
        b"6.3" => "Windows 8.1",
        b"10.0" => "Windows 10/11",
        _ => return format!("Windows NT {}", String::from_utf8_lossy(version)),
    };
    name.to_string()
}

/// Leading version characters (digits, `.` and `_`, the latter read as dots) after `at`.
fn version_after(hay: &[u8], at: usize) -> Option<String> {
    let rest = hay.get(at..)?;
    let n = rest
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_digit() || **b == b'.' || **b == b'_')
        .count();
    let v = rest.get(..n)?;
    let v: String = v
        .iter()
        .map(|&b| if b == b'_' { '.' } else { char::from(b) })
        .collect();
    let v = v.trim_matches('.');
    (!v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
}

/// The OS a User-Agent names: Windows by NT version, iOS/iPadOS, Android, ChromeOS, macOS,
/// Linux distributions and Linux, the BSDs, Darwin. Mobile platforms are checked before the
/// desktop ones their strings also mention ("like Mac OS X", "Linux; Android").
pub fn user_agent_os(ua: &[u8]) -> Option<String> {
    let find = |needle: &[u8]| text::find_ignore_case(ua, needle);
    let with_version = |name: &str, needle: &[u8]| {
        let at = find(needle)? + needle.len();
        Some(match version_after(ua, at) {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        })
    };
    if find(b"Windows Phone").is_some() {
        return with_version("Windows Phone", b"Windows Phone ");
    }
    if let Some(at) = find(b"Windows NT ") {
        let v = ua.get(at + 11..)?;
        let n = v
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .count();
        return Some(windows_nt_name(v.get(..n)?));
    }
    if find(b"iPhone OS ").is_some() {
        return with_version("iOS", b"iPhone OS ");
    }
    if find(b"iPad").is_some() && find(b"CPU OS ").is_some() {
        return with_version("iOS", b"CPU OS ");
    }
    if text::contains_word(ua, b"Android") {
        return with_version("Android", b"Android ");
    }
    if text::contains_word(ua, b"CrOS") {
        return Some("ChromeOS".to_string());
    }
    if find(b"Mac OS X").is_some() {
        return with_version("macOS", b"Mac OS X ");
    }
    if let Some(at) = find(b"Ubuntu/") {
        return Some(match version_after(ua, at + 7) {
            Some(v) => format!("Ubuntu {v}"),
            None => "Ubuntu".to_string(),
        });
    }
    if text::contains_word(ua, b"darwin") {
        // "Wget/1.14 (darwin12.2.0)", "CFNetwork/1410.0.3 Darwin/22.6.0".
        let at = find(b"darwin")? + b"darwin".len();
        let at = if ua.get(at) == Some(&b'/') {
            at + 1
        } else {
            at
        };
        return Some(match version_after(ua, at) {
            Some(v) => format!("Darwin {v}"),
            None => "Darwin".to_string(),
        });
    }
    named_os(ua).map(str::to_string)
}

/// The OS a `Server` header names, usually in an Apache-style comment ("Apache/2.4.3
/// (Fedora)") or by the server product itself ("Microsoft-IIS/10.0" runs on Windows).
/// "(Unix)" says too little and gives nothing.
pub fn server_os(server: &[u8]) -> Option<String> {
    if text::starts_with_ignore_case(server, b"Microsoft-IIS")
        || text::starts_with_ignore_case(server, b"Microsoft-HTTPAPI")
    {
        return Some("Windows".to_string());
    }
    named_os(server).map(str::to_string)
}

/// OS families recognisable by a whole word in product text, most specific first.
const OS_WORDS: &[(&[u8], &str)] = &[
    (b"Ubuntu", "Ubuntu"),
    (b"Debian", "Debian"),
    (b"Raspbian", "Raspbian"),
    (b"Fedora", "Fedora"),
    (b"CentOS", "CentOS"),
    (b"Red Hat", "Red Hat Enterprise Linux"),
    (b"SUSE", "SUSE Linux"),
    (b"openSUSE", "openSUSE"),
    (b"Gentoo", "Gentoo"),
    (b"Alpine", "Alpine Linux"),
    (b"Android", "Android"),
    (b"Linux", "Linux"),
    (b"Win32", "Windows"),
    (b"Win64", "Windows"),
    (b"Windows", "Windows"),
    (b"FreeBSD", "FreeBSD"),
    (b"OpenBSD", "OpenBSD"),
    (b"NetBSD", "NetBSD"),
    (b"VxWorks", "VxWorks"),
    (b"QNX", "QNX"),
    (b"FreeRTOS", "FreeRTOS"),
    (b"ThreadX", "ThreadX"),
    (b"Darwin", "Darwin"),
];

/// The first OS family of [`OS_WORDS`] named as a whole word in `s`.
pub fn named_os(s: &[u8]) -> Option<&'static str> {
    OS_WORDS
        .iter()
        .find(|(w, _)| text::contains_word(s, w))
        .map(|&(_, os)| os)
}

/// The OS an `OS/version` product token names (the first token of a UPnP `SERVER` header,
/// UDA 2.0 §1.1.2, e.g. "Linux/2.6.36", "Microsoft-Windows/6.1", "Windows NT/5.1"): the family,
/// with the version when the token is exactly the family name, and Windows versions by NT
/// number.
pub fn product_token_os(token: &[u8]) -> Option<String> {
    let (name, version) = match token.iter().position(|&b| b == b'/') {
        Some(i) => (token.get(..i)?, token.get(i + 1..).unwrap_or(&[])),
        None => (token, &[][..]),
    };
    let family = named_os(name)?;
    let version = version_after(version, 0);
    if family == "Windows" {
        return Some(match version {
            Some(v) if v.contains('.') => windows_nt_name(v.as_bytes()),
            _ => "Windows".to_string(),
        });
    }
    Some(match version {
        Some(v) if name.eq_ignore_ascii_case(family.as_bytes()) => format!("{family} {v}"),
        _ => family.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
