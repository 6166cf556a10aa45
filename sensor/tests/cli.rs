#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `otwatch-sensor analyze` as a user runs it: determinism, continuing a stored inventory, and
//! damaged input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

fn sensor(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"))
        .args(args)
        .output()
        .expect("run otwatch-sensor")
}

fn analyze_json(extra: &[&std::ffi::OsStr], files: &[PathBuf]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["analyze".as_ref(), "--format".as_ref(), "json".as_ref()];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(|f| f.as_os_str()));
    sensor(&args)
}

#[test]
fn same_input_gives_byte_identical_json() {
    let files = [data("mb2.pcap"), data("wikipedia.pcap")];
    let a = analyze_json(&[], &files);
    let b = analyze_json(&[], &files);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["schema"], "otwatch.inventory.v1");
    assert!(v["stats"]["packets"].as_u64().unwrap() > 13_000);
    assert!(!v["assets"].as_array().unwrap().is_empty());
    assert!(!v["connections"].as_array().unwrap().is_empty());
}

#[test]
fn state_continues_an_inventory_like_one_run_over_both_files() {
    let (a, b) = (data("wikipedia.pcap"), data("dhcp.pcap"));
    let dir = tempfile::tempdir().unwrap();
    let state: [&std::ffi::OsStr; 2] = ["--state".as_ref(), dir.path().as_os_str()];
    let first = analyze_json(&state, std::slice::from_ref(&a));
    assert!(first.status.success());
    let second = analyze_json(&state, std::slice::from_ref(&b));
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let both = analyze_json(&[], &[a, b]);
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&both.stdout)
    );
}

#[test]
fn truncated_capture_is_analysed_up_to_the_damage_then_reported() {
    let bytes = std::fs::read(data("wikipedia.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 50]).unwrap();
    let out = analyze_json(&[], &[cut]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("truncated at byte offset"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["packets"].as_u64(), Some(135));
}

#[test]
fn not_a_capture_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, b"these are not packets\n").unwrap();
    let out = analyze_json(&[], &[junk]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a pcap or pcapng"), "{stderr}");

    // A file that cannot be read at all is an error of the command (nothing is analysed).
    let missing = sensor(&["analyze".as_ref(), "/nonexistent/x.pcap".as_ref()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/x.pcap"));
}

#[test]
fn table_summarises_assets_talkers_and_protocols() {
    let out = sensor(&["analyze".as_ref(), data("mb2.pcap").as_os_str()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for heading in ["otwatch inventory:", "TOP TALKERS", "PROTOCOL MIX"] {
        assert!(text.contains(heading), "missing {heading} in\n{text}");
    }
}

#[test]
fn inventory_prints_what_the_state_holds() {
    let dir = tempfile::tempdir().unwrap();
    let state: [&std::ffi::OsStr; 2] = ["--state".as_ref(), dir.path().as_os_str()];
    let analysed = analyze_json(&state, &[data("dhcp.pcap")]);
    assert!(analysed.status.success());
    let shown = sensor(&[
        "inventory".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--state".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        String::from_utf8_lossy(&analysed.stdout)
    );
    let empty = tempfile::tempdir().unwrap();
    let none = sensor(&[
        "inventory".as_ref(),
        "--state".as_ref(),
        empty.path().as_os_str(),
    ]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no sensor state"));
}

#[test]
fn run_without_an_interface_says_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = sensor(&["run".as_ref(), "--state".as_ref(), dir.path().as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interface"));
}
