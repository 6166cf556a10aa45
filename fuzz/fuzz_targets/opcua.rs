//! Arbitrary bytes into the OPC UA dissector as a conversation (see
//! `otwatch_sensor::protocols::fuzzing::conversation`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_sensor::protocols::{fuzzing, opcua};

fuzz_target!(|data: &[u8]| fuzzing::conversation(&opcua::SPEC, 4840, data));
