//! Retention against a real manager whose clock the test advances: each kind's records older
//! than its limit are removed, those newer (to the second) are kept, the fleet view and the
//! store agree, and what was removed stays removed after a restart. `otwatch retention`'s data
//! (GetRetention) reports limits, held, oldest and removed counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clap::Parser;
use common::{alert, asset, connection, enroll, sync, Fixture};
use otwatch_common::link::OperatorRole;
use otwatch_manager::clock::{ManualClock, SharedClock};
use otwatch_manager::pki::{now_secs, rfc3339};
use otwatch_manager::retention::run::run_once;
use otwatch_manager::retention::{Enforced, ExternalKind};
use otwatch_manager::serve::Settings;
use otwatch_proto::v1::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const DAY: i64 = 86_400;

fn ids_of_assets(r: &ListAssetsResponse) -> BTreeSet<String> {
    r.assets
        .iter()
        .flat_map(|a| a.asset.as_ref().unwrap().ips.iter().cloned())
        .collect()
}

async fn alert_ids(op: &mut otwatch_manager::cli::Client) -> BTreeSet<String> {
    let r = op
        .list_alerts(ListAlertsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    r.alerts
        .iter()
        .map(|a| a.alert.as_ref().unwrap().id.clone())
        .collect()
}

async fn connection_servers(op: &mut otwatch_manager::cli::Client) -> BTreeSet<String> {
    let r = op
        .list_connections(ListConnectionsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    r.connections
        .iter()
        .map(|c| c.connection.as_ref().unwrap().server.clone())
        .collect()
}

fn kind<'a>(r: &'a RetentionReport, name: &str) -> &'a RetentionKind {
    r.kinds.iter().find(|k| k.kind == name).unwrap()
}

#[tokio::test]
async fn records_past_their_limit_go_newer_ones_stay_and_a_restart_agrees() {
    records_past_their_limit(None).await;
}

/// The same on PostgreSQL: the run reads and writes the store only off the async threads (the
/// PostgreSQL client blocks; a call on an async thread would abort the manager).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_past_their_limit_go_on_postgres_too() {
    let Some(pg) = common::postgres::Postgres::start() else {
        return;
    };
    records_past_their_limit(Some(otwatch_manager::serve::StoreUrl {
        url: pg.url.clone(),
        password: None,
    }))
    .await;
}

/// Runs `f` where blocking is allowed (the PostgreSQL store's calls block).
async fn off_async<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn records_past_their_limit(store: Option<otwatch_manager::serve::StoreUrl>) {
    let t0 = now_secs();
    let clock = ManualClock::at(t0);
    let mut fx = Fixture::start_with(Settings {
        clock: SharedClock(clock.clone()),
        store,
        ..Default::default()
    })
    .await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    let mut op = fx.operator("ops", OperatorRole::Admin).await;

    // Day 0: assets .1 and .2, a connection to .1, alerts x and y (y resolved at once).
    sync(
        &mut c,
        vec![vec![
            asset(1, "ip:10.0.0.1", &[], &["10.0.0.1"]),
            asset(2, "ip:10.0.0.2", &[], &["10.0.0.2"]),
            connection(3, "10.0.0.2", "10.0.0.1", 5),
            alert(4, "x"),
            alert(5, "y"),
        ]],
    )
    .await
    .unwrap();
    op.resolve_alert(AlertActionRequest {
        id: format!("{}/y", s.id),
        comment: String::new(),
    })
    .await
    .unwrap();
    // Day 10: alert w. Day 100: asset .2 again (renewed), asset .4, a connection to .4, alert z.
    clock.advance(10 * DAY);
    sync(&mut c, vec![vec![alert(6, "w")]]).await.unwrap();
    clock.advance(90 * DAY);
    sync(
        &mut c,
        vec![vec![
            asset(7, "ip:10.0.0.2", &[], &["10.0.0.2"]),
            asset(8, "ip:10.0.0.4", &[], &["10.0.0.4"]),
            connection(9, "10.0.0.2", "10.0.0.4", 5),
            alert(10, "z"),
        ]],
    )
    .await
    .unwrap();
    let shared = fx.mgr.as_ref().unwrap().shared.clone();
    // Risk history: a day 450 days back and today.
    let day = |secs: i64| rfc3339(secs)[..10].to_string();
    let s = shared.clone();
    let (old, today) = (day(t0 - 350 * DAY), day(t0));
    off_async(move || {
        s.store.record_score("plant", &old, 40).unwrap();
        s.store.record_score("plant", &today, 60).unwrap();
    })
    .await;

    // Day 100: alert x (day 0) is past 90 days and goes; w (day 10) is exactly 90 days old
    // and stays; resolved y (day 0) is past 30 days; assets and connections stay.
    let r = run_once(&shared).await.unwrap();
    assert_eq!(
        alert_ids(&mut op).await,
        ["w", "z"].map(String::from).into()
    );
    let assets = common::all_assets(&mut op, "plant").await;
    assert_eq!(
        ids_of_assets(&assets),
        ["10.0.0.1", "10.0.0.2", "10.0.0.4"]
            .map(String::from)
            .into()
    );
    let open = r.iter().find(|k| k.kind == "alerts").unwrap();
    assert_eq!((open.held, open.removed_last_run), (Some(2), 1));
    // Stored times count as up to an hour later (never removed early).
    assert_eq!(open.oldest, Some(t0 + 10 * DAY + 3600));
    let resolved = r.iter().find(|k| k.kind == "resolved_alerts").unwrap();
    assert_eq!((resolved.held, resolved.removed_total), (Some(0), 1));

    // Day 200: asset .1 and the connection to it (day 0) are past 180 days; .2 renewed on day
    // 100 stays; alerts w and z are past 90 days; the score from 550 days back goes.
    clock.advance(100 * DAY);
    run_once(&shared).await.unwrap();
    let assets = common::all_assets(&mut op, "plant").await;
    assert_eq!(
        ids_of_assets(&assets),
        ["10.0.0.2", "10.0.0.4"].map(String::from).into()
    );
    assert_eq!(
        connection_servers(&mut op).await,
        ["10.0.0.4"].map(String::from).into()
    );
    assert!(alert_ids(&mut op).await.is_empty());
    let s = shared.clone();
    let scores = off_async(move || s.store.scores("plant").unwrap()).await;
    assert_eq!(scores, vec![(day(t0), 60)]);
    let sensors = op
        .list_sensors(ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let rec = &sensors.sensors[0];
    assert_eq!((rec.assets, rec.connections, rec.alerts), (2, 1, 0));

    let report = op
        .get_retention(GetRetentionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.every_seconds, 15 * 60);
    let a = kind(&report, "assets");
    assert_eq!(a.limit_seconds, 180 * DAY as u64);
    assert_eq!(
        (a.held, a.removed_total, a.removed_last_run),
        (Some(2), 1, 1)
    );
    assert_eq!(a.oldest, rfc3339(t0 + 100 * DAY + 3600));
    assert_eq!(kind(&report, "alerts").removed_total, 3);
    assert_eq!(kind(&report, "risk_history").removed_total, 1);
    assert_eq!(kind(&report, "connections").removed_total, 1);
    assert!(!kind(&report, "assets").last_run.is_empty());

    // A viewer reads it too.
    let mut viewer = fx.operator("eve", OperatorRole::Viewer).await;
    assert_eq!(
        viewer
            .get_retention(GetRetentionRequest {})
            .await
            .unwrap()
            .into_inner()
            .kinds
            .len(),
        7,
        "the store's six kinds and the forwarding queues"
    );

    // After a restart the view is built from the store: the same assets, nothing back.
    let before = assets.assets.clone();
    drop(shared);
    fx.restart().await;
    let mut op = fx.operator("ops2", OperatorRole::Admin).await;
    let after = common::all_assets(&mut op, "plant").await;
    assert_eq!(after.assets, before);
    assert!(alert_ids(&mut op).await.is_empty());
    let report = op
        .get_retention(GetRetentionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kind(&report, "assets").removed_total, 1);
    assert_eq!(kind(&report, "alerts").removed_total, 3);

    // `otwatch retention`, as a table and as JSON.
    let cred = common::path_str(&fx.operator_creds("cli", OperatorRole::Viewer));
    let url = fx.url();
    let run = |format: &'static str| {
        let args = [
            "otwatch",
            "--manager",
            &url,
            "--cred",
            &cred,
            "--format",
            format,
            "retention",
        ];
        let cli = otwatch_manager::cli::Cli::try_parse_from(args).unwrap();
        async move {
            let mut out = Vec::new();
            otwatch_manager::cli::run(cli, &mut out).await.unwrap();
            String::from_utf8(out).unwrap()
        }
    };
    let table = run("table").await;
    let row = table.lines().find(|l| l.starts_with("assets ")).unwrap();
    assert!(
        row.contains("180d") && row.contains("1 (0 last run)"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&run("json").await).unwrap();
    let risk = json
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "risk_history")
        .unwrap();
    assert_eq!(risk["limit_seconds"], 400 * DAY);
    assert_eq!(risk["removed_total"], 1);
}

#[tokio::test]
async fn a_record_renewed_after_the_survey_is_kept_and_forever_keeps_all() {
    let t0 = now_secs();
    let clock = ManualClock::at(t0);
    let mut retention = otwatch_manager::retention::RetentionSettings::default();
    retention
        .limits
        .insert(otwatch_manager::store::StoredKind::Alerts, None);
    let fx = Fixture::start_with(Settings {
        clock: SharedClock(clock.clone()),
        retention,
        ..Default::default()
    })
    .await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    sync(
        &mut c,
        vec![vec![
            alert(1, "a"),
            asset(2, "ip:10.0.0.1", &[], &["10.0.0.1"]),
        ]],
    )
    .await
    .unwrap();
    clock.advance(400 * DAY);
    let shared = fx.mgr.as_ref().unwrap().shared.clone();
    // Retention found the asset expired, then the sensor sent it again before the removal.
    let mut keys = Vec::new();
    shared
        .store
        .survey(otwatch_manager::store::StoredKind::Assets, &mut |k, _| {
            keys.push(k.to_vec())
        })
        .unwrap();
    sync(
        &mut c,
        vec![vec![asset(3, "ip:10.0.0.1", &[], &["10.0.0.1"])]],
    )
    .await
    .unwrap();
    let cutoff = clock_now(&shared) - 180 * DAY;
    let removed = shared
        .ingest
        .remove_expired(otwatch_manager::store::StoredKind::Assets, keys, cutoff)
        .await
        .unwrap();
    assert!(removed.is_empty());
    // A kind kept elsewhere (as the forwarding queues register theirs): its records are
    // times; those older than its limit go, and it is reported with the store's kinds.
    let queue = Arc::new(Queue(Mutex::new(vec![
        clock_now(&shared) - 3 * DAY,
        clock_now(&shared) - DAY,
    ])));
    shared.retention.register(queue.clone());
    // Alerts are kept forever here.
    let r = run_once(&shared).await.unwrap();
    let q = r.iter().find(|k| k.kind == "stand_in_queue").unwrap();
    assert_eq!(
        (q.limit_secs, q.held, q.removed_last_run, q.removed_total),
        (Some(2 * DAY), Some(1), 1, 1)
    );
    assert_eq!(*queue.0.lock().unwrap(), vec![clock_now(&shared) - DAY]);
    assert_eq!(
        shared.metrics.value(
            "otwatch_manager_retention_removed_total",
            &["stand_in_queue"]
        ),
        Some(1.0)
    );
    let alerts = r.iter().find(|k| k.kind == "alerts").unwrap();
    assert_eq!((alerts.limit_secs, alerts.held), (None, Some(1)));
    let mut op = fx.operator("ops", OperatorRole::Viewer).await;
    assert_eq!(common::all_assets(&mut op, "plant").await.assets.len(), 1);
}

/// A stand-in for a kind kept elsewhere: the times of the records it holds.
struct Queue(Mutex<Vec<i64>>);

impl ExternalKind for Queue {
    fn name(&self) -> &str {
        "stand_in_queue"
    }
    fn limit(&self) -> Option<i64> {
        Some(2 * DAY)
    }
    fn enforce(&self, cutoff: Option<i64>) -> Result<Enforced, String> {
        let mut q = self.0.lock().unwrap();
        let before = q.len();
        q.retain(|t| cutoff.is_none_or(|c| *t >= c));
        Ok(Enforced {
            held: q.len() as u64,
            oldest: q.iter().min().copied(),
            removed: (before - q.len()) as u64,
            removed_total: None,
        })
    }
}

/// The forwarding queues are a retention kind: events a destination never took, older than
/// the limit, are removed and counted as expired; newer ones wait on.
#[tokio::test]
async fn undelivered_forwarding_events_past_the_limit_are_counted_and_removed() {
    let t0 = now_secs();
    let clock = ManualClock::at(t0);
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let file = dir.path().join("forwarding.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[destination]]
name = "down"
type = "webhook"
url = "http://127.0.0.1:{port}/"
secret = "k"
retry_min_ms = 50
retry_max_ms = 100

[[rule]]
name = "all"
destination = "down"
"#
        ),
    )
    .unwrap();
    let fx = Fixture::start_with(Settings {
        clock: SharedClock(clock.clone()),
        forwarding: Some(file),
        retention: otwatch_manager::retention::RetentionSettings {
            forwarding_queues: Some(2 * DAY),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    sync(&mut c, vec![vec![alert(1, "old")]]).await.unwrap();
    clock.advance(3 * DAY);
    sync(&mut c, vec![vec![alert(2, "new")]]).await.unwrap();
    let shared = fx.mgr.as_ref().unwrap().shared.clone();
    let stats = |shared: &otwatch_manager::api::Shared| {
        let all = shared.store.forward_stats().unwrap();
        all.into_iter().find(|(n, _)| n == "down").unwrap().1
    };
    assert_eq!(
        (stats(&shared).queued, stats(&shared).expired_total),
        (2, 0)
    );

    let r = run_once(&shared).await.unwrap();
    let q = r.iter().find(|k| k.kind == "forwarding_queues").unwrap();
    assert_eq!(
        (q.limit_secs, q.held, q.removed_last_run, q.error.as_deref()),
        (Some(2 * DAY), Some(1), 1, None)
    );
    let after = stats(&shared);
    assert_eq!((after.queued, after.expired_total), (1, 1));
    // The event still waiting is the newer one.
    let pending = shared.store.forward_pending("down", 10).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0].1.alert_id.ends_with("/new"),
        "{:?}",
        pending[0].1
    );
    // Nothing newer than the limit goes, however often retention runs.
    run_once(&shared).await.unwrap();
    assert_eq!(stats(&shared).queued, 1);
}

fn clock_now(shared: &otwatch_manager::api::Shared) -> i64 {
    shared.clock.now()
}

#[tokio::test]
async fn a_sensors_deferred_upserts_are_shown_with_it() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    let status = Delta {
        seq: 1,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Status(SensorStatus {
            backlog: 1_000_000,
            outbox_dropped: 7,
            ..Default::default()
        })),
    };
    sync(&mut c, vec![vec![status]]).await.unwrap();
    let mut op = fx.operator("ops", OperatorRole::Viewer).await;
    let sensors = op
        .list_sensors(ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            sensors.sensors[0].backlog,
            sensors.sensors[0].outbox_deferred
        ),
        (1_000_000, 7)
    );
}
