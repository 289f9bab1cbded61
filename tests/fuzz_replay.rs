//! Replays the fuzz corpora and the saved crashes on the stable toolchain,
//! on every `cargo test`: each file of `fuzz/corpus/TARGET/` and
//! `fuzz/regressions/TARGET/` goes through the same body the libFuzzer
//! target runs (`fuzz/targets.rs`), invariants included, and must pass. A
//! target whose corpus directory is missing or empty fails, so the replay
//! cannot test nothing.
//!
//! Crashes found and not fixed yet wait in `fuzz/regressions/TARGET/open/`
//! (listed in fuzz/regressions/README.md): each must still fail, so that the
//! fix that makes it pass also moves it up to `fuzz/regressions/TARGET/`,
//! where it then guards against the bug's return. See docs/FUZZING.md.

use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

#[path = "../fuzz/targets.rs"]
mod targets;

/// The files of `dir`, sorted (dotfiles and subdirectories skipped).
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    v.sort();
    v
}

thread_local! {
    /// Set while this thread replays an open crash: its panic is expected,
    /// and not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `body` on the file; the panic message if it panicked.
fn run(body: fn(&[u8]), f: &Path, expect_panic: bool) -> Result<(), String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
    let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    QUIET.with(|q| q.set(expect_panic));
    let r = catch_unwind(AssertUnwindSafe(|| body(&data)));
    QUIET.with(|q| q.set(false));
    r.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Runs `body` on every file of the target's corpus and regressions (all
/// must pass) and of its open crashes (all must still fail); fails naming
/// each file that did otherwise.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = files(&fuzz.join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ is missing or empty: the replay would test nothing"
    );
    let regressions = files(&fuzz.join("regressions").join(target));
    let open = files(&fuzz.join("regressions").join(target).join("open"));
    let mut failed = Vec::new();
    for f in corpus.iter().chain(&regressions) {
        if let Err(why) = run(body, f, false) {
            failed.push(format!("{}: {why}", f.display()));
        }
    }
    for f in &open {
        if run(body, f, true).is_ok() {
            failed.push(format!(
                "{}: an open crash now passes: move it up to fuzz/regressions/{target}/ \
                 and mark it fixed in fuzz/regressions/README.md",
                f.display()
            ));
        }
    }
    // Straight to stderr, so that the counts show without --nocapture.
    let _ = writeln!(
        std::io::stderr(),
        "fuzz replay {target}: {} corpus file(s), {} regression file(s), \
         {} open crash(es) still failing",
        corpus.len(),
        regressions.len(),
        open.len()
    );
    assert!(
        failed.is_empty(),
        "{target}: {} file(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn pcap() {
    replay("pcap", targets::pcap);
}

#[test]
fn pcapng() {
    replay("pcapng", targets::pcapng);
}

#[test]
fn decode() {
    replay("decode", targets::decode);
}

#[test]
fn netflow() {
    replay("netflow", targets::netflow);
}

#[test]
fn flow_file() {
    replay("flow_file", targets::flow_file);
}

#[test]
fn sysmon_xml() {
    replay("sysmon_xml", targets::sysmon_xml);
}

#[test]
fn sysmon_json() {
    replay("sysmon_json", targets::sysmon_json);
}

#[test]
fn evtx() {
    replay("evtx", targets::evtx);
}

#[test]
fn service() {
    replay("service", targets::service);
}

/// Every target in fuzz/Cargo.toml has a replay above.
#[test]
fn every_fuzz_target_is_replayed() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .expect("fuzz/Cargo.toml");
    let replayed = [
        "pcap",
        "pcapng",
        "decode",
        "netflow",
        "flow_file",
        "sysmon_xml",
        "sysmon_json",
        "evtx",
        "service",
    ];
    let mut bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "portent-fuzz")
        .collect();
    bins.sort_unstable();
    let mut want = replayed.to_vec();
    want.sort_unstable();
    assert_eq!(bins, want);
}
