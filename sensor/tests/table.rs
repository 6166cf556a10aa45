#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `otwatch-sensor analyze` in its default table, as a user reads it: a summary that counts
//! what the JSON counts, the conversations with what happened on them, columns that fit the
//! terminal, addresses in address order and names from the network made harmless.

mod common;

use common::{data, sensor, set_ipv4_checksum, show, text, udp_hosts_pcap};
use std::path::Path;
use std::process::Output;

fn table(file: &Path, columns: Option<usize>) -> Output {
    let mut cmd = sensor();
    cmd.args(["analyze", "-q"]).arg(file);
    match columns {
        Some(n) => cmd.env("COLUMNS", n.to_string()),
        None => cmd.env_remove("COLUMNS"),
    };
    cmd.output().unwrap()
}

fn json(file: &Path) -> serde_json::Value {
    let o = sensor()
        .args(["analyze", "-q", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The value of a summary line (`  protocol violations  3 (dnp3 3)`).
fn summary<'a>(t: &'a str, key: &str) -> &'a str {
    t.lines()
        .find_map(|l| {
            l.trim_start()
                .strip_prefix(key)
                .filter(|rest| rest.starts_with("  "))
        })
        .map(str::trim)
        .unwrap_or_else(|| panic!("no summary line {key:?} in\n{t}"))
}

#[test]
fn the_summary_counts_what_the_json_counts() {
    let file = data("zeek-dnp3.pcap");
    let o = table(&file, None);
    assert!(o.status.success(), "{}", show(&o));
    let t = text(&o.stdout);
    let j = json(&file);

    let violations: u64 = j["stats"]["protocol_violations"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(violations > 0, "the capture has DNP3 violations");
    assert_eq!(
        summary(&t, "protocol violations"),
        format!("{violations} (dnp3 {violations})")
    );
    let alerts = j["alerts"].as_array().unwrap().len();
    assert!(
        summary(&t, "alerts").starts_with(&format!("{alerts} (")),
        "{t}"
    );
    let assets = j["assets"].as_array().unwrap().len();
    assert!(summary(&t, "assets").starts_with(&format!("{assets} (")));
    assert!(summary(&t, "purdue levels").contains("L1 2"), "{t}");
    assert!(summary(&t, "operations").contains("cpu_stop 2"), "{t}");
    assert_eq!(summary(&t, "decode errors"), "none");
    assert_eq!(summary(&t, "caps reached"), "none");
    // No "0 decode errors" in the title that the summary contradicts.
    assert!(!t.contains("0 decode errors"), "{t}");
}

#[test]
fn conversations_show_operations_logins_and_alerts_but_never_a_password() {
    let o = table(&data("zeek-dnp3.pcap"), None);
    let t = text(&o.stdout);
    let convs = t
        .split("\nCONVERSATIONS")
        .nth(1)
        .expect("a CONVERSATIONS section");
    let row = convs
        .lines()
        .find(|l| l.contains("10.0.0.8") && l.contains("10.0.0.3"))
        .unwrap_or_else(|| panic!("{convs}"));
    assert!(row.contains("dnp3") && row.contains("cpu_stop"), "{row}");
    // 10.0.0.8 -> 10.0.0.3 carries five alerts; it comes first.
    assert!(
        convs.lines().nth(2).unwrap().contains("10.0.0.8"),
        "{convs}"
    );

    let o = table(&data("ftp-password-pass-command.pcap"), None);
    let t = text(&o.stdout);
    assert!(
        summary(&t, "cleartext logins").contains("ftp Admin on 192.168.10.188"),
        "{t}"
    );
    let convs = t.split("\nCONVERSATIONS").nth(1).unwrap();
    assert!(convs.contains("Admin (ftp)"), "{convs}");
    // The password sent with PASS is a fact, never shown.
    assert!(!t.contains("qwerty"), "{t}");
    assert!(!text(&json_bytes(&data("ftp-password-pass-command.pcap"))).contains("qwerty"));
}

fn json_bytes(file: &Path) -> Vec<u8> {
    sensor()
        .args(["analyze", "-q", "--format", "json"])
        .arg(file)
        .output()
        .unwrap()
        .stdout
}

#[test]
fn tables_fit_the_terminal_and_show_everything_in_a_file() {
    for file in ["zeek-dnp3.pcap", "mb2.pcap", "bacnet_test.pcap"] {
        let file = data(file);
        for width in [100, 132] {
            let o = table(&file, Some(width));
            assert!(o.status.success(), "{}", show(&o));
            let t = text(&o.stdout);
            let widest = t.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(
                widest <= width,
                "{} at {width}: a line of {widest}\n{t}",
                file.display()
            );
        }
        // Not a terminal and no COLUMNS: nothing is cut.
        let full = text(&table(&file, None).stdout);
        let narrow = text(&table(&file, Some(100)).stdout);
        assert!(full.len() >= narrow.len());
    }
    // A long title seen whole without a terminal, cut with … in a narrow one.
    let full = text(&table(&data("zeek-dnp3.pcap"), None).stdout);
    assert!(
        full.contains("PLC stop (dnp3) on 10.0.0.3 from 10.0.0.8"),
        "{full}"
    );
    let narrow = text(&table(&data("zeek-dnp3.pcap"), Some(100)).stdout);
    assert!(narrow.contains('…'), "{narrow}");
}

#[test]
fn assets_are_listed_in_address_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.pcap");
    udp_hosts_pcap(&file, 12, 1_700_000_000, 1000);
    let t = text(&table(&file, None).stdout);
    let listed: Vec<&str> = t
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("10.0.0.")))
        .collect();
    let first_section: Vec<&str> = listed.iter().take(12).copied().collect();
    let expected: Vec<String> = (1..=12).map(|i| format!("10.0.0.{i}")).collect();
    assert_eq!(first_section, expected, "{t}");
}

/// A pcap of one DHCP request from 02:00:00:00:00:05 asking for 10.0.0.5 with this host name.
fn dhcp_request_pcap(path: &Path, hostname: &[u8]) {
    let mut bootp = vec![0u8; 236];
    bootp[0] = 1; // BOOTREQUEST
    bootp[1] = 1; // Ethernet
    bootp[2] = 6;
    bootp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    bootp[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 5]);
    bootp.extend_from_slice(&[99, 130, 83, 99]); // magic cookie
    bootp.extend_from_slice(&[53, 1, 3]); // DHCPREQUEST
    bootp.extend_from_slice(&[50, 4, 10, 0, 0, 5]); // requested address
    bootp.push(12);
    bootp.push(hostname.len() as u8);
    bootp.extend_from_slice(hostname);
    bootp.push(255);
    let udp_len = 8 + bootp.len() as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[16..20].copy_from_slice(&[255, 255, 255, 255]);
    set_ipv4_checksum(&mut ip);
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 5]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&68u16.to_be_bytes());
    f.extend_from_slice(&67u16.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&0u16.to_be_bytes());
    f.extend_from_slice(&bootp);
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1_700_000_000u32, 0, f.len() as u32, f.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&f);
    std::fs::write(path, out).unwrap();
}

#[test]
fn names_from_the_network_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dhcp.pcap");
    // ESC [2J clears the screen; U+202E reverses what follows.
    dhcp_request_pcap(&file, "PLC\u{1b}[2J\u{202e}7-lanretni".as_bytes());
    for format in ["table", "json"] {
        let o = sensor()
            .args(["analyze", "-q", "--format", format])
            .arg(&file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        let t = text(&o.stdout);
        assert!(
            !t.contains('\u{1b}') && !t.contains('\u{202e}'),
            "{format}: {t:?}"
        );
        assert!(
            t.contains("PLC"),
            "{format}: the name is shown, escaped: {t}"
        );
    }
    // The JSON reads back as the name the sensor kept (the dissector blanks controls; the
    // bidi override is only escaped).
    let j = json(&file);
    let name = j["assets"][0]["hostname"].as_str().unwrap();
    assert_eq!(name, "PLC [2J\u{202e}7-lanretni");
}
