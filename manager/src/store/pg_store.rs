//! [`PgStore`]: the [`FleetStore`] in a PostgreSQL database, for several manager replicas
//! sharing one store (docs/POSTGRES.md).
//!
//! The tables mirror the sled store's trees (a bytes key, a bytes value: `manager/migrations`),
//! and the same code applies batches, retention and the forwarding queues over them through
//! [`Tree`]: inside one SQL transaction, a [`Tx`] reads rows (fetched ahead in one query per
//! table where the keys are known: a batch's records), keeps what the step writes, and writes
//! it all at the end in one statement per table (`UNNEST` arrays), then commits. A batch locks
//! its sensor's row first (`SELECT ... FOR UPDATE`), so two replicas given the same sensor's
//! batch apply it once: the second sees the first's sequence number. Rows other writers
//! change in read-modify-write steps (tokens, counters) are locked the same way; a deadlock
//! or serialization failure runs the transaction again.
//!
//! The client is the synchronous `postgres` crate: every method blocks, and must run where
//! blocking is allowed (`spawn_blocking`, the ingest thread), as for the sled store. TLS to
//! the database, with the server's certificate always verified: [`super::pg_tls`].

use super::aging::{self, stored_key, Removed, StoredKind};
use super::pg_tls;
use super::tree::Tree;
use super::{
    apply, data_key, from_json, json, ops, run_key, run_prefix, score_key, Abort, Applied,
    ApprovalRecord, Batch, DocumentVisitor, Enrolled, FleetStore, Held, OperatorTokenRecord,
    Quotas, SensorRecord, StoreError, SurveyVisitor, TokenRecord,
};
use crate::forward::queue::{self as fwd, DeadLetter, Done, Queued};
use crate::forward::{Event, ForwardStats, Router};
use crate::playbook::run::RunRecord;
use otwatch_proto::v1::{delta::Change, Asset, Connection, FleetAlert};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use prost::Message;
use sled::transaction::ConflictableTransactionError;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The schema migrations, in order: (version, file name, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "0001_fleet_store.sql",
        include_str!("../../migrations/0001_fleet_store.sql"),
    ),
    (
        2,
        "0002_playbooks.sql",
        include_str!("../../migrations/0002_playbooks.sql"),
    ),
    (
        3,
        "0003_shared_changes.sql",
        include_str!("../../migrations/0003_shared_changes.sql"),
    ),
];

/// `shared_changes` rows: the approved inventories, and the assets' tags.
const SHARED_APPROVALS: &str = "approvals";
const SHARED_TAGS: &str = "tags";

/// Connections kept open for reuse.
const POOL_IDLE: usize = 16;
/// How often a transaction that deadlocked or failed to serialize is run again.
const RETRIES: u32 = 8;

/// A table of the store (a sled tree's counterpart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Table {
    Tokens,
    Sensors,
    Assets,
    Connections,
    Alerts,
    OperatorRevocations,
    OperatorTokens,
    Advisories,
    Approved,
    Scores,
    FwdQueue,
    FwdStats,
    FwdDead,
    Stored,
    Removed,
    PlaybookRuns,
    AssetTags,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Tokens => "tokens",
            Table::Sensors => "sensors",
            Table::Assets => "assets",
            Table::Connections => "connections",
            Table::Alerts => "alerts",
            Table::OperatorRevocations => "operator_revocations",
            Table::OperatorTokens => "operator_tokens",
            Table::Advisories => "advisories",
            Table::Approved => "approved_assets",
            Table::Scores => "risk_scores",
            Table::FwdQueue => "forward_queue",
            Table::FwdStats => "forward_stats",
            Table::FwdDead => "forward_dead",
            Table::Stored => "stored_at",
            Table::Removed => "retention_removed",
            Table::PlaybookRuns => "playbook_runs",
            Table::AssetTags => "asset_tags",
        }
    }

    /// Whether a transaction's read of a row locks it (`FOR UPDATE`): rows that transactions
    /// read, modify and write back while another replica may do the same. A sensor's data rows
    /// are covered by its sensor row's lock.
    fn locks(self) -> bool {
        matches!(
            self,
            Table::Tokens | Table::Sensors | Table::FwdStats | Table::Removed | Table::AssetTags
        )
    }

    /// The table holding records of `kind`.
    fn of(kind: StoredKind) -> Table {
        match kind {
            StoredKind::Alerts | StoredKind::ResolvedAlerts => Table::Alerts,
            StoredKind::Assets => Table::Assets,
            StoredKind::Connections => Table::Connections,
            StoredKind::RiskHistory => Table::Scores,
            StoredKind::PlaybookRuns => Table::PlaybookRuns,
        }
    }
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// The statement for `sql`, prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params)
    }
}

/// The PostgreSQL implementation.
pub struct PgStore {
    /// The database's URL without its password, for messages.
    url: String,
    config: postgres::Config,
    /// The TLS client (`None`: plain TCP or a local socket).
    tls: Option<pg_tls::MakeRustls>,
    pool: Mutex<Vec<Conn>>,
    quotas: Quotas,
    router: Arc<Router>,
    /// The session holding the lead lock ([`FleetStore::try_lead`]), while this manager leads.
    lead: Mutex<Option<Conn>>,
}

/// The advisory lock the leading manager holds: "otwatch" and 1 (another application's locks
/// in the same database are unlikely to use it).
const LEAD_LOCK: i64 = 0x6f74_7761_7463_6801;

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `url` as `postgres://user@host:port/db`, without a password whatever it held.
fn describe(cfg: &postgres::Config) -> String {
    use postgres::config::Host;
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let user = cfg.get_user().unwrap_or("");
    let db = cfg.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{host}:{port}/{db}")
}

/// The key just past every key starting with `prefix` (`None`: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl PgStore {
    /// `url` as messages show it: `postgres://USER@HOST:PORT/DATABASE`, never a password.
    pub fn describe_url(url: &str) -> Result<String, StoreError> {
        let (url, _) = pg_tls::split(url).map_err(|msg| StoreError::Open {
            path: "the --store URL".into(),
            msg,
        })?;
        let config: postgres::Config = url.parse().map_err(|e| StoreError::Open {
            path: "the --store URL".into(),
            msg: format!("{e}; expected postgres://USER@HOST:PORT/DATABASE"),
        })?;
        Ok(describe(&config))
    }

    /// Connects to the database at `url` (`postgres://user@host:port/db`, or libpq's
    /// `key=value` form), with `password` when given (else the URL's, else `PGPASSWORD`), over
    /// TLS as its `sslmode`/`sslrootcert`/`sslcert`/`sslkey` ask ([`pg_tls`]), and brings its
    /// schema up to date. Refused: a schema newer than this manager knows.
    pub fn open(url: &str, password: Option<&str>) -> Result<PgStore, StoreError> {
        let (url, wanted) = pg_tls::split(url).map_err(|msg| StoreError::Open {
            path: "the --store URL".into(),
            msg,
        })?;
        let mut config: postgres::Config = url.parse().map_err(|e| StoreError::Open {
            path: "the --store URL".into(),
            msg: format!("{e}; expected postgres://USER@HOST:PORT/DATABASE"),
        })?;
        let (mode, tls) = wanted.connector().map_err(|msg| StoreError::Open {
            path: describe(&config),
            msg,
        })?;
        config.ssl_mode(mode);
        if let Some(p) = password {
            config.password(p);
        } else if config.get_password().is_none() {
            if let Ok(p) = std::env::var("PGPASSWORD") {
                config.password(p);
            }
        }
        if config.get_user().is_none() {
            if let Ok(u) = std::env::var("USER") {
                config.user(&u);
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let store = PgStore {
            url: describe(&config),
            config,
            tls,
            pool: Mutex::default(),
            quotas: Quotas::default(),
            router: Arc::default(),
            lead: Mutex::default(),
        };
        let mut conn = store.connect()?;
        store.migrate(&mut conn)?;
        store.put(conn);
        store.count_held()?;
        Ok(store)
    }

    /// The store with these per-sensor quotas (default [`Quotas::default`]).
    pub fn with_quotas(mut self, quotas: Quotas) -> PgStore {
        self.quotas = quotas;
        self
    }

    /// The store queueing events for forwarding by `router`'s rules (default: none).
    pub fn with_forwarding(mut self, router: Arc<Router>) -> PgStore {
        self.router = router;
        self
    }

    /// The database's URL without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What went wrong with the database, as a store error: a full disk, a lost connection
    /// (naming the database), or what PostgreSQL said.
    fn error(&self, e: &postgres::Error) -> StoreError {
        if e.code() == Some(&SqlState::DISK_FULL) {
            return StoreError::DiskFull;
        }
        let msg = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None if e.is_closed() => {
                "the connection to PostgreSQL was lost; is it running and reachable?".into()
            }
            None if is_tls(e) => format!(
                "TLS with the server failed: {}; check that sslrootcert is the CA that signed \
                 the server's certificate and that the URL's host is a name in it",
                causes(e)
            ),
            None => format!("{e}; is PostgreSQL running and reachable?"),
        };
        StoreError::Postgres {
            url: self.url.clone(),
            msg,
        }
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
        .map_err(|e| self.error(&e))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// A pooled connection, or a new one.
    fn conn(&self) -> Result<Conn, StoreError> {
        let idle = self
            .pool
            .lock()
            .map_err(|_| StoreError::poisoned("connection pool's"))?
            .pop();
        match idle {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => self.connect(),
        }
    }

    /// Gives a connection back to the pool (a closed one is dropped).
    fn put(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < POOL_IDLE {
                pool.push(conn);
            }
        }
    }

    /// Runs `f` on a connection outside a transaction.
    fn read<R>(
        &self,
        f: impl Fn(&mut Conn) -> Result<R, postgres::Error>,
    ) -> Result<R, StoreError> {
        let mut conn = self.conn()?;
        let mut r = f(&mut conn);
        if matches!(&r, Err(e) if conn.client.is_closed() && e.as_db_error().is_none()) {
            // A pooled connection the server closed (a restart): once more on a new one.
            conn = self.connect()?;
            r = f(&mut conn);
        }
        let r = r.map_err(|e| self.error(&e));
        self.put(conn);
        r
    }

    /// Brings the schema up to date, in one transaction (so two replicas starting at once
    /// apply each migration once).
    fn migrate(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        let r = (|| -> Result<Result<(), String>, postgres::Error> {
            let mut tx = conn.client.transaction()?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version integer PRIMARY KEY,
                     name text NOT NULL,
                     applied_at bigint NOT NULL
                 );
                 LOCK TABLE schema_migrations IN EXCLUSIVE MODE;",
            )?;
            let at: i32 = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations",
                    &[],
                )?
                .get(0);
            if at > known {
                return Ok(Err(format!(
                    "the database's schema is at version {at}, newer than this otwatch-manager \
                     knows ({known}): run the newer otwatch-manager that migrated it"
                )));
            }
            for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > at) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[version, name, &crate::pki::now_secs()],
                )?;
                tracing::info!(store = %self.url, migration = name, "schema migration applied");
            }
            tx.commit()?;
            Ok(Ok(()))
        })();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(StoreError::Open {
                path: self.url.clone(),
                msg,
            }),
            Err(e) => Err(match self.error(&e) {
                StoreError::Postgres { msg, .. } => StoreError::Open {
                    path: self.url.clone(),
                    msg: format!("schema migration: {msg}"),
                },
                other => other,
            }),
        }
    }

    /// Counts what each sensor holds, for records whose counts were lost.
    fn count_held(&self) -> Result<(), StoreError> {
        for rec in self.sensors()?.into_iter().filter(|r| !r.held.counted) {
            let prefix = format!("{}/", rec.id).into_bytes();
            let end = prefix_end(&prefix);
            let count = |t: Table| {
                self.read(|c| {
                    let sql = format!("SELECT count(*) FROM {} WHERE k >= $1 AND k < $2", t.name());
                    let n: i64 = c.query(&sql, &[&prefix, &end])?[0].get(0);
                    Ok(n.max(0) as u64)
                })
            };
            let held = Held {
                counted: true,
                assets: count(Table::Assets)?,
                connections: count(Table::Connections)?,
                alerts: count(Table::Alerts)?,
            };
            self.update_sensor(&rec.id, &move |r| r.held = held.clone())?;
        }
        Ok(())
    }

    /// Runs `f` in one transaction and commits what it wrote; runs it again after a deadlock
    /// or a serialization failure. `durable`: false commits without waiting for the disk.
    fn tx<R>(
        &self,
        durable: bool,
        f: impl Fn(&Tx<'_>) -> Result<R, Abort>,
    ) -> Result<R, StoreError> {
        let mut attempt = 0;
        loop {
            let mut conn = self.conn()?;
            let begin = if durable {
                "BEGIN"
            } else {
                "BEGIN; SET LOCAL synchronous_commit = off"
            };
            if let Err(e) = conn.client.batch_execute(begin) {
                if !conn.client.is_closed() {
                    return Err(self.error(&e));
                }
                // A pooled connection the server closed (a restart): nothing was sent yet.
                conn = self.connect()?;
                conn.client
                    .batch_execute(begin)
                    .map_err(|e| self.error(&e))?;
            }
            let r = {
                let tx = Tx {
                    store: self,
                    conn: RefCell::new(&mut conn),
                    cache: RefCell::default(),
                    writes: RefCell::default(),
                };
                f(&tx).and_then(|r| tx.flush().map(|()| r))
            };
            let r = match r {
                Ok(r) => match conn.client.batch_execute("COMMIT") {
                    Ok(()) => Ok(r),
                    Err(e) if retriable(&e) => Err(ConflictableTransactionError::Conflict),
                    Err(e) => Err(ConflictableTransactionError::Abort(self.error(&e))),
                },
                Err(e) => {
                    // A failed connection is dropped below; nothing was committed.
                    let _ = conn.client.batch_execute("ROLLBACK");
                    Err(e)
                }
            };
            self.put(conn);
            match r {
                Ok(r) => return Ok(r),
                Err(ConflictableTransactionError::Conflict) if attempt < RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(5 << attempt.min(6)));
                }
                Err(ConflictableTransactionError::Conflict) => {
                    return Err(StoreError::Postgres {
                        url: self.url.clone(),
                        msg: format!(
                            "a transaction conflicted with others {RETRIES} times; try again"
                        ),
                    })
                }
                Err(ConflictableTransactionError::Abort(e)) => return Err(e),
                Err(ConflictableTransactionError::Storage(e)) => return Err(e.into()),
            }
        }
    }

    /// Every (key, value) of `table` whose key starts with `prefix`, in key order.
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<Row>, StoreError> {
        let end = prefix_end(prefix);
        self.read(|c| {
            let sql = format!(
                "SELECT k, v FROM {} WHERE k >= $1 AND ($2::bytea IS NULL OR k < $2) ORDER BY k",
                table.name()
            );
            let rows = c.query(&sql, &[&prefix, &end])?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// The value of `table` at `key`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            let sql = format!("SELECT v FROM {} WHERE k = $1", table.name());
            Ok(c.query(&sql, &[&key])?.first().map(|r| r.get(0)))
        })
    }

    fn decode_all<T: Message + Default>(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.scan(table, prefix.as_bytes())?
            .into_iter()
            .map(|(k, v)| {
                T::decode(v.as_slice())
                    .map_err(|_| StoreError::Corrupt(String::from_utf8_lossy(&k).into_owned()))
            })
            .collect()
    }

    /// Every destination's delivery counters (see [`fwd::out_snapshot`]).
    fn out_snapshot(&self) -> Result<HashMap<String, fwd::OutStats>, StoreError> {
        let mut out = HashMap::new();
        for (k, v) in self.scan(Table::FwdStats, b"")? {
            if let Some(dest) = k.strip_suffix(b"\0out") {
                out.insert(
                    String::from_utf8_lossy(dest).into_owned(),
                    fwd::decode(Some(&v)),
                );
            }
        }
        Ok(out)
    }
}

/// Whether `e` comes from the TLS handshake (a certificate refused, a name not in it).
fn is_tls(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// `e`'s causes, innermost last.
fn causes(e: &postgres::Error) -> String {
    let mut out = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out.join(": ")
}

/// Whether the transaction may succeed if run again.
fn retriable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The client blocks on its own runtime to close, which is refused on an async worker.
        let mut conns = std::mem::take(self.pool.get_mut().unwrap_or_else(|e| e.into_inner()));
        conns.extend(
            self.lead
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if !conns.is_empty() {
            let _ = std::thread::spawn(move || drop(conns)).join();
        }
    }
}

/// A row: key and value.
type Row = (Vec<u8>, Vec<u8>);

/// Keys (or values) for an array parameter.
type Column = Vec<Vec<u8>>;

/// A cached row: `None` when it is known not to exist.
type Cached = Option<Vec<u8>>;

/// One transaction's reads and writes (see the module's comment).
struct Tx<'c> {
    store: &'c PgStore,
    conn: RefCell<&'c mut Conn>,
    /// Rows read (or known absent).
    cache: RefCell<HashMap<(Table, Vec<u8>), Cached>>,
    /// Rows written (`None`: removed), in key order: written at the end.
    writes: RefCell<BTreeMap<(Table, Vec<u8>), Cached>>,
}

impl<'c> Tx<'c> {
    fn tree(&self, table: Table) -> PgTree<'_, 'c> {
        PgTree { tx: self, table }
    }

    /// The transaction's error for a failed statement: run again, or abort with the reason.
    fn fail(&self, e: &postgres::Error) -> Abort {
        if retriable(e) {
            ConflictableTransactionError::Conflict
        } else {
            ConflictableTransactionError::Abort(self.store.error(e))
        }
    }

    /// Reads the rows of `table` at `keys` in one statement (locking them if the table's
    /// rows lock), so the transaction's reads of them need no round trip.
    fn fetch(&self, table: Table, keys: BTreeSet<Vec<u8>>) -> Result<(), Abort> {
        let keys: Vec<Vec<u8>> = {
            let cache = self.cache.borrow();
            keys.into_iter()
                .filter(|k| !cache.contains_key(&(table, k.clone())))
                .collect()
        };
        if keys.is_empty() {
            return Ok(());
        }
        let sql = if table.locks() {
            format!(
                "SELECT k, v FROM {} WHERE k = ANY($1) ORDER BY k FOR UPDATE",
                table.name()
            )
        } else {
            format!("SELECT k, v FROM {} WHERE k = ANY($1)", table.name())
        };
        let rows = self
            .conn
            .borrow_mut()
            .query(&sql, &[&keys])
            .map_err(|e| self.fail(&e))?;
        let mut cache = self.cache.borrow_mut();
        for k in keys {
            cache.insert((table, k), None);
        }
        for r in rows {
            cache.insert((table, r.get(0)), Some(r.get(1)));
        }
        Ok(())
    }

    /// Writes what the transaction wrote: per table, one statement for the rows removed and
    /// one for those inserted or updated.
    fn flush(&self) -> Result<(), Abort> {
        let writes = std::mem::take(&mut *self.writes.borrow_mut());
        let mut by_table: BTreeMap<Table, (Column, Column, Column)> = BTreeMap::new();
        for ((table, k), v) in writes {
            let e = by_table.entry(table).or_default();
            match v {
                Some(v) => {
                    e.0.push(k);
                    e.1.push(v);
                }
                None => e.2.push(k),
            }
        }
        let mut conn = self.conn.borrow_mut();
        for (table, (keys, values, removed)) in by_table {
            let t = table.name();
            if !removed.is_empty() {
                conn.execute(&format!("DELETE FROM {t} WHERE k = ANY($1)"), &[&removed])
                    .map_err(|e| self.fail(&e))?;
            }
            if !keys.is_empty() {
                let sql = format!(
                    "INSERT INTO {t} (k, v) SELECT * FROM UNNEST($1::bytea[], $2::bytea[]) \
                     ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
                );
                conn.execute(&sql, &[&keys, &values])
                    .map_err(|e| self.fail(&e))?;
            }
        }
        Ok(())
    }

    /// Notes, for other replicas, that what all sites share of `what` (`approvals`, `tags`)
    /// changed (`shared_changes`).
    fn note_shared(&self, what: &str) -> Result<(), Abort> {
        self.conn
            .borrow_mut()
            .execute(
                "INSERT INTO shared_changes (what, change) VALUES ($1, nextval('change_ids')) \
                 ON CONFLICT (what) DO UPDATE SET change = EXCLUDED.change",
                &[&what],
            )
            .map_err(|e| self.fail(&e))?;
        Ok(())
    }

    /// Notes, for other replicas, that these sensors' data changed (`sensor_changes`).
    fn note_changes(&self, changed: &[(&str, &str, u64)]) -> Result<(), Abort> {
        if changed.is_empty() {
            return Ok(());
        }
        let mut latest: BTreeMap<&str, (&str, i64)> = BTreeMap::new();
        for (sensor, site, seq) in changed {
            latest.insert(sensor, (site, i64::try_from(*seq).unwrap_or(i64::MAX)));
        }
        let sensors: Vec<&str> = latest.keys().copied().collect();
        let sites: Vec<&str> = latest.values().map(|v| v.0).collect();
        let seqs: Vec<i64> = latest.values().map(|v| v.1).collect();
        self.conn
            .borrow_mut()
            .execute(
                "INSERT INTO sensor_changes (sensor, site, applied_seq, change) \
                 SELECT s, t, q, nextval('change_ids') \
                 FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(s, t, q) \
                 ON CONFLICT (sensor) DO UPDATE SET site = EXCLUDED.site, \
                 applied_seq = EXCLUDED.applied_seq, change = EXCLUDED.change",
                &[&sensors, &sites, &seqs],
            )
            .map_err(|e| self.fail(&e))?;
        Ok(())
    }
}

/// One table inside a [`Tx`].
struct PgTree<'t, 'c> {
    tx: &'t Tx<'c>,
    table: Table,
}

impl Tree for PgTree<'_, '_> {
    type Value = Vec<u8>;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Abort> {
        let k = (self.table, key.to_vec());
        if let Some(v) = self.tx.writes.borrow().get(&k) {
            return Ok(v.clone());
        }
        if let Some(v) = self.tx.cache.borrow().get(&k) {
            return Ok(v.clone());
        }
        self.tx.fetch(self.table, BTreeSet::from([key.to_vec()]))?;
        Ok(self.tx.cache.borrow().get(&k).cloned().flatten())
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, Abort> {
        let old = self.get(key)?;
        self.tx
            .writes
            .borrow_mut()
            .insert((self.table, key.to_vec()), Some(value.to_vec()));
        Ok(old)
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Abort> {
        let old = self.get(key)?;
        if old.is_some() {
            self.tx
                .writes
                .borrow_mut()
                .insert((self.table, key.to_vec()), None);
        }
        Ok(old)
    }

    fn generate_id(&self) -> Result<u64, Abort> {
        let rows = self
            .tx
            .conn
            .borrow_mut()
            .query("SELECT nextval('forward_ids')", &[])
            .map_err(|e| self.tx.fail(&e))?;
        let id: i64 = rows[0].get(0);
        Ok(id.max(0) as u64)
    }
}

/// The keys of the rows applying `batches` reads, per table: fetched in one statement each.
fn batch_keys(batches: &[Batch<'_>]) -> BTreeMap<Table, BTreeSet<Vec<u8>>> {
    let mut keys: BTreeMap<Table, BTreeSet<Vec<u8>>> = BTreeMap::new();
    let mut add = |table: Table, kind: StoredKind, key: Vec<u8>| {
        keys.entry(Table::Stored)
            .or_default()
            .insert(stored_key(kind, &key));
        keys.entry(table).or_default().insert(key);
    };
    for b in batches {
        for d in b.deltas {
            match &d.change {
                Some(Change::Asset(a)) => {
                    add(Table::Assets, StoredKind::Assets, data_key(b.sensor, &a.id))
                }
                Some(Change::AssetRemoved(id)) => {
                    add(Table::Assets, StoredKind::Assets, data_key(b.sensor, id))
                }
                Some(Change::Connection(c)) => add(
                    Table::Connections,
                    StoredKind::Connections,
                    data_key(b.sensor, &c.key()),
                ),
                Some(Change::Alert(a)) => {
                    add(Table::Alerts, StoredKind::Alerts, data_key(b.sensor, &a.id))
                }
                _ => {}
            }
        }
    }
    keys
}

impl FleetStore for PgStore {
    fn create_token(&self, secret_sha256: [u8; 32], token: TokenRecord) -> Result<(), StoreError> {
        self.tx(true, |tx| {
            tx.tree(Table::Tokens)
                .insert(&secret_sha256, &json(&token))?;
            Ok(())
        })
    }

    fn enroll(
        &self,
        secret_sha256: [u8; 32],
        now: i64,
        sensor: SensorRecord,
    ) -> Result<Enrolled, StoreError> {
        self.tx(true, |tx| {
            let sensors = tx.tree(Table::Sensors);
            let r = ops::enroll(
                &tx.tree(Table::Tokens),
                &sensors,
                &secret_sha256,
                now,
                &sensor,
            )?;
            if let Enrolled::Ok(rec) = &r {
                tx.note_changes(&[(&rec.id, &rec.site, rec.applied_seq)])?;
            }
            Ok(r)
        })
    }

    fn token_site(&self, secret_sha256: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        match self.get(Table::Tokens, &secret_sha256)? {
            Some(v) => Ok(Some(from_json("token", &v)?)),
            None => Ok(None),
        }
    }

    fn sensor(&self, id: &str) -> Result<Option<SensorRecord>, StoreError> {
        match self.get(Table::Sensors, id.as_bytes())? {
            Some(v) => Ok(Some(from_json(id, &v)?)),
            None => Ok(None),
        }
    }

    fn sensors(&self) -> Result<Vec<SensorRecord>, StoreError> {
        self.scan(Table::Sensors, b"")?
            .into_iter()
            .map(|(k, v)| from_json(&String::from_utf8_lossy(&k), &v))
            .collect()
    }

    fn update_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.tx(true, |tx| {
            ops::modify_sensor(&tx.tree(Table::Sensors), id, f)
        })
    }

    fn note_sensor(
        &self,
        id: &str,
        f: &(dyn Fn(&mut SensorRecord) + Sync),
    ) -> Result<Option<SensorRecord>, StoreError> {
        self.tx(false, |tx| {
            ops::modify_sensor(&tx.tree(Table::Sensors), id, f)
        })
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
        let out = if forwarding {
            self.out_snapshot()?
        } else {
            HashMap::new()
        };
        let keys = batch_keys(batches);
        self.tx(true, |tx| {
            // The sensors' rows first, locked in key order: their batches apply one at a time.
            let ids: BTreeSet<Vec<u8>> = batches
                .iter()
                .map(|b| b.sensor.as_bytes().to_vec())
                .collect();
            tx.fetch(Table::Sensors, ids)?;
            for (table, keys) in &keys {
                tx.fetch(*table, keys.clone())?;
            }
            let sensors = tx.tree(Table::Sensors);
            let (assets, conns, alerts) = (
                tx.tree(Table::Assets),
                tx.tree(Table::Connections),
                tx.tree(Table::Alerts),
            );
            let (stored, queue, stats) = (
                tx.tree(Table::Stored),
                tx.tree(Table::FwdQueue),
                tx.tree(Table::FwdStats),
            );
            let mut data = apply::trees(&assets, &conns, &alerts, &stored);
            if forwarding {
                data.forward = Some(super::routing::Ctx {
                    queue: &queue,
                    stats: &stats,
                    cfg: &cfg,
                    out: &out,
                });
            }
            let mut results = Vec::with_capacity(batches.len());
            for b in batches {
                results.push(apply::batch(&sensors, &data, b, now, &self.quotas)?);
            }
            let changed: Vec<(&str, &str, u64)> = batches
                .iter()
                .zip(&results)
                .filter_map(|(b, r)| {
                    r.as_ref()
                        .ok()
                        .filter(|a| !a.changes.is_empty() || a.applied_seq != a.previous_seq)
                        .map(|a| (b.sensor, a.site.as_str(), a.applied_seq))
                })
                .collect();
            tx.note_changes(&changed)?;
            Ok(results)
        })
    }

    fn create_operator_token(
        &self,
        secret_sha256: [u8; 32],
        token: OperatorTokenRecord,
    ) -> Result<(), StoreError> {
        self.tx(true, |tx| {
            tx.tree(Table::OperatorTokens)
                .insert(&secret_sha256, &json(&token))?;
            Ok(())
        })
    }

    fn operator_token(
        &self,
        secret_sha256: [u8; 32],
    ) -> Result<Option<OperatorTokenRecord>, StoreError> {
        match self.get(Table::OperatorTokens, &secret_sha256)? {
            Some(v) => Ok(Some(from_json("operator token", &v)?)),
            None => Ok(None),
        }
    }

    fn revoke_operator(&self, name: &str, at: i64) -> Result<(), StoreError> {
        self.tx(true, |tx| {
            tx.tree(Table::OperatorRevocations)
                .insert(name.as_bytes(), &json(&at))?;
            Ok(())
        })
    }

    fn operator_revocations(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.scan(Table::OperatorRevocations, b"")?
            .into_iter()
            .map(|(k, v)| {
                let name = String::from_utf8_lossy(&k).into_owned();
                let at: i64 = from_json(&name, &v)?;
                Ok((name, at))
            })
            .collect()
    }

    fn assets_of(&self, sensor_id: &str) -> Result<Vec<Asset>, StoreError> {
        self.decode_all(Table::Assets, &format!("{sensor_id}/"))
    }

    fn connections_of(&self, sensor_id: &str) -> Result<Vec<Connection>, StoreError> {
        self.decode_all(Table::Connections, &format!("{sensor_id}/"))
    }

    fn alerts(&self) -> Result<Vec<FleetAlert>, StoreError> {
        self.decode_all(Table::Alerts, "")
    }

    fn alert(&self, id: &str) -> Result<Option<FleetAlert>, StoreError> {
        match self.get(Table::Alerts, id.as_bytes())? {
            Some(v) => Ok(Some(
                FleetAlert::decode(v.as_slice()).map_err(|_| StoreError::Corrupt(id.into()))?,
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
        let out = if !cfg.any() {
            HashMap::new()
        } else {
            self.out_snapshot()?
        };
        self.tx(true, |tx| {
            // The alert's sensor's row: a batch of that sensor may be updating the alert.
            let sensor = id.split_once('/').map_or(id, |(s, _)| s);
            tx.fetch(Table::Sensors, BTreeSet::from([sensor.as_bytes().to_vec()]))?;
            let (queue, stats) = (tx.tree(Table::FwdQueue), tx.tree(Table::FwdStats));
            let ctx = super::routing::Ctx {
                queue: &queue,
                stats: &stats,
                cfg: &cfg,
                out: &out,
            };
            let alerts = tx.tree(Table::Alerts);
            let now = crate::pki::now_secs();
            let r = ops::set_alert_state(&alerts, Some(&ctx), id, (state, by, at, comment), now)?;
            if let Some(fa) = &r {
                let seq = match tx.tree(Table::Sensors).get(sensor.as_bytes())? {
                    Some(v) => {
                        from_json::<SensorRecord>(sensor, &v)
                            .map_err(ConflictableTransactionError::Abort)?
                            .applied_seq
                    }
                    None => 0,
                };
                tx.note_changes(&[(sensor, &fa.site, seq)])?;
            }
            Ok(r)
        })
    }

    fn put_advisory_documents(&self, documents: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if documents.is_empty() {
            return Ok(());
        }
        self.tx(true, |tx| {
            let t = tx.tree(Table::Advisories);
            for (key, bytes) in documents {
                // Written whole at the end; what a key held is not needed.
                tx.cache
                    .borrow_mut()
                    .insert((Table::Advisories, key.as_bytes().to_vec()), None);
                t.insert(key.as_bytes(), bytes)?;
            }
            Ok(())
        })
    }

    fn advisory_documents(&self, f: &mut DocumentVisitor<'_>) -> Result<(), StoreError> {
        // Keys first, then one document at a time: the whole feed is tens of megabytes.
        let keys: Vec<Vec<u8>> = self.read(|c| {
            let rows = c.query("SELECT k FROM advisories ORDER BY k", &[])?;
            Ok(rows.into_iter().map(|r| r.get(0)).collect())
        })?;
        for k in keys {
            if let Some(v) = self.get(Table::Advisories, &k)? {
                f(&String::from_utf8_lossy(&k), &v)?;
            }
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
        self.tx(true, |tx| {
            tx.fetch(
                Table::Approved,
                ids.iter().map(|i| i.as_bytes().to_vec()).collect(),
            )?;
            let t = tx.tree(Table::Approved);
            let mut changed = 0;
            for id in ids {
                let held = t.get(id.as_bytes())?.is_some();
                match approval {
                    Some(a) if !held => t.insert(id.as_bytes(), &json(a))?,
                    None if held => t.remove(id.as_bytes())?,
                    _ => continue,
                };
                changed += 1;
            }
            if changed > 0 {
                tx.note_shared(SHARED_APPROVALS)?;
            }
            Ok(changed)
        })
    }

    fn approved(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let rows = c.query("SELECT k FROM approved_assets ORDER BY k", &[])?;
            Ok(rows
                .into_iter()
                .map(|r| String::from_utf8_lossy(r.get::<_, &[u8]>(0)).into_owned())
                .collect())
        })
    }

    fn record_score(&self, scope: &str, date: &str, score: u32) -> Result<(), StoreError> {
        self.tx(true, |tx| {
            tx.tree(Table::Scores)
                .insert(&score_key(scope, date), &json(&score))?;
            Ok(())
        })
    }

    fn scores(&self, scope: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let prefix = score_key(scope, "");
        self.scan(Table::Scores, &prefix)?
            .into_iter()
            .map(|(k, v)| {
                let date = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let score: u32 = from_json(&date, &v)?;
                Ok((date, score))
            })
            .collect()
    }

    fn record_playbook_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.tx(true, |tx| {
            tx.tree(Table::PlaybookRuns).insert(
                &run_key(&run.playbook, &run.run_id, run.attempt),
                &json(run),
            )?;
            Ok(())
        })
    }

    fn playbook_runs(
        &self,
        playbook: Option<&str>,
        run_id: Option<&str>,
        max: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let prefix = playbook.map_or_else(Vec::new, |p| run_prefix(p, run_id));
        let mut out = Vec::new();
        for (_, v) in self.scan(Table::PlaybookRuns, &prefix)? {
            let r: RunRecord = from_json("playbook run", &v)?;
            if run_id.is_none_or(|id| r.run_id == id) {
                out.push(r);
            }
        }
        super::newest_runs_first(&mut out, max);
        Ok(out)
    }

    fn add_asset_tags(&self, key: &str, tags: &[String]) -> Result<Vec<String>, StoreError> {
        self.tx(true, |tx| {
            let t = tx.tree(Table::AssetTags);
            let mut held: Vec<String> = match t.get(key.as_bytes())? {
                Some(v) => from_json(key, &v)
                    .map_err(sled::transaction::ConflictableTransactionError::Abort)?,
                None => Vec::new(),
            };
            super::add_tags(&mut held, tags);
            t.insert(key.as_bytes(), &json(&held))?;
            tx.note_shared(SHARED_TAGS)?;
            Ok(held)
        })
    }

    fn asset_tags(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        self.scan(Table::AssetTags, b"")?
            .into_iter()
            .map(|(k, v)| {
                let key = String::from_utf8_lossy(&k).into_owned();
                let tags = from_json(&key, &v)?;
                Ok((key, tags))
            })
            .collect()
    }

    fn forward_router(&self) -> Option<Arc<Router>> {
        Some(self.router.clone())
    }

    fn try_lead(&self) -> Result<bool, StoreError> {
        let mut lead = self.lead.lock().map_err(|_| StoreError::poisoned("lead"))?;
        if let Some(c) = lead.as_mut() {
            if c.client.simple_query("SELECT 1").is_ok() {
                return Ok(true);
            }
            // The session ended (the server restarted, the network failed): so did the lock.
            if let Some(gone) = lead.take() {
                let _ = std::thread::spawn(move || drop(gone)).join();
            }
        }
        let mut c = self.connect()?;
        let got: bool = c
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_LOCK])
            .map_err(|e| self.error(&e))?
            .get(0);
        if got {
            *lead = Some(c);
        } else {
            let _ = std::thread::spawn(move || drop(c)).join();
        }
        Ok(got)
    }

    fn shared_changes(&self) -> Result<Option<BTreeMap<String, i64>>, StoreError> {
        self.read(|c| {
            let rows = c.query("SELECT what, change FROM shared_changes", &[])?;
            Ok(Some(
                rows.into_iter().map(|r| (r.get(0), r.get(1))).collect(),
            ))
        })
    }

    fn sensor_changes(&self) -> Result<Option<Vec<SensorChange>>, StoreError> {
        // One row per sensor: read whole, so a change whose id was taken before a later one
        // committed is never skipped.
        self.changes_since(i64::MIN).map(Some)
    }

    fn forward_enqueue(
        &self,
        dest: &crate::forward::DestinationConfig,
        events: &[Event],
        now: i64,
    ) -> Result<(), StoreError> {
        let cfg = crate::forward::Routes::default();
        let out = self.out_snapshot()?;
        let events: Vec<&Event> = events.iter().collect();
        self.tx(true, |tx| {
            let (queue, stats) = (tx.tree(Table::FwdQueue), tx.tree(Table::FwdStats));
            let ctx = super::routing::Ctx {
                queue: &queue,
                stats: &stats,
                cfg: &cfg,
                out: &out,
            };
            super::routing::enqueue(&ctx, (&dest.name, &dest.queue), &events, now)
        })
    }

    fn forward_pending(&self, dest: &str, max: usize) -> Result<Vec<(u64, Event)>, StoreError> {
        let prefix = fwd::prefix(dest);
        let end = prefix_end(&prefix);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = self.read(|c| {
            c.query(
                "SELECT k, v FROM forward_queue WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3",
                &[&prefix, &end, &limit],
            )
        })?;
        rows.into_iter()
            .map(|r| {
                let (k, v): (Vec<u8>, Vec<u8>) = (r.get(0), r.get(1));
                let q: Queued = from_json("forwarding queue entry", &v)?;
                Ok((fwd::id_of(&k), q.event))
            })
            .collect()
    }

    fn forward_done(&self, dest: &str, ids: &[u64], done: &Done) -> Result<(), StoreError> {
        let now = crate::pki::now_secs();
        // A failure is bookkeeping; a removal must be durable, or a restart resends more.
        let durable = !matches!(done, Done::Failed(_));
        self.tx(durable, |tx| {
            let (queue, stats, dead) = (
                tx.tree(Table::FwdQueue),
                tx.tree(Table::FwdStats),
                tx.tree(Table::FwdDead),
            );
            tx.fetch(
                Table::FwdQueue,
                ids.iter().map(|id| fwd::key(dest, *id)).collect(),
            )?;
            ops::forward_done((&queue, &stats, &dead), dest, ids, done, now)
        })
    }

    fn forward_stats(&self) -> Result<Vec<(String, ForwardStats)>, StoreError> {
        let rows = self.scan(Table::FwdStats, b"")?;
        let mut outs = HashMap::new();
        let mut ins = HashMap::new();
        for (k, v) in &rows {
            if let Some(dest) = k.strip_suffix(b"\0out") {
                outs.insert(
                    String::from_utf8_lossy(dest).into_owned(),
                    fwd::decode::<fwd::OutStats>(Some(v)),
                );
            } else if let Some(dest) = k.strip_suffix(b"\0in") {
                ins.insert(
                    String::from_utf8_lossy(dest).into_owned(),
                    fwd::decode::<fwd::InStats>(Some(v)),
                );
            }
        }
        let names: BTreeSet<String> = outs.keys().chain(ins.keys()).cloned().collect();
        let mut all = Vec::new();
        for name in names {
            let i = ins.get(&name).cloned().unwrap_or_default();
            let o = outs.get(&name).cloned().unwrap_or_default();
            let mut s = fwd::combine(&i, &o);
            if let Some((_, v)) = self.forward_oldest(&name)? {
                s.oldest_at = from_json::<Queued>("forwarding queue entry", &v)?.at;
            }
            all.push((name, s));
        }
        Ok(all)
    }

    fn forward_expire(&self, cutoff: i64, max: usize) -> Result<fwd::Expired, StoreError> {
        let mut gone = fwd::Expired::default();
        let (mut old_queued, mut old_dead) = (Vec::new(), Vec::new());
        let hold = |at: i64, gone: &mut fwd::Expired| {
            gone.held += 1;
            gone.oldest = Some(gone.oldest.map_or(at, |o: i64| o.min(at)));
        };
        for (k, v) in self.scan(Table::FwdQueue, b"")? {
            let at = from_json::<Queued>("forwarding queue entry", &v)?.at;
            if at < cutoff && old_queued.len() + old_dead.len() < max {
                old_queued.push(k);
            } else {
                hold(at, &mut gone);
            }
        }
        for (k, v) in self.scan(Table::FwdDead, b"")? {
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
        gone.removed = self.tx(true, |tx| {
            tx.fetch(Table::FwdQueue, old_queued.iter().cloned().collect())?;
            tx.fetch(Table::FwdDead, old_dead.iter().cloned().collect())?;
            let (queue, stats, dead) = (
                tx.tree(Table::FwdQueue),
                tx.tree(Table::FwdStats),
                tx.tree(Table::FwdDead),
            );
            ops::forward_expire((&queue, &stats, &dead), &old_queued, &old_dead)
        })?;
        Ok(gone)
    }

    fn forward_dead_letters(&self, dest: &str, max: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.scan(Table::FwdDead, &fwd::prefix(dest))?
            .into_iter()
            .take(max)
            .map(|(_, v)| from_json("dead letter", &v))
            .collect()
    }

    fn survey(&self, kind: StoredKind, f: &mut SurveyVisitor<'_>) -> Result<(), StoreError> {
        let table = Table::of(kind);
        let tag = stored_key(kind, b"");
        let mut conn = self.conn()?;
        let sql = format!(
            "SELECT t.k, t.v, s.v FROM {} t LEFT JOIN stored_at s ON s.k = $1 || t.k ORDER BY t.k",
            table.name()
        );
        let r = (|| -> Result<(), postgres::Error> {
            use postgres::fallible_iterator::FallibleIterator;
            let stmt = conn.statement(&sql)?;
            let mut rows = conn.client.query_raw(&stmt, [&tag])?;
            while let Some(row) = rows.next()? {
                let (k, v): (&[u8], &[u8]) = (row.get(0), row.get(1));
                let stored = aging::read_stored(row.get::<_, Option<&[u8]>>(2));
                match kind {
                    // Both alert kinds share a table: an alert of the other state is not
                    // handed on.
                    StoredKind::Alerts | StoredKind::ResolvedAlerts if !aging::is_of(kind, v) => {}
                    _ => f(k, aging::age(kind, k, v, stored)),
                }
            }
            Ok(())
        })();
        let r = r.map_err(|e| self.error(&e));
        self.put(conn);
        r
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
        let table = Table::of(kind);
        self.tx(true, |tx| {
            if kind != StoredKind::RiskHistory {
                // The records' sensors' rows first, locked in key order (as batches lock them).
                let sensors: BTreeSet<Vec<u8>> = keys
                    .iter()
                    .filter_map(|k| k.splitn(2, |b| *b == b'/').next().map(<[u8]>::to_vec))
                    .collect();
                tx.fetch(Table::Sensors, sensors)?;
            }
            tx.fetch(table, keys.iter().cloned().collect())?;
            tx.fetch(
                Table::Stored,
                keys.iter().map(|k| stored_key(kind, k)).collect(),
            )?;
            let (sensors, data, stored, totals) = (
                tx.tree(Table::Sensors),
                tx.tree(table),
                tx.tree(Table::Stored),
                tx.tree(Table::Removed),
            );
            let t = aging::RemoveIn {
                sensors: &sensors,
                data: &data,
                stored: &stored,
                totals: &totals,
            };
            aging::remove(&t, kind, keys, cutoff)
        })
    }

    fn removed_totals(&self) -> Result<Vec<(StoredKind, u64)>, StoreError> {
        let mut out = Vec::new();
        for kind in StoredKind::ALL {
            let n = aging::read_stored(self.get(Table::Removed, kind.as_str().as_bytes())?)
                .unwrap_or(0);
            out.push((kind, n.max(0) as u64));
        }
        Ok(out)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c.query("SELECT pg_database_size(current_database())", &[])?[0].get(0);
            Ok(n.max(0) as u64)
        })
    }
}

/// A sensor whose data changed ([`PgStore::changes_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorChange {
    pub sensor: String,
    pub site: String,
    /// The sensor's last applied sequence number then.
    pub applied_seq: u64,
    /// The change's id: what to ask from next time.
    pub change: i64,
}

impl PgStore {
    /// The sensors whose data (batches, alert states, enrolment) changed with an id above
    /// `after`, by id: what another manager applied, for keeping a fleet view current. Ids are
    /// taken before commit, so a transaction may commit an id below one already seen: read
    /// again from a little behind the last id.
    pub fn changes_since(&self, after: i64) -> Result<Vec<SensorChange>, StoreError> {
        self.read(|c| {
            let rows = c.query(
                "SELECT sensor, site, applied_seq, change FROM sensor_changes \
                 WHERE change > $1 ORDER BY change",
                &[&after],
            )?;
            Ok(rows
                .into_iter()
                .map(|r| SensorChange {
                    sensor: r.get(0),
                    site: r.get(1),
                    applied_seq: r.get::<_, i64>(2).max(0) as u64,
                    change: r.get(3),
                })
                .collect())
        })
    }

    /// The oldest entry of `dest`'s queue.
    fn forward_oldest(&self, dest: &str) -> Result<Option<Row>, StoreError> {
        let prefix = fwd::prefix(dest);
        let end = prefix_end(&prefix);
        self.read(|c| {
            let rows = c.query(
                "SELECT k, v FROM forward_queue WHERE k >= $1 AND k < $2 ORDER BY k LIMIT 1",
                &[&prefix, &end],
            )?;
            Ok(rows.first().map(|r| (r.get(0), r.get(1))))
        })
    }
}
