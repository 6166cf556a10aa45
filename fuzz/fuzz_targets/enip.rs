//! EtherNet/IP (TCP session and UDP discovery): see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("enip", data));
