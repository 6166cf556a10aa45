//! TLS to a receiver: its certificate is verified against the CA the destination names (never
//! the system's roots, never without a check), optionally with our client certificate.

use rustls::pki_types::ServerName;
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

impl Connector {
    /// Trusting the PEM certificates in `ca`; presenting `client` (cert chain, key) if given.
    pub fn new(ca: &Path, client: Option<(&Path, &Path)>) -> Result<Connector, String> {
        let cfg = crate::tls::client_config(ca, client)?;
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
