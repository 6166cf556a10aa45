//! The read-modify-write steps every store runs inside its own transaction, over [`Tree`]s:
//! enrolment, a sensor record's update, an operator's alert state, and the forwarding queues'
//! delivery side. (Applying a batch is [`super::apply`]; retention's removal [`super::aging`].)

use super::tree::Tree;
use super::{
    from_json, json, Abort, Enrolled, Held, SensorRecord, StoreError, TokenError, TokenRecord,
};
use crate::forward::queue::{self as fwd, DeadLetter, Done, Queued};
use crate::forward::Event;
use otwatch_proto::v1::{AlertNote, FleetAlert};
use prost::Message;
use sled::transaction::ConflictableTransactionError;
use std::collections::HashMap;

/// Checks the token at `secret_sha256` (known, unused, unexpired at `now`), marks it used by
/// `sensor` and records the sensor, with the token's site.
pub(super) fn enroll<T: Tree>(
    tokens: &T,
    sensors: &T,
    secret_sha256: &[u8; 32],
    now: i64,
    sensor: &SensorRecord,
) -> Result<Enrolled, Abort> {
    let Some(v) = tokens.get(secret_sha256)? else {
        return Ok(Enrolled::Refused(TokenError::Unknown));
    };
    let mut t: TokenRecord =
        from_json("token", v.as_ref()).map_err(ConflictableTransactionError::Abort)?;
    if let Some(by) = &t.used_by {
        return Ok(Enrolled::Refused(TokenError::Used(by.clone(), t.site)));
    }
    if now >= t.expires_at {
        return Ok(Enrolled::Refused(TokenError::Expired(
            crate::pki::rfc3339(t.expires_at),
            t.site,
        )));
    }
    t.used_by = Some(sensor.id.clone());
    let rec = SensorRecord {
        site: t.site.clone(),
        enrolled_at: now,
        last_seen: now,
        held: Held {
            counted: true,
            ..Held::default()
        },
        ..sensor.clone()
    };
    tokens.insert(secret_sha256, &json(&t))?;
    sensors.insert(rec.id.as_bytes(), &json(&rec))?;
    Ok(Enrolled::Ok(rec))
}

/// Read-modify-write of sensor record `id`; `None` when it is unknown.
pub(super) fn modify_sensor<T: Tree>(
    sensors: &T,
    id: &str,
    f: &(dyn Fn(&mut SensorRecord) + Sync),
) -> Result<Option<SensorRecord>, Abort> {
    let Some(v) = sensors.get(id.as_bytes())? else {
        return Ok(None);
    };
    let mut rec: SensorRecord =
        from_json(id, v.as_ref()).map_err(ConflictableTransactionError::Abort)?;
    f(&mut rec);
    sensors.insert(id.as_bytes(), &json(&rec))?;
    Ok(Some(rec))
}

/// How many changes of state an alert's history keeps (the oldest go first).
pub const HISTORY: usize = 50;

/// Adds the alert's state as it is now (who set it, when) to its history, with `comment`.
pub(super) fn note(fa: &mut FleetAlert, comment: String) {
    if fa.history.len() >= HISTORY {
        fa.history.drain(..=fa.history.len() - HISTORY);
    }
    fa.history.push(AlertNote {
        at: fa.updated_at.clone(),
        by: fa.updated_by.clone(),
        state: fa.state.clone(),
        comment,
    });
}

/// Sets alert `id`'s state (an operator's), with `comment` kept in its history, queueing its
/// event when the state changed and `forward` holds the rules; `None` when the alert is
/// unknown.
pub(super) fn set_alert_state<T: Tree>(
    alerts: &T,
    forward: Option<&super::routing::Ctx<'_, T>>,
    id: &str,
    (state, by, at, comment): (&str, &str, &str, &str),
    now: i64,
) -> Result<Option<FleetAlert>, Abort> {
    let Some(v) = alerts.get(id.as_bytes())? else {
        return Ok(None);
    };
    let mut fa = FleetAlert::decode(v.as_ref())
        .map_err(|_| ConflictableTransactionError::Abort(StoreError::Corrupt(id.into())))?;
    let changed = fa.state != state;
    fa.state = state.to_string();
    fa.updated_by = by.to_string();
    fa.updated_at = at.to_string();
    if changed || !comment.is_empty() {
        note(&mut fa, comment.to_string());
    }
    alerts.insert(id.as_bytes(), &fa.encode_to_vec())?;
    if let Some(ctx) = forward.filter(|c| changed && c.cfg.any()) {
        let e = Event::alert(&fa, &format!("{at} {by}"), at);
        super::routing::route_all(ctx, &[e], now)?;
    }
    Ok(Some(fa))
}

/// Records what became of the queued events `ids` of `dest` (see
/// [`super::FleetStore::forward_done`]).
pub(super) fn forward_done<T: Tree>(
    (queue, stats, dead): (&T, &T, &T),
    dest: &str,
    ids: &[u64],
    done: &Done,
    now: i64,
) -> Result<(), Abort> {
    let key = fwd::stats_key(dest, "out");
    let mut s: fwd::OutStats = fwd::decode(stats.get(&key)?.as_ref().map(AsRef::as_ref));
    if let Done::Failed(why) = done {
        s.failures_total += 1;
        s.last_error = why.clone();
        s.last_error_at = now;
    } else {
        for id in ids {
            let k = fwd::key(dest, *id);
            let Some(v) = queue.remove(&k)? else {
                continue;
            };
            let v = v.as_ref();
            s.bytes_out += v.len() as u64;
            let q: Queued = from_json("forwarding queue entry", v)
                .map_err(ConflictableTransactionError::Abort)?;
            match done {
                Done::Dead(why) => {
                    let d = DeadLetter {
                        destination: dest.to_string(),
                        at: now,
                        reason: why.clone(),
                        event: q.event,
                    };
                    dead.insert(&k, &json(&d))?;
                    s.dead_total += 1;
                    s.last_error = why.clone();
                    s.last_error_at = now;
                }
                _ => {
                    s.delivered_total += 1;
                    s.last_delivered_at = now;
                    s.delivery_seconds_total += u64::try_from(now - q.at).unwrap_or(0);
                }
            }
        }
    }
    stats.insert(&key, &json(&s))?;
    Ok(())
}

/// Removes the expired queue entries `old_queued` and dead letters `old_dead` (keys), counting
/// the entries as expired in their destinations' counters; how many it removed.
pub(super) fn forward_expire<T: Tree, K: AsRef<[u8]>>(
    (queue, stats, dead): (&T, &T, &T),
    old_queued: &[K],
    old_dead: &[K],
) -> Result<u64, Abort> {
    let mut removed = 0u64;
    let mut by_dest: HashMap<&[u8], (u64, u64)> = HashMap::new();
    for k in old_queued {
        let k = k.as_ref();
        if let Some(v) = queue.remove(k)? {
            // `<destination> NUL <id>`
            let dest = &k[..k.len().saturating_sub(9)];
            let e = by_dest.entry(dest).or_default();
            e.0 += 1;
            e.1 += v.as_ref().len() as u64;
            removed += 1;
        }
    }
    for k in old_dead {
        if dead.remove(k.as_ref())?.is_some() {
            removed += 1;
        }
    }
    for (dest, (n, bytes)) in by_dest {
        let key = fwd::stats_key(&String::from_utf8_lossy(dest), "out");
        let mut s: fwd::OutStats = fwd::decode(stats.get(&key)?.as_ref().map(AsRef::as_ref));
        s.expired_total += n;
        s.bytes_out += bytes;
        stats.insert(&key, &json(&s))?;
    }
    Ok(removed)
}
