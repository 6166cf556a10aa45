#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Detection from the command line, as a new user tries it: a PLC stop in the table and the
//! JSON, learning and checking a policy, and files with mistakes refused with file and line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn attack(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/attacks")
        .join(name)
}

fn sensor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"))
        .args(args)
        .output()
        .expect("run otwatch-sensor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_plc_stop_is_in_the_table_and_the_json() {
    let pcap = attack("s7_stop.pcap");
    let o = sensor(&["analyze", "-q", pcap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let t = text(&o.stdout);
    assert!(t.contains("ALERTS (1: 1 critical)"), "{t}");
    let row = t
        .lines()
        .find(|l| l.contains("plc_stop"))
        .expect("a plc_stop row");
    assert!(
        row.contains("CRITICAL") && row.contains("10.77.1.10 -> 10.77.1.20"),
        "{row}"
    );
    let o = sensor(&["analyze", "-q", "--format", "json", pcap.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a = &v["alerts"][0];
    assert_eq!(a["kind"], "plc_stop");
    assert_eq!(a["severity"], "critical");
    for field in [
        "id",
        "title",
        "description",
        "mitre",
        "src",
        "dst",
        "asset",
        "protocol",
        "first_seen",
        "last_seen",
        "count",
        "evidence",
    ] {
        assert!(!a[field].is_null(), "{field} missing in {a}");
    }
    // Inventory only.
    let o = sensor(&["analyze", "-q", "--no-detect", pcap.to_str().unwrap()]);
    assert!(text(&o.stdout).contains("ALERTS: none"));
}

#[test]
fn learn_check_and_protect_with_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("site.toml");
    let benign = attack("modbus_benign.pcap");
    let o = sensor(&[
        "policy",
        "learn",
        "-q",
        "--site",
        "plant-a",
        "--out",
        policy.to_str().unwrap(),
        benign.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("learned"), "{}", text(&o.stderr));
    let written = std::fs::read_to_string(&policy).unwrap();
    assert!(written.contains("site = \"plant-a\""));
    assert!(written.contains("[[conversation]]"));
    let o = sensor(&["policy", "check", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(": ok, "));
    let writer = attack("modbus_new_writer.pcap");
    let o = sensor(&[
        "analyze",
        "-q",
        "--policy",
        policy.to_str().unwrap(),
        writer.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("unauthorized_write"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn mistakes_in_detection_files_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = attack("s7_stop.pcap");
    let state = dir.path().join("state");
    let bad_policy = dir.path().join("policy.toml");
    std::fs::write(
        &bad_policy,
        "version = 1\n\n[[conversation]]\nclient = \"10.0.0.1\"\nserver = \"10.0.0.300\"\ntransport = \"tcp\"\n",
    )
    .unwrap();
    let bad_rules = dir.path().join("rules");
    std::fs::create_dir(&bad_rules).unwrap();
    std::fs::write(
        bad_rules.join("a.toml"),
        "[[rule]]\nname = \"x\"\nseverity = \"severe\"\ntitle = \"t\"\n",
    )
    .unwrap();
    let bad_ioc = dir.path().join("iocs.csv");
    std::fs::write(&bad_ioc, "203.0.113.5\nthis is not an indicator\n").unwrap();
    let cases: [(&str, &Path, String); 3] = [
        (
            "--policy",
            &bad_policy,
            format!("{}:5:", bad_policy.display()),
        ),
        (
            "--rules",
            &bad_rules,
            format!("{}:3:", bad_rules.join("a.toml").display()),
        ),
        ("--ioc", &bad_ioc, format!("{}:2:", bad_ioc.display())),
    ];
    for (flag, file, want) in cases {
        let o = sensor(&[
            "analyze",
            "--state",
            state.to_str().unwrap(),
            flag,
            file.to_str().unwrap(),
            pcap.to_str().unwrap(),
        ]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{flag}: {err}");
        assert!(err.contains(&want), "{flag}: want {want:?} in {err}");
        assert!(o.stdout.is_empty(), "{flag}: nothing is printed");
        assert!(!state.exists(), "{flag}: nothing else starts");
    }
    // The check commands say the same.
    let o = sensor(&["policy", "check", bad_policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is not an IP address"),
        "{}",
        text(&o.stderr)
    );
    let o = sensor(&["rules", "check", bad_rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown severity"));
    let o = sensor(&["ioc", "check", bad_ioc.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    // `run` refuses them before it opens anything either.
    let o = sensor(&[
        "run",
        "--state",
        state.to_str().unwrap(),
        "--rules",
        bad_rules.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("unknown severity"));
    assert!(!state.exists());
}

#[test]
fn run_reloads_rules_on_sighup_and_keeps_them_when_a_file_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let rule = |name: &str, op: &str| {
        format!("[[rule]]\nname = \"{name}\"\nseverity = \"high\"\ntitle = \"t\"\nprotocol = [\"modbus\"]\noperation = [\"{op}\"]\n")
    };
    std::fs::write(rules.join("a.toml"), rule("before", "program_download")).unwrap();
    let state = dir.path().join("state");
    let pcap = attack("modbus_benign.pcap");
    // 60 s of capture at 10x: about 6 s of replay.
    let child = Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"))
        .args(["run", "--commit-interval", "1", "--speed", "10x", "--state"])
        .arg(&state)
        .arg("--rules")
        .arg(&rules)
        .arg("--pcap")
        .arg(&pcap)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let hup = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // A bad file first: refused, the loaded rules stay.
    std::fs::write(rules.join("b.toml"), "[[rule]]\nname = \"x\"\n").unwrap();
    hup(child.id());
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::remove_file(rules.join("b.toml")).unwrap();
    std::fs::write(rules.join("a.toml"), rule("after", "write")).unwrap();
    hup(child.id());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("cannot reload the detection files"), "{err}");
    assert!(err.contains("b.toml:"), "the bad file is named: {err}");
    assert!(err.contains("reloaded the detection files"), "{err}");
    let o = sensor(&[
        "inventory",
        "--format",
        "json",
        "--state",
        state.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"rule:after"), "{kinds:?}");
    assert!(!kinds.contains(&"rule:before"));
}
