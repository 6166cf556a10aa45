//! The Manager service: the operator API (sites, sensors, the fleet view, alerts, changes).

use super::AssessedFrom;
use super::{
    admin_identity, admin_status, blocking, change, cursor, filters, operator_identity, page_from,
    page_size, peer, refuse, served, triage_identity, Caller, ManagerService, Shared, ONLINE_SECS,
};
use crate::approvals::Approvals;
use crate::pki::{now_secs, rfc3339};
use crate::store::{ApprovalRecord, SensorRecord, StoreError};
use crate::view::{Query, Stored};
use otwatch_common::vocab;
use otwatch_proto::v1::manager_server::Manager;
use otwatch_proto::v1::*;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tracing::{debug, info, warn};

fn sensor_msg(r: &SensorRecord, now: i64) -> Sensor {
    let status = if r.revoked {
        "revoked"
    } else if now - r.last_seen < ONLINE_SECS {
        "online"
    } else {
        "offline"
    };
    Sensor {
        id: r.id.clone(),
        site: r.site.clone(),
        hostname: r.hostname.clone(),
        version: r.version.clone(),
        status: status.into(),
        enrolled_at: rfc3339(r.enrolled_at),
        last_seen: rfc3339(r.last_seen),
        backlog: r.backlog,
        applied_seq: r.applied_seq,
        capture_mode: r.capture_mode.clone(),
        drops: r.drops,
        certificate_not_after: rfc3339(r.cert_not_after),
        ignored_alert_states: r.ignored_alert_states,
        over_quota: r.over_quota,
        assets: r.held.assets,
        connections: r.held.connections,
        alerts: r.held.alerts,
        outbox_deferred: r.outbox_dropped,
    }
}

#[cfg(test)]
pub(super) fn asset_matches(f: &FleetAsset, q: &ListAssetsRequest) -> bool {
    AssetFilter::new(q, &Approvals::default()).matches(f)
}

/// A ListAssets query prepared once per call, compared with each asset in full: the definition
/// of what a listing holds (ListAssets answers from the view's columns, [`Query`], which agree
/// with it; their tests compare the two), and what Watch and a filter the columns cannot hold
/// use. The text is lowercased once, and fields are compared without allocating.
pub(super) struct AssetFilter<'a> {
    q: &'a ListAssetsRequest,
    text: String,
    vendor: String,
    approvals: &'a Approvals,
}

/// `needle` (lowercase) occurs in `hay`, ignoring ASCII case.
fn contains_folded(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

impl<'a> AssetFilter<'a> {
    pub(super) fn new(q: &'a ListAssetsRequest, approvals: &'a Approvals) -> AssetFilter<'a> {
        AssetFilter {
            q,
            text: q.text.to_lowercase(),
            vendor: q.vendor.to_lowercase(),
            approvals,
        }
    }

    /// Whether the query filters nothing.
    pub(super) fn is_empty(&self) -> bool {
        let q = self.q;
        q.device_type.is_empty()
            && q.purdue_level.is_none()
            && q.protocol.is_empty()
            && self.vendor.is_empty()
            && self.text.is_empty()
            && !q.shadow
    }

    pub(super) fn matches(&self, f: &FleetAsset) -> bool {
        let (q, text) = (self.q, &self.text);
        let Some(a) = &f.asset else { return false };
        (!q.shadow || self.approvals.is_shadow(f))
            && (q.device_type.is_empty() || a.device_type == q.device_type)
            && (q.purdue_level.is_none() || a.purdue_level == q.purdue_level)
            && (q.protocol.is_empty() || a.protocols.iter().any(|p| p.name == q.protocol))
            && (self.vendor.is_empty() || contains_folded(&a.vendor, &self.vendor))
            && (text.is_empty()
                || a.ips
                    .iter()
                    .chain(&a.macs)
                    .chain(&a.names)
                    .chain([&a.hostname, &a.vendor, &a.model])
                    .any(|s| contains_folded(s, text)))
    }
}

/// The fleet asset `id` (`<site>/<id>`), as GetAsset answers it.
async fn fleet_asset(shared: &Arc<Shared>, id: &str) -> Result<FleetAsset, Status> {
    let Some((site, _)) = id.split_once('/') else {
        return Err(Status::invalid_argument(
            "asset ids look like <site>/<id>, as listed by `otwatch assets`",
        ));
    };
    let shared = shared.clone();
    let site = site.to_string();
    let wanted = id.to_string();
    blocking(move || shared.asset(&site, &wanted))
        .await?
        .ok_or_else(|| Status::not_found(format!("no asset {id}; list them with `otwatch assets`")))
}

/// What makes an alert one about a fleet asset (ListAlerts `asset`): raised by one of its
/// sensors on the asset as that sensor knows it, or from or to one of its addresses.
struct AlertsAbout {
    site: String,
    /// Sensor id to the asset's ids at that sensor.
    seen_as: std::collections::HashMap<String, Vec<String>>,
    addresses: std::collections::HashSet<String>,
}

impl AlertsAbout {
    fn of(fa: &FleetAsset) -> AlertsAbout {
        AlertsAbout {
            site: fa.site.clone(),
            seen_as: fa.seen_by.iter().fold(Default::default(), |mut m, p| {
                m.entry(p.sensor_id.clone())
                    .or_insert_with(Vec::new)
                    .push(p.sensor_asset_id.clone());
                m
            }),
            addresses: fa
                .asset
                .iter()
                .flat_map(|a| a.ips.iter().cloned())
                .collect(),
        }
    }

    fn matches(&self, fa: &FleetAlert) -> bool {
        let Some(a) = &fa.alert else { return false };
        fa.site == self.site
            && (self
                .seen_as
                .get(&fa.sensor_id)
                .is_some_and(|ids| ids.contains(&a.asset))
                || self.addresses.contains(&a.src)
                || self.addresses.contains(&a.dst))
    }
}

/// The most one ImportAdvisories call may send: the whole CISA OT feed is under 100 MiB.
const MAX_IMPORT_BYTES: usize = 512 << 20;

impl Shared {
    /// The risk assessment of `site` (empty: the fleet) at `now` (Unix seconds): scores and
    /// findings from [`otwatch_risk::assess`], shadow devices from the approved inventories,
    /// and the daily trend (today's score recorded first). `Err` inside: no such site.
    pub fn assess(
        &self,
        site: &str,
        now: i64,
    ) -> Result<Result<RiskAssessment, Status>, StoreError> {
        let started = std::time::Instant::now();
        let sites = self.sites()?;
        let chosen: Vec<String> = if site.is_empty() {
            sites.into_iter().collect()
        } else if sites.contains(site) {
            vec![site.to_string()]
        } else {
            return Ok(Err(no_site(site, &sites)));
        };
        // The same inventory, advisories and approvals give the same assessment: it is kept
        // until a batch of one of the sites is applied or the advisories or approvals change.
        let key = AssessedFrom {
            site: site.to_string(),
            generations: chosen
                .iter()
                .map(|s| Ok((s.clone(), self.view.generation(s)?)))
                .collect::<Result<_, StoreError>>()?,
            epoch: self.risk_epoch(),
        };
        let cached = self.cached_assessment(&key)?;
        let fresh = cached.is_none();
        let mut assessment = match cached {
            Some(a) => a.as_ref().clone(),
            None => {
                // One assessment at a time: a caller that asks for the scope being assessed
                // waits and takes that one (the console's sign-in starts the fleet's).
                let _one = self
                    .assessing
                    .lock()
                    .map_err(|_| StoreError::poisoned("assessing"))?;
                match self.cached_assessment(&key)? {
                    Some(a) => a.as_ref().clone(),
                    None => {
                        let a = self.assess_uncached(site, &chosen)?;
                        self.keep_assessment(key, Arc::new(a.clone()))?;
                        a
                    }
                }
            }
        };
        if site.is_empty() {
            for (s, score, _, _) in crate::risk::site_scores(&assessment, &chosen) {
                crate::risk::record_score(&*self.store, &s, now, score)?;
            }
        }
        // A manager without sensors has nothing to score yet: no trend.
        if !chosen.is_empty() {
            assessment.trend =
                crate::risk::trend(&*self.store, site, now, assessment.security_score)?;
        }
        debug!(
            site,
            assets = assessment.assets.len(),
            fresh,
            ms = started.elapsed().as_millis() as u64,
            "risk assessed"
        );
        Ok(Ok(assessment))
    }

    /// [`Shared::assess`]'s scores, findings and shadow devices, computed (no trend).
    fn assess_uncached(&self, site: &str, chosen: &[String]) -> Result<RiskAssessment, StoreError> {
        let mut inputs = Vec::with_capacity(chosen.len());
        for s in chosen {
            inputs.push(crate::risk::SiteInventory {
                assets: self.site_assets(s)?,
                connections: self.site_connections(s)?.as_ref().clone(),
            });
        }
        let (shadow_devices, unapproved_sites) =
            crate::risk::shadow_devices(&inputs, chosen, &*self.approvals()?);
        let report = crate::risk::inventory(inputs, &self.advisories());
        let mut assessment = otwatch_risk::assess(site, &report);
        if site.is_empty() {
            crate::risk::set_fleet_score(&mut assessment, chosen);
        }
        assessment.shadow_devices = shadow_devices;
        assessment.unapproved_sites = unapproved_sites;
        Ok(assessment)
    }
}

/// Runs an admin helper (which may write the store) off the async threads; its errors become
/// statuses by [`admin_status`] (a bad argument is INVALID_ARGUMENT).
async fn admin_call<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::admin::AdminError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(admin_status)
}

/// The validity asked for in a request (`0`: `default`), in seconds; one too large to say is
/// refused by the admin helper.
fn ttl_or(default: i64, ttl_seconds: u64) -> i64 {
    match ttl_seconds {
        0 => default,
        n => i64::try_from(n).unwrap_or(i64::MAX),
    }
}

fn sites_for(shared: &Shared, site: &str) -> Result<Vec<String>, StoreError> {
    if site.is_empty() {
        Ok(shared.sites()?.into_iter().collect())
    } else {
        Ok(vec![site.to_string()])
    }
}

/// NOT_FOUND for a site nobody reports from, naming the sites there are.
fn no_site(site: &str, sites: &std::collections::BTreeSet<String>) -> Status {
    const SHOWN: usize = 20;
    let mut names: Vec<&str> = sites.iter().take(SHOWN).map(String::as_str).collect();
    if sites.len() > SHOWN {
        names.push("...");
    }
    let known = if names.is_empty() {
        "there are none yet: enrol a sensor for it first".to_string()
    } else {
        format!("the sites are {} (`otwatch sites`)", names.join(", "))
    };
    Status::not_found(format!("no site {site:?}: {known}"))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<Change, Status>> + Send>>;

#[tonic::async_trait]
impl Manager for ManagerService {
    async fn list_playbooks(
        &self,
        req: Request<ListPlaybooksRequest>,
    ) -> Result<Response<ListPlaybooksResponse>, Status> {
        triage_identity(
            &self.0,
            Caller::of(&req),
            "ListPlaybooks",
            "see the playbooks",
        )
        .await?;
        Ok(Response::new(super::playbooks::list(&self.0).await?))
    }

    async fn list_playbook_runs(
        &self,
        req: Request<ListPlaybookRunsRequest>,
    ) -> Result<Response<ListPlaybookRunsResponse>, Status> {
        triage_identity(
            &self.0,
            Caller::of(&req),
            "ListPlaybookRuns",
            "see the playbooks' runs",
        )
        .await?;
        Ok(Response::new(
            super::playbooks::runs(&self.0, req.into_inner()).await?,
        ))
    }

    async fn list_forwards(
        &self,
        req: Request<ListForwardsRequest>,
    ) -> Result<Response<ListForwardsResponse>, Status> {
        admin_identity(
            &self.0,
            Caller::of(&req),
            "ListForwards",
            "see the forwarding rules",
        )
        .await?;
        Ok(Response::new(super::forwards::list(&self.0).await?))
    }

    async fn add_forwards(
        &self,
        req: Request<AddForwardsRequest>,
    ) -> Result<Response<ListForwardsResponse>, Status> {
        let (by, p) = admin_identity(
            &self.0,
            Caller::of(&req),
            "AddForwards",
            "change the forwarding rules",
        )
        .await?;
        let q = req.into_inner();
        let name = if q.file_name.is_empty() {
            "added".to_string()
        } else {
            q.file_name
        };
        let r = super::forwards::change(&self.0, move |file, current| {
            crate::forward::edit::add(file, current, &name, &q.toml)
                .map_err(|e| Status::invalid_argument(e.to_string()))
        })
        .await?;
        info!(peer = %p, by = %by, "forwarding rules added");
        Ok(Response::new(r))
    }

    async fn remove_forward(
        &self,
        req: Request<RemoveForwardRequest>,
    ) -> Result<Response<ListForwardsResponse>, Status> {
        let (by, p) = admin_identity(
            &self.0,
            Caller::of(&req),
            "RemoveForward",
            "change the forwarding rules",
        )
        .await?;
        let name = req.into_inner().name;
        let n = name.clone();
        let r = super::forwards::change(&self.0, move |file, current| {
            crate::forward::edit::remove(file, current, &n).map_err(Status::invalid_argument)
        })
        .await?;
        info!(peer = %p, by = %by, name = %name, "forwarding rule or destination removed");
        Ok(Response::new(r))
    }

    async fn list_dead_letters(
        &self,
        req: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        admin_identity(
            &self.0,
            Caller::of(&req),
            "ListDeadLetters",
            "see the forwarding dead letters",
        )
        .await?;
        let q = req.into_inner();
        Ok(Response::new(
            super::forwards::dead_letters(&self.0, &q.destination, q.limit).await?,
        ))
    }

    async fn test_forward(
        &self,
        req: Request<TestForwardRequest>,
    ) -> Result<Response<TestForwardResponse>, Status> {
        admin_identity(&self.0, Caller::of(&req), "TestForward", "test forwarding").await?;
        let dest = req.into_inner().destination;
        Ok(Response::new(super::forwards::test(&self.0, &dest).await?))
    }

    async fn get_retention(
        &self,
        req: Request<GetRetentionRequest>,
    ) -> Result<Response<RetentionReport>, Status> {
        operator_identity(&self.0, Caller::of(&req), "GetRetention").await?;
        let shared = self.0.clone();
        let reports = blocking(move || shared.retention.reports(shared.store.as_ref())).await?;
        let kinds = reports
            .into_iter()
            .map(|r| RetentionKind {
                kind: r.kind,
                limit_seconds: r.limit_secs.map_or(0, |l| l.max(0) as u64),
                held: r.held,
                oldest: r.oldest.map(rfc3339).unwrap_or_default(),
                removed_total: r.removed_total,
                removed_last_run: r.removed_last_run,
                last_run: r.last_run.map(rfc3339).unwrap_or_default(),
                error: r.error.unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(RetentionReport {
            kinds,
            every_seconds: self.0.retention.settings().every.as_secs(),
        }))
    }

    async fn list_sites(
        &self,
        req: Request<ListSitesRequest>,
    ) -> Result<Response<ListSitesResponse>, Status> {
        operator_identity(&self.0, Caller::of(&req), "ListSites").await?;
        let shared = self.0.clone();
        let sites = blocking(move || {
            let sensors = shared.store.sensors()?;
            let alerts = shared.store.alerts()?;
            let mut out = Vec::new();
            for site in shared.sites()? {
                out.push(Site {
                    sensors: sensors.iter().filter(|s| s.site == site).count() as u32,
                    assets: shared.site_assets(&site)?.len() as u64,
                    open_alerts: alerts
                        .iter()
                        .filter(|a| a.site == site && a.state != "resolved")
                        .count() as u64,
                    name: site,
                });
            }
            Ok(out)
        })
        .await?;
        Ok(Response::new(ListSitesResponse { sites }))
    }

    async fn list_sensors(
        &self,
        req: Request<ListSensorsRequest>,
    ) -> Result<Response<ListSensorsResponse>, Status> {
        operator_identity(&self.0, Caller::of(&req), "ListSensors").await?;
        let site = req.into_inner().site;
        let store = self.0.store.clone();
        let all = blocking(move || store.sensors()).await?;
        let now = now_secs();
        let sensors = all
            .iter()
            .filter(|s| site.is_empty() || s.site == site)
            .map(|s| sensor_msg(s, now))
            .collect();
        let forwarding = super::forwards::summary(&self.0).await?;
        Ok(Response::new(ListSensorsResponse {
            sensors,
            forwarding,
        }))
    }

    async fn revoke_sensor(
        &self,
        req: Request<RevokeSensorRequest>,
    ) -> Result<Response<Sensor>, Status> {
        let (name, p) =
            admin_identity(&self.0, Caller::of(&req), "RevokeSensor", "revoke sensors").await?;
        let id = req.into_inner().id;
        let store = self.0.store.clone();
        let sid = id.clone();
        let rec = blocking(move || store.update_sensor(&sid, &|r| r.revoked = true))
            .await?
            .ok_or_else(|| {
                Status::not_found(format!("no sensor {id}; list them with `otwatch sensors`"))
            })?;
        if let Ok(mut r) = self.0.revoked.write() {
            r.sensors.insert(rec.id.clone());
        }
        warn!(peer = %p, by = %name, sensor = %rec.id, site = %rec.site, "sensor revoked");
        let _ = self.0.changes.send(change("sensor", &rec.site, &rec.id));
        Ok(Response::new(sensor_msg(&rec, now_secs())))
    }

    async fn revoke_operator(
        &self,
        req: Request<RevokeOperatorRequest>,
    ) -> Result<Response<OperatorRevocation>, Status> {
        let (by, p) = admin_identity(
            &self.0,
            Caller::of(&req),
            "RevokeOperator",
            "revoke operators",
        )
        .await?;
        let name = req.into_inner().name;
        let store = self.0.store.clone();
        let n = name.clone();
        let at = admin_call(move || crate::admin::revoke_operator(&*store, &n)).await?;
        if let Ok(mut r) = self.0.revoked.write() {
            r.operators.insert(name.clone(), at);
        }
        warn!(peer = %p, by = %by, operator = %name, "operator certificates revoked");
        Ok(Response::new(OperatorRevocation {
            name,
            revoked_at: rfc3339(at),
        }))
    }

    async fn create_operator_token(
        &self,
        req: Request<CreateOperatorTokenRequest>,
    ) -> Result<Response<OperatorToken>, Status> {
        let (by, p) = admin_identity(
            &self.0,
            Caller::of(&req),
            "CreateOperatorToken",
            "create operator tokens",
        )
        .await?;
        let q = req.into_inner();
        let for_role: otwatch_common::link::OperatorRole = q
            .role
            .parse()
            .map_err(|e: String| Status::invalid_argument(e))?;
        let ttl = ttl_or(crate::admin::DEFAULT_OPERATOR_TOKEN_TTL, q.ttl_seconds);
        let store = self.0.store.clone();
        let name = q.name.clone();
        let t =
            admin_call(move || crate::admin::create_operator_token(&*store, &name, for_role, ttl))
                .await?;
        // The token is never logged.
        info!(peer = %p, by = %by, operator = %t.name, role = t.role.as_str(), expires = %t.expires_at, "operator token created");
        Ok(Response::new(OperatorToken {
            token: t.token,
            name: t.name,
            role: t.role.as_str().to_string(),
            expires_at: t.expires_at,
        }))
    }

    async fn create_enrollment_token(
        &self,
        req: Request<CreateEnrollmentTokenRequest>,
    ) -> Result<Response<EnrollmentToken>, Status> {
        let (name, p) = admin_identity(
            &self.0,
            Caller::of(&req),
            "CreateEnrollmentToken",
            "create enrolment tokens",
        )
        .await?;
        let q = req.into_inner();
        let ttl = ttl_or(crate::admin::DEFAULT_TOKEN_TTL, q.ttl_seconds);
        let shared = self.0.clone();
        let site = q.site.clone();
        let t =
            admin_call(move || crate::admin::create_token(&shared.ca, &*shared.store, &site, ttl))
                .await?;
        // The secret is never logged.
        info!(peer = %p, by = %name, site = %t.site, expires = %t.expires_at, "enrolment token created");
        Ok(Response::new(EnrollmentToken {
            token: t.token.to_string(),
            site: t.site,
            expires_at: t.expires_at,
        }))
    }

    async fn list_assets(
        &self,
        req: Request<ListAssetsRequest>,
    ) -> Result<Response<ListAssetsResponse>, Status> {
        operator_identity(&self.0, Caller::of(&req), "ListAssets").await?;
        let mut q = req.into_inner();
        filters::assets(&mut q)?;
        let shared = self.0.clone();
        let site = q.site.clone();
        let size = page_size(q.page_size);
        // The page starts after the fleet id the token names (api/cursor.rs): assets in fleet
        // id order are by site name, then by id within the site.
        let print = cursor::fingerprint(&q);
        let after = cursor::assets_after(&q.page_token, print)?;
        blocking(move || {
            // Only the page is decoded; without filters whole sites are counted by length.
            // Filters are answered from the snapshots' columns (view::chunks); only a value
            // the columns cannot hold makes every asset be decoded and compared in full.
            let approvals = shared.approvals()?;
            let tags = shared.tags();
            let filter = AssetFilter::new(&q, &approvals);
            let query = Query::new(
                &q.device_type,
                q.purdue_level,
                &q.protocol,
                &q.vendor,
                &q.text,
            );
            let catalog = shared.advisories();
            // Tags are the playbooks' (not in the snapshots' columns): checked on what the
            // columns let through.
            let tag = q.tag.trim();
            let tagged_asset = |a: &FleetAsset| super::tags_of(&tags, a).iter().any(|t| t == tag);
            let tagged =
                |a: &Stored| tag.is_empty() || (!tags.is_empty() && tagged_asset(&a.decode()));
            let cursor_site = after
                .as_deref()
                .map(|id| id.split_once('/').map_or(id, |(s, _)| s));
            // The page, how many match in all, and how many match after the page.
            let (mut assets, mut total, mut left) = (Vec::new(), 0usize, 0usize);
            for s in sites_for(&shared, &site)? {
                let snap = shared.site_assets(&s)?;
                // Where this site's assets after the cursor start: all before it, some, none.
                let from = match (cursor_site, &after) {
                    (Some(c), _) if s.as_str() < c => snap.len(),
                    (Some(c), Some(id)) if s.as_str() == c => snap.after(id),
                    _ => 0,
                };
                if filter.is_empty() && tag.is_empty() {
                    let to = from.saturating_add(size - assets.len()).min(snap.len());
                    assets.extend(
                        snap.range(from, to)
                            .map(|a| served(&catalog, &approvals, &tags, &a.decode())),
                    );
                    left += snap.len() - to;
                    total += snap.len();
                    continue;
                }
                // Past the cursor: the assets from position `from` on.
                let mut each = |at: usize, a: &Stored| {
                    total += 1;
                    let past = at >= from;
                    if past && assets.len() < size {
                        assets.push(served(&catalog, &approvals, &tags, &a.decode()));
                    } else if past {
                        left += 1;
                    }
                };
                match &query {
                    Some(query) => snap.matching(
                        query,
                        |a| (!q.shadow || approvals.is_shadow_id(a.id())) && tagged(a),
                        &mut each,
                    ),
                    None => snap
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| {
                            let fa = a.decode();
                            filter.matches(&fa) && (tag.is_empty() || tagged_asset(&fa))
                        })
                        .for_each(|(at, a)| each(at, a)),
                }
            }
            let next_page_token = match assets.last() {
                Some(last) if left > 0 => cursor::token(print, &[&last.id]),
                _ => String::new(),
            };
            Ok(ListAssetsResponse {
                assets,
                next_page_token,
                total: total as u64,
            })
        })
        .await
        .map(Response::new)
    }

    async fn get_asset(
        &self,
        req: Request<GetAssetRequest>,
    ) -> Result<Response<FleetAsset>, Status> {
        operator_identity(&self.0, Caller::of(&req), "GetAsset").await?;
        fleet_asset(&self.0, &req.into_inner().id)
            .await
            .map(Response::new)
    }

    async fn list_connections(
        &self,
        req: Request<ListConnectionsRequest>,
    ) -> Result<Response<ListConnectionsResponse>, Status> {
        operator_identity(&self.0, Caller::of(&req), "ListConnections").await?;
        let q = req.into_inner();
        let print = cursor::connections_fingerprint(&q);
        let after = cursor::connections_after(&q.page_token, print)?;
        let shared = self.0.clone();
        let site = q.site.clone();
        let all = blocking(move || {
            let mut out = Vec::new();
            for s in sites_for(&shared, &site)? {
                out.push(shared.site_connections(&s)?);
            }
            Ok(out)
        })
        .await?;
        // Only the page is copied out of the (shared, cached) merged connections.
        let matched: Vec<&FleetConnection> = all
            .iter()
            .flat_map(|site| site.iter())
            .filter(|c| {
                q.address.is_empty()
                    || c.connection
                        .as_ref()
                        .is_some_and(|c| c.client == q.address || c.server == q.address)
            })
            .collect();
        // Sites in name order, each site's connections in key order: the page starts after the
        // (site, key) the token names (api/cursor.rs).
        let key = |c: &FleetConnection| (c.site.clone(), crate::fleet::connection_key(c));
        let start = after.map_or(0, |after| matched.partition_point(|c| key(c) <= after));
        let (connections, next_page_token) = page_from(&matched, start, q.page_size, |last| {
            let (site, k) = key(last);
            cursor::connections_token(print, &site, &k)
        });
        Ok(Response::new(ListConnectionsResponse {
            connections: connections.iter().map(|c| (*c).clone()).collect(),
            next_page_token,
            total: matched.len() as u64,
        }))
    }

    async fn list_alerts(
        &self,
        req: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        operator_identity(&self.0, Caller::of(&req), "ListAlerts").await?;
        let mut q = req.into_inner();
        filters::alerts(&mut q)?;
        let print = cursor::alerts_fingerprint(&q);
        let after = cursor::alerts_after(&q.page_token, print)?;
        let about = match q.asset.as_str() {
            "" => None,
            id => Some(AlertsAbout::of(&fleet_asset(&self.0, id).await?)),
        };
        let store = self.0.store.clone();
        let all = blocking(move || store.alerts()).await?;
        let none = Alert::default();
        let mut matched: Vec<FleetAlert> = all
            .into_iter()
            .filter(|a| {
                let al = a.alert.as_ref().unwrap_or(&none);
                (q.site.is_empty() || a.site == q.site)
                    && (q.state.is_empty()
                        || a.state == q.state
                        || (q.state == vocab::OPEN_ALERTS && a.state != "resolved"))
                    && (q.severity.is_empty() || al.severity == q.severity)
                    && (q.kind.is_empty() || al.kind == q.kind)
                    && about.as_ref().is_none_or(|about| about.matches(a))
            })
            .collect();
        matched.sort_by(|a, b| (&a.site, &a.id).cmp(&(&b.site, &b.id)));
        // The page starts after the (site, id) the token names (api/cursor.rs).
        let start = after.as_ref().map_or(0, |(site, id)| {
            matched.partition_point(|a| (&a.site, &a.id) <= (site, id))
        });
        let (page, next_page_token) = page_from(&matched, start, q.page_size, |last| {
            cursor::token(print, &[&last.site, &last.id])
        });
        let alerts = page.to_vec();
        Ok(Response::new(ListAlertsResponse {
            alerts,
            next_page_token,
            total: matched.len() as u64,
        }))
    }

    async fn get_alert(
        &self,
        req: Request<GetAlertRequest>,
    ) -> Result<Response<FleetAlert>, Status> {
        operator_identity(&self.0, Caller::of(&req), "GetAlert").await?;
        let id = req.into_inner().id;
        let store = self.0.store.clone();
        let wanted = id.clone();
        blocking(move || store.alert(&wanted))
            .await?
            .map(Response::new)
            .ok_or_else(|| {
                Status::not_found(format!("no alert {id}; list them with `otwatch alerts`"))
            })
    }

    async fn acknowledge_alert(
        &self,
        req: Request<AlertActionRequest>,
    ) -> Result<Response<FleetAlert>, Status> {
        self.alert_action(req, "acknowledged", "AcknowledgeAlert", "acknowledge")
            .await
    }

    async fn resolve_alert(
        &self,
        req: Request<AlertActionRequest>,
    ) -> Result<Response<FleetAlert>, Status> {
        self.alert_action(req, "resolved", "ResolveAlert", "resolve")
            .await
    }

    async fn list_advisories(
        &self,
        req: Request<ListAdvisoriesRequest>,
    ) -> Result<Response<ListAdvisoriesResponse>, Status> {
        operator_identity(&self.0, Caller::of(&req), "ListAdvisories").await?;
        let q = req.into_inner();
        let print = cursor::advisories_fingerprint(&q);
        let after = cursor::advisories_after(&q.page_token, print)?;
        // In id order; the page starts after the id the token names (api/cursor.rs).
        let all = crate::advisories::summaries(&self.0.advisories(), &q.text);
        let start = after.map_or(0, |after| all.partition_point(|a| a.id <= after));
        let (page, next_page_token) = page_from(&all, start, q.page_size, |last| {
            cursor::token(print, &[&last.id])
        });
        Ok(Response::new(ListAdvisoriesResponse {
            advisories: page.to_vec(),
            next_page_token,
            total: all.len() as u64,
        }))
    }

    async fn get_risk(
        &self,
        req: Request<GetRiskRequest>,
    ) -> Result<Response<RiskAssessment>, Status> {
        operator_identity(&self.0, Caller::of(&req), "GetRisk").await?;
        let site = req.into_inner().site;
        let shared = self.0.clone();
        blocking(move || shared.assess(&site, shared.clock.now()))
            .await?
            .map(Response::new)
    }

    async fn import_advisories(
        &self,
        req: Request<tonic::Streaming<AdvisoryDocument>>,
    ) -> Result<Response<ImportAdvisoriesResponse>, Status> {
        let (name, p) = admin_identity(
            &self.0,
            Caller::of(&req),
            "ImportAdvisories",
            "import advisories",
        )
        .await?;
        let mut stream = req.into_inner();
        let mut documents = Vec::new();
        let mut total = 0usize;
        while let Some(doc) = stream.message().await? {
            total = total.saturating_add(doc.content.len());
            if total > MAX_IMPORT_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "an import may send at most {} MiB; import the feed in parts (a directory per year)",
                    MAX_IMPORT_BYTES >> 20
                )));
            }
            documents.push(doc);
        }
        let shared = self.0.clone();
        let started = std::time::Instant::now();
        let r = blocking(move || {
            let mut importer = crate::advisories::Importer::new(&*shared.store)?;
            let mut report = otwatch_common::advisories::LoadReport::default();
            for doc in documents {
                match otwatch_advisories::parse_document(&doc.content) {
                    Ok(document) => {
                        report.documents += 1;
                        importer.add(document, doc.content);
                    }
                    Err(e) => report.skipped.push(otwatch_common::advisories::Skipped {
                        path: doc.name.into(),
                        reason: e.to_string(),
                    }),
                }
            }
            let report = importer.finish(&*shared.store, report)?;
            let loaded = shared.load_advisories()?;
            Ok((report, loaded))
        })
        .await;
        let (report, loaded) = r?;
        info!(
            peer = %p, by = %name, documents = report.documents, added = report.added,
            replaced = report.replaced, skipped = report.skipped.len(), advisories = loaded,
            ms = started.elapsed().as_millis() as u64, "advisories imported"
        );
        Ok(Response::new(ImportAdvisoriesResponse {
            documents: report.documents as u64,
            added: report.added as u64,
            replaced: report.replaced as u64,
            unchanged: report.unchanged as u64,
            kev_catalogs: report.kev_catalogs as u64,
            skipped: report
                .skipped
                .into_iter()
                .map(|s| SkippedDocument {
                    name: s.path.display().to_string(),
                    reason: s.reason,
                })
                .collect(),
            advisories: loaded as u64,
        }))
    }

    async fn approve_assets(
        &self,
        req: Request<ApproveAssetsRequest>,
    ) -> Result<Response<ApproveAssetsResponse>, Status> {
        const CALL: &str = "ApproveAssets";
        let (name, role) = operator_identity(&self.0, Caller::of(&req), CALL).await?;
        let p = peer(&req);
        if !role.can_triage() {
            return Err(refuse(
                &p,
                CALL,
                Status::permission_denied(format!(
                    "role {} cannot approve assets; ask an admin for the analyst role",
                    role.as_str()
                )),
            ));
        }
        let q = req.into_inner();
        if q.all != q.ids.is_empty() {
            return Err(Status::invalid_argument(
                "name the assets to approve (ids as `otwatch assets` lists them), or ask for all of them (`--all`, with `--site` for one site), not both",
            ));
        }
        let shared = self.0.clone();
        let by = format!("{name} ({})", role.as_str());
        let (changed, approved, sites) = blocking(move || {
            let known = shared.sites()?;
            let (ids, sites) = if q.all {
                if !q.site.is_empty() && !known.contains(&q.site) {
                    return Ok(Err(no_site(&q.site, &known)));
                }
                let sites = sites_for(&shared, &q.site)?;
                let mut ids = Vec::new();
                for s in &sites {
                    ids.extend(shared.site_assets(s)?.iter().map(|a| a.id().to_string()));
                }
                (ids, sites)
            } else {
                let mut sites = std::collections::BTreeSet::new();
                for id in &q.ids {
                    let site = id.split_once('/').map_or("", |(s, _)| s);
                    // Revoking needs no current asset: a device gone from the network can be
                    // taken out of the inventory.
                    if !q.revoke && shared.asset(site, id)?.is_none() {
                        return Ok(Err(Status::not_found(format!(
                            "no asset {id}; asset ids look like <site>/<id>, as `otwatch assets` lists them"
                        ))));
                    }
                    sites.insert(site.to_string());
                }
                (q.ids.clone(), sites.into_iter().collect())
            };
            let approval = (!q.revoke).then(|| ApprovalRecord { by, at: now_secs() });
            let changed = shared.set_approved(&ids, approval)?;
            let approvals = shared.approvals()?;
            let approved = sites.iter().map(|s| approvals.count(s)).sum();
            Ok(Ok((changed, approved, sites)))
        })
        .await??;
        info!(peer = %p, by = %name, changed, approved, sites = ?sites, "approved inventory changed");
        for s in &sites {
            let _ = self.0.changes.send(change("approval", s, ""));
        }
        Ok(Response::new(ApproveAssetsResponse { changed, approved }))
    }

    type WatchStream = WatchStream;

    async fn watch(&self, req: Request<WatchRequest>) -> Result<Response<WatchStream>, Status> {
        operator_identity(&self.0, Caller::of(&req), "Watch").await?;
        let site = req.into_inner().site;
        let mut changes = self.0.changes.subscribe();
        let mut shutdown = self.0.shutdown.subscribe();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let c = tokio::select! {
                    c = changes.recv() => c,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let item = match c {
                    Ok(c) if site.is_empty() || c.site == site => Ok(c),
                    Ok(_) => continue,
                    // A slow watcher missed changes: tell it, it can list again.
                    Err(broadcast::error::RecvError::Lagged(n)) => Err(Status::data_loss(format!(
                        "missed {n} changes; list again to catch up"
                    ))),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if tx.send(item).await.is_err() {
                    return; // the watcher went away
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

/// The longest comment an operator may leave on an alert, in characters.
const MAX_COMMENT: usize = 2_000;

impl ManagerService {
    async fn alert_action(
        &self,
        req: Request<AlertActionRequest>,
        state: &'static str,
        call: &str,
        verb: &str,
    ) -> Result<Response<FleetAlert>, Status> {
        let (name, role) = operator_identity(&self.0, Caller::of(&req), call).await?;
        let p = peer(&req);
        if !role.can_triage() {
            return Err(refuse(
                &p,
                call,
                Status::permission_denied(format!(
                    "role {} cannot {verb} alerts; ask an admin for the analyst role",
                    role.as_str()
                )),
            ));
        }
        let AlertActionRequest { id, comment } = req.into_inner();
        let comment = comment.trim().to_string();
        if comment.chars().count() > MAX_COMMENT {
            return Err(Status::invalid_argument(format!(
                "the comment has {} characters; at most {MAX_COMMENT} are kept: shorten it",
                comment.chars().count()
            )));
        }
        let store = self.0.store.clone();
        let (aid, by) = (id.clone(), format!("{name} ({})", role.as_str()));
        let at = rfc3339(self.0.clock.now());
        let fa = blocking(move || store.set_alert_state(&aid, state, &by, &at, &comment))
            .await?
            .ok_or_else(|| {
                Status::not_found(format!("no alert {id}; list them with `otwatch alerts`"))
            })?;
        info!(peer = %p, by = %name, alert = %fa.id, state, "alert state changed");
        let _ = self.0.changes.send(change("alert", &fa.site, &fa.id));
        Ok(Response::new(fa))
    }
}
