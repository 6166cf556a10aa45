//! IEC 61850 GOOSE (Generic Object Oriented Substation Event, IEC 61850-8-1:2011 §18 and
//! Annexes A and C): an IED publishes the values of a dataset as Ethernet multicast
//! (ethertype 0x88B8, usually 802.1Q-tagged; the decoder removes the tag) to the IEDs that
//! subscribe to it, repeating the frame while nothing changes and at once, with a new stNum,
//! when something does (a trip, a breaker position, an interlock). Read against Wireshark's
//! `packet-goose.c` and the GOOSE ASN.1 of IEC 61850-8-1 Annex A; written from the standard.
//!
//! Layers: the APPID/Length header GOOSE shares with SV ([`iec61850_frame`]), then the BER
//! goosePdu ([`pdu`]).
//!
//! What it reports, about the frame's source MAC (the publisher, a device even without IP):
//! - identity, the first time a stream (publisher, APPID, gocbRef) is seen: the logical device
//!   of gocbRef ("AA1C1Q01A1LD0" of "AA1C1Q01A1LD0/LLN0$GO$gcb_A", as MMS names the domain) as
//!   host name; device type `ied` (level 1 follows from it: a bay or protection device); and a
//!   description naming the control block, dataset, goID, confRev, APPID, the dataset's
//!   entries by type and the destination group address, which is where the subscribers
//!   listen: the process-bus view of who publishes to which group;
//! - operations: each change of stNum within a stream is a change of the published state, a
//!   `control` operation (the event a protection or interlocking scheme acts on, and what an
//!   attacker injecting GOOSE forges) with the control block, dataset and new stNum as
//!   evidence; the simulation/test flag (the goosePdu's `simulation`, `test` in edition 1, or
//!   the Reserved 1 "simulate" bit) is reported as the publisher's status when a stream shows
//!   it;
//! - violations: a header too short or a Length past the frame, BER that does not parse, an
//!   APDU that is not exactly one goosePdu, numDatSetEntries that disagrees with allData, and
//!   stNum, or sqNum within one stNum, going backwards in a stream (a restarted publisher, a
//!   replay or a second publisher using the same control block). Each stream has its own
//!   budget.

mod pdu;

pub use pdu::{DataSummary, GoosePdu};

use super::ber;
use super::iec61850_frame::{self, Header, HeaderError, StreamKey, Streams};
use super::text::clean_text;
use super::violations::Violations;
use super::{push_identity, source, FrameDissector, LinkFrame};
use otwatch_common::observation::{Field, Observation, Operation, Published, Role, Subject};

/// The name reports use.
pub const PROTOCOL: &str = "goose";
/// GOOSE's ethertype (IEC 61850-8-1 Annex C).
pub const ETHERTYPE: u16 = 0x88b8;
/// Characters kept of an object reference (at most 129 in IEC 61850-7-2).
const MAX_REF_CHARS: usize = 129;

/// What was wrong with a GOOSE frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GooseError {
    #[error("GOOSE {0}")]
    Header(#[from] HeaderError),
    #[error("GOOSE {0}")]
    Ber(#[from] ber::Error),
    #[error("GOOSE APDU is {0}, not a goosePdu [APPLICATION 1]")]
    NotGoosePdu(ber::Tag),
    #[error("GOOSE APDU has {0} octets after the goosePdu within Length")]
    TrailingOctets(usize),
    #[error("GOOSE goosePdu has {0} where no field belongs")]
    UnexpectedField(ber::Tag),
    #[error("GOOSE {field} {value} out of range for INT32U")]
    Range { field: &'static str, value: i64 },
    #[error("GOOSE {field} BOOLEAN of {len} octets")]
    Boolean { field: &'static str, len: usize },
    #[error("GOOSE t is {0} octets, not an 8-octet UtcTime")]
    UtcTime(usize),
    #[error("GOOSE numDatSetEntries {declared} but allData holds {found}")]
    EntryCount { declared: u32, found: u32 },
    #[error("GOOSE stNum went back from {from} to {to}")]
    StNumBack { from: u32, to: u32 },
    #[error("GOOSE sqNum went back from {from} to {to} within stNum {st_num}")]
    SqNumBack { from: u32, to: u32, st_num: u32 },
    #[error("GOOSE frame from group address")]
    GroupSource,
}

/// What is remembered of a stream.
#[derive(Debug, Default)]
struct Stream {
    /// (stNum, sqNum) of the last goosePdu, `None` while only malformed frames were seen.
    last: Option<(u32, u32)>,
    conf_rev: u32,
    simulation: bool,
    violations: Violations,
}

/// The GOOSE dissector of a pipeline: the streams seen so far.
#[derive(Debug, Default)]
pub struct GooseDissector {
    streams: Streams<Stream>,
    /// For frames from a group address, which have no publisher to charge.
    unattributed: Violations,
}

impl FrameDissector for GooseDissector {
    fn frame(&mut self, f: &LinkFrame, payload: &[u8], out: &mut Vec<Observation>) {
        if !f.src.is_unicast() {
            self.unattributed
                .record(PROTOCOL, GooseError::GroupSource, out);
            return;
        }
        let subject = Subject::Mac(f.src);
        let header = match Header::parse(payload) {
            Ok(h) => h,
            Err(e) => {
                self.violation(StreamKey::new(f.src, 0, b""), e.into(), out);
                return;
            }
        };
        let pdu = match GoosePdu::parse(header.apdu) {
            Ok(p) => p,
            Err(e) => {
                self.violation(StreamKey::new(f.src, header.appid, b""), e, out);
                return;
            }
        };
        out.push(Observation::Speaks {
            subject,
            protocol: PROTOCOL,
            role: Role::Server,
            port: 0,
        });
        let key = StreamKey::new(f.src, header.appid, pdu.gocb_ref);
        match pdu.entry_count() {
            Ok(found) if found != pdu.num_dat_set_entries => self.violation(
                key,
                GooseError::EntryCount {
                    declared: pdu.num_dat_set_entries,
                    found,
                },
                out,
            ),
            Ok(_) => {}
            Err(e) => self.violation(key, e, out),
        }
        let simulation = pdu.simulation || header.simulated();
        let stream = self.streams.entry(key);
        let new_state = stream
            .last
            .is_some_and(|(st, _)| st != pdu.st_num && !iec61850_frame::went_back(st, pdu.st_num));
        match stream.last {
            None => {
                publisher(subject, f, &header, &pdu, out);
                if simulation {
                    test_flag(subject, &pdu, out);
                }
            }
            Some((st, sq)) => {
                if iec61850_frame::went_back(st, pdu.st_num) {
                    let e = GooseError::StNumBack {
                        from: st,
                        to: pdu.st_num,
                    };
                    stream.violations.record(PROTOCOL, e, out);
                } else if st == pdu.st_num && iec61850_frame::went_back(sq, pdu.sq_num) {
                    let e = GooseError::SqNumBack {
                        from: sq,
                        to: pdu.sq_num,
                        st_num: st,
                    };
                    stream.violations.record(PROTOCOL, e, out);
                } else if st != pdu.st_num {
                    state_change(&pdu, simulation, out);
                }
                if simulation && !stream.simulation {
                    test_flag(subject, &pdu, out);
                }
                if pdu.conf_rev != stream.conf_rev {
                    // A new configuration revision of the dataset: describe the stream again.
                    publisher(subject, f, &header, &pdu, out);
                }
            }
        }
        stream.last = Some((pdu.st_num, pdu.sq_num));
        stream.conf_rev = pdu.conf_rev;
        stream.simulation = simulation;
        // Last: what the stream says, for the process-bus view.
        out.push(Observation::Publishes {
            subject,
            stream: Box::new(Published {
                protocol: PROTOCOL,
                id: text(pdu.gocb_ref).unwrap_or_default(),
                appid: header.appid,
                group: f.dst,
                dataset: text(pdu.dat_set),
                go_id: pdu.go_id.and_then(text),
                conf_rev: pdu.conf_rev,
                st_num: Some(pdu.st_num),
                state_change: new_state,
                simulation,
            }),
        });
    }
}

impl GooseDissector {
    /// Reports `e` against the budget of the stream `key` names.
    fn violation(&mut self, key: StreamKey, e: GooseError, out: &mut Vec<Observation>) {
        self.streams.entry(key).violations.record(PROTOCOL, e, out);
    }

    /// How many streams are remembered.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }
}

fn text(raw: &[u8]) -> Option<String> {
    clean_text(raw, MAX_REF_CHARS)
}

/// What a stream says of its publisher: the IED's logical device as its name, `ied`, and the
/// stream with its group address.
fn publisher(
    subject: Subject,
    f: &LinkFrame,
    header: &Header<'_>,
    pdu: &GoosePdu<'_>,
    out: &mut Vec<Observation>,
) {
    let gocb_ref = text(pdu.gocb_ref).unwrap_or_default();
    let ld = iec61850_frame::logical_device(&gocb_ref).map(str::to_owned);
    push_identity(out, subject, Field::Hostname, ld, source::GOOSE_GOCBREF);
    push_identity(
        out,
        subject,
        Field::DeviceType,
        Some("ied".to_owned()),
        source::GOOSE_PUBLISHER,
    );
    let mut d = format!("IEC 61850 GOOSE publisher of {gocb_ref}");
    if let Some(ds) = text(pdu.dat_set) {
        d.push_str(&format!(", dataset {ds}"));
    }
    if let Some(id) = pdu.go_id.and_then(text) {
        d.push_str(&format!(", goID {id}"));
    }
    d.push_str(&format!(
        ", confRev {}, APPID {:#06x}",
        pdu.conf_rev, header.appid
    ));
    if let Ok(entries) = pdu.data_entries() {
        d.push_str(&format!(", {entries}"));
    }
    if let Some(dst) = f.dst {
        d.push_str(&format!(", to {dst}"));
    }
    push_identity(
        out,
        subject,
        Field::Description,
        Some(d),
        source::GOOSE_PUBLISHER,
    );
}

/// A stream published with the simulation/test flag set.
fn test_flag(subject: Subject, pdu: &GoosePdu<'_>, out: &mut Vec<Observation>) {
    let gocb_ref = text(pdu.gocb_ref).unwrap_or_default();
    push_identity(
        out,
        subject,
        Field::Status,
        Some(format!(
            "GOOSE {gocb_ref} published with the simulation (test) flag set"
        )),
        source::GOOSE_PUBLISHER,
    );
}

/// A new stNum: the published state changed.
fn state_change(pdu: &GoosePdu<'_>, simulation: bool, out: &mut Vec<Observation>) {
    let mut details = vec![
        ("service", "state change".to_owned()),
        ("object", text(pdu.gocb_ref).unwrap_or_default()),
        ("stNum", pdu.st_num.to_string()),
    ];
    if let Some(ds) = text(pdu.dat_set) {
        details.push(("dataset", ds));
    }
    if simulation {
        details.push(("simulation", "true".to_owned()));
    }
    out.push(Observation::Operation {
        op: Operation::Control,
        function_code: None,
        details,
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
