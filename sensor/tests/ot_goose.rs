#![allow(clippy::unwrap_used, clippy::expect_used)]
//! IEC 61850 GOOSE and Sampled Values on whole captures: the report (publishers as IEDs named
//! after their logical device, the stream and its group address in the evidence, violations of
//! the sequence counters), the state changes the dissector reports, and every frame read by
//! otwatch's wire views against tshark, field by field: APPID, Length, the Reserved 1
//! "simulated" bit; for GOOSE gocbRef, timeAllowedtoLive, datSet, goID, stNum, sqNum,
//! simulation, confRev, ndsCom, numDatSetEntries, the number of allData entries and each
//! entry's type (t is not compared: tshark prints it as a date); for SV noASDU, and per ASDU
//! svID, datSet, smpCnt, confRev, smpSynch and the seqData length.
//!
//! The committed captures (tests/data) run wherever tshark is installed; the whole
//! `Sample_File_GOOSE.pcap` of the corpus skips loudly when the corpus is absent.

mod common;

use common::tshark::{self, push, Fields};
use common::{asset, corpus, data, described, link_frames, report, text};
use otwatch_common::observation::{Observation, Operation};
use otwatch_common::Mac;
use otwatch_sensor::protocols::ber::Reader;
use otwatch_sensor::protocols::goose::{self, GooseDissector, GoosePdu};
use otwatch_sensor::protocols::iec61850_frame::Header;
use otwatch_sensor::protocols::sv::{self, SavPdu};
use otwatch_sensor::protocols::FrameDissector;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn goose_publishers_are_ieds_named_after_their_logical_device() {
    let r = report(&data("goose_sample_cut.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    assert_eq!(r.assets.len(), 3);
    for (mac, name) in [
        ("0a:bb:fe:10:c9:02", "AA1C1Q01A1LD0"),
        ("0a:bb:fe:10:c9:06", "AA1C1Q05A1LD0"),
        ("0a:bb:fe:10:c9:08", "AA1C1Q07A1LD0"),
    ] {
        let a = asset(&r, mac);
        assert_eq!(a.hostname, name);
        assert_eq!((a.device_type.as_str(), a.purdue_level), ("ied", Some(1)));
        assert!(a.ips.is_empty());
        assert!(a
            .protocols
            .iter()
            .any(|p| p.name == "goose" && p.role == "server"));
        // The process-bus view: the control block and the group its subscribers listen on.
        assert!(described(
            a,
            &format!("GOOSE publisher of {name}/LLN0$GO$gcb_A, dataset {name}/LLN0$InterlockingA")
        ));
        assert!(described(
            a,
            "25 entries: boolean ×7, bit-string ×18, to 01:0c:cd:01:00:00"
        ));
    }
}

#[test]
fn libiec61850_publishers_are_one_ied_with_its_trip_and_its_stream() {
    // tests/peers/iec61850_publish.py: one MAC publishing a GOOSE trip (stNum 1 then 2) and an
    // SV stream, from libiec61850 1.6.
    let r = report(&data("iec61850_goose_sv_libiec61850.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    assert_eq!(r.assets.len(), 1);
    let ied = asset(&r, "02:4d:00:00:61:50");
    assert_eq!(ied.hostname, "otwIEDPROT");
    assert_eq!(
        (ied.device_type.as_str(), ied.purdue_level),
        ("ied", Some(1))
    );
    for p in ["goose", "sv"] {
        assert!(ied.protocols.iter().any(|x| x.name == p), "{p}");
    }
    assert!(described(
        ied,
        "GOOSE publisher of otwIEDPROT/LLN0$GO$gcbTrip, dataset otwIEDPROT/LLN0$dsTrip, goID otwIED_TRIP, confRev 2"
    ));
    assert!(described(
        ied,
        "merging unit publishing svID otwMU01, confRev 1"
    ));
}

#[test]
fn a_publisher_restarting_its_sq_num_is_a_violation() {
    let r = report(&data("GOOSE.pcap"));
    let relay = asset(&r, "00:a0:f4:08:2f:77");
    assert_eq!(relay.hostname, "GEDeviceF650");
    assert_eq!(relay.device_type, "ied");
    assert_eq!(r.stats().protocol_violations.get("goose"), Some(&1));
    let alert = r
        .alerts
        .iter()
        .find(|a| a.kind == "protocol_violation")
        .unwrap();
    // Frame 4: stNum 1 sqNum 1 after stNum 1 sqNum 12 (tshark -T fields -e goose.sqNum).
    assert!(alert
        .evidence
        .iter()
        .any(|e| e.value == "GOOSE sqNum went back from 12 to 1 within stNum 1"));
}

#[test]
fn merging_units_are_ieds_with_their_streams() {
    let r = report(&data("sv_2streams.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let mu = asset(&r, "c4:b5:12:00:00:01");
    assert_eq!((mu.device_type.as_str(), mu.purdue_level), ("ied", Some(1)));
    assert!(mu.protocols.iter().any(|p| p.name == "sv"));
    for id in ["MU01_0000", "MU01_0001"] {
        assert!(described(
            mu,
            &format!("merging unit publishing svID {id}, confRev 1")
        ));
    }
    assert!(described(
        mu,
        "1 ASDU(s) of 64 sample octets, to 01:0c:cd:04:00:01"
    ));
}

#[test]
fn every_st_num_change_is_a_state_change() {
    let Some(path) = corpus("iec61850/Sample_File_GOOSE.pcap") else {
        return;
    };
    let mut d = GooseDissector::default();
    let (mut changes, mut expected) = (0, 0);
    let mut last: BTreeMap<Mac, u32> = BTreeMap::new();
    let mut out = Vec::new();
    link_frames(&path, goose::ETHERTYPE, |_, f, payload| {
        let pdu = GoosePdu::parse(Header::parse(payload).unwrap().apdu).unwrap();
        if last
            .insert(f.src, pdu.st_num)
            .is_some_and(|s| s != pdu.st_num)
        {
            expected += 1;
        }
        d.frame(&f, payload, &mut out);
        for o in out.drain(..) {
            match o {
                Observation::Operation {
                    op: Operation::Control,
                    details,
                    ..
                } => {
                    assert_eq!(details[0], ("service", "state change".to_owned()));
                    assert_eq!(details[2], ("stNum", pdu.st_num.to_string()));
                    changes += 1;
                }
                Observation::ProtocolViolation { reason, .. } => panic!("{reason}"),
                _ => {}
            }
        }
    });
    // Three publishers, 451 frames, 253 (publisher, stNum) pairs (`tshark -T fields -e eth.src
    // -e goose.stNum | sort -u`): 250 changes after each publisher's first.
    assert_eq!(changes, expected);
    assert_eq!(changes, 250);
    assert_eq!(d.streams(), 3);
}

// ------------------------------------------------------------------------------------------
// Against tshark

const GOOSE_FIELDS: &[&str] = &[
    "goose.appid",
    "goose.length",
    "goose.reserve1.s_bit",
    "goose.gocbRef",
    "goose.timeAllowedtoLive",
    "goose.datSet",
    "goose.goID",
    "goose.stNum",
    "goose.sqNum",
    "goose.simulation",
    "goose.confRev",
    "goose.ndsCom",
    "goose.numDatSetEntries",
    "goose.allData",
    "goose.Data",
];

const SV_FIELDS: &[&str] = &[
    "sv.appid",
    "sv.length",
    "sv.reserve1.s_bit",
    "sv.noASDU",
    "sv.seqASDU",
    "sv.svID",
    "sv.datSet",
    "sv.smpCnt",
    "sv.confRev",
    "sv.smpSynch",
    "sv.seqData",
];

fn ours_goose(payload: &[u8]) -> Fields {
    let mut f = Fields::new();
    let h = Header::parse(payload).unwrap();
    push(&mut f, "goose.appid", h.appid);
    push(&mut f, "goose.length", h.length);
    push(&mut f, "goose.reserve1.s_bit", u8::from(h.simulated()));
    let p = GoosePdu::parse(h.apdu).unwrap();
    push(&mut f, "goose.gocbRef", text(p.gocb_ref));
    push(&mut f, "goose.timeAllowedtoLive", p.time_allowed_to_live);
    push(&mut f, "goose.datSet", text(p.dat_set));
    if let Some(id) = p.go_id {
        push(&mut f, "goose.goID", text(id));
    }
    push(&mut f, "goose.stNum", p.st_num);
    push(&mut f, "goose.sqNum", p.sq_num);
    push(&mut f, "goose.simulation", u8::from(p.simulation));
    push(&mut f, "goose.confRev", p.conf_rev);
    push(&mut f, "goose.ndsCom", u8::from(p.nds_com));
    push(&mut f, "goose.numDatSetEntries", p.num_dat_set_entries);
    push(&mut f, "goose.allData", p.entry_count().unwrap());
    for tlv in Reader::new(p.all_data) {
        push(&mut f, "goose.Data", tlv.unwrap().tag.number);
    }
    f
}

fn ours_sv(payload: &[u8]) -> Fields {
    let mut f = Fields::new();
    let h = Header::parse(payload).unwrap();
    push(&mut f, "sv.appid", h.appid);
    push(&mut f, "sv.length", h.length);
    push(&mut f, "sv.reserve1.s_bit", u8::from(h.simulated()));
    let p = SavPdu::parse(h.apdu).unwrap();
    push(&mut f, "sv.noASDU", p.no_asdu);
    let asdus: Vec<_> = p.asdus().map(Result::unwrap).collect();
    push(&mut f, "sv.seqASDU", asdus.len());
    for a in asdus {
        push(&mut f, "sv.svID", text(a.sv_id));
        if let Some(ds) = a.dat_set {
            push(&mut f, "sv.datSet", text(ds));
        }
        push(&mut f, "sv.smpCnt", a.smp_cnt);
        push(&mut f, "sv.confRev", a.conf_rev);
        push(&mut f, "sv.smpSynch", a.smp_synch);
        push(&mut f, "sv.seqData", a.seq_data_len);
    }
    f
}

/// Every frame of `ethertype` in `file` agrees with tshark; returns how many were compared.
/// tshark's seqData (hex) counts as its length in octets.
fn agree(
    file: &Path,
    ethertype: u16,
    filter: &str,
    fields: &[&'static str],
    ours: fn(&[u8]) -> Fields,
) -> usize {
    tshark::agree(file, ethertype, filter, fields, ours, |name, v| {
        if name == "sv.seqData" {
            (v.len() / 2).to_string()
        } else {
            tshark::norm(v)
        }
    })
}

#[test]
fn goose_and_sv_agree_with_tshark_on_every_frame() {
    if tshark::missing() {
        return;
    }
    let goose = |f: &Path| agree(f, goose::ETHERTYPE, "goose", GOOSE_FIELDS, ours_goose);
    let sv_agree = |f: &Path| agree(f, sv::ETHERTYPE, "sv", SV_FIELDS, ours_sv);
    assert_eq!(goose(&data("GOOSE.pcap")), 8);
    assert_eq!(goose(&data("goose_sample_cut.pcap")), 100);
    assert_eq!(sv_agree(&data("sv_2streams.pcap")), 80);
    // libiec61850's own publishers (an independent implementation, recorded here).
    let recorded = data("iec61850_goose_sv_libiec61850.pcap");
    assert_eq!(goose(&recorded), 10);
    assert_eq!(sv_agree(&recorded), 20);
    if let Some(whole) = corpus("iec61850/Sample_File_GOOSE.pcap") {
        assert_eq!(goose(&whole), 451);
    }
}

/// A stream: (publisher, protocol, id, APPID, group).
type StreamId = (String, String, String, u32, String);

/// Per stream, from tshark: (frames, stNum changes, last stNum; `u32::MAX` for SV).
fn streams_by_tshark(file: &Path) -> BTreeMap<StreamId, (u64, u64, u32)> {
    let mut out = BTreeMap::new();
    for (proto, fields) in [
        (
            "goose",
            [
                "eth.src",
                "goose.gocbRef",
                "goose.appid",
                "eth.dst",
                "goose.stNum",
            ],
        ),
        (
            "sv",
            ["eth.src", "sv.svID", "sv.appid", "eth.dst", "sv.smpCnt"],
        ),
    ] {
        let text = tshark::fields(file, proto, &["-E", "aggregator=|"], &fields);
        for line in text.lines() {
            let v: Vec<&str> = line.split('\t').collect();
            let [src, id, appid, dst, st] = v[..] else {
                continue;
            };
            // One stream a frame (the first SV ASDU names it, as otwatch reads it).
            let id = id.split('|').next().unwrap_or("");
            let appid = tshark::num(appid).unwrap_or_default() as u32;
            let key = (src.into(), proto.into(), id.into(), appid, dst.into());
            let e = out.entry(key).or_insert((0, 0, u32::MAX));
            e.0 += 1;
            if proto == "goose" {
                let st = tshark::num(st).unwrap_or_default() as u32;
                if e.2 != u32::MAX && e.2 != st {
                    e.1 += 1;
                }
                e.2 = st;
            }
        }
    }
    out
}

#[test]
fn the_process_bus_view_agrees_with_tshark_stream_by_stream() {
    if tshark::missing() {
        return;
    }
    let files = [
        "GOOSE.pcap",
        "goose_sample_cut.pcap",
        "sv_2streams.pcap",
        "iec61850_goose_sv_libiec61850.pcap",
    ];
    for name in files {
        let path = data(name);
        let r = report(&path);
        let mut ours = BTreeMap::new();
        for a in &r.assets {
            for s in &a.published {
                let key = (
                    a.macs[0].clone(),
                    s.protocol.clone(),
                    s.id.clone(),
                    s.appid,
                    s.group.clone(),
                );
                let st = if s.protocol == "goose" {
                    s.st_num
                } else {
                    u32::MAX
                };
                ours.insert(key, (s.frames, s.state_changes, st));
                assert!(
                    !s.first_seen.is_empty() && s.first_seen <= s.last_seen,
                    "{name}: {s:?}"
                );
            }
        }
        let theirs = streams_by_tshark(&path);
        assert!(!theirs.is_empty(), "{name}: tshark saw no stream");
        assert_eq!(ours, theirs, "{name}");
    }
    // The trip of the libiec61850 capture: one state change, at its stNum 2.
    let r = report(&data("iec61850_goose_sv_libiec61850.pcap"));
    let trip = &asset(&r, "02:4d:00:00:61:50").published[0];
    assert_eq!(
        (
            trip.id.as_str(),
            trip.dataset.as_str(),
            trip.go_id.as_str(),
            trip.conf_rev
        ),
        (
            "otwIEDPROT/LLN0$GO$gcbTrip",
            "otwIEDPROT/LLN0$dsTrip",
            "otwIED_TRIP",
            2
        )
    );
    assert_eq!((trip.st_num, trip.state_changes), (2, 1));
    assert!(!trip.last_change.is_empty() && !trip.simulation);
}
