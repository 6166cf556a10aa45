#![allow(clippy::unwrap_used, clippy::expect_used)]
//! HART-IP on a real capture (tests/data/hart_ip.pcap: a host reading a Rosemount WirelessHART
//! gateway over UDP, then over TCP): the report names the gateway from its own Command 0 and
//! Command 20 answers and places it; then every HART-IP message is compared with tshark's
//! dissection of the same frame, header and token-passing PDU field by field.

mod common;

use common::tshark::{self, num, unhex};
use common::{asset, data, report};
use otwatch_sensor::protocols::hart_ip::{pdu, Header, HEADER_LEN};
use std::collections::BTreeMap;

#[test]
fn the_wirelesshart_gateway_is_named_and_placed() {
    let r = report(&data("hart_ip.pcap"));
    assert!(
        r.stats().protocol_violations.is_empty(),
        "{:?}",
        r.stats().protocol_violations
    );
    // hart_ip.pt.rsp.expanded_device_type 0x264e, manufacturer_Id 38, device_profile 132,
    // software_rev 1, device_rev 4, device_id 0000d2 (frame 4); the long tag of frame 18.
    let gw = asset(&r, "192.168.0.10");
    assert_eq!(gw.hostname, "wihartgw");
    assert_eq!(gw.vendor, "Rosemount");
    assert_eq!(gw.model, "HART device type 0x264e");
    assert_eq!(
        gw.firmware,
        "software revision 1, hardware revision 1, device revision 4"
    );
    assert_eq!(gw.serial, "264e0000d2");
    assert_eq!((gw.device_type.as_str(), gw.purdue_level), ("rtu", Some(1)));
    assert!(gw
        .protocols
        .iter()
        .any(|p| p.name == "hart_ip" && p.role == "server" && p.port == 5094));
    let host = asset(&r, "192.168.0.101");
    assert_eq!(
        (host.device_type.as_str(), host.purdue_level),
        ("hmi", Some(2))
    );
    let hart: Vec<_> = r
        .connections
        .iter()
        .filter(|c| c.protocol == "hart_ip")
        .collect();
    // Over UDP the gateway answers the session initiate (sent to 5094) from port 5095 and the
    // session goes on there (HCF_SPEC-085: a UDP session moves to the server's new port),
    // found by content; over TCP it stays on 5094. Both ask commands 0-3, 9, 12, 13, 20, 48.
    let ports: Vec<(&str, u32)> = hart
        .iter()
        .map(|c| (c.transport.as_str(), c.port))
        .collect();
    assert_eq!(ports, [("tcp", 5094), ("udp", 5094), ("udp", 5095)]);
    assert!(hart[1].function_codes.is_empty());
    for c in [hart[0], hart[2]] {
        assert_eq!(
            c.function_codes,
            ["0", "1", "2", "3", "9", "12", "13", "20", "48"]
        );
        assert_eq!(c.operations, ["diagnostics", "identify", "read"]);
    }
    assert!(
        r.alerts.iter().all(|a| a.protocol != "hart_ip"),
        "{:?}",
        r.alerts
    );
}

// ---------------------------------------------------------------------------------------
// Per message, against tshark.

const FIELDS: &[&str] = &[
    "frame.number",
    "udp.payload",
    "tcp.payload",
    "hart_ip.version",
    "hart_ip.message_type",
    "hart_ip.message_id",
    "hart_ip.status",
    "hart_ip.transaction_id",
    "hart_ip.msg_length",
    "hart_ip.pt.delimiter",
    "hart_ip.pt.short_addr",
    "hart_ip.pt.long_address",
    "hart_ip.pt.command",
    "hart_ip.pt.length",
    "hart_ip.pt.response_code",
    "hart_ip.pt.checksum",
    "hart_ip.pt.rsp.expanded_device_type",
    "hart_ip.pt.rsp.hart_univ_rev",
    "hart_ip.pt.rsp.device_rev",
    "hart_ip.pt.rsp.software_rev",
    "hart_ip.pt.rsp.device_id",
    "hart_ip.pt.rsp.manufacturer_Id",
    "hart_ip.pt.rsp.device_profile",
    "hart_ip.pt.rsp.tag",
];

/// One message's fields, by tshark field name, values normalised to numbers where numeric.
type Fields = BTreeMap<&'static str, String>;

fn theirs(cols: &[&str]) -> Fields {
    let mut f = Fields::new();
    for (i, name) in FIELDS.iter().enumerate().skip(3) {
        let v = cols.get(i).copied().unwrap_or_default();
        if v.is_empty() {
            continue;
        }
        let v = match (*name, num(v)) {
            ("hart_ip.pt.long_address" | "hart_ip.pt.rsp.device_id", _) => v.to_string(),
            ("hart_ip.pt.rsp.tag", _) => v.trim().to_string(),
            (_, Some(n)) => n.to_string(),
            (_, None) => v.to_string(),
        };
        f.insert(name, v);
    }
    f
}

fn ours(payload: &[u8]) -> Fields {
    let mut f = Fields::new();
    let h = Header::parse(payload).unwrap();
    assert_eq!(
        usize::from(h.byte_count),
        payload.len(),
        "one message a segment"
    );
    for (k, v) in [
        ("hart_ip.version", u64::from(h.version)),
        ("hart_ip.message_type", u64::from(h.message_type)),
        ("hart_ip.message_id", u64::from(h.message_id)),
        ("hart_ip.status", u64::from(h.status)),
        ("hart_ip.transaction_id", u64::from(h.sequence)),
        ("hart_ip.msg_length", u64::from(h.byte_count)),
    ] {
        f.insert(k, v.to_string());
    }
    if h.message_id != 3 {
        return f;
    }
    let p = pdu::parse(&payload[HEADER_LEN..]).unwrap();
    assert_eq!(p.checksum, p.computed);
    f.insert("hart_ip.pt.delimiter", p.delimiter.to_string());
    match p.address {
        pdu::Address::Polling(a) => f.insert("hart_ip.pt.short_addr", a.to_string()),
        pdu::Address::Unique(_) => {
            f.insert("hart_ip.pt.long_address", p.address.unique_hex().unwrap())
        }
    };
    f.insert("hart_ip.pt.command", p.command.to_string());
    f.insert("hart_ip.pt.length", p.byte_count.to_string());
    f.insert("hart_ip.pt.checksum", p.checksum.to_string());
    if let Some(rc) = p.response_code() {
        f.insert("hart_ip.pt.response_code", rc.to_string());
    }
    if p.is_response() && p.command == 0 {
        let id = pdu::unique_identifier(p.body()).unwrap();
        for (k, v) in [
            (
                "hart_ip.pt.rsp.expanded_device_type",
                u64::from(id.expanded_device_type),
            ),
            (
                "hart_ip.pt.rsp.hart_univ_rev",
                u64::from(id.universal_revision),
            ),
            ("hart_ip.pt.rsp.device_rev", u64::from(id.device_revision)),
            (
                "hart_ip.pt.rsp.software_rev",
                u64::from(id.software_revision),
            ),
            ("hart_ip.pt.rsp.manufacturer_Id", u64::from(id.manufacturer)),
        ] {
            f.insert(k, v.to_string());
        }
        f.insert("hart_ip.pt.rsp.device_id", format!("{:06x}", id.device_id));
        if let Some(p) = id.profile {
            f.insert("hart_ip.pt.rsp.device_profile", p.to_string());
        }
    }
    if p.is_response() && p.command == 13 {
        f.insert("hart_ip.pt.rsp.tag", pdu::packed_ascii(&p.body()[..6]));
    }
    if p.is_response() && p.command == 20 {
        if let Some(tag) = pdu::latin1(&p.body()[..32]) {
            f.insert("hart_ip.pt.rsp.tag", tag);
        }
    }
    f
}

#[test]
fn every_hart_ip_message_matches_tshark() {
    if tshark::missing() {
        return;
    }
    // The ICMP error quoting a datagram (frame 27) is no message of the conversation.
    let text = tshark::fields(&data("hart_ip.pcap"), "hart_ip && !icmp", &[], FIELDS);
    let (mut compared, mut failures) = (0, Vec::new());
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let payload = unhex(if cols[1].is_empty() { cols[2] } else { cols[1] });
        let (mine, theirs) = (ours(&payload), theirs(&cols));
        compared += 1;
        if mine != theirs {
            failures.push(format!(
                "frame {}: ours {mine:?}\n tshark {theirs:?}",
                cols[0]
            ));
        }
    }
    eprintln!("{compared} HART-IP messages compared with tshark, field by field");
    assert_eq!(compared, 48, "every HART-IP message of the capture");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
