//! Capture: where frames come from.
//!
//! The frame types, the [`PacketSource`] seam and the capture-file readers belong to the
//! analysis core (`otwatch_analysis::capture`, re-exported here); the live sources that need
//! the kernel's rings live in the sensor: [`af_packet`], [`af_xdp`] and the [`live`] interface
//! they share.

pub use otwatch_analysis::capture::*;

#[allow(unsafe_code)]
pub mod af_packet;
#[allow(unsafe_code)]
pub mod af_xdp;
pub mod live;
#[allow(unsafe_code)]
mod mmap;
