//! Administration on a data directory (`otwatch-manager token create`, `user create`). A token
//! is written to the store directly when the manager is stopped, and through the running
//! manager's API when it runs (sled locks the store).

use crate::pki::{
    now_secs, random_hex, rfc3339, sha256, write_operator_credentials, Ca, DataDir, PkiError,
};
use crate::store::{FleetStore, OperatorTokenRecord, StoreError, TokenRecord};
use crate::tls::ConnectError;
use otwatch_common::link::{valid_name, EnrollToken, OperatorRole};
use otwatch_proto::v1::manager_client::ManagerClient;
use otwatch_proto::v1::{
    CreateEnrollmentTokenRequest, CreateOperatorTokenRequest, RevokeOperatorRequest,
};
use std::path::{Path, PathBuf};
use tonic::transport::Channel;

/// Why an administrative action failed. The API answers [`AdminError::BadName`] and
/// [`AdminError::BadTtl`] with INVALID_ARGUMENT; `otwatch-manager` exits with 1 for every one
/// (nothing done, docs/CLI.md "Exit status").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A site or operator name that is not a valid name.
    #[error("bad {what} name {name:?}: use 1-63 characters of a-z 0-9 . _ - starting with a letter or digit")]
    BadName { what: &'static str, name: String },
    /// A validity outside what a token of this kind may have.
    #[error("an {what} is valid for 1 second to {max}; pass e.g. --ttl {example}")]
    BadTtl {
        what: &'static str,
        max: &'static str,
        example: &'static str,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store is locked, so a manager should be serving it, but it left no address.
    #[error("the store is locked but {} is missing ({source}); is otwatch-manager serve running on {}?", serving.display(), data.display())]
    NotServing {
        serving: PathBuf,
        data: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not an address", .0.display())]
    BadServingFile(PathBuf),
    #[error("{}: {source}", path.display())]
    ServerCert {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot reach the running manager at {url}: {source}")]
    Unreachable { url: String, source: ConnectError },
    /// The running manager answered the call with an error.
    #[error("the running manager refused: {}", .0.message())]
    Refused(tonic::Status),
    #[error("the manager sent a bad token: {0}")]
    BadToken(String),
}

impl AdminError {
    /// Whether the caller asked for something that can never succeed as asked (a bad name or
    /// validity, here or as judged by the running manager).
    pub fn is_bad_argument(&self) -> bool {
        match self {
            AdminError::BadName { .. } | AdminError::BadTtl { .. } => true,
            AdminError::Refused(s) => s.code() == tonic::Code::InvalidArgument,
            _ => false,
        }
    }
}

/// Enrolment tokens are valid this long unless asked otherwise (seconds).
pub const DEFAULT_TOKEN_TTL: i64 = 86_400;
/// The longest validity of an enrolment token (seconds).
pub const MAX_TOKEN_TTL: i64 = 30 * 86_400;

/// Operator bearer tokens are valid this long unless asked otherwise (seconds).
pub const DEFAULT_OPERATOR_TOKEN_TTL: i64 = 90 * 86_400;
/// The longest validity of an operator bearer token (seconds).
pub const MAX_OPERATOR_TOKEN_TTL: i64 = 365 * 86_400;
const OPERATOR_TOKEN_PREFIX: &str = "otwop1.";

/// What a kind of token is made for (a name of what) and how long it may be valid.
struct TokenKind {
    what: &'static str,
    name_of: &'static str,
    max_ttl: i64,
    max: &'static str,
    example: &'static str,
}

const ENROLMENT_TOKEN: TokenKind = TokenKind {
    what: "enrolment token",
    name_of: "site",
    max_ttl: MAX_TOKEN_TTL,
    max: "30 days",
    example: "24h",
};

const OPERATOR_TOKEN: TokenKind = TokenKind {
    what: "operator token",
    name_of: "user",
    max_ttl: MAX_OPERATOR_TOKEN_TTL,
    max: "365 days",
    example: "90d",
};

impl TokenKind {
    /// Refuses a bad name or validity for a token of this kind.
    fn check(&self, name: &str, ttl_secs: i64) -> Result<(), AdminError> {
        check_name(self.name_of, name)?;
        if !(1..=self.max_ttl).contains(&ttl_secs) {
            return Err(AdminError::BadTtl {
                what: self.what,
                max: self.max,
                example: self.example,
            });
        }
        Ok(())
    }
}

/// The secret of an operator bearer token `otwop1.<secret>` (32 hex digits), if it is one.
pub fn operator_token_secret(token: &str) -> Option<&str> {
    let secret = token.strip_prefix(OPERATOR_TOKEN_PREFIX)?;
    (secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit())).then_some(secret)
}

/// A created operator bearer token.
#[derive(Debug)]
pub struct CreatedOperatorToken {
    /// `otwop1.<secret>`: shown once.
    pub token: String,
    pub name: String,
    pub role: OperatorRole,
    /// RFC 3339.
    pub expires_at: String,
}

/// Creates a bearer token for operator `name` with `role`, valid `ttl_secs`, in the given store.
pub fn create_operator_token(
    store: &dyn FleetStore,
    name: &str,
    role: OperatorRole,
    ttl_secs: i64,
) -> Result<CreatedOperatorToken, AdminError> {
    OPERATOR_TOKEN.check(name, ttl_secs)?;
    let secret = random_hex(16)?;
    let now = now_secs();
    store.create_operator_token(
        sha256(secret.as_bytes()),
        OperatorTokenRecord {
            name: name.to_string(),
            role: role.as_str().to_string(),
            created_at: now,
            expires_at: now + ttl_secs,
        },
    )?;
    Ok(CreatedOperatorToken {
        token: format!("{OPERATOR_TOKEN_PREFIX}{secret}"),
        name: name.to_string(),
        role,
        expires_at: rfc3339(now + ttl_secs),
    })
}

/// [`create_operator_token`] in the store of a stopped manager.
pub fn create_operator_token_in(
    data: &Path,
    name: &str,
    role: OperatorRole,
    ttl_secs: i64,
) -> Result<CreatedOperatorToken, AdminError> {
    // Refused before the store is opened: a locked one would send it to the running manager.
    OPERATOR_TOKEN.check(name, ttl_secs)?;
    let store = crate::store::open_local(&DataDir(data.to_path_buf()))?;
    create_operator_token(&store, name, role, ttl_secs)
}

/// [`create_operator_token`] through the running manager ([`local_admin`]).
pub async fn create_operator_token_via_server(
    data: &Path,
    name: &str,
    role: OperatorRole,
    ttl_secs: i64,
) -> Result<CreatedOperatorToken, AdminError> {
    let t = local_admin(data)
        .await?
        .create_operator_token(CreateOperatorTokenRequest {
            name: name.to_string(),
            role: role.as_str().to_string(),
            ttl_seconds: u64::try_from(ttl_secs).unwrap_or(0),
        })
        .await
        .map_err(AdminError::Refused)?
        .into_inner();
    Ok(CreatedOperatorToken {
        token: t.token,
        name: t.name,
        role,
        expires_at: t.expires_at,
    })
}

/// A created enrolment token.
#[derive(Debug)]
pub struct CreatedToken {
    pub token: EnrollToken,
    pub site: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Parses a duration like `90s`, `15m`, `24h`, `7d` (a bare number is seconds).
pub fn parse_ttl(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (s.get(..i), 1),
        Some((i, 'm')) => (s.get(..i), 60),
        Some((i, 'h')) => (s.get(..i), 3600),
        Some((i, 'd')) => (s.get(..i), 86_400),
        _ => (Some(s), 1),
    };
    num.and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("bad duration {s:?}; use e.g. 30s, 15m, 24h or 7d"))
}

fn check_name(what: &'static str, s: &str) -> Result<(), AdminError> {
    if valid_name(s) {
        Ok(())
    } else {
        Err(AdminError::BadName {
            what,
            name: s.to_string(),
        })
    }
}

/// Creates a one-time enrolment token for `site`, valid `ttl_secs`, in the given store.
pub fn create_token(
    ca: &Ca,
    store: &dyn FleetStore,
    site: &str,
    ttl_secs: i64,
) -> Result<CreatedToken, AdminError> {
    ENROLMENT_TOKEN.check(site, ttl_secs)?;
    let token = EnrollToken {
        secret: random_hex(16)?,
        ca_sha256: ca.sha256(),
    };
    let now = now_secs();
    let rec = TokenRecord {
        site: site.to_string(),
        created_at: now,
        expires_at: now + ttl_secs,
        used_by: None,
    };
    store.create_token(sha256(token.secret.as_bytes()), rec)?;
    Ok(CreatedToken {
        token,
        site: site.to_string(),
        expires_at: rfc3339(now + ttl_secs),
    })
}

/// [`create_token`] on a data directory.
pub fn create_token_in(data: &Path, site: &str, ttl_secs: i64) -> Result<CreatedToken, AdminError> {
    ENROLMENT_TOKEN.check(site, ttl_secs)?;
    let ca = Ca::load(data)?;
    let store = crate::store::open_local(&DataDir(data.to_path_buf()))?;
    create_token(&ca, &store, site, ttl_secs)
}

/// A client of the manager running on this data directory (its store is locked while it
/// runs), acting as a short-lived admin whose certificate is signed here with the CA key, which
/// only the manager's host holds. The manager logs its calls as by `otwatch-manager`.
pub async fn local_admin(data: &Path) -> Result<ManagerClient<Channel>, AdminError> {
    let ca = Ca::load(data)?;
    let (key, issued) = ca.issue_operator("otwatch-manager", OperatorRole::Admin)?;
    let ch = local_channel(
        data,
        &ca.cert_pem,
        Some((&issued.cert_pem, &key)),
        crate::tls::DEFAULT_TIMEOUT,
    )
    .await?;
    Ok(ManagerClient::new(ch))
}

/// A channel to the manager running on this data directory: to the address it recorded (the
/// unspecified address as loopback), trusting `ca_pem` and checking the first name of the
/// server certificate `init` made, with a client certificate when `identity` is given.
pub(crate) async fn local_channel(
    data: &Path,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    timeout: std::time::Duration,
) -> Result<Channel, AdminError> {
    let dir = DataDir(data.to_path_buf());
    let serving =
        std::fs::read_to_string(dir.serving()).map_err(|source| AdminError::NotServing {
            serving: dir.serving(),
            data: data.to_path_buf(),
            source,
        })?;
    let addr: std::net::SocketAddr = serving
        .trim()
        .parse()
        .map_err(|_| AdminError::BadServingFile(dir.serving()))?;
    let ip = match addr.ip() {
        std::net::IpAddr::V4(a) if a.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(a) if a.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let server_pem =
        std::fs::read_to_string(dir.server_pem()).map_err(|source| AdminError::ServerCert {
            path: dir.server_pem(),
            source,
        })?;
    let name = crate::pki::pem_to_der(&server_pem)
        .map(|der| crate::pki::san_names(&der))
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_else(|| "localhost".into());
    let url = format!("https://{}", std::net::SocketAddr::new(ip, addr.port()));
    crate::tls::channel_named(&url, &name, ca_pem, identity, timeout)
        .await
        .map_err(|source| AdminError::Unreachable {
            url: url.clone(),
            source,
        })
}

/// [`create_token`] through the manager running on this data directory ([`local_admin`]).
pub async fn create_token_via_server(
    data: &Path,
    site: &str,
    ttl_secs: i64,
) -> Result<CreatedToken, AdminError> {
    let t = local_admin(data)
        .await?
        .create_enrollment_token(CreateEnrollmentTokenRequest {
            site: site.to_string(),
            ttl_seconds: u64::try_from(ttl_secs).unwrap_or(0),
        })
        .await
        .map_err(AdminError::Refused)?
        .into_inner();
    let token = t.token.parse().map_err(AdminError::BadToken)?;
    Ok(CreatedToken {
        token,
        site: t.site,
        expires_at: t.expires_at,
    })
}

/// Revokes every certificate and bearer token of operator `name` issued until now, in the
/// given store; returns the revocation time (seconds since the epoch).
pub fn revoke_operator(store: &dyn FleetStore, name: &str) -> Result<i64, AdminError> {
    check_name("user", name)?;
    let at = now_secs();
    store.revoke_operator(name, at)?;
    Ok(at)
}

/// [`revoke_operator`] in the store of a stopped manager; returns the revocation time
/// (RFC 3339).
pub fn revoke_user_in(data: &Path, name: &str) -> Result<String, AdminError> {
    // Refused before the store is opened: a locked one would send it to the running manager.
    check_name("user", name)?;
    let store = crate::store::open_local(&DataDir(data.to_path_buf()))?;
    Ok(rfc3339(revoke_operator(&store, name)?))
}

/// [`revoke_user_in`] through the running manager ([`local_admin`]).
pub async fn revoke_user_via_server(data: &Path, name: &str) -> Result<String, AdminError> {
    let r = local_admin(data)
        .await?
        .revoke_operator(RevokeOperatorRequest {
            name: name.to_string(),
        })
        .await
        .map_err(AdminError::Refused)?
        .into_inner();
    Ok(r.revoked_at)
}

/// Writes an operator's key, certificate and the CA into `out`; returns the certificate's
/// notAfter (RFC 3339).
pub fn create_user(
    data: &Path,
    name: &str,
    role: OperatorRole,
    out: &Path,
) -> Result<String, AdminError> {
    check_name("user", name)?;
    let ca = Ca::load(data)?;
    let issued = write_operator_credentials(&ca, name, role, out)?;
    Ok(rfc3339(issued.not_after))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ttl() {
        assert_eq!(super::parse_ttl("24h"), Ok(86_400));
        assert_eq!(super::parse_ttl("1s"), Ok(1));
        assert_eq!(super::parse_ttl("90"), Ok(90));
        assert!(super::parse_ttl("0s").is_err());
        assert!(super::parse_ttl("h").is_err());
        assert!(super::parse_ttl("").is_err());
    }

    #[test]
    fn bad_arguments_are_refused_before_the_data_directory_is_read() {
        use super::AdminError;
        let nowhere = std::path::Path::new("/nonexistent/otwatch-data");
        let e = super::create_token_in(nowhere, "Bad Site", 60).unwrap_err();
        assert!(matches!(e, AdminError::BadName { what: "site", .. }), "{e}");
        assert!(e.is_bad_argument(), "{e}");
        let e = super::create_token_in(nowhere, "plant-a", super::MAX_TOKEN_TTL + 1).unwrap_err();
        assert!(matches!(e, AdminError::BadTtl { .. }), "{e}");
        let e = super::create_operator_token_in(
            nowhere,
            "svc",
            otwatch_common::link::OperatorRole::Viewer,
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "an operator token is valid for 1 second to 365 days; pass e.g. --ttl 90d"
        );
        let e = super::revoke_user_in(nowhere, "Bob Smith").unwrap_err();
        assert!(e.is_bad_argument(), "{e}");
        // Past the arguments, what is missing is not the caller's argument.
        let e = super::create_token_in(nowhere, "plant-a", 60).unwrap_err();
        assert!(matches!(e, AdminError::Pki(_)), "{e}");
        assert!(!e.is_bad_argument(), "{e}");
        let refused = AdminError::Refused(tonic::Status::invalid_argument("bad"));
        assert!(refused.is_bad_argument());
        let refused = AdminError::Refused(tonic::Status::unavailable("full"));
        assert!(!refused.is_bad_argument());
    }
}
