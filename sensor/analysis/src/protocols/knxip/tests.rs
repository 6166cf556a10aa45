//! Tests on KNXnet/IP frames built here from the KNX Standard (03_08_02 Core §7.5.4 for the
//! search answer and its device information DIB, 03_08_04 Tunnelling §4.4 and 03_06_03 §4.1.5
//! for the cEMI L_Data frames), each explained; the recorded capture is tested end to end in
//! sensor/tests/ot_knxip.rs.

use super::*;
use crate::protocols::testing::{ctx, datagram, feed, hex, id, never_panics};
use crate::protocols::FlowCtx;

fn c() -> FlowCtx {
    ctx(Transport::Udp, "192.168.1.10:57660", "192.168.1.50:3671")
}

/// A search answer from 192.168.1.50:3671: DIB device information (TP1, individual address
/// 1.1.0, serial 0083:497f01ec, routing multicast 224.0.23.12, MAC 00:24:6d:01:02:03, friendly
/// name "KNX IP Router 752"), then the supported service families.
const SEARCH_RESPONSE: &str = "06100202004e0801c0a801320e5736010200110000000083497f01ece000170c00246d0102034b4e5820495020526f7574657220373532000000000000000000000000000a020201030104010501";
/// A search request, discovery endpoint 192.168.1.10:57660.
const SEARCH_REQUEST: &str = "06100201000e0801c0a8010ae13c";
/// Tunnelling request, channel 0x15, seq 0: L_Data.req GroupValueWrite 1 to 1/2/3.
const TUN_WRITE: &str = "061004200015041500001100bce000000a03010081";
/// The same with GroupValueRead.
const TUN_READ: &str = "061004200015041501001100bce000000a03010000";
/// From the server: L_Data.ind of 1.1.5's GroupValueResponse on 1/2/3.
const TUN_IND: &str = "061004200015041500002900bcd011050a03010041";
const TUN_ACK: &str = "06100421000a04150000";
/// Routing indication of a GroupValueWrite.
const ROUTING_WRITE: &str = "0610053000112900bce011050a03010081";
/// Tunnelled MemoryWrite (APCI 0x281: one octet) to individual address 1.1.5.
const MEMWRITE: &str = "061004200017041502001100b060000011050342810100";

#[test]
fn header_and_cemi_fields() {
    let m = hex(TUN_WRITE);
    assert_eq!(
        Header::parse(&m),
        Ok(Some(Header {
            service: 0x0420,
            total_length: 21
        }))
    );
    let c = cemi::parse(&m[10..]).unwrap();
    assert_eq!(c.message_code, cemi::mc::L_DATA_REQ);
    let d = c.data.unwrap();
    assert_eq!(
        (d.source, d.destination, d.group, d.apci),
        (0, 0x0a03, true, Some(0x081))
    );
    assert_eq!(cemi::group_address(d.destination), "1/2/3");
    assert_eq!(cemi::individual_address(0x1105), "1.1.5");
    assert_eq!(cemi::service(0x081), 0x080);
    assert_eq!(cemi::service(0x3d7), 0x3d7);
    assert_eq!(
        Header::parse(&hex("06200420000a")),
        Err(KnxIpError::Version(0x20))
    );
    assert_eq!(Header::parse(&hex("0510042000")), Ok(None));
}

#[test]
fn probe_takes_knxip_only() {
    assert_eq!(probe(Direction::ToServer, &hex(SEARCH_REQUEST)), Probe::Yes);
    assert_eq!(
        probe(Direction::ToClient, &hex(SEARCH_RESPONSE)),
        Probe::YesFromServer
    );
    assert_eq!(probe(Direction::ToServer, &hex("0610")), Probe::NeedMore);
    for other in [
        "0300001611e0",
        "474554202f20",
        "0610ff00000a",
        "061002010002",
    ] {
        assert_eq!(
            probe(Direction::ToServer, &hex(other)),
            Probe::No,
            "{other}"
        );
    }
}

#[test]
fn a_search_answer_names_the_router() {
    let mut d = (SPEC.new)();
    let mut out = datagram(d.as_mut(), Direction::ToServer, &c(), &hex(SEARCH_REQUEST));
    out.extend(datagram(
        d.as_mut(),
        Direction::ToClient,
        &c(),
        &hex(SEARCH_RESPONSE),
    ));
    let s = Subject::Server;
    let src = source::KNXIP_DEVICE_INFO;
    assert_eq!(
        out,
        vec![
            Observation::Operation {
                op: Operation::Identify,
                function_code: None,
                details: vec![]
            },
            id(s, Field::Hostname, "KNX IP Router 752", src),
            id(s, Field::Serial, "0083:497f01ec", src),
            id(
                s,
                Field::Description,
                "KNX individual address 1.1.0, TP1, manufacturer code 0x0083",
                src
            ),
            id(s, Field::DeviceType, "building_controller", src),
            Observation::Binding {
                mac: Mac([0x00, 0x24, 0x6d, 0x01, 0x02, 0x03]),
                ip: "192.168.1.50".parse().unwrap(),
                source: "knxip device information"
            },
        ]
    );
}

#[test]
fn tunnelled_group_writes_and_reads_are_operations() {
    let mut d = (SPEC.new)();
    let mut out = Vec::new();
    for (dir, m) in [
        (Direction::ToServer, TUN_WRITE),
        (Direction::ToClient, TUN_ACK),
        (Direction::ToClient, TUN_IND),
        (Direction::ToServer, TUN_READ),
        (Direction::ToServer, MEMWRITE),
        (Direction::ToServer, ROUTING_WRITE),
    ] {
        out.extend(datagram(d.as_mut(), dir, &c(), &hex(m)));
    }
    assert_eq!(
        out,
        vec![
            Observation::Operation {
                op: Operation::Write,
                function_code: Some(0x080),
                details: vec![
                    ("service", "GroupValueWrite".into()),
                    ("group_address", "1/2/3".into())
                ]
            },
            Observation::Operation {
                op: Operation::Read,
                function_code: Some(0x000),
                details: vec![]
            },
            Observation::Operation {
                op: Operation::ProgramDownload,
                function_code: Some(0x280),
                details: vec![
                    ("service", "MemoryWrite".into()),
                    ("individual_address", "1.1.5".into())
                ]
            },
            Observation::Operation {
                op: Operation::Write,
                function_code: Some(0x080),
                details: vec![
                    ("service", "GroupValueWrite".into()),
                    ("group_address", "1/2/3".into())
                ]
            },
        ]
    );
}

#[test]
fn tcp_frames_in_pieces_and_violations() {
    let tcp = ctx(Transport::Tcp, "192.168.1.10:50000", "192.168.1.50:3671");
    for piece in [1, 5, 100] {
        let mut d = (TCP_SPEC.new)();
        let mut out = Vec::new();
        let data = [hex(TUN_WRITE), hex(TUN_READ)].concat();
        assert_eq!(
            feed(
                d.as_mut(),
                Direction::ToServer,
                &tcp,
                &data,
                piece,
                &mut out
            ),
            0
        );
        assert_eq!(out.len(), 2, "piece {piece}");
    }
    let reasons = |m: &str| -> Vec<String> {
        let mut d = (SPEC.new)();
        datagram(d.as_mut(), Direction::ToServer, &c(), &hex(m))
            .into_iter()
            .filter_map(|o| match o {
                Observation::ProtocolViolation { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        reasons("061004200016041500001100bce000000a03010081"),
        ["KNXnet/IP total length 22 but the datagram holds 21 octets"]
    );
    assert_eq!(
        reasons("06100420000f041500001100bce000"),
        ["cEMI frame cut short"]
    );
    assert_eq!(
        reasons("06100202000e0901c0a801320e57"),
        ["KNXnet/IP structure of length 9 runs past its frame"]
    );
}

#[test]
fn never_panics_on_any_input() {
    let msgs: Vec<Vec<u8>> = [
        SEARCH_RESPONSE,
        SEARCH_REQUEST,
        TUN_WRITE,
        TUN_IND,
        MEMWRITE,
        ROUTING_WRITE,
    ]
    .iter()
    .map(|m| hex(m))
    .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    never_panics(&SPEC, &c(), &refs);
    let tcp = ctx(Transport::Tcp, "192.168.1.10:50000", "192.168.1.50:3671");
    never_panics(&TCP_SPEC, &tcp, &refs);
}
