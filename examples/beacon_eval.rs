//! Evaluation harness for the beacon detector (`src/analysis/beacon.rs`).
//!
//! Generates labelled series, runs portent's detector and the RITA-style
//! timing score side by side, and prints detection and false-positive rates
//! per condition as Markdown tables (the ones in `docs/BEACONS.md`).
//!
//! ```sh
//! cargo run --release --example beacon_eval            # the tables
//! cargo run --release --example beacon_eval -- --quick # fewer trials
//! cargo run --release --example beacon_eval -- --calibrate
//! ```
//!
//! Positives: a timer of period P (10 s to 1 h) with uniform jitter of ±J
//! (0 to 80 % of P) on every sleep, each beat missed with probability q (0
//! to 30 %), over spans of 1 to 24 h. Negatives at matching rates: Poisson
//! arrivals; bursty browsing (sessions at random, each a burst of requests);
//! a diurnal rate (Poisson whose rate follows the day); and a host calling
//! many destinations at random (the across-destinations series). Everything
//! comes from a fixed-seed SplitMix64, so the tables are reproducible.
//! `--calibrate` prints the quantiles of the log-likelihood ratio of Poisson
//! series per number of gaps, from which `beacon::threshold` was set.

use std::net::{IpAddr, Ipv4Addr};

use portent::analysis::beacon::{self, BeaconConfig};
use portent::event::Attempt;
use portent::testkit::synth;

/// SplitMix64, so generated series are the same on every run.
use portent::testkit::synth::SplitMix64 as Rng;

/// A negative series: (rng, mean gap, span) to times.
type Generator = fn(&mut Rng, f64, f64) -> Vec<f64>;

/// Coalesces times closer than 1 s, as the detector does on attempts.
fn coalesce(t: &mut Vec<f64>) {
    t.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = Vec::with_capacity(t.len());
    for &x in t.iter() {
        if out.last().is_none_or(|&l| x - l >= 1.0) {
            out.push(x);
        }
    }
    *t = out;
}

fn timer(r: &mut Rng, period: f64, jitter: f64, miss: f64, span: f64) -> Vec<f64> {
    let mut t = r.unit() * period;
    let mut out = Vec::new();
    while t < span {
        if r.unit() >= miss {
            out.push(t);
        }
        t += period * (1.0 + jitter * (2.0 * r.unit() - 1.0));
    }
    out
}

/// Cobalt Strike's sleep: `period` shortened by a uniform share of up to
/// `jitter`.
fn cobalt(r: &mut Rng, period: f64, jitter: f64, miss: f64, span: f64) -> Vec<f64> {
    let mut t = r.unit() * period;
    let mut out = Vec::new();
    while t < span {
        if r.unit() >= miss {
            out.push(t);
        }
        t += period * (1.0 - jitter * r.unit());
    }
    out
}

fn poisson(r: &mut Rng, mean_gap: f64, span: f64) -> Vec<f64> {
    let mut t = r.exp(mean_gap);
    let mut out = Vec::new();
    while t < span {
        out.push(t);
        t += r.exp(mean_gap);
    }
    out
}

/// Sessions at random (mean gap `session_gap`), each a burst of a
/// geometric number of requests (mean 8) with exponential gaps (mean 20 s).
fn bursty(r: &mut Rng, session_gap: f64, span: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut s = r.exp(session_gap);
    while s < span {
        let mut t = s;
        loop {
            out.push(t);
            if r.unit() < 1.0 / 8.0 {
                break;
            }
            t += r.exp(20.0);
        }
        s += r.exp(session_gap);
    }
    out.retain(|&x| x < span);
    out
}

/// Poisson whose rate follows the day: λ(t) = λ0 (1 + 0.9 sin(2πt / 1 day)).
fn diurnal(r: &mut Rng, mean_gap: f64, span: f64) -> Vec<f64> {
    let peak = 1.9 / mean_gap;
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += r.exp(1.0 / peak);
        if t >= span {
            return out;
        }
        let rate = (1.0 + 0.9 * (2.0 * std::f64::consts::PI * t / 86_400.0).sin()) / mean_gap;
        if r.unit() < rate / peak {
            out.push(t);
        }
    }
}

/// Runs portent's detector on beat times (seconds); `None` when the series
/// has too few beats to be tested.
fn portent_says(t: &[f64], cfg: &BeaconConfig, scratch: &mut beacon::Scratch) -> bool {
    t.len() >= cfg.min_beats && beacon::fit_beacon(t, 1.0, scratch).is_some()
}

/// Beats from which the detection claim is made: below this, a timer with
/// ±50 % jitter carries too little information to be told from random
/// arrivals at a 1-in-10,000 false-positive rate (about one nat per gap).
const HEADLINE_BEATS: usize = 40;

/// Buckets of series length for the by-beats table: (lowest count, label).
const BEAT_BUCKETS: [(usize, &str); 4] = [(6, "6–9"), (10, "10–19"), (20, "20–39"), (40, "≥ 40")];

/// RITA-style verdict: its timing score at or above `RITA_CUT`.
const RITA_CUT: f64 = 0.8;

#[derive(Default)]
struct Tally {
    series: u64,
    testable: u64,
    portent: u64,
    rita: u64,
    rita_sum: f64,
}

/// Both scorers' verdicts on one series, computed once and counted in
/// every table the series belongs to.
struct Judged {
    testable: bool,
    portent: bool,
    rita_score: f64,
}

fn judge(t: &[f64], cfg: &BeaconConfig, scratch: &mut beacon::Scratch) -> Judged {
    Judged {
        testable: t.len() >= cfg.min_beats,
        portent: portent_says(t, cfg, scratch),
        rita_score: beacon::rita_score(t),
    }
}

impl Tally {
    fn add(&mut self, v: &Judged) {
        self.series += 1;
        self.testable += u64::from(v.testable);
        self.portent += u64::from(v.portent);
        self.rita_sum += v.rita_score;
        self.rita += u64::from(v.testable && v.rita_score >= RITA_CUT);
    }
    fn pct(n: u64, d: u64) -> String {
        if d == 0 {
            "—".into()
        } else {
            format!("{:.1} %", 100.0 * n as f64 / d as f64)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--calibrate") {
        calibrate();
        return;
    }
    let trials: u64 = if args.iter().any(|a| a == "--quick") {
        20
    } else {
        200
    };
    let cfg = BeaconConfig::default();
    let mut r = Rng(0x5eed_beac_0000_0001);
    let mut scratch = beacon::Scratch::default();

    let periods = [10.0, 60.0, 300.0, 1800.0, 3600.0];
    let spans = [3600.0, 4.0 * 3600.0, 24.0 * 3600.0];
    let jitters = [0.0, 0.1, 0.25, 0.5, 0.8];
    let misses = [0.0, 0.1, 0.2, 0.3];

    println!("### Timers ({trials} series per cell)\n");
    println!("Detection rate of portent / of the RITA-style score ≥ {RITA_CUT}, over series with at least {} beats (series with fewer are never reported; their share is in the last column).\n", cfg.min_beats);
    println!(
        "| period | span | jitter | missed | portent | RITA-style | mean RITA score | testable |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut headline = Tally::default();
    let mut short = Tally::default();
    let mut by_beats: [[Tally; 5]; BEAT_BUCKETS.len()] = Default::default();
    for &p in &periods {
        for &span in &spans {
            for (ji, &j) in jitters.iter().enumerate() {
                for &q in &misses {
                    let mut tally = Tally::default();
                    for _ in 0..trials {
                        let mut t = timer(&mut r, p, j, q, span);
                        coalesce(&mut t);
                        let v = judge(&t, &cfg, &mut scratch);
                        tally.add(&v);
                        if q <= 0.2 {
                            if let Some(b) = BEAT_BUCKETS.iter().rposition(|&(lo, _)| t.len() >= lo)
                            {
                                by_beats[b][ji].add(&v);
                            }
                        }
                        if j <= 0.5 && q <= 0.2 && v.testable {
                            if t.len() >= HEADLINE_BEATS {
                                headline.add(&v);
                            } else {
                                short.add(&v);
                            }
                        }
                    }
                    println!(
                        "| {} | {} h | {:.0} % | {:.0} % | {} | {} | {:.3} | {} |",
                        beacon::human_secs(p),
                        span / 3600.0,
                        j * 100.0,
                        q * 100.0,
                        Tally::pct(tally.portent, tally.testable),
                        Tally::pct(tally.rita, tally.testable),
                        tally.rita_sum / tally.series as f64,
                        Tally::pct(tally.testable, tally.series),
                    );
                }
            }
        }
    }

    println!("\n### Timers by number of beats\n");
    println!("All periods and spans above with ≤ 20 % missed beats, grouped by the beats each series holds after coalescing: detection rate portent / RITA-style (series).\n");
    print!("| beats |");
    for &j in &jitters {
        print!(" ±{:.0} % |", j * 100.0);
    }
    println!("\n|---|{}", "---:|".repeat(jitters.len()));
    for (b, row) in by_beats.iter().enumerate() {
        print!("| {} |", BEAT_BUCKETS[b].1);
        for t in row {
            print!(
                " {} / {} ({}) |",
                Tally::pct(t.portent, t.testable),
                Tally::pct(t.rita, t.testable),
                t.testable
            );
        }
        println!();
    }

    println!("\n### Cobalt Strike-style jitter ({trials} series per cell)\n");
    println!("Cobalt Strike's `jitter` shortens each sleep by a random share of up to J, never lengthens it: sleeps uniform in [P(1 − J), P]. Detection rate portent / RITA-style over series with at least {} beats.\n", cfg.min_beats);
    println!("| sleep | span | jitter | missed | portent | RITA-style | testable |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &p in &[60.0, 300.0] {
        for &span in &spans {
            for &j in &[0.2, 0.5, 0.8] {
                for &q in &[0.0, 0.2] {
                    let mut tally = Tally::default();
                    for _ in 0..trials {
                        let mut t = cobalt(&mut r, p, j, q, span);
                        coalesce(&mut t);
                        tally.add(&judge(&t, &cfg, &mut scratch));
                    }
                    println!(
                        "| {} | {} h | {:.0} % | {:.0} % | {} | {} | {} |",
                        beacon::human_secs(p),
                        span / 3600.0,
                        j * 100.0,
                        q * 100.0,
                        Tally::pct(tally.portent, tally.testable),
                        Tally::pct(tally.rita, tally.testable),
                        Tally::pct(tally.testable, tally.series),
                    );
                }
            }
        }
    }

    println!("\n### Negatives ({trials} series per cell, rates matching the timers)\n");
    println!("Share flagged: portent / RITA-style score ≥ {RITA_CUT}, over series with at least {} beats.\n", cfg.min_beats);
    println!("| kind | mean gap | span | portent | RITA-style | mean RITA score | testable |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut neg = Tally::default();
    let kinds: [(&str, Generator); 3] = [
        ("Poisson", poisson),
        ("bursty browsing", bursty),
        ("diurnal Poisson", diurnal),
    ];
    for (name, gen) in kinds {
        for &p in &periods {
            for &span in &spans {
                let mut tally = Tally::default();
                for _ in 0..trials {
                    let mut t = gen(&mut r, p, span);
                    coalesce(&mut t);
                    let v = judge(&t, &cfg, &mut scratch);
                    tally.add(&v);
                    neg.add(&v);
                }
                println!(
                    "| {name} | {} | {} h | {} | {} | {:.3} | {} |",
                    beacon::human_secs(p),
                    span / 3600.0,
                    Tally::pct(tally.portent, tally.testable),
                    Tally::pct(tally.rita, tally.testable),
                    tally.rita_sum / tally.series.max(1) as f64,
                    Tally::pct(tally.testable, tally.series),
                );
            }
        }
    }
    // A host calling many destinations on one port at random: the whole
    // detector (per destination and across destinations).
    let mut many = (0u64, 0u64);
    let mut many_series = (0u64, 0u64);
    for &p in &periods[..3] {
        for &span in &spans {
            for _ in 0..trials {
                let attempts = many_destinations(&mut r, p, span, 50);
                let (found, stats) =
                    beacon::detect(&attempts, 0..attempts.len(), &BeaconConfig::default());
                many.0 += 1;
                many.1 += u64::from(!found.is_empty());
                many_series.0 += stats.series_tested;
                many_series.1 += found.len() as u64;
            }
        }
    }
    println!(
        "| many destinations (50, random) | 10 s – 5 min | 1–24 h | {} of hosts | — | — | — |",
        Tally::pct(many.1, many.0)
    );

    println!("\n### Summary\n");
    println!(
        "- timers with jitter ≤ 50 % and ≤ 20 % missed beats, at least {HEADLINE_BEATS} beats: portent {}, RITA-style {} (of {} series)",
        Tally::pct(headline.portent, headline.series),
        Tally::pct(headline.rita, headline.series),
        headline.series
    );
    println!(
        "- the same timers with {} to {} beats: portent {}, RITA-style {} (of {} series)",
        cfg.min_beats,
        HEADLINE_BEATS - 1,
        Tally::pct(short.portent, short.series),
        Tally::pct(short.rita, short.series),
        short.series
    );
    println!(
        "- negative series flagged (Poisson, bursty, diurnal; testable series): portent {} ({} of {}), RITA-style {} (mean score {:.3} over all {} series)",
        Tally::pct(neg.portent, neg.testable),
        neg.portent,
        neg.testable,
        Tally::pct(neg.rita, neg.testable),
        neg.rita_sum / neg.series.max(1) as f64,
        neg.series,
    );
    println!(
        "- many destinations: {} of {} hosts with a beacon; {} of {} series tested flagged",
        many.1, many.0, many_series.1, many_series.0
    );
}

/// `n` destinations on port 443, contacted at random at an overall mean gap.
fn many_destinations(r: &mut Rng, mean_gap: f64, span: f64, n: u32) -> Vec<Attempt> {
    let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    poisson(r, mean_gap, span)
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let d = (r.next_u64() % u64::from(n)) as u32;
            synth::attempt(
                t,
                src,
                40000 + (i % 20000) as u16,
                IpAddr::V4(Ipv4Addr::from(0xc633_6400 + d)),
                443,
                i as u64 + 1,
            )
        })
        .collect()
}

/// Quantiles of the timer-vs-random log-likelihood ratio of Poisson series,
/// per number of gaps.
fn calibrate() {
    let mut r = Rng(0xca11_b4a7e);
    let mut scratch = beacon::Scratch::default();
    println!("| gaps | series | q99 | q99.9 | q99.99 | max | threshold |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for k in [5usize, 6, 8, 10, 12, 15, 20, 30, 50, 75, 100, 200] {
        let n = if k <= 30 { 200_000 } else { 50_000 };
        let mut v = Vec::with_capacity(n);
        let mut t = Vec::with_capacity(k + 1);
        for _ in 0..n {
            t.clear();
            let mut x = 0.0;
            t.push(x);
            for _ in 0..k {
                // Gaps under the 1 s coalescing window cannot occur in a
                // coalesced series: draw again (rare at a 60 s mean).
                let mut g = r.exp(60.0);
                while g < 1.0 {
                    g = r.exp(60.0);
                }
                x += g;
                t.push(x);
            }
            if let Some(f) = beacon::fit(&t, 1.0, &mut scratch) {
                v.push(f.llr);
            }
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
        println!(
            "| {k} | {n} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            q(0.99),
            q(0.999),
            q(0.9999),
            v[v.len() - 1],
            beacon::threshold(k)
        );
    }
}
