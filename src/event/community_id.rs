//! Community ID v1: the flow hash Zeek (with its community-id package),
//! Suricata, Arkime, Elastic and Wireshark all write, so that one
//! connection can be found in each tool's records by one string.
//!
//! The definition (corelight/community-id-spec): SHA-1 over the seed (two
//! bytes, big-endian), the two addresses (4 or 16 bytes each), the IP
//! protocol number, one zero byte, and the two ports (big-endian), the
//! endpoints ordered so that the smaller address (and, for equal
//! addresses, the smaller port) comes first; the digest in base64 after
//! the version, `1:`. Protocols without ports (anything but TCP, UDP,
//! SCTP, ICMP and ICMPv6) hash the addresses and protocol alone; ICMP's
//! type and code stand in for ports as Zeek maps them ([`icmp`]).
//!
//! Written out rather than taken from a crate: the whole definition is
//! the few lines of [`community_id`], the crates that implement it are
//! small and little used, and a value built here in a fixed buffer costs
//! no allocation per attempt.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The seed every tool uses unless told otherwise; IDs only match across
/// tools with the same seed.
pub const DEFAULT_SEED: u16 = 0;

/// `1:` and the 28 characters of a SHA-1 digest in base64.
const LEN: usize = 30;

/// A Community ID v1 string, kept in place (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommunityId([u8; LEN]);

impl CommunityId {
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl serde::Serialize for CommunityId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An address's bytes in network order: 4 for IPv4, 16 for IPv6.
fn octets(ip: &IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v) => {
            b[..4].copy_from_slice(&v.octets());
            (b, 4)
        }
        IpAddr::V6(v) => (v.octets(), 16),
    }
}

/// The Community ID of a flow between `src` and `dst` over IP protocol
/// `proto`, with `ports` (source, destination) for the protocols that have
/// them (TCP 6, UDP 17, SCTP 132; for ICMP see [`icmp`]) and `None` for the
/// rest. Either direction of a flow gives the same ID.
pub fn community_id(
    seed: u16,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    ports: Option<(u16, u16)>,
) -> CommunityId {
    let (sport, dport) = ports.unwrap_or((0, 0));
    let (s, d) = (octets(&src), octets(&dst));
    let (s, d) = (&s.0[..s.1], &d.0[..d.1]);
    // The smaller endpoint first: addresses compared as their bytes in
    // network order, ports when the addresses are equal.
    let ordered = (s, sport) <= (d, dport);
    hash(
        seed,
        proto,
        ordered,
        (s, sport),
        (d, dport),
        ports.is_some(),
    )
}

/// The Community ID of an ICMP (IPv4) or ICMPv6 (IPv6) message of `ty` and
/// `code` from `src` to `dst`. As in Zeek, a request and its reply (echo,
/// timestamp, information, address mask, router solicitation and
/// advertisement; for ICMPv6 also neighbor discovery, MLD, node information
/// and home agent address discovery) are one flow: the type and the
/// type of its counterpart stand for the ports. Any other type is one-way:
/// type and code stand for the ports, and the endpoints are not reordered.
pub fn icmp(seed: u16, src: IpAddr, dst: IpAddr, ty: u8, code: u8) -> CommunityId {
    let v6 = src.is_ipv6();
    let counterpart = if v6 {
        match ty {
            128 => Some(129),
            129 => Some(128),
            130 => Some(131),
            131 => Some(130),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match ty {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            10 => Some(9),
            9 => Some(10),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    };
    let proto = if v6 { 58 } else { 1 };
    let (sport, dport) = (u16::from(ty), u16::from(counterpart.unwrap_or(code)));
    let (s, d) = (octets(&src), octets(&dst));
    let (s, d) = (&s.0[..s.1], &d.0[..d.1]);
    let ordered = counterpart.is_none() || (s, sport) <= (d, dport);
    hash(seed, proto, ordered, (s, sport), (d, dport), true)
}

fn hash(
    seed: u16,
    proto: u8,
    ordered: bool,
    a: (&[u8], u16),
    b: (&[u8], u16),
    with_ports: bool,
) -> CommunityId {
    let (first, second) = if ordered { (a, b) } else { (b, a) };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(first.0);
    h.update(second.0);
    h.update([proto, 0]);
    if with_ports {
        h.update(first.1.to_be_bytes());
        h.update(second.1.to_be_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; LEN];
    out[..2].copy_from_slice(b"1:");
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut out[2..])
        .unwrap_or(0);
    debug_assert_eq!(n, LEN - 2);
    CommunityId(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (proto, src, dst, sport, dport, ID): the spec's baseline,
    /// `baseline/baseline_deflt.json` (seed 0) and `baseline_seed1.json`
    /// (seed 1) in corelight/community-id-spec, made by pycommunityid from
    /// the spec's `pcaps/combined.pcap.gz`; ports `None` for RSVP (46),
    /// ICMP's are its type and code.
    type Vector = (
        u8,
        &'static str,
        &'static str,
        Option<(u16, u16)>,
        &'static str,
    );

    #[rustfmt::skip]
    const SEED0: &[Vector] = &[
        (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((135, 136)), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
        (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((136, 135)), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
        (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((135, 136)), "1:zavyT/cezQr1fmImYCwYnMXbgck="),
        (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((136, 135)), "1:zavyT/cezQr1fmImYCwYnMXbgck="),
        (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((3, 0)), "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="),
        (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", Some((1, 4)), "1:hLZd0XGWojozrvxqE0dWB1iM6R0="),
        (58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", Some((128, 129)), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),
        (58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((129, 128)), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),
        (58, "fe80::200:86ff:fe05:80da", "ff02::2", Some((133, 134)), "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
        (58, "fe80::260:97ff:fe07:69ea", "ff02::1", Some((134, 133)), "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
        (1, "192.168.0.89", "192.168.0.1", Some((8, 0)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        (1, "192.168.0.1", "192.168.0.89", Some((0, 8)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        (1, "10.0.0.1", "10.0.0.2", Some((11, 0)), "1:YHxtAirCG//0OzkcVAukqKQN9xM="),
        (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", Some((63943, 25)), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
        (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", Some((25, 63943)), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
        (132, "192.168.170.8", "192.168.170.56", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        (132, "192.168.170.56", "192.168.170.8", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        (6, "128.232.110.120", "66.35.250.204", Some((34855, 80)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        (6, "66.35.250.204", "128.232.110.120", Some((80, 34855)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        (17, "192.168.1.52", "8.8.8.8", Some((54585, 53)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        (17, "8.8.8.8", "192.168.1.52", Some((53, 54585)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        (46, "10.1.12.1", "10.1.12.2", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
        (46, "10.1.12.2", "10.1.12.1", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
    ];

    #[rustfmt::skip]
    const SEED1: &[Vector] = &[
        (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((135, 136)), "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
        (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((136, 135)), "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
        (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((135, 136)), "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="),
        (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((136, 135)), "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="),
        (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((3, 0)), "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="),
        (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", Some((1, 4)), "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="),
        (58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", Some((128, 129)), "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="),
        (58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((129, 128)), "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="),
        (58, "fe80::200:86ff:fe05:80da", "ff02::2", Some((133, 134)), "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="),
        (58, "fe80::260:97ff:fe07:69ea", "ff02::1", Some((134, 133)), "1:K/ee5UCqAMAQXDorP5nSa2CGLjc="),
        (1, "192.168.0.89", "192.168.0.1", Some((8, 0)), "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
        (1, "192.168.0.1", "192.168.0.89", Some((0, 8)), "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
        (1, "10.0.0.1", "10.0.0.2", Some((11, 0)), "1:XjUibYHaafLQ3pxQeiMI8g25q20="),
        (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", Some((63943, 25)), "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
        (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", Some((25, 63943)), "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
        (132, "192.168.170.8", "192.168.170.56", Some((7, 7)), "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
        (132, "192.168.170.56", "192.168.170.8", Some((7, 7)), "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
        (6, "128.232.110.120", "66.35.250.204", Some((34855, 80)), "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
        (6, "66.35.250.204", "128.232.110.120", Some((80, 34855)), "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
        (17, "192.168.1.52", "8.8.8.8", Some((54585, 53)), "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
        (17, "8.8.8.8", "192.168.1.52", Some((53, 54585)), "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
        (46, "10.1.12.1", "10.1.12.2", None, "1:rYir8gphR31noO9iDRQmF/BteEI="),
        (46, "10.1.12.2", "10.1.12.1", None, "1:rYir8gphR31noO9iDRQmF/BteEI="),
    ];

    fn check(seed: u16, vectors: &[Vector]) {
        for &(proto, src, dst, ports, want) in vectors {
            let got = match (proto, ports) {
                (1 | 58, Some((ty, code))) => icmp(seed, ip(src), ip(dst), ty as u8, code as u8),
                _ => community_id(seed, proto, ip(src), ip(dst), ports),
            };
            assert_eq!(
                got.as_str(),
                want,
                "seed {seed}, proto {proto} {src} -> {dst} {ports:?}"
            );
        }
    }

    #[test]
    fn the_specs_baseline_with_seed_0() {
        check(0, SEED0);
    }

    #[test]
    fn the_specs_baseline_with_seed_1() {
        check(1, SEED1);
    }

    /// The spec README's tables (`baseline/README.md`): made-up tuples for
    /// each protocol, IPv4 and IPv6, with seed 0 and seed 1.
    #[test]
    fn the_specs_tables() {
        let (a4, b4) = (ip("1.2.3.4"), ip("5.6.7.8"));
        let (a6, b6) = (
            ip("fe80:0001:0203:0405:0607:0809:0A0B:0C0D"),
            ip("fe80:1011:1213:1415:1617:1819:1A1B:1C1D"),
        );
        let both = |seed, proto, want: &str| {
            let p = Some((1122, 3344));
            assert_eq!(community_id(seed, proto, a4, b4, p).as_str(), want);
            assert_eq!(
                community_id(seed, proto, b4, a4, Some((3344, 1122))).as_str(),
                want
            );
        };
        both(0, 6, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        both(0, 17, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
        both(0, 132, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=");
        both(1, 6, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
        both(1, 17, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=");
        both(1, 132, "1:uitchpn5MMGAQKBJh7bIr/bAr7s=");
        for (seed, v4, v6) in [
            (
                0,
                "1:ikv3kmf89luf73WPz1jOs49S768=",
                "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=",
            ),
            (
                1,
                "1:/buhqeOmaRCopOZFy9HnoJd5XW8=",
                "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=",
            ),
        ] {
            assert_eq!(community_id(seed, 46, a4, b4, None).as_str(), v4);
            assert_eq!(community_id(seed, 46, b4, a4, None).as_str(), v4);
            assert_eq!(community_id(seed, 46, a6, b6, None).as_str(), v6);
            assert_eq!(community_id(seed, 46, b6, a6, None).as_str(), v6);
        }
        // ICMP: echo request and its reply are one flow; time exceeded
        // (11) and ICMPv6 146 are one-way.
        for (seed, src, dst, ty, code, want) in [
            (0, a4, b4, 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
            (0, b4, a4, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
            (0, a4, b4, 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="),
            (0, a6, b6, 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
            (0, b6, a6, 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
            (0, a6, b6, 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="),
            (1, a4, b4, 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
            (1, a4, b4, 11, 0, "1:1DD7cWGC/Yg91YGsQeni8du3pIA="),
            (1, a6, b6, 128, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
            (1, a6, b6, 146, 0, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s="),
        ] {
            assert_eq!(
                icmp(seed, src, dst, ty, code).as_str(),
                want,
                "{seed} {src} {ty}"
            );
        }
    }

    #[test]
    fn equal_addresses_are_ordered_by_port() {
        let a = ip("10.0.0.1");
        assert_eq!(
            community_id(0, 6, a, a, Some((80, 1234))),
            community_id(0, 6, a, a, Some((1234, 80)))
        );
    }
}
