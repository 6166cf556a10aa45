//! Helpers for dissector unit tests: hex payloads embedded in the tests, a flow context,
//! drivers that feed a dissector as the flow layer does, and the "every truncation and random
//! bytes never panic" checks.
#![allow(clippy::unwrap_used)]

use crate::protocols::spec::ProtocolSpec;
use crate::protocols::{Direction, Dissector, Endpoint, FlowCtx, Transport};
use otwatch_common::observation::{Field, Observation, Role, Source, Subject};
use otwatch_common::Timestamp;

/// Decodes hex, ignoring whitespace (so payloads can be wrapped over lines).
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd hex length");
    digits
        .chunks_exact(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// A flow context between two addresses (`"ip:port"`), without MACs.
pub fn ctx(transport: Transport, client: &str, server: &str) -> FlowCtx {
    let ep = |s: &str| {
        let a: std::net::SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
            mac: None,
        }
    };
    FlowCtx {
        client: ep(client),
        server: ep(server),
        transport,
        ts: Timestamp::ZERO,
        dst_mac: None,
    }
}

/// An `Identity` observation, as tests expect them.
pub fn id(subject: Subject, field: Field, value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject,
        field,
        value: value.to_string(),
        source,
    }
}

/// A `Speaks` observation.
pub fn speaks(subject: Subject, protocol: &'static str, role: Role, port: u16) -> Observation {
    Observation::Speaks {
        subject,
        protocol,
        role,
        port,
    }
}

/// A `CleartextLogin` observation.
pub fn login(protocol: &'static str, user: &str) -> Observation {
    Observation::CleartextLogin {
        user: user.to_string(),
        protocol,
    }
}

/// Deterministic noise (xorshift64) for the "random bytes" tests.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator; `seed` must not be zero.
    pub fn new(seed: u64) -> Noise {
        Noise(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `len` noise bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Hex segments of a TCP conversation, `(to_server, hex)`, as bytes.
pub fn hex_segments(segs: &[(bool, &str)]) -> Vec<(bool, Vec<u8>)> {
    segs.iter().map(|(d, h)| (*d, hex(h))).collect()
}

/// The same conversation with every byte delivered on its own.
pub fn byte_by_byte(segs: &[(bool, &str)]) -> Vec<(bool, Vec<u8>)> {
    segs.iter()
        .flat_map(|(d, h)| hex(h).into_iter().map(move |b| (*d, vec![b])))
        .collect()
}

/// Feeds `(to_server, bytes)` segments of one TCP conversation to a fresh dissector as
/// the flow layer does: one buffer per direction, consumed bytes drained, the rest
/// offered again with the next segment of that direction.
pub fn run_segments(
    new: fn() -> Box<dyn Dissector>,
    ctx: &FlowCtx,
    segs: &[(bool, Vec<u8>)],
) -> Vec<Observation> {
    let mut d = new();
    let mut pending = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for (to_server, seg) in segs {
        let (dir, i) = if *to_server {
            (Direction::ToServer, 0)
        } else {
            (Direction::ToClient, 1)
        };
        pending[i].extend_from_slice(seg);
        let n = d.parse(dir, &pending[i], ctx, &mut out);
        assert!(n <= pending[i].len());
        pending[i].drain(..n);
    }
    out
}

/// Parses one datagram (UDP: the consumed count does not matter) and returns what `d`
/// observed.
pub fn datagram(
    d: &mut dyn Dissector,
    dir: Direction,
    ctx: &FlowCtx,
    data: &[u8],
) -> Vec<Observation> {
    let mut out = Vec::new();
    d.parse(dir, data, ctx, &mut out);
    out
}

/// Feeds one direction's stream `data` to `d`, `piece` bytes at a time, as the flow layer
/// does: unconsumed bytes are offered again with the next piece. Returns how many bytes
/// stayed unconsumed.
pub fn feed(
    d: &mut dyn Dissector,
    dir: Direction,
    ctx: &FlowCtx,
    data: &[u8],
    piece: usize,
    out: &mut Vec<Observation>,
) -> usize {
    let mut pending = Vec::new();
    for chunk in data.chunks(piece.max(1)) {
        pending.extend_from_slice(chunk);
        let n = d.parse(dir, &pending, ctx, out);
        assert!(n <= pending.len());
        pending.drain(..n);
    }
    pending.len()
}

/// Feeds every prefix of every message, every message with one byte flipped, then
/// pseudo-random data, to dissectors of `spec`, and offers the same bytes to its probe, in
/// both directions: none may panic, and no dissector may claim to have consumed more than
/// it was given.
pub fn never_panics(spec: &ProtocolSpec, ctx: &FlowCtx, messages: &[&[u8]]) {
    let mut out = Vec::<Observation>::new();
    for dir in [Direction::ToServer, Direction::ToClient] {
        for m in messages {
            for n in 0..=m.len() {
                let _ = (spec.probe)(dir, &m[..n]);
                let mut d = (spec.new)();
                assert!(d.parse(dir, &m[..n], ctx, &mut out) <= n);
            }
            // Every byte flipped in turn, on the whole message.
            for i in 0..m.len() {
                let mut v = m.to_vec();
                v[i] ^= 0xff;
                let mut d = (spec.new)();
                assert!(d.parse(dir, &v, ctx, &mut out) <= v.len());
            }
        }
        // Noise as the start of a flow, and as one long stream.
        let mut noise = Noise::new(0x9e37_79b9_7f4a_7c15);
        let mut d = (spec.new)();
        for len in 0..600usize {
            let buf = noise.bytes(len);
            let _ = (spec.probe)(dir, &buf);
            assert!((spec.new)().parse(dir, &buf, ctx, &mut out) <= buf.len());
            assert!(d.parse(dir, &buf, ctx, &mut out) <= buf.len());
        }
        out.clear();
    }
}

/// [`never_panics`] for a TCP conversation of `(to_server, bytes)` segments, after every
/// truncation of each segment has also been fed in context: behind the whole conversation
/// before it, so stateful dissectors meet the cut where it really falls.
pub fn never_panics_in_conversation(spec: &ProtocolSpec, ctx: &FlowCtx, conv: &[(bool, Vec<u8>)]) {
    for (i, (to_server, msg)) in conv.iter().enumerate() {
        for cut in 0..=msg.len() {
            let mut segs = conv[..i].to_vec();
            segs.push((*to_server, msg[..cut].to_vec()));
            let _ = run_segments(spec.new, ctx, &segs);
        }
    }
    let messages: Vec<&[u8]> = conv.iter().map(|(_, m)| &m[..]).collect();
    never_panics(spec, ctx, &messages);
}

/// Feeds a link-layer dissector every truncation of each frame, then noise, from one source
/// MAC to a GOOSE group address: it must never panic.
pub fn frames_never_panic(d: &mut dyn crate::protocols::FrameDissector, frames: &[&[u8]]) {
    let f = crate::protocols::LinkFrame {
        src: otwatch_common::Mac([0x00, 0x1b, 0x1b, 0x00, 0x00, 0x01]),
        dst: Some(otwatch_common::Mac([0x01, 0x0c, 0xcd, 0x01, 0x00, 0x01])),
        ts: Timestamp::ZERO,
    };
    let mut out = Vec::new();
    for frame in frames {
        for end in 0..=frame.len() {
            d.frame(&f, &frame[..end], &mut out);
        }
        // Each octet flipped in turn.
        for i in 0..frame.len() {
            let mut m = frame.to_vec();
            m[i] ^= 0xff;
            d.frame(&f, &m, &mut out);
        }
    }
    let mut noise = Noise::new(0x9e37_79b9_7f4a_7c15);
    for len in 0..512 {
        d.frame(&f, &noise.bytes(len % 300), &mut out);
    }
}
