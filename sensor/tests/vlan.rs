#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Cells that reuse one private range behind one SPAN port: the same addresses and ports on
//! VLAN 10, on VLAN 20 and untagged are three flows, three pairs of assets and three
//! connections, each with its VLAN; and so they stay through the state store.

mod common;

use otwatch_common::model::InventoryReport;
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use std::path::Path;

const CLIENT: [u8; 4] = [192, 168, 1, 10];
const SERVER: [u8; 4] = [192, 168, 1, 20];

/// An Ethernet frame, 802.1Q-tagged unless `vlan` is 0, of an IPv4 TCP segment between the
/// client (MAC ..:01) and the server (MAC ..:02); the fifth MAC byte is the VLAN.
fn frame(vlan: u16, to_server: bool, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    frame_in(vlan as u8, vlan, to_server, flags, seq, ack, payload)
}

/// As [`frame`], with the fifth MAC byte `cell`.
fn frame_in(
    cell: u8,
    vlan: u16,
    to_server: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst, sport, dport, src_mac, dst_mac) = if to_server {
        (CLIENT, SERVER, 40000u16, 502u16, 1, 2)
    } else {
        (SERVER, CLIENT, 502, 40000, 2, 1)
    };
    let mut f = vec![0x02, 0, 0, 0, cell, dst_mac, 0x02, 0, 0, 0, cell, src_mac];
    if vlan != 0 {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&vlan.to_be_bytes());
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (40 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    common::set_ipv4_checksum(&mut ip);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A Modbus/TCP read of two holding registers, handshake first, on each of `vlans`.
fn write_pcap(path: &Path, vlans: &[u16]) {
    let req = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
    let resp = [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 11];
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut t = 0u32;
    for &vlan in vlans {
        let packets = [
            frame(vlan, true, 0x02, 100, 0, &[]),
            frame(vlan, false, 0x12, 500, 101, &[]),
            frame(vlan, true, 0x10, 101, 501, &[]),
            frame(vlan, true, 0x18, 101, 501, &req),
            frame(vlan, false, 0x18, 501, 113, &resp),
        ];
        for p in packets {
            t += 1;
            out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
            out.extend_from_slice(&(t * 1000).to_le_bytes());
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(&p);
        }
    }
    std::fs::write(path, out).unwrap();
}

/// The Modbus exchange of [`write_pcap`], untagged, as pcapng blocks on two interfaces:
/// `split` puts each direction on its own interface (a tap); otherwise cell `n` (its own MACs,
/// the same addresses) is wholly on interface `n`.
fn write_pcapng(path: &Path, split: bool) {
    let req = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
    let resp = [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 11];
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = 12 + body.len().next_multiple_of(4) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (body.len().next_multiple_of(4) - body.len()), 0);
        out.extend_from_slice(&len.to_le_bytes());
    };
    let mut out = Vec::new();
    // Section header (byte-order magic, version 1.0, unknown length), then two Ethernet
    // interfaces.
    let mut shb = vec![];
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    for _ in 0..2 {
        block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 1, 0]);
    }
    let mut t = 0u64;
    for cell in [1u8, 2] {
        let packets = [
            (true, frame_in(cell, 0, true, 0x02, 100, 0, &[])),
            (false, frame_in(cell, 0, false, 0x12, 500, 101, &[])),
            (true, frame_in(cell, 0, true, 0x10, 101, 501, &[])),
            (true, frame_in(cell, 0, true, 0x18, 101, 501, &req)),
            (false, frame_in(cell, 0, false, 0x18, 501, 113, &resp)),
        ];
        for (to_server, p) in packets {
            if split && cell == 2 {
                break;
            }
            t += 1;
            let interface: u32 = match split {
                true => u32::from(!to_server),
                false => u32::from(cell - 1),
            };
            let ts = 1_700_000_000_000_000u64 + t * 1000;
            let mut epb = Vec::new();
            epb.extend_from_slice(&interface.to_le_bytes());
            epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(ts as u32).to_le_bytes());
            epb.extend_from_slice(&(p.len() as u32).to_le_bytes());
            epb.extend_from_slice(&(p.len() as u32).to_le_bytes());
            epb.extend_from_slice(&p);
            epb.resize(epb.len().next_multiple_of(4), 0);
            block(&mut out, 6, &epb);
        }
    }
    std::fs::write(path, out).unwrap();
}

/// Two mirror ports of two cells that reuse addresses: kept apart only when the operator puts
/// the interfaces on segments of their own; a tap's two directions stay one flow by default.
#[test]
fn capture_segments_keep_cells_on_separate_interfaces_apart() {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.pcapng");
    write_pcapng(&cells, false);
    let run = |pcap: &Path, segments: Vec<u16>| {
        analyze(&AnalyzeOptions {
            inputs: vec![pcap.to_path_buf()],
            segments,
            ..Default::default()
        })
        .unwrap()
        .report
    };
    // By default one network: the two cells' flows merge.
    let merged = run(&cells, vec![]);
    assert_eq!(merged.stats().flows, 1);
    assert!(merged.assets.iter().all(|a| a.segments.is_empty()));

    let apart = run(&cells, vec![1, 2]);
    assert_eq!(apart.stats().flows, 2);
    let mut seen: Vec<(String, Vec<u32>)> = apart
        .assets
        .iter()
        .map(|a| (a.ips.join(","), a.segments.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("192.168.1.10".to_string(), vec![1]),
            ("192.168.1.10".to_string(), vec![2]),
            ("192.168.1.20".to_string(), vec![1]),
            ("192.168.1.20".to_string(), vec![2]),
        ]
    );
    let mut conns: Vec<(u32, u64, Vec<String>)> = apart
        .connections
        .iter()
        .map(|c| (c.segment, c.packets, c.operations.clone()))
        .collect();
    conns.sort();
    let read = || vec!["read".to_string()];
    assert_eq!(conns, [(1, 5, read()), (2, 5, read())]);
    let json = otwatch_sensor::output::to_json(&apart);
    assert_eq!(json.matches("\"segments\"").count(), 4, "{json}");
    assert_eq!(json.matches("\"segment\"").count(), 2, "{json}");

    // A tap: each direction on its own interface, one flow, answered.
    let tap = dir.path().join("tap.pcapng");
    write_pcapng(&tap, true);
    let r = run(&tap, vec![]);
    assert_eq!(r.stats().flows, 1);
    assert_eq!(r.connections.len(), 1);
    assert_eq!(r.connections[0].packets, 5);
    assert_eq!(r.connections[0].operations, read());
}

fn report(pcap: &Path, state: Option<&Path>) -> InventoryReport {
    analyze(&AnalyzeOptions {
        inputs: vec![pcap.to_path_buf()],
        state: state.map(Path::to_path_buf),
        ..Default::default()
    })
    .unwrap()
    .report
}

#[test]
fn the_same_addresses_on_two_vlans_are_two_flows_assets_and_connections() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("cells.pcap");
    write_pcap(&pcap, &[10, 20, 0]);
    let r = report(&pcap, None);
    assert_eq!(r.stats().flows, 3);
    let mut seen = Vec::new();
    for a in &r.assets {
        assert_eq!(a.ips.len(), 1, "{a:?}");
        seen.push((a.vlans.clone(), a.ips[0].clone(), a.id.clone()));
    }
    seen.sort();
    let ids = |v: u8| {
        [
            format!("mac:02:00:00:00:{v:02x}:01"),
            format!("mac:02:00:00:00:{v:02x}:02"),
        ]
    };
    assert_eq!(
        seen,
        vec![
            (vec![], "192.168.1.10".into(), ids(0)[0].clone()),
            (vec![], "192.168.1.20".into(), ids(0)[1].clone()),
            (vec![10], "192.168.1.10".into(), ids(10)[0].clone()),
            (vec![10], "192.168.1.20".into(), ids(10)[1].clone()),
            (vec![20], "192.168.1.10".into(), ids(20)[0].clone()),
            (vec![20], "192.168.1.20".into(), ids(20)[1].clone()),
        ]
    );
    let servers: Vec<_> = r
        .assets
        .iter()
        .filter(|a| a.ips[0] == "192.168.1.20")
        .collect();
    assert!(servers
        .iter()
        .all(|a| a.device_type == servers[0].device_type));
    let mut conns: Vec<_> = r
        .connections
        .iter()
        .map(|c| {
            (
                c.vlan,
                c.client.as_str(),
                c.server.as_str(),
                c.port,
                c.protocol.as_str(),
                c.packets,
                c.operations.clone(),
            )
        })
        .collect();
    conns.sort();
    let one = |vlan| {
        (
            vlan,
            "192.168.1.10",
            "192.168.1.20",
            502,
            "modbus",
            5,
            vec!["read".to_string()],
        )
    };
    assert_eq!(conns, vec![one(0), one(10), one(20)]);
    // Untagged facts keep their JSON shape: no vlan, no vlans.
    let json = otwatch_sensor::output::to_json(&r);
    assert_eq!(json.matches("\"vlans\"").count(), 4, "{json}");
    assert_eq!(json.matches("\"vlan\"").count(), 2, "{json}");
    assert!(
        r.alerts.iter().all(|a| !a.kind.contains("arp")),
        "{:?}",
        r.alerts
    );

    // Through the store: saved per VLAN, loaded back the same.
    let state = dir.path().join("state");
    let first = report(&pcap, Some(&state));
    assert_eq!(first.assets, r.assets);
    let empty = dir.path().join("empty.pcap");
    write_pcap(&empty, &[]);
    let again = report(&empty, Some(&state));
    assert_eq!(again.assets, r.assets);
    assert_eq!(again.connections, r.connections);
}
