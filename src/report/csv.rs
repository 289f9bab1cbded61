//! CSV for spreadsheets. Any cell that a spreadsheet would read as a formula
//! (starting `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`: image and
//! user names come from endpoint logs an attacker can influence.

use std::io::{self, Write};

use super::join;
use crate::findings::Analysis;

/// Neutralises spreadsheet formulas in a cell.
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn writer(w: &mut dyn Write) -> csv::Writer<&mut dyn Write> {
    csv::WriterBuilder::new().from_writer(w)
}

fn done(mut cw: csv::Writer<&mut dyn Write>) -> io::Result<()> {
    cw.flush()
}

pub fn findings(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    let mut cw = writer(w);
    cw.write_record([
        "severity",
        "risk_score",
        "host",
        "image",
        "user",
        "parent_image",
        "ports",
        "remote_ips",
        "count",
        "first_seen",
        "last_seen",
        "kind",
    ])?;
    for f in &a.findings {
        let opt = |o: &Option<String>| o.as_deref().map(cell).unwrap_or_default().into_owned();
        cw.write_record([
            f.severity().as_str().to_string(),
            f.risk_score.to_string(),
            cell(&f.key.host).into_owned(),
            opt(&f.key.image),
            opt(&f.key.user),
            opt(&f.key.parent_image),
            join(&f.ports, ";"),
            join(&f.remote_ips, ";"),
            f.count.to_string(),
            f.first_seen.to_string(),
            f.last_seen.to_string(),
            "connections".to_string(),
        ])?;
    }
    // RDP moved (DETECTION.md §8): the host, who set the port, the new
    // port, the sources and count of inbound attempts to it, when it was
    // set; no tier (it is not a connection's score).
    for m in &a.rdp {
        let opt = |o: &Option<String>| o.as_deref().map(cell).unwrap_or_default().into_owned();
        cw.write_record([
            "Medium".to_string(),
            String::new(),
            cell(&m.host).into_owned(),
            opt(&m.image),
            opt(&m.user),
            String::new(),
            m.port.to_string(),
            join(&m.inbound_sources, ";"),
            m.inbound.to_string(),
            m.ts.to_string(),
            m.ts.to_string(),
            "rdp_port".to_string(),
        ])?;
    }
    done(cw)
}

pub fn attempts(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    let mut cw = writer(w);
    cw.write_record([
        "ts",
        "src",
        "sport",
        "dst",
        "dport",
        "proto",
        "answered",
        "retransmits",
        "input",
        "frame",
        "dst_scope",
        "tier",
        "suppressed",
        "flow_version",
        "flow_packets",
        "flow_bytes",
        "flow_duration_ms",
        "exporter",
        "observation_domain",
        "in_if",
        "out_if",
        "sampling",
        "host",
        "image",
        "user",
        "parent_image",
        "pid",
        "process_guid",
        "join_rule",
        "conn_state",
        "service",
        "port_mismatch",
        "reason",
        "community_id",
    ])?;
    let opt = |o: Option<String>| o.unwrap_or_default();
    let text = |o: Option<&String>| o.map(|s| cell(s).into_owned()).unwrap_or_default();
    for (at, v) in a.attempts.iter().zip(&a.verdicts) {
        let f = at.flow.as_deref();
        let p = at.process.as_ref();
        cw.write_record([
            at.ts.to_string(),
            at.tuple.src.to_string(),
            at.tuple.sport.to_string(),
            at.tuple.dst.to_string(),
            at.tuple.dport.to_string(),
            at.tuple.proto.as_str().to_string(),
            at.answered.to_string(),
            at.retransmits.to_string(),
            cell(&a.inputs[at.origin.input as usize].input).into_owned(),
            at.origin.frame.to_string(),
            v.scope.name().to_string(),
            v.tier.to_string(),
            v.suppressed
                .as_ref()
                .map(|s| cell(&s.label()).into_owned())
                .unwrap_or_default(),
            opt(f.map(|f| f.version.to_string())),
            opt(f.map(|f| f.packets.to_string())),
            opt(f.map(|f| f.bytes.to_string())),
            opt(f.map(|f| f.duration_ms.to_string())),
            opt(f.and_then(|f| f.exporter).map(|e| e.to_string())),
            opt(f.map(|f| f.observation_domain.to_string())),
            opt(f.and_then(|f| f.in_if).map(|i| i.to_string())),
            opt(f.and_then(|f| f.out_if).map(|i| i.to_string())),
            opt(f.and_then(|f| f.sampling).map(|i| i.to_string())),
            text(p.and_then(|p| p.host.as_ref())),
            text(p.and_then(|p| p.image.as_ref())),
            text(p.and_then(|p| p.user.as_ref())),
            text(p.and_then(|p| p.parent_image.as_ref())),
            opt(p.and_then(|p| p.pid).map(|n| n.to_string())),
            text(p.and_then(|p| p.process_guid.as_ref())),
            opt(p.and_then(|p| p.rule).map(str::to_string)),
            opt(at.conn.as_ref().map(|c| c.state.to_string())),
            opt(super::service(at).map(str::to_string)),
            opt(v.port_mismatch.map(|m| m.to_string())),
            v.reason
                .as_deref()
                .map(|r| cell(r).into_owned())
                .unwrap_or_default(),
            at.tuple.community_id().to_string(),
        ])?;
    }
    done(cw)
}

/// CSV for spreadsheets.
pub struct Csv;

impl super::Report for Csv {
    fn findings(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        findings(w, a)
    }

    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        attempts(w, a)
    }
}
