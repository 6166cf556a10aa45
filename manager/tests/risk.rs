//! Risk in the manager end to end: a sensor's S7-300 with advisories imported gives GetRisk its
//! CVEs as findings, a remediation, the score and band of docs/RISK.md; viewers may ask; an
//! unknown site is NOT_FOUND; the fleet's assessment without a site; `otwatch risk` as table and
//! JSON through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;

const S7: &str = "plant-a/mac:02:4d:00:00:02:16";

/// Runs the `otwatch` binary (off the runtime's thread: the manager runs on it).
async fn otwatch(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_otwatch"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn get_risk_scores_a_vulnerable_s7_300_and_otwatch_risk_shows_it() {
    let mut fx = Fixture::start().await;
    let mut c = sensor_at(&fx, "plant-a").await;
    // HMI (level 2) - gateway - PLC: the gateway is the PLC's only way to its HMI.
    let hmi = hmi_10(2);
    let gw = gateway_1(3);
    let links = vec![
        connection(4, "10.77.2.10", "10.77.2.1", 10),
        connection(5, "10.77.2.1", "10.77.2.22", 10),
    ];
    let mut batch = vec![s7_300_at_level_1(1), hmi, gw];
    batch.extend(links);
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

    let mut op = fx.operator("ann", OperatorRole::Viewer).await;
    let r = op
        .get_risk(GetRiskRequest {
            site: "plant-a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // The S7-300's three CVEs are its findings, most severe first.
    let s7 = &r.assets[0];
    assert_eq!(r.assets.len(), 1, "{r:?}");
    assert_eq!((s7.asset.as_str(), s7.name.as_str()), (S7, "10.77.2.22"));
    let found: Vec<(&str, f64, &str)> = s7
        .findings
        .iter()
        .map(|f| (f.kind.as_str(), f.severity, f.detail.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "vulnerability",
                7.5,
                "CVE-2018-16561 (ICSA-19-043-04, CVSS 7.5)"
            ),
            (
                "vulnerability",
                7.5,
                "CVE-2019-10936 (ICSA-19-283-02, CVSS 7.5)"
            ),
            (
                "vulnerability",
                5.9,
                "CVE-2020-15791 (ICSA-20-252-02, CVSS 5.9)"
            ),
        ]
    );
    // By hand (docs/RISK.md): S = 7.5 + 0.1 (one more finding >= 7) = 7.6; E = 0.6 (internal);
    // C = 1.0 (controller): risk = 10 x 7.6 x 0.6 x 1.0 = 45.6. Score = 100 x (1 - 45.6/200)
    // = 77.2 -> 77: fair.
    assert_eq!(
        (s7.role.as_str(), s7.exposure.as_str()),
        ("controller", "internal")
    );
    assert_eq!(s7.risk, 45.6);
    assert_eq!(
        (r.site.as_str(), r.security_score, r.band.as_str()),
        ("plant-a", 77, "fair")
    );
    // Updating to V3.2.17 closes CVE-2019-10936 and CVE-2018-16561 (fixed in V3.X.16, which
    // V3.2.17 reaches); the 5.9 remains: S = 5.9, risk 10 x 5.9 x 0.6 = 35.4, so -10.2.
    let fix = &r.remediations[0];
    assert_eq!(
        (
            fix.asset.as_str(),
            fix.action.as_str(),
            fix.cves.clone(),
            fix.max_cvss,
            fix.risk_reduced
        ),
        (
            S7,
            "update to V3.2.17",
            vec!["CVE-2018-16561".to_string(), "CVE-2019-10936".to_string()],
            7.5,
            10.2
        )
    );
    // The one update, and the mitigations of the advisory that names no fixed version.
    assert_eq!(r.remediations.len(), 2);
    // The gateway is the PLC's only way to its HMI.
    let spof = &r.single_points_of_failure[..];
    assert_eq!(spof.len(), 1);
    assert_eq!(spof[0].asset, "plant-a/mac:02:00:00:00:00:01");
    assert_eq!(spof[0].cut_controllers, [S7]);
    assert_eq!(spof[0].cut_from, ["plant-a/mac:02:00:00:00:00:10"]);
    assert!(r.internet.is_empty() && r.level_skips.is_empty());

    // An unknown site is NOT_FOUND, naming the sites there are.
    let e = op
        .get_risk(GetRiskRequest {
            site: "plant-z".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert_eq!(
        e.message(),
        "no site \"plant-z\": the sites are plant-a, plant-b (`otwatch sites`)"
    );

    // Without a site: the fleet's findings over every site's assets, and as its score the mean
    // of the sites' (plant-a 77, plant-b without findings 100): 88.5 -> 89, good.
    let fleet = op
        .get_risk(GetRiskRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            fleet.site.as_str(),
            fleet.security_score,
            fleet.band.as_str()
        ),
        ("", 89, "good")
    );
    assert_eq!(
        (fleet.assets.clone(), fleet.remediations.clone()),
        (r.assets.clone(), r.remediations.clone())
    );

    // `otwatch risk` through the binary.
    let cred = path_str(&fx.operator_creds("bob", OperatorRole::Viewer));
    let args = |extra: &[&str]| -> Vec<String> {
        ["--manager", &fx.url(), "--cred", &cred, "risk"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let table = otwatch(args(&["--site", "plant-a"])).await;
    assert!(table.status.success(), "{table:?}");
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.starts_with("site plant-a: security score 77/100 (fair)\n"),
        "{text}"
    );
    assert!(text.contains(
        "  1. update to V3.2.17 \u{2014} 10.77.2.22 (plant-a/mac:02:4d:00:00:02:16): closes 2 CVEs, max CVSS 7.5, risk \u{2212}10.2\n"
    ), "{text}");
    assert!(text.contains(
        "   45.6  10.77.2.22 (plant-a/mac:02:4d:00:00:02:16)  controller, internal exposure, 3 findings\n         [7.5] vulnerability: CVE-2018-16561 (ICSA-19-043-04, CVSS 7.5)\n"
    ), "{text}");
    assert!(text.contains(
        "SINGLE POINTS OF FAILURE\n  10.77.2.1 (plant-a/mac:02:00:00:00:00:01): cuts plant-a/mac:02:4d:00:00:02:16 from plant-a/mac:02:00:00:00:00:10\n"
    ), "{text}");
    let json = otwatch(args(&["--site", "plant-a", "--format", "json"])).await;
    assert!(json.status.success(), "{json:?}");
    let back: RiskAssessment = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (v["schema"].as_str(), v["band"].as_str()),
        (Some("otwatch.risk.v1"), Some("fair"))
    );

    let fleet_table = otwatch(args(&[])).await;
    let text = String::from_utf8(fleet_table.stdout).unwrap();
    assert!(text.starts_with("fleet (2 sites): security score 89/100 (good)\n\nSITES\n  plant-a   77/100  fair      1 assets at risk\n  plant-b  100/100  good      0 assets at risk\n"), "{text}");

    let unknown = otwatch(args(&["--site", "plant-z"])).await;
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("error: not found: no site \"plant-z\": the sites are plant-a, plant-b"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_approved_inventory_makes_new_devices_shadow_and_the_trend_keeps_each_day() {
    let mut fx = Fixture::start().await;
    let mut c = sensor_at(&fx, "plant-a").await;
    let hmi = hmi_10(2);
    sync(&mut c, vec![vec![s7_300_at_level_1(1), hmi]])
        .await
        .unwrap();
    let mut cb = sensor_at(&fx, "plant-b").await;
    sync(
        &mut cb,
        vec![vec![asset(1, "ip:10.0.0.5", &[], &["10.0.0.5"])]],
    )
    .await
    .unwrap();

    let analyst = path_str(&fx.operator_creds("ann", OperatorRole::Analyst));
    let viewer = path_str(&fx.operator_creds("vic", OperatorRole::Viewer));
    let run = |cred: &str, extra: &[&str]| -> Vec<String> {
        ["--manager", &fx.url(), "--cred", cred]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    // Without an approved inventory nothing is shadow, and the assessment says so.
    let mut op = fx.operator("ops", OperatorRole::Viewer).await;
    let shadow_of = |site: &str| ListAssetsRequest {
        site: site.into(),
        shadow: true,
        ..Default::default()
    };
    assert_eq!(
        op.list_assets(shadow_of(""))
            .await
            .unwrap()
            .into_inner()
            .total,
        0
    );
    let r = op
        .get_risk(GetRiskRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(r.shadow_devices.is_empty());
    assert_eq!(r.unapproved_sites, ["plant-a", "plant-b"]);

    // A viewer may not approve; an analyst approves plant-a's baseline.
    let refused = otwatch(run(
        &viewer,
        &["assets", "approve", "--all", "--site", "plant-a"],
    ))
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("role viewer cannot approve assets"),
        "{stderr}"
    );
    let ok = otwatch(run(
        &analyst,
        &["assets", "approve", "--all", "--site", "plant-a"],
    ))
    .await;
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        "2 assets approved; 2 approved in site plant-a\n"
    );
    // Again: nothing changes.
    let again = otwatch(run(
        &analyst,
        &["assets", "approve", "--all", "--site", "plant-a"],
    ))
    .await;
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "0 assets approved; 2 approved in site plant-a\n"
    );

    // The approval alone changes the assessment (a kept one is not served again).
    let r = op
        .get_risk(GetRiskRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.unapproved_sites, ["plant-b"]);
    assert!(r.shadow_devices.is_empty());

    // A laptop appears on plant-a: a shadow device; plant-b has no inventory, so none there.
    let laptop = typed(
        3,
        "mac:02:00:00:00:00:99",
        "02:00:00:00:00:99",
        "10.77.2.99",
        "workstation",
        3,
    );
    sync(&mut c, vec![vec![laptop]]).await.unwrap();
    const LAPTOP: &str = "plant-a/mac:02:00:00:00:00:99";
    let listed = op.list_assets(shadow_of("")).await.unwrap().into_inner();
    let ids: Vec<(&str, bool, bool)> = listed
        .assets
        .iter()
        .map(|a| (a.id.as_str(), a.shadow, a.approved))
        .collect();
    assert_eq!(ids, [(LAPTOP, true, false)]);
    let s7 = op
        .get_asset(GetAssetRequest { id: S7.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((s7.approved, s7.shadow), (true, false));
    let r = op
        .get_risk(GetRiskRequest::default())
        .await
        .unwrap()
        .into_inner();
    let shadow: Vec<(&str, &str, &str)> = r
        .shadow_devices
        .iter()
        .map(|d| (d.asset.as_str(), d.name.as_str(), d.device_type.as_str()))
        .collect();
    assert_eq!(shadow, [(LAPTOP, "10.77.2.99", "workstation")]);
    assert_eq!(r.unapproved_sites, ["plant-b"]);
    let table = otwatch(run(&viewer, &["assets", "--shadow"])).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains(LAPTOP) && !text.contains(S7), "{text}");
    let risk = otwatch(run(&viewer, &["risk", "--site", "plant-a"])).await;
    let text = String::from_utf8_lossy(&risk.stdout);
    assert!(
        text.contains("SHADOW DEVICES (not in the approved inventory)\n  10.77.2.99 (plant-a/mac:02:00:00:00:00:99)  workstation  first seen "),
        "{text}"
    );

    // An unknown id is refused; the laptop approved by id is no longer shadow.
    let e = op
        .approve_assets(ApproveAssetsRequest {
            ids: vec!["plant-a/ip:10.9.9.9".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "a viewer: {e:?}");
    let mut an = fx.operator("ann2", OperatorRole::Analyst).await;
    let e = an
        .approve_assets(ApproveAssetsRequest {
            ids: vec!["plant-a/ip:10.9.9.9".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = an
        .approve_assets(ApproveAssetsRequest {
            ids: vec![LAPTOP.into()],
            all: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let done = an
        .approve_assets(ApproveAssetsRequest {
            ids: vec![LAPTOP.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((done.changed, done.approved), (1, 3));
    assert_eq!(
        op.list_assets(shadow_of("plant-a"))
            .await
            .unwrap()
            .into_inner()
            .total,
        0
    );
    // Taken out again, it is shadow again; approvals outlive a restart.
    let out = otwatch(run(&analyst, &["assets", "unapprove", LAPTOP])).await;
    assert!(out.status.success(), "{out:?}");

    // Yesterday's score, as the hourly recorder would have left it.
    let yesterday = otwatch_manager::pki::now_secs() - 86_400;
    {
        let store = &fx.mgr.as_ref().unwrap().shared.store;
        otwatch_manager::risk::record_score(store.as_ref(), "plant-a", yesterday, 40).unwrap();
    }
    fx.restart_same_port().await;
    let mut op = fx.operator("ops2", OperatorRole::Viewer).await;
    let listed = op
        .list_assets(shadow_of("plant-a"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .assets
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        [LAPTOP]
    );
    let r = op
        .get_risk(GetRiskRequest {
            site: "plant-a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let trend: Vec<(String, u32)> = r
        .trend
        .iter()
        .map(|p| (p.date.clone(), p.security_score))
        .collect();
    assert_eq!(
        trend,
        [
            (otwatch_manager::risk::day_of(yesterday), 40),
            (
                otwatch_manager::risk::day_of(otwatch_manager::pki::now_secs()),
                r.security_score
            )
        ]
    );
    let viewer = path_str(&fx.operator_creds("vic2", OperatorRole::Viewer));
    let risk = otwatch(
        [
            "--manager",
            &fx.url(),
            "--cred",
            &viewer,
            "risk",
            "--site",
            "plant-a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    let text = String::from_utf8_lossy(&risk.stdout);
    assert!(
        text.contains(&format!(
            "trend: 40 (poor) on {} \u{2192} {} ({}) on ",
            otwatch_manager::risk::day_of(yesterday),
            r.security_score,
            r.band
        )),
        "{text}"
    );
}
