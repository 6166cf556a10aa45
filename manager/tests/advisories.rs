//! Advisories in the manager end to end: `advisories import` into a stopped manager's store,
//! the vulnerabilities ListAssets and GetAsset give a sensor's S7-300, ListAdvisories and
//! `otwatch advisories`, and the import through the API while the manager runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clap::Parser;
use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;
use std::path::{Path, PathBuf};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/advisories")
}

/// An S7-300 CPU 315-2 PN/DP as a sensor reports it (tests/golden/attacks/nmap_ics_scripts),
/// with firmware V3.2.6.
fn s7_300(seq: u64) -> Delta {
    let mut d = asset(
        seq,
        "mac:02:4d:00:00:02:16",
        &["02:4d:00:00:02:16"],
        &["10.77.2.22"],
    );
    if let Some(delta::Change::Asset(a)) = d.change.as_mut() {
        a.vendor = "Siemens".into();
        a.model = "6ES7 315-2EH14-0AB0".into();
        a.firmware = "V3.2.6".into();
        a.device_type = "plc".into();
    }
    d
}

fn cves(a: &FleetAsset) -> Vec<(String, String)> {
    a.asset
        .as_ref()
        .unwrap()
        .vulnerabilities
        .iter()
        .map(|v| (v.cve.clone(), v.status.clone()))
        .collect()
}

#[tokio::test]
async fn imported_advisories_give_served_assets_their_vulnerabilities() {
    let mut fx = Fixture::start().await;
    let mut c = sensor_at(&fx, "plant-a").await;
    let other = asset(2, "ip:10.77.2.99", &[], &["10.77.2.99"]);
    sync(&mut c, vec![vec![s7_300(1), other]]).await.unwrap();

    // While it runs, the store is locked: importing into it directly is refused (the command
    // then goes through the API, see below).
    let e = otwatch_manager::advisories::import_in(&fx.data(), &[sample_dir()]).unwrap_err();
    assert!(
        matches!(e, otwatch_manager::advisories::ImportError::Running(_)),
        "{e}"
    );

    fx.stop().await;
    let r = otwatch_manager::advisories::import_in(&fx.data(), &[sample_dir()]).unwrap();
    assert_eq!((r.added, r.skipped.len()), (8, 0));
    fx.restart_same_port().await;

    let mut op = fx.operator("ann", OperatorRole::Viewer).await;
    let listed = all_assets(&mut op, "plant-a").await;
    let s7 = listed
        .assets
        .iter()
        .find(|a| a.id == "plant-a/mac:02:4d:00:00:02:16")
        .unwrap();
    let want = vec![
        ("CVE-2018-16561".to_string(), "affected".to_string()),
        ("CVE-2019-10936".to_string(), "affected".to_string()),
        ("CVE-2020-15791".to_string(), "affected".to_string()),
    ];
    assert_eq!(cves(s7), want);
    let plain = listed
        .assets
        .iter()
        .find(|a| a.id == "plant-a/ip:10.77.2.99")
        .unwrap();
    assert!(cves(plain).is_empty());
    let one = op
        .get_asset(GetAssetRequest { id: s7.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cves(&one), want);
    let v = &one.asset.as_ref().unwrap().vulnerabilities[1];
    assert_eq!(
        (v.advisory.as_str(), v.cvss, v.fixed_in.as_str()),
        ("ICSA-19-283-02", 7.5, "V3.2.17")
    );

    // A filtered listing serves the same.
    let filtered = op
        .list_assets(ListAssetsRequest {
            site: "plant-a".into(),
            vendor: "siemens".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cves(&filtered.assets[0]), want);

    // Any operator may list the advisories.
    let r = op
        .list_advisories(ListAdvisoriesRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.advisories.len(), r.total), (5, 8));
    assert_eq!(r.advisories[0].id, "ICSA-18-310-02");
    // The next page starts after the last id listed, in id order.
    let rest = op
        .list_advisories(ListAdvisoriesRequest {
            page_size: 5,
            page_token: r.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rest.advisories.len(), rest.total), (3, 8));
    assert!(rest.next_page_token.is_empty());
    let ids: Vec<&str> = r
        .advisories
        .iter()
        .chain(&rest.advisories)
        .map(|a| a.id.as_str())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // A token of other text, or an offset of older managers, is refused with what to do.
    for (token, text, says) in [
        (r.next_page_token.as_str(), "siemens", "other filters"),
        ("5", "", "next_page_token"),
    ] {
        let r = op
            .list_advisories(ListAdvisoriesRequest {
                text: text.into(),
                page_token: token.into(),
                ..Default::default()
            })
            .await;
        assert_bad_token(r, token, says);
    }

    let cred = path_str(&fx.operator_creds("bob", OperatorRole::Viewer));
    for format in ["table", "json"] {
        let cli = otwatch_manager::cli::Cli::try_parse_from([
            "otwatch",
            "--manager",
            &fx.url(),
            "--cred",
            &cred,
            "--format",
            format,
            "advisories",
        ])
        .unwrap();
        let mut out = Vec::new();
        otwatch_manager::cli::run(cli, &mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        if format == "table" {
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 9, "{out}");
            assert!(lines[0].starts_with("ID "), "{out}");
            assert!(
                out.contains("ICSA-19-283-02  12 ")
                    && out.contains("Siemens PROFINET Devices (Update K)"),
                "{out}"
            );
        } else {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v.as_array().unwrap().len(), 8);
            assert_eq!(v[3]["id"], "ICSA-19-283-02");
            assert_eq!(v[3]["products"], 93);
        }
    }
}

#[test]
fn the_import_command_is_idempotent_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("m");
    otwatch_manager::pki::init(&data, &[], "test-manager").unwrap();
    let feed = dir.path().join("feed");
    std::fs::create_dir(&feed).unwrap();
    for e in std::fs::read_dir(sample_dir()).unwrap().flatten() {
        std::fs::copy(e.path(), feed.join(e.file_name())).unwrap();
    }
    std::fs::write(feed.join("truncated.json"), b"{\"document\":").unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_otwatch-manager"))
            .args(["advisories", "import", "--state"])
            .arg(&data)
            .arg(&feed)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains(": 8 read, 8 added, 0 replaced, 0 unchanged, 0 KEV catalogs, 1 skipped"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.starts_with(&format!(
            "warning: advisory file skipped: {}: CSAF 2.0 document:",
            feed.join("truncated.json").display()
        )),
        "{stderr}"
    );
    let second = run();
    assert!(
        String::from_utf8_lossy(&second.stdout)
            .contains(": 8 read, 0 added, 0 replaced, 8 unchanged"),
        "{second:?}"
    );
}

#[tokio::test]
async fn the_import_command_goes_through_a_running_manager_which_matches_at_once() {
    let fx = Fixture::start().await;
    let mut c = sensor_at(&fx, "plant-a").await;
    sync(&mut c, vec![vec![s7_300(1)]]).await.unwrap();
    let mut op = fx.operator("ann", OperatorRole::Viewer).await;
    let id = "plant-a/mac:02:4d:00:00:02:16".to_string();
    let before = op
        .get_asset(GetAssetRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(cves(&before).is_empty());

    // Only admins may import.
    let e = op
        .import_advisories(tokio_stream::iter(Vec::<AdvisoryDocument>::new()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);

    let feed = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(sample_dir()).unwrap().flatten() {
        std::fs::copy(e.path(), feed.path().join(e.file_name())).unwrap();
    }
    std::fs::write(feed.path().join("truncated.json"), b"{\"document\":").unwrap();
    let data = fx.data();
    let dir = feed.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_otwatch-manager"))
            .args(["advisories", "import", "--state"])
            .arg(&data)
            .arg(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("the running manager now matches assets against 8 advisories\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(": 8 read, 8 added, 0 replaced, 0 unchanged, 0 KEV catalogs, 1 skipped"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: advisory file skipped: ") && stderr.contains("truncated.json"),
        "{stderr}"
    );
    // Matched at once, without a restart.
    let after = op
        .get_asset(GetAssetRequest { id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cves(&after).len(), 3, "{:?}", cves(&after));
    expect_log(&["advisories imported", "by=otwatch-manager", "added=8"]).await;
}
