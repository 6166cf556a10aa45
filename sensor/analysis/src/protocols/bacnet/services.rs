//! The BACnet services the dissector reads into (ASN.1 productions of clause 21): I-Am,
//! ReadProperty-ACK, ReadPropertyMultiple-ACK, and which operation each request is.

use super::tags::{app, object_id, unsigned, Tag, TagReader, OBJECT_DEVICE};
use super::wire::{confirmed, unconfirmed, BacnetError};
use otwatch_common::observation::Operation;

/// Property results looked at per ReadPropertyMultiple answer.
pub const MAX_RPM_RESULTS: usize = 64;

/// I-Am-Request (16.10.3, ASN.1 in clause 21): four application-tagged values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IAm {
    pub device_instance: u32,
    pub max_apdu: u32,
    /// BACnetSegmentation: 0 both, 1 transmit, 2 receive, 3 none.
    pub segmentation: u32,
    pub vendor_id: u32,
}

/// Parses an I-Am request.
pub fn parse_i_am(body: &[u8]) -> Result<IAm, BacnetError> {
    let bad = BacnetError::Service("I-Am");
    let mut r = TagReader::new(body);
    let mut value = |number: u8| -> Result<&[u8], BacnetError> {
        let t = r.next().and_then(Result::ok).ok_or(bad)?;
        t.value().filter(|_| t.is_app(number)).ok_or(bad)
    };
    let (ty, device_instance) = object_id(value(app::OBJECT_IDENTIFIER)?).ok_or(bad)?;
    let max_apdu = unsigned(value(app::UNSIGNED)?).ok_or(bad)?;
    let segmentation = unsigned(value(app::ENUMERATED)?).ok_or(bad)?;
    let vendor_id = unsigned(value(app::UNSIGNED)?).ok_or(bad)?;
    if ty != OBJECT_DEVICE {
        return Err(bad);
    }
    Ok(IAm {
        device_instance,
        max_apdu,
        segmentation,
        vendor_id,
    })
}

/// One property value from a ReadProperty or ReadPropertyMultiple answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyValue<'a> {
    /// (object type, instance).
    pub object: (u32, u32),
    pub property: u32,
    /// The value when it is one primitive element (not an array, list or error).
    pub value: Option<Tag<'a>>,
}

/// ReadProperty-ACK (15.5.1.3): objectIdentifier [0], propertyIdentifier [1],
/// propertyArrayIndex [2] OPTIONAL, propertyValue [3].
pub fn parse_read_property_ack(body: &[u8]) -> Result<PropertyValue<'_>, BacnetError> {
    let bad = BacnetError::Service("ReadProperty-ACK");
    read_property_ack(body, bad).map_err(|_| bad)
}

fn read_property_ack(body: &[u8], bad: BacnetError) -> Result<PropertyValue<'_>, BacnetError> {
    let mut r = TagReader::new(body);
    let object = context_value(&mut r, 0).and_then(object_id).ok_or(bad)?;
    let property = context_value(&mut r, 1).and_then(unsigned).ok_or(bad)?;
    if r.peek().transpose()?.is_some_and(|t| t.is_ctx(2)) {
        r.next();
    }
    if !r.next().transpose()?.is_some_and(|t| t.is_open(3)) {
        return Err(bad);
    }
    let value = r.enclosed_value(3)?;
    Ok(PropertyValue {
        object,
        property,
        value,
    })
}

/// Calls `f` for each property of a ReadPropertyMultiple-ACK (15.7.1.3): a sequence of
/// ReadAccessResult { objectIdentifier [0], listOfResults [1] { propertyIdentifier [2],
/// propertyArrayIndex [3] OPTIONAL, propertyValue [4] | propertyAccessError [5] } }.
/// Looks at [`MAX_RPM_RESULTS`] properties at most.
pub fn for_each_rpm_result<'a>(
    body: &'a [u8],
    f: impl FnMut(PropertyValue<'a>),
) -> Result<(), BacnetError> {
    let bad = BacnetError::Service("ReadPropertyMultiple-ACK");
    rpm_results(body, bad, f).map_err(|_| bad)
}

fn rpm_results<'a>(
    body: &'a [u8],
    bad: BacnetError,
    mut f: impl FnMut(PropertyValue<'a>),
) -> Result<(), BacnetError> {
    let mut r = TagReader::new(body);
    let mut seen = 0usize;
    while !r.is_empty() {
        let object = context_value(&mut r, 0).and_then(object_id).ok_or(bad)?;
        // listOfResults is OPTIONAL in ReadAccessResult.
        if !r.peek().transpose()?.is_some_and(|t| t.is_open(1)) {
            continue;
        }
        r.next();
        loop {
            let t = r.next().ok_or(bad)??;
            if t.is_close(1) {
                break;
            }
            let property = t
                .value()
                .filter(|_| t.is_ctx(2))
                .and_then(unsigned)
                .ok_or(bad)?;
            let mut t = r.next().ok_or(bad)??;
            if t.is_ctx(3) {
                t = r.next().ok_or(bad)??;
            }
            let value = if t.is_open(4) {
                r.enclosed_value(4)?
            } else if t.is_open(5) {
                r.skip_constructed(5)?;
                None
            } else {
                return Err(bad);
            };
            seen += 1;
            if seen > MAX_RPM_RESULTS {
                return Ok(());
            }
            f(PropertyValue {
                object,
                property,
                value,
            });
        }
    }
    Ok(())
}

/// The content of the next tag when it is context tag `number` with a primitive value.
fn context_value<'a>(r: &mut TagReader<'a>, number: u8) -> Option<&'a [u8]> {
    r.next()?.ok().filter(|t| t.is_ctx(number))?.value()
}

/// BACnetReinitializedStateOfDevice (clause 21) of a ReinitializeDevice request (16.4.1.1).
pub(super) fn reinitialize_operation(body: &[u8]) -> Operation {
    match TagReader::new(body)
        .next()
        .and_then(Result::ok)
        .filter(|t| t.is_ctx(0))
        .and_then(|t| t.value())
        .and_then(unsigned)
    {
        // startbackup, endbackup: the client reads the configuration out (19.1.2).
        Some(2 | 3) => Operation::ProgramUpload,
        // startrestore, endrestore: it writes one in (19.1.3).
        Some(4 | 5) => Operation::ProgramDownload,
        // abortrestore: the restore is called off; device management, no program moved.
        Some(6) => Operation::Control,
        // coldstart, warmstart, activate-changes, or unreadable.
        _ => Operation::Restart,
    }
}

/// The operation of a confirmed service request.
pub fn confirmed_operation(service: u8, body: &[u8]) -> Option<Operation> {
    use confirmed::*;
    Some(match service {
        GET_ALARM_SUMMARY
        | GET_ENROLLMENT_SUMMARY
        | SUBSCRIBE_COV
        | READ_PROPERTY
        | READ_PROPERTY_CONDITIONAL
        | READ_PROPERTY_MULTIPLE
        | READ_RANGE
        | SUBSCRIBE_COV_PROPERTY
        | GET_EVENT_INFORMATION
        | SUBSCRIBE_COV_PROPERTY_MULTIPLE => Operation::Read,
        ATOMIC_READ_FILE | ATOMIC_WRITE_FILE => Operation::FileTransfer,
        ADD_LIST_ELEMENT
        | REMOVE_LIST_ELEMENT
        | CREATE_OBJECT
        | DELETE_OBJECT
        | WRITE_PROPERTY
        | WRITE_PROPERTY_MULTIPLE => Operation::Write,
        // Stopping or restricting a device's communication reconfigures it (16.1).
        DEVICE_COMMUNICATION_CONTROL => Operation::ConfigChange,
        LIFE_SAFETY_OPERATION => Operation::Control,
        REINITIALIZE_DEVICE => reinitialize_operation(body),
        _ => return None,
    })
}

/// The operation of an unconfirmed service request.
pub fn unconfirmed_operation(service: u8) -> Option<Operation> {
    use unconfirmed::*;
    Some(match service {
        TIME_SYNCHRONIZATION | UTC_TIME_SYNCHRONIZATION => Operation::TimeSync,
        WHO_IS | WHO_HAS => Operation::Identify,
        // WriteGroup writes channel values; You-Are assigns a device its identity.
        WRITE_GROUP | YOU_ARE => Operation::Write,
        _ => return None,
    })
}

/// True when a request carries a password: ReinitializeDevice [1] (16.4.1.1.2) or
/// DeviceCommunicationControl [2] (16.1.1.1.3). Only tag numbers are looked at.
pub(super) fn carries_password(service: u8, body: &[u8]) -> bool {
    let tag = match service {
        confirmed::REINITIALIZE_DEVICE => 1,
        confirmed::DEVICE_COMMUNICATION_CONTROL => 2,
        _ => return false,
    };
    TagReader::new(body)
        .map_while(Result::ok)
        .any(|t| t.is_ctx(tag))
}
