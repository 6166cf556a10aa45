//! The risk assessment of one site's inventory report: findings per asset, their risk, the
//! site's security score, internet exposure, single points of failure and conversations that
//! skip Purdue levels.
//!
//! Connections name addresses; they are joined to assets the way the report forms them: an
//! address in its LAN (VLAN and capture segment) belongs to the asset listing it there.

use crate::graph::{level_skips, single_points_of_failure, Graph};
use crate::score::{asset_risk, site_score, Exposure, Finding, FindingKind, Role};
use otwatch_advisories::Version;
use otwatch_common::addr::is_global;
use otwatch_common::model::{
    Asset, AssetRisk, Connection, InternetExposure, InventoryReport, LevelSkip, Remediation,
    RiskAssessment, RiskFinding, SinglePointOfFailure, Vulnerability, RISK_SCHEMA,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Interactive remote access protocols.
const REMOTE_ACCESS: &[&str] = &["rdp", "vnc", "ssh", "telnet"];
/// Operations that change what a controller does.
const CHANGES: &[&str] = &[
    "write",
    "program_download",
    "program_delete",
    "firmware_update",
    "cpu_stop",
    "cpu_start",
    "restart",
    "control",
];

/// One finding about an asset, with what shows it and the vulnerabilities' fix.
#[derive(Debug, Clone, PartialEq)]
struct FindingRec {
    finding: Finding,
    detail: String,
    /// For vulnerabilities: (action, CVE).
    fix: Option<(String, String)>,
}

/// Where an address is: (address, VLAN, segment).
type Place = (IpAddr, u32, u32);

/// Every place an asset's addresses are seen at: its addresses on each of its VLANs and
/// segments (untagged on the default segment when it lists none).
fn places(a: &Asset) -> Vec<Place> {
    let lans = a.lans();
    a.ips
        .iter()
        .filter_map(|i| i.parse::<IpAddr>().ok())
        .flat_map(|ip| lans.iter().map(move |&(seg, vlan)| (ip, vlan, seg)))
        .collect()
}

fn ends(c: &Connection) -> Option<(Place, Place)> {
    let client = c.client.parse().ok()?;
    let server = c.server.parse().ok()?;
    Some(((client, c.vlan, c.segment), (server, c.vlan, c.segment)))
}

/// What to do about each of an asset's vulnerabilities. One update fixes every vulnerability
/// whose fixed version it reaches, so all of them point at the highest fixed version (compared
/// with the vendor's version semantics: `V3.X.16` is reached by `V3.2.17`); a fixed version
/// that cannot be read stands alone; without one, the advisory's mitigations.
fn actions(vulns: &[Vulnerability]) -> Vec<String> {
    let parsed: Vec<Option<Version>> = vulns
        .iter()
        .map(|v| Version::parse(&v.fixed_in).ok())
        .collect();
    let target = parsed
        .iter()
        .flatten()
        .filter(|v| !v.has_wildcard())
        .max_by(|a, b| a.compare(b));
    vulns
        .iter()
        .zip(&parsed)
        .map(|(v, p)| match (p, target) {
            (Some(p), Some(t)) if p.compare(t).is_le() => format!("update to {}", t.as_str()),
            _ if !v.fixed_in.is_empty() => format!("update to {}", v.fixed_in),
            _ => format!("apply the mitigations in {}", v.advisory),
        })
        .collect()
}

/// The insecure protocol settings an asset's evidence shows: an OPC UA secure channel with
/// security mode or policy None (messages neither signed nor encrypted: anyone on the path can
/// read and change them).
fn settings(a: &Asset) -> Vec<FindingRec> {
    const INSECURE: &[(&str, &str)] = &[
        (
            "opcua security mode None",
            "OPC UA channel with security mode None: messages neither signed nor encrypted",
        ),
        (
            "opcua security policy None",
            "OPC UA channel with security policy None: no certificates, no signatures",
        ),
    ];
    INSECURE
        .iter()
        .filter(|(fact, _)| a.evidence.iter().any(|e| e.value == *fact))
        .map(|(_, detail)| FindingRec {
            finding: Finding::of(FindingKind::InsecureSetting),
            detail: (*detail).to_string(),
            fix: None,
        })
        .collect()
}

/// One finding when an advisory calls the asset's product end of life (no fixed version will
/// come): replacing it is the only fix.
fn end_of_life(a: &Asset) -> Option<FindingRec> {
    let mut advisories: Vec<&str> = a
        .vulnerabilities
        .iter()
        .filter(|v| v.end_of_life)
        .map(|v| v.advisory.as_str())
        .collect();
    advisories.sort_unstable();
    advisories.dedup();
    if advisories.is_empty() {
        return None;
    }
    Some(FindingRec {
        finding: Finding::of(FindingKind::EndOfLife),
        detail: format!(
            "end of life: no fix will come (per {}); replace it with a supported product",
            advisories.join(", ")
        ),
        fix: None,
    })
}

/// An asset's name for people: its first address, else its hostname, else its id.
fn name(a: &Asset) -> String {
    a.ips
        .first()
        .or(Some(&a.hostname).filter(|h| !h.is_empty()))
        .unwrap_or(&a.id)
        .clone()
}

/// Assesses `report` of `site` (vulnerabilities come from each asset's `vulnerabilities`).
pub fn assess(site: &str, report: &InventoryReport) -> RiskAssessment {
    let assets = &report.assets;
    let mut at: BTreeMap<Place, usize> = BTreeMap::new();
    for (i, a) in assets.iter().enumerate() {
        for p in places(a) {
            at.entry(p).or_insert(i);
        }
    }
    let level = |i: usize| assets[i].purdue_level.and_then(|l| u8::try_from(l).ok());
    let mut findings: Vec<Vec<FindingRec>> = vec![Vec::new(); assets.len()];
    let mut external = vec![false; assets.len()];
    let mut enterprise = vec![false; assets.len()];
    let mut internet: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut edges = Vec::new();
    for (i, a) in assets.iter().enumerate() {
        for (v, action) in a.vulnerabilities.iter().zip(actions(&a.vulnerabilities)) {
            findings[i].push(FindingRec {
                finding: Finding::vulnerability(v.cvss, v.status != "affected", v.kev),
                detail: format!(
                    "{} ({}, CVSS {}{})",
                    v.cve,
                    v.advisory,
                    v.cvss,
                    match (v.status.as_str(), v.kev) {
                        ("affected", true) => ", known exploited",
                        ("affected", false) => "",
                        (_, true) => ", possibly affected, known exploited",
                        _ => ", possibly affected",
                    }
                ),
                fix: Some((action, v.cve.clone())),
            });
        }
    }
    for (i, a) in assets.iter().enumerate() {
        findings[i].extend(settings(a));
        findings[i].extend(end_of_life(a));
    }
    for c in &report.connections {
        let Some((cp, sp)) = ends(c) else { continue };
        let (ci, si) = (at.get(&cp).copied(), at.get(&sp).copied());
        match (ci, si) {
            (Some(x), Some(y)) if x != y => {
                edges.push((x, y));
                if level(y).is_some_and(|l| l >= 4) {
                    enterprise[x] = true;
                }
                if level(x).is_some_and(|l| l >= 4) {
                    enterprise[y] = true;
                }
            }
            _ => {}
        }
        // Traffic with the internet: a finding of the local end.
        for (local, own, remote) in [(ci, cp.0, sp.0), (si, sp.0, cp.0)] {
            if let Some(l) = local.filter(|_| is_global(&remote) && !is_global(&own)) {
                external[l] = true;
                internet.entry(l).or_default().insert(remote.to_string());
            }
        }
        let Some(s) = si else { continue };
        for login in &c.cleartext_logins {
            findings[s].push(FindingRec {
                finding: Finding::of(FindingKind::CleartextCredentials),
                detail: format!(
                    "{} login in cleartext from {} (user {:?})",
                    login.protocol, c.client, login.user
                ),
                fix: None,
            });
        }
        if REMOTE_ACCESS.contains(&c.protocol.as_str()) && level(s).is_some_and(|l| l <= 2) {
            external[s] = true;
            findings[s].push(FindingRec {
                finding: Finding::of(FindingKind::RemoteAccessIntoControl),
                detail: format!(
                    "{} from {} into level {}",
                    c.protocol,
                    c.client,
                    level(s).unwrap_or(0)
                ),
                fix: None,
            });
        }
        let from_above = ci.and_then(level).is_some_and(|l| l >= 3);
        if from_above && level(s).is_some_and(|l| l <= 1) {
            if let Some(op) = c.operations.iter().find(|o| CHANGES.contains(&o.as_str())) {
                findings[s].push(FindingRec {
                    finding: Finding::of(FindingKind::WritesFromAbove),
                    detail: format!(
                        "{op} ({}) from level {} at {}",
                        c.protocol,
                        ci.and_then(level).unwrap_or(0),
                        c.client
                    ),
                    fix: None,
                });
            }
        }
    }
    for (&i, remotes) in &internet {
        findings[i].push(FindingRec {
            finding: Finding::of(FindingKind::InternetConnection),
            detail: format!(
                "talks to {} internet address(es): {}",
                remotes.len(),
                remotes
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            fix: None,
        });
    }
    let mut rated: Vec<AssetRisk> = Vec::new();
    let mut remediations: Vec<Remediation> = Vec::new();
    for (i, mut f) in findings.into_iter().enumerate() {
        if f.is_empty() {
            continue;
        }
        f.sort_by(|a, b| {
            b.finding
                .severity()
                .total_cmp(&a.finding.severity())
                .then_with(|| a.detail.cmp(&b.detail))
        });
        f.dedup();
        let exposure = if external[i] {
            Exposure::External
        } else if enterprise[i] {
            Exposure::Enterprise
        } else {
            Exposure::Internal
        };
        let role = Role::of_device_type(&assets[i].device_type);
        let all: Vec<Finding> = f.iter().map(|r| r.finding.clone()).collect();
        let risk = asset_risk(&all, exposure, role);
        // One remediation per distinct action: what it closes and the risk it takes away.
        let mut actions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (k, r) in f.iter().enumerate() {
            if let Some((act, _)) = &r.fix {
                actions.entry(act).or_default().push(k);
            }
        }
        for (act, ks) in actions {
            let left: Vec<Finding> = (0..f.len())
                .filter(|k| !ks.contains(k))
                .map(|k| f[k].finding.clone())
                .collect();
            let mut cves: Vec<String> = ks
                .iter()
                .filter_map(|&k| f[k].fix.as_ref().map(|(_, c)| c.clone()))
                .filter(|c| !c.is_empty())
                .collect();
            cves.sort();
            cves.dedup();
            remediations.push(Remediation {
                asset: assets[i].id.clone(),
                name: name(&assets[i]),
                action: act.to_string(),
                cves,
                max_cvss: ks.iter().map(|&k| f[k].finding.cvss).fold(0.0, f64::max),
                risk_reduced: ((risk - asset_risk(&left, exposure, role)) * 10.0).round() / 10.0,
            });
        }
        rated.push(AssetRisk {
            asset: assets[i].id.clone(),
            name: name(&assets[i]),
            risk,
            role: role.as_str().to_string(),
            exposure: exposure.as_str().to_string(),
            findings: f
                .into_iter()
                .map(|r| RiskFinding {
                    kind: r.finding.kind.as_str().to_string(),
                    severity: r.finding.severity(),
                    detail: r.detail,
                })
                .collect(),
        });
    }
    let score = site_score(rated.iter().map(|a| a.risk));
    rated.sort_by(|a, b| {
        b.risk
            .total_cmp(&a.risk)
            .then_with(|| a.asset.cmp(&b.asset))
    });
    remediations.sort_by(|a, b| {
        b.risk_reduced
            .total_cmp(&a.risk_reduced)
            .then_with(|| b.max_cvss.total_cmp(&a.max_cvss))
            .then_with(|| (&a.asset, &a.action).cmp(&(&b.asset, &b.action)))
    });
    let id = |i: usize| assets[i].id.clone();
    let ids = |v: &[usize]| v.iter().map(|&i| id(i)).collect::<Vec<_>>();
    let mut g = Graph::new(
        assets
            .iter()
            .map(|a| Role::of_device_type(&a.device_type))
            .collect(),
    );
    for &(a, b) in &edges {
        g.connect(a, b);
    }
    let single_points_of_failure = single_points_of_failure(&g)
        .into_iter()
        .map(|s| SinglePointOfFailure {
            asset: id(s.node),
            name: name(&assets[s.node]),
            cut_controllers: ids(&s.cut_controllers),
            cut_from: ids(&s.cut_from),
        })
        .collect();
    let levels: Vec<Option<u8>> = (0..assets.len()).map(level).collect();
    let level_skips = level_skips(&levels, &edges)
        .into_iter()
        .map(|s| {
            let (e, f) = if s.a_level >= 4 {
                (s.a, s.b)
            } else {
                (s.b, s.a)
            };
            LevelSkip {
                enterprise: id(e),
                field: id(f),
            }
        })
        .collect();
    RiskAssessment {
        schema: RISK_SCHEMA.to_string(),
        site: site.to_string(),
        security_score: score.score,
        band: score.band.as_str().to_string(),
        assets: rated,
        remediations,
        internet: internet
            .into_iter()
            .map(|(i, r)| InternetExposure {
                asset: id(i),
                name: name(&assets[i]),
                remote: r.into_iter().collect(),
            })
            .collect(),
        single_points_of_failure,
        level_skips,
        ..RiskAssessment::default()
    }
}
