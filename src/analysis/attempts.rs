//! From handshake signals to connection attempts (DETECTION.md §2).
//!
//! A SYN without ACK starts an attempt. Another SYN for the same 5-tuple is
//! a retransmission of that attempt, not a new one, when it carries the same
//! initial sequence number within [`SYN_RETRY_SPAN`] (how long stacks keep
//! retrying: Linux gives up after ~127 s), or comes within the retransmit
//! window whatever its sequence number. A SYN-ACK on the reversed tuple after
//! the attempt began marks it answered.

use hashbrown::HashMap;

use crate::event::{Attempt, FiveTuple, SignalKind, TcpSignal};

use crate::time::Ts;

/// How long after the first SYN a SYN with the same tuple and sequence
/// number is still the same attempt: Linux's default 6 SYN retries end
/// 127 s after the first; Windows gives up sooner.
pub const SYN_RETRY_SPAN: Ts = Ts(130 * Ts::NANOS_PER_SEC);

/// A SYN-ACK may be stamped slightly before its SYN when the two were
/// captured on different interfaces with unsynchronised clocks; this much
/// earlier still counts as the answer.
pub const ANSWER_CLOCK_SLACK: Ts = Ts(Ts::NANOS_PER_SEC);

/// Settings for attempt building.
#[derive(Clone, Copy, Debug)]
pub struct AttemptRules {
    /// A SYN on the same tuple within this time of the attempt's previous
    /// SYN is a retransmission even if its sequence number differs.
    pub retransmit_window: Ts,
}

impl Default for AttemptRules {
    fn default() -> Self {
        AttemptRules {
            retransmit_window: Ts(3 * Ts::NANOS_PER_SEC),
        }
    }
}

/// Turns the signals of a run (any order) into attempts, sorted by time,
/// then input and frame.
pub fn build(mut signals: Vec<TcpSignal>, rules: &AttemptRules) -> Vec<Attempt> {
    signals.sort_unstable_by(|a, b| {
        (a.ts, a.origin, a.kind == SignalKind::SynAck).cmp(&(
            b.ts,
            b.origin,
            b.kind == SignalKind::SynAck,
        ))
    });
    let mut attempts: Vec<Attempt> = Vec::new();
    // Per tuple: every attempt on it, in time order (usually one).
    let mut by_tuple: HashMap<FiveTuple, Vec<usize>> = HashMap::new();
    // The first SYN's sequence number of each attempt.
    let mut isn: Vec<u32> = Vec::new();
    for s in signals.iter().filter(|s| s.kind == SignalKind::Syn) {
        let list = by_tuple.entry(s.tuple).or_default();
        if let Some(&i) = list.last() {
            let a = &mut attempts[i];
            let same_isn = isn[i] == s.seq && s.ts.0.saturating_sub(a.ts.0) <= SYN_RETRY_SPAN.0;
            let close = s.ts.0.saturating_sub(a.last_syn.0) <= rules.retransmit_window.0;
            if same_isn || close {
                a.retransmits += 1;
                a.last_syn = s.ts;
                continue;
            }
        }
        list.push(attempts.len());
        isn.push(s.seq);
        attempts.push(Attempt {
            bad_checksum: s.checksum_ok == Some(false),
            ..Attempt::new(s.ts, s.tuple, s.origin)
        });
    }
    for s in signals.iter().filter(|s| s.kind == SignalKind::SynAck) {
        let Some(list) = by_tuple.get(&s.tuple.reversed()) else {
            continue;
        };
        // The latest attempt that began before this answer.
        let limit = s.ts.0.saturating_add(ANSWER_CLOCK_SLACK.0);
        if let Some(&i) = list.iter().rev().find(|&&i| attempts[i].ts.0 <= limit) {
            attempts[i].answered = true;
        }
    }
    attempts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Origin, Proto};

    fn sig(ts_ms: i64, sport: u16, kind: SignalKind, seq: u32, frame: u64) -> TcpSignal {
        let (a, b) = (
            "192.0.2.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        let tuple = FiveTuple {
            src: a,
            sport,
            dst: b,
            dport: 4444,
            proto: Proto::Tcp,
        };
        TcpSignal {
            ts: Ts(ts_ms * 1_000_000),
            tuple: if kind == SignalKind::Syn {
                tuple
            } else {
                tuple.reversed()
            },
            kind,
            seq,
            checksum_ok: Some(true),
            origin: Origin { input: 0, frame },
        }
    }

    #[test]
    fn retransmissions_fold_into_one_attempt() {
        use SignalKind::*;
        let sigs = vec![
            sig(0, 1000, Syn, 7, 1),
            sig(1000, 1000, Syn, 7, 2),     // same ISN, 1 s later
            sig(3000, 1000, Syn, 7, 3),     // same ISN, 2 s later
            sig(65_000, 1000, Syn, 7, 4),   // same ISN, 62 s after the last: still a retry
            sig(200_000, 1000, Syn, 7, 5),  // same ISN beyond the retry span: new
            sig(200_500, 1000, Syn, 9, 6),  // other ISN within the window: retry
            sig(300_000, 1000, Syn, 11, 7), // other ISN, later: new attempt
            sig(300_010, 1000, SynAck, 0, 8),
        ];
        let a = build(sigs, &AttemptRules::default());
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].retransmits, 3);
        assert_eq!(a[0].origin.frame, 1);
        assert_eq!(a[1].retransmits, 1);
        assert_eq!(a[1].origin.frame, 5);
        assert!(!a[0].answered && !a[1].answered);
        assert!(a[2].answered);
    }

    #[test]
    fn answer_before_syn_on_another_clock_still_counts() {
        use SignalKind::*;
        let sigs = vec![sig(1000, 5, Syn, 1, 2), sig(600, 5, SynAck, 0, 1)];
        let a = build(sigs, &AttemptRules::default());
        assert!(a[0].answered);
        let sigs = vec![sig(5000, 5, Syn, 1, 2), sig(600, 5, SynAck, 0, 1)];
        assert!(!build(sigs, &AttemptRules::default())[0].answered);
    }
}
