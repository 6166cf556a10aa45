//! What each MMS confirmed service request does, in the shared vocabulary of operations, and
//! the evidence of those that change the server (ISO 9506-1 for the services' meaning;
//! IEC 61850-8-1 §20 and IEC 61850-7-2 for the control and setting writes).
//!
//! - Variable access: read, getNameList and the attribute services are reads; write is a
//!   write, except that a write to an IEC 61850 control object (functional constraint CO:
//!   `LN$CO$DO$Oper`, `$SBOw`, `$Cancel`) is a control, and one to a setting or configuration
//!   (FC SP, SE, SG: parameters; CF: configuration) is a configuration change. The FC is the
//!   second `$`-separated part of the item id (IEC 61850-8-1 §8.1.3.3).
//! - Domains (ISO 9506-1 §11) are the loadable program and data of a VMD: the download
//!   sequence (initiate, then segments the server asks for, then terminate, also asked by the
//!   server) and requestDomainDownload/loadDomainContent are program downloads; the upload
//!   sequence and requestDomainUpload/storeDomainContent are uploads; deleteDomain deletes.
//! - Program invocations (§12): createProgramInvocation makes domains runnable (a program
//!   download, as S7's _INSE); start and resume are CPU starts, stop a CPU stop, reset a
//!   restart (back to idle), kill a CPU stop (the invocation becomes unrunnable), and
//!   deleteProgramInvocation a program delete.
//! - Files (ISO 9506-2 annex C): fileOpen and fileRead read a file, fileClose closes it,
//!   obtainFile makes the server fetch a file (a write), fileRename writes, fileDelete
//!   deletes, each with `file_op` for the detector; fileDirectory only lists.
//! - status is diagnostics, identify identification, takeControl/relinquishControl
//!   (semaphores), triggerEvent and acknowledgeEventNotification controls.

use super::pdu::{self, service, ObjectName, Service};
use otwatch_common::observation::{Details, Operation};

/// The operation a confirmed request performs, with its evidence when it changes the device.
pub fn request(s: &Service<'_>) -> (Option<Operation>, Details) {
    let name = service::name(s.code);
    let named = |key: &'static str, value: Option<&[u8]>| {
        let mut d = vec![("service", name.to_string())];
        d.extend(value.and_then(text).map(|v| (key, v)));
        d
    };
    match s.code {
        0 => (Some(Operation::Diagnostics), Vec::new()),
        2 => (Some(Operation::Identify), Vec::new()),
        service::WRITE => write(s),
        // Reads: getNameList, read, attributes, type and semaphore status, domain and program
        // attributes, event and alarm status, journals, capabilities.
        1
        | 4
        | 6
        | 9
        | 12
        | 15
        | 17
        | 23..=25
        | 37
        | 45
        | 49
        | 50
        | 55
        | 56
        | 60
        | 61
        | 63..=65
        | 68
        | 71 => (Some(Operation::Read), Vec::new()),
        // Definitions and deletions of variables, lists, types, semaphores, events, journals;
        // rename; output.
        3
        | 7
        | 8
        | 10
        | 11
        | 13
        | 14
        | 16
        | 18
        | 21
        | 22
        | 47
        | 48
        | 51
        | 53
        | 54
        | 57..=59
        | 66
        | 67
        | 69
        | 70 => (Some(Operation::Write), Vec::new()),
        19 | 20 | 52 | 62 => (Some(Operation::Control), Vec::new()),
        // initiateDownloadSequence, terminateDownloadSequence: [0] domainName.
        26 | 28 => (
            Some(Operation::ProgramDownload),
            named("domain", pdu::field(s.body, 0)),
        ),
        // downloadSegment ::= Identifier (the domain).
        service::DOWNLOAD_SEGMENT => (
            Some(Operation::ProgramDownload),
            named("domain", Some(s.body)),
        ),
        service::INITIATE_UPLOAD_SEQUENCE => (
            Some(Operation::ProgramUpload),
            named("domain", Some(s.body)),
        ),
        30 | 31 => (Some(Operation::ProgramUpload), named("domain", None)),
        32 | 34 => (
            Some(Operation::ProgramDownload),
            named("domain", pdu::field(s.body, 0)),
        ),
        33 | 35 => (
            Some(Operation::ProgramUpload),
            named("domain", pdu::field(s.body, 0)),
        ),
        service::DELETE_DOMAIN => (
            Some(Operation::ProgramDelete),
            named("domain", Some(s.body)),
        ),
        38 => (
            Some(Operation::ProgramDownload),
            named("program", pdu::field(s.body, 0)),
        ),
        service::DELETE_PROGRAM_INVOCATION => (
            Some(Operation::ProgramDelete),
            named("program", Some(s.body)),
        ),
        40..=44 => {
            let op = match s.code {
                40 | 42 => Operation::CpuStart,
                43 => Operation::Restart,
                _ => Operation::CpuStop,
            };
            (Some(op), named("program", pdu::field(s.body, 0)))
        }
        service::OBTAIN_FILE => file(s, Some(2), Some("write")),
        service::FILE_OPEN => file(s, Some(0), Some("read")),
        73 => file(s, None, Some("read")),
        74 => file(s, None, Some("close")),
        service::FILE_RENAME => file(s, Some(0), Some("write")),
        service::FILE_DELETE => file(s, None, Some("delete")),
        service::FILE_DIRECTORY => file(s, Some(0), None),
        _ => (None, Vec::new()),
    }
}

/// A file service: `[n]` is the field holding the FileName (None: the body is the FileName
/// for fileDelete, an FRSM id for fileRead and fileClose).
fn file(s: &Service<'_>, n: Option<u32>, op: Option<&str>) -> (Option<Operation>, Details) {
    let mut d = vec![("service", service::name(s.code).to_string())];
    if n.is_some() || s.code == service::FILE_DELETE {
        let mut parts: Vec<&[u8]> = Vec::new();
        pdu::file_name_parts(s.body, n, &mut |p| {
            if parts.len() < MAX_FILE_PARTS {
                parts.push(p);
            }
        });
        if !parts.is_empty() {
            d.extend(text(&parts.join(&b'/')).map(|f| ("file", f)));
        }
    }
    d.extend(op.map(|o| ("file_op", o.to_string())));
    (Some(Operation::FileTransfer), d)
}

/// Parts of a FileName kept in evidence.
const MAX_FILE_PARTS: usize = 8;

/// What a write does, from the functional constraint of the variables it names: the first
/// control or setting decides (with the variable as evidence), else a plain write.
fn write(s: &Service<'_>) -> (Option<Operation>, Details) {
    let mut found: Option<(Operation, Option<&'static str>, ObjectName<'_>)> = None;
    pdu::request_names(s, &mut |n| {
        if found.is_some() {
            return;
        }
        let item = match n {
            ObjectName::Domain { item, .. } | ObjectName::Vmd(item) | ObjectName::Aa(item) => item,
        };
        found = match functional_constraint(item) {
            Some(b"CO") => Some((Operation::Control, None, n)),
            Some(b"SP" | b"SE" | b"SG") => Some((Operation::ConfigChange, Some("parameters"), n)),
            Some(b"CF") => Some((Operation::ConfigChange, Some("configuration"), n)),
            _ => None,
        };
    });
    let Some((op, setting, name)) = found else {
        return (Some(Operation::Write), Vec::new());
    };
    let mut d = vec![("service", service::name(s.code).to_string())];
    d.extend(object_reference(&name).map(|v| ("variable", v)));
    d.extend(setting.map(|v| ("setting", v.to_string())));
    (Some(op), d)
}

/// The IEC 61850 functional constraint of an MMS item id `LN$FC$DO...`.
pub fn functional_constraint(item: &[u8]) -> Option<&[u8]> {
    let mut parts = item.split(|&b| b == b'$');
    parts.next()?;
    parts.next().filter(|fc| fc.len() == 2)
}

/// An object name as IEC 61850 writes references: `LD/item` for a domain-specific name.
pub fn object_reference(n: &ObjectName<'_>) -> Option<String> {
    match n {
        ObjectName::Domain { domain, item } => {
            let mut v = domain.to_vec();
            v.push(b'/');
            v.extend_from_slice(item);
            text(&v)
        }
        ObjectName::Vmd(item) | ObjectName::Aa(item) => text(item),
    }
}

/// Wire text for evidence (MMS Identifiers and GraphicStrings are ASCII).
fn text(raw: &[u8]) -> Option<String> {
    crate::protocols::text::clean(raw)
}
