//! The unit of evidence every source produces and every analyzer consumes.
//!
//! Sources (captures today, flows and Sysmon later) reduce their input to
//! [`TcpSignal`]s — the SYN and SYN-ACK segments that matter — and
//! [`crate::analysis::attempts`] turns those into [`Attempt`]s, the outbound
//! connection attempts of DETECTION.md §2. Keeping this type small and
//! source-neutral is what lets NetFlow and Sysmon plug in without reshaping
//! the pipeline.

pub mod community_id;

use std::net::IpAddr;

use crate::service::Identified;
use crate::time::Ts;

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

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
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

    /// The flow's Community ID v1 with the default seed (the same for
    /// both directions).
    pub fn community_id(&self) -> community_id::CommunityId {
        community_id::community_id(
            community_id::DEFAULT_SEED,
            self.proto.number(),
            self.src,
            self.dst,
            Some((self.sport, self.dport)),
        )
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
#[derive(Clone, Debug, PartialEq)]
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
    /// What the whole connection showed, when the attempt was seen as
    /// packets (boxed, as `process`).
    pub conn: Option<Box<ConnInfo>>,
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
            conn: None,
        }
    }
}

/// A connection as a capture showed it, accounted as Zeek's conn.log does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnInfo {
    /// Zeek's `conn_state` (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0,
    /// RSTRH, SH, SHR, OTH).
    pub state: &'static str,
    /// From its first packet to its last.
    pub duration: Ts,
    pub orig_pkts: u64,
    pub resp_pkts: u64,
    /// Payload bytes, by sequence numbers.
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    /// IP bytes, as the IP headers give them.
    pub orig_ip_bytes: u64,
    pub resp_ip_bytes: u64,
    /// Payload bytes the sequence numbers say were sent and no packet
    /// carried, both sides (Zeek's `missed_bytes`).
    pub missed_bytes: u64,
    /// Zeek's history letters (`ShADadFf`: the originator's upper case).
    pub history: String,
    /// What its first bytes said it is, when payload was seen.
    pub content: Option<Box<Identified>>,
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

/// Sorts attempts by [`attempt_key`] in place: a sort of compact keys, then
/// the attempts moved along the permutation's cycles. An attempt is about a
/// hundred bytes and a run can hold millions: a comparison sort would move
/// each log n times, and sorting into a second vector would double the
/// largest allocation of the run at its peak.
pub fn sort_attempts(v: &mut [Attempt]) {
    if v.windows(2)
        .all(|w| attempt_key(&w[0]) <= attempt_key(&w[1]))
    {
        return;
    }
    // (time, origin, index): time and origin settle nearly every
    // comparison, and the tuple is read from the attempt only when both
    // tie. The index last: the order of sorting whole keys.
    let mut keys: Vec<(Ts, u32, u64, usize)> = v
        .iter()
        .enumerate()
        .map(|(i, a)| (a.ts, a.origin.input, a.origin.frame, i))
        .collect();
    keys.sort_unstable_by(|x, y| {
        (x.0, x.1, x.2)
            .cmp(&(y.0, y.1, y.2))
            .then_with(|| v[x.3].tuple.cmp(&v[y.3].tuple))
            .then(x.3.cmp(&y.3))
    });
    // from[k]: the attempt that belongs at k. Each cycle is walked once,
    // carrying its first attempt along by swaps; a done place points at
    // itself.
    let mut from: Vec<usize> = keys.into_iter().map(|k| k.3).collect();
    for start in 0..from.len() {
        let mut k = start;
        while from[k] != start {
            let src = from[k];
            v.swap(k, src);
            from[k] = k;
            k = src;
        }
        from[k] = k;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn sort_attempts_is_a_stable_sort_by_time_origin_and_tuple() {
        let mut r = crate::testkit::synth::SplitMix64(11);
        let mut v: Vec<Attempt> = (0..5000u32)
            .map(|i| {
                // Few distinct times, origins and tuples: ties on every key.
                let pick = |r: &mut crate::testkit::synth::SplitMix64, n: u64| r.next_u64() % n;
                let tuple = FiveTuple::tcp(
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, pick(&mut r, 3) as u8)),
                    40000,
                    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                    [443, 4444][pick(&mut r, 2) as usize],
                );
                let origin = Origin {
                    input: pick(&mut r, 2) as u32,
                    frame: pick(&mut r, 4),
                };
                Attempt {
                    // Where it was: tells a stable sort from another.
                    retransmits: i,
                    ..Attempt::new(Ts(pick(&mut r, 20) as i64), tuple, origin)
                }
            })
            .collect();
        let mut want = v.clone();
        want.sort_by_key(attempt_key);
        sort_attempts(&mut v);
        assert_eq!(v, want);
        // Already sorted: left as it is.
        sort_attempts(&mut v);
        assert_eq!(v, want);
    }
}
