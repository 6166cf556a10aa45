#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::view::SiteAssets;
use otwatch_proto::v1::{Connection, Provenance};
use std::sync::Arc;

fn fleet_asset(site: &str, id: &str, ip: &str, sensors: &[&str], segments: &[u32]) -> FleetAsset {
    FleetAsset {
        id: format!("{site}/{id}"),
        site: site.into(),
        asset: Some(Asset {
            id: id.into(),
            ips: vec![ip.into()],
            segments: segments.to_vec(),
            device_type: "plc".into(),
            purdue_level: Some(1),
            ..Default::default()
        }),
        seen_by: sensors
            .iter()
            .map(|s| Provenance {
                sensor_id: s.to_string(),
                sensor_asset_id: id.into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn conn(site: &str, client: &str, server: &str, sensor: &str, segment: u32) -> FleetConnection {
    FleetConnection {
        site: site.into(),
        connection: Some(Connection {
            client: client.into(),
            server: server.into(),
            transport: "tcp".into(),
            port: 443,
            segment,
            ..Default::default()
        }),
        sensors: vec![sensor.into()],
    }
}

fn site(assets: Vec<FleetAsset>, connections: Vec<FleetConnection>) -> SiteInventory {
    SiteInventory {
        assets: Arc::new(assets.into_iter().map(Arc::new).collect()),
        connections,
    }
}

fn exposed(report: &InventoryReport) -> Vec<String> {
    otwatch_risk::assess("", report)
        .internet
        .into_iter()
        .map(|e| e.asset)
        .collect()
}

/// Two plants both use 10.0.0.5 untagged; only one of them talks to the internet.
#[test]
fn the_same_address_at_two_sites_stays_two_assets_in_one_report() {
    let report = inventory(
        vec![
            site(
                vec![fleet_asset("a", "ip:10.0.0.5", "10.0.0.5", &["s-a"], &[])],
                vec![],
            ),
            site(
                vec![fleet_asset("b", "ip:10.0.0.5", "10.0.0.5", &["s-b"], &[])],
                vec![conn("b", "10.0.0.5", "8.8.8.8", "s-b", 0)],
            ),
        ],
        &Catalog::new(),
    );
    let ids: Vec<&str> = report.assets.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a/ip:10.0.0.5", "b/ip:10.0.0.5"]);
    assert_ne!(report.assets[0].vlans, report.assets[1].vlans);
    assert_eq!(report.connections[0].vlan, report.assets[1].vlans[0]);
    assert_eq!(exposed(&report), ["b/ip:10.0.0.5"]);
}

/// Segment 2 of one sensor is not segment 2 of another.
#[test]
fn capture_segments_are_numbered_per_sensor() {
    let report = inventory(
        vec![site(
            vec![
                fleet_asset("a", "ip:10.0.0.5%s1", "10.0.0.5", &["s1"], &[2]),
                fleet_asset("a", "ip:10.0.0.5%s2", "10.0.0.5", &["s2"], &[2]),
                fleet_asset("a", "ip:10.0.0.9", "10.0.0.9", &["s1"], &[]),
            ],
            vec![
                conn("a", "10.0.0.5", "1.1.1.1", "s2", 2),
                conn("a", "10.0.0.9", "9.9.9.9", "s1", 0),
            ],
        )],
        &Catalog::new(),
    );
    let seg = |i: usize| report.assets[i].segments.clone();
    assert_ne!(seg(0), seg(1));
    assert!(seg(2).is_empty(), "the default segment stays the default");
    assert_eq!(report.connections[0].segment, seg(1)[0]);
    assert_eq!(report.connections[1].segment, 0);
    assert_eq!(exposed(&report), ["a/ip:10.0.0.5%s2", "a/ip:10.0.0.9"]);
}

/// An asset merged from two sensors' parts on segments is found on either sensor's segment.
#[test]
fn a_merged_asset_is_on_the_segments_of_each_of_its_sensors() {
    let report = inventory(
        vec![site(
            vec![fleet_asset("a", "mac:1", "10.0.0.5", &["s1", "s2"], &[3])],
            vec![conn("a", "10.0.0.5", "1.1.1.1", "s2", 3)],
        )],
        &Catalog::new(),
    );
    assert_eq!(report.assets[0].segments.len(), 2);
    assert_eq!(exposed(&report), ["a/mac:1"]);
}

#[test]
fn sites_are_sorted_by_fleet_id_and_an_empty_fleet_is_an_empty_report() {
    let report = inventory(
        vec![
            site(vec![fleet_asset("a", "x", "10.0.0.1", &["s"], &[])], vec![]),
            site(
                vec![fleet_asset("a-b", "x", "10.0.0.1", &["t"], &[])],
                vec![],
            ),
        ],
        &Catalog::new(),
    );
    let ids: Vec<&str> = report.assets.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a-b/x", "a/x"]);
    assert_eq!(report.schema, INVENTORY_SCHEMA);
    let empty = inventory(vec![], &Catalog::new());
    assert!(empty.assets.is_empty() && empty.connections.is_empty());
    let r = otwatch_risk::assess("", &empty);
    assert_eq!((r.security_score, r.band.as_str()), (100, "good"));
}

/// The worked example of docs/RISK.md, number for number.
#[test]
fn the_worked_example_of_docs_risk_md() {
    use otwatch_proto::v1::{CleartextLogin, Vulnerability};
    let vuln = |cve: &str, cvss: f64, status: &str, kev: bool, fixed_in: &str| Vulnerability {
        cve: cve.into(),
        fixed_in: fixed_in.into(),
        advisory: "ICSA-00-000-00".into(),
        cvss,
        status: status.into(),
        kev,
        ..Default::default()
    };
    let mut plc = fleet_asset("plant-a", "mac:plc", "10.77.2.22", &["s1"], &[]);
    plc.asset.as_mut().unwrap().vulnerabilities = vec![
        vuln("CVE-2018-16561", 7.5, "affected", false, "V3.X.16"),
        vuln("CVE-2019-10936", 7.5, "affected", false, "V3.2.17"),
        vuln("CVE-2020-15791", 5.9, "affected", false, ""),
    ];
    let mut hmi = fleet_asset("plant-a", "mac:hmi", "10.77.2.10", &["s1"], &[]);
    let a = hmi.asset.as_mut().unwrap();
    a.device_type = "hmi".into();
    a.purdue_level = Some(2);
    a.vulnerabilities = vec![vuln("CVE-2099-0001", 9.8, "possibly_affected", true, "")];
    let mut ftp = conn("plant-a", "10.77.2.30", "10.77.2.10", "s1", 0);
    let c = ftp.connection.as_mut().unwrap();
    c.protocol = "ftp".into();
    c.cleartext_logins = vec![CleartextLogin {
        user: "operator".into(),
        protocol: "ftp".into(),
        ..Default::default()
    }];
    let report = inventory(
        vec![site(
            vec![plc, hmi],
            vec![
                conn("plant-a", "10.77.2.10", "10.77.2.22", "s1", 0),
                conn("plant-a", "10.77.2.10", "8.8.8.8", "s1", 0),
                conn("plant-a", "10.77.2.10", "1.1.1.1", "s1", 0),
                ftp,
            ],
        )],
        &Catalog::new(),
    );
    let r = otwatch_risk::assess("plant-a", &report);
    let risks: Vec<(&str, f64, &str)> = r
        .assets
        .iter()
        .map(|a| (a.asset.as_str(), a.risk, a.exposure.as_str()))
        .collect();
    assert_eq!(
        risks,
        [
            ("plant-a/mac:hmi", 72.0, "external"),
            ("plant-a/mac:plc", 45.6, "internal")
        ]
    );
    let hmi_severities: Vec<f64> = r.assets[0].findings.iter().map(|f| f.severity).collect();
    assert_eq!(hmi_severities, [8.0, 6.0, 5.9]);
    assert_eq!((r.security_score, r.band.as_str()), (49, "poor"));
    let fix = r
        .remediations
        .iter()
        .find(|m| m.action == "update to V3.2.17")
        .unwrap();
    assert_eq!(
        (fix.cves.clone(), fix.risk_reduced),
        (
            vec!["CVE-2018-16561".to_string(), "CVE-2019-10936".to_string()],
            10.2
        )
    );
}

/// Figures for GetRisk's work on a large site (not a pass/fail test; timings never go in
/// assertions): ASSETS merged assets (default 100 000; a fifth of them S7-300s that the sample
/// advisories match) and three connections per asset, some to the internet.
/// `cargo test -p otwatch-manager --release --lib risk::tests::figures -- --ignored --nocapture`
#[test]
#[ignore]
fn figures() {
    use otwatch_common::advisories::{add_document, read_paths, LoadReport};
    use std::time::Instant;
    let n: usize = std::env::var("ASSETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut catalog = Catalog::new();
    let mut report = LoadReport::default();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/advisories");
    read_paths(&[samples], &mut report, |read| {
        add_document(&mut catalog, read.document, &mut LoadReport::default())
    })
    .unwrap();
    let ip = |i: usize| format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255);
    let assets: Vec<Arc<FleetAsset>> = (0..n)
        .map(|i| {
            let mut fa = fleet_asset("big", &format!("ip:{}", ip(i)), &ip(i), &["s1"], &[]);
            let a = fa.asset.as_mut().unwrap();
            a.device_type = ["plc", "hmi", "switch", "it_host", "rtu"][i % 5].into();
            a.purdue_level = Some([1, 2, 2, 4, 1][i % 5]);
            if i % 5 == 0 {
                a.vendor = "Siemens".into();
                a.model = "6ES7 315-2EH14-0AB0".into();
                a.firmware = "V3.2.6".into();
            }
            Arc::new(fa)
        })
        .collect();
    let mut connections = Vec::with_capacity(3 * n);
    for i in 0..n {
        for d in [1, 7, 31] {
            let server = if i % 997 == 0 && d == 31 {
                "8.8.8.8".to_string()
            } else {
                ip((i + d) % n)
            };
            connections.push(conn("big", &ip(i), &server, "s1", 0));
        }
    }
    let assets = Arc::new(SiteAssets::from(assets));
    let input = SiteInventory {
        assets: assets.clone(),
        connections: connections.clone(),
    };
    let started = Instant::now();
    let copied = inventory(vec![input], &Catalog::new());
    let copy = started.elapsed();
    drop(copied);
    let started = Instant::now();
    let report = inventory(
        vec![SiteInventory {
            assets,
            connections,
        }],
        &catalog,
    );
    let built = started.elapsed();
    println!(
        "report built without advisories (copy only): {:.0} ms",
        copy.as_secs_f64() * 1e3
    );
    let started = Instant::now();
    let r = otwatch_risk::assess("big", &report);
    let assessed = started.elapsed();
    println!(
        "assets: {n}, connections: {}, advisories: {}",
        report.connections.len(),
        catalog.len()
    );
    println!(
        "report built (copy, vulnerabilities attached): {:.0} ms",
        built.as_secs_f64() * 1e3
    );
    println!("assessed: {:.0} ms", assessed.as_secs_f64() * 1e3);
    println!(
        "score {} ({}), {} assets at risk, {} remediations, {} single points of failure",
        r.security_score,
        r.band,
        r.assets.len(),
        r.remediations.len(),
        r.single_points_of_failure.len()
    );
    assert!(r.assets.len() >= n / 5);
}

/// A day in Unix seconds: 2026-12-01 + `n` days, at noon.
fn day(n: i64) -> i64 {
    1_796_126_400 + n * 86_400
}

#[test]
fn the_trend_keeps_the_last_score_of_each_day_and_writes_only_on_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::SledStore::open(dir.path()).unwrap();
    assert_eq!(day_of(day(0)), "2026-12-01");
    let t = trend(&store, "plant-a", day(0), 70).unwrap();
    assert_eq!(
        t,
        [ScorePoint {
            date: "2026-12-01".into(),
            security_score: 70,
            band: "fair".into()
        }]
    );
    // The same score again that day: nothing written.
    let flushes = store.flushes();
    trend(&store, "plant-a", day(0) + 3600, 70).unwrap();
    assert_eq!(store.flushes(), flushes);
    // A new score the same day replaces the day's; the next day adds one.
    trend(&store, "plant-a", day(0) + 7200, 55).unwrap();
    let t = trend(&store, "plant-a", day(1), 81).unwrap();
    let points: Vec<(&str, u32, &str)> = t
        .iter()
        .map(|p| (p.date.as_str(), p.security_score, p.band.as_str()))
        .collect();
    assert_eq!(
        points,
        [("2026-12-01", 55, "poor"), ("2026-12-02", 81, "good")]
    );
    // Scopes are apart: the fleet ("") and another site have their own days.
    assert_eq!(trend(&store, "", day(1), 90).unwrap().len(), 1);
    assert_eq!(trend(&store, "plant-a-b", day(1), 90).unwrap().len(), 1);
    // The trend shows the last TREND_DAYS days.
    for n in 2..(TREND_DAYS as i64 + 10) {
        trend(&store, "plant-a", day(n), 60).unwrap();
    }
    let t = trend(&store, "plant-a", day(TREND_DAYS as i64 + 10), 61).unwrap();
    assert_eq!(t.len(), TREND_DAYS);
    assert_eq!(t.last().map(|p| p.security_score), Some(61));
    assert_eq!(store.scores("plant-a").unwrap().len(), TREND_DAYS + 11);
}

#[test]
fn shadow_devices_are_the_unapproved_assets_of_sites_with_an_approved_inventory() {
    let a = Arc::new(SiteAssets::from(vec![
        Arc::new(fleet_asset(
            "plant-a",
            "ip:10.0.0.1",
            "10.0.0.1",
            &["s1"],
            &[],
        )),
        Arc::new(fleet_asset(
            "plant-a",
            "ip:10.0.0.2",
            "10.0.0.2",
            &["s1"],
            &[],
        )),
    ]));
    let b = Arc::new(SiteAssets::from(vec![Arc::new(fleet_asset(
        "plant-b",
        "ip:10.0.0.9",
        "10.0.0.9",
        &["s2"],
        &[],
    ))]));
    let inv = |assets: &Snapshot| SiteInventory {
        assets: assets.clone(),
        connections: Vec::new(),
    };
    let approvals = Approvals::from_ids(["plant-a/ip:10.0.0.1".to_string()]);
    let (shadow, unapproved) = shadow_devices(
        &[inv(&a), inv(&b)],
        &["plant-a".into(), "plant-b".into()],
        &approvals,
    );
    let ids: Vec<(&str, &str, &str)> = shadow
        .iter()
        .map(|d| (d.asset.as_str(), d.name.as_str(), d.device_type.as_str()))
        .collect();
    assert_eq!(ids, [("plant-a/ip:10.0.0.2", "10.0.0.2", "plc")]);
    assert_eq!(unapproved, ["plant-b"]);
}
