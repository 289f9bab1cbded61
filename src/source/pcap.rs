//! Classic libpcap files: both byte orders, micro- and nanosecond stamps,
//! and the "modified" (Kuznetzov) variant with its longer record header.
//!
//! The file header is parsed with `pcap-parser`. Records are walked here:
//! the loop must check every length against a bound before trusting it, and
//! must resynchronise after a corrupt header instead of giving up, which the
//! crate's streaming frame parser (it reports a huge length as "incomplete")
//! cannot tell apart from a clean end of file.

use pcap_parser::pcap::parse_pcap_header;

use crate::event::Ts;
use crate::stats::Skip;

use super::capture::PacketSink;
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

struct Layout {
    be: bool,
    nanos: bool,
    hdr_len: usize,
    max_caplen: u32,
    linktype: u32,
}

impl Layout {
    #[inline]
    fn u32_at(&self, d: &[u8], at: usize) -> u32 {
        let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
        if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Whether the record header at `at` is plausible on its own.
    fn plausible(&self, d: &[u8], at: usize) -> bool {
        if at + self.hdr_len > d.len() {
            return false;
        }
        let frac = self.u32_at(d, at + 4);
        let caplen = self.u32_at(d, at + 8);
        let origlen = self.u32_at(d, at + 12);
        let frac_max = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        frac < frac_max
            && caplen <= self.max_caplen
            && caplen > 0
            && origlen >= caplen
            && origlen <= MAX_PLAUSIBLE_ORIGLEN
    }
}

/// Reads a classic pcap file. Errors only when the file header itself is
/// unusable; every later problem is counted in `sink` and skipped.
pub fn read(name: &str, d: &[u8], sink: &mut PacketSink<'_>) -> Result<(), SourceError> {
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
    walk(d, 24, &layout, sink);
    Ok(())
}

fn walk(d: &[u8], mut off: usize, l: &Layout, sink: &mut PacketSink<'_>) {
    let mut frame: u64 = 0;
    let frac_scale: u32 = if l.nanos { 1 } else { 1000 };
    let frac_max = if l.nanos { 1_000_000_000 } else { 1_000_000 };
    while off < d.len() {
        if off + l.hdr_len > d.len() {
            sink.skip(
                Skip::TruncatedRecord,
                off as u64,
                Some(frame + 1),
                format!(
                    "record header cut short: {} of {} bytes before end of file",
                    d.len() - off,
                    l.hdr_len
                ),
            );
            break;
        }
        let ts_sec = l.u32_at(d, off);
        let frac = l.u32_at(d, off + 4);
        let caplen = l.u32_at(d, off + 8);
        let origlen = l.u32_at(d, off + 12);
        if caplen > l.max_caplen || frac >= frac_max {
            let what = if caplen > l.max_caplen {
                format!(
                    "record claims captured length {caplen} (bound {})",
                    l.max_caplen
                )
            } else {
                format!("record timestamp fraction {frac} out of range")
            };
            match resync(d, off + 1, l) {
                Some(next) => {
                    sink.skip(
                        Skip::BadRecordLength,
                        off as u64,
                        Some(frame + 1),
                        format!(
                            "{what}; resynchronised at offset {next} ({} bytes skipped)",
                            next - off
                        ),
                    );
                    off = next;
                    continue;
                }
                None => {
                    sink.skip(
                        Skip::BadRecordLength,
                        off as u64,
                        Some(frame + 1),
                        format!(
                            "{what}; no valid record follows, {} bytes to the end skipped",
                            d.len() - off
                        ),
                    );
                    break;
                }
            }
        }
        let data_start = off + l.hdr_len;
        let data_end = data_start + caplen as usize;
        if data_end > d.len() {
            sink.skip(
                Skip::TruncatedRecord,
                off as u64,
                Some(frame + 1),
                format!(
                    "record data cut short: {} of {caplen} bytes before end of file",
                    d.len() - data_start
                ),
            );
            break;
        }
        frame += 1;
        if origlen < caplen || origlen > MAX_PLAUSIBLE_ORIGLEN {
            sink.odd_origlen(off as u64, frame, caplen, origlen);
        }
        let ts = Ts::from_parts(i64::from(ts_sec), frac * frac_scale);
        sink.packet(ts, l.linktype, &d[data_start..data_end], frame, off as u64);
        off = data_end;
        sink.advance(off as u64);
    }
}

/// Looks for the next offset where a plausible record header starts and is
/// followed by another plausible header (or the end of the file): the two
/// together rule out most chance matches in packet bytes.
fn resync(d: &[u8], from: usize, l: &Layout) -> Option<usize> {
    let mut at = from;
    while at + l.hdr_len <= d.len() {
        if l.plausible(d, at) {
            let next = at + l.hdr_len + l.u32_at(d, at + 8) as usize;
            if next == d.len() || (next < d.len() && l.plausible(d, next)) {
                return Some(at);
            }
        }
        at += 1;
    }
    None
}
