//! The sensor's persistent state in sled.
//!
//! Trees: `assets` (raw facts per address, keys `ip:<ip>` and `mac:<mac>`), `links`
//! (connection facts, key `client|server|proto|port`) and `meta` (schema version and the
//! capture statistics so far). Values are JSON so the store can be inspected and survives
//! field additions. A later run loads everything, continues, and writes it back.
//!
//! **Saving never leaves a mix.** [`Store::save`] writes what changed since the last save
//! (entries whose JSON differs, entries gone, the statistics) in ONE sled transaction over the
//! three trees, then flushes. sled recovers a transaction whole or not at all, so after a
//! crash, a kill or a full disk the store holds one commit or the one before, never assets of
//! one and connections of another. What is on disk is remembered as a keyed 64-bit hash per
//! key and value (SipHash with a per-process key, so traffic cannot be crafted to collide), so
//! a commit of an unchanged inventory of 100 000 entries writes nothing.
//!
//! **A full disk.** sled stops writing for good after its first failed write (it keeps the
//! error until the database is opened again). A failed save therefore says
//! [`StoreError::DiskFull`] and the caller keeps its inventory in memory; once the file system
//! has room again ([`Store::has_room`]) it calls [`Store::reopen`], which opens the database
//! at its last durable state, and saves again. Opening never fails for a half-written sled
//! snapshot (a full disk at open leaves one: "Read corrupted data"): those are removed. A
//! 1 MiB reserve file next to the store is given up when the disk is too full to open it; a
//! store opened that way (or with less than 2 MiB free) refuses to save until there is room
//! again ([`Store::low_space`]).

mod space;

use crate::capture::live::LiveCounters;
use crate::inventory::{ConnFacts, ConnKey, HostFacts, HostKey, Inventory, MacFacts};
use otwatch_common::model::CaptureStats;
use otwatch_common::Mac;
use rustc_hash::FxHashMap;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{IVec, Transactional};
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const SCHEMA_KEY: &[u8] = b"schema";
const SCHEMA: &[u8] = b"otwatch.sensor.store.v1";
const STATS_KEY: &[u8] = b"stats";
const VIOLATIONS_KEY: &[u8] = b"violations";
const ALERTS_KEY: &[u8] = b"alerts";
const POLICY_KEY: &[u8] = b"policy";
/// The `meta` keys a save writes (the others are the schema and the policy).
const SAVED_META: [&[u8]; 3] = [STATS_KEY, VIOLATIONS_KEY, ALERTS_KEY];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the state store at {path}: {source}; check the directory is writable and not used by another otwatch process")]
    Open {
        path: String,
        #[source]
        source: sled::Error,
    },
    /// Writing failed for lack of space (ENOSPC, EDQUOT), or the store was opened on a disk
    /// too full to take writes.
    #[error("the disk holding the sensor's state {path} is full ({free} bytes free)")]
    DiskFull { path: String, free: u64 },
    #[error("state store error: {0}")]
    Sled(sled::Error),
    #[error("state store at {path} was written by another version ({found}); use a new --state directory")]
    Schema { path: String, found: String },
    #[error("state store entry {key:?} is damaged: {detail}; move the --state directory aside and start a new one")]
    Damaged { key: String, detail: String },
    #[error("cannot create a temporary state store: {0}")]
    Temp(#[source] std::io::Error),
    #[error("the state store at {0} is closed (it could not be opened again); the sensor opens it again at the next commit")]
    Closed(String),
}

impl From<sled::Error> for StoreError {
    /// Without the store at hand (see [`Store::error`], which names the directory).
    fn from(e: sled::Error) -> Self {
        if space::sled_full(&e) {
            StoreError::DiskFull {
                path: "directory".into(),
                free: 0,
            }
        } else {
            StoreError::Sled(e)
        }
    }
}

impl StoreError {
    /// Whether this is a full disk.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }
}

/// Bytes free for this process on the file system holding `dir` (0 when it cannot be told).
pub fn available(dir: &Path) -> u64 {
    space::available(dir)
}

/// What one tree holds: per key, the hash of its value, and the key itself (to remove the
/// keys that go without reading the tree).
#[derive(Debug, Default)]
struct Held {
    /// Hash of the key → (hash of the value, the key's place in `keys`).
    entries: FxHashMap<u64, (u64, usize, usize)>,
    keys: Vec<u8>,
}

impl Held {
    fn with_capacity(n: usize) -> Held {
        Held {
            entries: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            keys: Vec::with_capacity(n * 24),
        }
    }

    fn note(&mut self, key_hash: u64, key: &[u8], value_hash: u64) {
        let at = self.keys.len();
        self.keys.extend_from_slice(key);
        self.entries.insert(key_hash, (value_hash, at, key.len()));
    }

    fn value(&self, key_hash: u64) -> Option<u64> {
        self.entries.get(&key_hash).map(|e| e.0)
    }
}

/// What the trees hold (of `meta`, the keys a save writes).
#[derive(Debug, Default)]
struct Saved {
    assets: Held,
    links: Held,
    meta: Held,
}

/// The writes of one save, per tree (`None`: remove).
type Writes = Vec<(IVec, Option<IVec>)>;

/// How [`open_db`] opens.
#[derive(Debug, Clone, Copy)]
struct OpenMode {
    /// Wait for the lock a moment (our own database, closed a moment ago, can hold it while
    /// sled's flusher stops).
    wait_for_lock: bool,
    /// Keep a reserve file next to the store (not for temporary stores).
    reserve: bool,
}

/// Opens (or creates) the sled database in `dir`; whether the reserve was given up for it.
fn open_db(dir: &Path, mode: OpenMode) -> Result<(sled::Db, bool), StoreError> {
    let path = dir.display().to_string();
    let mut tries = 0;
    let mut cleaned = false;
    let mut released = false;
    loop {
        match sled::Config::new().path(dir).open() {
            Ok(db) => return Ok((db, released)),
            Err(e)
                if mode.wait_for_lock
                    && e.to_string().contains("could not acquire lock")
                    && tries < 40 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            // sled held the directory's lock when it read the snapshot: no other process is
            // writing one there.
            Err(sled::Error::Corruption { .. })
                if !cleaned && space::remove_partial_snapshots(dir) =>
            {
                cleaned = true;
            }
            Err(e) if space::sled_full(&e) => {
                if mode.reserve && !released && space::release_reserve(dir) {
                    tracing::warn!(path = %path, "the disk holding the sensor's state is full: gave up the store's disk reserve to open it");
                    released = true;
                    continue;
                }
                return Err(StoreError::DiskFull {
                    free: space::available(dir),
                    path,
                });
            }
            Err(source) => return Err(StoreError::Open { path, source }),
        }
    }
}

/// The sled database behind a sensor's state.
#[derive(Debug)]
pub struct Store {
    /// `None` only when opening it again failed ([`Store::reopen`]).
    db: Option<sled::Db>,
    dir: PathBuf,
    path: String,
    /// What the trees hold as of the last save or load; `None` when unknown (after a failed
    /// save, or before the first): the next save reads it from the trees first.
    saved: Mutex<Option<Saved>>,
    hasher: std::collections::hash_map::RandomState,
    /// Opened on a disk without room: saves are refused until there is room again.
    low_space: AtomicBool,
    reserve: bool,
    /// Entries written (or removed) by saves so far.
    written: AtomicU64,
    _temp: Option<tempfile::TempDir>,
}

fn lock(m: &Mutex<Option<Saved>>) -> std::sync::MutexGuard<'_, Option<Saved>> {
    // What a panicking saver left is `None` (taken at the start of a save): read again.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Opens (or creates) the store in `dir`. On a disk too full for sled to open it, gives up
    /// the reserve file next to it; a store opened that way, or with less than 2 MiB free, is
    /// [`Store::low_space`] and refuses to save until there is room.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, true, None, false)
    }

    /// [`Store::open`], waiting up to two seconds for the directory's lock: a store of this
    /// process closed a moment ago (an earlier analysis of the same directory) holds it until
    /// sled's flusher thread stops. Another process holding it is still refused, later.
    pub fn open_waiting(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, true, None, true)
    }

    fn open_with(
        dir: &Path,
        reserve: bool,
        temp: Option<tempfile::TempDir>,
        wait_for_lock: bool,
    ) -> Result<Store, StoreError> {
        let mode = OpenMode {
            wait_for_lock,
            reserve,
        };
        let (db, released) = open_db(dir, mode)?;
        let low = reserve && (released || !space::has_room(dir));
        if reserve && !low {
            space::keep_reserve(dir);
        }
        let store = Store {
            db: Some(db),
            dir: dir.to_path_buf(),
            path: dir.display().to_string(),
            saved: Mutex::new(None),
            hasher: Default::default(),
            low_space: AtomicBool::new(low),
            reserve,
            written: AtomicU64::new(0),
            _temp: temp,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// A store in a temporary directory removed on drop.
    pub fn temporary() -> Result<Store, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("otwatch-state-")
            .tempdir()
            .map_err(StoreError::Temp)?;
        let path = dir.path().to_path_buf();
        Store::open_with(&path, false, Some(dir), false)
    }

    /// The sled database, for state kept beside the inventory (the uplink outbox, the replay
    /// record).
    pub fn db(&self) -> Result<&sled::Db, StoreError> {
        self.db
            .as_ref()
            .ok_or_else(|| StoreError::Closed(self.path.clone()))
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A sled error of this store as a [`StoreError`]: a full disk names the directory (and
    /// makes the store refuse writes until there is room again).
    pub fn error(&self, e: sled::Error) -> StoreError {
        if space::sled_full(&e) {
            if self.reserve {
                self.low_space.store(true, Ordering::Release);
            }
            self.disk_full()
        } else {
            StoreError::Sled(e)
        }
    }

    fn disk_full(&self) -> StoreError {
        StoreError::DiskFull {
            path: self.path.clone(),
            free: space::available(&self.dir),
        }
    }

    /// The disk was (or is) too full to write: saves are refused until [`Store::has_room`].
    pub fn low_space(&self) -> bool {
        self.low_space.load(Ordering::Acquire)
    }

    /// Whether the file system holding the store has room to take writes again (2 MiB free
    /// beyond the reserve).
    pub fn has_room(&self) -> bool {
        !self.reserve || space::has_room(&self.dir)
    }

    /// Before a write: refuses it while the disk has no room (after a full disk), else keeps
    /// the reserve again.
    pub fn check_room(&self) -> Result<(), StoreError> {
        if !self.low_space() {
            return Ok(());
        }
        if !self.has_room() {
            return Err(self.disk_full());
        }
        space::keep_reserve(&self.dir);
        self.low_space.store(false, Ordering::Release);
        Ok(())
    }

    /// Closes the database and opens it again at its last durable state. Needed after a failed
    /// write: sled keeps the error (and may hold in memory what it could not write) until the
    /// database is opened again. Every other handle on [`Store::db`] (the uplink's outbox)
    /// must be dropped first. When opening fails the store stays closed ([`StoreError::Closed`])
    /// until a later call succeeds.
    pub fn reopen(&mut self) -> Result<(), StoreError> {
        self.db = None;
        *lock(&self.saved) = None;
        let mode = OpenMode {
            wait_for_lock: true,
            reserve: self.reserve,
        };
        let (db, released) = open_db(&self.dir, mode)?;
        self.db = Some(db);
        let low = self.reserve && (released || !space::has_room(&self.dir));
        self.low_space.store(low, Ordering::Release);
        if self.reserve && !low {
            space::keep_reserve(&self.dir);
        }
        Ok(())
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db()?.open_tree(name).map_err(|e| self.error(e))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db()?.flush().map(|_| ()).map_err(|e| self.error(e))
    }

    fn hash(&self, bytes: &[u8]) -> u64 {
        self.hasher.hash_one(bytes)
    }

    /// Forgets the stored inventory and statistics (an interrupted replay starts over), in one
    /// transaction.
    pub fn clear_inventory(&self) -> Result<(), StoreError> {
        self.check_room()?;
        let mut slot = lock(&self.saved);
        slot.take();
        let (assets, links, meta) = (
            self.tree("assets")?,
            self.tree("links")?,
            self.tree("meta")?,
        );
        let keys = |t: &sled::Tree| -> Result<Vec<IVec>, StoreError> {
            t.iter()
                .keys()
                .collect::<Result<_, _>>()
                .map_err(|e| self.error(e))
        };
        let (ak, lk) = (keys(&assets)?, keys(&links)?);
        (&assets, &links, &meta)
            .transaction(|(a, l, m)| {
                for k in &ak {
                    a.remove(k.clone())?;
                }
                for k in &lk {
                    l.remove(k.clone())?;
                }
                for k in SAVED_META {
                    m.remove(k)?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        *slot = Some(Saved::default());
        Ok(())
    }

    fn tx_error(&self, e: TransactionError<()>) -> StoreError {
        match e {
            TransactionError::Storage(e) => self.error(e),
            TransactionError::Abort(()) => {
                StoreError::Sled(sled::Error::Unsupported("transaction aborted".into()))
            }
        }
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = self.tree("meta")?;
        match meta.get(SCHEMA_KEY).map_err(|e| self.error(e))? {
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA).map_err(|e| self.error(e))?;
                Ok(())
            }
            Some(v) if v.as_ref() == SCHEMA => Ok(()),
            Some(v) => Err(StoreError::Schema {
                path: self.path.clone(),
                found: String::from_utf8_lossy(&v).into_owned(),
            }),
        }
    }

    /// The policy learned by `run --learn-for` (TOML text), if one was.
    pub fn policy(&self) -> Result<Option<String>, StoreError> {
        let meta = self.tree("meta")?;
        Ok(meta
            .get(POLICY_KEY)
            .map_err(|e| self.error(e))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Keeps a learned policy (TOML text), flushed.
    pub fn save_policy(&self, toml: &str) -> Result<(), StoreError> {
        self.check_room()?;
        let meta = self.tree("meta")?;
        meta.insert(POLICY_KEY, toml.as_bytes())
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// Loads the inventory and the capture statistics saved so far.
    pub fn load(&self) -> Result<(Inventory, Option<CaptureStats>), StoreError> {
        let mut inv = Inventory::default();
        let mut saved = Saved::default();
        for kv in self.tree("assets")?.iter() {
            let (k, v) = kv.map_err(|e| self.error(e))?;
            saved.assets.note(self.hash(&k), &k, self.hash(&v));
            let key = String::from_utf8_lossy(&k).into_owned();
            if let Some(ip) = key.strip_prefix("ip:") {
                // `<ip>` untagged (as before VLANs were kept), `<ip>%vlan<id>` tagged.
                let ip: HostKey = ip.parse().map_err(|e: String| damaged(&key, &e))?;
                inv.hosts.insert(ip, decode::<HostFacts>(&key, &v)?);
            } else if let Some(m) = key.strip_prefix("mac:") {
                let m: Mac = m.parse().map_err(|e: String| damaged(&key, &e))?;
                inv.macs.insert(m, decode::<MacFacts>(&key, &v)?);
            } else {
                return Err(damaged(&key, "unknown key"));
            }
        }
        for kv in self.tree("links")?.iter() {
            let (k, v) = kv.map_err(|e| self.error(e))?;
            saved.links.note(self.hash(&k), &k, self.hash(&v));
            let key = String::from_utf8_lossy(&k).into_owned();
            let ck = ConnKey::from_store_key(&key).ok_or_else(|| damaged(&key, "bad key"))?;
            inv.conns.insert(ck, decode::<ConnFacts>(&key, &v)?);
        }
        let meta = self.tree("meta")?;
        let get = |k: &[u8]| meta.get(k).map_err(|e| self.error(e));
        for k in SAVED_META {
            if let Some(v) = get(k)? {
                saved.meta.note(self.hash(k), k, self.hash(&v));
            }
        }
        if let Some(v) = get(VIOLATIONS_KEY)? {
            inv.violations = decode("violations", &v)?;
        }
        if let Some(v) = get(ALERTS_KEY)? {
            inv.alerts = decode("alerts", &v)?;
            inv.alerts.reindex();
        }
        let stats = match get(STATS_KEY)? {
            Some(v) => Some(decode::<CaptureStats>("stats", &v)?),
            None => None,
        };
        *lock(&self.saved) = Some(saved);
        Ok((inv, stats))
    }

    /// What the trees hold, as hashes (when not known from the last save or load).
    fn read_saved(&self) -> Result<Saved, StoreError> {
        let mut saved = Saved::default();
        for (name, map) in [("assets", &mut saved.assets), ("links", &mut saved.links)] {
            for kv in self.tree(name)?.iter() {
                let (k, v) = kv.map_err(|e| self.error(e))?;
                map.note(self.hash(&k), &k, self.hash(&v));
            }
        }
        let meta = self.tree("meta")?;
        for k in SAVED_META {
            if let Some(v) = meta.get(k).map_err(|e| self.error(e))? {
                saved.meta.note(self.hash(k), k, self.hash(&v));
            }
        }
        Ok(saved)
    }

    /// Notes `key` = `value` in `new`; a write when the store holds something else.
    fn stage(&self, old: &Held, new: &mut Held, key: &[u8], value: Vec<u8>, out: &mut Writes) {
        let (kh, vh) = (self.hash(key), self.hash(&value));
        new.note(kh, key, vh);
        if old.value(kh) != Some(vh) {
            out.push((IVec::from(key), Some(IVec::from(value))));
        }
    }

    /// Removals of the keys held before and not now.
    fn stage_removals(old: &Held, new: &Held, out: &mut Writes) {
        for (kh, &(_, at, len)) in &old.entries {
            if !new.entries.contains_key(kh) {
                out.push((IVec::from(&old.keys[at..at + len]), None));
            }
        }
    }

    /// Makes the store hold `inv` and `stats`, durably: what changed since the last save is
    /// written in one transaction over the three trees, then flushed. On error the store holds
    /// what it held before (a full disk: [`StoreError::DiskFull`], and after a failed write
    /// [`Store::reopen`] is needed before the next save can succeed).
    pub fn save(&self, inv: &Inventory, stats: &CaptureStats) -> Result<(), StoreError> {
        self.check_room()?;
        let mut slot = lock(&self.saved);
        let old = match slot.take() {
            Some(s) => s,
            None => self.read_saved()?,
        };
        let (assets, links, meta) = (
            self.tree("assets")?,
            self.tree("links")?,
            self.tree("meta")?,
        );
        let mut new = Saved {
            assets: Held::with_capacity(inv.hosts.len() + inv.macs.len()),
            links: Held::with_capacity(inv.conns.len()),
            meta: Held::default(),
        };
        let mut aw = Writes::new();
        let mut key = String::new();
        for (ip, h) in &inv.hosts {
            key.clear();
            let _ = write!(key, "ip:{ip}");
            self.stage(
                &old.assets,
                &mut new.assets,
                key.as_bytes(),
                encode(h),
                &mut aw,
            );
        }
        for (m, f) in &inv.macs {
            key.clear();
            let _ = write!(key, "mac:{m}");
            self.stage(
                &old.assets,
                &mut new.assets,
                key.as_bytes(),
                encode(f),
                &mut aw,
            );
        }
        Self::stage_removals(&old.assets, &new.assets, &mut aw);
        let mut lw = Writes::new();
        for (k, c) in &inv.conns {
            let key = k.to_store_key();
            self.stage(
                &old.links,
                &mut new.links,
                key.as_bytes(),
                encode(c),
                &mut lw,
            );
        }
        Self::stage_removals(&old.links, &new.links, &mut lw);
        let mut mw = Writes::new();
        for (k, v) in [
            (STATS_KEY, encode(stats)),
            (VIOLATIONS_KEY, encode(&inv.violations)),
            (ALERTS_KEY, encode(&inv.alerts)),
        ] {
            self.stage(&old.meta, &mut new.meta, k, v, &mut mw);
        }
        if !(aw.is_empty() && lw.is_empty() && mw.is_empty()) {
            (&assets, &links, &meta)
                .transaction(|(a, l, m)| {
                    for (t, writes) in [(a, &aw), (l, &lw), (m, &mw)] {
                        for (k, v) in writes {
                            match v {
                                Some(v) => t.insert(k.clone(), v.clone())?,
                                None => t.remove(k.clone())?,
                            };
                        }
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                })
                .map_err(|e| self.tx_error(e))?;
            self.flush()?;
            let n = aw.len() + lw.len() + mw.len();
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        *slot = Some(new);
        Ok(())
    }

    /// Bytes kept in memory to know what the store holds (the keys and two hashes per entry),
    /// roughly.
    pub fn held_bytes(&self) -> usize {
        lock(&self.saved).as_ref().map_or(0, |s| {
            [&s.assets, &s.links, &s.meta]
                .iter()
                .map(|h| h.keys.capacity() + h.entries.capacity() * (8 + 24 + 1))
                .sum()
        })
    }

    /// Entries written or removed by saves since the store was opened.
    pub fn entries_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Serialising plain data structs to JSON cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| damaged(key, &e.to_string()))
}

fn damaged(key: &str, detail: &str) -> StoreError {
    StoreError::Damaged {
        key: key.to_string(),
        detail: detail.to_string(),
    }
}

/// Adds the statistics of a new run to those of earlier runs.
pub fn merge_stats(earlier: Option<CaptureStats>, now: CaptureStats) -> CaptureStats {
    let Some(mut e) = earlier else { return now };
    e.packets += now.packets;
    e.bytes += now.bytes;
    e.flows += now.flows;
    e.decode_errors += now.decode_errors;
    // Compare as times: the text forms differ in length (µs or ns fractions).
    let parse = |s: &str| otwatch_common::Timestamp::parse_rfc3339(s);
    if e.first_packet.is_empty()
        || parse(&now.first_packet).is_some_and(|n| parse(&e.first_packet).is_none_or(|o| n < o))
    {
        e.first_packet = now.first_packet;
    }
    if parse(&now.last_packet).is_some_and(|n| parse(&e.last_packet).is_none_or(|o| n > o)) {
        e.last_packet = now.last_packet;
    }
    for (k, v) in now.decode_errors_by_kind {
        *e.decode_errors_by_kind.entry(k).or_default() += v;
    }
    for (k, v) in now.limits {
        *e.limits.entry(k).or_default() += v;
    }
    for s in now.sources {
        match e
            .sources
            .iter_mut()
            .find(|o| o.interface == s.interface && o.queue == s.queue)
        {
            Some(o) => {
                let mut sum = LiveCounters::of(o);
                sum.add(&LiveCounters::of(&s));
                *o = sum.source(&s.interface, s.queue, s.mode);
            }
            None => e.sources.push(s),
        }
    }
    e.sources
        .sort_by(|a, b| (&a.interface, a.queue).cmp(&(&b.interface, b.queue)));
    e
}

#[cfg(test)]
mod tests;
