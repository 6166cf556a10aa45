#![allow(clippy::unwrap_used)]
//! C37.118 on real frames of `C37.118_1PMU_UDP.pcap` (ITI/ICS-Security-Tools: a PDC at
//! 192.168.0.10 commanding PMU stream 60 at 192.168.0.60) and frames built from the standard.

use super::*;
use crate::protocols::testing::{
    ctx, datagram, hex, hex_segments, id, never_panics, never_panics_in_conversation, run_segments,
};

const TURN_OFF: &str = "aa410012003c4899909a00342ed50001560b";
const SEND_CFG2: &str = "aa410012003c4899909a00902e120005168a";
const CFG2: &str = "aa310176003c489337430007ef40000f42400001504d5531202020202020202020202020003d\
    0007000300000001564120202020202020202020202020205642202020202020202020202020202056432020202020\
    202020202020202020446967204368616e6e656c2031202020446967204368616e6e656c2032202020446967204368\
    616e6e656c2033202020446967204368616e6e656c2034202020446967204368616e6e656c2035202020446967204368\
    616e6e656c2036202020446967204368616e6e656c2037202020446967204368616e6e656c2038202020446967204368\
    616e6e656c2039202020446967204368616e6e656c2031302020446967204368616e6e656c20313120204469672043\
    68616e6e656c2031322020446967204368616e6e656c2031332020446967204368616e6e656c203134202044696720\
    4368616e6e656c2031352020446967204368616e6e656c2031362020000004c4000004c4000004c400000000000100\
    01003281d2";
const TURN_ON: &str = "aa410012003c4899909a009c2e010002f775";
const DATA: &str =
    "aa010030003c489337430008d9a0000042c827b9bfc89ec242c7e4794027ad2742c805113f06beb0\
    0000000000001a9c";

fn udp() -> crate::protocols::FlowCtx {
    ctx(Transport::Udp, "192.168.0.10:4712", "192.168.0.60:4713")
}

fn tcp() -> crate::protocols::FlowCtx {
    ctx(Transport::Tcp, "192.168.0.10:50000", "192.168.0.60:4712")
}

fn pmu1(subject: Subject) -> Vec<Observation> {
    let src = source::C37_118_CONFIG;
    vec![
        id(subject, Field::Hostname, "PMU1", src),
        id(
            subject,
            Field::Description,
            "C37.118 PMU ID 61: 3 phasors, 0 analog values, 1 digital status word, 50 Hz, \
             50 frames/s",
            src,
        ),
    ]
}

fn control(cmd: u32, service: &str) -> Observation {
    Observation::Operation {
        op: Operation::Control,
        function_code: Some(cmd),
        details: vec![
            ("service", service.to_string()),
            ("stream", "60".to_string()),
        ],
    }
}

#[test]
fn the_pdc_commands_and_the_pmu_describes_itself() {
    let mut d = C37Dissector::default();
    let ctx = udp();
    let to_pmu = |d: &mut C37Dissector, h: &str| datagram(d, Direction::ToServer, &ctx, &hex(h));
    assert_eq!(
        to_pmu(&mut d, TURN_OFF),
        [control(1, "turn off transmission")]
    );
    assert_eq!(
        to_pmu(&mut d, SEND_CFG2),
        [Observation::Operation {
            op: Operation::Identify,
            function_code: Some(5),
            details: Vec::new(),
        }]
    );
    let out = datagram(&mut d, Direction::ToClient, &ctx, &hex(CFG2));
    assert_eq!(out, pmu1(Subject::Server));
    assert_eq!(
        to_pmu(&mut d, TURN_ON),
        [control(2, "turn on transmission")]
    );
    assert!(datagram(&mut d, Direction::ToClient, &ctx, &hex(DATA)).is_empty());
}

#[test]
fn config_frame_fields() {
    let frame = hex(CFG2);
    let h = Header::parse(&frame).unwrap().unwrap();
    assert_eq!(
        (h.frame_type, h.version, h.size, h.idcode),
        (FrameType::Cfg2, 1, 374, 60)
    );
    let cfg = wire::config(&frame[wire::HEADER_LEN..frame.len() - 2]).unwrap();
    assert_eq!((cfg.time_base, cfg.data_rate), (1_000_000, 50));
    let [s] = cfg.stations.as_slice() else {
        panic!()
    };
    assert_eq!(
        (
            s.idcode,
            s.phasors,
            s.analogs,
            s.digitals,
            s.fnom_50hz,
            s.cfgcnt
        ),
        (61, 3, 0, 1, true, 1)
    );
    let names: Vec<String> = s
        .channels()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    assert_eq!(names.len(), 19);
    assert_eq!(names[..4], ["VA", "VB", "VC", "Dig Channel 1"]);
}

#[test]
fn probes_and_sides() {
    let d = Direction::ToServer;
    assert_eq!(udp_probe(d, &hex(TURN_OFF)), Probe::Yes);
    assert_eq!(udp_probe(d, &hex(CFG2)), Probe::YesFromServer);
    assert_eq!(udp_probe(d, &hex(DATA)), Probe::YesFromServer);
    assert_eq!(tcp_probe(d, &hex(DATA)[..6]), Probe::NeedMore);
    assert_eq!(tcp_probe(d, &hex(DATA)), Probe::YesFromServer);
    assert_eq!(tcp_probe(d, b"GET /"), Probe::No);
    // A broken CHK, a reserved frame type (6), a datagram longer than its frame.
    let mut bad = hex(TURN_OFF);
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(udp_probe(d, &bad), Probe::No);
    assert_eq!(
        udp_probe(d, &hex("aa610012003c4899909a00342ed50001560b")),
        Probe::No
    );
    let mut long = hex(TURN_OFF);
    long.push(0);
    assert_eq!(udp_probe(d, &long), Probe::No);
    assert_eq!(wire::crc_ccitt(b"123456789"), 0x29b1);
}

#[test]
fn bad_crc_and_sizes_are_violations() {
    let mut d = C37Dissector::default();
    let mut bad = hex(DATA);
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let out = datagram(&mut d, Direction::ToClient, &udp(), &bad);
    assert_eq!(
        out,
        [crate::protocols::violation(
            PROTOCOL,
            "CHK 0x1a63 is not the CRC-CCITT 0x1a9c of the frame"
        )]
    );
    let mut long = hex(TURN_OFF);
    long.push(0);
    let out = datagram(&mut d, Direction::ToServer, &udp(), &long);
    assert_eq!(
        out,
        [crate::protocols::violation(
            PROTOCOL,
            "FRAMESIZE 18 does not match the 19 bytes of the datagram"
        )]
    );
}

#[test]
fn tcp_stream_frames_and_resyncs() {
    let segs = hex_segments(&[
        (true, SEND_CFG2),
        (false, &CFG2[..100]),
        (false, &CFG2[100..]),
        (false, DATA),
        (false, &format!("0102{DATA}")),
    ]);
    let out = run_segments(new, &tcp(), &segs);
    let mut want = vec![Observation::Operation {
        op: Operation::Identify,
        function_code: Some(5),
        details: Vec::new(),
    }];
    want.extend(pmu1(Subject::Server));
    want.push(crate::protocols::violation(PROTOCOL, C37Error::NotSync));
    assert_eq!(out, want);
}

#[test]
fn never_panics_on_c37_118() {
    let conv = hex_segments(&[(true, SEND_CFG2), (false, CFG2), (false, DATA)]);
    never_panics_in_conversation(&SPEC, &tcp(), &conv);
    never_panics(&UDP_SPEC, &udp(), &[&hex(CFG2), &hex(TURN_ON), &hex(DATA)]);
}
