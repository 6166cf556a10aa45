//! Tests on the real HART-IP messages of the corpus capture other-ics/hart_ip.pcap (ITI
//! ICS-Security-Tools, CC-BY-4.0; payloads from `tshark -T fields -e udp.payload -e
//! tcp.payload`, fields as `tshark -O hart_ip` shows them), and on requests built here from
//! HCF_SPEC-081 (token-passing PDU) where the capture has no writes.

use super::*;
use crate::protocols::testing::{ctx, datagram, feed, hex, id, never_panics};
use crate::protocols::FlowCtx;

fn udp() -> FlowCtx {
    ctx(Transport::Udp, "192.168.0.101:49558", "192.168.0.10:5094")
}

fn tcp() -> FlowCtx {
    ctx(Transport::Tcp, "192.168.0.101:49559", "192.168.0.10:5094")
}

/// Frame 1: session initiate request, primary host, inactivity close timer 30000.
const INITIATE: &str = "010000000002000d0100007530";
/// Frame 2: its response, timer 60000.
const INITIATE_RESPONSE: &str = "010100000002000d010000ea60";
/// Frame 3: pass through, STX long frame to 264e0000d2, command 0.
const CMD0: &str = "010003000003001182264e0000d2000038";
/// Frame 4: command 0 answer: expanded device type 0x264e, HART 7, device rev 4, software
/// rev 1, hardware/signalling 0x0e, device id 0000d2, manufacturer 38, profile 132.
const CMD0_ANSWER: &str =
    "010103000003002986264e0000d2001800d0fe264e050704010e0c0000d205020002d00026002684e4";
/// Frame 17: command 20 (read long tag).
const CMD20: &str = "01000300000a001182264e0000d214002c";
/// Frame 18: its answer: "wihartgw".
const CMD20_ANSWER: &str = "01010300000a003386264e0000d2142200d07769686172746777000000000000000000000000000000000000000000000000db";
/// Frame 15/16: command 13 and its answer (tag and descriptor all zero).
const CMD13_ANSWER: &str =
    "010103000009002886264e0000d20d1700d0000000000000000000000000000000000000000000f6";
/// Frame 80 (TCP): command 0 by polling address 0, short frame.
const CMD0_SHORT: &str = "010003000003000d0200000002";
/// Frame 81 (TCP): its answer.
const CMD0_SHORT_ANSWER: &str =
    "01010300000300250600001800d0fe264e050704010e0c0000d205020002d00026002684de";
/// Frames 23, 25: keep alive and session close requests.
const KEEP_ALIVE: &str = "01000200000c0008";
const CLOSE: &str = "01000100000d0008";

/// A request PDU built from HCF_SPEC-081: long frame to 264e0000d2, `command` with `data`.
fn request(command: u8, data: &[u8]) -> Vec<u8> {
    let mut pdu = vec![
        0x82,
        0xa6,
        0x4e,
        0x00,
        0x00,
        0xd2,
        command,
        data.len() as u8,
    ];
    pdu.extend_from_slice(data);
    pdu.push(pdu.iter().fold(0, |x, b| x ^ b));
    let mut m = vec![1, 0, 3, 0, 0, 42];
    m.extend_from_slice(&((HEADER_LEN + pdu.len()) as u16).to_be_bytes());
    m.extend_from_slice(&pdu);
    m
}

#[test]
fn header_and_pdu_fields_match_tshark() {
    let m = hex(CMD0_ANSWER);
    let h = Header::parse(&m).unwrap();
    assert_eq!(
        h,
        Header {
            version: 1,
            message_type: 1,
            message_id: 3,
            status: 0,
            sequence: 3,
            byte_count: 41
        }
    );
    let p = pdu::parse(&m[HEADER_LEN..]).unwrap();
    assert_eq!(p.frame_type(), pdu::frame_type::ACK);
    assert_eq!(p.address.unique_hex().as_deref(), Some("264e0000d2"));
    assert_eq!((p.command, p.byte_count), (0, 24));
    assert_eq!(p.response_code(), Some(0));
    assert_eq!((p.checksum, p.computed), (0xe4, 0xe4));
    let id = pdu::unique_identifier(p.body()).unwrap();
    assert_eq!(
        id,
        pdu::UniqueIdentifier {
            expanded_device_type: 0x264e,
            universal_revision: 7,
            device_revision: 4,
            software_revision: 1,
            hardware_revision: 1,
            device_id: 0xd2,
            manufacturer: 38,
            profile: Some(132),
        }
    );
    let short = hex(CMD0_SHORT);
    let p = pdu::parse(&short[HEADER_LEN..]).unwrap();
    assert_eq!(
        (p.address, p.command, p.checksum),
        (Address::Polling(0), 0, 2)
    );
}

#[test]
fn probe_takes_hart_ip_and_little_else() {
    for m in [INITIATE, CMD0, KEEP_ALIVE, CLOSE, CMD0_SHORT] {
        assert_eq!(probe(Direction::ToServer, &hex(m)), Probe::Yes, "{m}");
    }
    for m in [INITIATE_RESPONSE, CMD0_ANSWER] {
        assert_eq!(
            probe(Direction::ToClient, &hex(m)),
            Probe::YesFromServer,
            "{m}"
        );
    }
    assert_eq!(probe(Direction::ToServer, &hex(CMD0)[..5]), Probe::NeedMore);
    // A TPKT, an HTTP request, a Modbus header: the first octet says no.
    for other in ["0300001611e0", "474554202f20", "000100000006"] {
        assert_eq!(probe(Direction::ToServer, &hex(other)), Probe::No);
    }
    // Malformed Modbus headers that start with 1 (tests/data/attacks/modbus_malformed.pcap):
    // a publish that is no PDU, a session initiate too long, unknown types.
    for other in [
        "010200000002010300000002",
        "010100000014010300000002",
        "010500000000",
        "01060000000101",
    ] {
        assert_eq!(
            probe(Direction::ToServer, &hex(other)),
            Probe::No,
            "{other}"
        );
    }
    // A request with a status, a PDU with a broken delimiter.
    assert_eq!(
        probe(Direction::ToServer, &hex("01000205000c0008")),
        Probe::No
    );
    assert_eq!(
        probe(
            Direction::ToServer,
            &hex("010003000003001185264e0000d2000038")
        ),
        Probe::No
    );
}

#[test]
fn the_gateway_is_named_from_its_own_answers() {
    let mut d = (SPEC.new)();
    let c = udp();
    let mut out = Vec::new();
    for (dir, m) in [
        (Direction::ToServer, INITIATE),
        (Direction::ToClient, INITIATE_RESPONSE),
        (Direction::ToServer, CMD0),
        (Direction::ToClient, CMD0_ANSWER),
        (Direction::ToServer, CMD20),
        (Direction::ToClient, CMD20_ANSWER),
        (Direction::ToClient, CMD13_ANSWER),
        (Direction::ToServer, KEEP_ALIVE),
    ] {
        out.extend(datagram(d.as_mut(), dir, &c, &hex(m)));
    }
    let s = Subject::Server;
    assert_eq!(
        out,
        vec![
            Observation::Operation {
                op: Operation::Identify,
                function_code: Some(0),
                details: vec![]
            },
            id(
                s,
                Field::Model,
                "HART device type 0x264e",
                source::HART_COMMAND_0
            ),
            id(s, Field::Vendor, "Rosemount", source::HART_COMMAND_0),
            id(
                s,
                Field::Firmware,
                "software revision 1, hardware revision 1, device revision 4",
                source::HART_COMMAND_0
            ),
            id(s, Field::Serial, "264e0000d2", source::HART_COMMAND_0),
            id(
                s,
                Field::Description,
                "HART 7 device, manufacturer id 38, device id 0x0000d2, profile WirelessHART gateway",
                source::HART_COMMAND_0
            ),
            id(s, Field::DeviceType, "rtu", source::HART_COMMAND_0),
            Observation::Operation {
                op: Operation::Read,
                function_code: Some(20),
                details: vec![]
            },
            id(s, Field::Hostname, "wihartgw", source::HART_LONG_TAG),
        ]
    );
}

#[test]
fn tcp_stream_in_pieces_polls_address_zero() {
    let c = tcp();
    for piece in [1, 3, 100] {
        let mut d = (SPEC.new)();
        let mut out = Vec::new();
        let req = [hex(CMD0_SHORT), hex(CMD20)].concat();
        let ans = [hex(CMD0_SHORT_ANSWER), hex(CMD20_ANSWER)].concat();
        assert_eq!(
            feed(d.as_mut(), Direction::ToServer, &c, &req, piece, &mut out),
            0
        );
        assert_eq!(
            feed(d.as_mut(), Direction::ToClient, &c, &ans, piece, &mut out),
            0
        );
        assert!(out.contains(&id(
            Subject::Server,
            Field::Hostname,
            "wihartgw",
            source::HART_LONG_TAG
        )));
        assert!(out.contains(&id(
            Subject::Server,
            Field::Serial,
            "264e0000d2",
            source::HART_COMMAND_0
        )));
        assert!(!out
            .iter()
            .any(|o| matches!(o, Observation::ProtocolViolation { .. })));
    }
}

#[test]
fn writes_are_operations_with_their_command() {
    let c = udp();
    let mut d = (SPEC.new)();
    let mut out = Vec::new();
    for m in [
        request(6, &[5, 0]),
        request(22, &[b'x'; 32]),
        request(35, &[32, 0, 0, 0, 0, 0x42, 0xc8, 0, 0]),
        request(42, &[]),
        request(48, &[]),
        request(150, &[]),
    ] {
        out.extend(datagram(d.as_mut(), Direction::ToServer, &c, &m));
    }
    let op = |op, code: u32, name: &str, setting: Option<&str>| {
        let mut details = vec![("command", format!("{code} {name}"))];
        if let Some(s) = setting {
            details.push(("setting", s.to_string()));
        }
        details.push(("device", "264e0000d2".into()));
        Observation::Operation {
            op,
            function_code: Some(code),
            details,
        }
    };
    assert_eq!(
        out,
        vec![
            op(
                Operation::ConfigChange,
                6,
                "write polling address",
                Some("network")
            ),
            op(Operation::ConfigChange, 22, "write long tag", Some("name")),
            op(
                Operation::Write,
                35,
                "write primary variable range values",
                None
            ),
            op(Operation::Restart, 42, "perform device reset", None),
            Observation::Operation {
                op: Operation::Diagnostics,
                function_code: Some(48),
                details: vec![]
            },
            Observation::FunctionCode(150),
        ]
    );
}

#[test]
fn sub_devices_are_described_not_taken_for_the_server() {
    let c = udp();
    let mut d = (SPEC.new)();
    let mut out = datagram(d.as_mut(), Direction::ToClient, &c, &hex(CMD0_ANSWER));
    // Another device (unique id 264e0000d3) behind the gateway answers command 0 and 20.
    // Octet 13: the address's last octet; 29: the device id's last (header 8, delimiter,
    // address 5, command, byte count, response code, device status, body octet 11).
    let mut other = hex(CMD0_ANSWER);
    other[13] = 0xd3;
    other[29] = 0xd3;
    let p = pdu::parse(&other[HEADER_LEN..]).unwrap();
    let n = other.len();
    other[n - 1] = p.computed;
    out.clear();
    out.extend(datagram(d.as_mut(), Direction::ToClient, &c, &other));
    assert_eq!(
        out,
        vec![id(
            Subject::Server,
            Field::Description,
            "HART sub-device 264e0000d3: device type 0x264e, manufacturer id 38 (Rosemount), WirelessHART gateway",
            source::HART_COMMAND_0
        )]
    );
}

#[test]
fn malformed_messages_are_violations() {
    let c = udp();
    let reasons = |m: &[u8]| -> Vec<String> {
        let mut d = (SPEC.new)();
        datagram(d.as_mut(), Direction::ToServer, &c, m)
            .into_iter()
            .filter_map(|o| match o {
                Observation::ProtocolViolation { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    };
    let mut bad_sum = hex(CMD0);
    *bad_sum.last_mut().unwrap() ^= 1;
    assert_eq!(
        reasons(&bad_sum),
        ["HART check byte 0x39 where the PDU's XOR is 0x38"]
    );
    assert_eq!(
        reasons(&hex("010000000002000b010000")),
        ["HART-IP session initiate body of 3 octets (5 expected)"]
    );
    assert_eq!(
        reasons(&hex("0100020000010009")),
        ["HART-IP byte count 9 but the datagram holds 8 octets"]
    );
    assert_eq!(
        reasons(&hex("0107020000010008")),
        ["unknown HART-IP message type 7"]
    );
    assert_eq!(
        reasons(&hex("010003000003000982")),
        ["HART token-passing PDU cut short"]
    );
}

#[test]
fn packed_ascii_and_long_tags() {
    // "ABCD" in packed ASCII: codes 1, 2, 3, 4.
    assert_eq!(pdu::packed_ascii(&[0x04, 0x20, 0xc4]), "ABCD");
    assert_eq!(pdu::packed_ascii(&[0; 6]), "@@@@@@@@");
    assert_eq!(pdu::packed_name(&[0; 6]), None);
    assert_eq!(
        pdu::packed_name(&[0x04, 0x20, 0xc4, 0x80, 0x20, 0x00]),
        Some("ABCD B".into())
    );
    assert_eq!(pdu::latin1(b"TT-101\0\0\0"), Some("TT-101".into()));
    assert_eq!(pdu::latin1(&[0; 32]), None);
}

#[test]
fn never_panics_on_any_input() {
    let msgs: Vec<Vec<u8>> = [
        INITIATE,
        CMD0,
        CMD0_ANSWER,
        CMD20_ANSWER,
        CMD13_ANSWER,
        CMD0_SHORT_ANSWER,
    ]
    .iter()
    .map(|m| hex(m))
    .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    never_panics(&SPEC, &tcp(), &refs);
    never_panics(&UDP_SPEC, &udp(), &refs);
}
