//! The table of protocols: which ports nominate them, how content confirms them, and how a
//! dissector is made for a flow.

pub use super::spec::{FrameMatch, FrameSpec, ProtocolSpec};
use super::{Direction, FrameFn, Probe, Transport};

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
    &super::profinet_io::SPEC,
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
    &super::mms::SPEC,
    &super::enip::IO_SPEC,
    &super::enip::UDP_SPEC,
    &super::enip::SPEC,
    &super::modbus::SPEC,
    &super::dnp3::SPEC,
    &super::dnp3::UDP_SPEC,
    &super::iec104::SPEC,
    &super::ads::SPEC,
    &super::ads::UDP_SPEC,
    &super::slmp::SPEC,
    &super::slmp::UDP_SPEC,
    &super::hart_ip::SPEC,
    &super::hart_ip::UDP_SPEC,
    &super::fox::SPEC,
    &super::knxip::SPEC,
    &super::knxip::TCP_SPEC,
    &super::omron_fins::TCP_SPEC,
    &super::omron_fins::SPEC,
    &super::codesys::SPEC,
    &super::codesys::UDP_SPEC,
    &super::c37_118::SPEC,
    &super::c37_118::UDP_SPEC,
    &super::srtp::SPEC,
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
    let of_transport = || {
        PROTOCOLS
            .iter()
            .copied()
            .filter(move |s| s.transport == transport)
    };
    let mut need_more = false;
    let nominated = of_transport().filter(|s| s.ports.contains(&server_port));
    if let Some(verdict) = first_match(nominated, dir, data, false, &mut need_more) {
        return verdict;
    }
    if client_port != server_port {
        // Nominated by the client's port: the sides were guessed the other way round.
        let nominated = of_transport().filter(|s| s.ports.contains(&client_port));
        if let Some(verdict) = first_match(nominated, dir.other(), data, true, &mut need_more) {
            return verdict;
        }
    }
    let by_content = of_transport()
        .filter(|s| !s.ports.contains(&server_port) && !s.ports.contains(&client_port));
    if let Some(verdict) = first_match(by_content, dir, data, false, &mut need_more) {
        return verdict;
    }
    if need_more {
        Verdict::NeedMore
    } else {
        Verdict::NoMatch
    }
}

/// The first of `specs` whose probe accepts `data` as travelling `dir`; `swapped` says the
/// flow's sides are the other way round. A payload only a server sends (`YesFromServer`) is
/// swapped when it was seen travelling to the flow's server, whatever `dir` the probe was
/// asked with. Sets `need_more` when a candidate wants more bytes.
fn first_match(
    specs: impl Iterator<Item = &'static ProtocolSpec>,
    dir: Direction,
    data: &[u8],
    swapped: bool,
    need_more: &mut bool,
) -> Option<Verdict> {
    // `dir` is turned round with the sides: the payload's real direction is `dir` unswapped.
    let sent_by_client = (dir == Direction::ToServer) != swapped;
    for spec in specs {
        match (spec.probe)(dir, data) {
            Probe::Yes => return Some(Verdict::Match { spec, swapped }),
            Probe::YesFromServer => {
                return Some(Verdict::Match {
                    spec,
                    swapped: sent_by_client,
                })
            }
            Probe::NeedMore => *need_more = true,
            Probe::No => {}
        }
    }
    None
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
        new: || Box::new(super::profinet_dcp::parse_frame as FrameFn),
    },
    // The other PROFINET RT frames: cyclic IO data and alarms of the ARs the CM sets up.
    FrameSpec {
        name: "profinet_io",
        matches: FrameMatch::Ethertype(super::profinet_dcp::ETHERTYPE),
        new: || Box::new(super::profinet_io::rt::parse_frame as FrameFn),
    },
    FrameSpec {
        name: "lldp",
        matches: FrameMatch::Ethertype(super::lldp::ETHERTYPE),
        new: || Box::new(super::lldp::parse_frame as FrameFn),
    },
    FrameSpec {
        name: "cdp",
        matches: FrameMatch::Snap(0x00000c, 0x2000),
        new: || Box::new(super::cdp::parse_frame as FrameFn),
    },
    FrameSpec {
        name: super::goose::PROTOCOL,
        matches: FrameMatch::Ethertype(super::goose::ETHERTYPE),
        new: || Box::<super::goose::GooseDissector>::default(),
    },
    FrameSpec {
        name: super::sv::PROTOCOL,
        matches: FrameMatch::Ethertype(super::sv::ETHERTYPE),
        new: || Box::<super::sv::SvDissector>::default(),
    },
    FrameSpec {
        name: super::ethercat::PROTOCOL,
        matches: FrameMatch::Ethertype(super::ethercat::ETHERTYPE),
        new: || Box::<super::ethercat::EthercatDissector>::default(),
    },
];

/// The link-layer dissectors for a frame: one protocol each (PROFINET's ethertype carries DCP
/// and the real-time frames of PROFINET IO, told apart by FrameID).
pub fn frame_specs(m: FrameMatch) -> impl Iterator<Item = &'static FrameSpec> {
    FRAME_PROTOCOLS.iter().filter(move |s| s.matches == m)
}
