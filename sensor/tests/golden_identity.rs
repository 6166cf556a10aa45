#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Identity fields on real captures, with expected values checked by hand against tshark's
//! dissection of the same packets (the tshark field each value came from is noted).

use otwatch_common::model::{Asset, InventoryReport};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use std::path::Path;

fn report(files: &[&str]) -> InventoryReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let out = analyze(&AnalyzeOptions {
        inputs: files.iter().map(|f| dir.join(f)).collect(),
        state: None,
        progress: false,
    })
    .unwrap();
    assert!(out.capture_errors.is_empty(), "{:?}", out.capture_errors);
    out.report
}

fn asset<'a>(r: &'a InventoryReport, ip_or_mac: &str) -> &'a Asset {
    r.assets
        .iter()
        .find(|a| a.ips.iter().chain(a.macs.iter()).any(|x| x == ip_or_mac))
        .unwrap_or_else(|| panic!("no asset with {ip_or_mac}"))
}

fn has_protocol(a: &Asset, name: &str, role: &str) -> bool {
    a.protocols.iter().any(|p| p.name == name && p.role == role)
}

#[test]
fn lldp_system_name_capabilities_and_management_address() {
    let r = report(&["lldp.pcap"]);
    // lldp.tlv.system.name, lldp.mgn.addr.ip4, lldp.tlv.enable_system_cap = 0x0004 (bridge)
    let a = asset(&r, "00:22:2d:81:db:10");
    assert_eq!(a.hostname, "SMCGS8P-Smart");
    assert_eq!(a.ips, ["192.168.2.10"]);
    assert_eq!(a.device_type, "switch");
    assert_eq!(a.vendor, "SMC Networks Inc.");
    assert!(has_protocol(a, "lldp", "server"));
}

#[test]
fn cdp_device_id_platform_software_and_address() {
    let r = report(&["cdp-v1.pcap"]);
    // cdp.deviceid = R1, cdp.platform = "cisco 1601", cdp.nrgyz.ip_address = 192.168.10.1,
    // cdp.software_version "... IOS (tm) 1600 Software (C1600-NY-L), Version 11.2(12)P ..."
    let a = asset(&r, "00:e0:1e:d5:d5:15");
    assert_eq!(a.hostname, "R1");
    assert_eq!(a.ips, ["192.168.10.1"]);
    assert_eq!(a.model, "1601");
    assert_eq!(a.firmware, "11.2(12)P");
    assert_eq!(a.os, "Cisco IOS");
    assert_eq!(a.vendor, "Cisco");
    assert_eq!(a.device_type, "router");
}

#[test]
fn snmp_sysdescr_sysname_and_community_never_shown() {
    let r = report(&["snmpwalk-short.pcap"]);
    // snmp.value.octets of 1.3.6.1.2.1.1.5.0 = "ubuntu-512mb-sfo2-01", of 1.3.6.1.2.1.1.1.0 =
    // "Linux ubuntu-512mb-sfo2-01 4.4.0-31-generic #50~14.04.1-Ubuntu SMP ..."
    let agent = asset(&r, "138.68.10.203");
    assert_eq!(agent.hostname, "ubuntu-512mb-sfo2-01");
    assert_eq!(agent.os, "Linux 4.4.0-31-generic");
    assert!(has_protocol(agent, "snmp", "server"));
    assert!(has_protocol(asset(&r, "138.68.14.240"), "snmp", "client"));
    let c = r.connections.iter().find(|c| c.protocol == "snmp").unwrap();
    assert_eq!(c.port, 161);
    assert!(c.operations.contains(&"read".to_string()));
    // A community crossed the wire: reported as a fact, never its value (snmp.community).
    assert_eq!(c.cleartext_logins.len(), 1);
    assert_eq!(c.cleartext_logins[0].user, "");
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("\"public\""));

    let r = report(&["snmpv1_get.pcap"]);
    // 1.3.6.1.2.1.1.5.0 answered by 172.31.19.73 = "B6300"
    assert_eq!(asset(&r, "172.31.19.73").hostname, "B6300");
}

#[test]
fn ftp_login_user_without_password() {
    let r = report(&["ftp-password-pass-command.pcap"]);
    // ftp.request.command USER, ftp.request.arg = "Admin"; PASS "qwerty" must never appear.
    let c = r.connections.iter().find(|c| c.protocol == "ftp").unwrap();
    let users: Vec<&str> = c.cleartext_logins.iter().map(|l| l.user.as_str()).collect();
    assert_eq!(users, ["Admin"]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("qwerty"), "password leaked");
}
