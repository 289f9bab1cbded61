#![no_main]
//! `evtx`: see `targets::evtx` in fuzz/targets.rs.
//!
//! portent reads EVTX with the `evtx` crate inside `catch_unwind`: a panic
//! in that crate ends the file's reading with an `evtx_panic` warning, by
//! design (src/source/sysmon/evtx.rs). libfuzzer-sys's panic hook aborts at
//! any panic, before unwinding, so this target's hook lets a panic raised
//! in the `evtx` crate's own source unwind to portent's `catch_unwind` (and
//! notes it on stderr), and aborts on every other panic as usual: a panic
//! in portent's code, or one that portent does not catch, is a crash.

use std::sync::atomic::{AtomicU64, Ordering};

#[path = "../targets.rs"]
mod targets;

static CAUGHT: AtomicU64 = AtomicU64::new(0);

fn in_evtx_crate(info: &std::panic::PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| {
        let f = l.file().replace('\\', "/");
        f.contains("/evtx-0.") && !f.contains("/portent")
    })
}

libfuzzer_sys::fuzz_target!(
    init: {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if in_evtx_crate(info) {
                let n = CAUGHT.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    eprintln!("note: evtx crate panic #{n}, caught by portent: {info}");
                }
                return;
            }
            abort_hook(info);
        }));
    },
    |data: &[u8]| targets::evtx(data)
);
