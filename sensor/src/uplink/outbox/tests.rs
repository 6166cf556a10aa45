use super::*;
use otwatch_proto::v1::{Alert, Asset, SensorStatus};

fn db() -> (tempfile::TempDir, sled::Db) {
    let d = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(d.path()).open().unwrap();
    (d, db)
}

fn asset(id: &str, packets: u64) -> Entry {
    Entry {
        key: format!("a:{id}"),
        change: delta::Change::Asset(Asset {
            id: id.into(),
            packets,
            ..Default::default()
        }),
        coalesce: true,
        sent: SentHash::Set(vec![packets as u8]),
    }
}

fn alert(id: &str) -> Entry {
    Entry {
        key: format!("l:{id}"),
        change: delta::Change::Alert(Alert {
            id: id.into(),
            ..Default::default()
        }),
        coalesce: false,
        sent: SentHash::Set(vec![1]),
    }
}

fn status(backlog: u64) -> Entry {
    Entry {
        key: "status".into(),
        change: delta::Change::Status(SensorStatus {
            backlog,
            ..Default::default()
        }),
        coalesce: true,
        sent: SentHash::Keep,
    }
}

fn seqs(o: &Outbox) -> Vec<u64> {
    o.batch_after(0, 1000)
        .unwrap()
        .iter()
        .map(|d| d.seq)
        .collect()
}

#[test]
fn sequence_numbers_increase_and_ack_deletes_in_order() {
    let (_d, db) = db();
    let o = Outbox::open(&db, 100).unwrap();
    let r = o
        .enqueue(vec![asset("x", 1), asset("y", 1), alert("1")], "t")
        .unwrap();
    assert_eq!(r.enqueued, 3);
    assert_eq!(seqs(&o), [1, 2, 3]);
    assert_eq!((o.last_seq(), o.backlog(), o.acked()), (3, 3, 0));
    assert_eq!(o.batch_after(1, 1).unwrap()[0].seq, 2);
    assert_eq!(o.ack(2).unwrap(), 2);
    assert_eq!(seqs(&o), [3]);
    assert_eq!((o.backlog(), o.acked()), (1, 2));
    // An old acknowledgement changes nothing.
    assert_eq!(o.ack(1).unwrap(), 0);
    assert_eq!(o.acked(), 2);
    o.ack(3).unwrap();
    assert!(o.is_drained());
    // Numbering continues after a reopen.
    drop(o);
    let o = Outbox::open(&db, 100).unwrap();
    o.enqueue(vec![asset("z", 1)], "t").unwrap();
    assert_eq!(seqs(&o), [4]);
}

#[test]
fn newer_upserts_replace_queued_ones_and_alerts_never_coalesce() {
    let (_d, db) = db();
    let o = Outbox::open(&db, 100).unwrap();
    o.enqueue(vec![asset("x", 1), alert("a"), status(0)], "t")
        .unwrap();
    let r = o
        .enqueue(vec![asset("x", 2), alert("a"), status(1)], "t")
        .unwrap();
    assert_eq!(r.replaced, 2);
    // x@1 (1) and status (3) went; both alerts stay; gaps are allowed.
    assert_eq!(seqs(&o), [2, 4, 5, 6]);
    assert_eq!(o.backlog(), 4);
    let b = o.batch_after(0, 10).unwrap();
    match &b[1].change {
        Some(delta::Change::Asset(a)) => assert_eq!(a.packets, 2),
        other => panic!("{other:?}"),
    }
    // Once acknowledged, a newer upsert is a plain append.
    o.ack(6).unwrap();
    o.enqueue(vec![asset("x", 3)], "t").unwrap();
    assert_eq!(seqs(&o), [7]);
    assert_eq!(o.backlog(), 1);
    assert_eq!(o.sent_hashes().unwrap()["a:x"].as_ref(), [3]);
}

#[test]
fn a_full_outbox_defers_upserts_keeps_alerts_and_replacements() {
    let (_d, db) = db();
    let o = Outbox::open(&db, 2).unwrap();
    o.enqueue(vec![asset("x", 1), asset("y", 1)], "t").unwrap();
    let r = o
        .enqueue(vec![asset("z", 1), alert("a"), asset("x", 2)], "t")
        .unwrap();
    assert_eq!((r.enqueued, r.deferred, r.replaced), (2, 1, 1));
    // z was deferred: no hash recorded, so the next diff offers it again.
    let h = o.sent_hashes().unwrap();
    assert!(!h.contains_key("a:z"));
    assert_eq!(o.deferred_now(), 1);
    assert_eq!(o.deferred_total(), 1);
    assert!(!o.is_drained());
    // Still full (3 entries > 2): deferred again, counted once.
    o.enqueue(vec![asset("z", 1)], "t").unwrap();
    assert_eq!(o.deferred_total(), 1);
    let all = seqs(&o);
    o.ack(*all.last().unwrap()).unwrap();
    let r = o.enqueue(vec![asset("z", 1)], "t").unwrap();
    assert_eq!(r.enqueued, 1);
    assert_eq!(o.deferred_now(), 0);
    o.ack(o.last_seq()).unwrap();
    assert!(o.is_drained());
}

#[test]
fn batches_respect_the_limit() {
    let (_d, db) = db();
    let o = Outbox::open(&db, 10_000).unwrap();
    let many: Vec<Entry> = (0..1200).map(|i| asset(&format!("h{i}"), 1)).collect();
    o.enqueue(many, "t").unwrap();
    assert_eq!(o.backlog(), 1200);
    let b = o.batch_after(0, 500).unwrap();
    assert_eq!(b.len(), 500);
    assert_eq!(b.last().unwrap().seq, 500);
    let b = o.batch_after(1000, 500).unwrap();
    assert_eq!(b.len(), 200);
}

#[test]
fn numbering_skips_past_a_manager_that_is_ahead() {
    let (_d, db) = db();
    let o = Outbox::open(&db, 100).unwrap();
    o.enqueue(vec![asset("x", 1), alert("a")], "t").unwrap();
    assert_eq!(o.skip_past(1).unwrap(), 0);
    assert_eq!(o.skip_past(50).unwrap(), 2);
    assert_eq!(seqs(&o), [51, 52]);
    assert_eq!((o.backlog(), o.acked(), o.last_seq()), (2, 50, 52));
    o.enqueue(vec![asset("y", 1)], "t").unwrap();
    assert_eq!(seqs(&o), [51, 52, 53]);
}
