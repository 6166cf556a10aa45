#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `run --pcap` and `analyze` as scripts see them: exit statuses that tell what happened
//! (missing input, damaged input, usage errors), and replays paced by each file's own clock.

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn run_pcap(state: &Path, files: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut c = sensor();
    c.args(["run", "--state"])
        .arg(state)
        .args(extra)
        .arg("--pcap");
    for f in files {
        c.arg(f);
    }
    c.output().unwrap()
}

#[test]
fn a_missing_capture_file_stops_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let missing = dir.path().join("nowhere.pcap");
    let o = run_pcap(&state, &[&data("dhcp.pcap"), &missing], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(text(&o.stderr).contains("nowhere.pcap"), "{}", show(&o));
    assert!(!state.exists(), "nothing is written");
    // A directory is no capture file either.
    let o = run_pcap(&state, &[dir.path()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(!state.exists());

    // analyze says the same, with or without a state directory.
    let o = sensor()
        .args(["analyze", "--state"])
        .arg(&state)
        .arg(data("dhcp.pcap"))
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(o.stdout.is_empty());
    assert!(!state.exists());
}

#[test]
fn a_damaged_capture_is_replayed_up_to_the_damage_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("wikipedia.pcap")).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 50]).unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, b"these are not packets\n").unwrap();

    let state = dir.path().join("state");
    let o = run_pcap(&state, &[&cut], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("truncated at byte offset"),
        "{}",
        show(&o)
    );
    // What came before the damage is stored, as analyze sees it.
    let (shown, v) = inventory(&state);
    assert!(shown.status.success(), "{}", show(&shown));
    assert_eq!(v.unwrap()["stats"]["packets"].as_u64(), Some(135));

    // A file that is no capture at all is refused before anything is replayed (1), as
    // analyze does: a later run with the command corrected would count the good files twice.
    let state = dir.path().join("state2");
    let o = run_pcap(&state, &[&data("dhcp.pcap"), &junk], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("not a pcap or pcapng"),
        "{}",
        show(&o)
    );
    assert!(!state.exists(), "nothing is written");
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    for args in [
        &["run", "--no-such-flag"][..],
        &["analyze"],
        &["run", "--speed", "fast", "--pcap", "x.pcap"],
        &[],
    ] {
        let o = sensor().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", show(&o));
        assert!(!o.stderr.is_empty(), "{args:?}");
    }
    for cmd in ["run", "analyze", "enroll"] {
        let o = sensor().args([cmd, "--help"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let help = text(&o.stdout);
        assert!(help.contains("Exit status"), "{cmd}: {help}");
        assert!(help.contains("  1    nothing done"), "{cmd}: {help}");
    }
    let o = sensor().args(["run", "--help"]).output().unwrap();
    for code in ["  2 ", "  3 ", "  4 ", "  5 "] {
        assert!(text(&o.stdout).contains(code), "{code}");
    }
}

#[test]
fn captures_years_apart_are_each_paced_by_their_own_clock() {
    let dir = tempfile::tempdir().unwrap();
    // 2001, 2024 and back to 1995: 100 packets 10 ms apart in each (1 s of capture time).
    let files: Vec<_> = [
        (978_307_200u32, "2001.pcap"),
        (1_717_200_000, "2024.pcap"),
        (788_918_400, "1995.pcap"),
    ]
    .iter()
    .map(|(start, name)| {
        let p = dir.path().join(name);
        udp_hosts_pcap(&p, 100, *start, 10_000);
        p
    })
    .collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let state = dir.path().join("state");
    let mut child = sensor()
        .args(["run", "--speed", "10x", "--commit-interval", "1", "--state"])
        .arg(&state)
        .arg("--pcap")
        .args(&refs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // About 0.3 s of pacing; the years between the files would be months even at 10x.
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the replay still sleeps after {:?}", t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (_, v) = inventory(&state);
    let v = v.unwrap();
    assert_eq!(v["stats"]["packets"].as_u64(), Some(300));
    assert!(
        v["stats"]["first_packet"]
            .as_str()
            .unwrap()
            .starts_with("1995-"),
        "{}",
        v["stats"]
    );
    assert!(
        v["stats"]["last_packet"]
            .as_str()
            .unwrap()
            .starts_with("2024-"),
        "{}",
        v["stats"]
    );
}

#[test]
fn a_replay_stopped_by_a_signal_keeps_what_it_read_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    // 600 s of capture time, replayed in real time: it is stopped long before the end.
    let pcap = dir.path().join("long.pcap");
    udp_hosts_pcap(&pcap, 600, 1_700_000_000, 1_000_000);
    let state = dir.path().join("state");
    let mut child = sensor()
        .args([
            "run",
            "--speed",
            "realtime",
            "--commit-interval",
            "1",
            "--state",
        ])
        .arg(&state)
        .arg("--pcap")
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it has committed something.
    let t = Instant::now();
    while !state.join("inventory.json").exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "no commit");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("SIGINT did not stop the replay");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", show(&o));
    assert!(text(&o.stderr).contains("interrupted"), "{}", show(&o));
    let (_, v) = inventory(&state);
    let packets = v.unwrap()["stats"]["packets"].as_u64().unwrap();
    assert!(packets > 0 && packets < 600, "{packets}");
}
