//! Every connection attempt with its verdict: the most suspicious, up to
//! the bound.

use std::fmt::Write as _;

use super::findings::{carried, details, mismatch_text, EvidenceKey};
use super::{
    cut_note, input_name, ip_cell, num_cell, opt_cell, table_close, table_open, ts_cell, Col, Esc,
    MAX_ROWS, NUM, TEXT,
};
use crate::findings::Analysis;

/// Indices of the [`MAX_ROWS`] most suspicious attempts, most suspicious
/// first: highest tier, a port mismatch, scored before suppressed, then
/// time and place in the run.
pub(super) fn most_suspicious(a: &Analysis) -> Vec<usize> {
    let key = |i: usize| {
        let v = &a.verdicts[i];
        (
            std::cmp::Reverse(v.tier),
            v.port_mismatch != Some(true),
            v.suppressed.is_some(),
            a.attempts[i].ts,
            i,
        )
    };
    let n = a.attempts.len().min(a.verdicts.len());
    let mut idx: Vec<usize> = (0..n).collect();
    if idx.len() > MAX_ROWS {
        idx.select_nth_unstable_by_key(MAX_ROWS - 1, |&i| key(i));
        idx.truncate(MAX_ROWS);
    }
    idx.sort_unstable_by_key(|&i| key(i));
    idx
}

pub(super) fn attempts(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"attempts\">\n<h2>Connection attempts</h2>\n<p class=\"muted\">Most suspicious first: highest tier, then port mismatches, then scored before suppressed, then time.</p>\n");
    let shown = most_suspicious(a);
    table_open(
        o,
        "attempts-table",
        &[
            Col("time", TEXT),
            Col("source", TEXT),
            Col("sport", NUM),
            Col("destination", TEXT),
            Col("dport", NUM),
            Col("answered", TEXT),
            Col("retx", NUM),
            Col("scope", TEXT),
            Col("tier", NUM),
            Col("suppressed", TEXT),
            Col("state", TEXT),
            Col("service", TEXT),
            Col("mismatch", TEXT),
            Col("reason", TEXT),
            Col("carried", TEXT),
            Col("host", TEXT),
            Col("image", TEXT),
            Col("user", TEXT),
            Col("parent image", TEXT),
            Col("flow", TEXT),
            Col("Community ID", TEXT),
            Col("input", TEXT),
            Col("frame", NUM),
        ],
    );
    for &i in &shown {
        let (at, v) = (&a.attempts[i], &a.verdicts[i]);
        o.push_str("<tr>");
        ts_cell(o, at.ts);
        ip_cell(o, &at.tuple.src);
        num_cell(o, at.tuple.sport);
        ip_cell(o, &at.tuple.dst);
        num_cell(o, at.tuple.dport);
        o.push_str(if at.answered {
            "<td>yes</td>"
        } else {
            "<td>no</td>"
        });
        num_cell(o, at.retransmits);
        let _ = write!(o, "<td>{}</td>", v.scope.name());
        num_cell(o, v.tier);
        opt_cell(o, v.suppressed.as_ref().map(|s| s.label()).as_deref());
        opt_cell(o, at.conn.as_ref().map(|c| c.state));
        let key = EvidenceKey::of(at, v);
        let service = key.service.map(|s| match key.upgraded_to {
            Some(u) => format!("{s} then {u}"),
            None => s.to_string(),
        });
        opt_cell(o, service.as_deref());
        let _ = write!(o, "<td>{}</td>", mismatch_text(v.port_mismatch));
        opt_cell(o, v.reason.as_deref());
        if details(&key).is_empty() {
            o.push_str("<td class=\"muted\">–</td>");
        } else {
            o.push_str("<td class=\"wrap carried\">");
            carried(o, &key);
            o.push_str("</td>");
        }
        let p = at.process.as_deref();
        opt_cell(o, p.and_then(|p| p.host.as_deref()));
        opt_cell(o, p.and_then(|p| p.image.as_deref()));
        opt_cell(o, p.and_then(|p| p.user.as_deref()));
        opt_cell(o, p.and_then(|p| p.parent_image.as_deref()));
        let flow = at.flow.as_deref().map(|f| {
            let sampled = f
                .sampling
                .map(|s| format!(", 1:{s} sampled"))
                .unwrap_or_default();
            format!(
                "v{} {} packets, {} bytes, {} ms{sampled}, exporter {}",
                f.version,
                f.packets,
                f.bytes,
                f.duration_ms,
                f.exporter
                    .map_or_else(|| "file".to_string(), |e| e.to_string())
            )
        });
        opt_cell(o, flow.as_deref());
        let _ = write!(
            o,
            "<td class=\"mono t\">{}</td><td class=\"wrap mono\">{}</td>",
            at.tuple.community_id(),
            Esc(input_name(a, at))
        );
        num_cell(o, at.origin.frame);
        o.push_str("</tr>\n");
    }
    table_close(o);
    cut_note(o, shown.len(), a.attempts.len(), "attempts");
    o.push_str("</section>\n");
}
