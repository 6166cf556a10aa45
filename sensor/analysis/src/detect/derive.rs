//! Alerts that need the finished inventory: Purdue levels and the whole set of assets are only
//! known once the report is built. Derived alerts are written into the book (so they persist
//! and travel like the others) and updated from the facts at every report: one alert per
//! connection or asset, its count the connection's flows.

use super::alerts::{About, Addr, AlertBook, AlertKey, Describe, Severity, Text};
use super::catalog::Kind;
use super::{policy, DetectConfig, ALLOWED_NOTE};
use crate::decode::Lan;
use crate::inventory::classify::is_global;
use crate::inventory::facts::HostKey;
use otwatch_common::model::{Asset, InventoryReport};
use otwatch_common::Timestamp;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Remote access protocols (interactive sessions).
const REMOTE_ACCESS: &[&str] = &["ssh", "rdp", "vnc", "telnet"];

/// Address → asset, from the report.
pub struct AssetIndex<'a> {
    by_addr: BTreeMap<Addr, &'a Asset>,
}

impl<'a> AssetIndex<'a> {
    pub fn new(r: &'a InventoryReport) -> AssetIndex<'a> {
        let mut by_addr = BTreeMap::new();
        // An address asset (`ip:<ip>%<lan>`) is exactly its LAN's; a device's addresses are in
        // the LANs it was seen on, unless an address asset holds that place.
        for a in &r.assets {
            if let Some(k) =
                a.id.strip_prefix("ip:")
                    .and_then(|k| k.parse::<HostKey>().ok())
            {
                by_addr.insert(Addr::Ip(k), a);
            }
        }
        for a in &r.assets {
            for ip in &a.ips {
                let Ok(ip) = ip.parse::<IpAddr>() else {
                    continue;
                };
                for lan in lans_of(a) {
                    by_addr.entry(Addr::Ip(HostKey::new(lan, ip))).or_insert(a);
                }
            }
            for m in &a.macs {
                if let Ok(m) = m.parse() {
                    by_addr.insert(Addr::Mac(m), a);
                }
            }
        }
        AssetIndex { by_addr }
    }

    pub fn get(&self, a: &Addr) -> Option<&'a Asset> {
        self.by_addr.get(a).copied()
    }
}

/// The LANs an asset's addresses can be in: every pair of its segments and VLANs (the default
/// segment, untagged, when it lists none).
fn lans_of(a: &Asset) -> impl Iterator<Item = Lan> {
    let short = |v: u32| u16::try_from(v).unwrap_or(0);
    a.lans().into_iter().map(move |(s, v)| Lan {
        segment: short(s),
        vlan: short(v),
    })
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_default()
}

fn t(s: &'static str) -> Text {
    Cow::Borrowed(s)
}

fn level(a: Option<&Asset>) -> Option<u32> {
    a.and_then(|a| a.purdue_level)
}

fn describe(kind: Kind, title: String, about: About) -> Describe {
    Describe {
        title,
        description: kind.entry().meaning.to_string(),
        mitre: kind.mitre(),
        about,
        requires: None,
    }
}

/// Where and when a derived alert's facts were seen: its addresses, protocol, and (first, last,
/// count) of the occurrences.
#[derive(Clone, Copy)]
struct Seen<'a> {
    src: Addr,
    dst: Addr,
    protocol: &'a str,
    when: (Timestamp, Timestamp, u64),
}

/// Raises (or updates) the derived alerts of `report` in `book`.
pub fn derive(book: &mut AlertBook, report: &InventoryReport, cfg: &DetectConfig) {
    if !cfg.settings.enabled {
        return;
    }
    let lim = cfg.settings.book_limits();
    let idx = AssetIndex::new(report);
    let pol = cfg.policy.as_ref();
    let upsert = |book: &mut AlertBook,
                  (kind, severity): (Kind, Severity),
                  seen: &Seen<'_>,
                  about: About,
                  title: String,
                  ev: Vec<(Text, String)>| {
        let Seen {
            src,
            dst,
            protocol,
            when: (first, last, count),
        } = *seen;
        let key = AlertKey {
            kind: t(kind.name()),
            src,
            dst,
            protocol: Cow::Owned(protocol.to_string()),
            extra: 0,
        };
        let allowed = pol.is_some_and(|p| p.allows(kind.name(), src, dst));
        book.upsert(
            &lim,
            key.clone(),
            first,
            last,
            count,
            severity,
            || ev,
            || describe(kind, title, about),
        );
        if allowed {
            book.cap_severity(&key, Severity::Low, ALLOWED_NOTE);
        }
    };
    for c in &report.connections {
        let (Ok(ci), Ok(si)) = (c.client.parse::<IpAddr>(), c.server.parse::<IpAddr>()) else {
            continue;
        };
        let lan = Lan {
            segment: u16::try_from(c.segment).unwrap_or(0),
            vlan: u16::try_from(c.vlan).unwrap_or(0),
        };
        let (src, dst) = (
            Addr::Ip(HostKey::new(lan, ci)),
            Addr::Ip(HostKey::new(lan, si)),
        );
        let (ca, sa) = (idx.get(&src), idx.get(&dst));
        let seen = Seen {
            src,
            dst,
            protocol: &c.protocol,
            when: (ts(&c.first_seen), ts(&c.last_seen), c.flows.max(1)),
        };
        // Remote access to or from the control zone.
        if REMOTE_ACCESS.contains(&c.protocol.as_str()) {
            let ot = [(ca, About::Src), (sa, About::Dst)]
                .into_iter()
                .find(|(a, _)| level(*a).is_some_and(|l| l <= 2));
            if let Some((a, about)) = ot {
                let from_internet = is_global(&ci);
                let sev = if from_internet {
                    Severity::High
                } else {
                    Kind::RemoteAccessSession.severity()
                };
                let lv = level(a).unwrap_or(0);
                upsert(
                    book,
                    (Kind::RemoteAccessSession, sev),
                    &seen,
                    about,
                    format!(
                        "{} session from {ci} to {si} (a level {lv} {})",
                        c.protocol,
                        a.map_or("asset", |a| a.device_type.as_str())
                    ),
                    vec![
                        (t("protocol"), c.protocol.clone()),
                        (t("port"), c.port.to_string()),
                        (t("sessions"), c.flows.to_string()),
                        (t("purdue_level"), lv.to_string()),
                    ],
                );
            }
        }
        // Control-zone assets talking to the internet.
        for (local, la, remote, about) in [(ci, ca, si, About::Src), (si, sa, ci, About::Dst)] {
            if !is_global(&remote) || is_global(&local) {
                continue;
            }
            let Some(lv) = level(la).filter(|l| *l <= 3) else {
                continue;
            };
            let sev = if lv <= 2 {
                Severity::High
            } else {
                Severity::Medium
            };
            let what = if c.protocol.is_empty() {
                format!("{}/{}", c.transport, c.port)
            } else {
                c.protocol.clone()
            };
            upsert(
                book,
                (Kind::InternetConnection, sev),
                &seen,
                about,
                format!("Level {lv} asset {local} exchanged {what} traffic with internet address {remote}"),
                vec![
                    (t("internet_address"), remote.to_string()),
                    (t("conversation"), what),
                    (t("purdue_level"), lv.to_string()),
                    (t("packets"), c.packets.to_string()),
                ],
            );
        }
        // With a policy: protocols the control zone never used.
        if let Some(p) = pol {
            let ot = level(ca).is_some_and(|l| l <= 2) || level(sa).is_some_and(|l| l <= 2);
            let port = u16::try_from(c.port).unwrap_or(0);
            let transport = match c.transport.as_str() {
                "tcp" => 6,
                "udp" => 17,
                "icmp" => 1,
                "icmpv6" => 58,
                _ => 0,
            };
            let label = policy::zone_label(&c.protocol, transport, port);
            if ot
                && !p.ot_protocols.contains(&label)
                && p.conversation(ci, si, transport, port, &c.protocol)
                    .is_none()
            {
                let about = if level(sa).is_some_and(|l| l <= 2) {
                    About::Dst
                } else {
                    About::Src
                };
                let kind = Kind::UnknownProtocolInOtZone;
                upsert(
                    book,
                    (kind, kind.severity()),
                    &seen,
                    about,
                    format!("{label} between {ci} and {si} in the control zone"),
                    vec![
                        (t("conversation"), label.clone()),
                        (
                            t("recognised"),
                            if c.protocol.is_empty() { "no" } else { "yes" }.into(),
                        ),
                    ],
                );
            }
        }
    }
    // With a policy: devices it does not know.
    if let Some(p) = pol {
        for a in &report.assets {
            let ips: Vec<IpAddr> = a.ips.iter().filter_map(|i| i.parse().ok()).collect();
            let macs: Vec<otwatch_common::Mac> =
                a.macs.iter().filter_map(|m| m.parse().ok()).collect();
            if a.purdue_level == Some(5) || (macs.is_empty() && ips.iter().all(is_global)) {
                continue;
            }
            if macs.iter().any(|m| p.knows_mac(m)) || ips.iter().any(|i| p.knows_ip(i)) {
                continue;
            }
            let src = macs
                .first()
                .map(|m| Addr::Mac(*m))
                .or_else(|| {
                    let lan = lans_of(a).next().unwrap_or_default();
                    ips.first().map(|i| Addr::Ip(HostKey::new(lan, *i)))
                })
                .unwrap_or_default();
            let name = ips
                .first()
                .map(|i| i.to_string())
                .or_else(|| macs.first().map(|m| m.to_string()))
                .unwrap_or_default();
            let mut ev = vec![(t("device_type"), a.device_type.clone())];
            for (f, v) in [
                ("vendor", &a.vendor),
                ("model", &a.model),
                ("hostname", &a.hostname),
            ] {
                if !v.is_empty() {
                    ev.push((t(f), v.clone()));
                }
            }
            ev.extend(a.ips.iter().map(|i| (t("ip"), i.clone())));
            ev.extend(a.macs.iter().map(|m| (t("mac"), m.clone())));
            let seen = Seen {
                src,
                dst: Addr::None,
                protocol: "",
                when: (ts(&a.first_seen), ts(&a.last_seen), 1),
            };
            upsert(
                book,
                (Kind::NewAsset, Kind::NewAsset.severity()),
                &seen,
                About::Src,
                format!(
                    "New {} {name}{}",
                    if a.device_type.is_empty() {
                        "asset"
                    } else {
                        a.device_type.as_str()
                    },
                    if a.vendor.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", a.vendor)
                    }
                ),
                ev,
            );
        }
    }
}

/// The book's alerts in report form, with asset ids resolved.
pub fn render(book: &AlertBook, report: &InventoryReport) -> Vec<otwatch_common::model::Alert> {
    let idx = AssetIndex::new(report);
    book.to_model(|a| idx.get(a))
}

/// Derives, then renders the alerts into `report` (and its rate-limit counters).
pub fn finish(book: &mut AlertBook, report: &mut InventoryReport, cfg: &DetectConfig) {
    derive(book, report, cfg);
    report.alerts = render(book, report);
    for (k, v) in book.limits() {
        report.stats_mut().limits.insert(k, v);
    }
}
