//! Drivers shared by the cargo-fuzz targets in `fuzz/`.

use super::registry::ProtocolSpec;
use super::{Direction, Endpoint, FlowCtx, Transport};
use otwatch_common::Timestamp;

/// The flow layer's cap on bytes held for a dissector (`StreamLimits::max_bytes`).
const MAX_PENDING: usize = 256 << 10;

/// Arbitrary bytes into a stream dissector as a conversation: each segment is a control byte
/// (bit 7: direction, bits 5-6 both set: a gap before it), a length byte and that many bytes.
/// Segments are delivered the way the flow layer does (unconsumed bytes are offered again with
/// the next segment), so reassembly, caps and resynchronisation all run; the probe sees every
/// segment too.
pub fn conversation(spec: &ProtocolSpec, server_port: u16, data: &[u8]) {
    let ep = |last: u8, port: u16| Endpoint {
        ip: std::net::IpAddr::from([10, 0, 0, last]),
        port,
        mac: None,
    };
    let ctx = FlowCtx {
        client: ep(1, 50000),
        server: ep(2, server_port),
        transport: spec.transport,
        ts: Timestamp(0),
        dst_mac: None,
    };
    let mut d = (spec.new)();
    let mut pending = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    let mut rest = data;
    while let [ctl, len, tail @ ..] = rest {
        let dir = if ctl & 0x80 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let (seg, next) = tail.split_at((*len as usize).min(tail.len()));
        rest = next;
        let _ = (spec.probe)(dir, seg);
        let held = &mut pending[dir as usize];
        if ctl & 0x60 == 0x60 {
            held.clear();
            d.gap(dir);
        }
        if spec.transport == Transport::Udp {
            // Datagrams are whole: nothing is held between them.
            d.parse(dir, seg, &ctx, &mut out);
            out.clear();
            continue;
        }
        held.extend_from_slice(seg);
        let used = d.parse(dir, held, &ctx, &mut out).min(held.len());
        held.drain(..used);
        if held.len() > MAX_PENDING {
            held.clear();
            d.gap(dir);
        }
        out.clear();
    }
}
