//! CODESYS (V3 block driver TCP streams and UDP datagrams, V2 identity): see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("codesys", data));
