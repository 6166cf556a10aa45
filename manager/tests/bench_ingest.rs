//! Ingest and query figures (not a pass/fail test; timings never go in assertions). Run it with
//! `scripts/bench-manager.sh` (release build), or directly:
//! `SENSORS=100 ASSETS=100000 cargo test -p otwatch-manager --release --test bench_ingest -- --ignored --nocapture`
//!
//! Parameters (environment): SENSORS simulated sensors (default 4), ASSETS distinct devices in
//! all (default 2000, spread evenly over the sensors, which sit at two sites), BATCH deltas per
//! DeltaBatch (default 500), QUERIES timed calls per ListAssets query (default 200), FORWARD=1
//! forwards every new asset to a JSON-lines file (docs/FORWARDING.md): each applied batch also
//! queues its events, and a delivery task drains them meanwhile. TIMES=live (default) stamps
//! each device as seen now, as a live sensor does; TIMES=capture keeps the times of an old
//! capture (2024), as a sensor replaying a file does, so the manager also notes when it stored
//! each record (docs/RETENTION.md).
//!
//! Every sensor enrols with its own token and CSR, then (timer started once all are connected)
//! pushes asset upserts of distinct devices over its own mutual-TLS Sync stream; the manager
//! commits waiting batches in groups (one sled transaction flushed to disk per group) and acks
//! each batch only after that and after the fleet view has it, so "deltas/s applied" is
//! durable ingest. Then ListAssets is timed: the first call, pages of 100 of one site and of
//! the whole fleet, and filtered queries; then a second wave of updates while an operator keeps
//! listing one site.
//!
//! The figures are printed as `key: value` lines for the script to pick up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::sensor_link_client::SensorLinkClient;
use otwatch_proto::v1::*;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

const DEVICE_TYPES: [&str; 5] = ["plc", "hmi", "rtu", "it_host", "switch"];
const VENDORS: [&str; 4] = [
    "Siemens AG",
    "Schneider Electric",
    "Rockwell Automation",
    "Cisco Systems",
];

/// The asset upsert for device number `k` (unique over the whole run), as a sensor sends it.
fn device(seq: u64, k: u64) -> Delta {
    let b = |shift: u32| (k >> shift) & 0xff;
    let mac = format!(
        "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
        b(24),
        b(16),
        b(8),
        b(0)
    );
    let ip = format!("10.{}.{}.{}", b(16), b(8), b(0));
    let device_type = DEVICE_TYPES[(k % 5) as usize];
    let protocols = match device_type {
        "plc" => vec![("modbus", "server", 502), ("s7comm", "server", 102)],
        "hmi" => vec![("modbus", "client", 502)],
        "rtu" => vec![("dnp3", "server", 20000)],
        _ => vec![("dns", "client", 53)],
    };
    let mut d = asset(seq, &format!("mac:{mac}"), &[&mac], &[&ip]);
    if let Some(delta::Change::Asset(a)) = &mut d.change {
        a.vendor = VENDORS[(k % 4) as usize].into();
        a.hostname = format!("dev-{k}");
        a.device_type = device_type.into();
        a.purdue_level = Some((k % 4) as u32);
        a.protocols = protocols
            .into_iter()
            .map(|(name, role, port)| ProtocolUse {
                name: name.into(),
                role: role.into(),
                port,
            })
            .collect();
        a.bytes = 6400;
        if live_times() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let now = otwatch_common::Timestamp::from_secs_nanos(now.as_secs(), 0).rfc3339();
            a.first_seen.clone_from(&now);
            a.last_seen = now;
        }
    }
    d
}

/// Whether devices are stamped as seen now (`TIMES`, default `live`) rather than at an old
/// capture's times (`capture`).
fn live_times() -> bool {
    std::env::var("TIMES").map_or(true, |t| t != "capture")
}

/// Times `n` calls of `q(i)`; prints p50/p99 under `label`; returns the total of the last answer.
async fn time_query(
    op: &mut otwatch_manager::cli::Client,
    label: &str,
    n: u64,
    q: impl Fn(u64) -> ListAssetsRequest,
) -> u64 {
    let mut lat: Vec<Duration> = Vec::new();
    let mut total = 0;
    let mut returned = 0;
    for i in 0..n.max(1) {
        let req = q(i);
        let t = Instant::now();
        let r = op.list_assets(req).await.unwrap().into_inner();
        lat.push(t.elapsed());
        total = r.total;
        returned = r.assets.len();
    }
    lat.sort();
    let pick = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    println!(
        "list {label}: total {total}, page {returned}, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pick(50).as_secs_f64() * 1e3,
        pick(99).as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3,
    );
    total
}

/// Every sensor sends its batches over its own Sync stream, all at once; returns the clients
/// when every sensor's last delta (`last_seq`) is acknowledged.
async fn push(
    work: Vec<(SensorLinkClient<Channel>, Vec<Vec<Delta>>)>,
    last_seq: u64,
) -> Vec<SensorLinkClient<Channel>> {
    let mut tasks = Vec::new();
    for (mut c, batches) in work {
        tasks.push(tokio::spawn(async move {
            let acks = sync(&mut c, batches).await.unwrap();
            assert_eq!(acks.last().copied(), Some(last_seq));
            c
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// CPU seconds (user and system) used so far: by the whole process, and by the store's writer
/// and the fleet view's threads (the ingest pipeline), from /proc (Linux; zeros elsewhere).
fn cpu() -> [f64; 3] {
    let ticks = |stat: &str| -> Option<f64> {
        // After the command name in parentheses: state is field 3; utime and stime 14 and 15.
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let t: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some(t / 100.0) // USER_HZ
    };
    let mut out = [0.0; 3];
    out[0] = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .unwrap_or(0.0);
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let slot = if stat.contains("(otwatch-ingest)") {
            1
        } else if stat.contains("(otwatch-view)") {
            2
        } else {
            continue;
        };
        out[slot] += ticks(&stat).unwrap_or(0.0);
    }
    out
}

/// Prints the CPU used between `before` and now per delta: in all, and by the writer and the
/// view.
fn print_cpu(label: &str, before: [f64; 3], deltas: u64) {
    let after = cpu();
    let us = |i: usize| (after[i] - before[i]) * 1e6 / deltas.max(1) as f64;
    println!(
        "cpu {label}: {:.1} us per delta in all (simulated sensors included), store writer {:.1}, fleet view {:.1}",
        us(0),
        us(1),
        us(2)
    );
}

/// This process's resident memory in bytes (Linux: VmRSS of /proc/self/status), if known.
fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `q` with a page token spread over the fleet: the page after the fleet id that device number
/// `(i * 7919 * 100) % total` would have on site `i % 2` (whether or not it is there: a cursor
/// names a position in fleet id order).
fn spread(q: ListAssetsRequest, i: u64, total: u64) -> ListAssetsRequest {
    let k = (i * 7919 * 100) % total.max(1);
    let b = |shift: u32| (k >> shift) & 0xff;
    let after = format!(
        "site-{}/mac:02:00:{:02x}:{:02x}:{:02x}:{:02x}",
        i % 2,
        b(24),
        b(16),
        b(8),
        b(0)
    );
    let page_token = otwatch_manager::api::assets_page_token(&q, &after).unwrap();
    ListAssetsRequest { page_token, ..q }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn ingest_and_list_figures() {
    // STORE=postgres: the manager's store in a PostgreSQL server the bench starts (like the
    // tests do), else the embedded sled store.
    let pg = match std::env::var("STORE").as_deref() {
        Ok("postgres") => Some(
            common::postgres::Postgres::start()
                .expect("STORE=postgres needs PostgreSQL (/usr/lib/postgresql/*/bin)"),
        ),
        Ok("sled") | Err(_) => None,
        Ok(other) => panic!("STORE={other}: expected sled or postgres"),
    };
    let settings = otwatch_manager::serve::Settings {
        store: pg.as_ref().map(|p| otwatch_manager::serve::StoreUrl {
            url: p.url.clone(),
            password: None,
        }),
        ..Default::default()
    };
    println!("store: {}", if pg.is_some() { "postgres" } else { "sled" });
    let mut fx = Fixture::start_with(settings).await;
    let forward_dir = tempfile::tempdir().unwrap();
    if env("FORWARD", 0) == 1 {
        let file = forward_dir.path().join("forwarding.toml");
        std::fs::write(
            &file,
            format!(
                "[[destination]]\nname = \"shipper\"\ntype = \"file\"\npath = \"{}\"\nqueue_max_events = 10000000\nqueue_max_bytes = 10000000000\n\n[[rule]]\nname = \"inventory\"\ndestination = \"shipper\"\nevents = [\"new_asset\"]\n",
                forward_dir.path().join("events.jsonl").display()
            ),
        )
        .unwrap();
        fx.settings.forwarding = Some(file);
        fx.restart_same_port().await;
        println!("forwarding: every new asset to a JSON-lines file");
    }
    let sensors = env("SENSORS", 4).max(1);
    let per_sensor = (env("ASSETS", 2000) / sensors).max(1);
    let batch = env("BATCH", 500).max(1) as usize;
    let queries = env("QUERIES", 200);

    let rss_before = rss();
    let mut clients = Vec::new();
    for i in 0..sensors {
        let site = format!("site-{}", i % 2);
        let s = enroll(&fx.url(), fx.port(), &fx.token(&site, 3600))
            .await
            .unwrap();
        clients.push(s.client(&fx.url()).await.unwrap());
    }
    // Deltas are built before the clock starts: only the link and the manager are timed.
    let work: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let deltas: Vec<Delta> = (1..=per_sensor)
                .map(|seq| device(seq, (i as u64) * per_sensor + seq - 1))
                .collect();
            let batches: Vec<Vec<Delta>> = deltas.chunks(batch).map(<[Delta]>::to_vec).collect();
            (c, batches)
        })
        .collect();

    let start = Instant::now();
    let cpu_before = cpu();
    let clients = push(work, per_sensor).await;
    let secs = start.elapsed().as_secs_f64();
    let cpu_ingest = cpu_before;
    let total = sensors * per_sensor;
    let batches = sensors * per_sensor.div_ceil(batch as u64);
    println!("sensors: {sensors}");
    println!(
        "batch times: {}",
        if live_times() { "live" } else { "capture" }
    );
    println!("batch: {batch}");
    println!("deltas: {total}");
    println!("batches: {batches}");
    println!("seconds: {secs:.3}");
    print_cpu("ingest", cpu_ingest, total);
    println!(
        "deltas/s applied: {:.0} (durable: committed and flushed, in the fleet view, then acked)",
        total as f64 / secs
    );
    println!("batches/s applied: {:.0}", batches as f64 / secs);

    let mut op = fx.operator("bench", OperatorRole::Viewer).await;
    let first = Instant::now();
    let r = op
        .list_assets(ListAssetsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    println!(
        "first list: total {}, {:.1} ms",
        r.total,
        first.elapsed().as_secs_f64() * 1e3
    );
    // Every device is distinct: the fleet holds exactly what was pushed.
    assert_eq!(r.total, total);
    // The manager runs in this process: what it holds now (store cache, fleet view, streams)
    // less what the process held before the sensors connected. The sensors' deltas were
    // consumed by their streams.
    if let (Some(before), Some(after)) = (rss_before, rss()) {
        println!(
            "memory: RSS {:.0} MiB before, {:.0} MiB after ingest, {:.0} bytes per asset",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            after.saturating_sub(before) as f64 / total as f64
        );
    }

    let site_total = time_query(&mut op, "one site, 100 per page", queries, |i| {
        let q = ListAssetsRequest {
            site: format!("site-{}", i % 2),
            page_size: 100,
            ..Default::default()
        };
        spread(q, i, total)
    })
    .await;
    assert!(site_total > 0);
    time_query(&mut op, "all sites, 100 per page", queries, |i| {
        let q = ListAssetsRequest {
            page_size: 100,
            ..Default::default()
        };
        spread(q, i, total)
    })
    .await;
    time_query(
        &mut op,
        "filtered device_type=plc protocol=modbus vendor=siemens, 100 per page",
        queries,
        |i| {
            let q = ListAssetsRequest {
                device_type: "plc".into(),
                protocol: "modbus".into(),
                vendor: "siemens".into(),
                page_size: 100,
                ..Default::default()
            };
            spread(q, i, total)
        },
    )
    .await;
    time_query(
        &mut op,
        "filtered text=10.0.1, 100 per page",
        queries,
        |_| ListAssetsRequest {
            text: "10.0.1".into(),
            page_size: 100,
            ..Default::default()
        },
    )
    .await;

    // Second wave: every sensor sends a new upsert of each of its devices (more packets) while an
    // operator keeps listing one site, 100 per page.
    let work: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let deltas: Vec<Delta> = (1..=per_sensor)
                .map(|n| {
                    let mut d = device(per_sensor + n, (i as u64) * per_sensor + n - 1);
                    if let Some(delta::Change::Asset(a)) = &mut d.change {
                        a.packets += 1;
                    }
                    d
                })
                .collect();
            let batches: Vec<Vec<Delta>> = deltas.chunks(batch).map(<[Delta]>::to_vec).collect();
            (c, batches)
        })
        .collect();
    let start = Instant::now();
    let cpu_before = cpu();
    let ingest = tokio::spawn(push(work, 2 * per_sensor));
    let mut lat: Vec<Duration> = Vec::new();
    while !ingest.is_finished() {
        let t = Instant::now();
        op.list_assets(ListAssetsRequest {
            site: "site-0".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap();
        lat.push(t.elapsed());
    }
    ingest.await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    print_cpu("updates (with the listing)", cpu_before, total);
    println!(
        "updates: {total} upserts of known devices in {secs:.3} s = {:.0} deltas/s applied, while listing",
        total as f64 / secs
    );
    lat.sort();
    if let (Some(p50), Some(p99)) = (lat.get(lat.len() / 2), lat.get(lat.len() * 99 / 100)) {
        println!(
            "list during updates (one site, 100 per page): {} calls, p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    // The whole process: the manager, its fleet view, and the simulated sensors' clients.
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "rss: {} MiB (this process: manager and simulated sensors)",
        rss / 1024
    );
    if let Some(pg) = &pg {
        println!("store size: {} MiB", pg_size(&pg.url) / (1 << 20));
    }
}

/// The PostgreSQL database's size in bytes.
fn pg_size(url: &str) -> u64 {
    std::thread::scope(|t| {
        t.spawn(|| {
            use otwatch_manager::store::FleetStore;
            otwatch_manager::store::PgStore::open(url, None)
                .and_then(|s| s.size_on_disk())
                .unwrap_or(0)
        })
        .join()
        .unwrap()
    })
}
