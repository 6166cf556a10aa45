//! Arbitrary bytes into the S7comm / S7comm-plus probes and dissector, in both directions.
//!
//! The first byte picks the SPEC (bit 0) and seeds a valid COTP CR in front (bit 1). The rest
//! is a list of chunks, each `[control, bytes...]`: control bit 7 is the direction, bit 6
//! announces a gap before the chunk, bits 5..0 its length. Chunks are appended to
//! per-direction buffers and parsed as the flow layer does (unconsumed bytes stay, a buffer
//! past its cap is dropped and reported as a gap), so PDUs split across segments and
//! resynchronisation are exercised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::Timestamp;
use otwatch_sensor::protocols::s7comm::{PLUS_SPEC, SPEC};
use otwatch_sensor::protocols::{Direction, Endpoint, FlowCtx, Transport};

const CAP: usize = 64 * 1024;
const CR: &[u8] = &[
    0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x0f, 0x00, 0xc1, 0x02, 0x01, 0x00,
    0xc2, 0x02, 0x01, 0x02, 0xc0, 0x01, 0x0a,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let spec = if sel & 1 == 0 { &SPEC } else { &PLUS_SPEC };
    let ep = |last: u8, port: u16| Endpoint {
        ip: std::net::IpAddr::from([10, 0, 0, last]),
        port,
        mac: None,
    };
    let ctx = FlowCtx {
        client: ep(1, 40000),
        server: ep(2, 102),
        transport: Transport::Tcp,
        ts: Timestamp(0),
        dst_mac: None,
    };
    let mut d = (spec.new)();
    let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    if sel & 2 != 0 {
        pending[0].extend_from_slice(CR);
    }
    while let Some((&control, tail)) = rest.split_first() {
        let n = usize::from(control & 0x3f).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        let (dir, i) = if control & 0x80 == 0 {
            (Direction::ToServer, 0)
        } else {
            (Direction::ToClient, 1)
        };
        if control & 0x40 != 0 {
            pending[i].clear();
            d.gap(dir);
        }
        pending[i].extend_from_slice(chunk);
        let _ = (SPEC.probe)(dir, &pending[i]);
        let _ = (PLUS_SPEC.probe)(dir, &pending[i]);
        let used = d.parse(dir, &pending[i], &ctx, &mut out);
        assert!(used <= pending[i].len());
        pending[i].drain(..used);
        if pending[i].len() > CAP {
            pending[i].clear();
            d.gap(dir);
        }
        out.clear();
    }
});
