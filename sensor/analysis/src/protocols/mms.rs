//! MMS, the Manufacturing Message Specification (ISO 9506-1/-2), as IEC 61850 (-8-1) and ICCP
//! (IEC 60870-6 TASE.2) use it: the IEDs of a substation, their clients (station HMI,
//! gateways, SCADA front ends) and control centres.
//!
//! The stack, each layer read here and checked:
//! - RFC 1006 TPKT and ISO 8073 / X.224 class 0 COTP on TCP port 102 ([`tpkt`]), with DT
//!   TPDUs reassembled into TSDUs by their EOT flag (X.224 §13.7);
//! - the ISO 8327-1 session SPDU and the ISO 8823-1 presentation PDU ([`session`]): CONNECT
//!   with CP-type, ACCEPT with CPA-PPDU, then GIVE TOKENS + DATA TRANSFER with fully-encoded
//!   data, down to each presentation data value;
//! - ACSE AARQ/AARE (ISO 8650-1, [`acse`]): application context, AP titles, AE qualifiers and
//!   the MMS initiate PDU inside;
//! - MMS PDUs (ISO 9506-2, [`pdu`]): initiate, confirmed request/response/error with invoke
//!   id and service, unconfirmed (informationReport), reject, cancel, conclude.
//!
//! Some stacks and test tools send MMS PDUs straight in the COTP user data, without session
//! and presentation (Wireshark decodes those too); a TSDU whose first octet is an MMS PDU tag
//! (context-specific, 0x80 and up, where every session SI is below 0x40) is read that way.
//!
//! Recognition: S7comm and MMS share port 102 and the COTP connection (CR/CC with TSAPs); the
//! first DT decides ([`tpkt::first_data`]). This probe takes a TSDU that is a session SPDU
//! carrying presentation data, or a whole MMS PDU; S7comm's takes 0x32/0x72, so the two never
//! both claim a flow. The probe answers `No` at the first byte of anything that is not a TPKT,
//! so on other ports it costs one comparison.
//!
//! What is reported ([`ops`] for the operations):
//! - every confirmed request the MMS initiator sends as an `Operation` (or bare
//!   `FunctionCode`), the function code being the service's tag number (ISO 9506-2 §7.2:
//!   read 4, write 5, start 40, stop 41, ...); program, domain and file services and control
//!   and setting writes carry their evidence. The responder may send requests too (ICCP
//!   peers read each other; a download's segments are asked by the server): those are
//!   function codes, except the download sequence's, which are the initiator's download;
//! - identity: an Identify response's vendor, model and revision (source::MMS_IDENTIFY), the
//!   domains a GetNameList of domains answers, which for IEC 61850 are the IED's logical
//!   devices (source::MMS_DOMAIN_LIST), the domains of the names requests and reports use
//!   (source::MMS_OBJECT_NAME; a request names its receiver's objects, a report its sender's,
//!   an IEC 61850 report's RptID and data set reference "LD/LLN0$..." too), all as hostnames:
//!   an IED's logical device names start with its IED name; and the ACSE AP titles and AE
//!   qualifiers as descriptions (source::MMS_ACSE);
//! - violations: TPKT/COTP framing, session SPDUs whose lengths do not fit, presentation PDUs
//!   that are not what the SPDU promises, malformed BER, unknown PDU tags, confirmed PDUs
//!   without invoke id or service, and answers to invoke ids never asked (once the association
//!   was seen from its start).

pub mod acse;
mod error;
pub mod ops;
pub mod pdu;
pub mod session;

pub use self::error::MmsError;
use super::facts;
use super::framing::{self, Framing, Stream};
use super::spec::ProtocolSpec;
use super::tpkt::{self, Tpdu, TpktError};
use super::violations::Violations;
use super::{ber, operation_or_code, source, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Source, Subject};
use pdu::{service, ObjectName, Pdu, Service};
use session::Spdu;

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "mms",
    transport: Transport::Tcp,
    ports: &[102],
    probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::new(MmsDissector::default())
}

/// A TSDU (DT TPDUs up to the one with EOT) longer than this is dropped. MMS negotiates its
/// largest PDU in the initiate exchange (local detail); stacks ask for 8 to 64 KiB.
const MAX_TSDU: usize = 64 * 1024;
/// Identity facts remembered per flow (for "already reported").
const MAX_FACTS: usize = 48;
/// Confirmed requests remembered per direction until answered.
const MAX_PENDING: usize = 32;
/// Longest MMS Identifier (ISO 9506-2: 32; IEC 61850-8-1 Ed. 2 allows 64 for names).
const MAX_IDENTIFIER: usize = 64;

// ---------------------------------------------------------------------------------------
// Recognition.

pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match tpkt::first_data(data) {
        Ok((user, eot)) => classify(user, eot),
        // A TPKT header whose TPDU is broken (test tools answer a CR with a TPKT too short
        // for its CC) is still ISO transport: the other direction may decide.
        Err(Probe::No) if data.starts_with(&[tpkt::VERSION, 0]) => Probe::NeedMore,
        Err(p) => p,
    }
}

/// The first TSDU's start: an MMS PDU that fills it, or a session SPDU carrying presentation
/// user data.
fn classify(user: &[u8], eot: bool) -> Probe {
    let fits = |len: usize| {
        if eot {
            len == user.len()
        } else {
            len > user.len()
        }
    };
    let yes = |ok: bool| if ok { Probe::Yes } else { Probe::No };
    match user.first() {
        Some(0x80..) => yes(matches!(ber::parse_header(user),
            Ok((tag, header, len)) if pdu::is_pdu_tag(tag) && fits(header + len))),
        Some(_) if !eot => {
            // A segmented first TSDU: a CONNECT or ACCEPT longer than its first TPDU.
            let long = |si| {
                matches!(user, [s, 0xff, hi, lo, ..]
                    if *s == si && usize::from(u16::from_be_bytes([*hi, *lo])) + 4 > user.len())
                    || matches!(user, [s, li, ..] if *s == si && *li != 0xff
                        && usize::from(*li) + 2 > user.len())
            };
            yes(long(session::si::CONNECT) || long(session::si::ACCEPT))
        }
        Some(_) => yes(session::session(user).is_ok_and(|s| {
            s.spdu != Spdu::Other
                && s.ppdu
                    .is_some_and(|p| session::user_data(s.spdu, p).is_ok_and(|u| u.is_some()))
        })),
        None => Probe::No,
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

/// Per-direction stream state.
#[derive(Default)]
struct Side {
    /// User data of DT TPDUs without EOT, waiting for the last one (X.224 §13.7).
    segment: Vec<u8>,
    /// A TSDU outgrew [`MAX_TSDU`]: drop its remaining TPDUs.
    dropping: bool,
    /// After a gap or a broken TPKT header: look for the next TPKT before parsing.
    resync: bool,
    /// Confirmed requests sent this way and not answered yet.
    pending: Pending,
}

/// Confirmed requests waiting for their answer.
#[derive(Default)]
struct Pending {
    asked: Vec<Asked>,
    /// Requests were forgotten (more than [`MAX_PENDING`] outstanding, or bytes lost): an
    /// unknown invoke id is no longer a finding.
    forgot: bool,
}

#[derive(Debug, Clone, Copy)]
struct Asked {
    invoke: u32,
    service: u32,
    /// A GetNameList of domains: its answer lists the server's logical devices.
    domains: bool,
}

impl Pending {
    fn ask(&mut self, a: Asked) {
        self.asked.retain(|x| x.invoke != a.invoke);
        if self.asked.len() >= MAX_PENDING {
            self.asked.remove(0);
            self.forgot = true;
        }
        self.asked.push(a);
    }

    /// The request `invoke` answers, if it was seen.
    fn answer(&mut self, invoke: u32) -> Option<Asked> {
        let i = self.asked.iter().position(|x| x.invoke == invoke)?;
        Some(self.asked.remove(i))
    }

    fn forget(&mut self) {
        self.asked.clear();
        self.forgot = true;
    }
}

/// Identity facts already reported on this flow: a fingerprint of subject, field and raw
/// value, so that a repeat allocates nothing.
#[derive(Default)]
struct Facts {
    seen: facts::Facts<MAX_FACTS>,
}

impl Facts {
    /// A logical device (domain) name of `subject`, as a hostname.
    fn device(&mut self, out: &mut Vec<Observation>, subject: Subject, name: &[u8], src: Source) {
        if is_identifier(name) {
            self.seen
                .emit(out, subject, Field::Hostname, name, src, || {
                    super::text::clean(name)
                });
        }
    }
}

/// An MMS Identifier as IEC 61850 names logical devices: letters, digits, `_` and `$`.
fn is_identifier(name: &[u8]) -> bool {
    (1..=MAX_IDENTIFIER).contains(&name.len())
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-'))
}

/// Per-flow MMS state.
#[derive(Default)]
pub struct MmsDissector {
    sides: [Side; 2],
    facts: Facts,
    violations: Violations,
    /// The association's initiate request was seen: every answer's request was seen too.
    from_start: bool,
}

impl MmsDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: MmsError) {
        self.violations.record(SPEC.name, reason, out);
    }

    /// One DT TPDU: reassembles segments (X.224 §13.7, EOT) into a TSDU.
    fn data(&mut self, dir: Direction, eot: bool, user: &[u8], out: &mut Vec<Observation>) {
        let side = &mut self.sides[dir.index()];
        if side.dropping {
            side.dropping = !eot;
            return;
        }
        if eot && side.segment.is_empty() {
            self.tsdu(dir, user, out);
            return;
        }
        if side.segment.len() + user.len() > MAX_TSDU {
            side.segment.clear();
            side.dropping = !eot;
            return;
        }
        side.segment.extend_from_slice(user);
        if !eot {
            return;
        }
        let mut whole = std::mem::take(&mut side.segment);
        self.tsdu(dir, &whole, out);
        // Give the allocation back for the next segmented TSDU.
        whole.clear();
        self.sides[dir.index()].segment = whole;
    }

    /// One TSDU: its ACSE APDUs and MMS PDUs in order.
    fn tsdu(&mut self, dir: Direction, tsdu: &[u8], out: &mut Vec<Observation>) {
        units(tsdu, &mut |unit| match unit {
            Ok(Unit::Acse(a)) => self.association(dir, &a, out),
            Ok(Unit::Mms(p)) => self.pdu(dir, p, out),
            Err(e) => self.violation(out, e),
        });
    }

    /// The names an AARQ or AARE gives its ends.
    fn association(&mut self, dir: Direction, a: &acse::Apdu<'_>, out: &mut Vec<Observation>) {
        let (responder, initiator) = match a.kind {
            acse::AARQ => (dir.receiver(), Some(dir.sender())),
            acse::AARE => (dir.sender(), None),
            _ => return,
        };
        let mut name = |subject: Subject, n: &acse::ApName<'_>| {
            if n.is_empty() {
                return;
            }
            let raw_title = n.ap_title.map(|o| o.as_bytes()).unwrap_or_default();
            let q = n.ae_qualifier.unwrap_or(i64::MIN).to_be_bytes();
            let raw = [raw_title, &q[..]].concat();
            self.facts.seen.emit(
                out,
                subject,
                Field::Description,
                &raw,
                source::MMS_ACSE,
                || {
                    Some(match (n.ap_title, n.ae_qualifier) {
                        (Some(t), Some(q)) => format!("AP title {t}, AE qualifier {q}"),
                        (Some(t), None) => format!("AP title {t}"),
                        (None, Some(q)) => format!("AE qualifier {q}"),
                        (None, None) => return None,
                    })
                },
            );
        };
        name(responder, &a.responder);
        if let Some(initiator) = initiator {
            name(initiator, &a.initiator);
        }
    }

    fn pdu(&mut self, dir: Direction, pdu: Pdu<'_>, out: &mut Vec<Observation>) {
        match pdu {
            Pdu::ConfirmedRequest { invoke, service } => {
                let domains = service.code == service::GET_NAME_LIST
                    && pdu::name_list_class(service.body) == Some(pdu::DOMAIN_CLASS);
                self.sides[dir.index()].pending.ask(Asked {
                    invoke,
                    service: service.code,
                    domains,
                });
                self.request(dir, &service, out);
            }
            Pdu::ConfirmedResponse { invoke, service } => {
                if let Some(asked) = self.answer(dir, invoke, out) {
                    self.response(dir, &service, asked, out);
                }
            }
            Pdu::ConfirmedError { invoke } => {
                self.answer(dir, invoke, out);
            }
            Pdu::Unconfirmed { service } => self.unconfirmed(dir, &service, out),
            Pdu::InitiateRequest(_) => {
                self.from_start = true;
                for side in &mut self.sides {
                    side.pending = Pending::default();
                }
            }
            _ => {}
        }
    }

    /// The request a response travelling `dir` answers; an invoke id never asked is a
    /// violation once the association was seen from its start.
    fn answer(&mut self, dir: Direction, invoke: u32, out: &mut Vec<Observation>) -> Option<Asked> {
        let pending = &mut self.sides[dir.other().index()].pending;
        let asked = pending.answer(invoke);
        if asked.is_none() && self.from_start && !pending.forgot {
            self.violation(out, MmsError::Unasked(invoke));
        }
        asked
    }

    fn request(&mut self, dir: Direction, s: &Service<'_>, out: &mut Vec<Observation>) {
        let downloads = matches!(
            s.code,
            service::DOWNLOAD_SEGMENT | service::TERMINATE_DOWNLOAD_SEQUENCE
        );
        if dir == Direction::ToServer || downloads {
            let (op, details) = ops::request(s);
            out.push(operation_or_code(op, s.code, details));
        } else {
            out.push(Observation::FunctionCode(s.code));
        }
        // The objects a request names are the receiver's.
        let receiver = dir.receiver();
        let facts = &mut self.facts;
        pdu::request_names(s, &mut |n| {
            if let ObjectName::Domain { domain, .. } = n {
                facts.device(out, receiver, domain, source::MMS_OBJECT_NAME);
            }
        });
    }

    fn response(
        &mut self,
        dir: Direction,
        s: &Service<'_>,
        asked: Asked,
        out: &mut Vec<Observation>,
    ) {
        let sender = dir.sender();
        match s.code {
            service::IDENTIFY if asked.service == service::IDENTIFY => {
                let id = pdu::identify_response(s.body);
                for (field, raw) in [
                    (Field::Vendor, id.vendor),
                    (Field::Model, id.model),
                    (Field::Firmware, id.revision),
                ] {
                    if let Some(raw) = raw {
                        self.facts
                            .seen
                            .emit(out, sender, field, raw, source::MMS_IDENTIFY, || {
                                super::text::clean(raw)
                            });
                    }
                }
            }
            service::GET_NAME_LIST if asked.domains => {
                let facts = &mut self.facts;
                pdu::name_list(s.body, &mut |name| {
                    facts.device(out, sender, name, source::MMS_DOMAIN_LIST);
                });
            }
            _ => {}
        }
    }

    /// An unconfirmed PDU: an information report names its sender's objects.
    fn unconfirmed(&mut self, dir: Direction, s: &Service<'_>, out: &mut Vec<Observation>) {
        // UnconfirmedService: informationReport [0].
        if s.code != 0 {
            return;
        }
        let sender = dir.sender();
        let facts = &mut self.facts;
        let mut names = |n: ObjectName<'_>| {
            if let ObjectName::Domain { domain, .. } = n {
                facts.device(out, sender, domain, source::MMS_OBJECT_NAME);
            }
        };
        let mut refs: [&[u8]; 4] = [&[]; 4];
        let mut n = 0;
        pdu::information_report(s.body, &mut names, &mut |v| {
            if let Some(slot) = refs.get_mut(n) {
                *slot = v;
                n += 1;
            }
        });
        // IEC 61850 RptID and DatSet: "LD/LN$...".
        for r in refs.into_iter().take(n) {
            if let Some(slash) = r.iter().position(|&b| b == b'/') {
                let ld = r.get(..slash).unwrap_or_default();
                self.facts.device(out, sender, ld, source::MMS_OBJECT_NAME);
            }
        }
    }
}

/// What a TSDU carries, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'a> {
    /// An ACSE APDU (its MMS PDU, if any, follows as a [`Unit::Mms`]).
    Acse(acse::Apdu<'a>),
    Mms(Pdu<'a>),
}

/// Calls `f` with each ACSE APDU and MMS PDU of a TSDU (a bare MMS PDU, or a session SPDU
/// with a presentation PDU), or with why the rest cannot be read. Values encoded with
/// indefinite lengths (legal BER that this reader does not follow) are passed over.
pub fn units<'a>(tsdu: &'a [u8], f: &mut impl FnMut(Result<Unit<'a>, MmsError>)) {
    match tsdu.first() {
        None => {}
        Some(0x80..) => mms_bytes(tsdu, f),
        Some(_) => {
            if let Err(e) = presentation(tsdu, f) {
                f(Err(e));
            }
        }
    }
}

fn presentation<'a>(
    tsdu: &'a [u8],
    f: &mut impl FnMut(Result<Unit<'a>, MmsError>),
) -> Result<(), MmsError> {
    let s = session::session(tsdu)?;
    let Some(ppdu) = s.ppdu else {
        if matches!(s.spdu, Spdu::Connect | Spdu::Accept) {
            return Err(MmsError::NoUserData(s.spdu.name()));
        }
        return Ok(());
    };
    let Some(user) = session::user_data(s.spdu, ppdu)? else {
        return Ok(());
    };
    for apdu in session::apdus(user)? {
        let apdu = apdu?;
        let tlv = match session::whole_tlv(apdu) {
            Ok(t) => t,
            Err(ber::Error::IndefiniteLength) => continue,
            Err(e) => {
                f(Err(MmsError::Ber(e)));
                continue;
            }
        };
        if tlv.tag.class != ber::Class::Application {
            mms_pdu(&tlv, f);
            continue;
        }
        let a = acse::parse(&tlv)?;
        f(Ok(Unit::Acse(a)));
        if let (true, Some(user)) = (a.is_mms(), a.user) {
            mms_bytes(user, f);
        }
    }
    Ok(())
}

/// The bytes of one MMS PDU.
fn mms_bytes<'a>(bytes: &'a [u8], f: &mut impl FnMut(Result<Unit<'a>, MmsError>)) {
    let mut r = ber::Reader::new(bytes);
    match r.read() {
        Err(ber::Error::IndefiniteLength) => {}
        Err(e) => f(Err(MmsError::Ber(e))),
        Ok(_) if !r.is_empty() => f(Err(MmsError::Trailing)),
        Ok(tlv) => mms_pdu(&tlv, f),
    }
}

/// The MMS PDU of one TLV; one with an indefinite length inside is passed over.
fn mms_pdu<'a>(tlv: &ber::Tlv<'a>, f: &mut impl FnMut(Result<Unit<'a>, MmsError>)) {
    match pdu::pdu(tlv) {
        Ok(p) => f(Ok(Unit::Mms(p))),
        Err(MmsError::Ber(ber::Error::IndefiniteLength)) => {}
        Err(e) => f(Err(e)),
    }
}

fn tpkt_error(e: TpktError) -> MmsError {
    match e {
        TpktError::NotTpkt => MmsError::NotTpkt,
        TpktError::Length => MmsError::TpktLength,
    }
}

impl Stream for MmsDissector {
    type Error = MmsError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<MmsError> {
        framing::step(
            &mut self.sides[dir.index()].resync,
            data,
            |d| tpkt::frame(d).map_err(tpkt_error),
            |d| tpkt::boundary(d).map_err(tpkt_error),
        )
    }

    fn on_broken(&mut self, _dir: Direction, error: MmsError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        match tpkt::cotp(tpkt::tpdu(message)) {
            Err(_) => self.violation(out, MmsError::Cotp),
            Ok(Tpdu::Connect { .. } | Tpdu::Control) => {}
            Ok(Tpdu::Data { eot, user }) => self.data(dir, eot, user, out),
        }
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = &mut self.sides[dir.index()];
        side.segment.clear();
        side.dropping = false;
        side.resync = true;
        // Requests or answers may have been lost either way.
        for side in &mut self.sides {
            side.pending.forget();
        }
    }
}

#[cfg(test)]
mod tests;
