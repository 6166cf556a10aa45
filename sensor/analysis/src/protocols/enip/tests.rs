//! Tests on real EtherNet/IP messages from /work/shared/pcaps/enip and mixed/mb2.pcap
//! (payloads extracted with `tshark -T fields -e tcp.payload` / `-e udp.payload`; expected
//! values read from `tshark -V` and `-T fields -e enip.command -e cip.sc -e cip.class
//! -e enip.lir.* -e cip.id.*`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{
    ctx, hex, hex_segments, never_panics, never_panics_in_conversation,
};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Subject;

// enip_test1.pcap frame 4: ListIdentity request (TCP), sender context 0000c1debed10000.
const LIST_IDENTITY_REQ: &str = "63000000000000000000000000000000c1debed100000000";
// enip_test1.pcap frame 6: ListIdentity reply. enip.lir.vendor 0x0001, devtype 12
// (Communications Adapter), product code 58, revision 4.03, serial 0x00524d8e,
// name "1756-ENBT/A", state 3.
const LIST_IDENTITY_REPLY: &str = "63003300000000000000000000000000c1debed10000000001000c002d0001000002af120a0101a4000000000000000001000c003a00040330008e4d52000b313735362d454e42542f4103";

// EIP-FirmwareChange.pcap frames 10672-10681: legacy command 0x0001, ListServices,
// ListInterfaces (requests and replies), RegisterSession request and reply.
const LEGACY_REQ: &str = "010000000000000000000000000000000000000000000000";
const LIST_SERVICES_REQ: &str = "040000000000000000000000000000000000000000000000";
const LIST_INTERFACES_REQ: &str = "640000000000000000000000000000000000000000000000";
const LEGACY_REPLY: &str = "01002a000000000000000000000000000000000000000000010001002400010000000002af12c0a80a7800000000000000003139322e3136382e31302e3132300000";
const LIST_SERVICES_REPLY: &str = "04001a00000000000000000000000000000000000000000001000001140001002001436f6d6d756e69636174696f6e730000";
const LIST_INTERFACES_REPLY: &str = "6400020000000000000000000000000000000000000000000000";
const REGISTER_REQ: &str = "65000400000000000000000000000000000000000000000001000000";
const REGISTER_REPLY: &str = "65000400000102120000000000000000000000000000000001000000";
// Frame 10682: SendRRData, Get Attributes All (0x01) on Identity (class 1, instance 1).
const GET_IDENTITY_REQ: &str =
    "6f00160000010212000000008d3f0000489ae00000000000000000001400020000000000b2000600010220012401";
// Frame 10683: its reply: vendor 0x0001, device type 0x000c, product code 58, revision 4.3,
// serial 0x0051aec3, product name "1756-ENBT/A" (cip.id.*).
const GET_IDENTITY_REPLY: &str = "6f002e0000010212000000008d3f0000489ae00000000000000000001400020000000000b2001e008100000001000c003a0004033000c3ae51000b313735362d454e42542f41";
// Frame 29: service 0x4B on class 0xA1 (Nonvolatile Storage, ControlFLASH update).
const NVS_UPDATE: &str = "6f001e0000010212000000000a020000489ae00000000000000000008b00020000000000b2000e004b0220a1240116ff1b0000000000";
// Frame 10592: Reset (0x05) on Identity instance 1, type 0.
const RESET: &str = "6f00170000010212000000007e3f0000489ae00000000000000000001400020000000000b200070005022001240100";

// cip_start_plc.pcap / cip_stop_plc.pcap: SendUnitData Start (0x06) / Stop (0x07) on class
// 0x8E instance 1.
const START: &str = "70001c0001002a00000000000000000000000000000000000000000001000200a1000400224095ffb1000800e7000602208e2401";
const STOP: &str = "70001c0001002a00000000000000000000000000000000000000000001000200a1000400224095ffb100080006010702208e2401";

// multiple_service_packet_cip.pcapng: Multiple Service Packet of 11 Get Attribute List (0x03)
// requests on classes 0x01, 0x69, 0x73, 0xac, 0x68, 0x70, 0x8e, 0x77, 0x8b.
const MSP: &str = "7000ba0000010211000000000000000000000000000000000000000001000200a1000400010b7c00b100a60089070a02200224010b00180022002c0036004c005800640072007c008a0094000302200124010100050003022069240001000b0003022073240101000200030220ac240107000100020003000500070009000a000303206825002024010013000302207024010200120013000302208e240103000300080010000302206924000100090003022068240003000f0018001900030220772401010002000302208b240101000600";
// set_attribute_single_service_cip.pcapng: Set Attribute Single (0x10) on class 1.
const SET_SINGLE: &str = "70001c00f4ffcab4000000005f7079636f6d6d5f00000000000000000a000200a1000400ba629adab10008000d00100220012400";

// EthernetIP-CIP.pcap frame 37: Multiple Service Packet of four Read Modify Write (0x4E)
// requests on ANSI extended symbols (cip.symbol LMS_DISABLE_2DSCANNER1, ...).
const SYMBOLIC_RMW: &str = "7000aa000001021000000000a3a893000000000000000000000000000a000200a100040001038b00b100960071ec0a022002240104000a00280046006a004e0c91164c4d535f44495341424c455f32445343414e4e455231010001ff4e0c91164c4d535f44495341424c455f32445343414e4e455232010001ff4e0f911b4c4d535f44495341424c455f424152434f44455f5343414e4e455200010000fe4e0f911b4c4d535f534554504f494e544348414e47455f524543454956454400010000fe";
// EthernetIP-CIP.pcap frame 3, first two of its seven SendUnitData PDUs (Read Tag 0x4C on
// class 0x72 in Multiple Service Packets).
const TWO_PDUS: &str = "70002c0000010210000000001b392f000000000000000000000000000a000200a10004000a153500b1001800afb80a0220022401010004004c022072240004820600010070003a0000010210000000001c392f000000000000000000000000000a000200a1000400050b3500b10026007bb20a02200224010200060012004c022072240018b7040001004c0220722400bc5406000100";

// EIP-RebootorRestart.pcap frame 8: Unconnected Send (0x52 on class 6) carrying Get
// Attributes All on Identity, routed to backplane slot 0; frame 10: the reply from the
// controller in slot 0 ("1756-L61/B LOGIX5561").
const ROUTED_IDENTITY_REQ: &str = "6f0024000001021100000000b39b02002008e10000000000000000002000020000000000b200140052022006240107f9060001022001240101000100";
const ROUTED_IDENTITY_REPLY: &str = "6f0037000001021100000000b39b02002008e10000000000000000002000020000000000b20027008100000001000e003600101460303f82510014313735362d4c36312f42204c4f47495835353631";
// Frame 21: Forward Open (0x54); frame 31: Forward Close (0x4E on class 6).
const FORWARD_OPEN: &str = "6f0040000001021100000000c69b02002008e10000000000000000002000020000000000b200300054022006240107f9140000801300fe8014004d00f32b95320000000000127a00f44300127a00f443a303010020022401";
const FORWARD_CLOSE: &str = "6f0028000001021100000000da9b02002008e10000000000000000002000020000000000b20018004e022006240107f914004d00f32b95320300010020022401";
// Frame 399: Stop (0x07) on class 0x8E over a connection; frame 400 its reply.
const STOP_CONNECTED: &str = "70001c0000010211000000000000000000000000000000000000000001000200a1000400010b7900b100080087000702208e2401";
const STOP_REPLY: &str = "70001a0000010211000000000000000000000000000000000000000000000200a10004001700fe80b1000600870087000000";

// EIP-LockPLCAttempt.pcap frame 518: service 0x4B (lock) on class 0x8E instance 1 / class
// 0x74 instance 1, data 01.
const LOCK: &str = "7000210000010212000000000000000000000000000000000000000001000200a1000400016b0700b1000d001a1c4b04208e24012074240101";

// enip_cip_example.pcap frames 377 and 388: class 1 I/O on UDP 2222.
const IO_1: &str = "02000280080003064b00db943f00b1000600a587e80f0300";
const IO_2: &str = "0200028008000b408e008f150500b10002000100";

const ALL: &[&str] = &[
    LIST_IDENTITY_REQ,
    LIST_IDENTITY_REPLY,
    LEGACY_REQ,
    LIST_SERVICES_REQ,
    LIST_INTERFACES_REQ,
    LEGACY_REPLY,
    LIST_SERVICES_REPLY,
    LIST_INTERFACES_REPLY,
    REGISTER_REQ,
    REGISTER_REPLY,
    GET_IDENTITY_REQ,
    GET_IDENTITY_REPLY,
    NVS_UPDATE,
    RESET,
    START,
    STOP,
    MSP,
    SET_SINGLE,
    SYMBOLIC_RMW,
    TWO_PDUS,
    ROUTED_IDENTITY_REQ,
    ROUTED_IDENTITY_REPLY,
    FORWARD_OPEN,
    FORWARD_CLOSE,
    STOP_CONNECTED,
    STOP_REPLY,
    LOCK,
];

use Direction::{ToClient, ToServer};

fn tcp() -> FlowCtx {
    ctx(
        Transport::Tcp,
        "192.168.10.105:1072",
        "192.168.10.120:44818",
    )
}

fn udp() -> FlowCtx {
    ctx(Transport::Udp, "10.1.1.167:5262", "10.1.1.164:44818")
}

/// Feeds messages through one dissector as one flow, the way the flow layer does: bytes a
/// TCP parse did not consume are offered again with the next delivery.
fn run_on(
    c: &FlowCtx,
    new: fn() -> Box<dyn Dissector>,
    msgs: &[(Direction, &str)],
) -> Vec<Observation> {
    let mut d = new();
    let mut out = Vec::new();
    let mut held: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (dir, h) in msgs {
        let buf = &mut held[*dir as usize];
        buf.extend_from_slice(&hex(h));
        let n = d.parse(*dir, buf, c, &mut out);
        assert!(n <= buf.len());
        if c.transport == Transport::Tcp {
            buf.drain(..n);
        } else {
            buf.clear();
        }
    }
    out
}

fn run(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    run_on(&tcp(), new, msgs)
}

fn op(op: Operation, code: u32) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: Vec::new(),
    }
}

/// An operation with its evidence.
fn op_with(op: Operation, code: u32, details: &[(&'static str, &str)]) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: details.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    }
}

/// Stop / Start on the Logix controller object instance 1 (class 0x8e).
fn controller(op: Operation) -> Observation {
    let (code, service) = match op {
        Operation::CpuStart => (0x06, "Start (Logix Controller object)"),
        _ => (0x07, "Stop (Logix Controller object)"),
    };
    op_with(
        op,
        code,
        &[
            ("service", service),
            ("object", "class 0x8e (Logix Controller) instance 1"),
        ],
    )
}

fn reset() -> Observation {
    op_with(
        Operation::Restart,
        0x05,
        &[
            ("service", "Reset (Identity object)"),
            ("object", "class 0x01 (Identity) instance 1"),
            ("value", "type 0: power cycle"),
        ],
    )
}

fn fc(code: u32) -> Observation {
    Observation::FunctionCode(code)
}

fn id(field: otwatch_common::observation::Field, value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject: Subject::Server,
        field,
        value: value.to_owned(),
        source,
    }
}

fn no_violations(out: &[Observation]) {
    assert!(
        !out.iter()
            .any(|o| matches!(o, Observation::ProtocolViolation { .. })),
        "{out:?}"
    );
}

#[test]
fn list_identity_reply_gives_the_servers_identity() {
    use otwatch_common::observation::Field;
    let out = run(&[
        (ToServer, LIST_IDENTITY_REQ),
        (ToClient, LIST_IDENTITY_REPLY),
    ]);
    let src = source::ENIP_LIST_IDENTITY;
    assert_eq!(
        out,
        vec![
            op(Operation::Identify, 0x63),
            id(Field::Vendor, "Rockwell Automation/Allen-Bradley", src),
            // Device type 12 (communications adapter) maps to no catalog type.
            id(Field::Model, "1756-ENBT/A", src),
            id(Field::Firmware, "4.03", src),
            id(Field::Serial, "0x00524d8e", src),
        ]
    );
}

#[test]
fn list_identity_over_udp_and_repeats_are_reported_once() {
    for m in [LIST_IDENTITY_REQ, LIST_IDENTITY_REPLY] {
        assert_eq!(probe_udp(ToServer, &hex(m)), Probe::Yes);
    }
    let out = run_on(
        &udp(),
        new,
        &[
            (ToServer, LIST_IDENTITY_REQ),
            (ToClient, LIST_IDENTITY_REPLY),
            (ToClient, LIST_IDENTITY_REPLY),
        ],
    );
    no_violations(&out);
    let identities = out
        .iter()
        .filter(|o| matches!(o, Observation::Identity { .. }))
        .count();
    assert_eq!(identities, 4);
}

#[test]
fn session_setup_commands_are_function_codes_without_violations() {
    let out = run(&[
        (ToServer, LEGACY_REQ),
        (ToServer, LIST_SERVICES_REQ),
        (ToServer, LIST_INTERFACES_REQ),
        (ToClient, LEGACY_REPLY),
        (ToClient, LIST_SERVICES_REPLY),
        (ToClient, LIST_INTERFACES_REPLY),
        (ToServer, REGISTER_REQ),
        (ToClient, REGISTER_REPLY),
    ]);
    assert_eq!(out, vec![fc(0x01), fc(0x04), fc(0x64), fc(0x65)]);
}

#[test]
fn get_attributes_all_on_identity_gives_cip_identity() {
    use otwatch_common::observation::Field;
    let out = run(&[(ToServer, GET_IDENTITY_REQ), (ToClient, GET_IDENTITY_REPLY)]);
    let src = source::CIP_IDENTITY;
    assert_eq!(
        out,
        vec![
            fc(0x6F),
            op(Operation::Read, 0x01),
            id(Field::Vendor, "Rockwell Automation/Allen-Bradley", src),
            id(Field::Model, "1756-ENBT/A", src),
            id(Field::Firmware, "4.03", src),
            id(Field::Serial, "0x0051aec3", src),
        ]
    );
    // A reply without its request says nothing about identity.
    let out = run(&[(ToClient, GET_IDENTITY_REPLY)]);
    assert_eq!(out, vec![fc(0x6F)]);
}

#[test]
fn firmware_update_and_reset() {
    let out = run(&[(ToServer, NVS_UPDATE), (ToServer, RESET), (ToServer, RESET)]);
    assert_eq!(
        out,
        vec![
            fc(0x6F),
            op_with(
                Operation::FirmwareUpdate,
                0x4B,
                &[
                    ("service", "Update (Nonvolatile Storage object)"),
                    (
                        "object",
                        "class 0xa1 (Rockwell Nonvolatile Storage) instance 1"
                    ),
                    ("bytes", "1834774"),
                ]
            ),
            // Restarts are reported every time; no piece of the image was sent, so there
            // is no transfer to report.
            reset(),
            reset(),
        ]
    );
}

#[test]
fn start_and_stop_the_controller() {
    assert_eq!(
        run(&[(ToServer, START)]),
        vec![fc(0x70), controller(Operation::CpuStart)]
    );
    assert_eq!(
        run(&[(ToServer, STOP), (ToServer, STOP)]),
        vec![
            fc(0x70),
            controller(Operation::CpuStop),
            controller(Operation::CpuStop)
        ]
    );
    // The reply echoes the service with the reply bit: no operation.
    assert_eq!(
        run(&[(ToServer, STOP_CONNECTED), (ToClient, STOP_REPLY)]),
        vec![fc(0x70), controller(Operation::CpuStop)]
    );
}

#[test]
fn multiple_service_packet_reports_its_embedded_requests() {
    assert_eq!(
        run(&[(ToServer, MSP)]),
        vec![fc(0x70), fc(0x0A), op(Operation::Read, 0x03)]
    );
    assert_eq!(
        run(&[(ToServer, SET_SINGLE)]),
        vec![fc(0x70), op(Operation::Write, 0x10)]
    );
}

#[test]
fn symbolic_read_modify_write_is_a_write_not_a_forward_close() {
    let out = run(&[(ToServer, SYMBOLIC_RMW)]);
    assert_eq!(out, vec![fc(0x70), fc(0x0A), op(Operation::Write, 0x4E)]);
    let out = run(&[(ToServer, FORWARD_OPEN), (ToServer, FORWARD_CLOSE)]);
    assert_eq!(
        out,
        vec![
            fc(0x6F),
            op(Operation::Control, 0x54),
            op(Operation::Control, 0x4E)
        ]
    );
}

#[test]
fn routed_identity_is_not_this_nodes_identity() {
    let out = run(&[
        (ToServer, ROUTED_IDENTITY_REQ),
        (ToClient, ROUTED_IDENTITY_REPLY),
    ]);
    assert_eq!(out, vec![fc(0x6F), fc(0x52), op(Operation::Read, 0x01)]);
}

#[test]
fn controller_lock_is_a_security_change() {
    // Reported once per flow however often the tool takes the lock.
    assert_eq!(
        run(&[(ToServer, LOCK), (ToServer, LOCK)]),
        vec![
            fc(0x70),
            op_with(
                Operation::ConfigChange,
                0x4B,
                &[
                    ("service", "Lock (service 0x4b, Rockwell lock object)"),
                    (
                        "object",
                        "class 0x8e (Logix Controller) instance 1 / class 0x74 (Rockwell lock) instance 1"
                    ),
                    ("setting", "security"),
                    ("value", "lock"),
                ]
            )
        ]
    );
}

#[test]
fn pdus_split_and_joined_across_segments() {
    let whole = run(&[(ToServer, TWO_PDUS)]);
    assert_eq!(whole, vec![fc(0x70), fc(0x0A), op(Operation::Read, 0x4C)]);
    let bytes = hex(TWO_PDUS);
    for size in [1, 7, 23, 24, 25, 67, 68, 69] {
        let mut d = new();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for chunk in bytes.chunks(size) {
            buf.extend_from_slice(chunk);
            let n = d.parse(ToServer, &buf, &tcp(), &mut out);
            buf.drain(..n);
        }
        assert!(buf.is_empty(), "chunks of {size}");
        assert_eq!(out, whole, "chunks of {size}");
    }
}

#[test]
fn resynchronises_after_a_gap() {
    let pdu = hex(START);
    let mut d = new();
    let mut out = Vec::new();
    // Half a PDU, then the rest is lost.
    assert_eq!(d.parse(ToServer, &pdu[..30], &tcp(), &mut out), 0);
    d.gap(ToServer);
    // The stream resumes mid-message, then a whole PDU follows.
    let mut buf = pdu[30..].to_vec();
    buf.extend_from_slice(&hex(STOP));
    let n = d.parse(ToServer, &buf, &tcp(), &mut out);
    assert_eq!(n, buf.len());
    assert_eq!(out, vec![fc(0x70), controller(Operation::CpuStop)]);
}

#[test]
fn lying_lengths_are_violations_once_each() {
    // Encapsulation length beyond 65 511 bytes: not a header; the next real one is found.
    let mut bad = hex(START);
    bad[2] = 0xFF;
    bad[3] = 0xFF;
    bad.extend_from_slice(&hex(STOP));
    let mut out = Vec::new();
    let mut d = new();
    let n = d.parse(ToServer, &bad, &tcp(), &mut out);
    assert_eq!(n, bad.len());
    assert!(matches!(
        out.first(),
        Some(Observation::ProtocolViolation { .. })
    ));
    assert!(out.contains(&controller(Operation::CpuStop)));

    // CPF data item longer than the command data.
    let mut item = hex(SET_SINGLE);
    item[42] = 0x40; // connected data item length 8 -> 64
    let out = run_on(&tcp(), new, &[(ToServer, &hex_str(&item))]);
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Observation::ProtocolViolation { .. }))
            .count(),
        1
    );

    // CIP request path size past the end of the message.
    let mut path = hex(SET_SINGLE);
    path[47] = 0x20; // request path size 2 -> 32 words
    let out = run_on(&tcp(), new, &[(ToServer, &hex_str(&path))]);
    assert!(out.contains(&Observation::ProtocolViolation {
        protocol: "enip",
        reason: "request path runs past the end of the message".into()
    }));

    // A datagram shorter than its header's length.
    let short = hex(LIST_IDENTITY_REPLY);
    let mut out = Vec::new();
    new().parse(ToClient, &short[..40], &udp(), &mut out);
    assert_eq!(
        out,
        vec![Observation::ProtocolViolation {
            protocol: "enip",
            reason: "datagram shorter than its encapsulation header and length".into()
        }]
    );
}

fn hex_str(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_real_message_is_clean() {
    for m in ALL {
        let out = run(&[(ToServer, m), (ToClient, m)]);
        no_violations(&out);
    }
}

#[test]
fn tcp_probe_accepts_enip_and_rejects_others() {
    for m in ALL.iter().filter(|m| **m != LEGACY_REPLY) {
        assert_eq!(probe(ToServer, &hex(m)), Probe::Yes, "{m}");
    }
    // The legacy command is only taken as its bare request, the way tools open with it.
    assert_eq!(probe(ToClient, &hex(LEGACY_REPLY)), Probe::No);
    assert_eq!(probe(ToServer, &hex(START)[..10]), Probe::NeedMore);
    assert_eq!(probe(ToServer, b""), Probe::NeedMore);
    let others: [&[u8]; 6] = [
        b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n",
        // TLS ClientHello record header and the start of the handshake.
        &hex("160301020001000200fc03037b0c3e2b9d0a4f6c1b1e3a0e5c2b3e6c7f0a1b2c3d4e5f"),
        // Modbus/TCP Read Holding Registers.
        &hex("000100000006010300000001"),
        // S7comm over TPKT/COTP connection request.
        &hex("0300001611e00000000100c0010ac1020100c2020102"),
        // 24 zero bytes (a NOP header) are not enough to call a stream EtherNet/IP.
        &[0u8; 24],
        b"SSH-2.0-OpenSSH_8.9\r\n",
    ];
    for o in others {
        assert_eq!(probe(ToServer, o), Probe::No, "{o:?}");
        assert_eq!(probe_udp(ToServer, o), Probe::No, "{o:?}");
        assert_eq!(probe_io(ToServer, o), Probe::No, "{o:?}");
    }
    // UDP takes only the discovery commands, whole.
    assert_eq!(probe_udp(ToServer, &hex(START)), Probe::No);
    assert_eq!(
        probe_udp(ToClient, &hex(LIST_IDENTITY_REPLY)[..60]),
        Probe::No
    );
}

#[test]
fn io_is_recognised_and_silent() {
    for m in [IO_1, IO_2] {
        let b = hex(m);
        assert_eq!(probe_io(ToServer, &b), Probe::Yes);
        assert_eq!(probe_udp(ToServer, &b), Probe::No);
        assert_eq!(probe(ToServer, &b), Probe::No);
        assert_eq!(probe_io(ToServer, &b[..b.len() - 1]), Probe::No);
    }
    let c = ctx(Transport::Udp, "192.168.1.24:2222", "192.168.1.22:2222");
    let out = run_on(&c, new_io, &[(ToServer, IO_1), (ToClient, IO_2)]);
    assert!(out.is_empty());
    // Encapsulated messages are not I/O.
    assert_eq!(probe_io(ToServer, &hex(LIST_IDENTITY_REPLY)), Probe::No);
}

#[test]
fn registry_finds_enip_by_port_and_content() {
    use crate::protocols::registry::{recognise, Verdict};
    let name = |v: Verdict| match v {
        Verdict::Match { spec, .. } => Some((spec.name, spec.transport)),
        _ => None,
    };
    let start = hex(START);
    assert_eq!(
        name(recognise(Transport::Tcp, 44818, 49271, ToServer, &start)),
        Some(("enip", Transport::Tcp))
    );
    // On an unusual port, by content.
    assert_eq!(
        name(recognise(Transport::Tcp, 3000, 49271, ToServer, &start)),
        Some(("enip", Transport::Tcp))
    );
    assert_eq!(
        name(recognise(
            Transport::Udp,
            44818,
            5262,
            ToServer,
            &hex(LIST_IDENTITY_REQ)
        )),
        Some(("enip", Transport::Udp))
    );
    assert_eq!(
        name(recognise(Transport::Udp, 2222, 2222, ToServer, &hex(IO_1))),
        Some(("enip_io", Transport::Udp))
    );
    // HTTP on 44818 is not EtherNet/IP (HTTP's own probe may still claim it).
    assert_ne!(
        name(recognise(
            Transport::Tcp,
            44818,
            49271,
            ToServer,
            b"GET / HTTP/1.1\r\n\r\n"
        )),
        Some(("enip", Transport::Tcp))
    );
    assert_eq!(
        name(recognise(
            Transport::Tcp,
            44818,
            49271,
            ToServer,
            &[0x5a; 64]
        )),
        None
    );
}

#[test]
fn malformed_input_never_panics() {
    let msgs: Vec<Vec<u8>> = ALL.iter().map(|m| hex(m)).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    never_panics(&SPEC, &tcp(), &refs);
    never_panics(&UDP_SPEC, &udp(), &refs);
    let io: Vec<Vec<u8>> = [IO_1, IO_2].iter().map(|m| hex(m)).collect();
    let io_refs: Vec<&[u8]> = io.iter().map(Vec::as_slice).collect();
    let io_ctx = ctx(Transport::Udp, "192.168.1.24:2222", "192.168.1.22:2222");
    never_panics(&IO_SPEC, &io_ctx, &io_refs);
    // A whole session, cut at every byte of every segment in context.
    let conv = hex_segments(&[
        (true, REGISTER_REQ),
        (false, REGISTER_REPLY),
        (true, GET_IDENTITY_REQ),
        (false, GET_IDENTITY_REPLY),
        (true, ROUTED_IDENTITY_REQ),
        (false, ROUTED_IDENTITY_REPLY),
        (true, SYMBOLIC_RMW),
        (true, STOP_CONNECTED),
        (false, STOP_REPLY),
    ]);
    never_panics_in_conversation(&SPEC, &tcp(), &conv);
}

/// Wraps a CIP message in a SendRRData (null address item, unconnected data item) with the
/// sender context of EIP-FirmwareChange.pcap frame 10682.
fn send_rr(cip: &[u8]) -> String {
    let mut body = hex("00000000 0000 0200 0000 0000 b200");
    body.extend_from_slice(&(cip.len() as u16).to_le_bytes());
    body.extend_from_slice(cip);
    let mut m = hex("6f00");
    m.extend_from_slice(&(body.len() as u16).to_le_bytes());
    m.extend_from_slice(&hex("00010212 00000000 8d3f0000489ae000 00000000"));
    m.extend_from_slice(&body);
    hex_str(&m)
}

#[test]
fn identity_inside_a_multiple_service_packet() {
    use otwatch_common::observation::Field;
    // The Get Attributes All request and reply of frames 10682/10683 (CIP parts), each
    // carried as the only item of a Multiple Service Packet (Vol. 1 appendix ).
    let req = hex("0a022002240101000400 010220012401");
    let rep = hex(concat!(
        "8a000000 0100 0400",
        "8100000001000c003a0004033000c3ae51000b313735362d454e42542f41"
    ));
    let out = run(&[(ToServer, &send_rr(&req)), (ToClient, &send_rr(&rep))]);
    no_violations(&out);
    assert!(out.contains(&op(Operation::Read, 0x01)));
    assert!(out.contains(&id(Field::Serial, "0x0051aec3", source::CIP_IDENTITY)));
    // The same wrapping of the plain request gives the plain answer.
    let plain = run(&[
        (ToServer, &send_rr(&hex("010220012401"))),
        (ToClient, GET_IDENTITY_REPLY),
    ]);
    assert!(plain.contains(&id(Field::Model, "1756-ENBT/A", source::CIP_IDENTITY)));
}
