//! The otwatch sensor as a library: everything but argument parsing lives here.
//!
//! The analysis itself (decode, flows, dissectors, inventory, detection, the pipeline that joins
//! them, and the capture-file formats) is the sans-I/O crate `otwatch_analysis`, re-exported
//! here under the same module names. The sensor adds what needs the outside world:
//! - [`capture`]: the live sources on the kernel's rings ([`capture::af_packet`],
//!   [`capture::af_xdp`]) beside the analysis core's frame types and file readers.
//! - [`analyze`]: capture files in, inventory out.
//! - [`store`]: the sled-backed state that lets a later run continue an inventory.
//! - [`run`]: the same pipeline on live interfaces, with workers, periodic commits and
//!   [`metrics`]; settings from [`config`]. It also replays capture files (`run --pcap`).
//! - [`uplink`]: enrolment with a manager and the store-and-forward link to it.
//! - [`output`]: the report as JSON and as a table.
//! - [`exit`]: the exit statuses of the commands.
// Unsafe code is denied everywhere except the two capture ring modules (capture/af_packet.rs,
// capture/af_xdp.rs), which opt in and justify every block.
#![deny(unsafe_code)]

pub mod analyze;
pub mod capture;
pub mod config;
pub mod exit;
pub mod metrics;
pub mod output;
pub mod run;
pub mod store;
pub mod uplink;

pub use otwatch_analysis::{decode, detect, flow, hash, inventory, pipeline, protocols};

/// The version `--version` prints and the sensor reports to its manager: the package version
/// and the commit it was built from with the commit's date ("0.1.0 (a1b2c3d4e5f6 2026-12-07)"),
/// or "unknown" when built outside a git checkout (build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OTWATCH_COMMIT"), ")");
