//! Retention in the sled store: how old each record is, and removing those past a limit.
//!
//! A record's age is the later of its own time (an asset's or connection's `last_seen`, an
//! alert's `last_seen`, a resolved alert's resolution time) and when the manager last stored it
//! (the `stored_at` tree, noted by upserts at most hourly, [`STORED_GRAIN`], and only when the
//! record's own time is over that much behind the manager's clock). So data a sensor sends today
//! from an old capture is kept as long as data seen today; a record with neither time is never
//! removed.

use super::tree::Tree;
use super::{from_json, json, Abort, SensorRecord};
use otwatch_common::Timestamp;
use otwatch_proto::v1::{Asset, Connection, FleetAlert};
use prost::Message;
use sled::transaction::ConflictableTransactionError;

/// How stale the time a record was last stored may be before an upsert notes it again
/// (seconds). Ages read a noted time as this much later, so nothing is removed early: a record
/// stays up to this long past its limit instead.
pub(super) const STORED_GRAIN: i64 = 3600;

/// The kinds of record the store ages out (see docs/RETENTION.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StoredKind {
    /// Alerts not resolved (new or acknowledged), by their last occurrence.
    Alerts,
    /// Resolved alerts, by their resolution.
    ResolvedAlerts,
    /// Sensors' assets, by when they were last seen.
    Assets,
    /// Sensors' connections, by when they were last seen.
    Connections,
    /// The daily security scores of sites and the fleet, by their day.
    RiskHistory,
    /// The playbooks' run log, by each run's end.
    PlaybookRuns,
}

impl StoredKind {
    pub const ALL: [StoredKind; 6] = [
        StoredKind::Alerts,
        StoredKind::ResolvedAlerts,
        StoredKind::Assets,
        StoredKind::Connections,
        StoredKind::RiskHistory,
        StoredKind::PlaybookRuns,
    ];

    /// The kind's name in flags, output and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            StoredKind::Alerts => "alerts",
            StoredKind::ResolvedAlerts => "resolved_alerts",
            StoredKind::Assets => "assets",
            StoredKind::Connections => "connections",
            StoredKind::RiskHistory => "risk_history",
            StoredKind::PlaybookRuns => "playbook_runs",
        }
    }

    /// The prefix of this kind's records in `stored_at` (alerts share one).
    fn stored_prefix(self) -> u8 {
        match self {
            StoredKind::Alerts | StoredKind::ResolvedAlerts => b'l',
            StoredKind::Assets => b'a',
            StoredKind::Connections => b'c',
            StoredKind::RiskHistory => b'r',
            StoredKind::PlaybookRuns => b'p',
        }
    }
}

/// A record removed by retention: its sensor's site, the sensor and its id as the sensor keys
/// it (empty sensor for risk history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub site: String,
    pub sensor: String,
    pub id: String,
}

/// The key of a record in `stored_at`: the kind's prefix, then its key in its tree.
pub(super) fn stored_key(kind: StoredKind, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(kind.stored_prefix());
    k.extend_from_slice(key);
    k
}

/// The `stored_at` value for Unix seconds `now`.
pub(super) fn stored_value(now: i64) -> [u8; 8] {
    now.to_be_bytes()
}

pub(super) fn secs(s: &str) -> Option<i64> {
    Timestamp::parse_rfc3339(s).map(|t| t.secs() as i64)
}

/// An alert's own time: its resolution when resolved, else its last occurrence.
pub(super) fn alert_time(fa: &FleetAlert) -> Option<i64> {
    if fa.state == "resolved" {
        secs(&fa.updated_at)
    } else {
        fa.alert.as_ref().and_then(|a| secs(&a.last_seen))
    }
}

/// The later of two optional times.
fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The age of a record of `kind` held at `key` with value `v`, stored by the manager at
/// `stored` (Unix seconds): `None` when it is not of this kind (an alert of the other state)
/// or has no time at all.
pub(super) fn age(kind: StoredKind, key: &[u8], v: &[u8], stored: Option<i64>) -> Option<i64> {
    let own = match kind {
        StoredKind::Assets => secs(&Asset::decode(v).ok()?.last_seen),
        StoredKind::Connections => secs(&Connection::decode(v).ok()?.last_seen),
        StoredKind::Alerts | StoredKind::ResolvedAlerts => {
            let fa = FleetAlert::decode(v).ok()?;
            if (fa.state == "resolved") != (kind == StoredKind::ResolvedAlerts) {
                return None;
            }
            alert_time(&fa)
        }
        StoredKind::RiskHistory => {
            // `scope NUL date`; the day's score may be recorded until its end.
            let date = key.rsplit(|b| *b == 0).next()?;
            let date = std::str::from_utf8(date).ok()?;
            secs(&format!("{date}T00:00:00Z")).map(|d| d + 86_400 - 1)
        }
        StoredKind::PlaybookRuns => serde_json::from_slice::<crate::playbook::run::RunRecord>(v)
            .ok()
            .map(|r| r.ended_at),
    };
    later(own, stored.map(|s| s.saturating_add(STORED_GRAIN)))
}

/// Whether the alert `v` is of `kind` (resolved or not); any other record is.
pub(super) fn is_of(kind: StoredKind, v: &[u8]) -> bool {
    match kind {
        StoredKind::Alerts | StoredKind::ResolvedAlerts => FleetAlert::decode(v)
            .is_ok_and(|fa| (fa.state == "resolved") == (kind == StoredKind::ResolvedAlerts)),
        _ => true,
    }
}

pub(super) fn read_stored(v: Option<impl AsRef<[u8]>>) -> Option<i64> {
    let b: [u8; 8] = v?.as_ref().try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

/// The trees a removal works on, inside its transaction.
pub(super) struct RemoveIn<'a, T: Tree> {
    pub sensors: &'a T,
    pub data: &'a T,
    pub stored: &'a T,
    pub totals: &'a T,
}

/// Removes the records of `kind` at `keys` that are still older than `cutoff` (a batch may
/// have renewed them since they were found), with their `stored_at` entries, taking them off
/// their sensors' held counts and adding them to the kind's removed total.
pub(super) fn remove<T: Tree>(
    t: &RemoveIn<'_, T>,
    kind: StoredKind,
    keys: &[Vec<u8>],
    cutoff: i64,
) -> Result<Vec<Removed>, Abort> {
    let mut out = Vec::new();
    let mut sensors: std::collections::HashMap<String, Option<SensorRecord>> = Default::default();
    for key in keys {
        let Some(v) = t.data.get(key)? else {
            continue;
        };
        let skey = stored_key(kind, key);
        let stored = read_stored(t.stored.get(&skey)?);
        if age(kind, key, v.as_ref(), stored).is_none_or(|at| at >= cutoff) {
            continue;
        }
        t.data.remove(key)?;
        t.stored.remove(&skey)?;
        if matches!(kind, StoredKind::RiskHistory | StoredKind::PlaybookRuns) {
            out.push(Removed {
                site: String::new(),
                sensor: String::new(),
                id: String::from_utf8_lossy(key).into_owned(),
            });
            continue;
        }
        let text = String::from_utf8_lossy(key);
        let (sensor, id) = text.split_once('/').unwrap_or((&text, ""));
        let rec = match sensors.entry(sensor.to_string()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let rec = match t.sensors.get(sensor.as_bytes())? {
                    Some(v) => Some(
                        from_json::<SensorRecord>(sensor, v.as_ref())
                            .map_err(ConflictableTransactionError::Abort)?,
                    ),
                    None => None,
                };
                e.insert(rec)
            }
        };
        let site = match rec {
            Some(r) => {
                let held = match kind {
                    StoredKind::Assets => &mut r.held.assets,
                    StoredKind::Connections => &mut r.held.connections,
                    _ => &mut r.held.alerts,
                };
                *held = held.saturating_sub(1);
                r.site.clone()
            }
            None => String::new(),
        };
        out.push(Removed {
            site,
            sensor: sensor.to_string(),
            id: id.to_string(),
        });
    }
    for (id, rec) in sensors {
        if let Some(rec) = rec {
            t.sensors.insert(id.as_bytes(), &json(&rec))?;
        }
    }
    if !out.is_empty() {
        let total = read_stored(t.totals.get(kind.as_str().as_bytes())?).unwrap_or(0);
        t.totals.insert(
            kind.as_str().as_bytes(),
            &stored_value(total.saturating_add(out.len() as i64)),
        )?;
    }
    Ok(out)
}
