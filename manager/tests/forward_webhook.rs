//! Forwarding to a webhook across an outage of the receiver and a `kill -9` of the manager:
//! every event arrives exactly once (counted by event id), every request is signed.
//!
//! The outage lasts OTWATCH_TEST_OUTAGE_SECS (default 4; 60 reproduces "a minute").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fleet::Fleet;
use common::receiver::{Handler, Receiver, Request};
use otwatch_proto::v1::Delta;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "webhook-test-secret";

/// Event id → (times received, the event).
type Seen = Arc<Mutex<HashMap<String, (usize, Value)>>>;

/// Checks a request's signature and timestamp as a receiver should; records its events.
fn verify(req: &Request, seen: &Seen, bad: &AtomicUsize) -> (u16, String) {
    let ts = req
        .headers
        .get("x-otwatch-timestamp")
        .cloned()
        .unwrap_or_default();
    let sig = req
        .headers
        .get("x-otwatch-signature")
        .cloned()
        .unwrap_or_default();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let mut signed = ts.clone().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&req.body);
    let hex = sig.strip_prefix("sha256=").unwrap_or_default();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let now = otwatch_manager::pki::now_secs();
    let fresh = ts.parse::<i64>().is_ok_and(|t| (now - t).abs() <= 300);
    if !fresh || ring::hmac::verify(&key, &signed, &bytes).is_err() {
        bad.fetch_add(1, Ordering::SeqCst);
        return (401, "{\"error\":\"bad signature\"}".into());
    }
    let events: Vec<Value> = serde_json::from_slice(&req.body).unwrap();
    let mut seen = seen.lock().unwrap();
    for e in events {
        let id = e["id"].as_str().unwrap().to_string();
        seen.entry(id).or_insert((0, e)).0 += 1;
    }
    (200, "{}".into())
}

/// Deltas `from..=to`: every fifth a new asset, the others new alerts.
fn deltas(from: u64, to: u64) -> Vec<Vec<Delta>> {
    (from..=to)
        .map(|seq| {
            if seq % 5 == 0 {
                common::asset(
                    seq,
                    &format!("ip:10.9.0.{seq}"),
                    &[],
                    &[&format!("10.9.0.{seq}")],
                )
            } else {
                common::alert(seq, &format!("a{seq}"))
            }
        })
        .collect::<Vec<_>>()
        .chunks(7)
        .map(|c| c.to_vec())
        .collect()
}

async fn wait_for(seen: &Seen, n: usize, fleet: &Fleet) {
    for _ in 0..600 {
        if seen.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} of {n} events arrived\n--- manager log ---\n{}",
        seen.lock().unwrap().len(),
        fleet.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_outage_and_a_manager_kill_lose_and_double_nothing() {
    let outage = Duration::from_secs(
        std::env::var("OTWATCH_TEST_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4),
    );
    let seen: Seen = Arc::default();
    let bad = Arc::new(AtomicUsize::new(0));
    let handler: Handler = {
        let (seen, bad) = (seen.clone(), bad.clone());
        Arc::new(move |r: &Request| verify(r, &seen, &bad))
    };
    let mut hook = Receiver::start(handler).await;

    let fleet = Fleet::new();
    // In the state directory, where `serve` reads it without a flag.
    std::fs::write(
        std::path::Path::new(&fleet.data()).join("forwarding.toml"),
        format!(
            r#"
[[destination]]
name = "soar"
type = "webhook"
url = "{}"
secret = "{SECRET}"
retry_min_ms = 100
retry_max_ms = 800

[[rule]]
name = "everything"
destination = "soar"
events = ["alert", "new_asset"]
"#,
            hook.url("/otwatch/events")
        ),
    )
    .unwrap();
    let mut mgr = fleet.serve();
    let sensor = common::enroll(&fleet.url(), fleet.port, &fleet.token("plant-w"))
        .await
        .unwrap();
    let mut c = sensor.client(&fleet.url()).await.unwrap();
    let acks = common::sync(&mut c, deltas(1, 30)).await.unwrap();
    assert_eq!(acks.last(), Some(&30));
    wait_for(&seen, 30, &fleet).await;

    // The receiver goes away; the sensor keeps reporting.
    hook.stop();
    let acks = common::sync(&mut c, deltas(31, 60)).await.unwrap();
    assert_eq!(acks.last(), Some(&60));
    tokio::time::sleep(outage / 2).await;
    // kill -9 while events wait for the receiver.
    drop(mgr);
    mgr = fleet.serve();
    let mut c = sensor.client(&fleet.url()).await.unwrap();
    let acks = common::sync(&mut c, deltas(61, 90)).await.unwrap();
    assert_eq!(acks.last(), Some(&90));
    tokio::time::sleep(outage / 2).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        30,
        "nothing arrives while the receiver is down"
    );
    let tried = hook.taken().len();

    hook.restart().await;
    wait_for(&seen, 90, &fleet).await;
    // Anything doubled would arrive right after.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(mgr);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 90);
    let doubled: Vec<_> = seen.iter().filter(|(_, (n, _))| *n != 1).collect();
    assert!(doubled.is_empty(), "received more than once: {doubled:?}");
    assert_eq!(bad.load(Ordering::SeqCst), 0, "every request is signed");
    assert!(hook.taken().len() > tried, "delivered after the outage");
    // Each delta became one event with the right content.
    for seq in 1..=90u64 {
        let found = seen.values().any(|(_, e)| {
            if seq % 5 == 0 {
                e["event"] == "new_asset"
                    && e["asset_id"] == format!("{}/ip:10.9.0.{seq}", sensor.id)
                    && e["asset_ip"] == format!("10.9.0.{seq}")
                    && e["site"] == "plant-w"
            } else {
                e["event"] == "alert"
                    && e["alert_id"] == format!("{}/a{seq}", sensor.id)
                    && e["kind"] == "new_asset"
                    && e["severity"] == "low"
                    && e["state"] == "new"
                    && e["site"] == "plant-w"
            }
        });
        assert!(found, "no event for delta {seq}");
    }
}
