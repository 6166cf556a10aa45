//! One retention run ([`run_once`]) and the task that runs it at an interval ([`run_every`]).

use super::{poisoned, KindReport, MAX_PER_RUN};
use crate::api::Shared;
use crate::store::{StoreError, StoredKind};
use std::sync::Arc;
use std::time::Duration;

/// Enforces every kind's limit once, now by the manager's clock; the reports of the run.
pub async fn run_once(shared: &Arc<Shared>) -> Result<Vec<KindReport>, StoreError> {
    let retention = &shared.retention;
    let _one = retention.running.lock().await;
    for kind in StoredKind::ALL {
        stopping(shared)?;
        let r = match enforce_stored(shared, kind).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(kind = kind.as_str(), error = %e, "retention: cannot enforce the limit");
                let mut r = retention.report(kind.as_str())?;
                r.error = Some(e.to_string());
                r
            }
        };
        retention.keep(r);
    }
    let external = retention.external.read().map_err(|_| poisoned())?.clone();
    for ext in external {
        stopping(shared)?;
        let cutoff = ext.limit().map(|l| shared.clock.now().saturating_sub(l));
        let e = ext.clone();
        let done = tokio::task::spawn_blocking(move || e.enforce(cutoff))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        let mut r = retention.report(ext.name())?;
        r.limit_secs = ext.limit();
        r.last_run = Some(shared.clock.now());
        match done {
            Ok(d) => {
                r.held = Some(d.held);
                r.oldest = d.oldest;
                r.removed_last_run = d.removed;
                r.removed_total = d
                    .removed_total
                    .unwrap_or(r.removed_total.saturating_add(d.removed));
                r.error = None;
                shared.metrics.retention_removed(ext.name(), d.removed);
                shared.metrics.retention_held(ext.name(), d.held);
            }
            Err(e) => {
                tracing::warn!(kind = ext.name(), error = %e, "retention: cannot enforce the limit");
                r.error = Some(e);
            }
        }
        retention.keep(r);
    }
    // The store's calls block (PostgreSQL's client would abort on an async thread).
    let s = shared.clone();
    tokio::task::spawn_blocking(move || s.retention.reports(s.store.as_ref()))
        .await
        .map_err(|e| StoreError::Sled(format!("retention's report failed: {e}")))?
}

/// Ends a run when the manager stops: it must let go of the store (a run holds the shared
/// state), and what it did not remove the next start removes.
fn stopping(shared: &Shared) -> Result<(), StoreError> {
    if *shared.shutdown.borrow() {
        return Err(StoreError::Sled(
            "the manager is stopping; retention goes on at the next start".into(),
        ));
    }
    Ok(())
}

/// What a survey of one kind found.
struct Survey {
    held: u64,
    /// Records past the limit (all of them, also beyond [`MAX_PER_RUN`]).
    expired: u64,
    oldest_kept: Option<i64>,
    oldest_expired: Option<i64>,
    /// Keys of the records past the limit, at most [`MAX_PER_RUN`].
    keys: Vec<Vec<u8>>,
}

/// Surveys one of the store's kinds and removes what is past its limit.
async fn enforce_stored(shared: &Arc<Shared>, kind: StoredKind) -> Result<KindReport, StoreError> {
    let limit = shared.retention.settings.limit(kind);
    let cutoff = limit.map(|l| shared.clock.now().saturating_sub(l));
    let store = shared.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let mut s = Survey {
            held: 0,
            expired: 0,
            oldest_kept: None,
            oldest_expired: None,
            keys: Vec::new(),
        };
        let min = |a: Option<i64>, b: i64| Some(a.map_or(b, |a| a.min(b)));
        store.survey(kind, &mut |key, age| {
            s.held += 1;
            match (age, cutoff) {
                (Some(at), Some(c)) if at < c => {
                    s.expired += 1;
                    s.oldest_expired = min(s.oldest_expired, at);
                    if s.keys.len() < MAX_PER_RUN {
                        s.keys.push(key.to_vec());
                    }
                }
                (Some(at), _) => s.oldest_kept = min(s.oldest_kept, at),
                (None, _) => {}
            }
        })?;
        Ok::<_, StoreError>(s)
    })
    .await
    .map_err(|e| StoreError::Sled(format!("retention survey: {e}")))??;
    let mut removed = 0u64;
    if let Some(cutoff) = cutoff {
        for chunk in found.keys.chunks(shared.retention.settings.batch.max(1)) {
            stopping(shared)?;
            let gone = shared
                .ingest
                .remove_expired(kind, chunk.to_vec(), cutoff)
                .await?;
            removed += gone.len() as u64;
            shared
                .metrics
                .retention_removed(kind.as_str(), gone.len() as u64);
        }
    }
    if removed > 0 {
        tracing::info!(
            kind = kind.as_str(),
            removed,
            "retention: removed records past the limit"
        );
    }
    // Every expired record gone: the oldest is the oldest kept; else the oldest left is
    // somewhere among the expired ones (some renewed meanwhile, or more than a run removes).
    let oldest = if removed == found.expired {
        found.oldest_kept
    } else {
        match (found.oldest_kept, found.oldest_expired) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    let held = found.held.saturating_sub(removed);
    shared.metrics.retention_held(kind.as_str(), held);
    Ok(KindReport {
        kind: kind.as_str().to_string(),
        limit_secs: limit,
        held: Some(held),
        oldest,
        removed_total: 0, // from the store, in `Retention::reports`
        removed_last_run: removed,
        last_run: Some(shared.clock.now()),
        error: None,
    })
}

/// Enforces retention every [`super::RetentionSettings::every`] (the first run a minute after
/// the start, or sooner if the interval is shorter) until the manager stops.
pub async fn run_every(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let every = shared.retention.settings.every;
    let mut wait = Duration::from_secs(60).min(every);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = every;
        match run_once(&shared).await {
            Err(_) if *shared.shutdown.borrow() => return,
            Err(e) => tracing::warn!(error = %e, "retention run failed; the next run tries again"),
            Ok(_) => {}
        }
    }
}
