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
use crate::analysis::join::{self, JoinOptions, JoinStats, LoggedEvent};
use crate::analysis::ports;
use crate::cli::policy::Policy;
use crate::event::{Attempt, TcpSignal, Ts};
use crate::filter::{Filter, Scope, Suppressed};
use crate::source::capture::read_capture_with_ports;
use crate::source::flow::{self, ExportRef, FlowReader, FlowStats};
use crate::source::sysmon::{self, SysmonStats};
use crate::source::{self, Input, SourceError};
use crate::stats::{CaptureStats, Skip, SkipCounts, Warning, Warnings};

/// What the analyzers need besides the policy.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub rules: AttemptRules,
    /// Group findings per host per window (Chronicle's 5 minutes).
    pub window: Option<Ts>,
    pub beacon: BeaconConfig,
    pub join: JoinOptions,
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
    /// Flow exports read from this input (in a capture or as a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowStats>,
    /// Sysmon events read from this input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysmon: Option<SysmonStats>,
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

    pub fn named(input: String) -> Self {
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
            flows: None,
            sysmon: None,
            error: None,
            note: None,
            warnings: Vec::new(),
            warnings_dropped: Vec::new(),
        }
    }

    /// Adds a reader's warnings: those kept, and the counts of the rest.
    fn add_warnings(&mut self, w: Warnings) {
        self.warnings_dropped.extend(w.dropped());
        self.warnings.extend(w.kept);
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

/// What reading the inputs gave: packet signals, and attempts already built
/// from flow records.
#[derive(Debug, Default)]
pub struct Evidence {
    pub signals: Vec<TcpSignal>,
    pub flow_attempts: Vec<Attempt>,
    /// Sysmon events, in input order.
    pub sysmon: Vec<LoggedEvent>,
}

/// Flow-export messages an input holds, decoded after all inputs are read
/// (in input order, so templates carry from one input to the next).
enum Exports {
    None,
    /// Events of a Sysmon log (not exports, but carried the same way).
    Sysmon(Vec<crate::source::sysmon::SysmonEvent>),
    /// Datagrams found in a capture: where they are, the arena of any
    /// that had to be copied, and the capture's bytes (kept mapped until
    /// the flows are decoded, so the datagrams are read in place).
    Capture(Vec<ExportRef>, Vec<u8>, Option<source::Data>),
    /// A file of export messages: its bytes and where each message is.
    File(source::Data, Vec<(usize, usize)>),
}

/// Reads every input, in parallel across inputs; reports keep input order.
/// `flow_ports`: UDP ports whose datagrams in captures are flow exports
/// (see [`flow::COLLECTOR_PORTS`]).
pub fn read_inputs(
    inputs: &[Input],
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> (Vec<InputReport>, Evidence) {
    let per_input: Vec<(InputReport, Vec<TcpSignal>, Exports)> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, input)| read_one(i as u32, input, flow_ports, progress))
        .collect();
    let total: usize = per_input.iter().map(|(_, s, _)| s.len()).sum();
    let mut ev = Evidence {
        signals: Vec::with_capacity(total),
        flow_attempts: Vec::new(),
        sysmon: Vec::new(),
    };
    let mut reports = Vec::with_capacity(per_input.len());
    let mut flows: Option<FlowReader> = None;
    for (idx, (r, s, exports)) in per_input.into_iter().enumerate() {
        ev.signals.extend(s);
        match exports {
            Exports::None => {}
            Exports::Sysmon(events) => {
                ev.sysmon
                    .extend(events.into_iter().map(|event| LoggedEvent {
                        input: idx as u32,
                        event,
                    }))
            }
            Exports::Capture(refs, arena, data) => {
                let reader = flows.get_or_insert_with(FlowReader::default);
                reader.begin_input(idx as u32);
                let input = data.as_deref().unwrap_or_default();
                for e in &refs {
                    reader.message(
                        e.bytes(input, &arena),
                        Some((e.exporter, e.exporter_port)),
                        e.offset,
                        e.frame,
                    );
                }
            }
            Exports::File(data, msgs) => {
                let reader = flows.get_or_insert_with(FlowReader::default);
                reader.begin_input(idx as u32);
                for (n, &(at, len)) in msgs.iter().enumerate() {
                    reader.message(&data[at..at + len], None, at as u64, n as u64 + 1);
                }
            }
        }
        reports.push(r);
    }
    if let Some(reader) = flows {
        let (attempts, per_input) = reader.finish();
        ev.flow_attempts = attempts;
        for (idx, (stats, warnings)) in per_input {
            let r = &mut reports[idx as usize];
            r.flows = Some(stats);
            r.add_warnings(warnings);
        }
    }
    (reports, ev)
}

fn read_one(
    idx: u32,
    input: &Input,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> (InputReport, Vec<TcpSignal>, Exports) {
    let mut report = InputReport::new(input);
    let data = match source::load(input) {
        Ok(d) => d,
        Err(SourceError::Empty { .. }) if input.from_dir => {
            report.note = Some("empty file, skipped".into());
            return (report, Vec::new(), Exports::None);
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return (report, Vec::new(), Exports::None);
        }
    };
    // What decompressed from a broken gzip stream is read as far as it
    // goes, whatever it holds; the warning says where it broke.
    let broken = match &data {
        source::Data::Partial { data, why } => Some(Warning {
            reason: "gzip_broken",
            offset: data.len() as u64,
            frame: None,
            message: why.clone(),
        }),
        _ => None,
    };
    let (mut report, signals, exports) = read_data(idx, input, report, data, flow_ports, progress);
    if let Some(w) = broken {
        report.warnings.insert(0, w);
    }
    (report, signals, exports)
}

/// Reads a loaded input by what it holds: a capture, a Sysmon log, or a
/// file of flow-export messages.
fn read_data(
    idx: u32,
    input: &Input,
    mut report: InputReport,
    data: source::Data,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> (InputReport, Vec<TcpSignal>, Exports) {
    match read_capture_with_ports(&input.name, &data, idx, flow_ports, progress) {
        Ok(mut out) => {
            let exports = if out.exports.is_empty() {
                Exports::None
            } else {
                let mut refs = std::mem::take(&mut out.exports);
                let mut arena = std::mem::take(&mut out.export_bytes);
                if matches!(data, source::Data::Mapped(_)) {
                    Exports::Capture(refs, arena, Some(data))
                } else {
                    // A decompressed capture is held in memory: keep only
                    // its datagrams until the flows are decoded, not all of
                    // it (inputs are read in parallel, decoded after).
                    for e in refs.iter_mut().filter(|e| e.in_input) {
                        let start = arena.len();
                        arena.extend_from_slice(e.bytes(&data, &[]));
                        (e.start, e.in_input) = (start, false);
                    }
                    Exports::Capture(refs, arena, None)
                }
            };
            report.format = out.format.map(|f| f.name());
            report.set_stats(&out.stats);
            report.add_warnings(out.warnings);
            (report, out.signals, exports)
        }
        Err(e @ SourceError::NotACapture { .. }) => {
            // Not a capture: perhaps a Sysmon log (EVTX, event XML, JSON
            // lines, syslog).
            if let Some(format) = sysmon::sniff(&data) {
                report.bytes = data.len() as u64;
                return match sysmon::read(&input.name, &data) {
                    Ok(log) => {
                        report.format = Some(format.name());
                        report.sysmon = Some(log.stats);
                        report.add_warnings(log.warnings);
                        (report, Vec::new(), Exports::Sysmon(log.events))
                    }
                    Err(e) => {
                        report.error = Some(e.to_string());
                        (report, Vec::new(), Exports::None)
                    }
                };
            }
            // Or a file of export messages (an RFC 5655 IPFIX file,
            // NetFlow datagrams as a collector saved them).
            if let Some(flow::Split {
                messages: msgs,
                cut,
            }) = flow::split_messages(&data)
            {
                report.format = Some("flow-export");
                report.bytes = data.len() as u64;
                if let Some((at, why)) = cut {
                    report.skipped.add(Skip::BadRecordLength, 1);
                    report.warnings.push(Warning {
                        reason: Skip::BadRecordLength.name(),
                        offset: at as u64,
                        frame: Some(msgs.len() as u64 + 1),
                        message: format!(
                            "export message {}: {why}; {} byte(s) from here not read",
                            msgs.len() + 1,
                            data.len() - at
                        ),
                    });
                }
                return (report, Vec::new(), Exports::File(data, msgs));
            }
            if input.from_dir {
                report.skipped.add(Skip::NotACapture, 1);
                report.note = Some("not a capture, skipped".into());
            } else {
                report.error = Some(e.to_string());
            }
            (report, Vec::new(), Exports::None)
        }
        Err(e) => {
            report.error = Some(e.to_string());
            (report, Vec::new(), Exports::None)
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
    /// Hosts whose RDP listener was moved off 3389 (DETECTION.md §8).
    pub rdp: Vec<crate::analysis::rdp::RdpMove>,
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
    /// Hosts whose RDP port was moved (Sysmon Event ID 13).
    pub rdp_port_changes: usize,
    /// Beacon series found, and what the detector tested and dropped.
    pub beacons: BeaconStats,
    /// Flow exports over all inputs, when any input held some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowStats>,
    /// Sysmon events over all inputs, when any input was a Sysmon log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysmon: Option<SysmonStats>,
    /// What joining the Sysmon events to the network evidence did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinStats>,
    /// `portent collect`: the whole run's totals (the fields above are the
    /// last window's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<crate::collect::CollectorStats>,
}

/// Filters, scores and groups the attempts from `signals`.
pub fn analyze(
    inputs: Vec<InputReport>,
    evidence: Evidence,
    policy: &Policy,
    opts: &RunOptions,
) -> Analysis {
    let mut attempts = attempts::build(evidence.signals, &opts.rules);
    // Packet attempts come in time and frame order; flow attempts too.
    crate::event::sort_attempts(&mut attempts);
    let attempts = crate::event::merge_attempts(attempts, evidence.flow_attempts);
    let logs = inputs.iter().any(|r| r.sysmon.is_some());
    if !logs {
        return analyze_attempts(inputs, attempts, policy, opts);
    }
    let (attempts, stats) = join::join(attempts, &evidence.sysmon, &opts.join);
    let rdp = crate::analysis::rdp::moves(&evidence.sysmon, &attempts);
    let mut a = analyze_attempts(inputs, attempts, policy, opts);
    a.summary.rdp_port_changes = rdp.len();
    a.rdp = rdp;
    let mut total = SysmonStats::default();
    for r in &a.inputs {
        if let Some(s) = &r.sysmon {
            total.add(s);
        }
    }
    a.summary.sysmon = Some(total);
    a.summary.join = Some(stats);
    a
}

/// Filters, scores and groups attempts already built, in
/// [`crate::event::sort_attempts`] order (a live collector keeps its
/// rolling window that way).
pub fn analyze_attempts(
    inputs: Vec<InputReport>,
    attempts: Vec<Attempt>,
    policy: &Policy,
    opts: &RunOptions,
) -> Analysis {
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
        if let Some(f) = &r.flows {
            s.flows.get_or_insert_with(FlowStats::default).add(f);
        }
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
        rdp: Vec::new(),
        summary: s,
        known_c2: policy.known_c2.clone(),
    }
}
