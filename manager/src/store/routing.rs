//! Queueing events for the forwarding destinations and the playbooks, inside the transaction
//! that applies a change (a sensor's batch, an operator's alert state): the queues' layout is
//! [`crate::forward::queue`]'s.

use super::{Abort, Tree};
use crate::forward::queue::{combine, decode, key, stats_key, InStats, OutStats, Queued};
use crate::forward::{Event, QueueConfig, Routes};
use std::collections::HashMap;

/// What the queueing transaction needs: the trees, the rules, the delivery counters.
pub struct Ctx<'a, T: Tree> {
    pub queue: &'a T,
    pub stats: &'a T,
    pub cfg: &'a Routes,
    pub out: &'a HashMap<String, OutStats>,
}

/// Queues `events` in queue `name` (a destination's, or a playbook's) within a transaction;
/// those that would take the queue above its bounds `q` of events or bytes are counted as
/// overflow instead.
pub fn enqueue<T: Tree>(
    ctx: &Ctx<'_, T>,
    (name, q): (&str, &QueueConfig),
    events: &[&Event],
    now: i64,
) -> Result<(), Abort> {
    let counters = stats_key(name, "in");
    let mut i: InStats = decode(ctx.stats.get(&counters)?.as_ref().map(AsRef::as_ref));
    let o = ctx.out.get(name).cloned().unwrap_or_default();
    for e in events {
        let v = serde_json::to_vec(&Queued {
            at: now,
            event: (*e).clone(),
        })
        .unwrap_or_default();
        let s = combine(&i, &o);
        let len = v.len() as u64;
        if s.queued >= q.queue_max_events || s.bytes + len > q.queue_max_bytes {
            i.overflowed_total += 1;
            continue;
        }
        let id = ctx.stats.generate_id()?;
        ctx.queue.insert(&key(name, id), &v)?;
        i.enqueued_total += 1;
        i.bytes_in += len;
    }
    ctx.stats
        .insert(&counters, &serde_json::to_vec(&i).unwrap_or_default())?;
    Ok(())
}

/// Queues `events` for the destinations the rules route each to, and for the playbooks that
/// run on each (one counter update per queue).
pub fn route_all<T: Tree>(ctx: &Ctx<'_, T>, events: &[Event], now: i64) -> Result<(), Abort> {
    if events.is_empty() {
        return Ok(());
    }
    let fwd = &ctx.cfg.forward;
    for d in &fwd.destinations {
        let mine: Vec<&Event> = events
            .iter()
            .filter(|e| {
                crate::forward::route(fwd, e)
                    .iter()
                    .any(|x| x.name == d.name)
            })
            .collect();
        if !mine.is_empty() {
            enqueue(ctx, (&d.name, &d.queue), &mine, now)?;
        }
    }
    for p in &ctx.cfg.playbooks.playbooks {
        let mine: Vec<&Event> = events.iter().filter(|e| p.runs_on(e)).collect();
        if !mine.is_empty() {
            let name = crate::playbook::queue_name(&p.name);
            enqueue(ctx, (&name, &p.queue()), &mine, now)?;
        }
    }
    Ok(())
}
