//! Arbitrary bytes into the IEC 60870-5-104 dissector, both directions: chunks are appended to
//! a per-direction stream buffer, as the flow layer does, so APDUs split across chunks are
//! reassembled. A control octet per chunk picks the direction, the length, and now and then a
//! gap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::Timestamp;
use otwatch_sensor::protocols::{iec104, Direction, Endpoint, FlowCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let ep = |ip: [u8; 4], port| Endpoint {
        ip: ip.into(),
        port,
        mac: None,
    };
    let ctx = FlowCtx {
        client: ep([10, 0, 0, 1], 40000),
        server: ep([10, 0, 0, 2], 2404),
        transport: Transport::Tcp,
        ts: Timestamp(0),
        dst_mac: None,
    };
    let mut d = (iec104::SPEC.new)();
    let mut out = Vec::new();
    let mut pending = [Vec::new(), Vec::new()];
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 0x80 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let i = usize::from(ctl & 0x80 != 0);
        let n = (usize::from(ctl & 0x3f) * 5).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        if ctl & 0x40 != 0 {
            pending[i].clear();
            d.gap(dir);
        }
        pending[i].extend_from_slice(chunk);
        let used = d.parse(dir, &pending[i], &ctx, &mut out);
        assert!(used <= pending[i].len());
        pending[i].drain(..used);
        if pending[i].len() > 64 * 1024 {
            pending[i].clear();
            d.gap(dir);
        }
        out.clear();
    }
});
