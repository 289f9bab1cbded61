//! Pairing one-way flow records: the two records of one connection become
//! one attempt whose source is the initiator, and a biflow's direction is
//! decided from its flags when the exporter did not say.

use std::hash::BuildHasher;

use crate::decode::{TCP_ACK, TCP_SYN};
use crate::event::{Attempt, FiveTuple, FlowInfo, Origin};
use crate::time::Ts;

/// Two one-way records of one connection start within this of each other.
pub const PAIR_WINDOW: Ts = Ts(60 * Ts::NANOS_PER_SEC);

/// Two records of one connection that start at most this far apart are a
/// tie, whichever came first: NetFlow v5 keeps milliseconds of uptime, a
/// LAN handshake fits in one millisecond, and an exporter's jitter can put
/// the responder's record a millisecond before the initiator's. A tie is
/// decided by [`tie_initiator`], never by the records' order.
pub const PAIR_TIE: Ts = Ts(Ts::NANOS_PER_SEC / 1000);

/// What pairing counts, per input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Paired {
    /// A responder's record went with its initiator's (not an attempt).
    Responder,
    /// An attempt whose pair was a tie, decided by flags and ports.
    Tie,
}

/// A TCP flow record, reduced to what portent uses.
#[derive(Clone, Debug)]
pub(super) struct TcpFlow {
    pub(super) start: Ts,
    pub(super) tuple: FiveTuple,
    pub(super) flags: u8,
    /// RFC 5103 biflow: the reverse direction's packets and flags.
    pub(super) reverse: Option<(u64, u8)>,
    pub(super) info: FlowInfo,
    pub(super) origin: Origin,
}

/// Whether a biflow without biflowDirection was started by its reverse
/// direction: the forward end answered a SYN (SYN+ACK) that the reverse
/// end sent without ACK; or, when the flags cannot tell (both ends'
/// cumulative flags hold SYN and ACK), the forward source port looks like
/// the service: it is the lower of the two, below the ephemeral ranges
/// (Linux 32768 up, Windows 49152 up), and the destination port is not a
/// well-known one. A guess, counted under `biflows_reoriented`: an old
/// client with a low ephemeral port (Windows XP: 1025–5000) calling a
/// higher service port is turned the wrong way.
pub(super) fn reverse_initiated(f: &TcpFlow, rev_packets: u64, rev_flags: u8) -> bool {
    if rev_packets == 0 && rev_flags == 0 {
        return false;
    }
    if syn_only(f.flags) {
        return false;
    }
    if syn_only(rev_flags) && syn_ack(f.flags) {
        return true;
    }
    if f.flags & TCP_SYN == 0 && rev_flags & TCP_SYN != 0 {
        return true;
    }
    source_is_service(f.tuple.sport, f.tuple.dport)
}

/// A record's cumulative flags hold SYN without ACK: only an initiator
/// that was never answered, or whose exporter saw only its first segment,
/// sends that.
fn syn_only(flags: u8) -> bool {
    flags & TCP_SYN != 0 && flags & TCP_ACK == 0
}

fn syn_ack(flags: u8) -> bool {
    flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK
}

/// Whether a record's source port looks like the service side: the lower
/// of the two, below the ephemeral ranges (Linux 32768 up, Windows 49152
/// up), while the destination port is not a well-known one.
fn source_is_service(sport: u16, dport: u16) -> bool {
    sport < dport && dport >= 1024 && sport < 32768
}

/// Of two one-way records of one connection in a tie ([`PAIR_TIE`]),
/// whether `f` is the initiator's: by the evidence biflows are oriented
/// with (a record with SYN and no ACK, then the side whose source port
/// looks like the service), and only when neither tells, the record from
/// the higher port (an ephemeral port), then the higher address, so that
/// the answer never depends on which record came first.
fn tie_initiator(f: &TcpFlow, g: &TcpFlow) -> bool {
    match (syn_only(f.flags), syn_only(g.flags)) {
        (true, false) => return true,
        (false, true) => return false,
        _ => {}
    }
    let (f_service, g_service) = (
        source_is_service(f.tuple.sport, f.tuple.dport),
        source_is_service(g.tuple.sport, g.tuple.dport),
    );
    if f_service != g_service {
        return g_service;
    }
    (f.tuple.sport, f.tuple.src) > (g.tuple.sport, g.tuple.src)
}

/// How many records of the same two endpoints after one record are looked
/// at for its other half: bounds pairing on a capture that repeats one
/// connection's records without end.
pub const MAX_PAIR_CANDIDATES: usize = 64;

/// Pairs one-way records of the same connection (A→B and B→A, both with
/// SYN, starting within [`PAIR_WINDOW`]): the earlier one is the initiator
/// and is answered; the other is dropped. Records in a tie ([`PAIR_TIE`])
/// are decided by [`tie_initiator`]. `count` hears of each responder
/// record dropped and each attempt from a tie, by input. Returns the
/// attempts in (time, origin, tuple) order.
///
/// Records are grouped by their unordered pair of endpoints through one
/// sort of indices (no map, no allocation per connection), then each group
/// is walked in start order.
pub(super) fn pair(
    flows: Vec<TcpFlow>,
    mut count: impl FnMut(u32, Paired),
    arrived: impl Fn(&TcpFlow) -> bool,
    alone_ok: impl Fn(&TcpFlow) -> bool,
) -> (Vec<Attempt>, Vec<TcpFlow>) {
    // Group by a hash of the unordered endpoint pair: sorting 16-byte keys
    // is several times faster than comparing addresses. Records of other
    // endpoints that share a hash only widen a group; the tuple is checked
    // below.
    let hasher = hashbrown::DefaultHashBuilder::default();
    let ends = |f: &TcpFlow| {
        let a = (f.tuple.src, f.tuple.sport);
        let b = (f.tuple.dst, f.tuple.dport);
        hasher.hash_one(if a <= b { (a, b) } else { (b, a) })
    };
    let mut keyed: Vec<(u64, i64, u32)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.reverse.is_none())
        .map(|(i, f)| (ends(f), f.start.0, i as u32))
        .collect();
    keyed.sort_unstable();
    let mut responder = vec![false; flows.len()];
    let mut answered = vec![false; flows.len()];
    let mut tie = vec![false; flows.len()];
    // The other half of a paired record: the two are taken together.
    let mut partner = vec![u32::MAX; flows.len()];
    for group in keyed.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        for (k, &(_, start, i)) in group.iter().enumerate() {
            let i = i as usize;
            if responder[i] || answered[i] {
                continue;
            }
            let f = &flows[i];
            let want = f.tuple.reversed();
            // Group members are in start order: the other half starts at
            // most PAIR_WINDOW before or after.
            let lo = group[..k].partition_point(|g| start.saturating_sub(g.1) > PAIR_WINDOW.0);
            let found = group[lo..]
                .iter()
                .take_while(|g| g.1.saturating_sub(start) <= PAIR_WINDOW.0)
                .map(|g| g.2 as usize)
                .filter(|&j| j != i)
                .take(MAX_PAIR_CANDIDATES)
                .find(|&j| flows[j].tuple == want && !responder[j] && !answered[j]);
            if let Some(j) = found {
                let g = &flows[j];
                let tied = f.start.abs_diff(g.start) <= PAIR_TIE.0 as u64;
                let i_first = if tied {
                    tie_initiator(f, g)
                } else {
                    f.start < g.start
                };
                let (init, resp) = if i_first { (i, j) } else { (j, i) };
                responder[resp] = true;
                answered[init] = true;
                tie[init] = tied;
                partner[i] = j as u32;
                partner[j] = i as u32;
            }
        }
    }
    let take: Vec<bool> = (0..flows.len())
        .map(|i| match flows.get(partner[i] as usize) {
            Some(p) => arrived(&flows[i]) || arrived(p),
            None => arrived(&flows[i]) && alone_ok(&flows[i]),
        })
        .collect();
    let mut out = Vec::with_capacity(flows.len());
    let mut held = Vec::new();
    for (i, f) in flows.into_iter().enumerate() {
        if !take[i] {
            held.push(f);
            continue;
        }
        if responder[i] {
            count(f.origin.input, Paired::Responder);
            continue;
        }
        if tie[i] {
            count(f.origin.input, Paired::Tie);
        }
        let answered = answered[i]
            || f.flags & TCP_ACK != 0
            || f.reverse.is_some_and(|(p, fl)| p > 0 || fl & TCP_SYN != 0);
        out.push(Attempt {
            answered,
            flow: Some(Box::new(f.info)),
            ..Attempt::new(f.start, f.tuple, f.origin)
        });
    }
    crate::event::sort_attempts(&mut out);
    (out, held)
}
