//! TLS handshakes on TCP (RFC 8446 §4 and §5, RFC 5246 §6.2 and §7.4): who the client asked
//! for, and who the server said it was.
//!
//! Records are read incrementally from each direction's stream. Handshake messages are taken
//! straight out of the record when they fit in it; a message split over several records is
//! reassembled in a per-direction buffer capped at [`MAX_HANDSHAKE`]. A direction is given up
//! (and its bytes consumed unread) once it turns encrypted: after ChangeCipherSpec, on
//! application data, or after a TLS 1.3 ServerHello.
//!
//! Observations:
//! - ClientHello server_name (RFC 6066 §3) → the peer's `Hostname`, source "tls sni"; and,
//!   sent by the flow's client, a `Lookup` ("tls sni") of the name, once per connection (a
//!   second ClientHello after HelloRetryRequest repeats it);
//! - the first certificate of a cleartext Certificate message (TLS ≤ 1.2) → the sender's
//!   `Description` "tls certificate subject: CN=..., O=...", and its CN as `Hostname` when
//!   the CN is a plain DNS name.
//!
//! Negotiated versions are parsed ([`ClientHello`], [`ServerHello`]) but not emitted: the
//! observation model has no field for them yet.

use super::ber::{self, Oid, Reader, Tag};
use super::framing::{Framing, Stream};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::violations::Violations;
use super::{Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

/// TLS on its usual TCP ports: HTTPS, alternates, OPC UA HTTPS (4843), MQTT over TLS (8883),
/// IMAPS, POP3S, SMTPS (465) and LDAPS. Other ports are found by the content probe.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "tls",
    transport: Transport::Tcp,
    ports: &[443, 465, 636, 993, 995, 4843, 8443, 8883],
    probe,
    new,
};

const PROTOCOL: &str = "tls";
/// Largest record body: TLSCiphertext may be 2^14 + 2048 octets (RFC 5246 §6.2.3).
pub const MAX_RECORD: usize = 16384 + 2048;
/// Largest handshake message reassembled across records; a bigger one ends parsing of that
/// direction (certificate chains over 64 KiB are rare and the first certificate is all we
/// would read).
pub const MAX_HANDSHAKE: usize = 64 * 1024;

// ContentType (RFC 8446 §5.1).
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

// HandshakeType (RFC 8446 §4, RFC 5246 §7.4).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;

// ExtensionType (RFC 8446 §4.2).
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// ProtocolVersion of TLS 1.3 (RFC 8446 §4.2.1).
pub const TLS13: u16 = 0x0304;

/// The ServerHello.random that marks a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

// X.520 attribute types (RFC 5280 Appendix A.1).
const AT_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const AT_ORGANIZATION: &[u64] = &[2, 5, 4, 10];

/// Content probe: a handshake record (type 22, version 3.x, plausible length) that starts
/// with a ClientHello or ServerHello of plausible length and version 3.x.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let Some(&[ctype, major, minor, l0, l1, hs_type]) = data.first_chunk::<6>() else {
        // Judge what is there; ask for the rest.
        let fits = data.first().is_none_or(|&b| b == HANDSHAKE)
            && data.get(1).is_none_or(|&b| b == 3)
            && data.get(2).is_none_or(|&b| b <= 4);
        return if fits { Probe::NeedMore } else { Probe::No };
    };
    let record_len = usize::from(u16::from_be_bytes([l0, l1]));
    if ctype != HANDSHAKE
        || major != 3
        || minor > 4
        || !(4..=MAX_RECORD).contains(&record_len)
        || !matches!(hs_type, CLIENT_HELLO | SERVER_HELLO)
    {
        return Probe::No;
    }
    let Some(&[_, _, _, _, _, _, m0, m1, m2, version_major]) = data.first_chunk::<10>() else {
        return Probe::NeedMore;
    };
    let msg_len = u32::from_be_bytes([0, m0, m1, m2]) as usize;
    // Smallest ServerHello body: version, random, session id length, suite, compression.
    if !(38..=MAX_HANDSHAKE).contains(&msg_len) || version_major != 3 {
        return Probe::No;
    }
    Probe::Yes
}

fn new() -> Box<dyn Dissector> {
    Box::new(TlsDissector::default())
}

/// One direction's state.
#[derive(Debug, Default)]
struct Side {
    /// Encrypted, lost, or not TLS: consume and ignore.
    done: bool,
    /// A handshake message split across records (bounded by [`MAX_HANDSHAKE`]).
    pending: Vec<u8>,
    /// A ClientHello was read from this side.
    hello_seen: bool,
}

impl Side {
    fn give_up(&mut self) {
        self.done = true;
        self.pending = Vec::new();
    }
}

/// Per-flow TLS state.
#[derive(Debug, Default)]
pub struct TlsDissector {
    client: Side,
    server: Side,
    violations: Violations,
}

/// RFC 8446 §5.1: type (1), legacy_record_version (2), length (2), then the fragment.
const RECORD_HEADER: usize = 5;

/// Frames the record at the start of a stream by its header. Anything but a record ends the
/// direction: all of it is passed over.
fn frame(data: &[u8]) -> Framing<TlsError> {
    let Some(&[ctype, major, _minor, l0, l1]) = data.first_chunk::<RECORD_HEADER>() else {
        return Framing::Incomplete {
            needed: RECORD_HEADER,
        };
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&ctype) || major != 3 || len > MAX_RECORD {
        return Framing::broken(data.len(), TlsError::NotARecord { ctype, len });
    }
    let len = RECORD_HEADER + len;
    if data.len() >= len {
        Framing::Complete { len }
    } else {
        Framing::Incomplete { needed: len }
    }
}

impl Stream for TlsDissector {
    type Error = TlsError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<TlsError> {
        let side = self.side(dir);
        if side.done {
            return Framing::skip(data.len());
        }
        let framing = frame(data);
        if let Framing::Resync { .. } = framing {
            side.give_up();
        }
        framing
    }

    fn on_broken(&mut self, _dir: Direction, error: TlsError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        record: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let (&ctype, _) = record.split_first()?;
        let fragment = record.get(RECORD_HEADER..).unwrap_or_default();
        let (sender, peer) = (dir.sender(), dir.receiver());
        let side = match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        };
        match ctype {
            HANDSHAKE => {
                let mut ctx = Ctx {
                    sender,
                    peer,
                    out,
                    violations: &mut self.violations,
                };
                handshake_fragment(side, fragment, &mut ctx);
            }
            // Everything after ChangeCipherSpec, and all application data, is encrypted.
            CHANGE_CIPHER_SPEC | APPLICATION_DATA => side.give_up(),
            // Cleartext alerts end the connection; heartbeats carry nothing we need.
            _ => {}
        }
        Some(record.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        // Mid-handshake loss cannot be bridged; the handshake is over soon anyway.
        self.side(dir).give_up();
    }
}

impl TlsDissector {
    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }

    fn violation(&mut self, out: &mut Vec<Observation>, reason: TlsError) {
        violation(&mut self.violations, out, reason);
    }
}

fn violation(budget: &mut Violations, out: &mut Vec<Observation>, reason: TlsError) {
    budget.record(PROTOCOL, reason, out);
}

/// Why TLS traffic is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("not a TLS record (type {ctype}, length {len})")]
    NotARecord { ctype: u8, len: usize },
    #[error("zero-length TLS handshake record")]
    EmptyHandshake,
    #[error("malformed TLS ClientHello")]
    ClientHello,
    #[error("malformed TLS ServerHello")]
    ServerHello,
}

/// Where a handshake message's observations go.
struct Ctx<'o> {
    sender: Subject,
    peer: Subject,
    out: &'o mut Vec<Observation>,
    violations: &'o mut Violations,
}

/// Feeds one handshake record's fragment: whole messages are handled in place, a trailing
/// partial message is kept in `side.pending` until the next records complete it.
fn handshake_fragment(side: &mut Side, fragment: &[u8], ctx: &mut Ctx<'_>) {
    if fragment.is_empty() {
        // RFC 8446 §5.1: zero-length handshake fragments MUST NOT be sent.
        violation(ctx.violations, ctx.out, TlsError::EmptyHandshake);
        return;
    }
    if side.pending.is_empty() {
        let used = handshake_messages(side, fragment, ctx);
        let tail = fragment.get(used..).unwrap_or_default();
        if !side.done && !tail.is_empty() {
            if declared_size(tail).is_some_and(|n| n > MAX_HANDSHAKE) {
                side.give_up();
            } else {
                side.pending.extend_from_slice(tail);
            }
        }
        return;
    }
    if side.pending.len() + fragment.len() > MAX_HANDSHAKE + 4 {
        side.give_up();
        return;
    }
    side.pending.extend_from_slice(fragment);
    let buf = std::mem::take(&mut side.pending);
    let used = handshake_messages(side, &buf, ctx);
    if !side.done {
        let tail = buf.get(used..).unwrap_or_default();
        if declared_size(tail).is_some_and(|n| n > MAX_HANDSHAKE) {
            side.give_up();
        } else {
            // Reuse the allocation for what is left.
            let mut buf = buf;
            buf.drain(..used.min(buf.len()));
            side.pending = buf;
        }
    }
}

/// Size (header included) of the handshake message starting `data`, once its header is in.
fn declared_size(data: &[u8]) -> Option<usize> {
    let &[_, a, b, c] = data.first_chunk::<4>()?;
    Some(4 + u32::from_be_bytes([0, a, b, c]) as usize)
}

/// Handles every complete handshake message at the start of `data`; returns bytes used.
fn handshake_messages(side: &mut Side, data: &[u8], ctx: &mut Ctx<'_>) -> usize {
    let mut used = 0;
    // RFC 8446 §4: msg_type (1), length (3), body.
    while let Some((&[msg_type, a, b, c], rest)) = data
        .get(used..)
        .unwrap_or_default()
        .split_first_chunk::<4>()
    {
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        let Some(body) = rest.get(..len) else {
            break;
        };
        used += 4 + len;
        handshake_message(side, msg_type, body, ctx);
        if side.done {
            break;
        }
    }
    used
}

fn handshake_message(side: &mut Side, msg_type: u8, body: &[u8], ctx: &mut Ctx<'_>) {
    match msg_type {
        CLIENT_HELLO => match parse_client_hello(body) {
            Some(hello) => {
                let first = !std::mem::replace(&mut side.hello_seen, true);
                if first && ctx.sender == Subject::Client {
                    if let Some(name) = hello.server_name.and_then(super::dns::lookup_name) {
                        ctx.out.push(Observation::Lookup {
                            name,
                            via: "tls sni",
                        });
                    }
                }
                if let Some(name) = hello.server_name.and_then(hostname) {
                    ctx.out.push(Observation::Identity {
                        subject: ctx.peer,
                        field: Field::Hostname,
                        value: name,
                        source: source::TLS_SNI,
                    });
                }
            }
            None => violation(ctx.violations, ctx.out, TlsError::ClientHello),
        },
        SERVER_HELLO => match parse_server_hello(body) {
            // TLS 1.3 encrypts everything after ServerHello (RFC 8446 §2).
            Some(hello) if hello.selected_version() == TLS13 && !hello.hello_retry => {
                side.give_up()
            }
            Some(_) => {}
            None => violation(ctx.violations, ctx.out, TlsError::ServerHello),
        },
        CERTIFICATE => {
            if let Some(name) = first_certificate(body).and_then(certificate_subject) {
                emit_certificate(&name, ctx);
            }
        }
        _ => {}
    }
}

fn emit_certificate(name: &CertificateName, ctx: &mut Ctx<'_>) {
    let mut parts = Vec::with_capacity(2);
    if let Some(cn) = &name.common_name {
        parts.push(format!("CN={cn}"));
    }
    if let Some(o) = &name.organization {
        parts.push(format!("O={o}"));
    }
    if parts.is_empty() {
        return;
    }
    ctx.out.push(Observation::Identity {
        subject: ctx.sender,
        field: Field::Description,
        value: format!("tls certificate subject: {}", parts.join(", ")),
        source: source::TLS_CERTIFICATE,
    });
    if let Some(host) = name
        .common_name
        .as_deref()
        .and_then(|cn| hostname(cn.as_bytes()))
    {
        ctx.out.push(Observation::Identity {
            subject: ctx.sender,
            field: Field::Hostname,
            value: host,
            source: source::TLS_CERTIFICATE,
        });
    }
}

/// A vector with a one-byte length (RFC 8446 §3.4).
fn vec8<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let n = c.u8()?;
    c.take(usize::from(n))
}

/// A vector with a two-byte length (RFC 8446 §3.4).
fn vec16<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let n = c.u16_be()?;
    c.take(usize::from(n))
}

/// A three-byte length (RFC 8446 §4).
fn u24(c: &mut Cursor<'_>) -> Option<usize> {
    c.u24_be().and_then(|n| usize::try_from(n).ok())
}

/// What a ClientHello says that we keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello<'a> {
    pub legacy_version: u16,
    /// The first host_name in server_name (RFC 6066 §3), raw.
    pub server_name: Option<&'a [u8]>,
    /// Highest version offered in supported_versions (RFC 8446 §4.2.1), GREASE skipped.
    pub max_supported_version: Option<u16>,
}

/// Parses a ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
pub fn parse_client_hello(body: &[u8]) -> Option<ClientHello<'_>> {
    let mut c = Cursor::new(body);
    let legacy_version = c.u16_be()?;
    c.take(32)?; // random
    vec8(&mut c)?; // legacy_session_id
    vec16(&mut c)?; // cipher_suites
    vec8(&mut c)?; // legacy_compression_methods
    let mut hello = ClientHello {
        legacy_version,
        server_name: None,
        max_supported_version: None,
    };
    if c.is_empty() {
        return Some(hello); // no extensions (SSL 3.0-era clients)
    }
    let mut exts = Cursor::new(vec16(&mut c)?);
    while !exts.is_empty() {
        let ext_type = exts.u16_be()?;
        let mut data = Cursor::new(vec16(&mut exts)?);
        match ext_type {
            EXT_SERVER_NAME => {
                // ServerNameList: list length, then (name_type, HostName<1..2^16-1>).
                let mut list = Cursor::new(vec16(&mut data)?);
                while !list.is_empty() {
                    let name_type = list.u8()?;
                    let name = vec16(&mut list)?;
                    if name_type == 0 && hello.server_name.is_none() {
                        hello.server_name = Some(name);
                    }
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                let list = vec8(&mut data)?;
                hello.max_supported_version = list
                    .chunks_exact(2)
                    .map(|v| u16::from_be_bytes([v[0], v[1]]))
                    .filter(|v| v & 0x0f0f != 0x0a0a) // GREASE, RFC 8701 §2
                    .max();
            }
            _ => {}
        }
    }
    Some(hello)
}

/// What a ServerHello says that we keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// supported_versions selected_version (TLS 1.3 and later).
    pub supported_version: Option<u16>,
    pub hello_retry: bool,
}

impl ServerHello {
    /// The version the server chose.
    pub fn selected_version(&self) -> u16 {
        self.supported_version.unwrap_or(self.legacy_version)
    }
}

/// Parses a ServerHello body (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3).
pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut c = Cursor::new(body);
    let legacy_version = c.u16_be()?;
    let random = c.take(32)?;
    vec8(&mut c)?; // legacy_session_id_echo
    c.u16_be()?; // cipher_suite
    c.u8()?; // legacy_compression_method
    let mut hello = ServerHello {
        legacy_version,
        supported_version: None,
        hello_retry: random == HELLO_RETRY_RANDOM,
    };
    if c.is_empty() {
        return Some(hello);
    }
    let mut exts = Cursor::new(vec16(&mut c)?);
    while !exts.is_empty() {
        let ext_type = exts.u16_be()?;
        let mut data = Cursor::new(vec16(&mut exts)?);
        if ext_type == EXT_SUPPORTED_VERSIONS {
            hello.supported_version = Some(data.u16_be()?);
        }
    }
    Some(hello)
}

/// The DER of the first certificate in a TLS ≤ 1.2 Certificate body (RFC 5246 §7.4.2):
/// certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>.
fn first_certificate(body: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor::new(body);
    let list_len = u24(&mut c)?;
    let mut list = Cursor::new(c.take(list_len)?);
    let cert_len = u24(&mut list)?;
    list.take(cert_len)
}

/// Subject CN and O of an X.509 certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateName {
    pub common_name: Option<String>,
    pub organization: Option<String>,
}

/// Reads the subject of a DER certificate (RFC 5280 §4.1): the last CN (the most specific
/// one) and the first O.
pub fn certificate_subject(der: &[u8]) -> Option<CertificateName> {
    let mut cert = Reader::new(der).read_sequence().ok()?;
    let mut tbs = cert.read_sequence().ok()?;
    // version [0] EXPLICIT is optional (absent means v1).
    tbs.read_optional(Tag::context(0, true)).ok()?;
    tbs.read_expect(Tag::INTEGER).ok()?; // serialNumber
    tbs.read_sequence().ok()?; // signature AlgorithmIdentifier
    tbs.read_sequence().ok()?; // issuer
    tbs.read_sequence().ok()?; // validity
    let subject = tbs.read_sequence().ok()?;
    let mut name = CertificateName::default();
    // Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue).
    for rdn in subject {
        let rdn = rdn.ok().filter(|t| t.tag == Tag::SET)?;
        for atv in rdn.reader() {
            let atv = atv.ok().filter(|t| t.tag == Tag::SEQUENCE)?;
            let mut r = atv.reader();
            let kind: Oid<'_> = r.read_oid().ok()?;
            let value = r.read().ok()?;
            if kind.is(AT_COMMON_NAME) {
                name.common_name = ber::string_value(&value).filter(|s| !s.is_empty());
            } else if kind.is(AT_ORGANIZATION) && name.organization.is_none() {
                name.organization = ber::string_value(&value).filter(|s| !s.is_empty());
            }
        }
    }
    Some(name)
}

/// `raw` as a host name when it is one: DNS label syntax (RFC 1123 §2.1), at most 253
/// characters, not an IPv4 literal, no wildcard, not "localhost".
pub fn hostname(raw: &[u8]) -> Option<String> {
    if raw.is_empty() || raw.len() > 253 {
        return None;
    }
    let labels_ok = raw.split(|&b| b == b'.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
    });
    let has_letter = raw.iter().any(u8::is_ascii_alphabetic);
    if !labels_ok || !has_letter || raw.eq_ignore_ascii_case(b"localhost") {
        return None;
    }
    Some(String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
