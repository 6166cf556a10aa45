//! The fleet store: enrolment tokens, sensors, and what each sensor reported (assets,
//! connections, alerts), kept per sensor exactly as received. The fleet view (merged per site) is
//! computed from it by [`crate::fleet`] and kept up to date by [`crate::view`].
//!
//! [`FleetStore`] is the seam (a PostgreSQL implementation for several replicas can come later);
//! [`SledStore`] is the embedded default. Applying a sensor's batch is ONE sled transaction over
//! the data trees and the sensor record (which holds the last applied sequence number), flushed
//! to disk before the batch is acknowledged, so a SIGKILL never loses or doubles a delta.

use otwatch_proto::v1::{Asset, Connection, FleetAlert};
use prost::Message;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("fleet store {path}: {msg} (is another otwatch-manager using this --data directory?)")]
    Open { path: String, msg: String },
    #[error("fleet store: {0}")]
    Sled(String),
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
        StoreError::Sled(e.to_string())
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
    /// Sets an alert's state; `None` when the alert is unknown.
    fn set_alert_state(
        &self,
        id: &str,
        state: &str,
        by: &str,
        at: &str,
    ) -> Result<Option<FleetAlert>, StoreError>;
}

/// The sled implementation.
pub struct SledStore {
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
    /// Flushes to disk so far.
    flushes: AtomicU64,
    quotas: Quotas,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

type Abort = ConflictableTransactionError<StoreError>;

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

/// Store key of a connection on one sensor, as the sensor keys it.
pub fn connection_key(c: &Connection) -> String {
    format!("{}|{}|{}|{}", c.client, c.server, c.transport, c.port)
}

fn data_key(sensor_id: &str, id: &str) -> Vec<u8> {
    format!("{sensor_id}/{id}").into_bytes()
}

impl SledStore {
    /// Opens (or creates) the store. The lock of a store closed a moment ago (a restart) can
    /// outlive it briefly while sled's flusher stops, so a held lock is retried for up to 1 s
    /// before it counts as another manager's.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let mut tries = 0;
        let db = loop {
            match sled::Config::new().path(path).open() {
                Ok(db) => break db,
                Err(e) if e.to_string().contains("could not acquire lock") && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StoreError::Open {
                        path: path.display().to_string(),
                        msg: e.to_string(),
                    })
                }
            }
        };
        let store = SledStore {
            tokens: db.open_tree("tokens")?,
            sensors: db.open_tree("sensors")?,
            assets: db.open_tree("assets")?,
            conns: db.open_tree("connections")?,
            alerts: db.open_tree("alerts")?,
            operators: db.open_tree("operator_revocations")?,
            operator_tokens: db.open_tree("operator_tokens")?,
            db,
            flushes: AtomicU64::new(0),
            quotas: Quotas::default(),
        };
        store.count_held()?;
        Ok(store)
    }

    /// The store with these per-sensor quotas (default [`Quotas::default`]).
    pub fn with_quotas(self, quotas: Quotas) -> SledStore {
        SledStore { quotas, ..self }
    }

    /// Counts what each sensor holds, for records written before the counts were kept.
    fn count_held(&self) -> Result<(), StoreError> {
        for rec in self.sensors()?.into_iter().filter(|r| !r.held.counted) {
            let prefix = format!("{}/", rec.id);
            let count = |t: &sled::Tree| t.scan_prefix(prefix.as_bytes()).count() as u64;
            let held = Held {
                counted: true,
                assets: count(&self.assets),
                connections: count(&self.conns),
                alerts: count(&self.alerts),
            };
            self.update_sensor(&rec.id, &move |r| r.held = held.clone())?;
        }
        Ok(())
    }

    /// Makes the last write durable.
    fn written(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How often the store waited for the disk (each durable write; a group commit is one).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Read-modify-write of one sensor record, not yet flushed.
    fn modify_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.sensors
            .transaction(|t| {
                let Some(v) = t.get(id)? else {
                    return Ok(None);
                };
                let mut rec: SensorRecord =
                    from_json(id, &v).map_err(ConflictableTransactionError::Abort)?;
                f(&mut rec);
                t.insert(id.as_bytes(), json(&rec))?;
                Ok(Some(rec))
            })
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
        self.tokens.insert(secret_sha256, json(&token))?;
        self.written()
    }

    fn token_site(&self, secret_sha256: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        match self.tokens.get(secret_sha256)? {
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
        let r = (&self.tokens, &self.sensors).transaction(|(tokens, sensors)| {
            let Some(v) = tokens.get(secret_sha256)? else {
                return Ok(Enrolled::Refused(TokenError::Unknown));
            };
            let mut t: TokenRecord =
                from_json("token", &v).map_err(ConflictableTransactionError::Abort)?;
            if let Some(by) = &t.used_by {
                return Ok(Enrolled::Refused(TokenError::Used(by.clone(), t.site)));
            }
            if now >= t.expires_at {
                return Ok(Enrolled::Refused(TokenError::Expired(
                    crate::pki::rfc3339(t.expires_at),
                    t.site,
                )));
            }
            t.used_by = Some(sensor.id.clone());
            let rec = SensorRecord {
                site: t.site.clone(),
                enrolled_at: now,
                last_seen: now,
                held: Held {
                    counted: true,
                    ..Held::default()
                },
                ..sensor.clone()
            };
            tokens.insert(&secret_sha256, json(&t))?;
            sensors.insert(rec.id.as_bytes(), json(&rec))?;
            Ok(Enrolled::Ok(rec))
        });
        let r = r.map_err(tx_err)?;
        self.written()?;
        Ok(r)
    }

    fn sensor(&self, id: &str) -> Result<Option<SensorRecord>, StoreError> {
        match self.sensors.get(id)? {
            Some(v) => Ok(Some(from_json(id, &v)?)),
            None => Ok(None),
        }
    }

    fn sensors(&self) -> Result<Vec<SensorRecord>, StoreError> {
        let mut out = Vec::new();
        for kv in self.sensors.iter() {
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
        let r = self.modify_sensor(id, f)?;
        self.written()?;
        Ok(r)
    }

    fn note_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.modify_sensor(id, f)
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
        let r = (&self.sensors, &self.assets, &self.conns, &self.alerts).transaction(
            |(sensors, assets, conns, alerts)| {
                let data = apply::trees(assets, conns, alerts);
                let mut out = Vec::with_capacity(batches.len());
                for b in batches {
                    out.push(apply::batch(sensors, &data, b, now, &self.quotas)?);
                }
                Ok(out)
            },
        );
        let r = r.map_err(tx_err)?;
        self.written()?;
        Ok(r)
    }

    fn create_operator_token(
        &self,
        secret_sha256: [u8; 32],
        token: OperatorTokenRecord,
    ) -> Result<(), StoreError> {
        self.operator_tokens.insert(secret_sha256, json(&token))?;
        self.written()
    }

    fn operator_token(
        &self,
        secret_sha256: [u8; 32],
    ) -> Result<Option<OperatorTokenRecord>, StoreError> {
        match self.operator_tokens.get(secret_sha256)? {
            Some(v) => Ok(Some(from_json("operator token", &v)?)),
            None => Ok(None),
        }
    }

    fn revoke_operator(&self, name: &str, at: i64) -> Result<(), StoreError> {
        self.operators.insert(name.as_bytes(), json(&at))?;
        self.written()
    }

    fn operator_revocations(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.operators.iter() {
            let (k, v) = kv?;
            let name = String::from_utf8_lossy(&k).into_owned();
            let at: i64 = from_json(&name, &v)?;
            out.push((name, at));
        }
        Ok(out)
    }

    fn assets_of(&self, sensor_id: &str) -> Result<Vec<Asset>, StoreError> {
        Self::decode_all(&self.assets, &format!("{sensor_id}/"))
    }

    fn connections_of(&self, sensor_id: &str) -> Result<Vec<Connection>, StoreError> {
        Self::decode_all(&self.conns, &format!("{sensor_id}/"))
    }

    fn alerts(&self) -> Result<Vec<FleetAlert>, StoreError> {
        Self::decode_all(&self.alerts, "")
    }

    fn set_alert_state(
        &self,
        id: &str,
        state: &str,
        by: &str,
        at: &str,
    ) -> Result<Option<FleetAlert>, StoreError> {
        let r = self.alerts.transaction(|t| {
            let Some(v) = t.get(id)? else {
                return Ok(None);
            };
            let mut fa = FleetAlert::decode(v.as_ref())
                .map_err(|_| ConflictableTransactionError::Abort(StoreError::Corrupt(id.into())))?;
            fa.state = state.to_string();
            fa.updated_by = by.to_string();
            fa.updated_at = at.to_string();
            t.insert(id.as_bytes(), fa.encode_to_vec())?;
            Ok(Some(fa))
        });
        let r = r.map_err(tx_err)?;
        self.written()?;
        Ok(r)
    }
}

mod apply;
pub use apply::{check_sequence, Applied, Batch, REOPENED_BY};

#[cfg(test)]
mod tests;
