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

use super::registry::ProtocolSpec;
use super::text::{self, Cursor};
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
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
    new: || Box::new(DhcpDissector),
};

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
fn probe(_dir: Direction, data: &[u8]) -> Probe {
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

impl Dissector for DhcpDissector {
    fn parse(
        &mut self,
        _dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        dissect(data, out);
        data.len()
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
fn walk_options<'a>(msg: &'a [u8], mut f: impl FnMut(u8, &'a [u8])) -> Result<(), &'static str> {
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
fn walk_area<'a>(area: &'a [u8], mut f: impl FnMut(u8, &'a [u8])) -> Result<(), &'static str> {
    let mut c = Cursor::new(area);
    while let Some(code) = c.u8() {
        match code {
            opt::PAD => continue,
            opt::END => return Ok(()),
            _ => {}
        }
        let len = c.u8().ok_or("option without length")?;
        let value = c.take(len as usize).ok_or("option overruns the message")?;
        f(code, value);
    }
    Ok(())
}

fn ipv4_at(msg: &[u8], r: std::ops::Range<usize>) -> Option<Ipv4Addr> {
    let a: [u8; 4] = msg.get(r)?.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

/// Parses one DHCP message and emits what it proves.
fn dissect(msg: &[u8], out: &mut Vec<Observation>) {
    let violation = |out: &mut Vec<Observation>, reason: &str| {
        out.push(Observation::ProtocolViolation {
            protocol: NAME,
            reason: reason.to_string(),
        })
    };
    if msg.len() < field::OPTIONS || msg.get(FIXED_LEN..field::OPTIONS) != Some(&MAGIC_COOKIE) {
        violation(
            out,
            "message shorter than the BOOTP header or without the DHCP magic cookie",
        );
        return;
    }
    let op = msg.get(field::OP).copied().unwrap_or(0);
    if op != BOOTREQUEST && op != BOOTREPLY {
        violation(out, &format!("unknown BOOTP op {op}"));
        return;
    }
    let mut opts = Options::default();
    if let Err(e) = walk_options(msg, |code, value| opts.take(code, value)) {
        violation(out, e);
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
        out.push(identity(Field::Hostname, name, "dhcp option 12"));
    }
    if let Some(name) = opts.fqdn.and_then(fqdn_name) {
        out.push(identity(Field::Hostname, name, "dhcp option 81"));
    }
    if op != BOOTREQUEST {
        return;
    }
    // Option 60 (RFC 2132 §9.13): the client's vendor and configuration, free text.
    if let Some(raw) = opts.vendor_class {
        if let Some(os) = vendor_class_os(raw) {
            out.push(identity(Field::Os, os.to_string(), "dhcp vendor class"));
        }
        if let Some(desc) = text::clean(raw) {
            out.push(identity(Field::Description, desc, "dhcp vendor class"));
        }
    }
    if let Some(os) = opts.param_list.and_then(param_list_os) {
        out.push(identity(Field::Os, os.to_string(), "dhcp parameter list"));
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
mod tests {
    use super::*;
    use crate::protocols::text::testing::{ctx, hex, never_panics};

    /// dhcp/dhcp.pcap frame 1
    const DISCOVER: &str = "
        01010600000007c0000000000000000000000000000000000000000090b11c9949290000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        3501013204c0a8d3c20c0d62746573742e69732e636f6f6cff
    ";
    /// dhcp/dhcp.pcap frame 6
    const ACK: &str = "
        02010600000007c00000000000000000800206bdac13e6070000000090b11c9949290000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        3501053604800206983304000003840104ffffff0003048002060106088002010b8002010a0408800201148002011543
        0d6e6574776f726b2d636f6e66671c04800206ff2a0c8002011480020115800201162b0b3137322e31382e362e33373c
        07417275626141502c088002681d8002681e2e01020f07636d752e656475ff
    ";
    /// dhcp/dhcp-eve-extended.pcap frame 1
    const NAS_REQUEST: &str = "
        01010600ef645744000000000a1001040000000000000000000000000011321749f00000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        3501030c056e617331003707011c02030f060c3d07010011321749f0ff00000000000000000000000000000000000000
        000000000000000000000000
    ";
    /// dhcp/dhcp-eve-extended.pcap frame 2
    const NAS_ACK: &str = "
        02010600ef645744000000000a1001040a1001040a100101000000000011321749f00000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        35010536040a100101330400000e103a04000006913b0400000bd70104ffff00001c040a10ffff06040a1001010f0775
        6e782e6361000c056e6173310003040a100101ff
    ";
    /// dhcp/dhcp-option-52-overload.pcap frame 1
    const UDHCP_DISCOVER: &str = "
        0101060024593b3e000000000000000000000000000000000000000092dda48d5fde0000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        35010139020240370b0103060c0f1c2a364243773c0c756468637020312e33362e313d070192dda48d5fdeff00000000
        000000000000000000000000
    ";
    /// dhcp/dhcp-option-52-overload.pcap frame 7
    const OVERLOAD_ACK: &str = "
        0201060024593b3e00000000000000000a6400320a6400020000000092dda48d5fde0000000000000000000006040a64
        000203040a6400020f096576696c2e636f7270ff00000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        35010536040a64000233040000012c0104ffffff00340102ff
    ";
    /// dhcp/dhcp_inform.pcap frame 1
    const INFORM: &str = "
        01010600a42cec51000000008002067a00000000000000000000000090b11c9949290000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        350108370101ff
    ";
    /// dhcp/dhcp_inform.pcap frame 2
    const INFORM_ACK: &str = "
        02010600a42cec51000000008002067a00000000ac13e6070000000090b11c9949290000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        3501053604800206980104ffffff00ff0000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000
    ";
    /// mixed/profinet_io_cm_mixed_2.pcapng frame 1211
    const MSFT_DISCOVER: &str = "
        0101060012c1249f0000800000000000000000000000000000000000e4115b5ad9730000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363
        3501013d0701e4115b5ad9730c0e4c542d55532d445357414e534f4e3c084d53465420352e30370c010f03062c2e2f1f
        2179f92bff00000000000000
    ";

    fn run(hex_payload: &str) -> Vec<Observation> {
        let c = ctx(Transport::Udp, "0.0.0.0:68", "255.255.255.255:67");
        let mut out = Vec::new();
        DhcpDissector.parse(Direction::ToServer, &hex(hex_payload), &c, &mut out);
        out
    }

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn id(subject: Subject, field: Field, value: &str, source: &'static str) -> Observation {
        Observation::Identity {
            subject,
            field,
            value: value.to_string(),
            source,
        }
    }

    fn speaks(server: &str) -> Observation {
        Observation::Speaks {
            subject: Subject::Ip(ip(server)),
            protocol: "dhcp",
            role: Role::Server,
            port: 67,
        }
    }

    #[test]
    fn probe_wants_cookie_and_op() {
        for h in [DISCOVER, ACK, OVERLOAD_ACK] {
            assert_eq!(probe(Direction::ToServer, &hex(h)), Probe::Yes);
            assert_eq!(probe(Direction::ToClient, &hex(h)), Probe::Yes);
        }
        let mut bad = hex(DISCOVER);
        bad[236] = 0; // no magic cookie: plain BOOTP or not BOOTP at all
        assert_eq!(probe(Direction::ToServer, &bad), Probe::No);
        let mut bad = hex(DISCOVER);
        bad[0] = 3;
        assert_eq!(probe(Direction::ToServer, &bad), Probe::No);
        assert_eq!(
            probe(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n"),
            Probe::No
        );
        assert_eq!(probe(Direction::ToServer, &hex(DISCOVER)[..239]), Probe::No);
    }

    /// tshark: Discover from 90:b1:1c:99:49:29, option 50 192.168.211.194, option 12
    /// "btest.is.cool". The requested address proves nothing: no binding.
    #[test]
    fn discover_gives_hostname_only() {
        let m = mac("90:b1:1c:99:49:29");
        assert_eq!(
            run(DISCOVER),
            [id(
                Subject::Mac(m),
                Field::Hostname,
                "btest.is.cool",
                "dhcp option 12"
            )]
        );
    }

    /// tshark: ACK, yiaddr 128.2.6.189, server identifier 128.2.6.152, vendor class
    /// "ArubaAP" sent by the server (not about the client, so not reported).
    #[test]
    fn ack_binds_yiaddr_and_names_server() {
        let m = mac("90:b1:1c:99:49:29");
        assert_eq!(
            run(ACK),
            [
                Observation::Binding {
                    mac: m,
                    ip: ip("128.2.6.189"),
                    source: "dhcp ack"
                },
                speaks("128.2.6.152"),
            ]
        );
    }

    /// tshark: Request from 00:11:32:17:49:f0 with ciaddr 10.16.1.4, hostname "nas1",
    /// request list 1,28,2,3,15,6,12 (not in the table); then the ACK with yiaddr 10.16.1.4.
    #[test]
    fn renewing_request_binds_ciaddr() {
        let m = mac("00:11:32:17:49:f0");
        assert_eq!(
            run(NAS_REQUEST),
            [
                id(Subject::Mac(m), Field::Hostname, "nas1", "dhcp option 12"),
                Observation::Binding {
                    mac: m,
                    ip: ip("10.16.1.4"),
                    source: "dhcp client address"
                },
            ]
        );
        assert_eq!(
            run(NAS_ACK),
            [
                id(Subject::Mac(m), Field::Hostname, "nas1", "dhcp option 12"),
                Observation::Binding {
                    mac: m,
                    ip: ip("10.16.1.4"),
                    source: "dhcp ack"
                },
                speaks("10.16.1.1"),
            ]
        );
    }

    /// tshark: Discover from 92:dd:a4:8d:5f:de, vendor class "udhcp 1.36.1".
    #[test]
    fn udhcp_vendor_class() {
        let m = Subject::Mac(mac("92:dd:a4:8d:5f:de"));
        assert_eq!(
            run(UDHCP_DISCOVER),
            [
                id(m, Field::Os, "Linux (BusyBox udhcp)", "dhcp vendor class"),
                id(m, Field::Description, "udhcp 1.36.1", "dhcp vendor class"),
            ]
        );
    }

    /// tshark: ACK whose option 52 says sname holds options 6, 3, 15 ("evil.corp").
    #[test]
    fn overloaded_sname_is_walked() {
        let msg = hex(OVERLOAD_ACK);
        let mut codes = Vec::new();
        let mut domain = None;
        walk_options(&msg, |c, v| {
            codes.push(c);
            if c == 15 {
                domain = Some(v);
            }
        })
        .unwrap();
        assert_eq!(codes, [53, 54, 51, 1, 52, 6, 3, 15]);
        assert_eq!(domain, Some(&b"evil.corp"[..]));
        assert_eq!(
            run(OVERLOAD_ACK),
            [
                Observation::Binding {
                    mac: mac("92:dd:a4:8d:5f:de"),
                    ip: ip("10.100.0.50"),
                    source: "dhcp ack"
                },
                speaks("10.100.0.2"),
            ]
        );
    }

    /// tshark: Inform with ciaddr 128.2.6.122; the ACK to it has yiaddr 0.0.0.0 and the
    /// client address in ciaddr.
    #[test]
    fn inform_and_its_ack_bind_ciaddr() {
        let m = mac("90:b1:1c:99:49:29");
        let bind = |source| Observation::Binding {
            mac: m,
            ip: ip("128.2.6.122"),
            source,
        };
        assert_eq!(run(INFORM), [bind("dhcp client address")]);
        assert_eq!(run(INFORM_ACK), [bind("dhcp ack"), speaks("128.2.6.152")]);
    }

    /// tshark: Discover from e4:11:5b:5a:d9:73, hostname "LT-US-DSWANSON", vendor class
    /// "MSFT 5.0", request list 1,15,3,6,44,46,47,31,33,121,249,43.
    #[test]
    fn windows_client() {
        let m = Subject::Mac(mac("e4:11:5b:5a:d9:73"));
        assert_eq!(
            run(MSFT_DISCOVER),
            [
                id(m, Field::Hostname, "LT-US-DSWANSON", "dhcp option 12"),
                id(m, Field::Os, "Windows", "dhcp vendor class"),
                id(m, Field::Description, "MSFT 5.0", "dhcp vendor class"),
                id(m, Field::Os, "Windows", "dhcp parameter list"),
            ]
        );
    }

    #[test]
    fn vendor_classes() {
        assert_eq!(vendor_class_os(b"MSFT 5.0"), Some("Windows"));
        assert_eq!(vendor_class_os(b"android-dhcp-13"), Some("Android"));
        assert_eq!(
            vendor_class_os(b"dhcpcd-6.8.2:Linux-3.18.14:armv7l:Qualcomm"),
            Some("Linux")
        );
        assert_eq!(
            vendor_class_os(b"dhcpcd-9.4.1:NetBSD-10.0:amd64:x86"),
            Some("NetBSD")
        );
        assert_eq!(vendor_class_os(b"dhcpcd"), None);
        assert_eq!(
            vendor_class_os(b"udhcp 1.36.1"),
            Some("Linux (BusyBox udhcp)")
        );
        assert_eq!(vendor_class_os(b"ArubaAP"), None);
        assert_eq!(param_list_os(&[1, 28, 2, 3, 15, 6, 12]), None);
    }

    /// RFC 4702 §2.3: wire-encoded (E flag) and ASCII names.
    #[test]
    fn client_fqdn_both_encodings() {
        assert_eq!(
            fqdn_name(b"\x05\x00\x00\x04host\x07example\x03com\x00").as_deref(),
            Some("host.example.com")
        );
        // Partial name (no terminating zero label).
        assert_eq!(fqdn_name(b"\x04\x00\x00\x04host").as_deref(), Some("host"));
        assert_eq!(
            fqdn_name(b"\x00\xff\xffhost.example.com.").as_deref(),
            Some("host.example.com")
        );
        assert_eq!(fqdn_name(b"\x04\x00\x00\x09host").as_deref(), None);
        assert_eq!(fqdn_name(b"\x04\x00").as_deref(), None);
    }

    #[test]
    fn malformed_option_is_a_violation() {
        let mut m = hex(DISCOVER);
        let end = m.len() - 1; // the End option
        m[end] = 12; // hostname option without a length
        let out = run_bytes(&m);
        assert!(matches!(
            out.first(),
            Some(Observation::ProtocolViolation { .. })
        ));
        // Options before the broken one still count.
        assert!(out.iter().any(|o| matches!(
            o,
            Observation::Identity {
                field: Field::Hostname,
                ..
            }
        )));
        let out = run_bytes(&m[..100]);
        assert!(matches!(out[..], [Observation::ProtocolViolation { .. }]));
    }

    fn run_bytes(m: &[u8]) -> Vec<Observation> {
        let c = ctx(Transport::Udp, "0.0.0.0:68", "255.255.255.255:67");
        let mut out = Vec::new();
        DhcpDissector.parse(Direction::ToServer, m, &c, &mut out);
        out
    }

    #[test]
    fn never_panics_on_truncations_or_noise() {
        let msgs: Vec<Vec<u8>> = [
            DISCOVER,
            ACK,
            NAS_REQUEST,
            OVERLOAD_ACK,
            INFORM_ACK,
            MSFT_DISCOVER,
        ]
        .iter()
        .map(|h| hex(h))
        .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let c = ctx(Transport::Udp, "0.0.0.0:68", "255.255.255.255:67");
        never_panics(SPEC.new, &c, &refs);
    }
}
