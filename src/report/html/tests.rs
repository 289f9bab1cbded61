use super::findings::evidence;
use super::*;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::analysis::beacon::{Beacon, Bin, Fit};
use crate::analysis::group::{Finding, GroupKey};
use crate::event::{ConnInfo, FiveTuple, Origin, ProcessContext};
use crate::filter::{Scope, Suppressed};
use crate::findings::{InputReport, Summary, Verdict};
use crate::policy::PortSet;
use crate::service::{HttpInfo, Identified, Service, TlsInfo};

/// Markup an attacker could put in an image name, a URI or a host name.
const HOSTILE: &str = "<img src=x onerror=alert(1)></textarea><script>alert(\"x\")</script>'&";

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn attempt(ts_s: i64, src: IpAddr, dst: IpAddr, dport: u16) -> Attempt {
    Attempt::new(
        Ts(ts_s * Ts::NANOS_PER_SEC),
        FiveTuple::tcp(src, 50_000, dst, dport),
        Origin { input: 0, frame: 1 },
    )
}

fn verdict(tier: u8) -> Verdict {
    Verdict {
        scope: Scope::Public,
        suppressed: None,
        tier,
        port_mismatch: None,
        reason: None,
    }
}

fn empty() -> Analysis {
    Analysis {
        inputs: vec![InputReport::named("capture.pcap".into())],
        attempts: Vec::new(),
        verdicts: Vec::new(),
        findings: Vec::new(),
        beacons: Vec::new(),
        rdp: Vec::new(),
        summary: Summary::default(),
        known_c2: PortSet::new(),
        home_net: Vec::new(),
    }
}

fn finding(host: &str, image: Option<&str>, at: &Attempt, count: u64) -> Finding {
    Finding {
        key: GroupKey {
            host: host.to_string(),
            image: image.map(str::to_string),
            user: None,
            parent_image: None,
            window: None,
        },
        ports: BTreeSet::from([at.tuple.dport]),
        remote_ips: BTreeSet::from([at.tuple.dst]),
        count,
        risk_score: 1,
        first_seen: at.ts,
        last_seen: at.ts,
        beacon: false,
        newest_frame: 1,
        reasons: BTreeSet::new(),
    }
}

fn fit(period_s: f64, beats: usize) -> Fit {
    Fit {
        beats,
        period_s,
        jitter: 0.05,
        missed: 0.0,
        llr: 20.0,
        threshold: 12.0,
        score: 0.9,
    }
}

/// A beacon over the attempts `idx` of `a`.
fn beacon(a: &Analysis, idx: Vec<usize>, period_s: f64) -> Beacon {
    let first = a.attempts[idx[0]].ts;
    let last = a.attempts[*idx.last().unwrap()].ts;
    let t = &a.attempts[idx[0]].tuple;
    Beacon {
        src: t.src,
        dsts: vec![t.dst],
        dport: t.dport,
        across_destinations: false,
        count: idx.len(),
        fit: fit(period_s, idx.len()),
        first_seen: first,
        last_seen: last,
        histogram: vec![Bin {
            lo_s: period_s,
            hi_s: period_s * 1.25,
            count: idx.len() as u32 - 1,
        }],
        attempts: idx,
    }
}

/// A run whose every value from an input is [`HOSTILE`].
fn hostile() -> Analysis {
    let mut a = empty();
    a.inputs = vec![InputReport::named(format!("{HOSTILE}.pcap"))];
    a.inputs[0].note = Some(HOSTILE.into());
    a.inputs[0].warnings.push(crate::stats::Warning {
        reason: "bad_block",
        offset: 24,
        frame: Some(3),
        message: HOSTILE.into(),
    });
    let (src, dst) = (ip(10, 0, 0, 5), ip(203, 0, 113, 9));
    for k in 0..8 {
        let mut at = attempt(1_700_000_000 + 60 * k, src, dst, 4444);
        at.process = Some(Box::new(ProcessContext {
            host: Some(HOSTILE.into()),
            image: Some(HOSTILE.into()),
            user: Some(HOSTILE.into()),
            parent_image: Some(HOSTILE.into()),
            pid: Some(4242),
            process_guid: Some(HOSTILE.into()),
            rule: Some("tuple"),
        }));
        at.conn = Some(Box::new(ConnInfo {
            state: "SF",
            content: Some(Box::new(Identified {
                service: Some(Service::Http),
                http: Some(HttpInfo {
                    method: Some("GET".into()),
                    host: Some(HOSTILE.into()),
                    uri: Some(HOSTILE.into()),
                    user_agent: Some(HOSTILE.into()),
                    status: Some(200),
                }),
                tls: Some(TlsInfo {
                    sni: Some(HOSTILE.into()),
                    alpn: vec![HOSTILE.into()],
                    ..TlsInfo::default()
                }),
                ..Identified::default()
            })),
            ..ConnInfo::default()
        }));
        a.attempts.push(at);
        a.verdicts.push(Verdict {
            port_mismatch: Some(true),
            reason: Some(HOSTILE.into()),
            ..verdict(1)
        });
    }
    let mut f = finding(HOSTILE, Some(HOSTILE), &a.attempts[0], 8);
    f.key.user = Some(HOSTILE.into());
    f.key.parent_image = Some(HOSTILE.into());
    f.last_seen = a.attempts[7].ts;
    f.reasons.insert(HOSTILE.into());
    a.findings.push(f);
    a.beacons.push(beacon(&a, (0..8).collect(), 60.0));
    // An attempt an allow rule named by the policy suppressed.
    a.attempts.push(attempt(1_700_000_900, src, dst, 8080));
    a.verdicts.push(Verdict {
        suppressed: Some(Suppressed::Allowed(HOSTILE.into())),
        ..verdict(0)
    });
    a.summary.suppressed.insert(format!("allow:{HOSTILE}"), 1);
    a
}

#[test]
fn escape_turns_markup_into_text() {
    assert_eq!(
        escape("<script>alert(1)</script>"),
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    );
    assert_eq!(escape("</textarea>"), "&lt;/textarea&gt;");
    assert_eq!(escape("a\"b'c"), "a&quot;b&#39;c");
    assert_eq!(escape("AT&T &amp;"), "AT&amp;T &amp;amp;");
    assert_eq!(escape("<!-- x -->"), "&lt;!-- x --&gt;");
    // Control characters (terminal escapes, NUL) cannot hide text.
    assert_eq!(escape("a\u{1b}[2Jb\0c"), "a\u{fffd}[2Jb\u{fffd}c");
    // Tabs, line feeds and other scripts pass as they are.
    assert_eq!(escape("x\ty\nz ü 東京"), "x\ty\nz ü 東京");
    assert_eq!(escape(""), "");
}

#[test]
fn long_values_are_cut_and_say_by_how_much() {
    let long = "a".repeat(MAX_VALUE_CHARS + 7);
    let shown = Esc(&long).to_string();
    assert!(shown.starts_with(&"a".repeat(MAX_VALUE_CHARS)));
    assert!(shown.ends_with("… (7 more characters)"), "{shown}");
    // Cut on a character, not a byte.
    let wide = "ü".repeat(MAX_VALUE_CHARS + 1);
    assert!(Esc(&wide).to_string().ends_with("(1 more characters)"));
}

#[test]
fn the_script_and_style_cannot_end_their_elements_early() {
    assert!(!SCRIPT.contains("</"), "the script must not contain </");
    assert!(!STYLE.contains("</"), "the style must not contain </");
}

#[test]
fn hostile_values_are_escaped_everywhere() {
    let a = hostile();
    for page in [findings_page(&a), attempts_page(&a)] {
        assert!(!page.contains("<img"), "raw markup from an input");
        assert!(!page.contains("</textarea>"));
        assert_eq!(page.matches("<script").count(), 1, "only the page's script");
        assert!(!page.contains("alert(\""), "a quote left unescaped");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&lt;/textarea&gt;"));
        assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;"));
    }
}

#[test]
fn the_page_declares_its_policy_and_names_no_url() {
    let mut a = hostile();
    a.findings[0].key.host = "ws1".into();
    let page = findings_page(&a);
    assert!(page.contains(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
    )));
    // The page's own markup names no scheme: no http(s), no protocol-relative
    // or javascript: URL, every href an anchor or data:.
    for needle in ["http:", "https:", "javascript:", "src=\"", "url("] {
        assert!(!page.contains(needle), "{needle} in the page");
    }
    for (i, _) in page.match_indices("href=\"") {
        let v = &page[i + 6..];
        assert!(v.starts_with('#') || v.starts_with("data:"), "{}", &v[..40]);
    }
}

#[test]
fn findings_show_their_evidence() {
    let a = hostile();
    let page = findings_page(&a);
    // One kind of connection: eight attempts, none answered, a mismatch.
    assert!(page.contains("1 kind of connection"), "evidence missing");
    assert!(page.contains(
        "203.0.113.9:4444</span> · http · <b>port mismatch</b> · 8 attempts (0 answered)"
    ));
    assert!(page.contains("<span class=\"muted\">PID</span> 4242"));
    assert_eq!(page.matches("class=\"beacon-plot\"").count(), 1);
}

#[test]
fn evidence_goes_to_the_finding_of_its_window() {
    // One host, one key, two windows: each finding gets its own attempts.
    let mut a = empty();
    let (src, dst) = (ip(10, 0, 0, 1), ip(198, 51, 100, 1));
    for (t, port) in [(0, 4444), (10, 4444), (400, 1337)] {
        a.attempts.push(attempt(1_700_000_000 + t, src, dst, port));
        a.verdicts.push(verdict(1));
    }
    let mut f1 = finding("10.0.0.1", None, &a.attempts[0], 2);
    f1.last_seen = a.attempts[1].ts;
    f1.key.window = Some(Ts(0));
    let mut f2 = finding("10.0.0.1", None, &a.attempts[2], 1);
    f2.key.window = Some(Ts(300 * Ts::NANOS_PER_SEC));
    a.findings = vec![f1, f2];
    let ev = evidence(&a, &a.findings);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].0.len(), 1);
    assert_eq!((ev[0].0[0].0.dport, ev[0].0[0].1.count), (4444, 2));
    assert_eq!((ev[1].0[0].0.dport, ev[1].0[0].1.count), (1337, 1));
    // A finding keyed by a host name does not take attempts that have none.
    a.findings[0].key.host = "WS1".into();
    let ev = evidence(&a, &a.findings);
    assert!(ev[0].0.is_empty());
}

#[test]
fn tables_stop_at_the_bound_and_say_how_many_were_left_out() {
    let mut a = empty();
    let n = MAX_ROWS + 500;
    for i in 0..n {
        // Hosts 10.0.x.y; the last one in time is the only tier 3.
        let src = ip(10, 0, (i / 250) as u8, (i % 250) as u8);
        a.attempts.push(attempt(
            1_700_000_000 + i as i64,
            src,
            ip(192, 0, 2, 1),
            4444,
        ));
        a.verdicts.push(verdict(if i == n - 1 { 3 } else { 1 }));
        let at = &a.attempts[i];
        a.findings
            .push(finding(&at.tuple.src.to_string(), None, at, 1));
    }
    let page = findings_page(&a);
    assert_eq!(page.matches("<tr id=\"finding-").count(), MAX_ROWS);
    assert!(page.contains("1,000 of 1,500 findings shown"));
    // The timeline: the bound's number of rows, the tier-3 host first.
    assert_eq!(
        page.matches("<g class=\"row\">").count(),
        MAX_TIMELINE_HOSTS
    );
    let first_row = page.find("<g class=\"row\"><title>").unwrap();
    assert!(page[first_row..].starts_with("<g class=\"row\"><title>10.0.5.249:"));
    assert!(page.contains(&format!("{MAX_TIMELINE_HOSTS} of 1,500 hosts drawn")));
    let conns = attempts_page(&a);
    let table = conns.find("id=\"attempts-table\"").unwrap();
    let from = table + conns[table..].find("<tbody>").unwrap();
    let rows = &conns[from..from + conns[from..].find("</tbody>").unwrap()];
    assert_eq!(rows.matches("<tr>").count(), MAX_ROWS);
    // Most suspicious first: the tier-3 attempt though it is the last.
    let first = rows.find("<tr>").unwrap();
    assert!(rows[first..].contains("10.0.5.249"));
    assert!(rows[first..first + rows[first..].find("</tr>").unwrap()].contains("10.0.5.249"));
    assert!(conns.contains("1,000 of 1,500 attempts shown"));
    // Each attempt's Community ID, as JSONL and the conn.log give it.
    let id = a.attempts[n - 1].tuple.community_id().to_string();
    assert!(id.starts_with("1:"));
    assert!(rows[first..].contains(&format!("<td class=\"mono t\">{id}</td>")));
}

#[test]
fn beacon_plots_stop_at_their_bound() {
    let mut a = empty();
    let per = 7;
    for b in 0..(MAX_BEACON_PLOTS + 3) {
        let src = ip(10, 1, (b / 200) as u8, (b % 200) as u8);
        let start = a.attempts.len();
        for k in 0..per {
            a.attempts
                .push(attempt(1_700_000_000 + 30 * k, src, ip(192, 0, 2, 9), 9001));
            a.verdicts.push(verdict(1));
        }
        let bc = beacon(&a, (start..start + per as usize).collect(), 30.0);
        a.beacons.push(bc);
    }
    let page = findings_page(&a);
    assert_eq!(
        page.matches("<svg class=\"beacon-plot\"").count(),
        MAX_BEACON_PLOTS
    );
    assert!(page.contains(&format!(
        "{MAX_BEACON_PLOTS} of {} beacons drawn",
        MAX_BEACON_PLOTS + 3
    )));
}

#[test]
fn a_long_beacon_draws_a_bounded_number_of_points() {
    let mut a = empty();
    let n = 10_000;
    for k in 0..n {
        a.attempts.push(attempt(
            1_700_000_000 + 10 * k,
            ip(10, 0, 0, 1),
            ip(192, 0, 2, 1),
            443,
        ));
        a.verdicts.push(verdict(0));
    }
    a.beacons.push(beacon(&a, (0..n as usize).collect(), 10.0));
    let mut o = String::new();
    svg::beacon_plot(&mut o, &a, &a.beacons[0]);
    let points = o.matches("h3v3h-3z").count();
    assert!(points <= svg::MAX_PLOTTED_INTERVALS, "{points}");
    assert!(points >= svg::MAX_PLOTTED_INTERVALS / 2, "{points}");
    assert!(o.contains("every 5th of 9999 intervals drawn"));
    // Beats are one tick per pixel column at most.
    assert!(o.len() < 120_000, "{} bytes", o.len());
}

#[test]
fn odd_runs_render_without_panicking() {
    // Nothing at all.
    let a = empty();
    assert!(findings_page(&a).contains("No findings."));
    assert!(attempts_page(&a).contains("No connection attempts."));
    // Times at both ends of the range, a beacon of one instant with a
    // period that is not a number, attempts pointing at inputs that do not
    // exist.
    let mut a = empty();
    a.inputs.clear();
    for t in [i64::MIN, i64::MAX, 0] {
        let mut at = attempt(0, ip(10, 0, 0, 1), ip(192, 0, 2, 1), 4444);
        at.ts = Ts(t);
        at.origin.input = 7;
        a.attempts.push(at);
        a.verdicts.push(verdict(1));
    }
    let mut b = beacon(&a, vec![2, 2, 2], f64::NAN);
    b.fit.jitter = f64::INFINITY;
    b.histogram.push(Bin {
        lo_s: f64::NAN,
        hi_s: f64::INFINITY,
        count: 0,
    });
    a.beacons.push(b);
    let mut b = beacon(&a, vec![0, 1], 60.0);
    b.attempts.push(99);
    a.beacons.push(b);
    a.findings
        .push(finding("10.0.0.1", None, &a.attempts[0], 3));
    for page in [findings_page(&a), attempts_page(&a)] {
        let markup = &page[..page.find("<script>").unwrap()];
        for bad in ["NaN", "inf"] {
            if let Some(at) = markup.find(bad) {
                panic!(
                    "a non-number drawn: {}",
                    &markup[at.saturating_sub(200)..at + 20]
                );
            }
        }
        assert!(page.ends_with("</html>\n"));
    }
}

#[test]
fn the_same_run_gives_the_same_page() {
    let a = hostile();
    assert_eq!(findings_page(&a), findings_page(&a));
    assert_eq!(attempts_page(&a), attempts_page(&a));
}

#[test]
fn html_is_recognised_by_its_extension() {
    use crate::report::OutputFormat;
    assert_eq!(
        OutputFormat::from_extension("out/report.HTML"),
        Some(OutputFormat::Html)
    );
    assert_eq!(
        OutputFormat::from_extension("r.htm"),
        Some(OutputFormat::Html)
    );
}
