//! The console's map with a big fleet (`scripts/bench-console.sh`): ASSETS assets (default
//! 10 000) at four sites, spread over the Purdue levels like a plant (most at levels 0-2), and
//! EDGES distinct conversations (default 50 000) between them, mostly between neighbouring
//! levels; then `manager/console/tests/bench.mjs` opens the map in chromium and prints the time
//! to the first draw, the `/api/map` fetch (the manager's answer), and frame intervals while
//! zooming and panning. Figures only: nothing is asserted about time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{connection, sensor_at, sync, typed, Fixture};
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::Delta;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (device type, Purdue level) of the `k`th asset: a plant's shape, most devices low.
fn kind(k: u64) -> (&'static str, Option<u32>) {
    match k % 20 {
        0..=5 => ("io_module", Some(0)),
        6..=10 => ("plc", Some(1)),
        11..=13 => ("hmi", Some(2)),
        14 => ("engineering_workstation", Some(2)),
        15 => ("historian", Some(3)),
        16 => ("scada_server", Some(3)),
        17 => ("it_host", Some(4)),
        18 => ("it_host", Some(5)),
        _ => ("unknown", None),
    }
}

fn ip(k: u64) -> String {
    format!("10.{}.{}.{}", k / 65536 % 256, k / 256 % 256, k % 256 + 1)
}

/// A small deterministic generator (the fleet is the same at every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn console_map_figures() {
    let assets = env("ASSETS", 10_000).max(2);
    let edges = env("EDGES", 50_000);
    let sites = env("SITES", 4).clamp(1, assets);
    let fx = Fixture::start().await;
    let per_site = assets.div_ceil(sites);
    let mut rng = Lcg(7);
    let started = std::time::Instant::now();
    let mut total_edges = 0u64;
    for s in 0..sites {
        let first = s * per_site;
        let last = ((s + 1) * per_site).min(assets);
        let n = last - first;
        let mut deltas: Vec<Delta> = Vec::new();
        let mut seq = 0;
        for k in first..last {
            seq += 1;
            let (t, level) = kind(k);
            let mut d = typed(seq, &format!("ip:{}", ip(k)), "", &ip(k), t, 0);
            if let Some(otwatch_proto::v1::delta::Change::Asset(a)) = d.change.as_mut() {
                a.macs.clear();
                a.purdue_level = level;
            }
            deltas.push(d);
        }
        // This site's share of the conversations: distinct pairs, mostly a level apart.
        let want = edges * n / assets;
        let mut pairs = BTreeSet::new();
        let mut tries = 0;
        while (pairs.len() as u64) < want && tries < want * 20 {
            tries += 1;
            let a = first + rng.next(n);
            let b = first + rng.next(n);
            let (la, lb) = (kind(a).1.unwrap_or(9), kind(b).1.unwrap_or(9));
            if a == b || (la.abs_diff(lb) > 1 && rng.next(10) > 0) {
                continue;
            }
            pairs.insert((a.min(b), a.max(b)));
        }
        total_edges += pairs.len() as u64;
        for (a, b) in pairs {
            seq += 1;
            deltas.push(connection(seq, &ip(a), &ip(b), 1 + rng.next(10_000)));
        }
        let batches: Vec<Vec<Delta>> = deltas.chunks(500).map(<[Delta]>::to_vec).collect();
        let mut c = sensor_at(&fx, &format!("site-{s}")).await;
        let acks = sync(&mut c, batches).await.unwrap();
        assert_eq!(acks.last().copied(), Some(seq));
    }
    println!(
        "fleet: {assets} assets, {total_edges} conversations at {sites} sites, loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let s = &fx.mgr.as_ref().unwrap().shared;
    let token = otwatch_manager::admin::create_operator_token(
        s.store.as_ref(),
        "bench",
        OperatorRole::Viewer,
        3600,
    )
    .unwrap()
    .token;
    let console = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let out = Command::new("node")
        .arg("tests/bench.mjs")
        .current_dir(&console)
        .env("OTWATCH_CONSOLE_URL", fx.url())
        .env("OTWATCH_TOKEN_VIEWER", &token)
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    for l in common::logs().lines() {
        if l.contains("console map") || l.contains("report data gathered") {
            println!("manager: {}", l.split_once(": ").map_or(l, |(_, r)| r));
        }
    }
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bench.mjs failed");
}
