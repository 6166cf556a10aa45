//! Enrolment, sync, the fleet view and restarts, over real TLS on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;

#[tokio::test]
async fn enrol_then_sync_applies_each_delta_once_with_gaps() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    assert!(s.id.starts_with("s-") && s.id.len() == 18, "{}", s.id);
    assert_eq!(s.site, "plant-a");
    let mut op = fx.operator("alice", OperatorRole::Analyst).await;
    let mut watch = op
        .watch(WatchRequest {
            site: "plant-a".into(),
        })
        .await
        .unwrap()
        .into_inner();

    let mut c = s.client(&fx.url()).await.unwrap();
    let batch = vec![
        asset(
            1,
            "mac:00:00:00:00:00:01",
            &["00:00:00:00:00:01"],
            &["10.0.0.1"],
        ),
        connection(2, "10.0.0.1", "10.0.0.2", 5),
        // A gap: 3 and 4 were coalesced away in the sensor's outbox.
        alert(5, "a1"),
    ];
    // The same batch twice (a resend after reconnect), then an old one, then a new one after
    // a coalesced 6.
    let acks = sync_batches(
        &mut c,
        vec![
            after(0, batch.clone()),
            after(0, batch.clone()),
            after(1, vec![connection(2, "10.0.0.1", "10.0.0.2", 999)]),
            after(5, vec![connection(7, "10.0.0.1", "10.0.0.2", 6)]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(acks, vec![5, 5, 5, 7]);
    let ch = watch.message().await.unwrap().unwrap();
    assert_eq!((ch.kind.as_str(), ch.site.as_str()), ("asset", "plant-a"));

    let hb = c
        .heartbeat(HeartbeatRequest {
            last_seq: 7,
            backlog: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hb.applied_seq, 7);

    let assets = all_assets(&mut op, "plant-a").await;
    assert_eq!(assets.total, 1);
    let conns = op
        .list_connections(ListConnectionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(conns.total, 1);
    // 6 from seq 7, not 999 from the stale resend.
    assert_eq!(conns.connections[0].connection.as_ref().unwrap().packets, 6);
    let sensors = op
        .list_sensors(ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sensors;
    assert_eq!(sensors.len(), 1);
    assert_eq!(sensors[0].status, "online");
    assert_eq!(sensors[0].applied_seq, 7);
    assert_eq!(sensors[0].hostname, "test-host");

    let alerts = op
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(alerts.len(), 1);
    let id = alerts[0].id.clone();
    assert_eq!(id, format!("{}/a1", s.id));
    let acked = op
        .acknowledge_alert(AlertActionRequest {
            id: id.clone(),
            comment: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.state, "acknowledged");
    assert_eq!(acked.updated_by, "alice (analyst)");

    // gRPC health answers for both services.
    let mut health = tonic_health::pb::health_client::HealthClient::new(fx.anonymous().await);
    for svc in ["otwatch.v1.Manager", "otwatch.v1.SensorLink"] {
        let h = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: svc.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(h.status, 1, "{svc} serving");
    }

    // Renewal keeps the identity.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let renewed = c
        .renew(RenewRequest { csr_pem: csr })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renewed.sensor_id, s.id);
}

#[tokio::test]
async fn sensors_of_one_site_merge_by_mac_but_sites_never_merge() {
    let fx = Fixture::start().await;
    let a1 = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let a2 = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let b1 = enroll(&fx.url(), fx.port(), &fx.token("plant-b", 3600))
        .await
        .unwrap();
    let mac = "00:1b:1b:00:00:01";
    for (s, ip) in [(&a1, "10.0.0.5"), (&a2, "10.0.0.6"), (&b1, "10.0.0.5")] {
        let mut c = s.client(&fx.url()).await.unwrap();
        let m = if s.site == "plant-a" {
            mac
        } else {
            "00:1b:1b:00:00:99"
        };
        let acks = sync(
            &mut c,
            vec![vec![
                asset(1, &format!("mac:{m}"), &[m], &[ip]),
                connection(2, "10.0.0.9", "10.0.0.5", 3),
            ]],
        )
        .await
        .unwrap();
        assert_eq!(acks, vec![2]);
    }
    let mut op = fx.operator("viewer1", OperatorRole::Viewer).await;
    let a = all_assets(&mut op, "plant-a").await;
    assert_eq!(a.total, 1, "{a:#?}");
    let fa = &a.assets[0];
    assert_eq!(fa.id, format!("plant-a/mac:{mac}"));
    assert_eq!(fa.seen_by.len(), 2);
    let merged = fa.asset.as_ref().unwrap();
    assert_eq!(merged.ips, vec!["10.0.0.5", "10.0.0.6"]);
    assert_eq!(merged.packets, 20);
    let got = op
        .get_asset(GetAssetRequest { id: fa.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(&got, fa);

    let all = all_assets(&mut op, "").await;
    assert_eq!(all.total, 2, "same IP at two sites stays two assets");
    let text = op
        .list_assets(ListAssetsRequest {
            text: "10.0.0.6".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(text.total, 1);
    let paged = op
        .list_assets(ListAssetsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((paged.assets.len(), paged.total), (1, 2));
    // The token names the page's last asset: the next page holds the other one.
    assert!(!paged.next_page_token.is_empty());
    let rest = op
        .list_assets(ListAssetsRequest {
            page_size: 1,
            page_token: paged.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rest.assets.len(), rest.total), (1, 2));
    assert!(rest.assets[0].id > paged.assets[0].id);
    assert!(rest.next_page_token.is_empty());

    let conns = op
        .list_connections(ListConnectionsRequest {
            site: "plant-a".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(conns.total, 1);
    assert_eq!(conns.connections[0].sensors.len(), 2);
    assert_eq!(conns.connections[0].connection.as_ref().unwrap().packets, 6);

    let sites = op
        .list_sites(ListSitesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sites;
    assert_eq!(
        sites
            .iter()
            .map(|s| (s.name.as_str(), s.sensors, s.assets))
            .collect::<Vec<_>>(),
        vec![("plant-a", 2, 1), ("plant-b", 1, 1)]
    );
}

#[tokio::test]
async fn restart_keeps_data_and_last_applied_seq() {
    let mut fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let batch = vec![
        asset(1, "ip:10.0.0.1", &[], &["10.0.0.1"]),
        asset(2, "ip:10.0.0.2", &[], &["10.0.0.2"]),
        alert(3, "x"),
    ];
    // A Sync stream and a Watch stream stay open across the stop: the stop ends them.
    let mut watcher = fx.operator("w", OperatorRole::Viewer).await;
    let mut watch = watcher
        .watch(WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut c = s.client(&fx.url()).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut acks = c
        .sync(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(DeltaBatch {
        deltas: batch.clone(),
        after_seq: None,
    })
    .await
    .unwrap();
    assert_eq!(acks.message().await.unwrap().unwrap().applied_seq, 3);
    assert_eq!(watch.message().await.unwrap().unwrap().kind, "asset");
    fx.restart().await;
    assert!(!matches!(acks.message().await, Ok(Some(_))));
    // The two other changes of the batch were buffered, then the stream ends.
    let mut rest = 0;
    while let Ok(Some(_)) = watch.message().await {
        rest += 1;
        assert!(rest <= 2);
    }
    drop((tx, c, watcher));
    let mut c = s.client(&fx.url()).await.unwrap();
    // The resend after the restart applies nothing.
    assert_eq!(
        sync(
            &mut c,
            vec![batch, vec![asset(4, "ip:10.0.0.3", &[], &["10.0.0.3"])]]
        )
        .await
        .unwrap(),
        vec![3, 4]
    );
    let mut op = fx.operator("root", OperatorRole::Admin).await;
    assert_eq!(all_assets(&mut op, "plant-a").await.total, 3);
    let alerts = op
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alerts.total, 1);
    let sensors = op
        .list_sensors(ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sensors;
    assert_eq!(sensors[0].applied_seq, 4);
    drop((c, op));
    fx.stop().await;
}

/// An asset upsert with a packet count, to tell versions of one asset apart.
fn counted(seq: u64, packets: u64) -> Delta {
    let mut d = asset(
        seq,
        "mac:00:00:00:00:00:0a",
        &["00:00:00:00:00:0a"],
        &["10.0.0.10"],
    );
    if let Some(delta::Change::Asset(a)) = d.change.as_mut() {
        a.packets = packets;
    }
    d
}

async fn packets(op: &mut otwatch_manager::cli::Client) -> Vec<u64> {
    all_assets(op, "plant-a")
        .await
        .assets
        .iter()
        .map(|a| a.asset.as_ref().unwrap().packets)
        .collect()
}

#[tokio::test]
async fn the_listing_shows_only_what_the_store_committed() {
    let mut fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut op = fx.operator("root", OperatorRole::Admin).await;
    let mut c = s.client(&fx.url()).await.unwrap();
    assert_eq!(
        sync(&mut c, vec![vec![counted(1, 4)]]).await.unwrap(),
        vec![1]
    );
    // Out of order, then a duplicate inside one batch: refused, nothing of them shown.
    for bad in [
        vec![counted(3, 4), counted(2, 444)],
        vec![counted(2, 4), counted(2, 444)],
    ] {
        let mut c = s.client(&fx.url()).await.unwrap();
        let e = sync(&mut c, vec![bad]).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
        assert_eq!(packets(&mut op).await, vec![4]);
    }
    // A resend of an applied sequence number with other content is acknowledged, not applied.
    assert_eq!(
        sync(&mut c, vec![vec![counted(1, 444)]]).await.unwrap(),
        vec![1]
    );
    assert_eq!(packets(&mut op).await, vec![4]);
    // A resend that overlaps: only the new part counts.
    assert_eq!(
        sync(&mut c, vec![vec![counted(1, 444), counted(2, 5)]])
            .await
            .unwrap(),
        vec![2]
    );
    assert_eq!(packets(&mut op).await, vec![5]);
    // The store agrees: a restart shows the same.
    drop((c, op));
    fx.restart().await;
    let mut op = fx.operator("root2", OperatorRole::Admin).await;
    assert_eq!(packets(&mut op).await, vec![5]);
}

/// Alert `a1` as the sensor sees it after `count` occurrences.
fn occurrences(seq: u64, count: u64) -> Delta {
    let mut d = alert(seq, "a1");
    if let Some(delta::Change::Alert(a)) = d.change.as_mut() {
        a.count = count;
        a.last_seen = format!("2024-01-01T00:00:{count:02}Z");
    }
    d
}

#[tokio::test]
async fn alerts_are_upserts_and_their_state_belongs_to_operators() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    let mut op = fx.operator("ann", OperatorRole::Analyst).await;
    let id = format!("{}/a1", s.id);
    let state = |op: &mut otwatch_manager::cli::Client| {
        let mut op = op.clone();
        async move {
            let a = op
                .list_alerts(ListAlertsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .alerts;
            assert_eq!(a.len(), 1, "one alert, however often it is sent");
            let a = &a[0];
            (
                a.state.clone(),
                a.updated_by.clone(),
                a.alert.as_ref().unwrap().count,
            )
        }
    };
    sync(&mut c, vec![vec![occurrences(1, 1)]]).await.unwrap();
    let action = AlertActionRequest {
        id: id.clone(),
        comment: String::new(),
    };
    op.acknowledge_alert(action.clone()).await.unwrap();

    // A sensor that claims the alert was resolved by someone: ignored, counted, logged.
    let forged = Delta {
        seq: 2,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::AlertState(AlertStateChange {
            alert_id: "a1".into(),
            state: "resolved".into(),
            by: "alice (admin)".into(),
            at: "2024-01-01T00:00:00Z".into(),
        })),
    };
    assert_eq!(sync(&mut c, vec![vec![forged]]).await.unwrap(), vec![2]);
    assert_eq!(
        state(&mut op).await,
        ("acknowledged".into(), "ann (analyst)".into(), 1)
    );
    expect_log(&["alert state changes", &s.id, "ignored=1"]).await;
    let sensors = op
        .list_sensors(ListSensorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sensors;
    assert_eq!(sensors[0].ignored_alert_states, 1);

    // More occurrences of an acknowledged alert: it stays acknowledged.
    sync(&mut c, vec![vec![occurrences(3, 5)]]).await.unwrap();
    assert_eq!(
        state(&mut op).await,
        ("acknowledged".into(), "ann (analyst)".into(), 5)
    );
    // Resolved (watchers hear of it), then sent again unchanged: it stays resolved.
    let mut watch = op
        .watch(WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    op.resolve_alert(action).await.unwrap();
    let ch = watch.message().await.unwrap().unwrap();
    assert_eq!((ch.kind.as_str(), ch.id.as_str()), ("alert", id.as_str()));
    sync(&mut c, vec![vec![occurrences(4, 5)]]).await.unwrap();
    assert_eq!(
        state(&mut op).await,
        ("resolved".into(), "ann (analyst)".into(), 5)
    );
    // New occurrences after the resolution reopen it, and watchers hear of it.
    sync(&mut c, vec![vec![occurrences(5, 6)]]).await.unwrap();
    assert_eq!(
        state(&mut op).await,
        (
            "new".into(),
            "sensor: new occurrences after resolution".into(),
            6
        )
    );
    // The unchanged resend was a change to the record too; then the reopening.
    for _ in 0..2 {
        let ch = watch.message().await.unwrap().unwrap();
        assert_eq!((ch.kind.as_str(), ch.id.as_str()), ("alert", id.as_str()));
    }
}

fn status(seq: u64, backlog: u64) -> Delta {
    Delta {
        seq,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Status(SensorStatus {
            backlog,
            ..Default::default()
        })),
    }
}

#[tokio::test]
async fn the_sensor_backlog_is_the_latest_measured() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let op = fx.operator("ann", OperatorRole::Viewer).await;
    let backlog = || {
        let mut op = op.clone();
        async move {
            op.list_sensors(ListSensorsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .sensors[0]
                .backlog
        }
    };
    let mut c = s.client(&fx.url()).await.unwrap();
    sync(&mut c, vec![vec![status(1, 500)]]).await.unwrap();
    assert_eq!(backlog().await, 500);
    // The sensor caught up to seq 5 and says so.
    c.heartbeat(HeartbeatRequest {
        last_seq: 5,
        backlog: 0,
    })
    .await
    .unwrap();
    assert_eq!(backlog().await, 0);
    // A status queued back then arrives now: older than the heartbeat.
    sync(&mut c, vec![vec![status(2, 400)]]).await.unwrap();
    assert_eq!(backlog().await, 0);
    // A status made after the heartbeat is newer.
    sync_batches(&mut c, vec![after(2, vec![status(6, 7)])])
        .await
        .unwrap();
    assert_eq!(backlog().await, 7);
}
