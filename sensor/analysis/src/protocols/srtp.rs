//! GE-SRTP (Service Request Transport Protocol), the TCP protocol (port 18245) of GE Fanuc,
//! GE Intelligent Platforms and Emerson controllers: Series 90-30 and 90-70 Ethernet modules,
//! VersaMax, PACSystems RX3i and RX7i, served to Proficy Machine Edition, HMIs, SCADA drivers
//! and other PLCs (COMM_REQ). Each message is a 56-byte header carrying an SNP mailbox
//! message, then an optional text buffer ([`wire`] for the layout and its sources).
//!
//! Recognition: the type byte (0x00 to 0x03, then a zero byte) rejects most foreign traffic at
//! once; a request must carry an initial request mailbox (0xC0, or 0x80 with a text buffer)
//! and a service request code some source names, a response a completion ACK or error NACK
//! mailbox (a server's); the connection request is 56 zero bytes and its answer type 0x01
//! with zeros but for byte 8 (as a PACSystems RX3i sends it). Port 18245 nominates SRTP, any
//! port by content.
//!
//! What is reported ([`ops`] for the operations; the function code is the service request
//! code):
//! - every service request from the client: memory reads and writes with the memory type,
//!   first reference and count (`%R1`, 10 words) as evidence and as data-area accesses, Set PLC
//!   State (run or stop, with the state), program store/load (download/upload) and clears,
//!   Change Privilege Level (a password in clear: also a cleartext login without user), Set
//!   Controller ID, Set PLC Time/Date, file services, identity and status requests;
//! - identity: a Return Controller Type and ID answer names the controller ID (hostname),
//!   model (the Series 90 CPU from the major and minor type, or the types themselves), the
//!   main control program, and vendor GE; every completion ACK's piggyback status word names
//!   the PLC state (run / stop ...) as a status;
//! - violations: headers of unknown type, requests and responses with a mailbox type of the
//!   other side or none, and error NACKs (GFK-0529 table 3-12: illegal service request,
//!   insufficient privilege, ...), named with the service they answer.
//!
//! Answers are paired with their requests by the mailbox sequence number they echo.

mod error;
pub mod ops;
pub mod wire;

pub use self::error::SrtpError;

use super::facts::Facts;
use super::framing::{self, Framing, Stream, Unread};
use super::spec::ProtocolSpec;
use super::text::clean;
use super::violations::Violations;
use super::{operation_or_code, source, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Access, Field, Observation, Operation, Subject};
use wire::{kind, mailbox, Message, HEADER_LEN};

const PROTOCOL: &str = "srtp";

/// GE-SRTP's port (GFK-2224 and every Series 90 / PACSystems Ethernet manual: TCP 18245).
pub const PORT: u16 = 18245;

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<SrtpDissector>::default()
}

/// Bytes of a text buffer read: a Return Controller Type and ID answer is 40, program names
/// 10; the rest of a longer buffer (memory data, program blocks) is passed over.
pub const TEXT_PREFIX_CAP: usize = 64;

/// Requests remembered per flow until answered.
const MAX_PENDING: usize = 16;

/// Identity facts remembered per flow.
const MAX_FACTS: usize = 16;

// ---------------------------------------------------------------------------------------
// Recognition.

pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match data {
        [k, ..] if *k > kind::RESPONSE => return Probe::No,
        [_, b, ..] if *b != 0 => return Probe::No,
        // Bytes 6 and 7 are zero in both of the paper's tables and in every dump.
        [_, _, _, _, _, _, a, b, ..] if *a != 0 || *b != 0 => return Probe::No,
        [kind::CONNECT, ..] if data.iter().take(HEADER_LEN).any(|&b| b != 0) => return Probe::No,
        _ if data.len() < HEADER_LEN => return Probe::NeedMore,
        _ => {}
    }
    let Some(m) = Message::parse(data) else {
        return Probe::NeedMore;
    };
    match m.kind {
        kind::CONNECT => Probe::Yes,
        kind::CONNECT_ACK => {
            let zero =
                |r: std::ops::Range<usize>| data.get(r).is_some_and(|b| b.iter().all(|&x| x == 0));
            if zero(1..8) && zero(9..HEADER_LEN) {
                Probe::YesFromServer
            } else {
                Probe::No
            }
        }
        kind::REQUEST => match m.service() {
            Some((code, _)) if ops::name(code).is_some() => Probe::Yes,
            _ => Probe::No,
        },
        _ => match m.mailbox_type {
            mailbox::ACK | mailbox::ACK_TEXT | mailbox::NACK => Probe::YesFromServer,
            _ => Probe::No,
        },
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

#[derive(Default)]
struct Side {
    resync: bool,
    unread: Unread,
}

/// A request waiting for its answer.
#[derive(Debug, Clone, Copy)]
struct Asked {
    mailbox_seq: u8,
    code: u8,
}

/// Per-flow SRTP state.
#[derive(Default)]
pub struct SrtpDissector {
    sides: [Side; 2],
    pending: Vec<Asked>,
    facts: Facts<MAX_FACTS>,
    violations: Violations,
    /// A privilege change's password was reported as a login.
    login_reported: bool,
}

/// Frames the message at the start of `data`: the header and at most [`TEXT_PREFIX_CAP`]
/// bytes of its text buffer.
fn frame(data: &[u8]) -> Framing<SrtpError> {
    match wire::total_len(data) {
        Ok(Some(total)) => {
            let len = total.min(HEADER_LEN + TEXT_PREFIX_CAP);
            if data.len() < len {
                Framing::Incomplete { needed: len }
            } else {
                Framing::Complete { len }
            }
        }
        Ok(None) => Framing::Incomplete { needed: HEADER_LEN },
        Err(k) => Framing::broken(1, SrtpError::Header(k)),
    }
}

/// After a gap: the next offset where a message the probe would take starts.
fn boundary(data: &[u8]) -> Framing<SrtpError> {
    for i in 0..data.len() {
        match probe(Direction::ToServer, data.get(i..).unwrap_or_default()) {
            Probe::Yes | Probe::YesFromServer if i == 0 => return Framing::Complete { len: 0 },
            Probe::Yes | Probe::YesFromServer => return Framing::skip(i),
            Probe::NeedMore if i == 0 => return Framing::Incomplete { needed: HEADER_LEN },
            Probe::NeedMore => return Framing::skip(i),
            Probe::No => {}
        }
    }
    Framing::skip(data.len())
}

impl SrtpDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: SrtpError) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// One message (its header and the start of its text buffer).
    fn message(&mut self, dir: Direction, m: &[u8], out: &mut Vec<Observation>) {
        let Some(msg) = Message::parse(m) else {
            return;
        };
        match msg.kind {
            kind::REQUEST => self.request(dir, &msg, out),
            kind::RESPONSE => self.response(dir, &msg, out),
            // The connection exchange carries nothing to report.
            _ => {}
        }
    }

    fn request(&mut self, dir: Direction, msg: &Message<'_>, out: &mut Vec<Observation>) {
        let Some((code, data)) = msg.service() else {
            return self.violation(
                out,
                SrtpError::MailboxType {
                    kind: "request",
                    mailbox: msg.mailbox_type,
                },
            );
        };
        self.pending.retain(|a| a.mailbox_seq != msg.mailbox_seq);
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(Asked {
            mailbox_seq: msg.mailbox_seq,
            code,
        });
        if dir != Direction::ToServer {
            // A request travelling to the flow's client (sides guessed the other way round):
            // the code only, no operation on a controller.
            out.push(Observation::FunctionCode(u32::from(code)));
            return;
        }
        let (op, mut details) = ops::request(code, data);
        match code {
            ops::code::READ_SYSTEM_MEMORY..=ops::code::WRITE_PROGRAM_BLOCK_MEMORY => {
                if let Some(a) = access(code, data) {
                    out.push(Observation::Access(a));
                }
            }
            ops::code::CHANGE_PRIVILEGE => {
                // New level (signed: -1 is "the level of this password"), then an 8-byte
                // NUL-terminated password (GFK-0529 6-2).
                if let Some(&level) = data.first() {
                    details.push(("level", (level as i8).to_string()));
                }
                let password = data.get(1..9).is_some_and(|p| p.first() != Some(&0));
                if password && !self.login_reported {
                    self.login_reported = true;
                    out.push(Observation::CleartextLogin {
                        user: String::new(),
                        protocol: PROTOCOL,
                    });
                }
            }
            ops::code::SET_TIME => details.extend(clock(data).map(|v| ("value", v))),
            _ => {}
        }
        out.push(operation_or_code(op, u32::from(code), details));
    }

    fn response(&mut self, dir: Direction, msg: &Message<'_>, out: &mut Vec<Observation>) {
        if !matches!(
            msg.mailbox_type,
            mailbox::ACK | mailbox::ACK_TEXT | mailbox::NACK
        ) {
            return self.violation(
                out,
                SrtpError::MailboxType {
                    kind: "response",
                    mailbox: msg.mailbox_type,
                },
            );
        }
        let asked = self
            .pending
            .iter()
            .position(|a| a.mailbox_seq == msg.mailbox_seq)
            .map(|i| self.pending.remove(i));
        if msg.mailbox_type == mailbox::NACK {
            let service = asked.and_then(|a| ops::name(a.code)).unwrap_or("a request");
            let major = msg.at(42);
            return self.violation(
                out,
                SrtpError::Nack {
                    service,
                    major: wire::major_error(major),
                    major_code: major,
                    minor: msg.at(43),
                },
            );
        }
        let sender = dir.sender();
        self.plc_state(sender, msg.word(54), out);
        match asked.map(|a| a.code) {
            Some(ops::code::CONTROLLER_TYPE_AND_ID) => self.controller(sender, msg.text, out),
            // Number of control programs (u16), then the first one's name (GFK-0529 6-36).
            Some(ops::code::PROGRAM_NAME) if msg.mailbox_type == mailbox::ACK_TEXT => {
                let name = msg.text.get(2..10).unwrap_or_default();
                let name = name.split(|&b| b == 0).next().unwrap_or_default();
                self.program(sender, name, out);
            }
            _ => {}
        }
    }

    /// The PLC state of a piggyback status word (bits 12-15, GFK-0529 table 3-8).
    fn plc_state(&mut self, subject: Subject, word: u16, out: &mut Vec<Observation>) {
        let state = (word >> 12) as u8;
        let Some(name) = wire::state_name(state) else {
            return;
        };
        self.facts.emit(
            out,
            subject,
            Field::Status,
            &[state],
            source::SRTP_STATUS,
            || Some(format!("PLC state: {name}")),
        );
    }

    /// A Return Controller Type and ID answer's text buffer.
    fn controller(&mut self, subject: Subject, text: &[u8], out: &mut Vec<Observation>) {
        let Some(c) = wire::controller_id(text) else {
            return;
        };
        let src = source::SRTP_CONTROLLER_ID;
        self.facts
            .emit(out, subject, Field::Vendor, b"GE", src, || {
                Some("GE".to_string())
            });
        let types = [c.major, c.minor];
        match wire::model(c.major, c.minor) {
            Some(model) => {
                self.facts
                    .emit(out, subject, Field::Model, &types, src, || {
                        Some(model.to_string())
                    });
            }
            None => {
                let family = wire::family(c.major).unwrap_or("GE PLC");
                self.facts
                    .emit(out, subject, Field::Description, &types, src, || {
                        Some(format!(
                            "{family} CPU type {:#04x}/{:#04x}",
                            c.major, c.minor
                        ))
                    });
            }
        }
        self.facts
            .emit(out, subject, Field::Hostname, c.controller_id, src, || {
                clean(c.controller_id)
            });
        if c.programs > 0 {
            self.program(subject, c.program, out);
        }
    }

    /// The main control program's name.
    fn program(&mut self, subject: Subject, name: &[u8], out: &mut Vec<Observation>) {
        let src = source::SRTP_CONTROLLER_ID;
        self.facts
            .emit(out, subject, Field::Description, name, src, || {
                clean(name).map(|n| format!("control program {n}"))
            });
    }
}

/// A memory read or write (0x04-0x09) as an access of the memory type; `None` for a segment
/// selector GFK-0529 does not list.
fn access(code: u8, data: &[u8]) -> Option<Access> {
    let r = wire::Range::parse(data)?;
    let s = wire::segment(r.selector)?;
    let (start, count) = r.references(s.mode);
    let op = if code >= ops::code::WRITE_SYSTEM_MEMORY {
        Operation::Write
    } else {
        Operation::Read
    };
    Some(Access {
        op,
        unit: None,
        area: s.area,
        block: None,
        start,
        count,
    })
}

/// Set PLC Time/Date's value (GFK-0529 6-67): mode (1 both, 2 time, 3 date), then packed BCD
/// seconds, minutes, hours, day, month, year.
fn clock(data: &[u8]) -> Option<String> {
    let bcd = |i: usize| {
        let b = *data.get(i)?;
        let (hi, lo) = (b >> 4, b & 0x0f);
        (hi < 10 && lo < 10).then_some(u32::from(hi) * 10 + u32::from(lo))
    };
    let time = || Some(format!("{:02}:{:02}:{:02}", bcd(3)?, bcd(2)?, bcd(1)?));
    let date = || Some(format!("{:02}-{:02}-{:02}", bcd(6)?, bcd(5)?, bcd(4)?));
    match data.first()? {
        1 => Some(format!("{} {}", date()?, time()?)),
        2 => time(),
        3 => date(),
        _ => None,
    }
}

impl Stream for SrtpDissector {
    type Error = SrtpError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<SrtpError> {
        let side = &mut self.sides[dir.index()];
        if let Some(skip) = side.unread.pass(data) {
            return skip;
        }
        framing::step(&mut side.resync, data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: SrtpError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.message(dir, message, out);
        let total = wire::total_len(message).ok().flatten().unwrap_or(0);
        self.sides[dir.index()]
            .unread
            .set(total.saturating_sub(message.len()));
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = &mut self.sides[dir.index()];
        side.unread.clear();
        side.resync = true;
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests;
