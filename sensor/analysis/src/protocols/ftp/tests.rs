//! Tests on real FTP control connections (payloads extracted with tshark; expected values
//! read from tshark's dissection).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{
    self, byte_by_byte, hex, hex_segments, id, never_panics_in_conversation, run_segments, Noise,
};
use crate::protocols::FlowCtx;
use otwatch_common::observation::Source;

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "10.0.0.1:50003", "10.0.0.2:21")
}

fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(new, &ctx(), segs)
}

fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
    run_bytes(&hex_segments(segs))
}

fn server(field: Field, value: &str, source: Source) -> Observation {
    id(Subject::Server, field, value, source)
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

fn op(op: Operation) -> Observation {
    Observation::Operation {
        op,
        function_code: None,
        details: Vec::new(),
    }
}

// suricata-verify tests/ftp/ftp-download-passive, tcp.stream 0 (control connection).
const DOWNLOAD_PASSIVE: &[(bool, &str)] = &[
    (false, "323230204654502053616e64626f782052656164792e0d0a"), // 4
    (true, "5553455220626f620d0a"),                              // 6
    (
        false,
        "33333120506c656173652073706563696679207468652070617373776f72642e0d0a",
    ), // 8
    (true, "504153532070617373776f72640d0a"),                    // 9
    (false, "323330204c6f67696e207375636365737366756c2e0d0a"),   // 10
    (true, "5459504520410d0a"),                                  // 11
    (
        false,
        "32303020537769746368696e6720746f204153434949206d6f64652e0d0a",
    ), // 12
    (true, "504153560d0a"),                                      // 13
    // 14
    (
        false,
        concat!(
            "32323720456e746572696e672050617373697665204d6f646520283137322c32332c302c322c3832",
            "2c39292e0d0a",
        ),
    ),
    (true, "4e4c53540d0a"), // 18
    (
        false,
        "313530204865726520636f6d657320746865206469726563746f7279206c697374696e672e0d0a",
    ), // 19
    (false, "323236204469726563746f72792073656e64204f4b2e0d0a"), // 25
    (true, "5459504520490d0a"), // 27
    (
        false,
        "32303020537769746368696e6720746f2042696e617279206d6f64652e0d0a",
    ), // 28
    (true, "504153560d0a"), // 29
    // 30
    (
        false,
        concat!(
            "32323720456e746572696e672050617373697665204d6f646520283137322c32332c302c322c3832",
            "2c3136292e0d0a",
        ),
    ),
    (true, "5245545220696e6465782e68746d6c0d0a"), // 34
    // 35
    (
        false,
        concat!(
            "313530204f70656e696e672042494e415259206d6f6465206461746120636f6e6e656374696f6e20",
            "666f7220696e6465782e68746d6c20283339206279746573292e0d0a",
        ),
    ),
    (false, "323236205472616e7366657220636f6d706c6574652e0d0a"), // 41
    (true, "5459504520410d0a"),                                  // 43
    (
        false,
        "32303020537769746368696e6720746f204153434949206d6f64652e0d0a",
    ), // 44
    (true, "504153560d0a"),                                      // 45
    // 46
    (
        false,
        concat!(
            "32323720456e746572696e672050617373697665204d6f646520283137322c32332c302c322c3832",
            "2c3136292e0d0a",
        ),
    ),
    (true, "4e4c53540d0a"), // 50
    (
        false,
        "313530204865726520636f6d657320746865206469726563746f7279206c697374696e672e0d0a",
    ), // 51
    (false, "323236204469726563746f72792073656e64204f4b2e0d0a"), // 57
    (true, "515549540d0a"), // 59
    (false, "32323120476f6f646279652e0d0a"), // 60
];
// zeek testing/btest/Traces/ftp/ftp-password-pass-command.pcap, tcp.stream 0.
const FILEZILLA_FAILED_LOGIN: &[(bool, &str)] = &[
    // 4
    (
        false,
        concat!(
            "3232302d46696c655a696c6c612053657276657220312e392e310d0a32323020506c656173652076",
            "697369742068747470733a2f2f66696c657a696c6c612d70726f6a6563742e6f72672f0d0a",
        ),
    ),
    (true, "555345522041646d696e0d0a"), // 6
    (
        false,
        "33333120506c656173652c2073706563696679207468652070617373776f72642e0d0a",
    ), // 8
    (true, "50415353207177657274790d0a"), // 9
    (false, "353330204c6f67696e20696e636f72726563742e0d0a"), // 11
];
// zeek testing/btest/Traces/ftp/retr.pcap, tcp.stream 0 (control connection).
const RETR: &[(bool, &str)] = &[
    // 4
    (
        false,
        concat!(
            "323230206674702e6e6373612e696c6c696e6f69732e656475204654502053657276657220284170",
            "616368652f322e322e33202843656e744f5329205048502f352e312e36206d6f645f6674702f302e",
            "392e36292072656164792e0d0a",
        ),
    ),
    (true, "5553455220616e6f6e796d6f75730d0a"), // 6
    // 8
    (
        false,
        concat!(
            "333331204775657374206c6f67696e206f6b2c207479706520796f757220656d61696c2061646472",
            "657373206173207468652070617373776f72640d0a",
        ),
    ),
    (true, "50415353206368726f6d65406578616d706c652e636f6d0d0a"), // 10
    (
        false,
        "323330205573657220616e6f6e796d6f7573206c6f6767656420696e0d0a",
    ), // 11
    (true, "535953540d0a"),                                       // 13
    // 14
    (
        false,
        concat!(
            "32313520554e495820547970653a204c382053797374656d3a20224170616368652f322e322e3320",
            "2843656e744f5329205048502f352e312e36206d6f645f6674702f302e392e36220d0a",
        ),
    ),
    (true, "5057440d0a"), // 16
    (
        false,
        "32353720222f222069732063757272656e74206469726563746f72790d0a",
    ), // 17
    (true, "5459504520490d0a"), // 19
    (false, "32303020547970652073657420746f20490d0a"), // 20
    (true, "455053560d0a"), // 22
    // 23
    (
        false,
        concat!(
            "32323920456e746572696e6720457874656e6465642050617373697665204d6f646520287c7c7c33",
            "383134317c290d0a",
        ),
    ),
    (true, "53495a45202f524541444d450d0a"), // 29
    (false, "3231332031363535370d0a"),      // 30
    (true, "435744202f524541444d450d0a"),   // 32
    (
        false,
        "353530202f524541444d453a204e6f742061206469726563746f72790d0a",
    ), // 33
    (true, "52455452202f524541444d450d0a"), // 35
    // 36
    (
        false,
        concat!(
            "313530204f70656e696e672042494e415259206d6f6465206461746120636f6e6e656374696f6e20",
            "666f72202f524541444d450d0a",
        ),
    ),
    (false, "323236205472616e7366657220636f6d706c6574652e0d0a"), // 59
    (true, "515549540d0a"),                                      // 61
    (false, "32323120476f6f646279652e0d0a"),                     // 62
];
// zeek testing/btest/Traces/ftp/ipv4.pcap, tcp.stream 0 (control connection).
const NETBSD: &[(bool, &str)] = &[
    // 4
    (
        false,
        concat!(
            "323230206674702e4e65744253442e6f7267204654502073657276657220284e65744253442d6674",
            "7064203230313030333230292072656164792e0d0a",
        ),
    ),
    (true, "5553455220616e6f6e796d6f75730d0a"), // 6
    // 7
    (
        false,
        concat!(
            "333331204775657374206c6f67696e206f6b2c207479706520796f7572206e616d65206173207061",
            "7373776f72642e0d0a",
        ),
    ),
    (true, "5041535320746573740d0a"), // 9
    (false, "3233302d0d0a"),          // 10
    // 12
    (
        false,
        concat!(
            "20202020546865204e65744253442050726f6a6563742046545020536572766572206c6f63617465",
            "6420696e20526564776f6f6420436974792c2043412c205553410d0a202020203120476270732063",
            "6f6e6e656374697669747920636f757274657379206f662020202020202020202020202020202020",
            "2020202020202020202c20202020202020202c0d0a20202020496e7465726e65742053797374656d",
            "7320436f6e736f727469756d202020202020202020202020202020202057454c434f4d4521202020",
            "202f28202020202020202029600d0a20202020202020202020202020202020202020202020202020",
            "20202020202020202020202020202020202020202020202020202020202020202020205c205c5f5f",
            "5f2020202f207c0d0a2020202020202b2d2d2d2043757272656e746c7920537570706f7274656420",
            "506c6174666f726d73202d2d2d2d2b20202020202020202020202020202f2d205f2020602d2f2020",
            "270d0a2020202020207c202061636f726e5b32362c33325d2c20616c676f722c20616c7068612c20",
            "616d6436342c20207c20202020202020202020202020282f5c2f205c205c2020202f5c0d0a202020",
            "2020207c202020616d6967615b2c7070635d2c206172632c2061746172692c206265626f782c2020",
            "20207c202020202020202020202020202f202f2020207c2060202020205c0d0a2020202020207c20",
            "2020636174732c206365736669632c20636f62616c742c20647265616d636173742c2020207c2020",
            "20202020202020202020204f204f20202029202f202020207c0d0a2020202020207c20206576625b",
            "61726d2c6d6970732c7070632c7368335d2c2068705b3330302c3730305d2c207c20202020202020",
            "202020202020602d5e2d2d27603c2020202020270d0a2020202020207c202020202020206870635b",
            "61726d2c6d6970732c73685d2c20693338362c20202020202020207c202020202020202020202020",
            "285f2e2920205f2020292020202f0d0a2020202020207c20202020202069626d6e77732c2069796f",
            "6e69782c206c756e6136386b2c20202020202020207c20202020202020202020202020202e5f5f5f",
            "2f60202020202f0d0a2020202020207c202020206d61635b6d36386b2c7070635d2c206d69707363",
            "6f2c206d6d6579652c20202020207c202020202020202020202020202020602d2d2d2d2d27202f0d",
            "0a2020202020207c2020202020206d766d655b6d36386b2c7070635d2c206e657477696e64657273",
            "2c20202020207c20203c2d2d2d2d2e20202020205f5f202f205f5f2020205c0d0a2020202020207c",
            "2020206e6577735b6d36386b2c6d6970735d2c206e65787436386b2c206f667070632c2020207c20",
            "203c2d2d2d2d7c3d3d3d3d4f2929293d3d29205c29202f3d3d3d3d0d0a2020202020207c20706c61",
            "7973746174696f6e322c20706d61782c20707265702c2073616e64706f696e742c207c20203c2d2d",
            "2d2d2720202020602d2d2720602e5f5f2c27205c0d0a2020202020207c202073626d6970732c2073",
            "67696d6970732c20736861726b2c2073706172635b2c36345d2c207c202020202020202020202020",
            "2020207c20202020202020207c0d0a2020202020207c20202020202073756e5b322c335d2c207661",
            "782c207836386b2c2078656e20202020202020207c202020202020202020202020202020205c2020",
            "20202020202f0d0a2020202020202b2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d",
            "2d2d2d2d2d2d2d2d2d2d2d2d2d2b20202020202020202020205f5f5f5f5f5f2820285f20202f205c",
            "5f5f5f5f5f0d0a202020202020536565206f7572207765627369746520617420687474703a2f2f77",
            "77772e4e65744253442e6f72672f20202020202020202c2720202c2d2d2d2d2d272020207c202020",
            "202020205c0d0a202020202020205765206c6f6720616c6c20465450207472616e73666572732061",
            "6e6420636f6d6d61",
        ),
    ),
    // 14
    (
        false,
        concat!(
            "6e64732e20202020202020202020602d2d7b5f5f5f5f5f5f5f5f5f5f29202028464c29205c2f0d0a",
            "3233302d0d0a202020204558504f5254204e4f544943450d0a202020200d0a20202020506c656173",
            "65206e6f7465207468617420706f7274696f6e73206f66207468697320465450207369746520636f",
            "6e7461696e2063727970746f677261706869630d0a20202020736f66747761726520636f6e74726f",
            "6c6c656420756e64657220746865204578706f72742041646d696e697374726174696f6e20526567",
            "756c6174696f6e732028454152292e0d0a202020200d0a202020204e6f6e65206f66207468697320",
            "736f667477617265206d617920626520646f776e6c6f61646564206f72206f746865727769736520",
            "6578706f72746564206f720d0a2020202072652d6578706f7274656420696e746f20286f7220746f",
            "2061206e6174696f6e616c206f72207265736964656e74206f662920437562612c204972616e2c20",
            "4c696279612c0d0a20202020537564616e2c204e6f727468204b6f7265612c205379726961206f72",
            "20616e79206f7468657220636f756e74727920746f2077686963682074686520552e532e20686173",
            "0d0a20202020656d626172676f656420676f6f64732e0d0a202020200d0a20202020427920646f77",
            "6e6c6f6164696e67206f72207573696e67207361696420736f6674776172652c20796f7520617265",
            "206167726565696e6720746f207468650d0a20202020666f7265676f696e6720616e6420796f7520",
            "61726520726570726573656e74696e6720616e642077617272616e74696e67207468617420796f75",
            "20617265206e6f740d0a202020206c6f636174656420696e2c20756e6465722074686520636f6e74",
            "726f6c206f662c206f722061206e6174696f6e616c206f72207265736964656e74206f6620616e79",
            "0d0a202020207375636820636f756e747279206f72206f6e20616e792073756368206c6973742e0d",
            "0a323330204775657374206c6f67696e206f6b2c20616363657373207265737472696374696f6e73",
            "206170706c792e0d0a",
        ),
    ),
    (true, "535953540d0a"), // 16
    // 17
    (
        false,
        concat!(
            "32313520554e495820547970653a204c382056657273696f6e3a204e65744253442d667470642032",
            "303130303332300d0a",
        ),
    ),
    (true, "504153560d0a"), // 19
    // 20
    (
        false,
        concat!(
            "32323720456e746572696e672050617373697665204d6f646520283139392c3233332c3231372c32",
            "34392c3232312c3930290d0a",
        ),
    ),
    (true, "4c4953540d0a"), // 25
    // 26
    (
        false,
        concat!(
            "313530204f70656e696e67204153434949206d6f6465206461746120636f6e6e656374696f6e2066",
            "6f7220272f62696e2f6c73272e0d0a",
        ),
    ),
    (false, "323236205472616e7366657220636f6d706c6574652e0d0a"), // 32
    (true, "5459504520490d0a"),                                  // 35
    (false, "32303020547970652073657420746f20492e0d0a"),         // 36
    (true, "504153560d0a"),                                      // 38
    // 39
    (
        false,
        concat!(
            "32323720456e746572696e672050617373697665204d6f646520283139392c3233332c3231372c32",
            "34392c3232312c3931290d0a",
        ),
    ),
    (true, "5245545220726f626f74732e7478740d0a"), // 44
    // 45
    (
        false,
        concat!(
            "313530204f70656e696e672042494e415259206d6f6465206461746120636f6e6e656374696f6e20",
            "666f722027726f626f74732e7478742720283737206279746573292e0d0a",
        ),
    ),
    (false, "323236205472616e7366657220636f6d706c6574652e0d0a"), // 52
    (true, "5459504520410d0a"),                                  // 54
    (false, "32303020547970652073657420746f20412e0d0a"),         // 55
    (
        true,
        "504f5254203134312c3134322c3232302c3233352c3133312c34360d0a",
    ), // 57
    (
        false,
        "32303020504f525420636f6d6d616e64207375636365737366756c2e0d0a",
    ), // 58
    (true, "4c4953540d0a"),                                      // 59
    // 66
    (
        false,
        concat!(
            "313530204f70656e696e67204153434949206d6f6465206461746120636f6e6e656374696f6e2066",
            "6f7220272f62696e2f6c73272e0d0a",
        ),
    ),
    (false, "323236205472616e7366657220636f6d706c6574652e0d0a"), // 70
    (true, "5459504520490d0a"),                                  // 72
    (false, "32303020547970652073657420746f20492e0d0a"),         // 73
    (
        true,
        "504f5254203134312c3134322c3232302c3233352c3134372c3230330d0a",
    ), // 75
    (
        false,
        "32303020504f525420636f6d6d616e64207375636365737366756c2e0d0a",
    ), // 76
    (true, "5245545220726f626f74732e7478740d0a"),                // 77
    // 80
    (
        false,
        concat!(
            "313530204f70656e696e672042494e415259206d6f6465206461746120636f6e6e656374696f6e20",
            "666f722027726f626f74732e7478742720283737206279746573292e0d0a",
        ),
    ),
    (false, "323236205472616e7366657220636f6d706c6574652e0d0a"), // 88
    (true, "515549540d0a"),                                      // 90
    (false, "3232312d0d0a"),                                     // 91
    // 93
    (
        false,
        concat!(
            "2020202044617461207472616666696320666f7220746869732073657373696f6e20776173203135",
            "3420627974657320696e20322066696c65732e0d0a20202020546f74616c20747261666669632066",
            "6f7220746869732073657373696f6e20776173203430333720627974657320696e2034207472616e",
            "73666572732e0d0a323231205468616e6b20796f7520666f72207573696e67207468652046545020",
            "73657276696365206f6e206674702e4e65744253442e6f72672e0d0a",
        ),
    ),
];

// Expected values from `tshark -Y ftp -T fields -e ftp.request.command -e
// ftp.request.arg -e ftp.response.code` and `-z follow,tcp,ascii,0`.
#[test]
fn passive_download_login_and_retr() {
    assert_eq!(
        run(DOWNLOAD_PASSIVE),
        vec![
            server(Field::Description, "FTP Sandbox Ready.", source::FTP_BANNER),
            login("bob"),
            op(Operation::FileTransfer),
            op(Operation::Read),
        ]
    );
}

#[test]
fn multi_line_greeting_and_failed_login() {
    assert_eq!(
        run(FILEZILLA_FAILED_LOGIN),
        vec![
            server(
                Field::Description,
                "FileZilla Server 1.9.1",
                source::FTP_BANNER
            ),
            login("Admin"),
            refused("Admin"),
        ]
    );
}

#[test]
fn successful_logins_are_not_refusals() {
    for conv in [DOWNLOAD_PASSIVE, RETR, NETBSD] {
        assert_eq!(refusals(run(conv)), vec![]);
    }
}

#[test]
fn each_refused_attempt_on_one_connection_is_reported_once() {
    // vsftpd-style replies; the last attempt succeeds.
    let out = run_bytes(&[
        (false, b"220 (vsFTPd 3.0.3)\r\n".to_vec()),
        (true, b"USER admin\r\n".to_vec()),
        (false, b"331 Please specify the password.\r\n".to_vec()),
        (true, b"PASS a\r\n".to_vec()),
        (false, b"530 Login incorrect.\r\n".to_vec()),
        (true, b"USER root\r\n".to_vec()),
        (false, b"331 Please specify the password.\r\n".to_vec()),
        (true, b"PASS b\r\n".to_vec()),
        // A multi-line refusal (RFC 959 §4.2) is one reply.
        (
            false,
            b"530-Login incorrect.\r\n530 Try again.\r\n".to_vec(),
        ),
        (true, b"USER bob\r\n".to_vec()),
        (false, b"331 Please specify the password.\r\n".to_vec()),
        (true, b"PASS c\r\n".to_vec()),
        (false, b"230 Login successful.\r\n".to_vec()),
    ]);
    assert_eq!(refusals(out), vec![refused("admin"), refused("root")]);
}

#[test]
fn refused_user_and_the_pass_sent_anyway_are_one_attempt() {
    // Pipelined: the server refuses the user name, then the password after it.
    let out = run_bytes(&[
        (true, b"USER guest\r\nPASS x\r\n".to_vec()),
        (
            false,
            b"530 This FTP server is anonymous only.\r\n530 Login with USER first.\r\n".to_vec(),
        ),
    ]);
    assert_eq!(out, vec![login("guest"), refused("guest")]);
}

#[test]
fn pipelined_attempts_are_paired_with_their_replies() {
    let out = run_bytes(&[
        (
            true,
            b"USER a\r\nPASS 1\r\nUSER b\r\nPASS 2\r\nPWD\r\n".to_vec(),
        ),
        (
            false,
            concat!(
                "331 Password required\r\n530 Login incorrect\r\n",
                "331 Password required\r\n230 Logged in\r\n257 \"/\"\r\n"
            )
            .as_bytes()
            .to_vec(),
        ),
    ]);
    assert_eq!(refusals(out), vec![refused("a")]);
}

#[test]
fn refusals_of_other_commands_and_syntax_errors_are_not_failed_logins() {
    let out = run_bytes(&[
        (false, b"220 ready\r\n".to_vec()),
        (true, b"LIST\r\n".to_vec()),
        (false, b"530 Please login with USER and PASS.\r\n".to_vec()),
        (true, b"USER a\r\n".to_vec()),
        (false, b"331 Password required\r\n".to_vec()),
        (true, b"PASS\r\n".to_vec()),
        // RFC 959 §4.2: 501 is a syntax error in the arguments, not a verdict.
        (false, b"501 Syntax error\r\n".to_vec()),
        // A reply nothing asked for (the server closing) pairs with nothing.
        (false, b"530 Bye\r\n".to_vec()),
    ]);
    assert_eq!(refusals(out), vec![]);
}

#[test]
fn preliminary_replies_do_not_answer_the_login() {
    let out = run_bytes(&[
        (true, b"USER a\r\n".to_vec()),
        (false, b"331 Password required\r\n".to_vec()),
        (true, b"PASS b\r\n".to_vec()),
        (false, b"120 Wait a moment\r\n".to_vec()),
        (false, b"530 Login incorrect\r\n".to_vec()),
    ]);
    assert_eq!(refusals(out), vec![refused("a")]);
}

#[test]
fn a_gap_forgets_the_awaited_replies() {
    let mut d = new();
    let mut out = Vec::new();
    let c = ctx();
    d.parse(Direction::ToServer, b"USER a\r\nPASS b\r\n", &c, &mut out);
    d.gap(Direction::ToClient);
    d.parse(
        Direction::ToClient,
        b"x\r\n530 Login incorrect\r\n",
        &c,
        &mut out,
    );
    assert_eq!(refusals(out), vec![]);
}

#[test]
fn anonymous_login_and_os_from_greeting() {
    assert_eq!(
        run(RETR),
        vec![
            server(
                Field::Description,
                "ftp.ncsa.illinois.edu FTP Server (Apache/2.2.3 (CentOS) PHP/5.1.6 mod_ftp/0.9.6) ready.",
                source::FTP_BANNER
            ),
            server(Field::Os, "CentOS", source::FTP_BANNER),
            login("anonymous"),
            op(Operation::FileTransfer),
            op(Operation::Read),
        ]
    );
}

#[test]
fn long_multi_line_reply_and_two_retrievals() {
    assert_eq!(
        run(NETBSD),
        vec![
            server(
                Field::Description,
                "ftp.NetBSD.org FTP server (NetBSD-ftpd 20100320) ready.",
                source::FTP_BANNER
            ),
            server(Field::Os, "NetBSD", source::FTP_BANNER),
            login("anonymous"),
            op(Operation::FileTransfer),
            op(Operation::Read),
            op(Operation::FileTransfer),
            op(Operation::Read),
        ]
    );
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    assert_eq!(run_bytes(&byte_by_byte(RETR)), run(RETR));
}

#[test]
fn stores_are_writes() {
    let out = run_bytes(&[(true, b"STOR a.txt\r\nAPPE b\r\nstou\r\nDELE c\r\n".to_vec())]);
    assert_eq!(
        out,
        vec![
            op(Operation::FileTransfer),
            op(Operation::Write),
            op(Operation::FileTransfer),
            op(Operation::Write),
            op(Operation::FileTransfer),
            op(Operation::Write),
            op(Operation::FileTransfer),
        ]
    );
}

#[test]
fn auth_tls_stops_parsing() {
    let out = run_bytes(&[
        (false, b"220 (vsFTPd 3.0.3)\r\n".to_vec()),
        (true, b"AUTH TLS\r\n".to_vec()),
        (false, b"234 Proceed with negotiation.\r\n".to_vec()),
        (true, vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
        (true, b"USER x\r\nPASS y\r\n".to_vec()),
    ]);
    assert_eq!(
        out,
        vec![server(
            Field::Description,
            "(vsFTPd 3.0.3)",
            source::FTP_BANNER
        )]
    );
}

#[test]
fn refused_auth_keeps_parsing() {
    let out = run_bytes(&[
        (true, b"AUTH TLS\r\n".to_vec()),
        (false, b"530 Please login with USER and PASS.\r\n".to_vec()),
        (true, b"USER x\r\nPASS y\r\n".to_vec()),
    ]);
    assert_eq!(out, vec![login("x")]);
}

#[test]
fn pass_without_user_is_a_violation_and_no_login() {
    let out = run_bytes(&[(true, b"PASS secret\r\n".to_vec())]);
    assert!(matches!(
        out.as_slice(),
        [Observation::ProtocolViolation { .. }]
    ));
    let text = format!("{out:?}");
    assert!(!text.contains("secret"));
}

#[test]
fn password_never_appears_in_observations() {
    let text = format!("{:?}", run(DOWNLOAD_PASSIVE));
    assert!(!text.contains("password\""));
    let text = format!("{:?}", run(FILEZILLA_FAILED_LOGIN));
    assert!(!text.contains("qwerty"));
}

#[test]
fn os_words_not_host_names() {
    assert_eq!(text_os(b"ftp.debian.org FTP server"), None);
    assert_eq!(text_os(b"ftp.Debian.org FTP server"), None);
    assert_eq!(text_os(b"UNIX Type: L8"), None);
    assert_eq!(text_os(b"Windows_NT"), Some("Windows"));
    assert_eq!(text_os(b"Microsoft FTP Service"), Some("Windows"));
    assert_eq!(text_os(b"(Ubuntu)"), Some("Ubuntu"));
    assert_eq!(text_os(b"Ubuntuish"), None);
}

#[test]
fn long_line_gives_up_the_direction() {
    let mut long = vec![b'A'; MAX_LINE + 10];
    long.extend_from_slice(b"\r\nUSER x\r\nPASS y\r\n");
    let out = run_bytes(&[(true, long)]);
    assert!(matches!(
        out.as_slice(),
        [Observation::ProtocolViolation { .. }]
    ));
}

#[test]
fn gap_resynchronises_at_the_next_line() {
    let mut d = new();
    let mut out = Vec::new();
    assert_eq!(d.parse(Direction::ToServer, b"USER a", &ctx(), &mut out), 0);
    d.gap(Direction::ToServer);
    let data = b"ice\r\nUSER bob\r\nPASS x\r\n";
    assert_eq!(
        d.parse(Direction::ToServer, data, &ctx(), &mut out),
        data.len()
    );
    assert_eq!(out, vec![login("bob")]);
}

#[test]
fn probe_is_strict() {
    let c = |d: &[u8]| probe(Direction::ToServer, d);
    let s = |d: &[u8]| probe(Direction::ToClient, d);
    assert_eq!(s(&hex(DOWNLOAD_PASSIVE[0].1)), Probe::Yes);
    assert_eq!(s(&hex(FILEZILLA_FAILED_LOGIN[0].1)), Probe::Yes);
    assert_eq!(s(b"220 mail.example.com ESMTP Postfix\r\n"), Probe::No);
    assert_eq!(s(b"22"), Probe::NeedMore);
    assert_eq!(s(b"220 ready"), Probe::NeedMore);
    assert_eq!(s(b"HTTP/1.1 200 OK\r\n"), Probe::No);
    assert_eq!(s(b"SSH-2.0-OpenSSH_8.0\r\n"), Probe::No);
    assert_eq!(s(b"2201\r\n"), Probe::No);
    assert_eq!(c(&hex(DOWNLOAD_PASSIVE[1].1)), Probe::Yes);
    assert_eq!(c(b"US"), Probe::NeedMore);
    assert_eq!(c(b"USER"), Probe::NeedMore);
    assert_eq!(c(b"PWD\r\n"), Probe::Yes);
    assert_eq!(c(b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(c(b"EHLO x\r\n"), Probe::No);
    assert_eq!(c(&[0xff, 0xfd, 0x18]), Probe::No);
    assert_eq!(c(&[b'A'; 600]), Probe::No);
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    for conv in [DOWNLOAD_PASSIVE, FILEZILLA_FAILED_LOGIN, RETR, NETBSD] {
        never_panics_in_conversation(&SPEC, &ctx(), &hex_segments(conv));
    }
    // Random bytes cut into lines, so the line parser sees many short lines.
    let mut noise = Noise::new(0x9e37_79b9);
    for _ in 0..500 {
        let len = (noise.next_u64() % 600) as usize;
        let bytes: Vec<u8> = noise
            .bytes(len)
            .into_iter()
            .map(|b| if b % 7 == 0 { b'\n' } else { b })
            .collect();
        let _ = probe(Direction::ToServer, &bytes);
        let _ = probe(Direction::ToClient, &bytes);
        let _ = run_bytes(&[(false, bytes.clone()), (true, bytes)]);
    }
}
