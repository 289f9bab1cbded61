//! The `portent` binary: parse arguments, run, map the outcome to an exit
//! code (0 ran, 1 findings at or above --fail-on, 2 error).

use clap::Parser;

/// mimalloc keeps the memory a run frees for its next allocations: the
/// connection tables of a capture's parallel chunks are freed as they are
/// merged, and glibc's allocator would hand such blocks back to the kernel
/// and fault fresh pages in for the next (twice the page faults on a
/// 512 MiB capture).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = portent::cli::Cli::parse();
    let code = match portent::app::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("portent: error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
