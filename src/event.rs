//! The unit of evidence every source produces and every analyzer consumes.
//!
//! Sources (captures today, flows and Sysmon later) reduce their input to
//! [`TcpSignal`]s — the SYN and SYN-ACK segments that matter — and
//! [`crate::analysis::attempts`] turns those into [`Attempt`]s, the outbound
//! connection attempts of DETECTION.md §2. Keeping this type small and
//! source-neutral is what lets NetFlow and Sysmon plug in without reshaping
//! the pipeline.

use std::fmt;
use std::net::IpAddr;

/// A point in time, nanoseconds since the Unix epoch, UTC.
///
/// An `i64` of nanoseconds covers 1677–2262, enough for any capture (including
/// pcapng timestamps past 2038 that 32-bit seconds cannot hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub i64);

impl Ts {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    /// From whole seconds and a nanosecond fraction, saturating at the ends
    /// of the representable range rather than wrapping.
    pub fn from_parts(secs: i64, nanos: u32) -> Ts {
        Ts(secs
            .saturating_mul(Self::NANOS_PER_SEC)
            .saturating_add(i64::from(nanos)))
    }

    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / Self::NANOS_PER_SEC as f64
    }

    /// Absolute distance between two instants, in nanoseconds.
    pub fn abs_diff(self, other: Ts) -> u64 {
        self.0.abs_diff(other.0)
    }
}

impl fmt::Display for Ts {
    /// RFC 3339, UTC, with microseconds: `2026-11-23T21:37:44.123456Z`.
    /// Sub-microsecond digits are kept only when the timestamp has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::timefmt::write_rfc3339(f, *self)
    }
}

/// The transport of an attempt. Only TCP has connection attempts today; the
/// field exists so that flow and Sysmon sources can say what they saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
        }
    }
}

/// Source and destination of one direction of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiveTuple {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub proto: Proto,
}

impl FiveTuple {
    /// A TCP tuple, the only transport with attempts.
    pub fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> FiveTuple {
        FiveTuple {
            src,
            sport,
            dst,
            dport,
            proto: Proto::Tcp,
        }
    }

    pub fn reversed(&self) -> FiveTuple {
        FiveTuple {
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
            proto: self.proto,
        }
    }
}

/// Which kind of handshake segment a [`TcpSignal`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalKind {
    /// SYN set, ACK clear: a connection attempt (or its retransmission).
    Syn,
    /// SYN and ACK set: the answer to an attempt, from the responder.
    SynAck,
}

/// Where a piece of evidence came from: the input (an index into the run's
/// list of inputs) and the 1-based record number inside it (the frame number
/// Wireshark shows for captures).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub input: u32,
    pub frame: u64,
}

/// A handshake segment, as a source saw it. Only SYN and SYN-ACK segments
/// become signals, so their number grows with connections, not packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSignal {
    pub ts: Ts,
    pub tuple: FiveTuple,
    pub kind: SignalKind,
    /// The TCP sequence number; a retransmitted SYN carries the same one.
    pub seq: u32,
    /// `Some(false)` when the TCP checksum could be verified and was wrong
    /// (NIC offload on the capturing host), `None` when the packet was cut
    /// by the snap length or the checksum was not checked.
    pub checksum_ok: Option<bool>,
    pub origin: Origin,
}

/// One outbound connection attempt (DETECTION.md §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Time of the first SYN.
    pub ts: Ts,
    pub tuple: FiveTuple,
    /// A SYN-ACK for this attempt was seen.
    pub answered: bool,
    /// Further SYNs for the same attempt (same 5-tuple, see
    /// [`crate::analysis::attempts`]).
    pub retransmits: u32,
    /// Time of the last SYN of this attempt.
    pub last_syn: Ts,
    /// The first SYN had a bad TCP checksum.
    pub bad_checksum: bool,
    pub origin: Origin,
    /// Process context, when Sysmon knows it (boxed: most attempts have
    /// none, and an attempt is moved several times on its way).
    pub process: Option<Box<ProcessContext>>,
    /// What the flow record knew, when the attempt came from a flow export.
    pub flow: Option<Box<FlowInfo>>,
}

impl Attempt {
    /// An attempt first seen at `ts`: one SYN, not yet answered, nothing
    /// known beyond the tuple; sources set what they know besides.
    pub fn new(ts: Ts, tuple: FiveTuple, origin: Origin) -> Attempt {
        Attempt {
            ts,
            tuple,
            answered: false,
            retransmits: 0,
            last_syn: ts,
            bad_checksum: false,
            origin,
            process: None,
            flow: None,
        }
    }
}

/// What a flow record tells about an attempt beyond its tuple and time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowInfo {
    /// 5, 9, or 10 (IPFIX).
    pub version: u8,
    /// Packets and bytes of the initiator's direction, as exported (not
    /// multiplied by the sampling interval).
    pub packets: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    /// The exporter's address, when the export came over UDP.
    pub exporter: Option<IpAddr>,
    /// NetFlow v9 source ID or IPFIX observation domain (v5: 0).
    pub observation_domain: u32,
    pub in_if: Option<u32>,
    pub out_if: Option<u32>,
    /// 1 in N packets sampled, when the exporter says so.
    pub sampling: Option<u32>,
}

/// What endpoint logs say about the process behind an attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessContext {
    pub host: Option<String>,
    pub image: Option<String>,
    pub user: Option<String>,
    pub parent_image: Option<String>,
    pub pid: Option<u32>,
    pub process_guid: Option<String>,
    /// How the context was found ([`crate::analysis::join`]'s rules).
    pub rule: Option<&'static str>,
}

/// The order every attempt list is kept in: time, then where it was read,
/// then the tuple (deterministic output whatever the reading order).
fn attempt_key(a: &Attempt) -> (Ts, Origin, FiveTuple) {
    (a.ts, a.origin, a.tuple)
}

/// Sorts attempts by [`attempt_key`] moving each attempt once (an attempt
/// is a few hundred bytes; a comparison sort would move it log n times).
pub fn sort_attempts(v: &mut Vec<Attempt>) {
    if v.windows(2)
        .all(|w| attempt_key(&w[0]) <= attempt_key(&w[1]))
    {
        return;
    }
    let mut keys: Vec<((Ts, Origin, FiveTuple), usize)> = v
        .iter()
        .enumerate()
        .map(|(i, a)| (attempt_key(a), i))
        .collect();
    keys.sort_unstable();
    let mut slots: Vec<Option<Attempt>> = std::mem::take(v).into_iter().map(Some).collect();
    v.extend(keys.iter().filter_map(|&(_, i)| slots[i].take()));
}

/// Merges two lists of attempts, each already in [`attempt_key`] order.
pub fn merge_attempts(a: Vec<Attempt>, b: Vec<Attempt>) -> Vec<Attempt> {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => attempt_key(x) <= attempt_key(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}
