//! Ingest and query figures (not a pass/fail test; timings never go in assertions):
//! `cargo test -p otwatch-manager --release --test bench_ingest -- --ignored --nocapture`
//! with OTWATCH_BENCH_SENSORS (default 20), OTWATCH_BENCH_DELTAS per sensor (default 5000) and
//! OTWATCH_BENCH_BATCH (default 500). Every sensor pushes asset upserts of distinct devices over
//! real mTLS; then ListAssets (100 per page) is timed over the whole fleet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn ingest_and_list_figures() {
    let fx = Fixture::start().await;
    let sensors = env("OTWATCH_BENCH_SENSORS", 20);
    let per_sensor = env("OTWATCH_BENCH_DELTAS", 5000);
    let batch = env("OTWATCH_BENCH_BATCH", 500).max(1);
    let mut enrolled = Vec::new();
    for i in 0..sensors {
        let site = format!("site-{}", i % 2);
        enrolled.push(
            enroll(&fx.url(), fx.port(), &fx.token(&site, 3600))
                .await
                .unwrap(),
        );
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, s) in enrolled.iter().cloned().enumerate() {
        let url = fx.url();
        tasks.push(tokio::spawn(async move {
            let mut c = s.client(&url).await.unwrap();
            let deltas: Vec<Delta> = (1..=per_sensor)
                .map(|seq| {
                    let n = (i as u64) << 20 | seq;
                    let mac = format!(
                        "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                        (n >> 24) & 0xff,
                        (n >> 16) & 0xff,
                        (n >> 8) & 0xff,
                        n & 0xff
                    );
                    asset(seq, &format!("mac:{mac}"), &[&mac], &[])
                })
                .collect();
            let batches: Vec<Vec<Delta>> =
                deltas.chunks(batch as usize).map(|c| c.to_vec()).collect();
            let acks = sync(&mut c, batches).await.unwrap();
            assert_eq!(acks.last().copied(), Some(per_sensor));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let total = sensors * per_sensor;
    println!(
        "ingest: {sensors} sensors x {per_sensor} deltas in batches of {batch}: {total} deltas in {secs:.2} s = {:.0} deltas/s (durable: one transaction + flush per batch)",
        total as f64 / secs
    );

    let mut op = fx.operator("bench", OperatorRole::Viewer).await;
    let first = Instant::now();
    let r = op
        .list_assets(ListAssetsRequest::default())
        .await
        .unwrap()
        .into_inner();
    println!(
        "first ListAssets (merges {} assets): {:?}",
        r.total,
        first.elapsed()
    );
    let mut lat: Vec<Duration> = Vec::new();
    for i in 0..200u32 {
        let t = Instant::now();
        op.list_assets(ListAssetsRequest {
            site: format!("site-{}", i % 2),
            page_size: 100,
            page_token: ((i as u64 * 100) % (r.total / 2).max(1)).to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "ListAssets 100 per page: p50 {:?} p99 {:?}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
}
