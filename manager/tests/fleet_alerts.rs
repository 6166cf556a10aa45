//! Alerts end to end, every part a separate process: a sensor replays a PLC being stopped, the
//! alert reaches the manager in the sequenced deltas, an analyst acknowledges it with the
//! `otwatch` CLI; another sensor learns its site's policy live (`run --learn-for`) and then
//! flags a new client writing to the PLC.
//!
//! Needs the `otwatch-sensor` binary next to the manager's (`cargo nextest run --workspace`
//! builds both); otherwise each test says so and skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{enroll, out, Fleet};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn attack(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/attacks")
        .join(name)
        .display()
        .to_string()
}

fn replay(sensor: &Path, state: &str, extra: &[&str], files: &[String]) {
    let o = Command::new(sensor)
        .args(["run", "--state", state, "--commit-interval", "1"])
        .args(extra)
        .arg("--pcap")
        .args(files)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sensor exited with {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

fn alerts(f: &Fleet, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["alerts"];
    a.extend_from_slice(args);
    f.cli(&a).as_array().unwrap().clone()
}

#[test]
fn a_plc_stop_reaches_the_manager_and_an_analyst_acknowledges_it() {
    let Some(sensor) = common::fleet::sensor_bin() else {
        return;
    };
    let f = Fleet::new();
    let _m = f.serve();
    let state = f.state("a");
    enroll(&sensor, &f.url(), &f.token("plant-a"), &state);
    replay(&sensor, &state, &[], &[attack("s7_stop.pcap")]);
    let list = alerts(&f, &["--site", "plant-a", "--kind", "plc_stop"]);
    assert_eq!(list.len(), 1, "{list:?}");
    let a = &list[0];
    assert_eq!(a["state"], "new");
    assert_eq!(a["alert"]["severity"], "critical");
    assert_eq!(a["alert"]["src"], "10.77.1.10");
    assert_eq!(a["alert"]["dst"], "10.77.1.20");
    // The alert is the sensor's, id for id.
    let local = out(
        &sensor,
        &["inventory", "--state", &state, "--format", "json"],
    );
    let local: Value = serde_json::from_str(&local).unwrap();
    let id = local["alerts"][0]["id"].as_str().unwrap();
    assert!(a["id"].as_str().unwrap().ends_with(id));
    // One alert by id, and the alerts about an asset.
    let one = f.cli(&["alerts", "show", a["id"].as_str().unwrap()]);
    assert_eq!(one, *a);
    let assets = f.cli(&["assets", "--site", "plant-a"]);
    let with_ip = |ip: &str| {
        assets
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["asset"]["ips"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i == ip)
            })
            .unwrap_or_else(|| panic!("no asset with {ip}: {assets}"))
            .clone()
    };
    let plc = with_ip("10.77.1.20");
    let plc_id = plc["id"].as_str().unwrap();
    let at_sensor = plc["seen_by"][0]["sensor_asset_id"].as_str().unwrap();
    assert_eq!(
        alerts(&f, &["--asset", plc_id, "--kind", "plc_stop"]).len(),
        1
    );
    let about = alerts(&f, &["--asset", plc_id]);
    let all = alerts(&f, &["--site", "plant-a"]);
    let expected: Vec<&Value> = all
        .iter()
        .filter(|x| {
            let a = &x["alert"];
            a["src"] == "10.77.1.20" || a["dst"] == "10.77.1.20" || a["asset"] == at_sensor
        })
        .collect();
    assert_eq!(about.iter().collect::<Vec<_>>(), expected);
    // Filters.
    assert!(alerts(&f, &["--site", "plant-b"]).is_empty());
    assert_eq!(alerts(&f, &["--severity", "critical"]).len(), 1);
    assert!(alerts(&f, &["--severity", "low"]).is_empty());
    // Acknowledge.
    let acked = f.cli(&["alerts", "ack", a["id"].as_str().unwrap()]);
    assert_eq!(acked["state"], "acknowledged", "{acked}");
    assert_eq!(alerts(&f, &["--status", "acknowledged"]).len(), 1);
    assert!(alerts(&f, &["--status", "new"]).is_empty());
    // The same replay again (a restart of the sensor) changes nothing the analyst did.
    replay(&sensor, &state, &[], &[attack("s7_stop.pcap")]);
    let list = alerts(&f, &["--kind", "plc_stop"]);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["state"], "acknowledged");
}

#[test]
fn a_sensor_learns_its_policy_live_then_flags_a_new_writer() {
    let Some(sensor) = common::fleet::sensor_bin() else {
        return;
    };
    let f = Fleet::new();
    let _m = f.serve();
    let state = f.state("b");
    enroll(&sensor, &f.url(), &f.token("plant-b"), &state);
    // modbus_benign spans 60 s of capture time: learn over its first 20 s, then protect.
    // Paced replay, so commits (every second) see the learning time pass.
    replay(
        &sensor,
        &state,
        &["--learn-for", "20s", "--speed", "10x"],
        &[
            attack("modbus_benign.pcap"),
            attack("modbus_new_writer.pcap"),
        ],
    );
    let policy = out(&sensor, &["policy", "export", "--state", &state]);
    assert!(policy.contains("[[conversation]]"), "{policy}");
    assert!(policy.contains("site = \"plant-b\""), "{policy}");
    let writes = alerts(&f, &["--site", "plant-b", "--kind", "unauthorized_write"]);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["alert"]["src"], "10.77.1.66");
    // The HMI's own traffic after learning is normal.
    let all = alerts(&f, &["--site", "plant-b"]);
    assert!(
        all.iter()
            .all(|a| a["alert"]["src"] != "10.77.1.30" && a["alert"]["dst"] != "10.77.1.30"),
        "{all:?}"
    );
}
