//! VNC / RFB (RFC 6143): the handshake, read until the server's desktop name.
//!
//! §7.1.1 ProtocolVersion (12 bytes each way), §7.1.2 security types (3.7+: a list offered
//! by the server and one chosen by the client; 3.3: one type decided by the server), §7.2.2
//! VNC Authentication (16-byte challenge and response), §7.1.3 SecurityResult, §7.3.1
//! ClientInit and §7.3.2 ServerInit with the desktop name. After that the protocol is
//! framebuffer traffic, or the security type was one we do not follow (Tight, VeNCrypt,
//! Apple...), and the dissector stops reading.
//!
//! Reported: each side's protocol version, the security types the server offers (so "None"
//! is visible) and the desktop name, all as descriptions with their own sources; and a
//! failed SecurityResult after VNC Authentication (a wrong password) as an `AuthFailure`,
//! without a user name (RFB has none).

use super::framing::{Framing, Stream};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::text::wire_text;
use super::{push_identity, violation, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Source, Subject};
use std::convert::Infallible;

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "vnc",
    transport: Transport::Tcp,
    ports: &[5900, 5901, 5902, 5800],
    probe,
    new,
};

const PROTOCOL: &str = "vnc";
/// §7.1.1: "RFB xxx.yyy\n".
const VERSION_LEN: usize = 12;
/// Reason strings and desktop names longer than this are not believed.
const MAX_STRING: usize = 4096;
/// §7.2.2 VNC Authentication challenge and response size.
const CHALLENGE_LEN: usize = 16;
/// §7.3.2 ServerInit fixed part: width, height, PIXEL_FORMAT (16), name-length.
const SERVER_INIT_FIXED: usize = 2 + 2 + 16 + 4;
/// §7.2 security types.
const SEC_INVALID: u8 = 0;
const SEC_NONE: u8 = 1;
const SEC_VNC_AUTH: u8 = 2;

fn new() -> Box<dyn Dissector> {
    Box::new(VncDissector::default())
}

/// §7.1.1 ProtocolVersion, exactly: `RFB ` three digits `.` three digits LF.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    const SHAPE: &[u8; VERSION_LEN] = b"RFB 000.000\n";
    for (i, (&b, &want)) in data.iter().zip(SHAPE.iter()).enumerate() {
        let ok = if want == b'0' {
            b.is_ascii_digit()
        } else {
            b == want
        };
        if !ok {
            return Probe::No;
        }
        if i + 1 == VERSION_LEN {
            return Probe::Yes;
        }
    }
    Probe::NeedMore
}

/// Which handshake a version implies (§7.1.1: unknown versions behave as 3.3, 3.889 from
/// Apple and later majors as 3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Handshake {
    V3_3,
    V3_7,
    V3_8,
}

/// Parses a 12-byte ProtocolVersion; `None` when it is not one.
fn version(msg: &[u8]) -> Option<Handshake> {
    if probe(Direction::ToServer, msg) != Probe::Yes {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u16> {
        std::str::from_utf8(msg.get(r)?).ok()?.parse().ok()
    };
    let (major, minor) = (num(4..7)?, num(8..11)?);
    Some(match (major, minor) {
        (3, 7) => Handshake::V3_7,
        (3, m) if m >= 8 => Handshake::V3_8,
        (m, _) if m > 3 => Handshake::V3_8,
        _ => Handshake::V3_3,
    })
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Server {
    #[default]
    Version,
    Security,
    /// 3.7+: waiting for the client's choice before reading further.
    Chosen,
    Challenge,
    Result,
    /// 3.8: the reason string after a failed SecurityResult.
    Reason,
    Init,
    Done,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Client {
    #[default]
    Version,
    Security,
    Response,
    Init,
    Done,
}

/// Per-flow RFB handshake state.
#[derive(Default)]
pub struct VncDissector {
    server: Server,
    client: Client,
    server_version: Option<Handshake>,
    client_version: Option<Handshake>,
    /// The security type in force: chosen by the client (3.7+) or the server (3.3).
    security: Option<u8>,
}

enum Step {
    /// Consumed this many bytes; go on.
    Took(usize),
    /// Wait for more bytes (or for the other direction).
    Wait,
}

impl Stream for VncDissector {
    type Error = Infallible;

    /// Each handshake step reads what it needs from the rest of the delivery.
    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<Infallible> {
        let done = match dir {
            Direction::ToServer => self.client == Client::Done,
            Direction::ToClient => self.server == Server::Done,
        };
        if done {
            return Framing::skip(data.len());
        }
        Framing::Complete { len: data.len() }
    }

    fn on_broken(&mut self, _dir: Direction, error: Infallible, _out: &mut Vec<Observation>) {
        match error {}
    }

    fn on_message(
        &mut self,
        dir: Direction,
        data: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let step = match dir {
            Direction::ToServer => self.client_step(data, out),
            Direction::ToClient => self.server_step(data, out),
        };
        match step {
            Step::Took(n) => Some(n),
            Step::Wait => None,
        }
    }

    fn on_gap(&mut self, dir: Direction) {
        match dir {
            Direction::ToServer => self.client = Client::Done,
            Direction::ToClient => self.server = Server::Done,
        }
    }
}

impl VncDissector {
    /// The handshake both sides follow: the lower of the two versions (§7.1.1).
    fn handshake(&self) -> Option<Handshake> {
        Some(self.server_version?.min(self.client_version?))
    }

    fn server_step(&mut self, data: &[u8], out: &mut Vec<Observation>) -> Step {
        match self.server {
            Server::Version => {
                let Some(msg) = data.get(..VERSION_LEN) else {
                    return Step::Wait;
                };
                match version(msg) {
                    Some(v) => {
                        self.server_version = Some(v);
                        out.push(described(
                            Subject::Server,
                            msg,
                            source::VNC_PROTOCOL_VERSION,
                        ));
                        self.server = Server::Security;
                    }
                    None => self.server_violation(out, "server ProtocolVersion malformed"),
                }
                Step::Took(VERSION_LEN.min(data.len()))
            }
            Server::Security => {
                let Some(handshake) = self.handshake() else {
                    return Step::Wait;
                };
                if handshake == Handshake::V3_3 {
                    // §7.1.2 (3.3): a U32 security-type chosen by the server.
                    let Some(ty) = Cursor::new(data).u32_be() else {
                        return Step::Wait;
                    };
                    if ty == u32::from(SEC_INVALID) {
                        return self.failure_reason(data.get(4..).unwrap_or_default(), 4, out);
                    }
                    let ty = u8::try_from(ty).unwrap_or(u8::MAX);
                    out.push(security_types(&[ty]));
                    self.security = Some(ty);
                    self.server = self.after_security(ty);
                    return Step::Took(4);
                }
                // §7.1.2 (3.7+): number-of-security-types, then that many U8 types.
                let Some((&count, rest)) = data.split_first() else {
                    return Step::Wait;
                };
                if count == 0 {
                    return self.failure_reason(rest, 1, out);
                }
                let Some(types) = rest.get(..usize::from(count)) else {
                    return Step::Wait;
                };
                out.push(security_types(types));
                self.server = Server::Chosen;
                Step::Took(1 + types.len())
            }
            Server::Chosen => match self.security {
                Some(ty) => {
                    self.server = self.after_security(ty);
                    Step::Took(0)
                }
                None => Step::Wait,
            },
            Server::Challenge => {
                if data.len() < CHALLENGE_LEN {
                    return Step::Wait;
                }
                self.server = Server::Result;
                Step::Took(CHALLENGE_LEN)
            }
            Server::Result => {
                // §7.1.3 SecurityResult: 0 OK, else failed (3.8 adds a reason string).
                let Some(result) = Cursor::new(data).u32_be() else {
                    return Step::Wait;
                };
                if result == 0 {
                    self.server = Server::Init;
                    return Step::Took(4);
                }
                // The response to the challenge was wrong (§7.2.2); with None there was no
                // secret to refuse.
                if self.security == Some(SEC_VNC_AUTH) {
                    out.push(Observation::AuthFailure {
                        user: String::new(),
                        protocol: PROTOCOL,
                    });
                }
                self.server = if self.handshake() == Some(Handshake::V3_8) {
                    Server::Reason
                } else {
                    Server::Done
                };
                Step::Took(4)
            }
            Server::Reason => self.failure_reason(data, 0, out),
            Server::Init => {
                // §7.3.2 ServerInit: name-length then name-string.
                let Some(name_len) = data
                    .get(SERVER_INIT_FIXED - 4..)
                    .and_then(|b| Cursor::new(b).u32_be())
                else {
                    return Step::Wait;
                };
                let name_len = usize::try_from(name_len).unwrap_or(usize::MAX);
                if name_len > MAX_STRING {
                    self.server_violation(out, "ServerInit name longer than 4096 bytes");
                    return Step::Took(0);
                }
                let Some(name) = data.get(SERVER_INIT_FIXED..SERVER_INIT_FIXED + name_len) else {
                    return Step::Wait;
                };
                let text = Some(wire_text(name)).filter(|t| !t.is_empty());
                let source = source::VNC_DESKTOP_NAME;
                push_identity(out, Subject::Server, Field::Description, text, source);
                self.server = Server::Done;
                Step::Took(SERVER_INIT_FIXED + name_len)
            }
            Server::Done => Step::Took(data.len()),
        }
    }

    /// Where the server goes after security type `ty` is settled.
    fn after_security(&self, ty: u8) -> Server {
        match ty {
            SEC_VNC_AUTH => Server::Challenge,
            // §7.2.1: None has a SecurityResult only from 3.8 on.
            SEC_NONE if self.handshake() == Some(Handshake::V3_8) => Server::Result,
            SEC_NONE => Server::Init,
            // Tight, VeNCrypt, Apple, ...: sub-protocols not followed.
            _ => Server::Done,
        }
    }

    /// A failure reason (§7.1.2, §7.1.3: U32 length then text) after `header` bytes; the
    /// connection ends after it. The reason is not reported.
    fn failure_reason(&mut self, rest: &[u8], header: usize, out: &mut Vec<Observation>) -> Step {
        let Some(len) = Cursor::new(rest).u32_be() else {
            return Step::Wait;
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_STRING {
            self.server_violation(out, "reason string longer than 4096 bytes");
            return Step::Took(0);
        }
        if rest.len() < 4 + len {
            return Step::Wait;
        }
        self.server = Server::Done;
        Step::Took(header + 4 + len)
    }

    fn server_violation(&mut self, out: &mut Vec<Observation>, reason: &str) {
        out.push(violation(PROTOCOL, reason));
        self.server = Server::Done;
    }

    fn client_step(&mut self, data: &[u8], out: &mut Vec<Observation>) -> Step {
        match self.client {
            Client::Version => {
                let Some(msg) = data.get(..VERSION_LEN) else {
                    return Step::Wait;
                };
                match version(msg) {
                    Some(v) => {
                        self.client_version = Some(v);
                        out.push(described(
                            Subject::Client,
                            msg,
                            source::VNC_PROTOCOL_VERSION,
                        ));
                        self.client = Client::Security;
                    }
                    None => {
                        out.push(violation(PROTOCOL, "client ProtocolVersion malformed"));
                        self.client = Client::Done;
                    }
                }
                Step::Took(VERSION_LEN.min(data.len()))
            }
            Client::Security => {
                let Some(handshake) = self.handshake() else {
                    return Step::Wait;
                };
                let ty = if handshake == Handshake::V3_3 {
                    // §7.1.2 (3.3): the server decided; the client sends nothing.
                    match self.security {
                        Some(ty) => ty,
                        None => return Step::Wait,
                    }
                } else {
                    // §7.1.2 (3.7+): the client's U8 choice.
                    let Some(&ty) = data.first() else {
                        return Step::Wait;
                    };
                    self.security = Some(ty);
                    ty
                };
                self.client = match ty {
                    SEC_VNC_AUTH => Client::Response,
                    SEC_NONE => Client::Init,
                    _ => Client::Done,
                };
                Step::Took(usize::from(handshake != Handshake::V3_3))
            }
            Client::Response => {
                if data.len() < CHALLENGE_LEN {
                    return Step::Wait;
                }
                self.client = Client::Init;
                Step::Took(CHALLENGE_LEN)
            }
            Client::Init => {
                // §7.3.1 ClientInit: one shared-flag byte; then client messages follow.
                if data.is_empty() {
                    return Step::Wait;
                }
                self.client = Client::Done;
                Step::Took(1)
            }
            Client::Done => Step::Took(data.len()),
        }
    }
}

fn described(subject: Subject, text: &[u8], source: Source) -> Observation {
    Observation::Identity {
        subject,
        field: Field::Description,
        value: wire_text(text),
        source,
    }
}

/// "vnc security types: None, VNC Authentication" from the offered list (§7.2; names of
/// other types from the IANA RFB security types registry).
fn security_types(types: &[u8]) -> Observation {
    let mut value = String::from("vnc security types:");
    // Bounded: a list longer than this says enough by its first entries.
    for (i, &ty) in types.iter().take(16).enumerate() {
        value.push_str(if i == 0 { " " } else { ", " });
        match ty {
            SEC_INVALID => value.push_str("Invalid"),
            SEC_NONE => value.push_str("None"),
            SEC_VNC_AUTH => value.push_str("VNC Authentication"),
            5 => value.push_str("RA2"),
            6 => value.push_str("RA2ne"),
            16 => value.push_str("Tight"),
            17 => value.push_str("Ultra"),
            18 => value.push_str("TLS"),
            19 => value.push_str("VeNCrypt"),
            20 => value.push_str("SASL"),
            21 => value.push_str("MD5"),
            22 => value.push_str("xvp"),
            30..=35 => value.push_str("Apple"),
            _ => value.push_str(&format!("type {ty}")),
        }
    }
    Observation::Identity {
        subject: Subject::Server,
        field: Field::Description,
        value,
        source: source::VNC_SECURITY_TYPES,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
