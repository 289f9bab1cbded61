//! portent's attempts checked against independent expected answers shipped
//! with real captures: Zeek's conn.log / weird.log baselines and Arkime's
//! session JSON (`../shared/data/pcap-oracles`, see `SOURCES.md` there).
//!
//! Every expected value is parsed from the oracle files at test time; nothing
//! about the captures is hard-coded here except where portent differs from an
//! oracle by design, which is asserted explicitly and explained.
//!
//! The data is not part of the repository: each test returns early (and
//! passes) when `common::shared_data()` finds nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// (src, sport, dst, dport) of a TCP connection, initiator first.
type Tuple = (IpAddr, u16, IpAddr, u16);

fn oracles() -> Option<PathBuf> {
    common::shared_data().map(|d| d.join("pcap-oracles"))
}

fn rev(t: &Tuple) -> Tuple {
    (t.2, t.3, t.0, t.1)
}

fn show(t: &Tuple) -> String {
    format!("{}:{} -> {}:{}", t.0, t.1, t.2, t.3)
}

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad IP address {s:?}: {e}"))
}

/// Fails the test with every collected problem at once, so one run shows all
/// disagreements instead of the first.
fn report(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Running portent
// ---------------------------------------------------------------------------

/// One `portent conns -q --format jsonl` run.
struct Run {
    attempts: Vec<Value>,
    summary: Value,
}

impl Run {
    /// The `per_input` entry of `input` (as passed on the command line).
    fn per_input(&self, input: &str) -> &Value {
        self.summary["per_input"]
            .as_array()
            .expect("summary.per_input is an array")
            .iter()
            .find(|p| p["input"] == input)
            .unwrap_or_else(|| panic!("no per_input entry for {input}: {}", self.summary))
    }
}

/// Runs `conns` on `inputs` and checks what must hold for any input: no
/// crash, exit code 0 or 1, JSON lines with exactly one summary at the end.
fn conns(inputs: &[&Path]) -> Run {
    let mut args = vec!["conns", "-q", "--format", "jsonl"];
    let strs: Vec<&str> = inputs
        .iter()
        .map(|p| p.to_str().expect("UTF-8 path"))
        .collect();
    args.extend(&strs);
    let (recs, out) = common::jsonl(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "portent {strs:?} ended with {:?} (want exit code 0 or 1)\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked"),
        "portent {strs:?} panicked:\n{stderr}"
    );
    let summaries = common::of_type(&recs, "summary");
    assert_eq!(summaries.len(), 1, "one summary for {strs:?}");
    assert_eq!(
        recs.last().map(|r| &r["type"]),
        Some(&Value::from("summary")),
        "the summary is the last line for {strs:?}"
    );
    let summary = summaries[0].clone();
    let attempts: Vec<Value> = common::of_type(&recs, "attempt")
        .into_iter()
        .cloned()
        .collect();
    Run { attempts, summary }
}

fn tuple_of(a: &Value) -> Tuple {
    let port = |k: &str| -> u16 {
        a[k].as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("attempt without a valid {k}: {a}"))
    };
    assert_eq!(a["proto"], "tcp", "attempt proto: {a}");
    (
        ip(a["src"].as_str().expect("src")),
        port("sport"),
        ip(a["dst"].as_str().expect("dst")),
        port("dport"),
    )
}

fn u(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what} is not a count: {v}"))
}

fn skipped_total(per_input: &Value) -> u64 {
    per_input["skipped"]
        .as_object()
        .map(|m| m.values().map(|v| u(v, "skipped count")).sum())
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` to nanoseconds since the epoch.
fn rfc3339_nanos(s: &str) -> i128 {
    let bad = || -> ! { panic!("unexpected timestamp {s:?}") };
    let s = s.strip_suffix('Z').unwrap_or_else(|| bad());
    let (date, time) = s.split_once('T').unwrap_or_else(|| bad());
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    if d.len() != 3 || t.len() != 3 || frac.len() > 9 {
        bad();
    }
    // Howard Hinnant's days_from_civil.
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    let nanos: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i128>().unwrap() * 10i128.pow(9 - frac.len() as u32)
    };
    i128::from(secs) * 1_000_000_000 + nanos
}

/// Whether the file starts like a capture portent should read (pcap in
/// either byte order and resolution, pcapng, gzip).
fn is_capture(path: &Path) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    matches!(
        bytes.get(..4),
        Some(
            [0xa1, 0xb2, 0xc3, 0xd4]
                | [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0x0a, 0x0d, 0x0d, 0x0a]
        )
    ) || bytes.starts_with(&[0x1f, 0x8b])
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && is_capture(p))
        .collect();
    v.sort();
    v
}

fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures_under(&p, out);
        } else if is_capture(&p) {
            out.push(p);
        }
    }
}

/// Byte offset of each record of a classic pcap file (index 0 = frame 1),
/// to relate portent's `frame` to Arkime's `packetPos`. `None` for other
/// formats.
fn pcap_record_offsets(path: &Path) -> Option<Vec<u64>> {
    let b = fs::read(path).ok()?;
    let be = match b.get(..4)? {
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        _ => return None,
    };
    let rd = |at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if be {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        })
    };
    let mut offsets = Vec::new();
    let mut at = 24usize;
    while at + 16 <= b.len() {
        offsets.push(at as u64);
        at += 16 + rd(at + 8)? as usize;
    }
    Some(offsets)
}

// ---------------------------------------------------------------------------
// Zeek
// ---------------------------------------------------------------------------

/// Rows of a Zeek ASCII log, as column name -> value. Columns come from the
/// `#fields` line; a log already cut to a few columns (`zeek-cut` style, no
/// `#fields`) has them on its first non-comment line.
fn zeek_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut fields: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#fields\t") {
            fields = Some(rest.split('\t').map(str::to_owned).collect());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        match &fields {
            None => fields = Some(cols.iter().map(|c| (*c).to_owned()).collect()),
            Some(f) => {
                assert_eq!(f.len(), cols.len(), "Zeek row {line:?} vs fields {f:?}");
                rows.push(
                    f.iter()
                        .cloned()
                        .zip(cols.iter().map(|c| (*c).to_owned()))
                        .collect(),
                );
            }
        }
    }
    rows
}

/// Zeek's `history` flags (uppercase: originator, lowercase: responder):
/// `S` SYN without ACK, `h` SYN-ACK, `C` bad checksum, `^` orig/resp flipped.
struct ZeekConn {
    /// `None` when the baseline was cut to columns without the tuple.
    tuple: Option<Tuple>,
    proto: Option<String>,
    history: String,
    pkts: u64,
}

fn zeek_conns(log: &Path) -> Vec<ZeekConn> {
    let text = fs::read_to_string(log).unwrap_or_else(|e| panic!("read {}: {e}", log.display()));
    zeek_rows(&text)
        .into_iter()
        .map(|r| {
            let tuple = match (
                r.get("id.orig_h"),
                r.get("id.orig_p"),
                r.get("id.resp_h"),
                r.get("id.resp_p"),
            ) {
                (Some(a), Some(b), Some(c), Some(d)) => {
                    Some((ip(a), b.parse().unwrap(), ip(c), d.parse().unwrap()))
                }
                _ => None,
            };
            let count = |k: &str| {
                r.get(k)
                    .filter(|v| *v != "-")
                    .map_or(0, |v| v.parse::<u64>().unwrap())
            };
            ZeekConn {
                tuple,
                proto: r.get("proto").cloned(),
                history: r.get("history").cloned().unwrap_or_default(),
                pkts: count("orig_pkts") + count("resp_pkts"),
            }
        })
        .collect()
}

/// Checks one Zeek btest folder (`expected.conn.log` + one capture) and
/// collects the disagreements; returns the run, the parsed log and the
/// capture for further checks.
fn check_zeek_dir(dir: &Path, problems: &mut Vec<String>) -> (Run, Vec<ZeekConn>, PathBuf) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let caps = captures_in(dir);
    assert_eq!(caps.len(), 1, "{name}: one capture beside the conn.log");
    let cap = caps[0].clone();
    let conns_log = zeek_conns(&dir.join("expected.conn.log"));
    let run = conns(&[&cap]);
    let pi = run.per_input(cap.to_str().unwrap()).clone();
    let mut p = |s: String| problems.push(format!("{name}: {s}"));

    if !pi["error"].is_null() {
        p(format!("per_input error {}", pi["error"]));
    }

    // Attempts by tuple (a tuple may in principle start several attempts).
    let mut got: BTreeMap<Tuple, Vec<&Value>> = BTreeMap::new();
    for a in &run.attempts {
        got.entry(tuple_of(a)).or_default().push(a);
    }
    let mut explained: BTreeSet<Tuple> = BTreeSet::new();
    // Zeek rows for a bad-checksum packet it dropped before TCP analysis
    // (history has `C`, no `S`): portent still reports such a SYN.
    let mut zeek_dropped_bad_checksum = 0usize;

    for c in &conns_log {
        let is_tcp = c.proto.as_deref().is_none_or(|p| p == "tcp");
        if !is_tcp {
            continue;
        }
        let starts_with_syn = c.history.starts_with('S');
        if !starts_with_syn && c.history.contains('C') {
            zeek_dropped_bad_checksum += 1;
        }
        let Some(t) = c.tuple else { continue };
        if starts_with_syn {
            explained.insert(t);
            let Some(atts) = got.get(&t) else {
                p(format!(
                    "Zeek saw the originator's SYN (history {}) of {} but portent has no attempt",
                    c.history,
                    show(&t)
                ));
                continue;
            };
            // `h`: the responder sent a SYN-ACK.
            let answered = atts.iter().any(|a| a["answered"] == true);
            if answered != c.history.contains('h') {
                p(format!(
                    "{}: answered={answered} but Zeek history {}",
                    show(&t),
                    c.history
                ));
            }
            // The handshake Zeek accepted had good checksums unless Zeek
            // flagged one (`C`).
            if !c.history.contains('C') {
                for a in atts {
                    if a["bad_checksum"] != false {
                        p(format!(
                            "{}: bad_checksum {} but Zeek found no bad checksum (history {})",
                            show(&t),
                            a["bad_checksum"],
                            c.history
                        ));
                    }
                }
            }
        } else {
            // A connection Zeek saw without its initial SYN (missing SYN,
            // flipped): no attempt in either direction.
            for tt in [t, rev(&t)] {
                if got.contains_key(&tt) {
                    p(format!(
                        "attempt {} for a connection Zeek saw without an initial SYN (history {})",
                        show(&tt),
                        c.history
                    ));
                }
            }
            explained.insert(t);
            explained.insert(rev(&t));
        }
    }

    // No extras: every attempt is a connection Zeek saw start with a SYN,
    // except SYNs with a bad checksum, which Zeek drops and portent reports
    // by design (flagged `bad_checksum`, counted in `bad_checksum_syns`).
    let extras: Vec<&Value> = got
        .iter()
        .filter(|(t, _)| !explained.contains(t))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let bad_extras = extras.iter().filter(|a| a["bad_checksum"] == true).count();
    for a in extras.iter().filter(|a| a["bad_checksum"] != true) {
        p(format!("attempt not in Zeek's conn.log: {a}"));
    }
    if bad_extras > zeek_dropped_bad_checksum {
        p(format!(
            "{bad_extras} bad-checksum attempts not in Zeek's conn.log, but Zeek logged only \
             {zeek_dropped_bad_checksum} connection(s) it dropped for a bad checksum"
        ));
    }
    if u(&pi["bad_checksum_syns"], "bad_checksum_syns") < bad_extras as u64 {
        p(format!(
            "bad_checksum_syns {} < {bad_extras} bad-checksum attempts",
            pi["bad_checksum_syns"]
        ));
    }

    // Every packet Zeek put in a connection was read and decoded by portent
    // (so nothing was lost to the link layer, VLAN tags or a pcapng
    // interface), and every TCP packet Zeek counted was decoded as TCP.
    let zeek_pkts: u64 = conns_log.iter().map(|c| c.pkts).sum();
    let zeek_tcp_pkts: u64 = conns_log
        .iter()
        .filter(|c| c.proto.as_deref() == Some("tcp"))
        .map(|c| c.pkts)
        .sum();
    let decoded = u(&pi["packets"], "packets").saturating_sub(skipped_total(&pi));
    if decoded < zeek_pkts {
        p(format!(
            "portent decoded {decoded} packets (read {}, skipped {}), Zeek's conn.log counts {zeek_pkts}",
            pi["packets"], pi["skipped"]
        ));
    }
    if u(&pi["tcp"], "tcp") < zeek_tcp_pkts {
        p(format!(
            "portent decoded {} TCP packets, Zeek's conn.log counts {zeek_tcp_pkts}",
            pi["tcp"]
        ));
    }
    // `h` marks a SYN-ACK; portent counts them even without an attempt.
    let zeek_synacks = conns_log.iter().filter(|c| c.history.contains('h')).count() as u64;
    if u(&pi["synacks"], "synacks") < zeek_synacks {
        p(format!(
            "portent counted {} SYN-ACKs, Zeek saw one in {zeek_synacks} connection(s)",
            pi["synacks"]
        ));
    }
    (run, conns_log, cap)
}

fn zeek_dir(name: &str) -> Option<PathBuf> {
    let d = oracles()?.join("zeek").join(name);
    assert!(d.is_dir(), "missing {}", d.display());
    Some(d)
}

/// The Zeek btest folders that have a conn.log baseline, sorted.
fn zeek_baselines(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("zeek"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.conn.log").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Every Zeek folder with a conn.log baseline, checked the same way.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_conn_logs_agree() {
    let Some(root) = oracles() else { return };
    let dirs = zeek_baselines(&root);
    assert!(!dirs.is_empty(), "no Zeek conn.log baselines found");
    let mut problems = Vec::new();
    let mut syn_rows = 0;
    for d in &dirs {
        let (_, log, _) = check_zeek_dir(d, &mut problems);
        syn_rows += log.iter().filter(|c| c.history.starts_with('S')).count();
    }
    // The comparison must have had something to compare.
    assert!(syn_rows > 0, "no Zeek connection starts with a SYN");
    report("Zeek conn.log vs portent", &problems);
}

/// FTP over IPv4 and IPv6: the control connection and the active and passive
/// data connections (both directions) are attempts, each answered.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_ftp_data_connections_both_directions() {
    for name in [
        "scripts.base.protocols.ftp.ftp-ipv4",
        "scripts.base.protocols.ftp.ftp-ipv6",
    ] {
        let Some(dir) = zeek_dir(name) else { return };
        let mut problems = Vec::new();
        let (run, log, _) = check_zeek_dir(&dir, &mut problems);
        report(name, &problems);
        let expected: BTreeSet<Tuple> = log
            .iter()
            .filter(|c| c.proto.as_deref() == Some("tcp") && c.history.starts_with('S'))
            .filter_map(|c| c.tuple)
            .collect();
        let got: BTreeSet<Tuple> = run.attempts.iter().map(tuple_of).collect();
        assert_eq!(got, expected, "{name}: attempts = Zeek's SYN-started conns");
        // Active-mode data connections are opened by the server: the
        // originators are not all the same host.
        let origins: BTreeSet<IpAddr> = expected.iter().map(|t| t.0).collect();
        assert!(origins.len() >= 2, "{name}: both sides open connections");
    }
}

/// Connections whose SYN was not captured: Zeek logs them with a history
/// that does not start with `S` (`^` = flipped); portent must not report an
/// attempt in either direction, though it does see the SYN-ACK.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_missing_syn_is_not_an_attempt() {
    for name in ["core.tcp.missing-syn", "core.tcp.flip-without-syn"] {
        let Some(dir) = zeek_dir(name) else { return };
        let mut problems = Vec::new();
        let (run, log, cap) = check_zeek_dir(&dir, &mut problems);
        report(name, &problems);
        let tcp: Vec<&ZeekConn> = log
            .iter()
            .filter(|c| c.proto.as_deref() == Some("tcp"))
            .collect();
        assert!(!tcp.is_empty(), "{name}: Zeek logged a TCP connection");
        assert!(
            tcp.iter().all(|c| !c.history.starts_with('S')),
            "{name}: Zeek saw no initial SYN"
        );
        assert!(
            run.attempts.is_empty(),
            "{name}: no attempt without a SYN: {:?}",
            run.attempts
        );
        let pi = run.per_input(cap.to_str().unwrap());
        assert_eq!(pi["syns"], 0, "{name}: no SYN in the capture");
        assert!(
            u(&pi["tcp"], "tcp") > 0,
            "{name}: the connection's packets were decoded"
        );
    }
}

/// `core.tcp.bad-checksum-syn`: a single SYN with a wrong TCP checksum.
/// Zeek drops it before TCP analysis (0 packets, history `C`, not `S`).
/// portent differs by design: a SYN with a bad checksum is still evidence of
/// an attempt (often checksum offload on the capturing host), so it is
/// reported with `bad_checksum: true` and counted in `bad_checksum_syns`.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_bad_checksum_syn_is_reported_by_design() {
    let Some(dir) = zeek_dir("core.tcp.bad-checksum-syn") else {
        return;
    };
    let mut problems = Vec::new();
    let (run, log, cap) = check_zeek_dir(&dir, &mut problems);
    report("core.tcp.bad-checksum-syn", &problems);
    assert_eq!(log.len(), 1, "one connection in Zeek's baseline");
    let z = &log[0];
    assert!(
        z.history.contains('C') && !z.history.starts_with('S') && z.pkts == 0,
        "Zeek dropped the bad-checksum SYN (history {:?}, {} pkts)",
        z.history,
        z.pkts
    );
    assert_eq!(run.attempts.len(), 1, "portent reports the SYN anyway");
    let a = &run.attempts[0];
    assert_eq!(a["bad_checksum"], true, "{a}");
    assert_eq!(a["answered"], false, "{a}");
    assert_eq!(a["retransmits"], 0, "{a}");
    assert_eq!(a["frame"], 1, "{a}");
    let pi = run.per_input(cap.to_str().unwrap());
    assert_eq!(pi["syns"], 1);
    assert_eq!(pi["bad_checksum_syns"], 1);
    assert_eq!(run.summary["bad_checksum_attempts"], 1);
}

/// pcapng with two interfaces (merged with mergecap; their timestamps have
/// different resolutions): every packet of both interfaces is read and
/// decoded (Zeek's conn.log accounts for all of them), nothing is skipped,
/// and the format is recognised.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_pcapng_multi_interface() {
    let Some(dir) = zeek_dir("core.pcapng-pktsrc") else {
        return;
    };
    let mut problems = Vec::new();
    let (run, log, cap) = check_zeek_dir(&dir, &mut problems);
    report("core.pcapng-pktsrc", &problems);
    let pi = run.per_input(cap.to_str().unwrap());
    assert_eq!(pi["format"], "pcapng");
    let zeek_pkts: u64 = log.iter().map(|c| c.pkts).sum();
    assert!(zeek_pkts > 0);
    assert!(
        u(&pi["packets"], "packets") >= zeek_pkts,
        "read {} packets, Zeek counted {zeek_pkts}",
        pi["packets"]
    );
    assert_eq!(skipped_total(pi), 0, "nothing skipped: {}", pi["skipped"]);
    // Only UDP in this capture: no TCP attempt may appear.
    let zeek_tcp = log
        .iter()
        .filter(|c| c.proto.as_deref() == Some("tcp"))
        .count();
    if zeek_tcp == 0 {
        assert!(run.attempts.is_empty(), "{:?}", run.attempts);
    }
}

/// One block of Zeek's weird.log per trace, in the order `truncation.test`
/// appends them to `output`.
fn truncation_weirds(dir: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let script = fs::read_to_string(dir.join("truncation.test")).unwrap();
    let output = fs::read_to_string(dir.join("expected.output")).unwrap();
    // Traces whose weird.log is appended to `output`, in order.
    let mut order: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for line in script.lines().filter(|l| l.contains("@TEST-EXEC")) {
        if let Some(i) = line.find("$TRACES/") {
            let path = line[i..].split_whitespace().next().unwrap();
            last = Some(path.rsplit('/').next().unwrap().to_owned());
        }
        if line.contains("mv weird.log output") || line.contains("cat weird.log >> output") {
            order.push(last.clone().expect("a trace before its weird.log"));
        }
    }
    // Split the baseline at each log header.
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    for line in output.lines() {
        if line.starts_with("#separator") {
            blocks.push(Vec::new());
        } else if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_owned).collect();
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let cols: Vec<&str> = line.split('\t').collect();
            let get = |k: &str| cols[fields.iter().position(|f| f == k).unwrap()].to_owned();
            blocks
                .last_mut()
                .expect("weird row inside a block")
                .push((get("name"), get("source")));
        }
    }
    assert_eq!(
        order.len(),
        blocks.len(),
        "truncation.test appends {} weird.logs, expected.output has {} blocks",
        order.len(),
        blocks.len()
    );
    order.into_iter().zip(blocks).collect()
}

/// `core.truncation`: deliberately broken packets. Zeek's baseline names the
/// layer each one is broken at (weird.log `source`). portent must read each
/// file without an input error and count the packet under the matching skip
/// reason. A trace Zeek has no weird for (ICMP payload cut by the snap
/// length) must not be counted as skipped. ICMP header truncation is below
/// portent's interest (it decodes TCP only), so only "no error" holds there,
/// as for `mpls-6in6-broken.pcap.gz`, which this Zeek test does not use.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_truncation_is_counted_not_fatal() {
    let Some(dir) = zeek_dir("core.truncation") else {
        return;
    };
    let weirds = truncation_weirds(&dir);
    let mut problems = Vec::new();
    let mut checked = 0;
    for cap in captures_in(&dir) {
        let file = cap.file_name().unwrap().to_string_lossy().into_owned();
        let run = conns(&[&cap]);
        let pi = run.per_input(cap.to_str().unwrap());
        let mut p = |s: String| problems.push(format!("{file}: {s}"));
        if !pi["error"].is_null() {
            p(format!("input error {}", pi["error"]));
        }
        if u(&run.summary["inputs_unreadable"], "inputs_unreadable") != 0 {
            p("counted as unreadable".into());
        }
        let in_script = fs::read_to_string(dir.join("truncation.test"))
            .unwrap()
            .contains(&file);
        let Some(ws) = weirds.get(&file) else {
            if in_script {
                // Zeek raised no weird: the packet is fine as far as it goes.
                checked += 1;
                if skipped_total(pi) != 0 {
                    p(format!(
                        "Zeek found nothing wrong, portent skipped {}",
                        pi["skipped"]
                    ));
                }
            }
            continue;
        };
        checked += 1;
        // Zeek's traces here hold one broken packet each (or the ICMP
        // exchange around it): nothing to make an attempt from.
        if !run.attempts.is_empty() {
            p(format!("attempts from a broken packet: {:?}", run.attempts));
        }
        for (weird, source) in ws {
            let want = match source.as_str() {
                "ETHERNET" => "short_link_header",
                "IP" | "IPTUNNEL" => "bad_ip_header",
                "TCP" => "short_tcp_header",
                // Not a TCP packet: nothing portent looks at.
                "ICMP" => continue,
                other => {
                    p(format!("unmapped Zeek weird source {other} ({weird})"));
                    continue;
                }
            };
            if pi["skipped"][want].as_u64().unwrap_or(0) == 0 {
                p(format!(
                    "Zeek: {weird} ({source}); portent should count a {want} skip, \
                     skipped = {}",
                    pi["skipped"]
                ));
            }
        }
    }
    assert!(
        checked >= weirds.len(),
        "checked {checked} traces, Zeek's baseline has {}",
        weirds.len()
    );
    report("core.truncation", &problems);
}

/// portent's own conn.log (`conns -f zeek`) against Zeek's: every TCP
/// connection of the baselines that began with a SYN (history starting
/// with `S`) has a row with Zeek's `conn_state`, packets, IP bytes,
/// payload bytes, service, `local_orig`, `local_resp`, `ip_proto` and
/// `duration` (the clock stopped once both sides sent a FIN, as Zeek's TCP
/// analyzer stops it). The agreement is printed per field; at least 90 %
/// of the rows must agree on each asserted field.
///
/// Zeek names an FTP data connection `ftp-data` because the control
/// connection announced it (PORT, PASV); portent does by the two hosts of
/// an FTP control connection and its time: those rows count too.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zeek_format_agrees_with_zeeks_conn_log() {
    let Some(root) = oracles() else { return };
    let asserted = [
        "conn_state",
        "orig_pkts",
        "resp_pkts",
        "orig_ip_bytes",
        "resp_ip_bytes",
        "orig_bytes",
        "resp_bytes",
        "service",
        "local_orig",
        "local_resp",
        "missed_bytes",
        "history",
        "ip_proto",
        "duration",
    ];
    let printed: [&str; 0] = [];
    let mut agree: BTreeMap<&str, usize> = BTreeMap::new();
    let mut compared: BTreeMap<&str, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let (mut total, mut ftp_data) = (0, 0);
    for dir in zeek_baselines(&root) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let cap = &captures_in(&dir)[0];
        let out = common::portent(&[
            "conns",
            "-q",
            "-f",
            "zeek",
            "--include-private",
            cap.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{name}: {:?}", out.status);
        let ours = zeek_rows(&String::from_utf8(out.stdout).unwrap());
        let theirs = zeek_rows(&fs::read_to_string(dir.join("expected.conn.log")).unwrap());
        let key = |r: &HashMap<String, String>| -> Option<Tuple> {
            Some((
                ip(r.get("id.orig_h")?),
                r.get("id.orig_p")?.parse().ok()?,
                ip(r.get("id.resp_h")?),
                r.get("id.resp_p")?.parse().ok()?,
            ))
        };
        for z in &theirs {
            let (Some(proto), Some(history)) = (z.get("proto"), z.get("history")) else {
                continue;
            };
            if proto != "tcp" || !history.starts_with('S') {
                continue;
            }
            let t = key(z).unwrap();
            total += 1;
            let Some(r) = ours.iter().find(|r| key(r) == Some(t)) else {
                disagreements.push(format!("{name}: no row for {}", show(&t)));
                continue;
            };
            ftp_data += usize::from(z["service"] == "ftp-data");
            for f in asserted.iter().chain(&printed) {
                *compared.entry(f).or_default() += 1;
                let same = if *f == "duration" {
                    // Six decimals both; a millisecond apart is the same.
                    let s = |v: &str| v.parse::<f64>().unwrap_or(f64::NAN);
                    (s(&r[*f]) - s(&z[*f])).abs() < 1e-3
                } else {
                    r[*f] == z[*f]
                };
                if same {
                    *agree.entry(f).or_default() += 1;
                } else {
                    disagreements.push(format!(
                        "{name}: {} {f}: Zeek {}, portent {}",
                        show(&t),
                        z[*f],
                        r[*f]
                    ));
                }
            }
        }
    }
    eprintln!("Zeek conn.log rows that began with a SYN: {total}");
    for f in asserted.iter().chain(&printed) {
        let n = compared.get(f).copied().unwrap_or(0);
        let a = agree.get(f).copied().unwrap_or(0);
        let note = if printed.contains(f) {
            " (printed only)".to_string()
        } else if *f == "service" {
            format!(" ({ftp_data} of them ftp-data)")
        } else {
            String::new()
        };
        eprintln!("  {f}: {a}/{n}{note}");
    }
    for d in &disagreements {
        eprintln!("  {d}");
    }
    assert!(total >= 10, "only {total} rows in the baselines");
    for f in asserted {
        let (a, n) = (agree.get(f).copied().unwrap_or(0), compared[f]);
        assert!(n > 0 && a as f64 >= 0.9 * n as f64, "{f}: {a} of {n} agree");
    }
}

// ---------------------------------------------------------------------------
// Arkime
// ---------------------------------------------------------------------------

struct ArkimeSession {
    tuple: Tuple,
    tcp: bool,
    syn: u64,
    synack: u64,
    first_packet_ms: i128,
    packets: u64,
    packet_pos: Vec<u64>,
}

fn arkime_sessions(test: &Path) -> Vec<ArkimeSession> {
    let v: Value = serde_json::from_str(&fs::read_to_string(test).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", test.display()));
    v["sessions3"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no sessions3", test.display()))
        .iter()
        .map(|s| {
            let b = &s["body"];
            let port = |v: &Value| v.as_u64().map_or(0, |p| p as u16);
            ArkimeSession {
                tuple: (
                    ip(b["source"]["ip"].as_str().unwrap()),
                    port(&b["source"]["port"]),
                    ip(b["destination"]["ip"].as_str().unwrap()),
                    port(&b["destination"]["port"]),
                ),
                tcp: b["ipProtocol"] == 6,
                syn: b["tcpflags"]["syn"].as_u64().unwrap_or(0),
                synack: b["tcpflags"]["syn-ack"].as_u64().unwrap_or(0),
                first_packet_ms: i128::from(b["firstPacket"].as_i64().unwrap()),
                packets: b["network"]["packets"].as_u64().unwrap_or(0),
                // Negative entries encode file numbers; positions are >= 0.
                packet_pos: b["packetPos"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Arkime's `.test` files and their captures.
fn arkime_pairs() -> Option<Vec<(PathBuf, PathBuf)>> {
    let dir = oracles()?.join("arkime");
    let mut pairs: Vec<(PathBuf, PathBuf)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .map(|t| (t.with_extension("pcap"), t))
        .collect();
    pairs.sort();
    for (cap, t) in &pairs {
        assert!(
            cap.is_file(),
            "{} has no capture {}",
            t.display(),
            cap.display()
        );
    }
    assert!(!pairs.is_empty(), "no Arkime .test files");
    Some(pairs)
}

fn check_arkime(cap: &Path, test: &Path, problems: &mut Vec<String>) -> usize {
    let name = cap.file_name().unwrap().to_string_lossy().into_owned();
    let sessions = arkime_sessions(test);
    let run = conns(&[cap]);
    let pi = run.per_input(cap.to_str().unwrap()).clone();
    let mut p = |s: String| problems.push(format!("{name}: {s}"));
    if !pi["error"].is_null() {
        p(format!("per_input error {}", pi["error"]));
    }

    // Arkime keys a session on the 4-tuple but may split one tuple into
    // several sessions (y2038-bgp has two on one tuple) and merges what
    // portent may split (a new ISN after the retransmit window). Compare per
    // tuple: Arkime's `tcpflags.syn` counts every SYN-without-ACK packet of
    // the session (capture/parsers/tcp.c: `if (flags & TH_SYN) { if (flags &
    // TH_ACK) syn-ack++ else syn++ }`), retransmissions included, so it is
    // the sum of 1 + retransmits over the tuple's attempts. (It would also
    // count SYN+RST, which portent ignores, and a SYN from the responder in a
    // simultaneous open; neither occurs in these captures.)
    let mut want_syn: BTreeMap<Tuple, u64> = BTreeMap::new();
    let mut want_synack: BTreeMap<Tuple, u64> = BTreeMap::new();
    let mut no_syn: BTreeSet<Tuple> = BTreeSet::new();
    for s in sessions.iter().filter(|s| s.tcp) {
        if s.syn >= 1 {
            *want_syn.entry(s.tuple).or_default() += s.syn;
            *want_synack.entry(s.tuple).or_default() += s.synack;
        } else {
            no_syn.insert(s.tuple);
        }
    }
    let mut got: BTreeMap<Tuple, Vec<&Value>> = BTreeMap::new();
    for a in &run.attempts {
        got.entry(tuple_of(a)).or_default().push(a);
    }

    for (t, &syn) in &want_syn {
        let Some(atts) = got.get(t) else {
            p(format!(
                "Arkime counts {syn} SYN(s) on {} but portent has no attempt",
                show(t)
            ));
            continue;
        };
        let syns: u64 = atts
            .iter()
            .map(|a| 1 + u(&a["retransmits"], "retransmits"))
            .sum();
        if syns != syn {
            p(format!(
                "{}: 1 + retransmits = {syns} over {} attempt(s), Arkime tcpflags.syn = {syn}",
                show(t),
                atts.len()
            ));
        }
        let answered = atts.iter().any(|a| a["answered"] == true);
        if answered != (want_synack[t] >= 1) {
            p(format!(
                "{}: answered = {answered}, Arkime tcpflags.syn-ack = {}",
                show(t),
                want_synack[t]
            ));
        }
    }
    for t in &no_syn {
        if want_syn.contains_key(t) {
            continue; // another session on the tuple has the SYN
        }
        for tt in [*t, rev(t)] {
            if got.contains_key(&tt) && !want_syn.contains_key(&tt) {
                p(format!(
                    "attempt {} but Arkime's session has no SYN",
                    show(&tt)
                ));
            }
        }
    }
    // No extras.
    for (t, atts) in &got {
        if !want_syn.contains_key(t) && !no_syn.contains(t) && !no_syn.contains(&rev(t)) {
            p(format!(
                "attempt(s) on {} that no Arkime session has: {:?}",
                show(t),
                atts
            ));
        }
    }

    // Frame and time: the attempt's frame is one of its session's packets
    // (packetPos = byte offsets of the session's records); when it is the
    // session's first packet, ts matches firstPacket (ms, truncated) within
    // 1 ms, and it never precedes the session's first packet.
    if let Some(offsets) = pcap_record_offsets(cap) {
        for a in &run.attempts {
            let t = tuple_of(a);
            let frame = u(&a["frame"], "frame");
            let Some(&off) = usize::try_from(frame)
                .ok()
                .and_then(|f| f.checked_sub(1))
                .and_then(|i| offsets.get(i))
            else {
                p(format!("frame {frame} is not a record of the file: {a}"));
                continue;
            };
            let Some(s) = sessions
                .iter()
                .find(|s| s.tuple == t && s.packet_pos.contains(&off))
            else {
                p(format!(
                    "frame {frame} (offset {off}) is in no Arkime session of {}: {a}",
                    show(&t)
                ));
                continue;
            };
            let ts_ns = rfc3339_nanos(a["ts"].as_str().unwrap());
            let first_ns = s.first_packet_ms * 1_000_000;
            if s.packet_pos.first() == Some(&off) {
                if (ts_ns - first_ns).abs() >= 1_000_000 {
                    p(format!(
                        "{}: ts {} is {} us from Arkime firstPacket {} (the SYN is its first packet)",
                        show(&t),
                        a["ts"],
                        (ts_ns - first_ns) / 1000,
                        s.first_packet_ms
                    ));
                }
            } else if ts_ns + 1_000_000 <= first_ns {
                p(format!(
                    "{}: ts {} precedes Arkime firstPacket {}",
                    show(&t),
                    a["ts"],
                    s.first_packet_ms
                ));
            }
        }
    } else {
        p("not a classic pcap; frame/packetPos not compared".into());
    }

    // Counters: SYN and SYN-ACK packets as Arkime counts them, and at least
    // as many TCP packets decoded as Arkime put in TCP sessions.
    let tcp_sessions = || sessions.iter().filter(|s| s.tcp);
    let a_syn: u64 = tcp_sessions().map(|s| s.syn).sum();
    let a_synack: u64 = tcp_sessions().map(|s| s.synack).sum();
    let a_tcp_pkts: u64 = tcp_sessions().map(|s| s.packets).sum();
    let a_pkts: u64 = sessions.iter().map(|s| s.packets).sum();
    if pi["syns"] != a_syn {
        p(format!(
            "per_input.syns {} != Arkime SYNs {a_syn}",
            pi["syns"]
        ));
    }
    if pi["synacks"] != a_synack {
        p(format!(
            "per_input.synacks {} != Arkime SYN-ACKs {a_synack}",
            pi["synacks"]
        ));
    }
    if u(&pi["tcp"], "tcp") < a_tcp_pkts {
        p(format!(
            "portent decoded {} TCP packets, Arkime's TCP sessions hold {a_tcp_pkts}",
            pi["tcp"]
        ));
    }
    if u(&pi["packets"], "packets") < a_pkts {
        p(format!(
            "portent read {} packets, Arkime's sessions hold {a_pkts}",
            pi["packets"]
        ));
    }
    want_syn.len()
}

/// Every Arkime capture: attempts = Arkime's TCP sessions with a SYN.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn arkime_sessions_agree() {
    let Some(pairs) = arkime_pairs() else { return };
    let mut problems = Vec::new();
    let mut with_syn = 0;
    for (cap, test) in &pairs {
        with_syn += check_arkime(cap, test, &mut problems);
    }
    assert!(with_syn > 0, "no Arkime session with a SYN to compare");
    report("Arkime sessions vs portent", &problems);
}

/// Arkime's `no-syn-ack` capture: SYNs never answered. Arkime counts no
/// SYN-ACK; portent must say `answered: false` for each attempt, and the
/// private destinations are still listed by `conns`.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn arkime_unanswered_syns() {
    let Some(dir) = oracles().map(|d| d.join("arkime")) else {
        return;
    };
    let (cap, test) = (dir.join("no-syn-ack.pcap"), dir.join("no-syn-ack.test"));
    let sessions = arkime_sessions(&test);
    let with_syn: Vec<&ArkimeSession> = sessions.iter().filter(|s| s.tcp && s.syn > 0).collect();
    assert!(!with_syn.is_empty());
    assert!(
        with_syn.iter().all(|s| s.synack == 0),
        "Arkime saw no SYN-ACK"
    );
    let run = conns(&[&cap]);
    let want: BTreeSet<Tuple> = with_syn.iter().map(|s| s.tuple).collect();
    let got: BTreeSet<Tuple> = run.attempts.iter().map(tuple_of).collect();
    assert_eq!(got, want);
    for a in &run.attempts {
        assert_eq!(a["answered"], false, "{a}");
    }
}

/// Captures whose TCP sessions have a SYN-ACK but no SYN (Arkime's
/// `http-syn-ack`, which starts at the SYN-ACK, and `y2038-bgp`, one tuple
/// split into two sessions, a packet stamped beyond 2038): no attempt in
/// either direction, though the SYN-ACK is counted.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn arkime_syn_ack_without_syn_is_not_an_attempt() {
    let Some(pairs) = arkime_pairs() else { return };
    let mut seen = 0;
    for (cap, test) in &pairs {
        let sessions = arkime_sessions(test);
        let tcp: Vec<&ArkimeSession> = sessions.iter().filter(|s| s.tcp).collect();
        if tcp.is_empty() || tcp.iter().any(|s| s.syn > 0) || tcp.iter().all(|s| s.synack == 0) {
            continue;
        }
        seen += 1;
        let run = conns(&[cap]);
        assert!(
            run.attempts.is_empty(),
            "{}: SYN-ACK without SYN is not an attempt: {:?}",
            cap.display(),
            run.attempts
        );
        let pi = run.per_input(cap.to_str().unwrap());
        assert!(u(&pi["synacks"], "synacks") >= 1, "{pi}");
        assert_eq!(pi["syns"], 0, "{pi}");
    }
    assert!(seen > 0, "no Arkime capture with a SYN-ACK but no SYN");
}

// ---------------------------------------------------------------------------
// Every capture
// ---------------------------------------------------------------------------

/// Every capture under pcap-oracles (including the deliberately broken ones)
/// is read without an input error and without a crash, alone and all
/// together in one run; the combined run reports the same attempts.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn every_capture_reads_without_error_or_crash() {
    let Some(root) = oracles() else { return };
    let mut caps = Vec::new();
    captures_under(&root, &mut caps);
    assert!(caps.len() >= 2, "captures found: {caps:?}");
    let mut problems = Vec::new();
    let mut singles: BTreeSet<String> = BTreeSet::new();
    for cap in &caps {
        let run = conns(&[cap]);
        let pi = run.per_input(cap.to_str().unwrap());
        if !pi["error"].is_null() {
            problems.push(format!("{}: error {}", cap.display(), pi["error"]));
        }
        if pi["format"].is_null() {
            problems.push(format!("{}: no format", cap.display()));
        }
        if run.summary["inputs_unreadable"] != 0 {
            problems.push(format!("{}: unreadable", cap.display()));
        }
        singles.extend(run.attempts.iter().map(Value::to_string));
    }
    let refs: Vec<&Path> = caps.iter().map(PathBuf::as_path).collect();
    let all = conns(&refs);
    let per = all.summary["per_input"].as_array().unwrap();
    if per.len() != caps.len() {
        problems.push(format!(
            "combined run: {} per_input entries for {} inputs",
            per.len(),
            caps.len()
        ));
    }
    for pi in per.iter().filter(|pi| !pi["error"].is_null()) {
        problems.push(format!(
            "combined run: {} error {}",
            pi["input"], pi["error"]
        ));
    }
    let combined: BTreeSet<String> = all.attempts.iter().map(Value::to_string).collect();
    if combined != singles {
        problems.push(format!(
            "combined run attempts differ from per-file runs:\n    only combined: {:?}\n    only single: {:?}",
            combined.difference(&singles).collect::<Vec<_>>(),
            singles.difference(&combined).collect::<Vec<_>>()
        ));
    }
    report("reading every capture", &problems);
}
