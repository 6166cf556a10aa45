//! The forwarding queues as a retention kind (`forwarding_queues`, docs/RETENTION.md): events
//! that waited longer than the limit for a destination that never took them, and dead letters
//! older than it, are removed in durable batches. Removed queue entries are counted as expired
//! in their destination's counters (`otwatch forwards list`, metrics), never dropped silently.

use crate::retention::{Enforced, ExternalKind};
use crate::store::FleetStore;
use std::sync::{Arc, Weak};

/// Queue entries and dead letters removed per durable write.
const BATCH: usize = 1000;

/// The forwarding queues of a store, kept for `limit` seconds (`None`: forever).
pub struct Queues {
    /// Weak: a retention run must not keep a stopped manager's store (and its lock) alive.
    store: Weak<dyn FleetStore>,
    limit: Option<i64>,
}

impl Queues {
    pub fn new(store: &Arc<dyn FleetStore>, limit: Option<i64>) -> Queues {
        Queues {
            store: Arc::downgrade(store),
            limit,
        }
    }
}

impl ExternalKind for Queues {
    fn name(&self) -> &str {
        "forwarding_queues"
    }

    fn limit(&self) -> Option<i64> {
        self.limit
    }

    fn enforce(&self, cutoff: Option<i64>) -> Result<Enforced, String> {
        let store = self
            .store
            .upgrade()
            .ok_or_else(|| "the manager stopped".to_string())?;
        let mut removed = 0;
        loop {
            // Without a limit nothing is older than the cutoff: the pass only counts.
            let pass = store
                .forward_expire(cutoff.unwrap_or(i64::MIN), BATCH)
                .map_err(|e| e.to_string())?;
            removed += pass.removed;
            if pass.removed < BATCH as u64 {
                return Ok(Enforced {
                    held: pass.held,
                    oldest: pass.oldest,
                    removed,
                    removed_total: None,
                });
            }
        }
    }
}
