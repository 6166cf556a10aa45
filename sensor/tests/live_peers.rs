#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Live traffic from independent implementations: real protocol peers (pymodbus, python-snap7, c104,
//! asyncua, libiec61850, pyads, pymcprotocol against virtual-plc, pyPMU) run in two network namespaces joined by a veth pair, tcpdump records what crosses it,
//! and `analyze` of that capture must report the right roles, identity and operations.
//!
//! Needs root (namespaces, tcpdump), iproute2, tcpdump and the Python packages in
//! tests/peers/requirements.txt; `.ci/run` installs them. Without them each test says why it skips.

#[path = "../../tests/skip.rs"]
mod skip;

use otwatch_common::model::{Asset, Connection, InventoryReport};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why this machine cannot run a live test, if it cannot.
fn missing(module: &str) -> Option<String> {
    if !is_root() {
        return Some("needs root for network namespaces and tcpdump".into());
    }
    if !ok(Command::new("tcpdump").arg("--version")) {
        return Some("tcpdump is not installed (apt-get install tcpdump)".into());
    }
    if !ok(Command::new("ip").args(["-V"])) {
        return Some("iproute2 is not installed".into());
    }
    if !ok(Command::new("python3").args(["-c", &format!("import {module}")])) {
        return Some(format!(
            "python module {module} is missing (pip install -r tests/peers/requirements.txt)"
        ));
    }
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Two hosts: this namespace (10.213.N.1 on the host end) and a fresh namespace (10.213.N.2).
struct TestNet {
    ns: String,
    host_if: String,
    n: u8,
}

impl TestNet {
    fn new(n: u8) -> TestNet {
        let tag = std::process::id() % 100_000;
        let net = TestNet {
            ns: format!("otw{n}-{tag}"),
            host_if: format!("otwh{n}-{tag}"),
            n,
        };
        let peer_if = format!("otwp{n}-{tag}");
        let run = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().expect("run ip");
            assert!(st.success(), "ip {args:?} failed");
        };
        let _ = Command::new("ip").args(["netns", "del", &net.ns]).status();
        // Should a veth go away mid-test, the test subnet falls into this blackhole instead of
        // the default route: only these namespaces are ever a destination. The /24 of each
        // pair is more specific, so it wins while the pair is up.
        run(&["route", "replace", "blackhole", "10.213.0.0/16"]);
        run(&["netns", "add", &net.ns]);
        run(&[
            "link",
            "add",
            &net.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ]);
        run(&["link", "set", &peer_if, "netns", &net.ns]);
        run(&[
            "addr",
            "add",
            &format!("{}/24", net.host_ip()),
            "dev",
            &net.host_if,
        ]);
        run(&["link", "set", &net.host_if, "up"]);
        let inns = |args: &[&str]| {
            let mut full = vec!["netns", "exec", &net.ns, "ip"];
            full.extend_from_slice(args);
            run(&full);
        };
        inns(&[
            "addr",
            "add",
            &format!("{}/24", net.peer_ip()),
            "dev",
            &peer_if,
        ]);
        inns(&["link", "set", &peer_if, "up"]);
        inns(&["link", "set", "lo", "up"]);
        net
    }

    fn host_ip(&self) -> String {
        format!("10.213.{}.1", self.n)
    }

    fn peer_ip(&self) -> String {
        format!("10.213.{}.2", self.n)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
    }
}

/// tcpdump on the host end of the veth pair; stops (and flushes) on drop.
struct Recorder {
    child: Child,
}

impl Recorder {
    fn start(iface: &str, port: u16, file: &Path) -> Recorder {
        let mut child = Command::new("tcpdump")
            // Immediate mode: without it libpcap's TPACKET_V3 ring hands packets over only when a
            // block fills or its timeout passes, and a stop in between loses them.
            .args(["-i", iface, "--immediate-mode", "-U", "-n", "-w"])
            .arg(file)
            .arg(format!("tcp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tcpdump");
        // tcpdump says "listening on ..." once the capture is armed.
        let stderr = child.stderr.take().expect("tcpdump stderr");
        let mut line = String::new();
        let mut reader = BufReader::new(stderr);
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("listening on") {
                break;
            }
            line.clear();
        }
        std::thread::spawn(move || for _ in reader.lines() {});
        Recorder { child }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs `<peer>_peer.py` as server in the namespace and as client here, recording the traffic,
/// then analyses the recording.
fn live(n: u8, peer: &str, port: u16) -> InventoryReport {
    let net = TestNet::new(n);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join(format!("{peer}.pcap"));
    let script = peers_dir().join(format!("{peer}_peer.py"));
    let rec = Recorder::start(&net.host_if, port, &pcap);
    let mut server = Command::new("ip")
        .args(["netns", "exec", &net.ns, "python3"])
        .arg(&script)
        .args(["server", &net.peer_ip(), &port.to_string(), "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start peer server");
    let client = Command::new("timeout")
        .arg("60")
        .arg("python3")
        .arg(&script)
        .args(["client", &net.peer_ip(), &port.to_string()])
        .output()
        .expect("run peer client");
    // Let the last packets (FIN, ACK) reach the recorder.
    std::thread::sleep(Duration::from_millis(500));
    let _ = server.kill();
    let _ = server.wait();
    rec.stop();
    assert!(
        client.status.success(),
        "{peer} client failed: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    let out = analyze(&AnalyzeOptions {
        inputs: vec![pcap],
        state: None,
        progress: false,
        ..Default::default()
    })
    .unwrap();
    assert!(out.capture_errors.is_empty(), "{:?}", out.capture_errors);
    out.report
}

fn connection<'a>(r: &'a InventoryReport, protocol: &str) -> &'a Connection {
    r.connections
        .iter()
        .find(|c| c.protocol == protocol)
        .unwrap_or_else(|| panic!("no {protocol} connection in {:#?}", r.connections))
}

fn asset<'a>(r: &'a InventoryReport, ip: &str) -> &'a Asset {
    r.assets
        .iter()
        .find(|a| a.ips.iter().any(|i| i == ip))
        .unwrap_or_else(|| panic!("no asset {ip}"))
}

fn has_ops(c: &Connection, ops: &[&str]) {
    for op in ops {
        assert!(
            c.operations.iter().any(|o| o == op),
            "{op} missing in {:?}",
            c.operations
        );
    }
}

macro_rules! require {
    ($module:expr) => {
        if let Some(why) = missing($module) {
            skip::skip(&why, skip::Need::InCi);
            return;
        }
    };
}

#[test]
fn modbus_from_pymodbus_on_a_non_standard_port() {
    require!("pymodbus");
    let r = live(1, "modbus", 5020);
    let c = connection(&r, "modbus");
    assert_eq!(
        (c.client.as_str(), c.server.as_str(), c.port),
        ("10.213.1.1", "10.213.1.2", 5020)
    );
    has_ops(c, &["read", "write", "identify"]);
    for fc in ["1", "3", "4", "6", "16", "43"] {
        assert!(
            c.function_codes.iter().any(|f| f == fc),
            "fc {fc} in {:?}",
            c.function_codes
        );
    }
    // tests/peers/modbus_peer.py, unit 1: holding 0-9 and input 10-14 read, coils 0-15 read,
    // register 5 written alone and 20-22 together.
    let accessed: Vec<String> = c
        .accessed
        .iter()
        .map(|a| format!("{:?} {} {} {}", a.unit, a.area, a.op, a.ranges))
        .collect();
    assert_eq!(
        accessed,
        [
            "Some(1) coils read 0-15",
            "Some(1) holding_registers read 0-9",
            "Some(1) holding_registers write 5,20-22",
            "Some(1) input_registers read 10-14",
        ],
    );
    let plc = asset(&r, "10.213.1.2");
    assert_eq!(plc.vendor, "OtwatchTest");
    assert_eq!(plc.firmware, "2.7.1");
    assert_eq!(plc.device_type, "plc");
    assert_eq!(plc.purdue_level, Some(1));
    assert!(plc
        .protocols
        .iter()
        .any(|p| p.name == "modbus" && p.role == "server" && p.port == 5020));
    let hmi = asset(&r, "10.213.1.1");
    assert!(hmi
        .protocols
        .iter()
        .any(|p| p.name == "modbus" && p.role == "client"));
    assert_eq!(hmi.device_type, "hmi");
}

#[test]
fn iec104_from_c104_with_commands_and_clock_sync() {
    require!("c104");
    let r = live(3, "iec104", 2404);
    let c = connection(&r, "iec104");
    assert_eq!(c.server, "10.213.3.2");
    has_ops(c, &["read", "control", "time_sync"]);
    for type_id in ["45", "100", "103"] {
        assert!(
            c.function_codes.iter().any(|f| f == type_id),
            "{type_id} in {:?}",
            c.function_codes
        );
    }
    assert_eq!(asset(&r, "10.213.3.2").device_type, "rtu");
}
#[test]
fn s7comm_from_snap7_with_szl_and_cpu_control() {
    require!("snap7");
    let r = live(2, "s7", 102);
    let c = connection(&r, "s7comm");
    assert_eq!(
        (c.client.as_str(), c.server.as_str()),
        ("10.213.2.1", "10.213.2.2")
    );
    has_ops(c, &["read", "write", "identify", "cpu_stop", "cpu_start"]);
    let plc = asset(&r, "10.213.2.2");
    assert_eq!(plc.device_type, "plc");
    assert!(!plc.model.is_empty(), "SZL 0x0011 gives the order number");
    assert_eq!(
        asset(&r, "10.213.2.1").device_type,
        "engineering_workstation"
    );
}
#[test]
fn ads_from_pyads_with_device_info_and_write_control() {
    require!("pyads");
    let r = live(5, "ads", 48898);
    let c = connection(&r, "ads");
    assert_eq!(
        (c.client.as_str(), c.server.as_str(), c.port),
        ("10.213.5.1", "10.213.5.2", 48898)
    );
    has_ops(
        c,
        &[
            "identify",
            "diagnostics",
            "read",
            "write",
            "cpu_stop",
            "cpu_start",
        ],
    );
    let plc = asset(&r, "10.213.5.2");
    assert_eq!(
        (
            plc.device_type.as_str(),
            plc.model.as_str(),
            plc.firmware.as_str()
        ),
        ("plc", "TestServer", "1.2.3")
    );
    assert!(plc
        .evidence
        .iter()
        .any(|e| e.value == "AMS Net ID 10.213.5.2.1.1"));
    assert_eq!(
        asset(&r, "10.213.5.1").device_type,
        "engineering_workstation"
    );
    let mut kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["plc_start", "plc_stop"]);
}

#[test]
fn slmp_from_pymcprotocol_against_virtual_plc() {
    require!("pymcprotocol");
    require!("virtual_plc");
    let r = live(6, "slmp", 5007);
    let c = connection(&r, "slmp");
    assert_eq!(
        (c.client.as_str(), c.server.as_str(), c.port),
        ("10.213.6.1", "10.213.6.2", 5007)
    );
    has_ops(
        c,
        &[
            "identify",
            "read",
            "write",
            "cpu_stop",
            "cpu_start",
            "restart",
        ],
    );
    let plc = asset(&r, "10.213.6.2");
    assert_eq!(
        (
            plc.device_type.as_str(),
            plc.vendor.as_str(),
            plc.model.as_str()
        ),
        ("plc", "Mitsubishi Electric", "VirtualPLC-Q")
    );
    assert_eq!(
        asset(&r, "10.213.6.1").device_type,
        "engineering_workstation"
    );
}

#[test]
fn mms_from_libiec61850_with_identify_control_and_files() {
    require!("pyiec61850.pyiec61850");
    let r = live(7, "iec61850", 102);
    let c = connection(&r, "mms");
    assert_eq!(
        (c.client.as_str(), c.server.as_str()),
        ("10.213.7.1", "10.213.7.2")
    );
    // Identify, GetNameList and reads, the CF write, the Oper write of SPCSO1 and the file
    // service (fileDirectory, fileOpen/fileRead/fileClose).
    has_ops(
        c,
        &[
            "identify",
            "read",
            "config_change",
            "control",
            "file_transfer",
        ],
    );
    let ied = asset(&r, "10.213.7.2");
    assert_eq!(ied.device_type, "ied");
    assert_eq!(
        (
            ied.vendor.as_str(),
            ied.model.as_str(),
            ied.firmware.as_str()
        ),
        ("otwatch-test", "TESTIED", "1.2.3")
    );
    assert_eq!(
        ied.hostname, "otwIEDCTRL",
        "the logical device names the IED"
    );
    assert!(r.stats().protocol_violations.is_empty());
}

#[test]
fn opcua_from_asyncua_without_security() {
    require!("asyncua");
    let r = live(4, "opcua", 4840);
    let c = connection(&r, "opcua");
    assert_eq!(c.server, "10.213.4.2");
    // The method is named "Reset": a device restart by its name.
    has_ops(c, &["read", "write", "restart"]);
    let server = asset(&r, "10.213.4.2");
    assert_eq!(server.device_type, "opc_server");
    assert!(
        server.evidence.iter().any(|e| e.value.contains("None")),
        "security policy None is recorded"
    );
    assert!(
        server
            .evidence
            .iter()
            .any(|e| e.value == "opcua security mode None"
                && e.source == "opcua open secure channel"),
        "security mode None is recorded"
    );
    let client = asset(&r, "10.213.4.1");
    assert!(client
        .evidence
        .iter()
        .any(|e| e.value.contains("otwatch-test-client")));
}

#[test]
fn c37_118_from_pypmu_over_tcp() {
    require!("synchrophasor");
    let r = live(18, "c37_118", 4712);
    let c = connection(&r, "c37_118");
    assert_eq!(
        (c.client.as_str(), c.server.as_str()),
        ("10.213.18.1", "10.213.18.2")
    );
    // tests/peers/c37_118_peer.py: send HDR (3), send CFG-2 (5), turn on (2), turn off (1).
    has_ops(c, &["identify", "control"]);
    for cmd in ["1", "2", "3", "5"] {
        assert!(
            c.function_codes.iter().any(|f| f == cmd),
            "{cmd} in {:?}",
            c.function_codes
        );
    }
    // pyPMU's sample configuration and header frame.
    let pmu = asset(&r, "10.213.18.2");
    assert_eq!(pmu.hostname, "Station A");
    assert_eq!(pmu.device_type, "ied");
    let described = |v: &str| {
        pmu.evidence
            .iter()
            .any(|e| e.field == "description" && e.value == v)
    };
    assert!(described(
        "C37.118 PMU ID 7734: 4 phasors, 3 analog values, 1 digital status word, 60 Hz, 30 frames/s"
    ));
    assert!(described("Hi! I am tinyPMU!"));
    assert_eq!(asset(&r, "10.213.18.1").device_type, "pdc");
    assert!(r.stats().protocol_violations.is_empty());
}
