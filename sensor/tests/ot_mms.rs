#![allow(clippy::unwrap_used, clippy::expect_used)]
//! MMS (ISO 9506, as IEC 61850 and ICCP use it) on whole real captures: the report names the
//! peers from their Identify answers and domains, and operations raise their alerts; then every
//! MMS message is compared with tshark's dissection of the same frames (service, invoke id,
//! identity strings, variable names).

mod common;

use common::tshark::{self, unhex};
use common::{alert_kinds, asset, corpus_dir, data, report, skip};
use otwatch_sensor::protocols::framing::Framing;
use otwatch_sensor::protocols::mms::pdu::{self, ObjectName, Pdu};
use otwatch_sensor::protocols::mms::{units, Unit};
use otwatch_sensor::protocols::tpkt::{self, Tpdu};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[test]
fn iccp_peers_are_named_from_identify_and_domains() {
    let r = report(&data("mms_iccp_8d7c7db0.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // mms.vendorName, mms.modelName, mms.revision of the identify answers (frames 26, 29);
    // mms.domainId of the requests each side receives (frames 20, 50).
    for (ip, name, role) in [
        ("10.101.1.3", "BELLEVUE", "server"),
        ("10.101.1.2", "KIRKLAND", "client"),
    ] {
        let a = asset(&r, ip);
        assert_eq!(a.vendor, "Areva T&D", "{ip}");
        assert_eq!(a.model, "e-terracomm");
        assert_eq!(a.firmware, "2.3.1");
        assert_eq!(a.hostname, name);
        assert!(a
            .protocols
            .iter()
            .any(|p| p.name == "mms" && p.role == role));
    }
    let server = asset(&r, "10.101.1.3");
    assert_eq!(
        (server.device_type.as_str(), server.purdue_level),
        ("ied", Some(1))
    );
    let [c] = &r.connections[..] else {
        panic!("one connection: {:?}", r.connections);
    };
    assert_eq!((c.protocol.as_str(), c.port), ("mms", 102));
    // mms.confirmedServiceRequest: getNameList 1, identify 2, read 4, write 5,
    // getNamedVariableListAttributes 12.
    assert_eq!(c.function_codes, ["1", "2", "4", "5", "12"]);
    assert_eq!(c.operations, ["identify", "read", "write"]);
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
}

#[test]
fn stop_start_and_download_requests_raise_their_alerts() {
    let kinds = |file: &str| {
        let r = report(&data(file));
        assert!(r.connections.iter().all(|c| c.protocol == "mms"));
        alert_kinds(&r)
    };
    let mms = |k: &str| (k.to_string(), "mms".to_string());
    // mms.confirmedServiceRequest start (40) and stop (41), frames 12 and 16; the server's
    // answers are TPKTs shorter than their bytes (tshark: "TPKT Continuation").
    assert_eq!(
        kinds("mms-stopRequest.pcap"),
        [mms("plc_start"), mms("plc_stop"), mms("protocol_violation")]
    );
    // takeControl (19) and initiateDownloadSequence (26), frames 12 and 16.
    assert_eq!(
        kinds("mms-initiateDownloadSequence.pcap"),
        [mms("plc_program_download"), mms("protocol_violation")]
    );
    let r = report(&data("mms-stopRequest.pcap"));
    let stop = r.alerts.iter().find(|a| a.kind == "plc_stop").unwrap();
    let ev: Vec<(&str, &str)> = stop
        .evidence
        .iter()
        .map(|e| (e.field.as_str(), e.value.as_str()))
        .collect();
    assert!(
        ev.contains(&("program", "R395024397Application_1")),
        "{ev:?}"
    );
}

#[test]
fn iec61850_client_writes_and_malformed_answers() {
    let r = report(&data("iec61850_write.pcap"));
    let c = &r.connections[0];
    assert_eq!(
        (c.protocol.as_str(), c.operations.as_slice()),
        ("mms", &["write".to_string()][..])
    );
    // The ACCEPT's session length is one more than its bytes (tshark: Malformed Packet).
    assert!(r
        .alerts
        .iter()
        .any(|a| a.kind == "protocol_violation" && a.protocol == "mms"));
}

// ---------------------------------------------------------------------------------------
// Per message, against tshark.

/// What one frame's MMS says, in tshark's terms.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Message {
    invoke_ids: BTreeSet<String>,
    requests: BTreeSet<String>,
    responses: BTreeSet<String>,
    identity: BTreeSet<String>,
    /// Domain-specific names "domain/item" of requests and information reports.
    names: BTreeSet<String>,
}

const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.stream",
    "tcp.srcport",
    "tcp.payload",
    "mms",
    "mms.invokeID",
    "mms.confirmedServiceRequest",
    "mms.confirmedServiceResponse",
    "mms.vendorName",
    "mms.modelName",
    "mms.revision",
    "mms.domainId",
    "mms.itemId",
    "mms.unconfirmedService",
];

struct Frame {
    number: u32,
    stream: u32,
    port: u16,
    payload: Vec<u8>,
    theirs: Option<(Message, bool)>,
}

fn tshark_frames(file: &Path) -> Vec<Frame> {
    let text = tshark::fields(file, "tcp.len > 0", &["-E", "aggregator=|"], FIELDS);
    let mut frames = Vec::new();
    for line in text.lines() {
        let cols: Vec<Vec<&str>> = line
            .split('\t')
            .map(|c| c.split('|').filter(|s| !s.is_empty()).collect())
            .collect();
        let col = |i: usize| cols.get(i).cloned().unwrap_or_default();
        let one = |i: usize| col(i).first().copied().unwrap_or_default();
        let set = |i: usize| {
            col(i)
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>()
        };
        let theirs = (!col(4).is_empty()).then(|| {
            let mut m = Message {
                invoke_ids: set(5),
                requests: set(6),
                responses: set(7),
                ..Message::default()
            };
            for i in 8..=10 {
                m.identity.extend(set(i));
            }
            for (d, i) in col(11).iter().zip(col(12)) {
                m.names.insert(format!("{d}/{i}"));
            }
            // Names are compared where otwatch reads them: requests and reports.
            let names_compared = !m.requests.is_empty() || !col(13).is_empty();
            (m, names_compared)
        });
        frames.push(Frame {
            number: one(0).parse().unwrap(),
            stream: one(1).parse().unwrap(),
            port: one(2).parse().unwrap(),
            payload: unhex(one(3)),
            theirs,
        });
    }
    frames
}

/// Our decoding of each frame: the TCP payloads of each direction joined in frame order, framed
/// into TPKTs and COTP TSDUs; the MMS of a TSDU belongs to the frame holding its last byte, as
/// tshark shows reassembled PDUs.
fn our_messages(frames: &[Frame]) -> BTreeMap<u32, Message> {
    let streams = tshark::join(
        frames
            .iter()
            .map(|f| ((f.stream, f.port), f.number, &f.payload[..])),
    );
    let mut ours: BTreeMap<u32, Message> = BTreeMap::new();
    for joined in streams.values() {
        let bytes = &joined.bytes;
        let mut pos = 0;
        let mut tsdu = Vec::new();
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let len = match tpkt::frame(rest) {
                Framing::Complete { len } => len,
                Framing::Incomplete { .. } => break,
                Framing::Resync { skip, .. } => {
                    pos += skip.max(1);
                    continue;
                }
            };
            if let Ok(Tpdu::Data { eot, user }) = tpkt::cotp(tpkt::tpdu(&rest[..len])) {
                tsdu.extend_from_slice(user);
                if eot {
                    let frame = joined.frame_of(pos + len).unwrap();
                    let m = ours.entry(frame).or_default();
                    units(&tsdu, &mut |u| {
                        if let Ok(Unit::Mms(p)) = u {
                            describe(&p, m);
                        }
                    });
                    tsdu.clear();
                }
            }
            pos += len;
        }
    }
    ours
}

fn describe(p: &Pdu<'_>, m: &mut Message) {
    let mut name = |n: ObjectName<'_>| {
        if let ObjectName::Domain { domain, item } = n {
            m.names.insert(format!(
                "{}/{}",
                String::from_utf8_lossy(domain),
                String::from_utf8_lossy(item)
            ));
        }
    };
    match p {
        Pdu::ConfirmedRequest { invoke, service } => {
            m.invoke_ids.insert(invoke.to_string());
            m.requests.insert(service.code.to_string());
            if service.code != pdu::service::GET_NAME_LIST {
                pdu::request_names(service, &mut name);
            }
        }
        Pdu::ConfirmedResponse { invoke, service } => {
            m.invoke_ids.insert(invoke.to_string());
            m.responses.insert(service.code.to_string());
            if service.code == pdu::service::IDENTIFY {
                let id = pdu::identify_response(service.body);
                for v in [id.vendor, id.model, id.revision].into_iter().flatten() {
                    m.identity.insert(String::from_utf8_lossy(v).into_owned());
                }
            }
        }
        Pdu::ConfirmedError { invoke } => {
            m.invoke_ids.insert(invoke.to_string());
        }
        Pdu::Unconfirmed { service } if service.code == 0 => {
            pdu::information_report(service.body, &mut name, &mut |_| {});
        }
        _ => {}
    }
}

#[test]
fn every_mms_message_matches_tshark() {
    if tshark::missing() {
        return;
    }
    let mut files: Vec<PathBuf> = [
        "mms_iccp_8d7c7db0.pcap",
        "iec61850_get_name_list.pcap",
        "iec61850_write.pcap",
        "mms-initiateDownloadSequence.pcap",
        "mms-stopRequest.pcap",
    ]
    .iter()
    .map(|f| data(f))
    .collect();
    let corpus = corpus_dir().join("iec61850");
    if corpus.is_dir() {
        let mut more: Vec<PathBuf> = std::fs::read_dir(&corpus)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            // The bundled ones are copies of corpus files: each is compared once.
            .filter(|p| {
                let bytes = std::fs::read(p).unwrap();
                !files.iter().any(|f| std::fs::read(f).unwrap() == bytes)
            })
            .collect();
        more.sort();
        files.extend(more);
    } else {
        skip::skip(
            &format!(
                "corpus not found at {}: only the bundled MMS captures are compared",
                corpus.display()
            ),
            skip::Need::Corpus,
        );
    }
    let (mut compared, mut only_ours, mut only_theirs) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let frames = tshark_frames(file);
        let ours = our_messages(&frames);
        for f in &frames {
            let mine = ours.get(&f.number).filter(|m| **m != Message::default());
            match (mine, &f.theirs) {
                (Some(mine), Some((theirs, names_compared))) => {
                    compared += 1;
                    let mut mine = mine.clone();
                    let mut theirs = theirs.clone();
                    if !names_compared {
                        mine.names.clear();
                        theirs.names.clear();
                    }
                    if mine != theirs {
                        failures.push(format!(
                            "{} frame {}: ours {mine:?} tshark {theirs:?}",
                            file.display(),
                            f.number
                        ));
                    }
                }
                (Some(_), None) => only_ours += 1,
                (None, Some((m, _))) if *m != Message::default() => only_theirs += 1,
                _ => {}
            }
        }
    }
    eprintln!(
        "{compared} MMS messages compared with tshark in {} captures; decoded only by otwatch: \
         {only_ours}, only by tshark: {only_theirs}",
        files.len()
    );
    assert!(compared > 100, "too few messages compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
