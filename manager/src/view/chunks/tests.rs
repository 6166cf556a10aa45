#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use otwatch_proto::v1::{Asset, ListAssetsRequest, ProtocolUse};
use std::collections::BTreeMap;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// A random ListAssets query over what [`random_asset`] draws, and then some.
fn random_query(rng: &mut Rng) -> ListAssetsRequest {
    let mut q = ListAssetsRequest::default();
    if rng.below(3) == 0 {
        q.device_type = rng.pick(&["plc", "hmi", "rtu", "toaster"]).into();
    }
    if rng.below(4) == 0 {
        q.purdue_level = [Some(0), Some(1), Some(2), Some(254), Some(300)][rng.below(5) as usize];
    }
    if rng.below(3) == 0 {
        q.protocol = rng
            .pick(&["modbus", "dnp3", "s7comm", "bacnet", "foo"])
            .into();
    }
    if rng.below(3) == 0 {
        q.vendor = rng
            .pick(&["v1", "V", "siemens", "SIEMENS AG", "ä", "Ä", "rzte", "x"])
            .into();
    }
    if rng.below(2) == 0 {
        q.text = rng
            .pick(&[
                "10.0", "0.1", "02:00", ":0", "HOST", "host-1", "v2", "Ärzte", "é", "zz", "1",
                "s ag", "model",
            ])
            .into();
    }
    q
}

/// Checks `n` random queries: [`SiteAssets::matching`] lists exactly the assets that comparing
/// each asset in full (ListAssets' definition) lists, in the same order.
pub(in crate::view) fn agrees_with_brute_force(snap: &SiteAssets, seed: u64, n: usize) {
    let mut rng = Rng::new(seed);
    let decoded: Vec<FleetAsset> = snap.iter().map(Stored::decode).collect();
    for _ in 0..n {
        let q = random_query(&mut rng);
        let want: Vec<&str> = decoded
            .iter()
            .filter(|a| crate::api::asset_matches(a, &q))
            .map(|a| a.id.as_str())
            .collect();
        let Some(query) = Query::new(
            &q.device_type,
            q.purdue_level,
            &q.protocol,
            &q.vendor,
            &q.text,
        ) else {
            // Only values the columns cannot hold fall back to comparing the assets.
            assert!(
                q.device_type == "toaster"
                    || q.protocol == "foo"
                    || q.purdue_level.is_some_and(|l| l >= 254),
                "{q:?}"
            );
            continue;
        };
        let mut got: Vec<&str> = Vec::new();
        let mut at: Vec<usize> = Vec::new();
        snap.matching(
            &query,
            |_| true,
            |i, a| {
                at.push(i);
                got.push(a.id());
            },
        );
        // Each match's position is where it is in the site.
        for (i, id) in at.iter().zip(&got) {
            assert_eq!(snap.range(*i, i + 1).next().map(Stored::id), Some(*id));
        }
        assert_eq!(got, want, "{q:?}");
    }
}

fn random_asset(rng: &mut Rng, id: String) -> Arc<FleetAsset> {
    let n = rng.below(1000);
    let asset = (rng.below(20) != 0).then(|| Asset {
        id: id.clone(),
        ips: (0..rng.below(3))
            .map(|i| format!("10.{}.{}.{i}", n % 3, n % 7))
            .collect(),
        macs: (0..rng.below(2))
            .map(|_| format!("02:00:00:00:0{}:{:02x}", n % 4, n % 256))
            .collect(),
        names: (0..rng.below(2)).map(|_| format!("Name-{n}")).collect(),
        hostname: rng.pick(&["", "HOST-1", "host-2", "Ärzte-pc", "é"]).into(),
        vendor: rng
            .pick(&["", "Siemens AG", "SIEMENS", "V1", "v2", "ÄRZTE", "ärzte"])
            .into(),
        model: rng.pick(&["", "Model S7", "x"]).into(),
        firmware: "V1 not searched".into(),
        device_type: rng
            .pick(&["", "plc", "PLC", "hmi", "rtu", "toaster"])
            .into(),
        purdue_level: [None, Some(0), Some(1), Some(2), Some(300)][rng.below(5) as usize],
        protocols: (0..rng.below(3))
            .map(|_| ProtocolUse {
                name: rng
                    .pick(&["modbus", "dnp3", "s7comm", "Modbus", "foo"])
                    .into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    Arc::new(FleetAsset {
        id,
        site: "a".into(),
        asset,
        ..Default::default()
    })
}

#[test]
fn chunks_follow_inserts_and_removals_and_snapshots_stay_as_taken() {
    for seed in 1..=6u64 {
        let mut rng = Rng::new(seed);
        let mut all = Assets::default();
        let mut model: BTreeMap<String, Arc<FleetAsset>> = BTreeMap::new();
        let mut kept: Vec<(SiteAssets, Vec<Arc<FleetAsset>>)> = Vec::new();
        // Ids from a pool a few chunks wide, so chunks split, shrink, join and empty.
        let pool = 4 * MAX_CHUNK as u64;
        for step in 0..40 {
            let grow = step < 20;
            for _ in 0..rng.below(600) {
                let id = format!("ip:{:05}", rng.below(pool));
                if rng.below(if grow { 5 } else { 2 }) == 0 {
                    assert_eq!(
                        all.remove(&id).map(|a| a.id().to_string()),
                        model.remove(&id).map(|a| a.id.clone())
                    );
                } else {
                    let fa = random_asset(&mut rng, id.clone());
                    all.insert(Stored::of(&fa));
                    model.insert(id, fa);
                }
            }
            assert_eq!(all.iter().count(), model.len());
            let snap = all.publish();
            let want: Vec<Arc<FleetAsset>> = model.values().cloned().collect();
            assert_eq!(snap.len(), want.len());
            assert!(snap.iter().zip(&want).all(|(a, b)| *a == Stored::of(b)));
            assert!(all.chunks.iter().all(|c| !c.assets.is_empty()
                && c.assets.len() <= MAX_CHUNK
                && !c.dirty
                && c.columns.keys.len() == c.assets.len()));
            for id in ["ip:00000", "ip:00700", "ip:99999", "", "zz"] {
                assert_eq!(
                    snap.find(id).map(Stored::id),
                    model.get(id).map(|a| a.id.as_str())
                );
                assert_eq!(
                    all.get(id).map(Stored::id),
                    model.get(id).map(|a| a.id.as_str())
                );
            }
            // Where the assets after an id start (a ListAssets cursor), present or not.
            let probes = [
                "",
                "ip:00000",
                "ip:00700",
                "ip:01023",
                "ip:01500x",
                "ip:99999",
                "zz",
            ];
            for id in probes
                .into_iter()
                .chain(want.iter().step_by(97).map(|a| a.id.as_str()))
            {
                let expect = want.iter().filter(|a| a.id.as_str() <= id).count();
                assert_eq!(snap.after(id), expect, "after {id}");
            }
            for (lo, hi) in [(0, 100), (511, 513), (700, 2000), (want.len(), 1)] {
                let got: Vec<&str> = snap.range(lo, hi).map(Stored::id).collect();
                let hi = hi.min(want.len());
                let expect: Vec<&str> = want
                    .get(lo.min(hi)..hi)
                    .unwrap_or(&[])
                    .iter()
                    .map(|a| a.id.as_str())
                    .collect();
                assert_eq!(got, expect, "range {lo}..{hi}");
            }
            agrees_with_brute_force(&snap, rng.next(), 30);
            kept.push((snap, want));
        }
        // Later changes copied the chunks they touched: every snapshot still lists, and
        // filters, what it did when taken.
        for (snap, want) in &kept {
            assert!(snap.iter().zip(want).all(|(a, b)| *a == Stored::of(b)));
            assert_eq!(snap.len(), want.len());
            agrees_with_brute_force(snap, 7, 5);
        }
    }
}

#[test]
fn a_text_hit_lists_its_asset_once_and_never_spans_two_fields() {
    let fa = |id: &str, hostname: &str, vendor: &str| {
        Arc::new(FleetAsset {
            id: id.into(),
            asset: Some(Asset {
                hostname: hostname.into(),
                vendor: vendor.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    let snap = SiteAssets::from(vec![
        fa("a", "abab", "ABAB"),
        fa("b", "ab", "cd"),
        fa("c", "xab", ""),
    ]);
    let ids = |text: &str| {
        let q = Query::new("", None, "", "", text).unwrap();
        let mut got = Vec::new();
        snap.matching(&q, |_| true, |_, a| got.push(a.id().to_string()));
        got
    };
    assert_eq!(ids("ab"), ["a", "b", "c"]);
    // "b" ends the hostname and "c" starts the vendor of asset b: not one text.
    assert_eq!(ids("bc"), Vec::<String>::new());
    assert_eq!(ids("BA"), ["a"]);
    // Asset c's hostname directly follows asset b's fields in the haystack.
    assert_eq!(ids("dx"), Vec::<String>::new());
}
