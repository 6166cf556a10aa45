//! `otwatch-sensor enroll`: a one-time token and a CSR in, a certificate signed by the
//! manager's CA out. The private key is made here and never leaves the sensor.
//!
//! Files in `<state>/uplink/` (folder 0700): `key.pem` (0600), `cert.pem`, `ca.pem`,
//! `link.json` ([`LinkInfo`]). Renewal replaces the key and certificate as a pair.

use super::tls::{self, ClientPki};
use super::{read_text, uplink_dir, write_private, LinkInfo, UplinkError};
use otwatch_common::link::EnrollToken;
use otwatch_proto::v1::sensor_link_client::SensorLinkClient;
use otwatch_proto::v1::{EnrollRequest, EnrollResponse, RenewRequest};
use std::path::Path;

/// A new ECDSA P-256 key (PKCS#8 PEM) and a CSR for it (PEM). The manager chooses the names.
pub fn new_key_and_csr() -> Result<(String, String), UplinkError> {
    let pki = |e: rcgen::Error| UplinkError::Pki(e.to_string());
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(pki)?;
    let params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
    let csr = params.serialize_request(&key).map_err(pki)?;
    Ok((key.serialize_pem(), csr.pem().map_err(pki)?))
}

/// Turns a refusal into an error without ever echoing the token's secret.
fn refused(s: tonic::Status, secret: Option<&str>) -> UplinkError {
    let mut msg = format!("{:?}: {}", s.code(), s.message());
    if let Some(sec) = secret.filter(|x| !x.is_empty()) {
        msg = msg.replace(sec, "<redacted>");
    }
    UplinkError::Refused(msg)
}

/// A single-threaded runtime for the uplink's async calls.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, UplinkError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| UplinkError::Io {
            what: "start the async runtime for",
            path: "the uplink".into(),
            source,
        })
}

/// Enrols with the manager at `manager` using `token`; keeps the result under `state`.
pub fn enroll(manager: &str, token: &str, state: &Path) -> Result<LinkInfo, UplinkError> {
    let token: EnrollToken = token.parse().map_err(UplinkError::Usage)?;
    if let Some(l) = LinkInfo::load(state)? {
        return Err(UplinkError::Usage(format!(
            "{} is already enrolled as sensor {} of site {} with {}; remove {} to enrol again",
            state.display(),
            l.sensor_id,
            l.site,
            l.manager,
            uplink_dir(state).display()
        )));
    }
    let (key_pem, csr_pem) = new_key_and_csr()?;
    // The key is written before the token is spent: a state directory that cannot be written
    // (a full disk) fails here with the token still good. Alone, `key.pem.next` is dropped.
    let dir = create_uplink_dir(state)?;
    write_private(&dir.join("key.pem.next"), key_pem.as_bytes(), 0o600)?;
    let rt = runtime()?;
    let resp = rt.block_on(async {
        let ch = tls::enroll_channel(manager, token.ca_sha256).await?;
        let mut c = SensorLinkClient::new(ch);
        c.enroll(EnrollRequest {
            token: token.to_string(),
            csr_pem,
            hostname: super::hostname(),
            version: crate::VERSION.to_string(),
        })
        .await
        .map(|r| r.into_inner())
        .map_err(|s| refused(s, Some(&token.secret)))
    })?;
    // The CA the manager hands back must be the one the token pinned.
    let ca_der = pem_cert_der(&resp.ca_pem)?;
    if tls::cert_sha256(&ca_der) != token.ca_sha256 {
        return Err(UplinkError::Pki(
            "the manager returned a CA that is not the one pinned by the token; enrolment aborted"
                .into(),
        ));
    }
    store(state, manager, &key_pem, &resp)
}

/// The DER of the first certificate in a PEM text.
pub fn pem_cert_der(pem: &str) -> Result<Vec<u8>, UplinkError> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| UplinkError::Pki(format!("not a PEM certificate: {e:?}")))
}

/// Writes the key, certificates and `link.json`.
pub fn store(
    state: &Path,
    manager: &str,
    key_pem: &str,
    resp: &EnrollResponse,
) -> Result<LinkInfo, UplinkError> {
    let dir = create_uplink_dir(state)?;
    write_private(&dir.join("ca.pem"), resp.ca_pem.as_bytes(), 0o644)?;
    // The key and its certificate must change together: both are written beside the old
    // ones first, then renamed; `load_pki` completes renames a crash interrupted.
    write_private(&dir.join("key.pem.next"), key_pem.as_bytes(), 0o600)?;
    write_private(
        &dir.join("cert.pem.next"),
        resp.certificate_pem.as_bytes(),
        0o644,
    )?;
    finish_swap(&dir)?;
    let info = LinkInfo {
        manager: manager.to_string(),
        sensor_id: resp.sensor_id.clone(),
        site: resp.site.clone(),
        not_after: resp.not_after.clone(),
    };
    info.save(state)?;
    Ok(info)
}

/// Creates `<state>/uplink` (0700) if needed.
fn create_uplink_dir(state: &Path) -> Result<std::path::PathBuf, UplinkError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = uplink_dir(state);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|source| UplinkError::Io {
            what: "create",
            path: dir.display().to_string(),
            source,
        })?;
    Ok(dir)
}

/// Moves `key.pem.next` and `cert.pem.next` in place. Once the certificate is written, the
/// pair is complete: a crash before it leaves only a `key.pem.next`, which is dropped.
fn finish_swap(dir: &Path) -> Result<(), UplinkError> {
    let (kn, cn) = (dir.join("key.pem.next"), dir.join("cert.pem.next"));
    let io = |path: &Path, source| UplinkError::Io {
        what: "rename",
        path: path.display().to_string(),
        source,
    };
    if !cn.exists() {
        let _ = std::fs::remove_file(&kn);
        return Ok(());
    }
    if kn.exists() {
        std::fs::rename(&kn, dir.join("key.pem")).map_err(|e| io(&kn, e))?;
    }
    std::fs::rename(&cn, dir.join("cert.pem")).map_err(|e| io(&cn, e))
}

/// The key and certificates kept by enrolment.
pub fn load_pki(state: &Path) -> Result<ClientPki, UplinkError> {
    let dir = uplink_dir(state);
    finish_swap(&dir)?;
    Ok(ClientPki {
        ca_pem: read_text(&dir.join("ca.pem"))?,
        cert_pem: read_text(&dir.join("cert.pem"))?,
        key_pem: read_text(&dir.join("key.pem"))?,
    })
}

/// Renews the certificate over an open mutual-TLS channel: a new key and CSR, same identity.
pub async fn renew(
    client: &mut SensorLinkClient<tonic::transport::Channel>,
    state: &Path,
    info: &LinkInfo,
) -> Result<LinkInfo, UplinkError> {
    let (key_pem, csr_pem) = new_key_and_csr()?;
    let resp = client
        .renew(RenewRequest { csr_pem })
        .await
        .map_err(|s| refused(s, None))?
        .into_inner();
    let mut resp = resp;
    if resp.ca_pem.is_empty() {
        resp.ca_pem = read_text(&uplink_dir(state).join("ca.pem"))?;
    }
    if resp.sensor_id.is_empty() {
        resp.sensor_id = info.sensor_id.clone();
        resp.site = info.site.clone();
    }
    store(state, &info.manager, &key_pem, &resp)
}
