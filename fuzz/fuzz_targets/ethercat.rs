//! EtherCAT frames: see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("ethercat", data));
