#![allow(clippy::unwrap_used, clippy::expect_used)]
//! IEC 60870-5-104 on real captures through the whole pipeline, with expected values checked
//! against tshark (`-T fields -e iec60870_104.type -e iec60870_104.utype -e
//! iec60870_asdu.typeid -e iec60870_asdu.causetx -e iec60870_asdu.addr`).

mod common;

use common::{asset, data, report};
use otwatch_common::model::{Asset, Connection, InventoryReport};

fn iec104(r: &InventoryReport) -> Vec<&Connection> {
    r.connections
        .iter()
        .filter(|c| c.protocol == "iec104")
        .collect()
}

fn station_addresses(a: &Asset) -> Vec<&str> {
    a.evidence
        .iter()
        .filter(|e| e.source == "iec104 asdu")
        .map(|e| e.value.as_str())
        .collect()
}

#[test]
fn diverse_commands_and_station_address() {
    let r = report(&data("090813_diverse.pcap"));
    let conns = iec104(&r);
    assert_eq!(conns.len(), 1);
    let c = conns[0];
    assert_eq!(c.port, 2404);
    // Type ids 1, 13, 30 (monitor), 45, 46, 50, 58, 59, 61, 63 (commands), 100
    // (interrogation); TESTFR act (0x143) and con (0x183).
    assert_eq!(
        c.function_codes,
        ["1", "13", "30", "45", "46", "50", "58", "59", "61", "63", "100", "323", "387"]
    );
    assert_eq!(c.operations, ["control", "read"]);
    // iec60870_asdu.addr = 3 on every ASDU.
    assert_eq!(
        station_addresses(asset(&r, "10.0.0.10")),
        ["iec104 common address 3"]
    );
    assert!(r.stats().protocol_violations.is_empty());
}

#[test]
fn two_masters_interrogate_one_station() {
    let r = report(&data("JavaRMI_and_IEC_Misc.pcap"));
    let conns = iec104(&r);
    assert_eq!(conns.len(), 2);
    for c in conns {
        assert_eq!(c.server, "10.209.13.145");
        // STARTDT act/con (0x107, 0x10b), TESTFR act/con, interrogation (100), end of
        // initialisation (70), single points (1), double points (3), scaled values (11).
        assert_eq!(
            c.function_codes,
            ["1", "3", "11", "70", "100", "263", "267", "323", "387"]
        );
        assert_eq!(c.operations, ["read"]);
    }
    let station = asset(&r, "10.209.13.145");
    assert_eq!(station_addresses(station), ["iec104 common address 37133"]);
    assert_eq!(station.device_type, "rtu");
    assert!(station_addresses(asset(&r, "192.168.1.113")).is_empty());
    assert!(r.stats().protocol_violations.is_empty());
}

#[test]
fn commanded_information_objects_match_tshark() {
    let r = report(&data("090813_diverse.pcap"));
    // tshark (iec60870_asdu.causetx 6): C_SC 45/58 at IOA 4500/4501, C_DC 46/59 at
    // 4600/4601, C_SE_NA 61 at 4821, C_SE_NC 50/63 at 5020/5021; common address 3.
    let c = iec104(&r)[0];
    let got: Vec<(Option<u32>, &str, &str, &str)> = c
        .accessed
        .iter()
        .map(|a| (a.unit, a.area.as_str(), a.op.as_str(), a.ranges.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(3), "double_command", "control", "4600-4601"),
            (Some(3), "setpoint_float", "control", "5020-5021"),
            (Some(3), "setpoint_normalized", "control", "4821"),
            (Some(3), "single_command", "control", "4500-4501"),
        ]
    );
}
