//! Tests on real CDP frames (bytes after the LLC/SNAP header, extracted from the pcaps with a
//! small pcap reader; expected values read from `tshark -V`).

use super::*;
use crate::protocols::source;
use crate::protocols::sysdescr::{cisco_software, CiscoSoftware};
use crate::protocols::testing::{self, hex, Noise};
use otwatch_common::observation::Role;
use otwatch_common::observation::Source;
use otwatch_common::observation::Subject;

/// cdp/cdp-v1.pcap frame 1: CDPv1 from router R1 (cisco 1601, IOS 11.2(12)P), even length.
const CDP_V1: &str = "01b4dff000010006523100020011000000010101cc0004c0a80a010003000d45746865726e6574300004000800000001000500d8436973636f20496e7465726e6574776f726b204f7065726174696e672053797374656d20536f667477617265200a494f532028746d29203136303020536f667477617265202843313630302d4e592d4c292c2056657273696f6e2031312e3228313229502c2052454c4541534520534f4654574152452028666331290a436f707972696768742028632920313938362d3139393820627920636973636f2053797374656d732c20496e632e0a436f6d70696c6564205475652030332d4d61722d39382030363a33332062792064736368776172740006000e636973636f2031363031";
/// enip/EIP-FirmwareChange.pcap frame 13: CDPv2 from switch Ns5gt (WS-CE500-24TT), odd length
/// (327 octets), so the checksum uses Cisco's odd-octet rule.
const CDP_CE500: &str = "02b40ab0000100094e73356774000500bc436973636f20494f5320536f6674776172652c20434535303020536f667477617265202843453530302d4c414e424153452d4d292c2056657273696f6e2031322e3228323529534547342c2052454c4541534520534f4654574152452028666331290a436f707972696768742028632920313938362d3230303720627920436973636f2053797374656d732c20496e632e0a436f6d70696c6564204d6f6e2031332d4175672d30372031373a33342062792079656e616e6800060017636973636f2057532d43453530302d3234545400020011000000010101cc0004c0a80afd000300144769676162697445746865726e657431000400080000002800090004000a00060003000b0005010012000500001300050000160011000000010101cc0004c0a80afd001a00100000000100000000ffffffff";
/// encap/erspan-typeII-cdp.pcap frame 1: CDPv2 from CSR3 (IOS-XE), taken out of ERSPAN/GRE.
const CDP_CSR: &str = "02b49a14000100084353523300050102436973636f20494f5320536f6674776172652c20494f532d584520536f66747761726520285838365f36345f4c494e55585f494f53442d414456454e54455250524953454b392d4d292c2056657273696f6e2031352e332832295330612c2052454c4541534520534f4654574152452028666331290a546563686e6963616c20537570706f72743a20687474703a2f2f7777772e636973636f2e636f6d2f74656368737570706f72740a436f707972696768742028632920313938362d3230313320627920436973636f2053797374656d732c20496e632e0a436f6d70696c6564205361742033302d4d61722d31332031393a3038206279206d6370726500060012636973636f20435352313030305600020011000000010101cc000417000003000300174769676162697445746865726e6574312e323300040008000000210007000e0a6e6e0018c0a801001e00160011000000010101cc000417000003001b000500";

fn run(src: &str, payload: &[u8]) -> Vec<Observation> {
    let mut out = Vec::new();
    parse_frame(src.parse().unwrap(), payload, Timestamp(0), &mut out);
    out
}

fn id(src: &str, field: Field, value: &str, source: Source) -> Observation {
    testing::id(Subject::Mac(src.parse().unwrap()), field, value, source)
}

fn speaks(src: &str) -> Observation {
    testing::speaks(Subject::Mac(src.parse().unwrap()), "cdp", Role::Server, 0)
}

fn binding(src: &str, ip: &str) -> Observation {
    Observation::Binding {
        mac: src.parse().unwrap(),
        ip: ip.parse().unwrap(),
        source: "cdp address",
    }
}

#[test]
fn cdp_v1_router() {
    let bytes = hex(CDP_V1);
    let f = parse(&bytes).unwrap();
    assert_eq!((f.version, f.ttl, f.checksum), (1, 180, 0xdff0));
    assert!(f.checksum_ok);
    assert_eq!(f.port_id, Some(&b"Ethernet0"[..]));
    assert_eq!(f.capabilities, Some(capability::ROUTER));
    assert_eq!(f.malformed, None);
    let m = "00:e0:1e:d5:d5:15";
    assert_eq!(
        run(m, &hex(CDP_V1)),
        vec![
            speaks(m),
            id(m, Field::Hostname, "R1", source::CDP_DEVICE_ID),
            id(
                m,
                Field::Description,
                "Cisco Internetwork Operating System Software IOS (tm) 1600 Software (C1600-NY-L), Version 11.2(12)P, RELEASE SOFTWARE (fc1)",
                source::CDP_SOFTWARE_VERSION
            ),
            id(m, Field::Os, "Cisco IOS", source::CDP_SOFTWARE_VERSION),
            id(m, Field::Firmware, "11.2(12)P", source::CDP_SOFTWARE_VERSION),
            id(m, Field::Model, "1601", source::CDP_PLATFORM),
            id(m, Field::Vendor, "Cisco", source::CDP),
            id(m, Field::DeviceType, "router", source::CDP_CAPABILITIES),
            binding(m, "192.168.10.1"),
        ]
    );
}

#[test]
fn cdp_v2_switch_with_odd_length_checksum() {
    let bytes = hex(CDP_CE500);
    let f = parse(&bytes).unwrap();
    assert_eq!((f.version, f.checksum), (2, 0x0ab0));
    assert!(f.checksum_ok);
    assert_eq!(f.native_vlan, Some(3));
    assert_eq!(f.port_id, Some(&b"GigabitEthernet1"[..]));
    assert_eq!(f.capabilities, Some(0x28));
    let m = "00:1e:f6:73:59:81";
    assert_eq!(
        run(m, &hex(CDP_CE500)),
        vec![
            speaks(m),
            id(m, Field::Hostname, "Ns5gt", source::CDP_DEVICE_ID),
            id(
                m,
                Field::Description,
                "Cisco IOS Software, CE500 Software (CE500-LANBASE-M), Version 12.2(25)SEG4, RELEASE SOFTWARE (fc1)",
                source::CDP_SOFTWARE_VERSION
            ),
            id(m, Field::Os, "Cisco IOS", source::CDP_SOFTWARE_VERSION),
            id(m, Field::Firmware, "12.2(25)SEG4", source::CDP_SOFTWARE_VERSION),
            id(m, Field::Model, "WS-CE500-24TT", source::CDP_PLATFORM),
            id(m, Field::Vendor, "Cisco", source::CDP),
            id(m, Field::DeviceType, "switch", source::CDP_CAPABILITIES),
            // The address and management-address TLVs carry the same IP: one binding.
            binding(m, "192.168.10.253"),
        ]
    );
}

#[test]
fn cdp_v2_ios_xe_router() {
    let m = "64:00:f1:e1:03:03";
    let out = run(m, &hex(CDP_CSR));
    assert!(out.contains(&id(m, Field::Hostname, "CSR3", source::CDP_DEVICE_ID)));
    assert!(out.contains(&id(
        m,
        Field::Os,
        "Cisco IOS XE",
        source::CDP_SOFTWARE_VERSION
    )));
    assert!(out.contains(&id(
        m,
        Field::Firmware,
        "15.3(2)S0a",
        source::CDP_SOFTWARE_VERSION
    )));
    assert!(out.contains(&id(m, Field::Model, "CSR1000V", source::CDP_PLATFORM)));
    assert!(out.contains(&id(
        m,
        Field::DeviceType,
        "router",
        source::CDP_CAPABILITIES
    )));
    assert!(out.contains(&binding(m, "23.0.0.3")));
    assert!(!out
        .iter()
        .any(|o| matches!(o, Observation::ProtocolViolation { .. })));
}

#[test]
fn bad_checksum_is_noted_not_fatal() {
    let mut data = hex(CDP_V1);
    data[3] ^= 0x01;
    let out = run("00:e0:1e:d5:d5:15", &data);
    assert!(out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::Hostname,
            ..
        }
    )));
    assert!(out.contains(&Observation::ProtocolViolation {
        protocol: "cdp",
        reason: "CDP checksum 0xdff1 does not match the frame".to_owned()
    }));
}

#[test]
fn padding_and_fcs_are_tolerated() {
    for tail in [&[0u8; 20][..], &[0xde, 0xad, 0xbe, 0xef][..]] {
        let mut data = hex(CDP_CE500);
        data.extend_from_slice(tail);
        let f = parse(&data).unwrap();
        assert!(f.checksum_ok);
        assert_eq!(f.malformed, None);
    }
}

#[test]
fn cisco_banners() {
    let cases = [
        (
            "Cisco IOS XR Software, Version 6.1.2[Default]",
            "Cisco IOS XR",
            Some("6.1.2"),
        ),
        (
            "Cisco NX-OS(tm) n5000, Software (n5000-uk9), Version 5.2(1)N1(4), RELEASE SOFTWARE",
            "Cisco NX-OS",
            Some("5.2(1)N1(4)"),
        ),
        (
            "Cisco Adaptive Security Appliance Version 9.8(2)",
            "Cisco ASA",
            Some("9.8(2)"),
        ),
    ];
    for (text, os, version) in cases {
        assert_eq!(
            cisco_software(text),
            Some(CiscoSoftware { os, version }),
            "{text}"
        );
    }
    assert_eq!(cisco_software("VMware ESX Releasebuild-123"), None);
    assert_eq!(cisco_software("Cisco IP Phone 7941"), None);
}

#[test]
fn non_cisco_platform_is_not_called_cisco() {
    assert_eq!(
        device_type(capability::HOST | capability::IGMP),
        Some("it_host")
    );
    assert_eq!(
        device_type(capability::PHONE | capability::HOST | capability::TRANSPARENT_BRIDGE),
        Some("iot_device")
    );
    assert_eq!(device_type(capability::IGMP), None);
    // A hand-made CDPv2 frame from a VMware host: device id "esx", platform "VMware ESX",
    // capabilities host. Nothing in it says Cisco.
    let data = hex(&("02b4000000010007657378".to_owned()
        + "0006000e564d7761726520455358"
        + "0004000800000010"));
    let m = "00:50:56:01:02:03";
    let out = run(m, &data);
    assert!(out.contains(&id(m, Field::Model, "VMware ESX", source::CDP_PLATFORM)));
    assert!(out.contains(&id(
        m,
        Field::DeviceType,
        "it_host",
        source::CDP_CAPABILITIES
    )));
    assert!(!out.iter().any(|o| matches!(
        o,
        Observation::Identity {
            field: Field::Vendor,
            ..
        }
    )));
}

#[test]
fn malformed_never_panics() {
    for h in [CDP_V1, CDP_CE500, CDP_CSR] {
        let data = hex(h);
        for cut in 0..data.len() {
            let _ = run("00:e0:1e:d5:d5:15", &data[..cut]);
        }
    }
    assert_eq!(
        run("00:e0:1e:d5:d5:15", &[3, 180, 0, 0]),
        vec![Observation::ProtocolViolation {
            protocol: "cdp",
            reason: "unknown CDP version 3".to_owned()
        }]
    );
    let mut noise = Noise::new(0x1234_5678_9abc_def1);
    for len in 0..400 {
        let mut data = noise.bytes(len);
        if let Some(b) = data.first_mut() {
            *b = 2;
        }
        let _ = run("00:e0:1e:d5:d5:15", &data);
    }
}
