//! `portent collect` over loopback: real export datagrams in, findings out
//! as they appear, a clean flush on SIGTERM, memory that stays flat.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use portent::source::capture::read_capture;
use portent::testkit::synth::{self, FlowRec};
use serde_json::Value;

/// A running collector, its stdout lines and stderr lines as they come.
struct Collector {
    child: Child,
    port: u16,
    out: Receiver<String>,
    err: Receiver<String>,
}

impl Collector {
    fn start(extra: &[&str]) -> Collector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portent"))
            .args(["collect", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start portent collect");
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = channel();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let out = lines(Box::new(child.stdout.take().unwrap()));
        let err = lines(Box::new(child.stderr.take().unwrap()));
        let first = err
            .recv_timeout(Duration::from_secs(20))
            .expect("collector's first status line");
        let port = first
            .split("udp 127.0.0.1:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        Collector {
            child,
            port,
            out,
            err,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The next stdout record, waiting up to `wait`.
    fn next_record(&self, wait: Duration) -> Option<Value> {
        self.out
            .recv_timeout(wait)
            .ok()
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
    }

    /// Resident memory of the collector, kB.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    /// SIGTERM; the remaining stdout records and stderr lines, and whether
    /// it exited 0.
    fn stop(mut self) -> (Vec<Value>, Vec<String>, bool) {
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(r, 0, "kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "collector did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let recs = self
            .out
            .iter()
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect();
        let err = self.err.iter().collect();
        (recs, err, status.success())
    }
}

/// Sends the export datagrams of a capture from a fresh socket (one
/// exporter per capture), paced so loopback does not drop them.
fn replay(capture: &Path, to: SocketAddr) -> usize {
    let data = std::fs::read(capture).unwrap();
    let out = read_capture("replay", &data, 0, &|_| {}).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, e) in out.exports.iter().enumerate() {
        sock.send_to(e.bytes(&data, &out.export_bytes), to).unwrap();
        if i % 64 == 63 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    out.exports.len()
}

fn softflowd(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/softflowd")
        .join(name)
}

/// A one-packet TCP record starting `ms` after 2023-11-14T22:13:20Z.
fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, ms: u64, flags: u8) -> FlowRec {
    FlowRec {
        start_ms: 1_700_000_000_000 + ms,
        end_ms: 1_700_000_000_000 + ms,
        src,
        sport,
        dst,
        dport,
        proto: 6,
        tcp_flags: flags,
        packets: 1,
        bytes: 60,
        in_if: 1,
        out_if: 2,
    }
}

/// The host and C2 endpoint the synthetic records below use.
fn host() -> IpAddr {
    "198.51.100.7".parse().unwrap()
}
fn c2() -> IpAddr {
    "203.0.113.9".parse().unwrap()
}

/// A finding as a comparable row.
fn row(f: &Value) -> (String, String, String, u64, String, String, String) {
    (
        f["host"].to_string(),
        f["ports"].to_string(),
        f["remote_ips"].to_string(),
        f["count"].as_u64().unwrap(),
        f["severity"].to_string(),
        f["first_seen"].to_string(),
        f["last_seen"].to_string(),
    )
}

#[test]
fn collect_reports_what_scan_reports_and_flushes_on_sigterm() {
    let files = [
        "emotet-v9.pcap",
        "trickbot-ipfix.pcap",
        "cryptowall4_c2-v5.pcap",
        "tor-biflow.pcap",
    ];
    let c = Collector::start(&["--interval", "200ms"]);
    // The first export: its finding (Emotet's SMTP to 587) must come out
    // while the collector runs, not only at the end.
    let mut sent = replay(&softflowd(files[0]), c.addr());
    let early = c
        .next_record(Duration::from_secs(20))
        .expect("a record while running");
    assert_eq!(early["type"], "finding", "{early}");
    assert!(early["ports"].as_array().unwrap().contains(&587.into()));
    for f in &files[1..] {
        sent += replay(&softflowd(f), c.addr());
    }
    std::thread::sleep(Duration::from_millis(500));
    let (mut recs, err, ok) = c.stop();
    assert!(ok, "exit status; stderr: {err:?}");
    recs.insert(0, early);
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["collector"]["datagrams"], sent as u64);
    assert_eq!(summary["flows"]["bad_messages"], 0);
    // The last state written of each finding is what scan says of the
    // same exports read from the captures.
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for f in recs.iter().filter(|r| r["type"] == "finding") {
        last.insert(f["host"].to_string(), f.clone());
    }
    let paths: Vec<String> = files
        .iter()
        .map(|f| softflowd(f).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["scan", "-f", "jsonl", "-q"];
    args.extend(paths.iter().map(String::as_str));
    let (scan, _) = common::jsonl(&args);
    let want: Vec<_> = common::of_type(&scan, "finding")
        .into_iter()
        .map(row)
        .collect();
    let mut got: Vec<_> = last.values().map(row).collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want_sorted);
    assert_eq!(
        summary["attempts"],
        common::of_type(&scan, "summary")[0]["attempts"]
    );
}

/// Resident memory after the collector has had time to read what was sent:
/// sampled until two readings 300 ms apart agree within 1 MiB (a loaded
/// machine may leave datagrams queued in the socket for a while, and the
/// allocator returns freed pages after a delay), for at most 5 s.
fn settled_rss(c: &Collector) -> u64 {
    std::thread::sleep(Duration::from_millis(700));
    let mut last = c.rss_kb();
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(300));
        let now = c.rss_kb();
        if now.abs_diff(last) < 1024 {
            return now;
        }
        last = now;
    }
    last
}

#[test]
fn thousands_of_spoofed_exporters_do_not_grow_memory() {
    let c = Collector::start(&["--interval", "200ms"]);
    let mut sent = 0u64;
    // Every address in 127.1.0.0/16 sends its own templates: far more
    // template scopes than the collector keeps.
    let mut send_from = |n: u32| {
        let a = Ipv4Addr::from(0x7f01_0000 + n);
        let sock = UdpSocket::bind((a, 0)).unwrap();
        let mut ex = synth::Exporter::new(if n.is_multiple_of(2) { 9 } else { 10 }, n, 0);
        sock.send_to(&ex.templates(1_700_000_000_000), c.addr())
            .unwrap();
        sent += 1;
        if n % 64 == 63 {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    for n in 0..8_000 {
        send_from(n);
    }
    let warm = settled_rss(&c);
    for n in 8_000..40_000 {
        send_from(n);
    }
    let after = settled_rss(&c);
    eprintln!("collector RSS: {warm} kB, then {after} kB");
    let (recs, err, ok) = c.stop();
    assert!(ok, "{err:?}");
    let summary = recs.last().unwrap();
    assert_eq!(summary["collector"]["datagrams"], sent);
    assert!(summary["flows"]["scopes_evicted"].as_u64().unwrap() >= 30_000);
    assert!(
        err.iter().any(|l| l.contains("scopes_evicted")),
        "eviction is said on stderr"
    );
    // 32,000 more exporters' templates, kept, would be tens of megabytes.
    assert!(
        after < warm + 6_000,
        "RSS grew from {warm} kB to {after} kB"
    );
}

#[test]
fn the_same_exporters_sending_for_long_keep_memory_flat() {
    let c = Collector::start(&["--interval", "100ms", "--window", "500ms"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seq = 0u32;
    let mut send = |rounds: u32| {
        for _ in 0..rounds {
            // 30 fresh attempts to public addresses per datagram.
            let recs: Vec<FlowRec> = (0..30u32)
                .map(|i| {
                    let n = seq.wrapping_mul(30).wrapping_add(i);
                    tcp(
                        IpAddr::V4(Ipv4Addr::new(10, 0, 0, (n % 8) as u8)),
                        1_024 + (n % 60_000) as u16,
                        IpAddr::V4(Ipv4Addr::from(0xc633_6400 + (n % 256))),
                        [4444, 443, 8088][(n % 3) as usize],
                        u64::from(n),
                        0x02,
                    )
                })
                .collect();
            let d = synth::netflow_v5(1_700_000_000_000, 1_699_999_000_000, seq, &recs);
            sock.send_to(&d, c.addr()).unwrap();
            seq += 1;
            // About 25,000 attempts a second: the window (half a second)
            // holds a small part of each phase.
            if seq.is_multiple_of(32) {
                std::thread::sleep(Duration::from_millis(40));
            }
        }
    };
    send(2_000);
    let warm = settled_rss(&c);
    // Five times as long again at the same rate: 300,000 more attempts,
    // about 150 MB if the window kept them.
    send(10_000);
    let after = settled_rss(&c);
    eprintln!("collector RSS: {warm} kB, then {after} kB");
    let (recs, err, ok) = c.stop();
    assert!(ok, "{err:?}");
    let summary = recs.last().unwrap();
    let total = summary["collector"]["attempts_total"].as_u64().unwrap();
    assert!(total >= 300_000, "attempts_total {total}");
    assert!(
        summary["attempts"].as_u64().unwrap() < total / 2,
        "the window forgot old attempts: {summary}"
    );
    assert!(
        after < warm + 30_000,
        "RSS grew from {warm} kB to {after} kB"
    );
}

#[test]
fn bad_datagrams_are_warned_about_with_exporter_and_counted() {
    let c = Collector::start(&["--interval", "100ms"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Unknown version, a cut v9 header, a v5 header claiming 20 records
    // with none, then one good v5 datagram.
    for d in [
        vec![
            0u8, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        vec![0u8, 9, 0, 1],
        {
            let mut v = synth::netflow_v5(1_700_000_000_000, 0, 0, &[]);
            v[3] = 20;
            v
        },
    ] {
        sock.send_to(&d, c.addr()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    let (recs, err, ok) = c.stop();
    assert!(ok);
    let summary = recs.last().unwrap();
    assert_eq!(summary["collector"]["datagrams"], 3);
    assert_eq!(summary["flows"]["bad_messages"], 3, "{summary}");
    let port = sock.local_addr().unwrap().port();
    let named: Vec<&String> = err
        .iter()
        .filter(|l| l.contains(&format!("127.0.0.1:{port}")) && l.contains("datagram"))
        .collect();
    assert_eq!(named.len(), 3, "{err:?}");
}

/// A v5 datagram of `n` SYNs from 198.51.100.7 to 203.0.113.9:4444.
fn syns(seq: u32, n: u32) -> Vec<u8> {
    let recs: Vec<FlowRec> = (0..n)
        .map(|i| {
            let n = seq * 100 + i;
            tcp(host(), 40_000 + n as u16, c2(), 4444, u64::from(n), 0x02)
        })
        .collect();
    synth::netflow_v5(1_700_000_000_000, 1_699_999_000_000, seq, &recs)
}

#[test]
fn every_attempt_of_a_finding_is_in_some_line_before_the_window_forgets_it() {
    let c = Collector::start(&["--interval", "200ms", "--window", "1s"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&syns(0, 1), c.addr()).unwrap();
    let first = c.next_record(Duration::from_secs(20)).expect("the finding");
    assert_eq!(first["count"], 1);
    // More of the same: not a change worth a line mid-run...
    sock.send_to(&syns(1, 20), c.addr()).unwrap();
    // ...but written before the window forgets them: the first line had
    // the first attempt, this one the twenty after it.
    let rest = c
        .next_record(Duration::from_secs(20))
        .expect("a line with the rest");
    assert_eq!(rest["type"], "finding");
    assert_eq!(rest["count"], 20, "{rest}");
    let (recs, _, ok) = c.stop();
    assert!(ok);
    assert_eq!(recs.len(), 1, "only the summary after: {recs:?}");
    assert_eq!(recs[0]["collector"]["findings_written"], 2);
}

#[test]
fn a_window_shorter_than_two_intervals_is_refused() {
    let out = common::portent(&[
        "collect",
        "--listen",
        "127.0.0.1:0",
        "--window",
        "1s",
        "--interval",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--window (1s) must be at least twice --interval (2s)"),
        "{err}"
    );
}

#[test]
fn data_whose_template_never_came_is_counted_and_said_on_stop() {
    let c = Collector::start(&["--interval", "100ms"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut ex = synth::Exporter::new(9, 3, 1_699_999_000_000);
    let _templates_never_sent = ex.templates(1_700_000_000_000);
    let rec = tcp(host(), 40_000, c2(), 4444, 0, 0x02);
    sock.send_to(&ex.data(1_700_000_000_000, &[rec]), c.addr())
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let (recs, err, ok) = c.stop();
    assert!(ok);
    let summary = recs.last().unwrap();
    assert_eq!(summary["flows"]["data_without_template"], 1, "{summary}");
    assert!(
        err.iter().any(|l| l.contains("never got their template")),
        "{err:?}"
    );
}

/// A SYN record that saw an answer, taken alone after the pair hold, from
/// the datagram of an unanswered SYN already written.
#[test]
fn an_answered_record_taken_after_the_pair_hold_is_in_some_line() {
    // Window 4 s: the pair hold is 2 s, ten intervals.
    let c = Collector::start(&["--interval", "200ms", "--window", "4s"]);
    let rec = |i: u16, flags: u8| tcp(host(), 40_000 + i, c2(), 4444, u64::from(i), flags);
    let d = synth::netflow_v5(
        1_700_000_000_000,
        1_699_999_000_000,
        0,
        &[rec(0, 0x12), rec(1, 0x02)],
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&d, c.addr()).unwrap();
    let first = c.next_record(Duration::from_secs(20)).expect("the finding");
    assert_eq!(first["count"], 1, "{first}");
    // Past the pair hold the answered record is taken alone, then SIGTERM.
    std::thread::sleep(Duration::from_secs(3));
    let (recs, _, ok) = c.stop();
    assert!(ok);
    let summary = recs.last().unwrap();
    assert_eq!(summary["attempts"], 2, "both in the window: {summary}");
    assert!(
        recs.iter()
            .any(|r| r["type"] == "finding" && r["count"] == 2),
        "the answered attempt is in no line: first {first}, then {recs:?}"
    );
}
