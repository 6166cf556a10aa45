//! `GET /metrics` on a real manager: only operators get it (a client certificate or a bearer
//! token; no credential and a sensor's certificate are refused); the exposition parses with
//! the Prometheus project's own Python parser (`prometheus_client.parser`), and its values move
//! as a sensor's batches are applied and operators call the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::skip::{skip, Need};
use common::{asset, enroll, https_get, sync, Fixture};
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::{DeltaBatch, ListSitesRequest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Samples by `name{label=value,...}` (labels sorted), as the Prometheus parser reads them,
/// and each family's type; `None` when python3 or prometheus_client is missing.
fn parse(text: &str) -> Option<(BTreeMap<String, f64>, BTreeMap<String, String>)> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([f.name, f.type, s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let (mut samples, mut types) = (BTreeMap::new(), BTreeMap::new());
    for r in rows {
        types.insert(
            r[0].as_str().unwrap().to_string(),
            r[1].as_str().unwrap().to_string(),
        );
        let labels: BTreeMap<String, String> = serde_json::from_value(r[3].clone()).unwrap();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        samples.insert(
            format!("{}{{{}}}", r[2].as_str().unwrap(), labels.join(",")),
            r[4].as_f64().unwrap(),
        );
    }
    Some((samples, types))
}

#[tokio::test]
async fn metrics_are_for_operators_parse_and_follow_the_batches() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant", 3600))
        .await
        .unwrap();
    let cred = fx.operator_creds("prom", OperatorRole::Viewer);
    let cert = std::fs::read_to_string(cred.join("cert.pem")).unwrap();
    let key = std::fs::read_to_string(cred.join("key.pem")).unwrap();
    let scrape = || https_get(&fx, "/metrics", Some((&cert, &key)), None);

    // Who may scrape.
    let (status, _, body) = https_get(&fx, "/metrics", None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, _) = https_get(&fx, "/metrics", Some((&s.cert_pem, &s.key_pem)), None).await;
    assert_eq!(status, 403);
    let (status, _, _) = https_get(
        &fx,
        "/metrics",
        None,
        Some((
            "authorization",
            "Bearer otwop1.00000000000000000000000000000000",
        )),
    )
    .await;
    assert_eq!(status, 401);
    let token = otwatch_manager::admin::create_operator_token(
        fx.mgr.as_ref().unwrap().shared.store.as_ref(),
        "scraper",
        OperatorRole::Viewer,
        3600,
    )
    .unwrap();
    let bearer = format!("Bearer {}", token.token);
    let (status, ctype, _) =
        https_get(&fx, "/metrics", None, Some(("authorization", &bearer))).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");

    let (status, _, before) = scrape().await;
    assert_eq!(status, 200);
    let Some((before, types)) = parse(&before) else {
        skip(
            "python3 with prometheus_client (tests/peers/requirements.txt) is not installed",
            Need::InCi,
        );
        return;
    };
    assert_eq!(
        types["otwatch_manager_api_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(types["otwatch_manager_sensors_connected"], "gauge");
    assert_eq!(before["otwatch_manager_sensors_connected{}"], 0.0);
    assert_eq!(before["otwatch_manager_sensors{}"], 1.0);
    assert!(before["otwatch_manager_store_size_bytes{}"] > 0.0);
    let seq = format!(
        "otwatch_manager_sensor_applied_sequence{{sensor={},site=plant}}",
        s.id
    );
    assert_eq!(before[&seq], 0.0);
    let batches = format!(
        "otwatch_manager_batches_applied_total{{sensor={},site=plant}}",
        s.id
    );
    let deltas = format!(
        "otwatch_manager_deltas_applied_total{{sensor={},site=plant}}",
        s.id
    );
    assert!(!before.contains_key(&batches));

    // Two batches, three deltas, one of them a resend (not counted).
    let mut c = s.client(&fx.url()).await.unwrap();
    sync(
        &mut c,
        vec![
            vec![
                asset(1, "ip:10.0.0.1", &[], &["10.0.0.1"]),
                asset(2, "ip:10.0.0.2", &[], &["10.0.0.2"]),
            ],
            vec![
                asset(2, "ip:10.0.0.2", &[], &["10.0.0.2"]),
                asset(3, "ip:10.0.0.3", &[], &["10.0.0.3"]),
            ],
        ],
    )
    .await
    .unwrap();
    let mut op = fx.operator("ops", OperatorRole::Viewer).await;
    op.list_sites(ListSitesRequest {}).await.unwrap();

    // A Sync stream kept open counts as a connected sensor.
    let (tx, rx) = tokio::sync::mpsc::channel::<DeltaBatch>(1);
    let mut acks = c
        .sync(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(DeltaBatch {
        deltas: vec![asset(4, "ip:10.0.0.4", &[], &["10.0.0.4"])],
        after_seq: None,
    })
    .await
    .unwrap();
    assert_eq!(acks.message().await.unwrap().unwrap().applied_seq, 4);

    let (_, _, after) = scrape().await;
    let (after, _) = parse(&after).unwrap();
    assert_eq!(after[&batches], 3.0);
    assert_eq!(after[&deltas], 4.0);
    assert_eq!(after[&seq], 4.0);
    assert_eq!(after["otwatch_manager_sensors_connected{}"], 1.0);
    let calls =
        "otwatch_manager_api_request_duration_seconds_count{method=ListSites,service=Manager}";
    assert_eq!(after[calls], 1.0);
    let inf =
        "otwatch_manager_api_request_duration_seconds_bucket{le=+Inf,method=ListSites,service=Manager}";
    assert_eq!(after[inf], 1.0);
    assert!(after.contains_key(
        "otwatch_manager_api_request_duration_seconds_count{method=Sync,service=SensorLink}"
    ));

    // The stream closed: no sensor connected.
    drop(tx);
    while acks.message().await.ok().flatten().is_some() {}
    for _ in 0..100 {
        let (_, _, text) = scrape().await;
        if parse(&text).unwrap().0["otwatch_manager_sensors_connected{}"] == 0.0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the closed Sync stream still counts as connected");
}
