//! `otwatch forwards` against the real binaries: an admin adds rules (a bad one refused with
//! its file, line and reason, nothing changed), tests a destination, sees its queue, removes
//! rules; other roles are refused; the manager refuses to start on a bad forwarding file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fleet::{serve_refuses, Fleet, CLI, MANAGER};
use common::receiver::{Handler, Receiver, Request};
use std::process::Command;
use std::sync::Arc;

fn otwatch(fleet: &Fleet, cred: &str, args: &[&str]) -> (bool, String, String) {
    let url = fleet.url();
    let mut full = vec!["--manager", &url, "--cred", cred];
    full.extend_from_slice(args);
    let o = Command::new(CLI).args(&full).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_add_test_list_remove_and_refusals() {
    // /bad refuses every request for good (a schema the receiver does not take).
    let hook = Receiver::start(Arc::new(|r: &Request| {
        if r.path == "/bad" {
            (400u16, "{\"error\":\"unknown schema\"}".to_string())
        } else {
            (204u16, String::new())
        }
    }) as Handler)
    .await;
    let fleet = Fleet::new();
    let _mgr = fleet.serve();
    let cred = fleet.cred();
    let dir = fleet.dir.path();

    let v = fleet.cli(&["forwards"]);
    assert_eq!(v["destinations"].as_array().unwrap().len(), 0, "{v}");

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[destination]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nsecret = \"k\"\n\n[[rule]]\nname = \"r\"\ndestination = \"hook\"\nmin_severity = \"severe\"\n",
    )
    .unwrap();
    let (ok, _, err) = otwatch(
        &fleet,
        &cred,
        &["forwards", "add", &bad.display().to_string()],
    );
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{}:7: rule \"r\": unknown min_severity \"severe\"",
            bad.display()
        )),
        "{err}"
    );
    let v = fleet.cli(&["forwards", "list"]);
    assert_eq!(
        v["destinations"].as_array().unwrap().len(),
        0,
        "nothing changed: {v}"
    );

    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        format!(
            "[[destination]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"k\"\n\n[[rule]]\nname = \"r\"\ndestination = \"hook\"\nmin_severity = \"high\"\n",
            hook.url("/in")
        ),
    )
    .unwrap();
    let v = fleet.cli(&["forwards", "add", &good.display().to_string()]);
    assert_eq!(v["destinations"][0]["name"], "hook", "{v}");
    assert_eq!(v["destinations"][0]["type"], "webhook", "{v}");
    assert_eq!(v["rules"][0]["min_severity"], "high", "{v}");
    let file = v["file"].as_str().unwrap().to_string();
    assert!(file.ends_with("forwarding.toml"), "{file}");
    assert!(v["destinations"][0]["defined_at"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{file}:")));
    // The secret is never shown.
    assert!(!v.to_string().contains("\"k\""), "{v}");

    let v = fleet.cli(&["forwards", "test", "hook"]);
    assert_eq!(v["delivered"], true, "{v}");
    let got = hook.taken();
    assert_eq!(got.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body[0]["event"], "test");
    assert_eq!(body[0]["id"], v["event_id"]);
    let v = fleet.cli(&["forwards"]);
    assert_eq!(v["destinations"][0]["delivered"], 1, "{v}");

    // A destination that refuses: the test fails with its answer, the event is a dead letter.
    let refusing = dir.join("refusing.toml");
    std::fs::write(
        &refusing,
        format!(
            "[[destination]]\nname = \"bad\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"k\"\n",
            hook.url("/bad")
        ),
    )
    .unwrap();
    fleet.cli(&["forwards", "add", &refusing.display().to_string()]);
    let (ok, _, err) = otwatch(&fleet, &cred, &["forwards", "test", "bad"]);
    assert!(!ok);
    assert!(
        err.contains("was not delivered to bad: the webhook answered 400"),
        "{err}"
    );
    let v = fleet.cli(&["forwards", "dead-letters", "bad"]);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["event"]["event"], "test", "{v}");
    assert!(
        v[0]["reason"].as_str().unwrap().contains("unknown schema"),
        "{v}"
    );
    fleet.cli(&["forwards", "remove", "bad"]);

    // An analyst may not see or change forwarding.
    let analyst = dir.join("ana");
    common::fleet::out(
        std::path::Path::new(MANAGER),
        &[
            "user",
            "create",
            "--state",
            &fleet.data(),
            "--name",
            "ana",
            "--role",
            "analyst",
            "--cred",
            &analyst.display().to_string(),
        ],
    );
    let (ok, _, err) = otwatch(&fleet, &analyst.display().to_string(), &["forwards"]);
    assert!(!ok);
    assert!(err.contains("cannot see the forwarding rules"), "{err}");

    let (ok, _, err) = otwatch(&fleet, &cred, &["forwards", "remove", "hook"]);
    assert!(!ok);
    assert!(err.contains("used by rule(s) r"), "{err}");
    fleet.cli(&["forwards", "remove", "r"]);
    let v = fleet.cli(&["forwards", "remove", "hook"]);
    assert_eq!(v["destinations"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["rules"].as_array().unwrap().len(), 0, "{v}");

    // A forwarding file the manager cannot read stops it at the start, with file and line.
    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        "[[rule]]\nname = \"x\"\ndestination = \"nowhere\"\n",
    )
    .unwrap();
    let err = serve_refuses(&fleet.data(), "--forwarding", &broken);
    assert!(
        err.contains(&format!(
            "{}:1: rule \"x\" sends to destination \"nowhere\", which is not defined",
            broken.display()
        )),
        "{err}"
    );
}
