use super::*;
use crate::decode::Lan;
use crate::protocols::source;
use crate::protocols::Endpoint;
use otwatch_common::observation::Subject;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ctx(client: &str, server: &str, port: u16, secs: u64) -> FlowCtx {
    FlowCtx {
        client: Endpoint {
            ip: ip(client),
            port: 50000,
            mac: None,
        },
        server: Endpoint {
            ip: ip(server),
            port,
            mac: None,
        },
        transport: Transport::Tcp,
        ts: Timestamp::from_secs_nanos(1_700_000_000 + secs, 0),
        dst_mac: None,
    }
}

fn op(op: Operation, fc: u32) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(fc),
        details: vec![("service", "test".into())],
    }
}

fn kinds(b: &AlertBook) -> Vec<String> {
    b.iter().map(|a| a.key.kind.to_string()).collect()
}

fn see(d: &mut Detector, b: &mut AlertBook, c: &FlowCtx, proto: &'static str, o: Observation) {
    d.observe_all(
        b,
        Source::Flow {
            ctx: c,
            lan: Lan::NONE,
            protocol: proto,
        },
        &o,
    );
}

#[test]
fn controller_operations_alert_without_a_baseline_and_reads_do_not() {
    let mut d = Detector::default();
    let mut b = AlertBook::default();
    let c = ctx("10.0.0.5", "10.0.0.20", 102, 0);
    see(&mut d, &mut b, &c, "s7comm", op(Operation::Read, 4));
    see(&mut d, &mut b, &c, "s7comm", op(Operation::Write, 5));
    assert!(b.is_empty());
    see(&mut d, &mut b, &c, "s7comm", op(Operation::CpuStop, 0x29));
    see(&mut d, &mut b, &c, "s7comm", op(Operation::CpuStop, 0x29));
    see(
        &mut d,
        &mut b,
        &c,
        "s7comm",
        op(Operation::ProgramDownload, 0x1a),
    );
    assert_eq!(kinds(&b), ["plc_stop", "plc_program_download"]);
    let stop = b.iter().next().unwrap();
    assert_eq!(stop.count, 2);
    assert_eq!(stop.severity, Severity::Critical);
    assert!(stop
        .evidence
        .iter()
        .any(|(f, v)| f == "function_code" && v == "41"));
    assert!(stop.mitre.iter().any(|m| m == "T0858"));
}

#[test]
fn routine_clock_sync_from_the_usual_master_is_quiet() {
    let mut d = Detector::default();
    let mut b = AlertBook::default();
    for s in 0..5 {
        let c = ctx("10.0.0.5", "10.0.0.20", 2404, s * 60);
        see(&mut d, &mut b, &c, "iec104", op(Operation::TimeSync, 103));
    }
    assert!(b.is_empty());
    let rogue = ctx("10.0.0.66", "10.0.0.20", 2404, 400);
    see(
        &mut d,
        &mut b,
        &rogue,
        "iec104",
        op(Operation::TimeSync, 103),
    );
    assert_eq!(kinds(&b), ["plc_config_change"]);
    // S7 set-clock is a configuration change at once.
    let s7 = ctx("10.0.0.5", "10.0.0.21", 102, 0);
    see(
        &mut d,
        &mut b,
        &s7,
        "s7comm",
        op(Operation::TimeSync, 0x0702),
    );
    assert_eq!(b.len(), 2);
}

#[test]
fn brute_force_needs_many_failures() {
    let mut d = Detector::default();
    let mut b = AlertBook::default();
    for i in 0..9 {
        let c = ctx("10.0.0.66", "10.0.0.21", 21, i);
        see(
            &mut d,
            &mut b,
            &c,
            "ftp",
            Observation::AuthFailure {
                user: "operator".into(),
                protocol: "ftp",
            },
        );
    }
    assert!(b.is_empty(), "nine failures are a forgetful user");
    let c = ctx("10.0.0.66", "10.0.0.21", 21, 10);
    see(
        &mut d,
        &mut b,
        &c,
        "ftp",
        Observation::AuthFailure {
            user: "operator".into(),
            protocol: "ftp",
        },
    );
    assert_eq!(kinds(&b), ["brute_force"]);
    assert!(b
        .iter()
        .next()
        .unwrap()
        .evidence
        .iter()
        .any(|(f, v)| f == "user" && v == "operator"));
}

#[test]
fn credentials_show_the_user_never_a_secret() {
    let mut d = Detector::default();
    let mut b = AlertBook::default();
    let c = ctx("10.0.0.5", "10.0.0.21", 23, 0);
    see(
        &mut d,
        &mut b,
        &c,
        "telnet",
        Observation::CleartextLogin {
            user: "admin".into(),
            protocol: "telnet",
        },
    );
    let a = b.iter().next().unwrap();
    assert_eq!(a.key.kind, "cleartext_credentials");
    assert!(a.evidence.iter().any(|(f, v)| f == "user" && v == "admin"));
}

fn summary(client: &str, server: &str, port: u16, secs: u64, accepted: bool) -> FlowSummary {
    let ts = Timestamp::from_secs_nanos(1_700_000_000 + secs, 0);
    FlowSummary {
        lan: Lan::NONE,
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
        ip_proto: 6,
        protocol: None,
        packets: 2,
        bytes: 120,
        first: ts,
        last: ts,
        new_flow: true,
        client_ttl: 64,
        server_ttl: 64,
        to_group: false,
        answered: true,
        first_answer: true,
        accepted,
        reset_by_server: !accepted,
        echo: false,
        ended: true,
        client_packets: 1,
        server_packets: 1,
    }
}

#[test]
fn port_scans_are_found_and_busy_clients_are_not() {
    let mut d = Detector::default();
    let mut b = AlertBook::default();
    // A SCADA server connecting to 40 outstations successfully: no scan.
    for h in 1..=40u8 {
        d.flow(
            &mut b,
            &summary("10.0.0.5", &format!("10.0.2.{h}"), 20000, 0, true),
        );
    }
    assert!(b.is_empty());
    for p in 1..=100u16 {
        d.flow(&mut b, &summary("10.0.0.66", "10.0.2.1", p, 1, false));
    }
    assert_eq!(kinds(&b), ["scan_detected"]);
    let a = b.iter().next().unwrap();
    assert_eq!(a.key.dst, Addr::Ip(ip("10.0.2.1").into()));
}

/// The same scan on VLAN 20 and on segment 3: the alerts name the addresses in their LANs,
/// and each names the scanner of its own LAN, not the one that reuses the address elsewhere.
#[test]
fn alerts_name_addresses_in_their_lan() {
    let mut d = Detector::default();
    let mut b = AlertBook::default();
    let lans = [
        Lan::vlan(20),
        Lan {
            segment: 3,
            vlan: 0,
        },
    ];
    for lan in lans {
        for p in 1..=100u16 {
            let s = FlowSummary {
                lan,
                ..summary("10.0.0.66", "10.0.2.1", p, 1, false)
            };
            d.flow(&mut b, &s);
        }
    }
    let mut dst: Vec<String> = b.iter().map(|a| a.key.dst.to_string()).collect();
    dst.sort();
    assert_eq!(dst, ["10.0.2.1%seg3", "10.0.2.1%vlan20"]);
    assert!(b.iter().all(|a| a.key.kind == "scan_detected"));

    let asset = |id: &str, vlans: Vec<u32>, segments: Vec<u32>| otwatch_common::model::Asset {
        id: id.into(),
        ips: vec!["10.0.0.66".into()],
        vlans,
        segments,
        ..Default::default()
    };
    let r = otwatch_common::model::InventoryReport {
        assets: vec![
            asset("ip:10.0.0.66", vec![], vec![]),
            asset("ip:10.0.0.66%vlan20", vec![20], vec![]),
            asset("ip:10.0.0.66%seg3", vec![], vec![3]),
        ],
        ..Default::default()
    };
    let alerts = derive::render(&b, &r);
    let mut named: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a.dst.as_str(), a.asset.as_str()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("10.0.2.1%seg3", "ip:10.0.0.66%seg3"),
            ("10.0.2.1%vlan20", "ip:10.0.0.66%vlan20")
        ]
    );
}

#[test]
fn policy_deviations() {
    use otwatch_common::model::{Connection, InventoryReport};
    let learned = InventoryReport {
        connections: vec![Connection {
            client: "10.0.0.5".into(),
            server: "10.0.0.20".into(),
            transport: "tcp".into(),
            port: 502,
            protocol: "modbus".into(),
            function_codes: vec!["3".into(), "6".into()],
            operations: vec!["read".into(), "write".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let cfg = DetectConfig {
        policy: Some(policy::Policy::learn(&learned, "")),
        ..DetectConfig::default()
    };
    let mut d = Detector::new(Arc::new(cfg));
    let mut b = AlertBook::default();
    let hmi = ctx("10.0.0.5", "10.0.0.20", 502, 0);
    see(&mut d, &mut b, &hmi, "modbus", op(Operation::Read, 3));
    see(&mut d, &mut b, &hmi, "modbus", op(Operation::Write, 6));
    assert!(b.is_empty(), "what the policy saw raises nothing");
    see(&mut d, &mut b, &hmi, "modbus", op(Operation::Write, 16));
    assert_eq!(kinds(&b), ["new_operation"]);
    let intruder = ctx("10.0.0.66", "10.0.0.20", 502, 5);
    see(&mut d, &mut b, &intruder, "modbus", op(Operation::Write, 6));
    see(
        &mut d,
        &mut b,
        &intruder,
        "modbus",
        Observation::Access(Access {
            op: Operation::Write,
            unit: Some(1),
            area: "holding_registers",
            block: None,
            start: 100,
            count: 2,
        }),
    );
    assert_eq!(kinds(&b), ["new_operation", "unauthorized_write"]);
    let w = b.iter().nth(1).unwrap();
    assert_eq!(w.count, 2);
    assert!(w
        .evidence
        .iter()
        .any(|(f, v)| f == "written" && v == "unit 1 holding_registers 100-101"));
    d.flow(&mut b, &summary("10.0.0.66", "10.0.0.20", 502, 5, true));
    assert_eq!(b.len(), 3);
    assert_eq!(b.iter().nth(2).unwrap().key.kind, "new_conversation");
    d.flow(&mut b, &summary("10.0.0.5", "10.0.0.20", 502, 6, true));
    assert_eq!(b.len(), 3, "a known conversation is not new");
}

#[test]
fn indicators_match_names_and_addresses() {
    let mut iocs = ioc::IocSet::default();
    iocs.add_text(&text::SourceText::new(
        "i.csv",
        "evil-c2.example.net,C2\n203.0.113.66,C2 address\n",
    ))
    .unwrap();
    let cfg = DetectConfig {
        iocs,
        ..DetectConfig::default()
    };
    let mut d = Detector::new(Arc::new(cfg));
    let mut b = AlertBook::default();
    let c = ctx("10.0.0.5", "10.0.0.53", 53, 0);
    see(
        &mut d,
        &mut b,
        &c,
        "dns",
        Observation::Lookup {
            name: "www.evil-c2.example.net".into(),
            via: "dns query",
        },
    );
    see(
        &mut d,
        &mut b,
        &c,
        "dns",
        Observation::Identity {
            subject: Subject::Ip(ip("203.0.113.9")),
            field: Field::Hostname,
            value: "evil-c2.example.net".into(),
            source: source::DNS_ANSWER,
        },
    );
    d.flow(&mut b, &summary("10.0.0.5", "203.0.113.66", 8080, 1, true));
    d.flow(&mut b, &summary("10.0.0.5", "203.0.113.67", 8080, 1, true));
    // The query and the answer are one sighting of the domain by that host; the address is
    // another indicator.
    assert_eq!(kinds(&b), ["ioc_match", "ioc_match"]);
    assert!(b
        .iter()
        .next()
        .unwrap()
        .evidence
        .iter()
        .any(|(f, v)| f == "seen_in" && v == source::DNS_ANSWER.name));
}

#[test]
fn analyst_rules_with_thresholds() {
    let mut rules = rules::RuleSet::default();
    rules
        .add(&text::SourceText::new(
            "r.toml",
            "[[rule]]\nname = \"busy-writer\"\nseverity = \"high\"\ntitle = \"Many writes\"\noperation = [\"write\"]\nthreshold = { count = 3, window_secs = 10 }\n",
        ))
        .unwrap();
    let cfg = DetectConfig {
        rules,
        ..DetectConfig::default()
    };
    let mut d = Detector::new(Arc::new(cfg));
    let mut b = AlertBook::default();
    for s in 0..2 {
        see(
            &mut d,
            &mut b,
            &ctx("10.0.0.5", "10.0.0.20", 502, s),
            "modbus",
            op(Operation::Write, 6),
        );
    }
    assert!(b.is_empty());
    see(
        &mut d,
        &mut b,
        &ctx("10.0.0.5", "10.0.0.20", 502, 3),
        "modbus",
        op(Operation::Write, 6),
    );
    assert_eq!(kinds(&b), ["rule:busy-writer"]);
    assert_eq!(b.iter().next().unwrap().severity, Severity::High);
}
