//! Retention in the running sensor ([`crate::inventory::expire`]): each worker forgets what it
//! has not seen within the retention at every snapshot, and the committer does the same to the
//! inventory loaded at start, all against the latest packet time any worker has seen (so a
//! worker whose queue is quiet still forgets). What is forgotten leaves the store at the commit
//! and goes to the manager as a removal.
//!
//! Live capture only: a replay of capture files (`run --pcap`) keeps everything, as `analyze`
//! does. Captures of different years replayed side by side are not devices gone quiet, and
//! the replay never notes a packet time here, so the committer forgets nothing either.

use crate::inventory::{Inventory, InventoryRetention};
use crate::pipeline::Pipeline;
use otwatch_common::Timestamp;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The retention and the latest packet time, shared by the workers and the committer.
#[derive(Debug, Clone)]
pub(super) struct Expiry {
    retention: InventoryRetention,
    latest: Arc<AtomicU64>,
}

impl Expiry {
    pub(super) fn new(retention: InventoryRetention) -> Expiry {
        Expiry {
            retention,
            latest: Arc::default(),
        }
    }

    /// Forgets in a worker's inventory (after its checkpoint), noting its latest packet.
    pub(super) fn worker(&self, p: &mut Pipeline) {
        if let Some(last) = p.stats.last {
            self.latest.fetch_max(last.0, Ordering::AcqRel);
        }
        self.expire(&mut p.inventory);
    }

    /// Forgets in `inv` against the latest packet any worker has seen (none yet: nothing).
    pub(super) fn expire(&self, inv: &mut Inventory) {
        let now = self.latest.load(Ordering::Acquire);
        if now > 0 {
            inv.expire(Timestamp(now), &self.retention);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{HostFacts, HostKey};

    const DAY_NS: u64 = 86_400 * 1_000_000_000;

    fn host(at: u64) -> HostFacts {
        let mut h = HostFacts::default();
        h.counters.add(1, 60, Timestamp(at), Timestamp(at));
        h
    }

    #[test]
    fn a_quiet_worker_and_the_base_forget_by_the_latest_packet_of_any_worker() {
        let e = Expiry::new(InventoryRetention {
            unseen_ns: Some(10 * DAY_NS),
            alerts_ns: None,
        });
        let ip = |n: u8| HostKey::new(Default::default(), std::net::IpAddr::from([10, 0, 0, n]));
        let mut base = Inventory::default();
        base.hosts.insert(ip(1), host(DAY_NS));
        // Nothing seen yet: nothing forgotten.
        e.expire(&mut base);
        assert_eq!(base.hosts.len(), 1);
        // A busy worker's packet on day 20; a quiet one last heard of day 5.
        let mut busy = Pipeline::default();
        busy.stats.last = Some(Timestamp(20 * DAY_NS));
        busy.inventory.hosts.insert(ip(2), host(20 * DAY_NS));
        e.worker(&mut busy);
        let mut quiet = Pipeline::default();
        quiet.stats.last = Some(Timestamp(5 * DAY_NS));
        quiet.inventory.hosts.insert(ip(3), host(5 * DAY_NS));
        e.worker(&mut quiet);
        assert!(quiet.inventory.hosts.is_empty());
        assert_eq!(quiet.inventory.shed.hosts_expired, 1);
        assert_eq!(busy.inventory.hosts.len(), 1);
        e.expire(&mut base);
        assert!(base.hosts.is_empty());
    }
}
