//! DHCPv4 (RFC 2131, options RFC 2132): who owns which address, and what the client says
//! about itself.
//!
//! DHCP travels as broadcast as often as unicast (a client without an address sends from
//! `0.0.0.0:68` to `255.255.255.255:67`, a server may answer to `255.255.255.255:68`), so the
//! flow's ends say little about the device. Every observation therefore names its subject
//! explicitly: the client by its hardware address (`chaddr`), the server by its server
//! identifier (option 54).
//!
//! What is reported, and why it is proven:
//! - client hostname (option 12), FQDN (option 81), vendor class (option 60) and the OS the
//!   vendor class or parameter request list (option 55) reveals, about `Subject::Mac(chaddr)`;
//!   vendor class and request list only from client messages (a server may echo a class);
//! - `Binding{chaddr, yiaddr}` on DHCPACK (the server committed the lease, RFC 2131 §3.1
//!   step 5), or `Binding{chaddr, ciaddr}` on an ACK to DHCPINFORM (yiaddr 0);
//! - `Binding{chaddr, ciaddr}` on DHCPREQUEST/DHCPINFORM: RFC 2131 §4.3.2/§4.4.3 let a client
//!   fill `ciaddr` only with an address it holds (renewing, rebinding, inform);
//! - the requested address (option 50) is a wish, not a fact: it never makes a binding on
//!   its own; the ACK that grants it carries the address in `yiaddr`;
//! - the server identifier (option 54) speaks DHCP as a server on port 67.

use super::framing::{Delivery, Unframed};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::text;
use super::{violation, Direction, Dissector, Probe, Transport};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation, Role, Subject};
use otwatch_common::Mac;
use std::net::{IpAddr, Ipv4Addr};

const NAME: &str = "dhcp";

/// DHCP on UDP 67 (the server port; client port 68 flows always have 67 at the other end).
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: NAME,
    transport: Transport::Udp,
    ports: &[67],
    probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::new(DhcpDissector)
}

/// Fixed BOOTP header length before the magic cookie (RFC 2131 §2, figure 1).
const FIXED_LEN: usize = 236;
/// RFC 2131 §3: the first four octets of the options field.
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Offsets of the fixed fields (RFC 2131 §2, figure 1 and table 1).
mod field {
    use std::ops::Range;
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const CHADDR: Range<usize> = 28..44;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const OPTIONS: usize = 240;
}

/// BOOTP op codes (RFC 951 §3, RFC 2131 §2).
const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;

/// DHCP message types, option 53 (RFC 2132 §9.6).
mod msg {
    pub const REQUEST: u8 = 3;
    pub const ACK: u8 = 5;
    pub const INFORM: u8 = 8;
}

/// Option codes used here (RFC 2132 unless noted).
mod opt {
    pub const PAD: u8 = 0;
    pub const HOSTNAME: u8 = 12;
    pub const OVERLOAD: u8 = 52;
    pub const MSG_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAM_LIST: u8 = 55;
    pub const VENDOR_CLASS: u8 = 60;
    /// Client FQDN, RFC 4702.
    pub const CLIENT_FQDN: u8 = 81;
    pub const END: u8 = 255;
}

/// Accepts a BOOTP header with op 1 or 2, a sane `hlen` and the DHCP magic cookie at offset
/// 236 (RFC 2131 §3). Either direction: relay agents and servers both use port 67.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    if data.len() < field::OPTIONS {
        return Probe::No;
    }
    let op = data.get(field::OP).copied();
    let hlen = data.get(field::HLEN).copied().unwrap_or(u8::MAX);
    let cookie = data.get(FIXED_LEN..field::OPTIONS);
    if matches!(op, Some(BOOTREQUEST | BOOTREPLY)) && hlen <= 16 && cookie == Some(&MAGIC_COOKIE) {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// Stateless: each datagram is a whole DHCP message.
struct DhcpDissector;

impl Unframed for DhcpDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        dissect(delivery.data, out);
    }
}

/// The options of one message that matter here, borrowed from the datagram.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Options<'a> {
    msg_type: Option<u8>,
    hostname: Option<&'a [u8]>,
    fqdn: Option<&'a [u8]>,
    vendor_class: Option<&'a [u8]>,
    param_list: Option<&'a [u8]>,
    server_id: Option<Ipv4Addr>,
}

impl<'a> Options<'a> {
    /// Keeps the first instance of each option. (RFC 3396 long-option concatenation is not
    /// done: none of these options is long enough to need it in practice.)
    fn take(&mut self, code: u8, value: &'a [u8]) {
        fn first<'a>(slot: &mut Option<&'a [u8]>, v: &'a [u8]) {
            slot.get_or_insert(v);
        }
        match code {
            opt::MSG_TYPE => {
                if let [t] = value {
                    self.msg_type.get_or_insert(*t);
                }
            }
            opt::HOSTNAME => first(&mut self.hostname, value),
            opt::CLIENT_FQDN => first(&mut self.fqdn, value),
            opt::VENDOR_CLASS => first(&mut self.vendor_class, value),
            opt::PARAM_LIST => first(&mut self.param_list, value),
            opt::SERVER_ID => {
                if let Ok(a) = <[u8; 4]>::try_from(value) {
                    self.server_id.get_or_insert(Ipv4Addr::from(a));
                }
            }
            _ => {}
        }
    }
}

/// Walks every option of a message in RFC 2131 §4.1 order: the options field, then `file`,
/// then `sname` when option 52 (RFC 2132 §9.3) says they are overloaded. Calls `f` for each
/// option except pad and end. Err on an option that runs past its area. Only option 52 of
/// the options field is followed (RFC 2132 §9.3): one inside `file` or `sname` is ignored,
/// so overloading cannot recurse.
fn walk_options<'a>(msg: &'a [u8], mut f: impl FnMut(u8, &'a [u8])) -> Result<(), DhcpError> {
    let main = msg.get(field::OPTIONS..).unwrap_or(&[]);
    let mut overload = 0u8;
    walk_area(main, |code, value| {
        if code == opt::OVERLOAD {
            if let [v] = value {
                overload = *v;
            }
        }
        f(code, value);
    })?;
    if overload & 1 != 0 {
        walk_area(msg.get(field::FILE).unwrap_or(&[]), &mut f)?;
    }
    if overload & 2 != 0 {
        walk_area(msg.get(field::SNAME).unwrap_or(&[]), &mut f)?;
    }
    Ok(())
}

/// One option area: code, length, value triples; pad (0) has no length; end (255) stops
/// (RFC 2132 §2, §3.1, §3.2).
fn walk_area<'a>(area: &'a [u8], mut f: impl FnMut(u8, &'a [u8])) -> Result<(), DhcpError> {
    let mut c = Cursor::new(area);
    while let Some(code) = c.u8() {
        match code {
            opt::PAD => continue,
            opt::END => return Ok(()),
            _ => {}
        }
        let len = c.u8().ok_or(DhcpError::OptionLength)?;
        let value = c.take(len as usize).ok_or(DhcpError::OptionOverrun)?;
        f(code, value);
    }
    Ok(())
}

/// Why a DHCP message is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    #[error("message shorter than the BOOTP header or without the DHCP magic cookie")]
    NotDhcp,
    #[error("unknown BOOTP op {0}")]
    Op(u8),
    #[error("option without length")]
    OptionLength,
    #[error("option overruns the message")]
    OptionOverrun,
}

fn ipv4_at(msg: &[u8], r: std::ops::Range<usize>) -> Option<Ipv4Addr> {
    let a: [u8; 4] = msg.get(r)?.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

/// Parses one DHCP message and emits what it proves.
fn dissect(msg: &[u8], out: &mut Vec<Observation>) {
    if msg.len() < field::OPTIONS || msg.get(FIXED_LEN..field::OPTIONS) != Some(&MAGIC_COOKIE) {
        out.push(violation(NAME, DhcpError::NotDhcp));
        return;
    }
    let op = msg.get(field::OP).copied().unwrap_or(0);
    if op != BOOTREQUEST && op != BOOTREPLY {
        out.push(violation(NAME, DhcpError::Op(op)));
        return;
    }
    let mut opts = Options::default();
    if let Err(e) = walk_options(msg, |code, value| opts.take(code, value)) {
        out.push(violation(NAME, e));
        // Options before the broken one are still the sender's words: keep going.
    }

    // RFC 2131 §2: htype 1 (Ethernet) with hlen 6 makes chaddr a MAC.
    let htype = msg.get(field::HTYPE).copied();
    let hlen = msg.get(field::HLEN).copied();
    let mac = match (htype, hlen) {
        (Some(1), Some(6)) => msg
            .get(field::CHADDR)
            .and_then(Mac::from_slice)
            .filter(Mac::is_unicast),
        _ => None,
    };
    let ciaddr = ipv4_at(msg, field::CIADDR)
        .map(IpAddr::V4)
        .filter(is_unicast_ip);
    let yiaddr = ipv4_at(msg, field::YIADDR)
        .map(IpAddr::V4)
        .filter(is_unicast_ip);
    // Without a MAC, a client that states its address can still be named by it.
    let client = mac
        .map(Subject::Mac)
        .or(ciaddr.filter(|_| op == BOOTREQUEST).map(Subject::Ip));

    if let Some(subject) = client {
        client_identity(subject, op, &opts, out);
    }
    if let Some(mac) = mac {
        let bound = match (op, opts.msg_type) {
            (BOOTREPLY, Some(msg::ACK)) => yiaddr
                .map(|ip| (ip, "dhcp ack"))
                .or(ciaddr.map(|ip| (ip, "dhcp ack"))),
            (BOOTREQUEST, Some(msg::REQUEST | msg::INFORM)) => {
                ciaddr.map(|ip| (ip, "dhcp client address"))
            }
            _ => None,
        };
        if let Some((ip, source)) = bound {
            out.push(Observation::Binding { mac, ip, source });
        }
    }
    if let Some(server) = opts.server_id.map(IpAddr::V4).filter(is_unicast_ip) {
        out.push(Observation::Speaks {
            subject: Subject::Ip(server),
            protocol: NAME,
            role: Role::Server,
            port: 67,
        });
    }
}

/// Hostname, FQDN, vendor class and OS hints about the client.
fn client_identity(subject: Subject, op: u8, opts: &Options<'_>, out: &mut Vec<Observation>) {
    let identity = |field, value, source| Observation::Identity {
        subject,
        field,
        value,
        source,
    };
    // Option 12 (RFC 2132 §3.14): the client's name, also sent back by servers.
    if let Some(name) = opts.hostname.and_then(text::clean) {
        out.push(identity(Field::Hostname, name, source::DHCP_OPTION_12));
    }
    if let Some(name) = opts.fqdn.and_then(fqdn_name) {
        out.push(identity(Field::Hostname, name, source::DHCP_OPTION_81));
    }
    if op != BOOTREQUEST {
        return;
    }
    // Option 60 (RFC 2132 §9.13): the client's vendor and configuration, free text.
    if let Some(raw) = opts.vendor_class {
        if let Some(os) = vendor_class_os(raw) {
            out.push(identity(
                Field::Os,
                os.to_string(),
                source::DHCP_VENDOR_CLASS,
            ));
        }
        if let Some(desc) = text::clean(raw) {
            out.push(identity(
                Field::Description,
                desc,
                source::DHCP_VENDOR_CLASS,
            ));
        }
    }
    if let Some(os) = opts.param_list.and_then(param_list_os) {
        out.push(identity(
            Field::Os,
            os.to_string(),
            source::DHCP_PARAMETER_LIST,
        ));
    }
}

/// The domain name of a Client FQDN option (RFC 4702 §2): flags, two deprecated RCODE
/// octets, then the name, in DNS wire form when the E flag (0x04) is set (§2.3.1), else in
/// ASCII (deprecated, §2.3.2).
fn fqdn_name(value: &[u8]) -> Option<String> {
    let (&flags, rest) = value.split_first()?;
    let name = rest.get(2..)?;
    if flags & 0x04 == 0 {
        return text::clean(name.strip_suffix(b".").unwrap_or(name));
    }
    // Canonical wire form: uncompressed labels, ending in a zero label unless partial.
    let mut buf = [0u8; 255];
    let mut len = 0usize;
    let mut c = Cursor::new(name);
    while let Some(l) = c.u8() {
        if l == 0 {
            break;
        }
        if l > 63 {
            return None;
        }
        let label = c.take(l as usize)?;
        if len > 0 {
            *buf.get_mut(len)? = b'.';
            len += 1;
        }
        buf.get_mut(len..len + label.len())?.copy_from_slice(label);
        len += label.len();
    }
    text::clean(buf.get(..len)?)
}

/// The OS a vendor class identifier names, when it is one of the well-known client stacks:
/// Windows' "MSFT 5.0" (and "MSFT 98"), Android's "android-dhcp-<version>", dhcpcd's
/// "dhcpcd-<version>:<kernel>-<release>:<machine>:<platform>" and BusyBox "udhcp <version>".
pub fn vendor_class_os(raw: &[u8]) -> Option<&'static str> {
    if text::starts_with_ignore_case(raw, b"MSFT ") {
        return Some("Windows");
    }
    if text::starts_with_ignore_case(raw, b"android-dhcp-") {
        return Some("Android");
    }
    if text::starts_with_ignore_case(raw, b"udhcp ") {
        return Some("Linux (BusyBox udhcp)");
    }
    if text::starts_with_ignore_case(raw, b"dhcpcd-") {
        let kernel = raw.split(|&b| b == b':').nth(1)?;
        for (prefix, os) in [
            (&b"Linux-"[..], "Linux"),
            (b"NetBSD-", "NetBSD"),
            (b"FreeBSD-", "FreeBSD"),
            (b"OpenBSD-", "OpenBSD"),
        ] {
            if text::starts_with_ignore_case(kernel, prefix) {
                return Some(os);
            }
        }
    }
    None
}

/// Parameter request lists (option 55) of a few client stacks that ship them unchanged,
/// matched exactly (order matters: each stack has its own). Sources: the lists Windows 10/11
/// and Windows Vista/7/8 send by default (Fingerbank lists them as "Microsoft Windows Kernel
/// 10.0" and "6.x"; the last one is seen with vendor class "MSFT 5.0" in
/// `mixed/profinet_io_cm_mixed_2.pcapng`), Apple's iOS and macOS clients, Android's DHCP client (with option 43
/// from Android 8), and ISC dhclient with the Debian/Ubuntu `dhclient.conf` request list.
const PARAM_LISTS: &[(&[u8], &str)] = &[
    (
        &[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
        "Windows",
    ),
    (
        &[1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43, 252],
        "Windows",
    ),
    (&[1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43], "Windows"),
    (&[1, 121, 3, 6, 15, 119, 252], "iOS"),
    (&[1, 121, 3, 6, 15, 119, 252, 95, 44, 46], "macOS"),
    (&[1, 3, 6, 15, 26, 28, 51, 58, 59], "Android"),
    (&[1, 3, 6, 15, 26, 28, 51, 58, 59, 43], "Android"),
    (&[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42], "Linux"),
];

/// The OS family whose DHCP client sends exactly this parameter request list.
pub fn param_list_os(list: &[u8]) -> Option<&'static str> {
    PARAM_LISTS
        .iter()
        .find(|(l, _)| *l == list)
        .map(|&(_, os)| os)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
