//! The uplink thread: streams the outbox to the manager over mutual TLS.
//!
//! One thread runs a small single-threaded tokio runtime. A session connects (the CA from
//! enrolment is the only root; the sensor presents its certificate), asks `Heartbeat` how far
//! the manager got (dropping what it already applied), then opens `Sync` and sends batches of
//! at most 500 deltas from the one after the manager's applied sequence number, a few batches
//! ahead. Each batch says which sequence number it continues from (`after_seq`), so the manager
//! can tell deltas coalesced away in the outbox from deltas it never received (it refuses the
//! latter). Each `SyncAck` deletes the entries up to `applied_seq`. When idle it sends a
//! heartbeat every 10 s; when the certificate has less than 10 days left it renews it (new key,
//! same identity). Any error ends the session; the next one starts after an exponential backoff
//! (0.5 s doubling to 60 s, full jitter) and resends from the manager's applied sequence number
//! plus one — the manager ignores deltas it has applied already, so a resend never doubles
//! anything. A batch the manager refuses (a sequence gap) ends the session the same way, without
//! resetting the backoff.

use super::enroll::{load_pki, renew};
use super::outbox::Outbox;
use super::tls::{self, chain};
use super::{LinkInfo, UplinkError};
use otwatch_proto::v1::sensor_link_client::SensorLinkClient;
use otwatch_proto::v1::{Delta, DeltaBatch, HeartbeatRequest};
use prost::Message;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tonic::transport::Channel;

/// Deltas per batch (the outbox also caps a batch near 1 MiB encoded).
pub const BATCH: usize = 500;
/// The largest batch the manager accepts, encoded (`otwatch_manager::api::MAX_BATCH_BYTES`).
pub const MANAGER_MAX_BATCH_BYTES: usize = 4 << 20;
/// Batches sent ahead of the last acknowledgement.
const WINDOW: usize = 4;
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A session that waits this long for an acknowledgement is considered dead.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: f64 = 0.5;
const BACKOFF_MAX: f64 = 60.0;
/// Renew when fewer days than this are left.
const RENEW_DAYS: u64 = 10;

/// Where to send, and what with.
#[derive(Debug, Clone)]
pub struct UplinkConfig {
    /// The state directory holding `uplink/` (enrolment).
    pub state: PathBuf,
    /// The manager's URL; `None`: the one in `link.json`. Several URLs separated by commas
    /// (replicas of one manager sharing its CA and store, docs/POSTGRES.md): a session that
    /// cannot connect, or that loses the manager, tries the next one.
    pub manager: Option<String>,
}

/// The manager URLs of `list` (comma-separated), in order, without blanks.
pub fn manager_urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// Link state shared with the committer and the metrics.
#[derive(Debug, Default)]
pub struct UplinkState {
    pub connected: AtomicBool,
    /// The manager revoked this sensor: the uplink stopped for good (see [`Uplink::revoked`]).
    pub revoked: AtomicBool,
    /// Sessions that reached the manager.
    pub sessions: AtomicU64,
    pub batches_sent: AtomicU64,
    pub deltas_sent: AtomicU64,
}

/// A running uplink thread.
#[derive(Debug)]
pub struct Uplink {
    pub outbox: Arc<Outbox>,
    pub state: Arc<UplinkState>,
    wake: Arc<Notify>,
    stop: Arc<AtomicBool>,
    /// Ends a session at once, wherever it waits (a manager that accepts the connection and
    /// never answers would otherwise hold `stop` up for ever).
    halt: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Uplink {
    /// Starts the thread; it connects in the background.
    pub fn start(cfg: UplinkConfig, outbox: Arc<Outbox>) -> Result<Uplink, UplinkError> {
        let rt = super::enroll::runtime()?;
        let state = Arc::new(UplinkState::default());
        let wake = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::new(Notify::new());
        let ctx = Ctx {
            cfg,
            outbox: outbox.clone(),
            state: state.clone(),
            wake: wake.clone(),
            stop: stop.clone(),
            halt: halt.clone(),
            next_url: Default::default(),
        };
        let thread = std::thread::Builder::new()
            .name("uplink".into())
            .spawn(move || rt.block_on(ctx.run()))
            .map_err(|source| UplinkError::Io {
                what: "start a thread for",
                path: "the uplink".into(),
                source,
            })?;
        Ok(Uplink {
            outbox,
            state,
            wake,
            stop,
            halt,
            thread: Some(thread),
        })
    }

    /// Whether the manager revoked this sensor. The uplink has then stopped (it logged how to
    /// enrol again); capture and the local inventory go on, and what was not acknowledged stays
    /// in the outbox.
    pub fn revoked(&self) -> bool {
        self.state.revoked.load(Ordering::Relaxed)
    }

    /// New deltas are in the outbox.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the thread; what is not acknowledged stays in the outbox for the next run.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.halt.notify_one();
        self.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Ctx {
    cfg: UplinkConfig,
    outbox: Arc<Outbox>,
    state: Arc<UplinkState>,
    wake: Arc<Notify>,
    stop: Arc<AtomicBool>,
    halt: Arc<Notify>,
    /// Which of several manager URLs the next session uses (counts up; taken modulo).
    next_url: std::sync::atomic::AtomicUsize,
}

/// Why a session ended.
enum End {
    Stopped,
    /// The session had reached the manager (the backoff starts over).
    Lost(String),
    Failed(String),
    /// The manager refused a batch (the backoff goes on growing).
    Refused(String),
    /// The manager revoked this sensor: no more sessions.
    Revoked(String),
}

/// A uniformly random duration in [0, secs) (full jitter).
fn jitter(secs: f64) -> Duration {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    let r = ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_or(0.5, |_| {
            (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
        });
    Duration::from_secs_f64(secs * r)
}

fn status_text(s: &tonic::Status) -> String {
    let m = s.message();
    let src = std::error::Error::source(s).map(chain).unwrap_or_default();
    match (m.is_empty(), src.is_empty()) {
        (false, true) => format!("{:?}: {m}", s.code()),
        (true, false) => src,
        (false, false) => format!("{:?}: {m}: {src}", s.code()),
        (true, true) => format!("{:?}", s.code()),
    }
}

/// Names a handshake the manager refused (revoked sensor, certificate from another CA) as
/// such, rather than as a network problem.
fn explain(detail: String) -> String {
    if detail.contains("alert") && (detail.contains("Certificate") || detail.contains("UnknownCA"))
    {
        format!("the manager refused this sensor's certificate during the TLS handshake (revoked, expired or issued by another CA?); ask the operator or enrol again: {detail}")
    } else {
        detail
    }
}

/// A batch the manager refused: it will not take it as it is (a sequence gap, a malformed or
/// oversized batch), or not now (its disk is full). Trying again at once would not help.
fn batch_refused(s: &tonic::Status) -> bool {
    match s.code() {
        tonic::Code::FailedPrecondition
        | tonic::Code::InvalidArgument
        | tonic::Code::ResourceExhausted => true,
        tonic::Code::Unavailable => s.message().contains("disk is full"),
        _ => false,
    }
}

/// Whether the manager refused this sensor because it was revoked: per call (PERMISSION_DENIED
/// "sensor ... is revoked") or at the TLS handshake (the certificate_revoked alert).
fn revoked(s: &tonic::Status) -> bool {
    (s.code() == tonic::Code::PermissionDenied && s.message().contains("revoked"))
        || status_text(s).contains("CertificateRevoked")
}

fn refused(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
    )
}

/// Encoded size of `d` inside a batch (field tag, length, body).
fn framed_len(d: &Delta) -> usize {
    let n = d.encoded_len();
    1 + prost::length_delimiter_len(n) + n
}

/// The longest prefix of `batch` that the manager accepts ([`MANAGER_MAX_BATCH_BYTES`], less
/// room for the batch's own fields). The outbox keeps batches far smaller; this holds whatever
/// it hands over. A delta too large to ever be accepted goes without its change: its sequence
/// number is used up and the manager applies nothing, rather than refusing it forever.
fn fit(batch: Vec<Delta>) -> Vec<Delta> {
    let limit = MANAGER_MAX_BATCH_BYTES - 64;
    let mut total = 0;
    let mut out = Vec::with_capacity(batch.len());
    for mut d in batch {
        let mut n = framed_len(&d);
        if n > limit {
            tracing::error!(
                seq = d.seq,
                bytes = n,
                limit,
                "a change is larger than the manager accepts; it is sent without its content and is lost to the manager (a sensor bug: report it)"
            );
            d.change = None;
            n = framed_len(&d);
        }
        if total + n > limit {
            break;
        }
        total += n;
        out.push(d);
    }
    out
}

impl Ctx {
    async fn run(self) {
        let mut backoff = BACKOFF_MIN;
        let mut last_reason = String::new();
        while !self.stop.load(Ordering::Relaxed) {
            // A session may wait on the manager without a timeout of its own (a TLS handshake
            // with a peer that never answers): stopping must not wait for it.
            let end = tokio::select! {
                e = self.session() => e,
                _ = self.halt.notified() => End::Stopped,
            };
            let was = self.state.connected.swap(false, Ordering::Relaxed);
            // With several manager URLs, the next session goes to the next one; the backoff
            // grows only once every URL was tried.
            let urls = self.urls().len().max(1);
            let tried = if matches!(end, End::Failed(_) | End::Lost(_)) {
                self.next_url.fetch_add(1, Ordering::Relaxed) + 1
            } else {
                0
            };
            let reason = match end {
                End::Stopped => break,
                End::Lost(r) => {
                    backoff = BACKOFF_MIN;
                    r
                }
                End::Failed(r) => r,
                End::Refused(r) => format!(
                    "the manager refused a batch: {r}; the next session resends from the manager's applied sequence number"
                ),
                End::Revoked(r) => {
                    self.state.revoked.store(true, Ordering::Relaxed);
                    let state = self.cfg.state.display();
                    tracing::error!(
                        backlog = self.outbox.backlog(),
                        "the manager refused this sensor: it was revoked ({r}). The uplink stops for good. Capture and the local inventory go on, and what was not sent stays in the outbox. To connect again an operator creates a token (`otwatch tokens create --site SITE`) and this sensor enrols anew: move {state}/uplink away, then `otwatch-sensor enroll --manager URL --enroll-token TOKEN --state {state}`"
                    );
                    break;
                }
            };
            if was {
                tracing::warn!(
                    backlog = self.outbox.backlog(),
                    "uplink lost: {reason}; reconnecting (unacknowledged deltas stay in the outbox)"
                );
            } else if reason != last_reason {
                tracing::warn!("uplink cannot connect: {reason}; retrying with backoff");
            } else {
                tracing::debug!("uplink cannot connect: {reason}");
            }
            last_reason = reason;
            let delay = if urls > 1 && tried % urls != 0 {
                jitter(BACKOFF_MIN)
            } else {
                let d = jitter(backoff);
                backoff = (backoff * 2.0).min(BACKOFF_MAX);
                d
            };
            let until = tokio::time::Instant::now() + delay;
            while !self.stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < until {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = self.wake.notified() => {}
                }
            }
        }
        self.state.connected.store(false, Ordering::Relaxed);
    }

    /// The configured manager URLs (empty: the enrolment's).
    fn urls(&self) -> Vec<String> {
        self.cfg
            .manager
            .as_deref()
            .map(manager_urls)
            .unwrap_or_default()
    }

    fn err(e: UplinkError) -> End {
        End::Failed(e.to_string())
    }

    async fn heartbeat(&self, c: &mut SensorLinkClient<Channel>) -> Result<u64, tonic::Status> {
        let r = c
            .heartbeat(HeartbeatRequest {
                last_seq: self.outbox.last_seq(),
                backlog: self.outbox.backlog(),
            })
            .await?
            .into_inner();
        Ok(r.applied_seq)
    }

    fn ack(&self, applied: u64) -> Result<(), End> {
        self.outbox
            .ack(applied)
            .map(|_| ())
            .map_err(|e| End::Failed(format!("outbox: {e}")))
    }

    async fn maybe_renew(&self, c: &mut SensorLinkClient<Channel>, info: &mut LinkInfo) {
        let Some(t) = otwatch_common::Timestamp::parse_rfc3339(&info.not_after) else {
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if t.secs() > now + RENEW_DAYS * 86_400 {
            return;
        }
        match renew(c, &self.cfg.state, info).await {
            Ok(n) => {
                tracing::info!(not_after = %n.not_after, "uplink certificate renewed");
                *info = n;
            }
            Err(e) => tracing::warn!(
                not_after = %info.not_after,
                "cannot renew the uplink certificate: {e}; retrying later"
            ),
        }
    }

    async fn session(&self) -> End {
        let mut info = match LinkInfo::load(&self.cfg.state) {
            Ok(Some(i)) => i,
            Ok(None) => {
                return End::Failed(format!(
                    "{} is not enrolled; run `otwatch-sensor enroll`",
                    self.cfg.state.display()
                ))
            }
            Err(e) => return Self::err(e),
        };
        let urls = match self.urls() {
            u if u.is_empty() => vec![info.manager.clone()],
            u => u,
        };
        let url = urls[self.next_url.load(Ordering::Relaxed) % urls.len()].clone();
        let pki = match load_pki(&self.cfg.state) {
            Ok(p) => p,
            Err(e) => return Self::err(e),
        };
        let ch = match tls::mtls_channel(&url, &pki).await {
            Ok(c) => c,
            Err(e) if e.to_string().contains("CertificateRevoked") => {
                return End::Revoked(e.to_string())
            }
            Err(e) => return End::Failed(explain(e.to_string())),
        };
        let mut client = SensorLinkClient::new(ch);
        let applied = match self.heartbeat(&mut client).await {
            Ok(a) => a,
            Err(s) if revoked(&s) => return End::Revoked(status_text(&s)),
            Err(s) if refused(&s) => {
                return End::Failed(format!("the manager refused: {}", status_text(&s)))
            }
            Err(s) => return End::Failed(explain(status_text(&s))),
        };
        if applied > self.outbox.last_seq() {
            tracing::warn!(
                applied_seq = applied,
                last_seq = self.outbox.last_seq(),
                "the manager has applied more deltas than this sensor's outbox ever numbered (its state was replaced); numbering continues after the manager's"
            );
            if let Err(e) = self.outbox.skip_past(applied) {
                return End::Failed(format!("outbox: {e}"));
            }
        }
        if applied < self.outbox.acked() {
            // Its store is older than what it acknowledged (restored from a backup?): what it
            // lost is no longer here to resend. Continue from where it is, and say so.
            tracing::error!(
                applied_seq = applied,
                acked_seq = self.outbox.acked(),
                "the manager has lost deltas {}..={} that it had acknowledged (was its store restored from a backup?); they are no longer in this sensor's outbox: assets and connections come again when they next change",
                applied + 1,
                self.outbox.acked()
            );
        }
        if let Err(e) = self.ack(applied) {
            return e;
        }
        self.state.connected.store(true, Ordering::Relaxed);
        self.state.sessions.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            manager = %url,
            sensor = %info.sensor_id,
            site = %info.site,
            applied_seq = applied,
            backlog = self.outbox.backlog(),
            "uplink connected"
        );
        self.maybe_renew(&mut client, &mut info).await;
        match self.stream(&mut client, &mut info, applied).await {
            Ok(()) => End::Stopped,
            Err(e) => e,
        }
    }

    /// Streams the outbox from the delta after `applied` (the manager's applied sequence
    /// number) until stopped or an error.
    async fn stream(
        &self,
        client: &mut SensorLinkClient<Channel>,
        info: &mut LinkInfo,
        applied: u64,
    ) -> Result<(), End> {
        let lost = |s: &tonic::Status| {
            if revoked(s) {
                End::Revoked(status_text(s))
            } else if batch_refused(s) {
                End::Refused(status_text(s))
            } else {
                End::Lost(status_text(s))
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<DeltaBatch>(WINDOW * 2);
        let mut acks = client
            .sync(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|s| lost(&s))?
            .into_inner();
        let mut sent_upto = applied;
        let mut in_flight: VecDeque<(u64, Instant)> = VecDeque::new();
        let mut last_activity = Instant::now();
        let outbox_err = |e: sled::Error| End::Lost(format!("outbox: {e}"));
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            while in_flight.len() < WINDOW {
                let batch = fit(self
                    .outbox
                    .batch_after(sent_upto, BATCH)
                    .map_err(outbox_err)?);
                let Some(last) = batch.last().map(|d| d.seq) else {
                    break;
                };
                let n = batch.len() as u64;
                tx.send(DeltaBatch {
                    deltas: batch,
                    // Nothing between the last delta sent and this batch's first: the numbers
                    // in between were coalesced away.
                    after_seq: Some(sent_upto),
                })
                .await
                .map_err(|_| End::Lost("the stream to the manager closed".into()))?;
                self.state.batches_sent.fetch_add(1, Ordering::Relaxed);
                self.state.deltas_sent.fetch_add(n, Ordering::Relaxed);
                sent_upto = last;
                in_flight.push_back((last, Instant::now()));
                last_activity = Instant::now();
            }
            if in_flight
                .front()
                .is_some_and(|(_, t)| t.elapsed() > ACK_TIMEOUT)
            {
                return Err(End::Lost(format!(
                    "no acknowledgement from the manager for {} s",
                    ACK_TIMEOUT.as_secs()
                )));
            }
            let tick = tokio::time::sleep(Duration::from_millis(500));
            tokio::select! {
                m = acks.message() => match m {
                    Ok(Some(ack)) => {
                        self.ack(ack.applied_seq)?;
                        while in_flight.front().is_some_and(|(s, _)| *s <= ack.applied_seq) {
                            in_flight.pop_front();
                        }
                        if ack.applied_seq > sent_upto {
                            sent_upto = ack.applied_seq;
                        }
                        last_activity = Instant::now();
                    }
                    Ok(None) => return Err(End::Lost("the manager closed the stream".into())),
                    Err(s) => return Err(lost(&s)),
                },
                _ = self.wake.notified() => {}
                _ = tick => {
                    if in_flight.is_empty() && last_activity.elapsed() >= HEARTBEAT {
                        let applied = self.heartbeat(client).await.map_err(|s| lost(&s))?;
                        self.ack(applied)?;
                        last_activity = Instant::now();
                        self.maybe_renew(client, info).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otwatch_proto::v1::{delta, Asset};

    #[test]
    fn several_manager_urls_are_a_comma_separated_list() {
        assert_eq!(
            manager_urls(" https://a:7443, https://b:7443 ,,"),
            ["https://a:7443", "https://b:7443"]
        );
        assert_eq!(manager_urls("https://a:7443"), ["https://a:7443"]);
        assert!(manager_urls(" , ").is_empty());
    }

    fn asset(seq: u64, hostname_bytes: usize) -> Delta {
        Delta {
            seq,
            at: String::new(),
            change: Some(delta::Change::Asset(Asset {
                hostname: "x".repeat(hostname_bytes),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn batches_stay_under_the_managers_limit() {
        let small = fit(vec![asset(1, 10), asset(2, 10)]);
        assert_eq!(small.len(), 2);
        // Three of 1.5 MiB: two fit.
        let b = fit((1..=3).map(|s| asset(s, 3 << 19)).collect());
        assert_eq!(b.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![1, 2]);
        // One that never fits goes without its change, and the batch goes on.
        let b = fit(vec![asset(1, 5 << 20), asset(2, 10)]);
        assert_eq!(b.len(), 2);
        assert!(b[0].change.is_none() && b[1].change.is_some());
        let batch = DeltaBatch {
            deltas: b,
            after_seq: Some(0),
        };
        assert!(batch.encoded_len() <= MANAGER_MAX_BATCH_BYTES);
    }
}
