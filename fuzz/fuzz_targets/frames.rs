//! Arbitrary frames of every link type straight into decode + flows: the input is split into
//! frames by a one-byte length prefix, so one input exercises a whole conversation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::Timestamp;
use otwatch_sensor::capture::{Frame, LinkType};
use otwatch_sensor::pipeline::Pipeline;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let link = [
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
    ][sel as usize % 5];
    let mut p = Pipeline::default();
    let mut ts = 1_600_000_000_000_000_000u64;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        let (frame, next) = tail.split_at(n);
        ts += 1_000_000;
        p.frame(&Frame { ts: Timestamp(ts), link, data: frame, wire_len: n as u32, interface: 0 });
        rest = next;
    }
    p.finish();
});
