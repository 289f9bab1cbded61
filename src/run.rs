//! One run of portent: read every input (in parallel), build attempts,
//! filter and score them, group findings, and account for everything.
//!
//! This is the pipeline sources -> events -> filter -> analyzers -> findings;
//! reports only read the [`Analysis`] it returns.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::analysis::attempts::{self, AttemptRules};
use crate::analysis::beacon::{self, Beacon, BeaconConfig, BeaconStats};
use crate::analysis::group::{self, Finding};
use crate::analysis::ports;
use crate::cli::policy::Policy;
use crate::event::{Attempt, TcpSignal, Ts};
use crate::filter::{Filter, Scope, Suppressed};
use crate::source::capture::read_capture;
use crate::source::{self, Input, SourceError};
use crate::stats::{CaptureStats, Skip, SkipCounts, Warning};

/// What the analyzers need besides the policy.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub rules: AttemptRules,
    /// Group findings per host per window (Chronicle's 5 minutes).
    pub window: Option<Ts>,
    pub beacon: BeaconConfig,
}

/// What happened to one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub input: String,
    /// `pcap`, `pcapng`, or null when the input could not be read.
    pub format: Option<&'static str>,
    pub packets: u64,
    pub bytes: u64,
    pub tcp: u64,
    pub syns: u64,
    pub synacks: u64,
    pub bad_checksum_syns: u64,
    pub odd_origlen: u64,
    pub skipped: SkipCounts,
    /// Why the input could not be read at all.
    pub error: Option<String>,
    /// A file found in a directory that is not a capture: noted, not an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    pub warnings: Vec<Warning>,
    #[serde(skip)]
    pub warnings_dropped: Vec<(&'static str, usize)>,
}

impl InputReport {
    pub fn new(input: &Input) -> Self {
        Self::named(input.name.clone())
    }

    /// A report for an argument that could not even be opened.
    pub fn unreadable(name: String, error: String) -> Self {
        let mut r = Self::named(name);
        r.error = Some(error);
        r
    }

    fn named(input: String) -> Self {
        InputReport {
            input,
            format: None,
            packets: 0,
            bytes: 0,
            tcp: 0,
            syns: 0,
            synacks: 0,
            bad_checksum_syns: 0,
            odd_origlen: 0,
            skipped: SkipCounts::default(),
            error: None,
            note: None,
            warnings: Vec::new(),
            warnings_dropped: Vec::new(),
        }
    }

    fn set_stats(&mut self, s: &CaptureStats) {
        self.packets = s.packets;
        self.bytes = s.bytes;
        self.tcp = s.tcp;
        self.syns = s.syns;
        self.synacks = s.synacks;
        self.bad_checksum_syns = s.bad_checksum_syns;
        self.odd_origlen = s.odd_origlen;
        self.skipped = s.skipped;
    }
}

/// Reads every input, in parallel across inputs; reports keep input order.
pub fn read_inputs(
    inputs: &[Input],
    progress: &(dyn Fn(u64) + Sync),
) -> (Vec<InputReport>, Vec<TcpSignal>) {
    let per_input: Vec<(InputReport, Vec<TcpSignal>)> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, input)| read_one(i as u32, input, progress))
        .collect();
    let total: usize = per_input.iter().map(|(_, s)| s.len()).sum();
    let mut signals = Vec::with_capacity(total);
    let mut reports = Vec::with_capacity(per_input.len());
    for (r, s) in per_input {
        reports.push(r);
        signals.extend(s);
    }
    (reports, signals)
}

fn read_one(
    idx: u32,
    input: &Input,
    progress: &(dyn Fn(u64) + Sync),
) -> (InputReport, Vec<TcpSignal>) {
    let mut report = InputReport::new(input);
    let data = match source::load(input) {
        Ok(d) => d,
        Err(SourceError::Empty { .. }) if input.from_dir => {
            report.note = Some("empty file, skipped".into());
            return (report, Vec::new());
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return (report, Vec::new());
        }
    };
    match read_capture(&input.name, &data, idx, progress) {
        Ok(out) => {
            report.format = out.format.map(|f| f.name());
            report.set_stats(&out.stats);
            report.warnings_dropped = out.warnings.dropped().collect();
            report.warnings = out.warnings.kept;
            if let source::Data::Partial { data, why } = &data {
                report.warnings.insert(
                    0,
                    Warning {
                        reason: "gzip_broken",
                        offset: data.len() as u64,
                        frame: None,
                        message: why.clone(),
                    },
                );
            }
            (report, out.signals)
        }
        Err(SourceError::NotACapture { .. }) if input.from_dir => {
            report.skipped.add(Skip::NotACapture, 1);
            report.note = Some("not a capture, skipped".into());
            (report, Vec::new())
        }
        Err(e) => {
            report.error = Some(e.to_string());
            (report, Vec::new())
        }
    }
}

/// The verdict on one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub scope: Scope,
    /// `Some` when the attempt is not scored.
    pub suppressed: Option<Suppressed>,
    /// The tier the attempt has, or would have had if not suppressed.
    pub tier: u8,
}

/// Everything a run found.
pub struct Analysis {
    pub inputs: Vec<InputReport>,
    pub attempts: Vec<Attempt>,
    /// One per attempt, same order.
    pub verdicts: Vec<Verdict>,
    pub findings: Vec<Finding>,
    /// Series of attempts that come on a timer (DETECTION.md §7).
    pub beacons: Vec<Beacon>,
    pub summary: Summary,
    /// The policy's known C2 ports, for the reports.
    pub known_c2: crate::cli::policy::PortSet,
}

impl Analysis {
    /// Whether a beacon goes to a known C2 port (and so makes its findings
    /// High).
    pub fn known_c2_beacon(&self, b: &Beacon) -> bool {
        self.known_c2.contains(b.dport)
    }
}

/// The run's totals, as the `summary` record and the stderr summary show.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub inputs: usize,
    pub inputs_unreadable: usize,
    pub packets: u64,
    pub bytes: u64,
    pub syns: u64,
    pub attempts: u64,
    pub retransmits: u64,
    pub answered: u64,
    pub bad_checksum_attempts: u64,
    pub odd_origlen: u64,
    /// Attempts that passed the filter and were scored (any tier).
    pub scored: u64,
    /// Scored attempts with tier ≥ 1.
    pub reported_attempts: u64,
    /// Attempts not scored, by reason.
    pub suppressed: BTreeMap<String, u64>,
    /// Of those, the ones that would have reached tier ≥ 1.
    pub suppressed_with_tier: BTreeMap<String, u64>,
    pub skipped: SkipCounts,
    pub findings: usize,
    pub findings_by_severity: BTreeMap<&'static str, usize>,
    /// Beacon series found, and what the detector tested and dropped.
    pub beacons: BeaconStats,
}

/// Filters, scores and groups the attempts from `signals`.
pub fn analyze(
    inputs: Vec<InputReport>,
    signals: Vec<TcpSignal>,
    policy: &Policy,
    opts: &RunOptions,
) -> Analysis {
    let attempts = attempts::build(signals, &opts.rules);
    let filter = Filter::new(policy);
    let verdicts: Vec<Verdict> = attempts
        .iter()
        .map(|a| {
            let image = a.process.as_ref().and_then(|p| p.image.as_deref());
            Verdict {
                scope: filter.scope(a.tuple.dst),
                suppressed: filter.judge(a),
                tier: ports::tier(policy, a.tuple.dport, image),
            }
        })
        .collect();
    let (beacons, beacon_stats) = beacon::detect(
        &attempts,
        verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| v.suppressed.is_none())
            .map(|(i, _)| i),
        &opts.beacon,
    );
    // DETECTION.md §7: a beacon to a known C2 port is High whatever the tier.
    let mut in_c2_beacon = vec![false; attempts.len()];
    for b in beacons.iter().filter(|b| policy.known_c2.contains(b.dport)) {
        for &i in &b.attempts {
            in_c2_beacon[i] = true;
        }
    }
    let findings = group::group(
        attempts
            .iter()
            .zip(&verdicts)
            .zip(&in_c2_beacon)
            .filter(|((_, v), _)| v.suppressed.is_none())
            .map(|((a, v), &b)| (a, v.tier, b)),
        opts.window,
    );
    let mut s = Summary {
        inputs: inputs.len(),
        inputs_unreadable: inputs.iter().filter(|r| r.error.is_some()).count(),
        findings: findings.len(),
        beacons: beacon_stats,
        ..Summary::default()
    };
    for r in &inputs {
        s.packets += r.packets;
        s.bytes += r.bytes;
        s.syns += r.syns;
        s.odd_origlen += r.odd_origlen;
        s.skipped.merge(&r.skipped);
    }
    for (a, v) in attempts.iter().zip(&verdicts) {
        s.attempts += 1;
        s.retransmits += u64::from(a.retransmits);
        s.answered += u64::from(a.answered);
        s.bad_checksum_attempts += u64::from(a.bad_checksum);
        match &v.suppressed {
            None => {
                s.scored += 1;
                s.reported_attempts += u64::from(v.tier > 0);
            }
            Some(why) => {
                let label = why.label();
                if v.tier > 0 {
                    *s.suppressed_with_tier.entry(label.clone()).or_default() += 1;
                }
                *s.suppressed.entry(label).or_default() += 1;
            }
        }
    }
    for f in &findings {
        *s.findings_by_severity
            .entry(f.severity().as_str())
            .or_default() += 1;
    }
    Analysis {
        inputs,
        attempts,
        verdicts,
        findings,
        beacons,
        summary: s,
        known_c2: policy.known_c2.clone(),
    }
}
