//! Sysmon events in one JSON document rather than one JSON object per line.
//!
//! - An array of records: the Log Analytics portal's "Export to JSON",
//!   `az monitor log-analytics query`, `Get-WinEvent | ConvertTo-Json`
//!   (pretty-printed over many lines, often UTF-16).
//! - One record pretty-printed over several lines (`ConvertTo-Json` of a
//!   single event writes the object, not an array of one).
//! - A Log Analytics query API response: `{"tables":[{"name":…,
//!   "columns":[{"name":"SyslogMessage","type":"string"},…],
//!   "rows":[["…","…"],…]}]}`; each row is read as the object of its
//!   columns' names and values.
//! - Several of these one after another (`cat a.json b.json`).
//!
//! Each element is judged as a JSON line would be (`json::read_object`).
//! The document is not parsed as a whole: a structural scan (strings,
//! escapes and bracket depth, no recursion) finds where each element starts
//! and ends, and only that element is handed to serde_json. So memory goes
//! with the largest element, not the file; every warning has the element's
//! byte offset and line; and an element that is not JSON (a missing comma
//! inside it, a bad escape) is one bad record while the rest is still read.
//! An element the input ends inside (a cut file) is the last, with a
//! warning at its start; a query API table cut short is read up to the cut
//! row.

use std::ops::Range;

use memchr::{memchr, memchr2, memchr_iter};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::json::{read_json, read_object};
use super::{strip_bom, At, Reader, SysmonFormat, MAX_LINE_LEN};

/// Whether text that starts with `{` is JSON lines or one document: a
/// query API response (`{"tables":`), or an object whose first line does
/// not close it (pretty-printed). A first line longer than the sniffed
/// head is taken as JSON lines, as before.
pub(crate) fn object_format(text: &[u8]) -> SysmonFormat {
    if is_api_response(text, 0) {
        return SysmonFormat::JsonDocument;
    }
    let Some(nl) = memchr(b'\n', text) else {
        return SysmonFormat::JsonLines;
    };
    match serde_json::from_slice::<serde::de::IgnoredAny>(&text[..nl]) {
        Err(e) if e.is_eof() => SysmonFormat::JsonDocument,
        _ => SysmonFormat::JsonLines,
    }
}

/// `[` and then `{`: an array of records (not `[2023-10-10 …]`, a log
/// line's bracketed time).
pub(crate) fn starts_array_of_objects(text: &[u8]) -> bool {
    text.first() == Some(&b'[') && text.get(skip_ws(text, 1)) == Some(&b'{')
}

/// `{"tables":` at `open`.
fn is_api_response(data: &[u8], open: usize) -> bool {
    data.get(open) == Some(&b'{') && data[skip_ws(data, open + 1)..].starts_with(b"\"tables\"")
}

fn skip_ws(data: &[u8], mut pos: usize) -> usize {
    while data.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// Where the string whose `"` is at `open` ends (past its closing `"`).
fn string_end(data: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    loop {
        let j = i + memchr2(b'"', b'\\', data.get(i..)?)?;
        if data[j] == b'"' {
            return Some(j + 1);
        }
        // An escape: the next byte is never the end.
        i = j + 2;
    }
}

/// Where the value at `start` ends: its closing bracket or quote, or for
/// anything else (a number, `true`, junk) the next delimiter, at least one
/// byte on so that every caller moves forward. `None` when the input ends
/// first. Brackets are counted, not matched: whether `{…]` is JSON is for
/// serde_json to say when the element is parsed.
fn value_end(data: &[u8], start: usize) -> Option<usize> {
    match *data.get(start)? {
        b'"' => string_end(data, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < data.len() {
                match data[i] {
                    b'"' => {
                        i = string_end(data, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let n = data[start..]
                .iter()
                .position(|&b| b"{}[]\",".contains(&b) || b.is_ascii_whitespace())
                .unwrap_or(data.len() - start);
            Some(start + n.max(1))
        }
    }
}

/// A problem in the document's structure: where, and what.
type Flaw = (usize, &'static str);

/// Where a value is. A value the input ends inside (a cut file) runs to the
/// input's end and is `cut`: it is the last one, and a table or an array of
/// rows cut short is still read up to the cut.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    range: Range<usize>,
    cut: bool,
}

impl Span {
    fn at(data: &[u8], start: usize) -> Span {
        match value_end(data, start) {
            Some(end) => Span {
                range: start..end,
                cut: false,
            },
            None => Span {
                range: start..data.len(),
                cut: true,
            },
        }
    }
}

/// The elements of the array whose `[` is at `open`, in order.
struct Elements<'d> {
    data: &'d [u8],
    pos: usize,
    done: bool,
    /// Past the closing `]`, once found.
    end: Option<usize>,
}

impl<'d> Elements<'d> {
    fn new(data: &'d [u8], open: usize) -> Self {
        Elements {
            data,
            pos: open + 1,
            done: false,
            end: None,
        }
    }
}

impl Iterator for Elements<'_> {
    type Item = Result<Span, Flaw>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.pos = skip_ws(self.data, self.pos);
        match self.data.get(self.pos) {
            None => {
                self.done = true;
                return Some(Err((self.pos, "the input ends before the array's ]")));
            }
            Some(b']') => {
                self.done = true;
                self.end = Some(self.pos + 1);
                return None;
            }
            Some(b',') => {
                self.pos += 1;
                return Some(Err((self.pos - 1, "an empty element (a comma too many)")));
            }
            _ => {}
        }
        let span = Span::at(self.data, self.pos);
        self.done = span.cut;
        // A missing comma between elements is passed over: both are read.
        self.pos = skip_ws(self.data, span.range.end);
        if self.data.get(self.pos) == Some(&b',') {
            self.pos += 1;
        }
        Some(Ok(span))
    }
}

/// The members of the object whose `{` is at `open`: (key with its quotes,
/// value). A flaw in the structure, or a cut value, ends them.
struct Members<'d> {
    data: &'d [u8],
    pos: usize,
    done: bool,
    end: Option<usize>,
}

impl<'d> Members<'d> {
    fn new(data: &'d [u8], open: usize) -> Self {
        Members {
            data,
            pos: open + 1,
            done: false,
            end: None,
        }
    }

    fn fail(&mut self, at: usize, why: &'static str) -> Option<<Self as Iterator>::Item> {
        self.done = true;
        Some(Err((at, why)))
    }
}

impl Iterator for Members<'_> {
    type Item = Result<(Range<usize>, Span), Flaw>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let data = self.data;
        self.pos = skip_ws(data, self.pos);
        match data.get(self.pos) {
            None => return self.fail(self.pos, "the input ends before the object's }"),
            Some(b'}') => {
                self.done = true;
                self.end = Some(self.pos + 1);
                return None;
            }
            Some(b'"') => {}
            Some(_) => return self.fail(self.pos, "not a key where one should be"),
        }
        let key = self.pos;
        let Some(key_end) = string_end(data, key) else {
            return self.fail(key, "the input ends inside a key");
        };
        let colon = skip_ws(data, key_end);
        if data.get(colon) != Some(&b':') {
            return self.fail(colon, "no : after a key");
        }
        let value = Span::at(data, skip_ws(data, colon + 1));
        self.done = value.cut;
        self.pos = skip_ws(data, value.range.end);
        if data.get(self.pos) == Some(&b',') {
            self.pos += 1;
        }
        Some(Ok((key..key_end, value)))
    }
}

/// Line numbers of byte positions, counted as the reading moves on (and
/// back, within a table whose rows come before its columns).
struct LineOf<'d> {
    data: &'d [u8],
    counted: usize,
    line: u64,
}

impl LineOf<'_> {
    /// Where a record starts: its line (1-based) and its own byte offset.
    fn at(&mut self, pos: usize) -> At {
        if pos >= self.counted {
            self.line += memchr_iter(b'\n', &self.data[self.counted..pos]).count() as u64;
        } else {
            self.line -= memchr_iter(b'\n', &self.data[pos..self.counted]).count() as u64;
        }
        self.counted = pos;
        At {
            record: self.line,
            offset: pos as u64,
        }
    }
}

/// Reads a JSON document (the module's forms). Every pass of the loop
/// reads at least one byte, every element is at most [`MAX_LINE_LEN`]
/// when parsed, and kept events are bounded by the reader
/// ([`super::MAX_EVENTS_PER_FILE`]).
pub(crate) fn read(r: &mut Reader<'_>, data: &[u8]) {
    let mut lines = LineOf {
        data,
        counted: 0,
        line: 1,
    };
    let mut pos = data.len() - strip_bom(data).len();
    loop {
        pos = skip_ws(data, pos);
        let Some(&first) = data.get(pos) else {
            break;
        };
        pos = match first {
            b'[' => read_array(r, data, pos, &mut lines),
            b'{' if is_api_response(data, pos) => read_api(r, data, pos, &mut lines),
            b'{' => {
                let span = Span::at(data, pos);
                let end = span.range.end;
                read_element(r, data, span, lines.at(pos), "");
                end
            }
            // Not JSON: one warning for the rest of its line.
            _ => {
                let end = memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i + 1);
                r.bad_record(lines.at(pos), || {
                    "not JSON: neither an object nor an array of them".into()
                });
                end
            }
        };
    }
}

/// Reads one record, if whole and within [`MAX_LINE_LEN`].
fn read_element(r: &mut Reader<'_>, data: &[u8], span: Span, at: At, what: &str) {
    let range = span.range;
    if span.cut {
        return r.bad_record(at, || format!("{what}the input ends inside this record"));
    }
    if range.len() > MAX_LINE_LEN {
        return r.bad_record(at, || {
            format!("{what}{} bytes, over {MAX_LINE_LEN}", range.len())
        });
    }
    read_json(r, &data[range], at, what);
}

/// Reads the records of the array at `open`; returns where it ends.
fn read_array(r: &mut Reader<'_>, data: &[u8], open: usize, lines: &mut LineOf<'_>) -> usize {
    let mut elements = Elements::new(data, open);
    let mut n = 0u64;
    for el in elements.by_ref() {
        n += 1;
        match el {
            Ok(span) => {
                let at = lines.at(span.range.start);
                read_element(r, data, span, at, &format!("element {n}: "));
            }
            Err((p, why)) => r.bad_record(lines.at(p), || format!("element {n}: {why}")),
        }
    }
    elements.end.unwrap_or(data.len())
}

/// A column of a query API table; its `type` is not needed (the values
/// are read as the JSON they are).
#[derive(Deserialize)]
struct Column {
    name: String,
}

/// Reads the rows of every table of a query API response at `open`;
/// returns where it ends.
fn read_api(r: &mut Reader<'_>, data: &[u8], open: usize, lines: &mut LineOf<'_>) -> usize {
    let mut members = Members::new(data, open);
    for m in members.by_ref() {
        match m {
            Ok((key, value))
                if &data[key.clone()] == b"\"tables\"" && data[value.range.start] == b'[' =>
            {
                let mut t = 0u64;
                for table in Elements::new(data, value.range.start) {
                    t += 1;
                    match table {
                        Ok(span) => read_table(r, data, span.range.start, t, lines),
                        Err((p, why)) => {
                            r.bad_record(lines.at(p), || format!("table {t}: {why}"));
                        }
                    }
                }
            }
            // The response's other members (`statistics`, `render`).
            Ok((_, value)) => cut_short(r, &value, lines),
            Err((p, why)) => r.bad_record(lines.at(p), || why.to_string()),
        }
    }
    members.end.unwrap_or(data.len())
}

/// A warning for a value passed over that the input ends inside.
fn cut_short(r: &mut Reader<'_>, value: &Span, lines: &mut LineOf<'_>) {
    if value.cut {
        r.bad_record(lines.at(value.range.start), || {
            "the input ends inside this value".into()
        });
    }
}

/// Reads the rows of the table at `start` (cut or not) as objects of their
/// columns' names.
fn read_table(r: &mut Reader<'_>, data: &[u8], start: usize, t: u64, lines: &mut LineOf<'_>) {
    if data[start] != b'{' {
        return r.bad_record(lines.at(start), || format!("table {t}: not an object"));
    }
    let mut columns: Option<Vec<String>> = None;
    let mut rows = None;
    for m in Members::new(data, start) {
        match m {
            Ok((key, value)) if &data[key.clone()] == b"\"columns\"" => {
                let v = value.range;
                let parsed = if v.len() > MAX_LINE_LEN {
                    Err(format!("{} bytes, over {MAX_LINE_LEN}", v.len()))
                } else {
                    serde_json::from_slice::<Vec<Column>>(&data[v.clone()])
                        .map_err(|e| e.to_string())
                };
                match parsed {
                    Ok(c) => columns = Some(c.into_iter().map(|c| c.name).collect()),
                    Err(e) => {
                        return r
                            .bad_record(lines.at(v.start), || format!("table {t}: columns: {e}"))
                    }
                }
            }
            Ok((key, value))
                if &data[key.clone()] == b"\"rows\"" && data[value.range.start] == b'[' =>
            {
                rows = Some(value.range.start);
            }
            Ok((_, value)) => cut_short(r, &value, lines),
            Err((p, why)) => {
                r.bad_record(lines.at(p), || format!("table {t}: {why}"));
                break;
            }
        }
    }
    let (Some(columns), Some(rows)) = (columns, rows) else {
        return r.bad_record(lines.at(start), || {
            format!("table {t}: no columns or no rows")
        });
    };
    let mut n = 0u64;
    for row in Elements::new(data, rows) {
        n += 1;
        let range = match row {
            Ok(Span { range, cut: false }) => range,
            Ok(Span { range, cut: true }) => {
                r.bad_record(lines.at(range.start), || {
                    format!("table {t} row {n}: the input ends inside this row")
                });
                continue;
            }
            Err((p, why)) => {
                r.bad_record(lines.at(p), || format!("table {t} row {n}: {why}"));
                continue;
            }
        };
        let at = lines.at(range.start);
        let values = if range.len() > MAX_LINE_LEN {
            Err(format!("{} bytes, over {MAX_LINE_LEN}", range.len()))
        } else {
            serde_json::from_slice::<Vec<Value>>(&data[range]).map_err(|e| format!("not JSON: {e}"))
        };
        match values {
            Ok(v) if v.len() == columns.len() => {
                let o: Map<String, Value> = columns.iter().cloned().zip(v).collect();
                read_object(r, &o, at, &format!("table {t} row {n}: "));
            }
            Ok(v) => r.bad_record(at, || {
                format!(
                    "table {t} row {n}: {} values for {} columns",
                    v.len(),
                    columns.len()
                )
            }),
            Err(e) => r.bad_record(at, || format!("table {t} row {n}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_ends() {
        let d = br#"{"a":"}\"]","b":[1,{"c":2}]} , 12 true"#;
        assert_eq!(value_end(d, 0), Some(28));
        assert_eq!(value_end(d, 31), Some(33));
        assert_eq!(value_end(d, 34), Some(38));
        assert_eq!(value_end(br#"{"a":"#, 0), None);
        assert_eq!(value_end(br#""ab\"#, 0), None);
        assert_eq!(value_end(b"}", 0), Some(1));
    }

    #[test]
    fn elements_and_their_flaws() {
        let d = b"[ {\"a\":1},, [2] 3 ,{\"b\":";
        let got: Vec<_> = Elements::new(d, 0).collect();
        let whole = |range| Ok(Span { range, cut: false });
        assert_eq!(
            got,
            [
                whole(2..9),
                Err((10, "an empty element (a comma too many)")),
                whole(12..15),
                whole(16..17),
                Ok(Span {
                    range: 19..d.len(),
                    cut: true
                }),
            ]
        );
        let mut e = Elements::new(b"[1,2,] x", 0);
        assert_eq!(e.by_ref().count(), 2);
        assert_eq!(e.end, Some(6));
    }

    #[test]
    fn members() {
        let d = br#"{"tables" : [1], "x":{"}":1}} tail"#;
        let mut m = Members::new(d, 0);
        let got: Vec<_> = m.by_ref().collect();
        let whole = |range| Span { range, cut: false };
        assert_eq!(
            got,
            [Ok((1..9, whole(12..15))), Ok((17..20, whole(21..28)))]
        );
        assert_eq!(m.end, Some(29));
        let got: Vec<_> = Members::new(br#"{"a" 1}"#, 0).collect();
        assert_eq!(got, [Err((5, "no : after a key"))]);
    }

    #[test]
    fn lines_forward_and_back() {
        let d = b"a\nb\nc\nd";
        let mut l = LineOf {
            data: d,
            counted: 0,
            line: 1,
        };
        assert_eq!(l.at(6).record, 4);
        assert_eq!(l.at(2).record, 2);
        assert_eq!(l.at(4).record, 3);
    }

    #[test]
    fn json_formats_by_content() {
        assert_eq!(
            object_format(b"{\"a\":1}\n{\"a\":2}\n"),
            SysmonFormat::JsonLines
        );
        assert_eq!(
            object_format(b"{\r\n  \"Id\": 3,\r\n"),
            SysmonFormat::JsonDocument
        );
        assert_eq!(
            object_format(b"{ \"tables\": [ {\"name\":\"PrimaryResult\"}]}"),
            SysmonFormat::JsonDocument
        );
        assert_eq!(object_format(b"{\"a\":1}"), SysmonFormat::JsonLines);
        assert!(starts_array_of_objects(b"[\r\n  {"));
        assert!(!starts_array_of_objects(b"[2023-10-10 12:00:00] <Event>"));
        assert!(!starts_array_of_objects(b"[]"));
    }
}
