use super::*;
use otwatch_proto::v1::{delta, Delta};

fn asset_delta(seq: u64, id: &str) -> Delta {
    Delta {
        seq,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Asset(Asset {
            id: id.into(),
            ..Default::default()
        })),
    }
}

fn enrolled(store: &SledStore) {
    store
        .create_token(
            [1; 32],
            TokenRecord {
                site: "a".into(),
                created_at: 0,
                expires_at: 100,
                used_by: None,
            },
        )
        .unwrap();
    let r = store
        .enroll(
            [1; 32],
            10,
            SensorRecord {
                id: "s-1".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(matches!(r, Enrolled::Ok(ref s) if s.site == "a"));
}

#[test]
fn batches_apply_once_with_gaps_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        enrolled(&store);
        let r = store.enroll([1; 32], 11, SensorRecord::default()).unwrap();
        assert!(matches!(r, Enrolled::Refused(TokenError::Used(..))));
        let batch = vec![asset_delta(1, "ip:10.0.0.1"), asset_delta(5, "ip:10.0.0.2")];
        assert_eq!(
            store
                .apply_batch(Batch::new("s-1", &batch), 20)
                .unwrap()
                .applied_seq,
            5
        );
        let again = store.apply_batch(Batch::new("s-1", &batch), 21).unwrap();
        assert_eq!(again.applied_seq, 5);
        assert!(again.changes.is_empty());
        assert!(store.apply_batch(Batch::new("s-9", &batch), 21).is_err());
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.sensor("s-1").unwrap().unwrap().applied_seq, 5);
    assert_eq!(store.assets_of("s-1").unwrap().len(), 2);
}

#[test]
fn expired_and_unknown_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    store
        .create_token(
            [2; 32],
            TokenRecord {
                site: "a".into(),
                created_at: 0,
                expires_at: 100,
                used_by: None,
            },
        )
        .unwrap();
    let r = store.enroll([2; 32], 100, SensorRecord::default()).unwrap();
    assert!(matches!(r, Enrolled::Refused(TokenError::Expired(..))));
    let r = store.enroll([3; 32], 1, SensorRecord::default()).unwrap();
    assert!(matches!(r, Enrolled::Refused(TokenError::Unknown)));
}

#[test]
fn a_batch_reports_the_site_and_the_sequence_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    enrolled(&store);
    let r = store
        .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 20)
        .unwrap();
    assert_eq!(
        (r.site.as_str(), r.previous_seq, r.applied_seq),
        ("a", 0, 1)
    );
    // A resend applies nothing.
    let r = store
        .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 21)
        .unwrap();
    assert_eq!((r.previous_seq, r.applied_seq, r.changes.len()), (1, 1, 0));
}

#[test]
fn a_group_commit_applies_each_batch_in_order_and_fails_only_the_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    enrolled(&store);
    let first = [asset_delta(1, "ip:10.0.0.1"), asset_delta(2, "ip:10.0.0.2")];
    let resend_and_more = [asset_delta(2, "ip:10.0.0.2"), asset_delta(3, "ip:10.0.0.3")];
    let r = store
        .apply_batches(
            &[
                Batch::new("s-1", &first),
                Batch::new("s-9", &first),
                Batch::new("s-1", &resend_and_more),
            ],
            30,
        )
        .unwrap();
    assert_eq!(r.len(), 3);
    let a = r[0].as_ref().unwrap();
    assert_eq!((a.previous_seq, a.applied_seq, a.changes.len()), (0, 2, 2));
    assert!(matches!(r[1], Err(StoreError::UnknownSensor(_))));
    // The second batch of s-1 sees the first: seq 2 is not applied twice.
    let c = r[2].as_ref().unwrap();
    assert_eq!((c.previous_seq, c.applied_seq, c.changes.len()), (2, 3, 1));
    assert_eq!(store.assets_of("s-1").unwrap().len(), 3);
}

#[test]
fn a_batch_must_continue_from_the_last_applied_delta() {
    let d = |seqs: &[u64]| -> Vec<Delta> { seqs.iter().map(|&s| asset_delta(s, "x")).collect() };
    // Continues (gaps inside a batch are deltas coalesced away on the sensor).
    assert_eq!(check_sequence(0, None, &d(&[1, 2, 5])), Ok(0));
    assert_eq!(check_sequence(4, Some(4), &d(&[7, 9])), Ok(0));
    assert_eq!(check_sequence(0, None, &[]), Ok(0));
    // A resend, whole or in part: the new deltas start later.
    assert_eq!(check_sequence(5, None, &d(&[1, 2, 5])), Ok(3));
    assert_eq!(check_sequence(3, None, &d(&[2, 3, 4])), Ok(2));
    // A gap: the deltas between were never received.
    let gap = BatchRefused::Gap {
        expected: 1042,
        got: 1100,
    };
    assert_eq!(check_sequence(1041, None, &d(&[1100])), Err(gap.clone()));
    assert_eq!(
        check_sequence(1041, Some(1099), &d(&[1105])),
        Err(gap.clone())
    );
    assert_eq!(
        gap.to_string(),
        "sequence gap: expected 1042, got 1100; the sensor must resend from 1042"
    );
    // Backwards or repeated inside the batch, a start that is not before the first delta.
    assert_eq!(
        check_sequence(0, None, &d(&[1, 3, 2])),
        Err(BatchRefused::NotIncreasing { prev: 3, next: 2 })
    );
    assert!(check_sequence(0, None, &d(&[1, 1])).is_err());
    assert!(check_sequence(0, Some(3), &d(&[3])).is_err());
    assert!(check_sequence(0, None, &d(&[0])).is_err());
}

#[test]
fn a_refused_batch_applies_nothing_and_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    enrolled(&store);
    let backwards = [asset_delta(2, "ip:10.0.0.2"), asset_delta(1, "ip:10.0.0.1")];
    let next = [asset_delta(1, "ip:10.0.0.1")];
    let r = store
        .apply_batches(
            &[Batch::new("s-1", &backwards), Batch::new("s-1", &next)],
            30,
        )
        .unwrap();
    assert!(matches!(r[0], Err(StoreError::Refused(_))), "{:?}", r[0]);
    assert_eq!(r[1].as_ref().unwrap().applied_seq, 1);
    assert_eq!(store.assets_of("s-1").unwrap().len(), 1);
}

#[test]
fn heartbeat_bookkeeping_does_not_wait_for_the_disk_but_survives_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        enrolled(&store);
        let before = store.flushes();
        for seen in 1..=100 {
            store
                .note_sensor("s-1", &move |r| r.last_seen = seen)
                .unwrap();
        }
        assert_eq!(store.flushes(), before, "no flush per heartbeat");
        store.update_sensor("s-1", &|r| r.revoked = true).unwrap();
        assert_eq!(store.flushes(), before + 1, "a durable update flushes");
    }
    let store = SledStore::open(dir.path()).unwrap();
    let rec = store.sensor("s-1").unwrap().unwrap();
    assert_eq!((rec.last_seen, rec.revoked), (100, true));
}

#[test]
fn records_from_before_the_counts_are_counted_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        enrolled(&store);
        let batch = [asset_delta(1, "ip:10.0.0.1"), asset_delta(2, "ip:10.0.0.2")];
        store.apply_batch(Batch::new("s-1", &batch), 20).unwrap();
        assert_eq!(store.sensor("s-1").unwrap().unwrap().held.assets, 2);
        // As an older manager left it.
        store
            .update_sensor("s-1", &|r| r.held = Held::default())
            .unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let held = store.sensor("s-1").unwrap().unwrap().held;
    assert_eq!((held.counted, held.assets, held.connections), (true, 2, 0));
}

#[test]
fn a_half_written_snapshot_does_not_keep_the_store_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        enrolled(&store);
        store
            .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 20)
            .unwrap();
    }
    // What a snapshot cut short by a full disk leaves (sled takes it for the newest one).
    std::fs::write(
        dir.path().join("snap.FFFFFFFFFFFFFFFF.generating"),
        [7u8; 100],
    )
    .unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.assets_of("s-1").unwrap().len(), 1);
    assert_eq!(store.applied_seq("s-1").unwrap(), Some(1));
}

fn run(playbook: &str, run_id: &str, attempt: u32, at: i64) -> RunRecord {
    RunRecord {
        playbook: playbook.into(),
        alert_id: format!("s-1/{run_id}"),
        run_id: run_id.into(),
        dry_run: false,
        attempt,
        started_at: at,
        ended_at: at + 1,
        actions: Vec::new(),
        ok: attempt > 1,
    }
}

#[test]
fn playbook_runs_are_logged_listed_newest_first_and_age_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    store.record_playbook_run(&run("pb", "r1", 1, 100)).unwrap();
    store.record_playbook_run(&run("pb", "r1", 2, 200)).unwrap();
    store.record_playbook_run(&run("pb", "r2", 1, 300)).unwrap();
    store
        .record_playbook_run(&run("other", "r1", 1, 50))
        .unwrap();
    // The same attempt again replaces it.
    store.record_playbook_run(&run("pb", "r2", 1, 300)).unwrap();
    let ids = |v: Vec<RunRecord>| -> Vec<(String, String, u32)> {
        v.into_iter()
            .map(|r| (r.playbook, r.run_id, r.attempt))
            .collect()
    };
    let t = |p: &str, r: &str, a: u32| (p.to_string(), r.to_string(), a);
    assert_eq!(
        ids(store.playbook_runs(Some("pb"), None, 10).unwrap()),
        [t("pb", "r2", 1), t("pb", "r1", 2), t("pb", "r1", 1)]
    );
    assert_eq!(
        ids(store.playbook_runs(Some("pb"), Some("r1"), 10).unwrap()),
        [t("pb", "r1", 2), t("pb", "r1", 1)]
    );
    assert_eq!(store.playbook_runs(None, None, 10).unwrap().len(), 4);
    assert_eq!(
        ids(store.playbook_runs(None, None, 1).unwrap()),
        [t("pb", "r2", 1)]
    );

    // Retention: runs ended before the cutoff go, the others stay.
    let mut found = Vec::new();
    store
        .survey(StoredKind::PlaybookRuns, &mut |k, age| {
            found.push((k.to_vec(), age))
        })
        .unwrap();
    assert_eq!(found.len(), 4);
    let keys: Vec<Vec<u8>> = found.into_iter().map(|(k, _)| k).collect();
    let gone = store
        .remove_expired(StoredKind::PlaybookRuns, &keys, 201)
        .unwrap();
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert_eq!(
        ids(store.playbook_runs(None, None, 10).unwrap()),
        [t("pb", "r2", 1), t("pb", "r1", 2)]
    );
    let totals = store.removed_totals().unwrap();
    assert!(
        totals.contains(&(StoredKind::PlaybookRuns, 2)),
        "{totals:?}"
    );
}

#[test]
fn asset_tags_add_up_sorted_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let tags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store
            .add_asset_tags("s-1/a", &tags(&["incident", "plc_stop"]))
            .unwrap(),
        tags(&["incident", "plc_stop"])
    );
    assert_eq!(
        store
            .add_asset_tags("s-1/a", &tags(&["audit", "incident"]))
            .unwrap(),
        tags(&["audit", "incident", "plc_stop"])
    );
    store.add_asset_tags("s-2/b", &tags(&["x"])).unwrap();
    assert_eq!(
        store.asset_tags().unwrap(),
        [
            (
                "s-1/a".to_string(),
                tags(&["audit", "incident", "plc_stop"])
            ),
            ("s-2/b".to_string(), tags(&["x"]))
        ]
    );
}
