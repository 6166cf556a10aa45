//! Mitsubishi SLMP / MC protocol 3E and 4E frames, binary and ASCII: see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("slmp", data));
