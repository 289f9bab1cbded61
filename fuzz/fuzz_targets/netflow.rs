#![no_main]
//! `netflow`: see `targets::netflow` in fuzz/targets.rs.

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::netflow(data));
