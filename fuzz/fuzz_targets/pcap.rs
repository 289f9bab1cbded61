#![no_main]
//! `pcap`: see `targets::pcap` in fuzz/targets.rs.

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(
    init: {
        // The reader's parallel chunks on one worker: the same code paths,
        // without a second core busy (the global pool is built here first).
        let _ = rayon::ThreadPoolBuilder::new().num_threads(1).build_global();
    },
    |data: &[u8]| targets::pcap(data)
);
