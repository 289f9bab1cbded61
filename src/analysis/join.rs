//! Joining endpoint logs to network evidence (DETECTION.md §5, §6).
//!
//! A capture says "10.0.2.18 called 10.0.2.19:4444"; the host's Sysmon log
//! says which process did. This module matches each attempt seen in packets
//! or flows to the Sysmon Event ID 3 of the same connection, takes the parent
//! image from the Event ID 1 of the same `ProcessGuid`, and turns the
//! Event ID 3 events that no capture saw into attempts of their own, so that
//! a Sysmon log alone is a complete input.
//!
//! Clocks disagree: a host's clock is seconds, sometimes days, off the
//! capture's. The offset of each host is estimated from the unambiguous
//! matches (a tuple seen once in the network evidence and once in the
//! host's log), or given by the user, and the nearest event after that
//! correction wins. Both ends of a connection may log it; only the
//! initiator's event (`Initiated=true`) names the process that called out.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hashbrown::HashMap;
use serde::Serialize;

use crate::event::{Attempt, FiveTuple, Origin, ProcessContext};

use crate::source::sysmon::SysmonEvent;
use crate::time::Ts;

/// How attempts are joined.
#[derive(Clone, Debug)]
pub struct JoinOptions {
    /// After the clock correction, an event this close to an attempt is
    /// the same connection.
    pub tolerance: Ts,
    /// Host clock minus capture clock, per host name, as the user knows it.
    pub offsets: Vec<(String, Ts)>,
}

/// The default tolerance: host clocks in real pairs sit 0.5–2.5 s off the
/// capture; ten seconds takes that without an offset estimate, and is short
/// against the minutes between reuses of one ephemeral port.
pub const DEFAULT_TOLERANCE: Ts = Ts(10 * Ts::NANOS_PER_SEC);

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            tolerance: DEFAULT_TOLERANCE,
            offsets: Vec::new(),
        }
    }
}

/// One Sysmon event and the input it came from.
#[derive(Clone, Debug)]
pub struct LoggedEvent {
    pub input: u32,
    pub event: SysmonEvent,
}

/// One host's clock against the capture's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClockOffset {
    pub host: String,
    /// Host clock minus capture clock, seconds.
    pub offset_s: f64,
    /// Unambiguous matches it was estimated from (0 when given).
    pub matches: usize,
    /// Given with --clock-offset rather than estimated.
    pub given: bool,
}

/// What the join did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JoinStats {
    /// Sysmon Event ID 3 (TCP) by the side that opened the connection.
    pub initiator_events: u64,
    /// Sysmon Event ID 3 (TCP) by the listening side.
    pub responder_events: u64,
    /// Event ID 3 that are not TCP (UDP: no attempt).
    pub other_protocol_events: u64,
    /// Attempts from packets or flows matched, by rule.
    pub matched: BTreeMap<&'static str, u64>,
    /// Attempts from packets or flows whose connection only the responder
    /// logged (the host is known, the calling process is not).
    pub responder_only: u64,
    /// Attempts from packets or flows with no event.
    pub unmatched: u64,
    /// Initiator events no capture saw: attempts of their own.
    pub sysmon_attempts: u64,
    pub clock_offsets: Vec<ClockOffset>,
}

/// The rule names shown in `join_rule`.
pub const RULE_UNIQUE: &str = "tuple";
pub const RULE_NEAREST: &str = "tuple_nearest";
pub const RULE_SYSMON: &str = "sysmon";

type Key = (IpAddr, u16, IpAddr, u16);

fn key(t: &FiveTuple) -> Key {
    (t.src.to_canonical(), t.sport, t.dst.to_canonical(), t.dport)
}

fn event_key(e: &SysmonEvent) -> Option<Key> {
    Some((
        e.src?.to_canonical(),
        e.sport?,
        e.dst?.to_canonical(),
        e.dport?,
    ))
}

fn is_tcp(e: &SysmonEvent) -> bool {
    e.protocol
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case("tcp"))
}

/// Joins `events` to `attempts` (packets and flows, in `sort_attempts`
/// order) and appends the attempts of initiator events nothing matched.
/// Returns the attempts, re-sorted, and what the join did.
pub fn join(
    mut attempts: Vec<Attempt>,
    events: &[LoggedEvent],
    opts: &JoinOptions,
) -> (Vec<Attempt>, JoinStats) {
    let mut st = JoinStats::default();
    // Parent images by ProcessGuid, from Event ID 1.
    let mut parents: HashMap<&str, &str> = HashMap::new();
    for e in events.iter().map(|l| &l.event).filter(|e| e.event_id == 1) {
        if let (Some(g), Some(p)) = (&e.process_guid, &e.parent_image) {
            parents.insert(g.as_str(), p.as_str());
        }
    }
    let mut initiators: HashMap<Key, Vec<usize>> = HashMap::new();
    let mut responders: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().map(|l| &l.event).enumerate() {
        if e.event_id != 3 {
            continue;
        }
        let Some(k) = event_key(e) else { continue };
        if !is_tcp(e) {
            st.other_protocol_events += 1;
            continue;
        }
        match e.initiated {
            Some(true) => {
                st.initiator_events += 1;
                initiators.entry(k).or_default().push(i);
            }
            _ => {
                // The listening side's event: logged with either end first
                // depending on the Sysmon version; index both ways.
                st.responder_events += 1;
                let (a, ap, b, bp) = k;
                responders.entry(k).or_default().push(i);
                responders.entry((b, bp, a, ap)).or_default().push(i);
            }
        }
    }
    // Host names compare without case: one host's events may spell it
    // differently (shippers, Sysmon versions); reports keep the first
    // spelling seen.
    let host_key = |i: usize| {
        events[i]
            .event
            .host
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    // Clock offsets: from tuples seen once on each side.
    let mut seen: HashMap<Key, u32> = HashMap::new();
    for a in &attempts {
        *seen.entry(key(&a.tuple)).or_default() += 1;
    }
    let mut diffs: BTreeMap<String, (String, Vec<i64>)> = BTreeMap::new();
    for a in &attempts {
        let k = key(&a.tuple);
        if let (Some(1), Some([i])) = (seen.get(&k), initiators.get(&k).map(Vec::as_slice)) {
            let e = &events[*i].event;
            // Events without a host name may come from many machines: no
            // one clock to estimate.
            if e.host.is_none() {
                continue;
            }
            diffs
                .entry(host_key(*i))
                .or_insert_with(|| (e.host.clone().unwrap_or_default(), Vec::new()))
                .1
                .push(e.ts.0.saturating_sub(a.ts.0));
        }
    }
    let mut offsets: HashMap<String, i64> = HashMap::new();
    for (k, (host, mut d)) in diffs {
        d.sort_unstable();
        let median = d[d.len() / 2];
        offsets.insert(k, median);
        st.clock_offsets.push(ClockOffset {
            host,
            offset_s: median as f64 / 1e9,
            matches: d.len(),
            given: false,
        });
    }
    for (host, off) in &opts.offsets {
        offsets.insert(host.to_ascii_lowercase(), off.0);
        st.clock_offsets
            .retain(|c| !c.host.eq_ignore_ascii_case(host));
        st.clock_offsets.push(ClockOffset {
            host: host.clone(),
            offset_s: off.0 as f64 / 1e9,
            matches: 0,
            given: true,
        });
    }
    st.clock_offsets.sort_by(|a, b| a.host.cmp(&b.host));
    // Each event's time on the capture's clock; candidate lists in that
    // order, so that an attempt looks only at the events within the
    // tolerance of its own time (a port reused all day is not a scan of
    // the whole day per attempt).
    // One lookup per spelling of a host name, not one lower-casing per event.
    let mut by_spelling: HashMap<&str, i64> = HashMap::new();
    let corrected: Vec<i64> = events
        .iter()
        .map(|l| {
            let off = match l.event.host.as_deref() {
                Some(h) => *by_spelling
                    .entry(h)
                    .or_insert_with(|| offsets.get(&h.to_ascii_lowercase()).copied().unwrap_or(0)),
                None => 0,
            };
            l.event.ts.0.saturating_sub(off)
        })
        .collect();
    for list in initiators.values_mut().chain(responders.values_mut()) {
        list.sort_by_key(|&i| (corrected[i], i));
    }
    let tol = opts.tolerance.0.max(0);
    let near = |list: &'_ [usize], at: Ts| -> std::ops::Range<usize> {
        let lo = list.partition_point(|&i| corrected[i] < at.0.saturating_sub(tol));
        let hi = list.partition_point(|&i| corrected[i] <= at.0.saturating_add(tol));
        lo..hi.max(lo)
    };
    let mut used = vec![false; events.len()];
    for a in attempts.iter_mut() {
        let k = key(&a.tuple);
        let best = initiators.get(&k).and_then(|c| {
            c[near(c, a.ts)]
                .iter()
                .copied()
                .filter(|&i| !used[i])
                .map(|i| (corrected[i].abs_diff(a.ts.0), i))
                .min()
                .map(|(_, i)| (i, c.len()))
        });
        match best {
            Some((i, candidates)) => {
                used[i] = true;
                let rule = if candidates == 1 {
                    RULE_UNIQUE
                } else {
                    RULE_NEAREST
                };
                *st.matched.entry(rule).or_default() += 1;
                a.process = Some(Box::new(context(&events[i].event, &parents, rule)));
            }
            None => {
                let responder = responders
                    .get(&k)
                    .is_some_and(|c| !near(c, a.ts).is_empty());
                if responder {
                    st.responder_only += 1;
                } else {
                    st.unmatched += 1;
                }
            }
        }
    }
    // Initiator events nothing matched are attempts themselves.
    for (i, l) in events.iter().enumerate() {
        let e = &l.event;
        if used[i] || e.event_id != 3 || e.initiated != Some(true) || !is_tcp(e) {
            continue;
        }
        let Some((src, sport, dst, dport)) = event_key(e) else {
            continue;
        };
        st.sysmon_attempts += 1;
        let origin = Origin {
            input: l.input,
            frame: e.record,
        };
        attempts.push(Attempt {
            process: Some(Box::new(context(e, &parents, RULE_SYSMON))),
            ..Attempt::new(e.ts, FiveTuple::tcp(src, sport, dst, dport), origin)
        });
    }
    crate::event::sort_attempts(&mut attempts);
    (attempts, st)
}

fn context(e: &SysmonEvent, parents: &HashMap<&str, &str>, rule: &'static str) -> ProcessContext {
    ProcessContext {
        host: e.host.clone(),
        image: e.image.clone(),
        user: e.user.clone(),
        parent_image: e
            .process_guid
            .as_deref()
            .and_then(|g| parents.get(g))
            .map(|p| p.to_string()),
        pid: e.pid,
        process_guid: e.process_guid.clone(),
        rule: Some(rule),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(
        id: u16,
        secs: i64,
        init: bool,
        tuple: (&str, u16, &str, u16),
        host: &str,
    ) -> LoggedEvent {
        LoggedEvent {
            input: 1,
            event: SysmonEvent {
                event_id: id,
                ts: Ts(secs * Ts::NANOS_PER_SEC),
                host: Some(host.into()),
                record: secs as u64,
                process_guid: Some("{g1}".into()),
                pid: Some(42),
                image: Some(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe".into()),
                user: Some(r"CORP\alice".into()),
                initiated: Some(init),
                protocol: Some("tcp".into()),
                src: tuple.0.parse().ok(),
                sport: Some(tuple.1),
                dst: tuple.2.parse().ok(),
                dport: Some(tuple.3),
                ..SysmonEvent::default()
            },
        }
    }

    fn att(secs: i64, tuple: (&str, u16, &str, u16)) -> Attempt {
        crate::testkit::synth::attempt(
            secs as f64,
            tuple.0.parse().unwrap(),
            tuple.1,
            tuple.2.parse().unwrap(),
            tuple.3,
            secs as u64,
        )
    }

    #[test]
    fn days_of_clock_skew_are_estimated_and_the_nearest_reuse_wins() {
        let day = 86_400;
        let t1 = ("10.0.0.5", 50_000, "203.0.113.9", 4444);
        let t2 = ("10.0.0.5", 50_001, "203.0.113.9", 443);
        // The host's clock is a day and 3 s ahead. t1's port is used twice,
        // an hour apart; t2 is unambiguous and gives the offset.
        let mut parent = ev(1, 0, true, t1, "WS1");
        parent.event.parent_image = Some(r"C:\Program Files\Office\winword.exe".into());
        let events = vec![
            parent,
            ev(3, 1_000 + day + 3, true, t2, "WS1"),
            ev(3, 1_000 + day + 3, true, t1, "WS1"),
            ev(3, 4_600 + day + 3, true, t1, "WS1"),
            // The listening side logs it too: never the process.
            ev(3, 4_600, false, t1, "SRV"),
        ];
        let attempts = vec![att(1_000, t2), att(4_600, t1)];
        let (a, st) = join(attempts, &events, &JoinOptions::default());
        assert_eq!(st.clock_offsets.len(), 1);
        assert_eq!(st.clock_offsets[0].offset_s, (day + 3) as f64);
        assert_eq!(st.matched[RULE_UNIQUE], 1);
        assert_eq!(st.matched[RULE_NEAREST], 1);
        // The earlier event on t1 matched nothing: an attempt of its own.
        assert_eq!(st.sysmon_attempts, 1);
        assert_eq!(a.len(), 3);
        let joined = a
            .iter()
            .find(|x| x.origin.input == 0 && x.tuple.dport == 4444)
            .unwrap();
        let p = joined.process.as_ref().unwrap();
        assert_eq!(p.rule, Some(RULE_NEAREST));
        assert_eq!(p.host.as_deref(), Some("WS1"));
        assert_eq!(
            p.parent_image.as_deref(),
            Some(r"C:\Program Files\Office\winword.exe")
        );
        let own = a.iter().find(|x| x.origin.input == 1).unwrap();
        assert_eq!(own.origin.frame, (1_000 + day + 3) as u64);
        assert_eq!(own.process.as_ref().unwrap().rule, Some(RULE_SYSMON));
    }

    #[test]
    fn host_names_compare_without_case() {
        let t1 = ("10.0.0.5", 50_000, "203.0.113.9", 4444);
        let t2 = ("10.0.0.5", 50_001, "203.0.113.9", 443);
        let events = vec![
            ev(3, 1_005, true, t1, "WS1.corp"),
            ev(3, 2_005, true, t2, "ws1.CORP"),
        ];
        let opts = JoinOptions {
            tolerance: Ts(Ts::NANOS_PER_SEC),
            ..JoinOptions::default()
        };
        let (_, st) = join(vec![att(1_000, t1), att(2_000, t2)], &events, &opts);
        assert_eq!(st.clock_offsets.len(), 1, "{:?}", st.clock_offsets);
        assert_eq!(st.clock_offsets[0].matches, 2);
        assert_eq!(st.clock_offsets[0].offset_s, 5.0);
        assert_eq!(st.matched[RULE_UNIQUE], 2);
    }

    #[test]
    fn only_the_responder_logged_it() {
        let t = ("198.51.100.7", 50_000, "10.0.0.9", 3389);
        let events = vec![ev(
            3,
            100,
            false,
            ("10.0.0.9", 3389, "198.51.100.7", 50_000),
            "SRV",
        )];
        let (a, st) = join(vec![att(101, t)], &events, &JoinOptions::default());
        assert_eq!(st.responder_only, 1);
        assert!(a[0].process.is_none());
        assert_eq!(st.sysmon_attempts, 0);
    }

    #[test]
    fn a_given_offset_replaces_the_estimate() {
        let t = ("10.0.0.5", 50_000, "203.0.113.9", 4444);
        let events = vec![ev(3, 1_000 + 3_600, true, t, "WS1")];
        let none = join(vec![att(1_000, t)], &events, &JoinOptions::default());
        // Estimated from the one unambiguous pair, it matches.
        assert_eq!(none.1.matched[RULE_UNIQUE], 1);
        let opts = JoinOptions {
            offsets: vec![("WS1".into(), Ts(0))],
            ..JoinOptions::default()
        };
        let (a, st) = join(vec![att(1_000, t)], &events, &opts);
        assert_eq!(st.unmatched, 1);
        assert!(st.clock_offsets[0].given);
        assert_eq!(a.len(), 2, "the event stays an attempt of its own");
    }
}
