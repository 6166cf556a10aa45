//! Flows: the bidirectional flow table, TCP state and per-direction stream reassembly.

pub mod reassembly;
pub mod table;

pub use table::{FlowConfig, FlowEvent, FlowStats, FlowSummary, FlowTable};
