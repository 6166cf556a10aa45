//! otwatch's analysis core: bytes of captured frames in, inventory and alerts out, with no I/O
//! of its own (no sockets, no store, no runtime). The sensor drives it from capture files and
//! live rings; the fuzz targets drive it from arbitrary bytes.
//!
//! A tour in data-flow order:
//! - [`capture`]: the frames it takes in, the [`capture::PacketSource`] seam and the
//!   capture-file formats (pcap, pcapng) over any `std::io::Read`.
//! - [`decode`]: zero-copy views of L2–L4 headers (Ethernet, VLAN, ARP, IPv4/6, TCP, UDP,
//!   ICMP), IPv4 fragment reassembly.
//! - [`flow`]: the bidirectional flow table, TCP state and per-direction stream reassembly.
//! - [`protocols`]: one dissector per protocol behind the [`protocols::Dissector`] seam.
//! - [`inventory`]: folds observations and flow counters into assets and connections.
//! - [`detect`]: alerts from the same observations: operations on controllers, attacks,
//!   deviations from a learned policy, analyst rules and indicators of compromise.
//! - [`pipeline`]: wires them together, one frame at a time.
//! - [`hash`]: the seeded hashers of every table keyed by what an attacker sends.
#![forbid(unsafe_code)]

pub mod capture;
pub mod decode;
pub mod detect;
pub mod flow;
pub mod hash;
pub mod inventory;
pub mod pipeline;
pub mod protocols;
