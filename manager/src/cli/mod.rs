//! The operator CLI `otwatch`: talks to the Manager API over mutual TLS with the credentials
//! from `otwatch-manager user create` (`--cred DIR` holding key.pem, cert.pem, ca.pem), or over
//! TLS with a bearer token (`--auth-token`, `--ca`).
//! List commands fetch every page. JSON output is the proto3 JSON mapping of the messages with
//! the original field names (64-bit counters as numbers), like `otwatch-sensor analyze`.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::manager_client::ManagerClient;
use otwatch_proto::v1::*;
use serde_json::{json, Value};
use std::io::Write;

pub mod filters;
mod forwards;
mod hints;
mod output;
mod playbooks;
pub mod risk;
pub use hints::{explain, hint, status_err, CallError};
pub use output::*;
use std::path::PathBuf;
use std::time::Duration;
use tonic::codegen::InterceptedService;
use tonic::transport::Channel;

/// Default manager address.
pub const DEFAULT_MANAGER: &str = "https://127.0.0.1:7443";

#[derive(Parser, Debug)]
#[command(
    name = "otwatch",
    version = crate::VERSION,
    about = "otwatch operator CLI: sites, sensors, assets, connections, alerts, advisories and risk of a manager"
)]
pub struct Cli {
    /// The manager's URL, https://HOST:PORT (default https://127.0.0.1:7443).
    #[arg(long, value_name = "URL", global = true, env = "OTWATCH_MANAGER")]
    pub manager: Option<String>,
    /// Directory with key.pem, cert.pem, ca.pem from `otwatch-manager user create --cred DIR`.
    #[arg(long, value_name = "DIR", global = true, env = "OTWATCH_CRED")]
    pub cred: Option<PathBuf>,
    /// Your operator bearer token (otwop1.…) from `otwatch-manager user create --auth-token`
    /// or `otwatch users token`, instead of --cred.
    #[arg(
        long,
        value_name = "TOKEN",
        global = true,
        alias = "token",
        env = "OTWATCH_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub auth_token: Option<String>,
    /// The manager's CA certificate (its state directory's ca.pem), with --auth-token.
    #[arg(long, value_name = "FILE", global = true, env = "OTWATCH_CA")]
    pub ca: Option<PathBuf>,
    /// table: aligned columns for people (the default); json: the proto3 JSON mapping, for
    /// scripts. Before or after the command; `completions` and `man` refuse it.
    #[arg(long, value_enum, value_name = "FORMAT", global = true)]
    pub format: Option<Format>,
    /// Seconds to wait for the manager to accept the connection, and for each answer.
    #[arg(long, value_name = "SECS", default_value_t = 10, global = true)]
    pub timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Sites with their sensor, asset and open-alert counts.
    Sites,
    /// Sensors (status, last seen, backlog, drops, records refused over quota), or `sensors
    /// revoke ID`.
    Sensors {
        /// Only the sensors of this site.
        #[arg(long)]
        site: Option<String>,
        #[command(subcommand)]
        action: Option<SensorAction>,
    },
    /// The fleet inventory, merged per site.
    #[command(args_conflicts_with_subcommands = true)]
    Assets {
        #[command(subcommand)]
        action: Option<AssetAction>,
        /// Only the assets of this site.
        #[arg(long)]
        site: Option<String>,
        /// Only this device type (any case).
        #[arg(long = "type", value_name = "TYPE", value_parser = filters::DEVICE_TYPE)]
        device_type: Option<String>,
        /// Only this Purdue level, 0 (process) to 5 (enterprise).
        #[arg(long, value_parser = filters::PurdueLevel)]
        level: Option<u32>,
        /// Only assets that speak this protocol, as client or server (any case).
        #[arg(long, value_parser = filters::PROTOCOL)]
        protocol: Option<String>,
        /// Only vendors that contain this text (any case).
        #[arg(long)]
        vendor: Option<String>,
        /// Only assets with this text in an ip, mac, hostname, vendor, model or name (any
        /// case).
        #[arg(long)]
        text: Option<String>,
        /// Only shadow devices: assets outside the approved inventory of a site that has one
        /// (`otwatch assets approve`).
        #[arg(long)]
        shadow: bool,
        /// Only assets with this tag (put there by a playbook, docs/PLAYBOOKS.md).
        #[arg(long)]
        tag: Option<String>,
    },
    /// Connections, merged per site.
    Connections {
        /// Only the connections of this site.
        #[arg(long)]
        site: Option<String>,
        /// Only connections with this IP as client or server.
        #[arg(long)]
        address: Option<String>,
    },
    /// Operators: `users revoke NAME` refuses every certificate issued to NAME until now (admin).
    #[command(alias = "user")]
    Users {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Sensor enrolment tokens: `tokens create --site SITE [--ttl 24h]` prints one for
    /// `otwatch-sensor enroll --enroll-token` (admin).
    #[command(alias = "token")]
    Tokens {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Security advisories the manager matches assets against (imported with
    /// `otwatch-manager advisories import`).
    Advisories {
        /// Substring of the id or title.
        #[arg(long)]
        text: Option<String>,
    },
    /// The risk assessment of a site, or of the fleet without --site: security score and band,
    /// top remediations, riskiest assets, internet exposure, single points of failure, Purdue
    /// level skips (docs/RISK.md).
    Risk {
        /// This site; without it, the whole fleet.
        #[arg(long)]
        site: Option<String>,
        /// How many items of each section the table shows.
        #[arg(long, value_name = "N", default_value_t = 10)]
        top: usize,
    },
    /// What the manager keeps how long (docs/RETENTION.md): per kind of record its limit, the
    /// records held, the oldest, how many retention removed, and its last run.
    Retention,
    /// The risk assessment report of a site, or of the fleet without --site: an executive page
    /// (score, trend, counts, top 10 risks), then per site the Purdue map, exposure,
    /// vulnerabilities by severity and the ranked remediations; one HTML file, a PDF of it
    /// (headless Chromium), or JSON (docs/RISK.md).
    Report(report::ReportArgs),
    /// Alerts, or `alerts show ID` / `alerts ack ID` / `alerts resolve ID`.
    Alerts {
        /// Only the alerts of this site.
        #[arg(long)]
        site: Option<String>,
        /// Only the alerts about this asset (its id as `otwatch assets` lists it): raised on it,
        /// or from or to one of its addresses.
        #[arg(long, value_name = "ID")]
        asset: Option<String>,
        /// Only alerts in this status (any case): new, acknowledged, resolved, or open (new or
        /// acknowledged).
        #[arg(long, value_parser = filters::ALERT_STATUS)]
        status: Option<String>,
        /// Only alerts of this severity (any case; exactly this one, not "at least").
        #[arg(long, value_parser = filters::SEVERITY)]
        severity: Option<String>,
        /// Only alerts of this kind: a built-in kind (docs/DETECTION.md, any case) or
        /// rule:<name> for an analyst rule.
        #[arg(long, value_parser = filters::ALERT_KIND)]
        kind: Option<String>,
        #[command(subcommand)]
        action: Option<AlertAction>,
    },
    /// Forwarding of alerts and inventory changes to SIEMs, webhooks and log shippers (admin):
    /// the destinations with their queues and the rules, or `forwards add FILE`, `forwards
    /// remove NAME`, `forwards test DESTINATION` (docs/FORWARDING.md).
    #[command(alias = "forward")]
    Forwards {
        #[command(subcommand)]
        action: Option<forwards::ForwardAction>,
    },
    /// Playbooks (analyst, admin): the playbooks in force with their queues, or `playbooks runs`
    /// for the run log (docs/PLAYBOOKS.md).
    #[command(alias = "playbook")]
    Playbooks {
        #[command(subcommand)]
        action: Option<playbooks::PlaybookAction>,
    },
    /// Print the completion script of otwatch for a shell (docs/CLI.md says where to put it).
    Completions(otwatch_common::cli::Completions),
    /// Print the man page of otwatch (roff), or write one page per command with --dir.
    Man(otwatch_common::cli::Manual),
}

#[derive(Subcommand, Debug)]
pub enum SensorAction {
    /// Refuse this sensor from its next connection on (admin).
    Revoke {
        /// The sensor's id, as `otwatch sensors` lists it.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AssetAction {
    /// Put assets into their site's approved inventory (analyst or admin). Once a site has
    /// one, each of its assets outside it is a shadow device (`otwatch assets --shadow`).
    Approve(Approval),
    /// Take assets out of the approved inventory (analyst or admin); a device gone from the
    /// network can be taken out too.
    Unapprove(Approval),
}

/// Which assets `assets approve` and `assets unapprove` act on.
#[derive(clap::Args, Debug)]
pub struct Approval {
    /// Asset ids as `otwatch assets` lists them (<site>/<id>).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    ids: Vec<String>,
    /// Every asset known now (the baseline), of `--site` or of every site.
    #[arg(long)]
    all: bool,
    /// With --all: only this site.
    #[arg(long, requires = "all")]
    site: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Refuse every certificate and token of this operator issued until now (admin).
    Revoke {
        /// The operator's name.
        name: String,
    },
    /// Print a bearer token for an operator (admin).
    Token {
        /// The name of the operator the token is for.
        name: String,
        /// What the token may do: viewer reads; analyst also triages alerts and approves
        /// assets; admin also creates enrolment tokens and revokes sensors and operators.
        #[arg(long, value_name = "admin|analyst|viewer")]
        role: OperatorRole,
        /// How long it stays valid (at most 365d).
        #[arg(long, default_value = "90d", value_parser = crate::admin::parse_ttl)]
        ttl: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Print a one-time sensor enrolment token for a site (admin).
    ///
    /// The printed token is for the sensor: `otwatch-sensor enroll --manager URL
    /// --enroll-token TOKEN`. It is not an --auth-token: that one is your own operator login,
    /// used instead of --cred to call the manager.
    Create {
        /// The site that the sensor enrolling with this token belongs to.
        #[arg(long)]
        site: String,
        /// How long the enrolment token stays valid (30s, 15m, 24h, 7d; at most 30d).
        #[arg(long, default_value = "24h", value_parser = crate::admin::parse_ttl)]
        ttl: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertAction {
    /// One alert, with its evidence.
    Show {
        /// The alert's id, as `otwatch alerts` lists it (<sensor>/<alert>).
        id: String,
    },
    /// Acknowledge an alert (analyst or admin).
    Ack {
        /// The alert's id, as `otwatch alerts` lists it (<sensor>/<alert>).
        id: String,
        /// Why, kept in the alert's history (`otwatch alerts show`).
        #[arg(long, short = 'm', default_value = "")]
        comment: String,
    },
    /// Resolve an alert (analyst or admin).
    Resolve {
        /// The alert's id, as `otwatch alerts` lists it (<sensor>/<alert>).
        id: String,
        /// Why, kept in the alert's history (`otwatch alerts show`).
        #[arg(long, short = 'm', default_value = "")]
        comment: String,
    },
}

/// Adds an operator's bearer token to every call (nothing when a client certificate is used).
#[derive(Clone, Debug)]
pub struct Auth(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A Manager API client, authenticated by a client certificate or a bearer token.
pub type Client = ManagerClient<InterceptedService<Channel, Auth>>;

/// Connects with a bearer token (from `otwatch-manager user create --auth-token`), trusting the CA in
/// `ca_pem` (the manager's ca.pem).
/// `timeout` bounds the connection and each call ([`crate::tls::channel_within`]).
pub async fn connect_token(
    url: &str,
    ca_pem: &std::path::Path,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<Client> {
    let ca = std::fs::read_to_string(ca_pem).with_context(|| {
        format!(
            "reading {}; --ca FILE is the manager's ca.pem (its data directory has it)",
            ca_pem.display()
        )
    })?;
    let header = format!("Bearer {}", token.trim())
        .parse()
        .context("the token holds characters a header cannot carry")?;
    let ch = crate::tls::channel_within(url, &ca, None, timeout)
        .await
        .with_context(|| format!("connecting to the manager at {url}"))?;
    Ok(ManagerClient::with_interceptor(ch, Auth(Some(header))))
}

/// Connects with the credentials in `cred`; `timeout` bounds the connection and each call
/// ([`crate::tls::channel_within`]).
pub async fn connect(
    url: &str,
    cred: &std::path::Path,
    timeout: Duration,
) -> anyhow::Result<Client> {
    let read = |f: &str| {
        std::fs::read_to_string(cred.join(f)).with_context(|| {
            format!(
                "reading {}; --cred DIR must hold key.pem, cert.pem, ca.pem from `otwatch-manager user create`",
                cred.join(f).display()
            )
        })
    };
    let (ca, cert, key) = (read("ca.pem")?, read("cert.pem")?, read("key.pem")?);
    let ch = crate::tls::channel_within(url, &ca, Some((&cert, &key)), timeout)
        .await
        .with_context(|| format!("connecting to the manager at {url}"))?;
    Ok(ManagerClient::with_interceptor(ch, Auth(None)))
}

/// Every item of a list call, page after page: `all_pages!(c.list_assets(q).assets)` asks with
/// `q` (its page_token set to each next page) and collects the `assets` of each answer.
macro_rules! all_pages {
    ($c:ident . $call:ident ( $q:ident ) . $items:ident) => {{
        let mut q = $q;
        let mut all = Vec::new();
        loop {
            let r = $c.$call(q.clone()).await.map_err(status_err)?.into_inner();
            all.extend(r.$items);
            if r.next_page_token.is_empty() {
                break;
            }
            q.page_token = r.next_page_token;
        }
        all
    }};
}

impl Cli {
    /// The manager to talk to: --manager (or OTWATCH_MANAGER), else [`DEFAULT_MANAGER`].
    pub fn manager_url(&self) -> String {
        self.manager
            .clone()
            .unwrap_or_else(|| DEFAULT_MANAGER.to_string())
    }
}

/// The exit statuses of `otwatch`: each command does what it is asked or nothing (no partial
/// result).
pub fn exit_help() -> String {
    otwatch_common::exit::help(&otwatch_common::exit::COMMON[..2])
}

/// The command tree as `otwatch` parses it: what its completion script and man pages describe.
pub fn command() -> clap::Command {
    otwatch_common::exit::command::<Cli>(exit_help())
}

pub mod report;

/// Forwarding at a glance, under the sensors' table.
fn forwarding_line(f: &ForwardingSummary) -> String {
    let mut s = format!(
        "forwarding: {} destination(s), {} event(s) waiting",
        f.destinations, f.queued
    );
    if f.oldest_age_seconds > 0 {
        s.push_str(&format!(", the oldest for {} s", f.oldest_age_seconds));
    }
    if !f.failing.is_empty() {
        s.push_str(&format!("; FAILING: {}", f.failing.join(", ")));
    }
    if f.overflowed > 0 {
        s.push_str(&format!("; {} overflowed (not forwarded)", f.overflowed));
    }
    if f.dead > 0 {
        s.push_str(&format!("; {} dead letter(s)", f.dead));
    }
    s.push_str(" (details: otwatch forwards)");
    s
}

/// Runs one command, writing its output to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    // These two describe the program and need no manager.
    if matches!(cli.command, Command::Completions(_) | Command::Man(_)) && cli.format.is_some() {
        anyhow::bail!("--format is for the commands that ask the manager; completions and man print a script or a page of their own: leave --format out");
    }
    match &cli.command {
        Command::Completions(c) => return Ok(out.write_all(&c.script(command()))?),
        Command::Man(m) => {
            let (page, written) = m.render(command())?;
            out.write_all(&page)?;
            if let Some(dir) = &m.dir {
                eprintln!("{} man pages written to {}", written.len(), dir.display());
            }
            return Ok(());
        }
        _ => {}
    }
    let url = cli.manager_url();
    let cred = cli.cred;
    // OTWATCH_TOKEN: what the variable was called before --auth-token.
    let token = cli
        .auth_token
        .or_else(|| std::env::var("OTWATCH_TOKEN").ok());
    let timeout = Duration::from_secs(cli.timeout.max(1));
    // A call that ran out of time says where and how long it waited.
    let status_err = |e: tonic::Status| {
        if crate::tls::timed_out(&e) {
            anyhow::Error::from(crate::tls::ConnectError::Silent {
                url: url.clone(),
                secs: timeout.as_secs(),
            })
        } else {
            status_err(e)
        }
    };
    let mut c = match (token, cred) {
        (Some(token), cred) => {
            let ca = cli
                .ca
                .or_else(|| cred.map(|d| d.join("ca.pem")))
                .context("a bearer token needs the manager's CA: pass --ca FILE (its ca.pem) or set OTWATCH_CA")?;
            connect_token(&url, &ca, &token, timeout).await?
        }
        (None, Some(cred)) => connect(&url, &cred, timeout).await?,
        (None, None) => anyhow::bail!(
            "no credentials: pass --cred DIR (from `otwatch-manager user create`) or --auth-token TOKEN with --ca FILE (from `user create --auth-token`), or set OTWATCH_CRED / OTWATCH_AUTH_TOKEN"
        ),
    };
    let fmt = cli.format.unwrap_or(Format::Table);
    match cli.command {
        Command::Forwards { action } => {
            forwards::run(&mut c, action, fmt, out, status_err).await?;
        }
        Command::Playbooks { action } => {
            playbooks::run(&mut c, action, fmt, out, status_err).await?;
        }
        Command::Sites => {
            let r = c
                .list_sites(ListSitesRequest {})
                .await
                .map_err(status_err)?
                .into_inner();
            let rows: Vec<Value> = r.sites.iter().map(site_json).collect();
            emit(
                out,
                fmt,
                rows,
                &["name", "sensors", "assets", "open_alerts"],
            )?;
        }
        Command::Sensors {
            action: Some(SensorAction::Revoke { id }),
            ..
        } => {
            let s = c
                .revoke_sensor(RevokeSensorRequest { id })
                .await
                .map_err(status_err)?
                .into_inner();
            one(out, fmt, sensor_json(&s), "sensor revoked")?;
        }
        Command::Users {
            action: UserAction::Token { name, role, ttl },
        } => {
            let t = c
                .create_operator_token(CreateOperatorTokenRequest {
                    name,
                    role: role.as_str().to_string(),
                    ttl_seconds: u64::try_from(ttl).unwrap_or(0),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            let note = format!(
                "bearer token for {} ({}), valid until {}",
                t.name, t.role, t.expires_at
            );
            let v = json!({"token": t.token, "name": t.name, "role": t.role, "expires_at": t.expires_at});
            secret(out, fmt, v, &t.token, &note)?;
        }
        Command::Users {
            action: UserAction::Revoke { name },
        } => {
            let r = c
                .revoke_operator(RevokeOperatorRequest { name })
                .await
                .map_err(status_err)?
                .into_inner();
            match fmt {
                Format::Json => {
                    let v = serde_json::json!({"name": r.name, "revoked_at": r.revoked_at});
                    writeln!(out, "{}", to_json(&v)?)?;
                }
                Format::Table => writeln!(
                    out,
                    "operator revoked: {} (certificates issued until {})",
                    r.name, r.revoked_at
                )?,
            }
        }
        Command::Tokens {
            action: TokenAction::Create { site, ttl },
        } => {
            let t = c
                .create_enrollment_token(CreateEnrollmentTokenRequest {
                    site,
                    ttl_seconds: u64::try_from(ttl).unwrap_or(0),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            let note = format!(
                "one-time token for site {} (expires {}); enrol with: otwatch-sensor enroll --manager URL --enroll-token TOKEN",
                t.site, t.expires_at
            );
            let v = json!({"token": t.token, "site": t.site, "expires_at": t.expires_at});
            secret(out, fmt, v, &t.token, &note)?;
        }
        Command::Sensors { site, action: None } => {
            let r = c
                .list_sensors(ListSensorsRequest {
                    site: site.unwrap_or_default(),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            let rows = r.sensors.iter().map(sensor_json).collect();
            emit(
                out,
                fmt,
                rows,
                &[
                    "id",
                    "site",
                    "hostname",
                    "status",
                    "last_seen",
                    "applied_seq",
                    "backlog",
                    "outbox_deferred",
                    "drops",
                    "over_quota",
                ],
            )?;
            if let (Format::Table, Some(f)) = (fmt, &r.forwarding) {
                writeln!(out, "\n{}", forwarding_line(f))?;
            }
        }
        Command::Assets {
            action: Some(action),
            ..
        } => {
            let (Approval { ids, all, site }, revoke) = match action {
                AssetAction::Approve(a) => (a, false),
                AssetAction::Unapprove(a) => (a, true),
            };
            let r = c
                .approve_assets(ApproveAssetsRequest {
                    ids,
                    site: site.clone().unwrap_or_default(),
                    all,
                    revoke,
                })
                .await
                .map_err(status_err)?
                .into_inner();
            if fmt == Format::Json {
                writeln!(
                    out,
                    "{}",
                    to_json(&json!({"changed": r.changed, "approved": r.approved}))?
                )?;
            } else {
                let scope = site.map_or("in the sites concerned".to_string(), |s| {
                    format!("in site {}", terminal_safe(&s))
                });
                let verb = if revoke { "taken out" } else { "approved" };
                writeln!(
                    out,
                    "{} assets {verb}; {} approved {scope}",
                    r.changed, r.approved
                )?;
            }
        }
        Command::Assets {
            action: None,
            site,
            device_type,
            level,
            protocol,
            vendor,
            text,
            shadow,
            tag,
        } => {
            let q = ListAssetsRequest {
                site: site.unwrap_or_default(),
                device_type: device_type.unwrap_or_default(),
                purdue_level: level,
                protocol: protocol.unwrap_or_default(),
                vendor: vendor.unwrap_or_default(),
                text: text.unwrap_or_default(),
                page_size: 1000,
                page_token: String::new(),
                shadow,
                tag: tag.unwrap_or_default(),
            };
            let all = all_pages!(c.list_assets(q).assets);
            emit_list(
                out,
                fmt,
                &all,
                fleet_asset_json,
                asset_row,
                &[
                    "id",
                    "ips",
                    "vendor",
                    "device_type",
                    "level",
                    "protocols",
                    "seen_by",
                    "approval",
                    "tags",
                ],
            )?;
        }
        Command::Advisories { text } => {
            let q = ListAdvisoriesRequest {
                text: text.unwrap_or_default(),
                page_size: 1000,
                page_token: String::new(),
            };
            let all = all_pages!(c.list_advisories(q).advisories);
            emit_list(
                out,
                fmt,
                &all,
                advisory_json,
                advisory_json,
                &["id", "revision", "release_date", "cves", "title"],
            )?;
        }
        Command::Risk { site, top } => {
            let site = site.unwrap_or_default();
            let r = c
                .get_risk(GetRiskRequest { site: site.clone() })
                .await
                .map_err(status_err)?
                .into_inner();
            // The fleet's table lists each site's score too.
            let sites = if site.is_empty() && fmt == Format::Table {
                let listed = c
                    .list_sites(ListSitesRequest {})
                    .await
                    .map_err(status_err)?
                    .into_inner();
                listed.sites.into_iter().map(|s| s.name).collect()
            } else {
                Vec::new()
            };
            risk::print(out, fmt, &r, &sites, top)?;
        }
        Command::Report(args) => report::run(&mut c, args, fmt, &status_err, out).await?,
        Command::Retention => {
            let r = c
                .get_retention(GetRetentionRequest {})
                .await
                .map_err(status_err)?
                .into_inner();
            emit_list(
                out,
                fmt,
                &r.kinds,
                retention_json,
                retention_row,
                &[
                    "kind", "limit", "held", "oldest", "removed", "last_run", "error",
                ],
            )?;
        }
        Command::Connections { site, address } => {
            let q = ListConnectionsRequest {
                site: site.unwrap_or_default(),
                address: address.unwrap_or_default(),
                page_size: 1000,
                page_token: String::new(),
            };
            let all = all_pages!(c.list_connections(q).connections);
            emit_list(
                out,
                fmt,
                &all,
                fleet_conn_json,
                conn_row,
                &[
                    "site",
                    "client",
                    "server",
                    "transport",
                    "port",
                    "protocol",
                    "packets",
                    "sensors",
                ],
            )?;
        }
        Command::Alerts {
            action: Some(action),
            ..
        } => {
            let (r, what) = match action {
                AlertAction::Show { id } => (c.get_alert(GetAlertRequest { id }).await, "alert"),
                AlertAction::Ack { id, comment } => (
                    c.acknowledge_alert(AlertActionRequest { id, comment })
                        .await,
                    "alert acknowledged",
                ),
                AlertAction::Resolve { id, comment } => (
                    c.resolve_alert(AlertActionRequest { id, comment }).await,
                    "alert resolved",
                ),
            };
            let a = r.map_err(status_err)?.into_inner();
            match (what, fmt) {
                ("alert", Format::Table) => alert_detail(out, &a)?,
                _ => one(out, fmt, fleet_alert_json(&a), what)?,
            }
        }
        Command::Alerts {
            site,
            asset,
            status,
            severity,
            kind,
            action: None,
        } => {
            let q = ListAlertsRequest {
                site: site.unwrap_or_default(),
                asset: asset.unwrap_or_default(),
                state: status.unwrap_or_default(),
                severity: severity.unwrap_or_default(),
                kind: kind.unwrap_or_default(),
                page_size: 1000,
                ..Default::default()
            };
            let all = all_pages!(c.list_alerts(q).alerts);
            emit_list(
                out,
                fmt,
                &all,
                fleet_alert_json,
                alert_row,
                &[
                    "id",
                    "site",
                    "state",
                    "severity",
                    "kind",
                    "src",
                    "dst",
                    "count",
                    "last_seen",
                    "title",
                ],
            )?;
        }
        // Answered above, without a manager.
        Command::Completions(_) | Command::Man(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_complete_and_documented() {
        otwatch_common::cli::assert_complete(Cli::command(), include_str!("../../../docs/CLI.md"));
    }
}
