//! The playbook calls of the Manager service (analysts and admins): the playbooks in force with
//! their queues' state, and the run log.

use super::{blocking, Shared};
use crate::forward::ForwardStats;
use crate::pki::rfc3339;
use crate::playbook::run::RunRecord;
use otwatch_proto::v1::{
    ListPlaybookRunsRequest, ListPlaybookRunsResponse, ListPlaybooksResponse, Playbook,
    PlaybookActionRun, PlaybookRun,
};
use std::collections::HashMap;
use tonic::Status;

/// Runs listed at most per call.
const MAX_RUNS: usize = 1000;

fn time_or_empty(t: i64) -> String {
    if t > 0 {
        rfc3339(t)
    } else {
        String::new()
    }
}

/// The playbooks in force, in file order, with their queues' counters.
pub(super) async fn list(shared: &Shared) -> Result<ListPlaybooksResponse, Status> {
    let Some(router) = shared.store.forward_router() else {
        return Ok(ListPlaybooksResponse::default());
    };
    let cfg = router.playbooks();
    let store = shared.store.clone();
    let stats: HashMap<String, ForwardStats> = blocking(move || store.forward_stats())
        .await?
        .into_iter()
        .collect();
    let file = router
        .playbooks_file()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    let playbooks = cfg
        .playbooks
        .iter()
        .map(|p| {
            let s = stats
                .get(&crate::playbook::queue_name(&p.name))
                .cloned()
                .unwrap_or_default();
            Playbook {
                name: p.name.clone(),
                kinds: p.filter.kinds.clone(),
                min_severity: p.filter.min_severity.clone(),
                sites: p.filter.sites.clone(),
                dry_run: p.dry_run,
                max_attempts: p.max_attempts,
                actions: p.actions.iter().map(|a| a.summary()).collect(),
                defined_at: format!("{file}:{}", p.line),
                queued: s.queued,
                ran: s.delivered_total,
                failures: s.failures_total,
                given_up: s.dead_total,
                overflowed: s.overflowed_total,
                last_error: s.last_error.clone(),
                last_error_at: time_or_empty(s.last_error_at),
                last_ran_at: time_or_empty(s.last_delivered_at),
            }
        })
        .collect();
    Ok(ListPlaybooksResponse { file, playbooks })
}

fn run_msg(r: RunRecord) -> PlaybookRun {
    PlaybookRun {
        playbook: r.playbook,
        alert_id: r.alert_id,
        run_id: r.run_id,
        attempt: r.attempt,
        dry_run: r.dry_run,
        ok: r.ok,
        started_at: time_or_empty(r.started_at),
        ended_at: time_or_empty(r.ended_at),
        actions: r
            .actions
            .into_iter()
            .map(|a| PlaybookActionRun {
                action: a.action,
                detail: a.detail,
                error: a.error,
            })
            .collect(),
    }
}

/// The run log, newest first, filtered by playbook and alert.
pub(super) async fn runs(
    shared: &Shared,
    q: ListPlaybookRunsRequest,
) -> Result<ListPlaybookRunsResponse, Status> {
    let limit = match q.limit as usize {
        0 => 100,
        n => n.min(MAX_RUNS),
    };
    let store = shared.store.clone();
    let playbook = (!q.playbook.is_empty()).then_some(q.playbook);
    let alert = q.alert;
    let runs = blocking(move || {
        // Filtering by alert reads the playbook's (or every) run and keeps the alert's.
        let max = if alert.is_empty() { limit } else { usize::MAX };
        let mut all = store.playbook_runs(playbook.as_deref(), None, max)?;
        if !alert.is_empty() {
            all.retain(|r| r.alert_id == alert);
            all.truncate(limit);
        }
        Ok(all)
    })
    .await?;
    Ok(ListPlaybookRunsResponse {
        runs: runs.into_iter().map(run_msg).collect(),
    })
}
