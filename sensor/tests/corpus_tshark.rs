#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole shared corpus through the whole pipeline, checked against tshark.
//!
//! For every capture in `../shared/pcaps` (MANIFEST.tsv): the analysis finishes without a
//! panic or capture error; the unicast IPv4/IPv6 hosts that sent or received IP traffic equal
//! the unicast endpoints of tshark's IP conversations; and the packets exchanged between each
//! pair of unicast hosts equal tshark's conversation frame counts. Skips with a message when
//! the corpus or tshark is missing (`.ci/run` installs tshark).

#[path = "../../tests/skip.rs"]
mod skip;

use otwatch_common::addr::is_unicast_ip;
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::pipeline::Pipeline;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("OTWATCH_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/pcaps")),
    }
}

fn tshark(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

type Pair = (IpAddr, IpAddr);

fn pair(a: IpAddr, b: IpAddr) -> Pair {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// tshark's IP conversations: unordered address pair → total frames.
fn tshark_conversations(file: &Path) -> BTreeMap<Pair, u64> {
    let f = file.to_string_lossy();
    let text = tshark(&["-r", &f, "-q", "-z", "conv,ip", "-z", "conv,ipv6"]).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.get(1) != Some(&"<->") {
            continue;
        }
        let (Some(a), Some(b)) = (
            t.first().and_then(|s| s.parse::<IpAddr>().ok()),
            t.get(2).and_then(|s| s.parse::<IpAddr>().ok()),
        ) else {
            continue;
        };
        // a <-> b, then (frames bytes unit) x3: left, right, total.
        let frames: u64 = t.get(9).and_then(|s| s.parse().ok()).unwrap_or(0);
        *out.entry(pair(a, b)).or_default() += frames;
    }
    out
}

/// Destination IPs of frames sent to the broadcast MAC: directed broadcast addresses, never
/// hosts. Only the outermost Ethernet and IP headers count (tunnelled frames have several).
fn tshark_broadcast_destinations(file: &Path) -> BTreeSet<IpAddr> {
    let f = file.to_string_lossy();
    let text = tshark(&[
        "-r",
        &f,
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-e",
        "eth.dst",
        "-e",
        "ip.dst",
        "-e",
        "ipv6.dst",
    ])
    .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("ff:ff:ff:ff:ff:ff\t"))
        .flat_map(|l| l.split('\t').skip(1))
        .filter_map(|s| s.parse().ok())
        .collect()
}

struct Ours {
    hosts: BTreeSet<IpAddr>,
    pairs: BTreeMap<Pair, u64>,
    error: Option<String>,
}

fn analyse(file: &Path) -> Ours {
    let mut p = Pipeline::default();
    let mut error = None;
    match CaptureFile::open(file) {
        Ok(mut src) => loop {
            match src.next_batch() {
                Ok(Some(b)) => b.iter().for_each(|f| p.frame(&f)),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        },
        Err(e) => error = Some(e.to_string()),
    }
    p.finish();
    let hosts = p
        .inventory
        .hosts
        .iter()
        .filter(|(_, h)| h.counters.packets > 0)
        .map(|(k, _)| k.ip)
        .collect();
    let mut pairs = BTreeMap::new();
    for (k, c) in &p.inventory.conns {
        *pairs.entry(pair(k.client, k.server)).or_default() += c.counters.packets;
    }
    Ours {
        hosts,
        pairs,
        error,
    }
}

#[test]
fn corpus_hosts_and_conversations_match_tshark() {
    let dir = corpus_dir();
    let Ok(manifest) = std::fs::read_to_string(dir.join("MANIFEST.tsv")) else {
        skip::skip(
            &format!("corpus not found at {}", dir.display()),
            skip::Need::Corpus,
        );
        return;
    };
    if tshark(&["-v"]).is_none() {
        skip::skip(
            "tshark is not installed (apt-get install tshark)",
            skip::Need::InCi,
        );
        return;
    }
    let only = std::env::var("OTWATCH_CORPUS_ONLY").ok();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let Some(rel) = line.split('\t').next().filter(|s| !s.is_empty()) else {
            continue;
        };
        if only.as_deref().is_some_and(|o| !rel.contains(o)) {
            continue;
        }
        let file = dir.join(rel);
        let ours = analyse(&file);
        if let Some(e) = ours.error {
            failures.push(format!("{rel}: capture error: {e}"));
        }
        let groups = tshark_broadcast_destinations(&file);
        let host = |ip: &IpAddr| is_unicast_ip(ip) && !groups.contains(ip);
        let conversations = tshark_conversations(&file);
        let theirs: BTreeMap<Pair, u64> = conversations
            .iter()
            .filter(|((a, b), _)| host(a) && host(b))
            .map(|(k, v)| (*k, *v))
            .collect();
        let their_hosts: BTreeSet<IpAddr> = conversations
            .keys()
            .flat_map(|(a, b)| [*a, *b])
            .filter(host)
            .collect();
        if ours.hosts != their_hosts {
            let missing: Vec<_> = their_hosts.difference(&ours.hosts).collect();
            let extra: Vec<_> = ours.hosts.difference(&their_hosts).collect();
            failures.push(format!(
                "{rel}: hosts differ: missing {missing:?}, extra {extra:?}"
            ));
        }
        if ours.pairs != theirs {
            let mut diffs = Vec::new();
            for k in ours
                .pairs
                .keys()
                .chain(theirs.keys())
                .collect::<BTreeSet<_>>()
            {
                let (o, t) = (ours.pairs.get(k), theirs.get(k));
                if o != t {
                    diffs.push(format!("{} <-> {}: ours {o:?} tshark {t:?}", k.0, k.1));
                }
            }
            failures.push(format!("{rel}: conversations differ: {}", diffs.join("; ")));
        }
        checked += 1;
    }
    eprintln!("checked {checked} captures against tshark");
    assert!(
        failures.is_empty(),
        "{} of {checked} captures differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
