//! GE-SRTP headers, mailbox messages and text buffers: see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("srtp", data));
