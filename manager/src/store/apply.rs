//! Applying a sensor's batch inside the store's transaction: the sequence check, then each
//! delta in order.

use super::aging::{self, read_stored, secs, stored_key, stored_value, StoredKind, STORED_GRAIN};
use super::tree::Tree;
use super::{data_key, from_json, json, Abort, BatchRefused, Quotas, SensorRecord, StoreError};
use crate::forward::Event;
use otwatch_proto::v1::{delta::Change as DeltaChange, Alert, Asset, Delta, FleetAlert};
use prost::Message;

/// One sensor's batch of deltas, as a Sync stream received it.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub sensor: &'a str,
    /// The sequence number the batch continues from (`DeltaBatch.after_seq`); `None`: the
    /// first delta's minus one.
    pub after: Option<u64>,
    pub deltas: &'a [Delta],
}

impl<'a> Batch<'a> {
    /// A batch that continues from its first delta's sequence number minus one.
    pub fn new(sensor: &'a str, deltas: &'a [Delta]) -> Batch<'a> {
        Batch {
            sensor,
            after: None,
            deltas,
        }
    }
}

/// What one applied batch changed.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The sensor's site.
    pub site: String,
    /// The sensor's last applied sequence number before the batch.
    pub previous_seq: u64,
    /// The sensor's last applied sequence number after the batch.
    pub applied_seq: u64,
    /// The batch's deltas from this index on were new (those before were resends).
    pub first_new: usize,
    /// (kind, id) of each change: kind asset, connection, alert or sensor; id as stored
    /// (`<sensor>/<id>` for data, the sensor id for status).
    pub changes: Vec<(&'static str, String)>,
    /// Alert state changes in the batch, ignored (operators own an alert's state).
    pub ignored_alert_states: u64,
    /// Indexes (in the batch, increasing) of the new deltas not applied: new records beyond
    /// the sensor's quota.
    pub over_quota: Vec<usize>,
    /// Events the batch queued for forwarding (new alerts and reopened ones, new assets,
    /// changed firmware), when forwarding rules exist.
    pub forwarded: Vec<Event>,
}

impl Applied {
    /// The deltas of the batch that the store applied, in order: what the fleet view may show.
    pub fn committed(&self, deltas: Vec<Delta>) -> Vec<Delta> {
        deltas
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i >= self.first_new && self.over_quota.binary_search(i).is_err())
            .map(|(_, d)| d)
            .collect()
    }
}

/// Checks that `deltas` continue from `last` (the sensor's last applied sequence number):
/// strictly increasing, and starting (at `after`, or at the first delta) no later than
/// `last + 1`. Returns the index of the first delta above `last`: those before are resends.
pub fn check_sequence(
    last: u64,
    after: Option<u64>,
    deltas: &[Delta],
) -> Result<usize, BatchRefused> {
    let Some(first) = deltas.first().map(|d| d.seq) else {
        return Ok(0);
    };
    if let Some(w) = deltas.windows(2).find(|w| w[1].seq <= w[0].seq) {
        return Err(BatchRefused::NotIncreasing {
            prev: w[0].seq,
            next: w[1].seq,
        });
    }
    let after = match after {
        Some(a) if a < first => a,
        None if first > 0 => first - 1,
        other => {
            return Err(BatchRefused::BadStart {
                after: other.unwrap_or(0),
                first,
            })
        }
    };
    if after > last {
        return Err(BatchRefused::Gap {
            expected: last.saturating_add(1),
            got: after.saturating_add(1),
        });
    }
    Ok(deltas.partition_point(|d| d.seq <= last))
}

/// Who reopens a resolved alert that has new occurrences.
pub const REOPENED_BY: &str = "sensor: new occurrences after resolution";

/// Whether `new` reports occurrences that `old` did not have.
fn more_occurrences(old: Option<&Alert>, new: &Alert) -> bool {
    old.is_none_or(|o| new.count > o.count || new.last_seen > o.last_seen)
}

/// The stored alert after a sensor's upsert of it: the sensor's content, the operators' state;
/// a resolved alert with new occurrences is open again.
fn upsert_alert(old: FleetAlert, a: &Alert, now: i64) -> FleetAlert {
    let reopen = old.state == "resolved" && more_occurrences(old.alert.as_ref(), a);
    let mut fa = FleetAlert {
        alert: Some(a.clone()),
        ..old
    };
    if reopen {
        fa.state = "new".into();
        fa.updated_by = REOPENED_BY.into();
        fa.updated_at = crate::pki::rfc3339(now);
        super::ops::note(&mut fa, String::new());
    }
    fa
}

/// What a batch applies to, inside its transaction.
pub(super) struct Trees<'a, T: Tree> {
    assets: &'a T,
    conns: &'a T,
    alerts: &'a T,
    /// The forwarding queues and the rules in force; `None`: no rule.
    pub forward: Option<super::routing::Ctx<'a, T>>,
    /// When the manager last stored each record ([`super::aging`]).
    stored: &'a T,
}

impl<T: Tree> Trees<'_, T> {
    /// Notes that the record of `kind` at `key`, whose own time is `own` (Unix seconds), was
    /// stored at `now`: only when its own time is missing or more than [`STORED_GRAIN`] behind
    /// `now` (a replayed capture, a sensor's clock behind), since a current own time already
    /// dates the record. A time noted less than [`STORED_GRAIN`] before is kept (retention
    /// counts in days); the age reads it as that much later. For a live sensor's data this
    /// writes nothing: a new record's note cost ingest half of its rate.
    fn mark_stored(
        &self,
        kind: StoredKind,
        key: &[u8],
        own: Option<i64>,
        now: i64,
    ) -> Result<(), Abort> {
        if own.is_some_and(|t| t >= now.saturating_sub(STORED_GRAIN)) {
            return Ok(());
        }
        let k = stored_key(kind, key);
        if read_stored(self.stored.get(&k)?).is_some_and(|at| at <= now && now - at < STORED_GRAIN)
        {
            return Ok(());
        }
        self.stored.insert(&k, &stored_value(now))?;
        Ok(())
    }
}

/// Whether `key` may be written to `tree` for a sensor holding `held` of at most `quota`
/// records: an existing record always (an update), a new one while there is room.
fn room<T: Tree>(tree: &T, key: &[u8], held: u64, quota: u64) -> Result<bool, Abort> {
    Ok(held < quota || tree.get(key)?.is_some())
}

fn apply_one<T: Tree>(
    (i, d): (usize, &Delta),
    rec: &mut SensorRecord,
    t: &Trees<'_, T>,
    (now, q): (i64, &Quotas),
    out: &mut Applied,
) -> Result<(), Abort> {
    let sid = rec.id.clone();
    let changes = &mut out.changes;
    match &d.change {
        Some(DeltaChange::Asset(a)) => {
            let key = data_key(&sid, &a.id);
            if !room(t.assets, &key, rec.held.assets, q.assets_per_sensor)? {
                out.over_quota.push(i);
                rec.over_quota += 1;
                return Ok(());
            }
            t.mark_stored(StoredKind::Assets, &key, secs(&a.last_seen), now)?;
            let old = t.assets.insert(&key, &a.encode_to_vec())?;
            if old.is_none() {
                rec.held.assets += 1;
            }
            if t.forward.is_some() {
                let before = old.and_then(|o| Asset::decode(o.as_ref()).ok());
                let time = crate::pki::rfc3339(now);
                let at = (rec.site.as_str(), sid.as_str());
                match before {
                    None => {
                        out.forwarded
                            .push(Event::asset("new_asset", at, a, None, d.seq, &time))
                    }
                    Some(b)
                        if !b.firmware.is_empty()
                            && !a.firmware.is_empty()
                            && b.firmware != a.firmware =>
                    {
                        out.forwarded.push(Event::asset(
                            "firmware_changed",
                            at,
                            a,
                            Some(&b),
                            d.seq,
                            &time,
                        ))
                    }
                    Some(_) => {}
                }
            }
            changes.push(("asset", format!("{sid}/{}", a.id)));
        }
        Some(DeltaChange::AssetRemoved(id)) => {
            let key = data_key(&sid, id);
            t.stored.remove(&stored_key(StoredKind::Assets, &key))?;
            if t.assets.remove(&key)?.is_some() {
                rec.held.assets = rec.held.assets.saturating_sub(1);
            }
            changes.push(("asset", format!("{sid}/{id}")));
        }
        Some(DeltaChange::Connection(c)) => {
            // As the sensor keys it.
            let k = c.key();
            let key = data_key(&sid, &k);
            if !room(
                t.conns,
                &key,
                rec.held.connections,
                q.connections_per_sensor,
            )? {
                out.over_quota.push(i);
                rec.over_quota += 1;
                return Ok(());
            }
            t.mark_stored(StoredKind::Connections, &key, secs(&c.last_seen), now)?;
            if t.conns.insert(&key, &c.encode_to_vec())?.is_none() {
                rec.held.connections += 1;
            }
            changes.push(("connection", format!("{sid}/{k}")));
        }
        Some(DeltaChange::Alert(a)) => {
            let key = data_key(&sid, &a.id);
            let mut forward = true;
            let fa = match t.alerts.get(&key)? {
                // A re-sent or updated alert keeps the state operators gave it.
                Some(old) => {
                    let old = FleetAlert::decode(old.as_ref()).unwrap_or_default();
                    let was = old.state.clone();
                    let fa = upsert_alert(old, a, now);
                    // Forwarded again only when it reopens (new occurrences are counted on
                    // the alert; the SIEM has it).
                    forward = was != fa.state;
                    fa
                }
                None if rec.held.alerts >= q.alerts_per_sensor => {
                    out.over_quota.push(i);
                    rec.over_quota += 1;
                    return Ok(());
                }
                None => {
                    rec.held.alerts += 1;
                    FleetAlert {
                        id: format!("{sid}/{}", a.id),
                        site: rec.site.clone(),
                        sensor_id: sid.clone(),
                        alert: Some(a.clone()),
                        state: "new".into(),
                        updated_at: d.at.clone(),
                        ..FleetAlert::default()
                    }
                }
            };
            t.mark_stored(StoredKind::Alerts, &key, aging::alert_time(&fa), now)?;
            t.alerts.insert(&key, &fa.encode_to_vec())?;
            if forward && t.forward.is_some() {
                let time = crate::pki::rfc3339(now);
                out.forwarded
                    .push(Event::alert(&fa, &format!("seq {}", d.seq), &time));
            }
            changes.push(("alert", fa.id));
        }
        Some(DeltaChange::AlertState(_)) => {
            // Acknowledged and resolved are what operators said; a sensor cannot say it.
            rec.ignored_alert_states += 1;
            out.ignored_alert_states += 1;
        }
        Some(DeltaChange::Status(s)) => {
            rec.version = s.version.clone();
            rec.hostname = s.hostname.clone();
            rec.capture_mode = s.capture_mode.clone();
            rec.report_backlog(s.backlog, d.seq, false);
            rec.outbox_dropped = s.outbox_dropped;
            rec.drops = s
                .capture
                .as_ref()
                .map(|c| c.sources.iter().map(|x| x.kernel_drops).sum())
                .unwrap_or(0);
            changes.push(("sensor", sid));
        }
        None => {}
    }
    Ok(())
}

/// The data trees a batch applies to, inside its transaction.
pub(super) fn trees<'a, T: Tree>(
    assets: &'a T,
    conns: &'a T,
    alerts: &'a T,
    stored: &'a T,
) -> Trees<'a, T> {
    Trees {
        assets,
        conns,
        alerts,
        forward: None,
        stored,
    }
}

/// Applies one sensor's batch within the transaction over `sensors` and `t`: what it applied,
/// or why it failed alone (an unknown sensor, a refusal); `Err` aborts the whole transaction.
pub(super) fn batch<T: Tree>(
    sensors: &T,
    t: &Trees<'_, T>,
    b: &Batch<'_>,
    now: i64,
    q: &Quotas,
) -> Result<Result<Applied, StoreError>, Abort> {
    let sensor_id = b.sensor;
    // A batch of an unknown sensor fails alone; the others still apply.
    let Some(v) = sensors.get(sensor_id.as_bytes())? else {
        return Ok(Err(StoreError::UnknownSensor(sensor_id.to_string())));
    };
    let mut rec: SensorRecord = match from_json(sensor_id, v.as_ref()) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let previous_seq = rec.applied_seq;
    // Deltas up to the last applied one are resends (after a reconnect): skipped.
    let first_new = match check_sequence(previous_seq, b.after, b.deltas) {
        Ok(i) => i,
        Err(e) => return Ok(Err(e.into())),
    };
    let mut applied = Applied {
        site: rec.site.clone(),
        previous_seq,
        first_new,
        ..Default::default()
    };
    for (i, d) in b.deltas.iter().enumerate().skip(first_new) {
        apply_one((i, d), &mut rec, t, (now, q), &mut applied)?;
        rec.applied_seq = d.seq;
    }
    if let Some(ctx) = &t.forward {
        super::routing::route_all(ctx, &applied.forwarded, now)?;
    }
    rec.last_seen = now;
    sensors.insert(sensor_id.as_bytes(), &json(&rec))?;
    applied.applied_seq = rec.applied_seq;
    Ok(Ok(applied))
}
