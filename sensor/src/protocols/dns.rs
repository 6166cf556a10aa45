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
//!   (`Identity{Ip(addr), Hostname, owner}`, "dns answer"), and every reverse-lookup PTR
//!   answer names the address its owner encodes ("dns ptr").
//! - mDNS: responses (answers and additional records) the same way ("mdns"); the responder
//!   speaks mDNS; TXT records of a few service types carry the device model ("mdns txt").
//! - LLMNR: A/AAAA answers of responses ("llmnr"); the responder speaks LLMNR.
//! - NBNS: unique workstation/server names (suffix 0x00/0x20, group bit clear) from
//!   registrations, refreshes and positive responses name the NB address ("nbns"); a node
//!   status (NBSTAT) response names its sender.
//!
//! Queries prove nothing about the name asked for, so they only feed the probe.

use super::registry::ProtocolSpec;
use super::text::{self, Cursor};
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation, Role, Subject};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Records (questions included) walked per message; the rest are ignored.
pub const MAX_RECORDS: usize = 64;
/// Compression pointers followed per name.
pub const MAX_POINTER_JUMPS: usize = 16;
/// Addresses taken from one NB record (RFC 1002 §4.2.1.3 allows a list).
const MAX_NB_ADDRS: usize = 8;

/// Unicast DNS on UDP 53 (TCP DNS is not parsed).
pub static DNS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "dns",
    transport: Transport::Udp,
    ports: &[53],
    probe: |_, d| probe(Flavor::Dns, d),
    new: || Box::new(DnsDissector(Flavor::Dns)),
};

/// Multicast DNS on UDP 5353 (RFC 6762).
pub static MDNS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "mdns",
    transport: Transport::Udp,
    ports: &[5353],
    probe: |_, d| probe(Flavor::Mdns, d),
    new: || Box::new(DnsDissector(Flavor::Mdns)),
};

/// Link-Local Multicast Name Resolution on UDP 5355 (RFC 4795).
pub static LLMNR_SPEC: ProtocolSpec = ProtocolSpec {
    name: "llmnr",
    transport: Transport::Udp,
    ports: &[5355],
    probe: |_, d| probe(Flavor::Llmnr, d),
    new: || Box::new(DnsDissector(Flavor::Llmnr)),
};

/// NetBIOS Name Service on UDP 137 (RFC 1002 §4.2).
pub static NBNS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "nbns",
    transport: Transport::Udp,
    ports: &[137],
    probe: |_, d| probe(Flavor::Nbns, d),
    new: || Box::new(DnsDissector(Flavor::Nbns)),
};

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
        let n = self.as_bytes();
        n.len()
            .checked_sub(suffix.len())
            .and_then(|start| n.get(start..))
            .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
    }
}

/// Reads the name at `pos`, following compression pointers (RFC 1035 §4.1.4). Returns the
/// offset just after the name as it sits at `pos` (after its first pointer, if any).
fn read_name(msg: &[u8], pos: usize, name: &mut Name) -> Result<usize, &'static str> {
    name.len = 0;
    name.first = 0;
    let mut c = Cursor::new(msg);
    c.seek(pos).ok_or("name starts past the message")?;
    let mut after = None;
    // Where the current run of labels began: a pointer must go strictly before it.
    let mut run_start = pos;
    let mut jumps = 0;
    let mut wire_len = 0usize;
    loop {
        let len = c.u8().ok_or("name runs past the message")?;
        match len & 0xc0 {
            0x00 => {}
            0xc0 => {
                let lo = c.u8().ok_or("name runs past the message")?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                after.get_or_insert(c.pos());
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err("too many compression pointers");
                }
                if target >= run_start {
                    return Err("compression pointer does not point backwards");
                }
                run_start = target;
                c.seek(target)
                    .ok_or("compression pointer past the message")?;
                continue;
            }
            // 0x40 (RFC 6891 extended label, deprecated by RFC 6891 §5) and 0x80.
            _ => return Err("reserved label type"),
        }
        wire_len += 1 + usize::from(len);
        if wire_len > 255 {
            return Err("name longer than 255 octets");
        }
        if len == 0 {
            return Ok(after.unwrap_or(c.pos()));
        }
        let label = c
            .take(usize::from(len))
            .ok_or("name runs past the message")?;
        if name.len > 0 {
            *name.buf.get_mut(name.len).ok_or("name too long")? = b'.';
            name.len += 1;
        } else {
            name.first = label.len();
        }
        name.buf
            .get_mut(name.len..name.len + label.len())
            .ok_or("name too long")?
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
fn walk<'a>(msg: &'a [u8], mut f: impl FnMut(&Record<'a>)) -> Result<Header, &'static str> {
    let h = Header::read(msg).ok_or("message shorter than the DNS header")?;
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
                .ok_or("record past the message")?;
            rec.rtype = c.u16_be().ok_or("record runs past the message")?;
            rec.class = c.u16_be().ok_or("record runs past the message")?;
            if section != Section::Question {
                let _ttl = c.u32_be().ok_or("record runs past the message")?;
                let rdlen = c.u16_be().ok_or("record runs past the message")?;
                rec.rdata_pos = c.pos();
                rec.rdata = c
                    .take(usize::from(rdlen))
                    .ok_or("record data runs past the message")?;
            }
            pos = c.pos();
            f(&rec);
        }
    }
    Ok(h)
}

/// Content check shared by the four specs: the whole message must walk cleanly and the
/// header must make sense for the flavour. UDP datagrams are whole, so never `NeedMore`.
fn probe(flavor: Flavor, data: &[u8]) -> Probe {
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

impl Dissector for DnsDissector {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        dissect(self.0, dir, data, out);
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

fn dissect(flavor: Flavor, dir: Direction, msg: &[u8], out: &mut Vec<Observation>) {
    let Some(h) = Header::read(msg) else {
        out.push(violation(flavor, "message shorter than the DNS header"));
        return;
    };
    let sender = sender(dir);
    let result = match flavor {
        Flavor::Nbns => walk(msg, |r| nbns_record(&h, r, sender, out)),
        _ => {
            // DNS and LLMNR: answers of successful responses. mDNS: RFC 6762 §18.3/§18.11
            // say responses with a non-zero opcode or rcode are ignored, and responders put
            // address records in the additional section too (§6.2).
            let wanted = h.is_response() && h.opcode() == 0 && h.rcode() == 0;
            walk(msg, |r| {
                let in_scope = r.section == Section::Answer
                    || (flavor == Flavor::Mdns && r.section == Section::Additional);
                if wanted && in_scope {
                    name_record(flavor, msg, r, sender, out);
                }
            })
        }
    };
    if let Err(e) = result {
        out.push(violation(flavor, e));
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

fn violation(flavor: Flavor, reason: &str) -> Observation {
    Observation::ProtocolViolation {
        protocol: flavor.name(),
        reason: reason.to_string(),
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
        Flavor::Dns => "dns answer",
        Flavor::Mdns => "mdns",
        Flavor::Llmnr => "llmnr",
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
                out.push(violation(flavor, "address record with a wrong data length"));
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
                    "dns ptr"
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
                    source: "mdns txt",
                });
            }
        }
        _ => {}
    }
}

fn hostname(ip: IpAddr, name: &[u8], source: &'static str, out: &mut Vec<Observation>) {
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
                            source: "nbns",
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
                        source: "nbns",
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
mod tests {
    use super::*;
    use crate::protocols::text::testing::{ctx, hex, never_panics};

    /// dns/dns-two-responses.pcap frame 2
    const CMU_RESPONSE: &str = "
        5294841000010004000200040377777703636d75036564750000010001c00c00050001000151800011075757572d434d
        5506414e44524557c010c00c002e000100015180009b0005070300015180515cb25b5135187a1b2303636d7503656475
        006b741ab2616a3f33b02d97c41edb5fc04bde32780687bdcf24b8208dae7550e35b164428fba91d0c72e757a70dcb38
        924d702d04a5919b673d05065e2406b93b99cb4ad945c46d550a28edbcc1cbe6db31c7b8650a6428acfab46fc5987db5
        61a714893a1003e464f1550d3e3c344c093a3475efddd7d5d2176c6203350a2eaac0290005000100000005000c095757
        572d434d552d32c031c0ed0001000100005460000480020aa3c0310002000100015180000e074e534155544831034e45
        54c058c0310002000100015180000a074e534155544832c11dc1150001000100015180000480020108c115001c000100
        01518000102607fb28000000000000000000000004c12f0001000100015180000480ed94a80000291000000080000000
    ";
    /// dns/dns-two-responses.pcap frame 1
    const CMU_QUERY: &str = "
        5294001000010000000000010377777703636d750365647500000100010000291000000080000000
    ";
    /// dns/dns-txt-multiple.pcap frame 2
    const TXT_RESPONSE: &str = "
        6daf8500000100030005000504666c6b720a5f646f6d61696e6b657906666c69636b7203636f6d0000100001c00c0005
        00010000038400070466613134c011c0380005000100000384001804666131340a5f646f6d61696e6b6579057961686f
        6fc023c04b0010000100001c2000e37f6b3d7273613b20703d4d4947664d413047435371475349623344514542415155
        414134474e4144434269514b4267514450645066794a4d32523247714d795a4d31666c547a46654449552b65374b6d69
        4b527735797a335868742b6367454969486d6d356c49474275574363357274697930436378655070716363504b6a6e62
        4853724449323350552b484f75714a366572674531494f734c364c4f4567473659543533764d62385a36556942537359
        506c724445432b384355496b544c4d4c584a6175524b35624e524b56314154477a4746706633546a5a74577749444151
        4142c050000200010002a3000006036e7335c05bc050000200010002a3000006036e7334c05bc050000200010002a300
        0006036e7333c05bc050000200010002a3000006036e7332c05bc050000200010002a3000006036e7331c05bc1a60001
        000100127500000444b48310c19400010001001275000004448eff10c18200010001001275000004cb54dd35c1700001
        0001001275000004628a0b9dc15e0001000100127500000477a0f77c
    ";
    /// mixed/wikipedia.pcap frame 21
    const WIKI_A: &str = "
        65f0818000010002000300030675706c6f61640977696b696d65646961036f72670000010001c00c000500010000007c
        000f0675706c6f616405706d747061c013c032000100010000086c0004d0509803c013000200010000c0480006036e73
        31c013c013000200010000c0480006036e7332c013c013000200010000c0480006036e7330c013c08100010001000008
        5d0004d0509882c05d000100010000085d0004d050988ec06f000100010000085d00045bc6ae04
    ";
    /// mixed/wikipedia.pcap frame 19
    const WIKI_NXDOMAIN: &str = "
        673c858300010000000100000675706c6f61640977696b696d65646961036f7267046e63736104756975630365647500
        001c0001c02100060001000003840023036e7330c021066e6574646576c021000063e300000e100000038400093a8000
        000384
    ";
    /// mdns/mdns.pcap frame 2
    const MDNS_QUERY: &str = "
        000000000002000000000000045f697070045f746370056c6f63616c00000c0001055f69707073c011000c0001
    ";
    /// mdns/mdns.pcap frame 4
    const MDNS_RESPONSE: &str = "
        0000840000000006000000001c6a6f68616e6e612d51454d552d5669727475616c2d4d616368696e65056c6f63616c00
        001c8001000000000010fd52429ec03c8235883cd6fffee14dc401340163016401340131016501650166016601660136
        016401630133013801380135013301320138016301330130016301650139013201340132013501640166036970360461
        72706100000c8001000000000002c00cc00c001c8001000000000010fd52429ec03c823559685bc61563f82f01660132
        01380166013301360135013101360163016201350138013601390135c06a000c8001000000000002c00cc00c00018001
        0000000000040a00020701370132013002313007696e2d61646472c08e000c8001000000000002c00c
    ";
    /// mdns/mdns.pcap frame 12
    const MDNS_PROBE: &str = "
        000000000004000000060000013401630164013401310165016501660166016601360164016301330138013801350133
        013201380163013301300163016501390132013401320135016401660369703604617270610000ff00011c6a6f68616e
        6e612d51454d552d5669727475616c2d4d616368696e65056c6f63616c0000ff000101370132013002313007696e2d61
        646472c05000ff00010166013201380166013301360135013101360163016201350138013601390135c02c00ff0001c0
        5a000100010000007800040a000207c082000c0001000000780002c05ac05a001c0001000000780010fd52429ec03c82
        3559685bc61563f82fc099000c0001000000780002c05ac05a001c0001000000780010fd52429ec03c8235883cd6fffe
        e14dc4c00c000c0001000000780002c05a
    ";
    /// mixed/wikipedia.pcap frame 3
    const MDNS_SRV: &str = "
        0000840000000001000000040667656d696e69095f736674702d737368045f746370056c6f63616c0000218001000000
        78000f0000000000160667656d696e69c022c039001c8001000000780010fe800000000000000217f2fffed7cf65c039
        000180010000007800048d8edc32c00c002f8001000000780009c00c00050000800040c039002f8001000000780008c0
        39000440000008
    ";
    /// mixed/wikipedia.pcap frame 121
    const LLMNR_QUERY: &str = "
        4620000000010000000000000f4252574330434233383344314634320000010001
    ";
    /// other-ics/beckhoff-addroute1.pcapng frame 8
    const NBNS_QUERY: &str = "
        a76901100001000000000000204544464946504441454544484446444744414341434143414341434143414141000020
        0001
    ";
    /// other-ics/beckhoff-addroute1.pcapng frame 9
    const NBNS_POSITIVE: &str = "
        a76985000000000100000000204544464946504441454544484446444744414341434143414341434143414141000020
        00010000000000060000c0a80108
    ";
    /// other-ics/beckhoff-addroute1.pcapng frame 29
    const NBSTAT_RESPONSE: &str = "
        0a348400000000010000000020434b414141414141414141414141414141414141414141414141414141414141000021
        0001000000000065035348454e4855414a362d5043202020000400574f524b47524f5550202020202020008400534845
        4e4855414a362d5043202020200400b8aeed7e1b4c000000000000000000000000000000000000000000000000000000
        00000000000000000000000000
    ";
    /// mixed/profinet_io_cm_mixed_2.pcapng frame 94
    const NBNS_REG_00: &str = "
        92f92910000100000000000120454c4648434e4647454d454a4641454443414341434143414341434143414141000020
        0001c00c00200001000493e000066000c0a80101
    ";
    /// mixed/profinet_io_cm_mixed_2.pcapng frame 96
    const NBNS_REG_GROUP: &str = "
        92fa2910000100000000000120464845504643454c454846434550464646414341434143414341434143414141000020
        0001c00c00200001000493e00006e000c0a80101
    ";

    fn run(flavor: Flavor, dir: Direction, payload: &[u8]) -> Vec<Observation> {
        let c = ctx(Transport::Udp, "10.0.0.1:5353", "224.0.0.251:5353");
        let mut out = Vec::new();
        DnsDissector(flavor).parse(dir, payload, &c, &mut out);
        out
    }

    fn host(ip: &str, name: &str, source: &'static str) -> Observation {
        Observation::Identity {
            subject: Subject::Ip(ip.parse().unwrap()),
            field: Field::Hostname,
            value: name.to_string(),
            source,
        }
    }

    fn speaks(subject: Subject, protocol: &'static str, port: u16) -> Observation {
        Observation::Speaks {
            subject,
            protocol,
            role: Role::Server,
            port,
        }
    }

    /// A message from uncompressed parts, for cases the captures lack.
    fn build(flags: u16, questions: &[(&str, u16)], answers: &[(&str, u16, &[u8])]) -> Vec<u8> {
        let name = |m: &mut Vec<u8>, n: &str| {
            for l in n.split('.').filter(|l| !l.is_empty()) {
                m.push(l.len() as u8);
                m.extend_from_slice(l.as_bytes());
            }
            m.push(0);
        };
        let mut m = vec![0, 0];
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&(questions.len() as u16).to_be_bytes());
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        for (n, t) in questions {
            name(&mut m, n);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1]);
        }
        for (n, t, rdata) in answers {
            name(&mut m, n);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0x80, 1, 0, 0, 0x11, 0x94]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    /// tshark: answers CNAME, RRSIG, CNAME, then A WWW-CMU-2.ANDREW.cmu.edu 128.2.10.163;
    /// the glue A/AAAA records of the additional section are not answers.
    #[test]
    fn dns_answer_names_the_address_after_cnames() {
        assert_eq!(
            run(Flavor::Dns, Direction::ToClient, &hex(CMU_RESPONSE)),
            [host(
                "128.2.10.163",
                "WWW-CMU-2.ANDREW.cmu.edu",
                "dns answer"
            )]
        );
        assert_eq!(
            run(Flavor::Dns, Direction::ToClient, &hex(WIKI_A)),
            [host(
                "208.80.152.3",
                "upload.pmtpa.wikimedia.org",
                "dns answer"
            )]
        );
        // Queries, NXDOMAIN and TXT-only answers name nobody.
        for m in [CMU_QUERY, WIKI_NXDOMAIN, TXT_RESPONSE] {
            assert_eq!(run(Flavor::Dns, Direction::ToClient, &hex(m)), []);
        }
    }

    #[test]
    fn dns_reverse_ptr() {
        let m = build(
            0x8180,
            &[("7.2.0.10.in-addr.arpa", 12)],
            &[("7.2.0.10.in-addr.arpa", 12, b"\x03plc\x04site\x00")],
        );
        assert_eq!(
            run(Flavor::Dns, Direction::ToClient, &m),
            [host("10.0.2.7", "plc.site", "dns ptr")]
        );
    }

    /// tshark: response from 10.0.2.7 with AAAA fd52:…:4dc4, AAAA fd52:…:f82f, A 10.0.2.7
    /// for johanna-QEMU-Virtual-Machine.local, and the three reverse PTRs to it.
    #[test]
    fn mdns_response_names_addresses_once() {
        let name = "johanna-QEMU-Virtual-Machine.local";
        assert_eq!(
            run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_RESPONSE)),
            [
                host("fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4", name, "mdns"),
                host("fd52:429e:c03c:8235:5968:5bc6:1563:f82f", name, "mdns"),
                host("10.0.2.7", name, "mdns"),
                speaks(Subject::Client, "mdns", 5353),
            ]
        );
    }

    /// tshark: SRV gemini._sftp-ssh._tcp.local answer; additional AAAA
    /// fe80::217:f2ff:fed7:cf65 and A 141.142.220.50 for gemini.local, and two NSEC.
    #[test]
    fn mdns_additional_records_count() {
        assert_eq!(
            run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_SRV)),
            [
                host("fe80::217:f2ff:fed7:cf65", "gemini.local", "mdns"),
                host("141.142.220.50", "gemini.local", "mdns"),
                speaks(Subject::Client, "mdns", 5353),
            ]
        );
    }

    /// tshark: a probe query (4 questions, 6 proposed records in the authority section) and a
    /// PTR query: proposals are not answers.
    #[test]
    fn mdns_queries_prove_nothing() {
        assert_eq!(run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_PROBE)), []);
        assert_eq!(run(Flavor::Mdns, Direction::ToServer, &hex(MDNS_QUERY)), []);
    }

    #[test]
    fn mdns_txt_model_only_for_known_services_and_tidy_values() {
        let m = build(
            0x8400,
            &[],
            &[(
                "Office._device-info._tcp.local",
                16,
                b"\x0dmodel=J105aAP\x0aosxvers=20",
            )],
        );
        assert_eq!(
            run(Flavor::Mdns, Direction::ToServer, &m),
            [
                Observation::Identity {
                    subject: Subject::Client,
                    field: Field::Model,
                    value: "J105aAP".into(),
                    source: "mdns txt"
                },
                speaks(Subject::Client, "mdns", 5353),
            ]
        );
        let m = build(
            0x8400,
            &[],
            &[("Office._other._tcp.local", 16, b"\x0dmodel=J105aAP")],
        );
        assert_eq!(
            run(Flavor::Mdns, Direction::ToServer, &m),
            [speaks(Subject::Client, "mdns", 5353)]
        );
        let m = build(
            0x8400,
            &[],
            &[("TV._googlecast._tcp.local", 16, b"\x07md=\x01\x02\x03")],
        );
        assert_eq!(
            run(Flavor::Mdns, Direction::ToServer, &m),
            [speaks(Subject::Client, "mdns", 5353)]
        );
    }

    /// There is no LLMNR response in the captures: this one is the real query of
    /// wikipedia.pcap frame 121 (A BRWC0CB383D1F42) turned into its response per RFC 4795
    /// §2.1.1 (QR set, question copied, one answer).
    #[test]
    fn llmnr_response_names_the_responder() {
        assert_eq!(
            run(Flavor::Llmnr, Direction::ToServer, &hex(LLMNR_QUERY)),
            []
        );
        let mut m = hex(LLMNR_QUERY);
        m[2] |= 0x80;
        m[7] = 1;
        m.extend_from_slice(&[
            0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 141, 142, 220, 226,
        ]);
        assert_eq!(probe(Flavor::Llmnr, &m), Probe::Yes);
        assert_eq!(
            run(Flavor::Llmnr, Direction::ToClient, &m),
            [
                host("141.142.220.226", "BRWC0CB383D1F42", "llmnr"),
                speaks(Subject::Server, "llmnr", 5355),
            ]
        );
    }

    /// tshark: positive name query response CX_0D7560<00>, unique, B-node, addr 192.168.1.8.
    #[test]
    fn nbns_positive_response() {
        assert_eq!(
            run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_POSITIVE)),
            [host("192.168.1.8", "CX_0D7560", "nbns")]
        );
        assert_eq!(run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_QUERY)), []);
    }

    /// tshark: NBSTAT response from 192.168.1.99 listing SHENHUAJ6-PC<00> (unique),
    /// WORKGROUP<00> (group), SHENHUAJ6-PC<20>.
    #[test]
    fn nbns_node_status_names_the_sender() {
        assert_eq!(
            run(Flavor::Nbns, Direction::ToClient, &hex(NBSTAT_RESPONSE)),
            [Observation::Identity {
                subject: Subject::Server,
                field: Field::Hostname,
                value: "SHENHUAJ6-PC".into(),
                source: "nbns"
            }]
        );
    }

    /// tshark: registration of KW-VLIPC<00> (unique, 192.168.1.1) and of WORKGROUP<00>
    /// (group name: not a hostname).
    #[test]
    fn nbns_registration() {
        assert_eq!(
            run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_REG_00)),
            [host("192.168.1.1", "KW-VLIPC", "nbns")]
        );
        assert_eq!(
            run(Flavor::Nbns, Direction::ToServer, &hex(NBNS_REG_GROUP)),
            []
        );
    }

    #[test]
    fn netbios_first_level_encoding() {
        // RFC 1001 §14.1 example: "FRED" padded with spaces.
        let (name, len, suffix) = netbios_name(b"EGFCEFEECACACACACACACACACACACACA").unwrap();
        assert_eq!(&name[..len], b"FRED");
        assert_eq!(suffix, 0x20);
        assert!(netbios_name(b"EGFCEFEECACACACACACACACACACACACZ").is_none());
        assert!(netbios_name(b"EGFC").is_none());
    }

    #[test]
    fn probes_accept_their_own_and_refuse_the_rest() {
        for m in [CMU_RESPONSE, CMU_QUERY, TXT_RESPONSE, WIKI_A, WIKI_NXDOMAIN] {
            assert_eq!(probe(Flavor::Dns, &hex(m)), Probe::Yes);
        }
        for m in [MDNS_QUERY, MDNS_RESPONSE, MDNS_PROBE, MDNS_SRV] {
            assert_eq!(probe(Flavor::Mdns, &hex(m)), Probe::Yes);
        }
        assert_eq!(probe(Flavor::Llmnr, &hex(LLMNR_QUERY)), Probe::Yes);
        assert_eq!(probe(Flavor::Llmnr, &hex(MDNS_RESPONSE)), Probe::No);
        for m in [
            NBNS_QUERY,
            NBNS_POSITIVE,
            NBSTAT_RESPONSE,
            NBNS_REG_00,
            NBNS_REG_GROUP,
        ] {
            assert_eq!(probe(Flavor::Nbns, &hex(m)), Probe::Yes);
        }
        assert_eq!(probe(Flavor::Nbns, &hex(CMU_QUERY)), Probe::No);
        for f in [Flavor::Dns, Flavor::Mdns, Flavor::Llmnr, Flavor::Nbns] {
            assert_eq!(probe(f, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Probe::No);
            assert_eq!(probe(f, b"HTTP/1.1 200 OK\r\n\r\n"), Probe::No);
            assert_eq!(probe(f, &[0u8; 12]), Probe::No);
            assert_eq!(probe(f, &hex(CMU_RESPONSE)[..100]), Probe::No);
        }
        let mut state = 1u32;
        let mut yes = 0;
        for _ in 0..2000 {
            let buf: Vec<u8> = (0..64)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8
                })
                .collect();
            if probe(Flavor::Dns, &buf) == Probe::Yes {
                yes += 1;
            }
        }
        assert_eq!(yes, 0);
    }

    #[test]
    fn compression_loops_and_long_chains_are_refused() {
        let mut name = Name::new();
        // A pointer to itself, and a label followed by a pointer back to it.
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[0xc0, 12]);
        assert_eq!(
            read_name(&m, 12, &mut name),
            Err("compression pointer does not point backwards")
        );
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[1, b'a', 0xc0, 12]);
        assert_eq!(
            read_name(&m, 12, &mut name),
            Err("compression pointer does not point backwards")
        );
        // A forward pointer.
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[0xc0, 14, 0]);
        assert!(read_name(&m, 12, &mut name).is_err());
        // Twenty backward pointers in a row.
        let mut m = vec![0u8; 1];
        for i in 0..20u8 {
            m.extend_from_slice(&[0xc0, if i == 0 { 0 } else { 1 + 2 * (i - 1) }]);
        }
        assert_eq!(
            read_name(&m, m.len() - 2, &mut name),
            Err("too many compression pointers")
        );
        // Reserved label types, and a legal pointer.
        assert_eq!(read_name(&[0x40], 0, &mut name), Err("reserved label type"));
        let m = [1, b'a', 0, 1, b'b', 0xc0, 0];
        assert_eq!(read_name(&m, 3, &mut name), Ok(7));
        assert_eq!(name.as_bytes(), b"b.a");
    }

    #[test]
    fn malformed_messages_are_violations() {
        let m = hex(CMU_RESPONSE);
        let out = run(Flavor::Dns, Direction::ToClient, &m[..m.len() - 20]);
        assert!(matches!(
            out.last(),
            Some(Observation::ProtocolViolation {
                protocol: "dns",
                ..
            })
        ));
        // The answer before the damage still counts.
        assert_eq!(
            out[0],
            host("128.2.10.163", "WWW-CMU-2.ANDREW.cmu.edu", "dns answer")
        );
        assert!(matches!(
            run(Flavor::Nbns, Direction::ToClient, &[1, 2, 3])[..],
            [Observation::ProtocolViolation {
                protocol: "nbns",
                ..
            }]
        ));
    }

    #[test]
    fn never_panics_on_truncations_or_noise() {
        let all = [
            CMU_RESPONSE,
            CMU_QUERY,
            TXT_RESPONSE,
            WIKI_A,
            MDNS_RESPONSE,
            MDNS_PROBE,
            MDNS_SRV,
            LLMNR_QUERY,
            NBNS_POSITIVE,
            NBSTAT_RESPONSE,
            NBNS_REG_00,
        ];
        let msgs: Vec<Vec<u8>> = all.iter().map(|h| hex(h)).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let c = ctx(Transport::Udp, "10.0.0.1:5353", "224.0.0.251:5353");
        for spec in [&DNS_SPEC, &MDNS_SPEC, &LLMNR_SPEC, &NBNS_SPEC] {
            never_panics(spec.new, &c, &refs);
            for m in &refs {
                for n in 0..m.len() {
                    let _ = (spec.probe)(Direction::ToServer, &m[..n]);
                }
            }
        }
    }
}
