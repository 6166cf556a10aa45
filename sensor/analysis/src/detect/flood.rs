//! Flood detection: many unanswered attempts at one host in a short time (a SYN flood, a
//! UDP flood, spoofed or not), and floods that fill the sensor's own tables.
//!
//! A scan is one source trying many targets; a flood is many attempts (often from many
//! spoofed sources) at one target, which the scan detector cannot see because each source
//! tries once. Per destination, failed attempts are counted in a window of packet time; the
//! alert says how many and from how many distinct sources (counted up to a cap). State is
//! bounded in targets.

use crate::hash::{Map, Set};
use otwatch_common::Timestamp;
use std::net::IpAddr;

/// Thresholds of the flood detector.
#[derive(Debug, Clone, Copy)]
pub struct FloodLimits {
    /// Failed attempts at one host within the window that make a flood.
    pub attempts: u32,
    pub window_ns: u64,
    /// Targets tracked at once.
    pub max_targets: usize,
}

impl Default for FloodLimits {
    fn default() -> Self {
        FloodLimits {
            attempts: 2000,
            window_ns: 10_000_000_000,
            max_targets: 1 << 14,
        }
    }
}

/// Distinct sources are counted up to this many.
pub const MAX_SOURCES: usize = 256;

/// A flood found on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub attempts: u32,
    /// Distinct sources, at most [`MAX_SOURCES`].
    pub sources: usize,
    /// The lowest source seen (the attacker, when there is only one).
    pub a_source: IpAddr,
    /// Target ports tried, a sorted sample.
    pub ports: Vec<u16>,
}

#[derive(Debug)]
struct Target {
    start: Timestamp,
    attempts: u32,
    sources: Set<IpAddr>,
    ports: Vec<u16>,
    last: Timestamp,
}

/// Per-target counters of failed attempts.
#[derive(Debug, Default)]
pub struct FloodWatch {
    targets: Map<IpAddr, Target>,
}

impl FloodWatch {
    /// A failed attempt (a TCP connection never accepted, a datagram never answered) from
    /// `src` at `dst:port`. Returns the flood once, when the attempts reach the threshold in
    /// a window.
    pub fn attempt(
        &mut self,
        lim: &FloodLimits,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        ts: Timestamp,
    ) -> Option<Finding> {
        if self.targets.len() >= lim.max_targets && !self.targets.contains_key(&dst) {
            self.prune(lim, ts);
        }
        let t = self.targets.entry(dst).or_insert_with(|| Target {
            start: ts,
            attempts: 0,
            sources: Set::default(),
            ports: Vec::new(),
            last: ts,
        });
        t.last = t.last.max(ts);
        if ts.0 > t.start.0.saturating_add(lim.window_ns) {
            t.start = ts;
            t.attempts = 0;
            t.sources.clear();
            t.ports.clear();
        }
        t.attempts = t.attempts.saturating_add(1);
        if t.sources.len() < MAX_SOURCES {
            t.sources.insert(src);
        }
        if t.ports.len() < 16 && !t.ports.contains(&port) {
            t.ports.push(port);
        }
        (t.attempts == lim.attempts).then(|| {
            let mut ports = t.ports.clone();
            ports.sort_unstable();
            Finding {
                attempts: t.attempts,
                sources: t.sources.len(),
                a_source: t.sources.iter().min().copied().unwrap_or(src),
                ports,
            }
        })
    }

    /// Drops targets quiet for a window; if that is not enough, the quieter half.
    fn prune(&mut self, lim: &FloodLimits, now: Timestamp) {
        self.targets
            .retain(|_, t| now.0.saturating_sub(t.last.0) <= lim.window_ns);
        if self.targets.len() >= lim.max_targets {
            let mut lasts: Vec<u64> = self.targets.values().map(|t| t.last.0).collect();
            let mid = lasts.len() / 2;
            lasts.select_nth_unstable(mid);
            let cut = lasts.get(mid).copied().unwrap_or(0);
            self.targets.retain(|_, t| t.last.0 > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn many_attempts_at_one_host_are_a_flood_once_per_window() {
        let lim = FloodLimits {
            attempts: 100,
            ..FloodLimits::default()
        };
        let mut w = FloodWatch::default();
        let dst = ip("10.0.0.10");
        let mut found = Vec::new();
        for i in 0..250u32 {
            let src = IpAddr::from([10, 9, (i >> 8) as u8, i as u8]);
            if let Some(f) = w.attempt(&lim, src, dst, 502, Timestamp(u64::from(i) * 1000)) {
                found.push(f);
            }
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].attempts, 100);
        assert_eq!(found[0].sources, 100);
        assert_eq!(found[0].a_source, ip("10.9.0.0"));
        assert_eq!(found[0].ports, vec![502]);
    }

    #[test]
    fn attempts_spread_over_windows_or_targets_are_not_a_flood() {
        let lim = FloodLimits {
            attempts: 100,
            window_ns: 1_000,
            max_targets: 8,
        };
        let mut w = FloodWatch::default();
        // 99 per window, many windows.
        for i in 0..990u64 {
            let ts = Timestamp(i / 99 * 2_000 + i % 99);
            assert_eq!(
                w.attempt(&lim, ip("10.9.0.1"), ip("10.0.0.1"), 80, ts),
                None
            );
        }
        // One attempt each at many targets: bounded state, no flood.
        for i in 0..10_000u32 {
            let dst = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
            assert_eq!(
                w.attempt(&lim, ip("10.9.0.1"), dst, 80, Timestamp(5_000)),
                None
            );
            assert!(w.targets.len() <= 8);
        }
    }
}
