//! Reads every capture of the shared corpus and checks the frame count against MANIFEST.tsv
//! (whose counts were taken with tshark).
//!
//! The corpus is at `<workspace>/../shared/pcaps`, or wherever `OTWATCH_CORPUS` points. When
//! it is missing the test says so on stderr and passes.

#[path = "../../tests/skip.rs"]
mod skip;

use std::path::PathBuf;

use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("OTWATCH_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/pcaps")),
    }
}

#[test]
fn every_corpus_capture_reads_completely() {
    let dir = corpus_dir();
    let manifest = dir.join("MANIFEST.tsv");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        skip::skip(
            &format!("corpus not found at {}", manifest.display()),
            skip::Need::Corpus,
        );
        return;
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("MANIFEST.tsv has no `{name}` column"))
    };
    let (path_col, packets_col) = (column("path"), column("packets"));

    let mut failures = Vec::new();
    let mut files = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(packets)) = (cols.get(path_col), cols.get(packets_col)) else {
            failures.push(format!("malformed manifest line: {line}"));
            continue;
        };
        let Ok(want) = packets.parse::<u64>() else {
            failures.push(format!(
                "{path}: packets column `{packets}` is not a number"
            ));
            continue;
        };
        files += 1;
        let file = dir.join(path);
        let mut cf = match CaptureFile::open(&file) {
            Ok(cf) => cf,
            Err(e) => {
                failures.push(format!("{path}: {e}"));
                continue;
            }
        };
        let mut got = 0u64;
        let result = loop {
            match cf.next_batch() {
                Ok(Some(batch)) => {
                    for frame in batch.iter() {
                        if frame.data.is_empty() && frame.wire_len > 0 {
                            failures.push(format!("{path}: frame {got} has no bytes"));
                        }
                        got += 1;
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = result {
            failures.push(format!("{path}: error after {got} frames: {e}"));
        } else if got != want {
            failures.push(format!("{path}: read {got} frames, manifest says {want}"));
        } else {
            let p = cf.progress();
            if Some(p.done) != p.total {
                failures.push(format!(
                    "{path}: stopped at byte {} of {:?}",
                    p.done, p.total
                ));
            }
        }
    }
    assert!(files > 0, "no captures listed in {}", manifest.display());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("read {files} corpus captures");
}
