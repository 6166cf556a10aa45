#![allow(clippy::unwrap_used, clippy::expect_used)]
//! OPC UA on whole captures, with expected values checked against `tshark -d
//! tcp.port==48010,opcua -T fields -e opcua.transport.type -e opcua.servicenodeid.numeric -e
//! opcua.security.spu -e opcua.transport.endpoint -e opcua.UserName` on the same files.

mod common;

use common::{asset, data, report};
use otwatch_common::model::Asset;

fn descriptions<'a>(a: &'a Asset, source: &str) -> Vec<&'a str> {
    a.evidence
        .iter()
        .filter(|e| e.field == "description" && e.source == source)
        .map(|e| e.value.as_str())
        .collect()
}

#[test]
fn opcua_on_a_non_standard_port_with_a_cleartext_login() {
    let r = report(&data(
        "open62541_client-server_mainloop-not-localhost-non-standard-port.pcap",
    ));
    assert!(r.stats().protocol_violations.is_empty());
    // Found by content on TCP 48010; two connections (GetEndpoints, then the session).
    let c = r
        .connections
        .iter()
        .find(|c| c.protocol == "opcua")
        .unwrap();
    assert_eq!(c.port, 48010);
    assert_eq!(c.flows, 2);
    // opcua.servicenodeid.numeric of the client's OPN/MSG/CLO.
    assert_eq!(
        c.function_codes,
        [
            "428", "446", "452", "461", "467", "473", "488", "527", "631", "673", "712", "751",
            "787", "826", "847"
        ]
    );
    assert_eq!(c.operations, ["control", "identify", "read", "write"]);
    // opcua.UserName "user1" with a null EncryptionAlgorithm; the password never shows.
    let users: Vec<&str> = c.cleartext_logins.iter().map(|l| l.user.as_str()).collect();
    assert_eq!(users, ["user1"]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("password"), "password leaked");
    // Client and server share 192.168.224.102.
    let a = asset(&r, "192.168.224.102");
    assert_eq!(
        descriptions(a, "opcua hello"),
        ["opcua endpoint opc.tcp://192.168.224.102:4840"]
    );
    // tshark: opcua.MessageSecurityMode 0x00000001 (None) in the OpenSecureChannelRequest.
    assert_eq!(
        descriptions(a, "opcua open secure channel"),
        ["opcua security mode None", "opcua security policy None"]
    );
    assert_eq!(
        descriptions(a, "opcua get endpoints"),
        ["opcua application open62541-based OPC UA Application (urn:open62541.server.application)"]
    );
    assert_eq!(
        descriptions(a, "opcua create session"),
        ["opcua application urn:unconfigured:application"]
    );
    assert_eq!(a.device_type, "opc_server");
}

#[test]
fn opcua_encrypted_channel_shows_policy_but_no_services() {
    let r = report(&data("open62541_client-server_encrypted.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // First connection: GetEndpoints over policy None (428, 446, 452); second: OPN with
    // Basic128Rsa15 then encrypted MSGs (tshark decodes no service id) and a CLO.
    let c = r
        .connections
        .iter()
        .find(|c| c.protocol == "opcua")
        .unwrap();
    assert_eq!(c.port, 4840);
    assert_eq!(c.function_codes, ["428", "446", "452"]);
    assert_eq!(c.operations, ["identify"]);
    assert!(c.cleartext_logins.is_empty());
    let a = asset(&r, "::1");
    assert_eq!(
        descriptions(a, "opcua open secure channel"),
        [
            "opcua security mode None",
            "opcua security policy Basic128Rsa15",
            "opcua security policy None"
        ]
    );
    // The second channel's mode is inside its encrypted OpenSecureChannel; its requests
    // (frames 35, 39, 43, 47) stay unreadable, as in tshark: SignAndEncrypt.
    assert_eq!(
        descriptions(a, "opcua encrypted message"),
        ["opcua security mode SignAndEncrypt"]
    );
}
