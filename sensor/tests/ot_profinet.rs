#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PROFINET DCP on whole captures (tests/data, copied from the corpus), expected values checked
//! against `tshark -Y pn_dcp -V` of the same frames.

use otwatch_common::model::{Asset, InventoryReport};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use std::path::Path;

fn report(file: &str) -> InventoryReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let out = analyze(&AnalyzeOptions {
        inputs: vec![dir.join(file)],
        state: None,
        progress: false,
        ..Default::default()
    })
    .unwrap();
    assert!(out.capture_errors.is_empty(), "{:?}", out.capture_errors);
    out.report
}

fn asset<'a>(r: &'a InventoryReport, mac: &str) -> &'a Asset {
    r.assets
        .iter()
        .find(|a| a.macs.iter().any(|x| x == mac))
        .unwrap_or_else(|| panic!("no asset with {mac}"))
}

fn speaks(a: &Asset, role: &str) -> bool {
    a.protocols
        .iter()
        .any(|p| p.name == "profinet_dcp" && p.role == role)
}

#[test]
fn identify_response_of_an_s7_controller() {
    let r = report("profinet-wireshark-bug.pcap");
    assert!(r.stats().protocol_violations.is_empty());
    // Ident OK from 00:02:e3:17:c7:50: DeviceVendorValue "S7-300EC", NameOfStation "%n%n%n "
    // (NUL padded), VendorID 0x002a DeviceID 0x0101, DeviceRoleDetails 0x02 (IO-Controller),
    // IPaddress 192.168.0.11 ("IP set").
    let plc = asset(&r, "00:02:e3:17:c7:50");
    assert_eq!(plc.ips, ["192.168.0.11"]);
    assert_eq!(plc.hostname, "%n%n%n");
    assert_eq!(plc.model, "S7-300EC");
    assert_eq!(plc.vendor, "Siemens");
    assert_eq!(plc.device_type, "plc");
    assert_eq!(plc.purdue_level, Some(1));
    assert!(plc
        .evidence
        .iter()
        .any(|e| e.source == "profinet dcp device id"
            && e.value == "profinet vendor 0x002a device 0x0101"));
    assert!(speaks(plc, "server"));
    // The Identify and Set requests came from 00:80:c8:38:a4:8b.
    assert!(speaks(asset(&r, "00:80:c8:38:a4:8b"), "client"));
}

#[test]
fn identify_requests_only() {
    let r = report("PROFINET-RT.pcap");
    assert!(r.stats().protocol_violations.is_empty());
    // 14 Ident Req from 11 Siemens stations; a NameOfStation filter names whom they look for,
    // not themselves, so no asset gets a hostname.
    let requesters: Vec<&Asset> = r.assets.iter().filter(|a| speaks(a, "client")).collect();
    assert_eq!(requesters.len(), 11);
    assert!(requesters.iter().all(|a| a.hostname.is_empty()));

    // mb2.pcap has four of the same requests among much else; none is a DCP violation.
    let r = report("mb2.pcap");
    assert!(!r.stats().protocol_violations.contains_key("profinet_dcp"));
    assert!(speaks(asset(&r, "00:1b:1b:35:84:10"), "client"));
}
