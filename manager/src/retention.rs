//! Retention: records older than their kind's limit are removed, continuously.
//!
//! The kinds are the fleet store's ([`StoredKind`]: open alerts, resolved alerts, assets and
//! connections unseen for a while, the daily risk scores) and any kind another part of the
//! manager keeps elsewhere and registers ([`ExternalKind`], [`Retention::register`]): the
//! forwarding queues are meant to be one. A task ([`run::run_every`]) enforces every limit at
//! an interval; each run ([`run::run_once`]) surveys a kind, then removes what is past the
//! limit in batches of [`RetentionSettings::batch`] records, each one durable write that goes
//! through the ingest writer in order with sensors' batches
//! ([`crate::ingest::Ingest::remove_expired`]), so ingest is held up for one batch at most and
//! the fleet view agrees with the store.
//!
//! Time comes from the manager's [`crate::clock::Clock`]. A record's age is the later of its
//! own time and when the manager last stored it (see `store/aging.rs`); a record is removed
//! only when that is more than the limit before now, checked again inside the removal's
//! transaction, so nothing newer than the limit is ever removed.

pub mod run;

use crate::store::{FleetStore, StoreError, StoredKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

const DAY: i64 = 86_400;

/// At most this many expired records of a kind are removed per run (the next run goes on).
const MAX_PER_RUN: usize = 200_000;

/// How long each kind is kept, and how retention runs. Set by `otwatch-manager serve
/// --retain-*` and `--retention-every`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Seconds each kind is kept; `None`: forever.
    pub limits: BTreeMap<StoredKind, Option<i64>>,
    /// Time between runs.
    pub every: Duration,
    /// Records removed per durable write.
    pub batch: usize,
    /// Seconds an event may wait in a forwarding queue (and a dead letter be kept); `None`:
    /// forever ([`crate::forward::expiry`]).
    pub forwarding_queues: Option<i64>,
}

impl Default for RetentionSettings {
    fn default() -> RetentionSettings {
        RetentionSettings {
            limits: StoredKind::ALL
                .into_iter()
                .map(|k| (k, Some(default_limit(k))))
                .collect(),
            every: Duration::from_secs(15 * 60),
            batch: 1000,
            forwarding_queues: Some(FORWARDING_QUEUES_DAYS * DAY),
        }
    }
}

/// The default limit of the forwarding queues, in days: an event a destination has not taken
/// in a month is counted as expired and removed (docs/RETENTION.md).
pub const FORWARDING_QUEUES_DAYS: i64 = 30;

/// The default limit of `kind`, in seconds (docs/RETENTION.md says why).
pub fn default_limit(kind: StoredKind) -> i64 {
    DAY * match kind {
        StoredKind::Alerts => 90,
        StoredKind::ResolvedAlerts => 30,
        StoredKind::Assets | StoredKind::Connections => 180,
        StoredKind::RiskHistory => 400,
        StoredKind::PlaybookRuns => 90,
    }
}

/// A kind's limit in seconds; `None`: kept forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<i64>);

/// Parses a limit: a duration like `90d`, `12h` (see [`crate::admin::parse_ttl`]) or `forever`.
pub fn parse_limit(s: &str) -> Result<Limit, String> {
    if s.trim() == "forever" {
        return Ok(Limit(None));
    }
    crate::admin::parse_ttl(s)
        .map(|l| Limit(Some(l)))
        .map_err(|e| format!("{e}, or `forever`"))
}

impl RetentionSettings {
    /// The limit of `kind` in seconds; `None`: kept forever.
    pub fn limit(&self, kind: StoredKind) -> Option<i64> {
        self.limits.get(&kind).copied().flatten()
    }
}

/// What an [`ExternalKind`] did in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enforced {
    /// Records held after the run.
    pub held: u64,
    /// The oldest record's age (Unix seconds) after the run.
    pub oldest: Option<i64>,
    /// Records removed by this run.
    pub removed: u64,
    /// Records removed ever, if the kind keeps count across restarts (else what this manager
    /// removed since it started is shown).
    pub removed_total: Option<u64>,
}

/// A kind of record kept for a limited time outside the fleet store's trees, enforced with the
/// store's kinds and reported with them (`otwatch retention`, metrics). The forwarding queues
/// register one: they know what "older than" means for an event waiting for a destination
/// (and must count what they drop, never drop silently).
pub trait ExternalKind: Send + Sync {
    /// The name in reports and metric labels (e.g. `forwarding_queues`).
    fn name(&self) -> &str;
    /// How long records are kept, in seconds; `None`: forever (the kind is only reported).
    fn limit(&self) -> Option<i64>;
    /// Removes the records older than `cutoff` (Unix seconds), in batches that do not hold up
    /// other writers, and reports what is held afterwards. Runs on a blocking thread.
    fn enforce(&self, cutoff: Option<i64>) -> Result<Enforced, String>;
}

/// One kind's retention, as `otwatch retention` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindReport {
    pub kind: String,
    /// Seconds; `None`: kept forever.
    pub limit_secs: Option<i64>,
    /// Records held after the last run (`None`: no run yet).
    pub held: Option<u64>,
    /// Age of the oldest record held after the last run (Unix seconds).
    pub oldest: Option<i64>,
    /// Records removed so far (over the store's life for its own kinds).
    pub removed_total: u64,
    /// Records removed by the last run.
    pub removed_last_run: u64,
    /// When the last run ended (Unix seconds).
    pub last_run: Option<i64>,
    /// Why the last run of this kind failed, if it did.
    pub error: Option<String>,
}

/// The retention of the manager: its settings, what each run found, the registered kinds.
pub struct Retention {
    settings: RetentionSettings,
    reports: Mutex<BTreeMap<String, KindReport>>,
    external: RwLock<Vec<Arc<dyn ExternalKind>>>,
    /// One run at a time (the task and a test or a caller).
    running: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retention")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> StoreError {
    StoreError::poisoned("retention")
}

impl Retention {
    pub fn new(settings: RetentionSettings) -> Retention {
        Retention {
            settings,
            reports: Mutex::default(),
            external: RwLock::default(),
            running: tokio::sync::Mutex::new(()),
        }
    }

    pub fn settings(&self) -> &RetentionSettings {
        &self.settings
    }

    /// Adds a kind kept elsewhere; enforced and reported from the next run on.
    pub fn register(&self, kind: Arc<dyn ExternalKind>) {
        if let Ok(mut k) = self.external.write() {
            k.push(kind);
        }
    }

    /// Every kind's report: the store's kinds, then the registered ones. Before the first run
    /// the limits and the store's removed totals.
    pub fn reports(&self, store: &dyn FleetStore) -> Result<Vec<KindReport>, StoreError> {
        let reports = self.reports.lock().map_err(|_| poisoned())?.clone();
        let totals: BTreeMap<StoredKind, u64> = store.removed_totals()?.into_iter().collect();
        let mut out = Vec::new();
        for kind in StoredKind::ALL {
            let mut r = reports.get(kind.as_str()).cloned().unwrap_or_default();
            r.kind = kind.as_str().to_string();
            r.limit_secs = self.settings.limit(kind);
            r.removed_total = totals.get(&kind).copied().unwrap_or(0);
            out.push(r);
        }
        for ext in self.external.read().map_err(|_| poisoned())?.iter() {
            let mut r = reports.get(ext.name()).cloned().unwrap_or_default();
            r.kind = ext.name().to_string();
            r.limit_secs = ext.limit();
            out.push(r);
        }
        Ok(out)
    }

    /// The last report of the kind `name` (a default one before its first run).
    fn report(&self, name: &str) -> Result<KindReport, StoreError> {
        let mut r = self
            .reports
            .lock()
            .map_err(|_| poisoned())?
            .get(name)
            .cloned()
            .unwrap_or_default();
        r.kind = name.to_string();
        Ok(r)
    }

    fn keep(&self, r: KindReport) {
        if let Ok(mut reports) = self.reports.lock() {
            reports.insert(r.kind.clone(), r);
        }
    }
}
