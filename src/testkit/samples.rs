//! The bundled samples' generator: small captures that reproduce the
//! validation scenarios of DETECTION.md (§5 test 1, §7 test 4, §8 tests 2
//! and 3) amid ordinary traffic, written by `cargo run --example gen_samples
//! -- samples/`.
//!
//! The output is a pure function of this file: a fixed-seed PRNG
//! (splitmix64), fixed timestamps (from 2026-03-02T09:00:00Z), a fixed gzip
//! level and a zero gzip mtime. `tests/samples.rs` regenerates the files and
//! checks they are byte-identical to the committed ones; `samples/README.md`
//! says what each holds and what portent reports on it.
//!
//! | file | scenario |
//! |---|---|
//! | `windows-4444.pcap` | a Windows host opens one connection to a public address on 4444 |
//! | `beacon-9001.pcapng` | a Windows host calls one public address on 9001 ten times, ~60 s apart |
//! | `linux-8088.pcap.gz` | a Linux host beacons TLS to a public address on 8088 every ~30 s, 12 times |
//! | `rdp-33890.pcapng` | RDP moved to 33890: inbound sessions from public addresses to an internal server |

use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::decode::{linktype, TCP_ACK, TCP_RST, TCP_SYN};
use crate::testkit::synth::{self, CaptureFormat, CaptureWriter};
use crate::time::Ts;
use etherparse::{IpHeaders, Ipv4Header, Ipv6Header, PacketBuilder, TcpHeader, TcpOptionElement};
use flate2::{Compression, GzBuilder};

/// 2026-03-02T09:00:00Z, the start of every sample.
pub const T0: i64 = 1_772_442_000;

/// The files [`write_all`] writes, in the order it writes them.
pub const FILES: [&str; 4] = [
    "windows-4444.pcap",
    "beacon-9001.pcapng",
    "linux-8088.pcap.gz",
    "rdp-33890.pcapng",
];

/// Writes every sample into `dir` (created if missing).
pub fn write_all(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in render_all()? {
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// Every sample as (file name, bytes), in [`FILES`] order.
pub fn render_all() -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    Ok(vec![
        (FILES[0], windows_4444()?),
        (FILES[1], beacon_9001()?),
        (FILES[2], linux_8088()?),
        (FILES[3], rdp_33890()?),
    ])
}

// ---------------------------------------------------------------------------
// Determinism: a hand-written PRNG with a fixed seed per file.

/// The library's splitmix64 (fixed output per seed), with the draws the
/// sample generator needs.
pub(crate) struct SplitMix64(pub(crate) synth::SplitMix64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `lo..=hi` (the modulo bias is irrelevant here).
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// Packets.

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;

/// How a TCP/IP stack looks on the wire: the TTL as captured (initial TTL
/// minus the hops to the capture point), windows and SYN options.
#[derive(Clone, Copy)]
struct Stack {
    ttl: u8,
    syn_window: u16,
    window: u16,
    os: Os,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Os {
    Windows,
    Linux,
}

/// A Windows host on the capture's own segment.
const WINDOWS: Stack = Stack {
    ttl: 128,
    syn_window: 64240,
    window: 1026,
    os: Os::Windows,
};
/// A Linux host on the capture's own segment.
const LINUX: Stack = Stack {
    ttl: 64,
    syn_window: 64240,
    window: 502,
    os: Os::Linux,
};
/// A Linux server some hops away.
const REMOTE_LINUX: Stack = Stack {
    ttl: 51,
    syn_window: 65160,
    window: 509,
    os: Os::Linux,
};
/// A Windows server some hops away.
const REMOTE_WINDOWS: Stack = Stack {
    ttl: 113,
    syn_window: 65535,
    window: 1023,
    os: Os::Windows,
};

/// The options of a SYN or SYN-ACK; `ts` is (TSval, TSecr) when both ends
/// use TCP timestamps (Linux does, Windows does not by default).
fn syn_options(stack: Stack, v6: bool, ts: Option<(u32, u32)>) -> Vec<TcpOptionElement> {
    use TcpOptionElement::*;
    let mss = if v6 { 1440 } else { 1460 };
    match (stack.os, ts) {
        (Os::Windows, _) => vec![
            MaximumSegmentSize(mss),
            Noop,
            WindowScale(8),
            Noop,
            Noop,
            SelectiveAcknowledgementPermitted,
        ],
        (Os::Linux, Some((tsval, tsecr))) => vec![
            MaximumSegmentSize(mss),
            SelectiveAcknowledgementPermitted,
            Timestamp(tsval, tsecr),
            Noop,
            WindowScale(7),
        ],
        (Os::Linux, None) => vec![
            MaximumSegmentSize(mss),
            Noop,
            Noop,
            SelectiveAcknowledgementPermitted,
            Noop,
            WindowScale(7),
        ],
    }
}

/// One TCP segment in an IP packet.
struct Seg<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    stack: Stack,
    ip_id: u16,
    seq: u32,
    ack: Option<u32>,
    flags: u8,
    options: &'a [TcpOptionElement],
    payload: &'a [u8],
}

fn ip_headers(src: IpAddr, dst: IpAddr, ttl: u8, ip_id: u16) -> IpHeaders {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => IpHeaders::Ipv4(
            Ipv4Header {
                identification: ip_id,
                dont_fragment: true,
                time_to_live: ttl,
                source: s.octets(),
                destination: d.octets(),
                ..Default::default()
            },
            Default::default(),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
            Ipv6Header {
                hop_limit: ttl,
                source: s.octets(),
                destination: d.octets(),
                ..Default::default()
            },
            Default::default(),
        ),
        _ => panic!("mixed address families {src} -> {dst}"),
    }
}

fn tcp_ip(s: &Seg) -> Vec<u8> {
    let window = if s.flags & TCP_SYN != 0 {
        s.stack.syn_window
    } else {
        s.stack.window
    };
    let mut h = TcpHeader::new(s.src.port(), s.dst.port(), s.seq, window);
    h.fin = s.flags & TCP_FIN != 0;
    h.syn = s.flags & TCP_SYN != 0;
    h.rst = s.flags & TCP_RST != 0;
    h.psh = s.flags & TCP_PSH != 0;
    if let Some(ack) = s.ack {
        h.ack = true;
        h.acknowledgment_number = ack;
    }
    h.set_options(s.options).expect("TCP options fit");
    let b =
        PacketBuilder::ip(ip_headers(s.src.ip(), s.dst.ip(), s.stack.ttl, s.ip_id)).tcp_header(h);
    let mut out = Vec::with_capacity(b.size(s.payload.len()));
    b.write(&mut out, s.payload).expect("write into a Vec");
    out
}

fn udp_ip(src: SocketAddr, dst: SocketAddr, ttl: u8, ip_id: u16, payload: &[u8]) -> Vec<u8> {
    let b =
        PacketBuilder::ip(ip_headers(src.ip(), dst.ip(), ttl, ip_id)).udp(src.port(), dst.port());
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("write into a Vec");
    out
}

fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        0x86dd
    } else {
        0x0800
    }
}

/// A locally administered MAC address derived from an IP address.
fn mac_of(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// Ephemeral port ranges: Windows (Vista and later), Linux's default.
const WINDOWS_PORTS: (u16, u16) = (49_152, 65_535);
const LINUX_PORTS: (u16, u16) = (32_768, 60_999);

/// The router every off-segment packet goes through.
const GATEWAY_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01];

/// The link layer of one capture interface.
#[derive(Clone, Copy)]
enum Link {
    /// Ethernet II; frames not sent by the capturing host are padded to the
    /// 60-byte minimum, as a NIC delivers them.
    Ethernet,
    /// Linux "any" device (LINKTYPE_LINUX_SLL2), interface index as given.
    Sll2 { ifindex: u32 },
}

impl Link {
    fn linktype(self) -> u32 {
        match self {
            Link::Ethernet => linktype::ETHERNET,
            Link::Sll2 { .. } => linktype::LINUX_SLL2,
        }
    }
}

// ---------------------------------------------------------------------------
// Traffic: a trace collects packets (any order) and writes them sorted.

struct Trace {
    rng: SplitMix64,
    links: Vec<Link>,
    /// Addresses on the captured segment (their own MAC; others behind the
    /// gateway).
    segment: Vec<IpAddr>,
    /// Addresses of the capturing host (its frames are not padded, and it
    /// sends with PACKET_OUTGOING on SLL2).
    own: Vec<IpAddr>,
    /// Addresses of one host in another family: (alias, address whose
    /// MAC it shares).
    aliases: Vec<(IpAddr, IpAddr)>,
    /// Ephemeral ports handed out by [`Trace::ephemeral`].
    used_ports: Vec<u16>,
    /// (time ns, insertion order, interface, frame)
    packets: Vec<(i64, usize, u32, Vec<u8>)>,
    ip_id: u16,
}

/// One TCP connection to play out.
struct Tcp {
    iface: u32,
    client: SocketAddr,
    server: SocketAddr,
    cs: Stack,
    ss: Stack,
    /// Round trip from the capture point to the server and back.
    rtt: i64,
    reply: Reply,
    /// SYNs lost before the one that is answered (each resent with the
    /// same ISN after 1 s, then 2 s, ...).
    lost_syns: u32,
    /// Payloads in order: `true` from the client.
    talk: Vec<(bool, Vec<u8>)>,
    /// Ends with FIN, FIN, ACK (else left open).
    close: bool,
    /// The capture is taken at the server (inbound connections), not at
    /// the client.
    at_server: bool,
}

/// The state of a connection being played out.
struct Flow {
    t: i64,
    /// Next sequence number to send, client and server.
    cn: u32,
    sn: u32,
    /// IP identification counters of hosts other than the capturing one.
    ids: (u16, u16),
    last_from_client: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    Accept,
    Reset,
    Silent,
}

impl Tcp {
    fn new(iface: u32, client: &str, server: &str, cs: Stack, ss: Stack, rtt_ms: i64) -> Tcp {
        Tcp {
            iface,
            client: client.parse().expect("client address"),
            server: server.parse().expect("server address"),
            cs,
            ss,
            rtt: rtt_ms * MS,
            reply: Reply::Accept,
            lost_syns: 0,
            talk: Vec::new(),
            close: true,
            at_server: false,
        }
    }

    fn say(mut self, from_client: bool, data: Vec<u8>) -> Tcp {
        self.talk.push((from_client, data));
        self
    }

    fn reply(mut self, r: Reply) -> Tcp {
        self.reply = r;
        self
    }

    fn left_open(mut self) -> Tcp {
        self.close = false;
        self
    }

    fn lost_syns(mut self, n: u32) -> Tcp {
        self.lost_syns = n;
        self
    }

    fn captured_at_server(mut self) -> Tcp {
        self.at_server = true;
        self
    }
}

impl Trace {
    fn new(seed: u64, links: Vec<Link>, segment: &[&str], own: &[&str]) -> Trace {
        let ips = |l: &[&str]| l.iter().map(|a| a.parse().expect("address")).collect();
        Trace {
            rng: SplitMix64(synth::SplitMix64(seed)),
            links,
            segment: ips(segment),
            own: ips(own),
            aliases: Vec::new(),
            used_ports: Vec::new(),
            packets: Vec::new(),
            ip_id: 0x3a10,
        }
    }

    fn frame(&mut self, iface: u32, t: i64, ip: Vec<u8>, src: IpAddr, dst: IpAddr) {
        let outgoing = self.own.contains(&src);
        let mac = |a: IpAddr| {
            let a = self
                .aliases
                .iter()
                .find(|(alias, _)| *alias == a)
                .map_or(a, |(_, main)| *main);
            if self.segment.contains(&a) {
                mac_of(a)
            } else {
                GATEWAY_MAC
            }
        };
        let et = ethertype_of(&ip);
        let f = match self.links[iface as usize] {
            Link::Ethernet => {
                let mut f = Vec::with_capacity(14 + ip.len().max(46));
                f.extend_from_slice(&mac(dst));
                f.extend_from_slice(&mac(src));
                f.extend_from_slice(&et.to_be_bytes());
                f.extend_from_slice(&ip);
                if !outgoing && f.len() < 60 {
                    f.resize(60, 0);
                }
                f
            }
            Link::Sll2 { ifindex } => {
                let mut f = Vec::with_capacity(20 + ip.len());
                f.extend_from_slice(&et.to_be_bytes());
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(&ifindex.to_be_bytes());
                f.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                f.push(if outgoing { 4 } else { 0 }); // PACKET_OUTGOING / HOST
                f.push(6);
                f.extend_from_slice(&mac(src));
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(&ip);
                f
            }
        };
        let n = self.packets.len();
        self.packets.push((t, n, iface, f));
    }

    /// A random ephemeral port of `host` from `range`, never used before in
    /// this trace, as `host:port`.
    fn ephemeral(&mut self, host: &str, range: (u16, u16)) -> String {
        loop {
            let port = self.rng.range(i64::from(range.0), i64::from(range.1)) as u16;
            if !self.used_ports.contains(&port) {
                self.used_ports.push(port);
                return sock(host, port);
            }
        }
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    fn seg(&mut self, iface: u32, t: i64, s: Seg) {
        let ip = tcp_ip(&s);
        self.frame(iface, t, ip, s.src.ip(), s.dst.ip());
    }

    /// Plays out one TCP connection from `t`; returns when it ended.
    ///
    /// Timing follows the capture point: a packet from the far end that
    /// answers one from the near end comes a round trip later; everything
    /// else follows after the sender's processing time.
    fn tcp(&mut self, t: i64, c: &Tcp) -> i64 {
        let (ci, si) = (self.rng.u32(), self.rng.u32());
        let v6 = c.client.is_ipv6();
        let tsval = (t / MS) as u32;
        let mut f = Flow {
            t,
            cn: ci,
            sn: si,
            ids: ((self.rng.u32() >> 16) as u16, (self.rng.u32() >> 16) as u16),
            last_from_client: true,
        };
        let both_ts = c.cs.os == Os::Linux && c.ss.os == Os::Linux;
        let copts = syn_options(c.cs, v6, Some((tsval, 0)));
        for k in 0..=c.lost_syns {
            if k > 0 {
                f.t += SEC << (k - 1);
            }
            f.cn = ci;
            self.send(c, &mut f, true, TCP_SYN, &copts, &[]);
        }
        match c.reply {
            Reply::Silent => return f.t,
            Reply::Reset => {
                // RST+ACK with sequence number 0, acknowledging the SYN.
                f.sn = 0;
                self.send(c, &mut f, false, TCP_RST | TCP_ACK, &[], &[]);
                return f.t;
            }
            Reply::Accept => {}
        }
        let server_clock = (self.rng.u32() >> 4).wrapping_add(tsval);
        let sopts = syn_options(c.ss, v6, both_ts.then_some((server_clock, tsval)));
        self.send(c, &mut f, false, TCP_SYN | TCP_ACK, &sopts, &[]);
        self.send(c, &mut f, true, TCP_ACK, &[], &[]);
        for (i, (from_client, data)) in c.talk.iter().enumerate() {
            self.send(c, &mut f, *from_client, TCP_PSH | TCP_ACK, &[], data);
            // The receiver acknowledges unless it speaks next.
            if c.talk.get(i + 1).map(|(n, _)| n) != Some(&!from_client) {
                self.send(c, &mut f, !from_client, TCP_ACK, &[], &[]);
            }
        }
        if c.close {
            f.t += self.rng.range(MS, 30 * MS);
            self.send(c, &mut f, true, TCP_FIN | TCP_ACK, &[], &[]);
            self.send(c, &mut f, false, TCP_FIN | TCP_ACK, &[], &[]);
            self.send(c, &mut f, true, TCP_ACK, &[], &[]);
        }
        f.t
    }

    /// Sends one segment of connection `c` after the right delay, and
    /// advances the sender's sequence number.
    fn send(
        &mut self,
        c: &Tcp,
        f: &mut Flow,
        from_client: bool,
        flags: u8,
        options: &[TcpOptionElement],
        payload: &[u8],
    ) {
        let syn_only = flags == TCP_SYN;
        if !syn_only {
            let far = from_client == c.at_server;
            let prev_far = f.last_from_client == c.at_server;
            if far && !prev_far {
                f.t += c.rtt;
            }
            f.t += if from_client == f.last_from_client {
                self.rng.range(20_000, 400_000)
            } else if !from_client && !payload.is_empty() {
                self.rng.range(MS, 15 * MS) // the server works out an answer
            } else {
                self.rng.range(30_000, 900_000)
            };
        }
        let (src, dst, stack) = if from_client {
            (c.client, c.server, c.cs)
        } else {
            (c.server, c.client, c.ss)
        };
        let ip_id = if self.own.contains(&src.ip()) {
            self.next_ip_id()
        } else if from_client {
            f.ids.0 = f.ids.0.wrapping_add(1);
            f.ids.0
        } else {
            f.ids.1 = f.ids.1.wrapping_add(1);
            f.ids.1
        };
        let (seq, ack) = if from_client {
            (f.cn, f.sn)
        } else {
            (f.sn, f.cn)
        };
        self.seg(
            c.iface,
            f.t,
            Seg {
                src,
                dst,
                stack,
                ip_id,
                seq,
                ack: (flags & TCP_ACK != 0).then_some(ack),
                flags,
                options,
                payload,
            },
        );
        let used = payload.len() as u32 + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
        if from_client {
            f.cn = f.cn.wrapping_add(used);
        } else {
            f.sn = f.sn.wrapping_add(used);
        }
        f.last_from_client = from_client;
    }

    /// A UDP request and its answer.
    #[allow(clippy::too_many_arguments)]
    fn udp_exchange(
        &mut self,
        iface: u32,
        t: i64,
        client: &str,
        server: &str,
        ttls: (u8, u8),
        rtt_ms: i64,
        request: &[u8],
        response: &[u8],
    ) -> i64 {
        let c: SocketAddr = client.parse().expect("client address");
        let s: SocketAddr = server.parse().expect("server address");
        let id = self.next_ip_id();
        let ip = udp_ip(c, s, ttls.0, id, request);
        self.frame(iface, t, ip, c.ip(), s.ip());
        let t = t + rtt_ms * MS + self.rng.range(0, 2 * MS);
        let id = (self.rng.u32() & 0xffff) as u16;
        let ip = udp_ip(s, c, ttls.1, id, response);
        self.frame(iface, t, ip, s.ip(), c.ip());
        t
    }

    /// A DNS lookup over UDP 53 (`resolver` without port).
    #[allow(clippy::too_many_arguments)]
    fn dns(
        &mut self,
        iface: u32,
        t: i64,
        client: &str,
        resolver: &str,
        ttls: (u8, u8),
        name: &str,
        answers: &[&str],
    ) -> i64 {
        let id = (self.rng.u32() & 0xffff) as u16;
        let sport = self.rng.range(49152, 65535);
        let answers: Vec<IpAddr> = answers.iter().map(|a| a.parse().expect("answer")).collect();
        let qtype = match answers.first() {
            Some(IpAddr::V6(_)) => 28,
            _ => 1,
        };
        let q = dns_message(id, false, name, qtype, &answers);
        let r = dns_message(id, true, name, qtype, &answers);
        let client = sock(client, sport as u16);
        let server = sock(resolver, 53);
        self.udp_exchange(iface, t, &client, &server, ttls, 1, &q, &r)
    }

    /// Writes the packets, sorted by time (stable), into a capture.
    fn write(mut self, format: CaptureFormat) -> io::Result<Vec<u8>> {
        self.packets.sort_by_key(|p| (p.0, p.1));
        let mut w = CaptureWriter::new(Vec::new(), format, self.links[0].linktype())?;
        for l in &self.links[1..] {
            w.add_interface(l.linktype())?;
        }
        for (t, _, iface, f) in &self.packets {
            w.packet_on(*iface, Ts(T0 * SEC + t), f)?;
        }
        w.finish()
    }
}

/// `addr:port` for IPv4, `[addr]:port` for IPv6.
fn sock(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

// ---------------------------------------------------------------------------
// Application payloads: enough of the real thing for a dissector to name it.

fn dns_message(id: u16, response: bool, name: &str, qtype: u16, answers: &[IpAddr]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&if response { 0x8180u16 } else { 0x0100 }.to_be_bytes());
    let an = if response { answers.len() as u16 } else { 0 };
    for n in [1u16, an, 0, 0] {
        m.extend_from_slice(&n.to_be_bytes());
    }
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if response {
        for a in answers {
            m.extend_from_slice(&[0xc0, 0x0c]);
            m.extend_from_slice(&qtype.to_be_bytes());
            m.extend_from_slice(&1u16.to_be_bytes());
            m.extend_from_slice(&300u32.to_be_bytes());
            match a {
                IpAddr::V4(v) => {
                    m.extend_from_slice(&4u16.to_be_bytes());
                    m.extend_from_slice(&v.octets());
                }
                IpAddr::V6(v) => {
                    m.extend_from_slice(&16u16.to_be_bytes());
                    m.extend_from_slice(&v.octets());
                }
            }
        }
    }
    m
}

pub(crate) fn http_get(host: &str, path: &str, agent: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

pub(crate) fn http_ok(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A TLS record of `typ` around `body`.
fn tls_record(typ: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn tls_handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![typ];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(body);
    h
}

fn tls_extension(typ: u16, body: &[u8]) -> Vec<u8> {
    let mut e = typ.to_be_bytes().to_vec();
    e.extend_from_slice(&(body.len() as u16).to_be_bytes());
    e.extend_from_slice(body);
    e
}

/// A TLS 1.3 ClientHello record with SNI `host`.
pub(crate) fn client_hello(rng: &mut SplitMix64, host: &str) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&rng.bytes(32));
    b.push(32);
    b.extend_from_slice(&rng.bytes(32));
    let suites: [u16; 5] = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f];
    b.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]); // compression: null
    let mut sni = Vec::new();
    sni.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sni.extend_from_slice(host.as_bytes());
    let mut key_share = vec![0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
    key_share.extend_from_slice(&rng.bytes(32));
    let mut ext = Vec::new();
    ext.extend(tls_extension(0x0000, &sni));
    ext.extend(tls_extension(0x000a, &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]));
    ext.extend(tls_extension(0x000d, &[0x00, 0x04, 0x04, 0x03, 0x08, 0x04]));
    ext.extend(tls_extension(0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]));
    ext.extend(tls_extension(0x0033, &key_share));
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend(ext);
    tls_record(0x16, 0x0301, &tls_handshake(1, &b))
}

/// A TLS 1.3 ServerHello, ChangeCipherSpec and `encrypted` bytes of
/// application data.
pub(crate) fn server_hello(rng: &mut SplitMix64, encrypted: usize) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&rng.bytes(32));
    b.push(32);
    b.extend_from_slice(&rng.bytes(32));
    b.extend_from_slice(&0x1301u16.to_be_bytes());
    b.push(0);
    let mut key_share = vec![0x00, 0x1d, 0x00, 0x20];
    key_share.extend_from_slice(&rng.bytes(32));
    let mut ext = Vec::new();
    ext.extend(tls_extension(0x002b, &[0x03, 0x04]));
    ext.extend(tls_extension(0x0033, &key_share));
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend(ext);
    let mut r = tls_record(0x16, 0x0303, &tls_handshake(2, &b));
    r.extend(tls_record(0x14, 0x0303, &[1]));
    r.extend(tls_record(0x17, 0x0303, &rng.bytes(encrypted)));
    r
}

/// TLS application data from the client (finished, request).
fn tls_app(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    let mut r = tls_record(0x14, 0x0303, &[1]);
    r.extend(tls_record(0x17, 0x0303, &rng.bytes(len)));
    r
}

// ---------------------------------------------------------------------------
// The samples.

/// DETECTION.md §5, test 1: a Windows workstation (192.168.56.10) opens one
/// connection to 203.0.113.66:4444, which sends a staged payload back, amid
/// ordinary browsing. Classic pcap, little-endian, microseconds, Ethernet.
fn windows_4444() -> io::Result<Vec<u8>> {
    const HOST: &str = "192.168.56.10";
    const GW: &str = "192.168.56.1";
    const DC: &str = "192.168.56.2";
    const FS: &str = "192.168.56.20";
    let mut tr = Trace::new(
        0x7157_1444,
        vec![Link::Ethernet],
        &[HOST, GW, DC, FS],
        &[HOST],
    );
    let lan = (128, 128);
    let mut port = 49_702u16;
    let mut eph = || {
        port += 1;
        format!("{HOST}:{port}")
    };
    let s = SEC;
    let ms = MS;

    // Morning: DNS, the intranet, the web.
    tr.dns(
        0,
        2 * s + 118 * ms,
        HOST,
        DC,
        lan,
        "www.example.com",
        &["192.0.2.15"],
    );
    let c = Tcp::new(0, &eph(), "192.0.2.15:80", WINDOWS, REMOTE_LINUX, 24)
        .say(true, http_get("www.example.com", "/", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"))
        .say(false, http_ok("text/html", b"<!doctype html><title>Example Domain</title><p>This domain is for use in documentation examples.</p>\n"));
    tr.tcp(2 * s + 150 * ms, &c);

    let c = Tcp::new(0, &eph(), &sock(FS, 445), WINDOWS, WINDOWS, 1)
        .say(true, smb2_negotiate())
        .say(false, smb2_negotiate_response(&mut tr.rng));
    tr.tcp(6 * s + 402 * ms, &c);

    tr.dns(
        0,
        9 * s + 20 * ms,
        HOST,
        DC,
        lan,
        "login.example.net",
        &["198.51.100.20"],
    );
    let hello = client_hello(&mut tr.rng, "login.example.net");
    let sh = server_hello(&mut tr.rng, 720);
    let app = tls_app(&mut tr.rng, 310);
    let c = Tcp::new(0, &eph(), "198.51.100.20:443", WINDOWS, REMOTE_WINDOWS, 31)
        .say(true, hello)
        .say(false, sh)
        .say(true, app);
    tr.tcp(9 * s + 52 * ms, &c);

    let c = Tcp::new(0, &eph(), &sock(DC, 389), WINDOWS, WINDOWS, 1)
        .say(true, tr.rng.bytes(118))
        .say(false, tr.rng.bytes(160));
    tr.tcp(14 * s + 3 * ms, &c);

    tr.dns(
        0,
        21 * s + 540 * ms,
        HOST,
        DC,
        lan,
        "cdn.example.org",
        &["203.0.113.80"],
    );
    for k in 0..2 {
        let hello = client_hello(&mut tr.rng, "cdn.example.org");
        let sh = server_hello(&mut tr.rng, 900);
        let c = Tcp::new(0, &eph(), "203.0.113.80:443", WINDOWS, REMOTE_LINUX, 18)
            .say(true, hello)
            .say(false, sh);
        tr.tcp(21 * s + 580 * ms + k * 3 * ms, &c);
    }

    // 09:00:47: the implant calls out to 4444 and receives its stage.
    let mut stage = 1_126u32.to_le_bytes().to_vec(); // 4-byte length, then code
    stage.extend_from_slice(&[0xfc, 0x48, 0x83, 0xe4, 0xf0, 0xe8]);
    stage.extend_from_slice(&tr.rng.bytes(500));
    let c = Tcp::new(0, &eph(), "203.0.113.66:4444", WINDOWS, REMOTE_LINUX, 42)
        .say(false, stage)
        .say(true, tr.rng.bytes(96))
        .say(false, tr.rng.bytes(64))
        .left_open();
    tr.tcp(47 * s + 211 * ms, &c);

    // Other public destinations on ports that score nothing: 8443 is a
    // standard port, 5222 (XMPP) is neither standard nor known C2 and goes
    // unanswered; an HTTPS server refuses a connection.
    let hello = client_hello(&mut tr.rng, "portal.example.com");
    let sh = server_hello(&mut tr.rng, 400);
    let c = Tcp::new(0, &eph(), "203.0.113.30:8443", WINDOWS, REMOTE_LINUX, 27)
        .say(true, hello)
        .say(false, sh);
    tr.tcp(63 * s + 870 * ms, &c);
    let c =
        Tcp::new(0, &eph(), "198.51.100.200:5222", WINDOWS, REMOTE_LINUX, 35).reply(Reply::Silent);
    tr.tcp(71 * s + 15 * ms, &c);
    let c = Tcp::new(0, &eph(), "192.0.2.99:443", WINDOWS, REMOTE_LINUX, 22).reply(Reply::Reset);
    tr.tcp(88 * s + 402 * ms, &c);

    // NTP to a public server (UDP, not an attempt).
    let mut ntp = vec![0x23];
    ntp.resize(48, 0);
    let mut ntp_r = vec![0x24, 2, 0, 0xe9];
    ntp_r.extend_from_slice(&tr.rng.bytes(44));
    tr.udp_exchange(
        0,
        95 * s + 7 * ms,
        &eph(),
        "192.0.2.123:123",
        (128, 52),
        19,
        &ntp,
        &ntp_r,
    );

    tr.dns(
        0,
        102 * s + 300 * ms,
        HOST,
        DC,
        lan,
        "login.example.net",
        &["198.51.100.20"],
    );
    let hello = client_hello(&mut tr.rng, "login.example.net");
    let sh = server_hello(&mut tr.rng, 350);
    let c = Tcp::new(0, &eph(), "198.51.100.20:443", WINDOWS, REMOTE_WINDOWS, 31)
        .say(true, hello)
        .say(false, sh);
    tr.tcp(102 * s + 330 * ms, &c);

    tr.write(CaptureFormat::Pcap {
        big_endian: false,
        nanos: false,
    })
}

/// DETECTION.md §7, test 4: a Windows workstation (10.20.30.40) calls
/// 198.51.100.77:9001 ten times, 60 s apart ± up to 4 s; the fourth call's
/// first SYN is lost and resent after 1 s with the same ISN. The capture is
/// a Linux sensor's: interface 0 (Ethernet) mirrors the office segment,
/// interface 1 (Linux SLL2, the "any" device) carries the sensor's own
/// traffic. pcapng, little-endian, microseconds.
fn beacon_9001() -> io::Result<Vec<u8>> {
    const WS: &str = "10.20.30.40";
    const WS2: &str = "10.20.30.41";
    const DNS: &str = "10.20.30.1";
    const FILES_SRV: &str = "10.20.30.5";
    const SENSOR: &str = "10.20.31.2";
    const C2: &str = "198.51.100.77:9001";
    let mut tr = Trace::new(
        0x7157_9001,
        vec![Link::Ethernet, Link::Sll2 { ifindex: 2 }],
        &[WS, WS2, DNS, FILES_SRV, SENSOR],
        &[SENSOR],
    );
    let lan = (128, 64);
    let s = SEC;
    let ms = MS;
    // Windows picks ephemeral ports from 49152-65535.
    // The beacon: HTTP on 9001, a small GET with a session cookie and an
    // (empty-tasking) answer.
    let mut t = 31 * s + 407 * ms;
    for k in 0..10 {
        let cookie: String = tr
            .rng
            .bytes(24)
            .iter()
            .map(|b| (b'A' + b % 26) as char)
            .collect();
        let req = format!(
            "GET /updates/check.js HTTP/1.1\r\nHost: 198.51.100.77:9001\r\nCookie: SESSIONID={cookie}\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) like Gecko\r\nConnection: Keep-Alive\r\n\r\n"
        );
        let body = tr.rng.bytes(48);
        // The fourth call's first SYN is lost and resent 1 s later.
        let c = Tcp::new(
            0,
            &tr.ephemeral(WS, WINDOWS_PORTS),
            C2,
            WINDOWS,
            REMOTE_LINUX,
            38,
        )
        .say(true, req.into_bytes())
        .say(false, http_ok("application/octet-stream", &body))
        .lost_syns(u32::from(k == 3));
        tr.tcp(t, &c);
        t += 60 * s + tr.rng.range(-4_000, 4_000) * ms + tr.rng.range(0, 999) * 1_000;
    }

    // The office: DNS, web, the file server, another workstation.
    let mut t = 2 * s + 250 * ms;
    let sites: [(&str, &str); 5] = [
        ("www.example.com", "192.0.2.15"),
        ("mail.example.net", "198.51.100.25"),
        ("docs.example.org", "203.0.113.80"),
        ("news.example.com", "192.0.2.140"),
        ("api.example.net", "198.51.100.150"),
    ];
    for k in 0..9 {
        let (client, stack) = if k % 3 == 2 {
            (WS2, WINDOWS)
        } else {
            (WS, WINDOWS)
        };
        let (name, ip) = sites[k % sites.len()];
        tr.dns(0, t, client, DNS, lan, name, &[ip]);
        let hello = client_hello(&mut tr.rng, name);
        let sh = server_hello(&mut tr.rng, 160);
        let c = Tcp::new(
            0,
            &tr.ephemeral(client, WINDOWS_PORTS),
            &sock(ip, 443),
            stack,
            REMOTE_LINUX,
            21,
        )
        .say(true, hello)
        .say(false, sh);
        tr.tcp(t + 30 * ms, &c);
        if k % 4 == 1 {
            let c = Tcp::new(
                0,
                &tr.ephemeral(client, WINDOWS_PORTS),
                &sock(FILES_SRV, 445),
                stack,
                WINDOWS,
                1,
            )
            .say(true, smb2_negotiate())
            .say(false, smb2_negotiate_response(&mut tr.rng));
            tr.tcp(t + 2 * s, &c);
        }
        t += tr.rng.range(25, 55) * s + tr.rng.range(0, 999) * ms;
    }
    // A public server on 9000, a standard port: not a finding.
    let c = Tcp::new(
        0,
        &tr.ephemeral(WS2, WINDOWS_PORTS),
        "203.0.113.90:9000",
        WINDOWS,
        REMOTE_LINUX,
        29,
    )
    .say(true, http_get("203.0.113.90:9000", "/health", "curl/8.5.0"))
    .say(false, http_ok("application/json", b"{\"status\":\"ok\"}"));
    tr.tcp(200 * s + 77 * ms, &c);

    // The sensor's own traffic on the SLL2 interface.
    let own = (64, 64);
    let mut t = 5 * s + 10 * ms;
    for k in 0..5 {
        tr.dns(
            1,
            t,
            SENSOR,
            DNS,
            own,
            "updates.example.org",
            &["203.0.113.10"],
        );
        let c = Tcp::new(
            1,
            &tr.ephemeral(SENSOR, LINUX_PORTS),
            "203.0.113.10:80",
            LINUX,
            REMOTE_LINUX,
            16,
        )
        .say(
            true,
            http_get(
                "updates.example.org",
                "/dists/stable/InRelease",
                "Debian APT-HTTP/1.3 (2.6.1)",
            ),
        )
        .say(
            false,
            b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_vec(),
        );
        tr.tcp(t + 20 * ms, &c);
        let hello = client_hello(&mut tr.rng, "logs.example.net");
        let sh = server_hello(&mut tr.rng, 200);
        let app = tls_app(&mut tr.rng, 400 + k as usize * 37);
        let c = Tcp::new(
            1,
            &tr.ephemeral(SENSOR, LINUX_PORTS),
            "192.0.2.44:443",
            LINUX,
            REMOTE_LINUX,
            12,
        )
        .say(true, hello)
        .say(false, sh)
        .say(true, app);
        tr.tcp(t + 40 * s, &c);
        t += 120 * s + tr.rng.range(0, 999) * ms;
    }

    tr.write(CaptureFormat::Pcapng {
        big_endian: false,
        tsresol: 6,
    })
}

/// DETECTION.md §8, test 2: a Linux build server (10.0.5.23,
/// 2001:db8:5::23) beacons TLS to 203.0.113.88:8088 every 30 s (± 1.5 s),
/// twelve times, amid IPv4 and IPv6 traffic. Classic pcap, big-endian,
/// nanoseconds, Ethernet; gzip-compressed.
fn linux_8088() -> io::Result<Vec<u8>> {
    const HOST: &str = "10.0.5.23";
    const HOST6: &str = "2001:db8:5::23";
    const DNS: &str = "10.0.5.1";
    const DB: &str = "10.0.5.40";
    const CACHE: &str = "10.0.5.50";
    let mut tr = Trace::new(
        0x7157_8088,
        vec![Link::Ethernet],
        &[HOST, HOST6, DNS, DB, CACHE],
        &[HOST, HOST6],
    );
    tr.aliases.push((
        HOST6.parse().expect("address"),
        HOST.parse().expect("address"),
    ));
    let lan = (64, 64);
    let s = SEC;
    let ms = MS;
    // Linux picks ephemeral ports at random from 32768-60999.
    // The beacon.
    tr.dns(
        0,
        14 * s + 3 * ms,
        HOST,
        DNS,
        lan,
        "telemetry.example.com",
        &["203.0.113.88"],
    );
    let mut t = 14 * s + 37 * ms + 123_457;
    for _ in 0..12 {
        let hello = client_hello(&mut tr.rng, "telemetry.example.com");
        let sh = server_hello(&mut tr.rng, 180);
        let app = tls_app(&mut tr.rng, 140);
        let client = tr.ephemeral(HOST, LINUX_PORTS);
        let c = Tcp::new(0, &client, "203.0.113.88:8088", LINUX, REMOTE_LINUX, 47)
            .say(true, hello)
            .say(false, sh)
            .say(true, app);
        tr.tcp(t, &c);
        t += 30 * s + tr.rng.range(-1_500_000_000, 1_500_000_000);
    }

    // Ordinary work: package mirrors, the database and cache on the
    // segment, git over IPv6, a ULA service, DNS over both families.
    let mut t = s + 500 * ms;
    for k in 0..8 {
        match k % 4 {
            0 => {
                tr.dns(0, t, HOST, DNS, lan, "deb.example.org", &["198.51.100.50"]);
                let client = tr.ephemeral(HOST, LINUX_PORTS);
                let c = Tcp::new(0, &client, "198.51.100.50:80", LINUX, REMOTE_LINUX, 14)
                    .say(
                        true,
                        http_get(
                            "deb.example.org",
                            "/debian/dists/bookworm/InRelease",
                            "Debian APT-HTTP/1.3 (2.6.1)",
                        ),
                    )
                    .say(
                        false,
                        b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_vec(),
                    );
                tr.tcp(t + 25 * ms, &c);
            }
            1 => {
                tr.dns(
                    0,
                    t,
                    HOST6,
                    "2001:db8:5::1",
                    lan,
                    "git.example.net",
                    &["2001:db8:ff::22"],
                );
                let hello = client_hello(&mut tr.rng, "git.example.net");
                let sh = server_hello(&mut tr.rng, 300);
                let client = tr.ephemeral(HOST6, LINUX_PORTS);
                let c = Tcp::new(0, &client, "[2001:db8:ff::22]:443", LINUX, REMOTE_LINUX, 33)
                    .say(true, hello)
                    .say(false, sh);
                tr.tcp(t + 30 * ms, &c);
                // git over SSH, IPv6: port 22, not scored.
                let client = tr.ephemeral(HOST6, LINUX_PORTS);
                let c = Tcp::new(0, &client, "[2001:db8:ff::22]:22", LINUX, REMOTE_LINUX, 33)
                    .say(false, b"SSH-2.0-OpenSSH_9.6\r\n".to_vec())
                    .say(true, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec());
                tr.tcp(t + 2 * s, &c);
            }
            2 => {
                let client = tr.ephemeral(HOST, LINUX_PORTS);
                let c = Tcp::new(0, &client, &sock(DB, 5432), LINUX, LINUX, 1)
                    .say(true, vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
                    .say(false, b"S".to_vec());
                tr.tcp(t, &c);
                let client = tr.ephemeral(HOST, LINUX_PORTS);
                let c = Tcp::new(0, &client, &sock(CACHE, 6379), LINUX, LINUX, 1)
                    .say(true, b"*1\r\n$4\r\nPING\r\n".to_vec())
                    .say(false, b"+PONG\r\n".to_vec());
                tr.tcp(t + 400 * ms, &c);
            }
            _ => {
                // A metrics service on a ULA address (private) and one on
                // a public IPv6 address that refuses.
                let client = tr.ephemeral(HOST6, LINUX_PORTS);
                let c = Tcp::new(0, &client, "[fd12:3456:789a::9]:9100", LINUX, LINUX, 1)
                    .say(
                        true,
                        http_get("[fd12:3456:789a::9]:9100", "/metrics", "Prometheus/2.51.0"),
                    )
                    .say(false, http_ok("text/plain", b"up 1\n"));
                tr.tcp(t, &c);
                let client = tr.ephemeral(HOST6, LINUX_PORTS);
                let c = Tcp::new(
                    0,
                    &client,
                    "[2001:db8:beef::9]:9418",
                    LINUX,
                    REMOTE_LINUX,
                    40,
                )
                .reply(Reply::Reset);
                tr.tcp(t + 3 * s, &c);
            }
        }
        t += tr.rng.range(35, 50) * s + tr.rng.range(0, 999_999_999);
    }

    let pcap = tr.write(CaptureFormat::Pcap {
        big_endian: true,
        nanos: true,
    })?;
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(6));
    gz.write_all(&pcap)?;
    gz.finish()
}

/// DETECTION.md §8, test 3: RDP moved to 33890 on a Windows server
/// (10.1.4.15). Two attempts on 3389 from a public address are refused
/// (RST), then three sessions from public addresses reach 33890 (through the
/// firewall's port forward, so the destination is the private address).
/// Around them, the server's own traffic: the domain controller, a client's
/// file share access, Windows Update. pcapng, big-endian, nanoseconds.
fn rdp_33890() -> io::Result<Vec<u8>> {
    const SRV: &str = "10.1.4.15";
    const DC: &str = "10.1.4.2";
    const CLIENT: &str = "10.1.4.33";
    let mut tr = Trace::new(
        0x7157_3389,
        vec![Link::Ethernet],
        &[SRV, DC, CLIENT],
        &[SRV],
    );
    let lan = (128, 128);
    let s = SEC;
    let ms = MS;
    let mut port = 58_110u16;
    let mut eph = |host: &str| {
        port += 1;
        format!("{host}:{port}")
    };

    // Inbound RDP. The first two try the old port and are refused.
    for (k, at) in [(0, 62 * s + 114 * ms), (1, 63 * s + 902 * ms)] {
        let c = Tcp::new(
            0,
            &sock("198.51.100.23", 50_611 + k),
            &sock(SRV, 3389),
            REMOTE_WINDOWS,
            WINDOWS,
            58,
        )
        .reply(Reply::Reset)
        .captured_at_server();
        tr.tcp(at, &c);
    }
    let sessions: [(&str, u16, i64); 3] = [
        ("198.51.100.23", 50_640, 81 * s + 375 * ms),
        ("198.51.100.23", 50_702, 214 * s + 50 * ms),
        ("203.0.113.45", 61_288, 371 * s + 618 * ms),
    ];
    for (peer, sport, at) in sessions {
        let hello = client_hello(&mut tr.rng, "FS01");
        let sh = server_hello(&mut tr.rng, 1_100);
        let app = tls_app(&mut tr.rng, 420);
        let reply = tls_record(0x17, 0x0303, &tr.rng.bytes(260));
        let c = Tcp::new(
            0,
            &sock(peer, sport),
            &sock(SRV, 33_890),
            REMOTE_WINDOWS,
            WINDOWS,
            58,
        )
        .say(true, x224_connection_request())
        .say(false, x224_connection_confirm())
        .say(true, hello)
        .say(false, sh)
        .say(true, app)
        .say(false, reply)
        .left_open()
        .captured_at_server();
        tr.tcp(at, &c);
    }

    // The server's ordinary traffic.
    let mut t = 3 * s + 17 * ms;
    for k in 0..9 {
        match k % 3 {
            0 => {
                tr.dns(
                    0,
                    t,
                    SRV,
                    DC,
                    lan,
                    "_ldap._tcp.dc._msdcs.corp.example",
                    &["10.1.4.2"],
                );
                let c = Tcp::new(0, &eph(SRV), &sock(DC, 389), WINDOWS, WINDOWS, 1)
                    .say(true, tr.rng.bytes(140))
                    .say(false, tr.rng.bytes(210));
                tr.tcp(t + 5 * ms, &c);
                let c = Tcp::new(0, &eph(SRV), &sock(DC, 88), WINDOWS, WINDOWS, 1)
                    .say(true, tr.rng.bytes(250))
                    .say(false, tr.rng.bytes(300));
                tr.tcp(t + 90 * ms, &c);
            }
            1 => {
                let c = Tcp::new(
                    0,
                    &sock(CLIENT, 52_000 + k as u16),
                    &sock(SRV, 445),
                    WINDOWS,
                    WINDOWS,
                    1,
                )
                .say(true, smb2_negotiate())
                .say(false, smb2_negotiate_response(&mut tr.rng))
                .captured_at_server();
                tr.tcp(t, &c);
            }
            _ => {
                tr.dns(0, t, SRV, DC, lan, "update.example.com", &["203.0.113.120"]);
                let hello = client_hello(&mut tr.rng, "update.example.com");
                let sh = server_hello(&mut tr.rng, 500);
                let c = Tcp::new(
                    0,
                    &eph(SRV),
                    "203.0.113.120:443",
                    WINDOWS,
                    REMOTE_WINDOWS,
                    26,
                )
                .say(true, hello)
                .say(false, sh);
                tr.tcp(t + 25 * ms, &c);
                let c = Tcp::new(0, &eph(SRV), "192.0.2.8:80", WINDOWS, REMOTE_LINUX, 19)
                    .say(
                        true,
                        http_get(
                            "ctldl.example.com",
                            "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab",
                            "Microsoft-CryptoAPI/10.0",
                        ),
                    )
                    .say(
                        false,
                        http_ok("application/vnd.ms-cab-compressed", &tr.rng.bytes(90)),
                    );
                tr.tcp(t + 900 * ms, &c);
            }
        }
        t += tr.rng.range(30, 60) * s + tr.rng.range(0, 999_999_999);
    }

    tr.write(CaptureFormat::Pcapng {
        big_endian: true,
        tsresol: 9,
    })
}

/// An SMB2 NEGOTIATE request in its NetBIOS session header.
fn smb2_negotiate() -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B', 64, 0];
    h.resize(64, 0);
    let mut body = vec![0x24, 0x00, 0x02, 0x00, 0x01, 0x00]; // size, 2 dialects, signing
    body.resize(36, 0);
    body.extend_from_slice(&[0x02, 0x02, 0x02, 0x03]); // 2.0.2, 3.0.2
    h.extend(body);
    let mut m = (h.len() as u32).to_be_bytes().to_vec();
    m.extend(h);
    m
}

/// An SMB2 NEGOTIATE response (3.1.1).
fn smb2_negotiate_response(rng: &mut SplitMix64) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B', 64, 0];
    h.resize(12, 0);
    h.extend_from_slice(&[0x00, 0x00, 0x01, 0x00]); // NEGOTIATE, 1 credit
    h.extend_from_slice(&1u32.to_le_bytes()); // flags: server to redirector
    h.resize(64, 0);
    // StructureSize 65, signing enabled, dialect 3.0.2, no contexts.
    let mut body = vec![0x41, 0x00, 0x01, 0x00, 0x02, 0x03, 0x00, 0x00];
    body.extend_from_slice(&rng.bytes(16)); // server GUID
    body.extend_from_slice(&0x2fu32.to_le_bytes()); // capabilities
    for _ in 0..3 {
        body.extend_from_slice(&0x0080_0000u32.to_le_bytes()); // max transact/read/write
    }
    // System time and server start time (FILETIME) of 2026-03-02 09:00.
    let filetime = (T0 as u64 + 11_644_473_600) * 10_000_000;
    body.extend_from_slice(&filetime.to_le_bytes());
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&[0x80, 0x00, 0x00, 0x00]); // security buffer: offset, empty
    body.extend_from_slice(&[0, 0, 0, 0]);
    h.extend(body);
    let mut m = (h.len() as u32).to_be_bytes().to_vec();
    m.extend(h);
    m
}

/// RDP's first client PDU: TPKT, X.224 Connection Request, RDP negotiation
/// request (TLS | CredSSP).
fn x224_connection_request() -> Vec<u8> {
    vec![
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00,
        0x03, 0x00, 0x00, 0x00,
    ]
}

/// The server's X.224 Connection Confirm selecting CredSSP.
fn x224_connection_confirm() -> Vec<u8> {
    vec![
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x1f, 0x08, 0x00,
        0x02, 0x00, 0x00, 0x00,
    ]
}
