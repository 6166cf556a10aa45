//! `otwatch forwards`: the forwarding destinations with their queues, the rules, and changes to
//! them (admin).

use super::{emit, report_json, to_json, Client, Format};
use otwatch_proto::v1::{
    AddForwardsRequest, ListDeadLettersRequest, ListForwardsRequest, ListForwardsResponse,
    RemoveForwardRequest, TestForwardRequest,
};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum ForwardAction {
    /// The destinations with their queues (waiting, delivered, overflowed, dead letters,
    /// failures, oldest waiting age, last error) and the rules (the default).
    List,
    /// Add the [[destination]] and [[rule]] tables of a TOML file to the manager's forwarding
    /// file and put them in force (refused whole, with file, line and reason).
    Add {
        /// The TOML file.
        file: PathBuf,
    },
    /// Remove a rule, or a destination no rule sends to (its waiting events stay queued).
    Remove {
        /// The rule's or destination's name.
        name: String,
    },
    /// The events a destination refused for good (HTTP 400, 413, 415, 422), oldest first,
    /// with the destination's answer.
    DeadLetters {
        /// The destination's name.
        destination: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Send a test event to a destination through its queue; fails when it was not delivered
    /// within 10 s.
    Test {
        /// The destination's name.
        destination: String,
    },
}

fn show(out: &mut dyn Write, fmt: Format, r: &ListForwardsResponse) -> anyhow::Result<()> {
    if fmt == Format::Json {
        let v = json!({
            "file": r.file,
            "destinations": r.destinations.iter().map(report_json).collect::<Vec<_>>(),
            "rules": r.rules.iter().map(report_json).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", to_json(&v)?)?;
        return Ok(());
    }
    writeln!(out, "forwarding file: {}", r.file)?;
    let dests: Vec<Value> = r
        .destinations
        .iter()
        .map(|d| {
            json!({
                "name": d.name, "type": d.r#type, "target": d.target, "queued": d.queued,
                "delivered": d.delivered, "overflowed": d.overflowed, "dead": d.dead,
                "expired": d.expired,
                "failures": d.failures, "oldest_age_s": d.oldest_age_seconds,
                "last_error": d.last_error,
            })
        })
        .collect();
    emit(
        out,
        fmt,
        dests,
        &[
            "name",
            "type",
            "target",
            "queued",
            "delivered",
            "overflowed",
            "dead",
            "expired",
            "failures",
            "oldest_age_s",
            "last_error",
        ],
    )?;
    writeln!(out)?;
    let rules: Vec<Value> = r
        .rules
        .iter()
        .map(|x| {
            json!({
                "rule": x.name, "destination": x.destination, "events": x.events.join(","),
                "kinds": x.kinds.join(","), "min_severity": x.min_severity,
                "sites": x.sites.join(","), "defined_at": x.defined_at,
            })
        })
        .collect();
    emit(
        out,
        fmt,
        rules,
        &[
            "rule",
            "destination",
            "events",
            "kinds",
            "min_severity",
            "sites",
            "defined_at",
        ],
    )
}

/// Runs `otwatch forwards [ACTION]`.
pub async fn run(
    c: &mut Client,
    action: Option<ForwardAction>,
    fmt: Format,
    out: &mut dyn Write,
    status_err: impl Fn(tonic::Status) -> anyhow::Error,
) -> anyhow::Result<()> {
    match action.unwrap_or(ForwardAction::List) {
        ForwardAction::List => {
            let r = c
                .list_forwards(ListForwardsRequest {})
                .await
                .map_err(status_err)?
                .into_inner();
            show(out, fmt, &r)
        }
        ForwardAction::Add { file } => {
            let toml = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let r = c
                .add_forwards(AddForwardsRequest {
                    toml,
                    file_name: file.display().to_string(),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            show(out, fmt, &r)
        }
        ForwardAction::Remove { name } => {
            let r = c
                .remove_forward(RemoveForwardRequest { name })
                .await
                .map_err(status_err)?
                .into_inner();
            show(out, fmt, &r)
        }
        ForwardAction::DeadLetters { destination, limit } => {
            let r = c
                .list_dead_letters(ListDeadLettersRequest { destination, limit })
                .await
                .map_err(status_err)?
                .into_inner();
            let rows = r
                .dead_letters
                .iter()
                .map(|d| match fmt {
                    Format::Json => json!({
                        "destination": d.destination, "at": d.at, "reason": d.reason,
                        "event_id": d.event_id,
                        "event": serde_json::from_str::<Value>(&d.event_json).unwrap_or_default(),
                    }),
                    Format::Table => json!({
                        "at": d.at, "event_id": d.event_id, "reason": d.reason,
                    }),
                })
                .collect();
            emit(out, fmt, rows, &["at", "event_id", "reason"])
        }
        ForwardAction::Test { destination } => {
            let r = c
                .test_forward(TestForwardRequest {
                    destination: destination.clone(),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            match fmt {
                Format::Json => writeln!(out, "{}", to_json(&report_json(&r))?)?,
                Format::Table if r.delivered => {
                    writeln!(out, "test event {} delivered to {destination}", r.event_id)?
                }
                Format::Table => {}
            }
            if !r.delivered {
                anyhow::bail!(
                    "the test event {} was not delivered to {destination}: {}",
                    r.event_id,
                    r.error
                );
            }
            Ok(())
        }
    }
}
