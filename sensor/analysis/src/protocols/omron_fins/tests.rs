#![allow(clippy::unwrap_used)]
//! FINS on real frames: `omron_test.pcap` (ITI/ICS-Security-Tools, a CP1L answering a
//! Controller Data Read over FINS/TCP and FINS/UDP) and `omron.pcap` (cisagov/icsnpp-omron-fins,
//! one datagram per command), and frames built from W227.

use super::*;
use crate::protocols::testing::{
    byte_by_byte, ctx, datagram, hex, hex_segments, id, never_panics, never_panics_in_conversation,
    run_segments,
};
use otwatch_common::observation::{Access, Operation};

const TCP_CONVERSATION: &[(bool, &str)] = &[
    (true, "46494e530000000c000000000000000000000000"),
    (false, "46494e53000000100000000100000000000000fb000000c8"),
    (
        true,
        "46494e5300000015000000020000000080000200c8000000ef05050100",
    ),
    (
        false,
        "46494e53000000720000000200000000c0000200fbef00c80005050100004350314c2d454c323044522d44\
         0000002020202030312e3030000000000030312e30360000000000000000000000000000000000000000000000\
         00010000000000000000000000000000000000010003000a172a1008000000000000",
    ),
];

const UDP_COMMAND: &str = "800002000000006300ef050100";
const UDP_RESPONSE: &str = "c0000200630000c800ef050100004350314c2d454c323044522d440000002020202030\
    312e3030000000000030312e3036000000000000000000000000000000000000000000000000010000000000000000\
    000000000000000000010003000a172a1008000000000000";

fn tcp() -> crate::protocols::FlowCtx {
    ctx(Transport::Tcp, "10.1.1.173:17134", "10.1.1.164:9600")
}

fn udp() -> crate::protocols::FlowCtx {
    ctx(Transport::Udp, "10.1.1.173:54855", "10.1.1.164:9600")
}

fn cp1l_identity(subject: Subject) -> Vec<Observation> {
    let src = source::OMRON_FINS_CONTROLLER_DATA;
    vec![
        id(subject, Field::Vendor, "Omron", src),
        id(subject, Field::Model, "CP1L-EL20DR-D", src),
        id(subject, Field::Firmware, "01.00", src),
    ]
}

fn node(subject: Subject, n: u8) -> Observation {
    id(
        subject,
        Field::Description,
        &format!("FINS node {n}"),
        source::OMRON_FINS_NODE,
    )
}

#[test]
fn fins_tcp_handshake_and_controller_data_read() {
    let mut want = vec![
        node(Subject::Client, 251),
        node(Subject::Server, 200),
        Observation::Operation {
            op: Operation::Identify,
            function_code: Some(0x0501),
            details: Vec::new(),
        },
    ];
    want.extend(cp1l_identity(Subject::Server));
    let out = run_segments(new, &tcp(), &hex_segments(TCP_CONVERSATION));
    assert_eq!(out, want);
    // The same bytes one at a time.
    assert_eq!(
        run_segments(new, &tcp(), &byte_by_byte(TCP_CONVERSATION)),
        want
    );
}

#[test]
fn fins_udp_controller_data_read() {
    let mut d = FinsDissector::default();
    let out = datagram(&mut d, Direction::ToServer, &udp(), &hex(UDP_COMMAND));
    assert_eq!(
        out,
        [
            node(Subject::Client, 99),
            Observation::Operation {
                op: Operation::Identify,
                function_code: Some(0x0501),
                details: Vec::new(),
            }
        ]
    );
    let out = datagram(&mut d, Direction::ToClient, &udp(), &hex(UDP_RESPONSE));
    let mut want = vec![node(Subject::Server, 200)];
    want.extend(cp1l_identity(Subject::Server));
    assert_eq!(out, want);
}

#[test]
fn probes_recognise_fins_and_turn_answers_round() {
    let d = Direction::ToServer;
    assert_eq!(udp_probe(d, &hex(UDP_COMMAND)), Probe::Yes);
    assert_eq!(udp_probe(d, &hex(UDP_RESPONSE)), Probe::YesFromServer);
    assert_eq!(tcp_probe(d, &hex(TCP_CONVERSATION[0].1)), Probe::Yes);
    assert_eq!(
        tcp_probe(d, &hex(TCP_CONVERSATION[1].1)),
        Probe::YesFromServer
    );
    assert_eq!(
        tcp_probe(d, &hex(TCP_CONVERSATION[3].1)),
        Probe::YesFromServer
    );
    assert_eq!(tcp_probe(d, b"FIN"), Probe::NeedMore);
    assert_eq!(tcp_probe(d, b"GET / HTTP/1.1\r\n"), Probe::No);
    // An unknown command code, reserved ICF bits, a DNS query.
    assert_eq!(udp_probe(d, &hex("800002000000006300ef7f0100")), Probe::No);
    assert_eq!(udp_probe(d, &hex("820002000000006300ef050100")), Probe::No);
    assert_eq!(
        udp_probe(d, &hex("12340100000100000000000003777777")),
        Probe::No
    );
    assert_eq!(udp_probe(d, &[]), Probe::No);
}

/// omron.pcap's commands (frames 20, 21, 24, 36-39, 43, 54, 72, 74, 34).
#[test]
fn operations_of_real_commands() {
    use Operation::*;
    let head = "8000020000000000007a";
    type Case<'a> = (&'a str, Operation, &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (
            "010200cccccc0001414243444546",
            Write,
            &[
                ("service", "memory area write"),
                ("area", "cio_bit"),
                ("address", "52428"),
                ("count", "1"),
            ],
        ),
        (
            "010300cccccc00010010",
            Write,
            &[
                ("service", "memory area fill"),
                ("area", "cio_bit"),
                ("address", "52428"),
                ("count", "1"),
            ],
        ),
        (
            "010580cccccc81cccdce0010",
            Write,
            &[
                ("service", "memory area transfer"),
                ("area", "timer_counter"),
                ("address", "52429"),
                ("count", "16"),
            ],
        ),
        (
            "03060000ffffffff0100",
            ProgramUpload,
            &[("service", "program area read")],
        ),
        (
            "03070000ffffffff010041424344",
            ProgramDownload,
            &[("service", "program area write")],
        ),
        (
            "0308000000",
            ProgramDelete,
            &[("service", "program area clear")],
        ),
        (
            "0401000001",
            CpuStart,
            &[("service", "run"), ("mode", "debug")],
        ),
        ("0402", CpuStop, &[("service", "stop")]),
        (
            "070209012001020103",
            TimeSync,
            &[
                ("service", "clock write"),
                ("setting", "clock"),
                ("value", "2009-01-20 01:02:01"),
            ],
        ),
        (
            "22030000000266696c656e616d652e6578650000000000206161",
            FileTransfer,
            &[
                ("service", "single file write"),
                ("file", "filename.exe"),
                ("file_op", "write"),
            ],
        ),
        (
            "22050000000166696c656e616d652e6f6e65",
            FileTransfer,
            &[
                ("service", "file delete"),
                ("file", "filename.one"),
                ("file_op", "delete"),
            ],
        ),
    ];
    for (body, op, details) in cases {
        let mut d = FinsDissector::default();
        let out = datagram(
            &mut d,
            Direction::ToServer,
            &udp(),
            &hex(&format!("{head}{body}")),
        );
        let mut want: Vec<(&str, String)> =
            details.iter().map(|(k, v)| (*k, v.to_string())).collect();
        want.push(("node", "0.0.0".to_string()));
        let code = u32::from_str_radix(&body[..4], 16).unwrap();
        assert_eq!(
            out.first(),
            Some(&Observation::Operation {
                op: *op,
                function_code: Some(code),
                details: want,
            }),
            "{body}"
        );
    }
}

#[test]
fn memory_reads_are_accesses_and_protect_is_a_password() {
    let mut d = FinsDissector::default();
    // Memory area read of DM 100, 10 words.
    let out = datagram(
        &mut d,
        Direction::ToServer,
        &udp(),
        &hex("8000020000000000007a01018200640000 0a"),
    );
    assert_eq!(
        out[1],
        Observation::Access(Access {
            op: Operation::Read,
            unit: None,
            area: "dm",
            block: None,
            start: 100,
            count: 10,
        })
    );
    // Program Area Protect (frame 34): a password crosses the wire, once per flow.
    let protect = hex("8000020000000000007a030400000000000000ffffffff50415353");
    let out = datagram(&mut d, Direction::ToServer, &udp(), &protect);
    assert!(out.contains(&Observation::CleartextLogin {
        user: String::new(),
        protocol: PROTOCOL
    }));
    assert!(matches!(
        out[0],
        Observation::Operation {
            op: Operation::ConfigChange,
            ..
        }
    ));
    let again = datagram(&mut d, Direction::ToServer, &udp(), &protect);
    assert_eq!(again.len(), 1);
}

#[test]
fn failed_end_codes_are_refusals_and_malformed_frames_violations() {
    let mut d = FinsDissector::default();
    let stop = hex("8000020000000000007a0402");
    datagram(&mut d, Direction::ToServer, &udp(), &stop);
    // Not executable in current mode (0x2201 would be "read not possible"); the CPU's
    // non-fatal error flag alone (0x0040) is a success. The controller refusing is a status
    // of it, not a violation.
    let refused = hex("c00002000000000a007a04022202");
    let out = datagram(&mut d, Direction::ToClient, &udp(), &refused);
    let status = |value: &str| {
        id(
            Subject::Server,
            Field::Status,
            value,
            source::OMRON_FINS_END_CODE,
        )
    };
    assert_eq!(
        out,
        [
            node(Subject::Server, 10),
            status(
                "FINS end code 0x2202 (not executable in current mode: not possible while \
                 running) refusing stop"
            )
        ]
    );
    // The same refusal again says nothing new.
    datagram(&mut d, Direction::ToServer, &udp(), &stop);
    assert!(datagram(&mut d, Direction::ToClient, &udp(), &refused).is_empty());
    // Built after W227 5-1: a memory area write refused with 0x2108 (cannot change), a
    // memory area read with 0x0101 (local node not in network), and one with a sub code the
    // manual does not list (0x2309: the main code's meaning only).
    for (command, end, text) in [
        (
            "0102",
            "2108",
            "FINS end code 0x2108 (write not possible: cannot change) refusing memory area write",
        ),
        (
            "0101",
            "0101",
            "FINS end code 0x0101 (local node error: local node not in network) refusing memory \
             area read",
        ),
        (
            "0101",
            "2309",
            "FINS end code 0x2309 (no such device) refusing memory area read",
        ),
    ] {
        let mut d = FinsDissector::default();
        let cmd = hex(&format!("8000020000000000007b{command}"));
        datagram(&mut d, Direction::ToServer, &udp(), &cmd);
        let answer = hex(&format!("c00002000000000a007b{command}{end}"));
        let out = datagram(&mut d, Direction::ToClient, &udp(), &answer);
        assert_eq!(out, [node(Subject::Server, 10), status(text)], "{end}");
    }
    assert_eq!(error::end_code_detail(0x21c8), Some("cannot change"));
    assert_eq!(
        error::refusal(0x8101, "an unknown command"),
        "FINS end code 0x8101 (local node error: local node not in network) refusing an unknown \
         command"
    );
    let ok = datagram(
        &mut d,
        Direction::ToClient,
        &udp(),
        &hex("c00002000000000a007a04020040"),
    );
    assert!(ok.is_empty());
    for (bytes, reason) in [
        (
            "c00002000000000a007a0402",
            "FINS response without an end code",
        ),
        (
            "80010200000000000a7a0402",
            "FINS reserved byte is 0x01, not 0",
        ),
        (
            "80000200",
            "FINS frame of 4 bytes is shorter than its header and command code",
        ),
    ] {
        let mut d = FinsDissector::default();
        let out = datagram(&mut d, Direction::ToServer, &udp(), &hex(bytes));
        assert_eq!(
            out,
            [crate::protocols::violation(PROTOCOL, reason)],
            "{bytes}"
        );
    }
}

#[test]
fn fins_tcp_resynchronises_after_junk_and_reports_errors() {
    let junk = "0102030446494e53";
    let segs = hex_segments(&[
        (true, junk),
        (true, "0000000c000000000000000000000000"),
        (false, "46494e53000000100000000100000021000000fb000000c8"),
    ]);
    let out = run_segments(new, &tcp(), &segs);
    assert_eq!(
        out,
        [
            crate::protocols::violation(PROTOCOL, FinsError::NotFinsTcp),
            crate::protocols::violation(
                PROTOCOL,
                "FINS/TCP error code 0x21 (node already connected)"
            ),
        ]
    );
}

#[test]
fn commands_to_the_client_are_function_codes() {
    let mut d = FinsDissector::default();
    let out = datagram(
        &mut d,
        Direction::ToClient,
        &udp(),
        &hex("8000020000000000007a0402"),
    );
    assert_eq!(out, [Observation::FunctionCode(0x0402)]);
}

#[test]
fn never_panics_on_fins() {
    let conv = hex_segments(TCP_CONVERSATION);
    never_panics_in_conversation(&TCP_SPEC, &tcp(), &conv);
    never_panics(&SPEC, &udp(), &[&hex(UDP_COMMAND), &hex(UDP_RESPONSE)]);
}

#[test]
fn an_answer_sent_the_same_way_as_its_command_names_nobody() {
    let mut d = FinsDissector::default();
    datagram(&mut d, Direction::ToServer, &udp(), &hex(UDP_COMMAND));
    let out = datagram(&mut d, Direction::ToServer, &udp(), &hex(UDP_RESPONSE));
    assert_eq!(
        out,
        [
            node(Subject::Client, 200),
            crate::protocols::violation(
                PROTOCOL,
                "FINS response to SID 0xef travels the same way as its command"
            )
        ]
    );
}
