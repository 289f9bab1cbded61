//! Beacon detector throughput and memory.
//!
//! - `beacon/fit_10_beats`, `beacon/fit_60_beats` (criterion): one series
//!   fitted, per second;
//! - `detect, 1M series` (timed once, printed): `beacon::detect` over one
//!   million (source, destination, port) series of six to twelve attempts
//!   each, most of them random, 2 % of them timers: series per second, and
//!   the peak resident memory the detection adds over the attempts
//!   themselves (`VmHWM` from `/proc/self/status`, Linux only).
//!
//! `cargo bench --bench beacon` takes about a minute.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

use portent::analysis::beacon::{self, BeaconConfig};
use portent::testkit::synth;

/// SplitMix64, so generated series are the same on every run.
use portent::testkit::synth::SplitMix64 as Rng;

fn series(r: &mut Rng, beats: usize, timer: bool) -> Vec<f64> {
    let mut t = 0.0;
    (0..beats)
        .map(|_| {
            t += if timer {
                60.0 * (0.75 + 0.5 * r.unit())
            } else {
                1.0 - 60.0 * (1.0 - r.unit()).ln()
            };
            t
        })
        .collect()
}

/// Peak resident set size so far, in KiB (0 where /proc is not there).
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn one_million_series() {
    const SERIES: u32 = 1_000_000;
    let mut r = Rng(7);
    let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let mut attempts = Vec::new();
    for s in 0..SERIES {
        let beats = 6 + (s % 7) as usize;
        let timer = s % 50 == 0;
        for t in series(&mut r, beats, timer) {
            attempts.push(synth::attempt(
                t,
                src,
                40000,
                IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + s)),
                443,
                0,
            ));
        }
    }
    attempts.shrink_to_fit();
    let before = vm_hwm_kib();
    let start = Instant::now();
    let (found, stats) = beacon::detect(&attempts, 0..attempts.len(), &BeaconConfig::default());
    let took = start.elapsed();
    let after = vm_hwm_kib();
    println!(
        "detect, 1M series: {} attempts, {} series tested ({} per destination + across), {} beacons, {:.2} s, {:.0} series/s; peak RSS {} MiB before, {} MiB after (+{} MiB)",
        attempts.len(),
        stats.series_tested,
        SERIES,
        found.len(),
        took.as_secs_f64(),
        f64::from(SERIES) / took.as_secs_f64(),
        before / 1024,
        after / 1024,
        after.saturating_sub(before) / 1024,
    );
    black_box(found);
}

fn fits(c: &mut Criterion) {
    let mut r = Rng(1);
    let mut g = c.benchmark_group("beacon");
    g.throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for beats in [10usize, 60] {
        let s = series(&mut r, beats, false);
        let mut scratch = beacon::Scratch::default();
        g.bench_function(format!("fit_{beats}_beats"), |b| {
            b.iter(|| black_box(beacon::fit(black_box(&s), 1.0, &mut scratch)))
        });
        // What `detect` runs: the bound, and the fit only where it is needed
        // (random series like this one are settled by the bound).
        g.bench_function(format!("fit_beacon_{beats}_beats"), |b| {
            b.iter(|| black_box(beacon::fit_beacon(black_box(&s), 1.0, &mut scratch)))
        });
    }
    g.finish();
}

fn main() {
    one_million_series();
    let mut c = Criterion::default().configure_from_args();
    fits(&mut c);
    c.final_summary();
}
