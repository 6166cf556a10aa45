//! Observations: the small owned facts that dissectors emit and the inventory folds in.
//!
//! A dissector never touches the inventory; it says what it saw ("the server of this flow
//! answered DHCP with hostname PLC-7", "this MAC owns that IP"), and the inventory decides
//! what that means for assets. Text values are owned because they outlive the packet.

use crate::addr::Mac;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Whom an observation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// The flow's initiator (client).
    Client,
    /// The flow's responder (server).
    Server,
    /// A host named by IP inside the payload (a DNS answer, an LLDP management address).
    Ip(IpAddr),
    /// A device named by MAC (DHCP chaddr, the source of an LLDP frame).
    Mac(Mac),
}

/// An identity field of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Hostname,
    Vendor,
    Model,
    Firmware,
    Os,
    Serial,
    /// A free-text self-description (SNMP sysDescr, LLDP system description, SSDP server).
    Description,
    /// Device type as one of the catalog names (`switch`, `router`, `plc`, ...).
    DeviceType,
    /// A weak operating-system hint (initial IP TTL); shown as evidence, never chosen as `os`.
    OsHint,
    /// Purdue level (0-5) as decimal text.
    PurdueLevel,
    /// A condition the device reported about itself (DNP3 internal indications: restarted,
    /// trouble, configuration corrupt, needs time); shown as evidence, never chosen.
    Status,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Hostname => "hostname",
            Field::Vendor => "vendor",
            Field::Model => "model",
            Field::Firmware => "firmware",
            Field::Os => "os",
            Field::Serial => "serial",
            Field::Description => "description",
            Field::DeviceType => "device_type",
            Field::OsHint => "os_hint",
            Field::PurdueLevel => "purdue_level",
            Field::Status => "status",
        }
    }
}

/// Operations, one shared vocabulary for every protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Read,
    Write,
    ProgramDownload,
    ProgramUpload,
    ProgramDelete,
    FirmwareUpdate,
    CpuStop,
    CpuStart,
    Restart,
    Identify,
    Diagnostics,
    TimeSync,
    FileTransfer,
    Control,
    /// A write that changes how a device runs or is reached: network settings, security
    /// settings (password, protection level, lock), station name, factory reset.
    ConfigChange,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::ProgramDownload => "program_download",
            Operation::ProgramUpload => "program_upload",
            Operation::ProgramDelete => "program_delete",
            Operation::FirmwareUpdate => "firmware_update",
            Operation::CpuStop => "cpu_stop",
            Operation::CpuStart => "cpu_start",
            Operation::Restart => "restart",
            Operation::Identify => "identify",
            Operation::Diagnostics => "diagnostics",
            Operation::TimeSync => "time_sync",
            Operation::FileTransfer => "file_transfer",
            Operation::Control => "control",
            Operation::ConfigChange => "config_change",
        }
    }

    /// Every operation, in order.
    pub const ALL: [Operation; 15] = [
        Operation::Read,
        Operation::Write,
        Operation::ProgramDownload,
        Operation::ProgramUpload,
        Operation::ProgramDelete,
        Operation::FirmwareUpdate,
        Operation::CpuStop,
        Operation::CpuStart,
        Operation::Restart,
        Operation::Identify,
        Operation::Diagnostics,
        Operation::TimeSync,
        Operation::FileTransfer,
        Operation::Control,
        Operation::ConfigChange,
    ];

    /// The operation named `s` (as [`Operation::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// True for operations that change a device: writes, commands, programs, firmware, mode,
    /// restarts, configuration and clock. Reads, identification and diagnostics do not.
    pub fn changes_device(self) -> bool {
        !matches!(
            self,
            Operation::Read | Operation::Identify | Operation::Diagnostics
        )
    }
}

/// Client or server side of a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

/// Evidence of an operation: `(field, value)` pairs such as `("block", "OB1")`,
/// `("service", "PI _INSE")`, `("sha256", "…")`.
pub type Details = Vec<(&'static str, String)>;

/// Where an identity fact comes from: its name in evidence and reports, and its rank, how far
/// it is trusted against other sources of the same field (the higher wins). The sensor's
/// sources are constants listed in one place, `otwatch_analysis::protocols::source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source {
    pub name: &'static str,
    pub rank: u8,
}

/// The flow's client asked to `op` (read, write, control) `count` consecutive items from
/// `start` in one data area of the server: Modbus "holding_registers" of unit 1, S7 "db"
/// block 1, DNP3 "binary_output" points of outstation 4, IEC 104 "single_command"
/// information objects of common address 1. Addresses are the protocol's own (Modbus PDU
/// addresses, S7 byte offsets, DNP3 point indexes, IEC 104 IOAs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub op: Operation,
    /// The addressed device behind the server: Modbus unit id, DNP3 destination link
    /// address, IEC 104 common address; `None` where the server is the device.
    pub unit: Option<u32>,
    /// Snake-case area name ("coils", "holding_registers", "db", "M", ...).
    pub area: &'static str,
    /// Numbered areas (S7 data block number): reported as the area name and the number.
    pub block: Option<u32>,
    pub start: u32,
    /// Items accessed; 0 means none and is ignored.
    pub count: u32,
}

/// A frame of a stream a publisher multicasts on the process bus (IEC 61850 GOOSE, Sampled
/// Values), with what the stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `goose` or `sv`.
    pub protocol: &'static str,
    /// GOOSE gocbRef, SV svID.
    pub id: String,
    pub appid: u16,
    /// The destination group address, where the subscribers listen.
    pub group: Option<Mac>,
    pub dataset: Option<String>,
    /// GOOSE goID.
    pub go_id: Option<String>,
    pub conf_rev: u32,
    /// GOOSE stNum of the last frame.
    pub st_num: Option<u32>,
    /// The frame carries a new state (stNum changed within the stream).
    pub state_change: bool,
    /// The last frame had the simulation (test) flag set.
    pub simulation: bool,
}

/// One fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// `subject`'s `field` is `value`, according to `source` (e.g. "dhcp option 12").
    Identity {
        subject: Subject,
        field: Field,
        value: String,
        source: Source,
    },
    /// `mac` and `ip` belong to one device (ARP sender, DHCP ack, ...). Only protocols whose
    /// semantics tie the two may say this; a MAC that merely carried a packet does not.
    Binding {
        mac: Mac,
        ip: IpAddr,
        source: &'static str,
    },
    /// `subject` speaks `protocol` as `role` (used where there is no flow to carry it, or a
    /// flow's endpoint is not the speaker, e.g. an LLDP frame or an SSDP NOTIFY).
    Speaks {
        subject: Subject,
        protocol: &'static str,
        role: Role,
        port: u16,
    },
    /// The flow carried an operation, with the raw function code that expressed it.
    Operation {
        op: Operation,
        function_code: Option<u32>,
        /// What an alert shows as evidence: the protocol's name for the function ("PI service
        /// _INSE", "Set_Attribute_Single"), the block, file or object it named, a content hash,
        /// a value. Empty for routine operations (an empty `Vec` does not allocate).
        details: Details,
    },
    /// A raw function code without a classified operation.
    FunctionCode(u32),
    /// The flow's client accessed a range of one data area of the server ([`Access`]).
    Access(Access),
    /// A cleartext login crossed the wire: the user name only, never the secret.
    CleartextLogin {
        user: String,
        protocol: &'static str,
    },
    /// A login was refused (FTP 530, telnet "Login incorrect", HTTP 401 after credentials,
    /// MQTT CONNACK "not authorized", VNC security failure, SMB logon failure): the user name
    /// when the protocol showed it (never the secret), else empty.
    AuthFailure {
        user: String,
        protocol: &'static str,
    },
    /// The flow's client asked for a name: a DNS query, a TLS server name (SNI), an HTTP Host.
    /// Matched against indicators of compromise.
    Lookup { name: String, via: &'static str },
    /// `subject` publishes a process-bus stream ([`Published`]).
    Publishes {
        subject: Subject,
        stream: Box<Published>,
    },
    /// The payload broke the protocol's rules; a finding, not an error.
    ProtocolViolation {
        protocol: &'static str,
        reason: String,
    },
}
