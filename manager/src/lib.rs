//! otwatch manager: fleet ingest, aggregation, risk scoring and the operator API.
//!
//! The manager aggregates what many sensors see. Its ingest, fleet store and API arrive with
//! the sensor–manager link; see `docs/ARCHITECTURE.md` for where each part will live.
#![forbid(unsafe_code)]

pub use otwatch_common as common;
