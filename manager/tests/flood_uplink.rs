//! A flood replayed into a sensor that sends to a manager: the sensor's caps bound what it
//! keeps and sends, the manager stays small, and the flood is an alert on the manager.
//!
//! Needs the `otwatch-sensor` binary next to the manager's (`cargo nextest run --workspace`
//! builds both); otherwise the test says so and skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

#[path = "../../sensor/tests/common/flood.rs"]
#[allow(dead_code)]
mod flood;

use common::fleet::{enroll, Fleet};
use std::process::Command;

/// Peak resident memory of a running process, from /proc.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_flood_through_the_uplink_keeps_sensor_and_manager_bounded() {
    let Some(sensor) = common::fleet::sensor_bin() else {
        return;
    };
    let f = Fleet::new();
    let m = f.serve();
    let state = f.state("s");
    enroll(&sensor, &f.url(), &f.token("plant-flood"), &state);
    let pcap = f.dir.path().join("flood.pcap");
    flood::write(&pcap, flood::Flood::Flows, 300_000).unwrap();
    let cfg = f.dir.path().join("sensor.toml");
    std::fs::write(
        &cfg,
        "[inventory]\nmax_hosts = 5000\nmax_macs = 5000\nmax_connections = 10000\n",
    )
    .unwrap();
    let o = Command::new(&sensor)
        .args([
            "run",
            "--commit-interval",
            "1",
            "--state",
            &state,
            "--config",
        ])
        .arg(&cfg)
        .arg("--pcap")
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sensor exited with {}: {}\n--- manager ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr),
        f.log()
    );
    let sensors = f.cli(&["sensors"]);
    let s = &sensors.as_array().unwrap()[0];
    let assets = s["assets"].as_u64().unwrap();
    assert!(assets > 1000 && assets <= 5000, "{s}");
    // The manager got what the sensor kept, not the flood.
    let hwm = vm_hwm_kib(m.0.id());
    assert!(hwm < 512 * 1024, "manager peak RSS {} MiB", hwm / 1024);
    eprintln!("manager: {assets} assets, peak RSS {} MiB", hwm / 1024);
    let floods = f.cli(&["alerts", "--kind", "flood"]);
    assert!(!floods.as_array().unwrap().is_empty(), "{floods}");
}
