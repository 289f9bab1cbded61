//! Flow exports (NetFlow v5/v9, IPFIX) to connection attempts.
//!
//! Most networks keep flows, not packets. A flow record that says "TCP, SYN
//! seen" is the same evidence as a SYN in a capture, so this module turns
//! export datagrams — found inside captures (UDP to a collector) or read from
//! files of raw messages (RFC 5655 IPFIX files, single datagrams) — into the
//! same [`Attempt`]s the packet path builds, carrying what flows know beyond
//! packets (counts, duration, exporter, interfaces, sampling).
//!
//! The wire format is read in `netflow.rs`; this module adds what a forensic
//! reader needs around it (DETECTION.md §2): template caches per exporter and
//! observation domain (template IDs collide across routers), data kept until
//! its template comes (bounded), exporter-uptime times converted to UTC,
//! RFC 5103 biflows, and the pairing of the two one-way records of one
//! connection so that the initiator is the source.
//!
//! Split as the data flows: `sniff` finds export messages in captures and
//! files; this module keeps the template scopes and decodes data sets;
//! `record` reads one record's fields and times; `pair` turns records into
//! attempts.

mod pair;
mod record;
mod sniff;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use hashbrown::HashMap;

use super::netflow::{self, be16, Header, Set, Template, TemplateDef};
use crate::decode::{TCP_ACK, TCP_SYN};
use crate::event::{Attempt, FiveTuple, FlowInfo, Origin};
use crate::stats::{Warning, Warnings};
use crate::time::Ts;
use pair::{pair, reverse_initiated, Paired, TcpFlow};
use record::{uptime_to_utc, wanted, Ctx, RawRecord};

pub use pair::{MAX_PAIR_CANDIDATES, PAIR_TIE, PAIR_WINDOW};
pub use sniff::{looks_like_export, split_messages, ExportRef, Split, COLLECTOR_PORTS};

/// The most template scopes (exporter, port, version, observation domain)
/// kept at once. When a new scope would pass it, the quarter least recently
/// heard from are forgotten (templates, waiting data, sampling) and counted
/// under `scopes_evicted`: thousands of spoofed exporters cannot grow memory
/// without bound, nor lock out a real exporter that comes later.
pub const MAX_SCOPES: usize = 4096;

/// Templates kept per scope; a template past it is not kept (counted
/// under `bad_messages`, with a warning naming the exporter).
pub const MAX_TEMPLATES_PER_SCOPE: usize = 512;

/// Data sets kept per scope while their template has not arrived, and in
/// bytes over all scopes. Past either, the set is dropped and counted under
/// `data_without_template`.
pub const MAX_PENDING_SETS_PER_SCOPE: usize = 64;
pub const MAX_PENDING_BYTES: usize = 32 << 20;

/// What decoding flows produced, besides attempts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowStats {
    /// Export messages read.
    pub messages: u64,
    /// Flow data records decoded (all protocols).
    pub records: u64,
    /// TCP records with SYN: attempts, before pairing.
    pub syn_records: u64,
    /// TCP records without SYN: continuations of longer flows.
    pub continuation_records: u64,
    /// TCP records without a TCP flags field: no way to tell an attempt.
    pub tcp_records_without_flags: u64,
    /// Responder records paired with their initiator's (not attempts).
    pub paired_responder_records: u64,
    /// Attempts whose two records started within a millisecond of each
    /// other, their initiator told by flags and ports, not by time.
    pub pair_ties: u64,
    /// Data sets that waited for their template and were decoded when it
    /// came.
    pub data_replayed: u64,
    /// Data sets whose template never came (or that the pending bound
    /// dropped).
    pub data_without_template: u64,
    /// Messages that did not decode (bad version, bad template, cut).
    pub bad_messages: u64,
    /// Template scopes forgotten to stay under [`MAX_SCOPES`].
    pub scopes_evicted: u64,
    /// NetFlow v9 messages whose header count is not the number of
    /// records they hold (read all the same).
    pub count_mismatch: u64,
    /// Biflow records with no biflowDirection whose initiator was told by
    /// their ports (the reverse direction started them).
    pub biflows_reoriented: u64,
}

impl FlowStats {
    fn paired(&mut self, what: Paired) {
        match what {
            Paired::Responder => self.paired_responder_records += 1,
            Paired::Tie => self.pair_ties += 1,
        }
    }

    /// Adds another input's counts (for the run's totals).
    pub fn add(&mut self, o: &FlowStats) {
        self.messages += o.messages;
        self.records += o.records;
        self.syn_records += o.syn_records;
        self.continuation_records += o.continuation_records;
        self.tcp_records_without_flags += o.tcp_records_without_flags;
        self.paired_responder_records += o.paired_responder_records;
        self.pair_ties += o.pair_ties;
        self.data_replayed += o.data_replayed;
        self.data_without_template += o.data_without_template;
        self.bad_messages += o.bad_messages;
        self.scopes_evicted += o.scopes_evicted;
        self.count_mismatch += o.count_mismatch;
        self.biflows_reoriented += o.biflows_reoriented;
    }
}

/// Template scope: templates are only valid for one exporter (address and
/// port), one protocol version and one observation domain.
type Scope = (Option<IpAddr>, u16, u16, u32);

/// A data set that came before its template.
struct Pending {
    template: u16,
    /// Where the set's contents start in its message.
    at: usize,
    body: Box<[u8]>,
    ctx: Ctx,
}

/// What one template scope knows.
#[derive(Default)]
struct ScopeState {
    templates: HashMap<u16, Template>,
    pending: Vec<Pending>,
    /// Sampling interval announced in options data.
    sampling: Option<u32>,
    /// IPFIX systemInitTimeMilliseconds from options data: when the
    /// exporter's uptime was 0.
    sys_init: Option<Ts>,
    /// The last input that sent to it (data still waiting for a template
    /// at the end is counted there).
    input: u32,
    /// When it was last heard from (message counter), for eviction.
    last_seen: u64,
}

/// Decodes the export messages of a run, input after input in the order
/// given: templates carry over from one input to the next, so a template
/// datagram saved in one file decodes the data saved in the next.
#[derive(Default)]
pub struct FlowReader {
    input: u32,
    scopes: HashMap<Scope, ScopeState>,
    messages: u64,
    pending_bytes: usize,
    flows: Vec<TcpFlow>,
    /// Reused per data set.
    scratch: Vec<RawRecord>,
    defs: Vec<TemplateDef>,
    /// Per input: what was read, and the warnings.
    per_input: BTreeMap<u32, (FlowStats, Warnings)>,
}

impl FlowReader {
    /// Messages from now on come from input `input`.
    pub fn begin_input(&mut self, input: u32) {
        self.input = input;
        self.per_input.entry(input).or_default();
    }

    fn stats(&mut self) -> &mut FlowStats {
        &mut self.per_input.entry(self.input).or_default().0
    }

    /// Keeps a warning while the per-reason bound allows; the message is
    /// only formatted then.
    fn warn(
        &mut self,
        reason: &'static str,
        offset: u64,
        frame: Option<u64>,
        message: impl FnOnce() -> String,
    ) {
        let w = &mut self.per_input.entry(self.input).or_default().1;
        if w.wants(reason) {
            w.push(Warning {
                reason,
                offset,
                frame,
                message: message(),
            });
        } else {
            w.count_dropped(reason);
        }
    }

    fn bad(&mut self, ctx: &Ctx, e: netflow::WireError) {
        self.stats().bad_messages += 1;
        let exporter = ctx.exporter;
        self.warn(
            "bad_flow_message",
            ctx.offset,
            Some(ctx.origin.frame),
            || format!("{}: {e}", describe(exporter)),
        );
    }

    /// One export message. `exporter` is the sender when the message came
    /// over UDP; `offset` is where it starts in the input (for messages);
    /// `frame` is the capture frame or the message number in a file.
    pub fn message(
        &mut self,
        msg: &[u8],
        exporter: Option<(IpAddr, u16)>,
        offset: u64,
        frame: u64,
    ) {
        self.stats().messages += 1;
        self.messages += 1;
        let origin = Origin {
            input: self.input,
            frame,
        };
        let mut ctx = Ctx {
            version: 0,
            export: Ts(0),
            sys_up_time_ms: None,
            exporter,
            domain: 0,
            origin,
            offset,
        };
        let version = be16(msg, 0).unwrap_or(0);
        if version == 5 {
            ctx.version = 5;
            return self.v5(msg, &ctx);
        }
        let h = match netflow::header(msg) {
            Ok(h) => h,
            Err(e) => return self.bad(&ctx, e),
        };
        ctx.version = h.version as u8;
        ctx.export = Ts::from_parts(i64::from(h.unix_secs), 0);
        ctx.sys_up_time_ms = h.sys_up_time_ms;
        ctx.domain = h.domain;
        let scope: Scope = (
            exporter.map(|e| e.0),
            exporter.map_or(0, |e| e.1),
            h.version,
            h.domain,
        );
        self.touch(scope);
        self.sets(msg, &h, scope, &ctx);
    }

    /// Finds or makes the state of a scope, forgetting the least recently
    /// heard-from quarter when there are too many.
    fn touch(&mut self, scope: Scope) {
        if !self.scopes.contains_key(&scope) && self.scopes.len() >= MAX_SCOPES {
            let mut ages: Vec<(u64, Scope)> =
                self.scopes.iter().map(|(k, s)| (s.last_seen, *k)).collect();
            ages.sort_unstable();
            let n = MAX_SCOPES / 4;
            for (_, k) in ages.into_iter().take(n) {
                if let Some(old) = self.scopes.remove(&k) {
                    self.forget(old);
                }
            }
            self.stats().scopes_evicted += n as u64;
            let input = self.input;
            self.warn("scopes_evicted", 0, None, || {
                format!(
                    "more than {MAX_SCOPES} exporters and observation domains in input {input}: the {n} heard from least recently were forgotten (their templates too)"
                )
            });
        }
        let (messages, input) = (self.messages, self.input);
        let st = self.scopes.entry(scope).or_default();
        st.last_seen = messages;
        st.input = input;
    }

    /// Accounts for what a forgotten scope still held.
    fn forget(&mut self, st: ScopeState) {
        for p in &st.pending {
            self.pending_bytes -= p.body.len();
        }
        if !st.pending.is_empty() {
            self.per_input
                .entry(st.input)
                .or_default()
                .0
                .data_without_template += st.pending.len() as u64;
        }
    }

    fn sets(&mut self, msg: &[u8], h: &Header, scope: Scope, ctx: &Ctx) {
        // Records the message held, to hold against a v9 header's count;
        // `None` once a data set waits for its template (not countable yet).
        let mut held = Some(0usize);
        let mut sets = 0usize;
        let (records0, replayed0) = (self.stats().records, self.stats().data_replayed);
        for set in netflow::sets(msg, h) {
            sets += 1;
            let set = match set {
                Ok(s) => s,
                Err(e) => return self.bad(ctx, e),
            };
            let n = match (h.version, set.id) {
                (9, 0 | 1) | (10, 2 | 3) => Some(self.template_set(&set, scope, ctx)),
                (_, 256..) => self.data_set(&set, scope, ctx),
                (_, id) => {
                    let e = netflow::WireError {
                        at: set.at - 4,
                        what: format!("set ID {id} is reserved; set skipped"),
                    };
                    self.bad(ctx, e);
                    Some(0)
                }
            };
            held = held.zip(n).map(|(a, b)| a + b);
        }
        // Flow records (not options data); not countable when a template in
        // this message let earlier data be decoded.
        let flow_records = (self.stats().data_replayed == replayed0)
            .then(|| (self.stats().records - records0) as usize);
        if let (Some(count), Some(held), Some(data)) = (h.count, held, flow_records) {
            // RFC 3954 counts records; Cisco's earlier description, which
            // FortiGate, Streamcore and Cisco WLC follow, counts sets;
            // softflowd counts flow records only (no templates, no options data). Any of them is fine;
            // anything else is a damaged or forged header, decoded all the
            // same (the sets, not the count, say where the records are)
            // and said.
            let count = usize::from(count);
            if count != held && count != sets && count != data {
                self.stats().count_mismatch += 1;
                let exporter = ctx.exporter;
                self.warn("count_mismatch", ctx.offset, Some(ctx.origin.frame), || {
                    format!(
                        "{}: NetFlow v9 header says {count} record(s), the message holds {held} in {sets} set(s); all read",
                        describe(exporter)
                    )
                });
            }
        }
    }

    /// Reads a template set; returns how many templates it held.
    fn template_set(&mut self, set: &Set<'_>, scope: Scope, ctx: &Ctx) -> usize {
        let mut defs = std::mem::take(&mut self.defs);
        defs.clear();
        let r = netflow::templates(ctx.version.into(), set, wanted, &mut defs);
        let n = defs.len();
        for d in defs.drain(..) {
            match d {
                TemplateDef::Define(id, t) => {
                    // The message's scope was touched before its sets were
                    // read; were it gone, there is nothing to define in.
                    let Some(st) = self.scopes.get_mut(&scope) else {
                        continue;
                    };
                    if st.templates.len() >= MAX_TEMPLATES_PER_SCOPE
                        && !st.templates.contains_key(&id)
                    {
                        let e = netflow::WireError {
                            at: set.at,
                            what: format!(
                                "template {id}: more than {MAX_TEMPLATES_PER_SCOPE} templates from one exporter and observation domain; not kept"
                            ),
                        };
                        self.bad(ctx, e);
                        continue;
                    }
                    st.templates.insert(id, t);
                    self.replay(scope, id);
                }
                TemplateDef::Withdraw(id) => {
                    let Some(st) = self.scopes.get_mut(&scope) else {
                        continue;
                    };
                    match id {
                        2 => st.templates.retain(|_, t| t.scope_fields > 0),
                        3 => st.templates.retain(|_, t| t.scope_fields == 0),
                        _ => {
                            st.templates.remove(&id);
                        }
                    }
                }
            }
        }
        self.defs = defs;
        if let Err(e) = r {
            self.bad(ctx, e);
        }
        n
    }

    /// Decodes the data sets that were waiting for template `id`.
    fn replay(&mut self, scope: Scope, id: u16) {
        let Some(st) = self.scopes.get_mut(&scope) else {
            return;
        };
        if !st.pending.iter().any(|p| p.template == id) {
            return;
        }
        let (ready, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut st.pending)
            .into_iter()
            .partition(|p| p.template == id);
        st.pending = waiting;
        for p in ready {
            self.pending_bytes -= p.body.len();
            let set = Set {
                id,
                at: p.at,
                body: &p.body,
            };
            let input = std::mem::replace(&mut self.input, p.ctx.origin.input);
            self.stats().data_replayed += 1;
            self.data_set(&set, scope, &p.ctx);
            self.input = input;
        }
    }

    /// Reads a data set; returns how many records it held, `None` when
    /// it waits for its template.
    fn data_set(&mut self, set: &Set<'_>, scope: Scope, ctx: &Ctx) -> Option<usize> {
        // A scope forgotten since its message was read has no templates.
        let Some(st) = self.scopes.get_mut(&scope) else {
            return Some(0);
        };
        let Some(t) = st.templates.get(&set.id) else {
            if st.pending.len() < MAX_PENDING_SETS_PER_SCOPE
                && self.pending_bytes + set.body.len() <= MAX_PENDING_BYTES
            {
                self.pending_bytes += set.body.len();
                st.pending.push(Pending {
                    template: set.id,
                    at: set.at,
                    body: set.body.into(),
                    ctx: *ctx,
                });
            } else {
                self.stats().data_without_template += 1;
                let (exporter, domain, id) = (ctx.exporter, ctx.domain, set.id);
                self.warn("data_without_template", ctx.offset, Some(ctx.origin.frame), || {
                    format!(
                        "{}, observation domain {domain}: data for template {id} before the template, and the waiting room (bounded) is full; not read",
                        describe(exporter)
                    )
                });
            }
            return None;
        };
        let mut recs = std::mem::take(&mut self.scratch);
        recs.clear();
        let r = t.records(set, &mut recs, RawRecord::take);
        if t.scope_fields > 0 {
            for rec in &recs {
                if let Some(n) = rec.sampling.filter(|&n| n > 1) {
                    st.sampling = Some(n);
                }
                if let Some(t) = rec.sys_init {
                    st.sys_init = Some(t);
                }
            }
        } else {
            let (sampling, sys_init) = (st.sampling, st.sys_init);
            self.stats().records += recs.len() as u64;
            for rec in &recs {
                self.record(rec, ctx, sampling, sys_init);
            }
        }
        let n = recs.len();
        self.scratch = recs;
        if let Err(e) = r {
            self.bad(ctx, e);
        }
        Some(n)
    }

    fn v5(&mut self, msg: &[u8], ctx: &Ctx) {
        let (h, recs, cut) = match netflow::v5(msg) {
            Ok(x) => x,
            Err(e) => return self.bad(ctx, e),
        };
        let export = Ts::from_parts(i64::from(h.unix_secs), h.unix_nsecs.min(999_999_999));
        let sampling = u32::from(h.sampling_interval);
        let mut records = 0;
        for r in recs {
            records += 1;
            if r.proto != 6 {
                continue;
            }
            if r.flags & TCP_SYN == 0 {
                self.stats().continuation_records += 1;
                continue;
            }
            let start = uptime_to_utc(export, h.sys_up_time_ms, r.first_ms);
            let end = uptime_to_utc(export, h.sys_up_time_ms, r.last_ms);
            self.tcp_record(TcpFlow {
                start,
                tuple: FiveTuple::tcp(
                    IpAddr::V4(Ipv4Addr::from(r.src)),
                    r.sport,
                    IpAddr::V4(Ipv4Addr::from(r.dst)),
                    r.dport,
                ),
                flags: r.flags,
                reverse: None,
                info: FlowInfo {
                    version: 5,
                    packets: u64::from(r.packets),
                    bytes: u64::from(r.bytes),
                    duration_ms: end.0.saturating_sub(start.0).max(0) as u64 / 1_000_000,
                    exporter: ctx.exporter.map(|e| e.0),
                    observation_domain: 0,
                    in_if: Some(u32::from(r.in_if)),
                    out_if: Some(u32::from(r.out_if)),
                    sampling: (sampling > 1).then_some(sampling),
                },
                origin: ctx.origin,
            });
        }
        self.stats().records += records;
        if let Some(e) = cut {
            self.bad(ctx, e);
        }
    }

    /// One data record (v9 or IPFIX).
    fn record(&mut self, r: &RawRecord, ctx: &Ctx, sampling: Option<u32>, sys_init: Option<Ts>) {
        if r.proto != Some(6) {
            return;
        }
        let (Some(src), Some(dst)) = (r.src, r.dst) else {
            return;
        };
        let Some(flags) = r.flags else {
            self.stats().tcp_records_without_flags += 1;
            return;
        };
        // A one-way record without SYN continues a long flow: counted, not
        // built (a biflow's other half may have the SYN, below).
        if flags & TCP_SYN == 0 && r.rev_packets.is_none() && r.rev_flags.is_none() {
            self.stats().continuation_records += 1;
            return;
        }
        let (start, end) = r.times(ctx, sys_init);
        let sampling = r.sampling.or(sampling);
        let mut flow = TcpFlow {
            start,
            tuple: FiveTuple::tcp(src, r.sport.unwrap_or(0), dst, r.dport.unwrap_or(0)),
            flags,
            reverse: (r.rev_packets.is_some() || r.rev_flags.is_some())
                .then(|| (r.rev_packets.unwrap_or(0), r.rev_flags.unwrap_or(0))),
            info: FlowInfo {
                version: ctx.version,
                packets: r.packets.unwrap_or(0),
                bytes: r.bytes.unwrap_or(0),
                duration_ms: end.0.saturating_sub(start.0).max(0) as u64 / 1_000_000,
                exporter: ctx.exporter.map(|e| e.0),
                observation_domain: ctx.domain,
                in_if: r.in_if,
                out_if: r.out_if,
                sampling: sampling.filter(|&s| s > 1),
            },
            origin: ctx.origin,
        };
        if let Some((rp, rf)) = flow.reverse {
            // RFC 5103 biflowDirection 2: the reverse direction initiated.
            // Without it, some exporters (softflowd) order a biflow's ends
            // by address: tell the initiator by the handshake flags, or
            // failing that by which end looks like a service port.
            let reverse_started = match r.biflow_direction {
                Some(d) => d == 2,
                None => reverse_initiated(&flow, rp, rf),
            };
            if reverse_started {
                if r.biflow_direction.is_none() {
                    self.stats().biflows_reoriented += 1;
                }
                flow.reverse = Some((flow.info.packets, flow.flags));
                flow.tuple = flow.tuple.reversed();
                flow.flags = rf;
                flow.info.packets = rp;
                flow.info.bytes = r.rev_bytes.unwrap_or(0);
                std::mem::swap(&mut flow.info.in_if, &mut flow.info.out_if);
            }
        }
        self.tcp_record(flow);
    }

    fn tcp_record(&mut self, flow: TcpFlow) {
        if flow.flags & TCP_SYN == 0 {
            self.stats().continuation_records += 1;
            return;
        }
        self.stats().syn_records += 1;
        self.flows.push(flow);
    }

    /// Ends the run: counts data still waiting for a template, pairs the
    /// one-way records and returns the attempts, and per input what was
    /// read and the warnings.
    pub fn finish(mut self) -> (Vec<Attempt>, BTreeMap<u32, (FlowStats, Warnings)>) {
        self.count_waiting();
        let per_input = &mut self.per_input;
        let (attempts, _) = pair(
            self.flows,
            |input, what| per_input.entry(input).or_default().0.paired(what),
            |_| true,
            |_| true,
        );
        (attempts, self.per_input)
    }

    /// Counts the data sets still waiting for their template (under
    /// `data_without_template`, with a warning per scope): at the end of a
    /// run, or when a collector stops.
    pub fn count_waiting(&mut self) {
        let mut scopes: Vec<_> = self.scopes.iter().collect();
        scopes.sort_by_key(|(k, _)| **k);
        for (scope, st) in scopes {
            let waiting = st.pending.len() as u64;
            if waiting == 0 {
                continue;
            }
            let (stats, warnings) = self.per_input.entry(st.input).or_default();
            stats.data_without_template += waiting;
            if warnings.wants("data_without_template") {
                let (exporter, port, _, domain) = scope;
                let from = describe(exporter.map(|e| (e, *port)));
                let mut ids: Vec<u16> = st.pending.iter().map(|p| p.template).collect();
                ids.sort_unstable();
                ids.dedup();
                warnings.push(Warning {
                    reason: "data_without_template",
                    offset: st.pending[0].ctx.offset,
                    frame: Some(st.pending[0].ctx.origin.frame),
                    message: format!(
                        "{from}, observation domain {domain}: {waiting} data set(s) never got their template (template ID {ids:?}); their flows are not read"
                    ),
                });
            }
        }
    }

    /// For a live collector: pairs the SYN records read so far and returns
    /// the attempts of those that are ready, holding the rest for the next
    /// call. `arrived` says which records have been here long enough for
    /// the other half of their connection to come in the usual case (the
    /// same export cycle); a record paired with an arrived one goes with
    /// it. A record still alone waits until `settled` too when it may yet
    /// get a partner (it saw an ACK: the connection got an answer, whose
    /// record another exporter or a later cache flush may still bring);
    /// a SYN without ACK, or a biflow, has none to wait for. Taken alone
    /// too early, a responder's record would be an attempt from the server
    /// to the client's ephemeral port. Attempts come in (time, origin,
    /// tuple) order.
    pub fn take_attempts(
        &mut self,
        arrived: impl Fn(Origin) -> bool,
        settled: impl Fn(Origin) -> bool,
    ) -> Vec<Attempt> {
        let flows = std::mem::take(&mut self.flows);
        let per_input = &mut self.per_input;
        let (attempts, held) = pair(
            flows,
            |input, what| per_input.entry(input).or_default().0.paired(what),
            |f| arrived(f.origin),
            |f| f.reverse.is_some() || f.flags & TCP_ACK == 0 || settled(f.origin),
        );
        self.flows = held;
        attempts
    }

    /// SYN records read and not yet taken as attempts.
    pub fn held_records(&self) -> usize {
        self.flows.len()
    }

    /// What was read from `input` so far.
    pub fn input_stats(&self, input: u32) -> FlowStats {
        self.per_input
            .get(&input)
            .map(|(s, _)| s.clone())
            .unwrap_or_default()
    }

    /// The warnings kept since the last call, and the counts of those not
    /// kept; the per-reason bound starts again (a collector that runs for
    /// days prints a few of each reason per interval, not five in all).
    pub fn take_warnings(&mut self, input: u32) -> Warnings {
        self.per_input
            .get_mut(&input)
            .map(|(_, w)| std::mem::take(w))
            .unwrap_or_default()
    }
}

/// Who sent a message, for warnings.
fn describe(exporter: Option<(IpAddr, u16)>) -> String {
    exporter.map_or_else(|| "file".to_string(), |(a, p)| format!("exporter {a}:{p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v5(count: u16) -> Vec<u8> {
        let mut d = vec![0u8; 24 + 48 * usize::from(count)];
        d[1] = 5;
        d[2..4].copy_from_slice(&count.to_be_bytes());
        d
    }

    #[test]
    fn v5_files_split_and_bad_headers_say_why() {
        let mut f = v5(2);
        f.extend(v5(1));
        let s = split_messages(&f).unwrap();
        assert_eq!(s.messages, vec![(0, 120), (120, 72)]);
        assert!(s.cut.is_none());
        f.truncate(150);
        let s = split_messages(&f).unwrap();
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.cut.as_ref().unwrap().0, 120);
        let mut bad = v5(1);
        bad[2..4].copy_from_slice(&500u16.to_be_bytes());
        let s = split_messages(&bad).unwrap();
        assert!(s.cut.unwrap().1.contains("500 records"));
        assert!(split_messages(b"not an export at all").is_none());
    }

    #[test]
    fn export_sniffing_is_strict_off_the_collector_ports() {
        assert!(looks_like_export(&v5(3), false));
        let mut odd = v5(3);
        odd.push(0);
        assert!(!looks_like_export(&odd, false));
        assert!(looks_like_export(&odd, true));
        assert!(!looks_like_export(&[0, 5, 0, 1], true));
    }

    #[test]
    fn uptime_times_wrap() {
        let export = Ts(1_000 * Ts::NANOS_PER_SEC);
        assert_eq!(
            uptime_to_utc(export, 5_000, 4_000),
            Ts(999 * Ts::NANOS_PER_SEC)
        );
        // The uptime wrapped between the flow's start and the export.
        let t = uptime_to_utc(export, 1_000, u32::MAX - 999);
        assert_eq!(t, Ts(998 * Ts::NANOS_PER_SEC));
    }

    fn flow(src: &str, sport: u16, dst: &str, dport: u16, start_s: i64, flags: u8) -> TcpFlow {
        TcpFlow {
            start: Ts(start_s * Ts::NANOS_PER_SEC),
            tuple: FiveTuple::tcp(src.parse().unwrap(), sport, dst.parse().unwrap(), dport),
            flags,
            reverse: None,
            info: FlowInfo::default(),
            origin: Origin { input: 0, frame: 1 },
        }
    }

    #[test]
    fn one_way_records_pair_with_the_initiator_as_source() {
        let mut responders = 0;
        let (a, held) = pair(
            vec![
                // Responder's record first in the file, initiator started earlier.
                flow("203.0.113.9", 4444, "10.0.0.5", 50000, 11, 0x12),
                flow("10.0.0.5", 50000, "203.0.113.9", 4444, 10, 0x1a),
                // An unanswered SYN-only attempt.
                flow("10.0.0.6", 50001, "203.0.113.9", 9001, 12, 0x02),
            ],
            |_, what| responders += u32::from(what == Paired::Responder),
            |_| true,
            |_| true,
        );
        assert!(held.is_empty());
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].tuple.dport, 4444);
        assert!(a[0].answered);
        assert_eq!(a[1].tuple.dport, 9001);
        assert!(!a[1].answered);
        assert_eq!(responders, 1);
    }

    #[test]
    fn a_v9_count_that_fits_no_reading_is_said_and_the_records_read() {
        use crate::testkit::synth::{Exporter, FlowRec};
        let rec = FlowRec {
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_000_500,
            src: "10.0.0.5".parse().unwrap(),
            sport: 50_000,
            dst: "203.0.113.9".parse().unwrap(),
            dport: 4444,
            proto: 6,
            tcp_flags: 0x02,
            packets: 1,
            bytes: 60,
            in_if: 1,
            out_if: 2,
        };
        let mut ex = Exporter::new(9, 7, 1_699_999_000_000);
        let tpl = ex.templates(1_700_000_001_000);
        let data = ex.data(1_700_000_001_000, &[rec, rec]);
        let mut forged = data.clone();
        forged[2..4].copy_from_slice(&99u16.to_be_bytes());
        let mut r = FlowReader::default();
        r.begin_input(0);
        for (i, m) in [&tpl, &data, &forged].into_iter().enumerate() {
            r.message(m, None, 0, i as u64 + 1);
        }
        let (attempts, per_input) = r.finish();
        let (stats, warnings) = &per_input[&0];
        assert_eq!(stats.count_mismatch, 1);
        assert_eq!(stats.records, 4, "the forged message is read all the same");
        assert_eq!(attempts.len(), 4);
        assert!(warnings.kept[0].message.contains("says 99 record(s)"));
        assert_eq!(warnings.kept[0].frame, Some(3));
    }

    /// Pairs `records` with everything arrived; the attempts' (src, sport,
    /// dport) and how many ties were counted.
    fn paired(records: Vec<TcpFlow>) -> (Vec<(String, u16, u16)>, u32) {
        let mut ties = 0;
        let (a, held) = pair(
            records,
            |_, what| ties += u32::from(what == Paired::Tie),
            |_| true,
            |_| true,
        );
        assert!(held.is_empty());
        let a = a
            .iter()
            .map(|a| (a.tuple.src.to_string(), a.tuple.sport, a.tuple.dport))
            .collect();
        (a, ties)
    }

    fn at_ms(mut f: TcpFlow, ms: i64) -> TcpFlow {
        f.start = Ts(ms * 1_000_000);
        f
    }

    #[test]
    fn ties_are_decided_by_flags_and_ports_never_by_record_order() {
        // A LAN handshake in one millisecond: both records start at the
        // same time with the same cumulative flags (SYN, ACK, PSH, FIN).
        let client = at_ms(flow("10.0.0.5", 50000, "10.0.0.9", 8443, 0, 0x1b), 5);
        let server = at_ms(flow("10.0.0.9", 8443, "10.0.0.5", 50000, 0, 0x1b), 5);
        let want = vec![("10.0.0.5".to_string(), 50000, 8443)];
        assert_eq!(
            paired(vec![client.clone(), server.clone()]),
            (want.clone(), 1)
        );
        assert_eq!(
            paired(vec![server.clone(), client.clone()]),
            (want.clone(), 1)
        );
        // Exporter jitter: the responder's record a millisecond earlier.
        let early = at_ms(server.clone(), 4);
        assert_eq!(
            paired(vec![early.clone(), client.clone()]),
            (want.clone(), 1)
        );
        assert_eq!(paired(vec![client.clone(), early]), (want, 1));
        // Two millisecond apart is no tie: time decides.
        let earlier = at_ms(server, 3);
        assert_eq!(
            paired(vec![client, earlier]),
            (vec![("10.0.0.9".to_string(), 8443, 50000)], 0)
        );
        // Flags before ports: a SYN without ACK is the initiator's record
        // even from the lower port (the answer holds SYN and ACK).
        let syn = at_ms(flow("10.0.0.5", 2000, "10.0.0.9", 40000, 0, 0x02), 7);
        let syn_ack = at_ms(flow("10.0.0.9", 40000, "10.0.0.5", 2000, 0, 0x12), 7);
        let want = vec![("10.0.0.5".to_string(), 2000, 40000)];
        assert_eq!(
            paired(vec![syn_ack.clone(), syn.clone()]),
            (want.clone(), 1)
        );
        assert_eq!(paired(vec![syn, syn_ack]), (want, 1));
    }

    #[test]
    fn records_not_ready_wait_unless_their_other_half_is_ready() {
        let mut responders = 0;
        let mut late = flow("203.0.113.9", 4444, "10.0.0.5", 50000, 11, 0x12);
        late.origin.frame = 9;
        let mut unready = flow("10.0.0.6", 50001, "203.0.113.9", 9001, 12, 0x02);
        unready.origin.frame = 9;
        let (a, held) = pair(
            vec![
                late,
                flow("10.0.0.5", 50000, "203.0.113.9", 4444, 10, 0x1a),
                unready,
            ],
            |_, what| responders += u32::from(what == Paired::Responder),
            |f| f.origin.frame < 5,
            |_| true,
        );
        // The responder's record arrived late but goes with its initiator.
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].tuple.dport, 4444);
        assert!(a[0].answered);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].tuple.dport, 9001);
        assert_eq!(responders, 1);
    }

    #[test]
    fn a_lone_answered_record_waits_for_its_other_half() {
        // The responder's record (SYN+ACK from the server) arrives first;
        // the initiator's comes from another exporter two intervals later.
        let mut r = FlowReader::default();
        r.begin_input(0);
        let mut resp = flow("203.0.113.9", 443, "198.51.100.5", 50000, 10, 0x12);
        resp.origin.frame = 1;
        let mut unanswered = flow("198.51.100.6", 50001, "203.0.113.9", 9001, 10, 0x02);
        unanswered.origin.frame = 1;
        r.flows = vec![resp, unanswered];
        let first = r.take_attempts(|o| o.frame <= 1, |_| false);
        // The SYN without an answer has nothing to wait for.
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].tuple.dport, 9001);
        assert_eq!(r.held_records(), 1);
        let mut init = flow("198.51.100.5", 50000, "203.0.113.9", 443, 9, 0x1a);
        init.origin.frame = 2;
        r.flows.push(init);
        let second = r.take_attempts(|o| o.frame <= 2, |_| false);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].tuple.src.to_string(), "198.51.100.5");
        assert_eq!(second[0].tuple.dport, 443);
        assert!(second[0].answered);
        // Alone for good: taken once settled, as the record says.
        let mut late = flow("203.0.113.7", 443, "198.51.100.8", 50002, 20, 0x12);
        late.origin.frame = 3;
        r.flows.push(late);
        assert!(r.take_attempts(|_| true, |o| o.frame < 3).is_empty());
        assert_eq!(r.take_attempts(|_| true, |_| true).len(), 1);
    }
}
