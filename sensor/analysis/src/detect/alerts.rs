//! The alert book: every alert raised so far, with repeats folded in.
//!
//! An alert is identified by its key (kind, source, destination, protocol and a kind-specific
//! discriminator) and the time its episode began. A repeat of the same key within the window
//! after the episode's last occurrence counts up that alert; a repeat after a quiet window
//! begins a new episode, a new alert. New alerts are rate limited per kind (in packet time)
//! and the book is capped; what either throws away is counted, never silently lost.
//!
//! Everything is keyed by packet time and kept in insertion order, so the same input gives
//! the same alerts, ids included.

use super::catalog::{self, Kind};
pub use super::catalog::{Severity, Text};
use crate::inventory::facts::HostKey;
use otwatch_common::model::{Alert, AlertEvidence};
use otwatch_common::{Mac, Timestamp};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Evidence entries kept per alert.
pub const MAX_EVIDENCE: usize = 24;
/// Occurrences of an alert whose evidence is still merged; later ones only count.
const EVIDENCE_OCCURRENCES: u64 = 16;

/// An alert's source or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Addr {
    #[default]
    None,
    /// An address in its LAN (capture segment and VLAN), written `<ip>` or `<ip>%<lan>`.
    Ip(HostKey),
    Mac(Mac),
}

impl Addr {
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            Addr::Ip(k) => Some(k.ip),
            _ => None,
        }
    }

    pub fn is_none(self) -> bool {
        self == Addr::None
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::None => Ok(()),
            Addr::Ip(k) => write!(f, "{k}"),
            Addr::Mac(m) => write!(f, "{m}"),
        }
    }
}

impl std::str::FromStr for Addr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Addr::None);
        }
        if let Ok(k) = s.parse::<HostKey>() {
            return Ok(Addr::Ip(k));
        }
        s.parse::<Mac>()
            .map(Addr::Mac)
            .map_err(|_| format!("{s:?} is neither an IP nor a MAC address"))
    }
}

impl Serialize for Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which address's asset the alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum About {
    #[default]
    Src,
    Dst,
}

/// What makes two occurrences the same alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    pub kind: Text,
    pub src: Addr,
    pub dst: Addr,
    pub protocol: Text,
    /// Kind-specific discriminator (an indicator, a rule group); 0 when none.
    #[serde(default)]
    pub extra: u64,
}

impl AlertKey {
    pub fn new(kind: Kind, src: Addr, dst: Addr, protocol: &'static str) -> AlertKey {
        AlertKey {
            kind: Cow::Borrowed(kind.name()),
            src,
            dst,
            protocol: Cow::Borrowed(protocol),
            extra: 0,
        }
    }
}

/// Conditions on the assets of an alert's addresses, checked on the finished inventory (analyst
/// rules that name a device type, vendor or Purdue level).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetCond {
    #[serde(default, skip_serializing_if = "Side::is_empty")]
    pub src: Side,
    #[serde(default, skip_serializing_if = "Side::is_empty")]
    pub dst: Side,
}

/// Conditions on one asset; every non-empty list must contain the asset's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_type: Vec<String>,
    /// Lower-case substrings of the vendor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vendor: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purdue_level: Vec<u32>,
}

impl Side {
    pub fn is_empty(&self) -> bool {
        self.device_type.is_empty() && self.vendor.is_empty() && self.purdue_level.is_empty()
    }

    /// Whether an asset with these attributes (none when the address is no asset) matches.
    pub fn matches(&self, a: Option<&otwatch_common::model::Asset>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(a) = a else { return false };
        let vendor = a.vendor.to_lowercase();
        (self.device_type.is_empty() || self.device_type.contains(&a.device_type))
            && (self.vendor.is_empty() || self.vendor.iter().any(|v| vendor.contains(v.as_str())))
            && (self.purdue_level.is_empty()
                || a.purdue_level
                    .is_some_and(|l| self.purdue_level.contains(&l)))
    }
}

/// Title, description and the rest of what a new alert shows; built only when needed.
#[derive(Debug, Clone, Default)]
pub struct Describe {
    pub title: String,
    pub description: String,
    pub mitre: Vec<Text>,
    pub about: About,
    pub requires: Option<AssetCond>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRec {
    pub id: String,
    pub key: AlertKey,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub mitre: Vec<Text>,
    pub about: About,
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u64,
    pub evidence: Vec<(Text, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<AssetCond>,
}

impl AlertRec {
    /// A new alert: `when` is (first, last, count) of its occurrences so far.
    fn new(
        key: AlertKey,
        severity: Severity,
        (first, last, count): (Timestamp, Timestamp, u64),
        d: Describe,
        evidence: Vec<(Text, String)>,
    ) -> AlertRec {
        let mut rec = AlertRec {
            id: alert_id(&key, first),
            key,
            severity,
            title: d.title,
            description: d.description,
            mitre: d.mitre,
            about: d.about,
            first,
            last,
            count: count.max(1),
            evidence: Vec::new(),
            requires: d.requires,
        };
        rec.add_evidence(evidence);
        rec
    }

    fn add_evidence(&mut self, ev: Vec<(Text, String)>) {
        for (f, v) in ev {
            if self.evidence.len() >= MAX_EVIDENCE {
                return;
            }
            // The first occurrence's packet time is enough; first/last seen say the rest.
            let once = f == "packet_time" && self.evidence.iter().any(|(g, _)| g == "packet_time");
            if !once && !self.evidence.iter().any(|(g, w)| *g == f && *w == v) {
                self.evidence.push((f, v));
            }
        }
    }
}

/// Limits of the book.
#[derive(Debug, Clone, Copy)]
pub struct BookLimits {
    /// A repeat after this long without occurrences begins a new alert.
    pub window_ns: u64,
    /// New alerts per kind per minute of packet time.
    pub per_kind_per_minute: u32,
    /// Alerts kept; beyond, the oldest least severe are evicted.
    pub max_alerts: usize,
}

impl Default for BookLimits {
    fn default() -> Self {
        BookLimits {
            window_ns: 3600 * 1_000_000_000,
            per_kind_per_minute: 200,
            max_alerts: 50_000,
        }
    }
}

/// Every alert raised, in the order raised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertBook {
    alerts: Vec<AlertRec>,
    /// New alerts not raised because their kind hit its rate limit, per kind.
    #[serde(default)]
    pub suppressed: BTreeMap<String, u64>,
    /// Alerts dropped to keep the book under its cap.
    #[serde(default)]
    pub evicted: u64,
    /// Key → index of its latest episode.
    #[serde(skip)]
    by_key: FxHashMap<AlertKey, usize>,
    /// Rate limit: the minute of packet time being counted and the new alerts per kind in it.
    #[serde(skip)]
    minute: u64,
    #[serde(skip)]
    this_minute: FxHashMap<Text, u32>,
}

/// 64-bit FNV-1a: a small hash that never changes between versions or runs.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn alert_id(k: &AlertKey, first: Timestamp) -> String {
    let h = fnv(&[
        k.kind.as_bytes(),
        k.src.to_string().as_bytes(),
        k.dst.to_string().as_bytes(),
        k.protocol.as_bytes(),
        &k.extra.to_be_bytes(),
        &first.0.to_be_bytes(),
    ]);
    format!("{h:016x}")
}

/// Discriminator of a text (an indicator value, a rule group).
pub fn extra_of(s: &str) -> u64 {
    fnv(&[s.as_bytes()])
}

impl AlertBook {
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &AlertRec> {
        self.alerts.iter()
    }

    /// The current episode of `key`, if there is one.
    pub fn get(&self, key: &AlertKey) -> Option<&AlertRec> {
        self.by_key.get(key).and_then(|&i| self.alerts.get(i))
    }

    /// Rebuilds the key index (after loading from the store).
    /// Forgets the alerts whose last occurrence is before `before`; how many went.
    pub fn forget_before(&mut self, before: Timestamp) -> u64 {
        let n = self.alerts.len();
        self.alerts.retain(|a| a.last >= before);
        let gone = (n - self.alerts.len()) as u64;
        if gone > 0 {
            self.reindex();
        }
        gone
    }

    pub fn reindex(&mut self) {
        self.by_key.clear();
        for (i, a) in self.alerts.iter().enumerate() {
            let newer = self
                .by_key
                .get(&a.key)
                .and_then(|&j| self.alerts.get(j))
                .is_none_or(|b| a.first >= b.first);
            if newer {
                self.by_key.insert(a.key.clone(), i);
            }
        }
    }

    /// One occurrence of `key` at `ts`. A repeat within the window counts up the current
    /// episode (severity rises to the highest seen, evidence is merged for the first few
    /// occurrences); otherwise a new alert is made, unless the kind's rate limit or the cap
    /// says no. Returns true when a new alert was made.
    pub fn raise(
        &mut self,
        lim: &BookLimits,
        key: AlertKey,
        ts: Timestamp,
        severity: Severity,
        evidence: impl FnOnce() -> Vec<(Text, String)>,
        describe: impl FnOnce() -> Describe,
    ) -> bool {
        if let Some(&i) = self.by_key.get(&key) {
            if let Some(a) = self.alerts.get_mut(i) {
                if ts.0 <= a.last.0.saturating_add(lim.window_ns) {
                    a.count += 1;
                    a.first = a.first.min(ts);
                    a.last = a.last.max(ts);
                    a.severity = a.severity.max(severity);
                    if a.count <= EVIDENCE_OCCURRENCES && a.evidence.len() < MAX_EVIDENCE {
                        a.add_evidence(evidence());
                    }
                    return false;
                }
            }
        }
        if !self.admit(lim, &key.kind, ts) {
            return false;
        }
        let rec = AlertRec::new(key, severity, (ts, ts, 1), describe(), evidence());
        self.push(lim, rec);
        true
    }

    /// Sets an alert derived from the inventory (a connection, an asset) to what the facts
    /// say now: one alert per key, made once and then updated.
    #[allow(clippy::too_many_arguments)]
    pub fn upsert(
        &mut self,
        lim: &BookLimits,
        key: AlertKey,
        first: Timestamp,
        last: Timestamp,
        count: u64,
        severity: Severity,
        evidence: impl FnOnce() -> Vec<(Text, String)>,
        describe: impl FnOnce() -> Describe,
    ) {
        if let Some(a) = self.by_key.get(&key).and_then(|&i| self.alerts.get_mut(i)) {
            a.last = a.last.max(last);
            a.count = a.count.max(count);
            a.severity = a.severity.max(severity);
            return;
        }
        if !self.admit(lim, &key.kind, first) {
            return;
        }
        let rec = AlertRec::new(key, severity, (first, last, count), describe(), evidence());
        self.push(lim, rec);
    }

    /// Whether a new alert of `kind` may be made at `ts` (the per-kind rate limit).
    fn admit(&mut self, lim: &BookLimits, kind: &Text, ts: Timestamp) -> bool {
        let minute = ts.secs() / 60;
        if minute > self.minute {
            self.minute = minute;
            self.this_minute.clear();
        }
        let n = self.this_minute.entry(kind.clone()).or_default();
        if *n >= lim.per_kind_per_minute {
            *self.suppressed.entry(kind.to_string()).or_default() += 1;
            return false;
        }
        *n += 1;
        true
    }

    fn push(&mut self, lim: &BookLimits, rec: AlertRec) {
        if self.alerts.len() >= lim.max_alerts.max(1) {
            self.evict(lim.max_alerts.max(8) / 8);
        }
        self.by_key.insert(rec.key.clone(), self.alerts.len());
        self.alerts.push(rec);
    }

    /// Drops the `n` least severe, longest quiet alerts.
    fn evict(&mut self, n: usize) {
        let mut order: Vec<(Severity, Timestamp, usize)> = self
            .alerts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.severity, a.last, i))
            .collect();
        order.sort_unstable();
        let mut drop = vec![false; self.alerts.len()];
        for &(_, _, i) in order.iter().take(n) {
            if let Some(d) = drop.get_mut(i) {
                *d = true;
            }
        }
        let mut i = 0;
        self.alerts.retain(|_| {
            let keep = !drop.get(i).copied().unwrap_or(false);
            i += 1;
            keep
        });
        self.evicted += n as u64;
        self.reindex();
    }

    /// Folds another book in (another worker's, an earlier run's): the same alert (same id)
    /// adds its occurrences; others are added.
    pub fn merge(&mut self, lim: &BookLimits, other: AlertBook) {
        let mut by_id: FxHashMap<String, usize> = self
            .alerts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        for o in other.alerts {
            match by_id.get(&o.id).and_then(|&i| self.alerts.get_mut(i)) {
                Some(a) => {
                    a.count += o.count;
                    a.first = a.first.min(o.first);
                    a.last = a.last.max(o.last);
                    a.severity = a.severity.max(o.severity);
                    a.add_evidence(o.evidence);
                }
                None => {
                    by_id.insert(o.id.clone(), self.alerts.len());
                    self.alerts.push(o);
                }
            }
        }
        for (k, n) in other.suppressed {
            *self.suppressed.entry(k).or_default() += n;
        }
        self.evicted += other.evicted;
        if self.alerts.len() > lim.max_alerts.max(1) {
            let n = self.alerts.len() - lim.max_alerts.max(1);
            self.evict(n);
        } else {
            self.reindex();
        }
    }

    /// Lowers the severity of the current episode of `key` to at most `cap` (an alert the
    /// policy allows).
    pub fn cap_severity(&mut self, key: &AlertKey, cap: Severity, note: &str) {
        if let Some(a) = self.by_key.get(key).and_then(|&i| self.alerts.get_mut(i)) {
            if a.severity > cap {
                a.severity = cap;
            }
            if !a.description.ends_with(note) {
                a.description.push(' ');
                a.description.push_str(note);
            }
        }
    }

    /// Alerts dropped by rate limits and the cap, for `stats.limits`.
    pub fn limits(&self) -> Vec<(String, u64)> {
        let mut v = Vec::new();
        let s: u64 = self.suppressed.values().sum();
        if s > 0 {
            v.push(("alerts_rate_limited".to_string(), s));
        }
        if self.evicted > 0 {
            v.push(("alerts_evicted".to_string(), self.evicted));
        }
        v
    }

    /// The alerts in report form, ordered by first occurrence then id. `asset_of` names the
    /// asset an address belongs to; alerts whose asset conditions fail are left out (they
    /// may match later, when the assets are better known).
    pub fn to_model<'a>(
        &self,
        asset_of: impl Fn(&Addr) -> Option<&'a otwatch_common::model::Asset>,
    ) -> Vec<Alert> {
        let mut v: Vec<&AlertRec> = self.alerts.iter().collect();
        v.sort_by(|a, b| a.first.cmp(&b.first).then(a.id.cmp(&b.id)));
        v.into_iter()
            .filter_map(|a| {
                let src = asset_of(&a.key.src);
                let dst = asset_of(&a.key.dst);
                if let Some(c) = &a.requires {
                    if !c.src.matches(src) || !c.dst.matches(dst) {
                        return None;
                    }
                }
                let asset = match a.about {
                    About::Src => src,
                    About::Dst => dst,
                };
                Some(Alert {
                    id: a.id.clone(),
                    kind: a.key.kind.to_string(),
                    severity: a.severity.as_str().to_string(),
                    title: a.title.clone(),
                    description: a.description.clone(),
                    mitre: a.mitre.iter().map(|m| m.to_string()).collect(),
                    src: a.key.src.to_string(),
                    dst: a.key.dst.to_string(),
                    asset: asset.map(|x| x.id.clone()).unwrap_or_default(),
                    protocol: a.key.protocol.to_string(),
                    first_seen: a.first.rfc3339(),
                    last_seen: a.last.rfc3339(),
                    count: a.count,
                    evidence: a
                        .evidence
                        .iter()
                        .map(|(f, v)| AlertEvidence {
                            field: f.to_string(),
                            value: v.clone(),
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// The kinds present, for the catalog test.
    pub fn kinds(&self) -> std::collections::BTreeSet<String> {
        self.alerts.iter().map(|a| a.key.kind.to_string()).collect()
    }

    /// Checks every kind is in the catalog or a rule (used by tests).
    pub fn all_known(&self) -> bool {
        self.alerts
            .iter()
            .all(|a| catalog::Kind::parse(&a.key.kind).is_some() || a.key.kind.starts_with("rule:"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(src: u8) -> AlertKey {
        AlertKey::new(
            Kind::PlcStop,
            Addr::Ip(IpAddr::from([10, 0, 0, src]).into()),
            Addr::Ip(IpAddr::from([10, 0, 0, 1]).into()),
            "s7comm",
        )
    }

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs_nanos(1_700_000_000 + s, 0)
    }

    fn raise(b: &mut AlertBook, lim: &BookLimits, k: AlertKey, ts: Timestamp) -> bool {
        b.raise(
            lim,
            k,
            ts,
            Severity::High,
            || vec![("function_code".into(), "0x29".into())],
            Describe::default,
        )
    }

    #[test]
    fn repeats_in_the_window_count_up_one_alert_and_a_quiet_window_starts_another() {
        let lim = BookLimits::default();
        let mut b = AlertBook::default();
        assert!(raise(&mut b, &lim, key(2), t(0)));
        assert!(!raise(&mut b, &lim, key(2), t(60)));
        assert!(!raise(&mut b, &lim, key(2), t(3000)));
        assert_eq!(b.len(), 1);
        let a = b.iter().next().unwrap();
        assert_eq!((a.count, a.first, a.last), (3, t(0), t(3000)));
        assert_eq!(a.evidence.len(), 1, "the same evidence is kept once");
        // More than an hour after the last one: a new alert with another id.
        assert!(raise(&mut b, &lim, key(2), t(3000 + 3601)));
        assert_eq!(b.len(), 2);
        let ids: Vec<&str> = b.iter().map(|a| a.id.as_str()).collect();
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn alerts_last_seen_before_a_time_are_forgotten_and_repeats_still_fold() {
        let lim = BookLimits::default();
        let mut b = AlertBook::default();
        raise(&mut b, &lim, key(2), t(0));
        raise(&mut b, &lim, key(3), t(100));
        assert_eq!(b.forget_before(t(100)), 1);
        assert_eq!(b.iter().map(|a| a.last).collect::<Vec<_>>(), vec![t(100)]);
        // The index follows: a repeat of the kept alert counts it up.
        assert!(!raise(&mut b, &lim, key(3), t(200)));
        assert_eq!((b.len(), b.iter().next().unwrap().count), (1, 2));
        assert_eq!(b.forget_before(t(0)), 0);
    }

    #[test]
    fn ids_are_stable_and_differ_by_key() {
        let lim = BookLimits::default();
        let mut a = AlertBook::default();
        let mut b = AlertBook::default();
        raise(&mut a, &lim, key(2), t(5));
        raise(&mut b, &lim, key(2), t(5));
        raise(&mut b, &lim, key(3), t(5));
        assert_eq!(a.iter().next().unwrap().id, b.iter().next().unwrap().id);
        assert_ne!(b.alerts[0].id, b.alerts[1].id);
        assert_eq!(a.alerts[0].id.len(), 16);
    }

    #[test]
    fn rate_limit_per_kind_and_cap_are_counted() {
        let lim = BookLimits {
            per_kind_per_minute: 10,
            max_alerts: 16,
            ..BookLimits::default()
        };
        let mut b = AlertBook::default();
        for i in 0..50u8 {
            raise(&mut b, &lim, key(i), t(1));
        }
        assert_eq!(b.len(), 10);
        assert_eq!(b.suppressed.get("plc_stop"), Some(&40));
        // The next minute admits more, up to the cap.
        for i in 50..70u8 {
            raise(&mut b, &lim, key(i), t(61 + u64::from(i)));
        }
        assert!(b.len() <= 16);
        assert!(b.evicted > 0);
        assert!(b.limits().iter().any(|(k, _)| k == "alerts_evicted"));
    }

    #[test]
    fn merge_adds_occurrences_of_the_same_alert() {
        let lim = BookLimits::default();
        let mut a = AlertBook::default();
        let mut b = AlertBook::default();
        raise(&mut a, &lim, key(2), t(5));
        raise(&mut b, &lim, key(2), t(5));
        raise(&mut b, &lim, key(2), t(9));
        raise(&mut b, &lim, key(3), t(5));
        a.merge(&lim, b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.alerts[0].count, 3);
        // The index follows: a repeat counts up the merged alert.
        raise(&mut a, &lim, key(3), t(10));
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn store_round_trip_keeps_everything() {
        let lim = BookLimits::default();
        let mut a = AlertBook::default();
        raise(&mut a, &lim, key(2), t(5));
        let json = serde_json::to_string(&a).unwrap();
        let mut back: AlertBook = serde_json::from_str(&json).unwrap();
        back.reindex();
        assert_eq!(back.alerts, a.alerts);
        raise(&mut back, &lim, key(2), t(6));
        assert_eq!(back.alerts[0].count, 2);
    }
}
