//! TLS pieces both sides of the link need: the SHA-256 of a certificate (what an enrolment
//! token pins) and the verifier that trusts a server only through that pinned CA.
//!
//! Enrolment trusts nothing yet, so it pins the manager's CA by the SHA-256 in the token (like
//! kubeadm's CA hash): the CA must be in the chain the server presents, and the leaf must verify
//! against it (webpki) for the name dialled.

use crate::link::hex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// SHA-256 of `data` (a DER certificate, a token secret).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The process's rustls crypto provider, else ring's.
pub fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Accepts a server only if its chain holds the CA whose DER hashes to `pin` and the leaf
/// verifies against that CA for the server name dialled. Records what it found.
#[derive(Debug)]
pub struct PinnedCaVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    /// Set when a server presented no certificate matching the pin (for a clear error).
    pub mismatch: Arc<AtomicBool>,
    /// The pinned CA's DER once a server presented it.
    found: Mutex<Option<Vec<u8>>>,
}

impl PinnedCaVerifier {
    pub fn new(pin: [u8; 32]) -> PinnedCaVerifier {
        PinnedCaVerifier {
            pin,
            provider: provider(),
            mismatch: Arc::new(AtomicBool::new(false)),
            found: Mutex::new(None),
        }
    }

    /// The pinned CA (DER) a server presented, once one did.
    pub fn found(&self) -> Option<Vec<u8>> {
        self.found.lock().ok().and_then(|f| f.clone())
    }
}

fn general(what: &str, e: impl std::fmt::Display) -> rustls::Error {
    rustls::Error::General(format!("{what}: {e}"))
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
        let Some(ca) = std::iter::once(end_entity)
            .chain(intermediates)
            .find(|c| sha256(c) == self.pin)
        else {
            self.mismatch.store(true, Ordering::Relaxed);
            return Err(rustls::Error::General(format!(
                "the server's certificate chain does not hold the CA pinned by the token (sha256 {}): wrong manager, or a man in the middle",
                hex(&self.pin)
            )));
        };
        let mut roots = RootCertStore::empty();
        roots
            .add(ca.clone().into_owned())
            .map_err(|e| general("the pinned CA is unusable", e))?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| general("the pinned CA is unusable", e))?;
        let ok = webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        if let Ok(mut f) = self.found.lock() {
            *f = Some(ca.to_vec());
        }
        Ok(ok)
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

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            crate::link::hex(&super::sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
