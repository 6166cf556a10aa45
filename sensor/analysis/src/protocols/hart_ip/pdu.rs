//! The HART token-passing PDU that HART-IP carries in its message ID 3 (HCF_SPEC-081, the
//! HART data link layer: delimiter, address, expansion bytes, command, byte count, data,
//! check byte) and the universal and common-practice commands an inventory reads
//! (HCF_SPEC-127 universal commands, HCF_SPEC-151 common practice commands, HCF_SPEC-183
//! common tables).

use super::HartIpError;
use otwatch_common::observation::Operation;

/// Delimiter frame types (bits 0-2, HCF_SPEC-081 §5.1).
pub mod frame_type {
    /// Burst frame: a field device publishing unasked.
    pub const BACK: u8 = 1;
    /// Master to field device.
    pub const STX: u8 = 2;
    /// Field device answering a master.
    pub const ACK: u8 = 6;
}

/// A HART token-passing PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// The delimiter octet (bit 7: long address; bits 5-6: expansion bytes; bits 0-2: frame
    /// type).
    pub delimiter: u8,
    pub address: Address,
    pub command: u8,
    /// The byte count octet: the data's length, response code and device status included.
    pub byte_count: u8,
    /// The data field: for an ACK or BACK the response code and device status come first.
    pub data: &'a [u8],
    /// The check byte received, and the XOR of every octet before it (equal when intact).
    pub checksum: u8,
    pub computed: u8,
    /// Octets the PDU took, preambles included.
    pub len: usize,
}

/// How a PDU addresses its field device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// A short frame: the polling address (0-63).
    Polling(u8),
    /// A long frame: the 38-bit unique identifier (the expanded device type with its two top
    /// bits cleared, then the 24-bit device id) in the five octets as sent, master and burst
    /// bits cleared.
    Unique([u8; 5]),
}

impl Address {
    /// The unique identifier as tshark shows `hart_ip.pt.long_address` (hex of the five octets).
    pub fn unique_hex(&self) -> Option<String> {
        match self {
            Address::Unique(u) => Some(u.iter().map(|b| format!("{b:02x}")).collect()),
            Address::Polling(_) => None,
        }
    }
}

impl<'a> Pdu<'a> {
    /// The frame type (delimiter bits 0-2).
    pub fn frame_type(&self) -> u8 {
        self.delimiter & 0x07
    }

    /// A field device's answer (ACK) or burst (BACK): data starts with the response code
    /// and the device status.
    pub fn is_response(&self) -> bool {
        matches!(self.frame_type(), frame_type::ACK | frame_type::BACK)
    }

    /// The response code (first data octet of an answer; bit 7 set means a communication
    /// error summary instead, HCF_SPEC-081 §7.3).
    pub fn response_code(&self) -> Option<u8> {
        self.is_response()
            .then(|| self.data.first().copied())
            .flatten()
    }

    /// The command's own data: after the two status octets of an answer.
    pub fn body(&self) -> &'a [u8] {
        if self.is_response() {
            self.data.get(2..).unwrap_or_default()
        } else {
            self.data
        }
    }

    /// The command number: command 31's 16-bit extended number (HCF_SPEC-099 §8.1, the first
    /// two data octets of the request and of the answer's body), else the command octet.
    pub fn command_number(&self) -> u16 {
        if self.command == 31 {
            if let [hi, lo, ..] = self.body() {
                return u16::from_be_bytes([*hi, *lo]);
            }
        }
        u16::from(self.command)
    }
}

/// A delimiter of a STX, ACK or BACK frame on the asynchronous physical layer (bits 3-4 zero);
/// 0xFF is a preamble octet before it.
pub fn delimiter_ok(d: u8) -> bool {
    d == 0xff
        || (matches!(
            d & 0x07,
            frame_type::BACK | frame_type::STX | frame_type::ACK
        ) && d & 0x18 == 0)
}

/// Parses a token-passing PDU (leading 0xFF preambles are passed over: HART-IP PDUs carry
/// none, but some gateways keep them).
pub fn parse(bytes: &[u8]) -> Result<Pdu<'_>, HartIpError> {
    let start = bytes.iter().position(|&b| b != 0xff).unwrap_or(bytes.len());
    // At most 20 preambles (HCF_SPEC-081 §4.1: 5 to 20).
    if start > 20 {
        return Err(HartIpError::Delimiter(0xff));
    }
    let frame = bytes.get(start..).unwrap_or_default();
    let &delimiter = frame.first().ok_or(HartIpError::PduTruncated)?;
    if !delimiter_ok(delimiter) {
        return Err(HartIpError::Delimiter(delimiter));
    }
    let long = delimiter & 0x80 != 0;
    let expansion = usize::from((delimiter >> 5) & 0x03);
    let address_len = if long { 5 } else { 1 };
    let head = 1 + address_len + expansion;
    let (Some(&command), Some(&byte_count)) = (frame.get(head), frame.get(head + 1)) else {
        return Err(HartIpError::PduTruncated);
    };
    let data_at = head + 2;
    let end = data_at + usize::from(byte_count);
    let (Some(data), Some(&checksum)) = (frame.get(data_at..end), frame.get(end)) else {
        return Err(HartIpError::PduTruncated);
    };
    let address = if long {
        let mut u = [0u8; 5];
        u.copy_from_slice(frame.get(1..6).unwrap_or(&[0; 5]));
        u[0] &= 0x3f;
        Address::Unique(u)
    } else {
        Address::Polling(frame.get(1).copied().unwrap_or(0) & 0x3f)
    };
    let computed = frame
        .get(..end)
        .unwrap_or_default()
        .iter()
        .fold(0u8, |x, b| x ^ b);
    Ok(Pdu {
        delimiter,
        address,
        command,
        byte_count,
        data,
        checksum,
        computed,
        len: start + end + 1,
    })
}

/// Command numbers this dissector names (HCF_SPEC-127 and HCF_SPEC-151).
pub mod command {
    pub const READ_UNIQUE_IDENTIFIER: u16 = 0;
    pub const WRITE_POLLING_ADDRESS: u16 = 6;
    pub const READ_UNIQUE_IDENTIFIER_WITH_TAG: u16 = 11;
    pub const READ_TAG_DESCRIPTOR_DATE: u16 = 13;
    pub const WRITE_MESSAGE: u16 = 17;
    pub const WRITE_TAG_DESCRIPTOR_DATE: u16 = 18;
    pub const READ_LONG_TAG: u16 = 20;
    pub const READ_UNIQUE_IDENTIFIER_WITH_LONG_TAG: u16 = 21;
    pub const WRITE_LONG_TAG: u16 = 22;
    pub const DEVICE_RESET: u16 = 42;
}

/// What a request does (HCF_SPEC-127 universal commands 0-22 and 38, 48; HCF_SPEC-151 common
/// practice commands 33-113), with its name for evidence where it changes the device. Device-
/// specific commands (128-253) and unlisted ones are bare function codes.
pub fn operation(command: u16) -> Option<(Operation, &'static str)> {
    use Operation::*;
    Some(match command {
        0 => (Identify, "read unique identifier"),
        11 => (Identify, "read unique identifier associated with tag"),
        21 => (Identify, "read unique identifier associated with long tag"),
        1..=5 | 7..=10 | 12..=16 | 20 | 33 | 50 | 54 | 57 | 61 | 74..=76 | 78 | 84 | 105 => {
            (Read, "")
        }
        41 | 48 => (Diagnostics, ""),
        6 => (ConfigChange, "write polling address"),
        17 => (Write, "write message"),
        18 => (ConfigChange, "write tag, descriptor and date"),
        19 => (Write, "write final assembly number"),
        22 => (ConfigChange, "write long tag"),
        34 => (Write, "write primary variable damping value"),
        35 => (Write, "write primary variable range values"),
        36 => (Write, "set primary variable upper range value"),
        37 => (Write, "set primary variable lower range value"),
        38 => (Write, "reset configuration changed flag"),
        40 => (Control, "enter/exit fixed current mode"),
        42 => (Restart, "perform device reset"),
        43 => (Write, "set primary variable zero"),
        44 => (ConfigChange, "write primary variable units"),
        45 => (Write, "trim loop current zero"),
        46 => (Write, "trim loop current gain"),
        47 => (ConfigChange, "write primary variable transfer function"),
        49 => (Write, "write primary variable transducer serial number"),
        51 => (ConfigChange, "write dynamic variable assignments"),
        52 => (Write, "set device variable zero"),
        53 => (ConfigChange, "write device variable units"),
        55 => (Write, "write device variable damping value"),
        59 => (ConfigChange, "write number of response preambles"),
        79 => (Write, "write device variable"),
        80..=83 => (Write, "device variable trim"),
        103 | 104 | 107..=109 => (ConfigChange, "burst mode configuration"),
        _ => return None,
    })
}

/// What a configuration change sets, in the alert catalog's words (docs/DETECTION.md): the
/// polling address is how the host reaches the device, the tags its name.
pub fn setting(command: u16) -> Option<&'static str> {
    Some(match command {
        6 => "network",
        18 | 22 => "name",
        103 | 104 | 107..=109 => "communication",
        44 | 47 | 51 | 53 | 59 => "configuration",
        _ => return None,
    })
}

/// A Command 0 (Read Unique Identifier) answer's body (HCF_SPEC-127 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueIdentifier {
    pub expanded_device_type: u16,
    pub universal_revision: u8,
    pub device_revision: u8,
    pub software_revision: u8,
    /// Hardware revision (upper 5 bits of octet 7).
    pub hardware_revision: u8,
    pub device_id: u32,
    /// HART 7: octets 17-18; HART 5/6: octet 1.
    pub manufacturer: u16,
    /// HART 7 only (octet 21, common table 57).
    pub profile: Option<u8>,
}

/// Reads a Command 0 answer body; `None` when it is shorter than the 12 octets of HART 5.
pub fn unique_identifier(body: &[u8]) -> Option<UniqueIdentifier> {
    let b = |i: usize| body.get(i).copied();
    let (d0, d1, d2) = (b(9)?, b(10)?, b(11)?);
    let universal_revision = b(4)?;
    let hart7 = universal_revision >= 7 && body.len() >= 19;
    let manufacturer = if hart7 {
        u16::from_be_bytes([b(17)?, b(18)?])
    } else {
        u16::from(b(1)?)
    };
    Some(UniqueIdentifier {
        expanded_device_type: u16::from_be_bytes([b(1)?, b(2)?]),
        universal_revision,
        device_revision: b(5)?,
        software_revision: b(6)?,
        hardware_revision: b(7)? >> 3,
        device_id: u32::from_be_bytes([0, d0, d1, d2]),
        manufacturer,
        profile: if hart7 { b(21) } else { None },
    })
}

impl UniqueIdentifier {
    /// The unique identifier a long frame addresses this device by.
    pub fn address(&self) -> [u8; 5] {
        let [t0, t1] = self.expanded_device_type.to_be_bytes();
        let [_, d0, d1, d2] = self.device_id.to_be_bytes();
        [t0 & 0x3f, t1, d0, d1, d2]
    }
}

/// Manufacturer identification codes (HCF_SPEC-183 common table 8) named only where a public
/// source documents them: 17 Endress+Hauser and 38 Rosemount (also the OUI of the MAC of the
/// device that answers 38 in hart/hart_ip.pcap). Others stay numbers in the description.
pub fn manufacturer_name(id: u16) -> Option<&'static str> {
    match id {
        17 => Some("Endress+Hauser"),
        38 => Some("Rosemount"),
        _ => None,
    }
}

/// Device profile codes (HCF_SPEC-183 common table 57) and the device type each implies:
/// field devices are `io_module` (Purdue level 0), gateways and I/O systems `rtu` (level 1).
pub fn profile(code: u8) -> Option<(&'static str, &'static str)> {
    Some(match code {
        1 => ("process automation device", "io_module"),
        2 => ("discrete device", "io_module"),
        3 => ("hybrid device", "io_module"),
        4 => ("I/O system", "rtu"),
        129 => ("WirelessHART process automation device", "io_module"),
        130 => ("WirelessHART discrete device", "io_module"),
        131 => ("WirelessHART hybrid device", "io_module"),
        132 => ("WirelessHART gateway", "rtu"),
        _ => return None,
    })
}

/// HART packed ASCII (HCF_SPEC-081 annex: four 6-bit characters in three octets, code `c`
/// standing for `c` + 0x40 when below 0x20, else itself), as sent: padding is blanks, or
/// '@' (code 0) where a device leaves the field zero.
pub fn packed_ascii(raw: &[u8]) -> String {
    let mut s = String::with_capacity(raw.len() / 3 * 4);
    for group in raw.chunks(3) {
        let mut v = [0u8; 3];
        for (slot, b) in v.iter_mut().zip(group) {
            *slot = *b;
        }
        let bits = u32::from_be_bytes([0, v[0], v[1], v[2]]);
        for shift in [18, 12, 6, 0] {
            let c = ((bits >> shift) & 0x3f) as u8;
            s.push(char::from(if c < 0x20 { c + 0x40 } else { c }));
        }
    }
    s
}

/// A packed ASCII field as a name: [`packed_ascii`] without its padding; `None` when nothing
/// else is left.
pub fn packed_name(raw: &[u8]) -> Option<String> {
    let s = packed_ascii(raw);
    let t = s.trim_matches([' ', '@']);
    (!t.is_empty()).then(|| t.to_string())
}

/// A Latin-1 text field (long tag, HCF_SPEC-127 command 20), NUL padding and blanks removed;
/// `None` when nothing printable is left.
pub fn latin1(raw: &[u8]) -> Option<String> {
    let s: String = raw
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| char::from(b))
        .collect();
    crate::protocols::text::clean_chars(s.trim().chars(), raw.len())
}
