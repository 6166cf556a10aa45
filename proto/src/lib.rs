//! The otwatch wire model. The `.proto` files under `otwatch/v1/` are the single source of truth
//! for message and field names; the sensor's JSON output is their proto3 JSON mapping with the
//! original field names. Generated gRPC code joins this crate with the sensor–manager link.
#![forbid(unsafe_code)]

/// `otwatch/v1/inventory.proto`: assets, connections, alerts and the inventory report.
pub const INVENTORY_PROTO: &str = include_str!("../otwatch/v1/inventory.proto");
