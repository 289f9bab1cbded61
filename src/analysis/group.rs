//! Grouping scored attempts into findings (DETECTION.md §6).
//!
//! The seeds group by (host, image, user, parent image); with no endpoint
//! context the host is the source address. An optional time window
//! reproduces Chronicle's per-host 5-minute grouping. Sets are ordered and
//! the final sort uses every key, so output is identical run to run.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::analysis::ports::Severity;
use crate::event::Attempt;
use crate::time::Ts;

/// The key findings are grouped by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub host: String,
    pub image: Option<String>,
    pub user: Option<String>,
    pub parent_image: Option<String>,
    /// Start of the time window, when grouping by window.
    pub window: Option<Ts>,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub key: GroupKey,
    pub ports: BTreeSet<u16>,
    pub remote_ips: BTreeSet<IpAddr>,
    /// Attempts in the group (retransmissions not counted).
    pub count: u64,
    pub risk_score: u8,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// Some attempt of the group belongs to a beacon to a known C2 port.
    pub beacon: bool,
    /// The highest record number among its attempts: in a live collector,
    /// the interval that took the newest (what a written line covered).
    pub newest_frame: u64,
    /// What the attempts' content showed (port mismatches, indicators): up
    /// to [`MAX_REASONS`] different ones, the first seen, sorted.
    pub reasons: BTreeSet<String>,
}

/// Reasons kept per finding: enough to show each kind of evidence, few
/// enough that a busy host's finding stays one line.
pub const MAX_REASONS: usize = 8;

impl Finding {
    /// The tier's severity; High for a beacon to a known C2 port whatever
    /// the tier (DETECTION.md §7).
    pub fn severity(&self) -> Severity {
        if self.beacon {
            return Severity::High;
        }
        Severity::from_tier(self.risk_score).unwrap_or(Severity::Low)
    }
}

/// Groups `(attempt, tier, in a C2 beacon, reason)` with tier ≥ 1 into
/// findings, sorted by severity, risk, then count (all descending), then
/// key and first time.
pub fn group<'a>(
    scored: impl IntoIterator<Item = (&'a Attempt, u8, bool, Option<&'a str>)>,
    window: Option<Ts>,
) -> Vec<Finding> {
    let mut groups: BTreeMap<GroupKey, Finding> = BTreeMap::new();
    for (a, tier, beacon, reason) in scored {
        if tier == 0 {
            continue;
        }
        let p = a.process.as_ref();
        let key = GroupKey {
            host: p
                .and_then(|p| p.host.clone())
                .unwrap_or_else(|| a.tuple.src.to_string()),
            image: p.and_then(|p| p.image.clone()),
            user: p.and_then(|p| p.user.clone()),
            parent_image: p.and_then(|p| p.parent_image.clone()),
            window: window
                .filter(|w| w.0 > 0)
                .map(|w| Ts(a.ts.0 - a.ts.0.rem_euclid(w.0))),
        };
        let f = groups.entry(key.clone()).or_insert_with(|| Finding {
            key,
            ports: BTreeSet::new(),
            remote_ips: BTreeSet::new(),
            count: 0,
            risk_score: 0,
            first_seen: a.ts,
            last_seen: a.ts,
            beacon: false,
            newest_frame: 0,
            reasons: BTreeSet::new(),
        });
        if let Some(r) = reason.filter(|_| f.reasons.len() < MAX_REASONS) {
            f.reasons.insert(r.to_string());
        }
        f.beacon |= beacon;
        f.newest_frame = f.newest_frame.max(a.origin.frame);
        f.ports.insert(a.tuple.dport);
        f.remote_ips.insert(a.tuple.dst);
        f.count += 1;
        f.risk_score = f.risk_score.max(tier);
        f.first_seen = f.first_seen.min(a.ts);
        f.last_seen = f.last_seen.max(a.ts);
    }
    let mut out: Vec<Finding> = groups.into_values().collect();
    sort_findings(&mut out);
    out
}

/// The report's order of findings: most severe first, then highest risk,
/// most attempts, and by key and first time for a deterministic order.
pub fn sort_findings(out: &mut [Finding]) {
    out.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then(b.risk_score.cmp(&a.risk_score))
            .then(b.count.cmp(&a.count))
            .then_with(|| a.key.cmp(&b.key))
            .then(a.first_seen.cmp(&b.first_seen))
    });
}
