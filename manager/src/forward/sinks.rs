//! The destinations as running things: built from their config ([`Sink::build`]), each sends
//! a batch of events and says what became of it ([`Outcome`]).

use super::addr::Url;
use super::config::{DestinationConfig, DestinationKind, Transport};
use super::event::Event;
use super::http;
use super::syslog::Syslog;
use super::tls::Connector;
use super::Outcome;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The header carrying the webhook signature: `sha256=<hex HMAC-SHA256>` of
/// `<timestamp>.<body>`, keyed with the destination's secret.
pub const SIGNATURE_HEADER: &str = "X-Otwatch-Signature";
/// The header carrying the Unix time the webhook request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Otwatch-Timestamp";
/// The Logs Ingestion API version the Sentinel destination speaks.
pub const SENTINEL_API_VERSION: &str = "2023-01-01";
/// The default token scope of the Logs Ingestion API.
const MONITOR_SCOPE: &str = "https://monitor.azure.com//.default";

/// A destination ready to send.
pub enum Sink {
    Syslog(Box<Syslog>),
    Webhook {
        url: Url,
        key: ring::hmac::Key,
        tls: Option<Connector>,
    },
    Sentinel(Box<Sentinel>),
    Splunk {
        url: Url,
        token: String,
        sourcetype: String,
        index: Option<String>,
        tls: Option<Connector>,
        host: String,
    },
    File(PathBuf),
}

/// The Sentinel destination and its cached token.
pub struct Sentinel {
    token_url: Url,
    client_id: String,
    client_secret: String,
    scope: String,
    ingest: Url,
    tls: Option<Connector>,
    /// The access token and when to stop using it.
    token: Option<(String, Instant)>,
}

fn secret(inline: &Option<String>, file: &Option<PathBuf>) -> Result<String, String> {
    match (inline, file) {
        (Some(s), _) => Ok(s.clone()),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read {}: {e}", f.display())),
        (None, None) => Err("no secret given".into()),
    }
}

fn connector(ca: &Option<PathBuf>) -> Result<Option<Connector>, String> {
    ca.as_deref().map(|ca| Connector::new(ca, None)).transpose()
}

/// What a status code means for a batch: 2xx delivered; 400, 413, 415, 422 refused for good
/// (the request itself is wrong: dead letters); anything else tried again (a receiver that is
/// down, overloaded, or a credential being fixed).
pub fn outcome_of(status: u16, body: &str, what: &str) -> Outcome {
    let why = || format!("{what} answered {status}: {}", body.trim());
    match status {
        200..=299 => Outcome::Delivered,
        400 | 413 | 415 | 422 => Outcome::Refused(why()),
        _ => Outcome::Retry(why()),
    }
}

/// Hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The webhook signature of `body` sent at `timestamp`.
pub fn webhook_signature(key: &ring::hmac::Key, timestamp: &str, body: &[u8]) -> String {
    let mut ctx = ring::hmac::Context::with_key(key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex(ctx.sign().as_ref()))
}

impl Sink {
    /// Opens what `d` needs (CA files, secrets); connections are opened when sending.
    pub fn build(d: &DestinationConfig) -> Result<Sink, String> {
        Ok(match &d.kind {
            DestinationKind::Syslog {
                address,
                transport,
                format,
                ca,
                server_name,
                client_cert,
                client_key,
                facility,
            } => {
                let tls = match (transport, ca) {
                    (Transport::Tls, Some(ca)) => Some(Connector::new(
                        ca,
                        client_cert.as_deref().zip(client_key.as_deref()),
                    )?),
                    _ => None,
                };
                Sink::Syslog(Box::new(Syslog::new(
                    address,
                    (*transport, *format, *facility),
                    server_name.as_deref(),
                    tls,
                )?))
            }
            DestinationKind::Webhook {
                url,
                secret: s,
                secret_file,
                ca,
            } => Sink::Webhook {
                url: Url::parse(url)?,
                key: ring::hmac::Key::new(
                    ring::hmac::HMAC_SHA256,
                    secret(s, secret_file)?.as_bytes(),
                ),
                tls: connector(ca)?,
            },
            DestinationKind::Sentinel {
                authority,
                client_id,
                client_secret,
                client_secret_file,
                endpoint,
                dcr_id,
                stream,
                scope,
                ca,
            } => {
                let authority = authority.trim_end_matches('/');
                let endpoint = endpoint.trim_end_matches('/');
                Sink::Sentinel(Box::new(Sentinel {
                    token_url: Url::parse(&format!("{authority}/oauth2/v2.0/token"))?,
                    client_id: client_id.clone(),
                    client_secret: secret(client_secret, client_secret_file)?,
                    scope: scope.clone().unwrap_or_else(|| MONITOR_SCOPE.into()),
                    ingest: Url::parse(&format!(
                        "{endpoint}/dataCollectionRules/{dcr_id}/streams/{stream}?api-version={SENTINEL_API_VERSION}"
                    ))?,
                    tls: connector(ca)?,
                    token: None,
                }))
            }
            DestinationKind::Splunk {
                url,
                token,
                token_file,
                sourcetype,
                index,
                ca,
            } => Sink::Splunk {
                url: Url::parse(url)?.with_path("/services/collector/event"),
                token: secret(token, token_file)?,
                sourcetype: sourcetype.clone(),
                index: index.clone(),
                tls: connector(ca)?,
                host: super::manager_hostname(),
            },
            DestinationKind::File { path } => Sink::File(path.clone()),
        })
    }

    /// Sends `events` (in order, oldest first).
    pub async fn send(&mut self, events: &[Event]) -> Outcome {
        match self {
            Sink::Syslog(s) => s.send(events).await,
            Sink::Webhook { url, key, tls } => {
                let body = serde_json::to_vec(events).unwrap_or_default();
                let ts = crate::pki::now_secs().to_string();
                let sig = webhook_signature(key, &ts, &body);
                let headers = [
                    ("Content-Type", "application/json".to_string()),
                    (TIMESTAMP_HEADER, ts),
                    (SIGNATURE_HEADER, sig),
                ];
                match http::post(url, &headers, &body, tls.as_ref()).await {
                    Ok(a) => outcome_of(a.status, &a.body, "the webhook"),
                    Err(e) => Outcome::Retry(e),
                }
            }
            Sink::Sentinel(s) => s.send(events).await,
            Sink::Splunk {
                url,
                token,
                sourcetype,
                index,
                tls,
                host,
            } => {
                let mut body = Vec::new();
                for e in events {
                    let time = otwatch_common::Timestamp::parse_rfc3339(&e.time)
                        .map_or(0.0, |t| t.0 as f64 / 1e9);
                    let mut v = serde_json::json!({
                        "time": time,
                        "host": host,
                        "source": "otwatch",
                        "sourcetype": sourcetype,
                        "event": e,
                    });
                    if let Some(i) = index {
                        v["index"] = serde_json::Value::String(i.clone());
                    }
                    body.extend_from_slice(v.to_string().as_bytes());
                    body.push(b'\n');
                }
                let headers = [
                    ("Authorization", format!("Splunk {token}")),
                    ("Content-Type", "application/json".to_string()),
                ];
                match http::post(url, &headers, &body, tls.as_ref()).await {
                    Ok(a) => outcome_of(a.status, &a.body, "Splunk HEC"),
                    Err(e) => Outcome::Retry(e),
                }
            }
            Sink::File(path) => {
                let path = path.clone();
                let lines: String = events
                    .iter()
                    .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
                    .collect();
                match tokio::task::spawn_blocking(move || append(&path, lines.as_bytes())).await {
                    Ok(Ok(())) => Outcome::Delivered,
                    Ok(Err(e)) => Outcome::Retry(e),
                    Err(e) => Outcome::Retry(e.to_string()),
                }
            }
        }
    }
}

/// Appends `bytes` to `path` and waits for the disk ("-": standard output).
fn append(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(|e| format!("standard output: {e}"));
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_data())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl Sentinel {
    /// A token from the cache, or a new one (OAuth 2.0 client credentials, RFC 6749 4.4).
    async fn token(&mut self) -> Result<String, Outcome> {
        if let Some((t, until)) = &self.token {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let body = format!(
            "client_id={}&client_secret={}&scope={}&grant_type=client_credentials",
            http::form_encode(&self.client_id),
            http::form_encode(&self.client_secret),
            http::form_encode(&self.scope)
        );
        let headers = [(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )];
        let a = http::post(
            &self.token_url,
            &headers,
            body.as_bytes(),
            self.tls.as_ref(),
        )
        .await
        .map_err(Outcome::Retry)?;
        if a.status != 200 {
            // A refused credential is fixed by an operator: retried, never dead-lettered.
            return Err(Outcome::Retry(format!(
                "the token endpoint answered {}: {}",
                a.status,
                a.body.trim()
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            access_token: String,
            #[serde(default)]
            expires_in: u64,
        }
        let t: TokenAnswer = serde_json::from_str(&a.body).map_err(|e| {
            Outcome::Retry(format!("the token endpoint's answer is not a token: {e}"))
        })?;
        // Renewed a minute early, so a token never expires on its way.
        let life = Duration::from_secs(t.expires_in.saturating_sub(60).max(30));
        self.token = Some((t.access_token.clone(), Instant::now() + life));
        Ok(t.access_token)
    }

    async fn send(&mut self, events: &[Event]) -> Outcome {
        let token = match self.token().await {
            Ok(t) => t,
            Err(o) => return o,
        };
        let rows: Vec<serde_json::Value> = events
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["TimeGenerated"] = serde_json::Value::String(e.time.clone());
                v
            })
            .collect();
        let body = serde_json::to_vec(&rows).unwrap_or_default();
        let headers = [
            ("Authorization", format!("Bearer {token}")),
            ("Content-Type", "application/json".to_string()),
        ];
        match http::post(&self.ingest, &headers, &body, self.tls.as_ref()).await {
            Ok(a) => {
                if a.status == 401 || a.status == 403 {
                    self.token = None;
                }
                outcome_of(a.status, &a.body, "the Logs Ingestion API")
            }
            Err(e) => Outcome::Retry(e),
        }
    }
}
