//! TLS for the link. Enrolment trusts nothing yet, so it pins the manager's CA by the SHA-256
//! in the token (like kubeadm's CA hash): the CA must be in the chain the server presents,
//! and the leaf must verify against it for the name dialled. Afterwards the channel is mutual
//! TLS with the CA from enrolment as the only root and the sensor's own certificate.

use super::UplinkError;
use otwatch_common::link::hex;
pub use otwatch_common::tls::{sha256 as cert_sha256, PinnedCaVerifier};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

fn endpoint(url: &str) -> Result<Endpoint, UplinkError> {
    if !url.starts_with("https://") {
        return Err(UplinkError::Usage(format!(
            "manager URL {url:?} must start with https:// (e.g. https://manager.example:7443)"
        )));
    }
    Ok(Endpoint::from_shared(url.to_string())
        .map_err(|e| UplinkError::Usage(format!("bad manager URL {url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true))
}

/// Every message of an error's source chain, joined (tonic's top-level errors are terse).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A channel for `Enroll`: no client certificate, the CA pinned by `pin`.
pub async fn enroll_channel(url: &str, pin: [u8; 32]) -> Result<Channel, UplinkError> {
    let verifier = PinnedCaVerifier::new(pin);
    let mismatch = verifier.mismatch.clone();
    let ep = endpoint(url)?
        .tls_config_with_verifier(ClientTlsConfig::new(), Arc::new(verifier))
        .map_err(|e| UplinkError::Usage(chain(&e)))?;
    ep.connect().await.map_err(|e| {
        if mismatch.load(Ordering::Relaxed) {
            UplinkError::Pki(format!(
                "{url} is not the manager that issued this token: its certificate chain does not hold the CA pinned by the token (sha256 {}); check the URL or create a token on that manager",
                hex(&pin)
            ))
        } else {
            UplinkError::Connect {
                url: url.to_string(),
                detail: chain(&e),
            }
        }
    })
}

/// The PEM files a mutual-TLS channel needs.
#[derive(Clone)]
pub struct ClientPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ClientPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientPki { .. }")
    }
}

/// A mutual-TLS channel: `ca_pem` is the only root, the sensor's certificate is presented.
pub async fn mtls_channel(url: &str, pki: &ClientPki) -> Result<Channel, UplinkError> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .identity(Identity::from_pem(&pki.cert_pem, &pki.key_pem));
    let ep = endpoint(url)?
        .tls_config(tls)
        .map_err(|e| UplinkError::Pki(chain(&e)))?;
    ep.connect().await.map_err(|e| UplinkError::Connect {
        url: url.to_string(),
        detail: chain(&e),
    })
}
