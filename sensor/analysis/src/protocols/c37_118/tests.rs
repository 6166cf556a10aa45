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

// CFG-3 (C37.118.2-2011 6.4, tables 10-12): no public capture holds one, so the frames are
// built here from the standard's layout (and compared with tshark's synphasor dissector in
// sensor/tests/ot_c37_118.rs, which writes the same frame to a pcap).

/// A CFG-3 name field (table 12): length byte, then the name.
fn name3(out: &mut Vec<u8>, name: &str) {
    out.push(u8::try_from(name.len()).unwrap());
    out.extend_from_slice(name.as_bytes());
}

/// One PMU block of table 10: station `name`, IDCODE `idcode`, phasors VA and VB, analog
/// value ANA1 and one digital word (bits D0..D15), 60 Hz, CFGCNT 3.
fn pmu3(out: &mut Vec<u8>, name: &str, idcode: u16) {
    name3(out, name);
    out.extend(idcode.to_be_bytes());
    out.extend(1..=16u8); // G_PMU_ID
    out.extend(0x000fu16.to_be_bytes()); // FORMAT: floats, polar
    out.extend(2u16.to_be_bytes()); // PHNMR
    out.extend(1u16.to_be_bytes()); // ANNMR
    out.extend(1u16.to_be_bytes()); // DGNMR
    for n in ["VA", "VB", "ANA1"] {
        name3(out, n);
    }
    for bit in 0..16 {
        name3(out, &format!("D{bit}"));
    }
    for _ in 0..2 {
        // PHSCALE: flags, type (voltage, positive sequence), user byte, scale 1.0, angle
        // adjustment 0.
        out.extend([0x00, 0x00, 0x01, 0x00]);
        out.extend(1.0f32.to_be_bytes());
        out.extend(0.0f32.to_be_bytes());
    }
    out.extend(1.0f32.to_be_bytes()); // ANSCALE: scale
    out.extend(0.0f32.to_be_bytes()); // offset
    out.extend([0x00, 0x00, 0xff, 0xff]); // DIGUNIT: normal status, valid inputs
    out.extend(46.5f32.to_be_bytes()); // PMU_LAT
    out.extend(6.6f32.to_be_bytes()); // PMU_LON
    out.extend(372.0f32.to_be_bytes()); // PMU_ELEV
    out.push(b'M'); // SVC_CLASS
    out.extend(100_000i32.to_be_bytes()); // WINDOW (µs)
    out.extend(20_000i32.to_be_bytes()); // GRP_DLY (µs)
    out.extend(0u16.to_be_bytes()); // FNOM: 60 Hz
    out.extend(3u16.to_be_bytes()); // CFGCNT
}

/// The configuration after CONT_IDX: TIME_BASE 1 000 000, the PMUs, DATA_RATE 30.
fn config3_data(pmus: &[(&str, u16)]) -> Vec<u8> {
    let mut d = 1_000_000u32.to_be_bytes().to_vec();
    d.extend(u16::try_from(pmus.len()).unwrap().to_be_bytes());
    for (name, idcode) in pmus {
        pmu3(&mut d, name, *idcode);
    }
    d.extend(30u16.to_be_bytes());
    d
}

/// A whole CFG-3 frame of stream `idcode` (version 2) with CONT_IDX `cont` and `data`.
fn cfg3_frame(idcode: u16, cont: u16, data: &[u8]) -> Vec<u8> {
    let size = u16::try_from(wire::HEADER_LEN + 2 + data.len() + 2).unwrap();
    let mut f = vec![wire::SYNC, 0x52];
    f.extend(size.to_be_bytes());
    f.extend(idcode.to_be_bytes());
    f.extend(0x6592_0080u32.to_be_bytes()); // SOC: 2024-01-01 00:00:00
    f.extend(0u32.to_be_bytes()); // FRACSEC
    f.extend(cont.to_be_bytes());
    f.extend(data);
    let chk = wire::crc_ccitt(&f);
    f.extend(chk.to_be_bytes());
    f
}

/// The frame the sensor test compares with tshark: one PMU, station "Station A", ID 7734.
const CFG3_ONE_PMU: &str = "aa5200bc1e3665920080000000000000000f424000010953746174696f6e20411e360102030405060708090a0b0c0d0e\
    0f10000f00020001000102564102564204414e4131024430024431024432024433024434024435024436024437024438\
    024439034431300344313103443132034431330344313403443135000001003f80000000000000000001003f80000000\
    0000003f800000000000000000ffff423a000040d3333343ba00004d000186a000004e2000000003001ec227";

#[test]
fn cfg3_names_the_station_and_its_channels() {
    let frame = cfg3_frame(7734, 0, &config3_data(&[("Station A", 7734)]));
    let h = Header::parse(&frame).unwrap().unwrap();
    assert_eq!(
        (h.frame_type, h.version, h.idcode),
        (FrameType::Cfg3, 2, 7734)
    );
    let payload = &frame[wire::HEADER_LEN..frame.len() - 2];
    assert_eq!(wire::cont_idx(payload), Some(0));
    let cfg = wire::config3(&payload[2..]).unwrap();
    assert_eq!((cfg.time_base, cfg.data_rate), (1_000_000, 30));
    let [s] = cfg.stations.as_slice() else {
        panic!("{cfg:?}")
    };
    assert_eq!(s.name, b"Station A");
    assert_eq!(
        s.global_id,
        Some(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16][..])
    );
    assert_eq!(
        (
            s.idcode,
            s.phasors,
            s.analogs,
            s.digitals,
            s.fnom_50hz,
            s.cfgcnt
        ),
        (7734, 2, 1, 1, false, 3)
    );
    let names: Vec<&[u8]> = s.channels().collect();
    assert_eq!(names.len(), 19);
    assert_eq!(names[..4], [&b"VA"[..], b"VB", b"ANA1", b"D0"]);
    assert_eq!(names[18], b"D15");
    assert_eq!(frame, hex(CFG3_ONE_PMU));

    let out = datagram(
        &mut C37Dissector::default(),
        Direction::ToClient,
        &udp(),
        &frame,
    );
    let src = source::C37_118_CONFIG;
    assert_eq!(
        out,
        [
            id(Subject::Server, Field::Hostname, "Station A", src),
            id(
                Subject::Server,
                Field::Description,
                "C37.118 PMU ID 7734: 2 phasors, 1 analog value, 1 digital status word, 60 Hz, \
                 30 frames/s",
                src,
            ),
        ]
    );
}

#[test]
fn cfg3_fragments_are_joined_in_order() {
    let data = config3_data(&[("PMU north", 11), ("PMU south", 12)]);
    let (a, rest) = data.split_at(40);
    let (b, c) = rest.split_at(100);
    let series = [
        cfg3_frame(9, 1, a),
        cfg3_frame(9, 2, b),
        cfg3_frame(9, wire::LAST_FRAGMENT, c),
    ];
    let mut d = C37Dissector::default();
    let mut out = Vec::new();
    for f in &series {
        out.extend(datagram(&mut d, Direction::ToClient, &udp(), f));
    }
    assert_eq!(
        out,
        [id(
            Subject::Server,
            Field::Description,
            "C37.118 data stream 9 of 2 PMUs: PMU north (ID 11), PMU south (ID 12)",
            source::C37_118_CONFIG,
        )]
    );
    // Out of order (the second fragment lost), or a last fragment alone: nothing read, and
    // no violation (the configuration was never whole).
    let mut d = C37Dissector::default();
    for f in [&series[0], &series[2], &series[1], &series[2]] {
        assert!(datagram(&mut d, Direction::ToClient, &udp(), f).is_empty());
    }
    // A whole CFG-3 cut short is a violation.
    let mut short = config3_data(&[("Station A", 7734)]);
    short.truncate(short.len() - 10);
    let out = datagram(
        &mut C37Dissector::default(),
        Direction::ToClient,
        &udp(),
        &cfg3_frame(7734, 0, &short),
    );
    assert_eq!(
        out,
        [crate::protocols::violation(
            PROTOCOL,
            "configuration frame cut short: its PMU blocks run past FRAMESIZE"
        )]
    );
}
