//! Tests on real BACnet/IP datagrams (UDP payloads from `tshark -T fields -e udp.payload`),
//! expected values read from `tshark -V` of the same frames. Sources:
//! - bacnet/bacnet_test.pcap (ITI/ICS-Security-Tools): a JCI NAE queried for its identity;
//! - bacnet/bacnet_example.pcap and bacnet/bacnet_segmented_data.pcap (cisagov/icsnpp-bacnet);
//! - bacnet_error_reject_abort.pcap and bacnet_services.pcap (cisagov/icsnpp-bacnet
//!   testing/traces at b34b92eb2a82), one request of every service and a routed network.
//!
//! Three datagrams are built by hand where the corpus has no example (marked "built"); each
//! was written into a pcap and checked with `tshark -V`.

use super::tags::TagReader;
use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex, never_panics};
use crate::protocols::Transport;
use otwatch_common::observation::Source;
use std::net::Ipv4Addr;

// bacnet_test.pcap, 10.1.1.167 (client) asks 10.1.1.165 (device,4194303 wildcard) in turn.
/// frame 3: ReadProperty device,4194303 object-identifier (75).
const RP_OBJECT_ID_REQ: &str = "810a001101040005010c0c023fffff194b";
/// frame 4: ComplexACK object-identifier = device,500.
const RP_OBJECT_ID_ACK: &str = "810a0017010030010c0c023fffff194b3ec4020001f43f";
/// frame 6: vendor-identifier (120) = 5.
const RP_VENDOR_ID_ACK: &str = "810a0014010030010c0c023fffff19783e21053f";
/// frame 8: vendor-name (121) = UCS-2 'JCI'.
const RP_VENDOR_NAME_ACK: &str = "810a001b010030010c0c023fffff19793e750704004a004300493f";
/// frame 10: firmware-revision (44) = UCS-2 '5.1.0.4400'.
const RP_FIRMWARE_ACK: &str =
    "810a0029010030010c0c023fffff192c3e7515040035002e0031002e0030002e00340034003000303f";
/// frame 12: application-software-version (12) = UCS-2 '' (empty).
const RP_APP_SW_ACK: &str = "810a0014010030010c0c023fffff190c3e71043f";
/// frame 14: object-name (77) = UCS-2 'KBRNAE'.
const RP_NAME_ACK: &str = "810a0021010030010c0c023fffff194d3e750d04004b00420052004e004100453f";
/// frame 16: model-name (70) = UCS-2 'MS-NAE4510-2'.
const RP_MODEL_ACK: &str =
    "810a002d010030010c0c023fffff19463e751904004d0053002d004e004100450034003500310030002d00323f";
/// frame 21: Read-Broadcast-Distribution-Table.
const READ_BDT: &str = "81020004";
/// frame 22: BVLC-Result 0x0020 (Read-BDT NAK).
const RESULT_NAK: &str = "810000060020";
/// frame 25: Register-Foreign-Device, TTL 16.
const REGISTER_FD: &str = "810500060010";

// bacnet_example.pcap
/// frame 72: Who-Is from 172.20.32.200, global broadcast (DNET 0xffff, DLEN 0, hop 255).
const WHO_IS_GLOBAL: &str = "810b000c0120ffff00ff1008";
/// frame 74: I-Am device,721, max APDU 1024, no-segmentation (3), vendor 15.
const I_AM_721: &str = "810a001401001000c4020002d12204009103210f";
/// frame 1: ReadProperty analog-input,1 object-name.
const RP_AI_REQ: &str = "810a001101040005010c0c00000001194d";
/// frame 2: ComplexACK analog-input,1 object-name 'Sensor_45312' (not the device object).
const RP_AI_ACK: &str = "810a0021010030010c0c00000001194d3e750d0053656e736f725f34353331323f";
/// frame 133: ComplexACK device,501 object-name 'PLC_28' (UTF-8).
const RP_PLC28_NAME: &str = "810a001b010030010c0c020001f5194d3e750700504c435f32383f";
/// frame 572: ReinitializeDevice abort-restore with password 'Delcatty70'; BVLC Length says 17
/// for a 25-octet datagram (tshark: "invalid length - expected 25 bytes").
const REINIT_BAD_LENGTH: &str = "810a001101040005011409061d0b0044656c63617474793730";
/// frame 573: Error reinitializeDevice services/password-failure, BVLC Length 17 of 13.
const REINIT_ERROR_BAD_LENGTH: &str = "810a001101045001149105911a";

// bacnet_segmented_data.pcap
/// frame 4: Who-Is, local broadcast.
const WHO_IS: &str = "810b000801001008";
/// frame 1: I-Have device,254 accumulator,4.
const I_HAVE: &str = "810b001d01001001c4020000fec405c0000475090103a489b793788251";
/// frame 9: TimeSynchronization.
const TIME_SYNC: &str = "810b001201001006a476030602b41012301b";
/// frame 12: ReadProperty device,254 object-list[0].
const RP_OBJECT_LIST_REQ: &str = "810a0013010402345d0c0c020000fe194c2900";
/// frame 13: ComplexACK object-list[0] = 426 (an array index, an Unsigned).
const RP_OBJECT_LIST_ACK: &str = "810a00170100305d0c0c020000fe194c29003e2201aa3f";
/// frame 16: SegmentACK from the client.
const SEGMENT_ACK: &str = "810a000a0100405e0003";
/// frame 18: last segment (sequence 2) of a segmented ReadProperty-ACK of object-list.
const SEGMENTED_ACK_TAIL: &str = "810a00700104385e02030cc404400181c404400182c404400183c404400184c404400185c404400186c404400187c404400188c404400189c40440018ac40440018bc40440018cc40440018dc40440018ec40440018fc405c00001c405c00002c405c00003c405c00004c405c000053f";

// icsnpp-bacnet testing/traces/bacnet_error_reject_abort.pcap, 10.10.10.10 -> 192.168.3.100.
/// frame 17: DeviceCommunicationControl, 60 minutes, disable, password 'filister'.
const DCC_PASSWORD: &str = "810a0019010400050111093c19012d090066696c6973746572";
/// frame 19: ReinitializeDevice coldstart, no password.
const REINIT_COLDSTART: &str = "810a000c0104000501140900";
/// frame 15: WriteProperty analog-output,0 present-value 80.0 priority 5.
const WRITE_PROPERTY: &str = "810a001a01040005010f0c0040000019553e4442a000003f4905";
/// frame 7: AtomicReadFile file,0, from SNET 13 SADR 0x3d, invoke 54.
const ATOMIC_READ_FILE: &str = "810a001a010c000d013d02033606c4028000000e31002201b80f";
/// frame 18: ConfirmedPrivateTransfer vendor 7 service 511.
const PRIVATE_TRANSFER: &str = "810a009001040205341209071a01ff2e0000007f000000380004f2570043494d45545249435320444e45543138003730310043494d45545249435320444e45543138003731313100463400000003f663000401000d2470616e656c64656661756c740000001001000437313131000001dd01000437313132000044b5010008746f7765723333330003dbf6000000002f";
/// frame 43: Error reinitializeDevice.
const ERROR: &str = "810a00120120000d013dff5034149105911a";
/// frame 44: Reject unrecognized-service.
const REJECT: &str = "810a000e0120000d013dff603a09";
/// frame 45: Abort other, from the server.
const ABORT: &str = "810b00090100710100";
/// frame 32: Distribute-Broadcast-To-Network carrying UnconfirmedEventNotification.
const DISTRIBUTE_BROADCAST: &str = "81090031010010030a04d21c004000012c004000013e19013f49015901690189009900a900b900ce1e0e19000f19001fcf";
/// frame 42: You-Are device,3.
const YOU_ARE: &str =
    "810b00270120ffff00ff100e22022b7507004c4d435032347506003132333435c402000003612a";

// icsnpp-bacnet testing/traces/bacnet_services.pcap: 192.168.0.24 routes for network 3.
/// frame 274: I-Am-Router-To-Network 2, 3 (a network-layer message).
const I_AM_ROUTER: &str = "810b000b01800100020003";
/// frame 279: first segment of a ReadPropertyMultiple-ACK, SNET 3 SADR 0x1d (routed).
const RPM_SEGMENT_0: &str = "810a01ea01080003016c3c8800100e0c000008351e29554e44425c00004f1f0c000008361e29554e44425c00004f1f0c000008371e29554e44425c00004f1f0c000008381e29555e9101911f5f1f0c000008391e29555e9101911f5f1f0c0000083a1e29555e9101911f5f1f0c0000083b1e29555e9101911f5f1f0c0000083c1e29555e9101911f5f1f0c0000083d1e29555e9101911f5f1f0c0000083e1e29554e44000000004f1f0c0000083f1e29554e4442c800004f1f0c000008401e29554e44426800004f1f0c000008411e29554e44425c00004f1f0c000008421e29554e44000000004f1f0c000008431e29554e44422400004f1f0c000008441e29554e44000000004f1f0c000008451e29555e9101911f5f1f0c000008461e29555e9101911f5f1f0c000008471e29555e9101911f5f1f0c000008481e29555e9101911f5f1f0c000008491e29555e9101911f5f1f0c0000084a1e29555e9101911f5f1f0c0000084b1e29555e9101911f5f1f0c0000084c1e29555e9101911f5f1f0c0000084d1e29555e9101911f5f1f0c0000084e1e29555e9101911f5f1f0c0000084f1e29555e9101911f5f1f0c000008501e29555e9101911f5f1f0c000008511e29555e9101911f5f1f0c000008521e29555e9101911f5f1f0c000008531e29555e9101911f5f1f";
/// frame 281: last segment: analog-input,2132 present-value -> error object/unknown-object.
const RPM_SEGMENT_1: &str = "810a001e01080003016c388801100e0c000008541e29555e9101911f5f1f";

// Built (no corpus example), each checked with tshark -V:
/// ReadPropertyMultiple-ACK device,500: object-name 'AHU-1', model-name 'M-1',
/// vendor-identifier 8 (Delta Controls), firmware-revision -> error property/unknown-property.
const RPM_DEVICE: &str = "810a0034010030010e0c020001f41e294d4e7506004148552d314f29464e7504004d2d314f29784e21084f292c5e910291205f1f";
/// Forwarded-NPDU from 192.168.0.5:47808 carrying I-Am device,123 vendor 36 (Tridium Inc.).
const FORWARDED_I_AM: &str = "8104001ac0a80005bac001001000c40200007b2205c491002124";
/// Original-Broadcast-NPDU with SNET 3 SADR 29: I-Am device,29 vendor 24, through a router.
const ROUTED_I_AM: &str = "810b001801080003011d1000c40200001d2201e091032118";

const ALL: &[&str] = &[
    RP_OBJECT_ID_REQ,
    RP_OBJECT_ID_ACK,
    RP_VENDOR_ID_ACK,
    RP_VENDOR_NAME_ACK,
    RP_FIRMWARE_ACK,
    RP_APP_SW_ACK,
    RP_NAME_ACK,
    RP_MODEL_ACK,
    READ_BDT,
    RESULT_NAK,
    REGISTER_FD,
    WHO_IS_GLOBAL,
    I_AM_721,
    RP_AI_REQ,
    RP_AI_ACK,
    RP_PLC28_NAME,
    REINIT_BAD_LENGTH,
    REINIT_ERROR_BAD_LENGTH,
    WHO_IS,
    I_HAVE,
    TIME_SYNC,
    RP_OBJECT_LIST_REQ,
    RP_OBJECT_LIST_ACK,
    SEGMENT_ACK,
    SEGMENTED_ACK_TAIL,
    DCC_PASSWORD,
    REINIT_COLDSTART,
    WRITE_PROPERTY,
    ATOMIC_READ_FILE,
    PRIVATE_TRANSFER,
    ERROR,
    REJECT,
    ABORT,
    DISTRIBUTE_BROADCAST,
    YOU_ARE,
    I_AM_ROUTER,
    RPM_SEGMENT_0,
    RPM_SEGMENT_1,
    RPM_DEVICE,
    FORWARDED_I_AM,
    ROUTED_I_AM,
];

/// Feeds (direction, datagram) pairs through one dissector, as one flow.
fn run(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let c = ctx(Transport::Udp, "10.1.1.167:47808", "10.1.1.165:47808");
    let mut d = BacnetDissector::default();
    let mut out = Vec::new();
    for (dir, m) in msgs {
        let data = hex(m);
        assert_eq!(d.parse(*dir, &data, &c, &mut out), data.len());
    }
    out
}

fn ack(m: &str) -> (Direction, &str) {
    (Direction::ToClient, m)
}

fn req(m: &str) -> (Direction, &str) {
    (Direction::ToServer, m)
}

fn id(subject: Subject, field: Field, value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject,
        field,
        value: value.to_owned(),
        source,
    }
}

fn speaks(subject: Subject, role: Role) -> Observation {
    Observation::Speaks {
        subject,
        protocol: "bacnet",
        role,
        port: 47808,
    }
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

fn violations(out: &[Observation]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn answers_and_announcements_come_from_the_server() {
    // The I-Am that opens bacnet_segmented_data.pcap's flow, and a ReadProperty request.
    assert_eq!(
        probe(
            Direction::ToServer,
            &hex("810a0017010030010c0c023fffff194b3ec4020001f43f")
        ),
        Probe::YesFromServer
    );
}

#[test]
fn probe_accepts_bacnet_in_either_direction_and_rejects_others() {
    for m in ALL {
        for dir in [Direction::ToServer, Direction::ToClient] {
            assert!(
                matches!(probe(dir, &hex(m)), Probe::Yes | Probe::YesFromServer),
                "{m}"
            );
        }
    }
    let others: &[&[u8]] = &[
        b"",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        // TLS ClientHello record header.
        &[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00],
        // Modbus/TCP read holding registers.
        &[0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10],
        // DNS query header.
        &[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0],
        // SNMP get-request (snmp/snmpv1_get.pcap frame 1).
        &hex("302602010004067075626c6963a019020126020100020100300e300c06082b060102010102000500"),
        // BACnet/IPv6 (Annex U) is another BVLL type.
        &[0x82, 0x01, 0x00, 0x04],
        // B/IP with a reserved function, and with an NPDU of version 2.
        &[0x81, 0x0d, 0x00, 0x04],
        &[0x81, 0x0a, 0x00, 0x08, 0x02, 0x00, 0x10, 0x08],
        // Read-BDT with a body it cannot have.
        &[0x81, 0x02, 0x00, 0x06, 0x00, 0x00],
    ];
    for o in others {
        assert_eq!(probe(Direction::ToServer, o), Probe::No, "{o:02x?}");
    }
}

#[test]
fn headers_of_broadcast_forwarded_and_routed_messages() {
    // Who-Is: bvlc.function 0x0b, bacnet.control 0x20, bacnet.dnet 65535, DLEN 0, hop 255.
    let bytes = hex(WHO_IS_GLOBAL);
    let b = parse_bvll(&bytes).unwrap();
    assert_eq!(b.function, bvlc::ORIGINAL_BROADCAST_NPDU);
    let n = parse_npdu(b.npdu.unwrap()).unwrap();
    assert_eq!((n.control, n.dnet, n.source), (0x20, Some(0xffff), None));
    assert_eq!(
        parse_apdu(n.apdu).unwrap(),
        Apdu::UnconfirmedRequest {
            service: unconfirmed::WHO_IS,
            body: &[]
        }
    );
    // bvlc.fwd_ip 192.168.0.5, bvlc.fwd_port 47808.
    let bytes = hex(FORWARDED_I_AM);
    let b = parse_bvll(&bytes).unwrap();
    assert_eq!(
        b.original_source,
        Some((Ipv4Addr::new(192, 168, 0, 5), 47808))
    );
    // bacnet.snet 3, SLEN 1, SADR 29.
    let bytes = hex(ROUTED_I_AM);
    let n = parse_npdu(parse_bvll(&bytes).unwrap().npdu.unwrap()).unwrap();
    assert_eq!(n.source, Some((3, &[29u8][..])));
    // I-Am-Router-To-Network: network-layer message type 1.
    let bytes = hex(I_AM_ROUTER);
    let n = parse_npdu(parse_bvll(&bytes).unwrap().npdu.unwrap()).unwrap();
    assert_eq!(n.network_message, Some(1));
    // The BVLC Length of bacnet_example frame 572 is wrong; the message still parses.
    let bytes = hex(REINIT_BAD_LENGTH);
    assert_eq!(parse_bvll(&bytes).unwrap().bad_length, Some(17));
}

#[test]
fn apdu_headers() {
    let apdu = |m: &str| {
        let bytes = hex(m);
        let b = parse_bvll(&bytes).unwrap();
        let n = parse_npdu(b.npdu.unwrap()).unwrap();
        format!("{:?}", parse_apdu(n.apdu).unwrap())
    };
    assert!(apdu(ERROR).starts_with("Error { invoke_id: 52, service: 20"));
    assert_eq!(apdu(REJECT), "Reject { invoke_id: 58, reason: 9 }");
    assert_eq!(
        apdu(ABORT),
        "Abort { invoke_id: 1, from_server: true, reason: 0 }"
    );
    assert_eq!(
        apdu(SEGMENT_ACK),
        "SegmentAck { invoke_id: 94, from_server: false }"
    );
    // bacapp.invoke_id 94, sequence 2, window 3, readProperty.
    assert!(apdu(SEGMENTED_ACK_TAIL)
        .starts_with("ComplexAck { segmented: true, invoke_id: 94, service: 12"));
    // Segmented-response-accepted request: bacapp.invoke_id 54, atomicReadFile.
    assert!(apdu(ATOMIC_READ_FILE)
        .starts_with("ConfirmedRequest { segmented: false, invoke_id: 54, service: 6"));
}

#[test]
fn i_am_fields() {
    // bacapp.instance_number 721, bacapp.vendor_identifier 15, max APDU 1024, segmentation 3.
    let bytes = hex(I_AM_721);
    let n = parse_npdu(parse_bvll(&bytes).unwrap().npdu.unwrap()).unwrap();
    let Apdu::UnconfirmedRequest { body, .. } = parse_apdu(n.apdu).unwrap() else {
        panic!("not unconfirmed");
    };
    assert_eq!(
        parse_i_am(body).unwrap(),
        IAm {
            device_instance: 721,
            max_apdu: 1024,
            segmentation: 3,
            vendor_id: 15
        }
    );
    assert!(parse_i_am(&body[..body.len() - 1]).is_err());
}

#[test]
fn jci_nae_identity_from_read_property_answers() {
    let out = run(&[
        req(RP_OBJECT_ID_REQ),
        ack(RP_OBJECT_ID_ACK),
        ack(RP_VENDOR_ID_ACK),
        ack(RP_VENDOR_NAME_ACK),
        ack(RP_FIRMWARE_ACK),
        ack(RP_APP_SW_ACK),
        ack(RP_NAME_ACK),
        ack(RP_MODEL_ACK),
    ]);
    let s = Subject::Server;
    assert_eq!(
        out,
        vec![
            speaks(Subject::Client, Role::Client),
            op(Operation::Read, 12),
            speaks(s, Role::Server),
            id(
                s,
                Field::Description,
                "bacnet device 500",
                source::BACNET_READPROPERTY_OBJECT_IDENTIFIER
            ),
            id(
                s,
                Field::Vendor,
                "Johnson Controls, Inc.",
                source::BACNET_READPROPERTY_VENDOR_IDENTIFIER
            ),
            id(
                s,
                Field::Vendor,
                "JCI",
                source::BACNET_READPROPERTY_VENDOR_NAME
            ),
            id(
                s,
                Field::Firmware,
                "5.1.0.4400",
                source::BACNET_READPROPERTY_FIRMWARE_REVISION
            ),
            id(
                s,
                Field::Hostname,
                "KBRNAE",
                source::BACNET_READPROPERTY_OBJECT_NAME
            ),
            id(
                s,
                Field::Model,
                "MS-NAE4510-2",
                source::BACNET_READPROPERTY_MODEL_NAME
            ),
        ]
    );
}

#[test]
fn repeated_polls_report_once_and_other_objects_not_at_all() {
    let out = run(&[
        req(RP_AI_REQ),
        ack(RP_AI_ACK),
        ack(RP_PLC28_NAME),
        req(RP_AI_REQ),
        ack(RP_AI_ACK),
        ack(RP_PLC28_NAME),
    ]);
    let s = Subject::Server;
    assert_eq!(
        out,
        vec![
            speaks(Subject::Client, Role::Client),
            op(Operation::Read, 12),
            speaks(s, Role::Server),
            id(
                s,
                Field::Hostname,
                "PLC_28",
                source::BACNET_READPROPERTY_OBJECT_NAME
            ),
            op(Operation::Read, 12),
        ]
    );
}

#[test]
fn discovery_and_time_sync() {
    // I-Am broadcast by the device that is this flow's client.
    let out = run(&[req(I_AM_721), req(WHO_IS), req(TIME_SYNC), req(I_HAVE)]);
    let c = Subject::Client;
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(0x100),
            speaks(c, Role::Server),
            id(
                c,
                Field::Description,
                "bacnet device 721",
                source::BACNET_I_AM
            ),
            op(Operation::Identify, 0x108),
            speaks(c, Role::Client),
            op_with(
                Operation::TimeSync,
                0x106,
                &[
                    ("service", "TimeSynchronization"),
                    ("setting", "clock"),
                    ("value", "2018-03-06T16:18:48.27"),
                ]
            ),
            Observation::FunctionCode(0x101),
        ]
    );
    // I-Am from a device through a BBMD: the original source is the subject.
    let out = run(&[req(FORWARDED_I_AM)]);
    let fwd = Subject::Ip("192.168.0.5".parse().unwrap());
    assert_eq!(
        out,
        vec![
            Observation::FunctionCode(0x100),
            speaks(fwd, Role::Server),
            id(
                fwd,
                Field::Description,
                "bacnet device 123",
                source::BACNET_I_AM
            ),
            id(fwd, Field::Vendor, "Tridium Inc.", source::BACNET_I_AM),
        ]
    );
    // I-Am from behind a router: the IP sender is the router, so nobody's identity.
    assert_eq!(
        run(&[req(ROUTED_I_AM)]),
        vec![Observation::FunctionCode(0x100)]
    );
    // Network-layer messages and BVLC results carry no operation.
    assert!(run(&[ack(I_AM_ROUTER), ack(RESULT_NAK)]).is_empty());
}

#[test]
fn broadcasts_have_no_conversation() {
    let mut c = ctx(Transport::Udp, "10.0.0.1:47808", "10.0.0.255:47808");
    c.dst_mac = Some(otwatch_common::Mac::BROADCAST);
    let mut d = BacnetDissector::default();
    let mut out = Vec::new();
    for m in [WHO_IS, I_AM_721, DCC_PASSWORD] {
        d.parse(Direction::ToServer, &hex(m), &c, &mut out);
    }
    let s = Subject::Client;
    assert_eq!(
        out,
        vec![
            speaks(s, Role::Client),
            speaks(s, Role::Server),
            id(
                s,
                Field::Description,
                "bacnet device 721",
                source::BACNET_I_AM
            ),
        ]
    );
}

#[test]
fn read_property_multiple_device_answer() {
    let s = Subject::Server;
    assert_eq!(
        run(&[ack(RPM_DEVICE)]),
        vec![
            speaks(s, Role::Server),
            id(
                s,
                Field::Hostname,
                "AHU-1",
                source::BACNET_READPROPERTYMULTIPLE_OBJECT_NAME
            ),
            id(
                s,
                Field::Model,
                "M-1",
                source::BACNET_READPROPERTYMULTIPLE_MODEL_NAME
            ),
            id(
                s,
                Field::Vendor,
                "Delta Controls",
                source::BACNET_READPROPERTYMULTIPLE_VENDOR_IDENTIFIER
            ),
        ]
    );
}

#[test]
fn read_property_multiple_results_of_a_real_segmented_answer() {
    let body = |m: &str| {
        let bytes = hex(m);
        let n = parse_npdu(parse_bvll(&bytes).unwrap().npdu.unwrap()).unwrap();
        match parse_apdu(n.apdu).unwrap() {
            Apdu::ComplexAck { body, .. } => body.to_vec(),
            a => panic!("{a:?}"),
        }
    };
    // tshark (reassembled in frame 281): 32 objects analog-input,2101..2132, property
    // present-value; 10 values (Real) and 22 errors, the last one in segment 1.
    let seg0 = body(RPM_SEGMENT_0);
    let mut results = Vec::new();
    for_each_rpm_result(&seg0, |v| results.push(v)).unwrap();
    assert_eq!(results.len(), 31);
    assert_eq!(results[0].object, (0, 2101));
    assert_eq!(results[0].property, 85);
    assert_eq!(
        results[0].value.map(|t| (t.context, t.number, t.value())),
        Some((false, 4, Some(&[0x42, 0x5c, 0, 0][..])))
    );
    assert_eq!(results.iter().filter(|v| v.value.is_some()).count(), 10);
    let seg1 = body(RPM_SEGMENT_1);
    let mut last = Vec::new();
    for_each_rpm_result(&seg1, |v| last.push(v)).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].object, last[0].value), ((0, 2132), None));
    // Routed and segmented: operations only, no identity, no violation.
    assert_eq!(run(&[ack(RPM_SEGMENT_0), ack(RPM_SEGMENT_1)]), vec![]);
}

#[test]
fn segmented_answers_are_not_violations() {
    let out = run(&[
        req(RP_OBJECT_LIST_REQ),
        ack(RP_OBJECT_LIST_ACK),
        ack(SEGMENTED_ACK_TAIL),
        req(SEGMENT_ACK),
    ]);
    assert_eq!(
        out,
        vec![
            speaks(Subject::Client, Role::Client),
            op(Operation::Read, 12),
            speaks(Subject::Server, Role::Server),
        ]
    );
}

#[test]
fn operations_of_requests() {
    let cases: &[(&str, Observation)] = &[
        (WRITE_PROPERTY, op(Operation::Write, 15)),
        (
            ATOMIC_READ_FILE,
            op_with(
                Operation::FileTransfer,
                6,
                &[
                    ("service", "AtomicReadFile"),
                    ("object", "file 0"),
                    ("file", "file 0"),
                    ("file_op", "read"),
                ],
            ),
        ),
        (
            REINIT_COLDSTART,
            op_with(
                Operation::Restart,
                20,
                &[("service", "ReinitializeDevice coldstart")],
            ),
        ),
        (PRIVATE_TRANSFER, Observation::FunctionCode(18)),
        (DISTRIBUTE_BROADCAST, Observation::FunctionCode(0x103)),
        (YOU_ARE, op(Operation::Write, 0x10e)),
        (READ_BDT, op(Operation::Read, 0x8102)),
        (REGISTER_FD, op(Operation::Control, 0x8105)),
    ];
    for (m, want) in cases {
        let out = run(&[req(m)]);
        assert!(out.contains(want), "{m}: {out:?}");
        assert!(violations(&out).is_empty(), "{m}: {out:?}");
    }
    // Error, Reject, Abort come from the server.
    for m in [ERROR, REJECT, ABORT] {
        assert_eq!(run(&[ack(m)]), vec![speaks(Subject::Server, Role::Server)]);
    }
}

#[test]
fn reinitialize_states() {
    let body = |state: u8| [0x09, state];
    assert_eq!(
        services::reinitialize_operation(&body(0)),
        Operation::Restart
    );
    assert_eq!(
        services::reinitialize_operation(&body(1)),
        Operation::Restart
    );
    assert_eq!(
        services::reinitialize_operation(&body(2)),
        Operation::ProgramUpload
    );
    assert_eq!(
        services::reinitialize_operation(&body(3)),
        Operation::ProgramUpload
    );
    assert_eq!(
        services::reinitialize_operation(&body(4)),
        Operation::ProgramDownload
    );
    assert_eq!(
        services::reinitialize_operation(&body(5)),
        Operation::ProgramDownload
    );
    assert_eq!(
        services::reinitialize_operation(&body(6)),
        Operation::Control
    );
    assert_eq!(
        services::reinitialize_operation(&body(7)),
        Operation::Restart
    );
    assert_eq!(services::reinitialize_operation(&[]), Operation::Restart);
}

#[test]
fn passwords_are_a_finding_never_a_value() {
    // bacapp password 'filister' (DCC) and 'Delcatty70' (ReinitializeDevice).
    let out = run(&[
        req(DCC_PASSWORD),
        req(REINIT_BAD_LENGTH),
        ack(REINIT_ERROR_BAD_LENGTH),
    ]);
    let logins: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, Observation::CleartextLogin { .. }))
        .collect();
    assert_eq!(
        logins,
        [&Observation::CleartextLogin {
            user: String::new(),
            protocol: "bacnet"
        }]
    );
    // DeviceCommunicationControl reconfigures the device; the abort-restore
    // ReinitializeDevice is device management (control).
    assert!(out.contains(&op_with(
        Operation::ConfigChange,
        17,
        &[
            ("service", "DeviceCommunicationControl disable"),
            ("setting", "communication"),
            ("value", "disable"),
            ("duration", "60 minutes"),
        ]
    )));
    assert!(out.contains(&op_with(
        Operation::Control,
        20,
        &[("service", "ReinitializeDevice abortrestore")]
    )));
    let text = format!("{out:?}");
    assert!(!text.contains("filister") && !text.contains("Delcatty"));
    // Both length mismatches of bacnet_example frames 572/573 are reported.
    assert_eq!(
        violations(&out),
        [
            "BVLC length 17 does not match the 25-octet datagram",
            "BVLC length 17 does not match the 13-octet datagram"
        ]
    );
    assert!(run(&[req(REINIT_COLDSTART)])
        .iter()
        .all(|o| !matches!(o, Observation::CleartextLogin { .. })));
}

#[test]
fn character_sets() {
    assert_eq!(
        character_string(&hex("04004a00430049")).as_deref(),
        Some("JCI")
    );
    assert_eq!(character_string(b"\x00PLC_28").as_deref(), Some("PLC_28"));
    assert_eq!(
        character_string(b"\x05Z\xfcrich").as_deref(),
        Some("Zürich")
    );
    assert_eq!(
        character_string(&hex("03000000410001f600")).as_deref(),
        Some("A\u{1f600}")
    );
    // A lone surrogate and an odd trailing octet do not panic.
    assert_eq!(
        character_string(&hex("04d800")).as_deref(),
        Some("\u{fffd}")
    );
    assert_eq!(character_string(&hex("040041ff")).as_deref(), Some("A"));
    assert_eq!(character_string(&[0x04]), None);
    assert_eq!(character_string(&[]), None);
    // Controls are replaced and the text is capped.
    assert_eq!(character_string(b"\x00a\x07b").as_deref(), Some("a b"));
    let long: Vec<u8> = std::iter::once(0).chain([b'x'; 5000]).collect();
    assert_eq!(character_string(&long).map(|s| s.len()), Some(256));
}

#[test]
fn wildcard_i_am_is_not_an_identity() {
    // I-Am device,4194303 (an unconfigured device), vendor 5.
    let m = "810b001401001000c4023fffff2204009100 2105".replace(' ', "");
    let out = run(&[req(&m)]);
    assert!(out.iter().all(|o| !matches!(
        o,
        Observation::Identity {
            field: Field::Description,
            ..
        }
    )));
    assert!(out.contains(&id(
        Subject::Client,
        Field::Vendor,
        "Johnson Controls, Inc.",
        source::BACNET_I_AM
    )));
}

#[test]
fn malformed_input_is_reported_and_capped() {
    // Truncated I-Am with a correct BVLC Length.
    let out = run(&[req("810a000b01001000c40200")]);
    assert_eq!(violations(&out), ["malformed I-Am"]);
    // A property value whose extended length claims 4 GiB.
    let out = run(&[ack("810a00170100 30010c 0c020001f4 194d 3e 75ffffffffff"
        .replace(' ', "")
        .as_str())]);
    assert_eq!(violations(&out), ["malformed ReadProperty-ACK"]);
    // Reserved APDU type, NPDU version 2, SLEN 0, reserved function.
    for (m, why) in [
        ("810a0007010080", "reserved APDU type 8"),
        (
            "810a000802001008",
            "NPDU protocol version 2 (only 1 is defined)",
        ),
        ("810a00090108000300", "NPDU source address with SLEN 0"),
        (
            "810a000a0108ffff0101",
            "NPDU source network 0xFFFF (the global broadcast)",
        ),
        ("810a00060100", "APDU truncated"),
        ("810e0004", "reserved BVLC function 0x0e"),
        (
            "810500070010ff",
            "BVLC function 0x05 with a malformed 3-octet body",
        ),
    ] {
        let out = run(&[req(m)]);
        assert_eq!(violations(&out).first().copied(), Some(why), "{m}");
    }
    // At most four violations per flow.
    let many: Vec<_> = (0..10).map(|_| req("810e0004")).collect();
    assert_eq!(violations(&run(&many)).len(), 4);
}

#[test]
fn never_panics_on_truncations_flips_and_noise() {
    let msgs: Vec<Vec<u8>> = ALL.iter().map(|m| hex(m)).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let c = ctx(Transport::Udp, "10.0.0.1:47808", "10.0.0.2:47808");
    never_panics(&SPEC, &c, &refs);
    // Every truncation of every body through the service parsers directly.
    for m in &msgs {
        for n in 0..m.len() {
            let _ = parse_i_am(&m[n..]);
            let _ = parse_read_property_ack(&m[n..]);
            let _ = for_each_rpm_result(&m[n..], |_| {});
            let _ = TagReader::new(&m[n..]).count();
            let _ = character_string(&m[n..]);
        }
    }
}
