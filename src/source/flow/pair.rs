//! Pairing one-way flow records: the two records of one connection become
//! one attempt whose source is the initiator, and a biflow's direction is
//! decided from its flags when the exporter did not say.

use std::hash::BuildHasher;

use crate::decode::{TCP_ACK, TCP_SYN};
use crate::event::{Attempt, FiveTuple, FlowInfo, Origin};
use crate::time::Ts;

/// Two one-way records of one connection start within this of each other.
pub const PAIR_WINDOW: Ts = Ts(60 * Ts::NANOS_PER_SEC);

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
    let syn_only = |fl: u8| fl & TCP_SYN != 0 && fl & TCP_ACK == 0;
    let syn_ack = |fl: u8| fl & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK;
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
    let (sp, dp) = (f.tuple.sport, f.tuple.dport);
    sp < dp && dp >= 1024 && sp < 32768
}

/// How many records of the same two endpoints after one record are looked
/// at for its other half: bounds pairing on a capture that repeats one
/// connection's records without end.
pub const MAX_PAIR_CANDIDATES: usize = 64;

/// Pairs one-way records of the same connection (A→B and B→A, both with
/// SYN, starting within [`PAIR_WINDOW`]): the earlier one is the initiator
/// and is answered; the other is dropped. Equal start times: the record from
/// the higher (ephemeral) port is the initiator's. Returns the attempts in
/// (time, origin, tuple) order.
///
/// Records are grouped by their unordered pair of endpoints through one
/// sort of indices (no map, no allocation per connection), then each group
/// is walked in start order.
pub(super) fn pair(
    flows: Vec<TcpFlow>,
    mut responder_taken: impl FnMut(u32),
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
                let i_first =
                    f.start < g.start || (f.start == g.start && f.tuple.sport > f.tuple.dport);
                let (init, resp) = if i_first { (i, j) } else { (j, i) };
                responder[resp] = true;
                answered[init] = true;
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
            responder_taken(f.origin.input);
            continue;
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
