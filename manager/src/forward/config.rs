//! The forwarding file (TOML): `[[destination]]` tables say where events go and how,
//! `[[rule]]` tables say which events go to which destination. Read with
//! `deny_unknown_fields`, then checked ([`ForwardConfig::parse`]); every refusal names the
//! file, the line and the reason. docs/FORWARDING.md describes every key.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Severities in increasing order (the alert model's values).
pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];
/// Event types a rule can select.
pub const EVENT_TYPES: [&str; 3] = ["alert", "new_asset", "firmware_changed"];

/// A forwarding file refused: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub reason: String,
}

/// One destination: a name, a kind with its settings, and its queue's bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationConfig {
    /// Letters, digits, `-` and `_`; the queue is kept under this name.
    pub name: String,
    pub kind: DestinationKind,
    pub queue: QueueConfig,
}

/// The keys every destination has.
const COMMON_KEYS: [&str; 5] = [
    "name",
    "queue_max_events",
    "queue_max_bytes",
    "retry_min_ms",
    "retry_max_ms",
];

/// Only [`COMMON_KEYS`] reach it (flatten cannot deny unknown keys).
#[derive(Debug, Deserialize)]
struct Named {
    name: String,
    #[serde(flatten)]
    queue: QueueConfig,
}

/// A destination's queue bounds and retry pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct QueueConfig {
    /// Events held at most while the destination cannot take them.
    #[serde(default = "default_max_events")]
    pub queue_max_events: u64,
    /// Bytes (of stored events) held at most.
    #[serde(default = "default_max_bytes")]
    pub queue_max_bytes: u64,
    /// First wait after a failed delivery, in milliseconds; doubled each failure.
    #[serde(default = "default_retry_min_ms")]
    pub retry_min_ms: u64,
    /// Longest wait between deliveries tried, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

fn default_max_events() -> u64 {
    100_000
}
fn default_max_bytes() -> u64 {
    256 << 20
}
fn default_retry_min_ms() -> u64 {
    1_000
}
fn default_retry_max_ms() -> u64 {
    300_000
}

/// What a destination is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DestinationKind {
    /// RFC 5424 syslog with a CEF or LEEF (or JSON) message.
    Syslog {
        /// host:port.
        address: String,
        transport: Transport,
        format: Format,
        /// PEM CA that signed the receiver's certificate (tls).
        ca: Option<PathBuf>,
        /// The name the receiver's certificate must hold; default: the host of `address`.
        server_name: Option<String>,
        /// PEM client certificate chain and key, when the receiver asks for one (tls).
        client_cert: Option<PathBuf>,
        client_key: Option<PathBuf>,
        /// Syslog facility number (0-23); default 13 (log audit).
        #[serde(default = "default_facility")]
        facility: u8,
    },
    /// JSON array of events, POSTed, signed with HMAC-SHA256.
    Webhook {
        url: String,
        /// The HMAC key, or a file holding it.
        secret: Option<String>,
        secret_file: Option<PathBuf>,
        /// PEM CA of the receiver (https); default: the system's roots are not used, so give one.
        ca: Option<PathBuf>,
    },
    /// Microsoft Sentinel through the Azure Monitor Logs Ingestion API.
    Sentinel {
        /// The OAuth 2.0 authority: `https://login.microsoftonline.com/<tenant id>`.
        authority: String,
        client_id: String,
        client_secret: Option<String>,
        client_secret_file: Option<PathBuf>,
        /// The data collection endpoint (or DCR ingestion endpoint) URL.
        endpoint: String,
        /// The data collection rule's immutable id (`dcr-...`).
        dcr_id: String,
        /// The DCR's stream, e.g. `Custom-OtwatchEvents_CL`.
        stream: String,
        /// Token scope; default `https://monitor.azure.com//.default`.
        scope: Option<String>,
        ca: Option<PathBuf>,
    },
    /// Splunk HTTP Event Collector.
    Splunk {
        /// Base URL, e.g. `https://splunk.example:8088`.
        url: String,
        token: Option<String>,
        token_file: Option<PathBuf>,
        #[serde(default = "default_sourcetype")]
        sourcetype: String,
        index: Option<String>,
        ca: Option<PathBuf>,
    },
    /// JSON lines appended to a file, or written to standard output (`path = "-"`).
    File { path: PathBuf },
}

fn default_facility() -> u8 {
    13
}
fn default_sourcetype() -> String {
    "otwatch:event".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Cef,
    Leef,
    Json,
}

/// Which events go to a destination. An empty list selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub destination: String,
    /// alert, new_asset, firmware_changed; default: alert.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Alert kinds (`plc_stop`, `rule:*` for every analyst rule); empty: all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Alerts of this severity or higher; default: info (all).
    #[serde(default = "default_min_severity")]
    pub min_severity: String,
    /// Sites; empty: all.
    #[serde(default)]
    pub sites: Vec<String>,
}

fn default_events() -> Vec<String> {
    vec!["alert".into()]
}
fn default_min_severity() -> String {
    "info".into()
}

impl DestinationConfig {
    /// From one `[[destination]]` table: the common keys, then the kind's (`type`).
    fn from_table(mut t: toml::Table) -> Result<DestinationConfig, String> {
        let mut common = toml::Table::new();
        for k in COMMON_KEYS {
            if let Some(v) = t.remove(k) {
                common.insert(k.to_string(), v);
            }
        }
        let named: Named = toml::Value::Table(common)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().trim().to_string())?;
        if !t.contains_key("type") {
            return Err(format!(
                "destination {:?} has no type; use syslog, webhook, sentinel, splunk or file",
                named.name
            ));
        }
        let kind: DestinationKind =
            toml::Value::Table(t)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    format!("destination {:?}: {}", named.name, e.message().trim())
                })?;
        Ok(DestinationConfig {
            name: named.name,
            kind,
            queue: named.queue,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    destination: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    rule: Vec<Spanned<RuleConfig>>,
}

/// A checked forwarding file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForwardConfig {
    pub destinations: Vec<DestinationConfig>,
    pub rules: Vec<RuleConfig>,
    /// Where each destination and rule was read: (name, line).
    pub lines: Vec<(String, usize)>,
}

/// The 1-based line of byte `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.get(..at.min(text.len()))
        .map_or(0, |t| t.bytes().filter(|b| *b == b'\n').count())
        + 1
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The text of the `what` file at `path` (the forwarding file, the playbook file); a file that
/// cannot be read is an error at line 0.
pub fn read(path: &Path, what: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: 0,
        reason: format!("cannot read the {what} file: {e}"),
    })
}

/// `text` (read from `file`) as TOML of the shape `T`; what TOML refuses is an error at its line.
pub fn toml_of<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError {
        file: file.to_string(),
        line: e.span().map_or(0, |s| line_of(text, s.start)),
        reason: e.message().trim().to_string(),
    })
}

impl ForwardConfig {
    /// Reads and checks the forwarding file at `path`; a missing file is an error.
    pub fn load(path: &Path) -> Result<ForwardConfig, ConfigError> {
        let text = read(path, "forwarding")?;
        ForwardConfig::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks `text`, read from `file` (named in errors).
    pub fn parse(file: &str, text: &str) -> Result<ForwardConfig, ConfigError> {
        let err = |line: usize, reason: String| ConfigError {
            file: file.to_string(),
            line,
            reason,
        };
        let shape: FileShape = toml_of(file, text)?;
        let mut cfg = ForwardConfig::default();
        for d in shape.destination {
            let line = line_of(text, d.span().start);
            let d = DestinationConfig::from_table(d.into_inner()).map_err(|r| err(line, r))?;
            check_destination(&d).map_err(|r| err(line, r))?;
            if cfg.destinations.iter().any(|x| x.name == d.name) {
                return Err(err(
                    line,
                    format!("destination {:?} is defined twice", d.name),
                ));
            }
            cfg.lines.push((d.name.clone(), line));
            cfg.destinations.push(d);
        }
        for r in shape.rule {
            let line = line_of(text, r.span().start);
            let r = r.into_inner();
            check_rule(&r).map_err(|m| err(line, m))?;
            if !cfg.destinations.iter().any(|d| d.name == r.destination) {
                let known: Vec<&str> = cfg.destinations.iter().map(|d| d.name.as_str()).collect();
                return Err(err(
                    line,
                    format!(
                        "rule {:?} sends to destination {:?}, which is not defined (defined: {})",
                        r.name,
                        r.destination,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            if cfg.rules.iter().any(|x| x.name == r.name) {
                return Err(err(line, format!("rule {:?} is defined twice", r.name)));
            }
            cfg.lines.push((r.name.clone(), line));
            cfg.rules.push(r);
        }
        Ok(cfg)
    }

    pub fn destination(&self, name: &str) -> Option<&DestinationConfig> {
        self.destinations.iter().find(|d| d.name == name)
    }
}

fn need_one(what: &str, inline: &Option<String>, file: &Option<PathBuf>) -> Result<(), String> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!("give {what} or {what}_file, not both")),
        (None, None) => Err(format!("{what} (or {what}_file) is required")),
        _ => Ok(()),
    }
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    super::addr::Url::parse(url)
        .map(|_| ())
        .map_err(|e| format!("{key} {url:?}: {e}"))
}

fn check_destination(d: &DestinationConfig) -> Result<(), String> {
    if !valid_name(&d.name) {
        return Err(format!(
            "destination name {:?}: use 1 to 64 letters, digits, '-' or '_'",
            d.name
        ));
    }
    let q = &d.queue;
    if q.queue_max_events == 0 || q.queue_max_bytes == 0 {
        return Err("queue_max_events and queue_max_bytes must be above 0".into());
    }
    if q.retry_min_ms == 0 || q.retry_max_ms < q.retry_min_ms {
        return Err("retry_min_ms must be above 0 and retry_max_ms at least retry_min_ms".into());
    }
    match &d.kind {
        DestinationKind::Syslog {
            address,
            transport,
            ca,
            client_cert,
            client_key,
            facility,
            ..
        } => {
            if super::addr::split_host_port(address).is_none() {
                return Err(format!("address {address:?}: give host:port"));
            }
            if *facility > 23 {
                return Err(format!(
                    "facility {facility}: syslog facilities are 0 to 23"
                ));
            }
            if *transport == Transport::Tls && ca.is_none() {
                return Err("transport tls needs ca (the PEM file of the CA that signed the receiver's certificate)".into());
            }
            if client_cert.is_some() != client_key.is_some() {
                return Err("give both client_cert and client_key, or neither".into());
            }
            if *transport != Transport::Tls && (ca.is_some() || client_cert.is_some()) {
                return Err("ca, client_cert and client_key apply to transport tls only".into());
            }
        }
        DestinationKind::Webhook {
            url,
            secret,
            secret_file,
            ..
        } => {
            check_url("url", url)?;
            need_one("secret", secret, secret_file)?;
        }
        DestinationKind::Sentinel {
            authority,
            endpoint,
            client_secret,
            client_secret_file,
            dcr_id,
            stream,
            ..
        } => {
            check_url("authority", authority)?;
            check_url("endpoint", endpoint)?;
            need_one("client_secret", client_secret, client_secret_file)?;
            if !dcr_id.starts_with("dcr-") {
                return Err(format!(
                    "dcr_id {dcr_id:?}: give the data collection rule's immutable id (dcr-...)"
                ));
            }
            if stream.is_empty() || stream.contains('/') {
                return Err(format!(
                    "stream {stream:?}: give the DCR's stream name, e.g. Custom-OtwatchEvents_CL"
                ));
            }
        }
        DestinationKind::Splunk {
            url,
            token,
            token_file,
            ..
        } => {
            check_url("url", url)?;
            need_one("token", token, token_file)?;
        }
        DestinationKind::File { path } => {
            if path.as_os_str().is_empty() {
                return Err("path is empty: give a file, or \"-\" for standard output".into());
            }
        }
    }
    Ok(())
}

fn check_rule(r: &RuleConfig) -> Result<(), String> {
    if !valid_name(&r.name) {
        return Err(format!(
            "rule name {:?}: use 1 to 64 letters, digits, '-' or '_'",
            r.name
        ));
    }
    if r.events.is_empty() {
        return Err(format!(
            "rule {:?}: events is empty; give one or more of {}",
            r.name,
            EVENT_TYPES.join(", ")
        ));
    }
    if let Some(e) = r.events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(format!(
            "rule {:?}: unknown event type {e:?}; use {}",
            r.name,
            EVENT_TYPES.join(", ")
        ));
    }
    if !SEVERITIES.contains(&r.min_severity.as_str()) {
        return Err(format!(
            "rule {:?}: unknown min_severity {:?}; use {}",
            r.name,
            r.min_severity,
            SEVERITIES.join(", ")
        ));
    }
    if let Some(k) = r
        .kinds
        .iter()
        .find(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(format!(
            "rule {:?}: alert kind {k:?} is not a kind string (docs/DETECTION.md)",
            r.name
        ));
    }
    Ok(())
}

/// The rank of a severity (0 info .. 4 critical); an unknown one ranks as info.
pub fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| x.eq_ignore_ascii_case(s))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[destination]]
name = "siem"
type = "syslog"
address = "127.0.0.1:6514"
transport = "tls"
format = "cef"
ca = "/etc/otwatch/siem-ca.pem"

[[destination]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9000/x"
secret = "k"
queue_max_events = 10

[[rule]]
name = "critical"
destination = "siem"
min_severity = "high"
kinds = ["plc_stop", "rule:*"]

[[rule]]
name = "inventory"
destination = "hook"
events = ["new_asset", "firmware_changed"]
sites = ["plant-a"]
"#;

    #[test]
    fn a_good_file_reads() {
        let c = ForwardConfig::parse("f.toml", GOOD).unwrap();
        assert_eq!(c.destinations.len(), 2);
        assert_eq!(c.destinations[1].queue.queue_max_events, 10);
        assert_eq!(c.destinations[1].queue.retry_min_ms, 1000);
        assert_eq!(c.rules[0].events, vec!["alert".to_string()]);
        assert_eq!(c.lines[2], ("critical".to_string(), 17));
    }

    fn refused(text: &str) -> ConfigError {
        ForwardConfig::parse("f.toml", text).unwrap_err()
    }

    #[test]
    fn bad_rules_are_refused_with_file_line_and_reason() {
        let e = refused(&GOOD.replace("min_severity = \"high\"", "min_severity = \"urgent\""));
        assert_eq!((e.file.as_str(), e.line), ("f.toml", 17), "{e}");
        assert!(e.reason.contains("unknown min_severity \"urgent\""), "{e}");
        assert!(
            e.to_string().starts_with("f.toml:17: rule \"critical\""),
            "{e}"
        );

        let e = refused(&GOOD.replace("destination = \"hook\"", "destination = \"nowhere\""));
        assert_eq!(e.line, 23, "{e}");
        assert!(
            e.reason.contains("not defined (defined: siem, hook)"),
            "{e}"
        );

        let e = refused(&GOOD.replace("sites = [", "colour = \"red\"\nsites = ["));
        assert_eq!(e.line, 27, "{e}");
        assert!(e.reason.contains("unknown field `colour`"), "{e}");

        let e = refused(&GOOD.replace("\"firmware_changed\"", "\"firmware\""));
        assert!(e.reason.contains("unknown event type \"firmware\""), "{e}");

        let e = refused(&GOOD.replace("ca = \"/etc/otwatch/siem-ca.pem\"\n", ""));
        assert_eq!(e.line, 2, "{e}");
        assert!(e.reason.contains("transport tls needs ca"), "{e}");

        let e = refused(&GOOD.replace("transport = \"tls\"", "transport = \"sctp\""));
        assert_eq!(e.line, 2, "{e}");
        assert!(e.reason.contains("sctp"), "{e}");

        let e = refused(&GOOD.replace("secret = \"k\"\n", ""));
        assert!(
            e.reason.contains("secret (or secret_file) is required"),
            "{e}"
        );

        let e = refused("[[rule]\nname = 1");
        assert_eq!(e.line, 1, "{e}");
        let e = refused(&GOOD.replace("name = \"hook\"", "name = \"siem\""));
        assert!(e.reason.contains("defined twice"), "{e}");
        let e = refused(&GOOD.replace("name = \"inventory\"", "name = \"in ventory\""));
        assert!(e.reason.contains("letters, digits"), "{e}");
    }

    #[test]
    fn rules_select_by_kind_severity_site_and_event() {
        use super::super::event::{matches, Event};
        let c = ForwardConfig::parse("f.toml", GOOD).unwrap();
        let alert = |kind: &str, sev: &str| Event {
            event: "alert".into(),
            kind: kind.into(),
            severity: sev.into(),
            site: "plant-b".into(),
            ..Event::default()
        };
        assert!(matches(&c.rules[0], &alert("plc_stop", "critical")));
        assert!(matches(&c.rules[0], &alert("rule:x", "high")));
        assert!(!matches(&c.rules[0], &alert("plc_stop", "medium")));
        assert!(!matches(&c.rules[0], &alert("scan_detected", "critical")));
        assert!(!matches(&c.rules[1], &alert("plc_stop", "critical")));
        let new_asset = |site: &str| Event {
            event: "new_asset".into(),
            site: site.into(),
            ..Event::default()
        };
        assert!(matches(&c.rules[1], &new_asset("plant-a")));
        assert!(!matches(&c.rules[1], &new_asset("plant-b")));
        assert_eq!(super::super::route(&c, &new_asset("plant-a")).len(), 1);
    }
}
