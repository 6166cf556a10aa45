//! [`SledStore`]: the embedded [`FleetStore`] in one sled database.
//!
//! **A full disk.** sled stops writing for good after its first failed write (it keeps its
//! error until the database is opened again), and what it holds in memory may then include the
//! write that failed. So the store opens the database again at once, at its last durable
//! state, giving up the reserve file kept next to it ([`space::RESERVE_BYTES`]) for the room
//! that takes; then refuses every write with [`StoreError::DiskFull`] without trying while
//! serving reads; and once the file system has room again ([`space::MIN_FREE_BYTES`] and the
//! reserve) takes writes again. A store opened on a full disk gives up its reserve the same
//! way. What a sensor may be told it has applied ([`FleetStore::applied_seq`]) is only ever
//! what a flush made durable.
//!
//! **Another failed write.** A flush that fails for another reason (an I/O error) would leave
//! sled refusing every write until a restart, with the write in memory. The store opens the
//! database again at once, at its last durable state, and the batches of the group are refused:
//! their sensors send them again.

use super::aging::{self, Removed, StoredKind};
use super::space;
use super::{
    apply, from_json, json, ops, run_key, run_prefix, score_key, tx_err, Abort, Applied,
    ApprovalRecord, Batch, DocumentVisitor, Enrolled, FleetStore, Held, OperatorTokenRecord,
    Quotas, SensorRecord, StoreError, SurveyVisitor, TokenRecord,
};
use crate::forward::queue::{self as fwd, DeadLetter, Done, Queued};
use crate::forward::{Event, ForwardStats, Router};
use crate::playbook::run::RunRecord;
use otwatch_proto::v1::{Asset, Connection, FleetAlert};
use prost::Message;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The open database and its trees.
struct Db {
    db: sled::Db,
    tokens: sled::Tree,
    sensors: sled::Tree,
    assets: sled::Tree,
    conns: sled::Tree,
    alerts: sled::Tree,
    /// Operator name → Unix seconds of its revocation (JSON).
    operators: sled::Tree,
    /// SHA-256 of a bearer token's secret → [`OperatorTokenRecord`] (JSON).
    operator_tokens: sled::Tree,
    /// `advisory/<id>` or `kev` → the document's bytes as imported (CSAF, CVE JSON 5, KEV).
    advisories: sled::Tree,
    /// Fleet asset id → [`ApprovalRecord`] (JSON): the sites' approved inventories.
    approved: sled::Tree,
    /// [`score_key`] → the security score that day (JSON).
    scores: sled::Tree,
    /// The forwarding destinations' queues, counters and dead letters ([`crate::forward::queue`]).
    fwd_queue: sled::Tree,
    fwd_stats: sled::Tree,
    fwd_dead: sled::Tree,
    /// [`aging::stored_key`] → Unix seconds (big-endian i64) when the manager last stored the
    /// record.
    stored: sled::Tree,
    /// Retention's removed total per kind ([`StoredKind::as_str`] → big-endian i64).
    removed: sled::Tree,
    /// [`super::run_key`] → [`RunRecord`] (JSON): the playbooks' run log.
    runs: sled::Tree,
    /// Sensor asset (`<sensor>/<asset id>`) → its tags (JSON array, sorted).
    tags: sled::Tree,
}

impl Db {
    /// Opens (or creates) the database at `path`. The lock of a database closed a moment ago
    /// (a restart, a reopen) can outlive it briefly while sled's flusher stops, so a held lock
    /// is retried for up to 1 s before it counts as another manager's.
    fn open(path: &Path) -> Result<Db, StoreError> {
        let mut tries = 0;
        let mut cleaned = false;
        let db = loop {
            match sled::Config::new().path(path).open() {
                Ok(db) => break db,
                Err(e) if e.to_string().contains("could not acquire lock") && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                // sled holds the directory's lock by then: no other manager is writing there.
                Err(sled::Error::Corruption { .. })
                    if !cleaned && space::remove_partial_snapshots(path, "fleet store") =>
                {
                    cleaned = true;
                }
                Err(sled::Error::Io(e)) if space::is_full(&e) => return Err(StoreError::DiskFull),
                Err(e) => {
                    let mut msg = e.to_string();
                    if msg.contains("could not acquire lock") {
                        msg.push_str(" (is another otwatch-manager using this --state directory?)");
                    }
                    return Err(StoreError::Open {
                        path: path.display().to_string(),
                        msg,
                    });
                }
            }
        };
        Ok(Db {
            tokens: db.open_tree("tokens")?,
            sensors: db.open_tree("sensors")?,
            assets: db.open_tree("assets")?,
            conns: db.open_tree("connections")?,
            alerts: db.open_tree("alerts")?,
            operators: db.open_tree("operator_revocations")?,
            operator_tokens: db.open_tree("operator_tokens")?,
            advisories: db.open_tree("advisories")?,
            approved: db.open_tree("approved_assets")?,
            scores: db.open_tree("risk_scores")?,
            fwd_queue: db.open_tree("forward_queue")?,
            fwd_stats: db.open_tree("forward_stats")?,
            fwd_dead: db.open_tree("forward_dead")?,
            stored: db.open_tree("stored_at")?,
            removed: db.open_tree("retention_removed")?,
            runs: db.open_tree("playbook_runs")?,
            tags: db.open_tree("asset_tags")?,
            db,
        })
    }
}

impl Db {
    /// The tree holding records of `kind`.
    fn tree_of(&self, kind: StoredKind) -> &sled::Tree {
        match kind {
            StoredKind::Alerts | StoredKind::ResolvedAlerts => &self.alerts,
            StoredKind::Assets => &self.assets,
            StoredKind::Connections => &self.conns,
            StoredKind::RiskHistory => &self.scores,
            StoredKind::PlaybookRuns => &self.runs,
        }
    }
}

/// The sled implementation.
pub struct SledStore {
    path: PathBuf,
    /// `None` only between giving up a database and opening it again.
    db: RwLock<Option<Arc<Db>>>,
    /// A write failed for lack of space: writes are refused until there is room again.
    full: AtomicBool,
    /// A flush failed for another reason (an I/O error): the database is opened again at its
    /// last durable state before the next write.
    failed: AtomicBool,
    /// Tests: the next flush fails as an I/O error would.
    #[cfg(test)]
    fail_flush: AtomicBool,
    /// Per sensor, the last sequence number applied as of the last flush.
    durable: RwLock<HashMap<String, u64>>,
    /// Flushes to disk so far.
    flushes: AtomicU64,
    quotas: Quotas,
    /// The forwarding rules changes are queued by.
    router: Arc<Router>,
}

fn poisoned() -> StoreError {
    StoreError::poisoned("store's")
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store at `path` (a directory). On a full disk it gives up its
    /// reserve to open, then serves reads and refuses writes until space is freed.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let (db, full) = match Db::open(path) {
            // Nearly full: taking writes would soon fail; wait for room like after a failure.
            Ok(db) => (db, space::available(path) < space::MIN_FREE_BYTES),
            Err(StoreError::DiskFull) if space::reserve(path).release() => (Db::open(path)?, true),
            Err(StoreError::DiskFull) => {
                return Err(StoreError::Open {
                    path: path.display().to_string(),
                    msg: "the disk is full; free space on it and start the manager again".into(),
                })
            }
            Err(e) => return Err(e),
        };
        let store = SledStore {
            path: path.to_path_buf(),
            db: RwLock::new(None),
            full: AtomicBool::new(full),
            failed: AtomicBool::new(false),
            #[cfg(test)]
            fail_flush: AtomicBool::new(false),
            durable: RwLock::default(),
            flushes: AtomicU64::new(0),
            quotas: Quotas::default(),
            router: Arc::default(),
        };
        store.install(db)?;
        if full {
            tracing::warn!(path = %path.display(), "the disk holding the fleet store is full: the manager serves reads and accepts data again when space is freed");
        } else {
            space::reserve(path).keep();
            store.count_held()?;
        }
        Ok(store)
    }

    /// Makes `db` the open database; what it holds is durable.
    fn install(&self, db: Db) -> Result<(), StoreError> {
        let mut durable = HashMap::new();
        for kv in db.sensors.iter() {
            let (k, v) = kv?;
            let rec: SensorRecord = from_json(&String::from_utf8_lossy(&k), &v)?;
            durable.insert(rec.id, rec.applied_seq);
        }
        *self.durable.write().map_err(|_| poisoned())? = durable;
        *self.db.write().map_err(|_| poisoned())? = Some(Arc::new(db));
        Ok(())
    }

    /// The store with these per-sensor quotas (default [`Quotas::default`]).
    pub fn with_quotas(self, quotas: Quotas) -> SledStore {
        SledStore { quotas, ..self }
    }

    /// The store queueing events for forwarding by `router`'s rules (default: none).
    pub fn with_forwarding(self, router: Arc<Router>) -> SledStore {
        SledStore { router, ..self }
    }

    /// How often the store waited for the disk (each durable write; a group commit is one).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    fn db(&self) -> Result<Arc<Db>, StoreError> {
        self.db
            .read()
            .map_err(|_| poisoned())?
            .clone()
            .ok_or_else(|| {
                if self.failed.load(Ordering::Acquire) {
                    StoreError::Sled("the fleet store could not be opened again after a failed write; check the disk and the system log".into())
                } else {
                    StoreError::DiskFull
                }
            })
    }

    /// Runs a write: refused at once while the disk is full; a failure for lack of space puts
    /// the store in that state.
    fn write<T>(&self, f: impl FnOnce(&Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.full.load(Ordering::Acquire) {
            self.recover()?;
        }
        if self.failed.load(Ordering::Acquire) {
            self.reopen()?;
        }
        let r = f(&*self.db()?);
        if matches!(r, Err(StoreError::DiskFull)) && !self.full.swap(true, Ordering::AcqRel) {
            tracing::error!(path = %self.path.display(), "the disk holding the fleet store is full: sensors' data is refused (they keep it and send it again), reads go on; free space and the manager takes data again by itself");
            self.fall_back();
        } else if self.failed.load(Ordering::Acquire) {
            // Our handle on the database is gone: it can be opened again at once.
            let _ = self.reopen();
        }
        r
    }

    /// After a flush failed (not for space): sled keeps its error and may hold in memory what
    /// it could not write, which a resend would then be skipped as already applied. So the
    /// database is opened again at its last durable state; until that works, writes are
    /// refused with why.
    fn reopen(&self) -> Result<(), StoreError> {
        let slot = self.db.write().map_err(|_| poisoned())?;
        if !self.failed.load(Ordering::Acquire) {
            return Ok(()); // another writer reopened it meanwhile
        }
        match self.open_again(slot) {
            Ok(()) => {
                self.failed.store(false, Ordering::Release);
                tracing::warn!(path = %self.path.display(), "the fleet store was opened again at its last durable state after a failed write; sensors send what was lost again");
                self.count_held()
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot open the fleet store again after a failed write; writes are refused until it opens (check the disk and the system log)");
                Err(e)
            }
        }
    }

    /// Gives up the open database (`slot`, held for writing) and opens it again at its last
    /// durable state. Ours must go before sled lets the directory be opened again.
    fn open_again(
        &self,
        mut slot: std::sync::RwLockWriteGuard<'_, Option<Arc<Db>>>,
    ) -> Result<(), StoreError> {
        slot.take();
        drop(slot);
        Db::open(&self.path).and_then(|db| self.install(db))
    }

    /// After a write failed for lack of space: opens the database again at its last durable
    /// state (sled keeps the error, and may hold in memory what it could not write), with the
    /// room the reserve gives.
    fn fall_back(&self) {
        let Ok(slot) = self.db.write() else {
            return;
        };
        space::reserve(&self.path).release();
        if let Err(e) = self.open_again(slot) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot open the fleet store again on the full disk; reads wait for free space too");
        }
    }

    /// After a full disk: once there is room, takes writes again (opening the database if it
    /// could not be opened on the full disk); else [`StoreError::DiskFull`].
    fn recover(&self) -> Result<(), StoreError> {
        if !space::reserve(&self.path).has_room(&self.path) {
            return Err(StoreError::DiskFull);
        }
        let slot = self.db.write().map_err(|_| poisoned())?;
        if !self.full.load(Ordering::Acquire) {
            return Ok(()); // another writer recovered meanwhile
        }
        let closed = slot.is_none();
        drop(slot);
        space::reserve(&self.path).keep();
        if closed {
            self.install(Db::open(&self.path)?)?;
        }
        self.full.store(false, Ordering::Release);
        tracing::info!(path = %self.path.display(), "the fleet store has disk space again and takes data");
        self.count_held()
    }

    /// Counts what each sensor holds, for records written before the counts were kept.
    fn count_held(&self) -> Result<(), StoreError> {
        let db = self.db()?;
        for rec in self.sensors()?.into_iter().filter(|r| !r.held.counted) {
            let prefix = format!("{}/", rec.id);
            let count = |t: &sled::Tree| t.scan_prefix(prefix.as_bytes()).count() as u64;
            let held = Held {
                counted: true,
                assets: count(&db.assets),
                connections: count(&db.conns),
                alerts: count(&db.alerts),
            };
            self.update_sensor(&rec.id, &move |r| r.held = held.clone())?;
        }
        Ok(())
    }

    /// Makes the last write durable.
    fn written(&self, db: &Db) -> Result<(), StoreError> {
        #[cfg(test)]
        let r = if self.fail_flush.swap(false, Ordering::AcqRel) {
            Err(sled::Error::Io(std::io::Error::other("injected I/O error")))
        } else {
            db.db.flush()
        };
        #[cfg(not(test))]
        let r = db.db.flush();
        match r.map_err(StoreError::from) {
            Ok(_) => {
                self.flushes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(StoreError::DiskFull) => Err(StoreError::DiskFull),
            Err(e) => {
                self.failed.store(true, Ordering::Release);
                tracing::error!(path = %self.path.display(), error = %e, "writing the fleet store to disk failed");
                Err(StoreError::Sled(format!("{e}; the store is opened again at its last durable state and the sensor sends the batch again (check the disk and the system log)")))
            }
        }
    }

    /// Tests: makes the next flush fail as an I/O error would.
    #[cfg(test)]
    pub(super) fn fail_next_flush(&self) {
        self.fail_flush.store(true, Ordering::Release);
    }

    /// Tests: an identity of the open database (changes when it is opened again).
    #[cfg(test)]
    pub(super) fn opened(&self) -> usize {
        self.db().map_or(0, |db| Arc::as_ptr(&db) as usize)
    }

    /// Read-modify-write of one sensor record, not yet flushed.
    fn modify_sensor(
        db: &Db,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        db.sensors
            .transaction(|t| ops::modify_sensor(t, id, f))
            .map_err(tx_err)
    }

    fn decode_all<T: Message + Default>(
        tree: &sled::Tree,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for kv in tree.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            out.push(
                T::decode(v.as_ref())
                    .map_err(|_| StoreError::Corrupt(String::from_utf8_lossy(&k).into_owned()))?,
            );
        }
        Ok(out)
    }
}

impl FleetStore for SledStore {
    fn create_token(&self, secret_sha256: [u8; 32], token: TokenRecord) -> Result<(), StoreError> {
        self.write(|db| {
            db.tokens.insert(secret_sha256, json(&token))?;
            self.written(db)
        })
    }

    fn token_site(&self, secret_sha256: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        match self.db()?.tokens.get(secret_sha256)? {
            Some(v) => Ok(Some(from_json("token", &v)?)),
            None => Ok(None),
        }
    }

    fn enroll(
        &self,
        secret_sha256: [u8; 32],
        now: i64,
        sensor: SensorRecord,
    ) -> Result<Enrolled, StoreError> {
        self.write(|db| {
            let r = (&db.tokens, &db.sensors).transaction(|(tokens, sensors)| {
                ops::enroll(tokens, sensors, &secret_sha256, now, &sensor)
            });
            let r = r.map_err(tx_err)?;
            self.written(db)?;
            if let (Enrolled::Ok(rec), Ok(mut durable)) = (&r, self.durable.write()) {
                durable.insert(rec.id.clone(), rec.applied_seq);
            }
            Ok(r)
        })
    }

    fn sensor(&self, id: &str) -> Result<Option<SensorRecord>, StoreError> {
        match self.db()?.sensors.get(id)? {
            Some(v) => Ok(Some(from_json(id, &v)?)),
            None => Ok(None),
        }
    }

    fn sensors(&self) -> Result<Vec<SensorRecord>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db()?.sensors.iter() {
            let (k, v) = kv?;
            out.push(from_json(&String::from_utf8_lossy(&k), &v)?);
        }
        Ok(out)
    }

    fn update_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.write(|db| {
            let r = Self::modify_sensor(db, id, f)?;
            self.written(db)?;
            Ok(r)
        })
    }

    fn note_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.write(|db| Self::modify_sensor(db, id, f))
    }

    fn apply_batch(&self, batch: Batch<'_>, now: i64) -> Result<Applied, StoreError> {
        self.apply_batches(&[batch], now)?
            .pop()
            .unwrap_or_else(|| Err(StoreError::UnknownSensor(batch.sensor.to_string())))
    }

    fn apply_batches(
        &self,
        batches: &[Batch<'_>],
        now: i64,
    ) -> Result<Vec<Result<Applied, StoreError>>, StoreError> {
        let cfg = self.router.routes();
        let forwarding = cfg.any();
        self.write(|db| {
            let out = if forwarding {
                fwd::out_snapshot(&db.fwd_stats)?
            } else {
                HashMap::new()
            };
            let apply = |sensors: &TransactionalTree,
                         data: &apply::Trees<'_, TransactionalTree>|
             -> Result<Vec<Result<Applied, StoreError>>, Abort> {
                let mut out = Vec::with_capacity(batches.len());
                for b in batches {
                    out.push(apply::batch(sensors, data, b, now, &self.quotas)?);
                }
                Ok(out)
            };
            // Without rules the queue trees stay out of the transaction (and its conflicts).
            let r = if forwarding {
                let trees = (
                    &db.sensors,
                    &db.assets,
                    &db.conns,
                    &db.alerts,
                    &db.stored,
                    &db.fwd_queue,
                    &db.fwd_stats,
                );
                trees.transaction(|(sensors, assets, conns, alerts, stored, queue, stats)| {
                    let mut data = apply::trees(assets, conns, alerts, stored);
                    data.forward = Some(super::routing::Ctx {
                        queue,
                        stats,
                        cfg: &cfg,
                        out: &out,
                    });
                    apply(sensors, &data)
                })
            } else {
                (&db.sensors, &db.assets, &db.conns, &db.alerts, &db.stored).transaction(
                    |(sensors, assets, conns, alerts, stored)| {
                        apply(sensors, &apply::trees(assets, conns, alerts, stored))
                    },
                )
            };
            let r = r.map_err(tx_err)?;
            self.written(db)?;
            if let Ok(mut durable) = self.durable.write() {
                for (b, applied) in batches.iter().zip(&r) {
                    if let Ok(a) = applied {
                        durable.insert(b.sensor.to_string(), a.applied_seq);
                    }
                }
            }
            Ok(r)
        })
    }

    fn applied_seq(&self, sensor_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .durable
            .read()
            .map_err(|_| poisoned())?
            .get(sensor_id)
            .copied())
    }

    fn create_operator_token(
        &self,
        secret_sha256: [u8; 32],
        token: OperatorTokenRecord,
    ) -> Result<(), StoreError> {
        self.write(|db| {
            db.operator_tokens.insert(secret_sha256, json(&token))?;
            self.written(db)
        })
    }

    fn operator_token(
        &self,
        secret_sha256: [u8; 32],
    ) -> Result<Option<OperatorTokenRecord>, StoreError> {
        match self.db()?.operator_tokens.get(secret_sha256)? {
            Some(v) => Ok(Some(from_json("operator token", &v)?)),
            None => Ok(None),
        }
    }

    fn revoke_operator(&self, name: &str, at: i64) -> Result<(), StoreError> {
        self.write(|db| {
            db.operators.insert(name.as_bytes(), json(&at))?;
            self.written(db)
        })
    }

    fn operator_revocations(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db()?.operators.iter() {
            let (k, v) = kv?;
            let name = String::from_utf8_lossy(&k).into_owned();
            let at: i64 = from_json(&name, &v)?;
            out.push((name, at));
        }
        Ok(out)
    }

    fn put_advisory_documents(&self, documents: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if documents.is_empty() {
            return Ok(());
        }
        self.write(|db| {
            let mut batch = sled::Batch::default();
            for (key, bytes) in documents {
                batch.insert(key.as_bytes(), bytes.as_slice());
            }
            db.advisories.apply_batch(batch)?;
            self.written(db)
        })
    }

    fn advisory_documents(&self, f: &mut DocumentVisitor<'_>) -> Result<(), StoreError> {
        for kv in self.db()?.advisories.iter() {
            let (k, v) = kv?;
            f(&String::from_utf8_lossy(&k), &v)?;
        }
        Ok(())
    }

    fn set_approved(
        &self,
        ids: &[String],
        approval: Option<&ApprovalRecord>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.write(|db| {
            let mut batch = sled::Batch::default();
            let mut changed = 0;
            for id in ids {
                let held = db.approved.contains_key(id.as_bytes())?;
                match approval {
                    Some(a) if !held => batch.insert(id.as_bytes(), json(a)),
                    None if held => batch.remove(id.as_bytes()),
                    _ => continue,
                }
                changed += 1;
            }
            db.approved.apply_batch(batch)?;
            self.written(db)?;
            Ok(changed)
        })
    }

    fn approved(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for k in self.db()?.approved.iter().keys() {
            out.push(String::from_utf8_lossy(&k?).into_owned());
        }
        Ok(out)
    }

    fn record_score(&self, scope: &str, date: &str, score: u32) -> Result<(), StoreError> {
        self.write(|db| {
            db.scores.insert(score_key(scope, date), json(&score))?;
            self.written(db)
        })
    }

    fn scores(&self, scope: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let prefix = score_key(scope, "");
        let mut out = Vec::new();
        for kv in self.db()?.scores.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let date = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let score: u32 = from_json(&date, &v)?;
            out.push((date, score));
        }
        Ok(out)
    }

    fn assets_of(&self, sensor_id: &str) -> Result<Vec<Asset>, StoreError> {
        Self::decode_all(&self.db()?.assets, &format!("{sensor_id}/"))
    }

    fn connections_of(&self, sensor_id: &str) -> Result<Vec<Connection>, StoreError> {
        Self::decode_all(&self.db()?.conns, &format!("{sensor_id}/"))
    }

    fn alerts(&self) -> Result<Vec<FleetAlert>, StoreError> {
        Self::decode_all(&self.db()?.alerts, "")
    }

    fn alert(&self, id: &str) -> Result<Option<FleetAlert>, StoreError> {
        match self.db()?.alerts.get(id)? {
            Some(v) => Ok(Some(
                FleetAlert::decode(v.as_ref()).map_err(|_| StoreError::Corrupt(id.into()))?,
            )),
            None => Ok(None),
        }
    }

    fn set_alert_state(
        &self,
        id: &str,
        state: &str,
        by: &str,
        at: &str,
        comment: &str,
    ) -> Result<Option<FleetAlert>, StoreError> {
        let cfg = self.router.routes();
        self.write(|db| {
            let out = fwd::out_snapshot(&db.fwd_stats)?;
            let trees = (&db.alerts, &db.fwd_queue, &db.fwd_stats);
            let r = trees.transaction(|(t, queue, stats)| {
                let ctx = super::routing::Ctx {
                    queue,
                    stats,
                    cfg: &cfg,
                    out: &out,
                };
                let now = crate::pki::now_secs();
                ops::set_alert_state(t, Some(&ctx), id, (state, by, at, comment), now)
            });
            let r = r.map_err(tx_err)?;
            self.written(db)?;
            Ok(r)
        })
    }

    fn forward_router(&self) -> Option<Arc<Router>> {
        Some(self.router.clone())
    }

    fn forward_enqueue(
        &self,
        dest: &crate::forward::DestinationConfig,
        events: &[Event],
        now: i64,
    ) -> Result<(), StoreError> {
        let cfg = crate::forward::Routes::default();
        self.write(|db| {
            let out = fwd::out_snapshot(&db.fwd_stats)?;
            let events: Vec<&Event> = events.iter().collect();
            (&db.fwd_queue, &db.fwd_stats)
                .transaction(|(queue, stats)| {
                    let ctx = super::routing::Ctx {
                        queue,
                        stats,
                        cfg: &cfg,
                        out: &out,
                    };
                    super::routing::enqueue(&ctx, (&dest.name, &dest.queue), &events, now)
                })
                .map_err(tx_err)?;
            self.written(db)
        })
    }

    fn forward_pending(&self, dest: &str, max: usize) -> Result<Vec<(u64, Event)>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db()?
            .fwd_queue
            .scan_prefix(fwd::prefix(dest))
            .take(max)
        {
            let (k, v) = kv?;
            let q: Queued = from_json("forwarding queue entry", &v)?;
            out.push((fwd::id_of(&k), q.event));
        }
        Ok(out)
    }

    fn forward_done(&self, dest: &str, ids: &[u64], done: &Done) -> Result<(), StoreError> {
        let now = crate::pki::now_secs();
        self.write(|db| {
            let trees = (&db.fwd_queue, &db.fwd_stats, &db.fwd_dead);
            trees
                .transaction(|(queue, stats, dead)| {
                    ops::forward_done((queue, stats, dead), dest, ids, done, now)
                })
                .map_err(tx_err)?;
            // A failure is bookkeeping; a removal must be durable, or a restart resends more.
            if !matches!(done, Done::Failed(_)) {
                self.written(db)?;
            }
            Ok(())
        })
    }

    fn forward_stats(&self) -> Result<Vec<(String, ForwardStats)>, StoreError> {
        let db = self.db()?;
        let out = fwd::out_snapshot(&db.fwd_stats)?;
        let mut names: Vec<String> = out.keys().cloned().collect();
        let mut ins = HashMap::new();
        for kv in db.fwd_stats.iter() {
            let (k, v) = kv?;
            if let Some(dest) = k.strip_suffix(b"\0in") {
                let name = String::from_utf8_lossy(dest).into_owned();
                if !out.contains_key(&name) {
                    names.push(name.clone());
                }
                ins.insert(name, fwd::decode::<fwd::InStats>(Some(&v)));
            }
        }
        names.sort();
        let mut all = Vec::new();
        for name in names {
            let i = ins.get(&name).cloned().unwrap_or_default();
            let o = out.get(&name).cloned().unwrap_or_default();
            let mut s = fwd::combine(&i, &o);
            if let Some(kv) = db.fwd_queue.scan_prefix(fwd::prefix(&name)).next() {
                let (_, v) = kv?;
                s.oldest_at = from_json::<Queued>("forwarding queue entry", &v)?.at;
            }
            all.push((name, s));
        }
        Ok(all)
    }

    fn forward_expire(&self, cutoff: i64, max: usize) -> Result<fwd::Expired, StoreError> {
        let db = self.db()?;
        let mut gone = fwd::Expired::default();
        let (mut old_queued, mut old_dead) = (Vec::new(), Vec::new());
        let hold = |at: i64, gone: &mut fwd::Expired| {
            gone.held += 1;
            gone.oldest = Some(gone.oldest.map_or(at, |o: i64| o.min(at)));
        };
        for kv in db.fwd_queue.iter() {
            let (k, v) = kv?;
            let at = from_json::<Queued>("forwarding queue entry", &v)?.at;
            if at < cutoff && old_queued.len() + old_dead.len() < max {
                old_queued.push(k);
            } else {
                hold(at, &mut gone);
            }
        }
        for kv in db.fwd_dead.iter() {
            let (k, v) = kv?;
            let at = from_json::<DeadLetter>("dead letter", &v)?.at;
            if at < cutoff && old_queued.len() + old_dead.len() < max {
                old_dead.push(k);
            } else {
                hold(at, &mut gone);
            }
        }
        if old_queued.is_empty() && old_dead.is_empty() {
            return Ok(gone);
        }
        gone.removed = self.write(|db| {
            let trees = (&db.fwd_queue, &db.fwd_stats, &db.fwd_dead);
            let removed = trees
                .transaction(|(queue, stats, dead)| {
                    ops::forward_expire((queue, stats, dead), &old_queued, &old_dead)
                })
                .map_err(tx_err)?;
            self.written(db)?;
            Ok(removed)
        })?;
        Ok(gone)
    }

    fn forward_dead_letters(&self, dest: &str, max: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db()?.fwd_dead.scan_prefix(fwd::prefix(dest)).take(max) {
            let (_, v) = kv?;
            out.push(from_json("dead letter", &v)?);
        }
        Ok(out)
    }
    fn record_playbook_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.write(|db| {
            db.runs
                .insert(run_key(&run.playbook, &run.run_id, run.attempt), json(run))?;
            self.written(db)
        })
    }

    fn playbook_runs(
        &self,
        playbook: Option<&str>,
        run_id: Option<&str>,
        max: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let db = self.db()?;
        let prefix = playbook.map_or_else(Vec::new, |p| run_prefix(p, run_id));
        let mut out = Vec::new();
        for kv in db.runs.scan_prefix(prefix) {
            let (_, v) = kv?;
            let r: RunRecord = from_json("playbook run", &v)?;
            if run_id.is_none_or(|id| r.run_id == id) {
                out.push(r);
            }
        }
        super::newest_runs_first(&mut out, max);
        Ok(out)
    }

    fn add_asset_tags(&self, key: &str, tags: &[String]) -> Result<Vec<String>, StoreError> {
        self.write(|db| {
            let r = db.tags.transaction(|t| {
                let mut held: Vec<String> = match t.get(key)? {
                    Some(v) => from_json(key, &v).map_err(ConflictableTransactionError::Abort)?,
                    None => Vec::new(),
                };
                super::add_tags(&mut held, tags);
                t.insert(key.as_bytes(), json(&held))?;
                Ok(held)
            });
            let r = r.map_err(tx_err)?;
            self.written(db)?;
            Ok(r)
        })
    }

    fn asset_tags(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db()?.tags.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let tags = from_json(&key, &v)?;
            out.push((key, tags));
        }
        Ok(out)
    }

    fn survey(&self, kind: StoredKind, f: &mut SurveyVisitor<'_>) -> Result<(), StoreError> {
        let db = self.db()?;
        for kv in db.tree_of(kind).iter() {
            let (k, v) = kv?;
            let stored = aging::read_stored(db.stored.get(aging::stored_key(kind, &k))?);
            match kind {
                // Both alert kinds share a tree: an alert of the other state is not handed on.
                StoredKind::Alerts | StoredKind::ResolvedAlerts if !aging::is_of(kind, &v) => {}
                _ => f(&k, aging::age(kind, &k, &v, stored)),
            }
        }
        Ok(())
    }

    fn remove_expired(
        &self,
        kind: StoredKind,
        keys: &[Vec<u8>],
        cutoff: i64,
    ) -> Result<Vec<Removed>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|db| {
            let trees = (&db.sensors, db.tree_of(kind), &db.stored, &db.removed);
            let r = trees.transaction(|(sensors, data, stored, totals)| {
                let t = aging::RemoveIn {
                    sensors,
                    data,
                    stored,
                    totals,
                };
                aging::remove(&t, kind, keys, cutoff)
            });
            let r = r.map_err(tx_err)?;
            self.written(db)?;
            Ok(r)
        })
    }

    fn removed_totals(&self) -> Result<Vec<(StoredKind, u64)>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        for kind in StoredKind::ALL {
            let n = aging::read_stored(db.removed.get(kind.as_str())?).unwrap_or(0);
            out.push((kind, n.max(0) as u64));
        }
        Ok(out)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db()?.db.size_on_disk()?)
    }
}
