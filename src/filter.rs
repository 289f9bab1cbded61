//! Which attempts are scored: the destination filter (DETECTION.md §3) and
//! the allow rules (§9).
//!
//! An attempt that is not scored is never dropped silently: [`Filter::judge`]
//! says why, and the run summary counts each reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::Attempt;
use crate::policy::{image_basename, AllowRule, Policy};

/// What kind of address a destination is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Public,
    /// RFC 1918, CGNAT (100.64/10), IPv6 ULA (fc00::/7).
    Private,
    /// Declared internal by `--home-net` or the policy.
    HomeNet,
    Loopback,
    LinkLocal,
    /// Multicast, broadcast and the reserved 240/4.
    Multicast,
    /// 0.0.0.0/8 and ::.
    Unspecified,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Public => "public",
            Scope::Private => "private",
            Scope::HomeNet => "home_net",
            Scope::Loopback => "loopback",
            Scope::LinkLocal => "link_local",
            Scope::Multicast => "multicast",
            Scope::Unspecified => "unspecified",
        }
    }
}

/// Classifies an address by the rules of DETECTION.md §3 (home net aside).
pub fn classify(ip: IpAddr) -> Scope {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Scope {
    let o = ip.octets();
    match o {
        [0, ..] => Scope::Unspecified,
        [127, ..] => Scope::Loopback,
        [169, 254, ..] => Scope::LinkLocal,
        [10, ..] | [192, 168, ..] => Scope::Private,
        [172, b, ..] if (16..32).contains(&b) => Scope::Private,
        [100, b, ..] if (64..128).contains(&b) => Scope::Private,
        [a, ..] if a >= 224 => Scope::Multicast,
        _ => Scope::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Scope {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        Scope::Unspecified
    } else if ip.is_loopback() {
        Scope::Loopback
    } else if s[0] & 0xffc0 == 0xfe80 {
        Scope::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 {
        Scope::Private
    } else if s[0] & 0xff00 == 0xff00 {
        Scope::Multicast
    } else {
        Scope::Public
    }
}

/// Why an attempt was not scored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suppressed {
    /// The destination is not public (and private ones are not included,
    /// or it is of a kind that is never included).
    Destination(Scope),
    /// An allow rule matched; the rule's reason.
    Allowed(String),
}

impl Suppressed {
    /// The name used in summaries: `private_destination`,
    /// `allow:<reason>` …
    pub fn label(&self) -> String {
        match self {
            Suppressed::Destination(s) => format!("{}_destination", s.name()),
            Suppressed::Allowed(r) => format!("allow:{r}"),
        }
    }
}

/// The destination filter and allow rules of a run.
pub struct Filter<'p> {
    policy: &'p Policy,
}

impl<'p> Filter<'p> {
    pub fn new(policy: &'p Policy) -> Self {
        Filter { policy }
    }

    /// The destination's scope, home net included.
    pub fn scope(&self, ip: IpAddr) -> Scope {
        let s = classify(ip);
        let judged = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if matches!(s, Scope::Public | Scope::Private)
            && self.policy.home_net.iter().any(|n| n.contains(&judged))
        {
            return Scope::HomeNet;
        }
        s
    }

    /// `None` if the attempt is to be scored, or why it is not.
    pub fn judge(&self, a: &Attempt) -> Option<Suppressed> {
        let scope = self.scope(a.tuple.dst);
        let scored = match scope {
            Scope::Public => true,
            Scope::Private | Scope::HomeNet => self.policy.include_private,
            _ => false,
        };
        if !scored {
            return Some(Suppressed::Destination(scope));
        }
        self.policy
            .allow
            .iter()
            .find(|r| rule_matches(r, a))
            .map(|r| Suppressed::Allowed(r.reason.clone()))
    }
}

fn rule_matches(r: &AllowRule, a: &Attempt) -> bool {
    let proc = a.process.as_ref();
    (r.dst.is_empty() || r.dst.iter().any(|n| n.contains(&a.tuple.dst)))
        && (r.src.is_empty() || r.src.iter().any(|n| n.contains(&a.tuple.src)))
        && (r.ports.is_empty() || r.ports.contains(&a.tuple.dport))
        && (r.images.is_empty()
            || proc
                .and_then(|p| p.image.as_deref())
                .is_some_and(|img| r.images.contains(&image_basename(img))))
        && (r.hosts.is_empty()
            || proc
                .and_then(|p| p.host.as_deref())
                .is_some_and(|h| r.hosts.contains(&h.to_ascii_lowercase())))
        && r.from.is_none_or(|t| a.ts >= t)
        && r.until.is_none_or(|t| a.ts < t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Scope {
        classify(s.parse().unwrap())
    }

    #[test]
    fn classifies_as_detection_md_says() {
        for (ip, want) in [
            ("10.1.2.3", Scope::Private),
            ("172.16.0.1", Scope::Private),
            ("172.31.255.255", Scope::Private),
            ("172.32.0.1", Scope::Public),
            ("192.168.1.1", Scope::Private),
            ("100.64.0.1", Scope::Private),
            ("100.128.0.1", Scope::Public),
            ("127.0.0.1", Scope::Loopback),
            ("169.254.1.1", Scope::LinkLocal),
            ("0.1.2.3", Scope::Unspecified),
            ("224.0.0.251", Scope::Multicast),
            ("240.0.0.1", Scope::Multicast),
            ("255.255.255.255", Scope::Multicast),
            ("192.0.2.1", Scope::Public),
            ("198.51.100.1", Scope::Public),
            ("203.0.113.9", Scope::Public),
            ("8.8.8.8", Scope::Public),
            ("::1", Scope::Loopback),
            ("::", Scope::Unspecified),
            ("fe80::1", Scope::LinkLocal),
            ("fd00::1", Scope::Private),
            ("fc00::1", Scope::Private),
            ("ff02::1", Scope::Multicast),
            ("2001:db8::1", Scope::Public),
            ("::ffff:10.0.0.1", Scope::Private),
            ("::ffff:8.8.8.8", Scope::Public),
        ] {
            assert_eq!(c(ip), want, "{ip}");
        }
    }
}
