//! Forwarding alerts and inventory changes to SIEMs, SOAR webhooks and log shippers.
//!
//! A tour:
//! - [`config`]: the forwarding file (`[[destination]]`, `[[rule]]`), checked with file, line
//!   and reason on every refusal.
//! - [`event`]: the forwarded [`event::Event`] and its stable id, and rule matching.
//! - [`queue`]: each destination's durable queue in the fleet store. Events are put there
//!   inside the same transaction that applies the change (a sensor's batch, an operator's
//!   alert state), so a change is applied exactly when its events are queued, and a `kill -9`
//!   loses neither. Bounded per destination; what does not fit is counted, never dropped
//!   silently.
//! - [`deliver`]: one task per destination takes the oldest events, sends them, and removes
//!   them once the destination took them (at least once: a crash between sending and removing
//!   sends them again, with the same ids); failures back off exponentially; events the
//!   destination refuses for good go to a dead-letter list.
//! - [`sinks`], [`syslog`], [`http`], [`tls`], [`format`]: the destinations (syslog RFC 5424
//!   over UDP/TCP/TLS with CEF or LEEF, webhooks signed with HMAC-SHA256, Microsoft Sentinel's
//!   Logs Ingestion API, Splunk HEC, JSON lines) and their payloads.

pub mod addr;
pub mod config;
pub mod deliver;
pub mod edit;
pub mod event;
pub mod expiry;
pub mod format;
pub mod http;
pub mod queue;
pub mod sinks;
pub mod syslog;
pub mod tls;

pub use config::{ConfigError, DestinationConfig, ForwardConfig, QueueConfig, RuleConfig};
pub use event::Event;

use crate::playbook::PlaybookConfig;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// What became of a batch sent to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The destination took it.
    Delivered,
    /// Not now (unreachable, busy, a credential refused): tried again after a pause.
    Retry(String),
    /// Refused for good (the request itself is wrong): the events go to the dead letters.
    Refused(String),
}

/// One destination's counters, kept in the store with its queue (so they survive a restart).
/// Metrics read them through [`crate::store::FleetStore::forward_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardStats {
    /// Events waiting now.
    pub queued: u64,
    /// Their size in the store.
    pub bytes: u64,
    /// Events queued since the destination was first configured.
    pub enqueued_total: u64,
    pub delivered_total: u64,
    /// Events that did not fit in the queue (its bound was reached): not forwarded.
    pub overflowed_total: u64,
    /// Events the destination refused for good, kept in the dead-letter list.
    pub dead_total: u64,
    /// Sending attempts that failed (each retried).
    pub failures_total: u64,
    pub last_error: String,
    /// Unix seconds; 0: never.
    pub last_error_at: i64,
    pub last_delivered_at: i64,
    /// Seconds the delivered events waited in the queue, summed: with `delivered_total`, the
    /// mean delivery latency (a Prometheus summary's `_sum` and `_count`).
    pub delivery_seconds_total: u64,
    /// Events retention removed undelivered (older than the forwarding queues' limit,
    /// docs/RETENTION.md).
    pub expired_total: u64,
    /// Unix seconds the oldest waiting event was queued at; 0 when none waits (computed when
    /// read, not stored).
    pub oldest_at: i64,
}

/// The rules and destinations in force, and the playbooks, shared by the store (which queues
/// events for both) and the tasks that deliver and run them.
#[derive(Debug, Default)]
pub struct Router {
    config: RwLock<Arc<ForwardConfig>>,
    playbooks: RwLock<Arc<PlaybookConfig>>,
    /// The playbook file, when one was read.
    playbooks_file: Option<std::path::PathBuf>,
    /// The forwarding file (changed by `otwatch forwards add|remove`).
    file: std::path::PathBuf,
}

impl Router {
    pub fn new(config: ForwardConfig, file: std::path::PathBuf) -> Router {
        Router {
            config: RwLock::new(Arc::new(config)),
            playbooks: Default::default(),
            playbooks_file: None,
            file,
        }
    }

    /// The same, with `playbooks` (read from `file`) in force.
    pub fn with_playbooks(
        self,
        playbooks: PlaybookConfig,
        file: Option<std::path::PathBuf>,
    ) -> Router {
        Router {
            playbooks: RwLock::new(Arc::new(playbooks)),
            playbooks_file: file,
            ..self
        }
    }

    /// The playbook file, when one was read.
    pub fn playbooks_file(&self) -> Option<&std::path::Path> {
        self.playbooks_file.as_deref()
    }

    /// The playbooks in force.
    pub fn playbooks(&self) -> Arc<PlaybookConfig> {
        self.playbooks.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// What changes are queued for now: destinations by rules, and playbooks.
    pub fn routes(&self) -> Routes {
        Routes {
            forward: self.config(),
            playbooks: self.playbooks(),
        }
    }

    /// The forwarding file.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<ForwardConfig> {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Puts `config` in force for events applied from now on.
    pub fn replace(&self, config: ForwardConfig) {
        if let Ok(mut c) = self.config.write() {
            *c = Arc::new(config);
        }
    }

    /// Whether any rule or playbook exists (none: nothing to look at per change).
    pub fn active(&self) -> bool {
        self.routes().any()
    }
}

/// What a change is queued for, taken once per transaction: the forwarding rules and
/// destinations, and the playbooks (each with its own queue, [`crate::playbook::queue_name`]).
#[derive(Debug, Clone, Default)]
pub struct Routes {
    pub forward: Arc<ForwardConfig>,
    pub playbooks: Arc<PlaybookConfig>,
}

impl Routes {
    /// Whether anything is routed at all (no rule, no playbook: events are not even made).
    pub fn any(&self) -> bool {
        !self.forward.rules.is_empty() || !self.playbooks.playbooks.is_empty()
    }
}

/// The destinations of `e` under `cfg`: each at most once, in configuration order.
pub fn route<'a>(cfg: &'a ForwardConfig, e: &Event) -> Vec<&'a DestinationConfig> {
    cfg.destinations
        .iter()
        .filter(|d| {
            cfg.rules
                .iter()
                .any(|r| r.destination == d.name && event::matches(r, e))
        })
        .collect()
}

/// This machine's host name (syslog HOSTNAME, Splunk `host`).
pub fn manager_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "otwatch-manager".into())
}
