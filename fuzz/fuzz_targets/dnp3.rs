//! Arbitrary bytes into the DNP3 dissector, both directions, over TCP (chunks appended to a
//! per-direction stream buffer, as the flow layer does, exercising frame and fragment
//! reassembly) and over UDP (each chunk one datagram). A control octet per chunk picks the
//! direction, the length, and now and then a gap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::Timestamp;
use otwatch_sensor::protocols::{dnp3, Direction, Endpoint, FlowCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let (transport, spec) = if sel & 1 == 0 {
        (Transport::Tcp, &dnp3::SPEC)
    } else {
        (Transport::Udp, &dnp3::UDP_SPEC)
    };
    let ep = |ip: [u8; 4], port| Endpoint {
        ip: ip.into(),
        port,
        mac: None,
    };
    let ctx = FlowCtx {
        client: ep([10, 0, 0, 1], 40000),
        server: ep([10, 0, 0, 2], 20000),
        transport,
        ts: Timestamp(0),
        dst_mac: None,
    };
    let mut d = (spec.new)();
    let mut out = Vec::new();
    let mut pending = [Vec::new(), Vec::new()];
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
        if ctl & 0x40 != 0 && transport == Transport::Tcp {
            pending[i].clear();
            d.gap(dir);
        }
        match transport {
            Transport::Udp => {
                d.parse(dir, chunk, &ctx, &mut out);
            }
            Transport::Tcp => {
                pending[i].extend_from_slice(chunk);
                let used = d.parse(dir, &pending[i], &ctx, &mut out);
                assert!(used <= pending[i].len());
                pending[i].drain(..used);
                if pending[i].len() > 64 * 1024 {
                    pending[i].clear();
                    d.gap(dir);
                }
            }
        }
        out.clear();
    }
});
