//! The flow table: one entry per bidirectional 5-tuple, with the initiator as client.
//!
//! Who is the client: the sender of a SYN (or the receiver of a SYN-ACK); for flows whose
//! start the capture missed, the end on a registered or well-known port is the server; else
//! the first sender. Time is packet time: flows expire when idle longer than their transport's
//! timeout, measured against the newest packet seen. The table is capped in flows and in
//! buffered stream bytes; what a cap throws away is counted in [`FlowStats`].

use super::reassembly::{Deliver, Stream, StreamLimits};
use crate::decode::l4::proto;
use crate::decode::{IpPacket, Lan, L4};
use crate::hash::Map;
use crate::protocols::registry::{self, ProtocolSpec};
use crate::protocols::{Direction, Dissector, Endpoint, FlowCtx, Transport};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::Observation;
use otwatch_common::{Mac, Timestamp};
use std::net::IpAddr;

/// Limits and timeouts of the flow table.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    pub max_flows: usize,
    /// Bytes held for reassembly across all flows.
    pub max_buffered_bytes: usize,
    pub stream: StreamLimits,
    pub tcp_timeout_ns: u64,
    /// After FIN from both sides or a RST.
    pub tcp_closed_timeout_ns: u64,
    /// A TCP flow of a few packets the server never answered (a SYN flood, a scan probe).
    pub tcp_half_open_timeout_ns: u64,
    pub udp_timeout_ns: u64,
    pub other_timeout_ns: u64,
    /// Payload packets a flow may take to be recognised before it is left alone.
    pub max_probe_packets: u8,
    /// Bytes buffered per direction while recognising.
    pub max_probe_bytes: usize,
    /// New flows one source address may start per second of packet time; more are not
    /// tracked (counted as `flows_rate_limited`). 0 = no limit.
    pub max_new_flows_per_source: u32,
}

impl Default for FlowConfig {
    fn default() -> Self {
        const S: u64 = 1_000_000_000;
        FlowConfig {
            max_flows: 1 << 18,
            max_buffered_bytes: 256 << 20,
            stream: StreamLimits::default(),
            tcp_timeout_ns: 3600 * S,
            tcp_closed_timeout_ns: 30 * S,
            tcp_half_open_timeout_ns: 30 * S,
            udp_timeout_ns: 120 * S,
            other_timeout_ns: 60 * S,
            max_probe_packets: 8,
            max_probe_bytes: 4096,
            max_new_flows_per_source: 5000,
        }
    }
}

/// Counters of the flow layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub flows: u64,
    /// Flows ended early because the table was full.
    pub flows_evicted: u64,
    /// Flows not tracked because their source started too many per second.
    pub flows_rate_limited: u64,
    /// Stream bytes never seen by a dissector because of a capture hole.
    pub stream_gap_bytes: u64,
    /// Stream bytes thrown away by the buffered-bytes caps.
    pub stream_bytes_dropped: u64,
}

/// A flow's counters since its last summary, handed to the inventory.
#[derive(Debug, Clone, Copy)]
pub struct FlowSummary {
    /// Capture segment and 802.1Q VLAN of the flow's packets.
    pub lan: Lan,
    pub client: Endpoint,
    pub server: Endpoint,
    pub ip_proto: u8,
    pub protocol: Option<&'static str>,
    pub packets: u64,
    pub bytes: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    /// True the first time this flow is summarised (count it once).
    pub new_flow: bool,
    /// TTL or hop limit of the client's and the server's packets (0 when unseen).
    pub client_ttl: u8,
    pub server_ttl: u8,
    /// The client's packets went to the broadcast MAC: the "server" address is a directed
    /// (subnet) broadcast, not a host.
    pub to_group: bool,
    /// The server sent at least one packet so far.
    pub answered: bool,
    /// This is the first summary in which the flow is answered (count it once).
    pub first_answer: bool,
    /// A TCP flow the server accepted (SYN-ACK or payload from the server).
    pub accepted: bool,
    /// The server reset the TCP flow.
    pub reset_by_server: bool,
    /// The flow began with an ICMP echo request.
    pub echo: bool,
    /// The flow ended (this is its last summary).
    pub ended: bool,
    /// Packets from the client and from the server over the whole flow.
    pub client_packets: u64,
    pub server_packets: u64,
}

/// What the table produced while handling packets; drained by the pipeline.
#[derive(Debug)]
pub enum FlowEvent {
    Observation {
        ctx: FlowCtx,
        /// The flow's LAN (as [`FlowSummary::lan`]).
        lan: Lan,
        protocol: &'static str,
        obs: Observation,
    },
    Summary(FlowSummary),
}

/// The 5-tuple in its [`Lan`]: the same addresses and ports on two VLANs or capture segments
/// (cells that reuse one private range behind one SPAN port) are two flows. The capture
/// interface itself is not part of the key, only the segment the operator assigned it to: a
/// tap that delivers each direction on its own interface would split every flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct FlowKey {
    lan: Lan,
    lo: IpAddr,
    hi: IpAddr,
    lo_port: u16,
    hi_port: u16,
    proto: u8,
}

/// Hashes the key as whole words (see [`crate::hash::write_addr_pair`]).
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // 24 bits of segment and VLAN above 40 of ports and protocol: still one word.
        let meta = self.lan.bits() << 40
            | u64::from(self.lo_port) << 24
            | u64::from(self.hi_port) << 8
            | u64::from(self.proto);
        crate::hash::write_addr_pair(h, self.lo, self.hi, meta);
    }
}

enum App {
    Probing,
    Known {
        spec: &'static ProtocolSpec,
        dissector: Box<dyn Dissector>,
    },
    Unknown,
}

struct Flow {
    lan: Lan,
    client: Endpoint,
    server: Endpoint,
    proto: u8,
    first: Timestamp,
    last: Timestamp,
    packets: u64,
    bytes: u64,
    reported_packets: u64,
    reported_bytes: u64,
    summarised: bool,
    syn_seen: bool,
    fin: [bool; 2],
    rst: bool,
    client_ttl: u8,
    server_ttl: u8,
    to_group: bool,
    to_client_packets: u64,
    accepted: bool,
    reset_by_server: bool,
    answer_reported: bool,
    echo: bool,
    app: App,
    probes: u8,
    /// [to_server, to_client]; allocated once a TCP flow carries payload worth parsing.
    streams: Option<Box<[Stream; 2]>>,
}

impl Flow {
    fn closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }

    fn summary(&mut self, ended: bool) -> FlowSummary {
        let answered = self.to_client_packets > 0;
        let first_answer = answered && !self.answer_reported;
        self.answer_reported |= answered;
        let s = FlowSummary {
            lan: self.lan,
            client: self.client,
            server: self.server,
            ip_proto: self.proto,
            protocol: match &self.app {
                App::Known { spec, .. } => Some(spec.name),
                _ => None,
            },
            packets: self.packets - self.reported_packets,
            bytes: self.bytes - self.reported_bytes,
            first: self.first,
            last: self.last,
            new_flow: !self.summarised,
            client_ttl: self.client_ttl,
            server_ttl: self.server_ttl,
            to_group: self.to_group,
            answered,
            first_answer,
            accepted: self.accepted,
            reset_by_server: self.reset_by_server,
            echo: self.echo,
            ended,
            client_packets: self.packets - self.to_client_packets,
            server_packets: self.to_client_packets,
        };
        self.reported_packets = self.packets;
        self.reported_bytes = self.bytes;
        self.summarised = true;
        s
    }
}

/// One packet as the flow table needs it.
#[derive(Debug, Clone, Copy)]
pub struct PacketInfo<'a> {
    pub ts: Timestamp,
    pub wire_len: u32,
    /// Frames this packet stands for (more than one for a reassembled datagram).
    pub frames: u32,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// Capture segment and 802.1Q VLAN.
    pub lan: Lan,
    pub ip: &'a IpPacket<'a>,
}

pub struct FlowTable {
    cfg: FlowConfig,
    flows: Map<FlowKey, Flow>,
    /// New flows per source in the current second of packet time.
    starts: Map<IpAddr, u32>,
    starts_second: u64,
    pub stats: FlowStats,
    buffered: usize,
    now: Timestamp,
    next_sweep: Timestamp,
    events: Vec<FlowEvent>,
    scratch: Vec<Observation>,
}

impl std::fmt::Debug for FlowTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("flows", &self.flows.len())
            .field("stats", &self.stats)
            .finish()
    }
}

const SWEEP_EVERY_NS: u64 = 5_000_000_000;
/// Sources whose new-flow rate is tracked at once.
const MAX_RATE_SOURCES: usize = 1 << 16;
/// A TCP flow of at most this many packets, none answered, is half-open.
const HALF_OPEN_PACKETS: u64 = 4;

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            flows: Map::default(),
            starts: Map::default(),
            starts_second: 0,
            stats: FlowStats::default(),
            buffered: 0,
            now: Timestamp::ZERO,
            next_sweep: Timestamp::ZERO,
            events: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Bytes currently held for reassembly.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Events produced so far (observations and flow summaries), in order.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, FlowEvent> {
        self.events.drain(..)
    }

    /// Handles one IP packet whose transport was decoded (not a fragment).
    pub fn packet(&mut self, p: &PacketInfo<'_>) {
        if p.ts > self.now {
            self.now = p.ts;
        }
        if self.now >= self.next_sweep {
            self.expire(self.now);
            self.next_sweep = Timestamp(self.now.0.saturating_add(SWEEP_EVERY_NS));
        }
        let ip = p.ip;
        let (sport, dport, tcp) = match ip.l4 {
            L4::Tcp {
                src_port,
                dst_port,
                flags,
                ..
            } => (src_port, dst_port, Some(flags)),
            L4::Udp {
                src_port, dst_port, ..
            } => (src_port, dst_port, None),
            _ => (0, 0, None),
        };
        let key = if (ip.src, sport) <= (ip.dst, dport) {
            FlowKey {
                lan: p.lan,
                lo: ip.src,
                hi: ip.dst,
                lo_port: sport,
                hi_port: dport,
                proto: ip.proto,
            }
        } else {
            FlowKey {
                lan: p.lan,
                lo: ip.dst,
                hi: ip.src,
                lo_port: dport,
                hi_port: sport,
                proto: ip.proto,
            }
        };
        // A new SYN on a finished or idle flow starts a new flow on the same 5-tuple.
        let fresh_syn = tcp.is_some_and(|f| f.syn() && !f.ack());
        if let Some(f) = self.flows.get(&key) {
            let idle = p.ts.0.saturating_sub(f.last.0) > self.timeout(f);
            if idle || (fresh_syn && f.closed()) {
                self.finish(&key);
            }
        }
        if !self.flows.contains_key(&key) {
            if !self.may_start(ip.src, p.ts) {
                self.stats.flows_rate_limited += 1;
                return;
            }
            if self.flows.len() >= self.cfg.max_flows {
                self.make_room();
            }
            let src_is_client = orient(ip, sport, dport);
            // MACs are learned from senders only: a destination MAC may be a gateway's, or
            // belong to a host that does not hold that IP yet (a DHCP offer).
            let (c, s) = if src_is_client {
                ((ip.src, sport, p.src_mac), (ip.dst, dport, None))
            } else {
                ((ip.dst, dport, None), (ip.src, sport, p.src_mac))
            };
            let app = match ip.proto {
                proto::TCP | proto::UDP => App::Probing,
                _ => App::Unknown,
            };
            self.stats.flows += 1;
            self.flows.insert(
                key,
                Flow {
                    lan: p.lan,
                    client: Endpoint {
                        ip: c.0,
                        port: c.1,
                        mac: c.2.filter(|m| m.is_unicast()),
                    },
                    server: Endpoint {
                        ip: s.0,
                        port: s.1,
                        mac: s.2.filter(|m| m.is_unicast()),
                    },
                    proto: ip.proto,
                    first: p.ts,
                    last: p.ts,
                    packets: 0,
                    bytes: 0,
                    reported_packets: 0,
                    reported_bytes: 0,
                    summarised: false,
                    syn_seen: false,
                    fin: [false; 2],
                    rst: false,
                    client_ttl: 0,
                    server_ttl: 0,
                    to_group: false,
                    to_client_packets: 0,
                    accepted: false,
                    reset_by_server: false,
                    answer_reported: false,
                    echo: matches!(
                        ip.l4,
                        L4::Icmp {
                            ty: 8,
                            v6: false,
                            ..
                        } | L4::Icmp {
                            ty: 128,
                            v6: true,
                            ..
                        }
                    ),
                    app,
                    probes: 0,
                    streams: None,
                },
            );
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let dir = if flow.client.ip == ip.src && flow.client.port == sport {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        flow.packets += p.frames as u64;
        flow.bytes += p.wire_len as u64;
        if p.ts > flow.last {
            flow.last = p.ts;
        }
        // Learn each side's MAC from the first packet it sends.
        match dir {
            Direction::ToServer => {
                flow.client_ttl = ip.ttl;
                if p.dst_mac == Some(Mac::BROADCAST) {
                    flow.to_group = true;
                }
                if flow.client.mac.is_none() {
                    flow.client.mac = p.src_mac.filter(|m| m.is_unicast());
                }
            }
            Direction::ToClient => {
                flow.to_client_packets += p.frames as u64;
                flow.server_ttl = ip.ttl;
                if flow.server.mac.is_none() {
                    flow.server.mac = p.src_mac.filter(|m| m.is_unicast());
                }
            }
        }
        let ctx = FlowCtx {
            client: flow.client,
            server: flow.server,
            transport: if ip.proto == proto::TCP {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            ts: p.ts,
            dst_mac: p.dst_mac,
        };
        match ip.l4 {
            L4::Tcp {
                seq,
                ack,
                flags,
                payload,
                ..
            } => {
                let d = dir as usize;
                if flags.syn() {
                    flow.syn_seen = true;
                }
                if flags.rst() {
                    flow.rst = true;
                }
                if dir == Direction::ToClient {
                    if flags.rst() && !flow.accepted {
                        flow.reset_by_server = true;
                    } else if (flags.syn() && flags.ack()) || !payload.is_empty() {
                        flow.accepted = true;
                    }
                }
                if flags.fin() {
                    if let Some(fin) = flow.fin.get_mut(d) {
                        *fin = true;
                    }
                }
                if matches!(flow.app, App::Unknown) {
                    return;
                }
                let streams = flow.streams.get_or_insert_with(Box::default);
                let before = streams[0].held_bytes() + streams[1].held_bytes();
                if flags.syn() {
                    streams[d].syn(seq);
                }
                let mut feed = Feed::new(
                    &self.cfg,
                    &mut self.stats,
                    &mut self.scratch,
                    &mut self.events,
                );
                if flags.ack() && streams[1 - d].acked(ack) {
                    // The peer acknowledged bytes we never saw: the hole is permanent.
                    feed.deliver_ready(flow, dir.other(), &ctx);
                }
                if !payload.is_empty() {
                    let mut dropped = 0;
                    let Some(streams) = flow.streams.as_mut() else {
                        return;
                    };
                    let seg = streams[d].segment(seq, payload, &feed.cfg.stream, &mut dropped);
                    feed.stats.stream_gap_bytes += dropped;
                    if let Deliver::Bytes(bytes) = seg {
                        feed.bytes(flow, dir, bytes, &ctx);
                    }
                    feed.deliver_ready(flow, dir, &ctx);
                }
                let after = flow
                    .streams
                    .as_ref()
                    .map_or(0, |s| s[0].held_bytes() + s[1].held_bytes());
                self.buffered = (self.buffered + after).saturating_sub(before);
                if self.buffered > self.cfg.max_buffered_bytes {
                    if let Some(s) = flow.streams.as_mut() {
                        let n = s[0].reset() + s[1].reset();
                        s[0].gap = true;
                        s[1].gap = true;
                        self.stats.stream_bytes_dropped += n as u64;
                        self.buffered = self.buffered.saturating_sub(n);
                    }
                }
            }
            L4::Udp { payload, .. } => {
                if payload.is_empty() || matches!(flow.app, App::Unknown) {
                    return;
                }
                let mut dir = dir;
                if matches!(flow.app, App::Probing) {
                    if recognise(flow, dir, payload, &self.cfg) {
                        dir = dir.other();
                    }
                    if matches!(flow.app, App::Unknown) {
                        not_the_ports_protocol(flow, dir, payload, &ctx, &mut self.events);
                    }
                }
                if let App::Known { spec, dissector } = &mut flow.app {
                    let ctx = FlowCtx {
                        client: flow.client,
                        server: flow.server,
                        ..ctx
                    };
                    dissector.parse(dir, payload, &ctx, &mut self.scratch);
                    emit(
                        &mut self.events,
                        &mut self.scratch,
                        &ctx,
                        key.lan,
                        spec.name,
                    );
                }
            }
            _ => {}
        }
    }

    /// Counts a new flow started by `src`; false when it is over its rate.
    fn may_start(&mut self, src: IpAddr, ts: Timestamp) -> bool {
        let max = self.cfg.max_new_flows_per_source;
        if max == 0 {
            return true;
        }
        let second = ts.0 / 1_000_000_000;
        if second != self.starts_second {
            self.starts_second = second;
            self.starts.clear();
        }
        // Tracking is bounded too: beyond this many sources in one second (a spoofed flood,
        // where no single source is fast), new sources pass uncounted.
        if self.starts.len() >= MAX_RATE_SOURCES && !self.starts.contains_key(&src) {
            return true;
        }
        let n = self.starts.entry(src).or_default();
        *n = n.saturating_add(1);
        *n <= max
    }

    fn timeout(&self, f: &Flow) -> u64 {
        match f.proto {
            proto::TCP if f.closed() => self.cfg.tcp_closed_timeout_ns,
            proto::TCP if f.to_client_packets == 0 && f.packets <= HALF_OPEN_PACKETS => self
                .cfg
                .tcp_half_open_timeout_ns
                .min(self.cfg.tcp_timeout_ns),
            proto::TCP => self.cfg.tcp_timeout_ns,
            proto::UDP => self.cfg.udp_timeout_ns,
            _ => self.cfg.other_timeout_ns,
        }
    }

    /// Ends every flow idle for longer than its timeout at packet time `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let mut done: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now.0.saturating_sub(f.last.0) > self.timeout(f))
            .map(|(k, _)| *k)
            .collect();
        done.sort_unstable();
        for k in done {
            self.finish(&k);
        }
    }

    /// Summarises every flow's counters without ending the flows (for periodic reports).
    pub fn checkpoint(&mut self) {
        let mut keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        keys.sort_unstable();
        for k in keys {
            if let Some(f) = self.flows.get_mut(&k) {
                if f.packets > f.reported_packets {
                    let s = f.summary(false);
                    self.events.push(FlowEvent::Summary(s));
                }
            }
        }
    }

    /// Ends all flows (end of input).
    pub fn finish_all(&mut self) {
        let mut keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        keys.sort_unstable();
        for k in keys {
            self.finish(&k);
        }
    }

    fn finish(&mut self, key: &FlowKey) {
        let Some(mut f) = self.flows.remove(key) else {
            return;
        };
        // Only a TCP flow holds streams, and what ends it is its last packet.
        let ctx = FlowCtx::tcp(f.client, f.server, f.last);
        // Let the dissector see what was held behind a hole.
        if f.streams.is_some() && matches!(f.app, App::Known { .. }) {
            let mut feed = Feed::new(
                &self.cfg,
                &mut self.stats,
                &mut self.scratch,
                &mut self.events,
            );
            for dir in [Direction::ToServer, Direction::ToClient] {
                while f
                    .streams
                    .as_mut()
                    .is_some_and(|s| s[dir as usize].skip_hole())
                {
                    feed.deliver_ready(&mut f, dir, &ctx);
                }
            }
        }
        // A client that sent bytes the port's protocol never accepted (an incomplete or
        // broken first message) up to the end of the flow.
        if matches!(f.app, App::Probing) {
            if let Some(first) = f
                .streams
                .as_ref()
                .map(|s| s[0].pending.clone())
                .filter(|p| !p.is_empty())
            {
                not_the_ports_protocol(&f, Direction::ToServer, &first, &ctx, &mut self.events);
            }
        }
        if let Some(s) = f.streams.as_ref() {
            self.buffered = self
                .buffered
                .saturating_sub(s[0].held_bytes() + s[1].held_bytes());
        }
        let s = f.summary(true);
        self.events.push(FlowEvent::Summary(s));
    }

    /// The table is full: expire idle flows, then end the least recently active eighth.
    fn make_room(&mut self) {
        self.expire(self.now);
        if self.flows.len() < self.cfg.max_flows {
            return;
        }
        // Least valuable first: unanswered (floods, scans), then unidentified, then the
        // rest; the longest idle within each.
        let mut by_value: Vec<(u8, Timestamp, FlowKey)> = self
            .flows
            .iter()
            .map(|(k, f)| {
                let class = match (&f.app, f.to_client_packets) {
                    (_, 0) => 0,
                    (App::Known { .. }, _) => 2,
                    _ => 1,
                };
                (class, f.last, *k)
            })
            .collect();
        let n = (by_value.len() / 8).max(1);
        by_value.select_nth_unstable(n - 1);
        let mut victims: Vec<FlowKey> = by_value.into_iter().take(n).map(|v| v.2).collect();
        victims.sort_unstable();
        for k in victims {
            self.finish(&k);
            self.stats.flows_evicted += 1;
        }
    }
}

/// Decides whether the sender of the first packet seen is the client.
fn orient(ip: &IpPacket<'_>, sport: u16, dport: u16) -> bool {
    match ip.l4 {
        L4::Tcp { flags, .. } if flags.syn() => !flags.ack(),
        L4::Icmp { ty, v6, .. } => {
            // Echo reply (ICMP 0, ICMPv6 129) comes from the server.
            !matches!((v6, ty), (false, 0) | (true, 129))
        }
        L4::Tcp { .. } | L4::Udp { .. } => {
            let transport = if ip.proto == proto::TCP {
                Transport::Tcp
            } else {
                Transport::Udp
            };
            port_rank(transport, dport) >= port_rank(transport, sport)
        }
        _ => true,
    }
}

/// How strongly a port suggests a server: registered protocol port > well-known > registered
/// range > ephemeral.
fn port_rank(t: Transport, port: u16) -> u8 {
    if registry::is_server_port(t, port) {
        3
    } else if port < 1024 {
        2
    } else if port < 49152 {
        1
    } else {
        0
    }
}

/// Tries to recognise the flow's protocol from `data` travelling in `dir`. Returns true when
/// the flow's sides were swapped (so `dir` is now the other direction).
fn recognise(flow: &mut Flow, dir: Direction, data: &[u8], cfg: &FlowConfig) -> bool {
    let transport = if flow.proto == proto::TCP {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    flow.probes = flow.probes.saturating_add(1);
    match registry::recognise(transport, flow.server.port, flow.client.port, dir, data) {
        registry::Verdict::Match { spec, swapped } => {
            // Sides are only turned round between two hosts: a datagram to a broadcast or
            // group address keeps its sender as the client, whatever it carries.
            let swap = swapped
                && !flow.syn_seen
                && !flow.to_group
                && is_unicast_ip(&flow.client.ip)
                && is_unicast_ip(&flow.server.ip);
            if swap {
                // The capture missed the start and the first guess of sides was wrong.
                std::mem::swap(&mut flow.client, &mut flow.server);
                std::mem::swap(&mut flow.client_ttl, &mut flow.server_ttl);
                if let Some(s) = flow.streams.as_mut() {
                    s.swap(0, 1);
                }
            }
            flow.app = App::Known {
                spec,
                dissector: (spec.new)(),
            };
            return swap;
        }
        registry::Verdict::NeedMore
            if flow.probes < cfg.max_probe_packets && data.len() < cfg.max_probe_bytes => {}
        _ => {
            flow.app = App::Unknown;
            if let Some(s) = flow.streams.as_mut() {
                s[0].reset();
                s[1].reset();
            }
        }
    }
    false
}

/// Industrial ports whose traffic is that protocol or an attack on it. Port 102 is left out:
/// S7comm shares it with IEC 61850 MMS and other ISO transport users.
const STRICT_PORTS: &[&str] = &["modbus", "dnp3", "iec104", "enip", "bacnet"];

/// A client's payload to an industrial server port that is not that protocol (fuzzing, an
/// exploit, a scanner's probe) is a violation of the port's protocol: reported, not ignored.
fn not_the_ports_protocol(
    flow: &Flow,
    dir: Direction,
    data: &[u8],
    ctx: &FlowCtx,
    events: &mut Vec<FlowEvent>,
) {
    if dir != Direction::ToServer || flow.to_group || !is_unicast_ip(&flow.server.ip) {
        return;
    }
    let transport = if flow.proto == proto::TCP {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let Some(spec) =
        registry::nominee(transport, flow.server.port).filter(|s| STRICT_PORTS.contains(&s.name))
    else {
        return;
    };
    let head: String = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
    events.push(FlowEvent::Observation {
        ctx: FlowCtx {
            client: flow.client,
            server: flow.server,
            ..*ctx
        },
        lan: flow.lan,
        protocol: spec.name,
        obs: crate::protocols::violation(
            spec.name,
            format!(
                "{} bytes to the {} port {} are not {} (they begin {head})",
                data.len(),
                spec.name,
                flow.server.port,
                spec.name
            ),
        ),
    });
}

/// The table's parts the stream path writes to while one of its flows is borrowed: the
/// settings, the counters, the dissectors' scratch buffer and the events out.
struct Feed<'a> {
    cfg: &'a FlowConfig,
    stats: &'a mut FlowStats,
    scratch: &'a mut Vec<Observation>,
    events: &'a mut Vec<FlowEvent>,
}

impl<'a> Feed<'a> {
    fn new(
        cfg: &'a FlowConfig,
        stats: &'a mut FlowStats,
        scratch: &'a mut Vec<Observation>,
        events: &'a mut Vec<FlowEvent>,
    ) -> Self {
        Feed {
            cfg,
            stats,
            scratch,
            events,
        }
    }

    /// Delivers held segments of `dir` that are now in order.
    fn deliver_ready(&mut self, flow: &mut Flow, dir: Direction, ctx: &FlowCtx) {
        loop {
            let Some(data) = flow
                .streams
                .as_mut()
                .and_then(|s| s[dir as usize].drain_ready())
            else {
                return;
            };
            self.bytes(flow, dir, &data, ctx);
        }
    }

    /// Hands in-order stream bytes to the flow's dissector (recognising the protocol first).
    fn bytes(&mut self, flow: &mut Flow, dir: Direction, bytes: &[u8], ctx: &FlowCtx) {
        let d = dir as usize;
        if matches!(flow.app, App::Probing) {
            let Some(streams) = flow.streams.as_mut() else {
                return;
            };
            let st = &mut streams[d];
            let take = bytes
                .len()
                .min(self.cfg.max_probe_bytes.saturating_sub(st.pending.len()));
            st.pending
                .extend_from_slice(bytes.get(..take).unwrap_or(&[]));
            let probe_data = std::mem::take(&mut st.pending);
            let swapped = recognise(flow, dir, &probe_data, self.cfg);
            if matches!(flow.app, App::Unknown) {
                not_the_ports_protocol(flow, dir, &probe_data, ctx, self.events);
            }
            if let Some(streams) = flow.streams.as_mut() {
                // After a swap this direction's stream moved to the other slot.
                streams[if swapped { 1 - d } else { d }].pending = probe_data;
            }
            if !matches!(flow.app, App::Known { .. }) {
                return;
            }
            // Recognised: the probe buffer (this direction) is the first thing parsed.
            let ctx = FlowCtx {
                client: flow.client,
                server: flow.server,
                ..*ctx
            };
            let dir = if swapped { dir.other() } else { dir };
            self.run_pending(flow, dir, &ctx);
            return;
        }
        let lan = flow.lan;
        let App::Known { spec, dissector } = &mut flow.app else {
            return;
        };
        let Some(streams) = flow.streams.as_mut() else {
            return;
        };
        let st = &mut streams[d];
        if std::mem::take(&mut st.gap) {
            st.pending.clear();
            dissector.gap(dir);
        }
        if st.pending.is_empty() {
            // Fast path: parse straight from the capture buffer.
            let n = dissector
                .parse(dir, bytes, ctx, self.scratch)
                .min(bytes.len());
            emit(self.events, self.scratch, ctx, lan, spec.name);
            self.keep_rest(st, bytes.get(n..).unwrap_or(&[]), dissector.as_mut(), dir);
        } else {
            st.pending.extend_from_slice(bytes);
            self.parse_pending(st, dissector.as_mut(), dir, ctx);
            emit(self.events, self.scratch, ctx, lan, spec.name);
        }
    }

    /// Parses what `st` holds, keeps what the dissector left, and drops it (a gap) past the
    /// cap.
    fn parse_pending(
        &mut self,
        st: &mut Stream,
        dissector: &mut dyn Dissector,
        dir: Direction,
        ctx: &FlowCtx,
    ) {
        let n = dissector
            .parse(dir, &st.pending, ctx, self.scratch)
            .min(st.pending.len());
        st.pending.drain(..n);
        if st.pending.len() > self.cfg.stream.max_bytes {
            self.stats.stream_bytes_dropped += st.pending.len() as u64;
            st.pending.clear();
            dissector.gap(dir);
        }
    }

    /// Parses the bytes buffered while probing, in the given direction.
    fn run_pending(&mut self, flow: &mut Flow, dir: Direction, ctx: &FlowCtx) {
        let lan = flow.lan;
        let App::Known { spec, dissector } = &mut flow.app else {
            return;
        };
        let Some(streams) = flow.streams.as_mut() else {
            return;
        };
        for d in [dir, dir.other()] {
            let st = &mut streams[d as usize];
            if st.pending.is_empty() {
                continue;
            }
            self.parse_pending(st, dissector.as_mut(), d, ctx);
            emit(self.events, self.scratch, ctx, lan, spec.name);
        }
    }

    fn keep_rest(
        &mut self,
        st: &mut Stream,
        rest: &[u8],
        dissector: &mut dyn Dissector,
        dir: Direction,
    ) {
        if rest.is_empty() {
            return;
        }
        if rest.len() > self.cfg.stream.max_bytes {
            self.stats.stream_bytes_dropped += rest.len() as u64;
            dissector.gap(dir);
            return;
        }
        st.pending.extend_from_slice(rest);
    }
}

fn emit(
    events: &mut Vec<FlowEvent>,
    scratch: &mut Vec<Observation>,
    ctx: &FlowCtx,
    lan: Lan,
    protocol: &'static str,
) {
    for obs in scratch.drain(..) {
        events.push(FlowEvent::Observation {
            ctx: *ctx,
            lan,
            protocol,
            obs,
        });
    }
}

#[cfg(test)]
mod tests;
