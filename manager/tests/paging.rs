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

/// A sensor at each of two sites sending item number `n` as `make(seq, n)`: 15 each to start
/// (numbers `40 n + i` for sensor `i`), then one more at a time (a random number below 600, so
/// it sorts before or after a cursor).
struct Arrivals {
    sensors: Vec<(SensorLinkClient<Channel>, u64)>,
    make: fn(u64, u64) -> Delta,
    rng: Rng,
}

impl Arrivals {
    async fn start(fx: &Fixture, make: fn(u64, u64) -> Delta) -> Arrivals {
        let mut a = Arrivals {
            sensors: Vec::new(),
            make,
            rng: Rng(0x9e37_79b9_7f4a_7c15),
        };
        for name in ["plant-a", "plant-b"] {
            a.sensors.push((sensor_at(fx, name).await, 0));
        }
        for i in 0..2 {
            for n in 0..15 {
                a.send(i, 40 * n + i as u64).await;
            }
        }
        a
    }

    async fn send(&mut self, i: usize, n: u64) {
        let (c, seq) = &mut self.sensors[i];
        *seq += 1;
        sync(c, vec![vec![(self.make)(*seq, n)]]).await.unwrap();
    }

    async fn another(&mut self) {
        let (i, n) = (self.rng.below(2) as usize, self.rng.below(600));
        self.send(i, n).await;
    }
}

/// Lists the 30 items in one page with `list` (page size, token → their keys, next token), then
/// pages through them in random sizes of 1 to 4 while `arrivals` sends another item between
/// pages: the keys come out strictly ascending and include every one listed first.
async fn page_while_arriving<K: Ord + std::fmt::Debug>(
    arrivals: &mut Arrivals,
    mut list: impl AsyncFnMut(u32, String) -> (Vec<K>, String),
) {
    let first = list(1000, String::new()).await.0;
    assert_eq!(first.len(), 30);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut listed, mut token) = (Vec::new(), String::new());
    loop {
        let (keys, next) = list(1 + rng.below(4) as u32, token).await;
        listed.extend(keys);
        token = next;
        if token.is_empty() {
            break;
        }
        arrivals.another().await;
    }
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{listed:?}");
    for k in &first {
        assert!(listed.contains(k), "{k:?} skipped");
    }
}

#[tokio::test]
async fn alerts_page_by_cursor_while_alerts_arrive() {
    let fx = Fixture::start().await;
    let mut op = fx.operator("alice", OperatorRole::Viewer).await;
    let mut arrivals = Arrivals::start(&fx, |seq, n| alert(seq, &format!("alert-{n:05}"))).await;
    page_while_arriving(&mut arrivals, async |page_size, page_token| {
        let r = op
            .list_alerts(ListAlertsRequest {
                page_size,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let keys = r.alerts.into_iter().map(|a| (a.site, a.id)).collect();
        (keys, r.next_page_token)
    })
    .await;
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
    let client = |seq, n: u64| {
        let client = format!("10.1.{}.{}", n / 250, n % 250);
        connection(seq, &client, "10.0.0.1", 10)
    };
    let mut arrivals = Arrivals::start(&fx, client).await;
    page_while_arriving(&mut arrivals, async |page_size, page_token| {
        let r = op
            .list_connections(ListConnectionsRequest {
                page_size,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let keys = r
            .connections
            .into_iter()
            .map(|c| {
                let conn = c.connection.unwrap_or_default();
                (c.site, conn.client, conn.server)
            })
            .collect();
        (keys, r.next_page_token)
    })
    .await;
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
