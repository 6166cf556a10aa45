#![allow(clippy::unwrap_used, clippy::expect_used)]
//! GE-SRTP on a whole capture recorded between the client and the Series 90-30 simulator of
//! tests/peers/srtp_peer.py (tests/peers/record, scenario srtp_ops). Both ends were written
//! here from GE's SNP manual GFK-0529C and the DFRWS 2017 paper: no SRTP peer installs from a
//! package registry, no public SRTP capture could be found, and tshark has no SRTP dissector.
//! So this checks the whole pipeline on real TCP (an ACK's header and text buffer in two
//! segments, as a PACSystems RX3i sends them), not the decoding against another
//! implementation; the unit tests (sensor/analysis/src/protocols/srtp/tests.rs) hold real RX3i
//! messages.
//!
//! The report names the PLC from its Return Controller Type and ID answer, the client as the
//! engineering station, and raises the STOP/RUN, program load/store, privilege (a password in
//! clear) and clock alerts; then every message of the capture is framed from tshark's TCP
//! payloads and each request is compared with what the client script sent.

mod common;

use common::{asset, data, report, skip};
use otwatch_sensor::protocols::srtp::wire::{self, Message};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const CAPTURE: &str = "srtp_peer_ops.pcap";

#[test]
fn engineering_session_identity_operations_and_alerts() {
    let r = report(&data(CAPTURE));
    let plc = asset(&r, "10.77.1.20");
    assert_eq!(
        (
            plc.vendor.as_str(),
            plc.model.as_str(),
            plc.hostname.as_str()
        ),
        ("GE", "Series 90-30 CPU 331", "0A12F3")
    );
    assert_eq!(
        (plc.device_type.as_str(), plc.purdue_level),
        ("plc", Some(1))
    );
    let ews = asset(&r, "10.77.1.10");
    assert_eq!(
        (ews.device_type.as_str(), ews.purdue_level),
        ("engineering_workstation", Some(2))
    );
    let [c] = &r.connections[..] else {
        panic!("one connection: {:?}", r.connections);
    };
    assert_eq!((c.protocol.as_str(), c.port), ("srtp", 18245));
    // Short status, program name, read, write, privilege, state, clock, store, load, type/ID.
    assert_eq!(
        c.function_codes,
        ["0", "3", "4", "7", "33", "35", "36", "63", "64", "67"]
    );
    assert_eq!(
        c.operations,
        [
            "config_change",
            "cpu_start",
            "cpu_stop",
            "diagnostics",
            "identify",
            "program_download",
            "program_upload",
            "read",
            "time_sync",
            "write"
        ]
    );
    let accessed: Vec<String> = c
        .accessed
        .iter()
        .map(|a| format!("{} {} {}", a.area, a.op, a.ranges))
        .collect();
    assert_eq!(
        accessed,
        [
            "AI read 1-2",
            "I read 1-32",
            "Q write 1-80",
            "R read 1-10",
            "R write 100-101"
        ]
    );
    // Change Privilege Level carried a password: a login without user name.
    assert_eq!(c.cleartext_logins.len(), 1);
    assert_eq!(c.cleartext_logins[0].user, "");
    let mut kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "cleartext_credentials",
            "plc_config_change",
            "plc_program_download",
            "plc_program_upload",
            "plc_start",
            "plc_stop",
            "protocol_violation"
        ]
    );
    // The one violation is the PLC refusing the first STOP at privilege level 1.
    let violations = &r.stats().protocol_violations;
    assert_eq!(violations.get("srtp"), Some(&1), "{violations:?}");
    assert_eq!(violations.len(), 1, "{violations:?}");
}

/// Every message of the capture, per direction (true: to the PLC), from each stream's bytes
/// joined in frame order and framed by the SRTP text length.
fn messages(file: &Path) -> Vec<(bool, Vec<u8>)> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(file)
        .args([
            "-Y",
            "tcp.len > 0",
            "-T",
            "fields",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.payload",
        ])
        .output()
        .expect("run tshark");
    let mut streams: BTreeMap<bool, Vec<u8>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (port, payload) = line.split_once('\t').unwrap();
        let bytes = (0..payload.len() / 2)
            .map(|i| u8::from_str_radix(&payload[2 * i..2 * i + 2], 16).unwrap());
        streams.entry(port == "18245").or_default().extend(bytes);
    }
    let mut all = Vec::new();
    for (to_plc, bytes) in streams {
        let mut pos = 0;
        while let Ok(Some(len)) = wire::total_len(&bytes[pos..]) {
            assert!(pos + len <= bytes.len(), "a message cut short");
            all.push((to_plc, bytes[pos..pos + len].to_vec()));
            pos += len;
        }
        assert_eq!(pos, bytes.len(), "bytes left after the last message");
    }
    all
}

#[test]
fn every_message_frames_and_every_request_is_the_one_sent() {
    if Command::new("tshark").arg("-v").output().is_err() {
        skip::skip(
            "tshark is not installed (apt-get install tshark)",
            skip::Need::InCi,
        );
        return;
    }
    let all = messages(&data(CAPTURE));
    // The client's calls (tests/peers/srtp_peer.py run_client): service code, then selector,
    // offset and length where the request has them.
    let sent: Vec<String> = all
        .iter()
        .filter(|(to_plc, m)| *to_plc && m[0] == wire::kind::REQUEST)
        .map(|(_, m)| {
            let msg = Message::parse(m).unwrap();
            let (code, data) = msg.service().unwrap();
            match code {
                0x04 | 0x07 => {
                    let r = wire::Range::parse(data).unwrap();
                    format!("{code:02x} {:02x} {} {}", r.selector, r.offset, r.length)
                }
                _ => format!("{code:02x}"),
            }
        })
        .collect();
    assert_eq!(
        sent,
        [
            "43",
            "03",
            "00",
            "04 08 0 10",
            "04 10 0 4",
            "04 0a 0 2",
            "23",
            "21",
            "07 08 99 2",
            "07 12 0 10",
            "23",
            "40",
            "3f",
            "24",
            "23"
        ]
    );
    // The PLC's answers, in order: ACK with text (0x94), ACK (0xD4), or NACK (0xD1) to the
    // first STOP; each echoes its request's mailbox sequence number.
    let answers: Vec<(u8, u8)> = all
        .iter()
        .filter(|(to_plc, m)| !*to_plc && m[0] == wire::kind::RESPONSE)
        .map(|(_, m)| {
            let msg = Message::parse(m).unwrap();
            (msg.mailbox_seq, msg.mailbox_type)
        })
        .collect();
    let want: Vec<(u8, u8)> = (1..=15)
        .map(|seq| {
            let t = match seq {
                1 | 2 | 4 | 12 => 0x94,
                7 => 0xD1,
                _ => 0xD4,
            };
            (seq, t)
        })
        .collect();
    assert_eq!(answers, want);
    // The connection exchange: 56 zero bytes, and the answer of type 1.
    assert_eq!(all.iter().filter(|(_, m)| m[0] <= 1).count(), 2);
    assert_eq!(all.len(), 32);
}
