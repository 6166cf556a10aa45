//! Two managers sharing one PostgreSQL store (replicas, docs/POSTGRES.md), in one process: what
//! a sensor sends through one is listed by the other within seconds (its fleet view follows
//! the store), an alert acknowledged or an asset approved on one is so on the other, and a sensor moving
//! from one to the other goes on from the sequence number the store holds, nothing doubled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::postgres::Postgres;
use common::Fixture;
use otwatch_common::link::OperatorRole;
use otwatch_manager::serve::{self, StoreUrl};
use otwatch_proto::v1::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn until<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}\n--- manager log ---\n{}", common::logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_lists_what_the_other_applied_and_a_sensor_moves_between_them() {
    let Some(pg) = Postgres::start() else { return };
    let settings = serve::Settings {
        store: Some(StoreUrl {
            url: pg.url.clone(),
            password: None,
        }),
        ..Default::default()
    };
    // Manager A (the fixture's), and B: the same state directory (CA, certificate) and store.
    let a = Fixture::start_with(settings.clone()).await;
    let b = serve::start_with(&a.data(), "127.0.0.1:0", &settings)
        .await
        .unwrap();
    let b_url = format!("https://127.0.0.1:{}", b.addr.port());
    let mut op_a = a.operator("ana", OperatorRole::Analyst).await;
    let cred = a.operator_creds("bea", OperatorRole::Analyst);
    let mut op_b =
        otwatch_manager::cli::connect(&b_url, &cred, otwatch_manager::tls::DEFAULT_TIMEOUT)
            .await
            .unwrap();

    // A sensor enrolled and sending through A.
    let s = common::enroll(&a.url(), a.port(), &a.token("plant-r", 3600))
        .await
        .unwrap();
    let mut to_a = s.client(&a.url()).await.unwrap();
    common::sync(
        &mut to_a,
        vec![vec![common::s7_300_at_level_1(1), common::alert(2, "x1")]],
    )
    .await
    .unwrap();
    // B's view of the site is built now, from the store.
    assert_eq!(
        common::all_assets(&mut op_b, "plant-r").await.assets.len(),
        1
    );

    // More through A: B lists it without applying anything itself.
    common::sync(&mut to_a, vec![vec![common::hmi_10(3)]])
        .await
        .unwrap();
    until("B lists the asset A applied", || {
        let mut op = op_b.clone();
        async move { common::all_assets(&mut op, "plant-r").await.assets.len() == 2 }
    })
    .await;

    // An alert acknowledged on A is acknowledged on B (alerts are read from the store).
    let id = format!("{}/x1", s.id);
    op_a.acknowledge_alert(AlertActionRequest {
        id: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let on_b = op_b
        .get_alert(GetAlertRequest { id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(on_b.state, "acknowledged");

    // Assets approved on A are approved on B (it reads approvals again when their change id in
    // the store moves).
    let approved = op_a
        .approve_assets(ApproveAssetsRequest {
            site: "plant-r".into(),
            all: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.approved, 2);
    until("B lists A's approvals", || {
        let mut op = op_b.clone();
        async move {
            let assets = common::all_assets(&mut op, "plant-r").await.assets;
            assets.len() == 2 && assets.iter().all(|a| a.approved)
        }
    })
    .await;

    // The sensor moves to B and resends from seq 2 (as after a lost link): B skips what the
    // store applied already and applies the rest once.
    let mut to_b = s.client(&b_url).await.unwrap();
    common::sync(
        &mut to_b,
        vec![vec![
            common::alert(2, "x1"),
            common::hmi_10(3),
            common::connection(4, "10.77.2.10", "10.77.2.22", 7),
        ]],
    )
    .await
    .unwrap();
    let sensors = op_b
        .list_sensors(ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sensors;
    assert_eq!(sensors[0].applied_seq, 4);
    let conns = op_b
        .list_connections(ListConnectionsRequest {
            site: "plant-r".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .connections;
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].connection.as_ref().unwrap().packets, 7);
    // And A, which applied none of it, lists it too.
    until("A lists the connection B applied", || {
        let mut op = op_a.clone();
        async move {
            op.list_connections(ListConnectionsRequest {
                site: "plant-r".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .connections
            .len()
                == 1
        }
    })
    .await;

    // One of the two leads (delivers forwarding, runs playbooks); when it stops, the other
    // takes over.
    let leads = |s: &otwatch_manager::api::Shared| s.leading.load(Ordering::Acquire);
    let a_shared = a.mgr.as_ref().unwrap().shared.clone();
    let b_shared = b.shared.clone();
    for _ in 0..100 {
        if leads(&a_shared) || leads(&b_shared) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        leads(&a_shared) != leads(&b_shared),
        "exactly one manager leads"
    );
    assert!(leads(&a_shared), "the first started leads");
    drop(a_shared);
    let mut a = a;
    a.stop().await;
    for _ in 0..150 {
        if leads(&b_shared) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(leads(&b_shared), "the other manager took the lead");
    drop(b_shared);
    b.stop().await.unwrap();
}
