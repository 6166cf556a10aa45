//! Test helpers: a manager on 127.0.0.1:0 over real TLS, a sensor that enrols with a CSR and the
//! pinned CA, operators with client certificates, and the manager's log lines; [`fleet`] runs
//! the real binaries as separate processes.
#![allow(dead_code, unused_macros, clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
pub mod fleet;
pub mod postgres;
pub mod receiver;
#[path = "../../../tests/skip.rs"]
pub mod skip;

use otwatch_common::link::{EnrollToken, OperatorRole};
use otwatch_manager::pki;
use otwatch_manager::serve::{self, RunningManager};
use otwatch_proto::v1::sensor_link_client::SensorLinkClient;
use otwatch_proto::v1::*;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tonic::transport::Channel;

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;
impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the manager's log lines (all tests of this binary share them).
pub fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| LogWriter)
            .with_ansi(false)
            // OTWATCH_TEST_LOG=debug: the benchmarks print the manager's timings.
            .with_max_level(match std::env::var("OTWATCH_TEST_LOG").as_deref() {
                Ok("debug") => tracing::Level::DEBUG,
                _ => tracing::Level::INFO,
            })
            .try_init();
    });
}

/// Everything the manager logged so far (in this test process).
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Waits up to 2 s for a log line containing every one of `needles`.
pub async fn expect_log(needles: &[&str]) {
    for _ in 0..40 {
        let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
        if logs.lines().any(|l| needles.iter().all(|n| l.contains(n))) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    panic!("no manager log line with {needles:?} in:\n{logs}");
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub mgr: Option<RunningManager>,
    /// The port of the last manager started (also while stopped).
    last_port: u16,
    pub settings: serve::Settings,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Fixture::start_with(serve::Settings::default()).await
    }
    pub async fn start_with(settings: serve::Settings) -> Fixture {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        pki::init(&dir.path().join("m"), &[], "test-manager").unwrap();
        let mut f = Fixture {
            dir,
            mgr: None,
            last_port: 0,
            settings,
        };
        f.restart().await;
        f
    }
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("m")
    }
    pub async fn restart(&mut self) {
        if let Some(m) = self.mgr.take() {
            m.stop().await.unwrap();
        }
        let m = serve::start_with(&self.data(), "127.0.0.1:0", &self.settings)
            .await
            .unwrap();
        self.last_port = m.addr.port();
        self.mgr = Some(m);
    }
    /// Stops the manager (if it runs) and starts it again on the same port (sensors keep
    /// their URL).
    pub async fn restart_same_port(&mut self) {
        let port = self.last_port;
        self.stop().await;
        for _ in 0..40 {
            let listen = format!("127.0.0.1:{port}");
            match serve::start_with(&self.data(), &listen, &self.settings).await {
                Ok(m) => {
                    self.mgr = Some(m);
                    return;
                }
                // The old listener may take a moment to close.
                Err(serve::ServeError::Listen(..)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("port {port} stayed busy");
    }
    pub async fn stop(&mut self) {
        if let Some(m) = self.mgr.take() {
            m.stop().await.unwrap();
        }
    }
    pub fn port(&self) -> u16 {
        self.last_port
    }
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port())
    }
    pub fn token(&self, site: &str, ttl: i64) -> String {
        let s = &self.mgr.as_ref().unwrap().shared;
        // Off the async worker: a store may block (the PostgreSQL client does).
        std::thread::scope(|t| {
            t.spawn(|| otwatch_manager::admin::create_token(&s.ca, s.store.as_ref(), site, ttl))
                .join()
                .unwrap()
        })
        .unwrap()
        .token
        .to_string()
    }
    /// Credentials for an operator, written like `user create` does.
    pub fn operator_creds(&self, name: &str, role: OperatorRole) -> PathBuf {
        let out = self.dir.path().join(format!("op-{name}"));
        otwatch_manager::admin::create_user(&self.data(), name, role, &out).unwrap();
        out
    }
    pub async fn operator(&self, name: &str, role: OperatorRole) -> otwatch_manager::cli::Client {
        let cred = self.operator_creds(name, role);
        otwatch_manager::cli::connect(&self.url(), &cred, otwatch_manager::tls::DEFAULT_TIMEOUT)
            .await
            .unwrap()
    }
    /// An operator-less, certificate-less channel trusting the CA.
    pub async fn anonymous(&self) -> Channel {
        let ca = std::fs::read_to_string(self.data().join("ca.pem")).unwrap();
        otwatch_manager::tls::channel(&self.url(), &ca, None)
            .await
            .unwrap()
    }
}

/// What an enrolled test sensor keeps.
#[derive(Clone)]
pub struct Sensor {
    pub id: String,
    pub site: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

/// Enrols like a sensor: own key, CSR (rcgen), manager found by the CA hash in the token.
pub async fn enroll(url: &str, port: u16, token: &str) -> Result<Sensor, tonic::Status> {
    let t: EnrollToken = token.parse().unwrap();
    let ca_pem = otwatch_manager::tls::fetch_pinned_ca("127.0.0.1", port, t.ca_sha256)
        .await
        .unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["ignored.example".to_string()]).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "whatever-the-sensor-says");
    let csr = p.serialize_request(&key).unwrap().pem().unwrap();
    let ch = otwatch_manager::tls::channel(url, &ca_pem, None)
        .await
        .unwrap();
    let r = SensorLinkClient::new(ch)
        .enroll(EnrollRequest {
            token: token.to_string(),
            csr_pem: csr,
            hostname: "test-host".into(),
            version: "0.1.0".into(),
        })
        .await?
        .into_inner();
    assert_eq!(r.ca_pem, ca_pem);
    Ok(Sensor {
        id: r.sensor_id,
        site: r.site,
        cert_pem: r.certificate_pem,
        key_pem: key.serialize_pem(),
        ca_pem,
    })
}

impl Sensor {
    pub async fn client(&self, url: &str) -> Result<SensorLinkClient<Channel>, String> {
        let ch =
            otwatch_manager::tls::channel(url, &self.ca_pem, Some((&self.cert_pem, &self.key_pem)))
                .await
                .map_err(|e| format!("{e:?}"))?;
        Ok(SensorLinkClient::new(ch))
    }
}

/// Asserts that a list call given the page token `token` was refused as INVALID_ARGUMENT with
/// a message that contains `says` (what to do).
pub fn assert_bad_token<T: std::fmt::Debug>(r: Result<T, tonic::Status>, token: &str, says: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{token}");
    assert!(e.message().contains(says), "{token}: {}", e.message());
}

/// Sends the batches over one Sync stream, each continuing from its first delta's sequence
/// number minus one; returns the acks.
pub async fn sync(
    c: &mut SensorLinkClient<Channel>,
    batches: Vec<Vec<Delta>>,
) -> Result<Vec<u64>, tonic::Status> {
    let batches = batches
        .into_iter()
        .map(|deltas| DeltaBatch {
            deltas,
            after_seq: None,
        })
        .collect();
    sync_batches(c, batches).await
}

/// A batch that continues from `after` (the numbers between were coalesced away).
pub fn after(after: u64, deltas: Vec<Delta>) -> DeltaBatch {
    DeltaBatch {
        deltas,
        after_seq: Some(after),
    }
}

/// Sends the batches over one Sync stream; returns the acks.
pub async fn sync_batches(
    c: &mut SensorLinkClient<Channel>,
    batches: Vec<DeltaBatch>,
) -> Result<Vec<u64>, tonic::Status> {
    let n = batches.len();
    let mut acks = c.sync(tokio_stream::iter(batches)).await?.into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        match acks.message().await? {
            Some(a) => out.push(a.applied_seq),
            None => break,
        }
    }
    Ok(out)
}

pub fn asset(seq: u64, id: &str, macs: &[&str], ips: &[&str]) -> Delta {
    Delta {
        seq,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Asset(Asset {
            id: id.into(),
            macs: macs.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.to_string()).collect(),
            packets: 10,
            first_seen: "2024-01-01T00:00:00Z".into(),
            last_seen: "2024-01-01T00:01:00Z".into(),
            ..Default::default()
        })),
    }
}

pub fn alert(seq: u64, id: &str) -> Delta {
    Delta {
        seq,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Alert(Alert {
            id: id.into(),
            kind: "new_asset".into(),
            severity: "low".into(),
            title: "new asset".into(),
            ..Default::default()
        })),
    }
}

pub fn connection(seq: u64, client: &str, server: &str, packets: u64) -> Delta {
    Delta {
        seq,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Connection(Connection {
            client: client.into(),
            server: server.into(),
            transport: "tcp".into(),
            port: 502,
            protocol: "modbus".into(),
            packets,
            ..Default::default()
        })),
    }
}

pub async fn all_assets(op: &mut otwatch_manager::cli::Client, site: &str) -> ListAssetsResponse {
    op.list_assets(ListAssetsRequest {
        site: site.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The real CISA advisories kept for tests (tests/data/advisories).
pub fn advisory_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/advisories")
}

/// An asset with a type and Purdue level.
pub fn typed(seq: u64, id: &str, mac: &str, ip: &str, device_type: &str, level: u32) -> Delta {
    let mut d = asset(seq, id, &[mac], &[ip]);
    if let Some(delta::Change::Asset(a)) = d.change.as_mut() {
        a.device_type = device_type.into();
        a.purdue_level = Some(level);
    }
    d
}

/// An S7-300 CPU 315-2 PN/DP at level 1 with firmware V3.2.6: three CVEs in
/// [`advisory_samples`] (ICSA-19-043-04, ICSA-19-283-02, ICSA-20-252-02).
pub fn s7_300_at_level_1(seq: u64) -> Delta {
    let mut d = typed(
        seq,
        "mac:02:4d:00:00:02:16",
        "02:4d:00:00:02:16",
        "10.77.2.22",
        "plc",
        1,
    );
    if let Some(delta::Change::Asset(a)) = d.change.as_mut() {
        a.vendor = "Siemens".into();
        a.model = "6ES7 315-2EH14-0AB0".into();
        a.firmware = "V3.2.6".into();
    }
    d
}

/// A sensor enrolled at `site` of the manager of `fx`, connected.
pub async fn sensor_at(fx: &Fixture, site: &str) -> SensorLinkClient<Channel> {
    let s = enroll(&fx.url(), fx.port(), &fx.token(site, 3600))
        .await
        .unwrap();
    s.client(&fx.url()).await.unwrap()
}

/// The HMI of the risk tests: 10.77.2.10, level 2.
pub fn hmi_10(seq: u64) -> Delta {
    typed(
        seq,
        "mac:02:00:00:00:00:10",
        "02:00:00:00:00:10",
        "10.77.2.10",
        "hmi",
        2,
    )
}

/// The gateway between that HMI and the S7-300: 10.77.2.1, a router at level 2.
pub fn gateway_1(seq: u64) -> Delta {
    typed(
        seq,
        "mac:02:00:00:00:00:01",
        "02:00:00:00:00:01",
        "10.77.2.1",
        "router",
        2,
    )
}

/// A plain HTTP/1.1 GET over TLS to the manager (trusting its CA), presenting a client
/// certificate (`client`: cert and key PEM) or a header: (status, content type, body).
pub async fn https_get(
    fx: &Fixture,
    path: &str,
    client: Option<(&str, &str)>,
    header: Option<(&str, &str)>,
) -> (u16, String, String) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = std::fs::read(fx.data().join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut cfg = match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            cfg.with_client_auth_cert(chain, key).unwrap()
        }
        None => cfg.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let extra = header.map_or(String::new(), |(k, v)| format!("{k}: {v}\r\n"));
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\n{extra}\r\n",
        fx.port()
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole HTTP head");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let header_of = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let body = if header_of("transfer-encoding").is_some_and(|v| v == "chunked") {
        // Chunks: a hex size line, the data, CRLF; a zero size ends.
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (status, header_of("content-type").unwrap_or_default(), body)
}
