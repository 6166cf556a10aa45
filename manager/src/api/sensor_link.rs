//! The SensorLink service: enrolment, renewal, delta sync and heartbeats.

use super::{blocking, change, clean, peer, refuse, sensor_identity, Caller, SensorLinkService};
use crate::pki::{now_secs, random_hex, rfc3339, sha256};
use crate::store::{Enrolled, SensorRecord, StoreError, TokenError};
use otwatch_common::link::EnrollToken;
use otwatch_proto::v1::sensor_link_server::SensorLink;
use otwatch_proto::v1::*;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info};

/// The largest batch a sensor may send (encoded): gRPC's usual message limit. Sensors keep
/// theirs near 1 MiB (`otwatch_sensor::uplink`).
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// The refusal for a batch that could not be read: too large, or not a `DeltaBatch`. `None`:
/// the stream broke (the sensor went away), nobody to tell.
fn unreadable(e: &Status) -> Option<Status> {
    let m = e.message();
    match e.code() {
        tonic::Code::OutOfRange if m.contains("too large") => Some(Status::resource_exhausted(format!(
            "the batch is larger than the manager accepts ({MAX_BATCH_BYTES} bytes; {m}); send smaller batches (an up-to-date sensor keeps them near 1 MiB)"
        ))),
        tonic::Code::Internal if m.starts_with("failed to decode") || m.starts_with("protocol error") => {
            Some(Status::invalid_argument(format!(
                "the batch cannot be read as an otwatch.v1.DeltaBatch ({m}); nothing of it was applied: check that the sensor's version matches the manager's"
            )))
        }
        _ => None,
    }
}

#[tonic::async_trait]
impl SensorLink for SensorLinkService {
    async fn enroll(
        &self,
        req: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        let p = peer(&req);
        let r = req.into_inner();
        let token: EnrollToken = r
            .token
            .parse()
            .map_err(|e: String| refuse(&p, "Enroll", Status::invalid_argument(e)))?;
        if token.ca_sha256 != self.0.ca.sha256() {
            return Err(refuse(&p, "Enroll", Status::invalid_argument(
                "this token was made by another manager (its CA hash differs); create one on this manager with `otwatch-manager token create`",
            )));
        }
        let id = format!(
            "s-{}",
            random_hex(8).map_err(|e| refuse(&p, "Enroll", Status::internal(e.to_string())))?
        );
        // The site comes from the token: read it, sign, then mark the token used in the same
        // transaction that records the sensor (which checks it again). A bad CSR does not burn
        // the token.
        let secret_hash = sha256(token.secret.as_bytes());
        let store = self.0.store.clone();
        let Some(t) = blocking(move || store.token_site(secret_hash)).await? else {
            return Err(refuse(
                &p,
                "Enroll",
                Status::unauthenticated(TokenError::Unknown.to_string()),
            ));
        };
        let issued = self
            .0
            .ca
            .sign_sensor_csr(&r.csr_pem, &t.site, &id)
            .map_err(|e| refuse(&p, "Enroll", Status::invalid_argument(e.to_string())))?;
        let rec = SensorRecord {
            id: id.clone(),
            hostname: clean(&r.hostname),
            version: clean(&r.version),
            cert_not_after: issued.not_after,
            ..Default::default()
        };
        let store = self.0.store.clone();
        let rec = match blocking(move || store.enroll(secret_hash, now_secs(), rec)).await? {
            Enrolled::Ok(rec) => rec,
            Enrolled::Refused(e) => {
                let st = match e {
                    TokenError::Unknown => Status::unauthenticated(e.to_string()),
                    _ => Status::permission_denied(e.to_string()),
                };
                return Err(refuse(&p, "Enroll", st));
            }
        };
        info!(peer = %p, sensor = %rec.id, site = %rec.site, hostname = %rec.hostname, "sensor enrolled");
        let _ = self.0.changes.send(change("sensor", &rec.site, &rec.id));
        Ok(Response::new(EnrollResponse {
            sensor_id: rec.id,
            site: rec.site,
            certificate_pem: issued.cert_pem,
            ca_pem: self.0.ca.cert_pem.clone(),
            not_after: rfc3339(issued.not_after),
        }))
    }

    async fn renew(&self, req: Request<RenewRequest>) -> Result<Response<EnrollResponse>, Status> {
        let (site, id) = sensor_identity(&self.0, Caller::of(&req), "Renew").await?;
        let p = peer(&req);
        let issued = self
            .0
            .ca
            .sign_sensor_csr(&req.get_ref().csr_pem, &site, &id)
            .map_err(|e| refuse(&p, "Renew", Status::invalid_argument(e.to_string())))?;
        let store = self.0.store.clone();
        let (sid, na) = (id.clone(), issued.not_after);
        blocking(move || {
            store.update_sensor(&sid, &move |r| {
                r.cert_not_after = na;
                r.last_seen = now_secs();
            })
        })
        .await?;
        info!(peer = %p, sensor = %id, "sensor certificate renewed");
        Ok(Response::new(EnrollResponse {
            sensor_id: id,
            site,
            certificate_pem: issued.cert_pem,
            ca_pem: self.0.ca.cert_pem.clone(),
            not_after: rfc3339(issued.not_after),
        }))
    }

    type SyncStream = Pin<Box<dyn Stream<Item = Result<SyncAck, Status>> + Send>>;

    async fn sync(
        &self,
        req: Request<Streaming<DeltaBatch>>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        let (site, id) = sensor_identity(&self.0, Caller::of(&req), "Sync").await?;
        let p = peer(&req);
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel::<Result<SyncAck, Status>>(16);
        let shared = self.0.clone();
        let mut shutdown = self.0.shutdown.subscribe();
        tokio::spawn(async move {
            let _connected = shared.metrics.sync_opened();
            loop {
                let next = tokio::select! {
                    m = inbound.message() => m,
                    // The manager stops: end the stream; the sensor reconnects and resends.
                    _ = shutdown.wait_for(|stop| *stop) => break,
                };
                let batch = match next {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) => {
                        match unreadable(&e) {
                            // Say why rather than end the stream as if all went well.
                            Some(st) => {
                                let _ = tx.send(Err(refuse(&p, "Sync", st))).await;
                            }
                            None if closed_by_peer(&e) => {
                                debug!(peer = %p, sensor = %id, "sync stream closed by the sensor")
                            }
                            None => info!(
                                peer = %p, sensor = %id, code = ?e.code(), error = e.message(),
                                "sync stream ended"
                            ),
                        }
                        break;
                    }
                };
                if shared
                    .revoked
                    .read()
                    .map(|r| r.sensors.contains(&id))
                    .unwrap_or(true)
                {
                    let st = refuse(
                        &p,
                        "Sync",
                        Status::permission_denied(format!("sensor {id} is revoked")),
                    );
                    let _ = tx.send(Err(st)).await;
                    break;
                }
                let sent = batch.deltas.len();
                let r = shared
                    .ingest
                    .apply(&id, batch.after_seq, batch.deltas, shared.clock.now())
                    .await
                    .map_err(|e| super::batch_status(&p, &id, e));
                match r {
                    Ok(applied) => {
                        let new = sent.saturating_sub(applied.first_new + applied.over_quota.len());
                        shared.metrics.batch_applied(&id, &site, new);
                        if !applied.over_quota.is_empty() && shared.log_over_quota(&id) {
                            tracing::warn!(
                                peer = %p,
                                sensor = %id,
                                site = %site,
                                refused = applied.over_quota.len(),
                                "the sensor holds its quota of assets, connections or alerts: new ones are refused, those it holds still update (see `otwatch sensors`: over_quota; is its network flooded? raise `otwatch-manager serve --quota-*` if it is that large); logged once an hour"
                            );
                        }
                        if applied.ignored_alert_states > 0 {
                            tracing::warn!(
                                peer = %p,
                                sensor = %id,
                                site = %site,
                                ignored = applied.ignored_alert_states,
                                "the sensor sent alert state changes; ignored: only operators acknowledge and resolve alerts (counted in `otwatch sensors --format json` as ignored_alert_states)"
                            );
                        }
                        // Change notices are built only while someone watches.
                        if shared.changes.receiver_count() > 0 {
                            let at = rfc3339(now_secs());
                            for (kind, cid) in &applied.changes {
                                let _ = shared.changes.send(Change {
                                    kind: (*kind).to_string(),
                                    site: site.clone(),
                                    id: cid.clone(),
                                    at: at.clone(),
                                });
                            }
                        }
                        if tx
                            .send(Ok(SyncAck {
                                applied_seq: applied.applied_seq,
                            }))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(st) => {
                        let _ = tx.send(Err(st)).await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let (_, id) = sensor_identity(&self.0, Caller::of(&req), "Heartbeat").await?;
        let (backlog, last_seq) = (req.get_ref().backlog, req.get_ref().last_seq);
        let store = self.0.store.clone();
        // Not worth a wait for the disk each time: a crash loses at most a heartbeat. On a full
        // disk the sensor still learns where the manager is.
        let applied = blocking(move || {
            match store.note_sensor(&id, &move |r| {
                r.last_seen = now_secs();
                r.report_backlog(backlog, last_seq, true);
            }) {
                Ok(_) | Err(StoreError::DiskFull) => store.applied_seq(&id),
                Err(e) => Err(e),
            }
        })
        .await?;
        Ok(Response::new(HeartbeatResponse {
            applied_seq: applied.unwrap_or(0),
            server_time: rfc3339(now_secs()),
        }))
    }
}

/// Whether a stream's error is only its peer going away: the connection closed (a sensor that
/// finished its replay and exited, or was stopped) rather than anything it sent. The sensor
/// resends what was not acknowledged when it comes back, so this is no fault of either side.
fn closed_by_peer(e: &Status) -> bool {
    // hyper's words for a request body cut off by the connection going away; the io::Error
    // under it is not always reachable as a source (h2 hands on only what it wraps).
    if e.message().contains("error reading a body from connection") {
        return true;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
            ) {
                return true;
            }
        }
        source = err.source();
    }
    false
}
