//! Writing small synthetic captures: the samples generator, the tests and
//! the benchmarks all need packets whose content they know exactly.
//!
//! Packets are built with `etherparse`'s builder (so checksums and lengths are
//! right); the pcap and pcapng framing is written here because it is a few
//! fixed headers and must cover both byte orders and timestamp resolutions.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use etherparse::{PacketBuilder, TcpHeader};

use crate::decode::{TCP_ACK, TCP_RST, TCP_SYN};
use crate::event::{Attempt, FiveTuple, Origin};
use crate::time::Ts;

/// An IP packet (v4 or v6 after the addresses) carrying a TCP header with
/// the given flags and no payload.
pub fn tcp_packet(src: SocketAddr, dst: SocketAddr, seq: u32, flags: u8) -> Vec<u8> {
    tcp_packet_with_payload(src, dst, seq, flags, &[])
}

/// Like [`tcp_packet`], with a payload.
pub fn tcp_packet_with_payload(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut h = TcpHeader::new(src.port(), dst.port(), seq, 64240);
    h.syn = flags & TCP_SYN != 0;
    h.rst = flags & TCP_RST != 0;
    if flags & TCP_ACK != 0 {
        h.ack = true;
        h.acknowledgment_number = seq.wrapping_add(1);
    }
    let builder = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("synth::tcp_packet: mixed address families {src} -> {dst}"),
    };
    let b = builder.tcp_header(h);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("etherparse writes a well-formed packet into a Vec");
    out
}

/// An IP packet carrying a UDP datagram.
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let builder = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("synth::udp_packet: mixed address families {src} -> {dst}"),
    };
    let b = builder.udp(src.port(), dst.port());
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("etherparse writes a well-formed packet into a Vec");
    out
}

/// An Ethernet II frame with fixed locally administered MAC addresses.
pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An Ethernet frame for an IP packet, EtherType chosen by IP version.
pub fn ethernet_ip(ip: &[u8]) -> Vec<u8> {
    let et = if ip.first().map(|b| b >> 4) == Some(6) {
        0x86dd
    } else {
        0x0800
    };
    ethernet(et, ip)
}

/// An IPv4 header with protocol `proto` around `payload` (for tunnels).
pub fn ipv4_wrap(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut h = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ];
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let mut sum: u32 = h
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// The container to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap, either byte order, micro- or nanosecond stamps.
    Pcap { big_endian: bool, nanos: bool },
    /// pcapng with one section; `tsresol` is the `if_tsresol` option
    /// (6 = microseconds, 9 = nanoseconds).
    Pcapng { big_endian: bool, tsresol: u8 },
}

/// Writes packets into a pcap or pcapng stream.
pub struct CaptureWriter<W: Write> {
    w: W,
    format: CaptureFormat,
    interfaces: u32,
}

impl<W: Write> CaptureWriter<W> {
    /// Starts a capture whose first (for pcap: only) interface has `linktype`.
    pub fn new(mut w: W, format: CaptureFormat, linktype: u32) -> io::Result<Self> {
        match format {
            CaptureFormat::Pcap { big_endian, nanos } => {
                let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
                let mut h = Vec::with_capacity(24);
                put32(&mut h, big_endian, magic);
                put16(&mut h, big_endian, 2);
                put16(&mut h, big_endian, 4);
                put32(&mut h, big_endian, 0);
                put32(&mut h, big_endian, 0);
                put32(&mut h, big_endian, 262_144);
                put32(&mut h, big_endian, linktype);
                w.write_all(&h)?;
            }
            CaptureFormat::Pcapng { big_endian, .. } => {
                let mut b = Vec::with_capacity(28);
                put32(&mut b, big_endian, 0x0a0d_0d0a);
                put32(&mut b, big_endian, 28);
                put32(&mut b, big_endian, 0x1a2b_3c4d);
                put16(&mut b, big_endian, 1);
                put16(&mut b, big_endian, 0);
                b.extend_from_slice(&[0xff; 8]); // section length unknown
                put32(&mut b, big_endian, 28);
                w.write_all(&b)?;
            }
        }
        let mut cw = CaptureWriter {
            w,
            format,
            interfaces: 0,
        };
        if matches!(format, CaptureFormat::Pcapng { .. }) {
            cw.add_interface(linktype)?;
        } else {
            cw.interfaces = 1;
        }
        Ok(cw)
    }

    /// Adds a pcapng interface and returns its id. Classic pcap has one.
    pub fn add_interface(&mut self, linktype: u32) -> io::Result<u32> {
        let CaptureFormat::Pcapng {
            big_endian,
            tsresol,
        } = self.format
        else {
            return Err(io::Error::other("classic pcap has a single link type"));
        };
        let mut b = Vec::with_capacity(32);
        put32(&mut b, big_endian, 1);
        put32(&mut b, big_endian, 32);
        put16(&mut b, big_endian, linktype as u16);
        put16(&mut b, big_endian, 0);
        put32(&mut b, big_endian, 262_144);
        // if_tsresol option (code 9, length 1, padded), then opt_endofopt.
        put16(&mut b, big_endian, 9);
        put16(&mut b, big_endian, 1);
        b.extend_from_slice(&[tsresol, 0, 0, 0]);
        put16(&mut b, big_endian, 0);
        put16(&mut b, big_endian, 0);
        put32(&mut b, big_endian, 32);
        self.w.write_all(&b)?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Writes one packet on the first interface.
    pub fn packet(&mut self, ts: Ts, data: &[u8]) -> io::Result<()> {
        self.packet_on(0, ts, data)
    }

    /// Writes one packet on interface `iface`.
    pub fn packet_on(&mut self, iface: u32, ts: Ts, data: &[u8]) -> io::Result<()> {
        let secs = ts.0.div_euclid(Ts::NANOS_PER_SEC);
        let nanos = ts.0.rem_euclid(Ts::NANOS_PER_SEC);
        match self.format {
            CaptureFormat::Pcap {
                big_endian,
                nanos: ns,
            } => {
                let frac = if ns { nanos } else { nanos / 1000 };
                let mut h = Vec::with_capacity(16);
                put32(&mut h, big_endian, secs as u32);
                put32(&mut h, big_endian, frac as u32);
                put32(&mut h, big_endian, data.len() as u32);
                put32(&mut h, big_endian, data.len() as u32);
                self.w.write_all(&h)?;
                self.w.write_all(data)
            }
            CaptureFormat::Pcapng {
                big_endian,
                tsresol,
            } => {
                let units = 10i128.pow(u32::from(tsresol));
                let t = (i128::from(secs) * units
                    + i128::from(nanos) * units / i128::from(Ts::NANOS_PER_SEC))
                    as u64;
                let pad = (4 - data.len() % 4) % 4;
                let total = (32 + data.len() + pad) as u32;
                let mut h = Vec::with_capacity(28);
                put32(&mut h, big_endian, 6);
                put32(&mut h, big_endian, total);
                put32(&mut h, big_endian, iface);
                put32(&mut h, big_endian, (t >> 32) as u32);
                put32(&mut h, big_endian, t as u32);
                put32(&mut h, big_endian, data.len() as u32);
                put32(&mut h, big_endian, data.len() as u32);
                self.w.write_all(&h)?;
                self.w.write_all(data)?;
                self.w.write_all(&[0u8; 3][..pad])?;
                let mut t = Vec::with_capacity(4);
                put32(&mut t, big_endian, total);
                self.w.write_all(&t)
            }
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

fn put16(v: &mut Vec<u8>, be: bool, x: u16) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put32(v: &mut Vec<u8>, be: bool, x: u32) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// splitmix64 (Steele, Lea, Flood 2014): a tiny PRNG with a fixed output per
/// seed, so generated inputs, evaluations and benchmarks are reproducible.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// An answered TCP attempt at `secs` seconds after the epoch, as analyzers
/// see one: for evaluations and benchmarks that start past the reading.
pub fn attempt(secs: f64, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, frame: u64) -> Attempt {
    let ts = Ts((secs * 1e9) as i64);
    Attempt {
        answered: true,
        ..Attempt::new(
            ts,
            FiveTuple::tcp(src, sport, dst, dport),
            Origin { input: 0, frame },
        )
    }
}

/// One flow record to write into a synthetic export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRec {
    /// Start and end, ms since the Unix epoch.
    pub start_ms: u64,
    pub end_ms: u64,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub proto: u8,
    pub tcp_flags: u8,
    pub packets: u32,
    pub bytes: u32,
    pub in_if: u16,
    pub out_if: u16,
}

/// Template IDs the synthetic exporters use for IPv4 and IPv6 records.
pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;

/// (element id, length) of the synthetic IPFIX templates: addresses, ports,
/// protocol, flags, counts, absolute start/end in ms, interfaces.
const IPFIX_FIELDS_V4: [(u16, u16); 12] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (2, 8),
    (1, 8),
    (152, 8),
    (153, 8),
    (10, 4),
    (14, 4),
];

/// The NetFlow v9 templates: the same with 32-bit counts, uptime-relative
/// FIRST/LAST_SWITCHED (22, 21) and 16-bit interfaces.
const V9_FIELDS_V4: [(u16, u16); 12] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (2, 4),
    (1, 4),
    (22, 4),
    (21, 4),
    (10, 2),
    (14, 2),
];

fn v6_fields(f: &[(u16, u16); 12]) -> [(u16, u16); 12] {
    let mut g = *f;
    g[0] = (27, 16);
    g[1] = (28, 16);
    g
}

/// A synthetic NetFlow v9 or IPFIX exporter: writes template and data
/// messages with the right sequence numbers, as a router would.
#[derive(Clone, Debug)]
pub struct Exporter {
    /// 9 or 10.
    pub version: u16,
    /// v9 source ID or IPFIX observation domain.
    pub domain: u32,
    /// When the exporter booted, ms since the Unix epoch (v9 uptime base).
    pub boot_ms: u64,
    sequence: u32,
    packets_sent: u32,
}

impl Exporter {
    pub fn new(version: u16, domain: u32, boot_ms: u64) -> Self {
        assert!(version == 9 || version == 10, "Exporter: v9 or IPFIX only");
        Exporter {
            version,
            domain,
            boot_ms,
            sequence: 0,
            packets_sent: 0,
        }
    }

    fn fields(&self, v6: bool) -> [(u16, u16); 12] {
        let f = if self.version == 10 {
            IPFIX_FIELDS_V4
        } else {
            V9_FIELDS_V4
        };
        if v6 {
            v6_fields(&f)
        } else {
            f
        }
    }

    /// A message holding the IPv4 and IPv6 templates, exported at `now_ms`.
    pub fn templates(&mut self, now_ms: u64) -> Vec<u8> {
        let mut set = Vec::new();
        for (id, v6) in [(TEMPLATE_V4, false), (TEMPLATE_V6, true)] {
            let fields = self.fields(v6);
            set.extend_from_slice(&id.to_be_bytes());
            set.extend_from_slice(&(fields.len() as u16).to_be_bytes());
            for (f, len) in fields {
                set.extend_from_slice(&f.to_be_bytes());
                set.extend_from_slice(&len.to_be_bytes());
            }
        }
        let set_id = if self.version == 10 { 2 } else { 0 };
        self.message(now_ms, &[(set_id, set)], 2)
    }

    /// A message holding `recs` (any mix of IPv4 and IPv6), exported at
    /// `now_ms`.
    pub fn data(&mut self, now_ms: u64, recs: &[FlowRec]) -> Vec<u8> {
        let mut sets = Vec::new();
        for (id, v6) in [(TEMPLATE_V4, false), (TEMPLATE_V6, true)] {
            let fields = self.fields(v6);
            let mut body = Vec::new();
            for r in recs.iter().filter(|r| r.src.is_ipv6() == v6) {
                for (f, len) in fields {
                    self.field(&mut body, r, f, len);
                }
            }
            if !body.is_empty() {
                sets.push((id, body));
            }
        }
        let n = recs.len() as u32;
        self.message(now_ms, &sets, n)
    }

    fn field(&self, out: &mut Vec<u8>, r: &FlowRec, f: u16, len: u16) {
        let uptime = |ms: u64| ms.saturating_sub(self.boot_ms) as u32;
        let n: u64 = match f {
            8 | 12 | 27 | 28 => {
                let a = if f == 8 || f == 27 { r.src } else { r.dst };
                match a {
                    IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                    IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
                }
                return;
            }
            7 => u64::from(r.sport),
            11 => u64::from(r.dport),
            4 => u64::from(r.proto),
            6 => u64::from(r.tcp_flags),
            2 => u64::from(r.packets),
            1 => u64::from(r.bytes),
            152 => r.start_ms,
            153 => r.end_ms,
            22 => u64::from(uptime(r.start_ms)),
            21 => u64::from(uptime(r.end_ms)),
            10 => u64::from(r.in_if),
            14 => u64::from(r.out_if),
            _ => 0,
        };
        out.extend_from_slice(&n.to_be_bytes()[8 - usize::from(len)..]);
    }

    /// Header and sets; sets padded to 4 bytes as v9 asks (IPFIX allows it).
    fn message(&mut self, now_ms: u64, sets: &[(u16, Vec<u8>)], records: u32) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + sets.iter().map(|s| s.1.len() + 8).sum::<usize>());
        let secs = (now_ms / 1000) as u32;
        if self.version == 10 {
            m.extend_from_slice(&10u16.to_be_bytes());
            m.extend_from_slice(&0u16.to_be_bytes()); // length, below
            m.extend_from_slice(&secs.to_be_bytes());
            m.extend_from_slice(&self.sequence.to_be_bytes());
            m.extend_from_slice(&self.domain.to_be_bytes());
            // IPFIX counts data records.
            if sets.iter().any(|s| s.0 >= 256) {
                self.sequence = self.sequence.wrapping_add(records);
            }
        } else {
            self.packets_sent = self.packets_sent.wrapping_add(1);
            m.extend_from_slice(&9u16.to_be_bytes());
            m.extend_from_slice(&0u16.to_be_bytes()); // count, below
            m.extend_from_slice(&(now_ms.saturating_sub(self.boot_ms) as u32).to_be_bytes());
            m.extend_from_slice(&secs.to_be_bytes());
            m.extend_from_slice(&self.packets_sent.to_be_bytes());
            m.extend_from_slice(&self.domain.to_be_bytes());
        }
        for (id, body) in sets {
            let pad = (4 - (body.len() + 4) % 4) % 4;
            m.extend_from_slice(&id.to_be_bytes());
            m.extend_from_slice(&((body.len() + 4 + pad) as u16).to_be_bytes());
            m.extend_from_slice(body);
            m.extend(std::iter::repeat_n(0u8, pad));
        }
        if self.version == 10 {
            let len = m.len() as u16;
            m[2..4].copy_from_slice(&len.to_be_bytes());
        } else {
            m[2..4].copy_from_slice(&(records as u16).to_be_bytes());
        }
        m
    }
}

/// A NetFlow v5 datagram of up to 30 IPv4 records, exported at `now_ms` by
/// an exporter that booted at `boot_ms`.
pub fn netflow_v5(now_ms: u64, boot_ms: u64, sequence: u32, recs: &[FlowRec]) -> Vec<u8> {
    assert!(recs.len() <= 30, "netflow_v5: at most 30 records");
    let mut m = Vec::with_capacity(24 + 48 * recs.len());
    let uptime = |ms: u64| ms.saturating_sub(boot_ms) as u32;
    m.extend_from_slice(&5u16.to_be_bytes());
    m.extend_from_slice(&(recs.len() as u16).to_be_bytes());
    m.extend_from_slice(&uptime(now_ms).to_be_bytes());
    m.extend_from_slice(&((now_ms / 1000) as u32).to_be_bytes());
    m.extend_from_slice(&(((now_ms % 1000) * 1_000_000) as u32).to_be_bytes());
    m.extend_from_slice(&sequence.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]); // engine type/id, sampling
    for r in recs {
        let v4 = |a: IpAddr| match a {
            IpAddr::V4(a) => a.octets(),
            IpAddr::V6(_) => panic!("netflow_v5: IPv4 records only"),
        };
        m.extend_from_slice(&v4(r.src));
        m.extend_from_slice(&v4(r.dst));
        m.extend_from_slice(&[0; 4]); // next hop
        m.extend_from_slice(&r.in_if.to_be_bytes());
        m.extend_from_slice(&r.out_if.to_be_bytes());
        m.extend_from_slice(&r.packets.to_be_bytes());
        m.extend_from_slice(&r.bytes.to_be_bytes());
        m.extend_from_slice(&uptime(r.start_ms).to_be_bytes());
        m.extend_from_slice(&uptime(r.end_ms).to_be_bytes());
        m.extend_from_slice(&r.sport.to_be_bytes());
        m.extend_from_slice(&r.dport.to_be_bytes());
        m.push(0);
        m.push(r.tcp_flags);
        m.push(r.proto);
        m.push(0); // tos
        m.extend_from_slice(&[0; 4]); // src/dst AS
        m.extend_from_slice(&[0; 4]); // masks, pad
    }
    m
}
