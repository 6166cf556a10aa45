use super::*;
use crate::protocols::source;
use crate::protocols::Endpoint;
use otwatch_common::observation::{Access, Field, Operation};

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn flow(inv: &mut Inventory, c: (&str, Option<&str>), s: (&str, Option<&str>), port: u16) {
    flow_on(inv, 0, c, s, port);
}

/// [`flow`] on VLAN `vlan`.
fn flow_on(
    inv: &mut Inventory,
    vlan: u16,
    c: (&str, Option<&str>),
    s: (&str, Option<&str>),
    port: u16,
) {
    inv.add_flow(&FlowSummary {
        lan: Lan::vlan(vlan),
        packets: 10,
        bytes: 1000,
        first: Timestamp(1),
        last: Timestamp(2),
        server_ttl: 120,
        answered: true,
        first_answer: true,
        accepted: true,
        client_packets: 5,
        server_packets: 5,
        ..summary(
            Endpoint {
                ip: ip(c.0),
                port: 40000,
                mac: c.1.map(mac),
            },
            Endpoint {
                ip: ip(s.0),
                port,
                mac: s.1.map(mac),
            },
        )
    });
}

/// One unanswered TCP packet from `client` to `server`: what the helpers start from.
fn summary(client: Endpoint, server: Endpoint) -> FlowSummary {
    FlowSummary {
        lan: Lan::NONE,
        client,
        server,
        ip_proto: 6,
        protocol: None,
        packets: 1,
        bytes: 60,
        first: Timestamp(5),
        last: Timestamp(5),
        new_flow: true,
        client_ttl: 64,
        server_ttl: 0,
        to_group: false,
        answered: false,
        first_answer: false,
        accepted: false,
        reset_by_server: false,
        echo: false,
        ended: true,
        client_packets: 1,
        server_packets: 0,
    }
}

const HOST: &str = "00:1b:1b:00:00:05";
const ROUTER: &str = "00:00:0c:00:00:01";

#[test]
fn a_router_mac_does_not_merge_the_ips_behind_it() {
    let mut inv = Inventory::default();
    for remote in ["8.8.8.8", "1.1.1.1", "9.9.9.9"] {
        flow(
            &mut inv,
            ("10.0.0.5", Some(HOST)),
            (remote, Some(ROUTER)),
            443,
        );
    }
    // The router's own address, tied by ARP.
    inv.observe(
        Origin::Frame {
            src: mac(ROUTER),
            ts: Timestamp(1),
            lan: Lan::NONE,
        },
        Observation::Binding {
            mac: mac(ROUTER),
            ip: ip("10.0.0.1"),
            source: "arp",
        },
    );
    let r = report(&inv, Default::default());
    let ids: Vec<&str> = r.assets.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ip:1.1.1.1",
            "ip:8.8.8.8",
            "ip:9.9.9.9",
            "mac:00:00:0c:00:00:01",
            "mac:00:1b:1b:00:00:05"
        ]
    );
    let router = &r.assets[3];
    assert_eq!(router.ips, ["10.0.0.1"]);
    assert_eq!(router.device_type, "router");
    assert_eq!(r.assets[4].ips, ["10.0.0.5"]);
    assert_eq!(r.connections.len(), 3);
    assert_eq!(r.connections[0].packets, 10);
    // The router's packets are the three flows it forwarded, not zero.
    assert_eq!((router.packets, router.bytes), (30, 3000));
}

/// A datagram flow from `c` (sent by `mac`) to `s` that `s` never answered.
fn datagram(inv: &mut Inventory, c: &str, mac_: &str, s: &str, port: u16) {
    inv.add_flow(&FlowSummary {
        ip_proto: 17,
        protocol: Some("bacnet"),
        packets: 3,
        bytes: 300,
        client_packets: 3,
        ..summary(
            Endpoint {
                ip: ip(c),
                port,
                mac: Some(mac(mac_)),
            },
            Endpoint {
                ip: ip(s),
                port,
                mac: None,
            },
        )
    });
}

#[test]
fn a_directed_broadcast_behind_a_router_is_no_asset() {
    // Seen between two routers: Who-Is and I-Am to 172.20.32.255 arrive with the next
    // router's MAC as destination, like unicast.
    let mut inv = Inventory::default();
    for dev in ["172.20.32.100", "172.20.32.101", "172.20.32.102"] {
        datagram(&mut inv, dev, ROUTER, "172.20.32.255", 47808);
    }
    let r = report(&inv, Default::default());
    assert!(
        r.assets.iter().all(|a| a.ips != ["172.20.32.255"]),
        "{:?}",
        r.assets.iter().map(|a| &a.ips).collect::<Vec<_>>()
    );
    assert!(r.connections.iter().all(|c| c.server != "172.20.32.255"));
    assert_eq!(r.assets.iter().filter(|a| a.ips.len() == 1).count(), 3);

    // One sender only: nothing says it is a broadcast; an address that answers, or that
    // takes TCP, is a device.
    for (sender_count, tcp_too, answers) in [(1, false, false), (2, true, false), (2, false, true)]
    {
        let mut inv = Inventory::default();
        for dev in ["10.1.1.7", "10.1.1.8"].iter().take(sender_count) {
            datagram(&mut inv, dev, ROUTER, "10.1.1.255", 161);
        }
        if tcp_too {
            flow(
                &mut inv,
                ("10.1.1.7", Some(ROUTER)),
                ("10.1.1.255", None),
                502,
            );
        }
        if answers {
            datagram(&mut inv, "10.1.1.255", HOST, "10.1.1.7", 161);
        }
        let r = report(&inv, Default::default());
        assert!(
            r.assets.iter().any(|a| a.ips == ["10.1.1.255"]),
            "{sender_count} senders, tcp {tcp_too}, answers {answers}"
        );
    }
}

#[test]
fn a_host_talking_to_itself_counts_each_packet_once() {
    let mut inv = Inventory::default();
    flow(
        &mut inv,
        ("127.0.0.1", Some("00:00:00:00:00:00")),
        ("127.0.0.1", Some("00:00:00:00:00:00")),
        4840,
    );
    let r = report(&inv, Default::default());
    let lo = r.assets.iter().find(|a| a.ips == ["127.0.0.1"]).unwrap();
    assert_eq!((lo.packets, lo.bytes), (10, 1000));
}

#[test]
fn a_dual_stack_host_is_one_asset_and_group_addresses_are_none() {
    let mut inv = Inventory::default();
    flow(&mut inv, ("10.0.0.5", Some(HOST)), ("10.0.0.9", None), 502);
    flow(&mut inv, ("fe80::5", Some(HOST)), ("fe80::9", None), 502);
    flow(
        &mut inv,
        ("10.0.0.5", Some(HOST)),
        ("224.0.0.251", None),
        5353,
    );
    flow(&mut inv, ("0.0.0.0", None), ("255.255.255.255", None), 67);
    let r = report(&inv, Default::default());
    let host = r.assets.iter().find(|a| a.macs == [HOST]).unwrap();
    assert_eq!(host.ips, ["10.0.0.5", "fe80::5"]);
    assert!(r.assets.iter().all(|a| !a.ips.iter().any(|i| [
        "224.0.0.251",
        "255.255.255.255",
        "0.0.0.0"
    ]
    .contains(&i.as_str()))));
    // Only host-to-host links are connections.
    assert_eq!(r.connections.len(), 2);
}

#[test]
fn stronger_sources_win_and_every_claim_stays_as_evidence() {
    let mut inv = Inventory::default();
    flow(&mut inv, ("10.0.0.5", Some(HOST)), ("10.0.0.9", None), 80);
    let at = |ts| Origin::Frame {
        src: mac(HOST),
        ts: Timestamp(ts),
        lan: Lan::NONE,
    };
    let name = |v: &str, source| Observation::Identity {
        subject: Subject::Ip(ip("10.0.0.5")),
        field: Field::Hostname,
        value: v.into(),
        source,
    };
    inv.observe(at(1), name("www.example.com", source::DNS_ANSWER));
    inv.observe(at(5), name("PLC-7", source::DHCP_OPTION_12));
    let r = report(&inv, Default::default());
    let host = r.assets.iter().find(|a| a.macs == [HOST]).unwrap();
    assert_eq!(host.hostname, "PLC-7");
    assert_eq!(host.names, ["PLC-7", "www.example.com"]);
    assert!(host
        .evidence
        .iter()
        .any(|e| e.source == source::DNS_ANSWER.name));
    // Shown with one spelling; the registry's own stays in the evidence.
    assert_eq!(host.vendor, "Siemens");
    assert!(host
        .evidence
        .iter()
        .any(|e| e.field == "vendor" && e.value == "Siemens AG"));
    assert!(host.evidence.iter().any(|e| e.field == "os_hint"));
}

#[test]
fn merging_two_runs_equals_one_run() {
    let mut one = Inventory::default();
    flow(&mut one, ("10.0.0.5", Some(HOST)), ("10.0.0.9", None), 502);
    flow(&mut one, ("10.0.0.6", None), ("10.0.0.9", None), 502);
    let mut a = Inventory::default();
    flow(&mut a, ("10.0.0.5", Some(HOST)), ("10.0.0.9", None), 502);
    let mut b = Inventory::default();
    flow(&mut b, ("10.0.0.6", None), ("10.0.0.9", None), 502);
    a.merge(b);
    assert_eq!(a, one);
}

/// A flow like [`flow`] with a recognised protocol.
fn proto_flow(inv: &mut Inventory, client: &str, server: &str, port: u16, p: &'static str) {
    proto_flow_on(inv, 0, (client, server, port), p);
}

/// [`proto_flow`] on VLAN `vlan`.
fn proto_flow_on(
    inv: &mut Inventory,
    vlan: u16,
    (client, server, port): (&str, &str, u16),
    p: &'static str,
) {
    let ep = |ip_: &str, port| Endpoint {
        ip: ip(ip_),
        port,
        mac: None,
    };
    inv.add_flow(&FlowSummary {
        lan: Lan::vlan(vlan),
        client: ep(client, 40000),
        server: ep(server, port),
        ip_proto: 6,
        protocol: Some(p),
        packets: 10,
        bytes: 1000,
        first: Timestamp(1),
        last: Timestamp(2),
        new_flow: true,
        client_ttl: 64,
        server_ttl: 64,
        to_group: false,
        answered: true,
        first_answer: true,
        accepted: true,
        reset_by_server: false,
        echo: false,
        ended: true,
        client_packets: 5,
        server_packets: 5,
    });
}

fn flow_ctx(client: &str, server: &str, port: u16) -> FlowCtx {
    FlowCtx {
        client: Endpoint {
            ip: ip(client),
            port: 40000,
            mac: None,
        },
        server: Endpoint {
            ip: ip(server),
            port,
            mac: None,
        },
        transport: crate::protocols::Transport::Tcp,
        ts: Timestamp(1),
        dst_mac: None,
    }
}

#[test]
fn accessed_ranges_are_merged_per_unit_area_and_operation() {
    let mut inv = Inventory::default();
    proto_flow(&mut inv, "10.0.0.9", "10.0.0.3", 502, "modbus");
    let ctx = flow_ctx("10.0.0.9", "10.0.0.3", 502);
    let origin = Origin::Flow {
        ctx: &ctx,
        lan: Lan::NONE,
        protocol: "modbus",
    };
    let write = |start, count| {
        Observation::Access(Access {
            op: Operation::Write,
            unit: Some(1),
            area: "holding_registers",
            block: None,
            start,
            count,
        })
    };
    for obs in [write(100, 1), write(0, 5), write(5, 5), write(3, 2)] {
        inv.observe(origin, obs);
    }
    inv.observe(
        origin,
        Observation::Access(Access {
            op: Operation::Read,
            unit: Some(1),
            area: "coils",
            block: None,
            start: 0,
            count: 16,
        }),
    );
    let r = report(&inv, Default::default());
    let json = serde_json::to_string(&r.connections[0].accessed).unwrap();
    assert_eq!(
        json,
        r#"[{"unit":1,"area":"coils","op":"read","ranges":"0-15","dropped":0},{"unit":1,"area":"holding_registers","op":"write","ranges":"0-9,100","dropped":0}]"#
    );
    assert!(!r.stats().limits.contains_key("access_ranges_dropped"));
    // A later run folded in continues the same sets.
    let mut later = inv.clone();
    later.merge(inv.clone());
    assert_eq!(
        report(&later, Default::default()).connections[0].accessed,
        r.connections[0].accessed
    );
}

#[test]
fn a_collector_that_serves_sql_to_the_office_is_a_historian() {
    let mut inv = Inventory::default();
    for plc in ["10.0.1.1", "10.0.1.2"] {
        proto_flow(&mut inv, "10.0.2.10", plc, 502, "modbus");
    }
    let ctx = flow_ctx("10.0.2.10", "10.0.1.1", 502);
    inv.observe(
        Origin::Flow {
            ctx: &ctx,
            lan: Lan::NONE,
            protocol: "modbus",
        },
        Observation::Operation {
            op: Operation::Read,
            function_code: Some(3),
            details: Vec::new(),
        },
    );
    // An office host queries its SQL Server port (no dissector: no protocol name).
    flow(&mut inv, ("10.0.3.20", None), ("10.0.2.10", None), 1433);
    let r = report(&inv, Default::default());
    let a = r.assets.iter().find(|a| a.id == "ip:10.0.2.10").unwrap();
    assert_eq!(
        (a.device_type.as_str(), a.purdue_level),
        ("historian", Some(3))
    );
    assert!(a.evidence.iter().any(|e| e.field == "device_type"
        && e.source == "behaviour: reads 2 controllers and serves tcp 1433 to 1 other host(s)"));
    // Without the database client it is a poller like any HMI.
    let mut inv2 = Inventory::default();
    for plc in ["10.0.1.1", "10.0.1.2"] {
        proto_flow(&mut inv2, "10.0.2.10", plc, 502, "modbus");
    }
    let r = report(&inv2, Default::default());
    let a = r.assets.iter().find(|a| a.id == "ip:10.0.2.10").unwrap();
    assert_eq!(a.device_type, "hmi");
}

/// A one-packet flow from `src` to `dst` (flood debris).
fn probe(inv: &mut Inventory, src: IpAddr, dst: IpAddr) {
    let ep = |ip, port| Endpoint {
        ip,
        port,
        mac: None,
    };
    inv.add_flow(&summary(ep(src, 40000), ep(dst, 80)));
}

#[test]
fn caps_evict_flood_debris_first_and_never_the_controllers() {
    let mut inv = Inventory {
        limits: InventoryLimits {
            max_hosts: 64,
            max_macs: 64,
            max_conns: 64,
        },
        ..Inventory::default()
    };
    proto_flow(&mut inv, "10.0.0.9", "10.0.0.3", 502, "modbus");
    flow(&mut inv, ("10.0.0.20", None), ("10.0.0.21", None), 443);
    for i in 0..5000u32 {
        let src = IpAddr::from([10, 9, (i >> 8) as u8, i as u8]);
        probe(&mut inv, src, ip("10.0.0.3"));
    }
    assert!(inv.hosts.len() <= 64);
    assert!(inv.conns.len() <= 64);
    // The controller and its station stay, and so does their connection.
    for kept in ["10.0.0.3", "10.0.0.9"] {
        assert!(inv.hosts.contains_key(&ip(kept).into()), "{kept} evicted");
    }
    assert!(inv
        .conns
        .keys()
        .any(|k| k.server == ip("10.0.0.3") && k.port == 502));
    // Busier, unidentified hosts outlast one-packet ones.
    assert!(inv.hosts.contains_key(&ip("10.0.0.20").into()));
    assert!(inv.shed.hosts_evicted > 4000, "{:?}", inv.shed);
    assert_eq!(inv.shed.hosts_refused, 0);
    // No connection points at an evicted address.
    for k in inv.conns.keys() {
        assert!(inv.hosts.contains_key(&k.client_key()) && inv.hosts.contains_key(&k.server_key()));
    }
    let report = report(&inv, Default::default());
    assert!(report.stats().limits["hosts_evicted"] > 4000);
}

#[test]
fn when_only_controllers_are_left_new_addresses_are_refused() {
    let mut inv = Inventory {
        limits: InventoryLimits {
            max_hosts: 16,
            max_macs: 16,
            max_conns: 16,
        },
        ..Inventory::default()
    };
    for i in 0..8u8 {
        proto_flow(
            &mut inv,
            &format!("10.0.1.{i}"),
            &format!("10.0.2.{i}"),
            502,
            "modbus",
        );
    }
    probe(&mut inv, ip("10.9.9.9"), ip("10.0.2.0"));
    assert_eq!(inv.hosts.len(), 16);
    assert!(!inv.hosts.contains_key(&ip("10.9.9.9").into()));
    assert_eq!(inv.shed.hosts_refused, 1);
    // Merging a bigger inventory in keeps the caps.
    let mut big = Inventory::default();
    for i in 0..100u32 {
        probe(&mut big, IpAddr::from([10, 8, 0, i as u8]), ip("10.0.3.1"));
    }
    inv.merge(big);
    assert!(inv.hosts.len() <= 16);
}

/// The same address on two VLANs: two hosts, two assets (ids `ip:<ip>%vlan<id>`, each with
/// its VLAN) and two connections; untagged keeps `ip:<ip>` and no VLAN.
#[test]
fn the_same_address_on_two_vlans_is_two_assets() {
    let mut inv = Inventory::default();
    for vlan in [0, 10, 20] {
        proto_flow_on(
            &mut inv,
            vlan,
            ("192.168.1.10", "192.168.1.20", 502),
            "modbus",
        );
    }
    assert_eq!(inv.hosts.len(), 6);
    assert_eq!(inv.conns.len(), 3);
    let r = report(&inv, Default::default());
    let ids: Vec<(&str, &[u32])> = r
        .assets
        .iter()
        .map(|a| (a.id.as_str(), a.vlans.as_slice()))
        .collect();
    assert_eq!(
        ids,
        [
            ("ip:192.168.1.10", &[][..]),
            ("ip:192.168.1.10%vlan10", &[10][..]),
            ("ip:192.168.1.10%vlan20", &[20][..]),
            ("ip:192.168.1.20", &[][..]),
            ("ip:192.168.1.20%vlan10", &[10][..]),
            ("ip:192.168.1.20%vlan20", &[20][..]),
        ]
    );
    assert!(r.assets.iter().all(|a| a.ips.len() == 1));
    let vlans: Vec<u32> = r.connections.iter().map(|c| c.vlan).collect();
    assert_eq!(vlans, [0, 10, 20]);
    // The text form parses back.
    for id in [
        "192.168.1.10",
        "192.168.1.10%vlan10",
        "fe80::1%vlan4094",
        "10.0.0.1%seg2",
        "10.0.0.1%seg4095.vlan10",
    ] {
        let k: HostKey = id.parse().unwrap();
        assert_eq!(k.to_string(), id);
    }
    for bad in [
        "192.168.1.10%vlanx",
        "10.0.0.1%vlan0",
        "10.0.0.1%vlan4096",
        "10.0.0.1%seg2.",
        "10.0.0.1%seg0.vlan3",
        "10.0.0.1%vlan3.seg2",
        "10.0.0.1%",
    ] {
        assert!(bad.parse::<HostKey>().is_err(), "{bad}");
    }
}

/// A router between two mirrored VLANs: each packet is seen on both, so each end's address also
/// shows up on the other VLAN behind the router's MAC. That is the same device, not another.
#[test]
fn a_routed_sighting_on_the_other_vlan_is_the_same_device() {
    const A: &str = "02:00:00:00:00:0a";
    const B: &str = "02:00:00:00:00:0b";
    const R: &str = "02:00:00:00:00:01";
    let mut inv = Inventory::default();
    flow_on(
        &mut inv,
        10,
        ("10.0.10.5", Some(A)),
        ("10.0.20.7", Some(R)),
        502,
    );
    flow_on(
        &mut inv,
        20,
        ("10.0.10.5", Some(R)),
        ("10.0.20.7", Some(B)),
        502,
    );
    let r = report(&inv, Default::default());
    let assets: Vec<(&str, &[String], &[u32])> = r
        .assets
        .iter()
        .map(|a| (a.id.as_str(), a.ips.as_slice(), a.vlans.as_slice()))
        .collect();
    let ips = |s: &str| vec![s.to_string()];
    assert_eq!(
        assets,
        [
            ("mac:02:00:00:00:00:01", &[][..], &[][..]),
            ("mac:02:00:00:00:00:0a", &ips("10.0.10.5")[..], &[10][..]),
            ("mac:02:00:00:00:00:0b", &ips("10.0.20.7")[..], &[20][..]),
        ]
    );
    // Two legs: two connections.
    let vlans: Vec<u32> = r.connections.iter().map(|c| c.vlan).collect();
    assert_eq!(vlans, [10, 20]);
}
