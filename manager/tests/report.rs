//! `otwatch report` end to end, like tests/risk.rs: a real manager with a sensor's S7-300
//! (advisories imported), its HMI and gateway, and a device that names itself `<script>`; the
//! binary writes the HTML report (score, CVEs, the hostile name escaped, the same bytes twice),
//! the JSON report (its documented fields), refuses a clash of kinds, and prints the PDF with
//! Chromium when there is one (required in CI), whose text (pdftotext) holds the score line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;
use std::path::PathBuf;

const HOSTILE: &str = "<script>alert(1)</script>";
const WHEN: &str = "2026-03-01T08:00:00Z";

/// A manager with plant-a (S7-300, HMI, gateway, a hostile device) and plant-b (one asset),
/// advisories imported; and the credentials of a viewer.
async fn setup() -> (Fixture, String) {
    let mut fx = Fixture::start().await;
    let mut c = sensor_at(&fx, "plant-a").await;
    let hmi = hmi_10(2);
    let gw = gateway_1(3);
    let mut evil = typed(
        4,
        "mac:02:00:00:00:00:66",
        "02:00:00:00:00:66",
        "10.77.2.66",
        "unknown",
        3,
    );
    if let Some(delta::Change::Asset(a)) = evil.change.as_mut() {
        a.hostname = HOSTILE.into();
        a.vendor = "\"><img src=x onerror=alert(2)>".into();
    }
    let batch = vec![
        s7_300_at_level_1(1),
        hmi,
        gw,
        evil,
        connection(5, "10.77.2.10", "10.77.2.1", 10),
        connection(6, "10.77.2.1", "10.77.2.22", 10),
    ];
    sync(&mut c, vec![batch]).await.unwrap();
    let mut cb = sensor_at(&fx, "plant-b").await;
    sync(
        &mut cb,
        vec![vec![asset(1, "ip:10.0.0.5", &[], &["10.0.0.5"])]],
    )
    .await
    .unwrap();
    fx.stop().await;
    otwatch_manager::advisories::import_in(&fx.data(), &[advisory_samples()]).unwrap();
    fx.restart_same_port().await;
    let cred = path_str(&fx.operator_creds("bob", OperatorRole::Viewer));
    (fx, cred)
}

/// Runs `otwatch --manager URL --cred CRED report ARGS...` (off the runtime's thread: the
/// manager runs on it).
async fn report(fx: &Fixture, cred: &str, extra: &[&str]) -> std::process::Output {
    report_with(fx, cred, extra, None).await
}

/// [`report`] with `PATH` set to `path` and no `OTWATCH_CHROMIUM`, when given.
async fn report_with(
    fx: &Fixture,
    cred: &str,
    extra: &[&str],
    path: Option<&str>,
) -> std::process::Output {
    let args: Vec<String> = ["--manager", &fx.url(), "--cred", cred, "report"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    let path = path.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_otwatch"));
        if let Some(p) = path {
            cmd.env("PATH", p).env_remove("OTWATCH_CHROMIUM");
        }
        cmd.args(args).output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn otwatch_report_writes_html_and_json() {
    let (fx, cred) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("risk.html");
    let out = report(
        &fx,
        &cred,
        &[
            "--site",
            "plant-a",
            "--out",
            &path_str(&html),
            "--generated-at",
            WHEN,
        ],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("html report written to {}\n", html.display())
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Security score 77/100 (fair)"), "{page}");
    assert!(page.contains(&format!("Generated {WHEN}")));
    for cve in ["CVE-2018-16561", "CVE-2019-10936", "CVE-2020-15791"] {
        assert!(page.contains(cve), "{cve} missing");
    }
    assert!(page.contains("update to V3.2.17"));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    for bad in [
        "<script", "<img", "src=\"", "href=\"", "http:", "https:", "url(",
    ] {
        assert!(!page.contains(bad), "{bad} in the report");
    }
    // The same data, the same time: the same bytes.
    let again = dir.path().join("again.html");
    let out = report(
        &fx,
        &cred,
        &[
            "--site",
            "plant-a",
            "--out",
            &path_str(&again),
            "--generated-at",
            WHEN,
        ],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(&again).unwrap(), page.as_bytes());

    // The fleet: a section per site.
    let fleet = dir.path().join("fleet.htm");
    let out = report(&fx, &cred, &["--out", &path_str(&fleet)]).await;
    assert!(out.status.success(), "{out:?}");
    let page = std::fs::read_to_string(&fleet).unwrap();
    assert!(page.contains("Risk assessment: fleet (2 sites)"));
    assert!(page.contains("Security score 89/100 (good)"), "{page}");
    assert!(
        page.contains("<h2>Site plant-a: 77/100") && page.contains("<h2>Site plant-b: 100/100")
    );

    // JSON: the --out name says so.
    let json = dir.path().join("risk.json");
    let out = report(
        &fx,
        &cred,
        &["--site", "plant-a", "--out", &path_str(&json)],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], "otwatch.report.v1");
    assert_eq!(
        (v["site"].as_str(), v["band"].as_str()),
        (Some("plant-a"), Some("fair"))
    );
    assert_eq!(v["security_score"], 77);
    assert_eq!(v["counts"]["assets"], 4);
    assert_eq!(v["counts"]["assets_at_risk"], 1);
    assert_eq!(v["counts"]["vulnerabilities"]["total"], 3);
    assert_eq!(v["counts"]["single_points_of_failure"], 1);
    assert_eq!(v["sites"][0]["name"], "plant-a");
    assert_eq!(
        v["sites"][0]["vulnerabilities"].as_array().unwrap().len(),
        3
    );
    assert_eq!(
        v["assessment"]["remediations"][0]["action"],
        "update to V3.2.17"
    );
    let names: Vec<&str> = v["sites"][0]["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["cve"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["CVE-2018-16561", "CVE-2019-10936", "CVE-2020-15791"]
    );

    // To standard output with --as.
    let out = report(&fx, &cred, &["--as", "json", "--out", "-"]).await;
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sites"].as_array().unwrap().len(), 2);
    assert_eq!(v["sites"][1]["security_score"], 100);

    // A clash of kinds is refused before anything is asked or written.
    let clash = dir.path().join("x.html");
    let out = report(&fx, &cred, &["--as", "pdf", "--out", &path_str(&clash)]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--as pdf clashes with --out"), "{stderr}");
    assert!(!clash.exists());
    let out = report(
        &fx,
        &cred,
        &["--format", "json", "--out", &path_str(&clash)],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--format json clashes with a html report"),
        "{stderr}"
    );
}

/// The Chromium the report would use (the same search as the CLI's).
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OTWATCH_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| {
            std::env::split_paths(&path)
                .map(|d| d.join(n))
                .find(|p| p.is_file())
        })
}

#[tokio::test]
async fn otwatch_report_prints_a_pdf_with_chromium() {
    if chromium().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium for the PDF report (.ci/run installs it)"
        );
        eprintln!("SKIPPED: no Chromium on this machine (apt-get install chromium) to print the PDF report");
        return;
    }
    let (fx, cred) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("risk.pdf");
    let out = report(
        &fx,
        &cred,
        &[
            "--site",
            "plant-a",
            "--out",
            &path_str(&pdf),
            "--generated-at",
            WHEN,
        ],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");

    // No Chromium to be found: refused with the hint, nothing written.
    let none = dir.path().join("none.pdf");
    let out = report_with(
        &fx,
        &cred,
        &["--out", &path_str(&none)],
        Some("/nonexistent"),
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a PDF report needs Chromium")
            && stderr.contains("apt-get install chromium"),
        "{stderr}"
    );
    assert!(!none.exists());
    // Its text, when poppler's pdftotext is there to read it.
    match std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
    {
        Ok(t) if t.status.success() => {
            let text = String::from_utf8_lossy(&t.stdout);
            assert!(text.contains("Security score 77/100 (fair)"), "{text}");
            assert!(text.contains("CVE-2019-10936"), "{text}");
        }
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have pdftotext (poppler-utils)"
            );
            eprintln!("pdftotext not found (apt-get install poppler-utils): the PDF's text is not checked");
        }
    }
}
