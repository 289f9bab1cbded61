//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real data beside the project: `$PORTENT_SHARED_DATA`, else
/// `../shared/data`. `None` (with a note on stderr) when absent, so the suite
/// passes on a fresh clone without it; CI has it.
pub fn shared_data() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PORTENT_SHARED_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("SOURCES.md").is_file() {
            return Some(c);
        }
    }
    eprintln!(
        "note: shared data not found (set PORTENT_SHARED_DATA or place it at ../shared/data); \
         skipping the tests that need it"
    );
    None
}

/// Runs the portent binary with `args`.
pub fn portent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .output()
        .expect("run portent")
}

/// Runs portent and parses its stdout as JSON lines.
pub fn jsonl(args: &[&str]) -> (Vec<serde_json::Value>, Output) {
    let out = portent(args);
    let recs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    (recs, out)
}

/// The records of one `type`.
pub fn of_type<'a>(recs: &'a [serde_json::Value], ty: &str) -> Vec<&'a serde_json::Value> {
    recs.iter().filter(|r| r["type"] == ty).collect()
}
