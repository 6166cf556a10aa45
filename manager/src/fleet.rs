//! The fleet view of one site, computed from what each sensor of that site reported.
//!
//! Assets: the sensors' assets are grouped when they share a MAC, or share an IP and at most one
//! of the groups holding that IP has MACs (two groups that both have MACs and share none are
//! different devices behind one IP: a NAT, a DHCP reuse, a failover pair; then a MAC-less
//! sighting of that IP stays on its own, since which device it was is unknown). IPs are
//! processed in sorted order so the result is deterministic. Never across sites: callers pass one site's sensors only.
//!
//! Merged asset: id = the smallest sensor asset id of the group (FleetAsset.id is
//! `<site>/<that id>`); addresses, protocols, names and evidence are unions (sorted, deduplicated);
//! packets and bytes are SUMMED (each sensor counts the frames it captured; sensors of one site
//! normally watch different segments, so a sum matches analysing their captures together;
//! overlapping mirror ports count twice); first_seen min, last_seen max; identity fields
//! (vendor, hostname, model, firmware, os, serial, device_type, purdue_level) take the first
//! non-empty value in (sensor id, sensor asset id) order (`unknown` counts as empty for
//! device_type).
//!
//! Connections: merged by (client, server, transport, port) with the same rules (counters
//! summed, sets unioned, protocol first non-empty), listing the sensors that saw them.

use otwatch_proto::v1::{Asset, Connection, FleetAsset, FleetConnection, Provenance};
use std::collections::BTreeMap;

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0.get(x).copied().unwrap_or(x) != x {
            let p = self.0.get(x).copied().unwrap_or(x);
            let gp = self.0.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.0.get_mut(x) {
                *slot = gp;
            }
            x = p;
        }
        x
    }
    /// Joins the groups of a and b; the smaller index becomes the root (determinism).
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        if let Some(slot) = self.0.get_mut(hi) {
            *slot = lo;
        }
    }
}

fn min_time(into: &mut String, from: &str) {
    if into.is_empty() || (!from.is_empty() && from < into.as_str()) {
        *into = from.to_string();
    }
}

fn max_time(into: &mut String, from: &str) {
    if from > into.as_str() {
        *into = from.to_string();
    }
}

fn union_sorted<T: Ord + Clone>(into: &mut Vec<T>, from: &[T]) {
    into.extend_from_slice(from);
    into.sort_unstable();
    into.dedup();
}

fn first_non_empty(into: &mut String, from: &str) {
    if into.is_empty() && !from.is_empty() {
        *into = from.to_string();
    }
}

/// Sorts and deduplicates an asset's sets, as a merge leaves them.
fn normalize(a: &mut Asset) {
    union_sorted(&mut a.macs, &[]);
    union_sorted(&mut a.ips, &[]);
    union_sorted(&mut a.names, &[]);
    normalize_protocols(&mut a.protocols);
    normalize_evidence(&mut a.evidence);
}

/// Folds `from`'s process-bus streams into `into` (both in key order): a stream both list
/// (two sensors on the same bus) adds its frames and state changes like packets, and takes
/// the later sighting's state.
fn merge_published(
    into: &mut Vec<otwatch_proto::v1::PublishedStream>,
    from: Vec<otwatch_proto::v1::PublishedStream>,
) {
    let key = |s: &otwatch_proto::v1::PublishedStream| {
        (s.protocol.clone(), s.id.clone(), s.appid, s.group.clone())
    };
    for s in from {
        match into.binary_search_by(|x| key(x).cmp(&key(&s))) {
            Err(i) => into.insert(i, s),
            Ok(i) => {
                let m = &mut into[i];
                m.frames = m.frames.saturating_add(s.frames);
                m.state_changes = m.state_changes.saturating_add(s.state_changes);
                min_time(&mut m.first_seen, &s.first_seen);
                max_time(&mut m.last_change, &s.last_change);
                if s.last_seen > m.last_seen {
                    let (frames, changes, first, change) = (
                        m.frames,
                        m.state_changes,
                        m.first_seen.clone(),
                        m.last_change.clone(),
                    );
                    *m = s;
                    (m.frames, m.state_changes, m.first_seen, m.last_change) =
                        (frames, changes, first, change);
                }
            }
        }
    }
}

fn normalize_protocols(v: &mut Vec<otwatch_proto::v1::ProtocolUse>) {
    v.sort_unstable_by(|x, y| (&x.name, &x.role, x.port).cmp(&(&y.name, &y.role, y.port)));
    v.dedup();
}

fn normalize_evidence(v: &mut Vec<otwatch_proto::v1::Evidence>) {
    v.sort_unstable_by(|x, y| {
        (&x.field, &x.value, &x.source, &x.first_seen).cmp(&(
            &y.field,
            &y.value,
            &y.source,
            &y.first_seen,
        ))
    });
    v.dedup();
}

/// Merges the assets of one site's sensors: `(sensor id, asset)` in any order.
pub fn merge_assets(site: &str, mut input: Vec<(String, Asset)>) -> Vec<FleetAsset> {
    input.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
    let n = input.len();
    let mut uf = UnionFind((0..n).collect());
    let mut by_mac: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (_, a)) in input.iter().enumerate() {
        for m in &a.macs {
            match by_mac.get(m.as_str()) {
                Some(&j) => uf.union(i, j),
                None => {
                    by_mac.insert(m, i);
                }
            }
        }
    }
    // An address is the same only on the same VLANs (cells may reuse one range). Capture
    // segments are a sensor's own division of what it mirrors (which other sensors cannot
    // know), so an address on a segment is the same only within its sensor; MACs still join.
    let mut by_ip: BTreeMap<IpScope<'_>, Vec<usize>> = BTreeMap::new();
    for (i, (sensor, a)) in input.iter().enumerate() {
        let sensor = if a.segments.is_empty() { "" } else { sensor };
        for ip in &a.ips {
            by_ip
                .entry((ip, &a.vlans, &a.segments, sensor))
                .or_default()
                .push(i);
        }
    }
    // Whether each group (by root) has MACs; kept up to date as groups join.
    let mut has_mac: Vec<bool> = input.iter().map(|(_, a)| !a.macs.is_empty()).collect();
    for members in by_ip.values() {
        let mut roots: Vec<usize> = members.iter().map(|&i| uf.find(i)).collect();
        roots.sort_unstable();
        roots.dedup();
        let with_mac: Vec<usize> = roots
            .iter()
            .copied()
            .filter(|&r| has_mac.get(r).copied().unwrap_or(false))
            .collect();
        if with_mac.len() > 1 {
            // Conflicting MACs behind one IP: leave those apart; the MAC-less sightings of the
            // IP are one unknown device among them.
            let mut without = roots
                .iter()
                .copied()
                .filter(|&r| !has_mac.get(r).copied().unwrap_or(false));
            if let Some(first) = without.next() {
                for r in without {
                    uf.union(first, r);
                }
            }
            continue;
        }
        if let Some((&first, rest)) = roots.split_first() {
            for &r in rest {
                uf.union(first, r);
            }
            let root = uf.find(first);
            if let Some(slot) = has_mac.get_mut(root) {
                *slot = !with_mac.is_empty();
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        groups.entry(uf.find(i)).or_default().push(i);
    }
    let mut slots: Vec<Option<(String, Asset)>> = input.into_iter().map(Some).collect();
    let mut out: Vec<FleetAsset> = groups
        .values()
        .map(|members| {
            let parts: Vec<(String, Asset)> = members
                .iter()
                .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
                .collect();
            merge_group(site, parts)
        })
        .collect();
    // Two groups can have the same smallest asset id (sensors name an asset after its first
    // MAC or, without MACs, its first IP; IP-named parts of different sensors can stay apart
    // when that IP is behind several MACs). Ids must be unique: from the second such group on,
    // the id names the sensor of that part too. Both groups are in one component of the
    // address graph, so this is the same whether a whole site or one component is merged.
    let key = |f: &FleetAsset| {
        let own = f.asset.as_ref().map(|a| a.id.as_str()).unwrap_or("");
        let sensor = f
            .seen_by
            .iter()
            .find(|p| p.sensor_asset_id == own)
            .map(|p| p.sensor_id.clone())
            .unwrap_or_default();
        (f.id.clone(), sensor)
    };
    out.sort_by_cached_key(key);
    for i in 1..out.len() {
        if out[i].id == out[i - 1].id.split('@').next().unwrap_or_default() {
            let (_, sensor) = key(&out[i]);
            out[i].id = format!("{}@{sensor}", out[i].id);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Merges one group's parts, given in (sensor id, asset id) order: the first part's asset is
/// the base, the others are merged into it. One part alone gives what [`merge_assets`] gives it.
pub(crate) fn merge_group(site: &str, parts: Vec<(String, Asset)>) -> FleetAsset {
    let mut seen_by = Vec::with_capacity(parts.len());
    let mut parts = parts.into_iter();
    let Some((first_sensor, mut m)) = parts.next() else {
        return FleetAsset::default();
    };
    let provenance = |sensor: &str, a: &Asset| Provenance {
        sensor_id: sensor.to_string(),
        sensor_asset_id: a.id.clone(),
        first_seen: a.first_seen.clone(),
        last_seen: a.last_seen.clone(),
    };
    seen_by.push(provenance(&first_sensor, &m));
    normalize(&mut m);
    // The part whose id names the group: (sensor, whether that id is one of its addresses).
    let mut named_by = (first_sensor, named_by_address(&m));
    for (sensor, a) in parts {
        seen_by.push(provenance(&sensor, &a));
        if a.id < m.id {
            m.id = a.id.clone();
            named_by = (sensor, named_by_address(&a));
        }
        union_sorted(&mut m.macs, &a.macs);
        union_sorted(&mut m.ips, &a.ips);
        union_sorted(&mut m.names, &a.names);
        union_sorted(&mut m.vlans, &a.vlans);
        union_sorted(&mut m.segments, &a.segments);
        first_non_empty(&mut m.vendor, &a.vendor);
        first_non_empty(&mut m.hostname, &a.hostname);
        first_non_empty(&mut m.model, &a.model);
        first_non_empty(&mut m.firmware, &a.firmware);
        first_non_empty(&mut m.os, &a.os);
        first_non_empty(&mut m.serial, &a.serial);
        if (m.device_type.is_empty() || m.device_type == "unknown") && !a.device_type.is_empty() {
            m.device_type = a.device_type;
        }
        if m.purdue_level.is_none() {
            m.purdue_level = a.purdue_level;
        }
        m.protocols.extend(a.protocols);
        normalize_protocols(&mut m.protocols);
        m.evidence.extend(a.evidence);
        normalize_evidence(&mut m.evidence);
        merge_published(&mut m.published, a.published);
        m.packets = m.packets.saturating_add(a.packets);
        m.bytes = m.bytes.saturating_add(a.bytes);
        min_time(&mut m.first_seen, &a.first_seen);
        max_time(&mut m.last_seen, &a.last_seen);
    }
    // Sensors name an asset after one of its addresses (`mac:<first MAC>`, else `ip:<first
    // IP>`); such a name is unique to the group (MAC) or to its component (IP, see
    // merge_assets). A name that is not one of the part's addresses is made unique with its
    // sensor.
    let id = match named_by {
        (sensor, false) => format!("{site}/{}@{sensor}", m.id),
        (_, true) => format!("{site}/{}", m.id),
    };
    FleetAsset {
        id,
        site: site.to_string(),
        asset: Some(m),
        seen_by,
        ..FleetAsset::default()
    }
}

/// An address, its VLANs and segments, and the sensor whose segments they are ("" without).
type IpScope<'a> = (&'a str, &'a [u32], &'a [u32], &'a str);

/// Whether a sensor's asset id is one of its own addresses (`mac:<m>`, `ip:<x>` or
/// `ip:<x>%<zone>`).
fn named_by_address(a: &Asset) -> bool {
    match a.id.split_once(':') {
        Some(("mac", m)) => a.macs.iter().any(|x| x == m),
        Some(("ip", ip)) => {
            let ip = ip.split_once('%').map_or(ip, |(ip, _)| ip);
            a.ips.iter().any(|x| x == ip)
        }
        _ => false,
    }
}

/// What identifies a merged connection within its site, in the order they are listed: client,
/// server, transport, port, VLAN, capture segment, and the sensor for a connection on a
/// capture segment (keyed as assets are: on a segment, only within its sensor).
pub type ConnectionKey = (String, String, String, u32, u32, u32, String);

fn connection_key_of(c: &Connection, sensor: &str) -> ConnectionKey {
    (
        c.client.clone(),
        c.server.clone(),
        c.transport.clone(),
        c.port,
        c.vlan,
        c.segment,
        if c.segment == 0 {
            String::new()
        } else {
            sensor.to_string()
        },
    )
}

/// The key of a merged connection ([`merge_connections`] lists a site's in this order).
pub fn connection_key(fc: &FleetConnection) -> ConnectionKey {
    let sensor = fc.sensors.first().map_or("", String::as_str);
    fc.connection
        .as_ref()
        .map(|c| connection_key_of(c, sensor))
        .unwrap_or_default()
}

/// Merges the connections of one site's sensors, in [`ConnectionKey`] order.
pub fn merge_connections(site: &str, input: Vec<(String, Connection)>) -> Vec<FleetConnection> {
    let mut groups: BTreeMap<ConnectionKey, FleetConnection> = BTreeMap::new();
    for (sensor, c) in input {
        let key = connection_key_of(&c, &sensor);
        let fc = groups.entry(key).or_insert_with(|| FleetConnection {
            site: site.to_string(),
            connection: None,
            sensors: Vec::new(),
        });
        union_sorted(&mut fc.sensors, std::slice::from_ref(&sensor));
        let Some(m) = fc.connection.as_mut() else {
            fc.connection = Some(c);
            continue;
        };
        first_non_empty(&mut m.protocol, &c.protocol);
        m.packets = m.packets.saturating_add(c.packets);
        m.bytes = m.bytes.saturating_add(c.bytes);
        m.flows = m.flows.saturating_add(c.flows);
        union_sorted(&mut m.function_codes, &c.function_codes);
        union_sorted(&mut m.operations, &c.operations);
        let mut logins: Vec<(String, String, String)> = m
            .cleartext_logins
            .iter()
            .chain(&c.cleartext_logins)
            .map(|l| (l.user.clone(), l.protocol.clone(), l.first_seen.clone()))
            .collect();
        logins.sort();
        logins.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        m.cleartext_logins = logins
            .into_iter()
            .map(
                |(user, protocol, first_seen)| otwatch_proto::v1::CleartextLogin {
                    user,
                    protocol,
                    first_seen,
                },
            )
            .collect();
        let mut acc = m.accessed.clone();
        acc.extend(c.accessed.iter().cloned());
        acc.sort_by(|a, b| {
            (a.unit, &a.area, &a.op, &a.ranges).cmp(&(b.unit, &b.area, &b.op, &b.ranges))
        });
        acc.dedup();
        m.accessed = acc;
        min_time(&mut m.first_seen, &c.first_seen);
        max_time(&mut m.last_seen, &c.last_seen);
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str, macs: &[&str], ips: &[&str], packets: u64) -> Asset {
        Asset {
            id: id.into(),
            macs: macs.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.to_string()).collect(),
            packets,
            first_seen: "2024-01-01T00:00:05Z".into(),
            last_seen: "2024-01-01T00:00:09Z".into(),
            ..Default::default()
        }
    }

    /// Two sensors on one process bus see the same GOOSE stream: one stream, its frames and
    /// state changes added up like packets, the later sighting's state kept.
    #[test]
    fn a_stream_two_sensors_see_is_one_stream() {
        let mac = "0a:bb:fe:10:c9:02";
        let seen = |frames, changes, st_num, last: &str| {
            let mut a = asset(&format!("mac:{mac}"), &[mac], &[], frames);
            a.published = vec![otwatch_proto::v1::PublishedStream {
                protocol: "goose".into(),
                id: "AA1C1Q01A1LD0/LLN0$GO$gcb_A".into(),
                appid: 0x3001,
                group: "01:0c:cd:01:00:00".into(),
                st_num,
                state_changes: changes,
                frames,
                first_seen: "2024-01-01T00:00:05Z".into(),
                last_seen: last.into(),
                last_change: last.into(),
                ..Default::default()
            }];
            a
        };
        let fleet = merge_assets(
            "a",
            vec![
                ("s-1".into(), seen(20, 3, 7, "2024-01-01T00:00:09Z")),
                ("s-2".into(), seen(5, 1, 8, "2024-01-01T00:00:12Z")),
            ],
        );
        assert_eq!(fleet.len(), 1);
        let p = &fleet[0].asset.as_ref().unwrap().published;
        assert_eq!(p.len(), 1);
        assert_eq!(
            (
                p[0].frames,
                p[0].state_changes,
                p[0].st_num,
                p[0].last_seen.as_str()
            ),
            (25, 4, 8, "2024-01-01T00:00:12Z")
        );
        assert_eq!(p[0].first_seen, "2024-01-01T00:00:05Z");
    }

    #[test]
    fn the_same_ip_on_two_vlans_stays_two_assets() {
        let on = |vlans: &[u32], id: &str| {
            let mut a = asset(id, &[], &["192.168.1.10"], 1);
            a.vlans = vlans.to_vec();
            a
        };
        let fleet = merge_assets(
            "a",
            vec![
                ("s-1".into(), on(&[10], "ip:192.168.1.10%vlan10")),
                ("s-2".into(), on(&[10], "ip:192.168.1.10%vlan10")),
                ("s-1".into(), on(&[20], "ip:192.168.1.10%vlan20")),
            ],
        );
        let ids: Vec<(&str, usize)> = fleet
            .iter()
            .map(|f| (f.id.as_str(), f.seen_by.len()))
            .collect();
        assert_eq!(
            ids,
            [
                ("a/ip:192.168.1.10%vlan10", 2),
                ("a/ip:192.168.1.10%vlan20", 1)
            ]
        );
    }

    /// Segment numbers are each sensor's own: the same address on "segment 2" of two sensors
    /// joins only through a MAC; within one sensor it is the same device.
    #[test]
    fn an_address_on_a_capture_segment_joins_only_within_its_sensor() {
        let on = |seg: u32, macs: &[&str]| {
            let mut a = asset(&format!("ip:10.0.0.5%seg{seg}"), macs, &["10.0.0.5"], 1);
            a.segments = vec![seg];
            a
        };
        let fleet = merge_assets(
            "a",
            vec![
                ("s-1".into(), on(2, &[])),
                ("s-2".into(), on(2, &[])),
                ("s-1".into(), on(3, &["00:1b:1b:00:00:01"])),
                ("s-3".into(), on(4, &["00:1b:1b:00:00:01"])),
            ],
        );
        let seen: Vec<(Vec<&str>, &[u32])> = fleet
            .iter()
            .map(|f| {
                let a = f.asset.as_ref().unwrap();
                (
                    f.seen_by.iter().map(|s| s.sensor_id.as_str()).collect(),
                    a.segments.as_slice(),
                )
            })
            .collect();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen.contains(&(vec!["s-1"], &[2][..])));
        assert!(seen.contains(&(vec!["s-2"], &[2][..])));
        assert!(seen.contains(&(vec!["s-1", "s-3"], &[3, 4][..])));
    }

    #[test]
    fn merges_by_mac_and_by_ip_without_conflict() {
        let m1 = "00:11:22:33:44:55";
        let m2 = "00:11:22:33:44:66";
        let mut b = asset("mac:00:11:22:33:44:55", &[m1], &["10.0.0.9"], 5);
        b.vendor = "Siemens".into();
        b.first_seen = "2024-01-01T00:00:01Z".into();
        let fleet = merge_assets(
            "a",
            vec![
                (
                    "s-1".into(),
                    asset("mac:00:11:22:33:44:55", &[m1], &["10.0.0.1"], 3),
                ),
                ("s-2".into(), b),
                // Same IP as s-1's asset, no MAC (seen routed): joins it.
                ("s-3".into(), asset("ip:10.0.0.1", &[], &["10.0.0.1"], 1)),
                // Same IP 10.0.0.9 but another MAC: a different device.
                (
                    "s-3".into(),
                    asset("mac:00:11:22:33:44:66", &[m2], &["10.0.0.9"], 1),
                ),
            ],
        );
        assert_eq!(fleet.len(), 2, "{fleet:#?}");
        let f = &fleet[0];
        assert_eq!(f.id, "a/ip:10.0.0.1");
        let a = f.asset.as_ref().unwrap();
        assert_eq!(a.packets, 9);
        assert_eq!(a.ips, vec!["10.0.0.1", "10.0.0.9"]);
        assert_eq!(a.vendor, "Siemens");
        assert_eq!(a.first_seen, "2024-01-01T00:00:01Z");
        assert_eq!(f.seen_by.len(), 3);
        assert_eq!(fleet[1].id, "a/mac:00:11:22:33:44:66");
    }

    #[test]
    fn an_ip_shared_by_two_macs_merges_nothing() {
        let fleet = merge_assets(
            "a",
            vec![
                (
                    "s-1".into(),
                    asset(
                        "mac:02:00:00:00:00:01",
                        &["02:00:00:00:00:01"],
                        &["10.0.0.1"],
                        1,
                    ),
                ),
                ("s-2".into(), asset("ip:10.0.0.1", &[], &["10.0.0.1"], 1)),
                (
                    "s-3".into(),
                    asset(
                        "mac:02:00:00:00:00:02",
                        &["02:00:00:00:00:02"],
                        &["10.0.0.1"],
                        1,
                    ),
                ),
            ],
        );
        // Which device the MAC-less sighting belongs to is unknown: it stays on its own.
        assert_eq!(fleet.len(), 3);
        assert!(fleet.iter().all(|f| f.seen_by.len() == 1));
    }

    #[test]
    fn ids_stay_unique() {
        let two_macs = |extra: Vec<(String, Asset)>| {
            let mut v = vec![
                (
                    "s-1".into(),
                    asset(
                        "mac:02:00:00:00:00:01",
                        &["02:00:00:00:00:01"],
                        &["10.0.0.1"],
                        1,
                    ),
                ),
                (
                    "s-1".into(),
                    asset(
                        "mac:02:00:00:00:00:02",
                        &["02:00:00:00:00:02"],
                        &["10.0.0.1"],
                        1,
                    ),
                ),
            ];
            v.extend(extra);
            merge_assets("a", v)
        };
        // MAC-less sightings of an IP behind two MACs are one unknown device, not two assets
        // with the same id.
        let fleet = two_macs(vec![
            ("s-2".into(), asset("ip:10.0.0.1", &[], &["10.0.0.1"], 1)),
            ("s-3".into(), asset("ip:10.0.0.1", &[], &["10.0.0.1"], 1)),
        ]);
        assert_eq!(fleet.len(), 3);
        assert_eq!(fleet[0].id, "a/ip:10.0.0.1");
        assert_eq!(fleet[0].seen_by.len(), 2);
        // The same IP-named part joined to a MAC group through another IP, and one that was
        // not: the second gets its sensor in its id.
        let fleet = two_macs(vec![
            (
                "s-2".into(),
                asset("ip:10.0.0.1", &[], &["10.0.0.1", "10.0.0.0"], 1),
            ),
            (
                "s-2".into(),
                asset(
                    "mac:02:00:00:00:00:03",
                    &["02:00:00:00:00:03"],
                    &["10.0.0.0"],
                    1,
                ),
            ),
            ("s-3".into(), asset("ip:10.0.0.1", &[], &["10.0.0.1"], 1)),
        ]);
        let ids: Vec<&str> = fleet.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "a/ip:10.0.0.1",
                "a/ip:10.0.0.1@s-3",
                "a/mac:02:00:00:00:00:01",
                "a/mac:02:00:00:00:00:02"
            ]
        );
        // A part not named after its addresses is named with its sensor.
        let fleet = merge_assets("a", vec![("s-9".into(), asset("x", &[], &["10.0.0.1"], 1))]);
        assert_eq!(fleet[0].id, "a/x@s-9");
    }

    #[test]
    fn connections_merge_by_key() {
        let c = |p| Connection {
            client: "10.0.0.1".into(),
            server: "10.0.0.2".into(),
            transport: "tcp".into(),
            port: 502,
            protocol: "modbus".into(),
            packets: p,
            function_codes: vec![p.to_string()],
            ..Default::default()
        };
        let m = merge_connections("a", vec![("s-2".into(), c(3)), ("s-1".into(), c(4))]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].sensors, vec!["s-1", "s-2"]);
        let mc = m[0].connection.as_ref().unwrap();
        assert_eq!(mc.packets, 7);
        assert_eq!(mc.function_codes, vec!["3", "4"]);
    }
}
