//! Modbus PDUs: function codes, what each request reads or writes, and the consistency checks
//! of each response. Section numbers are those of the Modbus Application Protocol
//! Specification V1.1b3 (modbus.org, 2012), "MB §" below.
//!
//! A PDU is a function code and its data (MB §4.1). Everything here borrows the PDU and
//! allocates nothing.

use crate::protocols::reader::Cursor;
use otwatch_common::observation::Operation;

/// A function code (MB §4.1, §5.1). Unknown and user-defined codes (65–72, 100–110) survive
/// as values: custom codes exist and are not errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunctionCode(pub u8);

impl FunctionCode {
    pub const READ_COILS: Self = Self(1);
    pub const READ_DISCRETE_INPUTS: Self = Self(2);
    pub const READ_HOLDING_REGISTERS: Self = Self(3);
    pub const READ_INPUT_REGISTERS: Self = Self(4);
    pub const WRITE_SINGLE_COIL: Self = Self(5);
    pub const WRITE_SINGLE_REGISTER: Self = Self(6);
    pub const READ_EXCEPTION_STATUS: Self = Self(7);
    pub const DIAGNOSTICS: Self = Self(8);
    pub const GET_COMM_EVENT_COUNTER: Self = Self(11);
    pub const GET_COMM_EVENT_LOG: Self = Self(12);
    pub const WRITE_MULTIPLE_COILS: Self = Self(15);
    pub const WRITE_MULTIPLE_REGISTERS: Self = Self(16);
    pub const REPORT_SERVER_ID: Self = Self(17);
    pub const READ_FILE_RECORD: Self = Self(20);
    pub const WRITE_FILE_RECORD: Self = Self(21);
    pub const MASK_WRITE_REGISTER: Self = Self(22);
    pub const READ_WRITE_MULTIPLE_REGISTERS: Self = Self(23);
    pub const READ_FIFO_QUEUE: Self = Self(24);
    pub const ENCAPSULATED_INTERFACE: Self = Self(43);
    /// Schneider Electric UMAS (vendor-specific, see `umas.rs`).
    pub const UMAS: Self = Self(90);

    /// Set in the function code of an exception response (MB §7).
    pub const EXCEPTION_FLAG: u8 = 0x80;

    pub fn is_exception(self) -> bool {
        self.0 & Self::EXCEPTION_FLAG != 0
    }

    /// The function code without the exception flag.
    pub fn base(self) -> FunctionCode {
        FunctionCode(self.0 & !Self::EXCEPTION_FLAG)
    }
}

/// MEI types of function 43 (MB §6.19).
pub const MEI_CANOPEN: u8 = 13;
pub const MEI_READ_DEVICE_ID: u8 = 14;

/// Diagnostics sub-function 0x0001 Restart Communications Option (MB §6.8.1).
pub const DIAG_RESTART_COMMUNICATIONS: u16 = 0x0001;
/// Diagnostics sub-function 0x0004 Force Listen Only Mode (MB §6.8.1): the server stops
/// answering until a Restart Communications Option.
pub const DIAG_FORCE_LISTEN_ONLY: u16 = 0x0004;

/// The four primary tables of the data model (MB §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Coils,
    DiscreteInputs,
    InputRegisters,
    HoldingRegisters,
}

impl Table {
    /// The table's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Table::Coils => "coils",
            Table::DiscreteInputs => "discrete_inputs",
            Table::InputRegisters => "input_registers",
            Table::HoldingRegisters => "holding_registers",
        }
    }
}

/// A block of items a request reads or writes (addresses are PDU addresses, 0-based, MB §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub table: Table,
    pub start: u16,
    pub quantity: u16,
}

/// What a request asks for, as far as a monitor cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub function: FunctionCode,
    pub read: Option<Range>,
    pub write: Option<Range>,
    /// Function 8 sub-function, function 43 MEI type, function 90 UMAS function code.
    pub sub_function: Option<u16>,
    /// Function 43/14: Read Device ID code and object id (MB §6.21).
    pub device_id: Option<(u8, u8)>,
}

impl Request {
    /// A request with only its function code known.
    pub fn new(function: FunctionCode) -> Self {
        Request {
            function,
            read: None,
            write: None,
            sub_function: None,
            device_id: None,
        }
    }
}

/// Why a PDU is not well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    #[error("exception response to function {0} without a code")]
    ExceptionWithoutCode(u8),
    #[error("function code 0 is not valid (MB §4.1)")]
    ZeroFunction,
    #[error("request uses function code {0:#04x}, reserved for exception responses (MB §4.1)")]
    ExceptionInRequest(u8),
    #[error("function {function} PDU of {len} bytes is shorter than its fixed fields")]
    Short { function: u8, len: usize },
    #[error(
        "function {function} byte count {count} does not match the {actual} bytes that follow"
    )]
    ByteCount {
        function: u8,
        count: usize,
        actual: usize,
    },
    #[error("function {function} byte count {count} does not match the quantity {quantity}")]
    Quantity {
        function: u8,
        count: usize,
        quantity: u16,
    },
    #[error("device identification object {id:#04x} overruns the PDU")]
    ObjectOverrun { id: u8 },
}

/// Bytes needed for `quantity` bits (MB §6.1: "N = Quantity of Outputs / 8, if the remainder
/// is different of 0 ⇒ N = N+1").
fn bit_bytes(quantity: u16) -> usize {
    usize::from(quantity).div_ceil(8)
}

fn register_bytes(quantity: u16) -> usize {
    usize::from(quantity) * 2
}

/// Reads a byte count and checks it against the bytes that follow it, which must be exactly
/// that many (the "byte count inconsistent with the PDU" rule).
fn counted<'a>(c: &mut Cursor<'a>, function: u8, len: usize) -> Result<&'a [u8], PduError> {
    let count = usize::from(c.u8().ok_or(PduError::Short { function, len })?);
    let rest = c.rest();
    if rest.len() != count {
        return Err(PduError::ByteCount {
            function,
            count,
            actual: rest.len(),
        });
    }
    Ok(rest)
}

/// Parses a request PDU (client to server).
pub fn parse_request(pdu: &[u8]) -> Result<Request, PduError> {
    let len = pdu.len();
    let mut c = Cursor::new(pdu);
    let fc = c.u8().ok_or(PduError::Short { function: 0, len })?;
    let short = PduError::Short { function: fc, len };
    let mut req = Request::new(FunctionCode(fc));
    let range = |table, c: &mut Cursor<'_>| -> Result<Range, PduError> {
        let start = c.u16_be().ok_or(short)?;
        let quantity = c.u16_be().ok_or(short)?;
        Ok(Range {
            table,
            start,
            quantity,
        })
    };
    match FunctionCode(fc) {
        FunctionCode(0) => return Err(PduError::ZeroFunction),
        f if f.is_exception() => return Err(PduError::ExceptionInRequest(fc)),
        // MB §6.1–6.4: starting address, quantity.
        FunctionCode::READ_COILS => req.read = Some(range(Table::Coils, &mut c)?),
        FunctionCode::READ_DISCRETE_INPUTS => {
            req.read = Some(range(Table::DiscreteInputs, &mut c)?)
        }
        FunctionCode::READ_HOLDING_REGISTERS => {
            req.read = Some(range(Table::HoldingRegisters, &mut c)?)
        }
        FunctionCode::READ_INPUT_REGISTERS => {
            req.read = Some(range(Table::InputRegisters, &mut c)?)
        }
        // MB §6.5, §6.6: address, value; one item.
        FunctionCode::WRITE_SINGLE_COIL | FunctionCode::WRITE_SINGLE_REGISTER => {
            let table = if fc == 5 {
                Table::Coils
            } else {
                Table::HoldingRegisters
            };
            let start = c.u16_be().ok_or(short)?;
            c.u16_be().ok_or(short)?;
            req.write = Some(Range {
                table,
                start,
                quantity: 1,
            });
        }
        // MB §6.11, §6.12: address, quantity, byte count, values.
        FunctionCode::WRITE_MULTIPLE_COILS | FunctionCode::WRITE_MULTIPLE_REGISTERS => {
            let (table, bytes): (Table, fn(u16) -> usize) = if fc == 15 {
                (Table::Coils, bit_bytes)
            } else {
                (Table::HoldingRegisters, register_bytes)
            };
            let w = range(table, &mut c)?;
            let values = counted(&mut c, fc, len)?;
            if values.len() != bytes(w.quantity) {
                return Err(PduError::Quantity {
                    function: fc,
                    count: values.len(),
                    quantity: w.quantity,
                });
            }
            req.write = Some(w);
        }
        // MB §6.16: reference address, AND mask, OR mask.
        FunctionCode::MASK_WRITE_REGISTER => {
            let start = c.u16_be().ok_or(short)?;
            c.skip(4).ok_or(short)?;
            req.write = Some(Range {
                table: Table::HoldingRegisters,
                start,
                quantity: 1,
            });
        }
        // MB §6.17: read range, write range, byte count, write values.
        FunctionCode::READ_WRITE_MULTIPLE_REGISTERS => {
            let r = range(Table::HoldingRegisters, &mut c)?;
            let w = range(Table::HoldingRegisters, &mut c)?;
            let values = counted(&mut c, fc, len)?;
            if values.len() != register_bytes(w.quantity) {
                return Err(PduError::Quantity {
                    function: fc,
                    count: values.len(),
                    quantity: w.quantity,
                });
            }
            req.read = Some(r);
            req.write = Some(w);
        }
        // MB §6.18: FIFO pointer address.
        FunctionCode::READ_FIFO_QUEUE => {
            c.u16_be().ok_or(short)?;
        }
        // MB §6.8: sub-function, data.
        FunctionCode::DIAGNOSTICS => req.sub_function = Some(c.u16_be().ok_or(short)?),
        // MB §6.14, §6.15: byte count, sub-requests.
        FunctionCode::READ_FILE_RECORD | FunctionCode::WRITE_FILE_RECORD => {
            counted(&mut c, fc, len)?;
        }
        // MB §6.19–6.21: MEI type; for 14, Read Device ID code and object id.
        FunctionCode::ENCAPSULATED_INTERFACE => {
            let mei = c.u8().ok_or(short)?;
            req.sub_function = Some(mei.into());
            if mei == MEI_READ_DEVICE_ID {
                let code = c.u8().ok_or(short)?;
                let object = c.u8().ok_or(short)?;
                req.device_id = Some((code, object));
            }
        }
        // UMAS: session key, UMAS function code (see umas.rs).
        FunctionCode::UMAS => {
            c.u8().ok_or(short)?;
            req.sub_function = Some(c.u8().ok_or(short)?.into());
        }
        // MB §6.7, §6.9, §6.10, §6.13 have no data; other codes are not ours to judge.
        _ => {}
    }
    Ok(req)
}

/// Checks a normal (non-exception) response PDU against its function's layout and, when the
/// request is known, against what was asked.
pub fn check_response(pdu: &[u8], request: Option<&Request>) -> Result<(), PduError> {
    let len = pdu.len();
    let mut c = Cursor::new(pdu);
    let fc = c.u8().ok_or(PduError::Short { function: 0, len })?;
    let short = PduError::Short { function: fc, len };
    let asked = request.and_then(|r| r.read).map(|r| r.quantity);
    let expect = |count: usize, want: Option<usize>, quantity: Option<u16>| match (want, quantity) {
        (Some(w), Some(q)) if w != count => Err(PduError::Quantity {
            function: fc,
            count,
            quantity: q,
        }),
        _ => Ok(()),
    };
    match FunctionCode(fc) {
        FunctionCode(0) => return Err(PduError::ZeroFunction),
        // MB §6.1, §6.2: byte count, coil/input status; N = ceil(quantity / 8).
        FunctionCode::READ_COILS | FunctionCode::READ_DISCRETE_INPUTS => {
            let n = counted(&mut c, fc, len)?.len();
            expect(n, asked.map(bit_bytes), asked)?;
        }
        // MB §6.3, §6.4, §6.17: byte count, register values; 2 × N bytes. This is the check
        // other monitors get wrong: a count of exactly twice the quantity is correct.
        FunctionCode::READ_HOLDING_REGISTERS
        | FunctionCode::READ_INPUT_REGISTERS
        | FunctionCode::READ_WRITE_MULTIPLE_REGISTERS => {
            let n = counted(&mut c, fc, len)?.len();
            if asked.is_none() && n % 2 != 0 {
                return Err(PduError::ByteCount {
                    function: fc,
                    count: n,
                    actual: n,
                });
            }
            expect(n, asked.map(register_bytes), asked)?;
        }
        // MB §6.10, §6.13, §6.14, §6.15: a byte count and that many bytes.
        FunctionCode::GET_COMM_EVENT_LOG
        | FunctionCode::REPORT_SERVER_ID
        | FunctionCode::READ_FILE_RECORD
        | FunctionCode::WRITE_FILE_RECORD => {
            counted(&mut c, fc, len)?;
        }
        // MB §6.18: two-byte byte count, then FIFO count and values.
        FunctionCode::READ_FIFO_QUEUE => {
            let count = usize::from(c.u16_be().ok_or(short)?);
            let rest = c.rest().len();
            if rest != count {
                return Err(PduError::ByteCount {
                    function: fc,
                    count,
                    actual: rest,
                });
            }
        }
        // MB §6.5, §6.6, §6.9, §6.11, §6.12: two 16-bit fields echoed or counted.
        FunctionCode::WRITE_SINGLE_COIL
        | FunctionCode::WRITE_SINGLE_REGISTER
        | FunctionCode::GET_COMM_EVENT_COUNTER
        | FunctionCode::WRITE_MULTIPLE_COILS
        | FunctionCode::WRITE_MULTIPLE_REGISTERS => {
            c.skip(4).ok_or(short)?;
        }
        FunctionCode::MASK_WRITE_REGISTER => c.skip(6).ok_or(short)?,
        FunctionCode::READ_EXCEPTION_STATUS => c.skip(1).ok_or(short)?,
        FunctionCode::DIAGNOSTICS => c.skip(2).ok_or(short)?,
        FunctionCode::ENCAPSULATED_INTERFACE => {
            let mei = c.u8().ok_or(short)?;
            if mei == MEI_READ_DEVICE_ID {
                device_id(pdu)?.objects().try_for_each(|o| o.map(|_| ()))?;
            }
        }
        // UMAS: session key and status.
        FunctionCode::UMAS => c.skip(2).ok_or(short)?,
        _ => {}
    }
    Ok(())
}

/// The operations a request performs, most specific first (at most two).
pub fn operations(req: &Request) -> [Option<Operation>; 2] {
    use Operation::*;
    match req.function {
        FunctionCode::READ_COILS
        | FunctionCode::READ_DISCRETE_INPUTS
        | FunctionCode::READ_HOLDING_REGISTERS
        | FunctionCode::READ_INPUT_REGISTERS
        | FunctionCode::READ_FIFO_QUEUE => [Some(Read), None],
        FunctionCode::WRITE_SINGLE_COIL
        | FunctionCode::WRITE_SINGLE_REGISTER
        | FunctionCode::WRITE_MULTIPLE_COILS
        | FunctionCode::WRITE_MULTIPLE_REGISTERS
        | FunctionCode::MASK_WRITE_REGISTER => [Some(Write), None],
        FunctionCode::READ_WRITE_MULTIPLE_REGISTERS => [Some(Read), Some(Write)],
        FunctionCode::READ_FILE_RECORD => [Some(FileTransfer), Some(Read)],
        FunctionCode::WRITE_FILE_RECORD => [Some(FileTransfer), Some(Write)],
        FunctionCode::READ_EXCEPTION_STATUS
        | FunctionCode::GET_COMM_EVENT_COUNTER
        | FunctionCode::GET_COMM_EVENT_LOG => [Some(Diagnostics), None],
        // MB §6.8.1: sub-function 01 restarts the server's serial line port.
        FunctionCode::DIAGNOSTICS if req.sub_function == Some(DIAG_RESTART_COMMUNICATIONS) => {
            [Some(Restart), None]
        }
        // Sub-function 04 changes how the server runs: a mode change.
        FunctionCode::DIAGNOSTICS if req.sub_function == Some(DIAG_FORCE_LISTEN_ONLY) => {
            [Some(ConfigChange), None]
        }
        FunctionCode::DIAGNOSTICS => [Some(Diagnostics), None],
        FunctionCode::REPORT_SERVER_ID => [Some(Identify), None],
        FunctionCode::ENCAPSULATED_INTERFACE
            if req.sub_function == Some(MEI_READ_DEVICE_ID.into()) =>
        {
            [Some(Identify), None]
        }
        FunctionCode::UMAS => [
            req.sub_function
                .and_then(|s| u8::try_from(s).ok())
                .and_then(super::umas::operation),
            None,
        ],
        _ => [None, None],
    }
}

/// A Read Device Identification response (MB §6.21), borrowed.
#[derive(Debug, Clone, Copy)]
pub struct DeviceId<'a> {
    /// Read Device ID code echoed from the request (1 basic, 2 regular, 3 extended, 4 one).
    pub code: u8,
    pub conformity: u8,
    pub more_follows: bool,
    pub next_object: u8,
    count: u8,
    list: &'a [u8],
}

/// One identification object: id and its value (an ASCII string for 0x00–0x06).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    pub id: u8,
    pub value: &'a [u8],
}

/// Standard object ids (MB §6.21, table "Basic"/"Regular" categories).
pub const OBJ_VENDOR_NAME: u8 = 0x00;
pub const OBJ_PRODUCT_CODE: u8 = 0x01;
pub const OBJ_MAJOR_MINOR_REVISION: u8 = 0x02;
pub const OBJ_VENDOR_URL: u8 = 0x03;
pub const OBJ_PRODUCT_NAME: u8 = 0x04;
pub const OBJ_MODEL_NAME: u8 = 0x05;
pub const OBJ_USER_APPLICATION_NAME: u8 = 0x06;

/// Parses the header of a 43/14 response PDU: function, MEI type, Read Device ID code,
/// conformity level, more follows, next object id, number of objects, then the list.
pub fn device_id(pdu: &[u8]) -> Result<DeviceId<'_>, PduError> {
    let len = pdu.len();
    let short = PduError::Short { function: 43, len };
    let mut c = Cursor::new(pdu);
    let [_fc, _mei, code, conformity, more, next, count] = c.array::<7>().ok_or(short)?;
    Ok(DeviceId {
        code,
        conformity,
        // 0xFF: more objects to come in another transaction; 0x00: none.
        more_follows: more == 0xff,
        next_object: next,
        count,
        list: c.rest(),
    })
}

impl<'a> DeviceId<'a> {
    /// The objects as stated by "number of objects"; an object whose length runs past the PDU
    /// is an error. Bytes after the last object are tolerated.
    pub fn objects(self) -> impl Iterator<Item = Result<Object<'a>, PduError>> + 'a {
        let mut c = Cursor::new(self.list);
        let mut left = self.count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let item = (|| {
                let id = c.u8().ok_or(PduError::ObjectOverrun { id: 0xff })?;
                let n = c.u8().ok_or(PduError::ObjectOverrun { id })?;
                let value = c.take(n.into()).ok_or(PduError::ObjectOverrun { id })?;
                Ok(Object { id, value })
            })();
            if item.is_err() {
                left = 0;
            }
            Some(item)
        })
    }
}

/// The longest run of printable ASCII (at least 4 bytes) in a Report Server ID response's
/// data (MB §6.13: server id, run indicator, additional data, all device specific). Devices
/// that put a name there put it as text; binary ids are skipped.
pub fn server_id_text(pdu: &[u8]) -> Option<&[u8]> {
    let data = pdu.get(2..)?;
    data.split(|b| !(0x20..0x7f).contains(b))
        .filter(|run| run.len() >= 4)
        .max_by_key(|run| run.len())
}
