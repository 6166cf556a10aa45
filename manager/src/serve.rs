//! Running the manager: a TCP listener, a TLS handshake per connection (spawned, so a slow or
//! hostile client never blocks the others; every failed handshake is logged with the peer and
//! the reason), and tonic serving SensorLink, Manager, gRPC health and reflection over the
//! accepted streams.

use crate::api::{revoked_from, ManagerService, SensorLinkService, Shared};
use crate::clock::SharedClock;
use crate::forward::deliver::Deliveries;
use crate::forward::{ForwardConfig, Router};
use crate::pki::{Ca, DataDir, PkiError};
use crate::playbook::PlaybookConfig;
use crate::retention::RetentionSettings;
use crate::store::{FleetStore, PgStore, Quotas, SledStore, StoreError};
use crate::tls::server_config;
use otwatch_proto::v1::manager_server::ManagerServer;
use otwatch_proto::v1::sensor_link_server::SensorLinkServer;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tracing::{debug, info, warn};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`RunningManager::stop`] waits for open calls to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the manager could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error("cannot start the ingest thread: {0}")]
    Ingest(std::io::Error),
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A task of the manager (`what`: the server, the first build of the fleet view) panicked
    /// or was cancelled.
    #[error("{what} failed: {source}")]
    Task {
        what: &'static str,
        source: tokio::task::JoinError,
    },
    #[error("connections still open after {0:?}; stopped without draining them")]
    Undrained(Duration),
    #[error("gRPC server: the server stopped")]
    Stopped,
    #[error("forwarding file refused: {0} (docs/FORWARDING.md)")]
    Forwarding(#[from] crate::forward::ConfigError),
    #[error("playbook file refused: {0} (docs/PLAYBOOKS.md)")]
    Playbooks(crate::forward::ConfigError),
}

impl ServeError {
    fn server_task(source: tokio::task::JoinError) -> ServeError {
        ServeError::Task {
            what: "the gRPC server",
            source,
        }
    }
}

/// A running manager. Stop it with [`RunningManager::stop`] (drains, then releases the store).
pub struct RunningManager {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    /// The file recording `addr` (see [`DataDir::serving`]).
    serving: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    /// The playbooks' tasks while this manager runs them.
    _playbooks: Playbooks,
}

impl std::fmt::Debug for RunningManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningManager")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningManager {
    /// Stops accepting, waits for the open calls to finish, and closes the store.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        let _ = std::fs::remove_file(&self.serving);
        let _ = self.shared.shutdown.send(true);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = match tokio::time::timeout(STOP_TIMEOUT, &mut self.task).await {
            // The store is closed below whatever became of the server.
            Ok(r) => r.unwrap_or_else(|e| Err(ServeError::server_task(e))),
            Err(_) => {
                self.task.abort();
                Err(ServeError::Undrained(STOP_TIMEOUT))
            }
        };
        // The writer finishes what is queued and lets go of the store.
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.ingest.close()).await;
        // The background tasks (delivery, playbooks, retention, scores, health) end on the
        // shutdown signal, each when next scheduled: wait for them (a busy machine can take a
        // while), so the store is closed when this returns and a restart finds it free.
        let until = tokio::time::Instant::now() + STOP_TIMEOUT;
        while Arc::strong_count(&self.shared) > 1 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        served
    }

    /// Resolves only if the server ends by itself (it failed); for `select!` against a signal.
    pub async fn failed(&mut self) -> ServeError {
        match (&mut self.task).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => ServeError::Stopped,
            Err(e) => ServeError::server_task(e),
        }
    }
}

/// What `otwatch-manager serve` can be told besides where: `--quota-*`, `--retain-*` and
/// `--retention-every` flags, `--forwarding`; the clock (tests advance one).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub quotas: Quotas,
    pub retention: RetentionSettings,
    pub clock: SharedClock,
    /// The forwarding file; `None`: [`DataDir::forwarding`] when it exists.
    pub forwarding: Option<std::path::PathBuf>,
    /// The playbook file; `None`: [`DataDir::playbooks`] when it exists.
    pub playbooks: Option<std::path::PathBuf>,
    /// A PostgreSQL store (`--store`); `None`: the embedded store in the state directory.
    pub store: Option<StoreUrl>,
}

/// Where `serve --store` keeps the fleet store: a PostgreSQL URL, and the password when not
/// in it (from a file or `PGPASSWORD`). Neither is ever shown ([`PgStore::url`] is).
#[derive(Clone, Default)]
pub struct StoreUrl {
    pub url: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreUrl { .. }")
    }
}

/// The forwarding rules in force at the start: `settings`' file, else the data directory's
/// forwarding.toml when it exists (where `otwatch forwards add` writes), else none; and the
/// playbooks the same way (playbooks.toml).
fn forwarding(dir: &DataDir, settings: &Settings) -> Result<Router, ServeError> {
    let file = settings
        .forwarding
        .clone()
        .unwrap_or_else(|| dir.forwarding());
    let cfg = if settings.forwarding.is_some() || file.exists() {
        let cfg = ForwardConfig::load(&file)?;
        info!(file = %file.display(), destinations = cfg.destinations.len(), rules = cfg.rules.len(), "forwarding rules loaded");
        cfg
    } else {
        ForwardConfig::default()
    };
    let file_p = settings
        .playbooks
        .clone()
        .unwrap_or_else(|| dir.playbooks());
    let router = Router::new(cfg, file);
    if settings.playbooks.is_none() && !file_p.exists() {
        return Ok(router);
    }
    let p = PlaybookConfig::load(&file_p).map_err(ServeError::Playbooks)?;
    info!(file = %file_p.display(), playbooks = p.playbooks.len(), dry_run = p.playbooks.iter().filter(|p| p.dry_run).count(), "playbooks loaded");
    Ok(router.with_playbooks(p, Some(file_p)))
}

/// Opens the data directory's CA and store and starts serving on `listen` (port 0 picks one;
/// the address is in [`RunningManager::addr`]), with default [`Settings`].
pub async fn start(data: &Path, listen: &str) -> Result<RunningManager, ServeError> {
    start_with(data, listen, &Settings::default()).await
}

/// [`start`] with `settings`.
pub async fn start_with(
    data: &Path,
    listen: &str,
    settings: &Settings,
) -> Result<RunningManager, ServeError> {
    let dir = DataDir(data.to_path_buf());
    let ca = Ca::load(data)?;
    let router = Arc::new(forwarding(&dir, settings)?);
    let store: Arc<dyn FleetStore> = match &settings.store {
        None => {
            // Commands on the state directory use its embedded store again.
            let _ = std::fs::remove_file(dir.store());
            let store = SledStore::open(&dir.db())?
                .with_quotas(settings.quotas)
                .with_forwarding(router);
            Arc::new(store)
        }
        Some(at) => {
            let (at, quotas) = (at.clone(), settings.quotas);
            // The client blocks (connecting, migrating): not on an async worker.
            let store =
                tokio::task::spawn_blocking(move || PgStore::open(&at.url, at.password.as_deref()))
                    .await
                    .map_err(|source| ServeError::Task {
                        what: "opening the PostgreSQL store",
                        source,
                    })??
                    .with_quotas(quotas)
                    .with_forwarding(router);
            info!(store = %store.url(), "fleet store in PostgreSQL");
            if let Err(e) = std::fs::write(dir.store(), format!("{}\n", store.url())) {
                warn!(path = %dir.store().display(), error = %e, "cannot record where the store is");
            }
            Arc::new(store)
        }
    };
    start_serving(&dir, ca, store, listen, settings).await
}

/// [`start`] with a given store (another [`FleetStore`] implementation, or a shared one).
/// How often the security scores are recorded for the trend (GetRisk records them too).
const SCORE_EVERY: Duration = Duration::from_secs(3600);

/// Records every site's and the fleet's security score for the daily trend, a minute after the
/// start and then every [`SCORE_EVERY`], so a day nobody asks for the risk still has its score;
/// until the manager stops.
async fn record_scores(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = SCORE_EVERY;
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.assess("", s.clock.now())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot record the security scores"),
            Err(e) => warn!(error = %e, "recording the security scores failed"),
        }
    }
}

/// The playbooks' running tasks (kept while the manager runs; dropping them stops them).
type Playbooks = Arc<tokio::sync::Mutex<crate::playbook::runner::Runners>>;

/// Starts the work one manager does: delivering the forwarding queues, running playbooks.
async fn start_leading(shared: &Arc<Shared>, playbooks: &Playbooks) {
    let mut deliveries = shared.deliveries.lock().await;
    if let Some(router) = shared.store.forward_router() {
        *deliveries = Deliveries::start(shared.store.clone(), &router, &shared.shutdown);
    }
    *playbooks.lock().await = crate::playbook::runner::Runners::start(shared);
    shared
        .leading
        .store(true, std::sync::atomic::Ordering::Release);
}

/// How often a manager on a shared store asks whether it leads.
const LEAD_EVERY: Duration = Duration::from_secs(5);

/// On a shared store: takes the lead when no other manager holds it (then delivers and runs
/// playbooks), and gives the work up when the lead is lost; until the manager stops.
async fn lead(shared: Arc<Shared>, playbooks: Playbooks) {
    let mut stop = shared.shutdown.subscribe();
    let mut leading = false;
    loop {
        let s = shared.clone();
        let now = match tokio::task::spawn_blocking(move || s.store.try_lead()).await {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot tell whether this manager leads; forwarding and playbooks pause here");
                false
            }
            Err(_) => false,
        };
        if now && !leading {
            start_leading(&shared, &playbooks).await;
            info!("this manager leads: it delivers the forwarding queues and runs the playbooks");
        } else if !now && leading {
            shared
                .leading
                .store(false, std::sync::atomic::Ordering::Release);
            *shared.deliveries.lock().await = Deliveries::default();
            *playbooks.lock().await = Default::default();
            warn!("this manager lost the lead: another one delivers the forwarding queues and runs the playbooks");
        } else if !now && !leading {
            debug!("another manager leads: forwarding and playbooks run there");
        }
        leading = now;
        tokio::select! {
            _ = tokio::time::sleep(LEAD_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The gRPC health service name whose status says whether forwarding keeps up.
pub const FORWARDING_HEALTH: &str = "otwatch.v1.Forwarding";
/// How often [`forwarding_health`] looks.
const FORWARDING_HEALTH_EVERY: Duration = Duration::from_secs(5);

/// Keeps [`FORWARDING_HEALTH`] NOT_SERVING while a destination fails with events waiting (its
/// last error is newer than its last delivery), SERVING otherwise; until the manager stops.
async fn forwarding_health(shared: Arc<Shared>, health: tonic_health::server::HealthReporter) {
    let mut stop = shared.shutdown.subscribe();
    let mut last = None;
    loop {
        let store = shared.store.clone();
        if let Ok(Ok(all)) = tokio::task::spawn_blocking(move || store.forward_stats()).await {
            let failing: Vec<&str> = all
                .iter()
                .filter(|(n, s)| {
                    crate::playbook::of_queue(n).is_none() && crate::api::forward_failing(s)
                })
                .map(|(n, _)| n.as_str())
                .collect();
            let status = if failing.is_empty() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            if last != Some(status) {
                health.set_service_status(FORWARDING_HEALTH, status).await;
                last = Some(status);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(FORWARDING_HEALTH_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

pub async fn start_with_store(
    dir: &DataDir,
    ca: Ca,
    store: Arc<dyn FleetStore>,
    listen: &str,
) -> Result<RunningManager, ServeError> {
    start_serving(dir, ca, store, listen, &Settings::default()).await
}

async fn start_serving(
    dir: &DataDir,
    ca: Ca,
    store: Arc<dyn FleetStore>,
    listen: &str,
    settings: &Settings,
) -> Result<RunningManager, ServeError> {
    let s = store.clone();
    let revoked = tokio::task::spawn_blocking(move || revoked_from(s.as_ref()))
        .await
        .map_err(|source| ServeError::Task {
            what: "reading the revocations",
            source,
        })??;
    let tls = Arc::new(server_config(dir, revoked.clone())?);
    let shared = Shared::new(
        store,
        ca,
        revoked,
        settings.clock.clone(),
        settings.retention.clone(),
    )
    .map_err(ServeError::Ingest)?;
    shared
        .retention
        .register(Arc::new(crate::forward::expiry::Queues::new(
            &shared.store,
            settings.retention.forwarding_queues,
        )));
    // Where a shared store stands before the view is built from it: what other managers
    // change from here on is followed (crate::follow).
    let s = shared.store.clone();
    let known = tokio::task::spawn_blocking(move || crate::follow::Known::baseline(s.as_ref()))
        .await
        .map_err(|source| ServeError::Task {
            what: "reading where a shared store stands",
            source,
        })??;
    // Merge every site's assets now, so the first listing does not wait for it.
    let warm = shared.clone();
    let started = std::time::Instant::now();
    let assets = tokio::task::spawn_blocking(move || warm.build_views())
        .await
        .map_err(|source| ServeError::Task {
            what: "building the fleet view",
            source,
        })??;
    info!(
        assets,
        ms = started.elapsed().as_millis() as u64,
        "fleet view built"
    );
    let warm = shared.clone();
    let started = std::time::Instant::now();
    let (advisories, approved) = tokio::task::spawn_blocking(move || {
        warm.load_tags()?;
        Ok::<_, StoreError>((warm.load_advisories()?, warm.load_approvals()?))
    })
    .await
    .map_err(|source| ServeError::Task {
        what: "loading the advisories and approved inventories",
        source,
    })??;
    info!(
        advisories,
        approved,
        ms = started.elapsed().as_millis() as u64,
        "advisories and approved inventories loaded"
    );
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| ServeError::Listen(listen.to_string(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Listen(listen.to_string(), e))?;

    let (conn_tx, conn_rx) = mpsc::channel::<Result<TlsStream<TcpStream>, std::io::Error>>(64);
    tokio::spawn(accept_loop(
        listener,
        tokio_rustls::TlsAcceptor::from(tls),
        conn_tx,
    ));

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<SensorLinkServer<SensorLinkService>>()
        .await;
    health.set_serving::<ManagerServer<ManagerService>>().await;
    if shared.store.forward_router().is_some() {
        tokio::spawn(forwarding_health(shared.clone(), health.clone()));
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(otwatch_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // Older grpcurl versions ask for v1alpha.
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(otwatch_proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // The web console's routes; gRPC services are added beside them (their paths are
    // /package.Service/Method), and HTTP/1.1 is accepted for browsers.
    let web = crate::console::router(shared.clone())
        .merge(crate::metrics::scrape::router(shared.clone()));
    let console = tonic::service::Routes::from(web);
    let router = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(crate::metrics::TimeCalls(shared.metrics.clone()))
        .add_routes(console)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(
            SensorLinkServer::new(SensorLinkService(shared.clone()))
                .max_decoding_message_size(crate::api::MAX_BATCH_BYTES),
        )
        .add_service(
            // An advisory document is one message (ImportAdvisories); the largest are a few MiB.
            ManagerServer::new(ManagerService(shared.clone())).max_decoding_message_size(
                usize::try_from(otwatch_common::advisories::MAX_FILE_BYTES).unwrap_or(usize::MAX)
                    + 1024,
            ),
        );
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::ReceiverStream::new(conn_rx);
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = shutdown_rx.await;
            })
            .await
            .map_err(ServeError::from)
    });
    tokio::spawn(record_scores(shared.clone()));
    let playbooks = Playbooks::default();
    if let Some(known) = known {
        // A store other managers share: one of them delivers and runs playbooks at a time.
        tokio::spawn(crate::follow::run(shared.clone(), known));
        tokio::spawn(lead(shared.clone(), playbooks.clone()));
    } else {
        start_leading(&shared, &playbooks).await;
    }
    tokio::spawn(crate::retention::run::run_every(shared.clone()));
    info!(%addr, "manager listening");
    // Where a local `otwatch-manager token create` finds this manager while the store is locked.
    let serving = dir.serving();
    if let Err(e) = std::fs::write(&serving, format!("{addr}\n")) {
        warn!(path = %serving.display(), error = %e, "cannot record the listening address");
    }
    Ok(RunningManager {
        addr,
        shared,
        serving,
        shutdown: Some(shutdown_tx),
        task,
        _playbooks: playbooks,
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    conns: mpsc::Sender<Result<TlsStream<TcpStream>, std::io::Error>>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            // The server stopped: stop accepting.
            _ = conns.closed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let conns = conns.clone();
        tokio::spawn(async move {
            let accept = acceptor.accept(tcp).into_fallible();
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                Ok(Ok(tls)) => {
                    let _ = conns.send(Ok(tls)).await;
                }
                Ok(Err((e, tcp))) => {
                    warn!(%peer, reason = %e, "TLS handshake refused");
                    let_the_alert_arrive(tcp).await;
                }
                Err(_) => warn!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// After a refused handshake, closes our side and drains the client's for a moment before
/// letting go. Closing a socket with unread data (the client's first request, written while
/// its TLS 1.3 handshake was being refused) sends a reset, which can overtake the alert we just
/// sent: the client would see "connection reset" where it should read "certificate revoked".
async fn let_the_alert_arrive(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut buf = [0u8; 4096];
    let drain = async { while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}
