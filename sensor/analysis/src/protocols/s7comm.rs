//! S7comm (Siemens S7 communication) over ISO-on-TCP, and S7comm-plus recognition.
//!
//! Framing: RFC 1006 §6 TPKT (version 3, reserved 0, 16-bit length including the header)
//! carries ISO 8073 / ITU-T X.224 class 0 TPDUs (X.224 §13: CR, CC, DR, DT, ER). The client
//! opens with a Connection Request whose called TSAP (parameter 0xC2, X.224 §13.3.4) addresses
//! the CPU; for S7-300/400 it is two bytes, the connection type and then `rack * 0x20 + slot`
//! (snap7 `ConnectTo`: RemoteTSAP = (ConnType << 8) + Rack * 0x20 + Slot).
//!
//! Siemens publishes no specification. Every field below follows the Wireshark dissector
//! (epan/dissectors/packet-s7comm.c, packet-s7comm.h and packet-s7comm_szl_ids.c by Thomas
//! Wiens) and, for S7comm-plus, the s7comm_plus plugin (moki-ics/s7commwireshark,
//! src/s7comm_plus/packet-s7comm_plus.c); those were read to understand the wire format, the
//! code here is our own.
//!
//! Recognition (the choice the registry forces on a protocol with two names): the COTP
//! Connection Request is the same for S7comm, S7comm-plus and MMS/IEC 61850, which also runs
//! on port 102 with TSAPs. So both probes walk the TPDUs buffered for one direction: a CR or
//! CC with calling and called TSAPs answers `NeedMore`, and the first DT TPDU decides: an S7
//! header (0x32) is `s7comm`, an S7comm-plus header (0x72) is `s7comm_plus`, anything else
//! (an ISO 8327 session SPDU of MMS) is neither. The flow layer keeps probing for several
//! payload packets, so CR, CC and the first DT (setup communication, or the plus CreateObject)
//! arrive within; a capture that starts mid-connection is decided by its first DT directly.
//! One dissector type reads both families; the SPEC that matched names the connection.
//!
//! What is reported: every job and userdata request as an `Operation` (or `FunctionCode`) with
//! the raw code (jobs: the function byte, e.g. 0x04 read var; userdata: `0x7GGSS`, function
//! group GG and subfunction SS, e.g. 0x70401 read SZL), rack/slot from the called TSAP, the
//! byte ranges each Read Var / Write Var item addresses as `Access` (areas "db<N>",
//! "di<N>", "I", "Q", "M", "P", "L", "C", "T"; [`items`]), the
//! identity records of SZL 0x0011/0x001C answers ([`szl`]), and S7comm-plus requests and the
//! PLC's order number and firmware from its session answer ([`plus`]).
//!
//! Requests that change the PLC carry their evidence as details ([`ops`]): downloads, uploads,
//! `_INSE` and `_DELE` name their block ("OB1"); a download's block bytes are hashed as the
//! client sends them and the download ends (download ended, or the next download) with one
//! more program download carrying `block`, `sha256`, `bytes` and, when bytes were lost or it
//! was not seen whole, `complete=false`; PI services and PLC stop name their service; set clock is a time sync
//! with the time set; `_MODU` (copy RAM to ROM) is a configuration change. The PLC password
//! (userdata group 5) is only XOR-obfuscated on the wire: setting or clearing it is a
//! configuration change of the session's security, and the first one is also reported as a
//! cleartext login without a user name; its bytes are never kept. Reads and writes of data
//! carry no details.

mod cotp;
mod error;
mod items;
mod ops;
mod plus;
mod szl;

pub use self::error::S7Error;
use super::facts;
use super::framing::{self, Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::violations::Violations;
use super::{operation_or_code, Direction, Dissector, Probe, Transport};
use cotp::{boundary, cotp, first_data, frame, params, tpdu, Tpdu, CALLED_TSAP, CR};
use otwatch_common::observation::{Details, Field, Observation, Operation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "s7comm",
    transport: Transport::Tcp,
    ports: &[102],
    probe,
    new,
};

pub static PLUS_SPEC: ProtocolSpec = ProtocolSpec {
    name: "s7comm_plus",
    transport: Transport::Tcp,
    ports: &[102],
    probe: probe_plus,
    new: new_plus,
};

fn new() -> Box<dyn Dissector> {
    Box::new(S7Dissector::new(SPEC.name))
}

fn new_plus() -> Box<dyn Dissector> {
    Box::new(S7Dissector::new(PLUS_SPEC.name))
}

/// packet-s7comm.c: S7COMM_PROT_ID, and S7COMM_PLUS_PROT_ID of the plus plugin.
const S7_PROTOCOL_ID: u8 = 0x32;
const PLUS_PROTOCOL_ID: u8 = 0x72;
/// packet-s7comm.c: ROSCTR (PDU type) values.
const JOB: u8 = 0x01;
const ACK: u8 = 0x02;
const ACK_DATA: u8 = 0x03;
const USERDATA: u8 = 0x07;

/// Userdata function codes are reported as `USERDATA_CODE | group << 8 | subfunction`.
const USERDATA_CODE: u32 = 0x7_0000;

/// A segmented PDU (DT TPDUs without EOT) longer than this is dropped. S7comm negotiates PDUs
/// of at most 960 bytes in practice (setup communication), so this is generous.
const MAX_SEGMENTED: usize = 16 * 1024;
/// Identity facts remembered per flow (for "already reported").
const MAX_FACTS: usize = 32;

// ---------------------------------------------------------------------------------------
// Recognition.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Classic,
    Plus,
}

pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match first_family(data) {
        Ok(Family::Classic) => Probe::Yes,
        Ok(Family::Plus) => Probe::No,
        Err(p) => p,
    }
}

pub fn probe_plus(_dir: Direction, data: &[u8]) -> Probe {
    match first_family(data) {
        Ok(Family::Plus) => Probe::Yes,
        Ok(Family::Classic) => Probe::No,
        Err(p) => p,
    }
}

/// Which family the first S7 PDU of a direction belongs to; `Err` is the probe's answer when
/// that cannot be said (yet).
fn first_family(data: &[u8]) -> Result<Family, Probe> {
    let (user, eot) = first_data(data)?;
    classify_payload(user, eot)
}

/// The first DT's user data: an S7comm or S7comm-plus header with lengths that fit the TPDU.
fn classify_payload(user: &[u8], eot: bool) -> Result<Family, Probe> {
    match user.first() {
        Some(&S7_PROTOCOL_ID) => {
            let Some(h) = S7Header::parse(user) else {
                return Err(Probe::No);
            };
            // A whole PDU fills the TPDU exactly; a first segment announces more than it holds.
            let fits = if eot {
                h.total() == user.len()
            } else {
                h.total() > user.len()
            };
            if fits {
                Ok(Family::Classic)
            } else {
                Err(Probe::No)
            }
        }
        Some(&PLUS_PROTOCOL_ID) => {
            if plus::header_fits(user) {
                Ok(Family::Plus)
            } else {
                Err(Probe::No)
            }
        }
        _ => Err(Probe::No),
    }
}

/// S7comm header (packet-s7comm.c `dissect_s7comm`): protocol id 0x32, ROSCTR, redundancy
/// identification (2), PDU reference (2), parameter length (2), data length (2), and for
/// ROSCTR 2 and 3 an error class and an error code.
#[derive(Debug, Clone, Copy)]
struct S7Header {
    rosctr: u8,
    header_len: usize,
    param_len: usize,
    data_len: usize,
}

impl S7Header {
    fn parse(pdu: &[u8]) -> Option<S7Header> {
        let [S7_PROTOCOL_ID, rosctr, _, _, _, _, p0, p1, d0, d1, ..] = *pdu else {
            return None;
        };
        let header_len = match rosctr {
            JOB | USERDATA => 10,
            ACK | ACK_DATA => 12,
            _ => return None,
        };
        if pdu.len() < header_len {
            return None;
        }
        Some(S7Header {
            rosctr,
            header_len,
            param_len: usize::from(u16::from_be_bytes([p0, p1])),
            data_len: usize::from(u16::from_be_bytes([d0, d1])),
        })
    }

    fn total(&self) -> usize {
        self.header_len + self.param_len + self.data_len
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

/// Per-direction stream state.
#[derive(Default)]
struct Side {
    /// User data of DT TPDUs without EOT, waiting for the last one (X.224 §13.7).
    segment: Vec<u8>,
    /// A segmented PDU outgrew [`MAX_SEGMENTED`]: drop its remaining segments.
    dropping: bool,
    /// After a gap or a broken TPKT header: look for the next TPKT before parsing.
    resync: bool,
    /// S7comm-plus: the previous PDU had no trailer, so the next one continues it.
    plus_continues: bool,
    /// S7comm-plus over TLS (newer S7-1500 firmware): nothing more to read here.
    encrypted: bool,
}

/// Identity facts already reported on this flow.
#[derive(Default)]
struct Facts {
    seen: facts::Facts<MAX_FACTS>,
    /// A Model came from an order number (SZL 0x0011 or the plus session); a module type
    /// name (SZL 0x001C index 7) is then not reported as Model.
    model_from_order_number: bool,
}

/// Per-flow S7comm / S7comm-plus state.
pub struct S7Dissector {
    /// The name the connection was recognised as (`s7comm` or `s7comm_plus`).
    protocol: &'static str,
    sides: [Side; 2],
    szl: szl::Reassembly,
    facts: Facts,
    violations: Violations,
    login_reported: bool,
    /// The block download in progress, hashed as its data passes ([`ops::Download`]).
    download: Option<Box<ops::Download>>,
    /// The block named by the last start upload, for the upload jobs that follow it.
    upload_block: Option<String>,
}

impl S7Dissector {
    fn new(protocol: &'static str) -> S7Dissector {
        S7Dissector {
            protocol,
            sides: Default::default(),
            szl: szl::Reassembly::default(),
            facts: Facts::default(),
            violations: Violations::default(),
            login_reported: false,
            download: None,
            upload_block: None,
        }
    }

    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.sides[0],
            Direction::ToClient => &mut self.sides[1],
        }
    }

    fn violation(&mut self, out: &mut Vec<Observation>, reason: S7Error) {
        self.violations.record(self.protocol, reason, out);
    }

    fn tpdu(&mut self, dir: Direction, tpdu: &[u8], out: &mut Vec<Observation>) {
        match cotp(tpdu) {
            Err(reason) => self.violation(out, reason),
            Ok(Tpdu::Control) => {}
            Ok(Tpdu::Connect { code, params }) => {
                if code == CR && dir == Direction::ToServer {
                    self.rack_slot(params, out);
                }
            }
            Ok(Tpdu::Data { eot, user }) => self.data(dir, eot, user, out),
        }
    }

    /// Rack and slot of the CPU from the CR's called TSAP: connection type, then
    /// `rack * 0x20 + slot` (snap7 `ConnectTo`; Wireshark shows the TSAP as bytes).
    /// S7comm-plus and other stacks use longer, textual TSAPs: nothing to report then.
    fn rack_slot(&mut self, params_: &[u8], out: &mut Vec<Observation>) {
        let Some((_, tsap)) = params(params_).find(|(code, _)| *code == CALLED_TSAP) else {
            return;
        };
        let &[conn_type, rack_slot] = tsap else {
            return;
        };
        // snap7 connection types: 1 PG, 2 OP, 3..=0x10 S7 basic.
        if !(1..=0x10).contains(&conn_type) {
            return;
        }
        self.facts.seen.emit(
            out,
            Subject::Server,
            Field::Description,
            tsap,
            source::S7_COTP_TSAP,
            || Some(format!("rack {} slot {}", rack_slot >> 5, rack_slot & 0x1f)),
        );
    }

    /// One DT TPDU: reassembles segments (X.224 §13.7, EOT) into a PDU.
    fn data(&mut self, dir: Direction, eot: bool, user: &[u8], out: &mut Vec<Observation>) {
        let side = self.side(dir);
        if side.dropping {
            side.dropping = !eot;
            return;
        }
        if eot && side.segment.is_empty() {
            self.pdu(dir, user, out);
            return;
        }
        if side.segment.len() + user.len() > MAX_SEGMENTED {
            side.segment.clear();
            side.dropping = !eot;
            return;
        }
        side.segment.extend_from_slice(user);
        if !eot {
            return;
        }
        let mut whole = std::mem::take(&mut side.segment);
        self.pdu(dir, &whole, out);
        // Give the allocation back for the next segmented PDU.
        whole.clear();
        self.side(dir).segment = whole;
    }

    fn pdu(&mut self, dir: Direction, pdu: &[u8], out: &mut Vec<Observation>) {
        if self.side(dir).encrypted {
            return;
        }
        match pdu.first() {
            // An empty DT (seen around S7comm-plus PDUs) carries nothing.
            None => {}
            Some(&S7_PROTOCOL_ID) => self.s7(dir, pdu, out),
            Some(&PLUS_PROTOCOL_ID) => self.plus(dir, pdu, out),
            // TLS record header (RFC 8446 §5.1) inside COTP: newer S7-1500 firmware.
            Some(0x14..=0x17) if self.protocol == PLUS_SPEC.name && pdu.get(1) == Some(&3) => {
                self.side(dir).encrypted = true;
            }
            Some(_) => self.violation(out, S7Error::NotS7),
        }
    }

    fn s7(&mut self, dir: Direction, pdu: &[u8], out: &mut Vec<Observation>) {
        let Some(h) = S7Header::parse(pdu) else {
            let reason = match pdu.get(1) {
                Some(&(JOB | ACK | ACK_DATA | USERDATA)) | None => S7Error::HeaderTruncated,
                Some(_) => S7Error::Rosctr,
            };
            self.violation(out, reason);
            return;
        };
        if h.total() != pdu.len() {
            self.violation(out, S7Error::Lengths);
            return;
        }
        let param_end = h.header_len + h.param_len;
        let param = pdu.get(h.header_len..param_end).unwrap_or_default();
        let data = pdu.get(param_end..).unwrap_or_default();
        match h.rosctr {
            JOB => self.job(param, out),
            USERDATA => self.userdata(dir, param, data, out),
            // A download-block answer carries the block's bytes.
            ACK_DATA if param.first() == Some(&ops::DOWNLOAD_BLOCK) => {
                if let Some(d) = self.download.as_mut() {
                    d.answer(param.get(1).copied().unwrap_or_default(), data);
                }
            }
            // Other answers carry no operation; errors are the PLC's business.
            _ => {}
        }
    }

    /// A job request: the first parameter byte is the function (packet-s7comm.c
    /// `s7comm_decode_req_resp`, S7COMM_SERV_* and S7COMM_FUNC* values). Reads and writes
    /// carry no details; programs, PI services and stops do ([`ops`]).
    fn job(&mut self, param: &[u8], out: &mut Vec<Observation>) {
        let Some(&function) = param.first() else {
            self.violation(out, S7Error::NoFunction);
            return;
        };
        let (op, details) = match function {
            0x04 => (Some(Operation::Read), Vec::new()),
            0x05 => (Some(Operation::Write), Vec::new()),
            ops::REQUEST_DOWNLOAD..=ops::END_UPLOAD => self.updown(function, param, out),
            ops::PI_SERVICE => {
                let (op, details) = ops::pi_service(param);
                (Some(op), details)
            }
            ops::PLC_STOP => (
                Some(Operation::CpuStop),
                vec![("service", "PLC stop".to_string())],
            ),
            // 0x00 CPU services, 0xF0 setup communication, and anything else.
            _ => (None, Vec::new()),
        };
        out.push(operation_or_code(op, u32::from(function), details));
        if let Some(op @ (Operation::Read | Operation::Write)) = op {
            items::report(param, op, out);
        }
        if function == ops::DOWNLOAD_ENDED {
            self.finish_download(true, out);
        }
    }

    /// Upload and download jobs (0x1A-0x1F). The client asks to download (request download),
    /// then the PLC asks for the block's data (download block jobs, answered by the client
    /// with the bytes) and closes with download ended; an upload is asked by the client.
    fn updown(
        &mut self,
        function: u8,
        param: &[u8],
        out: &mut Vec<Observation>,
    ) -> (Option<Operation>, Details) {
        let file = ops::job_file(param);
        let block = match function {
            ops::REQUEST_DOWNLOAD | ops::DOWNLOAD_BLOCK => {
                let file = file.unwrap_or_default();
                let open = self.download.as_ref().is_some_and(|d| d.is_for(file));
                let request = function == ops::REQUEST_DOWNLOAD;
                if request || !open {
                    // A new download ends the one before it, complete or not.
                    self.finish_download(false, out);
                    let expected = ops::announced_length(param).filter(|_| request);
                    self.download = Some(ops::Download::new(file, request, expected));
                }
                if !request {
                    if let Some(d) = self.download.as_mut() {
                        d.job();
                    }
                }
                ops::block_name(file)
            }
            ops::DOWNLOAD_ENDED => file.and_then(ops::block_name),
            ops::START_UPLOAD => {
                self.upload_block = file.and_then(ops::block_name);
                self.upload_block.clone()
            }
            _ => self.upload_block.clone(),
        };
        let op = if function <= ops::DOWNLOAD_ENDED {
            Operation::ProgramDownload
        } else {
            Operation::ProgramUpload
        };
        let service = ops::updown_service(function).to_string();
        (Some(op), ops::service_and_block(service, block))
    }

    /// Reports the download in progress, if any, with its hash (`ended`: by download ended).
    fn finish_download(&mut self, ended: bool, out: &mut Vec<Observation>) {
        if let Some(d) = self.download.take() {
            d.finish(ended, out);
        }
    }

    /// A userdata PDU: the parameter is a 3-byte head, a length, the method, type (high
    /// nibble) and function group (low nibble), subfunction, sequence number, and in 12-byte
    /// parameters the data unit reference, last-data-unit flag and an error code
    /// (packet-s7comm.c `s7comm_decode_ud`).
    fn userdata(&mut self, dir: Direction, param: &[u8], data: &[u8], out: &mut Vec<Observation>) {
        let [_, _, _, _, _, type_group, subfunction, _, rest @ ..] = param else {
            self.violation(out, S7Error::UserdataShort);
            return;
        };
        let (kind, group, subfunction) = (type_group >> 4, type_group & 0x0f, *subfunction);
        let (unit_ref, more) = match rest {
            [unit_ref, last, ..] => (*unit_ref, *last != 0),
            _ => (0, false),
        };
        match kind {
            // packet-s7comm.h S7COMM_UD_TYPE_REQ, and the Sinumerik NC request.
            0x4 | 0x7 => self.userdata_request(group, subfunction, data, out),
            // S7COMM_UD_TYPE_RES (and NC response): a CPU function 1 answer is an SZL.
            0x8 | 0xb if group == 4 && subfunction == 1 => {
                szl::response(self, dir.sender(), unit_ref, more, data, out);
            }
            // Pushes (cyclic data, alarms, mode transitions) and other answers.
            _ => {}
        }
    }

    /// Classifies a userdata request by function group and subfunction (packet-s7comm.c
    /// `userdata_*_subfunc_names`).
    fn userdata_request(
        &mut self,
        group: u8,
        subfunction: u8,
        data: &[u8],
        out: &mut Vec<Observation>,
    ) {
        let code = USERDATA_CODE | u32::from(group) << 8 | u32::from(subfunction);
        let mut details = Vec::new();
        let op = match (group, subfunction) {
            // Programmer commands (group 1): block/variable status, stacks, test jobs.
            (1, 0x01..=0x07 | 0x0d..=0x13) => Some(Operation::Diagnostics),
            // Modify variable, force.
            (1, 0x08 | 0x09) => Some(Operation::Write),
            // Breakpoint, exit HOLD, memory reset, flash LED.
            (1, 0x0a..=0x0c | 0x16) => Some(Operation::Control),
            // Cyclic services (group 2): transfer, change driven (+modify), RDREC.
            (2, 0x01 | 0x05 | 0x07 | 0x08) => Some(Operation::Read),
            // Block functions (group 3): list blocks, list of type, block info.
            (3, 0x01..=0x03) => Some(Operation::Read),
            // CPU functions (group 4), 1 = read SZL: module identity or diagnostics.
            (4, 0x01) => match szl::requested_id(data) {
                Some(id) if szl::is_identity_id(id) => Some(Operation::Identify),
                Some(_) => Some(Operation::Diagnostics),
                // Follow-up of a fragmented answer: no new operation.
                None => None,
            },
            // ALARM_8 lock/unlock, ALARM ack.
            (4, 0x07 | 0x08 | 0x0b) => Some(Operation::Control),
            // Message service, diagnostic messages, alarm query.
            (4, _) => Some(Operation::Diagnostics),
            // Security (group 5): 1 sends the PLC password (the session's protection level
            // changes), 2 clears it (snap7 SetSessionPassword / ClearSessionPassword). The
            // password is only XOR-obfuscated: never kept, not even hashed.
            (5, 0x01 | 0x02) => {
                if subfunction == 0x01 && !self.login_reported {
                    self.login_reported = true;
                    out.push(Observation::CleartextLogin {
                        user: String::new(),
                        protocol: self.protocol,
                    });
                }
                let service = match subfunction {
                    0x01 => "PLC password",
                    _ => "clear PLC password",
                };
                details.push(("service", service.to_string()));
                details.push(("setting", "security".to_string()));
                Some(Operation::ConfigChange)
            }
            // Time functions (group 7): read clock (1, 3), set clock (2, 4).
            (7, 0x01 | 0x03) => Some(Operation::Read),
            (7, 0x02 | 0x04) => {
                details.push(("service", "set clock".to_string()));
                details.push(("setting", "clock".to_string()));
                details.extend(ops::set_clock_value(data).map(|v| ("value", v)));
                Some(Operation::TimeSync)
            }
            // NC programming (group 15, Sinumerik): file download and upload.
            (0x0f, 0x01..=0x04) => Some(Operation::ProgramDownload),
            (0x0f, 0x06..=0x08) => Some(Operation::ProgramUpload),
            _ => None,
        };
        out.push(operation_or_code(op, code, details));
    }

    fn plus(&mut self, dir: Direction, pdu: &[u8], out: &mut Vec<Observation>) {
        let subject = dir.sender();
        let continues = self.side(dir).plus_continues;
        match plus::parse(pdu) {
            Err(reason) => {
                self.side(dir).plus_continues = false;
                self.violation(out, reason);
            }
            Ok(p) => {
                self.side(dir).plus_continues = p.fragment;
                if !continues {
                    plus::report(&mut self.facts, subject, &p, out);
                }
            }
        }
    }
}

impl Stream for S7Dissector {
    type Error = S7Error;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<S7Error> {
        framing::step(&mut self.side(dir).resync, data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: S7Error, out: &mut Vec<Observation>) {
        self.violations.record(self.protocol, error, out);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        tpkt: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.tpdu(dir, tpdu(tpkt), out);
        Some(tpkt.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = self.side(dir);
        side.segment.clear();
        side.dropping = false;
        side.plus_continues = false;
        side.resync = true;
        self.szl.gap(dir.sender());
        if let Some(d) = self.download.as_mut() {
            d.gapped = true;
        }
    }
}

#[cfg(test)]
mod tests;
