//! Tests on real Modbus/TCP payloads from /work/shared/pcaps (extracted with `tshark -T fields
//! -e frame.number -e tcp.payload`; expected values read from `tshark -V` and `-T fields -e
//! modbus.func_code -e mbtcp.unit_id`). The corpus has no Read Device Identification answer
//! carrying objects, so those cases are built by hand and checked with tshark (noted there).

use super::pdu::{self, PduError, Range, Table};
use super::*;
use crate::protocols::source;
use crate::protocols::testing::{
    self, byte_by_byte, hex, hex_segments, id, never_panics, never_panics_in_conversation,
    run_segments,
};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Operation;
use otwatch_common::observation::Source;

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "10.0.0.57:2578", "10.0.0.3:502")
}

fn flow_ctx(client: &str, server: &str) -> FlowCtx {
    testing::ctx(Transport::Tcp, client, server)
}

/// Feeds `(to_server, hex)` segments through one dissector, as one flow; `Access`
/// observations are left out (they are checked by [`run_all`] in their own tests).
fn run_with(ctx: &FlowCtx, segs: &[(bool, &str)]) -> Vec<Observation> {
    without_access(run_segments(new, ctx, &hex_segments(segs)))
}

fn without_access(out: Vec<Observation>) -> Vec<Observation> {
    out.into_iter()
        .filter(|o| !matches!(o, Observation::Access(_)))
        .collect()
}

/// Every observation, `Access` included.
fn run_all(segs: &[(bool, &str)]) -> Vec<Observation> {
    run_segments(new, &ctx(), &hex_segments(segs))
}

fn access(op: Operation, unit: u32, area: &'static str, start: u32, count: u32) -> Observation {
    Observation::Access(Access {
        op,
        unit: Some(unit),
        area,
        block: None,
        start,
        count,
    })
}

fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
    run_with(&ctx(), segs)
}

fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    without_access(run_segments(new, &ctx(), segs))
}

fn op(op: Operation, fc: u32) -> Observation {
    opd(op, fc, &[])
}

/// An operation with its details.
fn opd(op: Operation, fc: u32, details: &[(&'static str, &str)]) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(fc),
        details: details.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

fn server(field: Field, value: &str, source: Source) -> Observation {
    id(Subject::Server, field, value, source)
}

fn violations(out: &[Observation]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

// suricata-modbus.pcap, 10.0.0.9:3082 → 10.0.0.3:502, unit 10 (mbtcp.unit_id = 10).
const READ_COILS_REQ: &str = "0001000000060a0100000001"; // 51: fc 1, ref 0, count 1
const READ_COILS_RSP: &str = "0001000000040a010100"; // 52: byte count 1
const READ_COILS2_REQ: &str = "0001000000060a0100020002"; // 54
const READ_COILS2_RSP: &str = "0001000000040a010100"; // 55
const READ_HOLDING_REQ: &str = "0001000000060a0300050002"; // 57: ref 5, count 2
const READ_HOLDING_RSP: &str = "0001000000070a030400090018"; // 58: byte count 4
const WRITE_COIL_REQ: &str = "0001000000060a0500020000"; // 60
const WRITE_COIL_RSP: &str = "0001000000060a0500020000"; // 61
const WRITE_COIL2_REQ: &str = "0001000000060a0500010000"; // 63
const WRITE_COIL2_RSP: &str = "0001000000060a0500010000"; // 64
const WRITE_REG_REQ: &str = "0001000000060a060005000b"; // 66: ref 5, value 11
const WRITE_REG_RSP: &str = "0001000000060a060005000b"; // 67

// suricata-modbus.pcap, 10.0.0.57:2578 → 10.0.0.3:502: diagnostics and report server id.
const DIAG_LISTEN_ONLY_REQ: &str = "0000000000060a0800040000"; // 8: sub-function 4
const DIAG_EXCEPTION: &str = "0000000000030a880b"; // 9: exception 11 (gateway target)
const DIAG_RESTART_REQ: &str = "0000000000060a0800010000"; // 17: sub-function 1
const DIAG_RESTART_RSP: &str = "0000000000060a0800010000"; // 18: echo
const DIAG_CLEAR_REQ: &str = "0000000000060a08000a0000"; // 23: sub-function 10
const DIAG_CLEAR_RSP: &str = "0000000000060a08000a0000"; // 24
const SERVER_ID_REQ: &str = "0000000000020a11"; // 40
/// 41: byte count 18, server id 0x00, run indicator 0xff, "Wingpath Limited".
const SERVER_ID_RSP: &str = "0000000000150a111200ff57696e6770617468204c696d69746564";

// suricata-modbus.pcap 91: from 10.0.0.8:502, the TCP initiator, exception 6 to function 1.
const EXCEPTION_FROM_INITIATOR: &str = "0001000000040a810600";

// modbus-eit.pcap: 43/14 basic, object 0; a reply with no objects; an exception.
const EIT_REQ: &str = "000000000005002b0e0100"; // 1: unit 0
const EIT_RSP: &str = "00000000000c002b0e01004db70000000000"; // 2: 0 objects
const EIT_REQ_FF: &str = "000000000005ff2b0e0100"; // 3: unit 255
const EIT_EXCEPTION: &str = "000000000003ffab04"; // 4: server device failure

// modicon_test.pcap, 192.168.63.100:7718 → 192.168.63.253:502, UMAS (function 90).
const UMAS_READ_ID_REQ: &str = "000000000004005a0002"; // 4
/// 6: OK; CPU module "140 CPU 311 10" (modicon-info's "CPU Module").
const UMAS_READ_ID_RSP: &str = "000000000032005a00fe10ff5a010100000070020000270009000800000000000e3134302043505520333131203130010101000000001100";
const UMAS_READ_BLOCK_REQ: &str = "000a0000000d005a0020001300000000006400"; // 25
const UMAS_RESERVE_REQ: &str = "001600000018005a0010434c00000f555345522d37313445373446323142"; // 49
const UMAS_RESERVE_RSP: &str = "001600000005005a00fe01"; // 50
const UMAS_INIT_DOWNLOAD_REQ: &str = "002300000008005a01330001fb00"; // 76
const UMAS_INIT_DOWNLOAD_RSP: &str = "00230000000a005a01fe000137300000"; // 77
const UMAS_DOWNLOAD_BLOCK_REQ: &str = "002400000008005a013400010100"; // 78
/// 19: REPEAT (0x0A) with MBAP length 255 (tshark: "Length: 255"), and its echo (20).
fn umas_repeat(to_plc: bool) -> String {
    let status = if to_plc { "0a" } else { "fe" };
    let data: String = (0u8..=0xf9).map(|b| format!("{b:02x}")).collect();
    format!("0007000000ff005a00{status}00{data}")
}

// ModbusTCP.pcap 6463/6480 (141.81.0.10 ↔ 141.81.0.46, unit 255): four requests in one
// segment (16, 16, 15, 4), four answers in one segment; the last reads 99 input registers
// and gets byte count 198 (0xc6).
const PIPELINED_REQ: &str = "6f1e0000000dff1000310003060708000000056f1f0000000fff100035000408d08c00b8aefe00016f2000000008ff0f0007000301006f2100000006ff0400010063";
const PIPELINED_RSP: &str = "6f1e00000006ff10003100036f1f00000006ff10003500046f2000000006ff0f000700036f21000000c9ff04c6000a0000002030303630353238363232000000000001000030303030303030303030303033303836383500000000000000000000000000000005000000000000000000000000000000000000000300000004000000000000000000000000000007bc000007be0000356000010001000000280000000000000000000000000000000000000000000068616e750074000000000000000000000000000068616e750074000000000000000000000000000068006e75007400000000000000000000000000000384";

// 4SICS-GeekLounge-151022-min.pcap: 23 with write count 8466 and byte count 191 but 243
// data bytes (tshark: "Byte Count: 191"), answered by exception 10.
const FC23_BAD_COUNT: &str = "000b000000fe01170000000000df2112bfcfed0e80297f6f512d12c5e1c2e700b1a6201b5c0f6167be640a675532a0d9b28988aa8506f424cc20d721252ce6fc1da496f4bf06b6af6d854f1c1e18191e8d381357393d7aaab2fb4e3b374042927d0e49b19cac1aabd3d93c00b7d805b407b993ec198fc2df2aeb42c3b77a772d43bd9f10ce6882e01e678360007af3d9f69a347eac5678ed4b6a86b06a57f458620fbdf939f4e59e36b3cdb10b61dfaff768cc1c46f881ec44b1c464e1d176c6732bfdf1bdf9a001b49548f988c7e2e98ad7b8018ad7116a8ed0b5872f81bc643c063ee064edf2fdc7ca68b1af88647dcedad90a18753c9b199363ed4418d132d9e3bc81";
const FC23_EXCEPTION: &str = "000b0000000301970a";

// The corpus has no 43/14 answer carrying objects, so these come from the project's own
// pymodbus 3.16.1 peer (tests/peers/modbus_peer.py both 127.0.0.1 15502), captured with
// tcpdump; tshark -V (ports rewritten to 502): conformity 0x83, objects VendorName
// "OtwatchTest", ProductCode "OTW-PLC-1", MajorMinorRevision "2.7.1", then (regular category)
// also ProductName "OTW Controller", ModelName "OTW Model 5".
const DEVID_BASIC_REQ: &str = "000600000005012b0e0100"; // 16
const DEVID_BASIC_RSP: &str =
    "000600000027012b0e0183000003000b4f7477617463685465737401094f54572d504c432d310205322e372e31"; // 17
const DEVID_REGULAR_REQ: &str = "000700000005012b0e0200"; // 18
const DEVID_REGULAR_RSP: &str = "000700000044012b0e0283000005000b4f7477617463685465737401094f54572d504c432d310205322e372e31040e4f545720436f6e74726f6c6c6572050b4f5457204d6f64656c2035"; // 19

#[test]
fn mbap_header_fields() {
    // tshark: mbtcp.trans_id = 1, mbtcp.prot_id = 0, mbtcp.len = 6, mbtcp.unit_id = 10.
    let h = Mbap::parse(&hex(READ_HOLDING_REQ)).unwrap();
    assert_eq!(
        h,
        Mbap {
            transaction: 1,
            protocol: 0,
            length: 6,
            unit: 10
        }
    );
    assert_eq!(h.adu_len(), 12);
    assert_eq!(Mbap::parse(&[0; 6]), None);
}

#[test]
fn reads_and_writes_of_a_real_session() {
    let out = run(&[
        (true, READ_COILS_REQ),
        (false, READ_COILS_RSP),
        (true, READ_COILS2_REQ),
        (false, READ_COILS2_RSP),
        (true, READ_HOLDING_REQ),
        (false, READ_HOLDING_RSP),
        (true, WRITE_COIL_REQ),
        (false, WRITE_COIL_RSP),
        (true, WRITE_COIL2_REQ),
        (false, WRITE_COIL2_RSP),
        (true, WRITE_REG_REQ),
        (false, WRITE_REG_RSP),
    ]);
    // One observation per request; the answers pair with them and add nothing.
    assert_eq!(
        out,
        vec![
            op(Operation::Read, 1),
            op(Operation::Read, 1),
            op(Operation::Read, 3),
            op(Operation::Write, 5),
            op(Operation::Write, 5),
            op(Operation::Write, 6),
        ]
    );
}

#[test]
fn requests_say_what_they_read_and_write() {
    let pdu_of = |h: &str| hex(h)[7..].to_vec();
    let r = parse_request(&pdu_of(READ_HOLDING_REQ)).unwrap();
    assert_eq!(
        r.read,
        Some(Range {
            table: Table::HoldingRegisters,
            start: 5,
            quantity: 2
        })
    );
    let w = parse_request(&pdu_of(WRITE_REG_REQ)).unwrap();
    assert_eq!(
        w.write,
        Some(Range {
            table: Table::HoldingRegisters,
            start: 5,
            quantity: 1
        })
    );
    // ModbusTCP.pcap 6463, third ADU: write 3 coils from 7 (tshark: modbus.reference_num 7,
    // modbus.bit_cnt 3, byte count 1).
    let coils = parse_request(&hex("0f0007000301 00")).unwrap();
    assert_eq!(
        coils.write,
        Some(Range {
            table: Table::Coils,
            start: 7,
            quantity: 3
        })
    );
}

#[test]
fn requests_report_the_ranges_they_read_and_write() {
    use Operation::{Read, Write};
    let accesses = |segs: &[(bool, &str)]| -> Vec<Observation> {
        run_all(segs)
            .into_iter()
            .filter(|o| matches!(o, Observation::Access(_)))
            .collect()
    };
    // suricata-modbus.pcap 51, 57, 60, 66 (unit 10): fc 1 ref 0 ×1, fc 3 ref 5 ×2, fc 5 coil
    // 2, fc 6 register 5; the responses add nothing.
    let out = accesses(&[
        (true, READ_COILS_REQ),
        (false, READ_COILS_RSP),
        (true, READ_HOLDING_REQ),
        (true, WRITE_COIL_REQ),
        (true, WRITE_REG_REQ),
        (false, WRITE_REG_RSP),
    ]);
    assert_eq!(
        out,
        vec![
            access(Read, 10, "coils", 0, 1),
            access(Read, 10, "holding_registers", 5, 2),
            access(Write, 10, "coils", 2, 1),
            access(Write, 10, "holding_registers", 5, 1),
        ]
    );
    // ModbusTCP.pcap 6026: four fc 16 ADUs to unit 255 in one segment (tshark:
    // modbus.reference_num 2102, 2200, 100, 116; modbus.word_cnt 4, 20, 9, 6), and 28: fc 15
    // coils 7..9 (reference_num 7, bit_cnt 3).
    let fc16 = "030d0000000fff10083600040807dc04bb014b000b030e0000002fff1008980014284a5320454e472053414c542042545220343058323530472020202020202020202020202020202020030f00000019ff100064000912303030303030303030303030303336303732031000000013ff10007400060c303030303036323536383233";
    let out = accesses(&[(true, fc16), (true, "485a00000008ff0f000700030100")]);
    assert_eq!(
        out,
        vec![
            access(Write, 255, "holding_registers", 2102, 4),
            access(Write, 255, "holding_registers", 2200, 20),
            access(Write, 255, "holding_registers", 100, 9),
            access(Write, 255, "holding_registers", 116, 6),
            access(Write, 255, "coils", 7, 3),
        ]
    );
    // Built by hand, checked with text2pcap + tshark: fc 22 mask write of register 4
    // (modbus.reference_num 4); fc 23 reading 6 from 3 and writing 3 from 14
    // (read_reference_num 3, read_word_cnt 6, write_reference_num 14, write_word_cnt 3).
    let out = accesses(&[
        (true, "0001000000080116000400f20025"),
        (true, "000200000011011700030006000e000306 00ff00ff00ff"),
    ]);
    assert_eq!(
        out,
        vec![
            access(Write, 1, "holding_registers", 4, 1),
            access(Read, 1, "holding_registers", 3, 6),
            access(Write, 1, "holding_registers", 14, 3),
        ]
    );
    // A malformed write (byte count lies) is an attempt, but its range is not believed.
    let c = flow_ctx("192.168.2.166:1987", "192.168.88.95:502");
    let all = run_segments(new, &c, &hex_segments(&[(true, FC23_BAD_COUNT)]));
    assert!(!all.iter().any(|o| matches!(o, Observation::Access(_))));
}

#[test]
fn diagnostics_and_restart_communications() {
    let out = run(&[
        (true, DIAG_LISTEN_ONLY_REQ),
        (false, DIAG_EXCEPTION),
        (true, DIAG_RESTART_REQ),
        (false, DIAG_RESTART_RSP),
        (true, DIAG_CLEAR_REQ),
        (false, DIAG_CLEAR_RSP),
    ]);
    assert_eq!(
        out,
        vec![
            // tshark modbus.diagnostic_code 4: Force Listen Only Mode.
            opd(
                Operation::ConfigChange,
                8,
                &[
                    ("service", "FC 8 sub-function 4 force listen only mode"),
                    ("setting", "mode"),
                    ("value", "listen only"),
                ]
            ),
            // modbus.diagnostic_code 1: Restart Communications Option.
            opd(
                Operation::Restart,
                8,
                &[(
                    "service",
                    "FC 8 sub-function 1 restart communications option"
                )]
            ),
            // 10: Clear Counters and Diagnostic Register, routine.
            op(Operation::Diagnostics, 8),
        ]
    );
    // A restart answer whose request was not seen still names the restart.
    assert_eq!(
        run(&[(false, DIAG_RESTART_RSP)]),
        vec![opd(
            Operation::Restart,
            8,
            &[(
                "service",
                "FC 8 sub-function 1 restart communications option"
            )]
        )]
    );
}

#[test]
fn report_server_id_text_once_per_flow() {
    let out = run(&[
        (true, SERVER_ID_REQ),
        (false, SERVER_ID_RSP),
        (true, SERVER_ID_REQ),
        (false, SERVER_ID_RSP),
    ]);
    assert_eq!(
        out,
        vec![
            op(Operation::Identify, 17),
            server(
                Field::Description,
                "Wingpath Limited",
                source::MODBUS_REPORT_SERVER_ID
            ),
            op(Operation::Identify, 17),
        ]
    );
}

#[test]
fn device_identification_basic_then_regular() {
    let c = flow_ctx("127.0.0.1:51332", "127.0.0.1:15502");
    let out = run_with(
        &c,
        &[
            (true, DEVID_BASIC_REQ),
            (false, DEVID_BASIC_RSP),
            (true, DEVID_REGULAR_REQ),
            (false, DEVID_REGULAR_RSP),
            // Asked again: nothing new to say.
            (true, DEVID_BASIC_REQ),
            (false, DEVID_BASIC_RSP),
        ],
    );
    const S: Source = source::MODBUS_DEVICE_IDENTIFICATION;
    assert_eq!(
        out,
        vec![
            op(Operation::Identify, 43),
            server(Field::Vendor, "OtwatchTest", S),
            server(Field::Firmware, "2.7.1", S),
            server(Field::Model, "OTW-PLC-1", S),
            op(Operation::Identify, 43),
            // ProductName with the product code; ModelName only stands in for a missing name.
            server(Field::Model, "OTW Controller OTW-PLC-1", S),
            op(Operation::Identify, 43),
        ]
    );
}

#[test]
fn device_identification_header_and_objects() {
    let rsp = hex(DEVID_REGULAR_RSP);
    let id = pdu::device_id(&rsp[7..]).unwrap();
    // tshark: modbus.read_device_id = 2, modbus.conformity_level = 0x83, more follows 0,
    // number of objects 5.
    assert_eq!((id.code, id.conformity, id.more_follows), (2, 0x83, false));
    let objs: Vec<_> = id.objects().map(Result::unwrap).collect();
    assert_eq!(objs.len(), 5);
    assert_eq!(objs[3].id, pdu::OBJ_PRODUCT_NAME);
    assert_eq!(objs[3].value, b"OTW Controller");
    // An object length running past the PDU is a violation.
    let mut cut = rsp.clone();
    cut.truncate(cut.len() - 3);
    cut[5] -= 3;
    let out = run_bytes(&[(false, cut)]);
    assert_eq!(
        violations(&out),
        ["device identification object 0x05 overruns the PDU"]
    );
}

#[test]
fn device_identification_without_objects_and_exception() {
    // modbus-eit.pcap: tshark "Number of Objects: 0", then "Exception: Slave device failure".
    let out = run(&[
        (true, EIT_REQ),
        (false, EIT_RSP),
        (true, EIT_REQ_FF),
        (false, EIT_EXCEPTION),
    ]);
    assert_eq!(
        out,
        vec![op(Operation::Identify, 43), op(Operation::Identify, 43)]
    );
}

#[test]
fn umas_read_id_names_a_schneider_cpu() {
    let c = flow_ctx("192.168.63.100:7718", "192.168.63.253:502");
    let out = run_with(&c, &[(true, UMAS_READ_ID_REQ), (false, UMAS_READ_ID_RSP)]);
    assert_eq!(
        out,
        vec![
            op(Operation::Identify, 90),
            server(
                Field::Vendor,
                "Schneider Electric",
                source::MODBUS_UMAS_READ_ID
            ),
            server(Field::Model, "140 CPU 311 10", source::MODBUS_UMAS_READ_ID),
        ]
    );
}

#[test]
fn umas_engineering_functions() {
    let out = run(&[
        (true, UMAS_RESERVE_REQ),
        (false, UMAS_RESERVE_RSP),
        (true, UMAS_READ_BLOCK_REQ),
        (true, UMAS_INIT_DOWNLOAD_REQ),
        (false, UMAS_INIT_DOWNLOAD_RSP),
        (true, UMAS_DOWNLOAD_BLOCK_REQ),
    ]);
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(90),
            op(Operation::Read, 90),
            // UMAS "download" copies the program out of the PLC: a program upload.
            opd(
                Operation::ProgramUpload,
                90,
                &[("service", "UMAS initialize download (0x33)")]
            ),
            opd(
                Operation::ProgramUpload,
                90,
                &[("service", "UMAS download block (0x34)")]
            ),
        ]
    );
    // Start and stop, as lirasenlared part IV writes them ("01 40 FF 00", "01 41 FF 00").
    let out = run(&[
        (true, "002500000006005a0140ff00"),
        (true, "002600000006005a0141ff00"),
    ]);
    assert_eq!(
        out,
        vec![
            opd(
                Operation::CpuStart,
                90,
                &[("service", "UMAS start PLC (0x40)")]
            ),
            opd(
                Operation::CpuStop,
                90,
                &[("service", "UMAS stop PLC (0x41)")]
            ),
        ]
    );
    for (code, want) in [
        (umas::INITIALIZE_UPLOAD, Some(Operation::ProgramDownload)),
        (umas::UPLOAD_BLOCK, Some(Operation::ProgramDownload)),
        (umas::START_PLC, Some(Operation::CpuStart)),
        (umas::STOP_PLC, Some(Operation::CpuStop)),
        (umas::WRITE_VARIABLES, Some(Operation::Write)),
        (umas::CHECK_PLC, None),
    ] {
        assert_eq!(umas::operation(code), want, "{code:#04x}");
    }
}

#[test]
fn umas_frames_may_exceed_254_but_modbus_frames_may_not() {
    let out = run(&[(true, &umas_repeat(true)), (false, &umas_repeat(false))]);
    assert_eq!(out, vec![Observation::FunctionCode(90)]);
    // The same length on function 3 is a violation, then the next ADU parses.
    let mut bad = hex(&umas_repeat(true));
    bad[7] = 3;
    bad.extend(hex(READ_HOLDING_REQ));
    let out = run_bytes(&[(true, bad)]);
    assert_eq!(
        violations(&out),
        ["MBAP length 255 outside 2..=254 (MB §4.1)"]
    );
    assert_eq!(out.last(), Some(&op(Operation::Read, 3)));
}

#[test]
fn pipelined_adus_in_one_segment() {
    let out = run(&[(true, PIPELINED_REQ), (false, PIPELINED_RSP)]);
    assert_eq!(
        out,
        vec![
            op(Operation::Write, 16),
            op(Operation::Write, 16),
            op(Operation::Write, 15),
            op(Operation::Read, 4),
        ]
    );
    // modbus_test.pcap 69: two write-register answers in one segment, request not seen.
    let out = run(&[(false, "01f80000000607060004000001f8000000060706000536c1")]);
    assert_eq!(out, vec![op(Operation::Write, 6), op(Operation::Write, 6)]);
}

#[test]
fn register_byte_count_of_twice_the_quantity_is_right() {
    // 2 registers asked, 4 bytes answered: correct (other monitors flag every such answer).
    let out = run(&[(true, READ_HOLDING_REQ), (false, READ_HOLDING_RSP)]);
    assert!(violations(&out).is_empty());
    // 3 asked, 4 answered: wrong.
    let out = run(&[
        (true, "0001000000060a0300050003"),
        (false, READ_HOLDING_RSP),
    ]);
    assert_eq!(
        violations(&out),
        ["function 3 byte count 4 does not match the quantity 3"]
    );
    // 99 input registers in 198 bytes (ModbusTCP.pcap 6480) was checked above; a byte count
    // that disagrees with the bytes that follow is wrong even without the request.
    let out = run(&[(false, "0001000000070a030500090018")]);
    assert_eq!(
        violations(&out),
        ["function 3 byte count 5 does not match the 4 bytes that follow"]
    );
}

#[test]
fn fc23_byte_count_that_lies_is_a_violation() {
    let c = flow_ctx("192.168.2.166:1987", "192.168.88.95:502");
    let out = run_with(&c, &[(true, FC23_BAD_COUNT), (false, FC23_EXCEPTION)]);
    assert_eq!(
        out,
        vec![
            Observation::ProtocolViolation {
                protocol: "modbus",
                reason: "function 23 byte count 191 does not match the 243 bytes that follow"
                    .into()
            },
            op(Operation::Read, 23),
            op(Operation::Write, 23),
        ]
    );
}

#[test]
fn unknown_function_codes_are_not_violations() {
    // fuzz-72.pcap 3: function 29 (tshark: modbus.func_code 29); a user-defined code 100.
    let out = run(&[
        (true, "000000000006011d00000000"),
        (true, "0000000000020164"),
    ]);
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(29),
            Observation::FunctionCode(100)
        ]
    );
    // Function code 0 and exception codes in a request are (MB §4.1).
    let out = run(&[
        (true, "000000000006010000000000"),
        (true, "0000000000020181"),
    ]);
    assert_eq!(
        violations(&out),
        [
            "function code 0 is not valid (MB §4.1)",
            "request uses function code 0x81, reserved for exception responses (MB §4.1)"
        ]
    );
}

#[test]
fn roles_follow_port_502_when_the_device_connects_out() {
    // suricata-modbus.pcap 88–91: 10.0.0.8:502 opened the connection and sends exceptions.
    let c = flow_ctx("10.0.0.8:502", "10.0.0.57:4446");
    let out = run_with(&c, &[(true, EXCEPTION_FROM_INITIATOR)]);
    assert_eq!(out, vec![op(Operation::Read, 1)]);
    // Identity then belongs to the TCP client.
    let out = run_with(&c, &[(false, SERVER_ID_REQ), (true, SERVER_ID_RSP)]);
    assert!(out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            subject: Subject::Client,
            ..
        }
    )));
}

#[test]
fn broken_header_then_resync() {
    // A protocol identifier of 1, then a good request in the same segment.
    let mut bytes = hex(READ_COILS_REQ);
    bytes[3] = 1;
    bytes.extend(hex(WRITE_REG_REQ));
    let out = run_bytes(&[(true, bytes)]);
    assert_eq!(
        out,
        vec![
            Observation::ProtocolViolation {
                protocol: "modbus",
                reason: "MBAP protocol identifier 1 is not 0 (TCP §3.1.3)".into()
            },
            op(Operation::Write, 6),
        ]
    );
    // A length of 0 and of 0xffff (length fields lying), same.
    for len in ["0000", "ffff", "0001"] {
        let bad = format!("00010000{len}0a01{}", READ_COILS_REQ);
        let out = run(&[(true, &bad)]);
        assert_eq!(violations(&out).len(), 1, "{len}");
        assert_eq!(out.last(), Some(&op(Operation::Read, 1)), "{len}");
    }
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    let msgs = [
        (true, PIPELINED_REQ),
        (false, PIPELINED_RSP),
        (true, DEVID_BASIC_REQ),
        (false, DEVID_BASIC_RSP),
        (true, SERVER_ID_REQ),
        (false, SERVER_ID_RSP),
    ];
    let whole = run(&msgs);
    assert_eq!(run_bytes(&byte_by_byte(&msgs)), whole);
    assert_eq!(whole.len(), 10);
}

#[test]
fn gap_resynchronises_at_the_next_adu() {
    let mut d = new();
    let mut out = Vec::new();
    let first = hex(READ_HOLDING_REQ);
    // Half an ADU, then bytes lost, then the tail of some ADU and two whole ones.
    assert_eq!(
        d.parse(Direction::ToServer, &first[..5], &ctx(), &mut out),
        0
    );
    d.gap(Direction::ToServer);
    let mut next = first[9..].to_vec();
    next.extend(hex(WRITE_COIL_REQ));
    next.extend(hex(WRITE_REG_REQ));
    assert_eq!(
        d.parse(Direction::ToServer, &next, &ctx(), &mut out),
        next.len()
    );
    assert_eq!(
        without_access(out),
        vec![op(Operation::Write, 5), op(Operation::Write, 6)]
    );
}

#[test]
fn probe_is_strict() {
    use Direction::{ToClient, ToServer};
    assert_eq!(probe(ToServer, &hex(READ_HOLDING_REQ)), Probe::Yes);
    assert_eq!(probe(ToClient, &hex(READ_HOLDING_RSP)), Probe::Yes);
    assert_eq!(probe(ToServer, &hex(PIPELINED_REQ)), Probe::Yes);
    assert_eq!(probe(ToServer, &hex(&umas_repeat(true))), Probe::Yes);
    assert_eq!(
        probe(ToServer, &hex(READ_HOLDING_REQ)[..9]),
        Probe::NeedMore
    );
    assert_eq!(probe(ToServer, &hex("0001")), Probe::NeedMore);
    // modbus-and-non-modbus-p502.pcap: what scanners sent to port 502 (frames 29, 39, 49,
    // 65, 70, 80: DCE/RPC bind, NFS/ONC RPC, TLS ClientHello, HTTP, a banner grab, RDP).
    for other in [
        "05000b03100000004800000001000000b810b810",
        "800000287e86ab4a00000000000000020001",
        "1603010085010000810303736ff818542129f7",
        "474554202f20485454502f312e310d0a",
        "4d474c4e44445f3136302e39372e37302e33365f3530320a",
        "0300002b26e00000000000436f6f6b69653a20",
        // S7 COTP connect (TPKT), EtherNet/IP ListIdentity and RegisterSession, DNP3.
        "0300001611e00000000100c0010ac1020100c2020102",
        "630000000000000000000000000000000000000000000000",
        "650004000000000000000000000000000000000000000000000000000000000001000000",
        "056405c001000200",
    ] {
        let bytes = hex(other);
        for dir in [ToServer, ToClient] {
            assert_eq!(probe(dir, &bytes), Probe::No, "{other}");
        }
    }
    // A good ADU followed by something that is not one.
    let mut two = hex(READ_HOLDING_REQ);
    two.extend(b"GET / HTTP/1.1\r\n");
    assert_eq!(probe(ToServer, &two), Probe::No);
}

#[test]
fn model_parts_are_joined_without_repeats() {
    let join = |p: &[&str]| compose_model(p.iter().copied());
    assert_eq!(
        join(&["Modicon M340", "BMX P34 2020", "BMXP342020"]).as_deref(),
        Some("Modicon M340 BMX P34 2020")
    );
    assert_eq!(join(&["BMX P34"]).as_deref(), Some("BMX P34"));
    assert_eq!(
        join(&["P34", "BMX P34 2020"]).as_deref(),
        Some("BMX P34 2020")
    );
    assert_eq!(join(&[]), None);
}

#[test]
fn server_id_text_skips_binary_ids() {
    assert_eq!(
        pdu::server_id_text(&hex("111200ff57696e6770617468204c696d69746564")),
        Some(&b"Wingpath Limited"[..])
    );
    assert_eq!(pdu::server_id_text(&hex("110300ff41")), None);
}

#[test]
fn errors_name_the_rule() {
    assert_eq!(
        pdu::parse_request(&hex("0600")),
        Err(PduError::Short {
            function: 6,
            len: 2
        })
    );
    // Write multiple registers: 2 registers need 4 bytes, not 2.
    assert_eq!(
        pdu::parse_request(&hex("1000000002020001")),
        Err(PduError::Quantity {
            function: 16,
            count: 2,
            quantity: 2
        })
    );
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    let repeat = hex(&umas_repeat(true));
    let all: Vec<Vec<u8>> = [
        READ_COILS_REQ,
        READ_COILS_RSP,
        READ_HOLDING_RSP,
        WRITE_REG_REQ,
        DIAG_EXCEPTION,
        SERVER_ID_RSP,
        EIT_RSP,
        EIT_EXCEPTION,
        UMAS_READ_ID_RSP,
        UMAS_RESERVE_REQ,
        PIPELINED_REQ,
        PIPELINED_RSP,
        FC23_BAD_COUNT,
        DEVID_BASIC_RSP,
        DEVID_REGULAR_RSP,
    ]
    .iter()
    .map(|h| hex(h))
    .chain([repeat])
    .collect();
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    never_panics(&SPEC, &ctx(), &refs);
    // Every cut of every segment, behind the conversation before it.
    let conv = hex_segments(&[
        (true, READ_HOLDING_REQ),
        (false, READ_HOLDING_RSP),
        (true, DEVID_REGULAR_REQ),
        (false, DEVID_REGULAR_RSP),
        (true, UMAS_READ_ID_REQ),
        (false, UMAS_READ_ID_RSP),
        (true, PIPELINED_REQ),
        (false, PIPELINED_RSP),
    ]);
    never_panics_in_conversation(&SPEC, &ctx(), &conv);
    for m in &refs {
        for n in 0..=m.len() {
            let _ = probe(Direction::ToServer, &m[..n]);
            if let Some(p) = m.get(7..n) {
                let _ = pdu::parse_request(p);
                let _ = pdu::check_response(p, None);
                let _ = pdu::device_id(p).map(|d| d.objects().count());
                let _ = umas::read_id_module(p);
            }
        }
    }
    // Requests then answers with every byte of the answers' PDUs (past the header) varied.
    let mut d = new();
    let mut out = Vec::new();
    for m in &refs {
        for i in 7..m.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut x = m.to_vec();
                x[i] = v;
                let _ = d.parse(Direction::ToClient, &x, &ctx(), &mut out);
                let _ = d.parse(Direction::ToServer, &x, &ctx(), &mut out);
            }
        }
    }
    // Violations stay capped per flow.
    assert!(violations(&out).len() <= usize::from(super::Violations::CAP));
}
