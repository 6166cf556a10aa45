//! What the CLI prints: aligned tables and pretty JSON. Everything a sensor reported (host
//! names, vendors, alert text, evidence, ...) can hold bytes chosen by whoever is on the
//! monitored network, so no string reaches the terminal raw: table cells go through
//! [`terminal_safe`] and JSON through [`to_json`], which escape control characters and bidi
//! overrides.

use super::Format;
use otwatch_proto::v1::*;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::io::Write;

/// A new secret (a token): the JSON object, or the secret alone on stdout with `note` on stderr
/// (so `$(otwatch tokens create ...)` captures just the token).
pub(super) fn secret(
    out: &mut dyn Write,
    fmt: Format,
    v: Value,
    secret: &str,
    note: &str,
) -> anyhow::Result<()> {
    match fmt {
        Format::Json => writeln!(out, "{}", to_json(&v)?)?,
        Format::Table => {
            eprintln!("{note}");
            writeln!(out, "{secret}")?;
        }
    }
    Ok(())
}

pub(super) fn one(out: &mut dyn Write, fmt: Format, v: Value, what: &str) -> anyhow::Result<()> {
    match fmt {
        Format::Json => writeln!(out, "{}", to_json(&v)?)?,
        Format::Table => writeln!(
            out,
            "{what}: {}",
            terminal_safe(v.get("id").and_then(Value::as_str).unwrap_or(""))
        )?,
    }
    Ok(())
}

/// `s` as text that a terminal shows as it is: control characters (C0, DEL, C1), bidi
/// overrides and isolates (which reorder what follows them) and the backslash (so that an
/// escape cannot be forged) are written as Rust escapes, e.g. ESC as `\u{1b}`.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters a terminal acts on instead of showing: controls, and the bidi marks, embeddings,
/// overrides and isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// One table cell: text made [`terminal_safe`], lists joined with commas.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => terminal_safe(s).into_owned(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => terminal_safe(&other.to_string()).into_owned(),
    }
}

/// Pretty JSON of `v`. serde_json escapes C0 controls; this escapes DEL, the C1 controls and the
/// bidi characters of [`needs_escape`] too (`\u007f`, ...), so the text a terminal shows is the
/// JSON and nothing else. The value read back is the same.
pub fn to_json(v: &Value) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, SafeJson::default());
    serde::Serialize::serialize(v, &mut ser)?;
    Ok(String::from_utf8(buf)?)
}

/// serde_json's pretty formatter, escaping what [`needs_escape`] names inside strings.
#[derive(Default)]
struct SafeJson(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                w.write_all(fragment.get(start..i).unwrap_or("").as_bytes())?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(fragment.get(start..).unwrap_or("").as_bytes())
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// A listing of `items`: JSON, an array of each as `json` gives it; table, each as `row` gives
/// it, in the columns `cols`.
pub(super) fn emit_list<T>(
    out: &mut dyn Write,
    fmt: Format,
    items: &[T],
    json: fn(&T) -> Value,
    row: fn(&T) -> Value,
    cols: &[&str],
) -> anyhow::Result<()> {
    let each = match fmt {
        Format::Json => json,
        Format::Table => row,
    };
    emit(out, fmt, items.iter().map(each).collect(), cols)
}

/// JSON: an array of the rows. Table: the given columns, aligned.
pub(super) fn emit(
    out: &mut dyn Write,
    fmt: Format,
    rows: Vec<Value>,
    cols: &[&str],
) -> anyhow::Result<()> {
    if fmt == Format::Json {
        writeln!(out, "{}", to_json(&Value::Array(rows))?)?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| cell(r.get(*c))).collect())
        .collect();
    let mut widths: Vec<usize> = cols.iter().map(|c| c.len()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count()).min(60);
        }
    }
    let line = |vals: Vec<String>| {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(60).collect();
                format!("{v:<w$}")
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(
        out,
        "{}",
        line(cols.iter().map(|c| c.to_uppercase()).collect())
    )?;
    for row in cells {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

pub fn site_json(s: &Site) -> Value {
    json!({"name": s.name, "sensors": s.sensors, "assets": s.assets, "open_alerts": s.open_alerts})
}

pub fn sensor_json(s: &Sensor) -> Value {
    json!({
        "id": s.id, "site": s.site, "hostname": s.hostname, "version": s.version,
        "status": s.status, "enrolled_at": s.enrolled_at, "last_seen": s.last_seen,
        "backlog": s.backlog, "applied_seq": s.applied_seq, "capture_mode": s.capture_mode,
        "drops": s.drops, "certificate_not_after": s.certificate_not_after,
        "ignored_alert_states": s.ignored_alert_states, "over_quota": s.over_quota,
        "assets": s.assets, "connections": s.connections, "alerts": s.alerts,
    })
}

/// An asset, connection or alert as JSON: the report model serialised, as the sensor's report
/// shows it (unset optional fields left out).
pub fn report_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub fn fleet_asset_json(f: &FleetAsset) -> Value {
    json!({
        "id": f.id, "site": f.site,
        "asset": f.asset.as_ref().map(report_json),
        "approved": f.approved, "shadow": f.shadow,
        "seen_by": f.seen_by.iter().map(|p| json!({
            "sensor_id": p.sensor_id, "sensor_asset_id": p.sensor_asset_id,
            "first_seen": p.first_seen, "last_seen": p.last_seen})).collect::<Vec<_>>(),
    })
}

pub(super) fn asset_row(f: &FleetAsset) -> Value {
    let a = f.asset.clone().unwrap_or_default();
    let mut protos: Vec<String> = a.protocols.iter().map(|p| p.name.clone()).collect();
    protos.dedup();
    json!({
        "id": f.id, "ips": a.ips, "vendor": a.vendor, "device_type": a.device_type,
        "level": a.purdue_level.map(|l| l.to_string()).unwrap_or_default(),
        "protocols": protos,
        "seen_by": f.seen_by.iter().map(|p| p.sensor_id.clone()).collect::<Vec<_>>(),
        "approval": if f.shadow { "shadow" } else if f.approved { "approved" } else { "" },
    })
}

pub fn advisory_json(a: &AdvisorySummary) -> Value {
    json!({
        "id": a.id, "revision": a.revision, "release_date": a.release_date, "title": a.title,
        "cves": a.cves, "products": a.products, "format": a.format,
    })
}

pub fn fleet_conn_json(f: &FleetConnection) -> Value {
    json!({"site": f.site, "connection": f.connection.as_ref().map(report_json), "sensors": f.sensors})
}

pub(super) fn conn_row(f: &FleetConnection) -> Value {
    let c = f.connection.clone().unwrap_or_default();
    json!({"site": f.site, "client": c.client, "server": c.server, "transport": c.transport,
           "port": c.port, "protocol": c.protocol, "packets": c.packets, "sensors": f.sensors})
}

pub fn fleet_alert_json(f: &FleetAlert) -> Value {
    json!({
        "id": f.id, "site": f.site, "sensor_id": f.sensor_id,
        "alert": f.alert.as_ref().map(report_json), "state": f.state,
        "updated_at": f.updated_at, "updated_by": f.updated_by,
    })
}

pub(super) fn alert_row(f: &FleetAlert) -> Value {
    let a = f.alert.clone().unwrap_or_default();
    json!({"id": f.id, "site": f.site, "state": f.state, "severity": a.severity,
           "kind": a.kind, "src": a.src, "dst": a.dst, "count": a.count,
           "last_seen": a.last_seen, "title": a.title})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_and_bidi_overrides_are_shown_escaped() {
        assert_eq!(terminal_safe("plc-1"), "plc-1");
        assert_eq!(
            terminal_safe("a\u{1b}[2Jb\u{7f}\u{9b}\u{202e}\u{2066}\n\\"),
            "a\\u{1b}[2Jb\\u{7f}\\u{9b}\\u{202e}\\u{2066}\\u{a}\\\\"
        );
        assert_eq!(terminal_safe("Gerät"), "Gerät");
    }

    #[test]
    fn json_escapes_del_c1_and_bidi_and_reads_back_the_same() {
        let v = json!({"hostname": "x\u{1b}]0;pwned\u{7}\u{7f}\u{85}\u{202e}é"});
        let text = to_json(&v).unwrap();
        assert!(
            text.chars().all(|c| c == '\n' || !needs_escape(c)),
            "{text:?}"
        );
        assert!(
            text.contains("\\u001b") && text.contains("\\u007f") && text.contains("\\u202e"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
        assert_eq!(text, to_json(&v).unwrap());
        // Pretty, like before.
        assert!(to_json(&json!({"a": [1]}))
            .unwrap()
            .contains("\n  \"a\": [\n"));
    }
}
