#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Whole-report baselines: every capture the project bundles (`tests/data`, with its attack
//! recordings, and `sensor/tests/data`) is analysed with the default settings and its JSON
//! report compared byte for byte with its baseline under `tests/golden/`.
//!
//! A change in any field of any report fails here and shows the first differing lines. When the
//! change is intended, write the new baselines and review them with `git diff tests/golden`:
//!
//! ```text
//! OTWATCH_BLESS=1 cargo nextest run -p otwatch-sensor --test golden_reports
//! ```

use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use otwatch_sensor::output::to_json;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every capture under the bundled data directories, as paths relative to the repository root,
/// in a stable order.
fn captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for d in ["tests/data", "sensor/tests/data"] {
        walk(&root().join(d), &mut out);
    }
    let root = root();
    let mut rel: Vec<PathBuf> = out
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().to_path_buf())
        .collect();
    rel.sort();
    rel
}

/// `tests/data/x.pcap` → `tests/golden/x.pcap.json`; `sensor/tests/data/y.pcap` →
/// `tests/golden/sensor/y.pcap.json`.
fn golden_path(capture: &Path) -> PathBuf {
    let rel = capture
        .strip_prefix("tests/data")
        .map(Path::to_path_buf)
        .or_else(|_| {
            capture
                .strip_prefix("sensor/tests/data")
                .map(|p| Path::new("sensor").join(p))
        })
        .unwrap_or_else(|_| capture.to_path_buf());
    let mut name = rel.into_os_string();
    name.push(".json");
    root().join("tests/golden").join(name)
}

/// The first lines where two texts differ, with a little context.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(3);
    let mut s = format!("first difference at line {}:\n", at + 1);
    for i in from..(at + 4) {
        if let Some(l) = w.get(i) {
            s.push_str(&format!("  want {:>5}: {l}\n", i + 1));
        }
        if let Some(l) = g.get(i) {
            s.push_str(&format!("  got  {:>5}: {l}\n", i + 1));
        }
    }
    s
}

#[test]
fn every_bundled_capture_matches_its_golden_report() {
    let bless = std::env::var_os("OTWATCH_BLESS").is_some_and(|v| v != "0");
    let captures = captures();
    assert!(
        captures.len() >= 60,
        "only {} bundled captures found under tests/data and sensor/tests/data",
        captures.len()
    );
    let mut failures = Vec::new();
    let mut expected = std::collections::BTreeSet::new();
    for cap in &captures {
        let out = analyze(&AnalyzeOptions {
            inputs: vec![root().join(cap)],
            ..Default::default()
        })
        .unwrap();
        // Captures cut short on purpose keep their capture errors out of the report: the
        // report itself is what is compared.
        let got = to_json(&out.report);
        let golden = golden_path(cap);
        expected.insert(golden.clone());
        if bless {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}: report differs from {}\n{}",
                cap.display(),
                golden.display(),
                first_difference(&want, &got)
            )),
            Err(e) => failures.push(format!(
                "{}: no golden report ({}: {e}); write it with OTWATCH_BLESS=1",
                cap.display(),
                golden.display()
            )),
        }
    }
    // A golden file whose capture is gone would hide nothing, but it would rot: flag it.
    let mut stale = Vec::new();
    fn walk_json(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk_json(&p, out);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    walk_json(&root().join("tests/golden"), &mut stale);
    stale.retain(|p| !expected.contains(p));
    for p in &stale {
        if bless {
            std::fs::remove_file(p).unwrap();
        } else {
            failures.push(format!(
                "{}: golden report without a capture (remove it, or bless)",
                p.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} reports differ from their golden files; if the change is intended, \
         run with OTWATCH_BLESS=1 and review `git diff tests/golden`:\n\n{}",
        failures.len(),
        captures.len(),
        failures.join("\n")
    );
}
