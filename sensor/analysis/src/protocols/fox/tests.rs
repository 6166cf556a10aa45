//! Tests on the Fox messages of the corpus capture other-ics/fox_info.pcap (ITI
//! ICS-Security-Tools, CC-BY-4.0; payloads from `tshark -T fields -e tcp.payload`). tshark has
//! no Fox dissector: the expected values are the capture's own text, read with `xxd`.

use super::*;
use crate::protocols::testing::{ctx, feed, hex, id, never_panics_in_conversation};
use crate::protocols::FlowCtx;

fn c() -> FlowCtx {
    ctx(Transport::Tcp, "10.1.3.4:42167", "106.68.88.119:1911")
}

/// Frame 4: Workbench 3.7.44 on Windows XP (host xpvm-0omdc01xmy) says hello.
const CLIENT_HELLO: &str = "
    666f7820612031202d3120666f782068656c6c6f0a7b0a666f782e76657273696f6e3d733a312e300a69643d693a310a
    686f73744e616d653d733a7870766d2d306f6d64633031786d790a686f7374416464726573733d733a3139322e313638
    2e312e3132350a6170702e6e616d653d733a576f726b62656e63680a6170702e76657273696f6e3d733a332e372e3434
    0a766d2e6e616d653d733a4a61766120486f7453706f7428544d292053657276657220564d0a766d2e76657273696f6e
    3d733a32302e342d6230320a6f732e6e616d653d733a57696e646f77732058500a6f732e76657273696f6e3d733a352e
    310a6c616e673d733a656e0a74696d655a6f6e653d733a416d65726963612f4c6f735f416e67656c65733b2d32383830
    303030303b333630303030303b30323a30303a30302e3030302c77616c6c2c6d617263682c382c6f6e206f7220616674
    65722c73756e6461792c756e646566696e65643b30323a30303a30302e3030302c77616c6c2c6e6f76656d6265722c31
    2c6f6e206f722061667465722c73756e6461792c756e646566696e65640a686f737449643d733a57696e2d393943422d
    443439442d353434322d303742420a766d557569643d733a38623533306263382d373663352d343133392d613265612d
    3066616264333934643330350a6272616e6449643d733a76796b6f6e0a7d3b3b0a";

/// Frame 6: the station's hello: Station 3.5.41.1 on QNX 6.3.2 (a JACE), station Legion_HQ_V4,
/// host id Qnx-NPM6-0000-1490-C30C, brand vykon, with a `sysInfo` object of 61 octets.
const STATION_HELLO: &str = "
    666f7820612030202d3120666f782068656c6c6f0a7b0a666f782e76657273696f6e3d733a312e300a69643d693a320a
    686f73744e616d653d733a3139322e3136382e322e31350a686f7374416464726573733d733a3139322e3136382e322e
    31350a6170702e6e616d653d733a53746174696f6e0a6170702e76657273696f6e3d733a332e352e34312e310a766d2e
    6e616d653d733a4a390a766d2e76657273696f6e3d733a322e330a6f732e6e616d653d733a514e580a6f732e76657273
    696f6e3d733a362e332e320a73746174696f6e2e6e616d653d733a4c6567696f6e5f48515f56340a6c616e673d733a65
    6e0a74696d655a6f6e653d733a4175737472616c69612f50657274683b32383830303030303b303b6e756c6c3b6e756c
    6c0a686f737449643d733a516e782d4e504d362d303030302d313439302d433330430a766d557569643d733a31316534
    643836342d636430652d363634612d303030302d3030303030303030623833620a6272616e6449643d733a76796b6f6e
    0a737973496e666f3d6f3a626f672036315b3c626f672076657273696f6e3d22312e30223e0a3c70206d3d22623d6261
    6a612220743d22623a4661636574732220763d22222f3e0a3c2f626f673e0a5d0a7d3b3b0a";

/// Frame 9: the station's digest-md5 challenge, with a 44-octet blob nonce.
const CHALLENGE: &str = "
    666f7820612031202d3120666f78206368616c6c656e67650a7b0a6d6574686f643d733a6469676573742d6d64350a6e
    6f6e63653d623a34345b00056e6f6e636500000002000f3138342e3137342e3133312e3139330000a4b70000014c7bbf
    2be9869d7c665d0a7d3b3b0a";

#[test]
fn header_lines_and_fields() {
    let m = hex(STATION_HELLO);
    let h = header(&m).unwrap().unwrap();
    assert_eq!(
        (h.kind, h.id, h.reply_to, h.channel, h.command),
        (&b"a"[..], 0, -1, &b"fox"[..], &b"hello"[..])
    );
    let mut fields = Vec::new();
    let len = message(&m, &mut |v| {
        fields.push((
            String::from_utf8_lossy(v.key).into_owned(),
            v.kind,
            v.value.len(),
        ))
    })
    .unwrap();
    assert_eq!(len, Some(m.len()));
    assert_eq!(fields.len(), 17);
    assert_eq!(fields[16], ("sysInfo".into(), b'o', 61));
    let c = hex(CHALLENGE);
    let mut blob = None;
    assert_eq!(
        message(&c, &mut |v| if v.kind == b'b' {
            blob = Some(v.value.len())
        })
        .unwrap(),
        Some(c.len())
    );
    assert_eq!(blob, Some(44));
    assert_eq!(message(&m[..m.len() - 5], &mut |_| {}), Ok(None));
    assert_eq!(header(b"fox a x -1 fox hello\n"), Err(FoxError::Header));
    assert_eq!(header(b"fox a 1 -1 fox\n"), Err(FoxError::Header));
}

#[test]
fn probe_takes_fox_only() {
    assert_eq!(probe(Direction::ToServer, &hex(CLIENT_HELLO)), Probe::Yes);
    assert_eq!(probe(Direction::ToServer, b"fo"), Probe::NeedMore);
    assert_eq!(
        probe(Direction::ToServer, b"fox a 1 -1 fox he"),
        Probe::NeedMore
    );
    for other in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"foxes\n",
        b"fox is here\n",
        b"\x16\x03\x01",
    ] {
        assert_eq!(probe(Direction::ToServer, other), Probe::No);
    }
}

#[test]
fn hellos_name_the_station_and_the_workbench() {
    for piece in [1, 7, 1000] {
        let mut d = (SPEC.new)();
        let mut out = Vec::new();
        let c = c();
        assert_eq!(
            feed(
                d.as_mut(),
                Direction::ToServer,
                &c,
                &hex(CLIENT_HELLO),
                piece,
                &mut out
            ),
            0
        );
        let server = [hex(STATION_HELLO), hex(CHALLENGE)].concat();
        assert_eq!(
            feed(
                d.as_mut(),
                Direction::ToClient,
                &c,
                &server,
                piece,
                &mut out
            ),
            0
        );
        let src = source::FOX_HELLO;
        let (cl, sv) = (Subject::Client, Subject::Server);
        assert_eq!(
            out,
            vec![
                Observation::Operation {
                    op: Operation::Identify,
                    function_code: None,
                    details: vec![]
                },
                id(cl, Field::Hostname, "xpvm-0omdc01xmy", src),
                id(
                    cl,
                    Field::Description,
                    "Niagara Workbench 3.7.44 on Java HotSpot(TM) Server VM 20.4-b02, host id Win-99CB-D49D-5442-07BB",
                    src
                ),
                id(cl, Field::DeviceType, "engineering_workstation", src),
                id(cl, Field::Os, "Windows XP 5.1", src),
                id(sv, Field::Hostname, "Legion_HQ_V4", src),
                id(sv, Field::Vendor, "Tridium", src),
                id(sv, Field::Model, "Niagara AX", src),
                id(sv, Field::Firmware, "3.5.41.1", src),
                id(sv, Field::Serial, "Qnx-NPM6-0000-1490-C30C", src),
                id(
                    sv,
                    Field::Description,
                    "Niagara Station 3.5.41.1 on J9 2.3, host id Qnx-NPM6-0000-1490-C30C",
                    src
                ),
                id(sv, Field::DeviceType, "building_controller", src),
                id(sv, Field::Os, "QNX 6.3.2", src),
            ],
            "piece {piece}"
        );
    }
}

#[test]
fn malformed_bodies_are_violations_and_resync() {
    let mut d = (SPEC.new)();
    let mut out = Vec::new();
    let bad = b"fox a 1 -1 fox hello\n{\nnot a field\n};;\n".to_vec();
    let data = [bad, hex(CLIENT_HELLO)].concat();
    assert_eq!(
        feed(d.as_mut(), Direction::ToServer, &c(), &data, 1000, &mut out),
        0
    );
    assert_eq!(
        out[0],
        Observation::ProtocolViolation {
            protocol: "fox",
            reason: "Fox body line without 'key=type:'".into()
        }
    );
    // The next hello is still read.
    assert!(out.contains(&id(
        Subject::Client,
        Field::Hostname,
        "xpvm-0omdc01xmy",
        source::FOX_HELLO
    )));
    let bad_blob = b"fox a 1 -1 fox challenge\n{\nnonce=b:4[abcdef]\n};;\n";
    assert_eq!(message(bad_blob, &mut |_| {}), Err(FoxError::ValueLength));
}

#[test]
fn never_panics_on_any_input() {
    let conv = vec![
        (true, hex(CLIENT_HELLO)),
        (false, hex(STATION_HELLO)),
        (false, hex(CHALLENGE)),
    ];
    never_panics_in_conversation(&SPEC, &c(), &conv);
}
