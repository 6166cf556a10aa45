//! The store's contract, run against both stores ([`SledStore`], and [`PgStore`] on a server
//! the test starts: `tests/common/postgres.rs`), and the sled store's own behaviour.

use super::*;
use otwatch_proto::v1::{delta, Delta};

#[path = "../../tests/common/postgres.rs"]
mod postgres;
#[path = "../../../tests/skip.rs"]
mod skip;

/// Where a test's store lives: it may be opened again (a restart).
trait Place {
    type Store: FleetStore;
    fn open(&self) -> Self::Store;
    /// The store queueing events by `router`'s rules.
    fn forwarding(&self, router: std::sync::Arc<crate::forward::Router>) -> Self::Store;
    /// The store with these quotas.
    fn quotas(&self, quotas: Quotas) -> Self::Store;
}

struct SledPlace(tempfile::TempDir);

impl Place for SledPlace {
    type Store = SledStore;
    fn open(&self) -> SledStore {
        SledStore::open(self.0.path()).unwrap()
    }
    fn forwarding(&self, router: std::sync::Arc<crate::forward::Router>) -> SledStore {
        self.open().with_forwarding(router)
    }
    fn quotas(&self, quotas: Quotas) -> SledStore {
        self.open().with_quotas(quotas)
    }
}

struct PgPlace(postgres::Postgres);

impl Place for PgPlace {
    type Store = PgStore;
    fn open(&self) -> PgStore {
        PgStore::open(&self.0.url, None).unwrap()
    }
    fn forwarding(&self, router: std::sync::Arc<crate::forward::Router>) -> PgStore {
        self.open().with_forwarding(router)
    }
    fn quotas(&self, quotas: Quotas) -> PgStore {
        self.open().with_quotas(quotas)
    }
}

fn sled() -> SledPlace {
    SledPlace(tempfile::tempdir().unwrap())
}

/// A PostgreSQL server of the test's own (`None`: not installed here; skipped).
fn pg() -> Option<PgPlace> {
    postgres::Postgres::start().map(PgPlace)
}

/// Runs each contract test (a function taking a [`Place`]) against both stores.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_sled {
            $(#[test]
            fn $name() {
                super::$name(&super::sled());
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $name() {
                if let Some(p) = super::pg() {
                    super::$name(&p);
                }
            })*
        }
    };
}

contract!(
    playbook_runs_are_logged_listed_newest_first_and_age_out,
    asset_tags_add_up_sorted_once_each,
    batches_apply_once_with_gaps_and_survive_reopen,
    expired_and_unknown_tokens_are_refused,
    a_batch_reports_the_site_and_the_sequence_before_and_after,
    a_group_commit_applies_each_batch_in_order_and_fails_only_the_bad_one,
    a_refused_batch_applies_nothing_and_fails_alone,
    records_from_before_the_counts_are_counted_at_open,
    bookkeeping_updates_survive_a_reopen,
    alerts_keep_operator_state_and_reopen_on_new_occurrences,
    approvals_scores_advisories_and_operators_are_kept,
    forwarded_events_are_queued_with_the_change_and_delivered_once,
    retention_removes_old_records_and_counts_them,
    quotas_refuse_new_records_but_update_those_held,
);

fn quotas_refuse_new_records_but_update_those_held(place: &impl Place) {
    let store = place.quotas(Quotas {
        assets_per_sensor: 2,
        connections_per_sensor: 2,
        alerts_per_sensor: 1,
    });
    enrolled(&store);
    let batch = [
        asset_delta(1, "ip:10.0.0.1"),
        asset_delta(2, "ip:10.0.0.2"),
        asset_delta(3, "ip:10.0.0.3"),
        asset_delta(4, "ip:10.0.0.1"),
        alert_delta(5, "x", 1),
        alert_delta(6, "y", 1),
    ];
    let r = store.apply_batch(Batch::new("s-1", &batch), 20).unwrap();
    assert_eq!(r.over_quota, vec![2, 5]);
    assert_eq!(r.applied_seq, 6);
    let rec = store.sensor("s-1").unwrap().unwrap();
    assert_eq!(
        (rec.held.assets, rec.held.alerts, rec.over_quota),
        (2, 1, 2)
    );
    assert_eq!(store.assets_of("s-1").unwrap().len(), 2);
    // Removing one makes room again.
    let removed = Delta {
        seq: 7,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::AssetRemoved("ip:10.0.0.2".into())),
    };
    let r = store
        .apply_batch(
            Batch::new("s-1", &[removed, asset_delta(8, "ip:10.0.0.3")]),
            21,
        )
        .unwrap();
    assert!(r.over_quota.is_empty());
    let ids: Vec<String> = store
        .assets_of("s-1")
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, vec!["ip:10.0.0.1", "ip:10.0.0.3"]);
}

fn alert_delta(seq: u64, id: &str, count: u64) -> Delta {
    Delta {
        seq,
        at: "2024-01-01T00:00:00Z".into(),
        change: Some(delta::Change::Alert(otwatch_proto::v1::Alert {
            id: id.into(),
            count,
            last_seen: "2024-01-01T00:00:00Z".into(),
            ..Default::default()
        })),
    }
}

fn bookkeeping_updates_survive_a_reopen(place: &impl Place) {
    {
        let store = place.open();
        enrolled(&store);
        for seen in 1..=20 {
            store
                .note_sensor("s-1", &move |r| r.last_seen = seen)
                .unwrap();
        }
        let r = store.update_sensor("s-1", &|r| r.revoked = true).unwrap();
        assert!(r.is_some_and(|r| r.last_seen == 20 && r.revoked));
        assert!(store
            .update_sensor("s-9", &|r| r.revoked = true)
            .unwrap()
            .is_none());
    }
    let store = place.open();
    let rec = store.sensor("s-1").unwrap().unwrap();
    assert_eq!(
        (rec.last_seen, rec.revoked, rec.site.as_str()),
        (20, true, "a")
    );
    assert_eq!(store.sensors().unwrap().len(), 1);
    assert_eq!(store.applied_seq("s-1").unwrap(), Some(0));
    assert_eq!(store.applied_seq("s-9").unwrap(), None);
    assert!(store
        .token_site([1; 32])
        .unwrap()
        .is_some_and(|t| t.used_by.as_deref() == Some("s-1")));
}

fn alerts_keep_operator_state_and_reopen_on_new_occurrences(place: &impl Place) {
    let store = place.open();
    enrolled(&store);
    store
        .apply_batch(Batch::new("s-1", &[alert_delta(1, "x", 1)]), 20)
        .unwrap();
    let all = store.alerts().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].id.as_str(), all[0].state.as_str()),
        ("s-1/x", "new")
    );
    let fa = store
        .set_alert_state("s-1/x", "resolved", "ana", "2024-01-02T00:00:00Z", "a test")
        .unwrap()
        .unwrap();
    assert_eq!(
        (fa.state.as_str(), fa.updated_by.as_str()),
        ("resolved", "ana")
    );
    assert!(store
        .set_alert_state("s-1/nope", "resolved", "ana", "t", "")
        .unwrap()
        .is_none());
    // The same occurrences again keep the operator's state; more reopen it.
    store
        .apply_batch(Batch::new("s-1", &[alert_delta(2, "x", 1)]), 21)
        .unwrap();
    assert_eq!(store.alert("s-1/x").unwrap().unwrap().state, "resolved");
    store
        .apply_batch(Batch::new("s-1", &[alert_delta(3, "x", 2)]), 22)
        .unwrap();
    let fa = store.alert("s-1/x").unwrap().unwrap();
    assert_eq!(
        (fa.state.as_str(), fa.updated_by.as_str()),
        ("new", REOPENED_BY)
    );
    assert_eq!(store.sensor("s-1").unwrap().unwrap().held.alerts, 1);
    // The history: the operator's change with its comment, then the reopening. A comment
    // without a change is kept; nothing at all adds nothing.
    let history = |fa: &FleetAlert| -> Vec<(String, String, String)> {
        fa.history
            .iter()
            .map(|n| (n.by.clone(), n.state.clone(), n.comment.clone()))
            .collect()
    };
    let n = |by: &str, state: &str, c: &str| (by.to_string(), state.to_string(), c.to_string());
    assert_eq!(
        history(&fa),
        [n("ana", "resolved", "a test"), n(REOPENED_BY, "new", "")]
    );
    assert_eq!(fa.history[0].at, "2024-01-02T00:00:00Z");
    store
        .set_alert_state("s-1/x", "new", "bo", "t2", "looking at it")
        .unwrap();
    let fa = store
        .set_alert_state("s-1/x", "new", "bo", "t3", "")
        .unwrap()
        .unwrap();
    assert_eq!(history(&fa).len(), 3);
    assert_eq!(history(&fa)[2], n("bo", "new", "looking at it"));
    // At most HISTORY notes, the newest kept.
    for i in 0..60 {
        store
            .set_alert_state("s-1/x", "acknowledged", "cy", "t4", &format!("c{i}"))
            .unwrap();
    }
    let fa = store.alert("s-1/x").unwrap().unwrap();
    assert_eq!(fa.history.len(), ops::HISTORY);
    assert_eq!(fa.history.last().unwrap().comment, "c59");
    assert_eq!(fa.history[0].comment, "c10");
}

fn approvals_scores_advisories_and_operators_are_kept(place: &impl Place) {
    let store = place.open();
    let by = ApprovalRecord {
        by: "ana".into(),
        at: 5,
    };
    let ids = vec!["a/2".to_string(), "a/1".to_string()];
    assert_eq!(store.set_approved(&ids, Some(&by)).unwrap(), 2);
    assert_eq!(store.set_approved(&ids, Some(&by)).unwrap(), 0);
    assert_eq!(store.approved().unwrap(), vec!["a/1", "a/2"]);
    assert_eq!(store.set_approved(&ids[..1], None).unwrap(), 1);
    assert_eq!(store.approved().unwrap(), vec!["a/1"]);
    store.record_score("a", "2024-01-02", 70).unwrap();
    store.record_score("a", "2024-01-01", 60).unwrap();
    store.record_score("a", "2024-01-02", 75).unwrap();
    store.record_score("", "2024-01-01", 50).unwrap();
    assert_eq!(
        store.scores("a").unwrap(),
        vec![
            ("2024-01-01".to_string(), 60),
            ("2024-01-02".to_string(), 75)
        ]
    );
    assert_eq!(store.scores("").unwrap().len(), 1);
    store
        .put_advisory_documents(&[
            ("kev".into(), b"k1".to_vec()),
            ("advisory/1".into(), b"a".to_vec()),
        ])
        .unwrap();
    store
        .put_advisory_documents(&[("kev".into(), b"k2".to_vec())])
        .unwrap();
    let mut docs = Vec::new();
    store
        .advisory_documents(&mut |k, v| {
            docs.push((k.to_string(), v.to_vec()));
            Ok(())
        })
        .unwrap();
    assert_eq!(
        docs,
        vec![
            ("advisory/1".to_string(), b"a".to_vec()),
            ("kev".to_string(), b"k2".to_vec())
        ]
    );
    let tok = OperatorTokenRecord {
        name: "ana".into(),
        role: "admin".into(),
        created_at: 1,
        expires_at: 2,
    };
    store.create_operator_token([4; 32], tok.clone()).unwrap();
    assert_eq!(store.operator_token([4; 32]).unwrap(), Some(tok));
    assert_eq!(store.operator_token([5; 32]).unwrap(), None);
    store.revoke_operator("ana", 9).unwrap();
    assert_eq!(
        store.operator_revocations().unwrap(),
        vec![("ana".to_string(), 9)]
    );
    assert!(store.size_on_disk().unwrap() > 0);
}

fn forwarded_events_are_queued_with_the_change_and_delivered_once(place: &impl Place) {
    use crate::forward::queue::Done;
    let text = "[[destination]]\nname = \"shipper\"\ntype = \"file\"\npath = \"/nonexistent/f\"\n\n[[rule]]\nname = \"inventory\"\ndestination = \"shipper\"\nevents = [\"new_asset\"]\n";
    let cfg = crate::forward::ForwardConfig::parse("forwarding.toml", text).unwrap();
    let dest = cfg.destinations[0].clone();
    let router = std::sync::Arc::new(crate::forward::Router::new(cfg, "forwarding.toml".into()));
    let store = place.forwarding(router);
    enrolled(&store);
    store
        .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 20)
        .unwrap();
    // An update of the same asset is no new asset.
    let r = store
        .apply_batch(
            Batch::new(
                "s-1",
                &[asset_delta(2, "ip:10.0.0.1"), asset_delta(3, "ip:10.0.0.2")],
            ),
            21,
        )
        .unwrap();
    assert_eq!(r.forwarded.len(), 1);
    let pending = store.forward_pending("shipper", 10).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending[0].0 < pending[1].0, "oldest first");
    let stats = store.forward_stats().unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].1.queued, stats[0].1.enqueued_total), (2, 2));
    store
        .forward_done("shipper", &[pending[0].0], &Done::Delivered)
        .unwrap();
    store
        .forward_done("shipper", &[pending[1].0], &Done::Failed("down".into()))
        .unwrap();
    store
        .forward_done("shipper", &[pending[1].0], &Done::Dead("refused".into()))
        .unwrap();
    // Done twice: nothing more.
    store
        .forward_done("shipper", &[pending[0].0], &Done::Delivered)
        .unwrap();
    assert!(store.forward_pending("shipper", 10).unwrap().is_empty());
    let s = &store.forward_stats().unwrap()[0].1;
    assert_eq!(
        (s.queued, s.delivered_total, s.dead_total, s.failures_total),
        (0, 1, 1, 1)
    );
    assert_eq!(store.forward_dead_letters("shipper", 10).unwrap().len(), 1);
    // A test event, queued whatever the rules say; then both expire.
    let e = r.forwarded[0].clone();
    store.forward_enqueue(&dest, &[e], 30).unwrap();
    let gone = store.forward_expire(i64::MAX, 100).unwrap();
    assert_eq!((gone.removed, gone.held), (2, 0));
    let s = &store.forward_stats().unwrap()[0].1;
    assert_eq!((s.queued, s.expired_total), (0, 1));
    assert!(store
        .forward_dead_letters("shipper", 10)
        .unwrap()
        .is_empty());
}

fn retention_removes_old_records_and_counts_them(place: &impl Place) {
    let store = place.open();
    enrolled(&store);
    let mut old = asset_delta(1, "ip:10.0.0.1");
    if let Some(delta::Change::Asset(a)) = &mut old.change {
        a.last_seen = "2024-01-01T00:00:00Z".into();
    }
    // Seen 10 minutes and 2 hours before the manager stores it.
    let seen = |seq, id, at: i64| {
        let mut d = asset_delta(seq, id);
        if let Some(delta::Change::Asset(a)) = &mut d.change {
            a.last_seen = crate::pki::rfc3339(at);
        }
        d
    };
    let now = 1_700_000_000;
    let batch = [
        old,
        asset_delta(2, "ip:10.0.0.2"),
        seen(3, "ip:10.0.0.3", now - 600),
        seen(4, "ip:10.0.0.4", now - 7200),
    ];
    store.apply_batch(Batch::new("s-1", &batch), now).unwrap();
    let mut found = Vec::new();
    store
        .survey(StoredKind::Assets, &mut |k, age| {
            found.push((k.to_vec(), age))
        })
        .unwrap();
    assert_eq!(found.len(), 4);
    // Ages: the later of the asset's last seen and when it was stored (plus the grain); a
    // current last seen dates the asset alone (nothing noted), an older one does not.
    let stored = now + 3600;
    assert_eq!(found[0].1, Some(1_704_067_200));
    assert_eq!(found[1].1, Some(stored));
    assert_eq!(found[2].1, Some(now - 600));
    assert_eq!(found[3].1, Some(stored));
    let keys: Vec<Vec<u8>> = found[..2].iter().map(|f| f.0.clone()).collect();
    let removed = store
        .remove_expired(StoredKind::Assets, &keys, 1_704_000_000)
        .unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (
            removed[0].site.as_str(),
            removed[0].sensor.as_str(),
            removed[0].id.as_str()
        ),
        ("a", "s-1", "ip:10.0.0.2")
    );
    assert_eq!(store.assets_of("s-1").unwrap().len(), 3);
    assert_eq!(store.sensor("s-1").unwrap().unwrap().held.assets, 3);
    let totals = store.removed_totals().unwrap();
    assert!(totals.contains(&(StoredKind::Assets, 1)), "{totals:?}");
    store.record_score("a", "2020-01-01", 1).unwrap();
    let mut days = Vec::new();
    store
        .survey(StoredKind::RiskHistory, &mut |k, _| days.push(k.to_vec()))
        .unwrap();
    assert_eq!(
        store
            .remove_expired(StoredKind::RiskHistory, &days, i64::MAX)
            .unwrap()
            .len(),
        1
    );
    assert!(store.scores("a").unwrap().is_empty());
}

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

fn enrolled(store: &impl FleetStore) {
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

fn batches_apply_once_with_gaps_and_survive_reopen(place: &impl Place) {
    {
        let store = place.open();
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
    let store = place.open();
    assert_eq!(store.sensor("s-1").unwrap().unwrap().applied_seq, 5);
    assert_eq!(store.assets_of("s-1").unwrap().len(), 2);
}

fn expired_and_unknown_tokens_are_refused(place: &impl Place) {
    let store = place.open();
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

fn a_batch_reports_the_site_and_the_sequence_before_and_after(place: &impl Place) {
    let store = place.open();
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

fn a_group_commit_applies_each_batch_in_order_and_fails_only_the_bad_one(place: &impl Place) {
    let store = place.open();
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

fn a_refused_batch_applies_nothing_and_fails_alone(place: &impl Place) {
    let store = place.open();
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
fn a_failed_flush_opens_the_database_again_and_the_batch_is_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    enrolled(&store);
    let first = [asset_delta(1, "ip:10.0.0.1"), asset_delta(2, "ip:10.0.0.2")];
    store.apply_batch(Batch::new("s-1", &first), 20).unwrap();
    let before = store.opened();
    store.fail_next_flush();
    let second = [asset_delta(3, "ip:10.0.0.3"), asset_delta(4, "ip:10.0.0.4")];
    let err = store
        .apply_batch(Batch::new("s-1", &second), 21)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("opened again at its last durable state"),
        "{err}"
    );
    // What the sensor is told it applied is what the database opened again holds (here the
    // batch reached the disk as sled closed; after a real I/O error it may not have).
    let held = store.sensor("s-1").unwrap().unwrap().applied_seq;
    assert_eq!(store.applied_seq("s-1").unwrap(), Some(held));
    // The database was opened again (sled keeps a failed write's error for good).
    assert_ne!(store.opened(), before);
    // The sensor sends the batch again: taken (or found applied, had it reached the disk).
    let again = store.apply_batch(Batch::new("s-1", &second), 22).unwrap();
    assert_eq!(again.applied_seq, 4);
    assert_eq!(store.applied_seq("s-1").unwrap(), Some(4));
    assert_eq!(store.assets_of("s-1").unwrap().len(), 4);
    assert_eq!(store.sensor("s-1").unwrap().unwrap().held.assets, 4);
    drop(store);
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.assets_of("s-1").unwrap().len(), 4);
}

fn records_from_before_the_counts_are_counted_at_open(place: &impl Place) {
    {
        let store = place.open();
        enrolled(&store);
        let batch = [asset_delta(1, "ip:10.0.0.1"), asset_delta(2, "ip:10.0.0.2")];
        store.apply_batch(Batch::new("s-1", &batch), 20).unwrap();
        assert_eq!(store.sensor("s-1").unwrap().unwrap().held.assets, 2);
        // As an older manager left it.
        store
            .update_sensor("s-1", &|r| r.held = Held::default())
            .unwrap();
    }
    let store = place.open();
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

fn playbook_runs_are_logged_listed_newest_first_and_age_out(place: &impl Place) {
    let store = place.open();
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

fn asset_tags_add_up_sorted_once_each(place: &impl Place) {
    let store = place.open();
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
    // Kept across a reopen.
    drop(store);
    assert_eq!(place.open().asset_tags().unwrap().len(), 2);
}

#[test]
fn postgres_refuses_a_newer_schema_and_names_the_database_without_its_password() {
    let Some(p) = pg() else { return };
    drop(p.open());
    let mut c = ::postgres::Client::connect(&p.0.url, ::postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        &[],
    )
    .unwrap();
    let e = PgStore::open(&p.0.url, None).unwrap_err().to_string();
    assert!(
        e.contains("schema is at version 999") && e.contains(&format!("127.0.0.1:{}", p.0.port)),
        "{e}"
    );
    // Nothing listens on port 1.
    let e = PgStore::open("postgres://ot:s3cret@127.0.0.1:1/fleet", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("postgres://ot@127.0.0.1:1/fleet"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
    let e = PgStore::open("postgres://ot@127.0.0.1:1/fleet?sslmode=require", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("add sslrootcert=FILE"), "{e}");
}

/// A CA, and a certificate it signs for `names` (`client`: for a client), as PEM: (CA
/// certificate, certificate, key).
fn test_ca_and_cert(ca_name: &str, names: &[&str], client: bool) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if let Some(first) = names.first() {
        p.distinguished_name.push(DnType::CommonName, *first);
    }
    if client {
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    }
    let issuer = Issuer::from_ca_cert_der(ca_cert.der(), &ca_key).unwrap();
    let cert = p.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn postgres_over_tls_verifies_the_server_and_presents_a_client_certificate() {
    let Some(mut p) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, pem: &str| {
        let f = dir.path().join(name);
        std::fs::write(&f, pem).unwrap();
        f.display().to_string()
    };
    let (ca, cert, key) = test_ca_and_cert("db CA", &["db.example"], false);
    let (client_ca, client_cert, client_key) = test_ca_and_cert("client CA", &["otwatch"], true);
    let (other_ca, _, _) = test_ca_and_cert("another CA", &["db.example"], false);
    // TLS only, and a client certificate naming the user (`cert` authentication).
    p.0.enable_tls(
        &cert,
        &key,
        &client_ca,
        "hostssl all all 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 reject",
    );
    let (ca, other_ca) = (file("ca.pem", &ca), file("other.pem", &other_ca));
    let (client_cert, client_key) = (file("c.pem", &client_cert), file("c.key", &client_key));
    let port = p.0.port;
    let at = |host: &str, params: &str| {
        format!("postgres://otwatch@{host}:{port}/otwatch?hostaddr=127.0.0.1&{params}")
    };
    let client = format!("sslcert={client_cert}&sslkey={client_key}");

    // The right CA, the certificate's name, a client certificate: the store works.
    let store = PgStore::open(
        &at(
            "db.example",
            &format!("sslmode=verify-full&sslrootcert={ca}&{client}"),
        ),
        None,
    )
    .unwrap();
    enrolled(&store);
    let r = store
        .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 20)
        .unwrap();
    assert_eq!(r.applied_seq, 1);
    assert_eq!(store.assets_of("s-1").unwrap().len(), 1);
    drop(store);

    // A server certificate another CA signed.
    let e = PgStore::open(
        &at(
            "db.example",
            &format!("sslmode=require&sslrootcert={other_ca}&{client}"),
        ),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("TLS with the server failed") && e.contains("UnknownIssuer"),
        "{e}"
    );
    // A host the certificate does not name.
    let e = PgStore::open(
        &at(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}&{client}"),
        ),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("TLS with the server failed") && e.contains("not valid for name"),
        "{e}"
    );
    // No client certificate: the server refuses.
    let e = PgStore::open(
        &at(
            "db.example",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("requires a valid client certificate"), "{e}");
    // Without TLS: refused by the server's rules (and nothing is sent in the clear).
    let e = PgStore::open(&at("db.example", "sslmode=disable"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pg_hba.conf rejects"), "{e}");
}

#[test]
fn postgres_lets_one_store_lead_and_another_take_over_when_it_goes() {
    let Some(p) = pg() else { return };
    let (a, b) = (p.open(), p.open());
    assert!(a.try_lead().unwrap());
    assert!(a.try_lead().unwrap(), "the lead is kept");
    assert!(!b.try_lead().unwrap(), "one leader at a time");
    drop(a);
    assert!(
        b.try_lead().unwrap(),
        "the lead is free once its session ended"
    );
    assert!(SledPlace(tempfile::tempdir().unwrap())
        .open()
        .try_lead()
        .unwrap());
}

#[test]
fn postgres_applies_a_sensors_batch_once_when_two_stores_race() {
    let Some(p) = pg() else { return };
    let (a, b) = (p.open(), p.open());
    enrolled(&a);
    let deltas: Vec<Delta> = (1..=200)
        .map(|i| asset_delta(i, &format!("ip:10.0.{}.{}", i / 256, i % 256)))
        .collect();
    // Two replicas given the same batch at once (a sensor that reconnected elsewhere).
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.apply_batch(Batch::new("s-1", &deltas), 20).unwrap());
        let tb = s.spawn(|| b.apply_batch(Batch::new("s-1", &deltas), 20).unwrap());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let applied = [ra.changes.len(), rb.changes.len()];
    assert!(applied == [200, 0] || applied == [0, 200], "{applied:?}");
    let rec = a.sensor("s-1").unwrap().unwrap();
    assert_eq!((rec.applied_seq, rec.held.assets), (200, 200));
    // What the other store reads to follow: the sensor, its site and where it stands.
    let seen = b.changes_since(0).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (
            seen[0].sensor.as_str(),
            seen[0].site.as_str(),
            seen[0].applied_seq
        ),
        ("s-1", "a", 200)
    );
    assert!(b.changes_since(seen[0].change).unwrap().is_empty());
}

#[test]
fn postgres_names_the_database_when_it_is_gone_and_connects_again() {
    let Some(mut p) = pg() else { return };
    let store = p.open();
    enrolled(&store);
    p.0.stop();
    let e = store.sensor("s-1").unwrap_err().to_string();
    let url = format!("postgres://otwatch@127.0.0.1:{}/otwatch", p.0.port);
    assert!(e.contains(&url), "{e}");
    let e = store
        .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 20)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&url), "{e}");
    p.0.restart();
    assert!(store.sensor("s-1").unwrap().is_some());
    let r = store
        .apply_batch(Batch::new("s-1", &[asset_delta(1, "ip:10.0.0.1")]), 20)
        .unwrap();
    assert_eq!(r.applied_seq, 1);
}
