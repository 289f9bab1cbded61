//! Connections: both directions of every TCP connection a capture shows,
//! accounted as Zeek's conn.log accounts them (packets, IP bytes, payload
//! bytes by sequence numbers, how it ended), with references to the first
//! payload bytes of each direction so the service can be told from content.
//!
//! Written by hand because no crate tracks connections over a mapped
//! capture in parallel chunks: each walk keeps a [`ConnTable`] (one hash
//! lookup per TCP segment, one allocation per connection, none per
//! packet); the tables of consecutive chunks are merged with
//! [`ConnTable::merge`] by the same rule a single walk applies, so a
//! parallel read gives what a sequential one gives. Payload is never
//! copied while walking: a connection keeps where its first segments lie
//! in the input ([`SegRef`]), read once the walk is done
//! ([`Conn::payload`]).
//!
//! What one connection costs while tracked: [`CONN_BYTES`], 600 bytes on
//! x86_64 (its key, counts and up to [`MAX_SEGS`] payload references per
//! direction, and its index entry), plus what its service's description
//! holds once identified (about 430 bytes and its strings).

use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::{TcpSeg, TCP_ACK, TCP_RST, TCP_SYN};
use crate::event::{Attempt, ConnInfo, FiveTuple};
use crate::service::{self, CertProblem, Identified, Service};
use crate::stats::{Warning, Warnings};
use crate::time::Ts;

/// FIN flag bit.
const TCP_FIN: u8 = 0x01;

/// Payload bytes kept per direction, from the start of its stream: enough
/// for a TLS ClientHello, a ServerHello with its certificate chain's first
/// certificate, a banner or a request line and headers.
pub const PAYLOAD_BYTES: usize = 8 << 10;

/// Payload segments referenced per direction. A server's first flight
/// (ServerHello, Certificate) fits in a few full-size segments; later
/// segments of the first [`PAYLOAD_BYTES`] are dropped past this.
pub const MAX_SEGS: usize = 8;

/// Connections tracked per walk. A capture with more (a scan, a flood) has
/// the rest counted under [`ConnStats::untracked_segments`], never
/// dropped silently; handshakes and attempts are still read.
pub const MAX_CONNS: usize = 4_000_000;

/// A connection quiet this long is over: the next packet of the same
/// endpoints starts a new one (Zeek's TCP inactivity timeout).
pub const IDLE: Ts = Ts(300 * Ts::NANOS_PER_SEC);

/// What one tracked connection costs in memory, in bytes (checked by a
/// test against the type's size).
pub const CONN_BYTES: usize = std::mem::size_of::<Conn>() + std::mem::size_of::<(FastKey, u32)>();

// The figure the docs give for one connection (600 on x86_64).
const _: () = assert!(CONN_BYTES <= 600);

/// Where sequence number `seq` lies relative to `base`, taken as the
/// nearest to `near` (a position already reached, relative to `base`):
/// differences of 32-bit sequence numbers are read within 2 GiB of a
/// known point, so a long stream is followed however far it goes.
fn unwrap_seq(base: u32, near: i64, seq: u32) -> i64 {
    let at_near = base.wrapping_add(near as u32);
    near + i64::from(seq.wrapping_sub(at_near) as i32)
}

/// The endpoints, lower one first, so both directions find one entry.
type Key = (IpAddr, u16, IpAddr, u16);

fn addr_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// [`Key`] as the table hashes it. Nearly all traffic is IPv4, whose two
/// endpoints fit one 128-bit integer (each address and port as 48 bits,
/// the lower endpoint high), so a lookup per segment hashes 16 bytes; an
/// IPv6 pair is its addresses and its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FastKey {
    V4(u128),
    V6(u128, u128, u32),
}

impl std::hash::Hash for FastKey {
    /// The integers alone, without the variant (which `Eq` still tells
    /// apart): an IPv4 pair is one word for the hasher.
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match *self {
            FastKey::V4(k) => h.write_u128(k),
            FastKey::V6(a, b, ports) => {
                h.write_u128(a);
                h.write_u128(b);
                h.write_u32(ports);
            }
        }
    }
}

/// The index's hasher: one folded multiply per 64-bit word, with seeds
/// drawn at random for each table (as general-purpose hashers do, so that
/// traffic crafted to collide in one run does not in another). The keys
/// are a few integers of known shape; a general hasher's per-call setup
/// cost more than the rest of a segment's accounting.
#[derive(Clone, Copy, Debug)]
struct KeyHashing {
    seed: u64,
}

impl Default for KeyHashing {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // The standard library's random keys, drawn once per process and
        // varied per table.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        KeyHashing {
            seed: h.finish() | 1,
        }
    }
}

impl std::hash::BuildHasher for KeyHashing {
    type Hasher = KeyHasher;
    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

#[derive(Clone, Copy, Debug)]
struct KeyHasher(u64);

impl KeyHasher {
    /// The high and low halves of the 128-bit product, folded.
    #[inline]
    fn mix(&mut self, x: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let p = u128::from(self.0 ^ x) * u128::from(K);
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl std::hash::Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.mix(u64::from(x));
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.mix(x);
    }
    #[inline]
    fn write_u128(&mut self, x: u128) {
        self.mix(x as u64);
        self.mix((x >> 64) as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An IPv4 endpoint as one integer that orders as (address, port).
#[inline]
fn v4_endpoint(addr: std::net::Ipv4Addr, port: u16) -> u64 {
    u64::from(u32::from(addr)) << 16 | u64::from(port)
}

fn fast_key(k: &Key) -> FastKey {
    match (k.0, k.2) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            FastKey::V4(u128::from(v4_endpoint(a, k.1)) << 64 | u128::from(v4_endpoint(b, k.3)))
        }
        _ => FastKey::V6(
            addr_bits(k.0),
            addr_bits(k.2),
            u32::from(k.1) << 16 | u32::from(k.3),
        ),
    }
}

/// A segment's [`FastKey`], and whether its sender is the key's first
/// endpoint (`a`), worked out from the segment without building a [`Key`].
#[inline]
fn segment_key(seg: &TcpSeg<'_>) -> (FastKey, bool) {
    if let (IpAddr::V4(s), IpAddr::V4(d)) = (seg.src, seg.dst) {
        let (x, y) = (v4_endpoint(s, seg.sport), v4_endpoint(d, seg.dport));
        let a_sent = x <= y;
        let (lo, hi) = if a_sent { (x, y) } else { (y, x) };
        return (FastKey::V4(u128::from(lo) << 64 | u128::from(hi)), a_sent);
    }
    let (s, d) = (addr_bits(seg.src), addr_bits(seg.dst));
    let a_sent = (s, seg.sport) <= (d, seg.dport);
    let key = if a_sent {
        FastKey::V6(s, d, u32::from(seg.sport) << 16 | u32::from(seg.dport))
    } else {
        FastKey::V6(d, s, u32::from(seg.dport) << 16 | u32::from(seg.sport))
    };
    (key, a_sent)
}

/// Where one payload segment lies in the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegRef {
    /// Offset of the payload in the input's bytes.
    pub at: u64,
    pub seq: u32,
    pub len: u32,
}

/// One direction of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    pub pkts: u64,
    pub ip_bytes: u64,
    /// Every flag this side sent.
    pub flags: u8,
    /// The sequence number of its first SYN (with or without ACK).
    pub isn: Option<u32>,
    /// Sent a SYN without ACK; sent a SYN with ACK.
    pub syn: bool,
    pub synack: bool,
    /// Sent a segment with ACK and without SYN.
    pub acked: bool,
    /// Where its stream starts (after its first SYN, or at its first
    /// segment's sequence number), and the furthest byte its segments
    /// other than SYNs and RSTs reached, relative to it.
    pub base: Option<u32>,
    pub end: Option<i64>,
    /// Where its first FIN sits, relative to `base`: the FIN takes a
    /// sequence number, which is no payload byte.
    pub fin_at: Option<i64>,
    pub segs: [SegRef; MAX_SEGS],
    pub nsegs: u8,
    /// Which of Zeek's history letters this side has shown ([`History`]).
    hist: u8,
    /// Payload bytes its packets carried, as their headers say (a resent
    /// byte counts again): what `bytes` leaves over is what the capture
    /// missed.
    pub carried: u64,
    /// When it sent its first FIN ([`NOT_CLOSED`] before).
    closed_at: i64,
}

/// [`Side::closed_at`] of a side that sent no FIN.
const NOT_CLOSED: i64 = i64::MIN;

impl Default for Side {
    fn default() -> Side {
        Side {
            pkts: 0,
            ip_bytes: 0,
            flags: 0,
            isn: None,
            syn: false,
            synack: false,
            acked: false,
            base: None,
            end: None,
            fin_at: None,
            segs: [SegRef::default(); MAX_SEGS],
            nsegs: 0,
            hist: 0,
            carried: 0,
            closed_at: NOT_CLOSED,
        }
    }
}

impl Side {
    fn closed(&self) -> bool {
        self.closed_at != NOT_CLOSED
    }

    fn sent(&self) -> bool {
        self.pkts > 0
    }

    /// Payload bytes the sequence numbers say were sent but no packet of
    /// the capture carried (Zeek's `missed_bytes`, one side). Resent bytes
    /// count in `carried` again, so a stream with both resends and gaps
    /// shows fewer missed bytes than it had.
    pub fn missed(&self) -> u64 {
        self.bytes().saturating_sub(self.carried)
    }

    /// Payload bytes by sequence numbers, as Zeek counts them.
    pub fn bytes(&self) -> u64 {
        let end = self.end.unwrap_or(0);
        let end = self.fin_at.map_or(end, |f| end.min(f));
        end.max(0) as u64
    }

    fn add(&mut self, seg: &TcpSeg<'_>, at: Option<u64>) {
        self.pkts += 1;
        self.ip_bytes += u64::from(seg.ip_len);
        self.flags |= seg.flags;
        if seg.flags & (TCP_SYN | TCP_RST) == 0 {
            self.carried += u64::from(seg.payload_len);
        }
        if seg.flags & TCP_SYN != 0 {
            self.isn.get_or_insert(seg.seq);
            if seg.flags & TCP_ACK != 0 {
                self.synack = true;
            } else if seg.flags & TCP_RST == 0 {
                self.syn = true;
            }
            self.base.get_or_insert(seg.seq.wrapping_add(1));
            return;
        }
        if seg.flags & TCP_ACK != 0 {
            self.acked = true;
        }
        let base = *self.base.get_or_insert(seg.seq);
        // Unwrapped against the furthest point reached so far, so a stream
        // past 2 GiB (or 4) keeps counting.
        let rel = unwrap_seq(base, self.end.unwrap_or(0), seg.seq);
        // Every segment says how far the stream got, data or not (an ACK
        // after bytes the capture missed still advances it); a RST's
        // sequence number need not.
        if seg.flags & TCP_RST == 0 {
            let reached = rel + i64::from(seg.payload_len);
            self.end = Some(self.end.map_or(reached, |e| e.max(reached)));
        }
        if seg.flags & TCP_FIN != 0 && self.fin_at.is_none() {
            self.fin_at = Some(rel + i64::from(seg.payload_len));
        }
        if seg.payload_len == 0 {
            return;
        }
        if let Some(at) = at {
            let useful = rel < PAYLOAD_BYTES as i64 && rel + i64::from(seg.payload_len) > 0;
            if useful && !seg.payload.is_empty() {
                self.keep(SegRef {
                    at,
                    seq: seg.seq,
                    len: seg.payload.len() as u32,
                });
            }
        }
    }

    /// Keeps a payload segment's reference: a resend from the same byte
    /// takes no second slot, a longer one replaces the shorter (keep-alives
    /// and stray bytes would otherwise fill the slots before the data).
    fn keep(&mut self, new: SegRef) {
        let kept = &mut self.segs[..usize::from(self.nsegs)];
        match kept.iter_mut().find(|s| s.seq == new.seq) {
            Some(s) if s.len < new.len => *s = new,
            Some(_) => {}
            None if usize::from(self.nsegs) < MAX_SEGS => {
                self.segs[usize::from(self.nsegs)] = new;
                self.nsegs += 1;
            }
            None => {}
        }
    }

    /// Adds a later stretch of the same direction (the next chunk's).
    fn merge(&mut self, o: &Side) {
        self.pkts += o.pkts;
        self.ip_bytes += o.ip_bytes;
        self.flags |= o.flags;
        self.carried += o.carried;
        if !self.closed() {
            self.closed_at = o.closed_at;
        }
        self.acked |= o.acked;
        self.syn |= o.syn;
        self.synack |= o.synack;
        self.isn = self.isn.or(o.isn);
        match (self.base, o.base) {
            (None, _) => {
                self.base = o.base;
                self.end = o.end;
                self.fin_at = o.fin_at;
            }
            (Some(b), Some(ob)) => {
                let shift = unwrap_seq(b, self.end.unwrap_or(0), ob);
                if let Some(e) = o.end {
                    self.end = Some(self.end.map_or(shift + e, |s| s.max(shift + e)));
                }
                if self.fin_at.is_none() {
                    self.fin_at = o.fin_at.map(|f| f + shift);
                }
            }
            (Some(_), None) => {}
        }
        let base = self.base;
        let useful = |s: &SegRef| {
            base.is_some_and(|b| {
                let rel = i64::from(s.seq.wrapping_sub(b) as i32);
                rel < PAYLOAD_BYTES as i64 && rel + i64::from(s.len) > 0
            })
        };
        for s in o.segs[..usize::from(o.nsegs)].iter().filter(|s| useful(s)) {
            self.keep(*s);
        }
    }
}

/// One TCP connection: `a` is the endpoint of the key's first address.
#[derive(Clone, Debug, PartialEq)]
pub struct Conn {
    key: Key,
    /// The earliest and latest packet times.
    pub first: Ts,
    pub last: Ts,
    /// The times of its first and of its latest packet in input order (the
    /// same as `first` and `last` unless the capture's clock jumped):
    /// whether a connection went quiet is judged by these, so that a
    /// timestamp out of order splits it the same way in chunks as whole.
    opened: Ts,
    latest: Ts,
    /// The sides, `a` to `b` and `b` to `a`.
    pub ab: Side,
    pub ba: Side,
    /// Who sent the first packet.
    a_first: bool,
    /// The first packet was a SYN without ACK: whether `a` sent it, and
    /// its sequence number.
    opens_with_syn: Option<(bool, u32)>,
    /// What its first bytes say it is ([`identify`]); `None` until then,
    /// or when no payload was seen.
    pub content: Option<Box<Identified>>,
    history: History,
}

/// Zeek's connection history: the first time each side showed each kind of
/// packet, in order. Zeek's letters: `S` a SYN, `H` a SYN-ACK, `A` a pure
/// ACK, `D` data, `F` a FIN, `R` a RST, `I` FIN and RST together, `Q` other
/// flag combinations of SYN, FIN and RST; upper case for the originator.
/// Zeek's rarer letters (bad checksums, gaps, retransmissions, zero windows,
/// and SYNs, FINs or RSTs repeated at a new sequence number) are not kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct History {
    /// Each letter in upper case, with [`History::B`] set when side `b`
    /// showed it.
    letters: [u8; 16],
    len: u8,
}

impl History {
    const B: u8 = 0x80;
    const LETTERS: [u8; 8] = *b"SHADFRIQ";

    /// The letter a segment with `flags` and `payload_len` shows, as the
    /// index into [`History::LETTERS`] (Zeek's `update_history`).
    #[inline]
    fn letter(flags: u8, payload_len: u32) -> Option<u8> {
        let (syn, fin, rst) = (
            flags & TCP_SYN != 0,
            flags & TCP_FIN != 0,
            flags & TCP_RST != 0,
        );
        match u8::from(syn) + u8::from(fin) + u8::from(rst) {
            0 if payload_len > 0 => Some(3),
            0 if flags & TCP_ACK != 0 => Some(2),
            0 => None,
            1 if syn => Some(if flags & TCP_ACK != 0 { 1 } else { 0 }),
            1 if fin => Some(4),
            1 => Some(5),
            _ if fin && rst => Some(6),
            _ => Some(7),
        }
    }

    /// Notes letter `i` from side `a` (or `b`) unless that side showed it
    /// before (`seen`: the side's mask).
    #[inline]
    fn note(&mut self, seen: &mut u8, i: u8, a: bool) {
        if *seen & (1 << i) == 0 {
            *seen |= 1 << i;
            if usize::from(self.len) < self.letters.len() {
                self.letters[usize::from(self.len)] =
                    Self::LETTERS[usize::from(i)] | if a { 0 } else { Self::B };
                self.len += 1;
            }
        }
    }

    /// As Zeek writes it: the originator's letters upper case, the
    /// responder's lower case, after `^` when the originator is not the
    /// side that sent first.
    fn render(&self, a_is_orig: bool, flipped: bool) -> String {
        let mut s = String::with_capacity(usize::from(self.len) + 1);
        if flipped {
            s.push('^');
        }
        for &l in &self.letters[..usize::from(self.len)] {
            let by_a = l & Self::B == 0;
            let c = char::from(l & !Self::B);
            s.push(if by_a == a_is_orig {
                c
            } else {
                c.to_ascii_lowercase()
            });
        }
        s
    }
}

impl Conn {
    fn new(key: Key, ts: Ts, a_sent: bool, seg: &TcpSeg<'_>) -> Conn {
        let pure_syn = seg.flags & TCP_SYN != 0 && seg.flags & (TCP_ACK | TCP_RST) == 0;
        Conn {
            key,
            first: ts,
            last: ts,
            opened: ts,
            latest: ts,
            ab: Side::default(),
            ba: Side::default(),
            a_first: a_sent,
            opens_with_syn: pure_syn.then_some((a_sent, seg.seq)),
            content: None,
            history: History::default(),
        }
    }

    /// Whether a packet at `ts` (a SYN without ACK: its sender, `a` or
    /// not, and sequence number) may start a new connection: after
    /// [`IDLE`] of quiet, or a SYN its sender's first SYN here does not
    /// match. A walk starts a connection there and [`ConnTable::merge`]
    /// decides with [`Conn::continued_by`] once everything before is
    /// known; where this says no, nothing before could say otherwise.
    fn may_end_before(&self, ts: Ts, syn: Option<(bool, u32)>) -> bool {
        if ts.0.saturating_sub(self.latest.0) > IDLE.0 {
            return true;
        }
        match syn {
            None => false,
            Some((by_a, seq)) => self.side(by_a).isn != Some(seq),
        }
    }

    /// Whether `next`, begun after this connection's last packet so far,
    /// is the same connection: not after [`IDLE`], and either it does not
    /// open with a SYN, or the SYN retransmits its sender's first one here,
    /// or is that side's first packet at all (simultaneous open).
    fn continued_by(&self, next: &Conn) -> bool {
        if next.opened.0.saturating_sub(self.latest.0) > IDLE.0 {
            return false;
        }
        let Some((by_a, seq)) = next.opens_with_syn else {
            return true;
        };
        let side = self.side(by_a);
        match side.isn {
            Some(isn) => isn == seq,
            None => side.pkts == 0,
        }
    }

    fn side(&self, a: bool) -> &Side {
        if a {
            &self.ab
        } else {
            &self.ba
        }
    }

    /// Whether `a` is the originator: the side that sent a SYN without
    /// ACK, else the one that did not send the SYN-ACK, else the one that
    /// sent first.
    fn a_is_orig(&self) -> bool {
        match (self.ab.syn, self.ba.syn) {
            (true, false) => return true,
            (false, true) => return false,
            _ => {}
        }
        match (self.ab.synack, self.ba.synack) {
            (false, true) => true,
            (true, false) => false,
            _ => self.a_first,
        }
    }

    /// (originator's side, responder's side).
    pub fn sides(&self) -> (&Side, &Side) {
        if self.a_is_orig() {
            (&self.ab, &self.ba)
        } else {
            (&self.ba, &self.ab)
        }
    }

    /// The tuple from originator to responder.
    pub fn tuple(&self) -> FiveTuple {
        let (a, ap, b, bp) = self.key;
        if self.a_is_orig() {
            FiveTuple::tcp(a, ap, b, bp)
        } else {
            FiveTuple::tcp(b, bp, a, ap)
        }
    }

    /// Takes in the connection's next stretch (a later chunk's or input's).
    fn absorb(&mut self, c: Conn) {
        self.first = self.first.min(c.first);
        self.last = self.last.max(c.last);
        self.latest = c.latest;
        for &l in &c.history.letters[..usize::from(c.history.len)] {
            let a = l & History::B == 0;
            let i = History::LETTERS
                .iter()
                .position(|&x| x == l & !History::B)
                .unwrap_or(0) as u8;
            let seen = if a {
                &mut self.ab.hist
            } else {
                &mut self.ba.hist
            };
            self.history.note(seen, i, a);
        }
        self.ab.merge(&c.ab);
        self.ba.merge(&c.ba);
        if self.content.is_none() {
            self.content = c.content;
        }
    }

    /// An empty connection on the same endpoints, to leave in a slot whose
    /// connection was taken.
    fn clone_empty(&self) -> Conn {
        Conn {
            key: self.key,
            first: self.first,
            last: self.last,
            opened: self.opened,
            latest: self.latest,
            ab: Side::default(),
            ba: Side::default(),
            a_first: self.a_first,
            opens_with_syn: None,
            content: None,
            history: History::default(),
        }
    }

    /// What the connection showed, for its attempt.
    pub fn info(&self) -> ConnInfo {
        let (o, r) = self.sides();
        ConnInfo {
            state: self.state(),
            duration: Ts(self.end_time().0.saturating_sub(self.first.0)),
            orig_pkts: o.pkts,
            resp_pkts: r.pkts,
            orig_bytes: o.bytes(),
            resp_bytes: r.bytes(),
            orig_ip_bytes: o.ip_bytes,
            resp_ip_bytes: r.ip_bytes,
            missed_bytes: o.missed() + r.missed(),
            history: self.history(),
            content: self.content.clone(),
        }
    }

    /// When the connection's clock stopped: at its last packet, or, once
    /// both sides have sent a FIN, at the packet that closed the second
    /// (Zeek's TCP analyzer stops a connection's time there, so the ACK of
    /// the last FIN does not lengthen it).
    pub fn end_time(&self) -> Ts {
        if self.ab.closed() && self.ba.closed() {
            Ts(self.ab.closed_at.max(self.ba.closed_at).min(self.last.0))
        } else {
            self.last
        }
    }

    /// Zeek's history string ([`History`]).
    pub fn history(&self) -> String {
        let a_orig = self.a_is_orig();
        self.history.render(a_orig, a_orig != self.a_first)
    }

    /// How the connection ended, in Zeek's `conn_state` terms.
    pub fn state(&self) -> &'static str {
        let (o, r) = self.sides();
        let (os, rs) = (EndState::of(o, r, true), EndState::of(r, o, false));
        let o_inactive = matches!(os, EndState::Inactive | EndState::Partial);
        let r_inactive = matches!(rs, EndState::Inactive | EndState::Partial);
        use EndState::*;
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent)
                || (os == Reset && o.bytes() == 0 && r.bytes() == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                // Zeek: the history starts with the SYN and the RST comes
                // before any ACK, FIN or data from the originator.
                if o.syn && !o.acked && o.flags & TCP_FIN == 0 && o.bytes() == 0 {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// A direction's first payload bytes, reassembled in sequence order from
    /// `input` (the bytes the references point into), up to
    /// [`PAYLOAD_BYTES`]: overlapping and retransmitted bytes are taken
    /// once (segments are taken in sequence order, the longest first of
    /// those that start together, and each gives only the bytes no earlier
    /// one gave), and a gap ends what is known.
    pub fn payload(side: &Side, input: &[u8], out: &mut Vec<u8>) {
        let got = Self::reassemble(side, input, out, |_| None);
        let got = got.to_vec();
        *out = got;
    }

    /// Both directions' first bytes as identification reads them
    /// ([`service::needed`]): reassembly stops where the bytes so far say
    /// the rest is not read (after a TLS handshake, after HTTP headers), and
    /// a direction whose first segment holds all that is needed is read in
    /// place, not copied. `bufs` hold what had to be joined.
    pub fn openings<'a>(
        &self,
        input: &'a [u8],
        bufs: &'a mut (Vec<u8>, Vec<u8>),
    ) -> (&'a [u8], &'a [u8]) {
        let (o, r) = self.sides();
        let (cb, sb) = bufs;
        let client = Self::reassemble(o, input, cb, |b| service::needed(b, None));
        let server = Self::reassemble(r, input, sb, |b| service::needed(b, Some(client)));
        (client, server)
    }

    /// Reassembles `side`'s first bytes (see [`Conn::payload`]), stopping
    /// once `enough` names a length the bytes so far reach; borrowed from
    /// `input` when the first segment alone holds them.
    fn reassemble<'a>(
        side: &Side,
        input: &'a [u8],
        out: &'a mut Vec<u8>,
        enough: impl Fn(&[u8]) -> Option<usize>,
    ) -> &'a [u8] {
        out.clear();
        let Some(base) = side.base else {
            return &[];
        };
        let mut segs: [(i64, &[u8]); MAX_SEGS] = [(0, &[]); MAX_SEGS];
        let mut n = 0;
        for s in &side.segs[..usize::from(side.nsegs)] {
            let Ok(at) = usize::try_from(s.at) else {
                continue;
            };
            let Some(bytes) = at
                .checked_add(s.len as usize)
                .and_then(|end| input.get(at..end))
            else {
                continue;
            };
            segs[n] = (i64::from(s.seq.wrapping_sub(base) as i32), bytes);
            n += 1;
        }
        let segs = &mut segs[..n];
        // Of segments that start at the same byte, the longest wins: a
        // short segment there is a keep-alive or a stray ACK with a few
        // bytes of padding as payload, and the data resent over it is the
        // stream.
        segs.sort_by_key(|&(rel, b)| (rel, std::cmp::Reverse(b.len())));
        // The usual case: the first segment starts the stream and holds
        // everything identification reads.
        if let Some(&(0, first)) = segs.first() {
            let first = &first[..first.len().min(PAYLOAD_BYTES)];
            if let Some(end) = enough(first).filter(|&e| e <= first.len()) {
                return &first[..end];
            }
        }
        for &(rel, bytes) in segs.iter() {
            let have = out.len() as i64;
            if rel > have {
                break;
            }
            let skip = (have - rel) as usize;
            if let Some(new) = bytes.get(skip..) {
                let room = PAYLOAD_BYTES - out.len();
                out.extend_from_slice(&new[..new.len().min(room)]);
            }
            if out.len() >= PAYLOAD_BYTES {
                break;
            }
            if let Some(end) = enough(out).filter(|&e| e <= out.len()) {
                out.truncate(end);
                break;
            }
        }
        out
    }
}

/// An endpoint's state as Zeek's TCP analyzer would leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EndState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

impl EndState {
    fn of(s: &Side, other: &Side, orig: bool) -> EndState {
        if !s.sent() {
            return EndState::Inactive;
        }
        if s.flags & TCP_RST != 0 {
            return EndState::Reset;
        }
        if s.flags & TCP_FIN != 0 {
            return EndState::Closed;
        }
        let (o, r) = if orig { (s, other) } else { (other, s) };
        let handshake = o.syn && r.synack && o.acked;
        if handshake {
            EndState::Established
        } else if s.synack {
            EndState::SynAckSent
        } else if s.syn {
            EndState::SynSent
        } else {
            EndState::Partial
        }
    }
}

/// Tells the service of every connection of one input from its first
/// payload bytes each way, read from `input` (the bytes the connections'
/// references point into), in parallel across connections. Each input is
/// told before inputs are merged: a connection's references then point
/// into its own input, and what it was told stays with it through the
/// merge (the references are not read again).
pub fn identify(table: &mut ConnTable, input: &[u8]) -> Warnings {
    use rayon::prelude::*;
    // Connections whose opening says TLS but whose handshake could not be
    // read (cut, absurd lengths, garbage): where, and which way.
    let unreadable: Vec<(u64, FiveTuple, Unread)> = table
        .conns
        .par_iter_mut()
        .filter(|c| c.content.is_none() && (c.ab.nsegs > 0 || c.ba.nsegs > 0))
        .map_init(
            || (Vec::new(), Vec::new()),
            |bufs, c| {
                let (o, r) = c.sides();
                let (client, server) = c.openings(input, bufs);
                let id = service::identify(client, server);
                let bad = if looks_like_tls(client) && id.tls.is_none() {
                    Some((first_at(o), Unread::Handshake("client")))
                } else if looks_like_tls(server) && id.tls.is_none() {
                    Some((first_at(r), Unread::Handshake("server")))
                } else {
                    let cert = id.tls.as_ref().and_then(|t| t.cert_unread);
                    cert.map(|why| (first_at(r), Unread::Certificate(why, server.len())))
                };
                if id.service.is_some() {
                    c.content = Some(Box::new(id));
                }
                bad.map(|(at, side)| (at, c.tuple(), side))
            },
        )
        .flatten()
        .collect();
    ftp_data(&mut table.conns);
    let mut warnings = Warnings::default();
    for (at, t, what) in unreadable {
        let (reason, message) = match what {
            Unread::Handshake(side) => {
                table.stats.unreadable_tls += 1;
                (
                    "unreadable_tls",
                    format!("the {side} opens a TLS handshake that could not be read (cut, or not TLS after all)"),
                )
            }
            Unread::Certificate(CertProblem::Cut, have) => {
                table.stats.unreadable_certificates += 1;
                (
                    "unreadable_certificate",
                    format!("the server's certificate is cut short ({have} bytes of the server's opening were captured); its subject, issuer and fingerprint are not reported"),
                )
            }
            Unread::Certificate(CertProblem::Malformed, _) => {
                table.stats.unreadable_certificates += 1;
                (
                    "unreadable_certificate",
                    "the server's certificate is not a readable X.509 certificate; its subject, issuer and fingerprint are not reported".to_string(),
                )
            }
        };
        if warnings.wants(reason) {
            warnings.push(Warning {
                reason,
                offset: at,
                frame: None,
                message: format!(
                    "connection {}:{} -> {}:{}: {message}",
                    t.src, t.sport, t.dst, t.dport
                ),
            });
        }
    }
    warnings
}

/// Names FTP data connections: a connection between the two hosts of an
/// FTP control connection, begun while that was open, that carried nothing
/// portent names (no payload, or payload it does not know). Zeek learns the
/// data connection's port from the PORT, EPRT, PASV or EPSV exchange;
/// portent keeps only a connection's first bytes, which seldom reach it,
/// so it goes by the hosts and the time instead (either host may open it:
/// active mode has the server connect back).
fn ftp_data(conns: &mut [Conn]) {
    use std::collections::HashMap as Map;
    let pair = |c: &Conn| {
        let (a, b) = (c.key.0, c.key.2);
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    };
    let mut control: Map<(IpAddr, IpAddr), Vec<(Ts, Ts)>> = Map::new();
    for c in conns.iter() {
        if c.content.as_ref().and_then(|id| id.service) == Some(Service::Ftp) {
            control.entry(pair(c)).or_default().push((c.first, c.last));
        }
    }
    if control.is_empty() {
        return;
    }
    for c in conns.iter_mut() {
        let named = c.content.as_ref().and_then(|id| id.service);
        if !matches!(named, None | Some(Service::Unknown)) {
            continue;
        }
        let during = control
            .get(&pair(c))
            .is_some_and(|spans| spans.iter().any(|&(f, l)| f <= c.first && c.first <= l));
        if during {
            c.content = Some(Box::new(Identified::of(Service::FtpData)));
        }
    }
}

/// What of a connection's TLS could not be read.
#[derive(Clone, Copy, Debug)]
enum Unread {
    /// The side ("client", "server") whose handshake could not be read.
    Handshake(&'static str),
    /// The server's certificate, and how many bytes of its side were read.
    Certificate(CertProblem, usize),
}

/// A TLS handshake record's header: content type 22, version 3.x.
fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [0x16, 0x03, 0..=4, ..])
}

/// Where a side's first payload segment lies in the input.
fn first_at(s: &Side) -> u64 {
    let base = s.base.unwrap_or(0);
    s.segs[..usize::from(s.nsegs)]
        .iter()
        .min_by_key(|r| r.seq.wrapping_sub(base) as i32)
        .map_or(0, |r| r.at)
}

/// Gives each attempt seen as packets its connection: the one from the
/// same originator to the same responder whose packets span the attempt's
/// first SYN (the latest such, should a port be reused). `attempts` and
/// `conns` in any order.
pub fn attach(attempts: &mut [Attempt], conns: &[Conn]) {
    // One sort of (tuple, first packet, index), then a binary search per
    // attempt: no list per tuple, and a tuple reused a million times costs
    // a logarithm, not a walk. The tuple is sorted as integers (any order
    // that groups equal tuples serves), not as addresses.
    let mut keyed: Vec<(TupleKey, Ts, u32)> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| (tuple_key(&c.tuple()), c.first, i as u32))
        .collect();
    keyed.sort_unstable();
    for a in attempts.iter_mut().filter(|a| a.flow.is_none()) {
        // The last connection of the tuple that began at or before it.
        let key = tuple_key(&a.tuple);
        let n = keyed.partition_point(|(t, first, _)| (*t, *first) <= (key, a.ts));
        let found = n
            .checked_sub(1)
            .map(|k| &keyed[k])
            .filter(|(t, _, _)| *t == key)
            .map(|&(_, _, i)| &conns[i as usize])
            .filter(|c| a.ts <= c.last);
        a.conn = found.map(|c| Box::new(c.info()));
    }
}

/// A TCP tuple as integers: both addresses, then the family and ports.
type TupleKey = (u128, u128, u64);

fn tuple_key(t: &FiveTuple) -> TupleKey {
    let v6 = u64::from(t.src.is_ipv6()) << 32;
    (
        addr_bits(t.src),
        addr_bits(t.dst),
        v6 | u64::from(t.sport) << 16 | u64::from(t.dport),
    )
}

/// What tracking connections counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConnStats {
    /// Connections tracked.
    pub tracked: u64,
    /// Segments of connections not tracked because [`MAX_CONNS`] were.
    pub untracked_segments: u64,
    /// Connections whose first bytes open a TLS handshake that could not
    /// be read (each also a warning, up to the per-reason bound).
    pub unreadable_tls: u64,
    /// TLS connections whose server sent a certificate that could not be
    /// read: cut short, or malformed (each also a warning).
    pub unreadable_certificates: u64,
}

/// The connections of one walk (a whole input, or one chunk of it).
#[derive(Debug, Default)]
pub struct ConnTable {
    /// Each key's latest connection, as an index into `conns`.
    index: HashMap<FastKey, u32, KeyHashing>,
    /// In the order they began.
    pub conns: Vec<Conn>,
    pub stats: ConnStats,
    /// Every connection's continuation is decided ([`ConnTable::settled`]);
    /// set again false by the next segment walked into it.
    settled: bool,
}

/// Bytes of capture per connection, to size a table before a walk: busy
/// uplinks show one connection every 20 to 50 KiB, so this overshoots
/// rather than grows (growing moves every connection); the reserve is 3 %
/// of the stretch walked.
const BYTES_PER_CONN_GUESS: usize = 16 << 10;

impl ConnTable {
    /// A table sized for a walk over `bytes` of capture.
    pub fn for_bytes(bytes: usize) -> ConnTable {
        let n = (bytes / BYTES_PER_CONN_GUESS).min(MAX_CONNS);
        ConnTable {
            index: HashMap::with_capacity_and_hasher(n, KeyHashing::default()),
            conns: Vec::with_capacity(n),
            stats: ConnStats::default(),
            settled: false,
        }
    }

    /// One TCP segment at `ts`; `at` is where its payload lies in the
    /// input (`None` when it does not lie there).
    #[inline]
    pub fn segment(&mut self, ts: Ts, seg: &TcpSeg<'_>, at: Option<u64>) {
        self.settled = false;
        let (fast, a_sent) = segment_key(seg);
        let syn = (seg.flags & TCP_SYN != 0 && seg.flags & (TCP_ACK | TCP_RST) == 0)
            .then_some((a_sent, seg.seq));
        let i = match self.index.get(&fast) {
            Some(&i) if !self.conns[i as usize].may_end_before(ts, syn) => i as usize,
            _ => {
                if self.conns.len() >= MAX_CONNS {
                    // Its later segments must not join the connection the
                    // endpoints had before.
                    self.index.remove(&fast);
                    self.stats.untracked_segments += 1;
                    return;
                }
                let key = if a_sent {
                    (seg.src, seg.sport, seg.dst, seg.dport)
                } else {
                    (seg.dst, seg.dport, seg.src, seg.sport)
                };
                self.conns.push(Conn::new(key, ts, a_sent, seg));
                let i = self.conns.len() - 1;
                self.index.insert(fast, i as u32);
                i
            }
        };
        let c = &mut self.conns[i];
        c.last = c.last.max(ts);
        c.first = c.first.min(ts);
        c.latest = ts;
        let side = if a_sent { &mut c.ab } else { &mut c.ba };
        if seg.flags & TCP_FIN != 0 && !side.closed() {
            side.closed_at = ts.0;
        }
        if let Some(i) = History::letter(seg.flags, seg.payload_len) {
            c.history.note(&mut side.hist, i, a_sent);
        }
        side.add(seg, at);
    }

    /// Appends the table of the walk that came next (the following chunk,
    /// or the next input), deciding for each of its connections, in the
    /// order they began, whether it continues this table's latest on the
    /// same endpoints ([`Conn::continued_by`]): everything before it is
    /// known here, so the decision is the one a single walk makes. A walk's
    /// table passes through here once too ([`ConnTable::settled`]), for the
    /// connections it started where it could not be sure.
    pub fn merge(&mut self, next: ConnTable) {
        if self.conns.is_empty() {
            let before = self.stats;
            *self = next.settled();
            self.stats.untracked_segments += before.untracked_segments;
            self.stats.unreadable_tls += before.unreadable_tls;
            self.stats.unreadable_certificates += before.unreadable_certificates;
            return;
        }
        self.reserve(next.conns.len());
        for c in next.conns {
            let cont = self
                .index
                .get(&fast_key(&c.key))
                .map(|&i| i as usize)
                .filter(|&i| self.conns[i].continued_by(&c));
            match cont {
                Some(i) => self.conns[i].absorb(c),
                None => {
                    if self.conns.len() >= MAX_CONNS {
                        self.index.remove(&fast_key(&c.key));
                        self.stats.untracked_segments += c.ab.pkts + c.ba.pkts;
                        continue;
                    }
                    self.index.insert(fast_key(&c.key), self.conns.len() as u32);
                    self.conns.push(c);
                }
            }
        }
        self.stats.untracked_segments += next.stats.untracked_segments;
        self.stats.unreadable_tls += next.stats.unreadable_tls;
        self.stats.unreadable_certificates += next.stats.unreadable_certificates;
    }

    /// Room for `n` more connections, so a merge moves each connection once
    /// (growing would move them all again).
    pub fn reserve(&mut self, n: usize) {
        let n = n.min(MAX_CONNS.saturating_sub(self.conns.len()));
        self.conns.reserve(n);
        self.index.reserve(n);
    }

    /// A walk's table with every connection it started decided, in place:
    /// only connections begun on endpoints seen before are looked at again
    /// (a walk's own decisions stand for the rest). A table that is settled
    /// already (merged from chunks, or settled before) is given back as it is.
    pub fn settled(mut self) -> ConnTable {
        if self.settled {
            return self;
        }
        self.settled = true;
        let mut latest: HashMap<FastKey, u32, KeyHashing> =
            HashMap::with_capacity_and_hasher(self.conns.len(), KeyHashing::default());
        let mut gone = vec![false; self.conns.len()];
        for (i, gone) in gone.iter_mut().enumerate() {
            let k = fast_key(&self.conns[i].key);
            if let Some(&p) = latest.get(&k) {
                let p = p as usize;
                if self.conns[p].continued_by(&self.conns[i]) {
                    let (before, from) = self.conns.split_at_mut(i);
                    let c = std::mem::replace(&mut from[0], before[p].clone_empty());
                    before[p].absorb(c);
                    *gone = true;
                    continue;
                }
            }
            latest.insert(k, i as u32);
        }
        if gone.iter().any(|&g| g) {
            let mut i = 0;
            self.conns.retain(|_| {
                i += 1;
                !gone[i - 1]
            });
            latest.clear();
            for (i, c) in self.conns.iter().enumerate() {
                latest.insert(fast_key(&c.key), i as u32);
            }
        }
        self.index = latest;
        self
    }

    /// Ends the table: the connections in the order they began, counted.
    pub fn finish(mut self) -> (Vec<Conn>, ConnStats) {
        self.stats.tracked = self.conns.len() as u64;
        (self.conns, self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        seq: u32,
        flags: u8,
        payload: &'static [u8],
    ) -> TcpSeg<'static> {
        TcpSeg {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            seq,
            flags,
            checksum_ok: None,
            ip_len: 40 + payload.len() as u32,
            payload_len: payload.len() as u32,
            payload,
        }
    }

    const C: &str = "10.0.0.5";
    const S: &str = "203.0.113.9";

    /// A whole connection: handshake, a request, an answer, FINs.
    fn session() -> Vec<TcpSeg<'static>> {
        vec![
            seg(C, 50000, S, 4041, 100, TCP_SYN, b""),
            seg(S, 4041, C, 50000, 900, TCP_SYN | TCP_ACK, b""),
            seg(C, 50000, S, 4041, 101, TCP_ACK, b""),
            seg(C, 50000, S, 4041, 101, TCP_ACK | 0x08, b"hello"),
            // A retransmission overlapping the first bytes, then more.
            seg(C, 50000, S, 4041, 104, TCP_ACK | 0x08, b"lo world"),
            seg(S, 4041, C, 50000, 901, TCP_ACK | 0x08, b"ok"),
            seg(C, 50000, S, 4041, 112, TCP_ACK | TCP_FIN, b""),
            seg(S, 4041, C, 50000, 903, TCP_ACK | TCP_FIN, b""),
            seg(C, 50000, S, 4041, 113, TCP_ACK, b""),
        ]
    }

    fn table(segs: &[TcpSeg<'static>], from_s: i64) -> ConnTable {
        let mut t = ConnTable::default();
        for (i, s) in segs.iter().enumerate() {
            t.segment(Ts((from_s + i as i64) * Ts::NANOS_PER_SEC), s, None);
        }
        t
    }

    fn settled(segs: &[TcpSeg<'static>]) -> (Vec<Conn>, ConnStats) {
        table(segs, 0).settled().finish()
    }

    #[test]
    fn a_whole_session_is_sf_with_bytes_by_sequence() {
        let (conns, stats) = settled(&session());
        assert_eq!(stats.tracked, 1);
        let c = &conns[0];
        assert_eq!(
            c.tuple(),
            FiveTuple::tcp(C.parse().unwrap(), 50000, S.parse().unwrap(), 4041)
        );
        assert_eq!(c.state(), "SF");
        let (o, r) = c.sides();
        assert_eq!((o.pkts, r.pkts), (6, 3));
        assert_eq!((o.bytes(), r.bytes()), (11, 2));
        assert_eq!(o.ip_bytes, 6 * 40 + 5 + 8);
        assert_eq!((c.first, c.last), (Ts(0), Ts(8 * Ts::NANOS_PER_SEC)));
    }

    #[test]
    fn states_as_zeek_names_them() {
        let s = session();
        let state = |segs: &[TcpSeg<'static>]| settled(segs).0[0].state();
        assert_eq!(state(&s[..1]), "S0");
        assert_eq!(state(&s[..6]), "S1");
        let rst = seg(S, 4041, C, 50000, 0, TCP_RST | TCP_ACK, b"");
        assert_eq!(state(&[s[0], rst]), "REJ");
        let orst = seg(C, 50000, S, 4041, 112, TCP_RST, b"");
        assert_eq!(state(&[s[0], orst]), "RSTOS0");
        assert_eq!(state(&[&s[..6], &[orst][..]].concat()), "RSTO");
        assert_eq!(state(&[&s[..6], &[s[6]][..]].concat()), "S2");
        assert_eq!(state(&[&s[..6], &[s[7]][..]].concat()), "S3");
        // Midstream: no handshake seen.
        assert_eq!(state(&s[3..6]), "OTH");
        assert_eq!(state(&[s[0], s[6]]), "SH");
    }

    #[test]
    fn chunks_merge_to_what_one_walk_gives() {
        let mut s = session();
        s.push(seg(C, 50000, S, 4041, 7000, TCP_SYN, b""));
        s.push(seg(S, 4041, C, 50000, 99, TCP_SYN | TCP_ACK, b""));
        let whole = settled(&s);
        assert_eq!(whole.0.len(), 2);
        for cut in 0..=s.len() {
            let mut t = ConnTable::default();
            t.merge(table(&s[..cut], 0));
            t.merge(table(&s[cut..], cut as i64));
            assert_eq!(t.finish(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_new_syn_after_the_end_is_a_new_connection() {
        let mut s = session();
        s.push(seg(C, 50000, S, 4041, 7000, TCP_SYN, b""));
        let (conns, _) = settled(&s);
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[1].state(), "S0");
        // A retransmitted SYN is not.
        let again = vec![s[0], s[0]];
        let (conns, _) = settled(&again);
        assert_eq!((conns.len(), conns[0].sides().0.pkts), (1, 2));
    }

    #[test]
    fn payload_is_reassembled_once_in_sequence_order() {
        // The input holds the two payloads; references point into it.
        let input = b"hellolo world";
        let mut t = ConnTable::default();
        let s = session();
        for (i, sg) in s.iter().enumerate() {
            let at = match i {
                3 => Some(0),
                4 => Some(5),
                _ => None,
            };
            t.segment(Ts(i as i64), sg, at);
        }
        let (conns, _) = t.settled().finish();
        let mut out = Vec::new();
        Conn::payload(conns[0].sides().0, input, &mut out);
        assert_eq!(out, b"hello world");
    }

    fn big(seq: u32, flags: u8, len: u32) -> TcpSeg<'static> {
        TcpSeg {
            ip_len: 40 + len,
            payload_len: len,
            ..seg(C, 50000, S, 4041, seq, flags, b"")
        }
    }

    #[test]
    fn a_stream_past_4_gib_is_counted_whole() {
        let mut t = ConnTable::default();
        let isn = 1000u32;
        t.segment(Ts(0), &seg(C, 50000, S, 4041, isn, TCP_SYN, b""), None);
        t.segment(
            Ts(1),
            &seg(S, 4041, C, 50000, 5, TCP_SYN | TCP_ACK, b""),
            None,
        );
        let (step, total) = (1u32 << 20, 5u64 << 30);
        let mut sent = 0u64;
        while sent < total {
            let s = isn.wrapping_add(1).wrapping_add(sent as u32);
            t.segment(Ts(2), &big(s, TCP_ACK, step), None);
            sent += u64::from(step);
        }
        let fin = isn.wrapping_add(1).wrapping_add(sent as u32);
        t.segment(Ts(3), &big(fin, TCP_ACK | TCP_FIN, 0), None);
        let (conns, _) = t.settled().finish();
        assert_eq!(conns[0].sides().0.bytes(), total);
        assert_eq!(conns[0].state(), "S2");
    }

    #[test]
    fn resends_across_a_chunk_boundary_take_one_slot_as_in_one_walk() {
        let segs = [
            seg(C, 50000, S, 4041, 100, TCP_SYN, b""),
            seg(S, 4041, C, 50000, 900, TCP_SYN | TCP_ACK, b""),
            seg(C, 50000, S, 4041, 101, TCP_ACK | 0x08, b"x"),
            seg(C, 50000, S, 4041, 101, TCP_ACK | 0x08, b"xyz"),
        ];
        let walk = |segs: &[TcpSeg<'static>], from: i64| {
            let mut t = ConnTable::default();
            for (i, s) in segs.iter().enumerate() {
                t.segment(Ts(from + i as i64), s, Some(i as u64));
            }
            t
        };
        let whole = walk(&segs, 0).settled().finish();
        assert_eq!(whole.0[0].sides().0.nsegs, 1);
        for cut in 0..=segs.len() {
            let mut t = ConnTable::default();
            t.merge(walk(&segs[..cut], 0));
            let mut rest = walk(&segs[cut..], cut as i64);
            // References are offsets in the input: the same in both reads.
            for c in &mut rest.conns {
                for s in c.ab.segs.iter_mut().chain(c.ba.segs.iter_mut()) {
                    s.at += cut as u64;
                }
            }
            t.merge(rest);
            assert_eq!(t.finish(), whole, "cut at {cut}");
        }
    }
}
