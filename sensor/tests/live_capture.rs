#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `otwatch-sensor run` end to end, as a plant would use it: a PLC and an HMI (real protocol
//! peers: pymodbus, python-snap7, c104) talk across a bridge in their own network namespaces;
//! the bridge mirrors every frame (tc mirred, like a SPAN port) to the sensor's interface in a
//! fourth namespace. The sensor, in each capture mode, must report what `analyze` reports for
//! a tcpdump recording of the same mirror port.
//!
//! Also: captures replayed with tcpreplay into the sensor's interface give the inventory of
//! `analyze` on the files; `run` without privileges fails saying which capabilities to grant
//! (and `analyze` works unprivileged); SIGKILL leaves a store that reopens.
//!
//! Needs root, iproute2, tcpdump, tcpreplay and the Python peers (`.ci/run` installs them);
//! otherwise each test prints why it skips.

#[path = "../../tests/skip.rs"]
mod skip;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SENSOR: &str = env!("CARGO_BIN_EXE_otwatch-sensor");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Why this machine cannot run these tests, if it cannot.
fn missing(tools: &[&str], modules: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root for network namespaces and live capture".into());
    }
    for t in tools {
        let probe = match *t {
            "ip" => ok(Command::new("ip").arg("-V")),
            "tcpreplay" => ok(Command::new("tcpreplay").arg("-V")),
            "tc" => ok(Command::new("tc").arg("-V")),
            other => ok(Command::new(other).arg("--version")),
        };
        if !probe {
            return Some(format!("{t} is not installed (see .ci/run)"));
        }
    }
    for m in modules {
        if !ok(Command::new("python3").args(["-c", &format!("import {m}")])) {
            return Some(format!(
                "python module {m} is missing (pip install -r tests/peers/requirements.txt)"
            ));
        }
    }
    None
}

macro_rules! require {
    ($tools:expr, $modules:expr) => {
        if let Some(why) = missing($tools, $modules) {
            skip::skip(&why, skip::Need::InCi);
            return;
        }
    };
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces `plc`, `hmi`, `sw` (a bridge whose ports mirror their ingress to `mon0`) and
/// `sen` (holding `mon1`, the sensor's "SPAN port"). Removed on drop.
struct Lab {
    tag: String,
    net: u8,
}

impl Lab {
    fn new(net: u8) -> Lab {
        let tag = format!("{}{}", std::process::id() % 10_000, net);
        let lab = Lab { tag, net };
        for ns in ["plc", "hmi", "sw", "sen"] {
            let name = lab.ns(ns);
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(Stdio::null())
                .status();
            sh(&["ip", "netns", "add", &name]);
            // No IPv6 autoconfiguration chatter: only the peers' traffic crosses the lab.
            lab.exec(
                ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            );
            lab.exec(ns, &["ip", "link", "set", "lo", "up"]);
        }
        let pair = |a: &str, ans: &str, b: &str, bns: &str| {
            sh(&[
                "ip",
                "link",
                "add",
                a,
                "netns",
                &lab.ns(ans),
                "type",
                "veth",
                "peer",
                "name",
                b,
                "netns",
                &lab.ns(bns),
            ]);
        };
        pair("eth0", "plc", "swp", "sw");
        pair("eth0", "hmi", "swh", "sw");
        pair("mon0", "sw", "mon1", "sen");
        lab.exec("sw", &["ip", "link", "add", "br0", "type", "bridge"]);
        for p in ["swp", "swh"] {
            lab.exec("sw", &["ip", "link", "set", p, "master", "br0", "up"]);
            lab.exec("sw", &["tc", "qdisc", "add", "dev", p, "clsact"]);
            lab.exec(
                "sw",
                &[
                    // u32 matching everything: cls_matchall is not in every kernel.
                    "tc", "filter", "add", "dev", p, "ingress", "u32", "match", "u32", "0", "0",
                    "action", "mirred", "egress", "mirror", "dev", "mon0",
                ],
            );
        }
        lab.exec("sw", &["ip", "link", "set", "br0", "up"]);
        lab.exec("sw", &["ip", "link", "set", "mon0", "up"]);
        lab.exec("sen", &["ip", "link", "set", "mon1", "up"]);
        for (ns, host) in [("plc", 10), ("hmi", 20)] {
            let addr = format!("10.77.{net}.{host}/24");
            lab.exec(ns, &["ip", "addr", "add", &addr, "dev", "eth0"]);
            lab.exec(ns, &["ip", "link", "set", "eth0", "up"]);
        }
        lab
    }

    fn ns(&self, role: &str) -> String {
        format!("otw{role}{}", self.tag)
    }

    fn ip(&self, host: &str) -> String {
        let h = if host == "plc" { 10 } else { 20 };
        format!("10.77.{}.{h}", self.net)
    }

    fn cmd(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(ns), program]);
        c
    }

    fn exec(&self, ns: &str, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec"];
        let name = self.ns(ns);
        full.push(&name);
        full.extend_from_slice(args);
        sh(&full);
    }

    /// The XDP program attached to `mon1`, if any (`ip -d link` shows "prog/xdp").
    fn xdp_attached(&self) -> bool {
        let out = self
            .cmd("sen", "ip")
            .args(["-d", "link", "show", "dev", "mon1"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("xdp")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in ["plc", "hmi", "sw", "sen"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(ns)])
                .status();
        }
    }
}

/// A child whose stderr lines are collected; killed on drop.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `text`; panics with the log after 20 s.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let hit = l.contains(text);
                self.log.push(l);
                if hit {
                    return;
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                self.drain();
                panic!("exited with {st} before {text:?}:\n{}", self.log.join("\n"));
            }
        }
        panic!("no {text:?} in 20 s:\n{}", self.log.join("\n"));
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.log.push(l);
        }
    }

    fn signal(&mut self, sig: &str) -> std::process::ExitStatus {
        sh(&["kill", sig, &self.child.id().to_string()]);
        let st = self.child.wait().unwrap();
        self.drain();
        st
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sensor(lab: &Lab, mode: &str, state: &Path, workers: u32) -> Proc {
    let mut c = lab.cmd("sen", SENSOR);
    c.args(["run", "--interface", "mon1", "--capture", mode, "--state"])
        .arg(state)
        .args(["--commit-interval", "1", "--workers", &workers.to_string()]);
    let mut p = Proc::spawn(c);
    p.wait_for("running with");
    p
}

fn start_recorder(lab: &Lab, file: &Path) -> Proc {
    let mut c = lab.cmd("sw", "tcpdump");
    // Immediate mode: libpcap's own TPACKET_V3 ring would otherwise hold the last frames.
    c.args([
        "-i",
        "mon0",
        "-Q",
        "out",
        "--immediate-mode",
        "-U",
        "-n",
        "-w",
    ])
    .arg(file);
    let mut p = Proc::spawn(c);
    p.wait_for("listening on");
    p
}

fn peer(lab: &Lab, script: &str, port: u16) {
    let path = repo().join("tests/peers").join(format!("{script}_peer.py"));
    let mut server = lab.cmd("plc", "python3");
    server
        .arg(&path)
        .args(["server", &lab.ip("plc"), &port.to_string(), "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut server = server.spawn().unwrap();
    let out = lab
        .cmd("hmi", "timeout")
        .arg("60")
        .arg("python3")
        .arg(&path)
        .args(["client", &lab.ip("plc"), &port.to_string()])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{script} client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sensor_json(args: &[&str]) -> Value {
    let out = Command::new(SENSOR).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "otwatch-sensor {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn inventory(state: &Path) -> Value {
    sensor_json(&[
        "inventory",
        "--state",
        state.to_str().unwrap(),
        "--format",
        "json",
    ])
}

fn analyze(files: &[PathBuf]) -> Value {
    let mut args = vec!["analyze", "--format", "json", "-q"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    sensor_json(&args)
}

/// What must agree between a live run and `analyze`: everything but times, capture
/// statistics and (when `counts` is false) packet, byte and flow counts.
fn normalise(v: &Value, counts: bool) -> Value {
    const TIMES: &[&str] = &[
        "first_seen",
        "last_seen",
        "first_packet",
        "last_packet",
        "ts",
    ];
    const COUNTS: &[&str] = &["packets", "bytes", "flows"];
    match v {
        // Alert ids hash the time an alert began, and a replay squeezes captures recorded
        // years apart into seconds, so repeats fold differently: what must agree is which
        // alerts exist (kind, addresses, asset, protocol, severity).
        Value::Object(m) if m.contains_key("alerts") => {
            let mut out = m.clone();
            out.remove("alerts");
            let Value::Object(mut out) = normalise(&Value::Object(out), counts) else {
                unreachable!()
            };
            let mut alerts: Vec<Value> = m["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let keep = ["kind", "src", "dst", "asset", "protocol", "severity"];
                    Value::Object(
                        keep.iter()
                            .map(|k| (k.to_string(), a[*k].clone()))
                            .collect(),
                    )
                })
                .collect();
            alerts.dedup();
            alerts.sort_by_key(|a| a.to_string());
            alerts.dedup();
            out.insert("alerts".into(), Value::Array(alerts));
            Value::Object(out)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    k.as_str() != "stats"
                        && !TIMES.contains(&k.as_str())
                        && (counts || !COUNTS.contains(&k.as_str()))
                })
                .map(|(k, v)| (k.clone(), normalise(v, counts)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalise(v, counts)).collect()),
        other => other.clone(),
    }
}

fn assert_same(live: &Value, offline: &Value, counts: bool, what: &str) {
    let (a, b) = (normalise(live, counts), normalise(offline, counts));
    if a != b {
        let pa = serde_json::to_string_pretty(&a).unwrap();
        let pb = serde_json::to_string_pretty(&b).unwrap();
        let first = pa
            .lines()
            .zip(pb.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        let ctx = |s: &str| -> String {
            s.lines()
                .skip(first.saturating_sub(15))
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{what}: live inventory differs from analyze at line {first}\n--- live ---\n{}\n--- analyze ---\n{}",
            ctx(&pa),
            ctx(&pb)
        );
    }
}

fn drops(report: &Value) -> u64 {
    report["stats"]["sources"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|x| {
                    x["kernel_drops"].as_u64().unwrap_or(0)
                        + x["rx_ring_full"].as_u64().unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Peers through the mirrored bridge: the live inventory equals `analyze` of tcpdump's
/// recording of the same mirror port, counts included.
fn mirrored_peers(mode: &str, net: u8, workers: u32) {
    let lab = Lab::new(net);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let pcap = dir.path().join("mirror.pcap");
    let rec = start_recorder(&lab, &pcap);
    let mut sensor = start_sensor(&lab, mode, &state, workers);
    peer(&lab, "modbus", 5020);
    peer(&lab, "s7", 102);
    peer(&lab, "iec104", 2404);
    std::thread::sleep(Duration::from_millis(500));
    // Readable while running (the store is locked: the last commit's snapshot).
    std::thread::sleep(Duration::from_millis(1500));
    let running = inventory(&state);
    assert!(
        running["assets"].as_array().is_some_and(|a| a.len() >= 2),
        "inventory while running: {running}"
    );
    let mut rec = rec;
    rec.signal("-INT");
    let st = sensor.signal("-TERM");
    assert!(st.success(), "sensor: {st}\n{}", sensor.log.join("\n"));
    let live = inventory(&state);
    let offline = analyze(&[pcap]);
    assert_eq!(drops(&live), 0, "{}", live["stats"]);
    assert_same(&live, &offline, true, mode);
    // The peers are recognised, not just counted.
    let conns = live["connections"].as_array().unwrap();
    for p in ["modbus", "s7comm", "iec104"] {
        assert!(
            conns.iter().any(|c| c["protocol"] == p
                && c["server"] == lab.ip("plc").as_str()
                && !c["operations"].as_array().unwrap().is_empty()),
            "{p} in {conns:?}"
        );
    }
    let logged = sensor.log.join("\n");
    assert!(
        logged.contains(&format!("capturing with {}", mode)),
        "{logged}"
    );
}

#[test]
fn af_packet_sees_mirrored_peers_like_tcpdump() {
    require!(&["ip", "tcpdump", "tc"], &["pymodbus", "snap7", "c104"]);
    mirrored_peers("af_packet", 1, 1);
}

#[test]
fn af_xdp_sees_mirrored_peers_like_tcpdump() {
    require!(&["ip", "tcpdump", "tc"], &["pymodbus", "snap7", "c104"]);
    mirrored_peers("af_xdp", 5, 1);
}

#[test]
fn af_packet_with_two_workers_merges_to_the_same_inventory() {
    require!(&["ip", "tcpdump", "tc"], &["pymodbus", "snap7", "c104"]);
    mirrored_peers("af_packet", 2, 2);
}

/// Bundled captures replayed into the sensor's port give `analyze`'s inventory.
fn replayed(mode: &str, net: u8) {
    let lab = Lab::new(net);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let files: Vec<PathBuf> = [
        "suricata-modbus.pcap",
        "s7comm_reading_plc_status.pcap",
        "enip_cip_example.pcap",
        "zeek-dnp3.pcap",
        "dhcp.pcap",
        "lldp.pcap",
        "snmpv1_get.pcap",
    ]
    .iter()
    .map(|f| repo().join("tests/data").join(f))
    .collect();
    let mut sensor = start_sensor(&lab, mode, &state, 1);
    for f in &files {
        let out = lab
            .cmd("sw", "tcpreplay")
            .args(["-q", "--intf1", "mon0", "--mbps", "20"])
            .arg(f)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let failed = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Failed packets:"))
            .map(str::trim);
        assert!(
            out.status.success() && failed == Some("0"),
            "tcpreplay {}: {text}{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(sensor.signal("-TERM").success());
    let live = inventory(&state);
    assert_eq!(drops(&live), 0);
    // Replayed frames carry new times, so flows split by idle timeouts differ: compare what
    // the inventory says, not the counts.
    assert_same(&live, &analyze(&files), false, mode);
}

#[test]
fn af_packet_replayed_captures_give_the_analyze_inventory() {
    require!(&["ip", "tcpreplay"], &[]);
    replayed("af_packet", 3);
}

#[test]
fn af_xdp_replayed_captures_give_the_analyze_inventory() {
    require!(&["ip", "tcpreplay"], &[]);
    replayed("af_xdp", 6);
}

#[test]
fn af_packet_sigkill_leaves_a_store_that_reopens() {
    require!(&["ip"], &[]);
    sigkill("af_packet", 4);
}

#[test]
fn af_xdp_sigkill_detaches_the_program_and_leaves_a_store_that_reopens() {
    require!(&["ip"], &[]);
    sigkill("af_xdp", 7);
}

fn sigkill(mode: &str, net: u8) {
    let lab = Lab::new(net);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut sensor = start_sensor(&lab, mode, &state, 1);
    assert_eq!(lab.xdp_attached(), mode == "af_xdp");
    let send = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(6):\n s.sendto(b'x'*i,('{}',502)); time.sleep(0.1)",
        lab.ip("plc")
    );
    lab.exec("hmi", &["python3", "-c", &send]);
    std::thread::sleep(Duration::from_millis(2500));
    let st = sensor.signal("-KILL");
    assert!(!st.success());
    assert!(!lab.xdp_attached(), "no program is left on the interface");
    // The last commit is there and the store opens.
    let r = inventory(&state);
    assert!(
        r["stats"]["packets"].as_u64().unwrap() >= 6,
        "{}",
        r["stats"]
    );
    // And a new run continues it.
    let mut sensor = start_sensor(&lab, mode, &state, 1);
    assert!(sensor.signal("-TERM").success());
    let again = inventory(&state);
    assert!(again["stats"]["packets"].as_u64() >= r["stats"]["packets"].as_u64());
}

#[test]
fn auto_falls_back_to_af_packet_and_says_why() {
    require!(&["ip"], &[]);
    let lab = Lab::new(8);
    let dir = tempfile::tempdir().unwrap();
    // The first sensor holds the interface's XDP hook; the second cannot attach its own.
    let mut first = start_sensor(&lab, "af_xdp", &dir.path().join("a"), 1);
    let mut second = start_sensor(&lab, "auto", &dir.path().join("b"), 1);
    assert!(second.signal("-TERM").success());
    assert!(first.signal("-TERM").success());
    let log = second.log.join("\n");
    assert!(
        log.contains("af_xdp cannot run here") && log.contains("falling back to af_packet"),
        "{log}"
    );
    assert!(log.contains("capturing with af_packet"), "{log}");
    assert!(!lab.xdp_attached());
}

#[test]
fn auto_leaves_an_interface_with_host_addresses_to_af_packet() {
    require!(&["ip"], &[]);
    let lab = Lab::new(9);
    lab.exec(
        "sen",
        &["ip", "addr", "add", "10.77.9.99/24", "dev", "mon1"],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut sensor = start_sensor(&lab, "auto", &dir.path().join("s"), 1);
    assert!(
        !lab.xdp_attached(),
        "the host's interface keeps its traffic"
    );
    assert!(sensor.signal("-TERM").success());
    let log = sensor.log.join("\n");
    assert!(
        log.contains("carries this host's addresses (10.77.9.99)")
            && log.contains("capturing with af_packet"),
        "{log}"
    );
}

#[test]
fn run_without_privileges_names_the_capabilities() {
    require!(&["ip"], &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // The test binary must be reachable by an unprivileged user.
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                SENSOR,
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let probe = as_nobody(&["--version"]);
    if !probe.status.success() {
        skip::skip(
            &format!(
                "the sensor binary is not executable by nobody here: {}",
                String::from_utf8_lossy(&probe.stderr)
            ),
            skip::Need::Layout,
        );
        return;
    }
    let state = dir.path().join("state");
    for mode in ["af_packet", "af_xdp", "auto"] {
        let out = as_nobody(&[
            "run",
            "-i",
            "lo",
            "--capture",
            mode,
            "--state",
            state.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mode}: {err}");
        assert!(err.contains("CAP_NET_RAW"), "{mode}: {err}");
        assert!(err.contains("analyze"), "{mode}: {err}");
    }
    // analyze needs nothing special.
    let file = dir.path().join("m.pcap");
    std::fs::copy(repo().join("tests/data/suricata-modbus.pcap"), &file).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = as_nobody(&["analyze", "-q", "--format", "json", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A trunk port: Linux takes the 802.1Q tag out of every received frame (`skb_vlan_untag`
/// before any packet socket sees it, whatever the NIC's offloads) and AF_PACKET reports it
/// beside the frame. The sensor must put the VLAN back, or every VLAN of a trunk merges into
/// one. Tagged frames are written raw into one end of a veth pair (no 8021q module needed); the
/// sensor captures at the other end.
#[test]
fn af_packet_keeps_the_vlan_the_kernel_took_out_of_the_frame() {
    require!(&["ip"], &[]);
    tagged_frames("af_packet");
}

/// AF_XDP sees frames before the stack: a tag still in the frame (as on veth, or a NIC with
/// VLAN offload off) is decoded from the bytes.
#[test]
fn af_xdp_keeps_the_vlan_of_tagged_frames() {
    require!(&["ip"], &[]);
    tagged_frames("af_xdp");
}

/// Namespaces "a" and "b" of this test process (IPv6 off), deleted on drop.
struct TwoNamespaces(String);

impl TwoNamespaces {
    fn new(kind: &str) -> TwoNamespaces {
        let lab = TwoNamespaces(format!("{}{kind}", std::process::id() % 10_000));
        for n in ["a", "b"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &lab.name(n)])
                .status();
            sh(&["ip", "netns", "add", &lab.name(n)]);
            lab.exec(n, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        }
        lab
    }

    fn name(&self, n: &str) -> String {
        format!("otw{n}{}", self.0)
    }

    fn exec(&self, n: &str, args: &[&str]) {
        let name = self.name(n);
        let mut full = vec!["ip", "netns", "exec", name.as_str()];
        full.extend_from_slice(args);
        sh(&full);
    }

    /// A veth pair named `ifname` at both ends, from "a" to "b", up.
    fn veth(&self, ifname: &str) {
        let (a, b) = (self.name("a"), self.name("b"));
        sh(&[
            "ip", "link", "add", ifname, "netns", &a, "type", "veth", "peer", "name", ifname,
            "netns", &b,
        ]);
        for n in ["a", "b"] {
            self.exec(n, &["ip", "link", "set", ifname, "up"]);
        }
    }
}

impl Drop for TwoNamespaces {
    fn drop(&mut self) {
        for n in ["a", "b"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name(n)])
                .status();
        }
    }
}

fn tagged_frames(mode: &str) {
    let lab = TwoNamespaces::new("v");
    // Joined by one veth pair and nothing else: nothing can leave the machine.
    lab.veth("eth0");
    let (ns, exec) = (
        |n: &str| lab.name(n),
        |n: &str, args: &[&str]| lab.exec(n, args),
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut c = Command::new("ip");
    c.args([
        "netns",
        "exec",
        &ns("b"),
        SENSOR,
        "run",
        "--interface",
        "eth0",
    ])
    .args(["--capture", mode, "--state"])
    .arg(&state)
    .args(["--commit-interval", "1"]);
    let mut sensor = Proc::spawn(c);
    sensor.wait_for("running with");
    // UDP datagrams both ways between 10.78.10.1 and 10.78.10.2 on VLAN 10, in 802.1Q frames.
    let send = r#"
import socket, struct, time
def csum(b):
    s = sum(struct.unpack('!10H', b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
def frame(src, dst, smac, dmac):
    payload = b'otwatch'
    udp = struct.pack('!HHHH', 40000, 9999, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return dmac + smac + struct.pack('!HH', 0x8100, 10) + b'\x08\x00' + ip + udp
m1, m2 = bytes.fromhex('020000780a01'), bytes.fromhex('020000780a02')
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
for _ in range(5):
    s.send(frame('10.78.10.1', '10.78.10.2', m1, m2))
    s.send(frame('10.78.10.2', '10.78.10.1', m2, m1))
    time.sleep(0.05)
"#;
    exec("a", &["python3", "-c", send]);
    std::thread::sleep(Duration::from_millis(500));
    let st = sensor.signal("-TERM");
    assert!(st.success(), "sensor: {st}\n{}", sensor.log.join("\n"));
    let inv = inventory(&state);
    let assets = inv["assets"].as_array().unwrap();
    for ip in ["10.78.10.1", "10.78.10.2"] {
        let a = assets
            .iter()
            .find(|a| a["ips"].as_array().unwrap().iter().any(|x| x == ip))
            .unwrap_or_else(|| panic!("no asset with {ip} in {inv}"));
        assert_eq!(a["vlans"], serde_json::json!([10]), "{a}");
    }
    let conns = inv["connections"].as_array().unwrap();
    assert!(
        !conns.is_empty() && conns.iter().all(|c| c["vlan"] == 10),
        "{conns:?}"
    );
}

/// Two mirror ports of two cells that reuse one address range: with the interfaces on capture
/// segments of their own (`[capture.segments]`), the same addresses are two devices each, and
/// every connection carries its segment.
#[test]
fn capture_segments_keep_two_mirror_ports_apart() {
    require!(&["ip"], &[]);
    let lab = TwoNamespaces::new("s");
    // Two veth pairs between them and nothing else: nothing can leave the machine.
    lab.veth("eth0");
    lab.veth("eth1");
    let (ns, exec) = (
        |n: &str| lab.name(n),
        |n: &str, args: &[&str]| lab.exec(n, args),
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("sensor.toml");
    std::fs::write(&config, "[capture.segments]\neth0 = 1\neth1 = 2\n").unwrap();
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns("b"), SENSOR, "run", "--config"])
        .arg(&config)
        .args(["--interface", "eth0", "--interface", "eth1"])
        .args(["--capture", "af_packet", "--state"])
        .arg(&state)
        .args(["--commit-interval", "1"]);
    let mut sensor = Proc::spawn(c);
    sensor.wait_for("running with");
    // The same UDP exchange between 10.78.20.1 and 10.78.20.2 on both ports, each cell with its
    // own MACs (fifth byte: the port).
    let send = r#"
import socket, struct, time
def csum(b):
    s = sum(struct.unpack('!10H', b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
def frame(src, dst, smac, dmac):
    payload = b'otwatch'
    udp = struct.pack('!HHHH', 40000, 9999, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return dmac + smac + b'\x08\x00' + ip + udp
for port in (0, 1):
    m1, m2 = bytes.fromhex('02000078%02x01' % port), bytes.fromhex('02000078%02x02' % port)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(('eth%d' % port, 0))
    for _ in range(5):
        s.send(frame('10.78.20.1', '10.78.20.2', m1, m2))
        s.send(frame('10.78.20.2', '10.78.20.1', m2, m1))
        time.sleep(0.05)
"#;
    exec("a", &["python3", "-c", send]);
    std::thread::sleep(Duration::from_millis(500));
    let st = sensor.signal("-TERM");
    assert!(st.success(), "sensor: {st}\n{}", sensor.log.join("\n"));
    let inv = inventory(&state);
    let assets = inv["assets"].as_array().unwrap();
    let mut seen: Vec<(String, String)> = assets
        .iter()
        .filter(|a| a["ips"].as_array().is_some_and(|ips| !ips.is_empty()))
        .map(|a| (a["ips"].to_string(), a["segments"].to_string()))
        .collect();
    seen.sort();
    let want = |ip: &str, seg: u8| (format!("[\"{ip}\"]"), format!("[{seg}]"));
    assert_eq!(
        seen,
        [
            want("10.78.20.1", 1),
            want("10.78.20.1", 2),
            want("10.78.20.2", 1),
            want("10.78.20.2", 2)
        ],
        "{inv}"
    );
    let mut segs: Vec<u64> = inv["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["segment"].as_u64().unwrap_or(0))
        .collect();
    segs.sort();
    // Each side sends to the other port 9999: two connections per segment.
    assert_eq!(segs, [1, 1, 2, 2], "{inv}");
}
