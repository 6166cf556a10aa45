//! MMS (TPKT/COTP, ISO session and presentation, ACSE, ISO 9506): see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("mms", data));
