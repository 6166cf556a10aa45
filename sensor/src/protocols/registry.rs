//! The table of protocols: which ports nominate them, how content confirms them, and how a
//! dissector is made for a flow.

use super::{Direction, Dissector, Probe, Transport};

/// A protocol the sensor can recognise on a flow.
pub struct ProtocolSpec {
    /// Lower-case protocol name as reported (`dhcp`, `http`, `modbus`, ...).
    pub name: &'static str,
    pub transport: Transport,
    /// Server ports that nominate this protocol (probe still decides).
    pub ports: &'static [u16],
    /// Looks at the first payload seen on the flow (either direction; `dir` says which).
    pub probe: fn(dir: Direction, data: &[u8]) -> Probe,
    /// Makes a fresh dissector for a flow.
    pub new: fn() -> Box<dyn Dissector>,
}

impl std::fmt::Debug for ProtocolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolSpec")
            .field("name", &self.name)
            .field("transport", &self.transport)
            .field("ports", &self.ports)
            .finish()
    }
}

/// Every flow protocol, in the order content probes are tried when no port nominates one.
pub static PROTOCOLS: &[ProtocolSpec] = &[];
