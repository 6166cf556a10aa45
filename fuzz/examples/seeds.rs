//! Writes a seed corpus for every fuzz target, in the drivers' own input layout, from the
//! captures of `tests/data` (and the hand-written files of `fuzz/seeds/<target>/`).
//!
//! ```text
//! cargo run --release --manifest-path fuzz/Cargo.toml --example seeds [-- DATA_DIR OUT_DIR]
//! ```
//!
//! Defaults: `tests/data` and `fuzz/corpus`; one folder a target. Conversations are rebuilt
//! from the packets in capture order (retransmissions skipped) and named by the registry the
//! way the flow layer names them; every seed is at most [`MAX_SEED`] bytes.

use otwatch_analysis::capture::pcap::CaptureFile;
use otwatch_analysis::capture::{LinkType, PacketSource};
use otwatch_analysis::decode::{self, arp, ipv4, ipv6, Net, Packet, L4};
use otwatch_analysis::detect::policy::Policy;
use otwatch_analysis::pipeline::Pipeline;
use otwatch_analysis::protocols::registry::{self, FrameMatch, ProtocolSpec, Verdict};
use otwatch_analysis::protocols::{Direction, Transport};
use otwatch_fuzz::{link_selector, push_chunk, sel, specs_named, BROADCAST, MAX_CHUNK, TO_CLIENT};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The largest seed written.
const MAX_SEED: usize = 16 << 10;
/// Seeds a target gets from one capture, at most.
const PER_CAPTURE: usize = 12;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .map_or(root.join("../tests/data"), PathBuf::from);
    let out = args.next().map_or(root.join("corpus"), PathBuf::from);
    let mut corpus = Corpus {
        out,
        written: BTreeMap::new(),
        seen: HashSet::new(),
    };
    let mut captures = Vec::new();
    collect_captures(&data, &mut captures);
    captures.sort();
    for path in &captures {
        if let Err(e) = from_capture(path, &mut corpus) {
            eprintln!("{}: {e}", path.display());
        }
    }
    handmade(&mut corpus);
    let hand = root.join("seeds");
    for dir in std::fs::read_dir(&hand).into_iter().flatten().flatten() {
        let target = dir.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(bytes) = std::fs::read(f.path()) {
                corpus.add(&target, &bytes);
            }
        }
    }
    for target in otwatch_fuzz::targets() {
        let n = corpus.written.get(target).copied().unwrap_or(0);
        println!("{target:>14} {n:>5} seeds");
    }
}

fn collect_captures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

struct Corpus {
    out: PathBuf,
    written: BTreeMap<String, usize>,
    seen: HashSet<u64>,
}

impl Corpus {
    fn add(&mut self, target: &str, data: &[u8]) {
        let data = &data[..data.len().min(MAX_SEED)];
        let mut h = DefaultHasher::new();
        (target, data).hash(&mut h);
        let hash = h.finish();
        if !self.seen.insert(hash) {
            return;
        }
        let dir = self.out.join(target);
        std::fs::create_dir_all(&dir).expect("corpus folder");
        std::fs::write(dir.join(format!("{hash:016x}")), data).expect("seed file");
        *self.written.entry(target.to_string()).or_default() += 1;
    }
}

/// A conversation: TCP or not, and its two ends in order.
type FlowKey = (bool, (IpAddr, u16), (IpAddr, u16));

/// One conversation being rebuilt.
struct Flow {
    /// The end that sent the flow's first packet.
    first: (IpAddr, u16),
    spec: Option<&'static ProtocolSpec>,
    /// The registry turned the sides round.
    swapped: bool,
    probes: u8,
    selector: u8,
    chunks: Vec<u8>,
    /// TCP sequence numbers seen per direction (retransmissions are skipped).
    seqs: [HashSet<u32>; 2],
}

/// Seeds per target and capture.
#[derive(Default)]
struct Budget(HashMap<&'static str, usize>);

impl Budget {
    fn take(&mut self, target: &'static str) -> bool {
        let n = self.0.entry(target).or_default();
        *n += 1;
        *n <= PER_CAPTURE
    }
}

fn from_capture(path: &Path, corpus: &mut Corpus) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    corpus.add("pipeline", &bytes[..bytes.len().min(MAX_SEED)]);
    let mut src = CaptureFile::open(path).map_err(|e| e.to_string())?;
    let mut budget = Budget::default();
    let mut flows: HashMap<FlowKey, Flow> = HashMap::new();
    let mut shapes = HashSet::new();
    let mut frame_seeds: HashMap<&'static str, Vec<u8>> = HashMap::new();
    let mut frames_seed: Option<(LinkType, Vec<u8>, usize)> = None;
    let mut fragments = Vec::new();
    let mut cip = Vec::new();
    let mut made_fragments = false;
    let mut made_tunnels = corpus.written.get("tunnel").is_some_and(|n| *n >= 24);
    let mut pipeline = Pipeline::default();
    while let Some(batch) = src.next_batch().map_err(|e| e.to_string())? {
        for f in batch.iter() {
            pipeline.frame(&f);
            let seed = frames_seed.get_or_insert_with(|| (f.link, Vec::new(), 0));
            if seed.0 == f.link && seed.2 < 48 {
                push_chunk(&mut seed.1, 0, f.data);
                seed.2 += 1;
            }
            let Ok(p) = decode::decode(f.link, f.data) else {
                continue;
            };
            if shapes.insert(shape(f.link, f.data, &p)) {
                decoder_seeds(f.link, f.data, &p, corpus, &mut budget);
            }
            match &p.net {
                Net::Ip(ip) => {
                    if let Some(frag) = ip.fragment {
                        let units = (frag.offset / 8) as u16;
                        let v6 = if ip.src.is_ipv6() { BROADCAST } else { 0 };
                        let head = [
                            frag.id as u8,
                            ((units >> 8) as u8 & 0x1f) | if frag.more { 0x80 } else { 0 },
                            units as u8,
                        ];
                        push_chunk(&mut fragments, v6, &[&head[..], ip.payload].concat());
                    }
                    flow_packet(&mut flows, &p, ip.src, ip.dst, &ip.l4);
                    if let L4::Tcp {
                        src_port,
                        dst_port,
                        payload,
                        ..
                    } = ip.l4
                    {
                        if src_port == 44818 || dst_port == 44818 {
                            enip_cip(payload, &mut cip);
                        }
                    }
                    if let L4::Udp {
                        src_port,
                        dst_port,
                        payload,
                    } = ip.l4
                    {
                        let snmp = [161, 162].iter().any(|p| [src_port, dst_port].contains(p));
                        if snmp && budget.take("ber") {
                            corpus.add("ber", payload);
                        }
                        if payload.len() >= 48 && !made_fragments && ip.fragment.is_none() {
                            made_fragments = true;
                            corpus.add("defrag", &cut_into_fragments(ip.src.is_ipv6(), ip.payload));
                        }
                    }
                    if f.link == LinkType::Ethernet && !made_tunnels {
                        if let Some(packet) = f.data.get(14..).filter(|_| ip.src.is_ipv4()) {
                            made_tunnels = true;
                            tunnels(f.data, packet, corpus);
                        }
                    }
                }
                Net::Ether { ethertype, payload } => {
                    frame_payload(FrameMatch::Ethertype(*ethertype), payload, &mut frame_seeds)
                }
                Net::Llc {
                    snap: Some((oui, pid)),
                    payload,
                    ..
                } => frame_payload(FrameMatch::Snap(*oui, *pid), payload, &mut frame_seeds),
                _ => {}
            }
        }
    }
    if let Some((link, frames, _)) = frames_seed {
        if let Some(s) = link_selector(link) {
            corpus.add("frames", &[&[s][..], &frames].concat());
        }
    }
    for (name, seed) in frame_seeds {
        corpus.add(name, &seed);
    }
    cip.sort_by_key(|m| m.first().copied());
    cip.dedup_by_key(|m| m.first().copied());
    for m in cip {
        corpus.add("cip", &m);
    }
    if !fragments.is_empty() {
        corpus.add("defrag", &[&[0xff][..], &fragments].concat());
    }
    let mut flows: Vec<Flow> = flows.into_values().filter(|f| f.spec.is_some()).collect();
    flows.sort_by_key(|f| std::cmp::Reverse(f.chunks.len()));
    for f in flows {
        let spec = f.spec.expect("kept flows have a protocol");
        if budget.take(spec.name) {
            corpus.add(spec.name, &[&[f.selector][..], &f.chunks].concat());
        }
    }
    pipeline.finish();
    let report = otwatch_analysis::inventory::report(&pipeline.inventory, pipeline.capture_stats());
    let policy = Policy::learn(&report, "seed").to_toml();
    if policy.len() <= MAX_SEED {
        corpus.add("policy", policy.as_bytes());
    }
    Ok(())
}

fn frame_payload(m: FrameMatch, payload: &[u8], seeds: &mut HashMap<&'static str, Vec<u8>>) {
    for spec in registry::frame_specs(m) {
        let seed = seeds.entry(spec.name).or_default();
        if seed.len() < MAX_SEED {
            push_chunk(seed, 0, payload);
        }
    }
}

/// What makes two frames alike for the decoders: link, layers and tunnels.
fn shape(link: LinkType, data: &[u8], p: &Packet<'_>) -> (u8, u16, bool, u8, bool, bool) {
    let (kind, proto, frag) = match &p.net {
        Net::Ip(ip) => (1, ip.proto, ip.fragment.is_some()),
        Net::Arp(_) => (2, 0, false),
        Net::Ether { ethertype, .. } => (3, (*ethertype >> 8) as u8, false),
        Net::Llc { .. } => (4, 0, false),
        Net::None => (5, 0, false),
    };
    let ethertype = data
        .get(12..14)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let link = link_selector(link).unwrap_or(0xff);
    (
        link * 8 + kind,
        ethertype,
        p.vlan.is_some(),
        proto,
        frag,
        p.inner.is_some(),
    )
}

/// Seeds for the decoder targets from one frame.
fn decoder_seeds(link: LinkType, data: &[u8], p: &Packet<'_>, corpus: &mut Corpus, b: &mut Budget) {
    let Some(s) = link_selector(link) else {
        return;
    };
    if b.take("decode") {
        corpus.add("decode", &[&[s][..], data].concat());
    }
    let header = match link {
        LinkType::Ethernet => Some(0),
        LinkType::LinuxSll => Some(1),
        LinkType::LinuxSll2 => Some(2),
        LinkType::Null => Some(3),
        LinkType::Loop => Some(4),
        _ => None,
    };
    if let Some(h) = header {
        if b.take("ethernet") {
            corpus.add("ethernet", &[&[h][..], data].concat());
        }
    }
    // Where the network header starts: after the link header and any VLAN tags.
    let offsets = [0, 4, 14, 16, 18, 20, 22];
    match &p.net {
        Net::Ip(ip) => {
            for at in offsets {
                let Some(rest) = data.get(at..) else { break };
                let same = match ip.src {
                    IpAddr::V4(_) => ipv4::decode(rest).is_ok_and(|(q, _)| q.src == ip.src),
                    IpAddr::V6(_) => ipv6::decode(rest).is_ok_and(|(q, _)| q.src == ip.src),
                };
                if same {
                    let target = if ip.src.is_ipv4() { "ipv4" } else { "ipv6" };
                    if b.take(target) {
                        corpus.add(target, rest);
                    }
                    break;
                }
            }
            if ip.fragment.is_none() && b.take("l4") {
                corpus.add("l4", &[&[ip.proto][..], ip.payload].concat());
            }
            if ip.proto == 47 {
                corpus.add("tunnel", &[&[0][..], ip.payload].concat());
            }
            if let L4::Udp {
                dst_port, payload, ..
            } = ip.l4
            {
                if dst_port == 4789 {
                    corpus.add("tunnel", &[&[1][..], payload].concat());
                }
            }
        }
        Net::Arp(a) => {
            for at in offsets {
                if data
                    .get(at..)
                    .is_some_and(|r| arp::decode(r).ok() == Some(*a))
                {
                    corpus.add("arp", &data[at..]);
                    break;
                }
            }
        }
        _ => {}
    }
    if link == LinkType::Ethernet && matches!(data.get(12..14), Some([0x88, 0x47 | 0x48])) {
        corpus.add("tunnel", &[&[2][..], &data[14..]].concat());
    }
}

/// Adds one TCP or UDP packet to its conversation.
fn flow_packet(
    flows: &mut HashMap<FlowKey, Flow>,
    p: &Packet<'_>,
    src: IpAddr,
    dst: IpAddr,
    l4: &L4<'_>,
) {
    let (tcp, sport, dport, seq, payload) = match *l4 {
        L4::Tcp {
            src_port,
            dst_port,
            seq,
            payload,
            ..
        } => (true, src_port, dst_port, Some(seq), payload),
        L4::Udp {
            src_port,
            dst_port,
            payload,
        } => (false, src_port, dst_port, None, payload),
        _ => return,
    };
    let (a, b) = ((src, sport), (dst, dport));
    let key = if a <= b { (tcp, a, b) } else { (tcp, b, a) };
    let flow = flows.entry(key).or_insert_with(|| Flow {
        first: a,
        spec: None,
        swapped: false,
        probes: 0,
        selector: 0,
        chunks: Vec::new(),
        seqs: [HashSet::new(), HashSet::new()],
    });
    if payload.is_empty() || flow.chunks.len() >= MAX_SEED {
        return;
    }
    // Directions as the flow layer first sees them: the first sender is the client.
    let dir = if a == flow.first {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    let (client, server) = if a == flow.first { (a, b) } else { (b, a) };
    if flow.spec.is_none() {
        if flow.probes >= 4 {
            return;
        }
        flow.probes += 1;
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        let Verdict::Match { spec, swapped } =
            registry::recognise(transport, server.1, client.1, dir, payload)
        else {
            return;
        };
        flow.spec = Some(spec);
        flow.swapped = swapped;
        // The dissector's server is the end on the registered port.
        let port = if swapped { client.1 } else { server.1 };
        let same: Vec<_> = specs_named(spec.name);
        let index = same
            .iter()
            .position(|s| std::ptr::eq(*s, spec))
            .unwrap_or(0);
        let port_index = spec
            .ports
            .iter()
            .position(|p| *p == port)
            .unwrap_or(0)
            .min(3);
        flow.selector = index as u8
            | (port_index as u8) << sel::PORT_SHIFT
            | if src.is_ipv6() { sel::V6 } else { 0 }
            | if p.src_mac.is_none() { sel::NO_MAC } else { 0 }
            | if sport == dport { sel::SAME_PORT } else { 0 };
    }
    let dir = if flow.swapped { dir.other() } else { dir };
    let mut flags = if dir == Direction::ToClient {
        TO_CLIENT
    } else {
        0
    };
    if let Some(seq) = seq {
        if !flow.seqs[dir as usize].insert(seq) {
            return;
        }
    } else if p.dst_mac.is_some_and(|m| m.is_group()) {
        flags |= BROADCAST;
    }
    for piece in payload.chunks(if tcp { MAX_CHUNK } else { usize::MAX }) {
        push_chunk(&mut flow.chunks, flags, piece);
    }
}

/// A transport payload cut into three IP fragments at 8-byte boundaries, sent last piece
/// first (the [`otwatch_fuzz::defrag`] layout).
fn cut_into_fragments(v6: bool, payload: &[u8]) -> Vec<u8> {
    let third = (payload.len() / 3) & !7;
    let pieces = [
        (2 * third, &payload[2 * third..], false),
        (0, &payload[..third], true),
        (third, &payload[third..2 * third], true),
    ];
    let mut out = vec![0x30];
    for (offset, bytes, more) in pieces {
        let units = (offset / 8) as u16;
        let head = [
            0x42,
            ((units >> 8) as u8 & 0x1f) | if more { 0x80 } else { 0 },
            units as u8,
        ];
        let flags = if v6 { BROADCAST } else { 0 };
        push_chunk(&mut out, flags, &[&head[..], bytes].concat());
    }
    out
}

/// An Ethernet frame and its IPv4 packet wrapped in each tunnel the decoder opens (the
/// [`otwatch_fuzz::tunnel`] layout).
fn tunnels(frame: &[u8], packet: &[u8], corpus: &mut Corpus) {
    // GRE (RFC 2784) carrying IPv4; with key and sequence carrying bridged Ethernet.
    corpus.add(
        "tunnel",
        &[&[0, 0x00, 0x00, 0x08, 0x00][..], packet].concat(),
    );
    let keyed = [0, 0x30, 0x00, 0x65, 0x58, 0, 0, 0, 7, 0, 0, 0, 1];
    corpus.add("tunnel", &[&keyed[..], frame].concat());
    // GRE with sequence carrying ERSPAN type II (8-byte header) and type III (12 bytes).
    let erspan2 = [
        0, 0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0x01, 0, 0, 0, 0, 0, 0,
    ];
    corpus.add("tunnel", &[&erspan2[..], frame].concat());
    let mut erspan3 = vec![0, 0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1];
    erspan3.extend_from_slice(&[0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    corpus.add("tunnel", &[&erspan3[..], frame].concat());
    // VXLAN (RFC 7348): I flag, VNI 42.
    corpus.add(
        "tunnel",
        &[&[1, 0x08, 0, 0, 0, 0, 0, 0x2a, 0][..], frame].concat(),
    );
    // MPLS (RFC 3032): two labels, the second the bottom of the stack.
    let labels = [2, 0x00, 0x01, 0x40, 0x40, 0x00, 0x02, 0x01, 0x40];
    corpus.add("tunnel", &[&labels[..], packet].concat());
}

/// Conversations for protocols no capture of `tests/data` holds, written from their
/// specifications.
fn handmade(corpus: &mut Corpus) {
    // RDP ([MS-RDPBCGR] §2.2.1.1-§2.2.1.3): X.224 Connection Request with a cookie and an
    // RDP_NEG_REQ, the Connection Confirm with an RDP_NEG_RSP, then an MCS Connect Initial
    // whose GCC user data holds the client core data with the client's name.
    let tpkt = |x224: &[u8]| {
        let len = (x224.len() + 4) as u16;
        [&[3, 0][..], &len.to_be_bytes(), x224].concat()
    };
    let x224 = |code: u8, var: &[u8]| {
        let fixed = [0, code, 0, 0, 0x12, 0x34, 0];
        let mut t = [&fixed[..], var].concat();
        t[0] = (t.len() - 1) as u8;
        t
    };
    let cr = x224(
        0xe0,
        b"Cookie: mstshash=eng\r\n\x01\x00\x08\x00\x03\x00\x00\x00",
    );
    let cc = x224(0xd0, &[2, 0, 8, 0, 1, 0, 0, 0]);
    let mut core = vec![0x01, 0xc0, 0xd8, 0x00, 0x04, 0x00, 0x08, 0x00];
    core.extend_from_slice(&[0x00, 0x04, 0x00, 0x03, 0x01, 0xca, 0x03, 0xaa]);
    core.extend_from_slice(&[0x09, 0x04, 0x00, 0x00, 0x61, 0x4a, 0x00, 0x00]);
    let name: Vec<u8> = "WS-ENG-07"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    core.extend_from_slice(&name);
    core.resize(24 + 32 + 8, 0);
    let mut mcs = vec![0x02, 0xf0, 0x80, 0x7f, 0x65, 0x82, 0x01, 0x00];
    mcs.extend_from_slice(
        b"\x00\x05\x00\x14\x7c\x00\x01\x81\x2a\x00\x08\x00\x10\x00\x01\xc0\x00Duca\x81\x1c",
    );
    mcs.extend_from_slice(&core);
    let mut rdp = vec![0];
    push_chunk(&mut rdp, 0, &tpkt(&cr));
    push_chunk(&mut rdp, TO_CLIENT, &tpkt(&cc));
    push_chunk(&mut rdp, 0, &tpkt(&mcs));
    corpus.add("rdp", &rdp);

    // VNC (RFC 6143 §7): versions, security types offered and chosen, VNC authentication
    // challenge and response, result, ClientInit and ServerInit with the desktop name.
    let mut vnc = vec![0];
    push_chunk(&mut vnc, TO_CLIENT, b"RFB 003.008\n");
    push_chunk(&mut vnc, 0, b"RFB 003.008\n");
    push_chunk(&mut vnc, TO_CLIENT, &[2, 1, 2]);
    push_chunk(&mut vnc, 0, &[2]);
    push_chunk(&mut vnc, TO_CLIENT, &[0x5a; 16]);
    push_chunk(&mut vnc, 0, &[0xa5; 16]);
    push_chunk(&mut vnc, TO_CLIENT, &[0, 0, 0, 0]);
    push_chunk(&mut vnc, 0, &[1]);
    let mut init = vec![
        0x04, 0x00, 0x03, 0x00, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0,
    ];
    init.extend_from_slice(&[0, 0, 0, 0, 0, 0, 5]);
    init.extend_from_slice(b"HMI-1");
    push_chunk(&mut vnc, TO_CLIENT, &init);
    corpus.add("vnc", &vnc);
}

/// The CIP messages of an EtherNet/IP SendRRData or SendUnitData (Vol. 2 §2-4, §2-6): the
/// 24-byte encapsulation header, interface handle and timeout, then the Common Packet Format
/// items; the data items hold CIP (a connected one after a sequence count).
fn enip_cip(payload: &[u8], out: &mut Vec<Vec<u8>>) {
    let le16 = |b: &[u8], at: usize| b.get(at..at + 2).map(|x| u16::from_le_bytes([x[0], x[1]]));
    let (Some(command), Some(len)) = (le16(payload, 0), le16(payload, 2)) else {
        return;
    };
    let Some(body) = payload.get(24..24 + usize::from(len)) else {
        return;
    };
    if command != 0x6f && command != 0x70 {
        return;
    }
    let Some(count) = le16(body, 6) else { return };
    let mut at = 8;
    for _ in 0..count {
        let (Some(kind), Some(n)) = (le16(body, at), le16(body, at + 2)) else {
            return;
        };
        let Some(data) = body.get(at + 4..at + 4 + usize::from(n)) else {
            return;
        };
        match kind {
            0xb2 => out.push(data.to_vec()),
            0xb1 if data.len() > 2 => out.push(data[2..].to_vec()),
            _ => {}
        }
        at += 4 + usize::from(n);
    }
}
