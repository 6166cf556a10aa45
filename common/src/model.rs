//! Report types. Field names and meaning follow `proto/otwatch/v1/inventory.proto`; serialised
//! with serde_json they are that proto's JSON mapping (original field names), which is the
//! contract of `otwatch-sensor analyze --format json`. A test in this crate checks that every
//! field here is declared in the proto under the same name.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of [`InventoryReport::schema`].
pub const INVENTORY_SCHEMA: &str = "otwatch.inventory.v1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryReport {
    pub schema: String,
    pub stats: CaptureStats,
    pub assets: Vec<Asset>,
    pub connections: Vec<Connection>,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub decode_errors: u64,
    pub first_packet: String,
    pub last_packet: String,
    #[serde(default)]
    pub decode_errors_by_kind: BTreeMap<String, u64>,
    #[serde(default)]
    pub limits: BTreeMap<String, u64>,
    #[serde(default)]
    pub protocol_violations: BTreeMap<String, u64>,
    #[serde(default)]
    pub sources: Vec<CaptureSource>,
}

/// Counters of one live capture socket (see the proto).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureSource {
    pub interface: String,
    pub queue: u32,
    pub mode: String,
    pub packets: u64,
    pub bytes: u64,
    pub kernel_drops: u64,
    pub freezes: u64,
    pub rx_ring_full: u64,
    pub fill_ring_empty: u64,
    pub invalid_descs: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub macs: Vec<String>,
    pub ips: Vec<String>,
    pub vendor: String,
    pub hostname: String,
    pub model: String,
    pub firmware: String,
    pub os: String,
    pub serial: String,
    pub device_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purdue_level: Option<u32>,
    pub protocols: Vec<ProtocolUse>,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: String,
    pub last_seen: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// 802.1Q VLAN ids the asset's addresses were seen on (its zone); absent when untagged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProtocolUse {
    pub name: String,
    pub role: String,
    pub port: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    pub field: String,
    pub value: String,
    pub source: String,
    pub first_seen: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub client: String,
    pub server: String,
    pub transport: String,
    pub port: u32,
    pub protocol: String,
    pub packets: u64,
    pub bytes: u64,
    pub function_codes: Vec<String>,
    pub operations: Vec<String>,
    #[serde(default)]
    pub cleartext_logins: Vec<CleartextLogin>,
    pub first_seen: String,
    pub last_seen: String,
    pub flows: u64,
    #[serde(default)]
    pub accessed: Vec<AccessedRanges>,
    /// 802.1Q VLAN id of the connection's packets; absent (0) when untagged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vlan: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Addresses the client read, wrote or commanded in one data area of the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessedRanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<u32>,
    pub area: String,
    pub op: String,
    pub ranges: String,
    #[serde(default)]
    pub dropped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CleartextLogin {
    pub user: String,
    pub protocol: String,
    pub first_seen: String,
}

/// An alert (see the proto for the meaning of each field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub kind: String,
    pub severity: String,
    pub title: String,
    pub description: String,
    pub mitre: Vec<String>,
    pub src: String,
    pub dst: String,
    pub asset: String,
    pub protocol: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    pub evidence: Vec<AlertEvidence>,
}

/// One fact behind an alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertEvidence {
    pub field: String,
    pub value: String,
}
