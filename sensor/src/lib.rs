//! The otwatch sensor as a library: everything but argument parsing lives here.
//!
//! A tour in data-flow order:
//! - [`capture`]: the [`capture::PacketSource`] seam and capture-file readers (pcap, pcapng).
//! - [`decode`]: zero-copy views of L2–L4 headers (Ethernet, VLAN, ARP, IPv4/6, TCP, UDP,
//!   ICMP), IPv4 fragment reassembly.
//! - [`flow`]: the bidirectional flow table, TCP state and per-direction stream reassembly.
//! - [`protocols`]: one dissector per protocol behind the [`protocols::Dissector`] seam.
//! - [`inventory`]: folds observations and flow counters into assets and connections.
//! - [`detect`]: alerts from the same observations: operations on controllers, attacks,
//!   deviations from a learned policy, analyst rules and indicators of compromise.
//! - [`store`]: the sled-backed state that lets a later run continue an inventory.
//! - [`pipeline`]: wires them together for `analyze`.
//! - [`run`]: the same pipeline on live interfaces ([`capture::af_packet`]), with workers,
//!   periodic commits and [`metrics`]; settings from [`config`]. It also replays capture
//!   files (`run --pcap`).
//! - [`uplink`]: enrolment with a manager and the store-and-forward link to it.
//! - [`exit`]: the exit statuses of the commands.
// Unsafe code is denied everywhere except the two capture ring modules (capture/af_packet.rs,
// capture/af_xdp.rs), which opt in and justify every block.
#![deny(unsafe_code)]

pub mod analyze;
pub mod capture;
pub mod config;
pub mod decode;
pub mod detect;
pub mod exit;
pub mod flow;
pub mod hash;
pub mod inventory;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod protocols;
pub mod run;
pub mod store;
pub mod uplink;
