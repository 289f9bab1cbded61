//! One run of portent: read every input (in parallel), build attempts,
//! filter and score them, group findings, and account for everything.
//!
//! This is the pipeline sources -> events -> filter -> analyzers -> findings;
//! reports only read the [`Analysis`] (in [`crate::findings`]) it returns.

use rayon::prelude::*;

use crate::analysis::attempts::{self, AttemptRules};
use crate::analysis::beacon::{self, Beacon, BeaconConfig};
use crate::analysis::content;
use crate::analysis::group;
use crate::analysis::join::{self, JoinOptions, LoggedEvent};
use crate::analysis::ports;
use crate::analysis::profile::{self, ProfileOptions};
use crate::event::{Attempt, TcpSignal};
use crate::filter::Filter;
use crate::findings::{Analysis, InputReport, Summary, Verdict};
use crate::policy::Policy;
use crate::source::conn::{self, ConnTable};
use crate::source::flow::{ExportRef, FlowReader, FlowStats};
use crate::source::sysmon::SysmonStats;
use crate::source::{self, Input, Loaded, SourceError};
use crate::stats::{Skip, Warning};
use crate::time::Ts;

/// What the analyzers need besides the policy.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub rules: AttemptRules,
    /// Group findings per host per window (Chronicle's 5 minutes).
    pub window: Option<Ts>,
    pub beacon: BeaconConfig,
    pub join: JoinOptions,
    /// Findings as one of the five seed queries returns them, instead of
    /// portent's own model (DETECTION.md §11).
    pub profile: Option<ProfileOptions>,
}

/// What reading the inputs gave: packet signals, and attempts already built
/// from flow records.
#[derive(Debug, Default)]
pub struct Evidence {
    pub signals: Vec<TcpSignal>,
    pub flow_attempts: Vec<Attempt>,
    /// Sysmon events, in input order.
    pub sysmon: Vec<LoggedEvent>,
    /// Every TCP connection the captures showed, merged across inputs in
    /// input order; `None` when no input was a capture.
    pub conns: Option<ConnTable>,
}

/// Flow-export messages an input holds, decoded after all inputs are read
/// (in input order, so templates carry from one input to the next).
#[derive(Default)]
enum Exports {
    #[default]
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

/// What one input gave besides its report.
#[derive(Default)]
struct Read {
    signals: Vec<TcpSignal>,
    /// A capture's connections.
    conns: Option<ConnTable>,
    exports: Exports,
}

/// Reads every input, in parallel across inputs; reports keep input order.
/// `flow_ports`: UDP ports whose datagrams in captures are flow exports
/// (see [`flow::COLLECTOR_PORTS`]).
pub fn read_inputs(
    inputs: &[Input],
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> (Vec<InputReport>, Evidence) {
    let per_input: Vec<(InputReport, Read)> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, input)| read_one(i as u32, input, flow_ports, progress))
        .collect();
    let total: usize = per_input.iter().map(|(_, r)| r.signals.len()).sum();
    let mut ev = Evidence {
        signals: Vec::with_capacity(total),
        ..Evidence::default()
    };
    let mut reports = Vec::with_capacity(per_input.len());
    let mut flows: Option<FlowReader> = None;
    for (idx, (r, read)) in per_input.into_iter().enumerate() {
        let Read {
            signals,
            conns,
            exports,
        } = read;
        ev.signals.extend(signals);
        if let Some(c) = conns {
            ev.conns.get_or_insert_with(ConnTable::default).merge(c);
        }
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
) -> (InputReport, Read) {
    let mut report = InputReport::new(input);
    let opened = source::open(input, idx, flow_ports, progress);
    let read = match opened.loaded {
        Ok(loaded) => {
            report.format = Some(loaded.format_name());
            read_loaded(&mut report, loaded)
        }
        Err(SourceError::Empty { .. }) if input.from_dir => {
            report.note = Some("empty file, skipped".into());
            Read::default()
        }
        Err(SourceError::Unrecognized { .. }) if input.from_dir => {
            report.skipped.add(Skip::NotACapture, 1);
            report.note = Some("not a capture, skipped".into());
            Read::default()
        }
        Err(e) => {
            report.error = Some(e.to_string());
            Read::default()
        }
    };
    if let Some(w) = opened.gzip_broken {
        report.warnings.insert(0, w);
    }
    (report, read)
}

/// Accounts for what an input held and keeps what the analysis needs of it.
fn read_loaded(report: &mut InputReport, loaded: Loaded) -> Read {
    match loaded {
        Loaded::Capture { data, mut out } => {
            let unreadable = conn::identify(&mut out.conns, &data);
            report.add_warnings(unreadable);
            let exports = if out.exports.is_empty() {
                data.release();
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
                    data.release();
                    Exports::Capture(refs, arena, None)
                }
            };
            report.set_stats(&out.stats);
            report.add_warnings(out.warnings);
            Read {
                signals: out.signals,
                conns: Some(out.conns),
                exports,
            }
        }
        Loaded::Sysmon { bytes, log, .. } => {
            report.bytes = bytes;
            report.sysmon = Some(log.stats);
            report.add_warnings(log.warnings);
            Read {
                exports: Exports::Sysmon(log.events),
                ..Read::default()
            }
        }
        Loaded::FlowFile { data, split } => {
            report.bytes = data.len() as u64;
            let msgs = split.messages;
            if let Some((at, why)) = split.cut {
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
            Read {
                exports: Exports::File(data, msgs),
                ..Read::default()
            }
        }
    }
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
    let conn_stats = evidence.conns.map(|table| {
        let (conns, stats) = table.finish();
        conn::attach(&mut attempts, &conns);
        stats
    });
    let attempts = crate::event::merge_attempts(attempts, evidence.flow_attempts);
    let logs = inputs.iter().any(|r| r.sysmon.is_some());
    if !logs {
        let mut a = analyze_attempts(inputs, attempts, policy, opts);
        a.summary.connections = conn_stats;
        if let Some(p) = &opts.profile {
            apply_profile(&mut a, &evidence.sysmon, p);
        }
        return a;
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
    a.summary.connections = conn_stats;
    if let Some(p) = &opts.profile {
        apply_profile(&mut a, &evidence.sysmon, p);
    }
    a
}

/// Replaces portent's findings by those of the profile's query. Beacons and
/// RDP moves are portent's own and no query's: with a profile the run
/// reports only what the query returns (their counts stay in the summary).
fn apply_profile(a: &mut Analysis, events: &[LoggedEvent], opts: &ProfileOptions) {
    let unlogged = a.attempts.iter().filter(|x| x.process.is_none()).count() as u64;
    let (findings, stats) = profile::run(events, opts, unlogged);
    a.findings = findings;
    a.beacons.clear();
    a.rdp.clear();
    let s = &mut a.summary;
    s.findings = a.findings.len();
    s.findings_by_severity.clear();
    for f in &a.findings {
        *s.findings_by_severity
            .entry(f.severity().as_str())
            .or_default() += 1;
    }
    s.profile = Some(stats);
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
            let judged = content::judge(policy, a);
            Verdict {
                scope: filter.scope(a.tuple.dst),
                suppressed: filter.judge(a),
                tier: ports::tier(policy, a.tuple.dport, image).max(judged.tier),
                port_mismatch: judged.port_mismatch,
                reason: judged.reason,
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
    // DETECTION.md §7: a beacon to a known C2 port is High whatever the
    // tier; so is one whose connections do not follow their port (§10).
    let mut in_c2_beacon = vec![false; attempts.len()];
    let high = |b: &&Beacon| {
        policy.known_c2.contains(b.dport)
            || b.attempts
                .iter()
                .any(|&i| verdicts[i].port_mismatch == Some(true))
    };
    for b in beacons.iter().filter(high) {
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
            .map(|((a, v), &b)| (a, v.tier, b, v.reason.as_deref())),
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
        s.port_mismatches += u64::from(v.port_mismatch == Some(true));
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
        home_net: policy.home_net.clone(),
    }
}
