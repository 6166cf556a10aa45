//! Tests on real MQTT packets from /work/shared/pcaps/mqtt (payloads extracted with
//! `tshark -T fields -e tcp.payload`; expected values read from `tshark -O mqtt` and `-T
//! fields -e mqtt.msgtype -e mqtt.clientid -e mqtt.username -e mqtt.topic -e
//! mqtt.willtopic`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Source;

/// mqtt31-sub-userpass.pcap frame 4: CONNECT "MQIsdp" level 3, client id "myvoiceismypassport",
/// user name "user", password "pass" (mqtt.username, mqtt.passwd).
const V31_CONNECT: &str = concat!(
    "102d00064d514973647003c2003c00136d79766f69636569736d7970617373706f7274000475736572000470",
    "617373",
);
/// frame 6: CONNACK, return code 0.
const V31_CONNACK: &str = "20020000";
/// frame 8: SUBSCRIBE topicX, topicY (mqtt.topic).
const V31_SUBSCRIBE: &str = "821400010006746f70696358000006746f7069635900";
/// frame 9: SUBACK.
const V31_SUBACK: &str = "900400010000";
/// frame 11: DISCONNECT.
const V31_DISCONNECT: &str = "e000";
/// mqtt311-pub-userpass.pcap frame 4: CONNECT "MQTT" level 4, same client id and user.
const V311_CONNECT: &str = concat!(
    "102b00044d51545404c2003c00136d79766f69636569736d7970617373706f72740004757365720004706173",
    "73",
);
/// frame 6: CONNACK.
const V311_CONNACK: &str = "20020000";
/// frame 8: PUBLISH QoS 0 to topicX.
const V311_PUBLISH: &str = "30180006746f70696358626161626161626c61636b7368656570";
/// frame 9: DISCONNECT.
const V311_DISCONNECT: &str = "e000";
/// mqtt5-pub-mosquittoprops.pcap frame 4: CONNECT level 5 with properties, will properties,
/// will topic "willtopic", user "user", password "pass".
const V5_CONNECT: &str = concat!(
    "10cc0100044d51545405c6003c3c2700002b672100de110000022b22029a2600097573657270726f70310008",
    "7573657276616c312600097573657270726f703200087573657276616c3200136d79766f69636569736d7970",
    "617373706f72744b03000a6d7977696c6c74797065090007313233343536370200000085019008000f726573",
    "706f6e73655f746f706963312600097573657270726f703500087573657276616c3518000000c8000977696c",
    "6c746f706963000b77696c6c6d657373616765000475736572000470617373",
);
/// frame 6: CONNACK with Topic Alias Maximum.
const V5_CONNACK: &str = "200600000322000a";
/// frame 8: PUBLISH QoS 1 to topicX with properties (Topic Alias 5, User Property, ...).
const V5_PUBLISH: &str = concat!(
    "325e0006746f706963580001430300066d79747970650900053132333435020000004d015808000f72657370",
    "6f6e73655f746f706963312300052600097573657270726f703300087573657276616c33626161626161626c",
    "61636b7368656570",
);
/// frame 9: PUBACK with a reason code.
const V5_PUBACK: &str = "4003000110";
/// frame 10: DISCONNECT with Session Expiry Interval and User Property.
const V5_DISCONNECT: &str = "e01d001b110000007a2600097573657270726f703400087573657276616c34";
/// mqtt5_pub_jpeg.pcap frame 4: CONNECT level 5, empty client id, user "user".
const JPEG_CONNECT: &str = "101c00044d51545405c2003c032100140000000475736572000470617373";
/// frame 6: CONNACK, Assigned Client Identifier "auto-1B43E800-08E3-3BA1-2E97-E9A0B4064BF5".
const JPEG_CONNACK: &str = concat!(
    "203200002f22000a1200296175746f2d31423433453830302d303845332d334241312d324539372d45394130",
    "4234303634424635",
);
/// zeek-mqtt.pcap frame 1: CONNECT level 3, client id "paho/34AAE54A75D839566E".
const ZEEK_CONNECT: &str =
    "102500064d51497364700302000500177061686f2f333441414535344137354438333935363645";
/// frame 2: CONNACK.
const ZEEK_CONNACK: &str = "20020000";
/// frame 3: SUBSCRIBE SampleTopic.
const ZEEK_SUBSCRIBE: &str = "82100001000b53616d706c65546f70696300";
/// frame 4: SUBACK.
const ZEEK_SUBACK: &str = "9003000100";
/// frame 5: the broker delivers a PUBLISH on SampleTopic.
const ZEEK_PUBLISH_TO_CLIENT: &str = concat!(
    "3130000b53616d706c65546f70696348656c6c6f2066726f6d20746865205061686f20626c6f636b696e6720",
    "636c69656e74",
);
/// frame 6: PINGREQ.
const ZEEK_PINGREQ: &str = "c000";
/// frame 7: PINGRESP.
const ZEEK_PINGRESP: &str = "d000";
/// frame 9 (second connection, CONNECT not included): PUBLISH SampleTopic and
/// DISCONNECT in one segment.
const ZEEK_PUBLISH_AND_DISCONNECT: &str = "3017000b53616d706c65546f70696348656c6c6f204d515454e000";
/// mqtt-events-missing-connect.pcap frame 16: the connection starts with the CONNACK.
const MID_CONNACK: &str = "20020000";
/// frame 22: SUBSCRIBE house/bulbs/bulb1, packet id 1.
const MID_SUBSCRIBE: &str = "821600010011686f7573652f62756c62732f62756c623101";
/// frame 23: SUBACK.
const MID_SUBACK: &str = "9003000101";
/// frame 30: PUBLISH QoS 2 to house/bulbs/bulb1, packet id 3.
const MID_PUBLISH_QOS: &str = "34180011686f7573652f62756c62732f62756c623100034f4646";
/// frame 31: PUBREC.
const MID_PUBREC: &str = "50020003";
/// frame 38: PUBREL.
const MID_PUBREL: &str = "62020003";
/// frame 39: PUBCOMP.
const MID_PUBCOMP: &str = "70020003";

const TO_SERVER: Direction = Direction::ToServer;
const TO_CLIENT: Direction = Direction::ToClient;

fn flow() -> FlowCtx {
    ctx(Transport::Tcp, "[::1]:38238", "[::1]:1883")
}

/// Feeds segments through one dissector the way the flow layer does: the bytes a call did
/// not consume are offered again, followed by the next segment of that direction.
fn run_bytes(d: &mut dyn Dissector, segs: &[(Direction, Vec<u8>)]) -> Vec<Observation> {
    let mut pending = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for (dir, bytes) in segs {
        let p = &mut pending[*dir as usize];
        p.extend_from_slice(bytes);
        let n = d.parse(*dir, p, &flow(), &mut out);
        assert!(n <= p.len());
        p.drain(..n);
    }
    out
}

fn run(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let segs: Vec<_> = msgs.iter().map(|(d, h)| (*d, hex(h))).collect();
    run_bytes(new().as_mut(), &segs)
}

fn client(value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject: Subject::Client,
        field: Field::Description,
        value: value.to_owned(),
        source,
    }
}

fn login(user: &str) -> Observation {
    Observation::CleartextLogin {
        user: user.to_owned(),
        protocol: "mqtt",
    }
}

fn op(op: Operation, code: u32) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: Vec::new(),
    }
}

fn fc(code: u32) -> Observation {
    Observation::FunctionCode(code)
}

fn violations(out: &[Observation]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn mqtt31_connect_login_and_subscriptions() {
    let out = run(&[
        (TO_SERVER, V31_CONNECT),
        (TO_CLIENT, V31_CONNACK),
        (TO_SERVER, V31_SUBSCRIBE),
        (TO_CLIENT, V31_SUBACK),
        (TO_SERVER, V31_DISCONNECT),
    ]);
    assert_eq!(
        out,
        vec![
            fc(1),
            client("mqtt client id myvoiceismypassport", source::MQTT_CONNECT),
            login("user"),
            op(Operation::Read, 8),
            client("mqtt subscription topicX", source::MQTT_SUBSCRIBE),
            client("mqtt subscription topicY", source::MQTT_SUBSCRIBE),
            fc(14),
        ]
    );
}

#[test]
fn mqtt311_publish_is_a_write_with_its_topic() {
    let out = run(&[
        (TO_SERVER, V311_CONNECT),
        (TO_CLIENT, V311_CONNACK),
        (TO_SERVER, V311_PUBLISH),
        (TO_SERVER, V311_DISCONNECT),
    ]);
    assert_eq!(
        out,
        vec![
            fc(1),
            client("mqtt client id myvoiceismypassport", source::MQTT_CONNECT),
            login("user"),
            op(Operation::Write, 3),
            client("mqtt topic topicX", source::MQTT_PUBLISH),
            fc(14),
        ]
    );
}

const V5_CONVERSATION: &[(Direction, &str)] = &[
    (TO_SERVER, V5_CONNECT),
    (TO_CLIENT, V5_CONNACK),
    (TO_SERVER, V5_PUBLISH),
    (TO_CLIENT, V5_PUBACK),
    (TO_SERVER, V5_DISCONNECT),
];

fn v5_expected() -> Vec<Observation> {
    vec![
        fc(1),
        client("mqtt client id myvoiceismypassport", source::MQTT_CONNECT),
        client("mqtt will topic willtopic", source::MQTT_CONNECT),
        login("user"),
        op(Operation::Write, 3),
        client("mqtt topic topicX", source::MQTT_PUBLISH),
        fc(14),
    ]
}

fn refusals(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    run(msgs)
        .into_iter()
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .collect()
}

fn refused(user: &str) -> Observation {
    Observation::AuthFailure {
        user: user.to_owned(),
        protocol: "mqtt",
    }
}

/// The CONNECTs of the captures answered by refusing CONNACKs (3.1.1 §3.2.2.3 return codes;
/// 5.0 §3.2.2.2 reason codes, with an empty property list).
#[test]
fn refused_credentials_are_an_auth_failure_with_the_user() {
    // Accepted in the captures: nothing.
    assert_eq!(
        refusals(&[(TO_SERVER, V311_CONNECT), (TO_CLIENT, V311_CONNACK)]),
        []
    );
    assert_eq!(refusals(V5_CONVERSATION), []);
    assert_eq!(
        refusals(&[(TO_SERVER, JPEG_CONNECT), (TO_CLIENT, JPEG_CONNACK)]),
        []
    );
    // 4 bad user name or password, 5 not authorized.
    for connack in ["20020004", "20020005"] {
        assert_eq!(
            refusals(&[(TO_SERVER, V311_CONNECT), (TO_CLIENT, connack)]),
            [refused("user")]
        );
        assert_eq!(
            refusals(&[(TO_SERVER, V31_CONNECT), (TO_CLIENT, connack)]),
            [refused("user")]
        );
    }
    // 2 identifier rejected, 3 server unavailable: not about credentials.
    for connack in ["20020002", "20020003"] {
        assert_eq!(
            refusals(&[(TO_SERVER, V311_CONNECT), (TO_CLIENT, connack)]),
            []
        );
    }
    // 0x86 Bad User Name or Password, 0x87 Not authorized; 0x8C Bad authentication method.
    for (connack, expected) in [
        ("2003008600", vec![refused("user")]),
        ("2003008700", vec![refused("user")]),
        ("2003008c00", vec![]),
    ] {
        assert_eq!(
            refusals(&[(TO_SERVER, JPEG_CONNECT), (TO_CLIENT, connack)]),
            expected
        );
    }
}

#[test]
fn refusal_without_credentials_or_connect_is_not_an_auth_failure() {
    // zeek-mqtt.pcap's CONNECT carries no user name or password.
    assert_eq!(
        refusals(&[(TO_SERVER, ZEEK_CONNECT), (TO_CLIENT, "20020005")]),
        []
    );
    // A capture that starts at the CONNACK.
    assert_eq!(refusals(&[(TO_CLIENT, "20020005")]), []);
    // One CONNACK answers one CONNECT.
    assert_eq!(
        refusals(&[
            (TO_SERVER, V311_CONNECT),
            (TO_CLIENT, "20020004"),
            (TO_CLIENT, "20020004"),
        ]),
        [refused("user")]
    );
}

#[test]
fn mqtt5_properties_will_topic_and_publish() {
    assert_eq!(run(V5_CONVERSATION), v5_expected());
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    let mut segs = Vec::new();
    for (dir, h) in V5_CONVERSATION {
        for b in hex(h) {
            segs.push((*dir, vec![b]));
        }
    }
    assert_eq!(run_bytes(new().as_mut(), &segs), v5_expected());
}

#[test]
fn passwords_never_appear() {
    for conv in [
        &[(TO_SERVER, V31_CONNECT)][..],
        &[(TO_SERVER, V311_CONNECT)][..],
        V5_CONVERSATION,
        &[(TO_SERVER, JPEG_CONNECT)][..],
    ] {
        let text = format!("{:?}", run(conv));
        // The password of every one of these captures is "pass".
        assert!(!text.contains("\"pass\""), "{text}");
    }
}

/// mqtt5_pub_jpeg.pcap frames 8-9: a 35,771-byte PUBLISH of a JPEG to topicX, in a
/// 32,768-byte and a 3,003-byte segment. The real first bytes (fixed header with Remaining
/// Length 35,767, topic, empty property list, JPEG SOI/APP0 markers), padded to length.
fn jpeg_publish() -> Vec<u8> {
    let mut p = hex("30b7970200067\
         46f7069635800ffd8ffe000104a46494600010201004800480000");
    p.resize(35_771, 0xa5);
    p
}

#[test]
fn large_publish_across_segments_and_assigned_client_id() {
    let publish = jpeg_publish();
    let (first, second) = publish.split_at(32_768);
    let out = run_bytes(
        new().as_mut(),
        &[
            (TO_SERVER, hex(JPEG_CONNECT)),
            (TO_CLIENT, hex(JPEG_CONNACK)),
            (TO_SERVER, first.to_vec()),
            (TO_SERVER, second.to_vec()),
            (TO_SERVER, vec![0xe0, 0x00]),
        ],
    );
    assert_eq!(
        out,
        vec![
            fc(1),
            login("user"),
            client(
                "mqtt client id auto-1B43E800-08E3-3BA1-2E97-E9A0B4064BF5",
                source::MQTT_CONNACK
            ),
            op(Operation::Write, 3),
            client("mqtt topic topicX", source::MQTT_PUBLISH),
            fc(14),
        ]
    );
}

#[test]
fn a_packet_bigger_than_the_cap_is_skipped_without_buffering() {
    let mut big = hex("30ffff7f0006746f70696358");
    let total = 4 + 2_097_151;
    let mut d = new();
    let mut out = Vec::new();
    let mut pending = Vec::new();
    big.resize(1460, 0);
    let mut fed = 0;
    while fed < total {
        let n = (total - fed).min(big.len());
        pending.extend_from_slice(&big[..n]);
        big.iter_mut().for_each(|b| *b = 0);
        fed += n;
        let used = d.parse(TO_SERVER, &pending, &flow(), &mut out);
        pending.drain(..used);
        assert!(pending.len() <= PACKET_PREFIX_CAP);
        if fed > 1 << 20 {
            // Past the prefix everything is consumed on arrival; no need to feed 256 MiB.
            assert!(pending.is_empty());
            break;
        }
    }
    assert_eq!(
        out,
        vec![
            op(Operation::Write, 3),
            client("mqtt topic topicX", source::MQTT_PUBLISH)
        ]
    );
}

#[test]
fn zeek_subscriber_receives_a_delivery_and_pings() {
    let out = run(&[
        (TO_SERVER, ZEEK_CONNECT),
        (TO_CLIENT, ZEEK_CONNACK),
        (TO_SERVER, ZEEK_SUBSCRIBE),
        (TO_CLIENT, ZEEK_SUBACK),
        (TO_CLIENT, ZEEK_PUBLISH_TO_CLIENT),
        (TO_SERVER, ZEEK_PINGREQ),
        (TO_CLIENT, ZEEK_PINGRESP),
    ]);
    assert_eq!(
        out,
        vec![
            fc(1),
            client(
                "mqtt client id paho/34AAE54A75D839566E",
                source::MQTT_CONNECT
            ),
            op(Operation::Read, 8),
            client("mqtt subscription SampleTopic", source::MQTT_SUBSCRIBE),
            fc(12),
        ]
    );
    // Two packets in one segment, version unknown.
    let out = run(&[(TO_SERVER, ZEEK_PUBLISH_AND_DISCONNECT)]);
    assert_eq!(
        out,
        vec![
            op(Operation::Write, 3),
            client("mqtt topic SampleTopic", source::MQTT_PUBLISH),
            fc(14),
        ]
    );
}

const MISSING_CONNECT: &[(Direction, &str)] = &[
    (TO_CLIENT, MID_CONNACK),
    (TO_SERVER, MID_SUBSCRIBE),
    (TO_CLIENT, MID_SUBACK),
    (TO_SERVER, MID_PUBLISH_QOS),
    (TO_CLIENT, MID_PUBREC),
    (TO_SERVER, MID_PUBREL),
    (TO_CLIENT, MID_PUBCOMP),
];

#[test]
fn capture_without_connect() {
    assert_eq!(probe(TO_CLIENT, &hex(MID_CONNACK)), Probe::Yes);
    let out = run(MISSING_CONNECT);
    assert_eq!(
        out,
        vec![
            op(Operation::Read, 8),
            client(
                "mqtt subscription house/bulbs/bulb1",
                source::MQTT_SUBSCRIBE
            ),
            op(Operation::Write, 3),
            client("mqtt topic house/bulbs/bulb1", source::MQTT_PUBLISH),
        ]
    );
}

#[test]
fn sides_guessed_the_wrong_way_round_are_learned() {
    // The same packets with the flow's sides swapped: the broker looks like the client.
    let swapped: Vec<_> = MISSING_CONNECT
        .iter()
        .map(|(d, h)| (d.other(), hex(h)))
        .collect();
    let out = run_bytes(new().as_mut(), &swapped);
    let subject = |o: &Observation| match o {
        Observation::Identity { subject, .. } => Some(*subject),
        _ => None,
    };
    assert_eq!(out.len(), 4);
    assert!(out.iter().filter_map(subject).all(|s| s == Subject::Server));
}

#[test]
fn broker_version_from_sys_topic() {
    let topic = b"$SYS/broker/version";
    let text = b"mosquitto version 2.0.18";
    let mut p = vec![
        0x30,
        (2 + topic.len() + text.len()) as u8,
        0,
        topic.len() as u8,
    ];
    p.extend_from_slice(topic);
    p.extend_from_slice(text);
    let out = run_bytes(new().as_mut(), &[(TO_CLIENT, p.clone()), (TO_CLIENT, p)]);
    assert_eq!(
        out,
        vec![Observation::Identity {
            subject: Subject::Server,
            field: Field::Description,
            value: "mqtt broker mosquitto version 2.0.18".into(),
            source: source::MQTT_SYS_BROKER_VERSION,
        }]
    );
}

#[test]
fn topics_are_bounded_and_reported_once() {
    let mut segs = Vec::new();
    for i in 0..20 {
        for _ in 0..3 {
            let topic = format!("plant/line{i}/temp");
            let mut p = vec![0x30, (2 + topic.len() + 2) as u8, 0, topic.len() as u8];
            p.extend_from_slice(topic.as_bytes());
            p.extend_from_slice(b"42");
            segs.push((TO_SERVER, p));
        }
    }
    let out = run_bytes(new().as_mut(), &segs);
    let topics = out
        .iter()
        .filter(|o| matches!(o, Observation::Identity { .. }))
        .count();
    assert_eq!(topics, MAX_TOPICS);
    let writes = out
        .iter()
        .filter(|o| **o == op(Operation::Write, 3))
        .count();
    assert_eq!(writes, 60);
}

#[test]
fn malformed_packets_are_violations() {
    let v311 = |extra: &[u8]| {
        let mut segs = vec![(TO_SERVER, hex(V311_CONNECT))];
        segs.push((TO_SERVER, extra.to_vec()));
        let out = run_bytes(new().as_mut(), &segs);
        violations(&out)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // SUBSCRIBE with flags 0 (must be 0b0010 in 3.1.1).
    assert_eq!(
        v311(&[0x80, 0x08, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x00]),
        ["reserved fixed header flags are wrong"]
    );
    // PUBLISH with QoS 3.
    assert_eq!(
        v311(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]),
        ["PUBLISH with QoS 3"]
    );
    // PUBLISH to a wildcard topic.
    assert_eq!(
        v311(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#']),
        ["PUBLISH topic is not a valid topic name"]
    );
    // Topic length past the remaining length.
    assert_eq!(
        v311(&[0x30, 0x03, 0x00, 0x09, b'a']),
        ["fields overrun the remaining length"]
    );
    // Remaining length in five bytes.
    assert_eq!(
        v311(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ["variable byte integer longer than 4 bytes"]
    );
    // SUBSCRIBE without a topic filter.
    assert_eq!(v311(&[0x82, 0x02, 0x00, 0x01]), ["no topic filter"]);
    // CONNACK with return code 6 from the broker.
    let out = run(&[(TO_SERVER, V311_CONNECT), (TO_CLIENT, "20020006")]);
    assert_eq!(violations(&out), ["unknown CONNACK return code"]);
    // CONNECT with the reserved flag, an unknown protocol name, a bad MQTT 5 property.
    let mut c = hex(V311_CONNECT);
    c[9] |= 0x01;
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, c)]);
    assert_eq!(violations(&out), ["CONNECT reserved flag set"]);
    let mut c = hex(V311_CONNECT);
    c[4..8].copy_from_slice(b"MQTX");
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, c)]);
    assert_eq!(violations(&out), ["unknown MQTT protocol name"]);
    let mut c = hex(V5_CONNECT);
    c[13] = 0x7f; // first property identifier
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, c)]);
    assert_eq!(violations(&out), ["unknown MQTT 5 property identifier"]);
    // Nothing in the corpus conversations is a violation.
    for conv in [V5_CONVERSATION, MISSING_CONNECT] {
        assert!(violations(&run(conv)).is_empty());
    }
}

#[test]
fn broken_framing_recovers_at_the_next_delivery() {
    let out = run_bytes(
        new().as_mut(),
        &[
            (TO_SERVER, hex(V311_CONNECT)),
            // Type 0 is reserved: a violation, the rest of this delivery is dropped.
            (TO_SERVER, b"\x00\x05hello\x30\x02\x00\x00".to_vec()),
            (TO_SERVER, hex(V311_PUBLISH)),
        ],
    );
    assert_eq!(
        out[3..],
        [
            Observation::ProtocolViolation {
                protocol: "mqtt",
                reason: "reserved packet type 0".into()
            },
            op(Operation::Write, 3),
            client("mqtt topic topicX", source::MQTT_PUBLISH),
        ]
    );
}

#[test]
fn gap_resynchronises_at_a_delivery_starting_with_a_packet() {
    let mut d = new();
    let mut out = Vec::new();
    let publish = hex(V311_PUBLISH);
    let _ = d.parse(TO_SERVER, &hex(V311_CONNECT), &flow(), &mut out);
    out.clear();
    d.gap(TO_SERVER);
    // A delivery starting mid-packet is dropped whole...
    let tail = &publish[5..];
    assert_eq!(d.parse(TO_SERVER, tail, &flow(), &mut out), tail.len());
    assert!(out.is_empty());
    // ...and the next one, starting with a packet, is parsed.
    assert_eq!(
        d.parse(TO_SERVER, &publish, &flow(), &mut out),
        publish.len()
    );
    assert_eq!(
        out,
        vec![
            op(Operation::Write, 3),
            client("mqtt topic topicX", source::MQTT_PUBLISH)
        ]
    );
}

#[test]
fn probe_is_strict() {
    let s = |h: &str| probe(TO_SERVER, &hex(h));
    let c = |h: &str| probe(TO_CLIENT, &hex(h));
    for connect in [
        V31_CONNECT,
        V311_CONNECT,
        V5_CONNECT,
        JPEG_CONNECT,
        ZEEK_CONNECT,
    ] {
        assert_eq!(s(connect), Probe::Yes);
        assert_eq!(c(connect), Probe::No);
    }
    for connack in [V31_CONNACK, V5_CONNACK, JPEG_CONNACK, MID_CONNACK] {
        assert_eq!(c(connack), Probe::Yes);
    }
    assert_eq!(s(MID_SUBSCRIBE), Probe::Yes);
    assert_eq!(s(V311_PUBLISH), Probe::Yes);
    assert_eq!(c(ZEEK_PUBLISH_TO_CLIENT), Probe::Yes);
    // Short packets only: wait; then a strong one decides.
    assert_eq!(s(ZEEK_PINGREQ), Probe::NeedMore);
    let mut more = hex(ZEEK_PINGREQ);
    more.extend_from_slice(&hex(MID_SUBSCRIBE));
    assert_eq!(probe(TO_SERVER, &more), Probe::Yes);
    assert_eq!(c(MID_PUBREC), Probe::NeedMore);
    // A CONNECT cut short waits, a wrong protocol name does not.
    let connect = hex(V311_CONNECT);
    assert_eq!(probe(TO_SERVER, &connect[..5]), Probe::NeedMore);
    assert_eq!(probe(TO_SERVER, b"\x10\x20\x00\x04MQTX"), Probe::No);
    for other in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"POST /api HTTP/1.1\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"SSH-2.0-OpenSSH_8.9\r\n",
        b"220 ftp ready\r\n",
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc][..],
        &[
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a,
        ][..],
        &[0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00][..],
        b"HELF8\x00\x00\x00\x00\x00\x00\x00",
        b"0123456789 text line\r\n",
    ] {
        assert_eq!(probe(TO_SERVER, other), Probe::No, "{other:?}");
        assert_eq!(probe(TO_CLIENT, other), Probe::No, "{other:?}");
    }
}

#[test]
fn probe_rarely_accepts_random_bytes() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut yes = 0;
    for len in 0..20_000usize {
        let buf: Vec<u8> = (0..8 + len % 300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for dir in [TO_SERVER, TO_CLIENT] {
            if probe(dir, &buf) == Probe::Yes {
                yes += 1;
            }
        }
    }
    assert!(yes <= 2, "{yes} of 40000 random buffers taken for MQTT");
}

/// Every prefix of every message, every message with one byte flipped, and noise, offered to
/// the probe and to fresh dissectors in both directions: nothing panics and no parse claims
/// more bytes than it was given. (Kept local so it does not depend on the shared testing
/// helpers' signature.)
fn never_panics(messages: &[&[u8]]) {
    let mut out = Vec::new();
    for dir in [TO_SERVER, TO_CLIENT] {
        for m in messages {
            for n in 0..=m.len() {
                let _ = probe(dir, &m[..n]);
                assert!(new().parse(dir, &m[..n], &flow(), &mut out) <= n);
            }
            for i in 0..m.len() {
                let mut v = m.to_vec();
                v[i] ^= 0xff;
                assert!(new().parse(dir, &v, &flow(), &mut out) <= v.len());
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut d = new();
        for len in 0..600usize {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = probe(dir, &buf);
            assert!(d.parse(dir, &buf, &flow(), &mut out) <= buf.len());
        }
        out.clear();
    }
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    let all: Vec<Vec<u8>> = [
        V31_CONNECT,
        V31_CONNACK,
        V31_SUBSCRIBE,
        V31_SUBACK,
        V31_DISCONNECT,
        V311_CONNECT,
        V311_PUBLISH,
        V5_CONNECT,
        V5_CONNACK,
        V5_PUBLISH,
        V5_PUBACK,
        V5_DISCONNECT,
        JPEG_CONNECT,
        JPEG_CONNACK,
        ZEEK_CONNECT,
        ZEEK_SUBSCRIBE,
        ZEEK_PUBLISH_TO_CLIENT,
        ZEEK_PUBLISH_AND_DISCONNECT,
        MID_CONNACK,
        MID_SUBSCRIBE,
        MID_PUBLISH_QOS,
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    let refs: Vec<&[u8]> = all.iter().map(|m| m.as_slice()).collect();
    never_panics(&refs);
    for m in &refs {
        for n in 0..=m.len() {
            let _ = probe(TO_SERVER, &m[..n]);
            let _ = probe(TO_CLIENT, &m[..n]);
        }
        // Every byte set to each interesting value, through a dissector that saw CONNECT.
        for i in 0..m.len() {
            for b in [0x00, 0x7f, 0x80, 0xff] {
                let mut v = m.to_vec();
                v[i] = b;
                let mut d = new();
                let mut out = Vec::new();
                let _ = d.parse(TO_SERVER, &hex(V5_CONNECT), &flow(), &mut out);
                assert!(d.parse(TO_SERVER, &v, &flow(), &mut out) <= v.len());
                assert!(d.parse(TO_CLIENT, &v, &flow(), &mut out) <= v.len());
            }
        }
    }
}
