//! PROFINET IO: the Context Manager (CM) that sets up and serves application relations (ARs)
//! over DCE/RPC connectionless on UDP (port 34964 for the first call, dynamic ports after), and
//! the real-time frames of the ARs on Ethernet (ethertype 0x8892, [`rt`]). IEC 61158-6-10:2019
//! (its RPC mapping in §4.10.3, the coding of the PNIO fields and blocks by name); DCE/RPC CL
//! from The Open Group C706 ch. 12. Read against
//! Wireshark's `packet-dcerpc.c`, `plugins/epan/profinet/packet-dcerpc-pn-io.c` and
//! `packet-pn-rt.c`, and Zeek ICSNPP `icsnpp-profinet-io-cm`; written from the standards' text.
//!
//! Layers: the CL header ([`rpc::parse`]: version 4, packet type, drep, object, interface and
//! activity UUIDs, opnum, fragment fields), the NDR header ([`rpc::Ndr`]), then PNIO blocks
//! ([`blocks`], [`connect`]). A call to a PNIO interface (device DEA00001, controller
//! DEA00002, supervisor DEA00003, parameter server DEA00004) is PROFINET IO on any port: the
//! controller calls a device's port 34964, the device answers from a port of its own and later
//! calls go there, and the device calls the controller back for ApplicationReady. Each of those
//! is a flow of its own, recognised by content ([`probe`]); an answer marks its sender as the
//! flow's server.
//!
//! What it reports:
//! - operations, one per request with the opnum as function code: Connect (0), Release (1) and
//!   Control (4: PrmEnd, ApplicationReady, ...) are control, with the AR type or the command as
//!   evidence; Read (2) and ReadImplicit (5) are reads, identification (I&M records,
//!   I&M0FilterData, RealIdentificationData) or diagnostics (diagnosis, maintenance and log
//!   records), by index ([`records`]); Write (3) writes each record (each one of a MultipleWrite
//!   or of a CombinedObjectContainer) with the record as evidence, and a write of I&M1-I&M4 is
//!   a configuration change of the device's "identification" (its tag, location, date,
//!   descriptor, signature). Parameter records are plain writes: a controller writes them at
//!   every start of an AR.
//! - identity: the object UUID of an answer names its sender (the called device, controller or
//!   supervisor): its PROFINET vendor (from the table DCP uses) and "profinet vendor 0x...
//!   device 0x..." like DCP's DeviceID; the ARBlockReq names the initiator (its NameOfStation as
//!   host name, its vendor and device from CMInitiatorObjectUUID, its MAC bound to its IP) and
//!   the ARBlockRes the responder's MAC; an I&M0 answer for slot 0 (the device access point)
//!   gives vendor, order id (model), serial number and software revision ("V2.3.1").
//! - device types, from the roles of an AR: the initiator of an IO controller AR is a `plc`, the
//!   device it connects to an `io_module` (so is the device of a supervisor AR); the device that
//!   calls a controller interface back names it a `plc`. These rank below what a device says of
//!   itself (DCP DeviceRole) and below behaviour, and the device's role below the controller's,
//!   so an I-device CPU (the device of one AR, the controller of others) stays a `plc`.
//!   Supervisors (engineering tools with a supervisor AR, anyone with ReadImplicit) get no type:
//!   a CPU answers ReadImplicit too, so only a Connect says who is a device.
//! - violations: malformed headers, lengths that overrun, unknown packet types and opnums, NDR
//!   counts that disagree, blocks that do not fit or are too short for their content.
//!
//! Calls split into several fragments are not reassembled: the first fragment's arguments are
//! read as far as they go and the rest is passed over (records longer than one fragment are
//! rare: parameter sets and large Connects).

pub mod blocks;
pub mod connect;
mod error;
pub mod records;
pub mod rpc;
pub mod rt;

pub use error::PnioError;

use super::framing::{Delivery, Unframed};
use super::profinet_dcp::vendor_name;
use super::spec::ProtocolSpec;
use super::text::{clean, clean_text};
use super::violations::Violations;
use super::{push_identity, source, Direction, Dissector, FlowCtx, Probe, Transport};
use blocks::{block_type, Block, ControlBlock, Im0, Record};
use connect::ar_type;
use otwatch_common::addr::is_unicast_ip;
use otwatch_common::observation::{Details, Field, Observation, Operation, Subject};
use otwatch_common::Mac;
use rpc::{Header, Interface, Ndr, ObjectId, PacketType, Pdu, Uuid};

/// The name reports use.
pub const PROTOCOL: &str = "profinet_io";
/// The CM's well-known port (the RPC endpoint mapper port PNIO uses).
pub const PORT: u16 = 34964;
/// Records reported from one write (a MultipleWrite, a CombinedObjectContainer), at most.
const MAX_RECORDS: usize = 32;
/// Characters kept of a NameOfStation (at most 240).
const MAX_NAME_CHARS: usize = 240;

/// PROFINET IO CM: UDP 34964 nominates, and content finds it on any port.
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[PORT],
    probe,
    new,
};

/// The PNIO services (IEC 61158-6-10 §4.10.3, "Opnum").
pub mod opnum {
    pub const CONNECT: u16 = 0;
    pub const RELEASE: u16 = 1;
    pub const READ: u16 = 2;
    pub const WRITE: u16 = 3;
    pub const CONTROL: u16 = 4;
    pub const READ_IMPLICIT: u16 = 5;

    pub fn name(op: u16) -> Option<&'static str> {
        Some(match op {
            CONNECT => "Connect",
            RELEASE => "Release",
            READ => "Read",
            WRITE => "Write",
            CONTROL => "Control",
            READ_IMPLICIT => "ReadImplicit",
            _ => return None,
        })
    }
}

/// Accepts a DCE/RPC connectionless PDU (version 4, a known packet type and data
/// representation) addressed to a PNIO interface. Answers (response, fault, reject, working,
/// nocall) come from the server of the call.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    match peek(data) {
        Some((ptype, _)) if ptype.from_server() => Probe::YesFromServer,
        Some(_) => Probe::Yes,
        None => Probe::No,
    }
}

/// The packet type and PNIO interface of a CL header, without reading the body.
fn peek(data: &[u8]) -> Option<(PacketType, Interface)> {
    let [version, ptype, _, _, d0, d1, d2, ..] = *data.first_chunk::<8>()?;
    if version != rpc::VERSION || data.len() < rpc::HEADER_LEN {
        return None;
    }
    let ptype = PacketType(ptype).is_known().then_some(PacketType(ptype))?;
    let endian = rpc::endian([d0, d1, d2])?;
    let interface = data.get(24..40)?.try_into().ok()?;
    let interface = Interface::of(&Uuid::from_wire(interface, endian))?;
    Some((ptype, interface))
}

fn new() -> Box<dyn Dissector> {
    Box::new(PnioDissector::default())
}

/// Per-flow PROFINET IO CM state: the violation budget.
#[derive(Debug, Default)]
pub struct PnioDissector {
    violations: Violations,
}

impl Unframed for PnioDissector {
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) {
        if let Err(e) = self.datagram(delivery, out) {
            self.violation(e, out);
        }
    }
}

/// One datagram being read: who sent it to whom, and whether operations may be reported.
struct Call<'a> {
    header: Header,
    interface: Interface,
    sender: Subject,
    receiver: Subject,
    ctx: &'a FlowCtx,
    dir: Direction,
    /// Sent to a group address: no conversation to attach operations to.
    to_group: bool,
}

impl Call<'_> {
    fn sender_ip(&self) -> std::net::IpAddr {
        match self.dir {
            Direction::ToServer => self.ctx.client.ip,
            Direction::ToClient => self.ctx.server.ip,
        }
    }

    fn whole(&self) -> bool {
        self.header.is_whole()
    }
}

impl PnioDissector {
    fn violation(&mut self, e: PnioError, out: &mut Vec<Observation>) {
        self.violations.record(PROTOCOL, e, out);
    }

    fn datagram(
        &mut self,
        delivery: Delivery<'_>,
        out: &mut Vec<Observation>,
    ) -> Result<(), PnioError> {
        let Delivery { dir, data, ctx } = delivery;
        let Pdu { header, body } = rpc::parse(data)?;
        // Another DCE/RPC interface on the flow (an endpoint mapper lookup) is not PNIO.
        let Some(interface) = Interface::of(&header.interface) else {
            return Ok(());
        };
        let call = Call {
            header,
            interface,
            sender: dir.sender(),
            receiver: dir.receiver(),
            ctx,
            dir,
            to_group: ctx.dst_mac.is_some_and(|m| m.is_group()),
        };
        let request = match header.ptype {
            PacketType::REQUEST => true,
            PacketType::RESPONSE => false,
            // Pings, acks, faults, rejects ...: the call's state, nothing about the devices.
            _ => return Ok(()),
        };
        if opnum::name(header.opnum).is_none() {
            return Err(PnioError::Opnum(header.opnum));
        }
        if !header.starts_call() {
            return Ok(());
        }
        let (ndr, rest) = Ndr::parse(body, header.endian, request)?;
        if let Err(e) = ndr.check(rest.len(), call.whole()) {
            self.violation(e, out);
        }
        let args = ndr.args(rest);
        if request {
            self.request(&call, args, out);
        } else {
            // The object UUID of an answer names the one answering.
            object_identity(call.sender, &header.object, out);
            if ndr.status.is_some_and(|s| s.is_ok()) {
                self.response(&call, args, out);
            }
        }
        Ok(())
    }

    /// Reports what a request asks for.
    fn request(&mut self, call: &Call<'_>, args: &[u8], out: &mut Vec<Observation>) {
        let code = u32::from(call.header.opnum);
        let mut ops: Vec<(Operation, Details)> = Vec::new();
        match call.header.opnum {
            opnum::CONNECT => ops.push(self.connect_request(call, args, out)),
            opnum::RELEASE | opnum::CONTROL => {
                ops.push(self.control_request(call, args, out));
            }
            opnum::READ | opnum::READ_IMPLICIT => {
                match blocks::record(args, block_type::IOD_READ_REQ, call.whole()) {
                    Ok((r, _)) => {
                        let h = r.header;
                        ops.push((
                            records::read_operation(h.index),
                            vec![(
                                "object",
                                records::describe(h.api, h.slot, h.subslot, h.index),
                            )],
                        ));
                    }
                    Err(e) => {
                        self.violation(e, out);
                        ops.push((Operation::Read, Vec::new()));
                    }
                }
            }
            opnum::WRITE => self.write_request(call, args, &mut ops, out),
            _ => {}
        }
        if call.to_group {
            return;
        }
        for (op, details) in ops {
            out.push(Observation::Operation {
                op,
                function_code: Some(code),
                details,
            });
        }
    }

    /// A Connect request: the AR (who initiates it and for what), and the CRs and expected
    /// submodules checked.
    fn connect_request(
        &mut self,
        call: &Call<'_>,
        args: &[u8],
        out: &mut Vec<Observation>,
    ) -> (Operation, Details) {
        let mut details = vec![("service", "Connect".to_owned())];
        for b in blocks::blocks(args) {
            let b = match b {
                Ok(b) => b,
                Err(e) if call.whole() => {
                    self.violation(e, out);
                    break;
                }
                // The first fragment of a long Connect ends inside a block.
                Err(_) => break,
            };
            let checked = match b.ty {
                block_type::AR_REQ => connect::ArBlockReq::parse(&b).map(|ar| {
                    details.push(("object", ar_name(ar.ar_type)));
                    initiator(call, &ar, out);
                }),
                block_type::IOCR_REQ => connect::IocrBlockReq::parse(&b).map(drop),
                block_type::ALARM_CR_REQ => connect::AlarmCrBlockReq::parse(&b).map(drop),
                block_type::EXPECTED_SUBMODULE_REQ => {
                    connect::expected_submodules(&b, drop).map(drop)
                }
                _ => Ok(()),
            };
            if let Err(e) = checked {
                self.violation(e, out);
            }
        }
        (Operation::Control, details)
    }

    /// A Release or Control request: the command of its control block. A device calling the
    /// controller interface back (ApplicationReady) names both ends.
    fn control_request(
        &mut self,
        call: &Call<'_>,
        args: &[u8],
        out: &mut Vec<Observation>,
    ) -> (Operation, Details) {
        let service = opnum::name(call.header.opnum).unwrap_or("Control");
        let command = match control_block(args) {
            Ok(c) => blocks::command::name(c.command),
            Err(e) => {
                self.violation(e, out);
                None
            }
        };
        if call.interface == Interface::Controller {
            controller(call.receiver, out);
            device(call.sender, out);
        } else if call.interface == Interface::Supervisor {
            device(call.sender, out);
        }
        let service = match command {
            Some(c) if c != service => format!("{service} {c}"),
            _ => service.to_owned(),
        };
        (Operation::Control, vec![("service", service)])
    }

    /// A Write request: one operation a record, the records of a MultipleWrite and of a
    /// CombinedObjectContainer each.
    fn write_request(
        &mut self,
        call: &Call<'_>,
        args: &[u8],
        ops: &mut Vec<(Operation, Details)>,
        out: &mut Vec<Observation>,
    ) {
        let whole = call.whole();
        let record = match blocks::record(args, block_type::IOD_WRITE_REQ, whole) {
            Ok((r, _)) => r,
            Err(e) => {
                self.violation(e, out);
                ops.push((Operation::Write, Vec::new()));
                return;
            }
        };
        if record.header.index != records::MULTIPLE_WRITE {
            self.written(&record, whole, ops, out);
            return;
        }
        for r in blocks::multiple_write(record.data, whole) {
            if ops.len() >= MAX_RECORDS {
                break;
            }
            match r {
                Ok(r) => self.written(&r, whole, ops, out),
                Err(e) => {
                    if whole {
                        self.violation(e, out);
                    }
                    break;
                }
            }
        }
        if ops.is_empty() {
            ops.push(write_op(&record.header, record.header.index));
        }
    }

    /// The write of one record, or of each record a CombinedObjectContainer holds.
    fn written(
        &mut self,
        r: &Record<'_>,
        whole: bool,
        ops: &mut Vec<(Operation, Details)>,
        out: &mut Vec<Observation>,
    ) {
        let h = &r.header;
        if h.index != records::COMBINED_OBJECT_CONTAINER {
            ops.push(write_op(h, h.index));
            return;
        }
        let before = ops.len();
        for c in blocks::co_container(r.data) {
            if ops.len() >= MAX_RECORDS {
                break;
            }
            match c {
                Ok(c) => {
                    let (op, setting) = records::write_operation(c.index);
                    let object = records::describe(c.api, c.slot, c.subslot, c.index);
                    ops.push((op, write_details(object, c.data.len(), setting)));
                }
                Err(e) => {
                    if whole {
                        self.violation(e, out);
                    }
                    break;
                }
            }
        }
        if ops.len() == before {
            ops.push(write_op(h, h.index));
        }
    }

    /// What an answer says: the device's side of the AR, the I&M0 plate it read out.
    fn response(&mut self, call: &Call<'_>, args: &[u8], out: &mut Vec<Observation>) {
        let checked = match call.header.opnum {
            opnum::CONNECT => self.connect_response(call, args, out),
            opnum::RELEASE | opnum::CONTROL => control_block(args).map(drop),
            opnum::READ | opnum::READ_IMPLICIT => {
                blocks::record(args, block_type::IOD_READ_RES, call.whole())
                    .and_then(|(r, _)| read_result(call.sender, &r, out))
            }
            opnum::WRITE => write_results(args, call.whole()),
            _ => Ok(()),
        };
        if let Err(e) = checked {
            self.violation(e, out);
        }
    }

    fn connect_response(
        &mut self,
        call: &Call<'_>,
        args: &[u8],
        out: &mut Vec<Observation>,
    ) -> Result<(), PnioError> {
        for b in blocks::blocks(args) {
            let b = b?;
            match b.ty {
                block_type::AR_RES => {
                    let ar = connect::ArBlockRes::parse(&b)?;
                    bind(ar.responder_mac, call.sender_ip(), out);
                    if ar_type::is_controller(ar.ar_type) {
                        controller(call.receiver, out);
                    }
                    if ar_type::is_controller(ar.ar_type) || ar.ar_type == ar_type::IOSAR {
                        device(call.sender, out);
                    }
                }
                block_type::IOCR_RES => {
                    connect::IocrBlockRes::parse(&b)?;
                }
                // AlarmCRType, LocalAlarmReference, MaxAlarmDataLength.
                block_type::ALARM_CR_RES if b.body.len() < 6 => {
                    return Err(PnioError::BlockContent(b.ty));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// What an ARBlockReq says of its sender, the initiator, and of the device it calls.
fn initiator(call: &Call<'_>, ar: &connect::ArBlockReq<'_>, out: &mut Vec<Observation>) {
    let s = call.sender;
    push_identity(
        out,
        s,
        Field::Hostname,
        clean_text(ar.station_name, MAX_NAME_CHARS),
        source::PROFINET_IO_CM_INITIATOR,
    );
    if let Some(id) = ObjectId::of(&ar.initiator_object) {
        describe_object(s, id, source::PROFINET_IO_CM_INITIATOR, out);
    }
    bind(ar.initiator_mac, call.sender_ip(), out);
    if ar_type::is_controller(ar.ar_type) {
        controller(s, out);
    }
    if ar_type::is_controller(ar.ar_type) || ar.ar_type == ar_type::IOSAR {
        device(call.receiver, out);
    }
}

/// The first block of a Release or Control call, which must be a control block.
fn control_block(args: &[u8]) -> Result<ControlBlock, PnioError> {
    let (b, _) = Block::parse(args)?;
    if !block_type::is_control(b.ty) {
        return Err(PnioError::BlockType {
            expected: block_type::PRM_END_REQ,
            found: b.ty,
        });
    }
    ControlBlock::parse(&b)
}

/// Checks the results of a write: one IODWriteResHeader, and for a MultipleWrite the
/// results of its records after it (when the answer is whole).
fn write_results(args: &[u8], whole: bool) -> Result<(), PnioError> {
    let (r, rest) = blocks::record(args, block_type::IOD_WRITE_RES, whole)?;
    if whole && r.header.index == records::MULTIPLE_WRITE {
        for h in blocks::multiple_write_results(rest).take(MAX_RECORDS) {
            h?;
        }
    }
    Ok(())
}

/// The identity an I&M0 answer for slot 0 gives its sender.
fn read_result(
    sender: Subject,
    r: &Record<'_>,
    out: &mut Vec<Observation>,
) -> Result<(), PnioError> {
    let h = &r.header;
    // Other slots hold modules with rating plates of their own.
    if h.index != records::IM0 || h.slot != 0 || r.data.is_empty() {
        return Ok(());
    }
    let (b, _) = Block::parse(r.data)?;
    if b.ty != block_type::IM0 {
        return Err(PnioError::BlockType {
            expected: block_type::IM0,
            found: b.ty,
        });
    }
    let im0 = Im0::parse(&b)?;
    let mut identity = |field, value| {
        push_identity(out, sender, field, value, source::PROFINET_IO_IM0);
    };
    identity(Field::Vendor, vendor_name(im0.vendor_id).map(str::to_owned));
    identity(Field::Model, clean(im0.order_id));
    identity(Field::Serial, clean(im0.serial_number));
    identity(Field::Firmware, im0.firmware());
    Ok(())
}

/// A write of the record a header names, with the record and its length as evidence.
fn write_op(h: &blocks::RecordHeader, index: u16) -> (Operation, Details) {
    let (op, setting) = records::write_operation(index);
    let object = records::describe(h.api, h.slot, h.subslot, index);
    let len = usize::try_from(h.record_len).unwrap_or(usize::MAX);
    (op, write_details(object, len, setting))
}

fn write_details(object: String, bytes: usize, setting: Option<&str>) -> Details {
    let mut details = vec![
        ("service", "Write".to_owned()),
        ("object", object),
        ("bytes", bytes.to_string()),
    ];
    if let Some(s) = setting {
        details.push(("setting", s.to_owned()));
    }
    details
}

fn ar_name(t: u16) -> String {
    ar_type::name(t).map_or_else(|| format!("AR type {t:#06x}"), |n| format!("{n} AR"))
}

/// What a PNIO object UUID says of the object it names.
fn object_identity(subject: Subject, object: &Uuid, out: &mut Vec<Observation>) {
    if let Some(id) = ObjectId::of(object) {
        describe_object(subject, id, source::PROFINET_IO_OBJECT_UUID, out);
    }
}

/// Vendor and "profinet vendor 0x.... device 0x...." (as DCP's DeviceID says it).
fn describe_object(
    subject: Subject,
    id: ObjectId,
    source: otwatch_common::observation::Source,
    out: &mut Vec<Observation>,
) {
    push_identity(
        out,
        subject,
        Field::Vendor,
        vendor_name(id.vendor_id).map(str::to_owned),
        source,
    );
    push_identity(
        out,
        subject,
        Field::Description,
        Some(format!(
            "profinet vendor {:#06x} device {:#06x}",
            id.vendor_id, id.device_id
        )),
        source,
    );
}

/// The end of an AR that controls it: a `plc`.
fn controller(subject: Subject, out: &mut Vec<Observation>) {
    let value = Some("plc".to_owned());
    push_identity(
        out,
        subject,
        Field::DeviceType,
        value,
        source::PROFINET_IO_CONTROLLER_ROLE,
    );
}

/// The end of an AR that is controlled: an `io_module`.
fn device(subject: Subject, out: &mut Vec<Observation>) {
    let value = Some("io_module".to_owned());
    push_identity(
        out,
        subject,
        Field::DeviceType,
        value,
        source::PROFINET_IO_DEVICE_ROLE,
    );
}

/// The MAC a CM block gives for the host that sent it.
fn bind(mac: Mac, ip: std::net::IpAddr, out: &mut Vec<Observation>) {
    if mac.is_unicast() && is_unicast_ip(&ip) && !ip.is_loopback() {
        out.push(Observation::Binding {
            mac,
            ip,
            source: "profinet io ar",
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
