//! Report output: stable JSON and a readable table.

use otwatch_common::model::{Alert, Asset, Connection, InventoryReport};
use otwatch_common::terminal::{address_order, terminal_width, Table};
use otwatch_common::vocab;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The report as pretty JSON with a trailing newline. Field order follows the proto and every
/// list is sorted, so the same inventory always gives the same bytes. Controls and bidi marks
/// in strings (a host name from the network) are escaped, so the JSON is safe to show.
pub fn to_json(r: &InventoryReport) -> String {
    let mut s = otwatch_common::terminal::json(r).unwrap_or_default();
    s.push('\n');
    s
}

/// Where device-type groups come in the table: the order of [`vocab::DEVICE_TYPES`],
/// controllers first.
fn type_rank(t: &str) -> usize {
    vocab::DEVICE_TYPES
        .iter()
        .position(|x| *x == t)
        .unwrap_or(vocab::DEVICE_TYPES.len())
}

/// Higher is more severe ([`vocab::SEVERITIES`] runs from info to critical).
fn severity_rank(s: &str) -> usize {
    vocab::SEVERITIES
        .iter()
        .position(|x| *x == s)
        .map_or(0, |i| i + 1)
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Rows of long lists shown in the table; the JSON has them all.
const ALERT_ROWS: usize = 30;
const CONVERSATION_ROWS: usize = 30;

/// `name n` pairs, largest count first, then by name, at most `max` of them: "dnp3 203,
/// modbus 4, … 3 more".
fn counted<'a>(counts: impl IntoIterator<Item = (&'a str, u64)>, max: usize) -> String {
    let mut v: Vec<(&str, u64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut text = v
        .iter()
        .take(max)
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if v.len() > max {
        let _ = write!(text, ", … {} more", v.len() - max);
    }
    text
}

/// `SRC -> DST` of an alert, either side left out when unknown.
fn alert_pair(a: &Alert) -> String {
    match (a.src.is_empty(), a.dst.is_empty()) {
        (false, false) => format!("{} -> {}", a.src, a.dst),
        (false, true) => a.src.clone(),
        (true, true) => String::new(),
        (true, false) => format!("* -> {}", a.dst),
    }
}

/// The alerts, most severe first.
fn alerts(out: &mut String, r: &InventoryReport, width: Option<usize>) {
    if r.alerts.is_empty() {
        let _ = writeln!(out, "\nALERTS: none");
        return;
    }
    let _ = writeln!(
        out,
        "\nALERTS ({}: {})",
        r.alerts.len(),
        by_severity(&r.alerts)
    );
    let mut v: Vec<&Alert> = r.alerts.iter().collect();
    v.sort_by(|a, b| {
        severity_rank(&b.severity)
            .cmp(&severity_rank(&a.severity))
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.id.cmp(&b.id))
    });
    let mut t = Table::new(&[
        "SEVERITY",
        "KIND",
        "SRC -> DST",
        "PROTOCOL",
        "COUNT",
        "FIRST SEEN (UTC)",
        "TITLE",
    ])
    .keep(0)
    .floor(1, 12)
    .cap(2, 40)
    .floor(2, 33)
    .keep(4)
    .keep(5)
    .cap(6, 70)
    .floor(6, 24);
    for a in v.iter().take(ALERT_ROWS) {
        t.row([
            a.severity.to_uppercase(),
            a.kind.clone(),
            alert_pair(a),
            a.protocol.clone(),
            a.count.to_string(),
            a.first_seen
                .get(..19)
                .unwrap_or(&a.first_seen)
                .replace('T', " "),
            a.title.clone(),
        ]);
    }
    out.push_str(&t.render(width));
    if v.len() > ALERT_ROWS {
        let _ = writeln!(
            out,
            "  … and {} more (--format json lists every alert with its evidence)",
            v.len() - ALERT_ROWS
        );
    }
}

/// "2 critical, 3 high": alerts counted by severity, most severe first.
fn by_severity(alerts: &[Alert]) -> String {
    let mut by_sev: BTreeMap<Reverse<usize>, (&str, usize)> = BTreeMap::new();
    for a in alerts {
        by_sev
            .entry(Reverse(severity_rank(&a.severity)))
            .or_insert((a.severity.as_str(), 0))
            .1 += 1;
    }
    by_sev
        .values()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per vulnerable asset: how many CVEs affect it certainly and possibly, the highest CVSS and
/// the CVEs; most severe first. Only shown when advisories were given and something matched.
fn vulnerabilities(out: &mut String, r: &InventoryReport, width: Option<usize>) {
    let mut rows: Vec<(f64, &Asset)> = r
        .assets
        .iter()
        .filter(|a| !a.vulnerabilities.is_empty())
        .map(|a| {
            let max = a.vulnerabilities.iter().map(|v| v.cvss).fold(0.0, f64::max);
            (max, a)
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let all = rows.iter().flat_map(|(_, a)| &a.vulnerabilities);
    let affected = all.clone().filter(|v| v.status == "affected").count();
    let _ = writeln!(
        out,
        "\nVULNERABILITIES ({} assets: {affected} affected, {} possibly affected; --format json has each with its remediation)",
        rows.len(),
        all.count() - affected,
    );
    let mut t = Table::new(&[
        "ASSET",
        "MODEL/FIRMWARE",
        "AFFECTED",
        "POSSIBLY",
        "MAX CVSS",
        "KEV",
        "CVES",
    ])
    .keep(0)
    .cap(1, 28)
    .keep(2)
    .keep(3)
    .keep(4)
    .keep(5)
    .cap(6, 60);
    for (max, a) in &rows {
        let count = |status: &str| {
            a.vulnerabilities
                .iter()
                .filter(|v| v.status == status)
                .count()
        };
        let mut cves: Vec<&str> = a
            .vulnerabilities
            .iter()
            .map(|v| {
                if v.cve.is_empty() {
                    v.advisory.as_str()
                } else {
                    v.cve.as_str()
                }
            })
            .collect();
        cves.dedup();
        t.row([
            asset_name(a),
            model_firmware(a),
            count("affected").to_string(),
            count("possibly_affected").to_string(),
            if *max > 0.0 {
                format!("{max:.1}")
            } else {
                "-".into()
            },
            a.vulnerabilities
                .iter()
                .filter(|v| v.kev)
                .count()
                .to_string(),
            cves.join(" "),
        ]);
    }
    out.push_str(&t.render(width));
}

/// The process-bus view: every GOOSE and Sampled Values stream, by publisher, with the group
/// its subscribers listen on and how often its published state changed.
fn process_bus(out: &mut String, r: &InventoryReport, width: Option<usize>) {
    let mut rows: Vec<(&Asset, &otwatch_common::model::PublishedStream)> = r
        .assets
        .iter()
        .flat_map(|a| a.published.iter().map(move |s| (a, s)))
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| asset_order(a.0, b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let publishers = rows
        .iter()
        .map(|(a, _)| &a.id)
        .collect::<BTreeSet<_>>()
        .len();
    let _ = writeln!(
        out,
        "\nPROCESS BUS ({} streams from {publishers} publishers; subscribers listen on the group without sending)",
        rows.len()
    );
    let mut t = Table::new(&[
        "PUBLISHER",
        "PROTOCOL",
        "STREAM",
        "DATASET",
        "APPID",
        "GROUP",
        "CONFREV",
        "FRAMES",
        "STATE CHANGES",
        "LAST CHANGE",
        "TEST",
    ])
    .keep(0)
    .keep(1)
    .cap(2, 40)
    .cap(3, 40)
    .keep(4)
    .keep(5)
    .keep(6)
    .keep(7)
    .keep(8);
    for (a, s) in rows {
        let goose = s.protocol == "goose";
        let name = match a.hostname.as_str() {
            "" => asset_name(a),
            host => format!("{host} {}", asset_name(a)),
        };
        t.row([
            name,
            s.protocol.clone(),
            s.id.clone(),
            s.dataset.clone(),
            format!("{:#06x}", s.appid),
            s.group.clone(),
            s.conf_rev.to_string(),
            s.frames.to_string(),
            if goose {
                format!("{} (stNum {})", s.state_changes, s.st_num)
            } else {
                "-".into()
            },
            s.last_change.clone(),
            if s.simulation { "yes" } else { "" }.into(),
        ]);
    }
    out.push_str(&t.render(width));
}

/// "MODEL FIRMWARE", either left out when unknown.
fn model_firmware(a: &Asset) -> String {
    [a.model.as_str(), a.firmware.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

fn asset_name(a: &Asset) -> String {
    a.ips
        .first()
        .cloned()
        .or_else(|| a.macs.first().cloned())
        .unwrap_or_else(|| a.id.clone())
}

/// The order assets are listed in: by first address as an address (10.0.0.9 before
/// 10.0.0.10), then by first MAC.
fn asset_order(a: &Asset, b: &Asset) -> std::cmp::Ordering {
    let first = |v: &[String]| v.first().cloned().unwrap_or_default();
    match (a.ips.first(), b.ips.first()) {
        (Some(x), Some(y)) => address_order(x, y),
        // Assets known only by MAC after those with an address.
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
    .then_with(|| first(&a.macs).cmp(&first(&b.macs)))
    .then_with(|| a.id.cmp(&b.id))
}

/// A connection's protocol, or its transport and port when no dissector named it.
fn protocol_of(c: &Connection) -> String {
    if c.protocol.is_empty() {
        format!("{}/{}", c.transport, c.port)
    } else {
        c.protocol.clone()
    }
}

/// The summary under the title: what is there and what went wrong, in a few lines.
fn summary(out: &mut String, r: &InventoryReport) {
    let s = r.stats();
    let mut lines: Vec<(&str, String)> = Vec::new();

    let mut types: BTreeMap<&str, u64> = BTreeMap::new();
    let mut levels: BTreeMap<Option<u32>, u64> = BTreeMap::new();
    for a in &r.assets {
        *types.entry(a.device_type.as_str()).or_default() += 1;
        *levels.entry(a.purdue_level).or_default() += 1;
    }
    let mut by_type: Vec<(&str, u64)> = types.into_iter().collect();
    by_type.sort_by(|a, b| b.1.cmp(&a.1).then(type_rank(a.0).cmp(&type_rank(b.0))));
    let types = by_type
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ");
    lines.push(("assets", format!("{} ({types})", r.assets.len())));
    if !levels.is_empty() {
        // Levels 0 to 5 in order, unknown last.
        let mut v: Vec<(Option<u32>, u64)> = levels.into_iter().collect();
        v.sort_by_key(|(l, _)| l.map_or(u32::MAX, |l| l));
        let text = v
            .iter()
            .map(|(l, n)| match l {
                Some(l) => format!("L{l} {n}"),
                None => format!("unknown {n}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        lines.push(("purdue levels", text));
    }

    let mut protocols: BTreeMap<String, u64> = BTreeMap::new();
    let mut ops: BTreeMap<&str, u64> = BTreeMap::new();
    let mut logins: Vec<String> = Vec::new();
    for c in &r.connections {
        *protocols.entry(protocol_of(c)).or_default() += 1;
        for o in &c.operations {
            *ops.entry(o.as_str()).or_default() += 1;
        }
        for l in &c.cleartext_logins {
            logins.push(format!("{} {} on {}", l.protocol, l.user, c.server));
        }
    }
    if !protocols.is_empty() {
        let n = protocols.len();
        let top = counted(protocols.iter().map(|(k, v)| (k.as_str(), *v)), 8);
        lines.push(("protocols", format!("{n}; connections: {top}")));
    }
    lines.push((
        "alerts",
        if r.alerts.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", r.alerts.len(), by_severity(&r.alerts))
        },
    ));
    if !ops.is_empty() {
        lines.push(("operations", format!("connections: {}", counted(ops, 10))));
    }
    if !logins.is_empty() {
        logins.sort();
        logins.dedup();
        let n = logins.len();
        let shown: Vec<String> = logins.into_iter().take(4).collect();
        let more = if n > 4 {
            format!(", … {} more", n - 4)
        } else {
            String::new()
        };
        lines.push((
            "cleartext logins",
            format!("{n} ({}{more})", shown.join(", ")),
        ));
    }
    let violations: u64 = s.protocol_violations.values().sum();
    lines.push((
        "protocol violations",
        if violations == 0 {
            "none".to_string()
        } else {
            format!(
                "{violations} ({})",
                counted(
                    s.protocol_violations.iter().map(|(k, v)| (k.as_str(), *v)),
                    10
                )
            )
        },
    ));
    lines.push((
        "decode errors",
        if s.decode_errors == 0 {
            "none".to_string()
        } else {
            format!(
                "{} ({})",
                s.decode_errors,
                counted(
                    s.decode_errors_by_kind
                        .iter()
                        .map(|(k, v)| (k.as_str(), *v)),
                    10
                )
            )
        },
    ));
    // What the caps threw away: the inventory is incomplete there, and the user must know.
    let hit = counted(
        s.limits
            .iter()
            .filter(|(k, _)| k.as_str() != "fragments_reassembled" && !k.ends_with("_expired"))
            .map(|(k, v)| (k.as_str(), *v)),
        20,
    );
    // What retention forgot ([inventory] retain_*_days): not a cap, said apart.
    let forgotten = counted(
        s.limits
            .iter()
            .filter(|(k, _)| k.ends_with("_expired"))
            .map(|(k, v)| (k.as_str(), *v)),
        4,
    );
    if !forgotten.is_empty() {
        lines.push((
            "forgotten",
            format!("{forgotten} (not seen within [inventory] retain_*_days)"),
        ));
    }
    lines.push((
        "caps reached",
        if hit.is_empty() {
            "none".to_string()
        } else {
            format!("{hit} (raise them in [flow] and [inventory] of sensor.toml)")
        },
    ));
    let w = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        let _ = writeln!(
            out,
            "  {k:<w$}  {}",
            otwatch_common::terminal::terminal_safe(&v)
        );
    }
}

/// The conversations: those with operations, cleartext logins or alerts first, then the
/// largest.
fn conversations(out: &mut String, r: &InventoryReport, width: Option<usize>) {
    if r.connections.is_empty() {
        return;
    }
    let mut alerts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for a in &r.alerts {
        *alerts.entry((a.src.as_str(), a.dst.as_str())).or_default() += 1;
    }
    let alerts_of = |c: &Connection| {
        alerts
            .get(&(c.client.as_str(), c.server.as_str()))
            .copied()
            .unwrap_or(0)
    };
    let notable = |c: &Connection| {
        !c.operations.is_empty() || !c.cleartext_logins.is_empty() || alerts_of(c) > 0
    };
    let mut v: Vec<&Connection> = r.connections.iter().collect();
    v.sort_by(|a, b| {
        notable(b)
            .cmp(&notable(a))
            .then(alerts_of(b).cmp(&alerts_of(a)))
            .then(b.bytes.cmp(&a.bytes))
            .then_with(|| address_order(&a.client, &b.client))
            .then_with(|| address_order(&a.server, &b.server))
            .then(a.port.cmp(&b.port))
    });
    let n_notable = v.iter().filter(|c| notable(c)).count();
    let _ = writeln!(
        out,
        "\nCONVERSATIONS ({}; {n_notable} with operations, cleartext logins or alerts)",
        v.len()
    );
    let mut t = Table::new(&[
        "CLIENT",
        "SERVER",
        "PROTOCOL",
        "PACKETS",
        "BYTES",
        "ALERTS",
        "OPERATIONS",
        "LOGINS",
    ])
    .hide_empty()
    .keep(0)
    .keep(1)
    .keep(3)
    .keep(4)
    .keep(5)
    .cap(6, 50)
    .cap(7, 30);
    for c in v.iter().take(CONVERSATION_ROWS) {
        let logins: Vec<String> = c
            .cleartext_logins
            .iter()
            .map(|l| format!("{} ({})", l.user, l.protocol))
            .collect();
        let n = alerts_of(c);
        t.row([
            c.client.clone(),
            c.server.clone(),
            protocol_of(c),
            c.packets.to_string(),
            human_bytes(c.bytes),
            if n == 0 { String::new() } else { n.to_string() },
            c.operations.join(","),
            logins.join(","),
        ]);
    }
    out.push_str(&t.render(width));
    if v.len() > CONVERSATION_ROWS {
        let _ = writeln!(
            out,
            "  … and {} more (--format json lists every connection)",
            v.len() - CONVERSATION_ROWS
        );
    }
}

/// A readable report for a terminal: title, summary, alerts, assets grouped by device type,
/// conversations, vulnerabilities, top talkers and protocol mix. With `fit`, tables are fitted
/// to the width of the terminal standard output is (when it is one).
pub fn to_table(r: &InventoryReport, fit: bool) -> String {
    to_table_width(r, if fit { terminal_width() } else { None })
}

/// [`to_table`] fitted to `width` columns, or not cut at all with `None`.
pub fn to_table_width(r: &InventoryReport, width: Option<usize>) -> String {
    let mut out = String::new();
    let s = r.stats();
    let _ = writeln!(
        out,
        "otwatch inventory: {} assets, {} connections, {} packets ({}), {} flows",
        r.assets.len(),
        r.connections.len(),
        s.packets,
        human_bytes(s.bytes),
        s.flows,
    );
    if !s.first_packet.is_empty() {
        let _ = writeln!(out, "capture time: {} .. {}", s.first_packet, s.last_packet);
    }
    let _ = writeln!(out);
    summary(&mut out, r);
    alerts(&mut out, r, width);

    let mut groups: BTreeMap<(usize, &str), Vec<&Asset>> = BTreeMap::new();
    for a in &r.assets {
        groups
            .entry((type_rank(&a.device_type), a.device_type.as_str()))
            .or_default()
            .push(a);
    }
    for ((_, ty), assets) in &mut groups {
        assets.sort_by(|a, b| asset_order(a, b));
        let _ = writeln!(
            out,
            "\n{} ({})",
            ty.to_uppercase().replace('_', " "),
            assets.len()
        );
        let mut t = Table::new(&[
            "LEVEL",
            "IP",
            "MAC",
            "VENDOR",
            "HOSTNAME",
            "MODEL/FIRMWARE",
            "OS",
            "PROTOCOLS",
            "PACKETS",
        ])
        .hide_empty()
        .keep(0)
        .cap(1, 40)
        .floor(1, 15)
        .keep(2)
        .cap(3, 24)
        .cap(4, 24)
        .cap(5, 28)
        .cap(6, 20)
        .cap(7, 40)
        .keep(8);
        for a in assets.iter() {
            let mut protos: Vec<String> = a
                .protocols
                .iter()
                .map(|p| format!("{}/{}", p.name, if p.role == "server" { "s" } else { "c" }))
                .collect();
            protos.dedup();
            t.row([
                a.purdue_level
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "-".into()),
                a.ips.join(" "),
                a.macs.first().cloned().unwrap_or_default(),
                a.vendor.clone(),
                a.hostname.clone(),
                model_firmware(a),
                a.os.clone(),
                protos.join(","),
                a.packets.to_string(),
            ]);
        }
        out.push_str(&t.render(width));
    }

    conversations(&mut out, r, width);
    process_bus(&mut out, r, width);
    vulnerabilities(&mut out, r, width);

    let mut talkers: Vec<&Asset> = r.assets.iter().filter(|a| a.bytes > 0).collect();
    talkers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| asset_order(a, b)));
    if !talkers.is_empty() {
        let _ = writeln!(out, "\nTOP TALKERS");
        let mut t = Table::new(&["ASSET", "TYPE", "PACKETS", "BYTES"])
            .keep(0)
            .keep(2)
            .keep(3);
        for a in talkers.iter().take(10) {
            t.row([
                asset_name(a),
                a.device_type.clone(),
                a.packets.to_string(),
                human_bytes(a.bytes),
            ]);
        }
        out.push_str(&t.render(width));
    }

    let mut mix: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for c in &r.connections {
        let e = mix.entry(protocol_of(c)).or_default();
        e.0 += 1;
        e.1 += c.packets;
        e.2 += c.bytes;
    }
    if !mix.is_empty() {
        let total: u64 = mix.values().map(|v| v.2).sum::<u64>().max(1);
        let mut rows: Vec<(String, (u64, u64, u64))> = mix.into_iter().collect();
        rows.sort_by(|a, b| b.1 .2.cmp(&a.1 .2).then(a.0.cmp(&b.0)));
        let _ = writeln!(out, "\nPROTOCOL MIX");
        let mut t = Table::new(&["PROTOCOL", "CONNECTIONS", "PACKETS", "BYTES", "SHARE"]);
        for (n, (conns, p, b)) in rows.iter().take(15) {
            t.row([
                n.clone(),
                conns.to_string(),
                p.to_string(),
                human_bytes(*b),
                format!("{:.1}%", *b as f64 * 100.0 / total as f64),
            ]);
        }
        out.push_str(&t.render(width));
    }
    match width {
        // The tables fit already; a long summary or heading line is cut (the JSON has it all).
        Some(w) => out
            .lines()
            .map(|l| otwatch_common::terminal::cut(l, w) + "\n")
            .collect(),
        None => out,
    }
}
