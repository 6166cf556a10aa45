//! IEC 60870-5-104 over TCP port 2404 (IEC 60870-5-104 clauses 5-6, with the ASDU of
//! IEC 60870-5-101 clause 7). Read alongside Wireshark's `packet-iec104.c` (its `asdu_length`
//! table) and lib60870's `cs104_connection.c` (APCI handling); no code taken from them.
//!
//! An APDU is a start octet 0x68, a length (4..=253) and four control octets (the APCI),
//! followed in I-format frames by one ASDU: type identification, variable structure qualifier,
//! cause of transmission (two octets in 104: cause with P/N and test bits, originator address),
//! common address (two octets) and information objects with three-octet addresses.
//!
//! What it reports:
//! - U-format frames as function codes `0x100 | first control octet` (so they never collide
//!   with a type identification): STARTDT act 0x107, con 0x10b; STOPDT act 0x113, con 0x123;
//!   TESTFR act 0x143, con 0x183;
//! - every ASDU's type identification as a function code; a command sent for activation
//!   (cause 6) as an operation: C_SC..C_BO and their time-tagged forms are control,
//!   interrogations and read are read, clock sync is time_sync, reset process is restart, test
//!   is diagnostics, parameters are config_change; file transfer ASDUs (120-127) are
//!   file_transfer. Reset, clock sync, parameters and file transfer carry their evidence
//!   ([`ops`]): the type's name, the qualifier, the time or parameter set, the file and what
//!   is done with it;
//! - the controlled station's common address: Description "iec104 common address N", source
//!   source::IEC104_ASDU, once per address;
//! - the information object addresses a command activates (C_SC..C_BO, 45-51 and 58-64,
//!   cause 6), as `Access` (op control) of the common address, area named after the command
//!   ("single_command", "setpoint_float", ...);
//! - violations: a bad APCI (length, U-format function bits, S/U frames with an ASDU), and an
//!   ASDU whose length disagrees with its type and number of objects.

mod ops;

use super::framing::{Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::violations::Violations;
use super::{Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Access, Field, Observation, Operation, Subject};

/// IEC 60870-5-104 (IEC 60870-5-104: registered TCP port 2404).
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "iec104",
    transport: Transport::Tcp,
    ports: &[2404],
    probe,
    new,
};

const PROTOCOL: &str = "iec104";
/// Start octet (104 clause 5, APCI).
const START: u8 = 0x68;
/// Length of the APDU after the length octet: four control octets, up to 249 ASDU octets
/// (104 clause 5: maximum APDU length 253).
const MIN_LENGTH: u8 = 4;
const MAX_LENGTH: u8 = 253;
/// Type id, variable structure qualifier, two-octet cause, two-octet common address (104 clause 6).
const ASDU_HEADER: usize = 6;
/// Information object address octets in 104 (clause 6).
const IOA_LEN: usize = 3;
/// Common addresses reported per flow.
const MAX_ADDRESSES: usize = 8;
/// Function code offset for U-format frames.
pub const U_FRAME_CODE: u32 = 0x100;

/// Causes of transmission (IEC 60870-5-101 §7.2.3).
pub mod cause {
    pub const SPONTANEOUS: u8 = 3;
    pub const REQUEST: u8 = 5;
    pub const ACTIVATION: u8 = 6;
    pub const ACTIVATION_CON: u8 = 7;
    pub const DEACTIVATION: u8 = 8;
    pub const DEACTIVATION_CON: u8 = 9;
    pub const ACTIVATION_TERMINATION: u8 = 10;
    pub const FILE_TRANSFER: u8 = 13;
    /// 44-47: unknown type, cause, common address, object address (negative replies).
    pub const UNKNOWN_TYPE: u8 = 44;
    pub const UNKNOWN_IOA: u8 = 47;
}

/// The information element octets of one object of a type (IEC 60870-5-101 §7.3, 104 clause 6 for
/// the CP56Time2a command types 58-64 and 107; the same table as Wireshark's `asdu_length`).
/// `None` for variable-length or unknown types, whose length is not checked.
pub fn element_len(type_id: u8) -> Option<usize> {
    Some(match type_id {
        1 | 3 => 1,       // M_SP_NA_1, M_DP_NA_1: SIQ / DIQ
        2 | 4 => 4,       // M_SP_TA_1, M_DP_TA_1: + CP24Time2a
        5 => 2,           // M_ST_NA_1: VTI + QDS
        6 => 5,           // M_ST_TA_1
        7 => 5,           // M_BO_NA_1: BSI + QDS
        8 => 8,           // M_BO_TA_1
        9 | 11 => 3,      // M_ME_NA_1, M_ME_NB_1: NVA/SVA + QDS
        10 | 12 => 6,     // M_ME_TA_1, M_ME_TB_1
        13 => 5,          // M_ME_NC_1: IEEE STD 754 + QDS
        14 => 8,          // M_ME_TC_1
        15 => 5,          // M_IT_NA_1: BCR
        16 => 8,          // M_IT_TA_1
        17 => 6,          // M_EP_TA_1: SEP + CP16Time2a + CP24Time2a
        18 | 19 => 7,     // M_EP_TB_1, M_EP_TC_1: SPE/OCI + QDP + CP16 + CP24
        20 => 5,          // M_PS_NA_1: SCD + QDS
        21 => 2,          // M_ME_ND_1: NVA
        30 | 31 => 8,     // M_SP_TB_1, M_DP_TB_1: + CP56Time2a
        32 => 9,          // M_ST_TB_1
        33 => 12,         // M_BO_TB_1
        34 | 35 => 10,    // M_ME_TD_1, M_ME_TE_1
        36 => 12,         // M_ME_TF_1
        37 => 12,         // M_IT_TB_1
        38 => 10,         // M_EP_TD_1
        39 | 40 => 11,    // M_EP_TE_1, M_EP_TF_1
        45..=47 => 1,     // C_SC_NA_1, C_DC_NA_1, C_RC_NA_1: SCO / DCO / RCO
        48 | 49 => 3,     // C_SE_NA_1, C_SE_NB_1: NVA/SVA + QOS
        50 => 5,          // C_SE_NC_1
        51 => 4,          // C_BO_NA_1: BSI
        58..=60 => 8,     // C_SC_TA_1, C_DC_TA_1, C_RC_TA_1
        61 | 62 => 10,    // C_SE_TA_1, C_SE_TB_1
        63 => 12,         // C_SE_TC_1
        64 => 11,         // C_BO_TA_1
        70 => 1,          // M_EI_NA_1: COI
        100 | 101 => 1,   // C_IC_NA_1: QOI, C_CI_NA_1: QCC
        102 => 0,         // C_RD_NA_1: address only
        103 => 7,         // C_CS_NA_1: CP56Time2a
        104 => 2,         // C_TS_NA_1 (101 only): FBP
        105 => 1,         // C_RP_NA_1: QRP
        106 => 2,         // C_CD_NA_1 (101 only): CP16Time2a
        107 => 9,         // C_TS_TA_1: TSC + CP56Time2a
        110 | 111 => 3,   // P_ME_NA_1, P_ME_NB_1: NVA/SVA + QPM
        112 => 5,         // P_ME_NC_1
        113 => 1,         // P_AC_NA_1: QPA
        120 => 6,         // F_FR_NA_1: NOF + LOF + FRQ
        121 => 7,         // F_SR_NA_1: NOF + NOS + LOF + SRQ
        122 | 124 => 4,   // F_SC_NA_1, F_AF_NA_1
        123 => 5,         // F_LS_NA_1: NOF + NOS + LSQ + CHS
        126 => 13,        // F_DR_TA_1: NOF + LOF + SOF + CP56Time2a
        127 => 16,        // F_SC_NB_1: NOF + two CP56Time2a
        _ => return None, // 125 F_SG_NA_1 (segment), security and private types: variable
    })
}

/// The operation an ASDU sent for activation performs.
pub fn operation(type_id: u8) -> Option<Operation> {
    Some(match type_id {
        // Single, double, regulating step, set-point and bitstring commands, with and without
        // time tag (101 §7.3.2, 104 clause 6).
        45..=51 | 58..=64 => Operation::Control,
        // Interrogation, counter interrogation, read (101 §7.3.4).
        100..=102 => Operation::Read,
        // Clock synchronisation, delay acquisition (101 §7.3.4).
        103 | 106 => Operation::TimeSync,
        // Test command, with time tag in 104 (101 §7.3.4, 104 clause 6).
        104 | 107 => Operation::Diagnostics,
        // Reset process (101 §7.3.4).
        105 => Operation::Restart,
        // Parameter of measured value, parameter activation (101 §7.3.5): they change how
        // the station measures and reports.
        110..=113 => Operation::ConfigChange,
        120..=127 => Operation::FileTransfer,
        _ => return None,
    })
}

/// The APCI of one APDU (104 clause 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apci {
    /// Numbered information transfer with send and receive sequence numbers.
    I { send: u16, receive: u16 },
    /// Numbered supervisory acknowledgement.
    S { receive: u16 },
    /// Unnumbered control: the first control octet (STARTDT, STOPDT, TESTFR act/con).
    U { control: u8 },
}

impl Apci {
    /// Reads the four control octets (104 clause 5: I, S and U formats).
    pub fn parse(c: [u8; 4]) -> Apci {
        let seq = |lo: u8, hi: u8| u16::from_le_bytes([lo, hi]) >> 1;
        if c[0] & 0x01 == 0 {
            Apci::I {
                send: seq(c[0], c[1]),
                receive: seq(c[2], c[3]),
            }
        } else if c[0] & 0x03 == 0x01 {
            Apci::S {
                receive: seq(c[2], c[3]),
            }
        } else {
            Apci::U { control: c[0] }
        }
    }
}

/// A U-format control octet with exactly one of its six function bits set (104 clause 5, U format).
fn valid_u(control: u8) -> bool {
    (control >> 2).count_ones() == 1
}

/// The data unit identifier of an ASDU (101 §7.2, 104 clause 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsduHeader {
    pub type_id: u8,
    /// SQ: the objects are a sequence of elements after one address.
    pub sequence: bool,
    /// Number of objects or elements (0..=127).
    pub count: u8,
    /// Cause of transmission (0..=63).
    pub cause: u8,
    /// P/N: negative confirmation.
    pub negative: bool,
    /// T: test frame.
    pub test: bool,
    pub originator: u8,
    pub common_address: u16,
}

/// Why an ASDU is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsduError {
    #[error("ASDU of {0} octets has no full header")]
    NoHeader(usize),
    #[error("ASDU type {type_id} with {count} objects needs {expected} octets, has {got}")]
    Length {
        type_id: u8,
        count: u8,
        expected: usize,
        got: usize,
    },
}

impl AsduHeader {
    /// Reads the header and checks the ASDU length against the type and object count.
    pub fn parse(asdu: &[u8]) -> Result<AsduHeader, AsduError> {
        let Some(&[type_id, vsq, cot, originator, ca0, ca1]) = asdu.get(..ASDU_HEADER) else {
            return Err(AsduError::NoHeader(asdu.len()));
        };
        let h = AsduHeader {
            type_id,
            sequence: vsq & 0x80 != 0,
            count: vsq & 0x7f,
            cause: cot & 0x3f,
            negative: cot & 0x40 != 0,
            test: cot & 0x80 != 0,
            originator,
            common_address: u16::from_le_bytes([ca0, ca1]),
        };
        let got = asdu.len() - ASDU_HEADER;
        if let Some(element) = element_len(type_id) {
            let n = usize::from(h.count);
            // SQ=1: one address, then n elements; SQ=0: n (address, element) pairs (101 §7.2.2).
            let expected = match (n, h.sequence) {
                (0, _) => 0,
                (_, true) => IOA_LEN + n * element,
                (_, false) => n * (IOA_LEN + element),
            };
            if got != expected {
                return Err(AsduError::Length {
                    type_id,
                    count: h.count,
                    expected,
                    got,
                });
            }
        }
        Ok(h)
    }
}

/// Content probe: start octet, a valid length, control octets of a valid format and, for an
/// I-format frame, an ASDU of a fixed-size type whose length matches its object count.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let Some((&start, rest)) = data.split_first() else {
        return Probe::NeedMore;
    };
    if start != START {
        return Probe::No;
    }
    let Some(&length) = rest.first() else {
        return Probe::NeedMore;
    };
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Probe::No;
    }
    let Some(apdu) = data.get(2..2 + usize::from(length)) else {
        // Only an I-format APDU is longer than 4: decide on the first control octet.
        return match data.get(2) {
            Some(c0) if c0 & 0x01 == 0 => Probe::NeedMore,
            Some(_) => Probe::No,
            None => Probe::NeedMore,
        };
    };
    let Some((&[c0, c1, c2, c3], asdu)) = apdu.split_first_chunk::<4>() else {
        return Probe::No;
    };
    match Apci::parse([c0, c1, c2, c3]) {
        Apci::U { control } if asdu.is_empty() && valid_u(control) && [c1, c2, c3] == [0; 3] => {
            Probe::Yes
        }
        Apci::S { .. } if asdu.is_empty() && c0 == 0x01 && c1 == 0 && c2 & 1 == 0 => Probe::Yes,
        // Only types of fixed size: their length check is what makes the content certain.
        Apci::I { .. } if c2 & 1 == 0 => match AsduHeader::parse(asdu) {
            Ok(h)
                if element_len(h.type_id).is_some()
                    && h.count > 0
                    && (1..=47).contains(&h.cause) =>
            {
                Probe::Yes
            }
            _ => Probe::No,
        },
        _ => Probe::No,
    }
}

fn new() -> Box<dyn Dissector> {
    Box::<Iec104Dissector>::default()
}

/// Per-flow IEC 104 state.
#[derive(Default)]
pub struct Iec104Dissector {
    /// Per direction (`[to server, to client]`): junk was reported or a gap left the stream
    /// mid-APDU; skip quietly to the next plausible APDU.
    lost_sync: [bool; 2],
    violations: Violations,
    /// Common addresses already reported, with the side they were reported for.
    addresses: [Option<(Subject, u16)>; MAX_ADDRESSES],
}

/// Why an APDU is malformed (104 clause 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    #[error("no APDU start 0x68")]
    NoStart,
    #[error("APDU length {0} outside 4..=253")]
    Length(u8),
    #[error("U-format control {0:#04x}")]
    UControl(u8),
    #[error("U-format APDU with {0} data octets")]
    UData(usize),
    #[error("S-format APDU with {0} data octets")]
    SData(usize),
    #[error(transparent)]
    Asdu(#[from] AsduError),
}

/// Frames the APDU at the start of `data` by its start and length octets (104 clause 5).
fn frame(data: &[u8]) -> Framing<ApduError> {
    if data.first() != Some(&START) {
        let skip = data.iter().position(|&b| b == START).unwrap_or(data.len());
        return Framing::broken(skip.max(1), ApduError::NoStart);
    }
    let Some(&length) = data.get(1) else {
        return Framing::Incomplete { needed: 2 };
    };
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Framing::broken(1, ApduError::Length(length));
    }
    let len = 2 + usize::from(length);
    if data.len() >= len {
        Framing::Complete { len }
    } else {
        Framing::Incomplete { needed: len }
    }
}

impl Stream for Iec104Dissector {
    type Error = ApduError;

    fn framing(&mut self, _dir: Direction, data: &[u8]) -> Framing<ApduError> {
        frame(data)
    }

    fn on_broken(&mut self, dir: Direction, error: ApduError, out: &mut Vec<Observation>) {
        self.junk(dir, out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        apdu: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        Some(self.apdu(dir, apdu, out))
    }

    fn on_gap(&mut self, dir: Direction) {
        self.lost_sync[dir.index()] = true;
    }
}

impl Iec104Dissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: ApduError) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// Reports a framing error once per loss of sync (never right after a gap).
    fn junk(&mut self, dir: Direction, out: &mut Vec<Observation>, reason: ApduError) {
        if !std::mem::replace(&mut self.lost_sync[dir.index()], true) {
            self.violation(out, reason);
        }
    }

    /// One whole APDU (framed by [`frame`]); returns the octets used: all of it, or one when,
    /// resynchronising, its control octets say it was a 0x68 inside data.
    fn apdu(&mut self, dir: Direction, apdu: &[u8], out: &mut Vec<Observation>) -> usize {
        let Some((&[c0, c1, c2, c3], asdu)) =
            apdu.get(2..).and_then(<[u8]>::split_first_chunk::<4>)
        else {
            return apdu.len();
        };
        let apci = Apci::parse([c0, c1, c2, c3]);
        if self.lost_sync[dir.index()] {
            // Resynchronising: take this as an APDU only if its control octets make sense,
            // else it was a 0x68 inside data.
            let plausible = match apci {
                Apci::U { control } => asdu.is_empty() && valid_u(control),
                Apci::S { .. } => asdu.is_empty(),
                Apci::I { .. } => asdu.len() >= ASDU_HEADER,
            };
            if !plausible {
                return 1;
            }
            self.lost_sync[dir.index()] = false;
        }
        match apci {
            Apci::U { control } => {
                if !valid_u(control) {
                    self.violation(out, ApduError::UControl(control));
                } else if !asdu.is_empty() {
                    self.violation(out, ApduError::UData(asdu.len()));
                } else {
                    out.push(Observation::FunctionCode(U_FRAME_CODE | u32::from(control)));
                }
            }
            Apci::S { .. } => {
                if !asdu.is_empty() {
                    self.violation(out, ApduError::SData(asdu.len()));
                }
            }
            Apci::I { .. } => match AsduHeader::parse(asdu) {
                Ok(h) => {
                    self.asdu(dir, &h, asdu, out);
                    command_access(&h, asdu, out);
                }
                Err(e) => self.violation(out, ApduError::Asdu(e)),
            },
        }
        apdu.len()
    }

    fn asdu(&mut self, dir: Direction, h: &AsduHeader, asdu: &[u8], out: &mut Vec<Observation>) {
        let code = u32::from(h.type_id);
        let op = operation(h.type_id);
        match op {
            // File transfer runs in both directions under cause 13 (101 §7.3.6 and its file
            // transfer procedure), not as activations.
            Some(op @ Operation::FileTransfer) => out.push(Observation::Operation {
                op,
                function_code: Some(code),
                details: ops::details(h, asdu, dir),
            }),
            // Commands carry no details; reset, clock sync and parameters do.
            Some(op) if h.cause == cause::ACTIVATION => out.push(Observation::Operation {
                op,
                function_code: Some(code),
                details: ops::details(h, asdu, dir),
            }),
            _ => out.push(Observation::FunctionCode(code)),
        }
        // The controlled station sends monitor-direction data and confirms commands; the
        // controlling station sends commands for (de)activation (101 §7.2.3).
        let station = match (h.type_id, h.cause) {
            (1..=44 | 70, _) => dir.sender(),
            (45..=69 | 100..=119, cause::ACTIVATION | cause::DEACTIVATION) => dir.receiver(),
            (45..=69 | 100..=119, cause::ACTIVATION_CON..=cause::ACTIVATION_TERMINATION)
            | (45..=69 | 100..=119, cause::UNKNOWN_TYPE..=cause::UNKNOWN_IOA) => dir.sender(),
            _ => return,
        };
        self.common_address(station, h.common_address, out);
    }

    fn common_address(&mut self, station: Subject, address: u16, out: &mut Vec<Observation>) {
        // 0 is not used and 0xFFFF is the global (broadcast) address (101 §7.2.4).
        if address == 0 || address == 0xffff {
            return;
        }
        let entry = Some((station, address));
        if self.addresses.contains(&entry) {
            return;
        }
        let Some(slot) = self.addresses.iter_mut().find(|a| a.is_none()) else {
            return;
        };
        *slot = entry;
        out.push(Observation::Identity {
            subject: station,
            field: Field::Description,
            value: format!("iec104 common address {address}"),
            source: source::IEC104_ASDU,
        });
    }
}

/// The area name of a command type (101 §7.3.2, 104 clause 6 for the time-tagged forms).
fn command_area(type_id: u8) -> Option<&'static str> {
    Some(match type_id {
        45 | 58 => "single_command",
        46 | 59 => "double_command",
        47 | 60 => "regulating_step",
        48 | 61 => "setpoint_normalized",
        49 | 62 => "setpoint_scaled",
        50 | 63 => "setpoint_float",
        51 | 64 => "bitstring",
        _ => return None,
    })
}

/// The objects a command for activation addresses (101 §7.2.2: SQ=0 is n pairs of a
/// three-octet address and an element, SQ=1 one address and n consecutive elements). The
/// ASDU's length was checked against its type and count by [`AsduHeader::parse`].
fn command_access(h: &AsduHeader, asdu: &[u8], out: &mut Vec<Observation>) {
    let Some(area) = command_area(h.type_id) else {
        return;
    };
    let Some(element) = element_len(h.type_id) else {
        return;
    };
    if h.cause != cause::ACTIVATION {
        return;
    }
    let objects = asdu.get(ASDU_HEADER..).unwrap_or_default();
    let ioa = |o: &[u8]| match o.get(..IOA_LEN) {
        Some(&[a, b, c]) => Some(u32::from_le_bytes([a, b, c, 0])),
        _ => None,
    };
    let access = |start: u32, count: u32| {
        Observation::Access(Access {
            op: Operation::Control,
            unit: Some(h.common_address.into()),
            area,
            block: None,
            start,
            count,
        })
    };
    if h.sequence {
        if let Some(start) = ioa(objects) {
            out.push(access(start, h.count.into()));
        }
        return;
    }
    for object in objects.chunks_exact(IOA_LEN + element) {
        if let Some(a) = ioa(object) {
            out.push(access(a, 1));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
