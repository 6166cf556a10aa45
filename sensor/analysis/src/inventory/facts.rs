//! Raw facts per address and per connection, and how they merge.

use super::access::Accessed;
use crate::decode::Lan;
use otwatch_common::observation::Field;
use otwatch_common::{Mac, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// At most this many distinct MACs per IP and IPs per MAC are remembered; beyond that the
/// address is plainly shared (a router, a NAT) and more detail adds nothing.
pub const MAX_PAIRS: usize = 64;
/// Identity evidence records kept per address.
pub const MAX_EVIDENCE: usize = 64;

/// Packet and byte counters with first/last packet time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl Counters {
    pub fn add(&mut self, packets: u64, bytes: u64, first: Timestamp, last: Timestamp) {
        self.packets += packets;
        self.bytes += bytes;
        self.seen(first);
        self.seen(last);
    }

    pub fn is_empty(&self) -> bool {
        *self == Counters::default()
    }

    /// Widens the first/last window to include `ts` without counting a packet.
    pub fn seen(&mut self, ts: Timestamp) {
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
    }

    pub fn merge(&mut self, o: Counters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        if let Some(f) = o.first {
            self.seen(f);
        }
        if let Some(l) = o.last {
            self.seen(l);
        }
    }
}

/// One identity fact with its source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EvidenceRec {
    pub field: Field,
    pub value: String,
    pub source: String,
    pub first_seen: Timestamp,
}

fn add_evidence(list: &mut Vec<EvidenceRec>, rec: EvidenceRec) {
    if let Some(e) = list
        .iter_mut()
        .find(|e| e.field == rec.field && e.value == rec.value && e.source == rec.source)
    {
        e.first_seen = e.first_seen.min(rec.first_seen);
        return;
    }
    if list.len() < MAX_EVIDENCE {
        list.push(rec);
        list.sort();
    }
}

/// An IP address in its [`Lan`] (capture segment and VLAN): what IP-level facts are kept by.
/// The same address on two VLANs or segments (cells that reuse one private range behind one
/// SPAN port) is two hosts.
///
/// As text (store keys, asset ids, JSON): the bare address when untagged on the default
/// segment, so stores and reports of captures without either read as before; else
/// `<ip>%<lan>` (`%vlan10`, `%seg2`, `%seg2.vlan10`): the LAN as the address's zone, written
/// like an IPv6 zone index (RFC 4007). Not `@`, which the manager's
/// fleet ids use to name a sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostKey {
    pub lan: Lan,
    pub ip: IpAddr,
}

impl HostKey {
    pub fn new(lan: Lan, ip: IpAddr) -> HostKey {
        HostKey { lan, ip }
    }
}

/// Untagged: plain addresses (tests and callers without VLANs).
impl From<IpAddr> for HostKey {
    fn from(ip: IpAddr) -> HostKey {
        HostKey { lan: Lan::NONE, ip }
    }
}

impl std::fmt::Display for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.lan.is_none() {
            write!(f, "{}", self.ip)
        } else {
            write!(f, "{}%{}", self.ip, self.lan)
        }
    }
}

impl std::str::FromStr for HostKey {
    type Err = String;

    fn from_str(s: &str) -> Result<HostKey, String> {
        let (ip, lan) = match s.split_once('%') {
            Some((ip, zone)) => (ip, zone.parse()?),
            None => (s, Lan::NONE),
        };
        let ip = ip.parse().map_err(|_| format!("bad address {s}"))?;
        Ok(HostKey { lan, ip })
    }
}

impl Serialize for HostKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HostKey, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// (protocol name, role, server port).
pub type ProtoUse = (String, String, u32);

/// Facts about one unicast IP address.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    pub counters: Counters,
    /// MACs that sent this IP's packets.
    pub macs: BTreeSet<Mac>,
    /// MACs that ARP/DHCP/LLDP tie to this IP.
    pub bound_macs: BTreeSet<Mac>,
    pub protocols: BTreeSet<ProtoUse>,
    pub evidence: Vec<EvidenceRec>,
    /// Largest TTL/hop limit seen on this host's packets.
    pub max_ttl: u8,
}

impl HostFacts {
    pub fn add_mac(&mut self, m: Mac) {
        if self.macs.len() < MAX_PAIRS {
            self.macs.insert(m);
        }
    }

    pub fn note_ttl(&mut self, ttl: u8) {
        self.max_ttl = self.max_ttl.max(ttl);
    }

    pub fn add_evidence(&mut self, rec: EvidenceRec) {
        add_evidence(&mut self.evidence, rec);
    }

    pub fn merge(&mut self, o: HostFacts) {
        self.counters.merge(o.counters);
        for m in o.macs {
            self.add_mac(m);
        }
        self.bound_macs.extend(o.bound_macs);
        self.protocols.extend(o.protocols);
        for e in o.evidence {
            self.add_evidence(e);
        }
        self.max_ttl = self.max_ttl.max(o.max_ttl);
    }
}

/// Facts about one unicast MAC address.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct MacFacts {
    /// Frames without IP (ARP, LLDP, CDP, ...) sent by this MAC.
    pub counters: Counters,
    /// IP packets this MAC sent or received, whichever IP they were for: what a router or
    /// firewall forwarded. Shown as its packets only when it forwards for others (an ordinary
    /// host's IP packets are counted on its IP).
    #[serde(default, skip_serializing_if = "Counters::is_empty")]
    pub carried: Counters,
    /// Source IPs this MAC carried.
    pub ips: BTreeSet<HostKey>,
    /// IPs that ARP/DHCP/LLDP tie to this MAC.
    pub bound_ips: BTreeSet<HostKey>,
    pub protocols: BTreeSet<ProtoUse>,
    pub evidence: Vec<EvidenceRec>,
    /// The process-bus streams it publishes, in key order ([`StreamFacts::key`]), at most
    /// [`MAX_STREAMS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<StreamFacts>,
}

/// At most this many process-bus streams are kept per publisher (an IED publishes a handful;
/// more is a forger's or a fuzzer's).
pub const MAX_STREAMS: usize = 32;

/// One process-bus stream of a publisher (IEC 61850 GOOSE or Sampled Values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamFacts {
    pub protocol: String,
    /// GOOSE gocbRef, SV svID.
    pub id: String,
    pub appid: u16,
    pub group: Option<Mac>,
    pub dataset: Option<String>,
    pub go_id: Option<String>,
    pub conf_rev: u32,
    pub st_num: Option<u32>,
    pub state_changes: u64,
    pub last_change: Option<Timestamp>,
    pub simulation: bool,
    pub frames: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl StreamFacts {
    /// What tells two streams of one publisher apart.
    pub fn key(&self) -> (&str, &str, u16, Option<Mac>) {
        (&self.protocol, &self.id, self.appid, self.group)
    }

    /// Folds in the same stream as seen later (`o` newer).
    fn merge(&mut self, o: StreamFacts) {
        self.frames = self.frames.saturating_add(o.frames);
        self.state_changes = self.state_changes.saturating_add(o.state_changes);
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if o.last >= self.last {
            self.last = o.last;
            self.dataset = o.dataset.or(self.dataset.take());
            self.go_id = o.go_id.or(self.go_id.take());
            self.conf_rev = o.conf_rev;
            self.st_num = o.st_num.or(self.st_num);
            self.simulation = o.simulation;
        }
        self.last_change = self.last_change.max(o.last_change);
    }
}

impl MacFacts {
    /// Counts a frame of a stream this MAC publishes, at `ts`.
    pub fn published(&mut self, p: &otwatch_common::observation::Published, ts: Timestamp) {
        let key = (p.protocol, p.id.as_str(), p.appid, p.group);
        let at = match self.published.binary_search_by(|s| s.key().cmp(&key)) {
            Ok(i) => i,
            Err(i) if self.published.len() < MAX_STREAMS => {
                self.published.insert(
                    i,
                    StreamFacts {
                        protocol: p.protocol.to_string(),
                        id: p.id.clone(),
                        appid: p.appid,
                        group: p.group,
                        first: Some(ts),
                        ..StreamFacts::default()
                    },
                );
                i
            }
            Err(_) => return,
        };
        let s = &mut self.published[at];
        s.frames = s.frames.saturating_add(1);
        s.last = Some(ts);
        if p.dataset.is_some() {
            s.dataset.clone_from(&p.dataset);
        }
        if p.go_id.is_some() {
            s.go_id.clone_from(&p.go_id);
        }
        s.conf_rev = p.conf_rev;
        s.st_num = p.st_num;
        s.simulation = p.simulation;
        if p.state_change {
            s.state_changes = s.state_changes.saturating_add(1);
            s.last_change = Some(ts);
        }
    }

    pub fn add_ip(&mut self, ip: HostKey) {
        if self.ips.len() < MAX_PAIRS {
            self.ips.insert(ip);
        }
    }

    pub fn add_evidence(&mut self, rec: EvidenceRec) {
        add_evidence(&mut self.evidence, rec);
    }

    pub fn merge(&mut self, o: MacFacts) {
        self.counters.merge(o.counters);
        self.carried.merge(o.carried);
        for ip in o.ips {
            self.add_ip(ip);
        }
        self.bound_ips.extend(o.bound_ips);
        self.protocols.extend(o.protocols);
        for e in o.evidence {
            self.add_evidence(e);
        }
        for s in o.published {
            match self.published.binary_search_by(|x| x.key().cmp(&s.key())) {
                Ok(i) => self.published[i].merge(s),
                Err(i) if self.published.len() < MAX_STREAMS => self.published.insert(i, s),
                Err(_) => {}
            }
        }
    }
}

/// A connection: all flows from one client IP to one server IP, transport and server port, in
/// one [`Lan`] (see [`HostKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnKey {
    pub lan: Lan,
    pub client: IpAddr,
    pub server: IpAddr,
    /// IP protocol number.
    pub transport: u8,
    pub port: u16,
}

/// Whole words for the seeded hasher (see [`crate::hash::write_addr_pair`]).
impl std::hash::Hash for ConnKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let meta = self.lan.bits() << 24 | u64::from(self.port) << 8 | u64::from(self.transport);
        crate::hash::write_addr_pair(h, self.client, self.server, meta);
    }
}

impl ConnKey {
    /// The client's host key.
    pub fn client_key(&self) -> HostKey {
        HostKey::new(self.lan, self.client)
    }

    /// The server's host key.
    pub fn server_key(&self) -> HostKey {
        HostKey::new(self.lan, self.server)
    }

    /// A text key that sorts like the struct does not; used only as a store key.
    /// `client|server|transport|port`, and `|vlan` after it when tagged, and `|segN` after
    /// that on a capture segment (so keys written before VLANs or segments read as before).
    pub fn to_store_key(&self) -> String {
        let mut k = format!(
            "{}|{}|{}|{}",
            self.client, self.server, self.transport, self.port
        );
        if !self.lan.is_none() {
            k.push('|');
            k.push_str(&self.lan.vlan.to_string());
        }
        if self.lan.segment != 0 {
            k.push_str("|seg");
            k.push_str(&self.lan.segment.to_string());
        }
        k
    }

    pub fn from_store_key(s: &str) -> Option<ConnKey> {
        let mut it = s.split('|');
        let k = ConnKey {
            client: it.next()?.parse().ok()?,
            server: it.next()?.parse().ok()?,
            transport: it.next()?.parse().ok()?,
            port: it.next()?.parse().ok()?,
            lan: Lan {
                vlan: match it.next() {
                    Some(v) => v.parse().ok()?,
                    None => 0,
                },
                segment: match it.next() {
                    Some(s) => s.strip_prefix("seg")?.parse().ok()?,
                    None => 0,
                },
            },
        };
        it.next().is_none().then_some(k)
    }

    /// Transport name as reported.
    pub fn transport_name(&self) -> String {
        match self.transport {
            6 => "tcp".into(),
            17 => "udp".into(),
            1 => "icmp".into(),
            58 => "icmpv6".into(),
            n => format!("ip-{n}"),
        }
    }
}

/// Facts about one connection.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnFacts {
    pub counters: Counters,
    pub flows: u64,
    pub protocol: Option<String>,
    pub function_codes: BTreeSet<u32>,
    pub operations: BTreeSet<String>,
    /// (user, protocol) → first seen.
    #[serde(with = "login_map")]
    pub cleartext_logins: BTreeMap<(String, String), Timestamp>,
    /// Address ranges the client read, wrote or commanded.
    #[serde(default)]
    pub accessed: Accessed,
}

impl ConnFacts {
    pub fn merge(&mut self, o: ConnFacts) {
        self.counters.merge(o.counters);
        self.flows += o.flows;
        if self.protocol.is_none() {
            self.protocol = o.protocol;
        }
        self.function_codes.extend(o.function_codes);
        self.operations.extend(o.operations);
        for (k, t) in o.cleartext_logins {
            let e = self.cleartext_logins.entry(k).or_insert(t);
            *e = (*e).min(t);
        }
        self.accessed.merge(&o.accessed);
    }
}

/// Tuple-keyed maps as a list in JSON.
mod login_map {
    use otwatch_common::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    type Map = BTreeMap<(String, String), Timestamp>;

    pub fn serialize<S: Serializer>(m: &Map, s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<(&String, &String, &Timestamp)> =
            m.iter().map(|((u, p), t)| (u, p, t)).collect();
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
        let v: Vec<(String, String, Timestamp)> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|(u, p, t)| ((u, p), t)).collect())
    }
}
