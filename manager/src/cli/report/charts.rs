//! The report's charts as inline SVG: the security score over time (a line over the four band
//! stripes) and the vulnerabilities by severity (horizontal bars). Coordinates are computed by
//! plain functions so that tests can check them for known inputs.

use super::text::{band_colour, coord, esc, SEVERITIES};
use otwatch_proto::v1::ScorePoint;
use std::fmt::Write;

/// The trend chart's size and the plot area inside it.
pub const TREND_W: f64 = 640.0;
pub const TREND_H: f64 = 200.0;
const TREND_LEFT: f64 = 40.0;
const TREND_RIGHT: f64 = 16.0;
const TREND_TOP: f64 = 12.0;
const TREND_BOTTOM: f64 = 28.0;

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian), `None` when it does
/// not read as one.
pub fn day_number(date: &str) -> Option<i64> {
    let mut parts = date.get(..10)?.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (years counted from March, so the leap day ends a year).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The y of a score (0-100) in the trend chart.
fn score_y(score: f64) -> f64 {
    let h = TREND_H - TREND_TOP - TREND_BOTTOM;
    TREND_TOP + h * (100.0 - score.clamp(0.0, 100.0)) / 100.0
}

/// Where each point of `trend` is drawn: x by its date (days without a score leave a gap in
/// time, not in the line), or by its position when a date does not read; y by its score.
pub fn trend_points(trend: &[ScorePoint]) -> Vec<(f64, f64)> {
    let w = TREND_W - TREND_LEFT - TREND_RIGHT;
    let days: Option<Vec<i64>> = trend.iter().map(|p| day_number(&p.date)).collect();
    let xs: Vec<f64> = match days {
        Some(d) if d.len() >= 2 && d.windows(2).all(|w| w[0] < w[1]) => {
            let (first, span) = (d[0], (d[d.len() - 1] - d[0]) as f64);
            d.iter()
                .map(|&x| TREND_LEFT + w * (x - first) as f64 / span)
                .collect()
        }
        _ => {
            let span = trend.len().saturating_sub(1).max(1) as f64;
            (0..trend.len())
                .map(|i| TREND_LEFT + w * i as f64 / span)
                .collect()
        }
    };
    xs.into_iter()
        .zip(trend)
        .map(|(x, p)| (x, score_y(f64::from(p.security_score))))
        .collect()
}

/// The trend as an SVG line chart over the band stripes; `None` with fewer than two points.
pub fn trend_svg(trend: &[ScorePoint]) -> Option<String> {
    if trend.len() < 2 {
        return None;
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {TREND_W} {TREND_H}" width="{TREND_W}" height="{TREND_H}" role="img" aria-label="security score per day">"#
    );
    let right = TREND_W - TREND_RIGHT;
    // The bands as stripes behind the line: good 80-100, fair 60-79, poor 40-59, critical 0-39.
    for (band, hi, lo) in [
        ("good", 100.0, 80.0),
        ("fair", 80.0, 60.0),
        ("poor", 60.0, 40.0),
        ("critical", 40.0, 0.0),
    ] {
        let (y0, y1) = (score_y(hi), score_y(lo));
        let _ = write!(
            s,
            r#"<rect x="{TREND_LEFT}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.12"/>"#,
            coord(y0),
            coord(right - TREND_LEFT),
            coord(y1 - y0),
            band_colour(band)
        );
    }
    for tick in [0.0, 40.0, 60.0, 80.0, 100.0] {
        let y = score_y(tick);
        let _ = write!(
            s,
            r##"<line x1="{TREND_LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="#cfd8dc" stroke-width="0.5"/><text x="{}" y="{}" font-size="10" text-anchor="end" fill="#546e7a">{tick}</text>"##,
            coord(TREND_LEFT - 6.0),
            coord(y + 3.5),
            y = coord(y),
        );
    }
    let points = trend_points(trend);
    let line: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{},{}", coord(*x), coord(*y)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#263238" stroke-width="2"/>"##,
        line.join(" ")
    );
    for ((x, y), p) in points.iter().zip(trend) {
        let _ = write!(
            s,
            r#"<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{}: {} ({})</title></circle>"#,
            coord(*x),
            coord(*y),
            band_colour(&p.band),
            esc(&p.date),
            p.security_score,
            esc(&p.band)
        );
    }
    let (first, last) = (&trend[0], &trend[trend.len() - 1]);
    let base = coord(TREND_H - 8.0);
    let _ = write!(
        s,
        r##"<text x="{TREND_LEFT}" y="{base}" font-size="10" fill="#546e7a">{}</text><text x="{right}" y="{base}" font-size="10" text-anchor="end" fill="#546e7a">{}</text></svg>"##,
        esc(&first.date),
        esc(&last.date)
    );
    Some(s)
}

/// The severity chart's size: a label column, the bars, room for the count after a bar.
pub const BARS_W: f64 = 420.0;
const BAR_LABEL: f64 = 70.0;
const BAR_COUNT: f64 = 50.0;
const BAR_ROW: f64 = 24.0;

/// The length of the bar of `count` when the longest bar is `max`.
pub fn bar_len(count: usize, max: usize) -> f64 {
    if max == 0 {
        return 0.0;
    }
    (BARS_W - BAR_LABEL - BAR_COUNT) * count as f64 / max as f64
}

/// Vulnerabilities by severity as horizontal bars; `counts` are in the order of
/// [`SEVERITIES`] (critical, high, medium, low).
pub fn severity_svg(counts: [usize; 4]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0);
    let h = BAR_ROW * counts.len() as f64 + 4.0;
    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {BARS_W} {h}" width="{BARS_W}" height="{h}" role="img" aria-label="vulnerabilities by severity">"#
    );
    for (i, ((name, colour), n)) in SEVERITIES.iter().zip(counts).enumerate() {
        let y = 2.0 + BAR_ROW * i as f64;
        let len = bar_len(n, max);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#263238">{name}</text><rect x="{BAR_LABEL}" y="{}" width="{}" height="{}" fill="{colour}"/><text x="{}" y="{}" font-size="11" fill="#263238">{n}</text>"##,
            coord(BAR_LABEL - 6.0),
            coord(y + 15.0),
            coord(y + 3.0),
            coord(len),
            coord(BAR_ROW - 6.0),
            coord(BAR_LABEL + len + 5.0),
            coord(y + 15.0),
        );
    }
    s.push_str("</svg>");
    s
}
