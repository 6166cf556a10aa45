#![allow(clippy::unwrap_used, clippy::expect_used)]
//! EtherCAT on whole captures (ethercrab's, see tests/data/README.md): the master in the report
//! (a `plc` speaking `ethercat` as client, with the number of slaves a broadcast read counted),
//! the commands it sent counted as tshark counts them, and every frame read by otwatch's wire
//! view against tshark, field by field: the header's Length and Type, and per datagram Cmd,
//! Idx, ADP and ADO (or the logical address of LRD/LWR/LRW), Len, the Circulating and More bits,
//! IRQ and the working counter.

#[path = "../../tests/skip.rs"]
mod skip;

use otwatch_common::model::InventoryReport;
use otwatch_common::Mac;
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::decode::{decode, Net};
use otwatch_sensor::protocols::ethercat::{self, EthercatDissector, Frame};
use otwatch_sensor::protocols::{FrameDissector, LinkFrame};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(file)
}

fn report(path: &Path) -> InventoryReport {
    let out = analyze(&AnalyzeOptions {
        inputs: vec![path.to_path_buf()],
        state: None,
        progress: false,
        ..Default::default()
    })
    .unwrap();
    assert!(out.capture_errors.is_empty(), "{:?}", out.capture_errors);
    out.report
}

/// Each EtherCAT frame of a capture: its number, source and destination, payload.
fn frames(path: &Path, mut each: impl FnMut(u64, LinkFrame, &[u8])) {
    let mut src = CaptureFile::open(path).unwrap();
    let mut n = 0u64;
    while let Some(batch) = src.next_batch().unwrap() {
        for f in batch.iter() {
            n += 1;
            let Ok(p) = decode(f.link, f.data) else {
                continue;
            };
            if let (Net::Ether { ethertype, payload }, Some(s)) = (&p.net, p.src_mac) {
                if *ethertype == ethercat::ETHERTYPE {
                    let lf = LinkFrame {
                        src: s,
                        dst: p.dst_mac,
                        ts: f.ts,
                    };
                    each(n, lf, payload);
                }
            }
        }
    }
}

#[test]
fn the_master_is_a_plc_of_three_slaves() {
    let r = report(&data("ethercat_ek1100_cut.pcapng"));
    assert!(r.stats().protocol_violations.is_empty());
    // The returned frames' source (12:10:10:10:10:10) is no device of its own: all 150 frames
    // are the master's.
    assert_eq!(r.assets.len(), 1);
    let m = &r.assets[0];
    assert_eq!(m.macs, ["10:10:10:10:10:10"]);
    assert_eq!(m.packets, 150);
    assert_eq!((m.device_type.as_str(), m.purdue_level), ("plc", Some(1)));
    assert!(m
        .protocols
        .iter()
        .any(|p| p.name == "ethercat" && p.role == "client"));
    // Frame 2: BRD back with ADP 3 and WKC 3.
    assert!(m
        .evidence
        .iter()
        .any(|e| e.field == "status" && e.value == "EtherCAT master of 3 slave(s)"));
}

#[test]
fn a_master_sending_from_the_zero_mac_names_no_asset() {
    // TwinCAT's returned frames come from 02:00:00:00:00:00, of a master sending from the zero
    // MAC: no asset for either.
    let r = report(&data("ethercat_twincat_scan.pcapng"));
    assert!(r.stats().protocol_violations.is_empty());
    assert!(r.assets.iter().all(|a| a.macs != ["02:00:00:00:00:00"]));
    assert!(r
        .assets
        .iter()
        .all(|a| a.device_type != "plc" && a.protocols.iter().all(|p| p.name != "ethercat")));
}

/// (ecat.cmd of every datagram of the frames `src` sent) per command, as tshark reads them.
fn tshark_commands(file: &Path, src: &str) -> [u64; 15] {
    let out = Command::new("tshark")
        .args(["-r", &file.to_string_lossy(), "-Y"])
        .arg(format!("ecat && eth.src == {src}"))
        .args(["-T", "fields", "-e", "ecat.cmd"])
        .output()
        .expect("run tshark");
    let mut counts = [0; 15];
    for v in String::from_utf8_lossy(&out.stdout).split([',', '\n']) {
        if let Some(h) = v.trim().strip_prefix("0x") {
            counts[usize::from_str_radix(h, 16).unwrap()] += 1;
        }
    }
    counts
}

fn tshark_missing() -> bool {
    if Command::new("tshark").arg("-v").output().is_err() {
        skip::skip(
            "tshark is not installed (apt-get install tshark)",
            skip::Need::InCi,
        );
        return true;
    }
    false
}

#[test]
fn command_counts_agree_with_tshark() {
    if tshark_missing() {
        return;
    }
    let file = data("ethercat_ek1100_cut.pcapng");
    let mut d = EthercatDissector::default();
    let mut out = Vec::new();
    frames(&file, |_, f, payload| d.frame(&f, payload, &mut out));
    let master = Mac([0x10; 6]);
    let ours = d.commands(master).unwrap();
    assert_eq!(ours, tshark_commands(&file, "10:10:10:10:10:10"));
    // APRD 3, FPRD 21, FPWR 7, BRD 1, BWR 43: out of 150 frames, half of them returned.
    assert_eq!(ours.iter().sum::<u64>(), 75);
}

type Fields = BTreeMap<&'static str, Vec<String>>;

const FIELDS: &[&str] = &[
    "ecatf.length",
    "ecatf.type",
    "ecat.cmd",
    "ecat.idx",
    "ecat.adp",
    "ecat.ado",
    "ecat.lad",
    "ecat.subframe.length",
    "ecat.subframe.circulating",
    "ecat.subframe.more",
    "ecat.int",
    "ecat.cnt",
];

fn norm(v: &str) -> String {
    let n = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse::<u64>().ok(),
    };
    n.map_or_else(|| v.to_owned(), |n| n.to_string())
}

fn push(f: &mut Fields, name: &'static str, v: impl ToString) {
    f.entry(name).or_default().push(norm(&v.to_string()));
}

fn theirs(file: &Path) -> BTreeMap<u64, Fields> {
    let mut args: Vec<String> = ["-r", &file.to_string_lossy(), "-Y", "ecat", "-T", "fields"]
        .map(String::from)
        .to_vec();
    args.extend(["-E".into(), "aggregator=\u{1}".into()]);
    args.extend(["-e".into(), "frame.number".into()]);
    for f in FIELDS {
        args.extend(["-e".into(), (*f).to_string()]);
    }
    let out = Command::new("tshark")
        .args(&args)
        .output()
        .expect("run tshark");
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut cols = line.split('\t');
        let Some(n) = cols.next().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let mut f = Fields::new();
        for (name, col) in FIELDS.iter().zip(cols) {
            for v in col.split('\u{1}').filter(|s| !s.is_empty()) {
                push(&mut f, name, v);
            }
        }
        map.insert(n, f);
    }
    map
}

fn ours(payload: &[u8]) -> Fields {
    let mut f = Fields::new();
    let frame = Frame::parse(payload).unwrap();
    push(&mut f, "ecatf.length", frame.length);
    push(&mut f, "ecatf.type", frame.ty);
    for d in frame.datagrams() {
        let d = d.unwrap();
        push(&mut f, "ecat.cmd", d.cmd);
        push(&mut f, "ecat.idx", d.idx);
        // LRD, LWR, LRW address logically.
        if (10..=12).contains(&d.cmd) {
            push(&mut f, "ecat.lad", d.logical_address());
        } else {
            push(&mut f, "ecat.adp", d.adp);
            push(&mut f, "ecat.ado", d.ado);
        }
        push(&mut f, "ecat.subframe.length", d.len);
        push(&mut f, "ecat.subframe.circulating", u8::from(d.circulating));
        push(&mut f, "ecat.subframe.more", u8::from(d.more));
        push(&mut f, "ecat.int", d.irq);
        push(&mut f, "ecat.cnt", d.wkc);
    }
    f
}

#[test]
fn every_frame_agrees_with_tshark() {
    if tshark_missing() {
        return;
    }
    let mut total = 0;
    for (file, frames_in) in [
        ("ethercat_ek1100_cut.pcapng", 150),
        ("ethercat_twincat_scan.pcapng", 4),
    ] {
        let file = data(file);
        let theirs = theirs(&file);
        let mut compared = 0;
        frames(&file, |n, _, payload| {
            let t = theirs
                .get(&n)
                .unwrap_or_else(|| panic!("tshark skipped frame {n}"));
            assert_eq!(&ours(payload), t, "{} frame {n}", file.display());
            compared += 1;
        });
        assert_eq!((compared, theirs.len()), (frames_in, frames_in));
        total += compared;
    }
    assert_eq!(total, 154);
}
