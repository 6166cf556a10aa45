//! Tests on real SNMP datagrams from /work/shared/pcaps/snmp (payloads extracted with
//! `tshark -T fields -e udp.payload`; expected values read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::sysdescr::DescriptionFacts;
use crate::protocols::testing::{self, datagram, hex, id, Noise};
use crate::protocols::FlowCtx;

/// snmpwalk-short.pcap frame 1: v2c get-next-request 1.3.6.1.2.1, community "public".
const WALK_REQUEST: &str =
    "302602010104067075626c6963a119020409584e45020100020100300b300906052b060102010500";
/// snmpwalk-short.pcap frame 2: get-response with sysDescr.0.
const WALK_SYSDESCR: &str = "30819002010104067075626c6963a28182020409584e450201000201003074307206082b0601020101010004664c696e7578207562756e74752d3531326d622d73666f322d303120342e342e302d33312d67656e65726963202335307e31342e30342e312d5562756e747520534d5020576564204a756c2031332030313a30373a3332205554432032303136207838365f3634";
/// snmpwalk-short.pcap frame 4: sysObjectID.0 = 1.3.6.1.4.1.8072.3.2.10 (net-snmp).
const WALK_SYSOBJECTID: &str = "303302010104067075626c6963a226020409584e460201000201003018301606082b06010201010200060a2b06010401bf0803020a";
/// snmpwalk-short.pcap frame 10: sysName.0 = "ubuntu-512mb-sfo2-01".
const WALK_SYSNAME: &str = "303d02010104067075626c6963a230020409584e490201000201003022302006082b0601020101050004147562756e74752d3531326d622d73666f322d3031";
/// snmpv1_get.pcap frame 1: v1 get-request sysObjectID.0.
const V1_GET: &str =
    "302602010004067075626c6963a019020126020100020100300e300c06082b060102010102000500";
/// snmpv1_get.pcap frame 2: sysObjectID.0 = 1.3.6.1.4.1.2001.1.1.1.297.93.1.27.2.2.1.
const V1_SYSOBJECTID: &str = "303802010004067075626c6963a22b0201260201000201003020301e06082b0601020101020006122b060104018f5101010182295d011b020201";
/// snmpv1_get.pcap frame 4: sysName.0 = "B6300", sysLocation.0 = "Chandra's cube".
const V1_SYSNAME: &str = "304702010004067075626c6963a23a020127020100020100302f301106082b0601020101050004054236333030301a06082b06010201010600040e4368616e64726127732063756265";
/// snmpv1_set.pcap frame 1: set-request sysName.0 = "musec", empty community.
const V1_SET: &str =
    "30280201000400a32102047b086e690201000201003013301106082b0601020101050004056d75736563";
/// snmpv3_get_next.pcap frame 1: discovery get-request, no user name, msgFlags 0x04.
const V3_DISCOVERY: &str = "303d02010330100204207b2f72020240000401040201030410300e040002012a02012a040004000400301404000400a00e0204207b2f720201000201003000";
/// snmpv3_get_next.pcap frame 3: get-next-request, user "username", noAuthNoPriv.
const V3_GET_NEXT: &str = "307902010330100204207b2f72020240000401040201030431302f040d80001f8880a9498e5e3a2c30430201dd0201dd0408757365726e616d65040c0000000000000000000000000400302f040d80001f8880a9498e5e3a2c30430400a11c0204207b2f72020100020100300e300c06082b060102010106000500";
/// snmpv3_get_next.pcap frame 4: get-response sysLocation.0.
const V3_RESPONSE: &str = "306d02010330100204207b2f720202400004010002010304253023040d80001f8880a9498e5e3a2c30430201dd0201dd0408757365726e616d6504000400302f040d80001f8880a9498e5e3a2c30430400a21c0204207b2f72020100020100300e300c06082b060102010106000400";
/// snmpv3_get_next.pcap frame 2: the discovery Report (usmStats counter, empty user).
const V3_DISCOVERY_REPORT: &str = "306a02010330100204207b2f7202024000040100020103041d301b040d80001f8880a9498e5e3a2c30430201dd0201dd0400040004003034040d80001f8880a9498e5e3a2c30430400a8210204207b2f720201000201003013301106092b060106030f010100410400000003";
/// snmpv1-trap-wiresharkwiki.pcap frame 1: v1 coldStart trap, agent-addr 127.0.0.1.
const V1_TRAP: &str = "303802010004067075626c6963a42b06092b060104010401021540047f000001020100020100430100300f300d06082b06010201020100020121";
/// snmpv2_get_next.pcap frame 1: v2c get-next-request with community "[R0_C@cti!]".
const V2_GET_NEXT: &str =
    "3027020101040b5b52305f4340637469215da11502042b133f85020100020100300730050601010500";

const ALL: &[&str] = &[
    WALK_REQUEST,
    WALK_SYSDESCR,
    WALK_SYSOBJECTID,
    WALK_SYSNAME,
    V1_GET,
    V1_SYSOBJECTID,
    V1_SYSNAME,
    V1_SET,
    V3_DISCOVERY,
    V3_DISCOVERY_REPORT,
    V3_GET_NEXT,
    V3_RESPONSE,
    V1_TRAP,
    V2_GET_NEXT,
];

fn ctx(server_port: u16) -> FlowCtx {
    testing::ctx(
        Transport::Udp,
        "10.0.0.1:40000",
        &format!("10.0.0.2:{server_port}"),
    )
}

/// Feeds (direction, datagram) pairs through one dissector, as one flow.
fn run(port: u16, msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let mut d = (SPEC.new)();
    msgs.iter()
        .flat_map(|(dir, h)| datagram(d.as_mut(), *dir, &ctx(port), &hex(h)))
        .collect()
}

fn login(user: &str) -> Observation {
    testing::login("snmp", user)
}

#[test]
fn walk_gives_sysdescr_and_sysname_of_the_agent() {
    let out = run(
        161,
        &[
            (Direction::ToServer, WALK_REQUEST),
            (Direction::ToClient, WALK_SYSDESCR),
            (Direction::ToClient, WALK_SYSOBJECTID),
            (Direction::ToClient, WALK_SYSNAME),
        ],
    );
    let descr = "Linux ubuntu-512mb-sfo2-01 4.4.0-31-generic #50~14.04.1-Ubuntu SMP Wed Jul 13 01:07:32 UTC 2016 x86_64";
    assert_eq!(
        out,
        vec![
            login(""),
            Observation::Operation {
                op: Operation::Read,
                function_code: Some(1),
                details: Vec::new(),
            },
            id(
                Subject::Server,
                Field::Os,
                "Linux 4.4.0-31-generic",
                source::SNMP_SYS_DESCR
            ),
            id(
                Subject::Server,
                Field::Description,
                descr,
                source::SNMP_SYS_DESCR
            ),
            // sysObjectID under net-snmp (8072) names no hardware vendor.
            id(
                Subject::Server,
                Field::Hostname,
                "ubuntu-512mb-sfo2-01",
                source::SNMP_SYS_NAME
            ),
        ]
    );
}

#[test]
fn v1_get_gives_vendor_from_enterprise_number() {
    let out = run(
        161,
        &[
            (Direction::ToServer, V1_GET),
            (Direction::ToClient, V1_SYSOBJECTID),
            (Direction::ToClient, V1_SYSNAME),
        ],
    );
    assert_eq!(
        out,
        vec![
            login(""),
            Observation::Operation {
                op: Operation::Read,
                function_code: Some(0),
                details: Vec::new(),
            },
            id(
                Subject::Server,
                Field::Vendor,
                "Oki Data",
                source::SNMP_SYS_OBJECT_ID
            ),
            id(
                Subject::Server,
                Field::Hostname,
                "B6300",
                source::SNMP_SYS_NAME
            ),
        ]
    );
}

#[test]
fn set_is_a_write_and_the_community_never_leaks() {
    let out = run(161, &[(Direction::ToServer, V1_SET)]);
    assert_eq!(
        out,
        vec![
            login(""),
            Observation::Operation {
                op: Operation::Write,
                function_code: Some(3),
                details: Vec::new(),
            },
        ]
    );
    for h in ALL {
        let out = run(161, &[(Direction::ToServer, h), (Direction::ToClient, h)]);
        let text = format!("{out:?}");
        assert!(!text.contains("public"), "{text}");
        assert!(!text.contains("R0_C"), "{text}");
    }
}

#[test]
fn v3_no_auth_reports_the_user_name_once() {
    let out = run(
        161,
        &[
            (Direction::ToServer, V3_DISCOVERY),
            (Direction::ToServer, V3_GET_NEXT),
            (Direction::ToClient, V3_RESPONSE),
            (Direction::ToServer, V3_GET_NEXT),
        ],
    );
    let read = |fc| Observation::Operation {
        op: Operation::Read,
        function_code: Some(fc),
        details: Vec::new(),
    };
    assert_eq!(out, vec![read(0), login("username"), read(1), read(1)]);
}

#[test]
fn v3_with_auth_reports_no_login() {
    // V3_GET_NEXT with msgFlags changed from 0x04 to 0x05 (authNoPriv).
    let authed = V3_GET_NEXT.replacen("0401040201", "0401050201", 1);
    let bytes = hex(&authed);
    let msg = parse_message(&bytes).unwrap();
    assert!(msg.v3.unwrap().authenticated());
    let out = run(161, &[(Direction::ToServer, &authed)]);
    assert_eq!(
        out,
        vec![Observation::Operation {
            op: Operation::Read,
            function_code: Some(1),
            details: Vec::new(),
        }]
    );
    // Privacy without authentication is invalid (RFC 3412 §7.2).
    let bad = V3_GET_NEXT.replacen("0401040201", "0401060201", 1);
    assert_eq!(parse_message(&hex(&bad)).err(), Some(SnmpError::Flags(6)));
}

#[test]
fn v1_trap_sender_is_the_agent() {
    let bytes = hex(V1_TRAP);
    let msg = parse_message(&bytes).unwrap();
    let pdu = msg.pdu.unwrap();
    assert_eq!(pdu.kind, PduType::TRAP_V1);
    assert_eq!(pdu.agent_addr, Some(Ipv4Addr::LOCALHOST));
    let vbs: Vec<String> = pdu.varbinds().map(|(n, _)| n.to_string()).collect();
    assert_eq!(vbs, ["1.3.6.1.2.1.2.1.0"]);
    let mut d = (TRAP_SPEC.new)();
    let mut out = Vec::new();
    d.parse(Direction::ToServer, &hex(V1_TRAP), &ctx(162), &mut out);
    assert_eq!(out, vec![login(""), Observation::FunctionCode(4)]);
}

#[test]
fn trap_agent_addr_names_the_subject() {
    // The trap above rebuilt with agent-addr 192.168.0.2 and one varbind sysName.0 = "B63".
    let varbinds = "3011300f06082b060102010105000403423633";
    let pdu_body = format!("06092b06010401040102154004c0a80002020100020100430100{varbinds}");
    let pdu = format!("a4{:02x}{pdu_body}", pdu_body.len() / 2);
    let body = format!("02010004067075626c6963{pdu}");
    let msg = format!("30{:02x}{body}", body.len() / 2);
    let out = run(162, &[(Direction::ToServer, &msg)]);
    assert_eq!(
        out,
        vec![
            login(""),
            Observation::FunctionCode(4),
            id(
                Subject::Ip("192.168.0.2".parse().unwrap()),
                Field::Hostname,
                "B63",
                source::SNMP_SYS_NAME
            ),
        ]
    );
}

#[test]
fn odd_pdu_tag_is_a_violation() {
    // snmpv1-trap-wiresharkwiki.pcap frame 8: the trap PDU tagged [18] in high-tag form.
    let odd = "303802010004067075626c6963bf122a06092b060104010401021540047f000001020100020100430107300e300c06082b060102010201000500";
    assert_eq!(probe(Direction::ToServer, &hex(odd)), Probe::No);
    assert_eq!(
        run(162, &[(Direction::ToServer, odd)]),
        vec![Observation::ProtocolViolation {
            protocol: "snmp",
            reason: "malformed SNMP message: unknown SNMP PDU tag [18] constructed".to_owned()
        }]
    );
}

#[test]
fn probe_accepts_snmp_and_refuses_others() {
    for h in ALL {
        assert_eq!(probe(Direction::ToServer, &hex(h)), Probe::Yes, "{h}");
    }
    let others: &[&[u8]] = &[
        b"",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        // A DNS query for example.com.
        &hex("abcd01000001000000000000076578616d706c6503636f6d0000010001"),
        // SEQUENCE { INTEGER 2 } — SNMP version 2 does not exist on the wire.
        &hex("300a020102040170a0020500"),
        &[0x30],
        &[0x30, 0x03, 0x02, 0x01, 0x00],
    ];
    for o in others {
        assert_eq!(probe(Direction::ToServer, o), Probe::No, "{o:?}");
    }
}

#[test]
fn malformed_is_a_violation_and_never_panics() {
    for h in ALL {
        let data = hex(h);
        for cut in 0..data.len() {
            let mut d = SnmpDissector::default();
            let mut out = Vec::new();
            let _ = probe(Direction::ToServer, &data[..cut]);
            d.parse(Direction::ToClient, &data[..cut], &ctx(161), &mut out);
            assert!(
                out.iter()
                    .all(|o| matches!(o, Observation::ProtocolViolation { .. })),
                "cut {cut} of {h}: {out:?}"
            );
        }
    }
    let mut d = SnmpDissector::default();
    let mut out = Vec::new();
    let mut noise = Noise::new(0x9e37_79b9_7f4a_7c15);
    for len in 0..300 {
        let mut data = noise.bytes(len);
        if let Some(b) = data.first_mut() {
            *b = 0x30;
        }
        d.parse(Direction::ToClient, &data, &ctx(161), &mut out);
    }
    // Violations are capped per flow.
    assert!(out.len() <= usize::from(super::Violations::CAP));
}

#[test]
fn description_facts_are_conservative() {
    let f = description_facts(
        "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(25)SEE2, RELEASE SOFTWARE (fc1)",
    );
    assert_eq!(f.os.as_deref(), Some("Cisco IOS"));
    assert_eq!(f.firmware.as_deref(), Some("12.2(25)SEE2"));
    // Microsoft's agent, in the documented "Hardware: ... Software: ..." form.
    let f = description_facts("Hardware: Intel64 Family 6 Model 58 Stepping 9 AT/AT COMPATIBLE - Software: Windows Version 6.1 (Build 7601 Multiprocessor Free)");
    assert_eq!(f.os.as_deref(), Some("Windows NT 6.1 build 7601"));
    assert_eq!(f.firmware, None);
    // mixed/mb2.pcap frame 499, LLDP system description of a SCALANCE switch.
    let f = description_facts(
        "Siemens, SIMATIC NET, SCALANCE X212-2, 6GK5 212-2BB00-2AA3, HW: 7, FW: V4.02",
    );
    assert_eq!(
        f,
        DescriptionFacts {
            os: None,
            firmware: Some("V4.02".to_owned())
        }
    );
    // lldp/lldp.pcap and profinet/Profinet_Failed.pcap: nothing is stated outright.
    for text in [
        "SMCGS8P-Smart - SMCGS8P-Smart v3.20",
        "Dell Inc. OptiPlex 990,01,G22XB2S + HMI",
        "Siemens AG SIMATIC S7 MULTIPORT SCALANCE X 200 FAM",
        "Firmware upgrade pending",
        "Netfw appliance FWX: 2",
    ] {
        assert_eq!(
            description_facts(text),
            DescriptionFacts::default(),
            "{text}"
        );
    }
    assert_eq!(
        description_facts("PLC firmware version: 2.1.4; boot 1.0")
            .firmware
            .as_deref(),
        Some("2.1.4")
    );
}

/// A BER TLV with a short-form length (X.690 §8.1.3.4); everything here is short.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    let mut v = vec![tag, content.len() as u8];
    v.extend_from_slice(content);
    v
}

fn int(n: u8) -> Vec<u8> {
    tlv(0x02, &[n])
}

/// An SNMPv3 message (RFC 3412 §6) with USM parameters (RFC 3414 §2.4), plaintext scoped
/// PDU of context tag `pdu_tag` (RFC 3416 §3) holding one varbind `oid` = Counter32 1.
fn v3_message(msg_id: u8, flags: u8, user: &[u8], pdu_tag: u8, oid: &[u8]) -> Vec<u8> {
    let engine = tlv(0x04, &[0x80, 0, 0x1f, 0x88, 0x80, 1, 2, 3, 4]);
    let header = [
        int(msg_id),
        tlv(0x02, &[0x00, 0xff, 0xe3]),
        tlv(0x04, &[flags]),
        int(3),
    ]
    .concat();
    let usm = tlv(
        0x30,
        &[
            engine.clone(),
            int(1),
            int(2),
            tlv(0x04, user),
            tlv(0x04, &[]),
            tlv(0x04, &[]),
        ]
        .concat(),
    );
    let varbind = tlv(0x30, &[tlv(0x06, oid), tlv(0x41, &[1])].concat());
    let pdu = tlv(
        0xa0 | pdu_tag,
        &[int(9), int(0), int(0), tlv(0x30, &varbind)].concat(),
    );
    let scoped = tlv(0x30, &[engine, tlv(0x04, &[]), pdu].concat());
    tlv(
        0x30,
        &[int(3), tlv(0x30, &header), tlv(0x04, &usm), scoped].concat(),
    )
}

/// usmStatsWrongDigests.0, usmStatsUnknownUserNames.0, usmStatsNotInTimeWindows.0 (RFC 3414
/// §5), sysLocation.0.
const WRONG_DIGESTS: &[u8] = &[0x2b, 6, 1, 6, 3, 15, 1, 1, 5, 0];
const UNKNOWN_USER: &[u8] = &[0x2b, 6, 1, 6, 3, 15, 1, 1, 3, 0];
const NOT_IN_TIME: &[u8] = &[0x2b, 6, 1, 6, 3, 15, 1, 1, 2, 0];
const SYS_LOCATION: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 6, 0];

const TO_SERVER: Direction = Direction::ToServer;
const TO_CLIENT: Direction = Direction::ToClient;

fn refusals(msgs: &[(Direction, Vec<u8>)]) -> Vec<Observation> {
    let mut d = (SPEC.new)();
    msgs.iter()
        .flat_map(|(dir, m)| datagram(d.as_mut(), *dir, &ctx(161), m))
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .collect()
}

fn refused(user: &str) -> Observation {
    Observation::AuthFailure {
        user: user.to_owned(),
        protocol: "snmp",
    }
}

#[test]
fn usm_reports_refusing_user_or_key_are_auth_failures() {
    // authNoPriv, reportable (RFC 3412 §6.4 msgFlags 0x05) get-next from "operator".
    let request = |id| v3_message(id, 0x05, b"operator", 1, SYS_LOCATION);
    // The Report names the user itself.
    assert_eq!(
        refusals(&[
            (TO_SERVER, request(7)),
            (
                TO_CLIENT,
                v3_message(7, 0x00, b"operator", 8, WRONG_DIGESTS)
            ),
        ]),
        [refused("operator")]
    );
    // The Report leaves the user out: the request with the same msgID names it.
    assert_eq!(
        refusals(&[
            (TO_SERVER, request(8)),
            (TO_CLIENT, v3_message(8, 0x00, b"", 8, UNKNOWN_USER)),
        ]),
        [refused("operator")]
    );
    assert_eq!(
        refusals(&[
            (TO_SERVER, request(8)),
            (TO_CLIENT, v3_message(9, 0x00, b"", 8, UNKNOWN_USER)),
        ]),
        [refused("")]
    );
}

#[test]
fn discovery_reports_and_responses_are_not_auth_failures() {
    // snmpv3_get_next.pcap: discovery, its Report, then the request and its response.
    let real = |h: &str| hex(h);
    assert_eq!(
        refusals(&[
            (TO_SERVER, real(V3_DISCOVERY)),
            (TO_CLIENT, real(V3_DISCOVERY_REPORT)),
            (TO_SERVER, real(V3_GET_NEXT)),
            (TO_CLIENT, real(V3_RESPONSE)),
        ]),
        []
    );
    // RFC 3414 §4 time synchronisation.
    assert_eq!(
        refusals(&[(TO_CLIENT, v3_message(7, 0x00, b"operator", 8, NOT_IN_TIME))]),
        []
    );
    // A refusing Report sent by the flow's client would name the wrong side.
    assert_eq!(
        refusals(&[(
            TO_SERVER,
            v3_message(7, 0x00, b"operator", 8, WRONG_DIGESTS)
        )]),
        []
    );
}
