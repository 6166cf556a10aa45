//! `otwatch playbooks`: the playbooks in force with their queues, and the run log.

use super::{emit, report_json, to_json, Client, Format};
use otwatch_proto::v1::{ListPlaybookRunsRequest, ListPlaybooksRequest};
use serde_json::{json, Value};
use std::io::Write;

#[derive(clap::Subcommand, Debug)]
pub enum PlaybookAction {
    /// The playbooks (filter, dry run, actions) with their queues: alerts waiting, ran,
    /// failed attempts, given up, last error (the default).
    List,
    /// The run log, newest first: every attempt, each action's outcome.
    Runs {
        /// Only this playbook's runs.
        #[arg(long)]
        playbook: Option<String>,
        /// Only runs on this alert (`<sensor>/<alert id>`, from `otwatch alerts`).
        #[arg(long)]
        alert: Option<String>,
        /// At most this many (up to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// Runs `otwatch playbooks [ACTION]`.
pub async fn run(
    c: &mut Client,
    action: Option<PlaybookAction>,
    fmt: Format,
    out: &mut dyn Write,
    status_err: impl Fn(tonic::Status) -> anyhow::Error,
) -> anyhow::Result<()> {
    match action.unwrap_or(PlaybookAction::List) {
        PlaybookAction::List => {
            let r = c
                .list_playbooks(ListPlaybooksRequest {})
                .await
                .map_err(status_err)?
                .into_inner();
            if fmt == Format::Json {
                let v = json!({
                    "file": r.file,
                    "playbooks": r.playbooks.iter().map(report_json).collect::<Vec<_>>(),
                });
                return Ok(writeln!(out, "{}", to_json(&v)?)?);
            }
            if r.file.is_empty() {
                writeln!(
                    out,
                    "no playbooks: write playbooks.toml in the manager's state directory (docs/PLAYBOOKS.md) and restart it"
                )?;
                return Ok(());
            }
            writeln!(out, "playbook file: {}", r.file)?;
            let rows: Vec<Value> = r
                .playbooks
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name,
                        "kinds": if p.kinds.is_empty() { "*".to_string() } else { p.kinds.join(",") },
                        "min_severity": p.min_severity,
                        "sites": if p.sites.is_empty() { "*".to_string() } else { p.sites.join(",") },
                        "mode": if p.dry_run { "dry run" } else { "live" },
                        "actions": p.actions.iter().map(|a| a.split(' ').next().unwrap_or_default()).collect::<Vec<_>>().join(","),
                        "queued": p.queued, "ran": p.ran, "failures": p.failures,
                        "given_up": p.given_up, "overflowed": p.overflowed,
                        "last_ran_at": p.last_ran_at, "last_error": p.last_error,
                    })
                })
                .collect();
            emit(
                out,
                fmt,
                rows,
                &[
                    "name",
                    "kinds",
                    "min_severity",
                    "sites",
                    "mode",
                    "actions",
                    "queued",
                    "ran",
                    "failures",
                    "given_up",
                    "overflowed",
                    "last_ran_at",
                    "last_error",
                ],
            )
        }
        PlaybookAction::Runs {
            playbook,
            alert,
            limit,
        } => {
            let r = c
                .list_playbook_runs(ListPlaybookRunsRequest {
                    playbook: playbook.unwrap_or_default(),
                    alert: alert.unwrap_or_default(),
                    limit,
                })
                .await
                .map_err(status_err)?
                .into_inner();
            let rows = r
                .runs
                .iter()
                .map(|x| match fmt {
                    Format::Json => report_json(x),
                    Format::Table => {
                        let outcome = if x.dry_run {
                            "dry run"
                        } else if x.ok {
                            "ok"
                        } else {
                            "failed"
                        };
                        let failed = x.actions.iter().find(|a| !a.error.is_empty());
                        json!({
                            "started_at": x.started_at, "playbook": x.playbook,
                            "alert": x.alert_id, "attempt": x.attempt, "outcome": outcome,
                            "actions": x.actions.iter().map(|a| a.action.as_str()).collect::<Vec<_>>().join(","),
                            "error": failed.map(|a| format!("{}: {}", a.action, a.error)).unwrap_or_default(),
                        })
                    }
                })
                .collect();
            emit(
                out,
                fmt,
                rows,
                &[
                    "started_at",
                    "playbook",
                    "alert",
                    "attempt",
                    "outcome",
                    "actions",
                    "error",
                ],
            )
        }
    }
}
