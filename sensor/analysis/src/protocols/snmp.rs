//! SNMP v1, v2c and v3 over UDP (RFC 1157, RFC 3416, RFC 3412/3414 for the v3 header).
//!
//! What it reports:
//! - identity from the agent's answers (and notifications): sysDescr, sysObjectID (vendor by
//!   IANA enterprise number) and sysName;
//! - operations: Get/GetNext/GetBulk are reads, Set is a write, with the PDU's context tag
//!   number (0..=8, RFC 3416 §3) as the function code; notifications are function codes;
//! - cleartext access: a v1/v2c community is a password sent in the clear, so each flow
//!   reports one `CleartextLogin` with an empty user name. The community itself is a secret and
//!   is never copied out of the packet. A v3 message without authentication reports its
//!   msgUserName; authenticated v3 reports nothing;
//! - refused v3 requests: a Report to the flow's client carrying usmStatsWrongDigests (wrong
//!   authentication key) or usmStatsUnknownUserNames (RFC 3414 §3.2 steps 3 and 6, §5) is an
//!   `AuthFailure` with the user name (the Report's msgUserName, else that of the request
//!   with the same msgID). A wrong v1/v2c community gets no answer at all (RFC 3584 §5.2.1
//!   drops it), so it cannot be told from loss.
//!
//! The sender of a response or notification is the agent: for a response that is the flow's
//! server, for a trap (port 162) the flow's client, or the v1 trap's agent-addr.

use super::ber::{self, Oid, Reader, Tag, Tlv};
use super::framing::{Delivery, Unframed};
use super::source;
use super::spec::ProtocolSpec;
use super::sysdescr::description_facts;
use super::violations::Violations;
use super::{push_identity, Direction, Dissector, Probe, Transport};
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Field, Observation, Operation, Subject};
use std::net::{IpAddr, Ipv4Addr};

/// SNMP requests and responses (agent on UDP 161).
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "snmp",
    transport: Transport::Udp,
    ports: &[161],
    probe,
    new,
};

/// SNMP notifications (manager's trap listener on UDP 162).
pub static TRAP_SPEC: ProtocolSpec = ProtocolSpec {
    name: "snmp",
    transport: Transport::Udp,
    ports: &[162],
    probe,
    new,
};

const PROTOCOL: &str = "snmp";
/// Varbinds looked at per message; a response carrying more is unusual and the identity
/// objects come first in practice.
const MAX_VARBINDS: usize = 64;

// MIB-II system group instances (RFC 3418 §2).
const SYS_DESCR: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];
const SYS_NAME: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
/// iso.org.dod.internet.private.enterprises (RFC 1155 §3.1.6).
const ENTERPRISES: &[u64] = &[1, 3, 6, 1, 4, 1];
/// usmStatsUnknownUserNames and usmStatsWrongDigests (RFC 3414 §5, under usmStats
/// 1.3.6.1.6.3.15.1.1): the counters a Report names when it refuses a request's user or
/// its authentication. The other usmStats Reports (unknown engine ID, not in time window)
/// are the normal discovery steps of RFC 3414 §4.
const USM_STATS_UNKNOWN_USER_NAMES: &[u64] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 3];
const USM_STATS_WRONG_DIGESTS: &[u64] = &[1, 3, 6, 1, 6, 3, 15, 1, 1, 5];
/// RFC 3414 §2.4: msgUserName is at most 32 octets.
const MAX_USER_NAME: usize = 32;

/// PDU types: the context-specific tag numbers of RFC 1157 §4.1 and RFC 3416 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduType(pub u32);

impl PduType {
    pub const GET_REQUEST: PduType = PduType(0);
    pub const GET_NEXT_REQUEST: PduType = PduType(1);
    pub const RESPONSE: PduType = PduType(2);
    pub const SET_REQUEST: PduType = PduType(3);
    pub const TRAP_V1: PduType = PduType(4);
    pub const GET_BULK_REQUEST: PduType = PduType(5);
    pub const INFORM_REQUEST: PduType = PduType(6);
    pub const TRAP_V2: PduType = PduType(7);
    pub const REPORT: PduType = PduType(8);
}

/// A parsed SNMP message, borrowed from the datagram. The community is deliberately not kept.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// msgVersion: 0 = v1, 1 = v2c, 3 = v3.
    pub version: i64,
    /// v3 only: msgFlags and the USM user name.
    pub v3: Option<V3Header<'a>>,
    /// `None` when a v3 scopedPDU is encrypted.
    pub pdu: Option<Pdu<'a>>,
}

/// The v3 header fields that matter here (RFC 3412 §6, RFC 3414 §2.4).
#[derive(Debug, Clone, Copy)]
pub struct V3Header<'a> {
    /// msgID: a Report carries the msgID of the request it answers (RFC 3412 §7.1 step 3).
    pub msg_id: i64,
    pub flags: u8,
    pub security_model: i64,
    /// msgUserName when the security model is USM (3), else empty.
    pub user_name: &'a [u8],
}

impl V3Header<'_> {
    /// msgFlags authFlag (RFC 3412 §6.4).
    pub fn authenticated(&self) -> bool {
        self.flags & 0x01 != 0
    }

    /// msgFlags privFlag.
    pub fn encrypted(&self) -> bool {
        self.flags & 0x02 != 0
    }
}

/// One PDU.
#[derive(Debug, Clone, Copy)]
pub struct Pdu<'a> {
    pub kind: PduType,
    /// v1 Trap-PDU agent-addr (RFC 1157 §4.1.6).
    pub agent_addr: Option<Ipv4Addr>,
    /// Content of the VarBindList SEQUENCE.
    varbinds: &'a [u8],
}

impl<'a> Pdu<'a> {
    /// The variable bindings as (name, value) pairs; stops at the first malformed one.
    pub fn varbinds(&self) -> impl Iterator<Item = (Oid<'a>, Tlv<'a>)> {
        Reader::new(self.varbinds)
            .map_while(|vb| {
                let vb = vb.ok().filter(|t| t.tag == Tag::SEQUENCE)?;
                let mut r = vb.reader();
                let name = r.read_oid().ok()?;
                let value = r.read().ok()?;
                Some((name, value))
            })
            .take(MAX_VARBINDS)
    }
}

/// Why a datagram is not a well-formed SNMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnmpError {
    #[error(transparent)]
    Ber(#[from] ber::Error),
    #[error("unsupported SNMP version {0}")]
    Version(i64),
    #[error("unknown SNMP PDU tag {0}")]
    PduTag(Tag),
    #[error("SNMPv3 msgFlags {0:#04x} ask for privacy without authentication")]
    Flags(u8),
}

/// Parses one SNMP message (a whole UDP datagram).
pub fn parse_message(data: &[u8]) -> Result<Message<'_>, SnmpError> {
    let mut msg = Reader::new(data).read_sequence()?;
    let version = msg.read_integer()?;
    match version {
        // RFC 1157 §4 and RFC 3416 §3 (via RFC 1901): version, community, PDU.
        0 | 1 => {
            let _community = msg.read_octet_string()?;
            let pdu = parse_pdu(&msg.read()?)?;
            Ok(Message {
                version,
                v3: None,
                pdu: Some(pdu),
            })
        }
        // RFC 3412 §6: SNMPv3Message.
        3 => {
            let mut global = msg.read_sequence()?;
            let msg_id = global.read_integer()?;
            let _max_size = global.read_integer()?;
            let flags = global.read_octet_string()?;
            let security_model = global.read_integer()?;
            let flags = match flags {
                [f] => *f,
                _ => return Err(ber::Error::BadLength.into()),
            };
            // RFC 3412 §7.2 step 5: privFlag without authFlag is invalid.
            if flags & 0x03 == 0x02 {
                return Err(SnmpError::Flags(flags));
            }
            let params = msg.read_octet_string()?;
            let mut user_name: &[u8] = &[];
            if security_model == 3 {
                // RFC 3414 §2.4: UsmSecurityParameters.
                let mut usm = Reader::new(params).read_sequence()?;
                let _engine_id = usm.read_octet_string()?;
                let _boots = usm.read_integer()?;
                let _time = usm.read_integer()?;
                user_name = usm.read_octet_string()?;
            }
            let v3 = V3Header {
                msg_id,
                flags,
                security_model,
                user_name,
            };
            let pdu = if v3.encrypted() {
                let _encrypted = msg.read_octet_string()?;
                None
            } else {
                // RFC 3412 §6.8: ScopedPDU.
                let mut scoped = msg.read_sequence()?;
                let _context_engine = scoped.read_octet_string()?;
                let _context_name = scoped.read_octet_string()?;
                Some(parse_pdu(&scoped.read()?)?)
            };
            Ok(Message {
                version,
                v3: Some(v3),
                pdu,
            })
        }
        other => Err(SnmpError::Version(other)),
    }
}

fn parse_pdu<'a>(tlv: &Tlv<'a>) -> Result<Pdu<'a>, SnmpError> {
    if tlv.tag.class != ber::Class::ContextSpecific || !tlv.tag.constructed || tlv.tag.number > 8 {
        return Err(SnmpError::PduTag(tlv.tag));
    }
    let kind = PduType(tlv.tag.number);
    let mut r = tlv.reader();
    let mut agent_addr = None;
    if kind == PduType::TRAP_V1 {
        // RFC 1157 §4.1.6: enterprise, agent-addr, generic-trap, specific-trap, time-stamp.
        let _enterprise = r.read_oid()?;
        // NetworkAddress ::= CHOICE { internet IpAddress }, IpAddress ::= [APPLICATION 0]
        // IMPLICIT OCTET STRING (SIZE (4)) (RFC 1155 §3.2.3.2).
        let addr = r.read_expect(Tag::application(0, false))?;
        agent_addr = <[u8; 4]>::try_from(addr).ok().map(Ipv4Addr::from);
        let _generic = r.read_integer()?;
        let _specific = r.read_integer()?;
        let _time = r.read_expect(Tag::application(3, false))?;
    } else {
        // RFC 3416 §3: request-id, error-status (non-repeaters), error-index (max-repetitions).
        let _request_id = r.read_integer()?;
        let _status = r.read_integer()?;
        let _index = r.read_integer()?;
    }
    let varbinds = r.read_expect(Tag::SEQUENCE)?;
    Ok(Pdu {
        kind,
        agent_addr,
        varbinds,
    })
}

/// Content probe: a BER SEQUENCE holding INTEGER version 0, 1 or 3 and a well-formed message.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match parse_message(data) {
        Ok(_) => Probe::Yes,
        Err(_) => Probe::No,
    }
}

fn new() -> Box<dyn Dissector> {
    Box::new(SnmpDissector::default())
}

/// Per-flow SNMP state.
#[derive(Debug, Default)]
pub struct SnmpDissector {
    login_reported: bool,
    violations: Violations,
    /// The last v3 request from the flow's client that named a user: its msgID and user
    /// name (kept in place, no allocation per request).
    last_request: Option<(i64, [u8; MAX_USER_NAME], usize)>,
}

impl Unframed for SnmpDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        let Delivery { dir, data, .. } = delivery;
        let sender = dir.sender();
        let msg = match parse_message(data) {
            Ok(m) => m,
            Err(e) => {
                self.violations
                    .record(PROTOCOL, format_args!("malformed SNMP message: {e}"), out);
                return;
            }
        };
        self.report_login(&msg, out);
        if let Some(pdu) = msg.pdu {
            emit_pdu(&pdu, sender, out);
        }
        if let Some(v3) = msg.v3 {
            self.v3_refusal(dir, &v3, msg.pdu.as_ref(), out);
        }
    }
}

impl SnmpDissector {
    /// Remembers the user of a v3 request from the client; reports a Report to the client
    /// that refuses the user or its key.
    fn v3_refusal(
        &mut self,
        dir: Direction,
        v3: &V3Header<'_>,
        pdu: Option<&Pdu<'_>>,
        out: &mut Vec<Observation>,
    ) {
        let is_report = pdu.is_some_and(|p| p.kind == PduType::REPORT);
        if dir == Direction::ToServer && !is_report {
            // The PDU of an authPriv request is encrypted: any such message is a request.
            let name = v3.user_name;
            let len = name.len().min(MAX_USER_NAME);
            let mut user = [0u8; MAX_USER_NAME];
            if let (Some(dst), Some(src)) = (user.get_mut(..len), name.get(..len)) {
                dst.copy_from_slice(src);
            }
            if len > 0 {
                self.last_request = Some((v3.msg_id, user, len));
            }
            return;
        }
        let Some(pdu) = pdu.filter(|_| is_report && dir == Direction::ToClient) else {
            return;
        };
        let refused = pdu.varbinds().any(|(name, _)| {
            name.starts_with(USM_STATS_WRONG_DIGESTS)
                || name.starts_with(USM_STATS_UNKNOWN_USER_NAMES)
        });
        if !refused {
            return;
        }
        let user = if !v3.user_name.is_empty() {
            ber::display_text(v3.user_name)
        } else {
            match &self.last_request {
                Some((id, user, len)) if *id == v3.msg_id => {
                    ber::display_text(user.get(..*len).unwrap_or_default())
                }
                _ => String::new(),
            }
        };
        out.push(Observation::AuthFailure {
            user,
            protocol: PROTOCOL,
        });
    }

    fn report_login(&mut self, msg: &Message<'_>, out: &mut Vec<Observation>) {
        if self.login_reported {
            return;
        }
        let user = match msg.v3 {
            // The community is the secret: report the fact, never the value.
            None => String::new(),
            // noAuthNoPriv: the user name is the only credential and it is in the clear.
            Some(v3) if !v3.authenticated() && !v3.user_name.is_empty() => {
                ber::display_text(v3.user_name)
            }
            Some(_) => return,
        };
        self.login_reported = true;
        out.push(Observation::CleartextLogin {
            user,
            protocol: PROTOCOL,
        });
    }
}

fn emit_pdu(pdu: &Pdu<'_>, sender: Subject, out: &mut Vec<Observation>) {
    let code = Some(pdu.kind.0);
    match pdu.kind {
        PduType::GET_REQUEST | PduType::GET_NEXT_REQUEST | PduType::GET_BULK_REQUEST => {
            out.push(Observation::Operation {
                op: Operation::Read,
                function_code: code,
                details: Vec::new(),
            });
        }
        PduType::SET_REQUEST => out.push(Observation::Operation {
            op: Operation::Write,
            function_code: code,
            details: Vec::new(),
        }),
        PduType::RESPONSE => emit_identity(pdu, sender, out),
        PduType::TRAP_V1 => {
            out.push(Observation::FunctionCode(pdu.kind.0));
            // agent-addr names the agent even when a proxy forwarded the trap.
            let subject = match pdu.agent_addr.map(IpAddr::V4) {
                Some(ip) if is_unicast_ip(&ip) && !ip.is_loopback() => Subject::Ip(ip),
                _ => sender,
            };
            emit_identity(pdu, subject, out);
        }
        PduType::INFORM_REQUEST | PduType::TRAP_V2 => {
            out.push(Observation::FunctionCode(pdu.kind.0));
            emit_identity(pdu, sender, out);
        }
        _ => {}
    }
}

/// Identity objects in the varbinds of an agent's response or notification.
fn emit_identity(pdu: &Pdu<'_>, subject: Subject, out: &mut Vec<Observation>) {
    for (name, value) in pdu.varbinds() {
        if name.is(SYS_DESCR) && value.tag == Tag::OCTET_STRING {
            let text = ber::display_text(value.value);
            if text.is_empty() {
                continue;
            }
            let facts = description_facts(&text);
            push_identity(out, subject, Field::Os, facts.os, source::SNMP_SYS_DESCR);
            push_identity(
                out,
                subject,
                Field::Firmware,
                facts.firmware,
                source::SNMP_SYS_DESCR,
            );
            push_identity(
                out,
                subject,
                Field::Description,
                Some(text),
                source::SNMP_SYS_DESCR,
            );
        } else if name.is(SYS_OBJECT_ID) && value.tag == Tag::OBJECT_IDENTIFIER {
            let vendor = value
                .oid()
                .ok()
                .filter(|oid| oid.starts_with(ENTERPRISES))
                .and_then(|oid| oid.arc(ENTERPRISES.len()))
                .and_then(enterprise_vendor);
            push_identity(
                out,
                subject,
                Field::Vendor,
                vendor.map(str::to_owned),
                source::SNMP_SYS_OBJECT_ID,
            );
        } else if name.is(SYS_NAME) && value.tag == Tag::OCTET_STRING {
            let text = ber::display_text(value.value);
            if !text.is_empty() {
                push_identity(
                    out,
                    subject,
                    Field::Hostname,
                    Some(text),
                    source::SNMP_SYS_NAME,
                );
            }
        }
    }
}

/// Hardware vendors by IANA Private Enterprise Number, the arc after 1.3.6.1.4.1 in a
/// sysObjectID (RFC 3418 §2: "the vendor's authoritative identification"). Each number was
/// checked against the IANA registry (iana.org/assignments/enterprise-numbers).
///
/// Left out on purpose: numbers that name agent software rather than the device maker —
/// 311 Microsoft (the Windows agent on any PC), 8072 net-snmp, 6876 VMware.
const ENTERPRISE_VENDORS: &[(u64, &str)] = &[
    (2, "IBM"),
    (9, "Cisco"),
    (11, "HP"),
    (43, "3Com"),
    (95, "Rockwell Automation"),
    (171, "D-Link"),
    (244, "Lantronix"),
    (248, "Hirschmann"),
    (253, "Xerox"),
    (318, "APC"),
    (332, "Digi International"),
    (367, "Ricoh"),
    (409, "Mitsubishi Electric"),
    (674, "Dell"),
    (890, "ZyXEL"),
    (908, "ABB"),
    (1916, "Extreme Networks"),
    (2001, "Oki Data"),
    (2011, "Huawei"),
    (2435, "Brother"),
    (2636, "Juniper"),
    (2910, "General Electric"),
    (3833, "Schneider Electric"),
    (4196, "Siemens"),
    (4329, "Siemens"),
    (4346, "Phoenix Contact"),
    (4526, "Netgear"),
    (7427, "Yokogawa"),
    (8691, "Moxa"),
    (12356, "Fortinet"),
    (13576, "WAGO"),
    (14988, "MikroTik"),
    (15004, "RuggedCom"),
    (25506, "H3C"),
    (30065, "Arista"),
    (41112, "Ubiquiti"),
];

/// The vendor for an IANA enterprise number, when it is one we are sure of.
pub fn enterprise_vendor(number: u64) -> Option<&'static str> {
    ENTERPRISE_VENDORS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, v)| *v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
