//! The beacon model: how likely a series of beat times is under a timer
//! and under random arrivals, the threshold on their ratio, and the bound
//! that settles most series before the full fit. Pure arithmetic on beat
//! times, whatever the attempts came from; [`super`] builds the series.

/// Periods shorter than this are not beacons portent reports: attempts
/// closer than the coalescing window are one beat, and sub-second "timers"
/// are retries and bursts.
pub const MIN_PERIOD_S: f64 = 2.0;

/// Share of gaps the timer model allows to be stray (an extra manual
/// connection, a beat delayed by a sleeping host).
const STRAY: f64 = 0.03;

/// Jitter values (fractions of the period, ±) the fit tries.
const JITTER_GRID: [f64; 10] = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8];

/// Missed-beat rates the fit tries.
const MISS_GRID: [f64; 6] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5];

/// The fit of one series of beat times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub beats: usize,
    pub period_s: f64,
    /// 95th percentile of |gap / (m·P) − 1| over the gaps: the jitter as a
    /// fraction of the period.
    pub jitter: f64,
    /// Share of expected beats that did not come.
    pub missed: f64,
    /// Log-likelihood ratio, timer against random arrivals.
    pub llr: f64,
    /// What [`Fit::llr`] must reach for this many gaps.
    pub threshold: f64,
    /// Regularity in [0, 1]; at least 0.5 exactly when `llr >= threshold`.
    pub score: f64,
}

impl Fit {
    pub fn is_beacon(&self) -> bool {
        self.llr >= self.threshold && self.period_s >= MIN_PERIOD_S
    }
}

/// The log-likelihood ratio a series with `gaps` intervals must reach.
///
/// The 99.99th percentile of the ratio for Poisson series of that many gaps
/// (200,000 series per size up to 30 gaps, 50,000 above, from
/// `beacon_eval --calibrate`), rounded up, plus a margin of about 1; never
/// below 3 (a timer at least 20 times likelier than random arrivals). The
/// ratio of random series falls as they get longer, because a timer explains
/// long random series ever worse: at 50 gaps the 99.99th percentile is −9.
pub fn threshold(gaps: usize) -> f64 {
    // (gaps, threshold) knots; linear in between, flat beyond the ends.
    const KNOTS: [(usize, f64); 10] = [
        (5, 14.0),
        (6, 13.5),
        (8, 13.0),
        (10, 12.0),
        (15, 11.5),
        (20, 9.5),
        (30, 6.0),
        (50, 3.0),
        (100, 3.0),
        (200, 3.0),
    ];

    if gaps <= KNOTS[0].0 {
        return KNOTS[0].1;
    }
    for w in KNOTS.windows(2) {
        let ((g0, t0), (g1, t1)) = (w[0], w[1]);
        if gaps <= g1 {
            return t0 + (t1 - t0) * (gaps - g0) as f64 / (g1 - g0) as f64;
        }
    }
    KNOTS[KNOTS.len() - 1].1
}

/// Fits a series of beat times (seconds, sorted ascending, at least two).
/// `dead_s` is the shortest gap the series can hold (the coalescing window:
/// attempts closer than it were merged), which the random model must know or
/// short bursts look more regular than random traffic really is.
/// `scratch` is reused between calls to avoid allocating per series.
pub fn fit(beats: &[f64], dead_s: f64, scratch: &mut Scratch) -> Option<Fit> {
    let span = gaps_into(beats, &mut scratch.gaps)?;
    let gaps: &[f64] = &scratch.gaps;
    let k = gaps.len();
    let ll_random = ll_random(gaps, span / k as f64, dead_s);
    let mut best: Option<(f64, f64, f64)> = None; // (ll, period, jitter)
    for p in periods(gaps, &mut scratch.sorted) {
        let (ll, j) = ll_timer(gaps, p, span);
        if best.is_none_or(|(b, _, _)| ll > b) {
            best = Some((ll, p, j));
        }
    }
    let (ll_timer, fitted, j) = best?;
    // Each gap's beat count under the fitted period (a gap within the fitted
    // jitter of one period is one beat, even past 1.5 periods); the period
    // reported is the least-squares one for those counts, which is the mean
    // gap when no beat was missed, whichever candidate won.
    let beats_of = |g: f64| {
        if (g - fitted).abs() <= j * fitted {
            1
        } else {
            beats_in(g, fitted)
        }
    };
    // Saturating: a gap of more than 2^64 periods must not wrap the count.
    let expected: u64 = gaps
        .iter()
        .fold(0u64, |n, &g| n.saturating_add(beats_of(g)));
    let period = span / expected as f64;
    // The gaps are not needed past here: each becomes its deviation in
    // place (no allocation per series), and the 95th percentile is selected.
    for g in scratch.gaps.iter_mut() {
        *g = (*g / (beats_of(*g) as f64 * period) - 1.0).abs();
    }
    let q = ((k - 1) as f64 * 0.95).round() as usize;
    let jitter = *scratch.gaps.select_nth_unstable_by(q, f64::total_cmp).1;
    let llr = ll_timer - ll_random;
    let threshold = threshold(k);
    Some(Fit {
        beats: beats.len(),
        period_s: period,
        jitter,
        missed: (expected - k as u64) as f64 / expected as f64,
        llr,
        threshold,
        score: 1.0 / (1.0 + (-(llr - threshold) / 4.0).exp()),
    })
}

/// The fit of `beats` when it is a beacon ([`Fit::is_beacon`]), else
/// `None`: the decision [`detect`] makes. Most series are not beacons, and
/// [`may_be_beacon`] tells most of those apart at a fraction of the cost
/// of the full fit; the answer is the same as `fit(..).filter(is_beacon)`.
pub fn fit_beacon(beats: &[f64], dead_s: f64, scratch: &mut Scratch) -> Option<Fit> {
    if !may_be_beacon(beats, dead_s, scratch) {
        return None;
    }
    fit(beats, dead_s, scratch).filter(Fit::is_beacon)
}

/// False only when [`fit`] cannot find a beacon in `beats`, from bounds
/// that cost a fraction of the fit:
///
/// - the reported period is the span over the expected beats, at least one
///   per gap, so a mean gap below [`MIN_PERIOD_S`] rules a beacon out;
/// - the timer's likelihood is at most [`ll_timer_bound`] (arithmetic and
///   a table per gap where the fit takes an exponential and six
///   logarithms), and the random model's is what [`ll_random`] gives, at
///   least the Poisson one (closed form, tried first): when the timer's
///   bound cannot reach [`threshold`] above it, neither can the fit.
pub fn may_be_beacon(beats: &[f64], dead_s: f64, scratch: &mut Scratch) -> bool {
    let Some(span) = gaps_into(beats, &mut scratch.gaps) else {
        return false;
    };
    let k = scratch.gaps.len() as f64;
    if span / k < MIN_PERIOD_S {
        return false;
    }
    let Scratch {
        gaps,
        sorted,
        bound,
    } = scratch;
    let timer = periods(gaps, sorted)
        .map(|p| ll_timer_bound(gaps, p, span, bound))
        .fold(f64::NEG_INFINITY, f64::max);
    // The bounds are sums in another order than the fit's: a margin far
    // above their rounding keeps the test one-sided.
    let reaches = |random: f64| {
        let margin = 1e-9 * (timer.abs() + random.abs()) + 1e-9;
        timer - random + margin >= threshold(gaps.len())
    };
    // The Poisson likelihood first (closed form), the two-rate fit only
    // when that does not settle it.
    reaches(ll_poisson(k, span / k, dead_s)) && reaches(ll_random(gaps, span / k, dead_s))
}

/// The gaps between `beats` into `scratch`, and their sum; `None` for fewer
/// than three beats or a span that is not positive and finite.
fn gaps_into(beats: &[f64], scratch: &mut Vec<f64>) -> Option<f64> {
    if beats.len() < 3 {
        return None;
    }
    scratch.clear();
    scratch.extend(beats.windows(2).map(|w| w[1] - w[0]));
    let span: f64 = scratch.iter().sum();
    (span > 0.0 && span.is_finite()).then_some(span)
}

/// Period candidates: the median gap and half of it (more than half the
/// beats missed), each refined over the gaps' beat counts; and the median
/// itself, unrefined: under heavy jitter (beyond ±50 %) the longest gaps
/// of a timer that misses nothing look like two beats, and refining on
/// that reading drags the period down.
fn periods<'a>(gaps: &'a [f64], sorted: &mut Vec<f64>) -> impl Iterator<Item = f64> + 'a {
    let med = median_of(gaps, sorted);
    [(med, true), (med / 2.0, true), (med, false)]
        .into_iter()
        .filter(|&(start, _)| start > 0.0)
        .map(move |(start, refine)| {
            if refine {
                refine_period(gaps, start)
            } else {
                start
            }
        })
}

/// How many beats of period `p` a gap `g` spans (at least one).
#[inline]
fn beats_in(g: f64, p: f64) -> u64 {
    ((g / p).round() as u64).max(1)
}

/// Least-squares period given each gap's beat count, iterated.
fn refine_period(gaps: &[f64], mut p: f64) -> f64 {
    for _ in 0..4 {
        let (mut sum, mut beats) = (0.0, 0u64);
        for &g in gaps {
            sum += g;
            beats = beats.saturating_add(beats_in(g, p));
        }
        let next = sum / beats as f64;
        if (next - p).abs() <= 1e-9 * p {
            break;
        }
        p = next;
    }
    p
}

/// Log-likelihood of `gaps` under the timer model at period `p`, maximised
/// over the jitter and missed-beat grids; with the jitter that maximises it.
///
/// Gaps of one beat that fall inside ±J all have the same density (the
/// jitter is uniform), as do the ones outside (stray), so those are counted
/// per J and take one logarithm each, not one per gap; only gaps spanning
/// missed beats are evaluated one by one.
fn ll_timer(gaps: &[f64], p: f64, span: f64) -> (f64, f64) {
    let floor = STRAY / span;
    let stray = floor.ln();
    let mut best = (f64::NEG_INFINITY, JITTER_GRID[0]);
    for &j in &JITTER_GRID {
        let half = j * p;
        let uniform = 1.0 / (2.0 * half);
        let (mut inside, mut outside) = (0u32, 0u32);
        // (beats spanned, density) of the gaps spanning missed beats.
        let mut multi_ll = [0f64; MISS_GRID.len()];
        for &g in gaps {
            let m = beats_in(g, p);
            if m == 1 {
                if (g - p).abs() <= half {
                    inside += 1;
                } else {
                    outside += 1;
                }
                continue;
            }
            let sd = half * (m as f64 / 3.0).sqrt();
            let z = (g - m as f64 * p) / sd;
            let d = (-0.5 * z * z).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt());
            // Beyond ±50 % jitter a single late beat can be longer than 1.5
            // periods: such a gap is either one beat or several.
            let single = if (g - p).abs() <= half { uniform } else { 0.0 };
            for (qi, &q) in MISS_GRID.iter().enumerate() {
                let pm = if q == 0.0 {
                    0.0
                } else {
                    (1.0 - q) * q.powi((m - 1).min(1000) as i32)
                };
                let x = (1.0 - STRAY) * (pm * d + (1.0 - q) * single);
                multi_ll[qi] += if x > 0.0 { (x + floor).ln() } else { stray };
            }
        }
        for (qi, &q) in MISS_GRID.iter().enumerate() {
            let one = (1.0 - STRAY) * (1.0 - q) * uniform;
            let ll =
                f64::from(inside) * (one + floor).ln() + f64::from(outside) * stray + multi_ll[qi];
            if ll > best.0 {
                best = (ll, j);
            }
        }
    }
    best
}

/// An upper bound of [`ll_timer`] at period `p`, within a few hundredths
/// of a nat per gap spanning missed beats, and without a logarithm or an
/// exponential per gap.
///
/// Each such gap's term in the fit is `ln(a + b)` with `a` its Gaussian
/// density (times the missed-beat and stray factors) and `b` the rest;
/// `ln a` is arithmetic (the density's own logarithm), `ln b` is one of a
/// few constants per jitter and rate, and `ln(a + b)` is the larger of the
/// two plus `ln(1 + e^-|ln a - ln b|)`, which [`softplus_bound`] bounds
/// from a table. The gaps of one beat are counted as in the fit.
///
/// What does not depend on the jitter (each gap's beat count, its distance
/// from one period and from its beats) is worked out once, in `buf`.
fn ll_timer_bound(gaps: &[f64], p: f64, span: f64, buf: &mut BoundBufs) -> f64 {
    const Q: usize = MISS_GRID.len();
    let t = bound_tables();
    let BoundBufs { one_dev, multi } = buf;
    one_dev.clear();
    multi.clear();
    for &g in gaps {
        let m = beats_in(g, p);
        let dev = (g - p).abs();
        if m == 1 {
            one_dev.push(dev);
        } else {
            // z = w / J at jitter J (half = J·p): w is in periods, so its
            // square cannot overflow whatever the scale of the times; ln of
            // the density's normalisation is ln(half) + the rest.
            let s = (m as f64 / 3.0).sqrt();
            multi.push(Multi {
                w: (g / p - m as f64) / s,
                dev,
                ln_s: 0.5 * t.ln_third(m),
                spans: (m - 1).min(1000) as f64,
            });
        }
    }
    let floor = STRAY / span;
    let stray = floor.ln();
    let ln_keep = (1.0 - STRAY).ln();
    let ln_p = p.ln();
    let mut best = f64::NEG_INFINITY;
    for (ji, &j) in JITTER_GRID.iter().enumerate() {
        let half = j * p;
        let ln_half = t.ln_jitter[ji] + ln_p;
        // At least ln of what a gap of one beat inside ±J adds at each
        // rate, ln(c·u + floor) ≤ ln(c·u) + floor / (c·u), with no
        // logarithm of its own: also the `b` of a gap of several beats that
        // could be one late beat (a larger `b` only raises the bound).
        let mut one = [0f64; Q];
        for (qi, o) in one.iter_mut().enumerate() {
            // floor / (c·u), as a ratio of the period to the span.
            let floor_over = STRAY / ((1.0 - STRAY) * (1.0 - MISS_GRID[qi])) * 2.0 * j * (p / span);
            *o = ln_keep + t.ln_keep_rate[qi] - std::f64::consts::LN_2 - ln_half + floor_over;
        }
        let inside = one_dev.iter().filter(|&&d| d <= half).count() as f64;
        let outside = one_dev.len() as f64 - inside;
        let ln_norm = ln_half + 0.5 * (2.0 * std::f64::consts::PI).ln() - ln_keep;
        let inv_j2 = 1.0 / (j * j);
        let mut multi_ll = [0f64; Q];
        // Gaps whose `a` is far above or far below `b = ln(floor)` at every
        // rate (`a` rises with q up to 0.5): their terms are `a + tail` or
        // `b + tail`, summed per rate at the end.
        let (mut hi_n, mut hi_spans, mut hi_ln_d, mut lo_n) = (0.0, 0.0, 0.0, 0.0);
        for g in multi.iter() {
            let ln_d = -0.5 * g.w * g.w * inv_j2 - ln_norm - g.ln_s;
            let single = g.dev <= half;
            if !single {
                let a_lo = t.ln_miss_lo.0 + g.spans * t.ln_miss_lo.1 + ln_d;
                let a_hi = t.ln_miss_hi.0 + g.spans * t.ln_miss_hi.1 + ln_d;
                if a_lo - stray >= SOFTPLUS_END {
                    hi_n += 1.0;
                    hi_spans += g.spans;
                    hi_ln_d += ln_d;
                    continue;
                }
                if stray - a_hi >= SOFTPLUS_END {
                    lo_n += 1.0;
                    continue;
                }
            }
            for qi in 0..Q {
                let b = if single { one[qi] } else { stray };
                // q = 0: no missed beats, no Gaussian term.
                let Some((l1, lq)) = t.ln_miss[qi] else {
                    multi_ll[qi] += b;
                    continue;
                };
                let a = l1 + g.spans * lq + ln_d;
                multi_ll[qi] += a.max(b) + softplus_bound(&t.softplus, (a - b).abs());
            }
        }
        for qi in 0..Q {
            let far = match t.ln_miss[qi] {
                // At q = 0 the fit's term is `b` itself.
                None => (hi_n + lo_n) * stray,
                Some((l1, lq)) => {
                    hi_n * (l1 + SOFTPLUS_TAIL)
                        + hi_spans * lq
                        + hi_ln_d
                        + lo_n * (stray + SOFTPLUS_TAIL)
                }
            };
            let ll = inside * one[qi] + outside * stray + multi_ll[qi] + far;
            best = best.max(ll);
        }
    }
    best
}

/// A gap spanning missed beats, as [`ll_timer_bound`] needs it.
#[derive(Clone, Copy)]
struct Multi {
    /// `(g / p − m) / sqrt(m/3)`: the distance from the gap's beats, in
    /// periods.
    w: f64,
    /// `|g − p|`: whether the gap could be one late beat.
    dev: f64,
    /// `ln(sqrt(m/3))`.
    ln_s: f64,
    /// m − 1, as the fit caps it.
    spans: f64,
}

/// Buffers reused from one series to the next, so fitting allocates
/// nothing per series.
#[derive(Default)]
pub struct Scratch {
    gaps: Vec<f64>,
    sorted: Vec<f64>,
    bound: BoundBufs,
}

/// What [`ll_timer_bound`] works out per period candidate: the distance
/// from one period of each gap of one beat, and the gaps spanning several.
#[derive(Default)]
struct BoundBufs {
    one_dev: Vec<f64>,
    multi: Vec<Multi>,
}

/// Step of the [`softplus_bound`] table, where it ends, and its length.
const SOFTPLUS_STEP: f64 = 1.0 / 32.0;
const SOFTPLUS_END: f64 = 12.0;
const SOFTPLUS_STEPS: usize = 384;
const _: () = assert!(SOFTPLUS_STEPS as f64 * SOFTPLUS_STEP == SOFTPLUS_END);

/// At least `ln(1 + e^-x)` for `x ≥ 0`, and at most 0.016 more: the
/// function falls, so its value at the start of `x`'s step of the table
/// bounds it; past the table (the table's last entry), `e^-x ≥ ln(1 +
/// e^-x)` and `e^-END` is below [`SOFTPLUS_TAIL`].
#[inline]
fn softplus_bound(table: &[f64; SOFTPLUS_STEPS + 1], x: f64) -> f64 {
    // `as` saturates: NaN gives 0, the largest bound.
    table[((x * (1.0 / SOFTPLUS_STEP)) as usize).min(SOFTPLUS_STEPS)]
}

/// At least `e^-SOFTPLUS_END` (6.14e-6), added for each gap whose terms
/// are summed without the table: a few millionths of a nat.
const SOFTPLUS_TAIL: f64 = 6.2e-6;

/// Constants of [`ll_timer_bound`], computed once.
struct BoundTables {
    /// `ln(1 + e^-x)` at the start of each step, then the tail.
    softplus: [f64; SOFTPLUS_STEPS + 1],
    /// `ln(m / 3)` for small m.
    ln_third: Vec<f64>,
    /// `ln J` per jitter value, `ln(1 − q)` per missed-beat rate.
    ln_jitter: [f64; JITTER_GRID.len()],
    ln_keep_rate: [f64; MISS_GRID.len()],
    /// `(ln(1 − q), ln q)` per missed-beat rate; `None` for q = 0.
    ln_miss: [Option<(f64, f64)>; MISS_GRID.len()],
    /// The same for the smallest and the largest rate above 0, where
    /// `ln((1 − q)·q^s)` is smallest and largest for every `s ≥ 1` (it
    /// rises up to q = s/(s+1) ≥ 0.5).
    ln_miss_lo: (f64, f64),
    ln_miss_hi: (f64, f64),
}

impl BoundTables {
    #[inline]
    fn ln_third(&self, m: u64) -> f64 {
        match self.ln_third.get(m as usize) {
            Some(&l) => l,
            None => (m as f64 / 3.0).ln(),
        }
    }
}

fn ln_pair(q: f64) -> (f64, f64) {
    ((1.0 - q).ln(), q.ln())
}

fn bound_tables() -> &'static BoundTables {
    // The fast paths of ll_timer_bound rely on the grid's rates above 0
    // being at most 0.5 (see `ln_miss_hi`).
    const _: () = assert!(MISS_GRID[MISS_GRID.len() - 1] <= 0.5);
    static TABLES: std::sync::OnceLock<BoundTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| BoundTables {
        softplus: std::array::from_fn(|i| match i {
            SOFTPLUS_STEPS => SOFTPLUS_TAIL,
            i => (-(i as f64) * SOFTPLUS_STEP).exp().ln_1p(),
        }),
        ln_third: (0..256).map(|m| (m as f64 / 3.0).ln()).collect(),
        ln_jitter: JITTER_GRID.map(f64::ln),
        ln_keep_rate: MISS_GRID.map(|q| (1.0 - q).ln()),
        ln_miss: MISS_GRID.map(|q| (q > 0.0).then(|| ((1.0 - q).ln(), q.ln()))),
        ln_miss_lo: ln_pair(
            MISS_GRID
                .iter()
                .copied()
                .filter(|&q| q > 0.0)
                .fold(1.0, f64::min),
        ),
        ln_miss_hi: ln_pair(MISS_GRID.iter().copied().fold(0.0, f64::max)),
    })
}

/// Log-likelihood of `k` gaps of mean `mean` as a Poisson process seen
/// through the dead time `dead` (the first of [`ll_random`]'s models).
fn ll_poisson(k: f64, mean: f64, dead: f64) -> f64 {
    let dead = dead.clamp(0.0, 0.5 * mean);
    -k * ((mean - dead).ln() + 1.0)
}

/// Log-likelihood of `gaps` as random arrivals: the better of a Poisson
/// process (exponential gaps) and a two-rate one (a mixture of two
/// exponentials, fitted by a few EM steps), which is how bursty traffic
/// looks: short gaps inside a burst, long ones between bursts. Both
/// densities fall monotonically, so neither can look like a timer.
///
/// Random arrivals are seen through the coalescing window: no gap is
/// shorter than `dead`, so the gaps are modelled as `dead` plus an
/// exponential (or a mixture). Without that, dense random traffic, whose
/// short gaps coalescing has removed, looks like a timer of a few seconds.
fn ll_random(gaps: &[f64], mean: f64, dead: f64) -> f64 {
    let k = gaps.len() as f64;
    let poisson = ll_poisson(k, mean, dead);
    let dead = dead.clamp(0.0, 0.5 * mean);
    let mean = mean - dead;
    // Start from the means of the gaps below and above the mean.
    let (mut lo, mut nlo, mut hi, mut nhi) = (0.0, 0.0, 0.0, 0.0);
    for g in gaps.iter().map(|&g| (g - dead).max(0.0)) {
        if g < mean {
            lo += g;
            nlo += 1.0;
        } else {
            hi += g;
            nhi += 1.0;
        }
    }
    if nlo == 0.0 || nhi == 0.0 {
        return poisson;
    }
    let floor = mean * 1e-6;
    let (mut w, mut m1, mut m2) = (nlo / k, (lo / nlo).max(floor), hi / nhi);
    // The likelihood is only needed for the parameters of the last step,
    // so its logarithms are taken in one more pass then, not in every
    // step (the same operations in the same order: the same value).
    let density = |g: f64, w: f64, m1: f64, m2: f64| {
        let a = w * (-g / m1).exp() / m1;
        let b = (1.0 - w) * (-g / m2).exp() / m2;
        (a, a + b)
    };
    let mut ll = f64::NEG_INFINITY;
    for step in 0..EM_STEPS {
        let (mut sr, mut srg, mut sg) = (0.0, 0.0, 0.0);
        for g in gaps.iter().map(|&g| (g - dead).max(0.0)) {
            let (a, t) = density(g, w, m1, m2);
            if t <= 0.0 || !t.is_finite() {
                return poisson;
            }
            let r = a / t;
            sr += r;
            srg += r * g;
            sg += g;
        }
        let stop = sr <= 0.0 || sr >= k;
        if stop || step + 1 == EM_STEPS {
            ll = 0.0;
            for g in gaps.iter().map(|&g| (g - dead).max(0.0)) {
                ll += density(g, w, m1, m2).1.ln();
            }
        }
        if stop {
            break;
        }
        w = sr / k;
        m1 = (srg / sr).max(floor);
        m2 = ((sg - srg) / (k - sr)).max(floor);
    }
    poisson.max(ll)
}

/// EM steps of the two-rate fit: enough to settle on the series seen in
/// the evaluation; each is one pass over the gaps.
const EM_STEPS: usize = 12;

fn median_of(xs: &[f64], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend_from_slice(xs);
    buf.sort_by(f64::total_cmp);
    median_sorted(buf)
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// RITA's timing score, re-implemented from its published formula for
/// comparison: the mean of `1 − |Bowley skewness|` of the intervals (hinges
/// are the medians of the lower and upper halves; the skew counts as 0 when
/// a hinge equals the median) and `1 − MAD / median` (floored at 0).
/// `times` are seconds, sorted. RITA's published values: intervals 98, 99,
/// 99, 100, 100, 100, 101, 101, 102 give 0.995; alternating 98 and 300
/// give 0.746; 1, 2, 25, 42, 90, 299, 500, 1500, 4975 give 0.083.
pub fn rita_score(times: &[f64]) -> f64 {
    if times.len() < 3 {
        return 0.0;
    }
    let mut d: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(f64::total_cmp);
    let n = d.len();
    let mid = median_sorted(&d);
    let low = median_sorted(&d[..n / 2]);
    let high = median_sorted(&d[n.div_ceil(2)..]);
    let den = high - low;
    let skew = if den != 0.0 && mid != low && mid != high {
        (low + high - 2.0 * mid) / den
    } else {
        0.0
    };
    let mut devs: Vec<f64> = d.iter().map(|x| (x - mid).abs()).collect();
    devs.sort_by(f64::total_cmp);
    let mad = median_sorted(&devs);
    let mad_score = if mid > 0.0 {
        (1.0 - mad / mid).max(0.0)
    } else {
        0.0
    };
    ((1.0 - skew.abs()) + mad_score) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times_from_gaps(gaps: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0];
        for g in gaps {
            t.push(t[t.len() - 1] + g);
        }
        t
    }

    #[test]
    fn rita_published_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 0.0005;
        let s = rita_score(&times_from_gaps(&[
            98.0, 99.0, 99.0, 100.0, 100.0, 100.0, 101.0, 101.0, 102.0,
        ]));
        assert!(close(s, 0.995), "{s}");
        let alt: Vec<f64> = (0..10)
            .map(|i| if i % 2 == 0 { 98.0 } else { 300.0 })
            .collect();
        let s = rita_score(&times_from_gaps(&alt));
        assert!(close(s, 0.746), "{s}");
        let s = rita_score(&times_from_gaps(&[
            1.0, 2.0, 25.0, 42.0, 90.0, 299.0, 500.0, 1500.0, 4975.0,
        ]));
        assert!(close(s, 0.083), "{s}");
        let even: Vec<f64> = (0..10).map(|i| f64::from(i) * 60.0).collect();
        assert_eq!(rita_score(&even), 1.0);
    }

    #[test]
    fn ten_beats_sixty_seconds_apart() {
        let t: Vec<f64> = (0..10).map(|i| f64::from(i) * 60.0).collect();
        let f = fit(&t, 1.0, &mut Scratch::default()).unwrap();
        assert!(f.is_beacon(), "{f:?}");
        assert!((f.period_s - 60.0).abs() < 0.01);
        assert_eq!(f.missed, 0.0);
        assert!(f.score > 0.99);
    }

    #[test]
    fn missed_beats_give_the_period_not_the_mean_gap() {
        // 60 s timer, beats 3, 7, 8 and 12 missing, a few seconds of jitter.
        let jit = [
            0.0, 2.0, -3.0, 1.0, -1.0, 4.0, -2.0, 0.5, 3.0, -4.0, 2.5, -0.5, 1.5,
        ];
        let t: Vec<f64> = (0..16)
            .filter(|i| ![3, 7, 8, 12].contains(i))
            .map(|i| f64::from(i) * 60.0 + jit[i as usize % jit.len()])
            .collect();
        let f = fit(&t, 1.0, &mut Scratch::default()).unwrap();
        assert!(f.is_beacon(), "{f:?}");
        assert!((f.period_s - 60.0).abs() < 1.0, "{f:?}");
        assert!((f.missed - 4.0 / 15.0).abs() < 0.01, "{f:?}");
    }

    #[test]
    fn regular_gaps_of_random_size_are_not_a_beacon() {
        // Deterministic "random" gaps spanning two orders of magnitude.
        let gaps = [
            3.0, 170.0, 12.0, 45.0, 2.5, 300.0, 80.0, 7.0, 29.0, 150.0, 5.0,
        ];
        let f = fit(&times_from_gaps(&gaps), 1.0, &mut Scratch::default()).unwrap();
        assert!(!f.is_beacon(), "{f:?}");
        assert!(f.score < 0.5);
    }

    #[test]
    fn threshold_is_continuous_and_positive() {
        let mut last = threshold(1);
        for k in 2..400 {
            let t = threshold(k);
            assert!(t > 0.0 && (t - last).abs() <= 1.0, "k={k}");
            last = t;
        }
    }

    #[test]
    fn degenerate_series_do_not_panic() {
        let mut s = Scratch::default();
        assert!(fit(&[], 1.0, &mut s).is_none());
        assert!(fit(&[5.0, 5.0, 5.0, 5.0], 1.0, &mut s).is_none());
        let _ = fit(&[0.0, 1e-9, 1e12, 1e12 + 1.0], 1.0, &mut s);
        assert!(rita_score(&[1.0, 1.0, 1.0]).is_finite());
    }

    /// Series of every shape the fit meets: Poisson and bursty arrivals,
    /// timers with jitter up to ±80 % (where a gap of several beats can be
    /// one late beat), missed beats, one-sided jitter, and gaps of hundreds
    /// and thousands of beats.
    fn shapes(n: usize) -> Vec<Vec<f64>> {
        let mut r = crate::testkit::synth::SplitMix64(0x5eed_b0a7);
        let mut out = Vec::new();
        for i in 0..n {
            let k = 3 + (r.next_u64() % 120) as usize;
            let p = 2.0 + 600.0 * r.unit();
            let jitter = [0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.8][i % 7];
            let miss = [0.0, 0.05, 0.2, 0.5][(i / 7) % 4];
            let mut gaps = Vec::with_capacity(k);
            for _ in 0..k {
                let g = match i % 5 {
                    0 => r.exp(p),
                    1 if r.unit() < 0.8 => 1.0 + r.exp(2.0),
                    1 => r.exp(20.0 * p),
                    4 if r.unit() < 0.05 => p * (200.0 + 2000.0 * r.unit()),
                    _ => {
                        let mut m = 1.0;
                        while r.unit() < miss {
                            m += 1.0;
                        }
                        m * p * (1.0 + jitter * (2.0 * r.unit() - 1.0))
                    }
                };
                gaps.push(g.max(1.0));
            }
            out.push(times_from_gaps(&gaps));
        }
        out
    }

    #[test]
    fn the_timer_bound_bounds_the_fit_and_is_tight() {
        let mut buf = Scratch::default();
        let mut sorted = Vec::new();
        let mut checked = 0;
        for t in shapes(3000) {
            if gaps_into(&t, &mut buf.gaps).is_none() {
                continue;
            }
            let gaps = buf.gaps.clone();
            let span: f64 = gaps.iter().sum();
            for p in periods(&gaps, &mut sorted).collect::<Vec<_>>() {
                let (exact, _) = ll_timer(&gaps, p, span);
                let bound = ll_timer_bound(&gaps, p, span, &mut buf.bound);
                let multi = buf.bound.multi.len() as f64;
                assert!(
                    bound >= exact - 1e-9 * exact.abs(),
                    "{bound} < {exact}: {gaps:?} p={p}"
                );
                // A table step of 1/32 loses at most 1/64 per gap of several
                // beats; ln(1 + x) ≤ x a few thousandths per series.
                assert!(
                    bound - exact <= multi / 64.0 + 1e-3 * gaps.len() as f64,
                    "bound {bound} is {} above {exact} over {multi} gaps",
                    bound - exact
                );
                checked += 1;
            }
        }
        assert!(checked > 8000, "{checked}");
    }

    #[test]
    fn fit_beacon_decides_as_the_fit_does() {
        let (mut a, mut b) = (Scratch::default(), Scratch::default());
        let (mut beacons, mut settled) = (0, 0);
        for t in shapes(3000) {
            let full = fit(&t, 1.0, &mut a).filter(Fit::is_beacon);
            assert_eq!(fit_beacon(&t, 1.0, &mut b), full, "{t:?}");
            beacons += usize::from(full.is_some());
            settled += usize::from(!may_be_beacon(&t, 1.0, &mut b));
        }
        // Both outcomes are exercised, and the bound settles most series.
        assert!(beacons > 300 && settled > 1000, "{beacons} {settled}");
        // Far outside what timestamps give, the two still agree: the same
        // shapes at 1e155 times the scale (squares of seconds overflow
        // there), and gaps of more than 2^64 periods (beat counts saturate).
        let mut scaled = 0;
        for t in shapes(600) {
            let t: Vec<f64> = t.iter().map(|x| x * 1e155).collect();
            let full = fit(&t, 1.0, &mut a).filter(Fit::is_beacon);
            assert_eq!(fit_beacon(&t, 1.0, &mut b), full, "{t:?}");
            scaled += usize::from(full.is_some());
        }
        assert!(scaled > 50, "{scaled}");
        let mut t: Vec<f64> = (0..11).map(|i| f64::from(i) * 1e-200).collect();
        t.push(t[10] + 20.0);
        let full = fit(&t, 1.0, &mut a).filter(Fit::is_beacon);
        assert_eq!(fit_beacon(&t, 1.0, &mut b), full);
    }
}
