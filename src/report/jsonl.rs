//! JSON Lines: one object per line, each with a `type` (`attempt`,
//! `finding`, `summary`). Field names and meanings are the stable interface
//! documented in the README; new fields may be added, none renamed.

use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::beacon::Beacon;
use crate::analysis::group::Finding;
use crate::event::community_id::CommunityId;
use crate::findings::Analysis;

#[derive(Serialize)]
struct AttemptRec<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    ts: String,
    src: String,
    sport: u16,
    dst: String,
    dport: u16,
    proto: &'static str,
    /// The flow's Community ID v1 (seed 0), as Zeek, Suricata and Arkime
    /// write it.
    community_id: CommunityId,
    answered: bool,
    retransmits: u32,
    input: &'a str,
    frame: u64,
    dst_scope: &'static str,
    tier: u8,
    suppressed: Option<String>,
    bad_checksum: bool,
    /// What the flow record knew; null for attempts seen as packets.
    flow: Option<FlowRec>,
    /// What the whole connection showed; null for attempts from flows or
    /// logs.
    conn: Option<ConnRec>,
    /// The service its first bytes say it is (`unknown` when none
    /// matched); null when no payload was seen.
    service: Option<&'static str>,
    /// The service does not follow the port; null when no payload was seen.
    port_mismatch: Option<bool>,
    /// What the content showed, when it raised the tier.
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upgraded_to: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<&'a crate::service::TlsInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<&'a crate::service::HttpInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh: Option<&'a crate::service::SshInfo>,
    /// Process context from Sysmon; null when none matched.
    host: Option<&'a str>,
    image: Option<&'a str>,
    user: Option<&'a str>,
    parent_image: Option<&'a str>,
    pid: Option<u32>,
    process_guid: Option<&'a str>,
    join_rule: Option<&'static str>,
}

#[derive(Serialize)]
struct FlowRec {
    version: u8,
    packets: u64,
    bytes: u64,
    duration_ms: u64,
    exporter: Option<String>,
    observation_domain: u32,
    in_if: Option<u32>,
    out_if: Option<u32>,
    sampling: Option<u32>,
}

#[derive(Serialize)]
struct ConnRec {
    state: &'static str,
    duration_s: f64,
    orig_pkts: u64,
    resp_pkts: u64,
    orig_bytes: u64,
    resp_bytes: u64,
    orig_ip_bytes: u64,
    resp_ip_bytes: u64,
}

#[derive(Serialize)]
struct FindingRec<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    host: &'a str,
    image: Option<&'a str>,
    user: Option<&'a str>,
    parent_image: Option<&'a str>,
    ports: Vec<u16>,
    remote_ips: Vec<String>,
    count: u64,
    risk_score: u8,
    severity: &'static str,
    first_seen: String,
    last_seen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    window_start: Option<String>,
    beacon: bool,
    /// What the content of its connections showed, when it raised the
    /// risk (port mismatches, policy indicators).
    reasons: Vec<&'a str>,
}

#[derive(Serialize)]
struct BinRec {
    lo_s: f64,
    /// Null for the open bin above three periods.
    hi_s: Option<f64>,
    count: u32,
}

#[derive(Serialize)]
struct BeaconRec {
    #[serde(rename = "type")]
    ty: &'static str,
    src: String,
    /// The destination; null for a series across destinations.
    dst: Option<String>,
    dsts: Vec<String>,
    dport: u16,
    across_destinations: bool,
    known_c2_port: bool,
    /// Some attempt of the series carried a service its port is not
    /// registered for (which also makes its findings High).
    port_mismatch: bool,
    period_s: f64,
    jitter: f64,
    missed: f64,
    count: usize,
    beats: usize,
    first_seen: String,
    last_seen: String,
    score: f64,
    llr: f64,
    threshold: f64,
    reason: String,
    histogram: Vec<BinRec>,
}

/// Rounds for output: enough digits to read, stable across platforms.
fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

#[derive(Serialize)]
struct SummaryRec<'a, E: Serialize> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    summary: &'a crate::findings::Summary,
    /// What a command adds of its own (the collector's whole-run totals).
    #[serde(flatten)]
    extra: Option<E>,
    per_input: &'a [crate::findings::InputReport],
}

fn line<T: Serialize>(w: &mut dyn Write, rec: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *w, rec)?;
    w.write_all(b"\n")
}

pub fn attempts(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    for (at, v) in a.attempts.iter().zip(&a.verdicts) {
        let p = at.process.as_ref();
        let content = at.conn.as_ref().and_then(|c| c.content.as_deref());
        line(
            w,
            &AttemptRec {
                host: p.and_then(|p| p.host.as_deref()),
                image: p.and_then(|p| p.image.as_deref()),
                user: p.and_then(|p| p.user.as_deref()),
                parent_image: p.and_then(|p| p.parent_image.as_deref()),
                pid: p.and_then(|p| p.pid),
                process_guid: p.and_then(|p| p.process_guid.as_deref()),
                join_rule: p.and_then(|p| p.rule),
                ty: "attempt",
                ts: at.ts.to_string(),
                src: at.tuple.src.to_string(),
                sport: at.tuple.sport,
                dst: at.tuple.dst.to_string(),
                dport: at.tuple.dport,
                proto: at.tuple.proto.as_str(),
                community_id: at.tuple.community_id(),
                answered: at.answered,
                retransmits: at.retransmits,
                input: &a.inputs[at.origin.input as usize].input,
                frame: at.origin.frame,
                dst_scope: v.scope.name(),
                tier: v.tier,
                suppressed: v.suppressed.as_ref().map(|s| s.label()),
                bad_checksum: at.bad_checksum,
                flow: at.flow.as_deref().map(|f| FlowRec {
                    version: f.version,
                    packets: f.packets,
                    bytes: f.bytes,
                    duration_ms: f.duration_ms,
                    exporter: f.exporter.map(|e| e.to_string()),
                    observation_domain: f.observation_domain,
                    in_if: f.in_if,
                    out_if: f.out_if,
                    sampling: f.sampling,
                }),
                service: content.and_then(|c| c.service).map(|s| s.name()),
                port_mismatch: v.port_mismatch,
                reason: v.reason.as_deref(),
                upgraded_to: content.and_then(|c| c.upgraded_to).map(|s| s.name()),
                tls: content.and_then(|c| c.tls.as_ref()),
                http: content.and_then(|c| c.http.as_ref()),
                ssh: content.and_then(|c| c.ssh.as_ref()),
                conn: at.conn.as_deref().map(|c| ConnRec {
                    state: c.state,
                    duration_s: round(c.duration.secs_f64(), 6),
                    orig_pkts: c.orig_pkts,
                    resp_pkts: c.resp_pkts,
                    orig_bytes: c.orig_bytes,
                    resp_bytes: c.resp_bytes,
                    orig_ip_bytes: c.orig_ip_bytes,
                    resp_ip_bytes: c.resp_ip_bytes,
                }),
            },
        )?;
    }
    summary(w, a)
}

pub fn findings(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    for f in &a.findings {
        finding(w, f)?;
    }
    for b in &a.beacons {
        beacon(w, a, b)?;
    }
    for m in &a.rdp {
        line(
            w,
            &RdpRec {
                ty: "rdp_port",
                host: &m.host,
                port: m.port,
                severity: "Medium",
                ts: m.ts.to_string(),
                image: m.image.as_deref(),
                user: m.user.as_deref(),
                input: &a.inputs[m.origin.input as usize].input,
                record: m.origin.frame,
                addresses: m.addresses.iter().map(|a| a.to_string()).collect(),
                inbound: m.inbound,
                inbound_sources: m.inbound_sources.iter().map(|a| a.to_string()).collect(),
            },
        )?;
    }
    summary(w, a)
}

#[derive(Serialize)]
struct RdpRec<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    host: &'a str,
    port: u16,
    severity: &'static str,
    ts: String,
    image: Option<&'a str>,
    user: Option<&'a str>,
    input: &'a str,
    record: u64,
    addresses: Vec<String>,
    inbound: u64,
    inbound_sources: Vec<String>,
}

/// One `finding` record.
pub fn finding(w: &mut dyn Write, f: &Finding) -> io::Result<()> {
    line(
        w,
        &FindingRec {
            ty: "finding",
            host: &f.key.host,
            image: f.key.image.as_deref(),
            user: f.key.user.as_deref(),
            parent_image: f.key.parent_image.as_deref(),
            ports: f.ports.iter().copied().collect(),
            remote_ips: f.remote_ips.iter().map(|ip| ip.to_string()).collect(),
            count: f.count,
            risk_score: f.risk_score,
            severity: f.severity().as_str(),
            first_seen: f.first_seen.to_string(),
            last_seen: f.last_seen.to_string(),
            window_start: f.key.window.map(|t| t.to_string()),
            beacon: f.beacon,
            reasons: f.reasons.iter().map(String::as_str).collect(),
        },
    )
}

/// One `beacon` record of the analysis `a`.
pub fn beacon(w: &mut dyn Write, a: &Analysis, b: &Beacon) -> io::Result<()> {
    line(
        w,
        &BeaconRec {
            ty: "beacon",
            src: b.src.to_string(),
            dst: (!b.across_destinations).then(|| b.dsts[0].to_string()),
            dsts: b.dsts.iter().map(|d| d.to_string()).collect(),
            dport: b.dport,
            across_destinations: b.across_destinations,
            known_c2_port: a.known_c2_beacon(b),
            port_mismatch: b
                .attempts
                .iter()
                .any(|&i| a.verdicts[i].port_mismatch == Some(true)),
            period_s: round(b.fit.period_s, 3),
            jitter: round(b.fit.jitter, 3),
            missed: round(b.fit.missed, 3),
            count: b.count,
            beats: b.fit.beats,
            first_seen: b.first_seen.to_string(),
            last_seen: b.last_seen.to_string(),
            score: round(b.fit.score, 3),
            llr: round(b.fit.llr, 2),
            threshold: round(b.fit.threshold, 2),
            reason: b.reason(),
            histogram: b
                .histogram
                .iter()
                .map(|h| BinRec {
                    lo_s: round(h.lo_s, 3),
                    hi_s: h.hi_s.is_finite().then(|| round(h.hi_s, 3)),
                    count: h.count,
                })
                .collect(),
        },
    )
}

/// The `summary` record.
pub fn summary(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    summary_with(w, a, None::<()>)
}

/// The `summary` record with a command's own fields after the run's (their
/// keys must not be the summary's).
pub fn summary_with<E: Serialize>(
    w: &mut dyn Write,
    a: &Analysis,
    extra: Option<E>,
) -> io::Result<()> {
    line(
        w,
        &SummaryRec {
            ty: "summary",
            summary: &a.summary,
            extra,
            per_input: &a.inputs,
        },
    )
}

/// JSON Lines, the stable machine interface.
pub struct Jsonl;

impl super::Report for Jsonl {
    fn findings(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        findings(w, a)
    }

    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        attempts(w, a)
    }
}
