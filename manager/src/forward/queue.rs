//! The destinations' durable queues in the fleet store's sled database:
//! - `forward_queue`: `<destination> NUL <id, u64 big-endian>` → [`Queued`] (JSON), oldest
//!   first (ids increase);
//! - `forward_stats`: `<destination> NUL in` → [`InStats`], `<destination> NUL out` →
//!   [`OutStats`] (JSON);
//! - `forward_dead`: same keys as the queue → [`DeadLetter`] (JSON).
//!
//! Events are queued inside the transaction that applies a change
//! ([`crate::store::routing`]); the delivery side
//! ([`crate::store::FleetStore::forward_pending`] and `forward_done`) in its own.

use super::{Event, ForwardStats};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A waiting event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    /// Unix seconds it was queued at.
    pub at: i64,
    pub event: Event,
}

/// An event a destination refused for good.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeadLetter {
    pub destination: String,
    /// Unix seconds it was refused at.
    pub at: i64,
    pub reason: String,
    pub event: Event,
}

/// What became of events handed out by `forward_pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Delivered,
    /// Moved to the dead letters, with the reason.
    Dead(String),
    /// Still queued; the attempt failed for this reason.
    Failed(String),
}

/// The key prefix of `dest`'s entries.
pub fn prefix(dest: &str) -> Vec<u8> {
    let mut k = dest.as_bytes().to_vec();
    k.push(0);
    k
}

/// The key of entry `id` of `dest`.
pub fn key(dest: &str, id: u64) -> Vec<u8> {
    let mut k = prefix(dest);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The id in an entry's key.
pub fn id_of(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|i| key[i..].try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// The queueing side's counters of a destination (`<destination> NUL "in"`), written only by
/// the transactions that queue events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InStats {
    pub enqueued_total: u64,
    pub bytes_in: u64,
    pub overflowed_total: u64,
}

/// The delivery side's counters (`<destination> NUL "out"`), written only by the delivery
/// task. Kept apart from [`InStats`] so that delivering never conflicts with applying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutStats {
    pub delivered_total: u64,
    pub dead_total: u64,
    pub bytes_out: u64,
    pub failures_total: u64,
    pub last_error: String,
    pub last_error_at: i64,
    pub last_delivered_at: i64,
    /// Seconds delivered events waited in the queue, summed (with `delivered_total`, the
    /// mean delivery latency).
    pub delivery_seconds_total: u64,
    /// Events removed from the queue undelivered by retention (older than the forwarding
    /// queues' limit).
    pub expired_total: u64,
}

/// What one retention pass over the forwarding queues did ([`crate::store::FleetStore::forward_expire`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// Queue entries and dead letters removed.
    pub removed: u64,
    /// Queue entries and dead letters held after it.
    pub held: u64,
    /// When the oldest of those was queued or refused (Unix seconds).
    pub oldest: Option<i64>,
}

/// The key of `dest`'s counters of one side (`in`, `out`).
pub fn stats_key(dest: &str, side: &str) -> Vec<u8> {
    let mut k = prefix(dest);
    k.extend_from_slice(side.as_bytes());
    k
}

pub fn decode<T: for<'a> Deserialize<'a> + Default>(v: Option<&[u8]>) -> T {
    v.and_then(|v| serde_json::from_slice(v).ok())
        .unwrap_or_default()
}

/// Both sides' counters as one [`ForwardStats`] (`oldest_at` left for the caller).
pub fn combine(i: &InStats, o: &OutStats) -> ForwardStats {
    let taken = o.delivered_total + o.dead_total + o.expired_total;
    ForwardStats {
        queued: i.enqueued_total.saturating_sub(taken),
        bytes: i.bytes_in.saturating_sub(o.bytes_out),
        enqueued_total: i.enqueued_total,
        delivered_total: o.delivered_total,
        overflowed_total: i.overflowed_total,
        dead_total: o.dead_total,
        failures_total: o.failures_total,
        last_error: o.last_error.clone(),
        last_error_at: o.last_error_at,
        last_delivered_at: o.last_delivered_at,
        delivery_seconds_total: o.delivery_seconds_total,
        expired_total: o.expired_total,
        oldest_at: 0,
    }
}

/// Every destination's delivery counters, read outside a transaction: what [`route_all`]
/// bounds the queues with. Read before the queueing transaction, so a delivery meanwhile only
/// makes a queue look fuller than it is (never above its bound).
pub fn out_snapshot(stats: &sled::Tree) -> Result<HashMap<String, OutStats>, sled::Error> {
    let mut out = HashMap::new();
    for kv in stats.iter() {
        let (k, v) = kv?;
        if let Some(dest) = k.strip_suffix(b"\0out") {
            out.insert(String::from_utf8_lossy(dest).into_owned(), decode(Some(&v)));
        }
    }
    Ok(out)
}
