//! The closed vocabularies of the report model: the values that sensors put into the string
//! fields of `inventory.proto` (device type, protocol name, alert kind and severity) and that
//! the manager puts into a fleet alert's state, plus the Purdue level range.
//!
//! They live here, in the crate both sensor and manager depend on, so that there is one list
//! to check values against (the `otwatch` CLI refuses `--type toaster`) which the sensor can
//! use too. For now the sensor's analysis crate still spells its values out where it makes
//! them (its protocol registry, its alert catalog); a test of the manager
//! (`manager/tests/cli.rs`) compares those and the proto comments with these lists, so that
//! they cannot drift apart unnoticed.

/// `Asset.device_type`, in the order of its comment in `inventory.proto`.
pub const DEVICE_TYPES: &[&str] = &[
    "plc",
    "rtu",
    "ied",
    "hmi",
    "engineering_workstation",
    "historian",
    "pdc",
    "scada_server",
    "opc_server",
    "building_controller",
    "io_module",
    "switch",
    "router",
    "iot_device",
    "it_host",
    "unknown",
];

/// The highest Purdue level (`Asset.purdue_level` is 0 to this).
pub const MAX_PURDUE_LEVEL: u32 = 5;

/// `ProtocolUse.name` and `Connection.protocol`: every protocol the sensor's registry
/// recognises on flows and frames, plus `arp` (seen by the pipeline itself). Industrial
/// protocols first.
pub const PROTOCOLS: &[&str] = &[
    "modbus",
    "dnp3",
    "s7comm",
    "s7comm_plus",
    "enip",
    "enip_io",
    "bacnet",
    "iec104",
    "mms",
    "ads",
    "slmp",
    "hart_ip",
    "fox",
    "knxip",
    "omron_fins",
    "codesys",
    "srtp",
    "c37_118",
    "goose",
    "sv",
    "ethercat",
    "opcua",
    "profinet_dcp",
    "profinet_io",
    "mqtt",
    "dhcp",
    "dns",
    "http",
    "tls",
    "ssh",
    "telnet",
    "ftp",
    "rdp",
    "vnc",
    "smb",
    "snmp",
    "lldp",
    "cdp",
    "nbns",
    "mdns",
    "llmnr",
    "ssdp",
    "arp",
];

/// `Alert.severity`, from the least serious.
pub const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

/// `Alert.kind` of the built-in detections, in the order of the alert catalog
/// (docs/DETECTION.md).
pub const ALERT_KINDS: &[&str] = &[
    "plc_program_download",
    "plc_program_upload",
    "plc_program_delete",
    "firmware_update",
    "plc_stop",
    "plc_start",
    "device_restart",
    "plc_config_change",
    "cleartext_credentials",
    "brute_force",
    "remote_access_session",
    "scan_detected",
    "flood",
    "arp_spoofing",
    "ip_conflict",
    "internet_connection",
    "protocol_violation",
    "ioc_match",
    "new_asset",
    "new_conversation",
    "unauthorized_write",
    "new_operation",
    "unknown_protocol_in_ot_zone",
];

/// The prefix of the kinds analyst rules raise: `rule:<name of the rule>`.
pub const RULE_KIND_PREFIX: &str = "rule:";

/// `FleetAlert.state`: what operators did with an alert on the manager.
pub const ALERT_STATES: &[&str] = &["new", "acknowledged", "resolved"];

/// The alert status filter's word for the alerts not resolved yet (new or acknowledged), as
/// `otwatch sites` counts open alerts.
pub const OPEN_ALERTS: &str = "open";

/// One of the lists above with the rule a value given by a person is matched by: any ASCII
/// case, `-` for `_`, surrounding blanks ignored. The `otwatch` CLI checks its filters with it
/// when it parses the command line, and the Manager API refuses a filter value outside it, so
/// that a typo is an error instead of an empty answer that looks like "none".
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// The values, as sensors and the manager spell them.
    pub values: &'static [&'static str],
    /// Words a filter takes besides the values, each standing for several of them
    /// ([`OPEN_ALERTS`]).
    pub also: &'static [&'static str],
    /// Also `rule:<name>` with any name (alert kinds raised by analyst rules).
    pub rules: bool,
}

/// `Asset.device_type`.
pub const DEVICE_TYPE: Vocabulary = Vocabulary::closed(DEVICE_TYPES);
/// `ProtocolUse.name`: a protocol the sensor recognises.
pub const PROTOCOL: Vocabulary = Vocabulary::closed(PROTOCOLS);
/// `Alert.severity`.
pub const SEVERITY: Vocabulary = Vocabulary::closed(SEVERITIES);
/// `FleetAlert.state`, or [`OPEN_ALERTS`].
pub const ALERT_STATUS: Vocabulary = Vocabulary {
    values: ALERT_STATES,
    also: &[OPEN_ALERTS],
    rules: false,
};
/// `Alert.kind`: a built-in kind, or `rule:<name>` for an analyst rule.
pub const ALERT_KIND: Vocabulary = Vocabulary {
    values: ALERT_KINDS,
    also: &[],
    rules: true,
};

impl Vocabulary {
    const fn closed(values: &'static [&'static str]) -> Vocabulary {
        Vocabulary {
            values,
            also: &[],
            rules: false,
        }
    }

    /// The value that `given` names, in the list's spelling; `None` when it names none.
    pub fn find(&self, given: &str) -> Option<String> {
        let given = given.trim();
        if self.rules {
            let n = RULE_KIND_PREFIX.len();
            if given
                .get(..n)
                .is_some_and(|p| p.eq_ignore_ascii_case(RULE_KIND_PREFIX))
            {
                // Rule names are the analyst's own: kept as written.
                let name = given.get(n..).unwrap_or_default();
                return (!name.is_empty()).then(|| format!("{RULE_KIND_PREFIX}{name}"));
            }
        }
        let wanted = given.to_ascii_lowercase().replace('-', "_");
        self.values
            .iter()
            .chain(self.also)
            .find(|v| **v == wanted)
            .map(|v| (*v).to_string())
    }

    /// The valid values as people may write them: the list, the words besides it, then
    /// `rule:<name>` when rules count.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        let rules = self.rules.then_some("rule:<name>");
        self.values.iter().chain(self.also).copied().chain(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_in_any_case_and_come_back_in_the_lists_spelling() {
        assert_eq!(DEVICE_TYPE.find("PLC").as_deref(), Some("plc"));
        assert_eq!(
            DEVICE_TYPE.find(" Engineering-Workstation ").as_deref(),
            Some("engineering_workstation")
        );
        assert_eq!(DEVICE_TYPE.find("toaster"), None);
        assert_eq!(SEVERITY.find("Critical").as_deref(), Some("critical"));
        assert_eq!(SEVERITY.find("urgent"), None);
        assert_eq!(
            ALERT_STATUS.find("ACKNOWLEDGED").as_deref(),
            Some("acknowledged")
        );
        assert_eq!(ALERT_STATUS.find("Open").as_deref(), Some(OPEN_ALERTS));
        assert_eq!(
            ALERT_STATUS.names().collect::<Vec<_>>(),
            ["new", "acknowledged", "resolved", "open"]
        );
        assert_eq!(PROTOCOL.find("S7COMM").as_deref(), Some("s7comm"));
        assert_eq!(ALERT_KIND.find("PLC_STOP").as_deref(), Some("plc_stop"));
        assert_eq!(
            ALERT_KIND.find("Rule:Modbus-Write").as_deref(),
            Some("rule:Modbus-Write")
        );
        assert_eq!(ALERT_KIND.find("rule:"), None);
        assert_eq!(SEVERITY.find("rule:x"), None);
        assert_eq!(ALERT_KIND.names().last(), Some("rule:<name>"));
        assert_eq!(SEVERITY.names().count(), SEVERITIES.len());
    }
}
