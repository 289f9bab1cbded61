//! Inline SVG: the drawing helpers the plots share, and a beacon's plot
//! (its intervals over time, and as a histogram against the fitted
//! period). Plots are drawn at a fixed resolution: ticks that fall on the
//! same column are one path segment, so a plot's size is bounded by its
//! width, not by how many attempts it shows.

use std::fmt::Write as _;

use super::{escape, finite};
use crate::analysis::beacon::{human_secs, Beacon, BeaconConfig};
use crate::findings::Analysis;
use crate::time::Ts;

/// Intervals drawn as points in one beacon plot: every k-th one past this
/// (the histogram still counts them all). Two thousand points already
/// overlap at the plot's width.
pub const MAX_PLOTTED_INTERVALS: usize = 2_000;

/// A number for an SVG coordinate: one decimal, and 0 for what is not a
/// number (a coordinate from a degenerate fit must not break the plot).
pub(super) fn c(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "0".to_string()
    }
}

/// The time of day (or the date and minute, past two days) for an axis.
pub(super) fn axis_time(t: Ts, span_ns: i64) -> String {
    let s = t.to_string();
    let part = if span_ns >= 2 * 86_400 * Ts::NANOS_PER_SEC {
        s.get(5..16)
    } else {
        s.get(11..19)
    };
    part.map_or(s.clone(), |p| p.replace('T', " "))
}

/// A marker of ticks per pixel column: the columns set, in order.
pub(super) struct Columns(Vec<bool>);

impl Columns {
    pub(super) fn new(n: usize) -> Self {
        Columns(vec![false; n])
    }

    pub(super) fn set(&mut self, col: usize) {
        if let Some(c) = self.0.get_mut(col) {
            *c = true;
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, &on)| on)
            .map(|(i, _)| i)
    }
}

/// Where `t` falls among `cols` columns spanning `t0` to `t0 + span`.
pub(super) fn column(t: Ts, t0: Ts, span: i64, cols: usize) -> usize {
    if span <= 0 || cols == 0 {
        return cols / 2;
    }
    let f = (i128::from(t.0) - i128::from(t0.0)) as f64 / span as f64;
    ((f * (cols - 1) as f64).round().max(0.0) as usize).min(cols.saturating_sub(1))
}

// ---------------------------------------------------------------------------
// Beacon plot.

const B_W: f64 = 720.0;
const B_LEFT: f64 = 64.0;
const B_RIGHT: f64 = 16.0;
/// Panel of intervals over time: top and height.
const B_GAP_TOP: f64 = 28.0;
const B_GAP_H: f64 = 120.0;
/// The strip of beats under it.
const B_BEAT_TOP: f64 = 156.0;
/// The histogram: top and height.
const B_HIST_TOP: f64 = 214.0;
const B_HIST_H: f64 = 66.0;
const B_H: f64 = 304.0;
/// The intervals axis and the histogram reach this many periods.
const B_PERIODS: f64 = 3.25;

/// The beats of a beacon as the detector saw them: its attempts' times,
/// sorted, with attempts closer than the coalescing window to the last
/// beat merged into it.
fn beats(a: &Analysis, b: &Beacon) -> Vec<Ts> {
    let mut ts: Vec<Ts> = b
        .attempts
        .iter()
        .filter_map(|&i| a.attempts.get(i).map(|at| at.ts))
        .collect();
    ts.sort_unstable();
    let window = BeaconConfig::default().coalesce.0;
    let mut out: Vec<Ts> = Vec::with_capacity(ts.len());
    for t in ts {
        if out
            .last()
            .is_some_and(|l| i128::from(t.0) - i128::from(l.0) < i128::from(window))
        {
            continue;
        }
        out.push(t);
    }
    out
}

/// One beacon: intervals over time (with the period and the fitted jitter
/// band), the beats on the time axis, and the histogram of intervals in
/// quarter periods with the period marked.
pub(super) fn beacon_plot(o: &mut String, a: &Analysis, b: &Beacon) {
    let beats = beats(a, b);
    let p = b.fit.period_s;
    let pw = B_W - B_LEFT - B_RIGHT;
    let label = format!(
        "Intervals of the beacon from {} to port {}: period {}, {} beats",
        b.src,
        b.dport,
        human_secs(finite(p)),
        beats.len()
    );
    let _ = write!(
        o,
        "<svg class=\"beacon-plot\" viewBox=\"0 0 {B_W} {B_H}\" width=\"{B_W}\" height=\"{B_H}\" \
         role=\"img\" aria-label=\"{0}\"><title>{0}</title>",
        escape(&label)
    );
    let (Some(&t0), Some(&t1)) = (beats.first(), beats.last()) else {
        o.push_str("<text x=\"10\" y=\"20\">no beats</text></svg>\n");
        return;
    };
    let span = (i128::from(t1.0) - i128::from(t0.0)).clamp(0, i128::from(i64::MAX)) as i64;
    let x_of = |t: Ts| {
        if span == 0 {
            B_LEFT + pw / 2.0
        } else {
            B_LEFT + ((i128::from(t.0) - i128::from(t0.0)) as f64 / span as f64) * pw
        }
    };
    let gaps: Vec<(Ts, f64)> = beats
        .windows(2)
        .map(|w| {
            let g = (i128::from(w[1].0) - i128::from(w[0].0)) as f64 / Ts::NANOS_PER_SEC as f64;
            (w[1], g)
        })
        .collect();
    let period_ok = p.is_finite() && p > 0.0;
    let ymax = if period_ok {
        B_PERIODS * p
    } else {
        gaps.iter().map(|g| g.1).fold(1.0, f64::max)
    };
    let bottom = B_GAP_TOP + B_GAP_H;
    let y_of = |g: f64| bottom - (g.min(ymax) / ymax) * B_GAP_H;

    // Intervals over time.
    let _ = write!(
        o,
        "<text x=\"{B_LEFT}\" y=\"18\">interval before each beat, over time</text>"
    );
    if period_ok {
        let j = b.fit.jitter.clamp(0.0, 1.0);
        let (hi, lo) = (y_of(p * (1.0 + j)), y_of(p * (1.0 - j)));
        let _ = write!(
            o,
            "<rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>the fitted jitter: ±{:.0} % of the period</title></rect>",
            c(B_LEFT),
            c(hi),
            c(pw),
            c((lo - hi).max(0.0)),
            j * 100.0
        );
        for m in 1..=3 {
            let y = y_of(p * f64::from(m));
            let class = if m == 1 { "period" } else { "multiple" };
            let name = if m == 1 {
                format!("P = {}", human_secs(p))
            } else {
                format!("{m}P")
            };
            let _ = write!(
                o,
                "<line class=\"{class}\" x1=\"{}\" x2=\"{}\" y1=\"{2}\" y2=\"{2}\"/>\
                 <text class=\"lbl\" x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{name}</text>",
                c(B_LEFT),
                c(B_LEFT + pw),
                c(y),
                c(B_LEFT - 4.0),
                c(y + 4.0)
            );
        }
    }
    let _ = write!(
        o,
        "<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>\
         <line class=\"axis\" x1=\"{0}\" x2=\"{3}\" y1=\"{2}\" y2=\"{2}\"/>\
         <text class=\"lbl\" x=\"{4}\" y=\"{5}\" text-anchor=\"end\">0</text>",
        c(B_LEFT),
        c(B_GAP_TOP),
        c(bottom),
        c(B_LEFT + pw),
        c(B_LEFT - 4.0),
        c(bottom + 4.0)
    );
    let stride = gaps.len().div_ceil(MAX_PLOTTED_INTERVALS).max(1);
    let (mut inside, mut over) = (String::new(), String::new());
    for &(t, g) in gaps.iter().step_by(stride) {
        let x = x_of(t);
        if g > ymax {
            let _ = write!(over, "M{} {}l3 6h-6z", c(x), c(B_GAP_TOP));
        } else {
            let _ = write!(inside, "M{} {}h3v3h-3z", c(x - 1.5), c(y_of(g) - 1.5));
        }
    }
    if !inside.is_empty() {
        let _ = write!(o, "<path class=\"gap\" d=\"{inside}\"/>");
    }
    if !over.is_empty() {
        let _ = write!(
            o,
            "<path class=\"over\" d=\"{over}\"><title>intervals longer than {B_PERIODS} periods</title></path>"
        );
    }

    // The beats on the time axis.
    let cols = pw as usize + 1;
    let mut on = Columns::new(cols);
    for &t in &beats {
        on.set(column(t, t0, span, cols));
    }
    o.push_str("<path class=\"beat\" d=\"");
    for col in on.iter() {
        let _ = write!(o, "M{} {}v12", c(B_LEFT + col as f64), c(B_BEAT_TOP));
    }
    let _ = write!(
        o,
        "\"><title>{} beats</title></path>\
         <text class=\"lbl\" x=\"{}\" y=\"{}\">{}</text>\
         <text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"end\">+{}</text>",
        beats.len(),
        c(B_LEFT),
        c(B_BEAT_TOP + 26.0),
        t0.to_string().get(..19).unwrap_or("").replace('T', " "),
        c(B_LEFT + pw),
        c(B_BEAT_TOP + 26.0),
        human_secs(span as f64 / Ts::NANOS_PER_SEC as f64)
    );
    if stride > 1 {
        let _ = write!(
            o,
            "<text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">every {stride}th of {} intervals drawn</text>",
            c(B_LEFT + pw / 2.0),
            c(B_BEAT_TOP + 26.0),
            gaps.len()
        );
    }

    // The histogram against the period.
    let hist_bottom = B_HIST_TOP + B_HIST_H;
    let _ = write!(
        o,
        "<text x=\"{}\" y=\"{}\">intervals in quarter periods ({} in all)</text>",
        c(B_LEFT),
        c(B_HIST_TOP - 14.0),
        gaps.len()
    );
    if period_ok {
        let hx = |s: f64| B_LEFT + (s / p).clamp(0.0, B_PERIODS) / B_PERIODS * pw;
        let most = b
            .histogram
            .iter()
            .map(|h| h.count)
            .max()
            .unwrap_or(0)
            .max(1);
        for h in &b.histogram {
            let (x0, x1) = (
                hx(h.lo_s),
                hx(if h.hi_s.is_finite() {
                    h.hi_s
                } else {
                    B_PERIODS * p
                }),
            );
            // Room above the highest bar for its count.
            let hgt = f64::from(h.count) / f64::from(most) * (B_HIST_H - 12.0);
            let range = if h.hi_s.is_finite() {
                format!("{} – {}", human_secs(h.lo_s), human_secs(h.hi_s))
            } else {
                format!("{} and longer", human_secs(h.lo_s))
            };
            let _ = write!(
                o,
                "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{range}: {} intervals</title></rect>\
                 <text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(x0 + 1.0),
                c(hist_bottom - hgt),
                c((x1 - x0 - 2.0).max(1.0)),
                c(hgt),
                h.count,
                c((x0 + x1) / 2.0),
                c(hist_bottom - hgt - 3.0),
                h.count
            );
        }
        for m in 1..=3 {
            let x = hx(p * f64::from(m));
            let class = if m == 1 { "period" } else { "multiple" };
            let _ = write!(
                o,
                "<line class=\"{class}\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>",
                c(x),
                c(B_HIST_TOP),
                c(hist_bottom)
            );
        }
        let _ = write!(
            o,
            "<line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{2}\" y2=\"{2}\"/>",
            c(B_LEFT),
            c(B_LEFT + pw),
            c(hist_bottom)
        );
        for (at, name) in [(0.0, "0"), (1.0, "P"), (2.0, "2P"), (3.0, "3P")] {
            let _ = write!(
                o,
                "<text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{name}</text>",
                c(hx(p * at)),
                c(hist_bottom + 14.0)
            );
        }
    }
    o.push_str("</svg>\n");
}
