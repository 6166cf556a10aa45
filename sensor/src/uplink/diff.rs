//! What changed since the last commit, as deltas: run at every commit of `otwatch-sensor run`.
//!
//! Every asset and connection whose content hash differs from the hash recorded when it was
//! last enqueued (tree `sent_hash`) becomes an upsert; asset ids enqueued before and gone now
//! (merged into another asset) become `asset_removed`; alerts new or changed (count, last
//! occurrence) are upserts by alert id; and
//! one status delta says how the sensor is. The outbox writes each entry with its hash in one
//! transaction, so a crash between two commits only means the next diff finds the same
//! changes again.

use super::outbox::{EnqueueOutcome, Entry, Outbox, SentHash};
use otwatch_common::model::InventoryReport;
use otwatch_proto::v1::{delta::Change, SensorStatus};
use prost::Message;
use std::collections::{HashMap, HashSet};

/// 128 bits of SHA-256 over the encoded message: stable across runs and versions.
fn content_hash(m: &impl Message) -> Vec<u8> {
    let d = ring::digest::digest(&ring::digest::SHA256, &m.encode_to_vec());
    d.as_ref().get(..16).unwrap_or_default().to_vec()
}

/// The changes between the last enqueued state and `report`, in a stable order: removals,
/// assets, connections, alerts, then `status`.
/// Whether the entry `key` was never sent with the content hash `h`.
fn changed(sent: &HashMap<String, sled::IVec>, key: &str, h: &[u8]) -> bool {
    sent.get(key).is_none_or(|old| old.as_ref() != h)
}

pub fn changes(
    outbox: &Outbox,
    report: &InventoryReport,
    status: Option<SensorStatus>,
) -> Result<Vec<Entry>, sled::Error> {
    let sent = outbox.sent_hashes()?;
    let mut out = Vec::new();
    let ids: HashSet<&str> = report.assets.iter().map(|a| a.id.as_str()).collect();
    let mut gone: Vec<&str> = sent
        .keys()
        .filter_map(|k| k.strip_prefix("a:"))
        .filter(|id| !ids.contains(id))
        .collect();
    gone.sort_unstable();
    for id in gone {
        out.push(Entry {
            key: format!("a:{id}"),
            change: Change::AssetRemoved(id.to_string()),
            coalesce: true,
            sent: SentHash::Remove,
        });
    }
    for a in &report.assets {
        let (key, h) = (format!("a:{}", a.id), content_hash(a));
        if changed(&sent, &key, &h) {
            out.push(Entry {
                key,
                change: Change::Asset(a.clone()),
                coalesce: true,
                sent: SentHash::Set(h),
            });
        }
    }
    for c in &report.connections {
        let (key, h) = (format!("c:{}", c.key()), content_hash(c));
        if changed(&sent, &key, &h) {
            out.push(Entry {
                key,
                change: Change::Connection(c.clone()),
                coalesce: true,
                sent: SentHash::Set(h),
            });
        }
    }
    for a in &report.alerts {
        // An alert is an upsert by id: its count and last occurrence grow. A new alert is
        // always queued (never deferred by a full outbox); updates coalesce like assets.
        let p = a.clone();
        let key = format!("l:{}", a.id);
        let h = content_hash(&p);
        match sent.get(&key) {
            Some(old) if old.as_ref() == h.as_slice() => {}
            old => out.push(Entry {
                key,
                change: Change::Alert(p),
                coalesce: old.is_some(),
                sent: SentHash::Set(h),
            }),
        }
    }
    if let Some(s) = status {
        out.push(Entry {
            key: "status".into(),
            change: Change::Status(s),
            coalesce: true,
            sent: SentHash::Keep,
        });
    }
    Ok(out)
}

/// The sensor's health as sent with the deltas.
pub fn status(outbox: &Outbox, report: &InventoryReport, capture_mode: &str) -> SensorStatus {
    SensorStatus {
        version: crate::VERSION.to_string(),
        hostname: super::hostname(),
        capture_mode: capture_mode.to_string(),
        capture: report.stats.clone(),
        backlog: outbox.backlog(),
        outbox_dropped: outbox.deferred_total(),
    }
}

/// Diffs `report` against what was enqueued and queues the changes (one status included).
pub fn enqueue_report(
    outbox: &Outbox,
    report: &InventoryReport,
    capture_mode: &str,
) -> Result<EnqueueOutcome, sled::Error> {
    let st = status(outbox, report, capture_mode);
    let ch = changes(outbox, report, Some(st))?;
    outbox.enqueue(ch, &super::now_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;
    use otwatch_common::model::{Asset, Connection};

    fn kinds(o: &Outbox, after: u64) -> Vec<String> {
        o.batch_after(after, 1000)
            .unwrap()
            .into_iter()
            .map(|d| match d.change {
                Some(Change::Asset(a)) => format!("asset {} {}", a.id, a.packets),
                Some(Change::AssetRemoved(id)) => format!("removed {id}"),
                Some(Change::Connection(c)) => format!("conn {}", c.packets),
                Some(Change::Status(_)) => "status".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn only_changes_are_enqueued_and_gone_assets_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(d.path()).open().unwrap();
        let o = Outbox::open(&db, 1000).unwrap();
        let asset = |id: &str, packets| Asset {
            id: id.into(),
            packets,
            ..Default::default()
        };
        let mut r = InventoryReport {
            assets: vec![asset("ip:10.0.0.1", 1), asset("ip:10.0.0.2", 1)],
            connections: vec![Connection {
                client: "10.0.0.1".into(),
                server: "10.0.0.2".into(),
                transport: "tcp".into(),
                port: 502,
                packets: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        enqueue_report(&o, &r, "pcap").unwrap();
        assert_eq!(
            kinds(&o, 0),
            [
                "asset ip:10.0.0.1 1",
                "asset ip:10.0.0.2 1",
                "conn 2",
                "status"
            ]
        );
        o.ack(o.last_seq()).unwrap();
        let mark = o.last_seq();
        // Nothing changed: only the status.
        enqueue_report(&o, &r, "pcap").unwrap();
        assert_eq!(kinds(&o, mark), ["status"]);
        o.ack(o.last_seq()).unwrap();
        let mark = o.last_seq();
        // 10.0.0.2 merged away, 10.0.0.1 grew.
        r.assets = vec![asset("ip:10.0.0.1", 5)];
        enqueue_report(&o, &r, "pcap").unwrap();
        assert_eq!(
            kinds(&o, mark),
            ["removed ip:10.0.0.2", "asset ip:10.0.0.1 5", "status"]
        );
        assert!(!o.sent_hashes().unwrap().contains_key("a:ip:10.0.0.2"));
    }
}
