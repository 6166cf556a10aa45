//! Tests on real DNS, mDNS, LLMNR and NBNS messages from /work/shared/pcaps (payloads
//! extracted with tshark; expected values read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{self, ctx, datagram, hex, id, never_panics};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Source;

/// dns/dns-two-responses.pcap frame 2
const CMU_RESPONSE: &str = "
    5294841000010004000200040377777703636d75036564750000010001c00c00050001000151800011075757572d434d
    5506414e44524557c010c00c002e000100015180009b0005070300015180515cb25b5135187a1b2303636d7503656475
    006b741ab2616a3f33b02d97c41edb5fc04bde32780687bdcf24b8208dae7550e35b164428fba91d0c72e757a70dcb38
    924d702d04a5919b673d05065e2406b93b99cb4ad945c46d550a28edbcc1cbe6db31c7b8650a6428acfab46fc5987db5
    61a714893a1003e464f1550d3e3c344c093a3475efddd7d5d2176c6203350a2eaac0290005000100000005000c095757
    572d434d552d32c031c0ed0001000100005460000480020aa3c0310002000100015180000e074e534155544831034e45
    54c058c0310002000100015180000a074e534155544832c11dc1150001000100015180000480020108c115001c000100
    01518000102607fb28000000000000000000000004c12f0001000100015180000480ed94a80000291000000080000000
";
/// dns/dns-two-responses.pcap frame 1
const CMU_QUERY: &str = "
    5294001000010000000000010377777703636d750365647500000100010000291000000080000000
";
/// dns/dns-txt-multiple.pcap frame 2
const TXT_RESPONSE: &str = "
    6daf8500000100030005000504666c6b720a5f646f6d61696e6b657906666c69636b7203636f6d0000100001c00c0005
    00010000038400070466613134c011c0380005000100000384001804666131340a5f646f6d61696e6b6579057961686f
    6fc023c04b0010000100001c2000e37f6b3d7273613b20703d4d4947664d413047435371475349623344514542415155
    414134474e4144434269514b4267514450645066794a4d32523247714d795a4d31666c547a46654449552b65374b6d69
    4b527735797a335868742b6367454969486d6d356c49474275574363357274697930436378655070716363504b6a6e62
    4853724449323350552b484f75714a366572674531494f734c364c4f4567473659543533764d62385a36556942537359
    506c724445432b384355496b544c4d4c584a6175524b35624e524b56314154477a4746706633546a5a74577749444151
    4142c050000200010002a3000006036e7335c05bc050000200010002a3000006036e7334c05bc050000200010002a300
    0006036e7333c05bc050000200010002a3000006036e7332c05bc050000200010002a3000006036e7331c05bc1a60001
    000100127500000444b48310c19400010001001275000004448eff10c18200010001001275000004cb54dd35c1700001
    0001001275000004628a0b9dc15e0001000100127500000477a0f77c
";
/// mixed/wikipedia.pcap frame 21
const WIKI_A: &str = "
    65f0818000010002000300030675706c6f61640977696b696d65646961036f72670000010001c00c000500010000007c
    000f0675706c6f616405706d747061c013c032000100010000086c0004d0509803c013000200010000c0480006036e73
    31c013c013000200010000c0480006036e7332c013c013000200010000c0480006036e7330c013c08100010001000008
    5d0004d0509882c05d000100010000085d0004d050988ec06f000100010000085d00045bc6ae04
";
/// mixed/wikipedia.pcap frame 19
const WIKI_NXDOMAIN: &str = "
    673c858300010000000100000675706c6f61640977696b696d65646961036f7267046e63736104756975630365647500
    001c0001c02100060001000003840023036e7330c021066e6574646576c021000063e300000e100000038400093a8000
    000384
";
/// mdns/mdns.pcap frame 2
const MDNS_QUERY: &str = "
    000000000002000000000000045f697070045f746370056c6f63616c00000c0001055f69707073c011000c0001
";
/// mdns/mdns.pcap frame 4
const MDNS_RESPONSE: &str = "
    0000840000000006000000001c6a6f68616e6e612d51454d552d5669727475616c2d4d616368696e65056c6f63616c00
    001c8001000000000010fd52429ec03c8235883cd6fffee14dc401340163016401340131016501650166016601660136
    016401630133013801380135013301320138016301330130016301650139013201340132013501640166036970360461
    72706100000c8001000000000002c00cc00c001c8001000000000010fd52429ec03c823559685bc61563f82f01660132
    01380166013301360135013101360163016201350138013601390135c06a000c8001000000000002c00cc00c00018001
    0000000000040a00020701370132013002313007696e2d61646472c08e000c8001000000000002c00c
";
/// mdns/mdns.pcap frame 12
const MDNS_PROBE: &str = "
    000000000004000000060000013401630164013401310165016501660166016601360164016301330138013801350133
    013201380163013301300163016501390132013401320135016401660369703604617270610000ff00011c6a6f68616e
    6e612d51454d552d5669727475616c2d4d616368696e65056c6f63616c0000ff000101370132013002313007696e2d61
    646472c05000ff00010166013201380166013301360135013101360163016201350138013601390135c02c00ff0001c0
    5a000100010000007800040a000207c082000c0001000000780002c05ac05a001c0001000000780010fd52429ec03c82
    3559685bc61563f82fc099000c0001000000780002c05ac05a001c0001000000780010fd52429ec03c8235883cd6fffe
    e14dc4c00c000c0001000000780002c05a
";
/// mixed/wikipedia.pcap frame 3
const MDNS_SRV: &str = "
    0000840000000001000000040667656d696e69095f736674702d737368045f746370056c6f63616c0000218001000000
    78000f0000000000160667656d696e69c022c039001c8001000000780010fe800000000000000217f2fffed7cf65c039
    000180010000007800048d8edc32c00c002f8001000000780009c00c00050000800040c039002f8001000000780008c0
    39000440000008
";
/// mixed/wikipedia.pcap frame 121
const LLMNR_QUERY: &str = "
    4620000000010000000000000f4252574330434233383344314634320000010001
";
/// other-ics/beckhoff-addroute1.pcapng frame 8
const NBNS_QUERY: &str = "
    a76901100001000000000000204544464946504441454544484446444744414341434143414341434143414141000020
    0001
";
/// other-ics/beckhoff-addroute1.pcapng frame 9
const NBNS_POSITIVE: &str = "
    a76985000000000100000000204544464946504441454544484446444744414341434143414341434143414141000020
    00010000000000060000c0a80108
";
/// other-ics/beckhoff-addroute1.pcapng frame 29
const NBSTAT_RESPONSE: &str = "
    0a348400000000010000000020434b414141414141414141414141414141414141414141414141414141414141000021
    0001000000000065035348454e4855414a362d5043202020000400574f524b47524f5550202020202020008400534845
    4e4855414a362d5043202020200400b8aeed7e1b4c000000000000000000000000000000000000000000000000000000
    00000000000000000000000000
";
/// mixed/profinet_io_cm_mixed_2.pcapng frame 94
const NBNS_REG_00: &str = "
    92f92910000100000000000120454c4648434e4647454d454a4641454443414341434143414341434143414141000020
    0001c00c00200001000493e000066000c0a80101
";
/// mixed/profinet_io_cm_mixed_2.pcapng frame 96
const NBNS_REG_GROUP: &str = "
    92fa2910000100000000000120464845504643454c454846434550464646414341434143414341434143414141000020
    0001c00c00200001000493e00006e000c0a80101
";

fn c() -> FlowCtx {
    ctx(Transport::Udp, "10.0.0.1:5353", "224.0.0.251:5353")
}

fn run(flavor: Flavor, dir: Direction, payload: &[u8]) -> Vec<Observation> {
    datagram(&mut DnsDissector(flavor), dir, &c(), payload)
}

fn host(ip: &str, name: &str, source: Source) -> Observation {
    id(
        Subject::Ip(ip.parse().unwrap()),
        Field::Hostname,
        name,
        source,
    )
}

fn speaks(subject: Subject, protocol: &'static str, port: u16) -> Observation {
    testing::speaks(subject, protocol, Role::Server, port)
}

/// A message from uncompressed parts, for cases the captures lack.
fn build(flags: u16, questions: &[(&str, u16)], answers: &[(&str, u16, &[u8])]) -> Vec<u8> {
    let name = |m: &mut Vec<u8>, n: &str| {
        for l in n.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
    };
    let mut m = vec![0, 0];
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&(questions.len() as u16).to_be_bytes());
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    for (n, t) in questions {
        name(&mut m, n);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
    }
    for (n, t, rdata) in answers {
        name(&mut m, n);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0x80, 1, 0, 0, 0x11, 0x94]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

/// tshark: answers CNAME, RRSIG, CNAME, then A WWW-CMU-2.ANDREW.cmu.edu 128.2.10.163;
/// the glue A/AAAA records of the additional section are not answers.
#[test]
fn dns_answer_names_the_address_after_cnames() {
    assert_eq!(
        run(Flavor::Dns, Direction::ToClient, &hex(CMU_RESPONSE)),
        [host(
            "128.2.10.163",
            "WWW-CMU-2.ANDREW.cmu.edu",
            source::DNS_ANSWER
        )]
    );
    assert_eq!(
        run(Flavor::Dns, Direction::ToClient, &hex(WIKI_A)),
        [host(
            "208.80.152.3",
            "upload.pmtpa.wikimedia.org",
            source::DNS_ANSWER
        )]
    );
    // Queries, NXDOMAIN and TXT-only answers name nobody.
    for m in [CMU_QUERY, WIKI_NXDOMAIN, TXT_RESPONSE] {
        assert_eq!(run(Flavor::Dns, Direction::ToClient, &hex(m)), []);
    }
}

fn lookup(name: &str) -> Observation {
    Observation::Lookup {
        name: name.to_string(),
        via: "dns query",
    }
}

/// tshark: standard query A www.cmu.edu from 27285 to 53.
#[test]
fn dns_query_from_the_client_is_a_lookup() {
    assert_eq!(
        run(Flavor::Dns, Direction::ToServer, &hex(CMU_QUERY)),
        [lookup("www.cmu.edu")]
    );
    // Responses carry the question too: not a lookup.
    for m in [CMU_RESPONSE, WIKI_A, WIKI_NXDOMAIN, TXT_RESPONSE] {
        let out = run(Flavor::Dns, Direction::ToServer, &hex(m));
        assert!(!out.iter().any(|o| matches!(o, Observation::Lookup { .. })));
    }
}

#[test]
fn dns_lookups_are_bounded_normalised_and_only_standard_queries() {
    let questions = [
        ("WWW.Evil.EXAMPLE", 1),
        ("b.example", 28),
        ("c.example", 1),
        ("d.example", 1),
        ("e.example", 1),
    ];
    assert_eq!(
        run(
            Flavor::Dns,
            Direction::ToServer,
            &build(0x0100, &questions, &[])
        ),
        [
            lookup("www.evil.example"),
            lookup("b.example"),
            lookup("c.example"),
            lookup("d.example"),
        ]
    );
    let one = [("a.example", 1)];
    // A query travelling from the flow's server names the wrong asker.
    assert_eq!(
        run(Flavor::Dns, Direction::ToClient, &build(0x0100, &one, &[])),
        []
    );
    // RFC 1996 NOTIFY (opcode 4) and RFC 2136 UPDATE (opcode 5) ask for nothing.
    for flags in [0x2000, 0x2800] {
        assert_eq!(
            run(Flavor::Dns, Direction::ToServer, &build(flags, &one, &[])),
            []
        );
    }
    // Multicast and link-local resolution are not DNS lookups.
    assert_eq!(run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_QUERY)), []);
    assert_eq!(
        run(Flavor::Llmnr, Direction::ToServer, &hex(LLMNR_QUERY)),
        []
    );
    // The root asks for no name.
    assert_eq!(
        run(
            Flavor::Dns,
            Direction::ToServer,
            &build(0x0100, &[("", 2)], &[])
        ),
        []
    );
}

#[test]
fn lookup_names_have_one_form() {
    assert_eq!(lookup_name(b"Evil.Example."), Some("evil.example".into()));
    assert_eq!(lookup_name(b"a\x00b.example"), Some("a?b.example".into()));
    assert_eq!(lookup_name(b"_ldap._tcp.dc"), Some("_ldap._tcp.dc".into()));
    assert_eq!(lookup_name(b"."), None);
    assert_eq!(lookup_name(b""), None);
    assert_eq!(lookup_name(b"10.1.2.3"), None);
    assert_eq!(lookup_name(b"fe80::1"), None);
    assert_eq!(lookup_name(&[b'a'; 254]), None);
    assert!(lookup_name(&[b'a'; 253]).is_some());
}

#[test]
fn dns_reverse_ptr() {
    let m = build(
        0x8180,
        &[("7.2.0.10.in-addr.arpa", 12)],
        &[("7.2.0.10.in-addr.arpa", 12, b"\x03plc\x04site\x00")],
    );
    assert_eq!(
        run(Flavor::Dns, Direction::ToClient, &m),
        [host("10.0.2.7", "plc.site", source::DNS_PTR)]
    );
}

/// tshark: response from 10.0.2.7 with AAAA fd52:…:4dc4, AAAA fd52:…:f82f, A 10.0.2.7
/// for johanna-QEMU-Virtual-Machine.local, and the three reverse PTRs to it.
#[test]
fn mdns_response_names_addresses_once() {
    let name = "johanna-QEMU-Virtual-Machine.local";
    assert_eq!(
        run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_RESPONSE)),
        [
            host(
                "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4",
                name,
                source::MDNS
            ),
            host(
                "fd52:429e:c03c:8235:5968:5bc6:1563:f82f",
                name,
                source::MDNS
            ),
            host("10.0.2.7", name, source::MDNS),
            speaks(Subject::Client, "mdns", 5353),
        ]
    );
}

/// tshark: SRV gemini._sftp-ssh._tcp.local answer; additional AAAA
/// fe80::217:f2ff:fed7:cf65 and A 141.142.220.50 for gemini.local, and two NSEC.
#[test]
fn mdns_additional_records_count() {
    assert_eq!(
        run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_SRV)),
        [
            host("fe80::217:f2ff:fed7:cf65", "gemini.local", source::MDNS),
            host("141.142.220.50", "gemini.local", source::MDNS),
            speaks(Subject::Client, "mdns", 5353),
        ]
    );
}

/// tshark: a probe query (4 questions, 6 proposed records in the authority section) and a
/// PTR query: proposals are not answers.
#[test]
fn mdns_queries_prove_nothing() {
    assert_eq!(run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_PROBE)), []);
    assert_eq!(run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_QUERY)), []);
}

#[test]
fn mdns_txt_model_only_for_known_services_and_tidy_values() {
    let m = build(
        0x8400,
        &[],
        &[(
            "Office._device-info._tcp.local",
            16,
            b"\x0dmodel=J105aAP\x0aosxvers=20",
        )],
    );
    assert_eq!(
        run(Flavor::Mdns, Direction::ToServer, &m),
        [
            Observation::Identity {
                subject: Subject::Client,
                field: Field::Model,
                value: "J105aAP".into(),
                source: source::MDNS_TXT
            },
            speaks(Subject::Client, "mdns", 5353),
        ]
    );
    let m = build(
        0x8400,
        &[],
        &[("Office._other._tcp.local", 16, b"\x0dmodel=J105aAP")],
    );
    assert_eq!(
        run(Flavor::Mdns, Direction::ToServer, &m),
        [speaks(Subject::Client, "mdns", 5353)]
    );
    let m = build(
        0x8400,
        &[],
        &[("TV._googlecast._tcp.local", 16, b"\x07md=\x01\x02\x03")],
    );
    assert_eq!(
        run(Flavor::Mdns, Direction::ToServer, &m),
        [speaks(Subject::Client, "mdns", 5353)]
    );
}

/// There is no LLMNR response in the captures: this one is the real query of
/// wikipedia.pcap frame 121 (A BRWC0CB383D1F42) turned into its response per RFC 4795
/// §2.1.1 (QR set, question copied, one answer).
#[test]
fn llmnr_response_names_the_responder() {
    assert_eq!(
        run(Flavor::Llmnr, Direction::ToServer, &hex(LLMNR_QUERY)),
        []
    );
    let mut m = hex(LLMNR_QUERY);
    m[2] |= 0x80;
    m[7] = 1;
    m.extend_from_slice(&[
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 141, 142, 220, 226,
    ]);
    assert_eq!(probe_flavor(Flavor::Llmnr, &m), Probe::Yes);
    assert_eq!(
        run(Flavor::Llmnr, Direction::ToClient, &m),
        [
            host("141.142.220.226", "BRWC0CB383D1F42", source::LLMNR),
            speaks(Subject::Server, "llmnr", 5355),
        ]
    );
}

/// tshark: positive name query response CX_0D7560<00>, unique, B-node, addr 192.168.1.8.
#[test]
fn nbns_positive_response() {
    assert_eq!(
        run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_POSITIVE)),
        [host("192.168.1.8", "CX_0D7560", source::NBNS)]
    );
    assert_eq!(run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_QUERY)), []);
}

/// tshark: NBSTAT response from 192.168.1.99 listing SHENHUAJ6-PC<00> (unique),
/// WORKGROUP<00> (group), SHENHUAJ6-PC<20>.
#[test]
fn nbns_node_status_names_the_sender() {
    assert_eq!(
        run(Flavor::Nbns, Direction::ToClient, &hex(NBSTAT_RESPONSE)),
        [Observation::Identity {
            subject: Subject::Server,
            field: Field::Hostname,
            value: "SHENHUAJ6-PC".into(),
            source: source::NBNS
        }]
    );
}

/// tshark: registration of KW-VLIPC<00> (unique, 192.168.1.1) and of WORKGROUP<00>
/// (group name: not a hostname).
#[test]
fn nbns_registration() {
    assert_eq!(
        run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_REG_00)),
        [host("192.168.1.1", "KW-VLIPC", source::NBNS)]
    );
    assert_eq!(
        run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_REG_GROUP)),
        []
    );
}

#[test]
fn netbios_first_level_encoding() {
    // RFC 1001 §14.1 example: "FRED" padded with spaces.
    let (name, len, suffix) = netbios_name(b"EGFCEFEECACACACACACACACACACACACA").unwrap();
    assert_eq!(&name[..len], b"FRED");
    assert_eq!(suffix, 0x20);
    assert!(netbios_name(b"EGFCEFEECACACACACACACACACACACACZ").is_none());
    assert!(netbios_name(b"EGFC").is_none());
}

#[test]
fn probes_accept_their_own_and_refuse_the_rest() {
    for m in [CMU_RESPONSE, CMU_QUERY, TXT_RESPONSE, WIKI_A, WIKI_NXDOMAIN] {
        assert_eq!(probe_flavor(Flavor::Dns, &hex(m)), Probe::Yes);
    }
    for m in [MDNS_QUERY, MDNS_RESPONSE, MDNS_PROBE, MDNS_SRV] {
        assert_eq!(probe_flavor(Flavor::Mdns, &hex(m)), Probe::Yes);
    }
    assert_eq!(probe_flavor(Flavor::Llmnr, &hex(LLMNR_QUERY)), Probe::Yes);
    assert_eq!(probe_flavor(Flavor::Llmnr, &hex(MDNS_RESPONSE)), Probe::No);
    for m in [
        NBNS_QUERY,
        NBNS_POSITIVE,
        NBSTAT_RESPONSE,
        NBNS_REG_00,
        NBNS_REG_GROUP,
    ] {
        assert_eq!(probe_flavor(Flavor::Nbns, &hex(m)), Probe::Yes);
    }
    assert_eq!(probe_flavor(Flavor::Nbns, &hex(CMU_QUERY)), Probe::No);
    for f in [Flavor::Dns, Flavor::Mdns, Flavor::Llmnr, Flavor::Nbns] {
        assert_eq!(
            probe_flavor(f, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Probe::No
        );
        assert_eq!(probe_flavor(f, b"HTTP/1.1 200 OK\r\n\r\n"), Probe::No);
        assert_eq!(probe_flavor(f, &[0u8; 12]), Probe::No);
        assert_eq!(probe_flavor(f, &hex(CMU_RESPONSE)[..100]), Probe::No);
    }
    let mut state = 1u32;
    let mut yes = 0;
    for _ in 0..2000 {
        let buf: Vec<u8> = (0..64)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) as u8
            })
            .collect();
        if probe_flavor(Flavor::Dns, &buf) == Probe::Yes {
            yes += 1;
        }
    }
    assert_eq!(yes, 0);
}

#[test]
fn compression_loops_and_long_chains_are_refused() {
    let mut name = Name::new();
    // A pointer to itself, and a label followed by a pointer back to it.
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[0xc0, 12]);
    assert_eq!(read_name(&m, 12, &mut name), Err(DnsError::PointerForward));
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[1, b'a', 0xc0, 12]);
    assert_eq!(read_name(&m, 12, &mut name), Err(DnsError::PointerForward));
    // A forward pointer.
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[0xc0, 14, 0]);
    assert!(read_name(&m, 12, &mut name).is_err());
    // Twenty backward pointers in a row.
    let mut m = vec![0u8; 1];
    for i in 0..20u8 {
        m.extend_from_slice(&[0xc0, if i == 0 { 0 } else { 1 + 2 * (i - 1) }]);
    }
    assert_eq!(
        read_name(&m, m.len() - 2, &mut name),
        Err(DnsError::Pointers)
    );
    // Reserved label types, and a legal pointer.
    assert_eq!(read_name(&[0x40], 0, &mut name), Err(DnsError::LabelType));
    let m = [1, b'a', 0, 1, b'b', 0xc0, 0];
    assert_eq!(read_name(&m, 3, &mut name), Ok(7));
    assert_eq!(name.as_bytes(), b"b.a");
}

#[test]
fn malformed_messages_are_violations() {
    let m = hex(CMU_RESPONSE);
    let out = run(Flavor::Dns, Direction::ToClient, &m[..m.len() - 20]);
    assert!(matches!(
        out.last(),
        Some(Observation::ProtocolViolation {
            protocol: "dns",
            ..
        })
    ));
    // The answer before the damage still counts.
    assert_eq!(
        out[0],
        host(
            "128.2.10.163",
            "WWW-CMU-2.ANDREW.cmu.edu",
            source::DNS_ANSWER
        )
    );
    assert!(matches!(
        run(Flavor::Nbns, Direction::ToClient, &[1, 2, 3])[..],
        [Observation::ProtocolViolation {
            protocol: "nbns",
            ..
        }]
    ));
}

#[test]
fn never_panics_on_truncations_or_noise() {
    let all = [
        CMU_RESPONSE,
        CMU_QUERY,
        TXT_RESPONSE,
        WIKI_A,
        MDNS_RESPONSE,
        MDNS_PROBE,
        MDNS_SRV,
        LLMNR_QUERY,
        NBNS_POSITIVE,
        NBSTAT_RESPONSE,
        NBNS_REG_00,
    ];
    let msgs: Vec<Vec<u8>> = all.iter().map(|h| hex(h)).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    for spec in [&DNS_SPEC, &MDNS_SPEC, &LLMNR_SPEC, &NBNS_SPEC] {
        never_panics(spec, &c(), &refs);
    }
}
