//! Running a command: settings, inputs, progress, the pipeline, reports,
//! warnings and the summary on stderr, and the outcome that decides the exit
//! code. Kept out of `main.rs` so the integration tests can call it.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{self, Cli, Command, Settings};
use crate::collect;
use crate::findings::{Analysis, InputReport};
use crate::pipeline;
use crate::policy::DEFAULT_POLICY;
use crate::report::{self, table, ReportKind};
use crate::source;

/// How a run ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Ran; no finding at or above --fail-on.
    Clean,
    /// Ran; findings at or above --fail-on.
    Findings,
    /// Ran, but at least one input could not be read at all.
    InputError,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Clean => 0,
            Outcome::Findings => 1,
            Outcome::InputError => 2,
        }
    }
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let stdout_tty = io::stdout().is_terminal();
    let (settings, kind) = match &cli.command {
        Command::Policy => {
            io::stdout().write_all(DEFAULT_POLICY.as_bytes())?;
            return Ok(Outcome::Clean);
        }
        Command::Scan(s) => (
            Settings::from_args(&s.common, Some(s), stdout_tty),
            ReportKind::Findings,
        ),
        Command::Conns(c) => (
            Settings::from_args(c, None, stdout_tty),
            ReportKind::Attempts,
        ),
        Command::Collect(c) => {
            let settings = cli::collect_settings(c).map_err(anyhow::Error::msg)?;
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(sig, Arc::clone(&stop))
                    .context("installing the signal handlers")?;
            }
            collect::run(&settings, &stop)?;
            return Ok(Outcome::Clean);
        }
    };
    let settings = settings.map_err(anyhow::Error::msg)?;
    if let Some(n) = settings.threads {
        // Only fails if a pool was already built, which cannot happen here.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let analysis = analyze(&settings)?;
    let outcome = emit(&settings, kind, &analysis);
    // The process ends next: freeing millions of attempts one by one would
    // take a tenth of the run, and the system takes the memory back anyway.
    std::mem::forget(analysis);
    outcome
}

/// Reads the inputs and runs the pipeline, with a progress bar on a
/// terminal and warnings on stderr.
pub fn analyze(settings: &Settings) -> Result<Analysis> {
    let (inputs, expand_errors) = source::expand(&settings.inputs);
    let total: u64 = inputs
        .iter()
        .filter_map(|i| i.path.as_ref())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = if !settings.quiet && io::stderr().is_terminal() {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar}",
            )
            .expect("static progress template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let progress = |n: u64| bar.inc(n);
    let (mut reports, signals) = pipeline::read_inputs(&inputs, &settings.flow_ports, &progress);
    bar.finish_and_clear();
    for (name, e) in expand_errors {
        reports.push(InputReport::unreadable(name, e.to_string()));
    }
    // Scoped: analysis runs on rayon's threads, and a lock held across it
    // would block any of them that writes to stderr.
    {
        let mut err = io::stderr().lock();
        for r in &reports {
            for w in &r.warnings {
                let frame = w.frame.map(|f| format!(" (frame {f})")).unwrap_or_default();
                writeln!(
                    err,
                    "warning: {}: offset {}{}: {} [{}]",
                    table::clean(&r.input),
                    w.offset,
                    frame,
                    table::clean(&w.message),
                    w.reason
                )?;
            }
            for (reason, n) in &r.warnings_dropped {
                writeln!(
                err,
                "warning: {}: {n} more {reason} warning(s) not shown (all are counted in the summary)",
                table::clean(&r.input)
            )?;
            }
            if let Some(e) = &r.error {
                writeln!(err, "error: {}", table::clean(e))?;
            }
        }
    }
    Ok(pipeline::analyze(
        reports,
        signals,
        &settings.policy,
        &settings.run,
    ))
}

/// Writes the reports and the summary; decides the outcome.
pub fn emit(settings: &Settings, kind: ReportKind, a: &Analysis) -> Result<Outcome> {
    for o in &settings.outputs {
        let result = match &o.path {
            None => {
                let mut w = BufWriter::new(io::stdout().lock());
                report::write(&mut w, o.format, kind, a).and_then(|_| w.flush())
            }
            Some(p) => {
                let f = File::create(p).with_context(|| format!("-o {}", p.display()))?;
                let mut w = BufWriter::new(f);
                report::write(&mut w, o.format, kind, a)
                    .and_then(|_| w.flush())
                    .with_context(|| format!("writing {}", p.display()))?;
                Ok(())
            }
        };
        match result {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            r => r.context("writing to stdout")?,
        }
    }
    if !settings.quiet {
        eprint!("{}", table::summary_text(a));
    }
    if a.summary.inputs_unreadable > 0 {
        return Ok(Outcome::InputError);
    }
    Ok(match (settings.fail_on, a.worst_severity()) {
        (Some(bar), Some(w)) if kind == ReportKind::Findings && w >= bar => Outcome::Findings,
        _ => Outcome::Clean,
    })
}
