//! `otwatch-manager`: argument parsing only; the work happens in the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use otwatch_common::link::{hex, OperatorRole};
use otwatch_manager::store::Quotas;
use otwatch_manager::{admin, pki, retention, serve};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "otwatch-manager",
    version = otwatch_manager::VERSION,
    about = "otwatch manager: enrols sensors, merges their inventories per site, serves the operator API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--state DIR`: the manager's state directory, as every command that works on one names it.
#[derive(clap::Args)]
struct State {
    /// The manager's state directory (e.g. /var/lib/otwatch/manager): its CA, server
    /// certificate and store, as `init` made them.
    #[arg(long = "state", alias = "data", value_name = "DIR")]
    dir: PathBuf,
}

/// How long `serve` keeps each kind of record (docs/RETENTION.md): a duration (`90d`, `12h`)
/// or `forever`. Records older than their limit are removed every `--retention-every`.
#[derive(clap::Args, Debug)]
struct Retain {
    /// Alerts not resolved (new, acknowledged), after their last occurrence.
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = retention::parse_limit)]
    retain_alerts: retention::Limit,
    /// Resolved alerts, after their resolution.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = retention::parse_limit)]
    retain_resolved_alerts: retention::Limit,
    /// Assets no sensor has seen for this long.
    #[arg(long, value_name = "DURATION", default_value = "180d", value_parser = retention::parse_limit)]
    retain_assets: retention::Limit,
    /// Connections not seen for this long.
    #[arg(long, value_name = "DURATION", default_value = "180d", value_parser = retention::parse_limit)]
    retain_connections: retention::Limit,
    /// Daily security scores (the risk trend) older than this.
    #[arg(long, value_name = "DURATION", default_value = "400d", value_parser = retention::parse_limit)]
    retain_risk_history: retention::Limit,
    /// Events waiting in a forwarding queue for a destination that does not take them, and
    /// dead letters, older than this (counted as expired, never dropped silently).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = retention::parse_limit)]
    retain_forwarding_queues: retention::Limit,
    /// The playbooks' run log (`otwatch playbooks runs`), after each run's end.
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = retention::parse_limit)]
    retain_playbook_runs: retention::Limit,
    /// Time between retention runs.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = admin::parse_ttl)]
    retention_every: i64,
}

impl Retain {
    fn settings(&self) -> retention::RetentionSettings {
        use otwatch_manager::store::StoredKind as K;
        let limits = [
            (K::Alerts, self.retain_alerts),
            (K::ResolvedAlerts, self.retain_resolved_alerts),
            (K::Assets, self.retain_assets),
            (K::Connections, self.retain_connections),
            (K::RiskHistory, self.retain_risk_history),
            (K::PlaybookRuns, self.retain_playbook_runs),
        ];
        retention::RetentionSettings {
            limits: limits.into_iter().map(|(k, l)| (k, l.0)).collect(),
            every: std::time::Duration::from_secs(self.retention_every.max(1) as u64),
            forwarding_queues: self.retain_forwarding_queues.0,
            ..Default::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create the CA and the server certificate in a new state directory.
    Init {
        /// The new state directory (e.g. /var/lib/otwatch/manager); refused if it holds a CA.
        #[arg(long = "state", alias = "data", value_name = "DIR")]
        state: PathBuf,
        /// DNS name or IP the sensors and operators connect to (repeat; default localhost,
        /// 127.0.0.1, ::1).
        #[arg(long = "san", value_name = "NAME_OR_IP")]
        sans: Vec<String>,
        /// The manager's name (certificate subject).
        #[arg(long, value_name = "NAME", default_value = "otwatch-manager")]
        name: String,
        /// When the directory holds a CA already, say so and exit 0 without changing anything
        /// (an init container or a script that runs before every start).
        #[arg(long)]
        keep_existing: bool,
        /// The manager will keep its fleet store in PostgreSQL (`serve --store URL`): recorded
        /// now, so that `token create` and `user create` before the first start are refused
        /// (they go through the running manager) instead of filling the embedded store.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Enrolment tokens for sensors.
    #[command(alias = "tokens")]
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Operator credentials: certificates and bearer tokens.
    #[command(alias = "users")]
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Security advisories the manager matches assets against.
    Advisories {
        #[command(subcommand)]
        command: AdvisoriesCommand,
    },
    /// Serve SensorLink, the Manager API, gRPC health and reflection over TLS until SIGINT/SIGTERM.
    Serve {
        #[command(flatten)]
        state: State,
        /// Address to listen on for sensors and operators (0.0.0.0:7443 for every interface).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7443")]
        listen: String,
        /// Assets one sensor may hold; beyond it new ones are refused (counted, logged).
        #[arg(long, value_name = "N", default_value_t = Quotas::default().assets_per_sensor)]
        quota_assets_per_sensor: u64,
        /// Connections one sensor may hold.
        #[arg(long, value_name = "N", default_value_t = Quotas::default().connections_per_sensor)]
        quota_connections_per_sensor: u64,
        /// Alerts one sensor may hold.
        #[arg(long, value_name = "N", default_value_t = Quotas::default().alerts_per_sensor)]
        quota_alerts_per_sensor: u64,
        /// The forwarding rules and destinations (TOML, docs/FORWARDING.md); default:
        /// forwarding.toml in the state directory when it exists.
        #[arg(long, value_name = "FILE", env = "OTWATCH_FORWARDING")]
        forwarding: Option<PathBuf>,
        /// The playbooks (TOML, docs/PLAYBOOKS.md); default: playbooks.toml in the state
        /// directory when it exists.
        #[arg(long, value_name = "FILE", env = "OTWATCH_PLAYBOOKS")]
        playbooks: Option<PathBuf>,
        /// Keep the fleet store in PostgreSQL (postgres://USER@HOST:PORT/DATABASE) instead of
        /// the embedded store in the state directory, so that several managers can share it
        /// (docs/POSTGRES.md). The password: --store-password-file, else PGPASSWORD. TLS:
        /// libpq's sslmode, sslrootcert, sslcert and sslkey in the URL; the server's
        /// certificate is always verified.
        #[arg(long, value_name = "URL", env = "OTWATCH_STORE")]
        store: Option<String>,
        /// A file holding the PostgreSQL password (a mounted secret), for --store.
        #[arg(
            long,
            value_name = "FILE",
            env = "OTWATCH_STORE_PASSWORD_FILE",
            requires = "store"
        )]
        store_password_file: Option<PathBuf>,
        #[command(flatten)]
        retain: Retain,
    },
    /// Ask the manager serving this state directory whether it serves (gRPC health over TLS);
    /// exit status 0 when it does, 1 when not, with the reason on stderr. For probes
    /// (Kubernetes exec probe, the Ansible role's check after an upgrade).
    Health {
        #[command(flatten)]
        state: State,
        /// The gRPC service to ask about; empty for the server as a whole.
        #[arg(long, value_name = "NAME", default_value = otwatch_manager::health::MANAGER_SERVICE)]
        service: String,
        /// Seconds to wait for the connection and for the answer.
        #[arg(long, value_name = "SECS", default_value_t = 5)]
        timeout: u64,
    },
    /// A fleet on this machine: a manager and three sensors at two sites that enrol and replay
    /// the captures bundled in the repository over mutual TLS; then serves until Ctrl-C.
    Demo {
        /// Where the demo keeps the state of its manager and sensors and the admin's
        /// credentials, kept afterwards (default: a new temporary directory, removed when the
        /// demo ends).
        #[arg(long = "state", alias = "dir", value_name = "DIR")]
        state: Option<PathBuf>,
        /// Address the demo's manager listens on (default: a free port of 127.0.0.1).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        listen: String,
        /// The bundled captures.
        #[arg(long, value_name = "DIR", default_value = "tests/data")]
        captures: PathBuf,
        /// The sensor binary (default: next to this one, else on PATH).
        #[arg(long, value_name = "FILE")]
        sensor_bin: Option<PathBuf>,
        /// Exit once the sensors are done instead of serving until Ctrl-C.
        #[arg(long)]
        exit: bool,
    },
    /// Print the completion script of otwatch-manager for a shell (docs/CLI.md says where to
    /// put it).
    Completions(otwatch_common::cli::Completions),
    /// Print the man page of otwatch-manager (roff), or write one page per command with --dir.
    Man(otwatch_common::cli::Manual),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a one-time enrolment token for a site (through the running manager when it runs),
    /// for `otwatch-sensor enroll --enroll-token`.
    Create {
        #[command(flatten)]
        state: State,
        /// The site the sensor enrolling with the token belongs to (e.g. plant-a).
        #[arg(long, value_name = "NAME")]
        site: String,
        /// How long the token stays valid (30s, 15m, 24h, 7d).
        #[arg(long, default_value = "24h", value_parser = admin::parse_ttl)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum AdvisoriesCommand {
    /// Import CSAF 2.0 advisories (e.g. the CISA feed, cisagov/CSAF csaf_files/OT/white), CVE
    /// JSON 5 records and the CISA KEV catalog: files, or directories searched for *.json.
    /// Idempotent; a newer revision of an advisory replaces the older. Files that cannot be
    /// read are reported and skipped. While the manager serves DIR, through its API (it
    /// matches assets against them at once).
    Import {
        #[command(flatten)]
        state: State,
        /// Advisory files, or directories searched for *.json.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Write an operator's key.pem, cert.pem and ca.pem into --cred DIR (for `otwatch --cred
    /// DIR`), or with --auth-token print a bearer token instead (for scripts: `otwatch
    /// --auth-token`, grpcurl).
    Create {
        #[command(flatten)]
        state: State,
        /// The operator's name (e.g. alice), as the manager's log and alerts name them.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// What the operator may do: viewer reads; analyst also triages alerts and approves
        /// assets; admin also creates enrolment tokens and revokes sensors and operators.
        #[arg(long, value_name = "admin|analyst|viewer")]
        role: OperatorRole,
        /// The directory to write the credentials into (created), for `otwatch --cred DIR`.
        #[arg(
            long,
            alias = "out",
            value_name = "DIR",
            required_unless_present = "auth_token"
        )]
        cred: Option<PathBuf>,
        /// Print a bearer token for `otwatch --auth-token` instead of writing a certificate.
        #[arg(long, alias = "token", conflicts_with = "cred")]
        auth_token: bool,
        /// How long the bearer token stays valid (at most 365d).
        #[arg(long, default_value = "90d", value_parser = admin::parse_ttl, requires = "auth_token")]
        ttl: i64,
    },
    /// Refuse every certificate of an operator issued until now (through the running manager
    /// when it runs). Issue a new one later with `user create`.
    Revoke {
        #[command(flatten)]
        state: State,
        /// The operator's name, as given to `user create`.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli: Cli = match otwatch_common::exit::parse_args(exit_help()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let default_log = match cli.command {
        Command::Serve { .. } => "info",
        Command::Demo { .. } => "warn",
        _ => "warn",
    };
    otwatch_common::logging::init(default_log);
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", otwatch_common::error::one_line(e.as_ref()));
            // A bad argument, like every other refusal, leaves nothing done.
            ExitCode::from(otwatch_common::exit::FAILED.code)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init {
            state,
            sans,
            name,
            keep_existing,
            store,
        } => {
            if keep_existing
                && otwatch_manager::pki::DataDir(state.clone())
                    .ca_pem()
                    .exists()
            {
                println!("{} holds a CA already; nothing done", state.display());
                return Ok(());
            }
            let r = pki::init(&state, &sans, &name)?;
            println!("CA and server certificate written to {}", state.display());
            if let Some(url) = &store {
                // Never the password: only where the store is.
                let shown = otwatch_manager::store::PgStore::describe_url(url)?;
                let dir = otwatch_manager::pki::DataDir(state.clone());
                std::fs::write(dir.store(), format!("{shown}\n"))
                    .with_context(|| format!("cannot write {}", dir.store().display()))?;
                println!("fleet store: {shown} (start with `otwatch-manager serve --store URL`; tokens and users are made through the running manager)");
            }
            println!("server names: {}", r.sans.join(", "));
            println!("CA sha256: {}", hex(&r.ca_sha256));
            println!(
                "next: otwatch-manager token create --state {} --site SITE",
                state.display()
            );
        }
        Command::Health {
            state: State { dir: data },
            service,
            timeout,
        } => {
            let timeout = std::time::Duration::from_secs(timeout.max(1));
            block_on(otwatch_manager::health::check(&data, &service, timeout))??;
            println!("serving");
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    state: State { dir: data },
                    site,
                    ttl,
                },
        } => {
            let t = here_or_via_server(&data, admin::create_token_in(&data, &site, ttl), || {
                admin::create_token_via_server(&data, &site, ttl)
            })?;
            eprintln!(
                "one-time token for site {} (expires {}); enrol with: otwatch-sensor enroll --manager URL --enroll-token TOKEN",
                t.site, t.expires_at
            );
            println!("{}", t.token);
        }
        Command::User {
            command:
                UserCommand::Create {
                    state: State { dir: data },
                    name,
                    role,
                    cred,
                    ttl,
                    ..
                },
        } => match cred {
            None => {
                let t = here_or_via_server(
                    &data,
                    admin::create_operator_token_in(&data, &name, role, ttl),
                    || admin::create_operator_token_via_server(&data, &name, role, ttl),
                )?;
                eprintln!(
                    "bearer token for {} ({}), valid until {}; use: otwatch --ca {} --auth-token TOKEN, or the header `authorization: Bearer TOKEN`",
                    t.name,
                    t.role.as_str(),
                    t.expires_at,
                    otwatch_manager::pki::DataDir(data.clone()).ca_pem().display()
                );
                println!("{}", t.token);
            }
            Some(out) => {
                let not_after = admin::create_user(&data, &name, role, &out)?;
                println!(
                    "{} ({}) credentials written to {} (valid until {not_after}); use: otwatch --cred {}",
                    name,
                    role.as_str(),
                    out.display(),
                    out.display()
                );
            }
        },
        Command::User {
            command:
                UserCommand::Revoke {
                    state: State { dir: data },
                    name,
                },
        } => {
            let at = here_or_via_server(&data, admin::revoke_user_in(&data, &name), || {
                admin::revoke_user_via_server(&data, &name)
            })?;
            println!("every certificate of {name} issued until {at} is refused from now on");
        }
        Command::Advisories {
            command:
                AdvisoriesCommand::Import {
                    state: State { dir: data },
                    paths,
                },
        } => {
            let started = std::time::Instant::now();
            let r = match otwatch_manager::advisories::import_in(&data, &paths) {
                // A manager serves this directory: through its API, as a local admin.
                Err(otwatch_manager::advisories::ImportError::Running(_)) => {
                    let (r, loaded) = block_on(async {
                        let mut c = admin::local_admin(&data).await?;
                        anyhow::Ok(otwatch_manager::advisories::import_via(&mut c, &paths).await?)
                    })??;
                    println!("the running manager now matches assets against {loaded} advisories");
                    r
                }
                r => r?,
            };
            for skipped in &r.skipped {
                eprintln!("warning: advisory file skipped: {skipped}");
            }
            println!(
                "advisories imported into {} in {:.1} s: {} read, {} added, {} replaced, {} unchanged, {} KEV catalogs, {} skipped",
                data.display(),
                started.elapsed().as_secs_f64(),
                r.documents,
                r.added,
                r.replaced,
                r.unchanged,
                r.kev_catalogs,
                r.skipped.len()
            );
        }
        Command::Demo {
            state: dir,
            listen,
            captures,
            sensor_bin,
            exit,
        } => {
            // A directory the user named is kept; the default one is the demo's own and goes
            // when it ends, however it ends.
            let temporary = dir.is_none();
            let dir = match dir {
                Some(d) => d,
                None => tempfile_dir()?,
            };
            let o = otwatch_manager::demo::DemoOptions {
                dir: dir.clone(),
                listen,
                captures,
                sensor_bin: sensor_bin.unwrap_or_else(otwatch_manager::demo::find_sensor_bin),
                exit,
            };
            let r = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("tokio runtime")?
                .block_on(otwatch_manager::demo::run(&o));
            if temporary {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    eprintln!("warning: cannot remove {}: {e}", dir.display());
                }
            }
            r?;
        }
        Command::Serve {
            state: State { dir: data },
            listen,
            quota_assets_per_sensor,
            quota_connections_per_sensor,
            quota_alerts_per_sensor,
            forwarding,
            playbooks,
            store,
            store_password_file,
            retain,
        } => {
            let password = match &store_password_file {
                Some(f) => Some(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("--store-password-file {}", f.display()))?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                None => None,
            };
            let settings = serve::Settings {
                store: store.map(|url| serve::StoreUrl { url, password }),
                quotas: Quotas {
                    assets_per_sensor: quota_assets_per_sensor,
                    connections_per_sensor: quota_connections_per_sensor,
                    alerts_per_sensor: quota_alerts_per_sensor,
                },
                forwarding,
                playbooks,
                retention: retain.settings(),
                ..Default::default()
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("tokio runtime")?;
            rt.block_on(async {
                let mut m = serve::start_with(&data, &listen, &settings).await?;
                println!("listening on {}", m.addr);
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    r = tokio::signal::ctrl_c() => r?,
                    _ = term.recv() => {}
                    // The server failed (it does not end on its own otherwise).
                    r = m.failed() => return Err(anyhow::Error::from(r)),
                }
                tracing::info!("stopping");
                m.stop().await?;
                anyhow::Ok(())
            })?;
        }
        Command::Completions(c) => {
            let _ = std::io::stdout().write_all(&c.script(command()));
        }
        Command::Man(m) => {
            let (page, written) = m.render(command())?;
            let _ = std::io::stdout().write_all(&page);
            if let Some(dir) = &m.dir {
                eprintln!("{} man pages written to {}", written.len(), dir.display());
            }
        }
    }
    Ok(())
}

/// The exit statuses the manager's commands give: each does what it is asked or nothing (no
/// partial result).
fn exit_help() -> String {
    otwatch_common::exit::help(&otwatch_common::exit::COMMON[..2])
}

/// The command tree as `main` parses it: what the completion script and man pages describe.
fn command() -> clap::Command {
    otwatch_common::exit::command::<Cli>(exit_help())
}

/// What an admin action done on the stopped manager's store (`here`) gave, unless the store is
/// locked by a manager serving this state directory: then the action `via_server` through it.
fn here_or_via_server<T, F: std::future::Future<Output = Result<T, admin::AdminError>>>(
    data: &std::path::Path,
    here: Result<T, admin::AdminError>,
    via_server: impl FnOnce() -> F,
) -> anyhow::Result<T> {
    match here {
        Err(e) if store_locked(&e, data) => Ok(block_on(via_server())??),
        r => Ok(r?),
    }
}

/// Whether `e` says the store is locked by a manager serving this data directory (then the
/// command goes through that manager's API).
fn store_locked(e: &admin::AdminError, data: &std::path::Path) -> bool {
    matches!(
        e,
        admin::AdminError::Store(otwatch_manager::store::StoreError::Open { .. })
    ) && otwatch_manager::pki::DataDir(data.to_path_buf())
        .serving()
        .exists()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?
        .block_on(f))
}

/// A new directory under the system temp dir for the demo (kept after it ends).
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("otwatch-demo-{}", std::process::id()));
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_complete_and_documented() {
        otwatch_common::cli::assert_complete(Cli::command(), include_str!("../../docs/CLI.md"));
    }
}
