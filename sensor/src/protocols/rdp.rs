//! RDP connection start ([MS-RDPBCGR] §1.3.1.1): recognition and the client's computer name.
//!
//! Every RDP connection opens with TPKT (RFC 1006 §6) carrying an X.224 Connection Request
//! (ITU-T X.224 §13.3, [MS-RDPBCGR] §2.2.1.1) from the client and a Connection Confirm
//! (§13.4, [MS-RDPBCGR] §2.2.1.2) from the server. The probe insists on that shape and on
//! RDP's own variable part (a `Cookie:` line and/or an RDP_NEG_REQ/RSP/FAILURE), so the
//! COTP connection of S7comm or MMS on the same framing (which carries TSAP parameters) is
//! not taken for RDP.
//!
//! With standard RDP security the client's next TPKT is the MCS Connect Initial, whose GCC
//! user data holds the Client Core Data ([MS-RDPBCGR] §2.2.1.3.2) with `clientName`, the
//! client computer's NetBIOS name: reported as the client's hostname. With TLS or CredSSP the
//! rest is ciphertext and nothing more is read.
//!
//! Deliberately not reported: the `Cookie: mstshash=` value. It is usually the user name the
//! client typed (truncated to 9 characters, sometimes `DOMAIN\user`), but clients and scanners
//! put other things there, and the observation model has no user-name field that is not a
//! cleartext login; RDP sends no password there.

use super::registry::ProtocolSpec;
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "rdp",
    transport: Transport::Tcp,
    ports: &[3389],
    probe,
    new,
};

const PROTOCOL: &str = "rdp";
const MAX_TEXT_CHARS: usize = 256;

/// RFC 1006 §6: version 3, reserved 0, 16-bit length including this 4-byte header.
const TPKT_VERSION: u8 = 3;
const TPKT_HEADER: usize = 4;
/// X.224 fixed part of CR/CC: LI, code, DST-REF(2), SRC-REF(2), class option.
const X224_CONN_FIXED: usize = 7;
/// X.224 TPDU codes (high nibble; ITU-T X.224 §13.1 table 8).
const X224_CR: u8 = 0xe0;
const X224_CC: u8 = 0xd0;
const X224_DT: u8 = 0xf0;
/// [MS-RDPBCGR] §2.2.1.1.1 / §2.2.1.2.1 / §2.2.1.2.2 negotiation structure types.
const TYPE_RDP_NEG_REQ: u8 = 0x01;
const TYPE_RDP_NEG_RSP: u8 = 0x02;
const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
const TYPE_RDP_CORRELATION_INFO: u8 = 0x06;
const NEG_LEN: usize = 8;
const CORRELATION_INFO_LEN: usize = 36;
/// T.124 H.221 non-standard key of client-to-server GCC user data ([MS-RDPBCGR] §2.2.1.3).
const H221_CLIENT_KEY: &[u8] = b"Duca";
/// [MS-RDPBCGR] §2.2.1.3.1 TS_UD_HEADER type CS_CORE.
const CS_CORE: u16 = 0xc001;
/// Offset of `clientName` (32 bytes, UTF-16LE) in TS_UD_CS_CORE, header included.
const CLIENT_NAME_OFFSET: usize = 24;
const CLIENT_NAME_LEN: usize = 32;

fn new() -> Box<dyn Dissector> {
    Box::new(Rdp::default())
}

/// A TPKT-framed X.224 Connection Request (client) or Connection Confirm (server) whose
/// variable part is RDP's.
fn probe(dir: Direction, data: &[u8]) -> Probe {
    let expect = match dir {
        Direction::ToServer => X224_CR,
        Direction::ToClient => X224_CC,
    };
    let min = TPKT_HEADER + X224_CONN_FIXED;
    match data {
        [] => return Probe::NeedMore,
        [TPKT_VERSION] | [TPKT_VERSION, 0] | [TPKT_VERSION, 0, _] => return Probe::NeedMore,
        [TPKT_VERSION, 0, ..] => {}
        _ => return Probe::No,
    }
    let Some(pdu_len) = tpkt_len(data) else {
        return Probe::NeedMore;
    };
    // X.224 §13.3.1: LI is one byte and covers the whole TPDU here, so LI + 5 = TPKT length.
    let li_matches = data.get(4).is_none_or(|&li| usize::from(li) + 5 == pdu_len);
    let code_matches = data.get(5).is_none_or(|&code| code & 0xf0 == expect);
    if pdu_len < min || !li_matches || !code_matches {
        return Probe::No;
    }
    let Some(pdu) = data.get(..pdu_len) else {
        // The whole request is short (a few dozen bytes); decide on all of it.
        return Probe::NeedMore;
    };
    if connection_tpdu(pdu, expect) {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// The TPKT length field (RFC 1006 §6), when the header is complete.
fn tpkt_len(data: &[u8]) -> Option<usize> {
    let len = data.get(2..4)?;
    Some(usize::from(u16::from_be_bytes([
        *len.first()?,
        *len.get(1)?,
    ])))
}

/// Whether one TPKT PDU holds an X.224 CR or CC (`expect`) with RDP's variable part.
fn connection_tpdu(pdu: &[u8], expect: u8) -> bool {
    let Some(x224) = pdu.get(TPKT_HEADER..) else {
        return false;
    };
    // X.224 §13.3.1: LI counts the header bytes after itself; here the TPDU is the PDU, and
    // class 0 (§13.3.3, high nibble of the class option) is the only one RDP uses.
    let header_ok = match x224 {
        [li, code, _, _, _, _, class, ..] => {
            usize::from(*li) + 1 == x224.len() && code & 0xf0 == expect && class & 0xf0 == 0
        }
        _ => false,
    };
    let variable = x224.get(X224_CONN_FIXED..).unwrap_or_default();
    header_ok
        && match expect {
            X224_CR => cr_variable(variable),
            _ => cc_variable(variable),
        }
}

/// [MS-RDPBCGR] §2.2.1.1: optional routingToken or cookie (`Cookie: ...` CR LF), optional
/// RDP_NEG_REQ, optional RDP_NEG_CORRELATION_INFO.
fn cr_variable(mut v: &[u8]) -> bool {
    if v.starts_with(b"Cookie:") {
        match v.windows(2).position(|w| w == b"\r\n") {
            Some(end) => v = v.get(end + 2..).unwrap_or_default(),
            None => return false,
        }
    }
    if v.is_empty() {
        return true;
    }
    let Some((neg, rest)) = v.split_at_checked(NEG_LEN) else {
        return false;
    };
    neg_structure(neg, TYPE_RDP_NEG_REQ)
        && match rest {
            [] => true,
            [TYPE_RDP_CORRELATION_INFO, _, len_lo, len_hi, ..] => {
                usize::from(u16::from_le_bytes([*len_lo, *len_hi])) == CORRELATION_INFO_LEN
                    && rest.len() == CORRELATION_INFO_LEN
            }
            _ => false,
        }
}

/// [MS-RDPBCGR] §2.2.1.2: nothing, an RDP_NEG_RSP or an RDP_NEG_FAILURE.
fn cc_variable(v: &[u8]) -> bool {
    v.is_empty() || neg_structure(v, TYPE_RDP_NEG_RSP) || neg_structure(v, TYPE_RDP_NEG_FAILURE)
}

/// An 8-byte negotiation structure of type `ty`: type, flags, length 8 (u16 LE), then a u32
/// (requestedProtocols, selectedProtocol or failureCode).
fn neg_structure(b: &[u8], ty: u8) -> bool {
    matches!(b, [t, _flags, 8, 0, _, _, _, _] if *t == ty)
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Client {
    #[default]
    ConnectionRequest,
    /// Standard RDP security may follow: the next TPKT is the MCS Connect Initial.
    ConnectInitial,
    Done,
}

/// Per-flow RDP state.
#[derive(Default)]
pub struct Rdp {
    client: Client,
    server_done: bool,
}

impl Dissector for Rdp {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        let done = match dir {
            Direction::ToServer => self.client == Client::Done,
            Direction::ToClient => self.server_done,
        };
        if done {
            return data.len();
        }
        let Some(pdu_len) = tpkt_len(data) else {
            return 0;
        };
        if data.first() != Some(&TPKT_VERSION) {
            // TLS (CredSSP) or fast-path after the connection sequence: not ours to read.
            self.finish(dir);
            return data.len();
        }
        if pdu_len < TPKT_HEADER + 3 {
            violation(out, "TPKT length shorter than an X.224 header");
            self.finish(dir);
            return data.len();
        }
        let Some(pdu) = data.get(..pdu_len) else {
            return 0;
        };
        match (dir, self.client) {
            (Direction::ToServer, Client::ConnectionRequest) => {
                if connection_tpdu(pdu, X224_CR) {
                    self.client = Client::ConnectInitial;
                } else {
                    violation(
                        out,
                        "first client PDU is not an RDP X.224 Connection Request",
                    );
                    self.client = Client::Done;
                }
            }
            (Direction::ToServer, _) => {
                if let Some(name) = client_name(pdu) {
                    out.push(Observation::Identity {
                        subject: Subject::Client,
                        field: Field::Hostname,
                        value: name,
                        source: "rdp client core data",
                    });
                }
                self.client = Client::Done;
            }
            (Direction::ToClient, _) => {
                // When the server selects TLS or CredSSP (§2.2.1.2.1 selectedProtocol != 0)
                // the client's next bytes are a TLS handshake, seen as not-TPKT above.
                if !connection_tpdu(pdu, X224_CC) {
                    violation(
                        out,
                        "first server PDU is not an RDP X.224 Connection Confirm",
                    );
                }
                self.server_done = true;
            }
        }
        pdu_len
    }

    fn gap(&mut self, dir: Direction) {
        self.finish(dir);
    }
}

impl Rdp {
    fn finish(&mut self, dir: Direction) {
        match dir {
            Direction::ToServer => self.client = Client::Done,
            Direction::ToClient => self.server_done = true,
        }
    }
}

fn violation(out: &mut Vec<Observation>, reason: &str) {
    out.push(Observation::ProtocolViolation {
        protocol: PROTOCOL,
        reason: reason.to_string(),
    });
}

/// `clientName` from the Client Core Data of an MCS Connect Initial in an X.224 DT TPDU.
///
/// Rather than decoding the BER (T.125) and PER (T.124) layers, finds the H.221 key "Duca"
/// that introduces the client's GCC user data, skips its PER length (X.691 §10.9: one byte,
/// or two when the high bit is set) and walks the TS_UD_HEADER blocks ([MS-RDPBCGR]
/// §2.2.1.3.1: type u16 LE, length u16 LE including the header).
fn client_name(pdu: &[u8]) -> Option<String> {
    let x224 = pdu.get(TPKT_HEADER..)?;
    // X.224 §13.7 DT (class 0): LI = 2, code 0xF0, EOT/NR.
    if x224.get(..2)? != [2, X224_DT] {
        return None;
    }
    let key = x224
        .windows(H221_CLIENT_KEY.len())
        .position(|w| w == H221_CLIENT_KEY)?;
    let mut blocks = x224.get(key + H221_CLIENT_KEY.len()..)?;
    let first = *blocks.first()?;
    blocks = blocks.get(if first & 0x80 != 0 { 2 } else { 1 }..)?;
    while let [t0, t1, l0, l1, ..] = blocks {
        let ty = u16::from_le_bytes([*t0, *t1]);
        let len = usize::from(u16::from_le_bytes([*l0, *l1]));
        if len < 4 {
            return None;
        }
        let block = blocks.get(..len)?;
        if ty == CS_CORE {
            let raw = block.get(CLIENT_NAME_OFFSET..CLIENT_NAME_OFFSET + CLIENT_NAME_LEN)?;
            let name = utf16le_text(raw);
            return (!name.is_empty()).then_some(name);
        }
        blocks = blocks.get(len..)?;
    }
    None
}

/// NUL-terminated UTF-16LE from the wire as printable text (see [`wire_text`]).
fn utf16le_text(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| match c {
            [lo, hi] => u16::from_le_bytes([*lo, *hi]),
            _ => 0,
        })
        .take_while(|&u| u != 0);
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    wire_text(&s)
}

/// Printable text: runs of whitespace and control characters folded into one space, trimmed,
/// capped at 256 characters.
// Private until protocols::text lands; then use that one.
fn wire_text(s: &str) -> String {
    let mut out = String::new();
    let mut chars = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = chars > 0;
            continue;
        }
        if chars + usize::from(pending_space) >= MAX_TEXT_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::{Endpoint, Transport};
    use otwatch_common::Timestamp;
    use std::net::{IpAddr, Ipv4Addr};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn ctx() -> FlowCtx {
        let ep = |last, port| Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            port,
            mac: None,
        };
        FlowCtx {
            client: ep(1, 54990),
            server: ep(2, 3389),
            transport: Transport::Tcp,
            ts: Timestamp::ZERO,
            dst_mac: None,
        }
    }

    /// Feeds segments like the flow layer: per-direction buffers, consumed bytes drained.
    fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
        let mut d = new();
        let mut pending = [Vec::new(), Vec::new()];
        let mut out = Vec::new();
        for (to_server, seg) in segs {
            let (dir, i) = if *to_server {
                (Direction::ToServer, 0)
            } else {
                (Direction::ToClient, 1)
            };
            pending[i].extend_from_slice(seg);
            let n = d.parse(dir, &pending[i], &ctx(), &mut out);
            assert!(n <= pending[i].len());
            pending[i].drain(..n);
        }
        out
    }

    fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
        let segs: Vec<(bool, Vec<u8>)> = segs.iter().map(|(d, h)| (*d, hex(h))).collect();
        run_bytes(&segs)
    }

    fn client_host(name: &str) -> Observation {
        Observation::Identity {
            subject: Subject::Client,
            field: Field::Hostname,
            value: name.to_string(),
            source: "rdp client core data",
        }
    }

    // zeek testing/btest/Traces/rdp/rdp-x509.pcap: cookie + RDP_NEG_REQ, NEG_RSP, ClientData.
    const X509: &[(bool, &str)] = &[
        // 6
        (
            true,
            concat!(
                "0300002f2ae00000000000436f6f6b69653a206d737473686173683d4a4f484e2d504320200d0a01",
                "00080000000000",
            ),
        ),
        (false, "030000130ed000001234000200080000000000"), // 7
        // 11
        (
            true,
            concat!(
                "030001be02f0807f658201b20401010401010101ff30190201220201020201000201010201000201",
                "010202ffff020102301902010102010102010102010102010002010102020420020102301c0202ff",
                "ff0202fc170202ffff0201010201000201010202ffff02010204820151000500147c000181480008",
                "00100001c00044756361813a01c0ea00040008008007380401ca03aa09040000802500004a004f00",
                "48004e002d00500043002d004c004100500054004f0050000000000004000000000000000c000000",
                "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
                "00000000000000000000000000000000000000000000000001ca01000000000010000f00ad073300",
                "63003500370031006500640030002d0033003400310035002d0034003700340062002d0061006500",
                "390034002d0037003400650031003500310062000000070000000000000000000000000000000000",
                "00000000000004c00c00150000000000000002c00c001b0000000000000003c03800040000007264",
                "70647200000000008080726470736e640000000000c0636c6970726472000000a0c0647264796e76",
                "6300000080c0",
            ),
        ),
        // 12
        (
            false,
            concat!(
                "0300057d02f0807f668205710a0100020100301a0201220201030201000201010201000201010203",
                "00fff80201020482054b000500147c00012a14760a01010001c0004d63446e8534010c0c00040008",
                "0000000000030c1000eb030400ec03ed03ee03ef03020c1805020000000200000020000000e40400",
                "009fda0605a0e36f690bff0ca0b121db62dae41b971235375c712b642d8ae3cfa702000080020000",
                "005f0100003082015b30820109a003020102020859eb28cb02b1a0d4300906052b0e03021d050030",
                "2c312a301106035504031e0a00530045005200560052301506035504071e0e005400550052004e00",
                "42004b004c301e170d3135303231313134313530365a170d3135303531323030303030305a302c31",
                "2a301106035504031e0a00530045005200560052301506035504071e0e005400550052004e004200",
                "4b004c305c300d06092a864886f70d0101010500034b003048024100d31474f69f983d557757f668",
                "0d765c1965f19f8b7d31a605a2aa3b47e14ba9d01a3fce1780402e77838f7bb5e47be12c18eefcc3",
                "e277ffd9d6936ad6ce9809fd0203010001a3133011300f0603551d13040830060101ff0201003009",
                "06052b0e03021d05000341008a9264745d17d5003e74c9039a10e0c1f3ae56d8ef0f5523cda88209",
                "f56bdad26a18caa9b2a1d12a7aee6b57858a3a07aafb116c5fb9feff7592abaa02feac9c65030000",
                "308203613082030fa00302010202050100000001300906052b0e03021d0500302c312a3011060355",
                "04031e0a00530045005200560052301506035504071e0e005400550052004e0042004b004c301e17",
                "0d3133303430353135313535355a170d3136313233313233353935395a30818e31818b3021060355",
                "04031e1a006e00630061006c007200700063003a00530045005200560052302106035504071e1a00",
                "6e00630061006c007200700063003a00530045005200560052304306035504051e3c003100420063",
                "004b006500660059005300460039003700450076006b006100690043007100610068005000590038",
                "0075005000640030003d000d000a305c300d06092a864886f70d0101040500034b003048024100f2",
                "2d4e9a36ed8f684449ede380f86db3fc0360ad644dc4e3a5d200e9247b92efa8657610e7fbe2256f",
                "46837c33d8620ccbb366963b13c6772b60428cb221acc70203010001a38201b7308201b330140609",
                "2b06010401823712040101ff040401000500303c06092b06010401823712020101ff042c4d006900",
                "630072006f0073006f0066007400200043006f00720070006f0072006100740069006f006e000000",
                "3081cd06092b06010401823712050101ff0481bc003000000100000002000000090400001c004a00",
                "66004a00b0000100330064003200360037003900350034002d0065006500630037002d0031003100",
                "640031002d0062003900340065002d00300030006400300034006600610033003000380030006400",
                "0000330064003200360037003900350034002d0064006500610037002d0031003200640031002d00",
                "62003900340065002d00300030006300300034006600610033003000380030006400000000000010",
                "0080d40000000000306806092b06010401823712060101ff04580030000000000c003c0053004500",
                "5200560052000000360039003700310033002d003000310032002d00340037003000310037003600",
                "33002d003400340037003500310000005400550052004e0042004b004c000000000030230603551d",
                "230101ff04193017a10ea40c53004500520056005200000082050100000001300906052b0e03021d",
                "0500034100aad15319b38adaf8857735cc8a23af10d4c0c2407ca60092163e4e65e38331c22395ec",
                "be98581f61d9924279fa483f72aa4064c01d34016491ee237ce26bcce3000000000000000000",
            ),
        ),
    ];
    // suricata-verify tests/rdp-protocol/RDP-003.pcap: cookie only (RDP 5), bare CC.
    const RDP5: &[(bool, &str)] = &[
        (
            true,
            "030000241fe00000000000436f6f6b69653a206d737473686173683d4137303036370d0a",
        ), // 4
        (false, "0300000b06d00000123400"), // 6
        // 7
        (
            true,
            concat!(
                "0300019c02f0807f658201900401010401010101ff30190201220201020201000201010201000201",
                "010202ffff020102301902010102010102010102010102010002010102020420020102301c0202ff",
                "ff0202fc170202ffff0201010201000201010202ffff0201020482012f000500147c000181260008",
                "00100001c00044756361811801c0d400040008008004600301ca03aa09040000280a000049005300",
                "440032002d004b004d0038003400310037003800000000000000000004000000000000000c000000",
                "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
                "00000000000000000000000000000000000000000000000001ca0100000000000f00070001003500",
                "35003200370034002d004f0045004d002d0030003000310031003900300033002d00300030003100",
                "30003700000000000000000000000000000000000000000004c00c00090000000000000002c00c00",
                "0b0000000000000003c02c0003000000726470647200000000008080636c6970726472000000a0c0",
                "726470736e640000000000c0",
            ),
        ),
        // 8
        (
            false,
            concat!(
                "0300014d02f0807f668201410a0100020100301a0201220201030201000201010201000201010203",
                "00fff80201020482011b000500147c00012a14760a01010001c0004d63446e8104010c0800040008",
                "00030c1000eb030300ec03ed03ee030000020cec00080000000200000020000000b8000000778e84",
                "ed14edf1083d361284c28dcd52da72301be1dc7fdf62accd22660b33720100000001000000010000",
                "0006005c005253413148000000000200003f0000000100010083f6d4ca7c05975a72cb0b5ca0ece5",
                "9d468470e83ac0589091a00c9119bcab88efc96b261a6290e8a9385b5aa4198f5f29caa6c62c9143",
                "9003bda0a2e9b8a6c90000000000000000080048001b0c7249c4782f8c7d4c9fc6182f3164c66099",
                "979fa4f292683db067cfc711a7237512767a01199ca613beaf0647dd0120a94e54066f6a61018e57",
                "e725ee0f3f0000000000000000",
            ),
        ),
    ];
    // zeek testing/btest/Traces/rdp/rdp-no-cookie-mstshash.pcap: RDP_NEG_REQ only, then TLS.
    const NO_COOKIE: &[(bool, &str)] = &[
        (true, "030000130ee00000000000010008000b000000"), // 7
        (false, "030000130ed00000123400021f080008000000"), // 9
        // 11
        (
            true,
            concat!(
                "160303008e0100008a030367b4ac55e203e3879630e7d66974024e01872f2bffa34b65c070b61a38",
                "5929c700002ac02cc02bc030c02f009f009ec024c023c028c027c00ac009c014c013009d009c003d",
                "003c0035002f000a01000037000a00080006001d00170018000b00020100000d0014001204010501",
                "02010403050302030202060106030023000000170000ff01000100",
            ),
        ),
        // 13
        (
            false,
            concat!(
                "160303036302000051030367b4ac55f715634e9a3e6f7f25d90548bdd32d83d9843132e20205f2c2",
                "392c9d20704a000082792136996dfcd6a7c1a69c0173e9f577bf6b7323f575c4bb2d0ae7009d0000",
                "0900170000ff010001000b000306000303000300308202fc308201e4a0030201020210785897aeaa",
                "abc0bd4ac73f6eb275d540300d06092a864886f70d01010b05003027312530230603550403131c43",
                "4c4b2d3435363034302d442e6f6e652e70686f656e69782e676f76301e170d323431313032323331",
                "3931395a170d3235303530343233313931395a3027312530230603550403131c434c4b2d34353630",
                "34302d442e6f6e652e70686f656e69782e676f7630820122300d06092a864886f70d010101050003",
                "82010f003082010a0282010100a578757d98228dce3525476a2c07a92577e5cf17050ad28f95fa56",
                "c7755c654ea9497f806bb695b7283f1e6accf7036d248d3ea5021a749628c2471db85bedcc61a1ec",
                "8f1a8af1b291033d2402e6df02d044e6db0383b702ae9fc46658dbead9c44d56b9f8de43ce150e1f",
                "c6a231aad76d20f3280042f237e002562104b077753a459402cf9cd6cbc96aa46f9c0913f0d35bda",
                "f421e03e7816100c5c0bb59484ee3f7d70c9c97952a46b3e9c4839815b26af9da877dfc1cb8e871d",
                "491c1cf571404fb17b634965d5a452c9b6e176acc972290f43eef8492d556e643b6d7165b754ea8f",
                "ad1f2bac3966c5a62df706347d22b6881564250c61840a572e3d9e44a90203010001a32430223013",
                "0603551d25040c300a06082b06010505070301300b0603551d0f040403020430300d06092a864886",
                "f70d01010b050003820101006f83108524b2e1409e5d15d24a4f56386cc62d1b6f36b6d2399c447b",
                "5a521e18924d0f0263def041314ab4b17f51e9f26ca6155993b4a53195f7d445630d1bb7d6e5f02b",
                "946f53e94bae67ac015682e1356db46662273d1cb118e2adfd5e60a62f7d4b823d48e1618b945a6b",
                "d2ccb751266c24ef6eaed76bb16c240baf85c74f5d8d9550d86818f5dde6f59d4095e29e3f3afb79",
                "d9238d9fc2ab732ba8852f778c039919c4c395fa8ceb64398aa6d9feac8c50ea185f06dc2e4a1fc4",
                "d67b6aaf5a9ca74f82f03678d59237ecbde52fd3111026667550eda20b79d5eb0326ed12feffa528",
                "683c57e76f01a87a445c89bd88a1841513f86cc4daa6044967dec6ad0e000000",
            ),
        ),
    ];
    // zeek testing/btest/Traces/rdp/rdp-proprietary-encryption.pcap, tcp.stream 0: NEG_FAILURE.
    const NEG_FAILURE: &[(bool, &str)] = &[
        // 4
        (
            true,
            concat!(
                "0300002f2ae00000000000436f6f6b69653a206d737473686173683d465442434f5c4137300d0a01",
                "00080001000000",
            ),
        ),
        (false, "030000130ed000001234000300080002000000"), // 5
    ];

    // Expected values from `tshark -T fields -e rdp.rt_cookie -e rdp.neg_type
    // -e rdp.negReq.requestedProtocols -e rdp.client.name -e rdp.client.build`.
    #[test]
    fn client_name_from_core_data() {
        assert_eq!(run(X509), vec![client_host("JOHN-PC-LAPTOP")]);
        assert_eq!(run(RDP5), vec![client_host("ISD2-KM84178")]);
    }

    #[test]
    fn tls_after_negotiation_is_left_alone() {
        assert!(run(NO_COOKIE).is_empty());
    }

    #[test]
    fn negotiation_failure_is_not_a_violation() {
        assert!(run(NEG_FAILURE).is_empty());
    }

    #[test]
    fn cookie_is_not_reported() {
        let text = format!("{:?}", run(X509));
        assert!(!text.contains("mstshash"));
    }

    #[test]
    fn probe_accepts_rdp_connection_tpdus_only() {
        let c = |d: &[u8]| probe(Direction::ToServer, d);
        let s = |d: &[u8]| probe(Direction::ToClient, d);
        for conv in [X509, RDP5, NO_COOKIE, NEG_FAILURE] {
            assert_eq!(c(&hex(conv[0].1)), Probe::Yes);
            assert_eq!(s(&hex(conv[1].1)), Probe::Yes);
            // Wrong direction: a CR is not a CC.
            assert_eq!(s(&hex(conv[0].1)), Probe::No);
        }
        let cr = hex(X509[0].1);
        assert_eq!(c(&cr[..3]), Probe::NeedMore);
        assert_eq!(c(&cr[..20]), Probe::NeedMore);
        // S7comm COTP CR/CC from s7comm/s7comm_clean.pcap (TSAP parameters, not RDP).
        let s7_cr = hex("0300001611e00000000a00c1020100c2020102c0010a");
        assert_eq!(c(&s7_cr), Probe::No);
        let s7_cc = hex("0300001611d0000a000300c0010ac1020100c2020102");
        assert_eq!(s(&s7_cc), Probe::No);
        // ClientData (X.224 DT) is not a connection request.
        assert_eq!(c(&hex(X509[2].1)), Probe::No);
        assert_eq!(c(b"GET / HTTP/1.1\r\n"), Probe::No);
        assert_eq!(c(&[0x16, 0x03, 0x01, 0x00, 0x2f]), Probe::No);
        assert_eq!(c(&[]), Probe::NeedMore);
    }

    #[test]
    fn malformed_first_pdu_is_a_violation() {
        let mut cr = hex(X509[0].1);
        // Corrupt the RDP_NEG_REQ length.
        let n = cr.len();
        cr[n - 6] = 9;
        let out = run_bytes(&[(true, cr)]);
        assert!(matches!(
            out.as_slice(),
            [Observation::ProtocolViolation { .. }]
        ));
    }

    #[test]
    fn truncations_and_random_bytes_never_panic() {
        for conv in [X509, RDP5, NO_COOKIE, NEG_FAILURE] {
            for (i, (to_server, h)) in conv.iter().enumerate() {
                let msg = hex(h);
                for cut in 0..=msg.len() {
                    let piece = msg[..cut].to_vec();
                    let _ = probe(Direction::ToServer, &piece);
                    let _ = probe(Direction::ToClient, &piece);
                    let _ = client_name(&piece);
                    // Put the truncated PDU where it belongs in the conversation.
                    let mut segs: Vec<(bool, Vec<u8>)> =
                        conv[..i].iter().map(|(d, h)| (*d, hex(h))).collect();
                    segs.push((*to_server, piece));
                    let _ = run_bytes(&segs);
                }
            }
        }
        let mut x: u32 = 0xdead_beef;
        for _ in 0..1000 {
            let len = (x % 500) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = probe(Direction::ToClient, &bytes);
            let _ = run_bytes(&[(true, bytes.clone())]);
            // Valid TPKT + DT header with random MCS body, after a valid CR.
            let total = (bytes.len() + 7).min(0xffff) as u16;
            let mut dt = vec![3, 0, (total >> 8) as u8, total as u8, 2, 0xf0, 0x80];
            dt.append(&mut bytes);
            let _ = run_bytes(&[(true, hex(X509[0].1)), (true, dt)]);
        }
    }
}
