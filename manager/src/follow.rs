//! Following a store other managers write too (PostgreSQL, docs/POSTGRES.md): every second the
//! manager reads where each sensor's data stands ([`FleetStore::sensor_changes`]) and, for a
//! sensor another manager moved on, forgets that site's merged view (built again from the store
//! on the next read) and tells Watch streams. A sensor that reconnects to this manager after its
//! own went away is then listed with everything the other one applied.
//!
//! The approved inventories and the assets' tags are read again only after their change id in
//! the store moved ([`FleetStore::shared_changes`]): one small read a second, not a million
//! approvals.

use crate::api::{change, Shared};
use crate::store::{FleetStore, SensorChange, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, warn};

/// How often the store is read.
const EVERY: Duration = Duration::from_secs(1);

/// What the store held when last read.
#[derive(Debug, Default)]
pub struct Known {
    /// Where each sensor stood: (applied sequence number, change id).
    sensors: HashMap<String, (u64, i64)>,
    /// The change id of each kind of shared data (approvals, tags).
    shared: BTreeMap<String, i64>,
}

/// What of the shared data changed since last read.
#[derive(Debug, Default, PartialEq)]
struct Reload {
    approvals: bool,
    tags: bool,
}

impl Known {
    /// What the store says now, read before the view, the approvals and the tags are loaded:
    /// nothing of it needs following.
    pub fn baseline(store: &dyn FleetStore) -> Result<Option<Known>, StoreError> {
        let Some(all) = store.sensor_changes()? else {
            return Ok(None);
        };
        Ok(Some(Known {
            sensors: all
                .into_iter()
                .map(|c| (c.sensor, (c.applied_seq, c.change)))
                .collect(),
            shared: store.shared_changes()?.unwrap_or_default(),
        }))
    }

    /// What of the approvals and tags to read again, given their change ids `now`.
    fn reload(&mut self, now: BTreeMap<String, i64>) -> Reload {
        let moved = |what: &str| now.get(what) != self.shared.get(what);
        let r = Reload {
            approvals: moved("approvals"),
            tags: moved("tags"),
        };
        self.shared = now;
        r
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
            let (seq, id) = self.sensors.get(&c.sensor).copied().unwrap_or((0, 0));
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
            self.sensors
                .insert(c.sensor, (c.applied_seq.max(seq), c.change));
        }
        (sites, alerts)
    }
}

/// Follows the store until the manager stops.
pub async fn run(shared: Arc<Shared>, mut known: Known) {
    let mut stop = shared.shutdown.subscribe();
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
        // Approvals and tags: read again when their change id moved.
        let s = shared.clone();
        let ids = match tokio::task::spawn_blocking(move || s.store.shared_changes()).await {
            Ok(Ok(ids)) => ids.unwrap_or_default(),
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read whether other managers changed approvals or tags");
                continue;
            }
            Err(_) => continue,
        };
        let reload = known.reload(ids);
        if reload != Reload::default() {
            let s = shared.clone();
            let done = tokio::task::spawn_blocking(move || {
                if reload.approvals {
                    s.load_approvals()?;
                }
                if reload.tags {
                    s.load_tags()?;
                }
                Ok::<_, StoreError>(())
            })
            .await;
            if !matches!(done, Ok(Ok(()))) {
                // Read again next time.
                known.shared.clear();
                warn!("cannot read the approvals or tags other managers changed; trying again");
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
        let mut k = Known {
            sensors: HashMap::from([("a".to_string(), (10, 5))]),
            ..Known::default()
        };
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

    #[test]
    fn approvals_and_tags_are_read_again_only_when_their_id_moved() {
        let ids = |a: i64, t: Option<i64>| {
            let mut m = BTreeMap::from([("approvals".to_string(), a)]);
            if let Some(t) = t {
                m.insert("tags".to_string(), t);
            }
            m
        };
        let mut k = Known {
            shared: ids(4, None),
            ..Known::default()
        };
        assert_eq!(k.reload(ids(4, None)), Reload::default());
        assert_eq!(
            k.reload(ids(4, Some(9))),
            Reload {
                approvals: false,
                tags: true
            }
        );
        assert_eq!(
            k.reload(ids(11, Some(9))),
            Reload {
                approvals: true,
                tags: false
            }
        );
        assert_eq!(k.reload(ids(11, Some(9))), Reload::default());
    }
}
