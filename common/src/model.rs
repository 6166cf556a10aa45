//! Report types: the messages generated from `proto/otwatch/v1/inventory.proto` (crate
//! `otwatch-proto`), which derive serde. Serialised with serde_json they are that proto's JSON
//! mapping with the original field names, in declaration order, which is the contract of
//! `otwatch-sensor analyze --format json`; the same values go on the sensor–manager link as
//! prost bytes. There is no second copy of the model to keep in step.

pub use otwatch_proto::v1::{
    AccessedRanges, Alert, AlertEvidence, Asset, AssetRisk, CaptureSource, CaptureStats,
    CleartextLogin, Connection, Evidence, InternetExposure, InventoryReport, LevelSkip,
    ProtocolUse, PublishedStream, Remediation, RiskAssessment, RiskFinding, ScorePoint,
    ShadowDevice, SinglePointOfFailure, Vulnerability,
};

/// The value of [`RiskAssessment::schema`].
pub const RISK_SCHEMA: &str = "otwatch.risk.v1";

/// The value of [`InventoryReport::schema`].
pub const INVENTORY_SCHEMA: &str = "otwatch.inventory.v1";
