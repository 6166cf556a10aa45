//! Tests on real SRTP messages and on messages built here from GE's SNP manual.
//!
//! Real: the messages a PACSystems RX3i IC695CPE330 (firmware 10.85) exchanged with the
//! gesrtp-py driver, as that project's debug log prints them (jobeastwood/gesrtp-py,
//! tests/discrete_test_output.txt, MIT): the connection answer, two Read System Memory
//! requests and their answers. No public capture of SRTP exists that we could find, and no
//! independent SRTP peer installs from a package registry.
//!
//! Built: the service requests of GFK-0529C chapter 6 (the example of Return Controller Type
//! and ID on 6-40 with its controller "33101A", CPU 331 and program "ESS331", Set PLC State,
//! Write System Memory, Program Store and Load, Change Privilege Level, Set PLC Time/Date, an
//! error NACK), each SNP mailbox byte N placed at SRTP offset N + 21 in a header laid out as
//! the RX3i's.

use super::*;
use crate::protocols::testing::{ctx, hex, id, login, never_panics_in_conversation, run_segments};
use crate::protocols::FlowCtx;

fn c() -> FlowCtx {
    ctx(Transport::Tcp, "10.77.1.10:50123", "10.77.1.20:18245")
}

// --- Real RX3i messages (gesrtp-py's log).

/// The client's connection request: 56 zero bytes.
fn connect() -> String {
    "00".repeat(56)
}
/// The RX3i's answer: type 1, byte 8 = 0x0f.
const RX3I_CONNECT_ACK: &str = "01000000000000000f0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
/// Read System Memory (0x04) of %R1, 4 words (selector 0x08, offset 0, length 4); mailbox
/// sequence 0, time stamp 17:21:26, destination 20 0e 00 00 (CPU in slot 2).
const RX3I_READ_R: &str = "02000000000000000001000000000000000100000000000000002621170000c000000000200e000001010408000004000000000000000000";
/// Its completion ACK with text buffer (0x94), 8 bytes of data; piggyback: not logged in
/// (0xff), privilege 2, status word 0x217c (state 2, stop I/O disabled).
const RX3I_READ_R_ACK: &str = "0300000008000000000000000000000000010000000000000000000000000094200e0000208001a000000800001800000101ff0200007c21";
/// The 8 bytes of data (27546, 18174, 0, 16160), sent by the RX3i in a second segment.
const RX3I_READ_R_DATA: &str = "9a6bfe460000203f";
/// Read System Memory of %I in byte mode (selector 0x10), 4 bytes; mailbox sequence 1.
const RX3I_READ_I: &str = "02000100000000000001000000000000000100000000000000002621170001c000000000200e000001010410000004000000000000000000";
/// Its completion ACK (0xD4) with the data in the header.
const RX3I_READ_I_ACK: &str = "03000100000000000000000000000000000100000000000000000000000001d4200e0000208001a001010000e2006ef90000ff0200007c21";

fn rx3i_conversation() -> Vec<(bool, Vec<u8>)> {
    vec![
        (true, hex(&connect())),
        (false, hex(RX3I_CONNECT_ACK)),
        (true, hex(RX3I_READ_R)),
        (false, hex(RX3I_READ_R_ACK)),
        (false, hex(RX3I_READ_R_DATA)),
        (true, hex(RX3I_READ_I)),
        (false, hex(RX3I_READ_I_ACK)),
    ]
}

// --- Messages built from GFK-0529.

/// A 56-byte header as the RX3i lays it out: type, sequence number, text length, the fixed
/// 0x01 bytes at 9 and 17, the mailbox sequence number and type, source and destination.
fn header(kind: u8, seq: u8, mailbox_type: u8, text_len: usize) -> Vec<u8> {
    let mut h = vec![0u8; 56];
    h[0] = kind;
    h[2] = seq;
    h[4..6].copy_from_slice(&(text_len as u16).to_le_bytes());
    h[9] = 1;
    h[17] = 1;
    h[30] = seq;
    h[31] = mailbox_type;
    let (src, dst) = if kind == 2 {
        ([0, 0, 0, 0], [0x10, 0x0e, 0, 0])
    } else {
        ([0x10, 0x0e, 0, 0], [0x20, 0x5a, 0, 0])
    };
    h[32..36].copy_from_slice(&src);
    h[36..40].copy_from_slice(&dst);
    h
}

/// An initial request (0xC0, table 3-6): packet 1 of 1, the code at 42, its data from 43.
fn request(seq: u8, code: u8, data: &[u8]) -> Vec<u8> {
    let mut h = header(2, seq, 0xC0, 0);
    h[40] = 1;
    h[41] = 1;
    h[42] = code;
    h[43..43 + data.len()].copy_from_slice(data);
    h
}

/// An initial request with text buffer (0x80, table 3-7): the data length at 42, packet 1 of 1
/// at 48, the code at 50, its data from 51, then the text buffer.
fn request_text(seq: u8, code: u8, data: &[u8], text: &[u8]) -> Vec<u8> {
    let mut h = header(2, seq, 0x80, text.len());
    h[41] = 1;
    h[42..44].copy_from_slice(&(text.len() as u16).to_le_bytes());
    h[48] = 1;
    h[49] = 1;
    h[50] = code;
    h[51..51 + data.len()].copy_from_slice(data);
    h.extend_from_slice(text);
    h
}

/// The piggyback status (table 3-8) at 50-55: logged in to program 0, privilege 2, sweep 0.
fn piggyback(h: &mut [u8], status: u16) {
    h[50] = 0;
    h[51] = 2;
    h[54..56].copy_from_slice(&status.to_le_bytes());
}

/// A completion ACK (0xD4, table 3-9) with up to 6 bytes of data at 44.
fn ack(seq: u8, data: &[u8], status: u16) -> Vec<u8> {
    let mut h = header(3, seq, 0xD4, 0);
    h[40] = 1;
    h[41] = 1;
    h[44..44 + data.len()].copy_from_slice(data);
    piggyback(&mut h, status);
    h
}

/// A completion ACK with text buffer (0x94, table 3-10).
fn ack_text(seq: u8, text: &[u8], status: u16) -> Vec<u8> {
    let mut h = header(3, seq, 0x94, text.len());
    h[41] = 1;
    h[42..44].copy_from_slice(&(text.len() as u16).to_le_bytes());
    h[48] = 1;
    h[49] = 1;
    piggyback(&mut h, status);
    h.extend_from_slice(text);
    h
}

/// An error NACK (0xD1, table 3-11).
fn nack(seq: u8, major: u8, minor: u8) -> Vec<u8> {
    let mut h = header(3, seq, 0xD1, 0);
    h[40] = 1;
    h[41] = 1;
    h[42] = major;
    h[43] = minor;
    h
}

/// Status word of a running PLC (state 0, run switch on): 0x0100.
const RUNNING: u16 = 0x0100;
/// Stopped, I/O enabled (state 6).
const STOPPED: u16 = 0x6000;

/// The text buffer of GFK-0529's Return Controller Type and ID example (6-40, packet 5 bytes
/// 3-42): controller ID "33101A", major 0x10 (Series 90-30), minor 0x23 (CPU 331), one
/// program "ESS331", then block and configuration sizes and checksums.
const CONTROLLER_ID_TEXT: &str =
    "33333130314100001023010045535333333100000100a30700009a019bcd0000d6062201c8eb0000";

fn ops_of(out: &[Observation]) -> Vec<(Operation, Option<u32>)> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Operation {
                op, function_code, ..
            } => Some((*op, *function_code)),
            _ => None,
        })
        .collect()
}

fn details_of(out: &[Observation], want: Operation) -> Vec<(&'static str, String)> {
    out.iter()
        .find_map(|o| match o {
            Observation::Operation { op, details, .. } if *op == want => Some(details.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn accesses(out: &[Observation]) -> Vec<(Operation, &'static str, u32, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Access(a) => Some((a.op, a.area, a.start, a.count)),
            _ => None,
        })
        .collect()
}

fn violations(out: &[Observation]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn probe_takes_srtp_and_refuses_others() {
    for m in [connect().as_str(), RX3I_READ_R, RX3I_READ_I] {
        assert_eq!(probe(Direction::ToServer, &hex(m)), Probe::Yes, "{m}");
    }
    for m in [RX3I_CONNECT_ACK, RX3I_READ_R_ACK, RX3I_READ_I_ACK] {
        assert_eq!(probe(Direction::ToClient, &hex(m)), Probe::YesFromServer);
    }
    assert_eq!(
        probe(Direction::ToServer, &request_text(1, 0x3F, &[0], &[1; 20])),
        Probe::Yes
    );
    assert_eq!(
        probe(Direction::ToClient, &nack(1, 2, 0)),
        Probe::YesFromServer
    );
    // A header still arriving.
    assert_eq!(
        probe(Direction::ToServer, &hex(RX3I_READ_R)[..30]),
        Probe::NeedMore
    );
    assert_eq!(probe(Direction::ToServer, &[0; 10]), Probe::NeedMore);
    // Modbus, HTTP, a TPKT/COTP data header: no.
    assert_eq!(
        probe(Direction::ToServer, &hex("000100000006010300000001")),
        Probe::No
    );
    assert_eq!(probe(Direction::ToServer, b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(
        probe(
            Direction::ToServer,
            &hex("0300001f02f080320100000a00000e00")
        ),
        Probe::No
    );
    // A zero prefix that turns out not to be a connection request.
    let mut almost = vec![0u8; 56];
    almost[40] = 1;
    assert_eq!(probe(Direction::ToServer, &almost), Probe::No);
    // A request with an ACK mailbox, an unnamed service code, a type-1 answer with data.
    let mut m = hex(RX3I_READ_R);
    m[31] = 0xD4;
    assert_eq!(probe(Direction::ToServer, &m), Probe::No);
    assert_eq!(
        probe(Direction::ToServer, &request(0, 0x77, &[])),
        Probe::No
    );
    let mut m = hex(RX3I_CONNECT_ACK);
    m[20] = 5;
    assert_eq!(probe(Direction::ToClient, &m), Probe::No);
}

#[test]
fn rx3i_reads_accesses_and_status() {
    let conv = rx3i_conversation();
    let out = run_segments(new, &c(), &conv);
    assert_eq!(
        ops_of(&out),
        [(Operation::Read, Some(4)), (Operation::Read, Some(4))]
    );
    assert_eq!(
        accesses(&out),
        [
            (Operation::Read, "R", 1, 4),
            // %I bytes 0-3 are %I1 to %I32.
            (Operation::Read, "I", 1, 32),
        ]
    );
    let status = id(
        Subject::Server,
        Field::Status,
        "PLC state: stop I/O disabled",
        source::SRTP_STATUS,
    );
    assert!(out.contains(&status), "{out:?}");
    assert!(violations(&out).is_empty(), "{out:?}");
    // The same, delivered byte by byte.
    let bytes: Vec<(bool, Vec<u8>)> = conv
        .iter()
        .flat_map(|(d, b)| b.iter().map(move |x| (*d, vec![*x])))
        .collect();
    assert_eq!(run_segments(new, &c(), &bytes), out);
}

#[test]
fn controller_type_and_id_names_the_plc() {
    let text = hex(CONTROLLER_ID_TEXT);
    let segs = vec![
        (true, request(0x65, 0x43, &[])),
        (false, ack_text(0x65, &text, RUNNING)),
    ];
    let out = run_segments(new, &c(), &segs);
    assert_eq!(ops_of(&out), [(Operation::Identify, Some(0x43))]);
    let src = source::SRTP_CONTROLLER_ID;
    for want in [
        id(Subject::Server, Field::Vendor, "GE", src),
        id(Subject::Server, Field::Model, "Series 90-30 CPU 331", src),
        id(Subject::Server, Field::Hostname, "33101A", src),
        id(
            Subject::Server,
            Field::Description,
            "control program ESS331",
            src,
        ),
        id(
            Subject::Server,
            Field::Status,
            "PLC state: run I/O enabled",
            source::SRTP_STATUS,
        ),
    ] {
        assert!(out.contains(&want), "{want:?} in {out:?}");
    }
    // A type pair table 6-16 does not list (a PACSystems CPU) is a description.
    let mut other = text.clone();
    other[8] = 0x12;
    other[9] = 0x34;
    let out = run_segments(
        new,
        &c(),
        &[
            (true, request(1, 0x43, &[])),
            (false, ack_text(1, &other, RUNNING)),
        ],
    );
    assert!(out.contains(&id(
        Subject::Server,
        Field::Description,
        "GE PLC CPU type 0x12/0x34",
        src
    )));
    // An answer to no Return Controller Type and ID request names nothing.
    let out = run_segments(new, &c(), &[(false, ack_text(9, &text, RUNNING))]);
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::Vendor | Field::Model | Field::Hostname,
            ..
        }
    )));
}

#[test]
fn program_name_answer_names_the_program() {
    // Return Control Program Name (6-36): number of programs (u16) then the name.
    let text = [&[1u8, 0][..], b"PUMPS\0\0\0"].concat();
    let out = run_segments(
        new,
        &c(),
        &[
            (true, request(3, 0x03, &[])),
            (false, ack_text(3, &text, RUNNING)),
        ],
    );
    assert!(out.contains(&id(
        Subject::Server,
        Field::Description,
        "control program PUMPS",
        source::SRTP_CONTROLLER_ID
    )));
}

#[test]
fn engineering_operations_map_to_the_vocabulary() {
    // Write System Memory (0x07) of %R100-%R101 in the mailbox: selector 0x08, offset 99,
    // length 2, data 0x1234 0x5678 (GFK-0529 6-16).
    let write_r = request(1, 0x07, &[0x08, 99, 0, 2, 0, 0x34, 0x12, 0x78, 0x56]);
    // Write System Memory with a text buffer: %Q1-%Q80 in byte mode (selector 0x12, 10 bytes).
    let write_q = request_text(2, 0x07, &[0x12, 0, 0, 10, 0], &[0xff; 10]);
    // Set PLC State (0x23) to stop I/O enabled (6), then to run I/O enabled (0) (6-70).
    let stop = request(3, 0x23, &[6]);
    let run = request(4, 0x23, &[0]);
    // Program Store (0x3F) of the logic block (type 0), 40 bytes of block (6-119).
    let store = request_text(5, 0x3F, &[0, 0, 0, 40, 0], &[0x5a; 40]);
    // Program Load (0x40) of the declaration block (type 5) (6-114).
    let load = request(6, 0x40, &[5, 0, 0, 0, 0]);
    // Clear All PLC Memory (0x35).
    let clear = request(7, 0x35, &[]);
    // Set PLC Time/Date (0x24), both (mode 1): 12:34:56 on day 07, month 12, year 26 (BCD).
    let time = request(8, 0x24, &[1, 0x56, 0x34, 0x12, 0x07, 0x12, 0x26, 0x02]);
    // Change Privilege Level (0x21) to level 4 with password "SECRET" (6-2).
    let privilege = request(9, 0x21, &[4, b'S', b'E', b'C', b'R', b'E', b'T', 0, 0]);
    // Toggle Force System Memory (0x44) and Set Controller ID (0x22).
    let force = request(10, 0x44, &[0x4c, 0, 0, 1, 0]);
    let set_id = request(11, 0x22, b"ABC123\0");
    let segs: Vec<(bool, Vec<u8>)> = [
        write_r, write_q, stop, run, store, load, clear, time, privilege, force, set_id,
    ]
    .into_iter()
    .enumerate()
    .flat_map(|(i, m)| [(true, m), (false, ack(i as u8 + 1, &[], RUNNING))])
    .collect();
    let out = run_segments(new, &c(), &segs);
    assert_eq!(
        ops_of(&out),
        [
            (Operation::Write, Some(0x07)),
            (Operation::Write, Some(0x07)),
            (Operation::CpuStop, Some(0x23)),
            (Operation::CpuStart, Some(0x23)),
            (Operation::ProgramDownload, Some(0x3F)),
            (Operation::ProgramUpload, Some(0x40)),
            (Operation::ProgramDelete, Some(0x35)),
            (Operation::TimeSync, Some(0x24)),
            (Operation::ConfigChange, Some(0x21)),
            (Operation::Write, Some(0x44)),
            (Operation::ConfigChange, Some(0x22)),
        ]
    );
    assert_eq!(
        accesses(&out),
        [
            (Operation::Write, "R", 100, 2),
            (Operation::Write, "Q", 1, 80)
        ]
    );
    let s = |v: &str| v.to_string();
    assert_eq!(
        details_of(&out, Operation::Write),
        [
            ("service", s("Write System Memory")),
            ("area", s("R")),
            ("address", s("%R100")),
            ("count", s("2")),
            ("mode", s("word")),
        ]
    );
    assert_eq!(
        details_of(&out, Operation::CpuStop),
        [
            ("service", s("Set PLC State")),
            ("state", s("stop I/O enabled"))
        ]
    );
    assert_eq!(
        details_of(&out, Operation::TimeSync),
        [
            ("service", s("Set PLC Time/Date")),
            ("setting", s("clock")),
            ("value", s("26-12-07 12:34:56")),
        ]
    );
    assert_eq!(
        details_of(&out, Operation::ConfigChange),
        [
            ("service", s("Change PLC CPU Privilege Level")),
            ("setting", s("security")),
            ("level", s("4")),
        ]
    );
    assert!(out.contains(&login("srtp", "")));
    assert!(!format!("{out:?}").contains("SECRET"));
    assert!(violations(&out).is_empty(), "{:?}", violations(&out));
    // A privilege change without password is no login.
    let out = run_segments(new, &c(), &[(true, request(1, 0x21, &[2]))]);
    assert!(!out.contains(&login("srtp", "")));
}

#[test]
fn error_nack_is_a_violation_naming_the_service() {
    // Set PLC State refused: insufficient privilege (major 2).
    let segs = vec![(true, request(7, 0x23, &[0])), (false, nack(7, 0x02, 0x00))];
    let out = run_segments(new, &c(), &segs);
    assert_eq!(ops_of(&out), [(Operation::CpuStart, Some(0x23))]);
    assert_eq!(
        violations(&out),
        ["SRTP error NACK to Set PLC State: insufficient privilege (major 0x02, minor 0x00)"]
    );
}

#[test]
fn broken_messages_are_violations_and_the_stream_resynchronises() {
    // An unknown header type, then a good request.
    let mut junk = hex(RX3I_READ_R);
    junk[0] = 0x09;
    let good = hex(RX3I_READ_R);
    let out = run_segments(new, &c(), &[(true, [junk, good].concat())]);
    assert!(violations(&out)
        .iter()
        .any(|v| v.contains("not an SRTP header (type 0x09")));
    assert!(ops_of(&out).contains(&(Operation::Read, Some(4))));
    // A request with a response mailbox type; a response with a request mailbox type.
    let mut req = hex(RX3I_READ_R);
    req[31] = 0xD4;
    let mut resp = hex(RX3I_READ_I_ACK);
    resp[31] = 0xC0;
    let out = run_segments(new, &c(), &[(true, req), (false, resp)]);
    assert_eq!(
        violations(&out),
        [
            "SRTP request with mailbox type 0xd4",
            "SRTP response with mailbox type 0xc0"
        ]
    );
}

#[test]
fn type_8_messages_are_framed_and_passed_over() {
    // Type 0x08 (listed, without meaning, by the Palatis Lua dissector), 4 bytes of text.
    let mut other = header(8, 0, 0, 4);
    other.extend_from_slice(&[1, 2, 3, 4]);
    let segs = vec![(true, other), (true, request(2, 0x23, &[6]))];
    let out = run_segments(new, &c(), &segs);
    assert_eq!(ops_of(&out), [(Operation::CpuStop, Some(0x23))]);
    assert!(violations(&out).is_empty(), "{out:?}");
}

#[test]
fn long_text_buffers_are_passed_over() {
    // A 600-byte Write System Memory (300 words of %R) then a STOP, in odd segments.
    let long = request_text(1, 0x07, &[0x08, 0, 0, 0x2c, 0x01], &[0xab; 600]);
    let stop = request(2, 0x23, &[2]);
    let all = [long, stop].concat();
    let segs: Vec<(bool, Vec<u8>)> = all.chunks(97).map(|c| (true, c.to_vec())).collect();
    let out = run_segments(new, &c(), &segs);
    assert_eq!(
        ops_of(&out),
        [
            (Operation::Write, Some(0x07)),
            (Operation::CpuStop, Some(0x23))
        ]
    );
    assert_eq!(accesses(&out), [(Operation::Write, "R", 1, 300)]);
    assert!(violations(&out).is_empty());
}

#[test]
fn truncated_messages_wait_and_never_panic() {
    // Half a header says nothing yet.
    let half = hex(RX3I_READ_R)[..40].to_vec();
    assert!(run_segments(new, &c(), &[(true, half)]).is_empty());
    // A 0x94 answer whose text never comes, then the flow ends: nothing but its status.
    let out = run_segments(new, &c(), &[(false, hex(RX3I_READ_R_ACK))]);
    assert!(ops_of(&out).is_empty());
    // Controller ID text cut short: no identity, no panic.
    let cut = hex(CONTROLLER_ID_TEXT)[..10].to_vec();
    let out = run_segments(
        new,
        &c(),
        &[
            (true, request(1, 0x43, &[])),
            (false, ack_text(1, &cut, RUNNING)),
        ],
    );
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::Model,
            ..
        }
    )));
}

#[test]
fn never_panics_on_any_input() {
    let mut conv = rx3i_conversation();
    conv.push((true, request(0x65, 0x43, &[])));
    conv.push((false, ack_text(0x65, &hex(CONTROLLER_ID_TEXT), STOPPED)));
    conv.push((true, request_text(5, 0x3F, &[0, 0, 0, 40, 0], &[0x5a; 40])));
    conv.push((false, nack(5, 0x05, 0xf1)));
    never_panics_in_conversation(&SPEC, &c(), &conv);
}
