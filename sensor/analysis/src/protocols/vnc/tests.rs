//! Tests on real RFB handshakes (payloads extracted with tshark; expected values read from
//! tshark's dissection).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{
    self, byte_by_byte, hex, hex_segments, id, never_panics_in_conversation, run_segments, Noise,
};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Source;

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "10.0.0.1:59018", "10.0.0.2:5900")
}

fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(new, &ctx(), segs)
}

fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
    run_bytes(&hex_segments(segs))
}

fn desc(subject: Subject, value: &str, source: Source) -> Observation {
    id(subject, Field::Description, value, source)
}

// suricata-verify tests/rfb-rules/00-vnc-openwall-3.7.pcap: 3.7, VNC auth, ServerInit.
const OPENWALL_3_7: &[(bool, &str)] = &[
    (false, "524642203030332e3030370a"),         // 4
    (true, "524642203030332e3030370a"),          // 5
    (false, "021202"),                           // 7
    (true, "02"),                                // 8
    (false, "ea5150a99e0feb6343c045c6f95ce44c"), // 9
    (true, "c39d5ad5c8242ed6bea28a773dbd3a29"),  // 11
    (false, "00000000"),                         // 12
    (true, "00"),                                // 13
    // 14
    (
        false,
        concat!(
            "050003202018000100ff00ff00ff1008000000000000001e616e6561676c6573406c6f63616c686f",
            "73742e6c6f63616c646f6d61696e",
        ),
    ),
    (true, "0000000008080001000300030003040200000000"), // 15
];
// zeek testing/btest/Traces/rfb/vnc-mac-to-linux.pcap, tcp.stream 3: server 3.8, client 3.3.
const MAC_TO_LINUX: &[(bool, &str)] = &[
    (false, "524642203030332e3030380a"),         // 38
    (true, "524642203030332e3030330a"),          // 40
    (false, "00000002"),                         // 42
    (false, "34756223ac15bc40ce0c2b0138369f80"), // 43
    (true, "599afd5c730e91f0dd061acaa8705377"),  // 46
    (false, "00000000"),                         // 47
    (true, "01"),                                // 49
    // 50
    (
        false,
        concat!(
            "040003002018000100ff00ff00ff10080000000000000026726f6f7427732058206465736b746f70",
            "20286d617274696e2d5669727475616c426f783a3129",
        ),
    ),
    // 52
    (
        true,
        concat!(
            "0200000b000003f3000003ea0000000600000010ffffff11000004500000044cffffff210000044d",
            "000004510000044e",
        ),
    ),
];
// zeek testing/btest/Traces/rfb/vnc-mac-to-linux.pcap, tcp.stream 2: server 3.8, client
// 3.3, VNC Authentication refused (vnc.auth_result 1, no reason in 3.3).
const MAC_TO_LINUX_REFUSED: &[(bool, &str)] = &[
    (false, "524642203030332e3030380a"),         // 19
    (true, "524642203030332e3030330a"),          // 22
    (false, "00000002"),                         // 24
    (false, "473cfeca88e359d99386294c2dab8fd2"), // 26
    (true, "8dce38a5b08a1e3797de5383e6e1027a"),  // 28
    (false, "00000001"),                         // 29
];
// zeek testing/btest/Traces/rfb/vnc-scanner.pcap: 3.8, failed VNC auth with a reason.
const SCANNER: &[(bool, &str)] = &[
    (false, "524642203030332e3030380a"),         // 4
    (true, "524642203030332e3030380a"),          // 5
    (false, "02"),                               // 6
    (false, "02"),                               // 7
    (false, "10"),                               // 8
    (true, "02"),                                // 10
    (false, "435414aa5735603f719e3bab73fd2de5"), // 11
    (true, "50e93126e93f23aeebc83832eb69af52"),  // 12
    (false, "00000001"),                         // 13
    (false, "00000029"),                         // 14
    // 15
    (
        false,
        concat!(
            "41757468656e7469636174696f6e206661696c65642066726f6d202020203139322e3136382e302e",
            "31",
        ),
    ),
];

// Expected values from `tshark -Y vnc -T fields -e vnc.server_proto_ver
// -e vnc.client_proto_ver -e vnc.server_security_type -e vnc.desktop_name`.
#[test]
fn rfb_3_7_to_desktop_name() {
    assert_eq!(
        run(OPENWALL_3_7),
        vec![
            desc(Subject::Server, "RFB 003.007", source::VNC_PROTOCOL_VERSION),
            desc(Subject::Client, "RFB 003.007", source::VNC_PROTOCOL_VERSION),
            desc(
                Subject::Server,
                "vnc security types: TLS, VNC Authentication",
                source::VNC_SECURITY_TYPES
            ),
            desc(
                Subject::Server,
                "aneagles@localhost.localdomain",
                source::VNC_DESKTOP_NAME
            ),
        ]
    );
}

#[test]
fn rfb_3_3_client_of_a_3_8_server() {
    assert_eq!(
        run(MAC_TO_LINUX),
        vec![
            desc(Subject::Server, "RFB 003.008", source::VNC_PROTOCOL_VERSION),
            desc(Subject::Client, "RFB 003.003", source::VNC_PROTOCOL_VERSION),
            desc(
                Subject::Server,
                "vnc security types: VNC Authentication",
                source::VNC_SECURITY_TYPES
            ),
            desc(
                Subject::Server,
                "root's X desktop (martin-VirtualBox:1)",
                source::VNC_DESKTOP_NAME
            ),
        ]
    );
}

#[test]
fn failed_authentication_with_reason() {
    assert_eq!(
        run(SCANNER),
        vec![
            desc(Subject::Server, "RFB 003.008", source::VNC_PROTOCOL_VERSION),
            desc(Subject::Client, "RFB 003.008", source::VNC_PROTOCOL_VERSION),
            desc(
                Subject::Server,
                "vnc security types: VNC Authentication, Tight",
                source::VNC_SECURITY_TYPES
            ),
            refused(),
        ]
    );
}

fn refused() -> Observation {
    Observation::AuthFailure {
        user: String::new(),
        protocol: PROTOCOL,
    }
}

fn refusals(out: Vec<Observation>) -> usize {
    out.iter()
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .count()
}

#[test]
fn refused_vnc_authentication_is_one_auth_failure() {
    assert_eq!(refusals(run(MAC_TO_LINUX_REFUSED)), 1);
    // The 3.8 reason arrives byte by byte: still one.
    assert_eq!(refusals(run_bytes(&byte_by_byte(SCANNER))), 1);
    // Accepted: none.
    for conv in [OPENWALL_3_7, MAC_TO_LINUX] {
        assert_eq!(refusals(run(conv)), 0);
    }
}

#[test]
fn failed_result_after_security_none_is_not_a_refused_password() {
    // §7.1.3: with None, 3.8 still sends a SecurityResult; a failure there refused no secret.
    let mut refusal = vec![0, 0, 0, 1, 0, 0, 0, 4];
    refusal.extend_from_slice(b"busy");
    let out = run_bytes(&[
        (false, b"RFB 003.008\n".to_vec()),
        (true, b"RFB 003.008\n".to_vec()),
        (false, vec![1, SEC_NONE]),
        (true, vec![SEC_NONE]),
        (false, refusal),
    ]);
    assert_eq!(refusals(out), 0);
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    for conv in [OPENWALL_3_7, MAC_TO_LINUX, MAC_TO_LINUX_REFUSED, SCANNER] {
        assert_eq!(run_bytes(&byte_by_byte(conv)), run(conv));
    }
}

#[test]
fn security_none_is_visible_and_3_8_sends_a_result() {
    let out = run_bytes(&[
        (false, b"RFB 003.008\n".to_vec()),
        (true, b"RFB 003.008\n".to_vec()),
        (false, vec![1, SEC_NONE]),
        (true, vec![SEC_NONE]),
        (false, vec![0, 0, 0, 0]),
        (true, vec![1]),
        (false, {
            let mut init = hex(&OPENWALL_3_7[8].1[..40]);
            init.extend_from_slice(&[0, 0, 0, 3]);
            init.extend_from_slice(b"plc");
            init
        }),
    ]);
    assert_eq!(
        out[2],
        desc(
            Subject::Server,
            "vnc security types: None",
            source::VNC_SECURITY_TYPES
        )
    );
    assert_eq!(
        out[3],
        desc(Subject::Server, "plc", source::VNC_DESKTOP_NAME)
    );
}

#[test]
fn probe_wants_exactly_a_protocol_version() {
    let p = |d: &[u8]| probe(Direction::ToClient, d);
    assert_eq!(p(&hex(OPENWALL_3_7[0].1)), Probe::Yes);
    assert_eq!(p(b"RFB 003.889\n"), Probe::Yes);
    assert_eq!(p(b"RFB 003"), Probe::NeedMore);
    assert_eq!(p(b""), Probe::NeedMore);
    assert_eq!(p(b"RFB 003.008\r"), Probe::No);
    assert_eq!(p(b"RFB 3.8\n"), Probe::No);
    assert_eq!(p(b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(p(b"SSH-2.0-x\r\n"), Probe::No);
    assert_eq!(version(b"RFB 003.003\n"), Some(Handshake::V3_3));
    assert_eq!(version(b"RFB 003.005\n"), Some(Handshake::V3_3));
    assert_eq!(version(b"RFB 003.889\n"), Some(Handshake::V3_8));
    assert_eq!(version(b"RFB 004.001\n"), Some(Handshake::V3_8));
}

#[test]
fn oversized_name_is_a_violation() {
    let mut init = hex(&OPENWALL_3_7[8].1[..40]);
    init.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let mut segs = hex_segments(&OPENWALL_3_7[..8]);
    segs.push((false, init));
    let out = run_bytes(&segs);
    assert!(matches!(
        out.last(),
        Some(Observation::ProtocolViolation { .. })
    ));
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    for conv in [OPENWALL_3_7, MAC_TO_LINUX, SCANNER] {
        never_panics_in_conversation(&SPEC, &ctx(), &hex_segments(conv));
    }
    // Random handshakes after valid versions.
    let mut noise = Noise::new(0x0bad_cafe);
    for _ in 0..1000 {
        let len = (noise.next_u64() % 300) as usize;
        let bytes = noise.bytes(len);
        let _ = run_bytes(&[
            (false, b"RFB 003.008\n".to_vec()),
            (true, b"RFB 003.007\n".to_vec()),
            (false, bytes.clone()),
            (true, bytes.clone()),
            (false, bytes),
        ]);
    }
}
