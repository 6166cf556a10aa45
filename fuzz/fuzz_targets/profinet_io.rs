//! PROFINET IO: CM datagrams and RT frames, see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("profinet_io", data));
