//! The cEMI frame KNXnet/IP carries (KNX Standard 03_06_03 EMI_IMI, §4.1.5: message code,
//! additional information, and for L_Data the control fields, addresses, TPCI and APCI of
//! 03_03_04 Transport Layer and 03_03_07 Application Layer), and the device management
//! messages (M_PropRead/M_PropWrite/M_Reset, §4.1.7).

use super::KnxIpError;
use otwatch_common::observation::Operation;

/// Message codes (03_06_03 §4.1.4.1).
pub mod mc {
    pub const L_DATA_REQ: u8 = 0x11;
    pub const L_DATA_CON: u8 = 0x2e;
    pub const L_DATA_IND: u8 = 0x29;
    pub const M_PROP_READ_REQ: u8 = 0xfc;
    pub const M_PROP_READ_CON: u8 = 0xfb;
    pub const M_PROP_WRITE_REQ: u8 = 0xf6;
    pub const M_PROP_WRITE_CON: u8 = 0xf5;
    pub const M_RESET_REQ: u8 = 0xf1;
    pub const M_RESET_IND: u8 = 0xf0;
}

/// A cEMI frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cemi {
    pub message_code: u8,
    /// L_Data frames only.
    pub data: Option<LData>,
}

/// An L_Data frame's addresses and application service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LData {
    pub source: u16,
    pub destination: u16,
    /// Control field 2 bit 7: the destination is a group address.
    pub group: bool,
    /// The 10-bit APCI with its data bits, absent for a transport control PDU (T_Connect, ACK).
    pub apci: Option<u16>,
}

/// Parses a cEMI frame.
pub fn parse(b: &[u8]) -> Result<Cemi, KnxIpError> {
    let (&message_code, rest) = b.split_first().ok_or(KnxIpError::CemiTruncated)?;
    if !matches!(
        message_code,
        mc::L_DATA_REQ | mc::L_DATA_CON | mc::L_DATA_IND
    ) {
        return Ok(Cemi {
            message_code,
            data: None,
        });
    }
    let (&info_len, rest) = rest.split_first().ok_or(KnxIpError::CemiTruncated)?;
    let f = rest
        .get(usize::from(info_len)..)
        .ok_or(KnxIpError::CemiTruncated)?;
    let [_ctrl1, ctrl2, s0, s1, d0, d1, npdu_len, tpci, ..] = *f else {
        return Err(KnxIpError::CemiTruncated);
    };
    // The length counts the octets after the TPCI (03_06_03 §4.1.5.3.3).
    let apdu_len = usize::from(npdu_len);
    if f.len() < 8 + apdu_len {
        return Err(KnxIpError::CemiTruncated);
    }
    // TPCI bit 7: a control PDU, no application layer.
    let apci = match (tpci & 0x80 != 0, f.get(8)) {
        (false, Some(&a1)) if apdu_len >= 1 => Some(u16::from(tpci & 0x03) << 8 | u16::from(a1)),
        _ => None,
    };
    Ok(Cemi {
        message_code,
        data: Some(LData {
            source: u16::from_be_bytes([s0, s1]),
            destination: u16::from_be_bytes([d0, d1]),
            group: ctrl2 & 0x80 != 0,
            apci,
        }),
    })
}

/// An APCI's service code: the 4-bit services keep their top four bits (the low six are data
/// or a count), user messages (0xB) and the escape range (0xF) their whole ten.
pub fn service(apci: u16) -> u16 {
    match apci >> 6 {
        0xb | 0xf => apci,
        _ => apci & 0x3c0,
    }
}

/// What an application service does (03_03_07 §3), with its name for evidence where it
/// changes the device.
pub fn operation(service: u16) -> Option<(Operation, &'static str)> {
    use Operation::*;
    Some(match service {
        0x000 => (Read, "GroupValueRead"),
        0x080 => (Write, "GroupValueWrite"),
        0x0c0 => (ConfigChange, "IndividualAddressWrite"),
        0x100 => (Identify, "IndividualAddressRead"),
        0x180 | 0x1c0 => (Read, "ADC_Read"),
        0x200 => (Read, "MemoryRead"),
        // How ETS loads an application program and its parameters into a device.
        0x280 => (ProgramDownload, "MemoryWrite"),
        0x300 => (Identify, "DeviceDescriptor_Read"),
        0x380 => (Restart, "Restart"),
        0x3d5 => (Read, "PropertyValue_Read"),
        0x3d7 => (ConfigChange, "PropertyValue_Write"),
        0x3d8 => (Read, "PropertyDescription_Read"),
        0x3d1 => (Control, "Authorize_Request"),
        0x3d3 => (ConfigChange, "Key_Write"),
        0x3dc => (Identify, "IndividualAddressSerialNumber_Read"),
        0x3de => (ConfigChange, "IndividualAddressSerialNumber_Write"),
        _ => return None,
    })
}

/// A group address in three levels (main/middle/sub).
pub fn group_address(a: u16) -> String {
    format!("{}/{}/{}", a >> 11, (a >> 8) & 0x07, a & 0xff)
}

/// An individual address (area.line.device).
pub fn individual_address(a: u16) -> String {
    format!("{}.{}.{}", a >> 12, (a >> 8) & 0x0f, a & 0xff)
}
