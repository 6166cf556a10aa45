#![allow(clippy::unwrap_used)]
//! The report model is the prost messages of `proto/otwatch/v1/inventory.proto`, with serde
//! derived at generation time (`proto/build.rs`). These tests pin what the JSON report and its
//! readers rely on beyond the golden reports: the JSON and the wire carry the same report,
//! JSON written before a field existed still reads, and unset optional fields stay out.

use otwatch_common::model::*;
use prost::Message;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn golden_reports() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden"),
        &mut out,
    );
    out
}

/// Every golden report read, sent as prost bytes and written again is the same JSON: no field
/// of the report is JSON-only or lost on the link.
#[test]
fn every_golden_report_survives_the_wire() {
    let files = golden_reports();
    assert!(files.len() > 10, "golden reports not found");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let want: Value = serde_json::from_str(&text).unwrap();
        let r: InventoryReport = serde_json::from_value(want.clone()).unwrap();
        let back = InventoryReport::decode(r.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, r, "{}", f.display());
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            want,
            "{}",
            f.display()
        );
    }
}

/// Fields added to the report after its first version read as their defaults from older JSON
/// (the sensor's store keeps JSON written by earlier versions).
#[test]
fn json_written_before_later_fields_reads() {
    let old = json!({
        "schema": INVENTORY_SCHEMA,
        "stats": {"packets": 3, "bytes": 180, "flows": 1, "decode_errors": 0,
                  "first_packet": "2024-01-01T00:00:00Z", "last_packet": "2024-01-01T00:00:01Z"},
        "assets": [{"id": "ip:10.0.0.1", "macs": [], "ips": ["10.0.0.1"], "vendor": "",
                    "hostname": "", "model": "", "firmware": "", "os": "", "serial": "",
                    "device_type": "plc", "protocols": [{"name": "modbus", "role": "server", "port": 502}],
                    "packets": 3, "bytes": 180, "first_seen": "", "last_seen": ""}],
        "connections": [{"client": "10.0.0.2", "server": "10.0.0.1", "transport": "tcp",
                         "port": 502, "protocol": "modbus", "packets": 3, "bytes": 180,
                         "function_codes": ["3"], "operations": ["read"], "first_seen": "",
                         "last_seen": "", "flows": 1,
                         "accessed": [{"area": "coils", "op": "read", "ranges": "0-9"}]}],
        "alerts": []
    });
    let r: InventoryReport = serde_json::from_value(old).unwrap();
    let s = r.stats();
    assert_eq!(s.packets, 3);
    assert!(s.limits.is_empty() && s.sources.is_empty() && s.decode_errors_by_kind.is_empty());
    let a = &r.assets[0];
    assert_eq!(a.purdue_level, None);
    assert!(a.names.is_empty() && a.evidence.is_empty());
    let c = &r.connections[0];
    assert!(c.cleartext_logins.is_empty());
    assert_eq!(c.accessed[0].unit, None);
    assert_eq!(c.accessed[0].dropped, 0);
}

/// `optional` fields are written only when set (0 is a value: Purdue level 0, Modbus unit 0),
/// in their place in the proto's declaration order.
#[test]
fn unset_optional_fields_stay_out_of_the_json() {
    let a = Asset::default();
    let v = serde_json::to_value(&a).unwrap();
    assert!(!v.as_object().unwrap().contains_key("purdue_level"));
    let a = Asset {
        purdue_level: Some(0),
        ..a
    };
    let text = serde_json::to_string(&a).unwrap();
    assert!(
        text.contains(r#""device_type":"","purdue_level":0,"protocols":[]"#),
        "{text}"
    );
    let r = AccessedRanges::default();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"area":"","op":"","ranges":"","dropped":0}"#
    );
    let r = AccessedRanges { unit: Some(0), ..r };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"unit":0,"area":"","op":"","ranges":"","dropped":0}"#
    );
}

/// Vulnerabilities (matched advisories) are in the JSON only when there are some, so reports
/// made without advisories stay as they were; with some they survive the wire like the rest.
#[test]
fn vulnerabilities_are_left_out_when_none_and_survive_the_wire() {
    let v = serde_json::to_value(Asset::default()).unwrap();
    assert!(!v.as_object().unwrap().contains_key("vulnerabilities"));
    let a = Asset {
        id: "mac:00:1b:1b:23:eb:3b".into(),
        vulnerabilities: vec![Vulnerability {
            cve: "CVE-2019-10936".into(),
            advisory: "ICSA-19-283-02".into(),
            cvss: 7.5,
            cvss_vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H".into(),
            severity: "high".into(),
            status: "possibly_affected".into(),
            reason: "firmware unknown".into(),
            ..Vulnerability::default()
        }],
        ..Asset::default()
    };
    let text = serde_json::to_string(&a).unwrap();
    assert!(
        text.contains(r#""evidence":[],"vulnerabilities":[{"cve":"CVE-2019-10936","advisory":"ICSA-19-283-02","title":"","cvss":7.5,"#),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<Asset>(&text).unwrap(), a);
    assert_eq!(Asset::decode(a.encode_to_vec().as_slice()).unwrap(), a);
}
