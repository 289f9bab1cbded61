//! pcapng: sections in either byte order, several interfaces each with its
//! own link type, timestamp resolution and offset.
//!
//! Interface Description Blocks are parsed with `pcap-parser` (options and
//! all, rare and not on the hot path). Packet blocks are read here: the
//! crate's Enhanced Packet Block parser collects options into a `Vec` per
//! packet and truncates seconds to 32 bits, and portent needs neither the
//! allocation nor the year-2106 limit. Every block length is checked against
//! the data and its trailer; a corrupt block is skipped by scanning for the
//! next valid one.

use pcap_parser::pcapng::{parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le};

use crate::stats::Skip;
use crate::time::Ts;

use super::walk::{read_records, CaptureOutput, ChunkWalker, PacketSink, Prefetch, BOUNDARY_CHAIN};

/// Block types.
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 0x0000_0001;
const OPB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;

/// The largest block portent accepts: a packet block holds at most one
/// packet of [`super::pcap::MAX_SNAPLEN_HONOURED`] plus its header and
/// options. A larger length is a corrupt header.
pub const MAX_BLOCK_LEN: u32 = super::pcap::MAX_SNAPLEN_HONOURED + 64 * 1024;

/// Interfaces per section. Real captures have a handful; the bound keeps a
/// crafted file from growing the table without limit.
pub const MAX_INTERFACES: usize = 65_536;

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second (10^n or 2^n from `if_tsresol`).
    units: u64,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_secs: i64,
}

impl Interface {
    #[inline]
    fn ts(&self, high: u32, low: u32) -> Ts {
        let t = (u64::from(high) << 32) | u64::from(low);
        let secs = t / self.units;
        let frac = t % self.units;
        let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(self.units)) as u32;
        Ts::from_parts((secs as i64).saturating_add(self.offset_secs), nanos)
    }
}

/// What a walk needs to know from the blocks before it.
#[derive(Clone, Debug, Default)]
struct State {
    be: bool,
    interfaces: Vec<Interface>,
    last_ts: Option<Ts>,
}

/// The file and the state at `first`, the first packet block.
struct Walker<'d> {
    d: &'d [u8],
    first: usize,
    template: State,
    /// The blocks before `first` were read without a problem, so a walk may
    /// start at `first` with `template`; otherwise only a whole walk from 0.
    clean_prefix: bool,
}

/// One walk over a stretch of blocks.
struct Reader<'d> {
    d: &'d [u8],
    be: bool,
    interfaces: Vec<Interface>,
    last_ts: Option<Ts>,
}

impl Reader<'_> {
    #[inline]
    fn u32_at(&self, at: usize) -> u32 {
        let b = [self.d[at], self.d[at + 1], self.d[at + 2], self.d[at + 3]];
        if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    #[inline]
    fn u16_at(&self, at: usize) -> u16 {
        let b = [self.d[at], self.d[at + 1]];
        if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    /// Checks the block at `at`: its length, alignment and trailer. Returns
    /// its total length, or what is wrong with it.
    fn block_len(&self, at: usize) -> Result<usize, BlockProblem> {
        if at + 12 > self.d.len() {
            return Err(BlockProblem::Truncated);
        }
        let len = self.u32_at(at + 4);
        if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK_LEN {
            return Err(BlockProblem::BadLength(len));
        }
        let len = len as usize;
        if at + len > self.d.len() {
            return Err(BlockProblem::Truncated);
        }
        if self.u32_at(at + len - 4) as usize != len {
            return Err(BlockProblem::BadTrailer(len));
        }
        Ok(len)
    }

    fn is_shb(&self, off: usize) -> bool {
        let d = self.d;
        off + 8 <= d.len()
            && u32::from_le_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]]) == SHB
    }
}

enum BlockProblem {
    Truncated,
    BadLength(u32),
    BadTrailer(usize),
}

/// Reads a pcapng file. Problems are counted, never fatal.
pub fn read(
    d: &[u8],
    input: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
    chunk_bytes: usize,
) -> CaptureOutput {
    let walker = prefix(d);
    let first = if walker.clean_prefix { walker.first } else { 0 };
    read_records(d, first, &walker, input, flow_ports, progress, chunk_bytes)
}

/// Reads the blocks before the first packet (section header, interfaces)
/// without reporting anything, so that chunks can start with that state.
fn prefix(d: &[u8]) -> Walker<'_> {
    let mut r = Reader {
        d,
        be: false,
        interfaces: Vec::new(),
        last_ts: None,
    };
    let mut off = 0;
    let mut clean = false;
    while off < d.len() {
        if r.is_shb(off) {
            match d.get(off + 8..off + 12) {
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => r.be = false,
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => r.be = true,
                _ => break,
            }
            r.interfaces.clear();
        }
        let Ok(len) = r.block_len(off) else { break };
        match r.u32_at(off) {
            EPB | OPB | SPB => {
                clean = true;
                break;
            }
            IDB => match parse_idb(&r, &d[off..off + len], off) {
                Ok(iface) => r.interfaces.push(iface),
                Err(_) => break,
            },
            _ => {}
        }
        off += len;
    }
    Walker {
        d,
        first: off,
        template: State {
            be: r.be,
            interfaces: r.interfaces,
            last_ts: None,
        },
        clean_prefix: clean,
    }
}

impl ChunkWalker for Walker<'_> {
    fn boundary(&self, at: usize) -> Option<usize> {
        if !self.clean_prefix {
            return None;
        }
        let r = Reader {
            d: self.d,
            be: self.template.be,
            interfaces: Vec::new(),
            last_ts: None,
        };
        // Packet blocks are 4-byte aligned relative to the file start.
        let mut cand = at + (4 - at % 4) % 4;
        while cand + 12 <= self.d.len() {
            let mut p = cand;
            let mut ok = true;
            for _ in 0..BOUNDARY_CHAIN {
                if p == self.d.len() {
                    break;
                }
                // The length first: it checks that the block is there at
                // all (a file need not end on a 4-byte boundary).
                match r.block_len(p).map(|len| (r.u32_at(p), len)) {
                    Ok((EPB | OPB | SPB | 4 | 5, len)) => p += len,
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return Some(cand);
            }
            cand += 4;
        }
        None
    }

    fn walk(
        &self,
        start: usize,
        end: usize,
        whole: bool,
        sink: &mut PacketSink<'_>,
    ) -> Option<usize> {
        let (state, start) = if whole && !self.clean_prefix {
            (State::default(), 0)
        } else {
            (self.template.clone(), start)
        };
        let mut r = Reader {
            d: self.d,
            be: state.be,
            interfaces: state.interfaces,
            last_ts: state.last_ts,
        };
        let from_first = whole || start == self.first;
        walk(&mut r, start, end, whole, from_first, sink)
    }
}

/// Walks blocks from `off` while below `end`. A walk that is not `whole`
/// stops with `None` at a block that changes the state (a new section or
/// interface), because the other chunks could not know about it: the first
/// chunk as much as the later ones, which start from the state before the
/// first packet. `from_first`: the walk starts at the first packet block,
/// so a simple packet block there has no earlier time to miss.
fn walk(
    r: &mut Reader<'_>,
    mut off: usize,
    end: usize,
    whole: bool,
    from_first: bool,
    sink: &mut PacketSink<'_>,
) -> Option<usize> {
    let d = r.d;
    let mut prefetch = Prefetch::default();
    while off < end {
        prefetch.ahead(d, off);
        if r.is_shb(off) {
            if !whole {
                return None;
            }
            if !section_header(r, off, sink) {
                return Some(d.len());
            }
        }
        let len = match r.block_len(off) {
            Ok(len) => len,
            Err(BlockProblem::Truncated) => {
                sink.skip(
                    Skip::TruncatedRecord,
                    off as u64,
                    Some(sink.upcoming_frame()),
                    format!(
                        "block cut short: {} bytes before end of file",
                        d.len() - off
                    ),
                );
                return Some(d.len());
            }
            Err(p) => {
                let what = match p {
                    BlockProblem::BadLength(l) => format!("block claims length {l}"),
                    BlockProblem::BadTrailer(l) => {
                        format!("block of length {l} has a trailer that does not match")
                    }
                    BlockProblem::Truncated => unreachable!("handled above"),
                };
                let next = resync(r, off + 1);
                let message = match next {
                    Some(next) => format!(
                        "{what}; resynchronised at offset {next} ({} bytes skipped)",
                        next - off
                    ),
                    None => format!(
                        "{what}; no valid block follows, {} bytes to the end skipped",
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
                    None => return Some(d.len()),
                }
            }
        };
        let block = &d[off..off + len];
        match r.u32_at(off) {
            SHB => {}
            IDB if !whole => return None,
            IDB => interface(r, block, off, sink),
            EPB => packet_block(r, block, off, true, sink),
            OPB => packet_block(r, block, off, false, sink),
            SPB if r.last_ts.is_none() && !from_first => return None,
            SPB => simple_packet(r, block, off, sink),
            _ => {} // statistics, name resolution, secrets, custom: not needed
        }
        off += len;
        sink.advance(off as u64);
    }
    Some(off)
}

/// Reads the byte-order magic of a Section Header Block; a new section
/// forgets the previous section's interfaces. Returns false when the file
/// cannot be read further.
fn section_header(r: &mut Reader<'_>, off: usize, sink: &mut PacketSink<'_>) -> bool {
    if off + 12 > r.d.len() {
        sink.skip(
            Skip::TruncatedRecord,
            off as u64,
            None,
            "section header block cut short".into(),
        );
        return false;
    }
    match &r.d[off + 8..off + 12] {
        [0x4d, 0x3c, 0x2b, 0x1a] => r.be = false,
        [0x1a, 0x2b, 0x3c, 0x4d] => r.be = true,
        other => {
            sink.skip(
                Skip::BadBlock,
                off as u64,
                None,
                format!(
                    "section header with unknown byte-order magic {}",
                    super::magic_hex(other)
                ),
            );
            return false;
        }
    }
    r.interfaces.clear();
    true
}

/// Parses an Interface Description Block with `pcap-parser`: link type,
/// timestamp resolution and offset.
fn parse_idb(r: &Reader<'_>, block: &[u8], off: usize) -> Result<Interface, (Interface, String)> {
    let fallback = |linktype| Interface {
        linktype,
        units: 1_000_000,
        offset_secs: 0,
    };
    if block.len() < 20 {
        return Err((
            fallback(u32::MAX),
            "interface description block shorter than 20 bytes".into(),
        ));
    }
    let linktype = u32::from(r.u16_at(off + 8));
    let parsed = if r.be {
        parse_interfacedescriptionblock_be(block)
    } else {
        parse_interfacedescriptionblock_le(block)
    };
    match parsed {
        Ok((_, idb)) => match idb.ts_resolution() {
            Some(units) if units > 0 => Ok(Interface {
                linktype,
                units,
                offset_secs: idb.ts_offset(),
            }),
            _ => Err((
                Interface {
                    offset_secs: idb.ts_offset(),
                    ..fallback(linktype)
                },
                format!(
                    "invalid if_tsresol {}; microseconds assumed",
                    idb.if_tsresol
                ),
            )),
        },
        Err(e) => Err((
            fallback(linktype),
            format!("options unreadable ({e:?}); microseconds assumed"),
        )),
    }
}

fn interface(r: &mut Reader<'_>, block: &[u8], off: usize, sink: &mut PacketSink<'_>) {
    if r.interfaces.len() >= MAX_INTERFACES {
        sink.skip(
            Skip::BadBlock,
            off as u64,
            None,
            format!("more than {MAX_INTERFACES} interfaces in one section; ignored"),
        );
        return;
    }
    let iface = match parse_idb(r, block, off) {
        Ok(i) => i,
        Err((i, why)) => {
            sink.skip(
                Skip::BadBlock,
                off as u64,
                None,
                format!("interface {}: {why}", r.interfaces.len()),
            );
            // Kept anyway, so later interface numbers stay right.
            i
        }
    };
    r.interfaces.push(iface);
}

/// Enhanced (and obsolete) Packet Blocks: interface id, 64-bit timestamp,
/// captured and original length, data. The OPB has a 16-bit interface id
/// followed by a 16-bit drops count; the rest of the layout is the same.
fn packet_block(
    r: &mut Reader<'_>,
    block: &[u8],
    off: usize,
    enhanced: bool,
    sink: &mut PacketSink<'_>,
) {
    const HDR: usize = 28;
    const LEN_AT: usize = 20;
    let (hdr, len_at) = (HDR, LEN_AT);
    let frame = sink.next_frame();
    if block.len() < hdr + 4 {
        sink.skip(
            Skip::BadBlock,
            off as u64,
            Some(frame),
            "packet block shorter than its header".into(),
        );
        return;
    }
    let if_id = if enhanced {
        r.u32_at(off + 8) as usize
    } else {
        usize::from(r.u16_at(off + 8))
    };
    let caplen = r.u32_at(off + len_at);
    let origlen = r.u32_at(off + len_at + 4);
    let room = block.len() - hdr - 4;
    if caplen as usize > room {
        sink.skip(
            Skip::BadRecordLength,
            off as u64,
            Some(frame),
            format!("packet claims {caplen} captured bytes in a block with room for {room}"),
        );
        return;
    }
    let Some(iface) = r.interfaces.get(if_id).copied() else {
        sink.skip(
            Skip::UnknownInterface,
            off as u64,
            Some(frame),
            format!(
                "packet on interface {if_id}, but the section declares {}",
                r.interfaces.len()
            ),
        );
        return;
    };
    if origlen < caplen || origlen > super::pcap::MAX_PLAUSIBLE_ORIGLEN {
        sink.odd_origlen(off as u64, frame, caplen, origlen);
    }
    let ts = iface.ts(r.u32_at(off + 12), r.u32_at(off + 16));
    r.last_ts = Some(ts);
    sink.packet(
        ts,
        iface.linktype,
        &block[hdr..hdr + caplen as usize],
        frame,
        off as u64,
    );
}

/// Simple Packet Blocks carry no interface id (always 0) and no timestamp:
/// portent gives them the time of the packet before.
fn simple_packet(r: &mut Reader<'_>, block: &[u8], off: usize, sink: &mut PacketSink<'_>) {
    let frame = sink.next_frame();
    if block.len() < 16 {
        sink.skip(
            Skip::BadBlock,
            off as u64,
            Some(frame),
            "simple packet block shorter than its header".into(),
        );
        return;
    }
    let Some(iface) = r.interfaces.first().copied() else {
        sink.skip(
            Skip::UnknownInterface,
            off as u64,
            Some(frame),
            "simple packet block before any interface".into(),
        );
        return;
    };
    let origlen = r.u32_at(off + 8) as usize;
    let caplen = origlen.min(block.len() - 16);
    sink.packet(
        r.last_ts.unwrap_or_default(),
        iface.linktype,
        &block[12..12 + caplen],
        frame,
        off as u64,
    );
}

/// The next offset holding a block of a known type whose length and trailer
/// check out.
fn resync(r: &Reader<'_>, from: usize) -> Option<usize> {
    let mut at = from;
    while at + 12 <= r.d.len() {
        let ty = r.u32_at(at);
        if matches!(ty, SHB | IDB | OPB | SPB | EPB | 4 | 5 | 10) && r.block_len(at).is_ok() {
            return Some(at);
        }
        at += 1;
    }
    None
}
