//! Sysmon events: the process behind a connection.
//!
//! Packets and flows say that 10.0.2.18 called 10.0.2.19:4444; only the
//! endpoint says it was `powershell.exe` running as SYSTEM, started by
//! `cmd.exe`. Sysmon writes that as Event ID 3 (NetworkConnect, with the
//! tuple and the process), Event ID 1 (ProcessCreate, with the parent image
//! that Event ID 3 lacks; DETECTION.md §6) and Event ID 13 (registry value
//! set: the RDP port moved, DETECTION.md §8). This module reads those three
//! from the forms responders are handed, recognised by content:
//!
//! - EVTX files (`evtx.rs`, with the `evtx` crate);
//! - Windows event XML, one `<Event>` per line as SIEMs export it, or whole
//!   `<Events>` files as Event Viewer and `wevtutil` write them (`xml.rs`);
//! - JSON lines from the shippers: winlogbeat/ECS, NXLog and the flat keys of
//!   public datasets (OTRF/Mordor), evtx_dump's JSON (`json.rs`);
//! - Sysmon for Linux: the same XML inside syslog lines, or inside JSON
//!   records of a journald, rsyslog/syslog-ng, Graylog (GELF) or Azure
//!   Monitor / Microsoft Sentinel (`Syslog` table) export;
//! - JSON documents rather than lines (`jsondoc.rs`): an array of records as
//!   the Log Analytics portal or `Get-WinEvent | ConvertTo-Json` write it
//!   (`winevent.rs` reads PowerShell's event objects), one record
//!   pretty-printed over several lines, or a Log Analytics query API
//!   response (`{"tables":[{"columns":…,"rows":…}]}`).
//!
//! Every format is turned into one [`Raw`] record (the System fields and the
//! EventData fields portent uses, as text) and judged in one place
//! ([`judge`]): only the Sysmon provider counts (an Event ID 3 from
//! Microsoft-Windows-Bits-Client is not a network connection), only IDs 1, 3
//! and 13 are kept, and each value is parsed the same way whatever carried it.
//! A record that does not parse is a warning with its offset and record
//! (line) number, and the rest is still read.

mod evtx;
mod json;
mod jsondoc;
mod winevent;
mod xml;

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use super::SourceError;
use crate::stats::{Warning, Warnings};
use crate::time::parse_log_time;
use crate::time::Ts;

/// The longest text line (JSON or syslog) read as one record, and the
/// longest element of a JSON document (a record of an array, a row of a
/// query API table). Windows caps a command line, the largest Sysmon field,
/// at 32,767 UTF-16 units; with JSON escaping, pretty-printing and the other
/// fields (PowerShell's objects carry each value twice, in `Message` and in
/// `Properties`) an event stays far below 1 MiB. A longer "line" is binary
/// junk or a file without newlines, and is skipped with a warning rather than
/// handed to a parser.
pub const MAX_LINE_LEN: usize = 1 << 20;

/// The longest `<Event>` element read from an XML file, for the same reason
/// as [`MAX_LINE_LEN`] (pretty-printed XML adds indentation, not megabytes).
pub const MAX_EVENT_XML_LEN: usize = 1 << 20;

/// The most events kept from one file. A kept event is about 1 KB with its
/// strings; a busy Windows host logs on the order of a million Sysmon
/// 1/3/13 events a day, so this holds days of one host (about 5 GB) and
/// stops a corrupt or hostile file from filling memory. Past it, events are
/// counted under `events_dropped` with one warning.
pub const MAX_EVENTS_PER_FILE: usize = 5_000_000;

/// How much of the start of an input [`sniff`] looks at: enough for several
/// JSON lines of a verbose shipper (winlogbeat lines run to 5 KB).
pub const SNIFF_BYTES: usize = 64 << 10;

/// The Sysmon provider's GUID (the same on every Windows host).
pub const SYSMON_PROVIDER_GUID: &str = "5770385F-C22A-43E0-BF4C-06F5698FFBD9";

/// The Event IDs portent keeps: ProcessCreate, NetworkConnect, registry
/// value set.
pub const KEPT_EVENT_IDS: [u16; 3] = [1, 3, 13];

/// The forms a Sysmon log comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SysmonFormat {
    /// A Windows event log file (`ElfFile\0`).
    Evtx,
    /// Windows event XML: `<Event>` elements, one per line or in an
    /// `<Events>` document.
    EventXml,
    /// One JSON object per line (winlogbeat, NXLog, datasets, journald,
    /// rsyslog, GELF, Log Analytics exported as lines).
    JsonLines,
    /// One JSON document: an array of records (Log Analytics "Export to
    /// JSON", `Get-WinEvent | ConvertTo-Json`), one record over several
    /// lines, or a Log Analytics query API response.
    JsonDocument,
    /// Text lines with an `<Event>` inside (Sysmon for Linux via syslog).
    Syslog,
}

impl SysmonFormat {
    pub fn name(self) -> &'static str {
        match self {
            SysmonFormat::Evtx => "evtx",
            SysmonFormat::EventXml => "event_xml",
            SysmonFormat::JsonLines => "json_lines",
            SysmonFormat::JsonDocument => "json_document",
            SysmonFormat::Syslog => "syslog",
        }
    }
}

impl fmt::Display for SysmonFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Recognises a Sysmon log by its first bytes ([`SNIFF_BYTES`]), never by
/// its name: the EVTX magic; XML that starts with `<?xml`, `<Events` or
/// `<Event`; JSON objects, or an array of them, with the keys of a Windows
/// event (`winlog`, `EventID`, `event_id`, `Event`, `SourceName`,
/// `ProviderGuid`, PowerShell's `ProviderName`/`ProviderId`) or an `<Event`
/// inside (also JSON-escaped, `\u003cEvent`, as Azure exports write it);
/// text lines with `<Event` inside. A pcap or other binary file is `None`
/// (it has NUL bytes where text has none).
pub fn sniff(data: &[u8]) -> Option<SysmonFormat> {
    if data.starts_with(b"ElfFile\0") {
        return Some(SysmonFormat::Evtx);
    }
    let head = &data[..data.len().min(SNIFF_BYTES)];
    if let Some(text) = utf16_to_utf8(head) {
        return sniff(text.as_bytes()).filter(|f| *f != SysmonFormat::Evtx);
    }
    if head.contains(&0) {
        return None;
    }
    let text = strip_bom(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &text[start..];
    let has = |needle: &[u8]| memchr::memmem::find(text, needle).is_some();
    const KEYS: [&[u8]; 13] = [
        b"\"winlog",
        b"\"EventID\"",
        b"\"event_id\"",
        b"\"EventId\"",
        b"\"Event\"",
        b"\"SourceName\"",
        b"\"ProviderGuid\"",
        b"\"Channel\"",
        b"\"ProviderName\"",
        b"\"ProviderId\"",
        b"<Event",
        b"\\u003cEvent",
        b"\\u003CEvent",
    ];
    let json = || KEYS.iter().any(|k| has(k));
    match text[0] {
        b'{' => json().then(|| jsondoc::object_format(text)),
        // `[{`: a JSON array of records (`[2023-10-10 …]` is a log line).
        b'[' if jsondoc::starts_array_of_objects(text) => {
            json().then_some(SysmonFormat::JsonDocument)
        }
        // `<13>Oct 10 ...`: a syslog priority, not XML.
        b'<' if text.get(1).is_some_and(u8::is_ascii_digit) => {
            has(b"<Event").then_some(SysmonFormat::Syslog)
        }
        b'<' => (text.starts_with(b"<?xml")
            || text.starts_with(b"<!--")
            || xml::event_start(text, 0) == Some(0)
            || text.starts_with(b"<Events"))
        .then_some(SysmonFormat::EventXml),
        _ => has(b"<Event").then_some(SysmonFormat::Syslog),
    }
}

/// Text with a UTF-16 byte-order mark, as UTF-8: what Windows PowerShell 5
/// writes for `wevtutil qe … /f:xml > file` and `… | ConvertTo-Json > file`.
/// Invalid sequences become U+FFFD (the event holding one still parses or
/// is a warning).
fn utf16_to_utf8(data: &[u8]) -> Option<String> {
    let le = match data.get(..2)? {
        [0xff, 0xfe] => true,
        [0xfe, 0xff] => false,
        _ => return None,
    };
    let units = data[2..].chunks_exact(2).map(|c| {
        if le {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
}

/// One Sysmon event of ID 1, 3 or 13, as every format gives it. Values that
/// Sysmon writes as `-` (unknown) or leaves empty are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysmonEvent {
    /// 1 (ProcessCreate), 3 (NetworkConnect) or 13 (registry value set).
    pub event_id: u16,
    /// Sysmon's own `UtcTime` (when the process started or connected), else
    /// the time the event was written (`TimeCreated`, `@timestamp`).
    pub ts: Ts,
    /// The host that logged it: `Computer`, `winlog.computer_name`,
    /// `Hostname`.
    pub host: Option<String>,
    /// The EVTX record ID; the 1-based line number in text formats (the
    /// line where the element starts in a JSON document).
    pub record: u64,
    /// Byte offset of the record's line in text formats, of the element
    /// itself in a JSON document; 0 for EVTX (the crate does not say where
    /// a record is).
    pub offset: u64,
    /// Lower-case, in braces: `{297bc33e-7d2a-5f2b-6003-000000000400}`, so
    /// that events join on it whatever format carried them.
    pub process_guid: Option<String>,
    pub pid: Option<u32>,
    pub image: Option<String>,
    pub user: Option<String>,
    /// Event ID 3: `true` for the side that opened the connection.
    pub initiated: Option<bool>,
    /// Event ID 3: `tcp` or `udp` (lower-case).
    pub protocol: Option<String>,
    /// Event ID 3. IPv4-mapped IPv6 stays as given; zone ids are dropped.
    pub src: Option<IpAddr>,
    pub sport: Option<u16>,
    pub dst: Option<IpAddr>,
    pub dport: Option<u16>,
    /// Event ID 1.
    pub parent_image: Option<String>,
    pub parent_process_guid: Option<String>,
    pub command_line: Option<String>,
    /// Event ID 13: the registry value written, and its new data.
    pub target_object: Option<String>,
    pub details: Option<String>,
}

/// What reading one Sysmon log found, besides its events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SysmonStats {
    /// Event records that parsed, from any provider with any ID.
    pub events_read: u64,
    /// Sysmon events kept, per ID.
    pub eid1: u64,
    pub eid3: u64,
    pub eid13: u64,
    /// Sysmon events with an ID portent does not use (7, 10, 11, 12 …).
    pub other_ids: u64,
    /// Events from other providers (Security, PowerShell, Bits-Client …).
    pub other_provider: u64,
    /// Of those, events with ID 1, 3 or 13 that are not Sysmon's
    /// (Bits-Client Event ID 3 is a job, not a connection).
    pub other_provider_same_id: u64,
    /// Of the other-provider events, those that named no provider, channel
    /// or provider GUID at all (warned about: the export may have dropped
    /// the fields that would have made them Sysmon).
    pub no_provider: u64,
    /// Records or lines that did not parse (warned, with offset and number).
    pub bad_records: u64,
    /// EVTX chunks that could not be read (their records are lost).
    pub bad_chunks: u64,
    /// EVTX chunks past those the file header declares that hold no chunk
    /// (a preallocated log's unused space).
    pub slack_chunks: u64,
    /// Kept events with a value that did not parse (an address, a port, a
    /// PID), left `None` with a warning.
    pub bad_fields: u64,
    /// Text lines or JSON records with no event in them (other programs'
    /// syslog lines, journald records, shipper heartbeats); not warned.
    pub other_lines: u64,
    /// Events not kept because of [`MAX_EVENTS_PER_FILE`].
    pub events_dropped: u64,
}

impl SysmonStats {
    /// Events kept (IDs 1, 3 and 13).
    pub fn kept(&self) -> u64 {
        self.eid1 + self.eid3 + self.eid13
    }

    /// Adds another input's counts (for the run's totals).
    pub fn add(&mut self, o: &SysmonStats) {
        self.events_read += o.events_read;
        self.eid1 += o.eid1;
        self.eid3 += o.eid3;
        self.eid13 += o.eid13;
        self.other_ids += o.other_ids;
        self.other_provider += o.other_provider;
        self.other_provider_same_id += o.other_provider_same_id;
        self.no_provider += o.no_provider;
        self.bad_records += o.bad_records;
        self.bad_chunks += o.bad_chunks;
        self.slack_chunks += o.slack_chunks;
        self.bad_fields += o.bad_fields;
        self.other_lines += o.other_lines;
        self.events_dropped += o.events_dropped;
    }
}

/// Everything read from one Sysmon log.
#[derive(Clone, Debug)]
pub struct SysmonLog {
    pub format: SysmonFormat,
    /// In file order: EVTX record order (oldest chunk first), line order.
    pub events: Vec<SysmonEvent>,
    pub stats: SysmonStats,
    pub warnings: Warnings,
}

/// Reads a Sysmon log in any of the forms [`sniff`] recognises. Only an
/// input that is not a Sysmon log at all, or an EVTX file whose header does
/// not parse, is an error; bad records are warnings in the result.
pub fn read(name: &str, data: &[u8]) -> Result<SysmonLog, SourceError> {
    let Some(format) = sniff(data) else {
        return Err(SourceError::BadHeader {
            name: name.to_string(),
            offset: 0,
            what: format!(
                "not a Sysmon log (EVTX, event XML, JSON lines or document, or syslog); first bytes {}",
                super::magic_hex(data)
            ),
        });
    };
    // UTF-16 text is read as its UTF-8 transcoding: offsets in warnings and
    // events are offsets in that, line numbers are the file's.
    let transcoded = utf16_to_utf8(data);
    let data = transcoded.as_ref().map_or(data, |t| t.as_bytes());
    let mut r = Reader::new(name, format);
    match format {
        SysmonFormat::Evtx => evtx::read(&mut r, data)?,
        SysmonFormat::EventXml => xml::read_document(&mut r, data),
        SysmonFormat::JsonLines => json::read_lines(&mut r, data),
        SysmonFormat::JsonDocument => jsondoc::read(&mut r, data),
        SysmonFormat::Syslog => xml::read_syslog(&mut r, data),
    }
    Ok(r.log)
}

/// The EventData fields portent uses, by their Sysmon names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    UtcTime,
    ProcessGuid,
    ProcessId,
    Image,
    User,
    Initiated,
    Protocol,
    SourceIp,
    SourcePort,
    DestinationIp,
    DestinationPort,
    ParentImage,
    ParentProcessGuid,
    CommandLine,
    TargetObject,
    Details,
}

impl Field {
    pub(crate) const ALL: [Field; 16] = [
        Field::UtcTime,
        Field::ProcessGuid,
        Field::ProcessId,
        Field::Image,
        Field::User,
        Field::Initiated,
        Field::Protocol,
        Field::SourceIp,
        Field::SourcePort,
        Field::DestinationIp,
        Field::DestinationPort,
        Field::ParentImage,
        Field::ParentProcessGuid,
        Field::CommandLine,
        Field::TargetObject,
        Field::Details,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::UtcTime => "UtcTime",
            Field::ProcessGuid => "ProcessGuid",
            Field::ProcessId => "ProcessId",
            Field::Image => "Image",
            Field::User => "User",
            Field::Initiated => "Initiated",
            Field::Protocol => "Protocol",
            Field::SourceIp => "SourceIp",
            Field::SourcePort => "SourcePort",
            Field::DestinationIp => "DestinationIp",
            Field::DestinationPort => "DestinationPort",
            Field::ParentImage => "ParentImage",
            Field::ParentProcessGuid => "ParentProcessGuid",
            Field::CommandLine => "CommandLine",
            Field::TargetObject => "TargetObject",
            Field::Details => "Details",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == s)
    }
}

/// One event record as a format gives it, before judging: System values
/// and the EventData fields of [`Field`], as text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Raw {
    pub provider: Option<String>,
    pub provider_guid: Option<String>,
    pub channel: Option<String>,
    pub event_id: Option<String>,
    pub computer: Option<String>,
    /// `TimeCreated/@SystemTime`, `@timestamp`.
    pub system_time: Option<String>,
    pub data: [Option<String>; Field::ALL.len()],
}

impl Raw {
    pub(crate) fn set(&mut self, f: Field, v: String) {
        self.data[f as usize] = Some(v);
    }

    fn get(&self, f: Field) -> Option<&str> {
        self.data[f as usize].as_deref()
    }

    fn is_sysmon(&self) -> bool {
        let named = |s: &Option<String>, names: &[&str]| {
            s.as_deref()
                .is_some_and(|v| names.iter().any(|n| v.trim().eq_ignore_ascii_case(n)))
        };
        // A provider's name or GUID, when given, decides; the channel only
        // when neither is (a forwarded event keeps its provider but not its
        // channel).
        if self.provider.is_some() || self.provider_guid.is_some() {
            let guid = self.provider_guid.as_deref().map(|g| {
                g.trim()
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .to_string()
            });
            return named(
                &self.provider,
                &["Microsoft-Windows-Sysmon", "Linux-Sysmon"],
            ) || named(&guid, &[SYSMON_PROVIDER_GUID]);
        }
        named(
            &self.channel,
            &[
                "Microsoft-Windows-Sysmon/Operational",
                "Linux-Sysmon/Operational",
            ],
        )
    }
}

/// What one record turned out to be.
pub(crate) enum Verdict {
    Kept(Box<SysmonEvent>),
    OtherId,
    OtherProvider { same_id: bool, unnamed: bool },
}

/// Where a record is, for events and warnings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct At {
    /// 0 when not known (an EVTX record whose header is broken).
    pub record: u64,
    pub offset: u64,
}

/// Judges one record: Sysmon or not, kept or not, and its values parsed.
/// `Err` is a record that cannot be used at all; `bad` collects the values
/// that did not parse (the event is kept without them).
pub(crate) fn judge(raw: &Raw, at: At, bad: &mut Vec<String>) -> Result<Verdict, String> {
    let id_text = raw.event_id.as_deref().map(str::trim);
    let event_id: u16 = match id_text {
        None => return Err("no EventID".into()),
        Some(t) => t
            .parse()
            .map_err(|_| format!("EventID {t:?} is not a number"))?,
    };
    if !raw.is_sysmon() {
        return Ok(Verdict::OtherProvider {
            same_id: KEPT_EVENT_IDS.contains(&event_id),
            unnamed: raw.provider.is_none() && raw.provider_guid.is_none() && raw.channel.is_none(),
        });
    }
    if !KEPT_EVENT_IDS.contains(&event_id) {
        return Ok(Verdict::OtherId);
    }
    let ts = match (raw.get(Field::UtcTime), raw.system_time.as_deref()) {
        (Some(u), sys) => match parse_log_time(u) {
            Some(ts) => ts,
            None => {
                bad.push(format!("UtcTime {u:?}"));
                sys.and_then(parse_log_time)
                    .ok_or_else(|| format!("no usable time (UtcTime {u:?})"))?
            }
        },
        (None, Some(s)) => {
            parse_log_time(s).ok_or_else(|| format!("no usable time (system time {s:?})"))?
        }
        (None, None) => return Err("no time (UtcTime or system time)".into()),
    };
    let text = |f: Field| value(raw.get(f)).map(str::to_string);
    let parsed = |f: Field, bad: &mut Vec<String>, ok: &dyn Fn(&str) -> bool| {
        let v = value(raw.get(f))?;
        if ok(v) {
            Some(v)
        } else {
            bad.push(format!("{} {v:?}", f.name()));
            None
        }
    };
    let num = |f: Field, bad: &mut Vec<String>| -> Option<u64> {
        let v = value(raw.get(f))?;
        match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                bad.push(format!("{} {v:?}", f.name()));
                None
            }
        }
    };
    let port = |f: Field, bad: &mut Vec<String>| {
        num(f, bad).and_then(|n| {
            let p = u16::try_from(n).ok();
            if p.is_none() {
                bad.push(format!("{} {n}", f.name()));
            }
            p
        })
    };
    let ip = |f: Field, bad: &mut Vec<String>| {
        let v = value(raw.get(f))?;
        let r = parse_ip(v);
        if r.is_none() {
            bad.push(format!("{} {v:?}", f.name()));
        }
        r
    };
    let guid = |f: Field, bad: &mut Vec<String>| {
        parsed(f, bad, &|v| normalise_guid(v).is_some()).and_then(normalise_guid)
    };
    let pid = num(Field::ProcessId, bad).and_then(|n| {
        let p = u32::try_from(n).ok();
        if p.is_none() {
            bad.push(format!("ProcessId {n}"));
        }
        p
    });
    let initiated = parsed(Field::Initiated, bad, &|v| {
        v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
    })
    .map(|v| v.eq_ignore_ascii_case("true"));
    let ev = SysmonEvent {
        event_id,
        ts,
        host: value(raw.computer.as_deref()).map(str::to_string),
        record: at.record,
        offset: at.offset,
        process_guid: guid(Field::ProcessGuid, bad),
        pid,
        image: text(Field::Image),
        user: text(Field::User),
        initiated,
        protocol: text(Field::Protocol).map(|p| p.to_ascii_lowercase()),
        src: ip(Field::SourceIp, bad),
        sport: port(Field::SourcePort, bad),
        dst: ip(Field::DestinationIp, bad),
        dport: port(Field::DestinationPort, bad),
        parent_image: text(Field::ParentImage),
        parent_process_guid: guid(Field::ParentProcessGuid, bad),
        command_line: text(Field::CommandLine),
        target_object: text(Field::TargetObject),
        details: text(Field::Details),
    };
    Ok(Verdict::Kept(Box::new(ev)))
}

/// A value as Sysmon writes it; `-` and empty mean unknown.
fn value(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty() && *v != "-")
}

/// `{297BC33E-...}` or `297bc33e-...` to `{297bc33e-...}`; `None` unless
/// it is 32 hex digits in the 8-4-4-4-12 form.
pub fn normalise_guid(v: &str) -> Option<String> {
    let inner = v.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(inner);
    let groups: Vec<&str> = inner.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| format!("{{{}}}", inner.to_ascii_lowercase()))
}

/// An address as Sysmon writes it: IPv4, IPv6, IPv6 with a zone id
/// (`fe80::1%12`) or in brackets. IPv4-mapped IPv6 is kept as IPv6; the
/// caller judges scope.
pub fn parse_ip(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    let v = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(v);
    let v = v.split_once('%').map_or(v, |(a, _)| a);
    v.parse().ok()
}

/// Collects one input's events, counts and warnings.
pub(crate) struct Reader<'n> {
    pub name: &'n str,
    pub log: SysmonLog,
}

impl<'n> Reader<'n> {
    fn new(name: &'n str, format: SysmonFormat) -> Self {
        Reader {
            name,
            log: SysmonLog {
                format,
                events: Vec::new(),
                stats: SysmonStats::default(),
                warnings: Warnings::default(),
            },
        }
    }

    /// Keeps a warning while the per-reason bound allows; the message is
    /// only formatted then.
    ///
    /// As for captures, the message says what happened; the input's name,
    /// the offset and the record are the warning's own fields, which the run
    /// prints. The message starts with `line N` (text) or `record N` (EVTX
    /// record ID), as "frame" means nothing in a log.
    pub(crate) fn warn(&mut self, reason: &'static str, at: At, message: impl FnOnce() -> String) {
        let unit = if self.log.format == SysmonFormat::Evtx {
            "record"
        } else {
            "line"
        };
        let w = &mut self.log.warnings;
        if w.wants(reason) {
            let message = match at.record {
                0 => message(),
                n => format!("{unit} {n}: {}", message()),
            };
            w.push(Warning {
                reason,
                offset: at.offset,
                frame: (at.record > 0).then_some(at.record),
                message,
            });
        } else {
            w.count_dropped(reason);
        }
    }

    /// Whether a text line is within [`MAX_LINE_LEN`]; a longer one is a
    /// bad record, not read.
    pub(crate) fn line_fits(&mut self, at: At, line: &[u8]) -> bool {
        if line.len() <= MAX_LINE_LEN {
            return true;
        }
        self.bad_record(at, || {
            format!("line of {} bytes, over {MAX_LINE_LEN}", line.len())
        });
        false
    }

    /// A record that could not be parsed at all.
    pub(crate) fn bad_record(&mut self, at: At, what: impl FnOnce() -> String) {
        self.log.stats.bad_records += 1;
        self.warn("bad_event", at, what);
    }

    /// Judges a parsed record and keeps it if it is a Sysmon 1, 3 or 13.
    pub(crate) fn record(&mut self, raw: &Raw, at: At) {
        // Values that did not parse; empty (no allocation) for nearly all.
        let mut bad = Vec::new();
        let verdict = match judge(raw, at, &mut bad) {
            Ok(v) => v,
            Err(why) => return self.bad_record(at, || why),
        };
        let st = &mut self.log.stats;
        st.events_read += 1;
        match verdict {
            Verdict::OtherId => st.other_ids += 1,
            Verdict::OtherProvider { same_id, unnamed } => {
                st.other_provider += 1;
                st.other_provider_same_id += u64::from(same_id);
                if unnamed {
                    st.no_provider += 1;
                    self.warn("no_provider", at, || {
                        "no provider, provider GUID or channel; not taken as Sysmon".to_string()
                    });
                }
            }
            Verdict::Kept(ev) => self.keep(*ev, &bad, at),
        }
    }

    fn keep(&mut self, ev: SysmonEvent, bad: &[String], at: At) {
        let st = &mut self.log.stats;
        if !bad.is_empty() {
            st.bad_fields += 1;
            let id = ev.event_id;
            self.warn("bad_field", at, || {
                format!(
                    "Event ID {id}: values that did not parse, left empty: {}",
                    bad.join(", ")
                )
            });
        }
        let st = &mut self.log.stats;
        if self.log.events.len() >= MAX_EVENTS_PER_FILE {
            st.events_dropped += 1;
            if st.events_dropped == 1 {
                self.warn("too_many_events", at, || {
                    format!(
                        "more than {MAX_EVENTS_PER_FILE} Sysmon events; the rest (from record {}) are counted, not kept",
                        at.record
                    )
                });
            }
            return;
        }
        match ev.event_id {
            1 => st.eid1 += 1,
            3 => st.eid3 += 1,
            _ => st.eid13 += 1,
        }
        self.log.events.push(ev);
    }
}

/// Splits text into lines: where each is (1-based line number, offset of
/// the line's start) and the line without its `\n` or `\r\n`.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = (At, &[u8])> + '_ {
    let bom = data.len() - strip_bom(data).len();
    let mut pos = bom;
    let mut n = 0u64;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let start = pos;
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        pos = end + 1;
        n += 1;
        let mut line = &data[start..end];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        Some((
            At {
                record: n,
                offset: start as u64,
            },
            line,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_normalise_and_junk_does_not() {
        assert_eq!(
            normalise_guid(" {297BC33E-7D2A-5F2B-6003-000000000400} ").as_deref(),
            Some("{297bc33e-7d2a-5f2b-6003-000000000400}")
        );
        assert_eq!(
            normalise_guid("297bc33e-7d2a-5f2b-6003-000000000400").as_deref(),
            Some("{297bc33e-7d2a-5f2b-6003-000000000400}")
        );
        for bad in [
            "",
            "{}",
            "{297bc33e-7d2a-5f2b-6003-00000000040}",
            "zz7bc33e-7d2a-5f2b-6003-000000000400",
        ] {
            assert_eq!(normalise_guid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_as_sysmon_writes_them() {
        let p = |s| parse_ip(s).map(|a| a.to_string());
        assert_eq!(p("10.0.2.18").as_deref(), Some("10.0.2.18"));
        assert_eq!(p("::ffff:10.0.2.18").as_deref(), Some("::ffff:10.0.2.18"));
        assert_eq!(p("fe80::1c2d:3e4f%12").as_deref(), Some("fe80::1c2d:3e4f"));
        assert_eq!(p("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(p("10.0.2"), None);
        assert_eq!(p("-"), None);
    }

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"ElfFile\0rest"), Some(SysmonFormat::Evtx));
        assert_eq!(
            sniff(b"\xef\xbb\xbf<?xml version=\"1.0\"?><Events>"),
            Some(SysmonFormat::EventXml)
        );
        assert_eq!(
            sniff(b"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>"),
            Some(SysmonFormat::EventXml)
        );
        assert_eq!(sniff(b"  {\"winlog\":{}}\n"), Some(SysmonFormat::JsonLines));
        assert_eq!(sniff(b"{\"a\":1}\n"), None);
        assert_eq!(
            sniff(b"<13>Oct 10 12:00:00 host sysmon: <Event><System/></Event>\n"),
            Some(SysmonFormat::Syslog)
        );
        assert_eq!(
            sniff(b"Oct 10 12:00:00 host sysmon: <Event><System/></Event>\n"),
            Some(SysmonFormat::Syslog)
        );
        assert_eq!(sniff(b"Oct 10 12:00:00 host sshd: hello\n"), None);
        assert_eq!(sniff(b"<EventData>"), None);
        // Forwarders' JSON: XML escaped as Azure writes it, arrays,
        // PowerShell's objects, the query API's tables.
        assert_eq!(
            sniff(b"{\"TimeGenerated\":\"2023-10-10T12:00:00Z\",\"SyslogMessage\":\"\\u003cEvent\\u003e\"}\n"),
            Some(SysmonFormat::JsonLines)
        );
        assert_eq!(
            sniff(
                b"[\r\n  {\r\n    \"Id\": 3,\r\n    \"ProviderName\": \"Microsoft-Windows-Sysmon\""
            ),
            Some(SysmonFormat::JsonDocument)
        );
        assert_eq!(
            sniff(b"{\r\n    \"Id\":  3,\r\n    \"ProviderName\":  \"Microsoft-Windows-Sysmon\""),
            Some(SysmonFormat::JsonDocument)
        );
        assert_eq!(
            sniff(b"{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"SyslogMessage\"}],\"rows\":[[\"\\u003cEvent\\u003e"),
            Some(SysmonFormat::JsonDocument)
        );
        // The Syslog table without Sysmon's XML is someone else's log.
        assert_eq!(
            sniff(b"{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"SyslogMessage\"}],\"rows\":[[\"sshd: hello\"]]}]}"),
            None
        );
        assert_eq!(
            sniff(b"[2023-10-10 12:00:00] sysmon: <Event><System/></Event>\n"),
            Some(SysmonFormat::Syslog)
        );
        assert_eq!(sniff(b"[{\"a\":1}]"), None);
        assert_eq!(sniff(b"{\"tables\":[]}"), None);
        assert_eq!(sniff(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00<Event>"), None);
        assert_eq!(sniff(b""), None);
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(
                "<?xml version=\"1.0\"?><Events>"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(sniff(&utf16), Some(SysmonFormat::EventXml));
    }

    fn sysmon_raw(id: &str) -> Raw {
        let mut r = Raw {
            provider: Some("Microsoft-Windows-Sysmon".into()),
            event_id: Some(id.into()),
            system_time: Some("2020-08-06T15:56:22.7701234Z".into()),
            ..Raw::default()
        };
        r.set(Field::UtcTime, "2020-08-06 15:56:22.770".into());
        r
    }

    #[test]
    fn the_provider_decides_before_the_channel() {
        let at = At {
            record: 1,
            offset: 0,
        };
        let mut bad = Vec::new();
        let mut r = sysmon_raw("3");
        r.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
        assert!(matches!(judge(&r, at, &mut bad), Ok(Verdict::Kept(_))));
        r.provider = Some("Microsoft-Windows-Bits-Client".into());
        assert!(matches!(
            judge(&r, at, &mut bad),
            Ok(Verdict::OtherProvider {
                same_id: true,
                unnamed: false
            })
        ));
        r.provider = None;
        r.provider_guid = Some("{5770385f-c22a-43e0-bf4c-06f5698ffbd9}".into());
        assert!(matches!(judge(&r, at, &mut bad), Ok(Verdict::Kept(_))));
        r.provider_guid = None;
        assert!(matches!(judge(&r, at, &mut bad), Ok(Verdict::Kept(_))));
        r.channel = None;
        assert!(matches!(
            judge(&r, at, &mut bad),
            Ok(Verdict::OtherProvider { unnamed: true, .. })
        ));
        assert!(matches!(
            judge(&sysmon_raw("7"), at, &mut bad),
            Ok(Verdict::OtherId)
        ));
        assert!(judge(&sysmon_raw("x"), at, &mut bad).is_err());
    }

    #[test]
    fn bad_values_are_left_empty_and_named() {
        let at = At {
            record: 9,
            offset: 0,
        };
        let mut r = sysmon_raw("3");
        r.set(Field::SourcePort, "70000".into());
        r.set(Field::DestinationPort, "4444".into());
        r.set(Field::SourceIp, "10.0.2.300".into());
        r.set(Field::Initiated, "TRUE".into());
        r.set(Field::ProcessGuid, "nope".into());
        r.set(Field::Image, "-".into());
        let mut bad = Vec::new();
        let Ok(Verdict::Kept(ev)) = judge(&r, at, &mut bad) else {
            panic!("not kept")
        };
        assert_eq!(ev.sport, None);
        assert_eq!(ev.dport, Some(4444));
        assert_eq!(ev.src, None);
        assert_eq!(ev.initiated, Some(true));
        assert_eq!(ev.process_guid, None);
        assert_eq!(ev.image, None);
        assert_eq!(bad.len(), 3, "{bad:?}");
        // A bad UtcTime falls back on the system time.
        let mut r = sysmon_raw("1");
        r.set(Field::UtcTime, "yesterday".into());
        let Ok(Verdict::Kept(ev)) = judge(&r, at, &mut bad) else {
            panic!("not kept")
        };
        assert_eq!(ev.ts.to_string(), "2020-08-06T15:56:22.770123400Z");
        r.system_time = None;
        assert!(judge(&r, at, &mut bad).is_err());
    }
}
