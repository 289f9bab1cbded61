//! `Get-WinEvent | ConvertTo-Json`: PowerShell's event objects.
//!
//! PowerShell serialises each `EventLogRecord` with its .NET property names:
//!
//! ```text
//! { "Id": 3, "ProviderName": "Microsoft-Windows-Sysmon",
//!   "ProviderId": "5770385f-c22a-43e0-bf4c-06f5698ffbd9",
//!   "LogName": "Microsoft-Windows-Sysmon/Operational",
//!   "MachineName": "WS01", "TimeCreated": "\/Date(1700000000000)\/",
//!   "Message": "Network connection detected:\r\nRuleName: -\r\nUtcTime: …",
//!   "Properties": [ { "Value": "-" }, { "Value": "2023-…" }, … ], … }
//! ```
//!
//! `TimeCreated` is `\/Date(ms since 1970)\/` in Windows PowerShell 5 (or an
//! object whose `value` is that, when the date went through the pipeline),
//! an ISO 8601 string with the local offset in PowerShell 7.
//!
//! The EventData is there twice. `Message` is the event rendered with the
//! provider's template: a summary line, then `Name: value` per field in
//! EventData order, so it names its fields whatever the schema version.
//! `Properties` holds the bare values in EventData order, without names:
//! reading them needs the layout of the Sysmon version that wrote the event
//! (`RuleName`, `OriginalFileName`, `ParentUser`, the registry events'
//! `User` were added over the versions). So `Message` is read when it names any field, and
//! `Properties` only when it does not (PowerShell renders no message on a
//! machine without Sysmon's manifest), matched against [`LAYOUTS`] by their
//! number and then checked: the `UtcTime` slot must be a time and the
//! `ProcessGuid` slot a GUID, else the record is a bad record rather than
//! values under the wrong names.

use serde_json::{Map, Value};

// Through the parent, which names the crate's time module for the module.
use super::{normalise_guid, parse_log_time, Field, Raw, Ts, KEPT_EVENT_IDS};

/// EventData names, in Sysmon's order, of the newest schema of each kept
/// Event ID. Every older layout is this one with fields left out, never
/// reordered.
const EID1_NAMES: [&str; 23] = [
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "OriginalFileName",
    "CommandLine",
    "CurrentDirectory",
    "User",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "IntegrityLevel",
    "Hashes",
    "ParentProcessGuid",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
    "ParentUser",
];
const EID3_NAMES: [&str; 18] = [
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "User",
    "Protocol",
    "Initiated",
    "SourceIsIpv6",
    "SourceIp",
    "SourceHostname",
    "SourcePort",
    "SourcePortName",
    "DestinationIsIpv6",
    "DestinationIp",
    "DestinationHostname",
    "DestinationPort",
    "DestinationPortName",
];
const EID13_NAMES: [&str; 9] = [
    "RuleName",
    "EventType",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "TargetObject",
    "Details",
    "User",
];

/// The EventData layouts of the Sysmon versions in use, by Event ID, as
/// which names of the newest layout they leave out. Each has a different
/// number of fields, which is how `Properties` is matched to one.
/// (Layouts seen in the EVTX samples of `shared/data/sysmon`: EID 1 with
/// 16, 21 and 22 fields, EID 3 with 17 and 18, EID 13 with 7 and 8; the
/// others are Sysmon's documented schema.)
const LAYOUTS: [(u16, &[&str]); 10] = [
    (1, &[]),
    (1, &["ParentUser"]),
    (1, &["ParentUser", "OriginalFileName"]),
    (1, &["ParentUser", "OriginalFileName", "RuleName"]),
    // The oldest: no file version information either.
    (
        1,
        &[
            "ParentUser",
            "OriginalFileName",
            "RuleName",
            "FileVersion",
            "Description",
            "Product",
            "Company",
        ],
    ),
    (3, &[]),
    (3, &["RuleName"]),
    (13, &[]),
    (13, &["User"]),
    (13, &["User", "RuleName"]),
];

/// Every EventData name of a kept Event ID, in order.
fn names(event_id: u16) -> &'static [&'static str] {
    match event_id {
        1 => &EID1_NAMES,
        3 => &EID3_NAMES,
        _ => &EID13_NAMES,
    }
}

/// Whether an object is one of PowerShell's event records: an `Id` and the
/// provider's name or GUID under .NET's property names.
pub(crate) fn is_winevent(o: &Map<String, Value>) -> bool {
    o.contains_key("Id") && (o.contains_key("ProviderName") || o.contains_key("ProviderId"))
}

/// A value as text; one PowerShell may have wrapped is unwrapped:
/// `{"Value": …}` (an `EventProperty`), `{"Guid": …}` (a GUID in Windows
/// PowerShell 5), `{"value": …}` (a date that went through the pipeline).
/// (Not `json::text`: `json.rs` reads this module's records, and imports
/// between the two would go both ways.)
fn unwrapped(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => ["Value", "value", "Guid"]
            .iter()
            .find_map(|k| o.get(*k))
            .and_then(unwrapped),
        _ => None,
    }
}

/// `\/Date(1700000000000)\/` (milliseconds since 1970, UTC, with an
/// optional `+hhmm` that says the local zone but does not change the
/// instant) as RFC 3339; any other text as it is (PowerShell 7's ISO 8601).
fn time_created(v: &Value) -> Option<String> {
    let s = unwrapped(v)?;
    let Some(inner) = s
        .trim()
        .strip_prefix("/Date(")
        .and_then(|r| r.strip_suffix(")/"))
    else {
        return Some(s);
    };
    let digits_end = inner
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(inner.len(), |(i, _)| i);
    let ms: i64 = inner[..digits_end].parse().ok()?;
    let ts = Ts::from_parts(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    );
    Some(ts.to_string())
}

/// The event in one of PowerShell's records. `Err` when it is a Sysmon 1,
/// 3 or 13 whose EventData cannot be read from either `Message` or
/// `Properties`.
pub(crate) fn raw_from_winevent(o: &Map<String, Value>) -> Result<Raw, String> {
    let get = |k: &str| o.get(k).and_then(unwrapped);
    let mut raw = Raw {
        event_id: get("Id"),
        provider: get("ProviderName"),
        provider_guid: get("ProviderId"),
        channel: get("LogName"),
        computer: get("MachineName"),
        system_time: o.get("TimeCreated").and_then(time_created),
        ..Raw::default()
    };
    let id = raw.event_id.as_deref().and_then(|i| i.trim().parse().ok());
    let Some(id) = id.filter(|i| KEPT_EVENT_IDS.contains(i) && raw.is_sysmon()) else {
        // Not one portent reads: judged (and counted) on its System values.
        return Ok(raw);
    };
    let message = o.get("Message").and_then(Value::as_str).unwrap_or("");
    if from_message(message, id, &mut raw) {
        return Ok(raw);
    }
    let props = o.get("Properties").and_then(Value::as_array);
    match props {
        Some(p) => from_properties(p, id, &mut raw).map(|()| raw),
        None => Err(format!(
            "Event ID {id}: no field in Message and no Properties"
        )),
    }
}

/// Reads the `Name: value` lines of a rendered message. A line is a field
/// only when it names a field of this Event ID that comes after the last
/// one read (the template's order); any other line continues the last
/// value (a command line with a line break), so a value cannot pass for a
/// field that came before it. `false` when no field was named (a message
/// Windows could not render, or none).
fn from_message(message: &str, id: u16, raw: &mut Raw) -> bool {
    let names = names(id);
    let sep = if message.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    // (index in `names`, value)
    let mut fields: Vec<(usize, String)> = Vec::new();
    for line in message.split(sep) {
        let named = line.split_once(':').and_then(|(name, v)| {
            let i = names.iter().position(|n| *n == name)?;
            let after_last = fields.last().is_none_or(|(last, _)| i > *last);
            after_last.then(|| (i, v.strip_prefix(' ').unwrap_or(v).to_string()))
        });
        match (named, fields.last_mut()) {
            (Some(f), _) => fields.push(f),
            (None, Some((_, v))) => {
                v.push_str(sep);
                v.push_str(line);
            }
            // The summary line ("Network connection detected:").
            (None, None) => {}
        }
    }
    for (i, v) in &fields {
        if let Some(f) = Field::from_name(names[*i]) {
            raw.set(f, v.clone());
        }
    }
    !fields.is_empty()
}

/// Reads `Properties` by the layout with as many fields, if its `UtcTime`
/// is a time and its `ProcessGuid` a GUID.
fn from_properties(props: &[Value], id: u16, raw: &mut Raw) -> Result<(), String> {
    let values: Vec<Option<String>> = props.iter().map(unwrapped).collect();
    let all = names(id);
    let layouts = LAYOUTS
        .iter()
        .filter(|(eid, _)| *eid == id)
        .map(|(_, left_out)| {
            all.iter()
                .copied()
                .filter(|n| !left_out.contains(n))
                .collect::<Vec<_>>()
        });
    for layout in layouts.filter(|l| l.len() == values.len()) {
        let slot = |name: &str| {
            let i = layout.iter().position(|n| *n == name)?;
            values[i].as_deref()
        };
        let time_ok = slot("UtcTime").is_some_and(|t| parse_log_time(t).is_some());
        let guid_ok = slot("ProcessGuid").is_some_and(|g| normalise_guid(g).is_some());
        if !(time_ok && guid_ok) {
            continue;
        }
        for (name, v) in layout.iter().zip(&values) {
            if let (Some(f), Some(v)) = (Field::from_name(name), v) {
                raw.set(f, v.clone());
            }
        }
        return Ok(());
    }
    Err(format!(
        "Event ID {id}: no Message, and {} Properties fit no Sysmon layout of that ID (a time in UtcTime, a GUID in ProcessGuid)",
        values.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_powershell_forms() {
        let t = |s: &str| time_created(&Value::from(s));
        assert_eq!(
            t("/Date(1700000000123)/").as_deref(),
            Some("2023-11-14T22:13:20.123000Z")
        );
        assert_eq!(
            t("/Date(1700000000123+0100)/").as_deref(),
            Some("2023-11-14T22:13:20.123000Z")
        );
        assert_eq!(
            t("/Date(-1000)/").as_deref(),
            Some("1969-12-31T23:59:59.000000Z")
        );
        assert_eq!(
            t("2023-11-14T23:13:20.1234567+01:00").as_deref(),
            Some("2023-11-14T23:13:20.1234567+01:00")
        );
        assert_eq!(t("/Date(x)/"), None);
        let wrapped: Value =
            serde_json::from_str(r#"{"value":"\/Date(1700000000000)\/","DisplayHint":2}"#).unwrap();
        assert_eq!(
            time_created(&wrapped).as_deref(),
            Some("2023-11-14T22:13:20.000000Z")
        );
    }

    #[test]
    fn every_layout_has_its_own_length_and_keeps_the_order() {
        let mut seen = std::collections::HashSet::new();
        for (id, left_out) in LAYOUTS {
            let all = names(id);
            assert!(left_out.iter().all(|n| all.contains(n)), "{left_out:?}");
            assert!(seen.insert((id, all.len() - left_out.len())), "{id}");
            assert!(all.contains(&"UtcTime") && all.contains(&"ProcessGuid"));
        }
    }

    #[test]
    fn a_value_cannot_pass_for_an_earlier_field() {
        let msg = "Process Create:\r\nRuleName: -\r\nUtcTime: 2020-08-06 15:56:14.044\r\nImage: C:\\a.exe\r\nCommandLine: a.exe\r\nImage: C:\\evil.exe\r\nUser: X\\y";
        let mut raw = Raw::default();
        assert!(from_message(msg, 1, &mut raw));
        assert_eq!(raw.get(Field::Image), Some("C:\\a.exe"));
        assert_eq!(
            raw.get(Field::CommandLine),
            Some("a.exe\r\nImage: C:\\evil.exe")
        );
        assert_eq!(raw.get(Field::User), Some("X\\y"));
        let mut raw = Raw::default();
        assert!(!from_message(
            "The description for Event ID 3 from source Microsoft-Windows-Sysmon cannot be found.",
            3,
            &mut raw
        ));
    }
}
