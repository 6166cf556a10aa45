//! How `otwatch` reports a failure: one line saying what failed (a refused call as the meaning
//! of its gRPC code and the manager's message, never tonic's debug form with metadata and
//! detail bytes), then, for the usual situations, a `hint:` line saying what to do.

use crate::tls::ConnectError;
use otwatch_common::error::one_line;
use std::fmt;

/// A call the manager refused or that could not reach it, shown as one clear line. Its
/// source is the status's own (the transport error of an unreachable manager, which names
/// the TLS alert of a refused handshake).
#[derive(Debug)]
pub struct CallError(pub tonic::Status);

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use tonic::Code;
        let what = match self.0.code() {
            Code::Ok => "no error",
            Code::Cancelled => "the call was cancelled",
            Code::Unknown | Code::Internal => "the manager failed",
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => "refused",
            Code::DeadlineExceeded => "the call took too long",
            Code::NotFound => "not found",
            Code::AlreadyExists => "already exists",
            Code::PermissionDenied => "permission denied",
            Code::ResourceExhausted => "over a limit of the manager",
            Code::Aborted => "aborted",
            Code::Unimplemented => {
                "the manager does not know this call (is it older than otwatch?)"
            }
            Code::Unavailable => "the manager is unreachable",
            Code::DataLoss => "data lost",
            Code::Unauthenticated => "not authenticated",
        };
        match self.0.message() {
            "" => f.write_str(what),
            m => write!(f, "{what}: {m}"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

/// A failed call as the error `otwatch` shows ([`CallError`]).
pub fn status_err(e: tonic::Status) -> anyhow::Error {
    anyhow::Error::new(CallError(e))
}

/// `e` as `otwatch` prints it: one line, then a `hint:` line when [`hint`] has one.
pub fn explain(e: &anyhow::Error, url: &str) -> String {
    let line = one_line(e.as_ref());
    match hint(e, url) {
        Some(h) => format!("{line}\nhint: {h}"),
        None => line,
    }
}

/// What to do about `e`, for the usual mistakes; `url` is the manager `otwatch` talked to.
pub fn hint(e: &anyhow::Error, url: &str) -> Option<String> {
    const NEW_CREDENTIALS: &str = "an admin creates new credentials with `otwatch-manager user create --name NAME --role ROLE` (add --auth-token for a bearer token)";
    for cause in e.chain() {
        if let Some(ConnectError::Silent { secs, .. }) = cause.downcast_ref::<ConnectError>() {
            return Some(format!(
                "it waited {secs} s; if the manager is only slow to answer, give it longer with --timeout SECS"
            ));
        }
        if let Some(CallError(s)) = cause.downcast_ref::<CallError>() {
            let m = s.message();
            match s.code() {
                tonic::Code::PermissionDenied if m.contains("revoked") => {
                    return Some(format!("these credentials were revoked; {NEW_CREDENTIALS}"));
                }
                tonic::Code::PermissionDenied if m.contains("not an operator") => {
                    return Some(format!(
                        "--cred must hold operator credentials, not a sensor's; {NEW_CREDENTIALS}"
                    ));
                }
                tonic::Code::PermissionDenied => {
                    return Some(format!("your role does not allow this: viewer reads; analyst also acknowledges and resolves alerts and approves assets; admin also creates enrolment tokens and revokes sensors and operators; {NEW_CREDENTIALS}"));
                }
                tonic::Code::Unauthenticated => {
                    return Some(format!("the manager does not accept these credentials: a bearer token that expired, was revoked or is mistyped, or none at all (--cred DIR or --auth-token TOKEN); {NEW_CREDENTIALS}"));
                }
                _ => {}
            }
        }
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return Some(refused(url));
        }
    }
    // TLS failures reach here as text: the transport wraps rustls's error in an io::Error,
    // which does not give it out as a source. Their names are rustls's (and TLS alerts').
    let text = one_line(e.as_ref());
    let has = |names: &[&str]| names.iter().any(|n| text.contains(n));
    if has(&["Connection refused", "connection refused"]) {
        Some(refused(url))
    } else if has(&["UnknownIssuer", "BadSignature", "invalid peer certificate"])
        && !has(&["NotValidForName", "Expired"])
    {
        Some(format!("the --cred / --ca files are not from this manager's CA (the manager at {url} presented a certificate their ca.pem did not sign); create credentials for this manager with `otwatch-manager user create --state DIR` on its state directory"))
    } else if has(&["UnknownCA", "BadCertificate"]) {
        Some("the manager does not trust this client certificate: the --cred files are from another manager's CA; create credentials for this manager with `otwatch-manager user create --state DIR` on its state directory".into())
    } else if has(&["NotValidForName"]) {
        Some(format!("the manager's certificate is not for the host of {url}; use a name or address it was made for (`otwatch-manager init --san`)"))
    } else if has(&["CertificateRevoked", "Revoked"]) {
        Some(format!("this certificate was revoked; {NEW_CREDENTIALS}"))
    } else if has(&["CertificateExpired", "Expired"]) {
        Some(format!("this certificate expired; {NEW_CREDENTIALS}"))
    } else if has(&["broken pipe", "connection reset", "connection closed"]) {
        // With TLS 1.3 the client may be writing its first request when the manager refuses
        // its certificate, and then sees the connection close rather than the alert.
        Some("the manager closed the connection: if it did so at once, it refused this certificate at the handshake (revoked, expired or from another manager's CA); the manager's log says which".into())
    } else if has(&["failed to lookup address", "Name or service not known"]) {
        Some(format!(
            "the host of {url} has no address; check --manager / OTWATCH_MANAGER"
        ))
    } else {
        None
    }
}

fn refused(url: &str) -> String {
    format!("is `otwatch-manager serve` running at {url}? check --manager / OTWATCH_MANAGER")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://127.0.0.1:7443";

    fn call(code: tonic::Code, m: &str) -> anyhow::Error {
        status_err(tonic::Status::new(code, m))
    }

    #[test]
    fn a_refused_call_is_one_line_without_grpc_details() {
        let mut s = tonic::Status::with_details(
            tonic::Code::PermissionDenied,
            "role viewer cannot acknowledge alerts; ask an admin for the analyst role",
            vec![1, 2, 3].into(),
        );
        s.metadata_mut()
            .insert("x-secret", tonic::metadata::MetadataValue::from_static("v"));
        let e = status_err(s);
        let shown = explain(&e, URL);
        assert_eq!(
            shown.lines().next(),
            Some("permission denied: role viewer cannot acknowledge alerts; ask an admin for the analyst role")
        );
        assert!(
            !shown.contains("x-secret") && !shown.contains("details"),
            "{shown}"
        );
        assert!(
            shown.contains("\nhint: your role does not allow this"),
            "{shown}"
        );
    }

    #[test]
    fn each_usual_failure_has_its_hint() {
        let hint = |e: anyhow::Error| hint(&e, URL).unwrap_or_default();
        assert!(
            hint(call(tonic::Code::Unauthenticated, "unknown operator token"))
                .contains("expired, was revoked")
        );
        assert!(hint(call(
            tonic::Code::PermissionDenied,
            "the certificates of operator bob were revoked at 2024-01-01T00:00:00Z"
        ))
        .starts_with("these credentials were revoked"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(
            hint(anyhow::Error::new(refused).context("connecting")).contains(&format!(
                "running at {URL}? check --manager / OTWATCH_MANAGER"
            ))
        );
        let silent = ConnectError::Silent {
            url: URL.into(),
            secs: 3,
        };
        assert!(hint(silent.into()).contains("waited 3 s"));
        assert!(
            hint(anyhow::anyhow!("invalid peer certificate: UnknownIssuer"))
                .contains("not from this manager's CA")
        );
        assert!(hint(anyhow::anyhow!("received fatal alert: UnknownCA"))
            .contains("another manager's CA"));
        assert_eq!(hint(call(tonic::Code::NotFound, "no alert x")), "");
    }
}
