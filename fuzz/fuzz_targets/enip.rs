//! Arbitrary bytes through the EtherNet/IP dissectors (TCP session, UDP discovery, UDP I/O)
//! and their probes. The first byte picks the chunk size (TCP reassembly is exercised the way
//! the flow layer does it: unconsumed bytes are offered again with the next chunk), whether
//! chunks alternate direction, and whether gaps are injected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::Timestamp;
use otwatch_sensor::protocols::{enip, Direction, Endpoint, FlowCtx, Transport};

/// The flow layer's per-direction cap (StreamLimits::max_bytes).
const MAX_HELD: usize = 256 << 10;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(sel & 0x3f) + 1;
    let alternate = sel & 0x40 != 0;
    let gaps = sel & 0x80 != 0;
    let ep = |ip: [u8; 4], port| Endpoint {
        ip: ip.into(),
        port,
        mac: None,
    };
    for spec in [&enip::SPEC, &enip::UDP_SPEC, &enip::IO_SPEC] {
        let ctx = FlowCtx {
            client: ep([10, 0, 0, 1], 50000),
            server: ep([10, 0, 0, 2], spec.ports[0]),
            transport: spec.transport,
            ts: Timestamp(0),
            dst_mac: None,
        };
        for dir in [Direction::ToServer, Direction::ToClient] {
            let _ = (spec.probe)(dir, rest);
        }
        let mut d = (spec.new)();
        let mut out = Vec::new();
        let mut held: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for (i, piece) in rest.chunks(chunk).enumerate() {
            let dir = if alternate && i % 2 == 1 {
                Direction::ToClient
            } else {
                Direction::ToServer
            };
            if spec.transport == Transport::Udp {
                d.parse(dir, piece, &ctx, &mut out);
                continue;
            }
            let buf = &mut held[dir as usize];
            buf.extend_from_slice(piece);
            let n = d.parse(dir, buf, &ctx, &mut out);
            assert!(n <= buf.len());
            buf.drain(..n);
            if buf.len() > MAX_HELD || (gaps && i % 7 == 6) {
                buf.clear();
                d.gap(dir);
            }
        }
        out.clear();
    }
});
