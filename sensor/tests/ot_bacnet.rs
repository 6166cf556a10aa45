#![allow(clippy::unwrap_used, clippy::expect_used)]
//! BACnet/IP on whole captures (tests/data, copied from the corpus), expected values checked
//! against `tshark -V` of the same packets (the tshark field each value came from is noted).

mod common;

use common::{asset, data, report};
use otwatch_common::model::{Asset, Connection, InventoryReport};

fn conn<'a>(r: &'a InventoryReport, client: &str, server: &str) -> &'a Connection {
    r.connections
        .iter()
        .find(|c| c.client == client && c.server == server)
        .unwrap_or_else(|| panic!("no connection {client} -> {server}"))
}

fn evidence(a: &Asset, source: &str) -> Vec<String> {
    a.evidence
        .iter()
        .filter(|e| e.source == source)
        .map(|e| e.value.clone())
        .collect()
}

#[test]
fn jci_nae_answers_its_device_object() {
    let r = report(&data("bacnet_test.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let nae = asset(&r, "10.1.1.165");
    // object-name 'KBRNAE', model-name 'MS-NAE4510-2', firmware-revision '5.1.0.4400' (all
    // ISO 10646 UCS-2), vendor-identifier 5 (Johnson Controls, Inc.), vendor-name 'JCI'.
    assert_eq!(nae.hostname, "KBRNAE");
    assert_eq!(nae.model, "MS-NAE4510-2");
    assert_eq!(nae.firmware, "5.1.0.4400");
    assert_eq!(nae.vendor, "Johnson Controls");
    assert_eq!(evidence(nae, "bacnet readproperty vendor-name"), ["JCI"]);
    // object-identifier answered for the wildcard device,4194303: device,500.
    assert_eq!(
        evidence(nae, "bacnet readproperty object-identifier"),
        ["bacnet device 500"]
    );
    assert_eq!(nae.device_type, "building_controller");
    assert!(nae
        .protocols
        .iter()
        .all(|p| p.name == "bacnet" && p.role == "server"));
    // readProperty (12), Read-Broadcast-Distribution-Table (0x8102), Register-Foreign-Device
    // (0x8105) from 10.1.1.167.
    let c = conn(&r, "10.1.1.167", "10.1.1.165");
    assert_eq!(c.protocol, "bacnet");
    assert_eq!(c.port, 47808);
    assert_eq!(c.function_codes, ["12", "33026", "33029"]);
    assert_eq!(c.operations, ["control", "read"]);
}

#[test]
fn discovery_time_sync_and_segmented_answers() {
    let r = report(&data("bacnet_segmented_data.pcap"));
    // A segmented ComplexACK (frames 15, 17, 18) is not a violation.
    assert!(r.stats().protocol_violations.is_empty());
    // i-Am device,254 from 10.0.0.2 and device,0 from 10.0.0.1 (bacapp.instance_number).
    assert_eq!(
        evidence(asset(&r, "10.0.0.2"), "bacnet i-am"),
        ["bacnet device 254"]
    );
    assert_eq!(
        evidence(asset(&r, "10.0.0.1"), "bacnet i-am"),
        ["bacnet device 0"]
    );
    // who-Has, who-Is, timeSynchronization and i-Am went to the broadcast MAC: no
    // conversation with 10.0.0.255 and no asset for it.
    assert!(r.connections.iter().all(|c| c.server != "10.0.0.255"));
    assert!(r
        .assets
        .iter()
        .all(|a| !a.ips.iter().any(|i| i == "10.0.0.255")));
    // readProperty object-list: 10.0.0.1 reads from device 10.0.0.2. Both ends use 47808 and
    // the flow opens with 10.0.0.2's unicast I-Am, so the sides come from the APDU kinds (an
    // I-Am and ACKs are sent by the device), not from who sent first.
    assert!(conn(&r, "10.0.0.1", "10.0.0.2")
        .operations
        .contains(&"read".to_string()));
    assert_eq!(asset(&r, "10.0.0.2").device_type, "building_controller");
    assert_eq!(asset(&r, "10.0.0.1").device_type, "hmi");
}
