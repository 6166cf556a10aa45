#![allow(clippy::unwrap_used)]

use super::*;
use crate::store::SledStore;
use serde_json::Value;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/advisories")
}

fn counts(r: &LoadReport) -> (usize, usize, usize, usize) {
    (r.added, r.replaced, r.unchanged, r.skipped.len())
}

/// icsa-19-283-02 (revision 12) rewritten as its earlier revision `version`, released `date`.
fn revision_of_profinet(version: &str, date: &str) -> Vec<u8> {
    let bytes = std::fs::read(sample_dir().join("icsa-19-283-02.json")).unwrap();
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
    let tracking = &mut doc["document"]["tracking"];
    tracking["version"] = version.into();
    tracking["current_release_date"] = date.into();
    serde_json::to_vec(&doc).unwrap()
}

#[test]
fn import_is_idempotent_and_writes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let first = import(&store, &[sample_dir()]).unwrap();
    assert_eq!(counts(&first), (8, 0, 0, 0));
    let flushes = store.flushes();
    let again = import(&store, &[sample_dir()]).unwrap();
    assert_eq!(counts(&again), (0, 0, 8, 0));
    assert_eq!(store.flushes(), flushes, "nothing written");

    let catalog = catalog_from(&store).unwrap();
    let listed = summaries(&catalog, "");
    assert_eq!(listed.len(), 8);
    let profinet = listed.iter().find(|a| a.id == "ICSA-19-283-02").unwrap();
    assert_eq!(
        (
            profinet.revision.as_str(),
            profinet.products,
            profinet.format.as_str()
        ),
        ("12", 93, "csaf")
    );
    assert_eq!(profinet.title, "Siemens PROFINET Devices (Update K)");
    assert!(profinet.cves >= 1);
    let s7 = summaries(&catalog, "s7-300");
    assert!(s7.iter().all(|a| a.title.contains("S7-300")) && !s7.is_empty());
}

#[test]
fn a_newer_revision_replaces_the_stored_one_and_an_older_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(
        &old,
        revision_of_profinet("11", "2021-01-12T00:00:00.000000Z"),
    )
    .unwrap();
    assert_eq!(
        counts(&import(&store, std::slice::from_ref(&old)).unwrap()),
        (1, 0, 0, 0)
    );
    let newer = sample_dir().join("icsa-19-283-02.json");
    assert_eq!(counts(&import(&store, &[newer]).unwrap()), (0, 1, 0, 0));
    assert_eq!(counts(&import(&store, &[old]).unwrap()), (0, 0, 1, 0));
    let catalog = catalog_from(&store).unwrap();
    assert_eq!(catalog.get("ICSA-19-283-02").unwrap().revision, "12");

    // Both revisions in one import: the newer is kept, whatever the file order.
    let both = tempfile::tempdir().unwrap();
    std::fs::write(
        both.path().join("a-newer.json"),
        revision_of_profinet("13", "2022-01-01T00:00:00.000000Z"),
    )
    .unwrap();
    std::fs::write(
        both.path().join("b-older.json"),
        revision_of_profinet("10", "2020-01-01T00:00:00.000000Z"),
    )
    .unwrap();
    let fresh = SledStore::open(&both.path().join("db")).unwrap();
    import(&fresh, &[both.path().to_path_buf()]).unwrap();
    let catalog = catalog_from(&fresh).unwrap();
    assert_eq!(catalog.get("ICSA-19-283-02").unwrap().revision, "13");
}

#[test]
fn bad_files_are_skipped_and_the_rest_imports() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed");
    std::fs::create_dir(&feed).unwrap();
    std::fs::copy(
        sample_dir().join("icsa-23-012-08.json"),
        feed.join("icsa-23-012-08.json"),
    )
    .unwrap();
    std::fs::write(feed.join("bad.json"), b"[1, 2").unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let r = import(&store, std::slice::from_ref(&feed)).unwrap();
    assert_eq!(counts(&r), (1, 0, 0, 1));
    assert_eq!(r.skipped[0].path, feed.join("bad.json"));
    let e = import(&store, &[dir.path().join("missing")]).unwrap_err();
    assert!(matches!(e, ImportError::Load(_)), "{e}");
}

#[test]
fn importing_into_the_store_of_a_serving_manager_says_it_serves() {
    let data = tempfile::tempdir().unwrap();
    let dir = DataDir(data.path().to_path_buf());
    let _running = SledStore::open(&dir.db()).unwrap();
    std::fs::write(dir.serving(), "127.0.0.1:7443").unwrap();
    let e = import_in(data.path(), &[sample_dir()]).unwrap_err();
    // The command then imports through the manager's API (tests/advisories.rs).
    assert!(matches!(e, ImportError::Running(_)), "{e}");
}

/// Matching each device identity once gives every asset what matching it alone gives, also
/// when two assets share vendor, model and firmware but one's evidence ties that firmware to
/// another model.
#[test]
fn served_assets_match_each_identity_once_and_serve_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    import(&store, &[sample_dir()]).unwrap();
    let catalog = catalog_from(&store).unwrap();
    let s7 = |id: &str, firmware: &str| Asset {
        id: id.into(),
        vendor: "Siemens".into(),
        model: "6ES7 315-2EH14-0AB0".into(),
        firmware: firmware.into(),
        ..Default::default()
    };
    let mut doubtful = s7("c", "V3.2.6");
    doubtful.evidence = vec![
        otwatch_proto::v1::Evidence {
            field: "firmware".into(),
            value: "V3.2.6".into(),
            source: "snmp".into(),
            ..Default::default()
        },
        otwatch_proto::v1::Evidence {
            field: "model".into(),
            value: "something else".into(),
            source: "snmp".into(),
            ..Default::default()
        },
    ];
    let assets = [
        s7("a", "V3.2.6"),
        s7("b", "V3.2.6"),
        doubtful,
        s7("d", ""),
        s7("e", "V3.2.17"),
        Asset::default(),
    ];
    let mut served = ServedAssets::new(&catalog);
    for a in &assets {
        assert_eq!(served.serve(a), served_asset(&catalog, a), "{}", a.id);
    }
    assert!(!served_asset(&catalog, &assets[0])
        .vulnerabilities
        .is_empty());
    assert_ne!(
        served_asset(&catalog, &assets[0]).vulnerabilities,
        served_asset(&catalog, &assets[2]).vulnerabilities
    );
    assert_eq!(served.matched.len(), 5);
}
