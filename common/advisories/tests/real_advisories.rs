//! Real CISA CSAF documents (tests/data/advisories, see its README) against the device
//! identities otwatch reports in its golden reports (tests/golden/*.json).

use otwatch_advisories::{
    parse_csaf, parse_document, AddOutcome, Catalog, Device, Document, KevCatalog, MatchBasis,
    MatchStatus, ParseError, Severity, VulnerabilityMatch,
};

macro_rules! sample {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../../tests/data/advisories/", $name)).as_slice(),
        )
    };
}

const SAMPLES: [(&str, &[u8]); 8] = [
    sample!("icsa-18-310-02.json"),
    sample!("icsa-19-043-04.json"),
    sample!("icsa-19-183-01.json"),
    sample!("icsa-19-283-02.json"),
    sample!("icsa-20-252-02.json"),
    sample!("icsa-21-005-01.json"),
    sample!("icsa-23-012-08.json"),
    sample!("icsa-23-201-01.json"),
];

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    for (name, bytes) in SAMPLES {
        let advisory = parse_csaf(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            advisory.warnings.is_empty(),
            "{name}: {:?}",
            advisory.warnings
        );
        assert_eq!(catalog.add(advisory), AddOutcome::Added);
    }
    catalog
}

fn device<'a>(vendor: &'a str, model: &'a str, firmware: &'a str) -> Device<'a> {
    Device {
        vendor,
        model,
        firmware,
        ..Device::default()
    }
}

/// (cve, advisory, affected?) of each match, in output order.
fn summary(found: &[VulnerabilityMatch]) -> Vec<(&str, &str, bool)> {
    found
        .iter()
        .map(|m| {
            (
                m.cve.as_deref().unwrap_or("-"),
                m.advisory.as_str(),
                m.status == MatchStatus::Affected,
            )
        })
        .collect()
}

#[test]
fn every_sample_parses_with_its_tracking_data() {
    let catalog = catalog();
    let ids: Vec<&str> = catalog.advisories().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ICSA-18-310-02",
            "ICSA-19-043-04",
            "ICSA-19-183-01",
            "ICSA-19-283-02",
            "ICSA-20-252-02",
            "ICSA-21-005-01",
            "ICSA-23-012-08",
            "ICSA-23-201-01"
        ]
    );
    let profinet = catalog.get("ICSA-19-283-02").unwrap();
    assert_eq!(profinet.revision, "12");
    assert_eq!(profinet.title, "Siemens PROFINET Devices (Update K)");
    assert_eq!(profinet.current_release_date, "2021-10-14T00:00:00.000000Z");
    assert_eq!(profinet.products.len(), 93);
}

#[test]
fn s7_300_cpu_315_with_firmware_v3_2_6() {
    // tests/golden/attacks/nmap_ics_scripts.pcap.json reports this order number.
    let found = catalog().match_device(&device("Siemens", "6ES7 315-2EH14-0AB0", "V3.2.6"));
    assert_eq!(
        summary(&found),
        [
            ("CVE-2018-16561", "ICSA-19-043-04", true),
            ("CVE-2019-10936", "ICSA-19-283-02", true),
            ("CVE-2020-15791", "ICSA-20-252-02", true),
        ]
    );
    let profinet = &found[1];
    assert_eq!(profinet.matched_on, MatchBasis::Model);
    assert_eq!(profinet.fixed_in.as_deref(), Some("V3.2.17"));
    assert_eq!(
        profinet.product,
        "SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)"
    );
    let cvss = profinet.cvss.as_ref().unwrap();
    assert_eq!((cvss.base_score, cvss.severity), (7.5, Severity::High));
    assert_eq!(
        cvss.vector,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H/E:P/RL:O/RC:C"
    );
    assert!(
        profinet.remediation.as_deref().unwrap().contains("V3.2.17"),
        "{:?}",
        profinet.remediation
    );
    assert_eq!(found[0].matched_on, MatchBasis::Family);
    assert_eq!(found[0].fixed_in.as_deref(), Some("V3.X.16"));
}

#[test]
fn s7_300_with_unknown_firmware_is_possibly_affected_with_the_reason() {
    let found = catalog().match_device(&device("Siemens AG", "6ES7315-2EH14-0AB0", ""));
    assert_eq!(
        summary(&found),
        [
            ("CVE-2018-16561", "ICSA-19-043-04", false),
            ("CVE-2019-10936", "ICSA-19-283-02", false),
            // "All versions" needs no firmware to be certain.
            ("CVE-2020-15791", "ICSA-20-252-02", true),
        ]
    );
    let MatchStatus::PossiblyAffected { reason } = &found[1].status else {
        unreachable!()
    };
    assert!(
        reason.contains("firmware unknown") && reason.contains("<V3.2.17"),
        "{reason}"
    );
}

#[test]
fn fixed_firmware_clears_the_ranged_advisories() {
    let found = catalog().match_device(&device("Siemens", "6ES7 315-2EH14-0AB0", "V3.2.17"));
    assert_eq!(
        summary(&found),
        [("CVE-2020-15791", "ICSA-20-252-02", true)]
    );
}

#[test]
fn unreadable_firmware_is_possibly_affected() {
    let found = catalog().match_device(&device("Siemens", "6ES7 315-2EH14-0AB0", "build 2014-08"));
    let profinet = found
        .iter()
        .find(|m| m.advisory == "ICSA-19-283-02")
        .unwrap();
    assert!(
        matches!(&profinet.status, MatchStatus::PossiblyAffected { reason } if reason.contains("could not be read"))
    );
}

#[test]
fn identities_from_otwatch_golden_reports() {
    let catalog = catalog();
    // s7comm_reading_plc_status.pcap.json: S7 SZL 0x0011 order number and firmware.
    let et200s = catalog.match_device(&device("Siemens", "6ES7 151-8AB01-0AB0", "V3.2.6"));
    assert_eq!(
        summary(&et200s),
        [
            ("CVE-2018-16561", "ICSA-19-043-04", true),
            ("CVE-2019-10936", "ICSA-19-283-02", true),
            ("CVE-2020-15791", "ICSA-20-252-02", true),
        ]
    );
    // S7-1511_db2_var1_HMI.pcap.json: an S7-1500 CPU 1511-1 PN. ICSA-19-283-02 names the
    // whole "S7-1500 CPU family" below V2.0; ICSA-23-012-08 names the order number.
    let s7_1500 = catalog.match_device(&device("Siemens", "6ES7 511-1AK00-0AB0", "V1.0"));
    assert_eq!(
        summary(&s7_1500),
        [
            ("CVE-2019-10936", "ICSA-19-283-02", true),
            ("CVE-2022-38773", "ICSA-23-012-08", true)
        ]
    );
    assert_eq!(s7_1500[0].matched_on, MatchBasis::Family);
    assert_eq!(s7_1500[1].matched_on, MatchBasis::Model);
    let s7_1500_v2 = catalog.match_device(&device("Siemens", "6ES7 511-1AK00-0AB0", "V2.0"));
    assert_eq!(
        summary(&s7_1500_v2),
        [("CVE-2022-38773", "ICSA-23-012-08", true)]
    );
    // enip_cip_example.pcap.json: CIP identity of a 1756-ENBT, series A, revision 4.03.
    let enbt = catalog.match_device(&device(
        "Rockwell Automation/Allen-Bradley",
        "1756-ENBT/A",
        "4.03",
    ));
    assert_eq!(summary(&enbt), [("CVE-2018-17924", "ICSA-18-310-02", true)]);
    assert!(
        enbt[0]
            .remediation
            .as_deref()
            .unwrap()
            .contains("1756-ENBT"),
        "{:?}",
        enbt[0].remediation
    );
    assert_eq!(enbt[0].cvss.as_ref().unwrap().base_score, 8.6);
    // modicon_test.pcap.json: Modbus device identification of a Quantum CPU, no firmware.
    let quantum = catalog.match_device(&device("Schneider Electric", "140 CPU 311 10", ""));
    assert_eq!(
        summary(&quantum),
        [("CVE-2019-6819", "ICSA-19-183-01", true)]
    );
    // profinet-wireshark-bug.pcap.json: DCP station type only.
    let dcp = catalog.match_device(&device("Siemens", "S7-300EC", ""));
    assert_eq!(
        summary(&dcp),
        [
            ("CVE-2018-16561", "ICSA-19-043-04", false),
            ("CVE-2020-15791", "ICSA-20-252-02", true)
        ]
    );
    // Devices whose model is in no advisory get nothing.
    for (vendor, model, firmware) in [
        ("Johnson Controls, Inc.", "MS-NAE4510-2", "5.1.0.4400"), // bacnet_test.pcap.json
        ("Cisco", "1601", "11.2(12)P"),                           // cdp-v1.pcap.json
        ("OtwatchTest", "OTW-PLC-1", "2.7.1"),                    // nmap_ics_scripts.pcap.json
        ("Siemens", "6GK5 208-0BA00-2AA3", "V5.2.0"),             // a SCALANCE X208: in no sample
        ("Siemens", "6ES7 214-1AG40-0XB0", "V4.4.0"), // S7-1200 family row ends below V4.4.0
        ("Siemens AG", "", "V4.02"),                  // mb2.pcap.json: vendor alone
        ("", "6ES7 315-2EH14-0AB0", "V3.2.6"),        // no vendor: no gate passed
    ] {
        assert!(
            catalog
                .match_device(&device(vendor, model, firmware))
                .is_empty(),
            "{vendor} {model}"
        );
    }
}

#[test]
fn s7_1200_family_row() {
    // ICSA-19-283-02: "SIMATIC S7-1200 CPU family (incl. SIPLUS variants)", vers:all/<V4.4.0.
    let found = catalog().match_device(&device("Siemens", "6ES7 214-1AG40-0XB0", "V4.2.0"));
    assert_eq!(
        summary(&found),
        [("CVE-2019-10936", "ICSA-19-283-02", true)]
    );
    assert_eq!(found[0].matched_on, MatchBasis::Family);
    assert_eq!(found[0].fixed_in.as_deref(), Some("V4.4.0"));
}

#[test]
fn modicon_m340_by_family_and_part_number_pattern() {
    let catalog = catalog();
    let old = catalog.match_device(&device("Schneider Electric", "BMX P34 2020", "2.90"));
    assert_eq!(
        summary(&old),
        [
            ("CVE-2019-6819", "ICSA-19-183-01", true),
            ("CVE-2022-45788", "ICSA-23-201-01", true)
        ]
    );
    // The 2023 row is "Modicon M340 CPU (part numbers BMXP34*)": family and pattern both
    // match; the report names the stronger.
    assert_eq!(old[1].matched_on, MatchBasis::PartNumberPattern);
    assert_eq!(old[1].fixed_in.as_deref(), Some("SV3.51"));
    let new = catalog.match_device(&device("Schneider", "BMX P34 2020", "3.60"));
    assert!(new.is_empty(), "{new:?}");
}

#[test]
fn rockwell_series_are_respected() {
    let catalog = catalog();
    // "1756-EN2T Series D: <= 10.10"; series A/B/C rows are all versions.
    let d_old = catalog.match_device(&device("Allen-Bradley", "1756-EN2T/D", "10.10"));
    assert_eq!(
        summary(&d_old),
        [("CVE-2018-17924", "ICSA-18-310-02", true)]
    );
    let d_new = catalog.match_device(&device("Allen-Bradley", "1756-EN2T/D", "11.001"));
    assert!(
        d_new.is_empty(),
        "series D past 10.10 must not take the A/B/C rows: {d_new:?}"
    );
    let unknown = catalog.match_device(&device("Rockwell Automation", "1756-EN2T", "11.001"));
    let MatchStatus::PossiblyAffected { reason } = &unknown[0].status else {
        panic!("{unknown:?}")
    };
    assert!(reason.contains("series"), "{reason}");
}

#[test]
fn a_newer_revision_replaces_an_older_one_and_import_is_idempotent() {
    let (_, bytes) = SAMPLES
        .iter()
        .find(|(name, _)| *name == "icsa-19-283-02.json")
        .copied()
        .unwrap();
    let mut catalog = Catalog::new();
    assert_eq!(catalog.add(parse_csaf(bytes).unwrap()), AddOutcome::Added);
    assert_eq!(
        catalog.add(parse_csaf(bytes).unwrap()),
        AddOutcome::Unchanged
    );

    let edit = |version: &str, date: &str, range: &str| {
        let mut doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        doc["document"]["tracking"]["version"] = version.into();
        doc["document"]["tracking"]["current_release_date"] = date.into();
        let text = serde_json::to_string(&doc)
            .unwrap()
            .replace("vers:all/<V3.2.17", range);
        parse_csaf(text.as_bytes()).unwrap()
    };
    let older = edit("11", "2021-06-08T00:00:00.000000Z", "vers:all/<V3.2.1");
    assert_eq!(
        catalog.add(older),
        AddOutcome::Older {
            loaded_revision: "12".to_string()
        }
    );
    let s7 = device("Siemens", "6ES7 315-2EH14-0AB0", "V3.2.6");
    assert_eq!(catalog.match_device(&s7).len(), 1);

    let newer = edit("13", "2022-01-01T00:00:00.000000Z", "vers:all/<V3.2.1");
    assert_eq!(
        catalog.add(newer),
        AddOutcome::Replaced {
            previous_revision: "12".to_string()
        }
    );
    assert_eq!(catalog.len(), 1);
    assert!(
        catalog.match_device(&s7).is_empty(),
        "the old revision's rows must be gone from the index"
    );
}

#[test]
fn kev_flag_and_stable_json() {
    let mut catalog = catalog();
    catalog.add_kev(&KevCatalog {
        version: String::new(),
        cves: ["CVE-2019-10936".to_string()].into(),
    });
    let s7 = device("Siemens", "6ES7 315-2EH14-0AB0", "V3.2.6");
    let found = catalog.match_device(&s7);
    assert_eq!(found.iter().filter(|m| m.kev).count(), 1);
    assert_eq!(
        found,
        catalog.match_device(&s7),
        "matching is deterministic"
    );
    let json = serde_json::to_value(&found[1]).unwrap();
    assert_eq!(json["cve"], "CVE-2019-10936");
    assert_eq!(json["advisory"], "ICSA-19-283-02");
    assert_eq!(json["status"], "affected");
    assert_eq!(json["kev"], true);
    assert_eq!(json["cvss"]["base_score"], 7.5);
    assert_eq!(json["matched_on"], "model");
    let unknown = catalog.match_device(&device("Siemens", "6ES7 315-2EH14-0AB0", ""));
    let json = serde_json::to_value(&unknown[1]).unwrap();
    assert_eq!(json["status"], "possibly_affected");
    assert!(json["reason"]
        .as_str()
        .unwrap()
        .contains("firmware unknown"));
}

#[test]
fn malformed_documents_are_typed_errors() {
    let (_, bytes) = SAMPLES[1];
    let truncated = &bytes[..bytes.len() / 2];
    assert!(matches!(
        parse_document(truncated),
        Err(ParseError::Json { .. })
    ));
    let mut doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    doc["document"]["tracking"]["id"] = "".into();
    let error = parse_csaf(serde_json::to_string(&doc).unwrap().as_bytes()).unwrap_err();
    assert!(
        error.to_string().contains("document.tracking.id"),
        "{error}"
    );
    assert!(matches!(
        parse_document(b"\xff\xfe"),
        Err(ParseError::Json { .. })
    ));
    assert!(matches!(parse_document(bytes), Ok(Document::Advisory(_))));
}

#[test]
fn no_prefix_of_a_real_document_panics() {
    // Every cut of a real document is an error (or, at the very end, the document): a
    // half-written file is reported, never a crash.
    let (_, bytes) = SAMPLES[0];
    for end in (0..bytes.len()).step_by(131) {
        assert!(parse_document(&bytes[..end]).is_err(), "cut at {end}");
    }
    // Bytes that are not text at all, and deep nesting, are errors too.
    assert!(parse_document(&[0u8, 159, 146, 150]).is_err());
    let deep = "[".repeat(10_000);
    assert!(parse_document(deep.as_bytes()).is_err());
}

#[test]
fn end_of_life_where_the_advisory_says_so_of_the_product() {
    let catalog = catalog();
    let eol = |vendor: &str, model: &str, firmware: &str| -> Vec<(String, bool)> {
        catalog
            .match_device(&device(vendor, model, firmware))
            .into_iter()
            .map(|m| (m.advisory, m.end_of_life))
            .collect()
    };
    // ICSA-21-005-01 gives every row "Modicon Premium and Modicon Quantum controllers have
    // reached their end of life": the Quantum is end of life, the M340 beside it is not.
    let quantum = eol("Schneider Electric", "140CPU65160", "");
    assert!(
        quantum.contains(&("ICSA-21-005-01".to_string(), true)),
        "{quantum:?}"
    );
    // ICSA-23-201-01 calls it "Legacy Modicon Quantum" and states no end of life.
    assert!(quantum.contains(&("ICSA-23-201-01".to_string(), false)));
    let m340 = eol("Schneider Electric", "BMX NOE 0100", "");
    // Its three CVEs, none end of life.
    assert_eq!(m340, vec![("ICSA-21-005-01".to_string(), false); 3]);
    // A product with a fixed version is maintained: the S7-300 advisories are not EOL.
    let s7 = eol("Siemens", "6ES7 315-2EH14-0AB0", "V3.2.6");
    assert!(!s7.is_empty() && s7.iter().all(|(_, e)| !e), "{s7:?}");
}

#[test]
fn end_of_life_wording_of_real_advisories() {
    use otwatch_advisories::says_end_of_life;
    for text in [
        "This product is end-of-life and is no longer supported.",
        "Eaton declared these products EoL on January 31, 2014",
        "The following products are discontinued as of October 1, 2019.",
        "ADAM-5550 is currently being phased out",
        "The Series 1 ROC800 and DL8000 became obsolete in 2008",
        "The iSTAR Pro controller has reached its end-of-support period",
    ] {
        assert!(says_end_of_life(text), "{text}");
    }
    for text in [
        "Update to V3.2.17 or later version",
        "Lantronix states that XPort is an old legacy product",
        "Siemens recommends to apply the general security recommendations (Geolocation)",
    ] {
        assert!(!says_end_of_life(text), "{text}");
    }
}
