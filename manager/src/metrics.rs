//! The manager's metrics, exposed in the Prometheus text format at `GET /metrics` on the
//! manager's HTTPS port, to operators only ([`scrape`]; docs/METRICS.md lists the names).
//!
//! [`Metrics`] holds the manager's own families; [`Metrics::registry`] is open to other parts
//! of the manager (the forwarding queues add their depth and delivery latency per destination
//! there, with [`Registry::register`] and a [`registry::Collector`]). Names follow Prometheus'
//! conventions: prefix `otwatch_manager_`, base units (`_seconds`, `_bytes`), counters end in
//! `_total`; label values come from a bounded set (sensor ids and sites of enrolled sensors,
//! API method names, retention kinds), never from addresses.

pub mod registry;
pub mod scrape;

use crate::store::FleetStore;
pub use registry::{Family, Kind, Registry, RegistryError};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::codegen::{http, Service};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// API latency buckets, seconds: from a cached read to a large risk assessment.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// At most this many API method label values (the API's methods are far fewer; anything past
/// is `other`, so a client naming made-up methods cannot grow the series without end).
const MAX_METHODS: usize = 128;

/// The manager's metric families.
pub struct Metrics {
    registry: Registry,
    deltas: Arc<Family>,
    batches: Arc<Family>,
    applied_seq: Arc<Family>,
    sync_streams: Arc<Family>,
    open_streams: AtomicI64,
    api: Arc<Family>,
    api_methods: std::sync::Mutex<std::collections::BTreeSet<String>>,
    retention_removed: Arc<Family>,
    retention_held: Arc<Family>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// Registers one of the manager's own families (their names and labels are constants checked
/// by the tests, so registering cannot fail).
fn family(r: &Registry, name: &str, help: &str, kind: Kind, labels: &[&str]) -> Arc<Family> {
    match r.register(name, help, kind, labels) {
        Ok(f) => f,
        Err(e) => unreachable!("the manager's metric {name}: {e}"),
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::default();
        let deltas = family(
            &r,
            "otwatch_manager_deltas_applied_total",
            "Deltas from sensors applied to the fleet store (resends and deltas over quota not counted).",
            Kind::Counter,
            &["sensor", "site"],
        );
        let batches = family(
            &r,
            "otwatch_manager_batches_applied_total",
            "Sensor batches applied (each acknowledged to its sensor).",
            Kind::Counter,
            &["sensor", "site"],
        );
        let applied_seq = family(
            &r,
            "otwatch_manager_sensor_applied_sequence",
            "The last delta sequence number applied durably per sensor.",
            Kind::Gauge,
            &["sensor", "site"],
        );
        let sync_streams = family(
            &r,
            "otwatch_manager_sensors_connected",
            "Open Sync streams from sensors.",
            Kind::Gauge,
            &[],
        );
        let api = family(
            &r,
            "otwatch_manager_api_request_duration_seconds",
            "Time from a gRPC call's arrival to its response headers (for streams: until the stream opened), per service and method.",
            Kind::Histogram(LATENCY_BUCKETS.to_vec()),
            &["service", "method"],
        );
        let retention_removed = family(
            &r,
            "otwatch_manager_retention_removed_total",
            "Records removed by retention since the manager started, per kind.",
            Kind::Counter,
            &["kind"],
        );
        let retention_held = family(
            &r,
            "otwatch_manager_retention_records",
            "Records held per retention kind after the last retention run.",
            Kind::Gauge,
            &["kind"],
        );
        sync_streams.set(&[], 0.0);
        Metrics {
            registry: r,
            deltas,
            batches,
            applied_seq,
            sync_streams,
            open_streams: AtomicI64::new(0),
            api,
            api_methods: Default::default(),
            retention_removed,
            retention_held,
        }
    }

    /// The registry, for families of other parts of the manager.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Adds the families read from the store at each exposition: the applied sequence number
    /// per sensor and the store's size on disk.
    /// Holds the store weakly: a connection still open after the manager stopped must not keep
    /// the store (and its lock) alive.
    pub fn watch_store(self: &Arc<Self>, store: &Arc<dyn FleetStore>) {
        let size = family(
            &self.registry,
            "otwatch_manager_store_size_bytes",
            "The fleet store's size on disk.",
            Kind::Gauge,
            &[],
        );
        let sensors = family(
            &self.registry,
            "otwatch_manager_sensors",
            "Enrolled sensors (revoked ones included).",
            Kind::Gauge,
            &[],
        );
        let forwarding = ForwardFamilies::new(&self.registry);
        let playbooks = PlaybookFamilies::new(&self.registry);
        let me: Weak<Metrics> = Arc::downgrade(self);
        let store: Weak<dyn FleetStore> = Arc::downgrade(store);
        self.registry.collect_with(Box::new(move || {
            let (Some(m), Some(store)) = (me.upgrade(), store.upgrade()) else {
                return;
            };
            if let Ok(all) = store.forward_stats() {
                // Playbooks' queues sit beside the destinations' in the store.
                let (runs, dests): (Vec<_>, Vec<_>) = all
                    .into_iter()
                    .partition(|(n, _)| crate::playbook::of_queue(n).is_some());
                forwarding.set(&dests);
                playbooks.set(&runs);
            }
            if let Ok(n) = store.size_on_disk() {
                size.set(&[], n as f64);
            }
            if let Ok(recs) = store.sensors() {
                sensors.set(&[], recs.len() as f64);
                m.applied_seq.retain(|_| false);
                for r in recs {
                    let seq = store
                        .applied_seq(&r.id)
                        .ok()
                        .flatten()
                        .unwrap_or(r.applied_seq);
                    m.applied_seq.set(&[&r.id, &r.site], seq as f64);
                }
            }
        }));
    }

    /// Counts one applied batch of `deltas` new deltas.
    pub fn batch_applied(&self, sensor: &str, site: &str, deltas: usize) {
        self.batches.add(&[sensor, site], 1.0);
        self.deltas.add(&[sensor, site], deltas as f64);
    }

    /// A Sync stream opened; it counts as connected until the guard drops.
    pub fn sync_opened(self: &Arc<Self>) -> Connected {
        let n = self.open_streams.fetch_add(1, Ordering::AcqRel) + 1;
        self.sync_streams.set(&[], n as f64);
        Connected(self.clone())
    }

    pub fn retention_removed(&self, kind: &str, n: u64) {
        self.retention_removed.add(&[kind], n as f64);
    }

    pub fn retention_held(&self, kind: &str, n: u64) {
        self.retention_held.set(&[kind], n as f64);
    }

    /// Records the latency of a call of `service`/`method`.
    pub fn api_observe(&self, service: &str, method: &str, secs: f64) {
        let method = match self.api_methods.lock() {
            Ok(known) if known.contains(method) => method,
            Ok(mut known) if known.len() < MAX_METHODS => {
                known.insert(method.to_string());
                method
            }
            _ => "other",
        };
        self.api.observe(&[service, method], secs);
    }

    /// The text exposition of every family.
    pub fn encode(&self) -> String {
        self.registry.encode()
    }

    /// A value of one of the manager's counters or gauges, by name and label values (tests).
    pub fn value(&self, name: &str, labels: &[&str]) -> Option<f64> {
        [
            &self.deltas,
            &self.batches,
            &self.applied_seq,
            &self.sync_streams,
            &self.retention_removed,
            &self.retention_held,
        ]
        .into_iter()
        .find(|f| f.name() == name)
        .and_then(|f| f.value(labels))
    }
}

/// An open Sync stream (see [`Metrics::sync_opened`]).
pub struct Connected(Arc<Metrics>);

impl Drop for Connected {
    fn drop(&mut self) {
        let n = self.0.open_streams.fetch_sub(1, Ordering::AcqRel) - 1;
        self.0.sync_streams.set(&[], n.max(0) as f64);
    }
}

/// The service and method of a gRPC path (`/otwatch.v1.Manager/ListAssets`); `None` for
/// other requests (the console's pages, health, reflection).
fn grpc_method(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/otwatch.v1.")?;
    let (service, method) = rest.split_once('/')?;
    let word =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (word(service) && word(method)).then_some((service, method))
}

/// Times every call of the gRPC API ([`Metrics::api_observe`]): a layer over the server.
#[derive(Clone)]
pub struct TimeCalls(pub Arc<Metrics>);

impl<S> tower_layer::Layer<S> for TimeCalls {
    type Service = Timed<S>;
    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// A service whose calls are timed (see [`TimeCalls`]).
#[derive(Clone)]
pub struct Timed<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> Service<http::Request<B>> for Timed<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = grpc_method(req.uri().path()).map(|(s, m)| (s.to_string(), m.to_string()));
        let started = Instant::now();
        let fut = self.inner.call(req);
        let Some((service, method)) = call else {
            return Box::pin(fut);
        };
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let r = fut.await;
            // A method the server does not have (UNIMPLEMENTED) is not a series of its own.
            let unknown = matches!(&r, Ok(resp) if resp.headers().get("grpc-status").is_some_and(|s| s == "12"));
            let method = if unknown { "other" } else { method.as_str() };
            metrics.api_observe(&service, method, started.elapsed().as_secs_f64());
            r
        })
    }
}

/// The forwarding destinations' queues and deliveries (docs/FORWARDING.md), per destination,
/// read from the store's counters at each exposition.
struct ForwardFamilies {
    queued: Arc<Family>,
    queued_bytes: Arc<Family>,
    oldest: Arc<Family>,
    counters: [(Arc<Family>, StatOf); 7],
}

/// Reads one counter of a destination's [`crate::forward::ForwardStats`].
type StatOf = fn(&crate::forward::ForwardStats) -> u64;

impl ForwardFamilies {
    fn new(r: &Registry) -> ForwardFamilies {
        let gauge = |name, help| family(r, name, help, Kind::Gauge, &["destination"]);
        let counter = |name, help| family(r, name, help, Kind::Counter, &["destination"]);
        ForwardFamilies {
            queued: gauge(
                "otwatch_manager_forward_queued_events",
                "Events waiting in a forwarding destination's queue.",
            ),
            queued_bytes: gauge(
                "otwatch_manager_forward_queued_bytes",
                "The size of a forwarding destination's queue in the store.",
            ),
            oldest: gauge(
                "otwatch_manager_forward_oldest_event_age_seconds",
                "How long the oldest waiting event of a destination has waited (0: none waits).",
            ),
            counters: [
                (
                    counter(
                        "otwatch_manager_forward_enqueued_total",
                        "Events queued for a destination.",
                    ),
                    |s| s.enqueued_total,
                ),
                (
                    counter(
                        "otwatch_manager_forward_delivered_total",
                        "Events a destination took.",
                    ),
                    |s| s.delivered_total,
                ),
                (
                    counter(
                        "otwatch_manager_forward_delivery_seconds_total",
                        "Seconds delivered events waited between being queued and delivered, summed (divide by delivered_total for the mean delivery latency).",
                    ),
                    |s| s.delivery_seconds_total,
                ),
                (
                    counter(
                        "otwatch_manager_forward_overflowed_total",
                        "Events that did not fit in a destination's bounded queue (not forwarded).",
                    ),
                    |s| s.overflowed_total,
                ),
                (
                    counter(
                        "otwatch_manager_forward_dead_letters_total",
                        "Events a destination refused for good (kept as dead letters).",
                    ),
                    |s| s.dead_total,
                ),
                (
                    counter(
                        "otwatch_manager_forward_expired_total",
                        "Events retention removed undelivered (older than the forwarding queues' limit).",
                    ),
                    |s| s.expired_total,
                ),
                (
                    counter(
                        "otwatch_manager_forward_failures_total",
                        "Delivery attempts that failed (each retried).",
                    ),
                    |s| s.failures_total,
                ),
            ],
        }
    }

    fn set(&self, all: &[(String, crate::forward::ForwardStats)]) {
        let now = crate::pki::now_secs();
        for (name, s) in all {
            let d = [name.as_str()];
            self.queued.set(&d, s.queued as f64);
            self.queued_bytes.set(&d, s.bytes as f64);
            let age = if s.oldest_at > 0 {
                (now - s.oldest_at).max(0)
            } else {
                0
            };
            self.oldest.set(&d, age as f64);
            for (f, get) in &self.counters {
                f.set(&d, get(s) as f64);
            }
        }
    }
}

/// The playbooks' families, read from their queues' counters.
struct PlaybookFamilies {
    queued: Arc<Family>,
    runs: Arc<Family>,
}

impl PlaybookFamilies {
    fn new(r: &Registry) -> PlaybookFamilies {
        PlaybookFamilies {
            queued: family(
                r,
                "otwatch_manager_playbook_queued_alerts",
                "Alerts waiting for a playbook to run on them.",
                Kind::Gauge,
                &["playbook"],
            ),
            runs: family(
                r,
                "otwatch_manager_playbook_runs_total",
                "Playbook runs by outcome: ok, failed (tried again) and given_up (failed max_attempts times; the alert is in the playbook's dead letters); overflowed counts alerts that found the playbook's queue full.",
                Kind::Counter,
                &["playbook", "outcome"],
            ),
        }
    }

    fn set(&self, all: &[(String, crate::forward::ForwardStats)]) {
        for (queue, s) in all {
            let Some(p) = crate::playbook::of_queue(queue) else {
                continue;
            };
            self.queued.set(&[p], s.queued as f64);
            for (outcome, n) in [
                ("ok", s.delivered_total),
                ("failed", s.failures_total),
                ("given_up", s.dead_total),
                ("overflowed", s.overflowed_total),
            ] {
                self.runs.set(&[p, outcome], n as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_paths_name_service_and_method() {
        assert_eq!(
            grpc_method("/otwatch.v1.Manager/ListAssets"),
            Some(("Manager", "ListAssets"))
        );
        assert_eq!(grpc_method("/grpc.health.v1.Health/Check"), None);
        assert_eq!(grpc_method("/api/v1/ListAssets"), None);
        assert_eq!(grpc_method("/otwatch.v1.Manager/a-b"), None);
    }

    #[test]
    fn the_managers_families_register_and_methods_are_bounded() {
        let m = Metrics::new();
        for i in 0..(MAX_METHODS + 10) {
            m.api_observe("Manager", &format!("M{i}"), 0.01);
        }
        let text = m.encode();
        assert!(text.contains("method=\"other\""), "{text}");
        let methods: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.split("method=\"").nth(1))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(methods.len(), MAX_METHODS + 1);
    }
}
