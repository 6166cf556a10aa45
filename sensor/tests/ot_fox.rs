#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Niagara Fox on a real capture (tests/data/fox_info.pcap: a Workbench-like client saying hello
//! to a JACE on the internet, which answers its own hello and a digest challenge): the report
//! names and places both ends. tshark has no Fox dissector (4.0 lists none), so every message is
//! compared with the capture's own bytes instead: the header line and every `key=t:value` field
//! we read must be the text between the LFs that tshark's `tcp.payload` shows, and the message
//! ends at its `};;`.

mod common;

use common::tshark::{self, unhex};
use common::{asset, data, report};
use otwatch_sensor::protocols::fox::{header, message};

#[test]
fn the_jace_and_the_workbench_are_named_and_placed() {
    let r = report(&data("fox_info.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let jace = asset(&r, "106.68.88.119");
    assert_eq!(jace.hostname, "Legion_HQ_V4");
    assert_eq!(jace.vendor, "Tridium");
    assert_eq!(jace.model, "Niagara AX");
    assert_eq!(jace.firmware, "3.5.41.1");
    assert_eq!(jace.os, "QNX 6.3.2");
    assert_eq!(jace.serial, "Qnx-NPM6-0000-1490-C30C");
    assert_eq!(
        (jace.device_type.as_str(), jace.purdue_level),
        ("building_controller", Some(1))
    );
    let wb = asset(&r, "10.1.3.4");
    assert_eq!(wb.hostname, "xpvm-0omdc01xmy");
    assert_eq!(wb.os, "Windows XP 5.1");
    assert_eq!(
        (wb.device_type.as_str(), wb.purdue_level),
        ("engineering_workstation", Some(2))
    );
    let [c] = &r.connections[..] else {
        panic!("one connection: {:?}", r.connections);
    };
    assert_eq!((c.protocol.as_str(), c.port), ("fox", 1911));
    assert_eq!(c.operations, ["identify"]);
    // A control-zone workstation talking Fox to an internet address.
    let kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["internet_connection"]);
}

#[test]
fn every_fox_message_matches_the_capture_text() {
    if tshark::missing() {
        return;
    }
    let text = tshark::fields(&data("fox_info.pcap"), "tcp.len > 0", &[], &["tcp.payload"]);
    let mut compared = 0;
    for hex in text.lines() {
        let bytes = unhex(hex);
        // Each segment holds one whole message.
        let mut fields = Vec::new();
        let len = message(&bytes, &mut |v| fields.push(v)).unwrap();
        assert_eq!(len, Some(bytes.len()));
        assert!(bytes.ends_with(b"};;\n"));
        let h = header(&bytes).unwrap().unwrap();
        let first = bytes.split(|&b| b == b'\n').next().unwrap();
        let rebuilt = [
            &b"fox "[..],
            h.kind,
            b" ",
            h.id.to_string().as_bytes(),
            b" ",
            h.reply_to.to_string().as_bytes(),
            b" ",
            h.channel,
            b" ",
            h.command,
        ]
        .concat();
        assert_eq!(rebuilt, first);
        // Text fields: exactly the body's `key=t:value` lines, in order.
        let lines: Vec<&[u8]> = bytes
            .split(|&b| b == b'\n')
            .skip(2)
            .filter(|l| matches!(l.get(..1), Some(k) if k[0].is_ascii_alphabetic()))
            .filter(|l| !l.contains(&b'['))
            .collect();
        let ours: Vec<Vec<u8>> = fields
            .iter()
            .filter(|v| !matches!(v.kind, b'b' | b'o'))
            .map(|v| [v.key, b"=", &[v.kind], b":", v.value].concat())
            .collect();
        assert_eq!(ours, lines, "frame payload {hex}");
        compared += 1;
    }
    eprintln!("{compared} Fox messages compared with the capture's text");
    assert_eq!(compared, 3);
}
