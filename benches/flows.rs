//! Throughput of flow-export decoding: records per second from a generated
//! capture of NetFlow v5, v9 and IPFIX export datagrams (16 MiB each, see
//! `src/testkit/bench/flows.rs`).
//!
//! - `decode/<version>`: the datagrams already out of the capture, through
//!   the flow reader to attempts (templates, times, pairing), on one core;
//! - `scan/<version>`: the whole of `portent scan` minus mapping the file and
//!   writing the report: capture walk, decoding, scoring, grouping, beacons.
//!
//! The target (issue 3) is 2 million records per second on one core. For
//! nfdump reading the same flows, see `benches/flows.sh`.

// The packet generator is shared with benches/pipeline.rs; only its flow
// part is used here.
#[allow(dead_code)]
use portent::testkit::bench as gen;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use portent::pipeline::{self as run, RunOptions};
use portent::policy::Policy;
use portent::source::capture::read_capture;
use portent::source::flow::{FlowReader, COLLECTOR_PORTS};
use portent::source::Input;

const CAPTURE_BYTES: u64 = 16 << 20;

fn no_progress(_: u64) {}

fn flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("flows");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (name, version) in [("v5", 5), ("v9", 9), ("ipfix", 10)] {
        let (data, s) = gen::flows::generate(Vec::new(), CAPTURE_BYTES, version)
            .expect("generate flow capture");
        eprintln!(
            "{name}: {} bytes, {} datagrams, {} records, {} with SYN",
            data.len(),
            s.datagrams,
            s.records,
            s.syn_records
        );
        let out = read_capture("flows.pcap", &data, 0, &no_progress).expect("capture reads");
        assert_eq!(out.exports.len() as u64, s.datagrams);
        g.throughput(Throughput::Elements(s.records));
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let mut r = FlowReader::default();
                r.begin_input(0);
                for e in &out.exports {
                    r.message(
                        e.bytes(&data, &out.export_bytes),
                        Some((e.exporter, e.exporter_port)),
                        e.offset,
                        e.frame,
                    );
                }
                let (attempts, _) = r.finish();
                assert_eq!(attempts.len() as u64, s.syn_records);
                black_box(attempts.len())
            })
        });
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), &data).expect("write temp capture");
        let input = [Input {
            name: "flows.pcap".into(),
            path: Some(file.path().to_path_buf()),
            from_dir: false,
            member: None,
        }];
        g.bench_function(format!("scan/{name}"), |b| {
            b.iter(|| {
                let (reports, ev) = run::read_inputs(&input, &COLLECTOR_PORTS, &no_progress);
                let a = run::analyze(reports, ev, &Policy::default(), &RunOptions::default());
                black_box(a.summary.attempts)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
