//! Text of the report: escaping for HTML and inline SVG, shortening, numbers, and the colours
//! of bands, risks and severities. Every string a device or an advisory supplied (names,
//! vendors, host names, titles) goes through [`esc`] before it reaches the document.

use std::borrow::Cow;

/// `s` made safe as HTML text, as a quoted HTML attribute and as SVG (XML) text: `&`, `<`, `>`,
/// `"` and `'` become character references. Control characters (XML forbids most of them) and
/// the bidi marks, overrides and isolates (which would reorder the text around them) become
/// U+FFFD, so a device cannot make the report show something it did not say.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| special(c) || hidden(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if hidden(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn special(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
}

/// Characters that are not shown as themselves: controls other than tab and newline, and the
/// bidi characters (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n')
        || matches!(
            c,
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` cut to at most `max` characters, the last one an ellipsis when it was cut (the caller
/// escapes the result).
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        return Cow::Borrowed(s);
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('\u{2026}');
    Cow::Owned(out)
}

/// A number with one decimal, as the risk table prints it: 45.6, 10.0.
pub fn one_decimal(x: f64) -> String {
    format!("{x:.1}")
}

/// A coordinate in an SVG: one decimal, without "-0.0", so the same input gives the same bytes.
pub fn coord(x: f64) -> String {
    let s = format!("{x:.1}");
    if s == "-0.0" {
        "0.0".to_string()
    } else {
        s
    }
}

/// "1 asset", "3 assets".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The colour of a security-score band (docs/RISK.md: good, fair, poor, critical).
pub fn band_colour(band: &str) -> &'static str {
    match band {
        "good" => "#2e7d32",
        "fair" => "#b7950b",
        "poor" => "#e65100",
        "critical" => "#b71c1c",
        _ => "#546e7a",
    }
}

/// How an asset's risk (0-100) is coloured on the Purdue map and in the tables: none (no
/// findings), low (below 30), medium (30-59.9), high (60 and above).
pub fn risk_class(risk: f64) -> (&'static str, &'static str) {
    if risk <= 0.0 {
        ("none", "#a5d6a7")
    } else if risk < 30.0 {
        ("low", "#fdd835")
    } else if risk < 60.0 {
        ("medium", "#fb8c00")
    } else {
        ("high", "#d32f2f")
    }
}

/// The severities of vulnerabilities that the report counts, most severe first, with their
/// colours.
pub const SEVERITIES: [(&str, &str); 4] = [
    ("critical", "#b71c1c"),
    ("high", "#e65100"),
    ("medium", "#f9a825"),
    ("low", "#689f38"),
];

/// The colour of a vulnerability severity; grey for none or unknown.
pub fn severity_colour(severity: &str) -> &'static str {
    SEVERITIES
        .iter()
        .find(|(s, _)| *s == severity)
        .map_or("#90a4ae", |(_, c)| c)
}

/// The coloured band label.
pub fn band_pill(band: &str) -> String {
    format!(
        r#"<span class="band" style="background:{}">{}</span>"#,
        band_colour(band),
        esc(band)
    )
}

/// The coloured severity label.
pub fn severity_pill(severity: &str) -> String {
    let name = if severity.is_empty() {
        "none"
    } else {
        severity
    };
    format!(
        r#"<span class="sev" style="background:{}">{}</span>"#,
        severity_colour(severity),
        esc(name)
    )
}
