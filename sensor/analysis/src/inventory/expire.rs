//! Retention: what the sensor has not seen for long is forgotten.
//!
//! Hosts, MAC addresses and connections whose last packet is older than the retention, and
//! alerts whose last occurrence is, are removed and counted in [`super::Shed`]
//! (`hosts_expired`, ...). Time is packet time, passed in (the latest packet the sensor has
//! seen), never the wall clock: the same capture forgets the same entries. Entries with no
//! packet time (named by a DNS answer only) are kept; they are bounded by the caps.

use super::Inventory;
use otwatch_common::Timestamp;

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// How long the inventory keeps what it no longer sees (`[inventory]` `retain_unseen_days`,
/// `retain_alerts_days` in sensor.toml); `None`: forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryRetention {
    /// Hosts, MACs and connections, after their last packet, in nanoseconds.
    pub unseen_ns: Option<u64>,
    /// Alerts, after their last occurrence, in nanoseconds.
    pub alerts_ns: Option<u64>,
}

impl Default for InventoryRetention {
    /// 180 days unseen, alerts 90 days: as the manager keeps them (docs/RETENTION.md).
    fn default() -> Self {
        InventoryRetention {
            unseen_ns: Some(180 * DAY_NS),
            alerts_ns: Some(90 * DAY_NS),
        }
    }
}

impl Inventory {
    /// Forgets what was last seen before `now` minus the retention (see the module notes).
    pub fn expire(&mut self, now: Timestamp, r: &InventoryRetention) {
        let cutoff = |limit: Option<u64>| limit.and_then(|l| now.0.checked_sub(l)).map(Timestamp);
        if let Some(before) = cutoff(r.unseen_ns) {
            let old = |last: Option<Timestamp>| last.is_some_and(|l| l < before);
            let n = self.hosts.len();
            self.hosts.retain(|_, h| !old(h.counters.last));
            self.shed.hosts_expired += (n - self.hosts.len()) as u64;
            let n = self.macs.len();
            self.macs.retain(|_, m| !old(m.counters.last));
            self.shed.macs_expired += (n - self.macs.len()) as u64;
            let n = self.conns.len();
            self.conns.retain(|_, c| !old(c.counters.last));
            self.shed.conns_expired += (n - self.conns.len()) as u64;
        }
        if let Some(before) = cutoff(r.alerts_ns) {
            self.shed.alerts_expired += self.alerts.forget_before(before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ConnFacts, ConnKey, HostFacts, HostKey, MacFacts};
    use otwatch_common::Mac;

    fn at(days: u64) -> Timestamp {
        Timestamp(1_700_000_000_000_000_000 + days * DAY_NS)
    }

    #[test]
    fn entries_older_than_the_retention_go_newer_and_timeless_ones_stay() {
        let mut inv = Inventory::default();
        let host = |days: Option<u64>| {
            let mut h = HostFacts::default();
            if let Some(d) = days {
                h.counters.add(1, 60, at(d), at(d));
            }
            h
        };
        let ip = |n: u8| HostKey::new(Default::default(), std::net::IpAddr::from([10, 0, 0, n]));
        inv.hosts.insert(ip(1), host(Some(0)));
        inv.hosts.insert(ip(2), host(Some(10)));
        inv.hosts.insert(ip(3), host(None));
        let mut m = MacFacts::default();
        m.counters.add(1, 60, at(0), at(0));
        inv.macs.insert(Mac([2, 0, 0, 0, 0, 1]), m);
        let mut c = ConnFacts::default();
        c.counters.add(1, 60, at(10), at(10));
        let key = ConnKey {
            lan: Default::default(),
            client: [10, 0, 0, 1].into(),
            server: [10, 0, 0, 2].into(),
            transport: 6,
            port: 502,
        };
        inv.conns.insert(key, c);
        let r = InventoryRetention {
            unseen_ns: Some(10 * DAY_NS),
            alerts_ns: None,
        };
        // Day 20: day 10 is exactly the limit old and stays; day 0 goes.
        inv.expire(at(20), &r);
        assert_eq!(
            inv.hosts.keys().copied().collect::<Vec<_>>(),
            vec![ip(2), ip(3)]
        );
        assert!(inv.macs.is_empty());
        assert_eq!(inv.conns.len(), 1);
        assert_eq!(
            (
                inv.shed.hosts_expired,
                inv.shed.macs_expired,
                inv.shed.conns_expired
            ),
            (1, 1, 0)
        );
        // Forever keeps everything.
        inv.expire(
            at(1000),
            &InventoryRetention {
                unseen_ns: None,
                alerts_ns: None,
            },
        );
        assert_eq!(inv.hosts.len(), 2);
    }
}
