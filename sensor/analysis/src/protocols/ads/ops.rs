//! What each ADS request does, in the shared vocabulary of operations, with its evidence.
//!
//! - Read (2) reads and Write (3) writes the index group/offset it names (TwinCAT index
//!   groups: 0x4020 the PLC's %M memory, 0xF020 the process image of inputs, 0xF030 of
//!   outputs, 0xF005 a symbol's value by handle);
//! - ReadWrite (9) writes data and reads the answer: the symbol services that only look
//!   things up (handle by name 0xF003, symbol info by name 0xF009, sum read 0xF080, the
//!   symbol upload groups 0xF00B-0xF00F) are reads, the rest writes;
//! - WriteControl (5) sets the ADS state: RUN, START and RESUME start the runtime, STOP,
//!   SUSPEND and SHUTDOWN stop it, RESET and RECONFIG restart it (RECONFIG to the system
//!   service, port 10000, is "restart TwinCAT in config mode"), CONFIG switches it to
//!   configuration mode (a mode change: `config_change`, setting `mode`); anything else is a
//!   control;
//! - ReadDeviceInfo identifies, ReadState is diagnostics, AddDeviceNotification subscribes to
//!   changes (a read).

use super::wire::{command, state, Request};
use otwatch_common::observation::{Details, Operation};

/// TwinCAT's index groups with a name in evidence and in data-area accesses.
pub fn area(group: u32) -> &'static str {
    match group {
        0x4020 => "plc_memory",
        0x4040 => "plc_data",
        0xF005 => "symbol_by_handle",
        0xF020 => "inputs",
        0xF030 => "outputs",
        _ => "index_group",
    }
}

/// Index groups whose ReadWrite only looks things up.
fn lookup(group: u32) -> bool {
    matches!(group, 0xF003 | 0xF009 | 0xF00B..=0xF00F | 0xF080)
}

/// The operation a request performs and its evidence.
pub fn request(cmd: u16, r: &Request<'_>, target_port: u16) -> (Option<Operation>, Details) {
    let group = |g: u32, o: u32| {
        vec![
            ("service", command::name(cmd).to_string()),
            ("index_group", format!("{g:#06x}")),
            ("index_offset", o.to_string()),
        ]
    };
    match (cmd, r) {
        (command::READ_DEVICE_INFO, _) => (Some(Operation::Identify), Vec::new()),
        (command::READ_STATE, _) => (Some(Operation::Diagnostics), Vec::new()),
        (_, Request::Read { .. } | Request::AddNotification { .. }) => {
            (Some(Operation::Read), Vec::new())
        }
        (
            _,
            Request::Write {
                group: g, offset, ..
            },
        ) => (Some(Operation::Write), group(*g, *offset)),
        (_, Request::ReadWrite { group: g, .. }) if lookup(*g) => {
            (Some(Operation::Read), Vec::new())
        }
        (
            _,
            Request::ReadWrite {
                group: g, offset, ..
            },
        ) => (Some(Operation::Write), group(*g, *offset)),
        (
            _,
            Request::WriteControl {
                ads_state,
                device_state,
            },
        ) => {
            let op = match *ads_state {
                state::RUN | state::START | state::RESUME => Operation::CpuStart,
                state::STOP | state::SUSPEND | state::SHUTDOWN => Operation::CpuStop,
                state::RESET | state::RECONFIG => Operation::Restart,
                state::CONFIG => Operation::ConfigChange,
                _ => Operation::Control,
            };
            let mut d = vec![
                ("service", command::name(cmd).to_string()),
                ("ads_state", state::name(*ads_state).to_string()),
                ("device_state", device_state.to_string()),
                ("ams_port", target_port.to_string()),
            ];
            if op == Operation::ConfigChange {
                d.push(("setting", "mode".to_string()));
            }
            (Some(op), d)
        }
        _ => (None, Vec::new()),
    }
}
