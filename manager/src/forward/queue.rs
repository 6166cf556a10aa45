//! The destinations' durable queues in the fleet store's sled database:
//! - `forward_queue`: `<destination> NUL <id, u64 big-endian>` → [`Queued`] (JSON), oldest
//!   first (ids increase);
//! - `forward_stats`: `<destination>` → [`ForwardStats`] (JSON);
//! - `forward_dead`: same keys as the queue → [`DeadLetter`] (JSON).
//!
//! [`enqueue`] runs inside the transaction that applies a change; the delivery side
//! ([`crate::store::FleetStore::forward_pending`] and `forward_done`) in its own.

use super::{DestinationConfig, Event, ForwardStats};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

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

pub fn read_stats(v: Option<&[u8]>) -> ForwardStats {
    v.and_then(|v| serde_json::from_slice(v).ok())
        .unwrap_or_default()
}

/// Queues `e` for `dest` within a transaction, or counts it as overflow when the queue holds
/// its bound of events or bytes.
pub fn enqueue(
    queue: &TransactionalTree,
    stats: &TransactionalTree,
    dest: &DestinationConfig,
    e: &Event,
    now: i64,
) -> Result<(), ConflictableTransactionError<crate::store::StoreError>> {
    let v = serde_json::to_vec(&Queued {
        at: now,
        event: e.clone(),
    })
    .unwrap_or_default();
    let mut s = read_stats(stats.get(dest.name.as_bytes())?.as_deref());
    let len = v.len() as u64;
    if s.queued >= dest.queue.queue_max_events || s.bytes + len > dest.queue.queue_max_bytes {
        s.overflowed_total += 1;
    } else {
        let id = stats.generate_id()?;
        queue.insert(key(&dest.name, id), v)?;
        s.queued += 1;
        s.bytes += len;
        s.enqueued_total += 1;
    }
    stats.insert(
        dest.name.as_bytes(),
        serde_json::to_vec(&s).unwrap_or_default(),
    )?;
    Ok(())
}

/// Queues `events` for the destinations `cfg` routes each to.
pub fn route_all(
    queue: &TransactionalTree,
    stats: &TransactionalTree,
    cfg: &super::ForwardConfig,
    events: &[Event],
    now: i64,
) -> Result<(), ConflictableTransactionError<crate::store::StoreError>> {
    for e in events {
        for d in super::route(cfg, e) {
            enqueue(queue, stats, d, e, now)?;
        }
    }
    Ok(())
}
