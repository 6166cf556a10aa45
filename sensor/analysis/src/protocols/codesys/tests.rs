#![allow(clippy::unwrap_used)]
//! CODESYS on messages built from the sources [`super::wire`] cites (no public capture of
//! CODESYS exists: see `tests/data/README.md`), plus one real block: the keep-alive a CODESYS
//! runtime sent to FieldFuzz, quoted in its client (momalab/ICSQuartz
//! `fuzzers/fieldfuzz/pycodesys-master/lib/pycodesys.py`, without its block driver header).

use super::*;
use crate::protocols::testing::{
    ctx, datagram, feed, hex, id, never_panics, never_panics_in_conversation, run_segments,
};
use otwatch_common::observation::Operation;

/// The datagram of FieldFuzz's quoted keep-alive: header 3 words, hop count 14, priority 1,
/// channel manager, receiver 8 bytes, sender 6, channel layer `03 00 80 cf`.
const REAL_KEEPALIVE: &str = "c57340400034b032c0a8780100002ddcc0a87880030080cf";

fn tcp() -> crate::protocols::FlowCtx {
    ctx(
        Transport::Tcp,
        "192.168.120.128:50312",
        "192.168.120.1:11740",
    )
}

fn udp() -> crate::protocols::FlowCtx {
    ctx(Transport::Udp, "192.168.120.128:1740", "192.168.120.1:1740")
}

// ---------------------------------------------------------------------------------------
// Builders, each layer as the sources describe it.

/// A base-128 number.
fn varint(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn tag(id: u32, value: &[u8]) -> Vec<u8> {
    let mut t = varint(id);
    t.extend(varint(value.len() as u32));
    t.extend_from_slice(value);
    t
}

fn wide(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A service PDU: 0xCD55, header size 12, group, service, session, content size, tags.
fn service(group: u16, service: u16, tags: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend(0xcd55u16.to_le_bytes());
    p.extend(12u16.to_le_bytes());
    p.extend(group.to_le_bytes());
    p.extend(service.to_le_bytes());
    p.extend(0x1234_5678u32.to_le_bytes());
    p.extend((tags.len() as u32).to_le_bytes());
    p.extend_from_slice(tags);
    p
}

/// A first application block carrying the whole service PDU.
fn app_block(request: bool, pdu: &[u8]) -> Vec<u8> {
    let mut b = vec![0x01, if request { 0x81 } else { 0x01 }];
    b.extend(0x0007u16.to_le_bytes());
    b.extend(1u32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend((pdu.len() as u32).to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend_from_slice(pdu);
    b
}

/// A datagram: header 3 words, hop count 13, priority normal; receiver and sender addresses
/// of 6 bytes (port and IPv4 address, as over TCP), then padding to 4 bytes.
fn dg(service: u8, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0xc5, (13 << 3) | 3, 0x40, service, 0x00, 0x33];
    d.extend(hex("2ddcc0a87801"));
    d.extend(hex("c488c0a87880"));
    while d.len() % 4 != 0 {
        d.push(0);
    }
    d.extend_from_slice(payload);
    d
}

/// A block driver TCP block around a datagram.
fn block(datagram: &[u8]) -> Vec<u8> {
    let mut b = wire::TCP_MAGIC.to_vec();
    b.extend(((datagram.len() + 8) as u32).to_le_bytes());
    b.extend_from_slice(datagram);
    b
}

fn request(group: u16, svc: u16, tags: &[u8]) -> Vec<u8> {
    block(&dg(0x40, &app_block(true, &service(group, svc, tags))))
}

fn reply(group: u16, svc: u16, tags: &[u8]) -> Vec<u8> {
    block(&dg(
        0x40,
        &app_block(false, &service(group | 0x80, svc, tags)),
    ))
}

/// A name service identification, version 4.0 (NODEINFOPACKED3).
fn identification() -> Vec<u8> {
    let (node, device, vendor, serial) = (
        "raspberrypi",
        "CODESYS Control for Raspberry Pi SL",
        "CODESYS GmbH",
        "SN-4711",
    );
    let mut p = Vec::new();
    p.extend(0xc280u16.to_le_bytes());
    p.extend(0x0400u16.to_le_bytes());
    p.extend(7u32.to_le_bytes());
    p.extend(4u16.to_le_bytes()); // channels
    p.extend([1, 0]); // Intel byte order, address difference
    p.extend(1u16.to_le_bytes()); // one parent address component
    p.extend((node.len() as u16).to_le_bytes());
    p.extend((device.len() as u16).to_le_bytes());
    p.extend((vendor.len() as u16).to_le_bytes());
    p.extend(0x1002u32.to_le_bytes()); // target type
    p.extend(0x0000_0011u32.to_le_bytes()); // target id
    p.extend(0x0305_1400u32.to_le_bytes()); // version 3.5.20.0
    p.extend(0u32.to_le_bytes()); // flags
    p.extend([serial.len() as u8, 0, 2, 0]);
    p.extend([0; 8]);
    p.extend([0x12, 0x34]); // parent address
    for s in [node, device, vendor] {
        p.extend(wide(s));
        p.extend([0, 0]);
    }
    p.extend(serial.as_bytes());
    p.push(0);
    p
}

fn ns_resolve() -> Vec<u8> {
    let mut p = Vec::new();
    p.extend(0xc202u16.to_le_bytes());
    p.extend(0x0400u16.to_le_bytes());
    p.extend(7u32.to_le_bytes());
    p
}

fn op(op: Operation, code: u32, details: &[(&'static str, &str)]) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: details.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

fn run(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(new, &tcp(), segs)
}

// ---------------------------------------------------------------------------------------
// Recognition.

#[test]
fn probes_recognise_v3_blocks_datagrams_and_v2() {
    let d = Direction::ToServer;
    let keepalive = block(&hex(REAL_KEEPALIVE));
    assert_eq!(tcp_probe(d, &keepalive), Probe::Yes);
    assert_eq!(tcp_probe(d, &keepalive[..3]), Probe::NeedMore);
    assert_eq!(tcp_probe(d, &keepalive[..10]), Probe::NeedMore);
    assert_eq!(udp_probe(d, &hex(REAL_KEEPALIVE)), Probe::Yes);
    assert_eq!(udp_probe(d, &dg(3, &ns_resolve())), Probe::Yes);
    assert_eq!(
        udp_probe(d, &dg(4, &identification())),
        Probe::YesFromServer
    );
    assert_eq!(
        tcp_probe(d, &reply(1, 1, &tag(2, &wide("x")))),
        Probe::YesFromServer
    );
    assert_eq!(tcp_probe(d, &request(1, 1, &[])), Probe::Yes);
    // V2: the discovery script's two requests, and an answer.
    assert_eq!(tcp_probe(d, &hex("bbbb0100000001")), Probe::Yes);
    assert_eq!(tcp_probe(d, &hex("bbbb0100000101")), Probe::Yes);
    assert_eq!(tcp_probe(d, &hex("bbbb01")), Probe::NeedMore);
    assert_eq!(tcp_probe(d, &v2_answer()), Probe::YesFromServer);
}

#[test]
fn probes_leave_other_protocols_alone() {
    let others: &[&str] = &[
        // Modbus read holding registers, ADS (AMS/TCP) read device info, TPKT/COTP, FINS/TCP,
        // TLS client hello start, HTTP, a DNS query, an NTP request, a BACnet/IP Who-Is.
        "000100000006010300000001",
        "0000200000000a0000000100015305c0a80001010053030900040000000000000000000000",
        "0300001611e00000000100c0010ac1020100c2020102",
        "46494e530000000c000000000000000000000000",
        "160301020001",
        "474554202f20485454502f312e310d0a",
        "12340100000100000000000003777777076578616d706c6503636f6d0000010001",
        "e30004fa000100000001000000000000000000000000000000000000000000000000000000000000000000",
        "810b000c0120ffff00ff1008",
        // A 0xC5 that is no datagram, and a block magic without a datagram.
        "c5000000",
        "000117e81000000000000000000000000000",
    ];
    for o in others {
        let data = hex(o);
        for d in [Direction::ToServer, Direction::ToClient] {
            assert_eq!(tcp_probe(d, &data), Probe::No, "tcp {o}");
            assert_eq!(udp_probe(d, &data), Probe::No, "udp {o}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Identity.

#[test]
fn name_service_identification_names_the_runtime() {
    let mut d = CodesysDissector::default();
    let out = datagram(&mut d, Direction::ToServer, &udp(), &dg(3, &ns_resolve()));
    assert_eq!(out, [op(Operation::Identify, 0xc202, &[])]);
    let out = datagram(
        &mut d,
        Direction::ToClient,
        &udp(),
        &dg(4, &identification()),
    );
    let src = source::CODESYS_NAME_SERVICE;
    let s = Subject::Server;
    assert_eq!(
        out,
        [
            id(s, Field::Hostname, "raspberrypi", src),
            id(s, Field::Model, "CODESYS Control for Raspberry Pi SL", src),
            id(s, Field::Vendor, "CODESYS GmbH", src),
            id(s, Field::Firmware, "3.5.20.0", src),
            id(s, Field::Serial, "SN-4711", src),
        ]
    );
    // Repeats are reported once.
    let out = datagram(
        &mut d,
        Direction::ToClient,
        &udp(),
        &dg(4, &identification()),
    );
    assert!(out.is_empty(), "{out:?}");
    // Truncated: a violation, no identity.
    let mut d = CodesysDissector::default();
    let mut short = dg(4, &identification());
    short.truncate(short.len() - 20);
    let out = datagram(&mut d, Direction::ToClient, &udp(), &short);
    assert!(
        matches!(&out[..], [Observation::ProtocolViolation { reason, .. }]
        if reason.contains("name service")),
        "{out:?}"
    );
}

#[test]
fn target_ident_answer_names_the_device() {
    let mut tags = tag(0x04, &wide("plc-line-3"));
    tags.extend(tag(0x02, &wide("WAGO 750-8212")));
    tags.extend(tag(0x03, &wide("WAGO")));
    tags.extend(tag(0x06, &0x0305_0f00u32.to_le_bytes()));
    let segs = [
        (true, request(1, 1, &[])),
        (false, reply(1, 1, &tag(0x81, &tags))),
    ];
    let src = source::CODESYS_TARGET_IDENT;
    let s = Subject::Server;
    assert_eq!(
        run(&segs),
        [
            op(Operation::Identify, 0x0001_0001, &[]),
            id(s, Field::Hostname, "plc-line-3", src),
            id(s, Field::Model, "WAGO 750-8212", src),
            id(s, Field::Vendor, "WAGO", src),
            id(s, Field::Firmware, "3.5.15.0", src),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Operations and logins.

fn login(user: &str, crypt: u32) -> Vec<u8> {
    let mut creds = tag(0x10, user.as_bytes());
    creds.extend(tag(0x11, &[0x55; 32]));
    let mut tags = tag(0x22, &crypt.to_le_bytes());
    tags.extend(tag(0x23, &0x1234_5678u32.to_le_bytes()));
    tags.extend(tag(0x81, &creds));
    request(1, 2, &tags)
}

fn login_reply(result: u16) -> Vec<u8> {
    let mut inner = tag(0x20, &result.to_le_bytes());
    inner.extend(tag(0x21, &0xdead_beefu32.to_le_bytes()));
    reply(1, 2, &tag(0x82, &inner))
}

#[test]
fn weak_login_is_cleartext_and_a_refusal_is_an_auth_failure() {
    let segs = [
        (true, login("admin", 1)),
        (false, login_reply(0x0010)),
        (true, login("admin", 1)),
        (false, login_reply(0)),
    ];
    let out = run(&segs);
    assert_eq!(
        out,
        [
            Observation::CleartextLogin {
                user: "admin".into(),
                protocol: "codesys"
            },
            Observation::FunctionCode(0x0001_0002),
            Observation::AuthFailure {
                user: "admin".into(),
                protocol: "codesys"
            },
            Observation::FunctionCode(0x0001_0002),
        ]
    );
    // An asymmetric crypt type: no cleartext login.
    let out = run(&[(true, login("admin", 2))]);
    assert_eq!(out, [Observation::FunctionCode(0x0001_0002)]);
}

#[test]
fn application_services_map_to_operations() {
    let segs = [
        (true, request(2, 0x01, &tag(0x01, b"Application\0"))),
        (true, request(2, 0x05, &tag(0x87, &tag(0x01, b"x")))),
        (true, request(2, 0x06, &[])),
        (true, request(2, 0x11, &[])),
        (true, request(2, 0x10, &[])),
        (true, request(2, 0x12, &[])),
        (true, request(2, 0x04, &[])),
        (true, request(2, 0x35, &[])),
        (true, request(2, 0x14, &[])),
    ];
    let app = [("service", ""), ("program", "Application")];
    let named = |s: &'static str| [("service", s), app[1]];
    assert_eq!(
        run(&segs),
        [
            Observation::FunctionCode(0x0002_0001),
            op(
                Operation::ProgramDownload,
                0x0002_0005,
                &named("application download")
            ),
            op(
                Operation::ProgramDownload,
                0x0002_0006,
                &named("online change")
            ),
            op(
                Operation::CpuStop,
                0x0002_0011,
                &[("service", "stop application")]
            ),
            op(
                Operation::CpuStart,
                0x0002_0010,
                &[("service", "start application")]
            ),
            op(
                Operation::Restart,
                0x0002_0012,
                &[("service", "reset application")]
            ),
            op(
                Operation::ProgramDelete,
                0x0002_0004,
                &named("delete application")
            ),
            op(
                Operation::ProgramUpload,
                0x0002_0035,
                &[("service", "read application content")]
            ),
            op(Operation::Diagnostics, 0x0002_0014, &[]),
        ]
    );
}

#[test]
fn writes_files_shell_and_settings() {
    let segs = [
        (true, request(0x1b, 0x02, &tag(0x01, &[0; 8]))),
        (true, request(0x09, 0x06, &[])),
        (
            true,
            request(0x08, 0x02, &tag(0x01, b"/PlcLogic/app.bin\0")),
        ),
        (true, request(0x08, 0x05, &tag(0x01, b"/etc/passwd\0"))),
        (true, request(0x08, 0x04, &tag(0x05, &[1, 2, 3]))),
        (true, request(0x11, 0x01, &tag(0x10, b"stopprg\0\0\0"))),
        (true, request(0x01, 0x04, &[])),
        (true, request(0x0c, 0x05, &[])),
        (true, request(0x01, 0x06, &tag(0x54, &3u32.to_le_bytes()))),
    ];
    assert_eq!(
        run(&segs),
        [
            op(
                Operation::Write,
                0x001b_0002,
                &[("service", "monitoring write")]
            ),
            op(
                Operation::Write,
                0x0009_0006,
                &[("service", "write variables")]
            ),
            op(
                Operation::FileTransfer,
                0x0008_0002,
                &[
                    ("service", "start file download"),
                    ("file_op", "write"),
                    ("file", "/PlcLogic/app.bin")
                ]
            ),
            op(
                Operation::FileTransfer,
                0x0008_0005,
                &[
                    ("service", "start file upload"),
                    ("file_op", "read"),
                    ("file", "/etc/passwd")
                ]
            ),
            Observation::FunctionCode(0x0008_0004),
            op(
                Operation::CpuStop,
                0x0011_0001,
                &[("service", "plc shell command"), ("command", "stopprg")]
            ),
            op(
                Operation::ConfigChange,
                0x0001_0004,
                &[
                    ("service", "reset origin device"),
                    ("setting", "factory_reset")
                ]
            ),
            op(
                Operation::ConfigChange,
                0x000c_0005,
                &[("service", "add user"), ("setting", "security")]
            ),
            op(
                Operation::ConfigChange,
                0x0001_0006,
                &[("service", "set operation mode"), ("setting", "mode")]
            ),
        ]
    );
}

#[test]
fn requests_from_the_server_side_are_function_codes() {
    let out = run(&[(false, request(2, 0x11, &[]))]);
    assert_eq!(out, [Observation::FunctionCode(0x0002_0011)]);
}

#[test]
fn a_conversation_fed_byte_by_byte_reads_the_same() {
    let segs = [
        (true, block(&hex(REAL_KEEPALIVE))),
        (true, login("admin", 1)),
        (true, request(2, 0x11, &[])),
    ];
    let whole = run(&segs);
    assert_eq!(whole.len(), 3, "{whole:?}");
    let mut stream = Vec::new();
    for (_, s) in &segs {
        stream.extend_from_slice(s);
    }
    let mut d = new();
    let mut out = Vec::new();
    let left = feed(
        d.as_mut(),
        Direction::ToServer,
        &tcp(),
        &stream,
        1,
        &mut out,
    );
    assert_eq!(left, 0);
    assert_eq!(out, whole);
}

// ---------------------------------------------------------------------------------------
// V2.

fn v2_answer() -> Vec<u8> {
    let mut a = vec![0u8; 160];
    a[..2].copy_from_slice(&[0xbb, 0xbb]);
    let put =
        |a: &mut Vec<u8>, at: usize, s: &str| a[at..at + s.len()].copy_from_slice(s.as_bytes());
    put(&mut a, 64, "Nucleus PLUS");
    put(&mut a, 96, "Nucleus PLUS version 1.14");
    put(&mut a, 128, "CoDeSys SP PLCWinNT");
    a
}

#[test]
fn v2_read_identity() {
    let segs = [(true, hex("bbbb0100000001")), (false, v2_answer())];
    let ctx = ctx(Transport::Tcp, "10.0.0.9:50000", "10.0.0.5:2455");
    let src = source::CODESYS_V2_IDENTITY;
    assert_eq!(
        run_segments(new, &ctx, &segs),
        [
            op(Operation::Identify, 0x01, &[]),
            id(Subject::Server, Field::Os, "Nucleus PLUS version 1.14", src),
            id(Subject::Server, Field::Model, "CoDeSys SP PLCWinNT", src),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Malformed input.

fn reasons(out: &[Observation]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn malformed_blocks_datagrams_and_services_are_violations() {
    // A block length below a datagram header, then a good block after resync.
    let mut bad = wire::TCP_MAGIC.to_vec();
    bad.extend(9u32.to_le_bytes());
    let out = run(&[(true, bad), (true, request(2, 0x11, &[]))]);
    assert_eq!(
        reasons(&out),
        ["CODESYS block driver length 9 outside 14..=4194304"]
    );
    assert!(out.contains(&op(
        Operation::CpuStop,
        0x0002_0011,
        &[("service", "stop application")]
    )));
    // A datagram with another magic, an unknown service, an unknown channel type.
    let mut not_dg = dg(0x40, &[0x03, 0, 0, 0]);
    not_dg[0] = 0xc6;
    let out = run(&[
        (true, block(&not_dg)),
        (true, block(&dg(0x41, &[0; 4]))),
        (true, block(&dg(0x40, &[0x7f, 0, 0, 0]))),
    ]);
    assert_eq!(
        reasons(&out),
        [
            "CODESYS datagram starts with 0xc6, not 0xc5",
            "unknown CODESYS datagram service 0x41",
            "unknown CODESYS channel layer type 0x7f",
        ]
    );
    // A service header of another protocol; tags that run past a whole PDU; a short block.
    let mut pdu = service(2, 0x11, &[]);
    pdu[0] = 0x11;
    let mut cut = service(1, 1, &tag(0x02, b"abcdef"));
    cut.truncate(cut.len() - 2);
    let out = run(&[
        (true, block(&dg(0x40, &app_block(true, &pdu)))),
        (true, block(&dg(0x40, &app_block(true, &cut)))),
        (true, block(&dg(0x40, &[0x01, 0x81, 0x07]))),
    ]);
    assert_eq!(
        reasons(&out),
        [
            "unknown CODESYS service layer protocol 0xcd11",
            "CODESYS service 0x01/0x01 tags run past the message",
            "CODESYS channel layer application block truncated",
        ]
    );
}

#[test]
fn tags_read_padded_lengths_and_stop_at_truncation() {
    // FieldFuzz's PLC shell tag: id 0x11, length 4 written as 84 80 00.
    let raw = hex("1184800001000000138480000200000010036162 63");
    let tags: Vec<_> = wire::Tags::new(&raw).collect();
    assert_eq!(tags.len(), 3);
    assert_eq!(tags[0].uint(), Some(1));
    assert_eq!(tags[1].id, 0x13);
    assert_eq!(tags[2].value, b"abc");
    let mut t = wire::Tags::new(&raw[..10]);
    assert_eq!(t.by_ref().count(), 1);
    assert!(t.truncated);
    // Nested: the login reply's result inside 0x82.
    let nested = tag(0x82, &tag(0x20, &[5, 0]));
    assert_eq!(
        wire::find_deep(&nested, 0x20).and_then(|t| t.uint()),
        Some(5)
    );
}

#[test]
fn never_panics_on_any_input() {
    let msgs = [
        block(&hex(REAL_KEEPALIVE)),
        login("admin", 1),
        login_reply(1),
        reply(1, 1, &tag(0x81, &tag(0x02, &wide("x")))),
        request(0x11, 1, &tag(0x10, b"startprg")),
        hex("bbbb0100000001"),
        v2_answer(),
    ];
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    never_panics(&SPEC, &tcp(), &refs);
    let dgs = [
        hex(REAL_KEEPALIVE),
        dg(4, &identification()),
        dg(3, &ns_resolve()),
    ];
    let refs: Vec<&[u8]> = dgs.iter().map(Vec::as_slice).collect();
    never_panics(&UDP_SPEC, &udp(), &refs);
    let conv: Vec<(bool, Vec<u8>)> = msgs.iter().map(|m| (true, m.clone())).collect();
    never_panics_in_conversation(&SPEC, &tcp(), &conv);
}

// ---------------------------------------------------------------------------------------
// An independent client's bytes: what the builders of Microsoft's ICS forensics tool
// (microsoft/ics-forensics-tools, MIT, `CodeSysV3/codesysv3_protocol`) send, produced by running
// them into a capturing socket (10.77.1.10:50312 to 10.77.1.20:11740): a name service request
// over TCP, an open channel request, a device login of "admin" (crypt type 1, challenge
// 0x12345678), and the PLC shell command `stopprg`; then its name service request over UDP.

const MS_NS_TCP: &str = "000117e824000000c56b40030033c4880a4d0114c4880a4d010a000002c2000400000000";
const MS_OPEN_CHANNEL: &str =
    "000117e830000000c56b40400033c4880a4d0114c4880a4d010a0000c30001010892\
    77ac81d4218300401f0005000000";
const MS_LOGIN: &str = "000117e880000000c56b40400033c4880a4d0114c4880a4d010a000001810700010000000000\
    0000500000008858251155cd0c00010002000000000040000000228480000100000023848000785634128101ac0010066\
    1646d696e0011a0800081002720d4424566cd233237ee757068af546875da3f7068d944722aea556252";
const MS_SHELL_STOP: &str = "000117e85c000000c56b40400033c4880a4d0114c4880a4d010a000001810700020000000\
    00000002c000000448d99c455cd0c00110001000110555e1c000000118480000110555e1384800000000000100a73746f7\
    0707267000000";
const MS_NS_UDP: &str = "c56b400300110114000a000002c2000402000000";

#[test]
fn an_independent_clients_messages_read_as_meant() {
    let segs: Vec<(bool, Vec<u8>)> = [MS_NS_TCP, MS_OPEN_CHANNEL, MS_LOGIN, MS_SHELL_STOP]
        .iter()
        .map(|h| (true, hex(h)))
        .collect();
    for (_, s) in &segs {
        assert_eq!(tcp_probe(Direction::ToServer, s), Probe::Yes);
    }
    assert_eq!(
        run(&segs),
        [
            op(Operation::Identify, 0xc202, &[]),
            Observation::CleartextLogin {
                user: "admin".into(),
                protocol: "codesys"
            },
            Observation::FunctionCode(0x0001_0002),
            op(
                Operation::CpuStop,
                0x0011_0001,
                &[("service", "plc shell command"), ("command", "stopprg")]
            ),
        ]
    );
    let udp_dg = hex(MS_NS_UDP);
    assert_eq!(udp_probe(Direction::ToServer, &udp_dg), Probe::Yes);
    let mut d = CodesysDissector::default();
    let out = datagram(&mut d, Direction::ToServer, &udp(), &udp_dg);
    assert_eq!(out, [op(Operation::Identify, 0xc202, &[])]);
}

/// A service PDU the CODESYS IDE sent, quoted by FieldFuzz (`pycodesys.py`, `getTargetident`):
/// a 16-byte header (4 bytes of additional data after the content size) and tag 0x01 whose
/// length 12 is written padded (`8c 80 00`).
const IDE_GET_TARGET_IDENT: &str = "55cd100001000100602b998b10000000\
    00000000018c80000000000000000000\
    00000000";

#[test]
fn the_ides_target_ident_request_with_a_16_byte_header() {
    let pdu = hex(IDE_GET_TARGET_IDENT);
    let h = wire::ServiceHeader::parse(&pdu).unwrap();
    assert_eq!((h.group, h.service, h.session), (1, 1, 0x8b99_2b60));
    assert_eq!(h.content_size, 16);
    let tags: Vec<_> = wire::Tags::new(h.content).collect();
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].id, tags[0].value.len()), (1, 12));
    let out = run(&[(true, block(&dg(0x40, &app_block(true, &pdu))))]);
    assert_eq!(out, [op(Operation::Identify, 0x0001_0001, &[])]);
}
