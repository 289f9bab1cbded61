//! Link layer -> IP -> TCP, in place, for one captured packet.
//!
//! Only handshake segments (SYN, SYN-ACK) matter to portent, so the decoder
//! walks headers without copying, stops at the first byte that rules a
//! packet out, and builds an owned [`TcpSeg`] (a few dozen bytes on the stack)
//! only for handshake segments. IP and IPv6 extension headers are parsed with
//! `etherparse`'s lax slices, which accept packets cut by a snap length; the
//! link layers and tunnels in front of IP are walked here, because they are a
//! handful of fixed-size headers and portent needs several that `etherparse`
//! does not cover (SLL2, NFLOG, BSD loopback, PPPoE, MPLS, GRE, VXLAN, Teredo).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, LaxIpSlice};

use crate::stats::Skip;

/// pcap/pcapng link types portent decodes (tcpdump.org/linktypes.html).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    pub const RAW_BSD: u32 = 12;
    pub const RAW_OPENBSD: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const NFLOG: u32 = 239;
    pub const LINUX_SLL2: u32 = 276;

    /// Whether [`super::decode`] understands this link type.
    pub fn supported(lt: u32) -> bool {
        matches!(
            lt,
            NULL | ETHERNET
                | PPP
                | RAW_BSD
                | RAW_OPENBSD
                | PPP_HDLC
                | RAW
                | LOOP
                | LINUX_SLL
                | IPV4
                | IPV6
                | NFLOG
                | LINUX_SLL2
        )
    }
}

/// How many encapsulations (VLAN tags, MPLS labels, tunnels) the decoder
/// follows before giving up on a packet. Real traffic rarely nests more than
/// three (Q-in-Q inside MPLS inside GRE); the bound keeps a crafted packet
/// of repeated tags from costing more than a few header reads.
pub const MAX_ENCAP_DEPTH: u32 = 16;

/// UDP ports whose payload is a tunnel portent looks into.
const VXLAN_PORT: u16 = 4789;
const TEREDO_PORT: u16 = 3544;

/// TCP flag bits.
pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;
pub const TCP_RST: u8 = 0x04;

/// The parts of a TCP segment portent keeps: enough to find handshakes
/// and to account for connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSeg<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub flags: u8,
    /// Checked for handshake segments only ([`TcpSeg::is_handshake`]);
    /// `None` when it was not checked or the segment was cut by the snap
    /// length.
    pub checksum_ok: Option<bool>,
    /// The IP packet's length as its header says it (IPv4 total length,
    /// IPv6 40 + payload length), whatever was captured.
    pub ip_len: u32,
    /// The TCP payload's length as the headers say it.
    pub payload_len: u32,
    /// The TCP payload as far as it was captured (in place in the packet).
    pub payload: &'a [u8],
}

impl TcpSeg<'_> {
    /// A SYN or SYN-ACK (a SYN with RST is neither).
    pub fn is_handshake(&self) -> bool {
        self.flags & TCP_SYN != 0 && self.flags & TCP_RST == 0
    }
}

/// A UDP datagram that is not a tunnel portent follows: flow exports
/// (NetFlow, IPFIX) travel this way, so the capture reader looks at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDgram<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// The UDP payload, as far as it was captured.
    pub payload: &'a [u8],
}

/// What one packet turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Not TCP (or a later IP fragment): nothing for portent.
    Other,
    /// A TCP segment.
    Tcp(TcpSeg<'a>),
    /// A UDP datagram (not a followed tunnel).
    Udp(UdpDgram<'a>),
}

/// Decodes one packet captured on a link of type `linktype`.
///
/// Errors are the reason the packet could not be decoded; they are counted,
/// never fatal.
#[inline]
pub fn decode(linktype: u32, data: &[u8]) -> Result<Decoded<'_>, Skip> {
    use linktype::*;
    match linktype {
        ETHERNET => ethernet(data, 0),
        RAW | RAW_BSD | RAW_OPENBSD | IPV4 | IPV6 => ip(data, 0),
        // 4-byte address family (host order for NULL, network order for
        // LOOP); the IP version nibble says the rest.
        NULL | LOOP => ip(data.get(4..).ok_or(Skip::ShortLinkHeader)?, 0),
        LINUX_SLL => {
            let proto = be16(data, 14).ok_or(Skip::ShortLinkHeader)?;
            ethertype(proto, &data[16..], 0)
        }
        LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(Skip::ShortLinkHeader);
            }
            ethertype(be16(data, 0).unwrap_or(0), &data[20..], 0)
        }
        PPP | PPP_HDLC => {
            // Optional HDLC address/control bytes 0xff 0x03.
            let d = if data.starts_with(&[0xff, 0x03]) {
                &data[2..]
            } else {
                data
            };
            let proto = be16(d, 0).ok_or(Skip::ShortLinkHeader)?;
            ppp(proto, &d[2..], 0)
        }
        NFLOG => nflog(data),
        _ => Err(Skip::UnknownLinktype),
    }
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
fn ethernet(data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    let et = be16(data, 12).ok_or(Skip::ShortLinkHeader)?;
    ethertype(et, &data[14..], depth)
}

/// Dispatches on an EtherType; follows VLAN tags, MPLS and PPPoE.
fn ethertype(et: u16, data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    if depth > MAX_ENCAP_DEPTH {
        return Err(Skip::TunnelTooDeep);
    }
    match et {
        0x0800 | 0x86dd => ip(data, depth),
        // 802.1Q, 802.1ad (Q-in-Q) and the pre-standard Q-in-Q tags.
        0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
            let inner = be16(data, 2).ok_or(Skip::ShortLinkHeader)?;
            ethertype(inner, &data[4..], depth + 1)
        }
        0x8847 | 0x8848 => mpls(data, depth + 1),
        // PPPoE session: ver/type, code, session id, length, then PPP.
        0x8864 => {
            let proto = be16(data, 6).ok_or(Skip::ShortLinkHeader)?;
            ppp(proto, &data[8..], depth + 1)
        }
        // Transparent Ethernet bridging (GRE, NVGRE).
        0x6558 => ethernet(data, depth + 1),
        _ => Ok(Decoded::Other),
    }
}

fn ppp(proto: u16, data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    match proto {
        0x0021 | 0x0057 => ip(data, depth),
        _ => Ok(Decoded::Other),
    }
}

/// MPLS label stack, then IPv4/IPv6 by version nibble, or an Ethernet
/// pseudowire behind a zero control word.
fn mpls(mut data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    for _ in 0..MAX_ENCAP_DEPTH {
        let label = data.get(..4).ok_or(Skip::ShortLinkHeader)?;
        data = &data[4..];
        if label[2] & 0x01 != 0 {
            return match data.first().map(|b| b >> 4) {
                Some(4) | Some(6) => ip(data, depth),
                Some(0) if data.len() >= 4 => ethernet(&data[4..], depth + 1),
                Some(_) => Ok(Decoded::Other),
                None => Err(Skip::ShortLinkHeader),
            };
        }
    }
    Err(Skip::TunnelTooDeep)
}

/// NFLOG (Linux netfilter log): a 4-byte header, then TLVs in host byte
/// order padded to 4 bytes; the packet is the NFULA_PAYLOAD (type 9) TLV.
fn nflog(data: &[u8]) -> Result<Decoded<'_>, Skip> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut at = 4;
    if data.len() < at {
        return Err(Skip::ShortLinkHeader);
    }
    // Each TLV is at least 4 bytes, so this loop is bounded by the packet.
    while at + 4 <= data.len() {
        let len = usize::from(u16::from_le_bytes([data[at], data[at + 1]]));
        let ty = u16::from_le_bytes([data[at + 2], data[at + 3]]) & 0x7fff;
        if len < 4 {
            return Err(Skip::ShortLinkHeader);
        }
        if ty == NFULA_PAYLOAD {
            let end = (at + len).min(data.len());
            return ip(&data[at + 4..end], 0);
        }
        at += (len + 3) & !3;
    }
    Ok(Decoded::Other)
}

/// IPv4 or IPv6 (with extension headers), then TCP, or a tunnel inside.
fn ip(data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    if depth > MAX_ENCAP_DEPTH {
        return Err(Skip::TunnelTooDeep);
    }
    if let Some(decoded) = plain_tcp_fast_path(data) {
        return Ok(decoded);
    }
    ip_full(data, depth)
}

/// [`ip`] without the fast path.
fn ip_full(data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    let (slice, ext_err) = LaxIpSlice::from_slice(data).map_err(|_| Skip::BadIpHeader)?;
    // A cut or malformed IPv6 extension header (or IPv4 AH) hides the
    // transport protocol: the packet may have been a SYN, so count it.
    if ext_err.is_some() {
        return Err(Skip::BadIpHeader);
    }
    let payload = slice.payload();
    // A later fragment carries no transport header. A first IPv4 fragment
    // (offset 0) still starts with the TCP header.
    if payload.fragmented {
        let first = match &slice {
            LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
            LaxIpSlice::Ipv6(_) => false,
        };
        if !first {
            return Ok(Decoded::Other);
        }
    }
    let body = payload.payload;
    match payload.ip_number {
        IpNumber::TCP => {
            let ip_len = match &slice {
                LaxIpSlice::Ipv4(v4) => u32::from(v4.header().total_len()),
                LaxIpSlice::Ipv6(v6) => 40 + u32::from(v6.header().payload_length()),
            };
            let hdr = (body.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
            let (src, dst) = addrs(&slice);
            tcp(src, dst, body, ip_len, hdr as u32, payload.incomplete)
        }
        IpNumber::IPV4 | IpNumber::IPV6 => ip(body, depth + 1),
        IpNumber::GRE => gre(body, depth + 1),
        IpNumber::UDP => {
            let (src, dst) = addrs(&slice);
            udp(src, dst, body, depth + 1)
        }
        _ => Ok(Decoded::Other),
    }
}

/// Most packets in a capture are TCP segments that are not handshakes, in
/// unfragmented IPv4 or in IPv6 without extension headers. This settles
/// those from a few header bytes, without building the full IP slice: it
/// answers only where [`ip`] would give the same answer (header lengths
/// within the packet, a whole TCP header present, SYN clear or RST set),
/// and `None` for everything else, which takes the full path.
#[inline]
fn plain_tcp_fast_path(d: &[u8]) -> Option<Decoded<'_>> {
    const TCP: u8 = 6;
    let first = *d.first()?;
    let (src, dst, seg_start, ip_len) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
            // Fragment offset 0 and More Fragments clear: not a fragment.
            let unfragmented = d.get(6)? & 0x3f == 0 && *d.get(7)? == 0;
            if ihl < 20 || *d.get(9)? != TCP || !unfragmented || total > d.len() {
                return None;
            }
            if total < ihl + 14 {
                return None;
            }
            let a: [u8; 4] = d[12..16].try_into().ok()?;
            let b: [u8; 4] = d[16..20].try_into().ok()?;
            (IpAddr::from(a), IpAddr::from(b), ihl, total)
        }
        6 => {
            let payload = usize::from(u16::from_be_bytes([*d.get(4)?, *d.get(5)?]));
            if *d.get(6)? != TCP || payload < 14 || 40 + payload > d.len() {
                return None;
            }
            let a: [u8; 16] = d[8..24].try_into().ok()?;
            let b: [u8; 16] = d[24..40].try_into().ok()?;
            (IpAddr::from(a), IpAddr::from(b), 40, 40 + payload)
        }
        _ => return None,
    };
    let flags = *d.get(seg_start + 13)?;
    if flags & TCP_SYN != 0 && flags & TCP_RST == 0 {
        return None;
    }
    tcp(
        src,
        dst,
        &d[seg_start..ip_len],
        ip_len as u32,
        seg_start as u32,
        false,
    )
    .ok()
}

/// GRE version 0 (RFC 2784/2890): flags say which optional words follow.
fn gre(data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    let flags = be16(data, 0).ok_or(Skip::BadIpHeader)?;
    let proto = be16(data, 2).ok_or(Skip::BadIpHeader)?;
    if flags & 0x0007 != 0 {
        return Ok(Decoded::Other); // GRE v1 (PPTP) and others
    }
    let mut len = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        if flags & bit != 0 {
            len += 4;
        }
    }
    let inner = data.get(len..).ok_or(Skip::BadIpHeader)?;
    ethertype(proto, inner, depth)
}

/// The source and destination addresses of an IP packet.
fn addrs(ip: &LaxIpSlice<'_>) -> (IpAddr, IpAddr) {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
            )
        }
    }
}

/// UDP: VXLAN (Ethernet inside) and Teredo (IPv6 inside) are followed;
/// any other datagram is handed back whole, for the flow-export reader.
fn udp(src: IpAddr, dst: IpAddr, data: &[u8], depth: u32) -> Result<Decoded<'_>, Skip> {
    let (Some(sport), Some(dport)) = (be16(data, 0), be16(data, 2)) else {
        return Ok(Decoded::Other);
    };
    let body = data.get(8..).unwrap_or(&[]);
    if dport == VXLAN_PORT && body.len() >= 8 && body[0] & 0x08 != 0 {
        return ethernet(&body[8..], depth);
    }
    if (sport == TEREDO_PORT || dport == TEREDO_PORT) && body.first().map(|b| b >> 4) == Some(6) {
        return ip(body, depth);
    }
    Ok(Decoded::Udp(UdpDgram {
        src,
        dst,
        sport,
        dport,
        payload: body,
    }))
}

/// A TCP segment `seg` (as far as captured) of an IP packet `ip_len` long
/// whose TCP header starts `hdr` bytes in.
fn tcp(
    src: IpAddr,
    dst: IpAddr,
    seg: &[u8],
    ip_len: u32,
    hdr: u32,
    incomplete: bool,
) -> Result<Decoded<'_>, Skip> {
    if seg.len() < 14 {
        return Err(Skip::ShortTcpHeader);
    }
    let flags = seg[13];
    // The data offset, in 32-bit words; below 5 is no valid header, and the
    // payload is then taken to start after the fixed 20 bytes.
    let doff = (usize::from(seg[12] >> 4) * 4).max(20);
    let mut s = TcpSeg {
        src,
        dst,
        sport: u16::from_be_bytes([seg[0], seg[1]]),
        dport: u16::from_be_bytes([seg[2], seg[3]]),
        seq: u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]),
        flags,
        checksum_ok: None,
        ip_len,
        payload_len: ip_len.saturating_sub(hdr).saturating_sub(doff as u32),
        payload: seg.get(doff..).unwrap_or_default(),
    };
    if s.is_handshake() && !incomplete && seg.len() >= 20 {
        s.checksum_ok = Some(tcp_checksum(src, dst, seg) == 0);
    }
    Ok(Decoded::Tcp(s))
}

/// The one's-complement sum over the pseudo header and the segment; zero
/// when the segment's checksum field is right.
fn tcp_checksum(src: IpAddr, dst: IpAddr, seg: &[u8]) -> u16 {
    fn add(sum: &mut u64, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            *sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            *sum += u64::from(*last) << 8;
        }
    }
    let mut sum = 0u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&mut sum, &s.octets());
            add(&mut sum, &d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            add(&mut sum, &s.octets());
            add(&mut sum, &d.octets());
        }
        _ => return 1,
    }
    sum += 6 + seg.len() as u64;
    add(&mut sum, seg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::synth;

    fn syn_v4() -> Vec<u8> {
        synth::tcp_packet(
            "192.0.2.10:49152".parse().unwrap(),
            "198.51.100.7:4444".parse().unwrap(),
            1000,
            TCP_SYN,
        )
    }

    fn expect_syn(d: Result<Decoded, Skip>) -> TcpSeg {
        match d {
            Ok(Decoded::Tcp(s)) if s.is_handshake() => s,
            other => panic!("expected a handshake segment, got {other:?}"),
        }
    }

    #[test]
    fn ethernet_vlan_qinq_mpls_pppoe() {
        let ip = syn_v4();
        let eth = synth::ethernet(0x0800, &ip);
        let s = expect_syn(decode(linktype::ETHERNET, &eth));
        assert_eq!(s.dport, 4444);
        assert_eq!(s.checksum_ok, Some(true));

        let mut qinq = eth[..12].to_vec();
        qinq.extend_from_slice(&[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
        qinq.extend_from_slice(&ip);
        assert_eq!(expect_syn(decode(linktype::ETHERNET, &qinq)), s);

        let mut mpls = eth[..12].to_vec();
        mpls.extend_from_slice(&[0x88, 0x47, 0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40]);
        mpls.extend_from_slice(&ip);
        assert_eq!(expect_syn(decode(linktype::ETHERNET, &mpls)), s);

        let mut pppoe = eth[..12].to_vec();
        pppoe.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0x00, 0x21]);
        pppoe.extend_from_slice(&ip);
        assert_eq!(expect_syn(decode(linktype::ETHERNET, &pppoe)), s);
    }

    #[test]
    fn cooked_raw_loopback_nflog() {
        let ip = syn_v4();
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        let s = expect_syn(decode(linktype::LINUX_SLL, &sll));

        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(expect_syn(decode(linktype::LINUX_SLL2, &sll2)), s);

        assert_eq!(expect_syn(decode(linktype::RAW, &ip)), s);

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(expect_syn(decode(linktype::NULL, &null)), s);

        // NFLOG: header, a prefix TLV (len 7, padded to 8), the payload TLV.
        let mut nf = vec![2, 0, 0, 0];
        nf.extend_from_slice(&[7, 0, 10, 0, b'a', b'b', 0, 0]);
        nf.extend_from_slice(&((ip.len() + 4) as u16).to_le_bytes());
        nf.extend_from_slice(&[9, 0]);
        nf.extend_from_slice(&ip);
        assert_eq!(expect_syn(decode(linktype::NFLOG, &nf)), s);
    }

    #[test]
    fn ipv6_with_extension_headers_and_6in4() {
        let v6 = synth::tcp_packet(
            "[2001:db8::1]:50000".parse().unwrap(),
            "[2001:db8:1::2]:9001".parse().unwrap(),
            7,
            TCP_SYN,
        );
        let s = expect_syn(decode(linktype::RAW, &v6));
        assert_eq!(s.dport, 9001);
        assert_eq!(s.checksum_ok, Some(true));

        // Insert a hop-by-hop options header (8 bytes) after the fixed header.
        let mut ext = v6[..40].to_vec();
        ext[6] = 0; // next header: hop-by-hop
        let plen = u16::from_be_bytes([v6[4], v6[5]]) + 8;
        ext[4..6].copy_from_slice(&plen.to_be_bytes());
        ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&v6[40..]);
        let with_ext = TcpSeg {
            ip_len: s.ip_len + 8,
            ..s
        };
        assert_eq!(expect_syn(decode(linktype::RAW, &ext)), with_ext);

        // 6in4: IPv4 protocol 41 carrying the IPv6 packet.
        let outer = synth::ipv4_wrap(
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            41,
            &v6,
        );
        assert_eq!(expect_syn(decode(linktype::RAW, &outer)), s);
    }

    #[test]
    fn cut_extension_header_is_counted() {
        let v6 = synth::tcp_packet(
            "[2001:db8::1]:50000".parse().unwrap(),
            "[2001:db8:1::2]:9001".parse().unwrap(),
            7,
            TCP_SYN,
        );
        // Next header hop-by-hop, but only 4 of its 8 bytes captured.
        let mut cut = v6[..40].to_vec();
        cut[6] = 0;
        cut.extend_from_slice(&[6, 0, 1, 4]);
        assert_eq!(decode(linktype::RAW, &cut), Err(Skip::BadIpHeader));
    }

    #[test]
    fn bad_checksum_is_reported_not_dropped() {
        let mut ip = syn_v4();
        let n = ip.len();
        ip[n - 1] ^= 0xff; // corrupt the last byte of the TCP header
        let s = expect_syn(decode(linktype::RAW, &ip));
        assert_eq!(s.checksum_ok, Some(false));
    }

    #[test]
    fn truncated_and_garbage_never_panic() {
        let eth = synth::ethernet(0x0800, &syn_v4());
        for cut in 0..eth.len() {
            let _ = decode(linktype::ETHERNET, &eth[..cut]);
        }
        assert_eq!(
            decode(linktype::ETHERNET, &eth[..20]),
            Err(Skip::BadIpHeader)
        );
        assert_eq!(
            decode(linktype::ETHERNET, &eth[..40]),
            Err(Skip::ShortTcpHeader)
        );
        assert_eq!(
            decode(linktype::ETHERNET, &eth[..5]),
            Err(Skip::ShortLinkHeader)
        );
        assert_eq!(decode(4242, &eth), Err(Skip::UnknownLinktype));
        // Endless VLAN tags stop at the bound.
        let mut tags = eth[..12].to_vec();
        for _ in 0..64 {
            tags.extend_from_slice(&[0x81, 0x00, 0, 1]);
        }
        tags.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(decode(linktype::ETHERNET, &tags), Err(Skip::TunnelTooDeep));
    }
    /// The fast path answers only where the full decoder gives the same
    /// answer: checked over every single-byte change (three values each) of
    /// IPv4 and IPv6 segments with and without SYN, and every truncation.
    #[test]
    fn fast_path_agrees_with_full_decoder() {
        let mut seeds = Vec::new();
        for flags in [TCP_SYN, TCP_ACK, TCP_SYN | TCP_ACK, TCP_RST | TCP_SYN, 0x18] {
            seeds.push(synth::tcp_packet(
                "192.0.2.10:49152".parse().unwrap(),
                "198.51.100.7:4444".parse().unwrap(),
                1000,
                flags,
            ));
            seeds.push(synth::tcp_packet(
                "[2001:db8::1]:50000".parse().unwrap(),
                "[2001:db8:1::2]:9001".parse().unwrap(),
                7,
                flags,
            ));
        }
        let mut fast_answers = 0;
        let mut check = |p: &[u8]| {
            if let Some(fast) = plain_tcp_fast_path(p) {
                fast_answers += 1;
                assert_eq!(ip_full(p, 0), Ok(fast), "packet {p:02x?}");
            }
        };
        for seed in &seeds {
            for cut in 0..=seed.len() {
                check(&seed[..cut]);
            }
            for i in 0..seed.len() {
                for v in [0x00, 0xff, seed[i] ^ 0x10] {
                    let mut p = seed.clone();
                    p[i] = v;
                    check(&p);
                }
            }
        }
        assert!(fast_answers > 500, "fast path taken {fast_answers} times");
    }
}
