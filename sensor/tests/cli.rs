#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `otwatch-sensor` as a user runs it: analyze's determinism, continuing a stored inventory,
//! damaged input; the command line (usage errors, `--format` before or after the command, the
//! renamed flags), completion scripts and man pages.

#[path = "../../tests/roff.rs"]
mod roff;
#[path = "../../tests/skip.rs"]
mod skip;

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

/// Each kind of input that is not a capture at all, given alone or after a good file: exit 1,
/// nothing analysed or stored, and stderr says what is wrong and what to do.
#[test]
fn a_file_that_is_not_a_capture_exits_1_and_nothing_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"these are not packets\n").unwrap();
    let captures = dir.path().join("captures");
    std::fs::create_dir(&captures).unwrap();
    let state = dir.path().join("state");
    let cases = [
        (
            dir.path().join("missing.pcap"),
            "no such file; check the path",
        ),
        (captures, "is a directory; pass the capture files in it"),
        (empty, "is empty: it holds no capture"),
        (
            notes,
            "is not a pcap or pcapng capture (first bytes 74 68 65 73",
        ),
    ];
    for (input, says) in cases {
        for files in [vec![input.clone()], vec![data("dhcp.pcap"), input.clone()]] {
            let out = analyze_json(&["--state".as_ref(), state.as_os_str()], &files);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{files:?}: {stderr}");
            assert!(stderr.contains(says), "{files:?}: {stderr}");
            assert!(
                stderr.contains("nothing was done: correct or leave out that file"),
                "{stderr}"
            );
            assert!(out.stdout.is_empty(), "{files:?}: no report");
            assert!(!state.exists(), "{files:?}: nothing stored");
        }
    }
}

/// A record whose length is absurd, in the middle of a capture: the packets before it are
/// analysed, the files after it too, and the status says the input was damaged (2).
#[test]
fn a_corrupt_record_in_the_middle_is_reported_and_the_rest_analysed() {
    let mut bytes = std::fs::read(data("wikipedia.pcap")).unwrap();
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a little-endian pcap");
    // Walk to the 40th record and make it claim 200 MB.
    let mut at = 24;
    for _ in 0..40 {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + len;
    }
    bytes[at + 8..at + 12].copy_from_slice(&200_000_000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, &bytes).unwrap();

    let out = analyze_json(&[], &[bad.clone(), data("dhcp.pcap")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("bad.pcap is corrupt at byte offset {at}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("the packets before it were analysed"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dhcp = analyze_json(&[], &[data("dhcp.pcap")]);
    let dhcp: serde_json::Value = serde_json::from_slice(&dhcp.stdout).unwrap();
    assert_eq!(
        v["stats"]["packets"].as_u64(),
        Some(40 + dhcp["stats"]["packets"].as_u64().unwrap()),
        "the 40 records before the damage and every packet of the next file"
    );
}

/// Usage errors are "nothing done" (1), as the other refusals, not clap's own 2 (which would
/// read as damaged input); `--help` and `--version` are answers (0).
#[test]
fn bad_arguments_exit_1_with_the_usage_and_help_exits_0() {
    for args in [
        &["analyze", "--no-such-flag", "x.pcap"][..],
        &["analyze"],
        &["analyze", "--format", "xml", "x.pcap"],
        &["no-such-command"],
        &[],
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        let out = sensor(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        // Without any argument clap shows the help instead of an error line.
        assert!(
            args.is_empty() || stderr.starts_with("error: "),
            "{args:?}: {stderr}"
        );
        // clap shows the usage, or for a bad value the values it takes and where to look.
        assert!(
            stderr.contains("Usage: otwatch-sensor") || stderr.contains("try '--help'"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    for cmd in [&["--help"][..], &["analyze", "--help"], &["-h"]] {
        let args: Vec<&std::ffi::OsStr> = cmd.iter().map(|a| a.as_ref()).collect();
        let out = sensor(&args);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Exit status (see docs/CLI.md"),
            "{cmd:?}: {help}"
        );
        assert!(
            help.contains("\n  1    nothing done: bad arguments"),
            "{help}"
        );
    }
}

/// `--version` names the commit built (its first 12 hex digits and date), or says it is
/// unknown (built outside a git checkout).
#[test]
fn version_names_the_commit() {
    let out = sensor(&["--version".as_ref()]);
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8_lossy(&out.stdout);
    let rest = line
        .trim()
        .strip_prefix(concat!("otwatch-sensor ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}"));
    let commit = rest.split(' ').next().unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{line:?}"
    );
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

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(|a| a.into()).collect()
}

fn sensor_str(args: &[&str]) -> Output {
    let args = os(args);
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    sensor(&refs)
}

/// `--format` is global: before the command as after it, the same report; `--out -` is
/// standard output, as for `otwatch report`.
#[test]
fn format_goes_before_or_after_the_command() {
    let pcap = data("mb2.pcap");
    let pcap = pcap.to_str().unwrap();
    let before = sensor_str(&["--format", "json", "analyze", "-q", pcap]);
    let after = sensor_str(&["analyze", "-q", "--format", "json", "--out", "-", pcap]);
    assert!(
        before.status.success(),
        "{}",
        String::from_utf8_lossy(&before.stderr)
    );
    assert!(after.status.success());
    assert_eq!(before.stdout, after.stdout);
    let v: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(v["schema"], "otwatch.inventory.v1");
}

/// A command that prints no inventory refuses `--format` instead of ignoring it.
#[test]
fn format_is_refused_where_it_would_change_nothing() {
    let policy = tempfile::NamedTempFile::new().unwrap();
    let learned = sensor_str(&[
        "policy",
        "learn",
        "-q",
        "--out",
        policy.path().to_str().unwrap(),
        data("mb2.pcap").to_str().unwrap(),
    ]);
    assert!(learned.status.success());
    let file = policy.path().to_str().unwrap();
    let out = sensor_str(&["--format", "json", "policy", "check", file]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: --format is for the commands that print an inventory"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = sensor_str(&["policy", "check", file]);
    assert!(out.status.success());
}

/// Each shell's completion script names the commands, nested ones too.
#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = sensor_str(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["analyze", "learn", "inventory", "enroll", "enroll-token"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = sensor_str(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[possible values: bash,"));
}

/// `man` prints a page man can show; `man --dir` writes one per command.
#[test]
fn man_pages_render() {
    let out = sensor_str(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    if let Some(text) = roff::render(&out.stdout) {
        for word in ["otwatch-sensor", "analyze", "enroll", "Exit status"] {
            assert!(text.contains(word), "no {word} in\n{text}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = sensor_str(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let page = std::fs::read(dir.path().join("otwatch-sensor-policy-learn.1")).unwrap();
    if let Some(text) = roff::render(&page) {
        assert!(text.contains("quiet"), "{text}");
    }
    assert!(dir.path().join("otwatch-sensor-analyze.1").exists());
}
