//! `otwatch-manager health`: asks the manager serving a state directory, over TLS, whether it
//! serves (gRPC health, `grpc.health.v1.Health/Check`). For probes that cannot speak TLS
//! themselves: a Kubernetes exec probe, the Ansible role's check after an upgrade, a script.
//! It needs only the state directory's `ca.pem`, `server.pem` and `serving` (no key, no client
//! certificate: the health service answers anyone who completes the TLS handshake).

use crate::admin::{local_channel, AdminError};
use crate::pki::DataDir;
use std::path::Path;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// The service whose status `health` asks for by default: the operator API, which is
/// registered together with SensorLink once the store is open and the fleet view built.
pub const MANAGER_SERVICE: &str = "otwatch.v1.Manager";

/// Why the manager is not healthy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    #[error("{}: {source}; is this the state directory `otwatch-manager init` made?", path.display())]
    Ca {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// No manager serves the directory: `serve` writes `serving` once it listens, and removes
    /// it when it stops.
    #[error("no manager serves {}: {} is missing (`otwatch-manager serve` writes it once it listens)", data.display(), serving.display())]
    NotRunning {
        data: std::path::PathBuf,
        serving: std::path::PathBuf,
    },
    /// No manager answers at the recorded address (stopped without removing it, or not yet
    /// accepting).
    #[error(transparent)]
    Unreachable(AdminError),
    /// The manager answered with an error (e.g. NOT_FOUND for a service it does not serve).
    #[error("the manager answered the health check with an error: {}", .0.message())]
    Refused(tonic::Status),
    /// The manager answered, but not SERVING.
    #[error("the manager reports {service:?} as {status}")]
    NotServing { service: String, status: String },
}

/// Checks that the manager serving `data` reports `service` (empty: the server as a whole) as
/// SERVING, waiting at most `timeout` for the connection and for the answer.
pub async fn check(data: &Path, service: &str, timeout: Duration) -> Result<(), HealthError> {
    let dir = DataDir(data.to_path_buf());
    let ca_pem = std::fs::read_to_string(dir.ca_pem()).map_err(|source| HealthError::Ca {
        path: dir.ca_pem(),
        source,
    })?;
    let ch = local_channel(data, &ca_pem, None, timeout)
        .await
        .map_err(|e| match e {
            AdminError::NotServing { serving, .. } => HealthError::NotRunning {
                data: data.to_path_buf(),
                serving,
            },
            e => HealthError::Unreachable(e),
        })?;
    let answer = HealthClient::new(ch)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .map_err(HealthError::Refused)?
        .into_inner();
    match ServingStatus::try_from(answer.status) {
        Ok(ServingStatus::Serving) => Ok(()),
        status => Err(HealthError::NotServing {
            service: service.to_string(),
            status: status
                .map(|s| s.as_str_name().to_string())
                .unwrap_or_else(|_| format!("status {}", answer.status)),
        }),
    }
}
