//! The vocabulary of the sensor–manager link that both sides must spell the same way:
//! enrolment tokens, the identities carried in certificates, operator roles.
//!
//! - An **enrolment token** (`otwatch-manager token create`) is `otwt1.<secret>.<ca>`: 32 hex
//!   digits of secret and the SHA-256 (64 hex digits) of the manager CA certificate's DER. The
//!   sensor pins that CA during enrolment (no trust on first use), like kubeadm's CA hash.
//! - An **identity** is a URI in the certificate's subjectAltName:
//!   `urn:otwatch:sensor:<site>:<sensor id>`, `urn:otwatch:user:<name>:<role>` or
//!   `urn:otwatch:manager`. The manager takes a sensor's id and site from it, never from a message.

use std::fmt;
use std::str::FromStr;

/// What `otwatch-sensor run --pcap --stay` prints on stdout once the manager acknowledged the
/// replay; the demo (`otwatch-manager demo`) waits for this line before it goes on.
pub const REPLAY_ACKNOWLEDGED: &str = "replay acknowledged; staying connected until SIGINT/SIGTERM";

/// Site, sensor and user names: 1–63 characters of `a-z 0-9 . _ -`, starting with a letter or
/// digit (safe in URIs, file names and log lines).
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

/// A one-time enrolment token.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollToken {
    /// 32 lowercase hex digits.
    pub secret: String,
    /// SHA-256 of the CA certificate (DER).
    pub ca_sha256: [u8; 32],
}

impl fmt::Debug for EnrollToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("EnrollToken")
            .field("secret", &"<redacted>")
            .field("ca_sha256", &hex(&self.ca_sha256))
            .finish()
    }
}

impl fmt::Display for EnrollToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "otwt1.{}.{}", self.secret, hex(&self.ca_sha256))
    }
}

/// Lowercase hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl FromStr for EnrollToken {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            "not an otwatch enrolment token (expected otwt1.<32 hex>.<64 hex>, as printed by `otwatch-manager token create`)".to_string()
        };
        let mut parts = s.trim().split('.');
        let (Some("otwt1"), Some(secret), Some(ca), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if secret.len() != 32 || !secret.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let ca_sha256 = unhex::<32>(ca).ok_or_else(bad)?;
        Ok(EnrollToken {
            secret: secret.to_ascii_lowercase(),
            ca_sha256,
        })
    }
}

/// What an operator may do; enforced by the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OperatorRole {
    /// Read only.
    Viewer,
    /// Read, acknowledge and resolve alerts.
    Analyst,
    /// Everything, including revoking sensors and issuing tokens.
    Admin,
}

impl OperatorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Viewer => "viewer",
            OperatorRole::Analyst => "analyst",
            OperatorRole::Admin => "admin",
        }
    }
    /// Acknowledges and resolves alerts, approves assets into the inventory.
    pub fn can_triage(self) -> bool {
        self >= OperatorRole::Analyst
    }
    pub fn can_administer(self) -> bool {
        self == OperatorRole::Admin
    }
}

impl FromStr for OperatorRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(OperatorRole::Viewer),
            "analyst" => Ok(OperatorRole::Analyst),
            "admin" => Ok(OperatorRole::Admin),
            other => Err(format!(
                "unknown role {other:?}; use admin, analyst or viewer"
            )),
        }
    }
}

/// Who a certificate belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Sensor { site: String, id: String },
    Operator { name: String, role: OperatorRole },
    Manager,
}

impl Identity {
    /// The subjectAltName URI carrying this identity.
    pub fn uri(&self) -> String {
        match self {
            Identity::Sensor { site, id } => format!("urn:otwatch:sensor:{site}:{id}"),
            Identity::Operator { name, role } => {
                format!("urn:otwatch:user:{name}:{}", role.as_str())
            }
            Identity::Manager => "urn:otwatch:manager".to_string(),
        }
    }

    /// Parses [`Identity::uri`]; `None` for anything else (names are checked).
    pub fn from_uri(uri: &str) -> Option<Identity> {
        let rest = uri.strip_prefix("urn:otwatch:")?;
        if rest == "manager" {
            return Some(Identity::Manager);
        }
        let mut p = rest.split(':');
        let (kind, a, b, None) = (p.next()?, p.next()?, p.next()?, p.next()) else {
            return None;
        };
        if !valid_name(a) {
            return None;
        }
        match kind {
            "sensor" if valid_name(b) => Some(Identity::Sensor {
                site: a.to_string(),
                id: b.to_string(),
            }),
            "user" => Some(Identity::Operator {
                name: a.to_string(),
                role: b.parse().ok()?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hide_their_secret() {
        let t = EnrollToken {
            secret: "0123456789abcdef0123456789abcdef".into(),
            ca_sha256: [0xab; 32],
        };
        let s = t.to_string();
        assert_eq!(s.parse::<EnrollToken>().unwrap(), t);
        assert!(!format!("{t:?}").contains("0123456789"));
        for bad in [
            "",
            "otwt1.x.y",
            "otwt2.0123456789abcdef0123456789abcdef.ab",
            &s[..s.len() - 1],
        ] {
            assert!(bad.parse::<EnrollToken>().is_err(), "{bad}");
        }
    }

    #[test]
    fn identities_round_trip_and_refuse_odd_names() {
        for id in [
            Identity::Sensor {
                site: "plant-a".into(),
                id: "s-01".into(),
            },
            Identity::Operator {
                name: "alice".into(),
                role: OperatorRole::Analyst,
            },
            Identity::Manager,
        ] {
            assert_eq!(Identity::from_uri(&id.uri()), Some(id));
        }
        for bad in [
            "urn:otwatch:sensor:Plant:x",
            "urn:otwatch:sensor:a:b:c",
            "urn:otwatch:user:bob:root",
            "urn:otwatch:sensor::x",
            "https://example.com",
        ] {
            assert_eq!(Identity::from_uri(bad), None, "{bad}");
        }
        assert!(OperatorRole::Analyst.can_triage());
        assert!(!OperatorRole::Viewer.can_triage());
        assert!(!OperatorRole::Analyst.can_administer());
    }
}
