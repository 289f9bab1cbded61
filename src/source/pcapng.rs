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

use crate::event::Ts;
use crate::stats::Skip;

use super::capture::PacketSink;

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

struct Reader<'d> {
    d: &'d [u8],
    be: bool,
    interfaces: Vec<Interface>,
    frame: u64,
    last_ts: Ts,
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
        if len < 12 || len % 4 != 0 || len > MAX_BLOCK_LEN {
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
}

enum BlockProblem {
    Truncated,
    BadLength(u32),
    BadTrailer(usize),
}

/// Reads a pcapng file. Problems are counted in `sink`, never fatal.
pub fn read(d: &[u8], sink: &mut PacketSink<'_>) {
    let mut r = Reader {
        d,
        be: false,
        interfaces: Vec::new(),
        frame: 0,
        last_ts: Ts(0),
    };
    let mut off = 0usize;
    while off < d.len() {
        if off + 8 <= d.len()
            && u32::from_le_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]]) == SHB
            && !section_header(&mut r, off, sink)
        {
            break;
        }
        let len = match r.block_len(off) {
            Ok(len) => len,
            Err(BlockProblem::Truncated) => {
                sink.skip(
                    Skip::TruncatedRecord,
                    off as u64,
                    Some(r.frame + 1),
                    format!(
                        "block cut short: {} bytes before end of file",
                        d.len() - off
                    ),
                );
                break;
            }
            Err(p) => {
                let what = match p {
                    BlockProblem::BadLength(l) => format!("block claims length {l}"),
                    BlockProblem::BadTrailer(l) => {
                        format!("block of length {l} has a trailer that does not match")
                    }
                    BlockProblem::Truncated => unreachable!("handled above"),
                };
                match resync(&r, off + 1) {
                    Some(next) => {
                        sink.skip(
                            Skip::BadRecordLength,
                            off as u64,
                            Some(r.frame + 1),
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
                            Some(r.frame + 1),
                            format!(
                                "{what}; no valid block follows, {} bytes to the end skipped",
                                d.len() - off
                            ),
                        );
                        break;
                    }
                }
            }
        };
        let block = &d[off..off + len];
        match r.u32_at(off) {
            SHB => {}
            IDB => interface(&mut r, block, off, sink),
            EPB => packet_block(&mut r, block, off, 28, 20, true, sink),
            OPB => packet_block(&mut r, block, off, 28, 20, false, sink),
            SPB => simple_packet(&mut r, block, off, sink),
            _ => {} // statistics, name resolution, secrets, custom: not needed
        }
        off += len;
        sink.advance(off as u64);
    }
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
    if block.len() < 20 {
        sink.skip(
            Skip::BadBlock,
            off as u64,
            None,
            "interface description block shorter than 20 bytes".into(),
        );
        // Keep interface numbering aligned with the writer's.
        r.interfaces.push(Interface {
            linktype: u32::MAX,
            units: 1_000_000,
            offset_secs: 0,
        });
        return;
    }
    let parsed = if r.be {
        parse_interfacedescriptionblock_be(block)
    } else {
        parse_interfacedescriptionblock_le(block)
    };
    let linktype = u32::from(r.u16_at(off + 8));
    let iface = match parsed {
        Ok((_, idb)) => match idb.ts_resolution() {
            Some(units) if units > 0 => Interface {
                linktype,
                units,
                offset_secs: idb.ts_offset(),
            },
            _ => {
                sink.skip(
                    Skip::BadBlock,
                    off as u64,
                    None,
                    format!(
                        "interface {} has an invalid if_tsresol {}; microseconds assumed",
                        r.interfaces.len(),
                        idb.if_tsresol
                    ),
                );
                Interface {
                    linktype,
                    units: 1_000_000,
                    offset_secs: idb.ts_offset(),
                }
            }
        },
        Err(e) => {
            sink.skip(
                Skip::BadBlock,
                off as u64,
                None,
                format!(
                    "interface {} options unreadable ({e:?}); microseconds assumed",
                    r.interfaces.len()
                ),
            );
            Interface {
                linktype,
                units: 1_000_000,
                offset_secs: 0,
            }
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
    hdr: usize,
    len_at: usize,
    enhanced: bool,
    sink: &mut PacketSink<'_>,
) {
    r.frame += 1;
    let frame = r.frame;
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
    r.last_ts = ts;
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
    r.frame += 1;
    let frame = r.frame;
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
        r.last_ts,
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
