//! The command line end to end: reports and their formats, several outputs
//! in one run, exit codes, the policy file and the network options.

mod common;

use std::path::Path;

use portent::decode::{linktype, TCP_ACK, TCP_SYN};
use portent::testkit::synth::{self, CaptureFormat, CaptureWriter};
use portent::time::Ts;
use serde_json::Value;

const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

/// Host 10.0.0.5 calls 203.0.113.9:4444 three times and 198.51.100.7:9001
/// once; 10.0.0.6 calls 192.0.2.80:1337 once and 8.8.8.8:443 once; one
/// attempt to a private C2 port; one to a home-net public address.
fn write_fixture(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = CaptureWriter::new(
        f,
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        linktype::ETHERNET,
    )
    .unwrap();
    let mut t = 0i64;
    let mut syn = |w: &mut CaptureWriter<std::fs::File>, src: &str, dst: &str| {
        t += 10;
        let ip = synth::tcp_packet(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            t as u32,
            TCP_SYN,
        );
        w.packet(Ts((T0 + t) * 1_000_000_000), &synth::ethernet_ip(&ip))
            .unwrap();
    };
    syn(&mut w, "10.0.0.5:50000", "203.0.113.9:4444");
    syn(&mut w, "10.0.0.5:50001", "203.0.113.9:4444");
    syn(&mut w, "10.0.0.5:50002", "203.0.113.9:4444");
    syn(&mut w, "10.0.0.5:50003", "198.51.100.7:9001");
    syn(&mut w, "10.0.0.6:50004", "192.0.2.80:1337");
    syn(&mut w, "10.0.0.6:50005", "8.8.8.8:443");
    syn(&mut w, "10.0.0.6:50006", "10.9.9.9:4444");
    syn(&mut w, "10.0.0.6:50007", "198.18.0.1:8088");
    // An answer, so `answered` is exercised.
    let ip = synth::tcp_packet(
        "8.8.8.8:443".parse().unwrap(),
        "10.0.0.6:50005".parse().unwrap(),
        1,
        TCP_SYN | TCP_ACK,
    );
    w.packet(Ts((T0 + 61) * 1_000_000_000), &synth::ethernet_ip(&ip))
        .unwrap();
    w.finish().unwrap();
}

fn fixture() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fixture.pcap");
    write_fixture(&p);
    let s = p.to_str().unwrap().to_string();
    (dir, s)
}

fn findings(recs: &[Value]) -> Vec<&Value> {
    common::of_type(recs, "finding")
}

#[test]
fn scan_groups_by_host_and_orders_by_risk_then_count() {
    let (_d, f) = fixture();
    let (recs, out) = common::jsonl(&["scan", "-f", "jsonl", &f]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings at or above the default --fail-on low"
    );
    let fs = findings(&recs);
    assert_eq!(fs.len(), 2, "{fs:#?}");
    // 10.0.0.5: four attempts on two C2 ports; 10.0.0.6: 1337 and the 8088
    // one to 198.18.0.1 (public in DETECTION.md's terms).
    assert_eq!(fs[0]["host"], "10.0.0.5");
    assert_eq!(fs[0]["count"], 4);
    assert_eq!(fs[0]["ports"], serde_json::json!([4444, 9001]));
    assert_eq!(
        fs[0]["remote_ips"],
        serde_json::json!(["198.51.100.7", "203.0.113.9"])
    );
    assert_eq!(fs[0]["severity"], "Low");
    assert_eq!(fs[0]["risk_score"], 1);
    assert_eq!(
        fs[0]["image"],
        Value::Null,
        "no process context from a capture"
    );
    assert_eq!(fs[0]["first_seen"], "2026-03-02T09:00:10.000000Z");
    assert_eq!(fs[0]["last_seen"], "2026-03-02T09:00:40.000000Z");
    assert_eq!(fs[1]["host"], "10.0.0.6");
    assert_eq!(fs[1]["count"], 2);
    let sum = recs.last().unwrap();
    assert_eq!(sum["type"], "summary");
    assert_eq!(sum["attempts"], 8);
    assert_eq!(sum["answered"], 1);
    assert_eq!(sum["suppressed"]["private_destination"], 1);
    assert_eq!(sum["suppressed_with_tier"]["private_destination"], 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("suppressed: private_destination 1 (1 would score)"),
        "{stderr}"
    );
    assert!(stderr.contains("findings: 2 (2 Low)"), "{stderr}");
}

#[test]
fn fail_on_decides_the_exit_code() {
    let (_d, f) = fixture();
    for (level, code) in [("low", 1), ("medium", 0), ("high", 0), ("never", 0)] {
        let out = common::portent(&["scan", "-q", "-f", "jsonl", "--fail-on", level, &f]);
        assert_eq!(out.status.code(), Some(code), "--fail-on {level}");
    }
}

#[test]
fn several_outputs_in_one_run() {
    let (d, f) = fixture();
    let csv = d.path().join("r.csv");
    let jsonl = d.path().join("r.jsonl");
    let txt = d.path().join("r.txt");
    let out = common::portent(&[
        "scan",
        "-q",
        "-o",
        csv.to_str().unwrap(),
        "-o",
        jsonl.to_str().unwrap(),
        "-o",
        &format!("table:{}", txt.display()),
        &f,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "with -o, stdout gets nothing");
    let csv = std::fs::read_to_string(csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "severity,risk_score,host,image,user,parent_image,ports,remote_ips,count,first_seen,last_seen,kind"
    );
    assert_eq!(
        lines.next().unwrap(),
        "Low,1,10.0.0.5,,,,4444;9001,198.51.100.7;203.0.113.9,4,2026-03-02T09:00:10.000000Z,2026-03-02T09:00:40.000000Z,connections"
    );
    let jl = std::fs::read_to_string(jsonl).unwrap();
    assert_eq!(jl.lines().count(), 3, "two findings and the summary");
    let table = std::fs::read_to_string(txt).unwrap();
    assert!(table.starts_with("SEVERITY  RISK  HOST"), "{table}");
    assert!(
        table.lines().nth(1).unwrap().contains("4444,9001"),
        "{table}"
    );
}

#[test]
fn conns_lists_every_attempt_with_its_verdict() {
    let (_d, f) = fixture();
    let (recs, out) = common::jsonl(&["conns", "-q", "-f", "jsonl", &f]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "conns does not fail on findings"
    );
    let a = common::of_type(&recs, "attempt");
    assert_eq!(a.len(), 8);
    let first = a[0];
    for k in [
        "ts",
        "src",
        "sport",
        "dst",
        "dport",
        "proto",
        "answered",
        "retransmits",
        "input",
        "frame",
    ] {
        assert!(first.get(k).is_some(), "attempt lacks {k}: {first}");
    }
    assert_eq!(first["frame"], 1);
    assert_eq!(first["proto"], "tcp");
    let private = a.iter().find(|r| r["dst"] == "10.9.9.9").unwrap();
    assert_eq!(private["suppressed"], "private_destination");
    assert_eq!(private["tier"], 1);
    let dns = a.iter().find(|r| r["dst"] == "8.8.8.8").unwrap();
    assert_eq!(
        (dns["answered"].as_bool(), dns["tier"].as_u64()),
        (Some(true), Some(0))
    );

    let out = common::portent(&["conns", "-q", "-f", "csv", &f]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 9);
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .starts_with("ts,src,sport,dst,dport,proto,answered,retransmits,input,frame"));
}

#[test]
fn home_net_and_include_private() {
    let (_d, f) = fixture();
    let (recs, _) = common::jsonl(&[
        "scan",
        "-q",
        "-f",
        "jsonl",
        "--home-net",
        "198.18.0.0/15,203.0.113.0/24",
        &f,
    ]);
    let sum = recs.last().unwrap();
    assert_eq!(sum["suppressed"]["home_net_destination"], 4);
    let fs = findings(&recs);
    assert_eq!(fs[0]["host"], "10.0.0.5");
    assert_eq!(fs[0]["count"], 1, "only 9001 is left for 10.0.0.5");

    let (recs, _) = common::jsonl(&["scan", "-q", "-f", "jsonl", "--include-private", &f]);
    let fs = findings(&recs);
    let h6 = fs.iter().find(|f| f["host"] == "10.0.0.6").unwrap();
    assert_eq!(h6["count"], 3, "the private 4444 attempt is now scored");
    assert!(recs.last().unwrap()["suppressed"]
        .as_object()
        .unwrap()
        .is_empty());
}

#[test]
fn policy_file_replaces_lists_and_allows_by_rule() {
    let (d, f) = fixture();
    let policy = d.path().join("p.toml");
    std::fs::write(
        &policy,
        r#"
[ports]
known_c2_add = [443]

[[allow]]
reason = "pen test"
src = ["10.0.0.5/32"]
ports = [4444]
from = "2026-03-02T09:00:00Z"
until = "2026-03-02T09:00:25Z"
"#,
    )
    .unwrap();
    let (recs, out) = common::jsonl(&[
        "scan",
        "-q",
        "-f",
        "jsonl",
        "--policy",
        policy.to_str().unwrap(),
        &f,
    ]);
    assert!(out.status.code() == Some(1), "{out:?}");
    let sum = recs.last().unwrap();
    assert_eq!(
        sum["suppressed"]["allow:pen test"], 2,
        "two of three 4444 attempts fall in the window"
    );
    let fs = findings(&recs);
    let h5 = fs.iter().find(|f| f["host"] == "10.0.0.5").unwrap();
    assert_eq!(h5["count"], 2);
    let h6 = fs.iter().find(|f| f["host"] == "10.0.0.6").unwrap();
    assert_eq!(
        h6["ports"],
        serde_json::json!([443, 1337, 8088]),
        "443 added to the C2 list"
    );

    std::fs::write(&policy, "[ports]\nknown_c2 = [\"x\"]\n").unwrap();
    let out = common::portent(&["scan", "--policy", policy.to_str().unwrap(), &f]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p.toml") && err.contains("known_c2"), "{err}");
}

#[test]
fn default_policy_prints_and_parses() {
    let out = common::portent(&["policy"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let p = portent::policy::Policy::from_toml(&text, "printed").unwrap();
    assert!(p.known_c2.contains(4444) && p.standard.contains(443) && p.is_high_risk("mshta.exe"));
}

#[test]
fn window_groups_per_host_per_window() {
    let (_d, f) = fixture();
    let (recs, _) = common::jsonl(&["scan", "-q", "-f", "jsonl", "--window", "30s", &f]);
    let fs = findings(&recs);
    // 10.0.0.5's attempts at :10, :20 fall in [09:00:00, 09:00:30), those at :30 and :40 in the next.
    let h5: Vec<_> = fs.iter().filter(|f| f["host"] == "10.0.0.5").collect();
    assert_eq!(h5.len(), 2, "{fs:#?}");
    assert!(h5.iter().all(|f| f["count"] == 2));
    assert!(h5
        .iter()
        .any(|f| f["window_start"] == "2026-03-02T09:00:00.000000Z"));
}

#[test]
fn bad_arguments_are_errors_naming_the_flag() {
    let (_d, f) = fixture();
    for (args, needle) in [
        (vec!["scan", "--home-net", "10.0.0.0/40", &f], "--home-net"),
        (vec!["scan", "--window", "soon", &f], "--window"),
        (vec!["scan", "-o", "report", &f], "-o report"),
        (
            vec!["scan", "--retransmit-window", "x", &f],
            "--retransmit-window",
        ),
    ] {
        let out = common::portent(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn broken_pipe_is_not_an_error() {
    let (_d, f) = fixture();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(["conns", "-q", "-f", "jsonl", &f, &f, &f, &f])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(status.code() == Some(0), "{status:?}");
}
