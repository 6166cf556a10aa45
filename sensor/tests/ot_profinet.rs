#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PROFINET DCP and PROFINET IO on whole captures (tests/data, copied from the corpus), expected
//! values checked against `tshark -Y pn_dcp -V` and `tshark -Y pn_io -V` of the same frames.

mod common;

use common::{asset, data, report};
use otwatch_common::model::Asset;

fn speaks(a: &Asset, role: &str) -> bool {
    a.protocols
        .iter()
        .any(|p| p.name == "profinet_dcp" && p.role == role)
}

#[test]
fn identify_response_of_an_s7_controller() {
    let r = report(&data("profinet-wireshark-bug.pcap"));
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
    let r = report(&data("PROFINET-RT.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // 14 Ident Req from 11 Siemens stations; a NameOfStation filter names whom they look for,
    // not themselves, so no asset gets a hostname.
    let requesters: Vec<&Asset> = r.assets.iter().filter(|a| speaks(a, "client")).collect();
    assert_eq!(requesters.len(), 11);
    assert!(requesters.iter().all(|a| a.hostname.is_empty()));

    // mb2.pcap has four of the same requests among much else; none is a DCP violation.
    let r = report(&data("mb2.pcap"));
    assert!(!r.stats().protocol_violations.contains_key("profinet_dcp"));
    assert!(speaks(asset(&r, "00:1b:1b:35:84:10"), "client"));
}

fn uses(a: &Asset, name: &str, role: &str, port: u32) -> bool {
    a.protocols
        .iter()
        .any(|p| p.name == name && p.role == role && p.port == port)
}

/// One PROFINET IO application relation (tests/data/profinet_io_cm_ar.pcapng, cut from the
/// corpus's mixed/profinet_io_cm_mixed_2.pcapng), values checked against `tshark -V`: a PC WORX
/// RT soft PLC connects to a GE VersaMax PNS, parameterises it, and releases the AR; cyclic data
/// and alarm-channel frames flow between the two MACs.
#[test]
fn io_controller_and_io_device_of_an_application_relation() {
    let r = report(&data("profinet_io_cm_ar.pcapng"));
    assert!(r.stats().protocol_violations.is_empty(), "{:?}", r.stats());

    // The IO device: DCP names it (NameOfStation, DeviceVendorValue), the CM's object UUID gives
    // the same vendor and device ids, the AR its type and Purdue level.
    let dev = asset(&r, "00:09:91:43:e0:67");
    assert_eq!(dev.ips, ["192.168.1.2"]);
    assert_eq!(dev.hostname, "versamax-pns11");
    assert_eq!(dev.model, "IC200PNS001");
    assert_eq!(dev.device_type, "io_module");
    assert_eq!(dev.purdue_level, Some(0));
    assert!(dev
        .evidence
        .iter()
        .any(|e| e.source == "profinet io object uuid"
            && e.value == "profinet vendor 0x015a device 0x0003"));
    assert!(dev
        .evidence
        .iter()
        .any(|e| e.source == "profinet io device role" && e.value == "io_module"));
    assert!(uses(dev, "profinet_io", "server", 34964));
    // Its cyclic input data and its alarm frames.
    assert!(uses(dev, "profinet_io", "server", 0));

    // The IO controller names itself in the ARBlockReq: NameOfStation, and vendor 0x00b0 (Phoenix
    // Contact) device 0x003c in CMInitiatorObjectUUID.
    let plc = asset(&r, "00:a0:45:6d:d3:43");
    assert_eq!(plc.ips, ["192.168.1.3"]);
    assert_eq!(plc.hostname, "pc-worx-rt-basic-6d-d3-43");
    assert_eq!(plc.vendor, "Phoenix Contact");
    assert_eq!(plc.device_type, "plc");
    assert_eq!(plc.purdue_level, Some(1));
    assert!(plc
        .evidence
        .iter()
        .any(|e| e.source == "profinet io cm initiator"
            && e.value == "profinet vendor 0x00b0 device 0x003c"));
    assert!(uses(plc, "profinet_io", "client", 34964));
    assert!(uses(plc, "profinet_io", "server", 0));

    // Every conversation between the two is PROFINET IO, none a bare udp/34964: the Connect,
    // PrmEnd and Release to 34964, the write and read to the device's own port, the device's
    // ApplicationReady back to the controller's 34964 and its answer from 65151.
    let mut calls: Vec<String> = r
        .connections
        .iter()
        .map(|c| {
            format!(
                "{} -> {}:{} {} {:?} {:?}",
                c.client, c.server, c.port, c.protocol, c.function_codes, c.operations
            )
        })
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            r#"192.168.1.2 -> 192.168.1.3:34964 profinet_io ["4"] ["control"]"#,
            r#"192.168.1.2 -> 192.168.1.3:65151 profinet_io [] []"#,
            r#"192.168.1.3 -> 192.168.1.2:34964 profinet_io ["0", "1", "4"] ["control"]"#,
            r#"192.168.1.3 -> 192.168.1.2:49152 profinet_io ["2", "3"] ["read", "write"]"#,
        ]
    );
}

/// profinet.pcap (tests/data): a ReadImplicit of I&M0FilterData is identification, and the
/// answer's object UUID describes the device that gave it.
#[test]
fn read_implicit_of_im0_filter_data() {
    let r = report(&data("profinet.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let c = r
        .connections
        .iter()
        .find(|c| c.client == "10.10.0.150" && c.server == "10.10.0.129")
        .expect("the ReadImplicit call");
    assert_eq!((c.port, c.protocol.as_str()), (34964, "profinet_io"));
    assert_eq!(c.function_codes, ["5"]);
    assert_eq!(c.operations, ["identify"]);
    let dev = r
        .assets
        .iter()
        .find(|a| a.ips.iter().any(|ip| ip == "10.10.0.129"))
        .unwrap();
    assert!(dev
        .evidence
        .iter()
        .any(|e| e.value == "profinet vendor 0x015a device 0x0003"));
    // A CPU answers ReadImplicit too: reading says nothing of the device's type.
    assert_eq!(dev.device_type, "unknown");
}
