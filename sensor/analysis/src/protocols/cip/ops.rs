//! What a CIP request changes on a device, and the evidence an alert shows for it: the
//! service by its CIP name, the object path, the setting a configuration write touches and,
//! where the request carries it in a form worth showing, the new value.
//!
//! Only requests whose operation changes a device get details; reads, polling and tag
//! writes stay detail-free (and allocation-free).
//!
//! References: ODVA CIP Vol. 1 §5-2 (Identity Reset types), §5-42 (File object services),
//! Vol. 2 §5-3 (TCP/IP Interface attributes 3, 5, 6), §5-4 (Ethernet Link attributes 6, 9);
//! the Rockwell objects are described in [`super::class`].

use super::{class, service, Found, Logical, Path, Request, Segment};
use crate::protocols::reader::Cursor;
use crate::protocols::text::clean_text;
use otwatch_common::observation::{Details, Operation};
use otwatch_common::Timestamp;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// Characters kept of a name or value taken from a request.
const MAX_VALUE_CHARS: usize = 64;

/// The setting an attribute write on `class` changes, for the objects whose attributes
/// configure how a device is reached, keeps time or authenticates.
pub fn config_setting(class: u32) -> Option<&'static str> {
    match class {
        class::PORT | class::TCP_IP | class::ETHERNET_LINK | class::DLR | class::QOS => {
            Some("network")
        }
        class::TIME_SYNC | class::WALL_CLOCK => Some("clock"),
        class::CIP_SECURITY | class::ENIP_SECURITY | class::CERTIFICATE_MANAGEMENT => {
            Some("security")
        }
        _ => None,
    }
}

/// The name of a class shown in an object path (ODVA names; Rockwell ones marked).
pub fn class_name(class: u32) -> Option<&'static str> {
    Some(match class {
        class::IDENTITY => "Identity",
        class::MESSAGE_ROUTER => "Message Router",
        class::CONNECTION_MANAGER => "Connection Manager",
        class::FILE => "File",
        class::TIME_SYNC => "Time Sync",
        class::MODBUS => "Modbus",
        class::DLR => "Device Level Ring",
        class::QOS => "QoS",
        class::CIP_SECURITY => "CIP Security",
        class::ENIP_SECURITY => "EtherNet/IP Security",
        class::CERTIFICATE_MANAGEMENT => "Certificate Management",
        class::LOGIX_PROGRAM => "Logix Program",
        class::SYMBOL => "Logix Symbol",
        class::TEMPLATE => "Logix Template",
        class::LOGIX_LOCK => "Rockwell lock",
        class::WALL_CLOCK => "Rockwell Wall Clock Time",
        class::LOGIX_CONTROLLER => "Logix Controller",
        class::NVS => "Rockwell Nonvolatile Storage",
        class::PORT => "Port",
        class::TCP_IP => "TCP/IP Interface",
        class::ETHERNET_LINK => "Ethernet Link",
        _ => return None,
    })
}

/// The second class segment of a path (the object addressed below the first one).
pub fn second_class(path: &Path<'_>) -> Option<u32> {
    path.segments()
        .filter_map(|s| match s {
            Segment::Logical {
                kind: Logical::Class,
                value,
            } => Some(value),
            _ => None,
        })
        .nth(1)
}

/// The details of a request that changes a device (empty for everything else).
pub fn evidence(f: &Found<'_>) -> Details {
    let super::Kind::Op(op) = f.kind else {
        return Vec::new();
    };
    let req = &f.request;
    let mut d: Details = Vec::new();
    match op {
        Operation::Restart | Operation::CpuStart | Operation::CpuStop => {
            let what = match req.service {
                service::RESET => "Reset",
                service::START => "Start",
                _ => "Stop",
            };
            d.push((
                "service",
                format!("{what} ({} object)", object_name(f.class)),
            ));
            d.push(("object", path_text(&req.path)));
            if op == Operation::Restart {
                if let Some(t) = req.data.first() {
                    d.push(("value", reset_type(*t)));
                }
            }
        }
        Operation::ConfigChange if f.class == Some(class::LOGIX_CONTROLLER) => {
            // The lock below the controller (see `classify_request`).
            let (name, value) = if req.service == service::LOCK {
                ("Lock", "lock")
            } else {
                ("Unlock", "unlock")
            };
            d.push((
                "service",
                format!(
                    "{name} (service {:#04x}, Rockwell lock object)",
                    req.service
                ),
            ));
            d.push(("object", path_text(&req.path)));
            d.push(("setting", "security".to_owned()));
            d.push(("value", value.to_owned()));
        }
        Operation::ConfigChange => config_change(req, f.class, &mut d),
        Operation::ProgramDownload => {
            d.push((
                "service",
                format!(
                    "{} ({} object)",
                    service_name(req.service),
                    object_name(f.class)
                ),
            ));
            d.push(("object", path_text(&req.path)));
        }
        Operation::FirmwareUpdate => {
            d.push(("service", nvs_service(req.service).to_owned()));
            d.push(("object", path_text(&req.path)));
            if req.service == service::NVS_UPDATE {
                if let Some(size) = Cursor::new(req.data).u32_le() {
                    d.push(("bytes", size.to_string()));
                }
            }
        }
        Operation::FileTransfer => file_transfer(req, &mut d),
        _ => {}
    }
    d
}

/// The Nonvolatile Storage service names (Rockwell 1404-UM001 table G.23).
pub fn nvs_service(svc: u8) -> &'static str {
    match svc {
        service::NVS_UPDATE => "Update (Nonvolatile Storage object)",
        _ => "Transfer (Nonvolatile Storage object)",
    }
}

fn object_name(class: Option<u32>) -> &'static str {
    class.and_then(class_name).unwrap_or("vendor-specific")
}

/// Common service names (Vol. 1 table ), as Wireshark spells them.
fn service_name(svc: u8) -> &'static str {
    match svc {
        service::SET_ATTRIBUTES_ALL => "Set_Attributes_All",
        service::SET_ATTRIBUTE_LIST => "Set_Attribute_List",
        service::SET_ATTRIBUTE_SINGLE => "Set_Attribute_Single",
        service::CREATE => "Create",
        service::FILE_INITIATE_UPLOAD => "Initiate_Upload",
        service::FILE_INITIATE_DOWNLOAD => "Initiate_Download",
        service::FILE_UPLOAD_TRANSFER => "Upload_Transfer",
        service::FILE_DOWNLOAD_TRANSFER => "Download_Transfer",
        _ => "service",
    }
}

/// Identity Reset type (Vol. 1 §5-2.3.2).
fn reset_type(t: u8) -> String {
    match t {
        0 => "type 0: power cycle".to_owned(),
        1 => "type 1: factory defaults".to_owned(),
        2 => "type 2: factory defaults except communication settings".to_owned(),
        t => format!("type {t}"),
    }
}

/// "class 0xf5 (TCP/IP Interface) instance 1 attribute 5"; classes further down the path
/// follow after " / ", a tag name as "tag NAME".
pub fn path_text(path: &Path<'_>) -> String {
    let mut s = String::new();
    for seg in path.segments() {
        match seg {
            Segment::Logical { kind, value } => {
                let _ = match kind {
                    Logical::Class => {
                        if !s.is_empty() {
                            s.push_str(" / ");
                        }
                        match class_name(value) {
                            Some(n) => write!(s, "class {value:#04x} ({n})"),
                            None => write!(s, "class {value:#04x}"),
                        }
                    }
                    Logical::Instance => write!(s, " instance {value}"),
                    Logical::Attribute => write!(s, " attribute {value}"),
                    Logical::Member => write!(s, " member {value}"),
                    _ => Ok(()),
                };
            }
            Segment::Symbol(name) => {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str("tag ");
                s.push_str(&clean_text(name, MAX_VALUE_CHARS).unwrap_or_default());
            }
            _ => {}
        }
    }
    s
}

/// Set_Attribute_Single / _List / Set_Attributes_All on a configuration object.
fn config_change(req: &Request<'_>, class: Option<u32>, d: &mut Details) {
    let setting = class.and_then(config_setting).unwrap_or("network");
    d.push(("service", service_name(req.service).to_owned()));
    let mut object = path_text(&req.path);
    // The attribute and the bytes of its new value.
    let (attribute, value) = match req.service {
        service::SET_ATTRIBUTE_SINGLE => (req.path.attribute(), Some(req.data)),
        // Attribute count (UINT), then id (UINT) and value for each; the value sizes are the
        // object's, so only a single attribute's value can be told apart (Vol. 1 ).
        service::SET_ATTRIBUTE_LIST => {
            let mut c = Cursor::new(req.data);
            let count = c.u16_le().unwrap_or(0);
            let first = c.u16_le();
            if let Some(a) = first {
                let _ = write!(object, " attribute {a}");
                if count > 1 {
                    let _ = write!(object, " and {} more", count - 1);
                }
            }
            (first.map(u32::from), (count == 1).then(|| c.rest()))
        }
        _ => (None, None),
    };
    d.push(("object", object));
    d.push(("setting", setting.to_owned()));
    if let (Some(class), Some(a), Some(v)) = (class, attribute, value) {
        if let Some(v) = attribute_value(class, a, v) {
            d.push(("value", v));
        }
    }
}

/// A short text for the new value of the configuration attributes worth showing.
fn attribute_value(class: u32, attribute: u32, v: &[u8]) -> Option<String> {
    let mut c = Cursor::new(v);
    match (class, attribute) {
        // TCP/IP Interface Configuration Control (Vol. 2 §5-4.3.2.3): bits 0-3.
        (class::TCP_IP, 3) => Some(
            match c.u32_le()? & 0x0F {
                0 => "static",
                1 => "BOOTP",
                2 => "DHCP",
                _ => "reserved",
            }
            .to_owned(),
        ),
        // Interface Configuration: IP address, mask, gateway, two name servers (UDINT, sent
        // little-endian as Wireshark reads them), domain name.
        (class::TCP_IP, 5) => {
            let ip = Ipv4Addr::from(c.u32_le()?);
            let mask = Ipv4Addr::from(c.u32_le()?);
            let gateway = Ipv4Addr::from(c.u32_le()?);
            Some(format!("{ip}/{mask} gateway {gateway}"))
        }
        // Host Name: STRING (UINT length, characters).
        (class::TCP_IP, 6) => {
            let len = usize::from(c.u16_le()?);
            clean_text(c.take(len)?, MAX_VALUE_CHARS)
        }
        // Ethernet Link Interface Control (Vol. 2 §5-5.3.2.6): control bits, forced speed.
        (class::ETHERNET_LINK, 6) => {
            let bits = c.u16_le()?;
            let speed = c.u16_le()?;
            Some(if bits & 1 != 0 {
                "auto-negotiate".to_owned()
            } else {
                let duplex = if bits & 2 != 0 { "full" } else { "half" };
                format!("forced {speed} Mbit/s {duplex} duplex")
            })
        }
        // Ethernet Link Admin State: 1 enabled, 2 disabled.
        (class::ETHERNET_LINK, 9) => match c.u8()? {
            1 => Some("enabled".to_owned()),
            2 => Some("disabled".to_owned()),
            _ => None,
        },
        // Wall clock: LINT microseconds since 1970 (UTC).
        (class::WALL_CLOCK, 6) => {
            let us = i64::from_le_bytes(c.array()?);
            let ns = u64::try_from(us).ok()?.checked_mul(1000)?;
            Some(Timestamp(ns).rfc3339())
        }
        _ => None,
    }
}

/// File object transfers (Vol. 1 §5-42): which file, read or written.
fn file_transfer(req: &Request<'_>, d: &mut Details) {
    let download = matches!(
        req.service,
        service::FILE_INITIATE_DOWNLOAD | service::FILE_DOWNLOAD_TRANSFER
    );
    d.push((
        "service",
        format!("{} (File object)", service_name(req.service)),
    ));
    d.push(("object", path_text(&req.path)));
    let file = match req.service {
        service::FILE_INITIATE_DOWNLOAD => initiate_download(req.data).and_then(|i| i.name),
        _ => None,
    };
    d.push((
        "file",
        file.unwrap_or_else(|| file_instance(req.path.instance())),
    ));
    d.push((
        "file_op",
        if download { "write" } else { "read" }.to_owned(),
    ));
}

/// "instance 200" when a transfer does not name its file.
pub fn file_instance(instance: Option<u32>) -> String {
    match instance {
        Some(i) => format!("instance {i}"),
        None => "unknown".to_owned(),
    }
}

/// An Initiate Download request (Vol. 1 §5-42.4.2): File Size UDINT, File Format Version
/// UINT, File Revision (major, minor USINT), File Name STRINGI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiateDownload {
    pub size: u32,
    pub name: Option<String>,
}

pub fn initiate_download(data: &[u8]) -> Option<InitiateDownload> {
    let mut c = Cursor::new(data);
    let size = c.u32_le()?;
    c.skip(2 + 2)?;
    Some(InitiateDownload {
        size,
        name: stringi_first(&mut c),
    })
}

/// The first string of a STRINGI (Vol. 1 appendix C-4.1): count (USINT), then per string
/// a language (3 USINT), the string's data type (0xDA SHORT_STRING, 0xD0 STRING), a
/// character set (UINT) and the string.
fn stringi_first(c: &mut Cursor<'_>) -> Option<String> {
    if c.u8()? == 0 {
        return None;
    }
    c.skip(3)?;
    let ty = c.u8()?;
    c.skip(2)?;
    let len = match ty {
        0xDA => usize::from(c.u8()?),
        0xD0 => usize::from(c.u16_le()?),
        _ => return None,
    };
    clean_text(c.take(len)?, MAX_VALUE_CHARS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::cip::{parse_request, walk_requests};
    use crate::protocols::testing::hex;

    fn details(msg: &str) -> Vec<(Operation, Details)> {
        let m = hex(msg);
        let r = parse_request(&m).unwrap();
        let mut out = Vec::new();
        walk_requests(&r, &mut |f| {
            if let super::super::Kind::Op(op) = f.kind {
                out.push((op, evidence(&f)));
            }
        })
        .unwrap();
        out
    }

    fn d(pairs: &[(&'static str, &str)]) -> Details {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn wall_clock_set_is_a_clock_change_with_the_new_time() {
        // EIP-ChangeDateAttempt.pcap frame 138 (CIP part): Set Attribute List on class 0x8b
        // instance 1, one attribute (6), value c0587222085a0400 = 1224890891000000 µs.
        let out = details("0402208b240101000600c0587222085a0400");
        assert_eq!(
            out,
            vec![(
                Operation::ConfigChange,
                d(&[
                    ("service", "Set_Attribute_List"),
                    (
                        "object",
                        "class 0x8b (Rockwell Wall Clock Time) instance 1 attribute 6"
                    ),
                    ("setting", "clock"),
                    ("value", "2008-10-24T23:28:11.000000Z"),
                ])
            )]
        );
    }

    #[test]
    fn tcp_ip_interface_configuration() {
        // Built (Vol. 2 §5-4.3.2.5): Set Attribute Single on class 0xf5 instance 1 attribute
        // 5: 192.168.1.20/255.255.255.0 gateway 192.168.1.1, no name servers, no domain.
        let out = details("100320f5240130051401a8c000ffffff0101a8c000000000000000000000");
        assert_eq!(
            out,
            vec![(
                Operation::ConfigChange,
                d(&[
                    ("service", "Set_Attribute_Single"),
                    (
                        "object",
                        "class 0xf5 (TCP/IP Interface) instance 1 attribute 5"
                    ),
                    ("setting", "network"),
                    ("value", "192.168.1.20/255.255.255.0 gateway 192.168.1.1"),
                ])
            )]
        );
        // Host name, STRING "plc-7", and Ethernet Link admin state "disabled".
        let out = details("100320f5240130060500706c632d3700");
        assert_eq!(out[0].1.get(3), Some(&("value", "plc-7".to_owned())));
        let out = details("100320f6240130 0902");
        assert_eq!(out[0].1.get(3), Some(&("value", "disabled".to_owned())));
    }

    #[test]
    fn reset_lock_and_nvs_update() {
        // EIP-FirmwareChange.pcap frame 10592: Reset on Identity instance 1, type 0.
        assert_eq!(
            details("050220012401 00"),
            vec![(
                Operation::Restart,
                d(&[
                    ("service", "Reset (Identity object)"),
                    ("object", "class 0x01 (Identity) instance 1"),
                    ("value", "type 0: power cycle"),
                ])
            )]
        );
        // EIP-LockPLCAttempt.pcap frame 518: 0x4b on class 0x8e instance 1 / class 0x74
        // instance 1, data 01; frame 722: 0x4c, no data.
        assert_eq!(
            details("4b04208e24012074240101"),
            vec![(
                Operation::ConfigChange,
                d(&[
                    ("service", "Lock (service 0x4b, Rockwell lock object)"),
                    (
                        "object",
                        "class 0x8e (Logix Controller) instance 1 / class 0x74 (Rockwell lock) instance 1"
                    ),
                    ("setting", "security"),
                    ("value", "lock"),
                ])
            )]
        );
        assert_eq!(details("4c04208e240120742401")[0].1[3].1, "unlock");
        // The same lock below a program is part of editing it: no operation.
        assert!(details("4b052068250020242074240100").is_empty());
        // EIP-FirmwareChange.pcap frame 29: NVS Update, image of 0x1bff16 bytes.
        assert_eq!(
            details("4b0220a1240116ff1b0000000000"),
            vec![(
                Operation::FirmwareUpdate,
                d(&[
                    ("service", "Update (Nonvolatile Storage object)"),
                    (
                        "object",
                        "class 0xa1 (Rockwell Nonvolatile Storage) instance 1"
                    ),
                    ("bytes", "1834774"),
                ])
            )]
        );
    }

    #[test]
    fn file_object_transfers() {
        // Built (Vol. 1 §5-42.4.2): Initiate Download on File instance 1, size 1000, format
        // 1, revision 1.0, STRINGI of one "eng" SHORT_STRING "fw.bin".
        let out = details("4c0220372401e8030000010001000165 6e 67da0400 06 66772e62696e");
        assert_eq!(
            out,
            vec![(
                Operation::FileTransfer,
                d(&[
                    ("service", "Initiate_Download (File object)"),
                    ("object", "class 0x37 (File) instance 1"),
                    ("file", "fw.bin"),
                    ("file_op", "write"),
                ])
            )]
        );
        // Initiate Upload of instance 0xc8 (the EDS file) is a routine read; of another
        // instance a file read.
        assert_eq!(details("4b022037 24c8 f0"), vec![(Operation::Read, vec![])]);
        let out = details("4b0220372402f0");
        assert_eq!(out[0].0, Operation::FileTransfer);
        assert_eq!(out[0].1[2], ("file", "instance 2".to_owned()));
        assert_eq!(out[0].1[3], ("file_op", "read".to_owned()));
    }

    #[test]
    fn routine_requests_have_no_details() {
        // Get Attribute List, Read Tag, Set Attribute Single on Identity (a plain write).
        for m in [
            "030220732401010005 00",
            "4c022072240004820600",
            "100220012400",
        ] {
            for (_, det) in details(m) {
                assert!(det.is_empty(), "{m}");
            }
        }
    }
}
