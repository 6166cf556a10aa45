//! Tests on real DNP3 frames from /work/shared/pcaps/dnp3 (payloads extracted with
//! `tshark -T fields -e tcp.payload -e udp.payload`; expected values read from `tshark -V`:
//! dnp3.src, dnp3.dst, dnp3.al.func, dnp3.al.obj, dnp3.al.objq.range).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex, never_panics};
use crate::protocols::FlowCtx;

// select_operate_and_responses.pcap frame 4: 1 -> 10, SELECT (3) g12v1 CROB, qualifier 0x28.
const SELECT: &str = "05641ac40a0001008a1cc0c0030c012801000000030164000000fd6b6400000000005b";
// frame 6: 10 -> 1, RESPONSE (129) echoing the CROB, IIN 0x0000.
const SELECT_RESPONSE: &str =
    "05641c4401000a007636c6c08100000c01280100000003016400c39600006400000000005b";
// frame 7: 1 -> 10, OPERATE (4).
const OPERATE: &str = "05641ac40a0001008a1cc1c1040c012801000000030164000000b9f06400000000005b";
// cold_restart_and_response.pcap frame 4: COLD RESTART (13).
const COLD_RESTART: &str = "056408c40a000100fc42c0c00d9c86";
// frame 6: RESPONSE with IIN 0x0001 (tshark: "IIN Abnormality").
const COLD_RESTART_RESPONSE: &str = "05640a4401000a006e25c0c0810001c2de";
// zeek-dnp3.pcap frame 4: 4 -> 3, UNSOLICITED RESPONSE (130), IIN 0x1000.
const UNSOLICITED: &str = "05640a44030004007caee6f78210004fbd";
// zeek-dnp3.pcap frame 6: CONFIRM (0).
const CONFIRM: &str = "056408c404000300b4b8c0d7007ace";
// zeek-dnp3.pcap frame 7: WRITE (2) g50v1 (time and date), qualifier 0x07.
const WRITE_TIME: &str = "056412c4040003001e7cc1c10232010701ebe45a87ff002801";
// zeek-dnp3.pcap frame 88: WRITE (2) g80v1 (IIN, clear device restart), qualifier 0x00.
const WRITE_IIN: &str = "05640ec4040003006dd3c3c4025001000707005e3f";
// zeek-dnp3.pcap frame 163: STOP APPLICATION (18).
const STOP_APPLICATION: &str = "056411c4040003004eefc1c1123c02060107063c04ed8763";
// zeek-dnp3.pcap frame 19: start octets 05 05 (tshark does not see DNP3 in it).
const BAD_START: &str = "050511c40400030046a2c2c2143c02063c03063c0406d32f";
// zeek-dnp3.pcap frame 154: DISABLE UNSOLICITED (21), third header qualifier 0xed (tshark:
// "Range Code: Unknown (13)").
const RESERVED_QUALIFIER: &str = "056411c4ffff0300d0d0c1c1153c02063c03063c04ed55d6";
// file_delete.pcap frame 1: DELETE FILE (27) g70v3, qualifier 0x5b.
const DELETE_FILE: &str = "056438c404000300f731f0c11b46035b012a001a001000000000300400000000000000000000000000000000ffff0012002e2f68656c6c6f776f726c642ea42d7478745eda";
// immediate_freeze.pcap frame 1: IMMEDIATE FREEZE (7) g20v0.
const FREEZE: &str = "05640bc404000300e42bf1c207140006d0b8";
// auth_change_session_keys.pcap frame 4: AUTHENTICATION REQUEST (32); frame 5: 131.
const AUTH_REQUEST: &str = "05640ec4040003006dd3c0c1207804070101009e40";
const AUTH_RESPONSE: &str =
    "05641f4403000400342ec0c183900078055b010f0001000000018926000102000400737465766e8d";
// dnp3_udp_select_operate.pcap frames 6, 7, 8: one RESPONSE in three transport segments
// (FIR seq 50, seq 51, FIN seq 52), g10v2 indexes 0-511, 523 octets reassembled.
const UDP_SEGMENT_1: &str = "0564ff4464000100ff2f72cb8190000a02010000ff0101810101bcb801010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc3010101010101010101018d7b";
const UDP_SEGMENT_2: &str = "0564ff4464000100ff2f330101010101010101010101010101013df501010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc301010101010101010101010101010101bbc3010101010101010101018d7b";
const UDP_SEGMENT_3: &str =
    "05641f44640001008361b4010101010101010101010101010101ec6f010101010101010101018d7b";
// dnp3_udp_select_operate.pcap frame 9: link-only frame (PRM=0, ACK).
const UDP_LINK_ACK: &str = "05640549640001007e5f";
// DNP3-Malformed.pcap frame 1: length octet 2 with a correct header CRC, then text.
const SHORT_LENGTH: &str = "056402c40a00010097fec1c101253235347825323534782532356811347825";
// DNP3-Malformed.pcap frame 2: OPERATE g12v1 indexes 0-1 (22 octets) with 12 octets of data.
const TRUNCATED_CROB: &str = "056419c40a000100da8fc1c2040c010000010003016400000064639a00000000ffff";
/// A response with device attributes (g0v252, 250, 242, 248, 247, 246, 245 as visible
/// strings), built for this test because the corpus has none; its CRCs and attributes were
/// checked with `tshark -V` (dnp3.al.da.value = "ACME Corp", "RTU-5000", "v2.3.1",
/// "SN12345", "Substation-7 RTU", "ID-42", "Field").
const ATTRIBUTES: &str = "0564734401000a006b2dc0c081000000fc000000010941434d45143220436f727000fa00000001085254552d25563530303000f2000000010676322e332e1f0d3100f80000000107534e31323334350035d0f7000000011053756273746174696f6e13b32d372052545500f6000000010549442dc61e343200f500000001054669656c642bfe";

const MASTER: &str = "192.168.60.1:49334";
const OUTSTATION: &str = "192.168.60.130:20000";

fn tcp() -> FlowCtx {
    ctx(Transport::Tcp, MASTER, OUTSTATION)
}

fn udp() -> FlowCtx {
    ctx(Transport::Udp, MASTER, OUTSTATION)
}

/// Feeds whole messages through one dissector.
fn run(flow: &FlowCtx, msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let mut d = new();
    let mut out = Vec::new();
    for (dir, h) in msgs {
        let bytes = hex(h);
        let used = d.parse(*dir, &bytes, flow, &mut out);
        if flow.transport == Transport::Tcp {
            assert_eq!(used, bytes.len(), "{h}");
        }
    }
    out
}

fn op(op: Operation, code: u32) -> Observation {
    opd(op, code, &[])
}

/// An operation with its details.
fn opd(op: Operation, code: u32, details: &[(&'static str, &str)]) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: details.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

fn address(subject: Subject, n: u16) -> Observation {
    Observation::Identity {
        subject,
        field: Field::Description,
        value: format!("dnp3 address {n}"),
        source: source::DNP3_LINK_ADDRESS,
    }
}

fn violations(out: &[Observation]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

fn codes(out: &[Observation]) -> Vec<u32> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Operation {
                function_code: Some(c),
                ..
            } => Some(*c),
            Observation::FunctionCode(c) => Some(*c),
            _ => None,
        })
        .collect()
}

#[test]
fn crc_matches_the_catalogue_check_value() {
    // CRC-16/DNP check value over "123456789" (Greg Cook's CRC catalogue): 0xEA82.
    assert_eq!(crc(b"123456789"), 0xea82);
    // The header CRC of select_operate frame 4, low octet first on the wire (8a 1c).
    assert_eq!(crc(&hex("05641ac40a000100")), 0x1c8a);
}

#[test]
fn select_operate_is_control_with_both_link_addresses() {
    let out = run(
        &tcp(),
        &[
            (Direction::ToServer, SELECT),
            (Direction::ToClient, SELECT_RESPONSE),
            (Direction::ToServer, OPERATE),
        ],
    );
    assert_eq!(
        out,
        vec![
            address(Subject::Client, 1),
            address(Subject::Server, 10),
            op(Operation::Control, 3),
            crob(10, 0),
            Observation::FunctionCode(129),
            op(Operation::Control, 4),
            crob(10, 0),
        ]
    );
}

/// A control of binary output point `index` of outstation `unit` (tshark: dnp3.al.index).
fn crob(unit: u32, index: u32) -> Observation {
    Observation::Access(Access {
        op: Operation::Control,
        unit: Some(unit),
        area: "binary_output",
        block: None,
        start: index,
        count: 1,
    })
}

/// One link frame (clause 9) from `src` to `dst` carrying `user` data, CRCs computed, as hex.
fn frame(control: u8, dst: u16, src: u16, user: &[u8]) -> String {
    let mut head = vec![0x05, 0x64, (user.len() + 5) as u8, control];
    head.extend(dst.to_le_bytes());
    head.extend(src.to_le_bytes());
    let mut f = head.clone();
    f.extend(crc(&head).to_le_bytes());
    for block in user.chunks(16) {
        f.extend(block);
        f.extend(crc(block).to_le_bytes());
    }
    f.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn outstation_internal_indications_become_status_facts_once() {
    let status = |value: &str| Observation::Identity {
        subject: Subject::Server,
        field: Field::Status,
        value: value.to_owned(),
        source: source::DNP3_IIN,
    };
    // zeek-dnp3.pcap frame 83: 4 -> 3 RESPONSE, IIN 0x8000 (tshark: "Device Restart"); frame
    // 4: UNSOLICITED RESPONSE, IIN 0x1000 ("Time Sync Required"); cold restart response IIN
    // 0x0001 (broadcast received: nothing about the device).
    let restart = "05640a44030004007caed4c2818000901d";
    // Built: RESPONSE (transport FIR|FIN, application FIR|FIN) with IIN1.6 device trouble and
    // IIN2.5 configuration corrupt (0x4020), checked with text2pcap + tshark -V.
    let trouble = frame(0x44, 3, 4, &[0xc0, 0xc0, 0x81, 0x40, 0x20]);
    let out = run(
        &tcp(),
        &[
            (Direction::ToClient, restart),
            (Direction::ToClient, UNSOLICITED),
            (Direction::ToClient, restart),
            (Direction::ToClient, COLD_RESTART_RESPONSE),
            (Direction::ToClient, &trouble),
            (Direction::ToClient, &trouble),
        ],
    );
    let facts: Vec<&Observation> = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Observation::Identity {
                    field: Field::Status,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(
        facts,
        [
            &status("device_restart"),
            &status("need_time"),
            &status("device_trouble"),
            &status("config_corrupt"),
        ]
    );
    // An outstation reporting its restart is not a restart operation.
    assert!(!out
        .iter()
        .any(|o| matches!(o, Observation::Operation { .. })));
    // A master never sends IIN: its requests give no status.
    let out = run(&tcp(), &[(Direction::ToServer, SELECT)]);
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::Status,
            ..
        }
    )));
}

#[test]
fn function_codes_map_to_operations() {
    let cases: &[(&str, Direction, Observation)] = &[
        (
            COLD_RESTART,
            Direction::ToServer,
            opd(Operation::Restart, 13, &[("service", "cold restart")]),
        ),
        (
            COLD_RESTART_RESPONSE,
            Direction::ToClient,
            Observation::FunctionCode(129),
        ),
        (
            UNSOLICITED,
            Direction::ToClient,
            Observation::FunctionCode(130),
        ),
        (CONFIRM, Direction::ToServer, Observation::FunctionCode(0)),
        (
            WRITE_TIME,
            Direction::ToServer,
            // tshark: "Timestamp: Oct 11, 2004 09:39:01.483000000 UTC".
            opd(
                Operation::TimeSync,
                2,
                &[
                    ("service", "write time and date"),
                    ("setting", "clock"),
                    ("value", "2004-10-11T09:39:01.483000Z"),
                ],
            ),
        ),
        (WRITE_IIN, Direction::ToServer, op(Operation::Write, 2)),
        (
            STOP_APPLICATION,
            Direction::ToServer,
            opd(Operation::CpuStop, 18, &[("service", "stop application")]),
        ),
        (
            DELETE_FILE,
            Direction::ToServer,
            // tshark: File Control Mode NULL (0), File Name "./helloworld.txt".
            opd(
                Operation::FileTransfer,
                27,
                &[
                    ("service", "delete file"),
                    ("file", "./helloworld.txt"),
                    ("file_op", "delete"),
                ],
            ),
        ),
        (FREEZE, Direction::ToServer, op(Operation::Control, 7)),
        (
            AUTH_REQUEST,
            Direction::ToServer,
            Observation::FunctionCode(32),
        ),
        (
            AUTH_RESPONSE,
            Direction::ToClient,
            Observation::FunctionCode(131),
        ),
    ];
    for (h, dir, want) in cases {
        let out = run(&tcp(), &[(*dir, h)]);
        let got: Vec<&Observation> = out
            .iter()
            .filter(|o| !matches!(o, Observation::Identity { .. }))
            .collect();
        assert_eq!(got, vec![want], "{h}");
    }
}

#[test]
fn table_of_operations() {
    use Operation::*;
    let want = [
        (0, None),
        (1, Some(Read)),
        (2, Some(Write)),
        (5, Some(Control)),
        (6, Some(Control)),
        (12, Some(Control)),
        (14, Some(Restart)),
        (17, Some(CpuStart)),
        (18, Some(CpuStop)),
        (19, Some(ConfigChange)),
        (20, Some(Control)),
        (22, Some(Write)),
        (23, Some(TimeSync)),
        (24, Some(TimeSync)),
        (25, Some(FileTransfer)),
        (30, Some(FileTransfer)),
        (31, Some(ConfigChange)),
        (129, None),
        (130, None),
        (131, None),
    ];
    for (code, op) in want {
        assert_eq!(app::operation(code), op, "{code}");
    }
}

#[test]
fn addresses_are_reported_once_per_side() {
    let out = run(
        &tcp(),
        &[
            (Direction::ToServer, COLD_RESTART),
            (Direction::ToClient, COLD_RESTART_RESPONSE),
            (Direction::ToServer, SELECT),
        ],
    );
    let ids: Vec<&Observation> = out
        .iter()
        .filter(|o| matches!(o, Observation::Identity { .. }))
        .collect();
    assert_eq!(
        ids,
        [&address(Subject::Client, 1), &address(Subject::Server, 10)]
    );
    // A broadcast destination (0xffff, zeek-dnp3 frame 154) names nobody.
    let out = run(&tcp(), &[(Direction::ToServer, RESERVED_QUALIFIER)]);
    assert!(out.contains(&address(Subject::Client, 3)));
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            subject: Subject::Server,
            ..
        }
    )));
}

#[test]
fn udp_response_is_reassembled_from_three_segments() {
    let flow = udp();
    let out = run(
        &flow,
        &[
            (Direction::ToClient, UDP_SEGMENT_1),
            (Direction::ToClient, UDP_SEGMENT_2),
        ],
    );
    // Nothing reported for the application layer before FIN.
    assert_eq!(codes(&out), Vec::<u32>::new());
    let out = run(
        &flow,
        &[
            (Direction::ToClient, UDP_SEGMENT_1),
            (Direction::ToClient, UDP_SEGMENT_2),
            (Direction::ToClient, UDP_SEGMENT_3),
            (Direction::ToClient, UDP_LINK_ACK),
        ],
    );
    assert_eq!(codes(&out), vec![129]);
    assert_eq!(violations(&out), Vec::<&str>::new());
    // A segment out of sequence loses the fragment without a violation.
    let out = run(
        &flow,
        &[
            (Direction::ToClient, UDP_SEGMENT_1),
            (Direction::ToClient, UDP_SEGMENT_3),
        ],
    );
    assert_eq!(codes(&out), Vec::<u32>::new());
    assert_eq!(violations(&out), Vec::<&str>::new());
}

#[test]
fn frames_split_and_joined_in_the_tcp_stream() {
    let flow = tcp();
    let mut d = new();
    let mut out = Vec::new();
    let stream = [hex(SELECT), hex(OPERATE)].concat();
    // Byte by byte: nothing is consumed until a whole frame is there.
    let mut pending: Vec<u8> = Vec::new();
    for &b in &stream {
        pending.push(b);
        let n = d.parse(Direction::ToServer, &pending, &flow, &mut out);
        pending.drain(..n);
    }
    assert!(pending.is_empty());
    assert_eq!(codes(&out), vec![3, 4]);
    // Both frames in one segment.
    let out = run(
        &flow,
        &[(Direction::ToServer, &format!("{SELECT}{OPERATE}"))],
    );
    assert_eq!(codes(&out), vec![3, 4]);
}

#[test]
fn crc_errors_are_violations_and_drop_the_frame() {
    // A flipped octet in the first data block of the SELECT.
    let mut bad = hex(SELECT);
    bad[14] ^= 0x01;
    let mut d = new();
    let mut out = Vec::new();
    assert_eq!(
        d.parse(Direction::ToServer, &bad, &tcp(), &mut out),
        bad.len()
    );
    assert_eq!(violations(&out), ["crc"]);
    assert_eq!(codes(&out), Vec::<u32>::new());
    // A flipped octet in the header: the frame cannot be framed; the next one still is.
    let mut bad = hex(SELECT);
    bad[3] ^= 0x01;
    bad.extend(hex(OPERATE));
    let mut out = Vec::new();
    d.parse(Direction::ToServer, &bad, &tcp(), &mut out);
    assert_eq!(violations(&out), ["crc"]);
    assert_eq!(codes(&out), vec![4]);
}

#[test]
fn malformed_corpus_frames_are_violations() {
    let cases = [
        (BAD_START, "no link start 0x0564"),
        (RESERVED_QUALIFIER, "reserved object qualifier 0xed"),
        (SHORT_LENGTH, "link length below 5"),
        (
            TRUNCATED_CROB,
            "g12v1 objects run past the end of the fragment",
        ),
    ];
    for (h, want) in cases {
        let out = run(&tcp(), &[(Direction::ToServer, h)]);
        assert_eq!(violations(&out), [want], "{h}");
    }
    // Junk is reported once until a frame is found again.
    let out = run(
        &tcp(),
        &[
            (Direction::ToServer, "0000"),
            (Direction::ToServer, "1111"),
            (Direction::ToServer, SELECT),
            (Direction::ToServer, "22"),
        ],
    );
    assert_eq!(violations(&out).len(), 2);
}

#[test]
fn well_formed_frames_give_no_violations() {
    for h in [
        SELECT,
        SELECT_RESPONSE,
        OPERATE,
        COLD_RESTART,
        COLD_RESTART_RESPONSE,
        UNSOLICITED,
        CONFIRM,
        WRITE_TIME,
        WRITE_IIN,
        STOP_APPLICATION,
        DELETE_FILE,
        FREEZE,
        AUTH_REQUEST,
        AUTH_RESPONSE,
        UDP_LINK_ACK,
        ATTRIBUTES,
    ] {
        for dir in [Direction::ToServer, Direction::ToClient] {
            let out = run(&tcp(), &[(dir, h)]);
            assert_eq!(violations(&out), Vec::<&str>::new(), "{h}");
        }
    }
}

#[test]
fn after_a_gap_junk_is_skipped_quietly() {
    let flow = tcp();
    let mut d = new();
    let mut out = Vec::new();
    let select = hex(SELECT);
    d.gap(Direction::ToServer);
    // The tail of a frame, then a whole one.
    let stream = [&select[20..], &select[..]].concat();
    assert_eq!(
        d.parse(Direction::ToServer, &stream, &flow, &mut out),
        stream.len()
    );
    assert_eq!(violations(&out), Vec::<&str>::new());
    assert_eq!(codes(&out), vec![3]);
}

#[test]
fn udp_datagram_ending_mid_frame_is_a_violation() {
    let select = hex(SELECT);
    let mut d = new();
    let mut out = Vec::new();
    d.parse(Direction::ToServer, &select[..20], &udp(), &mut out);
    assert_eq!(
        violations(&out),
        ["link frame truncated at end of datagram"]
    );
}

#[test]
fn device_attributes_become_identity_once() {
    let out = run(
        &tcp(),
        &[
            (Direction::ToClient, ATTRIBUTES),
            (Direction::ToClient, ATTRIBUTES),
        ],
    );
    let id = |field, value: &str| Observation::Identity {
        subject: Subject::Server,
        field,
        value: value.to_owned(),
        source: source::DNP3_DEVICE_ATTRIBUTES,
    };
    let ids: Vec<&Observation> = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Observation::Identity {
                    source: source::DNP3_DEVICE_ATTRIBUTES,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            &id(Field::Firmware, "v2.3.1"),
            &id(Field::Model, "RTU-5000"),
            &id(Field::Vendor, "ACME Corp"),
            &id(Field::Serial, "SN12345"),
            // The user-assigned name wins over the user-assigned id (g0v246 "ID-42").
            &id(Field::Hostname, "Substation-7 RTU"),
        ]
    );
    assert_eq!(codes(&out), vec![129, 129]);
}

#[test]
fn probe_accepts_dnp3_and_rejects_others() {
    for h in [SELECT, UNSOLICITED, UDP_LINK_ACK, SHORT_LENGTH] {
        assert_eq!(probe(Direction::ToServer, &hex(h)), Probe::Yes, "{h}");
    }
    assert_eq!(probe(Direction::ToServer, &hex("0564")), Probe::NeedMore);
    assert_eq!(probe(Direction::ToServer, &hex("05")), Probe::NeedMore);
    assert_eq!(probe(Direction::ToServer, &hex(BAD_START)), Probe::No);
    let mut bad_crc = hex(SELECT);
    bad_crc[8] ^= 0xff;
    assert_eq!(probe(Direction::ToServer, &bad_crc), Probe::No);
    let others: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        // TLS ClientHello record header.
        &[
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ],
        // IEC 104 STARTDT act.
        &[0x68, 0x04, 0x07, 0x00, 0x00, 0x00],
        // Modbus/TCP read holding registers.
        &[
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a,
        ],
    ];
    for o in others {
        assert_eq!(probe(Direction::ToServer, o), Probe::No);
    }
    // Random bytes.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..1000 {
        let buf: Vec<u8> = (0..16)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert_ne!(probe(Direction::ToServer, &buf), Probe::Yes);
    }
}

#[test]
fn never_panics_on_truncations_flips_and_noise() {
    let msgs: Vec<Vec<u8>> = [
        SELECT,
        SELECT_RESPONSE,
        WRITE_TIME,
        DELETE_FILE,
        AUTH_RESPONSE,
        UDP_SEGMENT_1,
        UDP_SEGMENT_3,
        SHORT_LENGTH,
        TRUNCATED_CROB,
        ATTRIBUTES,
    ]
    .iter()
    .chain(FILE_WRITE.iter().chain(FILE_READ).map(|(_, h)| h))
    .map(|h| hex(h))
    .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    never_panics(&SPEC, &tcp(), &refs);
    never_panics(&UDP_SPEC, &udp(), &refs);
}

#[test]
fn object_walk_checks_qualifiers_and_lengths() {
    use app::{walk_objects, AppError, Walk};
    struct Nothing;
    impl Visitor<'_> for Nothing {}
    let walk = |h: &str, mode| walk_objects(&hex(h), mode, &mut Nothing);
    // Read class 1-3 and g0v254 (all attributes): headers only.
    assert_eq!(walk("3c02063c03063c040600fe06", Walk::HeadersOnly), Ok(()));
    // Read by index list, qualifier 0x17: two one-octet indexes follow.
    assert_eq!(walk("1e01170203050c0106", Walk::HeadersOnly), Ok(()));
    assert_eq!(
        walk("1e0117030305", Walk::HeadersOnly),
        Err(AppError::DataTruncated {
            group: 30,
            variation: 1
        })
    );
    // g1v1 packed bits 0..9: two octets; g30v3 0..0: four octets.
    assert_eq!(
        walk("010100000900001e030000000a000000", Walk::WithData),
        Ok(())
    );
    assert_eq!(
        walk("010100000900", Walk::WithData),
        Err(AppError::DataTruncated {
            group: 1,
            variation: 1
        })
    );
    // A vendor group stops the walk without an error.
    assert_eq!(walk("fa0100000000ffffff", Walk::WithData), Ok(()));
    // Sizes larger than the fragment never allocate or overflow.
    assert!(walk("0c0102ffffffffffffffff", Walk::WithData).is_err());
    assert!(walk("46035b01ffff", Walk::WithData).is_err());
    assert!(walk("46035dffffffff", Walk::WithData).is_err());
}

/// Streams of real frames with random octets changed, cut at random points and delivered in
/// both directions over TCP and UDP, as the flow layer would: nothing panics and nothing is
/// over-consumed. `OTWATCH_STRESS_ITERS` raises the number of rounds.
#[test]
fn mutated_streams_never_panic() {
    let frames: Vec<Vec<u8>> = [
        SELECT,
        SELECT_RESPONSE,
        WRITE_TIME,
        DELETE_FILE,
        UDP_SEGMENT_1,
        UDP_SEGMENT_2,
        UDP_SEGMENT_3,
        ATTRIBUTES,
        RESERVED_QUALIFIER,
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    let rounds: usize = std::env::var("OTWATCH_STRESS_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..rounds {
        let flow = if round % 2 == 0 { tcp() } else { udp() };
        let mut d = new();
        let mut out = Vec::new();
        let mut stream = Vec::new();
        for _ in 0..8 {
            stream.extend_from_slice(&frames[rand() as usize % frames.len()]);
        }
        for _ in 0..(rand() % 6) {
            let i = rand() as usize % stream.len();
            stream[i] = rand() as u8;
        }
        let mut pending = [Vec::new(), Vec::new()];
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = (rand() as usize % 64 + 1).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let r = rand();
            let (dir, i) = if r & 1 == 0 {
                (Direction::ToServer, 0)
            } else {
                (Direction::ToClient, 1)
            };
            if r & 0x30 == 0x30 {
                pending[i].clear();
                d.gap(dir);
            }
            pending[i].extend_from_slice(chunk);
            let used = d.parse(dir, &pending[i], &flow, &mut out);
            if flow.transport == Transport::Udp {
                pending[i].clear();
            } else {
                assert!(used <= pending[i].len());
                pending[i].drain(..used);
            }
        }
    }
}

#[test]
fn control_points_from_ranges_and_index_prefixes() {
    // Built (layouts of IEEE 1815-2012 Annex A): g41v2 with qualifier 0x00 (1-octet start 3,
    // stop 4, two 3-octet blocks), then g12v1 with qualifier 0x17 (count 2, 1-octet indexes
    // 7 and 8, 11-octet CROBs), then g12v1 index 20 alone.
    let mut objects = vec![41, 2, 0x00, 3, 4];
    objects.extend([0u8; 6]);
    objects.extend([12, 1, 0x17, 2, 7]);
    objects.extend([0u8; 11]);
    objects.push(8);
    objects.extend([0u8; 11]);
    objects.extend([12, 1, 0x17, 1, 20]);
    objects.extend([0u8; 11]);
    let mut found = Found {
        controls: true,
        ..Found::default()
    };
    app::walk_objects(&objects, app::Walk::WithData, &mut found).unwrap();
    assert_eq!(
        found.runs.get(..found.runs_len).unwrap(),
        [(41, 3, 4), (12, 7, 8), (12, 20, 20)]
    );
    // Objects cut short are a truncation, not points.
    let mut found = Found {
        controls: true,
        ..Found::default()
    };
    let cut = objects.get(..20).unwrap();
    assert!(app::walk_objects(cut, app::Walk::WithData, &mut found).is_err());
    assert_eq!(found.runs_len, 1);
}

// file_write.pcap frames 1-6 (master 3 -> outstation 4): open ./helloworld.txt for WRITE
// (request id 6), the answer gives handle 0x12345678, WRITE g70v5 of the last block (9 octets
// "hi there "), its status, CLOSE FILE of the handle, its answer.
const FILE_WRITE: &[(Direction, &str)] = &[
    (Direction::ToServer, "056438c404000300f731e8c91946035b012a001a001000c8b33143b65a4c01ff010000000009000000020000c4010406002e2f68656c6c6f776f726c642e1ba07478745eda"),
    (Direction::ToClient, "05641d44030004008308f4c981000046045b010d007856341200c70f00000000040600004476"),
    (Direction::ToServer, "05641fc4040003004b1ee9ca0246055b011100785634120000003def80686920746865726520653d"),
    (Direction::ToClient, "0564194403000400ed45f5ca81000046065b01090078563412002f0b00008000d0e4"),
    (Direction::ToServer, "05641bc4040003002553eacb1a46045b010d007856341200000002a9000000070000d7b3"),
    (Direction::ToClient, "05641d44030004008308f6cb81000046045b010d007856341200ef480000000000070000d7b3"),
];
// file_read.pcap frames 1-6: open ./testfile.txt for READ, READ g70v5 of the handle, the data
// ("This is a test file"), close.
const FILE_READ: &[(Direction, &str)] = &[
    (Direction::ToServer, "056436c404000300f2c0e0c11946035b0128001a000e00000000b91c0000000000000000000000000001000047e60404002e2f7465737466696c652e7478ea02741dee"),
    (Direction::ToClient, "05641d44030004008308e7c181000046045b010d007856341213cc3600000000040400003445"),
    (Direction::ToServer, "056416c4040003007031e1c20146055b010800785634120000009c1f00ffff"),
    (Direction::ToClient, "05642b440300040019eae8c281000046055b011b007856341200b1b9000080546869732069732061207465733810742066696c653eb1"),
    (Direction::ToServer, "05641bc4040003002553e2c31a46045b010d0078563412000000dbf8000000050000a780"),
    (Direction::ToClient, "05641d44030004008308e9c381000046045b010d007856341200b6140000000000050000a780"),
];

fn operations(out: &[Observation]) -> Vec<&Observation> {
    out.iter()
        .filter(|o| matches!(o, Observation::Operation { .. }))
        .collect()
}

#[test]
fn file_transfers_name_the_file_and_what_is_done_with_it() {
    let file = |code, service, op| {
        opd(
            Operation::FileTransfer,
            code,
            &[
                ("service", service),
                ("file", "./helloworld.txt"),
                ("file_op", op),
            ],
        )
    };
    let out = run(&tcp(), FILE_WRITE);
    assert_eq!(violations(&out), Vec::<&str>::new());
    assert_eq!(
        operations(&out),
        [
            &file(25, "open file", "write"),
            // The data write is a file transfer, not a write of points.
            &file(2, "write file data", "write"),
            &file(26, "close file", "close"),
        ]
    );
    let file = |code, service, op| {
        opd(
            Operation::FileTransfer,
            code,
            &[
                ("service", service),
                ("file", "./testfile.txt"),
                ("file_op", op),
            ],
        )
    };
    let out = run(&tcp(), FILE_READ);
    assert_eq!(violations(&out), Vec::<&str>::new());
    assert_eq!(
        operations(&out),
        [
            &file(25, "open file", "read"),
            &file(1, "read file data", "read"),
            &file(26, "close file", "close"),
        ]
    );
    // Without the open (capture started late), the handle has no name.
    let out = run(&tcp(), &FILE_WRITE[2..3]);
    assert_eq!(
        operations(&out),
        [&opd(
            Operation::FileTransfer,
            2,
            &[("service", "write file data"), ("file_op", "write")]
        )]
    );
}

#[test]
fn restart_start_stop_and_configuration_name_their_service() {
    // Built requests (the corpus has no save or activate configuration): link header 1 -> 10
    // and application control 0xc0, function 19 / 17 / 31 without objects.
    let frame = |function: u8| {
        let mut user = vec![0xc0, 0xc0, function];
        let mut f = vec![0x05, 0x64, 5 + user.len() as u8, 0xc4, 10, 0, 1, 0];
        let c = crc(&f).to_le_bytes();
        f.extend(c);
        let c = crc(&user).to_le_bytes();
        user.extend(c);
        f.extend(user);
        f.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let only_ops = |h: &str| {
        let out = run(&tcp(), &[(Direction::ToServer, h)]);
        operations(&out).into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(
        only_ops(&frame(19)),
        [opd(
            Operation::ConfigChange,
            19,
            &[
                ("service", "save configuration"),
                ("setting", "configuration")
            ]
        )]
    );
    assert_eq!(
        only_ops(&frame(14)),
        [opd(Operation::Restart, 14, &[("service", "warm restart")])]
    );
    assert_eq!(
        only_ops(&frame(17)),
        [opd(
            Operation::CpuStart,
            17,
            &[("service", "start application")]
        )]
    );
    // Routine functions carry nothing.
    assert_eq!(only_ops(&frame(1)), [op(Operation::Read, 1)]);
}

#[test]
fn file_objects_of_any_length_never_panic() {
    // The g70v3 object of file_write.pcap frame 1 (42 octets) and the g70v4 of frame 2, cut
    // at every length and with the name's offset and size lying.
    let command = hex(concat!(
        "1a001000c8b3315a4c01ff010000000009000000020000040600",
        "2e2f68656c6c6f776f726c642e747874",
    ));
    let status = hex("78563412000000000004060000");
    let mut files = ops::Files::default();
    for v in 0..=8 {
        for object in [&command, &status] {
            for n in 0..=object.len() {
                let f = ops::FileObject::parse(v, &object[..n]);
                for code in [1, 2, 25, 26, 27, 28, 30] {
                    let _ = files.request(code, f);
                }
                files.response(f);
            }
        }
    }
    let mut lying = command.clone();
    lying[0] = 0xff;
    lying[2] = 0xff;
    assert_eq!(
        ops::FileObject::parse(3, &lying),
        Some(ops::FileObject::Command {
            name: None,
            mode: 2,
            request_id: 6
        })
    );
}
