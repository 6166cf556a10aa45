//! Tests on real HTTP/1.x streams (payloads extracted with tshark; expected values read from
//! tshark's dissection).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{self, ctx, hex, id, never_panics};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Subject;

/// http/basic-auth-with-colon.pcap tcp stream 0, client to server (186 bytes)
const BASIC_REQ: &str = "
    474554202f20485454502f312e310d0a486f73743a203137322e32342e3133332e3230353a383030300d0a557365722d
    4167656e743a20707974686f6e2d72657175657374732f322e33312e300d0a4163636570742d456e636f64696e673a20
    677a69702c206465666c6174650d0a4163636570743a202a2f2a0d0a436f6e6e656374696f6e3a206b6565702d616c69
    76650d0a417574686f72697a6174696f6e3a20426173696320206447567a64446f784f6a4d300d0a0d0a
";
/// http/basic-auth-with-colon.pcap tcp stream 0, server to client (798 bytes)
const BASIC_RESP: &str = "
    485454502f312e3020323030204f4b0d0a5365727665723a2053696d706c65485454502f302e3620507974686f6e2f33
    2e31302e360d0a446174653a204d6f6e2c203236204a756e20323032332031303a35333a303020474d540d0a436f6e74
    656e742d747970653a20746578742f68746d6c3b20636861727365743d7574662d380d0a436f6e74656e742d4c656e67
    74683a203634330d0a0d0a3c21444f43545950452048544d4c205055424c494320222d2f2f5733432f2f445444204854
    4d4c20342e30312f2f454e222022687474703a2f2f7777772e77332e6f72672f54522f68746d6c342f7374726963742e
    647464223e0a3c68746d6c3e0a3c686561643e0a3c6d65746120687474702d65717569763d22436f6e74656e742d5479
    70652220636f6e74656e743d22746578742f68746d6c3b20636861727365743d7574662d38223e0a3c7469746c653e44
    69726563746f7279206c697374696e6720666f72202f3c2f7469746c653e0a3c2f686561643e0a3c626f64793e0a3c68
    313e4469726563746f7279206c697374696e6720666f72202f3c2f68313e0a3c68723e0a3c756c3e0a3c6c693e3c6120
    687265663d222e6769742f223e2e6769742f3c2f613e3c2f6c693e0a3c6c693e3c6120687265663d222e67697469676e
    6f7265223e2e67697469676e6f72653c2f613e3c2f6c693e0a3c6c693e3c6120687265663d22636c75737465722d6465
    706c6f792e6d64223e636c75737465722d6465706c6f792e6d643c2f613e3c2f6c693e0a3c6c693e3c6120687265663d
    226675636b2e70636170223e6675636b2e706361703c2f613e3c2f6c693e0a3c6c693e3c6120687265663d227061636b
    6167652f223e7061636b6167652f3c2f613e3c2f6c693e0a3c6c693e3c6120687265663d22706c7567696e2f223e706c
    7567696e2f3c2f613e3c2f6c693e0a3c6c693e3c6120687265663d22524541444d452e6d64223e524541444d452e6d64
    3c2f613e3c2f6c693e0a3c6c693e3c6120687265663d227265706f7274642f223e7265706f7274642f3c2f613e3c2f6c
    693e0a3c2f756c3e0a3c68723e0a3c2f626f64793e0a3c2f68746d6c3e0a
";
/// http/get.pcap tcp stream 0, client to server (136 bytes, truncated)
const WGET_REQ: &str = "
    474554202f646f776e6c6f61642f4348414e4745532e62726f2d6175782e74787420485454502f312e310d0a55736572
    2d4167656e743a20576765742f312e3134202864617277696e31322e322e30290d0a4163636570743a202a2f2a0d0a48
    6f73743a2062726f2e6f72670d0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a0d0a
";
/// http/get.pcap tcp stream 0, server to client (400 bytes, truncated)
const WGET_RESP: &str = "
    485454502f312e3120323030204f4b0d0a446174653a205468752c203037204d617220323031332032313a34333a3037
    20474d540d0a5365727665723a204170616368652f322e342e3320284665646f7261290d0a4c6173742d4d6f64696669
    65643a205765642c2032392041756720323031322032333a34393a323720474d540d0a455461673a2022313236312d34
    633837303335386136666330220d0a4163636570742d52616e6765733a2062797465730d0a436f6e74656e742d4c656e
    6774683a20343730350d0a4b6565702d416c6976653a2074696d656f75743d352c206d61783d3130300d0a436f6e6e65
    6374696f6e3a204b6565702d416c6976650d0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861
    727365743d5554462d380d0a0d0a0a302e3236207c20323031322d30382d32342031353a31303a3034202d303730300a
    0a20202a20466978696e67207570646174652d6368616e6765732c20776869636820636f756c64207069636b20746865
    2077726f6e6720636f6e74726f6c2066
";
/// mixed/wikipedia.pcap tcp stream 8, client to server (534 bytes)
const FIREFOX_REQ: &str = "
    474554202f696d616765732f77696b696d656469612d627574746f6e2e706e6720485454502f312e310d0a486f73743a
    206d6574612e77696b696d656469612e6f72670d0a557365722d4167656e743a204d6f7a696c6c612f352e3020285831
    313b20553b204c696e7578207838365f36343b20656e2d55533b2072763a312e392e322e313529204765636b6f2f3230
    313130333033205562756e74752f31302e303420286c75636964292046697265666f782f332e362e31350d0a41636365
    70743a20696d6167652f706e672c696d6167652f2a3b713d302e382c2a2f2a3b713d302e350d0a4163636570742d4c61
    6e67756167653a20656e2d75732c656e3b713d302e350d0a4163636570742d456e636f64696e673a20677a69702c6465
    666c6174650d0a4163636570742d436861727365743a2049534f2d383835392d312c7574662d383b713d302e372c2a3b
    713d302e370d0a4b6565702d416c6976653a203131350d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a
    526566657265723a20687474703a2f2f7777772e77696b6970656469612e6f72672f0d0a49662d4d6f6469666965642d
    53696e63653a204672692c203035204e6f7620323031302031363a30303a303320474d540d0a49662d4e6f6e652d4d61
    7463683a20223937612d34393435303565306334366330220d0a43616368652d436f6e74726f6c3a206d61782d616765
    3d300d0a0d0a
";
/// mixed/wikipedia.pcap tcp stream 8, server to client (412 bytes)
const FIREFOX_RESP: &str = "
    485454502f312e3020333034204e6f74204d6f6469666965640d0a446174653a204672692c203138204d617220323031
    312031393a30353a353620474d540d0a436f6e74656e742d547970653a20696d6167652f706e670d0a45787069726573
    3a2053756e2c2031372041707220323031312031393a30353a353620474d540d0a4c6173742d4d6f6469666965643a20
    4672692c203035204e6f7620323031302031363a30303a303320474d540d0a455461673a20223937612d343934353035
    65306334366330220d0a4167653a2031330d0a582d43616368653a204849542066726f6d20737137362e77696b696d65
    6469612e6f72670d0a582d43616368652d4c6f6f6b75703a204849542066726f6d20737137362e77696b696d65646961
    2e6f72673a333132380d0a582d43616368653a204d4953532066726f6d20737137322e77696b696d656469612e6f7267
    0d0a582d43616368652d4c6f6f6b75703a204849542066726f6d20737137322e77696b696d656469612e6f72673a3830
    0d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a0d0a
";
/// http/methods.pcap tcp stream 44, client to server (38 bytes)
const HEAD_REQ: &str = "
    48454144202f20485454502f312e310a486f73743a207777772e676f6f676c652e636f6d0a0a
";
/// http/methods.pcap tcp stream 44, server to client (764 bytes)
const HEAD_RESP: &str = "
    485454502f312e3120323030204f4b0d0a446174653a205361742c2030312044656320323031322030323a33303a3033
    20474d540d0a457870697265733a202d310d0a43616368652d436f6e74726f6c3a20707269766174652c206d61782d61
    67653d300d0a436f6e74656e742d547970653a20746578742f68746d6c3b20636861727365743d49534f2d383835392d
    310d0a5365742d436f6f6b69653a20505245463d49443d623633306665373530656162653930343a46463d303a544d3d
    313335343332393030333a4c4d3d313335343332393030333a533d4b51654e59725f46594634566e5151343b20657870
    697265733d4d6f6e2c2030312d4465632d323031342030323a33303a303320474d543b20706174683d2f3b20646f6d61
    696e3d2e676f6f676c652e636f6d0d0a5365742d436f6f6b69653a204e49443d36363d6c5a51676e5a645f5572796173
    434878434c4272647a62436837704749696d576f4b702d5f6e33363638392d733470682d3661375a533630704e385072
    374b64624d6f5a7475626c615f303154506770515a63576f754f6e374859505f727336302d4a6f4a7531336e4d2d7961
    7975515444734e794e364f39533742736973303b20657870697265733d53756e2c2030322d4a756e2d32303133203032
    3a33303a303320474d543b20706174683d2f3b20646f6d61696e3d2e676f6f676c652e636f6d3b20487474704f6e6c79
    0d0a5033503a2043503d2254686973206973206e6f7420612050335020706f6c696379212053656520687474703a2f2f
    7777772e676f6f676c652e636f6d2f737570706f72742f6163636f756e74732f62696e2f616e737765722e70793f686c
    3d656e26616e737765723d31353136353720666f72206d6f726520696e666f2e220d0a5365727665723a206777730d0a
    582d5853532d50726f74656374696f6e3a20313b206d6f64653d626c6f636b0d0a582d4672616d652d4f7074696f6e73
    3a2053414d454f524947494e0d0a5472616e736665722d456e636f64696e673a206368756e6b65640d0a0d0a
";
/// http/methods.pcap tcp stream 4, server to client (900 bytes, truncated)
const CHUNKED_RESP: &str = "
    485454502f312e3120323030204f4b0d0a446174653a205361742c2030312044656320323031322030323a32393a3133
    20474d540d0a457870697265733a202d310d0a43616368652d436f6e74726f6c3a20707269766174652c206d61782d61
    67653d300d0a436f6e74656e742d547970653a20746578742f68746d6c3b20636861727365743d49534f2d383835392d
    310d0a5365742d436f6f6b69653a20505245463d49443d333964353533633034353362353561663a46463d303a544d3d
    313335343332383935333a4c4d3d313335343332383935333a533d6e764b396835725a564b593741764d613b20657870
    697265733d4d6f6e2c2030312d4465632d323031342030323a32393a313320474d543b20706174683d2f3b20646f6d61
    696e3d2e676f6f676c652e636f6d0d0a5365742d436f6f6b69653a204e49443d36363d4c724f4478775361596f58484e
    746c42575176496f7a3463444378446e4155306f45794c4f4c666f70453633674432486156614643645464675959494b
    4a395859546d6957713053516d44316c586d757056306a59446568725f6a4f6873616130394e2d7661504d473754396d
    6f56656e4e65444643474763444b41746d6d443b20657870697265733d53756e2c2030322d4a756e2d32303133203032
    3a32393a313320474d543b20706174683d2f3b20646f6d61696e3d2e676f6f676c652e636f6d3b20487474704f6e6c79
    0d0a5033503a2043503d2254686973206973206e6f7420612050335020706f6c696379212053656520687474703a2f2f
    7777772e676f6f676c652e636f6d2f737570706f72742f6163636f756e74732f62696e2f616e737765722e70793f686c
    3d656e26616e737765723d31353136353720666f72206d6f726520696e666f2e220d0a5365727665723a206777730d0a
    582d5853532d50726f74656374696f6e3a20313b206d6f64653d626c6f636b0d0a582d4672616d652d4f7074696f6e73
    3a2053414d454f524947494e0d0a5472616e736665722d456e636f64696e673a206368756e6b65640d0a0d0a38303030
    0d0a3c21646f63747970652068746d6c3e3c68746d6c206974656d73636f70653d226974656d73636f70652220697465
    6d747970653d22687474703a2f2f736368656d612e6f72672f57656250616765223e3c686561643e3c6d65746120636f
    6e74656e743d225365617263682074686520776f726c64277320696e666f726d6174696f
";

/// http/proxy.pcap tcp stream 0, client to server (115 bytes): an absolute-form target.
const PROXY_REQ: &str = "
    47455420485454503a2f2f62726f2e6f72672f20485454502f312e310d0a557365722d4167656e743a206375726c2f37
    2e33332e300d0a486f73743a2062726f2e6f72670d0a4163636570743a202a2f2a0d0a50726f78792d436f6e6e656374
    696f6e3a204b6565702d416c6976650d0a0d0a
";

fn c() -> FlowCtx {
    ctx(Transport::Tcp, "10.0.0.1:43090", "10.0.0.2:80")
}

/// [`testing::feed`] on this flow.
fn feed(
    d: &mut HttpDissector,
    dir: Direction,
    data: &[u8],
    piece: usize,
    out: &mut Vec<Observation>,
) -> usize {
    testing::feed(d, dir, &c(), data, piece, out)
}

fn run(dir: Direction, data: &[u8]) -> (HttpDissector, Vec<Observation>) {
    let mut d = HttpDissector::default();
    let mut out = Vec::new();
    assert_eq!(feed(&mut d, dir, data, data.len(), &mut out), 0);
    (d, out)
}

/// tshark: "Authorization: Basic  dGVzdDoxOjM0" → Credentials: test:1:34. The user is
/// what precedes the first colon; the password ("1:34") is never reported.
#[test]
fn basic_auth_user_before_first_colon() {
    let (_, out) = run(Direction::ToServer, &hex(BASIC_REQ));
    assert_eq!(
        out,
        [
            id(
                Subject::Client,
                Field::Description,
                "python-requests/2.31.0",
                source::HTTP_USER_AGENT
            ),
            Observation::CleartextLogin {
                user: "test".into(),
                protocol: "http"
            },
        ]
    );
    assert!(!format!("{out:?}").contains("1:34"));
}

/// tshark: "Server: SimpleHTTP/0.6 Python/3.10.6", Content-Length 643, whole body.
#[test]
fn response_server_and_body_skipped() {
    let (d, out) = run(Direction::ToClient, &hex(BASIC_RESP));
    assert_eq!(
        out,
        [id(
            Subject::Server,
            Field::Description,
            "SimpleHTTP/0.6 Python/3.10.6",
            source::HTTP_SERVER
        )]
    );
    assert_eq!(d.sides[1].state, State::Head);
}

/// tshark: "User-Agent: Wget/1.14 (darwin12.2.0)", "Host: bro.org"; "Server: Apache/2.4.3 (Fedora)",
/// Content-Length 4705; the first 400 stream bytes hold the head and 98 body bytes.
#[test]
fn wget_and_apache() {
    let (_, out) = run(Direction::ToServer, &hex(WGET_REQ));
    assert_eq!(
        out,
        [
            id(
                Subject::Client,
                Field::Os,
                "Darwin 12.2.0",
                source::HTTP_USER_AGENT
            ),
            id(
                Subject::Client,
                Field::Description,
                "Wget/1.14 (darwin12.2.0)",
                source::HTTP_USER_AGENT
            ),
            host_lookup("bro.org"),
        ]
    );
    let resp = hex(WGET_RESP);
    let body_seen = resp.len() - text::head_len(&resp).unwrap();
    assert_eq!(body_seen, 98);
    let (d, out) = run(Direction::ToClient, &resp);
    assert_eq!(
        out,
        [
            id(Subject::Server, Field::Os, "Fedora", source::HTTP_SERVER),
            id(
                Subject::Server,
                Field::Description,
                "Apache/2.4.3 (Fedora)",
                source::HTTP_SERVER
            ),
        ]
    );
    assert_eq!(d.sides[1].state, State::Body(4705 - 98));
}

/// tshark: Firefox 3.6 on "X11; U; Linux x86_64 … Ubuntu/10.04 (lucid)", "Host:
/// meta.wikimedia.org"; the answer is a
/// 304 without Server header and without body.
#[test]
fn firefox_on_ubuntu_and_304() {
    let ua = "Mozilla/5.0 (X11; U; Linux x86_64; en-US; rv:1.9.2.15) Gecko/20110303 Ubuntu/10.04 (lucid) Firefox/3.6.15";
    let (_, out) = run(Direction::ToServer, &hex(FIREFOX_REQ));
    assert_eq!(
        out,
        [
            id(
                Subject::Client,
                Field::Os,
                "Ubuntu 10.04",
                source::HTTP_USER_AGENT
            ),
            id(
                Subject::Client,
                Field::Description,
                ua,
                source::HTTP_USER_AGENT
            ),
            host_lookup("meta.wikimedia.org"),
        ]
    );
    let (d, out) = run(Direction::ToClient, &hex(FIREFOX_RESP));
    assert_eq!(out, []);
    assert_eq!(d.sides[1].state, State::Head);
}

/// tshark: HEAD / answered by 200 with "Transfer-Encoding: chunked" and, being a HEAD
/// response, no body at all.
#[test]
fn head_response_has_no_body() {
    let mut d = HttpDissector::default();
    let mut out = Vec::new();
    assert_eq!(
        feed(&mut d, Direction::ToServer, &hex(HEAD_REQ), 5, &mut out),
        0
    );
    assert_eq!(
        feed(&mut d, Direction::ToClient, &hex(HEAD_RESP), 7, &mut out),
        0
    );
    assert_eq!(
        out,
        [
            host_lookup("www.google.com"),
            id(
                Subject::Server,
                Field::Description,
                "gws",
                source::HTTP_SERVER
            )
        ]
    );
    assert_eq!(d.sides[1].state, State::Head);
}

/// tshark: 200, chunked; the first chunk is 0x8000 bytes long.
#[test]
fn chunked_body_is_followed() {
    let resp = hex(CHUNKED_RESP);
    let head_end = text::head_len(&resp).unwrap();
    let (d, out) = run(Direction::ToClient, &resp);
    assert_eq!(
        out,
        [id(
            Subject::Server,
            Field::Description,
            "gws",
            source::HTTP_SERVER
        )]
    );
    let first_chunk_data = resp.len() - head_end - b"8000\r\n".len();
    assert_eq!(
        d.sides[1].state,
        State::ChunkData(0x8000 - first_chunk_data as u64)
    );
    // The same in small pieces: identical result.
    let mut d2 = HttpDissector::default();
    let mut out2 = Vec::new();
    assert_eq!(feed(&mut d2, Direction::ToClient, &resp, 3, &mut out2), 0);
    assert_eq!(out2, out);
    assert_eq!(d2.sides[1].state, d.sides[1].state);
}

#[test]
fn chunk_framing_details() {
    let mut d = HttpDissector::default();
    let mut out = Vec::new();
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
    assert_eq!(feed(&mut d, Direction::ToClient, msg, 1, &mut out), 0);
    assert_eq!(
        out,
        [id(
            Subject::Server,
            Field::Description,
            "x",
            source::HTTP_SERVER
        )]
    );
    assert_eq!(d.sides[1].state, State::Head);
}

#[test]
fn empty_response_body_is_followed_by_the_next_response() {
    let msg = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
    let (_, out) = run(Direction::ToClient, msg);
    assert_eq!(
        out,
        [id(
            Subject::Server,
            Field::Description,
            "x",
            source::HTTP_SERVER
        )]
    );
}

#[test]
fn repeated_user_agent_reported_once() {
    let req = hex(FIREFOX_REQ);
    let twice = [&req[..], &req[..]].concat();
    let (_, out) = run(Direction::ToServer, &twice);
    // User-Agent's OS and description once; the host once per request.
    let lookups = out
        .iter()
        .filter(|o| matches!(o, Observation::Lookup { .. }))
        .count();
    assert_eq!((out.len(), lookups), (4, 2));
}

#[test]
fn malformed_start_line_stops_the_direction() {
    let (d, out) = run(
        Direction::ToServer,
        b"GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n",
    );
    assert!(matches!(
        out[..],
        [Observation::ProtocolViolation {
            protocol: "http",
            ..
        }]
    ));
    assert_eq!(d.sides[0].state, State::Stopped);
    // Garbage is refused as soon as its first line is complete.
    let (d, out) = run(
        Direction::ToClient,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
    );
    assert_eq!(out.len(), 1);
    assert_eq!(d.sides[1].state, State::Stopped);
}

#[test]
fn framing_violations() {
    let (d, out) = run(
        Direction::ToServer,
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    );
    assert!(matches!(out[..], [Observation::ProtocolViolation { .. }]));
    assert_eq!(d.sides[0].state, State::Stopped);
    let (d, out) = run(
        Direction::ToServer,
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert!(matches!(out[..], [Observation::ProtocolViolation { .. }]));
    assert_eq!(d.sides[0].state, State::Head);
    let (_, out) = run(Direction::ToServer, b"GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    assert!(matches!(out[..], [Observation::ProtocolViolation { .. }]));
}

#[test]
fn basic_without_colon_is_a_violation_not_a_login() {
    // "dGVzdA==" is "test": no colon, so no user can be told from the secret.
    let (_, out) = run(
        Direction::ToServer,
        b"GET / HTTP/1.1\r\nAuthorization: basic dGVzdA==\r\n\r\n",
    );
    assert!(matches!(out[..], [Observation::ProtocolViolation { .. }]));
    assert_eq!(basic_user(b"OnNlY3JldA==").as_deref(), Some("")); // ":secret"
    assert_eq!(basic_user(b"!!!"), None);
}

#[test]
fn gap_and_tunnels_stop_parsing() {
    let mut d = HttpDissector::default();
    let mut out = Vec::new();
    d.gap(Direction::ToServer);
    assert_eq!(
        d.parse(Direction::ToServer, &hex(FIREFOX_REQ), &c(), &mut out),
        hex(FIREFOX_REQ).len()
    );
    assert_eq!(out, []);
    let (d, _) = run(
        Direction::ToServer,
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01",
    );
    assert_eq!(d.sides[0].state, State::Opaque);
}

#[test]
fn probe_by_direction() {
    assert_eq!(probe(Direction::ToServer, &hex(BASIC_REQ)), Probe::Yes);
    assert_eq!(probe(Direction::ToClient, &hex(BASIC_RESP)), Probe::Yes);
    assert_eq!(probe(Direction::ToClient, &hex(BASIC_REQ)), Probe::No);
    assert_eq!(probe(Direction::ToServer, &hex(BASIC_RESP)), Probe::No);
    assert_eq!(probe(Direction::ToServer, b"GE"), Probe::NeedMore);
    assert_eq!(
        probe(Direction::ToServer, b"GET /index.html HTT"),
        Probe::NeedMore
    );
    assert_eq!(probe(Direction::ToServer, b"GET / FTP/1.0\r\n"), Probe::No);
    assert_eq!(probe(Direction::ToServer, b"USER anonymous\r\n"), Probe::No);
    assert_eq!(
        probe(Direction::ToServer, b"\x00\x01\x00\x00\x00\x06\x01\x03"),
        Probe::No
    );
    assert_eq!(probe(Direction::ToClient, b"HTTP/1"), Probe::NeedMore);
    assert_eq!(
        probe(Direction::ToClient, b"SSH-2.0-OpenSSH_8.9\r\n"),
        Probe::No
    );
    assert_eq!(
        probe(Direction::ToClient, b"HTTP/1.1 2x0 OK\r\n"),
        Probe::No
    );
}

#[test]
fn user_agent_oses() {
    let cases: [(&[u8], Option<&str>); 11] = [
        (b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", Some("Windows 10/11")),
        (b"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)", Some("Windows 7")),
        (b"Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15", Some("iOS 16.5")),
        (b"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36", Some("Android 13")),
        (b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", Some("macOS 10.15.7")),
        (b"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36", Some("ChromeOS")),
        (b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36", Some("Linux")),
        (b"curl/7.33.0", None),
        (b"Mozilla/5.0 zgrab/0.x", None),
        (b"Mozilla/5.0 (Windows NT 99.1)", Some("Windows NT 99.1")),
        (b"MyApp/1 CFNetwork/1410.0.3 Darwin/22.6.0", Some("Darwin 22.6.0")),
    ];
    for (ua, os) in cases {
        assert_eq!(
            user_agent_os(ua).as_deref(),
            os,
            "{}",
            String::from_utf8_lossy(ua)
        );
    }
}

#[test]
fn server_oses() {
    assert_eq!(
        server_os(b"Apache/2.2.22 (Ubuntu)").as_deref(),
        Some("Ubuntu")
    );
    assert_eq!(
        server_os(b"Apache/2.4.6 (Fedora)").as_deref(),
        Some("Fedora")
    );
    assert_eq!(
        server_os(b"Apache/2.2.21 (Win32) mod_ssl/2.2.21").as_deref(),
        Some("Windows")
    );
    assert_eq!(server_os(b"Microsoft-IIS/10.0").as_deref(), Some("Windows"));
    assert_eq!(server_os(b"Apache/1.3.33 (Unix)"), None);
    assert_eq!(server_os(b"GFE/2.0"), None);
    assert_eq!(
        product_token_os(b"Linux/2.6.36").as_deref(),
        Some("Linux 2.6.36")
    );
    assert_eq!(
        product_token_os(b"Microsoft-Windows/6.1").as_deref(),
        Some("Windows 7")
    );
    assert_eq!(
        product_token_os(b"Windows NT/5.1").as_deref(),
        Some("Windows XP")
    );
    assert_eq!(product_token_os(b"OS/1.0"), None);
}

#[test]
fn never_panics_on_truncations_or_noise() {
    let all = [
        BASIC_REQ,
        BASIC_RESP,
        WGET_REQ,
        WGET_RESP,
        HEAD_RESP,
        CHUNKED_RESP,
    ];
    let msgs: Vec<Vec<u8>> = all.iter().map(|h| hex(h)).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    never_panics(&SPEC, &c(), &refs);
}

fn host_lookup(name: &str) -> Observation {
    Observation::Lookup {
        name: name.to_string(),
        via: "http host",
    }
}

fn refused(user: &str) -> Observation {
    Observation::AuthFailure {
        user: user.to_string(),
        protocol: "http",
    }
}

/// Only the `Lookup` and `AuthFailure` observations of a conversation fed in order.
fn detection_facts(segs: &[(Direction, &[u8])]) -> Vec<Observation> {
    let mut d = HttpDissector::default();
    let mut out = Vec::new();
    for (dir, data) in segs {
        assert_eq!(feed(&mut d, *dir, data, data.len(), &mut out), 0);
    }
    out.into_iter()
        .filter(|o| {
            matches!(
                o,
                Observation::Lookup { .. } | Observation::AuthFailure { .. }
            )
        })
        .collect()
}

/// tshark: "GET HTTP://bro.org/" with "Host: bro.org"; basic-auth-with-colon.pcap asks for
/// "172.24.133.205:8000", an address, which names no domain.
#[test]
fn request_host_is_a_lookup() {
    let (_, out) = run(Direction::ToServer, &hex(PROXY_REQ));
    assert!(out.contains(&host_lookup("bro.org")));
    let (_, out) = run(Direction::ToServer, &hex(BASIC_REQ));
    assert!(!out.iter().any(|o| matches!(o, Observation::Lookup { .. })));
    // Responses name nothing.
    let (_, out) = run(Direction::ToClient, &hex(BASIC_RESP));
    assert!(!out.iter().any(|o| matches!(o, Observation::Lookup { .. })));
}

#[test]
fn the_target_authority_wins_over_host() {
    let req = |r: &[u8]| detection_facts(&[(Direction::ToServer, r)]);
    // RFC 9112 §3.2.2: the absolute-form authority, user info and port dropped.
    assert_eq!(
        req(b"GET http://user:pw@C2.Example:8080/x?y HTTP/1.1\r\nHost: other.example\r\n\r\n"),
        [host_lookup("c2.example")]
    );
    // RFC 9112 §3.2.3: CONNECT's authority-form.
    assert_eq!(
        req(b"CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443\r\n\r\n"),
        [host_lookup("tunnel.example")]
    );
    assert_eq!(
        req(b"GET / HTTP/1.1\r\nHost: Www.Example.:80\r\n\r\n"),
        [host_lookup("www.example")]
    );
    // Address literals and HTTP/1.0 without Host name nothing.
    for r in [
        &b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n",
        b"GET http://192.0.2.1/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n",
    ] {
        assert_eq!(req(r), [], "{}", String::from_utf8_lossy(r));
    }
    // Requests sent by the flow's server (sides guessed wrong) would name the wrong asker.
    assert_eq!(
        detection_facts(&[(
            Direction::ToClient,
            b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
        )]),
        []
    );
}

#[test]
fn refused_credentials_are_paired_with_their_requests() {
    // Pipelined: Basic admin (401), Basic root (200), Bearer (403), no credentials (401:
    // the challenge, not a refusal). "YWRtaW46eA==" is admin:x, "cm9vdDp5" root:y.
    let requests = concat!(
        "GET /a HTTP/1.1\r\nHost: plc\r\nAuthorization: Basic YWRtaW46eA==\r\n\r\n",
        "GET /b HTTP/1.1\r\nHost: plc\r\nAuthorization: Basic cm9vdDp5\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: plc\r\nAuthorization: Bearer abc.def\r\n\r\n",
        "GET /d HTTP/1.1\r\nHost: plc\r\n\r\n",
    );
    let responses = concat!(
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 2\r\n\r\nno",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
    );
    let facts = detection_facts(&[
        (Direction::ToServer, requests.as_bytes()),
        (Direction::ToClient, responses.as_bytes()),
    ]);
    let refusals: Vec<_> = facts
        .into_iter()
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .collect();
    assert_eq!(refusals, [refused("admin"), refused("")]);
}

#[test]
fn handshake_challenges_are_not_refusals() {
    let refusals = |req: &str, resp: &str| -> usize {
        detection_facts(&[
            (Direction::ToServer, req.as_bytes()),
            (Direction::ToClient, resp.as_bytes()),
        ])
        .iter()
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .count()
    };
    // [MS-NTHT] §2: NEGOTIATE_MESSAGE answered by a 401 carrying the CHALLENGE_MESSAGE.
    let ntlm = "GET / HTTP/1.1\r\nAuthorization: NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
    let next = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(refusals(ntlm, next), 0);
    // The AUTHENTICATE_MESSAGE refused: a bare challenge again.
    let again = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(refusals(ntlm, again), 1);
    // RFC 7616 §3.3: stale=true means right credentials, old nonce.
    let digest = "GET / HTTP/1.1\r\nAuthorization: Digest username=\"u\", nonce=\"n\"\r\n\r\n";
    let stale = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"m\", stale=TRUE\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(refusals(digest, stale), 0);
    // RFC 9110 §15.5.8: the proxy refuses Proxy-Authorization with 407; a 407 says nothing
    // about the origin server's credentials.
    let proxy = "GET http://a.example/ HTTP/1.1\r\nProxy-Authorization: Basic YWRtaW46eA==\r\n\r\n";
    let origin = "GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW46eA==\r\n\r\n";
    let p407 = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(refusals(proxy, p407), 1);
    assert_eq!(refusals(origin, p407), 0);
}

#[test]
fn authorities() {
    assert_eq!(host_of(b"a.example:80"), Some(&b"a.example"[..]));
    assert_eq!(host_of(b"u:p@a.example"), Some(&b"a.example"[..]));
    assert_eq!(host_of(b"[::1]:80"), None);
    assert_eq!(host_of(b"a.example:8x"), None);
    assert_eq!(host_of(b":80"), None);
    assert_eq!(host_of(b""), None);
}
