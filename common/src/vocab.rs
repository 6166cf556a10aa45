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
