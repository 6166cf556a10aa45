//! Risk in the manager: the inventory report that GetRisk hands to [`otwatch_risk::assess`],
//! built from the sites' merged assets (with the vulnerabilities ListAssets serves them,
//! [`crate::advisories::served_asset`]) and merged connections.
//!
//! The assessment joins a connection to the asset listing its address on the same VLAN and
//! capture segment. Across a fleet those numbers are not unique: two sites may both use VLAN 10
//! and 10.0.0.0/24, and a capture segment is numbered by its own sensor (the fleet view keys
//! addresses on a segment per sensor, [`crate::fleet`]). So each (site, VLAN) and each (sensor,
//! segment) gets its own number here, and one report can hold many sites without a connection
//! of one site ever landing on an asset of another. The numbers appear nowhere in the
//! assessment.
//!
//! Asset ids in the report are the fleet ids (`<site>/<id>`), so the assessment names assets
//! the way `otwatch assets` does.

use crate::advisories::ServedAssets;
use crate::approvals::Approvals;
use crate::pki::rfc3339;
use crate::store::{FleetStore, StoreError};
use crate::view::{Snapshot, Stored};
use otwatch_common::advisories::Catalog;
use otwatch_common::model::{
    Asset, InventoryReport, RiskAssessment, ScorePoint, ShadowDevice, INVENTORY_SCHEMA,
};
use otwatch_proto::v1::{FleetAsset, FleetConnection};
use otwatch_risk::Band;
use rustc_hash::FxHashMap;

/// One site's merged assets (in id order) and merged connections.
pub struct SiteInventory {
    pub assets: Snapshot,
    pub connections: Vec<FleetConnection>,
}

/// Fleet-wide numbers for LANs: (site, VLAN) and (sensor, capture segment).
#[derive(Default)]
struct Lans {
    vlans: FxHashMap<(usize, u32), u32>,
    segments: FxHashMap<(String, u32), u32>,
}

/// The next number of a table holding `len` (from 1; a fleet has far fewer than 2^32 LANs).
fn next(len: usize) -> u32 {
    u32::try_from(len).map_or(u32::MAX, |n| n.saturating_add(1))
}

impl Lans {
    /// VLAN `vlan` (0: untagged) of the `site`-th site.
    fn vlan(&mut self, site: usize, vlan: u32) -> u32 {
        let n = next(self.vlans.len());
        *self.vlans.entry((site, vlan)).or_insert(n)
    }

    /// Capture segment `segment` of `sensor`; 0 (the sensor's default segment, which the fleet
    /// view treats as site-wide) stays 0.
    fn segment(&mut self, sensor: &str, segment: u32) -> u32 {
        if segment == 0 {
            return 0;
        }
        if let Some(&n) = self.segments.get(&(sensor.to_string(), segment)) {
            return n;
        }
        let n = next(self.segments.len());
        self.segments.insert((sensor.to_string(), segment), n);
        n
    }
}

/// A merged asset as the report holds it: served (vulnerabilities attached), named by its fleet
/// id, its VLANs and segments renumbered. A merged asset only says which segments its parts were
/// on, not which sensor saw which, so each segment is taken as seen by each of its sensors.
fn report_asset<'a>(
    served: &mut ServedAssets<'_, 'a>,
    fa: &'a FleetAsset,
    site: usize,
    lans: &mut Lans,
) -> Asset {
    let mut a = match &fa.asset {
        Some(a) => served.serve(a),
        None => Asset::default(),
    };
    a.id.clone_from(&fa.id);
    a.vlans = if a.vlans.is_empty() {
        vec![lans.vlan(site, 0)]
    } else {
        a.vlans.iter().map(|&v| lans.vlan(site, v)).collect()
    };
    if !a.segments.is_empty() {
        let mut segments = Vec::with_capacity(a.segments.len() * fa.seen_by.len());
        for p in &fa.seen_by {
            for &s in &a.segments {
                segments.push(lans.segment(&p.sensor_id, s));
            }
        }
        segments.sort_unstable();
        segments.dedup();
        a.segments = segments;
    }
    a
}

/// The inventory report of `sites`: their assets (each copied once, with the vulnerabilities the
/// catalog states for it) sorted by fleet id, and their connections (moved, not copied).
pub fn inventory(sites: Vec<SiteInventory>, catalog: &Catalog) -> InventoryReport {
    let (snapshots, connections): (Vec<Snapshot>, Vec<Vec<FleetConnection>>) =
        sites.into_iter().map(|s| (s.assets, s.connections)).unzip();
    let mut lans = Lans::default();
    let mut served = ServedAssets::new(catalog);
    let n = snapshots.iter().map(|s| s.len()).sum();
    let mut assets = Vec::with_capacity(n);
    // The view keeps assets encoded; the served assets borrow from the decoded ones for as long
    // as `served` lives.
    let decoded: Vec<Vec<FleetAsset>> = snapshots
        .iter()
        .map(|s| s.iter().map(Stored::decode).collect())
        .collect();
    drop(snapshots);
    for (i, site) in decoded.iter().enumerate() {
        for fa in site {
            assets.push(report_asset(&mut served, fa, i, &mut lans));
        }
    }
    let mut conns = Vec::with_capacity(connections.iter().map(Vec::len).sum());
    for (i, site) in connections.into_iter().enumerate() {
        for fc in site {
            let Some(mut c) = fc.connection else { continue };
            c.vlan = lans.vlan(i, c.vlan);
            // A connection on a segment is merged within its sensor only: it has one sensor.
            let sensor = fc.sensors.first().map_or("", String::as_str);
            c.segment = lans.segment(sensor, c.segment);
            conns.push(c);
        }
    }
    // Each site's assets are in id order; sites in name order are not always in id order
    // ("a-b/..." sorts before "a/...").
    assets.sort_unstable_by(|a: &Asset, b: &Asset| a.id.cmp(&b.id));
    InventoryReport {
        schema: INVENTORY_SCHEMA.to_string(),
        assets,
        connections: conns,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;

/// The shadow devices of `sites` (their inventories, in the same order): assets outside the
/// approved inventory of a site that has one, in fleet id order; and the sites that have none.
pub fn shadow_devices(
    inventories: &[SiteInventory],
    sites: &[String],
    approvals: &Approvals,
) -> (Vec<ShadowDevice>, Vec<String>) {
    let mut shadow = Vec::new();
    let mut unapproved = Vec::new();
    for (inv, site) in inventories.iter().zip(sites) {
        if approvals.count(site) == 0 {
            unapproved.push(site.clone());
            continue;
        }
        for fa in inv
            .assets
            .iter()
            .filter(|fa| approvals.is_shadow_id(fa.id()))
            .map(Stored::decode)
        {
            let a = fa.asset.clone().unwrap_or_default();
            shadow.push(ShadowDevice {
                asset: fa.id.clone(),
                name: a.ips.first().cloned().unwrap_or(a.hostname),
                device_type: a.device_type,
                vendor: a.vendor,
                model: a.model,
                first_seen: a.first_seen,
            });
        }
    }
    shadow.sort_by(|a, b| a.asset.cmp(&b.asset));
    (shadow, unapproved)
}

/// How many days of scores an assessment's trend shows.
pub const TREND_DAYS: usize = 90;

/// The day (UTC) of Unix seconds `secs`: `YYYY-MM-DD`.
pub fn day_of(secs: i64) -> String {
    let mut s = rfc3339(secs);
    s.truncate(10);
    s
}

/// Records `score` as the security score of `scope` (a site; "" for the fleet) on the day of
/// `now`, unless that day already holds it (so assessing again costs no write).
pub fn record_score(
    store: &dyn FleetStore,
    scope: &str,
    now: i64,
    score: u32,
) -> Result<Vec<(String, u32)>, StoreError> {
    let today = day_of(now);
    let mut scores = store.scores(scope)?;
    if scores.last() != Some(&(today.clone(), score)) {
        store.record_score(scope, &today, score)?;
        match scores.last_mut() {
            Some(last) if last.0 == today => last.1 = score,
            _ => scores.push((today, score)),
        }
    }
    Ok(scores)
}

/// [`record_score`], then the last [`TREND_DAYS`] days of `scope`'s scores, oldest first.
pub fn trend(
    store: &dyn FleetStore,
    scope: &str,
    now: i64,
    score: u32,
) -> Result<Vec<ScorePoint>, StoreError> {
    let scores = record_score(store, scope, now, score)?;
    let skip = scores.len().saturating_sub(TREND_DAYS);
    Ok(scores
        .into_iter()
        .skip(skip)
        .map(|(date, security_score)| ScorePoint {
            date,
            security_score,
            band: Band::of(security_score).as_str().to_string(),
        })
        .collect())
}

/// The security score of each site of a fleet assessment, recomputed from its assets' risks
/// (an asset's fleet id starts with its site): (site, score, band, assets at risk). Sites
/// without risky assets score 100.
pub fn site_scores(
    r: &RiskAssessment,
    sites: &[String],
) -> Vec<(String, u32, &'static str, usize)> {
    sites
        .iter()
        .map(|site| {
            let risks: Vec<f64> = r
                .assets
                .iter()
                .filter(|a| a.asset.split_once('/').is_some_and(|(s, _)| s == site))
                .map(|a| a.risk)
                .collect();
            let score = otwatch_risk::site_score(risks.iter().copied());
            (site.clone(), score.score, score.band.as_str(), risks.len())
        })
        .collect()
}

/// The fleet's security score: the mean of its sites' scores, each plant counting once (a
/// product over every asset of the fleet would read critical for any large fleet).
pub fn set_fleet_score(r: &mut RiskAssessment, sites: &[String]) {
    let scores: Vec<u32> = site_scores(r, sites).iter().map(|s| s.1).collect();
    let s = otwatch_risk::fleet_score(scores);
    r.security_score = s.score;
    r.band = s.band.as_str().to_string();
}
