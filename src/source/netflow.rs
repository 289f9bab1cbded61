//! The NetFlow v5/v9 and IPFIX wire formats (RFC 3954, RFC 7011): message
//! headers, sets, templates and data records, read in place.
//!
//! Written by hand rather than with netflow_parser (which the tests keep as
//! an oracle) for two reasons found on real exports. Speed: netflow_parser
//! builds a vector of typed values per record, so decoding alone stayed
//! near 2 million records per second and the whole scan well under it;
//! here a template is compiled once into the byte offsets of the few
//! fields portent reads, and a record costs a handful of loads. And
//! robustness: netflow_parser stops a v9 datagram after `count` flowsets,
//! while exporters disagree on what `count` counts (softflowd counts data
//! records only), so a datagram's data set after its templates was lost;
//! here, as in nfdump, the sets are read to the end of the datagram.
//!
//! Nothing here allocates per record; templates are the only state, and
//! the caller (`flow.rs`) bounds how many it keeps.

use std::fmt;

/// IANA private enterprise number of RFC 5103 reverse information elements.
pub const REVERSE_PEN: u32 = 29305;

/// Fields in one template; more is a template that contradicts itself (a
/// record cannot hold them in a 65535-byte message).
pub const MAX_TEMPLATE_FIELDS: usize = 512;

/// What went wrong where: `at` is the byte offset in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub at: usize,
    pub what: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {} of the message: {}", self.at, self.what)
    }
}

fn err<T>(at: usize, what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError {
        at,
        what: what.into(),
    })
}

/// An information element: IANA (NetFlow v9 shares the numbers portent
/// reads), RFC 5103 reverse, or another enterprise's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Iana(u16),
    Reverse(u16),
    Other,
}

impl Field {
    fn new(id: u16, pen: u32) -> Field {
        match pen {
            0 => Field::Iana(id),
            REVERSE_PEN => Field::Reverse(id),
            _ => Field::Other,
        }
    }
}

/// The header of a v9 or IPFIX message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    /// Export time, seconds since the Unix epoch.
    pub unix_secs: u32,
    /// NetFlow v9: the exporter's uptime at export, ms.
    pub sys_up_time_ms: Option<u32>,
    /// v9 source ID or IPFIX observation domain.
    pub domain: u32,
    /// NetFlow v9: the records (templates, options templates and data)
    /// the header says the message holds; IPFIX has no such count.
    pub count: Option<u16>,
    /// Where the sets start and end in the message.
    pub body: (usize, usize),
}

/// Reads a v9 or IPFIX header. An IPFIX message longer than its datagram is
/// an error; bytes after an IPFIX message's length are ignored.
pub fn header(msg: &[u8]) -> Result<Header, WireError> {
    match be16(msg, 0) {
        Some(9) => {
            if msg.len() < 20 {
                return err(
                    0,
                    format!("NetFlow v9 header cut short ({} bytes)", msg.len()),
                );
            }
            Ok(Header {
                version: 9,
                unix_secs: be32(msg, 8).unwrap_or(0),
                sys_up_time_ms: be32(msg, 4),
                domain: be32(msg, 16).unwrap_or(0),
                count: be16(msg, 2),
                body: (20, msg.len()),
            })
        }
        Some(10) => {
            if msg.len() < 16 {
                return err(0, format!("IPFIX header cut short ({} bytes)", msg.len()));
            }
            let len = usize::from(be16(msg, 2).unwrap_or(0));
            if len < 16 {
                return err(
                    2,
                    format!("IPFIX message length {len} is shorter than its header"),
                );
            }
            if len > msg.len() {
                return err(
                    2,
                    format!(
                        "IPFIX message length {len} runs past the datagram ({} bytes)",
                        msg.len()
                    ),
                );
            }
            Ok(Header {
                version: 10,
                unix_secs: be32(msg, 4).unwrap_or(0),
                sys_up_time_ms: None,
                domain: be32(msg, 12).unwrap_or(0),
                count: None,
                body: (16, len),
            })
        }
        Some(v) => err(0, format!("version {v} is not NetFlow v9 or IPFIX")),
        None => err(0, "message cut short"),
    }
}

/// One set of a message: its ID, where its contents start, and them.
#[derive(Clone, Copy, Debug)]
pub struct Set<'a> {
    pub id: u16,
    pub at: usize,
    pub body: &'a [u8],
}

/// The sets of a message body, to its end. Fewer than 4 bytes left is
/// padding; a set whose length is impossible ends the walk with an error.
pub fn sets<'a>(
    msg: &'a [u8],
    h: &Header,
) -> impl Iterator<Item = Result<Set<'a>, WireError>> + 'a {
    let (mut at, end) = h.body;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || end - at < 4 {
            return None;
        }
        let id = be16(msg, at)?;
        let len = usize::from(be16(msg, at + 2)?);
        // Exporters that pad datagrams to a fixed size fill the rest with
        // zeros (Cisco ACI, Palo Alto): that is padding, not a set.
        if len == 0 && msg[at..end].iter().all(|&b| b == 0) {
            return None;
        }
        if len < 4 || at + len > end {
            failed = true;
            return Some(err(
                at + 2,
                format!(
                    "set {id} claims {len} bytes, {} are left in the message",
                    end - at
                ),
            ));
        }
        let s = Set {
            id,
            at: at + 4,
            body: &msg[at + 4..at + len],
        };
        at += len;
        Some(Ok(s))
    })
}

/// Length of a variable-length field in a template (RFC 7011 §7).
pub const VARIABLE: u16 = 0xffff;

/// A template: the fields of its records, and the offsets of the ones
/// portent reads when every field has a fixed length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// (element, length) in record order; length [`VARIABLE`] for
    /// variable-length fields.
    pub fields: Box<[(Field, u16)]>,
    /// Options template: how many leading fields are scope fields.
    pub scope_fields: u16,
    /// Bytes of the shortest record (a variable-length field takes at least
    /// one).
    pub min_len: usize,
    /// For templates without variable-length fields: (offset, length,
    /// element) of each field `wanted` said yes to, so a record is read
    /// without walking the others.
    pub reads: Option<Box<[(usize, u16, Field)]>>,
}

impl Template {
    fn new(fields: Vec<(Field, u16)>, scope_fields: u16, wanted: fn(Field) -> bool) -> Self {
        let min_len = fields
            .iter()
            .map(|&(_, l)| if l == VARIABLE { 1 } else { usize::from(l) })
            .sum();
        let reads = fields.iter().all(|&(_, l)| l != VARIABLE).then(|| {
            let mut off = 0;
            let mut r = Vec::new();
            for &(f, l) in &fields {
                if wanted(f) {
                    r.push((off, l, f));
                }
                off += usize::from(l);
            }
            r.into_boxed_slice()
        });
        Template {
            fields: fields.into_boxed_slice(),
            scope_fields,
            min_len,
            reads,
        }
    }

    /// Reads every record of a data set into `out` (one `R::default()`
    /// per record, filled by `take(record, element, value)`; only the
    /// wanted elements for fixed-length templates). A record cut short by
    /// the end of the set is an error (the records before it stay in
    /// `out`); fewer bytes left than the shortest record are padding.
    pub fn records<R: Default>(
        &self,
        set: &Set<'_>,
        out: &mut Vec<R>,
        mut take: impl FnMut(&mut R, Field, &[u8]),
    ) -> Result<(), WireError> {
        let d = set.body;
        if self.min_len == 0 {
            return err(set.at, "template with records of zero bytes");
        }
        if let Some(reads) = &self.reads {
            // Filled where it lies in `out`: a record is a few hundred
            // bytes, and building it aside meant copying each one.
            out.reserve(d.len() / self.min_len);
            for rec in d.chunks_exact(self.min_len) {
                out.push(R::default());
                let r = out.last_mut().expect("just pushed");
                for &(off, len, f) in reads.iter() {
                    take(r, f, &rec[off..off + usize::from(len)]);
                }
            }
            return Ok(());
        }
        let mut at = 0;
        let mut n = 0;
        while d.len() - at >= self.min_len {
            let mut r = R::default();
            for &(f, len) in self.fields.iter() {
                let len = if len == VARIABLE {
                    let Some(&first) = d.get(at) else {
                        return err(set.at + at, "variable-length field cut short");
                    };
                    at += 1;
                    if first == 255 {
                        let Some(l) = be16(d, at) else {
                            return err(set.at + at, "variable-length field cut short");
                        };
                        at += 2;
                        usize::from(l)
                    } else {
                        usize::from(first)
                    }
                } else {
                    usize::from(len)
                };
                let Some(v) = d.get(at..at + len) else {
                    return err(
                        set.at + at,
                        format!(
                            "record {} is longer than its set ({len}-byte field, {} bytes left)",
                            n + 1,
                            d.len() - at
                        ),
                    );
                };
                take(&mut r, f, v);
                at += len;
            }
            out.push(r);
            n += 1;
        }
        Ok(())
    }
}

/// What a template set defines.
#[derive(Debug, PartialEq, Eq)]
pub enum TemplateDef {
    Define(u16, Template),
    /// IPFIX template withdrawal (a template with no fields); ID 2 or 3
    /// withdraws all templates of that kind.
    Withdraw(u16),
}

/// Reads a template set (v9 set 0 and 1, IPFIX set 2 and 3). `wanted` says
/// which elements the reader will look at.
pub fn templates(
    version: u16,
    set: &Set<'_>,
    wanted: fn(Field) -> bool,
    out: &mut Vec<TemplateDef>,
) -> Result<(), WireError> {
    let d = set.body;
    let options = matches!((version, set.id), (9, 1) | (10, 3));
    let mut at = 0;
    // A v9 options template set and an IPFIX set may end with padding.
    while d.len() - at >= 4 {
        let start = at;
        let id = be16(d, at).unwrap_or(0);
        if version == 9 && options {
            let (Some(scope_len), Some(opt_len)) = (be16(d, at + 2), be16(d, at + 4)) else {
                return err(set.at + at, "options template header cut short");
            };
            at += 6;
            let (scope_len, opt_len) = (usize::from(scope_len), usize::from(opt_len));
            if scope_len % 4 != 0 || opt_len % 4 != 0 {
                return err(
                    set.at + start,
                    format!("options template {id}: scope length {scope_len} or option length {opt_len} is not a multiple of 4"),
                );
            }
            let n = (scope_len + opt_len) / 4;
            let fields = field_list(d, &mut at, n, false, set.at, id)?;
            check_id(id, set.at + start)?;
            out.push(TemplateDef::Define(
                id,
                Template::new(fields, (scope_len / 4) as u16, wanted),
            ));
            // Padding after the one options template of a v9 set.
            if d.len() - at < 6 {
                break;
            }
            continue;
        }
        let count = usize::from(be16(d, at + 2).unwrap_or(0));
        at += 4;
        let mut scope = 0;
        if options && version == 10 {
            if count == 0 {
                out.push(TemplateDef::Withdraw(id));
                continue;
            }
            let Some(s) = be16(d, at) else {
                return err(set.at + at, "options template header cut short");
            };
            at += 2;
            if s == 0 || usize::from(s) > count {
                return err(
                    set.at + start,
                    format!("options template {id}: {s} scope fields of {count}"),
                );
            }
            scope = s;
        }
        if count == 0 {
            if version == 10 {
                out.push(TemplateDef::Withdraw(id));
                continue;
            }
            return err(set.at + start, format!("template {id} has no fields"));
        }
        let fields = field_list(d, &mut at, count, version == 10, set.at, id)?;
        check_id(id, set.at + start)?;
        out.push(TemplateDef::Define(
            id,
            Template::new(fields, scope, wanted),
        ));
    }
    Ok(())
}

fn check_id(id: u16, at: usize) -> Result<(), WireError> {
    if id < 256 {
        return err(
            at,
            format!("template ID {id} (data templates start at 256)"),
        );
    }
    Ok(())
}

/// `n` (type, length) pairs, IPFIX ones with their enterprise numbers.
fn field_list(
    d: &[u8],
    at: &mut usize,
    n: usize,
    ipfix: bool,
    base: usize,
    id: u16,
) -> Result<Vec<(Field, u16)>, WireError> {
    if n > MAX_TEMPLATE_FIELDS {
        return err(
            base + *at,
            format!("template {id} claims {n} fields (at most {MAX_TEMPLATE_FIELDS})"),
        );
    }
    let mut fields = Vec::with_capacity(n);
    let mut total = 0usize;
    for i in 0..n {
        let (Some(ty), Some(len)) = (be16(d, *at), be16(d, *at + 2)) else {
            return err(
                base + *at,
                format!("template {id}: field {} of {n} cut short", i + 1),
            );
        };
        *at += 4;
        let mut pen = 0;
        if ipfix && ty & 0x8000 != 0 {
            let Some(p) = be32(d, *at) else {
                return err(
                    base + *at,
                    format!("template {id}: enterprise number cut short"),
                );
            };
            pen = p;
            *at += 4;
        }
        // Zero-length fields (Juniper, and others in the logstash corpus)
        // take no bytes; NetFlow v9 has no variable-length fields, but H3C
        // sends 65535 in v9 with the IPFIX encoding, so both are taken.
        total += if len == VARIABLE { 1 } else { usize::from(len) };
        fields.push((Field::new(ty & 0x7fff, pen), len));
    }
    if total > usize::from(u16::MAX) {
        return err(
            base + *at,
            format!("template {id}: records of {total} bytes cannot fit a message"),
        );
    }
    Ok(fields)
}

/// A NetFlow v5 record, the fields portent reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V5Record {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub in_if: u16,
    pub out_if: u16,
    pub packets: u32,
    pub bytes: u32,
    pub first_ms: u32,
    pub last_ms: u32,
    pub sport: u16,
    pub dport: u16,
    pub flags: u8,
    pub proto: u8,
}

/// The header of a NetFlow v5 datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V5Header {
    pub count: u16,
    pub sys_up_time_ms: u32,
    pub unix_secs: u32,
    pub unix_nsecs: u32,
    pub sampling_interval: u16,
}

/// Reads a v5 datagram; returns the header, the records present, and an
/// error when the datagram holds fewer records than its header says.
pub fn v5(
    msg: &[u8],
) -> Result<
    (
        V5Header,
        impl Iterator<Item = V5Record> + '_,
        Option<WireError>,
    ),
    WireError,
> {
    if msg.len() < 24 {
        return err(
            0,
            format!("NetFlow v5 header cut short ({} bytes)", msg.len()),
        );
    }
    let h = V5Header {
        count: be16(msg, 2).unwrap_or(0),
        sys_up_time_ms: be32(msg, 4).unwrap_or(0),
        unix_secs: be32(msg, 8).unwrap_or(0),
        unix_nsecs: be32(msg, 12).unwrap_or(0),
        sampling_interval: be16(msg, 22).unwrap_or(0) & 0x3fff,
    };
    if !(1..=30).contains(&h.count) {
        return err(
            2,
            format!(
                "NetFlow v5 header claims {} records (1 to 30 fit a datagram)",
                h.count
            ),
        );
    }
    let present = (msg.len() - 24) / 48;
    let cut = (present < usize::from(h.count)).then(|| WireError {
        at: 24 + 48 * present,
        what: format!(
            "datagram cut short: {present} of {} records present",
            h.count
        ),
    });
    let n = present.min(usize::from(h.count));
    let recs = msg[24..24 + 48 * n].chunks_exact(48).map(|r| V5Record {
        src: [r[0], r[1], r[2], r[3]],
        dst: [r[4], r[5], r[6], r[7]],
        in_if: u16::from_be_bytes([r[12], r[13]]),
        out_if: u16::from_be_bytes([r[14], r[15]]),
        packets: u32::from_be_bytes([r[16], r[17], r[18], r[19]]),
        bytes: u32::from_be_bytes([r[20], r[21], r[22], r[23]]),
        first_ms: u32::from_be_bytes([r[24], r[25], r[26], r[27]]),
        last_ms: u32::from_be_bytes([r[28], r[29], r[30], r[31]]),
        sport: u16::from_be_bytes([r[32], r[33]]),
        dport: u16::from_be_bytes([r[34], r[35]]),
        flags: r[37],
        proto: r[38],
    });
    Ok((h, recs, cut))
}

/// An unsigned number in network order of 1 to 8 bytes (RFC 7011 §6.2
/// reduced-size encoding); `None` for other lengths.
pub fn uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

pub fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

pub fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: Field) -> bool {
        true
    }

    #[test]
    fn variable_length_records_walk_and_cut_records_say_so() {
        // IPFIX template 300: sourceIPv4Address, a variable-length string.
        let t = Template::new(vec![(Field::Iana(8), 4), (Field::Other, VARIABLE)], 0, any);
        assert!(t.reads.is_none());
        assert_eq!(t.min_len, 5);
        let body = [
            10, 0, 0, 1, 2, b'h', b'i', 10, 0, 0, 2, 255, 0, 1, b'x', 0, 0,
        ];
        let set = Set {
            id: 300,
            at: 20,
            body: &body,
        };
        let mut seen: Vec<Vec<(Field, Vec<u8>)>> = Vec::new();
        t.records(&set, &mut seen, |r, f, v| r.push((f, v.to_vec())))
            .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0][1], (Field::Other, b"hi".to_vec()));
        assert_eq!(seen[1][1], (Field::Other, b"x".to_vec()));
        let cut = [10, 0, 0, 1, 9, b'a'];
        let mut none: Vec<()> = Vec::new();
        let e = t
            .records(
                &Set {
                    id: 300,
                    at: 20,
                    body: &cut,
                },
                &mut none,
                |_, _, _| {},
            )
            .unwrap_err();
        assert!(e.what.contains("longer than its set"), "{e}");
        assert_eq!(e.at, 25);
    }

    #[test]
    fn templates_that_contradict_themselves_are_refused() {
        let mut out = Vec::new();
        // v9 template 256 claiming 4 fields, holding 3 (one of length 0:
        // Juniper sends those, they take no bytes).
        let body = [1, 0, 0, 4, 0, 8, 0, 4, 0, 12, 0, 0, 0, 7, 0, 2];
        let set = Set {
            id: 0,
            at: 20,
            body: &body,
        };
        let e = templates(9, &set, any, &mut out).unwrap_err();
        assert!(e.what.contains("field 4 of 4 cut short"), "{e}");
        assert_eq!(e.at, 36);
        // A template whose records could not fit any message.
        let mut body = vec![1, 0, 0, 40];
        for _ in 0..40 {
            body.extend([0, 1, 0x10, 0]);
        }
        let set = Set {
            id: 2,
            at: 16,
            body: &body,
        };
        let e = templates(10, &set, any, &mut out).unwrap_err();
        assert!(e.what.contains("cannot fit a message"), "{e}");
        // Template ID below 256.
        let body = [0, 7, 0, 1, 0, 8, 0, 4];
        let set = Set {
            id: 2,
            at: 16,
            body: &body,
        };
        assert!(templates(10, &set, any, &mut out)
            .unwrap_err()
            .what
            .contains("ID 7"));
        // IPFIX withdrawal.
        let body = [1, 0, 0, 0];
        let set = Set {
            id: 2,
            at: 16,
            body: &body,
        };
        out.clear();
        templates(10, &set, any, &mut out).unwrap();
        assert_eq!(out, vec![TemplateDef::Withdraw(256)]);
    }

    #[test]
    fn sets_are_read_to_the_end_whatever_count_says() {
        // v9 header with count 1, then two sets.
        let mut m = vec![0, 9, 0, 1];
        m.extend([0; 16]);
        m.extend([1, 0, 0, 8, 1, 2, 3, 4]);
        m.extend([1, 1, 0, 4]);
        m.extend([0, 0]); // padding
        let h = header(&m).unwrap();
        let ids: Vec<u16> = sets(&m, &h).map(|s| s.unwrap().id).collect();
        assert_eq!(ids, vec![256, 257]);
        m[22..24].copy_from_slice(&[0, 200]);
        let r: Vec<_> = sets(&m, &h).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].as_ref().unwrap_err().what.contains("claims 200 bytes"));
    }

    #[test]
    fn v5_cut_short_keeps_the_whole_records() {
        let mut m = vec![0u8; 24 + 48 * 2];
        m[1] = 5;
        m[3] = 3;
        m[24 + 38] = 6;
        let (h, recs, cut) = v5(&m).unwrap();
        assert_eq!(h.count, 3);
        assert_eq!(recs.count(), 2);
        assert_eq!(cut.unwrap().at, 120);
    }
}
