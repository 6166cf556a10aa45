//! HART-IP (header, session messages, HART token-passing PDUs) over TCP and UDP: see
//! `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("hart_ip", data));
