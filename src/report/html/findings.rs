//! Findings with the evidence their connections carried, beacons with
//! their plots, and RDP listeners moved off 3389.

use std::fmt::Write as _;
use std::net::IpAddr;

use hashbrown::HashMap;

use super::{
    cut_note, finite, grouped, ip_cell, list, num_cell, opt_cell, plural, severity_cell, svg,
    table_close, table_open, ts_cell, Col, Esc, MAX_BEACON_PLOTS, MAX_EVIDENCE, MAX_ROWS, NUM,
    TEXT,
};
use crate::analysis::group::Finding;
use crate::event::Attempt;
use crate::findings::{Analysis, Verdict};
use crate::time::Ts;

/// What one kind of connection of a finding carried: the attempts with the
/// same destination, service, content details and process instance.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct EvidenceKey<'a> {
    pub(super) dst: IpAddr,
    pub(super) dport: u16,
    pub(super) service: Option<&'static str>,
    pub(super) upgraded_to: Option<&'static str>,
    pub(super) port_mismatch: Option<bool>,
    pub(super) tls_version: Option<&'a str>,
    pub(super) sni: Option<&'a str>,
    pub(super) alpn: &'a [String],
    pub(super) ja3: Option<&'a str>,
    pub(super) ja3s: Option<&'a str>,
    pub(super) ja4: Option<&'a str>,
    pub(super) cert_subject: Option<&'a str>,
    pub(super) cert_issuer: Option<&'a str>,
    pub(super) cert_self_signed: Option<bool>,
    pub(super) cert_sha256: Option<&'a str>,
    pub(super) http_method: Option<&'a str>,
    pub(super) http_host: Option<&'a str>,
    pub(super) http_uri: Option<&'a str>,
    pub(super) http_user_agent: Option<&'a str>,
    pub(super) http_status: Option<u16>,
    pub(super) ssh_client: Option<&'a str>,
    pub(super) ssh_server: Option<&'a str>,
    pub(super) pid: Option<u32>,
    pub(super) process_guid: Option<&'a str>,
    pub(super) join_rule: Option<&'static str>,
}

impl<'a> EvidenceKey<'a> {
    pub(super) fn of(at: &'a Attempt, v: &Verdict) -> Self {
        let c = at.conn.as_ref().and_then(|c| c.content.as_deref());
        let tls = c.and_then(|c| c.tls.as_ref());
        let cert = tls.and_then(|t| t.cert.as_ref());
        let http = c.and_then(|c| c.http.as_ref());
        let ssh = c.and_then(|c| c.ssh.as_ref());
        let p = at.process.as_deref();
        EvidenceKey {
            dst: at.tuple.dst,
            dport: at.tuple.dport,
            service: c.and_then(|c| c.service).map(|s| s.name()),
            upgraded_to: c.and_then(|c| c.upgraded_to).map(|s| s.name()),
            port_mismatch: v.port_mismatch,
            tls_version: tls.and_then(|t| t.version.as_deref()),
            sni: tls.and_then(|t| t.sni.as_deref()),
            alpn: tls.map_or(&[], |t| t.alpn.as_slice()),
            ja3: tls.and_then(|t| t.ja3.as_deref()),
            ja3s: tls.and_then(|t| t.ja3s.as_deref()),
            ja4: tls.and_then(|t| t.ja4.as_deref()),
            cert_subject: cert.map(|c| c.subject.as_str()),
            cert_issuer: cert.map(|c| c.issuer.as_str()),
            cert_self_signed: cert.map(|c| c.self_signed),
            cert_sha256: cert.map(|c| c.sha256.as_str()),
            http_method: http.and_then(|h| h.method.as_deref()),
            http_host: http.and_then(|h| h.host.as_deref()),
            http_uri: http.and_then(|h| h.uri.as_deref()),
            http_user_agent: http.and_then(|h| h.user_agent.as_deref()),
            http_status: http.and_then(|h| h.status),
            ssh_client: ssh.and_then(|s| s.client.as_deref()),
            ssh_server: ssh.and_then(|s| s.server.as_deref()),
            pid: p.and_then(|p| p.pid),
            process_guid: p.and_then(|p| p.process_guid.as_deref()),
            join_rule: p.and_then(|p| p.rule),
        }
    }
}

/// How many attempts share an [`EvidenceKey`], their highest tier, the
/// first of them and how many were answered.
#[derive(Clone, Copy)]
pub(super) struct Tally {
    pub(super) tier: u8,
    pub(super) count: u64,
    pub(super) answered: u64,
    pub(super) first: Ts,
}

/// The evidence of the shown findings: for each, its kinds of connection,
/// most suspicious first, at most [`MAX_EVIDENCE`], and how many kinds it
/// had in all.
///
/// An attempt belongs to the finding with its grouping key (host, image,
/// user, parent image) whose time span holds it: findings of one key are
/// one per time window, and windows do not overlap, so that is the finding
/// `group` put it in.
pub(super) fn evidence<'a>(
    a: &'a Analysis,
    shown: &[Finding],
) -> Vec<(Vec<(EvidenceKey<'a>, Tally)>, usize)> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_addr: HashMap<IpAddr, Vec<usize>> = HashMap::new();
    for (i, f) in shown.iter().enumerate() {
        by_name.entry(f.key.host.as_str()).or_default().push(i);
        // A finding without a host name is keyed by the source address as
        // text; only that exact text matches an attempt with no host name.
        if let Ok(ip) = f.key.host.parse::<IpAddr>() {
            if ip.to_string() == f.key.host {
                by_addr.entry(ip).or_default().push(i);
            }
        }
    }
    let mut tallies: Vec<HashMap<EvidenceKey<'a>, Tally>> = vec![HashMap::new(); shown.len()];
    for (at, v) in a.attempts.iter().zip(&a.verdicts) {
        if v.suppressed.is_some() || v.tier == 0 {
            continue;
        }
        let p = at.process.as_deref();
        let candidates = match p.and_then(|p| p.host.as_deref()) {
            Some(h) => by_name.get(h),
            None => by_addr.get(&at.tuple.src),
        };
        let Some(candidates) = candidates else {
            continue;
        };
        let image = p.and_then(|p| p.image.as_deref());
        let user = p.and_then(|p| p.user.as_deref());
        let parent = p.and_then(|p| p.parent_image.as_deref());
        let Some(&fi) = candidates.iter().find(|&&i| {
            let f = &shown[i];
            f.key.image.as_deref() == image
                && f.key.user.as_deref() == user
                && f.key.parent_image.as_deref() == parent
                && f.first_seen <= at.ts
                && at.ts <= f.last_seen
        }) else {
            continue;
        };
        let t = tallies[fi].entry(EvidenceKey::of(at, v)).or_insert(Tally {
            tier: 0,
            count: 0,
            answered: 0,
            first: at.ts,
        });
        t.tier = t.tier.max(v.tier);
        t.count += 1;
        t.answered += u64::from(at.answered);
        t.first = t.first.min(at.ts);
    }
    tallies
        .into_iter()
        .map(|m| {
            let kinds = m.len();
            let mut v: Vec<(EvidenceKey, Tally)> = m.into_iter().collect();
            v.sort_by(|(ka, ta), (kb, tb)| {
                tb.tier
                    .cmp(&ta.tier)
                    .then(kb.port_mismatch.cmp(&ka.port_mismatch))
                    .then(tb.count.cmp(&ta.count))
                    .then(ta.first.cmp(&tb.first))
                    .then_with(|| ka.cmp(kb))
            });
            v.truncate(MAX_EVIDENCE);
            (v, kinds)
        })
        .collect()
}

/// The details a kind of connection carried, as `label value` pairs.
pub(super) fn details(k: &EvidenceKey) -> Vec<(&'static str, String)> {
    let mut d: Vec<(&'static str, String)> = Vec::new();
    let mut add = |label: &'static str, v: Option<&str>| {
        if let Some(v) = v {
            d.push((label, v.to_string()));
        }
    };
    add("TLS", k.tls_version);
    add("SNI", k.sni);
    let alpn = k.alpn.join(",");
    add("ALPN", (!alpn.is_empty()).then_some(alpn.as_str()));
    add("JA3", k.ja3);
    add("JA3S", k.ja3s);
    add("JA4", k.ja4);
    add("certificate", k.cert_subject);
    add("issuer", k.cert_issuer);
    add(
        "self-signed",
        k.cert_self_signed.map(|s| if s { "yes" } else { "no" }),
    );
    add("cert SHA-256", k.cert_sha256);
    add("HTTP", k.http_method);
    add("Host", k.http_host);
    add("URI", k.http_uri);
    add("User-Agent", k.http_user_agent);
    let status = k.http_status.map(|s| s.to_string());
    add("status", status.as_deref());
    add("SSH client", k.ssh_client);
    add("SSH server", k.ssh_server);
    let pid = k.pid.map(|p| p.to_string());
    add("PID", pid.as_deref());
    add("ProcessGuid", k.process_guid);
    add("joined by", k.join_rule);
    d
}

pub(super) fn mismatch_text(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "yes",
        Some(false) => "no",
        None => "–",
    }
}

pub(super) fn findings(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
    if a.findings.is_empty() {
        o.push_str("<p>No findings.</p>\n</section>\n");
        return;
    }
    o.push_str(
        "<p class=\"muted\">Scored attempts at tier 1 or above, grouped by host, image, user \
         and parent image; highest severity first. “Why” gives what the content of their \
         connections showed and, unfolded, what each kind of connection carried.</p>\n",
    );
    let shown = &a.findings[..a.findings.len().min(MAX_ROWS)];
    let ev = evidence(a, shown);
    let has_window = shown.iter().any(|f| f.key.window.is_some());
    // Process columns only when Sysmon gave some finding a process.
    let has_proc = shown
        .iter()
        .any(|f| f.key.image.is_some() || f.key.user.is_some() || f.key.parent_image.is_some());
    let mut cols = vec![
        Col("#", NUM),
        Col("severity", NUM),
        Col("risk", NUM),
        Col("host", TEXT),
    ];
    if has_proc {
        cols.extend([
            Col("image", TEXT),
            Col("user", TEXT),
            Col("parent image", TEXT),
        ]);
    }
    if has_window {
        cols.push(Col("window", TEXT));
    }
    cols.extend([
        Col("ports", NUM),
        Col("remote IPs", TEXT),
        Col("count", NUM),
        Col("first seen", TEXT),
        Col("last seen", TEXT),
        Col("beacon", TEXT),
        Col("why", TEXT),
    ]);
    table_open(o, "findings-table", &cols);
    for (n, (f, (kinds, all))) in shown.iter().zip(&ev).enumerate() {
        let sev = f.severity();
        let _ = write!(o, "<tr id=\"finding-{}\">", n + 1);
        num_cell(o, n as u64 + 1);
        severity_cell(o, sev.as_str(), sev as u8 + 1);
        num_cell(o, f.risk_score);
        let _ = write!(o, "<td class=\"wrap host\">{}</td>", Esc(&f.key.host));
        if has_proc {
            opt_cell(o, f.key.image.as_deref());
            opt_cell(o, f.key.user.as_deref());
            opt_cell(o, f.key.parent_image.as_deref());
        }
        if has_window {
            match f.key.window {
                Some(w) => ts_cell(o, w),
                None => o.push_str("<td></td>"),
            }
        }
        let _ = write!(
            o,
            "<td class=\"wrap mono\" data-v=\"{}\">",
            f.ports.first().copied().unwrap_or(0)
        );
        list(o, f.ports.iter(), ", ");
        o.push_str("</td><td class=\"wrap mono\">");
        list(o, f.remote_ips.iter(), ", ");
        o.push_str("</td>");
        num_cell(o, f.count);
        ts_cell(o, f.first_seen);
        ts_cell(o, f.last_seen);
        o.push_str(if f.beacon {
            "<td>yes</td>"
        } else {
            "<td>no</td>"
        });
        o.push_str("<td class=\"why\">");
        if !f.reasons.is_empty() {
            o.push_str("<ul class=\"reasons\">");
            for r in &f.reasons {
                let _ = write!(o, "<li>{}</li>", Esc(r));
            }
            o.push_str("</ul>");
        }
        evidence_cell(o, kinds, *all);
        if f.reasons.is_empty() && kinds.is_empty() {
            o.push_str("<span class=\"muted\">–</span>");
        }
        o.push_str("</td></tr>\n");
    }
    table_close(o);
    cut_note(o, shown.len(), a.findings.len(), "findings");
    o.push_str("</section>\n");
}

fn evidence_cell(o: &mut String, kinds: &[(EvidenceKey, Tally)], all: usize) {
    if kinds.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<details><summary>{all} kind{} of connection</summary><ul class=\"evidence\">",
        plural(all as u64)
    );
    for (k, t) in kinds {
        let dst = match k.dst {
            IpAddr::V6(_) => format!("[{}]:{}", k.dst, k.dport),
            IpAddr::V4(_) => format!("{}:{}", k.dst, k.dport),
        };
        let service = match (k.service, k.upgraded_to) {
            (Some(s), Some(u)) => format!("{s} then {u}"),
            (Some(s), None) => s.to_string(),
            (None, _) => "no payload".to_string(),
        };
        let mismatch = match k.port_mismatch {
            Some(true) => " · <b>port mismatch</b>",
            _ => "",
        };
        let _ = write!(
            o,
            "<li><span class=\"mono\">{dst}</span> · {service}{mismatch} · {} attempt{} \
             ({} answered) from <span class=\"mono\">{}</span>",
            t.count,
            plural(t.count),
            t.answered,
            t.first
        );
        if !details(k).is_empty() {
            o.push_str("<br>");
            carried(o, k);
        }
        o.push_str("</li>");
    }
    o.push_str("</ul>");
    if all > kinds.len() {
        let _ = write!(
            o,
            "<p class=\"muted\">{} more kinds (the bound is {MAX_EVIDENCE} per finding).</p>",
            all - kinds.len()
        );
    }
    o.push_str("</details>");
}

/// What a connection carried, as labelled values.
pub(super) fn carried(o: &mut String, k: &EvidenceKey) {
    for (i, (label, v)) in details(k).iter().enumerate() {
        if i > 0 {
            o.push_str(" · ");
        }
        let _ = write!(o, "<span class=\"muted\">{label}</span> {}", Esc(v));
    }
}

// ---------------------------------------------------------------------------
// Beacons.

pub(super) fn beacons(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"beacons\">\n<h2>Beacons</h2>\n<p class=\"muted\">Series of attempts that come on a timer (highest score first). Each plot shows the intervals between beats over time, the beats on the time axis, and the intervals' histogram against the fitted period.</p>\n");
    let shown = &a.beacons[..a.beacons.len().min(MAX_ROWS)];
    table_open(
        o,
        "beacons-table",
        &[
            Col("#", NUM),
            Col("source", TEXT),
            Col("destination", TEXT),
            Col("port", NUM),
            Col("period (s)", NUM),
            Col("jitter", NUM),
            Col("missed", NUM),
            Col("beats", NUM),
            Col("attempts", NUM),
            Col("score", NUM),
            Col("first seen", TEXT),
            Col("last seen", TEXT),
        ],
    );
    for (n, b) in shown.iter().enumerate() {
        let _ = write!(o, "<tr><td class=\"num\" data-v=\"{0}\">", n + 1);
        if n < MAX_BEACON_PLOTS {
            let _ = write!(o, "<a href=\"#beacon-{0}\">{0}</a>", n + 1);
        } else {
            let _ = write!(o, "{}", n + 1);
        }
        o.push_str("</td>");
        ip_cell(o, &b.src);
        let _ = write!(o, "<td class=\"wrap mono\">");
        if b.across_destinations {
            o.push_str("across: ");
        }
        list(o, b.dsts.iter(), ", ");
        o.push_str("</td>");
        let c2 = if a.known_c2_beacon(b) { " (C2)" } else { "" };
        let _ = write!(o, "<td class=\"num\" data-v=\"{0}\">{0}{c2}</td>", b.dport);
        let f = &b.fit;
        let _ = write!(
            o,
            "<td class=\"num\" data-v=\"{0:.3}\">{0:.1}</td>\
             <td class=\"num\" data-v=\"{1:.3}\">±{2:.0} %</td>\
             <td class=\"num\" data-v=\"{3:.3}\">{4:.0} %</td>",
            finite(f.period_s),
            finite(f.jitter),
            finite(f.jitter) * 100.0,
            finite(f.missed),
            finite(f.missed) * 100.0
        );
        num_cell(o, f.beats as u64);
        num_cell(o, b.count as u64);
        let _ = write!(
            o,
            "<td class=\"num\" data-v=\"{0:.3}\">{0:.2}</td>",
            finite(f.score)
        );
        ts_cell(o, b.first_seen);
        ts_cell(o, b.last_seen);
        o.push_str("</tr>\n");
    }
    table_close(o);
    cut_note(o, shown.len(), a.beacons.len(), "beacons");
    for (n, b) in a.beacons.iter().take(MAX_BEACON_PLOTS).enumerate() {
        let _ = write!(
            o,
            "<div class=\"beacon\" id=\"beacon-{}\"><h3>{} → ",
            n + 1,
            b.src
        );
        if b.across_destinations {
            let _ = write!(o, "{} destinations", b.dsts.len());
        } else if let Some(d) = b.dsts.first() {
            let _ = write!(o, "{d}");
        }
        let _ = write!(o, " port {}", b.dport);
        if a.known_c2_beacon(b) {
            o.push_str(" (a known C2 port)");
        }
        let mismatch = b.attempts.iter().any(|&i| {
            a.verdicts
                .get(i)
                .is_some_and(|v| v.port_mismatch == Some(true))
        });
        if mismatch {
            o.push_str(" · a service off its port");
        }
        let f = &b.fit;
        let reason = if [f.period_s, f.jitter, f.missed, f.llr, f.threshold]
            .iter()
            .all(|x| x.is_finite())
        {
            b.reason()
        } else {
            "The fit holds values that are not numbers.".to_string()
        };
        let _ = writeln!(o, "</h3>\n<p>{}</p>", Esc(&reason));
        svg::beacon_plot(o, a, b);
        o.push_str("</div>\n");
    }
    if a.beacons.len() > MAX_BEACON_PLOTS {
        let _ = writeln!(
            o,
            "<p class=\"note cut\">{} of {} beacons drawn (the bound is {MAX_BEACON_PLOTS} plots); the table above lists the other {} (up to its own bound).</p>",
            MAX_BEACON_PLOTS,
            grouped(a.beacons.len() as u64),
            grouped((a.beacons.len() - MAX_BEACON_PLOTS) as u64)
        );
    }
    o.push_str("</section>\n");
}

// ---------------------------------------------------------------------------
// RDP moves.

pub(super) fn rdp(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"rdp\">\n<h2>RDP moved off 3389</h2>\n<p class=\"muted\">Sysmon Event ID 13 on the RDP listener's port (Medium).</p>\n");
    let shown = &a.rdp[..a.rdp.len().min(MAX_ROWS)];
    table_open(
        o,
        "rdp-table",
        &[
            Col("host", TEXT),
            Col("port", NUM),
            Col("set at", TEXT),
            Col("by image", TEXT),
            Col("user", TEXT),
            Col("input", TEXT),
            Col("record", NUM),
            Col("addresses", TEXT),
            Col("inbound attempts", NUM),
            Col("from", TEXT),
        ],
    );
    for m in shown {
        let _ = write!(o, "<tr><td class=\"wrap host\">{}</td>", Esc(&m.host));
        num_cell(o, m.port);
        ts_cell(o, m.ts);
        opt_cell(o, m.image.as_deref());
        opt_cell(o, m.user.as_deref());
        let input = a
            .inputs
            .get(m.origin.input as usize)
            .map_or("?", |r| r.input.as_str());
        let _ = write!(o, "<td class=\"wrap mono\">{}</td>", Esc(input));
        num_cell(o, m.origin.frame);
        o.push_str("<td class=\"wrap mono\">");
        list(o, m.addresses.iter(), ", ");
        o.push_str("</td>");
        num_cell(o, m.inbound);
        o.push_str("<td class=\"wrap mono\">");
        list(o, m.inbound_sources.iter(), ", ");
        o.push_str("</td></tr>\n");
    }
    table_close(o);
    cut_note(o, shown.len(), a.rdp.len(), "RDP moves");
    o.push_str("</section>\n");
}
