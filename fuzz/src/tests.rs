//! Every protocol, decoder and detection file parser has a fuzz target, every target has its
//! binary, and every driver survives a few inputs.

use super::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The file stems of `dir/*.rs`.
fn modules(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn missing(wanted: impl IntoIterator<Item = String>) -> Vec<String> {
    let have = targets();
    wanted
        .into_iter()
        .filter(|w| !have.contains(&w.as_str()))
        .collect()
}

#[test]
fn every_dissector_module_has_a_target() {
    // Not dissectors: the module root, the registry and the specs it lists, the pieces of the
    // dissector skeleton every dissector calls (text, framing, reader, violation budget, the
    // identity facts reported once per flow), the
    // unit-test helpers, the system-description reader that the snmp, cdp and lldp
    // targets reach with every text they decode, and the frame header the goose and sv
    // targets reach with every frame.
    let not_dissectors = [
        "mod",
        "registry",
        "spec",
        "text",
        "facts",
        "testing",
        "sysdescr",
        "framing",
        "reader",
        "violations",
        "tpkt",
        "source",
        "iec61850_frame",
    ];
    let dissectors = modules(&here().join("../sensor/analysis/src/protocols"))
        .into_iter()
        .filter(|m| !not_dissectors.contains(&m.as_str()));
    let missing = missing(dissectors);
    assert!(
        missing.is_empty(),
        "dissectors without a fuzz target: {missing:?}"
    );
}

#[test]
fn every_decoder_module_has_a_target() {
    let decoders = modules(&here().join("../sensor/analysis/src/decode"))
        .into_iter()
        // `link` is the table of capture link types, no parser.
        .filter(|m| m != "tests" && m != "link")
        .map(|m| if m == "mod" { "decode".into() } else { m });
    let missing = missing(decoders);
    assert!(
        missing.is_empty(),
        "decoders without a fuzz target: {missing:?}"
    );
}

#[test]
fn every_detection_file_parser_has_a_target() {
    // The detection modules that read a file a person writes (they take a `SourceText`).
    let parsers: &[(&str, &[&str])] = &[
        ("policy", &["policy"]),
        ("rules", &["rules"]),
        ("ioc", &["ioc_stix", "ioc_csv"]),
    ];
    let dir = here().join("../sensor/analysis/src/detect");
    let readers: BTreeSet<String> = modules(&dir)
        .into_iter()
        .filter(|m| !["text", "tests"].contains(&m.as_str()))
        .filter(|m| {
            let src = std::fs::read_to_string(dir.join(format!("{m}.rs"))).unwrap();
            src.contains("SourceText")
        })
        .collect();
    let known: BTreeSet<String> = parsers.iter().map(|p| p.0.to_string()).collect();
    assert_eq!(
        readers, known,
        "detection modules reading files changed: add targets"
    );
    let missing = missing(
        parsers
            .iter()
            .flat_map(|p| p.1.iter().map(|t| t.to_string())),
    );
    assert!(
        missing.is_empty(),
        "parsers without a fuzz target: {missing:?}"
    );
}

#[test]
fn other_targets_are_not_named_like_protocols() {
    for (name, _) in OTHER_TARGETS {
        assert!(specs_named(name).is_empty(), "{name} is a protocol too");
        assert!(
            !registry::FRAME_PROTOCOLS.iter().any(|s| s.name == *name),
            "{name} is a link-layer protocol too"
        );
    }
}

/// Every target is a binary `fuzz_targets/<name>.rs` that calls `run("<name>", ..)`, declared
/// in Cargo.toml, and there are no other binaries.
#[test]
fn targets_and_binaries_agree() {
    let manifest: toml::Table = std::fs::read_to_string(here().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let bins: Vec<(String, String)> = manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().unwrap().to_string();
            (s("name"), s("path"))
        })
        .collect();
    let files = modules(&here().join("fuzz_targets"));
    let names: BTreeSet<String> = targets().into_iter().map(String::from).collect();
    assert_eq!(files, names, "fuzz_targets/*.rs and the targets differ");
    let bin_names: BTreeSet<String> = bins.iter().map(|b| b.0.clone()).collect();
    assert_eq!(
        bin_names, names,
        "the [[bin]]s of Cargo.toml and the targets differ"
    );
    for (name, path) in &bins {
        assert_eq!(path, &format!("fuzz_targets/{name}.rs"));
        let src = std::fs::read_to_string(here().join(path)).unwrap();
        let call = format!("otwatch_fuzz::run({name:?}, data)");
        assert!(src.contains(&call), "{path} does not call {call}");
    }
}

/// A small deterministic generator for the survival test.
struct XorShift(u64);

impl XorShift {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }
}

#[test]
fn every_target_survives_a_few_inputs() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut inputs = vec![vec![], vec![0], vec![0xff], vec![0; 64], vec![0xff; 300]];
    for n in [3, 17, 100, 1000, 5000] {
        inputs.push(rng.bytes(n));
    }
    // A conversation of small chunks both ways, with gaps.
    let mut conv = vec![0x05];
    for i in 0..40u8 {
        push_chunk(
            &mut conv,
            i.wrapping_mul(0x20),
            &rng.bytes(usize::from(i) * 7),
        );
    }
    inputs.push(conv);
    for name in targets() {
        for (i, input) in inputs.iter().enumerate() {
            let r = std::panic::catch_unwind(|| run(name, input));
            assert!(r.is_ok(), "target {name} panicked on input {i}");
        }
    }
}

#[test]
fn chunks_read_back_what_was_pushed() {
    let mut data = Vec::new();
    push_chunk(&mut data, TO_CLIENT | GAP, b"abc");
    push_chunk(&mut data, 0, &[7; MAX_CHUNK + 5]);
    push_chunk(&mut data, BROADCAST, b"");
    let got: Vec<(u8, usize)> = chunks(&data).map(|(f, c)| (f, c.len())).collect();
    assert_eq!(got, [(TO_CLIENT | GAP, 3), (0, MAX_CHUNK), (BROADCAST, 0)]);
    // A length past the end takes what is left.
    assert_eq!(
        chunks(&[0x1f, 0xff, 1, 2]).collect::<Vec<_>>(),
        [(0, &[1u8, 2][..])]
    );
}

#[test]
#[should_panic(expected = "no fuzz target")]
fn an_unknown_target_is_refused() {
    run("no-such-protocol", &[0, 0, 0]);
}

/// The hand-written seeds of `fuzz/seeds/` stay valid: a fuzzer starting from them starts
/// from files the parsers accept.
#[test]
fn hand_written_seeds_parse() {
    let dir = here().join("seeds");
    let read = |t: &str| {
        let d = dir.join(t);
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds in {}", d.display());
        files
            .into_iter()
            .map(|p| {
                SourceText::new(
                    &p.display().to_string(),
                    &std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    for src in read("rules") {
        let mut set = RuleSet::default();
        set.add(&src).unwrap_or_else(|e| panic!("{e}"));
        assert!(!set.rules.is_empty(), "{}", src.file);
    }
    for t in ["ioc_stix", "ioc_csv"] {
        for src in read(t) {
            let mut set = IocSet::default();
            set.add_text(&src).unwrap_or_else(|e| panic!("{e}"));
            assert!(!set.indicators.is_empty(), "{}", src.file);
        }
    }
}
