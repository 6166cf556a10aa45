//! Arbitrary bytes to the Modbus/TCP dissector, both directions, in chunks, with the flow
//! layer's contract simulated: unconsumed bytes are offered again with the next chunk, a
//! buffer over the cap is dropped with a gap. Each chunk starts with a control byte: bit 7 is
//! the direction, bit 6 asks for a gap first, bits 0–5 the chunk length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::Timestamp;
use otwatch_sensor::protocols::{modbus, Direction, Endpoint, FlowCtx, Transport};
use std::net::{IpAddr, Ipv4Addr};

const CAP: usize = 16 << 10;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let ep = |last: u8, port: u16| Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        port,
        mac: None,
    };
    // Bit 0: the TCP initiator is the side on port 502 (roles inverted).
    let (client, server) = if sel & 1 == 0 {
        (ep(1, 40000), ep(2, modbus::PORT))
    } else {
        (ep(1, modbus::PORT), ep(2, 40000))
    };
    let ctx = FlowCtx { client, server, transport: Transport::Tcp, ts: Timestamp(0), dst_mac: None };
    let mut d = (modbus::SPEC.new)();
    let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    while let Some((&ctl, tail)) = rest.split_first() {
        let n = usize::from(ctl & 0x3f).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        let dir = if ctl & 0x80 == 0 { Direction::ToServer } else { Direction::ToClient };
        let _ = (modbus::SPEC.probe)(dir, chunk);
        let buf = &mut pending[dir as usize];
        if ctl & 0x40 != 0 {
            buf.clear();
            d.gap(dir);
        }
        buf.extend_from_slice(chunk);
        let used = d.parse(dir, buf, &ctx, &mut out);
        assert!(used <= buf.len());
        buf.drain(..used);
        if buf.len() > CAP {
            buf.clear();
            d.gap(dir);
        }
        out.clear();
    }
});
