#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Omron FINS on whole real captures: the report names the CP1L from its Controller Data Read
//! answers and classifies both ends, the commands of the ICSNPP trace raise their alerts; then
//! every FINS message is compared with tshark's dissection of the same frames (FINS/TCP command
//! and node addresses, ICF, addresses, SID, command code, end code, model and version).

mod common;

use common::tshark::{self, unhex};
use common::{asset, data, report, udp_pcap};
use otwatch_common::model::Asset;
use otwatch_sensor::protocols::omron_fins::commands;
use otwatch_sensor::protocols::omron_fins::model_and_version;
use otwatch_sensor::protocols::omron_fins::wire::{tcp_command, Frame, TcpHeader};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::path::Path;

#[test]
fn cp1l_is_named_by_its_controller_data() {
    let r = report(&data("omron_fins_cp1l.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // omron.controller.model and omron.controller.version of frames 9 (FINS/TCP) and 18 (UDP).
    let plc = asset(&r, "10.1.1.164");
    assert_eq!(plc.vendor, "Omron");
    assert_eq!(plc.model, "CP1L-EL20DR-D");
    assert_eq!(plc.firmware, "01.00");
    assert_eq!(plc.device_type, "plc");
    assert_eq!(plc.purdue_level, Some(1));
    let described = |a: &Asset, v: &str| {
        a.evidence
            .iter()
            .any(|e| e.field == "description" && e.value == v)
    };
    // omron.tcp.server_node_address and client_node_address of frame 7, omron.sa1 of frame 17.
    assert!(described(plc, "FINS node 200"), "{:?}", plc.evidence);
    let tool = asset(&r, "10.1.1.173");
    assert_eq!(tool.device_type, "hmi");
    assert!(described(tool, "FINS node 251"));
    assert!(described(tool, "FINS node 99"));
    assert!(r.connections.iter().all(|c| c.protocol == "omron_fins"));
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
}

#[test]
fn icsnpp_commands_raise_their_alerts() {
    let r = report(&data("omron_fins_commands.pcap"));
    let plc = asset(&r, "10.130.130.130");
    assert_eq!(plc.device_type, "plc");
    assert_eq!(plc.purdue_level, Some(1));
    let tool = asset(&r, "10.4.14.102");
    assert_eq!(tool.device_type, "engineering_workstation");
    // The trace sends its responses from the client's socket, the same way as the commands:
    // their Controller Data Read answers ("AAAA...") name nobody.
    assert_eq!((tool.model.as_str(), plc.model.as_str()), ("", ""));
    let kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    for kind in [
        "plc_stop",
        "plc_start",
        "plc_program_download",
        "plc_program_upload",
        "plc_program_delete",
        "plc_config_change",
        "cleartext_credentials",
        "protocol_violation",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let evidence = |kind: &str| -> Vec<(String, String)> {
        let a = r.alerts.iter().find(|a| a.kind == kind).unwrap();
        a.evidence
            .iter()
            .map(|e| (e.field.clone(), e.value.clone()))
            .collect()
    };
    let stop = evidence("plc_stop");
    assert!(
        stop.contains(&("service".into(), "stop".into())),
        "{stop:?}"
    );
    assert!(stop.contains(&("function_code".into(), "1026".into())));
    let start = evidence("plc_start");
    assert!(
        start.contains(&("mode".into(), "debug".into())),
        "{start:?}"
    );
    // Once the same-way answers. Their end codes 0x0101.. refusing memory area reads are no
    // violation (a refusal is a status of the responder), nor taken from untrusted answers.
    let violation = evidence("protocol_violation");
    assert!(
        violation.contains(&(
            "reason".into(),
            "FINS response to SID 0x7a travels the same way as its command".into()
        )),
        "{violation:?}"
    );
    assert!(
        violation.iter().all(|(_, v)| !v.contains("end code")),
        "{violation:?}"
    );
    assert!(
        plc.evidence.iter().all(|e| e.field != "status"),
        "{:?}",
        plc.evidence
    );
}

#[test]
fn a_refused_write_is_a_status_of_the_plc_not_a_violation() {
    // Built after W227 (no public capture has a refusal answered by its controller): a tool
    // writes DM 100 over FINS/UDP and the CPU, in RUN mode, answers end code 0x2108 (write not
    // possible: cannot change).
    let tool: SocketAddrV4 = "10.1.1.173:54855".parse().unwrap();
    let plc: SocketAddrV4 = "10.1.1.164:9600".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fins_refused.pcap");
    udp_pcap(
        &path,
        &[
            (tool, plc, unhex("80000200a400006300100102820064000001abcd")),
            (plc, tool, unhex("c0000200630000a4001001022108")),
        ],
    );
    let r = report(&path);
    assert!(r.stats().protocol_violations.is_empty(), "{:?}", r.alerts);
    let plc = asset(&r, "10.1.1.164");
    let status: Vec<&str> = plc
        .evidence
        .iter()
        .filter(|e| e.field == "status")
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(
        status,
        ["FINS end code 0x2108 (write not possible: cannot change) refusing memory area write"]
    );
}

// ---------------------------------------------------------------------------------------
// Every FINS message against tshark.

/// What both decoders say about one FINS or FINS/TCP message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Message {
    tcp_command: Option<u32>,
    nodes: Option<(u32, u32)>,
    icf: Option<u8>,
    addresses: Option<[u8; 6]>,
    sid: Option<u8>,
    command: Option<u16>,
    end_code: Option<u16>,
    model: Option<String>,
    version: Option<String>,
}

const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.stream",
    "tcp.srcport",
    "tcp.payload",
    "udp.payload",
    "omron.tcp.command",
    "omron.tcp.client_node_address",
    "omron.tcp.server_node_address",
    "omron.icf",
    "omron.dna",
    "omron.da1",
    "omron.da2",
    "omron.sna",
    "omron.sa1",
    "omron.sa2",
    "omron.sid",
    "omron.command",
    "omron.response.code",
    "omron.controller.model",
    "omron.controller.version",
];

struct Packet {
    number: u32,
    /// TCP stream and source port; `None` for UDP.
    stream: Option<(u32, u16)>,
    payload: Vec<u8>,
    theirs: Option<Message>,
}

fn tshark_packets(file: &Path) -> Vec<Packet> {
    let text = tshark::fields(
        file,
        "tcp.len > 0 || udp.length > 8",
        &["-E", "occurrence=f"],
        FIELDS,
    );
    text.lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let col = |i: usize| cols.get(i).copied().unwrap_or_default();
            let num = |i: usize| tshark::num(col(i));
            let byte = |i: usize| num(i).map(|n| n as u8);
            let text = |i: usize| Some(col(i).trim().to_string()).filter(|s| !s.is_empty());
            let mut m = Message {
                tcp_command: num(5).map(|n| n as u32),
                nodes: None,
                icf: byte(8),
                addresses: None,
                sid: byte(15),
                command: num(16).map(|n| n as u16),
                end_code: num(17).map(|n| n as u16),
                model: text(18),
                version: text(19),
            };
            if let (Some(c), Some(s)) = (num(6), num(7)) {
                m.nodes = Some((c as u32, s as u32));
            }
            if let [Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)] =
                [9, 10, 11, 12, 13, 14].map(byte)
            {
                m.addresses = Some([a, b, c, d, e, f]);
            }
            let tcp = !col(3).is_empty();
            Packet {
                number: num(0).unwrap() as u32,
                stream: tcp.then(|| (num(1).unwrap() as u32, num(2).unwrap() as u16)),
                payload: unhex(if tcp { col(3) } else { col(4) }),
                theirs: (m != Message::default()).then_some(m),
            }
        })
        .collect()
}

/// Our reading of one FINS frame (the model and version only where a Controller Data Read
/// response carries them).
fn fins(bytes: &[u8], m: &mut Message) {
    let Ok(f) = Frame::parse(bytes) else { return };
    m.icf = Some(f.icf);
    let (d, s) = (f.destination, f.source);
    m.addresses = Some([d.network, d.node, d.unit, s.network, s.node, s.unit]);
    m.sid = Some(f.sid);
    m.command = Some(f.command);
    m.end_code = f.end_code;
    if f.is_response() && f.command == commands::CONTROLLER_DATA_READ {
        if let Some((model, version)) = model_and_version(f.data) {
            let text = |b: &[u8]| Some(String::from_utf8_lossy(b).trim().to_string());
            m.model = text(model);
            m.version = text(version);
        }
    }
}

/// Our decoding of each packet: a UDP payload is one FINS frame; the TCP payloads of each
/// direction are joined in frame order and cut into FINS/TCP messages, each belonging to the
/// frame holding its last byte.
fn our_messages(packets: &[Packet]) -> BTreeMap<u32, Message> {
    let mut ours = BTreeMap::new();
    for p in packets.iter().filter(|p| p.stream.is_none()) {
        let mut m = Message::default();
        fins(&p.payload, &mut m);
        ours.insert(p.number, m);
    }
    let streams = tshark::join(
        packets
            .iter()
            .filter_map(|p| Some((p.stream?, p.number, &p.payload[..]))),
    );
    for joined in streams.values() {
        let bytes = &joined.bytes;
        let mut pos = 0;
        while let Some(h) = bytes.get(pos..).and_then(TcpHeader::parse) {
            let end = pos + h.message_len();
            let Some(message) = bytes.get(pos..end) else {
                break;
            };
            let mut m = Message {
                tcp_command: Some(h.command),
                ..Message::default()
            };
            let body = &message[16..];
            match h.command {
                tcp_command::NODE_ADDRESS_SERVER if body.len() >= 8 => {
                    let n = |i: usize| u32::from_be_bytes(body[i..i + 4].try_into().unwrap());
                    m.nodes = Some((n(0), n(4)));
                }
                tcp_command::FRAME_SEND => fins(body, &mut m),
                _ => {}
            }
            let frame = joined.frame_of(end).unwrap();
            ours.insert(frame, m);
            pos = end;
        }
    }
    ours
}

/// tshark shows some fields only for some layouts (the end code of a response it decodes,
/// a client node address only in the server's handshake): a field is compared where tshark
/// has it, and model and version wherever either side has them.
fn comparable(mine: &Message, theirs: &Message) -> Message {
    let mut m = mine.clone();
    if theirs.end_code.is_none() {
        m.end_code = None;
    }
    if theirs.nodes.is_none() {
        m.nodes = None;
    }
    m
}

#[test]
fn every_fins_message_matches_tshark() {
    if tshark::missing() {
        return;
    }
    let files = ["omron_fins_cp1l.pcap", "omron_fins_commands.pcap"].map(data);
    let (mut compared, mut only_ours, mut only_theirs) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let packets = tshark_packets(file);
        let ours = our_messages(&packets);
        for p in &packets {
            let mine = ours.get(&p.number).filter(|m| **m != Message::default());
            match (mine, &p.theirs) {
                (Some(mine), Some(theirs)) => {
                    compared += 1;
                    let mine = comparable(mine, theirs);
                    if mine != *theirs {
                        failures.push(format!(
                            "{} frame {}: ours {mine:?} tshark {theirs:?}",
                            file.display(),
                            p.number
                        ));
                    }
                }
                (Some(_), None) => only_ours += 1,
                (None, Some(_)) => only_theirs += 1,
                _ => {}
            }
        }
    }
    eprintln!(
        "{compared} FINS messages compared with tshark in {} captures; decoded only by otwatch: \
         {only_ours}, only by tshark: {only_theirs}",
        files.len()
    );
    assert!(compared > 200, "too few messages compared: {compared}");
    assert_eq!((only_ours, only_theirs), (0, 0));
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
