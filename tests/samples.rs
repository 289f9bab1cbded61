//! The bundled samples: the generator makes exactly the committed files,
//! `samples/README.md` shows exactly what portent prints on them, and each
//! file holds the scenario it claims (checked through the JSONL reports).
//!
//! After a deliberate change to the generator, regenerate the files with
//! `cargo run --example gen_samples -- samples/`. After a deliberate change
//! to portent's output, refresh the README's blocks with
//! `PORTENT_BLESS=1 cargo test --test samples` and review the diff.

mod common;

use portent::testkit::samples as gen_samples;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use gen_samples::FILES;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> String {
    root()
        .join("samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs portent from the crate root, as the README's commands are written.
fn portent_in_root(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run portent")
}

// ---------------------------------------------------------------------------
// The files.

#[test]
fn generator_writes_exactly_the_committed_samples() {
    let dir = tempfile::tempdir().unwrap();
    gen_samples::write_all(dir.path()).unwrap();
    for name in FILES {
        let fresh = std::fs::read(dir.path().join(name)).unwrap();
        let committed = std::fs::read(root().join("samples").join(name))
            .unwrap_or_else(|e| panic!("samples/{name}: {e}"));
        if fresh != committed {
            let first = fresh
                .iter()
                .zip(&committed)
                .position(|(a, b)| a != b)
                .unwrap_or(fresh.len().min(committed.len()));
            panic!(
                "samples/{name} ({} bytes) differs from what the generator writes ({} bytes) \
                 from byte {first}; run `cargo run --example gen_samples -- samples/`",
                committed.len(),
                fresh.len()
            );
        }
    }
}

#[test]
fn generator_is_deterministic_within_a_run() {
    // Independent of the committed files: two renderings in one process
    // agree (no time, no hash-order, no unseeded randomness).
    let a = gen_samples::render_all().unwrap();
    let b = gen_samples::render_all().unwrap();
    assert_eq!(a.len(), FILES.len());
    for ((na, ba), (nb, bb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between two renderings");
    }
}

#[test]
fn samples_are_small_and_nothing_else_is_in_the_directory() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    expected.push("README.md".into());
    expected.sort();
    assert_eq!(names, expected);
    for name in FILES {
        let len = std::fs::metadata(root().join("samples").join(name))
            .unwrap()
            .len();
        assert!(len < 50 * 1024, "samples/{name} is {len} bytes");
    }
}

// ---------------------------------------------------------------------------
// The README's blocks.

/// A fenced block of the README preceded by `<!-- output: CMD -->` (stdout
/// of CMD) or `<!-- stderr: CMD -->` (its stderr).
struct Block {
    stderr: bool,
    command: String,
    /// Line numbers (0-based) of the block's content: `start..end`.
    start: usize,
    end: usize,
    text: String,
}

fn readme_path() -> PathBuf {
    root().join("samples/README.md")
}

fn readme_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        let marker = l
            .strip_prefix("<!-- output: ")
            .map(|c| (false, c))
            .or_else(|| l.strip_prefix("<!-- stderr: ").map(|c| (true, c)));
        if let Some((stderr, rest)) = marker {
            let command = rest
                .strip_suffix("-->")
                .unwrap_or_else(|| panic!("README line {}: marker not closed", i + 1))
                .trim()
                .to_string();
            assert_eq!(
                lines.get(i + 1).map(|l| l.trim_end()),
                Some("```text"),
                "README line {}: a ```text block must follow the marker",
                i + 2
            );
            let start = i + 2;
            let end = (start..lines.len())
                .find(|&j| lines[j].trim_end() == "```")
                .unwrap_or_else(|| panic!("README line {}: block not closed", i + 2));
            let text: String = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
            blocks.push(Block {
                stderr,
                command,
                start,
                end,
                text,
            });
            i = end;
        }
        i += 1;
    }
    blocks
}

#[test]
fn readme_blocks_are_what_portent_prints() {
    let readme = std::fs::read_to_string(readme_path()).unwrap();
    let blocks = readme_blocks(&readme);

    // Every sample and the whole directory have their table.
    let mut want: Vec<String> = FILES
        .iter()
        .map(|f| format!("portent scan -f table -q samples/{f}"))
        .collect();
    want.push("portent scan -f table -q samples/".into());
    for w in &want {
        assert!(
            blocks.iter().any(|b| !b.stderr && &b.command == w),
            "samples/README.md has no block for `{w}`"
        );
    }
    for f in FILES {
        assert!(
            blocks
                .iter()
                .any(|b| b.stderr && b.command.ends_with(&format!("samples/{f}"))),
            "samples/README.md has no stderr summary for {f}"
        );
    }

    let mut actual: Vec<String> = Vec::new();
    let mut wrong = Vec::new();
    for b in &blocks {
        let args: Vec<&str> = b.command.split_whitespace().collect();
        assert_eq!(args[0], "portent", "README command {:?}", b.command);
        let out = portent_in_root(&args[1..]);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "`{}` exited {code:?}: {}",
            b.command,
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(if b.stderr { out.stderr } else { out.stdout }).unwrap();
        if got != b.text {
            wrong.push(format!(
                "`{}` ({}), README line {}:\n--- README\n{}--- portent\n{}",
                b.command,
                if b.stderr { "stderr" } else { "stdout" },
                b.start + 1,
                b.text,
                got
            ));
        }
        actual.push(got);
    }

    if std::env::var_os("PORTENT_BLESS").is_some() && !wrong.is_empty() {
        let lines: Vec<&str> = readme.lines().collect();
        let mut out = String::new();
        let mut at = 0;
        for (b, got) in blocks.iter().zip(&actual) {
            for l in &lines[at..b.start] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(got);
            at = b.end;
        }
        for l in &lines[at..] {
            out.push_str(l);
            out.push('\n');
        }
        std::fs::write(readme_path(), out).unwrap();
        eprintln!("PORTENT_BLESS: rewrote {} block(s)", wrong.len());
        return;
    }
    assert!(
        wrong.is_empty(),
        "samples/README.md is out of date ({} block(s); PORTENT_BLESS=1 rewrites them):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------
// What each sample holds, asserted through the JSONL reports.

fn scan(file: &str) -> (Vec<Value>, Output) {
    common::jsonl(&["scan", "-q", "-f", "jsonl", &sample(file)])
}

fn conns(file: &str) -> Vec<Value> {
    let (recs, out) = common::jsonl(&["conns", "-q", "-f", "jsonl", &sample(file)]);
    assert!(out.status.success(), "conns {file}: {:?}", out.status);
    recs
}

fn summary(recs: &[Value]) -> &Value {
    let s = common::of_type(recs, "summary");
    assert_eq!(s.len(), 1, "one summary");
    s[0]
}

/// Seconds since midnight of an RFC 3339 UTC stamp on 2026-03-02.
fn secs_of_day(ts: &Value) -> f64 {
    let s = ts.as_str().unwrap();
    let rest = s.strip_prefix("2026-03-02T").expect("date of the samples");
    let rest = rest.strip_suffix('Z').unwrap();
    let parts: Vec<&str> = rest.split(':').collect();
    let h: f64 = parts[0].parse().unwrap();
    let m: f64 = parts[1].parse().unwrap();
    let sec: f64 = parts[2].parse().unwrap();
    h * 3600.0 + m * 60.0 + sec
}

/// Gaps between consecutive attempts, in seconds.
fn gaps(attempts: &[&Value]) -> Vec<f64> {
    let t: Vec<f64> = attempts.iter().map(|a| secs_of_day(&a["ts"])).collect();
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

fn to_port(recs: &[Value], port: u64) -> Vec<&Value> {
    common::of_type(recs, "attempt")
        .into_iter()
        .filter(|a| a["dport"] == port)
        .collect()
}

#[test]
fn windows_4444_is_one_low_finding_for_the_windows_host() {
    let (recs, out) = scan("windows-4444.pcap");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a Low finding fails --fail-on low"
    );
    let f = common::of_type(&recs, "finding");
    assert_eq!(f.len(), 1, "{recs:?}");
    assert_eq!(f[0]["host"], "192.168.56.10");
    assert_eq!(f[0]["severity"], "Low");
    assert_eq!(f[0]["risk_score"], 1);
    assert_eq!(f[0]["ports"], serde_json::json!([4444]));
    assert_eq!(f[0]["remote_ips"], serde_json::json!(["203.0.113.66"]));
    assert_eq!(f[0]["count"], 1);
    assert!(f[0]["image"].is_null(), "no process context in a capture");

    // The benign traffic is there and scores nothing: web, 8443 (standard),
    // 5222 (unanswered), a refused 443, SMB and LDAP to private addresses.
    let c = conns("windows-4444.pcap");
    let attempts = common::of_type(&c, "attempt");
    assert!(attempts.len() >= 8, "{}", attempts.len());
    let tiered: Vec<_> = attempts.iter().filter(|a| a["tier"] != 0).collect();
    assert_eq!(tiered.len(), 1);
    assert_eq!(tiered[0]["dport"], 4444);
    assert_eq!(tiered[0]["answered"], true, "the C2 server answered");
    assert!(to_port(&c, 445)
        .iter()
        .all(|a| a["suppressed"] == "private_destination"));
    assert_eq!(to_port(&c, 5222)[0]["answered"], false);
}

#[test]
fn beacon_9001_is_ten_attempts_a_minute_apart_with_one_retransmission() {
    let (recs, _) = scan("beacon-9001.pcapng");
    let f = common::of_type(&recs, "finding");
    assert_eq!(f.len(), 1, "{recs:?}");
    assert_eq!(f[0]["host"], "10.20.30.40");
    assert_eq!(f[0]["ports"], serde_json::json!([9001]));
    assert_eq!(f[0]["remote_ips"], serde_json::json!(["198.51.100.77"]));
    assert_eq!(f[0]["count"], 10, "retransmissions are not attempts");

    let c = conns("beacon-9001.pcapng");
    let beacon = to_port(&c, 9001);
    assert_eq!(beacon.len(), 10);
    assert!(beacon.iter().all(|a| a["dst"] == "198.51.100.77"));
    assert!(beacon.iter().all(|a| a["answered"] == true));
    for g in gaps(&beacon) {
        assert!((55.0..=65.0).contains(&g), "beacon gap {g} s");
    }
    let retx: Vec<_> = common::of_type(&c, "attempt")
        .into_iter()
        .filter(|a| a["retransmits"] != 0)
        .collect();
    assert_eq!(retx.len(), 1, "exactly one attempt was retransmitted");
    assert_eq!(retx[0]["retransmits"], 1);
    assert_eq!(retx[0]["dport"], 9001);
    assert_eq!(summary(&c)["retransmits"], 1);

    // The second interface (Linux SLL2) is decoded: the sensor's own
    // connections exist only there.
    let sensor = common::of_type(&c, "attempt")
        .into_iter()
        .filter(|a| a["src"] == "10.20.31.2")
        .count();
    assert!(sensor > 0, "no attempts from the SLL2 interface");
}

#[test]
fn linux_8088_is_twelve_attempts_half_a_minute_apart_with_ipv6_around() {
    let (recs, out) = scan("linux-8088.pcap.gz");
    assert_eq!(out.status.code(), Some(1));
    let f = common::of_type(&recs, "finding");
    assert_eq!(f.len(), 1, "{recs:?}");
    assert_eq!(f[0]["host"], "10.0.5.23");
    assert_eq!(f[0]["ports"], serde_json::json!([8088]));
    assert_eq!(f[0]["remote_ips"], serde_json::json!(["203.0.113.88"]));
    assert_eq!(f[0]["count"], 12);
    // Nanosecond stamps survive gzip and big-endian pcap.
    let first = f[0]["first_seen"].as_str().unwrap();
    assert_eq!(
        first.len(),
        "2026-03-02T09:00:14.037123457Z".len(),
        "{first}"
    );

    let c = conns("linux-8088.pcap.gz");
    let beacon = to_port(&c, 8088);
    assert_eq!(beacon.len(), 12);
    for g in gaps(&beacon) {
        assert!((28.0..=32.0).contains(&g), "beacon gap {g} s");
    }
    let v6: Vec<_> = common::of_type(&c, "attempt")
        .into_iter()
        .filter(|a| a["src"].as_str().unwrap().contains(':'))
        .collect();
    assert!(
        v6.iter()
            .any(|a| a["dst_scope"] == "public" && a["suppressed"].is_null()),
        "IPv6 to public 2001:db8:: addresses is scored"
    );
    assert!(
        v6.iter().any(|a| a["suppressed"] == "private_destination"),
        "IPv6 to the ULA service is suppressed"
    );
}

#[test]
fn rdp_33890_reports_nothing_and_counts_the_inbound_sessions_as_suppressed() {
    let (recs, out) = scan("rdp-33890.pcapng");
    assert_eq!(out.status.code(), Some(0), "no findings");
    assert!(common::of_type(&recs, "finding").is_empty(), "{recs:?}");
    let s = summary(&recs);
    let private = s["suppressed"]["private_destination"].as_u64().unwrap_or(0);
    assert!(private > 0, "{s}");

    let c = conns("rdp-33890.pcapng");
    let rdp = to_port(&c, 33890);
    assert_eq!(rdp.len(), 3, "three inbound sessions on the moved port");
    for a in &rdp {
        assert_eq!(a["dst"], "10.1.4.15");
        assert_eq!(a["suppressed"], "private_destination");
        // 33890 is not a known C2 port, but the sessions speak RDP there:
        // a port mismatch, tier 1 from content (suppressed all the same).
        assert_eq!(a["service"], "rdp", "{a}");
        assert_eq!(a["port_mismatch"], true, "{a}");
        assert_eq!(a["tier"], 1, "{a}");
        assert_eq!(a["answered"], true);
    }
    let old = to_port(&c, 3389);
    assert_eq!(old.len(), 2);
    assert!(old.iter().all(|a| a["answered"] == false), "3389 is closed");
}

#[test]
fn the_directory_reports_the_three_findings_by_count() {
    let (recs, out) = common::jsonl(&["scan", "-q", "-f", "jsonl", &sample("")]);
    assert_eq!(out.status.code(), Some(1));
    let f = common::of_type(&recs, "finding");
    let got: Vec<(&str, u64)> = f
        .iter()
        .map(|f| (f["host"].as_str().unwrap(), f["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [("10.0.5.23", 12), ("10.20.30.40", 10), ("192.168.56.10", 1)]
    );
    // README.md is skipped, not an error.
    let s = summary(&recs);
    assert_eq!(s["inputs_unreadable"], 0, "{s}");
}

/// Each attempt of the Windows sample carries its whole connection, as the
/// scenario the README describes has it: the unanswered one to 5222 is S0
/// with nothing back, the one refused with RST is REJ, and every answered
/// one shows its handshake and data in both directions.
#[test]
fn attempts_carry_their_connections() {
    let recs = conns("windows-4444.pcap");
    let attempts: Vec<&Value> = recs.iter().filter(|r| r["type"] == "attempt").collect();
    assert!(attempts.len() > 5);
    for a in attempts {
        let c = &a["conn"];
        let (dst, port) = (a["dst"].as_str().unwrap(), a["dport"].as_u64().unwrap());
        match (dst, port) {
            ("198.51.100.200", 5222) => {
                assert_eq!(c["state"], "S0", "{a}");
                assert_eq!(c["resp_pkts"], 0, "{a}");
            }
            ("192.0.2.99", 443) => {
                assert_eq!(c["state"], "REJ", "{a}");
                assert_eq!(
                    (c["orig_pkts"].as_u64(), c["resp_pkts"].as_u64()),
                    (Some(1), Some(1))
                );
            }
            _ => {
                assert_eq!(a["answered"], true, "{a}");
                assert!(["SF", "S1"].contains(&c["state"].as_str().unwrap()), "{a}");
                assert!(c["orig_pkts"].as_u64() >= Some(3), "{a}");
                assert!(c["resp_bytes"].as_u64() > Some(0), "{a}");
                // IP bytes hold the payload and at least 40 bytes of
                // headers per packet.
                let ip = c["orig_ip_bytes"].as_u64().unwrap();
                let min = c["orig_bytes"].as_u64().unwrap() + 40 * c["orig_pkts"].as_u64().unwrap();
                assert!(ip >= min, "{a}");
            }
        }
    }
}

/// CSV and the table show each attempt's service and port mismatch: the
/// Linux sample's beacon speaks TLS on 8088, a port no service is
/// registered for.
#[test]
fn csv_and_table_show_service_and_mismatch() {
    let out = portent_in_root(&["conns", "-q", "-f", "csv", &sample("linux-8088.pcap.gz")]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (dport, service, mismatch) = (col("dport"), col("service"), col("port_mismatch"));
    let beacon: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|r| r.get(dport).map(String::as_str) == Some("8088"))
        .collect();
    assert!(beacon.len() >= 6, "{text}");
    for r in &beacon {
        assert_eq!(
            (r[service].as_str(), r[mismatch].as_str()),
            ("tls", "true"),
            "{r:?}"
        );
    }
    let out = portent_in_root(&["conns", "-q", "-f", "table", &sample("linux-8088.pcap.gz")]);
    let table = String::from_utf8(out.stdout).unwrap();
    let head = table.lines().next().unwrap();
    assert!(
        head.contains("SERVICE") && head.contains("MISMATCH"),
        "{head}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("8088") && l.contains("tls") && l.contains("yes")),
        "{table}"
    );
}

/// The summary's `port_mismatches` is the number of attempts whose
/// `port_mismatch` is true, on every sample.
#[test]
fn the_summary_counts_the_port_mismatches() {
    let mut total = 0;
    for name in gen_samples::FILES {
        let recs = conns(name);
        let n = common::of_type(&recs, "attempt")
            .iter()
            .filter(|a| a["port_mismatch"] == true)
            .count() as u64;
        assert_eq!(summary(&recs)["port_mismatches"], n, "{name}");
        total += n;
    }
    assert!(total > 10, "{total}");
}
