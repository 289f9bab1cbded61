#![no_main]
//! `flow_file`: see `targets::flow_file` in fuzz/targets.rs.

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::flow_file(data));
