//! Reading inputs: every container variant gives the same attempts, and bad
//! input is reported with file and offset, counted, and never stops the run.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use portent::decode::{linktype, TCP_ACK, TCP_SYN};
use portent::testkit::synth::{self, CaptureFormat, CaptureWriter};
use portent::time::Ts;
use serde_json::Value;

const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

/// A small known traffic mix: attempts to a C2 port (one retransmitted, one
/// answered), to a private address, IPv6, and non-handshake packets.
fn traffic() -> Vec<(Ts, Vec<u8>)> {
    let sa = |s: &str| s.parse().unwrap();
    let mut p = Vec::new();
    let mut at = |ms: i64, ip: Vec<u8>| p.push((Ts(T0 * 1_000_000_000 + ms * 1_000_000 + 123), ip));
    at(
        0,
        synth::tcp_packet(sa("10.0.0.5:50000"), sa("203.0.113.9:4444"), 100, TCP_SYN),
    );
    at(
        1000,
        synth::tcp_packet(sa("10.0.0.5:50000"), sa("203.0.113.9:4444"), 100, TCP_SYN),
    );
    at(
        1500,
        synth::tcp_packet(sa("10.0.0.5:50001"), sa("198.51.100.7:443"), 5, TCP_SYN),
    );
    at(
        1520,
        synth::tcp_packet(
            sa("198.51.100.7:443"),
            sa("10.0.0.5:50001"),
            9,
            TCP_SYN | TCP_ACK,
        ),
    );
    at(
        1540,
        synth::tcp_packet(sa("10.0.0.5:50001"), sa("198.51.100.7:443"), 6, TCP_ACK),
    );
    at(
        2000,
        synth::tcp_packet(sa("10.0.0.5:50002"), sa("192.168.1.1:8088"), 1, TCP_SYN),
    );
    at(
        2500,
        synth::udp_packet(sa("10.0.0.5:5353"), sa("198.51.100.53:53"), b"dns?"),
    );
    at(
        3000,
        synth::tcp_packet(
            sa("[2001:db8::5]:40000"),
            sa("[2001:db8:1::9]:9001"),
            77,
            TCP_SYN,
        ),
    );
    at(
        3010,
        synth::tcp_packet(
            sa("[2001:db8:1::9]:9001"),
            sa("[2001:db8::5]:40000"),
            3,
            TCP_SYN | TCP_ACK,
        ),
    );
    p
}

fn write_capture(path: &Path, format: CaptureFormat) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = CaptureWriter::new(std::io::BufWriter::new(f), format, linktype::ETHERNET).unwrap();
    for (ts, ip) in traffic() {
        w.packet(ts, &synth::ethernet_ip(&ip)).unwrap();
    }
    w.finish().unwrap();
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Attempts as comparable tuples (input path left out).
fn attempts(recs: &[Value]) -> Vec<String> {
    common::of_type(recs, "attempt")
        .iter()
        .map(|a| {
            format!(
                "{} {}:{} -> {}:{} answered={} retx={} frame={}",
                a["ts"],
                a["src"],
                a["sport"],
                a["dst"],
                a["dport"],
                a["answered"],
                a["retransmits"],
                a["frame"]
            )
        })
        .collect()
}

fn summary(recs: &[Value]) -> &Value {
    recs.last()
        .filter(|r| r["type"] == "summary")
        .expect("summary is the last record")
}

#[test]
fn every_container_variant_gives_the_same_attempts() {
    let dir = tmp();
    let variants = [
        (
            "le-us.pcap",
            CaptureFormat::Pcap {
                big_endian: false,
                nanos: false,
            },
        ),
        (
            "be-us.pcap",
            CaptureFormat::Pcap {
                big_endian: true,
                nanos: false,
            },
        ),
        (
            "le-ns.pcap",
            CaptureFormat::Pcap {
                big_endian: false,
                nanos: true,
            },
        ),
        (
            "be-ns.pcap",
            CaptureFormat::Pcap {
                big_endian: true,
                nanos: true,
            },
        ),
        (
            "le6.pcapng",
            CaptureFormat::Pcapng {
                big_endian: false,
                tsresol: 6,
            },
        ),
        (
            "be9.pcapng",
            CaptureFormat::Pcapng {
                big_endian: true,
                tsresol: 9,
            },
        ),
    ];
    let mut results = Vec::new();
    for (name, fmt) in variants {
        let p = dir.path().join(name);
        write_capture(&p, fmt);
        let (recs, out) = common::jsonl(&["conns", "-q", "-f", "jsonl", &s(&p)]);
        assert!(out.status.success(), "{name}: {:?}", out);
        results.push((name, attempts(&recs)));
    }
    let (first_name, first) = &results[0];
    assert_eq!(first.len(), 4, "{first:#?}");
    assert!(
        first[0].contains("203.0.113.9\":4444") && first[0].contains("retx=1"),
        "{first:#?}"
    );
    assert!(first[1].contains("answered=true"), "{first:#?}");
    assert!(
        first[0].contains("09:00:00.000000Z"),
        "microsecond stamps: {first:#?}"
    );
    for (name, r) in &results[1..] {
        // Nanosecond files keep the 123 ns the traffic has; compare at µs.
        let norm =
            |v: &Vec<String>| -> Vec<String> { v.iter().map(|l| l.replace("123Z", "Z")).collect() };
        assert_eq!(norm(r), norm(first), "{name} differs from {first_name}");
    }
    let ns = &results.iter().find(|(n, _)| *n == "be9.pcapng").unwrap().1;
    assert!(
        ns[0].contains("09:00:00.000000123Z"),
        "nanosecond pcapng keeps ns: {ns:#?}"
    );
}

#[test]
fn pcapng_interfaces_keep_their_own_link_type_and_resolution() {
    let dir = tmp();
    let p = dir.path().join("multi.pcapng");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = CaptureWriter::new(
        f,
        CaptureFormat::Pcapng {
            big_endian: false,
            tsresol: 9,
        },
        linktype::ETHERNET,
    )
    .unwrap();
    let raw = w.add_interface(linktype::RAW).unwrap();
    let ip = synth::tcp_packet(
        "10.1.1.1:1000".parse().unwrap(),
        "192.0.2.1:1337".parse().unwrap(),
        1,
        TCP_SYN,
    );
    let ip2 = synth::tcp_packet(
        "10.1.1.1:1001".parse().unwrap(),
        "192.0.2.1:4444".parse().unwrap(),
        1,
        TCP_SYN,
    );
    w.packet_on(0, Ts(T0 * 1_000_000_000), &synth::ethernet_ip(&ip))
        .unwrap();
    w.packet_on(raw, Ts(T0 * 1_000_000_000 + 5), &ip2).unwrap();
    w.finish().unwrap();
    let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", &s(&p)]);
    let a = attempts(&recs);
    assert_eq!(a.len(), 2, "{a:#?}");
    assert!(
        a[1].contains("4444") && a[1].contains(".000000005Z"),
        "{a:#?}"
    );
}

#[test]
fn gzip_and_stdin_and_directories() {
    let dir = tmp();
    let plain = dir.path().join("a.pcap");
    write_capture(
        &plain,
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
    );
    let bytes = std::fs::read(&plain).unwrap();
    let gz = dir.path().join("b.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a capture").unwrap();

    let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", &s(&plain)]);
    let want = attempts(&recs);
    let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", &s(&gz)]);
    assert_eq!(attempts(&recs), want, "gzip");

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(["conns", "-q", "-f", "jsonl", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(attempts(&recs), want, "stdin");
    assert_eq!(common::of_type(&recs, "attempt")[0]["input"], "-");

    // A directory: both captures read, the text file noted, not an error.
    // The two files hold the same SYNs, which fold into the same attempts.
    let (recs, out) = common::jsonl(&["conns", "-q", "-f", "jsonl", &s(dir.path())]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(attempts(&recs).len(), want.len());
    let sum = summary(&recs);
    assert_eq!(sum["syns"], 10);
    assert_eq!(sum["inputs"], 3);
    assert_eq!(sum["skipped"]["not_a_capture"], 1);
    assert_eq!(sum["inputs_unreadable"], 0);
}

/// Runs `conns` on `files`, returning records, stderr and exit code.
fn run(files: &[&PathBuf]) -> (Vec<Value>, String, i32) {
    let mut args = vec!["conns".to_string(), "-f".into(), "jsonl".into()];
    args.extend(files.iter().map(|p| s(p)));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (recs, out) = common::jsonl(&argv);
    (
        recs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn per_input<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    summary(recs)["per_input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["input"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no per_input entry for {name}"))
}

#[test]
fn bad_pcap_records_are_counted_named_and_skipped() {
    let dir = tmp();
    let good = dir.path().join("good.pcap");
    write_capture(
        &good,
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
    );
    let bytes = std::fs::read(&good).unwrap();
    // Record offsets: 24-byte header, then 16-byte record headers.
    let mut offs = vec![24usize];
    while let Some(&o) = offs.last() {
        let cap = u32::from_le_bytes(bytes[o + 8..o + 12].try_into().unwrap()) as usize;
        if o + 16 + cap >= bytes.len() {
            break;
        }
        offs.push(o + 16 + cap);
    }
    assert_eq!(offs.len(), traffic().len());

    // 1. The file cut in the middle of its last record.
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    // 2. An absurd captured length in record 3: resynchronise at record 4.
    let absurd = dir.path().join("absurd-caplen.pcap");
    let mut b = bytes.clone();
    b[offs[2] + 8..offs[2] + 12].copy_from_slice(&677_000_000u32.to_le_bytes());
    std::fs::write(&absurd, &b).unwrap();
    // 3. Absurd original lengths on every packet (a real capture does this).
    let origlen = dir.path().join("absurd-origlen.pcap");
    let mut b = bytes.clone();
    for &o in &offs {
        b[o + 12..o + 16].copy_from_slice(&677_000_000u32.to_le_bytes());
    }
    std::fs::write(&origlen, &b).unwrap();
    // 4. Garbage between records 1 and 2.
    let garbage = dir.path().join("garbage.pcap");
    let mut b = bytes[..offs[1]].to_vec();
    b.extend((0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80));
    b.extend_from_slice(&bytes[offs[1]..]);
    std::fs::write(&garbage, &b).unwrap();
    // 5. A valid header and nothing but garbage after it.
    let only_garbage = dir.path().join("only-garbage.pcap");
    let mut b = bytes[..24].to_vec();
    b.extend(std::iter::repeat_n(0xffu8, 100));
    std::fs::write(&only_garbage, &b).unwrap();
    // 6. Unknown link type.
    let unknown = dir.path().join("unknown-linktype.pcap");
    let mut b = bytes.clone();
    b[20..24].copy_from_slice(&4242u32.to_le_bytes());
    std::fs::write(&unknown, &b).unwrap();
    // 7. Header only.
    let header_only = dir.path().join("header-only.pcap");
    std::fs::write(&header_only, &bytes[..24]).unwrap();

    let files = [
        &good,
        &cut,
        &absurd,
        &origlen,
        &garbage,
        &only_garbage,
        &unknown,
        &header_only,
    ];
    let (recs, stderr, code) = run(&files);
    assert_eq!(
        code, 0,
        "bad records are not input errors; stderr: {stderr}"
    );
    let sum = summary(&recs);
    assert_eq!(sum["inputs_unreadable"], 0);

    let r = per_input(&recs, "cut.pcap");
    assert_eq!(r["skipped"]["truncated_record"], 1);
    assert_eq!(r["packets"], traffic().len() as u64 - 1);
    assert!(
        stderr.contains(&format!("cut.pcap: offset {} (frame {})", offs[8], 9)),
        "cut record named by offset and frame: {stderr}"
    );

    let r = per_input(&recs, "absurd-caplen.pcap");
    assert_eq!(r["skipped"]["bad_record_length"], 1);
    assert_eq!(
        r["packets"],
        traffic().len() as u64 - 1,
        "only the bad record is lost"
    );
    assert!(
        stderr.contains(&format!("absurd-caplen.pcap: offset {}", offs[2])),
        "{stderr}"
    );
    assert!(
        stderr.contains("677000000")
            && stderr.contains(&format!("resynchronised at offset {}", offs[3])),
        "{stderr}"
    );

    let r = per_input(&recs, "absurd-origlen.pcap");
    assert_eq!(r["odd_origlen"], traffic().len() as u64);
    assert_eq!(
        r["syns"], 5,
        "packets with absurd original lengths are still decoded"
    );

    let r = per_input(&recs, "garbage.pcap");
    assert_eq!(r["skipped"]["bad_record_length"], 1);
    assert_eq!(
        r["packets"],
        traffic().len() as u64,
        "every real record found after the garbage"
    );

    let r = per_input(&recs, "only-garbage.pcap");
    assert_eq!(r["skipped"]["bad_record_length"], 1);
    assert_eq!(r["packets"], 0);
    assert!(
        stderr.contains("only-garbage.pcap: offset 24")
            && stderr.contains("no valid record follows"),
        "{stderr}"
    );

    let r = per_input(&recs, "unknown-linktype.pcap");
    assert_eq!(r["skipped"]["unknown_linktype"], traffic().len() as u64);
    assert!(stderr.contains("link type 4242 is not decoded"), "{stderr}");

    let r = per_input(&recs, "header-only.pcap");
    assert_eq!(
        (r["packets"].as_u64(), r["error"].is_null()),
        (Some(0), true)
    );

    // The good file's attempts are all there, once per file that kept them.
    let good_attempts = common::of_type(&recs, "attempt")
        .iter()
        .filter(|a| a["input"].as_str().unwrap().ends_with("/good.pcap"))
        .count();
    assert_eq!(good_attempts, 4);
}

#[test]
fn unreadable_inputs_exit_2_but_the_rest_is_processed() {
    let dir = tmp();
    let good = dir.path().join("good.pcap");
    write_capture(
        &good,
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
    );
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.pcap");
    std::fs::write(&text, b"GET / HTTP/1.1\r\n").unwrap();
    let short = dir.path().join("short.pcap");
    std::fs::write(&short, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).unwrap();
    let missing = dir.path().join("missing.pcap");
    let (recs, stderr, code) = run(&[&good, &empty, &text, &short, &missing]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        common::of_type(&recs, "attempt").len(),
        4,
        "the good input is still reported"
    );
    let sum = summary(&recs);
    assert_eq!(sum["inputs_unreadable"], 4);
    assert!(stderr.contains("empty.pcap: empty input"), "{stderr}");
    assert!(
        stderr
            .contains("notes.pcap: offset 0: not an input portent reads (first bytes 47 45 54 20"),
        "{stderr}"
    );
    // The error names every kind portent reads, not only captures.
    for kind in ["pcapng", "IPFIX", "Sysmon", "EVTX", "gzip"] {
        assert!(stderr.contains(kind), "{kind} not named: {stderr}");
    }
    assert!(
        stderr.contains("short.pcap: offset 0: pcap file header cut short (6 of 24 bytes)"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.pcap: cannot open"), "{stderr}");
}

#[test]
fn bad_pcapng_blocks_are_counted_and_skipped() {
    let dir = tmp();
    let good = dir.path().join("good.pcapng");
    write_capture(
        &good,
        CaptureFormat::Pcapng {
            big_endian: false,
            tsresol: 6,
        },
    );
    let bytes = std::fs::read(&good).unwrap();
    // SHB (28) + IDB (32), then EPBs.
    let mut offs = vec![60usize];
    while let Some(&o) = offs.last() {
        let len = u32::from_le_bytes(bytes[o + 4..o + 8].try_into().unwrap()) as usize;
        if o + len >= bytes.len() {
            break;
        }
        offs.push(o + len);
    }
    assert_eq!(offs.len(), traffic().len());

    let bad_len = dir.path().join("bad-len.pcapng");
    let mut b = bytes.clone();
    b[offs[1] + 4..offs[1] + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(&bad_len, &b).unwrap();
    let bad_iface = dir.path().join("bad-iface.pcapng");
    let mut b = bytes.clone();
    b[offs[0] + 8..offs[0] + 12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(&bad_iface, &b).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();

    let (recs, stderr, code) = run(&[&bad_len, &bad_iface, &cut]);
    assert_eq!(code, 0, "{stderr}");
    let r = per_input(&recs, "bad-len.pcapng");
    assert_eq!(r["skipped"]["bad_record_length"], 1);
    assert_eq!(r["packets"], traffic().len() as u64 - 1);
    assert!(
        stderr.contains(&format!("bad-len.pcapng: offset {}", offs[1])),
        "{stderr}"
    );
    let r = per_input(&recs, "bad-iface.pcapng");
    assert_eq!(r["skipped"]["unknown_interface"], 1);
    assert!(
        stderr.contains("packet on interface 7, but the section declares 1"),
        "{stderr}"
    );
    let r = per_input(&recs, "cut.pcapng");
    assert_eq!(r["skipped"]["truncated_record"], 1);
    assert_eq!(r["packets"], traffic().len() as u64 - 1);
}

/// Deterministic mutation of valid captures: no input may panic the reader.
#[test]
fn mutated_captures_never_panic() {
    let mut seeds = Vec::new();
    for fmt in [
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        CaptureFormat::Pcapng {
            big_endian: true,
            tsresol: 9,
        },
    ] {
        let mut w = CaptureWriter::new(Vec::new(), fmt, linktype::ETHERNET).unwrap();
        for (ts, ip) in traffic() {
            w.packet(ts, &synth::ethernet_ip(&ip)).unwrap();
        }
        seeds.push(w.finish().unwrap());
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut packets = 0u64;
    for seed in &seeds {
        for len in 0..seed.len() {
            let _ = portent::source::capture::read_capture("t", &seed[..len], 0, &|_| {});
        }
        for _ in 0..3000 {
            let mut b = seed.clone();
            for _ in 0..1 + rnd() % 8 {
                let i = (rnd() as usize) % b.len();
                b[i] = rnd() as u8;
            }
            if let Ok(out) = portent::source::capture::read_capture("t", &b, 0, &|_| {}) {
                packets += out.stats.packets;
            }
        }
    }
    assert!(packets > 0, "mutated files still yield packets");
}

/// Large files are read in parallel chunks; the result must be exactly what
/// one sequential walk gives — on good files and on damaged ones.
#[test]
fn chunked_reading_equals_sequential_reading() {
    use portent::source::capture::read_capture_chunked;
    let mut seeds = Vec::new();
    for fmt in [
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        CaptureFormat::Pcapng {
            big_endian: false,
            tsresol: 6,
        },
        CaptureFormat::Pcapng {
            big_endian: true,
            tsresol: 9,
        },
    ] {
        let mut w = CaptureWriter::new(Vec::new(), fmt, linktype::ETHERNET).unwrap();
        for i in 0..60i64 {
            for (ts, ip) in traffic() {
                let mut frame = synth::ethernet_ip(&ip);
                frame.extend(std::iter::repeat_n(0u8, (i as usize * 7) % 40));
                w.packet(Ts(ts.0 + i * 10_000_000_000), &frame).unwrap();
            }
        }
        seeds.push(w.finish().unwrap());
    }
    let key = |o: &portent::source::walk::CaptureOutput| {
        (
            o.signals.clone(),
            o.stats.clone(),
            o.warnings.kept.clone(),
            o.conns.conns.clone(),
            o.conns.stats,
        )
    };
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut chunked_runs = 0;
    for seed in &seeds {
        for round in 0..150 {
            let mut b = seed.clone();
            if round > 0 {
                for _ in 0..1 + rnd() % 4 {
                    let i = (rnd() as usize) % b.len();
                    b[i] = rnd() as u8;
                }
            }
            let seq = read_capture_chunked("t", &b, 0, &|_| {}, usize::MAX);
            for chunk in [1500, 4096, 10_000] {
                let par = read_capture_chunked("t", &b, 0, &|_| {}, chunk);
                match (&seq, &par) {
                    (Ok(s), Ok(p)) => {
                        assert_eq!(key(s), key(p), "round {round}, chunk {chunk}");
                        chunked_runs += 1;
                    }
                    (Err(s), Err(p)) => assert_eq!(s.to_string(), p.to_string()),
                    _ => panic!("round {round}: one read failed, the other did not"),
                }
            }
        }
        let par = read_capture_chunked("t", seed, 0, &|_| {}, 4096).unwrap();
        assert!(
            par.chunks > 4,
            "the undamaged file is read in chunks: {}",
            par.chunks
        );
        let whole = read_capture_chunked("t", seed, 0, &|_| {}, usize::MAX).unwrap();
        assert_eq!(whole.chunks, 1);
        assert!(
            whole.conns.conns.len() >= traffic().len() / 4,
            "connections tracked"
        );
        assert_eq!(whole.stats.packets, 60 * traffic().len() as u64);
        assert_eq!(
            whole.signals.last().unwrap().origin.frame,
            whole.stats.packets
        );
    }
    assert!(chunked_runs > 1000);
}

/// A .gz cut short still gives the packets before the cut, with a warning.
#[test]
fn cut_gzip_keeps_what_decompressed() {
    let dir = tmp();
    let mut w = CaptureWriter::new(
        Vec::new(),
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        linktype::ETHERNET,
    )
    .unwrap();
    for i in 0..400i64 {
        for (ts, ip) in traffic() {
            w.packet(Ts(ts.0 + i * 10_000_000_000), &synth::ethernet_ip(&ip))
                .unwrap();
        }
    }
    let bytes = w.finish().unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    enc.write_all(&bytes).unwrap();
    let gz = enc.finish().unwrap();
    let cut = dir.path().join("cut.pcap.gz");
    std::fs::write(&cut, &gz[..gz.len() * 6 / 10]).unwrap();
    let (recs, stderr, code) = run(&[&cut]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("cut.pcap.gz") && stderr.contains("gzip stream broken after"),
        "{stderr}"
    );
    let r = per_input(&recs, "cut.pcap.gz");
    let packets = r["packets"].as_u64().unwrap();
    let total = 400 * traffic().len() as u64;
    assert!(
        packets > total / 2 && packets < total,
        "{packets} of {total}"
    );
    assert_eq!(r["skipped"]["truncated_record"], 1);
}

/// A zip archive's files are inputs of their own; a broken archive is an
/// error that names it, and the other inputs are still read.
#[test]
fn zip_archives_are_opened_and_broken_ones_named() {
    use std::io::Write as _;
    let dir = tmp();
    let good = dir.path().join("evidence.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&good).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut pcap = Vec::new();
    {
        let mut w = CaptureWriter::new(
            &mut pcap,
            CaptureFormat::Pcap {
                big_endian: false,
                nanos: false,
            },
            linktype::ETHERNET,
        )
        .unwrap();
        for (ts, ip) in traffic() {
            w.packet(ts, &synth::ethernet_ip(&ip)).unwrap();
        }
        w.finish().unwrap();
    }
    z.start_file("captures/one.pcap", opts).unwrap();
    z.write_all(&pcap).unwrap();
    z.add_directory("empty/", opts).unwrap();
    z.finish().unwrap();
    let broken = dir.path().join("broken.zip");
    std::fs::write(&broken, b"PK\x03\x04 not really a zip archive").unwrap();
    let (recs, stderr, code) = run(&[&good, &broken]);
    assert_eq!(code, 2, "{stderr}");
    let attempts = common::of_type(&recs, "attempt");
    assert_eq!(attempts.len(), 4, "{stderr}");
    assert!(
        attempts[0]["input"]
            .as_str()
            .unwrap()
            .ends_with("evidence.zip!captures/one.pcap"),
        "{:?}",
        attempts[0]
    );
    assert!(stderr.contains("broken.zip: zip archive:"), "{stderr}");
}

/// A connection whose client opens a TLS record that is no readable
/// handshake (an absurd length, then garbage) is counted and warned about
/// with the offset of its bytes; the run goes on and the attempt is there.
#[test]
fn an_unreadable_tls_handshake_is_counted_and_named() {
    let dir = tmp();
    let path = dir.path().join("bad-tls.pcap");
    let sa = |s: &str| s.parse().unwrap();
    let (c, s) = (sa("10.0.0.5:50500"), sa("203.0.113.9:4041"));
    let mut bad = vec![0x16, 0x03, 0x01, 0xff, 0xf0, 0x01, 0x00, 0xff, 0xff];
    bad.extend(std::iter::repeat_n(0x41u8, 200));
    let packets = [
        synth::tcp_packet(c, s, 100, TCP_SYN),
        synth::tcp_packet(s, c, 900, TCP_SYN | TCP_ACK),
        synth::tcp_packet(c, s, 101, TCP_ACK),
        synth::tcp_packet_with_payload(c, s, 101, TCP_ACK | 0x08, &bad),
    ];
    let mut w = CaptureWriter::new(
        std::fs::File::create(&path).unwrap(),
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        linktype::ETHERNET,
    )
    .unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.packet(
            Ts(T0 * 1_000_000_000 + i as i64 * 1_000_000),
            &synth::ethernet_ip(p),
        )
        .unwrap();
    }
    w.finish().unwrap();
    let (recs, stderr, code) = run(&[&path]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        summary(&recs)["connections"]["unreadable_tls"],
        1,
        "{stderr}"
    );
    let data = std::fs::read(&path).unwrap();
    let at = data.windows(bad.len()).position(|w| w == bad).unwrap();
    assert!(
        stderr.contains(&format!("offset {at}: connection 10.0.0.5:50500 -> 203.0.113.9:4041: the client opens a TLS handshake")),
        "{stderr}"
    );
    let a = common::of_type(&recs, "attempt");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["service"], "unknown", "{}", a[0]);
}
