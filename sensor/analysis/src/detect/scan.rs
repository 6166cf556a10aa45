//! Scan detection: one source probing many hosts or many ports in a short time.
//!
//! Counted are failed attempts only (a TCP connection never accepted, a datagram never
//! answered) plus ICMP echo requests and, separately, identification requests to industrial
//! servers: busy clients that connect to many servers successfully are not scanners, but a
//! sweep meets mostly silence and a port scan mostly resets. Per source, distinct targets are
//! counted in a window of packet time; state is bounded in sources and targets.

use crate::hash::{Map, Set};
use otwatch_common::Timestamp;
use std::net::IpAddr;

/// Thresholds of the scan detector.
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    /// Distinct hosts probed (failed attempts or echo requests) within the window.
    pub hosts: usize,
    /// Distinct ports of one host probed within the window.
    pub ports: usize,
    /// Distinct industrial servers asked to identify themselves within the window.
    pub ics_hosts: usize,
    pub window_ns: u64,
    /// Sources tracked at once.
    pub max_sources: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            hosts: 25,
            ports: 25,
            ics_hosts: 3,
            window_ns: 60_000_000_000,
            max_sources: 1 << 16,
        }
    }
}

/// What a source did that made it a scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Many hosts: how many in the window, and a sample of the ports tried.
    Sweep { hosts: usize, ports: Vec<u16> },
    /// Many ports of one host.
    PortScan {
        host: IpAddr,
        ports: usize,
        sample: Vec<u16>,
    },
    /// Many industrial servers asked to identify themselves.
    IcsDiscovery {
        hosts: usize,
        protocols: Vec<&'static str>,
    },
}

/// Counts kept over one window of packet time, begun afresh once the window has passed.
#[derive(Debug, Default)]
struct Window<T> {
    start: Timestamp,
    counts: T,
}

impl<T: Default> Window<T> {
    /// The counts of the window `ts` falls in: empty again when `ts` is past the current one.
    fn at(&mut self, ts: Timestamp, window_ns: u64) -> &mut T {
        if ts.0 > self.start.0.saturating_add(window_ns) {
            *self = Window {
                start: ts,
                counts: T::default(),
            };
        }
        &mut self.counts
    }
}

/// Failed attempts: the hosts tried, the ports tried per host, and a sample of all ports.
#[derive(Debug, Default)]
struct Probes {
    hosts: Set<IpAddr>,
    ports: Map<IpAddr, Set<u16>>,
    sample_ports: Vec<u16>,
}

/// Industrial servers asked to identify themselves, and over which protocols.
#[derive(Debug, Default)]
struct Identifies {
    hosts: Set<IpAddr>,
    protocols: Vec<&'static str>,
}

#[derive(Debug, Default)]
struct Source {
    probes: Window<Probes>,
    identifies: Window<Identifies>,
    last: Timestamp,
}

/// Per-source probe counters.
#[derive(Debug, Default)]
pub struct ScanWatch {
    sources: Map<IpAddr, Source>,
}

impl ScanWatch {
    fn source(&mut self, lim: &ScanLimits, src: IpAddr, ts: Timestamp) -> &mut Source {
        if self.sources.len() >= lim.max_sources && !self.sources.contains_key(&src) {
            self.prune(lim, ts);
        }
        let s = self.sources.entry(src).or_default();
        s.last = s.last.max(ts);
        s
    }

    /// Drops sources quiet for a window; if that is not enough, the quieter half.
    fn prune(&mut self, lim: &ScanLimits, now: Timestamp) {
        self.sources
            .retain(|_, s| now.0.saturating_sub(s.last.0) <= lim.window_ns);
        if self.sources.len() >= lim.max_sources {
            let mut lasts: Vec<u64> = self.sources.values().map(|s| s.last.0).collect();
            let mid = lasts.len() / 2;
            lasts.select_nth_unstable(mid);
            let cut = lasts.get(mid).copied().unwrap_or(0);
            self.sources.retain(|_, s| s.last.0 > cut);
        }
    }

    /// A failed attempt (or echo request) from `src` to `dst:port` at `ts`.
    pub fn probe(
        &mut self,
        lim: &ScanLimits,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        ts: Timestamp,
    ) -> Option<Finding> {
        let s = self.source(lim, src, ts).probes.at(ts, lim.window_ns);
        if s.hosts.len() <= lim.hosts {
            s.hosts.insert(dst);
        }
        if s.sample_ports.len() < 16 && port != 0 && !s.sample_ports.contains(&port) {
            s.sample_ports.push(port);
        }
        let ports = if s.ports.len() <= lim.hosts {
            let p = s.ports.entry(dst).or_default();
            if p.len() <= lim.ports {
                p.insert(port);
            }
            p.len()
        } else {
            0
        };
        if ports >= lim.ports {
            let mut sample: Vec<u16> = s
                .ports
                .get(&dst)
                .map(|p| p.iter().copied().collect())
                .unwrap_or_default();
            sample.sort_unstable();
            sample.truncate(16);
            return Some(Finding::PortScan {
                host: dst,
                ports,
                sample,
            });
        }
        if s.hosts.len() >= lim.hosts {
            let mut p = s.sample_ports.clone();
            p.sort_unstable();
            return Some(Finding::Sweep {
                hosts: s.hosts.len(),
                ports: p,
            });
        }
        None
    }

    /// `src` asked the industrial server `dst` to identify itself.
    pub fn identify(
        &mut self,
        lim: &ScanLimits,
        src: IpAddr,
        dst: IpAddr,
        protocol: &'static str,
        ts: Timestamp,
    ) -> Option<Finding> {
        let s = self.source(lim, src, ts).identifies.at(ts, lim.window_ns);
        if s.hosts.len() <= lim.ics_hosts {
            s.hosts.insert(dst);
        }
        if !s.protocols.contains(&protocol) && s.protocols.len() < 8 {
            s.protocols.push(protocol);
        }
        (s.hosts.len() >= lim.ics_hosts).then(|| {
            let mut p = s.protocols.clone();
            p.sort_unstable();
            Finding::IcsDiscovery {
                hosts: s.hosts.len(),
                protocols: p,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn port_scan_and_sweep_and_quiet_clients() {
        let lim = ScanLimits::default();
        let mut w = ScanWatch::default();
        let t = |s: u64| Timestamp::from_secs_nanos(s, 0);
        let mut found = None;
        for p in 1..=30u16 {
            found = found.or(w.probe(&lim, ip("10.0.0.66"), ip("10.0.0.5"), p, t(100)));
        }
        assert!(matches!(found, Some(Finding::PortScan { ports: 25, .. })));
        let mut found = None;
        for h in 1..=30u8 {
            found = found.or(w.probe(
                &lim,
                ip("10.0.1.66"),
                IpAddr::from([10, 0, 2, h]),
                502,
                t(100),
            ));
        }
        assert!(matches!(found, Some(Finding::Sweep { hosts: 25, .. })));
        // Slow probing: one a minute never adds up.
        for h in 1..=30u8 {
            assert!(w
                .probe(
                    &lim,
                    ip("10.0.3.66"),
                    IpAddr::from([10, 0, 2, h]),
                    502,
                    t(1000 + 61 * u64::from(h))
                )
                .is_none());
        }
    }

    #[test]
    fn sources_are_bounded() {
        let lim = ScanLimits {
            max_sources: 1000,
            ..ScanLimits::default()
        };
        let mut w = ScanWatch::default();
        for i in 0..100_000u32 {
            let src = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            w.probe(
                &lim,
                src,
                ip("10.9.9.9"),
                80,
                Timestamp::from_secs_nanos(10, u64::from(i)),
            );
        }
        assert!(w.sources.len() <= 1000);
    }
}
