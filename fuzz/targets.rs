//! The bodies of portent's fuzz targets, one `pub fn NAME(data: &[u8])` per
//! target in `fuzz_targets/NAME.rs`.
//!
//! Shared by the libFuzzer binaries (`cargo +nightly fuzz run NAME`) and by
//! the stable replay test `tests/fuzz_replay.rs`, which runs every file of
//! `fuzz/corpus/NAME/` and `fuzz/regressions/NAME/` through the same body on
//! each `cargo test`. Both include this file with `#[path]`, so it uses
//! nothing but the `portent` library and `std`.
//!
//! Each body hands the bytes to the public entry point that real input
//! takes (the functions are listed in docs/FUZZING.md, to re-point them
//! when modules move), then checks invariants that must hold for any input:
//! counts that add up, results within the input, the same answer from two
//! routes that must agree. A failed check panics, which libFuzzer reports as
//! a crash like any other.
//!
//! Everything here is deterministic: no clock, no randomness, no files.

// Each fuzz binary uses one of the bodies.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use portent::decode::{self, linktype, Decoded, TCP_RST, TCP_SYN};
use portent::event::{Attempt, SignalKind, TcpSignal};
use portent::source::capture;
use portent::source::flow::{self, FlowReader, FlowStats};
use portent::source::sysmon::{self, SysmonFormat};
use portent::source::walk::CaptureOutput;
use portent::source::{sniff, Format};
use portent::stats::{CaptureStats, Skip, Warning, Warnings, MAX_WARNINGS_PER_REASON};

/// The link types `decode::decode` handles, in the order the `decode`
/// target and the made-up capture headers pick them by index.
pub const LINKTYPES: [u32; 13] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::PPP,
    linktype::RAW_BSD,
    linktype::RAW_OPENBSD,
    linktype::PPP_HDLC,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::NFLOG,
    linktype::LINUX_SLL2,
];

/// A link type portent does not decode (LINKTYPE_USER0), so that made-up
/// headers reach the `unknown_linktype` path too.
const UNSUPPORTED_LINKTYPE: u32 = 147;

fn pick_linktype(sel: u8) -> u32 {
    LINKTYPES
        .get(usize::from(sel) % (LINKTYPES.len() + 1))
        .copied()
        .unwrap_or(UNSUPPORTED_LINKTYPE)
}

// ---------------------------------------------------------------- captures

/// `pcap`: classic pcap files through the capture reader
/// (`source::capture::read_capture_with_ports`, as `portent scan` reads a
/// file, and `read_capture_chunked` in small chunks for the comparison).
///
/// Input that does not start with a pcap magic gets a made-up 24-byte file
/// header, chosen by its first byte (which it replaces): bits 0-3 the link
/// type (an index into [`LINKTYPES`], or one portent does not decode),
/// bit 4 big-endian, bit 5 nanosecond stamps, bit 6 the modified
/// (Kuznetzov) format with 24-byte record headers, bit 7 a snap length above
/// 256 KiB. The rest of the input is the records.
pub fn pcap(data: &[u8]) {
    let input = pcap_input(data);
    capture_checks(&input, Format::Pcap);
}

/// `pcapng`: pcapng files through the capture reader, like [`pcap`].
///
/// Input that does not start with a Section Header Block gets a made-up
/// SHB and Interface Description Block(s), chosen by its first byte (which
/// they replace): bits 0-3 the first interface's link type, bit 4
/// big-endian, bit 5 an `if_tsresol` option of 10^-9, bit 6 a second
/// interface (Linux SLL2), bit 7 an `if_tsresol` of 2^-20 instead. The rest
/// of the input is blocks.
pub fn pcapng(data: &[u8]) {
    let input = pcapng_input(data);
    capture_checks(&input, Format::Pcapng);
}

/// The capture bytes the `pcap` target reads.
pub fn pcap_input(data: &[u8]) -> Cow<'_, [u8]> {
    if sniff(data) == Some(Format::Pcap) {
        return Cow::Borrowed(data);
    }
    let (sel, rest) = data.split_first().map_or((1, &[][..]), |(s, r)| (*s, r));
    let be = sel & 0x10 != 0;
    let nanos = sel & 0x20 != 0;
    let modified = sel & 0x40 != 0;
    let snaplen: u32 = if sel & 0x80 != 0 { 1 << 20 } else { 65_535 };
    let magic: u32 = if modified {
        0xa1b2_cd34
    } else if nanos {
        0xa1b2_3c4d
    } else {
        0xa1b2_c3d4
    };
    let mut out = Vec::with_capacity(24 + rest.len());
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    out.extend_from_slice(&u32b(magic));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&u32b(0)); // thiszone
    out.extend_from_slice(&u32b(0)); // sigfigs
    out.extend_from_slice(&u32b(snaplen));
    out.extend_from_slice(&u32b(pick_linktype(sel)));
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// The capture bytes the `pcapng` target reads.
pub fn pcapng_input(data: &[u8]) -> Cow<'_, [u8]> {
    if sniff(data) == Some(Format::Pcapng) {
        return Cow::Borrowed(data);
    }
    let (sel, rest) = data.split_first().map_or((1, &[][..]), |(s, r)| (*s, r));
    let be = sel & 0x10 != 0;
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut out = Vec::with_capacity(28 + 2 * 32 + rest.len());
    // Section Header Block: the type is the same in both byte orders.
    out.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
    out.extend_from_slice(&u32b(28));
    out.extend_from_slice(&u32b(0x1a2b_3c4d));
    out.extend_from_slice(&u16b(1));
    out.extend_from_slice(&u16b(0));
    out.extend_from_slice(&[0xff; 8]); // section length unknown
    out.extend_from_slice(&u32b(28));
    let tsresol = match (sel & 0x20 != 0, sel & 0x80 != 0) {
        (_, true) => Some(0x80 | 20),
        (true, false) => Some(9),
        (false, false) => None,
    };
    let mut idb = |lt: u32| {
        let len: u32 = if tsresol.is_some() { 32 } else { 20 };
        out.extend_from_slice(&u32b(1));
        out.extend_from_slice(&u32b(len));
        out.extend_from_slice(&u16b(lt as u16));
        out.extend_from_slice(&u16b(0));
        out.extend_from_slice(&u32b(65_535));
        if let Some(r) = tsresol {
            out.extend_from_slice(&u16b(9)); // if_tsresol
            out.extend_from_slice(&u16b(1));
            out.extend_from_slice(&[r, 0, 0, 0]);
            out.extend_from_slice(&u16b(0)); // opt_endofopt
            out.extend_from_slice(&u16b(0));
        }
        out.extend_from_slice(&u32b(len));
    };
    idb(pick_linktype(sel));
    if sel & 0x40 != 0 {
        idb(linktype::LINUX_SLL2);
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// What must hold for any capture read, and the comparisons.
fn capture_checks(data: &[u8], format: Format) {
    let consumed = AtomicU64::new(0);
    let progress = |n: u64| {
        consumed.fetch_add(n, Ordering::Relaxed);
    };
    // What `portent scan` does with a file (one sequential walk at this
    // size: the default chunk is 32 MiB).
    let res = capture::read_capture_with_ports("fuzz", data, 0, &flow::COLLECTOR_PORTS, &progress);
    // The same in small chunks (read in parallel, then merged): the result
    // must not depend on the chunk size.
    let chunk = (data.len() / 4).max(64);
    let chunked = capture::read_capture_chunked("fuzz", data, 0, &|_| {}, chunk);
    let out = match (res, chunked) {
        (Ok(out), Ok(par)) => {
            if chunk_check_wanted() {
                same(&key(data, &out), &key(data, &par), chunk);
            }
            out
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            return;
        }
        (a, b) => panic!(
            "one read failed, the other did not: {:?} / {:?}",
            a.err(),
            b.err()
        ),
    };
    assert_eq!(out.format, Some(format));
    assert_eq!(out.chunks, 1);
    let s = &out.stats;
    assert_eq!(s.bytes, data.len() as u64);
    // Every record has a header of at least 16 bytes (pcap) or is a block
    // of at least 12 (pcapng), after the file header.
    let max_records = data.len() as u64 / if format == Format::Pcap { 16 } else { 12 };
    assert!(s.packets <= max_records, "{} packets", s.packets);
    assert!(s.tcp <= s.packets);
    assert!(s.syns + s.synacks <= s.tcp);
    assert!(s.bad_checksum_syns <= s.syns);
    assert!(s.odd_origlen <= s.packets);
    assert_eq!(out.signals.len() as u64, s.syns + s.synacks);
    let syns = out
        .signals
        .iter()
        .filter(|g| g.kind == SignalKind::Syn)
        .count();
    assert_eq!(syns as u64, s.syns);
    // At most one signal per packet, in frame order.
    let mut last = 0;
    for g in &out.signals {
        assert!(g.origin.frame > last, "frames out of order");
        last = g.origin.frame;
        assert_eq!(g.origin.input, 0);
    }
    assert!(last <= max_records);
    assert!(out.exports.len() as u64 <= s.packets - s.tcp);
    // Progress reports exactly the bytes walked (pcap: all after the file
    // header; pcapng: from the first block read).
    let consumed = consumed.load(Ordering::Relaxed);
    if format == Format::Pcap {
        assert_eq!(consumed, data.len() as u64 - 24);
    } else {
        assert!(consumed <= data.len() as u64);
    }
    check_warnings(&out.warnings);

    // The flow exports found in the capture, decoded as `portent scan`
    // decodes them (run.rs: one FlowReader over the inputs' exports).
    let mut reader = FlowReader::default();
    reader.begin_input(0);
    let mut frame = 0;
    for e in &out.exports {
        let from = if e.in_input { data } else { &out.export_bytes };
        assert!(e
            .start
            .checked_add(e.len)
            .is_some_and(|end| end <= from.len()));
        assert!(e.frame > frame && e.frame <= last.max(s.packets + s.skipped.total()));
        frame = e.frame;
        reader.message(
            e.bytes(data, &out.export_bytes),
            Some((e.exporter, e.exporter_port)),
            e.offset,
            e.frame,
        );
    }
    let (attempts, per_input) = reader.finish();
    flow_checks(&attempts, &per_input, out.exports.len() as u64);
}

/// Whether to compare the chunked read with the sequential one: always,
/// unless `PORTENT_FUZZ_SKIP_CHUNK_CHECK` is set. That is a stopgap for
/// long runs of the `pcapng` target while the open crash in
/// fuzz/regressions/pcapng/open/ is not fixed: without it every run stops
/// (or, with `-fork=1 -ignore_crashes=1`, restarts) within seconds on the
/// same bug. Never set in tests or CI.
fn chunk_check_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("PORTENT_FUZZ_SKIP_CHUNK_CHECK").is_none())
}

/// What the chunked and the sequential read must agree on: what
/// tests/inputs.rs compares, and the flow exports found.
type Key = (
    Vec<TcpSignal>,
    CaptureStats,
    Vec<Warning>,
    Vec<(IpAddr, u16, u64, u64, Vec<u8>)>,
);

fn key(data: &[u8], o: &CaptureOutput) -> Key {
    let exports = o
        .exports
        .iter()
        .map(|e| {
            let from = if e.in_input { data } else { &o.export_bytes };
            let bytes = from.get(e.start..e.start.saturating_add(e.len));
            let bytes = bytes.expect("export within its bytes").to_vec();
            (e.exporter, e.exporter_port, e.frame, e.offset, bytes)
        })
        .collect();
    (
        o.signals.clone(),
        o.stats.clone(),
        o.warnings.kept.clone(),
        exports,
    )
}

/// Panics with the first difference between the sequential and the
/// chunked read (whole keys can be tens of kilobytes of debug output).
fn same(seq: &Key, par: &Key, chunk: usize) {
    fn first<T: PartialEq + std::fmt::Debug>(what: &str, a: &[T], b: &[T], chunk: usize) {
        if a == b {
            return;
        }
        let i = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "chunked read ({chunk}-byte chunks) differs from the sequential read: {what}: \
             {} vs {}; first difference at {i}:\n  sequential: {:?}\n  chunked:    {:?}",
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        );
    }
    first("stats", &[&seq.1], &[&par.1], chunk);
    first("signals", &seq.0, &par.0, chunk);
    first("warnings", &seq.2, &par.2, chunk);
    first("exports", &seq.3, &par.3, chunk);
}

/// At most [`MAX_WARNINGS_PER_REASON`] kept per reason.
fn check_warnings(w: &Warnings) {
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for k in &w.kept {
        *per.entry(k.reason).or_default() += 1;
    }
    for (reason, n) in per {
        assert!(
            n <= MAX_WARNINGS_PER_REASON,
            "{n} warnings kept for {reason}"
        );
    }
}

// ----------------------------------------------------------------- decode

/// `decode`: one packet through `decode::decode(linktype, data)`. The first
/// 4 bytes (little-endian) pick the link type: modulo 14, an index into
/// [`LINKTYPES`], or 13 for the 4-byte value itself (nearly always one
/// portent does not decode). The rest is the packet.
pub fn decode(data: &[u8]) {
    let Some((sel, pkt)) = data.split_first_chunk::<4>() else {
        return;
    };
    let sel = u32::from_le_bytes(*sel);
    let lt = LINKTYPES
        .get((sel % (LINKTYPES.len() as u32 + 1)) as usize)
        .copied()
        .unwrap_or(sel);
    let r = decode::decode(lt, pkt);
    assert_eq!(
        r == Err(Skip::UnknownLinktype),
        !linktype::supported(lt),
        "link type {lt}: {r:?}"
    );
    match &r {
        Ok(Decoded::Tcp(seg)) => {
            if seg.is_handshake() {
                assert!(seg.flags & TCP_SYN != 0 && seg.flags & TCP_RST == 0);
            }
            if seg.src.is_ipv4() != seg.dst.is_ipv4() {
                panic!("mixed address families: {seg:?}");
            }
            // In place: the payload lies inside the packet.
            let base = pkt.as_ptr() as usize;
            let at = seg.payload.as_ptr() as usize;
            assert!(
                seg.payload.is_empty()
                    || (at >= base && at + seg.payload.len() <= base + pkt.len()),
                "TCP payload outside the packet"
            );
        }
        Ok(Decoded::Udp(u)) => {
            // In place: the payload lies inside the packet.
            let base = pkt.as_ptr() as usize;
            let at = u.payload.as_ptr() as usize;
            assert!(
                u.payload.is_empty() || (at >= base && at + u.payload.len() <= base + pkt.len()),
                "UDP payload outside the packet"
            );
        }
        _ => {}
    }
    // The IP link types read the packet as Ethernet with an IPv4 EtherType
    // would: the same answer through the Ethernet path.
    if matches!(
        lt,
        linktype::RAW | linktype::RAW_BSD | linktype::RAW_OPENBSD | linktype::IPV4 | linktype::IPV6
    ) {
        let mut eth = Vec::with_capacity(14 + pkt.len());
        eth.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
        eth.extend_from_slice(pkt);
        assert_eq!(
            decode::decode(linktype::ETHERNET, &eth),
            r,
            "Ethernet path differs"
        );
    }
}

// ------------------------------------------------------------------- flows

/// Separates the datagrams of one `netflow` input. The byte after it picks
/// the exporter the datagram comes from (modulo [`EXPORTERS`]).
pub const DATAGRAM_SEPARATOR: &[u8] = b"\n@NF";

/// Exporters (address, port) the `netflow` target's datagrams come from:
/// templates are kept per exporter, so different exporters' templates and
/// data must not mix.
pub const EXPORTERS: [(IpAddr, u16); 3] = [
    (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 2055),
    (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 2055),
    (
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        4739,
    ),
];

/// The collector's pass (collect.rs): attempts are taken every this many
/// datagrams.
const TICK: u64 = 3;

/// The most datagrams one input is split into.
const MAX_DATAGRAMS: usize = 256;

/// Splits a `netflow` input into (exporter, datagram).
pub fn datagrams(data: &[u8]) -> Vec<((IpAddr, u16), &[u8])> {
    let mut out = Vec::new();
    let mut exporter = EXPORTERS[0];
    let mut rest = data;
    loop {
        let (d, next) = match find(rest, DATAGRAM_SEPARATOR) {
            Some(i) => (&rest[..i], Some(&rest[i + DATAGRAM_SEPARATOR.len()..])),
            None => (rest, None),
        };
        out.push((exporter, d));
        let Some(next) = next else { break };
        if out.len() == MAX_DATAGRAMS {
            break;
        }
        let (sel, next) = next.split_first().map_or((0, &[][..]), |(s, r)| (*s, r));
        exporter = EXPORTERS[usize::from(sel) % EXPORTERS.len()];
        rest = next;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `netflow`: export datagrams through `source::flow::FlowReader` the way
/// the live collector (`portent collect`) feeds it: `message` per datagram
/// with the exporter's address, `take_attempts` every few datagrams (records
/// ready once a later tick passed, lone ones once settled), and at the end
/// `count_waiting` and a last `take_attempts` of everything. The input is
/// split on [`DATAGRAM_SEPARATOR`], so that a template in one datagram meets
/// data in the next.
pub fn netflow(data: &[u8]) {
    let dgrams = datagrams(data);
    let mut reader = FlowReader::default();
    reader.begin_input(0);
    let mut attempts = Vec::new();
    let (mut ready_upto, mut settled_upto) = (0u64, 0u64);
    for (n, (exporter, d)) in dgrams.iter().enumerate() {
        let frame = n as u64 + 1;
        reader.message(d, Some(*exporter), 0, frame);
        if frame.is_multiple_of(TICK) {
            let taken =
                reader.take_attempts(|o| o.frame <= ready_upto, |o| o.frame <= settled_upto);
            check_attempts(&taken, frame);
            attempts.extend(taken);
            settled_upto = ready_upto;
            ready_upto = frame;
        }
    }
    reader.count_waiting();
    let last = reader.take_attempts(|_| true, |_| true);
    check_attempts(&last, dgrams.len() as u64);
    attempts.extend(last);
    assert_eq!(reader.held_records(), 0);
    let stats = reader.input_stats(0);
    assert_eq!(stats.messages, dgrams.len() as u64);
    let mut per_input = BTreeMap::new();
    per_input.insert(0, (stats, reader.take_warnings(0)));
    flow_checks(&attempts, &per_input, dgrams.len() as u64);
}

/// `flow_file`: a file of export messages as `portent scan` reads one that
/// is not a capture: `source::flow::split_messages`, then each message
/// through `FlowReader::message` (no exporter address) and `finish`.
pub fn flow_file(data: &[u8]) {
    let Some(split) = flow::split_messages(data) else {
        assert!(
            !matches!(data.get(..2), Some([0, 5] | [0, 10])),
            "a v5 or IPFIX version number is always split"
        );
        return;
    };
    // Messages lie back to back from the start; the cut (if any) is where
    // the last one ends, and without one they cover the file.
    let mut at = 0;
    for &(start, len) in &split.messages {
        assert_eq!(start, at, "messages not back to back");
        assert!(len >= 16, "message of {len} bytes");
        at = start + len;
    }
    assert!(at <= data.len());
    match &split.cut {
        Some((cut, why)) => {
            assert_eq!(*cut, at);
            assert!(*cut < data.len() && !why.is_empty());
        }
        None => assert_eq!(at, data.len()),
    }
    let mut reader = FlowReader::default();
    reader.begin_input(0);
    for (n, &(at, len)) in split.messages.iter().enumerate() {
        reader.message(&data[at..at + len], None, at as u64, n as u64 + 1);
    }
    let (attempts, per_input) = reader.finish();
    check_attempts(&attempts, split.messages.len() as u64);
    flow_checks(&attempts, &per_input, split.messages.len() as u64);
}

/// Attempts from flows: TCP, sorted, from a message that was read.
fn check_attempts(attempts: &[Attempt], max_frame: u64) {
    for a in attempts {
        assert!(a.origin.frame >= 1 && a.origin.frame <= max_frame.max(1));
        assert!(a.flow.is_some());
    }
    assert!(
        attempts
            .windows(2)
            .all(|w| (w[0].ts, w[0].origin, w[0].tuple) <= (w[1].ts, w[1].origin, w[1].tuple)),
        "attempts not in (time, origin, tuple) order"
    );
}

/// What the flow reader's counts must satisfy once everything is taken:
/// every SYN record is an attempt or the paired responder of one.
fn flow_checks(
    attempts: &[Attempt],
    per_input: &BTreeMap<u32, (FlowStats, Warnings)>,
    messages: u64,
) {
    let mut total = FlowStats::default();
    for (stats, warnings) in per_input.values() {
        total.add(stats);
        check_warnings(warnings);
    }
    assert_eq!(total.messages, messages);
    assert_eq!(
        total.syn_records,
        attempts.len() as u64 + total.paired_responder_records,
        "{total:?}"
    );
    assert!(
        total.syn_records + total.continuation_records + total.tcp_records_without_flags
            <= total.records,
        "{total:?}"
    );
    for a in attempts {
        assert!(a.flow.is_some(), "flow attempts carry their record");
    }
}

// ------------------------------------------------------------------ sysmon

/// `sysmon_xml`: Windows event XML (and Sysmon for Linux syslog lines)
/// through `source::sysmon::read`, which sniffs the format. Input that
/// sniffs as neither gets `<Events>` and a newline in front, which makes it
/// an event XML document to the sniffer.
pub fn sysmon_xml(data: &[u8]) {
    let input = match sysmon::sniff(data) {
        Some(SysmonFormat::EventXml | SysmonFormat::Syslog) => Cow::Borrowed(data),
        _ => Cow::Owned([b"<Events>\n", data].concat()),
    };
    sysmon_checks(&input);
}

/// `sysmon_json`: JSON lines (winlogbeat, NXLog, datasets, journald)
/// through `source::sysmon::read`. Input that does not sniff as JSON lines
/// gets a first line `{"winlog":{}}` (a record without an event).
pub fn sysmon_json(data: &[u8]) {
    let input = match sysmon::sniff(data) {
        Some(SysmonFormat::JsonLines) => Cow::Borrowed(data),
        _ => Cow::Owned([b"{\"winlog\":{}}\n", data].concat()),
    };
    sysmon_checks(&input);
}

/// EVTX layout: a 4 KiB file header, then 64 KiB chunks.
const EVTX_HEADER: usize = 4096;
const EVTX_CHUNK: usize = 65536;

/// `evtx`: EVTX files through `source::sysmon::read` (the `ElfFile\0`
/// magic sends them to the `evtx` crate). Input without the magic gets it
/// in front; the input is then padded with zeros to a whole number of
/// chunks (at least one), so that seeds under 64 KiB (a real file cut after
/// its first records) still hold a chunk the parser reads: a chunk's unused
/// space is zeros anyway.
pub fn evtx(data: &[u8]) {
    let input = evtx_input(data);
    sysmon_checks(&input);
}

/// The bytes the `evtx` target reads.
pub fn evtx_input(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if !data.starts_with(b"ElfFile\0") {
        v.extend_from_slice(b"ElfFile\0");
    }
    v.extend_from_slice(data);
    let chunks = v
        .len()
        .saturating_sub(EVTX_HEADER)
        .div_ceil(EVTX_CHUNK)
        .max(1);
    v.resize(EVTX_HEADER + chunks * EVTX_CHUNK, 0);
    v
}

/// What must hold for any Sysmon log read.
fn sysmon_checks(data: &[u8]) {
    let sniffed = sysmon::sniff(data);
    let log = match sysmon::read("fuzz", data) {
        Ok(log) => log,
        Err(_) => {
            // Only what is not a Sysmon log, or an EVTX file whose header
            // does not parse, is an error.
            assert!(sniffed.is_none() || sniffed == Some(SysmonFormat::Evtx));
            return;
        }
    };
    assert_eq!(Some(log.format), sniffed);
    let s = &log.stats;
    assert_eq!(log.events.len() as u64, s.kept());
    assert_eq!(
        s.events_read,
        s.kept() + s.events_dropped + s.other_ids + s.other_provider,
        "{s:?}"
    );
    assert!(s.other_provider_same_id <= s.other_provider);
    assert!(s.no_provider <= s.other_provider);
    assert!(s.bad_fields <= s.kept() + s.events_dropped);
    for e in &log.events {
        assert!(sysmon::KEPT_EVENT_IDS.contains(&e.event_id), "{e:?}");
        if let Some(g) = &e.process_guid {
            assert_eq!(sysmon::normalise_guid(g).as_deref(), Some(g.as_str()));
        }
        if let Some(p) = &e.protocol {
            assert_eq!(p, &p.to_ascii_lowercase());
        }
    }
    // Text formats: events are in line order, and each names a line of the
    // input (UTF-16 input is read as its UTF-8 transcoding, whose offsets
    // are not the file's).
    let utf16 = data.starts_with(&[0xff, 0xfe]) || data.starts_with(&[0xfe, 0xff]);
    if log.format != SysmonFormat::Evtx && !utf16 {
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let mut prev = (0, 0);
        for e in &log.events {
            assert!(e.offset < data.len() as u64, "offset {}", e.offset);
            assert!(e.record >= 1 && e.record <= lines, "line {}", e.record);
            assert!((e.record, e.offset) >= prev, "events out of line order");
            prev = (e.record, e.offset);
        }
    }
    check_warnings(&log.warnings);
}

/// `service`: the first byte says where the input splits into what the
/// client sent and what the server sent; both go to `service::identify`,
/// as the connection tracker hands them over. Checks: no service without
/// payload, every kept string within its bound, and the same answer twice.
pub fn service(data: &[u8]) {
    use portent::service::{identify, MAX_FIELD};
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let at = rest.len() * usize::from(cut) / 255;
    let (client, server) = rest.split_at(at.min(rest.len()));
    let id = identify(client, server);
    if client.is_empty() && server.is_empty() {
        assert!(id.service.is_none(), "a service from no payload: {id:?}");
    }
    // Strings are cut at MAX_FIELD bytes (certificate names at twice that).
    let short = |s: &Option<String>, max: usize| {
        if let Some(s) = s {
            assert!(s.len() <= max + 4, "{} bytes kept: {s:?}", s.len());
        }
    };
    if let Some(t) = &id.tls {
        short(&t.sni, MAX_FIELD);
        short(&t.version, MAX_FIELD);
        for a in &t.alpn {
            assert!(a.len() <= MAX_FIELD + 4, "ALPN of {} bytes", a.len());
        }
    }
    if let Some(h) = &id.http {
        short(&h.host, MAX_FIELD);
        short(&h.uri, MAX_FIELD);
        short(&h.user_agent, MAX_FIELD);
        short(&h.method, MAX_FIELD);
    }
    if let Some(s) = &id.ssh {
        short(&s.client, MAX_FIELD);
        short(&s.server, MAX_FIELD);
    }
    assert_eq!(identify(client, server), id, "a second look differs");
}
