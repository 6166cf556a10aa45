//! The asset map's data: every asset of the scope a node (identity, Purdue level, risk and the
//! marks the risk assessment gives it) and every conversation between two of them an edge,
//! from the same gathered data as the risk report, so the map and the report never disagree.

use crate::cli::report::model::{display_name, site_of, Data};
use otwatch_proto::v1::{FleetAlert, FleetAsset};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

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
    /// The two assets, as indices into [`Graph::nodes`] (a browser builds 50,000 edges from
    /// numbers much faster than from ids; the smaller index first).
    pub source: u32,
    pub target: u32,
    pub bytes: u64,
    pub packets: u64,
    pub protocols: Vec<String>,
}

/// Every asset of the scope, site by site (sites in name order, assets as listed), and one
/// edge per pair of assets that talked.
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

/// The map of `data`, with the open `alerts` counted on their assets: the nodes' marks and
/// risk are the assessment's, the edges the report's conversations (`Data::conversations`).
pub fn graph(data: &Data, alerts: &[FleetAlert]) -> Graph {
    let open_alerts = alerts_per_asset(data, alerts);
    let r = &data.risk;
    let risk: HashMap<&str, f64> = r
        .assets
        .iter()
        .map(|a| (a.asset.as_str(), a.risk))
        .collect();
    let internet: HashSet<&str> = r.internet.iter().map(|e| e.asset.as_str()).collect();
    let spof: HashSet<&str> = r
        .single_points_of_failure
        .iter()
        .map(|s| s.asset.as_str())
        .collect();
    let mut nodes = Vec::with_capacity(data.assets.len());
    let mut edges = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::with_capacity(data.assets.len());
    let mut by_site: HashMap<&str, Vec<&FleetAsset>> = HashMap::new();
    for fa in &data.assets {
        by_site.entry(site_of(&fa.id)).or_default().push(fa);
    }
    for site in &data.sites {
        let assets = by_site.remove(site.as_str()).unwrap_or_default();
        for fa in &assets {
            index.insert(&fa.id, nodes.len() as u32);
            nodes.push(node(fa, site, &risk, &internet, &spof, &open_alerts));
        }
        for c in data.conversations(site, &assets) {
            let (Some(&a), Some(&b)) = (index.get(c.a.as_str()), index.get(c.b.as_str())) else {
                continue;
            };
            edges.push(Edge {
                source: a.min(b),
                target: a.max(b),
                bytes: c.bytes,
                packets: c.packets,
                protocols: c.protocols.into_iter().collect(),
            });
        }
    }
    Graph { nodes, edges }
}

/// One asset of `site` as a node.
fn node(
    fa: &FleetAsset,
    site: &str,
    risk: &HashMap<&str, f64>,
    internet: &HashSet<&str>,
    spof: &HashSet<&str>,
    open_alerts: &HashMap<String, u64>,
) -> Node {
    let id = fa.id.as_str();
    let a = fa.asset.as_ref();
    let protocols: BTreeSet<&str> = a
        .iter()
        .flat_map(|a| &a.protocols)
        .map(|p| p.name.as_str())
        .collect();
    let ips = a.map(|a| a.ips.clone()).unwrap_or_default();
    Node {
        id: id.to_string(),
        site: site.to_string(),
        label: display_name(fa).to_string(),
        device_type: a
            .map(|a| a.device_type.as_str())
            .filter(|t| !t.is_empty())
            .unwrap_or("unknown")
            .to_string(),
        level: a.and_then(|a| a.purdue_level),
        vendor: otwatch_advisories::identity::vendor_name(a.map_or("", |a| a.vendor.as_str())),
        model: a.map(|a| a.model.clone()).unwrap_or_default(),
        subnet: ips
            .iter()
            .map(|ip| subnet(ip))
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        ips,
        risk: risk.get(id).copied().unwrap_or(0.0),
        internet: internet.contains(id),
        shadow: fa.shadow,
        spof: spof.contains(id),
        alerts: open_alerts.get(id).copied().unwrap_or(0),
        protocols: protocols.into_iter().map(str::to_string).collect(),
    }
}
