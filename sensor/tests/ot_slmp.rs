#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Mitsubishi SLMP on a whole capture recorded between pymcprotocol 0.3.0 and the virtual-plc
//! 0.3.0 simulator (tests/peers/record, scenario slmp_ops: 3E binary, 3E ASCII and 4E binary
//! sessions): the report names the controller from its Read CPU model answer, the client as
//! the engineering station, and raises the remote control alerts. Then every request frame is
//! compared with virtual-plc's own decoder (tests/peers/slmp_decode.py), field by field: tshark
//! has no SLMP dissector.

mod common;

use common::tshark::{self, unhex};
use common::{asset, data, report, skip};
use otwatch_sensor::protocols::slmp::ops::command;
use otwatch_sensor::protocols::slmp::wire::{self, Code};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn pymcprotocol_session_identity_operations_and_alerts() {
    let r = report(&data("slmp_pymcprotocol_ops.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let plc = asset(&r, "10.77.1.20");
    assert_eq!(
        (plc.vendor.as_str(), plc.model.as_str()),
        ("Mitsubishi Electric", "VirtualPLC-Q")
    );
    assert_eq!(
        (plc.device_type.as_str(), plc.purdue_level),
        ("plc", Some(1))
    );
    assert_eq!(
        asset(&r, "10.77.1.10").device_type,
        "engineering_workstation"
    );
    let [c] = &r.connections[..] else {
        panic!("one connection: {:?}", r.connections);
    };
    assert_eq!((c.protocol.as_str(), c.port), ("slmp", 5007));
    // Commands 0x0101, 0x0401, 0x1001-0x1003, 0x1005, 0x1006, 0x1401, 0x1402.
    assert_eq!(
        c.function_codes,
        ["257", "1025", "4097", "4098", "4099", "4101", "4102", "5121", "5122"]
    );
    assert_eq!(
        c.operations,
        [
            "cpu_start",
            "cpu_stop",
            "identify",
            "read",
            "restart",
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
            "D read 100-109",
            "D write 100-102,200,210,300-301",
            "M read 0-7",
            "M write 10-12"
        ]
    );
    let mut kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["device_restart", "plc_start", "plc_stop"]);
}

// ---------------------------------------------------------------------------------------
// Per request frame, against virtual-plc's decoder.

/// The request frames of a capture, from each client-to-server stream's bytes joined in frame
/// order and framed by the SLMP data length.
fn request_frames(file: &Path) -> Vec<Vec<u8>> {
    let text = tshark::fields(
        file,
        "tcp.len > 0 && tcp.dstport == 5007",
        &[],
        &["tcp.stream", "tcp.payload"],
    );
    let mut streams: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for line in text.lines() {
        let (stream, payload) = line.split_once('\t').unwrap();
        streams
            .entry(stream.parse().unwrap())
            .or_default()
            .extend(unhex(payload));
    }
    let mut frames = Vec::new();
    for bytes in streams.values() {
        let mut pos = 0;
        while let Ok(Some(len)) = wire::total_len(&bytes[pos..]) {
            if pos + len > bytes.len() {
                break;
            }
            frames.push(bytes[pos..pos + len].to_vec());
            pos += len;
        }
    }
    frames
}

/// One request frame as otwatch reads it, in slmp_decode.py's words.
fn ours(frame: &[u8]) -> String {
    let f = wire::frame(frame).unwrap();
    let r = wire::request(&f).unwrap();
    let mut v: Vec<String> = vec![
        if f.serial.is_some() { "4E" } else { "3E" }.into(),
        match f.code {
            Code::Binary => "binary",
            Code::Ascii => "ascii",
        }
        .into(),
        f.serial.unwrap_or(0).to_string(),
        f.network.to_string(),
        f.station.to_string(),
        f.module_io.to_string(),
        f.multidrop.to_string(),
        r.timer.to_string(),
        r.command.to_string(),
        r.subcommand.to_string(),
    ];
    if matches!(r.command, command::BATCH_READ | command::BATCH_WRITE) {
        let (d, points) = wire::batch(f.code, &r).unwrap();
        v.extend([d.name.to_string(), d.number.to_string(), points.to_string()]);
    }
    v.join(" ")
}

#[test]
fn every_request_matches_virtual_plc_decoder() {
    if tshark::missing() {
        return;
    }
    let decoder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/slmp_decode.py");
    let has_codec = Command::new("python3")
        .args(["-c", "import virtual_plc.codec"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_codec {
        skip::skip(
            "python module virtual_plc is missing (pip install -r tests/peers/requirements.txt)",
            skip::Need::InCi,
        );
        return;
    }
    let frames = request_frames(&data("slmp_pymcprotocol_ops.pcap"));
    let input: String = frames
        .iter()
        .map(|f| f.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
        .collect();
    let mut child = Command::new("python3")
        .arg(&decoder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run slmp_decode.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(theirs.len(), frames.len());
    let mut failures = Vec::new();
    for (i, (f, t)) in frames.iter().zip(&theirs).enumerate() {
        let o = ours(f);
        if &o != t {
            failures.push(format!("request {i}: ours {o:?} virtual-plc {t:?}"));
        }
    }
    eprintln!(
        "{} SLMP requests compared with virtual-plc's decoder",
        frames.len()
    );
    assert!(frames.len() >= 18, "too few requests: {}", frames.len());
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
