//! Reports: sinks that render an [`Analysis`] for people or for the next
//! tool. JSONL is the stable machine interface (schema in the README); CSV
//! is for spreadsheets (cells from logs are escaped against formulas); the
//! table is for a terminal; Zeek's conn.log (ASCII or JSON) is for the
//! tools that read Zeek; HTML is one self-contained page to read and hand
//! on. Several can be written in one run.

pub mod csv;
pub mod html;
pub mod jsonl;
pub mod table;
pub mod zeek;

use std::io::{self, Write};

use crate::findings::Analysis;

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Jsonl,
    Csv,
    /// Zeek's conn.log, ASCII (`conns` only).
    Zeek,
    /// Zeek's conn.log, JSON (`conns` only).
    ZeekJson,
    /// One self-contained HTML page.
    Html,
}

impl OutputFormat {
    /// Guesses the format from a file name's extension.
    pub fn from_extension(path: &str) -> Option<OutputFormat> {
        let ext = path.rsplit('.').next()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "json" | "ndjson" => Some(OutputFormat::Jsonl),
            "csv" => Some(OutputFormat::Csv),
            "txt" | "table" => Some(OutputFormat::Table),
            "log" => Some(OutputFormat::Zeek),
            "html" | "htm" => Some(OutputFormat::Html),
            _ => None,
        }
    }
}

/// What a report lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// `portent scan`: findings, then the run summary.
    Findings,
    /// `portent conns`: every attempt, then the run summary.
    Attempts,
}

/// A report format: how it writes a run's findings and its attempts. A new
/// format is one more implementation and one more [`OutputFormat`]; the
/// commands only call [`write`].
pub trait Report: Sync {
    /// `portent scan`: findings, then the run summary.
    fn findings(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()>;
    /// `portent conns`: every attempt, then the run summary.
    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()>;
}

impl OutputFormat {
    /// The report that writes this format.
    pub fn report(self) -> &'static dyn Report {
        match self {
            OutputFormat::Table => &table::Table,
            OutputFormat::Jsonl => &jsonl::Jsonl,
            OutputFormat::Csv => &csv::Csv,
            OutputFormat::Zeek => &zeek::Zeek,
            OutputFormat::ZeekJson => &zeek::ZeekJson,
            OutputFormat::Html => &html::Html,
        }
    }
}

/// Writes one report of `kind` in `format` to `w`.
pub fn write(
    w: &mut dyn Write,
    format: OutputFormat,
    kind: ReportKind,
    a: &Analysis,
) -> io::Result<()> {
    let r = format.report();
    match kind {
        ReportKind::Findings => r.findings(w, a),
        ReportKind::Attempts => r.attempts(w, a),
    }
}

/// The service an attempt's connection carried, when payload was seen.
pub(crate) fn service(at: &crate::event::Attempt) -> Option<&'static str> {
    let c = at.conn.as_ref()?.content.as_ref()?;
    c.service.map(|s| s.name())
}

/// Joins displayable items with `sep`.
pub(crate) fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
    let mut s = String::new();
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        use std::fmt::Write as _;
        let _ = write!(s, "{x}");
    }
    s
}
