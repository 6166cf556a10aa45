use super::*;
use crate::protocols::testing::{frames_never_panic, hex, id, speaks};
use otwatch_common::Timestamp;

/// Frames 1 and 2 of ethercrab's `tests/replay-ek1100-alias-address.pcapng` after the
/// ethertype: a BRD of register 0x0000 (1 octet) sent by the master 10:10:10:10:10:10, and the
/// same frame back from 12:10:10:10:10:10 with ADP 3 and WKC 3 (three slaves), padded.
const BRD_OUT: &str = "0d10 07 00 0000 0000 0100 0000 00 0000";
const BRD_BACK: &str = "0d10 07 00 0300 0000 0100 0000 13 0300
    0000000000000000000000000000000000000000000000000000000000000000";
/// Frame 3: a BWR of two octets to register 0x0120 (AL control: INIT, acknowledge).
const BWR_OUT: &str = "0e10 08 01 0000 2001 0200 0000 1100 0000";

const MASTER: Mac = Mac([0x10; 6]);
const BACK: Mac = Mac([0x12, 0x10, 0x10, 0x10, 0x10, 0x10]);

fn run(d: &mut EthercatDissector, src: Mac, payload: &[u8]) -> Vec<Observation> {
    let f = LinkFrame {
        src,
        dst: Some(Mac::BROADCAST),
        ts: Timestamp::ZERO,
    };
    let mut out = Vec::new();
    d.frame(&f, payload, &mut out);
    out
}

fn violations(out: &[Observation]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn reads_header_and_datagrams() {
    let back = hex(BRD_BACK);
    let f = Frame::parse(&back).unwrap();
    assert_eq!((f.length, f.ty, f.body.len()), (13, 1, 13));
    let d: Vec<_> = f.datagrams().map(Result::unwrap).collect();
    assert_eq!(
        d,
        [Datagram {
            cmd: 7,
            idx: 0,
            adp: 3,
            ado: 0,
            len: 1,
            circulating: false,
            more: false,
            irq: 0,
            data: &[0x13],
            wkc: 3,
        }]
    );
    assert_eq!(command::name(d[0].cmd), Some("BRD"));
    assert_eq!(d[0].logical_address(), 3);
}

#[test]
fn the_sender_is_the_master_and_its_returned_frames_count_slaves() {
    let mut d = EthercatDissector::default();
    let s = Subject::Mac(MASTER);
    let at = |src| LinkFrame {
        src,
        dst: None,
        ts: Timestamp::ZERO,
    };
    assert_eq!(d.device(&at(MASTER), &hex(BRD_OUT)), Some(MASTER));
    // Back through the slaves, before and after the master was seen: the master's traffic.
    assert_eq!(d.device(&at(BACK), &hex(BRD_BACK)), Some(MASTER));
    assert_eq!(
        run(&mut d, MASTER, &hex(BRD_OUT)),
        [
            id(s, Field::DeviceType, "plc", source::ETHERCAT_MASTER),
            speaks(s, PROTOCOL, Role::Client, 0),
            Observation::Operation {
                op: Operation::Read,
                function_code: Some(7),
                details: vec![("command", "BRD".to_owned())],
            },
        ]
    );
    // Back through three slaves: the master's, not a new device; not counted twice.
    assert_eq!(
        run(&mut d, BACK, &hex(BRD_BACK)),
        [
            speaks(s, PROTOCOL, Role::Client, 0),
            id(
                s,
                Field::Status,
                "EtherCAT master of 3 slave(s)",
                source::ETHERCAT_MASTER
            ),
        ]
    );
    assert_eq!(run(&mut d, BACK, &hex(BRD_BACK)).len(), 1);
    assert_eq!(d.device(&at(BACK), &hex(BRD_OUT)), Some(MASTER));
    assert_eq!(run(&mut d, MASTER, &hex(BRD_OUT)).len(), 1);
    let out = run(&mut d, MASTER, &hex(BWR_OUT));
    assert_eq!(
        out[1],
        Observation::Operation {
            op: Operation::Write,
            function_code: Some(8),
            details: vec![("command", "BWR".to_owned())],
        }
    );
    let mut counts = [0; 15];
    counts[7] = 2;
    counts[8] = 1;
    assert_eq!(d.commands(MASTER), Some(counts));
    assert_eq!(d.commands(BACK), None);
}

#[test]
fn masters_without_an_asset_address_are_passed_over() {
    let mut d = EthercatDissector::default();
    // TwinCAT from the zero MAC: its frames come back from 02:00:00:00:00:00.
    let zero_back = Mac([0x02, 0, 0, 0, 0, 0]);
    assert!(run(&mut d, Mac::ZERO, &hex(BRD_OUT)).is_empty());
    assert!(run(&mut d, zero_back, &hex(BRD_BACK)).is_empty());
    // Even when no slave answered.
    assert!(run(&mut d, zero_back, &hex(BRD_OUT)).is_empty());
    let f = LinkFrame {
        src: zero_back,
        dst: None,
        ts: Timestamp::ZERO,
    };
    assert_eq!(d.device(&f, &hex(BRD_BACK)), None);
    // SOEM's default group address, out and back.
    assert!(run(&mut d, Mac([1; 6]), &hex(BRD_OUT)).is_empty());
    assert!(run(&mut d, Mac([3, 1, 1, 1, 1, 1]), &hex(BRD_BACK)).is_empty());
    // A master whose own address has the local bit set keeps it.
    let local = Mac([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
    run(&mut d, local, &hex(BRD_OUT));
    assert!(d.commands(local).is_some());
    run(&mut d, local, &hex(BRD_BACK));
    assert_eq!(d.commands(local).map(|c| c[7]), Some(1));
}

#[test]
fn malformed_frames_are_violations() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            hex("0d"),
            "EtherCAT frame of 1 octets too short for its header",
        ),
        (
            hex(BRD_OUT)[..10].to_vec(),
            "EtherCAT header Length 13 runs past the 8 octets of the frame",
        ),
        // Len 0x7ff in a frame of 13 octets.
        (
            hex("0d10 07 00 0000 0000 ff07 0000 00 0000"),
            "EtherCAT datagram 0 of Len 2047 runs past the frame's Length",
        ),
        // More set on the last datagram.
        (
            hex("0d10 07 00 0000 0000 0180 0000 00 0000"),
            "EtherCAT datagram 0 says more follow, but the frame ends",
        ),
        // Length 25 but one datagram of 13 without More (under 12 octets would be padding).
        (
            hex("1910 07 00 0000 0000 0100 0000 00 0000 000000000000000000000000"),
            "EtherCAT datagram 0 says none follow, but 12 octets remain",
        ),
        (
            hex("0d10 0f 00 0000 0000 0100 0000 00 0000"),
            "EtherCAT datagram 0 has unknown command 15",
        ),
    ];
    for (frame, reason) in cases {
        let mut d = EthercatDissector::default();
        assert_eq!(
            violations(&run(&mut d, MASTER, &frame)),
            [reason],
            "{frame:02x?}"
        );
    }
    // Two datagrams chained with More.
    let two = hex("1a10 07 00 0000 0000 0180 0000 00 0000 04 01 0100 3001 0100 0000 00 0000");
    let f = Frame::parse(&two).unwrap();
    let cmds: Vec<u8> = f.datagrams().map(|d| d.unwrap().cmd).collect();
    assert_eq!(cmds, [7, 4]);
    // A padding octet within Length (TwinCAT's frame 11 of ethercat_twincat_scan.pcapng).
    let padded = hex("0e10 08 41 0a00 0101 0100 0400 00 0a00 00");
    assert!(Frame::parse(&padded)
        .unwrap()
        .datagrams()
        .all(|d| d.is_ok()));
}

#[test]
fn never_panics() {
    let mut d = EthercatDissector::default();
    frames_never_panic(&mut d, &[&hex(BRD_BACK), &hex(BWR_OUT)]);
}
