//! ListAssets, ListAlerts and ListConnections page through cursors: paging while devices,
//! alerts or connections come and go lists every one that existed throughout exactly once, in
//! order; tokens of other filters, calls or older managers are refused with what to do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::sensor_link_client::SensorLinkClient;
use otwatch_proto::v1::*;
use std::collections::{BTreeMap, BTreeSet};
use tonic::transport::Channel;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Device `n`: its MAC (what identifies it in a listing) and its upsert; every third is a PLC.
fn device(seq: u64, n: u64) -> (String, Delta) {
    let mac = format!("02:00:00:00:{:02x}:{:02x}", n >> 8, n & 0xff);
    let ip = format!("10.0.{}.{}", n >> 8, n & 0xff);
    let kind = if n % 3 == 0 { "plc" } else { "hmi" };
    let d = typed(seq, &format!("mac:{mac}"), &mac, &ip, kind, 1);
    (mac, d)
}

fn is_plc(mac: &str) -> bool {
    let n = u64::from_str_radix(&mac[12..14], 16).unwrap() * 256
        + u64::from_str_radix(&mac[15..17], 16).unwrap();
    n % 3 == 0
}

/// One site's sensor and what it holds: device number by MAC.
struct Site {
    name: &'static str,
    sensor: SensorLinkClient<Channel>,
    seq: u64,
    devices: BTreeMap<String, u64>,
}

impl Site {
    async fn add(&mut self, n: u64) {
        self.seq += 1;
        let (mac, d) = device(self.seq, n);
        sync(&mut self.sensor, vec![vec![d]]).await.unwrap();
        self.devices.insert(mac, n);
    }

    async fn remove(&mut self, mac: &str) {
        self.seq += 1;
        let d = Delta {
            seq: self.seq,
            change: Some(delta::Change::AssetRemoved(format!("mac:{mac}"))),
            ..Default::default()
        };
        sync(&mut self.sensor, vec![vec![d]]).await.unwrap();
        self.devices.remove(mac);
    }
}

fn key(a: &FleetAsset) -> (String, String) {
    let mac = a.asset.as_ref().unwrap().macs[0].clone();
    (a.site.clone(), mac)
}

#[tokio::test]
async fn paging_while_devices_come_and_go_lists_each_lasting_device_once() {
    let fx = Fixture::start().await;
    let mut op = fx.operator("alice", OperatorRole::Viewer).await;
    let mut sites = Vec::new();
    for name in ["plant-a", "plant-b"] {
        sites.push(Site {
            name,
            sensor: sensor_at(&fx, name).await,
            seq: 0,
            devices: BTreeMap::new(),
        });
    }
    let mut next = 0u64;
    for s in &mut sites {
        for _ in 0..40 {
            s.add(next).await;
            next += 1;
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let queries = [
        ListAssetsRequest::default(),
        ListAssetsRequest {
            site: "plant-b".into(),
            ..Default::default()
        },
        ListAssetsRequest {
            device_type: "plc".into(),
            ..Default::default()
        },
        ListAssetsRequest {
            text: "02:00:00:00:00".into(),
            ..Default::default()
        },
    ];
    let matches = |q: &ListAssetsRequest, site: &str, mac: &str| {
        (q.site.is_empty() || q.site == site)
            && (q.device_type.is_empty() || is_plc(mac))
            && (q.text.is_empty() || mac.starts_with(&q.text))
    };
    for q in &queries {
        // Unchanged, small pages list exactly what one big page lists.
        let whole = op
            .list_assets(ListAssetsRequest {
                page_size: 1000,
                ..q.clone()
            })
            .await
            .unwrap()
            .into_inner();
        let mut paged = Vec::new();
        let mut token = String::new();
        loop {
            let r = op
                .list_assets(ListAssetsRequest {
                    page_size: 7,
                    page_token: token,
                    ..q.clone()
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.total, whole.total, "{q:?}");
            paged.extend(r.assets);
            token = r.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(paged, whole.assets, "{q:?}");
        let want = sites
            .iter()
            .flat_map(|s| s.devices.keys().map(|m| (s.name, m.as_str())))
            .filter(|(site, mac)| matches(q, site, mac))
            .count();
        assert_eq!(paged.len(), want, "{q:?}");

        // Devices come and go between pages: every device there from the first page to the
        // last is listed once, in fleet id order, and nothing that never existed is.
        let before: BTreeSet<(String, String)> = sites
            .iter()
            .flat_map(|s| s.devices.keys().map(|m| (s.name.to_string(), m.clone())))
            .collect();
        let mut ever = before.clone();
        let mut lasting = before.clone();
        let (mut listed, mut ids) = (Vec::new(), Vec::<String>::new());
        let mut token = String::new();
        loop {
            let r = op
                .list_assets(ListAssetsRequest {
                    page_size: 1 + rng.below(9) as u32,
                    page_token: token,
                    ..q.clone()
                })
                .await
                .unwrap()
                .into_inner();
            for a in &r.assets {
                listed.push(key(a));
                ids.push(a.id.clone());
            }
            token = r.next_page_token;
            if token.is_empty() {
                break;
            }
            for _ in 0..rng.below(4) {
                let s = &mut sites[rng.below(2) as usize];
                if rng.below(2) == 0 && s.devices.len() > 5 {
                    let i = rng.below(s.devices.len() as u64) as usize;
                    let mac = s.devices.keys().nth(i).unwrap().clone();
                    s.remove(&mac).await;
                    lasting.remove(&(s.name.to_string(), mac));
                } else {
                    // New device numbers are spread over the id space (before and after the
                    // cursor).
                    let n = 1000 + rng.below(60_000);
                    if s.devices.values().any(|v| *v == n) {
                        continue;
                    }
                    s.add(n).await;
                    ever.insert((s.name.to_string(), device(0, n).0));
                }
            }
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{q:?}: {ids:?}");
        let listed: BTreeSet<(String, String)> = listed.into_iter().collect();
        for k in &lasting {
            if matches(q, &k.0, &k.1) {
                assert!(listed.contains(k), "{q:?}: {k:?} skipped");
            }
        }
        for k in &listed {
            assert!(ever.contains(k) && matches(q, &k.0, &k.1), "{q:?}: {k:?}");
        }
    }

    // A token is tied to its filters and to this format.
    let first = op
        .list_assets(ListAssetsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for (token, device_type, says) in [
        (first.next_page_token.as_str(), "plc", "other filters"),
        ("5", "", "next_page_token"),
        ("c1.0000000000000000.zz", "", "next_page_token"),
    ] {
        let r = op
            .list_assets(ListAssetsRequest {
                device_type: device_type.into(),
                page_token: token.into(),
                ..Default::default()
            })
            .await;
        assert_bad_token(r, token, says);
    }
}

#[tokio::test]
async fn alerts_page_by_cursor_while_alerts_arrive() {
    let fx = Fixture::start().await;
    let mut op = fx.operator("alice", OperatorRole::Viewer).await;
    let mut sensors = Vec::new();
    for name in ["plant-a", "plant-b"] {
        sensors.push((sensor_at(&fx, name).await, 0u64));
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let raise = |n: u64| format!("alert-{n:05}");
    for (i, (c, seq)) in sensors.iter_mut().enumerate() {
        for n in 0..15 {
            *seq += 1;
            sync(c, vec![vec![alert(*seq, &raise(n * 1000 + i as u64))]])
                .await
                .unwrap();
        }
    }
    let first: Vec<(String, String)> = op
        .list_alerts(ListAlertsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
        .into_iter()
        .map(|a| (a.site, a.id))
        .collect();
    assert_eq!(first.len(), 30);
    let mut listed: Vec<(String, String)> = Vec::new();
    let mut token = String::new();
    loop {
        let r = op
            .list_alerts(ListAlertsRequest {
                page_size: 1 + rng.below(4) as u32,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        listed.extend(r.alerts.into_iter().map(|a| (a.site, a.id)));
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
        // New alerts sort before and after the cursor.
        let (c, seq) = &mut sensors[rng.below(2) as usize];
        *seq += 1;
        sync(c, vec![vec![alert(*seq, &raise(rng.below(15_000)))]])
            .await
            .unwrap();
    }
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{listed:?}");
    for a in &first {
        assert!(listed.contains(a), "{a:?} skipped");
    }
    // A ListAssets token is not a ListAlerts one, nor one of other filters.
    let assets =
        otwatch_manager::api::assets_page_token(&ListAssetsRequest::default(), "plant-a/x")
            .unwrap();
    let some = op
        .list_alerts(ListAlertsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for (token, state, says) in [
        (assets.as_str(), "", "not a ListAlerts page token"),
        (some.next_page_token.as_str(), "open", "other filters"),
        ("1", "", "next_page_token"),
    ] {
        let r = op
            .list_alerts(ListAlertsRequest {
                state: state.into(),
                page_token: token.into(),
                ..Default::default()
            })
            .await;
        assert_bad_token(r, token, says);
    }
}

#[tokio::test]
async fn connections_page_by_cursor_while_connections_arrive() {
    let fx = Fixture::start().await;
    let mut op = fx.operator("alice", OperatorRole::Viewer).await;
    let mut sensors = Vec::new();
    for name in ["plant-a", "plant-b"] {
        sensors.push((sensor_at(&fx, name).await, 0u64));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let client = |n: u64| format!("10.1.{}.{}", n / 250, n % 250);
    for (c, seq) in sensors.iter_mut() {
        for n in 0..15 {
            *seq += 1;
            let d = connection(*seq, &client(n * 40), "10.0.0.1", 10);
            sync(c, vec![vec![d]]).await.unwrap();
        }
    }
    let key = |c: &FleetConnection| {
        let conn = c.connection.clone().unwrap_or_default();
        (c.site.clone(), conn.client, conn.server)
    };
    let first: Vec<_> = op
        .list_connections(ListConnectionsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .connections
        .iter()
        .map(key)
        .collect();
    assert_eq!(first.len(), 30);
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let r = op
            .list_connections(ListConnectionsRequest {
                page_size: 1 + rng.below(4) as u32,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        listed.extend(r.connections.iter().map(key));
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
        // New connections sort before and after the cursor.
        let (c, seq) = &mut sensors[rng.below(2) as usize];
        *seq += 1;
        let d = connection(*seq, &client(rng.below(600)), "10.0.0.1", 10);
        sync(c, vec![vec![d]]).await.unwrap();
    }
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{listed:?}");
    for c in &first {
        assert!(listed.contains(c), "{c:?} skipped");
    }
    // An assets token is not a connections one, nor one of other filters.
    let some = op
        .list_connections(ListConnectionsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let assets =
        otwatch_manager::api::assets_page_token(&ListAssetsRequest::default(), "plant-a/x")
            .unwrap();
    for (token, address, says) in [
        (assets.as_str(), "", "not a ListConnections page token"),
        (some.next_page_token.as_str(), "10.0.0.1", "other filters"),
        ("2", "", "next_page_token"),
    ] {
        let r = op
            .list_connections(ListConnectionsRequest {
                address: address.into(),
                page_token: token.into(),
                ..Default::default()
            })
            .await;
        assert_bad_token(r, token, says);
    }
}
