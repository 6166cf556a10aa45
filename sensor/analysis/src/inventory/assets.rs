//! The asset projection: from raw facts to the report's assets and connections.
//!
//! Addresses become one device when a protocol ties them (ARP sender, DHCP, LLDP/CDP
//! management address: explicit bindings) or when the traffic is unambiguous: an IP whose
//! packets all came from one MAC, and a MAC that carried no other IPv4 address. A MAC that
//! carried many IPs is a router or firewall forwarding for others: it stays its own asset and
//! the IPs behind it stay theirs.
//!
//! IP-level facts are kept per (LAN, IP) ([`HostKey`]): the same address on two VLANs or capture
//! segments is two assets, each with its VLAN in `vlans` and its segment in `segments`.

use super::classify::{self, Behaviour};
use super::facts::{ConnFacts, ConnKey, Counters, EvidenceRec, HostKey, StreamFacts};
use super::{oui, Inventory};
use crate::protocols::source;
use otwatch_common::model::{
    Asset, CaptureStats, CleartextLogin, Connection, Evidence, InventoryReport, ProtocolUse,
    PublishedStream, INVENTORY_SCHEMA,
};
use otwatch_common::observation::Field;
use otwatch_common::{Mac, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// IP protocol number of TCP.
const TCP: u8 = 6;

/// Explicitly bound IPs above this per MAC look like proxy ARP, not one device.
const MAX_BOUND_IPS: usize = 16;
/// IPv6 addresses one host commonly uses at once (link-local, SLAAC, temporary, ULA).
const MAX_HOST_V6: usize = 4;

/// Picks the value of `field` from evidence ranked by its source (`protocols::source`):
/// strongest source, then earliest, then smallest value.
fn best(ev: &[(EvidenceRec, u8)], field: Field) -> Option<&(EvidenceRec, u8)> {
    ev.iter()
        .filter(|(e, _)| e.field == field)
        .min_by(|(a, ra), (b, rb)| {
            rb.cmp(ra)
                .then(a.first_seen.cmp(&b.first_seen))
                .then(a.value.cmp(&b.value))
        })
}

/// Stored evidence with the rank of its source, found by its name.
fn ranked(ev: &[EvidenceRec]) -> impl Iterator<Item = (EvidenceRec, u8)> + '_ {
    ev.iter().map(|e| (e.clone(), source::rank_of(&e.source)))
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the smaller index as root so results do not depend on union order.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

fn ts_text(t: Option<Timestamp>) -> String {
    t.map(|t| t.rfc3339()).unwrap_or_default()
}

/// Builds the report: assets, connections and the given capture statistics.
pub fn report(inv: &Inventory, mut stats: CaptureStats) -> InventoryReport {
    stats.protocol_violations = inv.violations.clone();
    for (k, v) in inv.shed.entries() {
        *stats.limits.entry(k.to_string()).or_default() += v;
    }
    let broadcasts = directed_broadcasts(inv);
    // An address only named by someone else (a DNS answer) but never seen on the wire, bound
    // by ARP/DHCP or announced is not an asset; nor is a subnet's broadcast address.
    let ips: Vec<HostKey> = inv
        .hosts
        .iter()
        .filter(|(k, h)| {
            (h.counters.packets > 0 || !h.bound_macs.is_empty() || !h.protocols.is_empty())
                && !broadcasts.contains(k)
        })
        .map(|(ip, _)| *ip)
        .collect();
    let macs: Vec<Mac> = inv.macs.keys().copied().collect();
    let ip_idx: BTreeMap<HostKey, usize> = ips.iter().enumerate().map(|(i, ip)| (*ip, i)).collect();
    let mac_idx: BTreeMap<Mac, usize> = macs
        .iter()
        .enumerate()
        .map(|(i, m)| (*m, ips.len() + i))
        .collect();
    let mut uf = UnionFind((0..ips.len() + macs.len()).collect());

    // Explicit bindings.
    for (m, f) in &inv.macs {
        if f.bound_ips.len() > MAX_BOUND_IPS {
            continue;
        }
        for ip in &f.bound_ips {
            let unique = inv.hosts.get(ip).is_some_and(|h| h.bound_macs.len() == 1);
            if let (true, Some(&a), Some(&b)) = (unique, ip_idx.get(ip), mac_idx.get(m)) {
                uf.union(a, b);
            }
        }
    }
    // Unambiguous pairs seen in traffic.
    // A MAC that carried packets from more than one IPv4 source (or more IPv6 sources than one
    // host uses) forwards for others. Addresses a protocol bound to it do not count: a host
    // that renewed its DHCP lease to a new address is not a router.
    let forwarding = |f: &super::MacFacts| {
        let v4 = f.ips.iter().filter(|k| k.ip.is_ipv4()).count();
        let v6 = f.ips.len() - v4;
        v4 > 1 || v6 > MAX_HOST_V6
    };
    for (ip, h) in &inv.hosts {
        if !h.bound_macs.is_empty() || h.macs.len() != 1 {
            continue;
        }
        let Some(m) = h.macs.first() else { continue };
        let Some(f) = inv.macs.get(m) else { continue };
        if forwarding(f) {
            continue;
        }
        if let (Some(&a), Some(&b)) = (ip_idx.get(ip), mac_idx.get(m)) {
            uf.union(a, b);
        }
    }
    // A packet routed between two mirrored VLANs is seen on both: on the far VLAN its
    // sender's address arrives through the router's MAC. Such a routed sighting (tagged, bound
    // by nothing, only ever behind forwarding MACs) of an address that lives on exactly one
    // other VLAN (with a MAC of its own there) is that device, not another one.
    let mut routed: BTreeSet<HostKey> = BTreeSet::new();
    let mut vlans_of: BTreeMap<IpAddr, Vec<HostKey>> = BTreeMap::new();
    for k in &ips {
        vlans_of.entry(k.ip).or_default().push(*k);
    }
    for (k, h) in &inv.hosts {
        let behind_router = !k.lan.is_none()
            && h.bound_macs.is_empty()
            && !h.macs.is_empty()
            && h.macs
                .iter()
                .all(|m| inv.macs.get(m).is_some_and(&forwarding));
        if !behind_router {
            continue;
        }
        let mut homes = vlans_of.get(&k.ip).into_iter().flatten().filter(|o| {
            o.lan != k.lan
                && inv.hosts.get(o).is_some_and(|h| {
                    !h.bound_macs.is_empty()
                        || h.macs
                            .iter()
                            .any(|m| !inv.macs.get(m).is_some_and(&forwarding))
                })
        });
        if let (Some(home), None) = (homes.next(), homes.next()) {
            if let (Some(&a), Some(&b)) = (ip_idx.get(k), ip_idx.get(home)) {
                uf.union(a, b);
                routed.insert(*k);
            }
        }
    }

    let mut groups: BTreeMap<usize, (Vec<HostKey>, Vec<Mac>)> = BTreeMap::new();
    for (i, ip) in ips.iter().enumerate() {
        let r = uf.find(i);
        groups.entry(r).or_default().0.push(*ip);
    }
    for (i, m) in macs.iter().enumerate() {
        let r = uf.find(ips.len() + i);
        groups.entry(r).or_default().1.push(*m);
    }

    // Internet hosts: global addresses whose packets only ever came through a forwarding MAC.
    let internet: BTreeSet<HostKey> = inv
        .hosts
        .iter()
        .filter(|(k, h)| {
            classify::is_global(&k.ip)
                && !h.macs.is_empty()
                && h.bound_macs.is_empty()
                && h.macs
                    .iter()
                    .all(|m| inv.macs.get(m).is_some_and(&forwarding))
        })
        .map(|(ip, _)| *ip)
        .collect();
    let mut conns = inv.conns_sorted();
    conns.retain(|(k, _)| {
        !broadcasts.contains(&k.server_key()) && !broadcasts.contains(&k.client_key())
    });
    let mut by_ip: BTreeMap<HostKey, Vec<(&ConnKey, &ConnFacts)>> = BTreeMap::new();
    for &(k, c) in &conns {
        by_ip.entry(k.client_key()).or_default().push((k, c));
        if k.server != k.client {
            by_ip.entry(k.server_key()).or_default().push((k, c));
        }
    }
    // Hosts that answer a controller protocol: their requests to a historian port do not
    // make it a historian's server (a PLC logging to SQL is rare, a PLC is never an analyst).
    let controllers: BTreeSet<HostKey> = inv
        .conns
        .iter()
        .filter(|(_, c)| {
            c.protocol
                .as_deref()
                .is_some_and(classify::is_controller_protocol)
        })
        .map(|(k, _)| k.server_key())
        .collect();
    let ctx = Context {
        inv,
        routed: &routed,
        forwarding: &forwarding,
        by_ip: &by_ip,
        internet: &internet,
        controllers: &controllers,
    };
    let mut assets: Vec<Asset> = groups
        .into_values()
        .map(|(ips, macs)| build_asset(&ctx, &ips, &macs))
        .collect();
    assets.sort_by(|a, b| a.id.cmp(&b.id));

    let connections = conns
        .iter()
        .map(|&(k, c)| Connection {
            client: k.client.to_string(),
            server: k.server.to_string(),
            transport: k.transport_name(),
            port: k.port as u32,
            protocol: c.protocol.clone().unwrap_or_default(),
            packets: c.counters.packets,
            bytes: c.counters.bytes,
            function_codes: c.function_codes.iter().map(|f| f.to_string()).collect(),
            operations: c.operations.iter().cloned().collect(),
            cleartext_logins: c
                .cleartext_logins
                .iter()
                .map(|((user, protocol), t)| CleartextLogin {
                    user: user.clone(),
                    protocol: protocol.clone(),
                    first_seen: t.rfc3339(),
                })
                .collect(),
            first_seen: ts_text(c.counters.first),
            last_seen: ts_text(c.counters.last),
            flows: c.flows,
            accessed: c.accessed.areas.iter().map(|a| a.to_model()).collect(),
            vlan: u32::from(k.lan.vlan),
            segment: u32::from(k.lan.segment),
        })
        .collect();
    let dropped: u64 = inv.conns.values().map(|c| c.accessed.total_dropped()).sum();
    if dropped > 0 {
        *stats
            .limits
            .entry("access_ranges_dropped".to_string())
            .or_default() += dropped;
    }

    for (k, v) in inv.alerts.limits() {
        stats.limits.insert(k, v);
    }
    let mut r = InventoryReport {
        schema: INVENTORY_SCHEMA.to_string(),
        stats: Some(stats),
        assets,
        connections,
        alerts: Vec::new(),
    };
    r.alerts = crate::detect::derive::render(&inv.alerts, &r);
    r
}

/// The IPv4 addresses that are a subnet's directed broadcast rather than a device. On the
/// subnet itself such datagrams go to the Ethernet broadcast address and are no host's; but a
/// mirror port between two routers sees them sent to the next router's MAC, like a unicast
/// (BACnet Who-Is and I-Am to 172.20.32.255). Such an address:
/// - has a host part of all ones for some prefix of /8 to /30 (…255, …127, …63);
/// - never sent a packet, and nothing (ARP, DHCP) ties it to a MAC;
/// - was sent datagrams, never TCP, by at least two hosts of that subnet.
///
/// A real host on such an address answers (TCP, ARP, replies) and stays an asset.
fn directed_broadcasts(inv: &Inventory) -> BTreeSet<HostKey> {
    // Who each address exchanged packets with, and whether any of it was TCP. An address that
    // never sent can be either end of a flow (a datagram between two equal ports is oriented
    // by content: an I-Am to the broadcast makes the broadcast the client).
    let mut sent_to: BTreeMap<HostKey, (BTreeSet<IpAddr>, bool)> = BTreeMap::new();
    for k in inv.conns.keys() {
        for (end, peer) in [(k.server_key(), k.client), (k.client_key(), k.server)] {
            let e = sent_to.entry(end).or_default();
            e.0.insert(peer);
            e.1 |= k.transport == TCP;
        }
    }
    inv.hosts
        .iter()
        .filter(|(k, h)| {
            let IpAddr::V4(v4) = k.ip else { return false };
            let ones = u32::from(v4).trailing_ones();
            if !(2..=24).contains(&ones)
                || !h.macs.is_empty()
                || !h.bound_macs.is_empty()
                || h.max_ttl != 0
            {
                return false;
            }
            let Some((senders, tcp)) = sent_to.get(k) else {
                return false;
            };
            let subnet = u32::from(v4) >> ones;
            let local = senders
                .iter()
                .filter(|ip| matches!(ip, IpAddr::V4(a) if u32::from(*a) >> ones == subnet))
                .count();
            !tcp && local >= 2
        })
        .map(|(k, _)| *k)
        .collect()
}

/// The OS families that use an initial TTL: the largest TTL seen, rounded up to the common
/// initial values (RFC 1700 era defaults still used by stacks today).
fn ttl_hint(max_ttl: u8) -> Option<&'static str> {
    match max_ttl {
        0 => None,
        1..=32 => Some("initial ttl 32: older Windows or embedded stack"),
        33..=64 => Some("initial ttl 64: Linux, Unix, macOS or embedded stack"),
        65..=128 => Some("initial ttl 128: Windows"),
        _ => Some("initial ttl 255: network device, Solaris or RTOS"),
    }
}

/// What building one asset needs to look up.
struct Context<'a> {
    inv: &'a Inventory,
    /// Routed sightings of an address on a VLAN it does not live on.
    routed: &'a BTreeSet<HostKey>,
    forwarding: &'a dyn Fn(&super::MacFacts) -> bool,
    by_ip: &'a BTreeMap<HostKey, Vec<(&'a ConnKey, &'a ConnFacts)>>,
    internet: &'a BTreeSet<HostKey>,
    controllers: &'a BTreeSet<HostKey>,
}

/// Gathers what the asset with these addresses did on its connections.
fn behaviour(ctx: &Context<'_>, ips: &[HostKey], first: Timestamp) -> Behaviour {
    let mut b = Behaviour {
        first_seen: first,
        is_internet: !ips.is_empty() && ips.iter().all(|ip| ctx.internet.contains(ip)),
        ..Behaviour::default()
    };
    for ip in ips {
        for (k, c) in ctx.by_ip.get(ip).into_iter().flatten() {
            let proto = c.protocol.as_deref().unwrap_or("");
            let (client, server) = (k.client_key(), k.server_key());
            if server == *ip {
                if !proto.is_empty() {
                    b.served.insert(proto.to_string());
                }
                b.ops_received.extend(c.operations.iter().cloned());
                if k.transport == TCP && classify::HISTORIAN_PORTS.contains(&k.port) {
                    let clients = b.historian_ports.entry(k.port).or_default();
                    if !ctx.controllers.contains(&client) && !ips.contains(&client) {
                        clients.insert(k.client);
                    }
                }
            }
            if client == *ip {
                if !proto.is_empty() {
                    b.used.insert(proto.to_string());
                }
                if classify::is_controller_protocol(proto) {
                    b.ot_servers.insert(k.server);
                    b.ops_performed.extend(c.operations.iter().cloned());
                }
                if ctx.internet.contains(&server) {
                    b.internet_peers.insert(k.server);
                }
            }
        }
    }
    b
}

fn build_asset(ctx: &Context<'_>, ips: &[HostKey], macs: &[Mac]) -> Asset {
    let inv = ctx.inv;
    let forwarding = ctx.forwarding;
    let mut counters = Counters::default();
    let mut evidence: Vec<(EvidenceRec, u8)> = Vec::new();
    let mut protocols: BTreeSet<(String, String, u32)> = BTreeSet::new();
    for ip in ips {
        if let Some(h) = inv.hosts.get(ip) {
            if let Some(hint) = ttl_hint(h.max_ttl) {
                let rec = EvidenceRec {
                    field: Field::OsHint,
                    value: hint.to_string(),
                    source: format!("{} {} from {ip}", source::IP_TTL.name, h.max_ttl),
                    first_seen: h.counters.first.unwrap_or_default(),
                };
                evidence.push((rec, source::IP_TTL.rank));
            }
            counters.merge(h.counters);
            evidence.extend(ranked(&h.evidence));
            protocols.extend(h.protocols.iter().cloned());
        }
    }
    // A router's packets are those it forwarded; its own IP's packets are among them.
    let mut carried = Counters::default();
    for m in macs {
        if let Some(f) = inv.macs.get(m) {
            counters.merge(f.counters);
            evidence.extend(ranked(&f.evidence));
            protocols.extend(f.protocols.iter().cloned());
            if forwarding(f) {
                carried.merge(f.carried);
                let rec = EvidenceRec {
                    field: Field::DeviceType,
                    value: "router".into(),
                    source: format!(
                        "{}: carried {} source IPs",
                        source::L2_FORWARDING.name,
                        f.ips.len()
                    ),
                    first_seen: f.counters.first.unwrap_or_default(),
                };
                evidence.push((rec, source::L2_FORWARDING.rank));
            }
        }
        if let Some(v) = oui::vendor(*m) {
            let rec = EvidenceRec {
                field: Field::Vendor,
                value: v.to_string(),
                source: format!("{} {}", source::OUI.name, m),
                first_seen: inv
                    .macs
                    .get(m)
                    .and_then(|f| f.counters.first)
                    .unwrap_or_default(),
            };
            evidence.push((rec, source::OUI.rank));
        }
    }
    if carried.packets > counters.packets {
        let l2 =
            macs.iter()
                .filter_map(|m| inv.macs.get(m))
                .fold(Counters::default(), |mut c, f| {
                    c.merge(f.counters);
                    c
                });
        counters = l2;
        counters.merge(carried);
    }
    evidence.sort();
    evidence.dedup_by(|(a, _), (b, _)| {
        a.field == b.field && a.value == b.value && a.source == b.source
    });
    let pick = |f: Field| {
        best(&evidence, f)
            .map(|(e, _)| e.value.clone())
            .unwrap_or_default()
    };
    let names: BTreeSet<String> = evidence
        .iter()
        .map(|(e, _)| e)
        .filter(|e| e.field == Field::Hostname)
        .map(|e| e.value.clone())
        .collect();
    let id = match (macs.first(), ips.first()) {
        (Some(m), _) => format!("mac:{m}"),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => String::new(),
    };
    let mut b = behaviour(ctx, ips, counters.first.unwrap_or_default());
    b.historian_names = evidence
        .iter()
        .map(|(e, _)| e)
        .filter(|e| matches!(e.field, Field::Hostname | Field::Description | Field::Model))
        .filter(|e| classify::historian_name(&e.value))
        .map(|e| format!("{} ({})", e.value, e.source))
        .collect();
    let os = pick(Field::Os);
    let (vendor, hostname, model, firmware, serial) = (
        // One spelling per vendor; the evidence keeps each source's own.
        otwatch_advisories::identity::vendor_name(&pick(Field::Vendor)),
        pick(Field::Hostname),
        pick(Field::Model),
        pick(Field::Firmware),
        pick(Field::Serial),
    );
    let identity_type =
        best(&evidence, Field::DeviceType).map(|(e, rank)| (e.value.clone(), *rank));
    let (device_type, purdue_level, why) = classify::classify(
        &b,
        identity_type.as_ref().map(|(t, r)| (t.as_str(), *r)),
        !os.is_empty(),
    );
    let mut evidence: Vec<EvidenceRec> = evidence.into_iter().map(|(e, _)| e).collect();
    evidence.extend(why);
    evidence.sort();
    // One device can hold the same address on two VLANs (a trunk): listed once.
    let addrs: BTreeSet<IpAddr> = ips.iter().map(|k| k.ip).collect();
    let lans = || {
        ips.iter()
            .filter(|k| !ctx.routed.contains(k))
            .map(|k| k.lan)
    };
    let vlans: BTreeSet<u32> = lans()
        .filter(|l| l.vlan != 0)
        .map(|l| u32::from(l.vlan))
        .collect();
    let segments: BTreeSet<u32> = lans()
        .filter(|l| l.segment != 0)
        .map(|l| u32::from(l.segment))
        .collect();
    Asset {
        id,
        macs: macs.iter().map(|m| m.to_string()).collect(),
        ips: addrs.iter().map(|ip| ip.to_string()).collect(),
        vendor,
        hostname,
        model,
        firmware,
        os,
        serial,
        device_type,
        purdue_level,
        protocols: protocols
            .into_iter()
            .map(|(name, role, port)| ProtocolUse { name, role, port })
            .collect(),
        packets: counters.packets,
        bytes: counters.bytes,
        first_seen: ts_text(counters.first),
        last_seen: ts_text(counters.last),
        names: names.into_iter().collect(),
        evidence: evidence
            .into_iter()
            .map(|e| Evidence {
                field: e.field.as_str().to_string(),
                value: e.value,
                source: e.source,
                first_seen: e.first_seen.rfc3339(),
            })
            .collect(),
        vlans: vlans.into_iter().collect(),
        segments: segments.into_iter().collect(),
        vulnerabilities: Vec::new(), // matched after the analysis (otwatch_common::advisories)
        published: published(inv, macs),
    }
}

/// The process-bus streams the asset's MACs publish, in key order.
fn published(inv: &Inventory, macs: &[Mac]) -> Vec<PublishedStream> {
    let mut all: Vec<&StreamFacts> = macs
        .iter()
        .filter_map(|m| inv.macs.get(m))
        .flat_map(|f| &f.published)
        .collect();
    all.sort_by(|a, b| a.key().cmp(&b.key()));
    all.into_iter()
        .map(|s| PublishedStream {
            protocol: s.protocol.clone(),
            id: s.id.clone(),
            appid: u32::from(s.appid),
            group: s.group.map(|g| g.to_string()).unwrap_or_default(),
            dataset: s.dataset.clone().unwrap_or_default(),
            go_id: s.go_id.clone().unwrap_or_default(),
            conf_rev: s.conf_rev,
            st_num: s.st_num.unwrap_or_default(),
            state_changes: s.state_changes,
            last_change: s.last_change.map(|t| t.rfc3339()).unwrap_or_default(),
            simulation: s.simulation,
            frames: s.frames,
            first_seen: ts_text(s.first),
            last_seen: ts_text(s.last),
        })
        .collect()
}
