//! Sends the flow-export datagrams found in a capture to a collector over
//! UDP, in capture order: to feed nfcapd (or `portent collect`) the same
//! flows portent reads from the capture, for benchmarks and tests.
//!
//! ```text
//! cargo run --release --example replay_exports -- CAPTURE 127.0.0.1:2055 [PACE_US]
//! ```
//!
//! PACE_US (default 20) is a pause after every 32 datagrams, so a collector
//! on loopback is not outrun; the sent count is printed at the end.

use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

use portent::source::capture::read_capture;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, to, pace) = match args.as_slice() {
        [p, t] => (p, t, 20),
        [p, t, n] => match n.parse() {
            Ok(n) => (p, t, n),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("replay_exports: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = match read_capture(path, &data, 0, &|_| {}) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("replay_exports: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sock = match UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect(to).map(|_| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("replay_exports: {to}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut sent = 0u64;
    for (i, e) in out.exports.iter().enumerate() {
        if let Err(err) = sock.send(e.bytes(&data, &out.export_bytes)) {
            eprintln!("replay_exports: datagram {}: {err}", i + 1);
            return ExitCode::FAILURE;
        }
        sent += 1;
        if pace > 0 && i % 32 == 31 {
            std::thread::sleep(Duration::from_micros(pace));
        }
    }
    println!("{sent} datagrams sent to {to}");
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: replay_exports CAPTURE HOST:PORT [PACE_US]");
    ExitCode::from(2)
}
