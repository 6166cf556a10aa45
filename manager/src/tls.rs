//! TLS for the manager: the server configuration (chain [leaf, CA], client certificates optional
//! at the handshake so that Enroll works, verified against the CA when presented, revoked
//! sensors and operators refused at the handshake) and client helpers (pinned-CA discovery for enrolment, an
//! mTLS tonic channel).

use crate::pki::{identity_of, pem_to_der, DataDir, PkiError};
use otwatch_common::link::Identity;
use otwatch_common::tls::PinnedCaVerifier;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What is revoked: sensors by id; operators by name, every certificate issued up to a time
/// (a certificate issued later, e.g. with a new role, is accepted). Shared by the TLS verifier and
/// the API.
#[derive(Debug, Default)]
pub struct Revocations {
    pub sensors: HashSet<String>,
    /// Operator name → Unix seconds: its certificates issued at or before are refused.
    pub operators: HashMap<String, i64>,
}

impl Revocations {
    /// Why a certificate with this identity, issued at `issued_at`, is refused (None: it is not).
    pub fn refusal(&self, id: &Identity, issued_at: i64) -> Option<String> {
        match id {
            Identity::Sensor { id, .. } if self.sensors.contains(id) => Some(format!(
                "sensor {id} is revoked; enrol it again with a new token"
            )),
            Identity::Operator { name, .. } => match self.operators.get(name) {
                Some(&at) if issued_at <= at => Some(format!(
                    "the certificates of operator {name} were revoked at {}; an admin can issue a new one with `otwatch-manager user create`",
                    crate::pki::rfc3339(at)
                )),
                _ => None,
            },
            _ => None,
        }
    }

    /// [`Revocations::refusal`] for a DER certificate.
    pub fn refusal_of(&self, cert_der: &[u8]) -> Option<String> {
        let id = identity_of(cert_der)?;
        let issued = crate::pki::issued_at(cert_der).unwrap_or(i64::MIN);
        self.refusal(&id, issued)
    }
}

/// The shared, updatable [`Revocations`].
pub type Revoked = Arc<RwLock<Revocations>>;

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(p: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// A TLS client trusting only the PEM certificates in `ca` (never the system's roots, never
/// without a check), presenting `client` (certificate chain, key; PEM files) if given.
pub fn client_config(
    ca: &std::path::Path,
    client: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    let pem = read(ca)?;
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no PEM certificate in it", ca.display()));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match client {
        Some((cert, key)) => {
            let pem = read(cert)?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            if chain.is_empty() {
                return Err(format!("{}: no PEM certificate in it", cert.display()));
            }
            let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

fn tls_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Cert(e.to_string())
}

/// Verifies client certificates against the CA, then refuses revoked sensors and operators.
#[derive(Debug)]
struct RevocationAwareVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    revoked: Revoked,
}

impl ClientCertVerifier for RevocationAwareVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false // Enroll runs without a client certificate; every other call checks for one.
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let refusal = match self.revoked.read() {
            Ok(r) => r.refusal_of(end_entity),
            Err(_) => Some("the revocation list is unavailable (a thread panicked)".into()),
        };
        if let Some(why) = refusal {
            // The alert tells the client "certificate revoked"; the accept loop logs the peer,
            // this line who it was.
            tracing::warn!(reason = %why, "refusing a revoked certificate at the handshake");
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked,
            ));
        }
        Ok(ok)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The manager's rustls server configuration from its data directory.
pub fn server_config(dir: &DataDir, revoked: Revoked) -> Result<rustls::ServerConfig, PkiError> {
    let read = |p: std::path::PathBuf| {
        std::fs::read_to_string(&p).map_err(|e| PkiError::Io(format!("{}: {e}", p.display())))
    };
    let ca_der = pem_to_der(&read(dir.ca_pem())?)?;
    let leaf_der = pem_to_der(&read(dir.server_pem())?)?;
    let key_pem = read(dir.server_key())?;
    let key = rustls::pki_types::pem::PemObject::from_pem_slice(key_pem.as_bytes())
        .map_err(|e: rustls::pki_types::pem::Error| tls_err(e))?;
    let key: PrivateKeyDer<'static> = key;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.clone()))
        .map_err(tls_err)?;
    let inner =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(tls_err)?;
    let verifier = Arc::new(RevocationAwareVerifier { inner, revoked });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(leaf_der), CertificateDer::from(ca_der)],
            key,
        )
        .map_err(tls_err)?;
    // gRPC speaks h2; browsers of the console may also come with HTTP/1.1.
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Connects to `host:port` once, checks that the manager presents the CA with SHA-256 `pin`
/// and a leaf it signed for `host`, and returns that CA as PEM (for the enrolment channel).
pub async fn fetch_pinned_ca(host: &str, port: u16, pin: [u8; 32]) -> Result<String, PkiError> {
    let verifier = Arc::new(PinnedCaVerifier::new(pin));
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let name = ServerName::try_from(host.to_string()).map_err(tls_err)?;
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| PkiError::Io(format!("{host}:{port}: {e}")))?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| PkiError::Cert(format!("TLS to {host}:{port}: {e}")))?;
    let der = verifier
        .found()
        .ok_or_else(|| PkiError::Cert("no pinned CA found".into()))?;
    Ok(der_to_pem(&der))
}

/// PEM of a certificate DER.
pub fn der_to_pem(der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in s.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// How long a client of the manager waits for a connection, and for each call's answer, unless
/// told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a channel to the manager could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("the manager did not answer at {url} within {secs} s; check the address, that the manager runs, and that no firewall drops the traffic")]
    Silent { url: String, secs: u64 },
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

/// Whether `s` is a call that ran out of time (the channel's per-call deadline).
pub fn timed_out(s: &tonic::Status) -> bool {
    s.code() == tonic::Code::Cancelled && s.message() == tonic::TimeoutExpired(()).to_string()
}

/// A tonic channel to the manager at `url` (https://host:port) trusting only `ca_pem`, with a
/// client certificate when `identity` = (cert PEM, key PEM) is given; [`DEFAULT_TIMEOUT`] for
/// the connection and for each call.
pub async fn channel(
    url: &str,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<tonic::transport::Channel, ConnectError> {
    channel_within(url, ca_pem, identity, DEFAULT_TIMEOUT).await
}

/// [`channel`] with another timeout for the connection and for each call.
pub async fn channel_within(
    url: &str,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<tonic::transport::Channel, ConnectError> {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or("localhost")
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    channel_named(url, &host, ca_pem, identity, timeout).await
}

/// [`channel_within`] checking the server's certificate for `server_name` rather than the
/// URL's host.
pub async fn channel_named(
    url: &str,
    server_name: &str,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<tonic::transport::Channel, ConnectError> {
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca_pem))
        .domain_name(server_name);
    if let Some((cert, key)) = identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())?
        .tls_config(tls)?
        .connect_timeout(timeout)
        // Until each call's answer begins (a stream may then run for as long as it likes).
        .timeout(timeout);
    // The connect timeout covers TCP only; a peer that accepts and then stays silent would
    // hold the TLS handshake forever.
    tokio::time::timeout(timeout, endpoint.connect())
        .await
        .map_err(|_| ConnectError::Silent {
            url: url.to_string(),
            secs: timeout.as_secs(),
        })?
        .map_err(ConnectError::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pem_round_trip() {
        let der: Vec<u8> = (0u8..=200).collect();
        let pem = super::der_to_pem(&der);
        assert_eq!(crate::pki::pem_to_der(&pem).unwrap(), der);
    }
}
