//! The store-and-forward outbox, in the sensor's own sled database.
//!
//! Trees:
//! - `outbox`: big-endian `u64` sequence number → prost-encoded [`Delta`]. Iteration order is
//!   sequence order, which is send order.
//! - `outbox_meta`: `next` (next sequence number), `acked` (highest sequence the manager
//!   acknowledged), `count` (entries in `outbox`), `deferred_total` (see below).
//! - `outbox_index`: coalescing key (`a:<asset id>`, `c:<connection key>`, `status`) → the
//!   sequence number of the queued entry for it. A newer upsert deletes the older queued one;
//!   the manager accepts the gap (sequence numbers only have to increase). Alerts are never
//!   coalesced.
//! - `sent_hash`: coalescing key → hash of the content last enqueued ([`super::diff`]).
//! - `deferred`: coalescing keys whose upsert waits for room (below).
//!
//! Every enqueue writes the entries, the index, the hashes and the counters in one sled
//! transaction, then flushes: after a crash either all of a change is queued (and its hash
//! recorded) or none of it is, and the next commit's diff finds it again. Nothing is lost and
//! nothing is queued twice.
//!
//! **When full** (`uplink.outbox_max` entries): upserts (assets, removals, connections, status)
//! that would add an entry are *deferred*, not dropped: their key goes into `deferred` and their
//! hash is not recorded, so every later diff of the current inventory offers them again, and
//! they are enqueued, with their content as of then, as soon as acknowledgements free room.
//! An upsert that replaces a queued one always goes in (it does not grow the outbox). Alerts
//! are always enqueued, even beyond the bound. `deferred_total` counts deferrals (exported as
//! `SensorStatus.outbox_dropped` and `otwatch_uplink_outbox_deferred_total`); a warning is
//! logged once per full episode.

use otwatch_proto::v1::{delta, Delta};
use prost::Message;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

const NEXT: &[u8] = b"next";
const ACKED: &[u8] = b"acked";
const COUNT: &[u8] = b"count";
const DEFERRED_TOTAL: &[u8] = b"deferred_total";
/// Changes per transaction: keeps a first commit of a large inventory from building one
/// enormous transaction. Each change is atomic with its hash, which is all that matters.
const CHUNK: usize = 512;
/// Encoded bytes per batch (well under gRPC's default 4 MiB message limit).
const BATCH_BYTES: usize = 1 << 20;

/// What [`Outbox::enqueue`] records about a change's content once it is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentHash {
    /// Nothing (status).
    Keep,
    /// The content hash of this upsert.
    Set(Vec<u8>),
    /// Forget the key (asset removed).
    Remove,
}

/// One change to queue.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Coalescing key: `a:<asset id>`, `c:<connection key>`, `status`, `l:<alert id>`.
    pub key: String,
    pub change: delta::Change,
    /// Upserts replace the queued older entry of the same key (a new alert is queued without coalescing, so it is never deferred).
    pub coalesce: bool,
    pub sent: SentHash,
}

/// What an enqueue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueOutcome {
    pub enqueued: u64,
    /// Older queued entries deleted because a newer one of the same key came.
    pub replaced: u64,
    /// Upserts deferred because the outbox was full.
    pub deferred: u64,
}

/// The outbox trees of one sensor database.
#[derive(Debug)]
pub struct Outbox {
    db: sled::Db,
    entries: sled::Tree,
    meta: sled::Tree,
    index: sled::Tree,
    sent: sled::Tree,
    deferred: sled::Tree,
    max: u64,
    full: AtomicBool,
    /// The newest sequence number known to be on disk: only those are sent, so a failed
    /// flush (a full disk) can never have sent what a reopened store no longer holds.
    durable: std::sync::atomic::AtomicU64,
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn num(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

fn storage<E: std::fmt::Debug>(e: TransactionError<E>) -> sled::Error {
    match e {
        TransactionError::Storage(s) => s,
        TransactionError::Abort(a) => sled::Error::Unsupported(format!("aborted: {a:?}")),
    }
}

impl Outbox {
    /// Opens the outbox trees in `db`; `max` bounds the queued entries (see the module doc).
    pub fn open(db: &sled::Db, max: u64) -> Result<Outbox, sled::Error> {
        let o = Outbox {
            db: db.clone(),
            entries: db.open_tree("outbox")?,
            meta: db.open_tree("outbox_meta")?,
            index: db.open_tree("outbox_index")?,
            sent: db.open_tree("sent_hash")?,
            deferred: db.open_tree("deferred")?,
            max: max.max(1),
            full: AtomicBool::new(false),
            durable: std::sync::atomic::AtomicU64::new(0),
        };
        o.mark_durable();
        Ok(o)
    }

    /// Everything numbered so far is on disk (after a flush, or as opened).
    fn mark_durable(&self) {
        self.durable.store(self.last_seq(), Ordering::Release);
    }

    fn get(&self, k: &[u8]) -> u64 {
        num(self.meta.get(k).ok().flatten())
    }

    /// The sequence number of the newest entry ever queued (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.get(NEXT).saturating_sub(1)
    }
    /// The highest sequence number the manager acknowledged.
    pub fn acked(&self) -> u64 {
        self.get(ACKED)
    }
    /// Entries queued and not acknowledged.
    pub fn backlog(&self) -> u64 {
        self.get(COUNT)
    }
    /// Upserts deferred because the outbox was full, since the store was created.
    pub fn deferred_total(&self) -> u64 {
        self.get(DEFERRED_TOTAL)
    }
    /// Upserts waiting for room now.
    pub fn deferred_now(&self) -> usize {
        self.deferred.len()
    }
    /// True when nothing waits: every delta acknowledged and nothing deferred.
    pub fn is_drained(&self) -> bool {
        self.backlog() == 0 && self.deferred.is_empty()
    }

    /// Content hashes of everything enqueued so far, by coalescing key.
    pub fn sent_hashes(&self) -> Result<HashMap<String, sled::IVec>, sled::Error> {
        let mut out = HashMap::with_capacity(self.sent.len());
        for kv in self.sent.iter() {
            let (k, v) = kv?;
            out.insert(String::from_utf8_lossy(&k).into_owned(), v);
        }
        Ok(out)
    }

    /// Queues `changes` (in order) stamped `at`, then flushes to disk.
    pub fn enqueue(&self, changes: Vec<Entry>, at: &str) -> Result<EnqueueOutcome, sled::Error> {
        let mut total = EnqueueOutcome::default();
        for chunk in changes.chunks(CHUNK) {
            let o = self.enqueue_chunk(chunk, at)?;
            total.enqueued += o.enqueued;
            total.replaced += o.replaced;
            total.deferred += o.deferred;
        }
        self.db.flush()?;
        self.mark_durable();
        if total.deferred > 0 && !self.full.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max = self.max,
                "the uplink outbox is full (uplink.outbox_max entries): asset and connection updates are deferred and will be sent from the inventory as the manager acknowledges; nothing is lost (metric otwatch_uplink_outbox_deferred_total)"
            );
        } else if total.deferred == 0
            && self.deferred.is_empty()
            && self.full.swap(false, Ordering::Relaxed)
        {
            tracing::info!("the uplink outbox has room again; deferred updates are queued");
        }
        Ok(total)
    }

    fn enqueue_chunk(&self, chunk: &[Entry], at: &str) -> Result<EnqueueOutcome, sled::Error> {
        let max = self.max;
        let trees = (
            &self.entries,
            &self.meta,
            &self.index,
            &self.sent,
            &self.deferred,
        );
        trees
            .transaction(|(entries, meta, index, sent, deferred)| {
                let mut out = EnqueueOutcome::default();
                let mut next = num(meta.get(NEXT)?).max(1);
                let mut count = num(meta.get(COUNT)?);
                let mut deferred_total = num(meta.get(DEFERRED_TOTAL)?);
                for e in chunk {
                    let key = e.key.as_bytes();
                    let mut replaced = false;
                    if e.coalesce {
                        if let Some(old) = index.get(key)? {
                            if entries.remove(old)?.is_some() {
                                count = count.saturating_sub(1);
                                replaced = true;
                                out.replaced += 1;
                            }
                        }
                        if !replaced && count >= max {
                            if deferred.insert(key, &[] as &[u8])?.is_none() {
                                deferred_total += 1;
                            }
                            out.deferred += 1;
                            continue;
                        }
                    }
                    let seq = next;
                    next += 1;
                    let d = Delta {
                        seq,
                        at: at.to_string(),
                        change: Some(e.change.clone()),
                    };
                    entries.insert(&be(seq), d.encode_to_vec())?;
                    count += 1;
                    out.enqueued += 1;
                    if e.coalesce {
                        index.insert(key, &be(seq))?;
                        deferred.remove(key)?;
                    }
                    match &e.sent {
                        SentHash::Keep => {}
                        SentHash::Set(h) => {
                            sent.insert(key, h.as_slice())?;
                        }
                        SentHash::Remove => {
                            sent.remove(key)?;
                        }
                    }
                }
                meta.insert(NEXT, &be(next))?;
                meta.insert(COUNT, &be(count))?;
                meta.insert(DEFERRED_TOTAL, &be(deferred_total))?;
                Ok::<_, ConflictableTransactionError<()>>(out)
            })
            .map_err(storage)
    }

    /// Up to `limit` deltas with sequence numbers above `after`, in order (and at most about
    /// 1 MiB of them).
    pub fn batch_after(&self, after: u64, limit: usize) -> Result<Vec<Delta>, sled::Error> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let durable = self.durable.load(Ordering::Acquire);
        if durable <= after {
            return Ok(out);
        }
        for kv in self
            .entries
            .range(be(after.saturating_add(1))..=be(durable))
        {
            let (k, v) = kv?;
            if out.len() >= limit || (bytes + v.len() > BATCH_BYTES && !out.is_empty()) {
                break;
            }
            bytes += v.len();
            match Delta::decode(v.as_ref()) {
                Ok(d) => out.push(d),
                Err(e) => tracing::error!(
                    seq = num(Some(k)),
                    "an outbox entry cannot be decoded ({e}); skipping it"
                ),
            }
        }
        Ok(out)
    }

    /// The manager has applied more than this outbox ever numbered (the sensor's state was
    /// replaced while its identity was kept): renumbers the queued entries after `applied` so
    /// that the manager does not take them for resends. Their order is kept.
    pub fn skip_past(&self, applied: u64) -> Result<u64, sled::Error> {
        if applied < self.get(NEXT).max(1) {
            return Ok(0);
        }
        loop {
            // A commit may enqueue meanwhile: then the transaction sees another `next`,
            // aborts, and the entries are read again.
            let seen = self.get(NEXT);
            let queued: Vec<(sled::IVec, sled::IVec)> =
                self.entries.iter().collect::<Result<_, _>>()?;
            match self.renumber(&queued, applied, seen) {
                Ok(n) => {
                    self.db.flush()?;
                    self.mark_durable();
                    return Ok(n);
                }
                Err(TransactionError::Abort(())) => continue,
                Err(TransactionError::Storage(e)) => return Err(e),
            }
        }
    }

    fn renumber(
        &self,
        queued: &[(sled::IVec, sled::IVec)],
        applied: u64,
        seen: u64,
    ) -> Result<u64, TransactionError<()>> {
        (&self.entries, &self.meta).transaction(|(entries, meta)| {
            if num(meta.get(NEXT)?) != seen {
                return Err(ConflictableTransactionError::Abort(()));
            }
            let mut next = applied + 1;
            for (k, v) in queued {
                entries.remove(k)?;
                let mut d = match Delta::decode(v.as_ref()) {
                    Ok(d) => d,
                    Err(_) => continue,
                };
                d.seq = next;
                entries.insert(&be(next), d.encode_to_vec())?;
                next += 1;
            }
            let moved = next - (applied + 1);
            meta.insert(NEXT, &be(next))?;
            meta.insert(COUNT, &be(moved))?;
            meta.insert(ACKED, &be(applied))?;
            Ok(moved)
        })
    }

    /// The manager applied everything up to `applied`: those entries go.
    pub fn ack(&self, applied: u64) -> Result<u64, sled::Error> {
        let keys: Vec<sled::IVec> = self
            .entries
            .range(..=be(applied))
            .keys()
            .collect::<Result<_, _>>()?;
        if keys.is_empty() && applied <= self.acked() {
            return Ok(0);
        }
        let mut removed_total = 0;
        let chunks: Vec<&[sled::IVec]> = if keys.is_empty() {
            vec![&[]]
        } else {
            keys.chunks(CHUNK).collect()
        };
        for chunk in chunks {
            removed_total += (&self.entries, &self.meta)
                .transaction(|(entries, meta)| {
                    let mut removed = 0u64;
                    for k in chunk {
                        if entries.remove(k)?.is_some() {
                            removed += 1;
                        }
                    }
                    let count = num(meta.get(COUNT)?).saturating_sub(removed);
                    meta.insert(COUNT, &be(count))?;
                    let acked = num(meta.get(ACKED)?).max(applied);
                    meta.insert(ACKED, &be(acked))?;
                    Ok::<_, ConflictableTransactionError<()>>(removed)
                })
                .map_err(storage)?;
        }
        Ok(removed_total)
    }
}

#[cfg(test)]
mod tests;
