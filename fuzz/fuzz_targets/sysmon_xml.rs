#![no_main]
//! `sysmon_xml`: see `targets::sysmon_xml` in fuzz/targets.rs.

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::sysmon_xml(data));
