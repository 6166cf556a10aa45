//! Tests of the PROFINET IO dissector on real datagrams and frames, expected values read from
//! `tshark -V` of the same frames. Sources (cisagov/icsnpp-profinet-io-cm testing/traces,
//! BSD-3-Clause; ITI/ICS-Security-Tools, CC-BY-4.0):
//! - mixed/profinet_io_cm_mixed_2.pcapng (cut to tests/data/profinet_io_cm_ar.pcapng): one AR
//!   from Connect to Release between a PC WORX RT soft PLC (192.168.1.3) and a GE VersaMax PNS
//!   (192.168.1.2), with the device's ApplicationReady call back, cyclic frames and alarms;
//! - profinet/profinet.pcap (tests/data): a ReadImplicit of I&M0FilterData, little-endian.
//!
//! Datagrams marked "built" have no example in the corpus (no capture holds an I&M0 answer,
//! an I&M1 write or an alarm notification): [`pdu`] and [`block`] assemble them from the field
//! layouts, and each was written into a pcap and checked with `tshark -V`.

use super::blocks::*;
use super::connect::*;
use super::rpc::*;
use super::rt::{self, AlarmNotification, FrameClass, RtaPdu};
use super::*;
use crate::protocols::testing::{ctx, datagram, hex, id, never_panics, speaks};
use crate::protocols::Transport;
use otwatch_common::observation::Role;

// mixed/profinet_io_cm_mixed_2.pcapng: the controller 192.168.1.3:65151 calls the device on
// 192.168.1.2:34964, which answers from port 49152; reads and writes go to 49152.
/// frame 459: Connect request, big-endian, to device object 0x015a/0x0003 instance 1: ARBlockReq
/// (IOCARSingle, initiator 00:a0:45:6d:d3:43, object vendor 0x00b0 device 0x003c,
/// "pc-worx-rt-basic-6d-d3-43"), input CR 0xc002 and output CR 0xffff, two
/// ExpectedSubmoduleBlockReq (slot 0: six submodules; slot 1: 0xffff8140), AlarmCRBlockReq.
const CONNECT_REQ: &str = "
    0400200000000000dea000006c9711d1827100010003015adea000016c9711d1827100a02442df7d13142f9000001000
    a994d2106890ca5a0000000000000001000000000000ffffffff01c90000000000001000000001b50000100000000000
    000001b50101004f010000017c74224e166c4a58bf6b6c25a75870f0000100a0456dd343dea000006c9711d182710001
    003c00b00000001102588892001970632d776f72782d72742d62617369632d36642d64332d3433010200560100000100
    018892000000010028c0020020000800070000ffffffff00180018c00000000000000000010000000000040000000100
    0200008000000900008001000a00008002000b0002000000010000000100010001010200560100000200028892000000
    010028ffff0020000800080000ffffffff00180018c00000000000000000010000000000020000000100060001000100
    0b00040000000100000000800000030000800100040000800200050104006c0100000100000000000000000001000000
    0600010000000100030001000401010002000401010002ffff010a00000001000001010003ffff010a00000001000001
    018000001000000000000100000101800100010000000000010000010180020002000000000001000001010104002001
    000001000000000001ffff8140000000010001ffff814000020002000101010103001601000001889200000000000500
    03800100c8c000a000
";
/// frame 463: its answer, little-endian, from port 49152: ARBlockRes (responder
/// 00:09:91:43:e0:67), IOCRBlockRes input 0xc002 and output 0xc000, AlarmCRBlockRes,
/// ModuleDiffBlock.
const CONNECT_RES: &str = "
    04022800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7d902f141300000010
    a994d2106890ca5a0200000001000000000000000000ffffffff8c000000000000000000780000000010000000000000
    780000008101001e010000017c74224e166c4a58bf6b6c25a75870f0000100099143e067889281020008010000010001
    c00281020008010000020002c0008103000801000001800100c88104002e010000010000000000020000000000010002
    000100020000000098000001ffff8140000200010001ffff81408040
";
/// frame 479: Write request, MultipleWrite (0xe040) of index 0x01f4 on slot 0/1 (30 octets), 0x01f4
/// on slot 1/1 (41) and 0x01ff on slot 1/1 (3).
const WRITE_REQ: &str = "
    0400200000000000dea000006c9711d1827100010003015adea000016c9711d1827100a02442df7d13142f9000001000
    a994d2106890ca5a0000000000000001000000010003ffffffff016300000000000010000000014f0000100000000000
    0000014f0008003c010000007c74224e166c4a58bf6b6c25a75870f000000000000000010000e0400000010f00000000
    00000000000000000000000000000000000000000008003c010000017c74224e166c4a58bf6b6c25a75870f000000000
    00000001000001f40000001e00000000000000000000000000000000000000000000000000f401000000000000000000
    00000000000000000000000000000000000000000008003c010000027c74224e166c4a58bf6b6c25a75870f000000000
    00010001000001f40000002900000000000000000000000000000000000000000000000000ff0124ffff814023000000
    01000000000003000000020000000000011200000100220000000000000000000008003c010000037c74224e166c4a58
    bf6b6c25a75870f00000000000010001000001ff00000003000000000000000000000000000000000000000000000000
    002600
";
/// frame 480: its answer: the MultipleWrite result and one result a record, all OK.
const WRITE_RES: &str = "
    04022800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7d902f141300000010
    a994d2106890ca5a0200000001000000010000000300ffffffff14010000000000000000000100000010000000000000
    000100008008003c010000007c74224e166c4a58bf6b6c25a75870f000000000000000010000e040000000c000000000
    00000000000000000000000000000000000000008008003c010000017c74224e166c4a58bf6b6c25a75870f000000000
    00000001000001f4000000000000000000000000000000000000000000000000000000008008003c010000027c74224e
    166c4a58bf6b6c25a75870f00000000000010001000001f4000000000000000000000000000000000000000000000000
    000000008008003c010000037c74224e166c4a58bf6b6c25a75870f00000000000010001000001ff0000000000000000
    0000000000000000000000000000000000000000
";
/// frame 496: Control request, IODControlReq PrmEnd (block 0x0110, command 0x0001).
const PRM_END_REQ: &str = "
    0400200000000000dea000006c9711d1827100010003015adea000016c9711d1827100a02442df7d13142f9000001000
    a994d2106890ca5a0000000000000001000000020004ffffffff00340000000000001000000000200000100000000000
    000000200110001c010000007c74224e166c4a58bf6b6c25a75870f00001000000010000
";
/// frame 500: its answer, IODControlRes with command Done (0x0008).
const PRM_END_RES: &str = "
    04022800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7d902f141300000010
    a994d2106890ca5a0200000001000000020000000400ffffffff34000000000000000000200000000010000000000000
    200000008110001c010000007c74224e166c4a58bf6b6c25a75870f00001000000080000
";
/// frame 547: Read request of PDRealData (0xf841), api 0 slot 0 subslot 0, 4096 octets at most.
const READ_REQ: &str = "
    0400200000000000dea000006c9711d1827100010003015adea000016c9711d1827100a02442df7d13142f9000001000
    a994d2106890ca5a0000000000000001000000030002ffffffff00540000000000001000000000400000100000000000
    000000400009003c010000047c74224e166c4a58bf6b6c25a75870f000000000000000000000f8410000100000000000
    0000000000000000000000000000000000000000
";
/// frame 548: its answer, 224 octets of PDRealData.
const READ_RES: &str = "
    04022800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7d902f141300000010
    a994d2106890ca5a0200000001000000030000000200ffffffff34010000000000000000200100000010000000000000
    200100008009003c010000047c74224e166c4a58bf6b6c25a75870f000000000000000000000f841000000e000000000
    0000000000000000000000000000000000000000040000380100000000000000000080000240002801000e7665727361
    6d61782d706e73313100000000099143e0670000c0a80102ffffff00c0a8010204000064010000000000000000008001
    020f0054010000000000800108706f72742d30303101000008706f72742d303034137369656d656e732d783230382d73
    776974636800000000000000000e8cef75c5000000100000000000000000000000010000000000010400003801000000
    0000000000008002020f0028010000000000800208706f72742d30303200000000000000000000000000000000020000
    00000001
";
/// frame 557: Release request, IODReleaseReq (block 0x0114, command Release 0x0004).
const RELEASE_REQ: &str = "
    0400200000000000dea000006c9711d1827100010003015adea000016c9711d1827100a02442df7d13142f9000001000
    a994d2106890ca5a0000000000000001000000040001ffffffff00340000000000001000000000200000100000000000
    000000200114001c010000007c74224e166c4a58bf6b6c25a75870f00001000000040000
";
/// frame 559: its answer, IODReleaseRes (command Done).
const RELEASE_RES: &str = "
    04022800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7d902f141300000010
    a994d2106890ca5a0200000001000000040000000100ffffffff34000000000000000000200000000010000000000000
    200000008114001c010000007c74224e166c4a58bf6b6c25a75870f00001000000080000
";

// tests/data/profinet_io_cm_ar.pcapng (mixed_2 frames 503 and 519): the device
// 192.168.1.2:1025 calls the controller interface of 192.168.1.3:34964 with ApplicationReady
// (object: the controller's, vendor 0x00b0 device 0x003c), answered from port 65151.
/// ApplicationReady request, little-endian: IOXBlockReq (0x0112, command 0x0002),
/// ModuleDiffBlock.
const APP_READY_REQ: &str = "
    04002800100000000000a0de976cd11182710001003c00b00200a0de976cd111827100a02442df7d08ae5f2d07000010
    800100099143e0670000000001000000000000000400ffffffff66000000000052000000520000005200000000000000
    520000000112001c010000007c74224e166c4a58bf6b6c25a75870f000010000000200008104002e0100000100000000
    00020000000000010002000100020000000098000001ffff8140000200010001ffff81408040
";
/// Its answer, big-endian: IOXBlockRes (0x8112, command Done).
const APP_READY_RES: &str = "
    04020a0000000000dea000006c9711d182710001003c00b0dea000026c9711d1827100a02442df7d2d5fae0800071000
    800100099143e06751f8def200000001000000000004ffffffff00340000000000000000000000200000005200000000
    000000208112001c010000007c74224e166c4a58bf6b6c25a75870f00001000000080000
";

// profinet/profinet.pcap: 10.10.0.150 reads implicitly from 10.10.0.129 (the same VersaMax
// object, vendor 0x015a device 0x0003), little-endian.
/// frame 1: ReadImplicit request of I&M0FilterData (0xf840), api 0 slot 0 subslot 1.
const READ_IMPLICIT_REQ: &str = "
    04000800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7ddbabbaec1d005443
    b2500b01630abafd0000000001000000000000000500ffffffff54000000000040800000400000004080000000000000
    400000000009003c0100000a0000000000000000000000000000000000000000000000010000f8400000800000000000
    0000000000000000000000000000000000000000
";
/// frame 2: its answer, 104 octets of I&M0FilterData (submodule, module and device lists).
const READ_IMPLICIT_RES: &str = "
    04022800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7ddbabbaec1d005443
    b2500b01630abafd0100000001000000000000000500ffffffffbc000000000000000000a80000004080000000000000
    a80000008009003c0100000a0000000000000000000000000000000000000000000000010000f8400000006800000000
    00000000000000000000000000000000000000000030002c010000010000000000020000000000010002000100000001
    0003ffff010a0001ffff814000010001ffff814000310018010000010000000000010001ffff814000010001ffff8140
    00320018010000010000000000010000000000010001000100000001
";

// RT frames of tests/data/profinet_io_cm_ar.pcapng, from the FrameID on.
/// frame 24: cyclic output data of the controller 00:a0:45:6d:d3:43 (FrameID 0xc000), 40
/// octets of IO data, then CycleCounter 50912, DataStatus 0x35, TransferStatus 0.
const CYCLIC: &str = "
    c00080000080808000000000800080000000000000000000000000000000000000000000000000000000c6e03500
";
/// frame 113: the device's ERR-RTA-PDU on the low alarm channel as the AR is released:
/// endpoints 0x8001, PNIOStatus 0xcf81fd0f ("AR release.ind received"), then padding.
const ALARM_ERR: &str = "
    fe01800180011401fffffffe0004cf81fd0f00000000000000000000000000000000000000000000000000000000
";
/// frame 15: PTCP DelayReq (FrameID 0xff40) from the device's port MAC 00:09:91:43:e0:68.
const PTCP_DELAY: &str = "
    ff4000000000000000000000000000230000000000000c0600099143e06800000000000000000000000000000000
";

const ALL: &[&str] = &[
    CONNECT_REQ,
    CONNECT_RES,
    WRITE_REQ,
    WRITE_RES,
    PRM_END_REQ,
    PRM_END_RES,
    READ_REQ,
    READ_RES,
    RELEASE_REQ,
    RELEASE_RES,
    APP_READY_REQ,
    APP_READY_RES,
    READ_IMPLICIT_REQ,
    READ_IMPLICIT_RES,
];

/// The AR's UUID in every block of the capture.
const AR_UUID: &str = "7c74224e-166c-4a58-bf6b-6c25a75870f0";

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

/// The first calls' flow: controller 192.168.1.3:65151 to the device's port 34964.
fn cm() -> FlowCtx {
    ctx(Transport::Udp, "192.168.1.3:65151", "192.168.1.2:34964")
}

fn run(dir: Direction, ctx: &FlowCtx, h: &str) -> Vec<Observation> {
    datagram(&mut PnioDissector::default(), dir, ctx, &hex(h))
}

fn op(op: Operation, code: u32, details: &[(&'static str, &str)]) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: details.iter().map(|&(k, v)| (k, v.to_owned())).collect(),
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

/// A Write of `bytes` octets to `object`.
fn write(object: &str, bytes: &str) -> Observation {
    op(
        Operation::Write,
        3,
        &[("service", "Write"), ("object", object), ("bytes", bytes)],
    )
}

/// The arguments after the CL and NDR headers of a whole call.
fn args(h: &str) -> Vec<u8> {
    hex(h)[HEADER_LEN + NDR_LEN..].to_vec()
}

#[test]
fn cl_header_and_ndr_of_a_big_endian_connect() {
    let data = hex(CONNECT_REQ);
    let Pdu { header: h, body } = parse(&data).unwrap();
    assert_eq!(h.ptype, PacketType::REQUEST);
    assert_eq!((h.flags1, h.flags2), (flags1::IDEMPOTENT, 0));
    assert_eq!((h.drep, h.endian), ([0, 0, 0], Endian::Big));
    assert_eq!(h.object.to_string(), "dea00000-6c97-11d1-8271-00010003015a");
    assert_eq!(
        ObjectId::of(&h.object),
        Some(ObjectId {
            instance: 1,
            device_id: 0x0003,
            vendor_id: 0x015a
        })
    );
    assert_eq!(Interface::of(&h.interface), Some(Interface::Device));
    assert_eq!(
        h.activity.to_string(),
        "13142f90-0000-1000-a994-d2106890ca5a"
    );
    assert_eq!((h.server_boot, h.interface_version, h.seq), (0, 1, 0));
    assert_eq!(
        (h.opnum, h.interface_hint, h.activity_hint),
        (0, 0xffff, 0xffff)
    );
    assert_eq!(
        (h.body_len, h.fragment_num, h.auth_proto, h.serial),
        (457, 0, 0, 0)
    );
    assert!(h.is_whole() && h.starts_call());
    assert_eq!(body.len(), 457);
    let (ndr, rest) = Ndr::parse(body, h.endian, true).unwrap();
    assert_eq!(
        ndr,
        Ndr {
            args_max: Some(4096),
            status: None,
            args_len: 437,
            max_count: 4096,
            offset: 0,
            actual_count: 437
        }
    );
    assert_eq!(ndr.check(rest.len(), true), Ok(()));
}

#[test]
fn little_endian_header_reads_the_same_uuids() {
    let data = hex(CONNECT_RES);
    let Pdu { header: h, body } = parse(&data).unwrap();
    assert_eq!(h.ptype, PacketType::RESPONSE);
    assert_eq!(h.flags1, flags1::NO_FACK | flags1::IDEMPOTENT);
    assert_eq!((h.drep, h.endian), ([0x10, 0, 0], Endian::Little));
    assert_eq!(h.object.to_string(), "dea00000-6c97-11d1-8271-00010003015a");
    assert_eq!(h.interface, Interface::Device.uuid());
    assert_eq!(
        h.activity.to_string(),
        "13142f90-0000-1000-a994-d2106890ca5a"
    );
    assert_eq!(
        (h.server_boot, h.interface_version, h.seq, h.body_len),
        (2, 1, 0, 140)
    );
    let (ndr, rest) = Ndr::parse(body, h.endian, false).unwrap();
    assert_eq!(ndr.status, Some(PnioStatus([0; 4])));
    assert_eq!(
        (ndr.args_len, ndr.max_count, ndr.actual_count),
        (120, 4096, 120)
    );
    assert_eq!(ndr.check(rest.len(), true), Ok(()));
}

#[test]
fn blocks_of_a_connect_request() {
    let a = args(CONNECT_REQ);
    let all: Vec<Block<'_>> = blocks(&a).map(Result::unwrap).collect();
    let types: Vec<u16> = all.iter().map(|b| b.ty).collect();
    assert_eq!(types, [0x0101, 0x0102, 0x0102, 0x0104, 0x0104, 0x0103]);
    assert!(all.iter().all(|b| b.version == (1, 0)));

    let ar = ArBlockReq::parse(&all[0]).unwrap();
    assert_eq!(ar.ar_type, ar_type::IOCAR_SINGLE);
    assert_eq!(ar.ar_uuid.to_string(), AR_UUID);
    assert_eq!(ar.session_key, 1);
    assert_eq!(ar.initiator_mac, mac("00:a0:45:6d:d3:43"));
    assert_eq!(
        ObjectId::of(&ar.initiator_object),
        Some(ObjectId {
            instance: 1,
            device_id: 0x003c,
            vendor_id: 0x00b0
        })
    );
    assert_eq!(ar.properties, 0x0000_0011);
    assert_eq!((ar.activity_timeout_factor, ar.udp_rt_port), (600, 0x8892));
    assert_eq!(ar.station_name, b"pc-worx-rt-basic-6d-d3-43");

    let input = IocrBlockReq::parse(&all[1]).unwrap();
    assert_eq!(
        (input.iocr_type, input.reference, input.lt, input.rt_class()),
        (iocr_type::INPUT, 1, 0x8892, 1)
    );
    assert_eq!((input.data_length, input.frame_id), (40, 0xc002));
    assert_eq!(
        (input.send_clock_factor, input.reduction_ratio, input.phase),
        (32, 8, 7)
    );
    assert_eq!(input.frame_send_offset, 0xffff_ffff);
    assert_eq!((input.watchdog_factor, input.data_hold_factor), (24, 24));
    assert_eq!(input.multicast_mac, Mac::ZERO);
    assert_eq!((input.apis, input.io_data_objects, input.iocs), (1, 4, 2));
    let output = IocrBlockReq::parse(&all[2]).unwrap();
    assert_eq!(
        (output.iocr_type, output.frame_id, output.phase),
        (iocr_type::OUTPUT, 0xffff, 8)
    );
    assert_eq!((output.io_data_objects, output.iocs), (2, 4));

    let mut subs = Vec::new();
    assert_eq!(expected_submodules(&all[3], |s| subs.push(s)), Ok(6));
    assert_eq!(expected_submodules(&all[4], |s| subs.push(s)), Ok(1));
    let short: Vec<(u16, u32, u16, u32, u16)> = subs
        .iter()
        .map(|s| {
            (
                s.slot,
                s.module_ident,
                s.subslot,
                s.submodule_ident,
                s.io_type,
            )
        })
        .collect();
    assert_eq!(
        short,
        [
            (0, 1, 0x0001, 0x0000_0001, 3),
            (0, 1, 0x0002, 0xffff_010a, 0),
            (0, 1, 0x0003, 0xffff_010a, 0),
            (0, 1, 0x8000, 0x0010_0000, 0),
            (0, 1, 0x8001, 0x0001_0000, 0),
            (0, 1, 0x8002, 0x0002_0000, 0),
            (1, 0xffff_8140, 0x0001, 0xffff_8140, 2),
        ]
    );
    assert!(subs.iter().all(|s| s.api == 0));

    let alarm = AlarmCrBlockReq::parse(&all[5]).unwrap();
    assert_eq!(
        alarm,
        AlarmCrBlockReq {
            alarm_cr_type: 1,
            lt: 0x8892,
            properties: 0,
            rta_timeout_factor: 5,
            rta_retries: 3,
            local_alarm_reference: 0x8001,
            max_alarm_data_length: 200,
            tag_header_high: 0xc000,
            tag_header_low: 0xa000,
        }
    );
}

#[test]
fn blocks_of_a_connect_answer() {
    let a = args(CONNECT_RES);
    let all: Vec<Block<'_>> = blocks(&a).map(Result::unwrap).collect();
    let types: Vec<u16> = all.iter().map(|b| b.ty).collect();
    assert_eq!(types, [0x8101, 0x8102, 0x8102, 0x8103, 0x8104]);
    let ar = ArBlockRes::parse(&all[0]).unwrap();
    assert_eq!(ar.ar_type, ar_type::IOCAR_SINGLE);
    assert_eq!(ar.ar_uuid.to_string(), AR_UUID);
    assert_eq!(ar.session_key, 1);
    assert_eq!(ar.responder_mac, mac("00:09:91:43:e0:67"));
    assert_eq!(ar.udp_rt_port, 0x8892);
    let crs: Vec<IocrBlockRes> = all[1..3]
        .iter()
        .map(|b| IocrBlockRes::parse(b).unwrap())
        .collect();
    assert_eq!(
        crs,
        [
            IocrBlockRes {
                iocr_type: iocr_type::INPUT,
                reference: 1,
                frame_id: 0xc002
            },
            IocrBlockRes {
                iocr_type: iocr_type::OUTPUT,
                reference: 2,
                frame_id: 0xc000
            }
        ]
    );
}

#[test]
fn control_blocks_and_record_headers() {
    let control = |h: &str| {
        let a = args(h);
        let (b, _) = Block::parse(&a).unwrap();
        ControlBlock::parse(&b).unwrap()
    };
    let prm_end = control(PRM_END_REQ);
    assert_eq!(prm_end.ty, block_type::PRM_END_REQ);
    assert_eq!(prm_end.ar_uuid.to_string(), AR_UUID);
    assert_eq!(
        (prm_end.session_key, prm_end.command),
        (1, command::PRM_END)
    );
    assert_eq!(control(PRM_END_RES).command, command::DONE);
    assert_eq!(control(PRM_END_RES).ty, 0x8110);
    assert_eq!(control(RELEASE_REQ).command, command::RELEASE);
    assert_eq!(control(RELEASE_REQ).ty, block_type::RELEASE_REQ);
    assert_eq!(
        command::name(command::APPLICATION_READY),
        Some("ApplicationReady")
    );
    assert_eq!(command::name(0), None);

    // The MultipleWrite and its three records, each padded to four octets.
    let a = args(WRITE_REQ);
    let (w, rest) = record(&a, block_type::IOD_WRITE_REQ, true).unwrap();
    assert!(rest.is_empty());
    assert_eq!(w.header.index, records::MULTIPLE_WRITE);
    assert_eq!((w.header.seq, w.header.record_len), (0, 271));
    assert_eq!(w.header.ar_uuid.to_string(), AR_UUID);
    let inner: Vec<(u32, u16, u16, u16, u32, usize)> = multiple_write(w.data, true)
        .map(|r| {
            let r = r.unwrap();
            let h = r.header;
            (
                h.api,
                h.slot,
                h.subslot,
                h.index,
                h.record_len,
                r.data.len(),
            )
        })
        .collect();
    assert_eq!(
        inner,
        [
            (0, 0, 1, 0x01f4, 30, 30),
            (0, 1, 1, 0x01f4, 41, 41),
            (0, 1, 1, 0x01ff, 3, 3)
        ]
    );
    let a = args(WRITE_RES);
    let (w, rest) = record(&a, block_type::IOD_WRITE_RES, true).unwrap();
    assert_eq!(w.header.status, Some(PnioStatus([0; 4])));
    let results: Vec<u16> = multiple_write_results(rest)
        .map(|h| h.unwrap().index)
        .collect();
    assert_eq!(results, [0x01f4, 0x01f4, 0x01ff]);

    let a = args(READ_REQ);
    let (r, _) = record(&a, block_type::IOD_READ_REQ, true).unwrap();
    assert_eq!(
        (
            r.header.slot,
            r.header.subslot,
            r.header.index,
            r.header.record_len
        ),
        (0, 0, 0xf841, 4096)
    );
    let a = args(READ_RES);
    let (r, _) = record(&a, block_type::IOD_READ_RES, true).unwrap();
    assert_eq!(
        (r.header.index, r.header.record_len, r.data.len()),
        (0xf841, 224, 224)
    );
}

#[test]
fn connect_names_the_controller_and_the_device() {
    let out = run(Direction::ToServer, &cm(), CONNECT_REQ);
    let src = source::PROFINET_IO_CM_INITIATOR;
    let c = Subject::Client;
    assert_eq!(
        out,
        vec![
            id(c, Field::Hostname, "pc-worx-rt-basic-6d-d3-43", src),
            id(c, Field::Vendor, "Phoenix Contact", src),
            id(
                c,
                Field::Description,
                "profinet vendor 0x00b0 device 0x003c",
                src
            ),
            Observation::Binding {
                mac: mac("00:a0:45:6d:d3:43"),
                ip: "192.168.1.3".parse().unwrap(),
                source: "profinet io ar",
            },
            id(
                c,
                Field::DeviceType,
                "plc",
                source::PROFINET_IO_CONTROLLER_ROLE
            ),
            id(
                Subject::Server,
                Field::DeviceType,
                "io_module",
                source::PROFINET_IO_DEVICE_ROLE
            ),
            op(
                Operation::Control,
                0,
                &[("service", "Connect"), ("object", "IOCARSingle AR")]
            ),
        ]
    );
}

#[test]
fn connect_answer_binds_the_device_and_names_its_object() {
    // The answer comes from the device's own port, a flow of its own on which it is the server.
    let flow = ctx(Transport::Udp, "192.168.1.3:65151", "192.168.1.2:49152");
    let out = run(Direction::ToClient, &flow, CONNECT_RES);
    let s = Subject::Server;
    assert_eq!(
        out,
        vec![
            id(
                s,
                Field::Description,
                "profinet vendor 0x015a device 0x0003",
                source::PROFINET_IO_OBJECT_UUID
            ),
            Observation::Binding {
                mac: mac("00:09:91:43:e0:67"),
                ip: "192.168.1.2".parse().unwrap(),
                source: "profinet io ar",
            },
            id(
                Subject::Client,
                Field::DeviceType,
                "plc",
                source::PROFINET_IO_CONTROLLER_ROLE
            ),
            id(
                s,
                Field::DeviceType,
                "io_module",
                source::PROFINET_IO_DEVICE_ROLE
            ),
        ]
    );
}

#[test]
fn each_written_record_is_a_write() {
    let flow = ctx(Transport::Udp, "192.168.1.3:65151", "192.168.1.2:49152");
    let out = run(Direction::ToServer, &flow, WRITE_REQ);
    assert_eq!(
        out,
        vec![
            write(
                "api 0 slot 0 subslot 0x0001 index 0x01f4 (user parameter)",
                "30"
            ),
            write(
                "api 0 slot 1 subslot 0x0001 index 0x01f4 (user parameter)",
                "41"
            ),
            write(
                "api 0 slot 1 subslot 0x0001 index 0x01ff (user parameter)",
                "3"
            ),
        ]
    );
    // The answers name the device (its object UUID) and carry nothing else.
    for h in [WRITE_RES, PRM_END_RES, READ_RES, RELEASE_RES] {
        let out = run(Direction::ToClient, &flow, h);
        assert_eq!(
            out,
            vec![id(
                Subject::Server,
                Field::Description,
                "profinet vendor 0x015a device 0x0003",
                source::PROFINET_IO_OBJECT_UUID
            )],
            "{h}"
        );
    }
}

#[test]
fn control_read_and_release_are_operations() {
    for (call, want) in [
        (
            PRM_END_REQ,
            op(Operation::Control, 4, &[("service", "Control PrmEnd")]),
        ),
        (
            RELEASE_REQ,
            op(Operation::Control, 1, &[("service", "Release")]),
        ),
        (
            READ_REQ,
            op(
                Operation::Read,
                2,
                &[(
                    "object",
                    "api 0 slot 0 subslot 0x0000 index 0xf841 (PDRealData)",
                )],
            ),
        ),
    ] {
        assert_eq!(run(Direction::ToServer, &cm(), call), vec![want], "{call}");
    }
}

#[test]
fn application_ready_calls_the_controller_back() {
    let back = ctx(Transport::Udp, "192.168.1.2:1025", "192.168.1.3:34964");
    assert_eq!(
        run(Direction::ToServer, &back, APP_READY_REQ),
        vec![
            id(
                Subject::Server,
                Field::DeviceType,
                "plc",
                source::PROFINET_IO_CONTROLLER_ROLE
            ),
            id(
                Subject::Client,
                Field::DeviceType,
                "io_module",
                source::PROFINET_IO_DEVICE_ROLE
            ),
            op(
                Operation::Control,
                4,
                &[("service", "Control ApplicationReady")]
            ),
        ]
    );
    // The controller answers with its own object: the vendor of CMInitiatorObjectUUID.
    let answer = ctx(Transport::Udp, "192.168.1.2:1025", "192.168.1.3:65151");
    let src = source::PROFINET_IO_OBJECT_UUID;
    assert_eq!(
        run(Direction::ToClient, &answer, APP_READY_RES),
        vec![
            id(Subject::Server, Field::Vendor, "Phoenix Contact", src),
            id(
                Subject::Server,
                Field::Description,
                "profinet vendor 0x00b0 device 0x003c",
                src
            ),
        ]
    );
}

#[test]
fn read_implicit_of_im0_filter_data_is_identification() {
    let flow = ctx(Transport::Udp, "10.10.0.150:1095", "10.10.0.129:34964");
    assert_eq!(
        run(Direction::ToServer, &flow, READ_IMPLICIT_REQ),
        vec![op(
            Operation::Identify,
            5,
            &[(
                "object",
                "api 0 slot 0 subslot 0x0001 index 0xf840 (I&M0FilterData)"
            )]
        )]
    );
    let out = run(Direction::ToClient, &flow, READ_IMPLICIT_RES);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(violations(&out).is_empty());
}

// Built datagrams.

/// The object of an ET 200SP interface module: instance 1, device 0x0313, vendor 0x002a.
const ET200SP: [u8; 6] = [0x00, 0x01, 0x03, 0x13, 0x00, 0x2a];

/// A big-endian call to `interface` of object DEA00000-6C97-11D1-8271-`node`: the CL header
/// (idempotent, activity 11..11, interface version 1), the NDR header (ArgsMaximum 4096 in a
/// request, PNIOStatus OK in an answer; MaximumCount 4096) and `args`.
fn pdu(ptype: PacketType, opnum: u16, interface: Interface, node: [u8; 6], args: &[u8]) -> Vec<u8> {
    let mut v = vec![VERSION, ptype.0, flags1::IDEMPOTENT, 0, 0, 0, 0, 0];
    v.extend([0xde, 0xa0, 0, 0, 0x6c, 0x97, 0x11, 0xd1, 0x82, 0x71]);
    v.extend(node);
    v.extend(interface.uuid().0);
    v.extend([0x11; 16]);
    v.extend([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    v.extend(opnum.to_be_bytes());
    v.extend([0xff; 4]);
    v.extend(u16::try_from(args.len() + NDR_LEN).unwrap().to_be_bytes());
    v.extend([0; 4]);
    let n = u32::try_from(args.len()).unwrap();
    let first = if ptype == PacketType::REQUEST {
        4096
    } else {
        0
    };
    for x in [first, n, 4096, 0, n] {
        v.extend(x.to_be_bytes());
    }
    v.extend(args);
    v
}

/// A block of version 1.0.
fn block(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(u16::try_from(body.len() + 2).unwrap().to_be_bytes());
    v.extend([1, 0]);
    v.extend(body);
    v
}

/// A 64-octet record header: SeqNumber 1, ARUUID 22..22, API 0, the slot, subslot, index and
/// RecordDataLength, the rest zero (AdditionalValues, PNIOStatus OK, padding).
fn record_header(ty: u16, slot: u16, subslot: u16, index: u16, len: u32) -> Vec<u8> {
    let mut b = vec![0, 1];
    b.extend([0x22; 16]);
    b.extend([0; 4]);
    b.extend(slot.to_be_bytes());
    b.extend(subslot.to_be_bytes());
    b.extend([0, 0]);
    b.extend(index.to_be_bytes());
    b.extend(len.to_be_bytes());
    b.resize(58, 0);
    block(ty, &b)
}

/// The I&M0 plate of an ET 200SP IM 155-6 PN ST: vendor 0x002a, order id "6ES7 155-6AU01-0BN0"
/// and serial "S C-X4U712345678" blank-padded, hardware revision 3, software V4.2.1, revision
/// counter 5, profile 0 type 3 (IO module), I&M version 1.1, I&M1-4 supported (0x001e).
fn im0_block() -> Vec<u8> {
    let mut b = vec![0x00, 0x2a];
    b.extend(b"6ES7 155-6AU01-0BN0 ");
    b.extend(b"S C-X4U712345678");
    b.extend([0, 3, b'V', 4, 2, 1, 0, 5, 0, 0, 0, 3, 1, 1, 0, 0x1e]);
    block(block_type::IM0, &b)
}

/// Built: a Write to the ET 200SP with `args`, from the controller, read.
fn write_call(args: &[u8]) -> Vec<Observation> {
    let data = pdu(
        PacketType::REQUEST,
        opnum::WRITE,
        Interface::Device,
        ET200SP,
        args,
    );
    datagram(
        &mut PnioDissector::default(),
        Direction::ToServer,
        &cm(),
        &data,
    )
}

/// Built: the answer to a ReadImplicit of I&M0 (0xaff0) of `slot`/1.
fn im0_answer(slot: u16) -> Vec<u8> {
    let plate = im0_block();
    let mut args = record_header(block_type::IOD_READ_RES, slot, 1, records::IM0, 60);
    args.extend(&plate);
    pdu(
        PacketType::RESPONSE,
        opnum::READ_IMPLICIT,
        Interface::Device,
        ET200SP,
        &args,
    )
}

#[test]
fn im0_answer_is_the_rating_plate() {
    let data = im0_answer(0);
    let a = &data[HEADER_LEN + NDR_LEN..];
    let (r, _) = record(a, block_type::IOD_READ_RES, true).unwrap();
    let (b, _) = Block::parse(r.data).unwrap();
    let im0 = Im0::parse(&b).unwrap();
    assert_eq!(im0.vendor_id, 0x002a);
    assert_eq!(im0.order_id, b"6ES7 155-6AU01-0BN0 ");
    assert_eq!(im0.serial_number, b"S C-X4U712345678");
    assert_eq!(im0.hardware_revision, 3);
    assert_eq!(im0.software_revision, (b'V', 4, 2, 1));
    assert_eq!(im0.firmware().as_deref(), Some("V4.2.1"));
    assert_eq!((im0.revision_counter, im0.profile_id), (5, 0));
    assert_eq!(im0.profile_specific_type, 3);
    assert_eq!((im0.im_version, im0.im_supported), ((1, 1), 0x001e));

    let flow = ctx(Transport::Udp, "192.168.0.10:49200", "192.168.0.20:34964");
    let out = datagram(
        &mut PnioDissector::default(),
        Direction::ToClient,
        &flow,
        &data,
    );
    let (s, plate) = (Subject::Server, source::PROFINET_IO_IM0);
    let object = source::PROFINET_IO_OBJECT_UUID;
    assert_eq!(
        out,
        vec![
            id(s, Field::Vendor, "Siemens", object),
            id(
                s,
                Field::Description,
                "profinet vendor 0x002a device 0x0313",
                object
            ),
            id(s, Field::Vendor, "Siemens", plate),
            id(s, Field::Model, "6ES7 155-6AU01-0BN0", plate),
            id(s, Field::Serial, "S C-X4U712345678", plate),
            id(s, Field::Firmware, "V4.2.1", plate),
        ]
    );
    // The plate of a module in slot 3 is not the device's.
    let out = datagram(
        &mut PnioDissector::default(),
        Direction::ToClient,
        &flow,
        &im0_answer(3),
    );
    assert_eq!(out.len(), 2, "{out:?}");
    // A revision prefix outside V, R, P, U, T is no firmware text.
    let mut odd = im0;
    odd.software_revision.0 = b'X';
    assert_eq!(odd.firmware(), None);
}

#[test]
fn writing_im1_changes_the_identification() {
    // Built: a Write of I&M1 (tag function and location, 32 and 22 blanks) to slot 0/1.
    let mut args = record_header(block_type::IOD_WRITE_REQ, 0, 1, 0xaff1, 60);
    args.extend(block(0x0021, &[b' '; 54]));
    let out = write_call(&args);
    assert_eq!(
        out,
        vec![op(
            Operation::ConfigChange,
            3,
            &[
                ("service", "Write"),
                ("object", "api 0 slot 0 subslot 0x0001 index 0xaff1 (I&M1)"),
                ("bytes", "60"),
                ("setting", "identification"),
            ]
        )]
    );
    assert_eq!(records::write_operation(0x8071), (Operation::Write, None));
    assert_eq!(records::read_operation(0x800c), Operation::Diagnostics);
    assert_eq!(records::read_operation(0xf80c), Operation::Diagnostics);
    assert_eq!(records::read_operation(0xaff0), Operation::Identify);
    assert_eq!(records::read_operation(0x0064), Operation::Read);
}

#[test]
fn each_record_of_a_combined_object_container_is_a_write() {
    // Built, after profinet/profinet_io_cm.pcap frame 321: a CombinedObjectContainer (0x80b0)
    // for the interface submodule 0/0x8000 holding PDInterfaceMrpDataCheck (0x8051, 4 octets)
    // and PDInterfaceAdjust (0x8071, 8 octets), each in a COContainerContent block.
    let content = |index: u16, data: &[u8]| {
        let mut b = vec![0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x80, 0x00, 0, 0];
        b.extend(index.to_be_bytes());
        b.extend(data);
        block(block_type::CO_CONTAINER_CONTENT, &b)
    };
    let mut container = content(0x8051, &[1, 2, 3, 4]);
    container.extend(content(0x8071, &[0; 8]));
    let len = u32::try_from(container.len()).unwrap();
    let mut args = record_header(block_type::IOD_WRITE_REQ, 0, 0x8000, 0x80b0, len);
    args.extend(&container);
    let out = write_call(&args);
    assert_eq!(
        out,
        vec![
            write(
                "api 0 slot 0 subslot 0x8000 index 0x8051 (PDInterfaceMrpDataCheck)",
                "4"
            ),
            write(
                "api 0 slot 0 subslot 0x8000 index 0x8071 (PDInterfaceAdjust)",
                "8"
            ),
        ]
    );
    // A container holding something else is a violation; the container's write still counts.
    let mut bad = args.clone();
    bad[65] = 0x02;
    let out = write_call(&bad);
    assert_eq!(violations(&out), ["PNIO block 0x0402 where 0x0401 belongs"]);
    assert_eq!(out.len(), 2, "{out:?}");
}

#[test]
fn a_first_fragment_is_read_as_far_as_it_goes() {
    // Built: WRITE_REQ as the first of two fragments, cut inside its third record.
    let mut data = hex(WRITE_REQ);
    data.truncate(data.len() - 40);
    data[2] = flags1::FRAG | flags1::IDEMPOTENT;
    let body = u16::try_from(data.len() - HEADER_LEN).unwrap();
    data[74..76].copy_from_slice(&body.to_be_bytes());
    let flow = ctx(Transport::Udp, "192.168.1.3:65151", "192.168.1.2:49152");
    let out = datagram(
        &mut PnioDissector::default(),
        Direction::ToServer,
        &flow,
        &data,
    );
    assert!(violations(&out).is_empty(), "{out:?}");
    assert_eq!(out.len(), 2, "the two whole records: {out:?}");
    // The next fragment continues the arguments: nothing to read in it alone.
    data[76..78].copy_from_slice(&1u16.to_be_bytes());
    let out = datagram(
        &mut PnioDissector::default(),
        Direction::ToServer,
        &flow,
        &data,
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn malformed_calls_are_violations() {
    let reasons = |data: &[u8]| -> Vec<String> {
        let out = datagram(
            &mut PnioDissector::default(),
            Direction::ToServer,
            &cm(),
            data,
        );
        violations(&out).iter().map(|r| r.to_string()).collect()
    };
    assert!(reasons(&hex(PRM_END_REQ)).is_empty());
    type Change = fn(&mut Vec<u8>);
    let cases: &[(&str, Change, &str)] = &[
        (
            PRM_END_REQ,
            |d| d.truncate(60),
            "DCE/RPC header truncated: 60 octets of 80",
        ),
        (
            PRM_END_REQ,
            |d| d[0] = 5,
            "DCE/RPC version 5, not 4 (connectionless)",
        ),
        (
            PRM_END_REQ,
            |d| d[1] = 12,
            "unknown DCE/RPC connectionless packet type 12",
        ),
        (
            PRM_END_REQ,
            |d| d[4] = 0x20,
            "DCE/RPC data representation 0x20 0x00 names no known integer, character or float format",
        ),
        (
            PRM_END_REQ,
            |d| d.truncate(d.len() - 2),
            "DCE/RPC fragment length 52 runs past the 50 octets after the header",
        ),
        (PRM_END_REQ, |d| d[69] = 9, "opnum 9 is no PNIO service"),
        // NDR: Offset (octets 92-95), ActualCount (96-99), ArgsMaximum (80-83).
        (PRM_END_REQ, |d| d[95] = 1, "PNIO NDR array offset 1, not 0"),
        (
            PRM_END_REQ,
            |d| d[99] = 0x30,
            "PNIO NDR counts disagree: ArgsLength 32, MaximumCount 4096, ActualCount 48",
        ),
        (
            PRM_END_REQ,
            |d| d[80..84].copy_from_slice(&[0, 0, 0, 16]),
            "PNIO NDR ArgsLength 32 exceeds ArgsMaximum 16",
        ),
        (
            PRM_END_REQ,
            |d| {
                d.extend([0; 4]);
                d[75] += 4;
            },
            "PNIO NDR ActualCount 32 disagrees with the 36 octets of arguments",
        ),
        // The control block (at octet 100): its length past the arguments, its version, its
        // type.
        (
            PRM_END_REQ,
            |d| d[103] = 0x40,
            "PNIO block 0x0110 length 64 runs past the 28 octets left",
        ),
        (
            PRM_END_REQ,
            |d| d[104] = 2,
            "PNIO block 0x0110 version 2.0 is not 1.x",
        ),
        (
            PRM_END_REQ,
            |d| d[101] = 0x09,
            "PNIO block 0x0109 where 0x0110 belongs",
        ),
        (
            PRM_END_REQ,
            |d| d[103] = 1,
            "PNIO block 0x0110 length 1 is shorter than its version",
        ),
        // A record longer than the write that carries it.
        (
            WRITE_REQ,
            |d| d[100 + 36 + 3] = 0xff,
            "PNIO record data length 511 runs past the 271 octets left",
        ),
        // A Connect whose ARBlockReq names more station octets than it holds.
        (
            CONNECT_REQ,
            |d| d[100 + 6 + 50] = 0x40,
            "PNIO block 0x0101 too short for its content",
        ),
    ];
    for (call, change, reason) in cases {
        let mut d = hex(call);
        change(&mut d);
        assert_eq!(reasons(&d), [*reason]);
    }
}

#[test]
fn violations_stop_at_the_budget() {
    let mut d = PnioDissector::default();
    let mut bad = hex(PRM_END_REQ);
    bad[0] = 5;
    let mut out = Vec::new();
    for _ in 0..10 {
        d.parse(Direction::ToServer, &bad, &cm(), &mut out);
    }
    assert_eq!(violations(&out).len(), usize::from(Violations::CAP));
}

#[test]
fn probe_knows_pnio_calls_and_answers() {
    assert_eq!(probe(Direction::ToServer, &hex(CONNECT_REQ)), Probe::Yes);
    assert_eq!(
        probe(Direction::ToClient, &hex(CONNECT_RES)),
        Probe::YesFromServer
    );
    assert_eq!(probe(Direction::ToServer, &hex(APP_READY_REQ)), Probe::Yes);
    // A body that overruns is still PNIO (and a violation on the flow).
    let req = hex(PRM_END_REQ);
    assert_eq!(probe(Direction::ToServer, &req[..90]), Probe::Yes);
    let mut long = req.clone();
    long[75] = 0xff;
    assert_eq!(probe(Direction::ToServer, &long), Probe::Yes);
    // The endpoint mapper (e1af8308-5d1f-11c9-91a4-08002b14a0fa) is DCE/RPC, not PNIO.
    let mut epm = req.clone();
    epm[24..40].copy_from_slice(&hex("e1af83085d1f11c991a408002b14a0fa"));
    assert_eq!(probe(Direction::ToServer, &epm), Probe::No);
    assert_eq!(probe(Direction::ToServer, &req[..79]), Probe::No);
    let mut v5 = req.clone();
    v5[0] = 5;
    assert_eq!(probe(Direction::ToServer, &v5), Probe::No);
    assert_eq!(
        probe(Direction::ToServer, b"not a datagram of any kind at all"),
        Probe::No
    );
    // Every PNIO interface, and the packet types a server sends.
    for i in Interface::ALL {
        assert_eq!(Interface::of(&i.uuid()), Some(i));
    }
    assert_eq!(
        Interface::Controller.uuid().to_string(),
        "dea00002-6c97-11d1-8271-00a02442df7d"
    );
    assert!(PacketType::NOCALL.from_server() && !PacketType::PING.from_server());
    assert!(!PacketType(11).is_known());
}

#[test]
fn rt_frame_ids_are_classified() {
    use FrameClass::*;
    let cases = [
        (0x0000, Other),
        (0x0020, Ptcp),
        (0x0081, Ptcp),
        (0x0100, Rtc3),
        (0x0fff, Rtc3),
        (0x1000, Other),
        (0x8000, Rtc1),
        (0xbfff, Rtc1),
        (0xc000, Rtc1Legacy),
        (0xfbff, Rtc1Legacy),
        (0xfc01, AlarmHigh),
        (0xfc02, Other),
        (0xfe01, AlarmLow),
        (0xfe02, Other),
        (0xfefc, Dcp),
        (0xfeff, Dcp),
        (0xff00, Ptcp),
        (0xff21, Ptcp),
        (0xff43, Ptcp),
        (0xff44, Other),
        (0xff80, Fragment),
        (0xffff, Other),
    ];
    for (id, class) in cases {
        assert_eq!(FrameClass::of(id), class, "{id:#06x}");
    }
}

/// A `Speaks` of a cyclic or alarm frame's sender.
fn provides(m: &str) -> Observation {
    speaks(Subject::Mac(mac(m)), PROTOCOL, Role::Server, 0)
}

#[test]
fn cyclic_frames_mark_their_sender_and_alarms_name_conditions() {
    let ts = otwatch_common::Timestamp::ZERO;
    let frame = |src: &str, payload: &[u8]| {
        let mut out = Vec::new();
        rt::parse_frame(mac(src), payload, ts, &mut out);
        out
    };
    let plc = "00:a0:45:6d:d3:43";
    assert_eq!(frame(plc, &hex(CYCLIC)), vec![provides(plc)]);
    // PTCP and DCP frames are someone else's (or nobody's) business.
    assert!(frame("00:09:91:43:e0:68", &hex(PTCP_DELAY)).is_empty());
    assert!(frame(plc, &hex("fefe05000100000100010004ffff0000")).is_empty());
    assert!(frame(plc, &[0xc0]).is_empty());

    // The device's abort on the alarm channel: an ERR-RTA-PDU, no condition of its own.
    let dev = "00:09:91:43:e0:67";
    let err = hex(ALARM_ERR);
    assert_eq!(frame(dev, &err), vec![provides(dev)]);
    let pdu = RtaPdu::parse(&err[2..]).unwrap();
    assert_eq!(
        (
            pdu.dst_endpoint,
            pdu.src_endpoint,
            pdu.pdu_type,
            pdu.version
        ),
        (0x8001, 0x8001, rt::pdu_type::ERR, 1)
    );
    assert_eq!((pdu.send_seq, pdu.ack_seq), (0xffff, 0xfffe));
    assert_eq!(
        pdu.error_status(),
        Some(PnioStatus([0xcf, 0x81, 0xfd, 0x0f]))
    );

    // Built: a high-priority Diagnosis alarm from slot 1/1 (module and submodule 0xffff8140,
    // AlarmSpecifier 0x0800: sequence 0, channel diagnosis).
    let mut notification = vec![0x00, 0x01, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x01];
    notification.extend([0xff, 0xff, 0x81, 0x40, 0xff, 0xff, 0x81, 0x40, 0x08, 0x00]);
    let body = block(block_type::ALARM_NOTIFICATION_HIGH, &notification);
    let mut alarm = vec![
        0xfc, 0x01, 0x80, 0x01, 0x80, 0x01, 0x11, 0x01, 0, 0, 0xff, 0xff,
    ];
    alarm.extend(u16::try_from(body.len()).unwrap().to_be_bytes());
    alarm.extend(&body);
    alarm.resize(46, 0);
    let n = AlarmNotification::parse(&body).unwrap().unwrap();
    assert_eq!(
        (n.high, n.alarm_type, n.api, n.slot, n.subslot),
        (true, 1, 0, 1, 1)
    );
    assert_eq!(
        (n.module_ident, n.submodule_ident, n.specifier),
        (0xffff_8140, 0xffff_8140, 0x0800)
    );
    assert_eq!(
        frame(dev, &alarm),
        vec![
            provides(dev),
            id(
                Subject::Mac(mac(dev)),
                Field::Status,
                "alarm Diagnosis (high priority) api 0 slot 1 subslot 0x0001",
                source::PROFINET_IO_ALARM
            ),
        ]
    );

    // Broken frames.
    let reason = |out: Vec<Observation>| {
        violations(&out)
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reason(frame(plc, &hex("c000c6e0"))),
        ["PROFINET cyclic frame 0xc000 shorter than its APDU status"]
    );
    let mut bad = err.clone();
    bad[6] = 0x17;
    assert_eq!(
        reason(frame(dev, &bad)),
        ["PNIO RTA PDU type 7 is none of DATA, NACK, ACK, ERR"]
    );
    let mut long = alarm.clone();
    long[13] = 0xff;
    assert_eq!(
        reason(frame(dev, &long)),
        ["PNIO RTA VarPartLen 255 runs past the 32 octets of the frame"]
    );
    assert_eq!(reason(frame(dev, &alarm[..8])), ["PNIO RTA PDU truncated"]);
    assert_eq!(
        reason(frame("01:0e:cf:00:00:00", &hex(CYCLIC))),
        ["PROFINET RT frame from group address 01:0e:cf:00:00:00"]
    );
}

#[test]
fn no_input_panics() {
    let built = [im0_answer(0), hex(CYCLIC), hex(ALARM_ERR)];
    let mut owned: Vec<Vec<u8>> = ALL.iter().map(|h| hex(h)).collect();
    owned.extend(built);
    let messages: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    never_panics(&SPEC, &cm(), &messages);
    // The frame dissector on every prefix and every flipped byte of the RT frames.
    for m in [hex(CYCLIC), hex(ALARM_ERR), hex(PTCP_DELAY)] {
        let mut out = Vec::new();
        for n in 0..=m.len() {
            rt::parse_frame(
                mac("00:09:91:43:e0:67"),
                &m[..n],
                otwatch_common::Timestamp::ZERO,
                &mut out,
            );
        }
        for i in 0..m.len() {
            let mut v = m.clone();
            v[i] ^= 0xff;
            rt::parse_frame(
                mac("00:09:91:43:e0:67"),
                &v,
                otwatch_common::Timestamp::ZERO,
                &mut out,
            );
        }
    }
}
