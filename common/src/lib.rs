//! The otwatch domain model shared by the sensor and the manager.
//!
//! - [`model`]: the report types (asset, connection, alert, stats) whose field names follow
//!   `proto/otwatch/v1/inventory.proto`; serialised with serde they are the proto3 JSON mapping.
//! - [`observation`]: the small owned facts dissectors emit ("10.0.0.5 answered DHCP with
//!   hostname PLC-7"), which the inventory folds in.
//! - [`addr`]: MAC addresses and the text forms of addresses.
//! - [`time`]: packet timestamps and their RFC 3339 form.
//! - [`tls`]: certificate hashes and the pinned-CA verifier used to enrol.
//! - [`exit`]: the exit statuses of the three programs and their `--help` lines.
//! - `cli` (feature `cli`): the `completions` and `man` commands of the three programs, and the
//!   checks of their command trees (help on everything, every command in docs/CLI.md).
//! - `disk` (feature `disk`): free space, the reserve file and half-written snapshots of the
//!   sled stores.
//! - `advisories` (feature `advisories`): security advisories loaded from files (CSAF, CVE
//!   records, CISA KEV) and the vulnerabilities they give assets; sensor and manager share it.
//! - [`link`]: enrolment tokens, certificate identities and operator roles of the sensor–manager link.
//! - [`terminal`]: what reaches a terminal: escaped text, tables fitted to its width, JSON
//!   with controls and bidi marks escaped (feature `cli`), and the order of addresses.
//! - [`vocab`]: the valid values of the model's string fields (device types, protocols, alert
//!   kinds, severities and states) and the Purdue level range.
#![forbid(unsafe_code)]

pub mod addr;
#[cfg(feature = "advisories")]
pub mod advisories;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "disk")]
pub mod disk;
pub mod error;
pub mod exit;
pub mod link;
#[cfg(feature = "logging")]
pub mod logging;
pub mod model;
pub mod observation;
pub mod terminal;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod vocab;

pub use addr::Mac;
pub use time::Timestamp;
