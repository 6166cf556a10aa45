#![allow(clippy::unwrap_used, clippy::expect_used)]
//! EtherNet/IP and CIP on whole real captures (tests/data, copied from the corpus), with
//! expected values checked against tshark's dissection of the same packets (the tshark field
//! each value came from is noted).

mod common;

use common::{asset, data, report};
use otwatch_common::model::{Connection, InventoryReport};

fn conn<'a>(r: &'a InventoryReport, client: &str, server: &str, port: u32) -> &'a Connection {
    r.connections
        .iter()
        .find(|c| c.client == client && c.server == server && c.port == port)
        .unwrap_or_else(|| panic!("no connection {client} -> {server}:{port}"))
}

fn codes(c: &Connection) -> Vec<u32> {
    c.function_codes
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn list_identity_explicit_messaging_and_io() {
    let r = report(&data("enip_cip_example.pcap"));
    assert!(
        !r.stats().protocol_violations.contains_key("enip"),
        "{:?}",
        r.stats().protocol_violations
    );

    // ListIdentity reply from 10.1.1.164: enip.lir.vendor 0x0001, enip.lir.name
    // "1756-ENBT/A", revision 4.03, enip.lir.serial 0x00524d8e.
    let enbt = asset(&r, "10.1.1.164");
    assert_eq!(enbt.vendor, "Rockwell Automation");
    assert_eq!(enbt.model, "1756-ENBT/A");
    assert_eq!(enbt.firmware, "4.03");
    assert_eq!(enbt.serial, "0x00524d8e");
    let c = conn(&r, "10.1.1.167", "10.1.1.164", 44818);
    assert_eq!(c.protocol, "enip");
    assert_eq!(codes(c), [0x63]);
    assert_eq!(c.operations, ["identify"]);

    // Connected explicit messaging: enip.command 0x0070, cip.sc 0x0a (Multiple Service
    // Packet) of 0x03 Get Attribute List, and 0x04 Set Attribute List on class 0x8b (the
    // wall clock: a configuration change).
    let c = conn(&r, "192.168.10.105", "192.168.10.120", 44818);
    assert_eq!(c.protocol, "enip");
    assert_eq!(codes(c), [0x03, 0x04, 0x0A, 0x70]);
    assert_eq!(c.operations, ["config_change", "read"]);

    // Class 1 I/O on UDP 2222 (tshark: cipio): recognised, nothing else.
    let io = conn(&r, "192.168.1.24", "192.168.1.22", 2222);
    assert_eq!(
        (io.protocol.as_str(), io.transport.as_str()),
        ("enip_io", "udp")
    );
    assert!(io.function_codes.is_empty() && io.operations.is_empty());
}

#[test]
fn cip_stop_makes_an_engineering_workstation() {
    let r = report(&data("cip_stop_plc.pcap"));
    // cip.sc 0x07 (Stop) on class 0x8e instance 1, in enip.command 0x0070.
    let c = conn(&r, "192.168.1.69", "192.168.1.30", 44818);
    assert_eq!(codes(c), [0x07, 0x70]);
    assert_eq!(c.operations, ["cpu_stop"]);
    assert_eq!(asset(&r, "192.168.1.30").device_type, "plc");
    assert_eq!(
        asset(&r, "192.168.1.69").device_type,
        "engineering_workstation"
    );
    assert!(r.stats().protocol_violations.is_empty());
}
