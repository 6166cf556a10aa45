//! The gRPC services: `SensorLink` (enrolment and sync, for sensors; [`sensor_link`]) and
//! `Manager` (the operator API; [`manager`]). Who calls is taken from the client certificate's
//! SAN URI only; sensors may call only SensorLink (Enroll needs no certificate), operators only
//! Manager. Every refusal is logged with its reason and the peer.

mod cursor;
mod filters;
mod forwards;
mod manager;
mod playbooks;
mod sensor_link;

pub use cursor::assets_page_token;
pub(crate) use forwards::failing as forward_failing;
pub use sensor_link::MAX_BATCH_BYTES;

use crate::admin::AdminError;
use crate::approvals::Approvals;
use crate::clock::SharedClock;
use crate::fleet;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::pki::{identity_of, now_secs, rfc3339, sha256, Ca};
use crate::retention::{Retention, RetentionSettings};
use crate::store::{ApprovalRecord, BatchRefused, FleetStore, StoreError};
use crate::tls::{Revocations, Revoked};
use crate::view::{FleetView, Snapshot};
use otwatch_common::advisories::Catalog;
use otwatch_common::link::{Identity, OperatorRole};
use otwatch_proto::v1::{Change, FleetAsset, FleetConnection};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};
use tonic::{Request, Status};
use tracing::warn;

/// A sensor counts as online when it called within this many seconds.
pub const ONLINE_SECS: i64 = 30;
/// Default and largest page sizes of list calls.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;

/// State shared by both services.
pub struct Shared {
    pub store: Arc<dyn FleetStore>,
    pub ca: Ca,
    pub revoked: Revoked,
    pub changes: broadcast::Sender<Change>,
    /// Set to true when the manager stops: open Sync and Watch streams end so the server can
    /// drain.
    pub shutdown: watch::Sender<bool>,
    /// Merged assets per site, kept up to date as batches are applied.
    pub view: Arc<FleetView>,
    /// The single writer of sensor data (group commit, then the view).
    pub ingest: Ingest,
    /// The time that ages data (when records are stored, retention).
    pub clock: SharedClock,
    /// What is kept how long, and what each retention run found.
    pub retention: Retention,
    /// The manager's metrics (`GET /metrics`).
    pub metrics: Arc<Metrics>,
    /// When each sensor over its quota was last logged (once an hour each).
    quota_logged: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// The advisories assets are matched against when served (read from the store at start,
    /// [`Shared::load_advisories`]).
    advisories: std::sync::RwLock<Arc<Catalog>>,
    /// The sites' approved inventories (read from the store at start,
    /// [`Shared::load_approvals`]).
    approvals: std::sync::RwLock<Approvals>,
    /// The tags playbooks put on sensors' assets (read from the store at start,
    /// [`Shared::load_tags`]).
    tags: std::sync::RwLock<Tags>,
    /// Each site's merged connections and the view generation they were merged at
    /// ([`Shared::site_connections`]).
    connections: std::sync::Mutex<std::collections::HashMap<String, ConnectionsAt>>,
    /// The last risk assessments and what they were made from.
    assessments: std::sync::Mutex<Vec<(AssessedFrom, Arc<otwatch_proto::v1::RiskAssessment>)>>,
    /// Bumped when the advisories or the approved inventories change (kept assessments are
    /// then stale).
    risk_epoch: std::sync::atomic::AtomicU64,
    /// Held while an assessment is computed ([`Shared::assess`]).
    assessing: std::sync::Mutex<()>,
    /// The forwarding destinations' delivery tasks; its lock also serialises changes to the
    /// forwarding file.
    pub deliveries: tokio::sync::Mutex<crate::forward::deliver::Deliveries>,
    /// Whether this manager delivers forwarding and runs playbooks (always, unless several
    /// managers share the store and another leads: [`FleetStore::try_lead`]).
    pub leading: std::sync::atomic::AtomicBool,
}

/// Merged connections of a site, at a view generation.
type ConnectionsAt = (u64, Arc<Vec<FleetConnection>>);

/// What a risk assessment was made from: the scope, each site's view generation, and the
/// advisories and approvals ([`Shared::risk_epoch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssessedFrom {
    pub site: String,
    pub generations: Vec<(String, u64)>,
    pub epoch: u64,
}

/// At most this many assessments are kept (one per site and the fleet's, in practice).
const KEPT_ASSESSMENTS: usize = 64;

impl Shared {
    /// The shared state over `store`; `clock` ages data, `retention` says for how long.
    pub fn new(
        store: Arc<dyn FleetStore>,
        ca: Ca,
        revoked: Revoked,
        clock: SharedClock,
        retention: RetentionSettings,
    ) -> std::io::Result<Arc<Shared>> {
        let view = Arc::new(FleetView::default());
        let ingest = Ingest::start(store.clone(), view.clone())?;
        let metrics = Arc::new(Metrics::new());
        metrics.watch_store(&store);
        Ok(Arc::new(Shared {
            clock,
            retention: Retention::new(retention),
            metrics,
            store,
            ca,
            revoked,
            changes: broadcast::channel(1024).0,
            shutdown: watch::channel(false).0,
            view,
            ingest,
            quota_logged: Default::default(),
            advisories: Default::default(),
            approvals: Default::default(),
            tags: Default::default(),
            connections: Default::default(),
            assessments: Default::default(),
            risk_epoch: Default::default(),
            assessing: Default::default(),
            deliveries: Default::default(),
            leading: Default::default(),
        }))
    }
}

/// The status for a store error: a full disk is the manager's state, not a failure of the call
/// (UNAVAILABLE: clients try again later); anything else is logged as the manager's fault.
fn internal(e: StoreError) -> Status {
    if let StoreError::DiskFull = e {
        return Status::unavailable(e.to_string());
    }
    warn!(error = %e, "store error");
    Status::internal(e.to_string())
}

/// The status for a failed admin action: what the caller asked wrongly is INVALID_ARGUMENT with
/// what to do; the store's errors as in [`internal`]; anything else is the manager's fault.
fn admin_status(e: AdminError) -> Status {
    match e {
        AdminError::BadName { .. } | AdminError::BadTtl { .. } => {
            Status::invalid_argument(e.to_string())
        }
        AdminError::Store(e) => internal(e),
        AdminError::Refused(s) => s,
        other => {
            warn!(error = %other, "admin action failed");
            Status::internal(other.to_string())
        }
    }
}

/// How often a sensor over its quota is logged.
const QUOTA_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Shared {
    /// Whether to log now that `sensor` is over its quota (the first time, then hourly).
    fn log_over_quota(&self, sensor: &str) -> bool {
        let Ok(mut logged) = self.quota_logged.lock() else {
            return true;
        };
        let now = std::time::Instant::now();
        match logged.get(sensor) {
            Some(t) if now.duration_since(*t) < QUOTA_LOG_EVERY => false,
            _ => {
                logged.insert(sensor.to_string(), now);
                true
            }
        }
    }
}

/// The status a sensor gets for a batch that was not applied: a refusal says what the sensor
/// must do (and is logged with the peer and the sensor); anything else is the manager's fault.
fn batch_status(peer: &str, sensor: &str, e: StoreError) -> Status {
    let st = match &e {
        StoreError::Refused(BatchRefused::Gap { .. }) => Status::failed_precondition(e.to_string()),
        StoreError::Refused(_) => Status::invalid_argument(e.to_string()),
        _ => return internal(e),
    };
    warn!(peer, sensor, code = ?st.code(), reason = st.message(), "batch refused");
    st
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(internal)
}

fn peer<T>(req: &Request<T>) -> String {
    req.remote_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn refuse(peer: &str, call: &str, status: Status) -> Status {
    warn!(peer, call, code = ?status.code(), reason = status.message(), "refused");
    status
}

/// Who calls, read from a request before anything is awaited (a streaming request is not
/// `Sync`, so a future must not hold on to it).
pub struct Caller {
    peer: String,
    certs: Option<Arc<Vec<rustls::pki_types::CertificateDer<'static>>>>,
    authorization: Option<String>,
    console: Option<SignedIn>,
}

impl Caller {
    pub(crate) fn of<T>(req: &Request<T>) -> Caller {
        Caller {
            peer: peer(req),
            certs: req.peer_certs(),
            authorization: req
                .metadata()
                .get("authorization")
                .map(|h| h.to_str().unwrap_or_default().to_string()),
            console: req.extensions().get::<SignedIn>().cloned(),
        }
    }

    /// A caller of the web console: its peer, client certificate and bearer header, as
    /// [`sign_in`] reads them.
    pub fn web(
        peer: String,
        certs: Option<Arc<Vec<rustls::pki_types::CertificateDer<'static>>>>,
        authorization: Option<String>,
    ) -> Caller {
        Caller {
            peer,
            certs,
            authorization,
            console: None,
        }
    }
}

/// An operator signed in to the web console, attached by the console to the requests it makes
/// on the session's behalf (a request extension: a remote gRPC caller cannot set one). The
/// revocation list is checked on every call as for certificates and tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub identity: Identity,
    /// When the credential used to sign in was issued (a revocation after it ends the session).
    pub issued_at: i64,
    /// When that credential expires (the session never outlives it).
    pub expires_at: i64,
}

/// Why a credential of `id` issued at `issued_at` is revoked (None: it is not).
fn revoked(shared: &Shared, id: &Identity, issued_at: i64) -> Option<String> {
    match shared.revoked.read() {
        Ok(r) => r.refusal(id, issued_at),
        Err(_) => Some("the revocation list is unavailable; restart the manager".into()),
    }
}

/// An operator's identity from a bearer token (`authorization: Bearer otwop1.<secret>`).
async fn token_identity(
    shared: &Shared,
    p: &str,
    call: &str,
    header: &str,
) -> Result<SignedIn, Status> {
    let unauthenticated = |why: String| refuse(p, call, Status::unauthenticated(why));
    let Some(token) = header.strip_prefix("Bearer ").map(str::trim) else {
        return Err(unauthenticated(
            "the authorization header must be `Bearer <token>`".into(),
        ));
    };
    let Some(secret) = crate::admin::operator_token_secret(token) else {
        return Err(unauthenticated(
            "not an operator token (they look like otwop1.<secret>; an admin creates one with `otwatch-manager user create --auth-token`)".into(),
        ));
    };
    let (store, hash) = (shared.store.clone(), sha256(secret.as_bytes()));
    let rec = blocking(move || store.operator_token(hash))
        .await?
        .ok_or_else(|| {
            unauthenticated("unknown operator token; ask an admin for a new one".into())
        })?;
    if now_secs() >= rec.expires_at {
        return Err(unauthenticated(format!(
            "the operator token of {} expired at {}; ask an admin for a new one",
            rec.name,
            rfc3339(rec.expires_at)
        )));
    }
    let role: OperatorRole = rec
        .role
        .parse()
        .map_err(|e: String| Status::internal(format!("operator token of {}: {e}", rec.name)))?;
    let id = Identity::Operator {
        name: rec.name,
        role,
    };
    if let Some(why) = revoked(shared, &id, rec.created_at) {
        return Err(refuse(p, call, Status::permission_denied(why)));
    }
    Ok(SignedIn {
        identity: id,
        issued_at: rec.created_at,
        expires_at: rec.expires_at,
    })
}

/// The caller's identity: from a console session, else its (CA-verified) client certificate,
/// else an operator's bearer token.
async fn identity(shared: &Shared, caller: Caller, call: &str) -> Result<Identity, Status> {
    if let Some(s) = &caller.console {
        if let Some(why) = revoked(shared, &s.identity, s.issued_at) {
            return Err(refuse(&caller.peer, call, Status::permission_denied(why)));
        }
        if now_secs() >= s.expires_at {
            return Err(refuse(
                &caller.peer,
                call,
                Status::unauthenticated("the session's credential expired; sign in again"),
            ));
        }
        return Ok(s.identity.clone());
    }
    sign_in(shared, caller, call).await.map(|s| s.identity)
}

/// Authenticates a caller by its (CA-verified) client certificate, else an operator's bearer
/// token: who it is, and when its credential was issued and expires.
pub async fn sign_in(shared: &Shared, caller: Caller, call: &str) -> Result<SignedIn, Status> {
    let p = caller.peer;
    let Some(certs) = caller.certs else {
        if let Some(h) = caller.authorization {
            return token_identity(shared, &p, call, &h).await;
        }
        return Err(refuse(&p, call, Status::unauthenticated(
            "no client certificate; sensors enrol first (`otwatch-sensor enroll`), operators use the credentials from `otwatch-manager user create` (--cred DIR) or a bearer token (--auth-token)",
        )));
    };
    let Some(cert) = certs.first() else {
        return Err(refuse(
            &p,
            call,
            Status::unauthenticated("no client certificate"),
        ));
    };
    let Some(id) = identity_of(cert) else {
        return Err(refuse(
            &p,
            call,
            Status::unauthenticated("the client certificate carries no otwatch identity"),
        ));
    };
    // Checked on every call too: a revocation also ends connections that are already open.
    let (issued_at, expires_at) = crate::pki::validity(cert).unwrap_or((i64::MIN, i64::MAX));
    if let Some(why) = revoked(shared, &id, issued_at) {
        return Err(refuse(&p, call, Status::permission_denied(why)));
    }
    Ok(SignedIn {
        identity: id,
        issued_at,
        expires_at,
    })
}

async fn sensor_identity(
    shared: &Shared,
    caller: Caller,
    call: &str,
) -> Result<(String, String), Status> {
    let p = caller.peer.clone();
    match identity(shared, caller, call).await? {
        Identity::Sensor { site, id } => Ok((site, id)),
        other => Err(refuse(
            &p,
            call,
            Status::permission_denied(format!(
                "{} is not a sensor; only sensors may call SensorLink",
                other.uri()
            )),
        )),
    }
}

async fn operator_identity(
    shared: &Shared,
    caller: Caller,
    call: &str,
) -> Result<(String, OperatorRole), Status> {
    let p = caller.peer.clone();
    match identity(shared, caller, call).await? {
        Identity::Operator { name, role } => Ok((name, role)),
        other => Err(refuse(
            &p,
            call,
            Status::permission_denied(format!(
                "{} is not an operator; the Manager API needs an operator certificate from `otwatch-manager user create`",
                other.uri()
            )),
        )),
    }
}

/// An admin's name and the peer, or a refusal naming what the caller's role cannot do
/// (`what`, e.g. "revoke sensors").
async fn admin_identity(
    shared: &Shared,
    caller: Caller,
    call: &str,
    what: &str,
) -> Result<(String, String), Status> {
    let p = caller.peer.clone();
    let (name, role) = operator_identity(shared, caller, call).await?;
    if !role.can_administer() {
        return Err(refuse(
            &p,
            call,
            Status::permission_denied(format!(
                "role {} cannot {what}; ask an admin",
                role.as_str()
            )),
        ));
    }
    Ok((name, p))
}

/// An analyst's or admin's name, or a refusal naming what the caller's role cannot do.
async fn triage_identity(
    shared: &Shared,
    caller: Caller,
    call: &str,
    what: &str,
) -> Result<String, Status> {
    let p = caller.peer.clone();
    let (name, role) = operator_identity(shared, caller, call).await?;
    if !role.can_triage() {
        return Err(refuse(
            &p,
            call,
            Status::permission_denied(format!(
                "role {} cannot {what}; ask an admin for the analyst role",
                role.as_str()
            )),
        ));
    }
    Ok(name)
}

/// Text from a client: trimmed, control characters replaced, at most 256 characters.
fn clean(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(256)
        .collect()
}

/// The SensorLink service.
#[derive(Clone)]
pub struct SensorLinkService(pub Arc<Shared>);

/// The Manager service.
#[derive(Clone)]
pub struct ManagerService(pub Arc<Shared>);

pub(crate) fn change(kind: &str, site: &str, id: &str) -> Change {
    Change {
        kind: kind.to_string(),
        site: site.to_string(),
        id: id.to_string(),
        at: rfc3339(now_secs()),
    }
}

/// The size of the page asked for (0: the default).
fn page_size(size: u32) -> usize {
    match size as usize {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// The page of `items` (in cursor order) from index `start` (just after the cursor the page
/// token named), of the size asked for; and the next page's token (`token_of` its last item),
/// empty after the last page.
fn page_from<T>(
    items: &[T],
    start: usize,
    size: u32,
    token_of: impl Fn(&T) -> String,
) -> (&[T], String) {
    let end = start.saturating_add(page_size(size)).min(items.len());
    let page = items.get(start..end).unwrap_or(&[]);
    let next = match page.last() {
        Some(last) if end < items.len() => token_of(last),
        _ => String::new(),
    };
    (page, next)
}

impl Shared {
    /// The merged assets of one site, in id order (a snapshot: it does not change).
    pub fn site_assets(&self, site: &str) -> Result<Snapshot, StoreError> {
        self.view.snapshot(&*self.store, site)
    }

    /// One merged asset.
    pub fn asset(&self, site: &str, id: &str) -> Result<Option<FleetAsset>, StoreError> {
        let assets = self.site_assets(site)?;
        let catalog = self.advisories();
        let approvals = self.approvals()?;
        let tags = self.tags();
        Ok(assets
            .find(id)
            .map(|a| served(&catalog, &approvals, &tags, &a.decode())))
    }

    /// The tags on sensors' assets (a snapshot).
    pub fn tags(&self) -> Tags {
        self.tags.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// Sets the tags of the sensor asset `key` (`<sensor>/<asset id>`), as the store holds them.
    pub fn set_tags(&self, key: &str, tags: Vec<String>) {
        if let Ok(mut t) = self.tags.write() {
            Arc::make_mut(&mut t).insert(key.to_string(), tags);
        }
    }

    /// Reads the assets' tags from the store; returns how many assets are tagged.
    pub fn load_tags(&self) -> Result<usize, StoreError> {
        let all: std::collections::HashMap<_, _> = self.store.asset_tags()?.into_iter().collect();
        let n = all.len();
        *self
            .tags
            .write()
            .map_err(|_| StoreError::poisoned("tags"))? = Arc::new(all);
        Ok(n)
    }

    /// Reads the sites' approved inventories from the store; returns how many assets are
    /// approved.
    pub fn load_approvals(&self) -> Result<usize, StoreError> {
        let approvals = Approvals::from_ids(self.store.approved()?);
        let n = approvals.len();
        *self
            .approvals
            .write()
            .map_err(|_| StoreError::poisoned("approvals"))? = approvals;
        self.advisories_or_approvals_changed();
        Ok(n)
    }

    /// The approved inventories, for reading while the guard lives.
    pub fn approvals(&self) -> Result<std::sync::RwLockReadGuard<'_, Approvals>, StoreError> {
        self.approvals
            .read()
            .map_err(|_| StoreError::poisoned("approvals"))
    }

    /// Approves fleet asset `ids` (`approve`), or takes them out of the approved inventory,
    /// in the store and in memory under one lock (so the two never disagree); returns how
    /// many changed.
    pub fn set_approved(
        &self,
        ids: &[String],
        approve: Option<ApprovalRecord>,
    ) -> Result<u64, StoreError> {
        let mut approvals = self
            .approvals
            .write()
            .map_err(|_| StoreError::poisoned("approvals"))?;
        let changed = self.store.set_approved(ids, approve.as_ref())?;
        self.advisories_or_approvals_changed();
        for id in ids {
            if approve.is_some() {
                approvals.approve(id.clone());
            } else {
                approvals.revoke(id);
            }
        }
        Ok(changed)
    }

    /// The number [`AssessedFrom`] carries for the advisories and approvals.
    pub(crate) fn risk_epoch(&self) -> u64 {
        self.risk_epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    fn advisories_or_approvals_changed(&self) {
        self.risk_epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The kept assessment made from `key`, if there is one.
    pub(crate) fn cached_assessment(
        &self,
        key: &AssessedFrom,
    ) -> Result<Option<Arc<otwatch_proto::v1::RiskAssessment>>, StoreError> {
        let kept = self
            .assessments
            .lock()
            .map_err(|_| StoreError::poisoned("assessments"))?;
        Ok(kept.iter().find(|(k, _)| k == key).map(|(_, a)| a.clone()))
    }

    /// Keeps an assessment made from `key`, in place of any older one of the same scope.
    pub(crate) fn keep_assessment(
        &self,
        key: AssessedFrom,
        a: Arc<otwatch_proto::v1::RiskAssessment>,
    ) -> Result<(), StoreError> {
        let mut kept = self
            .assessments
            .lock()
            .map_err(|_| StoreError::poisoned("assessments"))?;
        kept.retain(|(k, _)| k.site != key.site);
        if kept.len() >= KEPT_ASSESSMENTS {
            kept.remove(0);
        }
        kept.push((key, a));
        Ok(())
    }

    /// Reads the advisories from the store into the catalog assets are matched against;
    /// returns how many there are.
    pub fn load_advisories(&self) -> Result<usize, StoreError> {
        let catalog = crate::advisories::catalog_from(&*self.store)?;
        let n = catalog.len();
        if let Ok(mut slot) = self.advisories.write() {
            *slot = Arc::new(catalog);
        }
        self.advisories_or_approvals_changed();
        Ok(n)
    }

    /// The advisories loaded.
    pub fn advisories(&self) -> Arc<Catalog> {
        self.advisories
            .read()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Builds every site's merged view from the store; returns the number of merged assets.
    pub fn build_views(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for site in self.sites()? {
            n += self.site_assets(&site)?.len();
        }
        Ok(n)
    }

    /// The sites with sensors, by name.
    fn sites(&self) -> Result<BTreeSet<String>, StoreError> {
        Ok(self.store.sensors()?.into_iter().map(|s| s.site).collect())
    }

    /// The merged connections of `site`: merged again only once a batch of the site was
    /// applied since the last merge (a listing paged through 50 000 connections merges them
    /// once, not once per page).
    fn site_connections(&self, site: &str) -> Result<Arc<Vec<FleetConnection>>, StoreError> {
        let generation = self.view.generation(site)?;
        let cached = self
            .connections
            .lock()
            .map_err(|_| StoreError::poisoned("connections"))?
            .get(site)
            .filter(|(g, _)| *g == generation)
            .map(|(_, c)| c.clone());
        if let Some(c) = cached {
            return Ok(c);
        }
        let mut input = Vec::new();
        for s in self.store.sensors()?.iter().filter(|s| s.site == site) {
            for c in self.store.connections_of(&s.id)? {
                input.push((s.id.clone(), c));
            }
        }
        let merged = Arc::new(fleet::merge_connections(site, input));
        self.connections
            .lock()
            .map_err(|_| StoreError::poisoned("connections"))?
            .insert(site.to_string(), (generation, merged.clone()));
        Ok(merged)
    }
}

/// A merged asset as served: with the vulnerabilities the loaded advisories state for it, and
/// its place in the approved inventory.
/// Tags on sensors' assets (`<sensor>/<asset id>` → sorted tags), set by playbooks.
pub type Tags = Arc<std::collections::HashMap<String, Vec<String>>>;

/// The tags of a fleet asset: those of each sensor's asset it merges, sorted, once each.
fn tags_of(tags: &Tags, asset: &FleetAsset) -> Vec<String> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = asset
        .seen_by
        .iter()
        .filter_map(|p| tags.get(&format!("{}/{}", p.sensor_id, p.sensor_asset_id)))
        .flatten()
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn served(catalog: &Catalog, approvals: &Approvals, tags: &Tags, asset: &FleetAsset) -> FleetAsset {
    FleetAsset {
        tags: tags_of(tags, asset),
        id: asset.id.clone(),
        site: asset.site.clone(),
        asset: asset
            .asset
            .as_ref()
            .map(|a| crate::advisories::served_asset(catalog, a)),
        seen_by: asset.seen_by.clone(),
        approved: approvals.is_approved(&asset.id),
        shadow: approvals.is_shadow(asset),
    }
}

/// Whether ListAssets `q` lists `f`, compared asset by asset: the definition that the fleet
/// view's filter columns must agree with (their tests compare the two).
#[cfg(test)]
pub(crate) fn asset_matches(f: &FleetAsset, q: &otwatch_proto::v1::ListAssetsRequest) -> bool {
    manager::asset_matches(f, q)
}

/// Revoked sensors and operators from the store (at start).
pub fn revoked_from(store: &dyn FleetStore) -> Result<Revoked, StoreError> {
    let sensors = store
        .sensors()?
        .into_iter()
        .filter(|s| s.revoked)
        .map(|s| s.id)
        .collect();
    let operators = store.operator_revocations()?.into_iter().collect();
    Ok(Arc::new(std::sync::RwLock::new(Revocations {
        sensors,
        operators,
    })))
}

#[cfg(test)]
mod tests {
    use super::manager::asset_matches;
    use super::*;
    use otwatch_proto::v1::{Asset, ListAssetsRequest, ProtocolUse};

    #[test]
    fn admin_errors_become_the_status_of_what_went_wrong() {
        let bad = admin_status(AdminError::BadName {
            what: "site",
            name: "Bad Site".into(),
        });
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad
            .message()
            .starts_with("bad site name \"Bad Site\": use 1-63"));
        let ttl = admin_status(AdminError::BadTtl {
            what: "enrolment token",
            max: "30 days",
            example: "24h",
        });
        assert_eq!(ttl.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            ttl.message(),
            "an enrolment token is valid for 1 second to 30 days; pass e.g. --ttl 24h"
        );
        let full = admin_status(AdminError::Store(StoreError::DiskFull));
        assert_eq!(full.code(), tonic::Code::Unavailable);
        let broken = admin_status(AdminError::Store(StoreError::Sled("io".into())));
        assert_eq!(broken.code(), tonic::Code::Internal);
        let random = admin_status(AdminError::Pki(crate::pki::PkiError::Random));
        assert_eq!(random.code(), tonic::Code::Internal);
        let passed = admin_status(AdminError::Refused(Status::not_found("no such")));
        assert_eq!(
            (passed.code(), passed.message()),
            (tonic::Code::NotFound, "no such")
        );
    }

    #[test]
    fn pages_from_a_cursor_position() {
        let items: Vec<u32> = (0..250).collect();
        let token = |last: &u32| last.to_string();
        let (p, next) = page_from(&items, 0, 0, token);
        assert_eq!((p.len(), next.as_str()), (100, "99"));
        let (p, next) = page_from(&items, 200, 100, token);
        assert_eq!((p.len(), next.as_str()), (50, ""));
        let (p, _) = page_from(&items, 0, 5000, token);
        assert_eq!(p.len(), 250);
        // A cursor past the last item (it was removed): an empty last page.
        let (p, next) = page_from(&items, 250, 10, token);
        assert!(p.is_empty() && next.is_empty());
    }

    #[test]
    fn asset_filters() {
        let f = FleetAsset {
            id: "a/mac:1".into(),
            site: "a".into(),
            asset: Some(Asset {
                ips: vec!["10.0.0.7".into()],
                vendor: "Siemens AG".into(),
                device_type: "plc".into(),
                purdue_level: Some(1),
                protocols: vec![ProtocolUse {
                    name: "s7comm".into(),
                    role: "server".into(),
                    port: 102,
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let q = |f: fn(&mut ListAssetsRequest)| {
            let mut r = ListAssetsRequest::default();
            f(&mut r);
            r
        };
        assert!(asset_matches(&f, &q(|_| {})));
        assert!(asset_matches(&f, &q(|r| r.vendor = "siemens".into())));
        assert!(asset_matches(&f, &q(|r| r.vendor = "SIEMENS".into())));
        assert!(!asset_matches(&f, &q(|r| r.text = "siemensx".into())));
        assert!(asset_matches(&f, &q(|r| r.text = "10.0.0".into())));
        assert!(asset_matches(&f, &q(|r| r.purdue_level = Some(1))));
        assert!(asset_matches(&f, &q(|r| r.protocol = "s7comm".into())));
        assert!(!asset_matches(&f, &q(|r| r.protocol = "modbus".into())));
        assert!(!asset_matches(&f, &q(|r| r.device_type = "hmi".into())));
        assert!(!asset_matches(&f, &q(|r| r.purdue_level = Some(2))));
    }
}
