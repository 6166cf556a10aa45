#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::decode::Lan;
use crate::inventory::facts::{Counters, EvidenceRec};
use otwatch_common::observation::Field;
use otwatch_common::Timestamp;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

fn ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

fn counters(i: u64) -> Counters {
    Counters {
        packets: 10 + i,
        bytes: 1000 + i,
        first: Some(Timestamp(1_700_000_000_000_000_000 + i)),
        last: Some(Timestamp(1_700_000_100_000_000_000 + i)),
    }
}

/// `hosts` hosts, each talking Modbus to the next one, with an identity fact each.
fn inventory(hosts: u32) -> Inventory {
    let mut inv = Inventory::default();
    for i in 0..hosts {
        let mut h = HostFacts {
            counters: counters(u64::from(i)),
            max_ttl: 64,
            ..HostFacts::default()
        };
        h.protocols.insert(("modbus".into(), "server".into(), 502));
        h.add_evidence(EvidenceRec {
            field: Field::Hostname,
            value: format!("plc-{i}"),
            source: "dhcp".into(),
            first_seen: Timestamp(1_700_000_000_000_000_000),
        });
        inv.hosts.insert(ip(i).into(), h);
        let mut c = ConnFacts {
            counters: counters(u64::from(i)),
            flows: 1,
            protocol: Some("modbus".into()),
            ..ConnFacts::default()
        };
        c.function_codes.extend([3, 16]);
        c.operations.insert("read_holding_registers".into());
        inv.conns.insert(
            ConnKey {
                lan: Lan::NONE,
                client: ip(i),
                server: ip(i + 1),
                transport: 6,
                port: 502,
            },
            c,
        );
    }
    inv
}

fn stats(packets: u64) -> CaptureStats {
    CaptureStats {
        packets,
        ..CaptureStats::default()
    }
}

#[test]
fn a_save_writes_only_what_changed_and_removes_what_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut inv = inventory(50);
    store.save(&inv, &stats(1)).unwrap();
    // 50 hosts, 50 connections, 3 meta values.
    assert_eq!(store.entries_written(), 103);
    store.save(&inv, &stats(1)).unwrap();
    assert_eq!(
        store.entries_written(),
        103,
        "nothing changed, nothing written"
    );
    inv.hosts.get_mut(&ip(7).into()).unwrap().counters.packets += 1;
    inv.hosts.remove(&ip(9).into());
    store.save(&inv, &stats(2)).unwrap();
    // host 7 and the statistics written, host 9 removed.
    assert_eq!(store.entries_written(), 106);
    let (loaded, st) = store.load().unwrap();
    assert_eq!(loaded, inv);
    assert_eq!(st.unwrap().packets, 2);

    // Another process (or a restart) knows what is stored from loading it.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let (loaded, _) = store.load().unwrap();
    assert_eq!(loaded, inv);
    store.save(&loaded, &stats(2)).unwrap();
    assert_eq!(store.entries_written(), 0);
    // And without loading: it reads what is stored first.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    store.save(&inventory(3), &stats(3)).unwrap();
    let (loaded, _) = store.load().unwrap();
    assert_eq!(loaded, inventory(3));
    store.clear_inventory().unwrap();
    let (loaded, st) = store.load().unwrap();
    assert_eq!(loaded, Inventory::default());
    assert!(st.is_none());
}

#[test]
fn a_half_written_snapshot_does_not_stop_the_store_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(20);
    {
        let store = Store::open(dir.path()).unwrap();
        store.save(&inv, &stats(5)).unwrap();
    }
    // What sled leaves when writing its snapshot at open fails for lack of space: a newer
    // snapshot file cut short. sled alone then refuses to open ("Read corrupted data").
    std::fs::write(
        dir.path().join("snap.7FFFFFFFFFFFFFFF.generating"),
        [0u8; 100],
    )
    .unwrap();
    // The store saved above may still be closing on sled's flusher thread (more so on a busy
    // machine): wait for its file lock before asking sled alone.
    let mut alone = sled::Config::new().path(dir.path()).open();
    for _ in 0..100 {
        match &alone {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                alone = sled::Config::new().path(dir.path()).open();
            }
            _ => break,
        }
    }
    match alone {
        Err(sled::Error::Corruption { .. }) => {}
        other => panic!("sled itself should refuse this store, got {other:?}"),
    }
    let store = Store::open(dir.path()).unwrap();
    let (loaded, st) = store.load().unwrap();
    assert_eq!(loaded, inv);
    assert_eq!(st.unwrap().packets, 5);
    assert!(!dir.path().join("snap.7FFFFFFFFFFFFFFF.generating").exists());
}

#[test]
fn a_reopened_store_holds_what_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let inv = inventory(10);
    store.save(&inv, &stats(1)).unwrap();
    store.reopen().unwrap();
    let (loaded, _) = store.load().unwrap();
    assert_eq!(loaded, inv);
    store.save(&inv, &stats(1)).unwrap();
    assert_eq!(store.entries_written(), 23, "written before, nothing now");
}

/// `cargo nextest run -p otwatch-sensor --release --run-ignored only store_cost`: what a
/// save costs with 100 000 hosts and 100 000 connections.
#[test]
#[ignore = "a measurement; run by hand"]
fn store_cost_at_100k_entries() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000;
    let mut inv = inventory(n);
    let st = stats(1);
    let size = |d: &Path| -> u64 {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    };

    // The former save: one batch per tree, not atomic across them.
    let old_dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(old_dir.path()).open().unwrap();
    for round in 0..2 {
        let t = Instant::now();
        let assets = db.open_tree("assets").unwrap();
        let mut b = sled::Batch::default();
        for (ip, h) in &inv.hosts {
            b.insert(format!("ip:{ip}").as_bytes(), encode(h));
        }
        assets.apply_batch(b).unwrap();
        let links = db.open_tree("links").unwrap();
        let mut b = sled::Batch::default();
        for (k, c) in &inv.conns {
            b.insert(k.to_store_key().as_bytes(), encode(c));
        }
        links.apply_batch(b).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(STATS_KEY, encode(&st)).unwrap();
        db.flush().unwrap();
        eprintln!("batches per tree, save {round}: {:?}", t.elapsed());
    }
    drop(db);

    let store = Store::open(dir.path()).unwrap();
    let t = Instant::now();
    store.save(&inv, &st).unwrap();
    eprintln!(
        "transaction, first save of {} entries: {:?}",
        store.entries_written(),
        t.elapsed()
    );
    eprintln!(
        "kept in memory to know what is stored: {} MiB",
        store.held_bytes() >> 20
    );
    let t = Instant::now();
    store.save(&inv, &st).unwrap();
    eprintln!("transaction, unchanged: {:?}", t.elapsed());
    for i in 0..1000 {
        inv.hosts
            .get_mut(&ip(i * 100).into())
            .unwrap()
            .counters
            .packets += 1;
    }
    let before = store.entries_written();
    let t = Instant::now();
    store.save(&inv, &st).unwrap();
    eprintln!(
        "transaction, {} entries changed: {:?}",
        store.entries_written() - before,
        t.elapsed()
    );
    for i in 0..1000 {
        inv.hosts.remove(&ip(i * 7).into());
    }
    let before = store.entries_written();
    let t = Instant::now();
    store.save(&inv, &st).unwrap();
    eprintln!(
        "transaction, {} entries removed: {:?}",
        store.entries_written() - before,
        t.elapsed()
    );
    drop(store);
    let t = Instant::now();
    let store = Store::open(dir.path()).unwrap();
    eprintln!("open: {:?}", t.elapsed());
    let t = Instant::now();
    let (loaded, _) = store.load().unwrap();
    eprintln!("load: {:?}", t.elapsed());
    assert_eq!(loaded, inv);
    eprintln!(
        "on disk: {} MiB (the former layout: {} MiB)",
        size(dir.path()) >> 20,
        size(old_dir.path()) >> 20
    );
}

/// A store written before facts were kept per VLAN (keys `ip:<ip>`, `<c>|<s>|<t>|<p>`, MAC
/// facts listing bare addresses) loads as untagged facts, and saving it again writes the
/// same keys; tagged facts get their own keys and come back with their VLAN.
#[test]
fn a_store_from_before_vlans_loads_untagged_and_tagged_facts_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let host = r#"{"counters":{"packets":3,"bytes":180,"first":1700000000000000000,"last":1700000001000000000},"macs":["00:11:22:33:44:55"],"bound_macs":[],"protocols":[["modbus","server",502]],"evidence":[],"max_ttl":64}"#;
    let mac = r#"{"counters":{"packets":0,"bytes":0,"first":null,"last":null},"ips":["10.0.0.1"],"bound_ips":["10.0.0.1"],"protocols":[],"evidence":[]}"#;
    let conn = r#"{"counters":{"packets":3,"bytes":180,"first":1700000000000000000,"last":1700000001000000000},"flows":1,"protocol":"modbus","function_codes":[3],"operations":["read"],"cleartext_logins":[]}"#;
    let assets = store.tree("assets").unwrap();
    assets.insert("ip:10.0.0.1", host).unwrap();
    assets.insert("ip:10.0.0.2", host).unwrap();
    assets.insert("mac:00:11:22:33:44:55", mac).unwrap();
    store
        .tree("links")
        .unwrap()
        .insert("10.0.0.2|10.0.0.1|6|502", conn)
        .unwrap();
    let (mut inv, _) = store.load().unwrap();
    let a: HostKey = "10.0.0.1".parse().unwrap();
    assert_eq!(a, HostKey::new(Lan::NONE, ip(1)));
    assert_eq!(inv.hosts[&a].counters.packets, 3);
    let m = inv.macs.values().next().unwrap();
    assert!(m.ips.contains(&a) && m.bound_ips.contains(&a));
    let (k, c) = inv.conns.iter().next().unwrap();
    assert_eq!((k.lan, k.client, k.port), (Lan::NONE, ip(2), 502));
    assert_eq!(c.protocol.as_deref(), Some("modbus"));
    // Saved again unchanged: every key and value is the same.
    let before: Vec<_> = assets.iter().map(|kv| kv.unwrap()).collect();
    store.save(&inv, &stats(1)).unwrap();
    let after: Vec<_> = assets.iter().map(|kv| kv.unwrap()).collect();
    assert_eq!(before.len(), after.len());
    assert_eq!(
        before.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        after.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );

    // The same address on VLAN 10: a host and a connection of their own.
    // And on capture segments 2 and 3 (the latter also on VLAN 10).
    let (k, c) = (*k, c.clone());
    for lan in [
        Lan::vlan(10),
        Lan {
            segment: 2,
            vlan: 0,
        },
        Lan {
            segment: 3,
            vlan: 10,
        },
    ] {
        inv.hosts
            .insert(HostKey::new(lan, ip(1)), inv.hosts[&a].clone());
        inv.conns.insert(ConnKey { lan, ..k }, c.clone());
    }
    store.save(&inv, &stats(1)).unwrap();
    for id in [
        "ip:10.0.0.1%vlan10",
        "ip:10.0.0.1%seg2",
        "ip:10.0.0.1%seg3.vlan10",
    ] {
        assert!(assets.contains_key(id).unwrap(), "{id}");
    }
    let links = store.tree("links").unwrap();
    for key in [
        "10.0.0.2|10.0.0.1|6|502|10",
        "10.0.0.2|10.0.0.1|6|502|0|seg2",
        "10.0.0.2|10.0.0.1|6|502|10|seg3",
    ] {
        assert!(links.contains_key(key).unwrap(), "{key}");
    }
    let (loaded, _) = store.load().unwrap();
    assert_eq!(loaded, inv);
    assert_eq!(loaded.hosts.len(), 5);
    assert_eq!(loaded.conns.len(), 4);
}
