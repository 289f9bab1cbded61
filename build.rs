//! Tells the test suite whether the shared real data is beside the project.
//!
//! Tests that need it (nDPI's, Zeek's and Arkime's verdicts on real
//! captures, real Sysmon logs, malware captures) are marked
//! `#[cfg_attr(not(portent_shared_data), ignore = "...")]`, so `cargo test`
//! on a clone without the data lists each of them as ignored, with the
//! reason, and counts them in its summary line, instead of counting them as
//! passed. The data is `$PORTENT_SHARED_DATA` when set (and then only it),
//! else `../shared/data`, as `tests/common` finds it. Placing the data after
//! a first build needs `touch build.rs` (cargo watches the data's
//! `SOURCES.md` only once it exists).

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(portent_shared_data)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PORTENT_SHARED_DATA");
    let dir = std::env::var_os("PORTENT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
                .join("../shared/data")
        });
    let sources = dir.join("SOURCES.md");
    if sources.is_file() {
        println!("cargo::rerun-if-changed={}", sources.display());
        println!("cargo::rustc-cfg=portent_shared_data");
    }
}
