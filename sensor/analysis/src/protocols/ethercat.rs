//! EtherCAT (IEC 61158-4-12 / ETG.1000.4, ethertype 0x88A4): a master sends a frame of
//! datagrams into a line of slaves, each slave reads or writes its part of each datagram on the
//! fly and increments the datagram's working counter, and the last slave sends the frame back
//! to the master. Read against Wireshark's `packet-ethercat-frame.c` and
//! `packet-ethercat-datagram.c`; written from the specification's frame layout.
//!
//! Layers: the EtherCAT header (2 octets, little-endian: Length 11 bits, a reserved bit, Type 4
//! bits; Type 1 carries datagrams), then datagrams, each with Cmd, Idx, Address (ADP and ADO,
//! or a 32-bit logical address), Len (11 bits, then Circulating and More bits), IRQ, Len octets
//! of data and the working counter (WKC). Other types (network variables, mailbox gateway) are
//! only checked for their length.
//!
//! Who the master is: slaves have no MAC address. The master's frames go out with its source
//! MAC and come back with the same MAC with the locally-administered bit (bit 1 of the first
//! octet) set, which the first slave sets on the way back. A frame whose working counters are
//! not all zero has passed a slave and was returned, and so does a frame from an address with
//! that bit set when the address without it is a master already seen sending (or no asset at
//! all); its master is the source without the bit. A returned frame's datagrams are not
//! counted again. Masters that send from the zero MAC (TwinCAT in some setups) or a
//! group address (SOEM's default 01:01:01:01:01:01) name no asset and are passed over without a
//! violation: the address is the master's choice, not a fault of the traffic.
//!
//! What it reports, about the master: that it speaks `ethercat` as client; device type `plc`
//! (a controller of the segment, below what the device says of itself elsewhere); the first
//! use of each command, as an operation (reads, writes; read-write and read-multiple-write
//! commands write) with the command's name; the number of slaves on the segment, when a
//! returned broadcast read counts more slaves than before (its WKC). Counts of each command a
//! master sent are kept for the run ([`EthercatDissector::commands`]). Violations: a header
//! Length past the frame, a datagram whose Len overruns the frame, the More bit disagreeing
//! with the datagrams that follow (fewer octets than a datagram after the last one are
//! padding, as TwinCAT sends), an unknown command.

use super::violations::Violations;
use super::{push_identity, source, FrameDissector, LinkFrame};
use otwatch_common::observation::{Field, Observation, Operation, Role, Subject};
use otwatch_common::Mac;
use std::collections::HashMap;

/// The name reports use.
pub const PROTOCOL: &str = "ethercat";
/// EtherCAT's ethertype.
pub const ETHERTYPE: u16 = 0x88a4;
/// Masters remembered at most; a table that fills up is emptied.
const MAX_MASTERS: usize = 1024;
/// Datagrams read from one frame at most (a full frame holds about a hundred small ones).
const MAX_DATAGRAMS: usize = 128;
/// The header of a datagram and its working counter.
const DATAGRAM_OVERHEAD: usize = 12;

/// EtherCAT header Type: datagrams (ETG.1000.4 §5.2, "EtherCAT frame structure").
pub const TYPE_DATAGRAMS: u8 = 1;

/// Datagram commands (ETG.1000.4 Table "EtherCAT command types").
pub mod command {
    pub const NOP: u8 = 0;
    pub const BRD: u8 = 7;
    /// The last command number defined (FRMW).
    pub const LAST: u8 = 14;

    /// The command's mnemonic.
    pub fn name(cmd: u8) -> Option<&'static str> {
        const NAMES: [&str; 15] = [
            "NOP", "APRD", "APWR", "APRW", "FPRD", "FPWR", "FPRW", "BRD", "BWR", "BRW", "LRD",
            "LWR", "LRW", "ARMW", "FRMW",
        ];
        NAMES.get(usize::from(cmd)).copied()
    }

    /// What a command does to the slaves: reads (APRD, FPRD, BRD, LRD), writes (the others but
    /// NOP: APWR, FPWR, BWR, LWR, the read-writes and ARMW/FRMW, which read one slave and
    /// write the others).
    pub fn operation(cmd: u8) -> Option<super::Operation> {
        use super::Operation;
        match cmd {
            1 | 4 | 7 | 10 => Some(Operation::Read),
            2 | 3 | 5 | 6 | 8 | 9 | 11..=14 => Some(Operation::Write),
            _ => None,
        }
    }
}

/// What was wrong with an EtherCAT frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EthercatError {
    #[error("EtherCAT frame of {0} octets too short for its header")]
    Truncated(usize),
    #[error("EtherCAT header Length {declared} runs past the {available} octets of the frame")]
    Length { declared: u16, available: usize },
    #[error("EtherCAT datagram {index} of Len {len} runs past the frame's Length")]
    DatagramLength { index: usize, len: u16 },
    #[error("EtherCAT datagram {0} says more follow, but the frame ends")]
    MoreMissing(usize),
    #[error("EtherCAT datagram {0} says none follow, but {1} octets remain")]
    MoreUnset(usize, usize),
    #[error("EtherCAT datagram {index} has unknown command {cmd}")]
    Command { index: usize, cmd: u8 },
}

/// The EtherCAT header and what it delimits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub length: u16,
    pub ty: u8,
    /// The Length octets after the header (octets after them are Ethernet padding).
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<Self, EthercatError> {
        let Some((&[h0, h1], rest)) = payload.split_first_chunk::<2>() else {
            return Err(EthercatError::Truncated(payload.len()));
        };
        let h = u16::from_le_bytes([h0, h1]);
        let length = h & 0x07ff;
        let body = rest
            .get(..usize::from(length))
            .ok_or(EthercatError::Length {
                declared: length,
                available: rest.len(),
            })?;
        Ok(Frame {
            length,
            ty: (h >> 12) as u8,
            body,
        })
    }

    /// The datagrams of a Type 1 frame (none for other types).
    pub fn datagrams(&self) -> Datagrams<'a> {
        Datagrams {
            rest: if self.ty == TYPE_DATAGRAMS {
                self.body
            } else {
                &[]
            },
            index: 0,
            done: false,
        }
    }
}

/// One datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub cmd: u8,
    pub idx: u8,
    /// ADP (position or configured station address) for the addressed commands.
    pub adp: u16,
    /// ADO (register offset) for the addressed commands.
    pub ado: u16,
    pub len: u16,
    /// The frame circulated once through the ring (C bit).
    pub circulating: bool,
    /// Another datagram follows (M bit).
    pub more: bool,
    pub irq: u16,
    pub data: &'a [u8],
    pub wkc: u16,
}

impl Datagram<'_> {
    /// The 32-bit logical address of LRD, LWR and LRW: ADP and ADO read as one.
    pub fn logical_address(&self) -> u32 {
        u32::from(self.adp) | (u32::from(self.ado) << 16)
    }
}

/// Iterator over the datagrams of a frame; stops after the first malformed one.
#[derive(Debug, Clone)]
pub struct Datagrams<'a> {
    rest: &'a [u8],
    index: usize,
    done: bool,
}

impl<'a> Iterator for Datagrams<'a> {
    type Item = Result<Datagram<'a>, EthercatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() || self.index >= MAX_DATAGRAMS {
            return None;
        }
        let index = self.index;
        self.index += 1;
        let r = self.read(index);
        if r.as_ref().map_or(true, |d| !d.more) {
            self.done = true;
        }
        Some(r)
    }
}

impl<'a> Datagrams<'a> {
    fn read(&mut self, index: usize) -> Result<Datagram<'a>, EthercatError> {
        let Some((&[cmd, idx, a0, a1, o0, o1, l0, l1, i0, i1], rest)) =
            self.rest.split_first_chunk::<10>()
        else {
            return Err(EthercatError::DatagramLength { index, len: 0 });
        };
        let lenf = u16::from_le_bytes([l0, l1]);
        let len = lenf & 0x07ff;
        let more = lenf & 0x8000 != 0;
        let (data, rest) = rest
            .split_at_checked(usize::from(len))
            .ok_or(EthercatError::DatagramLength { index, len })?;
        let Some((&[w0, w1], rest)) = rest.split_first_chunk::<2>() else {
            return Err(EthercatError::DatagramLength { index, len });
        };
        if cmd > command::LAST {
            return Err(EthercatError::Command { index, cmd });
        }
        match (more, rest.len()) {
            (true, n) if n < DATAGRAM_OVERHEAD => return Err(EthercatError::MoreMissing(index)),
            // Fewer octets than a datagram are padding (TwinCAT rounds Length up to even).
            (false, n) if n >= DATAGRAM_OVERHEAD => return Err(EthercatError::MoreUnset(index, n)),
            _ => {}
        }
        self.rest = rest;
        Ok(Datagram {
            cmd,
            idx,
            adp: u16::from_le_bytes([a0, a1]),
            ado: u16::from_le_bytes([o0, o1]),
            len,
            circulating: lenf & 0x4000 != 0,
            more,
            irq: u16::from_le_bytes([i0, i1]),
            data,
            wkc: u16::from_le_bytes([w0, w1]),
        })
    }
}

/// What is remembered of a master.
#[derive(Debug, Default)]
struct Master {
    /// Datagrams sent, by command.
    commands: [u64; 15],
    /// The most slaves a returned BRD counted.
    slaves: u16,
    violations: Violations,
}

/// The EtherCAT dissector of a pipeline: the masters seen so far.
#[derive(Debug, Default)]
pub struct EthercatDissector {
    masters: HashMap<Mac, Master>,
    /// For frames whose master names no asset.
    unattributed: Violations,
}

impl FrameDissector for EthercatDissector {
    /// A returned frame is its master's traffic, and a frame of a master without an asset
    /// address (the zero MAC, a group address) no device's.
    fn device(&self, f: &LinkFrame, payload: &[u8]) -> Option<Mac> {
        let (master, _) = self.master_of(f.src, Self::passed_slave(&Frame::parse(payload)));
        master.is_unicast().then_some(master)
    }

    fn frame(&mut self, f: &LinkFrame, payload: &[u8], out: &mut Vec<Observation>) {
        let frame = Frame::parse(payload);
        let (master, returned) = self.master_of(f.src, Self::passed_slave(&frame));
        if !master.is_unicast() {
            if let Err(e) = frame {
                self.unattributed.record(PROTOCOL, e, out);
            }
            return;
        }
        if !self.masters.contains_key(&master) && self.masters.len() >= MAX_MASTERS {
            self.masters.clear();
        }
        let first = !self.masters.contains_key(&master);
        let m = self.masters.entry(master).or_default();
        let subject = Subject::Mac(master);
        if first {
            push_identity(
                out,
                subject,
                Field::DeviceType,
                Some("plc".to_owned()),
                source::ETHERCAT_MASTER,
            );
        }
        let frame = match frame {
            Ok(fr) => fr,
            Err(e) => {
                m.violations.record(PROTOCOL, e, out);
                return;
            }
        };
        out.push(Observation::Speaks {
            subject,
            protocol: PROTOCOL,
            role: Role::Client,
            port: 0,
        });
        for d in frame.datagrams() {
            let d = match d {
                Ok(d) => d,
                Err(e) => {
                    m.violations.record(PROTOCOL, e, out);
                    break;
                }
            };
            if returned {
                // A returned broadcast read: every slave incremented its working counter.
                if d.cmd == command::BRD && d.wkc > m.slaves {
                    m.slaves = d.wkc;
                    push_identity(
                        out,
                        subject,
                        Field::Status,
                        Some(format!("EtherCAT master of {} slave(s)", d.wkc)),
                        source::ETHERCAT_MASTER,
                    );
                }
                continue;
            }
            let Some(count) = m.commands.get_mut(usize::from(d.cmd)) else {
                continue;
            };
            *count += 1;
            if *count == 1 {
                if let (Some(op), Some(name)) = (command::operation(d.cmd), command::name(d.cmd)) {
                    out.push(Observation::Operation {
                        op,
                        function_code: Some(u32::from(d.cmd)),
                        details: vec![("command", name.to_owned())],
                    });
                }
            }
        }
    }
}

impl EthercatDissector {
    /// Whether a parsed frame has passed a slave (a working counter is not zero).
    fn passed_slave(frame: &Result<Frame<'_>, EthercatError>) -> bool {
        frame
            .as_ref()
            .is_ok_and(|fr| fr.datagrams().any(|d| d.is_ok_and(|d| d.wkc != 0)))
    }

    /// The master a frame from `src` belongs to, and whether the frame is on its way back
    /// (see the module notes). A known master is itself, whichever way its frame goes (a master
    /// whose own MAC has the locally-administered bit set gets its frames back unchanged).
    fn master_of(&self, src: Mac, passed_slave: bool) -> (Mac, bool) {
        if self.masters.contains_key(&src) {
            return (src, passed_slave);
        }
        let mut cleared = src;
        cleared.0[0] &= !0x02;
        let back = src.is_local()
            && (passed_slave || self.masters.contains_key(&cleared) || !cleared.is_unicast());
        if back {
            (cleared, true)
        } else {
            (src, passed_slave)
        }
    }

    /// The datagrams `master` sent so far, by command number (0 NOP to 14 FRMW).
    pub fn commands(&self, master: Mac) -> Option<[u64; 15]> {
        self.masters.get(&master).map(|m| m.commands)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
