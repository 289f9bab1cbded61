//! The findings model: what a run found and what happened to each input.
//!
//! The pipeline builds an [`Analysis`]; reports, the exit code and the live
//! collector only read it. Keeping the model apart from the code that fills
//! it is what lets a new report or a new command read a run without
//! reaching into the pipeline.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::beacon::{Beacon, BeaconStats};
use crate::analysis::group::Finding;
use crate::analysis::join::JoinStats;
use crate::analysis::ports::Severity;
use crate::analysis::profile::ProfileStats;
use crate::analysis::rdp::RdpMove;
use crate::event::Attempt;
use crate::filter::{Scope, Suppressed};
use crate::policy::PortSet;
use crate::source::conn::ConnStats;
use crate::source::flow::FlowStats;
use crate::source::sysmon::SysmonStats;
use crate::source::Input;
use crate::stats::{CaptureStats, SkipCounts, Warning, Warnings};

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
    pub(crate) fn add_warnings(&mut self, w: Warnings) {
        self.warnings_dropped.extend(w.dropped());
        self.warnings.extend(w.kept);
    }

    pub(crate) fn set_stats(&mut self, s: &CaptureStats) {
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

/// The verdict on one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub scope: Scope,
    /// `Some` when the attempt is not scored.
    pub suppressed: Option<Suppressed>,
    /// The tier the attempt has, or would have had if not suppressed: the
    /// higher of its port's and its content's.
    pub tier: u8,
    /// Whether its service does not follow its port; `None` when no payload
    /// was seen.
    pub port_mismatch: Option<bool>,
    /// What the content showed, when it raised the tier.
    pub reason: Option<String>,
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
    pub rdp: Vec<RdpMove>,
    pub summary: Summary,
    /// The policy's known C2 ports, for the reports.
    pub known_c2: PortSet,
    /// The policy's home networks, for the reports that say which
    /// addresses are local (Zeek's `local_orig` and `local_resp`).
    pub home_net: Vec<ipnet::IpNet>,
}

impl Analysis {
    /// Whether a beacon goes to a known C2 port (and so makes its findings
    /// High).
    pub fn known_c2_beacon(&self, b: &Beacon) -> bool {
        self.known_c2.contains(b.dport)
    }

    /// The highest severity of anything the run found; each kind of finding
    /// carries its own.
    pub fn worst_severity(&self) -> Option<Severity> {
        let findings = self.findings.iter().map(Finding::severity);
        findings.chain(self.rdp.iter().map(RdpMove::severity)).max()
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
    /// Attempts whose connection carried a service its port is not
    /// registered for (scored or not).
    pub port_mismatches: u64,
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
    /// TCP connections the captures showed, when any input was a capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<ConnStats>,
    /// What joining the Sysmon events to the network evidence did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinStats>,
    /// With `--profile`: which query the findings are, and what it read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileStats>,
}
