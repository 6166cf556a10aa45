//! The forwarding calls of the Manager service (admin only): list the destinations with their
//! queues' state and the rules, add to and remove from the forwarding file (checked whole,
//! then put in force: the delivery tasks start again from their durable queues), and send a
//! test event.

use super::{blocking, Shared};
use crate::forward::config::DestinationKind;
use crate::forward::deliver::Deliveries;
use crate::forward::{edit, Event, ForwardConfig, ForwardStats, Router};
use crate::pki::{now_secs, rfc3339};
use otwatch_proto::v1::{
    ForwardDestination, ForwardRule, ForwardingSummary, ListForwardsResponse, TestForwardResponse,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::Status;

/// How long TestForward waits for the test event's delivery.
const TEST_WAIT: Duration = Duration::from_secs(10);

fn router(shared: &Shared) -> Result<Arc<Router>, Status> {
    shared
        .store
        .forward_router()
        .ok_or_else(|| Status::failed_precondition("this manager's store does not forward events"))
}

/// (type, target, format) of a destination, without its secrets.
fn describe(k: &DestinationKind) -> (&'static str, String, String) {
    match k {
        DestinationKind::Syslog {
            address,
            transport,
            format,
            ..
        } => (
            "syslog",
            format!("{}://{address}", format!("{transport:?}").to_lowercase()),
            format!("{format:?}").to_lowercase(),
        ),
        DestinationKind::Webhook { url, .. } => ("webhook", url.clone(), "json".into()),
        DestinationKind::Sentinel {
            endpoint,
            dcr_id,
            stream,
            ..
        } => (
            "sentinel",
            format!("{endpoint} {dcr_id}/{stream}"),
            "json".into(),
        ),
        DestinationKind::Splunk { url, .. } => ("splunk", url.clone(), "json".into()),
        DestinationKind::File { path } => ("file", path.display().to_string(), "json".into()),
    }
}

fn time_or_empty(t: i64) -> String {
    if t > 0 {
        rfc3339(t)
    } else {
        String::new()
    }
}

fn destination_msg(
    name: &str,
    kind: Option<&DestinationKind>,
    s: &ForwardStats,
    defined_at: String,
    now: i64,
) -> ForwardDestination {
    let (t, target, format) = kind.map_or(("removed", String::new(), String::new()), |k| {
        let (t, target, f) = describe(k);
        (t, target, f)
    });
    ForwardDestination {
        name: name.to_string(),
        r#type: t.into(),
        target,
        format,
        queued: s.queued,
        queued_bytes: s.bytes,
        delivered: s.delivered_total,
        overflowed: s.overflowed_total,
        dead: s.dead_total,
        expired: s.expired_total,
        failures: s.failures_total,
        last_error: s.last_error.clone(),
        last_error_at: time_or_empty(s.last_error_at),
        last_delivered_at: time_or_empty(s.last_delivered_at),
        oldest_age_seconds: if s.oldest_at > 0 {
            u64::try_from(now - s.oldest_at).unwrap_or(0)
        } else {
            0
        },
        defined_at,
    }
}

/// Whether destination stats `s` say it is failing: its last attempt failed while events wait.
pub(crate) fn failing(s: &ForwardStats) -> bool {
    s.queued > 0 && s.last_error_at > s.last_delivered_at
}

/// Forwarding at a glance, for `otwatch sensors` (destination names, no targets or secrets).
pub(super) async fn summary(shared: &Shared) -> Result<Option<ForwardingSummary>, Status> {
    let Some(r) = shared.store.forward_router() else {
        return Ok(None);
    };
    let cfg = r.config();
    if cfg.destinations.is_empty() {
        return Ok(None);
    }
    let store = shared.store.clone();
    let stats = blocking(move || store.forward_stats()).await?;
    let now = now_secs();
    let mut out = ForwardingSummary {
        destinations: cfg.destinations.len() as u32,
        ..Default::default()
    };
    for (name, s) in stats
        .iter()
        .filter(|(n, _)| crate::playbook::of_queue(n).is_none())
    {
        out.queued += s.queued;
        out.overflowed += s.overflowed_total;
        out.dead += s.dead_total;
        if s.oldest_at > 0 {
            out.oldest_age_seconds = out
                .oldest_age_seconds
                .max(u64::try_from(now - s.oldest_at).unwrap_or(0));
        }
        if failing(s) {
            out.failing.push(name.clone());
        }
    }
    Ok(Some(out))
}

/// The destinations (configured ones, then queues left by removed ones) and rules.
pub(super) async fn list(shared: &Shared) -> Result<ListForwardsResponse, Status> {
    let r = router(shared)?;
    let cfg = r.config();
    let store = shared.store.clone();
    let stats: HashMap<String, ForwardStats> = blocking(move || store.forward_stats())
        .await?
        .into_iter()
        .collect();
    let file = r.file().display().to_string();
    let at = |name: &str| {
        cfg.lines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| format!("{file}:{l}"))
            .unwrap_or_default()
    };
    let now = now_secs();
    let mut destinations: Vec<ForwardDestination> = cfg
        .destinations
        .iter()
        .map(|d| {
            let s = stats.get(&d.name).cloned().unwrap_or_default();
            destination_msg(&d.name, Some(&d.kind), &s, at(&d.name), now)
        })
        .collect();
    let mut removed: Vec<_> = stats
        .iter()
        .filter(|(n, s)| {
            cfg.destination(n).is_none() && crate::playbook::of_queue(n).is_none() && s.queued > 0
        })
        .collect();
    removed.sort_by(|a, b| a.0.cmp(b.0));
    destinations.extend(
        removed
            .into_iter()
            .map(|(n, s)| destination_msg(n, None, s, String::new(), now)),
    );
    let rules = cfg
        .rules
        .iter()
        .map(|r| ForwardRule {
            name: r.name.clone(),
            destination: r.destination.clone(),
            events: r.events.clone(),
            kinds: r.kinds.clone(),
            min_severity: r.min_severity.clone(),
            sites: r.sites.clone(),
            defined_at: at(&r.name),
        })
        .collect();
    Ok(ListForwardsResponse {
        file,
        destinations,
        rules,
    })
}

/// Changes the forwarding file with `change` (current text → new text and what it reads
/// as), writes it, and puts it in force.
pub(super) async fn change(
    shared: &Arc<Shared>,
    change: impl FnOnce(&str, &str) -> Result<(String, ForwardConfig), Status> + Send + 'static,
) -> Result<ListForwardsResponse, Status> {
    let r = router(shared)?;
    // One change at a time: the lock is held from reading the file to the new tasks.
    let mut deliveries = shared.deliveries.lock().await;
    let r2 = r.clone();
    let cfg = tokio::task::spawn_blocking(move || {
        let file = r2.file();
        let current = edit::read(file).map_err(Status::internal)?;
        let (text, cfg) = change(&file.display().to_string(), &current)?;
        edit::write(file, &text).map_err(Status::internal)?;
        r2.replace(cfg.clone());
        Ok::<_, Status>(cfg)
    })
    .await
    .map_err(|e| Status::internal(e.to_string()))??;
    // The tasks start again from their durable queues with the new settings (on the manager
    // that leads, when several share the store).
    deliveries.abort();
    *deliveries = if shared.leading.load(std::sync::atomic::Ordering::Acquire) {
        Deliveries::start(shared.store.clone(), &r, &shared.shutdown)
    } else {
        Deliveries::default()
    };
    drop(deliveries);
    tracing::info!(file = %r.file().display(), destinations = cfg.destinations.len(), rules = cfg.rules.len(), "forwarding rules changed");
    list(shared).await
}

/// Queues a test event for `dest` and waits for it to be delivered (or [`TEST_WAIT`]).
pub(super) async fn test(shared: &Shared, dest: &str) -> Result<TestForwardResponse, Status> {
    let r = router(shared)?;
    let cfg = r.config();
    let d = cfg.destination(dest).cloned().ok_or_else(|| {
        Status::not_found(format!(
            "no destination {dest:?}; list them with `otwatch forwards list`"
        ))
    })?;
    let now = now_secs();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let e = Event::test(dest, &rfc3339(now), nanos);
    let id = e.id.clone();
    let before = |name: &str, all: &[(String, ForwardStats)]| {
        all.iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    let store = shared.store.clone();
    let (dd, ee) = (d.clone(), e.clone());
    let start = blocking(move || {
        let s = store.forward_stats()?;
        store.forward_enqueue(&dd, &[ee], now)?;
        Ok(s)
    })
    .await?;
    let start = before(dest, &start);
    let deadline = tokio::time::Instant::now() + TEST_WAIT;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let store = shared.store.clone();
        let now_stats = before(dest, &blocking(move || store.forward_stats()).await?);
        // The queue delivers in order: the test event is out once the queue is empty of it.
        let store = shared.store.clone();
        let name = dest.to_string();
        let waiting =
            blocking(move || store.forward_pending(&name, crate::forward::deliver::BATCH * 100))
                .await?
                .iter()
                .any(|(_, ev)| ev.id == id);
        if !waiting {
            let dead = now_stats.dead_total > start.dead_total;
            return Ok(TestForwardResponse {
                event_id: id,
                delivered: !dead,
                error: if dead {
                    now_stats.last_error
                } else {
                    String::new()
                },
            });
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(TestForwardResponse {
                event_id: id,
                delivered: false,
                error: if now_stats.last_error.is_empty() {
                    format!(
                        "not delivered within {TEST_WAIT:?} ({} events wait before it)",
                        now_stats.queued.saturating_sub(1)
                    )
                } else {
                    now_stats.last_error
                },
            });
        }
    }
}

/// Up to `limit` of `dest`'s dead letters.
pub(super) async fn dead_letters(
    shared: &Shared,
    dest: &str,
    limit: u32,
) -> Result<otwatch_proto::v1::ListDeadLettersResponse, Status> {
    router(shared)?;
    let limit = match limit {
        0 => super::DEFAULT_PAGE,
        n => (n as usize).min(super::MAX_PAGE),
    };
    let (store, name) = (shared.store.clone(), dest.to_string());
    let dead = blocking(move || store.forward_dead_letters(&name, limit)).await?;
    Ok(otwatch_proto::v1::ListDeadLettersResponse {
        dead_letters: dead
            .into_iter()
            .map(|d| otwatch_proto::v1::ForwardDeadLetter {
                destination: d.destination,
                at: rfc3339(d.at),
                reason: d.reason,
                event_id: d.event.id.clone(),
                event_json: serde_json::to_string(&d.event).unwrap_or_default(),
            })
            .collect(),
    })
}
