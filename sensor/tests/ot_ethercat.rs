#![allow(clippy::unwrap_used, clippy::expect_used)]
//! EtherCAT on whole captures (ethercrab's, see tests/data/README.md): the master in the report
//! (a `plc` speaking `ethercat` as client, with the number of slaves a broadcast read counted),
//! the commands it sent counted as tshark counts them, and every frame read by otwatch's wire
//! view against tshark, field by field: the header's Length and Type, and per datagram Cmd,
//! Idx, ADP and ADO (or the logical address of LRD/LWR/LRW), Len, the Circulating and More bits,
//! IRQ and the working counter.

mod common;

use common::tshark::{self, push, Fields};
use common::{data, link_frames, report};
use otwatch_common::Mac;
use otwatch_sensor::protocols::ethercat::{self, EthercatDissector, Frame};
use otwatch_sensor::protocols::FrameDissector;
use std::path::Path;

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
    let filter = format!("ecat && eth.src == {src}");
    let text = tshark::fields(file, &filter, &[], &["ecat.cmd"]);
    let mut counts = [0; 15];
    for v in text.split([',', '\n']) {
        if let Some(h) = v.trim().strip_prefix("0x") {
            counts[usize::from_str_radix(h, 16).unwrap()] += 1;
        }
    }
    counts
}

#[test]
fn command_counts_agree_with_tshark() {
    if tshark::missing() {
        return;
    }
    let file = data("ethercat_ek1100_cut.pcapng");
    let mut d = EthercatDissector::default();
    let mut out = Vec::new();
    link_frames(&file, ethercat::ETHERTYPE, |_, f, payload| {
        d.frame(&f, payload, &mut out)
    });
    let master = Mac([0x10; 6]);
    let ours = d.commands(master).unwrap();
    assert_eq!(ours, tshark_commands(&file, "10:10:10:10:10:10"));
    // APRD 3, FPRD 21, FPWR 7, BRD 1, BWR 43: out of 150 frames, half of them returned.
    assert_eq!(ours.iter().sum::<u64>(), 75);
}

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
    if tshark::missing() {
        return;
    }
    let mut total = 0;
    for (file, frames_in) in [
        ("ethercat_ek1100_cut.pcapng", 150),
        ("ethercat_twincat_scan.pcapng", 4),
    ] {
        let compared = tshark::agree(
            &data(file),
            ethercat::ETHERTYPE,
            "ecat",
            FIELDS,
            ours,
            |_, v| tshark::norm(v),
        );
        assert_eq!(compared, frames_in);
        total += compared;
    }
    assert_eq!(total, 154);
}
