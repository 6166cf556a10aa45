//! The table of protocols: which ports nominate them, how content confirms them, and how a
//! dissector is made for a flow.

pub use super::spec::{FrameMatch, FrameSpec, ProtocolSpec};
use super::{Direction, Probe, Transport};

/// Every flow protocol, in the order content probes are tried when no port nominates one.
pub static PROTOCOLS: &[&ProtocolSpec] = &[
    &super::http::SPEC,
    &super::ssh::SPEC,
    &super::ftp::SPEC,
    &super::telnet::SPEC,
    &super::rdp::SPEC,
    &super::vnc::SPEC,
    &super::smb::SPEC,
    &super::tls::SPEC,
    &super::snmp::SPEC,
    &super::snmp::TRAP_SPEC,
    &super::dhcp::SPEC,
    &super::dns::DNS_SPEC,
    &super::dns::MDNS_SPEC,
    &super::dns::LLMNR_SPEC,
    &super::dns::NBNS_SPEC,
    &super::ssdp::SPEC,
    &super::bacnet::SPEC,
    &super::mqtt::SPEC,
    &super::opcua::SPEC,
    &super::s7comm::PLUS_SPEC,
    &super::s7comm::SPEC,
    &super::enip::IO_SPEC,
    &super::enip::UDP_SPEC,
    &super::enip::SPEC,
    &super::modbus::SPEC,
    &super::dnp3::SPEC,
    &super::dnp3::UDP_SPEC,
    &super::iec104::SPEC,
];

/// The outcome of recognising a flow's protocol.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    /// `spec` matched. `swapped`: it matched with the flow's sides the other way round (the
    /// port that nominated it is the current client port).
    Match {
        spec: &'static ProtocolSpec,
        swapped: bool,
    },
    /// A candidate needs more bytes.
    NeedMore,
    /// Nothing matches.
    NoMatch,
}

/// Recognises the protocol of a flow from its first payload: port-nominated candidates must
/// confirm by content; then every protocol of the transport is tried by content alone.
pub fn recognise(
    transport: Transport,
    server_port: u16,
    client_port: u16,
    dir: Direction,
    data: &[u8],
) -> Verdict {
    let mut need_more = false;
    let of_transport = || {
        PROTOCOLS
            .iter()
            .copied()
            .filter(move |s| s.transport == transport)
    };
    // A payload only a server sends: the sides are swapped when it travelled towards the server.
    let sent_by_client = dir == Direction::ToServer;
    for spec in of_transport().filter(|s| s.ports.contains(&server_port)) {
        match (spec.probe)(dir, data) {
            Probe::Yes => {
                return Verdict::Match {
                    spec,
                    swapped: false,
                }
            }
            Probe::YesFromServer => {
                return Verdict::Match {
                    spec,
                    swapped: sent_by_client,
                }
            }
            Probe::NeedMore => need_more = true,
            Probe::No => {}
        }
    }
    if client_port != server_port {
        let flipped = match dir {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        };
        for spec in of_transport().filter(|s| s.ports.contains(&client_port)) {
            match (spec.probe)(flipped, data) {
                Probe::Yes => {
                    return Verdict::Match {
                        spec,
                        swapped: true,
                    }
                }
                Probe::YesFromServer => {
                    return Verdict::Match {
                        spec,
                        swapped: sent_by_client,
                    }
                }
                Probe::NeedMore => need_more = true,
                Probe::No => {}
            }
        }
    }
    for spec in of_transport()
        .filter(|s| !s.ports.contains(&server_port) && !s.ports.contains(&client_port))
    {
        match (spec.probe)(dir, data) {
            Probe::Yes => {
                return Verdict::Match {
                    spec,
                    swapped: false,
                }
            }
            Probe::YesFromServer => {
                return Verdict::Match {
                    spec,
                    swapped: sent_by_client,
                }
            }
            Probe::NeedMore => need_more = true,
            Probe::No => {}
        }
    }
    if need_more {
        Verdict::NeedMore
    } else {
        Verdict::NoMatch
    }
}

/// True when `port` is a registered server port of some protocol on `transport`.
/// The protocol a server port nominates first, if any.
pub fn nominee(transport: Transport, port: u16) -> Option<&'static ProtocolSpec> {
    PROTOCOLS
        .iter()
        .copied()
        .find(|s| s.transport == transport && s.ports.contains(&port))
}

pub fn is_server_port(transport: Transport, port: u16) -> bool {
    static PORTS: std::sync::OnceLock<[Vec<bool>; 2]> = std::sync::OnceLock::new();
    let tables = PORTS.get_or_init(|| {
        let mut t = [vec![false; 65536], vec![false; 65536]];
        for spec in PROTOCOLS {
            let i = spec.transport as usize;
            for &p in spec.ports {
                if let Some(slot) = t[i].get_mut(p as usize) {
                    *slot = true;
                }
            }
        }
        t
    });
    tables[transport as usize]
        .get(port as usize)
        .copied()
        .unwrap_or(false)
}

/// Every link-layer protocol.
pub static FRAME_PROTOCOLS: &[FrameSpec] = &[
    FrameSpec {
        name: "profinet_dcp",
        matches: FrameMatch::Ethertype(super::profinet_dcp::ETHERTYPE),
        parse: super::profinet_dcp::parse_frame,
    },
    FrameSpec {
        name: "lldp",
        matches: FrameMatch::Ethertype(super::lldp::ETHERTYPE),
        parse: super::lldp::parse_frame,
    },
    FrameSpec {
        name: "cdp",
        matches: FrameMatch::Snap(0x00000c, 0x2000),
        parse: super::cdp::parse_frame,
    },
];

/// The link-layer dissector for a frame, if any.
pub fn frame_spec(m: FrameMatch) -> Option<&'static FrameSpec> {
    FRAME_PROTOCOLS.iter().find(|s| s.matches == m)
}
