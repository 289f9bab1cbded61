//! A deterministic synthetic capture for the benchmarks, shared by
//! `benches/pipeline.rs` (in memory) and `examples/gen_bench.rs` (to a file).
//!
//! The traffic imitates an office uplink: a few thousand internal hosts
//! (IPv4, some IPv6, one subnet on an 802.1Q VLAN) talking to public servers.
//! Per packet the mix is about 50% bare ACKs (66 bytes on untagged IPv4),
//! 38% full-size (1514-byte) data frames, the rest in between (handshakes,
//! DNS, QUIC, partial segments); about 1.3% are SYNs, spread over many
//! hosts, public destinations and ports (about 1.5% of them on known C2
//! ports such as 4444, 8088 and 9001), most answered by a SYN-ACK a round
//! trip later, some refused with a RST, some retransmitted. DNS and QUIC
//! make up the UDP share. Every IPv4, TCP and UDP checksum is right.
//!
//! Everything comes from one hand-written fixed-seed PRNG, so the same size
//! always gives the same bytes. Frames are assembled into one reused buffer
//! and checksums of the (pooled) payloads come from prefix sums, so writing
//! costs a couple of copies per packet.

// Not every user of this module writes flow captures.
#[allow(dead_code)]
pub mod flows;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use crate::decode::{TCP_ACK, TCP_RST, TCP_SYN};
use crate::testkit::synth::{CaptureFormat, CaptureWriter, SplitMix64};
use crate::time::Ts;

/// 2024-03-01T08:00:00Z, the first packet's time.
pub const START_SECS: i64 = 1_709_280_000;
/// The PRNG seed: change it and every byte changes.
pub const SEED: u64 = 0x5eed_0f71_571c_2024;

const TCP_PSH: u8 = 0x08;
const TCP_FIN: u8 = 0x01;
const GATEWAY_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5e];
const RESOLVER_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x00, 0x00, 0x53];
const VLAN_GROUP: usize = 5;
const V4_CLIENTS: usize = 3000;
const V6_CLIENTS: usize = 600;
const V4_SERVERS: usize = 20_000;
const V6_SERVERS: usize = 3000;
const BEACON_SERVERS: usize = 12;
const POOL_FLOWS: usize = 1500;

/// Known C2 ports (from the default policy) the generator uses.
pub const C2_PORTS: [u16; 10] = [4444, 8088, 9001, 1337, 31337, 6667, 4443, 8888, 2083, 9090];

/// Outbound destination ports of new public connections and their weights;
/// port 0 stands for a random port above 1024.
const OUT_PORTS: &[(u16, u32)] = &[
    (443, 5500),
    (80, 1400),
    (8080, 150),
    (8443, 150),
    (22, 200),
    (993, 100),
    (995, 30),
    (25, 40),
    (465, 30),
    (587, 60),
    (853, 40),
    (5222, 100),
    (5228, 100),
    (3389, 40),
    (1935, 20),
    (3478, 30),
    (21, 20),
    (4444, 15),
    (8088, 25),
    (9001, 30),
    (1337, 5),
    (31337, 3),
    (6667, 10),
    (4443, 20),
    (8888, 30),
    (2083, 10),
    (9090, 10),
    (0, 600),
];

/// East-west destination ports (internal servers).
const INTERNAL_PORTS: [u16; 10] = [445, 389, 88, 135, 3389, 22, 443, 1433, 5985, 8080];

const DOMAINS: [&str; 12] = [
    "www.example.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "update.googleapis.com",
    "cdn.jsdelivr.net",
    "api.github.com",
    "teams.microsoft.com",
    "s3.amazonaws.com",
    "fonts.gstatic.com",
    "slack.com",
    "zoom.us",
    "ocsp.digicert.com",
];

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes written, file header included.
    pub bytes: u64,
    pub packets: u64,
    /// SYNs without ACK, retransmissions included.
    pub syns: u64,
    pub syn_retransmits: u64,
    /// SYNs to a known C2 port.
    pub c2_syns: u64,
    pub synacks: u64,
    pub rsts: u64,
    pub udp: u64,
    pub ipv6: u64,
    pub vlan: u64,
    /// Frames of 90 bytes or less (bare ACKs, also IPv6 and tagged ones), of
    /// 1514 bytes or more (full-size), and in between.
    pub small: u64,
    pub full: u64,
    pub mid: u64,
}

/// The library's SplitMix64, with the draws the traffic generator needs.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.unit()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index in `0..n` skewed towards small values (popular servers).
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * u) * n as f64) as usize
    }
}

/// One TCP or UDP conversation, as its two ends see it.
#[derive(Clone, Copy, Debug)]
struct Flow {
    v6: bool,
    vlan: Option<u16>,
    /// The internal host's MAC; the other end is behind the gateway.
    cmac: [u8; 6],
    peer_mac: [u8; 6],
    /// Client and server addresses (IPv4 in the first four bytes).
    caddr: [u8; 16],
    saddr: [u8; 16],
    cport: u16,
    sport: u16,
    cseq: u32,
    sseq: u32,
    cid: u16,
    sid: u16,
    cttl: u8,
    sttl: u8,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

#[derive(Clone, Copy)]
enum TcpOpts {
    /// MSS, SACK permitted, timestamps, window scale (20 bytes).
    Syn,
    /// NOP, NOP, timestamps (12 bytes).
    Ts,
    None,
}

/// Random bytes that payloads are cut from, with prefix sums of their
/// 16-bit words so a slice's checksum contribution costs two lookups.
struct PayloadPool {
    bytes: Vec<u8>,
    prefix: Vec<u64>,
}

const POOL_BYTES: usize = 64 << 10;

impl PayloadPool {
    fn new(rng: &mut Rng) -> Self {
        let mut bytes = vec![0u8; POOL_BYTES + 2048];
        for c in bytes.chunks_mut(8) {
            let r = rng.next_u64().to_le_bytes();
            c.copy_from_slice(&r[..c.len()]);
        }
        let mut prefix = Vec::with_capacity(bytes.len() / 2 + 1);
        let mut s = 0u64;
        prefix.push(0);
        for w in bytes.chunks_exact(2) {
            s += u64::from(u16::from_be_bytes([w[0], w[1]]));
            prefix.push(s);
        }
        PayloadPool { bytes, prefix }
    }

    /// `len` bytes starting at an even offset, and their word sum.
    fn slice(&self, rng: &mut Rng, len: usize) -> (&[u8], u64) {
        let off = rng.below((POOL_BYTES / 2) as u64) as usize * 2;
        let full = len / 2;
        let mut sum = self.prefix[off / 2 + full] - self.prefix[off / 2];
        if len % 2 == 1 {
            sum += u64::from(self.bytes[off + len - 1]) << 8;
        }
        (&self.bytes[off..off + len], sum)
    }
}

fn word_sum(d: &[u8]) -> u64 {
    let mut chunks = d.chunks_exact(2);
    let mut s: u64 = (&mut chunks)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        s += u64::from(*last) << 8;
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Appends Ethernet (with an optional 802.1Q tag) and the IP header for an
/// L4 body of `l4_len` bytes; returns the pseudo-header sum for the L4
/// checksum.
fn push_l2_l3(buf: &mut Vec<u8>, f: &Flow, dir: Dir, proto: u8, l4_len: usize) -> u64 {
    let (dst_mac, src_mac) = match dir {
        Dir::Up => (&f.peer_mac, &f.cmac),
        Dir::Down => (&f.cmac, &f.peer_mac),
    };
    buf.extend_from_slice(dst_mac);
    buf.extend_from_slice(src_mac);
    if let Some(tag) = f.vlan {
        buf.extend_from_slice(&[0x81, 0x00]);
        buf.extend_from_slice(&tag.to_be_bytes());
    }
    let (src, dst, ttl, id) = match dir {
        Dir::Up => (&f.caddr, &f.saddr, f.cttl, f.cid),
        Dir::Down => (&f.saddr, &f.caddr, f.sttl, f.sid),
    };
    if f.v6 {
        buf.extend_from_slice(&[0x86, 0xdd]);
        let label = match dir {
            Dir::Up => f.cport,
            Dir::Down => f.sport ^ f.cport,
        };
        buf.extend_from_slice(&[0x60, 0x0c, (label >> 8) as u8, label as u8]);
        buf.extend_from_slice(&(l4_len as u16).to_be_bytes());
        buf.extend_from_slice(&[proto, ttl]);
        buf.extend_from_slice(src);
        buf.extend_from_slice(dst);
        word_sum(src) + word_sum(dst) + l4_len as u64 + u64::from(proto)
    } else {
        buf.extend_from_slice(&[0x08, 0x00]);
        let start = buf.len();
        let total = (20 + l4_len) as u16;
        let frag = if proto == 6 { 0x40 } else { 0 };
        buf.extend_from_slice(&[0x45, 0]);
        buf.extend_from_slice(&total.to_be_bytes());
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&[frag, 0, ttl, proto, 0, 0]);
        buf.extend_from_slice(&src[..4]);
        buf.extend_from_slice(&dst[..4]);
        let c = fold(word_sum(&buf[start..start + 20]));
        buf[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
        word_sum(&src[..4]) + word_sum(&dst[..4]) + l4_len as u64 + u64::from(proto)
    }
}

#[allow(clippy::too_many_arguments)]
fn tcp_frame(
    buf: &mut Vec<u8>,
    f: &Flow,
    dir: Dir,
    flags: u8,
    opts: TcpOpts,
    payload: &[u8],
    psum: u64,
    ts_ms: u32,
) {
    buf.clear();
    let opt_len = match opts {
        TcpOpts::Syn => 20,
        TcpOpts::Ts => 12,
        TcpOpts::None => 0,
    };
    let hlen = 20 + opt_len;
    let pseudo = push_l2_l3(buf, f, dir, 6, hlen + payload.len());
    let (sp, dp, seq, ack) = match dir {
        Dir::Up => (f.cport, f.sport, f.cseq, f.sseq),
        Dir::Down => (f.sport, f.cport, f.sseq, f.cseq),
    };
    let start = buf.len();
    buf.extend_from_slice(&sp.to_be_bytes());
    buf.extend_from_slice(&dp.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    let ack = if flags & TCP_ACK != 0 { ack } else { 0 };
    buf.extend_from_slice(&ack.to_be_bytes());
    let window: u16 = match (opts, dir) {
        (TcpOpts::Syn, Dir::Up) => 64240,
        (TcpOpts::Syn, Dir::Down) => 65160,
        (_, Dir::Up) => 501,
        (_, Dir::Down) => 2048,
    };
    buf.extend_from_slice(&[(hlen as u8 / 4) << 4, flags]);
    buf.extend_from_slice(&window.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]);
    // Each host's timestamp clock has its own origin.
    let (src, dst) = match dir {
        Dir::Up => (&f.caddr, &f.saddr),
        Dir::Down => (&f.saddr, &f.caddr),
    };
    let ts_val = ts_ms.wrapping_add(u32::from_be_bytes([src[3], src[2], src[1], src[15]]));
    let tsecr = if flags & TCP_ACK != 0 {
        ts_ms
            .wrapping_sub(17)
            .wrapping_add(u32::from_be_bytes([dst[3], dst[2], dst[1], dst[15]]))
    } else {
        0
    };
    match opts {
        TcpOpts::Syn => {
            let mss: u16 = if f.v6 { 1440 } else { 1460 };
            buf.extend_from_slice(&[2, 4]);
            buf.extend_from_slice(&mss.to_be_bytes());
            buf.extend_from_slice(&[4, 2, 8, 10]);
            buf.extend_from_slice(&ts_val.to_be_bytes());
            buf.extend_from_slice(&tsecr.to_be_bytes());
            buf.extend_from_slice(&[1, 3, 3, 7]);
        }
        TcpOpts::Ts => {
            buf.extend_from_slice(&[1, 1, 8, 10]);
            buf.extend_from_slice(&ts_val.to_be_bytes());
            buf.extend_from_slice(&tsecr.to_be_bytes());
        }
        TcpOpts::None => {}
    }
    let c = fold(pseudo + word_sum(&buf[start..]) + psum);
    buf[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
    buf.extend_from_slice(payload);
}

fn udp_frame(buf: &mut Vec<u8>, f: &Flow, dir: Dir, payload: &[u8], psum: u64) {
    buf.clear();
    let len = 8 + payload.len();
    let pseudo = push_l2_l3(buf, f, dir, 17, len);
    let (sp, dp) = match dir {
        Dir::Up => (f.cport, f.sport),
        Dir::Down => (f.sport, f.cport),
    };
    let start = buf.len();
    buf.extend_from_slice(&sp.to_be_bytes());
    buf.extend_from_slice(&dp.to_be_bytes());
    buf.extend_from_slice(&(len as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    let mut c = fold(pseudo + word_sum(&buf[start..]) + psum);
    if c == 0 {
        c = 0xffff;
    }
    buf[start + 6..start + 8].copy_from_slice(&c.to_be_bytes());
    buf.extend_from_slice(payload);
}

/// A DNS query (or its answer) for `name`, type A or AAAA.
fn dns_message(out: &mut Vec<u8>, id: u16, name: &str, aaaa: bool, answer: bool) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(if answer { &[0x81, 0x80] } else { &[0x01, 0x00] });
    out.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    let qtype: u16 = if aaaa { 28 } else { 1 };
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    if answer {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0x01, 0x2c]);
        let rdlen: u16 = if aaaa { 16 } else { 4 };
        out.extend_from_slice(&rdlen.to_be_bytes());
        for i in 0..rdlen {
            out.push((id as u8).wrapping_add(i as u8 * 37));
        }
    }
}

/// Something due later: the other end's answer, or a retry.
#[derive(Clone, Copy)]
enum Ev {
    SynAck(Flow),
    /// The client's ACK completing the handshake, with its first bytes.
    HandshakeAck(Flow),
    /// The server's first bytes; the flow then carries data.
    ServerOpening(Flow),
    Refused(Flow),
    SynRetry(Flow, u8),
    DnsAnswer(Flow, u16, usize, bool),
}

struct Pending {
    due: i64,
    order: u64,
    ev: Ev,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.order) == (o.due, o.order)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    /// Reversed, so the `BinaryHeap` pops the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.due, o.order).cmp(&(self.due, self.order))
    }
}

fn public_v4(rng: &mut Rng) -> [u8; 4] {
    loop {
        let a = rng.next_u64().to_be_bytes();
        let o = [a[0], a[1], a[2], a[3]];
        let reserved = matches!(
            o,
            [0, ..] | [10, ..] | [127, ..] | [169, 254, ..] | [192, 168, ..]
        ) || (o[0] == 172 && (16..32).contains(&o[1]))
            || (o[0] == 100 && (64..128).contains(&o[1]))
            || o[0] >= 224
            || o[3] == 0
            || o[3] == 255;
        if !reserved {
            return o;
        }
    }
}

fn v4_16(o: [u8; 4]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&o);
    a
}

struct World {
    rng: Rng,
    pool: PayloadPool,
    v4_servers: Vec<[u8; 16]>,
    v6_servers: Vec<[u8; 16]>,
    beacons: Vec<[u8; 16]>,
    next_port: Vec<u16>,
    flows: Vec<Flow>,
    port_weight_total: u32,
    /// For the protocol openings' random fields (kept apart from `rng`, so
    /// the rest of the traffic is what it was).
    tls_rng: crate::testkit::samples::SplitMix64,
}

impl World {
    fn new() -> Self {
        let mut rng = Rng::new(SEED);
        let pool = PayloadPool::new(&mut rng);
        let v4_servers = (0..V4_SERVERS)
            .map(|_| v4_16(public_v4(&mut rng)))
            .collect();
        let v6_servers = (0..V6_SERVERS)
            .map(|_| {
                let mut a = rng.next_u64().to_be_bytes().repeat(2);
                a[0] = 0x26 + (rng.below(4) as u8) * 2; // 2600::/8 .. 2c00::/8
                a[8..14].fill(0);
                let mut out = [0u8; 16];
                out.copy_from_slice(&a);
                out
            })
            .collect();
        let beacons = (0..BEACON_SERVERS)
            .map(|_| v4_16(public_v4(&mut rng)))
            .collect();
        let next_port = (0..V4_CLIENTS + V6_CLIENTS)
            .map(|_| rng.range(32768, 61000) as u16)
            .collect();
        let mut w = World {
            rng,
            pool,
            v4_servers,
            v6_servers,
            beacons,
            next_port,
            flows: Vec::with_capacity(POOL_FLOWS),
            port_weight_total: OUT_PORTS.iter().map(|p| p.1).sum(),
            tls_rng: crate::testkit::samples::SplitMix64(SplitMix64(SEED ^ 0x7151)),
        };
        // Connections already open when the capture starts.
        for _ in 0..POOL_FLOWS {
            let mut f = w.new_flow(false);
            f.sport = if w.rng.chance(0.8) { 443 } else { 80 };
            w.flows.push(f);
        }
        w
    }

    fn client(&mut self, v6: bool) -> (usize, [u8; 16], [u8; 6], Option<u16>) {
        if v6 {
            let i = self.rng.below(V6_CLIENTS as u64) as usize;
            let mut a = [
                0x2a, 0x02, 0x81, 0x08, 0x04, 0xc0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            a[14..].copy_from_slice(&(i as u16 + 0x100).to_be_bytes());
            let mac = [0x02, 0x60, 0, 0, (i >> 8) as u8, i as u8];
            (V4_CLIENTS + i, a, mac, None)
        } else {
            let i = self.rng.below(V4_CLIENTS as u64) as usize;
            let group = i / 250;
            let a = v4_16([10, 0, 1 + group as u8, 2 + (i % 250) as u8]);
            let mac = [0x02, 0x40, 0, 0, (i >> 8) as u8, i as u8];
            let vlan = (group == VLAN_GROUP).then_some(100 + group as u16);
            (i, a, mac, vlan)
        }
    }

    /// A new connection from an internal host; the destination (port 0
    /// until chosen) is public unless `internal`.
    fn new_flow(&mut self, internal: bool) -> Flow {
        let v6 = !internal && self.rng.chance(0.10);
        let (ci, caddr, cmac, vlan) = self.client(v6);
        let port = &mut self.next_port[ci];
        *port = if *port >= 60999 { 32768 } else { *port + 1 };
        let cport = *port;
        let saddr = if internal {
            v4_16([10, 0, 200, 1 + self.rng.below(40) as u8])
        } else if v6 {
            self.v6_servers[self.rng.skewed(V6_SERVERS)]
        } else {
            self.v4_servers[self.rng.skewed(V4_SERVERS)]
        };
        Flow {
            v6,
            vlan,
            cmac,
            peer_mac: GATEWAY_MAC,
            caddr,
            saddr,
            cport,
            sport: 0,
            cseq: self.rng.next_u64() as u32,
            sseq: self.rng.next_u64() as u32,
            cid: self.rng.next_u64() as u16,
            sid: self.rng.next_u64() as u16,
            cttl: if self.rng.chance(0.6) { 128 } else { 64 },
            sttl: self.rng.range(40, 60) as u8,
        }
    }

    fn out_port(&mut self) -> u16 {
        let mut r = self.rng.below(u64::from(self.port_weight_total)) as u32;
        for &(p, w) in OUT_PORTS {
            if r < w {
                return if p == 0 {
                    self.rng.range(1025, 65536) as u16
                } else {
                    p
                };
            }
            r -= w;
        }
        443
    }
}

/// The benchmark container: classic pcap, little-endian, microseconds.
pub const PCAP: CaptureFormat = CaptureFormat::Pcap {
    big_endian: false,
    nanos: false,
};

/// The same traffic as pcapng (one Ethernet interface, microseconds).
pub const PCAPNG: CaptureFormat = CaptureFormat::Pcapng {
    big_endian: false,
    tsresol: 6,
};

/// Writes a classic pcap (little-endian, microseconds, Ethernet) of at least
/// `target` bytes into `w`; returns `w` and what was written.
pub fn generate<W: Write>(w: W, target: u64) -> io::Result<(W, Summary)> {
    generate_as(w, target, PCAP)
}

/// [`generate`] in the given container; the packets are the same.
pub fn generate_as<W: Write>(w: W, target: u64, format: CaptureFormat) -> io::Result<(W, Summary)> {
    let (file_header, record_overhead, pad4) = match format {
        CaptureFormat::Pcap { .. } => (24, 16, false),
        // Section header (28) and interface description (32) blocks; an
        // enhanced packet block is 32 bytes plus the data padded to 4.
        CaptureFormat::Pcapng { .. } => (28 + 32, 32, true),
    };
    let mut cw = CaptureWriter::new(w, format, 1)?;
    let mut world = World::new();
    let mut sum = Summary {
        bytes: file_header,
        ..Summary::default()
    };
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut dns = Vec::with_capacity(256);
    let mut pending: BinaryHeap<Pending> = BinaryHeap::new();
    let mut order = 0u64;
    let mut now: i64 = START_SECS * Ts::NANOS_PER_SEC;
    let mut schedule = |pending: &mut BinaryHeap<Pending>, due: i64, ev: Ev| {
        order += 1;
        pending.push(Pending { due, order, ev });
    };

    while sum.bytes < target {
        // Mean gap 15 µs: ~65k packets/s, ~400 Mbit/s.
        now += world.rng.below(30_000) as i64;
        let ts_ms = (now / 1_000_000) as u32;
        let due = pending.peek().is_some_and(|p| p.due <= now);
        if due {
            let p = pending.pop().expect("peeked");
            match p.ev {
                Ev::SynAck(mut f) => {
                    tcp_frame(
                        &mut buf,
                        &f,
                        Dir::Down,
                        TCP_SYN | TCP_ACK,
                        TcpOpts::Syn,
                        &[],
                        0,
                        ts_ms,
                    );
                    sum.synacks += 1;
                    f.sseq = f.sseq.wrapping_add(1);
                    f.sid = f.sid.wrapping_add(1);
                    let rtt = world.rng.range(50_000, 400_000) as i64;
                    schedule(&mut pending, now + rtt, Ev::HandshakeAck(f));
                }
                Ev::HandshakeAck(mut f) => {
                    tcp_frame(&mut buf, &f, Dir::Up, TCP_ACK, TcpOpts::Ts, &[], 0, ts_ms);
                    f.cid = f.cid.wrapping_add(1);
                    // What the client says first, on the ports that speak
                    // TLS, HTTP or SSH (real handshakes, so protocol
                    // identification has real work); random bytes elsewhere.
                    if let Some(open) = opening(&mut world.tls_rng, f.sport, true) {
                        cw_packet(&mut cw, &mut sum, &buf, now, pad4, record_overhead)?;
                        tcp_frame(
                            &mut buf,
                            &f,
                            Dir::Up,
                            TCP_PSH | TCP_ACK,
                            TcpOpts::Ts,
                            &open,
                            word_sum(&open),
                            ts_ms,
                        );
                        f.cseq = f.cseq.wrapping_add(open.len() as u32);
                        f.cid = f.cid.wrapping_add(1);
                        let rtt = world.rng.range(2_000_000, 80_000_000) as i64;
                        schedule(&mut pending, now + rtt, Ev::ServerOpening(f));
                    } else {
                        let slot = world.rng.below(POOL_FLOWS as u64) as usize;
                        world.flows[slot] = f;
                    }
                }
                Ev::ServerOpening(mut f) => {
                    let open = opening(&mut world.tls_rng, f.sport, false).unwrap_or_default();
                    tcp_frame(
                        &mut buf,
                        &f,
                        Dir::Down,
                        TCP_PSH | TCP_ACK,
                        TcpOpts::Ts,
                        &open,
                        word_sum(&open),
                        ts_ms,
                    );
                    f.sseq = f.sseq.wrapping_add(open.len() as u32);
                    f.sid = f.sid.wrapping_add(1);
                    let slot = world.rng.below(POOL_FLOWS as u64) as usize;
                    world.flows[slot] = f;
                }
                Ev::Refused(f) => {
                    tcp_frame(
                        &mut buf,
                        &f,
                        Dir::Down,
                        TCP_RST | TCP_ACK,
                        TcpOpts::None,
                        &[],
                        0,
                        ts_ms,
                    );
                    sum.rsts += 1;
                }
                Ev::SynRetry(mut f, left) => {
                    f.cseq = f.cseq.wrapping_sub(1);
                    tcp_frame(&mut buf, &f, Dir::Up, TCP_SYN, TcpOpts::Syn, &[], 0, ts_ms);
                    f.cseq = f.cseq.wrapping_add(1);
                    sum.syns += 1;
                    sum.syn_retransmits += 1;
                    sum.c2_syns += u64::from(C2_PORTS.contains(&f.sport));
                    if left > 1 {
                        schedule(&mut pending, now + 2_000_000_000, Ev::SynRetry(f, left - 1));
                    }
                }
                Ev::DnsAnswer(f, id, name, aaaa) => {
                    dns_message(&mut dns, id, DOMAINS[name], aaaa, true);
                    udp_frame(&mut buf, &f, Dir::Down, &dns, word_sum(&dns));
                    sum.udp += 1;
                }
            }
        } else {
            let r = world.rng.unit();
            if r < 0.0125 {
                // A new TCP connection: 85% to public servers, 12% east-west,
                // 3% inbound to a DMZ server (not outbound: never scored).
                let kind = world.rng.unit();
                let mut f = if kind < 0.85 {
                    let mut f = world.new_flow(false);
                    f.sport = world.out_port();
                    if C2_PORTS.contains(&f.sport) && world.rng.chance(0.5) && !f.v6 {
                        f.saddr = world.beacons[world.rng.below(BEACON_SERVERS as u64) as usize];
                    }
                    f
                } else if kind < 0.97 {
                    let mut f = world.new_flow(true);
                    f.sport = INTERNAL_PORTS[world.rng.below(INTERNAL_PORTS.len() as u64) as usize];
                    f.peer_mac = [0x02, 0x50, 0, 0, 200, f.saddr[3]];
                    f
                } else {
                    // Swap roles: a public client reaching 10.0.250.10:443.
                    let mut f = world.new_flow(false);
                    f.v6 = false;
                    f.vlan = None;
                    f.caddr = world.v4_servers[world.rng.below(V4_SERVERS as u64) as usize];
                    f.saddr = v4_16([10, 0, 250, 10]);
                    f.cmac = GATEWAY_MAC;
                    f.peer_mac = [0x02, 0x50, 0, 0, 250, 10];
                    f.cport = world.rng.range(1024, 65536) as u16;
                    f.sport = 443;
                    f
                };
                tcp_frame(&mut buf, &f, Dir::Up, TCP_SYN, TcpOpts::Syn, &[], 0, ts_ms);
                sum.syns += 1;
                sum.c2_syns += u64::from(C2_PORTS.contains(&f.sport));
                f.cseq = f.cseq.wrapping_add(1);
                f.cid = f.cid.wrapping_add(1);
                let rtt = if f.saddr[0] == 10 {
                    world.rng.range(100_000, 2_000_000)
                } else {
                    world.rng.range(2_000_000, 150_000_000)
                } as i64;
                let fate = world.rng.unit();
                if fate < 0.86 {
                    schedule(&mut pending, now + rtt, Ev::SynAck(f));
                } else if fate < 0.92 {
                    schedule(&mut pending, now + rtt, Ev::Refused(f));
                } else if fate < 0.97 {
                    schedule(&mut pending, now + 1_000_000_000, Ev::SynRetry(f, 2));
                }
                // else: unanswered, never retried (filtered, host gone).
            } else if r < 0.0125 + 0.018 {
                // A DNS query, answered a few ms later.
                let mut f = world.new_flow(true);
                f.v6 = false;
                f.vlan = None;
                f.saddr = if world.rng.chance(0.8) {
                    v4_16([10, 0, 0, 53])
                } else {
                    v4_16([8, 8, 8, 8])
                };
                f.peer_mac = if f.saddr[0] == 10 {
                    RESOLVER_MAC
                } else {
                    GATEWAY_MAC
                };
                f.sport = 53;
                let id = world.rng.next_u64() as u16;
                let name = world.rng.below(DOMAINS.len() as u64) as usize;
                let aaaa = world.rng.chance(0.4);
                dns_message(&mut dns, id, DOMAINS[name], aaaa, false);
                udp_frame(&mut buf, &f, Dir::Up, &dns, word_sum(&dns));
                sum.udp += 1;
                let rtt = world.rng.range(300_000, 40_000_000) as i64;
                schedule(&mut pending, now + rtt, Ev::DnsAnswer(f, id, name, aaaa));
            } else if r < 0.0125 + 0.018 + 0.015 {
                // QUIC: mostly full-size datagrams from the server.
                let i = world.rng.below(POOL_FLOWS as u64) as usize;
                let mut f = world.flows[i];
                f.sport = 443;
                f.cport = f.cport.wrapping_add(1);
                let (dir, len) = if world.rng.chance(0.7) {
                    (Dir::Down, world.rng.range(1200, 1353) as usize)
                } else {
                    (Dir::Up, world.rng.range(30, 80) as usize)
                };
                let (p, ps) = world.pool.slice(&mut world.rng, len);
                udp_frame(&mut buf, &f, dir, p, ps);
                sum.udp += 1;
            } else {
                // A segment on an established connection, heavy flows first.
                let n = world.rng.below(POOL_FLOWS as u64) + 1;
                let i = world.rng.below(n) as usize;
                let mut f = world.flows[i];
                let kind = world.rng.unit();
                let ip_hdr = if f.v6 { 40 } else { 20 };
                let (dir, len) = if kind < 0.42 {
                    (Dir::Up, 0)
                } else if kind < 0.84 {
                    (Dir::Down, 1500 - ip_hdr - 32)
                } else {
                    let dir = if world.rng.chance(0.5) {
                        Dir::Up
                    } else {
                        Dir::Down
                    };
                    // Log-uniform between 1 and ~1400 bytes.
                    let len = (world.rng.unit() * 7.24).exp() as usize;
                    (dir, len.clamp(1, 1400))
                };
                let flags = if len == 0 {
                    if world.rng.chance(0.002) {
                        TCP_FIN | TCP_ACK
                    } else {
                        TCP_ACK
                    }
                } else if len < 1400 {
                    TCP_PSH | TCP_ACK
                } else {
                    TCP_ACK
                };
                let (p, ps) = world.pool.slice(&mut world.rng, len);
                tcp_frame(&mut buf, &f, dir, flags, TcpOpts::Ts, p, ps, ts_ms);
                match dir {
                    Dir::Up => {
                        f.cseq = f.cseq.wrapping_add(len as u32);
                        f.cid = f.cid.wrapping_add(1);
                    }
                    Dir::Down => {
                        f.sseq = f.sseq.wrapping_add(len as u32);
                        f.sid = f.sid.wrapping_add(1);
                    }
                }
                world.flows[i] = f;
            }
        }
        cw_packet(&mut cw, &mut sum, &buf, now, pad4, record_overhead)?;
    }
    Ok((cw.finish()?, sum))
}

/// Writes the frame in `buf` at `now` and counts it.
fn cw_packet<W: Write>(
    cw: &mut CaptureWriter<W>,
    sum: &mut Summary,
    buf: &[u8],
    now: i64,
    pad4: bool,
    record_overhead: u64,
) -> io::Result<()> {
    let eth_ip_v6 = buf[12..14] == [0x86, 0xdd] || buf[16..18] == [0x86, 0xdd];
    sum.ipv6 += u64::from(eth_ip_v6);
    sum.vlan += u64::from(buf[12..14] == [0x81, 0x00]);
    match buf.len() {
        0..=90 => sum.small += 1,
        1514.. => sum.full += 1,
        _ => sum.mid += 1,
    }
    cw.packet(Ts(now - now % 1000), buf)?;
    sum.packets += 1;
    let data = if pad4 {
        buf.len().next_multiple_of(4)
    } else {
        buf.len()
    };
    sum.bytes += record_overhead + data as u64;
    Ok(())
}

/// The first bytes of a connection to `port`, the client's or the
/// server's: a TLS ClientHello or ServerHello on TLS ports, an HTTP request
/// or response on web ports, an SSH banner on 22; `None` on other ports.
fn opening(
    rng: &mut crate::testkit::samples::SplitMix64,
    port: u16,
    client: bool,
) -> Option<Vec<u8>> {
    use crate::testkit::samples::{client_hello, http_get, http_ok, server_hello};
    const HOSTS: [&str; 4] = [
        "www.example.com",
        "cdn.example.net",
        "api.example.org",
        "mail.example.com",
    ];
    let host = HOSTS[rng.next_u64() as usize % HOSTS.len()];
    Some(match (port, client) {
        (443 | 8443 | 993 | 995 | 465 | 853, true) => client_hello(rng, host),
        (443 | 8443 | 993 | 995 | 465 | 853, false) => server_hello(rng, 1200),
        (80 | 8080, true) => http_get(
            host,
            "/index.html",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        ),
        (80 | 8080, false) => http_ok("text/html", &[b'x'; 600]),
        (22, true) => b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n".to_vec(),
        (22, false) => b"SSH-2.0-OpenSSH_8.9p1\r\n".to_vec(),
        _ => return None,
    })
}
