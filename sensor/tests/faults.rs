#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sensor on a full disk: its state directory on a small tmpfs (mounting one needs root;
//! otherwise the test says why and passes without running).

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// Senders in the capture that fills the disk.
const HOSTS: u32 = 4000;

fn run_pcap(state: &Path, pcap: &Path, extra: &[&str]) -> std::process::Output {
    sensor()
        .args(["run", "--commit-interval", "1", "--state"])
        .arg(state)
        .args(extra)
        .arg("--pcap")
        .arg(pcap)
        .output()
        .unwrap()
}

/// What the store holds as `inventory` prints it (which must work).
fn stored(state: &Path) -> Value {
    let (o, v) = inventory(state);
    assert!(o.status.success(), "{}", show(&o));
    v.unwrap_or_else(|| panic!("no JSON: {}", show(&o)))
}

/// The parts of an inventory a damaged or mixed store would show.
fn essence(v: &Value) -> (Value, Value, Value) {
    (
        v["assets"].clone(),
        v["connections"].clone(),
        v["stats"]["packets"].clone(),
    )
}

/// Error lines of a sensor's log that say the disk is full.
fn full_errors(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("ERROR") && l.contains("is full"))
        .count()
}

fn no_half_snapshot(state: &Path) {
    for e in std::fs::read_dir(state).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".generating"), "{name} left behind");
    }
}

#[test]
fn a_full_disk_never_damages_the_store_and_the_sensor_recovers() {
    let fs = match Tmpfs::mount(64) {
        Ok(f) => f,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_never_damages_the_store_and_the_sensor_recovers: {why}");
            return;
        }
    };
    let state = fs.path().join("state");
    let caps = tempfile::tempdir().unwrap();
    // 4000 hosts over 20 s of capture time: some MiB of store, and as much again of the
    // inventory snapshot beside it.
    let hosts = caps.path().join("hosts.pcap");
    udp_hosts_pcap(&hosts, HOSTS, 1_700_000_000, 5000);
    let small = data("dhcp.pcap");

    // With room: a first replay is stored.
    let o = run_pcap(&state, &small, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let first = stored(&state);

    // The disk fills up during a replay: one clear error, exit status 5, and the store keeps
    // the first replay whole.
    let filler = fill(fs.path(), "filler", 5 << 19);
    let o = run_pcap(&state, &hosts, &[]);
    let log = text(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{}", show(&o));
    assert_eq!(full_errors(&log), 1, "{log}");
    assert!(log.contains(&state.display().to_string()), "{log}");
    assert!(log.contains("could not be stored"), "{log}");
    assert_eq!(essence(&stored(&state)), essence(&first));

    // Restarted while the disk is full to the last byte: it says so and stops, twice (the
    // second time without the reserve given up the first time); the store stays readable.
    let more = fill(fs.path(), "more", 0);
    for _ in 0..2 {
        let o = run_pcap(&state, &small, &[]);
        let log = text(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{}", show(&o));
        assert!(log.contains("is full"), "{log}");
        assert!(!log.to_lowercase().contains("corrupt"), "{log}");
        assert_eq!(essence(&stored(&state)), essence(&first));
    }
    // analyze --state says the same, and prints nothing it could not keep.
    let o = sensor()
        .args(["analyze", "--format", "json", "--state"])
        .arg(&state)
        .arg(&small)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", show(&o));
    assert!(text(&o.stderr).contains("is full"), "{}", show(&o));
    assert_eq!(essence(&stored(&state)), essence(&first));

    // Space is freed: the next run goes on from the stored state, nothing lost or damaged.
    std::fs::remove_file(&more).unwrap();
    std::fs::remove_file(&filler).unwrap();
    let o = run_pcap(&state, &small, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let twice = stored(&state);
    let reference = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let o = sensor()
            .args(["analyze", "--format", "json", "--state"])
            .arg(reference.path())
            .arg(&small)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
    }
    assert_eq!(essence(&twice), essence(&stored(reference.path())));
    no_half_snapshot(&state);

    // The disk fills up while a paced replay runs: capture goes on, the error is said once,
    // and once space is freed the sensor saves by itself and ends with everything stored.
    let filler = fill(fs.path(), "filler", 5 << 19);
    let mut cmd = sensor();
    cmd.args(["run", "--commit-interval", "1", "--speed", "2x", "--state"])
        .arg(&state)
        .arg("--pcap")
        .arg(&hosts);
    let (status, log, freed) = run_freeing_space(cmd, &filler);
    assert!(freed, "the disk never filled up:\n{log}");
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(full_errors(&log), 1, "{log}");
    assert!(log.contains("takes writes again"), "{log}");
    let after = stored(&state);
    let packets = |v: &Value| v["stats"]["packets"].as_u64().unwrap();
    assert_eq!(packets(&after), packets(&twice) + u64::from(HOSTS));
    // As if the disk had never been full.
    let o = sensor()
        .args(["analyze", "--format", "json", "--state"])
        .arg(reference.path())
        .arg(&hosts)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(essence(&after), essence(&stored(reference.path())));
    no_half_snapshot(&state);
}
