//! Console sessions: a random secret in an HttpOnly cookie names a signed-in operator for a
//! while. Only the secret's SHA-256 is kept (a memory dump gives no usable cookie), with a CSRF
//! token that every change must echo in a header. Sessions live in memory: a restart of the
//! manager signs everyone out, which is the safe failure.

use crate::api::SignedIn;
use crate::pki::{now_secs, random_hex, sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The cookie's name. `__Host-` makes browsers accept it only over HTTPS, for this host alone,
/// for path `/`: a sibling host cannot plant or overwrite it.
pub const COOKIE: &str = "__Host-otwatch_session";
/// A session unused for this long ends.
pub const IDLE_SECS: i64 = 2 * 3600;
/// No session lasts longer than this (nor than the credential it was opened with).
pub const MAX_SECS: i64 = 12 * 3600;
/// At most this many sessions at once; the least recently used goes first.
pub const MAX_SESSIONS: usize = 10_000;

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    pub signed_in: SignedIn,
    /// Echoed by the browser in `X-CSRF-Token` on every change.
    pub csrf: String,
    /// Unix seconds.
    pub ends_at: i64,
    last_used: i64,
}

/// The open sessions, by the SHA-256 of their secret.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

/// A new session's cookie secret and its state.
#[derive(Debug)]
pub struct Opened {
    pub secret: String,
    pub session: Session,
}

impl Sessions {
    /// Opens a session for `signed_in`.
    pub fn open(&self, signed_in: SignedIn) -> Result<Opened, crate::pki::PkiError> {
        self.open_at(signed_in, now_secs())
    }

    fn open_at(&self, signed_in: SignedIn, now: i64) -> Result<Opened, crate::pki::PkiError> {
        let secret = random_hex(32)?;
        let ends_at = signed_in.expires_at.min(now.saturating_add(MAX_SECS));
        let session = Session {
            signed_in,
            csrf: random_hex(32)?,
            ends_at,
            last_used: now,
        };
        let mut open = self.lock();
        open.retain(|_, s| live(s, now));
        if open.len() >= MAX_SESSIONS {
            if let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k)
            {
                open.remove(&oldest);
            }
        }
        open.insert(sha256(secret.as_bytes()), session.clone());
        Ok(Opened { secret, session })
    }

    /// The live session of a cookie secret (its use counted as activity).
    pub fn get(&self, secret: &str) -> Option<Session> {
        self.get_at(secret, now_secs())
    }

    fn get_at(&self, secret: &str, now: i64) -> Option<Session> {
        let key = sha256(secret.as_bytes());
        let mut open = self.lock();
        match open.get_mut(&key) {
            Some(s) if live(s, now) => {
                s.last_used = now;
                Some(s.clone())
            }
            Some(_) => {
                open.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Whether the session of a cookie secret is still live, without counting this as activity
    /// (an open event stream does not keep an idle session alive).
    pub fn alive(&self, secret: &str) -> bool {
        let now = now_secs();
        self.lock()
            .get(&sha256(secret.as_bytes()))
            .is_some_and(|s| live(s, now))
    }

    /// Ends the session of a cookie secret; whether there was one.
    pub fn close(&self, secret: &str) -> bool {
        self.lock().remove(&sha256(secret.as_bytes())).is_some()
    }

    /// How many sessions are open (live or not yet swept).
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn live(s: &Session, now: i64) -> bool {
    now < s.ends_at && now - s.last_used < IDLE_SECS
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use otwatch_common::link::{Identity, OperatorRole};

    fn who(expires_at: i64) -> SignedIn {
        SignedIn {
            identity: Identity::Operator {
                name: "ana".into(),
                role: OperatorRole::Analyst,
            },
            issued_at: 0,
            expires_at,
        }
    }

    #[test]
    fn a_session_lives_until_idle_its_maximum_or_its_credential() {
        let s = Sessions::default();
        let o = s.open_at(who(i64::MAX), 1000).unwrap();
        assert_eq!(o.secret.len(), 64);
        assert_ne!(o.secret, o.session.csrf);
        assert!(s.get_at(&o.secret, 1000 + IDLE_SECS - 1).is_some());
        // Used just now: the idle clock started again.
        assert!(s.get_at(&o.secret, 1000 + 2 * IDLE_SECS - 2).is_some());
        assert!(s.get_at(&o.secret, 1000 + 4 * IDLE_SECS).is_none());
        assert_eq!(s.count(), 0, "an ended session is dropped");

        let o = s.open_at(who(i64::MAX), 0).unwrap();
        let mut t = 0;
        while t + IDLE_SECS / 2 < MAX_SECS {
            t += IDLE_SECS / 2;
            assert!(s.get_at(&o.secret, t).is_some());
        }
        assert!(s.get_at(&o.secret, MAX_SECS).is_none());

        let o = s.open_at(who(500), 0).unwrap();
        assert!(s.get_at(&o.secret, 499).is_some());
        assert!(s.get_at(&o.secret, 500).is_none(), "the token expired");
    }

    #[test]
    fn only_the_secret_opens_a_session_and_logout_ends_it() {
        let s = Sessions::default();
        let o = s.open_at(who(i64::MAX), 0).unwrap();
        assert!(s.get_at(&o.session.csrf, 1).is_none());
        assert!(s.get_at("", 1).is_none());
        assert!(s.close(&o.secret));
        assert!(!s.close(&o.secret));
        assert!(s.get_at(&o.secret, 1).is_none());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
