use super::*;
use crate::protocols::Endpoint;
use otwatch_common::observation::Field;

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn flow(inv: &mut Inventory, c: (&str, Option<&str>), s: (&str, Option<&str>), port: u16) {
    inv.add_flow(&FlowSummary {
        client: Endpoint {
            ip: ip(c.0),
            port: 40000,
            mac: c.1.map(mac),
        },
        server: Endpoint {
            ip: ip(s.0),
            port,
            mac: s.1.map(mac),
        },
        ip_proto: 6,
        protocol: None,
        packets: 10,
        bytes: 1000,
        first: Timestamp(1),
        last: Timestamp(2),
        new_flow: true,
        client_ttl: 64,
        server_ttl: 120,
        to_group: false,
    });
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
    };
    let name = |v: &str, source| Observation::Identity {
        subject: Subject::Ip(ip("10.0.0.5")),
        field: Field::Hostname,
        value: v.into(),
        source,
    };
    inv.observe(at(1), name("www.example.com", "dns answer"));
    inv.observe(at(5), name("PLC-7", "dhcp option 12"));
    let r = report(&inv, Default::default());
    let host = r.assets.iter().find(|a| a.macs == [HOST]).unwrap();
    assert_eq!(host.hostname, "PLC-7");
    assert_eq!(host.names, ["PLC-7", "www.example.com"]);
    assert!(host.evidence.iter().any(|e| e.source == "dns answer"));
    assert_eq!(host.vendor, "Siemens AG");
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
