//! Playbooks: on an alert matching a playbook's filter, run its actions in order (a signed
//! webhook, an email over SMTP with STARTTLS, a ticket JSON, the alert's state, tags on the
//! asset), with templated text and a dry-run mode. docs/PLAYBOOKS.md is the user's guide.
//!
//! A tour:
//! - [`config`]: the playbook file (`[[playbook]]`, `[[playbook.action]]`), checked with file,
//!   line and reason on every refusal, like the forwarding file; the filter is a forwarding
//!   rule, matched by [`crate::forward::event::matches`].
//! - [`template`]: `{{alert.title}}`-style placeholders, parsed (and unknown ones refused) when
//!   the file is read, rendered from the alert's forwarding [`crate::forward::Event`].
//! - [`smtp`]: the email action's SMTP client (STARTTLS verified against a configured CA,
//!   AUTH PLAIN or LOGIN, dot-stuffed DATA).
//! - [`run`]: one action run on an alert (the external ones done, the store changes returned),
//!   and its rendered description for dry runs.
//! - [`runner`]: one task per playbook runs it on the alerts of its durable queue (filled in
//!   the transaction that stores an alert, beside the forwarding destinations' queues), logs
//!   each run, and tries a failed run again up to `max_attempts`.

pub mod config;
pub mod run;
pub mod runner;
pub mod smtp;
pub mod template;

pub use config::{Action, Playbook, PlaybookConfig};

/// The prefix of playbooks' queues among the forwarding queues (no destination name holds a
/// `:`).
pub const QUEUE_PREFIX: &str = "playbook:";

/// The name of playbook `name`'s queue in the store (beside the forwarding destinations').
pub fn queue_name(name: &str) -> String {
    format!("{QUEUE_PREFIX}{name}")
}

/// The playbook whose queue is `queue`, if it is one.
pub fn of_queue(queue: &str) -> Option<&str> {
    queue.strip_prefix(QUEUE_PREFIX)
}
pub use template::Template;
