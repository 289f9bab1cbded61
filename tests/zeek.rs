//! `conns -f zeek` and `-f zeek-json` (Zeek's conn.log) read back the way
//! the tools that consume conn.log read it, and the Community ID on every
//! attempt record checked against a computation written out here.
//!
//! Neither Zeek nor RITA can be run here (no Zeek package for this system;
//! RITA needs a ClickHouse server), so the checks restate what their
//! readers do: `zeek-cut` (the `#separator` line decoded, columns picked by
//! the names of `#fields`) and RITA's importer (`importer/parser.go` of
//! activecm/rita: header lines split on whitespace, `#open` parsed as
//! `2006-01-02-15-04-05`, as many `#types` as `#fields`, each value parsed
//! by its type, `-` and `(empty)` skipped; a JSON file is one object per
//! line). The agreement of the rows' values with Zeek's own conn.log is in
//! `tests/oracles.rs` (`zeek_format_agrees_with_zeeks_conn_log`).

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// conn.log's fields as Zeek 7 writes them (the `#fields` line of every
/// conn.log baseline in Zeek's test suite), then the community-id
/// package's field.
const ZEEK_FIELDS: [&str; 23] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
    "ip_proto",
    "community_id",
];

const ZEEK_TYPES: [&str; 23] = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
    "count",
    "string",
];

/// The captures in the repository: the samples, and the flow exports
/// (attempts from flow records).
fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = ["samples", "tests/data/softflowd"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".pcap.gz")
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "{v:?}");
    v
}

fn stdout(args: &[&str]) -> String {
    let out = common::portent(args);
    assert!(
        out.status.success(),
        "portent {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A conn.log read as zeek-cut reads it: the separator from the first
/// line's `\xNN`, the other header lines split on it.
struct Log {
    header: Vec<(String, Vec<String>)>,
    rows: Vec<Vec<String>>,
    /// Where each `#` line was, relative to the rows: `(name, rows before)`.
    order: Vec<(String, usize)>,
}

impl Log {
    fn parse(text: &str) -> Log {
        let mut lines = text.lines();
        let first = lines.next().expect("a first line");
        let esc = first
            .strip_prefix("#separator ")
            .unwrap_or_else(|| panic!("first line {first:?} is not #separator"));
        let sep = unescape(esc);
        assert_eq!(sep, "\t", "Zeek's separator is a tab");
        let mut log = Log {
            header: vec![("separator".into(), vec![esc.to_string()])],
            rows: Vec::new(),
            order: vec![("separator".into(), 0)],
        };
        for line in lines {
            let cols: Vec<String> = line.split(sep.as_str()).map(str::to_string).collect();
            if let Some(name) = cols[0].strip_prefix('#') {
                log.order.push((name.to_string(), log.rows.len()));
                log.header.push((name.to_string(), cols[1..].to_vec()));
            } else {
                log.rows.push(cols);
            }
        }
        log
    }

    fn get(&self, name: &str) -> &[String] {
        &self
            .header
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no #{name}"))
            .1
    }

    /// zeek-cut's job: the named columns of every row.
    fn cut(&self, names: &[&str]) -> Vec<Vec<String>> {
        let fields = self.get("fields");
        let idx: Vec<usize> = names
            .iter()
            .map(|n| fields.iter().position(|f| f == n).expect(n))
            .collect();
        self.rows
            .iter()
            .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
            .collect()
    }
}

/// `\xNN` escapes, as zeek-cut and RITA decode the header's separator.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        let n = u8::from_str_radix(&rest[at + 2..at + 4], 16).expect("hex escape");
        out.push(char::from(n));
        rest = &rest[at + 4..];
    }
    out.push_str(rest);
    out
}

/// RITA's `ZeekDateTimeFmt` (`2006-01-02-15-04-05`).
fn stamp_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 6
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && parts[0].len() == 4
        && parts[1..].iter().all(|p| p.len() == 2)
}

/// A value as RITA's `parseField` (and Zeek's ASCII reader) takes it, but
/// stricter where Zeek's writer is: six decimals for times and intervals.
fn value_ok(ty: &str, v: &str) -> bool {
    if v == "-" {
        return true;
    }
    let micros = |v: &str| {
        v.split_once('.').is_some_and(|(s, f)| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_digit())
                && f.len() == 6
                && f.chars().all(|c| c.is_ascii_digit())
        })
    };
    match ty {
        "time" | "interval" => micros(v),
        "addr" => v.parse::<IpAddr>().is_ok(),
        "port" => v.parse::<u16>().is_ok(),
        "count" => v.parse::<u64>().is_ok(),
        "bool" => v == "T" || v == "F",
        "enum" => v == "tcp",
        "string" => !v.is_empty() && !v.contains(['\t', '\n']),
        "set[string]" => v == "(empty)" || !v.is_empty(),
        other => panic!("unexpected type {other}"),
    }
}

/// Header lines present, once each, in Zeek's order; as many `#types` as
/// `#fields` and as columns in every row; every value of its type; rows
/// between `#types` and `#close`.
fn check_ascii(name: &str, text: &str) -> Log {
    let log = Log::parse(text);
    let names: Vec<&str> = log.order.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "separator",
            "set_separator",
            "empty_field",
            "unset_field",
            "path",
            "open",
            "fields",
            "types",
            "close"
        ],
        "{name}: header lines"
    );
    assert!(
        log.order[..8].iter().all(|(_, before)| *before == 0),
        "{name}: the header comes before every row"
    );
    assert_eq!(log.order[8].1, log.rows.len(), "{name}: #close is last");
    assert!(text.ends_with('\n'));
    assert_eq!(log.get("set_separator"), [","]);
    assert_eq!(log.get("empty_field"), ["(empty)"]);
    assert_eq!(log.get("unset_field"), ["-"]);
    assert_eq!(log.get("path"), ["conn"]);
    for s in ["open", "close"] {
        let v = log.get(s);
        assert!(v.len() == 1 && stamp_ok(&v[0]), "{name}: #{s} {v:?}");
    }
    assert!(log.get("open")[0] <= log.get("close")[0], "{name}");
    assert_eq!(log.get("fields"), ZEEK_FIELDS, "{name}");
    assert_eq!(log.get("types"), ZEEK_TYPES, "{name}");
    // RITA splits the header lines on whitespace: the same columns.
    for (h, want) in [("#fields", &ZEEK_FIELDS), ("#types", &ZEEK_TYPES)] {
        let line = text.lines().find(|l| l.starts_with(h)).unwrap();
        let ws: Vec<&str> = line.split_whitespace().skip(1).collect();
        assert_eq!(ws, want.as_slice(), "{name}: {h} split on whitespace");
    }
    for row in &log.rows {
        assert_eq!(row.len(), ZEEK_FIELDS.len(), "{name}: row {row:?}");
        for ((f, ty), v) in ZEEK_FIELDS.iter().zip(ZEEK_TYPES).zip(row) {
            assert!(value_ok(ty, v), "{name}: {f} ({ty}) = {v:?} in {row:?}");
        }
        // Never unset: what a row is about.
        for i in [0, 1, 2, 3, 4, 5, 6, 12, 13, 21, 22] {
            assert_ne!(row[i], "-", "{name}: {} unset in {row:?}", ZEEK_FIELDS[i]);
        }
    }
    log
}

/// Microseconds of a `secs.micros` time.
fn micros(v: &str) -> i64 {
    let (s, f) = v.split_once('.').unwrap();
    s.parse::<i64>().unwrap() * 1_000_000 + f.parse::<i64>().unwrap()
}

/// An attempt record's `ts` (`…THH:MM:SS.ffffff[fff]Z`) in microseconds,
/// by way of portent's own parser.
fn ts_micros(ts: &str) -> i64 {
    portent::time::parse_rfc3339(ts).unwrap().0.div_euclid(1000)
}

#[test]
fn ascii_log_reads_back_as_zeek_cut_and_rita_read_it() {
    for input in inputs() {
        let f = input.to_str().unwrap();
        let text = stdout(&["conns", "-q", "-f", "zeek", f]);
        let log = check_ascii(f, &text);
        let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", f]);
        let attempts = common::of_type(&recs, "attempt");
        assert!(!attempts.is_empty(), "{f}");
        // A row per attempt, in the same order, with its tuple, time and
        // Community ID.
        let cut = log.cut(&[
            "ts",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "community_id",
        ]);
        assert_eq!(cut.len(), attempts.len(), "{f}");
        for (row, a) in cut.iter().zip(&attempts) {
            assert_eq!(micros(&row[0]), ts_micros(a["ts"].as_str().unwrap()));
            assert_eq!(row[1], a["src"].as_str().unwrap());
            assert_eq!(row[2], a["sport"].to_string());
            assert_eq!(row[3], a["dst"].as_str().unwrap());
            assert_eq!(row[4], a["dport"].to_string());
            assert_eq!(row[5], a["community_id"].as_str().unwrap());
        }
        // The connection's numbers: from the packets, or the initiator's
        // flow record (the responder's side unknown, so unset).
        let counts = log.cut(&["conn_state", "orig_pkts", "orig_ip_bytes", "resp_pkts"]);
        for (row, a) in counts.iter().zip(&attempts) {
            if let Some(fl) = a["flow"].as_object() {
                assert_eq!(row[0], "-", "{f}: no conn_state from a flow record");
                assert_eq!(row[1], fl["packets"].to_string());
                assert_eq!(row[2], fl["bytes"].to_string());
                assert_eq!(row[3], "-");
            } else {
                let c = &a["conn"];
                assert_eq!(row[0], c["state"].as_str().unwrap(), "{f}");
                assert_eq!(row[1], c["orig_pkts"].to_string());
                assert_eq!(row[2], c["orig_ip_bytes"].to_string());
                assert_eq!(row[3], c["resp_pkts"].to_string());
            }
        }
        // #open and #close span the rows.
        let first = cut.iter().map(|r| micros(&r[0])).min().unwrap();
        let open = &log.get("open")[0];
        let secs = first.div_euclid(1_000_000);
        let want = portent::time::Ts(secs * 1_000_000_000).to_string();
        // 2026-03-02T09:00:01.000000Z -> 2026-03-02-09-00-01
        let want = want[..19].replace(['T', ':'], "-");
        assert_eq!(open, &want, "{f}: #open is the first row's time");
    }
}

/// A JSON object's members in the order written (serde_json's map sorts
/// them).
struct Ordered(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    v.push(kv);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[test]
fn json_log_has_the_ascii_rows_values_without_the_unset_ones() {
    for input in inputs() {
        let f = input.to_str().unwrap();
        let log = Log::parse(&stdout(&["conns", "-q", "-f", "zeek", f]));
        let json = stdout(&["conns", "-q", "-f", "zeek-json", f]);
        let objs: Vec<Vec<(String, Value)>> = json
            .lines()
            .map(|l| {
                assert!(l.starts_with('{'), "{f}: {l}");
                serde_json::from_str::<Ordered>(l)
                    .unwrap_or_else(|e| panic!("{f}: not a JSON object: {l}: {e}"))
                    .0
            })
            .collect();
        assert_eq!(objs.len(), log.rows.len(), "{f}");
        for (o, row) in objs.iter().zip(&log.rows) {
            // The keys are the fields that are set, in the same order.
            let set: Vec<&str> = ZEEK_FIELDS
                .iter()
                .zip(row)
                .filter(|(_, v)| *v != "-")
                .map(|(k, _)| *k)
                .collect();
            let keys: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, set, "{f}: the set fields, in Zeek's order");
            for ((k, ty), v) in ZEEK_FIELDS.iter().zip(ZEEK_TYPES).zip(row) {
                let Some((_, j)) = o.iter().find(|(n, _)| n == k) else {
                    continue;
                };
                match ty {
                    "time" => {
                        let x = j.as_f64().unwrap();
                        assert!((x * 1e6 - micros(v) as f64).abs() < 2.0, "{f}: {k} {x} {v}");
                    }
                    "interval" => {
                        let x = j.as_f64().unwrap();
                        assert!((x * 1e6 - micros(v) as f64).abs() < 1.0, "{f}: {k} {x} {v}");
                    }
                    "bool" => assert_eq!(j.as_bool().unwrap(), v == "T", "{f}: {k}"),
                    "count" | "port" => assert_eq!(j.to_string(), *v, "{f}: {k}"),
                    _ => assert_eq!(j.as_str().unwrap(), v, "{f}: {k}"),
                }
            }
        }
    }
}

/// RITA reads a JSON conn.log into its `zeektypes.Conn`: the numbers must
/// be numbers (ts a float of epoch seconds), the counts unsigned, the
/// booleans booleans.
#[test]
fn json_log_has_the_types_rita_unmarshals() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/windows-4444.pcap");
    let json = stdout(&["conns", "-q", "-f", "zeek-json", f.to_str().unwrap()]);
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(first["ts"].is_f64(), "{first}");
    assert!(first["duration"].is_f64(), "{first}");
    for k in [
        "id.orig_p",
        "id.resp_p",
        "orig_bytes",
        "resp_bytes",
        "missed_bytes",
        "orig_pkts",
        "orig_ip_bytes",
        "resp_pkts",
        "resp_ip_bytes",
        "ip_proto",
    ] {
        assert!(first[k].is_u64(), "{k}: {first}");
    }
    for k in ["local_orig", "local_resp"] {
        assert!(first[k].is_boolean(), "{k}: {first}");
    }
    for k in [
        "uid",
        "id.orig_h",
        "id.resp_h",
        "proto",
        "conn_state",
        "community_id",
    ] {
        assert!(first[k].is_string(), "{k}: {first}");
    }
}

#[test]
fn the_same_input_gives_the_same_log() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/beacon-9001.pcapng");
    let f = f.to_str().unwrap();
    for fmt in ["zeek", "zeek-json"] {
        let a = stdout(&["conns", "-q", "-f", fmt, f]);
        let b = stdout(&["conns", "-q", "-j", "1", "-f", fmt, f]);
        assert_eq!(a, b, "{fmt}");
    }
    // A uid per row, none twice.
    let log = Log::parse(&stdout(&["conns", "-q", "-f", "zeek", f]));
    let uids: std::collections::BTreeSet<&String> = log.rows.iter().map(|r| &r[1]).collect();
    assert_eq!(uids.len(), log.rows.len());
}

#[test]
fn local_orig_and_local_resp_follow_zeeks_private_space_and_the_home_net() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/softflowd/emotet-v9.pcap");
    let f = f.to_str().unwrap();
    let rows = |extra: &[&str]| {
        let mut args = vec!["conns", "-q", "-f", "zeek"];
        args.extend(extra);
        args.push(f);
        Log::parse(&stdout(&args)).cut(&["id.orig_h", "id.resp_h", "local_orig", "local_resp"])
    };
    // RFC 1918 hosts calling public servers: T, F.
    let plain = rows(&[]);
    assert!(!plain.is_empty());
    for r in &plain {
        assert!(r[0].starts_with("10."), "{r:?}");
        assert_eq!((r[2].as_str(), r[3].as_str()), ("T", "F"), "{r:?}");
    }
    // A home network makes its addresses local too.
    let server = plain[0][1].clone();
    let home = format!("{server}/32");
    for r in rows(&["--home-net", &home]) {
        let want = if r[1] == server { "T" } else { "F" };
        assert_eq!(r[3], want, "{r:?}");
    }
}

#[test]
fn sysmon_only_attempts_are_not_conn_log_rows() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sysmon/exported.xml");
    let f = f.to_str().unwrap();
    let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", f]);
    assert!(!common::of_type(&recs, "attempt").is_empty());
    let log = check_ascii(f, &stdout(&["conns", "-q", "-f", "zeek", f]));
    assert!(log.rows.is_empty(), "{:?}", log.rows);
    assert_eq!(log.get("open"), ["1970-01-01-00-00-00"]);
    assert!(stdout(&["conns", "-q", "-f", "zeek-json", f]).is_empty());
}

#[test]
fn scan_refuses_the_zeek_formats_and_o_takes_a_log_name() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/windows-4444.pcap");
    let f = f.to_str().unwrap();
    for args in [
        vec!["scan", "-q", "-f", "zeek", f],
        vec!["scan", "-q", "-o", "zeek-json:-", f],
    ] {
        let out = common::portent(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("portent conns"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("conn.log");
    let out = common::portent(&["conns", "-q", "-o", log.to_str().unwrap(), f]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    check_ascii("conn.log", &text);
    assert_eq!(text, stdout(&["conns", "-q", "-f", "zeek", f]));
}

// ---------------------------------------------------------------------------
// Community ID on the attempt records
// ---------------------------------------------------------------------------

/// The spec's definition written out for one real attempt, byte by byte,
/// without portent's function: the first attempt of `windows-4444.pcap`,
/// 192.168.56.10:49703 -> 192.0.2.15:80 over TCP.
#[test]
fn a_real_attempts_community_id_computed_by_hand() {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/windows-4444.pcap");
    let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", f.to_str().unwrap()]);
    let a = common::of_type(&recs, "attempt")[0];
    assert_eq!(
        (&a["src"], &a["sport"], &a["dst"], &a["dport"]),
        (
            &Value::from("192.168.56.10"),
            &Value::from(49703),
            &Value::from("192.0.2.15"),
            &Value::from(80)
        )
    );
    // Seed 0; 192.0.2.15 < 192.168.56.10 byte by byte, so the destination
    // goes first with its port; protocol 6, a zero byte; then the ports.
    let input: [u8; 16] = [
        0x00, 0x00, // seed
        192, 0, 2, 15, // the smaller address
        192, 168, 56, 10, // the other
        6, 0, // TCP, padding
        0x00, 0x50, // 80
        0xc2, 0x27, // 49703
    ];
    let want = format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha1::digest(input))
    );
    assert_eq!(a["community_id"], want.as_str());
}

/// Every attempt record in JSONL and CSV carries the Community ID of its
/// tuple (the function the spec's baseline checks), the same in both, the
/// same for the reversed tuple.
#[test]
fn every_attempt_record_carries_its_community_id() {
    let mut n = 0;
    for input in inputs() {
        let f = input.to_str().unwrap();
        let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", f]);
        let csv = stdout(&["conns", "-q", "-f", "csv", f]);
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let col = r
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "community_id")
            .expect("a community_id column");
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let attempts = common::of_type(&recs, "attempt");
        assert_eq!(rows.len(), attempts.len(), "{f}");
        for (a, row) in attempts.iter().zip(&rows) {
            let ip = |k: &str| a[k].as_str().unwrap().parse::<IpAddr>().unwrap();
            let port = |k: &str| a[k].as_u64().unwrap() as u16;
            let t =
                portent::event::FiveTuple::tcp(ip("src"), port("sport"), ip("dst"), port("dport"));
            let want = t.community_id().to_string();
            assert_eq!(a["community_id"], want.as_str(), "{f}: {a}");
            assert_eq!(&row[col], want, "{f}: CSV");
            assert_eq!(t.reversed().community_id().to_string(), want);
            n += 1;
        }
    }
    assert!(n > 50, "{n} attempts");
}
