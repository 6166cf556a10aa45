//! Niagara Fox (Tridium Niagara AX and Niagara 4), TCP port 1911 (4911 is Fox over TLS, which
//! the TLS dissector sees): how Workbench, a Supervisor and other stations talk to a Niagara
//! station, a JACE building controller or a Supervisor server.
//!
//! Fox has no public specification; what is read here is the message shape the captures show
//! (other-ics/fox_info.pcap) and the Nmap script `fox-info` reads, learnt from both:
//! - a header line `fox <kind> <id> <reply-to> <channel> <command>` ending in LF (`fox a 0 -1
//!   fox hello`), the ids decimal integers;
//! - then, for most commands, a body: `{` LF, one `key=t:value` LF line a field, `};;` LF.
//!   The type letter says how the value is written: `s` string, `i` integer, `b` blob and `o`
//!   object, the last two as `[<name> ]<length>[<length octets>]`, binary inside.
//!
//! What is reported:
//! - the `hello` each side sends first, which is its identity ([`Hello`]): its application
//!   (`Station` for a station, `Workbench` for the engineering tool), versions, operating system,
//!   host name, station name, host id and brand. A station's hello names it: hostname the
//!   station name (else the host name, unless that is an address), vendor Tridium for Tridium's
//!   brands (`tridium`, `vykon`, `niagara`) and else the OEM brand as given, model "Niagara AX"
//!   or "Niagara 4" by version, firmware the application version, OS, serial the Niagara host id,
//!   and a device type: a station on QNX (a JACE) is a `building_controller` (level 1), one on
//!   another OS a Supervisor, `scada_server` (level 2); Workbench is an `engineering_workstation`;
//! - the client's hello as an `identify` operation;
//! - violations: a header line that is not `fox` and five fields, a body line without `=t:`, a
//!   blob or object whose length runs past its `]`. A message longer than [`MAX_MESSAGE`] is
//!   passed over up to the next header line.

use super::framing::{self, Framing, Stream};
use super::source;
use super::spec::ProtocolSpec;
use super::text::{clean, find};
use super::violations::Violations;
use super::{push_identity, Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Operation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: PROTOCOL,
    transport: Transport::Tcp,
    ports: &[PORT],
    probe,
    new,
};

const PROTOCOL: &str = "fox";
/// The Niagara Fox port (registered as "niagara-fox").
pub const PORT: u16 = 1911;
/// The longest message read: hellos and challenges are a few hundred octets; longer messages
/// (component trees, histories) are passed over unread.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The longest header line.
const MAX_HEADER: usize = 256;
const MAGIC: &[u8] = b"fox ";

/// Why Fox traffic is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FoxError {
    #[error("Fox header line is not 'fox <kind> <id> <reply-to> <channel> <command>'")]
    Header,
    #[error("Fox body line without 'key=type:'")]
    Field,
    #[error("Fox blob or object value runs past its declared length")]
    ValueLength,
    #[error("Fox message longer than 65536 octets without its end")]
    TooLong,
}

/// Accepts a stream that starts with `fox ` and a header line of the right shape: the first
/// octet ('f') turns almost everything else away.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let n = data.len().min(MAGIC.len());
    if data.get(..n) != MAGIC.get(..n) {
        return Probe::No;
    }
    match header(data) {
        Ok(Some(_)) => Probe::Yes,
        Ok(None) => Probe::NeedMore,
        Err(_) => Probe::No,
    }
}

fn new() -> Box<dyn Dissector> {
    Box::new(FoxDissector::default())
}

/// A Fox header line's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub kind: &'a [u8],
    pub id: i64,
    pub reply_to: i64,
    pub channel: &'a [u8],
    pub command: &'a [u8],
    /// Octets of the line, LF included.
    pub len: usize,
}

/// The header line at the start of `data`: `Ok(None)` until its LF is there.
pub fn header(data: &[u8]) -> Result<Option<Header<'_>>, FoxError> {
    let Some(lf) = data.iter().take(MAX_HEADER).position(|&b| b == b'\n') else {
        return if data.len() >= MAX_HEADER {
            Err(FoxError::Header)
        } else {
            Ok(None)
        };
    };
    let line = data.get(..lf).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut f = line.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let int = |t: Option<&[u8]>| {
        t.and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse::<i64>().ok())
    };
    let (Some(b"fox"), Some(kind), id, reply_to, Some(channel), Some(command), None) = (
        f.next(),
        f.next(),
        int(f.next()),
        int(f.next()),
        f.next(),
        f.next(),
        f.next(),
    ) else {
        return Err(FoxError::Header);
    };
    let (Some(id), Some(reply_to)) = (id, reply_to) else {
        return Err(FoxError::Header);
    };
    Ok(Some(Header {
        kind,
        id,
        reply_to,
        channel,
        command,
        len: lf + 1,
    }))
}

/// One `key=t:value` field of a body; a blob's or object's value is its octets between `[`
/// and `]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    pub key: &'a [u8],
    pub kind: u8,
    pub value: &'a [u8],
}

/// Walks the message at the start of `data` (header line, then a body if one follows) and
/// calls `field` with each body field: `Ok(Some(len))` for a whole message, `Ok(None)` until it
/// is all there.
pub fn message<'a>(
    data: &'a [u8],
    field: &mut impl FnMut(Value<'a>),
) -> Result<Option<usize>, FoxError> {
    let Some(h) = header(data)? else {
        return Ok(None);
    };
    let mut pos = h.len;
    match data.get(pos) {
        None => return Ok(None),
        Some(b'{') => {}
        // A command without a body.
        Some(_) => return Ok(Some(pos)),
    }
    pos += 1;
    loop {
        if pos > MAX_MESSAGE {
            return Err(FoxError::TooLong);
        }
        let rest = data.get(pos..).unwrap_or_default();
        // Blank lines (the LF after `{`) separate fields.
        if let Some(b'\n' | b'\r') = rest.first() {
            pos += 1;
            continue;
        }
        if rest.len() < 3 {
            return Ok(None);
        }
        if rest.starts_with(b"};;") {
            pos += 3;
            // The LF after the end belongs to the message when it is there.
            if data.get(pos) == Some(&b'\n') {
                pos += 1;
            }
            return Ok(Some(pos));
        }
        let Some(used) = body_field(rest, field)? else {
            return Ok(None);
        };
        pos += used;
    }
}

/// One body line: `Ok(Some(octets used))`, `Ok(None)` until it is all there.
fn body_field<'a>(
    rest: &'a [u8],
    field: &mut impl FnMut(Value<'a>),
) -> Result<Option<usize>, FoxError> {
    let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
        return if rest.len() > MAX_MESSAGE {
            Err(FoxError::TooLong)
        } else {
            Ok(None)
        };
    };
    let Some(eq) = rest
        .get(..lf)
        .and_then(|l| l.iter().position(|&b| b == b'='))
    else {
        return Err(FoxError::Field);
    };
    let key = rest.get(..eq).unwrap_or_default();
    let (Some(&kind), Some(b':')) = (rest.get(eq + 1), rest.get(eq + 2)) else {
        return Err(FoxError::Field);
    };
    let start = eq + 3;
    if !matches!(kind, b'b' | b'o') {
        let value = rest.get(start..lf).unwrap_or_default();
        field(Value { key, kind, value });
        return Ok(Some(lf + 1));
    }
    // `[name ]length[` then that many octets, `]` and LF.
    let Some(open) = rest
        .get(start..)
        .and_then(|r| r.iter().take(64).position(|&b| b == b'['))
        .map(|i| start + i)
    else {
        return Err(FoxError::ValueLength);
    };
    let spec = rest.get(start..open).unwrap_or_default();
    let digits = spec.rsplit(|&b| b == b' ').next().unwrap_or_default();
    let Some(n) = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&n| n <= MAX_MESSAGE)
    else {
        return Err(FoxError::ValueLength);
    };
    let end = open + 1 + n;
    match (rest.get(end), rest.get(end + 1)) {
        (Some(b']'), Some(b'\n')) => {
            let value = rest.get(open + 1..end).unwrap_or_default();
            field(Value { key, kind, value });
            Ok(Some(end + 2))
        }
        (Some(b']'), None) | (None, _) => Ok(None),
        _ => Err(FoxError::ValueLength),
    }
}

/// What a `hello` says of its sender (string fields).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    pub host_name: Option<&'a [u8]>,
    pub app_name: Option<&'a [u8]>,
    pub app_version: Option<&'a [u8]>,
    pub vm_name: Option<&'a [u8]>,
    pub vm_version: Option<&'a [u8]>,
    pub os_name: Option<&'a [u8]>,
    pub os_version: Option<&'a [u8]>,
    pub station_name: Option<&'a [u8]>,
    pub host_id: Option<&'a [u8]>,
    pub brand_id: Option<&'a [u8]>,
}

impl<'a> Hello<'a> {
    fn set(&mut self, v: Value<'a>) {
        if v.kind != b's' || v.value.is_empty() {
            return;
        }
        let slot = match v.key {
            b"hostName" => &mut self.host_name,
            b"app.name" => &mut self.app_name,
            b"app.version" => &mut self.app_version,
            b"vm.name" => &mut self.vm_name,
            b"vm.version" => &mut self.vm_version,
            b"os.name" => &mut self.os_name,
            b"os.version" => &mut self.os_version,
            b"station.name" => &mut self.station_name,
            b"hostId" => &mut self.host_id,
            b"brandId" => &mut self.brand_id,
            _ => return,
        };
        *slot = Some(v.value);
    }
}

/// Per-flow Fox state.
#[derive(Default)]
pub struct FoxDissector {
    violations: Violations,
    resync: [bool; 2],
    /// Each side's hello was reported.
    hello: [bool; 2],
}

impl FoxDissector {
    fn hello(&mut self, dir: Direction, h: &Hello<'_>, out: &mut Vec<Observation>) {
        let seen = &mut self.hello[dir.index()];
        if std::mem::replace(seen, true) {
            return;
        }
        if dir == Direction::ToServer {
            out.push(Observation::Operation {
                op: Operation::Identify,
                function_code: None,
                details: Vec::new(),
            });
        }
        report_hello(dir.sender(), h, out);
    }
}

/// The identity a hello gives its sender.
pub fn report_hello(subject: Subject, h: &Hello<'_>, out: &mut Vec<Observation>) {
    let src = source::FOX_HELLO;
    let text = |v: Option<&[u8]>| v.and_then(clean);
    let station = h.app_name == Some(b"Station");
    let host = text(h.host_name).filter(|n| n.parse::<std::net::IpAddr>().is_err());
    push_identity(
        out,
        subject,
        Field::Hostname,
        text(h.station_name).or(host),
        src,
    );
    let version = text(h.app_version);
    if station {
        // The brand is the station's maker; a Workbench PC is no Tridium product.
        let vendor = text(h.brand_id).map(|b| match b.to_ascii_lowercase().as_str() {
            "tridium" | "vykon" | "niagara" => "Tridium".to_string(),
            _ => b,
        });
        push_identity(out, subject, Field::Vendor, vendor, src);
        let model = match version.as_deref().and_then(|v| v.split('.').next()) {
            Some("3") => "Niagara AX",
            Some("4") => "Niagara 4",
            _ => "Niagara",
        };
        push_identity(out, subject, Field::Model, Some(model.to_string()), src);
        push_identity(out, subject, Field::Firmware, version.clone(), src);
        push_identity(out, subject, Field::Serial, text(h.host_id), src);
    }
    let os = match (text(h.os_name), text(h.os_version)) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, _) => n,
    };
    let describe = match (text(h.app_name), &version) {
        (Some(a), Some(v)) => Some(format!("Niagara {a} {v}")),
        (Some(a), None) => Some(format!("Niagara {a}")),
        _ => None,
    };
    let describe = describe.map(|mut d| {
        if let (Some(vm), Some(vv)) = (text(h.vm_name), text(h.vm_version)) {
            d.push_str(&format!(" on {vm} {vv}"));
        }
        if let Some(id) = text(h.host_id) {
            d.push_str(&format!(", host id {id}"));
        }
        d
    });
    push_identity(out, subject, Field::Description, describe, src);
    let ty = match h.app_name {
        Some(b"Workbench") => Some("engineering_workstation"),
        Some(b"Station") if h.os_name.is_some_and(|o| find(o, b"QNX").is_some()) => {
            Some("building_controller")
        }
        Some(b"Station") => Some("scada_server"),
        _ => None,
    };
    push_identity(out, subject, Field::DeviceType, ty.map(str::to_string), src);
    push_identity(out, subject, Field::Os, os, src);
}

/// The resync scan: a header line at the start of a line.
fn boundary(data: &[u8]) -> Framing<FoxError> {
    match header(data) {
        Ok(Some(_)) => return Framing::Complete { len: 0 },
        Ok(None) if data.starts_with(MAGIC) || MAGIC.starts_with(data) => {
            return Framing::Incomplete {
                needed: data.len() + 1,
            }
        }
        _ => {}
    }
    match find(data.get(1..).unwrap_or_default(), b"\nfox ") {
        Some(i) => Framing::skip(i + 2),
        None => Framing::skip(data.len().saturating_sub(MAGIC.len()).max(1)),
    }
}

impl Stream for FoxDissector {
    type Error = FoxError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<FoxError> {
        framing::step(
            &mut self.resync[dir.index()],
            data,
            |d| {
                // Line ends between messages.
                let blank = d.iter().take_while(|b| b"\r\n".contains(b)).count();
                if blank > 0 {
                    return Framing::skip(blank);
                }
                match message(d, &mut |_| {}) {
                    Ok(Some(len)) => Framing::Complete { len },
                    Ok(None) if d.len() > MAX_MESSAGE => Framing::broken(1, FoxError::TooLong),
                    Ok(None) => Framing::Incomplete {
                        needed: d.len() + 1,
                    },
                    Err(e) => Framing::broken(1, e),
                }
            },
            boundary,
        )
    }

    fn on_broken(&mut self, _dir: Direction, error: FoxError, out: &mut Vec<Observation>) {
        // A message too long to read whole is passed over, not a finding.
        if error != FoxError::TooLong {
            self.violations.record(PROTOCOL, error, out);
        }
    }

    fn on_message(
        &mut self,
        dir: Direction,
        msg: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        if let Ok(Some(h)) = header(msg) {
            if h.channel == b"fox" && h.command == b"hello" {
                let mut hello = Hello::default();
                let _ = message(msg, &mut |v| hello.set(v));
                self.hello(dir, &hello, out);
            }
        }
        Some(msg.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.resync[dir.index()] = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
