//! The report as one self-contained HTML document: an executive page (score and band, trend,
//! counts, top 10 risks, and for a fleet each site's score), then a section per site
//! ([`super::site`]). No script, no external font, style sheet or image: the charts are inline
//! SVG and the style sheet is in the head, written for print (A4 pages, a page per section).

use super::charts::trend_svg;
use super::model::{Counts, Data, Site};
use super::site::section;
use super::text::{band_colour, band_pill, cut, esc, one_decimal, plural, risk_class};
use std::fmt::Write;

/// How many of the riskiest assets the executive page lists.
pub const TOP_RISKS: usize = 10;

const CSS: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 10pt;
  color: #263238; margin: 0 auto; max-width: 1060px; padding: 12px; line-height: 1.35; }
h1 { font-size: 20pt; margin: 0 0 4px; }
h2 { font-size: 15pt; margin: 0 0 8px; border-bottom: 2px solid #263238; padding-bottom: 3px; }
h3 { font-size: 11.5pt; margin: 16px 0 6px; break-after: avoid; page-break-after: avoid; }
p { margin: 4px 0; }
.meta { color: #546e7a; font-size: 9pt; }
section { break-before: page; page-break-before: always; }
section:first-of-type { break-before: auto; page-break-before: auto; }
.headline { display: flex; gap: 24px; align-items: center; margin: 14px 0; flex-wrap: wrap; }
.score { border: 4px solid; border-radius: 10px; padding: 6px 18px; text-align: center; min-width: 170px; }
.score .n { font-size: 46pt; font-weight: bold; line-height: 1; }
.score .of { font-size: 14pt; color: #546e7a; }
.band { display: inline-block; color: #fff; font-weight: bold; border-radius: 4px; padding: 1px 8px;
  text-transform: uppercase; font-size: 9pt; letter-spacing: 0.5px; white-space: nowrap; }
.score .band { font-size: 12pt; margin-top: 4px; }
.trend { flex: 1; min-width: 300px; }
.chart, .map { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #cfd8dc; padding: 3px 5px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; word-break: break-word; }
th { background: #eceff1; font-size: 9pt; overflow-wrap: normal; word-break: normal; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; }
table.small { font-size: 8.5pt; }
/* CVE and advisory ids break only between ids, never at their hyphens. */
.id { white-space: nowrap; overflow-wrap: normal; word-break: normal; }
.counts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; margin: 10px 0; }
.count { border: 1px solid #cfd8dc; border-radius: 6px; padding: 5px 8px; break-inside: avoid; }
.count .v { font-size: 17pt; font-weight: bold; }
.count .k { font-size: 8.5pt; color: #546e7a; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 5px; border: 1px solid #263238;
  vertical-align: middle; margin-right: 3px; }
.legend { font-size: 8.5pt; color: #37474f; margin: 2px 0 6px; }
.legend span { margin-right: 12px; white-space: nowrap; }
.none { color: #78909c; font-style: italic; }
.more { color: #546e7a; font-size: 9pt; }
.sev { color: #fff; border-radius: 3px; padding: 0 4px; font-size: 8.5pt; white-space: nowrap; }
.kev { color: #b71c1c; font-weight: bold; }
code { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8.5pt; }
.generated { color: #546e7a; font-size: 9pt; }
"#;

/// The whole report.
pub fn render(d: &Data) -> String {
    let sites = d.site_parts();
    let scope = scope_name(d);
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>otwatch risk report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&scope)
    );
    executive(&mut s, d, &scope, &sites);
    for site in &sites {
        s.push_str(&section(d, site));
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// "site plant-a" or "fleet (3 sites)".
pub fn scope_name(d: &Data) -> String {
    if d.site.is_empty() {
        format!("fleet ({})", plural(d.sites.len(), "site", "sites"))
    } else {
        format!("site {}", d.site)
    }
}

/// The page every reader sees first.
fn executive(s: &mut String, d: &Data, scope: &str, sites: &[Site]) {
    let r = &d.risk;
    let c = d.counts();
    let colour = band_colour(&r.band);
    let _ = write!(
        s,
        "<section class=\"executive\">\n<h1>Risk assessment: {}</h1>\n<p class=\"generated\">Generated {} by otwatch {}</p>\n",
        esc(scope),
        esc(&d.generated_at),
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        s,
        r#"<div class="headline"><div class="score" style="border-color:{colour}"><div class="n" style="color:{colour}">{}</div><div class="of">/100</div><div class="band" style="background:{colour}">{}</div></div><div class="trend">"#,
        r.security_score,
        esc(&r.band)
    );
    match trend_svg(&r.trend) {
        Some(svg) => {
            let _ = write!(
                s,
                "<h3>Security score, last {}</h3>{svg}",
                plural(r.trend.len(), "day", "days")
            );
        }
        None => s.push_str("<p class=\"none\">The trend starts today: the manager records the score once a day, and the chart appears from the second day on.</p>"),
    }
    s.push_str("</div></div>\n");
    let _ = writeln!(
        s,
        "<p><b>Security score {}/100 ({})</b>: {} of {} at risk, {}. The score and bands are explained in docs/RISK.md (good 80-100, fair 60-79, poor 40-59, critical 0-39).</p>",
        r.security_score,
        esc(&r.band),
        c.at_risk,
        plural(c.assets, "asset", "assets"),
        plural(c.vulnerabilities(), "known vulnerability", "known vulnerabilities"),
    );
    counts(s, &c);
    top_risks(s, d);
    if d.site.is_empty() {
        site_table(s, sites);
    }
    s.push_str("</section>\n");
}

fn counts(s: &mut String, c: &Counts) {
    let cells = [
        (c.assets, "assets"),
        (c.at_risk, "assets at risk"),
        (c.critical, "critical vulnerabilities"),
        (c.high, "high vulnerabilities"),
        (c.medium, "medium vulnerabilities"),
        (c.low, "low vulnerabilities"),
        (c.kev, "known exploited (KEV)"),
        (c.internet, "internet-exposed assets"),
        (c.remote_access, "remote access into control"),
        (c.level_skips, "Purdue level skips"),
        (c.shadow, "shadow devices"),
        (c.spof, "single points of failure"),
    ];
    s.push_str("<div class=\"counts\">");
    for (n, what) in cells {
        let _ = write!(
            s,
            r#"<div class="count"><div class="v">{n}</div><div class="k">{what}</div></div>"#
        );
    }
    s.push_str("</div>\n");
}

fn top_risks(s: &mut String, d: &Data) {
    let r = &d.risk;
    let index = d.index();
    let _ = writeln!(s, "<h3>Top {TOP_RISKS} risks</h3>");
    if r.assets.is_empty() {
        s.push_str("<p class=\"none\">No asset has a finding.</p>\n");
        return;
    }
    s.push_str(r#"<table><colgroup><col style="width:4%"><col style="width:27%"><col style="width:8%"><col style="width:15%"><col style="width:46%"></colgroup><tr><th class="num">#</th><th>Asset</th><th class="num">Risk</th><th>Role, exposure</th><th>Top finding</th></tr>"#);
    for (i, a) in r.assets.iter().take(TOP_RISKS).enumerate() {
        let (class, colour) = risk_class(a.risk);
        let top = a.findings.first().map_or(String::new(), |f| {
            format!(
                "{}: {} <span class=\"more\">(severity {})</span>",
                esc(&f.kind),
                esc(&f.detail),
                one_decimal(f.severity)
            )
        });
        let more = a.findings.len().saturating_sub(1);
        let _ = write!(
            s,
            r#"<tr><td class="num">{}</td><td>{}<br><code>{}</code></td><td class="num"><span class="swatch" style="background:{colour}" title="{class}"></span>{}</td><td>{}, {}</td><td>{top}{}</td></tr>"#,
            i + 1,
            esc(&cut(d.name(&index, &a.asset), 40)),
            esc(&a.asset),
            one_decimal(a.risk),
            esc(&a.role),
            esc(&a.exposure),
            if more > 0 {
                format!(" <span class=\"more\">+{more} more</span>")
            } else {
                String::new()
            }
        );
    }
    s.push_str("</table>\n");
    if r.assets.len() > TOP_RISKS {
        let _ = writeln!(
            s,
            "<p class=\"more\">{} more assets at risk are in the site sections.</p>",
            r.assets.len() - TOP_RISKS
        );
    }
}

fn site_table(s: &mut String, sites: &[Site]) {
    s.push_str("<h3>Sites</h3>\n");
    s.push_str(r#"<table><colgroup><col style="width:19%"><col style="width:8%"><col style="width:12%"><col span="7" style="width:8.7%"></colgroup><tr><th>Site</th><th class="num">Score</th><th>Band</th><th class="num">Assets</th><th class="num">At risk</th><th class="num">Critical</th><th class="num">High</th><th class="num">KEV</th><th class="num">Internet</th><th class="num">Shadow</th></tr>"#);
    for site in sites {
        let c = &site.counts;
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(site.name),
            site.score,
            band_pill(&site.band),
            c.assets,
            c.at_risk,
            c.critical,
            c.high,
            c.kev,
            c.internet,
            c.shadow
        );
    }
    s.push_str("</table>\n");
}
