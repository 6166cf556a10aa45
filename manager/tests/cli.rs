//! The `otwatch` CLI in-process (`otwatch_manager::cli::run`) against a real manager: what it
//! prints of hostile sensor data, and how it fails against a manager that does not answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clap::Parser;
use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;

/// Runs `otwatch ARGS` with `cred`; (result, stdout).
async fn otwatch(url: &str, cred: &std::path::Path, args: &[&str]) -> (anyhow::Result<()>, String) {
    let cred = path_str(cred);
    let mut all = vec!["otwatch", "--manager", url, "--cred", &cred];
    all.extend_from_slice(args);
    let cli = otwatch_manager::cli::Cli::try_parse_from(all).unwrap();
    let mut out = Vec::new();
    let r = otwatch_manager::cli::run(cli, &mut out).await;
    (r, String::from_utf8(out).unwrap())
}

/// What a terminal would act on rather than show.
fn raw_controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[tokio::test]
async fn sensor_text_reaches_the_terminal_escaped_in_tables_and_json() {
    let fx = Fixture::start().await;
    let s = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let mut c = s.client(&fx.url()).await.unwrap();
    let mut a = asset(
        1,
        "mac:00:00:00:00:00:01",
        &["00:00:00:00:00:01"],
        &["10.0.0.1"],
    );
    if let Some(delta::Change::Asset(x)) = a.change.as_mut() {
        x.vendor = "Evil\u{1b}[31mCorp\u{202e}gnp.exe".into();
        x.hostname = "plc\u{1b}]0;owned\u{7}\u{7f}".into();
        x.evidence.push(Evidence {
            field: "hostname".into(),
            value: "\u{9b}2J".into(),
            ..Default::default()
        });
    }
    let mut al = alert(2, "a\u{1b}[1m1");
    if let Some(delta::Change::Alert(x)) = al.change.as_mut() {
        x.title = "stop\u{1b}[2J\u{2066}".into();
    }
    let status = Delta {
        seq: 3,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Status(SensorStatus {
            hostname: "sensor\u{1b}[8m".into(),
            ..Default::default()
        })),
    };
    sync(&mut c, vec![vec![a, al, status]]).await.unwrap();
    let cred = fx.operator_creds("ann", OperatorRole::Viewer);
    for cmd in ["assets", "alerts", "sensors"] {
        for format in ["table", "json"] {
            let (r, out) = otwatch(&fx.url(), &cred, &[cmd, "--format", format]).await;
            r.unwrap();
            assert!(raw_controls(&out).is_empty(), "{cmd} {format}: {out:?}");
            if format == "json" {
                // Escaped, not lost.
                serde_json::from_str::<serde_json::Value>(&out).unwrap();
                assert!(out.contains("\\u001b"), "{cmd}: {out}");
            } else {
                assert!(out.contains("\\u{1b}"), "{cmd}: {out}");
            }
        }
    }
    let (_, out) = otwatch(&fx.url(), &cred, &["assets"]).await;
    assert!(out.contains("Evil\\u{1b}[31mCorp\\u{202e}gnp.exe"), "{out}");
}

/// Accepts connections and never answers; the address.
fn silent_listener() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            held.push(s);
        }
    });
    addr
}

/// Completes the TLS handshake as the manager of `data` would, then never answers a call.
async fn silent_after_handshake(data: &std::path::Path) -> std::net::SocketAddr {
    let dir = otwatch_manager::pki::DataDir(data.to_path_buf());
    let cfg = otwatch_manager::tls::server_config(&dir, Default::default()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await;
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                drop(tls);
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_manager_that_does_not_answer_is_named_after_the_timeout() {
    let fx = Fixture::start().await;
    let cred = fx.operator_creds("ann", OperatorRole::Viewer);
    let tls_silent = silent_after_handshake(&fx.data()).await;
    for addr in [silent_listener(), tls_silent] {
        let url = format!("https://{addr}");
        let started = std::time::Instant::now();
        let (r, _) = otwatch(&url, &cred, &["--timeout", "1", "sites"]).await;
        let err = format!("{:#}", r.unwrap_err());
        assert!(
            err.contains(&format!("the manager did not answer at {url} within 1 s")),
            "{err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{err}"
        );
    }
    // The real manager still answers within the default.
    let (r, _) = otwatch(&fx.url(), &cred, &["sites"]).await;
    r.unwrap();
}

#[tokio::test]
async fn alerts_filter_by_site_state_severity_and_kind() {
    let fx = Fixture::start().await;
    let a = enroll(&fx.url(), fx.port(), &fx.token("plant-a", 3600))
        .await
        .unwrap();
    let b = enroll(&fx.url(), fx.port(), &fx.token("plant-b", 3600))
        .await
        .unwrap();
    let alert_of = |seq: u64, id: &str, kind: &str, severity: &str| {
        let mut d = alert(seq, id);
        if let Some(delta::Change::Alert(x)) = d.change.as_mut() {
            x.kind = kind.into();
            x.severity = severity.into();
        }
        d
    };
    let mut c = a.client(&fx.url()).await.unwrap();
    sync(
        &mut c,
        vec![vec![
            alert_of(1, "stop", "plc_stop", "high"),
            alert_of(2, "scan", "scan_detected", "medium"),
        ]],
    )
    .await
    .unwrap();
    let mut c = b.client(&fx.url()).await.unwrap();
    sync(&mut c, vec![vec![alert_of(1, "stop", "plc_stop", "high")]])
        .await
        .unwrap();
    let mut op = fx.operator("ann", OperatorRole::Analyst).await;
    op.acknowledge_alert(AlertActionRequest {
        id: format!("{}/stop", b.id),
        comment: String::new(),
    })
    .await
    .unwrap();
    // Through the CLI: a comment kept in the history and shown; one too long refused.
    // (Acknowledging again with a comment keeps the state and adds the comment.)
    let ann = fx.operator_creds("ann", OperatorRole::Analyst);
    let stop_b = format!("{}/stop", b.id);
    let (r, _) = otwatch(
        &fx.url(),
        &ann,
        &["alerts", "ack", &stop_b, "--comment", "ticket OT-42, on it"],
    )
    .await;
    r.unwrap();
    let (r, shown) = otwatch(&fx.url(), &ann, &["alerts", "show", &stop_b]).await;
    r.unwrap();
    let history = shown.split("history\n").nth(1).unwrap_or_default();
    assert!(
        history.contains("acknowledged ann (analyst): ticket OT-42, on it"),
        "{shown}"
    );
    let long = "x".repeat(2_001);
    let (r, _) = otwatch(
        &fx.url(),
        &ann,
        &["alerts", "resolve", &stop_b, "-m", &long],
    )
    .await;
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("at most 2000 are kept"), "{e}");
    let cred = fx.operator_creds("vic", OperatorRole::Viewer);
    let ids = |out: &str| {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let stop_a = format!("{}/stop", a.id);
    let stop_b = format!("{}/stop", b.id);
    for (args, want) in [
        (
            vec!["--kind", "plc_stop"],
            vec![stop_a.clone(), stop_b.clone()],
        ),
        (vec!["--severity", "medium"], vec![format!("{}/scan", a.id)]),
        (vec!["--status", "acknowledged"], vec![stop_b.clone()]),
        (
            vec!["--status", "new", "--kind", "plc_stop"],
            vec![stop_a.clone()],
        ),
        (vec!["--site", "plant-b"], vec![stop_b.clone()]),
    ] {
        let mut all = vec!["alerts", "--format", "json"];
        all.extend(args.iter().copied());
        let (r, out) = otwatch(&fx.url(), &cred, &all).await;
        r.unwrap();
        let mut got = ids(&out);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{args:?}");
    }
}

/// Runs the `otwatch` binary without the OTWATCH_* environment, off the runtime's thread (a
/// test's manager runs on it); (exit code, stderr).
async fn otwatch_bin(args: &[&str]) -> (Option<i32>, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_otwatch"));
        for v in [
            "OTWATCH_MANAGER",
            "OTWATCH_CRED",
            "OTWATCH_TOKEN",
            "OTWATCH_AUTH_TOKEN",
            "OTWATCH_CA",
        ] {
            c.env_remove(v);
        }
        c.args(args).output().unwrap()
    })
    .await
    .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

/// Operator credentials of a CA that no running manager has.
fn foreign_creds(dir: &std::path::Path) -> std::path::PathBuf {
    otwatch_manager::pki::init(&dir.join("m"), &[], "other").unwrap();
    let cred = dir.join("op");
    otwatch_manager::admin::create_user(&dir.join("m"), "mallory", OperatorRole::Admin, &cred)
        .unwrap();
    cred
}

#[tokio::test]
async fn a_filter_value_that_no_sensor_reports_is_a_usage_error_naming_the_valid_ones() {
    let (code, err) = otwatch_bin(&["assets", "--type", "toaster"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("invalid value 'toaster' for '--type <TYPE>'"),
        "{err}"
    );
    for t in otwatch_common::vocab::DEVICE_TYPES {
        assert!(err.contains(t), "{t}: {err}");
    }

    let (code, err) = otwatch_bin(&["assets", "--level", "9"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("invalid value '9' for '--level <LEVEL>'")
            && err.contains("[possible values: 0, 1, 2, 3, 4, 5]"),
        "{err}"
    );

    let (code, err) = otwatch_bin(&["alerts", "--severity", "urgent"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[possible values: info, low, medium, high, critical]"),
        "{err}"
    );

    let (code, err) = otwatch_bin(&["alerts", "--kind", "plc-stpo"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("a similar value exists: 'plc_stop'"), "{err}");
    assert!(err.contains("rule:<name>"), "{err}");

    for args in [
        ["assets", "--protocol", "modbuss"],
        ["alerts", "--status", "opened"],
    ] {
        let (code, err) = otwatch_bin(&args).await;
        assert_eq!(code, Some(1), "{args:?}: {err}");
    }
}

#[test]
fn filters_match_in_any_case_and_reach_the_manager_in_the_reported_spelling() {
    let parse = |args: &[&str]| {
        let mut all = vec!["otwatch"];
        all.extend_from_slice(args);
        otwatch_manager::cli::Cli::try_parse_from(all)
            .unwrap()
            .command
    };
    use otwatch_manager::cli::Command;
    match parse(&[
        "assets",
        "--type",
        "PLC",
        "--protocol",
        "S7Comm",
        "--level",
        "1",
    ]) {
        Command::Assets {
            device_type,
            protocol,
            level,
            ..
        } => {
            assert_eq!(device_type.as_deref(), Some("plc"));
            assert_eq!(protocol.as_deref(), Some("s7comm"));
            assert_eq!(level, Some(1));
        }
        other => panic!("{other:?}"),
    }
    match parse(&[
        "assets",
        "--type",
        "Engineering-Workstation",
        "--level",
        "0",
    ]) {
        Command::Assets {
            device_type, level, ..
        } => {
            assert_eq!(device_type.as_deref(), Some("engineering_workstation"));
            assert_eq!(level, Some(0));
        }
        other => panic!("{other:?}"),
    }
    match parse(&[
        "alerts",
        "--severity",
        "HIGH",
        "--status",
        "New",
        "--kind",
        "PLC_STOP",
    ]) {
        Command::Alerts {
            severity,
            status,
            kind,
            ..
        } => {
            assert_eq!(severity.as_deref(), Some("high"));
            assert_eq!(status.as_deref(), Some("new"));
            assert_eq!(kind.as_deref(), Some("plc_stop"));
        }
        other => panic!("{other:?}"),
    }
    // Analyst rules keep their own names.
    match parse(&["alerts", "--kind", "Rule:modbus-write-from-IT"]) {
        Command::Alerts { kind, .. } => {
            assert_eq!(kind.as_deref(), Some("rule:modbus-write-from-IT"))
        }
        other => panic!("{other:?}"),
    }
}

/// `--help` lists the values each filter takes, and says whose token `tokens create` prints.
/// (That every option and command has help is a unit test of `otwatch_manager::cli`.)
#[test]
fn help_lists_filter_values_and_whose_token_is_whose() {
    let help = |args: &[&str]| {
        let mut all = vec!["otwatch"];
        all.extend_from_slice(args);
        all.push("--help");
        otwatch_manager::cli::Cli::try_parse_from(all)
            .unwrap_err()
            .to_string()
    };
    let assets = help(&["assets"]);
    assert!(
        assets.contains("plc, rtu, ied, hmi, engineering_workstation"),
        "{assets}"
    );
    assert!(assets.contains("modbus, dnp3, s7comm"), "{assets}");
    let alerts = help(&["alerts"]);
    assert!(
        alerts.contains("plc_stop") && alerts.contains("acknowledged"),
        "{alerts}"
    );
    let create = help(&["tokens", "create"]);
    assert!(
        create.contains("otwatch-sensor enroll --manager URL --enroll-token TOKEN")
            && create.contains("It is not an --auth-token: that one is your own operator login"),
        "{create}"
    );
}

#[tokio::test]
async fn a_manager_that_is_not_running_gets_a_hint_to_check_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let cred = foreign_creds(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let (code, err) = otwatch_bin(&["--manager", &url, "--cred", &path_str(&cred), "sites"]).await;
    assert_eq!(code, Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("refused"),
        "{err}"
    );
    assert_eq!(
        lines[1],
        format!(
            "hint: is `otwatch-manager serve` running at {url}? check --manager / OTWATCH_MANAGER"
        )
    );
}

#[tokio::test]
async fn credentials_of_another_managers_ca_get_a_hint_to_create_new_ones() {
    let fx = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cred = foreign_creds(dir.path());
    let (code, err) =
        otwatch_bin(&["--manager", &fx.url(), "--cred", &path_str(&cred), "sites"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("\nhint: the --cred / --ca files are not from this manager's CA"),
        "{err}"
    );
    assert!(err.contains("otwatch-manager user create"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[tokio::test]
async fn refused_calls_are_one_line_with_what_to_do() {
    let fx = Fixture::start().await;
    let viewer = fx.operator_creds("vic", OperatorRole::Viewer);
    let (code, err) = otwatch_bin(&[
        "--manager",
        &fx.url(),
        "--cred",
        &path_str(&viewer),
        "alerts",
        "ack",
        "s/a",
    ])
    .await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("error: permission denied: role viewer cannot acknowledge alerts"),
        "{err}"
    );
    assert!(
        err.contains("\nhint: your role does not allow this"),
        "{err}"
    );
    for noise in ["metadata", "details", "code:", "PermissionDenied"] {
        assert!(!err.contains(noise), "{noise}: {err}");
    }

    let ca = path_str(&fx.data().join("ca.pem"));
    let (code, err) = otwatch_bin(&[
        "--manager",
        &fx.url(),
        "--ca",
        &ca,
        "--auth-token",
        "otwop1.not-a-real-secret",
        "sites",
    ])
    .await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.starts_with("error: not authenticated: "), "{err}");
    assert!(
        err.contains("\nhint: the manager does not accept these credentials"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}

/// The lists of `otwatch_common::vocab` are those the sensor reports from and the protos
/// describe.
#[test]
fn the_filter_lists_are_the_sensors_and_the_protos() {
    use otwatch_common::vocab;
    use otwatch_sensor::detect::catalog;
    use otwatch_sensor::protocols::registry;
    use std::collections::BTreeSet;
    let proto = |f: &str| {
        std::fs::read_to_string(format!(
            "{}/../proto/otwatch/v1/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    // The comment lines right above `field`, as a list of words.
    let comment_before = |text: &str, field: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.trim() == field).unwrap();
        let mut words = Vec::new();
        for l in lines[..at].iter().rev() {
            let Some(c) = l.trim().strip_prefix("//") else {
                break;
            };
            words.splice(
                0..0,
                c.split([',', ' ', '.', ':'])
                    .filter(|w| !w.is_empty())
                    .map(str::to_string),
            );
        }
        words
    };
    let inventory = proto("inventory.proto");
    assert_eq!(
        comment_before(&inventory, "string device_type = 10;"),
        vocab::DEVICE_TYPES
    );
    let named: BTreeSet<String> = comment_before(&inventory, "string name = 1;")
        .into_iter()
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .filter(|w| !["lower", "case", "protocol", "name"].contains(&w.as_str()))
        .collect();
    let known: BTreeSet<String> = vocab::PROTOCOLS.iter().map(|p| p.to_string()).collect();
    assert!(named.is_subset(&known), "{named:?}");
    let registered: BTreeSet<String> = registry::PROTOCOLS
        .iter()
        .map(|s| s.name)
        .chain(registry::FRAME_PROTOCOLS.iter().map(|s| s.name))
        .chain(["arp"])
        .map(str::to_string)
        .collect();
    assert_eq!(known, registered);
    assert_eq!(
        vocab::PROTOCOLS.len(),
        known.len(),
        "a protocol is listed twice"
    );

    let kinds: Vec<&str> = catalog::CATALOG.iter().map(|e| e.name).collect();
    assert_eq!(kinds, vocab::ALERT_KINDS);
    let severities: Vec<&str> = catalog::Severity::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(severities, vocab::SEVERITIES);
    assert_eq!(
        comment_before(&proto("manager.proto"), "string state = 5;"),
        vocab::ALERT_STATES
    );
}
