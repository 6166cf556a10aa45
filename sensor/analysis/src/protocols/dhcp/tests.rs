//! Tests on real DHCP messages from /work/shared/pcaps (payloads extracted with tshark;
//! expected values read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{self, ctx, datagram, hex, id, never_panics};
use crate::protocols::FlowCtx;

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

fn c() -> FlowCtx {
    ctx(Transport::Udp, "0.0.0.0:68", "255.255.255.255:67")
}

fn run(hex_payload: &str) -> Vec<Observation> {
    run_bytes(&hex(hex_payload))
}

fn run_bytes(m: &[u8]) -> Vec<Observation> {
    datagram(&mut DhcpDissector, Direction::ToServer, &c(), m)
}

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn speaks(server: &str) -> Observation {
    testing::speaks(Subject::Ip(ip(server)), "dhcp", Role::Server, 67)
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
            source::DHCP_OPTION_12
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
            id(
                Subject::Mac(m),
                Field::Hostname,
                "nas1",
                source::DHCP_OPTION_12
            ),
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
            id(
                Subject::Mac(m),
                Field::Hostname,
                "nas1",
                source::DHCP_OPTION_12
            ),
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
            id(
                m,
                Field::Os,
                "Linux (BusyBox udhcp)",
                source::DHCP_VENDOR_CLASS
            ),
            id(
                m,
                Field::Description,
                "udhcp 1.36.1",
                source::DHCP_VENDOR_CLASS
            ),
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
            id(m, Field::Hostname, "LT-US-DSWANSON", source::DHCP_OPTION_12),
            id(m, Field::Os, "Windows", source::DHCP_VENDOR_CLASS),
            id(m, Field::Description, "MSFT 5.0", source::DHCP_VENDOR_CLASS),
            id(m, Field::Os, "Windows", source::DHCP_PARAMETER_LIST),
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
    never_panics(&SPEC, &c(), &refs);
}
