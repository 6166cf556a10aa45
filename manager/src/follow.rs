//! Following a store other managers write too (PostgreSQL, docs/POSTGRES.md): every second the
//! manager reads where each sensor's data stands ([`FleetStore::sensor_changes`]) and, for a
//! sensor another manager moved on, forgets that site's merged view (built again from the store
//! on the next read) and tells Watch streams. A sensor that reconnects to this manager after its
//! own went away is then listed with everything the other one applied.
//!
//! The approved inventories and the assets' tags are read again at the same pace when they
//! changed elsewhere (a cheap comparison of what the store holds).

use crate::api::{change, Shared};
use crate::store::{FleetStore, SensorChange, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, warn};

/// How often the store is read.
const EVERY: Duration = Duration::from_secs(1);

/// Where each sensor stood when last read: (applied sequence number, change id).
#[derive(Debug, Default)]
pub struct Known(HashMap<String, (u64, i64)>);

impl Known {
    /// What the store says now, before the view is built: nothing of it needs following.
    pub fn baseline(store: &dyn FleetStore) -> Result<Option<Known>, StoreError> {
        Ok(store.sensor_changes()?.map(|all| {
            Known(
                all.into_iter()
                    .map(|c| (c.sensor, (c.applied_seq, c.change)))
                    .collect(),
            )
        }))
    }

    /// The sites whose merged assets another manager changed (to build again), and the
    /// sensors whose alerts may have changed (to tell Watch streams), given `now` and what the
    /// view applied itself (`seen`).
    fn update(
        &mut self,
        now: Vec<SensorChange>,
        seen: impl Fn(&str) -> u64,
    ) -> (Vec<String>, Vec<(String, String)>) {
        let mut sites = Vec::new();
        let mut alerts = Vec::new();
        for c in now {
            let (seq, id) = self.0.get(&c.sensor).copied().unwrap_or((0, 0));
            if c.change <= id {
                continue;
            }
            if c.applied_seq > seq && c.applied_seq > seen(&c.sensor) {
                if !sites.contains(&c.site) {
                    sites.push(c.site.clone());
                }
            } else if c.applied_seq == seq {
                alerts.push((c.site.clone(), c.sensor.clone()));
            }
            self.0.insert(c.sensor, (c.applied_seq.max(seq), c.change));
        }
        (sites, alerts)
    }
}

/// Follows the store until the manager stops.
pub async fn run(shared: Arc<Shared>, mut known: Known) {
    let mut stop = shared.shutdown.subscribe();
    let mut tags_approvals = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let s = shared.clone();
        let now = match tokio::task::spawn_blocking(move || s.store.sensor_changes()).await {
            Ok(Ok(Some(now))) => now,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read what other managers changed in the store; the fleet view may lag until it can");
                continue;
            }
            Err(_) => continue,
        };
        let view = shared.view.clone();
        let (sites, alerts) = known.update(now, |sensor| view.seen(sensor).unwrap_or(0));
        for site in &sites {
            debug!(%site, "another manager applied batches of this site: its view is built again");
            if let Err(e) = shared.view.invalidate(site) {
                warn!(%site, error = %e, "cannot refresh the site's view");
            }
            let _ = shared.changes.send(change("asset", site, ""));
        }
        for (site, sensor) in &alerts {
            let _ = shared.changes.send(change("alert", site, sensor));
        }
        // Approvals and tags: read again when what the store holds differs.
        let s = shared.clone();
        let held = tokio::task::spawn_blocking(move || {
            Ok::<_, StoreError>((s.store.approved()?, s.store.asset_tags()?))
        })
        .await;
        if let Ok(Ok(held)) = held {
            if tags_approvals.as_ref() != Some(&held) {
                if tags_approvals.is_some() {
                    let s = shared.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        s.load_approvals()?;
                        s.load_tags()
                    })
                    .await;
                }
                tags_approvals = Some(held);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(sensor: &str, seq: u64, change: i64) -> SensorChange {
        SensorChange {
            sensor: sensor.into(),
            site: format!("site-{sensor}"),
            applied_seq: seq,
            change,
        }
    }

    #[test]
    fn only_what_another_manager_applied_is_followed() {
        let mut k = Known(HashMap::from([("a".to_string(), (10, 5))]));
        // Nothing new.
        assert_eq!(k.update(vec![c("a", 10, 5)], |_| 0), (vec![], vec![]));
        // Sensor a moved on elsewhere; b is new and this view applied it itself.
        let (sites, alerts) = k.update(vec![c("a", 12, 7), c("b", 3, 8)], |s| {
            if s == "b" {
                3
            } else {
                10
            }
        });
        assert_eq!(sites, ["site-a"]);
        assert!(alerts.is_empty());
        // An alert state changed elsewhere: same sequence number, a new change id.
        let (sites, alerts) = k.update(vec![c("a", 12, 9)], |_| 0);
        assert!(sites.is_empty());
        assert_eq!(alerts, [("site-a".to_string(), "a".to_string())]);
    }
}
