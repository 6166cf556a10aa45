//! Tests on real IEC 60870-5-104 APDUs from /work/shared/pcaps/iec104 (payloads extracted with
//! `tshark -T fields -e tcp.payload`; expected values from `tshark -T fields -e
//! iec60870_104.type -e iec60870_104.utype -e iec60870_asdu.typeid -e iec60870_asdu.causetx
//! -e iec60870_asdu.addr`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex, never_panics};
use crate::protocols::FlowCtx;

// JavaRMI_and_IEC_Misc.pcap frame 6: STARTDT act (utype 0x01), frame 8: STARTDT con (0x02).
const STARTDT_ACT: &str = "680407000000";
const STARTDT_CON: &str = "68040b000000";
// frame 10: I, C_IC_NA_1 (100), cause 6 (act), common address 37133.
const INTERROGATION: &str = "680e00000000640106010d9100000014";
// frame 12: I, M_EI_NA_1 (70), cause 4 (init), common address 37133.
const END_OF_INIT: &str = "680e00000200460104000d9100000001";
// frame 14: I, C_IC_NA_1 (100), cause 7 (actcon).
const INTERROGATION_CON: &str = "680e02000200640107010d9100000014";
// frame 16: S-format, receive sequence 2.
const S_FRAME: &str = "680401000400";
// frame 17: I, M_SP_NA_1 (1), SQ=1 with 10 elements, cause 20 (inrogen).
const SINGLE_POINTS: &str = "681704000200018a14010d911a270000800000000000000000";
// frame 24: I, M_ME_NB_1 (11), SQ=1 with one element, cause 3 (spont).
const SCALED: &str = "68100a0002000b8103000d913f9c00020000";
// 090813_diverse.pcap frame 1: I, M_ME_NC_1 (13), two objects, cause 1, common address 3.
const FLOATS: &str = "681a9a0028000d02010003001405000000f041001505000000314400";
// frame 3: TESTFR act (utype 0x10); frame 5: TESTFR con (0x20).
const TESTFR_ACT: &str = "680443000000";
const TESTFR_CON: &str = "680483000000";
// frame 9: I, C_SC_TA_1 (58), cause 6, select.
const SINGLE_COMMAND_TIME: &str = "681528009c003a010600030095110081080017130d086d";
// frame 11: C_SC_TA_1 (58) cause 7 (actcon); frame 17: cause 10 (actterm).
const SINGLE_COMMAND_CON: &str = "68159c002a003a010700030095110081080017130d0809";
const SINGLE_COMMAND_TERM: &str = "6815a0002c003a010a00030095110001080017130d0809";
// frame 25: I, C_SC_NA_1 (45), cause 6.
const SINGLE_COMMAND: &str = "680e2c00a2002d010600030094110081";
// frame 51: I, C_SE_NC_1 (50), cause 6.
const SETPOINT_FLOAT: &str = "68123400b0003201060003009c13000000404180";
// JavaRMI frame 44: two S-format APDUs in one segment.
const TWO_S_FRAMES: &str = "680401000400680401000800";

const CONTROLLING: &str = "192.168.1.113:50876";
const CONTROLLED: &str = "10.209.13.145:2404";

fn flow() -> FlowCtx {
    ctx(Transport::Tcp, CONTROLLING, CONTROLLED)
}

fn run(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let mut d = new();
    let mut out = Vec::new();
    for (dir, h) in msgs {
        let bytes = hex(h);
        assert_eq!(d.parse(*dir, &bytes, &flow(), &mut out), bytes.len(), "{h}");
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

fn common_address(subject: Subject, n: u16) -> Observation {
    Observation::Identity {
        subject,
        field: Field::Description,
        value: format!("iec104 common address {n}"),
        source: source::IEC104_ASDU,
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

#[test]
fn startup_interrogation_and_station_address() {
    let out = run(&[
        (Direction::ToServer, STARTDT_ACT),
        (Direction::ToClient, STARTDT_CON),
        (Direction::ToServer, INTERROGATION),
        (Direction::ToClient, END_OF_INIT),
        (Direction::ToClient, INTERROGATION_CON),
        (Direction::ToServer, S_FRAME),
        (Direction::ToClient, SINGLE_POINTS),
        (Direction::ToClient, SCALED),
    ]);
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(0x107),
            Observation::FunctionCode(0x10b),
            op(Operation::Read, 100),
            // The interrogation's receiver is the controlled station.
            common_address(Subject::Server, 37133),
            Observation::FunctionCode(70),
            Observation::FunctionCode(100),
            Observation::FunctionCode(1),
            Observation::FunctionCode(11),
        ]
    );
}

fn command(unit: u32, area: &'static str, ioa: u32) -> Observation {
    Observation::Access(Access {
        op: Operation::Control,
        unit: Some(unit),
        area,
        block: None,
        start: ioa,
        count: 1,
    })
}

#[test]
fn commands_are_control_only_for_activation() {
    let out = run(&[
        (Direction::ToServer, SINGLE_COMMAND_TIME),
        (Direction::ToClient, SINGLE_COMMAND_CON),
        (Direction::ToClient, SINGLE_COMMAND_TERM),
        (Direction::ToServer, SINGLE_COMMAND),
        (Direction::ToServer, SETPOINT_FLOAT),
        (Direction::ToServer, TESTFR_ACT),
        (Direction::ToClient, TESTFR_CON),
    ]);
    assert_eq!(
        out,
        vec![
            op(Operation::Control, 58),
            common_address(Subject::Server, 3),
            // tshark: iec60870_asdu.addr 3, iec60870_asdu.ioa 4501 (frame 9), 4500 (frame 25),
            // 5020 (frame 51).
            command(3, "single_command", 4501),
            Observation::FunctionCode(58),
            Observation::FunctionCode(58),
            op(Operation::Control, 45),
            command(3, "single_command", 4500),
            op(Operation::Control, 50),
            command(3, "setpoint_float", 5020),
            Observation::FunctionCode(0x143),
            Observation::FunctionCode(0x183),
        ]
    );
}

#[test]
fn monitor_data_names_its_sender_as_the_station() {
    // 090813_diverse.pcap starts with the station's spontaneous floats (port 2404 -> 1075).
    let out = run(&[(Direction::ToClient, FLOATS)]);
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(13),
            common_address(Subject::Server, 3)
        ]
    );
}

#[test]
fn table_of_operations() {
    use Operation::*;
    for (t, want) in [
        (1, None),
        (45, Some(Control)),
        (51, Some(Control)),
        (52, None),
        (64, Some(Control)),
        (100, Some(Read)),
        (101, Some(Read)),
        (102, Some(Read)),
        (103, Some(TimeSync)),
        (105, Some(Restart)),
        (107, Some(Diagnostics)),
        (110, Some(ConfigChange)),
        (113, Some(ConfigChange)),
        (120, Some(FileTransfer)),
        (127, Some(FileTransfer)),
    ] {
        assert_eq!(operation(t), want, "{t}");
    }
}

#[test]
fn apdus_split_and_joined_in_the_stream() {
    let mut d = new();
    let mut out = Vec::new();
    let stream = [hex(SINGLE_POINTS), hex(TWO_S_FRAMES), hex(SCALED)].concat();
    let mut pending: Vec<u8> = Vec::new();
    for &b in &stream {
        pending.push(b);
        let n = d.parse(Direction::ToClient, &pending, &flow(), &mut out);
        pending.drain(..n);
    }
    assert!(pending.is_empty());
    assert_eq!(violations(&out), Vec::<&str>::new());
    let codes: Vec<&Observation> = out
        .iter()
        .filter(|o| matches!(o, Observation::FunctionCode(_)))
        .collect();
    assert_eq!(
        codes,
        [
            &Observation::FunctionCode(1),
            &Observation::FunctionCode(11)
        ]
    );
}

#[test]
fn malformed_apdus_are_violations() {
    let cases: &[(&str, &str)] = &[
        // Two U-format function bits at once (STARTDT act and STOPDT act).
        ("680417000000", "U-format control 0x17"),
        // A U-format frame with data.
        ("68060700000000aa", "U-format APDU with 2 data octets"),
        // C_IC_NA_1 with a missing qualifier octet: length 13 instead of 14.
        (
            "680d00000000640106010d91000000",
            "ASDU type 100 with 1 objects needs 4 octets, has 3",
        ),
        // An I-format frame too short for an ASDU header.
        ("6806000000006401", "ASDU of 2 octets has no full header"),
        ("680300000000", "APDU length 3 outside 4..=253"),
        ("16030100a5010000a10303", "no APDU start 0x68"),
    ];
    for (h, want) in cases {
        let mut d = new();
        let mut out = Vec::new();
        let bytes = hex(h);
        d.parse(Direction::ToServer, &bytes, &flow(), &mut out);
        assert_eq!(violations(&out), [*want], "{h}");
    }
}

#[test]
fn well_formed_apdus_give_no_violations_and_junk_once() {
    let all = [
        STARTDT_ACT,
        STARTDT_CON,
        INTERROGATION,
        END_OF_INIT,
        INTERROGATION_CON,
        S_FRAME,
        SINGLE_POINTS,
        SCALED,
        FLOATS,
        TESTFR_ACT,
        TESTFR_CON,
        SINGLE_COMMAND_TIME,
        SINGLE_COMMAND_CON,
        SINGLE_COMMAND_TERM,
        SINGLE_COMMAND,
        SETPOINT_FLOAT,
        TWO_S_FRAMES,
    ];
    let msgs: Vec<(Direction, &str)> = all.iter().map(|h| (Direction::ToClient, *h)).collect();
    assert_eq!(violations(&run(&msgs)), Vec::<&str>::new());
    // Junk, more junk, then APDUs again: one violation.
    let out = run(&[
        (Direction::ToServer, "00112233"),
        (Direction::ToServer, "4455"),
        (Direction::ToServer, STARTDT_ACT),
    ]);
    assert_eq!(violations(&out), ["no APDU start 0x68"]);
    assert!(out.contains(&Observation::FunctionCode(0x107)));
}

#[test]
fn after_a_gap_resync_skips_a_0x68_inside_data() {
    let mut d = new();
    let mut out = Vec::new();
    d.gap(Direction::ToClient);
    // The tail of SINGLE_POINTS (no 0x68 in it) and a 0x68 inside a fake frame with invalid
    // control octets, then a whole APDU.
    let stream = [hex("80000000006804ffffffff"), hex(SCALED)].concat();
    assert_eq!(
        d.parse(Direction::ToClient, &stream, &flow(), &mut out),
        stream.len()
    );
    assert_eq!(violations(&out), Vec::<&str>::new());
    assert!(out.contains(&Observation::FunctionCode(11)));
}

#[test]
fn probe_accepts_iec104_and_rejects_others() {
    for h in [
        STARTDT_ACT,
        S_FRAME,
        INTERROGATION,
        SINGLE_POINTS,
        FLOATS,
        TESTFR_CON,
    ] {
        assert_eq!(probe(Direction::ToServer, &hex(h)), Probe::Yes, "{h}");
    }
    // Incomplete I-format: wait; incomplete U-format cannot be longer than 4.
    assert_eq!(
        probe(Direction::ToServer, &hex(&INTERROGATION[..20])),
        Probe::NeedMore
    );
    assert_eq!(probe(Direction::ToServer, &hex("68")), Probe::NeedMore);
    assert_eq!(probe(Direction::ToServer, &hex("680e0700")), Probe::No);
    let others: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ],
        // A DNP3 link frame.
        &[0x05, 0x64, 0x05, 0xc0, 0x01, 0x00, 0x0a, 0x00, 0xe0, 0x8c],
        // Modbus/TCP.
        &[
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a,
        ],
    ];
    for o in others {
        assert_eq!(probe(Direction::ToServer, o), Probe::No);
    }
    // U-format with an invalid function, I-format of an undefined type (200 is private).
    assert_eq!(probe(Direction::ToServer, &hex("680417000000")), Probe::No);
    assert_eq!(
        probe(
            Direction::ToServer,
            &hex("680e00000000c80106010d9100000014")
        ),
        Probe::No
    );
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let mut buf: Vec<u8> = (0..32)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        buf[0] = START;
        assert_ne!(probe(Direction::ToServer, &buf), Probe::Yes, "{buf:02x?}");
    }
}

#[test]
fn never_panics_on_truncations_flips_and_noise() {
    let msgs: Vec<Vec<u8>> = [
        STARTDT_ACT,
        INTERROGATION,
        SINGLE_POINTS,
        FLOATS,
        SINGLE_COMMAND_TIME,
        TWO_S_FRAMES,
        RESET_PROCESS,
        CLOCK_SYNC,
        PARAMETER_SCALED,
        DELETE_FILE,
        FILE_READY,
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    never_panics(&SPEC, &flow(), &refs);
}

/// Streams of real APDUs with random octets changed, cut at random points and delivered in
/// both directions: nothing panics and nothing is over-consumed. `OTWATCH_STRESS_ITERS` raises
/// the number of rounds.
#[test]
fn mutated_streams_never_panic() {
    let apdus: Vec<Vec<u8>> = [
        STARTDT_ACT,
        INTERROGATION,
        SINGLE_POINTS,
        SCALED,
        FLOATS,
        SINGLE_COMMAND_TIME,
        TWO_S_FRAMES,
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
    for _ in 0..rounds {
        let mut d = new();
        let mut out = Vec::new();
        let mut stream = Vec::new();
        for _ in 0..8 {
            stream.extend_from_slice(&apdus[rand() as usize % apdus.len()]);
        }
        for _ in 0..(rand() % 6) {
            let i = rand() as usize % stream.len();
            stream[i] = rand() as u8;
        }
        let mut pending = [Vec::new(), Vec::new()];
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = (rand() as usize % 32 + 1).min(rest.len());
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
            let used = d.parse(dir, &pending[i], &flow(), &mut out);
            assert!(used <= pending[i].len());
            pending[i].drain(..used);
        }
    }
}

// The corpus has no reset process, clock synchronisation, parameter or file ASDU. These are
// built from 101 §7.3.4-7.3.6 (common address 1) and checked with `tshark -d
// tcp.port==2404,iec60870_104 -V`, which decodes them as noted without complaint.
/// C_RP_NA_1 act, IOA 0: "QRP: General reset of process (1)".
const RESET_PROCESS: &str = "680e0000000069010600010000000001";
/// C_CS_NA_1 act, IOA 0: "CP56Time: Mar  1, 2024 12:30:05.250000000".
const CLOCK_SYNC: &str = "68140200000067010600010000000082141e0ca10318";
/// P_ME_NB_1 act, IOA 1000: "Value: 100", QPM 1 (threshold).
const PARAMETER_SCALED: &str = "6810040000006f0106000100e80300640001";
/// F_SC_NA_1 cause 13 (file), IOA 4001: NOF 1, NOS 0, SCQ 4 (delete file).
const DELETE_FILE: &str = "6811060000007a010d000100a10f0001000004";
/// F_FR_NA_1 cause 13, IOA 4001: NOF 1, LOF 4096, FRQ 0: a file ready to be sent.
const FILE_READY: &str = "68130800000078010d000100a10f00010000100000";

fn ops(dir: Direction, h: &str) -> Vec<Observation> {
    run(&[(dir, h)])
        .into_iter()
        .filter(|o| matches!(o, Observation::Operation { .. }))
        .collect()
}

#[test]
fn reset_clock_parameters_and_files_carry_their_evidence() {
    let c = Direction::ToServer;
    assert_eq!(
        ops(c, RESET_PROCESS),
        [opd(
            Operation::Restart,
            105,
            &[
                (
                    "service",
                    "C_RP_NA_1 reset process (qualifier 1 general reset)"
                ),
                ("value", "1"),
            ]
        )]
    );
    assert_eq!(
        ops(c, CLOCK_SYNC),
        [opd(
            Operation::TimeSync,
            103,
            &[
                ("service", "C_CS_NA_1 clock synchronization"),
                ("setting", "clock"),
                ("value", "2024-03-01T12:30:05.250"),
            ]
        )]
    );
    assert_eq!(
        ops(c, PARAMETER_SCALED),
        [opd(
            Operation::ConfigChange,
            111,
            &[
                (
                    "service",
                    "P_ME_NB_1 parameter of measured value, scaled value"
                ),
                ("setting", "parameters"),
                ("value", "100"),
            ]
        )]
    );
    let service = (
        "service",
        "F_SC_NA_1 call directory, select file, call file, call section",
    );
    assert_eq!(
        ops(c, DELETE_FILE),
        [opd(
            Operation::FileTransfer,
            122,
            &[
                service,
                ("file", "file 1 of IOA 4001"),
                ("file_op", "delete")
            ]
        )]
    );
    // A file ready from the controlling station is written to the station; from the station,
    // it is read from it.
    let ready = |op| {
        opd(
            Operation::FileTransfer,
            120,
            &[
                ("service", "F_FR_NA_1 file ready"),
                ("file", "file 1 of IOA 4001"),
                ("file_op", op),
            ],
        )
    };
    assert_eq!(ops(c, FILE_READY), [ready("write")]);
    assert_eq!(ops(Direction::ToClient, FILE_READY), [ready("read")]);
    // Confirmations carry no operation; commands carry no details.
    let mut con = hex(CLOCK_SYNC);
    con[8] = 7;
    let con: String = con.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(ops(Direction::ToClient, &con), []);
    assert_eq!(ops(c, SINGLE_COMMAND), [op(Operation::Control, 45)]);
}
