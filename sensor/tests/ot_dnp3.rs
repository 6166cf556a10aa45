#![allow(clippy::unwrap_used, clippy::expect_used)]
//! DNP3 on real captures through the whole pipeline, with expected values checked against
//! tshark (`-T fields -e dnp3.src -e dnp3.dst -e dnp3.al.func -e dnp3.al.obj`).

mod common;

use common::{asset, data, report};
use otwatch_common::model::{Asset, Connection, InventoryReport};

fn connection<'a>(r: &'a InventoryReport, client: &str, server: &str) -> &'a Connection {
    r.connections
        .iter()
        .find(|c| c.client == client && c.server == server)
        .unwrap_or_else(|| panic!("no connection {client} -> {server}"))
}

fn descriptions(a: &Asset) -> Vec<&str> {
    a.evidence
        .iter()
        .filter(|e| e.source == "dnp3 link address")
        .map(|e| e.value.as_str())
        .collect()
}

#[test]
fn zeek_dnp3_functions_operations_and_addresses() {
    let r = report(&data("zeek-dnp3.pcap"));
    // 10.0.0.8 (dnp3.src 3) polls outstation 10.0.0.3 (dnp3.src 4): confirm, read, write
    // (g50v1 time -> time_sync; g80v1 IIN -> write), cold/warm restart, stop application,
    // enable/disable unsolicited; responses and unsolicited responses.
    let c = connection(&r, "10.0.0.8", "10.0.0.3");
    assert_eq!(c.protocol, "dnp3");
    assert_eq!(c.port, 20000);
    assert_eq!(
        c.function_codes,
        ["0", "1", "2", "13", "14", "18", "20", "21", "129", "130"]
    );
    assert_eq!(
        c.operations,
        [
            "control",
            "cpu_stop",
            "read",
            "restart",
            "time_sync",
            "write"
        ]
    );
    // Select (3) of a CROB between 192.168.66.33 and .34.
    let c = connection(&r, "192.168.66.33", "192.168.66.34");
    assert_eq!(c.function_codes, ["1", "3", "129"]);
    assert_eq!(c.operations, ["control", "read"]);

    assert_eq!(descriptions(asset(&r, "10.0.0.8")), ["dnp3 address 3"]);
    // The outstation answers as 4, and as 6 on stream 7.
    assert_eq!(
        descriptions(asset(&r, "10.0.0.3")),
        ["dnp3 address 4", "dnp3 address 6"]
    );
    assert_eq!(asset(&r, "10.0.0.3").device_type, "rtu");
    // Real malformations in this trace: frame 19 starts 05 05 instead of 05 64, frames 154
    // and 156 carry object qualifier 0xed (tshark: "Range Code: Unknown (13)").
    assert_eq!(r.stats().protocol_violations.get("dnp3"), Some(&3));
}

#[test]
fn udp_select_operate_with_a_three_segment_response() {
    let r = report(&data("dnp3_udp_select_operate.pcap"));
    // Master 100 at 192.168.80.160, outstation 1 at 192.168.80.12, UDP port 20000: select,
    // operate, read of classes 1-3 and g10v0, and a 523-octet response in three segments.
    let c = connection(&r, "192.168.80.160", "192.168.80.12");
    assert_eq!((c.transport.as_str(), c.port), ("udp", 20000));
    assert_eq!(c.protocol, "dnp3");
    assert_eq!(c.function_codes, ["1", "3", "4", "129"]);
    assert_eq!(c.operations, ["control", "read"]);
    assert_eq!(
        descriptions(asset(&r, "192.168.80.160")),
        ["dnp3 address 100"]
    );
    assert_eq!(descriptions(asset(&r, "192.168.80.12")), ["dnp3 address 1"]);
    assert!(r.stats().protocol_violations.is_empty());
}

fn statuses(a: &Asset) -> Vec<&str> {
    a.evidence
        .iter()
        .filter(|e| e.field == "status")
        .map(|e| e.value.as_str())
        .collect()
}

#[test]
fn outstation_iin_flags_and_operated_points() {
    let r = report(&data("zeek-dnp3.pcap"));
    // tshark dnp3.al.iin from 10.0.0.3: 0x8000 (Device Restart), 0x1000/0x9000 (Time Sync
    // Required); never Device Trouble or Configuration Corrupt.
    let outstation = asset(&r, "10.0.0.3");
    assert_eq!(statuses(outstation), ["device_restart", "need_time"]);
    assert!(outstation
        .evidence
        .iter()
        .filter(|e| e.field == "status")
        .all(|e| e.source == "dnp3 iin"));
    // The master says nothing about itself.
    assert!(statuses(asset(&r, "10.0.0.8")).is_empty());
    // Frames 185-197: SELECT g12v1 index 34463 (dnp3.al.index) to outstation 4 (dnp3.dst).
    let c = connection(&r, "192.168.66.33", "192.168.66.34");
    let got: Vec<(Option<u32>, &str, &str, &str)> = c
        .accessed
        .iter()
        .map(|a| (a.unit, a.area.as_str(), a.op.as_str(), a.ranges.as_str()))
        .collect();
    assert_eq!(got, [(Some(4), "binary_output", "control", "34463")]);
}
