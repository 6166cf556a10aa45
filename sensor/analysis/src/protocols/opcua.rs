//! OPC UA binary over TCP: UA Connection Protocol (OPC 10000-6 "Part 6" §7.1), UA Secure
//! Conversation (§6.7) and, where the channel is not encrypted, the service requests of
//! OPC 10000-4 ("Part 4").
//!
//! What it reports:
//! - the endpoint URL a client asks for in Hello (§7.1.2.3) as a description of the server
//!   (source source::OPCUA_HELLO; source::OPCUA_REVERSE_HELLO for a ReverseHello, §7.1.2.6);
//! - the channel's security policy from the OpenSecureChannel asymmetric security header
//!   (§6.7.2.3), e.g. "opcua security policy None": a finding for later alerts, not a
//!   violation (source source::OPCUA_OPEN_SECURE_CHANNEL);
//! - the channel's MessageSecurityMode next to it, e.g. "opcua security mode None": read from
//!   the OpenSecureChannelRequest when its body is in clear (policy None; source "opcua open
//!   secure channel"). With another policy that body is always encrypted (Part 6 §6.7.4:
//!   OpenSecureChannel messages are signed and encrypted unless the mode is None), so the
//!   mode is inferred from the requests that follow: a request whose type id is a known
//!   service is in clear, "Sign" (source source::OPCUA_SIGNED_MESSAGE); [`OPAQUE_REQUESTS`]
//!   requests in a row that are not mean "SignAndEncrypt" (source "opcua encrypted
//!   message"). Once per flow;
//! - every service request as an operation whose function code is the request's
//!   encoding id (ReadRequest 631 = read, WriteRequest 673 = write, CallRequest 712 =
//!   control, GetEndpoints 428 = identify, ...). OpenSecureChannel (446) and
//!   CloseSecureChannel (452) are known from the message type even when encrypted;
//!   the other services from the body's type id;
//! - a CallRequest as one operation per method called, with the method's NodeId and browse
//!   name as evidence, and the operation judged from that name (firmware update, program
//!   download/upload, start, stop, restart, else control); names are learned from the
//!   Browse, BrowseNext and TranslateBrowsePathsToNodeIds exchanges of the flow ([`methods`]);
//! - from readable bodies: the client application of CreateSession (source "opcua create
//!   session"), the server application from GetEndpoints/CreateSession responses (source
//!   source::OPCUA_GET_ENDPOINTS / source::OPCUA_CREATE_SESSION), and a `CleartextLogin` when
//!   ActivateSession carries a UserNameIdentityToken whose password is not encrypted
//!   (EncryptionAlgorithm empty). The password is never read out.
//!
//! Which bodies are readable: with policy None all of them. With another policy the
//! channel's MessageSecurityMode is inside the encrypted OpenSecureChannel, so it is not
//! known whether MSG bodies are only signed (readable) or encrypted; and a capture may start
//! after the OpenSecureChannel. In those cases a body is only believed when its type id is
//! a known service encoding id (a chance of about 1 in 10^8 for ciphertext) and, for
//! identity, when the whole structure decodes; with policy None any type id is reported.
//!
//! Framing: every message starts with a 3-byte type, a chunk type ('F' final, 'C'
//! intermediate, 'A' abort) and a UInt32 size (§7.1.2.2, §6.7.2.2). At most
//! [`CHUNK_PREFIX_CAP`] bytes of a chunk are looked at (the rest is skipped unread), and a
//! multi-chunk message keeps at most [`BODY_CAP`] body bytes, only when its body is wanted.
//! After a gap or a broken header the dissector scans for the next plausible header, with
//! the channel's SecureChannelId as an extra check once known.
//!
//! Read to understand (not copied): open62541 `src/ua_securechannel.c` (chunk processing),
//! asyncua `asyncua/ua/uaprotocol_hand.py` and `asyncua/common/connection.py`, Zeek ICSNPP
//! opcua-binary `src/opcua_binary-protocol.pac`.

mod binary;
mod framing;
mod methods;
mod services;
#[cfg(test)]
mod tests;

use self::binary::ApplicationDescription;
pub use self::framing::MessageType;
use self::framing::{boundary, frame, probe, Header, HEADER_LEN, MAX_ENDPOINT_URL, POLICY_PREFIX};
pub use self::framing::{OpcUaError, CHUNK_PREFIX_CAP};
use self::services::UserIdentity;
use super::framing::{step, Framing, Stream, Unread};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::text::{clean, fingerprint};
use super::violations::Violations;
use super::{Direction, Dissector, Transport};
use otwatch_common::observation::{Field, Observation, Source, Subject};

/// OPC UA binary (IANA "opcua-tcp", TCP 4840); found by content on other ports too.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "opcua",
    transport: Transport::Tcp,
    ports: &[4840],
    probe,
    new,
};

const PROTOCOL: &str = "opcua";
/// Body bytes of a multi-chunk message kept for decoding.
pub const BODY_CAP: usize = 32 << 10;
const POLICY_NONE: &[u8] = b"http://opcfoundation.org/UA/SecurityPolicy#None";
/// Requests with an unreadable type id, after an OpenSecureChannel with a policy other than
/// None, that make the channel's mode SignAndEncrypt.
pub const OPAQUE_REQUESTS: u8 = 3;
/// Distinct security policies reported per flow.
const MAX_POLICIES: usize = 4;

fn new() -> Box<dyn Dissector> {
    Box::new(OpcUaDissector::default())
}

/// Whether the channel's bodies can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Security {
    /// No OpenSecureChannel seen (capture started mid-connection).
    #[default]
    Unknown,
    /// SecurityPolicy#None: bodies travel in clear.
    Cleartext,
    /// Any other policy: bodies are signed, and encrypted in SignAndEncrypt mode.
    Protected,
}

/// A multi-chunk message in progress (§6.7.3: the chunks of one message are sent
/// sequentially, 'C' chunks then an 'F' one; all carry the same RequestId, §6.7.2.4).
#[derive(Debug, Clone, Copy)]
struct Chunking {
    request_id: u32,
    type_id: u32,
    /// The body is wanted (an identity-bearing service) and is being kept.
    keep: bool,
}

#[derive(Default)]
struct Side {
    /// What is left of the current chunk past its prefix, passed over unread.
    unread: Unread,
    /// Looking for the next header after a gap or a broken one.
    resync: bool,
    chunking: Option<Chunking>,
    /// Kept body of the multi-chunk message (at most [`BODY_CAP`] bytes).
    body: Vec<u8>,
}

/// Per-flow OPC UA state.
pub struct OpcUaDissector {
    to_server: Side,
    to_client: Side,
    /// Direction service requests travel: Hello's direction, the other one after a
    /// ReverseHello (§7.1.2.6: the server opened the TCP connection).
    request_dir: Direction,
    /// `request_dir` was fixed by a Hello/ReverseHello or a known request type id (a
    /// capture that starts mid-connection may have the flow's sides the wrong way round).
    roles_known: bool,
    security: Security,
    /// SecureChannelId assigned by the server (§6.7.2.2), once seen.
    channel_id: Option<u32>,
    endpoint_reported: bool,
    policies: [u64; MAX_POLICIES],
    policies_len: usize,
    /// The MessageSecurityMode was reported.
    mode_reported: bool,
    /// Requests on a protected channel whose type id was not a known service.
    opaque_requests: u8,
    client_app_reported: bool,
    server_app_reported: bool,
    last_login: Option<u64>,
    violations: Violations,
    /// Browse names of the nodes this flow showed, to name the methods it calls.
    names: methods::Names,
}

impl Default for OpcUaDissector {
    fn default() -> Self {
        OpcUaDissector {
            to_server: Side::default(),
            to_client: Side::default(),
            request_dir: Direction::ToServer,
            roles_known: false,
            security: Security::Unknown,
            channel_id: None,
            endpoint_reported: false,
            policies: [0; MAX_POLICIES],
            policies_len: 0,
            mode_reported: false,
            opaque_requests: 0,
            client_app_reported: false,
            server_app_reported: false,
            last_login: None,
            violations: Violations::default(),
            names: methods::Names::default(),
        }
    }
}

impl Stream for OpcUaDissector {
    type Error = OpcUaError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<OpcUaError> {
        let channel = self.channel_id;
        let side = self.side_mut(dir);
        if let Some(skip) = side.unread.pass(data) {
            return skip;
        }
        step(&mut side.resync, data, frame, |d| boundary(d, channel))
    }

    fn on_broken(&mut self, _dir: Direction, error: OpcUaError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, error, out);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        chunk: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let header = Header::parse(chunk)?;
        let size = usize::try_from(header.size).unwrap_or(usize::MAX);
        self.message(dir, header, chunk, chunk.len() < size, out);
        self.side_mut(dir).unread.set(size - chunk.len());
        Some(chunk.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = self.side_mut(dir);
        side.unread.clear();
        side.resync = true;
        side.chunking = None;
        side.body.clear();
    }
}

impl OpcUaDissector {
    fn side_mut(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// The flow endpoint that is the OPC UA server (the receiver of requests).
    fn ua_server(&self) -> Subject {
        self.request_dir.receiver()
    }

    fn ua_client(&self) -> Subject {
        self.request_dir.sender()
    }

    fn violation(&mut self, out: &mut Vec<Observation>, reason: OpcUaError) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// One chunk (or its first [`CHUNK_PREFIX_CAP`] bytes when `truncated`).
    fn message(
        &mut self,
        dir: Direction,
        h: Header,
        chunk: &[u8],
        truncated: bool,
        out: &mut Vec<Observation>,
    ) {
        let mut c = Cursor::new(chunk);
        if c.skip(HEADER_LEN).is_none() {
            return;
        }
        match h.kind {
            MessageType::HELLO => self.hello(dir, &mut c, truncated, out),
            MessageType::REVERSE_HELLO => self.reverse_hello(dir, &mut c, truncated, out),
            MessageType::OPEN => self.open(dir, h, &mut c, truncated, out),
            MessageType::MESSAGE | MessageType::CLOSE => self.secure(dir, h, &mut c, out),
            // Acknowledge (§7.1.2.4) and Error (§7.1.2.5) say nothing about identity.
            _ => {}
        }
    }

    /// Hello (§7.1.2.3): ProtocolVersion, ReceiveBufferSize, SendBufferSize,
    /// MaxMessageSize, MaxChunkCount (UInt32 each), EndpointUrl String.
    fn hello(
        &mut self,
        dir: Direction,
        c: &mut Cursor<'_>,
        truncated: bool,
        out: &mut Vec<Observation>,
    ) {
        self.request_dir = dir;
        self.roles_known = true;
        let url = c.skip(20).and_then(|()| binary::bytes(c));
        match url {
            None if !truncated => self.violation(out, OpcUaError::HelloUrlOverrun),
            None => {}
            Some(url) if url.len() > MAX_ENDPOINT_URL => {
                self.violation(out, OpcUaError::HelloUrlLong);
            }
            Some(url) => self.endpoint(url, source::OPCUA_HELLO, out),
        }
    }

    /// ReverseHello (§7.1.2.6): ServerUri String, EndpointUrl String, sent by the server.
    fn reverse_hello(
        &mut self,
        dir: Direction,
        c: &mut Cursor<'_>,
        truncated: bool,
        out: &mut Vec<Observation>,
    ) {
        self.request_dir = dir.other();
        self.roles_known = true;
        match binary::bytes(c).and_then(|_| binary::bytes(c)) {
            None if !truncated => {
                self.violation(out, OpcUaError::ReverseHelloOverrun);
            }
            None => {}
            Some(url) => self.endpoint(url, source::OPCUA_REVERSE_HELLO, out),
        }
    }

    fn endpoint(&mut self, url: &[u8], source: Source, out: &mut Vec<Observation>) {
        if self.endpoint_reported {
            return;
        }
        if let Some(url) = clean(url) {
            self.endpoint_reported = true;
            out.push(Observation::Identity {
                subject: self.ua_server(),
                field: Field::Description,
                value: format!("opcua endpoint {url}"),
                source,
            });
        }
    }

    /// OpenSecureChannel (§6.7.2.2-3): SecureChannelId, then the asymmetric algorithm
    /// security header: SecurityPolicyUri String, SenderCertificate ByteString,
    /// ReceiverCertificateThumbprint ByteString. The body (OpenSecureChannelRequest/
    /// Response) is encrypted unless the policy is None, so the function code comes from
    /// the message type.
    fn open(
        &mut self,
        dir: Direction,
        h: Header,
        c: &mut Cursor<'_>,
        truncated: bool,
        out: &mut Vec<Observation>,
    ) {
        let Some(channel) = c.u32_le() else {
            return;
        };
        let policy = match binary::bytes(c) {
            Some(p) if !p.is_empty() => p,
            Some(_) => {
                self.violation(out, OpcUaError::NoPolicy);
                return;
            }
            None => {
                if !truncated {
                    self.violation(out, OpcUaError::PolicyOverrun);
                }
                return;
            }
        };
        if channel != 0 {
            self.channel_id = Some(channel);
        }
        self.security = if policy == POLICY_NONE {
            Security::Cleartext
        } else {
            Security::Protected
        };
        self.report_policy(policy, out);
        if dir == self.request_dir && h.chunk == b'F' {
            if self.security == Security::Cleartext {
                if let Some(mode) = open_request_mode(c) {
                    self.report_mode(mode, source::OPCUA_OPEN_SECURE_CHANNEL, out);
                }
            }
            self.request(services::OPEN_SECURE_CHANNEL_REQUEST, out);
        }
    }

    /// Reports the channel's MessageSecurityMode (Part 4 §7.20: 0 Invalid, 1 None, 2 Sign,
    /// 3 SignAndEncrypt), once per flow.
    fn report_mode(&mut self, mode: u32, source: Source, out: &mut Vec<Observation>) {
        if self.mode_reported {
            return;
        }
        self.mode_reported = true;
        let name = match mode {
            1 => "None",
            2 => "Sign",
            3 => "SignAndEncrypt",
            _ => "Invalid",
        };
        out.push(Observation::Identity {
            subject: self.ua_server(),
            field: Field::Description,
            value: format!("opcua security mode {name}"),
            source,
        });
    }

    /// On a channel opened with a policy other than None, the first message body of each
    /// request tells whether the mode encrypts: a known service type id is in clear.
    fn infer_mode(&mut self, dir: Direction, type_id: Option<u32>, out: &mut Vec<Observation>) {
        if self.mode_reported
            || self.security != Security::Protected
            || !self.roles_known
            || dir != self.request_dir
        {
            return;
        }
        if type_id.is_some_and(|t| services::request_operation(t).is_some()) {
            self.report_mode(2, source::OPCUA_SIGNED_MESSAGE, out);
            return;
        }
        self.opaque_requests = self.opaque_requests.saturating_add(1);
        if self.opaque_requests >= OPAQUE_REQUESTS {
            self.report_mode(3, source::OPCUA_ENCRYPTED_MESSAGE, out);
        }
    }

    fn report_policy(&mut self, policy: &[u8], out: &mut Vec<Observation>) {
        let fp = fingerprint(policy);
        let seen = self.policies.get(..self.policies_len).unwrap_or_default();
        if seen.contains(&fp) || self.policies_len >= MAX_POLICIES {
            return;
        }
        let name = policy.strip_prefix(POLICY_PREFIX).unwrap_or(policy);
        let Some(name) = clean(name) else {
            return;
        };
        if let Some(slot) = self.policies.get_mut(self.policies_len) {
            *slot = fp;
            self.policies_len += 1;
        }
        out.push(Observation::Identity {
            subject: self.ua_server(),
            field: Field::Description,
            value: format!("opcua security policy {name}"),
            source: source::OPCUA_OPEN_SECURE_CHANNEL,
        });
    }

    /// MSG and CLO (§6.7.2.2-4): SecureChannelId, TokenId (symmetric security header),
    /// then SequenceNumber and RequestId (the sequence header), then the body: a NodeId
    /// naming the service's encoding, followed by the service structure (§5.2.9 in 1.05,
    /// "Messages" are encoded like ExtensionObjects without a length; §6.7.2.4: the body may
    /// be split across chunks). Intermediate chunks carry only a continuation.
    fn secure(
        &mut self,
        dir: Direction,
        h: Header,
        c: &mut Cursor<'_>,
        out: &mut Vec<Observation>,
    ) {
        let Some(channel) = c.u32_le() else {
            return;
        };
        if self.channel_id.is_none() && channel != 0 {
            self.channel_id = Some(channel);
        }
        let requests = dir == self.request_dir;
        if h.kind == MessageType::CLOSE {
            if requests && h.chunk == b'F' {
                self.request(services::CLOSE_SECURE_CHANNEL_REQUEST, out);
            }
            return;
        }
        let Some(request_id) = c.skip(8).and_then(|()| c.u32_le()) else {
            return;
        };
        let body = c.rest();
        let side = self.side_mut(dir);
        if h.chunk == b'A' {
            // Abort (§6.7.3): the message is abandoned; the chunk's body is an error.
            side.chunking = None;
            side.body.clear();
            return;
        }
        match side.chunking {
            Some(ch) if ch.request_id == request_id => {
                if ch.keep {
                    let room = BODY_CAP.saturating_sub(side.body.len());
                    side.body
                        .extend_from_slice(body.get(..room.min(body.len())).unwrap_or_default());
                }
                if h.chunk == b'F' {
                    side.chunking = None;
                    let kept = std::mem::take(&mut side.body);
                    if ch.keep {
                        self.service(requests, ch.type_id, request_id, &kept, out);
                    }
                    let side = self.side_mut(dir);
                    side.body = kept;
                    side.body.clear();
                }
            }
            _ => {
                // The first (or only) chunk: the body starts with the service's type id.
                side.chunking = None;
                side.body.clear();
                let mut b = Cursor::new(body);
                let type_id = binary::expanded_node_id(&mut b).and_then(|n| n.ns0_numeric());
                self.infer_mode(dir, type_id, out);
                let Some(type_id) = type_id else {
                    return;
                };
                let body = b.rest();
                if !self.roles_known && services::request_operation(type_id).is_some() {
                    self.request_dir = dir;
                    self.roles_known = true;
                }
                let requests = dir == self.request_dir;
                if requests && type_id == services::CALL_REQUEST {
                    // The methods are named in the first chunk, whatever follows.
                    self.call(body, out);
                } else if requests {
                    self.request(type_id, out);
                }
                let keep = wanted(requests, type_id);
                if h.chunk == b'F' {
                    if keep {
                        self.service(requests, type_id, request_id, body, out);
                    }
                } else {
                    let side = self.side_mut(dir);
                    side.chunking = Some(Chunking {
                        request_id,
                        type_id,
                        keep,
                    });
                    if keep {
                        side.body.extend_from_slice(
                            body.get(..BODY_CAP.min(body.len())).unwrap_or_default(),
                        );
                    }
                }
            }
        }
    }

    /// A service request: an operation when the id is a known request, a bare function
    /// code for session/channel/subscription plumbing, and for an id this table does not
    /// know only when the body is known to be clear.
    fn request(&self, type_id: u32, out: &mut Vec<Observation>) {
        match services::request_operation(type_id) {
            Some(Some(op)) => out.push(Observation::Operation {
                op,
                function_code: Some(type_id),
                details: Vec::new(),
            }),
            Some(None) => out.push(Observation::FunctionCode(type_id)),
            None if self.security == Security::Cleartext => {
                out.push(Observation::FunctionCode(type_id));
            }
            None => {}
        }
    }

    /// A CallRequest: one operation for each method called, classified by its name
    /// ([`methods`]); the generic call when no method could be read.
    fn call(&self, body: &[u8], out: &mut Vec<Observation>) {
        let before = out.len();
        let names = &self.names;
        methods::call_methods(body, |method| out.push(names.call(&method)));
        if out.len() == before {
            self.request(services::CALL_REQUEST, out);
        }
    }

    /// A whole service body (after its type id) of a service read for identity or names.
    fn service(
        &mut self,
        request: bool,
        type_id: u32,
        request_id: u32,
        body: &[u8],
        out: &mut Vec<Observation>,
    ) {
        match (request, type_id) {
            (true, services::TRANSLATE_REQUEST) => self.names.translate_request(request_id, body),
            (false, services::TRANSLATE_RESPONSE) => {
                self.names.translate_response(request_id, body)
            }
            (false, services::BROWSE_RESPONSE | services::BROWSE_NEXT_RESPONSE) => {
                self.names.browse_response(body)
            }
            (true, services::CREATE_SESSION_REQUEST) => {
                if let Some(app) = services::create_session_request(body) {
                    if !self.client_app_reported {
                        self.client_app_reported = true;
                        self.application(self.ua_client(), app, source::OPCUA_CREATE_SESSION, out);
                    }
                }
            }
            (true, services::ACTIVATE_SESSION_REQUEST) => {
                if let Some(UserIdentity::UserName {
                    user,
                    encryption_algorithm,
                }) = services::activate_session_request(body)
                {
                    // Part 4 §7.36.4: without an EncryptionAlgorithm the password is the
                    // plain UTF-8 secret, readable by anyone on a channel without
                    // encryption.
                    let fp = fingerprint(user);
                    if encryption_algorithm.is_empty() && self.last_login != Some(fp) {
                        self.last_login = Some(fp);
                        out.push(Observation::CleartextLogin {
                            user: clean(user).unwrap_or_default(),
                            protocol: PROTOCOL,
                        });
                    }
                }
            }
            (false, services::GET_ENDPOINTS_RESPONSE) => {
                if let Some(app) = services::get_endpoints_response(body) {
                    if !self.server_app_reported {
                        self.server_app_reported = true;
                        self.application(self.ua_server(), app, source::OPCUA_GET_ENDPOINTS, out);
                    }
                }
            }
            (false, services::CREATE_SESSION_RESPONSE) => {
                if let Some(app) = services::create_session_response(body) {
                    if !self.server_app_reported {
                        self.server_app_reported = true;
                        self.application(self.ua_server(), app, source::OPCUA_CREATE_SESSION, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn application(
        &self,
        subject: Subject,
        app: ApplicationDescription<'_>,
        source: Source,
        out: &mut Vec<Observation>,
    ) {
        let value = match (clean(app.application_name), clean(app.application_uri)) {
            (Some(name), Some(uri)) => format!("opcua application {name} ({uri})"),
            (Some(one), None) | (None, Some(one)) => format!("opcua application {one}"),
            (None, None) => return,
        };
        out.push(Observation::Identity {
            subject,
            field: Field::Description,
            value,
            source,
        });
    }
}

/// The SecurityMode of an OpenSecureChannelRequest in clear, from just after the
/// SecurityPolicyUri (Part 6 §6.7.2.3: SenderCertificate, ReceiverCertificateThumbprint;
/// §6.7.2.4 sequence header: SequenceNumber, RequestId; the body's type id, then Part 4
/// §5.5.2 OpenSecureChannelRequest: RequestHeader, ClientProtocolVersion UInt32,
/// RequestType enum, SecurityMode enum).
fn open_request_mode(c: &mut Cursor<'_>) -> Option<u32> {
    binary::bytes(c)?;
    binary::bytes(c)?;
    c.skip(8)?;
    let type_id = binary::expanded_node_id(c)?.ns0_numeric()?;
    if type_id != services::OPEN_SECURE_CHANNEL_REQUEST {
        return None;
    }
    binary::skip_request_header(c)?;
    c.skip(8)?;
    c.u32_le()
}

/// Services whose bodies are read: requests naming the client and its user, responses
/// naming the server application, and those that name nodes (for method calls).
fn wanted(request: bool, type_id: u32) -> bool {
    if request {
        matches!(
            type_id,
            services::CREATE_SESSION_REQUEST
                | services::ACTIVATE_SESSION_REQUEST
                | services::TRANSLATE_REQUEST
        )
    } else {
        matches!(
            type_id,
            services::GET_ENDPOINTS_RESPONSE
                | services::CREATE_SESSION_RESPONSE
                | services::BROWSE_RESPONSE
                | services::BROWSE_NEXT_RESPONSE
                | services::TRANSLATE_RESPONSE
        )
    }
}
