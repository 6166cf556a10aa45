//! The evidence of the BACnet requests that change a device (ASHRAE 135-2020 clauses 14-16,
//! ASN.1 in clause 21): which reinitialization, which communication state and for how long,
//! which file, which clock value. Reads and polling get none.

use super::tags::{app, object_id, unsigned, TagReader};
use super::wire::{confirmed, unconfirmed};
use otwatch_common::observation::Details;

/// Object type of a File object (clause 21, BACnetObjectType file (10)).
const OBJECT_FILE: u32 = 10;

/// BACnetReinitializedStateOfDevice (clause 21), by value.
const REINITIALIZED_STATES: [&str; 8] = [
    "coldstart",
    "warmstart",
    "startbackup",
    "endbackup",
    "startrestore",
    "endrestore",
    "abortrestore",
    "activate-changes",
];

/// The content of the next tag when it is context tag `number`.
fn context<'a>(r: &mut TagReader<'a>, number: u8) -> Option<&'a [u8]> {
    match r.peek()? {
        Ok(t) if t.is_ctx(number) => {
            r.next();
            t.value()
        }
        _ => None,
    }
}

/// Details of a confirmed request that changes a device; empty for the others.
pub fn confirmed_details(service: u8, body: &[u8]) -> Details {
    match service {
        confirmed::REINITIALIZE_DEVICE => reinitialize(body),
        confirmed::DEVICE_COMMUNICATION_CONTROL => communication_control(body),
        confirmed::ATOMIC_READ_FILE => file(body, false),
        confirmed::ATOMIC_WRITE_FILE => file(body, true),
        _ => Vec::new(),
    }
}

/// Details of an unconfirmed request that changes a device: the time synchronizations.
pub fn unconfirmed_details(service: u8, body: &[u8]) -> Details {
    let (name, utc) = match service {
        unconfirmed::TIME_SYNCHRONIZATION => ("TimeSynchronization", false),
        unconfirmed::UTC_TIME_SYNCHRONIZATION => ("UTCTimeSynchronization", true),
        _ => return Vec::new(),
    };
    let mut d = vec![
        ("service", name.to_owned()),
        ("setting", "clock".to_owned()),
    ];
    if let Some(v) = date_time(body, utc) {
        d.push(("value", v));
    }
    d
}

/// ReinitializeDevice-Request (16.4.1.1): reinitializedStateOfDevice [0] ENUMERATED,
/// password [1] OPTIONAL (never read).
fn reinitialize(body: &[u8]) -> Details {
    let state = context(&mut TagReader::new(body), 0).and_then(unsigned);
    let name = match state.and_then(|s| REINITIALIZED_STATES.get(s as usize)) {
        Some(n) => format!("ReinitializeDevice {n}"),
        None => match state {
            Some(s) => format!("ReinitializeDevice state {s}"),
            None => "ReinitializeDevice".to_owned(),
        },
    };
    vec![("service", name)]
}

/// DeviceCommunicationControl-Request (16.1.1): timeDuration [0] Unsigned16 OPTIONAL
/// (minutes), enable-disable [1] ENUMERATED { enable, disable, disable-initiation },
/// password [2] OPTIONAL (never read).
fn communication_control(body: &[u8]) -> Details {
    let mut r = TagReader::new(body);
    let minutes = context(&mut r, 0).and_then(unsigned);
    let state = match context(&mut r, 1).and_then(unsigned) {
        Some(0) => "enable",
        Some(1) => "disable",
        Some(2) => "disable-initiation",
        _ => "unknown",
    };
    let mut d = vec![
        ("service", format!("DeviceCommunicationControl {state}")),
        ("setting", "communication".to_owned()),
        ("value", state.to_owned()),
    ];
    if let Some(m) = minutes {
        d.push(("duration", format!("{m} minutes")));
    }
    d
}

/// AtomicReadFile-Request (15.1.1) / AtomicWriteFile-Request (15.2.1): fileIdentifier
/// BACnetObjectIdentifier, then streamAccess [0] or recordAccess [1]. For a stream write the
/// number of octets written (fileData OCTET STRING after fileStartPosition) is shown.
fn file(body: &[u8], write: bool) -> Details {
    let mut r = TagReader::new(body);
    let id = r
        .next()
        .and_then(Result::ok)
        .filter(|t| t.is_app(app::OBJECT_IDENTIFIER))
        .and_then(|t| t.value())
        .and_then(object_id);
    let (service, op) = if write {
        ("AtomicWriteFile", "write")
    } else {
        ("AtomicReadFile", "read")
    };
    let mut d = vec![("service", service.to_owned())];
    if let Some((ty, instance)) = id {
        let name = if ty == OBJECT_FILE {
            format!("file {instance}")
        } else {
            format!("object type {ty} instance {instance}")
        };
        d.push(("object", name.clone()));
        d.push(("file", name));
    }
    d.push(("file_op", op.to_owned()));
    if write && r.next().and_then(Result::ok).is_some_and(|t| t.is_open(0)) {
        // fileStartPosition INTEGER, fileData OCTET STRING (application tag 6).
        let data = r.nth(1).and_then(Result::ok).filter(|t| t.is_app(6));
        if let Some(v) = data.and_then(|t| t.value()) {
            d.push(("bytes", v.len().to_string()));
        }
    }
    d
}

/// Date and Time application values (20.2.12, 20.2.13): year - 1900, month, day, weekday;
/// hour, minute, second, hundredths. 255 is "unspecified", shown as "*".
fn date_time(body: &[u8], utc: bool) -> Option<String> {
    let mut r = TagReader::new(body);
    let date = r.next()?.ok().filter(|t| t.is_app(10))?.value()?;
    let time = r.next()?.ok().filter(|t| t.is_app(11))?.value()?;
    let &[y, mo, d, _] = date.first_chunk::<4>()?;
    let &[h, mi, s, cs] = time.first_chunk::<4>()?;
    let field = |v: u8, width: usize| {
        if v == 255 {
            "*".to_owned()
        } else {
            format!("{v:0width$}")
        }
    };
    let year = if y == 255 {
        "*".to_owned()
    } else {
        (1900 + u32::from(y)).to_string()
    };
    Some(format!(
        "{year}-{}-{}T{}:{}:{}.{}{}",
        field(mo, 2),
        field(d, 2),
        field(h, 2),
        field(mi, 2),
        field(s, 2),
        field(cs, 2),
        if utc { "Z" } else { "" }
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::testing::hex;

    fn d(pairs: &[(&'static str, &str)]) -> Details {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn reinitialize_names_the_state_and_never_the_password() {
        // bacnet_example.pcap: state [0] 6 (abort-restore), password [1] "Breloom20".
        let body = hex("09061d0a004272656c6f6f6d3230");
        let det = confirmed_details(confirmed::REINITIALIZE_DEVICE, &body);
        assert_eq!(det, d(&[("service", "ReinitializeDevice abortrestore")]));
        assert_eq!(
            confirmed_details(confirmed::REINITIALIZE_DEVICE, &hex("0900")),
            d(&[("service", "ReinitializeDevice coldstart")])
        );
    }

    #[test]
    fn communication_control_state_and_duration() {
        // Built (16.1.1): timeDuration [0] 60, enable-disable [1] disable, password [2].
        let body = hex("093c19012d0700736563726574");
        assert_eq!(
            confirmed_details(confirmed::DEVICE_COMMUNICATION_CONTROL, &body),
            d(&[
                ("service", "DeviceCommunicationControl disable"),
                ("setting", "communication"),
                ("value", "disable"),
                ("duration", "60 minutes"),
            ])
        );
        // No duration, disable-initiation.
        let det = confirmed_details(confirmed::DEVICE_COMMUNICATION_CONTROL, &hex("1902"));
        assert_eq!(det[2], ("value", "disable-initiation".to_owned()));
        assert_eq!(det.len(), 3);
    }

    #[test]
    fn atomic_file_requests() {
        // Built (15.2.1): file 3, streamAccess [0] { start 0, fileData 4 octets }.
        let body = hex("c402800003 0e 3100 6504 deadbeef 0f");
        assert_eq!(
            confirmed_details(confirmed::ATOMIC_WRITE_FILE, &body),
            d(&[
                ("service", "AtomicWriteFile"),
                ("object", "file 3"),
                ("file", "file 3"),
                ("file_op", "write"),
                ("bytes", "4"),
            ])
        );
        // Built (15.1.1): file 3, streamAccess { start 0, requestedOctetCount 512 }.
        let body = hex("c402800003 0e 3100 220200 0f");
        assert_eq!(
            confirmed_details(confirmed::ATOMIC_READ_FILE, &body),
            d(&[
                ("service", "AtomicReadFile"),
                ("object", "file 3"),
                ("file", "file 3"),
                ("file_op", "read"),
            ])
        );
    }

    #[test]
    fn time_synchronization_value() {
        // bacnet_segmented_data.pcap frame 9: date 2018-03-06 (Tuesday), time 16:18:48.27.
        let body = hex("a476030602b41012301b");
        assert_eq!(
            unconfirmed_details(unconfirmed::TIME_SYNCHRONIZATION, &body),
            d(&[
                ("service", "TimeSynchronization"),
                ("setting", "clock"),
                ("value", "2018-03-06T16:18:48.27"),
            ])
        );
        assert_eq!(
            unconfirmed_details(unconfirmed::UTC_TIME_SYNCHRONIZATION, &body)[2].1,
            "2018-03-06T16:18:48.27Z"
        );
        assert!(unconfirmed_details(unconfirmed::WHO_IS, &[]).is_empty());
    }
}
