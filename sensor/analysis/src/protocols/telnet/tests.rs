//! Tests on real Telnet sessions (payloads extracted with tshark; expected values read from
//! `tshark -z follow,tcp,ascii`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{
    self, byte_by_byte, hex, hex_segments, never_panics_in_conversation, run_segments, Noise,
};
use crate::protocols::FlowCtx;

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "192.168.0.2:1550", "192.168.0.1:23")
}

fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(new, &ctx(), segs)
}

fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
    run_bytes(&hex_segments(segs))
}

fn login(user: &str) -> Observation {
    testing::login(PROTOCOL, user)
}

fn refused(user: &str) -> Observation {
    Observation::AuthFailure {
        user: user.to_string(),
        protocol: PROTOCOL,
    }
}

/// Only the `AuthFailure` observations of `out`.
fn refusals(out: Vec<Observation>) -> Vec<Observation> {
    out.into_iter()
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .collect()
}

/// Text segments of a conversation, `(to_server, text)`.
fn text(segs: &[(bool, &str)]) -> Vec<(bool, Vec<u8>)> {
    segs.iter()
        .map(|(d, t)| (*d, t.as_bytes().to_vec()))
        .collect()
}

/// Two refused attempts as Linux login(1) answers them, then a successful one.
const LINUX_TWO_REFUSED: &[(bool, &str)] = &[
    (false, "Ubuntu 22.04 LTS\r\nplc login: "),
    (true, "root\r\n"),
    (false, "Password: "),
    (true, "toor\r\n"),
    (false, "\r\n"),
    (false, "\r\nLogin incorrect\r\nplc login: "),
    (true, "admin\r\n"),
    (false, "Password: "),
    (true, "admin\r\n"),
    (false, "\r\nLogin incor"),
    (false, "rect\r\nplc login: "),
    (true, "op\r\n"),
    (false, "Password: "),
    (true, "secret\r\n"),
    (false, "\r\nLast login: Mon Jan  1 00:00:00 2024\r\n$ "),
];

// suricata-verify tests/telnet/telnet-01/telnet.pcap, tcp.stream 0, up to the shell prompt.
const OPENBSD_LOGIN: &[(bool, &str)] = &[
    (
        true,
        "fffd03fffb18fffb1ffffb20fffb21fffb22fffb27fffd05fffb23",
    ), // 4
    (false, "fffd25"),                                             // 5
    (true, "fffc25"),                                              // 7
    (false, "fffb03fffd18fffd1ffffd20fffd21fffd22fffa22010bfff0"), // 9
    // 10
    (
        true,
        concat!(
            "fffa1f00500020fff0fffa220301000003620304020f05000007621c08020409421a0a027f0b0215",
            "0f0211100213110000120000fff0fffd03fffa22010ffff0",
        ),
    ),
    (false, "fffd27fffb05fffd23fffb26fffd26fffd24"), // 12
    (true, "fffe26fffc26fffc24"),                    // 13
    (false, "fffa2001fff0fffa2301fff0fffa2701fff0fffa1801fff0"), // 15
    // 17
    (
        true,
        concat!(
            "fffa2000393630302c39363030fff0fffa230062616d2e7a696e672e6f72673a302e30fff0fffa27",
            "0000444953504c41590162616d2e7a696e672e6f72673a302e30fff0fffa1800787465726d2d636f",
            "6c6f72fff0",
        ),
    ),
    (false, "fffd01"),                         // 19
    (true, "fffc01"),                          // 20
    (false, "fffb01fffa2102fff0fffc01"),       // 22
    (true, "fffd01fffe01"),                    // 23
    (false, "fffa2203058000118000128000fff0"), // 25
    (
        false,
        "0d0a4f70656e4253442f6933383620286f6f662920287474797032290d0a0d0a",
    ), // 27
    (false, "6c6f67696e3a20"),                 // 29
    (true, "66616b650d0a"),                    // 31
    (false, "fffb01"),                         // 33
    (true, "fffd01"),                          // 34
    (false, "50617373776f72643a"),             // 36
    (true, "757365720d0a"),                    // 38
    (false, "0d0a"),                           // 40
    (false, "fffc01"),                         // 42
    (true, "fffe01"),                          // 43
    // 45
    (
        false,
        concat!(
            "4c617374206c6f67696e3a20536174204e6f762032372032303a31313a3433206f6e207474797032",
            "2066726f6d2062616d2e7a696e672e6f72670d0a",
        ),
    ),
    // 47
    (
        false,
        concat!(
            "5761726e696e673a206e6f204b65726265726f73207469636b657473206973737565642e0d0a4f70",
            "656e42534420322e362d6265746120284f4f46292023343a20547565204f63742031322032303a34",
            "323a33322043445420313939390d0a0d0a57656c636f6d6520746f204f70656e4253443a20546865",
            "2070726f6163746976656c792073656375726520556e69782d6c696b65206f7065726174696e6720",
            "73797374656d2e0d0a0d0a506c6561736520757365207468652073656e6462756728312920757469",
            "6c69747920746f207265706f7274206275677320696e207468652073797374656d2e0d0a4265666f",
            "7265207265706f7274696e672061206275672c20706c656173652074727920746f20726570726f64",
            "756365206974207769746820746865206c61746573740d0a76657273696f6e206f66207468652063",
            "6f64652e20205769746820627567207265706f7274732c20706c656173652074727920746f20656e",
            "7375726520746861740d0a656e6f75676820696e666f726d6174696f6e20746f20726570726f6475",
            "6365207468652070726f626c656d20697320656e636c6f7365642c20616e6420696620610d0a6b6e",
            "6f776e2066697820666f72206974206578697374732c20696e636c75646520746861742061732077",
            "656c6c2e0d0a0d0a",
        ),
    ),
];
// zeek testing/btest/Traces/mixed-vlan-mpls.pcap, tcp.stream 0: client side only.
const VLAN_MPLS_CLIENT: &[(bool, &str)] = &[
    (true, "fffd03fffb1ffffb21"), // 3
    (true, "fffd01"),             // 5
    (true, "fffc18"),             // 6
    (true, "fffa1f00500018fff0"), // 7
    (true, "0d0a"),               // 9
];

// Expected values from `tshark -r telnet.pcap -q -z follow,tcp,ascii,0`: banner
// "OpenBSD/i386 (oof) (ttyp2)", "login: " answered "fake", "Password:" answered.
#[test]
fn real_login_banner_and_user() {
    assert_eq!(
        run(OPENBSD_LOGIN),
        vec![
            Observation::Identity {
                subject: Subject::Server,
                field: Field::Description,
                value: "OpenBSD/i386 (oof) (ttyp2)".to_string(),
                source: source::TELNET_BANNER,
            },
            Observation::Identity {
                subject: Subject::Server,
                field: Field::Os,
                value: "OpenBSD".to_string(),
                source: source::TELNET_BANNER,
            },
            login("fake"),
        ]
    );
}

#[test]
fn successful_login_is_not_a_refusal() {
    assert_eq!(refusals(run(OPENBSD_LOGIN)), vec![]);
}

#[test]
fn each_refused_attempt_is_reported_once_with_its_user() {
    let out = run_bytes(&text(LINUX_TWO_REFUSED));
    assert_eq!(
        out,
        vec![
            Observation::Identity {
                subject: Subject::Server,
                field: Field::Description,
                value: "Ubuntu 22.04 LTS".to_string(),
                source: source::TELNET_BANNER,
            },
            Observation::Identity {
                subject: Subject::Server,
                field: Field::Os,
                value: "Ubuntu".to_string(),
                source: source::TELNET_BANNER,
            },
            login("root"),
            refused("root"),
            login("admin"),
            refused("admin"),
            login("op"),
        ]
    );
    // Split across segments at every byte: the same.
    let bytes: Vec<(bool, Vec<u8>)> = text(LINUX_TWO_REFUSED)
        .into_iter()
        .flat_map(|(d, t)| t.into_iter().map(move |b| (d, vec![b])))
        .collect();
    assert_eq!(run_bytes(&bytes), out);
}

#[test]
fn a_repeated_message_is_one_refusal() {
    let out = run_bytes(&text(&[
        (false, "Username: "),
        (true, "admin\r\n"),
        (false, "Password: "),
        (true, "x\r\n"),
        (false, "\r\n% Access denied\r\n% ACCESS DENIED\r\n"),
        (false, "Access denied\r\n"),
    ]));
    assert_eq!(refusals(out), vec![refused("admin")]);
}

#[test]
fn a_new_user_prompt_after_the_password_is_a_refusal() {
    let out = run_bytes(&text(&[
        (false, "Username: "),
        (true, "admin\r\n"),
        (false, "Password: "),
        (true, "x\r\n"),
        (false, "\r\n\r\nUsername: "),
    ]));
    assert_eq!(refusals(out), vec![refused("admin")]);
}

#[test]
fn refusal_words_outside_a_verdict_are_ignored() {
    let mut session = vec![
        (false, "login: ".to_string()),
        (true, "op\r\n".to_string()),
        (false, "Password: ".to_string()),
        (true, "secret\r\n".to_string()),
        (false, format!("\r\n{}\r\n$ ", "-".repeat(600))),
        // Output of a command long after the login.
        (false, "cat: /etc/shadow: Access denied\r\n$ ".to_string()),
        // passwd(1) asks for several passwords: not a refusal of the first.
        (false, "Current password: ".to_string()),
        (true, "secret\r\n".to_string()),
        (false, "New password: ".to_string()),
        (true, "n3w\r\n".to_string()),
    ];
    // Before any login exchange.
    session.insert(0, (false, "Access denied\r\n".to_string()));
    let segs: Vec<(bool, Vec<u8>)> = session
        .into_iter()
        .map(|(d, t)| (d, t.into_bytes()))
        .collect();
    assert_eq!(refusals(run_bytes(&segs)), vec![]);
}

#[test]
fn password_is_never_reported() {
    // The password in this capture is "user".
    let text = format!("{:?}", run(OPENBSD_LOGIN));
    assert!(!text.contains("\"user\""));
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    // One byte a delivery: the server's prompt is checked after every byte, the client's
    // user name arrives one key at a time.
    assert_eq!(run_bytes(&byte_by_byte(OPENBSD_LOGIN)), run(OPENBSD_LOGIN));
}

#[test]
fn character_mode_with_echo_and_backspace() {
    let mut segs = vec![(
        false,
        b"\r\nUser Access Verification\r\n\r\nUsername: ".to_vec(),
    )];
    for &k in b"admim\x7fn\r" {
        segs.push((true, vec![k]));
        // The server echoes each key.
        segs.push((false, vec![k]));
    }
    segs.push((true, vec![0]));
    segs.push((false, b"\nPassword: ".to_vec()));
    for &k in b"s3cret\r\n" {
        segs.push((true, vec![k]));
    }
    let out = run_bytes(&segs);
    assert_eq!(
        out,
        vec![
            Observation::Identity {
                subject: Subject::Server,
                field: Field::Description,
                value: "User Access Verification".to_string(),
                source: source::TELNET_BANNER,
            },
            login("admin"),
        ]
    );
    assert!(!format!("{out:?}").contains("s3cret"));
}

#[test]
fn password_only_prompt_reports_an_empty_user() {
    let out = run_bytes(&[(false, b"Password: ".to_vec()), (true, b"x\r\n".to_vec())]);
    assert_eq!(out, vec![login("")]);
}

#[test]
fn iac_iac_is_data_and_subnegotiations_are_not() {
    let mut d = Side::default();
    let mut out = Vec::new();
    let bytes = [
        b'a', IAC, IAC, IAC, SB, 24, b'x', IAC, IAC, IAC, SE, IAC, WILL, 1, b'b',
    ];
    let data: Vec<u8> = bytes.iter().filter_map(|&b| d.byte(b, &mut out)).collect();
    assert_eq!(data, vec![b'a', IAC, b'b']);
    assert!(out.is_empty());
}

#[test]
fn client_only_negotiation_emits_nothing() {
    assert!(run(VLAN_MPLS_CLIENT).is_empty());
}

#[test]
fn probe_is_strict() {
    let c = |d: &[u8]| probe(Direction::ToServer, d);
    let s = |d: &[u8]| probe(Direction::ToClient, d);
    assert_eq!(c(&hex(OPENBSD_LOGIN[0].1)), Probe::Yes);
    assert_eq!(c(&hex(VLAN_MPLS_CLIENT[0].1)), Probe::Yes);
    assert_eq!(s(&hex(OPENBSD_LOGIN[1].1)), Probe::Yes);
    assert_eq!(s(b"\r\nrouter login: "), Probe::Yes);
    assert_eq!(s(b"\r\nWelcome"), Probe::NeedMore);
    assert_eq!(c(b""), Probe::NeedMore);
    assert_eq!(c(&[IAC]), Probe::NeedMore);
    assert_eq!(c(&[IAC, WILL]), Probe::NeedMore);
    assert_eq!(c(&[IAC, 0x00, 0x01]), Probe::No);
    assert_eq!(c(b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(s(b"HTTP/1.1 200 OK\r\n\r\n\x00\x01\x02"), Probe::No);
    assert_eq!(s(b"SSH-2.0-OpenSSH_8.0\r\n"), Probe::No);
    assert_eq!(s(b"220 FTP server ready\r\n"), Probe::No);
    assert_eq!(s(b"RFB 003.008\n"), Probe::No);
    assert_eq!(s(&[b'a'; 600]), Probe::No);
    let mut motd = vec![b'-'; 1000];
    motd.extend_from_slice(b"\r\nplc login: ");
    assert_eq!(s(&motd), Probe::Yes);
    assert_eq!(s(&[b'a'; 200]), Probe::No);
    assert_eq!(s(&[0x16, 0x03, 0x01]), Probe::No);
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    never_panics_in_conversation(&SPEC, &ctx(), &hex_segments(OPENBSD_LOGIN));
    // Random bytes after a login prompt, so they are read as a user name.
    let mut noise = Noise::new(0x2545_f491);
    for _ in 0..500 {
        let len = (noise.next_u64() % 700) as usize;
        let bytes = noise.bytes(len);
        let mut prompted = b"login: ".to_vec();
        prompted.extend_from_slice(&bytes);
        let _ = run_bytes(&[(false, prompted), (true, bytes.clone()), (false, bytes)]);
    }
}
