#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::store::{Batch, FleetStore, SledStore, StoredKind, TokenRecord};
use otwatch_proto::v1::{delta::Change as DeltaChange, Asset, Delta};

/// xorshift64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random asset drawn from small address pools, so groups join, split and conflict often.
/// Most are named as sensors name them (after their first MAC, else first IP); some are not.
fn random_asset(rng: &mut Rng) -> Asset {
    let macs: Vec<String> = (0..rng.below(3))
        .map(|_| format!("02:00:00:00:00:0{}", rng.below(5)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ips: Vec<String> = (0..rng.below(3))
        .map(|_| format!("10.0.0.{}", rng.below(6)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let id = match (macs.first(), ips.first(), rng.below(4)) {
        (_, _, 0) | (None, None, _) => format!("a{}", rng.below(4)),
        (Some(m), _, _) => format!("mac:{m}"),
        (None, Some(ip), _) => format!("ip:{ip}"),
    };
    Asset {
        id,
        macs,
        ips,
        vendor: format!("V{}", rng.below(3)),
        hostname: format!("host-{}", rng.below(5)),
        device_type: ["", "plc", "hmi", "PLC"][rng.below(4) as usize].into(),
        purdue_level: [None, Some(1), Some(2)][rng.below(3) as usize],
        protocols: ["modbus", "dnp3", "s7comm"][..rng.below(4) as usize]
            .iter()
            .map(|p| otwatch_proto::v1::ProtocolUse {
                name: (*p).into(),
                ..Default::default()
            })
            .collect(),
        packets: rng.below(100),
        ..Default::default()
    }
}

fn from_scratch(v: &SiteView, site: &str) -> Vec<FleetAsset> {
    let input = v
        .parts
        .iter()
        .map(|(k, a)| (k.0.clone(), a.asset()))
        .collect();
    merge_assets(site, input)
}

fn current(v: &SiteView) -> Vec<FleetAsset> {
    v.assets().map(Stored::decode).collect()
}

#[test]
fn incremental_regrouping_equals_a_full_merge() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut v = SiteView::default();
        for step in 0..60 {
            let mut seeds = BTreeSet::new();
            for _ in 0..=rng.below(4) {
                let sensor = format!("s-{}", rng.below(3));
                if rng.below(4) == 0 {
                    // Remove one of that sensor's parts, if any.
                    let key = v.parts.keys().find(|k| k.0 == sensor).cloned();
                    if let Some(key) = key {
                        v.set_part(key.clone(), None);
                        seeds.insert(key);
                    }
                } else {
                    let a = random_asset(&mut rng);
                    let key = (sensor, a.id.clone());
                    v.set_part(key.clone(), Some(a));
                    seeds.insert(key);
                }
            }
            v.regroup("a", seeds);
            assert_eq!(
                current(&v),
                from_scratch(&v, "a"),
                "seed {seed} step {step}"
            );
            let ids: BTreeSet<&str> = v.merged.iter().map(Stored::id).collect();
            let n = ids.len();
            assert_eq!(n, v.merged.iter().count());
            // The filter columns follow the changes: published now, they answer as comparing
            // every asset would.
            let snap = v.merged.publish();
            assert_eq!(snap.len(), n);
            super::chunks::tests::agrees_with_brute_force(&snap, rng.next(), 10);
            assert_eq!(
                v.group_of.len(),
                v.parts.len(),
                "every part has a merged asset"
            );
        }
    }
}

fn enrol(store: &SledStore, n: u8, site: &str) -> String {
    store
        .create_token(
            [n; 32],
            TokenRecord {
                site: site.into(),
                created_at: 0,
                expires_at: i64::MAX,
                used_by: None,
            },
        )
        .unwrap();
    let id = format!("s-{n}");
    let rec = crate::store::SensorRecord {
        id: id.clone(),
        ..Default::default()
    };
    store.enroll([n; 32], 1, rec).unwrap();
    id
}

fn upsert(seq: u64, id: &str, mac: &str, ip: &str) -> Delta {
    Delta {
        seq,
        change: Some(DeltaChange::Asset(Asset {
            id: id.into(),
            macs: vec![mac.into()],
            ips: vec![ip.into()],
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// Applies a batch to the store and tells the view, as the Sync handler does.
fn sync(store: &SledStore, view: &FleetView, sensor: &str, deltas: &[Delta]) {
    let r = store.apply_batch(Batch::new(sensor, deltas), 5).unwrap();
    let batch = Replay {
        sensor: sensor.to_string(),
        previous_seq: r.previous_seq,
        applied_seq: r.applied_seq,
        deltas: r.committed(deltas.to_vec()),
    };
    view.applied(store, &r.site, batch).unwrap();
}

fn listing(view: &FleetView, store: &SledStore, site: &str) -> Vec<FleetAsset> {
    let snap = view.snapshot(store, site).unwrap();
    snap.iter().map(Stored::decode).collect()
}

#[test]
fn the_view_follows_batches_and_matches_a_fresh_build() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (s1, s2, s3) = (
        enrol(&store, 1, "a"),
        enrol(&store, 2, "a"),
        enrol(&store, 3, "b"),
    );
    let view = FleetView::default();
    sync(&store, &view, &s1, &[upsert(1, "mac:1", "m1", "10.0.0.1")]);
    assert_eq!(
        listing(&view, &store, "a").len(),
        1,
        "built at the first batch"
    );
    // The same device from another sensor of the site merges; the other site stays apart.
    sync(&store, &view, &s2, &[upsert(1, "mac:1", "m1", "10.0.0.9")]);
    sync(&store, &view, &s3, &[upsert(1, "mac:1", "m1", "10.0.0.1")]);
    let a = listing(&view, &store, "a");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].seen_by.len(), 2);
    assert_eq!(listing(&view, &store, "b").len(), 1);
    // The device's MAC changes on one sensor: the merged asset splits.
    sync(
        &store,
        &view,
        &s2,
        &[
            upsert(2, "mac:2", "m2", "10.0.0.9"),
            Delta {
                seq: 3,
                change: Some(DeltaChange::AssetRemoved("mac:1".into())),
                ..Default::default()
            },
        ],
    );
    let fresh = FleetView::default();
    for site in ["a", "b"] {
        assert_eq!(listing(&view, &store, site), listing(&fresh, &store, site));
    }
    assert_eq!(listing(&view, &store, "a").len(), 2);
}

#[test]
fn a_missed_batch_reloads_that_sensor_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let s1 = enrol(&store, 1, "a");
    let view = FleetView::default();
    sync(&store, &view, &s1, &[upsert(1, "mac:1", "m1", "10.0.0.1")]);
    assert_eq!(listing(&view, &store, "a").len(), 1);
    // Batch 2 reaches the store but not the view (another stream of the sensor, still running).
    store
        .apply_batch(Batch::new(&s1, &[upsert(2, "mac:2", "m2", "10.0.0.2")]), 5)
        .unwrap();
    // Batch 3 arrives: the view sees the gap and reloads.
    sync(&store, &view, &s1, &[upsert(3, "mac:3", "m3", "10.0.0.3")]);
    assert_eq!(listing(&view, &store, "a").len(), 3);
    // The late replay of batch 2 changes nothing.
    let late = Replay {
        sensor: s1.clone(),
        previous_seq: 1,
        applied_seq: 2,
        deltas: vec![upsert(2, "mac:2", "m2", "10.0.0.2")],
    };
    view.applied(&store, "a", late).unwrap();
    let fresh = FleetView::default();
    assert_eq!(listing(&view, &store, "a"), listing(&fresh, &store, "a"));
}

#[test]
fn retention_takes_one_sensors_part_out_of_a_merged_device() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (s1, s2) = (enrol(&store, 1, "a"), enrol(&store, 2, "a"));
    let view = FleetView::default();
    // The same device seen by both sensors: s1 stored it at 5 (the helper's time), s2 at
    // 10 000; stored times count an hour later.
    sync(&store, &view, &s1, &[upsert(1, "mac:1", "m1", "10.0.0.1")]);
    let d = [upsert(1, "mac:1", "m1", "10.0.0.2")];
    let r = store.apply_batch(Batch::new(&s2, &d), 10_000).unwrap();
    let replay = Replay {
        sensor: s2.clone(),
        previous_seq: r.previous_seq,
        applied_seq: r.applied_seq,
        deltas: r.committed(d.to_vec()),
    };
    view.applied(&store, "a", replay).unwrap();
    assert_eq!(listing(&view, &store, "a")[0].seen_by.len(), 2);
    let generation = view.generation("a").unwrap();

    let mut keys = Vec::new();
    store
        .survey(StoredKind::Assets, &mut |k, age| {
            if age.is_some_and(|a| a < 5_000) {
                keys.push(k.to_vec());
            }
        })
        .unwrap();
    let removed = store
        .remove_expired(StoredKind::Assets, &keys, 5_000)
        .unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (removed[0].sensor.as_str(), removed[0].site.as_str()),
        (s1.as_str(), "a")
    );
    view.removed(&store, StoredKind::Assets, &removed).unwrap();

    let now = listing(&view, &store, "a");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].seen_by.len(), 1);
    assert_eq!(now[0].seen_by[0].sensor_id, s2);
    assert_eq!(now, listing(&FleetView::default(), &store, "a"));
    // The filter columns forgot the removed part's fields with it.
    let snap = view.snapshot(&store, "a").unwrap();
    super::chunks::tests::agrees_with_brute_force(&snap, 1, 40);
    assert!(view.generation("a").unwrap() > generation);
    assert_eq!(store.sensor(&s1).unwrap().unwrap().held.assets, 0);
    assert_eq!(store.removed_totals().unwrap()[2], (StoredKind::Assets, 1));
}

/// This process's resident memory in bytes (Linux: VmRSS of /proc/self/status).
fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// What one site's view holds per asset, for assets shaped like scripts/bench-manager.sh's (a
/// measurement, not a pass/fail test; run alone, as RSS is the whole process's):
/// `cargo test -p otwatch-manager --lib view_memory -- --ignored --nocapture --test-threads 1`
#[test]
#[ignore]
fn view_memory_per_asset() {
    let (sensors, per) = (100u64, 1000u64);
    let n = sensors * per;
    let parts: Vec<Vec<Asset>> = (0..sensors)
        .map(|s| {
            (0..per)
                .map(|i| {
                    let k = s * per + i;
                    let mac = format!(
                        "02:00:00:{:02x}:{:02x}:{:02x}",
                        k >> 16,
                        (k >> 8) & 0xff,
                        k & 0xff
                    );
                    let ip = format!("10.{}.{}.{}", (k >> 16) & 0xff, (k >> 8) & 0xff, k & 0xff);
                    Asset {
                        id: format!("mac:{mac}"),
                        macs: vec![mac],
                        ips: vec![ip],
                        vendor: "Siemens AG".into(),
                        hostname: format!("dev-{k}"),
                        device_type: "plc".into(),
                        purdue_level: Some(1),
                        protocols: ["modbus", "s7comm"]
                            .iter()
                            .map(|p| otwatch_proto::v1::ProtocolUse {
                                name: (*p).into(),
                                role: "server".into(),
                                port: 502,
                            })
                            .collect(),
                        packets: 10,
                        bytes: 6400,
                        first_seen: "2024-01-01T00:00:00Z".into(),
                        last_seen: "2024-01-01T00:01:00Z".into(),
                        ..Default::default()
                    }
                })
                .collect()
        })
        .collect();
    let before = rss().unwrap_or(0);
    let mut v = SiteView::default();
    for (s, assets) in parts.into_iter().enumerate() {
        v.load_sensor("a", &format!("sensor-{s:04}"), assets);
    }
    let view = rss().unwrap_or(0);
    let snap = v.merged.publish();
    let columns = rss().unwrap_or(0);
    assert_eq!(snap.len() as u64, n);
    println!(
        "view: {n} assets, {} bytes per asset (parts, address indexes, groups, merged), columns {} bytes per asset",
        view.saturating_sub(before) / n,
        columns.saturating_sub(view) / n
    );
}

#[test]
fn what_this_manager_committed_counts_as_seen_before_the_view_has_it() {
    let view = FleetView::default();
    assert_eq!(view.seen("s-1").unwrap(), 0);
    view.committed("s-1", 7).unwrap();
    assert_eq!(
        view.seen("s-1").unwrap(),
        7,
        "the follower must not take it for another manager's"
    );
    view.committed("s-1", 3).unwrap();
    assert_eq!(view.seen("s-1").unwrap(), 7, "never goes back");
}
