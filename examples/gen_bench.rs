//! Writes the benchmark capture: a deterministic, realistic synthetic pcap
//! (Ethernet, IPv4 with some IPv6 and 802.1Q, ~1.3% SYNs) of a given size.
//!
//! ```text
//! cargo run --release --example gen_bench -- /tmp/bench.pcap 1200
//! cargo run --release --example gen_bench -- /tmp/bench.pcapng 1200 pcapng
//! cargo run --release --example gen_bench -- /tmp/flows.pcap 256 ipfix   # or v5, v9
//! ```
//!
//! The `v5`, `v9` and `ipfix` forms write a capture of flow export datagrams
//! instead (`src/testkit/bench/flows.rs`).
//!
//! The size is in MiB (2^20 bytes); the file ends at the first packet that
//! reaches it. The same size always gives the same file. See
//! `src/testkit/bench/mod.rs` for the traffic model and docs/BENCHMARKS.md for its
//! use.

use portent::testkit::bench as gen;

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, mib, format) = match args.as_slice() {
        [p, m] => (p, m, gen::PCAP),
        [p, m, f] if f == "pcap" => (p, m, gen::PCAP),
        [p, m, f] if f == "pcapng" => (p, m, gen::PCAPNG),
        [p, m, f] if matches!(f.as_str(), "v5" | "v9" | "ipfix") => {
            let version = match f.as_str() {
                "v5" => 5,
                "v9" => 9,
                _ => 10,
            };
            return flows(p, m, version);
        }
        _ => return usage(),
    };
    let mib = match mib.parse::<u64>() {
        Ok(m) if m > 0 => m,
        _ => return usage(),
    };
    let start = Instant::now();
    let result = File::create(path)
        .and_then(|f| gen::generate_as(BufWriter::with_capacity(1 << 20, f), mib << 20, format))
        .and_then(|(w, s)| w.into_inner().map_err(|e| e.into_error()).map(|_| s));
    let s = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gen_bench: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let pct = |n: u64| 100.0 * n as f64 / s.packets as f64;
    println!(
        "{path}: {} bytes, {} packets in {secs:.2} s ({:.0} MB/s)",
        s.bytes,
        s.packets,
        s.bytes as f64 / secs / 1e6
    );
    println!(
        "  frames: {:.1}% <=90 B (bare ACKs), {:.1}% >=1514 B, {:.1}% in between; {:.1}% IPv6, {:.1}% VLAN, {:.1}% UDP",
        pct(s.small),
        pct(s.full),
        pct(s.mid),
        pct(s.ipv6),
        pct(s.vlan),
        pct(s.udp)
    );
    println!(
        "  SYNs: {} ({:.2}%; {} retransmissions, {} to known C2 ports), SYN-ACKs: {}, RSTs: {}",
        s.syns,
        pct(s.syns),
        s.syn_retransmits,
        s.c2_syns,
        s.synacks,
        s.rsts
    );
    ExitCode::SUCCESS
}

fn flows(path: &str, mib: &str, version: u16) -> ExitCode {
    let Some(mib) = mib.parse::<u64>().ok().filter(|&m| m > 0) else {
        return usage();
    };
    let start = Instant::now();
    let result = File::create(path)
        .and_then(|f| {
            gen::flows::generate(BufWriter::with_capacity(1 << 20, f), mib << 20, version)
        })
        .and_then(|(w, s)| w.into_inner().map_err(|e| e.into_error()).map(|_| s));
    match result {
        Ok(s) => {
            println!(
                "{path}: {} bytes, {} datagrams, {} records ({} TCP, {} with SYN) in {:.2} s",
                s.bytes,
                s.datagrams,
                s.records,
                s.tcp_records,
                s.syn_records,
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_bench: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: gen_bench OUTPUT SIZE_MIB [pcap|pcapng|v5|v9|ipfix]");
    ExitCode::from(2)
}
