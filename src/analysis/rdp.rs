//! RDP moved to another port (DETECTION.md §8, test 3).
//!
//! Moving the RDP listener off 3389 is how an intruder keeps remote access
//! past port-based rules, and only the host shows it: Sysmon Event ID 13
//! on `...\Terminal Server\WinStations\RDP-Tcp\PortNumber`. A value other
//! than 3389 is a finding on its own; inbound connections to the new port on
//! that host, from a capture or flows, confirm it and are attached to it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hashbrown::HashMap;

use crate::analysis::join::LoggedEvent;
use crate::analysis::ports::Severity;
use crate::event::{Attempt, Origin};
use crate::time::Ts;

/// The registry value RDP listens on, as Sysmon names it (after the hive).
const RDP_PORT_VALUE: &str = r"\terminal server\winstations\rdp-tcp\portnumber";

/// RDP's own port.
pub const RDP_PORT: u16 = 3389;

/// One host whose RDP port was set to something else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdpMove {
    pub host: String,
    pub port: u16,
    /// When the value was set (the host's clock).
    pub ts: Ts,
    /// Who set it.
    pub image: Option<String>,
    pub user: Option<String>,
    /// The Event ID 13: its input and record number.
    pub origin: Origin,
    /// The host's addresses, as its own network events show them.
    pub addresses: BTreeSet<IpAddr>,
    /// Inbound attempts to one of those addresses on the new port.
    pub inbound: u64,
    /// Their sources, sorted.
    pub inbound_sources: BTreeSet<IpAddr>,
}

impl RdpMove {
    /// An RDP listener moved off 3389 is a finding of its own, Medium
    /// (DETECTION.md §8).
    pub fn severity(&self) -> Severity {
        Severity::Medium
    }
}

/// The port a `Details` value gives: `DWORD (0x00008462)`, or a plain
/// number.
fn port_of(details: &str) -> Option<u16> {
    let d = details.trim();
    if let Some(hex) = d
        .split_once("0x")
        .map(|(_, h)| h.trim_end_matches(')').trim())
    {
        return u32::from_str_radix(hex, 16).ok()?.try_into().ok();
    }
    d.parse().ok()
}

/// Finds the RDP port changes in `events` and attaches the inbound
/// `attempts` to them. One record per (host, port), from its first setting.
pub fn moves(events: &[LoggedEvent], attempts: &[Attempt]) -> Vec<RdpMove> {
    let mut out: BTreeMap<(String, u16), RdpMove> = BTreeMap::new();
    for l in events {
        let e = &l.event;
        if e.event_id != 13 {
            continue;
        }
        let Some(target) = &e.target_object else {
            continue;
        };
        if !target.to_ascii_lowercase().ends_with(RDP_PORT_VALUE) {
            continue;
        }
        let Some(port) = e.details.as_deref().and_then(port_of) else {
            continue;
        };
        if port == RDP_PORT {
            continue;
        }
        let host = e.host.clone().unwrap_or_default();
        // Host names compare without case; the first spelling is shown.
        out.entry((host.to_ascii_lowercase(), port))
            .or_insert_with(|| RdpMove {
                host,
                port,
                ts: e.ts,
                image: e.image.clone(),
                user: e.user.clone(),
                origin: Origin {
                    input: l.input,
                    frame: e.record,
                },
                addresses: BTreeSet::new(),
                inbound: 0,
                inbound_sources: BTreeSet::new(),
            });
    }
    if out.is_empty() {
        return Vec::new();
    }
    let mut moves: Vec<RdpMove> = out.into_values().collect();
    let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, m) in moves.iter().enumerate() {
        by_host
            .entry(m.host.to_ascii_lowercase())
            .or_default()
            .push(i);
    }
    // A host's addresses: the source of what it opened, and its end of
    // what it accepted.
    for e in events.iter().map(|l| &l.event).filter(|e| e.event_id == 3) {
        let Some(host) = &e.host else { continue };
        let Some(idx) = by_host.get(&host.to_ascii_lowercase()) else {
            continue;
        };
        for &i in idx {
            let m = &mut moves[i];
            let local = match e.initiated {
                Some(true) => e.src,
                _ if e.dport == Some(m.port) => e.dst,
                _ if e.sport == Some(m.port) => e.src,
                _ => None,
            };
            m.addresses.extend(local.map(|a| a.to_canonical()));
        }
    }
    let mut by_listener: HashMap<(IpAddr, u16), Vec<usize>> = HashMap::new();
    for (i, m) in moves.iter().enumerate() {
        for &a in &m.addresses {
            by_listener.entry((a, m.port)).or_default().push(i);
        }
    }
    for a in attempts {
        if let Some(idx) = by_listener.get(&(a.tuple.dst.to_canonical(), a.tuple.dport)) {
            for &i in idx {
                moves[i].inbound += 1;
                moves[i].inbound_sources.insert(a.tuple.src);
            }
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_give_the_port() {
        assert_eq!(port_of("DWORD (0x00008462)"), Some(33890));
        assert_eq!(port_of("33890"), Some(33890));
        assert_eq!(port_of("DWORD (0x00000d3d)"), Some(3389));
        assert_eq!(port_of("DWORD (0x00100000)"), None);
        assert_eq!(port_of("Binary Data"), None);
    }
}
