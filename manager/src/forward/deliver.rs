//! Delivery: one task per destination sends its queue's oldest events, in order, and removes
//! them once the destination took them. A failure pauses the destination (exponential backoff
//! between its `retry_min_ms` and `retry_max_ms`) with the events kept; a batch refused for
//! good is sent again one event at a time, so only the refused event goes to the dead letters.

use super::config::DestinationConfig;
use super::queue::Done;
use super::sinks::Sink;
use super::{Outcome, Router};
use crate::store::FleetStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Events sent together at most.
pub const BATCH: usize = 100;
/// How often an idle destination looks at its queue.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// The running delivery tasks.
#[derive(Debug, Default)]
pub struct Deliveries {
    tasks: Vec<JoinHandle<()>>,
}

impl Deliveries {
    /// Starts a task for each destination `router` has, until `stop` turns true.
    pub fn start(
        store: Arc<dyn FleetStore>,
        router: &Router,
        stop: &watch::Sender<bool>,
    ) -> Deliveries {
        let cfg = router.config();
        let tasks = cfg
            .destinations
            .iter()
            .map(|d| {
                let (store, d, stop) = (store.clone(), d.clone(), stop.subscribe());
                tokio::spawn(run(store, d, stop))
            })
            .collect();
        Deliveries { tasks }
    }

    /// Stops every task now (what is queued stays queued).
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Runs a store call on the blocking pool; its error as text.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Waits `d`, or returns true when the manager stops first.
pub(crate) async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

/// How often a destination looks for events its full queue could not take.
const OVERFLOW_CHECK: Duration = Duration::from_secs(10);

/// Logs events that did not fit in a destination's queue (they are counted in the store by
/// the transaction that refused them; this says so in the log too).
#[derive(Default)]
struct Overflow {
    seen: Option<u64>,
    at: Option<tokio::time::Instant>,
}

impl Overflow {
    async fn check(&mut self, store: &Arc<dyn FleetStore>, name: &str) {
        if self.at.is_some_and(|t| t.elapsed() < OVERFLOW_CHECK) {
            return;
        }
        self.at = Some(tokio::time::Instant::now());
        let s = store.clone();
        let Ok(all) = blocking(move || s.forward_stats()).await else {
            return;
        };
        let now = all
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, s)| s.overflowed_total);
        if let Some(before) = self.seen {
            if now > before {
                warn!(destination = %name, lost = now - before, overflowed_total = now, "the destination's queue is full: events were not queued for it (raise queue_max_events / queue_max_bytes, or bring the destination back)");
            }
        } else if now > 0 {
            warn!(destination = %name, overflowed_total = now, "events did not fit in this destination's queue before (see `otwatch forwards`)");
        }
        self.seen = Some(now);
    }
}

/// Delivers `d`'s queue until the manager stops.
async fn run(store: Arc<dyn FleetStore>, d: DestinationConfig, mut stop: watch::Receiver<bool>) {
    let name = d.name.clone();
    let min = Duration::from_millis(d.queue.retry_min_ms);
    let max = Duration::from_millis(d.queue.retry_max_ms);
    let mut sink = loop {
        match Sink::build(&d) {
            Ok(s) => break s,
            Err(e) => {
                warn!(destination = %name, error = %e, "cannot set up the forwarding destination; its events wait");
                let (s, n, why) = (store.clone(), name.clone(), e.clone());
                let _ = blocking(move || s.forward_done(&n, &[], &Done::Failed(why))).await;
                if pause(max, &mut stop).await {
                    return;
                }
            }
        }
    };
    let mut backoff = min;
    // After a refusal: this many events go one at a time.
    let mut singles = 0usize;
    let mut failing = false;
    let mut overflow = Overflow::default();
    loop {
        if *stop.borrow() {
            return;
        }
        overflow.check(&store, &name).await;
        let (s, n) = (store.clone(), name.clone());
        let take = if singles > 0 { 1 } else { BATCH };
        let pending = match blocking(move || s.forward_pending(&n, take)).await {
            Ok(p) => p,
            Err(e) => {
                warn!(destination = %name, error = %e, "cannot read the forwarding queue");
                if pause(max, &mut stop).await {
                    return;
                }
                continue;
            }
        };
        if pending.is_empty() {
            if pause(IDLE_POLL, &mut stop).await {
                return;
            }
            continue;
        }
        let (ids, events): (Vec<u64>, Vec<_>) = pending.into_iter().unzip();
        let outcome = tokio::select! {
            o = sink.send(&events) => o,
            _ = stop.wait_for(|s| *s) => return,
        };
        let done = match &outcome {
            Outcome::Delivered => Done::Delivered,
            Outcome::Refused(why) if events.len() == 1 => Done::Dead(why.clone()),
            Outcome::Refused(_) => {
                singles = events.len();
                continue;
            }
            Outcome::Retry(why) => Done::Failed(why.clone()),
        };
        if !matches!(done, Done::Failed(_)) {
            singles = singles.saturating_sub(ids.len());
        }
        let (s, n, dn) = (store.clone(), name.clone(), done.clone());
        if let Err(e) = blocking(move || s.forward_done(&n, &ids, &dn)).await {
            warn!(destination = %name, error = %e, "cannot record a delivery; the events are sent again");
        }
        match done {
            Done::Failed(why) => {
                if !failing {
                    warn!(destination = %name, error = %why, "forwarding failed; the events wait and are sent again");
                }
                failing = true;
                if pause(backoff, &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(max);
            }
            Done::Dead(why) => {
                warn!(destination = %name, reason = %why, "the destination refused an event for good; it is in the dead letters (otwatch forwards dead-letters DESTINATION)");
            }
            Done::Delivered => {
                if failing {
                    info!(destination = %name, "forwarding works again");
                }
                failing = false;
                backoff = min;
            }
        }
    }
}
