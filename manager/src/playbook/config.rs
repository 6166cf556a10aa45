//! The playbook file (TOML, `playbooks.toml`): `[[playbook]]` tables, each with a filter (the
//! forwarding rules' `kinds`, `min_severity`, `sites`), `dry_run`, retry pacing, and ordered
//! `[[playbook.action]]` tables. Read with unknown keys refused, then checked
//! ([`PlaybookConfig::parse`]); every refusal names the file, the line and the reason, like the
//! forwarding file's ([`crate::forward::ConfigError`]). docs/PLAYBOOKS.md describes every key.

use super::template::Template;
use crate::forward::config::{line_of, read, toml_of, ConfigError, RuleConfig, SEVERITIES};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A checked playbook file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaybookConfig {
    pub playbooks: Vec<Playbook>,
}

/// One playbook: which alerts it runs on, and what it does, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    /// Letters, digits, `-` and `_`; runs are logged under it, alert states set by it are
    /// recorded as `playbook:<name>`.
    pub name: String,
    /// The filter, as a forwarding rule selecting alerts (so [`crate::forward::event::matches`]
    /// decides, the same way for both).
    pub filter: RuleConfig,
    /// Log what each action would do (its rendered templates), do nothing.
    pub dry_run: bool,
    /// A run whose action fails is tried again from the first action, at most this many times
    /// in all; then it is logged as failed.
    pub max_attempts: u32,
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    pub actions: Vec<Action>,
    /// The line the playbook starts at.
    pub line: usize,
}

/// Email transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTls {
    /// STARTTLS, required (the default): no message is sent over a connection not upgraded.
    Starttls,
    /// Plain SMTP: for a relay on loopback only (refused for any other host).
    None,
}

/// SMTP authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailAuth {
    Plain,
    Login,
}

/// One action, run in its playbook's order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// POST of the alert's event (JSON), signed like forwarding webhooks.
    Webhook {
        url: String,
        /// The HMAC key, or a file holding it; without, the request is not signed.
        secret: Option<String>,
        secret_file: Option<PathBuf>,
        ca: Option<PathBuf>,
    },
    /// A message over SMTP.
    Email {
        host: String,
        port: u16,
        tls: EmailTls,
        /// PEM CA that signed the server's certificate (STARTTLS).
        ca: Option<PathBuf>,
        /// The name the server's certificate must hold; default: `host`.
        server_name: Option<String>,
        auth: Option<EmailAuth>,
        username: Option<String>,
        password_file: Option<PathBuf>,
        from: String,
        to: Vec<String>,
        subject: Template,
        body: Template,
    },
    /// A ticket: a JSON object of templated fields, written as a file into `dir` or POSTed to
    /// `url`.
    Ticket {
        dir: Option<PathBuf>,
        url: Option<String>,
        ca: Option<PathBuf>,
        fields: BTreeMap<String, Template>,
    },
    /// The alert's state, set as the API's AcknowledgeAlert/ResolveAlert set it.
    SetStatus { status: String, comment: Template },
    /// Tags added to the alert's asset.
    TagAsset { tags: Vec<Template> },
}

impl Action {
    /// The action's type, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Webhook { .. } => "webhook",
            Action::Email { .. } => "email",
            Action::Ticket { .. } => "ticket",
            Action::SetStatus { .. } => "set_status",
            Action::TagAsset { .. } => "tag_asset",
        }
    }

    /// What the action does, without an alert: its type and target (no secret), for
    /// `otwatch playbooks`.
    pub fn summary(&self) -> String {
        let what = match self {
            Action::Webhook { url, .. } => format!("POST to {url}"),
            Action::Email { host, port, to, .. } => {
                format!("to {} via {host}:{port}", to.join(", "))
            }
            Action::Ticket { dir, url, .. } => match (dir, url) {
                (Some(d), _) => format!("into {}", d.display()),
                (_, Some(u)) => format!("POST to {u}"),
                _ => String::new(),
            },
            Action::SetStatus { status, .. } => status.clone(),
            Action::TagAsset { tags } => tags
                .iter()
                .map(|t| t.source())
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!("{} {what}", self.kind())
    }
}

/// An action as written (templates still text).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawAction {
    Webhook {
        url: String,
        secret: Option<String>,
        secret_file: Option<PathBuf>,
        ca: Option<PathBuf>,
    },
    Email {
        host: String,
        #[serde(default = "default_smtp_port")]
        port: u16,
        #[serde(default = "default_tls")]
        tls: EmailTls,
        ca: Option<PathBuf>,
        server_name: Option<String>,
        auth: Option<EmailAuth>,
        username: Option<String>,
        password_file: Option<PathBuf>,
        from: String,
        to: Vec<String>,
        subject: String,
        body: String,
    },
    Ticket {
        dir: Option<PathBuf>,
        url: Option<String>,
        ca: Option<PathBuf>,
        fields: BTreeMap<String, String>,
    },
    SetStatus {
        status: String,
        #[serde(default)]
        comment: String,
    },
    TagAsset {
        tags: Vec<String>,
    },
}

fn default_smtp_port() -> u16 {
    587
}
fn default_tls() -> EmailTls {
    EmailTls::Starttls
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    name: String,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default = "default_min_severity")]
    min_severity: String,
    #[serde(default)]
    sites: Vec<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_retry_min_ms")]
    retry_min_ms: u64,
    #[serde(default = "default_retry_max_ms")]
    retry_max_ms: u64,
    #[serde(default)]
    action: Vec<Spanned<toml::Table>>,
}

fn default_min_severity() -> String {
    "info".into()
}
fn default_max_attempts() -> u32 {
    5
}
fn default_retry_min_ms() -> u64 {
    1_000
}
fn default_retry_max_ms() -> u64 {
    300_000
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    playbook: Vec<Spanned<RawPlaybook>>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `host` is a loopback address or `localhost` (where plain SMTP is allowed).
fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn template(key: &str, text: &str) -> Result<Template, String> {
    Template::parse(text).map_err(|e| format!("{key}: {e}"))
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    crate::forward::addr::Url::parse(url)
        .map(|_| ())
        .map_err(|e| format!("{key} {url:?}: {e}"))
}

/// An address for MAIL FROM / RCPT TO: `local@domain`, nothing SMTP would misread.
fn check_mailbox(key: &str, m: &str) -> Result<(), String> {
    let ok = m
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && m.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>,;\"".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{key} {m:?}: give one address, local@domain"))
    }
}

impl RawAction {
    fn check(self) -> Result<Action, String> {
        Ok(match self {
            RawAction::Webhook {
                url,
                secret,
                secret_file,
                ca,
            } => {
                check_url("url", &url)?;
                if secret.is_some() && secret_file.is_some() {
                    return Err("give secret or secret_file, not both".into());
                }
                Action::Webhook {
                    url,
                    secret,
                    secret_file,
                    ca,
                }
            }
            RawAction::Email {
                host,
                port,
                tls,
                ca,
                server_name,
                auth,
                username,
                password_file,
                from,
                to,
                subject,
                body,
            } => {
                if host.is_empty() || port == 0 {
                    return Err("host and port (above 0) are required".into());
                }
                match tls {
                    EmailTls::Starttls if ca.is_none() => {
                        return Err("STARTTLS needs ca (the PEM file of the CA that signed the SMTP server's certificate)".into())
                    }
                    EmailTls::None if !loopback(&host) => {
                        return Err(format!(
                            "tls = \"none\" is allowed only for a server on loopback, not {host:?}; use STARTTLS (the default) with ca"
                        ))
                    }
                    EmailTls::None if auth.is_some() => {
                        return Err("auth needs STARTTLS: a password is never sent in clear".into())
                    }
                    _ => {}
                }
                if auth.is_some() != (username.is_some() && password_file.is_some())
                    || (auth.is_none() && (username.is_some() || password_file.is_some()))
                {
                    return Err("auth (plain or login) needs username and password_file, and they need auth".into());
                }
                check_mailbox("from", &from)?;
                if to.is_empty() {
                    return Err("to is empty: give one or more addresses".into());
                }
                for t in &to {
                    check_mailbox("to", t)?;
                }
                Action::Email {
                    host,
                    port,
                    tls,
                    ca,
                    server_name,
                    auth,
                    username,
                    password_file,
                    from,
                    to,
                    subject: template("subject", &subject)?,
                    body: template("body", &body)?,
                }
            }
            RawAction::Ticket {
                dir,
                url,
                ca,
                fields,
            } => {
                match (&dir, &url) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(
                            "give dir (write the ticket file there) or url (POST it), one of them"
                                .into(),
                        )
                    }
                    (None, Some(u)) => check_url("url", u)?,
                    _ => {}
                }
                if fields.is_empty() {
                    return Err("fields is empty: give the ticket's fields, e.g. fields = { title = \"{{alert.title}}\" }".into());
                }
                let mut out = BTreeMap::new();
                for (k, v) in fields {
                    let t = template(&format!("fields.{k}"), &v)?;
                    out.insert(k, t);
                }
                Action::Ticket {
                    dir,
                    url,
                    ca,
                    fields: out,
                }
            }
            RawAction::SetStatus { status, comment } => {
                if status != "acknowledged" && status != "resolved" {
                    return Err(format!("status {status:?}: use acknowledged or resolved"));
                }
                Action::SetStatus {
                    status,
                    comment: template("comment", &comment)?,
                }
            }
            RawAction::TagAsset { tags } => {
                if tags.is_empty() {
                    return Err("tags is empty: give one or more tags".into());
                }
                let tags = tags
                    .iter()
                    .map(|t| template("tags", t))
                    .collect::<Result<Vec<_>, _>>()?;
                Action::TagAsset { tags }
            }
        })
    }
}

impl PlaybookConfig {
    /// Reads and checks the playbook file at `path`.
    pub fn load(path: &Path) -> Result<PlaybookConfig, ConfigError> {
        let text = read(path, "playbook")?;
        PlaybookConfig::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks `text`, read from `file` (named in errors).
    pub fn parse(file: &str, text: &str) -> Result<PlaybookConfig, ConfigError> {
        let err = |line: usize, reason: String| ConfigError {
            file: file.to_string(),
            line,
            reason,
        };
        let shape: FileShape = toml_of(file, text)?;
        let mut cfg = PlaybookConfig::default();
        for p in shape.playbook {
            let line = line_of(text, p.span().start);
            let p = p.into_inner();
            let name = p.name.clone();
            if !valid_name(&name) {
                return Err(err(
                    line,
                    format!("playbook name {name:?}: use 1 to 64 letters, digits, '-' or '_'"),
                ));
            }
            if cfg.playbooks.iter().any(|x| x.name == name) {
                return Err(err(line, format!("playbook {name:?} is defined twice")));
            }
            if !SEVERITIES.contains(&p.min_severity.as_str()) {
                return Err(err(
                    line,
                    format!(
                        "playbook {name:?}: unknown min_severity {:?}; use {}",
                        p.min_severity,
                        SEVERITIES.join(", ")
                    ),
                ));
            }
            if let Some(k) = p
                .kinds
                .iter()
                .find(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(err(
                    line,
                    format!("playbook {name:?}: alert kind {k:?} is not a kind string (docs/DETECTION.md)"),
                ));
            }
            if p.max_attempts == 0 || p.retry_min_ms == 0 || p.retry_max_ms < p.retry_min_ms {
                return Err(err(line, format!("playbook {name:?}: max_attempts and retry_min_ms must be above 0, retry_max_ms at least retry_min_ms")));
            }
            if p.action.is_empty() {
                return Err(err(
                    line,
                    format!("playbook {name:?} has no [[playbook.action]]; give one or more"),
                ));
            }
            let mut actions = Vec::new();
            for (i, a) in p.action.into_iter().enumerate() {
                let aline = line_of(text, a.span().start);
                let t = a.into_inner();
                let what = format!("playbook {name:?} action {}", i + 1);
                if !t.contains_key("type") {
                    return Err(err(aline, format!("{what} has no type; use webhook, email, ticket, set_status or tag_asset")));
                }
                let raw: RawAction =
                    toml::Value::Table(t)
                        .try_into()
                        .map_err(|e: toml::de::Error| {
                            err(aline, format!("{what}: {}", e.message().trim()))
                        })?;
                actions.push(
                    raw.check()
                        .map_err(|r| err(aline, format!("{what}: {r}")))?,
                );
            }
            cfg.playbooks.push(Playbook {
                filter: RuleConfig {
                    name: name.clone(),
                    destination: format!("playbook:{name}"),
                    events: vec!["alert".into()],
                    kinds: p.kinds,
                    min_severity: p.min_severity,
                    sites: p.sites,
                },
                name,
                dry_run: p.dry_run,
                max_attempts: p.max_attempts,
                retry_min_ms: p.retry_min_ms,
                retry_max_ms: p.retry_max_ms,
                actions,
                line,
            });
        }
        Ok(cfg)
    }

    /// The playbooks that run on `e`, in file order ([`Playbook::runs_on`]).
    pub fn matching<'a>(&'a self, e: &crate::forward::Event) -> Vec<&'a Playbook> {
        self.playbooks.iter().filter(|p| p.runs_on(e)).collect()
    }

    /// The playbook named `name`.
    pub fn playbook(&self, name: &str) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.name == name)
    }
}

/// Events a playbook's queue holds at most: beyond, new runs are counted as overflow (an alert
/// storm must not fill the manager's disk with runs nobody can do in time).
pub const QUEUE_MAX_EVENTS: u64 = 10_000;
/// Bytes a playbook's queue holds at most.
pub const QUEUE_MAX_BYTES: u64 = 64 << 20;

impl Playbook {
    /// Whether the playbook runs on `e`: an alert raised (or raised again after it was
    /// resolved) that its filter selects. Changes of state (an operator's, or a playbook's own
    /// `set_status`) start no run, so playbooks never run each other in circles.
    pub fn runs_on(&self, e: &crate::forward::Event) -> bool {
        e.event == "alert" && e.state == "new" && crate::forward::event::matches(&self.filter, e)
    }

    /// The bounds and pacing of the playbook's queue.
    pub fn queue(&self) -> crate::forward::QueueConfig {
        crate::forward::QueueConfig {
            queue_max_events: QUEUE_MAX_EVENTS,
            queue_max_bytes: QUEUE_MAX_BYTES,
            retry_min_ms: self.retry_min_ms,
            retry_max_ms: self.retry_max_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::Event;

    const GOOD: &str = r#"
[[playbook]]
name = "plc-stop"
kinds = ["plc_stop", "rule:*"]
min_severity = "high"

[[playbook.action]]
type = "webhook"
url = "http://127.0.0.1:9000/hook"
secret = "k"

[[playbook.action]]
type = "email"
host = "127.0.0.1"
port = 2525
tls = "none"
from = "otwatch@example.org"
to = ["soc@example.org"]
subject = "[{{alert.severity}}] {{alert.title}}"
body = "Alert {{alert.id}} from {{alert.src}} at {{site}}."

[[playbook.action]]
type = "ticket"
dir = "/tmp/tickets"
fields = { title = "{{alert.title}}", asset = "{{asset.id}}" }

[[playbook.action]]
type = "set_status"
status = "acknowledged"
comment = "ticket opened by {{playbook}}"

[[playbook.action]]
type = "tag_asset"
tags = ["incident", "{{alert.kind}}"]

[[playbook]]
name = "dry"
dry_run = true
sites = ["plant-a"]

[[playbook.action]]
type = "set_status"
status = "resolved"
"#;

    #[test]
    fn a_good_file_reads() {
        let c = PlaybookConfig::parse("p.toml", GOOD).unwrap();
        assert_eq!(c.playbooks.len(), 2);
        let p = &c.playbooks[0];
        assert_eq!(p.line, 2);
        let kinds: Vec<&str> = p.actions.iter().map(Action::kind).collect();
        assert_eq!(
            kinds,
            ["webhook", "email", "ticket", "set_status", "tag_asset"]
        );
        assert_eq!(p.max_attempts, 5);
        assert!(c.playbooks[1].dry_run);
        let e = |kind: &str, sev: &str, site: &str| Event {
            event: "alert".into(),
            kind: kind.into(),
            severity: sev.into(),
            site: site.into(),
            state: "new".into(),
            ..Event::default()
        };
        let names =
            |e: &Event| -> Vec<String> { c.matching(e).iter().map(|p| p.name.clone()).collect() };
        assert_eq!(names(&e("plc_stop", "critical", "plant-b")), ["plc-stop"]);
        assert_eq!(names(&e("rule:x", "high", "plant-a")), ["plc-stop", "dry"]);
        assert!(names(&e("plc_stop", "medium", "plant-b")).is_empty());
        let mut inv = e("plc_stop", "critical", "plant-a");
        inv.event = "new_asset".into();
        assert!(names(&inv).is_empty(), "playbooks run on alerts only");
        let mut acked = e("plc_stop", "critical", "plant-a");
        acked.state = "acknowledged".into();
        assert!(names(&acked).is_empty(), "a change of state starts no run");
    }

    fn refused(text: &str) -> ConfigError {
        PlaybookConfig::parse("p.toml", text).unwrap_err()
    }

    #[test]
    fn bad_playbooks_are_refused_with_file_line_and_reason() {
        let e = refused(&GOOD.replace("{{alert.title}}\"\nbody", "{{alert.titel}}\"\nbody"));
        assert_eq!((e.file.as_str(), e.line), ("p.toml", 12), "{e}");
        assert!(
            e.to_string().starts_with(
                "p.toml:12: playbook \"plc-stop\" action 2: subject: unknown placeholder {{alert.titel}}"
            ),
            "{e}"
        );

        let e = refused(&GOOD.replace(
            "\"127.0.0.1\"\nport = 2525",
            "\"mail.example\"\nport = 2525",
        ));
        assert_eq!(e.line, 12, "{e}");
        assert!(e.reason.contains("only for a server on loopback"), "{e}");

        let e = refused(&GOOD.replace("tls = \"none\"\n", ""));
        assert!(e.reason.contains("STARTTLS needs ca"), "{e}");

        let e = refused(&GOOD.replace("status = \"acknowledged\"", "status = \"closed\""));
        assert_eq!(e.line, 27, "{e}");
        assert!(e.reason.contains("use acknowledged or resolved"), "{e}");

        let e = refused(&GOOD.replace("min_severity = \"high\"", "min_severity = \"urgent\""));
        assert_eq!(e.line, 2, "{e}");
        assert!(e.reason.contains("unknown min_severity \"urgent\""), "{e}");

        let e = refused(&GOOD.replace("type = \"tag_asset\"", "type = \"page\""));
        assert_eq!(e.line, 32, "{e}");
        assert!(e.reason.contains("page"), "{e}");

        let e = refused(&GOOD.replace("dir = \"/tmp/tickets\"", "colour = \"red\""));
        assert_eq!(e.line, 22, "{e}");
        assert!(
            e.reason.contains("unknown field `colour`") || e.reason.contains("give dir"),
            "{e}"
        );

        let e = refused(&GOOD.replace("dry_run = true", "dry_run = true\ncolour = 1"));
        assert!(e.reason.contains("unknown field `colour`"), "{e}");

        let e = refused(&GOOD.replace("name = \"dry\"", "name = \"plc-stop\""));
        assert!(e.reason.contains("defined twice"), "{e}");

        let e = refused("[[playbook]]\nname = \"x\"\n");
        assert!(e.reason.contains("no [[playbook.action]]"), "{e}");

        let e = refused(&GOOD.replace("to = [\"soc@example.org\"]", "to = [\"soc\"]"));
        assert!(e.reason.contains("local@domain"), "{e}");
    }
}
