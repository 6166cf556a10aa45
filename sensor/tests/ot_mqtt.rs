#![allow(clippy::unwrap_used, clippy::expect_used)]
//! MQTT on whole captures, with expected values checked against `tshark -T fields -e
//! mqtt.msgtype -e mqtt.clientid -e mqtt.username -e mqtt.topic` on the same files.

mod common;

use common::{asset, data, report};
use otwatch_common::model::Asset;

fn descriptions<'a>(a: &'a Asset, prefix: &str) -> Vec<&'a str> {
    a.evidence
        .iter()
        .filter(|e| e.field == "description" && e.source.starts_with(prefix))
        .map(|e| e.value.as_str())
        .collect()
}

#[test]
fn mqtt5_jpeg_publish_across_segments() {
    let r = report(&data("mqtt5_pub_jpeg.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let c = r.connections.iter().find(|c| c.protocol == "mqtt").unwrap();
    assert_eq!(c.port, 1883);
    // mqtt.msgtype from the client: 1 CONNECT, 3 PUBLISH (35,771 bytes in two segments),
    // 14 DISCONNECT.
    assert_eq!(c.function_codes, ["1", "3", "14"]);
    assert_eq!(c.operations, ["write"]);
    // mqtt.username "user"; mqtt.passwd "pass" never appears.
    let users: Vec<&str> = c.cleartext_logins.iter().map(|l| l.user.as_str()).collect();
    assert_eq!(users, ["user"]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("\"pass\""), "password leaked");
    // Empty mqtt.clientid; the broker assigned one (CONNACK property 0x12). mqtt.topic topicX.
    assert_eq!(
        descriptions(asset(&r, "::1"), "mqtt"),
        [
            "mqtt client id auto-1B43E800-08E3-3BA1-2E97-E9A0B4064BF5",
            "mqtt topic topicX"
        ]
    );
}

#[test]
fn mqtt_capture_starting_after_connect_and_other_local_traffic() {
    let r = report(&data("mqtt-events-missing-connect.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // Only the two connections to 1883 are MQTT; the JSON/TLS flows on other loopback ports
    // are not taken for it.
    let mqtt: Vec<_> = r
        .connections
        .iter()
        .filter(|c| c.protocol == "mqtt")
        .collect();
    assert_eq!(mqtt.len(), 1);
    let c = mqtt[0];
    assert_eq!((c.port, c.flows), (1883, 2));
    assert!(r
        .connections
        .iter()
        .all(|c| c.protocol == "mqtt" || c.port != 1883));
    // First connection starts with CONNACK: SUBSCRIBE (8), PUBLISH (3), DISCONNECT (14);
    // second: CONNECT (1) with mqtt.clientid P1, SUBSCRIBE, DISCONNECT.
    assert_eq!(c.function_codes, ["1", "3", "8", "14"]);
    assert_eq!(c.operations, ["read", "write"]);
    assert!(c.cleartext_logins.is_empty());
    assert_eq!(
        descriptions(asset(&r, "::1"), "mqtt"),
        [
            "mqtt client id P1",
            "mqtt subscription house/bulbs/bar",
            "mqtt subscription house/bulbs/bulb1",
            "mqtt subscription house/bulbs/bulb2",
            "mqtt topic house/bulbs/bulb1",
            "mqtt topic house/bulbs/foo2"
        ]
    );
}
