//! TLS to a receiver: its certificate is verified against the CA the destination names (never
//! the system's roots, never without a check), optionally with our client certificate.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A TLS client for one destination.
#[derive(Clone)]
pub struct Connector {
    inner: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

impl Connector {
    /// Trusting the PEM certificates in `ca`; presenting `client` (cert chain, key) if given.
    pub fn new(ca: &Path, client: Option<(&Path, &Path)>) -> Result<Connector, String> {
        let mut roots = rustls::RootCertStore::empty();
        let pem = read(ca)?;
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("{}: no PEM certificate in it", ca.display()));
        }
        let builder = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let cfg = match client {
            Some((cert, key)) => {
                let pem = read(cert)?;
                let chain = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("{}: {e}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                    .map_err(|e| format!("{}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("client certificate: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Connector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        })
    }

    /// The TLS handshake over `tcp`, checking the certificate names `name`.
    pub async fn connect(
        &self,
        name: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let server = ServerName::try_from(name.to_string())
            .map_err(|_| format!("{name:?} is not a valid server name"))?;
        self.inner
            .connect(server, tcp)
            .await
            .map_err(|e| format!("TLS with {name}: {e}"))
    }
}
