//! Tests on real MMS payloads from the corpus (extracted with `tshark -T fields -e
//! tcp.payload`, a TPKT header sent in its own segment joined to the rest; expected values
//! read from `tshark -V` and `-e mms.confirmedServiceRequest -e mms.invokeID -e
//! mms.vendorName ...`), and on PDUs built here with a small BER writer, each explained.

use super::*;
use crate::protocols::testing::{
    byte_by_byte, ctx, hex, hex_segments, id, never_panics_in_conversation, run_segments,
};
use crate::protocols::{FlowCtx, Transport};
use otwatch_common::observation::Operation;

fn c() -> FlowCtx {
    ctx(Transport::Tcp, "10.101.1.2:1089", "10.101.1.3:102")
}

// iec61850/8d7c7db0-9804-012b-b2a6-0016cb8cea27.pcap: ICCP (TASE.2) between two AREVA
// e-terracomm peers; 10.101.1.2 (KIRKLAND) calls 10.101.1.3 (BELLEVUE).
/// Frames 4+5: COTP CR, calling TSAP 0001, called TSAP 0002.
const CR: &str = "0300001611e00000b00100c0010ac1020001c2020002";
/// Frames 7+8: COTP CC.
const CC: &str = "0300000e09d0b001180200c0010a";
/// Frames 10+11: session CONNECT, presentation CP-type, AARQ (context 1.0.9506.2.1, called
/// AP title 1.1.2, AE qualifier 2, calling 1.1.1 and 1), MMS initiate-RequestPDU.
const CONNECT: &str = "030000c502f0800dbc0506130100160102140200023302000134020002c1a63181a3a003800101a2819b80020780810400000001820400000002a423300f0201010604520100013004060251013010020103060528ca220201300406025101880206006160305e020101a059605780020780a107060528ca220101a20406022902a303020102a60406022901a703020101be32283006025101020103a027a82580027d00810114820114830104a416800101810305fb00820c036e1d000000000064000198";
/// Frames 13+14: ACCEPT, CPA-PPDU, AARE (accepted, responding AP title 1.1.2, AE qualifier
/// 2), initiate-ResponsePDU.
const ACCEPT: &str = "0300009e02f0800e95050613010016010214020002c187318184a003800101a27d80020780830400000002a512300780010081025101300780010081025101615d305b020101a056615480020780a107060528ca220101a203020100a305a103020100a40406022902a503020102be2e282c020103a027a92580027d00810114820114830104a416800101810305fb00820c036e1d000000000064000198";
/// Frames 16+17: the responder asks identify (service 2), invoke id 4431.
const IDENTIFY_FROM_SERVER: &str = "0300001c02f08001000100610f300d020103a008a0060202114f8200";
/// Frames 22+23: the initiator asks identify, invoke id 1.
const IDENTIFY: &str = "0300001b02f08001000100610e300c020103a007a0050201018200";
/// Frames 25+26: identify response, invoke id 1: "AREVA T&D Corporation", "e-terracomm",
/// "2.3.1".
const IDENTIFY_RESPONSE: &str = "0300004602f0800100010061393037020103a032a130020101a22b801541524556412054264420436f72706f726174696f6e810b652d7465727261636f6d6d8205322e332e31";
/// Frames 28+29: the initiator's identify response to invoke id 4431.
const IDENTIFY_RESPONSE_FROM_CLIENT: &str = "0300004702f08001000100613a3038020103a033a1310202114fa22b801541524556412054264420436f72706f726174696f6e810b652d7465727261636f6d6d8205322e332e31";
/// Frames 88+89: getNameList (1), invoke id 3, class namedVariableList (2), scope domain
/// "BELLEVUE".
const GET_NAME_LIST: &str =
    "0300002c02f08001000100611f301d020103a018a016020103a111a003800102a10a810842454c4c45565545";
/// Frames 91+92: its answer: "ANALOG_ICCP_IN", "STATUS_ICCP_IN" (variable lists, not domains).
const GET_NAME_LIST_RESPONSE: &str = "0300004002f0800100010061333031020103a02ca12a020103a125a0201a0e414e414c4f475f494343505f494e1a0e5354415455535f494343505f494e810100";
/// Frames 106+107: write (5), invoke id 6, of BELLEVUE/EMSICCP_TS0 (a transfer set).
const WRITE: &str = "0300007f02f0800100010061723070020103a06ba069020106a564a01d301ba019a1171a0842454c4c455655451a0b454d53494343505f545330a043a241a21d8601018a0842454c4c455655458a0e5354415455535f494343505f494e85010085010585010085010085010084020380830100830100830100830101850100";

fn conversation() -> Vec<(bool, &'static str)> {
    vec![
        (true, CR),
        (false, CC),
        (true, CONNECT),
        (false, ACCEPT),
        (false, IDENTIFY_FROM_SERVER),
        (true, IDENTIFY),
        (false, IDENTIFY_RESPONSE),
        (true, IDENTIFY_RESPONSE_FROM_CLIENT),
        (true, GET_NAME_LIST),
        (false, GET_NAME_LIST_RESPONSE),
        (true, WRITE),
    ]
}

#[test]
fn probe_takes_mms_and_leaves_s7comm() {
    let start = [hex(CR), hex(CONNECT)].concat();
    assert_eq!(probe(Direction::ToServer, &hex(CR)), Probe::NeedMore);
    assert_eq!(probe(Direction::ToServer, &hex(CR)[..4]), Probe::NeedMore);
    assert_eq!(probe(Direction::ToServer, &start), Probe::Yes);
    assert_eq!(
        probe(Direction::ToServer, &start[..start.len() - 1]),
        Probe::NeedMore
    );
    assert_eq!(probe(Direction::ToClient, &hex(ACCEPT)), Probe::Yes);
    assert_eq!(probe(Direction::ToServer, &hex(IDENTIFY)), Probe::Yes);
    assert_eq!(
        super::super::s7comm::probe(Direction::ToServer, &start),
        Probe::No
    );
    // S7comm's setup communication (s7comm_reading_plc_status.pcap frame 10) is not MMS.
    let s7 = hex("0300001902f08032010000020000080000f0000001000101e0");
    assert_eq!(probe(Direction::ToServer, &s7), Probe::No);
    assert_eq!(probe(Direction::ToServer, b"GET / HTTP/1.1\r\n"), Probe::No);
}

fn run(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(SPEC.new, &c(), segs)
}

fn op(op: Operation, code: u32, details: &[(&'static str, &str)]) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: details.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

fn violations(out: &[Observation]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { protocol, reason } => {
                assert_eq!(*protocol, "mms");
                Some(reason.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn iccp_association_identity_and_requests() {
    use Subject::{Client, Server};
    let out = run(&hex_segments(&conversation()));
    let expected = vec![
        // AARQ: called (the server) and calling AP titles and AE qualifiers; the AARE repeats
        // the server's.
        id(
            Server,
            Field::Description,
            "AP title 1.1.2, AE qualifier 2",
            source::MMS_ACSE,
        ),
        id(
            Client,
            Field::Description,
            "AP title 1.1.1, AE qualifier 1",
            source::MMS_ACSE,
        ),
        // The responder's own identify request: a function code, not the client's operation.
        Observation::FunctionCode(2),
        op(Operation::Identify, 2, &[]),
        id(
            Server,
            Field::Vendor,
            "AREVA T&D Corporation",
            source::MMS_IDENTIFY,
        ),
        id(Server, Field::Model, "e-terracomm", source::MMS_IDENTIFY),
        id(Server, Field::Firmware, "2.3.1", source::MMS_IDENTIFY),
        id(
            Client,
            Field::Vendor,
            "AREVA T&D Corporation",
            source::MMS_IDENTIFY,
        ),
        id(Client, Field::Model, "e-terracomm", source::MMS_IDENTIFY),
        id(Client, Field::Firmware, "2.3.1", source::MMS_IDENTIFY),
        // getNameList of variable lists in domain BELLEVUE: the server's domain; its answer
        // lists variable lists, not domains.
        op(Operation::Read, 1, &[]),
        id(Server, Field::Hostname, "BELLEVUE", source::MMS_OBJECT_NAME),
        // write of BELLEVUE/EMSICCP_TS0: a plain write (no IEC 61850 FC).
        op(Operation::Write, 5, &[]),
    ];
    assert_eq!(out, expected);
    assert_eq!(run(&byte_by_byte(&conversation())), expected);
}

// ---------------------------------------------------------------------------------------
// PDUs built here. A small BER writer keeps each one readable.

/// A TLV: identifier octets, definite length (short or 0x81/0x82 long form), content.
fn tlv(tag: &[u8], content: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    match content.len() {
        n @ 0..=0x7f => v.push(n as u8),
        n @ 0x80..=0xff => v.extend([0x81, n as u8]),
        n => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(content);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// VisibleString (an MMS Identifier).
fn vs(s: &str) -> Vec<u8> {
    tlv(&[0x1a], s.as_bytes())
}

/// A TPKT with one DT TPDU (EOT) holding `tsdu`.
fn tpkt(tsdu: &[u8]) -> Vec<u8> {
    let len = 7 + tsdu.len();
    cat(&[&[3, 0, (len >> 8) as u8, len as u8, 2, 0xf0, 0x80], tsdu])
}

/// An MMS PDU as P-DATA: GIVE TOKENS + DATA TRANSFER (`01 00 01 00`), then fully-encoded
/// data (`61`) with one PDV-list (`30`): presentation context 3, single-ASN1-type (`a0`).
fn pdata(mms: &[u8]) -> Vec<u8> {
    let pdv = tlv(&[0x30], &cat(&[&[0x02, 0x01, 0x03], &tlv(&[0xa0], mms)]));
    tpkt(&cat(&[&[1, 0, 1, 0], &tlv(&[0x61], &pdv)]))
}

/// confirmed-RequestPDU `[0]`: invokeID, then the service TLV.
fn request(invoke: u8, service: &[u8]) -> Vec<u8> {
    tlv(&[0xa0], &cat(&[&[0x02, 0x01, invoke], service]))
}

/// confirmed-ResponsePDU `[1]`.
fn response(invoke: u8, service: &[u8]) -> Vec<u8> {
    tlv(&[0xa1], &cat(&[&[0x02, 0x01, invoke], service]))
}

/// ObjectName domain-specific `[1]` { domainID, itemID }.
fn domain_name(domain: &str, item: &str) -> Vec<u8> {
    tlv(&[0xa1], &cat(&[&vs(domain), &vs(item)]))
}

/// A listOfVariable `[0]` of named variables: SEQUENCE { name `[0]` ObjectName }.
fn variables(names: &[(&str, &str)]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = names
        .iter()
        .map(|(d, i)| tlv(&[0x30], &tlv(&[0xa0], &domain_name(d, i))))
        .collect();
    tlv(&[0xa0], &items.concat())
}

/// write `[5]`: the variables, then listOfData `[0]` with one boolean `[3]` TRUE.
fn write(invoke: u8, names: &[(&str, &str)]) -> Vec<u8> {
    let data = tlv(&[0xa0], &[0x83, 0x01, 0xff]);
    request(invoke, &tlv(&[0xa5], &cat(&[&variables(names), &data])))
}

/// initiate-RequestPDU `[8]`: local detail 65000, 5 and 5 outstanding, nesting 10, init
/// detail version 1 with a parameter CBB and services supported bit strings.
fn initiate() -> Vec<u8> {
    let detail = cat(&[
        &[0x80, 0x01, 0x01],
        &[0x81, 0x03, 0x05, 0xf1, 0x00],
        &tlv(&[0x82], &hex("03ee1c00000408000079ef18")),
    ]);
    tlv(
        &[0xa8],
        &cat(&[
            &[0x80, 0x03, 0x00, 0xfd, 0xe8],
            &[0x81, 0x01, 0x05, 0x82, 0x01, 0x05, 0x83, 0x01, 0x0a],
            &tlv(&[0xa4], &detail),
        ]),
    )
}

#[test]
fn iec61850_logical_devices_controls_and_settings() {
    use Subject::Server;
    // getNameList `[1]` of objectClass basicObjectClass `[0]` domain (9), scope vmdSpecific.
    let get_domains = request(
        1,
        &tlv(
            &[0xa1],
            &cat(&[
                &tlv(&[0xa0], &[0x80, 0x01, 0x09]),
                &tlv(&[0xa1], &[0x80, 0x00]),
            ]),
        ),
    );
    // Its answer: listOfIdentifier `[0]` "IED1LD0", "IED1PROT", then moreFollows FALSE.
    let domains = response(
        1,
        &tlv(
            &[0xa1],
            &cat(&[
                &tlv(&[0xa0], &cat(&[&vs("IED1LD0"), &vs("IED1PROT")])),
                &[0x81, 0x01, 0x00],
            ]),
        ),
    );
    // read `[4]` variableAccessSpecification `[1]` of IED1LD0/LLN0$ST$Mod$stVal.
    let read = request(
        2,
        &tlv(
            &[0xa4],
            &tlv(&[0xa1], &variables(&[("IED1LD0", "LLN0$ST$Mod$stVal")])),
        ),
    );
    // Operate a breaker (FC CO), change a protection setting (FC SP), and write a report
    // control block (FC BR: a plain write).
    let operate = write(3, &[("IED1LD0", "CSWI1$CO$Pos$Oper")]);
    let setting = write(4, &[("IED1PROT", "PTOC1$SP$StrVal$setMag$f")]);
    let rcb = write(5, &[("IED1LD0", "LLN0$BR$brcb01$RptEna")]);
    // informationReport: unconfirmed-PDU `[3]` { informationReport `[0]` { variableListName
    // `[1]` vmd-specific "RPT", listOfAccessResult `[0]` { visible-string `[10]` RptID
    // "IED1MEAS/LLN0$BR$brcb01", bit-string OptFlds, visible-string DatSet
    // "IED1MEAS/LLN0$Measurements" } } }.
    let rpt_id = tlv(&[0x8a], b"IED1MEAS/LLN0$BR$brcb01");
    let dat_set = tlv(&[0x8a], b"IED1MEAS/LLN0$Measurements");
    let results = tlv(
        &[0xa0],
        &cat(&[&rpt_id, &[0x84, 0x02, 0x06, 0x40], &dat_set]),
    );
    let report = tlv(
        &[0xa3],
        &tlv(
            &[0xa0],
            &cat(&[&tlv(&[0xa1], &tlv(&[0x80], b"RPT")), &results]),
        ),
    );
    let segs = vec![
        (true, pdata(&initiate())),
        (true, pdata(&get_domains)),
        (false, pdata(&domains)),
        (true, pdata(&read)),
        (true, pdata(&operate)),
        (true, pdata(&setting)),
        (true, pdata(&rcb)),
        (false, pdata(&report)),
    ];
    let out = run(&segs);
    let expected = vec![
        op(Operation::Read, 1, &[]),
        id(Server, Field::Hostname, "IED1LD0", source::MMS_DOMAIN_LIST),
        id(Server, Field::Hostname, "IED1PROT", source::MMS_DOMAIN_LIST),
        op(Operation::Read, 4, &[]),
        op(
            Operation::Control,
            5,
            &[
                ("service", "write"),
                ("variable", "IED1LD0/CSWI1$CO$Pos$Oper"),
            ],
        ),
        op(
            Operation::ConfigChange,
            5,
            &[
                ("service", "write"),
                ("variable", "IED1PROT/PTOC1$SP$StrVal$setMag$f"),
                ("setting", "parameters"),
            ],
        ),
        op(Operation::Write, 5, &[]),
        id(Server, Field::Hostname, "IED1MEAS", source::MMS_OBJECT_NAME),
    ];
    assert_eq!(out, expected);
}

#[test]
fn program_domain_and_file_services() {
    let program = |code: u8, name: &str| tlv(&[0xbf, code], &tlv(&[0x80], name.as_bytes()));
    let file_name = |name: &str| tlv(&[0x19], name.as_bytes());
    let segs = vec![
        // createProgramInvocation [38] { [0] "P1", [1] { "D1" } }.
        (
            true,
            pdata(&request(
                1,
                &tlv(
                    &[0xbf, 38],
                    &cat(&[&tlv(&[0x80], b"P1"), &tlv(&[0xa1], &vs("D1"))]),
                ),
            )),
        ),
        // reset [43] and kill [44] of P1.
        (true, pdata(&request(2, &program(43, "P1")))),
        (true, pdata(&request(3, &program(44, "P1")))),
        // deleteProgramInvocation [39] IMPLICIT Identifier, deleteDomain [36] likewise.
        (true, pdata(&request(4, &tlv(&[0x9f, 39], b"P1")))),
        (true, pdata(&request(5, &tlv(&[0x9f, 36], b"D1")))),
        // initiateUploadSequence [29] IMPLICIT Identifier.
        (true, pdata(&request(6, &tlv(&[0xbd], b"D1")))),
        // The server asks the client for a download segment [27] of D1.
        (false, pdata(&request(7, &tlv(&[0x9b], b"D1")))),
        // fileOpen [72] { fileName [0] { "COMTRADE/", "fault1.cfg" }, initialPosition [1] 0 }.
        (
            true,
            pdata(&request(
                8,
                &tlv(
                    &[0xbf, 72],
                    &cat(&[
                        &tlv(
                            &[0xa0],
                            &cat(&[&file_name("COMTRADE"), &file_name("fault1.cfg")]),
                        ),
                        &[0x81, 0x01, 0x00],
                    ]),
                ),
            )),
        ),
        // fileRead [73] IMPLICIT Integer32 (the FRSM id).
        (true, pdata(&request(9, &[0x9f, 73, 0x01, 0x01]))),
        // fileDelete [76] IMPLICIT FileName.
        (
            true,
            pdata(&request(10, &tlv(&[0xbf, 76], &file_name("old.cfg")))),
        ),
        // obtainFile [46] { sourceFile [1], destinationFile [2] }.
        (
            true,
            pdata(&request(
                11,
                &tlv(
                    &[0xbf, 46],
                    &cat(&[
                        &tlv(&[0xa1], &file_name("new.cid")),
                        &tlv(&[0xa2], &file_name("ied.cid")),
                    ]),
                ),
            )),
        ),
    ];
    let out = run(&segs);
    use Operation::*;
    let expected = vec![
        op(
            ProgramDownload,
            38,
            &[("service", "createProgramInvocation"), ("program", "P1")],
        ),
        op(Restart, 43, &[("service", "reset"), ("program", "P1")]),
        op(CpuStop, 44, &[("service", "kill"), ("program", "P1")]),
        op(
            ProgramDelete,
            39,
            &[("service", "deleteProgramInvocation"), ("program", "P1")],
        ),
        op(
            ProgramDelete,
            36,
            &[("service", "deleteDomain"), ("domain", "D1")],
        ),
        op(
            ProgramUpload,
            29,
            &[("service", "initiateUploadSequence"), ("domain", "D1")],
        ),
        op(
            ProgramDownload,
            27,
            &[("service", "downloadSegment"), ("domain", "D1")],
        ),
        op(
            FileTransfer,
            72,
            &[
                ("service", "fileOpen"),
                ("file", "COMTRADE/fault1.cfg"),
                ("file_op", "read"),
            ],
        ),
        op(
            FileTransfer,
            73,
            &[("service", "fileRead"), ("file_op", "read")],
        ),
        op(
            FileTransfer,
            76,
            &[
                ("service", "fileDelete"),
                ("file", "old.cfg"),
                ("file_op", "delete"),
            ],
        ),
        op(
            FileTransfer,
            46,
            &[
                ("service", "obtainFile"),
                ("file", "ied.cid"),
                ("file_op", "write"),
            ],
        ),
    ];
    assert_eq!(out, expected);
}

// iec61850/mms-stopRequest.pcap and mms-initiateDownloadSequence.pcap: a test tool sends
// MMS PDUs straight in COTP (no session or presentation); the server's answers have TPKT
// lengths that do not cover them (tshark: "TPKT Continuation").
/// stopRequest frame 4: CR.
const BARE_CR: &str = "030000130ee00000000600c1020002c2020200";
/// stopRequest frame 6: the server's "CC", a TPKT of length 5.
const BARE_CC: &str = "0300000500d080";
/// stopRequest frame 8: initiate-RequestPDU.
const BARE_INITIATE: &str = "0300002f02f080a8268002001f81010382010383020808a416800101810305e800820c03ffffffffffffffffffffff";
/// stopRequest frame 12: start (40) of "R395024397Application_1", invoke id 1.
const BARE_START: &str =
    "0300002a02f080a021020101bf281b8017523339353032343339374170706c69636174696f6e5f318100";
/// stopRequest frame 16: stop (41) of the same program invocation.
const BARE_STOP: &str =
    "0300002802f080a01f020101bf29198017523339353032343339374170706c69636174696f6e5f31";
/// initiateDownloadSequence frame 12: takeControl (19) of semaphore "reserved".
const BARE_TAKE_CONTROL: &str = "0300002002f080a017020101b312a00a80087265736572766564830101860101";
/// initiateDownloadSequence frame 16: initiateDownloadSequence (26) of "DTLogFilesDomain",
/// capability "MuSecAC800M", not sharable.
const BARE_DOWNLOAD: &str = "0300003202f080a029020101ba24801044544c6f6746696c6573446f6d61696ea10d1a0b4d7553656341433830304d820100";

#[test]
fn mms_straight_in_cotp() {
    let mut start = hex(BARE_CR);
    start.extend(hex(BARE_INITIATE));
    assert_eq!(probe(Direction::ToServer, &start), Probe::Yes);
    // The broken answer leaves the decision to the other direction.
    assert_eq!(probe(Direction::ToClient, &hex(BARE_CC)), Probe::NeedMore);
    let segs = hex_segments(&[
        (true, BARE_CR),
        (false, BARE_CC),
        (true, BARE_INITIATE),
        (true, BARE_START),
        (true, BARE_STOP),
        (true, BARE_TAKE_CONTROL),
        (true, BARE_DOWNLOAD),
    ]);
    let program = "R395024397Application_1";
    let out = run(&segs);
    assert_eq!(
        out,
        vec![
            crate::protocols::violation("mms", MmsError::TpktLength),
            op(
                Operation::CpuStart,
                40,
                &[("service", "start"), ("program", program)]
            ),
            op(
                Operation::CpuStop,
                41,
                &[("service", "stop"), ("program", program)]
            ),
            op(Operation::Control, 19, &[]),
            op(
                Operation::ProgramDownload,
                26,
                &[
                    ("service", "initiateDownloadSequence"),
                    ("domain", "DTLogFilesDomain")
                ]
            ),
        ]
    );
}

// iec61850/iec61850_write.pcap: a libiec61850-style association whose server answers are
// altered (tshark: "ACCEPT (AC) SPDU [Malformed Packet]").
/// Frame 10: ACCEPT whose LI (137) is one more than the 136 octets after it.
const BAD_ACCEPT: &str = "0300009102f0800e89050613010006010214020002c1003178a003800100a271830400000001a512300780010081025201300780010081025101880206006151304f020101a04a614880020780a107060528ca220203a203020100a305a103020100a40606042bce0f02a503020117be20281e020103a019a917800100810100820100830100a409800100810100820100";
/// Frame 12: write (5) of vmd-specific "mu", invoke id 0.
const WRITE_MU: &str =
    "0300002a02f08001000100611d301b020103a016a014020100a50fa0083006a00480026d75a003850100";
/// Frame 14: a confirmed response whose service is a SEQUENCE.
const BAD_RESPONSE: &str = "0300001b02f08001000100610e300c020103a007a1050201003000";

/// `(to_server, bytes)` segments of one TCP conversation.
type Conversation = Vec<(bool, Vec<u8>)>;

#[test]
fn violations_have_reasons() {
    let cases: Vec<(Conversation, &str)> = vec![
        (
            hex_segments(&[(false, BAD_ACCEPT)]),
            "session SPDU length 137 does not fit the 136 bytes of the TSDU",
        ),
        (
            hex_segments(&[(true, WRITE_MU), (false, BAD_RESPONSE)]),
            "MMS service tag [UNIVERSAL 16] constructed is not context-specific",
        ),
        // A confirmed response without service: invokeID 0 alone.
        (
            vec![(false, pdata(&[0xa1, 0x03, 0x02, 0x01, 0x00]))],
            "MMS confirmed response without a service",
        ),
        // A confirmed request without invoke id.
        (
            vec![(true, pdata(&[0xa0, 0x02, 0x82, 0x00]))],
            "MMS request without an invoke id",
        ),
        // [14] is no MMS PDU.
        (
            vec![(true, pdata(&[0xae, 0x00]))],
            "unknown MMS PDU tag [14] constructed",
        ),
        // A PDU whose length runs past its presentation value.
        (
            vec![(true, pdata(&[0xa0, 0x05, 0x02, 0x01, 0x00]))],
            "MMS PDU malformed: BER data ends inside a TLV",
        ),
        // GIVE TOKENS, then EXPEDITED DATA instead of DATA TRANSFER.
        (
            vec![(true, tpkt(&[1, 0, 5, 0]))],
            "session give tokens not followed by data transfer",
        ),
        // PREPARE (SI 7) is not used by MMS.
        (
            vec![(true, tpkt(&[7, 0]))],
            "unknown session SPDU type 0x07",
        ),
        // DATA TRANSFER whose user information is not presentation User-data.
        (
            vec![(true, tpkt(&[1, 0, 1, 0, 0x30, 0x00]))],
            "presentation PDU is not User-data",
        ),
        // A DT TPDU with length indicator 3.
        (
            vec![(true, hex("0300000803f08000"))],
            "COTP TPDU malformed or not class 0",
        ),
        // An answer to an invoke id that was never asked, after the initiate.
        (
            vec![
                (true, pdata(&initiate())),
                (false, pdata(&response(9, &[0x82, 0x00]))),
            ],
            "MMS answer to invoke id 9 that was never asked",
        ),
    ];
    for (segs, reason) in cases {
        let out = run(&segs);
        assert_eq!(violations(&out), [reason], "{out:?}");
    }
    // Without the initiate (a capture that starts mid-association) an unknown answer is fine.
    assert!(run(&[(false, pdata(&response(9, &[0x82, 0x00])))]).is_empty());
}

#[test]
fn segmented_tsdu_is_reassembled() {
    // The identify response of frame 26 split over two DT TPDUs (no EOT, then EOT).
    let tsdu = &hex(IDENTIFY_RESPONSE)[7..];
    let (a, b) = tsdu.split_at(30);
    let dt = |user: &[u8], eot: bool| {
        let len = 7 + user.len();
        cat(&[
            &[
                3,
                0,
                (len >> 8) as u8,
                len as u8,
                2,
                0xf0,
                if eot { 0x80 } else { 0 },
            ],
            user,
        ])
    };
    let out = run(&[
        (true, hex(IDENTIFY)),
        (false, dt(a, false)),
        (false, dt(b, true)),
    ]);
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(
        out[1],
        id(
            Subject::Server,
            Field::Vendor,
            "AREVA T&D Corporation",
            source::MMS_IDENTIFY
        )
    );
}

#[test]
fn never_panics() {
    let conv = hex_segments(&conversation());
    never_panics_in_conversation(&SPEC, &c(), &conv);
    let bare = hex_segments(&[
        (true, BARE_CR),
        (false, BARE_CC),
        (true, BARE_START),
        (false, BAD_ACCEPT),
    ]);
    never_panics_in_conversation(&SPEC, &c(), &bare);
}
