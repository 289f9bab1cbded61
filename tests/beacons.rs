//! Beacon detection end to end: the samples' beacons, generated captures of
//! a jittered timer and of random traffic, rotation across destinations,
//! and the real captures in `../shared/data/c2-malware`.

mod common;

use std::path::Path;

use portent::decode::{linktype, TCP_SYN};
use portent::testkit::synth::{self, CaptureFormat, CaptureWriter};
use portent::time::Ts;
use serde_json::Value;

const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

fn samples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
}

fn scan(args: &[&str]) -> Vec<Value> {
    let mut a = vec!["scan", "-q", "-f", "jsonl"];
    a.extend_from_slice(args);
    let (recs, out) = common::jsonl(&a);
    assert!(out.status.code().unwrap_or(9) < 2, "{out:?}");
    recs
}

/// SplitMix64, so generated series are the same on every run.
use portent::testkit::synth::SplitMix64 as Rng;

/// Writes one SYN from `src` to each (time in seconds, destination).
fn write_syns(path: &Path, src: &str, syns: &[(f64, String)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = CaptureWriter::new(
        f,
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: true,
        },
        linktype::ETHERNET,
    )
    .unwrap();
    for (i, (t, dst)) in syns.iter().enumerate() {
        let src = format!("{src}:{}", 40000 + i);
        let ip = synth::tcp_packet(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            i as u32,
            TCP_SYN,
        );
        let ts = Ts(T0 * 1_000_000_000 + (t * 1e9) as i64);
        w.packet(ts, &synth::ethernet_ip(&ip)).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn sample_beacons_are_found_with_their_period_and_nothing_else() {
    let b = scan(&[samples().join("beacon-9001.pcapng").to_str().unwrap()]);
    let beacons = common::of_type(&b, "beacon");
    assert_eq!(beacons.len(), 1, "{beacons:?}");
    let x = beacons[0];
    assert_eq!(x["src"], "10.20.30.40");
    assert_eq!(x["dst"], "198.51.100.77");
    assert_eq!(x["dport"], 9001);
    assert_eq!(x["count"], 10);
    assert_eq!(x["known_c2_port"], true);
    let p = x["period_s"].as_f64().unwrap();
    assert!((58.0..62.0).contains(&p), "period {p}");
    assert!(x["reason"].as_str().unwrap().contains("10 beats"));
    // Folded into the findings: a beacon to a known C2 port is High.
    let f = common::of_type(&b, "finding");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "High");
    assert_eq!(f[0]["risk_score"], 1);
    assert_eq!(f[0]["beacon"], true);

    let l = scan(&[samples().join("linux-8088.pcap.gz").to_str().unwrap()]);
    let beacons = common::of_type(&l, "beacon");
    assert_eq!(beacons.len(), 1);
    assert_eq!(beacons[0]["dport"], 8088);
    let p = beacons[0]["period_s"].as_f64().unwrap();
    assert!((29.0..31.0).contains(&p), "period {p}");

    for other in ["windows-4444.pcap", "rdp-33890.pcapng"] {
        let r = scan(&[samples().join(other).to_str().unwrap()]);
        assert!(common::of_type(&r, "beacon").is_empty(), "{other}");
        let s = common::of_type(&r, "summary")[0];
        assert_eq!(s["beacons"]["beacons"], 0);
    }
}

#[test]
fn jittered_timer_with_missed_beats_is_found_random_traffic_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Rng(42);
    // A 60 s timer with ±50 % jitter and 20 % of beats missed, for an hour,
    // to 443 (not a C2 port: a beacon record, no finding).
    let mut timer = Vec::new();
    let mut t = 0.0;
    while t < 3600.0 {
        if r.unit() >= 0.2 {
            timer.push((t, "203.0.113.50:443".to_string()));
        }
        t += 60.0 * (1.0 + 0.5 * (2.0 * r.unit() - 1.0));
    }
    // Poisson arrivals at the same mean rate from another host.
    let mut random = Vec::new();
    let mut t = 0.0;
    loop {
        t += -75.0 * (1.0 - r.unit()).ln();
        if t >= 3600.0 {
            break;
        }
        random.push((t, "198.51.100.60:443".to_string()));
    }
    let a = dir.path().join("timer.pcap");
    let b = dir.path().join("random.pcap");
    write_syns(&a, "10.1.1.1", &timer);
    write_syns(&b, "10.1.1.2", &random);
    let recs = scan(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    let beacons = common::of_type(&recs, "beacon");
    assert_eq!(beacons.len(), 1, "{beacons:#?}");
    assert_eq!(beacons[0]["src"], "10.1.1.1");
    assert_eq!(beacons[0]["known_c2_port"], false);
    let p = beacons[0]["period_s"].as_f64().unwrap();
    assert!((54.0..66.0).contains(&p), "period {p}");
    let missed = beacons[0]["missed"].as_f64().unwrap();
    assert!((0.05..0.4).contains(&missed), "missed {missed}");
    assert!(common::of_type(&recs, "finding").is_empty());
    let s = common::of_type(&recs, "summary")[0];
    assert_eq!(s["beacons"]["series_tested"], 2);
    // The histogram accounts for every gap.
    let gaps: u64 = beacons[0]["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(gaps + 1, beacons[0]["beats"].as_u64().unwrap());
}

#[test]
fn rotating_destinations_are_one_beacon_across_destinations() {
    let dir = tempfile::tempdir().unwrap();
    // Every 30 s to one of five addresses in turn, on 8443: no address gets
    // enough beats on its own.
    let syns: Vec<(f64, String)> = (0..25)
        .map(|i| (f64::from(i) * 30.0, format!("192.0.2.{}:8443", 10 + i % 5)))
        .collect();
    let p = dir.path().join("rotate.pcap");
    write_syns(&p, "10.2.2.2", &syns);
    let recs = scan(&[p.to_str().unwrap()]);
    let beacons = common::of_type(&recs, "beacon");
    assert_eq!(beacons.len(), 1, "{beacons:#?}");
    assert_eq!(beacons[0]["across_destinations"], true);
    assert_eq!(beacons[0]["dst"], Value::Null);
    assert_eq!(beacons[0]["dsts"].as_array().unwrap().len(), 5);
    let period = beacons[0]["period_s"].as_f64().unwrap();
    assert!((period - 30.0).abs() < 0.5, "{period}");
}

#[test]
fn min_beats_option_is_honoured() {
    let b = samples().join("linux-8088.pcap.gz");
    let recs = scan(&["--beacon-min-beats", "13", b.to_str().unwrap()]);
    assert!(common::of_type(&recs, "beacon").is_empty());
    let s = common::of_type(&recs, "summary")[0];
    assert_eq!(s["beacons"]["series_tested"], 0);
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn real_c2_captures() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("c2-malware");
    // The RAT calls 172.16.0.111:4433: two connections at once, a 74 s
    // pause, five calls exactly 10.0 s apart, and one 4.2 s later. The
    // series is tested, and the five regular gaps are there, but seven
    // beats with a pause and an off-beat end do not reach the 1-in-10,000
    // threshold for six gaps (docs/BEACONS.md), so no beacon is reported.
    let rat = dir.join("chrissanders-packets/ratinfected.pcapng");
    let recs = scan(&["--include-private", rat.to_str().unwrap()]);
    let s = common::of_type(&recs, "summary")[0];
    assert_eq!(s["beacons"]["series_tested"], 1);
    assert!(common::of_type(&recs, "beacon").is_empty());
    let (conns, _) = common::jsonl(&[
        "conns",
        "-q",
        "-f",
        "jsonl",
        "--include-private",
        rat.to_str().unwrap(),
    ]);
    let times: Vec<f64> = common::of_type(&conns, "attempt")
        .iter()
        .filter(|a| a["dport"] == 4433)
        .map(|a| {
            let ts = a["ts"].as_str().unwrap();
            ts[17..ts.len() - 1].parse::<f64>().unwrap() + 60.0 * ts[14..16].parse::<f64>().unwrap()
        })
        .collect();
    let regular = times
        .windows(2)
        .filter(|w| (w[1] - w[0] - 10.0).abs() < 0.1)
        .count();
    assert_eq!(regular, 4, "{times:?}");

    // Single exploit or infection sessions are not beacons, even with
    // private destinations included.
    for f in [
        "malcolm-pcap/eternalromance-doublepulsar-meterpreter.pcap",
        "chrissanders-packets/aurora.pcapng",
        "chrissanders-packets/cryptowall4_c2.pcapng",
        "chrissanders-packets/synscan.pcapng",
        "ndpi-tests/emotet.pcap",
        "ndpi-tests/trickbot.pcap",
        "malcolm-pcap/IRC.pcap",
    ] {
        let p = dir.join(f);
        let recs = scan(&["--include-private", p.to_str().unwrap()]);
        assert!(common::of_type(&recs, "beacon").is_empty(), "{f}");
    }
}

#[test]
fn many_series_give_the_same_beacons_on_one_thread_and_on_four() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Rng(7);
    let mut files = Vec::new();
    // Sixty hosts: every third one on a 45 s timer with ±30 % jitter, the
    // others calling at random at the same mean rate; all over two hours,
    // each to its own destination and to a shared one.
    for h in 0..60u32 {
        let mut syns = Vec::new();
        let mut t = r.unit() * 45.0;
        while t < 7200.0 {
            let dst = if r.unit() < 0.5 { 1 } else { 2 + h };
            syns.push((t, format!("198.51.100.{}:8443", dst % 250)));
            t += if h % 3 == 0 {
                45.0 * (1.0 + 0.3 * (2.0 * r.unit() - 1.0))
            } else {
                -45.0 * (1.0 - r.unit()).ln()
            };
        }
        let p = dir.path().join(format!("h{h}.pcap"));
        write_syns(&p, &format!("10.9.0.{}", h + 1), &syns);
        files.push(p.to_str().unwrap().to_string());
    }
    let run = |threads: &str| {
        let mut args = vec!["-j", threads];
        args.extend(files.iter().map(String::as_str));
        let recs = scan(&args);
        common::of_type(&recs, "beacon")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    let one = run("1");
    assert_eq!(one, run("4"));
    // Every timer host is found (per destination or across both); no random
    // host is.
    let mut srcs: Vec<&str> = one.iter().map(|b| b["src"].as_str().unwrap()).collect();
    srcs.sort_unstable();
    srcs.dedup();
    let mut want: Vec<String> = (0..60)
        .step_by(3)
        .map(|h| format!("10.9.0.{}", h + 1))
        .collect();
    want.sort_unstable();
    assert_eq!(srcs, want, "{one:#?}");
}

/// A beacon whose connections carry a service the port is not registered
/// for says so, and its finding is High: the Linux sample's TLS on 8088.
#[test]
fn a_mismatch_beacon_says_so() {
    let l = scan(&[samples().join("linux-8088.pcap.gz").to_str().unwrap()]);
    let b = common::of_type(&l, "beacon");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["port_mismatch"], true, "{}", b[0]);
    let nine = scan(&[samples().join("beacon-9001.pcapng").to_str().unwrap()]);
    let b = common::of_type(&nine, "beacon");
    // HTTP on 9001 is no service's port either.
    assert_eq!(b[0]["port_mismatch"], true, "{}", b[0]);
    for f in common::of_type(&l, "finding") {
        if f["beacon"] == true {
            assert_eq!(f["severity"], "High");
        }
    }
}
