#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Modbus/TCP on whole real captures, with expected values checked against tshark's dissection
//! of the same files (`tshark -T fields -e ip.src -e ip.dst -e modbus.func_code -e
//! mbtcp.unit_id`, and `tshark -V` for the answers' contents).

mod common;

use common::{asset, data, report};
use otwatch_common::model::{Connection, InventoryReport};

fn conn<'a>(r: &'a InventoryReport, client: &str, server: &str, port: u32) -> &'a Connection {
    r.connections
        .iter()
        .find(|c| c.client == client && c.server == server && c.port == port)
        .unwrap_or_else(|| panic!("no connection {client} -> {server}:{port}"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn schneider_plc_identified_and_program_read_out_over_umas() {
    let r = report(&data("modicon_test.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // tshark: every ADU is function 90 (Unity), unit 0. UMAS READ_ID answer (frame 6) names
    // the CPU module "140 CPU 311 10"; 0x33/0x34 (frames 76–105) read the program out.
    let c = conn(&r, "192.168.63.100", "192.168.63.253", 502);
    assert_eq!(c.protocol, "modbus");
    assert_eq!(c.function_codes, strings(&["90"]));
    assert_eq!(
        c.operations,
        strings(&["identify", "program_upload", "read"])
    );
    let plc = asset(&r, "192.168.63.253");
    assert_eq!(plc.vendor, "Schneider Electric");
    assert_eq!(plc.model, "140 CPU 311 10");
    assert_eq!(plc.device_type, "plc");
    assert!(plc
        .evidence
        .iter()
        .any(|e| e.value == "140 CPU 311 10" && e.source == "modbus umas read id"));
    assert_eq!(
        asset(&r, "192.168.63.100").device_type,
        "engineering_workstation"
    );
}

#[test]
fn function_codes_per_connection_match_tshark() {
    let r = report(&data("suricata-modbus.pcap"));
    // Well-formed traffic, including exception answers and 3-byte exception PDUs, except one
    // flow of Suricata's invalid-length test (MBAP length 0x8804) to 10.0.0.8: not Modbus.
    assert_eq!(
        r.stats().protocol_violations.get("modbus"),
        Some(&1),
        "{:?}",
        r.stats().protocol_violations
    );
    let bad: Vec<_> = r
        .alerts
        .iter()
        .filter(|a| a.kind == "protocol_violation")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].src.as_str(), bad[0].dst.as_str()),
        ("10.0.0.57", "10.0.0.8")
    );
    let reads_writes = conn(&r, "10.0.0.9", "10.0.0.3", 502);
    assert_eq!(reads_writes.function_codes, strings(&["1", "3", "5", "6"]));
    assert_eq!(reads_writes.operations, strings(&["read", "write"]));
    // Diagnostics 0x0004 (force listen only mode: a configuration change), 0x0001 (restart
    // communications), 0x000a; report server id.
    let diag = conn(&r, "10.0.0.57", "10.0.0.3", 502);
    assert_eq!(diag.function_codes, strings(&["8", "17"]));
    assert_eq!(
        diag.operations,
        strings(&["config_change", "diagnostics", "identify", "restart"])
    );
    // 43/14 requests (no answer in the capture).
    let ident = conn(&r, "10.0.0.57", "10.0.0.8", 502);
    assert_eq!(ident.function_codes, strings(&["43"]));
    // 10.0.0.8:502 opened this connection and sends exceptions to function 1 (frames 88–99).
    let out = conn(&r, "10.0.0.8", "10.0.0.57", 4446);
    assert_eq!(out.function_codes, strings(&["1"]));
    // Report Server ID answer, frame 41: additional data "Wingpath Limited".
    assert!(asset(&r, "10.0.0.3")
        .evidence
        .iter()
        .any(|e| e.value == "Wingpath Limited" && e.source == "modbus report server id"));
}

#[test]
fn register_and_coil_ranges_accessed_match_tshark() {
    let r = report(&data("suricata-modbus.pcap"));
    // tshark on 10.0.0.9 -> 10.0.0.3 requests (mbtcp.unit_id 10; modbus.func_code,
    // modbus.reference_num, modbus.bit_cnt / modbus.word_cnt): fc 1 at 0 ×1 and at 2 ×2,
    // fc 3 at 5 ×2, fc 5 at 1 and 2, fc 6 at 5.
    let c = conn(&r, "10.0.0.9", "10.0.0.3", 502);
    let got: Vec<String> = c
        .accessed
        .iter()
        .map(|a| {
            format!(
                "{:?} {} {} {} {}",
                a.unit, a.area, a.op, a.ranges, a.dropped
            )
        })
        .collect();
    assert_eq!(
        got,
        strings(&[
            "Some(10) coils read 0,2-3 0",
            "Some(10) coils write 1-2 0",
            "Some(10) holding_registers read 5-6 0",
            "Some(10) holding_registers write 5 0",
        ])
    );
    let json = serde_json::to_string(&c.accessed[0]).unwrap();
    assert_eq!(
        json,
        r#"{"unit":10,"area":"coils","op":"read","ranges":"0,2-3","dropped":0}"#
    );
}
