//! Sysmon join throughput: a million attempts against a million Event ID 3
//! (half of them the same connections, seen on hosts with skewed clocks),
//! and Sysmon events read per second from event XML lines.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portent::analysis::join::{self, JoinOptions, LoggedEvent};
use portent::event::Attempt;
use portent::source::sysmon::{self, SysmonEvent};
use portent::testkit::synth;
use portent::time::Ts;

const N: usize = 1_000_000;

fn inputs() -> (Vec<Attempt>, Vec<LoggedEvent>) {
    let mut attempts = Vec::with_capacity(N);
    let mut events = Vec::with_capacity(N);
    for i in 0..N {
        let host = (i % 2_000) as u32;
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + host));
        let dst = IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + (i % 250) as u32));
        let sport = 1_024 + (i / 2_000 % 60_000) as u16;
        let secs = i as f64 * 0.01;
        attempts.push(synth::attempt(secs, src, sport, dst, 443, i as u64));
        // Every other event is one of the attempts, 1.5 s late on its
        // host's clock; the rest are connections no capture saw.
        let (esport, edport) = if i % 2 == 0 {
            (sport, 443)
        } else {
            (sport, 8443)
        };
        events.push(LoggedEvent {
            input: 1,
            event: SysmonEvent {
                event_id: 3,
                ts: Ts((secs * 1e9) as i64 + 1_500_000_000),
                host: Some(format!("WS{host}")),
                record: i as u64,
                process_guid: Some(format!("{{{i:08x}}}")),
                pid: Some(i as u32),
                image: Some(r"C:\Windows\System32\svchost.exe".into()),
                user: Some(r"NT AUTHORITY\SYSTEM".into()),
                initiated: Some(true),
                protocol: Some("tcp".into()),
                src: Some(src),
                sport: Some(esport),
                dst: Some(dst),
                dport: Some(edport),
                ..SysmonEvent::default()
            },
        });
    }
    portent::event::sort_attempts(&mut attempts);
    (attempts, events)
}

fn bench(c: &mut Criterion) {
    let (attempts, events) = inputs();
    let mut g = c.benchmark_group("join");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("1M attempts x 1M events", |b| {
        b.iter(|| {
            let (a, st) = join::join(attempts.clone(), &events, &JoinOptions::default());
            black_box((a.len(), st.sysmon_attempts))
        })
    });
    g.finish();

    // Reading: event XML lines, the form SIEMs export.
    let line = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sysmon/events-per-line.xml"
    ))
    .unwrap();
    let first = line.lines().next().unwrap();
    let text: String = std::iter::repeat_n(first, 100_000)
        .flat_map(|l| [l, "\n"])
        .collect();
    let mut g = c.benchmark_group("sysmon_read");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("event XML lines", |b| {
        b.iter(|| black_box(sysmon::read("bench", text.as_bytes()).unwrap().events.len()))
    });
    // Real logs, when the shared data is beside the project: the largest
    // EVTX sample, and OTRF's NXLog JSON lines (unzipped here).
    let shared = std::env::var_os("PORTENT_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data").into());
    let evtx = shared.join("sysmon/omerbenamram-evtx-samples/sysmon.evtx");
    if let Ok(bytes) = std::fs::read(&evtx) {
        let n = sysmon::read("evtx", &bytes).unwrap().stats.events_read;
        g.throughput(Throughput::Elements(n));
        g.bench_function("EVTX (sysmon.evtx)", |b| {
            b.iter(|| black_box(sysmon::read("evtx", &bytes).unwrap().events.len()))
        });
    }
    let zip = shared.join(
        "sysmon/otrf-atomic-pairs/covenant_psremoting_command/host_covenant_psremoting_command.zip",
    );
    if let Ok(f) = std::fs::File::open(&zip) {
        let mut z = zip::ZipArchive::new(f).unwrap();
        let mut bytes = Vec::new();
        std::io::copy(&mut z.by_index(0).unwrap(), &mut bytes).unwrap();
        let n = bytecount(&bytes);
        g.throughput(Throughput::Elements(n));
        g.bench_function("NXLog JSON lines (OTRF covenant)", |b| {
            b.iter(|| black_box(sysmon::read("nxlog", &bytes).unwrap().events.len()))
        });
    }
    g.finish();
}

/// Lines in `b`.
fn bytecount(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

criterion_group!(benches, bench);
criterion_main!(benches);
