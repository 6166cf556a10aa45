//! Arbitrary PROFINET RT payloads into the DCP frame dissector: the input is split into frames
//! by a one-byte length prefix; odd prefixes force a DCP FrameID so the block walk is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::{Mac, Timestamp};
use otwatch_sensor::protocols::profinet_dcp;

fuzz_target!(|data: &[u8]| {
    let src = Mac([0x00, 0x1b, 0x1b, 0x12, 0x34, 0x56]);
    let mut out = Vec::new();
    let mut rest = data;
    let mut frame = Vec::with_capacity(256);
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        frame.clear();
        if len & 1 == 1 {
            frame.extend_from_slice(&[0xfe, 0xfc + (len >> 1) % 4]);
        }
        frame.extend_from_slice(payload);
        profinet_dcp::parse_frame(src, &frame, Timestamp(0), &mut out);
        if let Ok(Some(pdu)) = profinet_dcp::parse(&frame) {
            let _ = profinet_dcp::station(&pdu);
            pdu.blocks().for_each(drop);
        }
        out.clear();
        rest = next;
    }
});
