//! Every refusal gives the client a clear error and leaves a line in the manager's log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clap::Parser;
use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::manager_client::ManagerClient;
use otwatch_proto::v1::sensor_link_client::SensorLinkClient;
use otwatch_proto::v1::*;
use tonic::Code;

/// Connects with the credentials in `cred` and lists sites; the error as the CLI shows it
/// (with its hint).
async fn list_sites_as(url: &str, cred: &std::path::Path) -> Result<ListSitesResponse, String> {
    let mut c = otwatch_manager::cli::connect(url, cred, otwatch_manager::tls::DEFAULT_TIMEOUT)
        .await
        .map_err(|e| otwatch_manager::cli::explain(&e, url))?;
    c.list_sites(ListSitesRequest {})
        .await
        .map(tonic::Response::into_inner)
        .map_err(|e| otwatch_manager::cli::explain(&otwatch_manager::cli::status_err(e), url))
}

#[tokio::test]
async fn no_client_certificate_is_refused_on_manager_and_sync_calls() {
    let fx = Fixture::start().await;
    let e = ManagerClient::new(fx.anonymous().await)
        .list_assets(ListAssetsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("no client certificate"), "{e}");
    expect_log(&[
        "refused",
        "ListAssets",
        "no client certificate",
        "127.0.0.1",
    ])
    .await;

    let mut c = SensorLinkClient::new(fx.anonymous().await);
    let e = sync(
        &mut c,
        vec![vec![asset(1, "ip:10.0.0.1", &[], &["10.0.0.1"])]],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    expect_log(&["refused", "Sync", "no client certificate"]).await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let fx = Fixture::start().await;
    let other = tempfile::tempdir().unwrap();
    otwatch_manager::pki::init(&other.path().join("m"), &[], "other").unwrap();
    let cred = other.path().join("op");
    otwatch_manager::admin::create_user(
        &other.path().join("m"),
        "mallory",
        OperatorRole::Admin,
        &cred,
    )
    .unwrap();
    // Trust the real manager's CA, present a certificate of the other CA.
    std::fs::copy(fx.data().join("ca.pem"), cred.join("ca.pem")).unwrap();
    let r = list_sites_as(&fx.url(), &cred).await;
    let err = r.unwrap_err();
    eprintln!("client error (other CA): {err}");
    assert!(
        err.contains("UnknownCA") && err.contains("another manager's CA"),
        "{err}"
    );
    expect_log(&["TLS handshake refused", "127.0.0.1"]).await;
}

#[tokio::test]
async fn a_revoked_sensor_is_refused_at_its_next_handshake() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    c.heartbeat(HeartbeatRequest::default()).await.unwrap();

    // An analyst cannot revoke; an admin can.
    let mut analyst = fx.operator("ann", OperatorRole::Analyst).await;
    let e = analyst
        .revoke_sensor(RevokeSensorRequest { id: s.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut admin = fx.operator("root", OperatorRole::Admin).await;
    let r = admin
        .revoke_sensor(RevokeSensorRequest { id: s.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, "revoked");
    expect_log(&["sensor revoked", &s.id]).await;

    // Per call on the open connection...
    let e = c.heartbeat(HeartbeatRequest::default()).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("revoked"), "{e}");
    // ...and at the handshake of the next one.
    let r = async {
        let mut c = s.client(&fx.url()).await?;
        c.heartbeat(HeartbeatRequest::default())
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    let err = r.unwrap_err();
    eprintln!("client error (revoked): {err}");
    // The client reads the TLS alert, or (TLS 1.3: it may be writing its first request) sees
    // the connection close; the manager's log says why either way.
    assert!(
        err.contains("Revoked") || err.contains("connection closed") || err.contains("broken pipe"),
        "{err}"
    );
    expect_log(&["TLS handshake refused", "Revoked"]).await;
    expect_log(&[&format!("sensor {} is revoked", s.id)]).await;
}

#[tokio::test]
async fn reused_and_expired_tokens_are_refused() {
    let fx = Fixture::start().await;
    let t = fx.token("plant-a", 3600);
    enroll(&fx.url(), fx.port(), &t).await.unwrap();
    let e = enroll(&fx.url(), fx.port(), &t).await.err().unwrap();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("already used"), "{e}");
    assert!(e.message().contains("token create --site plant-a"), "{e}");
    expect_log(&["refused", "Enroll", "already used"]).await;

    let t = fx.token("plant-a", 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let e = enroll(&fx.url(), fx.port(), &t).await.err().unwrap();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("expired"), "{e}");
    expect_log(&["refused", "Enroll", "expired"]).await;

    // A token of the right CA with an unknown secret.
    let mut forged: otwatch_common::link::EnrollToken = t.parse().unwrap();
    forged.secret = "0".repeat(32);
    let e = enroll(&fx.url(), fx.port(), &forged.to_string())
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_viewer_cannot_acknowledge_and_roles_stay_on_their_side() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    sync(&mut c, vec![vec![alert(1, "a1")]]).await.unwrap();
    let mut viewer = fx.operator("vic", OperatorRole::Viewer).await;
    let e = viewer
        .acknowledge_alert(AlertActionRequest {
            id: format!("{}/a1", s.id),
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(
        e.message(),
        "role viewer cannot acknowledge alerts; ask an admin for the analyst role"
    );
    expect_log(&["refused", "AcknowledgeAlert", "role viewer"]).await;

    // A sensor calling the Manager API, an operator calling Sync.
    let ch = otwatch_manager::tls::channel(&fx.url(), &s.ca_pem, Some((&s.cert_pem, &s.key_pem)))
        .await
        .unwrap();
    let e = ManagerClient::new(ch)
        .list_sites(ListSitesRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("not an operator"), "{e}");
    let cred = fx.operator_creds("olga", OperatorRole::Admin);
    let read = |f: &str| std::fs::read_to_string(cred.join(f)).unwrap();
    let ch = otwatch_manager::tls::channel(
        &fx.url(),
        &read("ca.pem"),
        Some((&read("cert.pem"), &read("key.pem"))),
    )
    .await
    .unwrap();
    let e = sync(
        &mut SensorLinkClient::new(ch),
        vec![vec![alert(1, "forged")]],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("not a sensor"), "{e}");
    expect_log(&["refused", "Sync", "not a sensor"]).await;
}

#[tokio::test]
async fn a_revoked_operator_is_refused_until_issued_a_new_certificate() {
    let mut fx = Fixture::start().await;
    let mut bob = fx.operator("bob", OperatorRole::Analyst).await;
    bob.list_sites(ListSitesRequest {}).await.unwrap();

    // Only an admin revokes operators.
    let e = bob
        .revoke_operator(RevokeOperatorRequest { name: "bob".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut admin = fx.operator("root", OperatorRole::Admin).await;
    let r = admin
        .revoke_operator(RevokeOperatorRequest { name: "bob".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.name, "bob");
    expect_log(&["operator certificates revoked", "operator=bob", "by=root"]).await;

    // Per call on the open connection...
    let e = bob.list_sites(ListSitesRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("operator bob were revoked"), "{e}");
    // ...at the next handshake, and after a restart of the manager.
    let cred = fx.dir.path().join("op-bob");
    for restart in [false, true] {
        if restart {
            fx.restart().await;
        }
        let r = list_sites_as(&fx.url(), &cred).await;
        let err = r.unwrap_err();
        assert!(err.contains("revoked"), "{err}");
    }
    expect_log(&["refusing a revoked certificate", "operator bob"]).await;
    // Other operators are untouched.
    fx.operator("ann", OperatorRole::Viewer)
        .await
        .list_sites(ListSitesRequest {})
        .await
        .unwrap();

    // A certificate issued after the revocation (a later second) is accepted.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = fx.dir.path().join("op-bob-2");
    otwatch_manager::admin::create_user(&fx.data(), "bob", OperatorRole::Viewer, &fresh).unwrap();
    otwatch_manager::cli::connect(&fx.url(), &fresh, otwatch_manager::tls::DEFAULT_TIMEOUT)
        .await
        .unwrap()
        .list_sites(ListSitesRequest {})
        .await
        .unwrap();
}

#[tokio::test]
async fn operator_bearer_tokens_carry_a_role_and_are_refused_when_bad_expired_or_revoked() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    sync(
        &mut s.client(&fx.url()).await.unwrap(),
        vec![vec![alert(1, "a1")]],
    )
    .await
    .unwrap();
    let ca = fx.data().join("ca.pem");
    let url = fx.url();
    let with_token = |t: String| {
        let (url, ca) = (url.clone(), ca.clone());
        async move {
            otwatch_manager::cli::connect_token(
                &url,
                &ca,
                &t,
                otwatch_manager::tls::DEFAULT_TIMEOUT,
            )
            .await
            .unwrap()
        }
    };

    // Only an admin creates tokens.
    let mut viewer = fx.operator("vic", OperatorRole::Viewer).await;
    let e = viewer
        .create_operator_token(CreateOperatorTokenRequest {
            name: "svc".into(),
            role: "viewer".into(),
            ttl_seconds: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut admin = fx.operator("root", OperatorRole::Admin).await;
    let t = admin
        .create_operator_token(CreateOperatorTokenRequest {
            name: "svc".into(),
            role: "viewer".into(),
            ttl_seconds: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t.token.starts_with("otwop1."), "{}", t.token);
    assert_eq!(t.role, "viewer");
    expect_log(&["operator token created", "operator=svc", "by=root"]).await;

    // The token reads, within its role.
    let mut svc = with_token(t.token.clone()).await;
    let sites = svc
        .list_sites(ListSitesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sites.sites.len(), 1);
    let e = svc
        .acknowledge_alert(AlertActionRequest {
            id: format!("{}/a1", s.id),
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("role viewer"), "{e}");
    // It is no sensor credential.
    let ch = otwatch_manager::tls::channel(&fx.url(), &s.ca_pem, None)
        .await
        .unwrap();
    let mut link = SensorLinkClient::with_interceptor(ch, |mut r: tonic::Request<()>| {
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", t.token).parse().unwrap(),
        );
        Ok(r)
    });
    let e = link
        .heartbeat(HeartbeatRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("not a sensor"), "{e}");

    // Malformed, unknown and expired tokens.
    let e = with_token("hunter2".into())
        .await
        .list_sites(ListSitesRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("not an operator token"), "{e}");
    let e = with_token(format!("otwop1.{}", "0".repeat(32)))
        .await
        .list_sites(ListSitesRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("unknown operator token"), "{e}");
    let shared = &fx.mgr.as_ref().unwrap().shared;
    let short = otwatch_manager::admin::create_operator_token(
        shared.store.as_ref(),
        "tmp",
        OperatorRole::Viewer,
        1,
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let e = with_token(short.token.clone())
        .await
        .list_sites(ListSitesRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("expired"), "{e}");
    expect_log(&["refused", "ListSites", "expired"]).await;

    // Revoking the operator refuses its tokens too.
    admin
        .revoke_operator(RevokeOperatorRequest { name: "svc".into() })
        .await
        .unwrap();
    let e = svc.list_sites(ListSitesRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("revoked"), "{e}");

    // No token secret ever reaches the log.
    let log = logs();
    for tok in [&t.token, &short.token] {
        let secret = tok.trim_start_matches("otwop1.");
        assert!(!log.contains(secret), "a token secret is in the log");
    }
}

/// That `r` failed with `code` and exactly `message`.
fn assert_refused<T: std::fmt::Debug>(
    r: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    message: &str,
) {
    let e = r.unwrap_err();
    assert_eq!((e.code(), e.message()), (code, message), "{e}");
}

#[tokio::test]
async fn bad_admin_arguments_are_invalid_and_missing_items_not_found() {
    let fx = Fixture::start().await;
    let mut admin = fx.operator("root", OperatorRole::Admin).await;
    let bad_name = |what: &str, name: &str| {
        format!("bad {what} name {name:?}: use 1-63 characters of a-z 0-9 . _ - starting with a letter or digit")
    };
    let operator_token = |name: &str, ttl_seconds: u64| CreateOperatorTokenRequest {
        name: name.into(),
        role: "viewer".into(),
        ttl_seconds,
    };

    // Bad arguments: INVALID_ARGUMENT, saying what was wrong and what to do.
    let r = admin
        .create_enrollment_token(CreateEnrollmentTokenRequest {
            site: "Bad Site".into(),
            ttl_seconds: 0,
        })
        .await;
    assert_refused(r, Code::InvalidArgument, &bad_name("site", "Bad Site"));
    let r = admin
        .create_enrollment_token(CreateEnrollmentTokenRequest {
            site: "plant-a".into(),
            ttl_seconds: 31 * 86_400,
        })
        .await;
    assert_refused(
        r,
        Code::InvalidArgument,
        "an enrolment token is valid for 1 second to 30 days; pass e.g. --ttl 24h",
    );
    let r = admin.create_operator_token(operator_token("-svc", 0)).await;
    assert_refused(r, Code::InvalidArgument, &bad_name("user", "-svc"));
    let r = admin
        .create_operator_token(operator_token("svc", 366 * 86_400))
        .await;
    assert_refused(
        r,
        Code::InvalidArgument,
        "an operator token is valid for 1 second to 365 days; pass e.g. --ttl 90d",
    );
    let r = admin
        .revoke_operator(RevokeOperatorRequest {
            name: "Bob Smith".into(),
        })
        .await;
    assert_refused(r, Code::InvalidArgument, &bad_name("user", "Bob Smith"));

    // Missing items: NOT_FOUND, naming what is missing.
    let r = admin
        .revoke_sensor(RevokeSensorRequest {
            id: "nosuch".into(),
        })
        .await;
    assert_refused(
        r,
        Code::NotFound,
        "no sensor nosuch; list them with `otwatch sensors`",
    );
    let r = admin
        .get_asset(GetAssetRequest {
            id: "plant-a/ip:10.9.9.9".into(),
        })
        .await;
    assert_refused(
        r,
        Code::NotFound,
        "no asset plant-a/ip:10.9.9.9; list them with `otwatch assets`",
    );
    let r = admin
        .get_alert(GetAlertRequest {
            id: "nosuch/a1".into(),
        })
        .await;
    assert_refused(
        r,
        Code::NotFound,
        "no alert nosuch/a1; list them with `otwatch alerts`",
    );
    let r = admin
        .list_alerts(ListAlertsRequest {
            asset: "plant-a/ip:10.9.9.9".into(),
            ..Default::default()
        })
        .await;
    assert_refused(
        r,
        Code::NotFound,
        "no asset plant-a/ip:10.9.9.9; list them with `otwatch assets`",
    );
    let r = admin
        .list_alerts(ListAlertsRequest {
            asset: "no-site-part".into(),
            ..Default::default()
        })
        .await;
    assert_refused(
        r,
        Code::InvalidArgument,
        "asset ids look like <site>/<id>, as listed by `otwatch assets`",
    );
    let r = admin
        .acknowledge_alert(AlertActionRequest {
            id: "nosuch/a1".into(),
            comment: String::new(),
        })
        .await;
    assert_refused(
        r,
        Code::NotFound,
        "no alert nosuch/a1; list them with `otwatch alerts`",
    );
}

#[tokio::test]
async fn sequence_gaps_are_refused_with_the_sequence_to_resend_from() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let ip = |seq: u64, n: u8| {
        asset(
            seq,
            &format!("ip:10.0.0.{n}"),
            &[],
            &[&format!("10.0.0.{n}")],
        )
    };
    let mut c = s.client(&fx.url()).await.unwrap();
    assert_eq!(
        sync(&mut c, vec![vec![ip(1, 1), ip(2, 2)]]).await.unwrap(),
        vec![2]
    );
    // 3 and 4 never arrived.
    let e = sync(&mut c, vec![vec![ip(5, 5)]]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
    assert_eq!(
        e.message(),
        "sequence gap: expected 3, got 5; the sensor must resend from 3"
    );
    expect_log(&["batch refused", &s.id, "sequence gap: expected 3"]).await;
    // Declared as coalesced away (after_seq): accepted.
    assert_eq!(
        sync_batches(&mut c, vec![after(2, vec![ip(5, 5)])])
            .await
            .unwrap(),
        vec![5]
    );
    // A batch that says it continues from a delta never received.
    let e = sync_batches(&mut c, vec![after(7, vec![ip(9, 9)])])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
    assert!(e.message().contains("expected 6, got 8"), "{e}");
    // Backwards inside a batch.
    let e = sync(&mut c, vec![vec![ip(7, 7), ip(6, 6)]])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("6 follows 7"), "{e}");
    // Nothing of the refused batches was applied.
    let mut op = fx.operator("root", OperatorRole::Admin).await;
    assert_eq!(all_assets(&mut op, "plant-a").await.total, 3);
    let hb = c
        .heartbeat(HeartbeatRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hb.applied_seq, 5);
}

/// Sends raw bytes as the one message of a Sync stream.
#[derive(Default)]
struct RawBatch;
struct RawEncoder;
struct AckDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for AckDecoder {
    type Item = SyncAck;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<SyncAck>, tonic::Status> {
        prost::Message::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Codec for RawBatch {
    type Encode = Vec<u8>;
    type Decode = SyncAck;
    type Encoder = RawEncoder;
    type Decoder = AckDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> AckDecoder {
        AckDecoder
    }
}

#[tokio::test]
async fn oversized_and_undecodable_batches_are_refused_with_what_to_do() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut big = asset(1, "ip:10.0.0.1", &[], &["10.0.0.1"]);
    if let Some(delta::Change::Asset(a)) = big.change.as_mut() {
        a.hostname = "x".repeat(5 << 20);
    }
    let mut c = s.client(&fx.url()).await.unwrap();
    let e = sync(&mut c, vec![vec![big]]).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    assert!(
        e.message().contains("larger than the manager accepts")
            && e.message().contains("smaller batches"),
        "{e}"
    );
    expect_log(&["refused", "Sync", "larger than the manager accepts"]).await;

    // Field 1 (deltas) claiming more bytes than follow.
    let ch = otwatch_manager::tls::channel(&fx.url(), &s.ca_pem, Some((&s.cert_pem, &s.key_pem)))
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.unwrap();
    let mut acks = grpc
        .streaming(
            tonic::Request::new(tokio_stream::iter(vec![vec![0x0a, 0xff, 0xff, 0x0f]])),
            tonic::codegen::http::uri::PathAndQuery::from_static("/otwatch.v1.SensorLink/Sync"),
            RawBatch,
        )
        .await
        .unwrap()
        .into_inner();
    let e = acks.message().await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(
        e.message()
            .contains("cannot be read as an otwatch.v1.DeltaBatch"),
        "{e}"
    );
    expect_log(&["refused", "Sync", "cannot be read"]).await;

    // The sensor goes on with a good batch.
    let mut c = s.client(&fx.url()).await.unwrap();
    assert_eq!(
        sync(
            &mut c,
            vec![vec![asset(1, "ip:10.0.0.1", &[], &["10.0.0.1"])]]
        )
        .await
        .unwrap(),
        vec![1]
    );
}

/// A store that notes on which thread each operator-token lookup ran.
struct WatchedStore {
    inner: otwatch_manager::store::SledStore,
    token_threads: std::sync::Mutex<Vec<String>>,
}

mod watched {
    use super::WatchedStore;
    use otwatch_manager::store::*;
    use otwatch_proto::v1::{Asset, Connection, FleetAlert};

    impl FleetStore for WatchedStore {
        fn create_token(&self, s: [u8; 32], t: TokenRecord) -> Result<(), StoreError> {
            self.inner.create_token(s, t)
        }
        fn enroll(&self, s: [u8; 32], now: i64, r: SensorRecord) -> Result<Enrolled, StoreError> {
            self.inner.enroll(s, now, r)
        }
        fn token_site(&self, s: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
            self.inner.token_site(s)
        }
        fn sensor(&self, id: &str) -> Result<Option<SensorRecord>, StoreError> {
            self.inner.sensor(id)
        }
        fn sensors(&self) -> Result<Vec<SensorRecord>, StoreError> {
            self.inner.sensors()
        }
        fn update_sensor(
            &self,
            id: &str,
            f: &(dyn Fn(&mut SensorRecord) + Sync),
        ) -> Result<Option<SensorRecord>, StoreError> {
            self.inner.update_sensor(id, f)
        }
        fn apply_batch(&self, b: Batch<'_>, now: i64) -> Result<Applied, StoreError> {
            self.inner.apply_batch(b, now)
        }
        fn create_operator_token(
            &self,
            s: [u8; 32],
            t: OperatorTokenRecord,
        ) -> Result<(), StoreError> {
            self.inner.create_operator_token(s, t)
        }
        fn operator_token(&self, s: [u8; 32]) -> Result<Option<OperatorTokenRecord>, StoreError> {
            let name = std::thread::current().name().unwrap_or("").to_string();
            self.token_threads.lock().unwrap().push(name);
            self.inner.operator_token(s)
        }
        fn survey(&self, k: StoredKind, f: &mut SurveyVisitor<'_>) -> Result<(), StoreError> {
            self.inner.survey(k, f)
        }
        fn remove_expired(
            &self,
            k: StoredKind,
            keys: &[Vec<u8>],
            cutoff: i64,
        ) -> Result<Vec<Removed>, StoreError> {
            self.inner.remove_expired(k, keys, cutoff)
        }
        fn removed_totals(&self) -> Result<Vec<(StoredKind, u64)>, StoreError> {
            self.inner.removed_totals()
        }
        fn size_on_disk(&self) -> Result<u64, StoreError> {
            self.inner.size_on_disk()
        }
        fn revoke_operator(&self, name: &str, at: i64) -> Result<(), StoreError> {
            self.inner.revoke_operator(name, at)
        }
        fn operator_revocations(&self) -> Result<Vec<(String, i64)>, StoreError> {
            self.inner.operator_revocations()
        }
        fn assets_of(&self, id: &str) -> Result<Vec<Asset>, StoreError> {
            self.inner.assets_of(id)
        }
        fn connections_of(&self, id: &str) -> Result<Vec<Connection>, StoreError> {
            self.inner.connections_of(id)
        }
        fn alerts(&self) -> Result<Vec<FleetAlert>, StoreError> {
            self.inner.alerts()
        }
        fn set_alert_state(
            &self,
            id: &str,
            state: &str,
            by: &str,
            at: &str,
            comment: &str,
        ) -> Result<Option<FleetAlert>, StoreError> {
            self.inner.set_alert_state(id, state, by, at, comment)
        }
        fn put_advisory_documents(&self, d: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
            self.inner.put_advisory_documents(d)
        }
        fn advisory_documents(&self, f: &mut DocumentVisitor<'_>) -> Result<(), StoreError> {
            self.inner.advisory_documents(f)
        }
        fn set_approved(
            &self,
            ids: &[String],
            a: Option<&ApprovalRecord>,
        ) -> Result<u64, StoreError> {
            self.inner.set_approved(ids, a)
        }
        fn approved(&self) -> Result<Vec<String>, StoreError> {
            self.inner.approved()
        }
        fn record_score(&self, scope: &str, date: &str, score: u32) -> Result<(), StoreError> {
            self.inner.record_score(scope, date, score)
        }
        fn record_playbook_run(
            &self,
            r: &otwatch_manager::playbook::run::RunRecord,
        ) -> Result<(), StoreError> {
            self.inner.record_playbook_run(r)
        }
        fn playbook_runs(
            &self,
            p: Option<&str>,
            r: Option<&str>,
            max: usize,
        ) -> Result<Vec<otwatch_manager::playbook::run::RunRecord>, StoreError> {
            self.inner.playbook_runs(p, r, max)
        }
        fn add_asset_tags(&self, key: &str, tags: &[String]) -> Result<Vec<String>, StoreError> {
            self.inner.add_asset_tags(key, tags)
        }
        fn asset_tags(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
            self.inner.asset_tags()
        }
        fn scores(&self, scope: &str) -> Result<Vec<(String, u32)>, StoreError> {
            self.inner.scores(scope)
        }
    }
}

#[tokio::test]
async fn bearer_tokens_are_looked_up_off_the_async_threads() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("m");
    otwatch_manager::pki::init(&data, &[], "test-manager").unwrap();
    let store = std::sync::Arc::new(WatchedStore {
        inner: otwatch_manager::store::SledStore::open(&data.join("db")).unwrap(),
        token_threads: Default::default(),
    });
    let t = otwatch_manager::admin::create_operator_token(
        store.as_ref(),
        "svc",
        OperatorRole::Viewer,
        3600,
    )
    .unwrap();
    let m = otwatch_manager::serve::start_with_store(
        &otwatch_manager::pki::DataDir(data.clone()),
        otwatch_manager::pki::Ca::load(&data).unwrap(),
        store.clone(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let url = format!("https://{}", m.addr);
    let mut c = otwatch_manager::cli::connect_token(
        &url,
        &data.join("ca.pem"),
        &t.token,
        otwatch_manager::tls::DEFAULT_TIMEOUT,
    )
    .await
    .unwrap();
    c.list_sites(ListSitesRequest {}).await.unwrap();
    // This test's runtime runs on this thread alone: a sled read here would stall every call.
    let runtime_thread = std::thread::current().name().unwrap_or("").to_string();
    let threads = store.token_threads.lock().unwrap().clone();
    assert!(!threads.is_empty());
    assert!(
        threads.iter().all(|t| *t != runtime_thread),
        "looked up on the async thread: {threads:?}"
    );
    drop(c);
    m.stop().await.unwrap();
}

#[tokio::test]
async fn a_sensor_beyond_its_quota_has_new_records_refused_and_counted() {
    let mut fx = Fixture::start_with(otwatch_manager::serve::Settings {
        quotas: otwatch_manager::store::Quotas {
            assets_per_sensor: 2,
            connections_per_sensor: 1,
            alerts_per_sensor: 1,
        },
        ..Default::default()
    })
    .await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-q", 3600))
        .await
        .unwrap();
    let ip = |seq: u64, n: u8| {
        asset(
            seq,
            &format!("ip:10.0.0.{n}"),
            &[],
            &[&format!("10.0.0.{n}")],
        )
    };
    let mut c = s.client(&fx.url()).await.unwrap();
    let acks = sync(
        &mut c,
        vec![
            vec![ip(1, 1), ip(2, 2), ip(3, 3)],
            vec![
                connection(4, "10.0.0.1", "10.0.0.2", 1),
                connection(5, "10.0.0.1", "10.0.0.3", 1),
                alert(6, "a1"),
                alert(7, "a2"),
            ],
        ],
    )
    .await
    .unwrap();
    // Refused records are acknowledged: the sensor does not send them again.
    assert_eq!(acks, vec![3, 7]);
    let mut op = fx.operator("root", OperatorRole::Admin).await;
    let ips = |r: ListAssetsResponse| {
        r.assets
            .into_iter()
            .flat_map(|a| a.asset.unwrap().ips)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ips(all_assets(&mut op, "plant-q").await),
        ["10.0.0.1", "10.0.0.2"]
    );
    let sensor = |op: &mut otwatch_manager::cli::Client| {
        let mut op = op.clone();
        async move {
            op.list_sensors(ListSensorsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .sensors
                .remove(0)
        }
    };
    let rec = sensor(&mut op).await;
    assert_eq!(
        (rec.over_quota, rec.assets, rec.connections, rec.alerts),
        (3, 2, 1, 1)
    );
    expect_log(&["holds its quota", &s.id, "refused=1"]).await;

    // What it holds still updates; a removal makes room.
    let mut updated = ip(8, 1);
    if let Some(delta::Change::Asset(a)) = updated.change.as_mut() {
        a.hostname = "plc-1".into();
    }
    let removed = Delta {
        seq: 9,
        at: String::new(),
        change: Some(delta::Change::AssetRemoved("ip:10.0.0.2".into())),
    };
    sync(&mut c, vec![vec![updated, removed, ip(10, 4), ip(11, 5)]])
        .await
        .unwrap();
    let assets = all_assets(&mut op, "plant-q").await;
    assert_eq!(ips(assets.clone()), ["10.0.0.1", "10.0.0.4"]);
    assert_eq!(assets.assets[0].asset.as_ref().unwrap().hostname, "plc-1");
    assert_eq!(sensor(&mut op).await.over_quota, 4);
    // Logged once (an hour), not per batch.
    let lines = logs()
        .lines()
        .filter(|l| l.contains("holds its quota") && l.contains(&s.id))
        .count();
    assert_eq!(lines, 1);

    // The counts survive a restart, and so does the view agreeing with the store.
    drop((c, op));
    fx.restart().await;
    let mut op = fx.operator("root2", OperatorRole::Admin).await;
    assert_eq!(
        ips(all_assets(&mut op, "plant-q").await),
        ["10.0.0.1", "10.0.0.4"]
    );
    let mut c = s.client(&fx.url()).await.unwrap();
    sync(&mut c, vec![vec![ip(12, 6)]]).await.unwrap();
    let rec = sensor(&mut op).await;
    assert_eq!((rec.over_quota, rec.assets), (5, 2));
    // The table shows the column.
    let cred = fx.operator_creds("viewer", OperatorRole::Viewer);
    let cli = otwatch_manager::cli::Cli::try_parse_from([
        "otwatch",
        "--manager",
        &fx.url(),
        "--cred",
        &path_str(&cred),
        "sensors",
    ])
    .unwrap();
    let mut out = Vec::new();
    otwatch_manager::cli::run(cli, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.lines().next().unwrap().contains("OVER_QUOTA"), "{out}");
}

/// A list filter that names no value the sensors report is refused with the valid values,
/// whatever the client (the CLI checks them itself; grpcurl and scripts do not), instead of an
/// empty answer that reads as "none"; a known value is taken in any case.
#[tokio::test]
async fn list_filters_outside_the_vocabulary_are_invalid_arguments() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    let mut plc = asset(
        1,
        "mac:00:1b:1b:00:00:01",
        &["00:1b:1b:00:00:01"],
        &["10.0.0.5"],
    );
    if let Some(delta::Change::Asset(a)) = plc.change.as_mut() {
        a.device_type = "plc".into();
        a.purdue_level = Some(1);
    }
    sync(&mut c, vec![vec![plc, alert(2, "a1")]]).await.unwrap();
    let mut op = fx.operator("vic", OperatorRole::Viewer).await;

    let refused = [
        (
            op.list_assets(ListAssetsRequest {
                device_type: "toaster".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "device_type \"toaster\" is not one of the values sensors report; valid values (any case): plc, rtu, ied,",
        ),
        (
            op.list_assets(ListAssetsRequest {
                protocol: "modbuss".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "protocol \"modbuss\"",
        ),
        (
            op.list_assets(ListAssetsRequest {
                purdue_level: Some(7),
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "purdue_level 7 does not exist: Purdue levels are 0 (process) to 5 (enterprise)",
        ),
        (
            op.list_alerts(ListAlertsRequest {
                severity: "urgent".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "valid values (any case): info, low, medium, high, critical",
        ),
        (
            op.list_alerts(ListAlertsRequest {
                state: "closed".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "new, acknowledged, resolved, open",
        ),
        (
            op.list_alerts(ListAlertsRequest {
                kind: "plc-stpo".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "unknown_protocol_in_ot_zone, rule:<name>",
        ),
    ];
    for (r, says) in refused {
        let e = r.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains(says), "{says}: {}", e.message());
    }

    // Any case, and `-` for `_`: the value the sensors report.
    let plcs = op
        .list_assets(ListAssetsRequest {
            device_type: "PLC".into(),
            purdue_level: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plcs.total, 1);
    for (state, seen) in [("New", 1), ("open", 1), ("RESOLVED", 0)] {
        let alerts = op
            .list_alerts(ListAlertsRequest {
                state: state.into(),
                kind: "New-Asset".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(alerts.total, seen, "{state}");
    }
}
