//! Tests on real SLMP frames from `slmp_pymcprotocol_ops.pcap` (pymcprotocol 0.3.0 against
//! virtual-plc 0.3.0, tests/peers/record scenario slmp_ops; `tshark -T fields -e tcp.payload`),
//! and on frames built here from the SLMP manual's layouts, each explained.

use super::*;
use crate::protocols::testing::{
    byte_by_byte, ctx, datagram, hex, hex_segments, id, login, never_panics,
    never_panics_in_conversation, run_segments,
};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Subject;

fn c() -> FlowCtx {
    ctx(Transport::Tcp, "10.77.1.10:44942", "10.77.1.20:5007")
}

// 3E binary, network 0, station 0xFF, module I/O 0x03FF, multidrop 0, timer 4 (1 s).
/// Read CPU model (0x0101).
const CPU_MODEL: &str = "500000ffff03000600040001010000";
/// Its answer: "VirtualPLC-Q" NUL-padded to 16, model code 0xFFFF.
const CPU_MODEL_RESPONSE: &str = "d00000ffff0300140000005669727475616c504c432d5100000000ffff";
/// Batch read (0x0401/0000) of D100 (code 0xA8), 10 points.
const READ_D100: &str = "500000ffff03000c00040001040000640000a80a00";
const READ_D100_RESPONSE: &str = "d00000ffff0300160000000000000000000000000000000000000000000000";
/// Batch write (0x1401/0000) of D100, 3 points: 1, 2, 3.
const WRITE_D100: &str = "500000ffff03001200040001140000640000a80300010002000300";
const OK: &str = "d00000ffff030002000000";
/// Batch write in bit units (0x1401/0001) of M10 (0x90), 3 points.
const WRITE_M10: &str = "500000ffff03000e000400011401000a00009003001010";
/// Random write (0x1402/0000): 2 words D200=7, D210=8, 1 double word D300=70000.
const RANDOM_WRITE: &str =
    "500000ffff03001c000400021400000201c80000a80700d20000a808002c0100a870110100";
/// Remote STOP (0x1002), mode 1.
const STOP: &str = "500000ffff030008000400021000000100";
/// Remote latch clear (0x1005).
const LATCH_CLEAR: &str = "500000ffff030008000400051000000100";
/// Remote RUN (0x1001), mode 1, clear mode 0, fixed 0.
const RUN: &str = "500000ffff03000a0004000110000001000000";
/// Remote PAUSE (0x1003).
const PAUSE: &str = "500000ffff030008000400031000000100";
/// Remote RESET (0x1006).
const RESET: &str = "500000ffff030008000400061000000100";

// 3E ASCII (frames 49-57).
const ASCII_CPU_MODEL: &str = "500000FF03FF00000C000401010000";
const ASCII_CPU_MODEL_RESPONSE: &str = "D00000FF03FF0000180000VirtualPLC-Q\0\0\0\0FFFF";
/// Batch read of D*000100, 10 points ("000A").
const ASCII_READ: &str = "500000FF03FF000018000404010000D*000100000A";
/// Batch write of D*000100, 3 points.
const ASCII_WRITE: &str = "500000FF03FF000024000414010000D*000100000300010002000300";

// 4E binary, serial 0x1234 (frames 65-73).
const E4_CPU_MODEL: &str = "54003412000000ffff03000600040001010000";
const E4_CPU_MODEL_RESPONSE: &str =
    "d4003412000000ffff0300140000005669727475616c504c432d5100000000ffff";

fn binary_conversation() -> Vec<(bool, &'static str)> {
    vec![
        (true, CPU_MODEL),
        (false, CPU_MODEL_RESPONSE),
        (true, READ_D100),
        (false, READ_D100_RESPONSE),
        (true, WRITE_D100),
        (false, OK),
        (true, WRITE_M10),
        (false, OK),
        (true, RANDOM_WRITE),
        (false, OK),
        (true, STOP),
        (false, OK),
        (true, LATCH_CLEAR),
        (false, OK),
        (true, RUN),
        (false, OK),
        (true, PAUSE),
        (false, OK),
        (true, RESET),
        (false, OK),
    ]
}

fn ascii(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

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

fn accesses(out: &[Observation]) -> Vec<(Operation, &'static str, u32, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Access(a) => Some((a.op, a.area, a.start, a.count)),
            _ => None,
        })
        .collect()
}

fn model_facts(subject: Subject) -> [Observation; 3] {
    let src = source::SLMP_CPU_MODEL;
    [
        id(subject, Field::Vendor, "Mitsubishi Electric", src),
        id(subject, Field::Model, "VirtualPLC-Q", src),
        id(
            subject,
            Field::Description,
            "MELSEC CPU model code 0xffff",
            src,
        ),
    ]
}

#[test]
fn probe_takes_3e_4e_binary_and_ascii_and_refuses_others() {
    for m in [CPU_MODEL, WRITE_D100, STOP, E4_CPU_MODEL] {
        assert_eq!(probe(Direction::ToServer, &hex(m)), Probe::Yes, "{m}");
    }
    for m in [CPU_MODEL_RESPONSE, OK, E4_CPU_MODEL_RESPONSE] {
        assert_eq!(probe(Direction::ToClient, &hex(m)), Probe::YesFromServer);
    }
    assert_eq!(probe(Direction::ToServer, &ascii(ASCII_READ)), Probe::Yes);
    assert_eq!(
        probe(Direction::ToClient, &ascii(ASCII_CPU_MODEL_RESPONSE)),
        Probe::YesFromServer
    );
    assert_eq!(
        probe(Direction::ToServer, &hex(STOP)[..10]),
        Probe::NeedMore
    );
    assert_eq!(probe(Direction::ToServer, &[0x50]), Probe::NeedMore);
    // MELSOFT's own protocol (melsoft_UDP_clean_2.pcap frames 1 and 5) is not SLMP.
    assert_eq!(probe(Direction::ToServer, &hex("5a000001")), Probe::No);
    assert_eq!(
        probe(
            Direction::ToServer,
            &hex("57010000001111070000ffff030000fe03000020001c0a16")
        ),
        Probe::No
    );
    // An HTTP request and a Modbus request are not.
    assert_eq!(
        probe(Direction::ToServer, b"POST / HTTP/1.1\r\n"),
        Probe::No
    );
    assert_eq!(
        probe(Direction::ToServer, &hex("000100000006010300000001")),
        Probe::No
    );
    // A 4E frame whose fixed bytes are not zero; a command of no SLMP class.
    assert_eq!(
        probe(
            Direction::ToServer,
            &hex("54003412010000ffff03000600040001010000")
        ),
        Probe::No
    );
    assert_eq!(
        probe(Direction::ToServer, &hex("500000ffff03000600040001770000")),
        Probe::No
    );
}

#[test]
fn binary_session_operations_accesses_and_identity() {
    let out = run_segments(new, &c(), &hex_segments(&binary_conversation()));
    assert_eq!(
        ops_of(&out),
        [
            (Operation::Identify, Some(0x0101)),
            (Operation::Read, Some(0x0401)),
            (Operation::Write, Some(0x1401)),
            (Operation::Write, Some(0x1401)),
            (Operation::Write, Some(0x1402)),
            (Operation::CpuStop, Some(0x1002)),
            (Operation::Write, Some(0x1005)),
            (Operation::CpuStart, Some(0x1001)),
            (Operation::CpuStop, Some(0x1003)),
            (Operation::Restart, Some(0x1006)),
        ]
    );
    assert_eq!(
        accesses(&out),
        [
            (Operation::Read, "D", 100, 10),
            (Operation::Write, "D", 100, 3),
            (Operation::Write, "M", 10, 3),
            (Operation::Write, "D", 200, 1),
            (Operation::Write, "D", 210, 1),
            (Operation::Write, "D", 300, 2),
        ]
    );
    for want in model_facts(Subject::Server) {
        assert!(out.contains(&want), "{want:?}");
    }
    let stop = out
        .iter()
        .find_map(|o| match o {
            Observation::Operation {
                op: Operation::CpuStop,
                details,
                ..
            } => Some(details.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(stop, [("service", "Remote Stop".to_string())]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Observation::ProtocolViolation { .. })));
    // Delivered byte by byte: the same.
    let bytes = run_segments(new, &c(), &byte_by_byte(&binary_conversation()));
    assert_eq!(out, bytes);
}

#[test]
fn ascii_session_reads_the_same_fields() {
    let segs: Vec<(bool, Vec<u8>)> = [
        (true, ASCII_CPU_MODEL),
        (false, ASCII_CPU_MODEL_RESPONSE),
        (true, ASCII_READ),
        (true, ASCII_WRITE),
    ]
    .iter()
    .map(|(d, s)| (*d, ascii(s)))
    .collect();
    let out = run_segments(new, &c(), &segs);
    assert_eq!(
        ops_of(&out),
        [
            (Operation::Identify, Some(0x0101)),
            (Operation::Read, Some(0x0401)),
            (Operation::Write, Some(0x1401)),
        ]
    );
    assert_eq!(
        accesses(&out),
        [
            (Operation::Read, "D", 100, 10),
            (Operation::Write, "D", 100, 3),
        ]
    );
    for want in model_facts(Subject::Server) {
        assert!(out.contains(&want), "{want:?}");
    }
}

#[test]
fn four_e_answers_are_paired_by_serial_number() {
    // Two requests outstanding, the answer names the first by its serial.
    let other = "54007856000000ffff03000c00040001040000640000a80a00";
    let segs = hex_segments(&[
        (true, E4_CPU_MODEL),
        (true, other),
        (false, E4_CPU_MODEL_RESPONSE),
    ]);
    let out = run_segments(new, &c(), &segs);
    for want in model_facts(Subject::Server) {
        assert!(out.contains(&want), "{want:?}");
    }
    // An answer to a serial never asked names nothing.
    let segs = hex_segments(&[(true, other), (false, E4_CPU_MODEL_RESPONSE)]);
    let out = run_segments(new, &c(), &segs);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Observation::Identity { .. })));
}

#[test]
fn unlock_is_a_login_and_files_are_program_transfers() {
    // Remote password unlock (0x1630/0000): length 6, "secret" (built from the SLMP manual's
    // layout: password length u16, then the password).
    let unlock = "500000ffff03000e000400301600000600736563726574";
    // File Read File (0x1828/0000): file pointer 1, offset 0, 256 bytes (fields not read).
    let read_file = "500000ffff03000e00040028180000010000000000000001";
    // File Delete File (0x1822/0004), the rest not read.
    let delete_file = "500000ffff03000a0004002218040000000000";
    let out = run_segments(
        new,
        &c(),
        &hex_segments(&[(true, unlock), (true, read_file), (true, delete_file)]),
    );
    assert!(out.contains(&login("slmp", "")));
    assert!(!format!("{out:?}").contains("secret"));
    let details: Vec<Vec<(&str, String)>> = out
        .iter()
        .filter_map(|o| match o {
            Observation::Operation { details, .. } => Some(details.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        details,
        [
            vec![
                ("service", "Remote Password Unlock".to_string()),
                ("setting", "security".to_string())
            ],
            vec![
                ("service", "File Read File".to_string()),
                ("file_op", "read".to_string())
            ],
            vec![
                ("service", "File Delete File".to_string()),
                ("file_op", "delete".to_string())
            ],
        ]
    );
}

#[test]
fn datagrams_hold_one_frame_each() {
    let u = ctx(Transport::Udp, "10.77.1.10:40000", "10.77.1.20:5006");
    let mut d = SlmpDissector::default();
    let out = datagram(&mut d, Direction::ToServer, &u, &hex(STOP));
    assert_eq!(ops_of(&out), [(Operation::CpuStop, Some(0x1002))]);
    let mut long = hex(STOP);
    long.push(0);
    let out = datagram(&mut d, Direction::ToServer, &u, &long);
    assert!(out.iter().any(|o| matches!(o,
        Observation::ProtocolViolation { reason, .. } if reason.contains("datagram of 18 bytes"))));
}

#[test]
fn broken_frames_are_violations_and_the_stream_resynchronises() {
    // A 3E request whose data length (2) cannot hold timer, command and subcommand, then a
    // good STOP.
    let short = "500000ffff030002000400";
    let out = run_segments(new, &c(), &hex_segments(&[(true, short), (true, STOP)]));
    assert!(out.iter().any(|o| matches!(o,
        Observation::ProtocolViolation { reason, .. } if reason.contains("shorter than the fixed fields"))));
    assert!(ops_of(&out).contains(&(Operation::CpuStop, Some(0x1002))));
    // Junk before a frame.
    let out = run_segments(new, &c(), &[(true, [b"junk".to_vec(), hex(STOP)].concat())]);
    assert!(ops_of(&out).contains(&(Operation::CpuStop, Some(0x1002))));
}

#[test]
fn never_panics_on_any_input() {
    let mut conv = hex_segments(&binary_conversation());
    conv.push((true, ascii(ASCII_WRITE)));
    conv.push((false, ascii(ASCII_CPU_MODEL_RESPONSE)));
    never_panics_in_conversation(&SPEC, &c(), &conv);
    let u = ctx(Transport::Udp, "10.77.1.10:40000", "10.77.1.20:5006");
    never_panics(&UDP_SPEC, &u, &[&hex(STOP), &hex(E4_CPU_MODEL_RESPONSE)]);
}
