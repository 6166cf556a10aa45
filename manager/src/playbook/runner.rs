//! Running playbooks as alerts come: one task per playbook takes the oldest alert waiting in
//! the playbook's durable queue (filled by the transaction that stored the alert, like a
//! forwarding destination's, [`crate::store::routing::route_all`]), runs the playbook on it,
//! logs the run (`playbook_runs`), and then removes it from the queue. A run that fails is
//! tried again from its first action after a pause (doubled each time, between the playbook's
//! `retry_min_ms` and `retry_max_ms`), `max_attempts` times in all; then the alert goes to the
//! playbook's dead letters and the next alert's turn comes. Alerts are run in the order they
//! were stored.
//!
//! A crash between an action and the removal from the queue runs the playbook again on that
//! alert after the restart (at least once): tickets are written under the run's id, webhooks
//! carry the event's id and emails the run's Message-ID, so receivers can tell a repeat. The
//! attempts are counted from the run log, so a restart does not give a failing run more.

use super::config::Playbook;
use super::run::{run_playbook, RunRecord, StoreChange};
use crate::api::{change, Shared};
use crate::forward::deliver::{blocking, pause};
use crate::forward::queue::Done;
use crate::forward::Event;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// How often an idle playbook looks at its queue.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// The running playbook tasks; dropping them stops them (what is queued stays queued).
#[derive(Debug, Default)]
pub struct Runners {
    tasks: Vec<JoinHandle<()>>,
}

impl Runners {
    /// Starts a task for each playbook in force, until the manager stops.
    pub fn start(shared: &Arc<Shared>) -> Runners {
        let Some(router) = shared.store.forward_router() else {
            return Runners::default();
        };
        let tasks = router
            .playbooks()
            .playbooks
            .iter()
            .map(|p| {
                let (shared, p) = (shared.clone(), p.clone());
                let stop = shared.shutdown.subscribe();
                tokio::spawn(run(shared, p, stop))
            })
            .collect();
        Runners { tasks }
    }
}

impl Drop for Runners {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Applies a playbook's change to the fleet store, as `playbook:<name>`.
async fn apply(
    shared: &Arc<Shared>,
    playbook: &str,
    e: &Event,
    c: StoreChange,
) -> Result<String, String> {
    let store = shared.store.clone();
    match c {
        StoreChange::SetStatus { status, comment } => {
            let (id, by) = (e.alert_id.clone(), format!("playbook:{playbook}"));
            let at = crate::pki::rfc3339(shared.clock.now());
            let (st, note) = (status.clone(), comment.clone());
            let fa = blocking(move || store.set_alert_state(&id, &st, &by, &at, &note))
                .await?
                .ok_or_else(|| {
                    format!("no alert {} any more (removed by retention?)", e.alert_id)
                })?;
            let _ = shared.changes.send(change("alert", &fa.site, &fa.id));
            Ok(if comment.is_empty() {
                format!("alert {} set {status}", fa.id)
            } else {
                format!("alert {} set {status}: {comment}", fa.id)
            })
        }
        StoreChange::Tag { tags } => {
            if e.asset_id.is_empty() {
                return Err("the alert names no asset to tag".into());
            }
            let tags: Vec<String> = tags.into_iter().filter(|t| !t.trim().is_empty()).collect();
            let key = e.asset_id.clone();
            let all = blocking(move || store.add_asset_tags(&key, &tags)).await?;
            shared.set_tags(&e.asset_id, all.clone());
            let _ = shared.changes.send(change("asset", &e.site, &e.asset_id));
            Ok(format!("asset {} tagged: {}", e.asset_id, all.join(", ")))
        }
    }
}

/// Logs a run (the dry run's rendered actions too).
fn log_run(r: &RunRecord, max_attempts: u32) {
    for a in &r.actions {
        if r.dry_run {
            info!(playbook = %r.playbook, alert = %r.alert_id, action = %a.action, "{}", a.detail);
        }
    }
    if r.ok {
        info!(playbook = %r.playbook, alert = %r.alert_id, run = %r.run_id, attempt = r.attempt, dry_run = r.dry_run, "playbook ran");
    } else {
        let (action, error) = r
            .actions
            .last()
            .map_or(("", ""), |a| (a.action.as_str(), a.error.as_str()));
        warn!(playbook = %r.playbook, alert = %r.alert_id, run = %r.run_id, attempt = r.attempt, max_attempts, action, error, "a playbook action failed");
    }
}

/// What the queue is told after run `r`: the alert is done with, tried again, or given up.
fn outcome(r: &RunRecord, max_attempts: u32) -> Done {
    if r.ok {
        return Done::Delivered;
    }
    let why = r
        .actions
        .last()
        .map(|a| format!("{}: {}", a.action, a.error))
        .unwrap_or_default();
    if r.attempt >= max_attempts {
        Done::Dead(format!("failed {} times; the last time {why}", r.attempt))
    } else {
        Done::Failed(why)
    }
}

/// Runs `p` on the alerts of its queue until the manager stops.
async fn run(shared: Arc<Shared>, p: Playbook, mut stop: watch::Receiver<bool>) {
    let queue = super::queue_name(&p.name);
    let min = Duration::from_millis(p.retry_min_ms);
    let max = Duration::from_millis(p.retry_max_ms);
    let mut backoff = min;
    loop {
        if *stop.borrow() {
            return;
        }
        let (s, q) = (shared.store.clone(), queue.clone());
        let (id, e) = match blocking(move || s.forward_pending(&q, 1)).await {
            Ok(mut p) if !p.is_empty() => p.swap_remove(0),
            Ok(_) => {
                if pause(IDLE_POLL, &mut stop).await {
                    return;
                }
                continue;
            }
            Err(err) => {
                warn!(playbook = %p.name, error = %err, "cannot read the playbook's queue");
                if pause(max, &mut stop).await {
                    return;
                }
                continue;
            }
        };
        // Attempts before this one: from the log, so a restart does not reset them.
        let run_id = super::run::run_id(&p.name, &e);
        let (s, name, rid) = (shared.store.clone(), p.name.clone(), run_id.clone());
        let before =
            match blocking(move || s.playbook_runs(Some(&name), Some(&rid), usize::MAX)).await {
                Ok(r) => r.iter().map(|r| r.attempt).max().unwrap_or(0),
                Err(err) => {
                    warn!(playbook = %p.name, error = %err, "cannot read the playbook's run log");
                    if pause(max, &mut stop).await {
                        return;
                    }
                    continue;
                }
            };
        let rec = tokio::select! {
            r = run_playbook(&p, &e, before + 1, |c| {
                let (shared, e, name) = (shared.clone(), e.clone(), p.name.clone());
                async move { apply(&shared, &name, &e, c).await }
            }) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        log_run(&rec, p.max_attempts);
        let done = outcome(&rec, p.max_attempts);
        let (s, r) = (shared.store.clone(), rec.clone());
        if let Err(err) = blocking(move || s.record_playbook_run(&r)).await {
            warn!(playbook = %p.name, error = %err, "cannot log a playbook run");
        }
        let (s, q, d) = (shared.store.clone(), queue.clone(), done.clone());
        if let Err(err) = blocking(move || s.forward_done(&q, &[id], &d)).await {
            warn!(playbook = %p.name, error = %err, "cannot record a playbook run in its queue; it runs again");
        }
        match done {
            Done::Failed(_) => {
                if pause(backoff, &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(max);
            }
            Done::Dead(why) => {
                warn!(playbook = %p.name, alert = %e.alert_id, reason = %why, "the playbook gave up on an alert; it is in the playbook's dead letters (otwatch playbooks runs --alert ID)");
                backoff = min;
            }
            Done::Delivered => backoff = min,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::run::ActionLog;

    fn rec(ok: bool, attempt: u32) -> RunRecord {
        RunRecord {
            playbook: "pb".into(),
            alert_id: "s/1".into(),
            run_id: "r".into(),
            dry_run: false,
            attempt,
            started_at: 0,
            ended_at: 0,
            actions: vec![ActionLog {
                action: "webhook".into(),
                detail: String::new(),
                error: if ok { String::new() } else { "refused".into() },
            }],
            ok,
        }
    }

    #[test]
    fn a_failing_run_is_tried_again_until_its_last_attempt() {
        assert_eq!(outcome(&rec(true, 1), 3), Done::Delivered);
        assert_eq!(
            outcome(&rec(false, 1), 3),
            Done::Failed("webhook: refused".into())
        );
        assert_eq!(
            outcome(&rec(false, 2), 3),
            Done::Failed("webhook: refused".into())
        );
        assert_eq!(
            outcome(&rec(false, 3), 3),
            Done::Dead("failed 3 times; the last time webhook: refused".into())
        );
    }
}
