//! Device type and Purdue level from what an asset does, with the evidence for each.
//!
//! Identity answers win (a PROFINET station that says it is an IO-device, LLDP capabilities);
//! then behaviour: the end that *serves* an industrial control protocol is a controller of the
//! kind that protocol implies, the end that sends program downloads or CPU stop/start to
//! controllers is an engineering workstation, and an end that polls controllers is an HMI or,
//! when it polls many, a SCADA server. A historian is only named on evidence: its own name
//! says so (an OPC UA application, a host name), or it polls several controllers read-only
//! *and* serves a historian or database port to hosts that are not controllers. Levels follow the Purdue model: 0 field I/O, 1 control,
//! 2 supervision, 3 site operations, 4 enterprise IT, 5 the internet.

use super::facts::EvidenceRec;
use otwatch_common::observation::Field;
use otwatch_common::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Industrial protocols whose server is a controller, and which controller type that means.
const CONTROLLER_PROTOCOLS: &[(&str, &str)] = &[
    ("s7comm", "plc"),
    ("s7comm_plus", "plc"),
    ("modbus", "plc"),
    ("enip", "plc"),
    ("cip", "plc"),
    ("umas", "plc"),
    ("omron_fins", "plc"),
    ("ads", "plc"),
    ("codesys", "plc"),
    ("slmp", "plc"),
    // A GE-SRTP server: a Series 90, VersaMax or PACSystems CPU or its Ethernet module.
    ("srtp", "plc"),
    ("dnp3", "rtu"),
    ("iec104", "rtu"),
    ("mms", "ied"),
    // A HART-IP server is a gateway or multiplexer unless its Command 0 profile says it is a
    // field device (which outranks this: see `hart_ip`).
    ("hart_ip", "rtu"),
    // A Niagara station: a JACE, unless its Fox hello says it runs as a Supervisor (see `fox`).
    ("fox", "building_controller"),
    // A KNXnet/IP interface or router: the KNX installation's gateway, placed as BACnet's.
    ("knxip", "building_controller"),
    // A PMU: the data source of a synchrophasor stream.
    ("c37_118", "ied"),
    ("goose", "ied"),
    ("bacnet", "building_controller"),
    ("opcua", "opc_server"),
];

/// The protocol whose client is a phasor data concentrator.
const PDC_PROTOCOL: &str = "c37_118";

/// Operations that only an engineering tool sends.
const ENGINEERING_OPS: &[&str] = &[
    "program_download",
    "program_upload",
    "program_delete",
    "firmware_update",
    "cpu_stop",
    "cpu_start",
];

/// An OT client polling at least this many controllers is a SCADA server, not an HMI panel.
const SCADA_MIN_SERVERS: usize = 5;

/// A historian collects from more than one controller.
const HISTORIAN_MIN_SERVERS: usize = 2;

/// TCP ports of historian and time-series database servers: Microsoft SQL Server 1433
/// (AVEVA/Wonderware Historian's store), PostgreSQL 5432, MySQL 3306, OSIsoft PI Data
/// Archive 5450, InfluxDB HTTP API 8086, AVEVA Historian Client Access Point 32568.
pub const HISTORIAN_PORTS: &[u16] = &[1433, 3306, 5432, 5450, 8086, 32568];

/// Operations a data collector performs; anything else (write, control, downloads) means
/// the host does more than record.
const COLLECTOR_OPS: &[&str] = &["read", "identify", "diagnostics", "time_sync"];

/// Words in an asset's own name or description that name a historian product (compared
/// without case). "PI" alone or "Wonderware" alone are not enough: PI is a common word and
/// Wonderware also makes HMIs (InTouch).
const HISTORIAN_NAMES: &[&str] = &[
    "historian",
    "osisoft",
    "pi data archive",
    "influxdb",
    "infoplus.21",
];

/// True when a name or description names a historian product.
pub fn historian_name(value: &str) -> bool {
    let v = value.to_lowercase();
    HISTORIAN_NAMES.iter().any(|n| v.contains(n))
}

/// What an asset did, gathered from its connections.
#[derive(Debug, Default, Clone)]
pub struct Behaviour {
    /// Protocols it answered as server.
    pub served: BTreeSet<String>,
    /// Operations performed on it (as server).
    pub ops_received: BTreeSet<String>,
    /// Operations it performed (as client) on OT protocols.
    pub ops_performed: BTreeSet<String>,
    /// Protocols it used as client.
    pub used: BTreeSet<String>,
    /// Distinct servers it talked to over controller protocols.
    pub ot_servers: BTreeSet<IpAddr>,
    /// Internet hosts it reached (global addresses seen only behind a router).
    pub internet_peers: BTreeSet<IpAddr>,
    /// Its own addresses are internet hosts.
    pub is_internet: bool,
    /// Historian ports it served, each with the clients that are not controllers.
    pub historian_ports: BTreeMap<u16, BTreeSet<IpAddr>>,
    /// Its own names and descriptions that name a historian, as "value (source)".
    pub historian_names: Vec<String>,
    pub first_seen: Timestamp,
}

impl Behaviour {
    pub fn served_controller_protocol(&self) -> Option<(&'static str, &'static str)> {
        CONTROLLER_PROTOCOLS
            .iter()
            .find(|(p, _)| self.served.contains(*p))
            .copied()
    }

    /// Why this asset is a historian, if the evidence says so.
    fn historian(&self) -> Option<String> {
        if let Some(name) = self.historian_names.first() {
            return Some(format!("identity: {name} names a historian"));
        }
        let collects = self.ot_servers.len() >= HISTORIAN_MIN_SERVERS
            && self
                .ops_performed
                .iter()
                .all(|op| COLLECTOR_OPS.contains(&op.as_str()));
        let (port, clients) = self
            .historian_ports
            .iter()
            .find(|(_, clients)| !clients.is_empty())?;
        collects.then(|| {
            format!(
                "behaviour: reads {} controllers and serves tcp {port} to {} other host(s)",
                self.ot_servers.len(),
                clients.len()
            )
        })
    }
}

/// True for a protocol whose server is a controller.
pub fn is_controller_protocol(name: &str) -> bool {
    CONTROLLER_PROTOCOLS.iter().any(|(p, _)| *p == name)
}

pub use otwatch_common::addr::is_global;

fn rec(field: Field, value: &str, source: String, at: Timestamp) -> EvidenceRec {
    EvidenceRec {
        field,
        value: value.to_string(),
        source,
        first_seen: at,
    }
}

fn purdue_of(device_type: &str) -> Option<u32> {
    match device_type {
        "io_module" => Some(0),
        "plc" | "rtu" | "ied" | "building_controller" => Some(1),
        "hmi" | "engineering_workstation" | "scada_server" | "opc_server" | "pdc" => Some(2),
        "historian" => Some(3),
        _ => None,
    }
}

/// Decides device type and Purdue level. `identity_type` is the strongest device type an
/// identity protocol claimed (with its source rank); `has_os` says an OS is known.
pub fn classify(
    b: &Behaviour,
    identity_type: Option<(&str, u8)>,
    has_os: bool,
) -> (String, Option<u32>, Vec<EvidenceRec>) {
    let at = b.first_seen;
    let mut ev = Vec::new();
    let engineering: Vec<&str> = ENGINEERING_OPS
        .iter()
        .copied()
        .filter(|op| b.ops_performed.contains(*op))
        .collect();
    let controller = b.served_controller_protocol();
    let historian = b.historian();
    let behaviour_type: Option<(String, String)> =
        if let (Some(why), None | Some(("opcua", _))) = (&historian, controller) {
            // A historian often serves OPC UA itself; a PLC or RTU is never a historian.
            Some(("historian".to_string(), why.clone()))
        } else if let Some((proto, ty)) = controller {
            let mut why = format!("behaviour: answers {proto} as server");
            if let Some(op) = ENGINEERING_OPS
                .iter()
                .find(|op| b.ops_received.contains(**op))
            {
                why.push_str(&format!(" and receives {op}"));
            }
            Some((ty.to_string(), why))
        } else if b.used.contains(PDC_PROTOCOL) {
            // The client of PMUs' synchrophasor streams concentrates them.
            Some((
                "pdc".to_string(),
                format!("behaviour: receives {PDC_PROTOCOL} synchrophasor streams as client"),
            ))
        } else if !engineering.is_empty() {
            Some((
                "engineering_workstation".to_string(),
                format!("behaviour: sends {} to controllers", engineering.join(", ")),
            ))
        } else if b.ot_servers.len() >= SCADA_MIN_SERVERS {
            Some((
                "scada_server".to_string(),
                format!("behaviour: polls {} controllers", b.ot_servers.len()),
            ))
        } else if !b.ot_servers.is_empty() {
            Some((
                "hmi".to_string(),
                format!("behaviour: polls {} controller(s)", b.ot_servers.len()),
            ))
        } else {
            None
        };
    let device_type = match (identity_type, behaviour_type) {
        // Discovery and identity protocols (rank 80+) outrank behaviour.
        (Some((t, rank)), _) if rank >= 80 => t.to_string(),
        (_, Some((t, why))) => {
            ev.push(rec(Field::DeviceType, &t, why, at));
            t
        }
        (Some((t, _)), None) => t.to_string(),
        (None, None) if has_os => {
            ev.push(rec(
                Field::DeviceType,
                "it_host",
                "behaviour: an operating system is known and no industrial role".into(),
                at,
            ));
            "it_host".to_string()
        }
        (None, None) => "unknown".to_string(),
    };
    let level = if let Some(l) = purdue_of(&device_type) {
        ev.push(rec(
            Field::PurdueLevel,
            &l.to_string(),
            format!("device type {device_type}"),
            at,
        ));
        Some(l)
    } else if b.is_internet {
        ev.push(rec(
            Field::PurdueLevel,
            "5",
            "global address seen only behind a router".into(),
            at,
        ));
        Some(5)
    } else if let Some(peer) = b.internet_peers.first() {
        ev.push(rec(
            Field::PurdueLevel,
            "4",
            format!("reaches internet host {peer}"),
            at,
        ));
        Some(4)
    } else {
        None
    };
    (device_type, level, ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Behaviour {
        Behaviour::default()
    }

    #[test]
    fn the_client_of_a_synchrophasor_stream_is_a_pdc_and_its_pmu_an_ied() {
        let mut pdc = b();
        pdc.used.insert("c37_118".into());
        pdc.ot_servers.insert("192.168.0.60".parse().unwrap());
        let (t, l, _) = classify(&pdc, None, false);
        assert_eq!((t.as_str(), l), ("pdc", Some(2)));
        let mut pmu = b();
        pmu.served.insert("c37_118".into());
        let (t, l, _) = classify(&pmu, None, false);
        assert_eq!((t.as_str(), l), ("ied", Some(1)));
    }

    #[test]
    fn servers_of_control_protocols_are_controllers() {
        let mut x = b();
        x.served.insert("s7comm".into());
        x.ops_received.insert("program_download".into());
        let (t, l, ev) = classify(&x, None, false);
        assert_eq!((t.as_str(), l), ("plc", Some(1)));
        assert!(ev[0].source.contains("receives program_download"));
        let mut x = b();
        x.served.insert("dnp3".into());
        assert_eq!(classify(&x, None, true).0, "rtu");
    }

    #[test]
    fn clients_are_workstations_hmis_or_scada() {
        let mut x = b();
        x.ops_performed.insert("cpu_stop".into());
        x.ot_servers.insert("10.0.0.1".parse().unwrap());
        assert_eq!(classify(&x, None, true).0, "engineering_workstation");
        let mut x = b();
        x.ot_servers.insert("10.0.0.1".parse().unwrap());
        assert_eq!(
            classify(&x, None, true),
            ("hmi".into(), Some(2), classify(&x, None, true).2)
        );
        for i in 0..5u8 {
            x.ot_servers.insert(IpAddr::from([10, 0, 0, i]));
        }
        assert_eq!(classify(&x, None, false).0, "scada_server");
    }

    #[test]
    fn historians_need_evidence() {
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        // Reads two controllers and serves SQL Server to an office host: historian, level 3.
        let mut x = b();
        x.ot_servers.extend([ip(1), ip(2)]);
        x.ops_performed.insert("read".into());
        x.historian_ports.entry(1433).or_default().insert(ip(50));
        let (t, l, ev) = classify(&x, None, true);
        assert_eq!((t.as_str(), l), ("historian", Some(3)));
        assert_eq!(
            ev[0].source,
            "behaviour: reads 2 controllers and serves tcp 1433 to 1 other host(s)"
        );
        // The same without a database client, with one controller, or writing: not one.
        let mut y = x.clone();
        y.historian_ports.clear();
        y.historian_ports.entry(1433).or_default();
        assert_eq!(classify(&y, None, true).0, "hmi");
        let mut y = x.clone();
        y.ot_servers.remove(&ip(2));
        assert_eq!(classify(&y, None, true).0, "hmi");
        let mut y = x.clone();
        y.ops_performed.insert("write".into());
        assert_eq!(classify(&y, None, true).0, "hmi");
        // A PLC is never a historian, whatever it serves.
        let mut y = x.clone();
        y.served.insert("modbus".into());
        assert_eq!(classify(&y, None, true).0, "plc");
        // Its own name says so: even an OPC UA server is then a historian.
        let mut y = b();
        y.served.insert("opcua".into());
        assert_eq!(classify(&y, None, false).0, "opc_server");
        y.historian_names
            .push("opcua application AVEVA Historian (urn:x) (opcua create session)".into());
        assert_eq!(classify(&y, None, false).0, "historian");
        // Identity protocols that name a type still win.
        assert_eq!(classify(&y, Some(("switch", 85)), false).0, "switch");
        assert!(historian_name("PLANT-HISTORIAN-01"));
        assert!(historian_name("OSIsoft PI Data Archive"));
        assert!(!historian_name("Raspberry PI 4"));
        assert!(!historian_name("Wonderware InTouch"));
    }

    #[test]
    fn identity_outranks_behaviour_and_internet_levels() {
        let mut x = b();
        x.served.insert("modbus".into());
        assert_eq!(classify(&x, Some(("switch", 85)), false).0, "switch");
        assert_eq!(classify(&x, Some(("router", 20)), false).0, "plc");
        let mut x = b();
        x.internet_peers.insert("8.8.8.8".parse().unwrap());
        assert_eq!(
            classify(&x, None, true),
            ("it_host".into(), Some(4), classify(&x, None, true).2)
        );
        let x = Behaviour {
            is_internet: true,
            ..b()
        };
        assert_eq!(classify(&x, None, false).1, Some(5));
        assert!(is_global(&"141.81.0.10".parse().unwrap()));
        assert!(!is_global(&"192.168.1.1".parse().unwrap()));
        assert!(!is_global(&"fd00::1".parse().unwrap()));
    }
}
