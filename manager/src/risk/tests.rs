#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
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
