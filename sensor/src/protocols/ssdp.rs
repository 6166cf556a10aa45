//! SSDP, the UPnP discovery protocol (UPnP Device Architecture 2.0 §1): HTTP-formatted
//! messages over UDP 1900, mostly multicast to 239.255.255.250 / ff0x::c.
//!
//! Which end is the device: the *sender* of a `NOTIFY` (§1.2, advertisement) and of a
//! `HTTP/1.1 200 OK` (§1.3.3, search response) is the device; the sender of an `M-SEARCH`
//! (§1.3.2) is a control point. A NOTIFY or M-SEARCH goes to a multicast group, so the
//! flow's "server" is the group and the sender is the flow's client; a search response is
//! unicast from the device to the searcher's port, where the flow layer usually makes the
//! device (port 1900) the server. Observations therefore name the sender of each datagram
//! (`Client` for data travelling to the server, `Server` otherwise), never a fixed end.
//!
//! Reported: the sender speaks SSDP (as server for devices, client for control points);
//! `SERVER` (devices) and `USER-AGENT` (searchers) as `Description`, and as `Os` when their
//! first product token (the "OS/version" part before "UPnP/", §1.1.3) names one; the host of
//! `LOCATION`, when it is an IP literal, speaks HTTP on the URL's port (the description
//! document is served there, §2.1).

use super::http::product_token_os;
use super::registry::ProtocolSpec;
use super::text;
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation, Role, Subject};
use std::net::IpAddr;

const NAME: &str = "ssdp";
const PORT: u16 = 1900;

/// SSDP on UDP 1900.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: NAME,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    new: || Box::<SsdpDissector>::default(),
};

/// The three SSDP message kinds (UDA 2.0 §1.2.2, §1.3.2, §1.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Notify,
    Search,
    SearchResponse,
}

fn kind(start_line: &[u8]) -> Option<Kind> {
    match start_line {
        b"NOTIFY * HTTP/1.1" | b"NOTIFY * HTTP/1.0" => Some(Kind::Notify),
        b"M-SEARCH * HTTP/1.1" | b"M-SEARCH * HTTP/1.0" => Some(Kind::Search),
        l if l.starts_with(b"HTTP/1.1 200") || l.starts_with(b"HTTP/1.0 200") => {
            Some(Kind::SearchResponse)
        }
        _ => None,
    }
}

/// A NOTIFY or M-SEARCH start line, or a 200 response that carries the search-response
/// headers `ST` or `USN` (so a plain HTTP response over UDP is not taken for SSDP).
/// Either direction: multicast flows have no reliable orientation.
fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let mut lines = text::lines(data);
    match lines.next().and_then(kind) {
        Some(Kind::Notify | Kind::Search) => Probe::Yes,
        Some(Kind::SearchResponse) => {
            let has = |l: &[u8]| {
                text::header_field(l).is_some_and(|(n, _)| {
                    n.eq_ignore_ascii_case(b"ST") || n.eq_ignore_ascii_case(b"USN")
                })
            };
            if lines.take(64).any(has) {
                Probe::Yes
            } else {
                Probe::No
            }
        }
        None => Probe::No,
    }
}

/// Remembers, per direction, what was already reported, so periodic re-announcements do
/// not repeat observations.
#[derive(Debug, Default)]
struct SsdpDissector {
    reported: [Option<u64>; 2],
}

impl Dissector for SsdpDissector {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        let Some(msg) = parse_message(data) else {
            out.push(Observation::ProtocolViolation {
                protocol: NAME,
                reason: "not an SSDP start line".to_string(),
            });
            return data.len();
        };
        // Devices re-announce every few seconds, once per service: report what changed.
        let key = text::fingerprint(msg.product.unwrap_or(&[]))
            ^ text::fingerprint(msg.location.unwrap_or(&[])).rotate_left(1)
            ^ msg.kind as u64;
        let seen = &mut self.reported[dir as usize];
        if *seen == Some(key) {
            return data.len();
        }
        *seen = Some(key);
        report(sender(dir), &msg, out);
        data.len()
    }
}

/// The end of the flow that sent a datagram travelling in `dir`.
fn sender(dir: Direction) -> Subject {
    match dir {
        Direction::ToServer => Subject::Client,
        Direction::ToClient => Subject::Server,
    }
}

/// The parts of an SSDP message used here, borrowed from the datagram.
#[derive(Debug, Clone, Copy)]
struct Message<'a> {
    kind: Kind,
    /// `SERVER` of a NOTIFY/response, `USER-AGENT` of an M-SEARCH.
    product: Option<&'a [u8]>,
    location: Option<&'a [u8]>,
}

/// Start line and header fields (HTTP/1.1 syntax, RFC 9112 §2–§5, as UDA 2.0 §1.1.2
/// prescribes); a datagram may end without the final empty line.
fn parse_message(data: &[u8]) -> Option<Message<'_>> {
    let head_len = text::head_len(data).unwrap_or(data.len());
    let mut lines = text::lines(data.get(..head_len)?);
    let kind = kind(lines.next()?)?;
    let mut msg = Message {
        kind,
        product: None,
        location: None,
    };
    for line in lines.take(64) {
        let Some((name, value)) = text::header_field(line) else {
            continue;
        };
        let name = name.trim_ascii();
        let wanted = match kind {
            Kind::Search => b"USER-AGENT".as_slice(),
            _ => b"SERVER",
        };
        if name.eq_ignore_ascii_case(wanted) {
            msg.product.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"LOCATION") && kind != Kind::Search {
            msg.location.get_or_insert(value);
        }
    }
    Some(msg)
}

fn report(subject: Subject, msg: &Message<'_>, out: &mut Vec<Observation>) {
    let (role, source) = match msg.kind {
        Kind::Search => (Role::Client, "ssdp user-agent"),
        _ => (Role::Server, "ssdp server"),
    };
    out.push(Observation::Speaks {
        subject,
        protocol: NAME,
        role,
        port: PORT,
    });
    if let Some(product) = msg.product {
        if let Some(os) = os_part(product).and_then(product_token_os) {
            out.push(Observation::Identity {
                subject,
                field: Field::Os,
                value: os,
                source,
            });
        }
        if let Some(desc) = text::clean(product) {
            out.push(Observation::Identity {
                subject,
                field: Field::Description,
                value: desc,
                source,
            });
        }
    }
    if let Some((ip, port)) = msg.location.and_then(location_host) {
        out.push(Observation::Speaks {
            subject: Subject::Ip(ip),
            protocol: "http",
            role: Role::Server,
            port,
        });
    }
}

/// The "OS/version" part of a UPnP product string: what precedes "UPnP/" (UDA 2.0 §1.1.3:
/// "OS/version UPnP/2.0 product/version"; UDA 1.0 devices often separate with commas).
/// `None` when nothing precedes it.
pub fn os_part(product: &[u8]) -> Option<&[u8]> {
    let at = text::find_ignore_case(product, b"UPnP/")?;
    let part = product.get(..at)?.trim_ascii();
    let part = part.strip_suffix(b",").unwrap_or(part).trim_ascii();
    (!part.is_empty()).then_some(part)
}

/// Host and port of an `http://` URL whose host is an IP literal (RFC 3986 §3.2.2: dotted
/// IPv4 or a bracketed IPv6 address); names are not resolved here.
fn location_host(url: &[u8]) -> Option<(IpAddr, u16)> {
    let rest = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case(b"http://"))
        .and(url.get(7..))?;
    let authority = rest
        .split(|&b| b == b'/' || b == b'?' || b == b'#')
        .next()?;
    let authority = authority.rsplit(|&b| b == b'@').next()?;
    let (host, port) = if let Some(inner) = authority.strip_prefix(b"[") {
        let close = inner.iter().position(|&b| b == b']')?;
        (
            inner.get(..close)?,
            inner.get(close + 1..)?.strip_prefix(b":"),
        )
    } else {
        match authority.iter().position(|&b| b == b':') {
            Some(i) => (authority.get(..i)?, authority.get(i + 1..)),
            None => (authority, None),
        }
    };
    let ip: IpAddr = std::str::from_utf8(host).ok()?.parse().ok()?;
    let port = match port {
        Some(p) => std::str::from_utf8(p)
            .ok()?
            .parse()
            .ok()
            .filter(|&p| p != 0)?,
        None => 80,
    };
    is_unicast_ip(&ip).then_some((ip, port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::text::testing::{ctx, hex, never_panics};

    /// ssdp/ssdp.pcap frame 1
    const NOTIFY: &str = "
        4e4f54494659202a20485454502f312e310d0a484f53543a203233392e3235352e3235352e3235303a313930300d0a43
        414348452d434f4e54524f4c3a206d61782d6167653d3132300d0a6c4f434154494f4e3a20687474703a2f2f3139322e
        3136382e312e313a373430362f726f6f74446573632e786d6c0d0a5345525645523a2055506e502f546f6d61746f2031
        2e32382e37353030204d4950535232546f6173746d616e2d5254204b323620555342204578742055506e502f312e3020
        4d696e6955506e50642f312e360d0a4e543a2075706e703a726f6f746465766963650d0a55534e3a20757569643a3034
        3634356333642d653662342d346565612d626433352d3563333230633132393639663a3a75706e703a726f6f74646576
        6963650d0a4e54533a20737364703a616c6976650d0a4f50543a2022687474703a2f2f736368656d61732e75706e702e
        6f72672f75706e702f312f302f223b0d0a30312d4e4c533a20310d0a424f4f5449442e55504e502e4f52473a20310d0a
        434f4e46494749442e55504e502e4f52473a20313333370d0a0d0a
    ";
    /// mixed/profinet_io_cm_mixed_2.pcapng frame 36
    const MSEARCH: &str = "
        4d2d534541524348202a20485454502f312e310d0a486f73743a3233392e3235352e3235352e3235303a313930300d0a
        53543a75726e3a736368656d61732d75706e702d6f72673a6465766963653a496e7465726e6574476174657761794465
        766963653a310d0a4d616e3a22737364703a646973636f766572220d0a4d583a330d0a0d0a
    ";

    /// No search response is in the captures; this one follows the UDA 2.0 §1.3.3 layout
    /// with the SERVER string of the libupnp ("Portable SDK") stack.
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n\
LOCATION: http://192.168.1.20:49152/description.xml\r\n\
SERVER: Linux/2.6 UPnP/1.0 Portable SDK for UPnP devices/1.6.18\r\n\
ST: upnp:rootdevice\r\nUSN: uuid:2fac1234-31f8-11b4-a222-08002b34c003::upnp:rootdevice\r\n\r\n";

    fn c() -> FlowCtx {
        ctx(Transport::Udp, "192.168.1.1:9489", "239.255.255.250:1900")
    }

    fn run(d: &mut SsdpDissector, dir: Direction, data: &[u8]) -> Vec<Observation> {
        let mut out = Vec::new();
        assert_eq!(d.parse(dir, data, &c(), &mut out), data.len());
        out
    }

    fn speaks(subject: Subject, protocol: &'static str, role: Role, port: u16) -> Observation {
        Observation::Speaks {
            subject,
            protocol,
            role,
            port,
        }
    }

    /// tshark: NOTIFY from 192.168.1.1:9489, "lOCATION: http://192.168.1.1:7406/rootDesc.xml",
    /// "SERVER: UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6".
    /// Nothing precedes the first "UPnP/", so no OS is claimed.
    #[test]
    fn notify_names_the_sender_device() {
        let mut d = SsdpDissector::default();
        let out = run(&mut d, Direction::ToServer, &hex(NOTIFY));
        assert_eq!(
            out,
            [
                speaks(Subject::Client, "ssdp", Role::Server, 1900),
                Observation::Identity {
                    subject: Subject::Client,
                    field: Field::Description,
                    value:
                        "UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6"
                            .into(),
                    source: "ssdp server"
                },
                speaks(
                    Subject::Ip("192.168.1.1".parse().unwrap()),
                    "http",
                    Role::Server,
                    7406
                ),
            ]
        );
        // The periodic repeat says nothing new.
        assert_eq!(run(&mut d, Direction::ToServer, &hex(NOTIFY)), []);
    }

    /// tshark: M-SEARCH from 169.254.216.43 for InternetGatewayDevice, no USER-AGENT.
    #[test]
    fn search_names_a_control_point() {
        let mut d = SsdpDissector::default();
        assert_eq!(
            run(&mut d, Direction::ToServer, &hex(MSEARCH)),
            [speaks(Subject::Client, "ssdp", Role::Client, 1900)]
        );
        let search = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\nUSER-AGENT: Microsoft-Windows/10.0 UPnP/1.0 Foo/1\r\n\r\n";
        let out = run(&mut SsdpDissector::default(), Direction::ToServer, search);
        assert_eq!(
            out[1],
            Observation::Identity {
                subject: Subject::Client,
                field: Field::Os,
                value: "Windows 10/11".into(),
                source: "ssdp user-agent"
            }
        );
        assert!(matches!(
            &out[2],
            Observation::Identity {
                field: Field::Description,
                source: "ssdp user-agent",
                ..
            }
        ));
    }

    #[test]
    fn search_response_names_the_device() {
        let mut d = SsdpDissector::default();
        let subject = Subject::Server;
        assert_eq!(
            run(&mut d, Direction::ToClient, RESPONSE),
            [
                speaks(subject, "ssdp", Role::Server, 1900),
                Observation::Identity {
                    subject,
                    field: Field::Os,
                    value: "Linux 2.6".into(),
                    source: "ssdp server"
                },
                Observation::Identity {
                    subject,
                    field: Field::Description,
                    value: "Linux/2.6 UPnP/1.0 Portable SDK for UPnP devices/1.6.18".into(),
                    source: "ssdp server"
                },
                speaks(
                    Subject::Ip("192.168.1.20".parse().unwrap()),
                    "http",
                    Role::Server,
                    49152
                ),
            ]
        );
    }

    #[test]
    fn os_part_and_location() {
        assert_eq!(
            os_part(b"Linux, UPnP/1.0, Portable SDK for UPnP devices/1.6.19"),
            Some(&b"Linux"[..])
        );
        assert_eq!(os_part(b"UPnP/1.0 DLNADOC/1.50"), None);
        assert_eq!(os_part(b"Platinum/1.0.5.13"), None);
        assert_eq!(
            location_host(b"http://[fe80::1]:8080/x.xml"),
            Some(("fe80::1".parse().unwrap(), 8080))
        );
        assert_eq!(
            location_host(b"http://10.0.0.5/x.xml"),
            Some(("10.0.0.5".parse().unwrap(), 80))
        );
        assert_eq!(location_host(b"http://printer.local:80/x.xml"), None);
        assert_eq!(location_host(b"http://10.0.0.5:0/"), None);
        assert_eq!(location_host(b"ftp://10.0.0.5/"), None);
    }

    #[test]
    fn probe_accepts_ssdp_only() {
        assert_eq!(probe(Direction::ToServer, &hex(NOTIFY)), Probe::Yes);
        assert_eq!(probe(Direction::ToServer, &hex(MSEARCH)), Probe::Yes);
        assert_eq!(probe(Direction::ToClient, RESPONSE), Probe::Yes);
        assert_eq!(
            probe(Direction::ToClient, b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"),
            Probe::No
        );
        assert_eq!(
            probe(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n"),
            Probe::No
        );
        assert_eq!(
            probe(
                Direction::ToServer,
                &[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            ),
            Probe::No
        );
    }

    #[test]
    fn garbage_is_a_violation() {
        let out = run(
            &mut SsdpDissector::default(),
            Direction::ToServer,
            b"\x00\x01garbage",
        );
        assert!(matches!(
            out[..],
            [Observation::ProtocolViolation {
                protocol: "ssdp",
                ..
            }]
        ));
    }

    #[test]
    fn never_panics_on_truncations_or_noise() {
        let msgs = [hex(NOTIFY), hex(MSEARCH), RESPONSE.to_vec()];
        let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        never_panics(SPEC.new, &c(), &refs);
        for m in &refs {
            for n in 0..m.len() {
                let _ = probe(Direction::ToServer, &m[..n]);
            }
        }
    }
}
