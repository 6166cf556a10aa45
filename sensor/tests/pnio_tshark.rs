#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PROFINET IO against tshark, message by message: every DCE/RPC datagram to a PNIO interface
//! and every PROFINET RT frame of a capture is read by otwatch's wire views (`profinet_io::rpc`,
//! `blocks`, `rt`) and by tshark, and every field both decode must agree: the CL header (packet
//! type, opnum, flags, fragment number, byte order, object and interface UUIDs), the NDR header,
//! the AR (type, initiator's station name and MAC, responder's MAC), the IOCRs (types, frame
//! ids), the expected modules, control commands, the record indexes and lengths of reads and
//! writes (a MultipleWrite's included), the status of an answer; for RT frames, which are cyclic
//! (tshark decodes a cycle counter) and the alarm PDU and alarm types.
//!
//! The committed captures (tests/data) always run where tshark is installed; the corpus's
//! PROFINET captures skip loudly when the corpus is absent. Fragmented calls are compared on
//! their header only (tshark reads their blocks after reassembly, otwatch reads the first
//! fragment's).

mod common;

use common::tshark::{self, Fields};
use common::{corpus_root, data};
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::decode::{decode, Net, L4};
use otwatch_sensor::protocols::profinet_io::blocks::{self, block_type, Block};
use otwatch_sensor::protocols::profinet_io::connect;
use otwatch_sensor::protocols::profinet_io::opnum;
use otwatch_sensor::protocols::profinet_io::records::{COMBINED_OBJECT_CONTAINER, MULTIPLE_WRITE};
use otwatch_sensor::protocols::profinet_io::rpc::{self, Interface, Ndr, PacketType};
use otwatch_sensor::protocols::profinet_io::rt::{self, FrameClass, RtaPdu};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The tshark fields compared, each a list (fields repeat per block).
const FIELDS: &[&str] = &[
    "dcerpc.pkt_type",
    "dcerpc.opnum",
    "dcerpc.dg_flags1",
    "dcerpc.dg_frag_num",
    "dcerpc.drep.byteorder",
    "dcerpc.obj_id",
    "dcerpc.dg_if_id",
    "pn_io.args_max",
    "pn_io.args_len",
    "pn_io.array_max_count",
    "pn_io.array_offset",
    "pn_io.array_act_count",
    "pn_io.error_code",
    "pn_io.ar_type",
    "pn_io.cminitiator_station_name",
    "pn_io.cminitiator_mac_add",
    "pn_io.cmresponder_macadd",
    "pn_io.iocr_type",
    "pn_io.frame_id",
    "pn_io.module_ident_number",
    "pn_io.control_command",
    "pn_io.index",
    "pn_io.record_data_length",
    "pn_rt.frame_id",
    "pn_rt.cycle_counter",
    "pn_io.pdu_type.type",
    "pn_io.alarm_type",
];

/// A value as compared: numbers in decimal, text in lower case (UUIDs, MACs).
fn lower(v: &str) -> String {
    tshark::norm(v).to_ascii_lowercase()
}

/// tshark's fields of every frame it decodes as DCE/RPC or PROFINET RT, by frame number.
fn theirs(file: &Path) -> BTreeMap<u64, Fields> {
    tshark::by_frame(file, "dcerpc || pn_rt", FIELDS, |_, v| lower(v))
}

/// The fields a message of each kind carries (tshark also shows fields of nested records and
/// of its AR bookkeeping, such as the MACs and frame ids of the AR on every cyclic frame).
const HEADER: &[&str] = &[
    "dcerpc.pkt_type",
    "dcerpc.opnum",
    "dcerpc.dg_flags1",
    "dcerpc.dg_frag_num",
    "dcerpc.drep.byteorder",
    "dcerpc.obj_id",
    "dcerpc.dg_if_id",
];
const NDR: &[&str] = &[
    "pn_io.args_max",
    "pn_io.args_len",
    "pn_io.array_max_count",
    "pn_io.array_offset",
    "pn_io.array_act_count",
];
/// (tshark shows a request's ARType as a subtree whose text is no number: not compared.)
const CONNECT_REQ: &[&str] = &[
    "pn_io.cminitiator_station_name",
    "pn_io.cminitiator_mac_add",
    "pn_io.iocr_type",
    "pn_io.frame_id",
    "pn_io.module_ident_number",
];
const CONNECT_RES: &[&str] = &[
    "pn_io.ar_type",
    "pn_io.cmresponder_macadd",
    "pn_io.iocr_type",
    "pn_io.frame_id",
];
/// Fields tshark repeats after the blocks, in the AR summary it appends to a Connect: otwatch's
/// values must be the first of tshark's.
const SUMMARISED: &[&str] = &[
    "pn_io.cminitiator_mac_add",
    "pn_io.cmresponder_macadd",
    "pn_io.frame_id",
];
const RT: &[&str] = &[
    "pn_rt.frame_id",
    "pn_rt.cycle_counter",
    "pn_io.pdu_type.type",
    "pn_io.alarm_type",
    "pn_io.error_code",
];

/// What otwatch read of a message, and which fields it speaks for.
struct Ours {
    fields: Fields,
    compared: Vec<&'static str>,
}

fn push(f: &mut Fields, name: &'static str, v: impl ToString) {
    f.entry(name).or_default().push(lower(&v.to_string()));
}

/// otwatch's reading of a UDP payload, in tshark's field names; `None` when it is no PNIO call.
fn ours_cm(payload: &[u8]) -> Option<Ours> {
    let pdu = rpc::parse(payload).ok()?;
    let h = pdu.header;
    Interface::of(&h.interface)?;
    let mut f = Fields::new();
    let mut compared = HEADER.to_vec();
    push(&mut f, "dcerpc.pkt_type", h.ptype.0);
    push(&mut f, "dcerpc.opnum", h.opnum);
    push(&mut f, "dcerpc.dg_flags1", h.flags1);
    push(&mut f, "dcerpc.dg_frag_num", h.fragment_num);
    push(&mut f, "dcerpc.drep.byteorder", h.drep[0] >> 4);
    push(&mut f, "dcerpc.obj_id", h.object);
    push(&mut f, "dcerpc.dg_if_id", h.interface);
    let request = h.ptype == PacketType::REQUEST;
    let done = |fields, compared| Some(Ours { fields, compared });
    if !(request || h.ptype == PacketType::RESPONSE) || !h.is_whole() {
        return done(f, compared);
    }
    let Ok((ndr, rest)) = Ndr::parse(pdu.body, h.endian, request) else {
        return done(f, compared);
    };
    compared.extend(NDR);
    if let Some(m) = ndr.args_max {
        push(&mut f, "pn_io.args_max", m);
    }
    if let Some(s) = ndr.status {
        push(&mut f, "pn_io.error_code", s.0[0]);
        compared.push("pn_io.error_code");
    }
    push(&mut f, "pn_io.args_len", ndr.args_len);
    push(&mut f, "pn_io.array_max_count", ndr.max_count);
    push(&mut f, "pn_io.array_offset", ndr.offset);
    push(&mut f, "pn_io.array_act_count", ndr.actual_count);
    let args = ndr.args(rest);
    match h.opnum {
        opnum::CONNECT => {
            compared.extend(if request { CONNECT_REQ } else { CONNECT_RES });
            connect(&mut f, args, request)
        }
        opnum::RELEASE | opnum::CONTROL => {
            compared.push("pn_io.control_command");
            if let Ok((b, _)) = Block::parse(args) {
                if let Ok(c) = blocks::ControlBlock::parse(&b) {
                    push(&mut f, "pn_io.control_command", c.command);
                }
            }
        }
        opnum::READ | opnum::READ_IMPLICIT | opnum::WRITE => {
            compared.extend(["pn_io.index", "pn_io.record_data_length"]);
            records(&mut f, args, h.opnum, request)
        }
        _ => {}
    }
    done(f, compared)
}

fn connect(f: &mut Fields, args: &[u8], request: bool) {
    for b in blocks::blocks(args).map_while(Result::ok) {
        match b.ty {
            block_type::AR_REQ => {
                let ar = connect::ArBlockReq::parse(&b).unwrap();
                push(
                    f,
                    "pn_io.cminitiator_station_name",
                    String::from_utf8_lossy(ar.station_name),
                );
                push(f, "pn_io.cminitiator_mac_add", ar.initiator_mac);
            }
            block_type::AR_RES => {
                let ar = connect::ArBlockRes::parse(&b).unwrap();
                push(f, "pn_io.ar_type", ar.ar_type);
                push(f, "pn_io.cmresponder_macadd", ar.responder_mac);
            }
            block_type::IOCR_REQ => {
                let cr = connect::IocrBlockReq::parse(&b).unwrap();
                push(f, "pn_io.iocr_type", cr.iocr_type);
                push(f, "pn_io.frame_id", cr.frame_id);
            }
            block_type::IOCR_RES => {
                let cr = connect::IocrBlockRes::parse(&b).unwrap();
                push(f, "pn_io.iocr_type", cr.iocr_type);
                push(f, "pn_io.frame_id", cr.frame_id);
            }
            block_type::EXPECTED_SUBMODULE_REQ if request => {
                // tshark names a module once per (API, slot) entry.
                let mut last = None;
                connect::expected_submodules(&b, |s| {
                    if last != Some((s.api, s.slot)) {
                        last = Some((s.api, s.slot));
                        push(f, "pn_io.module_ident_number", s.module_ident);
                    }
                })
                .unwrap();
            }
            _ => {}
        }
    }
}

fn records(f: &mut Fields, args: &[u8], op: u16, request: bool) {
    let ty = match (op, request) {
        (opnum::WRITE, true) => block_type::IOD_WRITE_REQ,
        (opnum::WRITE, false) => block_type::IOD_WRITE_RES,
        (_, true) => block_type::IOD_READ_REQ,
        (_, false) => block_type::IOD_READ_RES,
    };
    let Ok((r, rest)) = blocks::record(args, ty, true) else {
        return;
    };
    push(f, "pn_io.index", r.header.index);
    push(f, "pn_io.record_data_length", r.header.record_len);
    if let Some(s) = r.header.status {
        push(f, "pn_io.error_code", s.0[0]);
    }
    // The records a CombinedObjectContainer holds are named by their index alone.
    let contained = |f: &mut Fields, r: &blocks::Record<'_>| {
        if request && r.header.index == COMBINED_OBJECT_CONTAINER {
            for c in blocks::co_container(r.data).map_while(Result::ok) {
                push(f, "pn_io.index", c.index);
            }
        }
    };
    contained(f, &r);
    if r.header.index != MULTIPLE_WRITE {
        return;
    }
    if request {
        for w in blocks::multiple_write(r.data, true).map_while(Result::ok) {
            push(f, "pn_io.index", w.header.index);
            push(f, "pn_io.record_data_length", w.header.record_len);
            contained(f, &w);
        }
    } else {
        for h in blocks::multiple_write_results(rest).map_while(Result::ok) {
            push(f, "pn_io.index", h.index);
            push(f, "pn_io.record_data_length", h.record_len);
            if let Some(s) = h.status {
                push(f, "pn_io.error_code", s.0[0]);
            }
        }
    }
}

/// otwatch's reading of a PROFINET RT frame (from the FrameID).
fn ours_rt(payload: &[u8]) -> Option<Ours> {
    let id = u16::from_be_bytes(*payload.first_chunk::<2>()?);
    let mut f = Fields::new();
    push(&mut f, "pn_rt.frame_id", id);
    let class = FrameClass::of(id);
    if class.is_cyclic() && payload.len() >= 2 + rt::APDU_STATUS_LEN {
        let at = payload.len() - rt::APDU_STATUS_LEN;
        let cycle = u16::from_be_bytes([payload[at], payload[at + 1]]);
        push(&mut f, "pn_rt.cycle_counter", cycle);
    }
    if matches!(class, FrameClass::AlarmHigh | FrameClass::AlarmLow) {
        if let Ok(p) = RtaPdu::parse(&payload[2..]) {
            push(&mut f, "pn_io.pdu_type.type", p.pdu_type);
            if let Some(s) = p.error_status() {
                push(&mut f, "pn_io.error_code", s.0[0]);
            }
            if let Ok(Some(n)) = rt::AlarmNotification::parse(p.var_part) {
                push(&mut f, "pn_io.alarm_type", n.alarm_type);
            }
        }
    }
    Some(Ours {
        fields: f,
        compared: RT.to_vec(),
    })
}

/// What otwatch reads, by frame number (1-based, as tshark counts).
fn ours(file: &Path) -> BTreeMap<u64, Ours> {
    let mut map = BTreeMap::new();
    let mut src = CaptureFile::open(file).unwrap();
    let mut n = 0u64;
    while let Some(batch) = src.next_batch().unwrap() {
        for frame in batch.iter() {
            n += 1;
            let Ok(p) = decode(frame.link, frame.data) else {
                continue;
            };
            let fields = match &p.net {
                Net::Ip(ip) => match ip.l4 {
                    L4::Udp { payload, .. } => ours_cm(payload),
                    _ => None,
                },
                Net::Ether {
                    ethertype: 0x8892,
                    payload,
                } => ours_rt(payload),
                _ => None,
            };
            if let Some(f) = fields {
                map.insert(n, f);
            }
        }
    }
    map
}

/// Per field, how many frames agreed; and the disagreements.
#[derive(Default)]
struct Tally {
    agreed: BTreeMap<&'static str, usize>,
    messages: usize,
    failures: Vec<String>,
}

fn compare(file: &Path, tally: &mut Tally) {
    let (theirs, ours) = (theirs(file), ours(file));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    for (
        n,
        Ours {
            fields: mine,
            compared,
        },
    ) in &ours
    {
        let Some(their) = theirs.get(n) else {
            tally
                .failures
                .push(format!("{name} frame {n}: tshark decodes no DCE/RPC or RT"));
            continue;
        };
        // tshark reads a fragmented call's blocks after reassembly; otwatch only the header.
        let fragment = mine
            .get("dcerpc.dg_flags1")
            .and_then(|v| v.first())
            .and_then(|v| v.parse::<u8>().ok())
            .is_some_and(|f| f & rpc::flags1::FRAG != 0);
        tally.messages += 1;
        for field in compared {
            let (a, b) = (mine.get(field), their.get(field));
            let summarised = SUMMARISED.contains(field);
            match (a, b) {
                (Some(a), Some(b)) if a == b || (summarised && b.starts_with(a)) => {
                    *tally.agreed.entry(field).or_default() += 1
                }
                (Some(a), Some(b)) => tally
                    .failures
                    .push(format!("{name} frame {n} {field}: ours {a:?} tshark {b:?}")),
                (Some(a), None) => tally
                    .failures
                    .push(format!("{name} frame {n} {field}: ours {a:?}, tshark none")),
                (None, Some(b)) if !fragment => tally
                    .failures
                    .push(format!("{name} frame {n} {field}: tshark {b:?}, ours none")),
                _ => {}
            }
        }
    }
    // Every PNIO call tshark sees (to or from a PNIO port or not) must be read by otwatch.
    for (n, their) in &theirs {
        let pnio = their
            .get("dcerpc.dg_if_id")
            .and_then(|v| v.first())
            .is_some_and(|i| i.starts_with("dea0000"));
        if (pnio || their.contains_key("pn_rt.frame_id")) && !ours.contains_key(n) {
            tally.failures.push(format!(
                "{name} frame {n}: tshark decodes it, otwatch does not"
            ));
        }
    }
}

fn run(files: &[PathBuf]) {
    let mut tally = Tally::default();
    for f in files {
        compare(f, &mut tally);
    }
    eprintln!(
        "compared {} PROFINET IO messages and frames with tshark; agreed per field:",
        tally.messages
    );
    for (field, n) in &tally.agreed {
        eprintln!("  {field}: {n}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} differences:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert!(tally.messages > 0);
}

#[test]
fn committed_captures_match_tshark() {
    if tshark::missing() {
        return;
    }
    run(&[data("profinet_io_cm_ar.pcapng"), data("profinet.pcap")]);
}

#[test]
fn corpus_captures_match_tshark() {
    let Some(dir) = corpus_root() else {
        return;
    };
    if tshark::missing() {
        return;
    }
    let files: Vec<PathBuf> = [
        "profinet/profinet.pcap",
        "profinet/profinet_io_cm.pcap",
        "profinet/profinet_io_cm_connect.pcapng",
        "profinet/profinet_io_cm_control.pcapng",
        "profinet/PROFINET-RT.pcap",
        "mixed/profinet_io_cm_mixed_2.pcapng",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    run(&files);
}
