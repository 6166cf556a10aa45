//! The inventory: what the sensor knows about every address it has seen.
//!
//! It keeps raw facts per unicast IP in its VLAN ([`HostFacts`] by [`HostKey`]), per unicast MAC ([`MacFacts`]) and per
//! connection ([`ConnFacts`]), folded in from flow summaries and observations. Assets are a
//! projection of those facts made when a report is asked for ([`report`]): addresses are tied
//! into devices by ARP/DHCP bindings and by consistent MAC↔IP pairs, identity is chosen from
//! the evidence by source strength. Keeping facts raw makes the inventory mergeable: a later
//! run continues an earlier one by folding more facts into the same maps.

pub mod access;
pub mod assets;
pub mod classify;
pub mod expire;
pub mod facts;
pub mod limits;
pub mod oui;

pub use assets::report;
pub use expire::InventoryRetention;
pub use facts::{ConnFacts, ConnKey, Counters, EvidenceRec, HostFacts, HostKey, MacFacts};
pub use limits::{InventoryLimits, Shed};

use crate::decode::Lan;
use crate::detect::alerts::{AlertBook, BookLimits};
use crate::flow::FlowSummary;
use crate::protocols::FlowCtx;
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Observation, Role, Subject};
use otwatch_common::{Mac, Timestamp};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Raw facts about everything seen. Deterministic: ordered maps, except `conns`, which is
/// looked up once per observation (a hash map: a B-tree search there cost ~8 % of the whole
/// pipeline) and sorted wherever it is read in order ([`Inventory::conns_sorted`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Inventory {
    pub hosts: BTreeMap<HostKey, HostFacts>,
    pub macs: BTreeMap<Mac, MacFacts>,
    pub conns: crate::hash::Map<ConnKey, ConnFacts>,
    /// Protocol violations seen, per protocol.
    pub violations: BTreeMap<String, u64>,
    /// Alerts raised by detection (kept with the facts so they merge, persist and travel).
    pub alerts: AlertBook,
    /// Caps on hosts, MACs and connections.
    pub limits: InventoryLimits,
    /// What the caps evicted or refused (this run's, not stored).
    pub shed: Shed,
}

/// Where an observation came from.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A flow's dissector.
    Flow {
        ctx: &'a FlowCtx,
        /// The flow's capture segment and VLAN.
        lan: Lan,
        protocol: &'static str,
    },
    /// A link-layer frame (ARP, LLDP, CDP) with its source MAC, capture segment and VLAN.
    Frame { src: Mac, ts: Timestamp, lan: Lan },
}

impl Origin<'_> {
    fn ts(&self) -> Timestamp {
        match self {
            Origin::Flow { ctx, .. } => ctx.ts,
            Origin::Frame { ts, .. } => *ts,
        }
    }

    /// The LAN the addresses an observation names are in.
    fn lan(&self) -> Lan {
        match self {
            Origin::Flow { lan, .. } | Origin::Frame { lan, .. } => *lan,
        }
    }
}

/// A host address that can be an asset: unicast, and not a directed broadcast.
fn host_ip(ip: IpAddr) -> Option<IpAddr> {
    is_unicast_ip(&ip).then_some(ip)
}

impl Inventory {
    /// Folds one flow summary in: host counters, MAC pairs and the connection.
    pub fn add_flow(&mut self, s: &FlowSummary) {
        let (client, server) = (
            HostKey::new(s.lan, s.client.ip),
            HostKey::new(s.lan, s.server.ip),
        );
        let server_is_host = !s.to_group && host_ip(s.server.ip).is_some();
        let client_is_host = host_ip(s.client.ip).is_some();
        let proto_use = |role: Role| {
            s.protocol.map(|name| {
                (
                    name.to_string(),
                    role.as_str().to_string(),
                    s.server.port as u32,
                )
            })
        };
        let mut client_kept = false;
        if client_is_host {
            if let Some(h) = self.host(client) {
                client_kept = true;
                h.counters.add(s.packets, s.bytes, s.first, s.last);
                // Multicast and broadcast senders often lower the TTL on purpose (1 for
                // link-local discovery): only unicast conversations hint at the initial TTL.
                if server_is_host {
                    h.note_ttl(s.client_ttl);
                }
                if let Some(m) = s.client.mac {
                    h.add_mac(m);
                }
                if let Some(p) = proto_use(Role::Client) {
                    h.protocols.insert(p);
                }
                if let Some(m) = s.client.mac {
                    if let Some(f) = self.mac(m) {
                        f.add_ip(client);
                        // Every packet of the flow passed through the MACs that carried it:
                        // a router's own count is what it forwarded.
                        f.carried.add(s.packets, s.bytes, s.first, s.last);
                    }
                }
            }
        }
        let mut server_kept = false;
        if server_is_host {
            if let Some(h) = self.host(server) {
                server_kept = true;
                // A host talking to itself (a loopback capture) sent and received each
                // packet once: counted once.
                if server != client || !client_kept {
                    h.counters.add(s.packets, s.bytes, s.first, s.last);
                }
                h.note_ttl(s.server_ttl);
                if let Some(m) = s.server.mac {
                    h.add_mac(m);
                }
                if let Some(p) = proto_use(Role::Server) {
                    h.protocols.insert(p);
                }
                if let Some(m) = s.server.mac {
                    if let Some(f) = self.mac(m) {
                        f.add_ip(server);
                        // Once per MAC: a hairpin through one router is one packet.
                        if s.client.mac != Some(m) {
                            f.carried.add(s.packets, s.bytes, s.first, s.last);
                        }
                    }
                }
            }
        }
        if client_kept && server_kept {
            let key = ConnKey {
                lan: s.lan,
                client: s.client.ip,
                server: s.server.ip,
                transport: s.ip_proto,
                port: s.server.port,
            };
            if let Some(c) = self.conn(key) {
                c.counters.add(s.packets, s.bytes, s.first, s.last);
                if s.new_flow {
                    c.flows += 1;
                }
                if let (Some(p), None) = (s.protocol, &c.protocol) {
                    c.protocol = Some(p.to_string());
                }
            }
        }
    }

    /// The facts of `ip`, made if new and there is room under the cap.
    fn host(&mut self, ip: HostKey) -> Option<&mut HostFacts> {
        if !self.room_for_host(&ip) {
            return None;
        }
        Some(self.hosts.entry(ip).or_default())
    }

    fn mac(&mut self, m: Mac) -> Option<&mut MacFacts> {
        if !self.room_for_mac(&m) {
            return None;
        }
        Some(self.macs.entry(m).or_default())
    }

    fn conn(&mut self, key: ConnKey) -> Option<&mut ConnFacts> {
        if !self.room_for_conn(&key) {
            return None;
        }
        Some(self.conns.entry(key).or_default())
    }

    /// Counts a frame that carried no IP packet (ARP, LLDP, ...) for its source MAC.
    pub fn add_l2_frame(&mut self, src: Mac, wire_len: u32, ts: Timestamp) {
        if src.is_unicast() {
            if let Some(m) = self.mac(src) {
                m.counters.add(1, wire_len as u64, ts, ts);
            }
        }
    }

    /// Folds one observation in.
    pub fn observe(&mut self, origin: Origin<'_>, obs: Observation) {
        let ts = origin.ts();
        match obs {
            Observation::Identity {
                subject,
                field,
                value,
                source,
            } => {
                if value.trim().is_empty() {
                    return;
                }
                let rec = EvidenceRec {
                    field,
                    value,
                    source: source.name.to_string(),
                    first_seen: ts,
                };
                match self.resolve(origin, subject) {
                    Some(Node::Ip(ip)) => {
                        if let Some(h) = self.host(ip) {
                            h.add_evidence(rec);
                        }
                    }
                    Some(Node::Mac(m)) => {
                        if let Some(f) = self.mac(m) {
                            f.add_evidence(rec);
                        }
                    }
                    None => {}
                }
            }
            Observation::Binding { mac, ip, .. } => {
                let ip = HostKey::new(origin.lan(), ip);
                if mac.is_unicast() && host_ip(ip.ip).is_some() {
                    if let Some(h) = self.host(ip) {
                        h.counters.seen(ts);
                        if h.bound_macs.len() < facts::MAX_PAIRS {
                            h.bound_macs.insert(mac);
                        }
                    }
                    if let Some(m) = self.mac(mac) {
                        m.counters.seen(ts);
                        if m.bound_ips.len() < facts::MAX_PAIRS {
                            m.bound_ips.insert(ip);
                        }
                    }
                }
            }
            Observation::Speaks {
                subject,
                protocol,
                role,
                port,
            } => {
                // Cyclic PROFINET frames say this thousands of times a second: the set is only
                // written (and the strings made) when the use is new.
                let add = |set: &mut std::collections::BTreeSet<facts::ProtoUse>| {
                    let (role, port) = (role.as_str(), u32::from(port));
                    if !set
                        .iter()
                        .any(|(n, r, p)| n == protocol && r == role && *p == port)
                    {
                        set.insert((protocol.to_string(), role.to_string(), port));
                    }
                };
                match self.resolve(origin, subject) {
                    Some(Node::Ip(ip)) => {
                        if let Some(h) = self.host(ip) {
                            h.counters.seen(ts);
                            add(&mut h.protocols);
                        }
                    }
                    Some(Node::Mac(m)) => {
                        if let Some(f) = self.mac(m) {
                            f.counters.seen(ts);
                            add(&mut f.protocols);
                        }
                    }
                    None => {}
                }
            }
            Observation::Operation {
                op, function_code, ..
            } => {
                if let Some(c) = self.conn_of(origin) {
                    c.operations.insert(op.as_str().to_string());
                    if let Some(fc) = function_code {
                        c.function_codes.insert(fc);
                    }
                }
            }
            Observation::FunctionCode(fc) => {
                if let Some(c) = self.conn_of(origin) {
                    c.function_codes.insert(fc);
                }
            }
            Observation::Access(a) => {
                if let Some(c) = self.conn_of(origin) {
                    c.accessed
                        .add(a.unit, a.area, a.block, a.op.as_str(), a.start, a.count);
                }
            }
            Observation::CleartextLogin { user, protocol } => {
                if let Some(c) = self.conn_of(origin) {
                    c.cleartext_logins
                        .entry((user, protocol.to_string()))
                        .or_insert(ts);
                }
            }
            Observation::Publishes { subject, stream } => {
                if let Some(Node::Mac(m)) = self.resolve(origin, subject) {
                    if let Some(f) = self.mac(m) {
                        f.published(&stream, ts);
                    }
                }
            }
            Observation::ProtocolViolation { protocol, .. } => {
                *self.violations.entry(protocol.to_string()).or_default() += 1;
            }
            // Facts for detection only.
            Observation::AuthFailure { .. } | Observation::Lookup { .. } => {}
        }
    }

    /// What an observation is about. Addresses it names are in the origin's LAN.
    fn resolve(&self, origin: Origin<'_>, subject: Subject) -> Option<Node> {
        let in_lan = |ip| host_ip(ip).map(|ip| Node::Ip(HostKey::new(origin.lan(), ip)));
        match (subject, origin) {
            (Subject::Client, Origin::Flow { ctx, .. }) => in_lan(ctx.client.ip),
            (Subject::Server, Origin::Flow { ctx, .. }) => in_lan(ctx.server.ip),
            (Subject::Client | Subject::Server, Origin::Frame { src, .. }) => {
                src.is_unicast().then_some(Node::Mac(src))
            }
            (Subject::Ip(ip), _) => in_lan(ip),
            (Subject::Mac(m), _) => m.is_unicast().then_some(Node::Mac(m)),
        }
    }

    fn conn_of(&mut self, origin: Origin<'_>) -> Option<&mut ConnFacts> {
        let Origin::Flow { ctx, lan, protocol } = origin else {
            return None;
        };
        // Datagrams to a group address (a directed broadcast) belong to no connection.
        if host_ip(ctx.client.ip).is_none()
            || host_ip(ctx.server.ip).is_none()
            || ctx.dst_mac.is_some_and(|m| m.is_group())
        {
            return None;
        }
        let key = ConnKey {
            lan,
            client: ctx.client.ip,
            server: ctx.server.ip,
            transport: match ctx.transport {
                crate::protocols::Transport::Tcp => 6,
                crate::protocols::Transport::Udp => 17,
            },
            port: ctx.server.port,
        };
        // A known connection's hosts are there (evicting a host evicts its connections); a
        // new one needs both, or its facts would point nowhere.
        if !self.conns.contains_key(&key)
            && (self.host(key.client_key()).is_none() || self.host(key.server_key()).is_none())
        {
            return None;
        }
        let c = self.conn(key)?;
        if c.protocol.is_none() {
            c.protocol = Some(protocol.to_string());
        }
        Some(c)
    }

    /// Folds another inventory (an earlier run's) into this one.
    /// The connections in key order (what every output must use).
    pub fn conns_sorted(&self) -> Vec<(&ConnKey, &ConnFacts)> {
        let mut v: Vec<_> = self.conns.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub fn merge(&mut self, other: Inventory) {
        for (ip, h) in other.hosts {
            self.hosts.entry(ip).or_default().merge(h);
        }
        for (m, f) in other.macs {
            self.macs.entry(m).or_default().merge(f);
        }
        for (k, c) in other.conns {
            self.conns.entry(k).or_default().merge(c);
        }
        for (p, n) in other.violations {
            *self.violations.entry(p).or_default() += n;
        }
        self.alerts.merge(&BookLimits::default(), other.alerts);
        self.shed.add(&other.shed);
        self.enforce_limits();
    }
}

#[derive(Debug, Clone, Copy)]
enum Node {
    Ip(HostKey),
    Mac(Mac),
}

#[cfg(test)]
mod tests;
