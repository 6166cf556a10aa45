//! Indicators of compromise: addresses, networks and domain names to alert on.
//!
//! Two formats, told apart by content:
//! - **STIX 2.1** bundles (JSON, `"type": "bundle"`): every `indicator` whose `pattern` is made
//!   of `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value` or `url:value` comparisons
//!   (`=` or `ISSUBSET` for networks) joined by `OR`. Indicators about other observables
//!   (file hashes, processes) cannot be seen on a network and are skipped, and counted.
//! - **CSV** lines `value[,name]` (a header `value,name` or `type,value,name` is allowed; `#`
//!   starts a comment): an IP, a network (CIDR), a domain or a URL (its host is matched).
//!
//! Domains match themselves and their subdomains, case-insensitively.

use super::text::{Located, Net, SourceText};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::path::Path;

/// One indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// The indicator's name (STIX `name`, else its id; CSV second column, else the value).
    pub name: String,
    /// The observable as written ("198.51.100.7", "evil.example.com", "10.66.0.0/16").
    pub value: String,
    /// The file it came from.
    pub source: String,
}

/// Every indicator loaded, indexed for matching.
#[derive(Debug, Clone, Default)]
pub struct IocSet {
    pub indicators: Vec<Indicator>,
    ips: FxHashMap<IpAddr, usize>,
    nets: Vec<(Net, usize)>,
    domains: FxHashMap<String, usize>,
    /// Indicators about observables a network sensor cannot see (file hashes, ...).
    pub skipped: usize,
}

impl IocSet {
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The indicator an address matches.
    pub fn match_ip(&self, ip: &IpAddr) -> Option<&Indicator> {
        if self.indicators.is_empty() {
            return None;
        }
        let i = self.ips.get(ip).copied().or_else(|| {
            self.nets
                .iter()
                .find(|(n, _)| n.contains(ip))
                .map(|(_, i)| *i)
        })?;
        self.indicators.get(i)
    }

    /// The indicator a name (or one of its parent domains) matches.
    pub fn match_name(&self, name: &str) -> Option<&Indicator> {
        if self.domains.is_empty() {
            return None;
        }
        let n = name.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = n.as_str();
        loop {
            if let Some(&i) = self.domains.get(rest) {
                return self.indicators.get(i);
            }
            match rest.split_once('.') {
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => return None,
            }
        }
    }

    /// Loads one file (STIX bundle or CSV) into the set.
    pub fn load(&mut self, path: &Path) -> Result<(), Located> {
        let src = SourceText::read(path)?;
        self.add_text(&src)
    }

    /// Adds indicators from text (format told by content).
    pub fn add_text(&mut self, src: &SourceText) -> Result<(), Located> {
        if src.text.trim_start().starts_with('{') {
            self.add_stix(src)
        } else {
            self.add_csv(src)
        }
    }

    fn add(&mut self, name: String, value: &str, source: &str) -> Result<(), String> {
        let v = value.trim();
        let idx = self.indicators.len();
        if let Ok(ip) = v.parse::<IpAddr>() {
            self.ips.insert(ip, idx);
        } else if v.contains('/') && !v.contains("://") {
            let n: Net = v.parse()?;
            self.nets.push((n, idx));
        } else {
            let host = if let Some((_, rest)) = v.split_once("://") {
                let h = rest.split(['/', '?', '#']).next().unwrap_or("");
                let h = h.rsplit_once('@').map_or(h, |(_, h)| h);
                // Strip a port, but not from a bracketed IPv6 literal.
                if let Some(inner) = h.strip_prefix('[') {
                    inner.split(']').next().unwrap_or("").to_string()
                } else {
                    h.split(':').next().unwrap_or("").to_string()
                }
            } else {
                v.to_string()
            };
            if let Ok(ip) = host.parse::<IpAddr>() {
                self.ips.insert(ip, idx);
            } else {
                let d = host.trim_end_matches('.').to_ascii_lowercase();
                let valid = !d.is_empty()
                    && d.len() <= 253
                    && d.contains('.')
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
                if !valid {
                    return Err(format!(
                        "{v:?} is not an IP address, network, domain name or URL"
                    ));
                }
                self.domains.insert(d, idx);
            }
        }
        self.indicators.push(Indicator {
            name,
            value: v.to_string(),
            source: source.to_string(),
        });
        Ok(())
    }

    fn add_csv(&mut self, src: &SourceText) -> Result<(), Located> {
        let mut value_col = 0;
        let mut name_col = Some(1);
        for (i, raw) in src.text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line
                .split(',')
                .map(|c| c.trim().trim_matches('"'))
                .collect();
            let lower: Vec<String> = cols.iter().map(|c| c.to_ascii_lowercase()).collect();
            if lower.iter().any(|c| c == "value" || c == "indicator") {
                value_col = lower
                    .iter()
                    .position(|c| c == "value" || c == "indicator")
                    .unwrap_or(0);
                name_col = lower.iter().position(|c| c == "name" || c == "description");
                continue;
            }
            let value = cols.get(value_col).copied().unwrap_or("");
            let name = name_col
                .and_then(|c| cols.get(c))
                .filter(|n| !n.is_empty())
                .map_or_else(|| value.to_string(), |n| n.to_string());
            self.add(name, value, &src.file)
                .map_err(|e| src.at_line(i + 1, e))?;
        }
        Ok(())
    }

    fn add_stix(&mut self, src: &SourceText) -> Result<(), Located> {
        let v: serde_json::Value = serde_json::from_str(&src.text).map_err(|e| {
            src.at_line(
                e.line(),
                format!("not valid JSON: {e}; expected a STIX 2.1 bundle"),
            )
        })?;
        let objects = match v.get("type").and_then(|t| t.as_str()) {
            Some("bundle") => v.get("objects").and_then(|o| o.as_array()),
            _ => None,
        }
        .ok_or_else(|| {
            src.at_line(
                1,
                "not a STIX 2.1 bundle (expected {\"type\": \"bundle\", \"objects\": [...]})"
                    .into(),
            )
        })?;
        // Where each pattern is written, for error lines.
        let mut pattern_lines = src
            .text
            .match_indices("\"pattern\"")
            .map(|(off, _)| src.line_of(off));
        for o in objects {
            if o.get("type").and_then(|t| t.as_str()) != Some("indicator") {
                continue;
            }
            let Some(pattern) = o.get("pattern").and_then(|p| p.as_str()) else {
                continue;
            };
            let line = pattern_lines.next().unwrap_or(0);
            if o.get("revoked").and_then(|r| r.as_bool()) == Some(true) {
                continue;
            }
            let kind = o
                .get("pattern_type")
                .and_then(|p| p.as_str())
                .unwrap_or("stix");
            if kind != "stix" {
                self.skipped += 1;
                continue;
            }
            let name = o
                .get("name")
                .and_then(|n| n.as_str())
                .or_else(|| o.get("id").and_then(|n| n.as_str()))
                .unwrap_or("indicator")
                .to_string();
            let values = parse_pattern(pattern)
                .map_err(|e| src.at_line(line, format!("indicator {name:?}: {e}")))?;
            match values {
                None => self.skipped += 1,
                Some(vals) => {
                    for val in vals {
                        self.add(name.clone(), &val, &src.file)
                            .map_err(|e| src.at_line(line, format!("indicator {name:?}: {e}")))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The network observables of a STIX pattern: `Some(values)`, or `None` when the pattern is
/// about something a network sensor cannot see; an error when it is not a pattern.
fn parse_pattern(p: &str) -> Result<Option<Vec<String>>, String> {
    let mut out = Vec::new();
    let mut unsupported = false;
    let mut rest = p.trim();
    if !rest.starts_with('[') {
        return Err(format!("pattern {p:?} does not start with '['"));
    }
    while !rest.is_empty() {
        let Some(body) = rest.strip_prefix('[') else {
            return Err(format!("pattern {p:?}: expected '['"));
        };
        let end = find_close(body).ok_or_else(|| format!("pattern {p:?}: missing ']'"))?;
        let (inner, after) = body.split_at(end);
        for cmp in split_top(inner, " OR ") {
            if cmp.contains(" AND ") {
                // Conjunctions need context a flow does not give; too weak to match alone.
                unsupported = true;
                continue;
            }
            let (lhs, op, rhs) = ["ISSUBSET", "=", "LIKE", "MATCHES", "IN"]
                .iter()
                .find_map(|op| {
                    cmp.split_once(&format!(" {op} "))
                        .map(|(l, r)| (l.trim(), *op, r.trim()))
                })
                .ok_or_else(|| format!("cannot read the comparison {cmp:?}"))?;
            let value = rhs
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .map(|v| v.replace("\\'", "'").replace("\\\\", "\\"))
                .ok_or_else(|| format!("expected a quoted value in {cmp:?}"))?;
            match (lhs, op) {
                ("ipv4-addr:value" | "ipv6-addr:value", "=" | "ISSUBSET")
                | ("domain-name:value" | "url:value", "=") => out.push(value),
                _ => unsupported = true,
            }
        }
        rest = after.get(1..).unwrap_or("").trim_start();
        // Qualifiers and observation operators between [..] groups.
        if let Some(i) = rest.find('[') {
            rest = &rest[i..];
        } else {
            rest = "";
        }
    }
    if out.is_empty() && unsupported {
        return Ok(None);
    }
    Ok(Some(out))
}

/// The index of the `]` closing a `[` group, skipping quoted text.
fn find_close(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut esc = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if esc => esc = false,
            '\\' if quoted => esc = true,
            '\'' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Splits on `sep` outside quotes.
fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && b[i..].starts_with(sep.as_bytes()) {
            // Compared as bytes: `i` may be inside a character, where a match cannot start.
            out.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: &str = r#"{
  "type": "bundle",
  "id": "bundle--1",
  "objects": [
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--a", "name": "C2 server",
     "pattern": "[ipv4-addr:value = '203.0.113.66']", "pattern_type": "stix"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--b", "name": "C2 domains",
     "pattern": "[domain-name:value = 'evil-c2.example.net' OR url:value = 'http://bad.example.org:8080/x']",
     "pattern_type": "stix"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--c", "name": "Dropper",
     "pattern": "[file:hashes.'SHA-256' = 'aa']", "pattern_type": "stix"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--d",
     "pattern": "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "pattern_type": "stix"},
    {"type": "malware", "id": "malware--x", "name": "x"}
  ]
}"#;

    #[test]
    fn stix_bundle() {
        let mut s = IocSet::default();
        s.add_text(&SourceText::new("b.json", BUNDLE)).unwrap();
        assert_eq!(s.skipped, 1);
        assert_eq!(
            s.match_ip(&"203.0.113.66".parse().unwrap()).unwrap().name,
            "C2 server"
        );
        assert_eq!(
            s.match_ip(&"198.51.100.9".parse().unwrap()).unwrap().name,
            "indicator--d"
        );
        assert!(s.match_ip(&"10.0.0.1".parse().unwrap()).is_none());
        assert_eq!(
            s.match_name("www.Evil-C2.example.net.").unwrap().name,
            "C2 domains"
        );
        assert!(s.match_name("bad.example.org").is_some());
        assert!(s.match_name("example.net").is_none());
    }

    #[test]
    fn csv_lists() {
        let mut s = IocSet::default();
        let text = "# feed\nvalue,name\n10.66.0.0/16,scanner net\nevil.example.com\n";
        s.add_text(&SourceText::new("l.csv", text)).unwrap();
        assert_eq!(
            s.match_ip(&"10.66.1.2".parse().unwrap()).unwrap().name,
            "scanner net"
        );
        assert_eq!(
            s.match_name("a.evil.example.com").unwrap().name,
            "evil.example.com"
        );
    }

    #[test]
    fn bad_input_names_the_line() {
        let mut s = IocSet::default();
        let e = s
            .add_text(&SourceText::new("l.csv", "1.2.3.4\nnot an indicator!\n"))
            .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("l.csv", 2));
        let bad = BUNDLE.replace(
            "[ipv4-addr:value = '203.0.113.66']",
            "ipv4-addr:value = '203.0.113.66'",
        );
        let e = s.add_text(&SourceText::new("b.json", &bad)).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = s
            .add_text(&SourceText::new(
                "b.json",
                "{\"type\": \"bundle\",\n \"objects\": [}",
            ))
            .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    /// Found by the ioc_stix fuzz target: a non-ASCII character outside quotes in a pattern
    /// made the split on " OR " slice inside it.
    #[test]
    fn non_ascii_pattern_text_is_no_panic() {
        let bundle = BUNDLE.replace("[ipv4-addr:value = ", "[ipv4-addrƉvalue = ");
        let mut s = IocSet::default();
        s.add_text(&SourceText::new("b.json", &bundle)).unwrap();
        assert!(s.match_ip(&"203.0.113.66".parse().unwrap()).is_none());
        assert_eq!(
            split_top("é OR 'ü OR x' OR ß", " OR "),
            ["é", "'ü OR x'", "ß"]
        );
    }
}
