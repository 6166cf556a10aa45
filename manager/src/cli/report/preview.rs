//! A larger made-up fleet to look at the report with, not to assert on: two plants, one with
//! more assets per level than the map draws, every kind of finding, a month of trend.
//!
//!     OTWATCH_REPORT_PREVIEW=/tmp/preview.html cargo test -p otwatch-manager --lib \
//!         cli::report::preview -- --ignored
//!
//! then open the file, or print it (`chromium --headless --print-to-pdf=...`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::html;
use super::model::Data;
use otwatch_proto::v1::*;

fn fleet_asset(site: &str, n: u32, kind: &str, level: Option<u32>, vendor: &str) -> FleetAsset {
    let ip = format!("10.{}.{}.{}", site.len(), level.unwrap_or(9), n);
    FleetAsset {
        id: format!(
            "{site}/mac:02:00:00:00:{:02x}:{:02x}",
            level.unwrap_or(9),
            n
        ),
        site: site.into(),
        asset: Some(Asset {
            hostname: if n % 3 == 0 {
                format!("{kind}-{n:02}")
            } else {
                String::new()
            },
            ips: vec![ip],
            vendor: vendor.into(),
            model: "model X".into(),
            device_type: kind.into(),
            purdue_level: level,
            ..Default::default()
        }),
        shadow: n == 7,
        ..Default::default()
    }
}

fn vuln(cve: &str, cvss: f64, severity: &str, kev: bool, fixed_in: &str) -> Vulnerability {
    Vulnerability {
        cve: cve.into(),
        advisory: format!("ICSA-{}", &cve[4..]),
        title: "Improper Input Validation".into(),
        cvss,
        severity: severity.into(),
        status: if kev { "affected" } else { "possibly_affected" }.into(),
        fixed_in: fixed_in.into(),
        kev,
        ..Default::default()
    }
}

fn risk(asset: &FleetAsset, risk: f64, kind: &str, detail: &str) -> AssetRisk {
    AssetRisk {
        asset: asset.id.clone(),
        name: asset.asset.as_ref().unwrap().ips[0].clone(),
        risk,
        role: "controller".into(),
        exposure: "internal".into(),
        findings: vec![RiskFinding {
            kind: kind.into(),
            severity: risk / 10.0,
            detail: detail.into(),
        }],
    }
}

pub fn fleet() -> Data {
    let mut assets = Vec::new();
    for (site, extra) in [("plant-a", 14u32), ("plant-b", 3)] {
        assets.push(fleet_asset(site, 1, "it_host", Some(5), "Dell"));
        assets.push(fleet_asset(site, 2, "historian", Some(3), "OSIsoft"));
        for n in 0..extra {
            assets.push(fleet_asset(site, 10 + n, "hmi", Some(2), "Siemens"));
        }
        for n in 0..6 {
            assets.push(fleet_asset(site, 40 + n, "plc", Some(1), "Siemens"));
        }
        assets.push(fleet_asset(site, 60, "io_module", Some(0), "WAGO"));
        assets.push(fleet_asset(
            site,
            7,
            "unknown",
            None,
            "<script>alert(1)</script>",
        ));
    }
    let plc = assets.iter().position(|a| a.id.ends_with("01:28")).unwrap();
    assets[plc].asset.as_mut().unwrap().vulnerabilities = vec![
        vuln("CVE-2019-10936", 7.5, "high", false, "V3.2.17"),
        vuln("CVE-2018-16561", 7.5, "high", false, "V3.X.16"),
        vuln("CVE-2020-15791", 5.9, "medium", false, ""),
        vuln("CVE-2021-22681", 9.8, "critical", true, ""),
        vuln("CVE-2017-2680", 3.7, "low", false, "V4.0"),
    ];
    assets.sort_by(|a, b| a.id.cmp(&b.id));
    let by = |suffix: &str| assets.iter().find(|a| a.id.ends_with(suffix)).unwrap();
    let (plc, it, hist) = (by("01:28"), by("05:01"), by("03:02"));
    let connections = assets
        .iter()
        .filter(|a| a.site == "plant-a")
        .zip(assets.iter().filter(|a| a.site == "plant-a").skip(3))
        .map(|(a, b)| FleetConnection {
            site: "plant-a".into(),
            connection: Some(Connection {
                client: a.asset.as_ref().unwrap().ips[0].clone(),
                server: b.asset.as_ref().unwrap().ips[0].clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let trend = (0..30)
        .map(|d| {
            let score = 52 + (d * 7 % 13) + d / 2;
            ScorePoint {
                date: format!("2026-02-{:02}", d + 1),
                security_score: score,
                band: otwatch_risk::Band::of(score).as_str().into(),
            }
        })
        .take(28)
        .collect();
    let risk_assessment = RiskAssessment {
        schema: "otwatch.risk.v1".into(),
        security_score: 66,
        band: "fair".into(),
        assets: vec![
            risk(
                plc,
                86.4,
                "vulnerability",
                "CVE-2021-22681 (ICSA-21-056-03, CVSS 9.8, KEV)",
            ),
            risk(it, 48.0, "internet_connection", "traffic with 203.0.113.7"),
            risk(
                hist,
                25.2,
                "cleartext_credentials",
                "telnet login in cleartext as operator",
            ),
        ],
        remediations: vec![Remediation {
            asset: plc.id.clone(),
            name: "10.7.1.40".into(),
            action: "update to V3.2.17".into(),
            cves: vec!["CVE-2018-16561".into(), "CVE-2019-10936".into()],
            max_cvss: 7.5,
            risk_reduced: 10.2,
        }],
        internet: vec![InternetExposure {
            asset: it.id.clone(),
            name: "10.7.5.1".into(),
            remote: (1..9).map(|i| format!("203.0.113.{i}")).collect(),
        }],
        single_points_of_failure: vec![SinglePointOfFailure {
            asset: hist.id.clone(),
            name: "10.7.3.2".into(),
            cut_controllers: vec![plc.id.clone()],
            cut_from: vec![by("02:0a").id.clone()],
        }],
        level_skips: vec![LevelSkip {
            enterprise: it.id.clone(),
            field: plc.id.clone(),
        }],
        trend,
        shadow_devices: vec![ShadowDevice {
            asset: by("09:07").id.clone(),
            name: "<script>alert(1)</script>".into(),
            device_type: "unknown".into(),
            vendor: "\"><img src=x>".into(),
            first_seen: "2026-02-03T10:00:00Z".into(),
            ..Default::default()
        }],
        unapproved_sites: vec!["plant-b".into()],
        ..Default::default()
    };
    Data {
        site: String::new(),
        generated_at: "2026-03-01T08:00:00Z".into(),
        risk: risk_assessment,
        sites: vec!["plant-a".into(), "plant-b".into()],
        assets,
        connections,
    }
}

#[test]
#[ignore = "writes a preview to look at"]
fn write_preview() {
    let path =
        std::env::var("OTWATCH_REPORT_PREVIEW").unwrap_or("/tmp/otwatch-preview.html".into());
    std::fs::write(&path, html::render(&fleet())).unwrap();
    eprintln!("wrote {path}");
}
