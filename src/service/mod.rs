//! Services identified from what a connection carries (DETECTION.md §10).
//!
//! A port names the service its owner registered, not the one that answers:
//! AsyncRAT speaks TLS on 4041, and raw C2 sits on 443. What the two ends
//! actually said is what tells, so this module looks only at the first bytes
//! each side sent (reassembled by the connection tracker, cut at a bound) and
//! never at the port. It names the protocol, notices a plain-text protocol
//! that upgrades (STARTTLS, `AUTH TLS`, HTTP and SOCKS `CONNECT` tunnels, and
//! the TLS that RDP, PostgreSQL and MySQL negotiate in their first
//! messages), and keeps
//! what a report wants to say about the far end: the TLS handshake's
//! fingerprints and certificate, the HTTP request line, the SSH banners.
//!
//! One file per family: [`tls`] (record layer, hellos, JA3/JA3S/JA4), [`x509`]
//! (the server certificate), [`http`], [`text`] (line-based: SSH banners,
//! mail, FTP, IRC), [`binary`] (length-prefixed and fixed-layout: RDP, SMB,
//! DNS, SOCKS, VNC, Telnet, MySQL, PostgreSQL).
//!
//! Nothing here panics or loops without a bound, whatever the bytes: each
//! parser reads through a checked cursor, every loop is bounded by a named
//! constant or by the input it consumes, and the input itself is cut at
//! [`MAX_INPUT`]. Allocation is what the result needs (its strings) plus, for
//! a handshake split over several TLS records, one copy of those records.

mod binary;
mod http;
mod text;
mod tls;
mod x509;

use serde::Serialize;

pub use http::HttpInfo;
pub use text::SshInfo;
pub use tls::{CertProblem, TlsInfo};
pub use x509::CertInfo;

/// How much of each direction [`identify`] looks at. The tracker keeps a few
/// KiB; a caller that passes more is cut here, so that every parse below is
/// bounded by this however it is called. 64 KiB holds a TLS 1.2 server's
/// whole first flight with a long certificate chain.
pub const MAX_INPUT: usize = 64 * 1024;

/// Longest string kept from a host name, URI, User-Agent, SNI, ALPN value or
/// banner: 256 bytes shows what a person needs to judge it (SSH limits its
/// banner to 255, DNS names to 253) and bounds what one connection costs.
pub const MAX_FIELD: usize = 256;

/// Services identified from content (never from the port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Tls,
    Http,
    Ssh,
    Rdp,
    Smb,
    Dns,
    Smtp,
    Ftp,
    /// An FTP data connection: told from the FTP control connection
    /// between the same two hosts, not from its own bytes (a file's
    /// contents are anything).
    #[serde(rename = "ftp-data")]
    FtpData,
    Pop3,
    Imap,
    Irc,
    Socks,
    Vnc,
    Telnet,
    Mysql,
    Postgresql,
    Unknown,
}

impl Service {
    /// Every service, in declaration order.
    pub const ALL: [Service; 18] = [
        Service::Tls,
        Service::Http,
        Service::Ssh,
        Service::Rdp,
        Service::Smb,
        Service::Dns,
        Service::Smtp,
        Service::Ftp,
        Service::FtpData,
        Service::Pop3,
        Service::Imap,
        Service::Irc,
        Service::Socks,
        Service::Vnc,
        Service::Telnet,
        Service::Mysql,
        Service::Postgresql,
        Service::Unknown,
    ];

    /// The lower-case name reports and the policy use (as serialized).
    pub fn name(self) -> &'static str {
        match self {
            Service::Tls => "tls",
            Service::Http => "http",
            Service::Ssh => "ssh",
            Service::Rdp => "rdp",
            Service::Smb => "smb",
            Service::Dns => "dns",
            Service::Smtp => "smtp",
            Service::Ftp => "ftp",
            Service::FtpData => "ftp-data",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Irc => "irc",
            Service::Socks => "socks",
            Service::Vnc => "vnc",
            Service::Telnet => "telnet",
            Service::Mysql => "mysql",
            Service::Postgresql => "postgresql",
            Service::Unknown => "unknown",
        }
    }

    /// The service a name (as [`Service::name`] writes it, any case) names.
    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the first bytes of a connection say it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Identified {
    /// None when neither side carried payload; Some(Unknown) when payload
    /// flowed and nothing matched.
    pub service: Option<Service>,
    /// A plain-text protocol that upgraded: SMTP/IMAP/POP3/FTP STARTTLS
    /// (`AUTH TLS`) then TLS, or HTTP CONNECT (and SOCKS CONNECT) then
    /// whatever the tunnel carries (Unknown when it is nothing this module
    /// names); also RDP, PostgreSQL and MySQL that negotiate TLS in their
    /// first messages. `service` stays the first protocol, this is the second
    /// (e.g. Smtp upgraded to Some(Tls)).
    pub upgraded_to: Option<Service>,
    pub tls: Option<TlsInfo>,
    pub http: Option<HttpInfo>,
    pub ssh: Option<SshInfo>,
}

impl Identified {
    pub fn of(service: Service) -> Identified {
        Identified {
            service: Some(service),
            ..Identified::default()
        }
    }
}

/// Identifies the service of one connection from its first bytes.
///
/// `client`: the first bytes the initiator sent (payload reassembled in
/// sequence order, possibly cut at a bound of a few KiB); `server`: the same
/// for the responder. Either may be empty (a one-way capture). Never panics,
/// whatever the bytes.
pub fn identify(client: &[u8], server: &[u8]) -> Identified {
    let client = &client[..client.len().min(MAX_INPUT)];
    let server = &server[..server.len().min(MAX_INPUT)];
    if client.is_empty() && server.is_empty() {
        return Identified::default();
    }
    detect(client, server, Nesting::Outer).unwrap_or_else(|| Identified::of(Service::Unknown))
}

/// How many of one direction's first bytes identification reads, when the
/// bytes so far already tell (`None`: all of them, up to the connection's
/// bound). `bytes` is the direction's stream from its start; `peer` the
/// other direction's, when it is the responder's turn (`None` for the
/// initiator's own).
///
/// The connection reader stops reassembling there, so bulk data after a
/// handshake is never copied: a TLS stream is read up to its first record
/// that is not a handshake (the detectors stop there too), an HTTP message
/// up to the end of its headers (its body is never read, except after an
/// accepted CONNECT, where the tunnel begins). Identification of the cut
/// bytes is the same as of the whole (checked by the tests below).
pub fn needed(bytes: &[u8], peer: Option<&[u8]>) -> Option<usize> {
    if let Some(end) = tls::handshake_end(bytes) {
        return Some(end);
    }
    http::header_end(bytes, peer)
}

/// Whether a detector may look inside an HTTP or SOCKS tunnel. One level
/// only: the tunnel's own protocol is named in `upgraded_to`, and a tunnel in
/// a tunnel has nothing more to tell that field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nesting {
    Outer,
    Inner,
}

/// The detectors, most specific first: each checks a structure few bytes
/// could match by chance (record headers, magic numbers, banners) before the
/// short binary greetings (SOCKS, Telnet) that a random payload could
/// resemble.
fn detect(client: &[u8], server: &[u8], nesting: Nesting) -> Option<Identified> {
    if let Some(tls) = tls::inspect(client, server) {
        return Some(Identified {
            tls: Some(tls),
            ..Identified::of(Service::Tls)
        });
    }
    text::ssh(client, server)
        .or_else(|| http::detect(client, server, nesting))
        .or_else(|| binary::rdp(client, server))
        .or_else(|| binary::smb(client, server))
        .or_else(|| binary::dns(client, server))
        .or_else(|| binary::postgresql(client, server))
        .or_else(|| binary::mysql(client, server))
        .or_else(|| binary::vnc(client, server))
        .or_else(|| text::line_protocols(client, server))
        .or_else(|| binary::socks(client, server, nesting))
        .or_else(|| binary::telnet(client, server))
}

/// The identification of what follows an HTTP or SOCKS CONNECT: the tunnel's service
/// (Unknown when it carried something else), or None when nothing flowed.
fn tunnel(client: &[u8], server: &[u8]) -> Option<Identified> {
    if client.is_empty() && server.is_empty() {
        return None;
    }
    Some(detect(client, server, Nesting::Inner).unwrap_or_else(|| Identified::of(Service::Unknown)))
}

/// Marks `id` as upgraded to TLS when the bytes after the upgrade point on
/// either side hold a TLS hello; leaves it as it is otherwise (a refused
/// STARTTLS, or a capture cut before the handshake).
fn upgrade_to_tls(mut id: Identified, client: &[u8], server: &[u8]) -> Identified {
    if let Some(info) = tls::inspect(client, server) {
        id.upgraded_to = Some(Service::Tls);
        id.tls = Some(info);
    }
    id
}

/// At most `max` bytes of `bytes` as a string: invalid UTF-8 replaced, cut
/// at a character boundary so the result never exceeds `max` bytes.
fn bounded(bytes: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// A checked cursor over untrusted bytes: every read returns None past the
/// end instead of panicking, and consumes what it returns, so a loop that
/// reads each round ends with its input.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(rest: &'a [u8]) -> Cursor<'a> {
        Cursor { rest }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(n)?;
        self.rest = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A vector with a one-byte length.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.name()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.name())
            );
        }
        assert_eq!(Service::parse("TLS"), Some(Service::Tls));
        assert_eq!(Service::parse("gopher"), None);
    }

    #[test]
    fn nothing_and_something() {
        assert_eq!(identify(b"", b""), Identified::default());
        let id = identify(b"\x01\x02\x03 nothing known", b"");
        assert_eq!(id.service, Some(Service::Unknown));
        assert_eq!(id.upgraded_to, None);
    }

    #[test]
    fn serializes_with_the_field_names() {
        let hello = tls::tests::record(1, &tls::tests::browser_hello());
        let id = identify(&hello, b"");
        let v = serde_json::to_value(&id).unwrap();
        assert_eq!(v["service"], "tls");
        assert_eq!(v["upgraded_to"], serde_json::Value::Null);
        assert_eq!(v["tls"]["sni"], "example.com");
        assert_eq!(v["tls"]["alpn"][0], "h2");
        assert_eq!(v["tls"]["version"], "TLSv1.3");
        assert!(v["tls"]["ja3"].is_string() && v["tls"]["ja4"].is_string());
        for key in ["ja3s", "cert"] {
            assert!(v["tls"][key].is_null(), "{key}");
        }
        for key in ["http", "ssh"] {
            assert!(v[key].is_null(), "{key}");
        }
        let v = serde_json::to_value(identify(b"GET / HTTP/1.1\r\n\r\n", b"")).unwrap();
        let http = v["http"].as_object().unwrap();
        let mut keys: Vec<&str> = http.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["host", "method", "status", "uri", "user_agent"]);
    }

    #[test]
    fn bounded_strings() {
        assert_eq!(bounded(b"abc", 2), "ab");
        // A multi-byte character cut by the bound is dropped, not split.
        assert_eq!(bounded("aé".as_bytes(), 2), "a");
        // Invalid bytes become U+FFFD, and the bound still holds.
        let s = bounded(&[0xff; 10], 10);
        assert!(s.len() <= 10 && s.starts_with('\u{fffd}'));
    }

    #[test]
    fn cursor_is_checked() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u16(), Some(0x0102));
        assert_eq!(c.u16(), None);
        assert_eq!(c.u8(), Some(3));
        assert!(c.is_empty());
        assert_eq!(Cursor::new(&[5, 1]).vec8(), None);
        assert_eq!(hex(&[0x0a, 0xff]), "0aff");
    }
}
