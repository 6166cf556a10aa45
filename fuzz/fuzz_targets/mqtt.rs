//! Arbitrary bytes into the MQTT dissector as a conversation (see
//! `otwatch_sensor::protocols::fuzzing::conversation`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_sensor::protocols::{fuzzing, mqtt};

fuzz_target!(|data: &[u8]| fuzzing::conversation(&mqtt::SPEC, 1883, data));
