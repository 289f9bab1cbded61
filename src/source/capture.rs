//! From a capture's bytes to handshake signals: the part shared by the pcap
//! and pcapng readers.
//!
//! The container readers find records and timestamps; [`PacketSink`] decodes
//! each packet, keeps the SYN and SYN-ACK signals and counts everything else.
//! Nothing here allocates per packet: signals are pushed only for handshake
//! segments, and warnings are formatted only while the per-reason bound
//! allows them to be kept.

use crate::decode::{self, Decoded, TCP_ACK};
use crate::event::{FiveTuple, Origin, Proto, SignalKind, TcpSignal, Ts};
use crate::stats::{CaptureStats, Skip, Warning, Warnings};

use super::{magic_hex, pcap, pcapng, sniff, Format, SourceError};

/// How often (in input bytes) readers report progress.
pub const PROGRESS_STEP: u64 = 8 << 20;

/// Everything reading one capture produced.
#[derive(Debug, Default)]
pub struct CaptureOutput {
    pub format: Option<Format>,
    pub signals: Vec<TcpSignal>,
    pub stats: CaptureStats,
    pub warnings: Warnings,
}

/// Receives each packet the container readers find.
pub struct PacketSink<'p> {
    input: u32,
    pub out: CaptureOutput,
    progress: &'p (dyn Fn(u64) + Sync),
    reported: u64,
}

impl<'p> PacketSink<'p> {
    pub fn new(input: u32, progress: &'p (dyn Fn(u64) + Sync)) -> Self {
        PacketSink {
            input,
            out: CaptureOutput::default(),
            progress,
            reported: 0,
        }
    }

    /// One packet record. `offset` is where its record starts, for messages.
    #[inline]
    pub fn packet(&mut self, ts: Ts, linktype: u32, data: &[u8], frame: u64, offset: u64) {
        self.out.stats.packets += 1;
        match decode::decode(linktype, data) {
            Ok(Decoded::Other) => {}
            Ok(Decoded::Tcp) => self.out.stats.tcp += 1,
            Ok(Decoded::Handshake(seg)) => {
                self.out.stats.tcp += 1;
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
            Err(reason) => self.skip_packet(reason, linktype, frame, offset),
        }
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
        if offset - self.reported >= PROGRESS_STEP {
            (self.progress)(offset - self.reported);
            self.reported = offset;
        }
    }

    pub fn finish(mut self, end: u64) -> CaptureOutput {
        (self.progress)(end.saturating_sub(self.reported));
        self.out.stats.bytes = end;
        self.out
    }
}

/// Reads one capture held in memory. `input` is its index in the run, used
/// in the signals' origins; `progress` is told how many bytes were consumed.
pub fn read_capture(
    name: &str,
    data: &[u8],
    input: u32,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CaptureOutput, SourceError> {
    let format = sniff(data).ok_or_else(|| SourceError::NotACapture {
        name: name.to_string(),
        magic: magic_hex(data),
    })?;
    let mut sink = PacketSink::new(input, progress);
    match format {
        Format::Pcap => pcap::read(name, data, &mut sink)?,
        Format::Pcapng => pcapng::read(data, &mut sink),
    }
    let mut out = sink.finish(data.len() as u64);
    out.format = Some(format);
    Ok(out)
}
