use super::*;
use crate::protocols::testing::{frames_never_panic, hex, id, speaks};
use otwatch_common::{Mac, Timestamp};

/// Frame 1 of ITI/ICS-Security-Tools `GOOSE.pcap` (a GE F650 relay) after the ethertype:
/// APPID 0x0001, Length 145, gocbRef "GEDeviceF650/LLN0$GO$gcb01", timeAllowedtoLive 40000,
/// datSet "GEDeviceF650/LLN0$GOOSE1", goID "F650_GOOSE1", stNum 1, sqNum 10, test FALSE,
/// confRev 1, ndsCom FALSE, numDatSetEntries 8, allData 4 × (boolean, bit-string).
fn f650() -> Vec<u8> {
    hex("0001 0091 0000 0000 618186
        801a 47454465766963654636 35302f4c4c4e3024474f2467636230 31
        8103 009c40
        8218 474544657669636546363530 2f4c4c4e3024474f4f534531
        830b 463635305f474f4f534531
        8408 386ebbf34217280a
        850101 86010a 870100 880101 890100 8a0108
        ab20 830100 8403030000 830100 8403030000 830100 8403030000 830100 8403030000")
}

const SRC: Mac = Mac([0x00, 0xa0, 0xf4, 0x08, 0x2f, 0x77]);
const DST: Mac = Mac([0x01, 0xa0, 0xf4, 0x08, 0x2f, 0x77]);

fn frame() -> LinkFrame {
    LinkFrame {
        src: SRC,
        dst: Some(DST),
        ts: Timestamp::ZERO,
    }
}

/// The F650 frame with other stNum, sqNum and simulation values (one octet each).
fn with(st: u8, sq: u8, sim: u8) -> Vec<u8> {
    let mut f = f650();
    let at = |f: &[u8], tlv: [u8; 2]| f.windows(2).position(|w| w == tlv).unwrap() + 2;
    let (s, q, t) = (at(&f, [0x85, 1]), at(&f, [0x86, 1]), at(&f, [0x87, 1]));
    f[s] = st;
    f[q] = sq;
    f[t] = sim;
    f
}

/// The F650's stream as a frame with `st_num` reports it.
fn publishes(st_num: u32, state_change: bool) -> Observation {
    Observation::Publishes {
        subject: Subject::Mac(SRC),
        stream: Box::new(Published {
            protocol: PROTOCOL,
            id: "GEDeviceF650/LLN0$GO$gcb01".into(),
            appid: 1,
            group: Some(DST),
            dataset: Some("GEDeviceF650/LLN0$GOOSE1".into()),
            go_id: Some("F650_GOOSE1".into()),
            conf_rev: 1,
            st_num: Some(st_num),
            state_change,
            simulation: false,
        }),
    }
}

fn run(d: &mut GooseDissector, payload: &[u8]) -> Vec<Observation> {
    let mut out = Vec::new();
    d.frame(&frame(), payload, &mut out);
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
fn reads_every_field_of_a_real_goose_pdu() {
    let payload = f650();
    assert_eq!(payload.len(), 145);
    let h = Header::parse(&payload).unwrap();
    assert_eq!((h.appid, h.length, h.simulated()), (1, 145, false));
    let p = GoosePdu::parse(h.apdu).unwrap();
    assert_eq!(p.gocb_ref, b"GEDeviceF650/LLN0$GO$gcb01");
    assert_eq!(p.time_allowed_to_live, 40000);
    assert_eq!(p.dat_set, b"GEDeviceF650/LLN0$GOOSE1");
    assert_eq!(p.go_id, Some(&b"F650_GOOSE1"[..]));
    assert_eq!(
        (p.st_num, p.sq_num, p.simulation, p.conf_rev, p.nds_com),
        (1, 10, false, 1, false)
    );
    assert_eq!((p.num_dat_set_entries, p.entry_count().unwrap()), (8, 8));
    assert_eq!(
        p.data_entries().unwrap().to_string(),
        "8 entries: boolean ×4, bit-string ×4"
    );
}

#[test]
fn first_frame_names_the_publisher_and_its_group() {
    let mut d = GooseDissector::default();
    let out = run(&mut d, &f650());
    let s = Subject::Mac(SRC);
    assert_eq!(
        out,
        vec![
            speaks(s, PROTOCOL, Role::Server, 0),
            id(s, Field::Hostname, "GEDeviceF650", source::GOOSE_GOCBREF),
            id(s, Field::DeviceType, "ied", source::GOOSE_PUBLISHER),
            id(
                s,
                Field::Description,
                "IEC 61850 GOOSE publisher of GEDeviceF650/LLN0$GO$gcb01, dataset \
                 GEDeviceF650/LLN0$GOOSE1, goID F650_GOOSE1, confRev 1, APPID 0x0001, \
                 8 entries: boolean ×4, bit-string ×4, to 01:a0:f4:08:2f:77",
                source::GOOSE_PUBLISHER
            ),
            publishes(1, false),
        ]
    );
    // A retransmission says no more than that the publisher speaks, and the frame of its stream.
    assert_eq!(
        run(&mut d, &with(1, 11, 0)),
        vec![speaks(s, PROTOCOL, Role::Server, 0), publishes(1, false)]
    );
    assert_eq!(d.streams(), 1);
}

#[test]
fn a_new_st_num_is_a_state_change() {
    let mut d = GooseDissector::default();
    run(&mut d, &with(1, 10, 0));
    let out = run(&mut d, &with(2, 0, 0));
    assert_eq!(out[2], publishes(2, true));
    assert_eq!(
        out[1],
        Observation::Operation {
            op: Operation::Control,
            function_code: None,
            details: vec![
                ("service", "state change".to_owned()),
                ("object", "GEDeviceF650/LLN0$GO$gcb01".to_owned()),
                ("stNum", "2".to_owned()),
                ("dataset", "GEDeviceF650/LLN0$GOOSE1".to_owned()),
            ],
        }
    );
    assert_eq!(out.len(), 3);
}

#[test]
fn counters_going_back_are_violations() {
    let mut d = GooseDissector::default();
    run(&mut d, &with(5, 3, 0));
    assert_eq!(
        violations(&run(&mut d, &with(5, 1, 0))),
        ["GOOSE sqNum went back from 3 to 1 within stNum 5"]
    );
    assert_eq!(
        violations(&run(&mut d, &with(4, 9, 0))),
        ["GOOSE stNum went back from 5 to 4"]
    );
    // A repeated frame (a duplicate on the mirror port) is not.
    let out = run(&mut d, &with(4, 9, 0));
    assert!(violations(&out).is_empty());
    // Each stream has a budget: after four, nothing more is said.
    for st in (0..4).rev() {
        run(&mut d, &with(st, 0, 0));
    }
    assert!(violations(&run(&mut d, &with(0, 0, 0))).is_empty());
    let out = run(&mut d, &with(1, 0, 0));
    assert!(violations(&out).is_empty(), "{out:?}");
}

#[test]
fn the_simulation_flag_is_reported_once() {
    let mut d = GooseDissector::default();
    run(&mut d, &with(1, 1, 0));
    let status = id(
        Subject::Mac(SRC),
        Field::Status,
        "GOOSE GEDeviceF650/LLN0$GO$gcb01 published with the simulation (test) flag set",
        source::GOOSE_PUBLISHER,
    );
    let out = run(&mut d, &with(1, 2, 1));
    assert_eq!(out[1], status);
    let Observation::Publishes { stream, .. } = &out[2] else {
        panic!("{out:?}")
    };
    assert!(stream.simulation);
    assert_eq!(out.len(), 3);
    // Said once: the next frame is the stream's frame only.
    assert_eq!(run(&mut d, &with(1, 3, 1)).len(), 2);
    // The state change of a simulated stream says so.
    let out = run(&mut d, &with(2, 0, 1));
    let Observation::Operation { details, .. } = &out[1] else {
        panic!("{out:?}")
    };
    assert!(details.contains(&("simulation", "true".to_owned())));
    // The edition 2 header bit counts too.
    let mut d = GooseDissector::default();
    let mut f = with(1, 1, 0);
    f[4] = 0x80;
    assert!(run(&mut d, &f).contains(&status));
}

#[test]
fn malformed_frames_are_violations() {
    let mut d = GooseDissector::default();
    let good = f650();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            good[..5].to_vec(),
            "GOOSE frame of 5 octets too short for the APPID/Length header",
        ),
        (
            good[..100].to_vec(),
            "GOOSE Length 145 runs past the 100 octets of the frame",
        ),
        (
            {
                let mut f = good.clone();
                f[3] = 4;
                f
            },
            "GOOSE Length 4 is less than the 8 octets of the header",
        ),
        (
            {
                let mut f = good.clone();
                f[8] = 0x62;
                f
            },
            "GOOSE APDU is [APPLICATION 2] constructed, not a goosePdu [APPLICATION 1]",
        ),
        (
            {
                // numDatSetEntries 9 for 8 entries.
                let mut f = good.clone();
                let at = f.windows(2).position(|w| w == [0x8a, 1]).unwrap() + 2;
                f[at] = 9;
                f
            },
            "GOOSE numDatSetEntries 9 but allData holds 8",
        ),
        (
            {
                // Length one longer than the goosePdu, with an octet after it.
                let mut f = good.clone();
                f[3] = 146;
                f.push(0);
                f
            },
            "GOOSE APDU has 1 octets after the goosePdu within Length",
        ),
    ];
    for (frame, reason) in cases {
        // A fresh dissector each time: the budget is per stream.
        let mut d1 = GooseDissector::default();
        assert_eq!(violations(&run(&mut d1, &frame)), [reason]);
        run(&mut d, &frame);
    }
    let mut out = Vec::new();
    let group = LinkFrame {
        src: DST,
        ..frame()
    };
    d.frame(&group, &good, &mut out);
    assert_eq!(violations(&out), ["GOOSE frame from group address"]);
}

#[test]
fn never_panics() {
    let mut d = GooseDissector::default();
    frames_never_panic(&mut d, &[&f650(), &with(2, 0, 1)]);
}
