//! Administration on a data directory (`otwatch-manager token create`, `user create`). A token
//! is written to the store directly when the manager is stopped, and through the running
//! manager's API when it runs (sled locks the store).

use crate::pki::{now_secs, random_hex, rfc3339, sha256, write_operator_credentials, Ca, DataDir};
use crate::serve::ServeError;
use crate::store::{FleetStore, OperatorTokenRecord, SledStore, TokenRecord};
use otwatch_common::link::{valid_name, EnrollToken, OperatorRole};
use otwatch_proto::v1::manager_client::ManagerClient;
use otwatch_proto::v1::{
    CreateEnrollmentTokenRequest, CreateOperatorTokenRequest, RevokeOperatorRequest,
};
use std::path::Path;
use tonic::transport::Channel;

/// Enrolment tokens are valid this long unless asked otherwise (seconds).
pub const DEFAULT_TOKEN_TTL: i64 = 86_400;
/// The longest validity of an enrolment token (seconds).
pub const MAX_TOKEN_TTL: i64 = 30 * 86_400;

/// Operator bearer tokens are valid this long unless asked otherwise (seconds).
pub const DEFAULT_OPERATOR_TOKEN_TTL: i64 = 90 * 86_400;
/// The longest validity of an operator bearer token (seconds).
pub const MAX_OPERATOR_TOKEN_TTL: i64 = 365 * 86_400;
const OPERATOR_TOKEN_PREFIX: &str = "otwop1.";

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
) -> Result<CreatedOperatorToken, ServeError> {
    check_name("user", name)?;
    if !(1..=MAX_OPERATOR_TOKEN_TTL).contains(&ttl_secs) {
        return Err(ServeError::Server(
            "an operator token is valid for 1 second to 365 days; pass e.g. --ttl 90d".into(),
        ));
    }
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
) -> Result<CreatedOperatorToken, ServeError> {
    let store = SledStore::open(&DataDir(data.to_path_buf()).db())?;
    create_operator_token(&store, name, role, ttl_secs)
}

/// [`create_operator_token`] through the running manager ([`local_admin`]).
pub async fn create_operator_token_via_server(
    data: &Path,
    name: &str,
    role: OperatorRole,
    ttl_secs: i64,
) -> Result<CreatedOperatorToken, ServeError> {
    let t = local_admin(data)
        .await?
        .create_operator_token(CreateOperatorTokenRequest {
            name: name.to_string(),
            role: role.as_str().to_string(),
            ttl_seconds: u64::try_from(ttl_secs).unwrap_or(0),
        })
        .await
        .map_err(refused)?
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

fn check_name(what: &str, s: &str) -> Result<(), ServeError> {
    if valid_name(s) {
        Ok(())
    } else {
        Err(ServeError::Server(format!(
            "bad {what} name {s:?}: use 1-63 characters of a-z 0-9 . _ - starting with a letter or digit"
        )))
    }
}

/// Creates a one-time enrolment token for `site`, valid `ttl_secs`, in the given store.
pub fn create_token(
    ca: &Ca,
    store: &dyn FleetStore,
    site: &str,
    ttl_secs: i64,
) -> Result<CreatedToken, ServeError> {
    check_name("site", site)?;
    if !(1..=MAX_TOKEN_TTL).contains(&ttl_secs) {
        return Err(ServeError::Server(
            "an enrolment token is valid for 1 second to 30 days; pass e.g. --ttl 24h".into(),
        ));
    }
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
pub fn create_token_in(data: &Path, site: &str, ttl_secs: i64) -> Result<CreatedToken, ServeError> {
    let ca = Ca::load(data)?;
    let store = SledStore::open(&DataDir(data.to_path_buf()).db())?;
    create_token(&ca, &store, site, ttl_secs)
}

/// A client of the manager running on this data directory (its store is locked while it
/// runs), acting as a short-lived admin whose certificate is signed here with the CA key, which
/// only the manager's host holds. The manager logs its calls as by `otwatch-manager`.
pub async fn local_admin(data: &Path) -> Result<ManagerClient<Channel>, ServeError> {
    let dir = DataDir(data.to_path_buf());
    let serving = std::fs::read_to_string(dir.serving()).map_err(|e| {
        ServeError::Server(format!(
            "the store is locked but {} is missing ({e}); is otwatch-manager serve running on {}?",
            dir.serving().display(),
            data.display()
        ))
    })?;
    let addr: std::net::SocketAddr = serving.trim().parse().map_err(|_| {
        ServeError::Server(format!("{} is not an address", dir.serving().display()))
    })?;
    let ip = match addr.ip() {
        std::net::IpAddr::V4(a) if a.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(a) if a.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let ca = Ca::load(data)?;
    let server_pem = std::fs::read_to_string(dir.server_pem())
        .map_err(|e| ServeError::Server(format!("{}: {e}", dir.server_pem().display())))?;
    let name = crate::pki::pem_to_der(&server_pem)
        .map(|der| crate::pki::san_names(&der))
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_else(|| "localhost".into());
    let (key, issued) = ca.issue_operator("otwatch-manager", OperatorRole::Admin)?;
    let url = format!("https://{}", std::net::SocketAddr::new(ip, addr.port()));
    let ch = crate::tls::channel_named(
        &url,
        &name,
        &ca.cert_pem,
        Some((&issued.cert_pem, &key)),
        crate::tls::DEFAULT_TIMEOUT,
    )
    .await
    .map_err(|e| ServeError::Server(format!("cannot reach the running manager at {url}: {e}")))?;
    Ok(ManagerClient::new(ch))
}

fn refused(e: tonic::Status) -> ServeError {
    ServeError::Server(format!("the running manager refused: {}", e.message()))
}

/// [`create_token`] through the manager running on this data directory ([`local_admin`]).
pub async fn create_token_via_server(
    data: &Path,
    site: &str,
    ttl_secs: i64,
) -> Result<CreatedToken, ServeError> {
    let t = local_admin(data)
        .await?
        .create_enrollment_token(CreateEnrollmentTokenRequest {
            site: site.to_string(),
            ttl_seconds: u64::try_from(ttl_secs).unwrap_or(0),
        })
        .await
        .map_err(refused)?
        .into_inner();
    let token = t
        .token
        .parse()
        .map_err(|e: String| ServeError::Server(format!("the manager sent a bad token: {e}")))?;
    Ok(CreatedToken {
        token,
        site: t.site,
        expires_at: t.expires_at,
    })
}

/// Revokes every certificate of operator `name` issued until now, in the store of a stopped
/// manager; returns the revocation time (RFC 3339).
pub fn revoke_user_in(data: &Path, name: &str) -> Result<String, ServeError> {
    check_name("user", name)?;
    let store = SledStore::open(&DataDir(data.to_path_buf()).db())?;
    let at = now_secs();
    store.revoke_operator(name, at)?;
    Ok(rfc3339(at))
}

/// [`revoke_user_in`] through the running manager ([`local_admin`]).
pub async fn revoke_user_via_server(data: &Path, name: &str) -> Result<String, ServeError> {
    let r = local_admin(data)
        .await?
        .revoke_operator(RevokeOperatorRequest {
            name: name.to_string(),
        })
        .await
        .map_err(refused)?
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
) -> Result<String, ServeError> {
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
}
