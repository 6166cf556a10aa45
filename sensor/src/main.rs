//! `otwatch-sensor`: argument parsing only; the work happens in the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use otwatch_sensor::analyze::{analyze, AnalyzeError, AnalyzeOptions};
use otwatch_sensor::capture::live::CaptureMode;
use otwatch_sensor::capture::CaptureError;
use otwatch_sensor::config::SensorConfig;
use otwatch_sensor::exit;
use otwatch_sensor::output;
use otwatch_sensor::run::{self as live, InventorySource, RunError, RunOptions, Speed};
use otwatch_sensor::store::StoreError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "otwatch-sensor",
    version = otwatch_sensor::VERSION,
    about = "otwatch sensor: passive OT/IoT network monitoring"
)]
struct Cli {
    /// How `analyze` and `inventory` print the inventory: table (aligned columns for people,
    /// the default) or json (the proto3 JSON mapping, for scripts). Before or after the
    /// command; the other commands print text of their own and refuse it.
    #[arg(long, value_enum, value_name = "FORMAT", global = true)]
    format: Option<Format>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap, pcapng) and print the asset inventory.
    #[command(after_help = exit::analyze_help())]
    Analyze {
        /// Write the report to this file instead of standard output ("-": standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Keep the inventory in this directory (sled) and continue what is there.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Settings file (TOML, as for `run`): its [flow], [inventory] and [detect] sections
        /// apply.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        detect: DetectArgs,
        /// Security advisories to match the assets against: a CSAF 2.0 / CVE JSON 5 / CISA
        /// KEV file, or a directory searched for *.json (repeat for several). Each asset gets
        /// its `vulnerabilities`; files that cannot be read are reported and skipped.
        #[arg(long, value_name = "PATH")]
        advisories: Vec<PathBuf>,
        /// Capture files, analysed in the order given as one continuous capture.
        #[arg(value_name = "PCAP", required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Learn, check and export site policies (the baseline deviations are measured against).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Check analyst rule files (every error with its file and line).
    Rules {
        #[command(subcommand)]
        command: CheckCommand,
    },
    /// Check indicator-of-compromise files (STIX 2.1 bundles, CSV lists).
    Ioc {
        #[command(subcommand)]
        command: CheckCommand,
    },
    /// Capture live from mirror-port interfaces until SIGINT/SIGTERM, keeping the inventory
    /// in the state directory. Needs CAP_NET_RAW (af_packet) or CAP_NET_ADMIN+CAP_BPF (af_xdp).
    #[command(after_help = exit::run_help())]
    Run {
        /// Interface to listen on (repeat for several); adds to capture.interfaces.
        #[arg(long = "interface", short = 'i', value_name = "IF")]
        interfaces: Vec<String>,
        /// Capture backend: auto tries af_xdp and falls back to af_packet.
        #[arg(long, value_name = "auto|af_xdp|af_packet")]
        capture: Option<CaptureMode>,
        /// Settings file (TOML); see deploy/sensor.toml.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// State directory (sled store and inventory.json); overrides state.dir.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Worker threads (default: cores - 1).
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
        /// Serve Prometheus metrics at ADDR/metrics (e.g. 127.0.0.1:9187).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        /// Seconds between commits of the inventory.
        #[arg(long, value_name = "SECS")]
        commit_interval: Option<u64>,
        /// Replay these capture files instead of capturing on interfaces; at their end commit,
        /// wait for the manager to acknowledge everything, and exit.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        pcap: Vec<PathBuf>,
        /// Replay speed: max, realtime (paced by packet timestamps) or a factor such as 10x.
        #[arg(long, value_name = "max|realtime|Nx", default_value = "max")]
        speed: Speed,
        /// Send the inventory to this manager (https://HOST:PORT); default: the one enrolled
        /// with (no uplink when not enrolled). Overrides uplink.manager. Several replicas of
        /// one manager, comma-separated: the next is tried when one cannot be reached.
        #[arg(long, value_name = "URL")]
        manager: Option<String>,
        /// After a replay, or on SIGINT/SIGTERM of a live run, seconds to wait for the manager
        /// to acknowledge everything (the rest is sent by the next run).
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        drain_timeout: u64,
        /// With --pcap: once the manager acknowledged the replay, stay connected (online,
        /// heartbeating) until SIGINT/SIGTERM instead of exiting; prints "replay acknowledged"
        /// on stdout when there.
        #[arg(long, requires = "pcap")]
        stay: bool,
        #[command(flatten)]
        detect: DetectArgs,
        /// Learn the policy over this much capture time (30m, 12h, 7d), keep it in the state
        /// store, then protect with it; `policy export --state DIR` prints it.
        #[arg(long, value_name = "DURATION")]
        learn_for: Option<String>,
    },
    /// Enrol with a manager: make a key pair, get a certificate for it with a one-time
    /// enrolment token from `otwatch-manager token create` or `otwatch tokens create`, and keep
    /// both in STATE/uplink.
    #[command(after_help = exit::enroll_help())]
    Enroll {
        /// The manager's URL, https://HOST:PORT.
        #[arg(long, value_name = "URL")]
        manager: String,
        /// The one-time enrolment token the manager printed for this sensor's site (otwt1.…).
        #[arg(
            long,
            value_name = "TOKEN",
            visible_alias = "enrol-token",
            alias = "token",
            env = "OTWATCH_ENROLL_TOKEN",
            hide_env_values = true,
            required_unless_present_any = ["keep_existing", "enroll_token_file"]
        )]
        enroll_token: Option<String>,
        /// Read the token from this file instead (e.g. a Kubernetes Secret mounted with one key
        /// per node: /run/otwatch/enroll/$(NODE_NAME)).
        #[arg(long, value_name = "FILE", conflicts_with = "enroll_token")]
        enroll_token_file: Option<PathBuf>,
        /// State directory (as for `run`).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/otwatch/sensor")]
        state: PathBuf,
        /// When the state directory is enrolled already, say so and exit 0 without using the
        /// token (an init container or a script that runs before every start).
        #[arg(long)]
        keep_existing: bool,
    },
    /// Print the inventory kept in a state directory (works while `run` is running).
    #[command(after_help = exit::simple_help())]
    Inventory {
        /// The state directory of `run` or `analyze --state` (e.g. /var/lib/otwatch/sensor).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
    },
    /// Print the completion script of otwatch-sensor for a shell (docs/CLI.md says where to
    /// put it).
    #[command(after_help = exit::simple_help())]
    Completions(otwatch_common::cli::Completions),
    /// Print the man page of otwatch-sensor (roff), or write one page per command with --dir.
    #[command(after_help = exit::simple_help())]
    Man(otwatch_common::cli::Manual),
}

/// Detection inputs shared by analyze and run.
#[derive(clap::Args)]
struct DetectArgs {
    /// Protect with this policy (from `policy learn`): deviations from it become alerts.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Analyst rules: a directory of *.toml files, or one file (reloaded on SIGHUP by run).
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Indicators of compromise: a STIX 2.1 bundle or a CSV list (repeat for several).
    #[arg(long, value_name = "FILE")]
    ioc: Vec<PathBuf>,
    /// Inventory only: raise no alerts.
    #[arg(long, conflicts_with_all = ["policy", "rules", "ioc"])]
    no_detect: bool,
}

impl DetectArgs {
    fn apply(self, d: &mut otwatch_sensor::config::DetectSection) {
        if let Some(p) = self.policy {
            d.policy = Some(p);
        }
        if let Some(r) = self.rules {
            d.rules = Some(r);
        }
        d.ioc.extend(self.ioc);
        if self.no_detect {
            d.thresholds.enabled = false;
        }
    }
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Learn a policy from capture files of normal operation and write it as TOML.
    #[command(after_help = exit::common_help())]
    Learn {
        /// Write the policy to this file instead of standard output ("-": standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The site the policy is for, as the manager names it (a label kept in the file).
        #[arg(long, value_name = "NAME", default_value = "")]
        site: String,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Capture files of normal operation, read in the order given as one capture.
        #[arg(value_name = "PCAP", required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Print the policy a sensor learned live (`run --learn-for`).
    Export {
        /// The state directory of the `run` that learned it (e.g. /var/lib/otwatch/sensor).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
    },
    /// Validate a policy file; errors give the line.
    Check {
        /// The policy file (TOML, from `policy learn`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Validate the files; errors give the file and line.
    Check {
        /// The files to check: rule files or directories of them (every *.toml), indicator
        /// files (STIX 2.1 JSON, CSV).
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli: Cli = match otwatch_common::exit::parse_args(exit::help_all()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A running sensor says what it does (backend, fallbacks); one-shot commands stay quiet.
    let default_log = match cli.command {
        Command::Run { .. } => "info",
        _ => "warn",
    };
    otwatch_common::logging::init(default_log);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", otwatch_common::error::one_line(e.as_ref()));
            let code = failure_code(&e);
            if code == exit::NOT_STORED {
                eprintln!("free space there and run again; what the state held is kept, intact");
            } else if input_refused(&e) {
                eprintln!("nothing was done: correct or leave out that file and run again");
            }
            ExitCode::from(code)
        }
    }
}

/// Whether a command stopped because one of its capture files is not one (missing, a
/// directory, empty, not a capture) before it read any: then nothing was done.
fn input_refused(e: &anyhow::Error) -> bool {
    e.downcast_ref::<CaptureError>().is_some()
        || matches!(e.downcast_ref::<RunError>(), Some(RunError::Input(_)))
}

/// The exit status of a command that failed: [`exit::NOT_STORED`] when the state could not be
/// written for lack of space, else [`exit::FAILED`].
fn failure_code(e: &anyhow::Error) -> u8 {
    let full = |s: &StoreError| s.is_disk_full();
    let store = match e.downcast_ref::<RunError>() {
        Some(RunError::Store(s)) => Some(s),
        _ => match e.downcast_ref::<AnalyzeError>() {
            Some(AnalyzeError::Store(s)) => Some(s),
            _ => e.downcast_ref::<StoreError>(),
        },
    };
    let io_full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    });
    if store.is_some_and(full) || io_full {
        exit::NOT_STORED
    } else {
        exit::FAILED
    }
}

/// The inventory format of `analyze` and `inventory` (table when not given); any other
/// command refuses `--format` rather than ignore what the user asked for.
fn inventory_format(cli: &Cli) -> anyhow::Result<Format> {
    match (&cli.command, cli.format) {
        (Command::Analyze { .. } | Command::Inventory { .. }, f) => Ok(f.unwrap_or(Format::Table)),
        (_, None) => Ok(Format::Table),
        (_, Some(_)) => anyhow::bail!(
            "--format is for the commands that print an inventory (analyze, inventory); this one prints text of its own: leave --format out"
        ),
    }
}

/// Writes `text` to the file `out`, or to standard output without one or with "-".
fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out.filter(|p| *p != Path::new("-")) {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let format = inventory_format(&cli)?;
    match cli.command {
        Command::Analyze {
            out,
            state,
            quiet,
            config,
            detect,
            advisories,
            inputs,
        } => {
            // A file that is not a capture stops the command before anything is written.
            live::check_inputs(&inputs)?;
            let mut cfg = SensorConfig::load(config.as_deref())?;
            detect.apply(&mut cfg.detect);
            let outcome = analyze(&AnalyzeOptions {
                inputs,
                state,
                progress: !quiet,
                detect: Arc::new(cfg.detect.build()?),
                limits: cfg.limits()?,
                segments: cfg.capture.segment_map(true)?,
                advisories,
            })?;
            if let Some(loaded) = &outcome.advisories {
                for skipped in &loaded.skipped {
                    eprintln!("warning: advisory file skipped: {skipped}");
                }
                eprintln!("advisories: {loaded}");
            }
            let text = match format {
                Format::Json => output::to_json(&outcome.report),
                Format::Table => output::to_table(
                    &outcome.report,
                    out.as_deref().is_none_or(|p| p == Path::new("-")),
                ),
            };
            write_out(out.as_deref(), &text)?;
            for e in &outcome.capture_errors {
                eprintln!("error: {e}");
            }
            Ok(if outcome.capture_errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::INPUT_DAMAGED)
            })
        }
        Command::Run {
            interfaces,
            capture,
            config,
            state,
            workers,
            metrics,
            commit_interval,
            pcap,
            speed,
            manager,
            drain_timeout,
            stay,
            detect,
            learn_for,
        } => {
            let mut cfg = SensorConfig::load(config.as_deref())?;
            detect.apply(&mut cfg.detect);
            if let Some(l) = learn_for {
                cfg.detect.learn_for = Some(l);
            }
            cfg.capture.interfaces.extend(interfaces);
            if let Some(m) = capture {
                cfg.capture.mode = m;
            }
            if let Some(d) = state {
                cfg.state.dir = d;
            }
            if let Some(w) = workers {
                cfg.capture.workers = w;
            }
            if let Some(m) = metrics {
                cfg.metrics.listen = Some(m);
            }
            if let Some(s) = commit_interval {
                cfg.state.commit_interval_secs = s;
            }
            if let Some(m) = manager {
                cfg.uplink.manager = Some(m);
            }
            // SIGHUP reloads the rules and indicator files.
            let reload = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
                .context("cannot install signal handlers")?;
            let opts = RunOptions {
                pcap,
                speed,
                drain_timeout: std::time::Duration::from_secs(drain_timeout),
                reload: Some(reload),
                stay,
            };
            let shutdown = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                // A second signal while draining ends the process at once.
                signal_hook::flag::register_conditional_shutdown(sig, 130, shutdown.clone())
                    .context("cannot install signal handlers")?;
                signal_hook::flag::register(sig, shutdown.clone())
                    .context("cannot install signal handlers")?;
            }
            let replay = !opts.pcap.is_empty();
            let summary = live::run_with(&cfg, &opts, shutdown)?;
            explain_run(&summary);
            let code = ExitCode::from(summary.exit_code());
            if replay {
                eprintln!(
                    "replayed: {} packets, {} assets; state in {}",
                    summary.report.stats().packets,
                    summary.report.assets.len(),
                    cfg.state.dir.display()
                );
                return Ok(code);
            }
            let s = summary.report.stats();
            let drops: u64 = s
                .sources
                .iter()
                .map(|x| x.kernel_drops + x.rx_ring_full)
                .sum();
            eprintln!(
                "stopped: {} packets, {} dropped by the kernel, {} assets; state in {}",
                s.packets,
                drops,
                summary.report.assets.len(),
                cfg.state.dir.display()
            );
            Ok(code)
        }
        Command::Enroll {
            manager,
            enroll_token,
            enroll_token_file,
            state,
            keep_existing,
        } => {
            if keep_existing {
                if let Some(l) = otwatch_sensor::uplink::LinkInfo::load(&state)? {
                    println!(
                        "already enrolled as sensor {} of site {} with {}; nothing done",
                        l.sensor_id, l.site, l.manager
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let enroll_token = match (enroll_token, enroll_token_file) {
                (Some(t), _) => Some(t),
                (None, Some(f)) => Some(
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read the enrolment token from {}; make a token with `otwatch-manager token create` and put it there", f.display()))?
                        .trim()
                        .to_string(),
                ),
                (None, None) => None,
            };
            let Some(enroll_token) = enroll_token else {
                anyhow::bail!(
                    "{} is not enrolled yet: pass --enroll-token (or OTWATCH_ENROLL_TOKEN) with a token from `otwatch-manager token create`",
                    state.display()
                );
            };
            let info = otwatch_sensor::uplink::enroll::enroll(&manager, &enroll_token, &state)?;
            println!(
                "enrolled as sensor {} of site {} with {}; certificate valid until {}; keys in {}",
                info.sensor_id,
                info.site,
                info.manager,
                info.not_after,
                otwatch_sensor::uplink::uplink_dir(&state).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { command } => policy(command),
        Command::Rules {
            command: CheckCommand::Check { paths },
        } => {
            for p in &paths {
                let set = otwatch_sensor::detect::rules::RuleSet::load(p)?;
                println!(
                    "{}: ok, {} rule(s): {}",
                    p.display(),
                    set.rules.len(),
                    set.rules
                        .iter()
                        .map(|r| r.kind)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ioc {
            command: CheckCommand::Check { paths },
        } => {
            for p in &paths {
                let mut set = otwatch_sensor::detect::ioc::IocSet::default();
                set.load(p)?;
                println!(
                    "{}: ok, {} indicator value(s){}",
                    p.display(),
                    set.indicators.len(),
                    if set.skipped > 0 {
                        format!(
                            "; {} indicator(s) about other observables (file hashes, ...) skipped",
                            set.skipped
                        )
                    } else {
                        String::new()
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inventory { state } => {
            let (report, from) = live::read_inventory(&state)?;
            match &from {
                InventorySource::Store => {}
                InventorySource::Snapshot => eprintln!(
                    "note: a sensor is running on {}; this is its last commit",
                    state.display()
                ),
                InventorySource::SnapshotOfStore(why) => eprintln!(
                    "note: {why}; this is the inventory of its last commit ({})",
                    live::SNAPSHOT
                ),
            }
            let text = match format {
                Format::Json => output::to_json(&report),
                Format::Table => output::to_table(&report, true),
            };
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions(c) => {
            let script = c.script(command());
            let _ = std::io::stdout().lock().write_all(&script);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man(m) => {
            let (page, written) = m.render(command())?;
            let _ = std::io::stdout().lock().write_all(&page);
            if let Some(dir) = &m.dir {
                eprintln!("{} man pages written to {}", written.len(), dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The command tree as `main` parses it: what the completion script and man pages describe.
fn command() -> clap::Command {
    otwatch_common::exit::command::<Cli>(exit::help_all())
}

/// Says on stderr what keeps a run's exit status from 0.
fn explain_run(s: &live::RunSummary) {
    if let Some(e) = &s.store_error {
        eprintln!("error: the inventory of this run could not be stored: {e}; the store keeps its last commit");
    }
    if s.revoked {
        eprintln!("error: the manager revoked this sensor; what was not sent stays in the outbox (the log above says how to enrol again)");
    }
    if let Some((backlog, deferred)) = s.unacknowledged.filter(|(b, d)| b + d > 0) {
        eprintln!(
            "error: the manager did not acknowledge {backlog} delta(s){}; they stay in the outbox and the next run sends them",
            if deferred > 0 {
                format!(" and {deferred} more wait for room in the outbox")
            } else {
                String::new()
            }
        );
    }
    if s.interrupted {
        eprintln!(
            "error: interrupted before the end of the capture files; what was replayed is stored"
        );
    }
    if !s.input_errors.is_empty() {
        eprintln!(
            "error: {} capture file(s) were not captures, corrupt or truncated: {}; what came before the damage was replayed",
            s.input_errors.len(),
            s.input_errors.join("; ")
        );
    }
}

fn policy(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    use otwatch_sensor::detect::policy::Policy;
    match command {
        PolicyCommand::Learn {
            out,
            site,
            quiet,
            inputs,
        } => {
            live::check_inputs(&inputs)?;
            let outcome = analyze(&AnalyzeOptions {
                inputs,
                state: None,
                progress: !quiet,
                detect: Default::default(),
                limits: Default::default(),
                segments: Vec::new(),
                advisories: Vec::new(),
            })?;
            for e in &outcome.capture_errors {
                eprintln!("error: {e}");
            }
            let p = Policy::learn(&outcome.report, &site);
            let text = p.to_toml();
            write_out(out.as_deref(), &text)?;
            eprintln!(
                "learned {} assets, {} conversations and {} known alerts from {} packets ({} .. {}); review it, then protect with `otwatch-sensor analyze --policy {}` or `run --policy`",
                p.assets.len(),
                p.conversations.len(),
                p.allows.len(),
                outcome.report.stats().packets,
                p.learned_from,
                p.learned_until,
                out.as_ref()
                    .filter(|o| o.as_os_str() != "-")
                    .map_or("FILE".into(), |o| o.display().to_string())
            );
            Ok(if outcome.capture_errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::INPUT_DAMAGED)
            })
        }
        PolicyCommand::Export { state } => {
            let text = live::read_policy(&state)?;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check { file } => {
            let p = Policy::load(&file)?;
            println!(
                "{}: ok, {} assets, {} conversations, {} allowed alerts",
                file.display(),
                p.assets.len(),
                p.conversations.len(),
                p.allows.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
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
