//! The single writer of sensor data: every Sync stream hands its batches to one thread, which
//! applies whatever is waiting in one store transaction and one flush (a group commit) and
//! passes the group on to a second thread, which replays it into the fleet view and only then
//! answers each stream, which acks its sensor. The two threads form a pipeline: the store
//! commits the next group while the view takes in the last one.
//!
//! Retention's removals ([`Ingest::remove_expired`]) go through the same two threads, in
//! order with the batches: a record a batch renews after retention found it is kept (the store
//! checks its age again), and the view drops an asset only after every batch before the
//! removal and before any batch after it.
//!
//! One writer instead of one per stream: on a small machine a hundred streams that each apply
//! and flush their own batch spend their time waiting for the store's lock and being scheduled
//! in and out while holding it. Here the async threads only decode and encode; the writer works
//! through the queue without contention, and a busier queue makes bigger, cheaper groups.

use crate::store::{Applied, Batch, FleetStore, Removed, StoreError, StoredKind};
use crate::view::{FleetView, Replay};
use otwatch_proto::v1::Delta;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// A group stops growing at this many deltas. Smaller groups keep the pipeline full: the view
/// takes in one while the store commits the next, and a transaction's write set stays small
/// (its cost per write grows with it). 5,000 against 20,000 took durable ingest at 100 sensors /
/// 100 k assets from 58-90 k to 115-127 k deltas/s on sled and from 79 k to 109 k on
/// PostgreSQL; 2,000-3,000 did as well as 5,000.
const MAX_GROUP_DELTAS: usize = 5_000;

struct Job {
    sensor: String,
    /// `DeltaBatch.after_seq`.
    after: Option<u64>,
    deltas: Vec<Delta>,
    now: i64,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// Retention's removal of records past their limit.
struct Prune {
    kind: StoredKind,
    keys: Vec<Vec<u8>>,
    cutoff: i64,
    reply: oneshot::Sender<Result<Vec<Removed>, StoreError>>,
}

/// What the writer is asked to do.
enum Work {
    Batch(Job),
    Prune(Prune),
}

/// What the writer did, on its way to the view.
enum Done {
    Batches(Committed),
    Pruned {
        kind: StoredKind,
        reply: oneshot::Sender<Result<Vec<Removed>, StoreError>>,
        removed: Result<Vec<Removed>, StoreError>,
    },
}

/// The writer thread and its queue.
pub struct Ingest {
    tx: Mutex<Option<mpsc::Sender<Work>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A committed group on its way to the view: each job with what the store did with it.
type Committed = Vec<(Job, Result<Applied, StoreError>)>;

fn stopped() -> StoreError {
    StoreError::Sled("the manager is stopping; the sensor sends this batch again".into())
}

impl Ingest {
    /// Starts the writer over `store`, keeping `view` up to date.
    pub fn start(store: Arc<dyn FleetStore>, view: Arc<FleetView>) -> std::io::Result<Ingest> {
        let (tx, rx) = mpsc::channel::<Work>();
        // Bounded: the store gets at most a couple of groups ahead of the view.
        let (to_view, from_store) = mpsc::sync_channel::<Done>(2);
        let viewing = store.clone();
        let noting = view.clone();
        let viewer = std::thread::Builder::new()
            .name("otwatch-view".into())
            .spawn(move || viewer(&*viewing, &view, &from_store))?;
        let writer = std::thread::Builder::new()
            .name("otwatch-ingest".into())
            .spawn(move || writer(&*store, &noting, &rx, &to_view))?;
        Ok(Ingest {
            tx: Mutex::new(Some(tx)),
            threads: Mutex::new(vec![writer, viewer]),
        })
    }

    /// Applies one sensor's batch durably (with whatever else is waiting) and into the fleet
    /// view; what the store applied, once both are done. `after`: the sequence number the
    /// batch continues from (see [`Batch`]).
    pub async fn apply(
        &self,
        sensor: &str,
        after: Option<u64>,
        deltas: Vec<Delta>,
        now: i64,
    ) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            sensor: sensor.to_string(),
            after,
            deltas,
            now,
            reply,
        };
        self.send(Work::Batch(job))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Removes the records of `kind` at `keys` still older than `cutoff`
    /// ([`FleetStore::remove_expired`]) and drops removed assets from the fleet view, in order
    /// with the batches; what was removed.
    pub async fn remove_expired(
        &self,
        kind: StoredKind,
        keys: Vec<Vec<u8>>,
        cutoff: i64,
    ) -> Result<Vec<Removed>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Prune(Prune {
            kind,
            keys,
            cutoff,
            reply,
        }))?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, work: Work) -> Result<(), StoreError> {
        let tx = self.tx.lock().map_err(|_| stopped())?;
        tx.as_ref()
            .ok_or_else(stopped)?
            .send(work)
            .map_err(|_| stopped())
    }

    /// Lets the writer finish what is queued, then stops it (it holds the store).
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        // The writer ends when its queue closes, the viewer when the writer is gone.
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer(
    store: &dyn FleetStore,
    view: &FleetView,
    rx: &mpsc::Receiver<Work>,
    to_view: &mpsc::SyncSender<Done>,
) {
    // A removal that ended a group, to do next.
    let mut next: Option<Work> = None;
    loop {
        let first = match next.take() {
            Some(w) => w,
            None => match rx.recv() {
                Ok(w) => w,
                Err(_) => return,
            },
        };
        let done = match first {
            Work::Prune(p) => Done::Pruned {
                kind: p.kind,
                removed: store.remove_expired(p.kind, &p.keys, p.cutoff),
                reply: p.reply,
            },
            Work::Batch(first) => {
                let mut size = first.deltas.len();
                let mut jobs = vec![first];
                while size < MAX_GROUP_DELTAS {
                    match rx.try_recv() {
                        Ok(Work::Batch(j)) => {
                            size += j.deltas.len();
                            jobs.push(j);
                        }
                        // In order: the group ends before the removal.
                        Ok(prune) => {
                            next = Some(prune);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let group = commit(store, jobs);
                for (job, r) in &group {
                    if let Ok(applied) = r {
                        let _ = view.committed(&job.sensor, applied.applied_seq);
                    }
                }
                Done::Batches(group)
            }
        };
        if to_view.send(done).is_err() {
            return; // the viewer is gone: nobody can be answered
        }
    }
}

/// Applies a group of batches in one transaction.
fn commit(store: &dyn FleetStore, jobs: Vec<Job>) -> Committed {
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
    let batches: Vec<Batch<'_>> = jobs
        .iter()
        .map(|j| Batch {
            sensor: &j.sensor,
            after: j.after,
            deltas: &j.deltas,
        })
        .collect();
    let results = store.apply_batches(&batches, now);
    drop(batches);
    match results {
        Ok(results) => jobs.into_iter().zip(results).collect(),
        Err(e) => {
            tracing::warn!(error = %e, batches = jobs.len(), "applying a group of batches failed");
            jobs.into_iter().map(|j| (j, Err(e.again()))).collect()
        }
    }
}

fn viewer(store: &dyn FleetStore, view: &FleetView, rx: &mpsc::Receiver<Done>) {
    while let Ok(done) = rx.recv() {
        let group = match done {
            Done::Batches(group) => group,
            Done::Pruned {
                kind,
                reply,
                removed,
            } => {
                let r = removed.and_then(|removed| {
                    view.removed(store, kind, &removed)?;
                    Ok(removed)
                });
                let _ = reply.send(r);
                continue;
            }
        };
        for (job, r) in group {
            // The view takes only what the store committed (never a resend or a refused batch).
            let r = r.and_then(|applied| {
                let batch = Replay {
                    sensor: job.sensor,
                    previous_seq: applied.previous_seq,
                    applied_seq: applied.applied_seq,
                    deltas: applied.committed(job.deltas),
                };
                view.applied(store, &applied.site, batch)?;
                Ok(applied)
            });
            let _ = job.reply.send(r);
        }
    }
}
