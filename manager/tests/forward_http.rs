//! Forwarding to HTTP receivers that check requests the way the services document them
//! (Microsoft Sentinel's Logs Ingestion API with an OAuth 2.0 client-credentials token, Splunk
//! HEC), dead letters for events a receiver refuses for good, a bounded queue's overflow
//! counted, and inventory changes as JSON lines in a file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::receiver::{Handler, Receiver, Request};
use common::Fixture;
use otwatch_proto::v1::{delta, Delta};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const DCR: &str = "dcr-00000000000000000000000000000001";
const STREAM: &str = "Custom-OtwatchEvents_CL";

fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() + 1 {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            (k.to_string(), String::from_utf8(out).unwrap())
        })
        .collect()
}

/// The Entra ID token endpoint and the Logs Ingestion endpoint in one: 400 for any request
/// that is not shaped as documented.
fn sentinel(r: &Request) -> (u16, String) {
    let ct = r.headers.get("content-type").map(String::as_str);
    if r.path == "/tenant-1/oauth2/v2.0/token" {
        let f = form(&r.body);
        let ok = ct == Some("application/x-www-form-urlencoded")
            && f.get("grant_type").map(String::as_str) == Some("client_credentials")
            && f.get("client_id").map(String::as_str) == Some("app-1")
            && f.get("client_secret").map(String::as_str) == Some("s3cret&=+")
            && f.get("scope").map(String::as_str) == Some("https://monitor.azure.com//.default");
        return if ok {
            (200, r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"tok-1"}"#.into())
        } else {
            (
                400,
                format!(
                    "{{\"error\":\"invalid_request\",\"form\":\"{}\"}}",
                    String::from_utf8_lossy(&r.body)
                ),
            )
        };
    }
    let want = format!("/dataCollectionRules/{DCR}/streams/{STREAM}?api-version=2023-01-01");
    if r.path != want {
        return (404, "{}".into());
    }
    if r.headers.get("authorization").map(String::as_str) != Some("Bearer tok-1") {
        return (401, "{}".into());
    }
    let rows: Result<Vec<Value>, _> = serde_json::from_slice(&r.body);
    match rows {
        Ok(rows)
            if ct == Some("application/json")
                && !rows.is_empty()
                && rows
                    .iter()
                    .all(|x| x["TimeGenerated"].is_string() && x["id"].is_string()) =>
        {
            (204, String::new())
        }
        _ => (400, "{\"error\":{\"code\":\"InvalidContent\"}}".into()),
    }
}

/// Splunk HEC: the token and one event object after another.
fn splunk(r: &Request) -> (u16, String) {
    if r.path != "/services/collector/event" {
        return (
            404,
            r#"{"text":"The requested URL was not found on this server.","code":404}"#.into(),
        );
    }
    if r.headers.get("authorization").map(String::as_str)
        != Some("Splunk 11111111-2222-3333-4444-555555555555")
    {
        return (403, r#"{"text":"Invalid token","code":4}"#.into());
    }
    let text = String::from_utf8_lossy(&r.body);
    let events: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .collect();
    match events {
        Ok(ev)
            if !ev.is_empty()
                && ev.iter().all(|e| {
                    e["time"].is_number()
                        && e["host"].is_string()
                        && e["source"] == "otwatch"
                        && e["sourcetype"] == "otwatch:event"
                        && e["index"] == "ot"
                        && e["event"]["id"].is_string()
                }) =>
        {
            (200, r#"{"text":"Success","code":0}"#.into())
        }
        _ => (400, r#"{"text":"Invalid data format","code":6}"#.into()),
    }
}

fn alert(seq: u64, id: &str, severity: &str) -> Delta {
    let mut d = common::alert(seq, id);
    if let Some(delta::Change::Alert(a)) = d.change.as_mut() {
        a.severity = severity.into();
        a.kind = "plc_stop".into();
    }
    d
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}\n--- manager log ---\n{}", common::logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_splunk_dead_letters_overflow_and_inventory_lines() {
    let sentinel_rx = Receiver::start(Arc::new(sentinel) as Handler).await;
    let splunk_rx = Receiver::start(Arc::new(splunk) as Handler).await;
    // Refuses (400) any batch holding alert "poison": that event alone is a dead letter.
    let picky = Receiver::start(Arc::new(|r: &Request| -> (u16, String) {
        if String::from_utf8_lossy(&r.body).contains("/poison\"") {
            (400, "{\"error\":\"schema\"}".to_string())
        } else {
            (200, "{}".to_string())
        }
    }) as Handler)
    .await;
    let closed = common::fleet::free_port();
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("events.jsonl");
    let fwd = dir.path().join("forwarding.toml");
    std::fs::write(dir.path().join("client-secret"), "s3cret&=+\n").unwrap();
    std::fs::write(
        &fwd,
        format!(
            r#"
[[destination]]
name = "sentinel"
type = "sentinel"
authority = "{auth}"
client_id = "app-1"
client_secret_file = "{secret}"
endpoint = "{endpoint}"
dcr_id = "{DCR}"
stream = "{STREAM}"

[[destination]]
name = "splunk"
type = "splunk"
url = "{splunk}"
token = "11111111-2222-3333-4444-555555555555"
index = "ot"

[[destination]]
name = "picky"
type = "webhook"
url = "{picky}"
secret = "k"

[[destination]]
name = "down"
type = "webhook"
url = "http://127.0.0.1:{closed}/"
secret = "k"
queue_max_events = 3
retry_min_ms = 50
retry_max_ms = 100

[[destination]]
name = "shipper"
type = "file"
path = "{lines}"

[[rule]]
name = "high-to-sentinel"
destination = "sentinel"
min_severity = "high"

[[rule]]
name = "all-to-splunk"
destination = "splunk"

[[rule]]
name = "picky"
destination = "picky"

[[rule]]
name = "down"
destination = "down"

[[rule]]
name = "inventory"
destination = "shipper"
events = ["new_asset", "firmware_changed"]
sites = ["plant-h"]
"#,
            auth = sentinel_rx.url("/tenant-1"),
            secret = dir.path().join("client-secret").display(),
            endpoint = sentinel_rx.url(""),
            splunk = splunk_rx.url(""),
            picky = picky.url("/hook"),
            lines = lines.display(),
        ),
    )
    .unwrap();
    let mut fx = Fixture::start().await;
    fx.settings.forwarding = Some(fwd);
    fx.restart_same_port().await;

    let mut c = common::sensor_at(&fx, "plant-h").await;
    let mut plc = common::s7_300_at_level_1(6);
    let mut plc_updated = plc.clone();
    plc_updated.seq = 7;
    if let Some(delta::Change::Asset(a)) = plc_updated.change.as_mut() {
        a.firmware = "V3.3.0".into();
    }
    if let Some(delta::Change::Asset(a)) = plc.change.as_mut() {
        a.firmware = "V3.2.6".into();
    }
    let batch = vec![
        alert(1, "a1", "critical"),
        alert(2, "a2", "low"),
        alert(3, "poison", "high"),
        alert(4, "a4", "high"),
        alert(5, "a5", "medium"),
        plc,
    ];
    common::sync(&mut c, vec![batch, vec![plc_updated]])
        .await
        .unwrap();

    let store = fx.mgr.as_ref().unwrap().shared.store.clone();
    let stats = || -> std::collections::HashMap<String, otwatch_manager::forward::ForwardStats> {
        store.forward_stats().unwrap().into_iter().collect()
    };
    until("every destination settles", || {
        let s = stats();
        s.get("sentinel").is_some_and(|x| x.delivered_total == 3)
            && s.get("splunk").is_some_and(|x| x.delivered_total == 5)
            && s.get("picky")
                .is_some_and(|x| x.delivered_total == 4 && x.dead_total == 1)
            && s.get("down").is_some_and(|x| x.failures_total >= 2)
            && s.get("shipper").is_some_and(|x| x.delivered_total == 2)
    })
    .await;
    let s = stats();
    // Sentinel: the high and critical alerts only, one token for all batches.
    let sent = sentinel_rx.taken();
    let tokens = sent.iter().filter(|r| r.path.contains("/oauth2/")).count();
    assert_eq!(tokens, 1, "the token is cached");
    let rows: Vec<Value> = sent
        .iter()
        .filter(|r| r.path.contains("/dataCollectionRules/"))
        .flat_map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap())
        .collect();
    let mut ids: Vec<&str> = rows
        .iter()
        .map(|r| r["alert_id"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a1", "a4", "poison"]);
    assert!(rows
        .iter()
        .all(|r| r["TimeGenerated"] == r["time"] && r["site"] == "plant-h"));
    // Splunk: all five alerts, nothing of the inventory.
    let hec: Vec<Value> = splunk_rx
        .taken()
        .iter()
        .flat_map(|r| {
            serde_json::Deserializer::from_slice(&r.body)
                .into_iter::<Value>()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(hec.len(), 5);
    assert!(hec.iter().all(|e| e["event"]["event"] == "alert"));
    // Dead letters: only the poison event, with the receiver's reason.
    let dead = store.forward_dead_letters("picky", 10).unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].event.alert_id.ends_with("/poison"));
    assert!(dead[0].reason.contains("400"), "{}", dead[0].reason);
    assert_eq!(s["picky"].queued, 0);
    // The unreachable destination holds its bound, counts the rest, and says why.
    assert_eq!((s["down"].queued, s["down"].overflowed_total), (3, 2));
    assert!(
        s["down"].last_error.contains("cannot connect"),
        "{}",
        s["down"].last_error
    );
    assert!(s["down"].oldest_at > 0);
    // Latency is counted for metrics: delivered within a second or two here.
    assert!(s["splunk"].delivery_seconds_total <= 2 * s["splunk"].delivered_total);
    // The same counters in the manager's metrics, per destination.
    let cred = fx.operator_creds("prom", otwatch_common::link::OperatorRole::Viewer);
    let cert = std::fs::read_to_string(cred.join("cert.pem")).unwrap();
    let key = std::fs::read_to_string(cred.join("key.pem")).unwrap();
    let (status, _, metrics) = common::https_get(&fx, "/metrics", Some((&cert, &key)), None).await;
    assert_eq!(status, 200, "{metrics}");
    let value = |family: &str, dest: &str| {
        let prefix = format!("{family}{{destination=\"{dest}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
    };
    assert_eq!(
        value("otwatch_manager_forward_delivered_total", "splunk"),
        5.0
    );
    assert_eq!(
        value("otwatch_manager_forward_dead_letters_total", "picky"),
        1.0
    );
    assert_eq!(value("otwatch_manager_forward_queued_events", "down"), 3.0);
    assert_eq!(
        value("otwatch_manager_forward_overflowed_total", "down"),
        2.0
    );
    assert!(value("otwatch_manager_forward_failures_total", "down") >= 2.0);
    assert!(value("otwatch_manager_forward_oldest_event_age_seconds", "down") >= 0.0);
    assert_eq!(
        value("otwatch_manager_forward_delivery_seconds_total", "splunk"),
        s["splunk"].delivery_seconds_total as f64
    );
    // The inventory as JSON lines: the PLC is new, then its firmware changed.
    let text = std::fs::read_to_string(&lines).unwrap();
    let ev: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ev.len(), 2, "{text}");
    assert_eq!(ev[0]["event"], "new_asset");
    assert_eq!(ev[0]["firmware"], "V3.2.6");
    assert_eq!(ev[0]["vendor"], "Siemens");
    assert_eq!(ev[1]["event"], "firmware_changed");
    assert_eq!(
        (
            ev[1]["previous_firmware"].as_str(),
            ev[1]["firmware"].as_str()
        ),
        (Some("V3.2.6"), Some("V3.3.0"))
    );
    assert_ne!(ev[0]["id"], ev[1]["id"]);
    // The failing destination shows in the manager's health: otwatch.v1.Forwarding NOT_SERVING.
    let mut health = tonic_health::pb::health_client::HealthClient::new(fx.anonymous().await);
    let mut status = 0;
    for _ in 0..80 {
        status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: otwatch_manager::serve::FORWARDING_HEALTH.into(),
            })
            .await
            .map_or(0, |r| r.into_inner().status);
        if status == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );

    // And in `otwatch sensors`, for any operator: the waiting events and the failing
    // destination by name.
    let mut viewer = fx
        .operator("vic", otwatch_common::link::OperatorRole::Viewer)
        .await;
    let f = viewer
        .list_sensors(otwatch_proto::v1::ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .forwarding
        .unwrap();
    assert_eq!(f.destinations, 5);
    assert_eq!(f.failing, ["down"], "{f:?}");
    assert!(f.queued >= 3 && f.overflowed >= 2 && f.dead >= 1, "{f:?}");
    fx.stop().await;
}
