#![no_main]
//! `sysmon_json`: see `targets::sysmon_json` in fuzz/targets.rs.

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::sysmon_json(data));
