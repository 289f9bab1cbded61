//! Zeek's `conn.log`, in the two forms Zeek writes it: the ASCII (TSV) log
//! with its `#` header lines, and JSON, one object per line.
//!
//! Why: RITA, Security Onion, Brim/Zui, zeek-cut and many a hunter's
//! scripts read conn.log and nothing else; a capture run through portent
//! can feed them without running Zeek. Rows carry the `community_id` field
//! that Zeek's community-id package appends, so they join with Suricata's
//! and Arkime's records of the same connections.
//!
//! Written by hand: the format is a header and one line per connection
//! (no crate writes it), and what makes a reader accept it is detail Zeek's
//! own writers fix: field order and types, `-` for unset and `(empty)` for
//! empty values, six decimals for times and intervals in ASCII, unset
//! fields left out and doubles as numbers in JSON. The rules are those of
//! Zeek's `threading/formatters/Ascii.cc` and `JSON.cc`.
//!
//! What a row is, and what differs from Zeek's (README, *Output formats*):
//! one row per connection attempt seen in packets or flow records (never a
//! Sysmon-only one), in time order; `uid` deterministic, not random;
//! `#open` and `#close` from the first connection's start and the last
//! one's end (UTC), not the wall clock.

use std::io::{self, Write};
use std::net::IpAddr;

use ipnet::IpNet;
use sha1::{Digest, Sha1};

use crate::event::community_id::CommunityId;
use crate::event::{Attempt, ConnInfo};
use crate::findings::Analysis;
use crate::service::Service;
use crate::time::Ts;

/// conn.log's fields and their Zeek types, in Zeek's order (Zeek 7's
/// `Conn::Info`), and the community-id package's field after them.
pub const FIELDS: [(&str, &str); 23] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("ip_proto", "count"),
    ("community_id", "string"),
];

/// Zeek's `Site::private_address_space` (`base/utils/site.zeek`), which
/// Zeek adds to `Site::local_nets` by default
/// (`Site::private_address_space_is_local`): what makes `local_orig` and
/// `local_resp` true, with `--home-net` and the policy's home networks.
const ZEEK_PRIVATE: [&str; 37] = [
    "0.0.0.0/8",
    "2002::/24",
    "10.0.0.0/8",
    "2002:a00::/24",
    "100.64.0.0/10",
    "2002:6440::/26",
    "127.0.0.0/8",
    "2002:7f00::/24",
    "169.254.0.0/16",
    "2002:a9fe::/32",
    "172.16.0.0/12",
    "2002:ac10::/28",
    "192.0.0.0/24",
    "2002:c000::/40",
    "192.0.2.0/24",
    "2002:c000:200::/40",
    "192.168.0.0/16",
    "2002:c0a8::/32",
    "198.18.0.0/15",
    "2002:c612::/31",
    "198.51.100.0/24",
    "2002:c633:6400::/40",
    "203.0.113.0/24",
    "2002:cb00:7100::/40",
    "240.0.0.0/4",
    "2002:f000::/20",
    "255.255.255.255/32",
    "2002:ffff:ffff::/48",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:2::/48",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
];

/// The networks Zeek would call local: its private address space and the
/// run's home networks.
fn local_nets(home: &[IpNet]) -> Vec<IpNet> {
    let mut v: Vec<IpNet> = ZEEK_PRIVATE.iter().filter_map(|s| s.parse().ok()).collect();
    v.extend(home.iter().copied());
    v
}

/// The service in Zeek's words: Zeek names TLS `ssl` and VNC's protocol
/// `rfb`; the others are the same. `None` (unset) for payload that
/// matched nothing, as Zeek leaves a connection no analyzer confirmed.
pub fn zeek_service(s: Service) -> Option<&'static str> {
    Some(match s {
        Service::Tls => "ssl",
        Service::Vnc => "rfb",
        Service::Unknown => return None,
        other => other.name(),
    })
}

/// Zeek's history letters of a connection (unset when it has none).
fn history(c: &ConnInfo) -> Option<&str> {
    Some(c.history.as_str()).filter(|h| !h.is_empty())
}

/// Bytes the capture missed (gaps in the sequence space).
fn missed_bytes(c: &ConnInfo) -> u64 {
    c.missed_bytes
}

/// A deterministic stand-in for Zeek's random connection uid: `C` and 17
/// base62 digits of 96 bits of SHA-1 over the Community ID, the first
/// SYN's time, the input's name and the frame number, so the same
/// attempt gets the same uid in every run, whatever else is read with it.
fn uid(cid: &CommunityId, ts: Ts, input: &str, frame: u64) -> [u8; 18] {
    let mut h = Sha1::new();
    h.update(cid.as_str());
    h.update(ts.0.to_be_bytes());
    h.update(input);
    h.update(frame.to_be_bytes());
    let d = h.finalize();
    let mut n = d[..12].iter().fold(0u128, |n, &b| n << 8 | u128::from(b));
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = [b'C'; 18];
    for o in out[1..].iter_mut().rev() {
        *o = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// One value of a row, typed as Zeek types it.
enum Val<'a> {
    Unset,
    /// A `time`, in microseconds since the epoch (Zeek reads packet times
    /// to the microsecond).
    Time(i64),
    /// An `interval` from one time to another, both in microseconds:
    /// ASCII writes the difference, JSON the difference of the two as
    /// Zeek's doubles (as Zeek computes it).
    Interval(i64, i64),
    Str(&'a str),
    /// A `string` of two parts joined by a comma (a service and the one
    /// it upgraded to).
    Str2(&'a str, &'a str),
    Addr(IpAddr),
    Port(u16),
    Count(u64),
    Bool(bool),
}

/// Microseconds as Zeek's double of seconds (`tv_sec + tv_usec / 1e6`).
fn zeek_double(us: i64) -> f64 {
    us.div_euclid(1_000_000) as f64 + us.rem_euclid(1_000_000) as f64 / 1e6
}

/// `secs.micros`, as `%.6f` writes a time or interval Zeek holds to the
/// microsecond.
fn write_micros(w: &mut dyn Write, us: i64) -> io::Result<()> {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    write!(w, "{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

/// A double as Zeek's JSON writer (rapidjson) writes it: the shortest
/// digits that read back to it, with `.0` on whole numbers; `null` for NaN
/// and infinities.
fn write_json_double(w: &mut dyn Write, x: f64) -> io::Result<()> {
    if !x.is_finite() {
        return w.write_all(b"null");
    }
    let s = x.to_string();
    w.write_all(s.as_bytes())?;
    if !s.contains('.') {
        w.write_all(b".0")?;
    }
    Ok(())
}

/// A string as the ASCII writer escapes it: `(empty)` when empty, `\x2d`
/// for a lone `-` (so it is not read as unset), and bytes that would break
/// the line or the columns (controls, backslash, non-ASCII) as `\xNN`.
fn write_ascii_str(w: &mut dyn Write, s: &str) -> io::Result<()> {
    if s.is_empty() {
        return w.write_all(b"(empty)");
    }
    if s == "-" {
        return w.write_all(b"\\x2d");
    }
    if s == "(empty)" {
        return w.write_all(b"\\x28empty)");
    }
    let plain = |b: u8| b.is_ascii_graphic() && b != b'\\' || b == b' ';
    if s.bytes().all(plain) {
        return w.write_all(s.as_bytes());
    }
    for b in s.bytes() {
        if plain(b) {
            w.write_all(&[b])?;
        } else {
            write!(w, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

fn write_ascii(w: &mut dyn Write, v: &Val<'_>) -> io::Result<()> {
    match v {
        Val::Unset => w.write_all(b"-"),
        Val::Time(us) => write_micros(w, *us),
        Val::Interval(from, to) => write_micros(w, to - from),
        Val::Str(s) => write_ascii_str(w, s),
        Val::Str2(a, b) => {
            write_ascii_str(w, a)?;
            w.write_all(b",")?;
            write_ascii_str(w, b)
        }
        Val::Addr(a) => write!(w, "{a}"),
        Val::Port(p) => write!(w, "{p}"),
        Val::Count(n) => write!(w, "{n}"),
        Val::Bool(b) => w.write_all(if *b { b"T" } else { b"F" }),
    }
}

fn write_json(w: &mut dyn Write, v: &Val<'_>) -> io::Result<()> {
    match v {
        Val::Unset => w.write_all(b"null"),
        Val::Time(us) => write_json_double(w, zeek_double(*us)),
        Val::Interval(from, to) => write_json_double(w, zeek_double(*to) - zeek_double(*from)),
        Val::Str(s) => serde_json::to_writer(&mut *w, s).map_err(io::Error::from),
        Val::Str2(a, b) => {
            serde_json::to_writer(&mut *w, &format!("{a},{b}")).map_err(io::Error::from)
        }
        Val::Addr(a) => write!(w, "\"{a}\""),
        Val::Port(p) => write!(w, "{p}"),
        Val::Count(n) => write!(w, "{n}"),
        Val::Bool(b) => w.write_all(if *b { b"true" } else { b"false" }),
    }
}

/// Whether an attempt belongs in a conn.log: seen on the wire, in packets
/// or in a flow record. An attempt only a Sysmon log reported is the
/// host's word, not the network's.
fn on_the_wire(at: &Attempt) -> bool {
    let sysmon_only = at
        .process
        .as_ref()
        .is_some_and(|p| p.rule == Some(crate::analysis::join::RULE_SYSMON));
    !sysmon_only || at.flow.is_some() || at.conn.is_some()
}

/// The time span of an attempt's connection in microseconds: from its
/// first SYN to its last packet (to the end of the flow record).
fn span_us(at: &Attempt) -> (i64, Option<i64>) {
    let us = |t: Ts| t.0.div_euclid(1000);
    let end = if let Some(c) = &at.conn {
        Some(us(Ts(at.ts.0.saturating_add(c.duration.0))))
    } else {
        at.flow.as_ref().map(|f| {
            let ms = i64::try_from(f.duration_ms).unwrap_or(i64::MAX);
            us(Ts(at.ts.0.saturating_add(ms.saturating_mul(1_000_000))))
        })
    };
    (us(at.ts), end)
}

/// Writes every row, each as its [`FIELDS`] values to `row`.
fn rows(a: &Analysis, mut row: impl FnMut(&[Val<'_>; 23]) -> io::Result<()>) -> io::Result<()> {
    let local = local_nets(&a.home_net);
    let is_local = |ip: IpAddr| local.iter().any(|n| n.contains(&ip));
    for at in a.attempts.iter().filter(|at| on_the_wire(at)) {
        let t = &at.tuple;
        let cid = t.community_id();
        let input = &a.inputs[at.origin.input as usize].input;
        let uid = uid(&cid, at.ts, input, at.origin.frame);
        let uid = std::str::from_utf8(&uid).unwrap_or_default();
        let (start, end) = span_us(at);
        let count = |n: Option<u64>| n.map_or(Val::Unset, Val::Count);
        let c = at.conn.as_deref();
        let f = at.flow.as_deref();
        let content = c.and_then(|c| c.content.as_deref());
        let service = match (
            content.and_then(|x| x.service).and_then(zeek_service),
            content.and_then(|x| x.upgraded_to).and_then(zeek_service),
        ) {
            (Some(s), Some(u)) if s != u => Val::Str2(s, u),
            (Some(s), _) | (None, Some(s)) => Val::Str(s),
            (None, None) => Val::Unset,
        };
        row(&[
            Val::Time(start),
            Val::Str(uid),
            Val::Addr(t.src),
            Val::Port(t.sport),
            Val::Addr(t.dst),
            Val::Port(t.dport),
            Val::Str(t.proto.as_str()),
            service,
            end.map_or(Val::Unset, |e| Val::Interval(start, e)),
            count(c.map(|c| c.orig_bytes)),
            count(c.map(|c| c.resp_bytes)),
            c.map_or(Val::Unset, |c| Val::Str(c.state)),
            Val::Bool(is_local(t.src)),
            Val::Bool(is_local(t.dst)),
            count(c.map(missed_bytes)),
            c.and_then(history).map_or(Val::Unset, Val::Str),
            count(c.map(|c| c.orig_pkts).or(f.map(|f| f.packets))),
            count(c.map(|c| c.orig_ip_bytes).or(f.map(|f| f.bytes))),
            count(c.map(|c| c.resp_pkts)),
            count(c.map(|c| c.resp_ip_bytes)),
            Val::Unset,
            Val::Count(u64::from(t.proto.number())),
            Val::Str(cid.as_str()),
        ])?;
    }
    Ok(())
}

/// `YYYY-MM-DD-HH-MM-SS`, as Zeek stamps `#open` and `#close`, in UTC.
fn write_stamp(w: &mut dyn Write, us: i64) -> io::Result<()> {
    let secs = us.div_euclid(1_000_000);
    let (y, m, d) = crate::time::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    write!(
        w,
        "{y:04}-{m:02}-{d:02}-{:02}-{:02}-{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// The ASCII log: Zeek's header, a line per row, `#close`.
pub fn ascii(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    let on_wire = || a.attempts.iter().filter(|at| on_the_wire(at)).map(span_us);
    let open = on_wire().map(|(s, _)| s).min().unwrap_or(0);
    let close = on_wire().map(|(s, e)| e.unwrap_or(s)).max().unwrap_or(0);
    w.write_all(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t")?;
    write_stamp(w, open)?;
    w.write_all(b"\n#fields")?;
    for (name, _) in FIELDS {
        write!(w, "\t{name}")?;
    }
    w.write_all(b"\n#types")?;
    for (_, ty) in FIELDS {
        write!(w, "\t{ty}")?;
    }
    w.write_all(b"\n")?;
    rows(a, |vals| {
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                w.write_all(b"\t")?;
            }
            write_ascii(w, v)?;
        }
        w.write_all(b"\n")
    })?;
    w.write_all(b"#close\t")?;
    write_stamp(w, close)?;
    w.write_all(b"\n")
}

/// The JSON log: an object per row, keys in field order, unset fields
/// left out.
pub fn json(w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    rows(a, |vals| {
        w.write_all(b"{")?;
        let mut first = true;
        for ((name, _), v) in FIELDS.iter().zip(vals) {
            if matches!(v, Val::Unset) {
                continue;
            }
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            write!(w, "\"{name}\":")?;
            write_json(w, v)?;
        }
        w.write_all(b"}\n")
    })
}

/// What `scan` gets for a Zeek format: a conn.log lists connections, not
/// findings (the command line refuses the pair before this).
fn not_findings() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the Zeek formats write a conn.log, a list of connections: use them with `portent conns`",
    )
}

/// Zeek's ASCII conn.log.
pub struct Zeek;

impl super::Report for Zeek {
    fn findings(&self, _: &mut dyn Write, _: &Analysis) -> io::Result<()> {
        Err(not_findings())
    }

    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        ascii(w, a)
    }
}

/// Zeek's JSON conn.log.
pub struct ZeekJson;

impl super::Report for ZeekJson {
    fn findings(&self, _: &mut dyn Write, _: &Analysis) -> io::Result<()> {
        Err(not_findings())
    }

    fn attempts(&self, w: &mut dyn Write, a: &Analysis) -> io::Result<()> {
        json(w, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_zeek_writes_them() {
        let mut v = Vec::new();
        write_micros(&mut v, 1_300_475_167_096_535).unwrap();
        assert_eq!(v, b"1300475167.096535");
        v.clear();
        write_micros(&mut v, 72).unwrap();
        assert_eq!(v, b"0.000072");
        v.clear();
        write_json_double(&mut v, zeek_double(1_300_475_167_096_535)).unwrap();
        assert_eq!(v, b"1300475167.096535");
        v.clear();
        write_json_double(&mut v, 0.0).unwrap();
        assert_eq!(v, b"0.0");
        v.clear();
        write_stamp(&mut v, 1_300_475_167_096_535).unwrap();
        assert_eq!(v, b"2011-03-18-19-06-07");
    }

    #[test]
    fn strings_that_would_read_as_something_else_are_escaped() {
        let s = |x: &str| {
            let mut v = Vec::new();
            write_ascii_str(&mut v, x).unwrap();
            String::from_utf8(v).unwrap()
        };
        assert_eq!(s(""), "(empty)");
        assert_eq!(s("-"), "\\x2d");
        assert_eq!(s("a\tb\n"), "a\\x09b\\x0a");
        assert_eq!(s("ssl"), "ssl");
    }

    #[test]
    fn uids_look_like_zeeks_and_differ() {
        let cid = crate::event::FiveTuple::tcp(
            "10.0.0.1".parse().unwrap(),
            40000,
            "192.0.2.1".parse().unwrap(),
            443,
        )
        .community_id();
        let a = uid(&cid, Ts(1), "x.pcap", 1);
        let b = uid(&cid, Ts(1), "x.pcap", 2);
        assert_ne!(a, b);
        assert_eq!(a, uid(&cid, Ts(1), "x.pcap", 1));
        assert_eq!(a[0], b'C');
        assert!(a[1..].iter().all(u8::is_ascii_alphanumeric));
    }

    #[test]
    fn zeeks_private_space_parses() {
        assert_eq!(local_nets(&[]).len(), ZEEK_PRIVATE.len());
    }
}
