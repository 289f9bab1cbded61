//! The flow benchmark capture: NetFlow v5, v9 or IPFIX export datagrams
//! from a few exporters, UDP to a collector on port 2055, as a sensor's
//! capture of its export stream would hold them.
//!
//! Each exporter sends its templates every [`TEMPLATE_EVERY`] datagrams,
//! then data datagrams as full as the MTU allows. Records imitate an office
//! uplink seen by a router: 60 % TCP (half of them with SYN: new
//! connections, some unanswered; half continuations), 30 % UDP, 10 % ICMP;
//! 10 % IPv6 (v9 and IPFIX only); about 1 % of new connections go to a known
//! C2 port.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::testkit::synth::{self, CaptureWriter, Exporter, FlowRec};
use crate::time::Ts;

use super::{public_v4, Rng, C2_PORTS, PCAP, SEED, START_SECS};

/// Exporters in the capture, each with its own observation domain.
pub const EXPORTERS: u32 = 4;
/// Data datagrams between two template datagrams of one exporter.
pub const TEMPLATE_EVERY: u64 = 100;
/// Records per data datagram: what fits a 1500-byte MTU.
fn records_per_datagram(version: u16) -> usize {
    match version {
        5 => 30,
        9 => 36,
        _ => 24,
    }
}

/// What the generator wrote.
#[derive(Clone, Debug, Default)]
pub struct FlowSummary {
    pub bytes: u64,
    pub datagrams: u64,
    pub records: u64,
    pub tcp_records: u64,
    /// TCP records with SYN whose source is inside: the outbound attempts.
    pub syn_records: u64,
}

/// Writes about `target` bytes of pcap holding export datagrams of
/// `version` (5, 9 or 10); stops at the first datagram that reaches it.
pub fn generate<W: Write>(w: W, target: u64, version: u16) -> io::Result<(W, FlowSummary)> {
    let mut rng = Rng::new(SEED ^ u64::from(version));
    let mut out = CaptureWriter::new(w, PCAP, 1)?;
    let mut s = FlowSummary {
        bytes: 24,
        ..FlowSummary::default()
    };
    let start_ms = START_SECS as u64 * 1000;
    let mut exporters: Vec<Exporter> = (0..EXPORTERS)
        .map(|i| Exporter::new(version.max(9), i, start_ms - 86_400_000))
        .collect();
    let servers: Vec<[u8; 4]> = (0..20_000).map(|_| public_v4(&mut rng)).collect();
    let per = records_per_datagram(version);
    let mut recs = Vec::with_capacity(per);
    let mut now_ms = start_ms;
    let mut n: u64 = 0;
    let mut v5_seq = vec![0u32; EXPORTERS as usize];
    while s.bytes < target {
        let e = (n % u64::from(EXPORTERS)) as usize;
        let round = n / u64::from(EXPORTERS);
        let exporter_addr =
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + e as u8)), 40000);
        let collector = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 2055);
        let payload = if version != 5 && round.is_multiple_of(TEMPLATE_EVERY) {
            exporters[e].templates(now_ms)
        } else {
            recs.clear();
            for _ in 0..per {
                recs.push(record(&mut rng, &servers, now_ms, version != 5));
            }
            s.records += recs.len() as u64;
            s.tcp_records += recs.iter().filter(|r| r.proto == 6).count() as u64;
            s.syn_records += recs
                .iter()
                .filter(|r| r.proto == 6 && r.tcp_flags & 0x02 != 0)
                .count() as u64;
            if version == 5 {
                let m = synth::netflow_v5(now_ms, start_ms - 86_400_000, v5_seq[e], &recs);
                v5_seq[e] = v5_seq[e].wrapping_add(per as u32);
                m
            } else {
                exporters[e].data(now_ms, &recs)
            }
        };
        let frame = synth::ethernet_ip(&synth::udp_packet(exporter_addr, collector, &payload));
        out.packet(Ts(now_ms as i64 * 1_000_000), &frame)?;
        s.bytes += 16 + frame.len() as u64;
        s.datagrams += 1;
        n += 1;
        now_ms += 1;
    }
    Ok((out.finish()?, s))
}

fn record(rng: &mut Rng, servers: &[[u8; 4]], now_ms: u64, v6_ok: bool) -> FlowRec {
    let v6 = v6_ok && rng.chance(0.10);
    let host = rng.below(3000) as u16;
    let (src, dst) = if v6 {
        let s = Ipv6Addr::new(0x2001, 0xdb8, 0x105, 0, 0, 0, 0, 0x100 + host);
        let d = Ipv6Addr::new(
            0x2a00,
            0x1450,
            0x4001,
            (rng.below(3000)) as u16,
            0,
            0,
            0,
            0x200e,
        );
        (IpAddr::V6(s), IpAddr::V6(d))
    } else {
        let s = Ipv4Addr::new(10, 105, (host >> 8) as u8, host as u8);
        let d = servers[(rng.unit().powi(3) * servers.len() as f64) as usize];
        (IpAddr::V4(s), IpAddr::V4(Ipv4Addr::from(d)))
    };
    let kind = rng.below(10);
    let (proto, dport, flags) = match kind {
        0..=5 => {
            let dport = if rng.chance(0.01) {
                C2_PORTS[rng.below(C2_PORTS.len() as u64) as usize]
            } else {
                [443, 443, 443, 80, 22, 993, 8443, 5222][rng.below(8) as usize]
            };
            let flags = match rng.below(20) {
                0..=8 => 0x1b, // SYN, ACK, PSH, FIN: a whole connection
                9 => 0x02,     // SYN alone: unanswered
                _ => 0x18,     // ACK, PSH: continuation of a long flow
            };
            (6, dport, flags)
        }
        6..=8 => (17, [53, 443, 123][rng.below(3) as usize], 0),
        _ => (1, 0, 0),
    };
    let dur = rng.below(30_000);
    let packets = 1 + rng.below(200) as u32;
    FlowRec {
        start_ms: now_ms.saturating_sub(dur + 1000),
        end_ms: now_ms.saturating_sub(1000),
        src,
        sport: if proto == 1 {
            0
        } else {
            rng.range(32768, 61000) as u16
        },
        dst,
        dport,
        proto,
        tcp_flags: flags,
        packets,
        bytes: packets * (40 + rng.below(1400) as u32),
        in_if: 1,
        out_if: 2,
    }
}
