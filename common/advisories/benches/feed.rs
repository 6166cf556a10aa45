//! Loads a whole CSAF feed and matches synthetic devices against it, printing figures.
//!
//! `OTWATCH_CSAF_DIR` names a directory searched recursively for `*.json` (the cisagov/CSAF
//! `csaf_files/OT` tree; `scripts/bench-advisories.sh` exports it from the mirror).
//! `OTWATCH_BENCH_DEVICES` sets the number of devices (default 100000). Without the
//! directory the program says so and exits successfully, so `cargo bench` works anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use otwatch_advisories::{parse_document, Catalog, Device, Document, MatchStatus, VersionRange};

fn main() {
    let Some(dir) = std::env::var_os("OTWATCH_CSAF_DIR").map(PathBuf::from) else {
        println!("OTWATCH_CSAF_DIR is not set: skipping (scripts/bench-advisories.sh sets it up)");
        return;
    };
    let devices: usize = std::env::var("OTWATCH_BENCH_DEVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);

    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let mut bytes = Vec::with_capacity(files.len());
    let read_start = Instant::now();
    for file in &files {
        match std::fs::read(file) {
            Ok(data) => bytes.push((file, data)),
            Err(error) => println!("cannot read {}: {error}", file.display()),
        }
    }
    let read_time = read_start.elapsed();
    let total_bytes: usize = bytes.iter().map(|(_, b)| b.len()).sum();

    let parse_start = Instant::now();
    let mut parsed = Vec::new();
    let mut failed = Vec::new();
    for (file, data) in &bytes {
        match parse_document(data) {
            Ok(Document::Advisory(advisory)) => parsed.push(advisory),
            Ok(Document::Kev(_)) => {}
            Err(error) => failed.push(format!("{}: {error}", file.display())),
        }
    }
    let parse_time = parse_start.elapsed();

    let mut ranges = 0usize;
    let mut unreadable: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings = 0usize;
    for advisory in &parsed {
        warnings += advisory.warnings.len();
        for product in &advisory.products {
            ranges += 1;
            if let VersionRange::Unreadable { reason, .. } = &product.versions {
                // Group reasons by their shape so the summary stays short.
                let shape: String = reason
                    .chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .take(60)
                    .collect();
                *unreadable.entry(shape).or_default() += 1;
            }
        }
    }

    let index_start = Instant::now();
    let mut catalog = Catalog::new();
    let parsed_count = parsed.len();
    for advisory in parsed {
        catalog.add(advisory);
    }
    let index_time = index_start.elapsed();

    println!(
        "documents: {} files, {:.1} MB read in {:.2?}",
        files.len(),
        total_bytes as f64 / 1e6,
        read_time
    );
    println!(
        "parsed: {parsed_count}, failed: {} in {:.2?}",
        failed.len(),
        parse_time
    );
    for line in failed.iter().take(10) {
        println!("  failed {line}");
    }
    println!(
        "catalog: {} advisories, {} product rows, built in {:.2?}; {warnings} dangling product references",
        catalog.len(),
        catalog.product_rows(),
        index_time
    );
    let unreadable_total: usize = unreadable.values().sum();
    println!("version ranges: {ranges}, unreadable: {unreadable_total}");
    let mut shapes: Vec<_> = unreadable.into_iter().collect();
    shapes.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (shape, count) in shapes.iter().take(12) {
        println!("  {count:6}  {shape}");
    }

    // Real identities from otwatch's golden reports, then synthetic devices drawn from the
    // catalog's own model numbers (hits) and made-up ones (misses).
    let real = [
        ("Siemens", "6ES7 315-2EH14-0AB0", "V3.2.6"),
        ("Siemens", "6ES7 315-2EH14-0AB0", ""),
        ("Siemens", "6ES7 151-8AB01-0AB0", "V3.2.6"),
        ("Siemens", "6ES7 511-1AK00-0AB0", "V1.0"),
        ("Siemens", "S7-300EC", ""),
        ("Siemens", "S7-1500", ""),
        ("Rockwell Automation/Allen-Bradley", "1756-ENBT/A", "4.03"),
        ("Schneider Electric", "140 CPU 311 10", ""),
        ("Johnson Controls, Inc.", "MS-NAE4510-2", "5.1.0.4400"),
        ("Cisco", "1601", "11.2(12)P"),
        ("OtwatchTest", "OTW-PLC-1", "2.7.1"),
    ];
    for (vendor, model, firmware) in real {
        let found = catalog.match_device(&Device {
            vendor,
            model,
            firmware,
            ..Device::default()
        });
        let affected = found
            .iter()
            .filter(|m| m.status == MatchStatus::Affected)
            .count();
        println!(
            "{vendor} / {model} / {firmware:?}: {} matches ({affected} affected)",
            found.len()
        );
        if std::env::var_os("OTWATCH_BENCH_VERBOSE").is_some() {
            for m in &found {
                let status = match &m.status {
                    MatchStatus::Affected => "affected".to_string(),
                    MatchStatus::PossiblyAffected { reason } => format!("possibly: {reason}"),
                };
                let cve = m.cve.as_deref().unwrap_or("-");
                println!(
                    "    {cve} {} [{:?}] {:?} fixed_in={:?} — {status}",
                    m.advisory, m.matched_on, m.product, m.fixed_in
                );
            }
        }
    }

    let mut models: Vec<(String, String)> = Vec::new();
    for advisory in catalog.advisories() {
        for product in &advisory.products {
            for number in &product.model_numbers {
                models.push((product.vendor.clone(), number.clone()));
            }
        }
    }
    if models.is_empty() {
        models.push(("Siemens".to_string(), "6ES7315-2EH14-0AB0".to_string()));
    }
    let firmwares = ["V3.2.6", "V2.9.1", "4.03", "", "V1.0", "20.11", "V9.9"];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut synthetic: Vec<(String, String, &str)> = Vec::with_capacity(devices);
    for i in 0..devices {
        let r = next();
        let firmware = firmwares[(r % firmwares.len() as u64) as usize];
        if i % 2 == 0 {
            let (vendor, model) = &models[(r >> 8) as usize % models.len()];
            synthetic.push((vendor.clone(), model.clone(), firmware));
        } else {
            synthetic.push((
                "Acme Industrial".to_string(),
                format!("AX-{}", r % 100_000),
                firmware,
            ));
        }
    }
    let match_start = Instant::now();
    let mut matches = 0usize;
    let mut affected = 0usize;
    let mut devices_hit = 0usize;
    for (vendor, model, firmware) in &synthetic {
        let found = catalog.match_device(&Device {
            vendor,
            model,
            firmware,
            ..Device::default()
        });
        devices_hit += usize::from(!found.is_empty());
        matches += found.len();
        affected += found
            .iter()
            .filter(|m| m.status == MatchStatus::Affected)
            .count();
    }
    let match_time = match_start.elapsed();
    println!(
        "matched {devices} devices in {match_time:.2?} ({:.1} µs/device): {devices_hit} with matches, {matches} matches, {affected} affected",
        match_time.as_secs_f64() * 1e6 / devices.max(1) as f64
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("cisa-csaf-ot-feed"))
        {
            out.push(path);
        }
    }
}
