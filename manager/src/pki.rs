//! The manager's PKI: one self-signed ECDSA P-256 CA (10 years) that signs the manager's TLS
//! server certificate, sensor certificates (30 days, from the sensor's CSR) and operator client
//! certificates. Identities live in the subjectAltName URI (`otwatch_common::link::Identity`).
//!
//! Files in the data directory (0700; keys 0600): `ca.pem`, `ca.key`, `server.pem`, `server.key`.

use otwatch_common::link::{Identity, OperatorRole};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Validity of the CA.
pub const CA_DAYS: i64 = 3650;
/// Validity of the manager's server certificate.
pub const SERVER_DAYS: i64 = 825;
/// Validity of a sensor certificate (the sensor renews when fewer than 10 days are left).
pub const SENSOR_DAYS: i64 = 30;
/// Validity of an operator certificate.
pub const OPERATOR_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("{0}")]
    Io(String),
    #[error("a CA already exists in {0}; refusing to overwrite it (use another --state directory, or remove it on purpose)")]
    AlreadyInitialised(PathBuf),
    #[error("no CA in {0}; run `otwatch-manager init --state {0}` first")]
    NotInitialised(PathBuf),
    #[error("certificate error: {0}")]
    Cert(String),
    #[error(
        "invalid certificate signing request: {0}; send a PEM PKCS#10 CSR for an ECDSA P-256 key"
    )]
    BadCsr(String),
    #[error("the system's random number generator failed, so no secret or certificate was made; check the kernel's entropy source (getrandom) and try again")]
    Random,
}

fn io(path: &Path, e: std::io::Error) -> PkiError {
    PkiError::Io(format!("{}: {e}", path.display()))
}

fn cert_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Cert(e.to_string())
}

/// The files of a manager data directory.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn ca_pem(&self) -> PathBuf {
        self.0.join("ca.pem")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.0.join("ca.key")
    }
    pub fn server_pem(&self) -> PathBuf {
        self.0.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.0.join("server.key")
    }
    /// The address a running manager listens on (written by `serve`, removed when it stops).
    pub fn serving(&self) -> PathBuf {
        self.0.join("serving")
    }
    /// The forwarding file `serve` reads when not given one (docs/FORWARDING.md).
    pub fn forwarding(&self) -> PathBuf {
        self.0.join("forwarding.toml")
    }
    pub fn playbooks(&self) -> PathBuf {
        self.0.join("playbooks.toml")
    }
    pub fn db(&self) -> PathBuf {
        self.0.join("db")
    }
    /// Where `serve --store` records the PostgreSQL store it uses (its URL without a password),
    /// so that commands working on the state directory go through the manager instead of the
    /// unused embedded store ([`crate::store::open_local`]).
    pub fn store(&self) -> PathBuf {
        self.0.join("store")
    }
}

/// Seconds since the Unix epoch, from the wall clock (certificates and tokens, not analysis).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC of a Unix time in seconds.
pub fn rfc3339(secs: i64) -> String {
    otwatch_common::Timestamp::from_secs_nanos(secs.max(0) as u64, 0).rfc3339()
}

fn asn1(secs: i64) -> Result<x509_parser::time::ASN1Time, PkiError> {
    x509_parser::time::ASN1Time::from_timestamp(secs).map_err(cert_err)
}

/// Writes `data` to a new file with mode `mode` (created that way, never widened later).
pub fn write_private(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(data).map_err(|e| io(path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| io(path, e))?;
    f.sync_all().map_err(|e| io(path, e))
}

/// Creates `dir` (0700) if needed.
pub fn make_private_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))
}

/// `n` bytes from the system's random number generator. A failure is an error, never zeros:
/// the bytes become secrets and certificate serial numbers.
fn random_bytes(n: usize) -> Result<Vec<u8>, PkiError> {
    let rng = ring::rand::SystemRandom::new();
    random_bytes_from(n, |b| ring::rand::SecureRandom::fill(&rng, b))
}

/// [`random_bytes`] from the filler `fill`.
fn random_bytes_from(
    n: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), ring::error::Unspecified>,
) -> Result<Vec<u8>, PkiError> {
    let mut b = vec![0u8; n];
    fill(&mut b).map_err(|_| PkiError::Random)?;
    Ok(b)
}

fn serial() -> Result<SerialNumber, PkiError> {
    let mut b = random_bytes(16)?;
    if let Some(first) = b.first_mut() {
        *first &= 0x7f; // positive INTEGER
    }
    Ok(SerialNumber::from_slice(&b))
}

/// Random lowercase hex of `n` bytes.
pub fn random_hex(n: usize) -> Result<String, PkiError> {
    Ok(otwatch_common::link::hex(&random_bytes(n)?))
}

pub use otwatch_common::tls::sha256;

/// Certificates are valid from this many seconds before they are issued (clocks differ).
pub const CLOCK_SKEW: i64 = 300;

/// When a certificate this CA signed was issued (its notBefore plus [`CLOCK_SKEW`]), Unix seconds.
pub fn issued_at(cert_der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    Some(cert.validity().not_before.timestamp() + CLOCK_SKEW)
}

/// When a certificate this CA signed was issued (as [`issued_at`]) and when it expires (its
/// notAfter), Unix seconds.
pub fn validity(cert_der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let v = cert.validity();
    Some((
        v.not_before.timestamp() + CLOCK_SKEW,
        v.not_after.timestamp(),
    ))
}

fn leaf_params(
    cn: &str,
    sans: Vec<SanType>,
    days: i64,
    eku: &[ExtendedKeyUsagePurpose],
) -> Result<CertificateParams, PkiError> {
    let now = now_secs();
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.subject_alt_names = sans;
    p.not_before = asn1(now - CLOCK_SKEW)?.to_datetime();
    p.not_after = asn1(now + days * 86_400)?.to_datetime();
    p.serial_number = Some(serial()?);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = eku.to_vec();
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

fn uri_san(id: &Identity) -> Result<SanType, PkiError> {
    Ok(SanType::URI(id.uri().try_into().map_err(cert_err)?))
}

/// What `init` made.
#[derive(Debug)]
pub struct InitReport {
    pub ca_sha256: [u8; 32],
    pub sans: Vec<String>,
}

/// Creates the CA and the server certificate in `dir`. Refuses to overwrite an existing CA.
pub fn init(dir: &Path, sans: &[String], name: &str) -> Result<InitReport, PkiError> {
    let d = DataDir(dir.to_path_buf());
    if d.ca_pem().exists() || d.ca_key().exists() {
        return Err(PkiError::AlreadyInitialised(dir.to_path_buf()));
    }
    make_private_dir(dir)?;
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let now = now_secs();
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(DnType::CommonName, format!("otwatch manager CA ({name})"));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = asn1(now - CLOCK_SKEW)?.to_datetime();
    p.not_after = asn1(now + CA_DAYS * 86_400)?.to_datetime();
    p.serial_number = Some(serial()?);
    let ca_cert = p.self_signed(&ca_key).map_err(cert_err)?;
    write_private(&d.ca_key(), ca_key.serialize_pem().as_bytes(), 0o600)?;
    write_private(&d.ca_pem(), ca_cert.pem().as_bytes(), 0o644)?;

    let sans: Vec<String> = if sans.is_empty() {
        vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
    } else {
        sans.to_vec()
    };
    let mut san_types = Vec::new();
    for s in &sans {
        san_types.push(match s.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(s.clone().try_into().map_err(|e| {
                PkiError::Cert(format!(
                    "--san {s:?} is neither an IP address nor a DNS name: {e}"
                ))
            })?),
        });
    }
    san_types.push(uri_san(&Identity::Manager)?);
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let params = leaf_params(
        name,
        san_types,
        SERVER_DAYS,
        &[ExtendedKeyUsagePurpose::ServerAuth],
    )?;
    let issuer = Issuer::from_ca_cert_der(ca_cert.der(), &ca_key).map_err(cert_err)?;
    let server_cert = params.signed_by(&server_key, &issuer).map_err(cert_err)?;
    write_private(
        &d.server_key(),
        server_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_private(&d.server_pem(), server_cert.pem().as_bytes(), 0o644)?;
    Ok(InitReport {
        ca_sha256: sha256(ca_cert.der()),
        sans,
    })
}

/// The CA loaded from a data directory, able to sign.
pub struct Ca {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    key: KeyPair,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("sha256", &otwatch_common::link::hex(&self.sha256()))
            .finish_non_exhaustive()
    }
}

/// A freshly signed certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    /// Unix seconds.
    pub not_after: i64,
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| io(path, e))
}

/// First certificate of a PEM file, as DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(cert_err)?;
    Ok(p.contents)
}

impl Ca {
    pub fn load(dir: &Path) -> Result<Ca, PkiError> {
        let d = DataDir(dir.to_path_buf());
        if !d.ca_pem().exists() {
            return Err(PkiError::NotInitialised(dir.to_path_buf()));
        }
        let cert_pem = read(&d.ca_pem())?;
        let key = KeyPair::from_pem(&read(&d.ca_key())?).map_err(cert_err)?;
        let cert_der = pem_to_der(&cert_pem)?;
        Ok(Ca {
            cert_pem,
            cert_der,
            key,
        })
    }

    /// SHA-256 of the CA certificate's DER: the pin carried in enrolment tokens.
    pub fn sha256(&self) -> [u8; 32] {
        sha256(&self.cert_der)
    }

    fn issue(
        &self,
        public_key: &impl PublicKeyData,
        cn: &str,
        id: &Identity,
        days: i64,
        eku: &[ExtendedKeyUsagePurpose],
    ) -> Result<Issued, PkiError> {
        let params = leaf_params(cn, vec![uri_san(id)?], days, eku)?;
        let issuer =
            Issuer::from_ca_cert_der(&self.cert_der.clone().into(), &self.key).map_err(cert_err)?;
        let cert = params.signed_by(public_key, &issuer).map_err(cert_err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            not_after: now_secs() + days * 86_400,
        })
    }

    /// Signs the public key of `csr_pem` for a sensor. Names in the CSR are ignored: the
    /// subject is the sensor id and the only SAN its identity URI.
    pub fn sign_sensor_csr(&self, csr_pem: &str, site: &str, id: &str) -> Result<Issued, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::BadCsr(e.to_string()))?;
        if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(PkiError::BadCsr("the key is not ECDSA P-256".into()));
        }
        let identity = Identity::Sensor {
            site: site.to_string(),
            id: id.to_string(),
        };
        self.issue(
            &csr.public_key,
            id,
            &identity,
            SENSOR_DAYS,
            &[ExtendedKeyUsagePurpose::ClientAuth],
        )
    }

    /// A new key and certificate for an operator: (key PEM, certificate).
    pub fn issue_operator(
        &self,
        name: &str,
        role: OperatorRole,
    ) -> Result<(String, Issued), PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
        let identity = Identity::Operator {
            name: name.to_string(),
            role,
        };
        let issued = self.issue(
            &key,
            name,
            &identity,
            OPERATOR_DAYS,
            &[ExtendedKeyUsagePurpose::ClientAuth],
        )?;
        Ok((key.serialize_pem(), issued))
    }
}

/// The otwatch identity in a certificate's subjectAltName URIs, if any.
pub fn identity_of(cert_der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        x509_parser::extensions::GeneralName::URI(u) => Identity::from_uri(u),
        _ => None,
    })
}

/// The DNS names and IP addresses in a certificate's subjectAltName.
pub fn san_names(cert_der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert_der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
            x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// notAfter of a certificate, Unix seconds.
pub fn not_after(cert_der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// Writes an operator's credentials (`key.pem` 0600, `cert.pem`, `ca.pem`) into `out` (0700).
pub fn write_operator_credentials(
    ca: &Ca,
    name: &str,
    role: OperatorRole,
    out: &Path,
) -> Result<Issued, PkiError> {
    let (key_pem, issued) = ca.issue_operator(name, role)?;
    make_private_dir(out)?;
    write_private(&out.join("key.pem"), key_pem.as_bytes(), 0o600)?;
    write_private(&out.join("cert.pem"), issued.cert_pem.as_bytes(), 0o644)?;
    write_private(&out.join("ca.pem"), ca.cert_pem.as_bytes(), 0o644)?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_random_number_generator_is_an_error_not_zeros() {
        let r = random_bytes_from(16, |_| Err(ring::error::Unspecified));
        assert!(matches!(r, Err(PkiError::Random)), "{r:?}");
        let a = random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex(16).unwrap());
        assert_ne!(a, "0".repeat(32));
    }

    #[test]
    fn init_signs_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("m");
        let r = init(&d, &[], "mgr").unwrap();
        assert!(matches!(
            init(&d, &[], "mgr"),
            Err(PkiError::AlreadyInitialised(_))
        ));
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(d.clone()), 0o700);
        assert_eq!(mode(d.join("ca.key")), 0o600);
        assert_eq!(mode(d.join("server.key")), 0o600);
        let ca = Ca::load(&d).unwrap();
        assert_eq!(ca.sha256(), r.ca_sha256);
        let server = pem_to_der(&fs::read_to_string(d.join("server.pem")).unwrap()).unwrap();
        assert_eq!(identity_of(&server), Some(Identity::Manager));

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(vec!["evil.example".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "admin");
        let csr = p.serialize_request(&key).unwrap().pem().unwrap();
        let issued = ca
            .sign_sensor_csr(&csr, "plant-a", "s-0011223344556677")
            .unwrap();
        let der = pem_to_der(&issued.cert_pem).unwrap();
        assert_eq!(
            identity_of(&der),
            Some(Identity::Sensor {
                site: "plant-a".into(),
                id: "s-0011223344556677".into()
            })
        );
        let na = not_after(&der).unwrap();
        assert!((na - issued.not_after).abs() < 5);
        assert!(ca.sign_sensor_csr("garbage", "a", "b").is_err());
    }
}
