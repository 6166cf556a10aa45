//! Tests on real LLDP frames (the bytes after the Ethernet header, trailers included, extracted
//! from the pcaps with a small pcap reader; expected values read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{self, hex, Noise};
use otwatch_common::observation::Role;
use otwatch_common::observation::Source;
use otwatch_common::observation::Subject;

/// lldp/lldp.pcap frame 1: SMC switch, chassis MAC, mgmt 192.168.2.10, FCS after the End TLV.
const SMC_SWITCH: &str = "02070400222d81db1004020731060200780807506f72742023310a0d534d43475338502d536d6172740c23534d43475338502d536d617274202d20534d43475338502d536d6172742076332e32300e0400040004100c0501c0a8020a0200000001000000bb14272c";
/// profinet/Profinet_Failed.pcap frame 2: Dell PC, locally assigned chassis, station only.
const DELL_PC: &str = "02100773636164612d70632d303630383339040907706f72742d303031060200140a0f53434144412d50432d3036303833390c2744656c6c20496e632e204f707469506c6578203939302c30312c47323258423253202b20484d490e0400800080101405010a0a0a460200000001082b0601040181c06efe08000ecf0200000000fe0a000ecf05001018cb8c03fe0900120f0103ec0300100000";
/// profinet/Profinet_Failed.pcap frame 3: Siemens PROFINET device, mgmt address 0.0.0.0.
const SIEMENS_PN: &str = "020704001b1b3434cb040907706f72742d303033060200140c325369656d656e732041472053494d41544943205337204d554c5449504f5254205343414c414e43452058203230302046414d0e040080008010140501000000000200000003082b0601040181c06efe08000ecf0200000000fe0a000ecf05001b1b3434cbfe0900120f01036c00000f0000";
/// mixed/mb2.pcap frame 499: SCALANCE X212-2 with "FW: V4.02" in its system description.
const SCALANCE: &str = "02080773776974636831040907706f72742d30303106020014082d5369656d656e732c2053494d41544943204e45542c2045746865726e65742053776974636820506f72742030310a07537769746368310c4c5369656d656e732c2053494d41544943204e45542c205343414c414e434520583231322d322c2036474b35203231322d32424230302d324141332c2048573a20372c2046573a2056342e30320e0400800080101405018d5100be0200000001082b0601040181c06efe08000ecf0200000000fe0a000ecf05001b1b02e61efe0900120f01036c0000100000";
/// enip/EIP-FirmwareChange.pcap frame 2: D-Link, only mandatory TLVs and a mgmt address.
const DLINK: &str = "02070400219106f166040301313906020078100c0501d049d98e02000000000000000000000000000000000000000000";
/// enip/enip_cip_example.pcap frame 623: LLDP-MED endpoint (capabilities TLV, no inventory).
const MED_ENDPOINT: &str =
    "020704644bf02b3171040703644bf02b317106020e11fe0900120f010300010000fe070012bb0100010100000000";

const ALL: &[&str] = &[
    SMC_SWITCH,
    DELL_PC,
    SIEMENS_PN,
    SCALANCE,
    DLINK,
    MED_ENDPOINT,
];

fn run(src: &str, payload: &[u8]) -> Vec<Observation> {
    let mut out = Vec::new();
    parse_frame(src.parse().unwrap(), payload, Timestamp(0), &mut out);
    out
}

fn id(src: &str, field: Field, value: &str, source: Source) -> Observation {
    testing::id(Subject::Mac(src.parse().unwrap()), field, value, source)
}

fn speaks(src: &str) -> Observation {
    testing::speaks(Subject::Mac(src.parse().unwrap()), "lldp", Role::Server, 0)
}

fn binding(src: &str, ip: &str) -> Observation {
    Observation::Binding {
        mac: src.parse().unwrap(),
        ip: ip.parse().unwrap(),
        source: "lldp management address",
    }
}

#[test]
fn smc_switch() {
    let bytes = hex(SMC_SWITCH);
    let pdu = parse(&bytes).unwrap();
    assert_eq!(pdu.chassis_mac(), "00:22:2d:81:db:10".parse().ok());
    assert_eq!(pdu.port_id, (7, &b"1"[..]));
    assert_eq!(pdu.ttl, 120);
    assert_eq!(pdu.port_description, Some(&b"Port #1"[..]));
    assert_eq!(pdu.capabilities, Some((0x0004, 0x0004)));
    let m = "00:22:2d:81:db:10";
    assert_eq!(
        run(m, &hex(SMC_SWITCH)),
        vec![
            speaks(m),
            id(
                m,
                Field::Hostname,
                "SMCGS8P-Smart",
                source::LLDP_SYSTEM_NAME
            ),
            id(
                m,
                Field::Description,
                "SMCGS8P-Smart - SMCGS8P-Smart v3.20",
                source::LLDP_SYSTEM_DESCRIPTION
            ),
            id(m, Field::DeviceType, "switch", source::LLDP_CAPABILITIES),
            binding(m, "192.168.2.10"),
        ]
    );
}

#[test]
fn profinet_station_only_has_no_device_type() {
    let m = "00:10:18:cb:8c:03";
    let bytes = hex(DELL_PC);
    let pdu = parse(&bytes).unwrap();
    assert_eq!(pdu.chassis_id, (7, &b"scada-pc-060839"[..]));
    assert_eq!(pdu.ttl, 20);
    assert_eq!(pdu.profinet_chassis_mac, m.parse().ok());
    assert_eq!(
        run(m, &hex(DELL_PC)),
        vec![
            speaks(m),
            id(
                m,
                Field::Hostname,
                "SCADA-PC-060839",
                source::LLDP_SYSTEM_NAME
            ),
            id(
                m,
                Field::Description,
                "Dell Inc. OptiPlex 990,01,G22XB2S + HMI",
                source::LLDP_SYSTEM_DESCRIPTION
            ),
            binding(m, "10.10.10.70"),
        ]
    );
    // Management address 0.0.0.0 binds nothing.
    let m = "00:1b:1b:34:34:ce";
    assert_eq!(
        run(m, &hex(SIEMENS_PN)),
        vec![
            speaks(m),
            id(
                m,
                Field::Description,
                "Siemens AG SIMATIC S7 MULTIPORT SCALANCE X 200 FAM",
                source::LLDP_SYSTEM_DESCRIPTION
            ),
        ]
    );
}

#[test]
fn scalance_firmware_from_description() {
    let m = "00:1b:1b:02:e6:1f";
    assert_eq!(
        run(m, &hex(SCALANCE)),
        vec![
            speaks(m),
            id(m, Field::Hostname, "Switch1", source::LLDP_SYSTEM_NAME),
            id(m, Field::Firmware, "V4.02", source::LLDP_SYSTEM_DESCRIPTION),
            id(
                m,
                Field::Description,
                "Siemens, SIMATIC NET, SCALANCE X212-2, 6GK5 212-2BB00-2AA3, HW: 7, FW: V4.02",
                source::LLDP_SYSTEM_DESCRIPTION
            ),
            binding(m, "141.81.0.190"),
        ]
    );
}

#[test]
fn mandatory_only() {
    let m = "00:21:91:06:f1:66";
    let bytes = hex(DLINK);
    let pdu = parse(&bytes).unwrap();
    assert_eq!(pdu.port_id, (1, &b"19"[..]));
    assert_eq!(
        run(m, &hex(DLINK)),
        vec![speaks(m), binding(m, "208.73.217.142")]
    );
}

#[test]
fn med_inventory() {
    let m = "64:4b:f0:2b:31:71";
    assert_eq!(run(m, &hex(MED_ENDPOINT)), vec![speaks(m)]);
    // The MED endpoint's frame with TIA-1057 §10.2.6 inventory TLVs inserted before End:
    // hardware "1.0", firmware "2.3.1", software "4.5", serial "SN123", manufacturer
    // "Acme", model "Phone 9".
    let inventory = [
        (5u8, &b"1.0"[..]),
        (6, b"2.3.1"),
        (7, b"4.5"),
        (8, b"SN123"),
        (9, b"Acme"),
        (10, b"Phone 9"),
    ];
    let base = hex(MED_ENDPOINT);
    let end = base.len() - 4; // End TLV (2) + 2 padding octets
    let mut data = base[..end].to_vec();
    for (subtype, value) in inventory {
        let len = 4 + value.len();
        data.extend_from_slice(&[0xfe, len as u8, 0x00, 0x12, 0xbb, subtype]);
        data.extend_from_slice(value);
    }
    data.extend_from_slice(&base[end..]);
    let pdu = parse(&data).unwrap();
    assert_eq!(pdu.inventory.hardware_revision, Some(&b"1.0"[..]));
    assert_eq!(pdu.malformed, None);
    assert_eq!(
        run(m, &data),
        vec![
            speaks(m),
            id(m, Field::Firmware, "2.3.1", source::LLDP_MED_INVENTORY),
            id(m, Field::Serial, "SN123", source::LLDP_MED_INVENTORY),
            id(m, Field::Vendor, "Acme", source::LLDP_MED_INVENTORY),
            id(m, Field::Model, "Phone 9", source::LLDP_MED_INVENTORY),
        ]
    );
}

#[test]
fn capabilities_map_to_catalog_types() {
    use capability::*;
    assert_eq!(device_type(ROUTER | BRIDGE), Some("router"));
    assert_eq!(device_type(TELEPHONE | BRIDGE), Some("iot_device"));
    assert_eq!(device_type(BRIDGE), Some("switch"));
    assert_eq!(device_type(STATION_ONLY), None);
    assert_eq!(
        device_type(WLAN_ACCESS_POINT | OTHER | REPEATER | DOCSIS),
        None
    );
}

#[test]
fn malformed_frames() {
    // Port ID before Chassis ID.
    let mut swapped = hex(DLINK);
    swapped.swap(0, 9);
    let out = run("00:21:91:06:f1:66", &swapped);
    assert_eq!(
        out,
        vec![Observation::ProtocolViolation {
            protocol: "lldp",
            reason: LldpError::MandatoryTlvs.to_string()
        }]
    );
    // Cut inside the system description: what came before is kept, the fault reported.
    let data = hex(SCALANCE);
    let out = run("00:1b:1b:02:e6:1f", &data[..120]);
    assert!(out.contains(&id(
        "00:1b:1b:02:e6:1f",
        Field::Hostname,
        "Switch1",
        source::LLDP_SYSTEM_NAME
    )));
    assert!(matches!(
        out.last(),
        Some(Observation::ProtocolViolation { .. })
    ));
    // From a group address: nothing about it.
    let out = run("01:80:c2:00:00:0e", &hex(DLINK));
    assert!(matches!(
        out.as_slice(),
        [Observation::ProtocolViolation { .. }]
    ));
}

#[test]
fn never_panics() {
    for h in ALL {
        let data = hex(h);
        for cut in 0..data.len() {
            let _ = run("00:21:91:06:f1:66", &data[..cut]);
        }
    }
    let mut noise = Noise::new(0x0bad_5eed_dead_beef);
    for len in 0..400 {
        let mut data = noise.bytes(len);
        // Start with a plausible Chassis ID TLV header so the walk goes further.
        if data.len() > 2 {
            data[0] = 0x02;
            data[1] = 0x07;
        }
        let _ = run("00:21:91:06:f1:66", &data);
    }
}
