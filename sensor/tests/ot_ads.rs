#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Beckhoff ADS on whole captures: a public one of TwinCAT adding a route to a CX controller
//! (UDP 48899) and reading its state (AMS/TCP 48898), and one recorded between pyads 3.6.0 and
//! its AdsTestServer (tests/peers/record, scenario ads_ops). The report names the controller and
//! the engineering station and raises the operations' alerts; then every AMS packet is compared
//! with tshark's dissection of the same frames, field by field.

mod common;

use common::tshark::{self, unhex};
use common::{alert_kinds, asset, corpus_dir, data, report, skip};
use otwatch_sensor::protocols::ads::wire::{self, command, AmsHeader, Request};
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn add_route_names_the_engineering_station_and_raises_its_alerts() {
    let r = report(&data("beckhoff-addroute1.pcapng"));
    assert!(r.stats().protocol_violations.is_empty());
    let cx = asset(&r, "192.168.1.8");
    assert_eq!((cx.device_type.as_str(), cx.purdue_level), ("plc", Some(1)));
    assert!(cx
        .protocols
        .iter()
        .any(|p| p.name == "ads" && p.role == "server"));
    let ews = asset(&r, "192.168.1.99");
    assert_eq!(
        (ews.device_type.as_str(), ews.purdue_level),
        ("engineering_workstation", Some(2))
    );
    let ads = |k: &str| (k.to_string(), "ads".to_string());
    assert_eq!(
        alert_kinds(&r),
        [ads("cleartext_credentials"), ads("plc_config_change")]
    );
    let change = r
        .alerts
        .iter()
        .find(|a| a.kind == "plc_config_change")
        .unwrap();
    let ev: Vec<(&str, &str)> = change
        .evidence
        .iter()
        .map(|e| (e.field.as_str(), e.value.as_str()))
        .collect();
    for want in [
        ("service", "add route"),
        ("route", "SHENHUAJ6-PC"),
        ("ams_net_id", "192.168.1.199.1.1"),
    ] {
        assert!(ev.contains(&want), "{want:?} in {ev:?}");
    }
    // The add route's password ("1", tag 2) is never reported.
    let json = format!("{r:?}");
    assert!(json.contains("Administrator"));
    assert!(!json.contains("\\u{1}") && !json.contains("password: \"1\""));
    let mut ops: Vec<&str> = r
        .connections
        .iter()
        .filter(|c| c.protocol == "ads")
        .flat_map(|c| c.operations.iter().map(String::as_str))
        .collect();
    ops.sort();
    assert_eq!(ops, ["config_change", "diagnostics"]);
}

#[test]
fn pyads_session_identity_operations_and_alerts() {
    let r = report(&data("ads_pyads_ops.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let plc = asset(&r, "10.77.1.20");
    // ReadDeviceInfo answer (frame 8): "TestServer", version 1.2.3.
    assert_eq!(
        (
            plc.vendor.as_str(),
            plc.model.as_str(),
            plc.firmware.as_str()
        ),
        ("Beckhoff Automation", "TestServer", "1.2.3")
    );
    assert_eq!(
        (plc.device_type.as_str(), plc.purdue_level),
        ("plc", Some(1))
    );
    let ews = asset(&r, "10.77.1.10");
    assert_eq!(ews.device_type, "engineering_workstation");
    let [c] = &r.connections[..] else {
        panic!("one connection: {:?}", r.connections);
    };
    assert_eq!((c.protocol.as_str(), c.port), ("ads", 48898));
    // ams.cmdid of the client's requests.
    assert_eq!(c.function_codes, ["1", "2", "3", "4", "5", "6", "7", "9"]);
    assert_eq!(
        c.operations,
        [
            "cpu_start",
            "cpu_stop",
            "diagnostics",
            "identify",
            "read",
            "write"
        ]
    );
    let ads = |k: &str| (k.to_string(), "ads".to_string());
    assert_eq!(alert_kinds(&r), [ads("plc_start"), ads("plc_stop")]);
    let stop = r.alerts.iter().find(|a| a.kind == "plc_stop").unwrap();
    assert!(stop
        .evidence
        .iter()
        .any(|e| e.field == "ads_state" && e.value == "STOP"));
}

// ---------------------------------------------------------------------------------------
// Per packet, against tshark.

/// tshark's AMS fields, in the order they are asked for. Each is compared when either side
/// has it; `ams.ads_devicename` and the version only for a ReadDeviceInfo answer of the
/// standard 24 bytes (tshark decodes no shorter one).
const FIELDS: &[&str] = &[
    "ams.targetnetid",
    "ams.targetport",
    "ams.sendernetid",
    "ams.senderport",
    "ams.cmdid",
    "ams.stateflags",
    "ams.cbdata",
    "ams.errorcode",
    "ams.invokeid",
    "ams.ads_indexgroup",
    "ams.ads_indexoffset",
    "ams.ads_cblength",
    "ams.ads_cbreadlength",
    "ams.ads_cbwritelength",
    "ams.ads_state",
    "ams.ads_devicestate",
    "ams.adsresult",
    "ams.ads_transmode",
    "ams.ads_devicename",
    "ams.ads_versionversion",
    "ams.ads_versionrevision",
    "ams.ads_versionbuild",
];

type Fields = BTreeMap<&'static str, String>;

/// One frame with TCP payload: number, (stream, source port), payload, tshark's AMS fields.
type Frame = (u32, (u32, u16), Vec<u8>, Option<Fields>);

/// Every AMS packet of a capture as tshark reads it, by frame, with the frame's TCP payload
/// and stream direction.
fn tshark_frames(file: &Path) -> Vec<Frame> {
    let names: Vec<&str> = [
        "frame.number",
        "tcp.stream",
        "tcp.srcport",
        "tcp.payload",
        "ams",
    ]
    .iter()
    .chain(FIELDS)
    .copied()
    .collect();
    let text = tshark::fields(file, "tcp.len > 0", &["-E", "aggregator=|"], &names);
    let mut frames = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| cols.get(i).copied().unwrap_or_default();
        let theirs = (!col(4).is_empty()).then(|| {
            FIELDS
                .iter()
                .enumerate()
                .filter(|(i, _)| !col(5 + i).is_empty())
                .map(|(i, f)| (*f, col(5 + i).to_string()))
                .collect::<Fields>()
        });
        frames.push((
            col(0).parse().unwrap(),
            (col(1).parse().unwrap(), col(2).parse().unwrap()),
            unhex(col(3)),
            theirs,
        ));
    }
    frames
}

/// One AMS packet as otwatch's wire reader sees it, in tshark's formatting.
fn ours(packet: &[u8]) -> Fields {
    let mut m = Fields::new();
    let h = AmsHeader::parse(&packet[wire::TCP_HEADER_LEN..]).unwrap();
    let body = &packet[wire::TCP_HEADER_LEN + wire::AMS_HEADER_LEN..];
    let mut put = |k: &'static str, v: String| {
        m.insert(k, v);
    };
    put("ams.targetnetid", h.target.to_string());
    put("ams.targetport", h.target_port.to_string());
    put("ams.sendernetid", h.source.to_string());
    put("ams.senderport", h.source_port.to_string());
    put("ams.cmdid", h.command.to_string());
    put("ams.stateflags", format!("{:#06x}", h.state_flags));
    put("ams.cbdata", h.data_len.to_string());
    put("ams.errorcode", format!("{:#010x}", h.error));
    put("ams.invokeid", format!("{:#010x}", h.invoke));
    let hex32 = |v: u32| format!("{v:#010x}");
    let hex16 = |v: u16| format!("{v:#06x}");
    if !h.is_response() {
        match wire::request(h.command, body, true).unwrap() {
            Request::Read { group, offset, len } => {
                put("ams.ads_indexgroup", hex32(group));
                put("ams.ads_indexoffset", hex32(offset));
                put("ams.ads_cblength", len.to_string());
            }
            Request::Write {
                group, offset, len, ..
            } => {
                put("ams.ads_indexgroup", hex32(group));
                put("ams.ads_indexoffset", hex32(offset));
                put("ams.ads_cblength", len.to_string());
            }
            Request::ReadWrite {
                group,
                offset,
                read_len,
                data,
            } => {
                put("ams.ads_indexgroup", hex32(group));
                put("ams.ads_indexoffset", hex32(offset));
                put("ams.ads_cbreadlength", read_len.to_string());
                put("ams.ads_cbwritelength", data.len().to_string());
            }
            Request::AddNotification {
                group,
                offset,
                len,
                mode,
            } => {
                put("ams.ads_indexgroup", hex32(group));
                put("ams.ads_indexoffset", hex32(offset));
                put("ams.ads_cblength", len.to_string());
                put("ams.ads_transmode", mode.to_string());
            }
            Request::WriteControl {
                ads_state,
                device_state,
            } => {
                put("ams.ads_state", hex16(ads_state));
                put("ams.ads_devicestate", hex16(device_state));
                // The data length that follows the states.
                put("ams.ads_cblength", u32_at(body, 4).to_string());
            }
            Request::Other => {}
        }
        return m;
    }
    match h.command {
        command::READ_DEVICE_INFO if body.len() >= wire::DEVICE_INFO_LEN => {
            let i = wire::device_info(body).unwrap();
            put("ams.adsresult", hex32(i.result));
            put(
                "ams.ads_devicename",
                String::from_utf8_lossy(i.name).into_owned(),
            );
            put("ams.ads_versionversion", i.major.to_string());
            put("ams.ads_versionrevision", i.minor.to_string());
            put("ams.ads_versionbuild", i.build.to_string());
        }
        command::READ_DEVICE_INFO | command::DEVICE_NOTIFICATION => {}
        c => {
            put("ams.adsresult", hex32(wire::result(body).unwrap()));
            match c {
                command::READ | command::READ_WRITE => {
                    put("ams.ads_cblength", u32_at(body, 4).to_string())
                }
                command::READ_STATE => {
                    put("ams.ads_state", hex16(u32_at(body, 4) as u16));
                    put("ams.ads_devicestate", hex16((u32_at(body, 4) >> 16) as u16));
                }
                _ => {}
            }
        }
    }
    m
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn every_ams_packet_matches_tshark() {
    if tshark::missing() {
        return;
    }
    let mut files = vec![
        data("ads_pyads_ops.pcap"),
        data("beckhoff-addroute1.pcapng"),
    ];
    let corpus = corpus_dir().join("other-ics/beckhoff-addroute1.pcapng");
    if !corpus.is_file() {
        skip::skip(
            &format!("corpus not found at {}", corpus.display()),
            skip::Need::Corpus,
        );
    } else if std::fs::read(&corpus).unwrap() != std::fs::read(&files[1]).unwrap() {
        files.push(corpus);
    }
    let (mut compared, mut failures) = (0, Vec::new());
    for file in &files {
        let frames = tshark_frames(file);
        // Each direction's bytes joined, framed by the AMS/TCP length; a packet belongs to the
        // frame holding its last byte.
        let streams = tshark::join(frames.iter().map(|(n, key, p, _)| (*key, *n, &p[..])));
        let mut mine: BTreeMap<u32, Fields> = BTreeMap::new();
        for joined in streams.values() {
            let bytes = &joined.bytes;
            let mut pos = 0;
            while let Some((_, len)) = bytes.get(pos..).and_then(wire::tcp_header) {
                let end = pos + wire::TCP_HEADER_LEN + len as usize;
                if end > bytes.len() {
                    break;
                }
                let frame = joined.frame_of(end).unwrap();
                mine.insert(frame, ours(&bytes[pos..end]));
                pos = end;
            }
        }
        for (n, _, _, theirs) in &frames {
            let Some(theirs) = theirs else { continue };
            compared += 1;
            match mine.get(n) {
                Some(m) if m == theirs => {}
                m => failures.push(format!(
                    "{} frame {n}: ours {m:?} tshark {theirs:?}",
                    file.display()
                )),
            }
        }
    }
    eprintln!(
        "{compared} AMS packets compared with tshark in {} captures",
        files.len()
    );
    assert!(compared >= 20, "too few packets compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
