//! The fleet end to end, every part a separate process: `otwatch-manager serve`, sensors that
//! `enroll` with one-time tokens and `run --pcap` over mutual TLS, and the `otwatch` CLI. The
//! fleet inventory per site must equal `analyze` of the same captures; and after each fault —
//! the manager killed with SIGKILL mid-stream, a sensor killed mid-replay, the link cut for a
//! while — nothing is lost and nothing is doubled (packet counts compared).
//!
//! Needs the `otwatch-sensor` binary next to the manager's (`cargo nextest run --workspace`
//! builds both); otherwise each test says so and skips. The `_on_postgres` tests run the same
//! with the manager's store in a PostgreSQL server of their own (`--store`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{data, enroll, out, Fleet};
use common::postgres::Postgres;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn replay(sensor: &Path, state: &str, files: &[String], extra: &[&str]) -> Child {
    let mut c = Command::new(sensor);
    c.args(["run", "--state", state, "--commit-interval", "1"])
        .args(extra)
        .arg("--pcap")
        .args(files)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().unwrap()
}

fn finish(mut c: Child) {
    let st = c.wait().unwrap();
    assert!(st.success(), "sensor exited with {st}");
}

/// What must agree between the fleet and `analyze`: each asset's addresses, kind and
/// protocols; each connection's endpoints, protocol, operations and packet count.
type Summary = (BTreeSet<String>, BTreeSet<String>);

fn asset_line(a: &Value) -> String {
    let mut protos: Vec<String> = a["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["name"], p["role"]))
        .collect();
    protos.sort();
    format!(
        "ips={} macs={} type={} vendor={} protocols={protos:?}",
        a["ips"], a["macs"], a["device_type"], a["vendor"]
    )
}

fn conn_line(c: &Value) -> String {
    format!(
        "{} -> {}:{}/{} {} ops={} fcs={} packets={}",
        c["client"],
        c["server"],
        c["port"],
        c["transport"],
        c["protocol"],
        c["operations"],
        c["function_codes"],
        c["packets"]
    )
}

fn fleet_summary(f: &Fleet, site: &str) -> Summary {
    let assets = f.cli(&["assets", "--site", site]);
    let conns = f.cli(&["connections", "--site", site]);
    (
        assets
            .as_array()
            .unwrap()
            .iter()
            .map(|a| asset_line(&a["asset"]))
            .collect(),
        conns
            .as_array()
            .unwrap()
            .iter()
            .map(|c| conn_line(&c["connection"]))
            .collect(),
    )
}

fn analyze_summary(sensor: &Path, files: &[String]) -> Summary {
    let mut args = vec!["analyze", "-q", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let r: Value = serde_json::from_str(&out(sensor, &args)).unwrap();
    (
        r["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(asset_line)
            .collect(),
        r["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(conn_line)
            .collect(),
    )
}

fn assert_same(fleet: &Summary, offline: &Summary, what: &str) {
    let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.symmetric_difference(b).cloned().collect()
    };
    assert!(
        fleet == offline,
        "{what}: the fleet differs from analyze\nassets: {:#?}\nconnections: {:#?}",
        diff(&fleet.0, &offline.0),
        diff(&fleet.1, &offline.1)
    );
}

#[test]
fn three_sensors_at_two_sites_equal_analyze_per_site() {
    let sensor = require_sensor!();
    three_sensors_at_two_sites(&sensor, &Fleet::new());
}

#[test]
fn three_sensors_at_two_sites_equal_analyze_per_site_on_postgres() {
    let sensor = require_sensor!();
    let Some(pg) = Postgres::start() else { return };
    let f = Fleet::on_store(&pg.url);
    three_sensors_at_two_sites(&sensor, &f);
    assert!(f.log().contains("fleet store in PostgreSQL"), "{}", f.log());
}

fn three_sensors_at_two_sites(sensor: &Path, f: &Fleet) {
    let plan: [(&str, Vec<String>); 3] = [
        (
            "plant-a",
            vec![data("suricata-modbus.pcap"), data("dhcp.pcap")],
        ),
        (
            "plant-a",
            vec![data("modicon_test.pcap"), data("lldp.pcap")],
        ),
        (
            "plant-b",
            vec![
                data("s7comm_reading_plc_status.pcap"),
                data("enip_cip_example.pcap"),
            ],
        ),
    ];
    // Tokens made through the running manager (the PostgreSQL store is reached through it).
    let _m = f.serve();
    let tokens: Vec<String> = plan.iter().map(|(site, _)| f.token(site)).collect();
    let mut children = Vec::new();
    for (i, ((_, files), token)) in plan.iter().zip(&tokens).enumerate() {
        let state = f.state(&format!("s{i}"));
        enroll(sensor, &f.url(), token, &state);
        children.push(replay(sensor, &state, files, &[]));
    }
    for c in children {
        finish(c);
    }
    let sensors = f.cli(&["sensors"]);
    assert_eq!(sensors.as_array().unwrap().len(), 3, "{sensors}");
    for site in ["plant-a", "plant-b"] {
        let files: Vec<String> = plan
            .iter()
            .filter(|(s, _)| *s == site)
            .flat_map(|(_, f)| f.clone())
            .collect();
        assert_same(
            &fleet_summary(f, site),
            &analyze_summary(sensor, &files),
            site,
        );
    }
    // Sites never mix.
    let sites = f.cli(&["sites"]);
    assert_eq!(sites.as_array().unwrap().len(), 2, "{sites}");
}

#[test]
fn a_sensor_given_several_manager_urls_goes_on_to_one_that_answers() {
    let sensor = require_sensor!();
    let f = Fleet::new();
    let token = f.token("plant-a");
    let _m = f.serve();
    let state = f.state("s0");
    enroll(&sensor, &f.url(), &token, &state);
    // The first URL has nobody listening: the sensor goes on to the second.
    let nobody = format!("https://127.0.0.1:{}", common::fleet::free_port());
    let urls = format!("{nobody}, {}", f.url());
    let files = vec![data("suricata-modbus.pcap")];
    finish(replay(&sensor, &state, &files, &["--manager", &urls]));
    assert_same(
        &fleet_summary(&f, "plant-a"),
        &analyze_summary(&sensor, &files),
        "plant-a",
    );
}

/// mb2.pcap (13 k packets over 21 s) at 4x: a replay of about 5 s with a commit a second.
fn slow_replay() -> (Vec<String>, [&'static str; 2]) {
    (vec![data("mb2.pcap")], ["--speed", "4x"])
}

#[test]
fn manager_killed_mid_stream_loses_and_doubles_nothing() {
    let sensor = require_sensor!();
    manager_killed_mid_stream(&sensor, &Fleet::new());
}

/// The same with the manager's store in PostgreSQL: the batch in flight at the SIGKILL is
/// applied once (its transaction committed or not), the rest after the restart.
#[test]
fn manager_on_postgres_killed_mid_stream_loses_and_doubles_nothing() {
    let sensor = require_sensor!();
    let Some(pg) = Postgres::start() else { return };
    let f = Fleet::on_store(&pg.url);
    manager_killed_mid_stream(&sensor, &f);
    assert!(f.log().contains("fleet store in PostgreSQL"), "{}", f.log());
}

fn manager_killed_mid_stream(sensor: &Path, f: &Fleet) {
    let mut m = f.serve();
    let token = f.token("plant-a");
    let state = f.state("s");
    enroll(sensor, &f.url(), &token, &state);
    let (files, speed) = slow_replay();
    let mut c = replay(sensor, &state, &files, &speed);
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        c.try_wait().unwrap().is_none(),
        "the replay is still running"
    );
    // SIGKILL (Child::kill) mid-stream, back two seconds later on the same port.
    m.0.kill().unwrap();
    m.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let _m2 = f.serve();
    finish(c);
    assert_same(
        &fleet_summary(f, "plant-a"),
        &analyze_summary(sensor, &files),
        "after a manager SIGKILL",
    );
}

/// Makes `b` a replica of `a`: the same CA and server certificate (as one Kubernetes secret
/// mounted into both, deploy/k8s/overlays/replicated-postgres), and `a`'s admin credentials.
fn share_pki(a: &Fleet, b: &Fleet) {
    for f in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        std::fs::copy(Path::new(&a.data()).join(f), Path::new(&b.data()).join(f)).unwrap();
    }
    for e in std::fs::read_dir(a.cred()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), Path::new(&b.cred()).join(e.file_name())).unwrap();
    }
}

/// Two managers on one PostgreSQL store; the sensor knows both. The one it streams to is
/// killed (SIGKILL) mid-stream and not started again: the sensor finishes on the other (whose
/// view of the site was built before the kill), and the inventory there equals `analyze`:
/// nothing lost, nothing doubled. (`tests/replicas.rs` shows a view following the other
/// manager's batches alone.)
#[test]
fn a_replica_killed_mid_stream_the_sensor_finishes_on_the_other() {
    let sensor = require_sensor!();
    let Some(pg) = Postgres::start() else { return };
    let a = Fleet::on_store(&pg.url);
    let b = Fleet::on_store(&pg.url);
    share_pki(&a, &b);
    let mut ma = a.serve();
    let _mb = b.serve();
    let token = a.token("plant-a");
    let state = a.state("s");
    enroll(&sensor, &a.url(), &token, &state);
    let (files, speed) = slow_replay();
    let urls = format!("{},{}", a.url(), b.url());
    let mut extra = speed.to_vec();
    extra.extend(["--manager", urls.as_str()]);
    let mut c = replay(&sensor, &state, &files, &extra);
    std::thread::sleep(Duration::from_millis(1500));
    // The second replica's view of the site is built now, while the first applies.
    let _early = fleet_summary(&b, "plant-a");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        c.try_wait().unwrap().is_none(),
        "the replay is still running"
    );
    ma.0.kill().unwrap();
    ma.0.wait().unwrap();
    finish(c);
    assert_same(
        &fleet_summary(&b, "plant-a"),
        &analyze_summary(&sensor, &files),
        "on the other replica after a SIGKILL",
    );
}

#[test]
fn sensor_killed_mid_replay_loses_and_doubles_nothing() {
    let sensor = require_sensor!();
    let f = Fleet::new();
    let token = f.token("plant-a");
    let _m = f.serve();
    let state = f.state("s");
    enroll(&sensor, &f.url(), &token, &state);
    let (files, speed) = slow_replay();
    let mut c = replay(&sensor, &state, &files, &speed);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        c.try_wait().unwrap().is_none(),
        "the replay is still running"
    );
    c.kill().unwrap();
    c.wait().unwrap();
    // The same command again, as systemd would restart it.
    finish(replay(&sensor, &state, &files, &[]));
    assert_same(
        &fleet_summary(&f, "plant-a"),
        &analyze_summary(&sensor, &files),
        "after a sensor SIGKILL",
    );
}

/// A TCP relay between sensor and manager that can cut every connection and refuse new ones.
struct Link {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Link {
    fn new(to: u16) -> Link {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (c2, o2) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                if c2.load(Ordering::SeqCst) {
                    let _ = s.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(up) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                {
                    let mut o = o2.lock().unwrap();
                    o.push(s.try_clone().unwrap());
                    o.push(up.try_clone().unwrap());
                }
                for (mut a, mut b) in [(s.try_clone().unwrap(), up.try_clone().unwrap()), (up, s)] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = a.read(&mut buf) {
                            if n == 0 || b.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = b.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Link { port, cut, open }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[test]
fn link_cut_for_a_while_then_restored_loses_and_doubles_nothing() {
    let sensor = require_sensor!();
    let f = Fleet::new();
    let token = f.token("plant-a");
    let _m = f.serve();
    let link = Link::new(f.port);
    let url = format!("https://127.0.0.1:{}", link.port);
    let state = f.state("s");
    enroll(&sensor, &url, &token, &state);
    let (files, speed) = slow_replay();
    let mut c = replay(&sensor, &state, &files, &speed);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        c.try_wait().unwrap().is_none(),
        "the replay is still running"
    );
    link.cut();
    let cut_at = Instant::now();
    std::thread::sleep(Duration::from_millis(3000));
    link.restore();
    finish(c);
    assert!(cut_at.elapsed() >= Duration::from_secs(3));
    assert_same(
        &fleet_summary(&f, "plant-a"),
        &analyze_summary(&sensor, &files),
        "after the link was cut",
    );
}
