//! MQTT 3.1, 3.1.1 and 5.0 over TCP (OASIS MQTT Version 3.1.1 §2-3, OASIS MQTT Version 5.0
//! §2-3; MQTT 3.1 is the IBM/Eurotech specification with protocol name "MQIsdp"). MQTT over
//! TLS (8883) is the TLS dissector's business.
//!
//! The broker is the flow's server: it listens, clients connect, send CONNECT and publish or
//! subscribe. What it reports:
//! - requests from the client as operations with the packet type as function code: PUBLISH
//!   is a write (3), SUBSCRIBE a read (8); CONNECT (1), UNSUBSCRIBE (10), PINGREQ (12),
//!   DISCONNECT (14) and AUTH (15) are bare function codes. Acknowledgements are not
//!   requests and are not reported; the broker's PUBLISH to a subscriber is a delivery, not
//!   an operation of the client;
//! - the client identifier (CONNECT, or the MQTT 5 Assigned Client Identifier in CONNACK) as
//!   a description of the client, "mqtt client id <id>" (source source::MQTT_CONNECT /
//!   source::MQTT_CONNACK);
//! - the user name of CONNECT as a `CleartextLogin` (never the password); when the CONNACK
//!   that answers a CONNECT with credentials refuses them (3.1/3.1.1 return code 4 "bad user
//!   name or password" or 5 "not authorized", 3.1.1 §3.2.2.3; 5.0 reason code 0x86 "Bad
//!   User Name or Password" or 0x87 "Not authorized", 5.0 §3.2.2.2), an `AuthFailure` with
//!   that user name. 0x8C "Bad authentication method" is not one: it refuses the method
//!   (5.0 §4.12), not a secret;
//! - topics, bounded: at most [`MAX_TOPICS`] distinct per flow, as descriptions of the
//!   *client*: "mqtt topic <t>" for what it publishes (source source::MQTT_PUBLISH), "mqtt will
//!   topic <t>" (source source::MQTT_CONNECT) and "mqtt subscription <filter>" (source "mqtt
//!   subscribe"). Topics describe the device that publishes them (a sensor publishing
//!   `plant/line1/temp`); put on the broker they would pile up from every client and crowd
//!   out its real identity evidence. The broker's own `$SYS/broker/version` message, when a
//!   client subscribes to it, describes the broker ("mqtt broker <text>").
//!
//! Framing: a fixed header (type, flags, Remaining Length as a variable byte integer of at
//! most four bytes). At most [`PACKET_PREFIX_CAP`] bytes of a packet are looked at; the rest
//! of a larger one (a camera image) is passed over unread. After a gap or a broken fixed
//! header the stream is picked up again at the start of a delivery (a TCP segment, usually
//! a packet boundary) that holds a well-formed packet; payload bytes are never scanned for
//! lookalike headers.

#[cfg(test)]
mod tests;
mod wire;

pub use self::wire::MqttError;
use self::wire::{Error, FixedHeader, PacketType};
use super::framing::{self, Framing, Stream, Unread};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::text::{clean, clean_text, fingerprint, MAX_TEXT_CHARS};
use super::violations::Violations;
use super::{operation_or_code, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Source, Subject};

/// MQTT (IANA "mqtt", TCP 1883); found by content on other ports too.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "mqtt",
    transport: Transport::Tcp,
    ports: &[1883],
    probe,
    new,
};

const PROTOCOL: &str = "mqtt";
/// Bytes of one packet looked at; the rest of a bigger packet is skipped unread.
pub const PACKET_PREFIX_CAP: usize = 64 << 10;
/// Distinct topics (published, will, subscribed) reported per flow.
pub const MAX_TOPICS: usize = 8;
/// Longest SUBSCRIBE/CONNACK the probe waits for before deciding.
const PROBE_PACKET: usize = 4096;
/// Topic where brokers (mosquitto and others) publish their name and version.
const SYS_VERSION_TOPIC: &[u8] = b"$SYS/broker/version";

fn new() -> Box<dyn Dissector> {
    Box::new(MqttDissector::default())
}

/// How much a packet at the start of some bytes says "this is MQTT".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// A packet only MQTT makes (CONNECT with its protocol name, a CONNACK, a PUBLISH with
    /// a well-formed topic, a SUBSCRIBE/UNSUBSCRIBE with well-formed filters).
    Strong,
    /// A short well-formed packet (PINGREQ, PUBACK, ...) of this many bytes: consistent, but
    /// too small to tell on its own.
    Weak(usize),
    Incomplete,
    Invalid,
}

/// Strictly checks the packet at the start of `data`, sent by the client (`from_client`)
/// or the broker, without knowing the protocol version.
fn check_packet(from_client: bool, data: &[u8]) -> Check {
    let h = match wire::fixed_header(data) {
        Ok(h) => h,
        Err(Error::Truncated) => return Check::Incomplete,
        Err(Error::Malformed(_)) => return Check::Invalid,
    };
    let available = data.get(h.header_len..).unwrap_or_default();
    let complete = available.len() >= h.remaining;
    let body = available.get(..h.remaining).unwrap_or(available);
    let flags_ok = match h.kind.required_flags() {
        None => true,
        // MQTT 3.1 sets DUP on a resent PUBREL/SUBSCRIBE/UNSUBSCRIBE.
        Some(f) => h.flags == f || (f == 0b0010 && h.flags == 0b1010),
    };
    if !flags_ok {
        return Check::Invalid;
    }
    let small = |ok: bool| match (ok, complete) {
        (false, _) => Check::Invalid,
        (true, true) => Check::Weak(h.total()),
        (true, false) => Check::Incomplete,
    };
    let id_nonzero = body.get(..2).is_some_and(|id| id != [0, 0]);
    match h.kind {
        PacketType::CONNECT if from_client => check_connect(body),
        PacketType::CONNACK if !from_client => {
            let v5 = match h.remaining {
                2 => false,
                3..=PROBE_PACKET => true,
                _ => return Check::Invalid,
            };
            match (complete, wire::connack(body, v5)) {
                (false, _) => Check::Incomplete,
                (true, Ok(_)) => Check::Strong,
                (true, Err(_)) => Check::Invalid,
            }
        }
        PacketType::PUBLISH if topic_overruns(body, h.remaining) => Check::Invalid,
        PacketType::PUBLISH => match wire::publish(h.flags, body, None) {
            Ok(p) if !p.topic.is_empty() && p.topic.iter().all(|&b| b >= 0x20 && b != 0x7f) => {
                Check::Strong
            }
            Err(Error::Truncated) if !complete => Check::Incomplete,
            _ => Check::Invalid,
        },
        PacketType::SUBSCRIBE | PacketType::UNSUBSCRIBE if from_client => {
            if h.remaining > PROBE_PACKET {
                return Check::Invalid;
            }
            if !complete {
                return Check::Incomplete;
            }
            let options = h.kind == PacketType::SUBSCRIBE;
            let ok = wire::filters(body, false, options)
                .or_else(|_| wire::filters(body, true, options))
                .is_ok();
            if ok {
                Check::Strong
            } else {
                Check::Invalid
            }
        }
        PacketType::PINGREQ => small(from_client && h.remaining == 0),
        PacketType::PINGRESP => small(!from_client && h.remaining == 0),
        PacketType::DISCONNECT => small(h.remaining == 0),
        PacketType::PUBACK | PacketType::PUBREC | PacketType::PUBREL | PacketType::PUBCOMP => {
            small((2..=4).contains(&h.remaining) && (!complete || id_nonzero))
        }
        PacketType::SUBACK => small(!from_client && (3..=64).contains(&h.remaining)),
        PacketType::UNSUBACK => small(!from_client && (2..=64).contains(&h.remaining)),
        _ => Check::Invalid,
    }
}

/// A PUBLISH whose topic length alone runs past the Remaining Length (text read as MQTT:
/// two printable bytes make a length of 8224 or more, in a packet under 128 bytes).
fn topic_overruns(body: &[u8], remaining: usize) -> bool {
    body.get(..2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .is_some_and(|b| 2 + usize::from(u16::from_be_bytes(b)) > remaining)
}

/// CONNECT starts with its protocol name and level (3.1.1 §3.1.2.1-2), then the connect
/// flags whose bit 0 is reserved (§3.1.2.3).
fn check_connect(body: &[u8]) -> Check {
    let mut c = Cursor::new(body);
    let Some(len) = c.u16_be() else {
        return Check::Incomplete;
    };
    let name: &[u8] = match len {
        4 => b"MQTT",
        6 => b"MQIsdp",
        _ => return Check::Invalid,
    };
    let got = c.rest().get(..name.len()).unwrap_or(c.rest());
    if !name.starts_with(got) {
        return Check::Invalid;
    }
    let _ = c.skip(name.len());
    let (Some(level), Some(flags)) = (c.u8(), c.u8()) else {
        return Check::Incomplete;
    };
    match (name, level) {
        (b"MQTT", 4 | 5) | (b"MQIsdp", 3) if flags & 0x01 == 0 => Check::Strong,
        _ => Check::Invalid,
    }
}

/// Frames the packet at the start of a stream by its fixed header: complete once its first
/// [`PACKET_PREFIX_CAP`] bytes are at hand (`len` is that prefix; the rest is passed over
/// unread). A malformed fixed header makes the rest of the delivery unreadable.
fn frame(data: &[u8]) -> Framing<MqttError> {
    match wire::fixed_header(data) {
        Ok(h) => {
            let len = h.total().min(PACKET_PREFIX_CAP);
            if data.len() >= len {
                Framing::Complete { len }
            } else {
                Framing::Incomplete { needed: len }
            }
        }
        Err(Error::Truncated) => Framing::Incomplete {
            needed: data.len() + 1,
        },
        Err(Error::Malformed(reason)) => Framing::broken(data.len(), reason),
    }
}

/// The resync scan: wait for a delivery that starts with a well-formed packet; drop one that
/// does not.
fn boundary(from_client: bool, data: &[u8]) -> Framing<MqttError> {
    match check_packet(from_client, data) {
        Check::Strong | Check::Weak(_) => Framing::Complete { len: 0 },
        Check::Incomplete if data.len() < PACKET_PREFIX_CAP => Framing::Incomplete {
            needed: data.len() + 1,
        },
        _ => Framing::skip(data.len()),
    }
}

/// Accepts a flow whose first bytes hold a strong MQTT packet, possibly after short
/// well-formed ones (a capture that starts mid-connection on PINGREQ/PUBACK).
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    let from_client = dir == Direction::ToServer;
    let mut rest = data;
    while !rest.is_empty() {
        match check_packet(from_client, rest) {
            Check::Strong => return Probe::Yes,
            Check::Incomplete => return Probe::NeedMore,
            Check::Invalid => return Probe::No,
            Check::Weak(n) => rest = rest.get(n..).unwrap_or_default(),
        }
    }
    Probe::NeedMore
}

#[derive(Default)]
struct Side {
    /// What is left of the current packet past its prefix, passed over unread.
    unread: Unread,
    /// After a gap or a broken fixed header: wait for a delivery that starts with a
    /// well-formed packet.
    resync: bool,
}

/// Per-flow MQTT state.
pub struct MqttDissector {
    to_server: Side,
    to_client: Side,
    /// Direction from the MQTT client to the broker. The flow's client unless the capture
    /// started mid-connection with the sides guessed the other way round.
    client_dir: Direction,
    /// A packet that only one side sends has fixed `client_dir`.
    roles_known: bool,
    /// Protocol level from CONNECT (3, 4 or 5).
    level: Option<u8>,
    /// MQTT 5 layout guessed from CONNACK when CONNECT was not seen.
    v5_hint: Option<bool>,
    client_id_reported: bool,
    broker_reported: bool,
    /// The user name (possibly empty) of a CONNECT that carried credentials, until the
    /// CONNACK that answers it.
    login_attempt: Option<String>,
    topics: [u64; MAX_TOPICS],
    topics_len: usize,
    violations: Violations,
}

impl Default for MqttDissector {
    fn default() -> Self {
        MqttDissector {
            to_server: Side::default(),
            to_client: Side::default(),
            client_dir: Direction::ToServer,
            roles_known: false,
            level: None,
            v5_hint: None,
            client_id_reported: false,
            broker_reported: false,
            login_attempt: None,
            topics: [0; MAX_TOPICS],
            topics_len: 0,
            violations: Violations::default(),
        }
    }
}

impl Stream for MqttDissector {
    type Error = MqttError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<MqttError> {
        let from_client = dir == self.client_dir;
        let side = self.side_mut(dir);
        if let Some(skip) = side.unread.pass(data) {
            return skip;
        }
        // A malformed fixed header: the framing cannot be trusted past this point.
        framing::step(&mut side.resync, data, frame, |d| boundary(from_client, d))
    }

    fn on_broken(&mut self, _dir: Direction, error: MqttError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, error, out);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        packet: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let h = wire::fixed_header(packet).ok()?;
        let body = packet.get(h.header_len..).unwrap_or_default();
        self.packet(dir, h, body, packet.len() == h.total(), out);
        self.side_mut(dir).unread.set(h.total() - packet.len());
        Some(packet.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = self.side_mut(dir);
        side.unread.clear();
        side.resync = true;
    }
}

impl MqttDissector {
    fn side_mut(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// The flow endpoint that is the MQTT client.
    fn client(&self) -> Subject {
        self.client_dir.sender()
    }

    fn broker(&self) -> Subject {
        self.client_dir.receiver()
    }

    /// MQTT 5 layout: known from CONNECT, else guessed from CONNACK, else unknown.
    fn v5(&self) -> Option<bool> {
        self.level.map(|l| l == 5).or(self.v5_hint)
    }

    fn violation(&mut self, out: &mut Vec<Observation>, reason: MqttError) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// Reports a packet that could not be read: a malformation, or fields running past the
    /// Remaining Length of a packet seen whole (`complete`).
    fn failed(&mut self, e: Error, complete: bool, out: &mut Vec<Observation>) {
        match e {
            Error::Malformed(reason) => self.violation(out, reason),
            Error::Truncated if complete => {
                self.violation(out, MqttError::Overrun);
            }
            Error::Truncated => {}
        }
    }

    /// Packets that only one side sends (3.1.1 §2.2.1 and 5.0 §2.1.2 "Direction of flow")
    /// fix which direction is the client's, once, when the capture missed CONNECT.
    fn learn_roles(&mut self, dir: Direction, kind: PacketType) {
        if self.roles_known {
            return;
        }
        let client_dir = match kind {
            PacketType::CONNECT
            | PacketType::SUBSCRIBE
            | PacketType::UNSUBSCRIBE
            | PacketType::PINGREQ => dir,
            PacketType::CONNACK
            | PacketType::SUBACK
            | PacketType::UNSUBACK
            | PacketType::PINGRESP => dir.other(),
            _ => return,
        };
        self.client_dir = client_dir;
        self.roles_known = true;
    }

    /// One packet; `body` is what follows the fixed header, whole when `complete`.
    fn packet(
        &mut self,
        dir: Direction,
        h: FixedHeader,
        body: &[u8],
        complete: bool,
        out: &mut Vec<Observation>,
    ) {
        self.learn_roles(dir, h.kind);
        let from_client = dir == self.client_dir;
        if let Some(f) = h.kind.required_flags() {
            // MQTT 3.1 (level 3, or unknown) may set DUP on PUBREL/SUBSCRIBE/UNSUBSCRIBE.
            let old = !matches!(self.level, Some(4 | 5));
            if h.flags != f && !(old && f == 0b0010 && h.flags == 0b1010) {
                self.violation(out, MqttError::FixedHeaderFlags);
            }
        }
        let request = |out: &mut Vec<Observation>, op: Option<Operation>| {
            if from_client {
                out.push(operation_or_code(op, u32::from(h.kind.0), Vec::new()));
            }
        };
        match h.kind {
            PacketType::CONNECT => {
                request(out, None);
                self.connect(body, complete, out);
            }
            PacketType::CONNACK => self.connack(body, complete, out),
            PacketType::PUBLISH => {
                request(out, Some(Operation::Write));
                self.publish(from_client, h.flags, body, complete, out);
            }
            PacketType::SUBSCRIBE | PacketType::UNSUBSCRIBE => {
                let subscribe = h.kind == PacketType::SUBSCRIBE;
                request(out, subscribe.then_some(Operation::Read));
                self.filters(body, subscribe, complete, out);
            }
            PacketType::PINGREQ | PacketType::PINGRESP => {
                if h.kind == PacketType::PINGREQ {
                    request(out, None);
                }
                if h.remaining != 0 {
                    self.violation(out, MqttError::PingBody);
                }
            }
            PacketType::DISCONNECT => {
                request(out, None);
                if h.remaining != 0 && self.v5() == Some(false) {
                    self.violation(out, MqttError::DisconnectBodyBeforeV5);
                }
            }
            PacketType::AUTH => {
                request(out, None);
                if self.v5() == Some(false) {
                    self.violation(out, MqttError::AuthBeforeV5);
                }
            }
            // PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK: a Packet Identifier first.
            _ => {
                if h.remaining < 2 {
                    self.violation(out, MqttError::AckWithoutPacketId);
                }
            }
        }
    }

    fn connect(&mut self, body: &[u8], complete: bool, out: &mut Vec<Observation>) {
        let c = match wire::connect(body) {
            Ok(c) => c,
            Err(e) => return self.failed(e, complete, out),
        };
        self.level = Some(c.level);
        if !c.client_id.is_empty() {
            self.client_id(c.client_id, source::MQTT_CONNECT, out);
        }
        if let Some(t) = c.will_topic {
            self.topic(t, "mqtt will topic", source::MQTT_CONNECT, out);
        }
        // A user name, or (MQTT 5) a password alone, crossed the wire in clear.
        if c.user.is_some() || c.has_password {
            let user = c.user.and_then(clean).unwrap_or_default();
            self.login_attempt = Some(user.clone());
            out.push(Observation::CleartextLogin {
                user,
                protocol: PROTOCOL,
            });
        }
    }

    fn connack(&mut self, body: &[u8], complete: bool, out: &mut Vec<Observation>) {
        let v5 = self.v5().unwrap_or(body.len() != 2);
        if self.v5().is_none() {
            self.v5_hint = Some(v5);
        }
        // The CONNACK answers the CONNECT, whatever it says (3.1.1 §3.2, 5.0 §3.2).
        let attempt = self.login_attempt.take();
        match wire::connack(body, v5) {
            Ok(a) => {
                if let Some(id) = a.assigned_client_id.filter(|id| !id.is_empty()) {
                    self.client_id(id, source::MQTT_CONNACK, out);
                }
                let refused = if v5 {
                    matches!(a.code, 0x86 | 0x87)
                } else {
                    matches!(a.code, 4 | 5)
                };
                if let (true, Some(user)) = (refused, attempt) {
                    out.push(Observation::AuthFailure {
                        user,
                        protocol: PROTOCOL,
                    });
                }
            }
            Err(e) => self.failed(e, complete, out),
        }
    }

    fn publish(
        &mut self,
        from_client: bool,
        flags: u8,
        body: &[u8],
        complete: bool,
        out: &mut Vec<Observation>,
    ) {
        let p = match wire::publish(flags, body, self.v5()) {
            Ok(p) => p,
            Err(e) => return self.failed(e, complete, out),
        };
        if from_client {
            if !p.topic.is_empty() {
                self.topic(p.topic, "mqtt topic", source::MQTT_PUBLISH, out);
            }
        } else if p.topic == SYS_VERSION_TOPIC && !self.broker_reported {
            let text = p.payload.get(..MAX_TEXT_CHARS).unwrap_or(p.payload);
            if let Some(v) = clean_text(text, MAX_TEXT_CHARS) {
                self.broker_reported = true;
                out.push(Observation::Identity {
                    subject: self.broker(),
                    field: Field::Description,
                    value: format!("mqtt broker {v}"),
                    source: source::MQTT_SYS_BROKER_VERSION,
                });
            }
        }
    }

    fn filters(
        &mut self,
        body: &[u8],
        subscribe: bool,
        complete: bool,
        out: &mut Vec<Observation>,
    ) {
        let parsed = match self.v5() {
            Some(v5) => wire::filters(body, v5, subscribe),
            None => wire::filters(body, false, subscribe)
                .or_else(|_| wire::filters(body, true, subscribe)),
        };
        match parsed {
            Ok(filters) if subscribe => {
                for f in filters.iter() {
                    self.topic(f, "mqtt subscription", source::MQTT_SUBSCRIBE, out);
                }
            }
            Ok(_) => {}
            Err(e) => self.failed(e, complete, out),
        }
    }

    fn client_id(&mut self, id: &[u8], source: Source, out: &mut Vec<Observation>) {
        if self.client_id_reported {
            return;
        }
        if let Some(id) = clean(id) {
            self.client_id_reported = true;
            out.push(Observation::Identity {
                subject: self.client(),
                field: Field::Description,
                value: format!("mqtt client id {id}"),
                source,
            });
        }
    }

    /// Reports a topic of the client once per flow, up to [`MAX_TOPICS`].
    fn topic(&mut self, topic: &[u8], what: &str, source: Source, out: &mut Vec<Observation>) {
        if self.topics_len >= MAX_TOPICS {
            return;
        }
        let fp = fingerprint(topic) ^ fingerprint(what.as_bytes());
        if self
            .topics
            .get(..self.topics_len)
            .unwrap_or_default()
            .contains(&fp)
        {
            return;
        }
        let Some(t) = clean(topic) else {
            return;
        };
        if let Some(slot) = self.topics.get_mut(self.topics_len) {
            *slot = fp;
            self.topics_len += 1;
        }
        out.push(Observation::Identity {
            subject: self.client(),
            field: Field::Description,
            value: format!("{what} {t}"),
            source,
        });
    }
}
