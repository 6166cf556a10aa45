//! The fleet store: enrolment tokens, sensors, and what each sensor reported (assets,
//! connections, alerts), kept per sensor exactly as received. The fleet view (merged per site) is
//! computed from it by [`crate::fleet`] and kept up to date by [`crate::view`].
//!
//! [`FleetStore`] is the seam: [`SledStore`] is the embedded default, [`PgStore`] keeps the
//! store in PostgreSQL for several manager replicas (docs/POSTGRES.md). Applying a sensor's batch is ONE sled transaction over
//! the data trees and the sensor record (which holds the last applied sequence number), flushed
//! to disk before the batch is acknowledged, so a SIGKILL never loses or doubles a delta.

use crate::forward::queue::{DeadLetter, Done};
use crate::forward::{Event, ForwardStats};
use crate::playbook::run::RunRecord;
use otwatch_proto::v1::{Asset, Connection, FleetAlert};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("fleet store {path}: {msg}")]
    Open { path: String, msg: String },
    /// Writing failed for lack of space (ENOSPC, EDQUOT).
    #[error("the manager's disk is full; it keeps serving reads and accepts data again when space is freed")]
    DiskFull,
    #[error("fleet store: {0}")]
    Sled(String),
    /// The PostgreSQL store failed: the database (its URL without a password) and why.
    #[error("fleet store {url}: {msg}")]
    Postgres { url: String, msg: String },
    #[error("fleet store record {0} is corrupt")]
    Corrupt(String),
    #[error("unknown sensor {0}")]
    UnknownSensor(String),
    #[error(transparent)]
    Refused(#[from] BatchRefused),
}

/// Why a sensor's batch was refused as a whole (nothing of it applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchRefused {
    /// The batch does not continue from the last applied delta: some were never received.
    #[error(
        "sequence gap: expected {expected}, got {got}; the sensor must resend from {expected}"
    )]
    Gap { expected: u64, got: u64 },
    #[error("sequence numbers must increase inside a batch, but {next} follows {prev}; nothing of the batch was applied (a sensor bug: report it with the sensor's log)")]
    NotIncreasing { prev: u64, next: u64 },
    #[error("the batch continues from sequence number {after} but begins at {first}; sequence numbers start at 1 and after_seq must be below the first delta's")]
    BadStart { after: u64, first: u64 },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match &e {
            sled::Error::Io(io) if space::is_full(io) => StoreError::DiskFull,
            _ => StoreError::Sled(e.to_string()),
        }
    }
}

impl StoreError {
    /// A lock of `what` was poisoned: a thread panicked while holding it.
    pub fn poisoned(what: &str) -> StoreError {
        StoreError::Sled(format!(
            "the {what} lock is poisoned (a thread panicked); restart the manager"
        ))
    }

    /// The same error for another caller (a group commit fails every batch in it alike).
    pub fn again(&self) -> StoreError {
        match self {
            StoreError::DiskFull => StoreError::DiskFull,
            other => StoreError::Sled(other.to_string()),
        }
    }
}

/// Why an enrolment token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    #[error("unknown enrolment token; create one with `otwatch-manager token create --site SITE`")]
    Unknown,
    #[error("enrolment token already used (by sensor {0}); create a new one with `otwatch-manager token create --site {1}`")]
    Used(String, String),
    #[error("enrolment token expired at {0}; create a new one with `otwatch-manager token create --site {1}`")]
    Expired(String, String),
}

/// Outcome of [`FleetStore::enroll`].
#[derive(Debug)]
pub enum Enrolled {
    Ok(SensorRecord),
    Refused(TokenError),
}

/// One enrolled sensor. Fields added later read as their default from older records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SensorRecord {
    pub id: String,
    pub site: String,
    pub hostname: String,
    pub version: String,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// Unix seconds of the last call from this sensor.
    pub last_seen: i64,
    /// Highest delta sequence number applied.
    pub applied_seq: u64,
    /// Deltas waiting in the sensor's outbox, from its latest heartbeat or status, whichever
    /// was measured later ([`SensorRecord::report_backlog`]).
    pub backlog: u64,
    /// Where the sensor's outbox numbering stood when `backlog` was measured.
    pub backlog_seq: u64,
    pub capture_mode: String,
    /// Kernel drops over the sensor's capture sources.
    pub drops: u64,
    pub outbox_dropped: u64,
    /// Unix seconds.
    pub cert_not_after: i64,
    pub revoked: bool,
    /// Alert state changes this sensor sent, ignored (operator state belongs to operators).
    pub ignored_alert_states: u64,
    /// The records this sensor holds in the store (kept with every batch).
    pub held: Held,
    /// New records refused because the sensor held its quota ([`Quotas`]).
    pub over_quota: u64,
}

/// The records one sensor holds in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Held {
    /// False in records written before the counts were kept: [`SledStore::open`] counts them.
    pub counted: bool,
    pub assets: u64,
    pub connections: u64,
    pub alerts: u64,
}

/// How many records one sensor may hold in the manager. A sensor on a flooded network (or a
/// hostile one) can report without end; beyond its quota new asset, connection and alert ids
/// are refused (counted, logged) while those it holds still update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub assets_per_sensor: u64,
    pub connections_per_sensor: u64,
    pub alerts_per_sensor: u64,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            assets_per_sensor: 200_000,
            connections_per_sensor: 500_000,
            alerts_per_sensor: 100_000,
        }
    }
}

impl SensorRecord {
    /// Takes `backlog` if it was measured no earlier than the one held: `at_seq` is the last
    /// sequence number the sensor had numbered then. Sequence numbers, not clocks: a status
    /// delivered late (after a catch-up) is older than the heartbeats that came before it.
    /// `heartbeat`: a heartbeat is sent after the deltas it counts, so it wins a tie.
    pub fn report_backlog(&mut self, backlog: u64, at_seq: u64, heartbeat: bool) {
        if at_seq > self.backlog_seq || (heartbeat && at_seq == self.backlog_seq) {
            self.backlog = backlog;
            self.backlog_seq = at_seq;
        }
    }
}

/// An enrolment token, stored by the SHA-256 of its secret (the secret itself is never kept).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub site: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_by: Option<String>,
}

/// An operator's bearer token, stored by the SHA-256 of its secret (the secret is never kept).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperatorTokenRecord {
    pub name: String,
    /// admin, analyst or viewer.
    pub role: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// An asset's place in its site's approved inventory: who approved it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The operator.
    pub by: String,
    /// Unix seconds.
    pub at: i64,
}

/// Called with each stored advisory document: (key, bytes).
pub type DocumentVisitor<'a> = dyn FnMut(&str, &[u8]) -> Result<(), StoreError> + 'a;

/// The store seam.
pub trait FleetStore: Send + Sync + 'static {
    fn create_token(&self, secret_sha256: [u8; 32], token: TokenRecord) -> Result<(), StoreError>;
    /// Checks the token (known, unused, unexpired at `now`), marks it used and records the
    /// sensor, in one transaction. The sensor's site is taken from the token.
    fn enroll(
        &self,
        secret_sha256: [u8; 32],
        now: i64,
        sensor: SensorRecord,
    ) -> Result<Enrolled, StoreError>;
    fn token_site(&self, secret_sha256: [u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    fn sensor(&self, id: &str) -> Result<Option<SensorRecord>, StoreError>;
    fn sensors(&self) -> Result<Vec<SensorRecord>, StoreError>;
    /// Read-modify-write of one sensor record (last seen, renewal, revocation).
    fn update_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError>;
    /// [`FleetStore::update_sensor`] for bookkeeping that a crash may lose (a heartbeat's last
    /// seen and backlog): written without waiting for the disk. The next durable write takes
    /// it along (or the store's own background flush).
    fn note_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.update_sensor(id, f)
    }
    /// The last sequence number of `sensor_id` that is applied durably: what a sensor may be
    /// told (it deletes what the manager says it applied).
    fn applied_seq(&self, sensor_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.sensor(sensor_id)?.map(|r| r.applied_seq))
    }
    /// Applies, in order, the deltas with seq above the sensor's last applied seq, and stores the
    /// new last applied seq, atomically and durably. A batch that does not continue from there
    /// ([`check_sequence`]) is refused whole ([`StoreError::Refused`]).
    fn apply_batch(&self, batch: Batch<'_>, now: i64) -> Result<Applied, StoreError>;
    /// [`FleetStore::apply_batch`] for several sensors' batches at once (a group commit: one
    /// durable write for all); one result per batch, in order. A batch that fails alone (an
    /// unknown sensor, a refusal) does not stop the others; a storage error fails them all.
    fn apply_batches(
        &self,
        batches: &[Batch<'_>],
        now: i64,
    ) -> Result<Vec<Result<Applied, StoreError>>, StoreError> {
        Ok(batches.iter().map(|b| self.apply_batch(*b, now)).collect())
    }
    fn create_operator_token(
        &self,
        secret_sha256: [u8; 32],
        token: OperatorTokenRecord,
    ) -> Result<(), StoreError>;
    fn operator_token(
        &self,
        secret_sha256: [u8; 32],
    ) -> Result<Option<OperatorTokenRecord>, StoreError>;
    /// Revokes every certificate of operator `name` issued at or before `at` (Unix seconds).
    fn revoke_operator(&self, name: &str, at: i64) -> Result<(), StoreError>;
    /// (operator name, revoked at) of every operator revocation.
    fn operator_revocations(&self) -> Result<Vec<(String, i64)>, StoreError>;
    fn assets_of(&self, sensor_id: &str) -> Result<Vec<Asset>, StoreError>;
    fn connections_of(&self, sensor_id: &str) -> Result<Vec<Connection>, StoreError>;
    fn alerts(&self) -> Result<Vec<FleetAlert>, StoreError>;
    /// One alert by id (`<sensor id>/<alert id>`).
    fn alert(&self, id: &str) -> Result<Option<FleetAlert>, StoreError> {
        Ok(self.alerts()?.into_iter().find(|a| a.id == id))
    }
    /// Sets an alert's state, keeping `comment` (may be empty) in its history; `None` when the
    /// alert is unknown.
    fn set_alert_state(
        &self,
        id: &str,
        state: &str,
        by: &str,
        at: &str,
        comment: &str,
    ) -> Result<Option<FleetAlert>, StoreError>;
    /// Stores security advisory documents as imported (the file's bytes), by key
    /// (`advisory/<id>`, `kev`), replacing what a key held, in one durable write.
    fn put_advisory_documents(&self, documents: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Hands every stored advisory document to `f`, in key order (one at a time: the whole
    /// CISA feed is tens of megabytes).
    fn advisory_documents(&self, f: &mut DocumentVisitor<'_>) -> Result<(), StoreError>;
    /// Puts fleet asset ids into their sites' approved inventory (`Some`) or takes them out
    /// (`None`), in one durable write; returns how many changed (approving an approved id
    /// keeps its first approval).
    fn set_approved(
        &self,
        ids: &[String],
        approval: Option<&ApprovalRecord>,
    ) -> Result<u64, StoreError>;
    /// Every approved fleet asset id, in id order.
    fn approved(&self) -> Result<Vec<String>, StoreError>;
    /// Records the security score of `scope` (a site; "" for the fleet) on `date`
    /// (YYYY-MM-DD, UTC), replacing what that day held.
    fn record_score(&self, scope: &str, date: &str, score: u32) -> Result<(), StoreError>;
    /// The recorded scores of `scope`, oldest first: (date, score).
    fn scores(&self, scope: &str) -> Result<Vec<(String, u32)>, StoreError>;
    /// The forwarding rules this store queues changes by; `None`: it does not forward.
    fn forward_router(&self) -> Option<std::sync::Arc<crate::forward::Router>> {
        None
    }
    /// Queues `events` for `dest` whatever the rules say, durably (a test event).
    fn forward_enqueue(
        &self,
        _dest: &crate::forward::DestinationConfig,
        _events: &[Event],
        _now: i64,
    ) -> Result<(), StoreError> {
        Err(no_forwarding())
    }
    /// Up to `max` of the oldest events queued for `dest`, with their queue ids.
    fn forward_pending(&self, _dest: &str, _max: usize) -> Result<Vec<(u64, Event)>, StoreError> {
        Ok(Vec::new())
    }
    /// Records what became of the queued events `ids` of `dest`: delivered or dead (removed
    /// from the queue, durably) or failed (kept; the error counted).
    fn forward_done(&self, _dest: &str, _ids: &[u64], _done: &Done) -> Result<(), StoreError> {
        Err(no_forwarding())
    }
    /// Each destination's counters (queue depth, delivered, overflowed, dead, last error,
    /// oldest waiting event), by destination name: for `otwatch forwards` and metrics.
    fn forward_stats(&self) -> Result<Vec<(String, ForwardStats)>, StoreError> {
        Ok(Vec::new())
    }
    /// Removes, in one durable write, up to `max` forwarding queue entries and dead letters
    /// queued or refused before `cutoff` (Unix seconds), counting the queue entries as expired
    /// in their destination's counters; says what it removed and what is held after.
    fn forward_expire(
        &self,
        _cutoff: i64,
        _max: usize,
    ) -> Result<crate::forward::queue::Expired, StoreError> {
        Ok(Default::default())
    }
    /// Up to `max` of `dest`'s dead letters, oldest first.
    fn forward_dead_letters(
        &self,
        _dest: &str,
        _max: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(Vec::new())
    }
    /// Logs one run of a playbook (the `playbook_runs` log), replacing a record of the same
    /// run and attempt.
    fn record_playbook_run(&self, run: &RunRecord) -> Result<(), StoreError>;
    /// Logged runs, newest first (by start), at most `max`: of `playbook` (all when `None`),
    /// and of one run (its attempts) when `run_id` is given.
    fn playbook_runs(
        &self,
        playbook: Option<&str>,
        run_id: Option<&str>,
        max: usize,
    ) -> Result<Vec<RunRecord>, StoreError>;
    /// Adds `tags` to the sensor asset `key` (`<sensor>/<asset id>`) in one durable write;
    /// returns all its tags now, sorted.
    fn add_asset_tags(&self, key: &str, tags: &[String]) -> Result<Vec<String>, StoreError>;
    /// Every tagged sensor asset (`<sensor>/<asset id>`) with its tags, in key order.
    fn asset_tags(&self) -> Result<Vec<(String, Vec<String>)>, StoreError>;
    /// Whether this manager leads the work only one manager of a shared store may do:
    /// delivering the forwarding queues and running playbooks (two would send each event and
    /// run each action twice). Asked again every few seconds; a manager that stops leading
    /// stops that work. The embedded store has one manager, which always leads.
    fn try_lead(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Where each sensor's data stands in a store several managers share: one entry per
    /// sensor (its site, last applied sequence number, and the id of its last change, which
    /// grows with every batch or alert state a manager commits for it). `None`: this manager
    /// is the store's only writer (the embedded store), so its view never goes stale.
    fn sensor_changes(&self) -> Result<Option<Vec<SensorChange>>, StoreError> {
        Ok(None)
    }
    /// In a store several managers share, the id of the last change of what all sites share,
    /// by kind (`approvals`, `tags`): a manager reads [`FleetStore::approved`] or
    /// [`FleetStore::asset_tags`] again only when its id moved. `None`: this manager is the
    /// store's only writer.
    fn shared_changes(
        &self,
    ) -> Result<Option<std::collections::BTreeMap<String, i64>>, StoreError> {
        Ok(None)
    }
    /// Hands every record of `kind` to `f` with its age (Unix seconds; `None`: it has no time
    /// and is kept), in key order, for retention ([`crate::retention`]).
    fn survey(&self, kind: StoredKind, f: &mut SurveyVisitor<'_>) -> Result<(), StoreError>;
    /// Removes, in one durable write, the records of `kind` at `keys` (from
    /// [`FleetStore::survey`]) whose age is still below `cutoff`; adds them to the kind's removed
    /// total. Returns what it removed.
    fn remove_expired(
        &self,
        kind: StoredKind,
        keys: &[Vec<u8>],
        cutoff: i64,
    ) -> Result<Vec<Removed>, StoreError>;
    /// How many records of each kind retention removed, ever.
    fn removed_totals(&self) -> Result<Vec<(StoredKind, u64)>, StoreError>;
    /// The store's size on disk in bytes.
    fn size_on_disk(&self) -> Result<u64, StoreError>;
}

/// The embedded store of the state directory `dir`, for commands working on a stopped manager's
/// store; refused (as a store in use, so such commands go through the running manager) when the
/// manager keeps its store in PostgreSQL (`serve --store`).
pub fn open_local(dir: &crate::pki::DataDir) -> Result<SledStore, StoreError> {
    if let Ok(url) = std::fs::read_to_string(dir.store()) {
        return Err(StoreError::Open {
            path: url.trim().to_string(),
            msg: format!(
                "the manager of {} keeps its fleet store in PostgreSQL: start it (`otwatch-manager serve --store ...`) and this command goes through it",
                dir.0.display()
            ),
        });
    }
    SledStore::open(&dir.db())
}

fn no_forwarding() -> StoreError {
    StoreError::Sled("this store does not forward events".into())
}

/// Called with each record of a kind: (key, age in Unix seconds).
pub type SurveyVisitor<'a> = dyn FnMut(&[u8], Option<i64>) + 'a;

/// The key of a recorded score: the scope, a NUL (which no site name holds), the date, so one
/// scope's days are one key range in date order.
fn score_key(scope: &str, date: &str) -> Vec<u8> {
    format!("{scope}\0{date}").into_bytes()
}

/// Aborts a transaction (sled's, or the PostgreSQL store's) with a [`StoreError`].
pub type Abort = ConflictableTransactionError<StoreError>;

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn from_json<T: for<'a> Deserialize<'a>>(what: &str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|_| StoreError::Corrupt(what.to_string()))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

/// The key of a playbook run's record: the playbook, the run id, the attempt (big-endian), NUL
/// between, so one playbook's and one run's records are each one key range.
fn run_key(playbook: &str, run_id: &str, attempt: u32) -> Vec<u8> {
    let mut k = run_prefix(playbook, Some(run_id));
    k.extend_from_slice(&attempt.to_be_bytes());
    k
}

/// The key prefix of `playbook`'s runs (of one run, with `run_id`).
fn run_prefix(playbook: &str, run_id: Option<&str>) -> Vec<u8> {
    let mut k = format!("{playbook}\0").into_bytes();
    if let Some(r) = run_id {
        k.extend_from_slice(r.as_bytes());
        k.push(0);
    }
    k
}

/// Runs newest first (by start, then attempt), at most `max`.
fn newest_runs_first(runs: &mut Vec<RunRecord>, max: usize) {
    runs.sort_by(|a, b| {
        (b.started_at, b.attempt, &b.playbook, &b.run_id).cmp(&(
            a.started_at,
            a.attempt,
            &a.playbook,
            &a.run_id,
        ))
    });
    runs.truncate(max);
}

/// `held` with `tags` added: sorted, each once.
fn add_tags(held: &mut Vec<String>, tags: &[String]) {
    held.extend(tags.iter().cloned());
    held.sort();
    held.dedup();
}

fn data_key(sensor_id: &str, id: &str) -> Vec<u8> {
    format!("{sensor_id}/{id}").into_bytes()
}

mod aging;
mod apply;
mod ops;
mod pg_store;
mod pg_tls;
pub mod routing;
mod sled_store;
mod space;
mod tree;
pub use aging::{Removed, StoredKind};

pub use apply::{check_sequence, Applied, Batch, REOPENED_BY};
pub use pg_store::{PgStore, SensorChange};
pub use sled_store::SledStore;
pub use tree::Tree;

#[cfg(test)]
mod tests;
