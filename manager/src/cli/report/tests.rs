#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::charts::{bar_len, day_number, severity_svg, trend_points, trend_svg};
use super::model::{Data, Site};
use super::purdue::{column_x, layout, row_of, svg, Node, PER_ROW};
use super::text::{coord, cut, esc, one_decimal, plural};
use super::{html, json, parse_time, resolve_kind, Kind};
use crate::cli::Format;
use otwatch_proto::v1::*;
use std::path::Path;

fn point(date: &str, score: u32) -> ScorePoint {
    ScorePoint {
        date: date.into(),
        security_score: score,
        band: otwatch_risk::Band::of(score).as_str().into(),
    }
}

#[test]
fn esc_makes_markup_text_and_hides_controls() {
    assert_eq!(
        esc(r#"<script>alert('x')&"</script>"#),
        "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
    );
    assert!(matches!(
        esc("plc-1 10.0.0.5"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(
        esc("a\u{1b}[31mb\u{202e}c\td"),
        "a\u{fffd}[31mb\u{fffd}c\td"
    );
    assert_eq!(cut("abcdef", 4), "abc\u{2026}");
    assert_eq!(cut("abc", 4), "abc");
    assert_eq!(coord(-0.01), "0.0");
    assert_eq!(coord(12.345), "12.3");
    assert_eq!(one_decimal(10.0), "10.0");
    assert_eq!(plural(1, "site", "sites"), "1 site");
    assert_eq!(plural(2, "site", "sites"), "2 sites");
}

#[test]
fn dates_count_days_from_1970() {
    assert_eq!(day_number("1970-01-01"), Some(0));
    assert_eq!(day_number("2000-03-01"), Some(11_017));
    assert_eq!(day_number("2024-01-01"), Some(19_723));
    assert_eq!(day_number("2024-03-01"), Some(19_783)); // after a leap day
    assert_eq!(day_number("2024-13-01"), None);
    assert_eq!(day_number("yesterday"), None);
}

#[test]
fn trend_points_are_placed_by_date_and_score() {
    // Plot area: x 40..624, y 12 (score 100) .. 172 (score 0).
    let t = [
        point("2026-01-01", 50),
        point("2026-01-03", 100),
        point("2026-01-05", 0),
    ];
    assert_eq!(
        trend_points(&t),
        [(40.0, 92.0), (332.0, 12.0), (624.0, 172.0)]
    );
    // A day without a score leaves a gap in time: the 2nd point sits at a quarter.
    let t = [
        point("2026-01-01", 80),
        point("2026-01-02", 80),
        point("2026-01-05", 80),
    ];
    assert_eq!(trend_points(&t)[1].0, 186.0);
    // Dates that do not read: evenly spaced.
    let t = [point("x", 80), point("y", 60), point("z", 40)];
    let xs: Vec<f64> = trend_points(&t).iter().map(|p| p.0).collect();
    assert_eq!(xs, [40.0, 332.0, 624.0]);

    assert_eq!(trend_svg(&[point("2026-01-01", 77)]), None);
    let svg = trend_svg(&[point("2026-01-01", 50), point("2026-01-05<b>", 100)]).unwrap();
    assert!(
        svg.contains(r#"<polyline points="40.0,92.0 624.0,12.0""#),
        "{svg}"
    );
    assert!(
        svg.contains("2026-01-05&lt;b&gt;") && !svg.contains("<b>"),
        "{svg}"
    );
}

#[test]
fn severity_bars_scale_to_the_longest() {
    assert_eq!(bar_len(6, 6), 300.0);
    assert_eq!(bar_len(3, 6), 150.0);
    assert_eq!(bar_len(0, 6), 0.0);
    assert_eq!(bar_len(0, 0), 0.0);
    let svg = severity_svg([3, 6, 0, 1]);
    // critical (3 of 6) is half the longest bar, on the first row.
    assert!(
        svg.contains(r##"<rect x="70" y="5.0" width="150.0" height="18.0" fill="#b71c1c"/>"##),
        "{svg}"
    );
    assert!(svg.contains(r#"width="50.0""#), "{svg}"); // low: 1 of 6
}

fn node(id: &str, level: Option<u32>, risk: f64) -> Node {
    Node {
        id: id.into(),
        label: id.into(),
        title: id.into(),
        level,
        risk,
        ..Default::default()
    }
}

#[test]
fn purdue_rows_and_order() {
    assert_eq!(row_of(Some(5)), 0);
    assert_eq!(row_of(Some(0)), 5);
    assert_eq!(row_of(None), 6);
    assert_eq!(row_of(Some(9)), 6);
    let nodes = vec![
        node("b", Some(1), 10.0),
        node("a", Some(1), 10.0),
        node("c", Some(1), 45.6),
        node("hmi", Some(2), 0.0),
        node("x", None, 0.0),
    ];
    let l = layout(&nodes, &[]);
    let at = |id: &str| {
        let p = l.placed.iter().find(|p| nodes[p.node].id == id).unwrap();
        (p.x, p.y)
    };
    // Level 1 is the 5th row; the riskiest first, then by id.
    let row1 = l.rows[4].y;
    assert_eq!(at("c"), (column_x(0), row1));
    assert_eq!(at("a"), (column_x(1), row1));
    assert_eq!(at("b"), (column_x(2), row1));
    assert_eq!(at("hmi").1, l.rows[3].y);
    assert_eq!(at("x").1, l.rows[6].y);
    assert_eq!((l.rows[4].label, l.rows[4].total), ("L1 control", 3));

    // The same nodes in another order give the same picture.
    let mut shuffled = nodes.clone();
    shuffled.reverse();
    let l2 = layout(&shuffled, &[]);
    assert_eq!(svg(&nodes, &l), svg(&shuffled, &l2));
}

#[test]
fn purdue_limits_rows_and_edges() {
    let mut nodes: Vec<Node> = (0..PER_ROW + 3)
        .map(|i| node(&format!("n{i:02}"), Some(2), 0.0))
        .collect();
    nodes.push(node("plc", Some(1), 0.0));
    let edges = vec![
        ("n00".to_string(), "plc".to_string()),
        ("plc".to_string(), "n00".to_string()), // the same conversation
        ("plc".to_string(), "plc".to_string()), // not a conversation between two assets
        ("n12".to_string(), "plc".to_string()), // n12 is not drawn
        ("n01".to_string(), "gone".to_string()), // not an asset of the site
        ("n01".to_string(), "n02".to_string()),
    ];
    let l = layout(&nodes, &edges);
    assert_eq!((l.rows[3].total, l.rows[3].shown), (PER_ROW + 3, PER_ROW));
    assert_eq!(l.edges.len(), 2);
    assert_eq!(l.edges_hidden, 1);
    let s = svg(&nodes, &l);
    assert!(s.contains(">+3 more</text>"), "{s}");
    // A conversation within a row is an arc.
    assert_eq!(s.matches("<path d=\"M").count(), 1, "{s}");
    assert_eq!(s.matches("<line x1").count(), 1, "{s}");
}

#[test]
fn purdue_marks_and_escapes() {
    let mut n = node("evil", Some(1), 70.0);
    n.label = "<script>alert(1)</script>".into();
    n.title = "\"><img src=x>".into();
    n.internet = true;
    n.shadow = true;
    n.spof = true;
    let nodes = vec![n];
    let s = svg(&nodes, &layout(&nodes, &[]));
    assert!(!s.contains("<script") && !s.contains("<img"), "{s}");
    assert!(s.contains("&lt;script&gt;aler\u{2026}"), "{s}");
    assert!(s.contains(r##"stroke="#1565c0""##) && s.contains("stroke-dasharray"));
    assert!(s.contains(r##"fill="#000""##) && s.contains(r##"fill="#d32f2f""##));
}

#[test]
fn the_kind_comes_from_as_or_the_name_and_clashes_are_refused() {
    let k = |a, out: &str, f| resolve_kind(a, Path::new(out), f);
    assert_eq!(k(None, "r.html", Format::Table).unwrap(), Kind::Html);
    assert_eq!(k(None, "R.HTM", Format::Table).unwrap(), Kind::Html);
    assert_eq!(k(None, "r.pdf", Format::Table).unwrap(), Kind::Pdf);
    assert_eq!(k(None, "r.json", Format::Json).unwrap(), Kind::Json);
    assert_eq!(k(None, "-", Format::Json).unwrap(), Kind::Json);
    assert_eq!(
        k(Some(Kind::Pdf), "report", Format::Table).unwrap(),
        Kind::Pdf
    );
    assert_eq!(
        k(Some(Kind::Html), "r.html", Format::Table).unwrap(),
        Kind::Html
    );
    let e = k(Some(Kind::Pdf), "r.html", Format::Table).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--as pdf clashes with --out r.html"),
        "{e}"
    );
    let e = k(None, "r.txt", Format::Table).unwrap_err();
    assert!(
        e.to_string().contains("name it .html, .pdf or .json"),
        "{e}"
    );
    let e = k(None, "r.html", Format::Json).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--format json clashes with a html report"),
        "{e}"
    );
    assert!(k(Some(Kind::Pdf), "-", Format::Table).is_err());
}

#[test]
fn generated_at_is_a_utc_time() {
    assert!(parse_time("2026-03-01T08:00:00Z").is_ok());
    assert!(parse_time("2026-03-01T08:00:00.25Z").is_ok());
    assert!(parse_time("2026-03-01 08:00").is_err());
    assert!(parse_time("2026-03-01T08:00:00+01:00").is_err());
}

/// A site with a vulnerable PLC that names itself `<script>`, an HMI, and a connection.
fn sample() -> Data {
    let plc = FleetAsset {
        id: "plant-a/mac:1".into(),
        site: "plant-a".into(),
        asset: Some(Asset {
            ips: vec!["10.0.0.5".into()],
            hostname: "<script>alert(1)</script>".into(),
            vendor: "Siemens\"><img src=x>".into(),
            device_type: "plc".into(),
            purdue_level: Some(1),
            vulnerabilities: vec![Vulnerability {
                cve: "CVE-2019-10936".into(),
                advisory: "ICSA-19-283-02".into(),
                cvss: 7.5,
                severity: "high".into(),
                status: "affected".into(),
                fixed_in: "V3.2.17".into(),
                kev: true,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let hmi = FleetAsset {
        id: "plant-a/mac:2".into(),
        site: "plant-a".into(),
        asset: Some(Asset {
            ips: vec!["10.0.0.10".into()],
            device_type: "hmi".into(),
            purdue_level: Some(2),
            ..Default::default()
        }),
        ..Default::default()
    };
    let conn = FleetConnection {
        site: "plant-a".into(),
        connection: Some(Connection {
            client: "10.0.0.10".into(),
            server: "10.0.0.5".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    Data {
        site: "plant-a".into(),
        generated_at: "2026-03-01T08:00:00Z".into(),
        risk: RiskAssessment {
            schema: "otwatch.risk.v1".into(),
            site: "plant-a".into(),
            security_score: 77,
            band: "fair".into(),
            assets: vec![AssetRisk {
                asset: "plant-a/mac:1".into(),
                name: "10.0.0.5".into(),
                risk: 45.6,
                role: "controller".into(),
                exposure: "internal".into(),
                findings: vec![RiskFinding {
                    kind: "vulnerability".into(),
                    severity: 7.5,
                    detail: "CVE-2019-10936 (ICSA-19-283-02, CVSS 7.5)".into(),
                }],
            }],
            trend: vec![point("2026-02-27", 70), point("2026-03-01", 77)],
            ..Default::default()
        },
        sites: vec!["plant-a".into()],
        assets: vec![plc, hmi],
        connections: vec![conn],
    }
}

#[test]
fn the_site_holds_its_part_and_counts() {
    let d = sample();
    let parts: Vec<Site> = d.site_parts();
    let s = &parts[0];
    assert_eq!((s.name, s.score, s.band.as_str()), ("plant-a", 77, "fair"));
    assert_eq!(
        s.edges,
        [("plant-a/mac:1".to_string(), "plant-a/mac:2".to_string())]
    );
    let c = d.counts();
    assert_eq!((c.assets, c.at_risk, c.high, c.kev), (2, 1, 1, 1));
    assert_eq!(c.vulnerabilities(), 1);
}

#[test]
fn html_is_self_contained_escaped_and_deterministic() {
    let d = sample();
    let page = html::render(&d);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Security score 77/100 (fair)"), "{page}");
    assert!(page.contains("CVE-2019-10936") && page.contains("V3.2.17"));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    for bad in [
        "<script", "<img", "src=\"", "href=\"", "url(", "@import", "http:", "https:",
    ] {
        assert!(!page.contains(bad), "{bad} in {page}");
    }
    assert!(page.contains("<polyline"), "the trend chart");
    assert!(page.contains("aria-label=\"Purdue map\""));
    assert_eq!(page, html::render(&d));
    // Only the generated-at line changes with the time.
    let mut later = d.clone();
    later.generated_at = "2026-03-02T09:00:00Z".into();
    let other = html::render(&later);
    let diff: Vec<(&str, &str)> = page
        .lines()
        .zip(other.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert!(diff[0]
        .0
        .starts_with("<p class=\"generated\">Generated 2026-03-01T08:00:00Z"));

    // One point: no chart, a sentence.
    let mut today = d.clone();
    today.risk.trend.truncate(1);
    let page = html::render(&today);
    assert!(!page.contains("<polyline") && page.contains("The trend starts today"));
}

#[test]
fn json_has_the_assessment_counts_and_sites() {
    let v: serde_json::Value = serde_json::from_str(&json::render(&sample()).unwrap()).unwrap();
    assert_eq!(v["schema"], "otwatch.report.v1");
    assert_eq!(v["security_score"], 77);
    assert_eq!(v["counts"]["vulnerabilities"]["high"], 1);
    assert_eq!(v["counts"]["kev"], 1);
    assert_eq!(v["sites"][0]["name"], "plant-a");
    assert_eq!(v["sites"][0]["vulnerabilities"][0]["cve"], "CVE-2019-10936");
    assert_eq!(v["assessment"]["assets"][0]["risk"], 45.6);
}
