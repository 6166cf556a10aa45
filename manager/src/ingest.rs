//! The single writer of sensor data: every Sync stream hands its batches to one thread, which
//! applies whatever is waiting in one store transaction and one flush (a group commit) and
//! passes the group on to a second thread, which replays it into the fleet view and only then
//! answers each stream, which acks its sensor. The two threads form a pipeline: the store
//! commits the next group while the view takes in the last one.
//!
//! One writer instead of one per stream: on a small machine a hundred streams that each apply
//! and flush their own batch spend their time waiting for the store's lock and being scheduled
//! in and out while holding it. Here the async threads only decode and encode; the writer works
//! through the queue without contention, and a busier queue makes bigger, cheaper groups.

use crate::store::{Applied, Batch, FleetStore, StoreError};
use crate::view::{FleetView, Replay};
use otwatch_proto::v1::Delta;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// A group stops growing at this many deltas (a transaction's write set stays bounded).
const MAX_GROUP_DELTAS: usize = 20_000;

struct Job {
    sensor: String,
    /// `DeltaBatch.after_seq`.
    after: Option<u64>,
    deltas: Vec<Delta>,
    now: i64,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// The writer thread and its queue.
pub struct Ingest {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
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
        let (tx, rx) = mpsc::channel::<Job>();
        // Bounded: the store gets at most a couple of groups ahead of the view.
        let (to_view, from_store) = mpsc::sync_channel::<Committed>(2);
        let viewing = store.clone();
        let viewer = std::thread::Builder::new()
            .name("otwatch-view".into())
            .spawn(move || viewer(&*viewing, &view, &from_store))?;
        let writer = std::thread::Builder::new()
            .name("otwatch-ingest".into())
            .spawn(move || writer(&*store, &rx, &to_view))?;
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
        {
            let tx = self.tx.lock().map_err(|_| stopped())?;
            tx.as_ref()
                .ok_or_else(stopped)?
                .send(job)
                .map_err(|_| stopped())?;
        }
        answer.await.map_err(|_| stopped())?
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

fn writer(store: &dyn FleetStore, rx: &mpsc::Receiver<Job>, to_view: &mpsc::SyncSender<Committed>) {
    while let Ok(first) = rx.recv() {
        let mut size = first.deltas.len();
        let mut jobs = vec![first];
        while size < MAX_GROUP_DELTAS {
            match rx.try_recv() {
                Ok(j) => {
                    size += j.deltas.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
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
        let committed: Committed = match results {
            Ok(results) => jobs.into_iter().zip(results).collect(),
            Err(e) => {
                tracing::warn!(error = %e, batches = jobs.len(), "applying a group of batches failed");
                jobs.into_iter().map(|j| (j, Err(e.again()))).collect()
            }
        };
        if to_view.send(committed).is_err() {
            return; // the viewer is gone: nobody can be answered
        }
    }
}

fn viewer(store: &dyn FleetStore, view: &FleetView, rx: &mpsc::Receiver<Committed>) {
    while let Ok(group) = rx.recv() {
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
