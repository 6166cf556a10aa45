#![allow(clippy::unwrap_used, clippy::expect_used)]
//! CODESYS end to end on `codesys_built.pcap`, a capture built message by message from the
//! published descriptions of the protocol by `tests/peers/codesys/build_pcap.py` (no public
//! capture of CODESYS exists, no independent peer is packaged and tshark has no CODESYS
//! dissector to compare with): the report names the V3 runtime from its name service and target
//! ident answers, the V2 controller from its read identity answer, classifies the controllers and
//! the engineering workstation, and raises the operations' alerts.

mod common;

use common::{asset, data, report};

#[test]
fn runtime_and_workstation_are_named_and_classified() {
    let r = report(&data("codesys_built.pcap"));
    assert!(
        r.stats().protocol_violations.is_empty(),
        "{:?}",
        r.stats().protocol_violations
    );
    assert!(r.connections.iter().all(|c| c.protocol == "codesys"));
    let plc = asset(&r, "10.77.1.20");
    // "CODESYS GmbH" as the runtime says, shown as the known vendor.
    assert_eq!(plc.vendor, "CODESYS");
    assert_eq!(plc.model, "CODESYS Control for Linux SL");
    assert_eq!(plc.firmware, "4.10.0.0");
    assert_eq!(plc.hostname, "plc-line-3");
    assert_eq!(plc.serial, "0815-4711");
    assert_eq!(plc.device_type, "plc");
    assert_eq!(plc.purdue_level, Some(1));
    let v2 = asset(&r, "10.77.1.21");
    assert_eq!(v2.device_type, "plc");
    assert_eq!(v2.model, "CoDeSys SP RISC");
    assert_eq!(v2.os, "Nucleus PLUS version 1.14");
    let ews = asset(&r, "10.77.1.10");
    assert_eq!(ews.device_type, "engineering_workstation");
}

#[test]
fn operations_raise_their_alerts() {
    let r = report(&data("codesys_built.pcap"));
    let kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    for kind in [
        "plc_stop",
        "plc_start",
        "plc_program_download",
        "cleartext_credentials",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let evidence = |kind: &str, field: &str| -> Vec<String> {
        r.alerts
            .iter()
            .filter(|a| a.kind == kind)
            .flat_map(|a| a.evidence.iter())
            .filter(|e| e.field == field)
            .map(|e| e.value.clone())
            .collect()
    };
    // The application download (service 0x02/0x05) names the application logged in to; the file
    // download (0x08/0x02) its file.
    let services = evidence("plc_program_download", "service");
    assert!(
        services.contains(&"application download".to_string()),
        "{services:?}"
    );
    assert!(
        services.contains(&"start file download".to_string()),
        "{services:?}"
    );
    let programs = evidence("plc_program_download", "program");
    assert!(
        programs.contains(&"Application".to_string()),
        "{programs:?}"
    );
    let files = evidence("plc_program_download", "file");
    assert!(
        files.contains(&"/PlcLogic/Application/Application.app".to_string()),
        "{files:?}"
    );
    assert_eq!(evidence("plc_stop", "service"), ["stop application"]);
    assert_eq!(evidence("cleartext_credentials", "user"), ["admin"]);
    for a in r.alerts.iter().filter(|a| a.kind.starts_with("plc_")) {
        assert_eq!(a.dst, "10.77.1.20", "{a:?}");
    }
}
