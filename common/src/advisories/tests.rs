#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::Evidence;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/advisories")
}

fn evidence(field: &str, value: &str, source: &str) -> Evidence {
    Evidence {
        field: field.into(),
        value: value.into(),
        source: source.into(),
        ..Evidence::default()
    }
}

#[test]
fn loads_the_sample_directory() {
    let (catalog, report) = load_path(&sample_dir()).unwrap();
    assert_eq!(catalog.len(), 8);
    assert_eq!(
        (report.documents, report.added, report.unchanged),
        (8, 8, 0)
    );
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(
        report.to_string(),
        "8 documents read (8 advisories added, 0 replaced, 0 unchanged, 0 KEV catalogs), 0 files skipped"
    );
}

#[test]
fn bad_files_are_skipped_with_path_and_reason_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("2019");
    std::fs::create_dir(&nested).unwrap();
    std::fs::copy(
        sample_dir().join("icsa-19-283-02.json"),
        nested.join("icsa-19-283-02.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), b"{\"document\": {").unwrap();
    std::fs::write(dir.path().join("empty.json"), b"{}").unwrap();
    std::fs::write(dir.path().join("README.md"), b"not an advisory").unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/x.json"), b"junk").unwrap();

    let (catalog, report) = load_path(dir.path()).unwrap();
    assert_eq!(catalog.len(), 1);
    let skipped: Vec<&Path> = report.skipped.iter().map(|s| s.path.as_path()).collect();
    assert_eq!(
        skipped,
        [
            dir.path().join("broken.json"),
            dir.path().join("empty.json")
        ]
    );
    assert!(
        report.skipped[0].reason.contains("CSAF 2.0 document")
            && report.skipped[0].reason.contains("EOF"),
        "{}",
        report.skipped[0]
    );
    assert!(
        report.skipped[1].reason.contains("missing"),
        "{}",
        report.skipped[1]
    );
}

#[test]
fn a_file_is_read_whatever_its_name_and_a_missing_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("advisory.txt");
    std::fs::copy(sample_dir().join("icsa-23-012-08.json"), &file).unwrap();
    let (catalog, _) = load_path(&file).unwrap();
    assert!(catalog.get("ICSA-23-012-08").is_some());

    let missing = dir.path().join("nowhere");
    let e = load_paths(&[file, missing.clone()]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("advisories {}", missing.display())),
        "{e}"
    );
}

#[test]
fn loading_twice_and_in_any_order_gives_the_same_catalog() {
    let dir = sample_dir();
    let twice = load_paths(&[dir.clone(), dir.clone()]).unwrap();
    assert_eq!((twice.1.added, twice.1.unchanged), (8, 8));
    let once = load_path(&dir).unwrap().0;
    let ids = |c: &Catalog| {
        c.advisories()
            .map(|a| (a.id.clone(), a.revision.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&twice.0), ids(&once));
}

#[test]
fn an_s7_300_gets_its_cves_in_the_report_form() {
    let (catalog, _) = load_path(&sample_dir()).unwrap();
    let mut asset = Asset {
        vendor: "Siemens".into(),
        model: "6ES7 315-2EH14-0AB0".into(),
        firmware: "V3.2.6".into(),
        ..Asset::default()
    };
    attach(&catalog, &mut asset);
    let found: Vec<(&str, &str, &str)> = asset
        .vulnerabilities
        .iter()
        .map(|v| (v.cve.as_str(), v.advisory.as_str(), v.status.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("CVE-2018-16561", "ICSA-19-043-04", "affected"),
            ("CVE-2019-10936", "ICSA-19-283-02", "affected"),
            ("CVE-2020-15791", "ICSA-20-252-02", "affected"),
        ]
    );
    let v = &asset.vulnerabilities[1];
    assert_eq!((v.cvss, v.severity.as_str()), (7.5, "high"));
    assert!(v.cvss_vector.starts_with("CVSS:3.1/AV:N"));
    assert_eq!(v.fixed_in, "V3.2.17");
    assert_eq!(
        v.product,
        "SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)"
    );
    assert!(v.reason.is_empty() && !v.kev && v.remediation.contains("V3.2.17"));
}

#[test]
fn firmware_of_another_identity_on_the_same_asset_is_not_used() {
    // tests/golden/attacks/nmap_ics_scripts.pcap.json: one address answers S7 (order number,
    // no firmware) and Modbus (another model, firmware 2.7.1).
    let asset = Asset {
        vendor: "Siemens".into(),
        model: "6ES7 315-2EH14-0AB0".into(),
        firmware: "2.7.1".into(),
        evidence: vec![
            evidence("model", "6ES7 315-2EH14-0AB0", "s7 szl 0x0011"),
            evidence("model", "OTW-PLC-1", "modbus device identification"),
            evidence("firmware", "2.7.1", "modbus device identification"),
        ],
        ..Asset::default()
    };
    assert_eq!(device_of(&asset).firmware, "");
    // Model and firmware from the same answer are used together.
    let asset = Asset {
        evidence: vec![
            evidence("model", "6ES7 315-2EH14-0AB0", "s7 szl 0x0011"),
            evidence("firmware", "2.7.1", "s7 szl 0x0011"),
        ],
        ..asset
    };
    assert_eq!(device_of(&asset).firmware, "2.7.1");
}

#[test]
fn a_kev_catalog_in_the_directory_marks_matches_known_exploited() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        sample_dir().join("icsa-19-283-02.json"),
        dir.path().join("icsa-19-283-02.json"),
    )
    .unwrap();
    // The shape of CISA's known_exploited_vulnerabilities.json, one entry kept.
    std::fs::write(
        dir.path().join("known_exploited_vulnerabilities.json"),
        br#"{"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2024.10.24",
            "count": 1, "vulnerabilities": [{"cveID": "CVE-2019-10936", "vendorProject": "Siemens"}]}"#,
    )
    .unwrap();
    let (catalog, report) = load_path(dir.path()).unwrap();
    assert_eq!(
        (report.documents, report.added, report.kev_catalogs),
        (2, 1, 1)
    );
    let mut asset = Asset {
        vendor: "Siemens".into(),
        model: "6ES7315-2EH14-0AB0".into(),
        firmware: "V3.2.6".into(),
        ..Asset::default()
    };
    attach(&catalog, &mut asset);
    assert_eq!(asset.vulnerabilities.len(), 1);
    assert!(asset.vulnerabilities[0].kev);
}
