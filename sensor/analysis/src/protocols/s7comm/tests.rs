//! Tests on real S7comm / S7comm-plus TCP payloads from /work/shared/pcaps (extracted with
//! `tshark -T fields -e tcp.payload`; expected values read from `tshark -V` and
//! `tshark -T fields -e s7comm.param.func -e s7comm.param.userdata.funcgroup
//! -e s7comm.param.userdata.subfunc -e s7comm.szl.xy11.0001.anz -e s7comm.szl.001c.0001.name`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex, never_panics};
use crate::protocols::FlowCtx;
use otwatch_common::observation::{Access, Source};
use Direction::{ToClient as S, ToServer as C};

// s7comm/s7comm_reading_plc_status.pcap (libnodave against an IM151-8 PN/DP CPU).
/// Frame 8: COTP CR, calling TSAP 01.00, called TSAP 01.02 (rack 0, slot 2), TPDU size 1024.
const RPS_CR: &str = "0300001611e00000000f00c1020100c2020102c0010a";
/// Frame 9: COTP CC.
const RPS_CC: &str = "0300001611d0000f000300c0010ac1020100c2020102";
/// Frame 10: job, setup communication (0xF0).
const RPS_SETUP: &str = "0300001902f08032010000020000080000f0000001000101e0";
/// Frame 11: ack-data of the setup.
const RPS_SETUP_ACK: &str = "0300001b02f080320300000200000800000000f0000001000100f0";
/// Frame 12: an empty DT TPDU without EOT.
const EMPTY_DT: &str = "0300000702f000";
/// Frame 58: userdata request, CPU functions, read SZL 0x0011 index 0.
const RPS_SZL_0011_REQ: &str = "0300002102f080320700001100000800080001120411440100ff09000400110000";
/// Frame 59: SZL 0x0011 answer: index 1 and 6 "6ES7 151-8AB01-0AB0", index 7 Ausbg 0x5603
/// Ausbe 0x0206 (V3.2.6), index 0x81 "Boot Loader".
const RPS_SZL_0011_RES: &str = concat!(
    "0300009902f080320700001100000c007c000112081284010200000000ff09007800110000001c0004000136",
    "455337203135312d38414230312d304142302000c000030001000636455337203135312d38414230312d3041",
    "42302000c0000300010007202020202020202020202020202020202020202000c05603020600814",
    "26f6f74204c6f61646572202020202020202020000041200909",
);
/// Frame 67: read SZL 0x001C index 0.
const RPS_SZL_001C_REQ: &str = "0300002102f080320700001400000800080001120411440100ff090004001c0000";
/// Frame 69: first fragment of the 0x001C answer (data unit reference 6, more follow).
const RPS_SZL_001C_FRAG1: &str = concat!(
    "030000f702f080320700001400000c00da000112081284010206010000ff0900d6001c00000022000a000149",
    "4d3135312d382d4350550000000000000000000000000000000000000000000002494d3135312d3820504e2f",
    "4450204350550000000000000000000000000000000003000000000000000000000000000000000000000000",
    "000000000000000000000000044f726967696e616c205369656d656e732045717569706d656e740000000000",
    "0000055320432d433654573734383832303132000000000000000000000000000000000007494d3135312d38",
    "20504e2f4450204350550000000000000000000000000000000008",
);
/// Frame 71: the client asks for the rest (no SZL id).
const RPS_SZL_NEXT_REQ: &str = "0300002102f080320700001500000c00040001120812440102000000000a000000";
/// Frame 72: last fragment (data unit reference 6, last).
const RPS_SZL_001C_FRAG2: &str = concat!(
    "030000a702f080320700001500000c008a000112081284010206000000ff0900864d4d432032393030464331",
    "4100000000000000000000000000000000000000000009002af6000001000000000000000000000000000000",
    "0000000000000000000000000a00000000000000000000000000000000000000000000000000000000000000",
    "00000b0000000000000000000000000000000000000000000000000000000000000000",
);

// Jobs (function in s7comm.param.func; PI service in -V "PI (program invocation) Service").
/// step7_s300_stop.pcapng frame 1: PLC stop (0x29) "P_PROGRAM".
const STOP: &str = "0300002102f0803201000035000010000029000000000009505f50524f4752414d";
/// snap7_s300_everything.pcapng frame 63: PI service (0x28) P_PROGRAM, argument "C ".
const START: &str =
    "0300002702f080320100001f000016000028000000000000fd0002432009505f50524f4752414d";
/// snap7_s300_everything.pcapng frame 59: PI service _MODU (copy RAM to ROM), argument "EP".
const COPY_RAM_TO_ROM: &str =
    "0300002302f080320100001d000012000028000000000000fd00024550055f4d4f4455";
/// snap7_s300_everything.pcapng frame 61: PI service _GARB (compress memory).
const COMPRESS: &str = "0300002102f080320100001e000010000028000000000000fd0000055f47415242";
/// tia_s300_downloadOb1.pcapng frame 57: request download (0x1A) of OB1.
const REQUEST_DOWNLOAD: &str = "0300003102f08032010000bd0a002000001a00010000000000095f30383030303031500d31303030333332303030323132";
/// tia_s300_downloadOb1.pcapng frame 59: download block (0x1B).
const DOWNLOAD_BLOCK: &str =
    "0300002302f08032010000bb00001200001b00000000000000095f3038303030303150";
/// tia_s300_downloadOb1.pcapng frame 63: download ended (0x1C).
const DOWNLOAD_ENDED: &str =
    "0300002302f08032010000bf00001200001c00000000000000095f3038303030303150";
/// tia_s300_downloadOb1.pcapng frame 65: PI service _INSE (activate OB1).
const INSERT: &str =
    "0300002b02f08032010000be0a001a000028000000000000fd000a01003038303030303150055f494e5345";
/// tia_s300_downloadHwConfig.pcapng frame 60: PI service _DELE (tshark: "0B02000A [SDB 2000]").
const DELETE: &str =
    "0300002b02f080320100007400001a000028000000000000fd000a01003042303230303041055f44454c45";
/// snap7_s300_everything.pcapng frames 17, 19, 21: start upload, upload, end upload.
const START_UPLOAD: &str = "0300002302f080320100000800001200001d00000000000000095f3042303030303041";
const UPLOAD: &str = "0300001902f080320100000900000800001e00000000000007";
const END_UPLOAD: &str = "0300001902f080320100000a00000800001f00000000000007";
/// snap7_s300_everything.pcapng frame 49: write var (0x05), one REAL at MB16 (tshark: area 0x83).
const WRITE_VAR: &str =
    "0300002702f080320100001800000e00080501120a100800010000830000800007000479e9f642";
/// snap7_s300_everything.pcapng frame 51: read var (0x04).
const READ_VAR: &str = "0300001f02f080320100001900000e00000401120a10080001000083000080";
/// snap7_s300_everything.pcapng frame 44: ack (ROSCTR 2) with error class 0xD2.
const ACK_ERROR: &str = "0300001302f08032020000150000000000d20c";
/// snap7_s300_everything.pcapng frames 45, 47: time functions, read clock (1), set clock (2).
const READ_CLOCK: &str = "0300001d02f0803207000016000008000400011204114701000a000000";
const SET_CLOCK: &str =
    "0300002702f0803207000017000008000e0001120411470200ff09000a00191602082308100002";
/// snap7_s300_everything.pcapng frames 15, 23: block functions, list blocks (1), block info (3).
const LIST_BLOCKS: &str = "0300001d02f0803207000007000008000400011204114301000a000000";
const BLOCK_INFO: &str =
    "0300002502f080320700000b000008000c0001120411430300ff0900083041303030303041";
/// step7_s300_AuthPassword.pcapng frame 3: security, PLC password (8 obfuscated bytes).
const PASSWORD: &str = "0300002502f0803207000006000008000c0001120411450100ff090008213a1b1d6e681b1d";
/// tia_s300_flashLed.pcapng frame 1: programmer commands, flash LED (0x16).
const FLASH_LED: &str = "0300003902f080320700006c01000c001c000112081241160000000000ff090018001400000000000000010000000000010001000100010000";
/// step7_s300_stop.pcapng frames 3, 4: pushes from the PLC (diagnostic message, mode
/// transition with an odd parameter head 0x010010).
const PUSH_DIAG: &str = "0300003102f080320700000000000800180001120411040300ff0900144304ff8400000000000000009401092153421521";
const PUSH_MODE: &str = "0300001902f080320700000000000800000100101000000000";

// s7comm-plus/S7-1511_db2_var1_HMI.pcap (TIA HMI against a CPU 1511).
/// Frame 4: CR, calling TSAP 06.20, called TSAP "SIMATIC-ROOT-HMI".
const PLUS_CR: &str = "030000241fe00000001b00c1020620c21053494d415449432d524f4f542d484d49c0010a";
/// Frame 5: CC.
const PLUS_CC: &str = "030000241fd0001b000100c0010ac1020620c21053494d415449432d524f4f542d484d49";
/// Frame 6: V1 request CreateObject (0x04CA).
const PLUS_CREATE: &str = concat!(
    "030000d902f080720100ca31000004ca0000000100000120360000011d00040000000000a1000000d3821f00",
    "00a3816900151653657276657253657373696f6e5f3130303030303030a3822100150a313a3a3a362e33323a",
    "3aa38228001508484d492055534552a38229001505534d405254a3822a001508484d4920484f5354a3822b00",
    "0402a3822c001210000000a3822d0015164f4d532b20666f7220534d4152542052756e74696d65a1000000d3",
    "817f0000a38169001515537562736372697074696f6e436f6e7461696e6572a2a20000000072010000",
);
/// Frame 7: V1 response to CreateObject; ServerSessionVersion "1;6ES7 511-1AK00-0AB0;V1.0".
const PLUS_CREATE_RES: &str = concat!(
    "030000d702f080720100c832000004ca0000000136000287088709a100000120821f0100a38169001500a382",
    "2b00048280808000a3822d0015104f4d53502e52454c2e353034312e3233a3822f10021427ab8fbbf5932317",
    "cd6959f04976658f7313522aa3823200170000013a823b00048240823c00048240823d000484818040823e00",
    "0484818040823f00151a313b36455337203531312d31414b30302d304142303b56312e30824000151a313b36",
    "455337203531312d31414b30302d304142303b56312e3082410003000300a20000000072010000",
);
/// Frame 10: V2 response to SetMultiVariables.
const PLUS_SET_RES: &str = "0300002002f08072020011320000054200000002340000000000000072020000";
// Frame 9 (V2 request SetMultiVariables, 0x0542) is built in `plus_set_multi_variables`.

// iec61850/iec61850_get_name_list.pcap: MMS on port 102 (TSAPs 00.02 / 00.01).
const MMS_CR: &str = "030000130ee00000000600c1020002c2020001";
const MMS_CC: &str = "0300001611d01801000400c1020002c2020200c0010a";
const MMS_CONNECT: &str = concat!(
    "030000bb02f0800db20506130100160102140200023302000134020001c19c318199a003800101a281918104",
    "00000001820400000001a423300f0201010604520100013004060251013010020103060528ca220201300406",
    "02510188020600615a3058020101a053605180020780a107060528ca220203a20606042bce0f02a303020117",
    "be35283306025101020103a02aa82880027530810203e8820203e8830105a417800101810305fb00820d03ff",
    "ffffffffffffffffffff00",
);
/// zeek testing/btest/Traces/rdp/rdp-x509.pcap frame 6 (as in rdp.rs): an RDP X.224 CR (no TSAPs).
const RDP_CR: &str = "0300002f2ae00000000000436f6f6b69653a206d737473686173683d4a4f484e2d504320200d0a0100080000000000";

fn flow() -> FlowCtx {
    ctx(Transport::Tcp, "192.168.1.10:4305", "192.168.1.40:102")
}

/// Feeds segments like the flow layer: per-direction buffers, consumed bytes drained.
/// Feeds segments through `d`; `Access` observations are left out (see items.rs and
/// [`write_var_reports_the_bytes_it_writes`]).
fn run_with(d: &mut S7Dissector, segs: &[(Direction, Vec<u8>)]) -> Vec<Observation> {
    run_all(d, segs)
        .into_iter()
        .filter(|o| !matches!(o, Observation::Access(_)))
        .collect()
}

fn run_all(d: &mut S7Dissector, segs: &[(Direction, Vec<u8>)]) -> Vec<Observation> {
    let mut pending = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for (dir, seg) in segs {
        let i = *dir as usize;
        pending[i].extend_from_slice(seg);
        let n = d.parse(*dir, &pending[i], &flow(), &mut out);
        assert!(n <= pending[i].len());
        pending[i].drain(..n);
    }
    out
}

fn run(segs: &[(Direction, &str)]) -> Vec<Observation> {
    let segs: Vec<_> = segs.iter().map(|(d, h)| (*d, hex(h))).collect();
    run_with(&mut S7Dissector::new("s7comm"), &segs)
}

fn run_plus(segs: &[(Direction, &str)]) -> Vec<Observation> {
    let segs: Vec<_> = segs.iter().map(|(d, h)| (*d, hex(h))).collect();
    run_with(&mut S7Dissector::new("s7comm_plus"), &segs)
}

fn id(field: Field, value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject: Subject::Server,
        field,
        value: value.to_string(),
        source,
    }
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

fn violations(out: &[Observation]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Observation::ProtocolViolation { .. }))
        .count()
}

const RPS_CONVERSATION: &[(Direction, &str)] = &[
    (C, RPS_CR),
    (S, RPS_CC),
    (C, RPS_SETUP),
    (S, RPS_SETUP_ACK),
    (C, EMPTY_DT),
    (C, RPS_SZL_0011_REQ),
    (S, RPS_SZL_0011_RES),
    (C, RPS_SZL_001C_REQ),
    (S, RPS_SZL_001C_FRAG1),
    (C, RPS_SZL_NEXT_REQ),
    (S, RPS_SZL_001C_FRAG2),
];

/// Everything the reading_plc_status conversation says, in order.
fn rps_expected() -> Vec<Observation> {
    vec![
        id(Field::Description, "rack 0 slot 2", source::S7_COTP_TSAP),
        Observation::FunctionCode(0xf0),
        op(Operation::Identify, 0x70401),
        id(Field::Model, "6ES7 151-8AB01-0AB0", source::S7_SZL_0011),
        id(Field::Firmware, "V3.2.6", source::S7_SZL_0011),
        id(Field::Vendor, "Siemens", source::S7_SZL_0011),
        op(Operation::Identify, 0x70401),
        Observation::FunctionCode(0x70401),
        id(Field::Hostname, "IM151-8-CPU", source::S7_SZL_001C),
        id(Field::Description, "IM151-8 PN/DP CPU", source::S7_SZL_001C),
        id(Field::Serial, "S C-C6TW74882012", source::S7_SZL_001C),
    ]
}

#[test]
fn szl_answers_give_the_cpu_identity() {
    assert_eq!(run(RPS_CONVERSATION), rps_expected());
}

#[test]
fn byte_by_byte_delivery_gives_the_same_facts() {
    let segs: Vec<(Direction, Vec<u8>)> = RPS_CONVERSATION
        .iter()
        .flat_map(|(d, h)| hex(h).into_iter().map(move |b| (*d, vec![b])))
        .collect();
    assert_eq!(
        run_with(&mut S7Dissector::new("s7comm"), &segs),
        rps_expected()
    );
}

#[test]
fn write_var_reports_the_bytes_it_writes() {
    // snap7_s300_everything.pcapng frame 49 (tshark: area 0x83, address.byte 16, REAL × 1).
    let out = run_all(&mut S7Dissector::new("s7comm"), &[(C, hex(WRITE_VAR))]);
    assert_eq!(
        out,
        vec![
            op(Operation::Write, 0x05),
            Observation::Access(Access {
                op: Operation::Write,
                unit: None,
                area: "M",
                block: None,
                start: 16,
                count: 4,
            })
        ]
    );
}

#[test]
fn several_pdus_in_one_segment() {
    let mut seg = hex(EMPTY_DT);
    seg.extend(hex(RPS_SZL_0011_REQ));
    seg.extend(hex(READ_VAR));
    let out = run_with(&mut S7Dissector::new("s7comm"), &[(C, seg)]);
    assert_eq!(
        out,
        vec![op(Operation::Identify, 0x70401), op(Operation::Read, 4)]
    );
}

#[test]
fn identity_is_reported_once_per_flow() {
    let mut conv = RPS_CONVERSATION.to_vec();
    conv.extend_from_slice(&RPS_CONVERSATION[5..]);
    let out = run(&conv);
    let ids = out
        .iter()
        .filter(|o| matches!(o, Observation::Identity { .. }))
        .count();
    assert_eq!(ids, 7);
}

#[test]
fn module_type_name_is_the_model_only_without_order_number() {
    // The 0x001C answer alone: index 7 "IM151-8 PN/DP CPU" becomes the model.
    let out = run(&[(S, RPS_SZL_001C_FRAG1), (S, RPS_SZL_001C_FRAG2)]);
    assert!(out.contains(&id(Field::Model, "IM151-8 PN/DP CPU", source::S7_SZL_001C)));
    assert!(out.contains(&id(Field::Vendor, "Siemens", source::S7_SZL_001C)));
    // After the 0x0011 answer it is not.
    let out = run(RPS_CONVERSATION);
    let models: Vec<_> = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Observation::Identity {
                    field: Field::Model,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(models.len(), 1);
}

#[test]
fn gap_in_the_client_direction_keeps_a_fragmented_answer() {
    // tia_s300_goOnline.pcapng lacks the client's empty DTs: the client stream has holes
    // while the PLC sends a fragmented answer.
    let mut d = S7Dissector::new("s7comm");
    let mut out = run_with(&mut d, &[(S, hex(RPS_SZL_001C_FRAG1))]);
    d.gap(C);
    out.extend(run_with(
        &mut d,
        &[(C, hex(RPS_SZL_NEXT_REQ)), (S, hex(RPS_SZL_001C_FRAG2))],
    ));
    assert!(out.contains(&id(Field::Hostname, "IM151-8-CPU", source::S7_SZL_001C)));
}

#[test]
fn gap_in_the_server_direction_resynchronises() {
    let mut d = S7Dissector::new("s7comm");
    let frag1 = hex(RPS_SZL_001C_FRAG1);
    // Half of the first fragment, then a hole, then the tail of it and a whole answer.
    let mut out = run_with(&mut d, &[(S, frag1[..100].to_vec())]);
    d.gap(S);
    let mut tail = frag1[150..].to_vec();
    tail.extend(hex(RPS_SZL_0011_RES));
    out.extend(run_with(&mut d, &[(S, tail)]));
    assert_eq!(violations(&out), 0);
    assert!(out.contains(&id(
        Field::Model,
        "6ES7 151-8AB01-0AB0",
        source::S7_SZL_0011
    )));
    // The orphaned last fragment is not misread as records.
    let out = run_with(&mut d, &[(S, hex(RPS_SZL_001C_FRAG2))]);
    assert!(out.is_empty());
}

#[test]
fn jobs_are_classified_by_function_and_pi_service() {
    use Operation::*;
    let cases: &[(&str, Observation)] = &[
        (STOP, opd(CpuStop, 0x29, &[("service", "PLC stop")])),
        (
            START,
            opd(CpuStart, 0x28, &[("service", "PI service P_PROGRAM")]),
        ),
        (
            COPY_RAM_TO_ROM,
            opd(
                ConfigChange,
                0x28,
                &[
                    ("service", "PI service _MODU"),
                    ("setting", "configuration"),
                ],
            ),
        ),
        (
            COMPRESS,
            opd(Control, 0x28, &[("service", "PI service _GARB")]),
        ),
        (
            REQUEST_DOWNLOAD,
            opd(
                ProgramDownload,
                0x1a,
                &[("service", "request download"), ("block", "OB1")],
            ),
        ),
        (
            DOWNLOAD_BLOCK,
            opd(
                ProgramDownload,
                0x1b,
                &[("service", "download block"), ("block", "OB1")],
            ),
        ),
        (
            DOWNLOAD_ENDED,
            opd(
                ProgramDownload,
                0x1c,
                &[("service", "download ended"), ("block", "OB1")],
            ),
        ),
        (
            INSERT,
            opd(
                ProgramDownload,
                0x28,
                &[("service", "PI service _INSE"), ("block", "OB1")],
            ),
        ),
        (
            DELETE,
            opd(
                ProgramDelete,
                0x28,
                &[("service", "PI service _DELE"), ("block", "SDB2000")],
            ),
        ),
        (
            START_UPLOAD,
            opd(
                ProgramUpload,
                0x1d,
                &[("service", "start upload"), ("block", "SDB0")],
            ),
        ),
        (UPLOAD, opd(ProgramUpload, 0x1e, &[("service", "upload")])),
        (
            END_UPLOAD,
            opd(ProgramUpload, 0x1f, &[("service", "end upload")]),
        ),
        (WRITE_VAR, op(Write, 0x05)),
        (READ_VAR, op(Read, 0x04)),
        (RPS_SETUP, Observation::FunctionCode(0xf0)),
    ];
    for (h, want) in cases {
        assert_eq!(run(&[(C, h)]), vec![want.clone()], "{h}");
    }
    // The upload jobs after a start upload name its block (snap7 frames 17, 19, 21).
    let out = run(&[(C, START_UPLOAD), (C, UPLOAD), (C, END_UPLOAD)]);
    let blocks = out.iter().filter(|o| {
        matches!(o, Observation::Operation { details, .. }
            if details.contains(&("block", "SDB0".to_string())))
    });
    assert_eq!(blocks.count(), 3);
}

#[test]
fn userdata_requests_are_classified_by_group_and_subfunction() {
    let cases: &[(&str, Observation)] = &[
        (READ_CLOCK, op(Operation::Read, 0x70701)),
        (
            SET_CLOCK,
            // tshark: "Timestamp: Feb  8, 2016 23:08:10.000".
            opd(
                Operation::TimeSync,
                0x70702,
                &[
                    ("service", "set clock"),
                    ("setting", "clock"),
                    ("value", "2016-02-08T23:08:10.000"),
                ],
            ),
        ),
        (LIST_BLOCKS, op(Operation::Read, 0x70301)),
        (BLOCK_INFO, op(Operation::Read, 0x70303)),
        (FLASH_LED, op(Operation::Control, 0x70116)),
        (RPS_SZL_0011_REQ, op(Operation::Identify, 0x70401)),
    ];
    for (h, want) in cases {
        assert_eq!(run(&[(C, h)]), vec![want.clone()], "{h}");
    }
    // Pushes from the PLC and answers carry no operation.
    assert!(run(&[(S, PUSH_DIAG), (S, PUSH_MODE), (S, ACK_ERROR)]).is_empty());
}

/// snap7 `ClearSessionPassword` (its S7_CLR_PWD telegram): security group 5, subfunction 2.
const CLEAR_PASSWORD: &str = "0300001d02f0803207000029000008000400011204114502000a000000";

#[test]
fn plc_password_is_a_security_change_without_the_secret() {
    let security = |service| {
        opd(
            Operation::ConfigChange,
            0x70500 | if service == "PLC password" { 1 } else { 2 },
            &[("service", service), ("setting", "security")],
        )
    };
    let out = run(&[(C, PASSWORD), (C, PASSWORD), (C, CLEAR_PASSWORD)]);
    assert_eq!(
        out,
        vec![
            Observation::CleartextLogin {
                user: String::new(),
                protocol: "s7comm",
            },
            security("PLC password"),
            security("PLC password"),
            security("clear PLC password"),
        ]
    );
    // The obfuscated password bytes (213a1b1d6e681b1d) appear nowhere.
    assert!(!format!("{out:?}").contains("213a"));
}

// tia_s300_downloadOb1.pcapng frames 57-66: TIA Portal downloads OB1 into an S7-300.
/// Frame 58: ack of the request download.
const REQUEST_DOWNLOAD_ACK: &str = "0300001402f08032030000bd0a0001000000001a";
/// Frame 60: the client's answer to the first download block job: 222 bytes of OB1, more
/// follow (tshark: function status 0x01, Length 222).
const DOWNLOAD_DATA_1: &str = concat!(
    "030000f702f08032030000bb00000200e200001b0100de00fb70700101030800010000014c000000000",
    "4d1d4e02dce03a1638321a7001c0014001a00d4ba00ba008100ff9800081202681e1b04681d682c681cff",
    "e0bf00ff9800081a0468061b08681d682c681cffe0bf00ff98002b100341600018fb7cfb790002fe6f00",
    "141a0c7e57000a1a087e570012380342a000007e570030380342a000007e570038fe0b840000007501fe",
    "6b00147e5300481b107e52004c13027e53004e1b14fb7c100400008000416000141067100941600019fb",
    "7cfb790001fe6f00150060001441500000300303e87e560002fe0b84000000fb760000fe6b",
);
/// Frame 61: the second download block job (from the PLC).
const DOWNLOAD_BLOCK_2: &str =
    "0300002302f08032010000bd00001200001b00000000000000095f3038303030303150";
/// Frame 62: the last 110 bytes (function status 0).
const DOWNLOAD_DATA_2: &str = concat!(
    "0300008702f08032030000bd000002007200001b00006e00fb00157e5200061302fb7c100a00008000b0",
    "008078817892786500010000140000000205020502050205020502050505050505050e05200500860042",
    "00040006000000030003000d0017000000000000000000000000000000000000000000000000000100593",
    "50000000000000000",
);
/// Frame 64: ack of download ended.
const DOWNLOAD_ENDED_ACK: &str = "0300001402f08032030000bf000001000000001c";

const DOWNLOAD_OB1: &[(Direction, &str)] = &[
    (C, REQUEST_DOWNLOAD),
    (S, REQUEST_DOWNLOAD_ACK),
    (S, DOWNLOAD_BLOCK),
    (C, DOWNLOAD_DATA_1),
    (S, DOWNLOAD_BLOCK_2),
    (C, DOWNLOAD_DATA_2),
    (S, DOWNLOAD_ENDED),
    (C, DOWNLOAD_ENDED_ACK),
    (C, INSERT),
];

/// SHA-256 of the 332 bytes of frames 60 and 62 (Length of load memory 000332 in frame 57),
/// computed apart with Python's hashlib over the bytes tshark shows as Data.
const OB1_SHA256: &str = "0a1b7e00bc6438667355002c8eb563544c0fc19607470abc5b384a1c9bc2761b";

fn downloads(out: &[Observation]) -> Vec<&Details> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Operation { details, .. }
                if details.iter().any(|(k, _)| *k == "sha256") =>
            {
                Some(details)
            }
            _ => None,
        })
        .collect()
}

fn details(pairs: &[(&'static str, &str)]) -> Details {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

#[test]
fn a_download_reports_the_hash_of_the_block_it_carried() {
    let out = run(DOWNLOAD_OB1);
    let dl = |code, service| {
        opd(
            Operation::ProgramDownload,
            code,
            &[("service", service), ("block", "OB1")],
        )
    };
    assert_eq!(
        out,
        vec![
            dl(0x1a, "request download"),
            dl(0x1b, "download block"),
            dl(0x1b, "download block"),
            dl(0x1c, "download ended"),
            opd(
                Operation::ProgramDownload,
                0x1b,
                &[("block", "OB1"), ("sha256", OB1_SHA256), ("bytes", "332")],
            ),
            dl(0x28, "PI service _INSE"),
        ]
    );
    assert_eq!(violations(&out), 0);
    // Byte by byte, the same.
    let segs: Vec<(Direction, Vec<u8>)> = DOWNLOAD_OB1
        .iter()
        .flat_map(|(d, h)| hex(h).into_iter().map(move |b| (*d, vec![b])))
        .collect();
    assert_eq!(run_with(&mut S7Dissector::new("s7comm"), &segs), out);
}

#[test]
fn a_download_cut_short_reports_what_it_hashed() {
    let first_part = |complete: Option<&str>| {
        // SHA-256 of frame 60's 222 bytes alone (hashlib again).
        let mut d = details(&[
            ("block", "OB1"),
            (
                "sha256",
                "086e67ef11ce6af8d25187125e92545e2d8d1a30088325244a5a8278fb8a3e18",
            ),
            ("bytes", "222"),
        ]);
        d.extend(complete.map(|c| ("complete", c.to_string())));
        d
    };
    // The capture lacks the client's empty DT TPDUs, so its client stream has holes: a gap
    // that loses no block data leaves the download whole (332 bytes as announced, every job
    // answered).
    let mut d = S7Dissector::new("s7comm");
    let segs = |r: &[(Direction, &str)]| -> Vec<(Direction, Vec<u8>)> {
        r.iter().map(|(d, h)| (*d, hex(h))).collect()
    };
    let mut out = run_with(&mut d, &segs(&DOWNLOAD_OB1[..4]));
    d.gap(C);
    out.extend(run_with(&mut d, &segs(&DOWNLOAD_OB1[4..])));
    assert_eq!(downloads(&run(DOWNLOAD_OB1)), downloads(&out));
    // A gap that swallowed the second answer: one job unanswered, 222 of 332 bytes.
    let mut d = S7Dissector::new("s7comm");
    let mut out = run_with(&mut d, &segs(&DOWNLOAD_OB1[..5]));
    d.gap(C);
    out.extend(run_with(&mut d, &segs(&DOWNLOAD_OB1[6..])));
    assert_eq!(downloads(&out), [&first_part(Some("false"))]);
    // A new request download before download ended: the first is reported incomplete.
    let mut conv = DOWNLOAD_OB1[..4].to_vec();
    conv.push((C, REQUEST_DOWNLOAD));
    assert_eq!(downloads(&run(&conv)), [&first_part(Some("false"))]);
    // A capture that starts at the second block: hashed from there, never complete.
    let out = run(&DOWNLOAD_OB1[4..]);
    assert_eq!(
        downloads(&out),
        [&details(&[
            ("block", "OB1"),
            (
                "sha256",
                "7817fe31cc9efc5611a89c55c7b3164b5a3f85fddcc7d28d2061ce140c05d825"
            ),
            ("bytes", "110"),
            ("complete", "false"),
        ])]
    );
    // A download without any block data reports no hash.
    assert!(downloads(&run(&[(C, REQUEST_DOWNLOAD), (S, DOWNLOAD_ENDED)])).is_empty());
}

#[test]
fn the_announced_load_memory_length_is_read_from_the_request() {
    // Frame 57: "Length of load memory: 000332".
    let pdu = hex(REQUEST_DOWNLOAD);
    assert_eq!(ops::announced_length(&pdu[17..]), Some(332));
    // A download block job announces nothing.
    assert_eq!(ops::announced_length(&hex(DOWNLOAD_BLOCK)[17..]), None);
}

#[test]
fn segmented_cotp_data_is_joined() {
    // The 0x0011 answer's S7 PDU split over two DT TPDUs, the first without EOT.
    let pdu = &hex(RPS_SZL_0011_RES)[7..];
    let dt = |eot: u8, part: &[u8]| {
        let len = (part.len() + 7) as u16;
        let mut v = vec![3, 0, (len >> 8) as u8, len as u8, 2, 0xf0, eot];
        v.extend_from_slice(part);
        v
    };
    let out = run_with(
        &mut S7Dissector::new("s7comm"),
        &[(S, dt(0x00, &pdu[..40])), (S, dt(0x80, &pdu[40..]))],
    );
    assert_eq!(violations(&out), 0);
    assert!(out.contains(&id(Field::Firmware, "V3.2.6", source::S7_SZL_0011)));
}

#[test]
fn plus_session_gives_order_number_and_firmware() {
    let out = run_plus(&[
        (C, PLUS_CR),
        (S, PLUS_CC),
        (C, PLUS_CREATE),
        (S, PLUS_CREATE_RES),
        (C, EMPTY_DT),
        (S, PLUS_SET_RES),
    ]);
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(0x04ca),
            id(Field::Model, "6ES7 511-1AK00-0AB0", source::S7_PLUS_SESSION),
            id(Field::Firmware, "V1.0", source::S7_PLUS_SESSION),
            id(Field::Vendor, "Siemens", source::S7_PLUS_SESSION),
        ]
    );
}

#[test]
fn plus_set_multi_variables_is_a_write_and_fragments_are_not_reread() {
    // A V2 SetMultiVariables request header (frame 9's first bytes) with a short body.
    let body = hex("310000054200000002000003883400000388");
    let pdu = |trailer: bool, data: &[u8]| plus_tpdu(2, data, trailer);
    let mut d = S7Dissector::new("s7comm_plus");
    // First fragment (no trailer), then a continuation whose data happens to look like a
    // request header: it must not be reported.
    let out = run_with(&mut d, &[(C, pdu(false, &body)), (C, pdu(true, &body))]);
    assert_eq!(out, vec![op(Operation::Write, 0x0542)]);
    let out = run_with(&mut d, &[(C, pdu(true, &body))]);
    assert_eq!(out, vec![op(Operation::Write, 0x0542)]);
}

#[test]
fn probe_decides_on_the_first_data_tpdu() {
    let p = |h: &[&str]| {
        let bytes: Vec<u8> = h.iter().flat_map(|x| hex(x)).collect();
        (probe(C, &bytes), probe_plus(C, &bytes))
    };
    use Probe::{NeedMore, No, Yes};
    // The CR (or CC) alone cannot tell S7comm from S7comm-plus or MMS.
    assert_eq!(p(&[RPS_CR]), (NeedMore, NeedMore));
    assert_eq!(p(&[RPS_CC]), (NeedMore, NeedMore));
    assert_eq!(p(&[PLUS_CR]), (NeedMore, NeedMore));
    assert_eq!(p(&[MMS_CR]), (NeedMore, NeedMore));
    // Then the first DT decides.
    assert_eq!(p(&[RPS_CR, RPS_SETUP]), (Yes, No));
    assert_eq!(p(&[RPS_CC, RPS_SETUP_ACK]), (Yes, No));
    assert_eq!(p(&[PLUS_CR, PLUS_CREATE]), (No, Yes));
    assert_eq!(p(&[PLUS_CC, PLUS_CREATE_RES]), (No, Yes));
    assert_eq!(p(&[MMS_CR, MMS_CONNECT]), (No, No));
    assert_eq!(p(&[MMS_CC]), (NeedMore, NeedMore));
    // Mid-connection captures: the first DT alone.
    assert_eq!(p(&[READ_VAR]), (Yes, No));
    assert_eq!(p(&[EMPTY_DT, READ_VAR]), (Yes, No));
    assert_eq!(p(&[PLUS_SET_RES]), (No, Yes));
    assert_eq!(p(&[EMPTY_DT]), (NeedMore, NeedMore));
    // Other protocols.
    assert_eq!(p(&[RDP_CR]), (No, No));
    assert_eq!(probe(C, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), No);
    assert_eq!(probe(C, &hex("16030100a5010000a10303")), No);
    assert_eq!(probe(C, &[]), NeedMore);
    assert_eq!(probe(C, &hex("0300")), NeedMore);
    assert_eq!(probe(C, &hex("03000019")), NeedMore);
    assert_eq!(probe(C, &hex("0300001902f080")), NeedMore);
    // A TPKT whose COTP code is not class 0 TPDU.
    assert_eq!(probe(C, &hex("0300001902aa80")), No);
    // An S7 header whose lengths do not fit the TPDU.
    let mut bad = hex(READ_VAR);
    bad[16] ^= 0x10;
    assert_eq!(probe(C, &bad), No);
    // A segment boundary inside the CR.
    assert_eq!(probe(C, &hex(RPS_CR)[..10]), NeedMore);
}

#[test]
fn well_formed_traffic_has_no_violations() {
    let all = [
        RPS_CR,
        RPS_CC,
        RPS_SETUP,
        RPS_SETUP_ACK,
        EMPTY_DT,
        STOP,
        START,
        COPY_RAM_TO_ROM,
        COMPRESS,
        INSERT,
        DELETE,
        UPLOAD,
        WRITE_VAR,
        READ_VAR,
        ACK_ERROR,
        READ_CLOCK,
        SET_CLOCK,
        PASSWORD,
        FLASH_LED,
        PUSH_DIAG,
        PUSH_MODE,
    ];
    let segs: Vec<_> = all.iter().map(|h| (C, *h)).collect();
    assert_eq!(violations(&run(&segs)), 0);
    let plus = [
        PLUS_CR,
        PLUS_CC,
        PLUS_CREATE,
        PLUS_CREATE_RES,
        EMPTY_DT,
        PLUS_SET_RES,
    ];
    let segs: Vec<_> = plus.iter().map(|h| (S, *h)).collect();
    assert_eq!(violations(&run_plus(&segs)), 0);
}

#[test]
fn malformations_are_violations_and_parsing_resumes() {
    // A broken TPKT version, then a good PDU: one violation, and the read is still seen.
    let mut seg = hex("0400001902f080");
    seg.extend(hex(READ_VAR));
    let out = run_with(&mut S7Dissector::new("s7comm"), &[(C, seg)]);
    assert_eq!(violations(&out), 1);
    assert!(out.contains(&op(Operation::Read, 4)));

    // S7 lengths that disagree with the TPDU.
    let mut bad = hex(READ_VAR);
    bad[16] ^= 0x01;
    assert_eq!(
        violations(&run_with(&mut S7Dissector::new("s7comm"), &[(C, bad)])),
        1
    );
    // Unknown ROSCTR.
    let mut bad = hex(READ_VAR);
    bad[8] = 0x05;
    assert_eq!(
        violations(&run_with(&mut S7Dissector::new("s7comm"), &[(C, bad)])),
        1
    );
    // A DT that carries something else (MMS on an S7 connection).
    assert_eq!(violations(&run(&[(C, MMS_CONNECT)])), 1);
    // A COTP length indicator past the TPKT.
    assert_eq!(violations(&run(&[(C, "0300000709f000")])), 1);
    // TPKT length below the minimum.
    assert_eq!(violations(&run(&[(C, "0300000402f000")])), 1);
    // A flood is capped.
    let junk: Vec<_> = (0..50).map(|_| (C, "0300000709f000")).collect();
    assert_eq!(violations(&run(&junk)), usize::from(super::Violations::CAP));
}

#[test]
fn oversized_segmented_pdu_is_dropped_without_unbounded_buffering() {
    let mut d = S7Dissector::new("s7comm");
    let seg = {
        let part = vec![0x32u8; 1000];
        let len = (part.len() + 7) as u16;
        let mut v = vec![3, 0, (len >> 8) as u8, len as u8, 2, 0xf0, 0x00];
        v.extend(part);
        v
    };
    for _ in 0..40 {
        run_with(&mut d, &[(C, seg.clone())]);
        assert!(d.sides[0].segment.len() <= MAX_SEGMENTED);
    }
    // The end of that PDU is dropped, and the next PDU is read normally.
    let out = run_with(&mut d, &[(C, hex("0300000802f08032")), (C, hex(READ_VAR))]);
    assert_eq!(out, vec![op(Operation::Read, 4)]);
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    let msgs: Vec<Vec<u8>> = [
        RPS_CR,
        RPS_CC,
        RPS_SETUP,
        RPS_SETUP_ACK,
        EMPTY_DT,
        RPS_SZL_0011_REQ,
        RPS_SZL_0011_RES,
        RPS_SZL_001C_REQ,
        RPS_SZL_001C_FRAG1,
        RPS_SZL_NEXT_REQ,
        RPS_SZL_001C_FRAG2,
        STOP,
        START,
        COPY_RAM_TO_ROM,
        INSERT,
        DELETE,
        WRITE_VAR,
        PASSWORD,
        FLASH_LED,
        PUSH_MODE,
        PLUS_CR,
        PLUS_CREATE,
        PLUS_CREATE_RES,
        PLUS_SET_RES,
        MMS_CONNECT,
        REQUEST_DOWNLOAD,
        DOWNLOAD_BLOCK,
        DOWNLOAD_DATA_1,
        DOWNLOAD_ENDED,
        SET_CLOCK,
        CLEAR_PASSWORD,
        START_UPLOAD,
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    never_panics(&SPEC, &flow(), &refs);
    never_panics(&PLUS_SPEC, &flow(), &refs);
    for m in &refs {
        for n in 0..=m.len() {
            let _ = probe(C, &m[..n]);
            let _ = probe_plus(S, &m[..n]);
        }
    }
    // Valid TPKT + DT framing around random S7 and S7comm-plus bodies, after an SZL
    // fragment so continuations are exercised too; lengths inside lie freely.
    let mut x: u32 = 0x1234_5678;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for i in 0..2000 {
        let len = (rnd() % 300) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        if let Some(b) = body.first_mut() {
            *b = [0x32, 0x72][i % 2];
        }
        if let Some(b) = body.get_mut(1) {
            *b = [1, 2, 3, 7][(rnd() % 4) as usize];
        }
        let total = (body.len() + 7) as u16;
        let mut seg = vec![3, 0, (total >> 8) as u8, total as u8, 2, 0xf0, 0x80];
        seg.extend(body);
        let _ = probe(C, &seg);
        let _ = probe_plus(C, &seg);
        let mut d = S7Dissector::new(if i % 2 == 0 { "s7comm" } else { "s7comm_plus" });
        run_with(&mut d, &[(S, hex(RPS_SZL_001C_FRAG1)), (S, seg.clone())]);
        run_with(&mut d, &[(C, seg)]);
    }
}

/// python-snap7's emulated S7-300 answers SZL 0x0011 with 26-byte records (no Ausbe) and a
/// NUL-padded order number; tshark decodes "MlfB: 6ES7 315-2EH14-0AB0" from the same bytes.
const SNAP7_SZL_0011_REQ: &str =
    "0300002102f080320700000004000800080001120411440100ff09000400110000";
const SNAP7_SZL_0011_RES: &str = "0300004302f080320700000004000c0026000112081284010000000000ff09002200110000001a0001000136455337203331352d32454831342d304142300000030300";

#[test]
fn short_module_records_from_an_emulated_cpu_still_give_the_order_number() {
    let out = run(&[
        (C, RPS_CR),
        (S, RPS_CC),
        (C, SNAP7_SZL_0011_REQ),
        (S, SNAP7_SZL_0011_RES),
    ]);
    assert!(
        out.contains(&id(
            Field::Model,
            "6ES7 315-2EH14-0AB0",
            source::S7_SZL_0011
        )),
        "{out:?}"
    );
    assert_eq!(violations(&out), 0);
}

/// One DT TPDU carrying an S7comm-plus PDU of `version` with `data`, with or without trailer.
fn plus_tpdu(version: u8, data: &[u8], trailer: bool) -> Vec<u8> {
    let mut p = vec![0x72, version];
    p.extend_from_slice(&(data.len() as u16).to_be_bytes());
    p.extend_from_slice(data);
    if trailer {
        p.extend_from_slice(&[0x72, version, 0, 0]);
    }
    let len = (p.len() + 7) as u16;
    let mut v = vec![3, 0, (len >> 8) as u8, len as u8, 2, 0xf0, 0x80];
    v.extend(p);
    v
}

/// s7comm-plus/S7-1200-Uploading-OB1-TIAV12.pcap frame 127, the first 413 data bytes: TIA
/// Portal's CreateObject under the PLC program (request id 3) of a ProgramCycleOB (class
/// 0x9457 = 2647) named "Main" (attribute 233), up to Block.BlockNumber (2521) = 1.
const PLUS_CREATE_OB1: &str = concat!(
    "31000004ca00000027000003c0340000000300040000000000a18a32000194572000a381690015044d61",
    "696ea39315000589d0b2d1b5919f8ce8a3931600048b7ea39311001400820a9800000278f95814b03b7d",
    "955d6bc3201486ff4ae91f989f894216d8ca02852ebb88f7e3106c16969ad19941fffd4e24b49dabbd11",
    "7cceabc78ff7e8ff8360e1209e263fd6c122cb255c81683792712a895222d39a33c2a2ddcc6de3e1f015",
    "9668c8e3fa7a88929c6ab15e199ae0ecc273c628e1045320e709bd48e8e5cc31c064468912544b91a3ef",
    "4c96e07982ab503246df7970d2aeddda76f361dbcf4572eedebdc4b7e7f7cde8be3d38bfaa43a1227985",
    "de2dd1adf3f6b88736146b598f6e4e1ed18b13aab826826b77e0ba093abbb33f7628f137ba410b03c7ce",
    "fa0a0efd702a1b7c8308291efec0e2a5a926d77a5c3f0cbd3f2dd3a1256e06501e250eca28edd9abbfc3",
    "becf50a39313000424a3a140401500a3936f000589d0b2cf86a6cd8aa8a3a13f401588081d20224d6169",
    "6e2050726f6772616d20537765657020284379636c65292200a3935900030001a3935a",
);

#[test]
fn plus_block_creation_under_the_program_is_a_download() {
    let mut d = S7Dissector::new("s7comm_plus");
    let out = run_with(&mut d, &[(C, plus_tpdu(2, &hex(PLUS_CREATE_OB1), false))]);
    assert_eq!(
        out,
        vec![opd(
            Operation::ProgramDownload,
            0x04ca,
            &[("service", "CreateObject"), ("block", "OB1")]
        )]
    );
    // The session's CreateObject (frame 6 of the HMI capture) is not.
    assert_eq!(
        run_plus(&[(C, PLUS_CREATE)]),
        vec![Observation::FunctionCode(0x04ca)]
    );
}

/// s7comm-plus/V13_1200_TP1200sim_Timer_sync.pcapng frame 43: a V2 SetVariable of object
/// 0x1000006A, attribute 1053 (SubscriptionCreditLimit), Int 6 (the PDU's data, without
/// trailer).
const PLUS_SET_VARIABLE: &str = concat!(
    "31000004f20000000500000398741000006a01881d00070006000004e88969001200000000896a001300",
    "896b000400000000000000",
);

#[test]
fn plus_operating_state_requests_stop_and_start_the_cpu() {
    // Frame 43 as it is: a write.
    let out = run_with(
        &mut S7Dissector::new("s7comm_plus"),
        &[(C, plus_tpdu(2, &hex(PLUS_SET_VARIABLE), true))],
    );
    assert_eq!(out, vec![op(Operation::Write, 0x04f2)]);
    // The same request aimed at CPUexecUnit (52).operatingStateReq (2167 = VLQ 90 77) with
    // DInt (0x08) 1 or 3, as S7CommPlusDriver's SetPlcOperatingState sends it.
    let mode = |value: &str| {
        let data = PLUS_SET_VARIABLE.replace(
            "1000006a01881d00070006",
            &format!("0000003401907700{value}"),
        );
        run_with(
            &mut S7Dissector::new("s7comm_plus"),
            &[(C, plus_tpdu(2, &hex(&data), true))],
        )
    };
    let service = ("service", "SetVariable CPUexecUnit.operatingStateReq");
    assert_eq!(
        mode("0801"),
        vec![opd(Operation::CpuStop, 0x04f2, &[service, ("value", "1")])]
    );
    assert_eq!(
        mode("0803"),
        vec![opd(Operation::CpuStart, 0x04f2, &[service, ("value", "3")])]
    );
    assert_eq!(
        mode("0805"),
        vec![opd(Operation::Control, 0x04f2, &[service, ("value", "5")])]
    );
}
