//! The analysis pipeline: frames in, inventory out. Sans-IO: frames and their timestamps are
//! passed in, so the same input always gives the same inventory.

use crate::capture::Frame;
use crate::decode::defrag::{DefragLimits, Defragmenter};
use crate::decode::{self, l4, DecodeError, IpPacket, Lan, Net, Packet, L4};
use crate::detect::{self, DetectConfig, Detector};
use crate::flow::table::PacketInfo;
use crate::flow::{FlowConfig, FlowEvent, FlowTable};
use crate::inventory::{Inventory, InventoryLimits, Origin};
use crate::protocols::registry::{FrameMatch, FRAME_PROTOCOLS};
use crate::protocols::{FrameDissector, LinkFrame};
use otwatch_common::model::CaptureStats;
use otwatch_common::observation::{Observation, Role, Subject};
use otwatch_common::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Tunnels opened inside tunnels at most this deep.
const MAX_ENCAP_DEPTH: u8 = 3;

/// Every cap and timeout of the pipeline (`[flow]` and `[inventory]` in sensor.toml).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub flow: FlowConfig,
    pub defrag: DefragLimits,
    pub inventory: InventoryLimits,
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub packets: u64,
    pub bytes: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub decode_errors: BTreeMap<DecodeError, u64>,
}

/// Frames in, inventory out.
pub struct Pipeline {
    flows: FlowTable,
    defrag: Defragmenter,
    pub inventory: Inventory,
    pub stats: RunStats,
    pub detector: Detector,
    obs: Vec<Observation>,
    /// Evictions and refusals so far (to notice new ones).
    pressure: u64,
    /// Capture segment of each interface index (see [`Pipeline::set_segments`]).
    segments: Vec<u16>,
    /// The segment of the frame being handled.
    segment: u16,
    /// One dissector of each link-layer protocol, in the order of [`FRAME_PROTOCOLS`].
    frame_dissectors: Vec<Box<dyn FrameDissector>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("flows", &self.flows)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(FlowConfig::default(), DefragLimits::default())
    }
}

impl Pipeline {
    pub fn new(flow: FlowConfig, defrag: DefragLimits) -> Self {
        Pipeline {
            flows: FlowTable::new(flow),
            defrag: Defragmenter::new(defrag),
            inventory: Inventory::default(),
            stats: RunStats::default(),
            detector: Detector::default(),
            obs: Vec::new(),
            pressure: 0,
            segments: Vec::new(),
            segment: 0,
            frame_dissectors: FRAME_PROTOCOLS.iter().map(|s| (s.new)()).collect(),
        }
    }

    /// A pipeline with these caps that detects with `cfg`.
    pub fn configured(limits: &Limits, cfg: Arc<DetectConfig>) -> Self {
        let mut p = Pipeline::with_detection(limits.flow, limits.defrag, cfg);
        p.inventory.limits = limits.inventory;
        p
    }

    /// A pipeline that detects with `cfg` (policy, rules, indicators, thresholds).
    pub fn with_detection(flow: FlowConfig, defrag: DefragLimits, cfg: Arc<DetectConfig>) -> Self {
        let mut p = Pipeline::new(flow, defrag);
        p.detector = Detector::new(cfg);
        p
    }

    /// Assigns capture interfaces to segments: frames of interface index `i` (the position of a
    /// live interface in `capture.interfaces`, or a pcapng interface id) are on segment
    /// `segments[i]`; interfaces beyond the list, and entries of 0, are the default segment.
    /// See [`Lan`] for why interfaces are not kept apart by default.
    pub fn set_segments(&mut self, segments: Vec<u16>) {
        self.segments = segments;
    }

    /// The LAN of a packet of the current frame.
    fn lan(&self, p: &Packet<'_>) -> Lan {
        Lan {
            segment: self.segment,
            vlan: p.vlan.unwrap_or(0),
        }
    }

    /// Handles one captured frame.
    pub fn frame(&mut self, f: &Frame<'_>) {
        self.segment = self
            .segments
            .get(f.interface as usize)
            .copied()
            .unwrap_or(0);
        let s = &mut self.stats;
        s.packets += 1;
        s.bytes += f.wire_len as u64;
        s.first = Some(s.first.map_or(f.ts, |t| t.min(f.ts)));
        s.last = Some(s.last.map_or(f.ts, |t| t.max(f.ts)));
        match decode::decode(f.link, f.data) {
            Ok(mut p) => {
                // A tag the capture moved out of the frame (VLAN offload) counts as if in it.
                if p.vlan.is_none() && f.vlan != 0 {
                    p.vlan = Some(f.vlan);
                }
                self.packet(f.ts, f.wire_len, &p, 0)
            }
            Err(e) => self.error(e),
        }
    }

    fn error(&mut self, e: DecodeError) {
        *self.stats.decode_errors.entry(e).or_default() += 1;
    }

    fn packet(&mut self, ts: Timestamp, wire_len: u32, p: &Packet<'_>, depth: u8) {
        match &p.net {
            Net::Ip(ip) => self.ip(ts, wire_len, p, ip),
            Net::Arp(a) => {
                if let Some(src) = p.src_mac {
                    self.inventory.add_l2_frame(src, wire_len, ts);
                }
                let lan = self.lan(p);
                let origin = Origin::Frame {
                    src: a.sender_mac,
                    ts,
                    lan,
                };
                // RFC 826: the sender pair is the sender's own (gratuitous ARP included).
                // A sender IP of 0.0.0.0 is an address probe (RFC 5227) and binds nothing.
                self.detector
                    .arp(&mut self.inventory.alerts, ts, a, p.dst_mac, lan);
                let role = if a.op == decode::ArpRepr::REPLY {
                    Role::Server
                } else {
                    Role::Client
                };
                self.inventory.observe(
                    origin,
                    Observation::Binding {
                        mac: a.sender_mac,
                        ip: a.sender_ip.into(),
                        source: "arp",
                    },
                );
                self.inventory.observe(
                    origin,
                    Observation::Speaks {
                        subject: Subject::Mac(a.sender_mac),
                        protocol: "arp",
                        role,
                        port: 0,
                    },
                );
            }
            Net::Ether { ethertype, payload } => {
                self.l2(ts, wire_len, p, FrameMatch::Ethertype(*ethertype), payload)
            }
            Net::Llc {
                snap: Some((oui, pid)),
                payload,
                ..
            } => self.l2(ts, wire_len, p, FrameMatch::Snap(*oui, *pid), payload),
            Net::Llc { .. } | Net::None => {
                if let Some(src) = p.src_mac {
                    self.inventory.add_l2_frame(src, wire_len, ts);
                }
            }
        }
        if let Some(inner) = p.inner {
            if depth >= MAX_ENCAP_DEPTH {
                self.error(DecodeError::Tunnel);
                return;
            }
            match decode::decode(inner.link, inner.data) {
                Ok(q) => self.packet(ts, wire_len, &q, depth + 1),
                Err(e) => self.error(e),
            }
        }
    }

    fn l2(&mut self, ts: Timestamp, wire_len: u32, p: &Packet<'_>, m: FrameMatch, payload: &[u8]) {
        let Some(src) = p.src_mac else { return };
        let frame = LinkFrame {
            src,
            dst: p.dst_mac,
            ts,
        };
        // The frame counts for the device its protocol says sent it (the first dissector of
        // the ethertype answers; an EtherCAT frame coming back is its master's).
        let device = FRAME_PROTOCOLS
            .iter()
            .zip(&self.frame_dissectors)
            .find(|(s, _)| s.matches == m)
            .map_or(Some(src), |(_, d)| d.device(&frame, payload));
        if let Some(device) = device {
            self.inventory.add_l2_frame(device, wire_len, ts);
        }
        let origin = Origin::Frame {
            src,
            ts,
            lan: self.lan(p),
        };
        let dissectors = FRAME_PROTOCOLS.iter().zip(self.frame_dissectors.iter_mut());
        for (spec, dissector) in dissectors.filter(|(s, _)| s.matches == m) {
            // Each frame dissector says itself who speaks in which role (a DCP request is a
            // client).
            dissector.frame(&frame, payload, &mut self.obs);
            let from = detect::Source::Frame {
                src,
                dst: p.dst_mac,
                ts,
                protocol: spec.name,
            };
            for o in self.obs.drain(..) {
                self.detector
                    .observe_all(&mut self.inventory.alerts, from, &o);
                self.inventory.observe(origin, o);
            }
        }
    }

    fn ip(&mut self, ts: Timestamp, wire_len: u32, p: &Packet<'_>, ip: &IpPacket<'_>) {
        if let Some(frag) = ip.fragment {
            let Some(whole) = self
                .defrag
                .push(ts, wire_len, ip.src, ip.dst, ip.proto, frag, ip.payload)
            else {
                return;
            };
            let l4 = match l4::decode(ip.proto, &whole.data) {
                Ok((l4, _)) => l4,
                Err(e) => {
                    self.error(e);
                    L4::Other
                }
            };
            let ip = IpPacket {
                fragment: None,
                payload: &whole.data,
                l4,
                ..*ip
            };
            self.flow_packet(ts, whole.wire_bytes, whole.frames, p, &ip);
            return;
        }
        self.flow_packet(ts, wire_len, 1, p, ip);
    }

    fn flow_packet(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        frames: u32,
        p: &Packet<'_>,
        ip: &IpPacket<'_>,
    ) {
        self.flows.packet(&PacketInfo {
            ts,
            wire_len,
            frames,
            src_mac: p.src_mac,
            dst_mac: p.dst_mac,
            lan: self.lan(p),
            ip,
        });
        self.apply_events();
        let fs = &self.flows.stats;
        let sh = &self.inventory.shed;
        let pressure = fs.flows_evicted
            + fs.flows_rate_limited
            + sh.hosts_evicted
            + sh.hosts_refused
            + sh.conns_evicted
            + sh.conns_refused;
        if pressure > self.pressure {
            self.pressure = pressure;
            self.overload(ts);
        }
    }

    /// The tables overflowed: an alert that says which caps and how much.
    #[cold]
    fn overload(&mut self, ts: Timestamp) {
        let fs = self.flows.stats;
        let sh = self.inventory.shed;
        self.detector.overload(
            &mut self.inventory.alerts,
            ts,
            &[
                ("flows_evicted", fs.flows_evicted),
                ("flows_rate_limited", fs.flows_rate_limited),
                ("hosts_evicted", sh.hosts_evicted),
                ("hosts_refused", sh.hosts_refused),
                ("conns_evicted", sh.conns_evicted),
                ("conns_refused", sh.conns_refused),
            ],
        );
    }

    fn apply_events(&mut self) {
        for ev in self.flows.drain_events() {
            match ev {
                FlowEvent::Observation {
                    ctx,
                    lan,
                    protocol,
                    obs,
                } => {
                    self.detector.observe_all(
                        &mut self.inventory.alerts,
                        detect::Source::Flow {
                            ctx: &ctx,
                            lan,
                            protocol,
                        },
                        &obs,
                    );
                    self.inventory.observe(
                        Origin::Flow {
                            ctx: &ctx,
                            lan,
                            protocol,
                        },
                        obs,
                    )
                }
                FlowEvent::Summary(s) => {
                    self.detector.flow(&mut self.inventory.alerts, &s);
                    self.inventory.add_flow(&s)
                }
            }
        }
    }

    /// Brings the inventory up to date with the flows still open (live capture reports
    /// without ending them).
    pub fn checkpoint(&mut self) {
        self.flows.checkpoint();
        self.apply_events();
    }

    /// Ends the input: every flow is summarised into the inventory.
    pub fn finish(&mut self) {
        self.flows.finish_all();
        self.apply_events();
        if let Some(last) = self.stats.last {
            self.defrag
                .expire(Timestamp(last.0.saturating_add(u64::MAX / 2)));
        }
    }

    /// The statistics of this run in report form.
    pub fn capture_stats(&self) -> CaptureStats {
        let s = &self.stats;
        let mut limits = BTreeMap::new();
        let fs = self.flows.stats;
        for (k, v) in [
            ("flows_evicted", fs.flows_evicted),
            ("flows_rate_limited", fs.flows_rate_limited),
            ("stream_gap_bytes", fs.stream_gap_bytes),
            ("stream_bytes_dropped", fs.stream_bytes_dropped),
            ("fragments_reassembled", self.defrag.stats.reassembled),
            ("fragments_dropped", self.defrag.stats.dropped),
        ] {
            if v > 0 {
                limits.insert(k.to_string(), v);
            }
        }
        CaptureStats {
            packets: s.packets,
            bytes: s.bytes,
            flows: fs.flows,
            decode_errors: s.decode_errors.values().sum(),
            first_packet: s.first.map(|t| t.rfc3339()).unwrap_or_default(),
            last_packet: s.last.map(|t| t.rfc3339()).unwrap_or_default(),
            decode_errors_by_kind: s
                .decode_errors
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect(),
            limits,
            // Filled from the inventory, which keeps them across runs.
            protocol_violations: BTreeMap::new(),
            sources: Vec::new(),
        }
    }
}
