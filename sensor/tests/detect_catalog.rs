#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every kind of the alert catalog on real captures: one that must raise it and one that must
//! not. The captures are in tests/data (public captures and attacks recorded between real
//! peers in network namespaces by tests/peers/record/record.py; see tests/data/README.md and
//! tests/data/attacks/README.md).

use otwatch_common::model::{Alert, InventoryReport};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use otwatch_sensor::detect::catalog::CATALOG;
use otwatch_sensor::detect::ioc::IocSet;
use otwatch_sensor::detect::policy::Policy;
use otwatch_sensor::detect::rules::RuleSet;
use otwatch_sensor::detect::text::SourceText;
use otwatch_sensor::detect::DetectConfig;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

fn data(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let attack = p.join("attacks").join(name);
    if attack.exists() {
        attack
    } else {
        p.join(name)
    }
}

fn run(files: &[&str], cfg: DetectConfig) -> InventoryReport {
    analyze(&AnalyzeOptions {
        inputs: files.iter().map(|f| data(f)).collect(),
        detect: Arc::new(cfg),
        ..Default::default()
    })
    .unwrap()
    .report
}

fn kinds(r: &InventoryReport) -> BTreeSet<String> {
    r.alerts.iter().map(|a| a.kind.clone()).collect()
}

fn of<'a>(r: &'a InventoryReport, kind: &str) -> Vec<&'a Alert> {
    r.alerts.iter().filter(|a| a.kind == kind).collect()
}

/// The policy learned from `files`.
fn learned(files: &[&str]) -> Policy {
    Policy::learn(&run(files, DetectConfig::default()), "test")
}

fn with_policy(p: Policy) -> DetectConfig {
    // Through its text, as a person would hand it over.
    let p = Policy::parse(&SourceText::new("policy.toml", &p.to_toml())).unwrap();
    DetectConfig {
        policy: Some(p),
        ..DetectConfig::default()
    }
}

fn with_iocs(text: &str) -> DetectConfig {
    let mut iocs = IocSet::default();
    iocs.add_text(&SourceText::new("iocs.csv", text)).unwrap();
    DetectConfig {
        iocs,
        ..DetectConfig::default()
    }
}

/// (kind, capture that must raise it, capture that must not). Baseline-free kinds only.
const WITHOUT_POLICY: &[(&str, &str, &str)] = &[
    (
        "plc_program_download",
        "s7_download.pcap",
        "s7_benign_reads.pcap",
    ),
    ("plc_program_upload", "s7_upload.pcap", "s7_download.pcap"),
    ("plc_program_delete", "s7_delete.pcap", "s7_upload.pcap"),
    (
        "firmware_update",
        "eip_firmware_cut.pcap",
        "cip_start_plc.pcap",
    ),
    ("plc_stop", "s7_stop.pcap", "s7_start.pcap"),
    ("plc_start", "s7_start.pcap", "s7_stop.pcap"),
    (
        "device_restart",
        "modbus_restart.pcap",
        "modbus_benign.pcap",
    ),
    (
        "plc_config_change",
        "s7_set_clock.pcap",
        "iec104_clock_sync.pcap",
    ),
    (
        "cleartext_credentials",
        "telnet_login_ok.pcap",
        "ssh_to_plc.pcap",
    ),
    ("brute_force", "hydra_ftp.pcap", "ftp_login_ok.pcap"),
    ("remote_access_session", "ssh_to_plc.pcap", "hydra_ssh.pcap"),
    ("scan_detected", "nmap_syn_scan.pcap", "modbus_benign.pcap"),
    ("arp_spoofing", "arp_spoof.pcap", "ip_conflict.pcap"),
    ("ip_conflict", "ip_conflict.pcap", "arp_spoof.pcap"),
    (
        "internet_connection",
        "internet_from_plc.pcap",
        "wikipedia.pcap",
    ),
    (
        "protocol_violation",
        "modbus_malformed.pcap",
        "modbus_benign.pcap",
    ),
];

#[test]
fn every_catalog_kind_has_a_test_here() {
    let covered: BTreeSet<&str> = WITHOUT_POLICY
        .iter()
        .map(|(k, _, _)| *k)
        .chain([
            "ioc_match",
            "new_asset",
            "new_conversation",
            "unauthorized_write",
            "new_operation",
            "unknown_protocol_in_ot_zone",
            // Written in the test (a million flows, a spoofed SYN flood): tests/flood.rs.
            "flood",
        ])
        .collect();
    for e in CATALOG {
        assert!(covered.contains(e.name), "no capture test for {}", e.name);
    }
}

#[test]
fn baseline_free_kinds_on_real_captures() {
    for (kind, yes, no) in WITHOUT_POLICY {
        let r = run(&[yes], DetectConfig::default());
        assert!(
            kinds(&r).contains(*kind),
            "{yes} must raise {kind}; it raised {:?}",
            kinds(&r)
        );
        let r = run(&[no], DetectConfig::default());
        assert!(
            !kinds(&r).contains(*kind),
            "{no} must not raise {kind}; it raised {:?}",
            of(&r, kind)
        );
    }
}

#[test]
fn operations_carry_their_evidence() {
    let r = run(&["s7_stop.pcap"], DetectConfig::default());
    let stop = of(&r, "plc_stop")[0];
    assert_eq!(stop.severity, "critical");
    assert_eq!(stop.mitre, ["T0858", "T0881"]);
    assert_eq!(
        (stop.src.as_str(), stop.dst.as_str()),
        ("10.77.1.10", "10.77.1.20")
    );
    assert!(!stop.asset.is_empty(), "the PLC's asset id");
    assert!(stop.evidence.iter().any(|e| e.field == "function_code"));
    assert!(stop.evidence.iter().any(|e| e.field == "packet_time"));
    let r = run(&["tia_s300_downloadOb1.pcapng"], DetectConfig::default());
    let dl = of(&r, "plc_program_download")[0];
    assert!(dl
        .evidence
        .iter()
        .any(|e| e.field == "block" && e.value == "OB1"));
    assert!(
        dl.evidence
            .iter()
            .any(|e| e.field == "sha256" && e.value.len() == 64),
        "{:?}",
        dl.evidence
    );
    // The user name of a cleartext login, never its secret.
    let r = run(&["hydra_ftp.pcap"], DetectConfig::default());
    let creds = of(&r, "cleartext_credentials")[0];
    assert!(creds
        .evidence
        .iter()
        .any(|e| e.field == "user" && e.value == "operator"));
    let text = serde_json::to_string(&r).unwrap();
    // Passwords hydra tried (tests/peers/record/record.py), the last one right.
    for w in [
        "Plant#2024",
        "letmein",
        "Summer2024",
        "trustno1",
        "passw0rd",
        "qwerty",
    ] {
        assert!(!text.contains(w), "a password ({w}) reached the report");
    }
    let bf = of(&r, "brute_force")[0];
    assert_eq!(bf.severity, "high");
}

#[test]
fn the_usual_clock_master_is_routine_and_a_second_one_is_not() {
    let r = run(&["iec104_clock_sync.pcap"], DetectConfig::default());
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    let r = run(&["iec104_clock_sync_rogue.pcap"], DetectConfig::default());
    let c = of(&r, "plc_config_change");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].src, "10.77.1.66");
}

#[test]
fn indicators_of_compromise() {
    let cfg = with_iocs("evil-c2.example.net,C2 domain\n");
    let r = run(&["ioc_dns.pcap"], cfg);
    let m = of(&r, "ioc_match");
    assert_eq!(m.len(), 1, "one host, one indicator: one alert");
    assert!(m[0].evidence.iter().any(|e| e.value == "C2 domain"));
    // Other indicators: nothing.
    let r = run(
        &["ioc_dns.pcap"],
        with_iocs("198.51.100.200\nunrelated.example.org\n"),
    );
    assert!(of(&r, "ioc_match").is_empty());
    // STIX 2.1: the address indicator matches the connection to it.
    let bundle = r#"{"type": "bundle", "id": "bundle--1", "objects": [
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "name": "C2 address",
       "pattern": "[ipv4-addr:value = '203.0.113.66']", "pattern_type": "stix"}]}"#;
    let r = run(&["ioc_dns.pcap"], with_iocs(bundle));
    assert!(of(&r, "ioc_match")
        .iter()
        .any(|a| a.dst == "203.0.113.66" && a.evidence.iter().any(|e| e.value == "C2 address")));
}

#[test]
fn deviations_from_a_learned_policy() {
    let policy = learned(&["modbus_benign.pcap"]);
    // The capture it was learned from is normal.
    let r = run(&["modbus_benign.pcap"], with_policy(policy.clone()));
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    // A new client writing to the PLC.
    let r = run(&["modbus_new_writer.pcap"], with_policy(policy.clone()));
    let k = kinds(&r);
    for want in ["new_asset", "new_conversation", "unauthorized_write"] {
        assert!(k.contains(want), "{want} missing from {k:?}");
    }
    let w = of(&r, "unauthorized_write")[0];
    assert_eq!(
        (w.src.as_str(), w.dst.as_str()),
        ("10.77.1.66", "10.77.1.20")
    );
    assert_eq!(w.severity, "high");
    assert!(w.evidence.iter().any(|e| e.field == "written"));
    assert!(of(&r, "new_asset")
        .iter()
        .any(|a| a.evidence.iter().any(|e| e.value == "10.77.1.66")));
    // The usual HMI is not flagged.
    assert!(r
        .alerts
        .iter()
        .all(|a| a.src != "10.77.1.30" && a.dst != "10.77.1.30"));
    // A policy edited to forbid function code 6: the HMI's setpoint writes are new.
    let mut text = policy.to_toml();
    text = text.replace("function_codes = [3, 6]", "function_codes = [3]");
    let edited = Policy::parse(&SourceText::new("edited.toml", &text)).unwrap();
    let r = run(&["modbus_benign.pcap"], with_policy(edited));
    let n = of(&r, "new_operation");
    assert_eq!(n.len(), 1, "{:?}", r.alerts);
    assert!(n[0]
        .evidence
        .iter()
        .any(|e| e.field == "function_code" && e.value == "6"));
    // SSH to the PLC was never seen in the control zone.
    let r = run(
        &["ssh_to_plc.pcap"],
        with_policy(learned(&["modbus_benign.pcap"])),
    );
    let u = of(&r, "unknown_protocol_in_ot_zone");
    assert!(u.iter().any(|a| a.protocol == "ssh"), "{:?}", kinds(&r));
    let r = run(
        &["modbus_benign.pcap"],
        with_policy(learned(&["modbus_benign.pcap"])),
    );
    assert!(of(&r, "unknown_protocol_in_ot_zone").is_empty());
}

#[test]
fn alerts_seen_while_learning_are_known_afterwards() {
    let policy = learned(&["s7_download.pcap"]);
    assert!(policy
        .allows
        .iter()
        .any(|a| a.kind == "plc_program_download"));
    let r = run(&["s7_download.pcap"], with_policy(policy));
    let d = of(&r, "plc_program_download");
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].severity, "low",
        "known engineering work is kept, but low"
    );
    assert!(d[0].description.contains("Allowed by the policy"));
}

#[test]
fn analyst_rules() {
    let mut rules = RuleSet::default();
    rules
        .add(&SourceText::new(
            "rules.toml",
            r#"
[[rule]]
name = "writes-from-outside-the-hmis"
severity = "critical"
title = "Modbus write from a host that is not an HMI"
mitre = ["T0855"]
protocol = ["modbus"]
operation = ["write"]
src_subnet = ["10.77.1.64/27"]
dst_device_type = ["plc"]
"#,
        ))
        .unwrap();
    let cfg = || DetectConfig {
        rules: rules.clone(),
        ..DetectConfig::default()
    };
    let r = run(&["modbus_new_writer.pcap"], cfg());
    let a = of(&r, "rule:writes-from-outside-the-hmis");
    assert_eq!(a.len(), 1, "{:?}", kinds(&r));
    assert_eq!(a[0].severity, "critical");
    assert_eq!(a[0].src, "10.77.1.66");
    let r = run(&["modbus_benign.pcap"], cfg());
    assert!(of(&r, "rule:writes-from-outside-the-hmis").is_empty());
}

#[test]
fn the_same_capture_gives_the_same_alerts_byte_for_byte() {
    let files = [
        "nmap_sweep.pcap",
        "arp_spoof.pcap",
        "hydra_telnet.pcap",
        "s7_download.pcap",
    ];
    let a = serde_json::to_string(&run(&files, DetectConfig::default()).alerts).unwrap();
    let b = serde_json::to_string(&run(&files, DetectConfig::default()).alerts).unwrap();
    assert_eq!(a, b);
    assert!(a.len() > 100);
}

#[test]
fn public_benign_captures_raise_no_high_alert() {
    for f in [
        "mb2.pcap",
        "s7comm_reading_plc_status.pcap",
        "S7-1511_db2_var1_HMI.pcap",
        "bacnet_test.pcap",
        "enip_cip_example.pcap",
        "dhcp.pcap",
        "wikipedia.pcap",
        "opcua_benign.pcap",
        "s7_benign_reads.pcap",
        "modbus_benign.pcap",
    ] {
        let r = run(&[f], DetectConfig::default());
        let high: Vec<_> = r
            .alerts
            .iter()
            .filter(|a| a.severity == "high" || a.severity == "critical")
            .collect();
        assert!(high.is_empty(), "{f}: {high:?}");
    }
}
