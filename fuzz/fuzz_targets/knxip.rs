//! KNXnet/IP (header, DIBs, tunnelling/routing cEMI frames) over UDP and TCP: see
//! `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("knxip", data));
