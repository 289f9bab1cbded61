//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real data beside the project: `$PORTENT_SHARED_DATA` when set (and
/// then only it, as the benches, `fuzz/seeds.py` and the fixture scripts
/// take it: `PORTENT_SHARED_DATA=/nonexistent` runs the suite as a fresh
/// clone without the data would), else `../shared/data`. `None` (with a
/// note on stderr) when absent, so the suite passes on a fresh clone
/// without it; CI has it.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("PORTENT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if dir.join("SOURCES.md").is_file() {
        return Some(dir);
    }
    eprintln!(
        "note: shared data not found at {} (set PORTENT_SHARED_DATA or place it at \
         ../shared/data); skipping the tests that need it",
        dir.display()
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

/// Unzips every file of `zip` into `dir`; returns their paths, sorted.
pub fn unzip(zip: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).expect("open zip")).expect("zip");
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("zip entry");
        if f.is_dir() {
            continue;
        }
        let name = Path::new(f.name())
            .file_name()
            .expect("entry name")
            .to_owned();
        let p = dir.join(name);
        let mut w = std::fs::File::create(&p).expect("create");
        std::io::copy(&mut f, &mut w).expect("unzip");
        out.push(p);
    }
    out.sort();
    out
}
