//! Protocol dissectors: one file a protocol, all behind the [`Dissector`] seam.
//!
//! The flow layer hands each dissector the in-order byte stream of a TCP direction (after
//! reassembly) or one UDP datagram, plus a [`FlowCtx`]. The dissector emits
//! [`Observation`]s; it never touches the inventory, never panics, and allocates only to emit
//! an observation. Malformed input becomes a `ProtocolViolation` observation.
//!
//! Which dissector a flow gets is decided by [`registry`]: by port **and** by content. A
//! registered port only nominates a candidate; the candidate's `probe` must accept the first
//! payload, and a protocol on an unusual port is still found by content.
//!
//! Link-layer protocols without flows (LLDP, CDP, PROFINET DCP, GOOSE, SV, EtherCAT) are
//! [`FrameDissector`]s fed whole frame payloads by ethertype or LLC/SNAP id.

pub mod ads;
pub mod bacnet;
pub mod ber;
pub mod c37_118;
pub mod cdp;
pub mod cip;
pub mod codesys;
pub mod dhcp;
pub mod dnp3;
pub mod dns;
pub mod enip;
pub mod ethercat;
pub mod facts;
pub mod fox;
pub mod framing;
pub mod ftp;
pub mod goose;
pub mod hart_ip;
pub mod http;
pub mod iec104;
pub mod iec61850_frame;
pub mod knxip;
pub mod lldp;
pub mod mms;
pub mod modbus;
pub mod mqtt;
pub mod omron_fins;
pub mod opcua;
pub mod profinet_dcp;
pub mod profinet_io;
pub mod rdp;
pub mod reader;
pub mod registry;
pub mod s7comm;
pub mod slmp;
pub mod smb;
pub mod snmp;
pub mod source;
pub mod spec;
pub mod srtp;
pub mod ssdp;
pub mod ssh;
pub mod sv;
pub mod sysdescr;
pub mod telnet;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod tls;
pub mod tpkt;
pub mod violations;
pub mod vnc;

use otwatch_common::observation::{Details, Field, Observation, Operation, Role, Source, Subject};
use otwatch_common::{Mac, Timestamp};
use std::net::IpAddr;

/// Which way a payload travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the flow's initiator (client) to its responder (server).
    ToServer,
    /// From the server back to the client.
    ToClient,
}

impl Direction {
    /// The opposite direction.
    pub fn other(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// 0 for [`Direction::ToServer`], 1 for [`Direction::ToClient`]: for per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// The end of the flow that sent a payload travelling this way.
    pub fn sender(self) -> Subject {
        match self {
            Direction::ToServer => Subject::Client,
            Direction::ToClient => Subject::Server,
        }
    }

    /// The end of the flow a payload travelling this way is addressed to.
    pub fn receiver(self) -> Subject {
        match self {
            Direction::ToServer => Subject::Server,
            Direction::ToClient => Subject::Client,
        }
    }
}

/// The transport a dissector is fed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// One end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
    /// The L2 address this end's frames carried, when the capture has Ethernet headers.
    pub mac: Option<Mac>,
}

/// What a dissector may know about the flow it is parsing.
#[derive(Debug, Clone, Copy)]
pub struct FlowCtx {
    pub client: Endpoint,
    pub server: Endpoint,
    pub transport: Transport,
    /// Timestamp of the packet that delivered (the end of) this payload.
    pub ts: Timestamp,
    /// Destination MAC of the packet, so a dissector can tell a broadcast/multicast datagram.
    pub dst_mac: Option<Mac>,
}

impl FlowCtx {
    /// A TCP flow's context when no one packet is being handled (the flow ended, a session
    /// finished): there is no destination MAC to tell.
    pub fn tcp(client: Endpoint, server: Endpoint, ts: Timestamp) -> FlowCtx {
        FlowCtx {
            client,
            server,
            transport: Transport::Tcp,
            ts,
            dst_mac: None,
        }
    }
}

/// Whether a payload looks like a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Certainly this protocol.
    Yes,
    /// Certainly this protocol, and the payload is one only a server sends (an answer or an
    /// announcement): the flow's sides are turned round if they were guessed the other way. For
    /// datagram protocols whose two ends use the same port (BACnet 47808 ↔ 47808).
    YesFromServer,
    /// Certainly not.
    No,
    /// Too few bytes to tell; ask again with more.
    NeedMore,
}

/// A per-flow protocol parser.
pub trait Dissector: Send {
    /// Parses `data` travelling in `dir`.
    ///
    /// TCP: `data` is the contiguous, in-order stream bytes of that direction not yet consumed;
    /// return how many bytes were consumed (whole messages). The rest is offered again with
    /// more bytes appended, up to a cap after which the flow layer drops it and calls [`gap`].
    /// UDP: `data` is one datagram; the return value is ignored.
    ///
    /// [`gap`]: Dissector::gap
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize;

    /// Bytes were lost in `dir` (capture loss or a cap); the next `parse` starts mid-stream,
    /// so the dissector must resynchronise (or give up on this direction).
    fn gap(&mut self, _dir: Direction) {}
}

/// The observation a dissector emits for malformed input of `protocol`: a finding, not an
/// error that stops the flow.
pub fn violation(protocol: &'static str, reason: impl std::fmt::Display) -> Observation {
    Observation::ProtocolViolation {
        protocol,
        reason: reason.to_string(),
    }
}

/// What a request does: the operation with its evidence, or the bare function code when it
/// is none the inventory names.
pub fn operation_or_code(op: Option<Operation>, code: u32, details: Details) -> Observation {
    match op {
        Some(op) => Observation::Operation {
            op,
            function_code: Some(code),
            details,
        },
        None => Observation::FunctionCode(code),
    }
}

/// The subject a link-layer discovery frame (LLDP, CDP, PROFINET DCP) speaks for: its source
/// MAC, which must be unicast. A frame from a group address is a violation of `protocol`
/// (`name` in the reason) and gives `None`.
pub fn frame_sender(
    protocol: &'static str,
    name: &str,
    src: Mac,
    out: &mut Vec<Observation>,
) -> Option<Subject> {
    if !src.is_unicast() {
        out.push(violation(
            protocol,
            format!("{name} frame from group address {src}"),
        ));
        return None;
    }
    Some(Subject::Mac(src))
}

/// How every link-layer discovery frame (LLDP, CDP) starts: one that does not parse
/// (`parsed`) is a violation of `protocol`, one from a group address too ([`frame_sender`]);
/// else its sender speaks `protocol` and is the subject of what the frame says.
pub fn discovery_frame<T>(
    protocol: &'static str,
    name: &str,
    src: Mac,
    parsed: Result<T, impl std::fmt::Display>,
    out: &mut Vec<Observation>,
) -> Option<(T, Subject)> {
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            out.push(violation(protocol, e));
            return None;
        }
    };
    let subject = frame_sender(protocol, name, src, out)?;
    out.push(Observation::Speaks {
        subject,
        protocol,
        role: Role::Server,
        port: 0,
    });
    Some((parsed, subject))
}

/// Pushes `subject`'s `field` = `value` according to `source`, when there is a value.
pub fn push_identity(
    out: &mut Vec<Observation>,
    subject: Subject,
    field: Field,
    value: Option<String>,
    source: Source,
) {
    if let Some(value) = value {
        out.push(Observation::Identity {
            subject,
            field,
            value,
            source,
        });
    }
}

/// One link-layer frame as its dissector sees it: who sent it, to which address, when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFrame {
    pub src: Mac,
    /// The destination: a GOOSE or SV publisher's group address names the subscribers.
    pub dst: Option<Mac>,
    pub ts: Timestamp,
}

/// A link-layer protocol parser: gets each frame of its ethertype or LLC/SNAP id with the
/// payload after the Ethernet/LLC header (and any VLAN tag). The pipeline keeps one of each
/// protocol for the whole run, so a dissector may remember earlier frames (GOOSE and SV
/// sequence numbers per publisher, the commands an EtherCAT master used), within a bound.
pub trait FrameDissector: Send {
    fn frame(&mut self, f: &LinkFrame, payload: &[u8], out: &mut Vec<Observation>);

    /// The device whose traffic the frame is, when that is not its source MAC: an EtherCAT
    /// frame on its way back carries its master's MAC with the locally-administered bit set,
    /// and is the master's (`None`: no device's). Asked before [`FrameDissector::frame`].
    fn device(&self, f: &LinkFrame, _payload: &[u8]) -> Option<Mac> {
        Some(f.src)
    }
}

/// A link-layer parser that remembers nothing between frames (LLDP, CDP, PROFINET DCP and RT):
/// a plain function of the source MAC, the payload and the time.
pub type FrameFn = fn(src: Mac, payload: &[u8], ts: Timestamp, out: &mut Vec<Observation>);

impl FrameDissector for FrameFn {
    fn frame(&mut self, f: &LinkFrame, payload: &[u8], out: &mut Vec<Observation>) {
        self(f.src, payload, f.ts, out)
    }
}
