#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `otwatch-sensor analyze --advisories` as a user runs it: real CISA CSAF documents
//! (tests/data/advisories) against the devices the bundled captures identify.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn advisories() -> PathBuf {
    root().join("tests/data/advisories")
}

fn analyze(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"))
        .arg("analyze")
        .arg("-q")
        .args(args)
        .output()
        .expect("run otwatch-sensor")
}

fn json_with(advisories: &Path, capture: &str) -> (Value, Output) {
    let capture = root().join("tests/data").join(capture);
    let out = analyze(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--advisories".as_ref(),
        advisories.as_os_str(),
        capture.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), out)
}

/// (asset id, cve, advisory, status) of every vulnerability in the report, in report order.
fn found(report: &Value) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for a in report["assets"].as_array().unwrap() {
        for v in a
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            out.push((
                a["id"].as_str().unwrap().to_string(),
                s("cve"),
                s("advisory"),
                s("status"),
            ));
        }
    }
    out
}

fn row(id: &str, cve: &str, advisory: &str, status: &str) -> (String, String, String, String) {
    (id.into(), cve.into(), advisory.into(), status.into())
}

#[test]
fn s7_300_with_firmware_is_affected_and_without_possibly_affected() {
    // An ET 200S CPU (S7-300 family) answering SZL 0x0011 with 6ES7 151-8AB01-0AB0 V3.2.6.
    let (report, out) = json_with(&advisories(), "s7comm_reading_plc_status.pcap");
    let et200 = "mac:00:1b:1b:23:eb:3b";
    assert_eq!(
        found(&report),
        [
            row(et200, "CVE-2018-16561", "ICSA-19-043-04", "affected"),
            row(et200, "CVE-2019-10936", "ICSA-19-283-02", "affected"),
            row(et200, "CVE-2020-15791", "ICSA-20-252-02", "affected"),
        ]
    );
    let v = &report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == et200)
        .unwrap()["vulnerabilities"][1];
    assert_eq!(v["cvss"], 7.5);
    assert_eq!(v["severity"], "high");
    assert_eq!(v["fixed_in"], "V3.2.17");
    assert_eq!(v["kev"], false);
    assert!(v["remediation"].as_str().unwrap().contains("V3.2.17"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "advisories: 8 documents read (8 advisories added, 0 replaced, 0 unchanged, 0 KEV catalogs), 0 files skipped"
    );

    // Two S7-300 CPUs 315-2 PN/DP without a firmware of their own (the second one's firmware
    // came from a Modbus identity naming another model): the ranged advisories are only
    // possible, "all versions" is certain. The Modbus-only device matches nothing.
    let (report, _) = json_with(&advisories(), "attacks/nmap_ics_scripts.pcap");
    let mut want = Vec::new();
    for id in ["mac:02:4d:00:00:02:16", "mac:02:4d:00:00:02:17"] {
        want.extend([
            row(id, "CVE-2018-16561", "ICSA-19-043-04", "possibly_affected"),
            row(id, "CVE-2019-10936", "ICSA-19-283-02", "possibly_affected"),
            row(id, "CVE-2020-15791", "ICSA-20-252-02", "affected"),
        ]);
    }
    assert_eq!(found(&report), want);
    let second = &report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "mac:02:4d:00:00:02:17")
        .unwrap()["vulnerabilities"][1]["reason"];
    assert!(
        second.as_str().unwrap().contains("firmware unknown")
            && second.as_str().unwrap().contains("\"2.7.1\""),
        "{second}"
    );
}

#[test]
fn other_identified_controllers() {
    let cases = [
        (
            "S7-1511_db2_var1_HMI.pcap",
            vec![
                row(
                    "mac:00:1b:1b:13:41:73",
                    "CVE-2019-10936",
                    "ICSA-19-283-02",
                    "affected",
                ),
                row(
                    "mac:00:1b:1b:13:41:73",
                    "CVE-2022-38773",
                    "ICSA-23-012-08",
                    "affected",
                ),
            ],
        ),
        (
            "enip_cip_example.pcap",
            vec![row(
                "mac:00:19:07:24:3c:ca",
                "CVE-2018-17924",
                "ICSA-18-310-02",
                "affected",
            )],
        ),
        (
            "modicon_test.pcap",
            vec![row(
                "mac:00:00:54:14:f2:4f",
                "CVE-2019-6819",
                "ICSA-19-183-01",
                "affected",
            )],
        ),
        // A BACnet controller (Johnson Controls) and a Cisco router are in no advisory here.
        ("bacnet_test.pcap", vec![]),
        ("cdp-v1.pcap", vec![]),
    ];
    for (capture, want) in cases {
        let (report, _) = json_with(&advisories(), capture);
        assert_eq!(found(&report), want, "{capture}");
    }
}

#[test]
fn a_malformed_file_is_reported_and_skipped_and_the_rest_is_used() {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(advisories()).unwrap().flatten() {
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let broken = dir.path().join("icsa-99-999-99.json");
    std::fs::write(&broken, b"{\"document\": {\"title\": ").unwrap();
    let (with_broken, out) = json_with(dir.path(), "s7comm_reading_plc_status.pcap");
    let (clean, _) = json_with(&advisories(), "s7comm_reading_plc_status.pcap");
    assert_eq!(with_broken, clean);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "warning: advisory file skipped: {}: CSAF 2.0 document: EOF",
            broken.display()
        )),
        "{stderr}"
    );
    assert!(
        lines[1].ends_with("0 KEV catalogs), 1 file skipped"),
        "{stderr}"
    );
}

#[test]
fn same_input_gives_byte_identical_reports_and_table() {
    let capture = root().join("tests/data/attacks/nmap_ics_scripts.pcap");
    let (one, all) = (advisories().join("icsa-19-283-02.json"), advisories());
    for format in ["json", "table"] {
        let args: [&std::ffi::OsStr; 7] = [
            "--format".as_ref(),
            format.as_ref(),
            "--advisories".as_ref(),
            one.as_os_str(),
            "--advisories".as_ref(),
            all.as_os_str(),
            capture.as_os_str(),
        ];
        let (a, b) = (analyze(&args), analyze(&args));
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "{format}");
    }
    let table = analyze(&[
        "--advisories".as_ref(),
        advisories().as_os_str(),
        capture.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("\nVULNERABILITIES (2 assets: 2 affected, 4 possibly affected;"),
        "{text}"
    );
    assert!(text.contains("CVE-2018-16561 CVE-2019-10936 CVE-2020-15791"));
    // Without advisories there is no such section, and the JSON has no such field.
    let plain = analyze(&[capture.as_os_str()]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("VULNERABILITIES"));
}

#[test]
fn a_path_that_does_not_exist_stops_the_command() {
    let capture = root().join("tests/data/s7comm_reading_plc_status.pcap");
    let out = analyze(&[
        "--advisories".as_ref(),
        "/nonexistent/csaf".as_ref(),
        capture.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: advisories /nonexistent/csaf: No such file or directory"),
        "{stderr}"
    );
}
