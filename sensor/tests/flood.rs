#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile traffic: floods of new flows and spoofed SYNs must leave the sensor bounded in
//! memory, finished in seconds, and saying what it evicted.
//!
//! The captures are written here (tests/common/flood.rs): 1,000,000 one-packet TCP/UDP flows
//! from random 10/8 sources to random 10/8 hosts, and 2,000,000 SYNs from random sources to
//! one controller. Peak RSS is that of the `otwatch-sensor analyze` child (getrusage).

mod common;

use common::flood::{write, Flood};
use serde_json::Value;
use std::process::Command;

/// Peak RSS of the children waited for so far, in bytes.
#[allow(unsafe_code)]
fn children_peak_rss() -> u64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given, which points to
    // zeroed memory of the right size and alignment; the result is read only on success.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: getrusage returned 0, so the struct is initialised (and it was zeroed anyway).
    let ru = unsafe { ru.assume_init() };
    ru.ru_maxrss as u64 * 1024
}

fn analyze(kind: Flood, packets: u64) -> (Value, u64) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("flood.pcap");
    write(&pcap, kind, packets).unwrap();
    let out = dir.path().join("report.json");
    let run = Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"))
        .args(["analyze", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    (report, children_peak_rss())
}

fn limit(report: &Value, key: &str) -> u64 {
    report["stats"]["limits"][key].as_u64().unwrap_or(0)
}

fn floods(report: &Value) -> Vec<&Value> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "flood")
        .collect()
}

const GIB: u64 = 1 << 30;

#[test]
fn a_million_new_flows_stay_bounded_and_are_reported() {
    let (r, rss) = analyze(Flood::Flows, 1_000_000);
    assert!(rss < GIB, "peak RSS {} MiB", rss >> 20);
    assert_eq!(r["stats"]["packets"], 1_000_000);
    // The caps held and said so.
    let assets = r["assets"].as_array().unwrap().len();
    assert!(assets <= 100_000, "{assets} assets");
    assert!(r["connections"].as_array().unwrap().len() <= 300_000);
    assert!(
        limit(&r, "flows_evicted") > 500_000,
        "{}",
        r["stats"]["limits"]
    );
    assert!(
        limit(&r, "hosts_evicted") > 1_000_000,
        "{}",
        r["stats"]["limits"]
    );
    assert!(
        limit(&r, "conns_evicted") > 500_000,
        "{}",
        r["stats"]["limits"]
    );
    // The flood itself is an alert that names the caps.
    let f = floods(&r);
    let tables = f
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap()
                .contains("filled the sensor's tables")
        })
        .unwrap_or_else(|| panic!("no overload alert in {f:?}"));
    assert_eq!(tables["severity"], "high");
    assert!(tables["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["field"] == "flows_evicted"));
}

#[test]
fn a_spoofed_syn_flood_stays_bounded_keeps_its_target_and_is_an_alert() {
    let (r, rss) = analyze(Flood::Syn, 2_000_000);
    assert!(rss < GIB, "peak RSS {} MiB", rss >> 20);
    assert_eq!(r["stats"]["packets"], 2_000_000);
    assert!(r["assets"].as_array().unwrap().len() <= 100_000);
    assert!(
        limit(&r, "hosts_evicted") > 1_000_000,
        "{}",
        r["stats"]["limits"]
    );
    // The target is never what goes: it has all the traffic.
    let target = r["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ips"][0] == "10.0.0.10")
        .expect("the flooded controller is still in the inventory");
    assert!(target["packets"].as_u64().unwrap() >= 1_000_000, "{target}");
    let f = floods(&r);
    let on_target = f
        .iter()
        .find(|a| a["dst"] == "10.0.0.10")
        .unwrap_or_else(|| panic!("no flood alert on the target in {f:?}"));
    // Spoofed: no single source to blame, and the evidence says how many.
    assert_eq!(on_target["src"], "");
    let ev = |k: &str| {
        on_target["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == k)
            .map(|e| e["value"].as_str().unwrap().to_string())
    };
    assert_eq!(ev("sources").as_deref(), Some("256+"));
    assert_eq!(ev("ports").as_deref(), Some("502"));
}

#[test]
fn the_same_flood_gives_the_same_report() {
    let (a, _) = analyze(Flood::Syn, 200_000);
    let (b, _) = analyze(Flood::Syn, 200_000);
    assert_eq!(a, b);
}
