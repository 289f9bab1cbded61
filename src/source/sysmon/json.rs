//! Sysmon events as JSON records, in the shapes the shippers write.
//!
//! The same event reaches a SIEM under different keys depending on what
//! shipped it, so each record is recognised by its keys, never by a setting
//! or a file name. Records come one per line (here, [`read_lines`]) or as
//! the elements of one JSON document (`jsondoc.rs`: an array, or the rows of
//! a Log Analytics query API response); either way each object is judged by
//! [`read_object`], trying the shapes in the order of this table:
//!
//! | shape | Event ID | provider / channel | host | EventData |
//! |---|---|---|---|---|
//! | winlogbeat 7+ / ECS | `winlog.event_id` | `winlog.provider_name`, `winlog.provider_guid`, `winlog.channel` | `winlog.computer_name` (`host.name`) | `winlog.event_data.*`, else the ECS fields the sysmon module renames them to (`process.executable`, `destination.port`, `user.name` …) |
//! | winlogbeat 6 | `event_id` | `source_name`, `provider_guid`, `log_name` | `computer_name` | `event_data.*` |
//! | NXLog, OTRF/Mordor datasets (flat) | `EventID` | `SourceName`, `ProviderGuid`, `Channel` | `Hostname` | top level |
//! | evtx_dump JSON | `Event.System.EventID` (number or `#text`) | `Event.System.Provider.#attributes.Name`/`Guid`, `Event.System.Channel` | `Event.System.Computer` | `Event.EventData.*` |
//! | `Get-WinEvent \| ConvertTo-Json` (Windows PowerShell 5 and PowerShell 7; `winevent.rs`) | `Id` | `ProviderName`, `ProviderId`, `LogName` | `MachineName` | the `Name: value` lines of the rendered `Message`, else `Properties[].Value` by Sysmon's EventData order (checked) |
//! | journald / syslog as JSON | – | – | – | an `<Event>` in `MESSAGE` or `message` |
//! | Azure Monitor / Microsoft Sentinel `Syslog` table (lines, portal array, query API rows) | – | – | – | an `<Event>` in `SyslogMessage` |
//! | rsyslog / syslog-ng JSON templates | – | – | – | an `<Event>` in `msg`, `message`, `MESSAGE`, `rawmsg` or `@message` |
//! | Graylog GELF | – | – | – | an `<Event>` in `full_message`, `short_message` or `message` |
//!
//! In the last four, everything comes from the event XML, found anywhere in
//! the string (after a syslog header too), as in syslog text: the wrapper's
//! host (`Computer`, `HostName`, `host`) and time (`TimeGenerated`, GELF's
//! epoch `timestamp`) are the forwarder's, not the event's, and are not
//! used. JSON escapes (`\u003cEvent\u003e`, `\"`) are undone by the JSON
//! parser before the XML is looked for.
//!
//! Keys may also come flattened with dots (`"winlog.event_data.Image"`), as
//! some exports write them. The time is `UtcTime` from the EventData, else
//! `@timestamp` or `TimeCreated` (PowerShell's in either of its forms, see
//! `winevent.rs`; NXLog's `EventTime` is local time without a zone, and is
//! not used).

use serde_json::{Map, Value};

use super::xml::{event_start, read_embedded};
use super::{lines, winevent, At, Field, Raw, Reader};

/// Keys a forwarder keeps the log line under, in the order they are tried:
/// Azure Monitor's `Syslog` table; journald (`MESSAGE`) and Filebeat/ECS
/// (`message`); rsyslog's and syslog-ng's templates (`msg`, `rawmsg` with
/// the syslog header, `@message`); Graylog GELF (`full_message`, else the
/// first line in `short_message`).
const MESSAGE_KEYS: [&str; 9] = [
    "SyslogMessage",
    "MESSAGE",
    "message",
    "Message",
    "msg",
    "rawmsg",
    "@message",
    "full_message",
    "short_message",
];

pub(crate) fn read_lines(r: &mut Reader<'_>, data: &[u8]) {
    for (at, line) in lines(data) {
        if !r.line_fits(at, line) {
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        read_json(r, line, at, "");
    }
}

/// Reads one JSON record (a line, an element of an array); `what` names
/// it in warnings when a line number alone would not (`element 3: `).
pub(crate) fn read_json(r: &mut Reader<'_>, json: &[u8], at: At, what: &str) {
    let v: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => return r.bad_record(at, || format!("{what}not JSON: {e}")),
    };
    match v.as_object() {
        Some(o) => read_object(r, o, at, what),
        None => r.bad_record(at, || format!("{what}not a JSON object")),
    }
}

/// Judges one JSON object in whichever shape it is (the module's table).
pub(crate) fn read_object(r: &mut Reader<'_>, o: &Map<String, Value>, at: At, what: &str) {
    if let Some(raw) = raw_from_object(o) {
        return r.record(&raw, at);
    }
    if winevent::is_winevent(o) {
        return match winevent::raw_from_winevent(o) {
            Ok(raw) => r.record(&raw, at),
            Err(why) => r.bad_record(at, || format!("{what}{why}")),
        };
    }
    match embedded_xml(o) {
        Some(text) => read_embedded(r, text.as_bytes(), at),
        // Another program's record in a journald or syslog export
        // (or a shipper's heartbeat): counted, as in syslog text.
        None => r.log.stats.other_lines += 1,
    }
}

/// The `<Event>` XML a syslog-as-JSON record carries, if any.
fn embedded_xml(o: &Map<String, Value>) -> Option<&str> {
    MESSAGE_KEYS
        .iter()
        .filter_map(|k| o.get(*k)?.as_str())
        .find(|s| event_start(s.as_bytes(), 0).is_some())
}

/// The value at a dotted path, nested (`{"winlog":{"event_id":3}}`),
/// flattened (`{"winlog.event_id":3}`) or a mix of the two.
fn get<'v>(o: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    if let Some(v) = o.get(path) {
        return Some(v);
    }
    for (i, _) in path.match_indices('.') {
        if let Some(inner) = o.get(&path[..i]).and_then(Value::as_object) {
            if let Some(v) = get(inner, &path[i + 1..]) {
                return Some(v);
            }
        }
    }
    None
}

/// A JSON scalar as the text an XML event would have had; evtx_dump's
/// `{"#text": …}` objects are unwrapped.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => o.get("#text").and_then(text),
        _ => None,
    }
}

fn first(o: &Map<String, Value>, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| get(o, p).and_then(text))
}

/// Fills the EventData fields from the object at `prefix` (or from
/// flattened `prefix.Name` keys, or the top level for an empty prefix).
fn data(o: &Map<String, Value>, prefix: &str, raw: &mut Raw) {
    let obj = if prefix.is_empty() {
        Some(o)
    } else {
        get(o, prefix).and_then(Value::as_object)
    };
    match obj {
        Some(d) => {
            for f in Field::ALL {
                if let Some(v) = d.get(f.name()).and_then(text) {
                    raw.set(f, v);
                }
            }
        }
        None => {
            for f in Field::ALL {
                if let Some(v) = get(o, &format!("{prefix}.{}", f.name())).and_then(text) {
                    raw.set(f, v);
                }
            }
        }
    }
}

/// Where winlogbeat's sysmon module (and Elastic Agent's Windows
/// integration) moves EventData values: it renames them out of
/// `winlog.event_data` into ECS fields.
const ECS_FIELDS: [(Field, &str); 12] = [
    (Field::ProcessGuid, "process.entity_id"),
    (Field::ProcessId, "process.pid"),
    (Field::Image, "process.executable"),
    (Field::CommandLine, "process.command_line"),
    (Field::ParentImage, "process.parent.executable"),
    (Field::ParentProcessGuid, "process.parent.entity_id"),
    (Field::Protocol, "network.transport"),
    (Field::SourceIp, "source.ip"),
    (Field::SourcePort, "source.port"),
    (Field::DestinationIp, "destination.ip"),
    (Field::DestinationPort, "destination.port"),
    (Field::TargetObject, "registry.path"),
];

/// Fills what `winlog.event_data` no longer has from the ECS fields. The
/// module also splits `User` into `user.domain` and `user.name`, turns
/// `Initiated` into `network.direction`, `CommandLine` into `process.args`
/// (older versions) and `Details` into `registry.data.strings`; those are
/// put back as Sysmon wrote them (the command line re-joined with spaces,
/// the best that can be done once it was split).
fn ecs(o: &Map<String, Value>, raw: &mut Raw) {
    for (f, path) in ECS_FIELDS {
        if raw.get(f).is_none() {
            if let Some(v) = get(o, path).and_then(text) {
                raw.set(f, v);
            }
        }
    }
    if raw.get(Field::User).is_none() {
        let name = first(o, &["user.name"]);
        let domain = first(o, &["user.domain"]);
        match (domain, name) {
            (Some(d), Some(n)) => raw.set(Field::User, format!("{d}\\{n}")),
            (None, Some(n)) => raw.set(Field::User, n),
            _ => {}
        }
    }
    if raw.get(Field::Initiated).is_none() {
        let dir = first(o, &["network.direction"]).map(|d| d.to_ascii_lowercase());
        match dir.as_deref() {
            Some("outbound" | "egress") => raw.set(Field::Initiated, "true".into()),
            Some("inbound" | "ingress") => raw.set(Field::Initiated, "false".into()),
            _ => {}
        }
    }
    let strings = |path: &str, sep: &str| {
        let a = get(o, path)?.as_array()?;
        let parts: Vec<String> = a.iter().filter_map(text).collect();
        (!parts.is_empty()).then(|| parts.join(sep))
    };
    if raw.get(Field::CommandLine).is_none() {
        if let Some(v) = strings("process.args", " ") {
            raw.set(Field::CommandLine, v);
        }
    }
    if raw.get(Field::Details).is_none() {
        if let Some(v) = strings("registry.data.strings", ", ") {
            raw.set(Field::Details, v);
        }
    }
}

/// The event in a shipper's JSON object, or `None` when it has no Event ID
/// under any known key.
fn raw_from_object(o: &Map<String, Value>) -> Option<Raw> {
    let mut raw = Raw::default();
    if let Some(id) = first(o, &["winlog.event_id"]) {
        // winlogbeat 7+, ECS.
        raw.event_id = Some(id);
        raw.provider = first(o, &["winlog.provider_name"]);
        raw.provider_guid = first(o, &["winlog.provider_guid"]);
        raw.channel = first(o, &["winlog.channel"]);
        raw.computer = first(o, &["winlog.computer_name", "host.name", "host.hostname"]);
        raw.system_time = first(o, &["@timestamp"]);
        data(o, "winlog.event_data", &mut raw);
        ecs(o, &mut raw);
    } else if let Some(id) = first(o, &["Event.System.EventID"]) {
        // evtx_dump JSON.
        raw.event_id = Some(id);
        raw.provider = first(
            o,
            &[
                "Event.System.Provider.#attributes.Name",
                "Event.System.Provider_attributes.Name",
            ],
        );
        raw.provider_guid = first(
            o,
            &[
                "Event.System.Provider.#attributes.Guid",
                "Event.System.Provider_attributes.Guid",
            ],
        );
        raw.channel = first(o, &["Event.System.Channel"]);
        raw.computer = first(o, &["Event.System.Computer"]);
        raw.system_time = first(
            o,
            &[
                "Event.System.TimeCreated.#attributes.SystemTime",
                "Event.System.TimeCreated_attributes.SystemTime",
            ],
        );
        data(o, "Event.EventData", &mut raw);
    } else if let Some(id) = first(o, &["EventID", "EventId", "event_id"]) {
        // NXLog and the datasets (flat), winlogbeat 6.
        raw.event_id = Some(id);
        raw.provider = first(
            o,
            &["SourceName", "ProviderName", "source_name", "provider_name"],
        );
        raw.provider_guid = first(o, &["ProviderGuid", "provider_guid"]);
        raw.channel = first(o, &["Channel", "log_name", "channel"]);
        raw.computer = first(
            o,
            &["Hostname", "Computer", "ComputerName", "computer_name"],
        );
        raw.system_time = first(o, &["@timestamp", "TimeCreated", "SystemTime"]);
        if o.get("event_data").is_some_and(Value::is_object) {
            data(o, "event_data", &mut raw);
        } else {
            data(o, "", &mut raw);
        }
    } else {
        return None;
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> Map<String, Value> {
        serde_json::from_str::<Value>(s)
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn nested_flattened_and_mixed_paths() {
        let o =
            obj(r#"{"winlog":{"event_data":{"Image":"a"}},"winlog.event_id":3,"x.y":{"z":true}}"#);
        assert_eq!(get(&o, "winlog.event_data.Image"), Some(&Value::from("a")));
        assert_eq!(get(&o, "winlog.event_id"), Some(&Value::from(3)));
        assert_eq!(get(&o, "x.y.z"), Some(&Value::from(true)));
        assert_eq!(get(&o, "winlog.nothing"), None);
    }

    #[test]
    fn evtx_dump_json_shape() {
        let o = obj(
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},"EventID":{"#attributes":{"Qualifiers":""},"#text":3},"Computer":"PC","TimeCreated":{"#attributes":{"SystemTime":"2019-03-18T16:57:38.636387Z"}}},"EventData":{"Image":"C:\\x.exe","SourcePort":49717}}}"##,
        );
        let raw = raw_from_object(&o).unwrap();
        assert_eq!(raw.event_id.as_deref(), Some("3"));
        assert_eq!(raw.provider.as_deref(), Some("Microsoft-Windows-Sysmon"));
        assert_eq!(raw.computer.as_deref(), Some("PC"));
        assert_eq!(raw.get(Field::Image), Some(r"C:\x.exe"));
        assert_eq!(raw.get(Field::SourcePort), Some("49717"));
    }
}
