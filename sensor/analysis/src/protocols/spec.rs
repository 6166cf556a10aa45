//! The description of a protocol that its dissector gives the registry: the ports that
//! nominate it, the probe that confirms it from content, and how a dissector is made. Each
//! dissector declares its own; `registry` lists them all.

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

/// How a link-layer protocol is found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameMatch {
    /// Ethernet II ethertype.
    Ethertype(u16),
    /// IEEE 802.2 SNAP (OUI, protocol id).
    Snap(u32, u16),
}

/// A link-layer protocol without flows.
pub struct FrameSpec {
    pub name: &'static str,
    pub matches: FrameMatch,
    /// Makes the dissector a pipeline keeps for the whole run.
    pub new: fn() -> Box<dyn super::FrameDissector>,
}

impl std::fmt::Debug for FrameSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSpec")
            .field("name", &self.name)
            .field("matches", &self.matches)
            .finish()
    }
}
