//! The sensor's side of the sensor–manager link (`proto/otwatch/v1/sensorlink.proto`).
//!
//! - [`enroll`]: `otwatch-sensor enroll` — a fresh ECDSA P-256 key, a CSR, the manager's CA
//!   pinned by the hash in the token, and the files kept in `<state>/uplink/`.
//! - [`tls`]: the pinned-CA verifier used only for enrolment, and the mutual-TLS channel used
//!   for everything after it.
//! - [`outbox`]: the store-and-forward queue in the sensor's sled database: every delta is
//!   committed there with its sequence number before it is sent.
//! - [`diff`]: at each commit of `run`, what changed since the last one becomes deltas.
//! - [`client`]: the thread that streams the outbox to the manager, resends after reconnects,
//!   heartbeats and renews the certificate.

pub mod client;
pub mod diff;
pub mod enroll;
pub mod outbox;
pub mod tls;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The folder under the state directory holding the link's key, certificates and `link.json`.
pub const UPLINK_DIR: &str = "uplink";

/// What enrolment left behind (`<state>/uplink/link.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// The manager's URL as given to `enroll` (`https://HOST:PORT`).
    pub manager: String,
    pub sensor_id: String,
    pub site: String,
    /// When the certificate expires, RFC 3339.
    pub not_after: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UplinkError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is damaged ({detail}); enrol again with `otwatch-sensor enroll`")]
    Damaged { path: String, detail: String },
    #[error("cannot reach the manager at {url}: {detail}; check the URL, the network and that the manager runs")]
    Connect { url: String, detail: String },
    #[error("the manager refused: {0}")]
    Refused(String),
    #[error("certificate: {0}")]
    Pki(String),
    #[error("outbox: {0}")]
    Outbox(#[from] sled::Error),
}

/// The uplink folder of state directory `state`.
pub fn uplink_dir(state: &Path) -> PathBuf {
    state.join(UPLINK_DIR)
}

impl LinkInfo {
    /// Reads `<state>/uplink/link.json`; `Ok(None)` when the sensor is not enrolled.
    pub fn load(state: &Path) -> Result<Option<LinkInfo>, UplinkError> {
        let path = uplink_dir(state).join("link.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(UplinkError::Io {
                    what: "read",
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| UplinkError::Damaged {
                path: path.display().to_string(),
                detail: e.to_string(),
            })
    }

    /// Writes `<state>/uplink/link.json` atomically.
    pub fn save(&self, state: &Path) -> Result<(), UplinkError> {
        let path = uplink_dir(state).join("link.json");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        write_private(&path, text.as_bytes(), 0o644)
    }
}

/// Writes `data` to `path` atomically with permissions `mode` (set before the data lands).
pub(crate) fn write_private(path: &Path, data: &[u8], mode: u32) -> Result<(), UplinkError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |what, source| UplinkError::Io {
        what,
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io("create", e))?;
    // A half-written file (a full disk) does not stay behind.
    let written = f
        .write_all(data)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", e));
    }
    Ok(())
}

/// Reads a text file of the uplink folder.
pub(crate) fn read_text(path: &Path) -> Result<String, UplinkError> {
    std::fs::read_to_string(path).map_err(|source| UplinkError::Io {
        what: "read",
        path: path.display().to_string(),
        source,
    })
}

/// Now, RFC 3339 UTC (the wall clock: deltas say when the sensor made them).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    otwatch_common::Timestamp::from_secs_nanos(d.as_secs(), u64::from(d.subsec_micros()) * 1000)
        .rfc3339()
}

/// This machine's host name (empty when unknown).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().chars().take(253).collect())
        .unwrap_or_default()
}
