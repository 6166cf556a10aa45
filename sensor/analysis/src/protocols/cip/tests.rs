//! CIP message layer tests. Real messages are the CIP parts of packets in
//! /work/shared/pcaps/enip (see enip/tests.rs for their frames), with values read from
//! `tshark -V`; path segments not in the corpus are built by hand from Vol. 1 appendix C.

use super::*;
use crate::protocols::source;
use crate::protocols::testing::hex;
use Operation::*;

#[test]
fn service_meaning_depends_on_the_class() {
    let cases: &[(u8, Option<u32>, Kind)] = &[
        // 0x4E: Forward Close on the Connection Manager, Read Modify Write on a tag.
        (0x4E, Some(class::CONNECTION_MANAGER), Kind::Op(Control)),
        (0x4E, None, Kind::Op(Write)),
        (0x4E, Some(class::SYMBOL), Kind::Op(Write)),
        (0x4E, Some(class::MESSAGE_ROUTER), Kind::Code),
        (0x4E, Some(class::MODBUS), Kind::Op(Read)),
        // 0x52: Unconnected Send vs Read Tag Fragmented.
        (0x52, Some(class::CONNECTION_MANAGER), Kind::UnconnectedSend),
        (0x52, None, Kind::Op(Read)),
        (0x54, Some(class::CONNECTION_MANAGER), Kind::Op(Control)),
        (0x5B, Some(class::CONNECTION_MANAGER), Kind::Op(Control)),
        (0x56, Some(class::CONNECTION_MANAGER), Kind::Op(Read)),
        (0x54, None, Kind::Code),
        (0x4C, None, Kind::Op(Read)),
        (0x4C, Some(class::LOGIX_READ_72), Kind::Op(Read)),
        (0x4C, Some(class::TEMPLATE), Kind::Op(Read)),
        (0x4C, Some(class::LOGIX_CONTROLLER), Kind::Code),
        (0x4D, None, Kind::Op(Write)),
        (0x53, Some(class::SYMBOL), Kind::Op(Write)),
        (0x55, Some(class::SYMBOL), Kind::Op(Read)),
        (0x01, Some(class::IDENTITY), Kind::Op(Read)),
        (0x0E, Some(0xF5), Kind::Op(Read)),
        (0x02, Some(0x04), Kind::Op(Write)),
        (0x10, Some(class::IDENTITY), Kind::Op(Write)),
        (0x08, Some(0x69), Kind::Op(Write)),
        (0x05, Some(class::IDENTITY), Kind::Op(Restart)),
        (0x05, Some(0x72), Kind::Code),
        (0x06, Some(class::LOGIX_CONTROLLER), Kind::Op(CpuStart)),
        (0x07, Some(class::LOGIX_CONTROLLER), Kind::Op(CpuStop)),
        (0x07, Some(class::IDENTITY), Kind::Op(CpuStop)),
        (0x07, Some(0x04), Kind::Code),
        (0x0A, Some(class::MESSAGE_ROUTER), Kind::MultipleService),
        (0x4C, Some(class::FILE), Kind::Op(FileTransfer)),
        (0x50, Some(class::FILE), Kind::Op(FileTransfer)),
        (0x4B, Some(class::FILE), Kind::Op(FileTransfer)),
        (0x10, Some(class::TCP_IP), Kind::Op(ConfigChange)),
        (0x04, Some(class::WALL_CLOCK), Kind::Op(ConfigChange)),
        (0x02, Some(class::TIME_SYNC), Kind::Op(ConfigChange)),
        (0x0E, Some(class::ETHERNET_LINK), Kind::Op(Read)),
        (0x08, Some(class::LOGIX_PROGRAM), Kind::Op(ProgramDownload)),
        (0x4B, Some(class::NVS), Kind::Op(FirmwareUpdate)),
        (0x4D, Some(class::NVS), Kind::Op(FirmwareUpdate)),
        (0x51, Some(class::NVS), Kind::Code),
        (0x50, Some(class::MODBUS), Kind::Op(Write)),
        (0x4B, Some(class::PCCC), Kind::Code),
        (0x35, None, Kind::Code),
    ];
    for &(svc, class, kind) in cases {
        assert_eq!(
            classify(svc, class),
            kind,
            "service {svc:#04x} class {class:?}"
        );
    }
}

#[test]
fn symbolic_and_logical_paths() {
    // EthernetIP-CIP.pcap frame 37, first embedded request: Read Modify Write on the ANSI
    // extended symbol LMS_DISABLE_2DSCANNER1 (cip.symbol).
    let m = hex("4e0c91164c4d535f44495341424c455f32445343414e4e455231010001ff");
    let Ok(Message::Request(r)) = parse(&m) else {
        panic!("not a request")
    };
    assert_eq!(r.service, 0x4E);
    assert_eq!(r.path.symbol(), Some(&b"LMS_DISABLE_2DSCANNER1"[..]));
    assert_eq!(r.path.class(), None);
    assert_eq!(r.data, hex("010001ff"));

    // Odd-length symbol padded to even, then a member; 16-bit class and 32-bit instance
    // after their pad bytes; attribute; electronic key; extended port segment with an
    // 11-byte link address and a pad byte.
    let path = hex(concat!(
        "9103616263002805",
        "21003412",
        "2600785634122405",
        "3005",
        "340401000c003a000403",
        "120b3139322e3136382e312e3100",
        "01 00"
    ));
    let segs: Vec<Segment<'_>> = Path(&path).segments().collect();
    assert_eq!(
        segs,
        vec![
            Segment::Symbol(b"abc"),
            Segment::Logical {
                kind: Logical::Member,
                value: 5
            },
            Segment::Logical {
                kind: Logical::Class,
                value: 0x1234
            },
            Segment::Logical {
                kind: Logical::Instance,
                value: 0x1234_5678
            },
            Segment::Logical {
                kind: Logical::Instance,
                value: 5
            },
            Segment::Logical {
                kind: Logical::Attribute,
                value: 5
            },
            Segment::Logical {
                kind: Logical::Special,
                value: 4
            },
            Segment::Port {
                port: 2,
                link: b"192.168.1.1"
            },
            Segment::Port {
                port: 1,
                link: &[0]
            },
        ]
    );
    let p = Path(&path);
    assert_eq!(
        (p.class(), p.instance(), p.attribute()),
        (Some(0x1234), Some(0x1234_5678), Some(5))
    );
    // A truncated segment ends the walk without panicking.
    for n in 0..path.len() {
        let _ = Path(&path[..n]).segments().count();
    }
}

#[test]
fn unconnected_send_is_walked_as_routed() {
    // EIP-RebootorRestart.pcap frame 8 (CIP part): Unconnected Send carrying Get Attributes
    // All on Identity instance 1, route path port 1 (backplane) address 0.
    let m = hex("52022006240107f9060001022001240101000100");
    let Ok(Message::Request(r)) = parse(&m) else {
        panic!("not a request")
    };
    let mut found = Vec::new();
    walk_requests(&r, &mut |f| {
        found.push((f.service, f.class, f.kind, f.routed))
    })
    .unwrap();
    assert_eq!(
        found,
        vec![
            (0x52, Some(6), Kind::UnconnectedSend, false),
            (0x01, Some(1), Kind::Op(Read), true),
        ]
    );
}

#[test]
fn identity_reply_and_device_type() {
    // EIP-RebootorRestart.pcap frame 10 (CIP part): Get Attributes All reply, vendor 1,
    // device type 0x0e (Programmable Logic Controller), product code 54, revision 16.20,
    // status 0x3060, serial 0x0051823f, product name "1756-L61/B LOGIX5561".
    let m = hex("8100000001000e003600101460303f82510014313735362d4c36312f42204c4f47495835353631");
    let Ok(Message::Reply(r)) = parse(&m) else {
        panic!("not a reply")
    };
    assert_eq!((r.service, r.general_status), (0x01, 0));
    let id = Identity::read(&mut Cursor::new(r.data)).unwrap();
    assert_eq!(
        (
            id.vendor,
            id.device_type,
            id.product_code,
            id.major,
            id.minor,
            id.serial
        ),
        (1, 0x0E, 54, 16, 20, 0x0051_823F)
    );
    assert_eq!(id.product_name, b"1756-L61/B LOGIX5561");
    assert_eq!(id.catalog_type(), Some("plc"));
    let mut out = Vec::new();
    id.emit(Subject::Server, source::CIP_IDENTITY, &mut out);
    let values: Vec<(Field, &str)> = out
        .iter()
        .filter_map(|o| match o {
            Observation::Identity { field, value, .. } => Some((*field, value.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        vec![
            (Field::Vendor, "Rockwell Automation/Allen-Bradley"),
            (Field::DeviceType, "plc"),
            (Field::Model, "1756-L61/B LOGIX5561"),
            (Field::Firmware, "16.20"),
            (Field::Serial, "0x0051823f"),
        ]
    );
    // An unknown vendor id is reported by number.
    let mut other = id;
    other.vendor = 9999;
    other.device_type = 0x2B;
    let mut out = Vec::new();
    other.emit(Subject::Server, source::CIP_IDENTITY, &mut out);
    assert!(out.contains(&Observation::Identity {
        subject: Subject::Server,
        field: Field::Vendor,
        value: "vendor id 9999".into(),
        source: source::CIP_IDENTITY
    }));
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::DeviceType,
            ..
        }
    )));
    for n in 0..r.data.len() {
        assert!(Identity::read(&mut Cursor::new(&r.data[..n])).is_none());
    }
}

#[test]
fn multiple_service_reply_items() {
    // EthernetIP-CIP.pcap frame 38 (CIP part): Multiple Service Packet reply to frame 37,
    // four Read Modify Write replies (0xCE), each status 0.
    let m = hex("8a00000004000a000e0012001600ce000000ce000000ce000000ce000000");
    let Ok(Message::Reply(r)) = parse(&m) else {
        panic!("not a reply")
    };
    let items = MultipleService::parse(r.data).unwrap();
    assert_eq!(items.len(), 4);
    for it in items {
        let Ok(Message::Reply(x)) = parse(it.unwrap()) else {
            panic!("not a reply")
        };
        assert_eq!((x.service, x.general_status), (0x4E, 0));
    }
    // Offsets that point into the offset table or past the end are errors.
    let bad = hex("02000200ff00");
    let items: Vec<_> = MultipleService::parse(&bad).unwrap().collect();
    assert_eq!(items, vec![Err(CipError::MultipleService); 2]);
    assert_eq!(
        MultipleService::parse(&hex("0500")).err(),
        Some(CipError::MultipleService)
    );
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    assert_eq!(parse(&[]), Err(CipError::Empty));
    assert_eq!(parse(&hex("0e03200124")), Err(CipError::PathOverrun));
    assert_eq!(parse(&hex("8e0000")), Err(CipError::StatusOverrun));
    assert_eq!(parse(&hex("8e000002aabb")), Err(CipError::StatusOverrun));
    // Multiple Service Packets nested deeper than allowed.
    let mut m = hex("0e0320012401");
    for _ in 0..6 {
        let mut outer = hex("0a022002240101000400");
        outer.extend_from_slice(&m);
        m = outer;
    }
    let Ok(Message::Request(r)) = parse(&m) else {
        panic!("not a request")
    };
    assert_eq!(walk_requests(&r, &mut |_| {}), Err(CipError::TooDeep));
    // Every truncation of a real nested request.
    let us = hex("52022006240107f9060001022001240101000100");
    for n in 0..us.len() {
        if let Ok(Message::Request(r)) = parse(&us[..n]) {
            let _ = walk_requests(&r, &mut |_| {});
        }
    }
}
