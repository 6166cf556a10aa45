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

use super::framing::{Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::text::utf16le_text;
use super::tpkt::{self, TpktError, CC as X224_CC, CR as X224_CR, DT as X224_DT};
use super::violations::Violations;
use super::{push_identity, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "rdp",
    transport: Transport::Tcp,
    ports: &[3389],
    probe,
    new,
};

const PROTOCOL: &str = "rdp";

const TPKT_VERSION: u8 = tpkt::VERSION;
const TPKT_HEADER: usize = tpkt::HEADER;
/// X.224 fixed part of CR/CC: LI, code, DST-REF(2), SRC-REF(2), class option.
const X224_CONN_FIXED: usize = 7;
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
    Box::new(RdpDissector::default())
}

/// A TPKT-framed X.224 Connection Request (client) or Connection Confirm (server) whose
/// variable part is RDP's.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
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

/// Why an RDP connection start is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RdpError {
    #[error("TPKT length shorter than an X.224 header")]
    TpktLength,
    #[error("first client PDU is not an RDP X.224 Connection Request")]
    NotConnectionRequest,
    #[error("first server PDU is not an RDP X.224 Connection Confirm")]
    NotConnectionConfirm,
}

/// Per-flow RDP state.
#[derive(Default)]
pub struct RdpDissector {
    client: Client,
    server_done: bool,
    violations: Violations,
}

impl Stream for RdpDissector {
    type Error = RdpError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<RdpError> {
        let done = match dir {
            Direction::ToServer => self.client == Client::Done,
            Direction::ToClient => self.server_done,
        };
        if done {
            return Framing::skip(data.len());
        }
        match tpkt::frame(data) {
            // TLS (CredSSP) or fast-path after the connection sequence: not ours to read.
            Framing::Resync {
                error: Some(TpktError::NotTpkt),
                ..
            } => {
                self.finish(dir);
                Framing::skip(data.len())
            }
            Framing::Resync { .. } => {
                self.finish(dir);
                Framing::broken(data.len(), RdpError::TpktLength)
            }
            framing => framing.map_err(|_| RdpError::TpktLength),
        }
    }

    fn on_broken(&mut self, _dir: Direction, error: RdpError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, error, out);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        pdu: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        match (dir, self.client) {
            (Direction::ToServer, Client::ConnectionRequest) => {
                if connection_tpdu(pdu, X224_CR) {
                    self.client = Client::ConnectInitial;
                } else {
                    self.on_broken(dir, RdpError::NotConnectionRequest, out);
                    self.client = Client::Done;
                }
            }
            (Direction::ToServer, _) => {
                let name = client_name(pdu);
                let source = source::RDP_CLIENT_CORE_DATA;
                push_identity(out, Subject::Client, Field::Hostname, name, source);
                self.client = Client::Done;
            }
            (Direction::ToClient, _) => {
                // When the server selects TLS or CredSSP (§2.2.1.2.1 selectedProtocol != 0)
                // the client's next bytes are a TLS handshake, seen as not-TPKT above.
                if !connection_tpdu(pdu, X224_CC) {
                    self.on_broken(dir, RdpError::NotConnectionConfirm, out);
                }
                self.server_done = true;
            }
        }
        Some(pdu.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.finish(dir);
    }
}

impl RdpDissector {
    fn finish(&mut self, dir: Direction) {
        match dir {
            Direction::ToServer => self.client = Client::Done,
            Direction::ToClient => self.server_done = true,
        }
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
