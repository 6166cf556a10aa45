//! IEEE C37.118 synchrophasor frames (TCP streams and UDP datagrams): see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("c37_118", data));
