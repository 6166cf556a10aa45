//! STIX 2.1 indicator bundles: see `otwatch_fuzz::run`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| otwatch_fuzz::run("ioc_stix", data));
