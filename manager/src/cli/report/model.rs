//! What a report is made of: the data gathered from the manager (the risk assessment, the
//! sites, every asset with its vulnerabilities, every connection), and what the renderers
//! derive from it: the counts and, per site, its part of the assessment. Everything is in a
//! fixed order (ids, then the assessment's own ranking), so the same data gives the same report.

use super::purdue::Node;
use otwatch_proto::v1::{
    AssetRisk, FleetAsset, FleetConnection, InternetExposure, LevelSkip, Remediation,
    RiskAssessment, RiskFinding, ShadowDevice, SinglePointOfFailure, Vulnerability,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The report's input.
#[derive(Clone, Debug, Default)]
pub struct Data {
    /// The site asked for; empty for the fleet.
    pub site: String,
    /// When the report was made (RFC 3339), as it says.
    pub generated_at: String,
    pub risk: RiskAssessment,
    /// The sites in scope, sorted.
    pub sites: Vec<String>,
    pub assets: Vec<FleetAsset>,
    pub connections: Vec<FleetConnection>,
}

/// The numbers of the executive page and of each site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub assets: usize,
    /// Assets with at least one finding.
    pub at_risk: usize,
    /// Vulnerabilities (one per asset and CVE or advisory) by severity; `unscored` has no
    /// CVSS score.
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub unscored: usize,
    /// Vulnerabilities in CISA's Known Exploited Vulnerabilities catalog.
    pub kev: usize,
    pub internet: usize,
    /// Assets reached by remote access (RDP, VNC, SSH, Telnet) into levels 0-2.
    pub remote_access: usize,
    pub level_skips: usize,
    pub shadow: usize,
    pub spof: usize,
}

impl Counts {
    pub fn vulnerabilities(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.unscored
    }

    /// Critical, high, medium, low: the bars of the severity chart.
    pub fn by_severity(&self) -> [usize; 4] {
        [self.critical, self.high, self.medium, self.low]
    }
}

/// One vulnerability of one asset.
#[derive(Clone, Copy, Debug)]
pub struct VulnRow<'a> {
    pub asset: &'a FleetAsset,
    pub v: &'a Vulnerability,
}

/// One site's part of the report.
#[derive(Clone, Debug)]
pub struct Site<'a> {
    pub name: &'a str,
    pub score: u32,
    pub band: String,
    pub counts: Counts,
    /// Its assets in id order.
    pub assets: Vec<&'a FleetAsset>,
    /// The assessment's lists, narrowed to the site, in the assessment's order.
    pub risks: Vec<&'a AssetRisk>,
    pub remediations: Vec<&'a Remediation>,
    pub internet: Vec<&'a InternetExposure>,
    pub spof: Vec<&'a SinglePointOfFailure>,
    pub skips: Vec<&'a LevelSkip>,
    pub shadow: Vec<&'a ShadowDevice>,
    /// Remote access findings: the asset and the finding.
    pub remote: Vec<(&'a AssetRisk, &'a RiskFinding)>,
    /// Highest CVSS first, then CVE and asset.
    pub vulns: Vec<VulnRow<'a>>,
    /// Conversations between its assets, as pairs of asset ids.
    pub edges: Vec<(String, String)>,
}

/// The site of a fleet asset id (`plant-a/mac:...`).
pub fn site_of(id: &str) -> &str {
    id.split_once('/').map_or("", |(s, _)| s)
}

/// The name a person reads for an asset: its host name, else its first address, else its id.
pub fn display_name(fa: &FleetAsset) -> &str {
    match &fa.asset {
        Some(a) if !a.hostname.is_empty() => &a.hostname,
        Some(a) if !a.ips.is_empty() => &a.ips[0],
        _ => &fa.id,
    }
}

/// Severity bucket of a vulnerability: an index into [`super::text::SEVERITIES`], or 4 for
/// none or unknown.
fn severity_index(v: &Vulnerability) -> usize {
    match v.severity.as_str() {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

impl Data {
    /// The assets by id.
    pub fn index(&self) -> HashMap<&str, &FleetAsset> {
        self.assets.iter().map(|a| (a.id.as_str(), a)).collect()
    }

    /// The name of the asset with fleet id `id`, or the id when the asset is not listed.
    pub fn name<'a>(&'a self, index: &HashMap<&str, &'a FleetAsset>, id: &'a str) -> &'a str {
        index.get(id).map_or(id, |a| display_name(a))
    }

    /// The counts over the assets and findings whose asset id `keep` accepts.
    pub fn counts_where(&self, keep: impl Fn(&str) -> bool) -> Counts {
        let r = &self.risk;
        let mut c = Counts::default();
        for fa in self.assets.iter().filter(|a| keep(&a.id)) {
            c.assets += 1;
            for v in fa.asset.iter().flat_map(|a| &a.vulnerabilities) {
                match severity_index(v) {
                    0 => c.critical += 1,
                    1 => c.high += 1,
                    2 => c.medium += 1,
                    3 => c.low += 1,
                    _ => c.unscored += 1,
                }
                c.kev += usize::from(v.kev);
            }
        }
        let at_risk = r.assets.iter().filter(|a| keep(&a.asset));
        for a in at_risk {
            c.at_risk += 1;
            c.remote_access += usize::from(
                a.findings
                    .iter()
                    .any(|f| f.kind == "remote_access_into_control"),
            );
        }
        c.internet = r.internet.iter().filter(|e| keep(&e.asset)).count();
        c.level_skips = r.level_skips.iter().filter(|s| keep(&s.field)).count();
        c.shadow = r.shadow_devices.iter().filter(|d| keep(&d.asset)).count();
        c.spof = r
            .single_points_of_failure
            .iter()
            .filter(|s| keep(&s.asset))
            .count();
        c
    }

    /// The counts of the whole scope.
    pub fn counts(&self) -> Counts {
        self.counts_where(|_| true)
    }

    /// Each site's score and band: the assessment's own for a site report, else each site's
    /// recomputed from its assets' risks (`crate::risk::site_scores`).
    pub fn scores(&self) -> Vec<(String, u32, String)> {
        if !self.site.is_empty() {
            return vec![(
                self.site.clone(),
                self.risk.security_score,
                self.risk.band.clone(),
            )];
        }
        crate::risk::site_scores(&self.risk, &self.sites)
            .into_iter()
            .map(|(site, score, band, _)| (site, score, band.to_string()))
            .collect()
    }

    /// The sites of the report, in name order.
    pub fn site_parts(&self) -> Vec<Site<'_>> {
        let scores = self.scores();
        scores
            .iter()
            .zip(&self.sites)
            .map(|((_, score, band), name)| self.site_part(name, *score, band.clone()))
            .collect()
    }

    fn site_part<'a>(&'a self, name: &'a str, score: u32, band: String) -> Site<'a> {
        let r = &self.risk;
        let mine = |id: &str| site_of(id) == name;
        let assets: Vec<&FleetAsset> = self.assets.iter().filter(|a| mine(&a.id)).collect();
        let risks: Vec<&AssetRisk> = r.assets.iter().filter(|a| mine(&a.asset)).collect();
        let remote = risks
            .iter()
            .flat_map(|a| a.findings.iter().map(move |f| (*a, f)))
            .filter(|(_, f)| f.kind == "remote_access_into_control")
            .collect();
        let mut vulns: Vec<VulnRow> = assets
            .iter()
            .flat_map(|fa| {
                fa.asset
                    .iter()
                    .flat_map(|a| &a.vulnerabilities)
                    .map(move |v| VulnRow { asset: fa, v })
            })
            .collect();
        vulns.sort_by(|a, b| {
            b.v.cvss
                .total_cmp(&a.v.cvss)
                .then_with(|| a.v.cve.cmp(&b.v.cve))
                .then_with(|| a.v.advisory.cmp(&b.v.advisory))
                .then_with(|| a.asset.id.cmp(&b.asset.id))
        });
        Site {
            name,
            score,
            band,
            counts: self.counts_where(mine),
            risks,
            remediations: r.remediations.iter().filter(|m| mine(&m.asset)).collect(),
            internet: r.internet.iter().filter(|e| mine(&e.asset)).collect(),
            spof: r
                .single_points_of_failure
                .iter()
                .filter(|s| mine(&s.asset))
                .collect(),
            skips: r.level_skips.iter().filter(|s| mine(&s.field)).collect(),
            shadow: r.shadow_devices.iter().filter(|d| mine(&d.asset)).collect(),
            remote,
            vulns,
            edges: self.edges(name, &assets),
            assets,
        }
    }

    /// The conversations of `site` between assets listed in `assets`, as pairs of asset ids.
    fn edges(&self, site: &str, assets: &[&FleetAsset]) -> Vec<(String, String)> {
        self.conversations(site, assets)
            .into_iter()
            .map(|c| (c.a, c.b))
            .collect()
    }

    /// The conversations of `site` between assets listed in `assets`, joined on address (an
    /// address listed by two assets of the site, on two VLANs, joins the first in id order):
    /// one per pair of assets whichever side opened them, with their connections' traffic
    /// summed; in id order.
    pub fn conversations(&self, site: &str, assets: &[&FleetAsset]) -> Vec<Conversation> {
        let mut by_ip: HashMap<&str, &str> = HashMap::new();
        for fa in assets {
            for ip in fa.asset.iter().flat_map(|a| &a.ips) {
                by_ip.entry(ip.as_str()).or_insert(fa.id.as_str());
            }
        }
        let mut pairs: BTreeMap<(&str, &str), Conversation> = BTreeMap::new();
        for fc in self.connections.iter().filter(|fc| fc.site == site) {
            let Some(c) = fc.connection.as_ref() else {
                continue;
            };
            let (Some(&a), Some(&b)) = (by_ip.get(c.client.as_str()), by_ip.get(c.server.as_str()))
            else {
                continue;
            };
            if a == b {
                continue;
            }
            let key = (a.min(b), a.max(b));
            let conv = pairs.entry(key).or_insert_with(|| Conversation {
                a: key.0.to_string(),
                b: key.1.to_string(),
                ..Default::default()
            });
            conv.bytes = conv.bytes.saturating_add(c.bytes);
            conv.packets = conv.packets.saturating_add(c.packets);
            if !c.protocol.is_empty() {
                conv.protocols.insert(c.protocol.clone());
            }
        }
        pairs.into_values().collect()
    }
}

/// Two assets that talked, in either direction, with the traffic of all their connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversation {
    /// The smaller asset id.
    pub a: String,
    pub b: String,
    pub bytes: u64,
    pub packets: u64,
    pub protocols: BTreeSet<String>,
}

impl Site<'_> {
    /// The site's assets as nodes of its Purdue map.
    pub fn nodes(&self) -> Vec<Node> {
        let risk: HashMap<&str, f64> = self
            .risks
            .iter()
            .map(|a| (a.asset.as_str(), a.risk))
            .collect();
        let internet: BTreeSet<&str> = self.internet.iter().map(|e| e.asset.as_str()).collect();
        let spof: BTreeSet<&str> = self.spof.iter().map(|s| s.asset.as_str()).collect();
        self.assets
            .iter()
            .map(|fa| {
                let a = fa.asset.clone().unwrap_or_default();
                let risk = risk.get(fa.id.as_str()).copied().unwrap_or(0.0);
                let kind = if a.device_type.is_empty() {
                    "unknown"
                } else {
                    &a.device_type
                };
                let mut title = format!("{} ({kind}", display_name(fa));
                if !a.vendor.is_empty() {
                    title.push_str(", ");
                    title.push_str(&a.vendor);
                }
                title.push_str(&format!("), risk {risk:.1}"));
                Node {
                    id: fa.id.clone(),
                    label: display_name(fa).to_string(),
                    title,
                    level: a.purdue_level,
                    risk,
                    internet: internet.contains(fa.id.as_str()),
                    shadow: fa.shadow,
                    spof: spof.contains(fa.id.as_str()),
                }
            })
            .collect()
    }
}
