use super::*;
use otwatch_common::model::{Alert, Asset, Connection};

fn report() -> InventoryReport {
    InventoryReport {
        assets: vec![
            Asset {
                id: "mac:00:1b:1b:00:00:01".into(),
                macs: vec!["00:1b:1b:00:00:01".into()],
                ips: vec!["10.0.1.20".into()],
                vendor: "Siemens".into(),
                device_type: "plc".into(),
                purdue_level: Some(1),
                ..Default::default()
            },
            Asset {
                id: "ip:10.0.2.30".into(),
                ips: vec!["10.0.2.30".into()],
                device_type: "hmi".into(),
                purdue_level: Some(2),
                ..Default::default()
            },
            Asset {
                id: "ip:93.184.216.34".into(),
                ips: vec!["93.184.216.34".into()],
                purdue_level: Some(5),
                ..Default::default()
            },
        ],
        connections: vec![
            Connection {
                client: "10.0.2.30".into(),
                server: "10.0.1.20".into(),
                transport: "tcp".into(),
                port: 502,
                protocol: "modbus".into(),
                function_codes: vec!["3".into(), "6".into()],
                operations: vec!["read".into(), "write".into()],
                ..Default::default()
            },
            Connection {
                client: "10.0.2.30".into(),
                server: "10.0.1.20".into(),
                transport: "udp".into(),
                port: 50000,
                ..Default::default()
            },
        ],
        alerts: vec![Alert {
            kind: "plc_program_download".into(),
            src: "10.0.2.30".into(),
            dst: "10.0.1.20".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn learned_policy_round_trips_through_toml() {
    let p = Policy::learn(&report(), "plant-a");
    assert_eq!(p.assets.len(), 2, "internet hosts are not plant assets");
    assert_eq!(p.conversations.len(), 2);
    assert!(p.ot_protocols.contains("modbus"));
    assert!(p.ot_protocols.contains("udp/ephemeral"));
    let text = p.to_toml();
    let back = Policy::parse(&SourceText::new("p.toml", &text)).unwrap();
    assert_eq!(back.to_toml(), text, "the written form is stable");
    assert!(back.knows_ip(&ip("10.0.1.20")));
    assert!(back.knows_mac(&"00:1b:1b:00:00:01".parse().unwrap()));
    let (_, c) = back
        .conversation(ip("10.0.2.30"), ip("10.0.1.20"), 6, 502, "modbus")
        .unwrap();
    assert!(c.has_op(Operation::Write) && !c.has_op(Operation::CpuStop));
    assert!(c.has_fc(6) && !c.has_fc(16));
    assert!(back.wrote(ip("10.0.2.30"), ip("10.0.1.20")));
    assert!(!back.wrote(ip("10.0.1.20"), ip("10.0.2.30")));
    // Either orientation, a recognised protocol on another port, any ephemeral port.
    assert!(back
        .conversation(ip("10.0.1.20"), ip("10.0.2.30"), 6, 502, "")
        .is_some());
    assert!(back
        .conversation(ip("10.0.2.30"), ip("10.0.1.20"), 6, 5020, "modbus")
        .is_some());
    assert!(back
        .conversation(ip("10.0.2.30"), ip("10.0.1.20"), 17, 61000, "")
        .is_some());
    assert!(back
        .conversation(ip("10.0.2.30"), ip("10.0.1.20"), 6, 22, "ssh")
        .is_none());
    assert!(back.allows(
        "plc_program_download",
        Addr::Ip(ip("10.0.2.30").into()),
        Addr::Ip(ip("10.0.1.20").into())
    ));
    assert!(!back.allows(
        "plc_stop",
        Addr::Ip(ip("10.0.2.30").into()),
        Addr::Ip(ip("10.0.1.20").into())
    ));
}

#[test]
fn bad_policies_name_the_line() {
    let good = Policy::learn(&report(), "plant-a").to_toml();
    let cases = [
        (good.replace("version = 1", "version = 9"), "version"),
        (
            good.replace("server = \"10.0.1.20\"", "server = \"10.0.1.x\""),
            "not an IP",
        ),
        (good.replace("\"write\"", "\"smash\""), "unknown operation"),
        (
            good.replace("kind = \"plc_program_download\"", "kind = \"plc_explode\""),
            "unknown alert kind",
        ),
        (
            good.replace("transport = \"udp\"", "transport = \"sctp\""),
            "unknown transport",
        ),
        (good.replace("ot_protocols", "ot_protocolz"), "ot_protocolz"),
        (format!("{good}\n[[asset]]\ncolour = 1\n"), "colour"),
        (format!("{good}\n[[asset]]\n"), "at least one"),
    ];
    for (text, word) in cases {
        let e = Policy::parse(&SourceText::new("p.toml", &text)).unwrap_err();
        assert!(e.line > 0, "{e}");
        assert!(e.message.contains(word), "{word}: {e}");
        // The line points at the mistake.
        let line = text.lines().nth(e.line - 1).unwrap_or("");
        assert!(
            !line.trim().is_empty() || word == "at least one",
            "{word}: line {} is {line:?}",
            e.line
        );
    }
}
