//! TLS: the handshake's first messages, read from the record layer, and what
//! they say about each end.
//!
//! TLS is what most C2 hides in, so it is also where a report needs the most
//! detail: the version the two ends settled on, the name the client asked
//! for (SNI) and the protocols it offered (ALPN), the client's JA3 and JA4
//! and the server's JA3S fingerprints, and, before TLS 1.3 encrypts it, the
//! server's certificate. JA3/JA3S follow Salesforce's definition, JA4 the
//! FoxIO specification (JA4 only: its siblings are under another licence).
//!
//! Read by hand over a checked cursor rather than with rusticata's
//! `tls-parser`: the fingerprints need every extension's type in wire
//! order, unknown and GREASE ones included, from handshakes that are often
//! cut at the tracker's bound or split across records, and only a few
//! fields of each message; a cursor gives that without building the whole
//! parsed message first. The certificate itself is parsed with
//! `x509-parser`.

use std::borrow::Cow;
use std::fmt::Write;

use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::x509::{self, CertInfo};
use super::{bounded, hex, Cursor, MAX_FIELD};

/// Records read from the start of one direction. A TLS 1.2 server's first
/// flight (ServerHello, Certificate, ServerKeyExchange, ServerHelloDone)
/// takes a handful of records, one per message at most; 32 leaves room for
/// middleboxes that cut a handshake into small records, and stops a stream
/// of empty records from costing more than that.
const MAX_RECORDS: usize = 32;

/// Handshake messages read from one direction: a server's first flight has
/// six at most (ServerHello, Certificate, CertificateStatus,
/// ServerKeyExchange, CertificateRequest, ServerHelloDone).
const MAX_MESSAGES: usize = 16;

/// ALPN protocols kept from a ClientHello. Browsers offer two or three; a
/// longer list is not a preference list a report needs in full.
const MAX_ALPN: usize = 16;

/// Largest record body: 2^14 bytes of plaintext plus the 2048 bytes of
/// expansion RFC 5246 §6.2.3 allows; a longer length is not a TLS record.
const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

const CONTENT_HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
const SERVER_HELLO_DONE: u8 = 14;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_EC_POINT_FORMATS: u16 = 0x000b;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

const TLS13: u16 = 0x0304;

/// What a TLS handshake says about its two ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// The negotiated version ("TLSv1.3"): the ServerHello's
    /// supported_versions, else its version; without a ServerHello, the
    /// highest the ClientHello offers.
    pub version: Option<String>,
    /// The server name the client asked for.
    pub sni: Option<String>,
    /// The protocols the client offered, in its order.
    pub alpn: Vec<String>,
    /// MD5 of the ClientHello's JA3 string, hex.
    pub ja3: Option<String>,
    /// MD5 of the ServerHello's JA3S string, hex.
    pub ja3s: Option<String>,
    /// FoxIO's JA4 of the ClientHello.
    pub ja4: Option<String>,
    /// The server's certificate (TLS 1.2 and older: 1.3 encrypts it).
    pub cert: Option<CertInfo>,
    /// Why a Certificate message was there and `cert` is not: its first
    /// certificate cut short (the capture's snap length, the connection's
    /// byte bound) or not a readable X.509 certificate. Counted and warned
    /// about by the connection reader, not written to reports.
    #[serde(skip)]
    pub cert_unread: Option<CertProblem>,
}

/// Why a server's certificate could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertProblem {
    /// Its bytes end before the length its message gives.
    Cut,
    /// Its bytes are all there and are not a certificate portent reads.
    Malformed,
}

/// The length of the handshake record whose header starts `b`, when it is
/// one: content type 22, version 3.0 to 3.4, a length a record can have.
pub(super) fn handshake_record(b: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(b);
    let (kind, major, minor) = (c.u8()?, c.u8()?, c.u8()?);
    let len = usize::from(c.u16()?);
    (kind == CONTENT_HANDSHAKE && major == 3 && minor <= 4 && (1..=MAX_RECORD_LEN).contains(&len))
        .then_some(len)
}

/// Where the handshake records that open `b` end: at the first record of
/// another type (or after [`MAX_RECORDS`]), what [`record_bodies`] reads and
/// no further; `None` when `b` does not open with a handshake record or the
/// end is not in `b` yet.
pub(super) fn handshake_end(b: &[u8]) -> Option<usize> {
    handshake_record(b)?;
    let mut at = 0;
    for _ in 0..MAX_RECORDS {
        let rest = b.get(at..)?;
        if rest.len() < 5 {
            return None;
        }
        match handshake_record(rest) {
            Some(len) => at += 5 + len,
            None => return Some(at),
        }
    }
    (at <= b.len()).then_some(at)
}

/// `b` opens with a handshake record whose first message is of type `msg`.
fn opens_with(b: &[u8], msg: u8) -> bool {
    handshake_record(b).is_some() && b.get(5) == Some(&msg)
}

/// An SSL 2.0-format ClientHello (the backward-compatible one old clients
/// send): two-byte header with the high bit set, message type 1, and lengths
/// that add up to the record's.
fn sslv2_client_hello(b: &[u8]) -> Option<u16> {
    let mut c = Cursor::new(b);
    let len = usize::from(c.u16()?);
    if len & 0x8000 == 0 || c.u8()? != CLIENT_HELLO {
        return None;
    }
    let version = c.u16()?;
    let (ciphers, session, challenge) = (c.u16()?, c.u16()?, c.u16()?);
    let fits =
        usize::from(ciphers) + usize::from(session) + usize::from(challenge) + 9 == len & 0x7fff;
    (matches!(version, 0x0002 | 0x0300..=TLS13)
        && ciphers > 0
        && ciphers % 3 == 0
        && matches!(session, 0 | 16)
        && (16..=32).contains(&challenge)
        && fits)
        .then_some(version)
}

/// The TLS handshake at the start of `client` (a ClientHello) or `server`
/// (a ServerHello), and what it says; None when neither side opens one.
pub(super) fn inspect(client: &[u8], server: &[u8]) -> Option<TlsInfo> {
    let client_hello = opens_with(client, CLIENT_HELLO);
    let server_hello = opens_with(server, SERVER_HELLO);
    let sslv2 = if client_hello {
        None
    } else {
        sslv2_client_hello(client)
    };
    if !client_hello && !server_hello && sslv2.is_none() {
        return None;
    }
    let mut info = TlsInfo::default();
    let mut client_version = sslv2;
    if client_hello {
        let bytes = handshake_bytes(client);
        let first = messages(&bytes).next();
        if let Some((CLIENT_HELLO, body, true)) = first {
            if let Some(hello) = ClientHello::parse(body) {
                client_version = Some(hello.highest_version());
                hello.describe(&mut info);
            }
        }
    }
    let mut server_version = None;
    if server_hello {
        let bytes = handshake_bytes(server);
        let mut msgs = messages(&bytes);
        if let Some((SERVER_HELLO, body, true)) = msgs.next() {
            if let Some(hello) = ServerHello::parse(body) {
                let selected = hello.selected_version();
                server_version = Some(selected);
                info.ja3s = Some(hello.ja3s());
                if !encrypts_certificate(selected) {
                    match first_certificate(msgs) {
                        Ok(cert) => info.cert = cert,
                        Err(why) => info.cert_unread = Some(why),
                    }
                }
            }
        }
    }
    info.version = server_version.or(client_version).map(version_name);
    Some(info)
}

/// TLS 1.3 (and its drafts, 0x7fxx) sends the certificate encrypted.
fn encrypts_certificate(version: u16) -> bool {
    version >= TLS13
}

/// The certificate of the first Certificate message before
/// ServerHelloDone, when there is one (`Ok(None)` when there is none, as
/// when the server's bytes end before it), or why it could not be read.
fn first_certificate<'a>(
    msgs: impl Iterator<Item = (u8, &'a [u8], bool)>,
) -> Result<Option<CertInfo>, CertProblem> {
    for (kind, body, _complete) in msgs {
        match kind {
            CERTIFICATE => {
                // A Certificate message cut by the byte bound still holds its
                // first certificate whole when the cut falls after it.
                let mut c = Cursor::new(body);
                let list_len = c.u24().ok_or(CertProblem::Cut)?;
                if list_len == 0 {
                    return Ok(None); // no certificate sent
                }
                let len = c.u24().ok_or(CertProblem::Cut)?;
                let der = c.take(len).ok_or(CertProblem::Cut)?;
                return x509::cert_info(der).map(Some).ok_or(CertProblem::Malformed);
            }
            SERVER_HELLO_DONE => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// The bodies of the handshake records at the start of `data`, in order, up
/// to the first record of another type; the last one may be cut short.
fn record_bodies(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    let mut left = MAX_RECORDS;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let len = handshake_record(rest)?;
        let body = rest.get(5..)?;
        let (body, tail) = body.split_at(len.min(body.len()));
        rest = tail;
        (!body.is_empty()).then_some(body)
    })
}

/// The handshake bytes of one direction: borrowed when they sit in one
/// record (the usual ClientHello), joined when messages span records.
fn handshake_bytes(data: &[u8]) -> Cow<'_, [u8]> {
    let mut bodies = record_bodies(data);
    let Some(first) = bodies.next() else {
        return Cow::Borrowed(&[]);
    };
    let Some(second) = bodies.next() else {
        return Cow::Borrowed(first);
    };
    let mut joined = Vec::with_capacity(data.len());
    joined.extend_from_slice(first);
    joined.extend_from_slice(second);
    for body in bodies {
        joined.extend_from_slice(body);
    }
    Cow::Owned(joined)
}

/// The handshake messages in `bytes`: type, body (what of it is there), and
/// whether the body is complete.
fn messages(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8], bool)> {
    let mut c = Cursor::new(bytes);
    let mut left = MAX_MESSAGES;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let kind = c.u8()?;
        let len = c.u24()?;
        let have = len.min(c.rest.len());
        let body = c.take(have)?;
        Some((kind, body, have == len))
    })
}

/// The extensions of a hello: (type, data) pairs. Each round consumes at
/// least four bytes, so the walk ends with the block.
fn extensions(block: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut c = Cursor::new(block);
    std::iter::from_fn(move || Some((c.u16()?, c.vec16()?)))
}

/// The block parses as extensions from end to end.
fn well_formed(block: &[u8]) -> bool {
    let mut c = Cursor::new(block);
    while !c.is_empty() {
        if c.u16().is_none() || c.vec16().is_none() {
            return false;
        }
    }
    true
}

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Big-endian u16 values of a list (a trailing odd byte is ignored).
fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]]))
}

/// Writes `values` in decimal, joined by `-` (JA3's list form).
fn push_dashed(s: &mut String, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{v}");
    }
}

/// How reports name a protocol version (as nDPI and Wireshark do).
fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSLv2".into(),
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        TLS13 => "TLSv1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

/// A parsed ClientHello: slices of its body.
struct ClientHello<'a> {
    version: u16,
    ciphers: &'a [u8],
    /// The extension block (empty when the hello has none), well-formed.
    extensions: &'a [u8],
}

impl<'a> ClientHello<'a> {
    /// A complete ClientHello body, or None when any part is malformed.
    fn parse(body: &'a [u8]) -> Option<ClientHello<'a>> {
        let mut c = Cursor::new(body);
        let version = c.u16()?;
        c.take(32)?; // random
        c.vec8()?; // session id
        let ciphers = c.vec16()?;
        c.vec8()?; // compression methods
        let extensions = if c.is_empty() { &[][..] } else { c.vec16()? };
        (ciphers.len() % 2 == 0 && well_formed(extensions)).then_some(ClientHello {
            version,
            ciphers,
            extensions,
        })
    }

    fn extension(&self, kind: u16) -> Option<&'a [u8]> {
        extensions(self.extensions)
            .find(|&(t, _)| t == kind)
            .map(|(_, d)| d)
    }

    /// A list extension's values: `vec16` of u16s (groups, signature
    /// algorithms), GREASE removed.
    fn list16(&self, kind: u16) -> impl Iterator<Item = u16> + 'a {
        let data = self
            .extension(kind)
            .and_then(|d| Cursor::new(d).vec16())
            .unwrap_or_default();
        u16s(data).filter(|v| !is_grease(*v))
    }

    fn ciphers(&self) -> impl Iterator<Item = u16> + 'a {
        u16s(self.ciphers).filter(|v| !is_grease(*v))
    }

    fn extension_types(&self) -> impl Iterator<Item = u16> + 'a {
        extensions(self.extensions)
            .map(|(t, _)| t)
            .filter(|v| !is_grease(*v))
    }

    /// The highest version in supported_versions (GREASE removed), else
    /// the hello's own version field.
    fn highest_version(&self) -> u16 {
        self.extension(EXT_SUPPORTED_VERSIONS)
            .and_then(|d| Cursor::new(d).vec8())
            .and_then(|list| u16s(list).filter(|v| !is_grease(*v)).max())
            .unwrap_or(self.version)
    }

    /// The first ALPN protocol name and the list, bounded.
    fn alpn(&self) -> (Option<&'a [u8]>, Vec<String>) {
        let mut first = None;
        let mut names = Vec::new();
        let list = self
            .extension(EXT_ALPN)
            .and_then(|d| Cursor::new(d).vec16())
            .unwrap_or_default();
        let mut c = Cursor::new(list);
        while names.len() < MAX_ALPN {
            let Some(name) = c.vec8() else { break };
            first.get_or_insert(name);
            names.push(bounded(name, MAX_FIELD));
        }
        (first, names)
    }

    /// The first host_name of the server_name extension.
    fn sni(&self) -> Option<String> {
        let list = Cursor::new(self.extension(EXT_SERVER_NAME)?).vec16()?;
        let mut c = Cursor::new(list);
        // Each round consumes at least three bytes of the list.
        while !c.is_empty() {
            let kind = c.u8()?;
            let name = c.vec16()?;
            if kind == 0 {
                return Some(bounded(name, MAX_FIELD));
            }
        }
        None
    }

    fn describe(&self, info: &mut TlsInfo) {
        info.sni = self.sni();
        let (first_alpn, alpn) = self.alpn();
        info.alpn = alpn;
        info.ja3 = Some(self.ja3());
        info.ja4 = Some(self.ja4(first_alpn));
    }

    /// Salesforce's JA3: version, ciphers, extensions, groups, point
    /// formats; decimal, GREASE removed; MD5.
    fn ja3(&self) -> String {
        let mut s = String::with_capacity(256);
        let _ = write!(s, "{},", self.version);
        push_dashed(&mut s, self.ciphers());
        s.push(',');
        push_dashed(&mut s, self.extension_types());
        s.push(',');
        push_dashed(&mut s, self.list16(EXT_SUPPORTED_GROUPS));
        s.push(',');
        let formats = self
            .extension(EXT_EC_POINT_FORMATS)
            .and_then(|d| Cursor::new(d).vec8())
            .unwrap_or_default();
        push_dashed(&mut s, formats.iter().map(|&f| u16::from(f)));
        hex(&Md5::digest(s.as_bytes()))
    }

    /// FoxIO's JA4 (technical_details/JA4.md): `t`, version, SNI or not,
    /// cipher and extension counts, first ALPN; then the truncated SHA-256
    /// of the sorted ciphers, and of the sorted extensions (less SNI and
    /// ALPN) with the signature algorithms in their order.
    fn ja4(&self, first_alpn: Option<&[u8]>) -> String {
        let version = match self.highest_version() {
            TLS13 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            _ => "00",
        };
        let sni = if self.extension(EXT_SERVER_NAME).is_some() {
            'd'
        } else {
            'i'
        };
        let mut ciphers: Vec<u16> = self.ciphers().collect();
        let mut exts: Vec<u16> = self.extension_types().collect();
        let (n_ciphers, n_exts) = (ciphers.len().min(99), exts.len().min(99));
        ciphers.sort_unstable();
        exts.retain(|&e| e != EXT_SERVER_NAME && e != EXT_ALPN);
        exts.sort_unstable();

        let mut a = String::with_capacity(40);
        let _ = write!(a, "t{version}{sni}{n_ciphers:02}{n_exts:02}");
        push_alpn(&mut a, first_alpn.unwrap_or_default());
        a.push('_');
        a.push_str(&truncated_sha256(&hex_list(&ciphers)));
        a.push('_');
        if exts.is_empty() {
            a.push_str(&truncated_sha256(""));
        } else {
            let mut c = hex_list(&exts);
            let sigs: Vec<u16> = self.list16(EXT_SIGNATURE_ALGORITHMS).collect();
            if !sigs.is_empty() {
                c.push('_');
                c.push_str(&hex_list(&sigs));
            }
            a.push_str(&truncated_sha256(&c));
        }
        a
    }
}

/// JA4's ALPN part: first and last character of the first protocol when
/// both are alphanumeric, else first and last digit of its hex form; `00`
/// when there is none.
fn push_alpn(s: &mut String, alpn: &[u8]) {
    match (alpn.first(), alpn.last()) {
        (Some(&f), Some(&l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            s.push(char::from(f));
            s.push(char::from(l));
        }
        (Some(&f), Some(&l)) => {
            let (f, l) = (hex(&[f]), hex(&[l]));
            s.push_str(&f[..1]);
            s.push_str(&l[1..]);
        }
        _ => s.push_str("00"),
    }
}

/// Four-digit lower-case hex values joined by commas.
fn hex_list(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

/// The first 12 hex digits of SHA-256, or twelve zeros for an empty list
/// (JA4's way of showing that a list had nothing in it).
fn truncated_sha256(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    hex(&Sha256::digest(s.as_bytes())[..6])
}

/// A parsed ServerHello.
struct ServerHello<'a> {
    version: u16,
    cipher: u16,
    extensions: &'a [u8],
}

impl<'a> ServerHello<'a> {
    fn parse(body: &'a [u8]) -> Option<ServerHello<'a>> {
        let mut c = Cursor::new(body);
        let version = c.u16()?;
        c.take(32)?; // random
        c.vec8()?; // session id
        let cipher = c.u16()?;
        c.u8()?; // compression method
        let extensions = if c.is_empty() { &[][..] } else { c.vec16()? };
        well_formed(extensions).then_some(ServerHello {
            version,
            cipher,
            extensions,
        })
    }

    /// supported_versions' choice (TLS 1.3), else the version field.
    fn selected_version(&self) -> u16 {
        extensions(self.extensions)
            .find(|&(t, _)| t == EXT_SUPPORTED_VERSIONS)
            .and_then(|(_, d)| Cursor::new(d).u16())
            .unwrap_or(self.version)
    }

    /// JA3S: version, cipher, extensions; decimal; MD5.
    fn ja3s(&self) -> String {
        let mut s = String::with_capacity(64);
        let _ = write!(s, "{},{},", self.version, self.cipher);
        push_dashed(
            &mut s,
            extensions(self.extensions)
                .map(|(t, _)| t)
                .filter(|v| !is_grease(*v)),
        );
        hex(&Md5::digest(s.as_bytes()))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A handshake record holding one message of type `kind`.
    pub(in super::super) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut msg = vec![kind];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(body);
        let mut r = vec![CONTENT_HANDSHAKE, 3, 1];
        r.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        r.extend_from_slice(&msg);
        r
    }

    fn ext(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut e = kind.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u16).to_be_bytes());
        e.extend_from_slice(data);
        e
    }

    fn vec16(data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(data);
        v
    }

    /// A ClientHello body with the given ciphers and extensions.
    pub(in super::super) fn client_hello(ciphers: &[u16], exts: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        let cs: Vec<u8> = ciphers.iter().flat_map(|c| c.to_be_bytes()).collect();
        b.extend_from_slice(&vec16(&cs));
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&vec16(&exts.concat()));
        b
    }

    /// A ClientHello as a browser would send it, with GREASE.
    pub(in super::super) fn browser_hello() -> Vec<u8> {
        let sni = {
            let name = b"example.com";
            let mut entry = vec![0];
            entry.extend_from_slice(&vec16(name));
            vec16(&entry)
        };
        let alpn = vec16(b"\x02h2\x08http/1.1");
        let groups = vec16(&[0x3a, 0x3a, 0x00, 0x1d, 0x00, 0x17]);
        let sigs = vec16(&[0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
        let versions = [6, 0x2a, 0x2a, 0x03, 0x04, 0x03, 0x03];
        client_hello(
            &[0x0a0a, 0x1301, 0x1302, 0xc02b, 0x002f],
            &[
                ext(0x1a1a, &[]),
                ext(EXT_SERVER_NAME, &sni),
                ext(EXT_SUPPORTED_GROUPS, &groups),
                ext(EXT_EC_POINT_FORMATS, &[1, 0]),
                ext(EXT_SIGNATURE_ALGORITHMS, &sigs),
                ext(EXT_ALPN, &alpn),
                ext(EXT_SUPPORTED_VERSIONS, &versions),
            ],
        )
    }

    /// A ServerHello body.
    pub(in super::super) fn server_hello(version: u16, cipher: u16, exts: &[Vec<u8>]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[9; 32]);
        b.push(0);
        b.extend_from_slice(&cipher.to_be_bytes());
        b.push(0);
        if !exts.is_empty() {
            b.extend_from_slice(&vec16(&exts.concat()));
        }
        b
    }

    fn md5_of(s: &str) -> String {
        hex(&Md5::digest(s.as_bytes()))
    }

    #[test]
    fn client_hello_fields_and_fingerprints() {
        let client = record(CLIENT_HELLO, &browser_hello());
        let info = inspect(&client, b"").unwrap();
        assert_eq!(info.sni.as_deref(), Some("example.com"));
        assert_eq!(info.alpn, ["h2", "http/1.1"]);
        assert_eq!(info.version.as_deref(), Some("TLSv1.3"));
        // GREASE is gone from ciphers, extensions and groups.
        assert_eq!(
            info.ja3,
            Some(md5_of("771,4865-4866-49195-47,0-10-11-13-16-43,29-23,0"))
        );
        let b = truncated_sha256("002f,1301,1302,c02b");
        let c = truncated_sha256("000a,000b,000d,002b_0403,0804,0401");
        assert_eq!(info.ja4, Some(format!("t13d0406h2_{b}_{c}")));
        assert_eq!(info.ja3s, None);
    }

    #[test]
    fn ja4_spec_example_hashes() {
        // The worked example of FoxIO's JA4 specification.
        assert_eq!(
            truncated_sha256(
                "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
            ),
            "8daaf6152771"
        );
        assert_eq!(
            truncated_sha256(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
    }

    #[test]
    fn ja4_alpn_characters() {
        let alpn = |v: &[u8]| {
            let mut s = String::new();
            push_alpn(&mut s, v);
            s
        };
        assert_eq!(alpn(b"h2"), "h2");
        assert_eq!(alpn(b"http/1.1"), "h1");
        assert_eq!(alpn(b"x"), "xx");
        assert_eq!(alpn(b""), "00");
        assert_eq!(alpn(&[0xab]), "ab");
        assert_eq!(alpn(&[0xab, 0xcd]), "ad");
        assert_eq!(alpn(&[0x30, 0xab]), "3b");
        assert_eq!(alpn(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(alpn(&[0x30, 0xab, 0xcd, 0x31]), "01");
    }

    #[test]
    fn server_hello_ja3s_and_version() {
        let body = server_hello(0x0303, 0x1301, &[ext(EXT_SUPPORTED_VERSIONS, &[3, 4])]);
        let info = inspect(b"", &record(SERVER_HELLO, &body)).unwrap();
        assert_eq!(info.version.as_deref(), Some("TLSv1.3"));
        assert_eq!(info.ja3s, Some(md5_of("771,4865,43")));
        assert_eq!(info.cert, None);
        let old = server_hello(0x0301, 0x002f, &[]);
        let info = inspect(b"", &record(SERVER_HELLO, &old)).unwrap();
        assert_eq!(info.version.as_deref(), Some("TLSv1"));
        assert_eq!(info.ja3s, Some(md5_of("769,47,")));
    }

    #[test]
    fn hello_split_over_records_and_cut() {
        let whole = record(CLIENT_HELLO, &browser_hello());
        let msg = &whole[5..];
        let mut split = Vec::new();
        for part in msg.chunks(40) {
            split.extend_from_slice(&[CONTENT_HANDSHAKE, 3, 1]);
            split.extend_from_slice(&(part.len() as u16).to_be_bytes());
            split.extend_from_slice(part);
        }
        let a = inspect(&whole, b"").unwrap();
        let b = inspect(&split, b"").unwrap();
        assert_eq!(a, b);
        // Cut by the byte bound: still TLS, no fingerprints.
        let cut = inspect(&whole[..whole.len() - 3], b"").unwrap();
        assert_eq!((cut.ja3, cut.ja4, cut.sni), (None, None, None));
    }

    #[test]
    fn not_tls() {
        assert_eq!(inspect(b"GET / HTTP/1.1\r\n", b""), None);
        // A handshake record that is not a hello on the expected side.
        assert_eq!(inspect(&record(SERVER_HELLO, &[0; 40]), b""), None);
        assert_eq!(inspect(&[22, 3, 1, 0, 0, 1], b""), None);
        assert_eq!(inspect(&[22, 3, 1, 0xff, 0xff, 1], b""), None);
    }

    #[test]
    fn sslv2_hello() {
        // SSL 2.0 record: 3 cipher specs, no session id, 16-byte challenge.
        let mut b = vec![0x80, 9 + 9 + 16, CLIENT_HELLO, 3, 1, 0, 9, 0, 0, 0, 16];
        b.extend_from_slice(&[0; 9 + 16]);
        let info = inspect(&b, b"").unwrap();
        assert_eq!(info.version.as_deref(), Some("TLSv1"));
        assert_eq!(info.ja3, None);
        b[1] += 1;
        assert_eq!(inspect(&b, b""), None);
    }
}
