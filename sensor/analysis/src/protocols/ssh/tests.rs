//! Tests on real SSH identification strings (payloads extracted with tshark; expected values
//! read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{self, hex, id, never_panics_in_conversation, run_segments};
use crate::protocols::FlowCtx;

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "10.0.0.1:49244", "10.0.0.2:22")
}

fn run(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(new, &ctx(), segs)
}

fn identity(subject: Subject, field: Field, value: &str) -> Observation {
    id(subject, field, value, source::SSH_BANNER)
}

// zeek testing/btest/Traces/ssh/single-conn.pcap, tcp.stream 0: server banner (frame 4),
// client banner (frame 6), client KEXINIT start (frame 8, first bytes).
const SERVER_BANNER: &str = "5353482d312e39392d4f70656e5353485f332e3970310a";
const CLIENT_BANNER: &str = "5353482d322e302d4f70656e5353485f332e382e3170310a";
const CLIENT_KEXINIT: &str =
    "0000025c07147804f8bb207281ea50847685da5167970000003d6469666669652d68656c6c6d616e";

#[test]
fn banners_of_a_real_connection() {
    // tshark: ssh.protocol == "SSH-1.99-OpenSSH_3.9p1" (server), "SSH-2.0-OpenSSH_3.8.1p1".
    let out = run(&[
        (false, hex(SERVER_BANNER)),
        (true, hex(CLIENT_BANNER)),
        (true, hex(CLIENT_KEXINIT)),
    ]);
    assert_eq!(
        out,
        vec![
            identity(
                Subject::Server,
                Field::Description,
                "SSH-1.99-OpenSSH_3.9p1"
            ),
            identity(
                Subject::Client,
                Field::Description,
                "SSH-2.0-OpenSSH_3.8.1p1"
            ),
        ]
    );
}

#[test]
fn banner_split_across_segments() {
    let b = hex(CLIENT_BANNER);
    let (a, c) = b.split_at(9);
    let out = run(&[(true, a.to_vec()), (true, c.to_vec())]);
    assert_eq!(
        out,
        vec![identity(
            Subject::Client,
            Field::Description,
            "SSH-2.0-OpenSSH_3.8.1p1"
        )]
    );
}

#[test]
fn server_may_send_lines_before_its_banner() {
    let out = run(&[(
        false,
        b"Welcome\r\nSSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7\r\n".to_vec(),
    )]);
    assert_eq!(
        out,
        vec![
            identity(
                Subject::Server,
                Field::Description,
                "SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7"
            ),
            identity(Subject::Server, Field::Os, "Debian"),
        ]
    );
}

#[test]
fn client_must_not_send_lines_before_its_banner() {
    let out = run(&[(true, b"GET / HTTP/1.1\r\n".to_vec())]);
    assert!(matches!(
        out.as_slice(),
        [Observation::ProtocolViolation { .. }]
    ));
}

#[test]
fn os_only_where_the_banner_states_it() {
    let os = |s: &str| banner_os(s.as_bytes());
    assert_eq!(os("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7"), Some("Debian"));
    assert_eq!(
        os("SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5"),
        Some("Ubuntu")
    );
    assert_eq!(os("SSH-2.0-OpenSSH_7.2 FreeBSD-20160310"), Some("FreeBSD"));
    assert_eq!(
        os("SSH-2.0-OpenSSH_7.4 NetBSD_Secure_Shell-20170419"),
        Some("NetBSD")
    );
    assert_eq!(os("SSH-2.0-OpenSSH_for_Windows_8.1"), Some("Windows"));
    assert_eq!(os("SSH-2.0-OpenSSH_3.8.1p1"), None);
    assert_eq!(os("SSH-2.0-dropbear_2019.78"), None);
    assert_eq!(os("SSH-2.0-OpenSSH_9.0 Debianish"), None);
    assert_eq!(os("SSH-2.0"), None);
}

#[test]
fn probe_accepts_only_identification_strings() {
    let p = |d: &[u8]| probe(Direction::ToClient, d);
    assert_eq!(p(&hex(SERVER_BANNER)), Probe::Yes);
    assert_eq!(p(&hex(CLIENT_BANNER)), Probe::Yes);
    assert_eq!(p(b""), Probe::NeedMore);
    assert_eq!(p(b"SS"), Probe::NeedMore);
    assert_eq!(p(b"SSH-2.0"), Probe::NeedMore);
    assert_eq!(p(b"SSH-x"), Probe::No);
    assert_eq!(p(b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(p(b"220 ftp ready\r\n"), Probe::No);
    assert_eq!(p(&hex(CLIENT_KEXINIT)), Probe::No);
    assert_eq!(p(b"SSH-11111111111111111111"), Probe::No);
}

#[test]
fn long_lines_give_up_the_direction() {
    let out = run(&[(false, vec![b'a'; 300]), (false, hex(SERVER_BANNER))]);
    assert!(matches!(
        out.as_slice(),
        [Observation::ProtocolViolation { .. }]
    ));
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    let conv = [
        (false, hex(SERVER_BANNER)),
        (true, hex(CLIENT_BANNER)),
        (true, hex(CLIENT_KEXINIT)),
    ];
    never_panics_in_conversation(&SPEC, &ctx(), &conv);
}
