#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sensor's uplink against a minimal in-test SensorLink server that follows the link
//! contract (CA pinned by the token, server chain [leaf, CA], CSR signed on Enroll, deltas
//! applied once by sequence number). The sensor is the real binary, as a child process.

use otwatch_common::link::EnrollToken;
use otwatch_proto::v1::sensor_link_server::{SensorLink, SensorLinkServer};
use otwatch_proto::v1::{
    delta::Change, Asset, Connection, DeltaBatch, EnrollRequest, EnrollResponse, HeartbeatRequest,
    HeartbeatResponse, RenewRequest, SyncAck,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

mod common;

const SECRET: &str = "00112233445566778899aabbccddeeff";

struct Pki {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    ca_pem: String,
    ca_der: Vec<u8>,
    server_chain_pem: String,
    server_key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "otwatch test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut sp =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    sp.subject_alt_names
        .push(SanType::URI("urn:otwatch:manager".try_into().unwrap()));
    let leaf = sp
        .signed_by(&server_key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        server_chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
        server_key_pem: server_key.serialize_pem(),
        ca_params,
        ca_key,
    }
}

/// What the fake manager applied.
#[derive(Default, Debug)]
struct Applied {
    last: u64,
    assets: BTreeMap<String, Asset>,
    conns: BTreeMap<String, Connection>,
    statuses: u64,
    /// Deltas received at or below `last` (resends), ignored.
    ignored: u64,
    applied: u64,
    /// Drop the stream after this many more batches (None: never).
    drop_after: Option<u32>,
    /// Enrolment answers with a certificate about to expire (the sensor must renew).
    short_cert: bool,
    renewals: u32,
    /// Refuse every call after enrolment, like a revoked sensor.
    revoked: bool,
    /// Enrolment requests received.
    enrolls: u32,
}

#[derive(Clone)]
struct Svc {
    pki: Arc<Pki>,
    state: Arc<Mutex<Applied>>,
}

impl Svc {
    fn sign(&self, csr_pem: &str, id: &str, short: bool) -> Result<EnrollResponse, Status> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| Status::invalid_argument(format!("bad CSR: {e}")))?;
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, id);
        p.subject_alt_names.push(SanType::URI(
            format!("urn:otwatch:sensor:plant-a:{id}")
                .try_into()
                .unwrap(),
        ));
        p.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let cert = p
            .signed_by(
                &csr.public_key,
                &Issuer::from_params(&self.pki.ca_params, &self.pki.ca_key),
            )
            .unwrap();
        Ok(EnrollResponse {
            sensor_id: id.into(),
            site: "plant-a".into(),
            certificate_pem: cert.pem(),
            ca_pem: self.pki.ca_pem.clone(),
            not_after: if short {
                "2000-01-01T00:00:00Z".into()
            } else {
                "2099-01-01T00:00:00Z".into()
            },
        })
    }
}

#[tonic::async_trait]
impl SensorLink for Svc {
    async fn enroll(&self, r: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        let r = r.into_inner();
        let t: EnrollToken = r
            .token
            .parse()
            .map_err(|e: String| Status::invalid_argument(e))?;
        if t.secret != SECRET {
            return Err(Status::unauthenticated("unknown token"));
        }
        let short = {
            let mut st = self.state.lock().unwrap();
            st.enrolls += 1;
            st.short_cert
        };
        self.sign(&r.csr_pem, "s-0123456789abcdef", short)
            .map(Response::new)
    }

    async fn renew(&self, r: Request<RenewRequest>) -> Result<Response<EnrollResponse>, Status> {
        if r.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated("no client certificate"));
        }
        self.state.lock().unwrap().renewals += 1;
        self.sign(&r.into_inner().csr_pem, "s-0123456789abcdef", false)
            .map(Response::new)
    }

    type SyncStream = ReceiverStream<Result<SyncAck, Status>>;

    async fn sync(
        &self,
        r: Request<Streaming<DeltaBatch>>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        if r.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated("no client certificate"));
        }
        let mut inb = r.into_inner();
        let state = self.state.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok(Some(b)) = inb.message().await {
                let (applied, drop_now) = {
                    let mut st = state.lock().unwrap();
                    for d in b.deltas {
                        if d.seq <= st.last {
                            st.ignored += 1;
                            continue;
                        }
                        st.last = d.seq;
                        st.applied += 1;
                        match d.change {
                            Some(Change::Asset(a)) => {
                                st.assets.insert(a.id.clone(), a);
                            }
                            Some(Change::AssetRemoved(id)) => {
                                st.assets.remove(&id);
                            }
                            Some(Change::Connection(c)) => {
                                st.conns.insert(c.key(), c);
                            }
                            Some(Change::Status(_)) => st.statuses += 1,
                            _ => {}
                        }
                    }
                    let drop_now = match st.drop_after.as_mut() {
                        Some(0) => true,
                        Some(n) => {
                            *n -= 1;
                            false
                        }
                        None => false,
                    };
                    if drop_now {
                        st.drop_after = None;
                    }
                    (st.last, drop_now)
                };
                if drop_now {
                    let _ = tx
                        .send(Err(Status::unavailable("stream dropped by the test")))
                        .await;
                    break;
                }
                if tx
                    .send(Ok(SyncAck {
                        applied_seq: applied,
                    }))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn heartbeat(
        &self,
        r: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        if r.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated("no client certificate"));
        }
        if self.state.lock().unwrap().revoked {
            return Err(Status::permission_denied(
                "sensor s-0123456789abcdef is revoked",
            ));
        }
        Ok(Response::new(HeartbeatResponse {
            applied_seq: self.state.lock().unwrap().last,
            server_time: String::new(),
        }))
    }
}

/// The fake manager: state survives `kill` + `start` (like a durable store).
struct FakeManager {
    svc: Svc,
    port: u16,
    rt: Option<tokio::runtime::Runtime>,
}

impl FakeManager {
    fn new() -> FakeManager {
        let mut m = FakeManager {
            svc: Svc {
                pki: Arc::new(pki()),
                state: Arc::default(),
            },
            port: 0,
            rt: None,
        };
        m.start();
        m
    }

    fn start(&mut self) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = {
            let _g = rt.enter();
            let std = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
            std.set_nonblocking(true).unwrap();
            tokio::net::TcpListener::from_std(std).unwrap()
        };
        self.port = listener.local_addr().unwrap().port();
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(
                &self.svc.pki.server_chain_pem,
                &self.svc.pki.server_key_pem,
            ))
            .client_ca_root(Certificate::from_pem(&self.svc.pki.ca_pem))
            .client_auth_optional(true);
        let svc = self.svc.clone();
        rt.spawn(async move {
            Server::builder()
                .tls_config(tls)
                .unwrap()
                .add_service(SensorLinkServer::new(svc))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
        });
        self.rt = Some(rt);
    }

    /// Stops at once: connections are cut, nothing is answered.
    fn kill(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn token(&self) -> String {
        EnrollToken {
            secret: SECRET.into(),
            ca_sha256: sha256(&self.svc.pki.ca_der),
        }
        .to_string()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.svc.state.lock().unwrap()
    }
}

impl Drop for FakeManager {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    otwatch_sensor::uplink::tls::cert_sha256(b)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

fn sensor() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"));
    c.env("OTWATCH_LOG", "info");
    c
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn enroll(m: &FakeManager, state: &Path) {
    let o = sensor()
        .args([
            "enroll",
            "--manager",
            &m.url(),
            "--enroll-token",
            &m.token(),
            "--state",
        ])
        .arg(state)
        .output()
        .unwrap();
    ok(&o);
}

fn run_args(state: &Path, pcap: &Path, speed: &str) -> Vec<std::ffi::OsString> {
    vec![
        "run".into(),
        "--state".into(),
        state.into(),
        "--commit-interval".into(),
        "1".into(),
        "--speed".into(),
        speed.into(),
        "--drain-timeout".into(),
        "60".into(),
        "--pcap".into(),
        pcap.into(),
    ]
}

/// `analyze` of the same file, as proto assets and connections.
fn analyzed(pcap: &Path) -> (BTreeMap<String, Asset>, BTreeMap<String, Connection>) {
    let o = sensor()
        .args(["analyze", "--format", "json"])
        .arg(pcap)
        .output()
        .unwrap();
    ok(&o);
    let r: otwatch_common::model::InventoryReport = serde_json::from_slice(&o.stdout).unwrap();
    (
        r.assets.into_iter().map(|a| (a.id.clone(), a)).collect(),
        r.connections.into_iter().map(|c| (c.key(), c)).collect(),
    )
}

fn assert_converged(m: &FakeManager, pcap: &Path) {
    let (assets, conns) = analyzed(pcap);
    assert!(!assets.is_empty());
    let st = m.state();
    assert_eq!(st.assets, assets, "assets differ from analyze");
    assert_eq!(st.conns, conns, "connections differ from analyze");
    assert!(st.statuses > 0);
}

#[test]
fn enrolment_stores_the_credentials_and_a_wrong_ca_pin_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    let up = dir.path().join("uplink");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&up), 0o700);
    assert_eq!(mode(&up.join("key.pem")), 0o600);
    for f in ["cert.pem", "ca.pem"] {
        assert!(std::fs::read_to_string(up.join(f))
            .unwrap()
            .contains("BEGIN CERTIFICATE"));
    }
    let link: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(up.join("link.json")).unwrap()).unwrap();
    assert_eq!(link["sensor_id"], "s-0123456789abcdef");
    assert_eq!(link["site"], "plant-a");
    assert_eq!(link["manager"], m.url());

    // A token whose CA hash is not this manager's CA.
    let other = tempfile::tempdir().unwrap();
    let bad = EnrollToken {
        secret: SECRET.into(),
        ca_sha256: [7; 32],
    }
    .to_string();
    let o = sensor()
        // --enrol-token: the other spelling, accepted too.
        .args([
            "enroll",
            "--manager",
            &m.url(),
            "--enrol-token",
            &bad,
            "--state",
        ])
        .arg(other.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not the manager that issued this token"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    assert!(!other.path().join("uplink/key.pem").exists());

    // A wrong secret: refused by the manager, the secret is not echoed.
    let wrong = EnrollToken {
        secret: "ffffffffffffffffffffffffffffffff".into(),
        ca_sha256: sha256(&m.svc.pki.ca_der),
    }
    .to_string();
    let o = sensor()
        .args([
            "enroll",
            "--manager",
            &m.url(),
            // --token: the old name of --enroll-token, still accepted.
            "--token",
            &wrong,
            "--state",
        ])
        .arg(other.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains("ffffffffffffffffffffffffffffffff"), "{err}");
}

#[test]
fn a_replay_delivers_what_analyze_sees() {
    let m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    let pcap = data("suricata-modbus.pcap");
    let o = sensor()
        .args(run_args(dir.path(), &pcap, "max"))
        .output()
        .unwrap();
    ok(&o);
    assert_converged(&m, &pcap);
    // Nothing is left to send.
    let o = sensor()
        .args(run_args(dir.path(), &pcap, "max"))
        .arg("--manager")
        .arg(m.url())
        .output()
        .unwrap();
    ok(&o);
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_run(state: &Path, pcap: &Path, speed: &str) -> Child {
    sensor()
        .args(run_args(state, pcap, speed))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) -> String {
    let o = c.wait_with_output().unwrap();
    // Shown when the test fails.
    eprintln!("{}", String::from_utf8_lossy(&o.stderr));
    ok(&o);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_manager_killed_mid_stream_loses_and_doubles_nothing() {
    let mut m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    let pcap = data("suricata-modbus.pcap");
    // 1460 s of capture in about 7 s, a commit every second.
    let child = spawn_run(dir.path(), &pcap, "200x");
    wait_for("the first deltas", Duration::from_secs(30), || {
        m.state().applied > 0
    });
    m.kill();
    std::thread::sleep(Duration::from_secs(3));
    m.start();
    // And a stream dropped by the manager after one more batch.
    m.state().drop_after = Some(1);
    let log = finish(child);
    assert!(log.contains("uplink lost"), "{log}");
    assert_converged(&m, &pcap);
}

#[test]
fn the_sensor_killed_mid_replay_loses_and_doubles_nothing() {
    let m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    let pcap = data("suricata-modbus.pcap");
    let mut child = spawn_run(dir.path(), &pcap, "200x");
    wait_for("the first deltas", Duration::from_secs(30), || {
        m.state().applied > 0
    });
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    let _ = child.wait();
    let before = m.state().last;
    let log = finish(spawn_run(dir.path(), &pcap, "max"));
    assert!(log.contains("starting it over"), "{log}");
    assert!(m.state().last > before);
    assert_converged(&m, &pcap);
}

#[test]
fn a_full_outbox_defers_upserts_and_still_converges() {
    let m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    let pcap = data("suricata-modbus.pcap");
    let o = sensor()
        .env("OTWATCH_UPLINK__OUTBOX_MAX", "2")
        .args(run_args(dir.path(), &pcap, "max"))
        .output()
        .unwrap();
    ok(&o);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("outbox is full"), "{log}");
    assert_converged(&m, &pcap);
}

#[test]
fn a_certificate_near_expiry_is_renewed() {
    let m = FakeManager::new();
    m.state().short_cert = true;
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    let key_before = std::fs::read_to_string(dir.path().join("uplink/key.pem")).unwrap();
    let pcap = data("suricata-modbus.pcap");
    let log = finish(spawn_run(dir.path(), &pcap, "max"));
    assert!(log.contains("certificate renewed"), "{log}");
    assert!(m.state().renewals >= 1);
    let link = std::fs::read_to_string(dir.path().join("uplink/link.json")).unwrap();
    assert!(link.contains("2099-01-01"), "{link}");
    let key_after = std::fs::read_to_string(dir.path().join("uplink/key.pem")).unwrap();
    assert_ne!(key_before, key_after);
    assert_converged(&m, &pcap);
}

#[test]
fn a_refused_sensor_says_why_and_keeps_its_outbox() {
    let m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    m.state().revoked = true;
    let pcap = data("suricata-modbus.pcap");
    let mut args = run_args(dir.path(), &pcap, "max");
    let i = args.iter().position(|a| a == "--drain-timeout").unwrap();
    args[i + 1] = "2".into();
    let o = sensor().args(args).output().unwrap();
    // Exit status 4: revoked (it outranks the backlog left).
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("refused") && log.contains("revoked"), "{log}");
    assert!(log.contains("stays in the outbox"), "{log}");
    assert!(log.contains("the manager revoked this sensor"), "{log}");
    assert_eq!(m.state().applied, 0);
}

/// `run --pcap` with a short drain timeout against `manager`: exit status and stderr.
fn run_unacknowledged(state: &Path, manager: &str) -> (Option<i32>, String) {
    let pcap = data("suricata-modbus.pcap");
    let mut args = run_args(state, &pcap, "max");
    let i = args.iter().position(|a| a == "--drain-timeout").unwrap();
    args[i + 1] = "2".into();
    let mut child = sensor()
        .args(args)
        .arg("--manager")
        .arg(manager)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It must end by itself soon after the drain timeout, whatever the manager does (its
    // stderr is small: it fits the pipe while we wait).
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the sensor did not end {:?} after starting", t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The number in "did not acknowledge N delta(s)".
fn unacknowledged(log: &str) -> u64 {
    let (_, rest) = log
        .split_once("did not acknowledge ")
        .unwrap_or_else(|| panic!("no count of deltas in {log}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_manager_that_does_not_answer_leaves_a_backlog_and_exit_status_3() {
    let m = FakeManager::new();
    let dir = tempfile::tempdir().unwrap();
    enroll(&m, dir.path());
    drop(m);

    // Nothing listens: a port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, log) = run_unacknowledged(dir.path(), &format!("https://127.0.0.1:{port}"));
    assert_eq!(code, Some(3), "{log}");
    let left = unacknowledged(&log);
    assert!(left > 0, "{log}");
    // What was stored is kept; only the delivery is missing.
    assert!(log.contains("replayed:"), "{log}");
    assert!(!log.contains("could not be stored"), "{log}");

    // A port that accepts connections and never answers (the TLS handshake hangs).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        silent.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until && conns.len() < 64 {
            match silent.accept() {
                Ok((c, _)) => conns.push(c),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        conns
    });
    let (code, log) = run_unacknowledged(dir.path(), &format!("https://{addr}"));
    assert_eq!(code, Some(3), "{log}");
    // The same replay again: its deltas coalesce with those left by the first run.
    assert!(unacknowledged(&log) > 0, "{log}");
    drop(held);
}

#[test]
fn a_full_disk_holds_the_outbox_back_and_then_everything_reaches_the_manager() {
    let fs = match common::Tmpfs::mount(64) {
        Ok(f) => f,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_holds_the_outbox_back_and_then_everything_reaches_the_manager: {why}");
            return;
        }
    };
    let m = FakeManager::new();
    let state = fs.path().join("state");
    enroll(&m, &state);
    let caps = tempfile::tempdir().unwrap();
    let hosts = caps.path().join("hosts.pcap");
    // 4000 senders over 20 s of capture time, replayed in 10 s, a commit every second.
    common::udp_hosts_pcap(&hosts, 4000, 1_700_000_000, 5000);
    // Room for the store's 1 MiB reserve (written at its first open) and 2.5 MiB more.
    let filler = common::fill(fs.path(), "filler", 7 << 19);
    let mut cmd = sensor();
    cmd.args(run_args(&state, &hosts, "2x"));
    let (status, log, freed) = common::run_freeing_space(cmd, &filler);
    // Shown when the test fails.
    eprintln!("{log}");
    assert!(freed, "the disk never filled up:\n{log}");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("takes writes again"), "{log}");
    // The uplink stopped while the store was opened again, and started after.
    assert!(log.matches("uplink enabled").count() >= 2, "{log}");
    assert_converged(&m, &hosts);
}

#[test]
fn enrolling_on_a_full_disk_fails_before_the_token_is_spent() {
    let fs = match common::Tmpfs::mount(8) {
        Ok(f) => f,
        Err(why) => {
            eprintln!("SKIPPED enrolling_on_a_full_disk_fails_before_the_token_is_spent: {why}");
            return;
        }
    };
    let m = FakeManager::new();
    let state = fs.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let filler = common::fill(fs.path(), "filler", 0);
    let o = sensor()
        .args([
            "enroll",
            "--manager",
            &m.url(),
            "--enroll-token",
            &m.token(),
            "--state",
        ])
        .arg(&state)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("No space left"), "{err}");
    // The key could not be written, so the manager was never asked (the token is still good).
    assert_eq!(m.state().enrolls, 0);
    assert!(!state.join("uplink/link.json").exists());
    std::fs::remove_file(&filler).unwrap();
    enroll(&m, &state);
    assert!(state.join("uplink/link.json").exists());
    assert_eq!(m.state().enrolls, 1);
}
