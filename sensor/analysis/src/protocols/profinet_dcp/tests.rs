//! Tests on real PROFINET DCP frames: the bytes after the ethertype (VLAN tag removed, trailing
//! Ethernet padding kept), extracted from the pcaps with a small pcap reader; expected values
//! read from `tshark -Y pn_dcp -V`. Frames marked "built" have no corpus example; they reuse
//! real blocks and were checked with tshark the same way.

use super::*;
use crate::protocols::source;
use otwatch_common::observation::Source;

/// profinet/profinet-wireshark-bug.pcap frame 1: Identify request, All selector, from
/// 00:80:c8:38:a4:8b (VLAN 0).
const IDENT_REQ_ALL: &str = "fefe05000100000100010004ffff0000";
/// frame 2: Identify response from 00:02:e3:17:c7:50: DeviceVendorValue "S7-300EC",
/// NameOfStation "%n%n%n " padded with NULs to 108 octets, VendorID 0x002a DeviceID 0x0101,
/// role IO-Controller (0x02), IP 192.168.0.11/255.255.255.0 gateway 192.168.0.11 ("IP set").
const IDENT_RESP_S7: &str = "feff050101000001000000b802050010000002010202020302040205010101020201000a000053372d33303045430202006e0000256e256e256e200000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000020300060000002a010102040004000002000102000e0001c0a8000bffffff00c0a8000b";
/// frame 3: Set request NameOfStation "%n%n%n " (save permanent), padding, End-Transaction.
const SET_REQ_NAME: &str = "fefd04000100000100000014020200090001256e256e256e2000050200020000";
/// frame 4: Set response, two Control/Response blocks "Ok", then Ethernet padding.
const SET_RESP: &str =
    "fefd0401010000010000001005040003020200000504000305020000000000000000000000000000000000000000";
/// mixed/profinet_io_cm_mixed_2.pcapng frame 438: Identify request for "versamax-pns11".
const IDENT_REQ_NAME: &str =
    "fefe050000000001000100120202000e76657273616d61782d706e73313100000000000000000000000000000000";
/// frame 440: Identify response from 00:09:91:43:e0:67: "versamax-pns11", DeviceVendorValue
/// "IC200PNS001" (odd length, one padding octet), VendorID 0x015a DeviceID 0x0003, role
/// IO-Device (0x01), IP 192.168.1.2/24 gateway 192.168.1.2, DeviceInitiative 1.
const IDENT_RESP_VERSAMAX: &str = "feff0501000000010000006402020010000076657273616d61782d706e7331310205000e00000102020102020203020406010201000d00004943323030504e5330303100020300060000015a000302040004000001000102000e0001c0a80102ffffff00c0a801020601000400000001";
/// profinet/PROFINET-RT.pcap frame 1: Identify request for "switch3" from 00:1b:1b:02:9a:c3.
const IDENT_REQ_SWITCH3: &str =
    "fefe05000300bf9a0001000c02020007737769746368330069656d656e732c2053494d41544900000000";
/// Built: Hello (FrameID 0xfefc, service 6, request) with the blocks of frame 440.
const HELLO: &str = "fefc0600000000010000006402020010000076657273616d61782d706e7331310205000e00000102020102020203020406010201000d00004943323030504e5330303100020300060000015a000302040004000001000102000e0001c0a80102ffffff00c0a801020601000400000001";
/// Built: Set request Control/Signal (flash once) and Control/Reset to Factory.
const SET_REQ_SIGNAL_RESET: &str = "fefd0400000000020000000e050300040000010005060002000a";
/// Built, checked with tshark: Set request IP parameter 192.168.0.10/255.255.255.0 gateway 192.168.0.1
/// (permanent), then End-Transaction.
const SET_REQ_IP: &str =
    "fefd04000000000300000018010200100001c0a8000affffff00c0a8000105020002 0000";
/// Built: Get request for NameOfStation and IP parameter (selectors, no blocks).
const GET_REQ: &str = "fefd03000000000300000004020201020000";

const ALL: &[&str] = &[
    IDENT_REQ_ALL,
    IDENT_RESP_S7,
    SET_REQ_NAME,
    SET_RESP,
    IDENT_REQ_NAME,
    IDENT_RESP_VERSAMAX,
    IDENT_REQ_SWITCH3,
    HELLO,
    SET_REQ_SIGNAL_RESET,
    SET_REQ_IP,
    GET_REQ,
];

fn hex(s: &str) -> Vec<u8> {
    crate::protocols::testing::hex(s)
}

fn run(src: &str, payload: &str) -> Vec<Observation> {
    let mut out = Vec::new();
    parse_frame(src.parse().unwrap(), &hex(payload), Timestamp(0), &mut out);
    out
}

fn mac(s: &str) -> Subject {
    Subject::Mac(s.parse().unwrap())
}

fn speaks(src: &str, role: Role) -> Observation {
    Observation::Speaks {
        subject: mac(src),
        protocol: "profinet_dcp",
        role,
        port: 0,
    }
}

fn id(src: &str, field: Field, value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject: mac(src),
        field,
        value: value.to_owned(),
        source,
    }
}

fn op(op: Operation, code: u32) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: Vec::new(),
    }
}

#[test]
fn header_fields() {
    // pn_dcp.service_id 5, service_type 0, xid 0x01000001, data_length 4.
    let bytes = hex(IDENT_REQ_ALL);
    let pdu = parse(&bytes).unwrap().unwrap();
    assert_eq!(
        (pdu.frame_id, pdu.service, pdu.service_type, pdu.xid),
        (frame_id::IDENTIFY_REQUEST, 5, 0, 0x0100_0001)
    );
    assert_eq!(pdu.data, [0xff, 0xff, 0, 0]);
    // DCPDataLength 184, six blocks.
    let bytes = hex(IDENT_RESP_S7);
    let pdu = parse(&bytes).unwrap().unwrap();
    assert_eq!(pdu.data.len(), 184);
    let blocks: Vec<(u8, u8, usize)> = pdu
        .blocks()
        .map(|b| b.unwrap())
        .map(|b| (b.option, b.suboption, b.data.len()))
        .collect();
    assert_eq!(
        blocks,
        [
            (2, 5, 16),
            (2, 1, 10),
            (2, 2, 110),
            (2, 3, 6),
            (2, 4, 4),
            (1, 2, 14)
        ]
    );
    // The odd DeviceVendorValue block of frame 440 is followed by a padding octet.
    let bytes = hex(IDENT_RESP_VERSAMAX);
    let pdu = parse(&bytes).unwrap().unwrap();
    let options: Vec<(u8, u8)> = pdu
        .blocks()
        .map(|b| b.unwrap())
        .map(|b| (b.option, b.suboption))
        .collect();
    assert_eq!(
        options,
        [(2, 2), (2, 5), (2, 1), (2, 3), (2, 4), (1, 2), (6, 1)]
    );
    // Other PROFINET RT frames are not DCP: cyclic data (0x8000), alarm (0xfc01), PTCP.
    for f in ["8000aabbccdd", "fc01000000", "ff40", "ff00"] {
        assert_eq!(parse(&hex(f)), Ok(None), "{f}");
    }
}

#[test]
fn identify_response_of_an_s7_controller() {
    let m = "00:02:e3:17:c7:50";
    assert_eq!(
        run(m, IDENT_RESP_S7),
        vec![
            speaks(m, Role::Server),
            id(
                m,
                Field::Hostname,
                "%n%n%n",
                source::PROFINET_DCP_NAME_OF_STATION
            ),
            id(
                m,
                Field::Model,
                "S7-300EC",
                source::PROFINET_DCP_DEVICE_VENDOR_VALUE
            ),
            id(m, Field::Vendor, "Siemens", source::PROFINET_DCP_DEVICE_ID),
            id(
                m,
                Field::Description,
                "profinet vendor 0x002a device 0x0101",
                source::PROFINET_DCP_DEVICE_ID
            ),
            id(
                m,
                Field::DeviceType,
                "plc",
                source::PROFINET_DCP_DEVICE_ROLE
            ),
            Observation::Binding {
                mac: m.parse().unwrap(),
                ip: "192.168.0.11".parse().unwrap(),
                source: "profinet dcp ip",
            },
        ]
    );
}

#[test]
fn identify_response_and_hello_of_an_io_device() {
    let m = "00:09:91:43:e0:67";
    let want = |role| {
        vec![
            speaks(m, role),
            id(
                m,
                Field::Hostname,
                "versamax-pns11",
                source::PROFINET_DCP_NAME_OF_STATION,
            ),
            id(
                m,
                Field::Model,
                "IC200PNS001",
                source::PROFINET_DCP_DEVICE_VENDOR_VALUE,
            ),
            // 0x015a is not in the vendor table: no vendor, the raw IDs as description.
            id(
                m,
                Field::Description,
                "profinet vendor 0x015a device 0x0003",
                source::PROFINET_DCP_DEVICE_ID,
            ),
            id(
                m,
                Field::DeviceType,
                "io_module",
                source::PROFINET_DCP_DEVICE_ROLE,
            ),
            Observation::Binding {
                mac: m.parse().unwrap(),
                ip: "192.168.1.2".parse().unwrap(),
                source: "profinet dcp ip",
            },
        ]
    };
    assert_eq!(run(m, IDENT_RESP_VERSAMAX), want(Role::Server));
    assert_eq!(run(m, HELLO), want(Role::Server));
    let bytes = hex(IDENT_RESP_VERSAMAX);
    let (st, err) = station(&parse(&bytes).unwrap().unwrap());
    assert_eq!(err, None);
    assert_eq!(
        st.ip,
        Some(IpParameter {
            block_info: 1,
            ip: Ipv4Addr::new(192, 168, 1, 2),
            mask: Ipv4Addr::new(255, 255, 255, 0),
            gateway: Ipv4Addr::new(192, 168, 1, 2),
        })
    );
}

#[test]
fn requests_are_a_client_speaking() {
    for (src, m) in [
        ("00:80:c8:38:a4:8b", IDENT_REQ_ALL),
        ("00:a0:45:6d:d3:43", IDENT_REQ_NAME),
        ("00:1b:1b:02:9a:c3", IDENT_REQ_SWITCH3),
    ] {
        // The NameOfStation filter names the station looked for, not the sender.
        assert_eq!(
            run(src, m),
            vec![speaks(src, Role::Client), op(Operation::Identify, 5)]
        );
    }
    let src = "00:80:c8:38:a4:8b";
    assert_eq!(
        run(src, GET_REQ),
        vec![speaks(src, Role::Client), op(Operation::Read, 3)]
    );
}

#[test]
fn set_requests_are_operations() {
    let src = "00:80:c8:38:a4:8b";
    let change = |details: &[(&'static str, &str)]| Observation::Operation {
        op: Operation::ConfigChange,
        function_code: Some(4),
        details: details.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    };
    // NameOfStation (tshark: NameOfStation "%n%n%n ") changes the name; End-Transaction is
    // not an operation.
    assert_eq!(
        run(src, SET_REQ_NAME),
        vec![
            speaks(src, Role::Client),
            change(&[
                ("service", "DCP Set"),
                ("setting", "name"),
                ("value", "%n%n%n")
            ])
        ]
    );
    // Signal flashes the LED: identification. Reset to Factory, qualifier 0x000a (mode 5).
    assert_eq!(
        run(src, SET_REQ_SIGNAL_RESET),
        vec![
            speaks(src, Role::Client),
            op(Operation::Identify, 4),
            change(&[
                ("service", "DCP Set reset to factory"),
                ("setting", "factory_reset"),
                ("value", "mode 5: reset engineering parameters")
            ])
        ]
    );
    assert_eq!(
        run(src, SET_REQ_IP),
        vec![
            speaks(src, Role::Client),
            change(&[
                ("service", "DCP Set"),
                ("setting", "network"),
                ("value", "192.168.0.10/255.255.255.0 gateway 192.168.0.1")
            ])
        ]
    );
    // The response only says the device speaks DCP.
    let dev = "00:02:e3:17:c7:50";
    assert_eq!(run(dev, SET_RESP), vec![speaks(dev, Role::Server)]);
}

#[test]
fn device_roles() {
    assert_eq!(device_type(0x02, Some("S7-300EC")), Some("plc"));
    assert_eq!(device_type(0x03, Some("CPU 1516-3 PN/DP")), Some("plc"));
    assert_eq!(device_type(0x01, Some("IC200PNS001")), Some("io_module"));
    assert_eq!(device_type(0x01, None), Some("io_module"));
    assert_eq!(device_type(0x01, Some("SCALANCE X-200")), Some("switch"));
    assert_eq!(device_type(0x01, Some("FL SWITCH 2208")), Some("switch"));
    assert_eq!(device_type(0x01, Some("SCALANCE S615")), None);
    assert_eq!(device_type(0x08, None), None);
    assert_eq!(device_type(0x04, None), None);
    assert_eq!(device_type(0x00, None), None);
    assert_eq!(vendor_name(0x002a), Some("Siemens"));
    assert_eq!(vendor_name(0x00b0), Some("Phoenix Contact"));
    assert_eq!(vendor_name(0x015a), None);
    assert!(VENDORS.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn malformed_frames_are_violations() {
    let src = "00:02:e3:17:c7:50";
    let reason = |out: Vec<Observation>| match out.as_slice() {
        [.., Observation::ProtocolViolation { reason, .. }] => reason.clone(),
        o => panic!("{o:?}"),
    };
    // Header cut short.
    assert_eq!(reason(run(src, "feff0501")), "DCP header truncated");
    // DCPDataLength 0x00b8 with 4 octets of data.
    assert_eq!(
        reason(run(src, "feff050101000001000000b802050010")),
        "DCPDataLength 184 runs past the 4 octets of the frame"
    );
    // An Identify response in the request frame ID.
    assert_eq!(
        reason(run(src, "fefe05010100000100000000")),
        "DCP service 5 type 1 does not belong in frame ID 0xfefe"
    );
    assert_eq!(
        reason(run(src, "fefe05070100000100000000")),
        "reserved DCP service type 7"
    );
    // A block claiming more than DCPDataLength: what came before is kept.
    let out = run(src, "feff0501000000010000000c0202000400004142020300ff");
    assert!(out.contains(&id(
        src,
        Field::Hostname,
        "AB",
        source::PROFINET_DCP_NAME_OF_STATION
    )));
    assert_eq!(
        reason(out),
        "DCP block 2/3 length 255 runs past DCPDataLength"
    );
    // Device ID block too short for its two IDs.
    assert_eq!(
        reason(run(src, "feff050100000001000000080203000400000001")),
        "DCP block 2/3 too short for its content"
    );
    // From a group address.
    assert_eq!(
        reason(run("01:0e:cf:00:00:00", IDENT_REQ_ALL)),
        "PROFINET DCP frame from group address 01:0e:cf:00:00:00"
    );
    // IP "not set" or 0.0.0.0 binds nothing.
    let out = run(
        src,
        "feff050100000001000000120102000e0000c0a8000bffffff00c0a8000b",
    );
    assert!(!out.iter().any(|o| matches!(o, Observation::Binding { .. })));
    let out = run(
        src,
        "feff050100000001000000120102000e000100000000ffffff0000000000",
    );
    assert!(!out.iter().any(|o| matches!(o, Observation::Binding { .. })));
}

#[test]
fn never_panics_on_truncations_flips_and_noise() {
    let src: Mac = "00:02:e3:17:c7:50".parse().unwrap();
    let mut out = Vec::new();
    for m in ALL.iter().map(|m| hex(m)) {
        for n in 0..=m.len() {
            parse_frame(src, &m[..n], Timestamp(0), &mut out);
        }
        for i in 0..m.len() {
            let mut v = m.clone();
            v[i] ^= 0xff;
            parse_frame(src, &v, Timestamp(0), &mut out);
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..600usize {
        let mut buf: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        // Half of them get a DCP frame ID so the block walk sees noise too.
        if len >= 2 && len % 2 == 0 {
            buf[0] = 0xfe;
            buf[1] = 0xfc + (len % 4) as u8;
        }
        parse_frame(src, &buf, Timestamp(0), &mut out);
    }
}
