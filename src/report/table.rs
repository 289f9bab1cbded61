//! Aligned text tables for a terminal, and the human-readable run summary
//! that goes to stderr. Control characters in values are replaced so that a
//! crafted image name cannot move the cursor or hide a row.

use std::io::{self, Write};

use super::join;
use crate::findings::Analysis;

/// Renders rows as left-aligned columns separated by two spaces.
fn render(w: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |w: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            if i + 1 < widths.len() {
                s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count()));
            }
        }
        writeln!(w, "{}", s.trim_end())
    };
    line(w, &mut header.iter().copied())?;
    for r in rows {
        line(w, &mut r.iter().map(String::as_str))?;
    }
    Ok(())
}

/// Replaces control characters (terminal escapes) in a value from the input.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// Shortens long lists for the table (the JSONL and CSV keep them whole).
fn list<T: std::fmt::Display>(items: &std::collections::BTreeSet<T>, max: usize) -> String {
    if items.len() <= max {
        join(items, ",")
    } else {
        format!(
            "{},… (+{})",
            join(items.iter().take(max), ","),
            items.len() - max
        )
    }
}

/// How many ports / addresses a table cell lists before eliding.
const TABLE_LIST_MAX: usize = 6;

/// How many skipped file names the summary shows per kind of note.
const NOTE_NAMES_SHOWN: usize = 3;

pub fn findings(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    findings_only(w, a)?;
    if !a.beacons.is_empty() {
        writeln!(w)?;
        beacons(w, a)?;
    }
    if !a.rdp.is_empty() {
        writeln!(w)?;
        writeln!(w, "RDP moved off 3389 (Sysmon Event ID 13, Medium):")?;
        let rows: Vec<Vec<String>> = a
            .rdp
            .iter()
            .map(|m| {
                vec![
                    clean(&m.host),
                    m.port.to_string(),
                    m.ts.to_string(),
                    m.image.as_deref().map_or_else(|| "-".into(), clean),
                    crate::report::join(&m.addresses, ","),
                    m.inbound.to_string(),
                    crate::report::join(&m.inbound_sources, ","),
                ]
            })
            .collect();
        render(
            w,
            &[
                "HOST",
                "PORT",
                "SET AT",
                "BY",
                "ADDRESSES",
                "INBOUND",
                "FROM",
            ],
            &rows,
        )?;
    }
    Ok(())
}

/// The beacon section: one row per series on a timer.
fn beacons(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    writeln!(w, "beacons (attempts on a timer):")?;
    let header = [
        "SRC",
        "DST",
        "DPORT",
        "PERIOD",
        "JITTER",
        "MISSED",
        "BEATS",
        "SCORE",
        "FIRST_SEEN",
        "LAST_SEEN",
    ];
    let rows: Vec<Vec<String>> = a
        .beacons
        .iter()
        .map(|b| {
            let dsts: std::collections::BTreeSet<_> = b.dsts.iter().collect();
            vec![
                b.src.to_string(),
                list(&dsts, TABLE_LIST_MAX),
                format!(
                    "{}{}",
                    b.dport,
                    if a.known_c2_beacon(b) { " (C2)" } else { "" }
                ),
                crate::analysis::beacon::human_secs(b.fit.period_s),
                format!("±{:.0} %", b.fit.jitter * 100.0),
                format!("{:.0} %", b.fit.missed * 100.0),
                b.fit.beats.to_string(),
                format!("{:.2}", b.fit.score),
                b.first_seen.to_string(),
                b.last_seen.to_string(),
            ]
        })
        .collect();
    render(w, &header, &rows)
}

fn findings_only(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    if a.findings.is_empty() {
        return writeln!(w, "no findings");
    }
    let has_proc = a
        .findings
        .iter()
        .any(|f| f.key.image.is_some() || f.key.user.is_some() || f.key.parent_image.is_some());
    let has_window = a.findings.iter().any(|f| f.key.window.is_some());
    let mut header = vec!["SEVERITY", "RISK", "HOST"];
    if has_proc {
        header.extend(["IMAGE", "USER", "PARENT"]);
    }
    if has_window {
        header.push("WINDOW");
    }
    header.extend(["PORTS", "REMOTE_IPS", "COUNT", "FIRST_SEEN", "LAST_SEEN"]);
    let rows: Vec<Vec<String>> = a
        .findings
        .iter()
        .map(|f| {
            let opt = |o: &Option<String>| o.as_deref().map(clean).unwrap_or_else(|| "-".into());
            let mut r = vec![
                f.severity().as_str().to_string(),
                f.risk_score.to_string(),
                clean(&f.key.host),
            ];
            if has_proc {
                r.extend([
                    opt(&f.key.image),
                    opt(&f.key.user),
                    opt(&f.key.parent_image),
                ]);
            }
            if has_window {
                r.push(f.key.window.map(|t| t.to_string()).unwrap_or_default());
            }
            r.extend([
                list(&f.ports, TABLE_LIST_MAX),
                list(&f.remote_ips, TABLE_LIST_MAX),
                f.count.to_string(),
                f.first_seen.to_string(),
                f.last_seen.to_string(),
            ]);
            r
        })
        .collect();
    render(w, &header, &rows)
}

pub fn attempts(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    // Flow columns only when some attempt came from a flow record.
    let flows = a.attempts.iter().any(|at| at.flow.is_some());
    let mut header = vec![
        "TIME",
        "SRC",
        "SPORT",
        "DST",
        "DPORT",
        "ANSWERED",
        "RETX",
        "SCOPE",
        "TIER",
        "SUPPRESSED",
        "INPUT",
        "FRAME",
    ];
    if flows {
        header.extend(["PKTS", "BYTES", "DURATION", "EXPORTER", "IF IN/OUT"]);
    }
    // Process columns only when some attempt has process context.
    let procs = a.attempts.iter().any(|at| at.process.is_some());
    if procs {
        header.extend(["HOST", "IMAGE", "USER", "PARENT", "JOIN"]);
    }
    // Content columns only when some connection was seen as packets.
    let conns = a.attempts.iter().any(|at| at.conn.is_some());
    if conns {
        header.extend(["STATE", "SERVICE", "MISMATCH"]);
    }
    header.push("COMMUNITY ID");
    let rows: Vec<Vec<String>> = a
        .attempts
        .iter()
        .zip(&a.verdicts)
        .map(|(at, v)| {
            let mut row = vec![
                at.ts.to_string(),
                at.tuple.src.to_string(),
                at.tuple.sport.to_string(),
                at.tuple.dst.to_string(),
                at.tuple.dport.to_string(),
                if at.answered { "yes" } else { "no" }.to_string(),
                at.retransmits.to_string(),
                v.scope.name().to_string(),
                v.tier.to_string(),
                v.suppressed
                    .as_ref()
                    .map(|s| clean(&s.label()))
                    .unwrap_or_else(|| "-".into()),
                clean(&a.inputs[at.origin.input as usize].input),
                at.origin.frame.to_string(),
            ];
            if flows {
                row.extend(flow_cells(at.flow.as_deref()));
            }
            if procs {
                let p = at.process.as_ref();
                let c = |s: Option<&String>| s.map_or_else(|| "-".to_string(), |s| clean(s));
                row.extend([
                    c(p.and_then(|p| p.host.as_ref())),
                    c(p.and_then(|p| p.image.as_ref())),
                    c(p.and_then(|p| p.user.as_ref())),
                    c(p.and_then(|p| p.parent_image.as_ref())),
                    p.and_then(|p| p.rule).unwrap_or("-").to_string(),
                ]);
            }
            if conns {
                row.extend([
                    at.conn.as_ref().map_or("-", |c| c.state).to_string(),
                    super::service(at).unwrap_or("-").to_string(),
                    match v.port_mismatch {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "-",
                    }
                    .to_string(),
                ]);
            }
            row.push(at.tuple.community_id().to_string());
            row
        })
        .collect();
    render(w, &header, &rows)
}

/// What a flow record knew, for the table; dashes for packet attempts.
fn flow_cells(f: Option<&crate::event::FlowInfo>) -> [String; 5] {
    let Some(f) = f else {
        return std::array::from_fn(|_| "-".to_string());
    };
    let sampled = f.sampling.map(|s| format!(" (1:{s})")).unwrap_or_default();
    let iface = |i: Option<u32>| i.map_or_else(|| "-".to_string(), |i| i.to_string());
    [
        format!("{}{sampled}", f.packets),
        f.bytes.to_string(),
        format!("{:.3}s", f.duration_ms as f64 / 1000.0),
        f.exporter
            .map_or_else(|| "file".to_string(), |e| e.to_string()),
        format!("{}/{}", iface(f.in_if), iface(f.out_if)),
    ]
}

/// The run summary for stderr: inputs, packets, attempts, skipped by reason,
/// suppressed by reason, findings by severity.
pub fn summary_text(a: &Analysis) -> String {
    use std::fmt::Write as _;
    let s = &a.summary;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "portent: {} input(s){}, {} packets, {} bytes",
        s.inputs,
        if s.inputs_unreadable > 0 {
            format!(" ({} unreadable)", s.inputs_unreadable)
        } else {
            String::new()
        },
        s.packets,
        s.bytes
    );
    let _ = writeln!(
        t,
        "  attempts: {} ({} answered, {} SYN retransmissions, {} with bad TCP checksum)",
        s.attempts, s.answered, s.retransmits, s.bad_checksum_attempts
    );
    let _ = writeln!(
        t,
        "  scored: {} ({} at tier 1 or above)",
        s.scored, s.reported_attempts
    );
    if let Some(c) = &s.connections {
        let _ = writeln!(
            t,
            "  connections: {} tracked; {} attempt(s) whose service does not follow the port",
            c.tracked, s.port_mismatches
        );
    }
    if !s.suppressed.is_empty() {
        let parts: Vec<String> = s
            .suppressed
            .iter()
            .map(|(k, n)| {
                let tiered = s.suppressed_with_tier.get(k).copied().unwrap_or(0);
                if tiered > 0 {
                    format!("{k} {n} ({tiered} would score)")
                } else {
                    format!("{k} {n}")
                }
            })
            .collect();
        let _ = writeln!(t, "  suppressed: {}", parts.join(", "));
    }
    if let Some(f) = &s.flows {
        let _ = writeln!(
            t,
            "  flows: {} export messages, {} records ({} TCP with SYN, {} continuations, {} paired responders); {} bad messages, {} data sets without template",
            f.messages,
            f.records,
            f.syn_records,
            f.continuation_records,
            f.paired_responder_records,
            f.bad_messages,
            f.data_without_template
        );
    }
    if let (Some(y), Some(j)) = (&s.sysmon, &s.join) {
        let _ = writeln!(
            t,
            "  sysmon: {} events kept ({} process create, {} network connect, {} registry set); {} from other providers, {} bad records",
            y.kept(),
            y.eid1,
            y.eid3,
            y.eid13,
            y.other_provider,
            y.bad_records
        );
        let matched: u64 = j.matched.values().sum();
        let rules: Vec<String> = j.matched.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = writeln!(
            t,
            "  join: {matched} attempts matched ({}), {} only logged by the responder, {} unmatched; {} attempts from Sysmon alone",
            if rules.is_empty() { "-".to_string() } else { rules.join(", ") },
            j.responder_only,
            j.unmatched,
            j.sysmon_attempts
        );
        for c in &j.clock_offsets {
            let _ = writeln!(
                t,
                "  clock: {} is {:+.3} s off the capture ({})",
                clean(&c.host),
                c.offset_s,
                if c.given {
                    "given".to_string()
                } else {
                    format!("from {} unambiguous matches", c.matches)
                }
            );
        }
    }
    if s.skipped.total() > 0 || s.odd_origlen > 0 {
        let mut parts: Vec<String> = s
            .skipped
            .nonzero()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        if s.odd_origlen > 0 {
            parts.push(format!("odd_origlen {} (decoded anyway)", s.odd_origlen));
        }
        let _ = writeln!(t, "  skipped: {}", parts.join(", "));
    }
    for r in &a.inputs {
        if let Some(e) = &r.error {
            let _ = writeln!(t, "  unreadable: {}", clean(e));
        }
    }
    // Files in directories that are not captures: one line per kind of note.
    let mut notes: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for r in &a.inputs {
        if let Some(n) = &r.note {
            notes.entry(n.as_str()).or_default().push(&r.input);
        }
    }
    for (note, names) in notes {
        let shown: Vec<String> = names
            .iter()
            .take(NOTE_NAMES_SHOWN)
            .map(|n| clean(n))
            .collect();
        let more = names.len().saturating_sub(NOTE_NAMES_SHOWN);
        let _ = writeln!(
            t,
            "  {} file(s) {note}: {}{}",
            names.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    let sev: Vec<String> = ["High", "Medium", "Low"]
        .iter()
        .filter_map(|k| s.findings_by_severity.get(k).map(|n| format!("{n} {k}")))
        .collect();
    let _ = writeln!(
        t,
        "  findings: {}{}",
        s.findings,
        if sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", sev.join(", "))
        }
    );
    let b = &s.beacons;
    let _ = writeln!(
        t,
        "  beacons: {} ({} series tested){}",
        b.beacons,
        b.series_tested,
        if b.series_dropped + b.beats_dropped > 0 {
            format!(
                "; over the bounds: {} series and {} beats not analysed",
                b.series_dropped, b.beats_dropped
            )
        } else {
            String::new()
        }
    );
    t
}

/// The terminal table.
pub struct Table;

impl super::Report for Table {
    fn findings(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        findings(w, a)
    }

    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        attempts(w, a)
    }
}
