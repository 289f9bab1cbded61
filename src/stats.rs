//! Counting what was read, what was skipped and why.
//!
//! Bad input never stops a run and is never dropped silently: each problem is
//! counted under a fixed [`Skip`] reason (an array index, so counting costs
//! nothing per packet), the first few are reported with file and offset, and
//! the run summary shows the totals per input.

use std::fmt;

use serde::ser::SerializeMap;
use serde::Serialize;

/// Why a record, a packet or some bytes of an input were not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// The input ends in the middle of a record (header or data).
    TruncatedRecord,
    /// A record header claims a length no capture can have (captured length
    /// beyond the bound, or a pcapng block length that is not a multiple of
    /// four or does not match its trailer); the reader resynchronised.
    BadRecordLength,
    /// A pcapng block that could not be decoded (bad option, bad header).
    BadBlock,
    /// A packet on an interface whose link type portent does not decode.
    UnknownLinktype,
    /// A pcapng packet that refers to an interface no IDB declared.
    UnknownInterface,
    /// The packet is too short for its link-layer header.
    ShortLinkHeader,
    /// The IP header is missing, cut short or invalid.
    BadIpHeader,
    /// A TCP segment whose header is cut short.
    ShortTcpHeader,
    /// Tunnels nested deeper than the decoder follows.
    TunnelTooDeep,
    /// A whole input that is not a capture portent reads.
    NotACapture,
}

impl Skip {
    pub const ALL: [Skip; 10] = [
        Skip::TruncatedRecord,
        Skip::BadRecordLength,
        Skip::BadBlock,
        Skip::UnknownLinktype,
        Skip::UnknownInterface,
        Skip::ShortLinkHeader,
        Skip::BadIpHeader,
        Skip::ShortTcpHeader,
        Skip::TunnelTooDeep,
        Skip::NotACapture,
    ];

    /// The stable name used in JSONL/CSV summaries.
    pub fn name(self) -> &'static str {
        match self {
            Skip::TruncatedRecord => "truncated_record",
            Skip::BadRecordLength => "bad_record_length",
            Skip::BadBlock => "bad_block",
            Skip::UnknownLinktype => "unknown_linktype",
            Skip::UnknownInterface => "unknown_interface",
            Skip::ShortLinkHeader => "short_link_header",
            Skip::BadIpHeader => "bad_ip_header",
            Skip::ShortTcpHeader => "short_tcp_header",
            Skip::TunnelTooDeep => "tunnel_too_deep",
            Skip::NotACapture => "not_a_capture",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Counts per [`Skip`] reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; Skip::ALL.len()]);

impl SkipCounts {
    #[inline]
    pub fn add(&mut self, reason: Skip, n: u64) {
        self.0[reason as usize] += n;
    }

    pub fn get(&self, reason: Skip) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn merge(&mut self, other: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }

    /// Non-zero reasons, in a fixed order.
    pub fn nonzero(&self) -> impl Iterator<Item = (Skip, u64)> + '_ {
        Skip::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }
}

impl Serialize for SkipCounts {
    /// A map of the non-zero reasons, in [`Skip::ALL`] order.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (r, n) in self.nonzero() {
            m.serialize_entry(r.name(), &n)?;
        }
        m.end()
    }
}

/// What reading one capture produced, besides its signals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packet records read (EPB, SPB, OPB, legacy records).
    pub packets: u64,
    /// Bytes of input consumed.
    pub bytes: u64,
    /// TCP segments decoded.
    pub tcp: u64,
    /// SYN segments (without ACK), retransmissions included.
    pub syns: u64,
    /// SYN-ACK segments.
    pub synacks: u64,
    /// SYNs whose TCP checksum was verified and wrong (still attempts).
    pub bad_checksum_syns: u64,
    /// Records whose original length is smaller than the captured length or
    /// beyond any real frame; the packet was still decoded.
    pub odd_origlen: u64,
    pub skipped: SkipCounts,
}

impl CaptureStats {
    pub fn merge(&mut self, o: &CaptureStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.tcp += o.tcp;
        self.syns += o.syns;
        self.synacks += o.synacks;
        self.bad_checksum_syns += o.bad_checksum_syns;
        self.odd_origlen += o.odd_origlen;
        self.skipped.merge(&o.skipped);
    }
}

/// A problem worth telling the user about, with the place it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// A [`Skip`] name, or the name of a note that skips nothing.
    pub reason: &'static str,
    /// Byte offset in the (decompressed) input.
    pub offset: u64,
    pub frame: Option<u64>,
    pub message: String,
}

/// How many warnings of one reason are kept per input: enough to point at the
/// problem, bounded so that a corrupt 10 GB file cannot fill memory with
/// messages. The counts stay exact.
pub const MAX_WARNINGS_PER_REASON: usize = 5;

/// Collects warnings with the per-reason bound.
#[derive(Clone, Debug, Default)]
pub struct Warnings {
    pub kept: Vec<Warning>,
    /// Warnings seen per reason; a handful of reasons, so a list suffices.
    seen: Vec<(&'static str, usize)>,
}

impl Warnings {
    pub fn push(&mut self, w: Warning) {
        let i = match self.seen.iter().position(|(r, _)| *r == w.reason) {
            Some(i) => i,
            None => {
                self.seen.push((w.reason, 0));
                self.seen.len() - 1
            }
        };
        if self.seen[i].1 < MAX_WARNINGS_PER_REASON {
            self.kept.push(w);
        }
        self.seen[i].1 += 1;
    }

    /// Whether a warning of this reason would still be kept; callers use it
    /// to avoid formatting messages that would be thrown away.
    pub fn wants(&self, reason: &str) -> bool {
        self.seen
            .iter()
            .find(|(r, _)| *r == reason)
            .is_none_or(|(_, n)| *n < MAX_WARNINGS_PER_REASON)
    }

    /// Adds another collection's warnings (a later stretch of the same
    /// input), keeping the bound and the counts.
    pub fn merge(&mut self, other: Warnings) {
        for w in other.kept {
            self.push(w);
        }
        for (reason, n) in other.seen {
            let kept = n.min(MAX_WARNINGS_PER_REASON);
            if n > kept {
                match self.seen.iter_mut().find(|(r, _)| *r == reason) {
                    Some(e) => e.1 += n - kept,
                    None => self.seen.push((reason, n - kept)),
                }
            }
        }
    }

    /// Counts a warning of `reason` that [`Warnings::wants`] said would not
    /// be kept, without building it.
    pub fn count_dropped(&mut self, reason: &'static str) {
        match self.seen.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.seen.push((reason, 1)),
        }
    }

    /// Warnings of `reason` that were not kept because of the bound.
    pub fn dropped(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.seen
            .iter()
            .filter(|(_, n)| *n > MAX_WARNINGS_PER_REASON)
            .map(|&(r, n)| (r, n - MAX_WARNINGS_PER_REASON))
    }
}
