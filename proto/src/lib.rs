//! The otwatch model. The `.proto` files under `otwatch/v1/` are the single source of truth: the
//! messages generated from `inventory.proto` are the report types (the sensor's JSON report is
//! them serialised with serde, see `build.rs`), and with feature `grpc` the sensor–manager link
//! (`SensorLink`) and the operator API (`Manager`) are generated too.
#![forbid(unsafe_code)]

/// `otwatch/v1/inventory.proto`: assets, connections, alerts and the inventory report.
pub const INVENTORY_PROTO: &str = include_str!("../otwatch/v1/inventory.proto");
/// `otwatch/v1/sensorlink.proto`: enrolment and delta sync between a sensor and its manager.
pub const SENSORLINK_PROTO: &str = include_str!("../otwatch/v1/sensorlink.proto");
/// `otwatch/v1/manager.proto`: the manager's API.
pub const MANAGER_PROTO: &str = include_str!("../otwatch/v1/manager.proto");

/// The encoded `FileDescriptorSet` of every otwatch proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/otwatch_descriptor.bin"));

/// Generated messages (and, with feature `grpc`, clients and servers) of package `otwatch.v1`.
pub mod v1 {
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    include!(concat!(env!("OUT_DIR"), "/otwatch.v1.rs"));
}

mod report;

/// serde's test for a number left out of the JSON when unset (see build.rs).
pub fn is_zero(v: &u32) -> bool {
    *v == 0
}
