//! `otwatch-manager demo` as a new user runs it: `--exit` says the fleet stops and leaves no
//! temporary directory, and the manager logs no error for sensors that end their streams; without it the sensors stay online (their heartbeats keep coming)
//! until SIGTERM, which stops them and removes the directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{CLI, MANAGER};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn captures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .display()
        .to_string()
}

/// The demo directories left under `tmp`.
fn left(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("otwatch-demo-"))
        .collect()
}

#[test]
fn demo_exit_says_the_fleet_stops_and_leaves_no_directory() {
    let sensor = require_sensor!();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(MANAGER)
        .args(["demo", "--exit", "--captures", &captures(), "--sensor-bin"])
        .arg(&sensor)
        .env("TMPDIR", tmp.path())
        .env("OTWATCH_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Sensors that finish their replay and exit are no fault: at info level the manager logs
    // their enrolment, and nothing about their streams ending.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sensor enrolled"), "{stderr}");
    assert!(
        !stderr.contains("h2 protocol error") && !stderr.contains("sync stream ended"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the demo ends here (--exit): the manager and its sensors stop now"),
        "{stdout}"
    );
    assert!(!stdout.contains("Explore it"), "{stdout}");
    assert!(left(tmp.path()).is_empty(), "{:?}", left(tmp.path()));
}

#[test]
fn demo_sensors_stay_online_until_sigterm_which_cleans_up() {
    let sensor = require_sensor!();
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = Command::new(MANAGER)
        .args(["demo", "--captures", &captures(), "--sensor-bin"])
        .arg(&sensor)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let mut env = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("export ") {
            env = rest
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
        if line.starts_with("serving until Ctrl-C") {
            break;
        }
    }
    assert_eq!(
        env.len(),
        2,
        "the demo prints OTWATCH_MANAGER and OTWATCH_CRED"
    );
    let sensors = || -> serde_json::Value {
        let out = Command::new(CLI)
            .args(["sensors", "--format", "json"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let last_seen = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["last_seen"].as_str().unwrap().to_string())
            .collect()
    };
    let before = sensors();
    assert_eq!(before.as_array().unwrap().len(), 3, "{before}");
    for s in before.as_array().unwrap() {
        assert_eq!(s["status"], "online", "{s}");
    }
    // Heartbeats every 10 s: each sensor's last_seen moves on after the replay ended.
    std::thread::sleep(std::time::Duration::from_secs(12));
    let after = sensors();
    for (b, a) in last_seen(&before).iter().zip(last_seen(&after)) {
        assert!(a > *b, "last_seen {b} -> {a}: no heartbeat");
    }
    let status = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = demo.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(left(tmp.path()).is_empty(), "{:?}", left(tmp.path()));
}
