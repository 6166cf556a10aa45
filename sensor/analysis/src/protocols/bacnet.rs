//! BACnet/IP (ASHRAE 135-2020): the BVLL of Annex J.2, the NPDU of clause 6.2, the APDU of
//! clause 20.1 (all in `wire`), tagged values (`tags`) and the services an asset inventory
//! cares about (`services`; clauses 13-16, ASN.1 in clause 21). Read against Wireshark's
//! `packet-bvlc.c` and `packet-bacapp.c`, bacpypes3 (`bacpypes3/npdu.py`) and Zeek ICSNPP
//! `icsnpp-bacnet` (`src/bacnet-protocol.pac`); written from the standard's text.
//!
//! What it reports:
//! - operations for every request: ReadProperty, ReadPropertyMultiple, ReadRange and the COV
//!   subscriptions are reads; WriteProperty(Multiple), Create/DeleteObject and list edits are
//!   writes; ReinitializeDevice is a restart, except the backup states (a program upload),
//!   start/end restore (a program download, clause 19.1) and abort-restore (control);
//!   DeviceCommunicationControl is a configuration change (setting "communication");
//!   AtomicRead/WriteFile are file transfers; (UTC)TimeSynchronization is time sync (setting
//!   "clock"); Who-Is/Who-Has are identify. Those that change a device carry their evidence
//!   ([`ops`]): the reinitialized state, the communication state and duration, the file and
//!   whether it is read or written, the clock value. BVLC table management (Write-BDT, Delete-FDT-Entry) is a
//!   write, Read-BDT/Read-FDT reads, Register-Foreign-Device control.
//! - function codes (see [`function_code`]): `pdu_type << 8 | service choice`, so a confirmed
//!   service is its raw choice (ReadProperty = 12) and an unconfirmed one is 256 + choice
//!   (Who-Is = 264); BVLC functions are `0x8100 | function` (Write-BDT = 33025).
//! - identity: I-Am gives "bacnet device N" and the vendor; a ReadProperty or
//!   ReadPropertyMultiple answer about the device object gives object-name (hostname),
//!   model-name, firmware-revision, application-software-version and description
//!   (descriptions), vendor-name and vendor-identifier (vendor).
//! - a `CleartextLogin` with an empty user when ReinitializeDevice or
//!   DeviceCommunicationControl carries a password; the password is never read out.
//! - nothing about the conversation (operations, function codes, logins) for a datagram sent
//!   to a broadcast MAC: a Who-Is to 10.0.0.255 is no conversation with 10.0.0.255.
//!
//! Whose identity: the sender of the datagram, unless a BBMD forwarded it (Forwarded-NPDU names
//! the originating B/IP address), and nobody's when the NPDU carries a source network address
//! (SNET/SADR): then the device sits behind a BACnet router and the IP sender is the router.
//! Segmented messages are not reassembled: their operations count, their payload is skipped.

pub mod ops;
pub mod services;
pub mod tags;
pub mod vendors;
pub mod wire;

use super::framing::{Delivery, Unframed};
use super::source;
use super::spec::ProtocolSpec;
use super::text::fingerprint;
use super::violations::Violations;
use super::{operation_or_code, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Role, Source, Subject};
use services::carries_password;
pub use services::{
    confirmed_operation, for_each_rpm_result, parse_i_am, parse_read_property_ack,
    unconfirmed_operation, IAm, PropertyValue,
};
use std::net::IpAddr;
use tags::{app, character_string, object_id, unsigned, OBJECT_DEVICE, WILDCARD_INSTANCE};
pub use wire::*;

/// BACnet/IP on UDP 47808 (0xBAC0) and the 15 ports after it, which sites use for further
/// B/IP networks on one host (Annex J.1).
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "bacnet",
    transport: Transport::Udp,
    ports: &PORTS,
    probe,
    new,
};

/// UDP ports 47808..=47823.
pub const PORTS: [u16; 16] = {
    let mut p = [0u16; 16];
    let mut i = 0;
    while i < 16 {
        p[i] = 0xbac0 + i as u16;
        i += 1;
    }
    p
};

const PROTOCOL: &str = "bacnet";
/// Facts remembered per flow so repeated polls do not repeat observations.
const REMEMBERED: usize = 16;

/// Device-object properties reported as identity (12.11): property identifier, field, and the
/// source strings for ReadProperty and ReadPropertyMultiple answers.
const IDENTITY_PROPERTIES: &[(u32, Field, Source, Source)] = &[
    (
        77,
        Field::Hostname,
        source::BACNET_READPROPERTY_OBJECT_NAME,
        source::BACNET_READPROPERTYMULTIPLE_OBJECT_NAME,
    ),
    (
        70,
        Field::Model,
        source::BACNET_READPROPERTY_MODEL_NAME,
        source::BACNET_READPROPERTYMULTIPLE_MODEL_NAME,
    ),
    (
        44,
        Field::Firmware,
        source::BACNET_READPROPERTY_FIRMWARE_REVISION,
        source::BACNET_READPROPERTYMULTIPLE_FIRMWARE_REVISION,
    ),
    (
        12,
        Field::Description,
        source::BACNET_READPROPERTY_APPLICATION_SOFTWARE_VERSION,
        source::BACNET_READPROPERTYMULTIPLE_APPLICATION_SOFTWARE_VERSION,
    ),
    (
        28,
        Field::Description,
        source::BACNET_READPROPERTY_DESCRIPTION,
        source::BACNET_READPROPERTYMULTIPLE_DESCRIPTION,
    ),
    (
        121,
        Field::Vendor,
        source::BACNET_READPROPERTY_VENDOR_NAME,
        source::BACNET_READPROPERTYMULTIPLE_VENDOR_NAME,
    ),
    (
        120,
        Field::Vendor,
        source::BACNET_READPROPERTY_VENDOR_IDENTIFIER,
        source::BACNET_READPROPERTYMULTIPLE_VENDOR_IDENTIFIER,
    ),
    (
        75,
        Field::Description,
        source::BACNET_READPROPERTY_OBJECT_IDENTIFIER,
        source::BACNET_READPROPERTYMULTIPLE_OBJECT_IDENTIFIER,
    ),
];

/// Accepts a datagram that is a BVLL whose NPDU and APDU header (if any) parse, in either
/// direction: BACnet peers often use 47808 on both sides, so either may speak first. A wrong
/// BVLC Length alone does not reject it (it is reported as a violation on the flow).
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let Ok(bvll) = parse_bvll(data) else {
        return Probe::No;
    };
    match bvll.npdu.map(parse_npdu) {
        None => Probe::Yes,
        Some(Err(_)) => Probe::No,
        Some(Ok(n)) if n.network_message.is_some() => Probe::Yes,
        Some(Ok(n)) => match parse_apdu(n.apdu) {
            Err(_) => Probe::No,
            // Answers and announcements come from the device (the server): both ends of a
            // BACnet/IP exchange use 47808, so this is what tells the sides apart when a flow
            // starts with them (an I-Am, or a capture that missed the request).
            Ok(
                Apdu::SimpleAck { .. }
                | Apdu::ComplexAck { .. }
                | Apdu::Error { .. }
                | Apdu::Reject { .. }
                | Apdu::UnconfirmedRequest {
                    service: UNCONFIRMED_I_AM | UNCONFIRMED_I_HAVE,
                    ..
                },
            ) => Probe::YesFromServer,
            Ok(_) => Probe::Yes,
        },
    }
}

/// Unconfirmed service choices (ASHRAE 135 clause 21): I-Am and I-Have announce a device.
const UNCONFIRMED_I_AM: u8 = 0;
const UNCONFIRMED_I_HAVE: u8 = 1;

fn new() -> Box<dyn Dissector> {
    Box::new(BacnetDissector::default())
}

/// Per-flow BACnet state.
#[derive(Debug, Default)]
pub struct BacnetDissector {
    violations: Violations,
    login_reported: bool,
    /// The datagram being parsed went to a broadcast or multicast MAC.
    to_group: bool,
    /// Fingerprints of facts already reported on this flow (a small ring).
    seen: [u64; REMEMBERED],
    seen_next: usize,
}

/// Who sent an APDU, when it can be told, and the UDP ports of the exchange.
#[derive(Debug, Clone, Copy)]
struct Origin {
    subject: Subject,
    /// The sender's port: the BACnet server port when the sender answers or announces.
    port: u16,
    /// The receiver's port: the server port when the sender makes a request.
    peer_port: u16,
}

impl Unframed for BacnetDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        if let Err(e) = self.datagram(delivery, out) {
            self.violation(e, out);
        }
    }
}

impl BacnetDissector {
    fn violation(&mut self, e: BacnetError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, e, out);
    }

    fn datagram(
        &mut self,
        delivery: Delivery<'_>,
        out: &mut Vec<Observation>,
    ) -> Result<(), BacnetError> {
        let Delivery { dir, data, ctx } = delivery;
        self.to_group = ctx.dst_mac.is_some_and(|m| m.is_group());
        let bvll = parse_bvll(data)?;
        if let Some(declared) = bvll.bad_length {
            self.violation(
                BacnetError::BvlcLength {
                    declared,
                    actual: data.len(),
                },
                out,
            );
        }
        let bvlc_op = match bvll.function {
            bvlc::WRITE_BDT | bvlc::DELETE_FDT_ENTRY => Some(Operation::Write),
            bvlc::READ_BDT | bvlc::READ_FDT => Some(Operation::Read),
            bvlc::REGISTER_FOREIGN_DEVICE => Some(Operation::Control),
            _ => None,
        };
        if let Some(op) = bvlc_op {
            self.flow_fact(
                Observation::Operation {
                    op,
                    function_code: Some(bvlc_function_code(bvll.function)),
                    details: Vec::new(),
                },
                out,
            );
        }
        let Some(npdu) = bvll.npdu else {
            return Ok(());
        };
        let npdu = parse_npdu(npdu)?;
        if npdu.network_message.is_some() {
            return Ok(());
        }
        let (port, peer_port) = match dir {
            Direction::ToServer => (ctx.client.port, ctx.server.port),
            Direction::ToClient => (ctx.server.port, ctx.client.port),
        };
        let origin = match (npdu.source, bvll.original_source) {
            (Some(_), _) => None,
            (None, Some((ip, port))) => Some(Origin {
                subject: Subject::Ip(IpAddr::V4(ip)),
                port,
                peer_port,
            }),
            (None, None) => Some(Origin {
                subject: dir.sender(),
                port,
                peer_port,
            }),
        };
        self.apdu(parse_apdu(npdu.apdu)?, origin, out)
    }

    fn apdu(
        &mut self,
        apdu: Apdu<'_>,
        origin: Option<Origin>,
        out: &mut Vec<Observation>,
    ) -> Result<(), BacnetError> {
        match apdu {
            Apdu::ConfirmedRequest {
                segmented,
                service,
                body,
                ..
            } => {
                self.speaks(origin, Role::Client, out);
                // A later segment's body is the middle of the request: only its header counts.
                let body = if segmented { &[][..] } else { body };
                let code = function_code(pdu::CONFIRMED_REQUEST, service);
                let op = confirmed_operation(service, body);
                let details = ops::confirmed_details(service, body);
                self.flow_fact(operation_or_code(op, code, details), out);
                if !self.login_reported && !self.to_group && carries_password(service, body) {
                    self.login_reported = true;
                    out.push(Observation::CleartextLogin {
                        user: String::new(),
                        protocol: PROTOCOL,
                    });
                }
            }
            Apdu::UnconfirmedRequest { service, body } => {
                let code = function_code(pdu::UNCONFIRMED_REQUEST, service);
                let op = unconfirmed_operation(service);
                let details = ops::unconfirmed_details(service, body);
                self.flow_fact(operation_or_code(op, code, details), out);
                match service {
                    unconfirmed::I_AM => {
                        let i_am = parse_i_am(body)?;
                        self.speaks(origin, Role::Server, out);
                        if let Some(o) = origin {
                            self.i_am(o.subject, &i_am, out);
                        }
                    }
                    unconfirmed::I_HAVE => self.speaks(origin, Role::Server, out),
                    unconfirmed::WHO_IS | unconfirmed::WHO_HAS => {
                        self.speaks(origin, Role::Client, out)
                    }
                    _ => {}
                }
            }
            Apdu::ComplexAck {
                segmented,
                service,
                body,
                ..
            } => {
                self.speaks(origin, Role::Server, out);
                let Some(o) = origin.filter(|_| !segmented) else {
                    return Ok(());
                };
                match service {
                    confirmed::READ_PROPERTY => {
                        let v = parse_read_property_ack(body)?;
                        self.property(o.subject, &v, false, out);
                    }
                    confirmed::READ_PROPERTY_MULTIPLE => {
                        let mut values = [None; 8];
                        let mut n = 0;
                        // Identity properties are few; collect them first (no allocation), then
                        // report, so a malformed tail still reports the properties before it.
                        let r = for_each_rpm_result(body, |v| {
                            if is_identity(&v) {
                                if let Some(slot) = values.get_mut(n) {
                                    *slot = Some(v);
                                    n += 1;
                                }
                            }
                        });
                        for v in values.iter().flatten() {
                            self.property(o.subject, v, true, out);
                        }
                        r?;
                    }
                    _ => {}
                }
            }
            Apdu::SimpleAck { .. } | Apdu::Error { .. } | Apdu::Reject { .. } => {
                self.speaks(origin, Role::Server, out)
            }
            Apdu::SegmentAck { from_server, .. } | Apdu::Abort { from_server, .. } => {
                let role = if from_server {
                    Role::Server
                } else {
                    Role::Client
                };
                self.speaks(origin, role, out);
            }
        }
        Ok(())
    }

    /// Emits a fact about the flow's conversation (operation, function code), except for a
    /// datagram sent to a group MAC: a broadcast has no conversation to attach it to.
    fn flow_fact(&self, obs: Observation, out: &mut Vec<Observation>) {
        if !self.to_group {
            out.push(obs);
        }
    }

    /// Reports I-Am facts: the device instance and the vendor.
    fn i_am(&mut self, subject: Subject, i_am: &IAm, out: &mut Vec<Observation>) {
        let instance = i_am.device_instance;
        // 4194303 is "no instance yet" (an unconfigured device), not an identity.
        if instance != WILDCARD_INSTANCE {
            self.identity(
                subject,
                Field::Description,
                &instance.to_be_bytes(),
                source::BACNET_I_AM,
                || Some(format!("bacnet device {instance}")),
                out,
            );
        }
        if let Some(name) = vendors::name(i_am.vendor_id) {
            self.identity(
                subject,
                Field::Vendor,
                name.as_bytes(),
                source::BACNET_I_AM,
                || Some(name.to_owned()),
                out,
            );
        }
    }

    /// Reports one device-object property from a ReadProperty(Multiple) answer.
    fn property(
        &mut self,
        subject: Subject,
        v: &PropertyValue<'_>,
        multiple: bool,
        out: &mut Vec<Observation>,
    ) {
        let Some(&(prop, field, rp, rpm)) = IDENTITY_PROPERTIES
            .iter()
            .find(|(p, ..)| *p == v.property)
            .filter(|_| v.object.0 == OBJECT_DEVICE)
        else {
            return;
        };
        let Some(tag) = v.value else { return };
        let Some(raw) = tag.value() else { return };
        let source = if multiple { rpm } else { rp };
        match (prop, tag.context, tag.number) {
            (120, false, app::UNSIGNED) => {
                if let Some(name) = unsigned(raw).and_then(vendors::name) {
                    self.identity(subject, field, raw, source, || Some(name.to_owned()), out);
                }
            }
            (75, false, app::OBJECT_IDENTIFIER) => {
                if let Some((OBJECT_DEVICE, n)) = object_id(raw) {
                    if n != WILDCARD_INSTANCE {
                        let text = || Some(format!("bacnet device {n}"));
                        self.identity(subject, field, raw, source, text, out);
                    }
                }
            }
            (_, false, app::CHARACTER_STRING) if prop != 120 && prop != 75 => {
                self.identity(subject, field, raw, source, || character_string(raw), out)
            }
            _ => {}
        }
    }

    /// Emits an identity fact unless this flow already reported it.
    fn identity(
        &mut self,
        subject: Subject,
        field: Field,
        raw: &[u8],
        source: Source,
        value: impl FnOnce() -> Option<String>,
        out: &mut Vec<Observation>,
    ) {
        let key = fingerprint(raw)
            ^ fingerprint(source.name.as_bytes()).rotate_left(7)
            ^ (field as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ subject_key(subject);
        if !self.remember(key) {
            return;
        }
        if let Some(value) = value() {
            out.push(Observation::Identity {
                subject,
                field,
                value,
                source,
            });
        }
    }

    /// Says once per flow that `origin` speaks BACnet in `role`.
    fn speaks(&mut self, origin: Option<Origin>, role: Role, out: &mut Vec<Observation>) {
        let Some(o) = origin else { return };
        let key = subject_key(o.subject) ^ 0x5bd1_e995 ^ (role as u64 + 1).rotate_left(40);
        if self.remember(key) {
            out.push(Observation::Speaks {
                subject: o.subject,
                protocol: PROTOCOL,
                role,
                // The inventory names a protocol use by the server's port, for both roles.
                port: match role {
                    Role::Server => o.port,
                    Role::Client => o.peer_port,
                },
            });
        }
    }

    /// True when `key` was not remembered yet (and remembers it).
    fn remember(&mut self, key: u64) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        if let Some(slot) = self.seen.get_mut(self.seen_next % REMEMBERED) {
            *slot = key;
        }
        self.seen_next = self.seen_next.wrapping_add(1);
        true
    }
}

fn is_identity(v: &PropertyValue<'_>) -> bool {
    v.object.0 == OBJECT_DEVICE
        && v.value.is_some()
        && IDENTITY_PROPERTIES.iter().any(|(p, ..)| *p == v.property)
}

fn subject_key(s: Subject) -> u64 {
    match s {
        Subject::Client => 1,
        Subject::Server => 2,
        Subject::Ip(IpAddr::V4(ip)) => 0x1_0000_0000 | u64::from(u32::from(ip)),
        Subject::Ip(IpAddr::V6(ip)) => fingerprint(&ip.octets()),
        Subject::Mac(m) => fingerprint(&m.0),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
