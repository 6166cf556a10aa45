//! The asset map's data: every asset of the scope a node (identity, Purdue level, risk and the
//! marks the risk assessment gives it) and every conversation between two of them an edge,
//! from the same gathered data as the risk report, so the map and the report never disagree.

use crate::cli::report::model::Data;
use otwatch_proto::v1::FleetAlert;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// One asset on the map.
#[derive(Serialize, Debug)]
pub struct Node {
    pub id: String,
    pub site: String,
    pub label: String,
    #[serde(rename = "type")]
    pub device_type: String,
    /// Purdue level; None: unknown.
    pub level: Option<u32>,
    pub vendor: String,
    pub model: String,
    pub ips: Vec<String>,
    /// 0-100, from the risk assessment.
    pub risk: f64,
    pub internet: bool,
    pub shadow: bool,
    pub spof: bool,
    /// Open alerts about it.
    pub alerts: u64,
    pub protocols: Vec<String>,
    /// The /24 of its first IPv4 address (empty without one), for the subnet filter.
    pub subnet: String,
}

/// A conversation between two assets (either direction).
#[derive(Serialize, Debug)]
pub struct Edge {
    pub source: String,
    pub target: String,
    pub bytes: u64,
    pub packets: u64,
    pub protocols: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The /24 of an IPv4 address ("10.0.1.0/24"), empty for anything else.
fn subnet(ip: &str) -> String {
    match ip.parse::<std::net::Ipv4Addr>() {
        Ok(a) => {
            let [x, y, z, _] = a.octets();
            format!("{x}.{y}.{z}.0/24")
        }
        Err(_) => String::new(),
    }
}

/// How many of `alerts` are about each fleet asset of `data` (an alert names the asset by the
/// id its sensor gave it).
fn alerts_per_asset(data: &Data, alerts: &[FleetAlert]) -> HashMap<String, u64> {
    let mut fleet_id: HashMap<(&str, &str), &str> = HashMap::new();
    for fa in &data.assets {
        for p in &fa.seen_by {
            fleet_id.insert((&p.sensor_id, &p.sensor_asset_id), &fa.id);
        }
    }
    let mut counts: HashMap<String, u64> = HashMap::new();
    for fa in alerts {
        let Some(a) = &fa.alert else { continue };
        if let Some(id) = fleet_id.get(&(fa.sensor_id.as_str(), a.asset.as_str())) {
            *counts.entry((*id).to_string()).or_default() += 1;
        }
    }
    counts
}

/// The map of `data`, with the open `alerts` counted on their assets.
pub fn graph(data: &Data, alerts: &[FleetAlert]) -> Graph {
    let open_alerts = alerts_per_asset(data, alerts);
    let mut nodes = Vec::with_capacity(data.assets.len());
    let mut edges = Vec::new();
    for site in data.site_parts() {
        let by_id: HashMap<&str, _> = site.assets.iter().map(|a| (a.id.as_str(), *a)).collect();
        for n in site.nodes() {
            let fa = by_id.get(n.id.as_str());
            let a = fa.and_then(|fa| fa.asset.as_ref());
            let protocols: BTreeSet<&str> = a
                .iter()
                .flat_map(|a| &a.protocols)
                .map(|p| p.name.as_str())
                .collect();
            let ips = a.map(|a| a.ips.clone()).unwrap_or_default();
            nodes.push(Node {
                site: site.name.to_string(),
                device_type: a
                    .map(|a| a.device_type.as_str())
                    .filter(|t| !t.is_empty())
                    .unwrap_or("unknown")
                    .to_string(),
                vendor: otwatch_advisories::identity::vendor_name(
                    a.map_or("", |a| a.vendor.as_str()),
                ),
                model: a.map(|a| a.model.clone()).unwrap_or_default(),
                subnet: ips
                    .iter()
                    .map(|ip| subnet(ip))
                    .find(|s| !s.is_empty())
                    .unwrap_or_default(),
                ips,
                protocols: protocols.into_iter().map(str::to_string).collect(),
                alerts: open_alerts.get(&n.id).copied().unwrap_or(0),
                id: n.id,
                label: n.label,
                level: n.level,
                risk: n.risk,
                internet: n.internet,
                shadow: n.shadow,
                spof: n.spof,
            });
        }
        for c in data.conversations(site.name, &site.assets) {
            edges.push(Edge {
                source: c.a,
                target: c.b,
                bytes: c.bytes,
                packets: c.packets,
                protocols: c.protocols.into_iter().collect(),
            });
        }
    }
    Graph { nodes, edges }
}
