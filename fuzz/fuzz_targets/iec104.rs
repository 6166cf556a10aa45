//! Arbitrary bytes into the IEC 60870-5-104 dissector as a conversation (see
//! `otwatch_sensor::protocols::fuzzing::conversation`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_sensor::protocols::{fuzzing, iec104};

fuzz_target!(|data: &[u8]| fuzzing::conversation(&iec104::SPEC, 2404, data));
