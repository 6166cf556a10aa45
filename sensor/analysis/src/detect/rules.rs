//! Analyst rules: TOML files of `[[rule]]` tables, each raising `rule:<name>`.
//!
//! ```toml
//! [[rule]]
//! name = "modbus-write-from-it"          # kind rule:modbus-write-from-it
//! severity = "high"
//! title = "Modbus write from the IT network"
//! description = "Writes to controllers come only from the control-room HMIs."
//! mitre = ["T0855"]
//! on = "operation"                       # operation (default), connection, login, violation
//! protocol = ["modbus"]
//! operation = ["write"]                  # read, write, program_download, cpu_stop, ...
//! function_code = [5, 6, 15, 16]
//! src_subnet = ["10.20.0.0/16"]          # also dst_subnet; CIDR or single addresses
//! dst_device_type = ["plc"]              # also src_…: device_type, vendor, purdue_level
//! hours = "18:00-06:00"                  # UTC, packet time; may wrap midnight
//! days = ["sat", "sun"]
//! threshold = { count = 10, window_secs = 60, by = "pair" }   # by: pair, src, dst
//! ```
//!
//! Every condition given must hold. Conditions on addresses, protocol, operation, function
//! code, port and time are checked on each event; conditions on assets (device type, vendor,
//! Purdue level) on the finished inventory, so an alert shows once its assets match.

use super::alerts::{AssetCond, Severity, Side};
use super::text::{Located, Net, SourceText};
use otwatch_common::observation::Operation;
use otwatch_common::Timestamp;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;
use toml::Spanned;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// Every operation or function code a dissector reports.
    Operation,
    /// Every new conversation (a flow's first report).
    Connection,
    /// Every cleartext login and refused login.
    Login,
    /// Every protocol violation.
    Violation,
}

/// How a threshold groups events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Pair,
    Src,
    Dst,
}

#[derive(Debug, Clone)]
pub struct Threshold {
    pub count: u32,
    pub window_ns: u64,
    pub by: By,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// "rule:<name>" (leaked once per load: rules live as long as the process).
    pub kind: &'static str,
    pub name: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub mitre: Vec<String>,
    pub on: On,
    pub protocol: Vec<String>,
    pub operation: Vec<Operation>,
    pub function_code: Vec<u32>,
    pub port: Vec<u16>,
    pub src_subnet: Vec<Net>,
    pub dst_subnet: Vec<Net>,
    pub assets: Option<AssetCond>,
    /// Minutes of the day [from, to) in UTC; wraps when from > to.
    pub hours: Option<(u32, u32)>,
    /// Bit 0 Monday … bit 6 Sunday.
    pub days: u8,
    pub threshold: Option<Threshold>,
}

/// One event a rule may match.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub on: On,
    pub protocol: &'a str,
    pub op: Option<Operation>,
    pub function_code: Option<u32>,
    pub port: u16,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub ts: Timestamp,
}

impl Rule {
    pub fn matches(&self, e: &Event<'_>) -> bool {
        let in_nets = |nets: &[Net], ip: Option<IpAddr>| {
            nets.is_empty() || ip.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
        };
        self.on == e.on
            && (self.protocol.is_empty() || self.protocol.iter().any(|p| p == e.protocol))
            && (self.operation.is_empty() || e.op.is_some_and(|o| self.operation.contains(&o)))
            && (self.function_code.is_empty()
                || e.function_code
                    .is_some_and(|f| self.function_code.contains(&f)))
            && (self.port.is_empty() || self.port.contains(&e.port))
            && in_nets(&self.src_subnet, e.src)
            && in_nets(&self.dst_subnet, e.dst)
            && self.in_time(e.ts)
    }

    fn in_time(&self, ts: Timestamp) -> bool {
        let secs = ts.secs();
        let minute = ((secs % 86_400) / 60) as u32;
        if let Some((from, to)) = self.hours {
            let inside = if from <= to {
                minute >= from && minute < to
            } else {
                minute >= from || minute < to
            };
            if !inside {
                return false;
            }
        }
        if self.days != 0 {
            // 1970-01-01 was a Thursday (index 3 from Monday).
            let day = ((secs / 86_400 + 3) % 7) as u8;
            if self.days & (1 << day) == 0 {
                return false;
            }
        }
        true
    }
}

/// The rules loaded from a directory.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// The files read, for the log.
    pub files: Vec<String>,
}

impl RuleSet {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Loads every `*.toml` file of `dir` (or `dir` itself when it is a file), sorted by name.
    /// Any error refuses the whole set.
    pub fn load(dir: &Path) -> Result<RuleSet, Located> {
        let mut files = Vec::new();
        if dir.is_dir() {
            let entries = std::fs::read_dir(dir).map_err(|e| Located {
                file: dir.display().to_string(),
                line: 0,
                message: format!("cannot read the rules directory: {e}"),
            })?;
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
            files.sort();
        } else {
            files.push(dir.to_path_buf());
        }
        let mut set = RuleSet::default();
        for f in files {
            let src = SourceText::read(&f)?;
            set.add(&src)?;
            set.files.push(src.file);
        }
        Ok(set)
    }

    /// Adds the rules of one file.
    pub fn add(&mut self, src: &SourceText) -> Result<(), Located> {
        let file: RuleFile = src.toml()?;
        for r in file.rule {
            let at = r.span().start;
            let rule = compile(src, r.into_inner(), at)?;
            if self.rules.iter().any(|o| o.name == rule.name) {
                return Err(src.at(
                    at,
                    format!(
                        "a rule named {:?} exists already; rule names must be unique",
                        rule.name
                    ),
                ));
            }
            self.rules.push(rule);
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Spanned<RuleEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: Spanned<String>,
    severity: Spanned<String>,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    mitre: Vec<String>,
    #[serde(default)]
    on: Option<Spanned<String>>,
    #[serde(default)]
    protocol: Vec<String>,
    #[serde(default)]
    operation: Vec<Spanned<String>>,
    #[serde(default)]
    function_code: Vec<u32>,
    #[serde(default)]
    port: Vec<u16>,
    #[serde(default)]
    src_subnet: Vec<Spanned<String>>,
    #[serde(default)]
    dst_subnet: Vec<Spanned<String>>,
    #[serde(default)]
    src_device_type: Vec<String>,
    #[serde(default)]
    dst_device_type: Vec<String>,
    #[serde(default)]
    src_vendor: Vec<String>,
    #[serde(default)]
    dst_vendor: Vec<String>,
    #[serde(default)]
    src_purdue_level: Vec<u32>,
    #[serde(default)]
    dst_purdue_level: Vec<u32>,
    #[serde(default)]
    hours: Option<Spanned<String>>,
    #[serde(default)]
    days: Vec<Spanned<String>>,
    #[serde(default)]
    threshold: Option<Spanned<ThresholdEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdEntry {
    count: u32,
    window_secs: u64,
    #[serde(default)]
    by: Option<String>,
}

fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

fn compile(src: &SourceText, r: RuleEntry, at: usize) -> Result<Rule, Located> {
    let name = r.name.get_ref().clone();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(src.at(
            r.name.span().start,
            format!("rule name {name:?} must be lower-case letters, digits, '-' or '_'"),
        ));
    }
    let severity = Severity::parse(r.severity.get_ref()).ok_or_else(|| {
        src.at(
            r.severity.span().start,
            format!(
                "unknown severity {:?}; use info, low, medium, high or critical",
                r.severity.get_ref()
            ),
        )
    })?;
    let on = match r.on.as_ref().map(|o| o.get_ref().as_str()) {
        None | Some("operation") => On::Operation,
        Some("connection") => On::Connection,
        Some("login") => On::Login,
        Some("violation") => On::Violation,
        Some(other) => {
            return Err(src.at(
                r.on.as_ref().map_or(at, |o| o.span().start),
                format!("unknown `on = {other:?}`; use operation, connection, login or violation"),
            ))
        }
    };
    let operation = r
        .operation
        .iter()
        .map(|o| src.operation(o))
        .collect::<Result<Vec<_>, _>>()?;
    if on != On::Operation && (!operation.is_empty() || !r.function_code.is_empty()) {
        return Err(src.at(
            at,
            "operation and function_code only apply to rules with on = \"operation\"".into(),
        ));
    }
    let nets = |v: &[Spanned<String>]| -> Result<Vec<Net>, Located> {
        v.iter()
            .map(|s| {
                s.get_ref()
                    .parse::<Net>()
                    .map_err(|e| src.at(s.span().start, e))
            })
            .collect()
    };
    let hours = match &r.hours {
        None => None,
        Some(h) => {
            let bad = || {
                src.at(
                    h.span().start,
                    format!("hours {:?} must look like \"18:00-06:00\"", h.get_ref()),
                )
            };
            let (a, b) = h.get_ref().split_once('-').ok_or_else(bad)?;
            Some((hhmm(a).ok_or_else(bad)?, hhmm(b).ok_or_else(bad)?))
        }
    };
    let mut days = 0u8;
    for d in &r.days {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let i = NAMES
            .iter()
            .position(|n| d.get_ref().to_ascii_lowercase().starts_with(n))
            .ok_or_else(|| {
                src.at(
                    d.span().start,
                    format!("unknown day {:?}; use mon … sun", d.get_ref()),
                )
            })?;
        days |= 1 << i;
    }
    let side = |t: &[String], v: &[String], l: &[u32]| Side {
        device_type: t.to_vec(),
        vendor: v.iter().map(|x| x.to_lowercase()).collect(),
        purdue_level: l.to_vec(),
    };
    let cond = AssetCond {
        src: side(&r.src_device_type, &r.src_vendor, &r.src_purdue_level),
        dst: side(&r.dst_device_type, &r.dst_vendor, &r.dst_purdue_level),
    };
    let threshold = match &r.threshold {
        None => None,
        Some(t) => {
            let by = match t.get_ref().by.as_deref() {
                None | Some("pair") => By::Pair,
                Some("src") => By::Src,
                Some("dst") => By::Dst,
                Some(o) => {
                    return Err(src.at(
                        t.span().start,
                        format!("threshold by {o:?}: use pair, src or dst"),
                    ))
                }
            };
            if t.get_ref().count == 0 || t.get_ref().window_secs == 0 {
                return Err(src.at(
                    t.span().start,
                    "threshold count and window_secs must be at least 1".into(),
                ));
            }
            if (by == By::Src && !cond.dst.is_empty()) || (by == By::Dst && !cond.src.is_empty()) {
                return Err(src.at(
                    t.span().start,
                    "a threshold grouped by one side cannot have asset conditions on the other side (group by pair instead)".into(),
                ));
            }
            Some(Threshold {
                count: t.get_ref().count,
                window_ns: t.get_ref().window_secs.saturating_mul(1_000_000_000),
                by,
            })
        }
    };
    let kind: &'static str = Box::leak(format!("rule:{name}").into_boxed_str());
    Ok(Rule {
        kind,
        name,
        severity,
        title: r.title,
        description: r.description,
        mitre: r.mitre,
        on,
        protocol: r.protocol,
        operation,
        function_code: r.function_code,
        port: r.port,
        src_subnet: nets(&r.src_subnet)?,
        dst_subnet: nets(&r.dst_subnet)?,
        assets: (!cond.src.is_empty() || !cond.dst.is_empty()).then_some(cond),
        hours,
        days,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
[[rule]]
name = "modbus-write-from-it"
severity = "high"
title = "Modbus write from the IT network"
protocol = ["modbus"]
operation = ["write"]
src_subnet = ["10.20.0.0/16"]
dst_device_type = ["plc"]
hours = "18:00-06:00"

[[rule]]
name = "many-reads"
severity = "low"
title = "Busy reader"
operation = ["read"]
threshold = { count = 3, window_secs = 10, by = "src" }
"#;

    fn ev(op: Operation, src: &str, ts: u64) -> Event<'static> {
        Event {
            on: On::Operation,
            protocol: "modbus",
            op: Some(op),
            function_code: Some(6),
            port: 502,
            src: src.parse().ok(),
            dst: "10.10.1.5".parse().ok(),
            ts: Timestamp::from_secs_nanos(ts, 0),
        }
    }

    #[test]
    fn rules_load_and_match() {
        let mut s = RuleSet::default();
        s.add(&SourceText::new("r.toml", RULES)).unwrap();
        let r = &s.rules[0];
        assert_eq!(r.kind, "rule:modbus-write-from-it");
        // 1700000000 is 22:13 UTC on a Tuesday.
        assert!(r.matches(&ev(Operation::Write, "10.20.3.4", 1_700_000_000)));
        assert!(!r.matches(&ev(Operation::Write, "10.30.3.4", 1_700_000_000)));
        assert!(!r.matches(&ev(Operation::Read, "10.20.3.4", 1_700_000_000)));
        // 12:13 UTC: outside the hours.
        assert!(!r.matches(&ev(
            Operation::Write,
            "10.20.3.4",
            1_700_000_000 + 10 * 3600
        )));
        assert!(r.assets.is_some());
        assert_eq!(s.rules[1].threshold.as_ref().unwrap().by, By::Src);
    }

    #[test]
    fn bad_rules_name_file_and_line() {
        let cases = [
            ("[[rule]]\nname = \"x\"\nseverity = \"urgent\"\ntitle = \"t\"\n", 3, "severity"),
            ("[[rule]]\nname = \"x\"\nseverity = \"low\"\ntitle = \"t\"\noperation = [\"smash\"]\n", 5, "operation"),
            ("[[rule]]\nname = \"x\"\nseverity = \"low\"\ntitle = \"t\"\nsrc_subnet = [\"10.0.0.0/99\"]\n", 5, "network"),
            ("[[rule]]\nname = \"x\"\nseverity = \"low\"\ntitle = \"t\"\ncolour = 1\n", 5, "colour"),
            ("[[rule]]\nname = \"X Y\"\nseverity = \"low\"\ntitle = \"t\"\n", 2, "lower-case"),
            ("[[rule]]\nname = \"x\"\nseverity = \"low\"\ntitle = \"t\"\nhours = \"late\"\n", 5, "hours"),
            ("[[rule]]\nname = \"x\"\nseverity = \"low\"\ntitle = \"t\"\nthreshold = { count = 2, window_secs = 5, by = \"src\" }\ndst_vendor = [\"siemens\"]\n", 5, "other side"),
        ];
        for (text, line, word) in cases {
            let mut s = RuleSet::default();
            let e = s.add(&SourceText::new("r.toml", text)).unwrap_err();
            assert_eq!((e.file.as_str(), e.line), ("r.toml", line), "{e}");
            assert!(e.message.contains(word), "{e}");
        }
        let mut s = RuleSet::default();
        let dup = format!(
            "{}{}",
            &RULES[..RULES.find("[[rule]]\nname = \"many").unwrap()],
            RULES
        );
        assert!(s
            .add(&SourceText::new("r.toml", &dup))
            .unwrap_err()
            .message
            .contains("unique"));
    }
}
