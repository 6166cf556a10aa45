//! One site's section of the HTML report: its Purdue map, its exposure (internet, remote access,
//! level skips), its vulnerabilities by severity, the ranked remediations, shadow devices and
//! single points of failure. Long lists are cut at a sensible length with a note of how many
//! more there are (the JSON report holds them all).

use super::charts::severity_svg;
use super::model::{display_name, Data, Site};
use super::purdue::{layout, svg, PER_ROW};
use super::text::{band_pill, cut, esc, one_decimal, plural, risk_class, severity_pill};
use std::collections::HashMap;
use std::fmt::Write;

/// Rows of the vulnerability table.
pub const MAX_VULNS: usize = 200;
/// Rows of the remediation list.
pub const MAX_REMEDIATIONS: usize = 50;
/// Rows of the other lists (exposure, shadow devices, single points of failure).
pub const MAX_ROWS: usize = 100;
/// Internet addresses shown per asset.
const MAX_REMOTE: usize = 5;

type Index<'a> = HashMap<&'a str, &'a otwatch_proto::v1::FleetAsset>;

/// The section of `site`.
pub fn section(d: &Data, site: &Site) -> String {
    let index = d.index();
    let c = &site.counts;
    let mut s = String::with_capacity(32 * 1024);
    let _ = write!(
        s,
        "<section class=\"site\">\n<h2>Site {}: {}/100 {}</h2>\n<p>{}, {} at risk, {}: {} critical, {} high, {} medium, {} low{}.</p>\n",
        esc(site.name),
        site.score,
        band_pill(&site.band),
        plural(c.assets, "asset", "assets"),
        c.at_risk,
        plural(c.vulnerabilities(), "vulnerability", "vulnerabilities"),
        c.critical,
        c.high,
        c.medium,
        c.low,
        if c.kev > 0 {
            format!(", {} known exploited", c.kev)
        } else {
            String::new()
        }
    );
    purdue_map(&mut s, site);
    exposure(&mut s, d, &index, site);
    vulnerabilities(&mut s, site);
    remediations(&mut s, d, &index, site);
    shadow(&mut s, d, site);
    spof(&mut s, d, &index, site);
    s.push_str("</section>\n");
    s
}

/// "... and 12 more" under a list cut at `shown` of `total`.
fn more(s: &mut String, shown: usize, total: usize) {
    if total > shown {
        let _ = writeln!(
            s,
            "<p class=\"more\">\u{2026} and {} more (all of them are in the JSON report: --as json).</p>",
            total - shown
        );
    }
}

fn none(s: &mut String, what: &str) {
    let _ = writeln!(s, "<p class=\"none\">{what}</p>");
}

/// A name with the fleet id under it.
fn who(d: &Data, index: &Index, id: &str) -> String {
    format!(
        "{}<br><code>{}</code>",
        esc(&cut(d.name(index, id), 40)),
        esc(id)
    )
}

fn purdue_map(s: &mut String, site: &Site) {
    s.push_str("<h3>Purdue map</h3>\n");
    if site.assets.is_empty() {
        none(s, "No assets seen at this site yet.");
        return;
    }
    let nodes = site.nodes();
    let l = layout(&nodes, &site.edges);
    s.push_str(&svg(&nodes, &l));
    let _ = write!(
        s,
        "\n<p class=\"legend\"><span><span class=\"swatch\" style=\"background:{}\"></span>no findings</span><span><span class=\"swatch\" style=\"background:{}\"></span>risk below 30</span><span><span class=\"swatch\" style=\"background:{}\"></span>30-59.9</span><span><span class=\"swatch\" style=\"background:{}\"></span>60 and above</span><span><span class=\"swatch\" style=\"background:#fff;border:2.5px solid #1565c0\"></span>talks to the internet</span><span><span class=\"swatch\" style=\"background:#fff;border-style:dashed\"></span>shadow device</span><span>&#9670; single point of failure</span></p>\n",
        risk_class(0.0).1,
        risk_class(10.0).1,
        risk_class(30.0).1,
        risk_class(60.0).1
    );
    let mut notes = Vec::new();
    if l.rows.iter().any(|r| r.total > r.shown) {
        notes.push(format!("each level shows its {PER_ROW} riskiest assets"));
    }
    if l.edges_hidden > 0 {
        notes.push(format!(
            "{} not drawn",
            plural(l.edges_hidden, "conversation", "conversations")
        ));
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "<p class=\"more\">On the map {}.</p>", notes.join("; "));
    }
}

fn exposure(s: &mut String, d: &Data, index: &Index, site: &Site) {
    s.push_str("<h3>Exposure</h3>\n<p><b>Internet</b>: assets that exchanged traffic with internet addresses.</p>\n");
    if site.internet.is_empty() {
        none(s, "None seen.");
    } else {
        s.push_str(r#"<table><colgroup><col style="width:35%"><col></colgroup><tr><th>Asset</th><th>Internet addresses</th></tr>"#);
        for e in site.internet.iter().take(MAX_ROWS) {
            let mut remote: Vec<String> = e
                .remote
                .iter()
                .take(MAX_REMOTE)
                .map(|r| esc(r).into_owned())
                .collect();
            if e.remote.len() > MAX_REMOTE {
                remote.push(format!("+{} more", e.remote.len() - MAX_REMOTE));
            }
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td></tr>",
                who(d, index, &e.asset),
                remote.join(", ")
            );
        }
        s.push_str("</table>\n");
        more(s, MAX_ROWS.min(site.internet.len()), site.internet.len());
    }
    s.push_str("<p><b>Remote access</b> (RDP, VNC, SSH, Telnet) into Purdue levels 0-2.</p>\n");
    if site.remote.is_empty() {
        none(s, "None seen.");
    } else {
        s.push_str(r#"<table><colgroup><col style="width:35%"><col></colgroup><tr><th>Asset</th><th>Finding</th></tr>"#);
        for (a, f) in site.remote.iter().take(MAX_ROWS) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td></tr>",
                who(d, index, &a.asset),
                esc(&f.detail)
            );
        }
        s.push_str("</table>\n");
        more(s, MAX_ROWS.min(site.remote.len()), site.remote.len());
    }
    s.push_str("<p><b>Purdue level skips</b>: levels 4-5 talking directly to levels 0-1.</p>\n");
    if site.skips.is_empty() {
        none(s, "None seen.");
    } else {
        s.push_str("<table><tr><th>Enterprise (level 4-5)</th><th>Field (level 0-1)</th></tr>");
        for k in site.skips.iter().take(MAX_ROWS) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td></tr>",
                who(d, index, &k.enterprise),
                who(d, index, &k.field)
            );
        }
        s.push_str("</table>\n");
        more(s, MAX_ROWS.min(site.skips.len()), site.skips.len());
    }
}

fn vulnerabilities(s: &mut String, site: &Site) {
    s.push_str("<h3>Vulnerabilities by severity</h3>\n");
    if site.vulns.is_empty() {
        none(
            s,
            "No known vulnerabilities (from the advisories imported into the manager).",
        );
        return;
    }
    s.push_str(&severity_svg(site.counts.by_severity()));
    if site.counts.unscored > 0 {
        let _ = writeln!(
            s,
            "<p class=\"more\">{} without a CVSS score.</p>",
            plural(site.counts.unscored, "vulnerability", "vulnerabilities")
        );
    }
    s.push_str(r#"<table class="small"><colgroup><col style="width:16%"><col style="width:15%"><col style="width:7%"><col style="width:10%"><col style="width:10%"><col style="width:6%"><col style="width:23%"><col style="width:13%"></colgroup><tr><th>CVE</th><th>Advisory</th><th class="num">CVSS</th><th>Severity</th><th>Status</th><th>KEV</th><th>Asset</th><th>Fixed in</th></tr>"#);
    for row in site.vulns.iter().take(MAX_VULNS) {
        let v = row.v;
        let a = row.asset.asset.clone().unwrap_or_default();
        let what = [&a.vendor, &a.model]
            .iter()
            .filter(|x| !x.is_empty())
            .map(|x| esc(&cut(x, 40)).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            s,
            r#"<tr><td class="id">{}</td><td class="id">{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br><span class="more">{what}</span></td><td>{}</td></tr>"#,
            if v.cve.is_empty() {
                "\u{2014}".into()
            } else {
                esc(&v.cve)
            },
            esc(&v.advisory),
            one_decimal(v.cvss),
            severity_pill(&v.severity),
            esc(&v.status.replace('_', " ")),
            if v.kev {
                "<span class=\"kev\">KEV</span>"
            } else {
                ""
            },
            esc(&cut(display_name(row.asset), 40)),
            if v.fixed_in.is_empty() {
                "\u{2014}".into()
            } else {
                esc(&v.fixed_in)
            },
        );
    }
    s.push_str("</table>\n");
    more(s, MAX_VULNS.min(site.vulns.len()), site.vulns.len());
}

fn remediations(s: &mut String, d: &Data, index: &Index, site: &Site) {
    s.push_str("<h3>Remediations, most risk reduced first</h3>\n");
    if site.remediations.is_empty() {
        none(s, "None: no asset has a known vulnerability.");
        return;
    }
    s.push_str(r#"<table><colgroup><col style="width:4%"><col style="width:27%"><col style="width:25%"><col style="width:24%"><col style="width:9%"><col style="width:11%"></colgroup><tr><th class="num">#</th><th>Action</th><th>Asset</th><th>Closes</th><th class="num">Max CVSS</th><th class="num">Risk reduced</th></tr>"#);
    for (i, m) in site.remediations.iter().take(MAX_REMEDIATIONS).enumerate() {
        let cves: Vec<String> = m
            .cves
            .iter()
            .map(|c| format!("<span class=\"id\">{}</span>", esc(c)))
            .collect();
        let _ = write!(
            s,
            r#"<tr><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">&minus;{}</td></tr>"#,
            i + 1,
            esc(&m.action),
            who(d, index, &m.asset),
            cves.join(", "),
            one_decimal(m.max_cvss),
            one_decimal(m.risk_reduced)
        );
    }
    s.push_str("</table>\n");
    more(
        s,
        MAX_REMEDIATIONS.min(site.remediations.len()),
        site.remediations.len(),
    );
}

fn shadow(s: &mut String, d: &Data, site: &Site) {
    s.push_str("<h3>Shadow devices</h3>\n");
    if d.risk.unapproved_sites.iter().any(|u| u == site.name) {
        let site = esc(site.name);
        let _ = writeln!(
            s,
            "<p class=\"none\">This site has no approved inventory yet, so no device is called shadow: review <code>otwatch assets --site {site}</code>, then <code>otwatch assets approve --all --site {site}</code>.</p>"
        );
        return;
    }
    if site.shadow.is_empty() {
        none(s, "None: every asset is in the approved inventory.");
        return;
    }
    s.push_str("<table><tr><th>Asset</th><th>Type, vendor, model</th><th>First seen</th></tr>");
    for x in site.shadow.iter().take(MAX_ROWS) {
        let what = [&x.device_type, &x.vendor, &x.model]
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| esc(&cut(v, 40)).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            s,
            "<tr><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&cut(&x.name, 40)),
            esc(&x.asset),
            if what.is_empty() {
                "unknown".into()
            } else {
                what
            },
            esc(&x.first_seen)
        );
    }
    s.push_str("</table>\n");
    more(s, MAX_ROWS.min(site.shadow.len()), site.shadow.len());
}

fn spof(s: &mut String, d: &Data, index: &Index, site: &Site) {
    s.push_str("<h3>Single points of failure</h3>\n");
    if site.spof.is_empty() {
        none(s, "None found.");
        return;
    }
    s.push_str("<table><tr><th>Asset</th><th>Controllers it cuts off</th><th>From</th></tr>");
    let names = |ids: &[String]| {
        ids.iter()
            .map(|id| esc(d.name(index, id)).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for x in site.spof.iter().take(MAX_ROWS) {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            who(d, index, &x.asset),
            names(&x.cut_controllers),
            names(&x.cut_from)
        );
    }
    s.push_str("</table>\n");
    more(s, MAX_ROWS.min(site.spof.len()), site.spof.len());
}
