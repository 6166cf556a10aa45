//! IEEE C37.118.2-2011 synchrophasor data transfer (and C37.118-2005): phasor measurement
//! units (PMUs) stream measurements to phasor data concentrators (PDCs) over TCP port 4712 or
//! UDP port 4713; the PDC commands the stream (turn on, turn off, send the header or a
//! configuration frame). Every frame is a common header, a payload and a CRC-CCITT ([`wire`]).
//!
//! Recognition: the SYNC byte 0xAA, a defined frame type and version and a FRAMESIZE of at
//! least 16 (on UDP, the datagram's length and a correct CHK too); the first byte rejects
//! everything else. Data, header and configuration frames come only from a data source (a PMU,
//! or a PDC forwarding a stream): the sides of the flow are turned so that it is the server;
//! command frames come from its client.
//!
//! What is reported:
//! - data frames (the bulk: tens a second for each stream) are framed and their CHK checked,
//!   and nothing else is done with them;
//! - commands as operations, the function code being CMD (6.5, table 15): send HDR, CFG-1,
//!   CFG-2 or CFG-3 identify, turn transmission on or off is control (with the command's name
//!   and the stream IDCODE it addresses as evidence); other codes are bare function codes;
//! - identity from CFG-1, CFG-2 and CFG-3 frames (6.4; source::C37_118_CONFIG), of their
//!   sender: the station name (STN) of a single-PMU stream is its hostname, and a description
//!   names the PMU's ID code and channels (phasors, analog values, digital status words),
//!   nominal frequency and data rate; a stream carrying several PMUs (a PDC's) is described
//!   with their stations and ID codes instead. CFG-3 (2011) names stations and channels with a
//!   length byte and carries more per PMU (global ID, scales, location, service class); a
//!   configuration too large for one frame comes in fragments (CONT_IDX 1, 2, ... and 0xFFFF
//!   last), joined in order before it is read (a series out of order, over
//!   [`MAX_CFG3_SERIES`] bytes, or that does not read once joined is dropped). A header frame's text is a description too
//!   (source::C37_118_HEADER);
//! - violations: a broken SYNC, a FRAMESIZE too small or that disagrees with its datagram, a
//!   wrong CHK, configuration frames whose PMU blocks run past the frame, command frames
//!   without CMD.

mod error;
pub mod wire;

pub use self::error::C37Error;
use super::facts::Facts;
use super::framing::{self, Delivery, Framing, Stream};
use super::spec::ProtocolSpec;
use super::text::{self};
use super::violations::Violations;
use super::{source, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Subject};
use wire::{command, FrameType, Header};

const PROTOCOL: &str = "c37_118";

/// C37.118 over TCP (C37.118.2 annex F: port 4712).
pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[4712],
    probe: tcp_probe,
    new,
};

/// C37.118 over UDP (C37.118.2 annex F: port 4713).
pub static UDP_SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Udp,
    ports: &[4713],
    probe: udp_probe,
    new,
};

fn new() -> Box<dyn Dissector> {
    Box::<C37Dissector>::default()
}

/// Identity facts remembered per flow.
const MAX_FACTS: usize = 16;
/// PMUs named in the description of a multi-PMU stream.
const MAX_NAMED_STATIONS: usize = 8;
/// Most bytes of a fragmented CFG-3 joined.
pub const MAX_CFG3_SERIES: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------
// Recognition.

/// A TCP stream's first bytes: SYNC and a plausible FRAMESIZE (and CHK when the frame is whole).
pub fn tcp_probe(_dir: Direction, data: &[u8]) -> Probe {
    match data.first() {
        Some(&wire::SYNC) => {}
        Some(_) => return Probe::No,
        None => return Probe::NeedMore,
    }
    match Header::parse(data) {
        Err(_) => Probe::No,
        Ok(None) => Probe::NeedMore,
        Ok(Some(h)) => match data.get(..usize::from(h.size)) {
            Some(frame) if wire::check_crc(frame).is_err() => Probe::No,
            _ => verdict(h.frame_type),
        },
    }
}

/// A datagram: one whole frame with a correct CHK.
pub fn udp_probe(_dir: Direction, data: &[u8]) -> Probe {
    if data.first() != Some(&wire::SYNC) {
        return Probe::No;
    }
    match Header::parse(data) {
        Ok(Some(h)) if usize::from(h.size) == data.len() && wire::check_crc(data).is_ok() => {
            verdict(h.frame_type)
        }
        _ => Probe::No,
    }
}

/// Commands come from the client (a PDC); everything else from the data source.
fn verdict(t: FrameType) -> Probe {
    match t {
        FrameType::Command => Probe::Yes,
        _ => Probe::YesFromServer,
    }
}

// ---------------------------------------------------------------------------------------
// The dissector.

/// Per-flow C37.118 state.
#[derive(Default)]
pub struct C37Dissector {
    /// TCP, per direction: looking for the next SYNC after a gap or broken header.
    resync: [bool; 2],
    /// Identity facts already reported: fingerprints of subject, field and value.
    facts: Facts<MAX_FACTS>,
    violations: Violations,
    /// The fragments of a CFG-3 series joined so far (after their CONT_IDX).
    cfg3_series: Vec<u8>,
    /// The CONT_IDX the next fragment of the series must have; 0 when no series is open.
    cfg3_next: u16,
}

impl C37Dissector {
    fn violation(&mut self, out: &mut Vec<Observation>, reason: C37Error) {
        self.violations.record(PROTOCOL, reason, out);
    }

    /// One whole frame (FRAMESIZE bytes) travelling `dir`.
    fn frame(&mut self, dir: Direction, frame: &[u8], out: &mut Vec<Observation>) {
        let h = match Header::parse(frame) {
            Ok(Some(h)) => h,
            Ok(None) => return self.violation(out, C37Error::FrameSize(frame.len() as u16)),
            Err(e) => return self.violation(out, e),
        };
        if let Err(e) = wire::check_crc(frame) {
            return self.violation(out, e);
        }
        let end = frame.len().saturating_sub(2);
        let payload = frame.get(wire::HEADER_LEN..end).unwrap_or_default();
        match h.frame_type {
            // The fast path: framed and checked, nothing more.
            FrameType::Data => {}
            FrameType::Cfg3 => self.cfg3(dir.sender(), &h, payload, out),
            FrameType::Command => self.command(dir, &h, payload, out),
            FrameType::Cfg1 | FrameType::Cfg2 => match wire::config(payload) {
                Ok(cfg) => self.config(dir.sender(), &h, &cfg, payload, out),
                Err(e) => self.violation(out, e),
            },
            FrameType::Header => {
                let src = source::C37_118_HEADER;
                self.facts
                    .emit(out, dir.sender(), Field::Description, payload, src, || {
                        text::clean_text(payload, text::MAX_TEXT_CHARS)
                    });
            }
        }
    }

    fn command(&mut self, dir: Direction, h: &Header, payload: &[u8], out: &mut Vec<Observation>) {
        let Some(cmd) = payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            return self.violation(out, C37Error::CommandTruncated);
        };
        let op = match cmd {
            command::TURN_OFF | command::TURN_ON => Some(Operation::Control),
            command::SEND_HDR | command::SEND_CFG1 | command::SEND_CFG2 | command::SEND_CFG3 => {
                Some(Operation::Identify)
            }
            _ => None,
        };
        match (op, dir) {
            (Some(op), Direction::ToServer) => {
                let details = if op == Operation::Control {
                    vec![
                        ("service", command::name(cmd).to_string()),
                        ("stream", h.idcode.to_string()),
                    ]
                } else {
                    Vec::new()
                };
                out.push(Observation::Operation {
                    op,
                    function_code: Some(u32::from(cmd)),
                    details,
                });
            }
            _ => out.push(Observation::FunctionCode(u32::from(cmd))),
        }
    }

    /// A CFG-3 frame: read when whole, joined with the rest of its series when a fragment.
    fn cfg3(&mut self, subject: Subject, h: &Header, payload: &[u8], out: &mut Vec<Observation>) {
        let Some(idx) = wire::cont_idx(payload) else {
            return self.violation(out, C37Error::ConfigTruncated);
        };
        let piece = &payload[2..];
        match idx {
            0 => {
                self.cfg3_series.clear();
                self.cfg3_next = 0;
                return self.config3(subject, h, piece, out);
            }
            1 => self.cfg3_series.clear(),
            i if self.cfg3_next > 1 && (i == self.cfg3_next || i == wire::LAST_FRAGMENT) => {}
            // A fragment out of order, or without its first: the series is lost.
            _ => {
                self.cfg3_series.clear();
                self.cfg3_next = 0;
                return;
            }
        }
        if self.cfg3_series.len() + piece.len() > MAX_CFG3_SERIES {
            self.cfg3_series = Vec::new();
            self.cfg3_next = 0;
            return;
        }
        self.cfg3_series.extend_from_slice(piece);
        if idx == wire::LAST_FRAGMENT {
            // The last fragment has no number: one lost before it leaves a series that does
            // not read, which says nothing about the sender (no violation).
            let whole = std::mem::take(&mut self.cfg3_series);
            self.cfg3_next = 0;
            if let Ok(cfg) = wire::config3(&whole) {
                self.config(subject, h, &cfg, &whole, out);
            }
            self.cfg3_series = whole;
            self.cfg3_series.clear();
        } else {
            self.cfg3_next = idx.saturating_add(1);
        }
    }

    /// A whole CFG-3 configuration (after CONT_IDX).
    fn config3(&mut self, subject: Subject, h: &Header, data: &[u8], out: &mut Vec<Observation>) {
        match wire::config3(data) {
            Ok(cfg) => self.config(subject, h, &cfg, data, out),
            Err(e) => self.violation(out, e),
        }
    }

    /// What a CFG-1, CFG-2 or CFG-3 frame says about its sender.
    fn config(
        &mut self,
        subject: Subject,
        h: &Header,
        cfg: &wire::Config<'_>,
        raw: &[u8],
        out: &mut Vec<Observation>,
    ) {
        let src = source::C37_118_CONFIG;
        let name = |s: &wire::Station<'_>| text::clean(s.name);
        match cfg.stations.as_slice() {
            [one] => {
                self.facts
                    .emit(out, subject, Field::Hostname, one.name, src, || name(one));
                self.facts
                    .emit(out, subject, Field::Description, raw, src, || {
                        Some(describe_pmu(one, cfg.data_rate))
                    });
            }
            [] => {}
            many => {
                self.facts
                    .emit(out, subject, Field::Description, raw, src, || {
                        let named: Vec<String> = many
                            .iter()
                            .take(MAX_NAMED_STATIONS)
                            .map(|s| format!("{} (ID {})", name(s).unwrap_or_default(), s.idcode))
                            .collect();
                        let more = match many.len().saturating_sub(MAX_NAMED_STATIONS) {
                            0 => String::new(),
                            n => format!(" and {n} more"),
                        };
                        Some(format!(
                            "C37.118 data stream {} of {} PMUs: {}{more}",
                            h.idcode,
                            many.len(),
                            named.join(", ")
                        ))
                    });
            }
        }
    }
}

/// "C37.118 PMU ID 61: 3 phasors, 0 analog values, 1 digital status word, 50 Hz, 50 frames/s".
fn describe_pmu(s: &wire::Station<'_>, data_rate: i16) -> String {
    let plural = |n: u16, what: &str| {
        if n == 1 {
            format!("1 {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    let rate = match data_rate {
        r if r > 0 => format!("{r} frames/s"),
        r if r < 0 => format!("1 frame every {} s", -i32::from(r)),
        _ => "rate 0".to_string(),
    };
    format!(
        "C37.118 PMU ID {}: {}, {}, {}, {} Hz, {rate}",
        s.idcode,
        plural(s.phasors, "phasor"),
        plural(s.analogs, "analog value"),
        plural(s.digitals, "digital status word"),
        if s.fnom_50hz { 50 } else { 60 },
    )
}

/// Frames the frame at the start of a TCP direction by its FRAMESIZE.
fn frame(data: &[u8]) -> Framing<C37Error> {
    match Header::parse(data) {
        Err(e) => Framing::broken(1, e),
        Ok(None) => Framing::Incomplete {
            needed: wire::HEADER_LEN,
        },
        Ok(Some(h)) if data.len() >= usize::from(h.size) => Framing::Complete {
            len: usize::from(h.size),
        },
        Ok(Some(h)) => Framing::Incomplete {
            needed: usize::from(h.size),
        },
    }
}

/// The resync scan: the next SYNC whose header is plausible and whose CHK is right.
fn boundary(data: &[u8]) -> Framing<C37Error> {
    for (i, _) in data.iter().enumerate().filter(|(_, &b)| b == wire::SYNC) {
        let rest = data.get(i..).unwrap_or_default();
        let found = match Header::parse(rest) {
            Err(_) => continue,
            Ok(None) => None,
            Ok(Some(h)) => match rest.get(..usize::from(h.size)) {
                None => None,
                Some(f) if wire::check_crc(f).is_ok() => Some(()),
                Some(_) => continue,
            },
        };
        return match (i, found) {
            (0, Some(())) => Framing::Complete { len: 0 },
            (0, None) => Framing::Incomplete {
                needed: wire::MIN_FRAME,
            },
            (skip, _) => Framing::skip(skip),
        };
    }
    Framing::skip(data.len())
}

impl Stream for C37Dissector {
    type Error = C37Error;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        let Delivery { dir, data, ctx } = delivery;
        if ctx.transport != Transport::Udp {
            return None;
        }
        // One frame a datagram.
        match Header::parse(data) {
            Ok(Some(h)) if usize::from(h.size) != data.len() => {
                let e = C37Error::Datagram {
                    size: h.size,
                    datagram: data.len(),
                };
                self.violation(out, e);
            }
            _ => self.frame(dir, data, out),
        }
        Some(data.len())
    }

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<C37Error> {
        framing::step(&mut self.resync[dir.index()], data, frame, boundary)
    }

    fn on_broken(&mut self, _dir: Direction, error: C37Error, out: &mut Vec<Observation>) {
        self.violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        self.frame(dir, message, out);
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

#[cfg(test)]
mod tests;
