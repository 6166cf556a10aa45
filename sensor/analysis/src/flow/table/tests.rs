use super::*;
use crate::decode::LinkType;
use crate::decode::{decode, Net, TcpFlags};

fn ipv4_tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = (40 + payload.len()) as u16;
    let mut f = vec![0x45, 0];
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn feed(t: &mut FlowTable, ts: u64, bytes: &[u8]) {
    feed_on(t, ts, bytes, 0);
}

/// Feeds a packet seen on VLAN `vlan`.
fn feed_on(t: &mut FlowTable, ts: u64, bytes: &[u8], vlan: u16) {
    let p = decode(LinkType::Raw, bytes).unwrap();
    let Net::Ip(ip) = p.net else { panic!() };
    t.packet(&PacketInfo {
        ts: Timestamp(ts),
        wire_len: bytes.len() as u32,
        frames: 1,
        src_mac: None,
        dst_mac: None,
        lan: Lan::vlan(vlan),
        ip: &ip,
    });
}

fn summaries(t: &mut FlowTable) -> Vec<FlowSummary> {
    t.drain_events()
        .filter_map(|e| match e {
            FlowEvent::Summary(s) => Some(s),
            _ => None,
        })
        .collect()
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

#[test]
fn the_same_five_tuple_on_two_vlans_is_two_flows() {
    let mut t = FlowTable::new(FlowConfig::default());
    let syn = ipv4_tcp(A, B, 40000, 502, 1, 0x02, &[]);
    let syn_ack = ipv4_tcp(B, A, 502, 40000, 9, 0x12, &[]);
    for (i, vlan) in [10, 20, 0].into_iter().enumerate() {
        feed_on(&mut t, 1_000 + i as u64, &syn, vlan);
        feed_on(&mut t, 2_000 + i as u64, &syn_ack, vlan);
    }
    assert_eq!(t.len(), 3);
    t.finish_all();
    let mut s: Vec<(u16, u64, bool)> = summaries(&mut t)
        .iter()
        .map(|s| (s.lan.vlan, s.packets, s.accepted))
        .collect();
    s.sort_unstable();
    assert_eq!(s, [(0, 2, true), (10, 2, true), (20, 2, true)]);
}

#[test]
fn syn_sender_is_client_even_on_high_ports() {
    let mut t = FlowTable::new(FlowConfig::default());
    feed(&mut t, 1, &ipv4_tcp(B, A, 80, 50000, 0, TcpFlags::SYN, b""));
    feed(
        &mut t,
        2,
        &ipv4_tcp(A, B, 50000, 80, 0, TcpFlags::SYN | TcpFlags::ACK, b""),
    );
    t.finish_all();
    let s = summaries(&mut t);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].client.ip.to_string(), "10.0.0.2");
    assert_eq!(s[0].server.port, 50000);
    assert_eq!(s[0].packets, 2);
    assert!(s[0].new_flow);
}

#[test]
fn mid_stream_flows_take_the_well_known_port_as_server() {
    let mut t = FlowTable::new(FlowConfig::default());
    // First packet seen is the server's answer from port 443.
    feed(
        &mut t,
        1,
        &ipv4_tcp(B, A, 443, 51000, 9, TcpFlags::ACK, b"x"),
    );
    t.finish_all();
    let s = summaries(&mut t);
    assert_eq!(s[0].server.ip.to_string(), "10.0.0.2");
    assert_eq!(s[0].server.port, 443);
}

#[test]
fn idle_flows_expire_by_packet_time_and_a_new_syn_starts_a_new_flow() {
    let mut t = FlowTable::new(FlowConfig {
        tcp_timeout_ns: 10,
        ..FlowConfig::default()
    });
    feed(
        &mut t,
        1,
        &ipv4_tcp(A, B, 40000, 502, 0, TcpFlags::SYN, b""),
    );
    feed(
        &mut t,
        100,
        &ipv4_tcp(A, B, 40000, 502, 0, TcpFlags::SYN, b""),
    );
    t.finish_all();
    let s = summaries(&mut t);
    assert_eq!(s.len(), 2);
    assert_eq!(t.stats.flows, 2);
}

#[test]
fn the_flow_cap_evicts_and_counts() {
    let mut t = FlowTable::new(FlowConfig {
        max_flows: 16,
        ..FlowConfig::default()
    });
    for i in 0..100u16 {
        feed(
            &mut t,
            i as u64,
            &ipv4_tcp(A, B, 30000 + i, 502, 0, TcpFlags::SYN, b""),
        );
        assert!(t.len() <= 16);
    }
    assert!(t.stats.flows_evicted >= 84);
    t.finish_all();
    assert_eq!(summaries(&mut t).len(), 100);
}
