//! The closed-vocabulary filters of the list calls (device type, Purdue level, protocol; alert
//! status, severity, kind), checked before anything is listed.
//!
//! A list compares a filter with what sensors reported, exactly, so a value that no sensor
//! reports (`toaster`, or `PLC` for `plc`) would match nothing, and an empty answer reads as
//! "there are none". The `otwatch` CLI refuses such values when it parses its command line; this
//! does the same for every other client (grpcurl, scripts): a value of the list in any case
//! (and `-` for `_`) is taken in the list's spelling, anything else is INVALID_ARGUMENT naming
//! the valid values. Both match with [`Vocabulary::find`].

use otwatch_common::vocab::{self, Vocabulary};
use otwatch_proto::v1::{ListAlertsRequest, ListAssetsRequest};
use tonic::Status;

/// Puts the filters of a ListAssets request into the vocabulary's spelling, or refuses it.
pub(super) fn assets(q: &mut ListAssetsRequest) -> Result<(), Status> {
    q.device_type = one_of("device_type", &q.device_type, &vocab::DEVICE_TYPE)?;
    q.protocol = one_of("protocol", &q.protocol, &vocab::PROTOCOL)?;
    match q.purdue_level {
        Some(l) if l > vocab::MAX_PURDUE_LEVEL => Err(Status::invalid_argument(format!(
            "purdue_level {l} does not exist: Purdue levels are 0 (process) to {} (enterprise)",
            vocab::MAX_PURDUE_LEVEL
        ))),
        _ => Ok(()),
    }
}

/// Puts the filters of a ListAlerts request into the vocabulary's spelling, or refuses it.
pub(super) fn alerts(q: &mut ListAlertsRequest) -> Result<(), Status> {
    q.state = one_of("state", &q.state, &vocab::ALERT_STATUS)?;
    q.severity = one_of("severity", &q.severity, &vocab::SEVERITY)?;
    q.kind = one_of("kind", &q.kind, &vocab::ALERT_KIND)?;
    Ok(())
}

/// The value of `list` that the filter `field` names, in the list's spelling; empty stays
/// empty (no filter).
fn one_of(field: &str, given: &str, list: &Vocabulary) -> Result<String, Status> {
    if given.trim().is_empty() {
        return Ok(String::new());
    }
    list.find(given).ok_or_else(|| {
        let valid: Vec<&str> = list.names().collect();
        Status::invalid_argument(format!(
            "{field} {:?} is not one of the values sensors report; valid values (any case): {}",
            super::clean(given),
            valid.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_in_any_case_are_spelled_as_the_list() {
        let mut q = ListAssetsRequest {
            device_type: "PLC".into(),
            protocol: "S7Comm".into(),
            purdue_level: Some(1),
            ..Default::default()
        };
        assets(&mut q).unwrap();
        assert_eq!(
            (q.device_type.as_str(), q.protocol.as_str()),
            ("plc", "s7comm")
        );
        let mut q = ListAlertsRequest {
            state: "Acknowledged".into(),
            kind: "Rule:Modbus-Write".into(),
            ..Default::default()
        };
        alerts(&mut q).unwrap();
        assert_eq!(q.state, "acknowledged");
        assert_eq!(q.kind, "rule:Modbus-Write");
        assert_eq!(q.severity, "");
        let mut q = ListAlertsRequest {
            state: "OPEN".into(),
            ..Default::default()
        };
        alerts(&mut q).unwrap();
        assert_eq!(q.state, vocab::OPEN_ALERTS);
    }

    #[test]
    fn unknown_values_are_refused_with_the_valid_ones() {
        let mut q = ListAssetsRequest {
            device_type: "toaster".into(),
            ..Default::default()
        };
        let e = assets(&mut q).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().starts_with("device_type \"toaster\""), "{e:?}");
        assert!(e.message().contains("plc, rtu, ied"), "{e:?}");
        let mut q = ListAssetsRequest {
            purdue_level: Some(6),
            ..Default::default()
        };
        assert!(assets(&mut q).is_err());
        let mut q = ListAlertsRequest {
            kind: "plc-stpo".into(),
            ..Default::default()
        };
        let e = alerts(&mut q).unwrap_err();
        assert!(e.message().contains("rule:<name>"), "{e:?}");
    }
}
