//! Beacon detection: attempts that come on a timer (DETECTION.md §7).
//!
//! Implants call home every P seconds, jittered (Cobalt Strike sleeps up to
//! 50 % less than P), and skip beats when the host sleeps. This module finds
//! such series from attempt times alone, so it works the same on packets,
//! flows and Sysmon events, and on any port.
//!
//! Why a likelihood ratio and not a spread score: scores built on the spread
//! of the intervals (RITA's Bowley skew plus MAD, [`rita_score`]) give random
//! traffic about 0.8 and fall with jitter; rules that look for one dominant
//! interval stop firing at 5 % jitter. Here each series is fitted twice: as a
//! timer (period P, every gap `m·P` for m−1 missed beats, jitter up to ±J,
//! missed-beat rate q, a few stray attempts allowed) and as random arrivals
//! (a Poisson process at the series' own rate, or a two-rate one for bursty
//! traffic, both seen through the coalescing window). The log-likelihood ratio
//! between the two is scale-free, so its distribution under the random
//! hypothesis depends only on the number of gaps; [`threshold`] is set from
//! that distribution (calibrated by `examples/beacon_eval.rs --calibrate`) so
//! that fewer than 1 in 10,000 random series pass. The period is the median
//! gap refined over the gaps' beat counts, so missed beats give a multiple of
//! the period rather than a longer mean gap.
//!
//! Series are the attempt times per (source, destination, destination port)
//! and per (source, destination port) across destinations, for C2 that
//! rotates addresses. Attempts within [`BeaconConfig::coalesce`] of the
//! previous one are one beat (parallel connections, a retried connect).

mod model;

pub use model::{
    fit, fit_beacon, may_be_beacon, rita_score, threshold, Fit, Scratch, MIN_PERIOD_S,
};

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hashbrown::HashMap;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::Attempt;

use crate::time::Ts;

/// The most series tracked in one run; attempts of further series are not
/// analysed for beaconing and are counted in [`BeaconStats::series_dropped`].
pub const MAX_SERIES: usize = 1_000_000;

/// The most beats kept per series (the first ones, in time order); later
/// beats are counted in [`BeaconStats::beats_dropped`]. At a 10 s period
/// this is more than 11 days.
pub const MAX_BEATS_PER_SERIES: usize = 100_000;

/// Fewest beats a series needs by default: the RAT of DETECTION.md's real
/// captures calls six times after a pause; fewer beats than this cannot be
/// told from chance at the false-positive rate [`threshold`] keeps anyway.
pub const DEFAULT_MIN_BEATS: u16 = 6;

/// Settings of the detector.
#[derive(Clone, Copy, Debug)]
pub struct BeaconConfig {
    /// Fewest beats (after coalescing) a series needs to be tested.
    pub min_beats: usize,
    /// Attempts closer than this to the previous one are the same beat.
    pub coalesce: Ts,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            min_beats: usize::from(DEFAULT_MIN_BEATS),
            coalesce: Ts(Ts::NANOS_PER_SEC),
        }
    }
}

/// Which attempts a series gathers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeriesKey {
    /// One source, one destination, one port.
    Destination {
        src: IpAddr,
        dst: IpAddr,
        dport: u16,
    },
    /// One source and port, any destination (C2 that rotates addresses).
    AcrossDestinations { src: IpAddr, dport: u16 },
}

/// One bin of the interval histogram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bin {
    pub lo_s: f64,
    pub hi_s: f64,
    pub count: u32,
}

/// A detected beacon.
#[derive(Clone, Debug, PartialEq)]
pub struct Beacon {
    pub src: IpAddr,
    /// The destination, or every destination of an across-destinations
    /// series (sorted).
    pub dsts: Vec<IpAddr>,
    pub dport: u16,
    pub across_destinations: bool,
    /// Attempts in the series (before coalescing into beats).
    pub count: usize,
    pub fit: Fit,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// Gaps in bins a quarter of the period wide, from 0 to 3 periods, and
    /// one open bin above; empty bins left out.
    pub histogram: Vec<Bin>,
    /// Indices into the run's attempts.
    pub attempts: Vec<usize>,
}

impl Beacon {
    /// A sentence a responder can read: period, spread, beats, why.
    pub fn reason(&self) -> String {
        let f = &self.fit;
        format!(
            "{} beats every {} ± {:.0} %, {:.0} % of beats missed; timing fits a timer better than random arrivals by log-likelihood ratio {:.1} (threshold {:.1} for {} intervals)",
            f.beats,
            human_secs(f.period_s),
            f.jitter * 100.0,
            f.missed * 100.0,
            f.llr,
            f.threshold,
            f.beats - 1
        )
    }
}

/// `59.8 s`, `12.5 min`, `2.0 h`.
pub fn human_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// One series to test: destinations, source, port, whether it is across
/// destinations, and the indices of its attempts.
type Series = (Vec<IpAddr>, IpAddr, u16, bool, Vec<usize>);

/// What the detector did, for the run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BeaconStats {
    /// Series with enough beats to be tested.
    pub series_tested: u64,
    pub beacons: u64,
    /// Series not tracked because [`MAX_SERIES`] was reached.
    pub series_dropped: u64,
    /// Beats past [`MAX_BEATS_PER_SERIES`] in a series.
    pub beats_dropped: u64,
}

/// Finds beacons among `candidates` (indices into `attempts`: the attempts
/// that passed the destination filter). Output is sorted by score
/// (descending), then source, port and destinations.
pub fn detect(
    attempts: &[Attempt],
    candidates: impl IntoIterator<Item = usize>,
    cfg: &BeaconConfig,
) -> (Vec<Beacon>, BeaconStats) {
    let mut stats = BeaconStats::default();
    // Two passes: count the attempts of every series, then gather the
    // indices of only the series long enough to be tested. Most series in
    // real traffic (and flow exports) are one or two attempts; a vector
    // for each of them was most of the detector's time.
    let candidates: Vec<usize> = candidates.into_iter().collect();
    // Each series is a slot; each candidate remembers its two slots, so the
    // second pass hashes nothing.
    let mut slots: Vec<Slot> = Vec::new();
    let mut per_dst: HashMap<(IpAddr, IpAddr, u16), u32> = HashMap::new();
    let mut across: HashMap<(IpAddr, u16), u32> = HashMap::new();
    let mut refs: Vec<[u32; 2]> = Vec::with_capacity(candidates.len());
    for &i in &candidates {
        let t = &attempts[i].tuple;
        let full = per_dst.len() + across.len() >= MAX_SERIES;
        let d = slot_for(
            &mut per_dst,
            (t.src, t.dst, t.dport),
            full,
            &mut slots,
            &mut stats,
        );
        let full = per_dst.len() + across.len() >= MAX_SERIES;
        let a = slot_for(&mut across, (t.src, t.dport), full, &mut slots, &mut stats);
        refs.push([d, a]);
    }
    let mut series: Vec<Vec<usize>> = Vec::new();
    for (&i, r) in candidates.iter().zip(&refs) {
        for &s in r {
            let Some(slot) = slots.get_mut(s as usize) else {
                continue;
            };
            if (slot.count as usize) < cfg.min_beats {
                continue;
            }
            if slot.at == NO_SLOT {
                slot.at = series.len() as u32;
                series.push(Vec::with_capacity(
                    (slot.count as usize).min(MAX_BEATS_PER_SERIES),
                ));
            }
            push_bounded(&mut series[slot.at as usize], i, &mut stats);
        }
    }
    let mut take = |s: u32| {
        let at = slots[s as usize].at;
        (at != NO_SLOT).then(|| std::mem::take(&mut series[at as usize]))
    };
    let per_dst: Vec<((IpAddr, IpAddr, u16), Vec<usize>)> = per_dst
        .into_iter()
        .filter_map(|(k, s)| take(s).map(|v| (k, v)))
        .collect();
    let across: Vec<((IpAddr, u16), Vec<usize>)> = across
        .into_iter()
        .filter_map(|(k, s)| take(s).map(|v| (k, v)))
        .collect();

    // Series are fitted in parallel; sorted keys and an order-preserving
    // collect keep the output deterministic whatever the hash map did.
    let tested = AtomicU64::new(0);
    let fit_all = |keys: Vec<Series>| -> Vec<Beacon> {
        keys.into_par_iter()
            .map_init(
                || (Vec::new(), Scratch::default()),
                |(times, scratch), (dsts, src, dport, across, idx)| {
                    test_series(
                        attempts,
                        idx,
                        cfg,
                        &tested,
                        times,
                        scratch,
                        (src, dsts, dport, across),
                    )
                },
            )
            .flatten()
            .collect()
    };
    let mut dst_keys = per_dst;
    dst_keys.sort_unstable_by_key(|a| a.0);
    let mut out = fit_all(
        dst_keys
            .into_iter()
            .map(|((src, dst, dport), idx)| (vec![dst], src, dport, false, idx))
            .collect(),
    );
    // Beats explained by a per-destination beacon, per (src, dport).
    let mut explained: BTreeMap<(IpAddr, u16), usize> = BTreeMap::new();
    for b in &out {
        *explained.entry((b.src, b.dport)).or_default() += b.fit.beats;
    }
    let mut across_keys = across;
    across_keys.sort_unstable_by_key(|a| a.0);
    let rotating = fit_all(
        across_keys
            .into_iter()
            .filter_map(|((src, dport), idx)| {
                let dsts: BTreeSet<IpAddr> = idx.iter().map(|&i| attempts[i].tuple.dst).collect();
                // One destination: the per-destination series is the same.
                (dsts.len() >= 2).then(|| (dsts.into_iter().collect(), src, dport, true, idx))
            })
            .collect(),
    );
    // Report a rotation only when per-destination beacons do not already
    // account for most of it.
    out.extend(
        rotating
            .into_iter()
            .filter(|b| explained.get(&(b.src, b.dport)).copied().unwrap_or(0) * 2 < b.fit.beats),
    );
    stats.series_tested = tested.into_inner();
    stats.beacons = out.len() as u64;
    out.sort_by(|a, b| {
        b.fit
            .score
            .total_cmp(&a.fit.score)
            .then(a.src.cmp(&b.src))
            .then(a.dport.cmp(&b.dport))
            .then_with(|| a.dsts.cmp(&b.dsts))
            .then(a.across_destinations.cmp(&b.across_destinations))
    });
    (out, stats)
}

/// A series while counting: its attempts so far (the first included), and
/// where its indices are gathered (`u32::MAX`: not yet, or too short).
#[derive(Clone, Copy)]
struct Slot {
    count: u32,
    at: u32,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            count: 1,
            at: NO_SLOT,
        }
    }
}

/// No slot: the series was not kept (too many series), or is not gathered.
const NO_SLOT: u32 = u32::MAX;

/// The slot of series `k`, counting this attempt; a new slot unless the
/// bound on series is reached (then the attempt is counted as dropped).
fn slot_for<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, u32>,
    k: K,
    full: bool,
    slots: &mut Vec<Slot>,
    stats: &mut BeaconStats,
) -> u32 {
    if let Some(&s) = map.get(&k) {
        let c = &mut slots[s as usize].count;
        *c = c.saturating_add(1);
        return s;
    }
    if full {
        stats.series_dropped += 1;
        return NO_SLOT;
    }
    slots.push(Slot::default());
    let s = slots.len() as u32 - 1;
    map.insert(k, s);
    s
}

fn push_bounded(v: &mut Vec<usize>, i: usize, stats: &mut BeaconStats) {
    if v.len() < MAX_BEATS_PER_SERIES {
        v.push(i);
    } else {
        stats.beats_dropped += 1;
    }
}

/// Coalesces one series into beats, fits it, and builds the record when it
/// is a beacon.
fn test_series(
    attempts: &[Attempt],
    mut idx: Vec<usize>,
    cfg: &BeaconConfig,
    tested: &AtomicU64,
    times: &mut Vec<f64>,
    scratch: &mut Scratch,
    (src, dsts, dport, across): (IpAddr, Vec<IpAddr>, u16, bool),
) -> Option<Beacon> {
    if idx.len() < cfg.min_beats {
        return None;
    }
    idx.sort_by_key(|&i| (attempts[i].ts, i));
    times.clear();
    let mut last: Option<Ts> = None;
    let origin = attempts[idx[0]].ts;
    for &i in &idx {
        let t = attempts[i].ts;
        if last.is_some_and(|l| t.0 - l.0 < cfg.coalesce.0) {
            continue;
        }
        last = Some(t);
        times.push((t.0 - origin.0) as f64 / Ts::NANOS_PER_SEC as f64);
    }
    if times.len() < cfg.min_beats {
        return None;
    }
    tested.fetch_add(1, Ordering::Relaxed);
    let fit = fit_beacon(
        times,
        cfg.coalesce.0 as f64 / Ts::NANOS_PER_SEC as f64,
        scratch,
    )?;
    let mut bins = [0u32; 13];
    for w in times.windows(2) {
        let r = (w[1] - w[0]) / fit.period_s;
        bins[((r * 4.0) as usize).min(12)] += 1;
    }
    let q = fit.period_s / 4.0;
    let histogram = bins
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(b, &count)| Bin {
            lo_s: b as f64 * q,
            hi_s: if b == 12 {
                f64::INFINITY
            } else {
                (b + 1) as f64 * q
            },
            count,
        })
        .collect();
    Some(Beacon {
        src,
        dsts,
        dport,
        across_destinations: across,
        count: idx.len(),
        fit,
        first_seen: attempts[idx[0]].ts,
        last_seen: attempts[idx[idx.len() - 1]].ts,
        histogram,
        attempts: idx,
    })
}
