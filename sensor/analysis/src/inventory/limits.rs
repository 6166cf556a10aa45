//! Caps on what the inventory keeps, and what goes first when one is reached.
//!
//! An attacker on the monitored network chooses addresses freely: a spoofed flood makes a new
//! "host" and a new connection per packet. Each table (hosts, MACs, connections) is capped;
//! when a new entry would pass the cap, the least valuable eighth of the table is evicted in
//! one go (amortised: one sort per cap/8 new entries). Value, lowest first:
//!
//! 0. a single-packet address or connection nothing was learned about (scan and flood debris);
//! 1. more traffic, still unidentified;
//! 2. something identified: a protocol, a binding, identity evidence;
//! 3. never evicted: controllers and engineering stations (they serve or speak an industrial
//!    protocol) and connections that carried industrial operations.
//!
//! Within a rank the quietest, then the longest idle, then the lowest key goes first, so the
//! same input evicts the same entries. When only rank-3 entries are left, new entries are
//! refused. Every eviction and refusal is counted and reported in `stats.limits`.

use super::facts::{ConnFacts, Counters, HostFacts, MacFacts};
use super::Inventory;
use otwatch_common::Timestamp;

/// Caps of the inventory (`[inventory]` in sensor.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryLimits {
    /// IP addresses kept.
    pub max_hosts: usize,
    /// MAC addresses kept.
    pub max_macs: usize,
    /// Connections (client, server, transport, port) kept.
    pub max_conns: usize,
}

impl Default for InventoryLimits {
    fn default() -> Self {
        InventoryLimits {
            max_hosts: 100_000,
            max_macs: 100_000,
            max_conns: 300_000,
        }
    }
}

/// What the caps threw away, for `stats.limits`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shed {
    pub hosts_evicted: u64,
    pub hosts_refused: u64,
    pub macs_evicted: u64,
    pub macs_refused: u64,
    pub conns_evicted: u64,
    pub conns_refused: u64,
    /// Forgotten for not being seen within the retention ([`super::expire`]).
    pub hosts_expired: u64,
    pub macs_expired: u64,
    pub conns_expired: u64,
    pub alerts_expired: u64,
}

impl Shed {
    pub fn add(&mut self, o: &Shed) {
        self.hosts_evicted += o.hosts_evicted;
        self.hosts_refused += o.hosts_refused;
        self.macs_evicted += o.macs_evicted;
        self.macs_refused += o.macs_refused;
        self.conns_evicted += o.conns_evicted;
        self.conns_refused += o.conns_refused;
        self.hosts_expired += o.hosts_expired;
        self.macs_expired += o.macs_expired;
        self.conns_expired += o.conns_expired;
        self.alerts_expired += o.alerts_expired;
    }

    /// Non-zero counters under their report names.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("hosts_evicted", self.hosts_evicted),
            ("hosts_refused", self.hosts_refused),
            ("macs_evicted", self.macs_evicted),
            ("macs_refused", self.macs_refused),
            ("conns_evicted", self.conns_evicted),
            ("conns_refused", self.conns_refused),
            ("hosts_expired", self.hosts_expired),
            ("macs_expired", self.macs_expired),
            ("conns_expired", self.conns_expired),
            ("alerts_expired", self.alerts_expired),
        ]
        .into_iter()
        .filter(|(_, v)| *v > 0)
    }
}

/// Rank that is never evicted.
const KEEP: u8 = 3;

/// Protocols whose speakers are never evicted: controllers, RTUs, IEDs and the stations that
/// talk to them.
fn industrial(protocol: &str) -> bool {
    matches!(
        protocol,
        "modbus"
            | "dnp3"
            | "s7comm"
            | "s7comm_plus"
            | "enip"
            | "cip"
            | "bacnet"
            | "iec104"
            | "opcua"
            | "profinet_dcp"
            | "profinet_io"
            | "umas"
            | "omron_fins"
            | "mms"
            | "ads"
            | "slmp"
            | "srtp"
            | "codesys"
            | "c37_118"
            | "hart_ip"
            | "knxip"
            | "fox"
            | "goose"
            | "sv"
            | "ethercat"
    )
}

fn host_rank(h: &HostFacts) -> u8 {
    if h.protocols.iter().any(|p| industrial(&p.0)) {
        KEEP
    } else if !h.evidence.is_empty() || !h.protocols.is_empty() || !h.bound_macs.is_empty() {
        2
    } else if h.counters.packets > 1 {
        1
    } else {
        0
    }
}

fn mac_rank(m: &MacFacts) -> u8 {
    if m.protocols.iter().any(|p| industrial(&p.0)) {
        KEEP
    } else if !m.evidence.is_empty() || m.protocols.iter().any(|p| p.0 != "arp") {
        2
    } else if m.ips.len() + m.bound_ips.len() > 1 || m.counters.packets > 1 {
        1
    } else {
        0
    }
}

fn conn_rank(c: &ConnFacts) -> u8 {
    if !c.operations.is_empty() || !c.accessed.is_empty() || !c.cleartext_logins.is_empty() {
        KEEP
    } else if c.protocol.is_some() {
        2
    } else if c.flows > 1 || c.counters.packets > 1 {
        1
    } else {
        0
    }
}

/// How many entries one eviction round removes.
fn round(max: usize) -> usize {
    (max / 8).max(1)
}

/// The `n` least valuable keys among `(rank, counters, key)`, in key order.
fn victims<K: Ord + Copy>(mut cands: Vec<(u8, u64, Timestamp, K)>, n: usize) -> Vec<K> {
    let n = n.min(cands.len());
    if n == 0 {
        return Vec::new();
    }
    if n < cands.len() {
        cands.select_nth_unstable(n - 1);
        cands.truncate(n);
    }
    let mut keys: Vec<K> = cands.into_iter().map(|c| c.3).collect();
    keys.sort_unstable();
    keys
}

fn cand<K>(rank: u8, c: &Counters, key: K) -> Option<(u8, u64, Timestamp, K)> {
    (rank < KEEP).then(|| (rank, c.packets, c.last.unwrap_or(Timestamp::ZERO), key))
}

impl Inventory {
    /// Room for one more host, evicting if needed; false when the new host must be refused.
    pub(super) fn room_for_host(&mut self, ip: &super::HostKey) -> bool {
        if self.hosts.len() < self.limits.max_hosts || self.hosts.contains_key(ip) {
            return true;
        }
        self.shed_hosts(self.hosts.len() + 1 - self.limits.max_hosts);
        if self.hosts.len() < self.limits.max_hosts {
            return true;
        }
        self.shed.hosts_refused += 1;
        false
    }

    pub(super) fn room_for_mac(&mut self, mac: &otwatch_common::Mac) -> bool {
        if self.macs.len() < self.limits.max_macs || self.macs.contains_key(mac) {
            return true;
        }
        self.shed_macs(self.macs.len() + 1 - self.limits.max_macs);
        if self.macs.len() < self.limits.max_macs {
            return true;
        }
        self.shed.macs_refused += 1;
        false
    }

    pub(super) fn room_for_conn(&mut self, key: &super::ConnKey) -> bool {
        if self.conns.len() < self.limits.max_conns || self.conns.contains_key(key) {
            return true;
        }
        self.shed_conns(self.conns.len() + 1 - self.limits.max_conns);
        if self.conns.len() < self.limits.max_conns {
            return true;
        }
        self.shed.conns_refused += 1;
        false
    }

    /// Brings every table back under its cap (after a merge or a change of limits).
    pub fn enforce_limits(&mut self) {
        let over = |len: usize, max: usize| len.saturating_sub(max);
        let n = over(self.hosts.len(), self.limits.max_hosts);
        if n > 0 {
            self.shed_hosts(n);
        }
        let n = over(self.macs.len(), self.limits.max_macs);
        if n > 0 {
            self.shed_macs(n);
        }
        let n = over(self.conns.len(), self.limits.max_conns);
        if n > 0 {
            self.shed_conns(n);
        }
    }

    /// Evicts at least `need` hosts (a round's worth when that is more), and the connections
    /// they were part of.
    fn shed_hosts(&mut self, need: usize) {
        let cands = self
            .hosts
            .iter()
            .filter_map(|(ip, h)| cand(host_rank(h), &h.counters, *ip))
            .collect();
        let gone: crate::hash::Set<super::HostKey> =
            victims(cands, need.max(round(self.limits.max_hosts)))
                .into_iter()
                .collect();
        if gone.is_empty() {
            return;
        }
        for ip in &gone {
            self.hosts.remove(ip);
        }
        self.shed.hosts_evicted += gone.len() as u64;
        let before = self.conns.len();
        self.conns
            .retain(|k, _| !gone.contains(&k.client_key()) && !gone.contains(&k.server_key()));
        self.shed.conns_evicted += (before - self.conns.len()) as u64;
    }

    fn shed_macs(&mut self, need: usize) {
        let cands = self
            .macs
            .iter()
            .filter_map(|(m, f)| cand(mac_rank(f), &f.counters, *m))
            .collect();
        let gone = victims(cands, need.max(round(self.limits.max_macs)));
        for m in &gone {
            self.macs.remove(m);
        }
        self.shed.macs_evicted += gone.len() as u64;
    }

    fn shed_conns(&mut self, need: usize) {
        let cands = self
            .conns
            .iter()
            .filter_map(|(k, c)| cand(conn_rank(c), &c.counters, *k))
            .collect();
        let gone = victims(cands, need.max(round(self.limits.max_conns)));
        for k in &gone {
            self.conns.remove(k);
        }
        self.shed.conns_evicted += gone.len() as u64;
    }
}
