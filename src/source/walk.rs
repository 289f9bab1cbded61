//! The capture walker: from a container's records to handshake signals,
//! the part shared by the pcap and pcapng readers (the dispatcher that picks
//! a reader is [`super::capture`]).
//!
//! The container readers find records and timestamps; [`PacketSink`] decodes
//! each packet, keeps the SYN and SYN-ACK signals and counts everything else.
//! Nothing here allocates per packet: signals are pushed only for handshake
//! segments, and warnings are formatted only while the per-reason bound
//! allows them to be kept.

use rayon::prelude::*;

use crate::decode::{self, Decoded, TCP_ACK};
use crate::event::{FiveTuple, Origin, Proto, SignalKind, TcpSignal};
use crate::stats::{CaptureStats, Skip, Warning, Warnings};
use crate::time::Ts;

use super::conn::ConnTable;
use super::flow::{self, ExportRef};
use super::Format;

/// How often (in input bytes) readers report progress.
pub const PROGRESS_STEP: u64 = 8 << 20;

/// Bytes of capture per parallel chunk: large enough that finding a chunk's
/// first record and merging results cost nothing next to reading it, small
/// enough that two cores share a 100 MB file evenly.
pub const CHUNK_BYTES: usize = 32 << 20;

/// How many consecutive plausible record headers confirm a guessed record
/// boundary in the middle of a file. A wrong guess is still caught (the chunk
/// before would not end exactly there) and the file is then read
/// sequentially; the chain only makes that rare.
pub const BOUNDARY_CHAIN: usize = 8;

/// Everything reading one capture produced.
#[derive(Debug, Default)]
pub struct CaptureOutput {
    pub format: Option<Format>,
    /// Stretches read in parallel (1: one sequential walk).
    pub chunks: usize,
    pub signals: Vec<TcpSignal>,
    /// Flow-export datagrams found in the capture, in frame order; their
    /// bytes are in `export_bytes` (one arena, not one allocation each).
    pub exports: Vec<ExportRef>,
    pub export_bytes: Vec<u8>,
    pub stats: CaptureStats,
    pub warnings: Warnings,
    /// Every TCP connection, both directions.
    pub conns: ConnTable,
}

/// Receives each packet the container readers find.
pub struct PacketSink<'p> {
    /// The whole input: export datagrams are referred to where they lie in
    /// it, not copied.
    data: &'p [u8],
    input: u32,
    /// UDP destination ports whose datagrams are taken as flow exports on
    /// their version number alone (others need a consistent header).
    flow_ports: &'p [u16],
    /// Packet records seen so far (the frame number of the last one).
    frames: u64,
    pub out: CaptureOutput,
    progress: &'p (dyn Fn(u64) + Sync),
    reported: u64,
}

impl<'p> PacketSink<'p> {
    pub fn new(
        data: &'p [u8],
        input: u32,
        flow_ports: &'p [u16],
        progress: &'p (dyn Fn(u64) + Sync),
    ) -> Self {
        PacketSink {
            data,
            input,
            flow_ports,
            frames: 0,
            out: CaptureOutput::default(),
            progress,
            reported: 0,
        }
    }

    /// Counts a packet record and returns its 1-based frame number.
    #[inline]
    pub fn next_frame(&mut self) -> u64 {
        self.frames += 1;
        self.frames
    }

    /// The frame number the next packet record will get.
    pub fn upcoming_frame(&self) -> u64 {
        self.frames + 1
    }

    /// One packet record. `offset` is where its record starts, for messages.
    #[inline]
    pub fn packet(&mut self, ts: Ts, linktype: u32, data: &[u8], frame: u64, offset: u64) {
        self.out.stats.packets += 1;
        match decode::decode(linktype, data) {
            Ok(Decoded::Other) => {}
            Ok(Decoded::Tcp(seg)) => {
                self.out.stats.tcp += 1;
                let at = self.offset_in_input(seg.payload);
                self.out.conns.segment(ts, &seg, at);
                if !seg.is_handshake() {
                    return;
                }
                let kind = if seg.flags & TCP_ACK == 0 {
                    self.out.stats.syns += 1;
                    if seg.checksum_ok == Some(false) {
                        self.out.stats.bad_checksum_syns += 1;
                    }
                    SignalKind::Syn
                } else {
                    self.out.stats.synacks += 1;
                    SignalKind::SynAck
                };
                self.out.signals.push(TcpSignal {
                    ts,
                    tuple: FiveTuple {
                        src: seg.src,
                        sport: seg.sport,
                        dst: seg.dst,
                        dport: seg.dport,
                        proto: Proto::Tcp,
                    },
                    kind,
                    seq: seg.seq,
                    checksum_ok: seg.checksum_ok,
                    origin: Origin {
                        input: self.input,
                        frame,
                    },
                });
            }
            Ok(Decoded::Udp(u)) => {
                if flow::looks_like_export(u.payload, self.flow_ports.contains(&u.dport)) {
                    // Decoding is in place, so the datagram lies in the
                    // input; only if it ever did not is it copied.
                    let at = self.offset_in_input(u.payload);
                    let in_input = at.is_some();
                    let start = if let Some(at) = at {
                        at as usize
                    } else {
                        let s = self.out.export_bytes.len();
                        self.out.export_bytes.extend_from_slice(u.payload);
                        s
                    };
                    self.out.exports.push(ExportRef {
                        exporter: u.src,
                        exporter_port: u.sport,
                        frame,
                        offset,
                        in_input,
                        start,
                        len: u.payload.len(),
                    });
                }
            }
            Err(reason) => self.skip_packet(reason, linktype, frame, offset),
        }
    }

    /// Where `bytes` (a slice of a packet) lie in the input, when they do:
    /// decoding is in place, so they always should.
    #[inline]
    fn offset_in_input(&self, bytes: &[u8]) -> Option<u64> {
        let at = (bytes.as_ptr() as usize).wrapping_sub(self.data.as_ptr() as usize);
        let end = at.checked_add(bytes.len())?;
        (end <= self.data.len()).then_some(at as u64)
    }

    #[cold]
    fn skip_packet(&mut self, reason: Skip, linktype: u32, frame: u64, offset: u64) {
        self.out.stats.skipped.add(reason, 1);
        if self.out.warnings.wants(reason.name()) {
            let message = match reason {
                Skip::UnknownLinktype => format!("link type {linktype} is not decoded"),
                Skip::ShortLinkHeader => "packet shorter than its link-layer header".into(),
                Skip::BadIpHeader => "IP header missing, cut short or invalid".into(),
                Skip::ShortTcpHeader => "TCP header cut short".into(),
                Skip::TunnelTooDeep => format!(
                    "more than {} nested encapsulations",
                    decode::MAX_ENCAP_DEPTH
                ),
                other => other.name().into(),
            };
            self.out.warnings.push(Warning {
                reason: reason.name(),
                offset,
                frame: Some(frame),
                message,
            });
        }
    }

    /// A problem with the container itself (not one packet).
    #[cold]
    pub fn skip(&mut self, reason: Skip, offset: u64, frame: Option<u64>, message: String) {
        self.out.stats.skipped.add(reason, 1);
        self.out.warnings.push(Warning {
            reason: reason.name(),
            offset,
            frame,
            message,
        });
    }

    /// A record whose original length is below its captured length or
    /// beyond any real frame: counted, warned about, and still decoded.
    #[cold]
    pub fn odd_origlen(&mut self, offset: u64, frame: u64, caplen: u32, origlen: u32) {
        self.out.stats.odd_origlen += 1;
        if self.out.warnings.wants("odd_origlen") {
            self.out.warnings.push(Warning {
                reason: "odd_origlen",
                offset,
                frame: Some(frame),
                message: format!(
                    "record claims original length {origlen} for {caplen} captured bytes; packet decoded anyway"
                ),
            });
        }
    }

    /// Called by readers as they advance; reports progress in steps.
    #[inline]
    pub fn advance(&mut self, offset: u64) {
        if offset.saturating_sub(self.reported) >= PROGRESS_STEP {
            (self.progress)(offset - self.reported);
            self.reported = offset;
        }
    }

    /// Ends a walk that stopped at `end`, reporting the last progress.
    fn finish(self, end: u64) -> (CaptureOutput, u64) {
        (self.progress)(end.saturating_sub(self.reported));
        (self.out, self.frames)
    }
}

/// A container reader that can walk any stretch of records, so a large file
/// can be read in parallel chunks.
pub trait ChunkWalker: Sync {
    /// The first record boundary at or after `at`, confirmed by a chain of
    /// [`BOUNDARY_CHAIN`] plausible records (or by the end of the data).
    fn boundary(&self, at: usize) -> Option<usize>;

    /// Walks records from `start` while the offset is below `end`, feeding
    /// `sink`. Returns where it stopped, or `None` when the stretch needs
    /// state from before `start` that the walker does not have (then the
    /// whole file is read in one walk instead). `whole` is true for that
    /// single walk over everything.
    fn walk(
        &self,
        start: usize,
        end: usize,
        whole: bool,
        sink: &mut PacketSink<'_>,
    ) -> Option<usize>;
}

/// Reads records from `first` to the end of `len` bytes: in parallel chunks
/// when the data is large (each chunk after the first starts at a boundary
/// found by [`ChunkWalker::boundary`]), sequentially otherwise or when the
/// chunks do not line up. Frame numbers are renumbered across chunks so the
/// result is identical to a sequential read.
pub fn read_records(
    data: &[u8],
    first: usize,
    walker: &dyn ChunkWalker,
    input: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
    chunk_bytes: usize,
) -> CaptureOutput {
    let len = data.len();
    let chunk = chunk_bytes.max(1);
    let mut starts = vec![first];
    if len.saturating_sub(first) >= chunk.saturating_mul(2) {
        let mut nominal = first + chunk;
        while nominal + chunk / 2 < len {
            if let Some(b) = walker.boundary(nominal) {
                if b > *starts.last().unwrap_or(&0) && b < len {
                    starts.push(b);
                }
            }
            nominal += chunk;
        }
    }
    if starts.len() > 1 {
        let parts: Vec<Option<(CaptureOutput, u64)>> = (0..starts.len())
            .into_par_iter()
            .map(|i| {
                let end = starts.get(i + 1).copied().unwrap_or(len);
                let mut sink = PacketSink::new(data, input, flow_ports, progress);
                sink.reported = starts[i] as u64;
                sink.out.conns = ConnTable::for_bytes(end - starts[i]);
                let stop = walker.walk(starts[i], end, false, &mut sink)?;
                (stop == end).then(|| sink.finish(end as u64))
            })
            .collect();
        if parts.iter().all(Option::is_some) {
            let mut out = CaptureOutput::default();
            let mut base = 0u64;
            let total: usize = parts
                .iter()
                .flatten()
                .map(|(p, _)| p.conns.conns.len())
                .sum();
            for (mut part, frames) in parts.into_iter().flatten() {
                for s in &mut part.signals {
                    s.origin.frame += base;
                }
                let arena = out.export_bytes.len();
                for e in &mut part.exports {
                    e.frame += base;
                    if !e.in_input {
                        e.start += arena;
                    }
                }
                out.exports.append(&mut part.exports);
                out.export_bytes.append(&mut part.export_bytes);
                for w in &mut part.warnings.kept {
                    if let Some(f) = &mut w.frame {
                        *f += base;
                    }
                }
                out.signals.append(&mut part.signals);
                let first = out.conns.conns.is_empty();
                out.conns.merge(part.conns);
                if first {
                    out.conns
                        .reserve(total.saturating_sub(out.conns.conns.len()));
                }
                out.stats.merge(&part.stats);
                out.warnings.merge(part.warnings);
                base += frames;
            }
            out.stats.bytes = len as u64;
            out.chunks = starts.len();
            return out;
        }
    }
    let mut sink = PacketSink::new(data, input, flow_ports, progress);
    sink.reported = first as u64;
    sink.out.conns = ConnTable::for_bytes(len - first);
    walker.walk(first, len, true, &mut sink);
    let (mut out, _) = sink.finish(len as u64);
    out.conns = std::mem::take(&mut out.conns).settled();
    out.stats.bytes = len as u64;
    out.chunks = 1;
    out
}

/// How far ahead of the record being read a walk asks the CPU to fetch.
pub const PREFETCH_DISTANCE: usize = 4096;

/// Software prefetch for a walk through a mapped capture.
///
/// A record's header says where the next one starts, so a walk is a chain
/// of dependent loads, each a cache miss: the hardware prefetcher does not
/// cross page boundaries and cannot follow the chain. On the 1 GiB benchmark
/// capture the record-header load was 70% of the walk's cycles. Asking for
/// every cache line up to [`PREFETCH_DISTANCE`] bytes ahead turns those
/// misses into hits (a bare walk over the same file: 200 ms without, 62 ms
/// with). Prefetching only the one line at the distance does not help: the
/// records to come start on lines that are not known in advance.
#[derive(Default)]
pub struct Prefetch {
    /// The first byte not yet asked for.
    next: usize,
}

impl Prefetch {
    const LINE: usize = 64;

    /// Asks for the cache lines of `d` from the last request up to
    /// [`PREFETCH_DISTANCE`] past `at`. A hint only: no-op on architectures
    /// without a prefetch instruction wired up here.
    #[inline(always)]
    pub fn ahead(&mut self, d: &[u8], at: usize) {
        let limit = at.saturating_add(PREFETCH_DISTANCE).min(d.len());
        self.next = self.next.max(at);
        while self.next < limit {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                // SAFETY: `next < d.len()`, so the pointer is into `d`;
                // prefetching never faults and changes no memory.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(d.as_ptr().add(self.next).cast::<i8>()) };
            }
            self.next += Self::LINE;
        }
    }
}
