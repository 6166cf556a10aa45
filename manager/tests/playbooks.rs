//! Playbooks end to end, in a manager that reads `playbooks.toml`: a sensor raises alerts, and
//! - a live playbook runs on the alerts its filter selects, in order: a signed webhook (the
//!   receiver checks the signature), an email over STARTTLS with AUTH to a real SMTP server
//!   (aiosmtpd), a ticket file, the alert acknowledged as `playbook:<name>`, tags on the asset
//!   (shown with the fleet asset, kept across a restart);
//! - its own change of state starts no second run; an alert below its filter starts none;
//! - a dry-run playbook logs its rendered actions and does nothing;
//! - a failing action is tried again (a flaky receiver succeeds on the third attempt), and a
//!   playbook that keeps failing gives the alert up after max_attempts (a dead letter), its
//!   later actions never run;
//! - every run is in the log (`ListPlaybookRuns`, `otwatch playbooks runs`), the queues'
//!   counters in `ListPlaybooks` and `otwatch playbooks`; a viewer is refused;
//! - a bad playbook file stops `otwatch-manager serve` with the file, the line and the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use common::fleet::{serve_refuses, Fleet, CLI};
use common::receiver::{Handler, Receiver, Request};
use common::{skip, Fixture};
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "hook-key";

/// An alert of `kind` and `severity` about the S7-300 of the tests.
fn alert(seq: u64, id: &str, kind: &str, severity: &str) -> Delta {
    let mut d = common::alert(seq, id);
    if let Some(delta::Change::Alert(a)) = d.change.as_mut() {
        a.kind = kind.into();
        a.severity = severity.into();
        a.title = format!("{kind} on the S7-300");
        a.src = "10.77.2.10".into();
        a.dst = "10.77.2.22".into();
        a.asset = "mac:02:4d:00:00:02:16".into();
    }
    d
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}\n--- manager log ---\n{}", common::logs());
}

/// Whether `r` carries a valid signature of its body.
fn signed(r: &Request) -> bool {
    let (Some(ts), Some(sig)) = (
        r.headers.get("x-otwatch-timestamp"),
        r.headers.get("x-otwatch-signature"),
    ) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY.as_bytes());
    *sig == otwatch_manager::forward::sinks::webhook_signature(&key, ts, &r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbooks_run_on_alerts_retry_log_and_change_the_fleet() {
    if !smtp::available() {
        skip::skip(
            "python3 with aiosmtpd is missing (pip install -r tests/peers/requirements.txt)",
            skip::Need::InCi,
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = smtp::Smtp::start(dir.path());
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let calls = flaky_calls.clone();
    // /hook takes signed requests only; /flaky is down (503) twice, then takes; /down never.
    let hook = Receiver::start(Arc::new(move |r: &Request| -> (u16, String) {
        match r.path.as_str() {
            "/hook" if signed(r) => (200, "{}".into()),
            "/hook" => (401, "{\"error\":\"bad signature\"}".into()),
            "/flaky" if calls.fetch_add(1, Ordering::SeqCst) < 2 => (503, "{}".into()),
            "/flaky" => (200, "{}".into()),
            _ => (500, "{\"error\":\"down\"}".into()),
        }
    }) as Handler)
    .await;
    let tickets = dir.path().join("tickets");
    let dry_tickets = dir.path().join("dry-tickets");
    std::fs::write(dir.path().join("hook.key"), format!("{KEY}\n")).unwrap();
    std::fs::write(dir.path().join("smtp.password"), "s3cret\n").unwrap();
    let file = dir.path().join("playbooks.toml");
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(
        &file,
        format!(
            r#"
[[playbook]]
name = "plc-stop"
kinds = ["plc_stop"]
min_severity = "high"
retry_min_ms = 50
retry_max_ms = 200

[[playbook.action]]
type = "webhook"
url = "{hook}"
secret_file = "{hook_key}"

[[playbook.action]]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
ca = "{smtp_ca}"
server_name = "localhost"
auth = "plain"
username = "otwatch"
password_file = "{smtp_password}"
from = "otwatch@example.org"
to = ["soc@example.org"]
subject = "[{{{{alert.severity}}}}] {{{{alert.title}}}} at {{{{site}}}}"
body = "Alert {{{{alert.id}}}} from {{{{alert.src}}}} to {{{{alert.dst}}}}."

[[playbook.action]]
type = "ticket"
dir = "{tickets}"
fields = {{ title = "{{{{alert.title}}}}", priority = "{{{{alert.severity}}}}", asset = "{{{{asset.id}}}}" }}

[[playbook.action]]
type = "set_status"
status = "acknowledged"
comment = "ticket opened by {{{{playbook}}}}"

[[playbook.action]]
type = "tag_asset"
tags = ["incident", "{{{{alert.kind}}}}"]

[[playbook]]
name = "dry"
kinds = ["rule:*"]
dry_run = true

[[playbook.action]]
type = "ticket"
dir = "{dry_tickets}"
fields = {{ title = "{{{{alert.title}}}}" }}

[[playbook.action]]
type = "set_status"
status = "resolved"

[[playbook]]
name = "flaky"
kinds = ["port_scan"]
max_attempts = 3
retry_min_ms = 50
retry_max_ms = 100

[[playbook.action]]
type = "webhook"
url = "{flaky}"

[[playbook]]
name = "broken"
kinds = ["port_scan"]
max_attempts = 2
retry_min_ms = 50
retry_max_ms = 100

[[playbook.action]]
type = "webhook"
url = "{down}"

[[playbook.action]]
type = "ticket"
dir = "{tickets}"
fields = {{ never = "runs" }}
"#,
            hook = hook.url("/hook"),
            hook_key = p("hook.key"),
            smtp_port = mail.port,
            smtp_ca = p("smtp-ca.pem"),
            smtp_password = p("smtp.password"),
            tickets = tickets.display(),
            dry_tickets = dry_tickets.display(),
            flaky = hook.url("/flaky"),
            down = hook.url("/down"),
        ),
    )
    .unwrap();
    let mut fx = Fixture::start().await;
    fx.settings.playbooks = Some(file.clone());
    fx.restart_same_port().await;

    let mut c = common::sensor_at(&fx, "plant-p").await;
    let batch = vec![
        common::s7_300_at_level_1(1),
        alert(2, "a1", "plc_stop", "critical"),
        alert(3, "a2", "plc_stop", "low"),
        alert(4, "r1", "rule:write-outside-window", "high"),
        alert(5, "p1", "port_scan", "medium"),
    ];
    common::sync(&mut c, vec![batch]).await.unwrap();
    let store = fx.mgr.as_ref().unwrap().shared.store.clone();
    let sensor = store.sensors().unwrap()[0].id.clone();
    let runs = |pb: &str| store.playbook_runs(Some(pb), None, 100).unwrap();

    until("every playbook is done", || {
        runs("plc-stop").len() == 1
            && runs("dry").len() == 1
            && runs("flaky").iter().any(|r| r.ok)
            && runs("broken").len() == 2
            && store
                .forward_stats()
                .unwrap()
                .iter()
                .filter(|(n, _)| n.starts_with("playbook:"))
                .all(|(_, s)| s.queued == 0)
    })
    .await;

    // The live playbook: each action did its part.
    let run = &runs("plc-stop")[0];
    assert!(run.ok && !run.dry_run && run.attempt == 1, "{run:?}");
    assert_eq!(run.alert_id, format!("{sensor}/a1"));
    let kinds: Vec<&str> = run.actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        kinds,
        ["webhook", "email", "ticket", "set_status", "tag_asset"]
    );
    let hooks: Vec<Request> = hook
        .taken()
        .into_iter()
        .filter(|r| r.path == "/hook")
        .collect();
    assert_eq!(hooks.len(), 1, "one webhook call");
    assert!(signed(&hooks[0]));
    let events: serde_json::Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(events[0]["alert_id"], format!("{sensor}/a1"));
    assert_eq!(events[0]["kind"], "plc_stop");

    let mails = mail.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["login"], serde_json::json!(["PLAIN", "otwatch"]));
    let content = mails[0]["content"].as_str().unwrap();
    assert!(
        content.contains("Subject: [critical] plc_stop on the S7-300 at plant-p"),
        "{content}"
    );
    assert!(
        content.contains(&format!("Alert {sensor}/a1 from 10.77.2.10 to 10.77.2.22.")),
        "{content}"
    );
    assert!(
        content.contains(&format!("Message-ID: <{}@otwatch>", run.run_id)),
        "{content}"
    );

    let ticket: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tickets.join(format!("{}.json", run.run_id))).unwrap(),
    )
    .unwrap();
    assert_eq!(ticket["title"], "plc_stop on the S7-300");
    assert_eq!(ticket["priority"], "critical");
    assert_eq!(ticket["asset"], format!("{sensor}/mac:02:4d:00:00:02:16"));
    assert_eq!(ticket["playbook"], "plc-stop");
    assert_eq!(
        std::fs::read_dir(&tickets).unwrap().count(),
        1,
        "only the live playbook wrote a ticket (broken's never ran)"
    );
    assert!(!dry_tickets.exists(), "a dry run writes nothing");

    let mut op = fx.operator("ana", OperatorRole::Analyst).await;
    let get = |id: &str| GetAlertRequest {
        id: format!("{sensor}/{id}"),
    };
    let a1 = op.get_alert(get("a1")).await.unwrap().into_inner();
    assert_eq!(a1.state, "acknowledged");
    assert_eq!(a1.updated_by, "playbook:plc-stop");
    for id in ["a2", "r1", "p1"] {
        let a = op.get_alert(get(id)).await.unwrap().into_inner();
        assert_eq!(a.state, "new", "{id}: no live playbook changed it");
    }
    // The asset carries the tags.
    let assets = op
        .list_assets(ListAssetsRequest {
            site: "plant-p".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .assets;
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].tags, ["incident", "plc_stop"]);
    // And are found by them.
    for (tag, n) in [("incident", 1), ("incid", 0), ("nope", 0)] {
        let found = op
            .list_assets(ListAssetsRequest {
                tag: tag.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (found.assets.len(), found.total),
            (n, n as u64),
            "tag {tag}"
        );
    }

    // The dry run logged what it would do.
    let dry = &runs("dry")[0];
    assert!(dry.ok && dry.dry_run, "{dry:?}");
    assert!(
        dry.actions[0].detail.starts_with("dry run: would ticket"),
        "{dry:?}"
    );
    assert!(
        dry.actions[1]
            .detail
            .contains(&format!("set the alert {sensor}/r1 resolved")),
        "{dry:?}"
    );
    common::expect_log(&["playbook=dry", "dry run: would ticket"]).await;

    // Flaky: failed twice, then ran; broken: failed max_attempts times, then given up.
    let mut flaky = runs("flaky");
    flaky.sort_by_key(|r| r.attempt);
    let outcome: Vec<(u32, bool)> = flaky.iter().map(|r| (r.attempt, r.ok)).collect();
    assert_eq!(outcome, [(1, false), (2, false), (3, true)]);
    assert!(flaky[0].actions[0].error.contains("503"), "{flaky:?}");
    assert_eq!(flaky_calls.load(Ordering::SeqCst), 3);
    let broken = runs("broken");
    assert!(
        broken.iter().all(|r| !r.ok && r.actions.len() == 1),
        "{broken:?}"
    );
    let dead = store.forward_dead_letters("playbook:broken", 10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event.alert_id, format!("{sensor}/p1"));
    assert!(dead[0].reason.starts_with("failed 2 times"), "{dead:?}");

    // The API's view of the playbooks.
    let list = op
        .list_playbooks(ListPlaybooksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.file, file.display().to_string());
    let by: std::collections::HashMap<&str, &otwatch_proto::v1::Playbook> = list
        .playbooks
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let pb = by["plc-stop"];
    assert_eq!((pb.ran, pb.failures, pb.given_up, pb.queued), (1, 0, 0, 0));
    assert_eq!(
        pb.actions[0],
        format!("webhook POST to {}", hook.url("/hook"))
    );
    assert_eq!(pb.defined_at, format!("{}:2", file.display()));
    assert_eq!((by["flaky"].ran, by["flaky"].failures), (1, 2));
    assert_eq!((by["broken"].ran, by["broken"].given_up), (0, 1));
    assert!(
        by["broken"].last_error.contains("500"),
        "{:?}",
        by["broken"]
    );
    let for_p1 = op
        .list_playbook_runs(ListPlaybookRunsRequest {
            alert: format!("{sensor}/p1"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .runs;
    assert_eq!(for_p1.len(), 5, "flaky's three and broken's two");

    // The CLI, as a user runs it.
    let cred = fx.operator_creds("cli", OperatorRole::Analyst);
    let cli = |args: &[&str]| {
        let o = Command::new(CLI)
            .args(["--manager", &fx.url(), "--cred"])
            .arg(&cred)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let table = cli(&["playbooks"]);
    for needle in [
        "plc-stop",
        "dry run",
        "webhook,email,ticket,set_status,tag_asset",
    ] {
        assert!(table.contains(needle), "{needle} not in\n{table}");
    }
    let json: serde_json::Value = serde_json::from_str(&cli(&[
        "--format",
        "json",
        "playbooks",
        "runs",
        "--playbook",
        "flaky",
    ]))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3, "{json}");
    let table = cli(&["playbooks", "runs", "--playbook", "broken"]);
    assert!(
        table.contains("webhook: ") && table.contains("failed"),
        "{table}"
    );
    let assets = cli(&["assets", "--site", "plant-p"]);
    assert!(assets.contains("incident"), "{assets}");
    let tagged = cli(&["--format", "json", "assets", "--tag", "plc_stop"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&tagged).unwrap()[0]["tags"],
        serde_json::json!(["incident", "plc_stop"]),
        "{tagged}"
    );

    // A viewer may not see the playbooks.
    let mut viewer = fx.operator("vic", OperatorRole::Viewer).await;
    let e = viewer
        .list_playbooks(ListPlaybooksRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e}");

    // After a restart: no run again, the tags are still there.
    drop(store);
    fx.restart_same_port().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = fx.mgr.as_ref().unwrap().shared.store.clone();
    assert_eq!(
        store.playbook_runs(None, None, 100).unwrap().len(),
        1 + 1 + 3 + 2
    );
    let mut op = fx.operator("ana2", OperatorRole::Analyst).await;
    let assets = op
        .list_assets(ListAssetsRequest {
            site: "plant-p".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .assets;
    assert_eq!(assets[0].tags, ["incident", "plc_stop"]);
}

#[test]
fn a_bad_playbook_file_stops_the_manager_with_file_line_and_reason() {
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("playbooks.toml");
    std::fs::write(
        &bad,
        "[[playbook]]\nname = \"pb\"\n\n[[playbook.action]]\ntype = \"set_status\"\nstatus = \"closed\"\n",
    )
    .unwrap();
    let err = serve_refuses(&fleet.data(), "--playbooks", &bad);
    assert!(
        err.contains(&format!(
            "playbook file refused: {}:4: playbook \"pb\" action 1: status \"closed\"",
            bad.display()
        )),
        "{err}"
    );
}
