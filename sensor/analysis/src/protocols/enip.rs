//! EtherNet/IP: the encapsulation protocol on TCP and UDP 44818 (ODVA CIP Vol. 2 chapter 2)
//! and class 0/1 implicit I/O on UDP 2222 (Vol. 2 §3-2).
//!
//! What it reports:
//! - every encapsulation command as a function code (ListIdentity as the `identify`
//!   operation);
//! - the CIP requests inside SendRRData / SendUnitData data items, including those embedded
//!   in Multiple Service Packets and Unconnected Sends, as operations (see
//!   [`cip::classify`]) with the CIP service code as the function code; those that change a
//!   device (restart, start/stop, configuration writes, firmware, files, program objects)
//!   carry the evidence of [`cip::ops::evidence`];
//! - firmware images and files written in pieces (Nonvolatile Storage, File object) as one
//!   more operation when the transfer ends, with its size and SHA-256 ([`cip::transfer`]);
//! - identity: the CIP Identity item of a ListIdentity reply (source "enip list
//!   identity") and the reply to Get Attributes All on the Identity object addressed to the
//!   node on the wire (source source::CIP_IDENTITY). A request routed by Unconnected Send to a
//!   module behind the node (a controller in a chassis slot) describes another device, so its
//!   answer is not reported as this address's identity;
//! - implicit I/O (UDP 2222) is recognised and otherwise left alone.
//!
//! Function codes share one number space per connection: encapsulation commands (0x0004,
//! 0x0063–0x0073) and CIP service codes (0x01–0x63) mostly do not overlap; where they do
//! (0x01, 0x04) the operation name tells them apart.
//!
//! Field layouts were cross-checked with Wireshark's `packet-enip.c` and Zeek ICSNPP
//! `enip-protocol.pac` on the corpus captures.

use super::cip::transfer::Transfers;
use super::cip::{self, Kind, Message};
use super::framing::{self, Delivery, Framing, Stream, Unframed};
use super::reader::Cursor;
use super::source;
use super::spec::ProtocolSpec;
use super::text::fingerprint;
use super::violations::Violations;
use super::{operation_or_code, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Details, Observation, Operation, Source};

/// Explicit messaging and discovery over TCP 44818.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "enip",
    transport: Transport::Tcp,
    ports: &[44818],
    probe,
    new,
};

/// ListIdentity / ListServices / ListInterfaces over UDP 44818 (often broadcast).
pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: "enip",
    transport: Transport::Udp,
    ports: &[44818],
    probe: probe_udp,
    new,
};

/// Class 0/1 implicit (I/O) messaging over UDP 2222.
pub static IO_SPEC: ProtocolSpec = ProtocolSpec {
    // Both ends of class-1 I/O use port 2222, so who is "server" says nothing: a name of its own
    // keeps the classifier from reading a controller role into it.
    name: "enip_io",
    transport: Transport::Udp,
    ports: &[2222],
    probe: probe_io,
    new: new_io,
};

const PROTOCOL: &str = "enip";
/// Encapsulation header length (Vol. 2 §2-3.1).
pub const HEADER_LEN: usize = 24;
/// Most command data one encapsulated message carries (Vol. 2 §2-3.1: 65 511 bytes).
pub const MAX_DATA: usize = 65_511;
/// CPF items looked at per message; real messages carry two to four.
const MAX_ITEMS: usize = 16;
/// Embedded requests of one Multiple Service Packet tracked for identity replies.
const MAX_TRACKED: u16 = 64;

/// Encapsulation commands (Vol. 2 table 2-3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command(pub u16);

impl Command {
    pub const NOP: Command = Command(0x0000);
    /// Reserved for legacy use; Rockwell tools still send it first (EIP-FirmwareChange.pcap).
    pub const LEGACY_1: Command = Command(0x0001);
    pub const LIST_SERVICES: Command = Command(0x0004);
    pub const LIST_IDENTITY: Command = Command(0x0063);
    pub const LIST_INTERFACES: Command = Command(0x0064);
    pub const REGISTER_SESSION: Command = Command(0x0065);
    pub const UNREGISTER_SESSION: Command = Command(0x0066);
    pub const SEND_RR_DATA: Command = Command(0x006F);
    pub const SEND_UNIT_DATA: Command = Command(0x0070);
    pub const INDICATE_STATUS: Command = Command(0x0072);
    pub const CANCEL: Command = Command(0x0073);
    pub const START_DTLS: Command = Command(0x00C8);

    /// Assigned or reserved for legacy use: codes above 0x00C8 are reserved for future
    /// expansion, so a stream carrying one is not EtherNet/IP (or lost its framing).
    pub fn is_plausible(self) -> bool {
        self.0 <= Self::START_DTLS.0
    }

    /// Commands of the current specification (used to find a header again after a gap).
    fn is_current(self) -> bool {
        matches!(
            self,
            Self::LIST_SERVICES
                | Self::LIST_IDENTITY
                | Self::LIST_INTERFACES
                | Self::REGISTER_SESSION
                | Self::UNREGISTER_SESSION
                | Self::SEND_RR_DATA
                | Self::SEND_UNIT_DATA
                | Self::INDICATE_STATUS
                | Self::CANCEL
        )
    }
}

/// Common Packet Format item type ids (Vol. 2 table 2-6.3).
pub mod item {
    pub const NULL_ADDRESS: u16 = 0x0000;
    pub const CIP_IDENTITY: u16 = 0x000C;
    pub const CONNECTED_ADDRESS: u16 = 0x00A1;
    pub const CONNECTED_DATA: u16 = 0x00B1;
    pub const UNCONNECTED_DATA: u16 = 0x00B2;
    pub const LIST_SERVICES: u16 = 0x0100;
    pub const SOCKADDR_O_T: u16 = 0x8000;
    pub const SOCKADDR_T_O: u16 = 0x8001;
    pub const SEQUENCED_ADDRESS: u16 = 0x8002;
}

/// Why a message is not well-formed EtherNet/IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnipError {
    #[error("encapsulation header with command {0:#06x} and length {1} is not EtherNet/IP")]
    BadHeader(u16, u16),
    #[error("datagram shorter than its encapsulation header and length")]
    Truncated,
    #[error("command data shorter than its fixed fields")]
    ShortCommand,
    #[error("CPF item runs past the end of the command data")]
    ItemOverrun,
    #[error("CIP identity shorter than its attributes")]
    ShortIdentity,
    #[error(transparent)]
    Cip(#[from] cip::CipError),
}

/// The 24-byte encapsulation header (Vol. 2 §2-3.1), all fields little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command: Command,
    /// Bytes of command data after the header.
    pub length: u16,
    pub session: u32,
    pub status: u32,
    /// Echoed unchanged in the reply (Vol. 2 §2-3.1), so it pairs a reply with its request.
    pub context: [u8; 8],
    pub options: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Option<Header> {
        let mut c = Cursor::new(b);
        Some(Header {
            command: Command(c.u16_le()?),
            length: c.u16_le()?,
            session: c.u32_le()?,
            status: c.u32_le()?,
            context: c.array()?,
            options: c.u32_le()?,
        })
    }

    fn plausible(&self) -> bool {
        self.command.is_plausible() && usize::from(self.length) <= MAX_DATA
    }
}

/// One Common Packet Format item (Vol. 2 §2-6): type id, length, data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    pub type_id: u16,
    pub data: &'a [u8],
}

/// The items of a CPF block: item count (UINT), then the items.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    c: Cursor<'a>,
    left: u16,
}

impl<'a> Items<'a> {
    pub fn parse(b: &'a [u8]) -> Option<Self> {
        let mut c = Cursor::new(b);
        let left = c.u16_le()?;
        Some(Items { c, left })
    }

    /// The declared item count.
    pub fn declared(&self) -> u16 {
        self.left
    }

    /// Bytes after the last item read so far.
    pub fn rest(&self) -> &'a [u8] {
        self.c.rest()
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, EnipError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = (|| {
            let type_id = self.c.u16_le()?;
            let len = self.c.u16_le()?;
            let data = self.c.take(usize::from(len))?;
            Some(Item { type_id, data })
        })();
        if item.is_none() {
            self.left = 0;
        }
        Some(item.ok_or(EnipError::ItemOverrun))
    }
}

// ---------------------------------------------------------------------------------------
// Recognition.

/// TCP: a header with a command of the current specification (or the legacy 0x0001 probe
/// some tools send first), zero options, and command data that fits the command.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let Some(h) = Header::parse(data) else {
        let cmd = data.get(..2).and_then(|b| b.try_into().ok());
        return match cmd.map(|b| Command(u16::from_le_bytes(b))) {
            Some(c) if !(c.is_current() || c == Command::LEGACY_1) => Probe::No,
            _ => Probe::NeedMore,
        };
    };
    if h.options != 0 || usize::from(h.length) > MAX_DATA {
        return Probe::No;
    }
    let body = data.get(HEADER_LEN..).unwrap_or_default();
    let body = body.get(..usize::from(h.length)).unwrap_or(body);
    if fits(&h, body) {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// Whether command data (possibly only its first bytes) fits the command (Vol. 2 §2-4).
fn fits(h: &Header, body: &[u8]) -> bool {
    match h.command {
        Command::LIST_IDENTITY | Command::LIST_SERVICES | Command::LIST_INTERFACES => {
            // Request: no data. Reply: an item count, then items.
            h.length == 0
                || (h.length >= 2
                    && Items::parse(body).is_none_or(|i| usize::from(i.declared()) <= MAX_ITEMS))
        }
        // Protocol version 1, options 0 (Vol. 2 §2-4.4).
        Command::REGISTER_SESSION => {
            h.length == 4
                && body
                    .get(..4)
                    .is_none_or(|b| b.get(..2) == Some(&[1, 0][..]))
        }
        Command::UNREGISTER_SESSION => h.length == 0,
        Command::SEND_RR_DATA | Command::SEND_UNIT_DATA => {
            // An error reply may carry no data (Vol. 2 §2-3.1 status).
            if h.status != 0 && h.length == 0 {
                return true;
            }
            let mut c = Cursor::new(body);
            h.length >= 8
                && c.u32_le().is_none_or(|iface| iface == 0)
                && c.skip(2).is_none_or(|_| {
                    let count = c.u16_le();
                    count.is_none_or(|n| (1..=MAX_ITEMS as u16).contains(&n))
                        && c.u16_le().is_none_or(|t| {
                            matches!(
                                t,
                                item::NULL_ADDRESS
                                    | item::CONNECTED_ADDRESS
                                    | item::SEQUENCED_ADDRESS
                            )
                        })
                })
        }
        Command::LEGACY_1 => h.length == 0 && h.session == 0 && h.status == 0,
        _ => false,
    }
}

/// UDP 44818: one whole message per datagram, of a command allowed on UDP (Vol. 2 §2-2:
/// ListIdentity, ListServices, ListInterfaces), whose items fill it exactly.
pub fn probe_udp(_dir: Direction, data: &[u8]) -> Probe {
    let Some(h) = Header::parse(data) else {
        return Probe::No;
    };
    let udp_command = matches!(
        h.command,
        Command::LIST_IDENTITY | Command::LIST_SERVICES | Command::LIST_INTERFACES
    );
    if !udp_command || h.options != 0 || HEADER_LEN + usize::from(h.length) != data.len() {
        return Probe::No;
    }
    let body = data.get(HEADER_LEN..).unwrap_or_default();
    if body.is_empty() {
        return Probe::Yes;
    }
    match Items::parse(body) {
        Some(items) if usize::from(items.declared()) <= MAX_ITEMS => {
            let mut items = items;
            let whole = items.by_ref().all(|i| i.is_ok());
            if whole && items.rest().is_empty() {
                Probe::Yes
            } else {
                Probe::No
            }
        }
        _ => Probe::No,
    }
}

/// UDP 2222: a bare CPF block (Vol. 2 §3-2.1): a sequenced (or connected) address item,
/// then a connected data item, filling the datagram exactly.
pub fn probe_io(_dir: Direction, data: &[u8]) -> Probe {
    let Some(mut items) = Items::parse(data) else {
        return Probe::No;
    };
    if !(2..=4).contains(&items.declared()) {
        return Probe::No;
    }
    let first = items.next().and_then(Result::ok);
    let second = items.next().and_then(Result::ok);
    let address = matches!(
        first,
        Some(Item { type_id: item::SEQUENCED_ADDRESS, data }) if data.len() == 8
    ) || matches!(
        first,
        Some(Item { type_id: item::CONNECTED_ADDRESS, data }) if data.len() == 4
    );
    let payload = matches!(
        second,
        Some(Item {
            type_id: item::CONNECTED_DATA,
            ..
        })
    );
    if address && payload && items.by_ref().all(|i| i.is_ok()) && items.rest().is_empty() {
        Probe::Yes
    } else {
        Probe::No
    }
}

fn new() -> Box<dyn Dissector> {
    Box::new(EnipDissector::default())
}

fn new_io() -> Box<dyn Dissector> {
    Box::new(EnipIoDissector)
}

/// Implicit I/O: cyclic process data with no operations or identity in it. Recognising the
/// flow is all that is wanted; nothing here is ever a violation.
#[derive(Debug, Default)]
pub struct EnipIoDissector;

impl Unframed for EnipIoDissector {
    fn deliver(&mut self, _: Delivery<'_>, _: &mut Vec<Observation>) {}
}

// ---------------------------------------------------------------------------------------
// Explicit messaging.

/// What pairs a CIP reply with its request: the sender context of SendRRData, or the
/// connected data item's sequence count of SendUnitData (echoed by class 3 targets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Context([u8; 8]),
    Sequence(u16),
}

/// Which parts of a pending request's reply carry an Identity object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Expect {
    /// The request itself is Get Attributes All on the Identity object.
    top: bool,
    /// Bit i set: item i of a top-level Multiple Service Packet is such a request.
    items: u64,
}

/// Requests awaiting a reply that matters (a few; replies come back quickly).
#[derive(Debug, Default)]
struct Pending {
    slots: [Option<(Key, Expect)>; 8],
    next: usize,
}

impl Pending {
    fn insert(&mut self, key: Key, expect: Expect) {
        let n = self.slots.len();
        if let Some(slot) = self.slots.get_mut(self.next % n) {
            *slot = Some((key, expect));
        }
        self.next = (self.next + 1) % n;
    }

    fn take(&mut self, key: Key) -> Option<Expect> {
        self.slots
            .iter_mut()
            .find(|s| s.is_some_and(|(k, _)| k == key))
            .and_then(Option::take)
            .map(|(_, e)| e)
    }
}

/// (operation, code, details) already reported on this flow.
#[derive(Debug, Default)]
struct Seen {
    keys: [u64; 32],
    len: usize,
}

impl Seen {
    /// True the first time `key` is offered (and always once the table is full).
    fn first(&mut self, key: u64) -> bool {
        let known = self.keys.get(..self.len).unwrap_or_default();
        if known.contains(&key) {
            return false;
        }
        if let Some(slot) = self.keys.get_mut(self.len) {
            *slot = key;
            self.len += 1;
        }
        true
    }
}

/// Reports an operation (or a bare code) once per flow and set of details, except the state
/// changes an alert needs each time: CPU stop and start, and restarts.
fn emit(
    seen: &mut Seen,
    op: Option<Operation>,
    code: u32,
    details: Details,
    out: &mut Vec<Observation>,
) {
    let every_time = matches!(
        op,
        Some(Operation::CpuStop | Operation::CpuStart | Operation::Restart)
    );
    let mut key = (u64::from(op.map_or(0, |o| o as u32 + 1)) << 16) | u64::from(code & 0xFFFF);
    for (k, v) in &details {
        key ^=
            (fingerprint(k.as_bytes()) ^ fingerprint(v.as_bytes()).rotate_left(17)).rotate_left(24);
    }
    if !every_time && !seen.first(key) {
        return;
    }
    out.push(operation_or_code(op, code, details));
}

/// Per-flow EtherNet/IP state (TCP session or UDP exchange).
#[derive(Debug, Default)]
pub struct EnipDissector {
    /// Per direction: looking for the next header after a gap or garbage.
    resync: [bool; 2],
    violations: Violations,
    pending: Pending,
    seen: Seen,
    /// Fingerprints of the identities reported ([ListIdentity, CIP Identity]).
    reported: [Option<u64>; 2],
    /// Firmware or file content being written in pieces.
    transfers: Transfers,
}

impl Stream for EnipDissector {
    type Error = EnipError;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        let Delivery { dir, data, ctx } = delivery;
        self.transfers.flush(out);
        if ctx.transport != Transport::Udp {
            return None;
        }
        // One message per datagram (Vol. 2 §2-2); trailing bytes are ignored.
        match Header::parse(data) {
            Some(h) if h.plausible() => {
                match data.get(HEADER_LEN..HEADER_LEN + usize::from(h.length)) {
                    Some(body) => self.message(dir, &h, body, out),
                    None => self.violation(out, EnipError::Truncated),
                }
            }
            Some(h) => self.violation(out, EnipError::BadHeader(h.command.0, h.length)),
            None => self.violation(out, EnipError::Truncated),
        }
        Some(data.len())
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<EnipError> {
        framing::step(&mut self.resync[dir.index()], data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: EnipError, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        msg: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let (Some(h), Some(body)) = (Header::parse(msg), msg.get(HEADER_LEN..)) else {
            return None;
        };
        self.message(dir, &h, body, out);
        Some(msg.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
        // Requests travel to the server: a piece of a transfer may be what was lost.
        if dir == Direction::ToServer {
            self.transfers.gap();
        }
    }
}

/// Frames the encapsulated message at the start of a stream by its header (Vol. 2 §2-3).
fn frame(data: &[u8]) -> Framing<EnipError> {
    let Some(h) = Header::parse(data) else {
        return Framing::Incomplete { needed: HEADER_LEN };
    };
    if !h.plausible() {
        return Framing::broken(1, EnipError::BadHeader(h.command.0, h.length));
    }
    let len = HEADER_LEN + usize::from(h.length);
    if data.len() >= len {
        Framing::Complete { len }
    } else {
        Framing::Incomplete { needed: len }
    }
}

/// The resync scan: the next plausible encapsulation header, a current command, zero
/// options, a length within bounds and a status that fits the defined codes. With none, keeps
/// the tail: a header may straddle the next delivery.
fn boundary(data: &[u8]) -> Framing<EnipError> {
    let found = (0..data.len().saturating_sub(HEADER_LEN - 1)).find(|&i| {
        data.get(i..).and_then(Header::parse).is_some_and(|h| {
            h.command.is_current()
                && h.options == 0
                && h.status <= 0xFF
                && usize::from(h.length) <= MAX_DATA
        })
    });
    match found {
        Some(0) => frame(data),
        Some(skip) => Framing::skip(skip),
        None if data.len() >= HEADER_LEN => Framing::skip(data.len() - (HEADER_LEN - 1)),
        None => Framing::Incomplete { needed: HEADER_LEN },
    }
}

impl EnipDissector {
    fn violation(&mut self, out: &mut Vec<Observation>, e: EnipError) {
        self.violations.record(PROTOCOL, e, out);
    }

    /// One whole encapsulated message.
    fn message(&mut self, dir: Direction, h: &Header, body: &[u8], out: &mut Vec<Observation>) {
        let code = u32::from(h.command.0);
        let result = match h.command {
            Command::LIST_IDENTITY => {
                emit(
                    &mut self.seen,
                    Some(Operation::Identify),
                    code,
                    Vec::new(),
                    out,
                );
                if body.is_empty() {
                    Ok(())
                } else {
                    self.list_identity(dir, body, out)
                }
            }
            Command::SEND_RR_DATA | Command::SEND_UNIT_DATA => {
                emit(&mut self.seen, None, code, Vec::new(), out);
                // A reply with a non-zero status need not carry command data.
                if h.status == 0 {
                    self.send_data(dir, h, body, out)
                } else {
                    Ok(())
                }
            }
            _ => {
                emit(&mut self.seen, None, code, Vec::new(), out);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.violation(out, e);
        }
    }

    /// ListIdentity reply (Vol. 2 §2-4.2): CPF items; the CIP Identity item (table 2-4.4)
    /// holds protocol version, a sockaddr, the Identity attributes and the state.
    fn list_identity(
        &mut self,
        dir: Direction,
        body: &[u8],
        out: &mut Vec<Observation>,
    ) -> Result<(), EnipError> {
        let items = Items::parse(body).ok_or(EnipError::ShortCommand)?;
        for it in items.take(MAX_ITEMS) {
            let it = it?;
            if it.type_id != item::CIP_IDENTITY {
                continue;
            }
            let mut c = Cursor::new(it.data);
            // Encapsulation protocol version (UINT), then sin_family, sin_port, sin_addr,
            // sin_zero in network byte order (16 bytes).
            c.skip(2 + 16).ok_or(EnipError::ShortIdentity)?;
            let id = cip::Identity::read(&mut c).ok_or(EnipError::ShortIdentity)?;
            self.report_identity(0, it.data, &id, dir, source::ENIP_LIST_IDENTITY, out);
        }
        Ok(())
    }

    fn report_identity(
        &mut self,
        slot: usize,
        raw: &[u8],
        id: &cip::Identity<'_>,
        dir: Direction,
        source: Source,
        out: &mut Vec<Observation>,
    ) {
        let print = Some(fingerprint(raw));
        if let Some(last) = self.reported.get_mut(slot) {
            if *last == print {
                return;
            }
            *last = print;
        }
        id.emit(dir.sender(), source, out);
    }

    /// SendRRData / SendUnitData (Vol. 2 §2-4.7, §2-4.8): interface handle (0 = CIP),
    /// timeout, then CPF items; the data item carries the CIP message.
    fn send_data(
        &mut self,
        dir: Direction,
        h: &Header,
        body: &[u8],
        out: &mut Vec<Observation>,
    ) -> Result<(), EnipError> {
        let mut c = Cursor::new(body);
        let iface = c.u32_le().ok_or(EnipError::ShortCommand)?;
        c.u16_le().ok_or(EnipError::ShortCommand)?;
        if iface != 0 {
            return Ok(());
        }
        let items = Items::parse(c.rest()).ok_or(EnipError::ShortCommand)?;
        for it in items.take(MAX_ITEMS) {
            let it = it?;
            match it.type_id {
                item::UNCONNECTED_DATA => self.cip(dir, Key::Context(h.context), it.data, out)?,
                // Connected data of a class 3 connection starts with a sequence count
                // (Vol. 2 §3-2.2).
                item::CONNECTED_DATA => {
                    let mut d = Cursor::new(it.data);
                    let seq = d.u16_le().ok_or(EnipError::ShortCommand)?;
                    self.cip(dir, Key::Sequence(seq), d.rest(), out)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// One CIP message: requests become operations; replies are only read for identity.
    fn cip(
        &mut self,
        dir: Direction,
        key: Key,
        msg: &[u8],
        out: &mut Vec<Observation>,
    ) -> Result<(), EnipError> {
        match cip::parse(msg)? {
            Message::Request(req) => {
                let (seen, transfers) = (&mut self.seen, &mut self.transfers);
                let walked = cip::walk_requests(&req, &mut |f| {
                    if transfers.request(&f, out) {
                        // A piece of a transfer: its code is listed, the operation comes
                        // once, when the transfer ends.
                        emit(seen, None, u32::from(f.service), Vec::new(), out);
                        return;
                    }
                    let op = match f.kind {
                        Kind::Op(op) => Some(op),
                        _ => None,
                    };
                    emit(seen, op, u32::from(f.service), cip::ops::evidence(&f), out);
                });
                let expect = identity_requests(&req);
                if expect != Expect::default() {
                    self.pending.insert(key, expect);
                }
                walked?;
            }
            Message::Reply(rep) => {
                let Some(expect) = self.pending.take(key) else {
                    return Ok(());
                };
                if expect.top
                    && rep.service == cip::service::GET_ATTRIBUTES_ALL
                    && rep.general_status == 0
                {
                    self.cip_identity(dir, rep.data, out)?;
                }
                // Status 0x1E: one or more embedded services failed; the others stand.
                if expect.items != 0
                    && rep.service == cip::service::MULTIPLE_SERVICE_PACKET
                    && matches!(rep.general_status, 0x00 | 0x1E)
                {
                    let replies = cip::MultipleService::parse(rep.data)?;
                    for i in 0..replies.len().min(MAX_TRACKED) {
                        if expect.items & (1 << i) == 0 {
                            continue;
                        }
                        if let Message::Reply(r) = cip::parse(replies.item(i)?)? {
                            if r.service == cip::service::GET_ATTRIBUTES_ALL
                                && r.general_status == 0
                            {
                                self.cip_identity(dir, r.data, out)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn cip_identity(
        &mut self,
        dir: Direction,
        data: &[u8],
        out: &mut Vec<Observation>,
    ) -> Result<(), EnipError> {
        let id = cip::Identity::read(&mut Cursor::new(data)).ok_or(EnipError::ShortIdentity)?;
        self.report_identity(1, data, &id, dir, source::CIP_IDENTITY, out);
        Ok(())
    }
}

/// Get Attributes All on the Identity object addressed to this node (not routed): the
/// request itself, or items of a top-level Multiple Service Packet.
fn identity_requests(req: &cip::Request<'_>) -> Expect {
    let is_identity_all = |r: &cip::Request<'_>| {
        r.service == cip::service::GET_ATTRIBUTES_ALL
            && r.path.class() == Some(cip::class::IDENTITY)
    };
    let mut expect = Expect {
        top: is_identity_all(req),
        items: 0,
    };
    if req.service == cip::service::MULTIPLE_SERVICE_PACKET {
        if let Ok(items) = cip::MultipleService::parse(req.data) {
            for i in 0..items.len().min(MAX_TRACKED) {
                let inner = items.item(i).ok().and_then(|b| cip::parse_request(b).ok());
                if inner.is_some_and(|r| is_identity_all(&r)) {
                    expect.items |= 1 << i;
                }
            }
        }
    }
    expect
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
