//! The sensor's persistent state in sled.
//!
//! Trees: `assets` (raw facts per address, keys `ip:<ip>` and `mac:<mac>`), `links`
//! (connection facts, key `client|server|proto|port`) and `meta` (schema version and the
//! capture statistics so far). Values are JSON so the store can be inspected and survives
//! field additions. A later run loads everything, continues, and writes it back in one batch
//! per tree.

use crate::inventory::{ConnFacts, ConnKey, HostFacts, Inventory, MacFacts};
use otwatch_common::model::CaptureStats;
use otwatch_common::Mac;
use std::net::IpAddr;
use std::path::Path;

const SCHEMA_KEY: &[u8] = b"schema";
const SCHEMA: &[u8] = b"otwatch.sensor.store.v1";
const STATS_KEY: &[u8] = b"stats";
const VIOLATIONS_KEY: &[u8] = b"violations";
const ALERTS_KEY: &[u8] = b"alerts";
const POLICY_KEY: &[u8] = b"policy";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the state store at {path}: {source}; check the directory is writable and not used by another otwatch process")]
    Open {
        path: String,
        #[source]
        source: sled::Error,
    },
    #[error("state store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("state store at {path} was written by another version ({found}); use a new --state directory")]
    Schema { path: String, found: String },
    #[error("state store entry {key:?} is damaged: {detail}; move the --state directory aside and start a new one")]
    Damaged { key: String, detail: String },
    #[error("cannot create a temporary state store: {0}")]
    Temp(#[source] std::io::Error),
}

/// The sled database behind a sensor's state.
#[derive(Debug)]
pub struct Store {
    db: sled::Db,
    path: String,
    _temp: Option<tempfile::TempDir>,
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.display().to_string();
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        let store = Store {
            db,
            path,
            _temp: None,
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
        let mut s = Store::open(dir.path())?;
        s._temp = Some(dir);
        Ok(s)
    }

    /// The sled database, for state kept beside the inventory (the uplink outbox).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Forgets the stored inventory and statistics (an interrupted replay starts over).
    pub fn clear_inventory(&self) -> Result<(), StoreError> {
        self.db.open_tree("assets")?.clear()?;
        self.db.open_tree("links")?.clear()?;
        let meta = self.db.open_tree("meta")?;
        meta.remove(STATS_KEY)?;
        meta.remove(VIOLATIONS_KEY)?;
        meta.remove(ALERTS_KEY)?;
        self.db.flush()?;
        Ok(())
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta")?;
        match meta.get(SCHEMA_KEY)? {
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA)?;
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
        let meta = self.db.open_tree("meta")?;
        Ok(meta
            .get(POLICY_KEY)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Keeps a learned policy (TOML text), flushed.
    pub fn save_policy(&self, toml: &str) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta")?;
        meta.insert(POLICY_KEY, toml.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Loads the inventory and the capture statistics saved so far.
    pub fn load(&self) -> Result<(Inventory, Option<CaptureStats>), StoreError> {
        let mut inv = Inventory::default();
        for kv in self.db.open_tree("assets")?.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            if let Some(ip) = key.strip_prefix("ip:") {
                let ip: IpAddr = ip.parse().map_err(|_| damaged(&key, "bad address"))?;
                inv.hosts.insert(ip, decode::<HostFacts>(&key, &v)?);
            } else if let Some(m) = key.strip_prefix("mac:") {
                let m: Mac = m.parse().map_err(|e: String| damaged(&key, &e))?;
                inv.macs.insert(m, decode::<MacFacts>(&key, &v)?);
            } else {
                return Err(damaged(&key, "unknown key"));
            }
        }
        for kv in self.db.open_tree("links")?.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let ck = ConnKey::from_store_key(&key).ok_or_else(|| damaged(&key, "bad key"))?;
            inv.conns.insert(ck, decode::<ConnFacts>(&key, &v)?);
        }
        let meta = self.db.open_tree("meta")?;
        if let Some(v) = meta.get(VIOLATIONS_KEY)? {
            inv.violations = decode("violations", &v)?;
        }
        if let Some(v) = meta.get(ALERTS_KEY)? {
            inv.alerts = decode("alerts", &v)?;
            inv.alerts.reindex();
        }
        let stats = match meta.get(STATS_KEY)? {
            Some(v) => Some(decode::<CaptureStats>("stats", &v)?),
            None => None,
        };
        Ok((inv, stats))
    }

    /// Replaces the stored inventory and statistics, then flushes to disk.
    pub fn save(&self, inv: &Inventory, stats: &CaptureStats) -> Result<(), StoreError> {
        let assets = self.db.open_tree("assets")?;
        let mut batch = sled::Batch::default();
        for (ip, h) in &inv.hosts {
            batch.insert(format!("ip:{ip}").as_bytes(), encode(h));
        }
        for (m, f) in &inv.macs {
            batch.insert(format!("mac:{m}").as_bytes(), encode(f));
        }
        assets.apply_batch(batch)?;
        let links = self.db.open_tree("links")?;
        let mut batch = sled::Batch::default();
        for (k, c) in &inv.conns {
            batch.insert(k.to_store_key().as_bytes(), encode(c));
        }
        links.apply_batch(batch)?;
        let meta = self.db.open_tree("meta")?;
        meta.insert(STATS_KEY, encode(stats))?;
        meta.insert(VIOLATIONS_KEY, encode(&inv.violations))?;
        meta.insert(ALERTS_KEY, encode(&inv.alerts))?;
        self.db.flush()?;
        Ok(())
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
                o.mode = s.mode;
                o.packets += s.packets;
                o.bytes += s.bytes;
                o.kernel_drops += s.kernel_drops;
                o.freezes += s.freezes;
                o.rx_ring_full += s.rx_ring_full;
                o.fill_ring_empty += s.fill_ring_empty;
                o.invalid_descs += s.invalid_descs;
            }
            None => e.sources.push(s),
        }
    }
    e.sources
        .sort_by(|a, b| (&a.interface, a.queue).cmp(&(&b.interface, b.queue)));
    e
}
