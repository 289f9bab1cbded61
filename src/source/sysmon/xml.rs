//! Windows event XML: `<Event>` elements as EVTX renders them, as SIEMs
//! export them one per line, in `<Events>` documents, and inside syslog lines
//! (Sysmon for Linux).
//!
//! Each `<Event>…</Event>` is cut out of the text first and parsed on its
//! own with quick-xml, so one broken event (cut, mismatched tags) is one
//! warning and the events after it are still read, which a parser walking
//! the whole document could not promise.

use memchr::memmem;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader as XmlReader;

use super::{lines, At, Field, Raw, Reader, MAX_EVENT_XML_LEN};

const END_TAG: &[u8] = b"</Event>";

/// Where the next `<Event` element starts at or after `from` (not
/// `<Events`, `<EventData`, `<EventID` …).
pub(crate) fn event_start(hay: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < hay.len() {
        let i = at + memmem::find(&hay[at..], b"<Event")?;
        match hay.get(i + 6) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/') => return Some(i),
            _ => at = i + 6,
        }
    }
    None
}

/// What the text inside the element being read is for.
#[derive(Clone, Copy)]
enum Target {
    EventId,
    Channel,
    Computer,
    Data(Field),
}

/// Parses one `<Event>…</Event>` element.
pub(crate) fn parse_event(xml: &[u8]) -> Result<Raw, String> {
    let mut rd = XmlReader::from_reader(xml);
    let mut raw = Raw::default();
    let mut depth = 0usize;
    let mut in_event = false;
    let mut in_system = false;
    let mut in_event_data = false;
    // (target, depth of its element, text so far)
    let mut capture: Option<(Target, usize)> = None;
    let mut buf = String::new();
    let err = |e: &dyn std::fmt::Display, rd: &XmlReader<&[u8]>| {
        format!("bad XML at byte {} of the event: {e}", rd.error_position())
    };
    loop {
        let ev = rd.read_event().map_err(|e| err(&e, &rd))?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = s.local_name();
                let name = name.as_ref();
                if depth == 0 {
                    if name != b"Event" {
                        return Err(format!(
                            "root element is <{}>, not <Event>",
                            String::from_utf8_lossy(name)
                        ));
                    }
                    in_event = true;
                } else if depth == 1 {
                    in_system = name == b"System";
                    in_event_data = name == b"EventData";
                } else if depth == 2 && in_system {
                    match name {
                        b"Provider" => {
                            raw.provider = attr(s, b"Name")?;
                            raw.provider_guid = attr(s, b"Guid")?;
                        }
                        b"TimeCreated" => raw.system_time = attr(s, b"SystemTime")?,
                        b"EventID" => capture = Some((Target::EventId, depth)),
                        b"Channel" => capture = Some((Target::Channel, depth)),
                        b"Computer" => capture = Some((Target::Computer, depth)),
                        _ => {}
                    }
                } else if depth == 2 && in_event_data && name == b"Data" {
                    if let Some(f) = attr(s, b"Name")?.as_deref().and_then(Field::from_name) {
                        capture = Some((Target::Data(f), depth));
                    }
                }
                if empty {
                    if let Some((t, d)) = capture {
                        if d == depth {
                            store(&mut raw, t, std::mem::take(&mut buf));
                            capture = None;
                        }
                    }
                    if depth == 0 {
                        return Ok(raw);
                    }
                } else {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some((t, d)) = capture {
                    if d == depth {
                        store(&mut raw, t, std::mem::take(&mut buf));
                        capture = None;
                    }
                }
                if depth == 1 {
                    in_system = false;
                    in_event_data = false;
                }
                if depth == 0 && in_event {
                    return Ok(raw);
                }
            }
            Event::Text(t) if capture.is_some() => {
                buf.push_str(&t.xml10_content().map_err(|e| err(&e, &rd))?);
            }
            Event::CData(t) if capture.is_some() => {
                buf.push_str(&t.decode().map_err(|e| err(&e, &rd))?);
            }
            Event::GeneralRef(r) if capture.is_some() => {
                if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(|e| err(&e, &rd))? {
                        Some(c) => buf.push(c),
                        None => return Err(err(&"character reference to nothing", &rd)),
                    }
                } else {
                    let name = r.decode().map_err(|e| err(&e, &rd))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => buf.push_str(s),
                        None => return Err(err(&format!("unknown entity &{name};"), &rd)),
                    }
                }
            }
            Event::Eof => return Err("the event ends before </Event>".into()),
            _ => {}
        }
    }
}

fn attr(s: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    for a in s.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        if a.key.local_name().as_ref() == key {
            // Our input is UTF-8 (a `&str` from the crate, or checked by
            // the reader); attribute values are XML 1.0 normalised.
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("bad attribute value: {e}"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn store(raw: &mut Raw, t: Target, v: String) {
    match t {
        Target::EventId => raw.event_id = Some(v),
        Target::Channel => raw.channel = Some(v),
        Target::Computer => raw.computer = Some(v),
        Target::Data(f) => raw.set(f, v),
    }
}

/// Reads every `<Event>` in an XML text: one per line, or a whole
/// `<Events>` document (prolog, comments and whitespace between events are
/// passed over).
pub(crate) fn read_document(r: &mut Reader<'_>, data: &[u8]) {
    // Line numbers are counted as the scan moves on, never from the start.
    let mut counted = 0usize;
    let mut line = 1u64;
    let mut line_start = 0usize;
    let mut at_of = |pos: usize| {
        for i in memchr::memchr_iter(b'\n', &data[counted..pos]) {
            line += 1;
            line_start = counted + i + 1;
        }
        counted = pos;
        At {
            record: line,
            offset: line_start as u64,
        }
    };
    let mut pos = 0;
    while let Some(start) = event_start(data, pos) {
        let at = at_of(start);
        // The end tag is looked for only up to the next start tag: an
        // input of unclosed `<Event>`s costs one pass, not one per event.
        let next = event_start(data, start + 1);
        let limit = next.unwrap_or(data.len());
        let end = memmem::find(&data[start..limit], END_TAG).map(|i| start + i + END_TAG.len());
        match end {
            Some(end) if next.is_none_or(|n| n >= end) => {
                if end - start > MAX_EVENT_XML_LEN {
                    r.bad_record(at, || {
                        format!("<Event> of {} bytes, over {MAX_EVENT_XML_LEN}", end - start)
                    });
                } else {
                    match parse_event(&data[start..end]) {
                        Ok(raw) => r.record(&raw, at),
                        Err(why) => r.bad_record(at, || why),
                    }
                }
                pos = end;
            }
            _ => match next {
                Some(n) => {
                    r.bad_record(at, || {
                        "<Event> without </Event> before the next <Event>".into()
                    });
                    pos = n;
                }
                None => {
                    r.bad_record(at, || "<Event> without </Event> (the input ends)".into());
                    break;
                }
            },
        }
    }
}

/// Reads text lines with an `<Event>` inside each (Sysmon for Linux through
/// syslog: `Oct 10 12:00:00 host sysmon: <Event>…</Event>`). Lines without
/// one are other programs' and are counted, not warned about.
pub(crate) fn read_syslog(r: &mut Reader<'_>, data: &[u8]) {
    for (at, line) in lines(data) {
        if !r.line_fits(at, line) {
            continue;
        }
        read_embedded(r, line, at);
    }
}

/// Reads the `<Event>` inside one line or message; a line without one is
/// an other line.
pub(crate) fn read_embedded(r: &mut Reader<'_>, text: &[u8], at: At) {
    let Some(start) = event_start(text, 0) else {
        if !text.iter().all(u8::is_ascii_whitespace) {
            r.log.stats.other_lines += 1;
        }
        return;
    };
    match memmem::rfind(&text[start..], END_TAG) {
        None => r.bad_record(at, || "<Event> without </Event> in the line".into()),
        Some(i) => match parse_event(&text[start..start + i + END_TAG.len()]) {
            Ok(raw) => r.record(&raw, at),
            Err(why) => r.bad_record(at, || why),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"/><EventID Qualifiers="0">3</EventID><TimeCreated SystemTime="2019-03-18T16:57:38.6363871Z"/><EventRecordID>42</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>PC01.example.corp</Computer></System><EventData><Data Name="RuleName"/><Data Name="Image">C:\a&amp;b\&#x70;owershell.exe</Data><Data Name="User"><![CDATA[NT AUTHORITY\SYSTEM]]></Data></EventData></Event>"#;

    #[test]
    fn parses_system_and_event_data() {
        let raw = parse_event(EV.as_bytes()).unwrap();
        assert_eq!(raw.provider.as_deref(), Some("Microsoft-Windows-Sysmon"));
        assert_eq!(
            raw.provider_guid.as_deref(),
            Some("{5770385f-c22a-43e0-bf4c-06f5698ffbd9}")
        );
        assert_eq!(raw.event_id.as_deref(), Some("3"));
        assert_eq!(raw.computer.as_deref(), Some("PC01.example.corp"));
        assert_eq!(
            raw.system_time.as_deref(),
            Some("2019-03-18T16:57:38.6363871Z")
        );
        assert_eq!(raw.get(Field::Image), Some(r"C:\a&b\powershell.exe"));
        assert_eq!(raw.get(Field::User), Some(r"NT AUTHORITY\SYSTEM"));
    }

    #[test]
    fn broken_events_are_errors_not_panics() {
        for n in 0..EV.len() {
            let _ = parse_event(&EV.as_bytes()[..n]);
        }
        assert!(parse_event(b"<Events><Event></Event></Events>").is_err());
        assert!(parse_event(b"<Event><System></Event>").is_err());
        assert!(parse_event(
            b"<Event><EventData><Data Name='Image'>&bogus;</Data></EventData></Event>"
        )
        .is_err());
    }

    #[test]
    fn event_starts_skip_lookalike_tags() {
        let t = b"<Events><EventData/><EventID/><Event>";
        assert_eq!(event_start(t, 0), Some(30));
        assert_eq!(event_start(b"<Event", 0), None);
    }
}
