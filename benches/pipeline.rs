//! Throughput of the capture pipeline over a generated in-memory capture.
//!
//! The capture (64 MiB, the same traffic as `examples/gen_bench.rs`, see
//! `src/testkit/bench/mod.rs`) is built once; each benchmark reports bytes per
//! second of capture:
//!
//! - `read_capture`: container walk + decode + signal extraction, in
//!   parallel chunks as the CLI does;
//! - `read_capture_sequential`: the same in one walk on one thread;
//! - `analyze`: attempts, filter, tiers and grouping over the signals;
//! - `read_and_analyze`: both, i.e. `portent scan` minus mapping the file
//!   and writing the report;
//! - `read_capture_pcapng`: `read_capture` over the same packets in pcapng.
//!
//! `cargo bench --bench pipeline` takes about a minute. For whole-binary
//! comparisons against `cat` and `tcpdump` see `benches/compare.sh`.

use portent::testkit::bench as gen;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use portent::findings::InputReport;
use portent::pipeline::{self as run, RunOptions};
use portent::policy::Policy;
use portent::source::capture::{read_capture, read_capture_chunked};
use portent::source::Input;

const CAPTURE_BYTES: u64 = 64 << 20;

fn no_progress(_: u64) {}

fn input() -> Input {
    Input {
        name: "bench.pcap".into(),
        path: None,
        from_dir: false,
        member: None,
    }
}

fn pipeline(c: &mut Criterion) {
    let (data, summary) = gen::generate(Vec::new(), CAPTURE_BYTES).expect("generate capture");
    eprintln!(
        "bench capture: {} bytes, {} packets, {} SYNs, {} SYN-ACKs",
        data.len(),
        summary.packets,
        summary.syns,
        summary.synacks
    );
    let policy = Policy::default();
    let opts = RunOptions::default();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(data.len() as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    g.bench_function("read_capture", |b| {
        b.iter(|| {
            let out = read_capture("bench.pcap", black_box(&data), 0, &no_progress)
                .expect("generated capture reads");
            black_box(out.signals.len())
        })
    });

    g.bench_function("read_capture_sequential", |b| {
        b.iter(|| {
            let out =
                read_capture_chunked("bench.pcap", black_box(&data), 0, &no_progress, usize::MAX)
                    .expect("generated capture reads");
            black_box(out.signals.len())
        })
    });

    let out = read_capture("bench.pcap", &data, 0, &no_progress).expect("generated capture reads");
    assert_eq!(out.stats.packets, summary.packets);
    g.bench_function("analyze", |b| {
        b.iter_batched(
            || out.signals.clone(),
            |signals| {
                let a = run::analyze(
                    vec![InputReport::new(&input())],
                    run::Evidence {
                        signals,
                        ..Default::default()
                    },
                    &policy,
                    &opts,
                );
                black_box(a.findings.len())
            },
            BatchSize::LargeInput,
        )
    });

    g.bench_function("read_and_analyze", |b| {
        b.iter(|| {
            let out = read_capture("bench.pcap", black_box(&data), 0, &no_progress)
                .expect("generated capture reads");
            let a = run::analyze(
                vec![InputReport::new(&input())],
                run::Evidence {
                    signals: out.signals,
                    ..Default::default()
                },
                &policy,
                &opts,
            );
            black_box(a.summary.attempts)
        })
    });

    // The same traffic in pcapng: the other container walker.
    let (ng, _) =
        gen::generate_as(Vec::new(), CAPTURE_BYTES, gen::PCAPNG).expect("generate pcapng");
    g.throughput(Throughput::Bytes(ng.len() as u64));
    g.bench_function("read_capture_pcapng", |b| {
        b.iter(|| {
            let out = read_capture("bench.pcapng", black_box(&ng), 0, &no_progress)
                .expect("generated capture reads");
            black_box(out.signals.len())
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
