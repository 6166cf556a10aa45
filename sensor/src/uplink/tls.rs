//! TLS for the link. Enrolment trusts nothing yet, so it pins the manager's CA by the SHA-256
//! in the token (like kubeadm's CA hash): the CA must be in the chain the server presents,
//! and the leaf must verify against it for the name dialled. Afterwards the channel is mutual
//! TLS with the CA from enrolment as the only root and the sensor's own certificate.

use super::UplinkError;
use otwatch_common::link::hex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// SHA-256 of a DER certificate.
pub fn cert_sha256(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Accepts a server only if its chain holds the CA whose DER hashes to `pin` and the leaf
/// verifies against that CA (webpki, for the server name dialled).
#[derive(Debug)]
pub struct PinnedCaVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    /// Set when a server presented no certificate matching the pin (for a clear error).
    pub mismatch: Arc<AtomicBool>,
}

impl PinnedCaVerifier {
    pub fn new(pin: [u8; 32]) -> PinnedCaVerifier {
        PinnedCaVerifier {
            pin,
            provider: provider(),
            mismatch: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The pinned CA certificate from a presented chain, if there.
    pub fn find_pinned<'a>(
        &self,
        end_entity: &'a CertificateDer<'a>,
        intermediates: &'a [CertificateDer<'a>],
    ) -> Option<&'a CertificateDer<'a>> {
        std::iter::once(end_entity)
            .chain(intermediates)
            .find(|c| cert_sha256(c) == self.pin)
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(ca) = self.find_pinned(end_entity, intermediates) else {
            self.mismatch.store(true, Ordering::Relaxed);
            return Err(rustls::Error::General(format!(
                "the server's certificate chain does not hold the CA pinned by the token (sha256 {})",
                hex(&self.pin)
            )));
        };
        let mut roots = RootCertStore::empty();
        roots
            .add(ca.clone().into_owned())
            .map_err(|e| rustls::Error::General(format!("the pinned CA is unusable: {e}")))?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("the pinned CA is unusable: {e}")))?;
        webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

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
