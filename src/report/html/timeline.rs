//! The per-host timeline: each host's attempts on one time axis, coloured
//! by tier, the hosts with the highest tier first.

use std::fmt::Write as _;
use std::net::IpAddr;

use hashbrown::HashMap;

use super::svg::{axis_time, c, column, Columns};
use super::{grouped, Esc, MAX_TIMELINE_HOSTS};
use crate::event::Attempt;
use crate::findings::{Analysis, Verdict};
use crate::time::Ts;

/// Who made an attempt, as the findings name hosts: the Sysmon host name,
/// else the source address (kept as an address: no text per attempt).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum HostRef<'a> {
    Name(&'a str),
    Addr(IpAddr),
}

impl<'a> HostRef<'a> {
    pub(super) fn of(at: &'a Attempt) -> Self {
        match at.process.as_deref().and_then(|p| p.host.as_deref()) {
            Some(h) => HostRef::Name(h),
            None => HostRef::Addr(at.tuple.src),
        }
    }

    fn label(&self) -> String {
        match self {
            HostRef::Name(h) => h.to_string(),
            HostRef::Addr(a) => a.to_string(),
        }
    }
}

/// One host's attempts, for ranking: its highest scored tier, how many
/// scored at tier 1 or above, how many in all.
#[derive(Clone, Copy, Default)]
struct HostTally {
    tier: u8,
    reported: u64,
    total: u64,
}

pub(super) fn timeline(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    let mut hosts: HashMap<HostRef, HostTally> = HashMap::new();
    for (at, v) in a.attempts.iter().zip(&a.verdicts) {
        let t = hosts.entry(HostRef::of(at)).or_default();
        t.total += 1;
        if v.suppressed.is_none() {
            t.tier = t.tier.max(v.tier);
            t.reported += u64::from(v.tier > 0);
        }
    }
    if hosts.is_empty() {
        o.push_str("<p>No connection attempts.</p>\n</section>\n");
        return;
    }
    let mut ranked: Vec<(HostRef, HostTally)> = hosts.into_iter().collect();
    ranked.sort_by(|(ha, a), (hb, b)| {
        b.tier
            .cmp(&a.tier)
            .then(b.reported.cmp(&a.reported))
            .then(b.total.cmp(&a.total))
            .then(ha.cmp(hb))
    });
    let all = ranked.len();
    ranked.truncate(MAX_TIMELINE_HOSTS);
    let _ = writeln!(
        o,
        "<p class=\"muted\">Each host's connection attempts on one time axis, one tick per attempt \
         (at the plot's resolution), coloured by tier; the hosts with the highest tier first.</p>\n\
         <p class=\"legend\"><span><i style=\"background:#c92a2a\"></i>tier 3</span>\
         <span><i style=\"background:#e8590c\"></i>tier 2</span>\
         <span><i style=\"background:#b08400\"></i>tier 1</span>\
         <span><i style=\"background:#8a8f98\"></i>tier 0</span>\
         <span><i style=\"background:#c3c7cd\"></i>not scored</span></p>"
    );
    let rows: Vec<HostRow> = ranked
        .iter()
        .map(|(h, t)| HostRow {
            host: *h,
            label: h.label(),
            tier: t.tier,
            reported: t.reported,
            total: t.total,
        })
        .collect();
    draw(o, a, &rows);
    if all > rows.len() {
        let _ = writeln!(
            o,
            "<p class=\"note cut\">{} of {} hosts drawn (the bound is {MAX_TIMELINE_HOSTS}); {} hosts with fewer or lower-tier attempts are left out.</p>",
            rows.len(),
            grouped(all as u64),
            grouped((all - rows.len()) as u64)
        );
    }
    o.push_str("</section>\n");
}

/// Severity classes of the timeline's ticks: not scored, then tiers 0–3.
pub(super) fn tick_class(v: &Verdict) -> usize {
    if v.suppressed.is_some() {
        0
    } else {
        1 + usize::from(v.tier.min(3))
    }
}

// ---------------------------------------------------------------------------
// Drawing.

/// One host of the timeline.
struct HostRow<'a> {
    host: HostRef<'a>,
    label: String,
    tier: u8,
    reported: u64,
    total: u64,
}

const T_W: f64 = 1000.0;
const T_LABEL: f64 = 200.0;
const T_RIGHT: f64 = 16.0;
const T_TOP: f64 = 6.0;
const T_ROW: f64 = 18.0;
/// Characters of a host name in the label column (the tooltip has it all).
const T_LABEL_CHARS: usize = 28;

/// The hosts' attempts on one time axis, a row per host, a tick per
/// attempt and pixel column, coloured by [`tick_class`].
fn draw(o: &mut String, a: &Analysis, rows: &[HostRow]) {
    let index: HashMap<HostRef, usize> =
        rows.iter().enumerate().map(|(i, r)| (r.host, i)).collect();
    let mut range: Option<(Ts, Ts)> = None;
    for at in &a.attempts {
        if index.contains_key(&HostRef::of(at)) {
            range = Some(match range {
                None => (at.ts, at.ts),
                Some((lo, hi)) => (lo.min(at.ts), hi.max(at.ts)),
            });
        }
    }
    let Some((t0, t1)) = range else {
        return;
    };
    let span = (i128::from(t1.0) - i128::from(t0.0)).clamp(0, i128::from(i64::MAX)) as i64;
    let pw = T_W - T_LABEL - T_RIGHT;
    let cols = pw as usize + 1;
    let mut ticks: Vec<[Columns; 5]> = rows
        .iter()
        .map(|_| std::array::from_fn(|_| Columns::new(cols)))
        .collect();
    for (at, v) in a.attempts.iter().zip(&a.verdicts) {
        if let Some(&r) = index.get(&HostRef::of(at)) {
            ticks[r][tick_class(v)].set(column(at.ts, t0, span, cols));
        }
    }
    let h = T_TOP + rows.len() as f64 * T_ROW + 30.0;
    let _ = write!(
        o,
        "<svg class=\"timeline\" viewBox=\"0 0 {T_W} {0}\" width=\"{T_W}\" height=\"{0}\" role=\"img\" \
         aria-label=\"Connection attempts of {1} hosts over time\"><title>Connection attempts of {1} hosts over time</title><g class=\"rows\">",
        c(h),
        rows.len()
    );
    for (r, (row, classes)) in rows.iter().zip(&ticks).enumerate() {
        let y = T_TOP + r as f64 * T_ROW;
        let short: String = if row.label.chars().count() > T_LABEL_CHARS {
            let mut s: String = row.label.chars().take(T_LABEL_CHARS - 1).collect();
            s.push('…');
            s
        } else {
            row.label.clone()
        };
        let _ = write!(
            o,
            "<g class=\"row\"><title>{}: {} attempts, {} scored at tier 1 or above, highest tier {}</title>\
             <rect class=\"bg\" x=\"0\" y=\"{}\" width=\"{T_W}\" height=\"{T_ROW}\"/>\
             <text class=\"host\" x=\"4\" y=\"{}\">{}</text>",
            Esc(&row.label),
            row.total,
            row.reported,
            row.tier,
            c(y),
            c(y + 13.0),
            Esc(&short)
        );
        for (k, on) in classes.iter().enumerate() {
            let mut d = String::new();
            for col in on.iter() {
                let _ = write!(d, "M{} {}v12", c(T_LABEL + col as f64), c(y + 3.0));
            }
            if !d.is_empty() {
                let _ = write!(o, "<path class=\"c{k}\" d=\"{d}\"/>");
            }
        }
        o.push_str("</g>");
    }
    let axis_y = T_TOP + rows.len() as f64 * T_ROW + 4.0;
    let _ = write!(
        o,
        "</g><line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{2}\" y2=\"{2}\"/>",
        c(T_LABEL),
        c(T_LABEL + pw),
        c(axis_y)
    );
    let marks: &[f64] = if span == 0 {
        &[0.5]
    } else {
        &[0.0, 0.25, 0.5, 0.75, 1.0]
    };
    for &f in marks {
        let t = Ts(t0.0.saturating_add((span as f64 * f) as i64));
        let anchor = match f {
            0.0 => "start",
            1.0 => "end",
            _ => "middle",
        };
        let _ = write!(
            o,
            "<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>\
             <text class=\"lbl\" x=\"{0}\" y=\"{3}\" text-anchor=\"{anchor}\">{4}</text>",
            c(T_LABEL + f * pw),
            c(axis_y),
            c(axis_y + 4.0),
            c(axis_y + 18.0),
            axis_time(t, span)
        );
    }
    let _ = writeln!(o, "</svg>\n<p class=\"muted\">From {t0} to {t1} (UTC).</p>");
}
