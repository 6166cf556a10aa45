#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use otwatch_proto::v1::{AssetRisk, Remediation, RiskFinding, SinglePointOfFailure};

fn assessment() -> RiskAssessment {
    RiskAssessment {
        schema: "otwatch.risk.v1".into(),
        site: String::new(),
        security_score: 58,
        band: "poor".into(),
        assets: vec![AssetRisk {
            asset: "plant-a/mac:02:00:00:00:00:01".into(),
            name: "10.0.0.5".into(),
            risk: 42.0,
            role: "controller".into(),
            exposure: "internal".into(),
            findings: vec![RiskFinding {
                kind: "cleartext_credentials".into(),
                severity: 6.0,
                detail: "telnet login in cleartext from 10.0.0.9 (user \"\u{1b}[2Jroot\")".into(),
            }],
        }],
        remediations: vec![Remediation {
            asset: "plant-a/mac:02:00:00:00:00:01".into(),
            name: "10.0.0.5".into(),
            action: "update to V3.2.17".into(),
            cves: vec!["CVE-2019-10936".into()],
            max_cvss: 7.5,
            risk_reduced: 16.5,
        }],
        single_points_of_failure: vec![SinglePointOfFailure {
            asset: "plant-a/mac:sw".into(),
            name: "10.0.0.1".into(),
            cut_controllers: vec!["plant-a/mac:plc".into()],
            cut_from: vec!["plant-a/mac:hmi".into()],
        }],
        ..Default::default()
    }
}

#[test]
fn the_table_reads_as_sentences_with_sensor_text_escaped() {
    let mut out = Vec::new();
    let sites = ["plant-a".to_string(), "plant-b".to_string()];
    print(&mut out, Format::Table, &assessment(), &sites, 10).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("fleet (2 sites): security score 58/100 (poor)\n"),
        "{text}"
    );
    assert!(
        text.contains("  plant-a   79/100  fair      1 assets at risk\n")
            && text.contains("  plant-b  100/100  good      0 assets at risk\n"),
        "{text}"
    );
    assert!(text.contains(
        "  1. update to V3.2.17 \u{2014} 10.0.0.5 (plant-a/mac:02:00:00:00:00:01): closes 1 CVE, max CVSS 7.5, risk \u{2212}16.5\n"
    ), "{text}");
    assert!(text.contains("\\u{1b}[2Jroot"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.contains("  10.0.0.1 (plant-a/mac:sw): cuts plant-a/mac:plc from plant-a/mac:hmi\n")
    );
    assert!(text.contains("INTERNET EXPOSURE\n  none seen\n"), "{text}");
}

#[test]
fn json_is_the_message_and_reads_back() {
    let mut out = Vec::new();
    print(&mut out, Format::Json, &assessment(), &[], 10).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\u{1b}'));
    let back: RiskAssessment = serde_json::from_str(&text).unwrap();
    assert_eq!(back, assessment());
}

#[test]
fn long_sections_say_how_many_more_there_are() {
    let mut r = assessment();
    r.site = "plant-a".into();
    r.remediations = vec![r.remediations[0].clone(); 4];
    let mut out = Vec::new();
    print(&mut out, Format::Table, &r, &[], 2).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("site plant-a: security score 58/100 (poor)\n\nTOP REMEDIATIONS\n"));
    assert!(text.contains("  2. update"));
    assert!(!text.contains("  3. update"));
    assert!(text.contains("  ... and 2 more (--top N, or --format json for all)\n"));
}
