//! `portent collect`: a live NetFlow/IPFIX collector.
//!
//! A SOC wants portent to listen for exports directly and say what it finds
//! as flows arrive, not after the fact. This module is a UDP source for the
//! same pipeline the files go through: datagrams go to the same
//! [`FlowReader`] (templates per exporter and observation domain, pending
//! data, pairing), attempts go into a rolling window, and every interval the
//! window is scored, grouped and beacon-tested by [`pipeline::analyze_attempts`].
//! What is new or has changed since the last interval is written as JSONL.
//!
//! It runs for days against any number of exporters, so everything it keeps
//! has a bound: template scopes ([`crate::source::flow::MAX_SCOPES`], with
//! eviction), data waiting for templates, records waiting for their other
//! half ([`MAX_HELD_RECORDS`]), the window ([`MAX_WINDOW_ATTEMPTS`]) and the
//! findings remembered as written (only those still in the window). A
//! finding is written when it is new or grows, and before the window
//! forgets attempts no line covered, so every attempt is in some line.
//! SIGINT and SIGTERM stop it cleanly: the records still held are taken, the
//! window is analysed one last time, and every finding with attempts newer
//! than its last line is written before the summary.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hashbrown::{HashMap, HashSet};
use serde::Serialize;

use crate::analysis::group::{Finding, GroupKey};
use crate::event::{merge_attempts, Attempt};
use crate::findings::{Analysis, InputReport};
use crate::pipeline;
use crate::pipeline::RunOptions;
use crate::policy::Policy;
use crate::report::{jsonl, table};
use crate::source::flow::FlowReader;

/// The largest UDP payload; export datagrams are usually under 1,500 bytes.
const MAX_DATAGRAM: usize = 65_535;

/// Receive buffer asked of the kernel: exporters send in bursts (a router
/// flushes its cache at once), and a datagram the socket has no room for is
/// lost without trace. 8 MiB holds several seconds of a busy exporter; the
/// kernel may grant less (net.core.rmem_max).
const RECV_BUFFER: usize = 8 << 20;

/// The most attempts kept in the window. At about 500 bytes an attempt,
/// a million is half a gigabyte: past it the earliest are forgotten
/// (counted under `window_dropped`) so a flood cannot exhaust memory.
pub const MAX_WINDOW_ATTEMPTS: usize = 1_000_000;

/// The most SYN records held between intervals, waiting for the other half
/// of their connection; past it the interval's work is done at once.
pub const MAX_HELD_RECORDS: usize = 500_000;

/// How long a receive waits before the receiver looks at the stop flag:
/// the delay between SIGTERM and the final flush.
const POLL: Duration = Duration::from_millis(100);

/// How long the decoder sleeps when the receiver queued nothing.
const IDLE: Duration = Duration::from_millis(10);

/// Checked settings for `portent collect`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: std::net::SocketAddr,
    /// `None` is stdout.
    pub output: Option<PathBuf>,
    pub policy: Policy,
    pub run: RunOptions,
    pub window: std::time::Duration,
    pub interval: std::time::Duration,
    pub quiet: bool,
}

/// What the collector did over its whole run (the window's own totals are
/// in the summary's usual fields).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CollectorStats {
    pub listen: String,
    pub datagrams: u64,
    pub bytes: u64,
    pub uptime_s: f64,
    pub window_s: f64,
    /// Attempts taken into the window over the run.
    pub attempts_total: u64,
    /// Attempts forgotten because the window held [`MAX_WINDOW_ATTEMPTS`].
    pub window_dropped: u64,
    pub intervals: u64,
    pub findings_written: u64,
    pub beacons_written: u64,
    pub receive_errors: u64,
    /// Datagrams dropped because [`MAX_QUEUED_BYTES`] were waiting.
    pub queue_dropped: u64,
}

/// The collector's own part of its `summary` record.
#[derive(Serialize)]
struct CollectorSummary<'a> {
    /// The whole run's totals (the summary's other fields are the last
    /// window's).
    collector: &'a CollectorStats,
}

/// A beacon series: source, port, across destinations, the destination.
type BeaconKey = (IpAddr, u16, bool, Option<IpAddr>);

/// What was written of each finding and beacon still in the window.
#[derive(Default)]
struct Written {
    /// Per finding: the state last written, and the latest seen.
    findings: HashMap<GroupKey, (Finding, Finding)>,
    /// Beacons written, kept while their series has attempts in the
    /// window (a series that dips below the threshold for an interval is
    /// not new when it comes back).
    beacons: HashSet<BeaconKey>,
}

/// How long a lone SYN record that saw an answer waits for the record of
/// the other direction (from another exporter, or a later flush of the
/// same one's cache) before it is taken alone: exporters flush both
/// directions of an expired flow together, and active timeouts are
/// usually 30 to 60 s. Capped at half the window.
pub const PAIR_HOLD: Duration = Duration::from_secs(30);

/// Whether a finding grew enough to be written again at once: a higher
/// risk or severity, a new port, a beacon. More attempts and addresses of
/// the same kind wait (a busy host would otherwise be rewritten every
/// interval); the window's end taking attempts away is not news.
fn changed(old: &Finding, new: &Finding) -> bool {
    new.risk_score > old.risk_score
        || new.severity() > old.severity()
        || !new.ports.is_subset(&old.ports)
        || (new.beacon && !old.beacon)
}

/// Whether `latest` holds attempts no written line covered: taken at a
/// later interval than the newest of the last line written.
fn unwritten(written: &Finding, latest: &Finding) -> bool {
    latest.newest_frame > written.newest_frame
}

/// Listens until `stop` is set (by SIGINT or SIGTERM in the binary).
pub fn run(s: &Settings, stop: &AtomicBool) -> Result<CollectorStats> {
    let socket = bind(s.listen).with_context(|| format!("--listen {}", s.listen))?;
    let local = socket.local_addr()?;
    socket.set_read_timeout(Some(POLL))?;
    if !s.quiet {
        eprintln!(
            "portent: collecting on udp {local} (window {:?}, interval {:?})",
            s.window, s.interval
        );
    }
    let mut out: Box<dyn Write> = match &s.output {
        Some(p) => Box::new(BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("-o {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let mut c = Collector {
        settings: s,
        reader: FlowReader::default(),
        window: Vec::new(),
        marks: VecDeque::new(),
        written: Written::default(),
        stats: CollectorStats {
            listen: local.to_string(),
            window_s: s.window.as_secs_f64(),
            ..CollectorStats::default()
        },
        name: format!("udp:{local}"),
    };
    c.reader.begin_input(0);
    let queue = Mutex::new(Batch::default());
    let receiver_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let receiver = scope.spawn(|| receive(&socket, &queue, stop, &receiver_done));
        let r = c.main_loop(&queue, stop, &receiver_done, &mut *out);
        // The receiver stops on the same flag; make sure it does when the
        // loop ended for another reason (a closed stdout).
        stop.store(true, Ordering::Relaxed);
        let _ = receiver.join();
        r
    })?;
    Ok(c.stats)
}

/// Datagrams received and not yet decoded, their bytes in one arena (no
/// allocation per datagram; the two batches swap and keep their capacity).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Sender, where its bytes start, how long.
    msgs: Vec<(SocketAddr, usize, usize)>,
    /// Datagrams that found the queue full.
    dropped: u64,
    receive_errors: u64,
}

impl Batch {
    /// Queues a datagram; when [`MAX_QUEUED_BYTES`] are already waiting,
    /// counts it as dropped and says so.
    fn push(&mut self, from: SocketAddr, d: &[u8]) -> bool {
        if self.bytes.len() + d.len() > MAX_QUEUED_BYTES {
            self.dropped += 1;
            return false;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(d);
        self.msgs.push((from, start, d.len()));
        true
    }
}

/// The most bytes waiting between the receiving thread and the decoder:
/// the analysis of a large window can take a second, during which a busy
/// exporter keeps sending; past this, datagrams are dropped and counted.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// The receiving thread: only reads the socket, so that the kernel's
/// buffer never overflows while the window is being analysed.
fn receive(socket: &UdpSocket, queue: &Mutex<Batch>, stop: &AtomicBool, done: &AtomicBool) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let lock = || queue.lock().unwrap_or_else(|e| e.into_inner());
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                lock().push(from, &buf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => lock().receive_errors += 1,
        }
    }
    // Stopping: what the kernel already holds was sent before the signal;
    // read it rather than drop it unseen, but no more than its buffer holds
    // (exporters that keep sending must not keep the collector from
    // stopping), and not past the queue's bound.
    if socket.set_nonblocking(true).is_ok() {
        let mut drained = 0usize;
        while drained < RECV_BUFFER {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                break;
            };
            drained += n.max(1);
            if !lock().push(from, &buf[..n]) {
                break;
            }
        }
    }
    done.store(true, Ordering::Release);
}

/// Binds the socket with a large receive buffer (socket2: std cannot set
/// SO_RCVBUF).
fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // [::] takes IPv4 exporters too where the system allows it.
        let _ = sock.set_only_v6(false);
    }
    let _ = sock.set_recv_buffer_size(RECV_BUFFER);
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

struct Collector<'a> {
    settings: &'a Settings,
    reader: FlowReader,
    /// Attempts of the rolling window, in `sort_attempts` order.
    window: Vec<Attempt>,
    /// (when, datagrams received by then, interval), one per interval: the
    /// window forgets attempts taken at intervals older than it; the pair
    /// hold goes by datagrams.
    marks: VecDeque<(Instant, u64, u64)>,
    written: Written,
    stats: CollectorStats,
    name: String,
}

impl Collector<'_> {
    /// Decodes what the receiver queued, and every interval analyses the
    /// window; after the stop flag, drains the queue and flushes.
    fn main_loop(
        &mut self,
        queue: &Mutex<Batch>,
        stop: &AtomicBool,
        receiver_done: &AtomicBool,
        out: &mut dyn Write,
    ) -> Result<()> {
        let started = Instant::now();
        let mut last_tick = Instant::now();
        // Datagrams received up to the previous interval: their records
        // have had a whole interval for the other half to come.
        let mut ready_upto = 0u64;
        let mut batch = Batch::default();
        loop {
            // After the stop flag, one more drain once the receiver is out.
            let stopping = stop.load(Ordering::Relaxed) && receiver_done.load(Ordering::Acquire);
            std::mem::swap(
                &mut batch,
                &mut queue.lock().unwrap_or_else(|e| e.into_inner()),
            );
            self.stats.queue_dropped += std::mem::take(&mut batch.dropped);
            self.stats.receive_errors += std::mem::take(&mut batch.receive_errors);
            for &(from, start, len) in &batch.msgs {
                self.datagram(&batch.bytes[start..start + len], from);
            }
            let idle = batch.msgs.is_empty();
            batch.msgs.clear();
            batch.bytes.clear();
            let due = last_tick.elapsed() >= self.settings.interval
                || self.reader.held_records() >= MAX_HELD_RECORDS;
            if stopping || due {
                let upto = if stopping { u64::MAX } else { ready_upto };
                ready_upto = self.stats.datagrams;
                last_tick = Instant::now();
                self.stats.uptime_s = started.elapsed().as_secs_f64();
                match self.interval(upto, stopping, out) {
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                    r => r.context("writing the collector's records")?,
                }
                if stopping {
                    return Ok(());
                }
            } else if idle {
                std::thread::sleep(IDLE);
            }
        }
    }

    fn datagram(&mut self, d: &[u8], from: SocketAddr) {
        self.stats.datagrams += 1;
        self.stats.bytes += d.len() as u64;
        let ip = from.ip().to_canonical();
        // The datagram number is the frame: warnings name it, and the
        // window forgets attempts by it.
        self.reader
            .message(d, Some((ip, from.port())), 0, self.stats.datagrams);
    }

    /// One interval: take the records that are ready, forget what left the
    /// window, analyse, write what is new.
    fn interval(&mut self, ready_upto: u64, last: bool, out: &mut dyn Write) -> io::Result<()> {
        self.stats.intervals += 1;
        let now = Instant::now();
        // Datagrams received before the pair hold: their lone records
        // have waited long enough.
        let hold = PAIR_HOLD.min(self.settings.window / 2);
        // Past the bound on held records, lone records are taken now: the
        // bound holds, and the interval is not run again on every pass.
        let settled_upto = if last {
            u64::MAX
        } else if self.reader.held_records() >= MAX_HELD_RECORDS {
            ready_upto
        } else {
            self.marks
                .iter()
                .take_while(|(t, _, _)| now.duration_since(*t) >= hold)
                .last()
                .map_or(0, |&(_, n, _)| n)
        };
        // Forget what left the window before taking the new attempts, so
        // that a record taken late (after its pair hold) is analysed at
        // least once.
        // The window's attempts are numbered by the interval that took
        // them, not by datagram: a record taken late (after its pair hold,
        // or data replayed when its template came) is newer than every
        // line already written, and stays a whole window.
        let tick = self.stats.intervals;
        self.marks.push_back((now, self.stats.datagrams, tick));
        let mut forget_upto = 0;
        while let Some(&(t, _, k)) = self.marks.front() {
            if now.duration_since(t) <= self.settings.window {
                break;
            }
            forget_upto = k;
            self.marks.pop_front();
        }
        let before = self.window.len();
        if forget_upto > 0 {
            self.window.retain(|a| a.origin.frame > forget_upto);
        }
        let mut evicted = self.window.len() != before;
        let mut new = self
            .reader
            .take_attempts(|o| o.frame <= ready_upto, |o| o.frame <= settled_upto);
        for a in &mut new {
            a.origin.frame = tick;
        }
        // The frame is part of the attempts' order (ties on time).
        crate::event::sort_attempts(&mut new);
        let fresh = !new.is_empty();
        self.stats.attempts_total += new.len() as u64;
        self.window = merge_attempts(std::mem::take(&mut self.window), new);
        if self.window.len() > MAX_WINDOW_ATTEMPTS {
            let extra = self.window.len() - MAX_WINDOW_ATTEMPTS;
            // Dropped by time, not by intake: to the lines, the newest
            // dropped is what the window forgot up to.
            for a in self.window.drain(..extra) {
                forget_upto = forget_upto.max(a.origin.frame);
            }
            self.stats.window_dropped += extra as u64;
            evicted = true;
        }
        if last {
            // Data still waiting for its template is counted (and said)
            // before the last warnings are printed.
            self.reader.count_waiting();
        }
        self.print_warnings();
        if !(fresh || evicted || last) {
            return Ok(());
        }
        let mut report = InputReport::named(self.name.clone());
        report.format = Some("udp");
        report.packets = self.stats.datagrams;
        report.bytes = self.stats.bytes;
        report.flows = Some(self.reader.input_stats(0));
        let mut a = pipeline::analyze_attempts(
            vec![report],
            std::mem::take(&mut self.window),
            &self.settings.policy,
            &self.settings.run,
        );
        self.write(&a, last, forget_upto, out)?;
        if last {
            jsonl::summary_with(
                out,
                &a,
                Some(CollectorSummary {
                    collector: &self.stats,
                }),
            )?;
        }
        out.flush()?;
        if last && !self.settings.quiet {
            eprint!("{}", table::summary_text(&a));
        }
        self.window = std::mem::take(&mut a.attempts);
        Ok(())
    }

    /// Writes findings that are new or changed, and beacons that are new;
    /// forgets what left the window. A finding that grew without a line
    /// (more attempts of the same kind) is written at its largest before
    /// the window's end takes attempts from it, and on the last interval;
    /// so the output ends with every finding at its fullest.
    /// `forgot` is the interval up to which the window forgot attempts
    /// (attempts are numbered by the interval that took them).
    fn write(
        &mut self,
        a: &Analysis,
        last: bool,
        forgot: u64,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut next = HashMap::with_capacity(a.findings.len());
        for f in &a.findings {
            let mut old = self.written.findings.remove(&f.key);
            // The window's end took attempts that came after the last line
            // written (no line covered them): the previous state, which
            // still had them, is written first, so no attempt goes
            // unreported. Steady traffic makes a line a window, not one an
            // interval.
            if let Some((w, l)) = &mut old {
                if forgot > w.newest_frame && unwritten(w, l) {
                    jsonl::finding(out, l)?;
                    self.stats.findings_written += 1;
                    *w = l.clone();
                }
            }
            let write = match &old {
                None => true,
                Some((w, _)) => changed(w, f) || (last && unwritten(w, f)),
            };
            if write {
                jsonl::finding(out, f)?;
                self.stats.findings_written += 1;
                next.insert(f.key.clone(), (f.clone(), f.clone()));
            } else if let Some((w, _)) = old {
                next.insert(f.key.clone(), (w, f.clone()));
            }
        }
        // Left the window: its latest state, if it held attempts no line
        // covered.
        let mut gone: Vec<(GroupKey, (Finding, Finding))> =
            std::mem::replace(&mut self.written.findings, next)
                .into_iter()
                .filter(|(_, (w, l))| unwritten(w, l))
                .collect();
        gone.sort_by(|x, y| x.0.cmp(&y.0));
        for (_, (_, l)) in gone {
            jsonl::finding(out, &l)?;
            self.stats.findings_written += 1;
        }
        let key = |src: IpAddr, dport: u16, across: bool, dst: IpAddr| -> BeaconKey {
            (src, dport, across, (!across).then_some(dst))
        };
        for b in &a.beacons {
            let k = key(b.src, b.dport, b.across_destinations, b.dsts[0]);
            if self.written.beacons.insert(k) {
                jsonl::beacon(out, a, b)?;
                self.stats.beacons_written += 1;
            }
        }
        if !self.written.beacons.is_empty() {
            let mut live: HashSet<BeaconKey> = HashSet::new();
            for at in &a.attempts {
                let t = &at.tuple;
                live.insert(key(t.src, t.dport, true, t.dst));
                live.insert(key(t.src, t.dport, false, t.dst));
            }
            self.written.beacons.retain(|k| live.contains(k));
        }
        Ok(())
    }

    fn print_warnings(&mut self) {
        let w = self.reader.take_warnings(0);
        let mut err = io::stderr().lock();
        for w in &w.kept {
            let _ = writeln!(
                err,
                "warning: {}: datagram {}: {} [{}]",
                self.name,
                w.frame.unwrap_or(0),
                table::clean(&w.message),
                w.reason
            );
        }
        for (reason, n) in w.dropped() {
            let _ = writeln!(
                err,
                "warning: {}: {n} more {reason} warning(s) this interval not shown (all are counted in the summary)",
                self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::time::Ts;

    fn settings() -> Settings {
        Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            output: None,
            policy: Policy::default(),
            run: RunOptions::default(),
            window: Duration::from_secs(600),
            interval: Duration::from_secs(60),
            quiet: false,
        }
    }

    fn finding(count: u64, first: i64, last: i64, ports: &[u16], newest: u64) -> Finding {
        Finding {
            key: GroupKey {
                host: "10.0.0.5".into(),
                image: None,
                user: None,
                parent_image: None,
                window: None,
            },
            ports: ports.iter().copied().collect(),
            remote_ips: BTreeSet::new(),
            count,
            risk_score: 1,
            first_seen: Ts(first),
            last_seen: Ts(last),
            beacon: false,
            newest_frame: newest,
            reasons: BTreeSet::new(),
        }
    }

    fn analysis(f: Finding) -> Analysis {
        Analysis {
            inputs: Vec::new(),
            attempts: Vec::new(),
            verdicts: Vec::new(),
            findings: vec![f],
            beacons: Vec::new(),
            rdp: Vec::new(),
            summary: Default::default(),
            known_c2: Default::default(),
            home_net: Vec::new(),
        }
    }

    /// Runs `write` over `states` (the last one as the final interval),
    /// each with the datagram the window had forgotten up to, and returns
    /// the (count, first, last) of every line written.
    fn lines(states: &[(Finding, u64)]) -> Vec<(u64, i64, i64)> {
        let s = settings();
        let mut c = Collector {
            settings: &s,
            reader: FlowReader::default(),
            window: Vec::new(),
            marks: VecDeque::new(),
            written: Written::default(),
            stats: CollectorStats::default(),
            name: "test".into(),
        };
        let mut out = Vec::new();
        for (i, (f, forgot)) in states.iter().enumerate() {
            c.write(
                &analysis(f.clone()),
                i + 1 == states.len(),
                *forgot,
                &mut out,
            )
            .unwrap();
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let t = |k: &str| -> i64 {
                    crate::time::parse_log_time(v[k].as_str().unwrap())
                        .unwrap()
                        .0
                };
                (
                    v["count"].as_u64().unwrap(),
                    t("first_seen"),
                    t("last_seen"),
                )
            })
            .collect()
    }

    #[test]
    fn steady_traffic_is_covered_by_a_line_per_window_not_per_interval() {
        // One attempt per interval (at second k, in datagram k + 1), the
        // window holding five.
        let s = Ts::NANOS_PER_SEC;
        let states: Vec<(Finding, u64)> = (0..20i64)
            .map(|k| {
                let count = (k + 1).min(5) as u64;
                let f = finding(count, (k - 4).max(0) * s, k * s, &[4444], k as u64 + 1);
                (f, (k - 4).max(0) as u64)
            })
            .collect();
        let written = lines(&states);
        for k in 0..20 {
            assert!(
                written.iter().any(|&(_, a, b)| a <= k * s && k * s <= b),
                "attempt {k} in no line: {written:?}"
            );
        }
        assert!(written.len() <= 6, "{written:?}");
    }

    #[test]
    fn new_attempts_at_shutdown_are_written_and_a_shrunk_state_is_not() {
        let s = Ts::NANOS_PER_SEC;
        let w = lines(&[
            (finding(10, 0, 9 * s, &[4444], 10), 0),
            (finding(5, 5 * s, 9 * s, &[4444], 10), 5),
            (finding(7, 5 * s, 20 * s, &[4444], 12), 5),
        ]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[1].2, 20 * s);
        // Only the window's end took attempts (and a port): nothing new.
        let w = lines(&[
            (finding(10, 0, 9 * s, &[4444, 9001], 10), 0),
            (finding(4, 6 * s, 9 * s, &[4444], 10), 6),
        ]);
        assert_eq!(w.len(), 1, "{w:?}");
        // All at one time (exports whose records carry the export time):
        // the datagrams, not the times, tell what the window's end took.
        // The first line covered datagram 1, the window forgot it, the
        // second line has the 20 attempts of datagram 2.
        let w = lines(&[
            (finding(1, 0, 0, &[4444], 1), 0),
            (finding(21, 0, 0, &[4444], 2), 0),
            (finding(20, 0, 0, &[4444], 2), 1),
            (finding(20, 0, 0, &[4444], 2), 1),
        ]);
        assert_eq!(w.iter().map(|l| l.0).collect::<Vec<_>>(), [1, 20], "{w:?}");
        // Had the window forgotten datagram 2's attempts too before a line
        // showed them, the state that held them is written first.
        let w = lines(&[
            (finding(1, 0, 0, &[4444], 1), 0),
            (finding(21, 0, 0, &[4444], 2), 0),
            (finding(3, 0, 0, &[4444], 3), 2),
        ]);
        assert_eq!(
            w.iter().map(|l| l.0).collect::<Vec<_>>(),
            [1, 21, 3],
            "{w:?}"
        );
    }

    /// Does some written line cover time `t`?
    fn covered(w: &[(u64, i64, i64)], t: i64) -> bool {
        w.iter().any(|&(_, a, b)| a <= t && t <= b)
    }

    #[test]
    fn a_record_taken_late_is_in_some_line() {
        // An unanswered SYN at 10 s, taken at interval 1 and written; an
        // answered one at 9 s from the same datagram, taken at interval 2
        // after its pair hold: newer than the line, so it gets one.
        let s = Ts::NANOS_PER_SEC;
        let w = lines(&[
            (finding(1, 10 * s, 10 * s, &[4444], 1), 0),
            (finding(2, 9 * s, 10 * s, &[4444], 2), 0),
            (finding(2, 9 * s, 10 * s, &[4444], 2), 0),
        ]);
        assert!(covered(&w, 9 * s), "{w:?}");
    }

    #[test]
    fn attempts_dropped_by_the_window_bound_are_in_some_line() {
        // One attempt written, four more unwritten, then the bound drops
        // the earliest four (the newest of them taken at interval 5).
        let s = Ts::NANOS_PER_SEC;
        let w = lines(&[
            (finding(1, 0, 0, &[4444], 1), 0),
            (finding(5, 0, 4 * s, &[4444], 5), 0),
            (finding(1, 4 * s, 4 * s, &[4444], 5), 5),
            (finding(1, 4 * s, 4 * s, &[4444], 5), 0),
        ]);
        for k in 0..5 {
            assert!(covered(&w, k * s), "attempt at {k} s: {w:?}");
        }
    }

    #[test]
    fn forgotten_attempts_are_in_some_line_when_count_and_first_seen_hold() {
        // A (100 s) written; B (150 s) unwritten; the window forgets both
        // as C (50 s) and D (120 s) come late from an exporter.
        let s = Ts::NANOS_PER_SEC;
        let w = lines(&[
            (finding(1, 100 * s, 100 * s, &[4444], 1), 0),
            (finding(2, 100 * s, 150 * s, &[4444], 2), 0),
            (finding(2, 50 * s, 120 * s, &[4444], 3), 2),
            (finding(2, 50 * s, 120 * s, &[4444], 3), 2),
        ]);
        for k in [50, 100, 120, 150] {
            assert!(covered(&w, k * s), "attempt at {k} s: {w:?}");
        }
    }
}
