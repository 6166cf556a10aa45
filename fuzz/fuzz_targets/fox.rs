//! Niagara Fox (header lines, `key=t:value` bodies with length-prefixed blobs): see
//! `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("fox", data));
