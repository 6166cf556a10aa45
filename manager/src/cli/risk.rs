//! `otwatch risk`: the risk assessment as a person reads it (score and band, what to fix first,
//! the riskiest assets and their findings, internet exposure, single points of failure, Purdue
//! level skips), or the `RiskAssessment` message as JSON. The formulas are in docs/RISK.md.

use super::output::{report_json, terminal_safe, to_json};
use super::Format;
use otwatch_proto::v1::{RiskAssessment, ScorePoint};
use std::io::Write;

/// How many findings are shown under each asset in the table.
const FINDINGS_SHOWN: usize = 3;

/// "10.0.0.5 (plant-a/mac:...)", escaped for the terminal.
fn who(name: &str, id: &str) -> String {
    if name.is_empty() || name == id {
        terminal_safe(id).into_owned()
    } else {
        format!("{} ({})", terminal_safe(name), terminal_safe(id))
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| terminal_safe(s).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// "... and 7 more (--top N, or --format json for all)" when `shown` of `total` were listed.
fn more(out: &mut dyn Write, shown: usize, total: usize) -> std::io::Result<()> {
    if total > shown {
        writeln!(
            out,
            "  ... and {} more (--top N, or --format json for all)",
            total - shown
        )?;
    }
    Ok(())
}

/// Prints `r`: JSON, the message itself; table, the sections, `top` items each. `sites` (fleet
/// assessments only) are the sites whose scores are listed.
pub fn print(
    out: &mut dyn Write,
    fmt: Format,
    r: &RiskAssessment,
    sites: &[String],
    top: usize,
) -> anyhow::Result<()> {
    if fmt == Format::Json {
        writeln!(out, "{}", to_json(&report_json(r))?)?;
        return Ok(());
    }
    let scope = if r.site.is_empty() {
        format!("fleet ({} sites)", sites.len())
    } else {
        format!("site {}", terminal_safe(&r.site))
    };
    writeln!(
        out,
        "{scope}: security score {}/100 ({})",
        r.security_score,
        terminal_safe(&r.band)
    )?;
    if let Some(line) = trend_line(&r.trend) {
        writeln!(out, "trend: {line}")?;
    }
    if r.site.is_empty() && !sites.is_empty() {
        writeln!(out, "\nSITES")?;
        let width = sites.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        for (site, score, band, at_risk) in crate::risk::site_scores(r, sites) {
            writeln!(
                out,
                "  {:<width$}  {score:>3}/100  {band:<8}  {at_risk} assets at risk",
                terminal_safe(&site)
            )?;
        }
    }

    writeln!(out, "\nTOP REMEDIATIONS")?;
    if r.remediations.is_empty() {
        writeln!(out, "  none: no asset has a known vulnerability")?;
    }
    for (i, m) in r.remediations.iter().take(top).enumerate() {
        writeln!(
            out,
            "  {}. {} \u{2014} {}: closes {} CVE{}, max CVSS {:.1}, risk \u{2212}{:.1}",
            i + 1,
            terminal_safe(&m.action),
            who(&m.name, &m.asset),
            m.cves.len(),
            if m.cves.len() == 1 { "" } else { "s" },
            m.max_cvss,
            m.risk_reduced
        )?;
    }
    more(out, top.min(r.remediations.len()), r.remediations.len())?;

    writeln!(out, "\nRISKIEST ASSETS")?;
    if r.assets.is_empty() {
        writeln!(out, "  none: no findings")?;
    }
    for a in r.assets.iter().take(top) {
        writeln!(
            out,
            "  {:>5.1}  {}  {}, {} exposure, {} finding{}",
            a.risk,
            who(&a.name, &a.asset),
            terminal_safe(&a.role),
            terminal_safe(&a.exposure),
            a.findings.len(),
            if a.findings.len() == 1 { "" } else { "s" }
        )?;
        for f in a.findings.iter().take(FINDINGS_SHOWN) {
            writeln!(
                out,
                "         [{:.1}] {}: {}",
                f.severity,
                terminal_safe(&f.kind),
                terminal_safe(&f.detail)
            )?;
        }
    }
    more(out, top.min(r.assets.len()), r.assets.len())?;

    writeln!(out, "\nINTERNET EXPOSURE")?;
    if r.internet.is_empty() {
        writeln!(out, "  none seen")?;
    }
    for e in r.internet.iter().take(top) {
        writeln!(
            out,
            "  {} \u{2194} {}",
            who(&e.name, &e.asset),
            list(&e.remote)
        )?;
    }
    more(out, top.min(r.internet.len()), r.internet.len())?;

    writeln!(out, "\nSINGLE POINTS OF FAILURE")?;
    if r.single_points_of_failure.is_empty() {
        writeln!(out, "  none found")?;
    }
    for s in r.single_points_of_failure.iter().take(top) {
        writeln!(
            out,
            "  {}: cuts {} from {}",
            who(&s.name, &s.asset),
            list(&s.cut_controllers),
            list(&s.cut_from)
        )?;
    }
    more(
        out,
        top.min(r.single_points_of_failure.len()),
        r.single_points_of_failure.len(),
    )?;

    writeln!(out, "\nPURDUE LEVEL SKIPS (levels 4-5 \u{2194} 0-1)")?;
    if r.level_skips.is_empty() {
        writeln!(out, "  none seen")?;
    }
    for s in r.level_skips.iter().take(top) {
        writeln!(
            out,
            "  {} \u{2194} {}",
            terminal_safe(&s.enterprise),
            terminal_safe(&s.field)
        )?;
    }
    more(out, top.min(r.level_skips.len()), r.level_skips.len())?;

    writeln!(out, "\nSHADOW DEVICES (not in the approved inventory)")?;
    if r.shadow_devices.is_empty() && r.unapproved_sites.is_empty() {
        writeln!(out, "  none")?;
    }
    for d in r.shadow_devices.iter().take(top) {
        let what = [&d.device_type, &d.vendor, &d.model]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| terminal_safe(s).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        writeln!(
            out,
            "  {}  {}  first seen {}",
            who(&d.name, &d.asset),
            if what.is_empty() { "unknown" } else { &what },
            terminal_safe(&d.first_seen)
        )?;
    }
    more(out, top.min(r.shadow_devices.len()), r.shadow_devices.len())?;
    if !r.unapproved_sites.is_empty() {
        writeln!(
            out,
            "  no approved inventory yet for {}: review `otwatch assets --site SITE`, then `otwatch assets approve --all --site SITE`",
            list(&r.unapproved_sites)
        )?;
    }
    Ok(())
}

/// "62 (poor) on 2026-12-01 → 71 (fair) on 2026-12-07, +9 over 7 days": the first and last
/// day of the trend (days with a recorded score); `None` with fewer than two.
fn trend_line(trend: &[ScorePoint]) -> Option<String> {
    let (first, last) = (trend.first()?, trend.last()?);
    if trend.len() < 2 {
        return None;
    }
    let delta = i64::from(last.security_score) - i64::from(first.security_score);
    Some(format!(
        "{} ({}) on {} \u{2192} {} ({}) on {}, {delta:+} over {} days",
        first.security_score,
        terminal_safe(&first.band),
        terminal_safe(&first.date),
        last.security_score,
        terminal_safe(&last.band),
        terminal_safe(&last.date),
        trend.len()
    ))
}

#[cfg(test)]
mod tests;
