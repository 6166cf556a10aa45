#![allow(clippy::unwrap_used, clippy::expect_used)]
//! IEEE C37.118 synchrophasors on a whole real capture: the report names the PMU from its
//! configuration frame and classifies the PMU and the PDC that commands it; then every frame is
//! compared with tshark's dissection (frame type, version, size, stream IDCODE, CHK and its
//! status, command, and the configuration's stations, channels and data rate).

mod common;

use common::tshark::{self, unhex};
use common::{asset, data, described, report, udp_pcap};
use otwatch_sensor::protocols::c37_118::wire::{self, FrameType, Header};
use std::net::SocketAddrV4;
use std::path::Path;
use std::process::Command;

#[test]
fn pmu_and_pdc_are_named_and_classified() {
    let r = report(&data("c37_118_1pmu_udp.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // synphasor.station_name, idcode_data_source, num_phasors ... of the CFG-2 in frame 3.
    let pmu = asset(&r, "192.168.0.60");
    assert_eq!(pmu.hostname, "PMU1");
    assert_eq!(pmu.device_type, "ied");
    assert_eq!(pmu.purdue_level, Some(1));
    assert!(pmu.evidence.iter().any(|e| e.field == "description"
        && e.value
            == "C37.118 PMU ID 61: 3 phasors, 0 analog values, 1 digital status word, 50 Hz, \
                50 frames/s"));
    let pdc = asset(&r, "192.168.0.10");
    assert_eq!(pdc.device_type, "pdc");
    assert_eq!(pdc.purdue_level, Some(2));
    let c = r
        .connections
        .iter()
        .find(|c| c.protocol == "c37_118")
        .unwrap();
    assert_eq!(
        (c.client.as_str(), c.server.as_str()),
        ("192.168.0.10", "192.168.0.60")
    );
    let mut ops = c.operations.clone();
    ops.sort();
    assert_eq!(ops, ["control", "identify"]);
}

/// What both decoders say about one frame.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Message {
    frame_type: u8,
    version: u8,
    size: u16,
    idcode: u16,
    checksum: u16,
    checksum_good: bool,
    command: Option<u16>,
    stations: Vec<String>,
    data_sources: Vec<u16>,
    counts: Vec<(u16, u16, u16)>,
    channels: Vec<String>,
    rate: Option<i16>,
    /// CFG-3 only: CONT_IDX and the PMUs' global IDs.
    cont_idx: Option<u16>,
    global_ids: Vec<String>,
}

const FIELDS: &[&str] = &[
    "frame.number",
    "udp.payload",
    "tcp.payload",
    "synphasor.frtype",
    "synphasor.version",
    "synphasor.frsize",
    "synphasor.idcode_stream_source",
    "synphasor.checksum",
    "synphasor.checksum.status",
    "synphasor.command",
    "synphasor.station_name",
    "synphasor.idcode_data_source",
    "synphasor.num_phasors",
    "synphasor.num_analog_values",
    "synphasor.num_digital_status_words",
    "synphasor.channel_name",
    "synphasor.rate_of_transmission",
    // CFG-3: its channel names, CONT_IDX, G_PMU_ID.
    "synphasor.conf.chnam",
    "synphasor.conf.contindx",
    "synphasor.gpmuid",
];

/// tshark's number text, signed (a data rate below zero is seconds per frame).
fn num(s: &str) -> Option<i64> {
    s.parse().ok().or_else(|| tshark::num(s).map(|n| n as i64))
}

/// Our reading of one frame.
fn ours(bytes: &[u8]) -> Option<Message> {
    let h = Header::parse(bytes).ok()??;
    let frame = bytes.get(..usize::from(h.size))?;
    let n = frame.len();
    let mut m = Message {
        frame_type: h.frame_type.bits(),
        version: h.version,
        size: h.size,
        idcode: h.idcode,
        checksum: u16::from_be_bytes([frame[n - 2], frame[n - 1]]),
        checksum_good: wire::check_crc(frame).is_ok(),
        ..Message::default()
    };
    let payload = &frame[wire::HEADER_LEN..n - 2];
    match h.frame_type {
        FrameType::Command => {
            m.command = payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
        }
        FrameType::Cfg1 | FrameType::Cfg2 | FrameType::Cfg3 => {
            let cfg = if h.frame_type == FrameType::Cfg3 {
                m.cont_idx = wire::cont_idx(payload);
                wire::config3(&payload[2..]).ok()?
            } else {
                wire::config(payload).ok()?
            };
            let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
            for s in &cfg.stations {
                m.stations.push(text(s.name));
                m.data_sources.push(s.idcode);
                m.counts.push((s.phasors, s.analogs, s.digitals));
                m.channels.extend(s.channels().map(text));
                if let Some(id) = s.global_id {
                    m.global_ids
                        .push(id.iter().map(|b| format!("{b:02x}")).collect());
                }
            }
            m.rate = Some(cfg.data_rate);
        }
        _ => {}
    }
    Some(m)
}

/// tshark 4.0 shows a CFG-1/2 station name only in a label (`Station #1: "PMU1    "`), not in
/// synphasor.station_name (which it fills for CFG-3): the labels of each frame, from PDML.
fn station_labels(file: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let out = Command::new("tshark")
        .args([
            "-r",
            &file.to_string_lossy(),
            "-Y",
            "synphasor.frtype == 2 || synphasor.frtype == 3 || synphasor.frtype == 5",
        ])
        .args(["-T", "pdml"])
        .output()
        .expect("run tshark");
    let pdml = String::from_utf8_lossy(&out.stdout);
    let mut labels = std::collections::BTreeMap::new();
    let mut frame = String::new();
    for line in pdml.lines() {
        if let Some(rest) = line.split("name=\"frame.number\"").nth(1) {
            frame = rest
                .split("show=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .into();
        } else if let Some(rest) = line.split("show=\"Station #").nth(1) {
            let name = rest.split("&quot;").nth(1).unwrap().trim().to_string();
            labels
                .entry(frame.clone())
                .or_insert_with(Vec::new)
                .push(name);
        }
    }
    labels
}

/// Every synchrophasor frame of `file` read by otwatch and by tshark: how many were compared,
/// and the differences.
fn compare(file: &Path) -> (usize, Vec<String>) {
    let text = tshark::fields(file, "synphasor", &["-E", "aggregator=|"], FIELDS);
    let stations = station_labels(file);
    let (mut compared, mut failures) = (0, Vec::new());
    for line in text.lines() {
        let cols: Vec<Vec<&str>> = line.split('\t').map(|c| c.split('|').collect()).collect();
        let one = |i: usize| cols[i].first().copied().unwrap_or_default();
        let nums = |i: usize| -> Vec<i64> { cols[i].iter().filter_map(|s| num(s)).collect() };
        let strings = |i: usize| -> Vec<String> {
            cols[i]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.trim().to_string())
                .collect()
        };
        let payload = unhex(if one(1).is_empty() { one(2) } else { one(1) });
        let (p, a, d) = (nums(12), nums(13), nums(14));
        let mut channels = strings(15);
        channels.extend(strings(17));
        let theirs = Message {
            frame_type: num(one(3)).unwrap() as u8,
            version: num(one(4)).unwrap() as u8,
            size: num(one(5)).unwrap() as u16,
            idcode: num(one(6)).unwrap() as u16,
            checksum: num(one(7)).unwrap() as u16,
            // proto_checksum_enum_e: 1 is good.
            checksum_good: one(8) == "1",
            command: num(one(9)).map(|c| c as u16),
            stations: stations.get(one(0)).cloned().unwrap_or_default(),
            data_sources: nums(11).into_iter().map(|v| v as u16).collect(),
            counts: p
                .iter()
                .zip(&a)
                .zip(&d)
                .map(|((p, a), d)| (*p as u16, *a as u16, *d as u16))
                .collect(),
            channels,
            rate: num(one(16)).map(|r| r as i16),
            cont_idx: num(one(18)).map(|c| c as u16),
            global_ids: strings(19),
        };
        // CFG-3 also names its stations in synphasor.station_name.
        if !one(10).is_empty() {
            assert_eq!(strings(10), theirs.stations, "frame {}", one(0));
        }
        let mine = ours(&payload).unwrap_or_default();
        compared += 1;
        if mine != theirs {
            failures.push(format!("frame {}: ours {mine:?} tshark {theirs:?}", one(0)));
        }
    }
    (compared, failures)
}

#[test]
fn every_frame_matches_tshark() {
    if tshark::missing() {
        return;
    }
    let (compared, failures) = compare(&data("c37_118_1pmu_udp.pcap"));
    eprintln!("{compared} C37.118 frames compared with tshark");
    assert_eq!(compared, 361);
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A CFG-3 frame (C37.118.2-2011 table 10) built from the standard by the unit test
/// `cfg3_names_the_station_and_its_channels` (sensor/analysis/src/protocols/c37_118/tests.rs,
/// `CFG3_ONE_PMU`): no public capture holds one. Station "Station A", ID 7734, phasors VA and
/// VB, analog ANA1, one digital word D0..D15, 60 Hz, 30 frames/s.
const CFG3_ONE_PMU: &str = "aa5200bc1e3665920080000000000000000f424000010953746174696f6e20411e36\
    0102030405060708090a0b0c0d0e0f10000f00020001000102564102564204414e41310244300244310244320244\
    33024434024435024436024437024438024439034431300344313103443132034431330344313403443135000001\
    003f80000000000000000001003f800000000000003f800000000000000000ffff423a000040d3333343ba00004d\
    000186a000004e2000000003001ec227";

#[test]
fn a_built_cfg3_names_the_pmu_as_tshark_reads_it() {
    let pmu: SocketAddrV4 = "192.168.0.60:4713".parse().unwrap();
    let pdc: SocketAddrV4 = "192.168.0.10:4713".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c37_118_cfg3.pcap");
    udp_pcap(&path, &[(pmu, pdc, unhex(CFG3_ONE_PMU))]);
    let r = report(&path);
    assert!(r.stats().protocol_violations.is_empty());
    let a = asset(&r, "192.168.0.60");
    assert_eq!(a.hostname, "Station A");
    assert!(
        described(
            a,
            "C37.118 PMU ID 7734: 2 phasors, 1 analog value, 1 digital status word, 60 Hz, \
             30 frames/s"
        ),
        "{:?}",
        a.evidence
    );
    if tshark::missing() {
        return;
    }
    let (compared, failures) = compare(&path);
    assert_eq!(compared, 1);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
