//! What the CLI prints: aligned tables and pretty JSON. Everything a sensor reported (host
//! names, vendors, alert text, evidence, ...) can hold bytes chosen by whoever is on the
//! monitored network, so no string reaches the terminal raw: table cells go through
//! [`terminal_safe`] and JSON through [`to_json`], which escape control characters and bidi
//! overrides.

use super::Format;
use otwatch_proto::v1::*;
use serde_json::{json, Value};
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

pub use otwatch_common::terminal::terminal_safe;
use otwatch_common::terminal::{terminal_width, Table};

/// One table cell: the text, lists joined with commas ([`Table`] makes it terminal safe).
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Pretty JSON of `v` with controls and bidi marks escaped ([`otwatch_common::terminal::json`]).
pub fn to_json(v: &Value) -> anyhow::Result<String> {
    Ok(otwatch_common::terminal::json(v)?)
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
    let upper: Vec<String> = cols.iter().map(|c| c.to_uppercase()).collect();
    let mut t = Table::new(&upper.iter().map(String::as_str).collect::<Vec<_>>()).flush_left();
    for r in &rows {
        t.row(cols.iter().map(|c| cell(r.get(*c))));
    }
    write!(out, "{}", t.render(terminal_width()))?;
    Ok(())
}

pub fn retention_json(k: &RetentionKind) -> Value {
    json!({
        "kind": k.kind, "limit_seconds": k.limit_seconds, "held": k.held, "oldest": k.oldest,
        "removed_total": k.removed_total, "removed_last_run": k.removed_last_run,
        "last_run": k.last_run, "error": k.error,
    })
}

/// A retention kind as a table row: the limit in days (or hours), counts, times.
pub fn retention_row(k: &RetentionKind) -> Value {
    let limit = match k.limit_seconds {
        0 => "forever".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{s}s"),
    };
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    json!({
        "kind": k.kind, "limit": limit,
        "held": k.held.map_or("-".to_string(), |h| h.to_string()),
        "oldest": or_dash(&k.oldest),
        "removed": format!("{} ({} last run)", k.removed_total, k.removed_last_run),
        "last_run": or_dash(&k.last_run), "error": k.error,
    })
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
        "outbox_deferred": s.outbox_deferred,
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
        "approved": f.approved, "shadow": f.shadow, "tags": f.tags,
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
        "tags": f.tags,
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
        "history": f.history.iter().map(|n| json!({
            "at": n.at, "by": n.by, "state": n.state, "comment": n.comment,
        })).collect::<Vec<_>>(),
    })
}

/// One alert for a person: a line per fact, then its evidence (`alerts show`).
pub(super) fn alert_detail(out: &mut dyn Write, f: &FleetAlert) -> anyhow::Result<()> {
    let a = f.alert.clone().unwrap_or_default();
    let updated = match (f.updated_by.as_str(), f.updated_at.as_str()) {
        ("", _) => String::new(),
        (by, at) => format!("{by} at {at}"),
    };
    let seen = format!("{} times, {} .. {}", a.count, a.first_seen, a.last_seen);
    let mitre = a.mitre.join(", ");
    let facts = [
        ("id", &f.id),
        ("site", &f.site),
        ("sensor", &f.sensor_id),
        ("state", &f.state),
        ("updated", &updated),
        ("severity", &a.severity),
        ("kind", &a.kind),
        ("title", &a.title),
        ("description", &a.description),
        ("source", &a.src),
        ("destination", &a.dst),
        ("asset", &a.asset),
        ("protocol", &a.protocol),
        ("mitre", &mitre),
        ("seen", &seen),
    ];
    for (k, v) in facts.iter().filter(|(_, v)| !v.is_empty()) {
        writeln!(out, "{k:<12} {}", terminal_safe(v))?;
    }
    if !a.evidence.is_empty() {
        writeln!(out, "evidence")?;
        for e in &a.evidence {
            writeln!(
                out,
                "  {:<10} {}",
                terminal_safe(&e.field),
                terminal_safe(&e.value)
            )?;
        }
    }
    if !f.history.is_empty() {
        writeln!(out, "history")?;
        for n in &f.history {
            let comment = if n.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", n.comment)
            };
            writeln!(
                out,
                "  {} {} {}{}",
                terminal_safe(&n.at),
                terminal_safe(&n.state),
                terminal_safe(&n.by),
                terminal_safe(&comment)
            )?;
        }
    }
    Ok(())
}

pub(super) fn alert_row(f: &FleetAlert) -> Value {
    let a = f.alert.clone().unwrap_or_default();
    json!({"id": f.id, "site": f.site, "state": f.state, "severity": a.severity,
           "kind": a.kind, "src": a.src, "dst": a.dst, "count": a.count,
           "last_seen": a.last_seen, "title": a.title})
}
