//! The command line: what the user typed (clap structs), then a checked
//! [`Settings`] with the policy loaded, CIDRs parsed and durations converted.
//! Errors in the second step name the flag or the policy-file key.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::analysis::attempts::AttemptRules;
use crate::analysis::beacon::{self, BeaconConfig};
use crate::analysis::join::JoinOptions;
use crate::analysis::ports::Severity;
use crate::analysis::profile::{Profile, ProfileOptions};
use crate::collect;
use crate::pipeline::RunOptions;
use crate::policy::{parse_cidr, Policy};
use crate::report::OutputFormat;
use crate::time::{parse_rfc3339, Ts};

#[derive(Parser, Debug)]
#[command(
    name = "portent",
    version,
    about = "Find outbound connections on non-standard ports (MITRE ATT&CK T1571) in packet captures, flow exports and Sysmon logs",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Score outbound connection attempts and report findings grouped by host.
    Scan(ScanArgs),
    /// List every connection attempt with its scope, tier and verdict.
    Conns(CommonArgs),
    /// Listen for NetFlow v5/v9 and IPFIX exports over UDP and report
    /// findings and beacons as they appear (JSONL), over a rolling window.
    Collect(CollectArgs),
    /// Print the default policy file (edit a copy, pass it with --policy).
    Policy,
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Address and UDP port to receive exports on (e.g. 0.0.0.0:2055,
    /// [::]:4739; port 0 picks a free one and prints it).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Write the JSONL records to FILE instead of stdout (appended).
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Attempts received within this time are analysed together; older
    /// ones are forgotten.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub window: String,
    /// How often the window is analysed and new findings are written.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Fewest beats (attempts more than 1 s apart) a series needs to be
    /// tested for beaconing.
    #[arg(long, value_name = "N", default_value_t = beacon::DEFAULT_MIN_BEATS,
          value_parser = clap::value_parser!(u16).range(3..))]
    pub beacon_min_beats: u16,
    /// No status lines and no summary on stderr (warnings still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// How attempts are judged: the policy and the network around it.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// Policy file (TOML) replacing or extending the defaults.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Internal networks (CIDR, repeatable or comma-separated); attempts to
    /// them are suppressed like RFC 1918 destinations.
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    pub home_net: Vec<String>,
    /// Score private destinations too (RFC 1918, CGNAT, ULA, home net).
    #[arg(long)]
    pub include_private: bool,
}

impl PolicyArgs {
    /// The policy file (or the defaults) with the command line's additions.
    pub fn load(&self) -> Result<Policy, String> {
        let mut policy = match &self.policy {
            Some(p) => Policy::load(p)?,
            None => Policy::default(),
        };
        for cidr in &self.home_net {
            policy
                .home_net
                .push(parse_cidr(cidr).map_err(|e| format!("--home-net: {e}"))?);
        }
        policy.include_private |= self.include_private;
        Ok(policy)
    }
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Exit with status 1 when a finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "low",
          value_parser = ["low", "medium", "high", "never"])]
    pub fail_on: String,
    /// Group findings per host in windows of this length (e.g. 5m, as
    /// Chronicle does) instead of over the whole input.
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// Fewest beats (attempts more than 1 s apart) a series needs to be
    /// tested for beaconing.
    #[arg(long, value_name = "N", default_value_t = beacon::DEFAULT_MIN_BEATS,
          value_parser = clap::value_parser!(u16).range(3..))]
    pub beacon_min_beats: u16,
    /// Report what one of the five seed queries returns instead of
    /// portent's own model, quirks included (DETECTION.md §11): findings
    /// from the Sysmon Event ID 3 events read.
    #[arg(long, value_name = "QUERY", conflicts_with = "window",
          value_parser = ["splunk", "chronicle", "logscale", "qradar", "sumo"])]
    pub profile: Option<String>,
    /// With --profile qradar: the end of the last day it searches (RFC
    /// 3339); default the newest event time read.
    #[arg(long, value_name = "TIME", requires = "profile")]
    pub now: Option<String>,
}

#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Inputs, recognised by content: packet captures (pcap, pcapng), flow
    /// exports (NetFlow v5/v9, IPFIX), Sysmon logs (EVTX, XML, JSON,
    /// syslog), any of them gzip-compressed; directories; - for stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Output format on stdout. Default: table on a terminal, jsonl
    /// otherwise. zeek and zeek-json (Zeek's conn.log) are for `conns`.
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutputFormat>,
    /// Write a report to FILE (repeatable); format from FORMAT:FILE or the
    /// extension (.jsonl, .csv, .txt, .html, .log for zeek). With -o, stdout gets
    /// a report only if one of them is "-".
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    pub outputs: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// A SYN on the same 5-tuple within this time of the previous one is a
    /// retransmission even if its sequence number differs.
    #[arg(long, value_name = "DURATION", default_value = "3s")]
    pub retransmit_window: String,
    /// No progress bar and no summary on stderr (warnings still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// UDP port that flow exports are sent to (repeatable), besides 2055,
    /// 4739, 9995 and 9996: datagrams to it in captures are read as
    /// NetFlow/IPFIX on their version number alone. Exports on other ports
    /// are still found when their whole header checks out.
    #[arg(long, value_name = "PORT", value_delimiter = ',')]
    pub flow_port: Vec<u16>,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Sysmon join: after correcting a host's clock, an Event ID 3 this
    /// close to an attempt in a capture or flows is the same connection.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub join_tolerance: String,
    /// Sysmon join: HOST's clock minus the capture's (e.g.
    /// WS1.corp.local=-2.5s, DC1=1d), instead of the estimate from
    /// unambiguous matches (repeatable).
    #[arg(long, value_name = "HOST=DURATION")]
    pub clock_offset: Vec<String>,
}

/// One report destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: OutputFormat,
    /// `None` is stdout.
    pub path: Option<PathBuf>,
}

/// Checked settings for a run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub inputs: Vec<String>,
    pub outputs: Vec<OutputSpec>,
    pub policy: Policy,
    pub run: RunOptions,
    pub quiet: bool,
    pub threads: Option<usize>,
    /// UDP ports whose datagrams in captures are flow exports.
    pub flow_ports: Vec<u16>,
    /// `None`: never fail on findings.
    pub fail_on: Option<Severity>,
}

/// Checks what the user typed for `portent collect`.
pub fn collect_settings(c: &CollectArgs) -> Result<collect::Settings, String> {
    let positive = |flag: &str, v: &str| -> Result<std::time::Duration, String> {
        let t = duration(flag, v)?;
        if t.0 <= 0 {
            return Err(format!("{flag} must be longer than zero"));
        }
        Ok(std::time::Duration::from_nanos(t.0 as u64))
    };
    let (window, interval) = (
        positive("--window", &c.window)?,
        positive("--interval", &c.interval)?,
    );
    // Records wait up to two intervals for the other half of their
    // connection; a shorter window would forget them unseen.
    if window < 2 * interval {
        return Err(format!(
            "--window ({}) must be at least twice --interval ({})",
            c.window, c.interval
        ));
    }
    Ok(collect::Settings {
        listen: c.listen,
        output: c.output.clone(),
        policy: c.policy.load()?,
        run: RunOptions {
            rules: AttemptRules::default(),
            join: JoinOptions::default(),
            window: None,
            profile: None,
            beacon: BeaconConfig {
                min_beats: usize::from(c.beacon_min_beats),
                ..BeaconConfig::default()
            },
        },
        window,
        interval,
        quiet: c.quiet,
    })
}

/// `HOST=DURATION`, the duration possibly negative.
fn clock_offset(o: &str) -> Result<(String, Ts), String> {
    let (host, d) = o
        .rsplit_once('=')
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| format!("--clock-offset {o:?}: expected HOST=DURATION"))?;
    let (neg, d) = match d.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, d.strip_prefix('+').unwrap_or(d)),
    };
    let t = duration("--clock-offset", d)?;
    Ok((host.to_string(), if neg { Ts(-t.0) } else { t }))
}

fn duration(flag: &str, s: &str) -> Result<Ts, String> {
    humantime::parse_duration(s)
        .map(|d| Ts(d.as_nanos().min(i64::MAX as u128) as i64))
        .map_err(|e| format!("{flag} {s:?}: {e}"))
}

impl Settings {
    /// Checks what the user typed. `stdout_is_tty` picks the default format.
    pub fn from_args(
        c: &CommonArgs,
        scan: Option<&ScanArgs>,
        stdout_is_tty: bool,
    ) -> Result<Settings, String> {
        let policy = c.policy.load()?;
        let mut outputs = Vec::new();
        for o in &c.outputs {
            outputs.push(parse_output(o, c.format)?);
        }
        if outputs.is_empty() {
            let format = c.format.unwrap_or(if stdout_is_tty {
                OutputFormat::Table
            } else {
                OutputFormat::Jsonl
            });
            outputs.push(OutputSpec { format, path: None });
        }
        if scan.is_some()
            && outputs
                .iter()
                .any(|o| matches!(o.format, OutputFormat::Zeek | OutputFormat::ZeekJson))
        {
            return Err(
                "the zeek formats write a conn.log, a list of connections: use them with `portent conns`"
                    .into(),
            );
        }
        if outputs.iter().filter(|o| o.path.is_none()).count() > 1 {
            return Err("-o: stdout (-) can take only one report".into());
        }
        let rules = AttemptRules {
            retransmit_window: duration("--retransmit-window", &c.retransmit_window)?,
        };
        let window = match scan.and_then(|s| s.window.as_deref()) {
            Some(w) => {
                let t = duration("--window", w)?;
                if t.0 <= 0 {
                    return Err("--window must be longer than zero".into());
                }
                Some(t)
            }
            None => None,
        };
        let fail_on = match scan.map(|s| s.fail_on.as_str()) {
            Some("never") | None => None,
            Some(s) => Severity::parse(s),
        };
        let profile = match scan.and_then(|s| s.profile.as_deref()) {
            Some(name) => Some(ProfileOptions {
                profile: Profile::parse(name)
                    .ok_or_else(|| format!("--profile {name:?}: unknown"))?,
                now: scan
                    .and_then(|s| s.now.as_deref())
                    .map(|t| parse_rfc3339(t).map_err(|e| format!("--now {e}")))
                    .transpose()?,
            }),
            None => None,
        };
        if c.threads == Some(0) {
            return Err("--threads must be at least 1".into());
        }
        Ok(Settings {
            inputs: c.inputs.clone(),
            outputs,
            policy,
            run: RunOptions {
                rules,
                join: JoinOptions {
                    tolerance: duration("--join-tolerance", &c.join_tolerance)?,
                    offsets: c
                        .clock_offset
                        .iter()
                        .map(|o| clock_offset(o))
                        .collect::<Result<_, _>>()?,
                },
                window,
                profile,
                beacon: BeaconConfig {
                    min_beats: scan.map_or(BeaconConfig::default().min_beats, |s| {
                        usize::from(s.beacon_min_beats)
                    }),
                    ..BeaconConfig::default()
                },
            },
            quiet: c.quiet,
            threads: c.threads,
            flow_ports: crate::source::flow::COLLECTOR_PORTS
                .iter()
                .chain(&c.flow_port)
                .copied()
                .collect(),
            fail_on,
        })
    }
}

/// `-o` values: `FILE`, `FORMAT:FILE`, or `-` (stdout).
fn parse_output(o: &str, default: Option<OutputFormat>) -> Result<OutputSpec, String> {
    use clap::ValueEnum;
    let (fmt, path) = match o.split_once(':') {
        Some((f, p)) if OutputFormat::from_str(f, true).is_ok() => {
            (OutputFormat::from_str(f, true).ok(), p)
        }
        _ => (None, o),
    };
    let path = if path == "-" {
        None
    } else {
        Some(PathBuf::from(path))
    };
    let format = fmt
        .or_else(|| path.as_ref().and_then(|p| OutputFormat::from_extension(&p.to_string_lossy())))
        .or(default)
        .ok_or_else(|| {
            format!("-o {o}: cannot tell the format; use FORMAT:FILE (table, jsonl, csv, html, zeek, zeek-json) or a .jsonl/.csv/.txt/.html/.log name")
        })?;
    Ok(OutputSpec { format, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        assert_eq!(
            parse_output("out.csv", None).unwrap(),
            OutputSpec {
                format: OutputFormat::Csv,
                path: Some("out.csv".into())
            }
        );
        assert_eq!(
            parse_output("jsonl:-", None).unwrap(),
            OutputSpec {
                format: OutputFormat::Jsonl,
                path: None
            }
        );
        assert_eq!(
            parse_output("table:report", None).unwrap().format,
            OutputFormat::Table
        );
        assert!(parse_output("report", None)
            .unwrap_err()
            .contains("-o report"));
    }
}
