//! Flow exports (NetFlow v5/v9, IPFIX) to connection attempts.
//!
//! Most networks keep flows, not packets. A flow record that says "TCP, SYN
//! seen" is the same evidence as a SYN in a capture, so this module turns
//! export datagrams — found inside captures (UDP to a collector) or read from
//! files of raw messages (RFC 5655 IPFIX files, single datagrams) — into the
//! same [`Attempt`]s the packet path builds, carrying what flows know beyond
//! packets (counts, duration, exporter, interfaces, sampling).
//!
//! Decoding is netflow_parser's; this module adds what a forensic reader
//! needs around it (DETECTION.md §2): template caches per exporter and
//! observation domain (template IDs collide across routers), data kept until
//! its template comes (bounded), exporter-uptime times converted to UTC,
//! RFC 5103 biflows, and the pairing of the two one-way records of one
//! connection so that the initiator is the source.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use hashbrown::HashMap;
use netflow_parser::static_versions::v5::V5;
use netflow_parser::variable_versions::data_number::{DataNumber, FieldValue};
use netflow_parser::variable_versions::ipfix::{FlowSetBody as IpfixBody, IPFix};
use netflow_parser::variable_versions::ipfix_lookup::{
    IANAIPFixField, IPFixField, ReverseInformationElement,
};
use netflow_parser::variable_versions::v9::{FlowSetBody as V9Body, V9FlowRecord, V9};
use netflow_parser::{NetflowPacket, NetflowParser, PendingFlowsConfig};

use crate::decode::{TCP_ACK, TCP_SYN};
use crate::event::{Attempt, FiveTuple, FlowInfo, Origin, Proto, Ts};
use crate::stats::{Warning, Warnings};

/// UDP ports flow collectors usually listen on. Datagrams to these ports
/// need only a plausible version number to be read as exports; on any other
/// port the whole header must check out.
pub const COLLECTOR_PORTS: [u16; 4] = [2055, 4739, 9995, 9996];

/// The most template scopes (exporter, port, version, observation domain)
/// kept at once. Past it, datagrams from new scopes are not decoded and are
/// counted under `too_many_exporters`: thousands of spoofed exporters cannot
/// grow memory without bound.
pub const MAX_SCOPES: usize = 4096;

/// Templates kept per scope (netflow_parser's LRU cache size).
pub const MAX_TEMPLATES_PER_SCOPE: usize = 512;

/// Data sets kept per scope while their template has not arrived, and how
/// many per template ID.
pub const MAX_PENDING_TEMPLATES: usize = 64;
pub const MAX_PENDING_PER_TEMPLATE: usize = 256;

/// Two one-way records of one connection start within this of each other.
pub const PAIR_WINDOW: Ts = Ts(60 * Ts::NANOS_PER_SEC);

/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// IANA private enterprise number of RFC 5103 reverse information elements.
const REVERSE_PEN: u32 = 29305;

/// One export datagram found in a capture, its bytes in an arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRef {
    pub exporter: IpAddr,
    pub exporter_port: u16,
    pub frame: u64,
    /// Where the packet record starts in the capture, for messages.
    pub offset: u64,
    /// Where the datagram's bytes are in the arena.
    pub start: usize,
    pub len: usize,
}

/// Is `p` plausibly a NetFlow v5/v9 or IPFIX message? On a collector port
/// the version alone decides; elsewhere the header must be consistent.
pub fn looks_like_export(p: &[u8], on_collector_port: bool) -> bool {
    let Some(version) = be16(p, 0) else {
        return false;
    };
    if on_collector_port {
        return matches!(version, 5 | 7 | 9 | 10) && p.len() >= 16;
    }
    match version {
        5 => {
            let count = usize::from(be16(p, 2).unwrap_or(0));
            (1..=30).contains(&count) && p.len() == 24 + 48 * count
        }
        9 => {
            let (Some(count), Some(id), Some(len)) = (be16(p, 2), be16(p, 20), be16(p, 22)) else {
                return false;
            };
            count >= 1 && (id <= 1 || id >= 256) && len >= 4 && usize::from(len) <= p.len() - 20
        }
        10 => {
            let (Some(total), Some(id), Some(len)) = (be16(p, 2), be16(p, 16), be16(p, 18)) else {
                return false;
            };
            usize::from(total) == p.len()
                && (id == 2 || id == 3 || id >= 256)
                && len >= 4
                && usize::from(len) <= p.len() - 16
        }
        _ => false,
    }
}

/// How a file of export messages splits into messages.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    /// (offset, length) of each whole message.
    pub messages: Vec<(usize, usize)>,
    /// Where framing stopped before the end of the file, and why.
    pub cut: Option<(usize, String)>,
}

/// Splits a file of raw export messages into messages: IPFIX messages
/// back to back (RFC 5655), NetFlow v5 datagrams back to back, or one v9
/// datagram (v9 has no length field: the file is one message). `None` when
/// the file does not start with a NetFlow v5/v9 or IPFIX version number.
pub fn split_messages(data: &[u8]) -> Option<Split> {
    let version = be16(data, 0)?;
    if version == 9 {
        return looks_like_export(data, false).then(|| Split {
            messages: vec![(0, data.len())],
            cut: None,
        });
    }
    if version != 5 && version != 10 {
        return None;
    }
    let mut messages = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let why = match (be16(data, at), be16(data, at + 2)) {
            (Some(v), _) if v != version => {
                format!("version {v} where a version {version} message should start")
            }
            (_, None) => "message header cut short".to_string(),
            (_, Some(n)) => {
                let len = if version == 10 {
                    usize::from(n)
                } else {
                    24 + 48 * usize::from(n)
                };
                if (version == 10 && len < 16) || (version == 5 && !(1..=30).contains(&n)) {
                    if version == 5 {
                        format!("NetFlow v5 header claims {n} records (1 to 30 fit a datagram)")
                    } else {
                        format!("IPFIX message length {n} is shorter than its header")
                    }
                } else if at + len > data.len() {
                    format!(
                        "message of {len} bytes runs past the end of the file ({} bytes left)",
                        data.len() - at
                    )
                } else {
                    messages.push((at, len));
                    at += len;
                    continue;
                }
            }
        };
        return Some(Split {
            messages,
            cut: Some((at, why)),
        });
    }
    Some(Split {
        messages,
        cut: None,
    })
}

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
    /// Data sets that waited for their template and were decoded when it
    /// came.
    pub data_replayed: u64,
    /// Data sets whose template never came (or that the pending bound
    /// dropped).
    pub data_without_template: u64,
    /// Messages that did not decode (bad version, bad template, cut).
    pub bad_messages: u64,
    /// Datagrams from scopes past [`MAX_SCOPES`].
    pub too_many_exporters: u64,
}

/// A TCP flow record, reduced to what portent uses.
#[derive(Clone, Debug)]
struct TcpFlow {
    start: Ts,
    tuple: FiveTuple,
    flags: u8,
    /// RFC 5103 biflow: the reverse direction's packets and flags.
    reverse: Option<(u64, u8)>,
    info: FlowInfo,
    origin: Origin,
}

/// Template scope: templates are only valid for one exporter (address and
/// port), one protocol version and one observation domain.
type Scope = (Option<IpAddr>, u16, u16, u32);

/// Decodes the export messages of a run, input after input in the order
/// given: templates carry over from one input to the next, so a template
/// datagram saved in one file decodes the data saved in the next.
pub struct FlowReader {
    input: u32,
    scopes: HashMap<Scope, NetflowParser>,
    /// The last input that sent to each scope (data still waiting for a
    /// template at the end is counted there).
    scope_input: HashMap<Scope, u32>,
    /// Sampling interval announced in options data, per scope.
    sampling: HashMap<Scope, u32>,
    flows: Vec<TcpFlow>,
    /// Per input: what was read, and the warnings.
    per_input: BTreeMap<u32, (FlowStats, Warnings)>,
}

impl Default for FlowReader {
    fn default() -> Self {
        FlowReader {
            input: 0,
            scopes: HashMap::new(),
            scope_input: HashMap::new(),
            sampling: HashMap::new(),
            flows: Vec::new(),
            per_input: BTreeMap::new(),
        }
    }
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
        }
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
        let Some(version) = be16(msg, 0) else {
            return;
        };
        let domain = match version {
            9 => be32(msg, 16).unwrap_or(0),
            10 => be32(msg, 12).unwrap_or(0),
            _ => 0,
        };
        if !matches!(version, 5 | 9 | 10) {
            self.stats().bad_messages += 1;
            self.warn("bad_flow_message", offset, Some(frame), || {
                format!(
                    "{}: NetFlow version {version} is not read (5, 9 and IPFIX are)",
                    describe(exporter)
                )
            });
            return;
        }
        let scope: Scope = (
            exporter.map(|e| e.0),
            exporter.map_or(0, |e| e.1),
            version,
            domain,
        );
        if !self.scopes.contains_key(&scope) {
            if self.scopes.len() >= MAX_SCOPES {
                self.stats().too_many_exporters += 1;
                self.warn("too_many_exporters", offset, Some(frame), || {
                    format!(
                        "{}: more than {MAX_SCOPES} exporters and observation domains; not decoded",
                        describe(exporter)
                    )
                });
                return;
            }
            let pending = PendingFlowsConfig {
                max_pending_flows: MAX_PENDING_TEMPLATES,
                max_entries_per_template: MAX_PENDING_PER_TEMPLATE,
                ..PendingFlowsConfig::default()
            };
            let parser = NetflowParser::builder()
                .with_cache_size(MAX_TEMPLATES_PER_SCOPE)
                .with_pending_flows(pending)
                .build()
                .expect("static parser configuration is valid");
            self.scopes.insert(scope, parser);
        }
        self.scope_input.insert(scope, self.input);
        let parser = self.scopes.get_mut(&scope).expect("inserted above");
        let result = parser.parse_bytes(msg);
        let origin = Origin {
            input: self.input,
            frame,
        };
        for packet in result.packets {
            match packet {
                NetflowPacket::V5(v5) => self.v5(&v5, exporter, domain, origin),
                NetflowPacket::V9(v9) => self.v9(&v9, scope, exporter, origin),
                NetflowPacket::IPFix(ipfix) => self.ipfix(&ipfix, scope, exporter, origin),
                NetflowPacket::V7(_) => {}
            }
        }
        if let Some(e) = result.error {
            self.stats().bad_messages += 1;
            self.warn("bad_flow_message", offset, Some(frame), || {
                format!("{}: {}", describe(exporter), error_text(&e))
            });
        }
    }

    /// A data set that came before its template and found the (bounded)
    /// waiting room full.
    fn dropped_data(&mut self, ctx: &Ctx, template_id: u16, frame: u64) {
        self.stats().data_without_template += 1;
        self.warn("data_without_template", 0, Some(frame), || {
            format!(
                "{}, observation domain {}: data for template {template_id} before the template, and the waiting room (bounded) is full; not read",
                describe(ctx.exporter),
                ctx.domain
            )
        });
    }

    fn v5(&mut self, v5: &V5, exporter: Option<(IpAddr, u16)>, domain: u32, origin: Origin) {
        let h = &v5.header;
        let export = Ts::from_parts(i64::from(h.unix_secs), h.unix_nsecs.min(999_999_999));
        let sampling = u32::from(h.sampling_interval & 0x3fff);
        for r in &v5.flowsets {
            self.stats().records += 1;
            if r.protocol_number != 6 {
                continue;
            }
            let start = uptime_to_utc(export, h.sys_up_time, r.first);
            let end = uptime_to_utc(export, h.sys_up_time, r.last);
            self.tcp_record(TcpFlow {
                start,
                tuple: FiveTuple {
                    src: IpAddr::V4(r.src_addr),
                    sport: r.src_port,
                    dst: IpAddr::V4(r.dst_addr),
                    dport: r.dst_port,
                    proto: Proto::Tcp,
                },
                flags: r.tcp_flags,
                reverse: None,
                info: FlowInfo {
                    version: 5,
                    packets: u64::from(r.d_pkts),
                    bytes: u64::from(r.d_octets),
                    duration_ms: end.0.saturating_sub(start.0).max(0) as u64 / 1_000_000,
                    exporter: exporter.map(|e| e.0),
                    observation_domain: domain,
                    in_if: Some(u32::from(r.input)),
                    out_if: Some(u32::from(r.output)),
                    sampling: (sampling > 1).then_some(sampling),
                },
                origin,
            });
        }
    }

    fn v9(&mut self, v9: &V9, scope: Scope, exporter: Option<(IpAddr, u16)>, origin: Origin) {
        let h = &v9.header;
        let export = Ts::from_parts(i64::from(h.unix_secs), 0);
        let ctx = Ctx {
            version: 9,
            export,
            sys_up_time_ms: Some(h.sys_up_time),
            exporter,
            domain: h.source_id,
        };
        for fs in &v9.flowsets {
            match &fs.body {
                V9Body::Data(d) => self.v9_records(&d.fields, &ctx, scope, origin),
                V9Body::OptionsData(d) => {
                    for rec in &d.fields {
                        for opts in &rec.options_fields {
                            let fields = opts.iter().map(|(f, v)| (Field::Iana(*f as u16), v));
                            self.options(fields, scope);
                        }
                    }
                }
                V9Body::NoTemplate(info) => self.dropped_data(&ctx, info.template_id, origin.frame),
                _ => {}
            }
        }
    }

    fn ipfix(&mut self, m: &IPFix, scope: Scope, exporter: Option<(IpAddr, u16)>, origin: Origin) {
        let h = &m.header;
        let ctx = Ctx {
            version: 10,
            export: Ts::from_parts(i64::from(h.export_time), 0),
            sys_up_time_ms: None,
            exporter,
            domain: h.observation_domain_id,
        };
        for fs in &m.flowsets {
            match &fs.body {
                IpfixBody::Data(d) => {
                    for rec in &d.fields {
                        self.record(
                            rec.iter().map(|(f, v)| (ipfix_field(f), v)),
                            &ctx,
                            scope,
                            origin,
                        );
                    }
                }
                IpfixBody::V9Data(d) => self.v9_records(&d.fields, &ctx, scope, origin),
                IpfixBody::OptionsData(d) => {
                    for rec in &d.fields {
                        self.options(rec.iter().map(|(f, v)| (ipfix_field(f), v)), scope);
                    }
                }
                IpfixBody::NoTemplate(info) => {
                    self.dropped_data(&ctx, info.template_id, origin.frame)
                }
                _ => {}
            }
        }
    }

    /// Data records laid out by a NetFlow v9 template (also inside IPFIX).
    fn v9_records(&mut self, recs: &[V9FlowRecord], ctx: &Ctx, scope: Scope, origin: Origin) {
        for rec in recs {
            let fields = rec.iter().map(|(f, v)| (Field::Iana(*f as u16), v));
            self.record(fields, ctx, scope, origin);
        }
    }

    /// Options data: keeps the sampling interval the exporter announces.
    fn options<'v>(&mut self, fields: impl Iterator<Item = (Field, &'v FieldValue)>, scope: Scope) {
        for (f, v) in fields {
            if let Field::Iana(34 | 305 | 50) = f {
                if let Some(n) = number(v).filter(|&n| n > 1 && n <= u64::from(u32::MAX)) {
                    self.sampling.insert(scope, n as u32);
                }
            }
        }
    }

    /// One data record (v9 or IPFIX).
    fn record<'v>(
        &mut self,
        fields: impl Iterator<Item = (Field, &'v FieldValue)>,
        ctx: &Ctx,
        scope: Scope,
        origin: Origin,
    ) {
        self.stats().records += 1;
        let mut r = RawRecord::default();
        for (f, v) in fields {
            r.take(f, v);
        }
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
        let (start, end) = r.times(ctx);
        let sampling = r.sampling.or_else(|| self.sampling.get(&scope).copied());
        let mut flow = TcpFlow {
            start,
            tuple: FiveTuple {
                src,
                sport: r.sport.unwrap_or(0),
                dst,
                dport: r.dport.unwrap_or(0),
                proto: Proto::Tcp,
            },
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
            origin,
        };
        // RFC 5103 biflowDirection 2: the reverse direction initiated.
        if r.biflow_direction == Some(2) {
            if let Some((rp, rf)) = flow.reverse {
                flow.reverse = Some((flow.info.packets, flow.flags));
                flow.tuple = flow.tuple.reversed();
                flow.flags = rf;
                flow.info.packets = rp;
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
        let mut scopes: Vec<_> = self.scopes.iter().collect();
        scopes.sort_by_key(|(k, _)| **k);
        for (scope, p) in scopes {
            let waiting =
                (p.v9_parser.pending_flow_count() + p.ipfix_parser.pending_flow_count()) as u64;
            let replayed = p.v9_parser.metrics.pending_replayed.load(Ordering::Relaxed)
                + p.ipfix_parser
                    .metrics
                    .pending_replayed
                    .load(Ordering::Relaxed);
            let Some(input) = self.scope_input.get(scope) else {
                continue;
            };
            let (stats, warnings) = self.per_input.entry(*input).or_default();
            stats.data_replayed += replayed;
            stats.data_without_template += waiting;
            if waiting > 0 && warnings.wants("data_without_template") {
                let (exporter, port, _, domain) = scope;
                let from = describe(exporter.map(|e| (e, *port)));
                warnings.push(Warning {
                    reason: "data_without_template",
                    offset: 0,
                    frame: None,
                    message: format!(
                        "{from}, observation domain {domain}: {waiting} data set(s) never got their template; their flows are not read"
                    ),
                });
            }
        }
        let attempts = pair(self.flows, &mut self.per_input);
        (attempts, self.per_input)
    }
}

/// Pairs one-way records of the same connection (A→B and B→A, both with
/// SYN, starting within [`PAIR_WINDOW`]): the earlier one is the initiator
/// and is answered; the other is dropped. Equal start times: the record from
/// the higher (ephemeral) port is the initiator's.
fn pair(mut flows: Vec<TcpFlow>, stats: &mut BTreeMap<u32, (FlowStats, Warnings)>) -> Vec<Attempt> {
    flows.sort_by_key(|a| (a.start, a.tuple, a.origin));
    let mut by_tuple: BTreeMap<FiveTuple, Vec<usize>> = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        by_tuple.entry(f.tuple).or_default().push(i);
    }
    let mut responder = vec![false; flows.len()];
    let mut answered = vec![false; flows.len()];
    for (i, f) in flows.iter().enumerate() {
        if responder[i] || f.reverse.is_some() {
            continue;
        }
        let Some(cands) = by_tuple.get(&f.tuple.reversed()) else {
            continue;
        };
        let found = cands.iter().copied().find(|&j| {
            !responder[j]
                && !answered[j]
                && flows[j].start.abs_diff(f.start) <= PAIR_WINDOW.0 as u64
        });
        if let Some(j) = found {
            let g = &flows[j];
            let i_first =
                f.start < g.start || (f.start == g.start && f.tuple.sport > f.tuple.dport);
            let (init, resp) = if i_first { (i, j) } else { (j, i) };
            responder[resp] = true;
            answered[init] = true;
        }
    }
    let mut out = Vec::with_capacity(flows.len());
    for (i, f) in flows.into_iter().enumerate() {
        if responder[i] {
            stats
                .entry(f.origin.input)
                .or_default()
                .0
                .paired_responder_records += 1;
            continue;
        }
        let answered = answered[i]
            || f.flags & TCP_ACK != 0
            || f.reverse.is_some_and(|(p, fl)| p > 0 || fl & TCP_SYN != 0);
        out.push(Attempt {
            ts: f.start,
            tuple: f.tuple,
            answered,
            retransmits: 0,
            last_syn: f.start,
            bad_checksum: false,
            origin: f.origin,
            process: None,
            flow: Some(Box::new(f.info)),
        });
    }
    out.sort_by_key(|a| (a.ts, a.origin, a.tuple));
    out
}

/// An information element: IANA (and NetFlow v9, which shares the numbers
/// portent reads), RFC 5103 reverse, or another enterprise's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Iana(u16),
    Reverse(u16),
    Other,
}

/// The element numbers [`RawRecord::take`] reads.
const READ_IDS: [u16; 32] = [
    1, 2, 4, 6, 7, 8, 10, 11, 12, 14, 21, 22, 27, 28, 34, 50, 85, 86, 150, 151, 152, 153, 154, 155,
    156, 157, 158, 159, 160, 239, 305, 0,
];

/// netflow_parser names IPFIX elements by enum variant without giving the
/// number back; these maps recover the numbers portent reads.
fn iana_ids() -> &'static HashMap<IANAIPFixField, u16> {
    static M: OnceLock<HashMap<IANAIPFixField, u16>> = OnceLock::new();
    M.get_or_init(|| {
        READ_IDS
            .iter()
            .map(|&i| (IANAIPFixField::from(i), i))
            .collect()
    })
}

fn reverse_ids() -> &'static HashMap<ReverseInformationElement, u16> {
    static M: OnceLock<HashMap<ReverseInformationElement, u16>> = OnceLock::new();
    M.get_or_init(|| {
        READ_IDS
            .iter()
            .map(|&i| (ReverseInformationElement::from(i), i))
            .collect()
    })
}

fn ipfix_field(f: &IPFixField) -> Field {
    match f {
        IPFixField::IANA(IANAIPFixField::Unknown(n)) => Field::Iana(*n),
        IPFixField::IANA(x) => iana_ids().get(x).map_or(Field::Other, |&n| Field::Iana(n)),
        IPFixField::ReverseInformationElement(ReverseInformationElement::Unknown(n)) => {
            Field::Reverse(*n)
        }
        IPFixField::ReverseInformationElement(x) => reverse_ids()
            .get(x)
            .map_or(Field::Other, |&n| Field::Reverse(n)),
        IPFixField::Enterprise {
            enterprise_number: REVERSE_PEN,
            field_number,
        } => Field::Reverse(*field_number),
        _ => Field::Other,
    }
}

/// The header facts a record's times depend on.
struct Ctx {
    version: u8,
    export: Ts,
    /// NetFlow v9: the exporter's uptime at export, in ms.
    sys_up_time_ms: Option<u32>,
    exporter: Option<(IpAddr, u16)>,
    domain: u32,
}

/// The fields of one record portent reads.
#[derive(Default)]
struct RawRecord {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    proto: Option<u8>,
    flags: Option<u8>,
    packets: Option<u64>,
    bytes: Option<u64>,
    in_if: Option<u32>,
    out_if: Option<u32>,
    sampling: Option<u32>,
    rev_packets: Option<u64>,
    rev_flags: Option<u8>,
    biflow_direction: Option<u8>,
    /// Absolute start and end (IPFIX dateTime fields).
    abs_start: Option<Ts>,
    abs_end: Option<Ts>,
    /// Start and end in exporter uptime, ms (v9 FIRST/LAST_SWITCHED, IPFIX
    /// flowStart/EndSysUpTime).
    up_start: Option<u32>,
    up_end: Option<u32>,
    /// IPFIX systemInitTimeMilliseconds: when uptime was 0.
    sys_init: Option<Ts>,
    /// IPFIX flowStart/EndDeltaMicroseconds: before the export time.
    delta_start_us: Option<u64>,
    delta_end_us: Option<u64>,
}

impl RawRecord {
    fn take(&mut self, f: Field, v: &FieldValue) {
        match f {
            Field::Iana(id) => match id {
                8 | 27 => self.src = addr(v),
                12 | 28 => self.dst = addr(v),
                7 => self.sport = number(v).map(|n| n as u16),
                11 => self.dport = number(v).map(|n| n as u16),
                4 => {
                    self.proto = match v {
                        FieldValue::ProtocolType(p) => Some(u8::from(*p)),
                        _ => number(v).map(|n| n as u8),
                    }
                }
                6 => self.flags = number(v).map(|n| n as u8),
                2 | 86 => self.packets = self.packets.or(number(v)),
                1 | 85 => self.bytes = self.bytes.or(number(v)),
                10 => self.in_if = number(v).map(|n| n as u32),
                14 => self.out_if = number(v).map(|n| n as u32),
                34 | 305 | 50 => self.sampling = number(v).map(|n| n as u32),
                239 => self.biflow_direction = number(v).map(|n| n as u8),
                150 | 152 | 154 | 156 => self.abs_start = self.abs_start.or(abs_time(id, v)),
                151 | 153 | 155 | 157 => self.abs_end = self.abs_end.or(abs_time(id, v)),
                22 => self.up_start = uptime_ms(v),
                21 => self.up_end = uptime_ms(v),
                160 => self.sys_init = abs_time(152, v),
                158 => self.delta_start_us = number(v),
                159 => self.delta_end_us = number(v),
                _ => {}
            },
            Field::Reverse(id) => match id {
                2 | 86 => self.rev_packets = number(v),
                6 => self.rev_flags = number(v).map(|n| n as u8),
                _ => {}
            },
            Field::Other => {}
        }
    }

    /// The flow's start and end in UTC, from whichever time fields the
    /// record has; the export time when it has none.
    fn times(&self, ctx: &Ctx) -> (Ts, Ts) {
        let from_uptime = |up: Option<u32>| -> Option<Ts> {
            let up = up?;
            if let Some(init) = self.sys_init {
                return Some(Ts(init.0 + i64::from(up) * 1_000_000));
            }
            ctx.sys_up_time_ms
                .map(|now| uptime_to_utc(ctx.export, now, up))
        };
        let delta =
            |d: Option<u64>| d.map(|us| Ts(ctx.export.0 - (us as i64).min(i64::MAX / 2000) * 1000));
        let start = self
            .abs_start
            .or_else(|| from_uptime(self.up_start))
            .or_else(|| delta(self.delta_start_us))
            .unwrap_or(ctx.export);
        let end = self
            .abs_end
            .or_else(|| from_uptime(self.up_end))
            .or_else(|| delta(self.delta_end_us))
            .unwrap_or(start);
        (start, end.max(start))
    }
}

/// A time in exporter uptime (ms) to UTC, given the export time and the
/// uptime at export. Wrapping arithmetic: the 32-bit uptime wraps every 49.7
/// days, and a flow from just before the wrap is still in the past.
fn uptime_to_utc(export: Ts, now_ms: u32, at_ms: u32) -> Ts {
    let ago = now_ms.wrapping_sub(at_ms);
    // A flow "in the future" by less than a minute (clock skew between the
    // uptime stamps): treat as at export time.
    let ago = if ago > u32::MAX - 60_000 { 0 } else { ago };
    Ts(export.0 - i64::from(ago) * 1_000_000)
}

fn uptime_ms(v: &FieldValue) -> Option<u32> {
    match v {
        FieldValue::Duration(d) => u32::try_from(d.as_millis()).ok(),
        _ => number(v).and_then(|n| u32::try_from(n).ok()),
    }
}

/// An IPFIX dateTime field as UTC. netflow_parser gives seconds and
/// milliseconds since the Unix epoch, and the NTP-format microsecond and
/// nanosecond fields since the NTP epoch (1900).
fn abs_time(id: u16, v: &FieldValue) -> Option<Ts> {
    let d = match v {
        FieldValue::Duration(d) => *d,
        _ => {
            let n = number(v)?;
            match id {
                150 | 151 => Duration::from_secs(n),
                _ => Duration::from_millis(n),
            }
        }
    };
    let d = if matches!(id, 154..=157) {
        d.checked_sub(Duration::from_secs(NTP_UNIX_OFFSET_S))?
    } else {
        d
    };
    i64::try_from(d.as_nanos()).ok().map(Ts)
}

fn addr(v: &FieldValue) -> Option<IpAddr> {
    match v {
        FieldValue::Ip4Addr(a) => Some(IpAddr::V4(*a)),
        FieldValue::Ip6Addr(a) => Some(IpAddr::V6(*a)),
        FieldValue::DataNumber(DataNumber::U32(n)) => Some(IpAddr::V4(Ipv4Addr::from(*n))),
        _ => None,
    }
}

fn number(v: &FieldValue) -> Option<u64> {
    match v {
        FieldValue::DataNumber(n) => match *n {
            DataNumber::U8(x) => Some(u64::from(x)),
            DataNumber::U16(x) => Some(u64::from(x)),
            DataNumber::U24(x) | DataNumber::U32(x) => Some(u64::from(x)),
            DataNumber::U64(x) => Some(x),
            DataNumber::U128(x) => u64::try_from(x).ok(),
            DataNumber::I8(x) => u64::try_from(x).ok(),
            DataNumber::I16(x) => u64::try_from(x).ok(),
            DataNumber::I24(x) | DataNumber::I32(x) => u64::try_from(x).ok(),
            DataNumber::I64(x) => u64::try_from(x).ok(),
            DataNumber::I128(x) => u64::try_from(x).ok(),
        },
        FieldValue::Duration(d) => u64::try_from(d.as_millis()).ok(),
        FieldValue::Vec(b) | FieldValue::Unknown(b) if b.len() <= 8 => {
            Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        }
        _ => None,
    }
}

/// Who sent a message, for warnings.
fn describe(exporter: Option<(IpAddr, u16)>) -> String {
    exporter.map_or_else(|| "file".to_string(), |(a, p)| format!("exporter {a}:{p}"))
}

/// netflow_parser's error, for a warning. Its parse errors embed the input
/// bytes: keep the words and nom's error kind, not the dump.
fn error_text(e: &netflow_parser::NetflowError) -> String {
    if let netflow_parser::NetflowError::Incomplete { available, context } = e {
        return format!("message cut short ({available} bytes; {context})");
    }
    let s = e.to_string();
    let head = s.split(" { input").next().unwrap_or(&s);
    let mut m: String = head.chars().take(160).collect();
    if let Some(i) = s.find("code: ") {
        let code = s[i + 6..].split([' ', ',', '}']).next().unwrap_or("");
        if !code.is_empty() {
            m.push_str(&format!(" ({code})"));
        }
    }
    m
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
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
            tuple: FiveTuple {
                src: src.parse().unwrap(),
                sport,
                dst: dst.parse().unwrap(),
                dport,
                proto: Proto::Tcp,
            },
            flags,
            reverse: None,
            info: FlowInfo::default(),
            origin: Origin { input: 0, frame: 1 },
        }
    }

    #[test]
    fn one_way_records_pair_with_the_initiator_as_source() {
        let mut stats = BTreeMap::new();
        let a = pair(
            vec![
                // Responder's record first in the file, initiator started earlier.
                flow("203.0.113.9", 4444, "10.0.0.5", 50000, 11, 0x12),
                flow("10.0.0.5", 50000, "203.0.113.9", 4444, 10, 0x1a),
                // An unanswered SYN-only attempt.
                flow("10.0.0.6", 50001, "203.0.113.9", 9001, 12, 0x02),
            ],
            &mut stats,
        );
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].tuple.dport, 4444);
        assert!(a[0].answered);
        assert_eq!(a[1].tuple.dport, 9001);
        assert!(!a[1].answered);
        assert_eq!(stats[&0].0.paired_responder_records, 1);
    }
}
