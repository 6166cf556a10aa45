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

use super::framing::{Delivery, Unframed};
use super::http::product_token_os;
use super::source;
use super::spec::ProtocolSpec;
use super::text;
use super::{violation, Direction, Dissector, Probe, Transport};
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
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<SsdpDissector>::default()
}

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
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
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

/// Why an SSDP datagram is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SsdpError {
    #[error("not an SSDP start line")]
    StartLine,
}

/// Remembers, per direction, what was already reported, so periodic re-announcements do
/// not repeat observations.
#[derive(Debug, Default)]
struct SsdpDissector {
    reported: [Option<u64>; 2],
}

impl Unframed for SsdpDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        let Delivery { dir, data, .. } = delivery;
        let Some(msg) = parse_message(data) else {
            out.push(violation(NAME, SsdpError::StartLine));
            return;
        };
        // Devices re-announce every few seconds, once per service: report what changed.
        let key = text::fingerprint(msg.product.unwrap_or(&[]))
            ^ text::fingerprint(msg.location.unwrap_or(&[])).rotate_left(1)
            ^ msg.kind as u64;
        let seen = &mut self.reported[dir.index()];
        if *seen == Some(key) {
            return;
        }
        *seen = Some(key);
        report(dir.sender(), &msg, out);
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
        Kind::Search => (Role::Client, source::SSDP_USER_AGENT),
        _ => (Role::Server, source::SSDP_SERVER),
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
        .get(7..)
        .filter(|_| text::starts_with_ignore_case(url, b"http://"))?;
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
mod tests;
