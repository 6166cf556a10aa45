//! otwatch manager: enrolment, fleet ingest, the fleet view and the operator API.
//!
//! A tour:
//! - [`pki`]: the manager's CA (ECDSA P-256), server, sensor and operator certificates;
//!   identities are SAN URIs (`otwatch_common::link::Identity`).
//! - [`store`]: the [`store::FleetStore`] seam and its sled implementation; a sensor's batch is
//!   applied in one transaction with its last applied sequence number, flushed before the ack.
//! - [`fleet`]: merging the sensors' assets and connections into one view per site;
//!   [`view`] keeps the merged assets up to date as batches arrive; [`ingest`] is the single
//!   writer of sensor batches (group commit, then the view).
//! - [`tls`]: the rustls server (optional client certificates, revoked sensors refused at the
//!   handshake) and client helpers (pinned-CA discovery, mTLS channels).
//! - [`api`]: the `SensorLink` and `Manager` gRPC services; [`serve`] runs them
//!   ([`serve::start`]); [`admin`]: offline `token create` / `user create`; [`health`]: the
//!   `health` probe of a running manager.
//! - [`cli`]: the operator CLI `otwatch`.
//! - [`advisories`]: security advisories imported into the store, the catalog assets are
//!   matched against when they are served.
//! - [`retention`]: records past their kind's limit removed continuously (clock: [`clock`]);
//!   [`metrics`]: the Prometheus exposition at `GET /metrics`.
//! - [`risk`]: the inventory report of sites that GetRisk assesses with `otwatch_risk`, and
//!   the daily score trend; [`approvals`]: the sites' approved inventories (shadow devices).
#![forbid(unsafe_code)]

pub use otwatch_common as common;

/// The version `--version` prints and the sensor reports to its manager: the package version
/// and the commit it was built from with the commit's date ("0.1.0 (a1b2c3d4e5f6 2026-12-07)"),
/// or "unknown" when built outside a git checkout (build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OTWATCH_COMMIT"), ")");

pub mod admin;
pub mod advisories;
pub mod api;
pub mod approvals;
pub mod cli;
pub mod clock;
pub mod console;
pub mod demo;
pub mod fleet;
pub mod follow;
pub mod forward;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod pki;
pub mod playbook;
pub mod retention;
pub mod risk;
pub mod serve;
pub mod store;
pub mod tls;
pub mod view;

// The manager allocates and frees many small objects per delta on several threads (decode,
// store, view); mimalloc keeps that cheap where glibc's allocator contends and fragments.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
