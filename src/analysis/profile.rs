//! The five seed detections as written (DETECTION.md §11).
//!
//! portent's own model (§3–§6) merges the five production queries it was
//! derived from into one. A detection engineer who holds one of those
//! queries asks something else: what would *my* rule have fired on, on this
//! evidence? The five disagree, on purpose or by accident: which events
//! they read (`Initiated`, IPv4 only, the last day), which destinations
//! they drop, how they match a process name (substring, end of string,
//! after a path separator, whole file name), whether `svchost.exe` is
//! high-risk, how they score and how they group. This module restates each
//! query, quirks included, over the rows the query's index would hold: the
//! Sysmon Event ID 3 events portent read (a capture or flow attempt joined
//! to one is that same row), with the parent image from the Event ID 1 of
//! the same `ProcessGuid`. It returns ordinary [`Finding`]s, one per the
//! query's group, for the existing reports.
//!
//! The port lists and the high-risk names are the shipped defaults
//! (`policy/default.toml`), the lists the queries were read from, not the
//! run's policy: a policy file edits portent's model, not the queries.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use hashbrown::HashMap;
use serde::Serialize;

use crate::analysis::group::{Finding, GroupKey};
use crate::analysis::join::LoggedEvent;
use crate::policy::{image_basename, Policy, PortSet};
use crate::source::sysmon::SysmonEvent;
use crate::time::Ts;

/// One of the five seed queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// Splunk SPL.
    Splunk,
    /// Google Chronicle YARA-L.
    Chronicle,
    /// CrowdStrike LogScale.
    LogScale,
    /// IBM QRadar AQL.
    QRadar,
    /// Sumo Logic CSE.
    Sumo,
}

impl Profile {
    pub const ALL: [Profile; 5] = [
        Profile::Splunk,
        Profile::Chronicle,
        Profile::LogScale,
        Profile::QRadar,
        Profile::Sumo,
    ];

    /// The name `--profile` takes.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Splunk => "splunk",
            Profile::Chronicle => "chronicle",
            Profile::LogScale => "logscale",
            Profile::QRadar => "qradar",
            Profile::Sumo => "sumo",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

/// Chronicle's bucket: per host, tumbling five-minute windows.
pub const CHRONICLE_WINDOW: Ts = Ts(300 * Ts::NANOS_PER_SEC);

/// QRadar's `LAST 1 DAYS`.
pub const QRADAR_SPAN: Ts = Ts(86_400 * Ts::NANOS_PER_SEC);

/// QRadar's `LIMIT 500`.
pub const QRADAR_LIMIT: usize = 500;

/// LogScale's `collect(..., limit=10)` on the remote address.
pub const LOGSCALE_MAX_REMOTE_IPS: usize = 10;

/// LogScale's `collect(..., limit=20)` on the remote port.
pub const LOGSCALE_MAX_PORTS: usize = 20;

/// How a profile is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileOptions {
    pub profile: Profile,
    /// QRadar's "now": the end of its last day. `None`: the newest event
    /// time among the Sysmon events read.
    pub now: Option<Ts>,
}

/// What running a profile did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProfileStats {
    pub profile: &'static str,
    /// Sysmon Event ID 3 TCP events with both destination fields: the rows
    /// the query searches.
    pub rows: u64,
    /// Rows the query's conditions kept (before QRadar's limit).
    pub matched: u64,
    /// Rows past QRadar's `LIMIT 500`.
    pub over_limit: u64,
    /// QRadar: the end of the last day searched (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    /// Attempts from captures or flows no Sysmon event was joined to: not
    /// in the index any of the queries search.
    pub attempts_without_event: u64,
}

/// One Sysmon Event ID 3 as the query's index holds it.
#[derive(Clone, Debug)]
struct Row<'a> {
    ts: Ts,
    host: Option<&'a str>,
    image: Option<&'a str>,
    user: Option<&'a str>,
    parent_image: Option<&'a str>,
    initiated: Option<bool>,
    src: Option<IpAddr>,
    dst: IpAddr,
    dport: u16,
    input: u32,
    record: u64,
}

impl Row<'_> {
    /// The host field, or the source address when the event names none (as
    /// portent's grouping does, §6).
    fn host(&self) -> String {
        match (self.host, self.src) {
            (Some(h), _) => h.to_string(),
            (None, Some(s)) => s.to_string(),
            (None, None) => "-".to_string(),
        }
    }
}

/// The lists the queries were read from.
struct Lists {
    known_c2: PortSet,
    standard: PortSet,
    /// Lower-cased file names, svchost.exe included.
    high_risk: BTreeSet<String>,
}

impl Lists {
    fn shipped() -> Lists {
        let p = Policy::default();
        Lists {
            known_c2: p.known_c2,
            standard: p.standard,
            high_risk: p.high_risk,
        }
    }

    /// The high-risk names less `without`.
    fn names(&self, without: &[&str]) -> Vec<&str> {
        self.high_risk
            .iter()
            .map(String::as_str)
            .filter(|n| !without.contains(n))
            .collect()
    }
}

/// How a query matches a high-risk name against the image.
#[derive(Clone, Copy)]
enum NameMatch {
    /// Anywhere in the path (`cmd.exe.bak`, `notcmd.exe`).
    Substring,
    /// At the end of the path (`notcmd.exe`, not `cmd.exe.bak`).
    EndsWith,
    /// At the end, right after `\` or `/` (not a bare `cmd.exe`).
    AfterSeparator,
    /// The file name after the last separator, whole (portent's, §4).
    Basename,
}

fn name_matches(how: NameMatch, image: Option<&str>, names: &[&str]) -> bool {
    let Some(image) = image else { return false };
    let img = image.to_ascii_lowercase();
    names.iter().any(|n| match how {
        NameMatch::Substring => img.contains(n),
        NameMatch::EndsWith => img.ends_with(n),
        NameMatch::AfterSeparator => img
            .strip_suffix(n)
            .is_some_and(|head| head.ends_with(['\\', '/'])),
        NameMatch::Basename => image_basename(&img) == *n,
    })
}

/// portent's tier table (§5): 3 high-risk on a known C2 port; 2 high-risk
/// on another port above 1024 that is not standard; 1 a known C2 port.
fn tier(l: &Lists, risky: bool, port: u16) -> u8 {
    let c2 = l.known_c2.contains(port);
    if risky && c2 {
        3
    } else if risky && port > 1024 && !l.standard.contains(port) {
        2
    } else if c2 {
        1
    } else {
        0
    }
}

/// Chronicle's: 3 high-risk on a known C2 port; 2 high-risk on any port
/// above 1024, standard or not; 1 high-risk at or below 1024, or a known C2
/// port.
fn chronicle_tier(l: &Lists, risky: bool, port: u16) -> u8 {
    let c2 = l.known_c2.contains(port);
    match (risky, c2) {
        (true, true) => 3,
        (true, false) if port > 1024 => 2,
        (true, false) => 1,
        (false, true) => 1,
        (false, false) => 0,
    }
}

fn is_rfc1918(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 10 || (o[0] == 172 && (16..32).contains(&o[1])) || (o[0] == 192 && o[1] == 168)
}

/// Sumo's RFC 1918 exclusion: a text match on the address as written, so
/// an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is not excluded.
fn rfc1918_text(ip: IpAddr) -> bool {
    let s = ip.to_string();
    s.starts_with("10.")
        || s.starts_with("192.168.")
        || (16..32).any(|b| s.starts_with(&format!("172.{b}.")))
}

fn is_tcp(e: &SysmonEvent) -> bool {
    e.protocol
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case("tcp"))
}

/// The rows: every Sysmon Event ID 3 over TCP (or with no protocol field)
/// that names a destination, whatever its `Initiated`, in time order.
fn rows(events: &[LoggedEvent]) -> Vec<Row<'_>> {
    let mut parents: HashMap<&str, &str> = HashMap::new();
    for e in events.iter().map(|l| &l.event).filter(|e| e.event_id == 1) {
        if let (Some(g), Some(p)) = (&e.process_guid, &e.parent_image) {
            parents.insert(g.as_str(), p.as_str());
        }
    }
    let mut out: Vec<Row> = events
        .iter()
        .filter(|l| l.event.event_id == 3 && is_tcp(&l.event))
        .filter_map(|l| {
            let e = &l.event;
            Some(Row {
                ts: e.ts,
                host: e.host.as_deref(),
                image: e.image.as_deref(),
                user: e.user.as_deref(),
                parent_image: e.parent_image.as_deref().or_else(|| {
                    e.process_guid
                        .as_deref()
                        .and_then(|g| parents.get(g).copied())
                }),
                initiated: e.initiated,
                src: e.src,
                dst: e.dst?,
                dport: e.dport?,
                input: l.input,
                record: e.record,
            })
        })
        .collect();
    out.sort_by_key(|r| (r.ts, r.input, r.record));
    out
}

/// A row the query kept, with its risk score.
struct Hit<'r, 'a> {
    row: &'r Row<'a>,
    risk: u8,
    /// The destination as the query's field holds it.
    dst: IpAddr,
}

/// Runs `opts.profile` over the Sysmon events of a run. `attempts_without_event`
/// is only counted into the stats.
pub fn run(
    events: &[LoggedEvent],
    opts: &ProfileOptions,
    attempts_without_event: u64,
) -> (Vec<Finding>, ProfileStats) {
    let lists = Lists::shipped();
    let rows = rows(events);
    let mut st = ProfileStats {
        profile: opts.profile.name(),
        rows: rows.len() as u64,
        attempts_without_event,
        ..ProfileStats::default()
    };
    let findings = match opts.profile {
        Profile::Splunk => {
            let names = lists.names(&["svchost.exe"]);
            let hits = keep(&rows, |r| {
                if r.initiated == Some(false) {
                    return None;
                }
                let risky = name_matches(NameMatch::Substring, r.image, &names);
                Some((tier(&lists, risky, r.dport), r.dst))
            });
            st.matched = hits.len() as u64;
            grouped(&hits, |r| full_key(r, r.parent_image), None)
        }
        Profile::Chronicle => {
            let names = lists.names(&[]);
            let hits = keep(&rows, |r| {
                if r.initiated != Some(true) {
                    return None;
                }
                if let IpAddr::V4(v4) = r.dst {
                    if v4.is_loopback() || is_rfc1918(v4) {
                        return None;
                    }
                }
                let risky = name_matches(NameMatch::EndsWith, r.image, &names);
                Some((chronicle_tier(&lists, risky, r.dport), r.dst))
            });
            st.matched = hits.len() as u64;
            grouped(
                &hits,
                |r| GroupKey {
                    host: r.host(),
                    image: None,
                    user: None,
                    parent_image: None,
                    window: Some(Ts(r
                        .ts
                        .0
                        .saturating_sub(r.ts.0.rem_euclid(CHRONICLE_WINDOW.0)))),
                },
                None,
            )
        }
        Profile::LogScale => {
            let names = lists.names(&[]);
            let hits = keep(&rows, |r| {
                let IpAddr::V4(v4) = r.dst else { return None };
                if r.initiated != Some(true)
                    || matches!(r.src, Some(IpAddr::V6(_)))
                    || r.src == Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    || is_rfc1918(v4)
                {
                    return None;
                }
                let risky = name_matches(NameMatch::AfterSeparator, r.image, &names);
                Some((tier(&lists, risky, r.dport), r.dst))
            });
            st.matched = hits.len() as u64;
            grouped(
                &hits,
                |r| {
                    let base = r
                        .parent_image
                        .map(|p| p.rsplit(['\\', '/']).next().unwrap_or(p));
                    full_key(r, base)
                },
                Some((LOGSCALE_MAX_REMOTE_IPS, LOGSCALE_MAX_PORTS)),
            )
        }
        Profile::Sumo => {
            let names = lists.names(&[]);
            let hits = keep(&rows, |r| {
                if r.initiated != Some(true) || rfc1918_text(r.dst) {
                    return None;
                }
                let risky = name_matches(NameMatch::AfterSeparator, r.image, &names);
                Some((tier(&lists, risky, r.dport), r.dst))
            });
            st.matched = hits.len() as u64;
            grouped(&hits, |r| full_key(r, r.parent_image), None)
        }
        Profile::QRadar => {
            // No --now and no event: no day to search.
            let Some(now) = opts.now.or_else(|| events.iter().map(|l| l.event.ts).max()) else {
                return (Vec::new(), st);
            };
            st.now = Some(now.to_string());
            let since = Ts(now.0.saturating_sub(QRADAR_SPAN.0));
            let score = lists.names(&["svchost.exe"]);
            let listed = lists.names(&["svchost.exe", "pwsh.exe"]);
            let mut hits = keep(&rows, |r| {
                // destinationip holds IPv4; a mapped address is its IPv4.
                let IpAddr::V4(v4) = r.dst.to_canonical() else {
                    return None;
                };
                if r.ts < since || r.ts > now || is_rfc1918(v4) {
                    return None;
                }
                let p = r.dport;
                let c2 = lists.known_c2.contains(p);
                let non_standard_high = p > 1024 && !lists.standard.contains(p);
                let in_where = c2
                    || (non_standard_high && name_matches(NameMatch::Basename, r.image, &listed));
                if !in_where {
                    return None;
                }
                let risky = name_matches(NameMatch::Basename, r.image, &score);
                Some((tier(&lists, risky, p), IpAddr::V4(v4)))
            });
            st.matched = hits.len() as u64;
            // ORDER BY risk DESC, time DESC; ties in reading order.
            hits.sort_by(|a, b| {
                b.risk
                    .cmp(&a.risk)
                    .then(b.row.ts.cmp(&a.row.ts))
                    .then((a.row.input, a.row.record).cmp(&(b.row.input, b.row.record)))
            });
            st.over_limit = hits.len().saturating_sub(QRADAR_LIMIT) as u64;
            hits.truncate(QRADAR_LIMIT);
            hits.iter()
                .map(|h| {
                    let mut f = new_finding(full_key(h.row, h.row.parent_image), h.row);
                    add(&mut f, h, None);
                    f
                })
                .collect()
        }
    };
    (findings, st)
}

/// The rows `score` keeps with a risk above 0.
fn keep<'r, 'a>(
    rows: &'r [Row<'a>],
    score: impl Fn(&Row<'a>) -> Option<(u8, IpAddr)>,
) -> Vec<Hit<'r, 'a>> {
    rows.iter()
        .filter_map(|row| {
            let (risk, dst) = score(row)?;
            (risk > 0).then_some(Hit { row, risk, dst })
        })
        .collect()
}

/// Host, image, user and the given parent as the key.
fn full_key(r: &Row, parent: Option<&str>) -> GroupKey {
    GroupKey {
        host: r.host(),
        image: r.image.map(str::to_string),
        user: r.user.map(str::to_string),
        parent_image: parent.map(str::to_string),
        window: None,
    }
}

fn new_finding(key: GroupKey, r: &Row) -> Finding {
    Finding {
        key,
        ports: BTreeSet::new(),
        remote_ips: BTreeSet::new(),
        count: 0,
        risk_score: 0,
        first_seen: r.ts,
        last_seen: r.ts,
        beacon: false,
        newest_frame: 0,
        reasons: BTreeSet::new(),
    }
}

/// Adds a hit to its finding; `caps` bounds the remote addresses and ports
/// collected (the first distinct ones in time order).
fn add(f: &mut Finding, h: &Hit, caps: Option<(usize, usize)>) {
    let (max_ips, max_ports) = caps.unwrap_or((usize::MAX, usize::MAX));
    if f.remote_ips.len() < max_ips {
        f.remote_ips.insert(h.dst);
    }
    if f.ports.len() < max_ports {
        f.ports.insert(h.row.dport);
    }
    f.count += 1;
    f.risk_score = f.risk_score.max(h.risk);
    f.first_seen = f.first_seen.min(h.row.ts);
    f.last_seen = f.last_seen.max(h.row.ts);
    f.newest_frame = f.newest_frame.max(h.row.record);
}

/// Groups hits (in time order) by `key`, sorted as portent sorts findings
/// (§6): severity, risk, count, all descending, then key and first seen.
fn grouped(
    hits: &[Hit],
    key: impl Fn(&Row) -> GroupKey,
    caps: Option<(usize, usize)>,
) -> Vec<Finding> {
    let mut groups: BTreeMap<GroupKey, Finding> = BTreeMap::new();
    for h in hits {
        let k = key(h.row);
        let f = groups
            .entry(k.clone())
            .or_insert_with(|| new_finding(k, h.row));
        add(f, h, caps);
    }
    let mut out: Vec<Finding> = groups.into_values().collect();
    super::group::sort_findings(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(secs: i64, image: &str, dst: &str, dport: u16, init: Option<bool>) -> LoggedEvent {
        LoggedEvent {
            input: 0,
            event: SysmonEvent {
                event_id: 3,
                ts: Ts(secs * Ts::NANOS_PER_SEC),
                host: Some("WS1".into()),
                record: secs as u64,
                process_guid: Some("{g}".into()),
                image: Some(image.into()),
                user: Some(r"CORP\alice".into()),
                initiated: init,
                protocol: Some("tcp".into()),
                src: "192.0.2.10".parse().ok(),
                sport: Some(50_000),
                dst: dst.parse().ok(),
                dport: Some(dport),
                ..SysmonEvent::default()
            },
        }
    }

    fn one(p: Profile, events: &[LoggedEvent]) -> Vec<(u64, u8)> {
        let (f, _) = run(
            events,
            &ProfileOptions {
                profile: p,
                now: None,
            },
            0,
        );
        f.iter().map(|f| (f.count, f.risk_score)).collect()
    }

    #[test]
    fn name_matching_differs_per_query() {
        let names = ["cmd.exe"];
        let m = |how, img| name_matches(how, Some(img), &names);
        assert!(m(NameMatch::Substring, r"C:\x\cmd.exe.bak"));
        assert!(!m(NameMatch::EndsWith, r"C:\x\cmd.exe.bak"));
        assert!(m(NameMatch::EndsWith, r"C:\x\notcmd.exe"));
        assert!(!m(NameMatch::AfterSeparator, r"C:\x\notcmd.exe"));
        assert!(!m(NameMatch::AfterSeparator, "cmd.exe"));
        assert!(m(NameMatch::AfterSeparator, "/opt/CMD.EXE"));
        assert!(m(NameMatch::Basename, "CMD.exe"));
        assert!(!m(NameMatch::Basename, r"C:\x\notcmd.exe"));
        assert!(!name_matches(NameMatch::Substring, None, &names));
    }

    #[test]
    fn each_query_reads_initiated_its_own_way() {
        let ps = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
        let events = [
            ev(10, ps, "203.0.113.9", 4444, Some(true)),
            ev(20, ps, "203.0.113.9", 4444, None),
            ev(30, ps, "203.0.113.9", 4444, Some(false)),
        ];
        assert_eq!(one(Profile::Splunk, &events), [(2, 3)]);
        assert_eq!(one(Profile::Sumo, &events), [(1, 3)]);
        assert_eq!(one(Profile::Chronicle, &events), [(1, 3)]);
        assert_eq!(one(Profile::LogScale, &events), [(1, 3)]);
        assert_eq!(one(Profile::QRadar, &events), [(1, 3), (1, 3), (1, 3)]);
    }

    #[test]
    fn chronicle_scores_its_own_way() {
        let l = Lists::shipped();
        assert_eq!(chronicle_tier(&l, true, 4444), 3);
        assert_eq!(chronicle_tier(&l, true, 8080), 2, "standard, above 1024");
        assert_eq!(chronicle_tier(&l, true, 1025), 2);
        assert_eq!(chronicle_tier(&l, true, 1024), 1);
        assert_eq!(chronicle_tier(&l, true, 443), 1, "any port alerts");
        assert_eq!(chronicle_tier(&l, false, 4444), 1);
        assert_eq!(chronicle_tier(&l, false, 33890), 0);
        assert_eq!(tier(&l, true, 8080), 0);
        assert_eq!(tier(&l, true, 443), 0);
    }

    #[test]
    fn sumo_matches_private_ranges_as_text() {
        for (ip, private) in [
            ("10.0.0.1", true),
            ("172.16.0.1", true),
            ("172.31.9.9", true),
            ("172.32.0.1", false),
            ("192.168.0.1", true),
            ("::ffff:10.0.0.1", false),
            ("100.64.0.1", false),
            ("127.0.0.1", false),
            ("fd00::1", false),
        ] {
            assert_eq!(rfc1918_text(ip.parse().unwrap()), private, "{ip}");
        }
    }

    #[test]
    fn qradar_where_list_lacks_pwsh() {
        let pwsh = r"C:\Program Files\PowerShell\7\pwsh.exe";
        let cmd = r"C:\Windows\System32\cmd.exe";
        let events = [
            ev(10, pwsh, "203.0.113.9", 33890, Some(true)),
            ev(20, pwsh, "203.0.113.9", 4444, Some(true)),
            ev(30, cmd, "203.0.113.9", 33890, Some(false)),
            ev(40, cmd, "10.0.0.9", 4444, Some(true)),
            ev(50, cmd, "::ffff:203.0.113.7", 4444, Some(true)),
            ev(60, cmd, "2001:db8::7", 4444, Some(true)),
        ];
        // Newest first within a risk.
        assert_eq!(one(Profile::QRadar, &events), [(1, 3), (1, 3), (1, 2)]);
        let (f, st) = run(
            &events,
            &ProfileOptions {
                profile: Profile::QRadar,
                now: None,
            },
            0,
        );
        assert_eq!(
            f[0].remote_ips.first(),
            Some(&"203.0.113.7".parse().unwrap())
        );
        assert_eq!(f[0].first_seen, Ts(50 * Ts::NANOS_PER_SEC));
        assert_eq!(st.now.as_deref(), Some("1970-01-01T00:01:00.000000Z"));
        // A day before the newest event: nothing older.
        let (f, _) = run(
            &events,
            &ProfileOptions {
                profile: Profile::QRadar,
                now: Some(Ts(86_400 * Ts::NANOS_PER_SEC + 25 * Ts::NANOS_PER_SEC)),
            },
            0,
        );
        assert_eq!(f.len(), 2, "the rows at 30 s and 50 s");
        let (f, st) = run(
            &[],
            &ProfileOptions {
                profile: Profile::QRadar,
                now: None,
            },
            0,
        );
        assert!(f.is_empty() && st.now.is_none());
    }

    #[test]
    fn profile_names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.name()), Some(p));
        }
        assert_eq!(Profile::parse("QRadar"), Some(Profile::QRadar));
        assert_eq!(Profile::parse("elastic"), None);
    }
}
