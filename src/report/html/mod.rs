//! The HTML report: one self-contained page a responder can open on an
//! air-gapped box and hand to someone who does not read JSON.
//!
//! Why it exists: the table is for a terminal and JSONL for the next tool;
//! neither shows *when* things happened. This page holds the run's summary
//! (inputs, what was read and skipped and why, the counts), the findings
//! with the evidence their connections carried (services, port mismatches,
//! TLS, HTTP and SSH details, the process when Sysmon was joined), a plot
//! of every beacon's intervals, and a timeline of each host's attempts.
//!
//! Self-contained means nothing is fetched: styles, the sorting script and
//! the SVG plots are inline, there is no URL in any `src` or `href` but an
//! in-page anchor, and a Content-Security-Policy meta tag forbids loading
//! anything should a value ever slip through. Every value that came from an
//! input goes through one escape function ([`escape_into`]); none is put
//! into the script, which reads the page's own cells. The page carries no
//! time of its own making: the same run gives the same bytes.
//!
//! Why hand-written and not a template crate: the page is a handful of
//! tables and two kinds of plot, written once in a fixed order; a template
//! engine would add a dependency and a second language for that, and its
//! auto-escaping would still leave SVG coordinates and attribute values to
//! get right by hand. Here every value passes through `Esc`, and the
//! tests check the result in a real browser (`tests/html_browser.rs`).
//!
//! Size stays bounded on any run: at most [`MAX_ROWS`] rows per table (the
//! most suspicious), [`MAX_BEACON_PLOTS`] plots, [`MAX_TIMELINE_HOSTS`]
//! hosts in the timeline; the page says what it left out and how much.
//!
//! This file holds the frame of the page, the escaping and the table
//! helpers; `summary`, `findings` (with beacons and RDP moves), `attempts`
//! and `timeline` write the sections, and `svg` draws the plots.

mod attempts;
mod findings;
mod summary;
mod svg;
mod timeline;

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::IpAddr;

use crate::event::Attempt;
use crate::findings::Analysis;
use crate::time::Ts;

/// Rows per table (findings, beacons, attempts, inputs, warnings): a
/// thousand rows is what a reader can scroll and a browser sorts at once;
/// the rest are counted on the page and listed whole in JSONL.
pub const MAX_ROWS: usize = 1_000;

/// Beacons drawn as plots, highest score first: a plot is a few KiB, and
/// past a hundred beacons a reader works from the table.
pub const MAX_BEACON_PLOTS: usize = 100;

/// Hosts in the timeline, most suspicious first: each is a row of the
/// plot, and fifty rows still fit a screen or two.
pub const MAX_TIMELINE_HOSTS: usize = 50;

/// Distinct kinds of connection listed as one finding's evidence, most
/// suspicious and most frequent first.
pub const MAX_EVIDENCE: usize = 10;

/// Items of a list shown in one cell (ports, addresses).
pub const MAX_LIST_ITEMS: usize = 25;

/// Characters of one value shown (a URI, a user agent, an image path):
/// enough for any real one; an 8 KiB URI is cut, and the page says by how
/// much. JSONL keeps it whole.
pub const MAX_VALUE_CHARS: usize = 500;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// The policy the page declares: nothing may be loaded from anywhere;
/// only its own inline style and script run, and images only from `data:`.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// Writes `s` escaped for HTML text and for attribute values in either
/// quote: `&`, `<`, `>`, `"` and `'` become references, and control
/// characters other than tab and line feed (never meaningful in a value,
/// and a way to hide text) become U+FFFD. The one escape function: every
/// value from an input reaches the page through it.
pub fn escape_into(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut from = 0;
    for (i, c) in s.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            '\t' | '\n' => continue,
            c if c.is_control() => "\u{fffd}",
            _ => continue,
        };
        out.write_str(&s[from..i])?;
        out.write_str(rep)?;
        from = i + c.len_utf8();
    }
    out.write_str(&s[from..])
}

/// `s` escaped ([`escape_into`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let _ = escape_into(&mut out, s);
    out
}

/// A value from an input, displayed escaped and cut at
/// [`MAX_VALUE_CHARS`].
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s.char_indices().nth(MAX_VALUE_CHARS) {
            None => escape_into(f, s),
            Some((at, _)) => {
                escape_into(f, &s[..at])?;
                let more = s[at..].chars().count();
                write!(f, "… ({more} more characters)")
            }
        }
    }
}

/// The report format.
pub struct Html;

impl super::Report for Html {
    fn findings(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        w.write_all(findings_page(a).as_bytes())
    }

    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        w.write_all(attempts_page(a).as_bytes())
    }
}

/// The page of `portent scan`: summary, findings with their evidence,
/// beacons with their plots, RDP moves, the timeline.
pub fn findings_page(a: &Analysis) -> String {
    let mut o = String::new();
    let mut nav = vec![("summary", "Summary"), ("findings", "Findings")];
    if !a.beacons.is_empty() {
        nav.push(("beacons", "Beacons"));
    }
    if !a.rdp.is_empty() {
        nav.push(("rdp", "RDP moved"));
    }
    nav.push(("timeline", "Timeline"));
    head(&mut o, a, "findings", &nav);
    summary::summary(&mut o, a);
    findings::findings(&mut o, a);
    if !a.beacons.is_empty() {
        findings::beacons(&mut o, a);
    }
    if !a.rdp.is_empty() {
        findings::rdp(&mut o, a);
    }
    timeline::timeline(&mut o, a);
    tail(&mut o);
    o
}

/// The page of `portent conns`: summary, timeline, the attempts.
pub fn attempts_page(a: &Analysis) -> String {
    let mut o = String::new();
    let nav = [
        ("summary", "Summary"),
        ("timeline", "Timeline"),
        ("attempts", "Attempts"),
    ];
    head(&mut o, a, "connection attempts", &nav);
    summary::summary(&mut o, a);
    timeline::timeline(&mut o, a);
    attempts::attempts(&mut o, a);
    tail(&mut o);
    o
}

// ---------------------------------------------------------------------------
// The frame of the page.

fn head(o: &mut String, a: &Analysis, what: &str, nav: &[(&str, &str)]) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <title>portent: {what}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>portent: {what}</h1>\n<p class=\"muted\">"
    );
    let s = &a.summary;
    let _ = write!(o, "{} input{}", s.inputs, plural(s.inputs as u64));
    if let Some((first, last)) = span(a.attempts.iter().map(|at| at.ts)) {
        let _ = write!(o, " · attempts from {first} to {last} (UTC)");
    }
    let _ = write!(o, " · portent {}</p>\n<nav>", env!("CARGO_PKG_VERSION"));
    for (id, name) in nav {
        let _ = write!(o, "<a href=\"#{id}\">{name}</a>");
    }
    o.push_str("</nav>\n</header>\n");
}

fn tail(o: &mut String) {
    let _ = write!(o, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
}

/// The first and last of some times.
fn span(ts: impl Iterator<Item = Ts>) -> Option<(Ts, Ts)> {
    ts.fold(None, |acc, t| match acc {
        None => Some((t, t)),
        Some((a, b)) => Some((a.min(t), b.max(t))),
    })
}

/// `x`, or 0 when it is not a number (a degenerate fit must not print
/// `NaN`).
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let d = n.to_string();
    let mut s = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(c);
    }
    s
}

/// A sort key for an address: IPv4 before IPv6, each in numeric order.
fn ip_key(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => {
            let [a, b, c, d] = v.octets();
            format!("4{a:03}{b:03}{c:03}{d:03}")
        }
        IpAddr::V6(v) => format!("6{:032x}", u128::from(*v)),
    }
}

/// A sort key for a time: its nanoseconds, shifted to be positive and
/// padded, so that text order is time order.
fn ts_key(t: Ts) -> String {
    format!("{:020}", i128::from(t.0) - i128::from(i64::MIN))
}

/// A list cut at [`MAX_LIST_ITEMS`], each item escaped.
fn list<T: fmt::Display>(o: &mut String, items: impl ExactSizeIterator<Item = T>, sep: &str) {
    let n = items.len();
    for (i, x) in items.take(MAX_LIST_ITEMS).enumerate() {
        if i > 0 {
            o.push_str(sep);
        }
        let _ = write!(o, "{}", Esc(&x.to_string()));
    }
    if n > MAX_LIST_ITEMS {
        let _ = write!(o, "{sep}… and {} more", n - MAX_LIST_ITEMS);
    }
}

/// One column of a table: its heading, and whether it sorts as numbers.
struct Col(&'static str, bool);

const TEXT: bool = false;
const NUM: bool = true;

/// Opens a sortable, filterable table.
fn table_open(o: &mut String, id: &str, cols: &[Col]) {
    let _ = write!(
        o,
        "<div class=\"tools\"><input type=\"search\" class=\"filter\" data-table=\"{id}\" \
         placeholder=\"Filter rows\" aria-label=\"Filter the rows of {id}\">\
         <span class=\"shown muted\" data-table=\"{id}\"></span></div>\n\
         <div class=\"scroll\"><table class=\"sortable\" id=\"{id}\"><thead><tr>"
    );
    for Col(name, num) in cols {
        let ty = if *num { " data-type=\"num\"" } else { "" };
        let _ = write!(o, "<th tabindex=\"0\"{ty}>{name}</th>");
    }
    o.push_str("</tr></thead>\n<tbody>\n");
}

fn table_close(o: &mut String) {
    o.push_str("</tbody></table></div>\n");
}

/// Says how many rows of a table were left out.
fn cut_note(o: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        let _ = writeln!(
            o,
            "<p class=\"note cut\">{} of {} {what} shown (the bound is {} per table); \
             {} more are counted here and listed in full by <code>-f jsonl</code>.</p>",
            grouped(shown as u64),
            grouped(total as u64),
            grouped(MAX_ROWS as u64),
            grouped((total - shown) as u64)
        );
    }
}

/// A cell holding an optional value from an input; a dash when absent.
fn opt_cell(o: &mut String, v: Option<&str>) {
    match v {
        Some(v) => {
            let _ = write!(o, "<td class=\"wrap\">{}</td>", Esc(v));
        }
        None => o.push_str("<td class=\"muted\">–</td>"),
    }
}

fn num_cell(o: &mut String, n: impl Into<u64>) {
    let n = n.into();
    let _ = write!(o, "<td class=\"num\" data-v=\"{n}\">{n}</td>");
}

/// A time, which may break between its date and its time of day.
fn ts_cell(o: &mut String, t: Ts) {
    let s = t.to_string();
    let (day, time) = s.split_at(s.find('T').map_or(0, |i| i + 1));
    let _ = write!(
        o,
        "<td class=\"mono t\" data-v=\"{}\"><span>{day}</span><wbr><span>{time}</span></td>",
        ts_key(t)
    );
}

fn ip_cell(o: &mut String, ip: &IpAddr) {
    let _ = write!(
        o,
        "<td class=\"mono t\" data-v=\"{}\">{ip}</td>",
        ip_key(ip)
    );
}

fn severity_cell(o: &mut String, sev: &str, rank: u8) {
    let _ = write!(
        o,
        "<td class=\"sev sev-{sev}\" data-v=\"{rank}\">{sev}</td>"
    );
}

/// The name an attempt's input was given.
fn input_name<'a>(a: &'a Analysis, at: &Attempt) -> &'a str {
    a.inputs
        .get(at.origin.input as usize)
        .map_or("?", |r| r.input.as_str())
}

#[cfg(test)]
mod tests;
