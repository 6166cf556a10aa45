//! Beckhoff ADS (AMS/TCP and the UDP discovery service): see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("ads", data));
