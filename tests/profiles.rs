//! `scan --profile`: each of the five seed queries, as DETECTION.md §11
//! restates it, against a reference evaluator of the same query written
//! here from the issue's description of it (a per-event filter and a
//! group-by, sharing no code with `src/analysis/profile.rs`), on generated
//! Sysmon events that exercise every quirk; then the seeds' four validation
//! tests from Sysmon events alone, under each profile.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use portent::testkit::synth::SplitMix64;
use portent::time::{parse_rfc3339, Ts};
use serde_json::Value;

// The lists as DETECTION.md §4 gives them.
const C2: [u16; 19] = [
    444, 587, 1224, 1337, 2083, 2087, 4443, 4444, 4445, 6666, 6667, 6668, 7777, 8008, 8088, 8888,
    9001, 9090, 31337,
];
const STANDARD: [u16; 9] = [25, 53, 80, 443, 3000, 5000, 8080, 8443, 9000];
const HIGH_RISK: [&str; 12] = [
    "cmd.exe",
    "powershell.exe",
    "pwsh.exe",
    "wscript.exe",
    "cscript.exe",
    "mshta.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "msiexec.exe",
    "svchost.exe",
];

const SEC: i64 = 1_000;
const T0_MS: i64 = 1_772_442_000_000; // 2026-03-02T09:00:00Z

/// One Sysmon event, as generated.
#[derive(Clone, Debug)]
struct Ev {
    id: u16,
    /// Milliseconds since the epoch.
    ms: i64,
    /// The line it is written on (the record number portent gives it).
    line: u64,
    host: String,
    guid: String,
    image: Option<String>,
    user: Option<String>,
    /// Event ID 1 only.
    parent: Option<String>,
    initiated: Option<bool>,
    proto: Option<&'static str>,
    src: String,
    dst: String,
    dport: u16,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn utc_time(ms: i64) -> String {
    // 2026-03-02T09:00:00.123000Z -> 2026-03-02 09:00:00.123
    let s = Ts(ms * 1_000_000).to_string();
    format!("{} {}", &s[..10], &s[11..23])
}

/// One event per line, as a Windows event forwarder writes them.
fn xml_line(e: &Ev) -> String {
    let mut data = vec![
        ("UtcTime", utc_time(e.ms)),
        ("ProcessGuid", e.guid.clone()),
        ("ProcessId", "4242".into()),
    ];
    if let Some(i) = &e.image {
        data.push(("Image", i.clone()));
    }
    if let Some(u) = &e.user {
        data.push(("User", u.clone()));
    }
    if e.id == 1 {
        if let Some(p) = &e.parent {
            data.push(("ParentImage", p.clone()));
        }
    } else {
        if let Some(p) = e.proto {
            data.push(("Protocol", p.into()));
        }
        if let Some(i) = e.initiated {
            data.push(("Initiated", i.to_string()));
        }
        data.push(("SourceIp", e.src.clone()));
        data.push(("SourcePort", "50000".into()));
        data.push(("DestinationIp", e.dst.clone()));
        data.push(("DestinationPort", e.dport.to_string()));
    }
    let fields: String = data
        .iter()
        .map(|(k, v)| format!("<Data Name=\"{k}\">{}</Data>", esc(v)))
        .collect();
    format!(
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>\
         <Provider Name=\"Microsoft-Windows-Sysmon\" Guid=\"{{5770385f-c22a-43e0-bf4c-06f5698ffbd9}}\"/>\
         <EventID>{}</EventID><TimeCreated SystemTime=\"{}\"/><EventRecordID>{}</EventRecordID>\
         <Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>{}</Computer></System>\
         <EventData>{fields}</EventData></Event>",
        e.id,
        Ts(e.ms * 1_000_000),
        e.line,
        esc(&e.host)
    )
}

fn write_events(path: &Path, events: &mut [Ev]) {
    for (i, e) in events.iter_mut().enumerate() {
        e.line = i as u64 + 1;
    }
    let text: String = events.iter().map(|e| xml_line(e) + "\n").collect();
    std::fs::write(path, text).unwrap();
}

/// Processes: (guid, image, parent image from an Event ID 1 if any).
const PROCS: &[(&str, Option<&str>, Option<&str>)] = &[
    (
        "{00000000-0000-0000-0000-000000000001}",
        Some(r"C:\Windows\System32\WindowsPowerShell\v1.0\PowerShell.EXE"),
        Some(r"C:\Windows\System32\cmd.exe"),
    ),
    (
        "{00000000-0000-0000-0000-000000000002}",
        Some(r"C:\Program Files\PowerShell\7\pwsh.exe"),
        Some(r"C:\Windows\explorer.exe"),
    ),
    (
        "{00000000-0000-0000-0000-000000000003}",
        Some(r"C:\Windows\System32\svchost.exe"),
        Some(r"C:\Windows\System32\services.exe"),
    ),
    (
        "{00000000-0000-0000-0000-000000000004}",
        Some(r"C:\Temp\cmd.exe.bak"),
        // Another explorer.exe: LogScale groups by the parent's base name.
        Some(r"D:\Tools\explorer.exe"),
    ),
    (
        "{00000000-0000-0000-0000-000000000005}",
        Some(r"C:\Temp\notcmd.exe"),
        None,
    ),
    (
        "{00000000-0000-0000-0000-000000000006}",
        Some("cmd.exe"),
        None,
    ),
    (
        "{00000000-0000-0000-0000-000000000007}",
        Some(r"C:\Windows\System32\CMD.EXE"),
        Some(r"C:\Windows\explorer.exe"),
    ),
    (
        "{00000000-0000-0000-0000-000000000008}",
        Some("/usr/bin/curl"),
        None,
    ),
    (
        "{00000000-0000-0000-0000-000000000009}",
        Some(r"C:\Program Files\App\app.exe"),
        Some(r"C:\Windows\explorer.exe"),
    ),
    ("{00000000-0000-0000-0000-00000000000a}", None, None),
    (
        "{00000000-0000-0000-0000-00000000000b}",
        Some("/opt/tools/mshta.exe"),
        None,
    ),
    (
        "{00000000-0000-0000-0000-00000000000c}",
        Some(r"C:\x\rundll32.exe.old"),
        None,
    ),
];

const DSTS: &[&str] = &[
    "198.51.100.7",
    "10.1.2.3",
    "172.16.5.5",
    "172.31.0.9",
    "172.32.0.1",
    "192.168.1.5",
    "127.0.0.5",
    "100.64.1.1",
    "169.254.3.3",
    "2001:db8::5",
    "::1",
    "fd00::5",
    "::ffff:10.0.0.1",
    "::ffff:203.0.113.99",
];

const SRCS: &[&str] = &[
    "192.0.2.10",
    "10.0.0.5",
    "127.0.0.1",
    "127.0.0.2",
    "2001:db8::10",
];

const PORTS: &[u16] = &[
    4444, 8080, 33890, 443, 80, 587, 9001, 1000, 8088, 1024, 1025, 3389, 22, 444, 8443,
];

/// `n` Event ID 3 over two days before T0 (unique times, written in random
/// order) and the Event ID 1 of the processes that have one.
fn generate(seed: u64, n: usize) -> Vec<Ev> {
    let mut r = SplitMix64(seed);
    let mut pick = |k: usize| (r.next_u64() % k as u64) as usize;
    let hosts = ["WS1", "WS2", "ws1", "LNX1"];
    let users = [r"CORP\alice", r"CORP\bob", "root"];
    let mut out = Vec::new();
    for (guid, image, parent) in PROCS {
        if let Some(p) = parent {
            out.push(Ev {
                id: 1,
                ms: T0_MS - 3 * 86_400 * SEC,
                line: 0,
                host: "WS1".into(),
                guid: guid.to_string(),
                image: image.map(str::to_string),
                user: None,
                parent: Some(p.to_string()),
                initiated: None,
                proto: None,
                src: String::new(),
                dst: String::new(),
                dport: 0,
            });
        }
    }
    let mut ms = T0_MS - 2 * 86_400 * SEC;
    let step = 2 * 86_400 * SEC / n as i64;
    for _ in 0..n {
        ms += 1 + pick(2 * step as usize) as i64;
        let (guid, image, _) = PROCS[pick(PROCS.len())];
        let dst = match pick(3) {
            0 => DSTS[pick(DSTS.len())].to_string(),
            // Many public addresses, past LogScale's 10.
            _ => format!("203.0.113.{}", 1 + pick(30)),
        };
        let dport = match pick(4) {
            // Many ports, past LogScale's 20.
            0 => 1025 + pick(40) as u16,
            _ => PORTS[pick(PORTS.len())],
        };
        out.push(Ev {
            id: 3,
            ms,
            line: 0,
            host: hosts[pick(hosts.len())].into(),
            guid: guid.into(),
            image: image.map(str::to_string),
            user: Some(users[pick(users.len())].into()),
            parent: None,
            initiated: [Some(true), Some(true), Some(true), None, Some(false)][pick(5)],
            proto: [Some("tcp"); 8]
                .into_iter()
                .chain([None, Some("udp")])
                .nth(pick(10))
                .unwrap(),
            src: SRCS[pick(SRCS.len())].into(),
            dst,
            dport,
        });
    }
    // One busy process: past LogScale's 10 addresses and 20 ports.
    for _ in 0..80 {
        ms += 1 + pick(1_000) as i64;
        out.push(Ev {
            id: 3,
            ms,
            line: 0,
            host: "WS2".into(),
            guid: PROCS[0].0.into(),
            image: PROCS[0].1.map(str::to_string),
            user: Some(users[0].into()),
            parent: None,
            initiated: Some(true),
            proto: Some("tcp"),
            src: "192.0.2.10".into(),
            dst: format!("203.0.113.{}", 1 + pick(30)),
            dport: 1025 + pick(60) as u16,
        });
    }
    // Written in random order: the queries must not depend on file order.
    for i in (1..out.len()).rev() {
        let j = pick(i + 1);
        out.swap(i, j);
    }
    out
}

// ---------------------------------------------------------------------------
// The reference evaluators.

/// One finding, as the evaluators and the JSONL report both give it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    risk: u8,
    host: String,
    image: Option<String>,
    user: Option<String>,
    parent: Option<String>,
    window_ms: Option<i64>,
    count: u64,
    ports: BTreeSet<u16>,
    ips: BTreeSet<String>,
    first_ms: i64,
    last_ms: i64,
}

fn tier(high_risk: bool, port: u16) -> u8 {
    let c2 = C2.contains(&port);
    if high_risk && c2 {
        3
    } else if high_risk && port > 1024 && !STANDARD.contains(&port) {
        2
    } else if c2 {
        1
    } else {
        0
    }
}

fn rfc1918(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168)
        }
        IpAddr::V6(_) => false,
    }
}

fn lower(s: &Option<String>) -> String {
    s.as_deref().unwrap_or("").to_lowercase()
}

/// What every query reads: Event ID 3, TCP or no protocol field.
fn network(events: &[Ev]) -> impl Iterator<Item = &Ev> {
    events
        .iter()
        .filter(|e| e.id == 3 && e.proto.is_none_or(|p| p == "tcp"))
}

fn parents(events: &[Ev]) -> BTreeMap<String, String> {
    events
        .iter()
        .filter(|e| e.id == 1)
        .filter_map(|e| Some((e.guid.clone(), e.parent.clone()?)))
        .collect()
}

type Key = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Group-by over `(key, event, risk, destination as the query holds it)`
/// in time order; `caps` are LogScale's collect limits.
fn group_by(mut hits: Vec<(Key, &Ev, u8, String)>, caps: Option<(usize, usize)>) -> Vec<Row> {
    hits.sort_by_key(|h| h.1.ms);
    let mut g: BTreeMap<Key, Row> = BTreeMap::new();
    for (k, e, risk, dst) in hits {
        let row = g.entry(k.clone()).or_insert_with(|| Row {
            risk: 0,
            host: k.0.clone(),
            image: k.1.clone(),
            user: k.2.clone(),
            parent: k.3.clone(),
            window_ms: k.4,
            count: 0,
            ports: BTreeSet::new(),
            ips: BTreeSet::new(),
            first_ms: e.ms,
            last_ms: e.ms,
        });
        let (ci, cp) = caps.unwrap_or((usize::MAX, usize::MAX));
        if row.ips.len() < ci {
            row.ips.insert(dst);
        }
        if row.ports.len() < cp {
            row.ports.insert(e.dport);
        }
        row.count += 1;
        row.risk = row.risk.max(risk);
        row.first_ms = row.first_ms.min(e.ms);
        row.last_ms = row.last_ms.max(e.ms);
    }
    g.into_values().collect()
}

/// Splunk: Initiated defaults to true; no destination filter; an unanchored
/// substring match; no svchost.exe; by host, Image, User, ParentImage.
fn splunk(events: &[Ev]) -> Vec<Row> {
    let par = parents(events);
    let hits = network(events)
        .filter(|e| e.initiated.unwrap_or(true))
        .filter_map(|e| {
            let img = lower(&e.image);
            let hr = e.image.is_some()
                && HIGH_RISK
                    .iter()
                    .filter(|n| **n != "svchost.exe")
                    .any(|n| img.contains(n));
            let risk = tier(hr, e.dport);
            let key = (
                e.host.clone(),
                e.image.clone(),
                e.user.clone(),
                par.get(&e.guid).cloned(),
                None,
            );
            (risk > 0).then(|| (key, e, risk, e.dst.clone()))
        })
        .collect();
    group_by(hits, None)
}

/// Chronicle: Initiated true; 127/8 and RFC 1918 out (IPv6 and CGNAT in);
/// the name at the end of the path; svchost.exe in; 2 above 1024 standard
/// or not, 1 at or below; per host per five minutes.
fn chronicle(events: &[Ev]) -> Vec<Row> {
    let hits = network(events)
        .filter(|e| e.initiated == Some(true))
        .filter(|e| {
            let ip: IpAddr = e.dst.parse().unwrap();
            !(rfc1918(&ip) || matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 127))
        })
        .filter_map(|e| {
            let img = lower(&e.image);
            let hr = e.image.is_some() && HIGH_RISK.iter().any(|n| img.ends_with(n));
            let c2 = C2.contains(&e.dport);
            let risk = if hr && c2 {
                3
            } else if hr && e.dport > 1024 {
                2
            } else if hr || c2 {
                1
            } else {
                0
            };
            let window = e.ms - e.ms.rem_euclid(300 * SEC);
            let key = (e.host.clone(), None, None, None, Some(window));
            (risk > 0).then(|| (key, e, risk, e.dst.clone()))
        })
        .collect();
    group_by(hits, None)
}

/// The name right after a path separator, at the end.
fn after_separator(image: &Option<String>) -> bool {
    let img = lower(image);
    image.is_some()
        && HIGH_RISK
            .iter()
            .any(|n| img.ends_with(&format!("\\{n}")) || img.ends_with(&format!("/{n}")))
}

/// LogScale: IPv4 only; source 127.0.0.1 out; 127/8 destinations kept,
/// RFC 1918 out; after a separator; svchost.exe in; by host, image, user,
/// parent base name; 10 remote IPs, 20 ports.
fn logscale(events: &[Ev]) -> Vec<Row> {
    let par = parents(events);
    let hits = network(events)
        .filter(|e| e.initiated == Some(true))
        .filter(|e| {
            let dst: IpAddr = e.dst.parse().unwrap();
            let src: IpAddr = e.src.parse().unwrap();
            dst.is_ipv4() && src.is_ipv4() && e.src != "127.0.0.1" && !rfc1918(&dst)
        })
        .filter_map(|e| {
            let risk = tier(after_separator(&e.image), e.dport);
            let parent_base = par
                .get(&e.guid)
                .map(|p| p.rsplit(['\\', '/']).next().unwrap().to_string());
            let key = (
                e.host.clone(),
                e.image.clone(),
                e.user.clone(),
                parent_base,
                None,
            );
            (risk > 0).then(|| (key, e, risk, e.dst.clone()))
        })
        .collect();
    group_by(hits, Some((10, 20)))
}

/// Sumo: Initiated present and true; after a separator; svchost.exe in;
/// RFC 1918 out by a text match on the address.
fn sumo(events: &[Ev]) -> Vec<Row> {
    let par = parents(events);
    let hits = network(events)
        .filter(|e| e.initiated == Some(true))
        .filter(|e| {
            let d = &e.dst;
            !(d.starts_with("10.")
                || d.starts_with("192.168.")
                || (16..=31).any(|b| d.starts_with(&format!("172.{b}."))))
        })
        .filter_map(|e| {
            let risk = tier(after_separator(&e.image), e.dport);
            let key = (
                e.host.clone(),
                e.image.clone(),
                e.user.clone(),
                par.get(&e.guid).cloned(),
                None,
            );
            (risk > 0).then(|| (key, e, risk, e.dst.clone()))
        })
        .collect();
    group_by(hits, None)
}

/// QRadar: one row per event, inbound too; the last day before `now`;
/// IPv4 destinations (a mapped one as its IPv4); RFC 1918 out; the WHERE
/// list lacks pwsh.exe and svchost.exe, the score lacks svchost.exe; by
/// risk then time, newest first; 500 rows.
fn qradar(events: &[Ev], now: Option<i64>) -> Vec<Row> {
    let par = parents(events);
    let now = now.unwrap_or_else(|| events.iter().map(|e| e.ms).max().unwrap());
    let base = |e: &Ev| {
        e.image
            .as_deref()
            .map(|i| i.rsplit(['\\', '/']).next().unwrap().to_lowercase())
    };
    let mut rows: Vec<(Row, u64)> = network(events)
        .filter(|e| e.ms >= now - 86_400 * SEC && e.ms <= now)
        .filter_map(|e| {
            let ip: IpAddr = e.dst.parse().unwrap();
            let v4 = match ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => v6.to_ipv4_mapped()?,
            };
            if rfc1918(&IpAddr::V4(v4)) {
                return None;
            }
            let b = base(e);
            let listed = b
                .as_deref()
                .is_some_and(|b| HIGH_RISK.contains(&b) && b != "svchost.exe" && b != "pwsh.exe");
            let scored = b
                .as_deref()
                .is_some_and(|b| HIGH_RISK.contains(&b) && b != "svchost.exe");
            let p = e.dport;
            let in_where = C2.contains(&p) || (listed && p > 1024 && !STANDARD.contains(&p));
            if !in_where {
                return None;
            }
            let row = Row {
                risk: tier(scored, p),
                host: e.host.clone(),
                image: e.image.clone(),
                user: e.user.clone(),
                parent: par.get(&e.guid).cloned(),
                window_ms: None,
                count: 1,
                ports: [p].into(),
                ips: [v4.to_string()].into(),
                first_ms: e.ms,
                last_ms: e.ms,
            };
            Some((row, e.line))
        })
        .collect();
    rows.sort_by(|a, b| {
        b.0.risk
            .cmp(&a.0.risk)
            .then(b.0.first_ms.cmp(&a.0.first_ms))
            .then(a.1.cmp(&b.1))
    });
    rows.into_iter().take(500).map(|r| r.0).collect()
}

// ---------------------------------------------------------------------------
// portent's side.

fn ms_of(v: &Value) -> i64 {
    parse_rfc3339(v.as_str().unwrap()).unwrap().0 / 1_000_000
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// The findings of `scan --profile` on `inputs`, in report order, and the
/// summary.
fn scan(profile: &str, inputs: &[&Path], extra: &[&str]) -> (Vec<Row>, Value) {
    let mut args = vec!["scan", "-q", "-f", "jsonl", "--profile", profile];
    args.extend_from_slice(extra);
    let paths: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let (recs, out) = common::jsonl(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = common::of_type(&recs, "finding")
        .into_iter()
        .map(|f| Row {
            risk: f["risk_score"].as_u64().unwrap() as u8,
            host: f["host"].as_str().unwrap().into(),
            image: opt(&f["image"]),
            user: opt(&f["user"]),
            parent: opt(&f["parent_image"]),
            window_ms: f.get("window_start").map(ms_of),
            count: f["count"].as_u64().unwrap(),
            ports: f["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap() as u16)
                .collect(),
            ips: f["remote_ips"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().into())
                .collect(),
            first_ms: ms_of(&f["first_seen"]),
            last_ms: ms_of(&f["last_seen"]),
        })
        .collect();
    let summary = common::of_type(&recs, "summary")[0].clone();
    (rows, summary)
}

fn sorted(mut v: Vec<Row>) -> Vec<Row> {
    v.sort();
    v
}

/// Findings sorted as portent sorts them: risk, then count, descending.
fn assert_report_order(rows: &[Row]) {
    for w in rows.windows(2) {
        assert!(
            (w[0].risk, w[0].count) >= (w[1].risk, w[1].count),
            "out of order: {w:?}"
        );
    }
}

#[test]
fn every_profile_agrees_with_its_reference_evaluator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.xml");
    let mut events = generate(0x5eed_0018, 6_000);
    write_events(&path, &mut events);
    let p = path.as_path();

    type Eval = fn(&[Ev]) -> Vec<Row>;
    let grouped: [(&str, Eval); 4] = [
        ("splunk", splunk),
        ("chronicle", chronicle),
        ("logscale", logscale),
        ("sumo", sumo),
    ];
    for (name, eval) in grouped {
        let want = eval(&events);
        let (got, summary) = scan(name, &[p], &[]);
        assert_report_order(&got);
        assert!(
            want.len() > 5,
            "{name}: the data should give several groups"
        );
        assert_eq!(sorted(got), sorted(want), "{name}");
        assert_eq!(summary["profile"]["profile"], name);
    }

    // QRadar, with "now" the newest event, then a given one: same rows in
    // the same order.
    let want = qradar(&events, None);
    assert_eq!(want.len(), 500, "enough rows to reach LIMIT 500");
    let (got, summary) = scan("qradar", &[p], &[]);
    assert_eq!(got, want);
    assert!(summary["profile"]["over_limit"].as_u64().unwrap() > 0);
    let now = T0_MS - 30 * 3_600 * SEC;
    let want = qradar(&events, Some(now));
    let now_arg = Ts(now * 1_000_000).to_string();
    let (got, _) = scan("qradar", &[p], &["--now", &now_arg]);
    assert_eq!(got, want);
}

/// Each quirk the issue lists, on a handful of events whose answer is
/// known: the reference evaluators above must see them too, or the
/// comparison proves little.
#[test]
fn the_generated_events_exercise_every_quirk() {
    let events = generate(0x5eed_0018, 6_000);
    let has = |f: &dyn Fn(&Ev) -> bool| network(&events).any(f);
    let hr_port = |e: &Ev| C2.contains(&e.dport);
    // Splunk: Initiated missing; substring images; private destinations.
    assert!(has(&|e| e.initiated.is_none() && hr_port(e)));
    assert!(has(
        &|e| lower(&e.image).ends_with("cmd.exe.bak") && hr_port(e)
    ));
    assert!(has(&|e| e.dst.starts_with("10.") && hr_port(e)));
    // Chronicle: 8080 above 1024; IPv6 and CGNAT destinations.
    assert!(has(
        &|e| e.dport == 8080 && lower(&e.image).ends_with("svchost.exe")
    ));
    assert!(has(&|e| e.dst == "100.64.1.1" && e.initiated == Some(true)));
    assert!(has(&|e| e.dst == "2001:db8::5" && e.initiated == Some(true)));
    // LogScale: loopback source and destination; > 10 addresses.
    assert!(has(&|e| e.src == "127.0.0.1" && e.initiated == Some(true)));
    assert!(has(&|e| e.dst == "127.0.0.5" && e.initiated == Some(true)));
    assert!(logscale(&events)
        .iter()
        .any(|r| r.ips.len() == 10 && r.count > 10));
    assert!(logscale(&events).iter().any(|r| r.ports.len() == 20));
    // QRadar: inbound; pwsh.exe to an unlisted high port.
    assert!(has(&|e| e.initiated == Some(false) && hr_port(e)));
    assert!(has(
        &|e| lower(&e.image).ends_with("pwsh.exe") && e.dport == 33890
    ));
    // Sumo: a mapped private address kept by the text match.
    assert!(has(
        &|e| e.dst == "::ffff:10.0.0.1" && e.initiated == Some(true)
    ));
    // Bare names and forward slashes.
    assert!(has(&|e| e.image.as_deref() == Some("cmd.exe")));
    assert!(has(&|e| e.image.as_deref() == Some("/opt/tools/mshta.exe")));
    // The quirks show in the answers: the five differ pairwise.
    let answers = [
        sorted(splunk(&events)),
        sorted(chronicle(&events)),
        sorted(logscale(&events)),
        sorted(sumo(&events)),
        qradar(&events, None),
    ];
    for i in 0..answers.len() {
        for j in i + 1..answers.len() {
            assert_ne!(answers[i], answers[j], "{i} {j}");
        }
    }
}

// ---------------------------------------------------------------------------
// The seeds' four validation tests (DETECTION.md §1.2), from Sysmon events
// alone, under each profile.

/// One Sysmon event as Windows writes it (`linux`: as Sysmon for Linux
/// writes it into syslog).
fn event(id: u16, record: u64, host: &str, linux: bool, fields: &[(&str, String)]) -> String {
    let data: String = fields
        .iter()
        .map(|(k, v)| format!("<Data Name=\"{k}\">{}</Data>", esc(v)))
        .collect();
    let (provider, channel) = if linux {
        (
            r#"<Provider Name="Linux-Sysmon" Guid="{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"/>"#,
            "Linux-Sysmon/Operational",
        )
    } else {
        (
            r#"<Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"/>"#,
            "Microsoft-Windows-Sysmon/Operational",
        )
    };
    let xml = format!(
        "<Event><System>{provider}<EventID>{id}</EventID><EventRecordID>{record}</EventRecordID>\
         <Channel>{channel}</Channel><Computer>{host}</Computer></System>\
         <EventData>{data}</EventData></Event>"
    );
    if linux {
        format!("Mar  2 09:00:00 {host} sysmon: {xml}")
    } else {
        xml
    }
}

/// An Event ID 3 at `ms`.
#[allow(clippy::too_many_arguments)]
fn connect(
    record: u64,
    host: &str,
    linux: bool,
    ms: i64,
    image: &str,
    user: &str,
    initiated: bool,
    (src, dst, dport): (&str, &str, u16),
) -> String {
    let f = |k: &'static str, v: &str| (k, v.to_string());
    event(
        3,
        record,
        host,
        linux,
        &[
            ("UtcTime", utc_time(ms)),
            f("ProcessGuid", "{11111111-2222-3333-4444-555555555555}"),
            f("Image", image),
            f("User", user),
            f("Protocol", "tcp"),
            f("Initiated", if initiated { "true" } else { "false" }),
            f("SourceIp", src),
            ("SourcePort", (50_000 + record).to_string()),
            f("DestinationIp", dst),
            ("DestinationPort", dport.to_string()),
        ],
    )
}

const PS: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";

/// Test 1: powershell.exe (started by cmd.exe) connects to a public
/// address on 4444.
fn test1() -> Vec<String> {
    vec![
        event(
            1,
            1,
            "WS1",
            false,
            &[
                ("UtcTime", utc_time(T0_MS)),
                (
                    "ProcessGuid",
                    "{11111111-2222-3333-4444-555555555555}".into(),
                ),
                ("Image", PS.into()),
                ("ParentImage", r"C:\Windows\System32\cmd.exe".into()),
            ],
        ),
        connect(
            2,
            "WS1",
            false,
            T0_MS + 10 * SEC,
            PS,
            r"CORP\alice",
            true,
            ("192.168.56.10", "203.0.113.66", 4444),
        ),
    ]
}

/// Test 2: curl on Linux, HTTPS to 8088 every 30 s, ten times.
fn test2() -> Vec<String> {
    (0..10)
        .map(|i| {
            connect(
                i + 1,
                "lnx01",
                true,
                T0_MS + (10 + 30 * i as i64) * SEC,
                "/usr/bin/curl",
                "root",
                true,
                ("192.0.2.50", "198.51.100.80", 8088),
            )
        })
        .collect()
}

/// Test 3: the RDP listener moved to 33890, and a session to it, which the
/// host logs as the listening side (svchost.exe hosts TermService).
fn test3() -> Vec<String> {
    let key =
        r"HKLM\System\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp\PortNumber";
    vec![
        event(
            13,
            1,
            "SRV1",
            false,
            &[
                ("EventType", "SetValue".into()),
                ("UtcTime", utc_time(T0_MS)),
                ("Image", r"C:\Windows\regedit.exe".into()),
                ("TargetObject", key.into()),
                ("Details", "DWORD (0x00008462)".into()),
            ],
        ),
        connect(
            2,
            "SRV1",
            false,
            T0_MS + 60 * SEC,
            r"C:\Windows\System32\svchost.exe",
            r"NT AUTHORITY\NETWORK SERVICE",
            false,
            ("198.51.100.23", "192.168.56.20", 33890),
        ),
    ]
}

/// Test 4: powershell.exe calls 9001 ten times, 60 s apart.
fn test4() -> Vec<String> {
    (0..10)
        .map(|i| {
            connect(
                i + 1,
                "WS1",
                false,
                T0_MS + (10 + 60 * i as i64) * SEC,
                PS,
                r"CORP\alice",
                true,
                ("192.168.56.10", "203.0.113.90", 9001),
            )
        })
        .collect()
}

/// (count, risk, window start in seconds after T0) per finding, in report
/// order.
type Answer = Vec<(u64, u8, Option<i64>)>;

#[test]
fn the_four_validation_tests_under_each_profile() {
    let dir = tempfile::tempdir().unwrap();
    let tests: [(&str, Vec<String>); 4] = [
        ("test1", test1()),
        ("test2", test2()),
        ("test3", test3()),
        ("test4", test4()),
    ];
    let tenfold = |risk: u8| -> Answer { vec![(1, risk, None); 10] };
    let want: [(&str, &str, Answer); 20] = [
        ("test1", "splunk", vec![(1, 3, None)]),
        ("test1", "chronicle", vec![(1, 3, Some(0))]),
        ("test1", "logscale", vec![(1, 3, None)]),
        ("test1", "qradar", vec![(1, 3, None)]),
        ("test1", "sumo", vec![(1, 3, None)]),
        // curl is no high-risk image anywhere: 8088 alone, risk 1.
        ("test2", "splunk", vec![(10, 1, None)]),
        ("test2", "chronicle", vec![(10, 1, Some(0))]),
        ("test2", "logscale", vec![(10, 1, None)]),
        ("test2", "qradar", tenfold(1)),
        ("test2", "sumo", vec![(10, 1, None)]),
        // The listening side's event: out of all five (Initiated false, or
        // for QRadar a private destination); the registry change is no
        // connection.
        ("test3", "splunk", vec![]),
        ("test3", "chronicle", vec![]),
        ("test3", "logscale", vec![]),
        ("test3", "qradar", vec![]),
        ("test3", "sumo", vec![]),
        ("test4", "splunk", vec![(10, 3, None)]),
        (
            "test4",
            "chronicle",
            vec![(5, 3, Some(0)), (5, 3, Some(300))],
        ),
        ("test4", "logscale", vec![(10, 3, None)]),
        ("test4", "qradar", tenfold(3)),
        ("test4", "sumo", vec![(10, 3, None)]),
    ];
    for (name, lines) in &tests {
        let path = dir.path().join(format!("{name}.log"));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        for (_, profile, answer) in want.iter().filter(|w| w.0 == *name) {
            let (got, summary) = scan(profile, &[&path], &[]);
            let got: Answer = got
                .iter()
                .map(|r| (r.count, r.risk, r.window_ms.map(|w| (w - T0_MS) / SEC)))
                .collect();
            assert_eq!(&got, answer, "{name} under {profile}");
            assert_eq!(summary["profile"]["profile"], *profile);
        }
    }
    // Test 1 in detail: the parent from Event ID 1, as each query keys it.
    let path = dir.path().join("test1.log");
    let (splunk, _) = scan("splunk", &[&path], &[]);
    assert_eq!(
        splunk[0].parent.as_deref(),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    let (logscale, _) = scan("logscale", &[&path], &[]);
    assert_eq!(logscale[0].parent.as_deref(), Some("cmd.exe"));
    // QRadar's rows come newest first.
    let (q, _) = scan("qradar", &[&dir.path().join("test4.log")], &[]);
    assert!(q.windows(2).all(|w| w[0].first_ms > w[1].first_ms));
}

/// A capture attempt joined to its Sysmon event is that event's row, not a
/// second one; capture attempts no event names are in no query's index.
#[test]
fn a_joined_capture_attempt_is_its_events_row() {
    let cap = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/windows-4444.pcap");
    let (recs, _) = common::jsonl(&["conns", "-q", "-f", "jsonl", cap]);
    let attempts = common::of_type(&recs, "attempt");
    let a = attempts
        .iter()
        .find(|a| a["dport"] == 4444)
        .expect("the sample's connection to 4444");
    let ms = ms_of(&a["ts"]);
    let mut line = connect(
        1,
        "WS1",
        false,
        ms,
        PS,
        r"CORP\alice",
        true,
        (a["src"].as_str().unwrap(), a["dst"].as_str().unwrap(), 4444),
    );
    line = line.replace(
        &format!("<Data Name=\"SourcePort\">{}</Data>", 50_001),
        &format!("<Data Name=\"SourcePort\">{}</Data>", a["sport"]),
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ws1.xml");
    std::fs::write(&log, line + "\n").unwrap();
    for profile in ["splunk", "chronicle", "logscale", "qradar", "sumo"] {
        let (alone, summary) = scan(profile, &[Path::new(cap)], &[]);
        assert!(
            alone.is_empty(),
            "{profile}: a capture alone is in no index"
        );
        assert_eq!(
            summary["profile"]["attempts_without_event"].as_u64(),
            Some(attempts.len() as u64)
        );
        let (both, summary) = scan(profile, &[Path::new(cap), &log], &[]);
        assert_eq!(both.len(), 1, "{profile}");
        assert_eq!((both[0].count, both[0].risk), (1, 3), "{profile}");
        assert_eq!(summary["join"]["matched"]["tuple"], 1, "{profile}");
        assert_eq!(
            summary["profile"]["attempts_without_event"].as_u64(),
            Some(attempts.len() as u64 - 1)
        );
    }
}

/// A profile groups as its query does: `--window` is portent's and is
/// refused beside it; `--now` needs a profile.
#[test]
fn profile_options_are_checked() {
    let log = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sysmon/exported.xml"
    );
    let out = common::portent(&[
        "scan",
        "-q",
        "--profile",
        "chronicle",
        "--window",
        "5m",
        log,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--window"));
    let out = common::portent(&["scan", "-q", "--now", "2026-03-02T09:00:00Z", log]);
    assert_eq!(out.status.code(), Some(2));
    let out = common::portent(&["scan", "-q", "--profile", "qradar", "--now", "noon", log]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}
