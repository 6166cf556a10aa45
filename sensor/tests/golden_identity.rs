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
        ..Default::default()
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
    assert_eq!(a.vendor, "SMC Networks");
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

#[test]
fn dhcp_hostname_binding_and_client_only_messages() {
    let r = report(&["dhcp.pcap"]);
    // dhcp.option.hostname = "btest.is.cool" from 90:b1:1c:99:49:29, DHCPACK dhcp.ip.your =
    // 128.2.6.189; the server 128.2.6.152 is 00:0c:29:40:0e:ef.
    let client = asset(&r, "90:b1:1c:99:49:29");
    assert_eq!(client.hostname, "btest.is.cool");
    assert_eq!(client.ips, ["128.2.6.189"]);
    assert_eq!(
        client.device_type, "unknown",
        "a DHCP client is not a router"
    );
    assert!(has_protocol(client, "dhcp", "client"));
    assert!(has_protocol(asset(&r, "128.2.6.152"), "dhcp", "server"));

    let r = report(&["dhcp_discover_param_req_and_client_id.pcap"]);
    // A DISCOVER only: a MAC-keyed asset with its hostname and no IP.
    let a = asset(&r, "00:0b:82:01:fc:42");
    assert_eq!(a.hostname, "test0000");
    assert!(a.ips.is_empty());
    assert_eq!(a.vendor, "Grandstream Networks");
}

#[test]
fn mdns_nbns_dns_answers_and_http_user_agent() {
    let r = report(&["wikipedia.pcap"]);
    // mDNS response from 141.142.220.50: dns.resp.name gemini.local, dns.a 141.142.220.50.
    let gemini = asset(&r, "141.142.220.50");
    assert_eq!(gemini.hostname, "gemini.local");
    assert!(gemini.ips.contains(&"fe80::217:f2ff:fed7:cf65".to_string()));
    // http.user_agent "... Ubuntu/10.04 (lucid) Firefox/3.6.15" from 141.142.220.118.
    let browser = asset(&r, "141.142.220.118");
    assert_eq!(browser.os, "Ubuntu 10.04");
    // It reaches web servers that sit behind the gateway: an IT host at Purdue level 4, and
    // those servers are internet hosts (level 5).
    assert_eq!(browser.device_type, "it_host");
    assert_eq!(browser.purdue_level, Some(4));
    assert_eq!(asset(&r, "208.80.152.3").purdue_level, Some(5));
    assert!(has_protocol(browser, "http", "client") && has_protocol(browser, "dns", "client"));
    // DNS answer: upload.pmtpa.wikimedia.org A 208.80.152.3.
    assert_eq!(
        asset(&r, "208.80.152.3").hostname,
        "upload.pmtpa.wikimedia.org"
    );
    // The gateway is ARP-bound to its MAC and forwards for the remote hosts.
    let gw = asset(&r, "141.142.220.1");
    assert_eq!(gw.macs, ["00:13:7f:be:8c:ff"]);
    assert_eq!(asset(&r, "208.80.152.3").macs, Vec::<String>::new());
    // Broadcast and multicast destinations are never assets.
    for group in ["141.142.220.255", "224.0.0.251", "224.0.0.252", "ff02::1:3"] {
        assert!(
            r.assets.iter().all(|a| !a.ips.iter().any(|i| i == group)),
            "{group}"
        );
    }

    let r = report(&["mdns.pcap"]);
    // dns.resp.name johanna-QEMU-Virtual-Machine.local, dns.a 10.0.2.7 (and its IPv6 addresses).
    let a = asset(&r, "10.0.2.7");
    assert_eq!(a.hostname, "johanna-QEMU-Virtual-Machine.local");
    assert!(a.ips.contains(&"fe80::883c:d6ff:fee1:4dc4".to_string()));
}

#[test]
fn nbns_registration_names_the_host() {
    let r = report(&["beckhoff-addroute1.pcapng"]);
    // nbns.netbios_name in node-status answers: 192.168.1.8 (Beckhoff CX) is CX_0D7560 and
    // 192.168.1.99 is SHENHUAJ6-PC; name queries (for WWW.BAIDU.COM, ...) name nobody.
    let cx = asset(&r, "192.168.1.8");
    assert_eq!(cx.hostname, "CX_0D7560");
    assert_eq!(cx.vendor, "Beckhoff Automation");
    assert_eq!(asset(&r, "192.168.1.99").hostname, "SHENHUAJ6-PC");
    assert_eq!(asset(&r, "192.168.1.194").hostname, "");
}

#[test]
fn ssdp_server_string_and_http_basic_user() {
    let r = report(&["ssdp.pcap"]);
    // ssdp SERVER: "UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6"
    let a = asset(&r, "192.168.1.1");
    assert!(a
        .evidence
        .iter()
        .any(|e| e.source == "ssdp server" && e.value.contains("MiniUPnPd/1.6")));
    assert!(has_protocol(a, "ssdp", "server"));
    assert!(
        !a.evidence.iter().any(|e| e.field == "os_hint"),
        "TTL of multicast is no hint"
    );

    let r = report(&["basic-auth-with-colon.pcap"]);
    // http.authorization "Basic dGVzdDoxOjM0" = test:1:34 -> user "test", secret "1:34".
    let c = r.connections.iter().find(|c| c.protocol == "http").unwrap();
    assert_eq!(c.cleartext_logins.len(), 1);
    assert_eq!(c.cleartext_logins[0].user, "test");
    assert_eq!(c.port, 8000);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("1:34") && !json.contains("dGVzdDoxOjM0"));
}
