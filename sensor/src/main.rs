//! `otwatch-sensor`: argument parsing only; the work happens in the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use otwatch_sensor::output;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "otwatch-sensor",
    version,
    about = "otwatch sensor: passive OT/IoT network monitoring",
    after_help = "Exit status: 0 success; 1 error (nothing written); 2 some input was corrupt or \
                  truncated (the inventory of everything readable was written, the errors are on stderr)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap, pcapng) and print the asset inventory.
    Analyze {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write the report here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Keep the inventory in this directory (sled) and continue what is there.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Capture files, analysed in the order given as one continuous capture.
        #[arg(value_name = "PCAP", required = true)]
        inputs: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Table,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OTWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze {
            format,
            out,
            state,
            quiet,
            inputs,
        } => {
            let outcome = analyze(&AnalyzeOptions {
                inputs,
                state,
                progress: !quiet,
            })?;
            let text = match format {
                Format::Json => output::to_json(&outcome.report),
                Format::Table => output::to_table(&outcome.report),
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => {
                    let mut stdout = std::io::stdout().lock();
                    // A closed pipe (`| head`) is not an error worth reporting.
                    let _ = stdout.write_all(text.as_bytes());
                }
            }
            for e in &outcome.capture_errors {
                eprintln!("error: {e}");
            }
            Ok(if outcome.capture_errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}
