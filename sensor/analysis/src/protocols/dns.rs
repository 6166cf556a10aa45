//! The DNS message family over UDP: unicast DNS (RFC 1035), multicast DNS (RFC 6762), LLMNR
//! (RFC 4795) and the NetBIOS Name Service (RFC 1002). One wire parser, four specs.
//!
//! All four share the RFC 1035 §4.1 layout: a 12-octet header, then question, answer,
//! authority and additional sections, with names compressed by pointers (§4.1.4). The parser
//! decodes names into a fixed buffer (no allocation), follows at most
//! [`MAX_POINTER_JUMPS`] pointers, each strictly backwards from where the current run of
//! labels began (so loops are impossible), and walks at most [`MAX_RECORDS`] records.
//!
//! What each flavour reports:
//! - DNS: in responses without error, every A/AAAA answer names its address
//!   (`Identity{Ip(addr), Hostname, owner}`, source::DNS_ANSWER), and every reverse-lookup PTR
//!   answer names the address its owner encodes (source::DNS_PTR).
//! - mDNS: responses (answers and additional records) the same way ("mdns"); the responder
//!   speaks mDNS; TXT records of a few service types carry the device model (source::MDNS_TXT).
//! - LLMNR: A/AAAA answers of responses ("llmnr"); the responder speaks LLMNR.
//! - NBNS: unique workstation/server names (suffix 0x00/0x20, group bit clear) from
//!   registrations, refreshes and positive responses name the NB address ("nbns"); a node
//!   status (NBSTAT) response names its sender.
//!
//! Queries prove nothing about the name asked for, so they add no identity; but a unicast
//! DNS standard query from the flow's client says the client asked for a name: each question
//! name (at most [`MAX_LOOKUPS`] a message) is a `Lookup` ("dns query"), for matching against
//! indicators of compromise. [`lookup_name`] is the one normal form of such names, shared
//! with TLS SNI and HTTP Host.

use super::framing::{Delivery, Unframed};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::text;
use super::{violation, Direction, Dissector, Probe, Transport};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation, Role, Source, Subject};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Records (questions included) walked per message; the rest are ignored.
pub const MAX_RECORDS: usize = 64;
/// Compression pointers followed per name.
pub const MAX_POINTER_JUMPS: usize = 16;
/// Addresses taken from one NB record (RFC 1002 §4.2.1.3 allows a list).
const MAX_NB_ADDRS: usize = 8;
/// Question names reported as lookups per query (RFC 1035 allows a list; resolvers send one).
pub const MAX_LOOKUPS: usize = 4;
/// Longest name in text form (RFC 1035 §2.3.4: 255 octets on the wire).
const MAX_NAME_TEXT: usize = 253;

/// Unicast DNS on UDP 53 (TCP DNS is not parsed).
pub static DNS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "dns",
    transport: Transport::Udp,
    ports: &[53],
    probe,
    new,
};

/// Multicast DNS on UDP 5353 (RFC 6762).
pub static MDNS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "mdns",
    transport: Transport::Udp,
    ports: &[5353],
    probe: probe_mdns,
    new: new_mdns,
};

/// Link-Local Multicast Name Resolution on UDP 5355 (RFC 4795).
pub static LLMNR_SPEC: ProtocolSpec = ProtocolSpec {
    name: "llmnr",
    transport: Transport::Udp,
    ports: &[5355],
    probe: probe_llmnr,
    new: new_llmnr,
};

/// NetBIOS Name Service on UDP 137 (RFC 1002 §4.2).
pub static NBNS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "nbns",
    transport: Transport::Udp,
    ports: &[137],
    probe: probe_nbns,
    new: new_nbns,
};

pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    probe_flavor(Flavor::Dns, data)
}

pub fn probe_mdns(_dir: Direction, data: &[u8]) -> Probe {
    probe_flavor(Flavor::Mdns, data)
}

pub fn probe_llmnr(_dir: Direction, data: &[u8]) -> Probe {
    probe_flavor(Flavor::Llmnr, data)
}

pub fn probe_nbns(_dir: Direction, data: &[u8]) -> Probe {
    probe_flavor(Flavor::Nbns, data)
}

fn new() -> Box<dyn Dissector> {
    Box::new(DnsDissector(Flavor::Dns))
}

fn new_mdns() -> Box<dyn Dissector> {
    Box::new(DnsDissector(Flavor::Mdns))
}

fn new_llmnr() -> Box<dyn Dissector> {
    Box::new(DnsDissector(Flavor::Llmnr))
}

fn new_nbns() -> Box<dyn Dissector> {
    Box::new(DnsDissector(Flavor::Nbns))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Dns,
    Mdns,
    Llmnr,
    Nbns,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Dns => "dns",
            Flavor::Mdns => "mdns",
            Flavor::Llmnr => "llmnr",
            Flavor::Nbns => "nbns",
        }
    }
}

/// Why a DNS (mDNS, LLMNR, NBNS) message is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    #[error("name starts past the message")]
    NameStart,
    #[error("name runs past the message")]
    NameTruncated,
    #[error("too many compression pointers")]
    Pointers,
    #[error("compression pointer does not point backwards")]
    PointerForward,
    #[error("compression pointer past the message")]
    PointerPast,
    #[error("reserved label type")]
    LabelType,
    #[error("name longer than 255 octets")]
    NameLength,
    #[error("name too long")]
    NameText,
    #[error("message shorter than the DNS header")]
    Short,
    #[error("record past the message")]
    RecordStart,
    #[error("record runs past the message")]
    RecordTruncated,
    #[error("record data runs past the message")]
    RdataTruncated,
    #[error("address record with a wrong data length")]
    AddressLength,
}

/// Record types used here (RFC 1035 §3.2.2, RFC 3596 §2.1, RFC 1002 §4.2.1.3).
mod rtype {
    pub const A: u16 = 1;
    pub const PTR: u16 = 12;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    /// NetBIOS general name service record (RFC 1002 §4.2.1.3), same value as DNS NIMLOC.
    pub const NB: u16 = 0x20;
    /// NetBIOS node status (RFC 1002 §4.2.18), same value as DNS SRV; only used for NBNS.
    pub const NBSTAT: u16 = 0x21;
}

/// Class IN (RFC 1035 §3.2.4). mDNS uses the top bit for cache-flush/unicast-response
/// (RFC 6762 §10.2, §5.4), so classes are compared after masking it off.
const CLASS_IN: u16 = 1;
const CLASS_MASK: u16 = 0x7fff;

/// The fixed header (RFC 1035 §4.1.1; RFC 1002 §4.2.1.1 for NBNS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    flags: u16,
    qd: u16,
    an: u16,
    ns: u16,
    ar: u16,
}

impl Header {
    const LEN: usize = 12;

    fn read(msg: &[u8]) -> Option<Header> {
        let mut c = Cursor::new(msg);
        let _id = c.u16_be()?;
        Some(Header {
            flags: c.u16_be()?,
            qd: c.u16_be()?,
            an: c.u16_be()?,
            ns: c.u16_be()?,
            ar: c.u16_be()?,
        })
    }

    fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    fn total(&self) -> usize {
        self.qd as usize + self.an as usize + self.ns as usize + self.ar as usize
    }
}

/// A decoded domain name: labels joined with '.', no trailing dot; empty for the root. The
/// wire form is at most 255 octets (RFC 1035 §2.3.4), so the text fits in 255 bytes.
struct Name {
    buf: [u8; 255],
    len: usize,
    /// Length of the first label (NetBIOS names live in it).
    first: usize,
}

impl Name {
    fn new() -> Name {
        Name {
            buf: [0; 255],
            len: 0,
            first: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn first_label(&self) -> &[u8] {
        self.buf.get(..self.first).unwrap_or(&[])
    }

    /// ASCII case-insensitive suffix test (DNS names compare case-insensitively,
    /// RFC 1035 §2.3.3).
    fn ends_with(&self, suffix: &[u8]) -> bool {
        text::ends_with_ignore_case(self.as_bytes(), suffix)
    }
}

/// Reads the name at `pos`, following compression pointers (RFC 1035 §4.1.4). Returns the
/// offset just after the name as it sits at `pos` (after its first pointer, if any).
fn read_name(msg: &[u8], pos: usize, name: &mut Name) -> Result<usize, DnsError> {
    name.len = 0;
    name.first = 0;
    let mut c = Cursor::new(msg);
    c.seek(pos).ok_or(DnsError::NameStart)?;
    let mut after = None;
    // Where the current run of labels began: a pointer must go strictly before it.
    let mut run_start = pos;
    let mut jumps = 0;
    let mut wire_len = 0usize;
    loop {
        let len = c.u8().ok_or(DnsError::NameTruncated)?;
        match len & 0xc0 {
            0x00 => {}
            0xc0 => {
                let lo = c.u8().ok_or(DnsError::NameTruncated)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                after.get_or_insert(c.pos());
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::Pointers);
                }
                if target >= run_start {
                    return Err(DnsError::PointerForward);
                }
                run_start = target;
                c.seek(target).ok_or(DnsError::PointerPast)?;
                continue;
            }
            // 0x40 (RFC 6891 extended label, deprecated by RFC 6891 §5) and 0x80.
            _ => return Err(DnsError::LabelType),
        }
        wire_len += 1 + usize::from(len);
        if wire_len > 255 {
            return Err(DnsError::NameLength);
        }
        if len == 0 {
            return Ok(after.unwrap_or(c.pos()));
        }
        let label = c.take(usize::from(len)).ok_or(DnsError::NameTruncated)?;
        if name.len > 0 {
            *name.buf.get_mut(name.len).ok_or(DnsError::NameText)? = b'.';
            name.len += 1;
        } else {
            name.first = label.len();
        }
        name.buf
            .get_mut(name.len..name.len + label.len())
            .ok_or(DnsError::NameText)?
            .copy_from_slice(label);
        name.len += label.len();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Question,
    Answer,
    Authority,
    Additional,
}

/// One question or resource record (RFC 1035 §4.1.2, §4.1.3). Questions have no TTL or data.
struct Record<'a> {
    section: Section,
    name: Name,
    rtype: u16,
    class: u16,
    rdata: &'a [u8],
    /// Offset of `rdata` in the message, for names inside it that use compression.
    rdata_pos: usize,
}

/// Walks the sections in order, calling `f` for each record, up to [`MAX_RECORDS`]. Records
/// before a malformed one have been delivered when the error returns.
fn walk<'a>(msg: &'a [u8], mut f: impl FnMut(&Record<'a>)) -> Result<Header, DnsError> {
    let h = Header::read(msg).ok_or(DnsError::Short)?;
    let sections = [
        (Section::Question, h.qd),
        (Section::Answer, h.an),
        (Section::Authority, h.ns),
        (Section::Additional, h.ar),
    ];
    let mut pos = Header::LEN;
    let mut seen = 0usize;
    for (section, count) in sections {
        for _ in 0..count {
            if seen == MAX_RECORDS {
                return Ok(h);
            }
            seen += 1;
            let mut rec = Record {
                section,
                name: Name::new(),
                rtype: 0,
                class: 0,
                rdata: &[],
                rdata_pos: 0,
            };
            let mut c = Cursor::new(msg);
            c.seek(read_name(msg, pos, &mut rec.name)?)
                .ok_or(DnsError::RecordStart)?;
            rec.rtype = c.u16_be().ok_or(DnsError::RecordTruncated)?;
            rec.class = c.u16_be().ok_or(DnsError::RecordTruncated)?;
            if section != Section::Question {
                let _ttl = c.u32_be().ok_or(DnsError::RecordTruncated)?;
                let rdlen = c.u16_be().ok_or(DnsError::RecordTruncated)?;
                rec.rdata_pos = c.pos();
                rec.rdata = c.take(usize::from(rdlen)).ok_or(DnsError::RdataTruncated)?;
            }
            pos = c.pos();
            f(&rec);
        }
    }
    Ok(h)
}

/// Content check shared by the four specs: the whole message must walk cleanly and the
/// header must make sense for the flavour. UDP datagrams are whole, so never `NeedMore`.
fn probe_flavor(flavor: Flavor, data: &[u8]) -> Probe {
    /// Record type OPT (RFC 6891 §6.1.2), whose class field is a UDP payload size.
    const OPT: u16 = 41;
    let mut first_nb_encoded = None;
    let mut plausible = true;
    let Ok(h) = walk(data, |r| {
        first_nb_encoded.get_or_insert(netbios_name(r.name.first_label()).is_some());
        // Classes IN, CH, HS, NONE, ANY (RFC 1035 §3.2.4, RFC 2136 §1.3); type 0 is reserved.
        let class_ok = r.rtype == OPT || matches!(r.class & CLASS_MASK, 1 | 3 | 4 | 254 | 255);
        plausible &= r.rtype != 0 && class_ok;
    }) else {
        return Probe::No;
    };
    // Every walked record (up to MAX_RECORDS: a long mDNS query may carry more) must look
    // like one; zero-filled payloads otherwise parse as root-name records of type 0.
    if !plausible || h.total() == 0 || h.rcode() > 10 {
        return Probe::No;
    }
    let ok = match flavor {
        // RFC 1035 §4.1.1 and later opcodes: QUERY, IQUERY (obsolete), STATUS, NOTIFY
        // (RFC 1996), UPDATE (RFC 2136). A query carries at least one question.
        Flavor::Dns => matches!(h.opcode(), 0 | 1 | 2 | 4 | 5) && (h.is_response() || h.qd > 0),
        // RFC 6762 §18.3 and §18.11: opcode and rcode are zero.
        Flavor::Mdns => h.opcode() == 0 && h.rcode() == 0,
        // RFC 4795 §2.1.1: opcode zero, exactly one question, in queries and responses.
        Flavor::Llmnr => h.opcode() == 0 && h.qd == 1,
        // RFC 1002 §4.2.1.1: query, registration, release, WACK, refresh (8 and 9 are both
        // used), multi-homed registration; the first name is first-level encoded.
        Flavor::Nbns => {
            matches!(h.opcode(), 0 | 5 | 6 | 7 | 8 | 9 | 15) && first_nb_encoded == Some(true)
        }
    };
    if ok {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// Stateless: each datagram is a whole message.
struct DnsDissector(Flavor);

impl Unframed for DnsDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        let Delivery { dir, data, .. } = delivery;
        dissect(self.0, dir, data, out);
    }
}

fn dissect(flavor: Flavor, dir: Direction, msg: &[u8], out: &mut Vec<Observation>) {
    let Some(h) = Header::read(msg) else {
        out.push(violation(flavor.name(), DnsError::Short));
        return;
    };
    let sender = dir.sender();
    let result = match flavor {
        Flavor::Nbns => walk(msg, |r| nbns_record(&h, r, sender, out)),
        _ => {
            // DNS and LLMNR: answers of successful responses. mDNS: RFC 6762 §18.3/§18.11
            // say responses with a non-zero opcode or rcode are ignored, and responders put
            // address records in the additional section too (§6.2).
            let wanted = h.is_response() && h.opcode() == 0 && h.rcode() == 0;
            // RFC 1035 §4.1.1: QR 0 and OPCODE 0 is a standard query; only the flow's client
            // asking counts (a query the other way would name the wrong asker).
            let asks = flavor == Flavor::Dns
                && !h.is_response()
                && h.opcode() == 0
                && dir == Direction::ToServer;
            let mut lookups = 0;
            walk(msg, |r| {
                let in_scope = r.section == Section::Answer
                    || (flavor == Flavor::Mdns && r.section == Section::Additional);
                if wanted && in_scope {
                    name_record(flavor, msg, r, sender, out);
                }
                if asks && r.section == Section::Question && lookups < MAX_LOOKUPS {
                    lookups += 1;
                    if let Some(name) = lookup_name(r.name.as_bytes()) {
                        out.push(Observation::Lookup {
                            name,
                            via: "dns query",
                        });
                    }
                }
            })
        }
    };
    if let Err(e) = result {
        out.push(violation(flavor.name(), e));
    }
    let port = match flavor {
        Flavor::Mdns => Some(5353),
        Flavor::Llmnr => Some(5355),
        _ => None,
    };
    // A multicast flow's "server" is a group address: say who really answers.
    let answered = h.is_response() && h.opcode() == 0 && h.rcode() == 0 && h.an > 0;
    if let (Some(port), true) = (port, answered) {
        out.push(Observation::Speaks {
            subject: sender,
            protocol: flavor.name(),
            role: Role::Server,
            port,
        });
    }
}

/// An address record (A: RFC 1035 §3.4.1, AAAA: RFC 3596 §2.2) or reverse PTR (RFC 1035
/// §3.5, RFC 3596 §2.5) naming a host; and for mDNS, TXT model hints.
fn name_record(
    flavor: Flavor,
    msg: &[u8],
    r: &Record<'_>,
    sender: Subject,
    out: &mut Vec<Observation>,
) {
    if r.class & CLASS_MASK != CLASS_IN {
        return;
    }
    let source = match flavor {
        Flavor::Dns => source::DNS_ANSWER,
        Flavor::Mdns => source::MDNS,
        Flavor::Llmnr => source::LLMNR,
        Flavor::Nbns => return,
    };
    match r.rtype {
        rtype::A | rtype::AAAA => {
            let ip = match r.rdata.len() {
                4 => <[u8; 4]>::try_from(r.rdata)
                    .ok()
                    .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                16 => <[u8; 16]>::try_from(r.rdata)
                    .ok()
                    .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                _ => None,
            };
            let Some(ip) = ip else {
                out.push(violation(flavor.name(), DnsError::AddressLength));
                return;
            };
            hostname(ip, r.name.as_bytes(), source, out);
        }
        rtype::PTR => {
            let Some(ip) = reverse_ip(&r.name) else {
                return;
            };
            let mut target = Name::new();
            if read_name(msg, r.rdata_pos, &mut target).is_ok() {
                let source = if flavor == Flavor::Dns {
                    source::DNS_PTR
                } else {
                    source
                };
                hostname(ip, target.as_bytes(), source, out);
            }
        }
        rtype::TXT if flavor == Flavor::Mdns => {
            if let Some(model) = txt_model(&r.name, r.rdata) {
                out.push(Observation::Identity {
                    subject: sender,
                    field: Field::Model,
                    value: model,
                    source: source::MDNS_TXT,
                });
            }
        }
        _ => {}
    }
}

/// A name a client asked for, in the one form lookups are compared in: ASCII lower case
/// (DNS names compare case-insensitively, RFC 1035 §2.3.3, RFC 4343), without the trailing
/// dot of an absolute name, bytes outside printable ASCII as `?`. `None` for an empty name,
/// one longer than 253 characters (RFC 1035 §2.3.4), and address literals, which name no
/// domain.
pub fn lookup_name(raw: &[u8]) -> Option<String> {
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    if raw.is_empty() || raw.len() > MAX_NAME_TEXT {
        return None;
    }
    let name: String = raw
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b.to_ascii_lowercase())
            } else {
                '?'
            }
        })
        .collect();
    if name.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(name)
}

fn hostname(ip: IpAddr, name: &[u8], source: Source, out: &mut Vec<Observation>) {
    if !is_unicast_ip(&ip) || ip.is_loopback() {
        return;
    }
    // A DNS-SD service instance (RFC 6763 §4.1: `<Instance>.<_service>._tcp.<domain>`) is
    // not a host name, though some stacks publish address records under it.
    let service = text::find_ignore_case(name, b"._tcp.").is_some()
        || text::find_ignore_case(name, b"._udp.").is_some();
    if service {
        return;
    }
    if let Some(value) = text::clean(name) {
        push_once(
            out,
            Observation::Identity {
                subject: Subject::Ip(ip),
                field: Field::Hostname,
                value,
                source,
            },
        );
    }
}

/// Pushes `o` unless the same observation is among the last few (an address record and its
/// reverse PTR, or an NB record listed twice, say the same thing).
fn push_once(out: &mut Vec<Observation>, o: Observation) {
    if !out.iter().rev().take(MAX_RECORDS).any(|p| *p == o) {
        out.push(o);
    }
}

/// The address a reverse-lookup name encodes: `d.c.b.a.in-addr.arpa` (RFC 1035 §3.5) or 32
/// reversed nibbles under `ip6.arpa` (RFC 3596 §2.5).
fn reverse_ip(name: &Name) -> Option<IpAddr> {
    let n = name.as_bytes();
    if name.ends_with(b".in-addr.arpa") {
        let head = n.get(..n.len() - b".in-addr.arpa".len())?;
        let mut octets = [0u8; 4];
        let mut parts = head.split(|&b| b == b'.');
        for slot in octets.iter_mut().rev() {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *slot = std::str::from_utf8(p).ok()?.parse().ok()?;
        }
        return parts
            .next()
            .is_none()
            .then(|| IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if name.ends_with(b".ip6.arpa") {
        let head = n.get(..n.len() - b".ip6.arpa".len())?;
        if head.len() != 63 {
            return None;
        }
        let mut v = 0u128;
        // Nibbles are listed least significant first, each followed by a dot.
        for (i, pair) in head.chunks(2).enumerate() {
            let d = char::from(*pair.first()?).to_digit(16)?;
            if pair.get(1).is_some_and(|&b| b != b'.') {
                return None;
            }
            v |= u128::from(d) << (4 * i);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(v)));
    }
    None
}

/// Service types whose TXT record names the device model, with the key that holds it:
/// Apple's `_device-info._tcp` and AirPlay `model`, Google Cast and HomeKit `md`, and the
/// Bonjour printing `ty` (make and model).
const MODEL_KEYS: &[(&[u8], &[u8])] = &[
    (b"._device-info._tcp.local", b"model"),
    (b"._airplay._tcp.local", b"model"),
    (b"._googlecast._tcp.local", b"md"),
    (b"._hap._tcp.local", b"md"),
    (b"._hap._udp.local", b"md"),
    (b"._ipp._tcp.local", b"ty"),
    (b"._ipps._tcp.local", b"ty"),
    (b"._printer._tcp.local", b"ty"),
    (b"._pdl-datastream._tcp.local", b"ty"),
];

/// The model a DNS-SD TXT record (RFC 6763 §6: length-prefixed `key=value` strings) states,
/// when the service type is known to carry one and the value is tidy printable ASCII.
fn txt_model(owner: &Name, rdata: &[u8]) -> Option<String> {
    let key = MODEL_KEYS
        .iter()
        .find(|(suffix, _)| owner.ends_with(suffix))?
        .1;
    let mut c = Cursor::new(rdata);
    while let Some(len) = c.u8() {
        let entry = c.take(usize::from(len))?;
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (k, v) = entry.split_at(eq);
        let v = v.get(1..).unwrap_or(&[]);
        // RFC 6763 §6.4: keys compare case-insensitively.
        if k.eq_ignore_ascii_case(key) && text::is_tidy_ascii(v, 64) {
            return text::clean(v);
        }
    }
    None
}

/// Decodes a first-level encoded NetBIOS name (RFC 1001 §14.1): 32 characters `A`–`P`, two
/// per octet. Returns the 15-octet name (trailing spaces removed) and the 16th octet, the
/// suffix that says which service registered it.
fn netbios_name(label: &[u8]) -> Option<([u8; 15], usize, u8)> {
    if label.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (slot, pair) in raw.iter_mut().zip(label.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        if !(b'A'..=b'P').contains(hi) || !(b'A'..=b'P').contains(lo) {
            return None;
        }
        *slot = ((hi - b'A') << 4) | (lo - b'A');
    }
    let [name @ .., suffix] = raw;
    let len = name.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
    Some((name, len, suffix))
}

/// A NetBIOS name worth reporting as a hostname: unique (not a group), registered by the
/// workstation (0x00) or server (0x20) service, not the `*` wildcard.
fn netbios_hostname(name: &[u8; 15], len: usize, suffix: u8, flags: u16) -> Option<String> {
    const GROUP: u16 = 0x8000; // RFC 1002 §4.2.1.3 NB_FLAGS G bit
    if flags & GROUP != 0 || !matches!(suffix, 0x00 | 0x20) {
        return None;
    }
    let name = name.get(..len)?;
    if name.first() == Some(&b'*') {
        return None;
    }
    text::clean(name)
}

/// NBNS records that prove a name (RFC 1002 §4.2): the NB record of a registration or
/// refresh request (additional section, §4.2.2, §4.2.4) and of a positive response (answer
/// section, §4.2.5, §4.2.13); node status responses (§4.2.18) list the sender's own names.
fn nbns_record(h: &Header, r: &Record<'_>, sender: Subject, out: &mut Vec<Observation>) {
    let registration = matches!(h.opcode(), 5 | 8 | 9 | 15);
    let proves = if h.is_response() {
        h.rcode() == 0 && (h.opcode() == 0 || registration) && r.section == Section::Answer
    } else {
        registration && r.section == Section::Additional
    };
    if !proves || r.class != CLASS_IN {
        return;
    }
    match r.rtype {
        rtype::NB => {
            let Some((name, len, suffix)) = netbios_name(r.name.first_label()) else {
                return;
            };
            // RDATA: NB_FLAGS (2) + NB_ADDRESS (4), repeated.
            for entry in r.rdata.chunks_exact(6).take(MAX_NB_ADDRS) {
                let [f0, f1, a, b, c, d] = <[u8; 6]>::try_from(entry).unwrap_or([0; 6]);
                let Some(host) = netbios_hostname(&name, len, suffix, u16::from_be_bytes([f0, f1]))
                else {
                    continue;
                };
                let ip = IpAddr::V4(Ipv4Addr::new(a, b, c, d));
                if is_unicast_ip(&ip) {
                    push_once(
                        out,
                        Observation::Identity {
                            subject: Subject::Ip(ip),
                            field: Field::Hostname,
                            value: host,
                            source: source::NBNS,
                        },
                    );
                }
            }
        }
        rtype::NBSTAT if h.is_response() => {
            // RDATA: NUM_NAMES (1), then NAME (16) + NAME_FLAGS (2) each, then statistics.
            let mut c = Cursor::new(r.rdata);
            let count = c.u8().unwrap_or(0);
            for _ in 0..count {
                let (Some(raw), Some(flags)) = (c.array::<16>(), c.u16_be()) else {
                    return;
                };
                let [name @ .., suffix] = raw;
                let len = name
                    .iter()
                    .rposition(|&b| b != b' ' && b != 0)
                    .map_or(0, |p| p + 1);
                if let Some(host) = netbios_hostname(&name, len, suffix, flags) {
                    // The first unique workstation/server name is the machine name.
                    out.push(Observation::Identity {
                        subject: sender,
                        field: Field::Hostname,
                        value: host,
                        source: source::NBNS,
                    });
                    return;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
