//! Writes the bundled samples: small captures that reproduce the validation
//! scenarios of DETECTION.md (§5 test 1, §7 test 4, §8 tests 2 and 3) amid
//! ordinary traffic.
//!
//! ```text
//! cargo run --example gen_samples -- samples/
//! ```
//!
//! The output is a pure function of this file: a fixed-seed PRNG
//! (splitmix64), fixed timestamps (from 2026-03-02T09:00:00Z), a fixed gzip
//! level and a zero gzip mtime. `tests/samples.rs` regenerates the files and
//! checks they are byte-identical to the committed ones; `samples/README.md`
//! says what each holds and what portent reports on it.
//!
//! | file | scenario |
//! |---|---|
//! | `windows-4444.pcap` | a Windows host opens one connection to a public address on 4444 |
//! | `beacon-9001.pcapng` | a Windows host calls one public address on 9001 ten times, ~60 s apart |
//! | `linux-8088.pcap.gz` | a Linux host beacons TLS to a public address on 8088 every ~30 s, 12 times |
//! | `rdp-33890.pcapng` | RDP moved to 33890: inbound sessions from public addresses to an internal server |

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use portent::testkit::samples::{write_all, FILES};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: gen_samples DIR");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    if let Err(e) = write_all(dir) {
        eprintln!("gen_samples: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for name in FILES {
        let len = fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
        println!("{}: {len} bytes", dir.join(name).display());
    }
    ExitCode::SUCCESS
}
