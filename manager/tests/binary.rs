//! The real `otwatch-manager` and `otwatch` binaries: init, token create, user create, serve,
//! a sensor enrolling and syncing, the CLI listing in JSON and table form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../tests/roff.rs"]
mod roff;

use common::skip;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const MANAGER: &str = env!("CARGO_BIN_EXE_otwatch-manager");
const CLI: &str = env!("CARGO_BIN_EXE_otwatch");

fn run(bin: &str, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(bin).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// For both programs: `--version` names the commit built (12 hex digits, or "unknown" outside
/// a git checkout), `--help` lists the exit statuses and exits 0, and a usage error exits 1
/// (nothing done) with clap's message, not clap's own 2.
#[test]
fn version_help_and_usage_errors() {
    for (bin, name) in [(MANAGER, "otwatch-manager"), (CLI, "otwatch")] {
        let (ok, out, err) = run(bin, &["--version"]);
        assert!(ok, "{err}");
        let prefix = format!("{name} {} (", env!("CARGO_PKG_VERSION"));
        let commit = out
            .trim()
            .strip_prefix(&prefix)
            .and_then(|r| r.split([' ', ')']).next())
            .unwrap_or_else(|| panic!("{out:?}"));
        assert!(
            commit == "unknown"
                || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "{out:?}"
        );

        let o = Command::new(bin).arg("--help").output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains("Exit status (see docs/CLI.md"), "{help}");
        assert!(
            help.contains("\n  1    nothing done: bad arguments"),
            "{help}"
        );

        for args in [&["--no-such-flag"][..], &["no-such-command"], &[]] {
            let o = Command::new(bin).args(args).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{name} {args:?}: {err}");
            // Without any argument clap shows the help instead of an error line.
            assert!(
                args.is_empty() || err.starts_with("error: "),
                "{name} {args:?}: {err}"
            );
            assert!(err.contains(&format!("Usage: {name}")), "{err}");
        }
    }
    // A bad value of a subcommand's flag is a usage error too.
    let o = Command::new(MANAGER)
        .args([
            "token",
            "create",
            "--state",
            "/nonexistent",
            "--site",
            "a",
            "--ttl",
            "soon",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn manager_and_cli_binaries_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = path_str(&dir.path().join("m"));
    let (ok, out, err) = run(MANAGER, &["init", "--state", &data]);
    assert!(ok, "{err}");
    assert!(out.contains("CA sha256"), "{out}");
    assert!(
        out.contains("next: otwatch-manager token create --state"),
        "{out}"
    );
    // --data, the old name of --state, still names the state directory.
    let (ok, _, err) = run(MANAGER, &["init", "--data", &data]);
    assert!(!ok);
    assert!(err.contains("refusing to overwrite"), "{err}");

    let (ok, token, err) = run(
        MANAGER,
        &[
            "token", "create", "--state", &data, "--site", "plant-a", "--ttl", "1h",
        ],
    );
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("otwt1."), "{token}");
    // A bad argument does nothing and exits with 1, as one the argument parser refuses does.
    let o = Command::new(MANAGER)
        .args(["token", "create", "--state", &data, "--site", "Bad Site"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: bad site name \"Bad Site\": use 1-63 characters"),
        "{err}"
    );
    let cred = path_str(&dir.path().join("alice"));
    let (ok, out, err) = run(
        MANAGER,
        &[
            "user", "create", "--state", &data, "--name", "alice", "--role", "analyst", "--cred",
            &cred,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("otwatch --cred"), "{out}");
    // `health` before the manager serves: not healthy, and why.
    let (ok, _, err) = run(MANAGER, &["health", "--state", &data]);
    assert!(!ok && err.contains("no manager serves"), "{err}");

    let mut child = Child(
        Command::new(MANAGER)
            .args(["serve", "--state", &data, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let url = format!("https://127.0.0.1:{port}");
    // gRPC health over TLS, with nothing but the state directory.
    let (ok, out, err) = run(MANAGER, &["health", "--state", &data]);
    assert!(ok && out.trim() == "serving", "{out}{err}");
    let (ok, _, err) = run(MANAGER, &["health", "--state", &data, "--service", "x.Y"]);
    assert!(!ok && err.contains("service not registered"), "{err}");

    let s = enroll(&url, port, &token).await.unwrap();
    let mut c = s.client(&url).await.unwrap();
    let acks = sync(
        &mut c,
        vec![vec![
            asset(
                1,
                "mac:00:1b:1b:00:00:01",
                &["00:1b:1b:00:00:01"],
                &["10.0.0.5"],
            ),
            alert(2, "a1"),
        ]],
    )
    .await
    .unwrap();
    assert_eq!(acks, vec![2]);
    // The store is locked by the running manager: the token is made through it, and works.
    let (ok, token2, err) = run(
        MANAGER,
        &["token", "create", "--state", &data, "--site", "plant-b"],
    );
    assert!(ok, "{err}");
    assert!(err.contains("site plant-b"), "{err}");
    let token2 = token2.trim().to_string();
    let s2 = enroll(&url, port, &token2).await.unwrap();
    assert_eq!(s2.site, "plant-b");
    assert!(enroll(&url, port, &token2).await.is_err(), "one-time");

    let cli = |args: &[&str]| {
        let mut all = vec!["--manager", url.as_str(), "--cred", cred.as_str()];
        all.extend_from_slice(args);
        run(CLI, &all)
    };
    let (ok, out, err) = cli(&["assets", "--format", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["id"], "plant-a/mac:00:1b:1b:00:00:01");
    assert_eq!(v[0]["asset"]["ips"][0], "10.0.0.5");
    assert_eq!(v[0]["seen_by"][0]["sensor_id"], s.id.as_str());
    let (ok, out, err) = cli(&["sensors"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("ID") && out.contains(&s.id) && out.contains("online"),
        "{out}"
    );
    let (ok, out, _) = cli(&["sites", "--format", "json"]);
    assert!(ok);
    assert!(out.contains("\"open_alerts\": 1"), "{out}");
    let alert_id = format!("{}/a1", s.id);
    let (ok, out, err) = cli(&["alerts", "ack", &alert_id]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("alert acknowledged: {alert_id}"));
    let (ok, out, _) = cli(&["alerts", "--status", "acknowledged", "--format", "json"]);
    assert!(ok);
    assert!(out.contains("\"updated_by\": \"alice (analyst)\""), "{out}");
    // An analyst cannot revoke, nor create enrolment tokens.
    let (ok, _, err) = cli(&["sensors", "revoke", &s.id]);
    assert!(
        !ok && err.contains("permission denied: role analyst cannot revoke sensors"),
        "{err}"
    );
    let (ok, _, err) = cli(&["tokens", "create", "--site", "plant-a"]);
    assert!(
        !ok && err.contains("cannot create enrolment tokens"),
        "{err}"
    );
    let (ok, _, err) = run(CLI, &["--manager", &url, "sites"]);
    assert!(!ok && err.contains("--cred"), "{err}");

    // The refusal is in the manager's log (stderr). kill() is SIGKILL: no clean shutdown.
    drop(c);
    child.0.kill().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut log).unwrap();
    assert!(
        log.contains("refused") && log.contains("RevokeSensor"),
        "{log}"
    );
    assert!(log.contains("sensor enrolled"), "{log}");
    assert!(
        log.contains("enrolment token created") && log.contains("by=otwatch-manager"),
        "{log}"
    );
    // Secrets never reach the log.
    for t in [&token, &token2] {
        let secret = t.split('.').nth(1).unwrap();
        assert!(!log.contains(secret), "token secret in the log");
    }
    drop(child);

    // Restarted after SIGKILL: everything acknowledged is there, nothing is applied twice.
    let mut child = Child(
        Command::new(MANAGER)
            .args(["serve", "--state", &data, "--listen", &addr])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    let mut c = s.client(&url).await.unwrap();
    let acks = sync(&mut c, vec![vec![alert(2, "a1"), alert(3, "a2")]])
        .await
        .unwrap();
    assert_eq!(acks, vec![3]);
    let (ok, out, err) = cli(&["alerts", "--format", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["state"], "acknowledged");

    // A bearer token for a script, made while serving; the CLI uses it with the CA.
    let (ok, tok, err) = run(
        MANAGER,
        &[
            "user",
            "create",
            "--state",
            &data,
            "--name",
            "siem",
            "--role",
            "viewer",
            "--auth-token",
        ],
    );
    assert!(ok, "{err}");
    let tok = tok.trim().to_string();
    assert!(tok.starts_with("otwop1."), "{tok}");
    let ca = format!("{data}/ca.pem");
    let (ok, out, err) = run(
        CLI,
        &[
            "--manager",
            &url,
            "--ca",
            &ca,
            "--auth-token",
            &tok,
            "sites",
            "--format",
            "json",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("plant-a"), "{out}");
    let (ok, _, err) = run(
        CLI,
        &[
            "--manager",
            &url,
            "--ca",
            &ca,
            // --token, the old name of --auth-token, still works.
            "--token",
            &tok,
            "alerts",
            "resolve",
            &alert_id,
        ],
    );
    assert!(!ok && err.contains("role viewer"), "{err}");

    // alice leaves: her certificates are revoked through the running manager.
    let (ok, out, err) = run(
        MANAGER,
        &["user", "revoke", "--state", &data, "--name", "alice"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("every certificate of alice issued until"),
        "{out}"
    );
    // The refusal reaches the client as the TLS alert, or as the connection closing when the
    // client is still writing; either way the message names revocation.
    let (ok, _, err) = cli(&["sites"]);
    assert!(!ok && err.contains("revoked"), "{err}");
}

/// Scripts and units written for the old flag names go on working: `--data` (now `--state`),
/// `user create --out` (now `--cred`) and `--token` (now `--auth-token`).
#[test]
fn the_old_flag_names_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let state = path_str(&dir.path().join("m"));
    let (ok, _, err) = run(MANAGER, &["init", "--data", &state]);
    assert!(ok, "{err}");
    let cred = dir.path().join("bob");
    let (ok, _, err) = run(
        MANAGER,
        &[
            "user",
            "create",
            "--data",
            &state,
            "--name",
            "bob",
            "--role",
            "viewer",
            "--out",
            &path_str(&cred),
        ],
    );
    assert!(ok, "{err}");
    assert!(cred.join("cert.pem").exists());
    let (ok, token, err) = run(
        MANAGER,
        &[
            "users", "create", "--state", &state, "--name", "siem", "--role", "viewer", "--token",
        ],
    );
    assert!(ok, "{err}");
    assert!(token.starts_with("otwop1."), "{token}");
    assert!(err.contains("otwatch --ca"), "{err}");
    assert!(err.contains("--auth-token TOKEN"), "{err}");
}

/// `alerts --state` was the alert status filter; `--state` is a directory everywhere else, so
/// the filter is `--status` (which also takes `open`).
#[test]
fn alerts_filter_by_status_not_state() {
    let o = Command::new(CLI)
        .args(["alerts", "--state", "new"])
        .env_remove("OTWATCH_CRED")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: unexpected argument '--state'"),
        "{err}"
    );
    // Parsed, it fails only for want of a manager or credentials.
    let o = Command::new(CLI)
        .args([
            "alerts",
            "--status",
            "open",
            "--manager",
            "https://127.0.0.1:9",
        ])
        .env_remove("OTWATCH_CRED")
        .env_remove("OTWATCH_AUTH_TOKEN")
        .env_remove("OTWATCH_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: no credentials: pass --cred DIR"),
        "{err}"
    );
}

/// Both programs print completion scripts for every shell and man pages man can show.
#[test]
fn completions_and_man_pages() {
    for (bin, name, words, page) in [
        (
            MANAGER,
            "otwatch-manager",
            ["init", "token", "serve", "state", "auth-token"],
            "otwatch-manager-user-create.1",
        ),
        (
            CLI,
            "otwatch",
            ["assets", "approve", "alerts", "status", "auth-token"],
            "otwatch-assets-approve.1",
        ),
    ] {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let (ok, script, err) = run(bin, &["completions", shell]);
            assert!(ok, "{name} {shell}: {err}");
            for w in words {
                assert!(script.contains(w), "{name} {shell}: no {w}");
            }
        }
        let o = Command::new(bin).arg("man").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}");
        if let Some(text) = roff::render(&o.stdout) {
            assert!(
                text.contains(name) && text.contains("SUBCOMMANDS"),
                "{text}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let (ok, out, err) = run(bin, &["man", "--dir", &path_str(dir.path())]);
        assert!(ok && out.is_empty(), "{name}: {err}");
        assert!(err.contains("man pages written to"), "{err}");
        let sub = std::fs::read(dir.path().join(page)).unwrap();
        if let Some(text) = roff::render(&sub) {
            assert!(
                text.contains("EXIT STATUS") || text.contains("OPTIONS"),
                "{text}"
            );
        }
    }
    // otwatch's global --format changes what the manager's answers look like; it has nothing
    // to do with a completion script, so it is refused there rather than ignored.
    let (ok, _, err) = run(CLI, &["--format", "json", "completions", "bash"]);
    assert!(
        !ok && err.starts_with("error: --format is for the commands that ask"),
        "{err}"
    );
}

/// `init --store URL` records where the store will be (never the password), so that a token
/// made before the first `serve --store` is refused with what to do, not put in the embedded
/// store no manager will read.
#[test]
fn init_with_a_postgres_store_sends_admin_commands_through_the_manager() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("m");
    let state = state.to_str().unwrap();
    let (ok, out, err) = run(
        MANAGER,
        &[
            "init",
            "--state",
            state,
            "--store",
            "postgres://otwatch:s3cret@db.example:5433/fleet",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("fleet store: postgres://otwatch@db.example:5433/fleet"),
        "{out}"
    );
    let recorded = std::fs::read_to_string(dir.path().join("m/store")).unwrap();
    assert_eq!(recorded.trim(), "postgres://otwatch@db.example:5433/fleet");
    assert!(!out.contains("s3cret") && !recorded.contains("s3cret"));
    let (ok, _, err) = run(
        MANAGER,
        &["token", "create", "--state", state, "--site", "plant-a"],
    );
    assert!(!ok);
    assert!(err.contains("keeps its fleet store in PostgreSQL"), "{err}");
    assert!(
        !dir.path().join("m/db").exists(),
        "no embedded store was made"
    );
}
