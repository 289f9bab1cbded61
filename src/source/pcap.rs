//! Classic libpcap files: both byte orders, micro- and nanosecond stamps,
//! and the "modified" (Kuznetzov) variant with its longer record header.
//!
//! The file header is parsed with `pcap-parser`. Records are walked here:
//! the loop must check every length against a bound before trusting it, and
//! must resynchronise after a corrupt header instead of giving up, which the
//! crate's streaming frame parser (it reports a huge length as "incomplete")
//! cannot tell apart from a clean end of file.

use pcap_parser::pcap::parse_pcap_header;

use crate::stats::Skip;
use crate::time::Ts;

use super::walk::{read_records, CaptureOutput, ChunkWalker, PacketSink, Prefetch, BOUNDARY_CHAIN};
use super::SourceError;

/// The largest captured length portent accepts in a record: libpcap's
/// MAXIMUM_SNAPLEN (262144). A larger value is a corrupt header, not a
/// packet; the file's own snaplen is honoured above this only up to
/// [`MAX_SNAPLEN_HONOURED`].
pub const MAX_CAPLEN: u32 = 262_144;

/// Some link types (USB, D-Bus) legitimately use snap lengths above 256 KiB;
/// a file that declares one is believed up to this size.
pub const MAX_SNAPLEN_HONOURED: u32 = 16 << 20;

/// A frame's original length beyond this is not a real frame (the largest
/// jumbo/TSO frames are 64 KiB plus headers); such values are counted.
pub const MAX_PLAUSIBLE_ORIGLEN: u32 = 16 << 20;

/// How records are laid out in one file, and the file itself.
struct Layout<'d> {
    d: &'d [u8],
    be: bool,
    nanos: bool,
    hdr_len: usize,
    max_caplen: u32,
    linktype: u32,
}

impl Layout<'_> {
    #[inline]
    fn u32_at(&self, at: usize) -> u32 {
        let d = self.d;
        let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
        if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Whether the record header at `at` is plausible on its own.
    fn plausible(&self, at: usize) -> bool {
        if at + self.hdr_len > self.d.len() {
            return false;
        }
        let frac = self.u32_at(at + 4);
        let caplen = self.u32_at(at + 8);
        let origlen = self.u32_at(at + 12);
        let frac_max = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        frac < frac_max
            && caplen <= self.max_caplen
            && caplen > 0
            && origlen >= caplen
            && origlen <= MAX_PLAUSIBLE_ORIGLEN
    }
}

/// Reads a classic pcap file. Errors only when the file header itself is
/// unusable; every later problem is counted and skipped.
pub fn read(
    name: &str,
    d: &[u8],
    input: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
    chunk_bytes: usize,
) -> Result<CaptureOutput, SourceError> {
    let hdr = match parse_pcap_header(d) {
        Ok((_, h)) => h,
        Err(e) => {
            let what = if d.len() < 24 {
                format!("pcap file header cut short ({} of 24 bytes)", d.len())
            } else {
                format!("unreadable pcap file header: {e:?}")
            };
            return Err(SourceError::BadHeader {
                name: name.to_string(),
                offset: 0,
                what,
            });
        }
    };
    let snaplen = hdr.snaplen;
    let layout = Layout {
        d,
        be: hdr.is_bigendian(),
        nanos: hdr.is_nanosecond_precision(),
        hdr_len: if hdr.is_modified_format() { 24 } else { 16 },
        max_caplen: if snaplen > MAX_CAPLEN && snaplen <= MAX_SNAPLEN_HONOURED {
            snaplen
        } else {
            MAX_CAPLEN
        },
        linktype: hdr.network.0 as u32,
    };
    Ok(read_records(
        d,
        24,
        &layout,
        input,
        flow_ports,
        progress,
        chunk_bytes,
    ))
}

impl ChunkWalker for Layout<'_> {
    fn boundary(&self, at: usize) -> Option<usize> {
        let mut cand = at;
        while cand + self.hdr_len <= self.d.len() {
            if self.chain_from(cand) {
                return Some(cand);
            }
            cand += 1;
        }
        None
    }

    fn walk(
        &self,
        start: usize,
        end: usize,
        _whole: bool,
        sink: &mut PacketSink<'_>,
    ) -> Option<usize> {
        Some(self.walk_records(start, end, sink))
    }
}

impl Layout<'_> {
    /// Whether [`BOUNDARY_CHAIN`] plausible records follow one another from
    /// `at` (or reach the end of the data exactly).
    fn chain_from(&self, at: usize) -> bool {
        let mut p = at;
        for _ in 0..BOUNDARY_CHAIN {
            if p == self.d.len() {
                return true;
            }
            if !self.plausible(p) {
                return false;
            }
            p += self.hdr_len + self.u32_at(p + 8) as usize;
        }
        p <= self.d.len()
    }

    fn walk_records(&self, mut off: usize, end: usize, sink: &mut PacketSink<'_>) -> usize {
        let d = self.d;
        let frac_scale: u32 = if self.nanos { 1 } else { 1000 };
        let frac_max = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        let mut prefetch = Prefetch::default();
        while off < end {
            prefetch.ahead(d, off);
            if off + self.hdr_len > d.len() {
                sink.skip(
                    Skip::TruncatedRecord,
                    off as u64,
                    Some(sink.upcoming_frame()),
                    format!(
                        "record header cut short: {} of {} bytes before end of file",
                        d.len() - off,
                        self.hdr_len
                    ),
                );
                return d.len();
            }
            let ts_sec = self.u32_at(off);
            let frac = self.u32_at(off + 4);
            let caplen = self.u32_at(off + 8);
            let origlen = self.u32_at(off + 12);
            if caplen > self.max_caplen || frac >= frac_max {
                let what = if caplen > self.max_caplen {
                    format!(
                        "record claims captured length {caplen} (bound {})",
                        self.max_caplen
                    )
                } else {
                    format!("record timestamp fraction {frac} out of range")
                };
                let next = self.resync(off + 1);
                let message = match next {
                    Some(next) => format!(
                        "{what}; resynchronised at offset {next} ({} bytes skipped)",
                        next - off
                    ),
                    None => format!(
                        "{what}; no valid record follows, {} bytes to the end skipped",
                        d.len() - off
                    ),
                };
                sink.skip(
                    Skip::BadRecordLength,
                    off as u64,
                    Some(sink.upcoming_frame()),
                    message,
                );
                match next {
                    Some(next) => {
                        off = next;
                        continue;
                    }
                    None => return d.len(),
                }
            }
            let data_start = off + self.hdr_len;
            let data_end = data_start + caplen as usize;
            if data_end > d.len() {
                sink.skip(
                    Skip::TruncatedRecord,
                    off as u64,
                    Some(sink.upcoming_frame()),
                    format!(
                        "record data cut short: {} of {caplen} bytes before end of file",
                        d.len() - data_start
                    ),
                );
                return d.len();
            }
            let frame = sink.next_frame();
            if origlen < caplen || origlen > MAX_PLAUSIBLE_ORIGLEN {
                sink.odd_origlen(off as u64, frame, caplen, origlen);
            }
            let ts = Ts::from_parts(i64::from(ts_sec), frac * frac_scale);
            sink.packet(
                ts,
                self.linktype,
                &d[data_start..data_end],
                frame,
                off as u64,
            );
            off = data_end;
            sink.advance(off as u64);
        }
        off
    }

    /// Looks for the next offset where a plausible record header starts and
    /// is followed by another plausible header (or the end of the file): the
    /// two together rule out most chance matches in packet bytes.
    fn resync(&self, from: usize) -> Option<usize> {
        let mut at = from;
        while at + self.hdr_len <= self.d.len() {
            if self.plausible(at) {
                let next = at + self.hdr_len + self.u32_at(at + 8) as usize;
                if next == self.d.len() || (next < self.d.len() && self.plausible(next)) {
                    return Some(at);
                }
            }
            at += 1;
        }
        None
    }
}
