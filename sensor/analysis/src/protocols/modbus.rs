//! Modbus/TCP (Modbus Application Protocol Specification V1.1b3, "MB §"; Modbus Messaging on
//! TCP/IP Implementation Guide V1.0b, "TCP §"), server port 502.
//!
//! What it reports:
//! - every request's function code, as an operation where it has one: reads (1–4, 24),
//!   writes (5, 6, 15, 16, 22; 23 reads and writes), file records (20, 21), diagnostics
//!   (7, 8, 11, 12; 8/0x0001 restarts communications, 8/0x0004 forcing listen-only mode is a
//!   configuration change), identification (17, 43/14), and the Schneider UMAS functions
//!   carried in function 90 (`umas.rs`); other codes, custom ones included, as bare function
//!   codes. The restart, the mode change and UMAS program transfers and CPU start/stop carry
//!   their service name as details; routine requests carry none. A response whose request was not seen (capture
//!   started late) reports its own (base) function code;
//! - identity from Read Device Identification answers (43/14, source "modbus device
//!   identification"), Report Server ID answers (17, source::MODBUS_REPORT_SERVER_ID) and UMAS
//!   READ_ID answers (source::MODBUS_UMAS_READ_ID), once per value and flow;
//! - violations only for real malformations: a protocol identifier other than 0, a length
//!   field outside 2..=254, a function's fixed fields cut short, a byte count that disagrees
//!   with the bytes that follow or with the quantity asked, function code 0 or an exception
//!   code in a request. Unknown function codes are not violations.
//!
//! Requests and responses are paired by transaction identifier (TCP §3.1.3) in a small
//! per-flow table. The stream is cut into ADUs by the MBAP length; after a gap or a broken
//! header the dissector looks for the next plausible header before parsing again. The end on
//! port 502 is the Modbus server even when it opened the TCP connection (devices that connect
//! out to their master); identity is then about the flow's client. UMAS frames (function 90)
//! may be longer than 254 (see [`MAX_UMAS_LENGTH`]).
//!
//! - the register and coil ranges each request reads and writes (functions 1-6, 15, 16, 22,
//!   23), with the unit identifier, as `Access` observations (areas "coils",
//!   "discrete_inputs", "holding_registers", "input_registers"; PDU addresses, 0-based).

pub mod pdu;
pub mod umas;

use super::source;
use pdu::{check_response, device_id, operations, parse_request, FunctionCode, PduError, Request};

use super::framing::{self, Delivery, Framing, Stream};
use super::spec::ProtocolSpec;
use super::text::{clean, fingerprint};
use super::violations::Violations;
use super::{Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{
    Access, Details, Field, Observation, Operation, Source, Subject,
};
use std::collections::VecDeque;

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    new,
};

const PROTOCOL: &str = "modbus";
/// IANA "mbap" (TCP §3.1).
pub const PORT: u16 = 502;

/// Largest MBAP length: unit identifier plus a 253-byte PDU (MB §4.1: "TCP MODBUS ADU = 253
/// bytes + MBAP (7 bytes) = 260 bytes").
pub const MAX_LENGTH: u16 = 254;
/// Largest MBAP length accepted for UMAS (function 90): Unity negotiates bigger frames in
/// INIT_COMM (program blocks of about 1 KiB are reported), and Modicon PLCs answer 255-byte
/// lengths (modbus/modicon_test.pcap, frames 19–20). Not a violation.
pub const MAX_UMAS_LENGTH: u16 = 2048;
/// Requests remembered per flow while waiting for their responses.
const MAX_PENDING: usize = 32;

/// The MBAP header (TCP §3.1.3), 7 bytes before the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mbap {
    /// Pairs a response with its request.
    pub transaction: u16,
    /// 0 = Modbus.
    pub protocol: u16,
    /// Bytes that follow: the unit identifier and the PDU.
    pub length: u16,
    /// Addresses a device behind a gateway; 0xFF (or 0) for the TCP device itself.
    pub unit: u8,
}

mod field {
    use std::ops::Range;
    pub const TRANSACTION: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const UNIT: usize = 6;
    pub const FUNCTION: usize = 7;
}

impl Mbap {
    pub const LEN: usize = 7;

    /// Reads the header from the start of `data`; `None` when fewer than 7 bytes.
    pub fn parse(data: &[u8]) -> Option<Mbap> {
        let u16_at = |r: std::ops::Range<usize>| {
            data.get(r)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(u16::from_be_bytes)
        };
        Some(Mbap {
            transaction: u16_at(field::TRANSACTION)?,
            protocol: u16_at(field::PROTOCOL)?,
            length: u16_at(field::LENGTH)?,
            unit: *data.get(field::UNIT)?,
        })
    }

    /// Length of the whole ADU (header plus PDU).
    pub fn adu_len(&self) -> usize {
        6 + usize::from(self.length)
    }

    /// Whether the header frames a Modbus ADU whose function code is `fc`.
    pub fn check(&self, fc: u8) -> Result<(), HeaderError> {
        if self.protocol != 0 {
            return Err(HeaderError::Protocol(self.protocol));
        }
        let max = if fc == FunctionCode::UMAS.0 {
            MAX_UMAS_LENGTH
        } else {
            MAX_LENGTH
        };
        if self.length < 2 || self.length > max {
            return Err(HeaderError::Length(self.length));
        }
        Ok(())
    }
}

/// Why an MBAP header cannot frame an ADU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("MBAP protocol identifier {0} is not 0 (TCP §3.1.3)")]
    Protocol(u16),
    #[error("MBAP length {0} outside 2..=254 (MB §4.1)")]
    Length(u16),
}

/// Whether `data` starts with a plausible MBAP header: needs the function code byte, except
/// that a nonzero protocol identifier or an impossible length rejects at once.
fn header_at(data: &[u8]) -> Probe {
    if data.get(2).is_some_and(|&b| b != 0) || data.get(3).is_some_and(|&b| b != 0) {
        return Probe::No;
    }
    let Some(h) = Mbap::parse(data) else {
        return Probe::NeedMore;
    };
    if h.length < 2 || h.length > MAX_UMAS_LENGTH {
        return Probe::No;
    }
    match data.get(field::FUNCTION) {
        None => Probe::NeedMore,
        Some(&fc) if h.check(fc).is_ok() => Probe::Yes,
        Some(_) => Probe::No,
    }
}

/// Content probe: a valid MBAP header whose length frames the payload exactly, or is followed
/// by the start of another valid header. HTTP, TLS, RDP, S7 (TPKT), EtherNet/IP, DNP3 and
/// IEC 104 all fail the zero protocol identifier or the length.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match header_at(data) {
        Probe::Yes => {}
        other => return other,
    }
    let end = Mbap::parse(data).map_or(usize::MAX, |h| h.adu_len());
    match data.get(end..) {
        None => Probe::NeedMore,
        Some([]) => Probe::Yes,
        Some(next) => match header_at(next) {
            Probe::No => Probe::No,
            _ => Probe::Yes,
        },
    }
}

fn new() -> Box<dyn Dissector> {
    Box::<ModbusDissector>::default()
}

/// Frames the ADU at the start of `data` by its MBAP header.
fn frame(data: &[u8]) -> Framing<HeaderError> {
    let (Some(h), Some(&fc)) = (Mbap::parse(data), data.get(field::FUNCTION)) else {
        return Framing::Incomplete {
            needed: field::FUNCTION + 1,
        };
    };
    if let Err(e) = h.check(fc) {
        // Skip a byte so the scan cannot lock onto the same broken header.
        return Framing::broken(1, e);
    }
    match data.len() >= h.adu_len() {
        true => Framing::Complete { len: h.adu_len() },
        false => Framing::Incomplete {
            needed: h.adu_len(),
        },
    }
}

/// The resync scan: an ADU boundary is a plausible header whose ADU ends the data or is
/// followed by another plausible header.
fn boundary(data: &[u8]) -> Framing<HeaderError> {
    for i in 0..data.len() {
        let rest = data.get(i..).unwrap_or_default();
        let found = match header_at(rest) {
            Probe::No => continue,
            Probe::NeedMore => None,
            Probe::Yes | Probe::YesFromServer => {
                let end = Mbap::parse(rest).map_or(usize::MAX, |h| h.adu_len());
                match rest.get(end..) {
                    None => None,
                    Some([]) => Some(end),
                    Some(next) if header_at(next) != Probe::No => Some(end),
                    Some(_) => continue,
                }
            }
        };
        return match (i, found) {
            (0, Some(len)) => Framing::Complete { len },
            (0, None) => Framing::Incomplete {
                needed: Mbap::LEN + 1,
            },
            (skip, _) => Framing::skip(skip),
        };
    }
    Framing::skip(data.len())
}

/// A request waiting for its response.
#[derive(Debug, Clone, Copy)]
struct Pending {
    transaction: u16,
    request: Request,
}

/// Identity slots, so each value is reported once per flow.
#[derive(Clone, Copy)]
enum Slot {
    Vendor,
    Model,
    Firmware,
    Description,
    ServerId,
    UmasModule,
    UmasVendor,
}
const SLOTS: usize = 7;

/// Per-flow Modbus/TCP state.
pub struct ModbusDissector {
    /// Per direction (to server, to client): looking for an ADU boundary.
    resync: [bool; 2],
    pending: VecDeque<Pending>,
    /// ProductName, ModelName and ProductCode (fingerprint of the raw value, cleaned text),
    /// kept across responses: a client may read the basic and regular categories in separate
    /// transactions. Together they make the model.
    model_parts: [(u64, Option<String>); 3],
    /// Fingerprint of the value last reported per slot (0 = none).
    reported: [u64; SLOTS],
    violations: Violations,
    /// The flow end that is the Modbus server (the one on port 502).
    server: Subject,
}

impl Default for ModbusDissector {
    fn default() -> Self {
        ModbusDissector {
            resync: [false; 2],
            pending: VecDeque::new(),
            model_parts: Default::default(),
            reported: [0; SLOTS],
            violations: Violations::default(),
            server: Subject::Server,
        }
    }
}

impl Stream for ModbusDissector {
    type Error = HeaderError;

    fn on_delivery(
        &mut self,
        delivery: Delivery<'_>,
        _out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let ctx = delivery.ctx;
        // The Modbus server listens on 502 (TCP §3.1); when the TCP initiator is the one on
        // 502 (a device that connects out to its master, or a capture whose SYN says so),
        // requests travel to the TCP client.
        let inverted = ctx.client.port == PORT && ctx.server.port != PORT;
        self.server = if inverted {
            Subject::Client
        } else {
            Subject::Server
        };
        None
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<HeaderError> {
        framing::step(&mut self.resync[dir.index()], data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: HeaderError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        adu: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let (Some(h), Some(pdu)) = (Mbap::parse(adu), adu.get(Mbap::LEN..)) else {
            return None;
        };
        if dir.receiver() == self.server {
            self.request(h, pdu, out);
        } else {
            self.response(h, pdu, out);
        }
        Some(adu.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

impl ModbusDissector {
    /// Reports a violation, up to the per-flow cap (the reason is only formatted then).
    fn violation(&mut self, out: &mut Vec<Observation>, reason: impl std::fmt::Display) {
        self.violations.record(PROTOCOL, reason, out);
    }

    fn request(&mut self, h: Mbap, pdu: &[u8], out: &mut Vec<Observation>) {
        let Some(&fc) = pdu.first() else {
            return;
        };
        let request = match parse_request(pdu) {
            Ok(req) => req,
            Err(e) => {
                // Still an attempt at what the function code says (a malformed write is a
                // write attempt); 0 and exception codes become bare function codes.
                self.violation(out, e);
                Request::new(FunctionCode(fc))
            }
        };
        emit_operations(&request, out);
        emit_access(h.unit, &request, out);
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            transaction: h.transaction,
            request,
        });
    }

    fn response(&mut self, h: Mbap, pdu: &[u8], out: &mut Vec<Observation>) {
        let Some(&fc) = pdu.first() else {
            return;
        };
        let fc = FunctionCode(fc);
        let base = fc.base();
        // The oldest request with this transaction id and function (clients that always use
        // id 0 get answers in order).
        let request = self
            .pending
            .iter()
            .position(|p| p.transaction == h.transaction && p.request.function == base)
            .and_then(|i| self.pending.remove(i))
            .map(|p| p.request);
        if request.is_none() {
            // The request was not seen: report what the response says was asked. Function 8
            // and 43 echo their sub-function (MB §6.8, §6.19); an exception does not.
            let sub = match (fc.is_exception(), base) {
                (false, FunctionCode::DIAGNOSTICS) => pdu
                    .get(1..3)
                    .and_then(|b| <[u8; 2]>::try_from(b).ok())
                    .map(u16::from_be_bytes),
                (false, FunctionCode::ENCAPSULATED_INTERFACE) => pdu.get(1).map(|&m| m.into()),
                _ => None,
            };
            let mut req = Request::new(base);
            req.sub_function = sub;
            emit_operations(&req, out);
        }
        if fc.is_exception() {
            // MB §7: function | 0x80, exception code. Trailing bytes are tolerated.
            if pdu.len() < 2 {
                self.violation(out, PduError::ExceptionWithoutCode(base.0));
            }
            return;
        }
        if let Err(e) = check_response(pdu, request.as_ref()) {
            self.violation(out, e);
            return;
        }
        match base {
            FunctionCode::ENCAPSULATED_INTERFACE
                if pdu.get(1) == Some(&pdu::MEI_READ_DEVICE_ID) =>
            {
                self.device_identification(pdu, out)
            }
            FunctionCode::REPORT_SERVER_ID => {
                if let Some(text) = pdu::server_id_text(pdu) {
                    let source = source::MODBUS_REPORT_SERVER_ID;
                    self.report(out, Slot::ServerId, Field::Description, text, source);
                }
            }
            FunctionCode::UMAS
                if request.and_then(|r| r.sub_function) == Some(umas::READ_ID.into()) =>
            {
                if let Some(module) = umas::read_id_module(pdu) {
                    // Only Schneider Electric controllers speak UMAS.
                    let source = source::MODBUS_UMAS_READ_ID;
                    let vendor = b"Schneider Electric";
                    self.report(out, Slot::UmasVendor, Field::Vendor, vendor, source);
                    self.report(out, Slot::UmasModule, Field::Model, module, source);
                }
            }
            _ => {}
        }
    }

    /// MB §6.21: VendorName → vendor, MajorMinorRevision → firmware, UserApplicationName →
    /// description; ProductName, ModelName and ProductCode together make the model.
    fn device_identification(&mut self, pdu: &[u8], out: &mut Vec<Observation>) {
        const SOURCE: Source = source::MODBUS_DEVICE_IDENTIFICATION;
        let Ok(id) = device_id(pdu) else {
            return;
        };
        let mut model_changed = false;
        for obj in id.objects().map_while(Result::ok) {
            let part = match obj.id {
                pdu::OBJ_VENDOR_NAME => {
                    self.report(out, Slot::Vendor, Field::Vendor, obj.value, SOURCE);
                    continue;
                }
                pdu::OBJ_MAJOR_MINOR_REVISION => {
                    self.report(out, Slot::Firmware, Field::Firmware, obj.value, SOURCE);
                    continue;
                }
                pdu::OBJ_USER_APPLICATION_NAME => {
                    self.report(
                        out,
                        Slot::Description,
                        Field::Description,
                        obj.value,
                        SOURCE,
                    );
                    continue;
                }
                pdu::OBJ_PRODUCT_NAME => 0,
                pdu::OBJ_MODEL_NAME => 1,
                pdu::OBJ_PRODUCT_CODE => 2,
                // VendorUrl (0x03), reserved and extended objects: nothing to report.
                _ => continue,
            };
            let fp = fingerprint(obj.value) | 1;
            if let Some((seen, text)) = self.model_parts.get_mut(part) {
                if *seen != fp {
                    *seen = fp;
                    *text = clean(obj.value);
                    model_changed = true;
                }
            }
        }
        if model_changed {
            // The product's name (ProductName, else ModelName) and its code: "Modicon M580"
            // and "BME P58 2040", or "OTW Controller" and "OTW-PLC-1".
            let [(_, product), (_, model), (_, code)] = &self.model_parts;
            let name = product.as_deref().or(model.as_deref());
            if let Some(model) = compose_model(name.into_iter().chain(code.as_deref())) {
                self.report(out, Slot::Model, Field::Model, model.as_bytes(), SOURCE);
            }
        }
    }

    /// Reports `raw` (wire text, cleaned here) unless it is what this slot last reported; a
    /// repeated answer costs a hash, not an allocation.
    fn report(
        &mut self,
        out: &mut Vec<Observation>,
        slot: Slot,
        field: Field,
        raw: &[u8],
        source: Source,
    ) {
        let fp = fingerprint(raw) | 1;
        let Some(seen) = self.reported.get_mut(slot as usize) else {
            return;
        };
        if *seen == fp {
            return;
        }
        *seen = fp;
        if let Some(value) = clean(raw) {
            out.push(Observation::Identity {
                subject: self.server,
                field,
                value,
                source,
            });
        }
    }
}

/// The request's operations, or its bare function code when it has none.
fn emit_operations(req: &Request, out: &mut Vec<Observation>) {
    let code = u32::from(req.function.0);
    let ops = operations(req);
    if ops.iter().all(Option::is_none) {
        out.push(Observation::FunctionCode(code));
    }
    for op in ops.into_iter().flatten() {
        out.push(Observation::Operation {
            op,
            function_code: Some(code),
            details: details(req),
        });
    }
}

/// The evidence of a request that changes the device: a restart or listen-only mode (MB
/// §6.8.1), a UMAS program transfer or CPU start/stop. Nothing (and no allocation) for
/// routine requests.
fn details(req: &Request) -> Details {
    let service = |s: &str| ("service", s.to_string());
    match (req.function, req.sub_function) {
        (FunctionCode::DIAGNOSTICS, Some(pdu::DIAG_RESTART_COMMUNICATIONS)) => {
            vec![service("FC 8 sub-function 1 restart communications option")]
        }
        (FunctionCode::DIAGNOSTICS, Some(pdu::DIAG_FORCE_LISTEN_ONLY)) => vec![
            service("FC 8 sub-function 4 force listen only mode"),
            ("setting", "mode".to_string()),
            ("value", "listen only".to_string()),
        ],
        (FunctionCode::UMAS, Some(code)) => u8::try_from(code)
            .ok()
            .and_then(|c| Some((c, umas::program_function_name(c)?)))
            .map(|(c, name)| vec![("service", format!("UMAS {name} ({c:#04x})"))])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The ranges a request reads and writes (MB §6.1-6.4 reads, §6.5, §6.6, §6.11, §6.12, §6.16
/// writes, §6.17 both), for unit `unit` (TCP §3.1.3: the device behind a gateway).
fn emit_access(unit: u8, req: &Request, out: &mut Vec<Observation>) {
    let ranges = [(Operation::Read, req.read), (Operation::Write, req.write)];
    for (op, range) in ranges {
        if let Some(r) = range {
            out.push(Observation::Access(Access {
                op,
                unit: Some(unit.into()),
                area: r.table.name(),
                block: None,
                start: r.start.into(),
                count: r.quantity.into(),
            }));
        }
    }
}

/// Joins model parts in order, leaving out a part already contained in what came before
/// and replacing what came before by a part that contains it (compared without case and
/// spaces): "Modicon M340" + "BMX P34 2020" gives "Modicon M340 BMX P34 2020", "M340" +
/// "Modicon M340" gives "Modicon M340".
fn compose_model<'a>(parts: impl Iterator<Item = &'a str>) -> Option<String> {
    fn squash(s: &str) -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    }
    let mut model = String::new();
    for part in parts {
        if !model.is_empty() && squash(&model).contains(&squash(part)) {
            continue;
        }
        if !model.is_empty() && squash(part).contains(&squash(&model)) {
            model.clear();
        }
        if !model.is_empty() {
            model.push(' ');
        }
        model.push_str(part);
    }
    let capped: String = model.chars().take(super::text::MAX_TEXT_CHARS).collect();
    (!capped.is_empty()).then_some(capped)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
