//! The MMS PDUs of ISO 9506-2 §7 (the `MMSpdu` CHOICE and the confirmed and unconfirmed
//! services inside it): pure functions from BER bytes to borrowed views, no state and no
//! allocation. Tags below are the ASN.1 module's (ISO 9506-2 annex: `ISO-9506-MMS-1`, which
//! is written with IMPLICIT TAGS: a tagged CHOICE stays explicit).

use super::error::MmsError;
use crate::protocols::ber::{self, Class, Reader, Tag, Tlv};

/// `MMSpdu` alternatives (ISO 9506-2 §7.1).
pub mod kind {
    pub const CONFIRMED_REQUEST: u32 = 0;
    pub const CONFIRMED_RESPONSE: u32 = 1;
    pub const CONFIRMED_ERROR: u32 = 2;
    pub const UNCONFIRMED: u32 = 3;
    pub const REJECT: u32 = 4;
    pub const CANCEL_REQUEST: u32 = 5;
    pub const CANCEL_RESPONSE: u32 = 6;
    pub const CANCEL_ERROR: u32 = 7;
    pub const INITIATE_REQUEST: u32 = 8;
    pub const INITIATE_RESPONSE: u32 = 9;
    pub const INITIATE_ERROR: u32 = 10;
    pub const CONCLUDE_REQUEST: u32 = 11;
    pub const CONCLUDE_RESPONSE: u32 = 12;
    pub const CONCLUDE_ERROR: u32 = 13;
}

/// `ConfirmedServiceRequest` / `ConfirmedServiceResponse` alternatives (ISO 9506-2 §7.2):
/// the tag number is the service, and the function code otwatch reports.
pub mod service {
    pub const STATUS: u32 = 0;
    pub const GET_NAME_LIST: u32 = 1;
    pub const IDENTIFY: u32 = 2;
    pub const READ: u32 = 4;
    pub const WRITE: u32 = 5;
    pub const GET_VARIABLE_ACCESS_ATTRIBUTES: u32 = 6;
    pub const DEFINE_NAMED_VARIABLE: u32 = 7;
    pub const DEFINE_NAMED_VARIABLE_LIST: u32 = 11;
    pub const GET_NAMED_VARIABLE_LIST_ATTRIBUTES: u32 = 12;
    pub const DELETE_NAMED_VARIABLE_LIST: u32 = 13;
    pub const INITIATE_DOWNLOAD_SEQUENCE: u32 = 26;
    pub const DOWNLOAD_SEGMENT: u32 = 27;
    pub const TERMINATE_DOWNLOAD_SEQUENCE: u32 = 28;
    pub const INITIATE_UPLOAD_SEQUENCE: u32 = 29;
    pub const DELETE_DOMAIN: u32 = 36;
    pub const DELETE_PROGRAM_INVOCATION: u32 = 39;
    pub const OBTAIN_FILE: u32 = 46;
    pub const FILE_OPEN: u32 = 72;
    pub const FILE_RENAME: u32 = 75;
    pub const FILE_DELETE: u32 = 76;
    pub const FILE_DIRECTORY: u32 = 77;

    /// The service's name in the ASN.1 module (as Wireshark shows it).
    pub fn name(code: u32) -> &'static str {
        NAMES.get(code as usize).copied().unwrap_or("unknown")
    }

    const NAMES: [&str; 78] = [
        "status",
        "getNameList",
        "identify",
        "rename",
        "read",
        "write",
        "getVariableAccessAttributes",
        "defineNamedVariable",
        "defineScatteredAccess",
        "getScatteredAccessAttributes",
        "deleteVariableAccess",
        "defineNamedVariableList",
        "getNamedVariableListAttributes",
        "deleteNamedVariableList",
        "defineNamedType",
        "getNamedTypeAttributes",
        "deleteNamedType",
        "input",
        "output",
        "takeControl",
        "relinquishControl",
        "defineSemaphore",
        "deleteSemaphore",
        "reportSemaphoreStatus",
        "reportPoolSemaphoreStatus",
        "reportSemaphoreEntryStatus",
        "initiateDownloadSequence",
        "downloadSegment",
        "terminateDownloadSequence",
        "initiateUploadSequence",
        "uploadSegment",
        "terminateUploadSequence",
        "requestDomainDownload",
        "requestDomainUpload",
        "loadDomainContent",
        "storeDomainContent",
        "deleteDomain",
        "getDomainAttributes",
        "createProgramInvocation",
        "deleteProgramInvocation",
        "start",
        "stop",
        "resume",
        "reset",
        "kill",
        "getProgramInvocationAttributes",
        "obtainFile",
        "defineEventCondition",
        "deleteEventCondition",
        "getEventConditionAttributes",
        "reportEventConditionStatus",
        "alterEventConditionMonitoring",
        "triggerEvent",
        "defineEventAction",
        "deleteEventAction",
        "getEventActionAttributes",
        "reportEventActionStatus",
        "defineEventEnrollment",
        "deleteEventEnrollment",
        "alterEventEnrollment",
        "reportEventEnrollmentStatus",
        "getEventEnrollmentAttributes",
        "acknowledgeEventNotification",
        "getAlarmSummary",
        "getAlarmEnrollmentSummary",
        "readJournal",
        "writeJournal",
        "initializeJournal",
        "reportJournalStatus",
        "createJournal",
        "deleteJournal",
        "getCapabilityList",
        "fileOpen",
        "fileRead",
        "fileClose",
        "fileRename",
        "fileDelete",
        "fileDirectory",
    ];
}

/// `ObjectClass` basicObjectClass `domain` (ISO 9506-2 §10.5.1): a GetNameList of domains.
pub const DOMAIN_CLASS: i64 = 9;

/// One service of a confirmed or unconfirmed PDU: its tag number and the content of its TLV
/// (IMPLICIT types: the SEQUENCE's fields, or a primitive value such as an Identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service<'a> {
    pub code: u32,
    pub body: &'a [u8],
}

/// The negotiated parameters of an initiate request or response (ISO 9506-2 §8.2):
/// local detail (the largest PDU), services outstanding on each side, nesting level, and
/// the init detail's version number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Initiate {
    pub local_detail: Option<i64>,
    pub max_outstanding_calling: Option<i64>,
    pub max_outstanding_called: Option<i64>,
    pub nesting_level: Option<i64>,
    pub version: Option<i64>,
}

/// One MMS PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pdu<'a> {
    ConfirmedRequest { invoke: u32, service: Service<'a> },
    ConfirmedResponse { invoke: u32, service: Service<'a> },
    ConfirmedError { invoke: u32 },
    Unconfirmed { service: Service<'a> },
    Reject { invoke: Option<u32> },
    CancelRequest { invoke: u32 },
    CancelResponse { invoke: u32 },
    CancelError { invoke: u32 },
    InitiateRequest(Initiate),
    InitiateResponse(Initiate),
    InitiateError,
    ConcludeRequest,
    ConcludeResponse,
    ConcludeError,
}

/// Whether `tag` opens an `MMSpdu` alternative, primitive or constructed as ISO 9506-2 has it.
pub fn is_pdu_tag(tag: Tag) -> bool {
    tag.class == Class::ContextSpecific
        && match tag.number {
            kind::CANCEL_REQUEST
            | kind::CANCEL_RESPONSE
            | kind::CONCLUDE_REQUEST
            | kind::CONCLUDE_RESPONSE => !tag.constructed,
            n => n <= kind::CONCLUDE_ERROR && tag.constructed,
        }
}

/// Reads one MMS PDU, which must fill `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Pdu<'_>, MmsError> {
    let mut r = Reader::new(bytes);
    let tlv = r.read().map_err(MmsError::Ber)?;
    if !r.is_empty() {
        return Err(MmsError::Trailing);
    }
    pdu(&tlv)
}

/// Reads the MMS PDU of one TLV.
pub fn pdu<'a>(tlv: &Tlv<'a>) -> Result<Pdu<'a>, MmsError> {
    if !is_pdu_tag(tlv.tag) {
        return Err(MmsError::PduTag(tlv.tag));
    }
    let mut r = tlv.reader();
    Ok(match tlv.tag.number {
        kind::CONFIRMED_REQUEST => {
            let invoke = invoke_id(&mut r, Tag::INTEGER, "request")?;
            // listOfModifier SEQUENCE OF Modifier OPTIONAL.
            if r.peek_tag() == Some(Tag::SEQUENCE) {
                r.read().map_err(MmsError::Ber)?;
            }
            let service = confirmed_service(&mut r, "request")?;
            Pdu::ConfirmedRequest { invoke, service }
        }
        kind::CONFIRMED_RESPONSE => {
            let invoke = invoke_id(&mut r, Tag::INTEGER, "response")?;
            let service = confirmed_service(&mut r, "response")?;
            Pdu::ConfirmedResponse { invoke, service }
        }
        kind::CONFIRMED_ERROR => Pdu::ConfirmedError {
            invoke: invoke_id(&mut r, Tag::context(0, false), "error")?,
        },
        kind::UNCONFIRMED => {
            let s = r.read().map_err(MmsError::Ber)?;
            if s.tag.class != Class::ContextSpecific {
                return Err(MmsError::ServiceTag(s.tag));
            }
            Pdu::Unconfirmed {
                service: Service {
                    code: s.tag.number,
                    body: s.value,
                },
            }
        }
        kind::REJECT => {
            let invoke = match r.read_optional(Tag::context(0, false)) {
                Ok(Some(v)) => Some(unsigned32(v)?),
                Ok(None) => None,
                Err(e) => return Err(MmsError::Ber(e)),
            };
            Pdu::Reject { invoke }
        }
        kind::CANCEL_REQUEST => Pdu::CancelRequest {
            invoke: unsigned32(tlv.value)?,
        },
        kind::CANCEL_RESPONSE => Pdu::CancelResponse {
            invoke: unsigned32(tlv.value)?,
        },
        kind::CANCEL_ERROR => Pdu::CancelError {
            invoke: invoke_id(&mut r, Tag::context(0, false), "cancel error")?,
        },
        kind::INITIATE_REQUEST => Pdu::InitiateRequest(initiate(r)?),
        kind::INITIATE_RESPONSE => Pdu::InitiateResponse(initiate(r)?),
        kind::INITIATE_ERROR => Pdu::InitiateError,
        kind::CONCLUDE_REQUEST => Pdu::ConcludeRequest,
        kind::CONCLUDE_RESPONSE => Pdu::ConcludeResponse,
        _ => Pdu::ConcludeError,
    })
}

/// `Unsigned32` (ISO 9506-2 §7.5): an INTEGER of 0 to 2^32-1.
fn unsigned32(value: &[u8]) -> Result<u32, MmsError> {
    let n = ber::integer(value).map_err(MmsError::Ber)?;
    u32::try_from(n).map_err(|_| MmsError::Ber(ber::Error::BadInteger))
}

fn invoke_id(r: &mut Reader<'_>, tag: Tag, what: &'static str) -> Result<u32, MmsError> {
    if r.is_empty() {
        return Err(MmsError::NoInvokeId(what));
    }
    match r.read_expect(tag) {
        Ok(v) => unsigned32(v),
        Err(ber::Error::UnexpectedTag { .. }) => Err(MmsError::NoInvokeId(what)),
        Err(e) => Err(MmsError::Ber(e)),
    }
}

fn confirmed_service<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Service<'a>, MmsError> {
    if r.is_empty() {
        return Err(MmsError::NoService(what));
    }
    let s = r.read().map_err(MmsError::Ber)?;
    if s.tag.class != Class::ContextSpecific {
        return Err(MmsError::ServiceTag(s.tag));
    }
    Ok(Service {
        code: s.tag.number,
        body: s.value,
    })
}

/// Initiate-RequestPDU / Initiate-ResponsePDU: `[0]` local detail, `[1]` and `[2]` services
/// outstanding (calling, called), `[3]` nesting level, `[4]` init detail (`[0]` version,
/// `[1]` parameter CBB, `[2]` services supported).
fn initiate(r: Reader<'_>) -> Result<Initiate, MmsError> {
    let mut i = Initiate::default();
    for tlv in r {
        let tlv = tlv.map_err(MmsError::Ber)?;
        if tlv.tag.class != Class::ContextSpecific {
            continue;
        }
        let int = || tlv.integer().map(Some).map_err(MmsError::Ber);
        match (tlv.tag.number, tlv.tag.constructed) {
            (0, false) => i.local_detail = int()?,
            (1, false) => i.max_outstanding_calling = int()?,
            (2, false) => i.max_outstanding_called = int()?,
            (3, false) => i.nesting_level = int()?,
            (4, true) => {
                for d in tlv.reader() {
                    let d = d.map_err(MmsError::Ber)?;
                    if d.tag == Tag::context(0, false) {
                        i.version = Some(d.integer().map_err(MmsError::Ber)?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(i)
}

/// `ObjectName` (ISO 9506-2 §7.5.2): a VMD-specific, domain-specific or association-specific
/// Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectName<'a> {
    Vmd(&'a [u8]),
    Domain { domain: &'a [u8], item: &'a [u8] },
    Aa(&'a [u8]),
}

/// Reads an `ObjectName` TLV (`[0]`, `[1]` SEQUENCE { domainID, itemID }, `[2]`).
pub fn object_name<'a>(tlv: &Tlv<'a>) -> Option<ObjectName<'a>> {
    if tlv.tag.class != Class::ContextSpecific {
        return None;
    }
    match (tlv.tag.number, tlv.tag.constructed) {
        (0, false) => Some(ObjectName::Vmd(tlv.value)),
        (1, true) => {
            let mut r = tlv.reader();
            let domain = r.read_expect(Tag::VISIBLE_STRING).ok()?;
            let item = r.read_expect(Tag::VISIBLE_STRING).ok()?;
            Some(ObjectName::Domain { domain, item })
        }
        (2, false) => Some(ObjectName::Aa(tlv.value)),
        _ => None,
    }
}

/// The first TLV inside a constructed one (an EXPLICIT tag around a CHOICE).
fn inner<'a>(tlv: &Tlv<'a>) -> Option<Tlv<'a>> {
    tlv.reader().read().ok()
}

/// Calls `f` with each named variable of a `VariableAccessSpecification` (ISO 9506-2 §14.1):
/// `[0]` listOfVariable, each a SEQUENCE whose VariableSpecification `[0]` is a name, or
/// `[1]` variableListName.
pub fn variable_names<'a>(vas: &Tlv<'a>, f: &mut impl FnMut(ObjectName<'a>)) {
    match (vas.tag.class, vas.tag.number) {
        (Class::ContextSpecific, 0) => list_of_variable(vas, f),
        (Class::ContextSpecific, 1) => {
            if let Some(n) = inner(vas).as_ref().and_then(object_name) {
                f(n);
            }
        }
        _ => {}
    }
}

fn list_of_variable<'a>(list: &Tlv<'a>, f: &mut impl FnMut(ObjectName<'a>)) {
    for item in list.reader().map_while(Result::ok) {
        let Some(spec) = inner(&item) else { continue };
        if spec.tag == Tag::context(0, true) {
            if let Some(n) = inner(&spec).as_ref().and_then(object_name) {
                f(n);
            }
        }
    }
}

/// Calls `f` with each object a confirmed request names (read, write, variable and variable
/// list services), the names whose domain is a logical device of the server.
pub fn request_names<'a>(s: &Service<'a>, f: &mut impl FnMut(ObjectName<'a>)) {
    let mut fields = Reader::new(s.body).map_while(Result::ok);
    match s.code {
        // Read-Request: [0] specificationWithResult, [1] variableAccessSpecification.
        service::READ => {
            if let Some(vas) = fields.find(|t| t.tag == Tag::context(1, true)) {
                if let Some(vas) = inner(&vas) {
                    variable_names(&vas, f);
                }
            }
        }
        // Write-Request: variableAccessSpecification, [0] listOfData.
        service::WRITE => {
            if let Some(vas) = fields.next() {
                variable_names(&vas, f);
            }
        }
        // GetVariableAccessAttributes-Request: CHOICE { name [0] ObjectName, address [1] }.
        service::GET_VARIABLE_ACCESS_ATTRIBUTES => {
            if let Some(name) = fields.next().filter(|t| t.tag == Tag::context(0, true)) {
                if let Some(n) = inner(&name).as_ref().and_then(object_name) {
                    f(n);
                }
            }
        }
        // DefineNamedVariable-Request and DefineNamedVariableList-Request: a name first;
        // the list's [0] listOfVariable follows.
        service::DEFINE_NAMED_VARIABLE | service::DEFINE_NAMED_VARIABLE_LIST => {
            if let Some(n) = fields.next().as_ref().and_then(object_name) {
                f(n);
            }
            if s.code == service::DEFINE_NAMED_VARIABLE_LIST {
                if let Some(list) = fields.find(|t| t.tag == Tag::context(0, true)) {
                    list_of_variable(&list, f);
                }
            }
        }
        // GetNameList-Request: [1] objectScope, whose `[1] domainSpecific` names a domain.
        service::GET_NAME_LIST => {
            let scope = fields.find(|t| t.tag == Tag::context(1, true));
            if let Some(domain) = scope
                .as_ref()
                .and_then(inner)
                .filter(|t| t.tag == Tag::context(1, false))
            {
                f(ObjectName::Domain {
                    domain: domain.value,
                    item: &[],
                });
            }
        }
        // GetNamedVariableListAttributes-Request ::= ObjectName.
        service::GET_NAMED_VARIABLE_LIST_ATTRIBUTES => {
            if let Some(n) = fields.next().as_ref().and_then(object_name) {
                f(n);
            }
        }
        // DeleteNamedVariableList-Request: [1] listOfVariableListName.
        service::DELETE_NAMED_VARIABLE_LIST => {
            if let Some(list) = fields.find(|t| t.tag == Tag::context(1, true)) {
                for n in list.reader().map_while(Result::ok) {
                    if let Some(n) = object_name(&n) {
                        f(n);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The `[n] IMPLICIT` primitive field of a service's SEQUENCE (an Identifier, a FileName
/// part), or the whole body of a primitive service (`[27] IMPLICIT Identifier`).
pub fn field(body: &[u8], n: u32) -> Option<&[u8]> {
    Reader::new(body)
        .map_while(Result::ok)
        .find(|t| t.tag == Tag::context(n, false))
        .map(|t| t.value)
}

/// A `FileName` (SEQUENCE OF GraphicString, ISO 9506-2 §7.5.4) held in the `[n]` field of a
/// service's SEQUENCE, as its parts: calls `f` with each.
pub fn file_name_parts<'a>(body: &'a [u8], n: Option<u32>, f: &mut impl FnMut(&'a [u8])) {
    let parts = match n {
        Some(n) => match Reader::new(body)
            .map_while(Result::ok)
            .find(|t| t.tag == Tag::context(n, true))
        {
            Some(t) => t.value,
            None => return,
        },
        None => body,
    };
    for part in Reader::new(parts).map_while(Result::ok) {
        if part.tag == Tag::universal(25, false) {
            f(part.value);
        }
    }
}

/// Identify-Response (ISO 9506-2 §10.2): `[0]` vendorName, `[1]` modelName, `[2]` revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity<'a> {
    pub vendor: Option<&'a [u8]>,
    pub model: Option<&'a [u8]>,
    pub revision: Option<&'a [u8]>,
}

pub fn identify_response(body: &[u8]) -> Identity<'_> {
    Identity {
        vendor: field(body, 0),
        model: field(body, 1),
        revision: field(body, 2),
    }
}

/// GetNameList-Request (ISO 9506-2 §10.5): `[0]` objectClass (basicObjectClass `[0]`).
pub fn name_list_class(body: &[u8]) -> Option<i64> {
    let class = Reader::new(body)
        .map_while(Result::ok)
        .find(|t| t.tag == Tag::context(0, true))?;
    let basic = inner(&class).filter(|t| t.tag == Tag::context(0, false))?;
    basic.integer().ok()
}

/// GetNameList-Response: `[0]` listOfIdentifier; calls `f` with each Identifier.
pub fn name_list<'a>(body: &'a [u8], f: &mut impl FnMut(&'a [u8])) {
    let Some(list) = Reader::new(body)
        .map_while(Result::ok)
        .find(|t| t.tag == Tag::context(0, true))
    else {
        return;
    };
    for id in list.reader().map_while(Result::ok) {
        if id.tag == Tag::VISIBLE_STRING {
            f(id.value);
        }
    }
}

/// InformationReport (ISO 9506-2 §14.7, unconfirmed service `[0]`): its variable names and
/// the visible strings among its first access results. An IEC 61850 report (IEC 61850-8-1
/// §17.2: variable list "RPT") starts with the RptID, and names the data set it reports, both
/// object references "LD/LN$...".
pub fn information_report<'a>(
    body: &'a [u8],
    names: &mut impl FnMut(ObjectName<'a>),
    strings: &mut impl FnMut(&'a [u8]),
) {
    /// Access results looked at for report identifiers (RptID, OptFlds, SeqNum, TimeOfEntry,
    /// DatSet, ... come first).
    const HEAD: usize = 8;
    let mut fields = Reader::new(body).map_while(Result::ok);
    if let Some(vas) = fields.next() {
        variable_names(&vas, names);
    }
    if let Some(results) = fields.find(|t| t.tag == Tag::context(0, true)) {
        // AccessResult: failure [0] or success Data; Data visible-string is [10].
        for r in results.reader().map_while(Result::ok).take(HEAD) {
            if r.tag == Tag::context(10, false) {
                strings(r.value);
            }
        }
    }
}
