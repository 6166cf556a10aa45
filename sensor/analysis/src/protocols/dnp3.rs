//! DNP3 (IEEE 1815-2012) over TCP and UDP port 20000.
//!
//! Three layers, each checked (read alongside Wireshark's `packet-dnp.c` for the object and
//! device attribute layouts, opendnp3's `TransportRx.cpp` for segment reassembly and Zeek's
//! `dnp3-protocol.pac`; no code taken from them):
//! - link layer (IEEE 1815-2012 clause 9): frames of `0x05 0x64`, length, control,
//!   destination, source and a header CRC, then user data in blocks of up to 16 octets each followed by its CRC. Every CRC
//!   is verified; a CRC error is a `ProtocolViolation` "crc" and the frame is dropped;
//! - transport function (clause 8): one header octet (FIN, FIR, sequence) per link frame; the
//!   segments of an application fragment are reassembled, up to [`MAX_FRAGMENT`] octets;
//! - application layer (clause 4): function code, IIN and object headers ([`app`]).
//!
//! What it reports:
//! - every request's function code as an operation (read, write, control, restart, cpu_start,
//!   cpu_stop, time_sync, file_transfer, config_change), responses and confirmations as
//!   function codes (130 is an unsolicited response: the outstation spoke first). Functions
//!   that change the outstation carry their evidence ([`ops`]): their name ("cold restart",
//!   "save configuration"), for a write of g50 the time set, for file transfers the file and
//!   what is done with it (`file_op` read, write, delete, open, close); reads and writes of
//!   file data (g70v5) are file transfers, not reads and writes;
//! - each side's link address: Description "dnp3 address N", source source::DNP3_LINK_ADDRESS (the
//!   sender's source address, and the receiver's destination address unless it is broadcast);
//! - device attributes (group 0) in an outstation's responses: software version, product name,
//!   manufacturer, serial number and user-assigned name, source source::DNP3_DEVICE_ATTRIBUTES.
//!
//! - the outstation's internal indications (IIN, clause 4) that say something about the
//!   device, once per flow each, as Status facts about the sender of the response: IIN1.7
//!   "device_restart", IIN1.6 "device_trouble", IIN1.4 "need_time", IIN2.5 "config_corrupt"
//!   (source source::DNP3_IIN). The outstation saying it restarted is not an operation: the
//!   master's `restart` operation is only its cold/warm restart request;
//! - the points a master selects or operates (functions 3-6): group 12 (CROB, pattern
//!   control) as area "binary_output", group 41 as "analog_output", per destination link
//!   address (`Access`, op control).

pub mod app;
pub mod ops;

use self::app::{attribute, function, Attribute, Visitor};
use self::ops::FileObject;
use super::framing::{self, Delivery, Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::text::{clean, fingerprint};
use super::violations::Violations;
use super::{Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Access, Details, Field, Observation, Operation, Subject};

/// DNP3 over TCP (IEEE 1815-2012, annex on IP networks: port 20000).
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "dnp3",
    transport: Transport::Tcp,
    ports: &[20000],
    probe,
    new,
};

/// DNP3 over UDP (IEEE 1815-2012, annex on IP networks: port 20000).
pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: "dnp3",
    transport: Transport::Udp,
    ports: &[20000],
    probe,
    new,
};

const PROTOCOL: &str = "dnp3";
/// Link frame start octets (clause 9, frame format).
const START: [u8; 2] = [0x05, 0x64];
/// Start, length, control, destination, source, header CRC.
const HEADER_LEN: usize = 10;
/// The length octet counts control, addresses and user data: at least 5 (clause 9).
const MIN_LENGTH: u8 = 5;
/// User data octets per CRC-protected block (clause 9).
const BLOCK: usize = 16;
/// Largest user data of one frame: 255 - 5.
const MAX_USER_DATA: usize = 250;
/// Largest application fragment reassembled; the standard's usual maximum (clause 4 lets
/// devices to configure it, 2048 is opendnp3's default). A longer fragment is still reported
/// from its first segment, only its objects past the cap are not walked.
pub const MAX_FRAGMENT: usize = 2048;
/// Link addresses reported per side; a TCP gateway may front several outstations.
const MAX_ADDRESSES: usize = 4;
/// Distinct device attribute values reported per flow.
const MAX_ATTRIBUTES: usize = 16;
/// Runs of consecutive control points reported per fragment; a command naming more
/// scattered points than this has the rest left out.
const MAX_POINT_RUNS: usize = 8;

/// Internal indications reported as Status facts, with their value (clause 4, IIN bits).
const IIN_FACTS: [(u16, &str); 4] = [
    (app::iin::DEVICE_RESTART, "device_restart"),
    (app::iin::DEVICE_TROUBLE, "device_trouble"),
    (app::iin::NEED_TIME, "need_time"),
    (app::iin::CONFIG_CORRUPT, "config_corrupt"),
];

/// Link control function codes carrying user data, from a primary station (clause 9).
const LINK_CONFIRMED_USER_DATA: u8 = 3;
const LINK_UNCONFIRMED_USER_DATA: u8 = 4;

/// CRC-16/DNP (clause 9: polynomial 0x3D65, reflected, initial 0, final complement), one
/// table entry per octet.
const CRC_TABLE: [u16; 256] = crc_table();

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            // 0xA6BC is 0x3D65 bit-reversed.
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA6BC
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC-16/DNP of `data`.
pub fn crc(data: &[u8]) -> u16 {
    !data.iter().fold(0u16, |crc, &b| {
        (crc >> 8) ^ CRC_TABLE[usize::from((crc ^ u16::from(b)) as u8)]
    })
}

/// True when the two octets after `data` hold its CRC, low octet first.
fn crc_ok(data: &[u8], check: &[u8]) -> bool {
    check == crc(data).to_le_bytes()
}

/// A link header (clause 9) whose CRC is correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkHeader {
    pub length: u8,
    /// DIR 0x80 (from the master), PRM 0x40 (primary), FCB/FCV, function code 0x0f.
    pub control: u8,
    pub destination: u16,
    pub source: u16,
}

impl LinkHeader {
    /// Reads the ten header octets; `None` when the start octets or the CRC are wrong.
    pub fn parse(h: &[u8]) -> Option<LinkHeader> {
        let h: &[u8; HEADER_LEN] = h.get(..HEADER_LEN)?.try_into().ok()?;
        let [s0, s1, length, control, d0, d1, r0, r1, c0, c1] = *h;
        if [s0, s1] != START || !crc_ok(&h[..8], &[c0, c1]) {
            return None;
        }
        Some(LinkHeader {
            length,
            control,
            destination: u16::from_le_bytes([d0, d1]),
            source: u16::from_le_bytes([r0, r1]),
        })
    }

    /// Octets of user data (the length counts control and both addresses too).
    pub fn user_data_len(&self) -> usize {
        usize::from(self.length.saturating_sub(MIN_LENGTH))
    }

    /// Octets of the whole frame on the wire, CRCs included.
    pub fn frame_len(&self) -> usize {
        let user = self.user_data_len();
        HEADER_LEN + user + 2 * user.div_ceil(BLOCK)
    }

    /// PRM set and a user-data function: the frame carries a transport segment.
    pub fn carries_user_data(&self) -> bool {
        self.control & 0x40 != 0
            && matches!(
                self.control & 0x0f,
                LINK_CONFIRMED_USER_DATA | LINK_UNCONFIRMED_USER_DATA
            )
    }
}

/// Content probe: link start octets and a correct header CRC (a wrong length is then a
/// violation of DNP3, not another protocol).
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let head = data.len().min(START.len());
    if data.get(..head) != START.get(..head) {
        return Probe::No;
    }
    if data.len() < HEADER_LEN {
        return Probe::NeedMore;
    }
    match LinkHeader::parse(data) {
        Some(_) => Probe::Yes,
        None => Probe::No,
    }
}

fn new() -> Box<dyn Dissector> {
    Box::<Dnp3Dissector>::default()
}

/// Reassembly of one direction's application fragment (clause 8).
#[derive(Default)]
struct Reassembly {
    buf: Vec<u8>,
    /// Sequence number the next segment must carry; `None` when no fragment is open.
    next_seq: Option<u8>,
    /// Link addresses of the segments (a fragment comes from one source to one destination).
    addresses: (u16, u16),
    /// The fragment grew past [`MAX_FRAGMENT`]: later segments are dropped.
    overflow: bool,
}

/// Per-direction state.
#[derive(Default)]
struct Side {
    /// Junk was reported, or a gap left the stream mid-frame: skip to the next valid frame
    /// without reporting what is skipped.
    lost_sync: bool,
    fragment: Reassembly,
    /// Link addresses already reported for the sender of this direction.
    addresses: [Option<u16>; MAX_ADDRESSES],
}

/// Per-flow DNP3 state.
#[derive(Default)]
pub struct Dnp3Dissector {
    /// Indexed by [`side`]: `[to server, to client]`.
    sides: [Side; 2],
    violations: Violations,
    /// Fingerprints of device attribute facts already reported.
    attributes: [u64; MAX_ATTRIBUTES],
    attributes_len: usize,
    /// IIN bits already reported (of [`IIN_FACTS`]).
    iin_reported: u16,
    /// Names of the files open on this flow, for the evidence of file transfers.
    files: ops::Files,
}

/// Why DNP3 traffic is malformed: the link layer (clause 9) or the application layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Dnp3Error {
    #[error("no link start 0x0564")]
    NoStart,
    /// A header or block CRC does not check (clause 9).
    #[error("crc")]
    Crc,
    #[error("link length below 5")]
    Length,
    #[error("link frame truncated at end of datagram")]
    DatagramTruncated,
    #[error(transparent)]
    App(#[from] app::AppError),
}

/// Frames the link frame at the start of `data` (clause 9): a start 0x0564, a header whose
/// CRC checks and a length of at least 5. Junk before a start is passed over.
fn frame(data: &[u8]) -> Framing<Dnp3Error> {
    if !data.starts_with(&START) {
        if data == [START[0]] {
            return Framing::Incomplete {
                needed: START.len(),
            };
        }
        // Skip to the next possible start (a lone 0x05 at the end may begin one).
        let skip = data
            .windows(2)
            .position(|w| w == START)
            .unwrap_or(data.len() - usize::from(data.ends_with(&[START[0]])));
        return Framing::broken(skip.max(1), Dnp3Error::NoStart);
    }
    let Some(head) = data.get(..HEADER_LEN) else {
        return Framing::Incomplete { needed: HEADER_LEN };
    };
    let Some(header) = LinkHeader::parse(head) else {
        // Clause 9: a frame with a bad header CRC is discarded; look for the next start.
        return Framing::broken(START.len(), Dnp3Error::Crc);
    };
    if header.length < MIN_LENGTH {
        return Framing::broken(HEADER_LEN, Dnp3Error::Length);
    }
    match data.len() >= header.frame_len() {
        true => Framing::Complete {
            len: header.frame_len(),
        },
        false => Framing::Incomplete {
            needed: header.frame_len(),
        },
    }
}

impl Stream for Dnp3Dissector {
    type Error = Dnp3Error;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        let Delivery { dir, data, ctx } = delivery;
        if ctx.transport != Transport::Udp {
            return None;
        }
        // A datagram holds whole frames (IEEE 1815-2012, annex on IP networks).
        let pos = framing::parse(self, dir, data, out);
        if pos < data.len() && !self.sides[dir.index()].lost_sync {
            self.violation(out, Dnp3Error::DatagramTruncated);
        }
        // Each datagram is framed on its own: loss of sync does not carry over (a
        // fragment's transport segments still may, one per datagram).
        self.sides[dir.index()].lost_sync = false;
        Some(data.len())
    }

    fn framing(&mut self, _dir: Direction, data: &[u8]) -> Framing<Dnp3Error> {
        frame(data)
    }

    fn on_broken(&mut self, dir: Direction, error: Dnp3Error, out: &mut Vec<Observation>) {
        self.junk(dir, out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        frame: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.link_frame(dir, frame, out);
        Some(frame.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let s = &mut self.sides[dir.index()];
        s.lost_sync = true;
        s.fragment.next_seq = None;
    }
}

impl Dnp3Dissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: Dnp3Error) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// Reports junk once per loss of sync (and never right after a gap).
    fn junk(&mut self, dir: Direction, out: &mut Vec<Observation>, reason: Dnp3Error) {
        let s = &mut self.sides[dir.index()];
        if s.lost_sync {
            return;
        }
        s.lost_sync = true;
        self.violation(out, reason);
    }

    /// One whole link frame (its header checked by [`frame`]).
    fn link_frame(&mut self, dir: Direction, frame: &[u8], out: &mut Vec<Observation>) {
        let Some(header) = frame.get(..HEADER_LEN).and_then(LinkHeader::parse) else {
            return;
        };
        self.sides[dir.index()].lost_sync = false;
        // Strip the block CRCs (clause 9), verifying each.
        let mut user = [0u8; MAX_USER_DATA];
        let mut n = 0;
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        for block in body.chunks(BLOCK + 2) {
            let (payload, check) = block.split_at(block.len().saturating_sub(2));
            if !crc_ok(payload, check) {
                self.violation(out, Dnp3Error::Crc);
                self.sides[dir.index()].fragment.next_seq = None;
                return;
            }
            if let Some(dst) = user.get_mut(n..n + payload.len()) {
                dst.copy_from_slice(payload);
                n += payload.len();
            }
        }
        self.link_addresses(dir, &header, out);
        if header.carries_user_data() {
            if let Some(segment) = user.get(..n) {
                self.transport(dir, &header, segment, out);
            }
        }
    }

    /// Reports the sender's source address and the receiver's destination address.
    fn link_addresses(&mut self, dir: Direction, h: &LinkHeader, out: &mut Vec<Observation>) {
        // 0xFFF0-0xFFFB are reserved, 0xFFFC self-address, 0xFFFD-0xFFFF broadcast (clause 9).
        let individual = |a: u16| a < 0xfff0;
        let receiver = match dir {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        };
        for (d, address) in [(dir, h.source), (receiver, h.destination)] {
            if !individual(address) {
                continue;
            }
            let known = &mut self.sides[d.index()].addresses;
            if known.contains(&Some(address)) {
                continue;
            }
            let Some(slot) = known.iter_mut().find(|a| a.is_none()) else {
                continue;
            };
            *slot = Some(address);
            out.push(Observation::Identity {
                subject: d.sender(),
                field: Field::Description,
                value: format!("dnp3 address {address}"),
                source: source::DNP3_LINK_ADDRESS,
            });
        }
    }

    /// Transport function (clause 8): FIN 0x80, FIR 0x40, sequence 0x3f, then fragment octets.
    fn transport(
        &mut self,
        dir: Direction,
        h: &LinkHeader,
        segment: &[u8],
        out: &mut Vec<Observation>,
    ) {
        let Some((&th, payload)) = segment.split_first() else {
            return;
        };
        let (fin, fir, seq) = (th & 0x80 != 0, th & 0x40 != 0, th & 0x3f);
        let addresses = (h.source, h.destination);
        let r = &mut self.sides[dir.index()].fragment;
        if fir && fin {
            r.next_seq = None;
            self.fragment(dir, h.destination, payload, true, out);
            return;
        }
        if fir {
            // A new fragment replaces any unfinished one (clause 8).
            r.buf.clear();
            r.buf.extend_from_slice(payload);
            r.next_seq = Some((seq + 1) & 0x3f);
            r.addresses = addresses;
            r.overflow = false;
            return;
        }
        if r.next_seq != Some(seq) || r.addresses != addresses {
            // Out of sequence or from elsewhere: the fragment is lost (clause 8).
            r.next_seq = None;
            return;
        }
        r.next_seq = Some((seq + 1) & 0x3f);
        if r.buf.len() + payload.len() > MAX_FRAGMENT {
            r.overflow = true;
        } else if !r.overflow {
            r.buf.extend_from_slice(payload);
        }
        if fin {
            r.next_seq = None;
            let buf = std::mem::take(&mut r.buf);
            let complete = !r.overflow;
            let destination = r.addresses.1;
            self.fragment(dir, destination, &buf, complete, out);
            // Keep the allocation for the next fragment of this direction.
            let r = &mut self.sides[dir.index()].fragment;
            r.buf = buf;
            r.buf.clear();
        }
    }

    /// One application fragment to link address `destination`; `complete` is false when the
    /// reassembly cap cut it short.
    fn fragment(
        &mut self,
        dir: Direction,
        destination: u16,
        fragment: &[u8],
        complete: bool,
        out: &mut Vec<Observation>,
    ) {
        let (header, objects) = match app::parse_header(fragment) {
            Ok(x) => x,
            Err(e) => {
                self.violation(out, Dnp3Error::App(e));
                return;
            }
        };
        let code = header.function;
        let mut found = Found {
            controls: matches!(code, function::SELECT..=function::DIRECT_OPERATE_NR),
            clock: code == function::WRITE,
            file_objects: matches!(
                code,
                function::READ | function::WRITE | function::OPEN_FILE
                    ..=function::ABORT_FILE | function::RESPONSE | function::UNSOLICITED_RESPONSE
            ),
            ..Found::default()
        };
        if let Some(mode) = app::walk_mode(code) {
            if let Err(e) = app::walk_objects(objects, mode, &mut found) {
                if complete {
                    self.violation(out, Dnp3Error::App(e));
                }
            }
        }
        if app::is_response(code) {
            self.files.response(found.file);
        }
        match app::operation(code) {
            // Reads and writes of file data (g70v5) are file transfers (clause 4, file
            // transfer; Annex A group 70).
            Some(Operation::Read | Operation::Write) if found.file_header => {
                let details = self.files.request(code, found.file);
                push_op(out, Operation::FileTransfer, code, details);
            }
            // A write of g50 sets the clock (clause 4, time sync); a write with other objects
            // is a write as well.
            Some(Operation::Write) if found.time => {
                let mut details = vec![
                    ("service", "write time and date".to_string()),
                    ("setting", "clock".to_string()),
                ];
                details.extend(
                    found
                        .time_value
                        .and_then(ops::time_value)
                        .map(|v| ("value", v)),
                );
                push_op(out, Operation::TimeSync, code, details);
                if found.other {
                    push_op(out, Operation::Write, code, Vec::new());
                }
            }
            Some(Operation::FileTransfer) => {
                let details = self.files.request(code, found.file);
                push_op(out, Operation::FileTransfer, code, details);
            }
            Some(op) => push_op(out, op, code, details(code, op)),
            None => out.push(Observation::FunctionCode(u32::from(code))),
        }
        if matches!(code, function::RESPONSE | function::UNSOLICITED_RESPONSE) {
            self.attributes(dir.sender(), &found, out);
        }
        if let Some(iin) = header.iin {
            self.iin(dir.sender(), iin, out);
        }
        // The operated points (clause 4, controls), for the addressed outstation.
        for &(group, start, stop) in found.runs.get(..found.runs_len).unwrap_or_default() {
            let area = match group {
                app::GROUP_BINARY_COMMAND => "binary_output",
                _ => "analog_output",
            };
            out.push(Observation::Access(Access {
                op: Operation::Control,
                unit: Some(destination.into()),
                area,
                block: None,
                start,
                count: (stop - start).saturating_add(1),
            }));
        }
    }

    /// The internal indications of a response that describe the outstation (clause 4:
    /// IIN1.7 device restart, IIN1.6 device trouble, IIN1.4 need time, IIN2.5 configuration
    /// corrupt), each once per flow.
    fn iin(&mut self, subject: Subject, iin: u16, out: &mut Vec<Observation>) {
        for (bit, value) in IIN_FACTS {
            if iin & bit == 0 || self.iin_reported & bit != 0 {
                continue;
            }
            self.iin_reported |= bit;
            out.push(Observation::Identity {
                subject,
                field: Field::Status,
                value: value.to_string(),
                source: source::DNP3_IIN,
            });
        }
    }

    /// Device attributes from an outstation's response (Annex A, group 0).
    fn attributes(&mut self, subject: Subject, found: &Found<'_>, out: &mut Vec<Observation>) {
        // The user-assigned name names the device; the user-assigned id stands in without one.
        let hostname = found.name.or(found.id);
        let facts = [
            (Field::Firmware, found.software),
            (Field::Model, found.product),
            (Field::Vendor, found.manufacturer),
            (Field::Serial, found.serial),
            (Field::Hostname, hostname),
        ];
        for (field, raw) in facts {
            let Some(value) = raw.and_then(clean) else {
                continue;
            };
            let key = fingerprint(value.as_bytes()) ^ field as u64;
            let seen = self
                .attributes
                .get(..self.attributes_len)
                .unwrap_or_default();
            if seen.contains(&key) {
                continue;
            }
            if let Some(slot) = self.attributes.get_mut(self.attributes_len) {
                *slot = key;
                self.attributes_len += 1;
            } else {
                continue;
            }
            out.push(Observation::Identity {
                subject,
                field,
                value,
                source: source::DNP3_DEVICE_ATTRIBUTES,
            });
        }
    }
}

fn push_op(out: &mut Vec<Observation>, op: Operation, code: u8, details: Details) {
    out.push(Observation::Operation {
        op,
        function_code: Some(u32::from(code)),
        details,
    });
}

/// The evidence of a function that changes the outstation (restarts, start and stop of
/// applications, configuration, time procedures): its name, and what a configuration change
/// changes. Nothing for routine functions.
fn details(code: u8, op: Operation) -> Details {
    let Some(service) = ops::service(code) else {
        return Vec::new();
    };
    let mut d = vec![("service", service.to_string())];
    if op == Operation::ConfigChange {
        d.push(("setting", "configuration".to_string()));
    }
    d
}

/// What the object walk of one fragment found.
#[derive(Default)]
struct Found<'a> {
    /// A group 50 (time and date) object.
    time: bool,
    /// The fragment is a write: keep the time its g50 object sets.
    clock: bool,
    /// The first g50v1/g50v3 object's octets.
    time_value: Option<&'a [u8]>,
    /// The fragment may carry file objects: read them.
    file_objects: bool,
    /// A group 70 (file control) object header.
    file_header: bool,
    /// The first g70 object.
    file: Option<FileObject<'a>>,
    /// Any other object.
    other: bool,
    software: Option<&'a [u8]>,
    product: Option<&'a [u8]>,
    manufacturer: Option<&'a [u8]>,
    serial: Option<&'a [u8]>,
    name: Option<&'a [u8]>,
    id: Option<&'a [u8]>,
    /// The fragment is a control request: collect its command points.
    controls: bool,
    /// (group, first point, last point) of runs of consecutive command points.
    runs: [(u8, u32, u32); MAX_POINT_RUNS],
    runs_len: usize,
}

impl<'a> Visitor<'a> for Found<'a> {
    fn object_header(&mut self, group: u8, _variation: u8) {
        if group == app::GROUP_TIME {
            self.time = true;
        } else {
            self.other = true;
        }
        self.file_header |= group == app::GROUP_FILE;
    }

    fn wants_data(&self, group: u8) -> bool {
        match group {
            app::GROUP_TIME => self.clock,
            app::GROUP_FILE => self.file_objects,
            _ => false,
        }
    }

    fn data(&mut self, group: u8, variation: u8, data: &'a [u8]) {
        match group {
            // g50v1 time and date, g50v3 last recorded time (Annex A).
            app::GROUP_TIME if matches!(variation, 1 | 3) => {
                self.time_value.get_or_insert(data);
            }
            app::GROUP_FILE if self.file.is_none() => {
                self.file = FileObject::parse(variation, data)
            }
            _ => {}
        }
    }

    fn attribute(&mut self, a: Attribute<'a>) {
        // Only strings name things; a numeric attribute under these variations is not text.
        if !matches!(a.data_type, attribute::VSTR | attribute::OSTR) {
            return;
        }
        let slot = match a.variation {
            attribute::SOFTWARE_VERSION => &mut self.software,
            attribute::PRODUCT_NAME => &mut self.product,
            attribute::MANUFACTURER_NAME => &mut self.manufacturer,
            attribute::SERIAL_NUMBER => &mut self.serial,
            attribute::USER_ASSIGNED_NAME => &mut self.name,
            attribute::USER_ASSIGNED_ID => &mut self.id,
            _ => return,
        };
        slot.get_or_insert(a.value);
    }

    fn wants_points(&self, group: u8) -> bool {
        self.controls && matches!(group, app::GROUP_BINARY_COMMAND | app::GROUP_ANALOG_COMMAND)
    }

    fn points(&mut self, group: u8, _variation: u8, start: u32, stop: u32) {
        let n = self.runs_len;
        if let Some(last) = n.checked_sub(1).and_then(|i| self.runs.get_mut(i)) {
            if last.0 == group && last.2.checked_add(1) == Some(start) {
                last.2 = stop;
                return;
            }
        }
        if let Some(slot) = self.runs.get_mut(n) {
            *slot = (group, start, stop);
            self.runs_len += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
