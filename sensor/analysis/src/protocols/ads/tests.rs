//! Tests on real ADS payloads (`tshark -T fields -e tcp.payload -e udp.payload`): the public
//! capture `beckhoff-addroute1.pcapng` (TwinCAT engineering PC 192.168.1.99, AMS Net ID
//! 192.168.1.199.1.1, adding a route on CX 192.168.1.8, 5.13.117.96.1.1) and
//! `ads_pyads_ops.pcap` (pyads 3.6.0 against its AdsTestServer, tests/peers/record); a few
//! messages are built here, each explained.

use super::*;
use crate::protocols::testing::{
    ctx, datagram, hex, hex_segments, id, login, never_panics, never_panics_in_conversation,
    run_segments,
};
use crate::protocols::{FlowCtx, Transport};

fn c() -> FlowCtx {
    ctx(Transport::Tcp, "10.77.1.10:46868", "10.77.1.20:48898")
}

fn u() -> FlowCtx {
    ctx(Transport::Udp, "192.168.1.99:48899", "192.168.1.8:48899")
}

// ads_pyads_ops.pcap, frame by frame (client 10.77.1.10.1.1:30001, server 10.77.1.20.1.1:851).
const DEVICE_INFO: &str =
    "0000200000000a4d0114010153030a4d010a0101317501000400000000000000000001000000";
/// pyads' test server answers "TestServer" unpadded (19 data bytes, not 24), version 1.2.3.
const DEVICE_INFO_RESPONSE: &str = "0000330000000a4d010a010131750a4d0114010153030100050013000000000000000100000000000000010203005465737453657276657200";
const READ_STATE: &str =
    "0000200000000a4d0114010153030a4d010a0101317504000400000000000000000002000000";
const READ_STATE_RESPONSE: &str =
    "0000280000000a4d010a010131750a4d011401015303040005000800000000000000020000000000000005000000";
/// Read group 0x4020 offset 0, 4 bytes.
const READ: &str = "00002c0000000a4d0114010153030a4d010a0101317502000400\
0c0000000000000003000000204000000000000004000000";
/// Write group 0x4020 offset 0, 2 bytes 0x1234.
const WRITE: &str = "00002e0000000a4d0114010153030a4d010a01013175030004000e00000000000000040000002040000000000000020000003412";
/// ReadWrite 0xF003 (handle by name) "MAIN.counter".
const GET_HANDLE: &str = "00003d0000000a4d0114010153030a4d010a01013175090004001d000000000000000500000003f0000000000000040000000d0000004d41494e2e636f756e74657200";
const ADD_NOTIFICATION: &str = "0000480000000a4d0114010153030a4d010a010131750600040028000000000000000600000020400000000000000400000004000000010000000100000000000000000000000000000000000000";
/// WriteControl STOP (6), device state 0.
const STOP: &str = "00002a0000000a4d0114010153030a4d010a01013175050004000a000000000000000700000006000000020000000000";
/// WriteControl RUN (5).
const RUN: &str = "00002a0000000a4d0114010153030a4d010a01013175050004000a000000000000000800000005000000020000000000";

// beckhoff-addroute1.pcapng frames 10 and 11: add route "SHENHUAJ6-PC", user Administrator,
// password "1" (tag 2), and the CX's answer (status 0).
const ADD_ROUTE: &str = "036614710000000006000000c0a801c701011027050000000c000d005348454e4855414a362d50430007000600c0a801c701010d000e0041646d696e6973747261746f720002000200310005000d005348454e4855414a362d504300";
const ADD_ROUTE_RESPONSE: &str = "036614710000000006000080050d756001011027010000000100040000000000";

fn conversation() -> Vec<(bool, &'static str)> {
    vec![
        (true, DEVICE_INFO),
        (false, DEVICE_INFO_RESPONSE),
        (true, READ_STATE),
        (false, READ_STATE_RESPONSE),
        (true, READ),
        (true, WRITE),
        (true, GET_HANDLE),
        (true, ADD_NOTIFICATION),
        (true, STOP),
        (true, RUN),
    ]
}

fn ops(out: &[Observation]) -> Vec<(Operation, Option<u32>)> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Operation {
                op, function_code, ..
            } => Some((*op, *function_code)),
            _ => None,
        })
        .collect()
}

fn details_of(out: &[Observation], which: Operation) -> Vec<(&'static str, String)> {
    out.iter()
        .find_map(|o| match o {
            Observation::Operation { op, details, .. } if *op == which => Some(details.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn probe_takes_ams_packets_and_refuses_others() {
    for m in [DEVICE_INFO, DEVICE_INFO_RESPONSE, WRITE, STOP] {
        assert_eq!(probe(Direction::ToServer, &hex(m)), Probe::Yes);
    }
    assert_eq!(
        probe(Direction::ToServer, &hex(WRITE)[..20]),
        Probe::NeedMore
    );
    assert_eq!(probe(Direction::ToServer, &[0]), Probe::NeedMore);
    // Not zero at the first byte: no.
    assert_eq!(probe(Direction::ToServer, b"GET / HTTP/1.1\r\n"), Probe::No);
    // A Modbus/TCP request with transaction id 0: its length field is too short.
    assert_eq!(
        probe(Direction::ToServer, &hex("000000000006010300000001")),
        Probe::No
    );
    // The data length must fill the packet.
    let mut bad = hex(WRITE);
    bad[26] = 0x0f;
    assert_eq!(probe(Direction::ToServer, &bad), Probe::No);
    assert_eq!(probe_udp(Direction::ToServer, &hex(ADD_ROUTE)), Probe::Yes);
    assert_eq!(
        probe_udp(Direction::ToClient, &hex(ADD_ROUTE_RESPONSE)),
        Probe::YesFromServer
    );
    assert_eq!(probe_udp(Direction::ToServer, &hex(WRITE)), Probe::No);
}

#[test]
fn pyads_session_operations_and_identity() {
    let out = run_segments(new, &c(), &hex_segments(&conversation()));
    assert_eq!(
        ops(&out),
        [
            (Operation::Identify, Some(1)),
            (Operation::Diagnostics, Some(4)),
            (Operation::Read, Some(2)),
            (Operation::Write, Some(3)),
            (Operation::Read, Some(9)),
            (Operation::Read, Some(6)),
            (Operation::CpuStop, Some(5)),
            (Operation::CpuStart, Some(5)),
        ]
    );
    let src = source::ADS_DEVICE_INFO;
    for want in [
        id(Subject::Server, Field::Vendor, "Beckhoff", src),
        id(Subject::Server, Field::Model, "TestServer", src),
        id(Subject::Server, Field::Firmware, "1.2.3", src),
        id(
            Subject::Client,
            Field::Description,
            "AMS Net ID 10.77.1.10.1.1",
            source::ADS_NET_ID,
        ),
        id(
            Subject::Server,
            Field::Description,
            "AMS Net ID 10.77.1.20.1.1",
            source::ADS_NET_ID,
        ),
    ] {
        assert!(out.contains(&want), "{want:?} in {out:?}");
    }
    assert_eq!(
        details_of(&out, Operation::Write),
        [
            ("service", "Write".to_string()),
            ("index_group", "0x4020".to_string()),
            ("index_offset", "0".to_string()),
        ]
    );
    assert_eq!(
        details_of(&out, Operation::CpuStop),
        [
            ("service", "WriteControl".to_string()),
            ("ads_state", "STOP".to_string()),
            ("device_state", "0".to_string()),
            ("ams_port", "851".to_string()),
        ]
    );
    assert!(out.contains(&Observation::Access(Access {
        op: Operation::Write,
        unit: Some(851),
        area: "plc_memory",
        block: None,
        start: 0,
        count: 2,
    })));
    assert!(!out
        .iter()
        .any(|o| matches!(o, Observation::ProtocolViolation { .. })));
}

#[test]
fn byte_by_byte_gives_the_same() {
    let whole = run_segments(new, &c(), &hex_segments(&conversation()));
    let bytes = run_segments(
        new,
        &c(),
        &crate::protocols::testing::byte_by_byte(&conversation()),
    );
    assert_eq!(whole, bytes);
}

#[test]
fn a_state_other_than_run_is_a_status() {
    // READ_STATE_RESPONSE with ADS state 6 (STOP) instead of 5, device state 0.
    let stop = READ_STATE_RESPONSE.replace("0000000005000000", "0000000006000000");
    let out = run_segments(
        new,
        &c(),
        &hex_segments(&[(true, READ_STATE), (false, &stop)]),
    );
    assert!(out.contains(&id(
        Subject::Server,
        Field::Status,
        "ADS state STOP",
        source::ADS_READ_STATE
    )));
    // RUN says nothing.
    let out = run_segments(new, &c(), &hex_segments(&conversation()));
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::Status,
            ..
        }
    )));
}

#[test]
fn requests_from_the_server_are_function_codes() {
    let out = run_segments(new, &c(), &hex_segments(&[(false, STOP)]));
    assert!(out.contains(&Observation::FunctionCode(5)));
    assert!(ops(&out).is_empty());
}

#[test]
fn write_control_states_map_to_operations() {
    let op = |state: u16| {
        ops::request(
            command::WRITE_CONTROL,
            &Request::WriteControl {
                ads_state: state,
                device_state: 0,
            },
            10000,
        )
    };
    assert_eq!(op(wire::state::RESET).0, Some(Operation::Restart));
    assert_eq!(op(wire::state::RECONFIG).0, Some(Operation::Restart));
    let (o, d) = op(wire::state::CONFIG);
    assert_eq!(o, Some(Operation::ConfigChange));
    assert!(d.contains(&("setting", "mode".to_string())));
    assert_eq!(op(3).0, Some(Operation::Control));
}

#[test]
fn a_long_write_is_read_by_its_prefix_and_the_rest_passed_over() {
    // Write of 1000 bytes to group 0xF030 (outputs), then ReadState.
    let mut w = hex(
        "0000 14040000 0a4d01140101 5303 0a4d010a0101 3175 0300 0400 f4030000 00000000 0a000000",
    );
    w.extend_from_slice(&hex("30f00000 10000000 e8030000"));
    w.extend(std::iter::repeat_n(0xab, 1000));
    assert_eq!(w.len(), 6 + 32 + 12 + 1000);
    let segs = vec![(true, w), (true, hex(READ_STATE))];
    let out = run_segments(new, &c(), &segs);
    assert_eq!(
        ops(&out),
        [
            (Operation::Write, Some(3)),
            (Operation::Diagnostics, Some(4))
        ]
    );
    assert!(out.contains(&Observation::Access(Access {
        op: Operation::Write,
        unit: Some(851),
        area: "outputs",
        block: None,
        start: 16,
        count: 1000,
    })));
}

#[test]
fn broken_packets_are_violations_and_the_stream_resynchronises() {
    // An AMS/TCP length of 8, then a good ReadState.
    let bad = hex("000008000000 0102030405060708");
    let segs = vec![(true, [bad, hex(READ_STATE)].concat())];
    let out = run_segments(new, &c(), &segs);
    assert!(out.iter().any(|o| matches!(o,
        Observation::ProtocolViolation { reason, .. } if reason.contains("shorter than an AMS header"))));
    assert!(ops(&out).contains(&(Operation::Diagnostics, Some(4))));
    // A Write whose declared data runs past the packet.
    let mut w = hex(WRITE);
    w[46] = 9;
    let out = run_segments(new, &c(), &[(true, w)]);
    assert!(out.iter().any(|o| matches!(o,
        Observation::ProtocolViolation { reason, .. } if reason == "ADS Write body shorter than its fields")));
}

#[test]
fn add_route_is_a_config_change_and_a_login_without_the_password() {
    let mut d = DiscoveryDissector::default();
    let out = datagram(&mut d, Direction::ToServer, &u(), &hex(ADD_ROUTE));
    assert_eq!(ops(&out), [(Operation::ConfigChange, Some(6))]);
    assert_eq!(
        details_of(&out, Operation::ConfigChange),
        [
            ("service", "add route".to_string()),
            ("route", "SHENHUAJ6-PC".to_string()),
            ("ams_net_id", "192.168.1.199.1.1".to_string()),
            ("setting", "security".to_string()),
        ]
    );
    assert!(out.contains(&login("ads", "Administrator")));
    // The password ("1") appears nowhere.
    assert!(!format!("{out:?}").contains("\"1\""));
    let out = datagram(&mut d, Direction::ToClient, &u(), &hex(ADD_ROUTE_RESPONSE));
    assert_eq!(
        out,
        [id(
            Subject::Server,
            Field::Description,
            "AMS Net ID 5.13.117.96.1.1",
            source::ADS_NET_ID
        )]
    );
}

#[test]
fn discovery_answer_gives_host_name_and_twincat_version() {
    // Built from the layout pyads and TwinCAT use: service 0x80000001 from 5.13.117.96.1.1
    // port 10000, 2 tags: host name "CX-0D7560", TwinCAT version 3.1 build 4024.
    let mut m = hex("03661471 00000000 01000080 050d75600101 1027 02000000");
    m.extend_from_slice(&hex("0500 0a00"));
    m.extend_from_slice(b"CX-0D7560\0");
    m.extend_from_slice(&hex("0400 0400 0301b80f"));
    let mut d = DiscoveryDissector::default();
    let out = datagram(&mut d, Direction::ToClient, &u(), &m);
    let src = source::ADS_DISCOVERY;
    for want in [
        id(Subject::Server, Field::Hostname, "CX-0D7560", src),
        id(Subject::Server, Field::Vendor, "Beckhoff", src),
        id(Subject::Server, Field::Firmware, "TwinCAT 3.1.4024", src),
    ] {
        assert!(out.contains(&want), "{want:?} in {out:?}");
    }
    // The search itself is an identify.
    let search = hex("03661471 00000000 01000000 c0a801c70101 1027 00000000");
    let out = datagram(&mut d, Direction::ToServer, &u(), &search);
    assert_eq!(ops(&out), [(Operation::Identify, Some(1))]);
    // A tag that runs past the datagram.
    let out = datagram(&mut d, Direction::ToClient, &u(), &m[..m.len() - 2]);
    assert!(out.iter().any(|o| matches!(o,
        Observation::ProtocolViolation { reason, .. } if reason.contains("tag runs past"))));
}

#[test]
fn never_panics_on_any_input() {
    never_panics_in_conversation(&SPEC, &c(), &hex_segments(&conversation()));
    never_panics(
        &UDP_SPEC,
        &u(),
        &[&hex(ADD_ROUTE), &hex(ADD_ROUTE_RESPONSE)],
    );
}
