//! Report output: stable JSON and a readable table.

use otwatch_common::model::{Asset, InventoryReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The report as pretty JSON with a trailing newline. Field order follows the proto and every
/// list is sorted, so the same inventory always gives the same bytes.
pub fn to_json(r: &InventoryReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

/// Order of device-type groups in the table: controllers first.
const TYPE_ORDER: &[&str] = &[
    "plc",
    "rtu",
    "ied",
    "hmi",
    "engineering_workstation",
    "scada_server",
    "historian",
    "opc_server",
    "building_controller",
    "io_module",
    "router",
    "switch",
    "iot_device",
    "it_host",
    "unknown",
];

fn type_rank(t: &str) -> usize {
    TYPE_ORDER
        .iter()
        .position(|x| *x == t)
        .unwrap_or(TYPE_ORDER.len())
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

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            let pad = width.saturating_sub(c.chars().count());
            l.push_str(c);
            if i + 1 < cells.len() {
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(
        out,
        "{}",
        line(header.iter().map(|s| s.to_string()).collect())
    );
    for r in rows {
        let _ = writeln!(out, "{}", line(r.clone()));
    }
}

/// Alert rows shown in the table; the JSON has them all.
const ALERT_ROWS: usize = 30;

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// The alerts, most severe first.
fn alerts(out: &mut String, r: &InventoryReport) {
    if r.alerts.is_empty() {
        let _ = writeln!(out, "\nALERTS: none");
        return;
    }
    let mut by_sev: BTreeMap<std::cmp::Reverse<u8>, (String, usize)> = BTreeMap::new();
    for a in &r.alerts {
        by_sev
            .entry(std::cmp::Reverse(severity_rank(&a.severity)))
            .or_insert_with(|| (a.severity.clone(), 0))
            .1 += 1;
    }
    let counts: Vec<String> = by_sev.values().map(|(s, n)| format!("{n} {s}")).collect();
    let _ = writeln!(out, "\nALERTS ({}: {})", r.alerts.len(), counts.join(", "));
    let mut v: Vec<&otwatch_common::model::Alert> = r.alerts.iter().collect();
    v.sort_by(|a, b| {
        severity_rank(&b.severity)
            .cmp(&severity_rank(&a.severity))
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.id.cmp(&b.id))
    });
    let rows: Vec<Vec<String>> = v
        .iter()
        .take(ALERT_ROWS)
        .map(|a| {
            let pair = match (a.src.is_empty(), a.dst.is_empty()) {
                (false, false) => format!("{} -> {}", a.src, a.dst),
                (false, true) => a.src.clone(),
                (true, true) => String::new(),
                (true, false) => format!("* -> {}", a.dst),
            };
            vec![
                a.severity.to_uppercase(),
                a.kind.clone(),
                cut(&pair, 40),
                a.protocol.clone(),
                a.count.to_string(),
                a.first_seen
                    .get(..19)
                    .unwrap_or(&a.first_seen)
                    .replace('T', " "),
                cut(&a.title, 70),
            ]
        })
        .collect();
    table(
        out,
        &[
            "SEVERITY",
            "KIND",
            "SRC -> DST",
            "PROTOCOL",
            "COUNT",
            "FIRST SEEN (UTC)",
            "TITLE",
        ],
        &rows,
    );
    if v.len() > ALERT_ROWS {
        let _ = writeln!(
            out,
            "  … and {} more (--format json lists every alert with its evidence)",
            v.len() - ALERT_ROWS
        );
    }
}

/// Per vulnerable asset: how many CVEs affect it certainly and possibly, the highest CVSS and
/// the CVEs; most severe first. Only shown when advisories were given and something matched.
fn vulnerabilities(out: &mut String, r: &InventoryReport) {
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
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(max, a)| {
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
            vec![
                asset_name(a),
                cut(&model_firmware(a), 28),
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
                cut(&cves.join(" "), 60),
            ]
        })
        .collect();
    table(
        out,
        &[
            "ASSET",
            "MODEL/FIRMWARE",
            "AFFECTED",
            "POSSIBLY",
            "MAX CVSS",
            "KEV",
            "CVES",
        ],
        &rows,
    );
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

/// A readable summary: assets grouped by device type, top talkers, protocol mix.
pub fn to_table(r: &InventoryReport) -> String {
    let mut out = String::new();
    let s = r.stats();
    let _ = writeln!(
        out,
        "otwatch inventory: {} assets, {} connections, {} packets ({}), {} flows, {} decode errors",
        r.assets.len(),
        r.connections.len(),
        s.packets,
        human_bytes(s.bytes),
        s.flows,
        s.decode_errors
    );
    if !s.first_packet.is_empty() {
        let _ = writeln!(out, "capture time: {} .. {}", s.first_packet, s.last_packet);
    }
    // What the caps threw away: the inventory is incomplete there, and the user must know.
    let hit: Vec<String> = s
        .limits
        .iter()
        .filter(|(k, v)| **v > 0 && k.as_str() != "fragments_reassembled")
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !hit.is_empty() {
        let _ = writeln!(
            out,
            "caps reached (see [flow] and [inventory] in sensor.toml): {}",
            hit.join(", ")
        );
    }
    alerts(&mut out, r);
    let mut groups: BTreeMap<(usize, &str), Vec<&Asset>> = BTreeMap::new();
    for a in &r.assets {
        groups
            .entry((type_rank(&a.device_type), a.device_type.as_str()))
            .or_default()
            .push(a);
    }
    for ((_, ty), assets) in &groups {
        let _ = writeln!(
            out,
            "\n{} ({})",
            ty.to_uppercase().replace('_', " "),
            assets.len()
        );
        let rows: Vec<Vec<String>> = assets
            .iter()
            .map(|a| {
                let mut protos: Vec<String> = a
                    .protocols
                    .iter()
                    .map(|p| format!("{}/{}", p.name, if p.role == "server" { "s" } else { "c" }))
                    .collect();
                protos.dedup();
                vec![
                    a.purdue_level
                        .map(|l| l.to_string())
                        .unwrap_or_else(|| "-".into()),
                    cut(&a.ips.join(" "), 40),
                    a.macs.first().cloned().unwrap_or_default(),
                    cut(&a.vendor, 24),
                    cut(&a.hostname, 24),
                    cut(&model_firmware(a), 28),
                    cut(&a.os, 20),
                    cut(&protos.join(","), 40),
                    a.packets.to_string(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "LEVEL",
                "IP",
                "MAC",
                "VENDOR",
                "HOSTNAME",
                "MODEL/FIRMWARE",
                "OS",
                "PROTOCOLS",
                "PACKETS",
            ],
            &rows,
        );
    }

    vulnerabilities(&mut out, r);

    let mut talkers: Vec<&Asset> = r.assets.iter().filter(|a| a.bytes > 0).collect();
    talkers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.id.cmp(&b.id)));
    if !talkers.is_empty() {
        let _ = writeln!(out, "\nTOP TALKERS");
        let rows: Vec<Vec<String>> = talkers
            .iter()
            .take(10)
            .map(|a| {
                vec![
                    asset_name(a),
                    a.device_type.clone(),
                    a.packets.to_string(),
                    human_bytes(a.bytes),
                ]
            })
            .collect();
        table(&mut out, &["ASSET", "TYPE", "PACKETS", "BYTES"], &rows);
    }

    let mut mix: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for c in &r.connections {
        let name = if c.protocol.is_empty() {
            format!("{}/{}", c.transport, c.port)
        } else {
            c.protocol.clone()
        };
        let e = mix.entry(name).or_default();
        e.0 += 1;
        e.1 += c.packets;
        e.2 += c.bytes;
    }
    if !mix.is_empty() {
        let total: u64 = mix.values().map(|v| v.2).sum::<u64>().max(1);
        let mut rows: Vec<(String, (u64, u64, u64))> = mix.into_iter().collect();
        rows.sort_by(|a, b| b.1 .2.cmp(&a.1 .2).then(a.0.cmp(&b.0)));
        let _ = writeln!(out, "\nPROTOCOL MIX");
        let rows: Vec<Vec<String>> = rows
            .iter()
            .take(15)
            .map(|(n, (conns, p, b))| {
                vec![
                    n.clone(),
                    conns.to_string(),
                    p.to_string(),
                    human_bytes(*b),
                    format!("{:.1}%", *b as f64 * 100.0 / total as f64),
                ]
            })
            .collect();
        table(
            &mut out,
            &["PROTOCOL", "CONNECTIONS", "PACKETS", "BYTES", "SHARE"],
            &rows,
        );
    }
    out
}
