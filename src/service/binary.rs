//! Binary protocols with a fixed first message: RDP, SMB, DNS over TCP,
//! PostgreSQL, MySQL, VNC, SOCKS and Telnet.
//!
//! Each has a registered port and each turns up elsewhere: RDP and VNC
//! moved off their ports to dodge rules, SOCKS proxies that tunnel C2,
//! Telnet on IoT backdoors, databases exposed on odd ports. Their first
//! message is a header with a magic number, a version or lengths that must
//! add up, which is what is checked here; where a protocol negotiates TLS in
//! those messages (RDP, PostgreSQL, MySQL), the TLS that follows is read
//! too, and so is what a granted SOCKS CONNECT carries.

use super::{tunnel, upgrade_to_tls, Cursor, Identified, Nesting, Service};

/// NetBIOS session messages read from one side: a session request and its
/// answer, then the first SMB message; keepalives may come between.
const MAX_NBSS_MESSAGES: usize = 4;

/// Longest SOCKS 4 user id or SOCKS 4a host name looked for: 255 bytes,
/// what a DNS name and any sane user id fit in.
const MAX_SOCKS_STRING: usize = 255;

/// Longest MySQL server version string: real ones (`8.0.36`,
/// `10.11.6-MariaDB-0+deb12u1`) are well under 64 bytes.
const MAX_MYSQL_VERSION: usize = 64;

/// Longest PostgreSQL StartupMessage accepted: 10000 bytes, the limit the
/// server itself enforces (`MAX_STARTUP_PACKET_LENGTH`).
const MAX_PG_STARTUP: u32 = 10_000;

/// Longest DNS name in a question, per RFC 1035 §2.3.4 (255 octets), and
/// so the most labels one can have.
const MAX_DNS_NAME: usize = 255;

/// The rest of `b` after `n` bytes (empty when shorter).
fn after(b: &[u8], n: usize) -> &[u8] {
    b.get(n..).unwrap_or_default()
}

// --- RDP ---------------------------------------------------------------------

/// A TPKT header (RFC 1006) carrying an X.224 TPDU whose code is `code`
/// (0xe0 Connection Request, 0xd0 Connection Confirm); the TPKT length.
fn tpkt_x224(b: &[u8], code: u8) -> Option<usize> {
    let mut c = Cursor::new(b);
    let (version, reserved) = (c.u8()?, c.u8()?);
    let len = usize::from(c.u16()?);
    let li = usize::from(c.u8()?);
    let tpdu = c.u8()?;
    (version == 3 && reserved == 0 && len >= 11 && li + 5 == len && tpdu & 0xf0 == code)
        .then_some(len)
}

/// RDP: the client's X.224 Connection Request or the server's Confirm. What
/// follows on both sides is TLS when they negotiated it (RDP security
/// layer TLS or CredSSP): still RDP, upgraded.
pub(super) fn rdp(client: &[u8], server: &[u8]) -> Option<Identified> {
    let request = tpkt_x224(client, 0xe0);
    let confirm = tpkt_x224(server, 0xd0);
    if request.is_none() && confirm.is_none() {
        return None;
    }
    let client_rest = request.map_or(&[][..], |n| after(client, n));
    let server_rest = confirm.map_or(&[][..], |n| after(server, n));
    Some(upgrade_to_tls(
        Identified::of(Service::Rdp),
        client_rest,
        server_rest,
    ))
}

// --- SMB ---------------------------------------------------------------------

/// NetBIOS session service messages (RFC 1002 §4.3) at the start of `b`:
/// type and payload (what of it is there). SMB over plain TCP (445) uses
/// the same four bytes with a 24-bit length.
fn nbss(b: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut c = Cursor::new(b);
    let mut left = MAX_NBSS_MESSAGES;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let kind = c.u8()?;
        let len = c.u24()?;
        let ok = match kind {
            0x00 => len >= 4,
            0x81..=0x85 => len < 0x1_0000,
            _ => false,
        };
        if !ok {
            return None;
        }
        let have = len.min(c.rest.len());
        Some((kind, c.take(have)?))
    })
}

/// An SMB1 (`\xffSMB`), SMB2/3 (`\xfeSMB`) or SMB3 transform (`\xfdSMB`)
/// header.
fn smb_header(p: &[u8]) -> bool {
    p.len() >= 4 && matches!(p[0], 0xfd..=0xff) && &p[1..4] == b"SMB"
}

/// A NetBIOS session request: two encoded names of 34 bytes (RFC 1001
/// §14.1: length 32, 32 letters `A`-`P`, terminator).
fn session_request(kind: u8, p: &[u8]) -> bool {
    kind == 0x81
        && p.len() == 68
        && p.chunks(34)
            .all(|n| n[0] == 32 && n[33] == 0 && n[1..33].iter().all(|b| (b'A'..=b'P').contains(b)))
}

/// SMB: an SMB header in a session message on either side, or a NetBIOS
/// session request the server answered (the session service exists to
/// carry SMB).
pub(super) fn smb(client: &[u8], server: &[u8]) -> Option<Identified> {
    let carries_smb = |b| nbss(b).any(|(kind, p)| kind == 0 && smb_header(p));
    let request = nbss(client)
        .next()
        .is_some_and(|(k, p)| session_request(k, p));
    let answered = matches!(nbss(server).next(), Some((0x82 | 0x83, [] | [_])));
    (carries_smb(client) || carries_smb(server) || (request && (answered || server.is_empty())))
        .then(|| Identified::of(Service::Smb))
}

// --- DNS over TCP ------------------------------------------------------------

/// A DNS message behind its two-byte TCP length: the ID and whether it is
/// a response, when the header is plausible and the question parses.
fn dns_message(b: &[u8]) -> Option<(u16, bool)> {
    let mut c = Cursor::new(b);
    let len = usize::from(c.u16()?);
    // Header (12) and the shortest question: the root name, type, class.
    if len < 17 {
        return None;
    }
    let mut c = Cursor::new(c.rest.get(..len).unwrap_or(c.rest));
    let id = c.u16()?;
    let flags = c.u16()?;
    let (qd, an, ns, ar) = (c.u16()?, c.u16()?, c.u16()?, c.u16()?);
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let z = flags & 0x0040;
    if !matches!(opcode, 0 | 2 | 4 | 5) || z != 0 || qd != 1 {
        return None;
    }
    // A query carries no answers and little besides (IXFR's SOA, EDNS OPT,
    // TSIG); a response's records must fit its length (11 bytes at least).
    let records = usize::from(an) + usize::from(ns) + usize::from(ar);
    if !response && (an > 0 || ns > 1 || ar > 2) || records * 11 > len {
        return None;
    }
    // The question name: labels of printable bytes, no compression.
    let mut name_len = 0;
    while name_len <= MAX_DNS_NAME {
        let label = c.u8()?;
        if label == 0 {
            break;
        }
        let bytes = c.take(usize::from(label))?;
        if label > 63 || !bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
            return None;
        }
        name_len += usize::from(label) + 1;
    }
    let (qtype, qclass) = (c.u16()?, c.u16()?);
    (name_len <= MAX_DNS_NAME && qtype != 0 && matches!(qclass, 1 | 3 | 4 | 254 | 255))
        .then_some((id, response))
}

/// DNS over TCP: a query from the client, a response from the server, with
/// the same ID when both are there.
pub(super) fn dns(client: &[u8], server: &[u8]) -> Option<Identified> {
    let query = dns_message(client).filter(|&(_, r)| !r);
    let response = dns_message(server).filter(|&(_, r)| r);
    let ok = match (query, response) {
        (Some((q, _)), Some((r, _))) => q == r,
        (Some(_), None) => server.is_empty(),
        (None, Some(_)) => client.is_empty(),
        (None, None) => false,
    };
    ok.then(|| Identified::of(Service::Dns))
}

// --- PostgreSQL --------------------------------------------------------------

const PG_SSL_REQUEST: u32 = 80_877_103;
const PG_GSSENC_REQUEST: u32 = 80_877_104;
const PG_CANCEL_REQUEST: u32 = 80_877_102;
const PG_PROTOCOL_3: u32 = 0x0003_0000;

/// The client's first PostgreSQL message: its code and length.
fn pg_first(b: &[u8]) -> Option<(u32, usize)> {
    let mut c = Cursor::new(b);
    let len = c.u32()?;
    let code = c.u32()?;
    let ok = match code {
        PG_SSL_REQUEST | PG_GSSENC_REQUEST => len == 8,
        PG_CANCEL_REQUEST => len == 16,
        // Parameters: name NUL value NUL ... NUL; the first name is text.
        PG_PROTOCOL_3 => {
            let params = c.rest;
            let name_end = params.iter().position(|&b| b == 0);
            (9..=MAX_PG_STARTUP).contains(&len)
                && name_end
                    .is_some_and(|n| n > 0 && params[..n].iter().all(|b| b.is_ascii_graphic()))
        }
        _ => false,
    };
    ok.then_some((code, usize::try_from(len).unwrap_or(usize::MAX)))
}

/// A server's first message when the client's is not there: an
/// authentication request (`R`, length, a method number PostgreSQL
/// defines).
fn pg_auth_request(b: &[u8]) -> bool {
    let mut c = Cursor::new(b);
    let (Some(b'R'), Some(len), Some(method)) = (c.u8(), c.u32(), c.u32()) else {
        return false;
    };
    (8..=1024).contains(&len) && method <= 12
}

/// PostgreSQL: the client's StartupMessage, SSLRequest, GSSENCRequest or
/// CancelRequest; an SSLRequest the server accepted (`S`) goes on in TLS.
pub(super) fn postgresql(client: &[u8], server: &[u8]) -> Option<Identified> {
    let id = Identified::of(Service::Postgresql);
    match pg_first(client) {
        Some((PG_SSL_REQUEST, len)) if server.first() == Some(&b'S') => {
            Some(upgrade_to_tls(id, after(client, len), after(server, 1)))
        }
        Some(_) => Some(id),
        None if client.is_empty() && pg_auth_request(server) => Some(id),
        None => None,
    }
}

// --- MySQL -------------------------------------------------------------------

/// CLIENT_SSL in a MySQL client's capability flags.
const MYSQL_CLIENT_SSL: u32 = 0x0800;

/// The server's first MySQL packet: a protocol-10 greeting (version string,
/// thread id, salt, filler), or the error a server sends instead of it to
/// a host it refuses. Returns the packet's length with its header.
fn mysql_greeting(b: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(b);
    let len = usize::from(c.u8()?) | usize::from(c.u8()?) << 8 | usize::from(c.u8()?) << 16;
    let seq = c.u8()?;
    if seq != 0 || !(5..=1024).contains(&len) {
        return None;
    }
    let body = &c.rest[..len.min(c.rest.len())];
    let ok = match body.first()? {
        10 => {
            let version = &body[1..];
            let end = version
                .iter()
                .take(MAX_MYSQL_VERSION)
                .position(|&b| b == 0)?;
            let v = &version[..end];
            // NUL, thread id (4), first 8 bytes of the salt, filler 0.
            let filler = version.get(end + 13);
            v.first().is_some_and(u8::is_ascii_digit)
                && v.iter().all(u8::is_ascii_graphic)
                && filler.is_none_or(|&f| f == 0)
        }
        0xff => {
            let code = u16::from_le_bytes([*body.get(1)?, *body.get(2)?]);
            let text = &body[3..];
            let names = |n: &[u8]| text.windows(n.len()).any(|w| w == n);
            matches!(code, 1040 | 1129 | 1130) || names(b"MySQL") || names(b"MariaDB")
        }
        _ => false,
    };
    ok.then_some(len + 4)
}

/// A client's SSLRequest: the first packet (sequence 1) of 32 bytes with
/// CLIENT_SSL set; its length with the header.
fn mysql_ssl_request(b: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(b);
    let head = c.take(4)?;
    let caps = c.take(4)?;
    let caps = u32::from_le_bytes([caps[0], caps[1], caps[2], caps[3]]);
    (head == [32, 0, 0, 1] && caps & MYSQL_CLIENT_SSL != 0).then_some(36)
}

/// MySQL (and MariaDB): the server's greeting; a client that asks for TLS
/// in its first packet goes on in TLS.
pub(super) fn mysql(client: &[u8], server: &[u8]) -> Option<Identified> {
    let greeting = mysql_greeting(server)?;
    let id = Identified::of(Service::Mysql);
    Some(match mysql_ssl_request(client) {
        Some(n) => upgrade_to_tls(id, after(client, n), after(server, greeting)),
        None => id,
    })
}

// --- VNC ---------------------------------------------------------------------

/// The RFB ProtocolVersion message: `RFB xxx.yyy\n`.
fn rfb_version(b: &[u8]) -> bool {
    b.len() >= 12
        && b.starts_with(b"RFB ")
        && b[4..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'.'
        && b[8..11].iter().all(u8::is_ascii_digit)
        && b[11] == b'\n'
}

/// VNC: the server's RFB version, or the client's answer to it.
pub(super) fn vnc(client: &[u8], server: &[u8]) -> Option<Identified> {
    (rfb_version(server) || rfb_version(client)).then(|| Identified::of(Service::Vnc))
}

// --- SOCKS -------------------------------------------------------------------

/// A NUL-terminated string of at most [`MAX_SOCKS_STRING`] bytes.
fn c_string<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let end = c
        .rest
        .iter()
        .take(MAX_SOCKS_STRING + 1)
        .position(|&b| b == 0)?;
    let s = c.take(end)?;
    c.take(1)?;
    Some(s)
}

/// A SOCKS 4 (4a) request: version 4, CONNECT or BIND, port, address, user
/// id; for 4a (address 0.0.0.x) a host name after it. Its length.
fn socks4_request(b: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(b);
    let head = (c.u8(), c.u8(), c.u16(), c.take(4));
    let (Some(4), Some(1 | 2), Some(_port), Some(ip)) = head else {
        return None;
    };
    c_string(&mut c)?;
    if ip[..3] == [0, 0, 0] && ip[3] != 0 && c_string(&mut c)?.is_empty() {
        return None;
    }
    Some(b.len() - c.rest.len())
}

/// A SOCKS 4 reply: version 0, status 90-93; whether it granted the request.
fn socks4_reply(b: &[u8]) -> Option<bool> {
    match b {
        [0, code @ 0x5a..=0x5d, _, _, _, _, _, _, ..] => Some(*code == 0x5a),
        _ => None,
    }
}

/// An authentication method a SOCKS 5 client may offer (RFC 1928 §3):
/// IANA-assigned 0-9, private 0x80-0xfe.
fn socks5_method(m: u8) -> bool {
    m <= 9 || (0x80..=0xfe).contains(&m)
}

/// A SOCKS 5 greeting: version 5, a method count and that many methods;
/// the methods offered.
fn socks5_greeting(b: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor::new(b);
    if c.u8()? != 5 {
        return None;
    }
    let methods = c.vec8()?;
    (!methods.is_empty() && methods.len() <= 10 && methods.iter().all(|&m| socks5_method(m)))
        .then_some(methods)
}

/// A SOCKS 5 request or reply (RFC 1928 §4, §6): version 5, a command or
/// reply code, reserved 0, an address of its type, a port. The code.
fn socks5_message(c: &mut Cursor<'_>, codes: std::ops::RangeInclusive<u8>) -> Option<u8> {
    let (version, code, reserved, kind) = (c.u8()?, c.u8()?, c.u8()?, c.u8()?);
    if version != 5 || !codes.contains(&code) || reserved != 0 {
        return None;
    }
    match kind {
        1 => c.take(4)?,
        3 => c.vec8()?,
        4 => c.take(16)?,
        _ => return None,
    };
    c.u16()?;
    Some(code)
}

/// A SOCKS 5 session up to the point where the tunnel opens: greeting and
/// method choice, username/password exchange (RFC 1929) when chosen, then
/// the request and a reply that grants it. Where the tunnel starts on each
/// side.
fn socks5_tunnel(client: &[u8], server: &[u8], methods: &[u8]) -> Option<(usize, usize)> {
    let mut c = Cursor::new(after(client, 2 + methods.len()));
    let mut s = Cursor::new(server);
    s.take(1)?;
    let method = s.u8()?;
    if method == 2 {
        if c.u8()? != 1 || s.u8()? != 1 {
            return None;
        }
        c.vec8()?; // user
        c.vec8()?; // password
        if s.u8()? != 0 {
            return None;
        }
    } else if method != 0 {
        return None;
    }
    socks5_message(&mut c, 1..=3)?;
    (socks5_message(&mut s, 0..=8)? == 0)
        .then(|| (client.len() - c.rest.len(), server.len() - s.rest.len()))
}

/// SOCKS 4/4a and 5: the client's request with a reply that fits it; a
/// client alone needs its follow-up request to be there too (a three-byte
/// greeting is too little to go on). A granted CONNECT is a tunnel, and
/// what it carries is identified too, as behind an HTTP CONNECT.
pub(super) fn socks(client: &[u8], server: &[u8], nesting: Nesting) -> Option<Identified> {
    let mut tunnel_at = None;
    let found = if let Some(request) = socks4_request(client) {
        match socks4_reply(server) {
            Some(granted) => {
                tunnel_at = granted.then_some((request, 8));
                true
            }
            None => server.is_empty(),
        }
    } else if let Some(methods) = socks5_greeting(client) {
        match server {
            [5, m, ..] if *m == 0xff || methods.contains(m) => {
                tunnel_at = socks5_tunnel(client, server, methods);
                true
            }
            [] => {
                let mut c = Cursor::new(after(client, 2 + methods.len()));
                socks5_message(&mut c, 1..=3).is_some()
            }
            _ => false,
        }
    } else {
        false
    };
    if !found {
        return None;
    }
    let mut id = Identified::of(Service::Socks);
    if let (Some((c, s)), Nesting::Outer) = (tunnel_at, nesting) {
        if let Some(inner) = tunnel(after(client, c), after(server, s)) {
            id.upgraded_to = inner.service;
            id.tls = inner.tls;
            id.http = inner.http;
            id.ssh = inner.ssh;
        }
    }
    Some(id)
}

// --- Telnet ------------------------------------------------------------------

/// Telnet option negotiation at the start: IAC, WILL/WONT/DO/DONT, and an
/// option IANA lists (0-49, 138-140, 255).
fn telnet_negotiation(b: &[u8]) -> bool {
    matches!(b, [0xff, 0xfb..=0xfe, opt, ..] if *opt <= 49 || (138..=140).contains(opt) || *opt == 255)
}

/// Telnet: option negotiation opening either side.
pub(super) fn telnet(client: &[u8], server: &[u8]) -> Option<Identified> {
    (telnet_negotiation(server) || telnet_negotiation(client))
        .then(|| Identified::of(Service::Telnet))
}

#[cfg(test)]
mod tests {
    use super::super::identify;
    use super::super::tls::tests::{browser_hello, record, server_hello};
    use super::*;

    fn service(c: &[u8], s: &[u8]) -> Option<Service> {
        identify(c, s).service
    }

    fn hellos() -> (Vec<u8>, Vec<u8>) {
        (
            record(1, &browser_hello()),
            record(2, &server_hello(0x0303, 0xc02f, &[])),
        )
    }

    #[test]
    fn rdp_and_rdp_over_tls() {
        let cr = b"\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00Cookie: mstshash=user\r\n\x01\x00\x08\x00\x0b\x00\x00\x00";
        let cc = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00";
        let id = identify(cr, cc);
        assert_eq!((id.service, id.upgraded_to), (Some(Service::Rdp), None));
        let (ch, sh) = hellos();
        let id = identify(&[&cr[..], &ch].concat(), &[&cc[..], &sh].concat());
        assert_eq!(
            (id.service, id.upgraded_to),
            (Some(Service::Rdp), Some(Service::Tls))
        );
        assert!(id.tls.unwrap().ja3.is_some());
        // A scanner's bare request.
        assert_eq!(
            service(b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00", b""),
            Some(Service::Rdp)
        );
        assert_eq!(
            service(b"\x03\x00\x00\x0b\x07\xe0\x00\x00\x00\x00\x00", b""),
            Some(Service::Unknown)
        );
    }

    #[test]
    fn smb_versions_and_netbios() {
        let smb2 = b"\x00\x00\x00\x44\xfeSMB\x40\x00\x00\x00";
        assert_eq!(service(smb2, b""), Some(Service::Smb));
        assert_eq!(
            service(b"", b"\x00\x00\x00\x55\xffSMBr\x00\x00"),
            Some(Service::Smb)
        );
        let mut request = vec![0x81, 0, 0, 68];
        for _ in 0..2 {
            request.push(32);
            request.extend_from_slice(b"CKFDENECFDEFFCFGEFFCCACACACACACA");
            request.push(0);
        }
        assert_eq!(service(&request, b"\x82\x00\x00\x00"), Some(Service::Smb));
        assert_eq!(
            service(&request, b"HTTP/1.1 400 Bad\r\n"),
            Some(Service::Http)
        );
        assert_eq!(
            service(b"\x00\x00\x00\x44\xfeSMC", b""),
            Some(Service::Unknown)
        );
    }

    fn dns_query(id: u16, response: bool) -> Vec<u8> {
        let flags: u16 = if response { 0x8180 } else { 0x0100 };
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, u8::from(response), 0, 0, 0, 0]);
        m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        if response {
            m.extend_from_slice(
                b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04",
            );
        }
        let mut b = (m.len() as u16).to_be_bytes().to_vec();
        b.extend_from_slice(&m);
        b
    }

    #[test]
    fn dns_over_tcp() {
        assert_eq!(
            service(&dns_query(7, false), &dns_query(7, true)),
            Some(Service::Dns)
        );
        assert_eq!(service(&dns_query(7, false), b""), Some(Service::Dns));
        assert_eq!(service(b"", &dns_query(7, true)), Some(Service::Dns));
        assert_eq!(
            service(&dns_query(7, false), &dns_query(8, true)),
            Some(Service::Unknown)
        );
        assert_eq!(service(&dns_query(7, true), b""), Some(Service::Unknown));
        let mut bad = dns_query(7, false);
        bad[15] = 0xc0; // a compression pointer in a query's question
        assert_eq!(service(&bad, b""), Some(Service::Unknown));
    }

    #[test]
    fn postgresql_startup_ssl_and_server() {
        let mut startup = vec![0, 0, 0, 0x21, 0, 3, 0, 0];
        startup.extend_from_slice(b"user\0postgres\0database\0db\0\0");
        startup[3] = startup.len() as u8;
        assert_eq!(
            service(&startup, b"R\0\0\0\x08\0\0\0\0"),
            Some(Service::Postgresql)
        );
        assert_eq!(
            service(b"", b"R\0\0\0\x0c\0\0\0\x05salt"),
            Some(Service::Postgresql)
        );
        let ssl = b"\0\0\0\x08\x04\xd2\x16\x2f";
        assert_eq!(service(ssl, b"N"), Some(Service::Postgresql));
        let (ch, sh) = hellos();
        let id = identify(&[&ssl[..], &ch].concat(), &[&b"S"[..], &sh].concat());
        assert_eq!(
            (id.service, id.upgraded_to),
            (Some(Service::Postgresql), Some(Service::Tls))
        );
        assert_eq!(
            service(b"\0\0\0\x08\x04\xd2\x16\x30", b""),
            Some(Service::Postgresql)
        );
    }

    #[test]
    fn mysql_greetings() {
        let mut g = vec![0, 0, 0, 0, 10];
        g.extend_from_slice(b"8.0.36\0");
        g.extend_from_slice(&[1, 0, 0, 0]);
        g.extend_from_slice(b"abcdefgh\0");
        g.extend_from_slice(&[0xff, 0xf7, 0x21, 2, 0, 0xff, 0xdf, 21]);
        g.extend_from_slice(&[0; 10]);
        g.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
        g[0] = (g.len() - 4) as u8;
        assert_eq!(service(b"", &g), Some(Service::Mysql));
        let refused =
            b"\x44\0\0\0\xff\x6a\x04Host '10.0.0.1' is not allowed to connect to this MySQL server";
        assert_eq!(service(b"", &refused[..]), Some(Service::Mysql));
        let mut ssl = vec![32, 0, 0, 1, 0x05, 0xae, 0xff, 0x01];
        ssl.extend_from_slice(&[0; 28]);
        let (ch, sh) = hellos();
        let id = identify(&[&ssl[..], &ch].concat(), &[&g[..], &sh].concat());
        assert_eq!(
            (id.service, id.upgraded_to),
            (Some(Service::Mysql), Some(Service::Tls))
        );
        g[4] = 9;
        assert_eq!(service(b"", &g), Some(Service::Unknown));
    }

    #[test]
    fn socks_tunnels() {
        let (ch, sh) = hellos();
        // SOCKS 5 with username/password, CONNECT to a host name, then TLS.
        let client = [
            &b"\x05\x02\x00\x02\x01\x03bob\x03pwd\x05\x01\x00\x03\x0bexample.com\x01\xbb"[..],
            &ch,
        ]
        .concat();
        let server = [
            &b"\x05\x02\x01\x00\x05\x00\x00\x01\x0a\x00\x00\x01\x30\x39"[..],
            &sh,
        ]
        .concat();
        let id = identify(&client, &server);
        assert_eq!(
            (id.service, id.upgraded_to),
            (Some(Service::Socks), Some(Service::Tls))
        );
        assert_eq!(id.tls.unwrap().sni.as_deref(), Some("example.com"));
        // Refused (reply 5): no tunnel.
        let mut refused = server.clone();
        refused[5] = 5;
        assert_eq!(identify(&client, &refused).upgraded_to, None);
        // SOCKS 4a, then HTTP.
        let id = identify(
            b"\x04\x01\x00\x50\x00\x00\x00\x01\0example.com\0GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            b"\x00\x5a\x00\x00\x00\x00\x00\x00HTTP/1.1 200 OK\r\n\r\n",
        );
        assert_eq!(
            (id.service, id.upgraded_to),
            (Some(Service::Socks), Some(Service::Http))
        );
        assert_eq!(id.http.unwrap().host.as_deref(), Some("example.com"));
    }

    #[test]
    fn vnc_socks_telnet() {
        assert_eq!(
            service(b"RFB 003.008\n", b"RFB 003.008\n"),
            Some(Service::Vnc)
        );
        assert_eq!(service(b"", b"RFB 003.003\n"), Some(Service::Vnc));
        assert_eq!(service(b"", b"RFB 3.3\n"), Some(Service::Unknown));

        let socks4 = b"\x04\x01\x00\x50\x5d\xb8\xd8\x22user\0";
        assert_eq!(
            service(socks4, b"\x00\x5a\x00\x00\x00\x00\x00\x00"),
            Some(Service::Socks)
        );
        assert_eq!(service(socks4, b""), Some(Service::Socks));
        let socks4a = b"\x04\x01\x00\x50\x00\x00\x00\x01\0example.com\0";
        assert_eq!(service(socks4a, b""), Some(Service::Socks));
        assert_eq!(
            service(socks4, b"\x01\x5a\x00\x00\x00\x00\x00\x00"),
            Some(Service::Unknown)
        );
        assert_eq!(service(b"\x05\x01\x00", b"\x05\x00"), Some(Service::Socks));
        assert_eq!(
            service(b"\x05\x02\x00\x02", b"\x05\x02"),
            Some(Service::Socks)
        );
        assert_eq!(
            service(b"\x05\x01\x00", b"\x05\x02"),
            Some(Service::Unknown)
        );
        assert_eq!(service(b"\x05\x01\x00", b""), Some(Service::Unknown));
        assert_eq!(
            service(b"\x05\x01\x00\x05\x01\x00\x07", b""),
            Some(Service::Unknown)
        );
        assert_eq!(
            service(b"\x05\x01\x00\x05\x01\x00\x03\x0bexample.com\x01\xbb", b""),
            Some(Service::Socks)
        );

        assert_eq!(
            service(b"", b"\xff\xfd\x18\xff\xfd\x20"),
            Some(Service::Telnet)
        );
        assert_eq!(service(b"\xff\xfb\x01", b""), Some(Service::Telnet));
        assert_eq!(service(b"\xff\xfb\x60", b""), Some(Service::Unknown));
    }
}
