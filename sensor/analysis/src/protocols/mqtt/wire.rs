//! MQTT control packets on the wire: fixed header, variable byte integers, strings, MQTT 5
//! properties, and the packets the dissector reads (CONNECT, CONNACK, PUBLISH, SUBSCRIBE,
//! UNSUBSCRIBE). Section numbers are OASIS MQTT 3.1.1 ("3.1.1 §") and MQTT 5.0 ("5.0 §");
//! MQTT 3.1 (IBM, protocol name "MQIsdp", level 3) has the 3.1.1 layout.
//!
//! Read to understand, not copied: Eclipse paho.mqtt.python `src/paho/mqtt/properties.py`
//! (property identifiers and types) and amqtt `amqtt/mqtt/packet.py` (remaining length).
//!
//! Every parser works on a borrowed slice, never allocates, and distinguishes a packet cut
//! short by the caller's prefix cap ([`Error::Truncated`]) from one that breaks the rules
//! ([`Error::Malformed`]).

use crate::protocols::reader::Cursor;

/// Control packet types (3.1.1 §2.2.1, 5.0 §2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketType(pub u8);

impl PacketType {
    pub const CONNECT: PacketType = PacketType(1);
    pub const CONNACK: PacketType = PacketType(2);
    pub const PUBLISH: PacketType = PacketType(3);
    pub const PUBACK: PacketType = PacketType(4);
    pub const PUBREC: PacketType = PacketType(5);
    pub const PUBREL: PacketType = PacketType(6);
    pub const PUBCOMP: PacketType = PacketType(7);
    pub const SUBSCRIBE: PacketType = PacketType(8);
    pub const SUBACK: PacketType = PacketType(9);
    pub const UNSUBSCRIBE: PacketType = PacketType(10);
    pub const UNSUBACK: PacketType = PacketType(11);
    pub const PINGREQ: PacketType = PacketType(12);
    pub const PINGRESP: PacketType = PacketType(13);
    pub const DISCONNECT: PacketType = PacketType(14);
    /// MQTT 5 only (5.0 §3.15).
    pub const AUTH: PacketType = PacketType(15);

    /// The fixed flags this type must carry (3.1.1 §2.2.2, 5.0 §2.1.3); `None` for PUBLISH,
    /// whose flags are DUP, QoS and RETAIN.
    pub fn required_flags(self) -> Option<u8> {
        match self {
            Self::PUBLISH => None,
            Self::PUBREL | Self::SUBSCRIBE | Self::UNSUBSCRIBE => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// Why an MQTT packet is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MqttError {
    #[error("reserved packet type 0")]
    ReservedPacketType,
    #[error("variable byte integer longer than 4 bytes")]
    VarintTooLong,
    #[error("unknown MQTT 5 property identifier")]
    UnknownProperty,
    #[error("MQTT 5 property overruns its property list")]
    PropertyOverrun,
    #[error("unknown MQTT protocol level")]
    UnknownLevel,
    #[error("unknown MQTT protocol name")]
    UnknownProtocolName,
    #[error("CONNECT reserved flag set")]
    ConnectReservedFlagSet,
    #[error("CONNECT will flags inconsistent")]
    ConnectWillFlagsInconsistent,
    #[error("CONNECT password flag without user name flag")]
    PasswordWithoutUser,
    #[error("CONNECT string is not valid UTF-8")]
    ConnectStringNotUtf8,
    #[error("CONNACK reserved flags set")]
    ConnackReservedFlagsSet,
    #[error("CONNACK remaining length is not 2")]
    ConnackLength,
    #[error("unknown CONNACK return code")]
    UnknownConnackReturnCode,
    #[error("unknown CONNACK reason code")]
    UnknownConnackReasonCode,
    #[error("PUBLISH with QoS 3")]
    PublishQos3,
    #[error("PUBLISH topic is not a valid topic name")]
    PublishTopicInvalid,
    #[error("PUBLISH packet identifier 0")]
    PublishPacketIdZero,
    #[error("PUBLISH with an empty topic")]
    PublishEmptyTopic,
    #[error("PUBLISH with an empty topic and no topic alias")]
    PublishEmptyTopicNoAlias,
    #[error("packet identifier 0")]
    PacketIdZero,
    #[error("invalid topic filter")]
    InvalidTopicFilter,
    #[error("invalid subscription options")]
    InvalidSubscriptionOptions,
    #[error("no topic filter")]
    NoTopicFilter,
    #[error("fields overrun the remaining length")]
    Overrun,
    #[error("reserved fixed header flags are wrong")]
    FixedHeaderFlags,
    #[error("PINGREQ/PINGRESP with a body")]
    PingBody,
    #[error("DISCONNECT with a body before MQTT 5")]
    DisconnectBodyBeforeV5,
    #[error("AUTH before MQTT 5")]
    AuthBeforeV5,
    #[error("acknowledgement without a packet identifier")]
    AckWithoutPacketId,
}

/// Why a packet could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The bytes ran out before a field did (the packet may have been cut by a cap).
    Truncated,
    /// The packet breaks the protocol's rules.
    Malformed(MqttError),
}

type Result<T> = std::result::Result<T, Error>;

fn need<T>(v: Option<T>) -> Result<T> {
    v.ok_or(Error::Truncated)
}

/// The fixed header (3.1.1 §2.2, 5.0 §2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    pub kind: PacketType,
    pub flags: u8,
    /// Remaining Length: bytes after the fixed header.
    pub remaining: usize,
    /// Bytes of the fixed header itself (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    /// Fixed header plus remaining length.
    pub fn total(&self) -> usize {
        self.header_len + self.remaining
    }
}

/// Reads a fixed header. `Err(Truncated)` when more bytes are needed.
pub fn fixed_header(data: &[u8]) -> Result<FixedHeader> {
    let mut c = Cursor::new(data);
    let first = need(c.u8())?;
    let kind = PacketType(first >> 4);
    if kind.0 == 0 {
        // 3.1.1 §2.2.1 / 5.0 §2.1.2: type 0 is reserved.
        return Err(Error::Malformed(MqttError::ReservedPacketType));
    }
    let remaining = varint(&mut c)?;
    Ok(FixedHeader {
        kind,
        flags: first & 0x0f,
        remaining: remaining as usize,
        header_len: c.pos(),
    })
}

/// Variable Byte Integer (3.1.1 §2.2.3 Remaining Length, 5.0 §1.5.5): seven bits a byte,
/// least significant first, at most four bytes (max 268,435,455).
pub fn varint(c: &mut Cursor<'_>) -> Result<u32> {
    let mut value = 0u32;
    for i in 0..4 {
        let b = need(c.u8())?;
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::Malformed(MqttError::VarintTooLong))
}

/// UTF-8 Encoded String (3.1.1 §1.5.3, 5.0 §1.5.4) or Binary Data (5.0 §1.5.6): a
/// two-byte big-endian length, then the bytes. Text validity is checked by [`valid_text`].
pub fn string<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8]> {
    let len = need(c.u16_be())?;
    need(c.take(usize::from(len)))
}

/// A UTF-8 Encoded String must be well-formed UTF-8 without U+0000 (3.1.1 §1.5.3, 5.0
/// §1.5.4).
pub fn valid_text(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok() && !s.contains(&0)
}

/// A Topic Name (3.1.1 §4.7, 5.0 §4.7): valid text without the wildcards `+` and `#`.
fn valid_topic_name(s: &[u8]) -> bool {
    valid_text(s) && !s.iter().any(|&b| b == b'+' || b == b'#')
}

/// What the dissector uses from an MQTT 5 property list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Properties<'a> {
    /// Assigned Client Identifier (0x12, CONNACK, 5.0 §3.2.2.3.7).
    pub assigned_client_id: Option<&'a [u8]>,
    /// Topic Alias (0x23, PUBLISH, 5.0 §3.3.2.3.4).
    pub topic_alias: Option<u16>,
}

/// A property list (5.0 §2.2.2): Property Length (variable byte integer), then
/// identifier/value pairs. An unknown identifier makes the packet malformed (5.0
/// §2.2.2.2).
pub fn properties<'a>(c: &mut Cursor<'a>) -> Result<Properties<'a>> {
    let len = varint(c)? as usize;
    let mut p = Cursor::new(need(c.take(len))?);
    let mut found = Properties::default();
    // A property is at least two bytes, so this ends with the list.
    while !p.is_empty() {
        let id = varint(&mut p).map_err(malformed_props)?;
        let value = match id {
            // Byte: Payload Format Indicator, Request Problem Information, Request Response
            // Information, Maximum QoS, Retain Available, Wildcard / Subscription Identifier
            // / Shared Subscription Available.
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => p.skip(1),
            // Two Byte Integer: Server Keep Alive, Receive Maximum, Topic Alias Maximum.
            0x13 | 0x21 | 0x22 => p.skip(2),
            0x23 => p.u16_be().map(|v| found.topic_alias = Some(v)),
            // Four Byte Integer: Message Expiry, Session Expiry, Will Delay, Maximum Packet
            // Size.
            0x02 | 0x11 | 0x18 | 0x27 => p.skip(4),
            // Variable Byte Integer: Subscription Identifier.
            0x0b => varint(&mut p).ok().map(|_| ()),
            // UTF-8 string or Binary Data: Content Type, Response Topic, Correlation Data,
            // Authentication Method/Data, Response Information, Server Reference, Reason
            // String.
            0x03 | 0x08 | 0x09 | 0x15 | 0x16 | 0x1a | 0x1c | 0x1f => {
                string(&mut p).ok().map(|_| ())
            }
            0x12 => string(&mut p)
                .ok()
                .map(|s| found.assigned_client_id = Some(s)),
            // UTF-8 String Pair: User Property.
            0x26 => string(&mut p).and_then(|_| string(&mut p)).ok().map(|_| ()),
            _ => return Err(Error::Malformed(MqttError::UnknownProperty)),
        };
        if value.is_none() {
            return Err(Error::Malformed(MqttError::PropertyOverrun));
        }
    }
    Ok(found)
}

/// Inside a length-delimited property list, running out of bytes is a malformation.
fn malformed_props(e: Error) -> Error {
    match e {
        Error::Truncated => Error::Malformed(MqttError::PropertyOverrun),
        other => other,
    }
}

/// What CONNECT says (3.1.1 §3.1, 5.0 §3.1). The password is never kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol Level: 3 (3.1), 4 (3.1.1) or 5 (5.0).
    pub level: u8,
    pub client_id: &'a [u8],
    pub will_topic: Option<&'a [u8]>,
    pub user: Option<&'a [u8]>,
    pub has_password: bool,
}

/// CONNECT variable header (Protocol Name, Protocol Level, Connect Flags, Keep Alive, MQTT 5
/// properties) and payload (Client Identifier, Will Properties/Topic/Payload, User Name,
/// Password), in that order.
pub fn connect(body: &[u8]) -> Result<Connect<'_>> {
    let mut c = Cursor::new(body);
    let name = string(&mut c)?;
    let level = need(c.u8())?;
    // 3.1.1 §3.1.2.1-2: "MQTT" at level 4, 5.0 adds level 5; MQTT 3.1 used "MQIsdp" at 3.
    match (name, level) {
        (b"MQTT", 4 | 5) | (b"MQIsdp", 3) => {}
        (b"MQTT" | b"MQIsdp", _) => return Err(Error::Malformed(MqttError::UnknownLevel)),
        _ => return Err(Error::Malformed(MqttError::UnknownProtocolName)),
    }
    let flags = need(c.u8())?;
    // 3.1.1 §3.1.2.3, 5.0 §3.1.2.3: bit 0 is reserved and must be 0.
    if flags & 0x01 != 0 {
        return Err(Error::Malformed(MqttError::ConnectReservedFlagSet));
    }
    let will = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0x03;
    // §3.1.2.6-7: no Will QoS or Will Retain without the Will Flag; QoS 3 does not exist.
    if will_qos == 3 || (!will && flags & 0x38 != 0) {
        return Err(Error::Malformed(MqttError::ConnectWillFlagsInconsistent));
    }
    let has_user = flags & 0x80 != 0;
    let has_password = flags & 0x40 != 0;
    // 3.1.1 §3.1.2.9: no password without a user name (MQTT 5 allows it, 5.0 §3.1.2.9).
    if level < 5 && has_password && !has_user {
        return Err(Error::Malformed(MqttError::PasswordWithoutUser));
    }
    need(c.u16_be())?; // Keep Alive
    if level == 5 {
        properties(&mut c)?;
    }
    let client_id = string(&mut c)?;
    let will_topic = if will {
        if level == 5 {
            properties(&mut c)?; // Will Properties (5.0 §3.1.3.2)
        }
        let topic = string(&mut c)?;
        string(&mut c)?; // Will Payload
        Some(topic)
    } else {
        None
    };
    let user = if has_user {
        Some(string(&mut c)?)
    } else {
        None
    };
    for s in [Some(client_id), will_topic, user].into_iter().flatten() {
        if !valid_text(s) {
            return Err(Error::Malformed(MqttError::ConnectStringNotUtf8));
        }
    }
    Ok(Connect {
        level,
        client_id,
        will_topic,
        user,
        has_password,
    })
}

/// What CONNACK says (3.1.1 §3.2, 5.0 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connack<'a> {
    /// Connect Return Code (3.1.1 §3.2.2.3) or Reason Code (5.0 §3.2.2.2).
    pub code: u8,
    pub assigned_client_id: Option<&'a [u8]>,
}

/// CONNACK: Connect Acknowledge Flags (bits 7-1 reserved), return/reason code, MQTT 5
/// properties. `v5` chooses the layout.
pub fn connack(body: &[u8], v5: bool) -> Result<Connack<'_>> {
    let mut c = Cursor::new(body);
    let flags = need(c.u8())?;
    if flags & 0xfe != 0 {
        return Err(Error::Malformed(MqttError::ConnackReservedFlagsSet));
    }
    let code = need(c.u8())?;
    if !v5 {
        if body.len() != 2 {
            return Err(Error::Malformed(MqttError::ConnackLength));
        }
        // 3.1.1 §3.2.2.3: 0 accepted, 1-5 refused; 6-255 reserved.
        if code > 5 {
            return Err(Error::Malformed(MqttError::UnknownConnackReturnCode));
        }
        return Ok(Connack {
            code,
            assigned_client_id: None,
        });
    }
    // 5.0 §3.2.2.2: 0x00 Success or a failure code 0x80-0x9F.
    if code != 0 && !(0x80..=0x9f).contains(&code) {
        return Err(Error::Malformed(MqttError::UnknownConnackReasonCode));
    }
    let props = properties(&mut c)?;
    Ok(Connack {
        code,
        assigned_client_id: props.assigned_client_id,
    })
}

/// What PUBLISH says (3.1.1 §3.3, 5.0 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Topic Name; empty when an MQTT 5 Topic Alias stands in for it.
    pub topic: &'a [u8],
    /// Application message (as far as the caller's slice reaches).
    pub payload: &'a [u8],
}

/// PUBLISH: flags DUP/QoS/RETAIN, Topic Name, Packet Identifier when QoS > 0, MQTT 5
/// properties, payload. With `v5 == None` (version unknown) only the topic is read.
pub fn publish(flags: u8, body: &[u8], v5: Option<bool>) -> Result<Publish<'_>> {
    let qos = (flags >> 1) & 0x03;
    if qos == 3 {
        // 3.1.1 §3.3.1.2, 5.0 §3.3.1.2.
        return Err(Error::Malformed(MqttError::PublishQos3));
    }
    let mut c = Cursor::new(body);
    let topic = string(&mut c)?;
    if !valid_topic_name(topic) {
        return Err(Error::Malformed(MqttError::PublishTopicInvalid));
    }
    if qos > 0 && need(c.u16_be())? == 0 {
        // 3.1.1 §2.3.1, 5.0 §2.2.1: Packet Identifiers are non-zero.
        return Err(Error::Malformed(MqttError::PublishPacketIdZero));
    }
    let alias = match v5 {
        Some(true) => properties(&mut c)?.topic_alias,
        _ => None,
    };
    // 3.1.1 §4.7.3: topic names are at least one character; 5.0 §3.3.2.1 allows an empty
    // one with a Topic Alias. With the version unknown either may hold.
    if topic.is_empty() {
        match v5 {
            Some(false) => return Err(Error::Malformed(MqttError::PublishEmptyTopic)),
            Some(true) if alias.is_none() => {
                return Err(Error::Malformed(MqttError::PublishEmptyTopicNoAlias))
            }
            _ => {}
        }
    }
    Ok(Publish {
        topic,
        payload: c.rest(),
    })
}

/// The topic filters of a SUBSCRIBE or UNSUBSCRIBE (3.1.1 §3.8, §3.10; 5.0 §3.8, §3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filters<'a> {
    payload: &'a [u8],
    /// SUBSCRIBE: each filter is followed by a Subscription Options byte.
    with_options: bool,
}

impl<'a> Filters<'a> {
    /// The topic filters, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut c = Cursor::new(self.payload);
        let with_options = self.with_options;
        std::iter::from_fn(move || {
            let f = string(&mut c).ok()?;
            if with_options {
                c.skip(1)?;
            }
            Some(f)
        })
    }
}

/// SUBSCRIBE (`with_options`) or UNSUBSCRIBE: Packet Identifier, MQTT 5 properties, then at
/// least one topic filter (3.1.1 §3.8.3, §3.10.3). A filter must be non-empty valid text;
/// SUBSCRIBE options must leave reserved bits 0 and QoS below 3 (3.1.1 §3.8.3.1, 5.0
/// §3.8.3.1, where bits 4-5 Retain Handling may be 0-2).
pub fn filters(body: &[u8], v5: bool, with_options: bool) -> Result<Filters<'_>> {
    let mut c = Cursor::new(body);
    if need(c.u16_be())? == 0 {
        return Err(Error::Malformed(MqttError::PacketIdZero));
    }
    if v5 {
        properties(&mut c)?;
    }
    let payload = c.rest();
    let mut n = 0usize;
    while !c.is_empty() {
        let f = string(&mut c)?;
        if f.is_empty() || !valid_text(f) {
            return Err(Error::Malformed(MqttError::InvalidTopicFilter));
        }
        if with_options {
            let o = need(c.u8())?;
            let bad = if v5 {
                o & 0xc0 != 0 || o & 0x03 == 3 || (o >> 4) & 0x03 == 3
            } else {
                o & 0xfc != 0 || o == 3
            };
            if bad {
                return Err(Error::Malformed(MqttError::InvalidSubscriptionOptions));
            }
        }
        n += 1;
    }
    if n == 0 {
        return Err(Error::Malformed(MqttError::NoTopicFilter));
    }
    Ok(Filters {
        payload,
        with_options,
    })
}
