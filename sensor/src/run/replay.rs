//! `run --pcap`: capture files through the same snapshot/commit/outbox path as live workers.

use super::{Msg, RunError, RunOptions, Snapshot, Speed};
use crate::capture::pcap::CaptureFile;
use crate::capture::PacketSource;
use crate::inventory::Inventory;
use crate::pipeline::Pipeline;
use crate::store::{Store, StoreError};
use otwatch_common::model::CaptureStats;
use otwatch_common::Timestamp;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The replay record kept in the store (tree `replay`): which files, whether the replay
/// finished, and whether it started from an empty state.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ReplayRecord {
    inputs: Vec<String>,
    done: bool,
    from_empty: bool,
}

const REPLAY_KEY: &[u8] = b"replay";

fn replay_inputs(opts: &RunOptions) -> Vec<String> {
    opts.pcap
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect()
}

/// The inventory a replay starts from: the stored one, except when the last replay of the
/// same files started from an empty state and was interrupted (killed): then it starts over
/// from empty, so a restart gives the result of one whole replay rather than one and a half.
pub(super) fn replay_base(
    store: &Store,
    opts: &RunOptions,
    base: Inventory,
    earlier: Option<CaptureStats>,
) -> Result<(Inventory, Option<CaptureStats>), RunError> {
    // A replay on a disk without room would end without storing anything: say so now.
    store.check_room()?;
    let tree = store
        .db()?
        .open_tree("replay")
        .map_err(|e| store.error(e))?;
    let inputs = replay_inputs(opts);
    let rec: Option<ReplayRecord> = tree
        .get(REPLAY_KEY)
        .map_err(|e| store.error(e))?
        .and_then(|v| serde_json::from_slice(&v).ok());
    if rec.is_some_and(|r| !r.done && r.from_empty && r.inputs == inputs) {
        tracing::warn!("the last replay of these files was interrupted; starting it over");
        store.clear_inventory()?;
        return Ok((Inventory::default(), None));
    }
    let rec = ReplayRecord {
        inputs,
        done: false,
        from_empty: base == Inventory::default() && earlier.is_none(),
    };
    tree.insert(REPLAY_KEY, serde_json::to_vec(&rec).unwrap_or_default())
        .map_err(|e| store.error(e))?;
    tree.flush().map_err(|e| store.error(e))?;
    Ok((base, earlier))
}

/// Records that the replay finished (a later run of the same files continues from it).
pub(super) fn mark_replay_done(store: &Store, opts: &RunOptions) -> Result<(), StoreError> {
    let rec = ReplayRecord {
        inputs: replay_inputs(opts),
        done: true,
        from_empty: false,
    };
    store.check_room()?;
    let tree = store
        .db()?
        .open_tree("replay")
        .map_err(|e| store.error(e))?;
    tree.insert(REPLAY_KEY, serde_json::to_vec(&rec).unwrap_or_default())
        .map_err(|e| store.error(e))?;
    tree.flush().map_err(|e| store.error(e))?;
    Ok(())
}

/// The replay thread: capture files through one pipeline, answering commit requests like a
/// live worker.
pub(super) struct Replayer {
    pub(super) files: Vec<PathBuf>,
    pub(super) speed: Speed,
    pub(super) pipeline: Pipeline,
    pub(super) tx: mpsc::Sender<Msg>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) epoch: Arc<AtomicU64>,
    pub(super) answered: u64,
    pub(super) next_tick: Instant,
    pub(super) detect: Arc<crate::detect::SharedConfig>,
    pub(super) detect_seen: u64,
}

impl Replayer {
    fn send(&mut self, epoch: u64, with_inventory: bool) -> bool {
        let inventory = with_inventory.then(|| {
            self.pipeline.checkpoint();
            self.pipeline.inventory.clone()
        });
        let stats = self.pipeline.capture_stats();
        self.tx
            .send(Msg::Snapshot(Box::new(Snapshot {
                worker: 0,
                epoch,
                inventory,
                stats,
            })))
            .is_ok()
    }

    /// A capture file is not a capture, corrupt or truncated: logged, and counted for the exit
    /// status.
    fn input_error(&self, e: String) {
        tracing::error!("{e}");
        let _ = self.tx.send(Msg::Input(e));
    }

    /// Answers a pending commit request; false when the committer is gone or asks to stop.
    fn answer(&mut self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        let e = self.epoch.load(Ordering::Acquire);
        if e != self.answered {
            self.answered = e;
            return self.send(e, true);
        }
        if Instant::now() >= self.next_tick {
            self.next_tick = Instant::now() + Duration::from_secs(1);
            return self.send(0, false);
        }
        true
    }

    /// Sleeps until `t`, answering commit requests; false to stop.
    fn wait_until(&mut self, t: Instant) -> bool {
        loop {
            let now = Instant::now();
            if now >= t {
                return true;
            }
            std::thread::sleep((t - now).min(Duration::from_millis(50)));
            if !self.answer() {
                return false;
            }
            // A paced replay may sit in one batch for long: take new detection files now.
            self.detect
                .refresh(&mut self.pipeline.detector, &mut self.detect_seen);
        }
    }

    pub(super) fn run(mut self) {
        'files: for path in std::mem::take(&mut self.files) {
            // (first packet time, when it was replayed): each file is paced by its own
            // clock, so a gap between two captures is not slept through.
            let mut clock: Option<(Timestamp, Instant)> = None;
            let mut src = match CaptureFile::open(&path) {
                Ok(s) => s,
                Err(e) => {
                    self.input_error(e.to_string());
                    continue;
                }
            };
            loop {
                if !self.answer() {
                    break 'files;
                }
                self.detect
                    .refresh(&mut self.pipeline.detector, &mut self.detect_seen);
                let batch = match src.next_batch() {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) => {
                        self.input_error(e.to_string());
                        break;
                    }
                };
                for f in batch.iter() {
                    if let Speed::Paced(factor) = self.speed {
                        let (t0, i0) = *clock.get_or_insert((f.ts, Instant::now()));
                        let dt = f.ts.0.saturating_sub(t0.0) as f64 / 1e9 / factor;
                        let due = i0 + Duration::from_secs_f64(dt.min(1e9));
                        if due > Instant::now() + Duration::from_millis(1) && !self.wait_until(due)
                        {
                            break 'files;
                        }
                    }
                    self.pipeline.frame(&f);
                }
            }
        }
        self.pipeline.finish();
        self.send(u64::MAX, true);
    }
}
