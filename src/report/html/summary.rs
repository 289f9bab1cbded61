//! The run's summary: the counts, what was not scored and why, every
//! input with what was read and skipped, the readers' warnings, and every
//! counter of the `summary` record.

use std::fmt::Write as _;

use super::{
    cut_note, grouped, num_cell, opt_cell, table_close, table_open, Col, Esc, MAX_ROWS, NUM, TEXT,
};
use crate::findings::Analysis;

fn card(o: &mut String, value: &str, label: &str) {
    let _ = write!(
        o,
        "<div class=\"card\"><b>{value}</b><span>{label}</span></div>"
    );
}

pub(super) fn summary(o: &mut String, a: &Analysis) {
    let s = &a.summary;
    o.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">");
    let unreadable = if s.inputs_unreadable > 0 {
        format!(" ({} unreadable)", s.inputs_unreadable)
    } else {
        String::new()
    };
    card(o, &grouped(s.inputs as u64), &format!("inputs{unreadable}"));
    card(
        o,
        &grouped(s.packets),
        &format!("packets, {} bytes", grouped(s.bytes)),
    );
    card(
        o,
        &grouped(s.attempts),
        &format!(
            "attempts ({} answered, {} SYN retransmissions)",
            grouped(s.answered),
            grouped(s.retransmits)
        ),
    );
    card(
        o,
        &grouped(s.scored),
        &format!(
            "scored ({} at tier 1 or above)",
            grouped(s.reported_attempts)
        ),
    );
    card(
        o,
        &grouped(s.port_mismatches),
        "attempts whose service does not follow the port",
    );
    let sev: Vec<String> = ["High", "Medium", "Low"]
        .iter()
        .filter_map(|k| s.findings_by_severity.get(k).map(|n| format!("{n} {k}")))
        .collect();
    card(
        o,
        &grouped(s.findings as u64),
        &if sev.is_empty() {
            "findings".to_string()
        } else {
            format!("findings ({})", sev.join(", "))
        },
    );
    card(
        o,
        &grouped(s.beacons.beacons),
        &format!(
            "beacons ({} series tested)",
            grouped(s.beacons.series_tested)
        ),
    );
    if s.rdp_port_changes > 0 {
        card(o, &grouped(s.rdp_port_changes as u64), "RDP ports moved");
    }
    o.push_str("</div>\n");
    if s.beacons.series_dropped + s.beacons.beats_dropped > 0 {
        let _ = writeln!(
            o,
            "<p class=\"note\">Over the beacon detector's bounds: {} series and {} beats were not analysed.</p>",
            grouped(s.beacons.series_dropped),
            grouped(s.beacons.beats_dropped)
        );
    }
    not_scored(o, a);
    inputs(o, a);
    warnings(o, a);
    if let Some(j) = &s.join {
        if !j.clock_offsets.is_empty() {
            o.push_str("<h3>Clock offsets (Sysmon join)</h3>\n<table><thead><tr><th>host</th><th>offset (s)</th><th>from</th></tr></thead><tbody>\n");
            for c in j.clock_offsets.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td class=\"num\">{:+.3}</td><td>{}</td></tr>",
                    Esc(&c.host),
                    c.offset_s,
                    if c.given {
                        "given".to_string()
                    } else {
                        format!("{} unambiguous matches", c.matches)
                    }
                );
            }
            o.push_str("</tbody></table>\n");
            if j.clock_offsets.len() > MAX_ROWS {
                let _ = writeln!(
                    o,
                    "<p class=\"note cut\">{} more hosts not shown.</p>",
                    j.clock_offsets.len() - MAX_ROWS
                );
            }
        }
    }
    // Every counter of the summary, as JSONL's `summary` record has it.
    o.push_str("<details><summary>Every counter of the run</summary>\n");
    match serde_json::to_value(s) {
        Ok(v) => json(o, &v),
        Err(e) => {
            let _ = write!(o, "<p>{}</p>", Esc(&e.to_string()));
        }
    }
    o.push_str("</details>\n</section>\n");
}

/// Attempts not scored, by reason, and skipped records, by reason.
fn not_scored(o: &mut String, a: &Analysis) {
    let s = &a.summary;
    if !s.suppressed.is_empty() {
        o.push_str("<h3>Not scored</h3>\n<table><thead><tr><th>why</th><th>attempts</th><th>of which would score</th></tr></thead><tbody>\n");
        for (why, n) in s.suppressed.iter().take(MAX_ROWS) {
            let would = s.suppressed_with_tier.get(why).copied().unwrap_or(0);
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{would}</td></tr>",
                Esc(why)
            );
        }
        o.push_str("</tbody></table>\n");
    }
    if s.skipped.total() > 0 || s.odd_origlen > 0 {
        o.push_str("<h3>Skipped records</h3>\n<table><thead><tr><th>reason</th><th>records</th></tr></thead><tbody>\n");
        for (r, n) in s.skipped.nonzero() {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
                r.name()
            );
        }
        if s.odd_origlen > 0 {
            let _ = writeln!(
                o,
                "<tr><td>odd_origlen (decoded anyway)</td><td class=\"num\">{}</td></tr>",
                s.odd_origlen
            );
        }
        o.push_str("</tbody></table>\n");
    }
}

/// What happened to each input: unreadable ones first.
fn inputs(o: &mut String, a: &Analysis) {
    o.push_str("<h3>Inputs</h3>\n");
    let mut order: Vec<usize> = (0..a.inputs.len()).collect();
    order.sort_by_key(|&i| (a.inputs[i].error.is_none(), a.inputs[i].note.is_none(), i));
    order.truncate(MAX_ROWS);
    table_open(
        o,
        "inputs",
        &[
            Col("input", TEXT),
            Col("format", TEXT),
            Col("packets", NUM),
            Col("bytes", NUM),
            Col("TCP", NUM),
            Col("SYNs", NUM),
            Col("SYN-ACKs", NUM),
            Col("skipped", TEXT),
            Col("flows", NUM),
            Col("Sysmon", NUM),
            Col("status", TEXT),
        ],
    );
    for &i in &order {
        let r = &a.inputs[i];
        let _ = write!(o, "<tr><td class=\"wrap mono\">{}</td>", Esc(&r.input));
        opt_cell(o, r.format);
        num_cell(o, r.packets);
        num_cell(o, r.bytes);
        num_cell(o, r.tcp);
        num_cell(o, r.syns);
        num_cell(o, r.synacks);
        let skipped: Vec<String> = r
            .skipped
            .nonzero()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        opt_cell(
            o,
            (!skipped.is_empty()).then(|| skipped.join(", ")).as_deref(),
        );
        num_cell(o, r.flows.as_ref().map_or(0, |f| f.records));
        num_cell(o, r.sysmon.as_ref().map_or(0, |y| y.kept()));
        match (&r.error, &r.note) {
            (Some(e), _) => {
                let _ = write!(o, "<td class=\"wrap sev-High\">unreadable: {}</td>", Esc(e));
            }
            (None, Some(n)) => {
                let _ = write!(o, "<td class=\"wrap\">{}</td>", Esc(n));
            }
            (None, None) => o.push_str("<td>read</td>"),
        }
        o.push_str("</tr>\n");
    }
    table_close(o);
    cut_note(o, order.len(), a.inputs.len(), "inputs");
}

/// The warnings the readers kept (a few per reason per input), and how
/// many more each reason had.
fn warnings(o: &mut String, a: &Analysis) {
    let total: usize = a.inputs.iter().map(|r| r.warnings.len()).sum();
    let dropped: usize = a
        .inputs
        .iter()
        .flat_map(|r| r.warnings_dropped.iter().map(|(_, n)| n))
        .sum();
    if total == 0 && dropped == 0 {
        return;
    }
    o.push_str("<h3>Warnings</h3>\n");
    table_open(
        o,
        "warnings",
        &[
            Col("input", TEXT),
            Col("reason", TEXT),
            Col("offset", NUM),
            Col("frame", NUM),
            Col("message", TEXT),
        ],
    );
    let mut shown = 0;
    for r in &a.inputs {
        for w in &r.warnings {
            if shown == MAX_ROWS {
                break;
            }
            shown += 1;
            let _ = write!(
                o,
                "<tr><td class=\"wrap mono\">{}</td><td>{}</td>",
                Esc(&r.input),
                Esc(w.reason)
            );
            num_cell(o, w.offset);
            match w.frame {
                Some(f) => num_cell(o, f),
                None => o.push_str("<td class=\"muted\">–</td>"),
            }
            let _ = writeln!(o, "<td class=\"wrap\">{}</td></tr>", Esc(&w.message));
        }
    }
    table_close(o);
    cut_note(o, shown, total, "warnings");
    for r in &a.inputs {
        for (reason, n) in &r.warnings_dropped {
            let _ = writeln!(
                o,
                "<p class=\"muted\">{}: {n} more {} warning(s) not kept (all are counted).</p>",
                Esc(&r.input),
                Esc(reason)
            );
        }
    }
}

/// A JSON value as nested tables and lists.
fn json(o: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => o.push('–'),
        Value::Bool(b) => o.push_str(if *b { "yes" } else { "no" }),
        Value::Number(n) => {
            let _ = write!(o, "{}", Esc(&n.to_string()));
        }
        Value::String(s) => {
            let _ = write!(o, "{}", Esc(s));
        }
        Value::Array(items) if items.is_empty() => o.push('–'),
        Value::Array(items) => {
            o.push_str("<ol>");
            for x in items.iter().take(MAX_ROWS) {
                o.push_str("<li>");
                json(o, x);
                o.push_str("</li>");
            }
            o.push_str("</ol>");
            if items.len() > MAX_ROWS {
                let _ = write!(o, "<p>… and {} more</p>", items.len() - MAX_ROWS);
            }
        }
        Value::Object(m) if m.is_empty() => o.push('–'),
        Value::Object(m) => {
            o.push_str("<table class=\"kv inner\"><tbody>");
            for (k, x) in m {
                let _ = write!(o, "<tr><td>{}</td><td>", Esc(k));
                json(o, x);
                o.push_str("</td></tr>");
            }
            o.push_str("</tbody></table>");
        }
    }
}
