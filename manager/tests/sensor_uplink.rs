//! The sensor's uplink client (`otwatch_sensor::uplink::client`), in-process, against a real
//! manager: how it reacts to what the manager refuses or lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::{delta, Asset};
use otwatch_sensor::uplink::client::{Uplink, UplinkConfig};
use otwatch_sensor::uplink::outbox::{Entry, Outbox, SentHash};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An enrolled sensor state directory and its outbox.
struct TestSensor {
    _dir: tempfile::TempDir,
    state: PathBuf,
    outbox: Arc<Outbox>,
}

async fn sensor(fx: &Fixture, site: &str) -> TestSensor {
    sensor_with_id(fx, site).await.0
}

/// An enrolled sensor and its id.
async fn sensor_with_id(fx: &Fixture, site: &str) -> (TestSensor, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_path_buf();
    let (url, token, st) = (fx.url(), fx.token(site, 3600), state.clone());
    let info = tokio::task::spawn_blocking(move || {
        otwatch_sensor::uplink::enroll::enroll(&url, &token, &st).unwrap()
    })
    .await
    .unwrap();
    let db = sled::open(state.join("db")).unwrap();
    let outbox = Arc::new(Outbox::open(&db, 100_000).unwrap());
    let s = TestSensor {
        _dir: dir,
        state,
        outbox,
    };
    (s, info.sensor_id)
}

impl TestSensor {
    fn start(&self) -> Uplink {
        Uplink::start(
            UplinkConfig {
                state: self.state.clone(),
                manager: None,
            },
            self.outbox.clone(),
        )
        .unwrap()
    }

    /// Queues one asset upsert per address `10.0.0.<n>`.
    fn assets(&self, ns: &[u8]) {
        self.assets_named(ns, "");
    }

    /// [`TestSensor::assets`] with a host name.
    fn assets_named(&self, ns: &[u8], hostname: &str) {
        let entries = ns
            .iter()
            .map(|n| {
                let id = format!("ip:10.0.0.{n}");
                Entry {
                    key: format!("a:{id}"),
                    change: delta::Change::Asset(Asset {
                        ips: vec![format!("10.0.0.{n}")],
                        id,
                        hostname: hostname.to_string(),
                        ..Default::default()
                    }),
                    coalesce: true,
                    sent: SentHash::Keep,
                }
            })
            .collect();
        self.outbox
            .enqueue(entries, "2024-01-01T00:00:00Z")
            .unwrap();
    }

    /// Waits up to 20 s until the manager acknowledged `seq`.
    async fn acked(&self, seq: u64) {
        let until = Instant::now() + Duration::from_secs(20);
        while self.outbox.acked() < seq {
            assert!(
                Instant::now() < until,
                "acked {} of {seq}; log:\n{}",
                self.outbox.acked(),
                logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

async fn addresses(fx: &Fixture, site: &str) -> Vec<String> {
    let mut op = fx.operator("viewer", OperatorRole::Viewer).await;
    let mut ips: Vec<String> = all_assets(&mut op, site)
        .await
        .assets
        .into_iter()
        .flat_map(|a| a.asset.unwrap().ips)
        .collect();
    ips.sort();
    ips
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_restored_from_a_backup_gets_the_rest_instead_of_a_refusal_loop() {
    let mut fx = Fixture::start().await;
    let s = sensor(&fx, "plant-r").await;
    let uplink = s.start();
    s.assets(&[1, 2, 3]);
    uplink.wake();
    s.acked(3).await;
    // A backup of the manager's store with seq 1..=3.
    let backup = fx.dir.path().join("backup");
    fx.stop().await;
    copy_dir(&fx.data().join("db"), &backup);
    fx.restart_same_port().await;
    s.assets(&[4, 5]);
    uplink.wake();
    s.acked(5).await;
    // The manager comes back from the backup: it acknowledged 4 and 5 but no longer has them.
    fx.stop().await;
    std::fs::remove_dir_all(fx.data().join("db")).unwrap();
    copy_dir(&backup, &fx.data().join("db"));
    fx.restart_same_port().await;
    s.assets(&[6]);
    uplink.wake();
    s.acked(6).await;
    expect_log(&["the manager has lost deltas 4..=5"]).await;
    assert_eq!(
        addresses(&fx, "plant-r").await,
        ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.6"]
    );
    assert!(!logs().contains("sequence gap"), "{}", logs());
    uplink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_under_the_managers_limit_and_a_change_that_never_fits_does_not_stall_the_link(
) {
    let fx = Fixture::start().await;
    let s = sensor(&fx, "plant-o").await;
    // 3 MiB of assets: more than one batch.
    let many: Vec<u8> = (1..=30).collect();
    s.assets_named(&many, &"h".repeat(100 << 10));
    // One asset larger than any batch the manager accepts, then one more.
    s.assets_named(&[31], &"x".repeat(5 << 20));
    s.assets(&[32]);
    let uplink = s.start();
    s.acked(32).await;
    expect_log(&["a change is larger than the manager accepts", "seq=31"]).await;
    let ips = addresses(&fx, "plant-o").await;
    assert_eq!(ips.len(), 31, "{ips:?}");
    assert!(!ips.contains(&"10.0.0.31".to_string()));
    assert!(
        !logs().contains("larger than the manager accepts (4194304"),
        "{}",
        logs()
    );
    uplink.stop();
}

/// Waits up to 10 s for `f`.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "{what}; log:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_sensor_stops_its_uplink_once_and_says_how_to_enrol_again() {
    let fx = Fixture::start().await;
    let mut admin = fx.operator("root", OperatorRole::Admin).await;
    // Revoked while connected: refused on the open connection.
    let (s, id) = sensor_with_id(&fx, "plant-v").await;
    let uplink = s.start();
    s.assets(&[1]);
    uplink.wake();
    s.acked(1).await;
    assert!(!uplink.revoked());
    admin
        .revoke_sensor(otwatch_proto::v1::RevokeSensorRequest { id: id.clone() })
        .await
        .unwrap();
    s.assets(&[2]);
    uplink.wake();
    eventually("the uplink sees the revocation", || uplink.revoked()).await;
    // Revoked before it connects: refused at the TLS handshake.
    let (s2, id2) = sensor_with_id(&fx, "plant-v").await;
    admin
        .revoke_sensor(otwatch_proto::v1::RevokeSensorRequest { id: id2.clone() })
        .await
        .unwrap();
    let uplink2 = s2.start();
    eventually("the second uplink sees the revocation", || {
        uplink2.revoked()
    })
    .await;

    // Then they stay quiet: no retries reach the manager.
    let refusals = |id: &str| {
        logs()
            .lines()
            .filter(|l| l.contains(&format!("sensor {id} is revoked")))
            .count()
    };
    let before = (refusals(&id), refusals(&id2));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!((refusals(&id), refusals(&id2)), before, "{}", logs());
    let told = logs()
        .lines()
        .filter(|l| l.contains("the manager refused this sensor: it was revoked"))
        .count();
    assert_eq!(told, 2, "once per sensor:\n{}", logs());
    expect_log(&[
        "the manager refused this sensor: it was revoked",
        "otwatch-sensor enroll",
    ])
    .await;
    // The handshake refusal reaches the sensor as the alert, not as a reset connection.
    expect_log(&[
        "the manager refused this sensor: it was revoked",
        "CertificateRevoked",
    ])
    .await;
    // What was not acknowledged is still queued.
    assert_eq!(s.outbox.backlog(), 1);
    uplink.stop();
    uplink2.stop();
}
