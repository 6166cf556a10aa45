//! The one driver behind every fuzz target of the sensor.
//!
//! Each binary in `fuzz_targets/` is a single call, `otwatch_fuzz::run("<name>", data)`; what
//! a name means is decided here:
//!
//! - a protocol of the registry ([`registry::PROTOCOLS`]): the input is a conversation fed to
//!   that protocol's dissector as the flow layer feeds it ([`stream`] for TCP, [`datagrams`]
//!   for UDP);
//! - a link-layer protocol ([`registry::FRAME_PROTOCOLS`]): the input is a run of frame
//!   payloads for its frame dissector ([`frame_protocol`]), and for a protocol that also has a
//!   flow part (PROFINET IO) a conversation too;
//! - anything else is in [`OTHER_TARGETS`]: the L2–L4 decoders, the BER and CIP helpers the
//!   dissectors share, the detection file parsers, and whole captures through the pipeline.
//!
//! So a protocol added to the registry has a driver at once, and the tests (`src/tests.rs`)
//! fail until it also has its binary: a protocol, decoder or detection file parser without a
//! target does not pass `fuzz/build.sh`.
//!
//! # Input layout
//!
//! Most drivers read the input as a selector byte and then chunks ([`chunks`]): two header
//! bytes, whose top three bits are flags and whose other 13 bits are the chunk's length, then
//! the chunk. A length past the end takes what is left, so every input means something.

use otwatch_analysis::capture::pcap::CaptureFile;
use otwatch_analysis::capture::{Frame, LinkType, PacketSource};
use otwatch_analysis::decode::defrag::{DefragLimits, Defragmenter, FragmentInfo};
use otwatch_analysis::decode::{self, arp, ethernet, ipv4, ipv6, l4, tunnel, Net};
use otwatch_analysis::detect::ioc::IocSet;
use otwatch_analysis::detect::policy::Policy;
use otwatch_analysis::detect::rules::{Event, On, RuleSet};
use otwatch_analysis::detect::text::SourceText;
use otwatch_analysis::flow::reassembly::StreamLimits;
use otwatch_analysis::pipeline::Pipeline;
use otwatch_analysis::protocols::registry::{self, ProtocolSpec};
use otwatch_analysis::protocols::{
    ber, cip, reader, source, Direction, Endpoint, FlowCtx, LinkFrame, Transport,
};
use otwatch_common::observation::{Operation, Subject};
use otwatch_common::{Mac, Timestamp};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Runs the target `name` on one input. Panics when there is no such target.
pub fn run(name: &str, data: &[u8]) {
    if let Some(f) = OTHER_TARGETS.iter().find(|(n, _)| *n == name).map(|t| t.1) {
        f(data)
    } else if registry::FRAME_PROTOCOLS.iter().any(|s| s.name == name) {
        frame_protocol(name, data);
        // A protocol with a link-layer and a flow part (PROFINET IO: RT frames, and the CM over
        // UDP) gets the same input as frames and as a conversation.
        if !specs_named(name).is_empty() {
            protocol(name, data);
        }
    } else {
        protocol(name, data)
    }
}

/// Every target name: the registry's protocols, the link-layer protocols, then the others.
pub fn targets() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    let flows = registry::PROTOCOLS.iter().map(|s| s.name);
    let frames = registry::FRAME_PROTOCOLS.iter().map(|s| s.name);
    for n in flows.chain(frames).chain(OTHER_TARGETS.iter().map(|t| t.0)) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// A target's name and driver.
pub type Target = (&'static str, fn(&[u8]));

/// Targets that are not a registry protocol.
pub static OTHER_TARGETS: &[Target] = &[
    ("pipeline", pipeline),
    ("frames", frames),
    ("decode", decode),
    ("ethernet", ethernet),
    ("arp", arp),
    ("ipv4", ipv4),
    ("ipv6", ipv6),
    ("l4", l4),
    ("tunnel", tunnel),
    ("defrag", defrag),
    ("ber", ber),
    ("cip", cip),
    ("policy", policy),
    ("rules", rules),
    ("ioc_stix", ioc_stix),
    ("ioc_csv", ioc_csv),
];

// ---------------------------------------------------------------------------------------------
// Chunks

/// Chunk flag: the chunk travels to the client (else to the server).
pub const TO_CLIENT: u8 = 0x80;
/// Chunk flag: TCP bytes were lost before this chunk (the held bytes are dropped and the
/// dissector told); on UDP, a long silence before this datagram.
pub const GAP: u8 = 0x40;
/// Chunk flag: a datagram sent to the broadcast address.
pub const BROADCAST: u8 = 0x20;
/// Frame chunk flag ([`frames`]): ten minutes of silence before the frame, so flows expire.
pub const PAUSE: u8 = 0x80;
/// Frame chunk flag ([`frames`]): the capture clock steps one second back before the frame.
pub const STEP_BACK: u8 = 0x40;
/// Frame chunk flag ([`frames`]): the frame was cut short by a snap length.
pub const SLICED: u8 = 0x20;
/// The longest chunk a header can announce.
pub const MAX_CHUNK: usize = 0x1fff;

/// The chunks of `data`: `(flags, bytes)`, flags being the top three bits of the header.
pub fn chunks(data: &[u8]) -> Chunks<'_> {
    Chunks { rest: data }
}

/// Iterator of [`chunks`].
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let [hi, lo, tail @ ..] = self.rest else {
            return None;
        };
        let len = ((usize::from(hi & 0x1f) << 8) | usize::from(*lo)).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        self.rest = next;
        Some((hi & 0xe0, chunk))
    }
}

/// Appends one chunk to `out` (the inverse of [`chunks`]); bytes past [`MAX_CHUNK`] are cut.
pub fn push_chunk(out: &mut Vec<u8>, flags: u8, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(MAX_CHUNK)];
    let len = bytes.len() as u16;
    out.push((flags & 0xe0) | (len >> 8) as u8);
    out.push(len as u8);
    out.extend_from_slice(bytes);
}

// ---------------------------------------------------------------------------------------------
// Flow protocols

/// Selector bits of a conversation (the first input byte).
pub mod sel {
    /// Which of the registry's protocols of that name (index modulo their count).
    pub const SPEC: u8 = 0x03;
    /// The roles are the other way round: the initiator is the side on the registered port.
    pub const SWAPPED: u8 = 0x04;
    /// The endpoints have IPv6 addresses.
    pub const V6: u8 = 0x08;
    /// Which registered port (index modulo their count), shifted by [`PORT_SHIFT`].
    pub const PORT: u8 = 0x30;
    pub const PORT_SHIFT: u8 = 4;
    /// No MAC addresses (a capture without Ethernet headers).
    pub const NO_MAC: u8 = 0x40;
    /// Both ends use the registered port (BACnet 47808 ↔ 47808, EtherNet/IP I/O 2222 ↔ 2222).
    pub const SAME_PORT: u8 = 0x80;
}

/// The registry's flow protocols called `name` (a name may have a TCP and a UDP variant).
pub fn specs_named(name: &str) -> Vec<&'static ProtocolSpec> {
    registry::PROTOCOLS
        .iter()
        .copied()
        .filter(|s| s.name == name)
        .collect()
}

/// A conversation for the registry's protocol `name`: the selector's [`sel::SPEC`] bits pick
/// one of the protocols of that name, then [`stream`] or [`datagrams`] runs.
pub fn protocol(name: &str, data: &[u8]) {
    let specs = specs_named(name);
    assert!(!specs.is_empty(), "no fuzz target {name:?}");
    let i = usize::from(data.first().copied().unwrap_or(0) & sel::SPEC) % specs.len();
    let spec = specs[i];
    match spec.transport {
        Transport::Tcp => stream(spec, data),
        Transport::Udp => datagrams(spec, data),
    }
}

/// The flow a selector describes: addresses, MACs and which end holds the registered port.
pub fn flow_ctx(spec: &ProtocolSpec, selector: u8) -> FlowCtx {
    let ports = spec.ports;
    let port = if ports.is_empty() {
        0
    } else {
        ports[usize::from((selector & sel::PORT) >> sel::PORT_SHIFT) % ports.len()]
    };
    let other = if selector & sel::SAME_PORT != 0 {
        port
    } else {
        50000
    };
    let ep = |last: u8, port: u16| Endpoint {
        ip: if selector & sel::V6 != 0 {
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last.into()))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
        },
        port,
        mac: (selector & sel::NO_MAC == 0).then_some(Mac([0x02, 0, 0, 0, 0, last])),
    };
    let (client, server) = if selector & sel::SWAPPED != 0 {
        (ep(1, port), ep(2, other))
    } else {
        (ep(1, other), ep(2, port))
    };
    FlowCtx {
        client,
        server,
        transport: spec.transport,
        ts: Timestamp(1_600_000_000_000_000_000),
        dst_mac: None,
    }
}

fn direction(flags: u8) -> Direction {
    if flags & TO_CLIENT == 0 {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

fn receiver_mac(ctx: &FlowCtx, dir: Direction) -> Option<Mac> {
    match dir {
        Direction::ToServer => ctx.server.mac,
        Direction::ToClient => ctx.client.mac,
    }
}

/// One millisecond, and the pause a [`GAP`] flag adds on UDP.
const MS: u64 = 1_000_000;
const SILENCE: u64 = 600_000 * MS;

/// A TCP conversation: a selector byte, then chunks, each the next bytes of the stream in one
/// direction. It is fed the way the flow layer does it: the bytes a direction holds are probed
/// and parsed; what `parse` did not consume is offered again with the next chunk; a direction
/// holding more than the flow layer's cap drops it and tells the dissector of the gap, as does
/// a [`GAP`] flag.
pub fn stream(spec: &ProtocolSpec, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let cap = StreamLimits::default().max_bytes;
    let mut ctx = flow_ctx(spec, selector);
    let mut d = (spec.new)();
    let mut held = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for (flags, chunk) in chunks(rest) {
        let dir = direction(flags);
        ctx.ts.0 += MS;
        ctx.dst_mac = receiver_mac(&ctx, dir);
        let buf = &mut held[dir as usize];
        if flags & GAP != 0 {
            buf.clear();
            d.gap(dir);
        }
        buf.extend_from_slice(chunk);
        black_box((spec.probe)(dir, buf));
        let used = d.parse(dir, buf, &ctx, &mut out);
        assert!(
            used <= buf.len(),
            "{}: parse consumed {used} of {} bytes",
            spec.name,
            buf.len()
        );
        buf.drain(..used);
        if buf.len() > cap {
            buf.clear();
            d.gap(dir);
        }
        black_box(&out);
        out.clear();
    }
}

/// A UDP conversation: a selector byte, then chunks, each one datagram, probed and parsed.
/// [`BROADCAST`] sends it to the broadcast MAC, [`GAP`] after a long silence.
pub fn datagrams(spec: &ProtocolSpec, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut ctx = flow_ctx(spec, selector);
    let mut d = (spec.new)();
    let mut out = Vec::new();
    for (flags, datagram) in chunks(rest) {
        let dir = direction(flags);
        ctx.ts.0 += if flags & GAP != 0 { SILENCE } else { MS };
        ctx.dst_mac = if flags & BROADCAST != 0 {
            Some(Mac::BROADCAST)
        } else {
            receiver_mac(&ctx, dir)
        };
        black_box((spec.probe)(dir, datagram));
        d.parse(dir, datagram, &ctx, &mut out);
        black_box(&out);
        out.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Link-layer protocols

/// Frame payloads (after the Ethernet or LLC/SNAP header) for the link-layer protocol `name`:
/// each chunk is one frame; [`TO_CLIENT`] picks the second of two source MACs, [`GAP`] a long
/// silence before it, [`BROADCAST`] the broadcast destination instead of a group address.
pub fn frame_protocol(name: &str, data: &[u8]) {
    let spec = registry::FRAME_PROTOCOLS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name:?}"));
    let mut ts = 1_600_000_000_000_000_000;
    let mut out = Vec::new();
    // One dissector for the run, as the pipeline keeps it: later frames are read against what
    // earlier ones left (sequence numbers per publisher).
    let mut dissector = (spec.new)();
    for (flags, payload) in chunks(data) {
        let src = Mac([0x00, 0x1b, 0x1b, 0x12, 0x34, 0x56 + (flags >> 7)]);
        ts += if flags & GAP != 0 { SILENCE } else { MS };
        let frame = LinkFrame {
            src,
            dst: Some(if flags & BROADCAST != 0 {
                Mac::BROADCAST
            } else {
                Mac([0x01, 0x0c, 0xcd, 0x01, 0x00, 0x01])
            }),
            ts: Timestamp(ts),
        };
        dissector.frame(&frame, payload, &mut out);
        black_box(&out);
        out.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Captures and the L2-L4 decoders

/// The link types a selector byte picks from (modulo their count).
pub const LINK_TYPES: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Other(147),
];

/// The selector that picks `link` from [`LINK_TYPES`].
pub fn link_selector(link: LinkType) -> Option<u8> {
    LINK_TYPES.iter().position(|l| *l == link).map(|i| i as u8)
}

/// Arbitrary bytes as a capture file (pcap or pcapng) through capture, decode, flows,
/// dissectors, detection and the inventory report.
pub fn pipeline(data: &[u8]) {
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut src) = CaptureFile::from_reader(reader, "fuzz".into(), None) else {
        return;
    };
    let mut p = Pipeline::default();
    while let Ok(Some(batch)) = src.next_batch() {
        for f in batch.iter() {
            p.frame(&f);
        }
    }
    p.finish();
    black_box(otwatch_analysis::inventory::report(
        &p.inventory,
        p.capture_stats(),
    ));
}

/// Frames of one link type (the selector byte, see [`LINK_TYPES`]) through decode, flows,
/// dissectors, detection and the report: each chunk is one frame, 1 ms after the last, with
/// the flags [`PAUSE`], [`STEP_BACK`] and [`SLICED`].
pub fn frames(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let link = LINK_TYPES[usize::from(selector) % LINK_TYPES.len()];
    let mut p = Pipeline::default();
    let mut ts: u64 = 1_600_000_000_000_000_000;
    for (flags, frame) in chunks(rest) {
        ts += MS;
        if flags & PAUSE != 0 {
            ts += SILENCE;
        }
        if flags & STEP_BACK != 0 {
            ts -= 1_000 * MS;
        }
        let sliced = if flags & SLICED != 0 { 1000 } else { 0 };
        p.frame(&Frame {
            ts: Timestamp(ts),
            link,
            data: frame,
            wire_len: frame.len() as u32 + sliced,
            interface: 0,
            vlan: 0,
        });
    }
    p.finish();
    black_box(otwatch_analysis::inventory::report(
        &p.inventory,
        p.capture_stats(),
    ));
}

/// How deep [`decode_all`] follows tunnels (the pipeline stops earlier).
const MAX_DEPTH: u8 = 8;

/// Decodes a frame and every frame tunnelled in it.
fn decode_all(link: LinkType, data: &[u8], depth: u8) {
    match decode::decode(link, data) {
        Ok(p) => follow(&p, depth),
        Err(e) => {
            black_box(e.as_str());
        }
    }
}

fn follow(p: &decode::Packet<'_>, depth: u8) {
    black_box(p);
    if let Net::Ip(ip) = &p.net {
        black_box(ip.fragment);
    }
    if let Some(inner) = p.inner {
        if depth < MAX_DEPTH {
            decode_all(inner.link, inner.data, depth + 1);
        }
    }
}

fn follow_inner(inner: Option<decode::Inner<'_>>) {
    if let Some(inner) = inner {
        decode_all(inner.link, inner.data, 1);
    }
}

/// One frame of a link type the selector byte picks (see [`LINK_TYPES`]), and what it
/// tunnels.
pub fn decode(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    decode_all(
        LINK_TYPES[usize::from(selector) % LINK_TYPES.len()],
        frame,
        0,
    );
}

/// The link headers: Ethernet II / 802.3 with VLAN tags, Linux cooked v1 and v2, loopback
/// (selector byte modulo 5).
pub fn ethernet(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let p = match selector % 5 {
        0 => ethernet::decode_ethernet(frame),
        1 => ethernet::decode_sll(frame),
        2 => ethernet::decode_sll2(frame),
        3 => ethernet::decode_loopback(frame, false),
        _ => ethernet::decode_loopback(frame, true),
    };
    if let Ok(p) = p {
        follow(&p, 0);
    }
}

/// An ARP packet (after the Ethernet header).
pub fn arp(data: &[u8]) {
    black_box(arp::decode(data).ok());
}

/// An IPv4 packet and what it tunnels.
pub fn ipv4(data: &[u8]) {
    if let Ok((ip, inner)) = ipv4::decode(data) {
        black_box(ip);
        follow_inner(inner);
    }
}

/// An IPv6 packet (extension headers included) and what it tunnels.
pub fn ipv6(data: &[u8]) {
    if let Ok((ip, inner)) = ipv6::decode(data) {
        black_box(ip);
        follow_inner(inner);
    }
}

/// A transport header: the selector byte is the IP protocol number.
pub fn l4(data: &[u8]) {
    let Some((&proto, rest)) = data.split_first() else {
        return;
    };
    if let Ok((l4, inner)) = l4::decode(proto, rest) {
        black_box(l4);
        follow_inner(inner);
    }
}

/// A tunnel header (selector byte modulo 3: GRE with ERSPAN, VXLAN, MPLS) and what it carries.
pub fn tunnel(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => follow_inner(tunnel::gre(rest).ok()),
        1 => follow_inner(tunnel::vxlan(rest)),
        _ => {
            if let Ok(ip) = tunnel::mpls(rest) {
                decode_all(LinkType::Raw, ip, 1);
            }
        }
    }
}

/// Fragments into the reassembler, with small limits so that its caps and evictions run: the
/// selector byte sets the limits; each chunk is a fragment whose first three bytes are its id
/// and its offset in 8-byte units (13 bits; the top bit: more fragments follow); [`TO_CLIENT`]
/// sends it from a second source, [`GAP`] expires what is old first, [`BROADCAST`] makes it
/// IPv6. A datagram rebuilt goes through the transport decoder as the pipeline does.
pub fn defrag(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let limits = DefragLimits {
        max_pending: usize::from(selector & 0x0f) + 1,
        max_bytes: (usize::from(selector >> 4) + 1) * 4096,
        timeout_ns: 1_000 * MS,
    };
    let mut d = Defragmenter::new(limits);
    let mut ts = 1_600_000_000_000_000_000;
    for (flags, chunk) in chunks(rest) {
        let [id, hi, lo, payload @ ..] = chunk else {
            continue;
        };
        ts += 100 * MS;
        if flags & GAP != 0 {
            d.expire(Timestamp(ts));
        }
        let side = 1 + (flags >> 7);
        let (src, dst) = if flags & BROADCAST != 0 {
            let v6 = |n: u8| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n.into()));
            (v6(side), v6(9))
        } else {
            let v4 = |n: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n));
            (v4(side), v4(9))
        };
        let frag = FragmentInfo {
            id: u32::from(*id),
            offset: u32::from(u16::from_be_bytes([*hi & 0x1f, *lo])) * 8,
            more: hi & 0x80 != 0,
        };
        let proto = 17;
        if let Some(whole) = d.push(Timestamp(ts), 1500, src, dst, proto, frag, payload) {
            assert!(whole.data.len() <= 65_535, "a datagram past 64 KiB");
            if let Ok((l4, inner)) = l4::decode(proto, &whole.data) {
                black_box(l4);
                follow_inner(inner);
            }
        }
        assert!(
            d.pending() <= limits.max_pending,
            "more pending than allowed"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers the dissectors share

/// BER/DER (SNMP messages, certificate names): every TLV, nested ones too, read as each kind of
/// value.
pub fn ber(data: &[u8]) {
    black_box(ber::parse_header(data).ok());
    ber_walk(ber::Reader::new(data), 0);
}

fn ber_walk(mut r: ber::Reader<'_>, depth: u8) {
    black_box(r.peek_tag());
    while let Ok(tlv) = r.read() {
        black_box(tlv.integer().ok());
        black_box(ber::string_value(&tlv));
        black_box(ber::display_text(tlv.value));
        if let Ok(oid) = tlv.oid() {
            black_box(oid.arcs().count());
            black_box(oid.arc(7));
            black_box(oid.starts_with(&[1, 3, 6, 1, 2, 1]));
        }
        if tlv.tag.constructed && depth < 32 {
            ber_walk(tlv.reader(), depth + 1);
        }
    }
}

/// A CIP message (request or reply): its path, every request it embeds, a Multiple Service
/// Packet's items and an Identity object in a reply.
pub fn cip(data: &[u8]) {
    match cip::parse(data) {
        Ok(cip::Message::Request(req)) => {
            black_box(req.path.segments().count());
            black_box((req.path.class(), req.path.instance()));
            black_box((req.path.attribute(), req.path.symbol()));
            black_box(cip::classify_request(&req));
            let _ = cip::walk_requests(&req, &mut |found| {
                black_box(found);
            });
        }
        Ok(cip::Message::Reply(reply)) => {
            let mut c = reader::Cursor::new(reply.data);
            if let Some(id) = cip::Identity::read(&mut c) {
                let mut out = Vec::new();
                id.emit(Subject::Server, source::CIP_IDENTITY, &mut out);
                black_box((id.catalog_type(), out));
            }
        }
        Err(_) => {}
    }
    if let Ok(items) = cip::MultipleService::parse(data) {
        for item in items.take(512) {
            black_box(item.ok());
        }
    }
    black_box(cip::unconnected_send(data).ok());
}

// ---------------------------------------------------------------------------------------------
// Detection files

/// A policy file: parse errors are fine; a policy that parses is written back and must read
/// again.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = Policy::parse(&SourceText::new("fuzz.toml", text)) else {
        return;
    };
    let again = p.to_toml();
    if let Err(e) = Policy::parse(&SourceText::new("written.toml", &again)) {
        panic!("a policy written back does not read: {e}\n{again}");
    }
}

/// A rules file: parse errors are fine; every rule that compiles is matched against events of
/// each kind, at times spread over the week.
pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut set = RuleSet::default();
    if set.add(&SourceText::new("fuzz.toml", text)).is_err() {
        return;
    }
    let ips = [
        IpAddr::V4(Ipv4Addr::new(10, 20, 1, 5)),
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
    ];
    for rule in &set.rules {
        for (i, on) in [On::Operation, On::Connection, On::Login, On::Violation]
            .into_iter()
            .enumerate()
        {
            let e = Event {
                on,
                protocol: "modbus",
                op: Some(Operation::Write),
                function_code: Some(i as u32 + 5),
                port: 502,
                src: Some(ips[i % 2]),
                dst: Some(ips[(i + 1) % 2]),
                ts: Timestamp(1_600_000_000_000_000_000 + i as u64 * 100_000 * 1_000_000_000),
            };
            black_box(rule.matches(&e));
            black_box(rule.matches(&Event {
                ts: Timestamp(u64::MAX),
                src: None,
                ..e
            }));
        }
    }
}

/// A STIX 2.1 bundle of indicators (text starting with `{`).
pub fn ioc_stix(data: &[u8]) {
    ioc(data, true)
}

/// A CSV list of indicators (text not starting with `{`).
pub fn ioc_csv(data: &[u8]) {
    ioc(data, false)
}

/// Indicators: parse errors are fine; a set that loads is matched against every word of the
/// text, as a name and, where it is one, as an address.
fn ioc(data: &[u8], stix: bool) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.trim_start().starts_with('{') != stix {
        return;
    }
    let mut set = IocSet::default();
    if set.add_text(&SourceText::new("fuzz", text)).is_err() {
        return;
    }
    let words = text.split(|c: char| c.is_whitespace() || ",'\"[]{}".contains(c));
    for w in words.filter(|w| !w.is_empty()).take(256) {
        black_box(set.match_name(w));
        if let Ok(ip) = w.parse::<IpAddr>() {
            black_box(set.match_ip(&ip));
        }
    }
    black_box(set.match_ip(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
}

#[cfg(test)]
mod tests;
