//! Tests on real SSDP datagrams from /work/shared/pcaps (payloads extracted with tshark;
//! expected values read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex, never_panics, speaks};
use crate::protocols::FlowCtx;

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
                value: "UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6"
                    .into(),
                source: source::SSDP_SERVER
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
            source: source::SSDP_USER_AGENT
        }
    );
    assert!(matches!(
        &out[2],
        Observation::Identity {
            field: Field::Description,
            source: source::SSDP_USER_AGENT,
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
                source: source::SSDP_SERVER
            },
            Observation::Identity {
                subject,
                field: Field::Description,
                value: "Linux/2.6 UPnP/1.0 Portable SDK for UPnP devices/1.6.18".into(),
                source: source::SSDP_SERVER
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
    never_panics(&SPEC, &c(), &refs);
}
