//! The report as JSON (schema `otwatch.report.v1`, docs/RISK.md): the risk assessment as
//! `otwatch risk --format json` prints it, the counts of the executive page, and per site its
//! score, counts and vulnerabilities.

use super::model::{display_name, Counts, Data};
use crate::cli::output::{report_json, to_json};
use serde_json::{json, Value};

/// The value of the report's `schema`.
pub const SCHEMA: &str = "otwatch.report.v1";

fn counts_json(c: &Counts) -> Value {
    json!({
        "assets": c.assets,
        "assets_at_risk": c.at_risk,
        "vulnerabilities": {
            "critical": c.critical,
            "high": c.high,
            "medium": c.medium,
            "low": c.low,
            "unscored": c.unscored,
            "total": c.vulnerabilities(),
        },
        "kev": c.kev,
        "internet_exposed": c.internet,
        "remote_access": c.remote_access,
        "level_skips": c.level_skips,
        "shadow_devices": c.shadow,
        "single_points_of_failure": c.spof,
    })
}

/// The report's JSON text (escaped like every JSON the CLI prints).
pub fn render(d: &Data) -> anyhow::Result<String> {
    let sites: Vec<Value> = d
        .site_parts()
        .iter()
        .map(|s| {
            let vulns: Vec<Value> = s
                .vulns
                .iter()
                .map(|row| {
                    let v = row.v;
                    json!({
                        "asset": row.asset.id,
                        "name": display_name(row.asset),
                        "cve": v.cve,
                        "advisory": v.advisory,
                        "title": v.title,
                        "cvss": v.cvss,
                        "severity": v.severity,
                        "status": v.status,
                        "kev": v.kev,
                        "fixed_in": v.fixed_in,
                    })
                })
                .collect();
            json!({
                "name": s.name,
                "security_score": s.score,
                "band": s.band,
                "counts": counts_json(&s.counts),
                "vulnerabilities": vulns,
            })
        })
        .collect();
    let v = json!({
        "schema": SCHEMA,
        "site": d.site,
        "generated_at": d.generated_at,
        "security_score": d.risk.security_score,
        "band": d.risk.band,
        "counts": counts_json(&d.counts()),
        "sites": sites,
        "assessment": report_json(&d.risk),
    });
    let mut text = to_json(&v)?;
    text.push('\n');
    Ok(text)
}
