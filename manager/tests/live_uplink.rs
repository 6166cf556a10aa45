//! The uplink end to end from a LIVE interface: `otwatch-sensor run --interface IF --capture
//! af_packet --manager URL` on the root-namespace end of a veth pair (the "mirror port", no
//! address), bundled captures sent with tcpreplay into the other end from a network namespace,
//! SIGTERM, then the manager's view of the site through the `otwatch` CLI. It must hold what
//! `analyze` says about the same captures (contents; replay re-times frames, so neither counts
//! nor times), exactly what the sensor's own store holds (counts and times too: nothing of the
//! last commit may stay behind in the outbox), and the sensor's status (af_packet, no drops).
//!
//! Needs root, iproute2, tcpreplay and the `otwatch-sensor` binary next to the manager's
//! (`cargo nextest run --workspace` builds both); otherwise the test says why and skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{data, enroll, out, Fleet};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The captures `sensor/tests/live_capture.rs` replays: Modbus, S7, ENIP, DNP3, DHCP, LLDP, SNMP.
const CAPTURES: &[&str] = &[
    "suricata-modbus.pcap",
    "s7comm_reading_plc_status.pcap",
    "enip_cip_example.pcap",
    "zeek-dnp3.pcap",
    "dhcp.pcap",
    "lldp.pcap",
    "snmpv1_get.pcap",
];
const SITE: &str = "plant-live";
/// How long the sensor may wait for the manager's acknowledgements after SIGTERM.
const DRAIN_SECS: u64 = 30;

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why this machine cannot run the test, if it cannot.
fn missing() -> Option<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Some("needs root for a network namespace and live capture".into());
    }
    if !succeeds(Command::new("ip").arg("-V")) {
        return Some("ip (iproute2) is not installed".into());
    }
    if !succeeds(Command::new("tcpreplay").arg("-V")) {
        return Some("tcpreplay is not installed".into());
    }
    None
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A network namespace holding the "wire" end of a veth pair, whose other end (the sensor's
/// mirror port) stays in the root namespace: up, no address, no IPv6, so only what tcpreplay
/// sends crosses it. Both go on drop, also when the test panics.
struct Wire {
    ns: String,
    /// The root-namespace end, where the sensor listens.
    mirror: String,
    /// The namespace end, where tcpreplay sends.
    wire: String,
}

impl Wire {
    fn new() -> Wire {
        let pid = std::process::id();
        let w = Wire {
            ns: format!("otw-liveuplink-{pid}"),
            mirror: format!("lum{pid}"),
            wire: format!("luw{pid}"),
        };
        w.remove();
        sh(&["ip", "netns", "add", &w.ns]);
        w.exec(&[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        sh(&[
            "ip", "link", "add", &w.mirror, "type", "veth", "peer", "name", &w.wire, "netns", &w.ns,
        ]);
        // No router solicitations or MLD reports from this host on the mirror port.
        let v6 = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", w.mirror);
        if Path::new(&v6).exists() {
            std::fs::write(&v6, "1").unwrap();
        }
        sh(&["ip", "link", "set", &w.mirror, "up"]);
        w.exec(&["ip", "link", "set", &w.wire, "up"]);
        w
    }

    fn exec(&self, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.ns];
        full.extend_from_slice(args);
        sh(&full);
    }

    /// Sends a capture into the wire; every frame must go out.
    fn replay(&self, file: &str) {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.ns, "tcpreplay", "-q", "--intf1"])
            .args([&self.wire, "--mbps", "20", file])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let failed = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Failed packets:"))
            .map(str::trim);
        assert!(
            o.status.success() && failed == Some("0"),
            "tcpreplay {file}: {text}{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn remove(&self) {
        // Deleting one end of a veth pair deletes both.
        for args in [
            ["ip", "link", "del", &self.mirror],
            ["ip", "netns", "del", &self.ns],
        ] {
            let _ = Command::new(args[0])
                .args(&args[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The running sensor; its stderr goes to a file, read for progress and failure messages.
/// Killed on drop.
struct Sensor {
    child: Child,
    log: PathBuf,
}

impl Sensor {
    fn start(sensor: &Path, f: &Fleet, state: &str, interface: &str) -> Sensor {
        let log = f.dir.path().join("sensor.log");
        let url = f.url();
        let child = Command::new(sensor)
            .args(["run", "--state", state, "--interface", interface])
            .args(["--capture", "af_packet", "--manager", &url])
            .args(["--commit-interval", "1", "--workers", "1"])
            .args(["--drain-timeout", &DRAIN_SECS.to_string()])
            // Written after the drain too: the outbox as the sensor left it.
            .env("OTWATCH_METRICS__FILE", f.dir.path().join("metrics.prom"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Sensor { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has every one of `needles`.
    fn wait_for(&mut self, needles: &[&str], f: &Fleet) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !needles.iter().all(|n| self.log().contains(n)) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "the sensor exited with {st} before logging {needles:?}\n{}",
                    logs(self, f)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the sensor did not log {needles:?} within 60 s\n{}",
                logs(self, f)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then waits for the exit (drain included).
    fn terminate(&mut self, f: &Fleet) -> ExitStatus {
        sh(&["kill", "-TERM", &self.child.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(DRAIN_SECS + 60);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "the sensor did not exit within {} s of SIGTERM\n{}",
                DRAIN_SECS + 60,
                logs(self, f)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(s: &Sensor, f: &Fleet) -> String {
    format!(
        "--- sensor stderr ---\n{}\n--- manager stderr ---\n{}",
        s.log(),
        f.log()
    )
}

/// `v` without the `drop` keys at any depth, every array sorted (the fleet keeps sets sorted).
fn normalise(v: &Value, drop: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), normalise(v, drop)))
                .collect(),
        ),
        Value::Array(a) => {
            let mut a: Vec<Value> = a.iter().map(|v| normalise(v, drop)).collect();
            a.sort_by_cached_key(Value::to_string);
            Value::Array(a)
        }
        other => other.clone(),
    }
}

/// Times and counters: replayed frames carry new times, so flows split by idle timeouts differ.
const RETIMED: &[&str] = &["first_seen", "last_seen", "packets", "bytes", "flows"];

/// Assets and connections as sets of normalised JSON lines.
type Contents = (BTreeSet<String>, BTreeSet<String>);

fn contents(assets: &[&Value], conns: &[&Value], drop: &[&str]) -> Contents {
    let set = |items: &[&Value]| {
        items
            .iter()
            .map(|v| normalise(v, drop).to_string())
            .collect()
    };
    (set(assets), set(conns))
}

fn array<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not a JSON array: {v}"))
}

/// The site's assets and connections as the manager holds them.
fn manager_view(f: &Fleet, drop: &[&str]) -> Contents {
    let assets = f.cli(&["assets", "--site", SITE]);
    let conns = f.cli(&["connections", "--site", SITE]);
    let assets: Vec<&Value> = array(&assets, "assets")
        .iter()
        .map(|a| &a["asset"])
        .collect();
    let conns: Vec<&Value> = array(&conns, "connections")
        .iter()
        .map(|c| &c["connection"])
        .collect();
    contents(&assets, &conns, drop)
}

/// The assets and connections of an `otwatch-sensor` report (analyze, inventory).
fn report_view(report: &Value, drop: &[&str]) -> Contents {
    let assets: Vec<&Value> = array(&report["assets"], "assets").iter().collect();
    let conns: Vec<&Value> = array(&report["connections"], "connections")
        .iter()
        .collect();
    contents(&assets, &conns, drop)
}

fn assert_same(manager: &Contents, other: &Contents, what: &str, ctx: &str) {
    let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.difference(b).cloned().collect()
    };
    assert!(
        manager == other,
        "the manager differs from {what}\nassets only in the manager: {:#?}\nassets only in {what}: {:#?}\nconnections only in the manager: {:#?}\nconnections only in {what}: {:#?}\n{ctx}",
        diff(&manager.0, &other.0),
        diff(&other.0, &manager.0),
        diff(&manager.1, &other.1),
        diff(&other.1, &manager.1),
    );
}

fn sensor_json(sensor: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&out(sensor, args)).unwrap()
}

/// A sample of the metrics file, by name.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn live_af_packet_capture_reaches_the_manager_as_analyze_sees_it() {
    if let Some(why) = missing() {
        common::skip::skip(&why, common::skip::Need::InCi);
        return;
    }
    let sensor_bin = require_sensor!();
    let wire = Wire::new();
    let f = Fleet::new();
    let _manager = f.serve();
    // While the manager runs: through its API.
    let token = f.token(SITE);
    let state = f.state("s");
    enroll(&sensor_bin, &f.url(), &token, &state);

    let mut sensor = Sensor::start(&sensor_bin, &f, &state, &wire.mirror);
    sensor.wait_for(
        &[
            "capturing with af_packet",
            "running with",
            "uplink connected",
        ],
        &f,
    );
    let files: Vec<String> = CAPTURES.iter().map(|c| data(c)).collect();
    for file in &files {
        wire.replay(file);
    }
    // Straight to SIGTERM: the rings' last frames are in the final commit only, which the
    // sensor must send before it exits.
    let st = sensor.terminate(&f);
    assert!(
        st.success(),
        "the sensor exited with {st}\n{}",
        logs(&sensor, &f)
    );
    let ctx = logs(&sensor, &f);

    // Everything the sensor numbered was acknowledged before it exited.
    let metrics = std::fs::read_to_string(f.dir.path().join("metrics.prom")).unwrap();
    let last_seq = metric(&metrics, "otwatch_uplink_last_seq");
    assert!(
        last_seq.is_some_and(|s| s > 0)
            && metric(&metrics, "otwatch_uplink_outbox_backlog") == Some(0)
            && metric(&metrics, "otwatch_uplink_acked_seq") == last_seq,
        "the outbox was not drained at exit:\n{metrics}\n{ctx}"
    );

    // The sensor as the manager sees it.
    let sensors = f.cli(&["sensors"]);
    let listed = array(&sensors, "sensors");
    assert_eq!(listed.len(), 1, "{sensors}\n{ctx}");
    let s = &listed[0];
    assert_eq!(s["site"], SITE, "{s}");
    assert!(
        s["capture_mode"]
            .as_str()
            .is_some_and(|m| m.contains("af_packet")),
        "capture_mode: {s}\n{ctx}"
    );
    assert_eq!(s["drops"], 0, "{s}\n{ctx}");
    assert_eq!(s["applied_seq"].as_u64(), last_seq, "{s}\n{ctx}");

    // The sensor's own store: no drops, and exactly what the manager holds.
    let local = sensor_json(
        &sensor_bin,
        &["inventory", "--state", &state, "--format", "json"],
    );
    let sources = array(&local["stats"]["sources"], "stats.sources");
    let drops: u64 = sources
        .iter()
        .map(|x| x["kernel_drops"].as_u64().unwrap_or(0) + x["rx_ring_full"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(drops, 0, "{}\n{ctx}", local["stats"]);
    let fleet = manager_view(&f, &[]);
    assert!(
        !fleet.0.is_empty() && !fleet.1.is_empty(),
        "{fleet:#?}\n{ctx}"
    );
    eprintln!(
        "the manager holds {} assets and {} connections of {SITE}; {} deltas acknowledged",
        fleet.0.len(),
        fleet.1.len(),
        last_seq.unwrap_or(0)
    );
    assert_same(
        &fleet,
        &report_view(&local, &[]),
        "the sensor's inventory",
        &ctx,
    );

    // And what analyze says about the same captures, read together.
    let mut args = vec!["analyze", "-q", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let offline = sensor_json(&sensor_bin, &args);
    assert_same(
        &manager_view(&f, RETIMED),
        &report_view(&offline, RETIMED),
        "analyze",
        &ctx,
    );
}
