//! EtherNet/IP class-1 I/O: see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("enip_io", data));
