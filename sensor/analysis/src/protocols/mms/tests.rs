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
const WRITE: &str = "0300007f02f0800100010061723070020103a06ba069020106a564a01d301ba019a1171a0842454c4c455655451a0b454d53494343505f545330a043a241a21d8601018a0842454c4c455655458a0e5354415455535f494343505f494e85010085010585010085010084020380830100830100830100830101850100";

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

#[test]
fn debug_recognise() {
    use crate::protocols::registry::{recognise, Verdict};
    let cr = hex(CR);
    let steps: Vec<(Direction, Vec<u8>)> = vec![
        (Direction::ToServer, cr[..4].to_vec()),
        (Direction::ToServer, cr.clone()),
        (Direction::ToClient, hex(CC)[..4].to_vec()),
        (Direction::ToClient, hex(CC)),
        (
            Direction::ToServer,
            [cr.clone(), hex(CONNECT)[..4].to_vec()].concat(),
        ),
        (Direction::ToServer, [cr.clone(), hex(CONNECT)].concat()),
    ];
    for (d, data) in steps {
        let v = recognise(Transport::Tcp, 102, 1089, d, &data);
        eprintln!(
            "{d:?} {} {:?}",
            data.len(),
            match v {
                Verdict::Match { spec, .. } => spec.name,
                Verdict::NeedMore => "needmore",
                Verdict::NoMatch => "nomatch",
            }
        );
    }
}
