//! `otwatch-sensor run`: the pipeline of `analyze`, continuously, on live interfaces.
//!
//! Threads:
//! - **workers** (N per interface set, default cores − 1): each owns one socket per interface
//!   and its own [`Pipeline`]. AF_PACKET sockets of one interface form a fanout group hashed
//!   by flow in the kernel (symmetric), so both directions of a flow meet in one worker and
//!   the hot path takes no lock. AF_XDP sockets (one per RX queue) are spread over workers.
//! - **the committer** (the calling thread): every commit interval it asks each worker for a
//!   snapshot (the worker brings its open flows into its inventory first), merges them over
//!   the inventory loaded at start, saves the result to sled (flushed), and writes
//!   `inventory.json` next to the store for readers while the sensor runs. Every second it
//!   renders the metrics.
//!
//! On shutdown (SIGINT/SIGTERM set the flag) workers drain their rings, end their flows and
//! hand in a last snapshot, which is committed (and, when enrolled, sent to the manager within
//! the drain timeout) before `run` returns. A SIGKILL loses at most one commit interval; a commit
//! is one sled transaction, so the store holds one commit or the one before.
//!
//! **A full disk** (or any failed save): the committer logs one error naming the state directory,
//! keeps the inventory in memory (capture and metrics go on, nothing is queued for the manager),
//! and at each later commit, once the file system has room, stops the uplink (its outbox holds
//! the database), opens the store again at its last durable state, saves, and starts the uplink
//! again. A sensor started on a full disk does the same from its first commit; `run --pcap`
//! stops at once instead ([`crate::exit::NOT_STORED`]).
//!
//! When the sensor is enrolled with a manager, each commit also diffs the report against what
//! was sent and queues the changes in the outbox ([`crate::uplink`]); the uplink thread streams
//! them. With `--pcap`, one replay thread feeds capture files through the same path instead of
//! interfaces (at full speed or paced by packet time); at their end the run commits, waits
//! until the manager acknowledged everything (or the drain timeout) and returns. A replay
//! that began on an empty state, killed before it finished and started again with the same
//! files, starts over, so the result is that of one whole replay (not one and a half).

use crate::capture::af_packet::{poll_any, AfPacketConfig, AfPacketSocket};
use crate::capture::af_xdp::{self, XdpAttach, XdpConfig, XdpProgram, ZeroCopy};
use crate::capture::live::{CaptureMode, LiveCounters, LiveError, LiveSource};
use crate::capture::CaptureError;
use crate::config::{DetectLoadError, SensorConfig};
use crate::detect::policy::Policy;
use crate::detect::text::SourceText;
use crate::detect::{derive, SharedConfig};
use crate::inventory::{self, Inventory};
use crate::metrics::{self, MetricsView, UplinkMetrics};
use crate::pipeline::Pipeline;
use crate::store::{self, Store, StoreError};
use crate::uplink::client::{Uplink, UplinkConfig};
use crate::uplink::outbox::Outbox;
use crate::uplink::{diff, LinkInfo, UplinkError};
use expiry::Expiry;
use otwatch_common::model::{CaptureSource, CaptureStats, InventoryReport};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

mod expiry;
mod replay;

use replay::{mark_replay_done, replay_base, Replayer};

/// Name of the report snapshot written beside the store at every commit.
pub const SNAPSHOT: &str = "inventory.json";
/// Name of the policy learned live, written beside the store (also kept in it).
pub const POLICY_FILE: &str = "policy.toml";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("no interface to listen on; pass --interface IF (a mirror/SPAN port) or set capture.interfaces in the config")]
    NoInterface,
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve metrics on {addr}: {source}; pick a free address with --metrics or metrics.listen")]
    Metrics {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no sensor state in {0}; run `otwatch-sensor run --state DIR` or `otwatch-sensor analyze --state DIR` first")]
    NoState(String),
    #[error(
        "the inventory snapshot {path} is damaged ({detail}); it is rewritten at the next commit"
    )]
    Snapshot { path: String, detail: String },
    #[error("worker {worker} stopped: {error}")]
    Worker { worker: usize, error: String },
    #[error("cannot start a thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error(transparent)]
    Uplink(#[from] UplinkError),
    #[error(transparent)]
    Detect(#[from] DetectLoadError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("no policy in {0}: the sensor has not learned one (run it with --learn-for DURATION), or it was given one with --policy FILE")]
    NoPolicy(String),
    /// A capture file to replay cannot be read at all (missing, a directory, no permission,
    /// empty, not a capture): nothing was replayed.
    #[error(transparent)]
    Input(CaptureError),
}

/// How fast `run --pcap` replays.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Speed {
    /// As fast as the pipeline goes.
    #[default]
    Max,
    /// Paced by packet timestamps, this many times faster than they were captured (1 = real
    /// time).
    Paced(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "max" => Ok(Speed::Max),
            "realtime" => Ok(Speed::Paced(1.0)),
            other => other
                .strip_suffix('x')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|f| f.is_finite() && *f > 0.0)
                .map(Speed::Paced)
                .ok_or_else(|| {
                    format!("unknown speed {other:?}; use max, realtime or a factor such as 10x")
                }),
        }
    }
}

/// What `run` reads besides the configuration.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Replay these capture files instead of capturing on interfaces.
    pub pcap: Vec<PathBuf>,
    pub speed: Speed,
    /// At the end of a replay, or of a live run stopped by a signal, how long to wait for the
    /// manager to acknowledge everything.
    pub drain_timeout: Duration,
    /// Set (by SIGHUP) to reload the rules and indicator files.
    pub reload: Option<Arc<AtomicBool>>,
    /// After a replay the manager acknowledged, stay connected (heartbeats, online in
    /// `otwatch sensors`) until `shutdown` is set, as a live sensor would.
    pub stay: bool,
}

pub use otwatch_common::link::REPLAY_ACKNOWLEDGED;

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            pcap: Vec::new(),
            speed: Speed::Max,
            drain_timeout: Duration::from_secs(30),
            reload: None,
            stay: false,
        }
    }
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunSummary {
    pub report: InventoryReport,
    /// Per socket: interface, queue, backend description.
    pub sockets: Vec<(String, u32, String)>,
    /// Capture files that were not a capture, corrupt or truncated (what came before the damage
    /// was replayed), one message each.
    pub input_errors: Vec<String>,
    /// Why the last commit could not be stored (the inventory of this run is not on disk, or
    /// not all of it).
    pub store_error: Option<StoreError>,
    /// With an uplink: deltas the manager had not acknowledged at the end, and upserts still
    /// deferred for lack of room in the outbox (both stay for the next run).
    pub unacknowledged: Option<(u64, u64)>,
    /// The manager revoked this sensor.
    pub revoked: bool,
    /// A replay stopped by SIGINT/SIGTERM before the end of its files.
    pub interrupted: bool,
}

impl RunSummary {
    /// The exit status this run ends with ([`crate::exit`]): the most serious of what applies.
    pub fn exit_code(&self) -> u8 {
        use crate::exit;
        if self.store_error.is_some() {
            exit::NOT_STORED
        } else if self.revoked {
            exit::REVOKED
        } else if self.unacknowledged.is_some_and(|(b, d)| b + d > 0) {
            exit::NOT_ACKNOWLEDGED
        } else if self.interrupted {
            exit::INTERRUPTED
        } else if !self.input_errors.is_empty() {
            exit::INPUT_DAMAGED
        } else {
            exit::OK
        }
    }
}

/// A worker's state as sent to the committer.
struct Snapshot {
    worker: usize,
    /// The commit epoch this answers (0: a counters-only update).
    epoch: u64,
    inventory: Option<Inventory>,
    stats: CaptureStats,
}

enum Msg {
    Snapshot(Box<Snapshot>),
    Failed {
        worker: usize,
        error: String,
    },
    /// A capture file to replay was not a capture, corrupt or truncated.
    Input(String),
}

/// The open sockets, `[worker][socket]`, and the XDP programs that must stay attached while
/// they run (dropping a program detaches it).
type Sockets = (Vec<Vec<Box<dyn LiveSource>>>, Vec<XdpProgram>);

fn list(ips: &[std::net::IpAddr]) -> String {
    ips.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn segmented(mut p: Pipeline, segments: &[u16]) -> Pipeline {
    p.set_segments(segments.to_vec());
    p
}

/// Opens the live sockets for every interface.
fn open_sockets(cfg: &SensorConfig, workers: usize) -> Result<Sockets, RunError> {
    let mut per_worker: Vec<Vec<Box<dyn LiveSource>>> = (0..workers).map(|_| Vec::new()).collect();
    let mut programs = Vec::new();
    for (i, ifname) in cfg.capture.interfaces.iter().enumerate() {
        let socks = match cfg.capture.mode {
            CaptureMode::AfPacket => open_af_packet(cfg, ifname, i as u32, workers)?,
            CaptureMode::AfXdp => {
                let own = af_xdp::host_addresses(ifname);
                if !own.is_empty() {
                    tracing::warn!(
                        interface = %ifname,
                        "{ifname} carries this host's addresses ({}); af_xdp takes every frame of its queues away from the host's own traffic",
                        list(&own)
                    );
                }
                open_af_xdp(cfg, ifname, i as u32, workers, &mut programs)?
            }
            CaptureMode::Auto => {
                // A mirror port carries no address; an interface that does is the host's own
                // (management, SSH), and AF_XDP would take its traffic away from it.
                let own = af_xdp::host_addresses(ifname);
                let xdp = if own.is_empty() {
                    open_af_xdp(cfg, ifname, i as u32, workers, &mut programs)
                } else {
                    Err(LiveError::Unsupported {
                        interface: ifname.clone(),
                        detail: format!(
                            "it carries this host's addresses ({}) and AF_XDP would take its traffic from the host; use a dedicated mirror port, or --capture af_xdp to force it",
                            list(&own)
                        ),
                    })
                };
                match xdp {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(
                            interface = %ifname,
                            "af_xdp cannot run here ({e}); falling back to af_packet"
                        );
                        open_af_packet(cfg, ifname, i as u32, workers)?
                    }
                }
            }
        };
        for (k, s) in socks.into_iter().enumerate() {
            let (ifn, q) = s.location();
            tracing::info!(interface = %ifn, queue = q, worker = k % workers, "capturing with {}", s.describe());
            per_worker[k % workers].push(s);
        }
    }
    Ok((per_worker, programs))
}

fn open_af_packet(
    cfg: &SensorConfig,
    ifname: &str,
    index: u32,
    workers: usize,
) -> Result<Vec<Box<dyn LiveSource>>, LiveError> {
    let a = &cfg.capture.af_packet;
    // One fanout group per interface and process.
    let group = ((std::process::id() as u16) ^ ((index as u16) << 12)) | 1;
    let base = AfPacketConfig {
        interface: ifname.to_string(),
        source_index: index,
        block_size: a.block_kib.saturating_mul(1024),
        blocks: a.blocks,
        block_timeout: Duration::from_millis(a.block_timeout_ms),
        poll_timeout: Duration::from_millis(100),
        fanout: (workers > 1).then_some(group),
        promiscuous: true,
    };
    let mut out: Vec<Box<dyn LiveSource>> = Vec::with_capacity(workers);
    for _ in 0..workers {
        out.push(Box::new(AfPacketSocket::open(&base)?));
    }
    Ok(out)
}

fn open_af_xdp(
    cfg: &SensorConfig,
    ifname: &str,
    index: u32,
    workers: usize,
    programs: &mut Vec<XdpProgram>,
) -> Result<Vec<Box<dyn LiveSource>>, LiveError> {
    let x = &cfg.capture.af_xdp;
    let bad = |what: &str, v: &str| LiveError::Unsupported {
        interface: ifname.to_string(),
        detail: format!(
            "capture.af_xdp.{what} = {v:?}; use auto, {}",
            if what == "attach" {
                "native or generic"
            } else {
                "on or off"
            }
        ),
    };
    let attach = match x.attach.as_str() {
        "auto" => XdpAttach::Auto,
        "native" => XdpAttach::Native,
        "generic" => XdpAttach::Generic,
        v => return Err(bad("attach", v)),
    };
    let zero_copy = match x.zero_copy.as_str() {
        "auto" => ZeroCopy::Auto,
        "on" => ZeroCopy::On,
        "off" => ZeroCopy::Off,
        v => return Err(bad("zero_copy", v)),
    };
    let xc = XdpConfig {
        interface: ifname.to_string(),
        source_index: index,
        frames: x.frames,
        frame_size: x.frame_size,
        ring_size: x.ring_size,
        batch: 256.min(x.ring_size as usize),
        attach,
        zero_copy,
        ..XdpConfig::default()
    };
    let (program, sockets) = af_xdp::open_interface(&xc)?;
    if sockets.len() > 1 && workers > 1 {
        tracing::warn!(
            interface = %ifname,
            "af_xdp spreads flows over workers by the NIC's receive hash; give the NIC a symmetric RSS key (ethtool -X {ifname} hkey 6d:5a:...) so both directions of a flow reach one worker, or use --capture af_packet"
        );
    }
    tracing::info!(interface = %ifname, "xdp program attached in {} mode", program.mode().as_str());
    programs.push(program);
    Ok(sockets
        .into_iter()
        .map(|s| Box::new(s) as Box<dyn LiveSource>)
        .collect())
}

fn source_stats(s: &mut dyn LiveSource) -> CaptureSource {
    let c: LiveCounters = s.counters();
    let (ifn, q) = s.location();
    c.source(ifn, q, s.describe())
}

struct Worker {
    id: usize,
    sources: Vec<Box<dyn LiveSource>>,
    pipeline: Pipeline,
    expiry: Expiry,
    tx: mpsc::Sender<Msg>,
    stop: Arc<AtomicBool>,
    epoch: Arc<AtomicU64>,
    drain: Duration,
    detect: Arc<SharedConfig>,
    detect_seen: u64,
}

impl Worker {
    fn stats(&mut self) -> CaptureStats {
        let mut st = self.pipeline.capture_stats();
        st.sources = self
            .sources
            .iter_mut()
            .map(|s| source_stats(s.as_mut()))
            .collect();
        st
    }

    fn send(&mut self, epoch: u64, with_inventory: bool) -> bool {
        let inventory = with_inventory.then(|| {
            self.pipeline.checkpoint();
            self.expiry.worker(&mut self.pipeline);
            self.pipeline.inventory.clone()
        });
        let stats = self.stats();
        self.tx
            .send(Msg::Snapshot(Box::new(Snapshot {
                worker: self.id,
                epoch,
                inventory,
                stats,
            })))
            .is_ok()
    }

    /// Reads every socket once; returns the frames handled.
    fn round(&mut self) -> Result<usize, String> {
        self.detect
            .refresh(&mut self.pipeline.detector, &mut self.detect_seen);
        let mut n = 0;
        for s in self.sources.iter_mut() {
            match s.next_batch() {
                Ok(Some(b)) => {
                    for f in b.iter() {
                        self.pipeline.frame(&f);
                    }
                    n += b.len();
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(n)
    }

    fn run(mut self) {
        let fds: Vec<_> = self.sources.iter().map(|s| s.raw_fd()).collect();
        let several = self.sources.len() > 1;
        let mut answered = 0u64;
        let mut next_tick = Instant::now() + Duration::from_secs(1);
        let fail = |w: &Worker, error: String| {
            let _ = w.tx.send(Msg::Failed {
                worker: w.id,
                error,
            });
        };
        while !self.stop.load(Ordering::Relaxed) {
            let n = match self.round() {
                Ok(n) => n,
                Err(e) => return fail(&self, e),
            };
            if n == 0 && several {
                // Sockets with data return at once; wait on all of them together.
                if let Err(e) = poll_any(&fds, Duration::from_millis(100)) {
                    return fail(&self, format!("poll: {e}"));
                }
            }
            let epoch = self.epoch.load(Ordering::Acquire);
            if epoch != answered {
                answered = epoch;
                if !self.send(epoch, true) {
                    return;
                }
            } else if Instant::now() >= next_tick {
                next_tick = Instant::now() + Duration::from_secs(1);
                if !self.send(0, false) {
                    return;
                }
            }
        }
        // Drain: the kernel hands over partly filled blocks after the block timeout.
        let until = Instant::now() + self.drain;
        loop {
            let n = match self.round() {
                Ok(n) => n,
                Err(e) => return fail(&self, e),
            };
            if n == 0 && Instant::now() >= until {
                break;
            }
        }
        self.pipeline.finish();
        self.send(u64::MAX, true);
    }
}

/// State the committer keeps per worker.
#[derive(Default)]
struct Latest {
    inventory: Option<(u64, Inventory)>,
    stats: CaptureStats,
}

struct Committer {
    store: Store,
    dir: PathBuf,
    base: Inventory,
    /// Forgets what was not seen within the retention from `base` at each commit.
    expiry: Expiry,
    earlier: Option<CaptureStats>,
    latest: Vec<Latest>,
    view: MetricsView,
    metrics_text: Arc<Mutex<String>>,
    metrics_file: Option<PathBuf>,
    uplink: Option<Uplink>,
    /// For the status delta: "pcap" or the live backends in use.
    capture_mode: String,
    detect: Arc<SharedConfig>,
    /// Learning the policy until the capture spans this long.
    learn_for: Option<Duration>,
    site: String,
    /// How to start the uplink again (after the store was opened again); `None`: not enrolled.
    uplink_start: Option<UplinkStart>,
    /// The manager revoked this sensor (the uplink is not started again).
    revoked: bool,
    /// The last save failed: the next waits for room and opens the store again first.
    store_failing: bool,
    /// Why the last save failed.
    store_error: Option<StoreError>,
    /// Writing the metrics file or the inventory snapshot failed (logged once until it works).
    file_failing: bool,
}

/// What the uplink is started with.
#[derive(Debug, Clone)]
struct UplinkStart {
    dir: PathBuf,
    manager: Option<String>,
    outbox_max: u64,
}

impl Committer {
    fn run_stats(&self) -> CaptureStats {
        let mut st: Option<CaptureStats> = None;
        for l in &self.latest {
            st = Some(store::merge_stats(st, l.stats.clone()));
        }
        st.unwrap_or_default()
    }

    fn merged(&self) -> Inventory {
        let mut inv = self.base.clone();
        for l in &self.latest {
            if let Some((_, i)) = &l.inventory {
                inv.merge(i.clone());
            }
        }
        inv
    }

    fn commit(&mut self) -> InventoryReport {
        self.expiry.expire(&mut self.base);
        let mut inv = self.merged();
        let stats = store::merge_stats(self.earlier.clone(), self.run_stats());
        let mut report = inventory::report(&inv, stats.clone());
        // Alerts that need the whole inventory: kept in the base so they persist (their ids
        // are stable, so deriving again updates them), and shown with the workers' alerts.
        let cfg = self.detect.get();
        derive::derive(&mut self.base.alerts, &report, &cfg);
        derive::finish(&mut inv.alerts, &mut report, &cfg);
        self.learn(&report);
        let saved = self.save(&inv, &stats);
        match saved {
            Ok(()) => {
                self.view.commits += 1;
                self.view.last_commit = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if self.store_failing {
                    tracing::info!(path = %self.dir.display(), "the state store takes writes again: the inventory kept in memory is saved");
                }
                self.store_failing = false;
                self.store_error = None;
            }
            Err(e) => {
                self.view.commit_errors += 1;
                if !self.store_failing {
                    if e.is_disk_full() {
                        tracing::error!("{e}: the inventory is kept in memory while capture and metrics go on, and saved at the next commit once 3 MiB are free there");
                    } else {
                        tracing::error!("cannot commit the inventory: {e}; it is kept in memory and saved again at the next commit");
                    }
                }
                self.store_failing = true;
                self.store_error = Some(e);
            }
        }
        self.view.assets = report.assets.len();
        self.view.connections = report.connections.len();
        // The snapshot for readers is the stored inventory, and deltas go out only for what is
        // durably in the store: a restart must not go back behind what the manager was sent.
        if !self.store_failing {
            let json = crate::output::to_json(&report);
            let snap = self.dir.join(SNAPSHOT);
            let written = metrics::write_atomic(&snap, json.as_bytes());
            self.file_written(&snap, written);
            self.ensure_uplink();
            self.enqueue(&report);
        }
        report
    }

    /// Saves the inventory. After a failed save, first waits for room on the disk and opens the
    /// store again (sled keeps a failed write's error until then).
    fn save(&mut self, inv: &Inventory, stats: &CaptureStats) -> Result<(), StoreError> {
        if self.store_failing {
            self.store.check_room()?;
            self.reopen_store()?;
        }
        self.store.save(inv, stats)
    }

    /// Opens the store again at its last durable state. The uplink's outbox holds the
    /// database, so the uplink stops first (what it has not sent stays in the outbox) and
    /// starts again after ([`Committer::ensure_uplink`]).
    fn reopen_store(&mut self) -> Result<(), StoreError> {
        if let Some(u) = self.uplink.take() {
            self.revoked |= u.revoked();
            u.stop();
        }
        self.store.reopen()
    }

    /// Starts the uplink when it should run and does not (stopped to open the store again).
    fn ensure_uplink(&mut self) {
        if self.uplink.is_some() || self.revoked {
            return;
        }
        let Some(start) = &self.uplink_start else {
            return;
        };
        match open_uplink(start, &self.store) {
            Ok(u) => self.uplink = Some(u),
            Err(e) => {
                tracing::error!("cannot start the uplink again: {e}; trying at the next commit")
            }
        }
    }

    /// Logs a failed write of the metrics file or the inventory snapshot once until one works
    /// again (a full disk would otherwise log every second).
    fn file_written(&mut self, path: &Path, r: std::io::Result<()>) {
        match r {
            Ok(()) => self.file_failing = false,
            Err(e) => {
                if !self.file_failing {
                    tracing::error!(
                        "cannot write {}: {e} (said once until it works again)",
                        path.display()
                    );
                }
                self.file_failing = true;
            }
        }
    }

    /// Whether the manager revoked this sensor.
    fn is_revoked(&self) -> bool {
        self.revoked || self.uplink.as_ref().is_some_and(|u| u.revoked())
    }

    /// While learning: once the capture spans the learning time, the policy is learned from
    /// the inventory so far, kept in the store and beside it, and protects from then on.
    fn learn(&mut self, report: &InventoryReport) {
        let Some(span) = self.learn_for else { return };
        // The policy is kept in the store: learned once the store takes writes again.
        if self.store_failing {
            return;
        }
        let parse = |s: &str| otwatch_common::Timestamp::parse_rfc3339(s);
        let (Some(first), Some(last)) = (
            parse(&report.stats().first_packet),
            parse(&report.stats().last_packet),
        ) else {
            return;
        };
        if u128::from(last.0.saturating_sub(first.0)) < span.as_nanos() {
            return;
        }
        let p = Policy::learn(report, &self.site);
        let text = p.to_toml();
        if let Err(e) = self.store.save_policy(&text) {
            tracing::error!("cannot keep the learned policy: {e}; learning goes on");
            return;
        }
        let _ = metrics::write_atomic(&self.dir.join(POLICY_FILE), text.as_bytes());
        tracing::info!(
            assets = p.assets.len(),
            conversations = p.conversations.len(),
            allowed = p.allows.len(),
            "learned the policy over {} of capture time; protecting with it from now on (`otwatch-sensor policy export --state {}` prints it)",
            report.stats().first_packet.clone() + ".." + &report.stats().last_packet,
            self.dir.display()
        );
        let mut cfg = (*self.detect.get()).clone();
        cfg.policy = Some(p);
        self.detect.set(Arc::new(cfg));
        self.learn_for = None;
    }

    /// SIGHUP: reads the rules and indicator files again (and the policy file, unless the
    /// policy was learned live). A bad file is logged and the running set kept.
    fn reload(&mut self, section: &crate::config::DetectSection) {
        match section.build() {
            Ok(mut cfg) => {
                let cur = self.detect.get();
                if section.policy.is_none() {
                    cfg.policy = cur.policy.clone();
                }
                tracing::info!(
                    rules = cfg.rules.rules.len(),
                    indicators = cfg.iocs.indicators.len(),
                    "reloaded the detection files"
                );
                self.detect.set(Arc::new(cfg));
            }
            Err(e) => {
                tracing::error!("cannot reload the detection files: {e}; keeping the ones loaded")
            }
        }
    }

    /// Queues what changed since the last commit for the manager.
    fn enqueue(&mut self, report: &InventoryReport) {
        let Some(u) = &self.uplink else { return };
        match diff::enqueue_report(&u.outbox, report, &self.capture_mode) {
            Ok(o) => {
                tracing::debug!(
                    enqueued = o.enqueued,
                    replaced = o.replaced,
                    deferred = o.deferred,
                    "outbox"
                );
                u.wake();
            }
            Err(e) => {
                let e = self.store.error(e);
                tracing::error!(
                    "cannot queue the inventory changes for the manager: {e}; they are queued at the next commit"
                );
                // sled keeps a failed write's error: the next commit opens the store again.
                self.store_failing = true;
                self.store_error = Some(e);
            }
        }
    }

    /// At the end of a run: waits until the manager acknowledged everything, queueing deferred
    /// upserts as room frees; gives up after `timeout`, when `cancel` is set, or at once when
    /// the manager revoked this sensor. Returns what is left: (deltas not acknowledged,
    /// upserts deferred), `None` without an uplink.
    fn drain(
        &mut self,
        report: &InventoryReport,
        timeout: Duration,
        cancel: &AtomicBool,
    ) -> Option<(u64, u64)> {
        let Some(outbox) = self.uplink.as_ref().map(|u| u.outbox.clone()) else {
            // Enrolled, but the uplink is not running (revoked, or the store is failing): the
            // outbox keeps what was not acknowledged.
            return self.uplink_start.as_ref().map(|_| self.left_in_outbox());
        };
        let u = &*outbox;
        let until = Instant::now() + timeout;
        let mut last_backlog = u64::MAX;
        let mut last_offer = Instant::now();
        while !u.is_drained() {
            if Instant::now() >= until || cancel.load(Ordering::Relaxed) || self.is_revoked() {
                tracing::warn!(
                    backlog = u.backlog(),
                    deferred = u.deferred_now(),
                    "the manager has not acknowledged everything; the rest stays in the outbox for the next run"
                );
                return Some((u.backlog(), u.deferred_now() as u64));
            }
            // Acknowledgements freed room since the last enqueue (or a second passed; an
            // acknowledgement may land between the enqueue and the look at the backlog):
            // offer the deferred again.
            if u.deferred_now() > 0
                && (u.backlog() < last_backlog || last_offer.elapsed() >= Duration::from_secs(1))
            {
                self.enqueue(report);
                last_backlog = u.backlog();
                last_offer = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
            self.publish_metrics();
        }
        tracing::info!(acked_seq = u.acked(), "the manager acknowledged everything");
        Some((0, 0))
    }

    /// (deltas not acknowledged, upserts deferred) as the outbox in the store says, when the
    /// uplink is not running; unknown counts (the store is closed) count as one.
    fn left_in_outbox(&self) -> (u64, u64) {
        self.store
            .db()
            .ok()
            .and_then(|db| Outbox::open(db, 1).ok())
            .map_or((1, 0), |o| (o.backlog(), o.deferred_now() as u64))
    }

    fn publish_metrics(&mut self) {
        let mut st = self.run_stats();
        st.protocol_violations = self.merged_violations();
        self.view.stats = st;
        self.view.uplink = self.uplink.as_ref().map(|u| UplinkMetrics {
            connected: u.state.connected.load(Ordering::Relaxed),
            backlog: u.outbox.backlog(),
            deferred: u.outbox.deferred_now() as u64,
            deferred_total: u.outbox.deferred_total(),
            last_seq: u.outbox.last_seq(),
            acked_seq: u.outbox.acked(),
            sessions: u.state.sessions.load(Ordering::Relaxed),
            deltas_sent: u.state.deltas_sent.load(Ordering::Relaxed),
        });
        let text = metrics::render(&self.view);
        if let Some(f) = self.metrics_file.clone() {
            let written = metrics::write_atomic(&f, text.as_bytes());
            self.file_written(&f, written);
        }
        if let Ok(mut t) = self.metrics_text.lock() {
            *t = text;
        }
    }

    fn merged_violations(&self) -> std::collections::BTreeMap<String, u64> {
        let mut v = std::collections::BTreeMap::new();
        for l in &self.latest {
            if let Some((_, i)) = &l.inventory {
                for (k, n) in &i.violations {
                    *v.entry(k.to_string()).or_default() += n;
                }
            }
        }
        v
    }

    fn take(&mut self, s: Snapshot) {
        let Some(l) = self.latest.get_mut(s.worker) else {
            return;
        };
        l.stats = s.stats;
        if let Some(inv) = s.inventory {
            l.inventory = Some((s.epoch, inv));
        }
    }

    fn all_answered(&self, epoch: u64) -> bool {
        self.latest
            .iter()
            .all(|l| l.inventory.as_ref().is_some_and(|(e, _)| *e >= epoch))
    }
}

fn create_state_dir(dir: &Path) -> Result<(), RunError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| RunError::StateDir {
            path: dir.display().to_string(),
            source,
        })
}

/// Runs until `shutdown` is set, then drains, commits and returns the final report.
pub fn run(cfg: &SensorConfig, shutdown: Arc<AtomicBool>) -> Result<RunSummary, RunError> {
    run_with(cfg, &RunOptions::default(), shutdown)
}

/// How to start the uplink when the sensor is enrolled (or refuses a manager URL without
/// enrolment); `None` when it is not.
fn uplink_start(cfg: &SensorConfig) -> Result<Option<UplinkStart>, RunError> {
    let dir = &cfg.state.dir;
    if LinkInfo::load(dir)?.is_none() {
        if let Some(m) = &cfg.uplink.manager {
            return Err(RunError::Uplink(UplinkError::Usage(format!(
                "--manager {m}: {} is not enrolled; run `otwatch-sensor enroll --manager {m} --enroll-token T --state {}` first",
                dir.display(),
                dir.display()
            ))));
        }
        tracing::info!("not enrolled with a manager: no uplink");
        return Ok(None);
    }
    Ok(Some(UplinkStart {
        dir: dir.clone(),
        manager: cfg.uplink.manager.clone(),
        outbox_max: cfg.uplink.outbox_max,
    }))
}

/// Starts the uplink thread over the outbox in `store`.
fn open_uplink(start: &UplinkStart, store: &Store) -> Result<Uplink, RunError> {
    let info = LinkInfo::load(&start.dir)?.ok_or_else(|| {
        UplinkError::Usage(format!("{} is no longer enrolled", start.dir.display()))
    })?;
    let outbox = Outbox::open(store.db()?, start.outbox_max).map_err(|e| store.error(e))?;
    tracing::info!(
        manager = %start.manager.as_deref().unwrap_or(&info.manager),
        sensor = %info.sensor_id,
        site = %info.site,
        backlog = outbox.backlog(),
        "uplink enabled"
    );
    Ok(Uplink::start(
        UplinkConfig {
            state: start.dir.clone(),
            manager: start.manager.clone(),
        },
        Arc::new(outbox),
    )?)
}

/// Checks, before anything is read or written, that every capture file given is one: it
/// exists, is a regular file that can be opened, and starts like a pcap or pcapng capture. A
/// command given a wrong file does nothing (exit status 1) rather than part of its work: the
/// files are analysed in order as one capture, and with a state directory a second run after
/// fixing the command would count the good files twice. Damage further in (a corrupt record, a
/// truncated end) only shows while reading: that input is analysed up to the damage (status 2).
pub fn check_inputs(files: &[PathBuf]) -> Result<(), CaptureError> {
    use std::io::{Error, ErrorKind};
    // The system's message says what is wrong; these also say what to do about it.
    let explain = |e: Error| match e.kind() {
        ErrorKind::NotFound => Error::new(e.kind(), "no such file; check the path"),
        ErrorKind::PermissionDenied => Error::new(
            e.kind(),
            "permission denied; make it readable by this user, or run as one who can read it",
        ),
        _ => e,
    };
    for f in files {
        let io = |source| CaptureError::Io {
            path: f.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(f).map_err(|e| io(explain(e)))?;
        if meta.is_dir() {
            return Err(io(Error::new(
                ErrorKind::InvalidInput,
                "it is a directory; pass the capture files in it (e.g. DIR/*.pcap)",
            )));
        }
        if !meta.is_file() {
            return Err(io(Error::new(
                ErrorKind::InvalidInput,
                "not a regular file; save the capture to a file first",
            )));
        }
        // Opening reads and checks the file header: not a capture, empty or unreadable is
        // refused here; a header cut short is damage like any other truncation (status 2).
        match crate::capture::pcap::CaptureFile::open(f) {
            Ok(_) | Err(CaptureError::Truncated { .. } | CaptureError::Corrupt { .. }) => {}
            Err(CaptureError::Io { source, .. }) => return Err(io(explain(source))),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Like [`run`], with capture files instead of interfaces when `opts.pcap` is not empty.
pub fn run_with(
    cfg: &SensorConfig,
    opts: &RunOptions,
    shutdown: Arc<AtomicBool>,
) -> Result<RunSummary, RunError> {
    let replay = !opts.pcap.is_empty();
    if !replay && cfg.capture.interfaces.is_empty() {
        return Err(RunError::NoInterface);
    }
    check_inputs(&opts.pcap).map_err(RunError::Input)?;
    let workers = cfg.capture.worker_count();
    // Settings and detection files first: a mistake in them must stop the sensor before
    // anything starts.
    let limits = cfg.limits()?;
    let expiry = Expiry::new(cfg.retention()?);
    let segments = cfg.capture.segment_map(replay)?;
    let detect_cfg = cfg.detect.build()?;
    let learn_for = cfg
        .detect
        .learn_for
        .as_deref()
        .map(crate::config::parse_duration)
        .transpose()
        .map_err(|e| DetectLoadError(format!("learn_for: {e}")))?;
    // Sockets first: a missing privilege is the most likely error and should not leave a
    // store behind.
    let (per_worker, programs) = if replay {
        (Vec::new(), Vec::new())
    } else {
        open_sockets(cfg, workers)?
    };
    let dir = cfg.state.dir.clone();
    create_state_dir(&dir)?;
    let store = Store::open(&dir)?;
    let (mut base, mut earlier) = store.load()?;
    if replay {
        (base, earlier) = replay_base(&store, opts, base, earlier)?;
    } else if store.low_space() {
        tracing::error!(path = %dir.display(), free = store::available(&dir), "the disk holding the sensor's state is full: capture and metrics go on and the inventory is kept in memory; it is saved at the next commit once 3 MiB are free there");
    }
    base.limits = limits.inventory;
    base.enforce_limits();
    let uplink_start = uplink_start(cfg)?;
    let uplink = match &uplink_start {
        Some(u) => Some(open_uplink(u, &store)?),
        None => None,
    };
    let mut detect_cfg = detect_cfg;
    let mut learn_for = learn_for;
    if learn_for.is_some() {
        if let Some(text) = store.policy()? {
            let src = SourceText::new(&format!("{}/{POLICY_FILE}", dir.display()), &text);
            let p = Policy::parse(&src)
                .map_err(|e| DetectLoadError(format!("the learned policy {e}")))?;
            tracing::info!(
                assets = p.assets.len(),
                conversations = p.conversations.len(),
                "protecting with the policy learned earlier (policy export --state {} prints it)",
                dir.display()
            );
            detect_cfg.policy = Some(p);
            learn_for = None;
        } else {
            tracing::info!("learning the policy; alerts on deviations start once it is learned");
        }
    }
    let detect = Arc::new(SharedConfig::new(Arc::new(detect_cfg)));
    let site = LinkInfo::load(&dir)
        .ok()
        .flatten()
        .map(|i| i.site)
        .unwrap_or_default();
    let metrics_text = Arc::new(Mutex::new(String::new()));
    if let Some(addr) = cfg.metrics.listen.as_deref().filter(|a| !a.is_empty()) {
        let local =
            metrics::serve(addr, metrics_text.clone()).map_err(|source| RunError::Metrics {
                addr: addr.to_string(),
                source,
            })?;
        tracing::info!("metrics at http://{local}/metrics");
    }
    let sockets: Vec<(String, u32, String)> = per_worker
        .iter()
        .flatten()
        .map(|s| {
            let (i, q) = s.location();
            (i.to_string(), q, s.describe())
        })
        .collect();
    let mut capture_mode: Vec<String> = sockets.iter().map(|s| s.2.clone()).collect();
    capture_mode.dedup();
    let capture_mode = if replay {
        "pcap".to_string()
    } else {
        capture_mode.join(", ")
    };
    let active: Vec<Vec<Box<dyn LiveSource>>> =
        per_worker.into_iter().filter(|w| !w.is_empty()).collect();
    let n = if replay { 1 } else { active.len() };
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Arc::new(AtomicU64::new(0));
    let drain = Duration::from_millis(cfg.capture.af_packet.block_timeout_ms) * 3
        + Duration::from_millis(100);
    let mut handles = Vec::with_capacity(n);
    if replay {
        let r = Replayer {
            files: opts.pcap.clone(),
            speed: opts.speed,
            pipeline: segmented(Pipeline::configured(&limits, Arc::default()), &segments),
            tx: tx.clone(),
            stop: stop.clone(),
            epoch: epoch.clone(),
            answered: 0,
            next_tick: Instant::now(),
            detect: detect.clone(),
            detect_seen: 0,
        };
        let h = std::thread::Builder::new()
            .name("replay".into())
            .spawn(move || r.run())
            .map_err(RunError::Thread)?;
        handles.push(h);
    }
    for (id, sources) in active.into_iter().enumerate() {
        let w = Worker {
            id,
            sources,
            pipeline: segmented(Pipeline::configured(&limits, Arc::default()), &segments),
            expiry: expiry.clone(),
            tx: tx.clone(),
            stop: stop.clone(),
            epoch: epoch.clone(),
            drain,
            detect: detect.clone(),
            detect_seen: 0,
        };
        let h = std::thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || w.run())
            .map_err(RunError::Thread)?;
        handles.push(h);
    }
    drop(tx);
    if replay {
        tracing::info!(
            "replaying {} capture file(s); state in {}",
            opts.pcap.len(),
            dir.display()
        );
    } else {
        tracing::info!("running with {n} worker(s); state in {}", dir.display());
    }
    let mut c = Committer {
        store,
        dir,
        base,
        expiry,
        earlier,
        latest: (0..n).map(|_| Latest::default()).collect(),
        view: MetricsView {
            workers: n,
            ..Default::default()
        },
        metrics_text,
        metrics_file: cfg.metrics.file.clone(),
        uplink,
        capture_mode,
        detect,
        learn_for,
        site,
        uplink_start,
        revoked: false,
        store_failing: false,
        store_error: None,
        file_failing: false,
    };
    c.store_failing = c.store.low_space();
    let interval = cfg.state.commit_interval();
    let mut next_commit = Instant::now() + interval;
    let mut next_metrics = Instant::now();
    let mut pending: Option<(u64, Instant)> = None;
    let mut failure: Option<RunError> = None;
    let mut input_errors = Vec::new();
    while !shutdown.load(Ordering::Relaxed) {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Snapshot(s)) => c.take(*s),
            Ok(Msg::Failed { worker, error }) => {
                failure = Some(RunError::Worker { worker, error });
                break;
            }
            Ok(Msg::Input(e)) => input_errors.push(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if pending.is_none() && now >= next_commit {
            let e = epoch.load(Ordering::Relaxed) + 1;
            epoch.store(e, Ordering::Release);
            pending = Some((e, now));
        }
        if let Some((e, asked)) = pending {
            // A worker stuck in a long batch must not hold commits back for ever.
            if c.all_answered(e) || now.duration_since(asked) > Duration::from_secs(5) {
                c.commit();
                pending = None;
                next_commit = Instant::now() + interval;
            }
        }
        if opts
            .reload
            .as_ref()
            .is_some_and(|r| r.swap(false, Ordering::Relaxed))
        {
            c.reload(&cfg.detect);
        }
        if now >= next_metrics {
            c.publish_metrics();
            next_metrics = now + Duration::from_secs(1);
        }
    }
    if !replay || shutdown.load(Ordering::Relaxed) {
        tracing::info!("stopping: draining the rings and committing");
    }
    stop.store(true, Ordering::Relaxed);
    for m in rx.iter() {
        match m {
            Msg::Snapshot(s) => c.take(*s),
            Msg::Failed { worker, error } => {
                failure.get_or_insert(RunError::Worker { worker, error });
            }
            Msg::Input(e) => input_errors.push(e),
        }
    }
    for h in handles {
        let _ = h.join();
    }
    // Workers have closed their sockets; now the programs may go.
    drop(programs);
    let report = c.commit();
    let interrupted = replay && shutdown.load(Ordering::Relaxed);
    let mut unacknowledged = None;
    if replay && !interrupted && failure.is_none() {
        // Done only after the drain: a replay killed while draining starts over, which gives
        // the same inventory again (and no new deltas but a status).
        unacknowledged = c.drain(&report, opts.drain_timeout, &shutdown);
        if c.store_error.is_none() {
            if let Err(e) = mark_replay_done(&c.store, opts) {
                tracing::error!("cannot record that the replay finished: {e}");
                c.store_error = Some(e);
            }
        }
        if opts.stay && unacknowledged == Some((0, 0)) {
            // A line on stdout, not a log: what starts this sensor (the demo) waits for it.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{REPLAY_ACKNOWLEDGED}");
            let _ = out.flush();
            while !shutdown.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    } else if !replay && failure.is_none() {
        // A live run ends on a signal, so `shutdown` is set already: the last commit's changes
        // go out before the exit, up to the drain timeout (a second signal exits at once, see
        // main.rs); what is not acknowledged by then stays in the outbox for the next run.
        unacknowledged = c.drain(&report, opts.drain_timeout, &AtomicBool::new(false));
    }
    c.publish_metrics();
    let revoked = c.is_revoked();
    if let Some(u) = c.uplink.take() {
        u.stop();
    }
    if let Some(f) = failure {
        return Err(f);
    }
    Ok(RunSummary {
        report,
        sockets,
        input_errors,
        store_error: c.store_error.take(),
        unacknowledged,
        revoked,
        interrupted,
    })
}

/// Where `inventory` found the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventorySource {
    Store,
    /// The store is held by a running sensor; this is its last commit.
    Snapshot,
    /// The store cannot be opened (why): this is the snapshot of its last commit.
    SnapshotOfStore(String),
}

/// The inventory kept in `dir`: from the store, or from the running sensor's last snapshot.
pub fn read_inventory(dir: &Path) -> Result<(InventoryReport, InventorySource), RunError> {
    if !dir.join("db").exists() && !dir.join(SNAPSHOT).exists() {
        return Err(RunError::NoState(dir.display().to_string()));
    }
    match Store::open(dir) {
        Ok(store) => {
            let (inv, stats) = store.load()?;
            Ok((
                inventory::report(&inv, stats.unwrap_or_default()),
                InventorySource::Store,
            ))
        }
        Err(e) => {
            let snap = dir.join(SNAPSHOT);
            let Ok(text) = std::fs::read_to_string(&snap) else {
                return Err(RunError::Store(e));
            };
            let report: InventoryReport =
                serde_json::from_str(&text).map_err(|err| RunError::Snapshot {
                    path: snap.display().to_string(),
                    detail: err.to_string(),
                })?;
            let from = match &e {
                StoreError::Open { source, .. }
                    if source.to_string().contains("could not acquire lock") =>
                {
                    InventorySource::Snapshot
                }
                _ => InventorySource::SnapshotOfStore(e.to_string()),
            };
            Ok((report, from))
        }
    }
}

/// The policy a sensor learned live (`run --learn-for`): from the store, or while the sensor
/// runs, from the copy beside it.
pub fn read_policy(dir: &Path) -> Result<String, RunError> {
    if !dir.join("db").exists() && !dir.join(POLICY_FILE).exists() {
        return Err(RunError::NoState(dir.display().to_string()));
    }
    let from_store = match Store::open(dir) {
        Ok(store) => store.policy()?,
        Err(_) => None,
    };
    match from_store {
        Some(t) => Ok(t),
        None => std::fs::read_to_string(dir.join(POLICY_FILE))
            .map_err(|_| RunError::NoPolicy(dir.display().to_string())),
    }
}
