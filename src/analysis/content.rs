//! Port mismatch: traffic that does not follow the protocol registered for
//! its port (DETECTION.md §10), judged from what the connection carried.
//!
//! The port lists of the seeds stand in for this; a connection whose first
//! bytes were read says it directly. An attempt's `port_mismatch` is true
//! when its service is not registered for its destination port, or when the
//! port's own service is absent although payload flowed (no TLS on 443),
//! false when the service is registered there, and unknown (`None`) when no
//! payload was seen (flows, logs, unanswered attempts). A mismatch is scored
//! as a tier of its own, heavier for what C2 favours off its ports, and
//! indicators from the policy (JA3/JA4 values, certificate subjects) raise
//! it to the top; the reason says what was seen.

use crate::event::Attempt;
use crate::policy::Policy;
use crate::service::{Identified, Service};

/// What the content of one attempt's connection says about its port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// `None`: no payload was seen.
    pub port_mismatch: Option<bool>,
    /// The tier the content gives the attempt (0 when nothing is wrong).
    pub tier: u8,
    /// Why, for the finding.
    pub reason: Option<String>,
}

/// Tiers a mismatch gives: light for an unidentified protocol on a port no
/// service is registered for and for the other known protocols off their
/// ports; heavy for what C2 favours off its ports (TLS with a self-signed,
/// IP-only or SNI-less handshake; SSH; IRC; SOCKS; anything but TLS on a
/// TLS port); top for a policy indicator.
pub const LIGHT: u8 = 1;
pub const HEAVY: u8 = 2;
pub const INDICATOR: u8 = 3;

/// Judges one attempt's connection against the policy.
pub fn judge(policy: &Policy, a: &Attempt) -> Judged {
    let Some(id) = a.conn.as_ref().and_then(|c| c.content.as_deref()) else {
        return Judged::default();
    };
    let Some(service) = id.service else {
        return Judged::default();
    };
    let port = a.tuple.dport;
    let expected: Vec<Service> = policy.expected_on(port).collect();
    let names = |v: &[Service]| v.iter().map(|s| s.name()).collect::<Vec<_>>().join(" or ");
    let mismatch = match service {
        // Data connections go to whatever port the control connection
        // agreed on.
        Service::FtpData => None,
        // A system port no service is registered for belongs to a service
        // portent does not identify (LDAP, Kerberos, RPC ...): no verdict.
        Service::Unknown if expected.is_empty() && port < SYSTEM_PORTS_END => None,
        Service::Unknown if expected.is_empty() => Some((
            LIGHT,
            format!("an unidentified protocol on port {port}, which no service is registered for"),
        )),
        Service::Unknown => Some((
            // Raw C2 on a web port.
            if expected.contains(&Service::Tls) || expected.contains(&Service::Http) {
                HEAVY
            } else {
                LIGHT
            },
            format!(
                "payload that is not {} on port {port}, which expects it",
                names(&expected)
            ),
        )),
        // A service that turned into another (STARTTLS, an HTTP CONNECT
        // or SOCKS tunnel) follows the port when either of the two does.
        s if follows(policy, s, port)
            || id.upgraded_to.is_some_and(|u| follows(policy, u, port)) =>
        {
            None
        }
        s => {
            let heavy = match s {
                Service::Ssh | Service::Irc | Service::Socks => true,
                Service::Tls => id.tls.as_ref().is_some_and(suspicious_tls),
                _ => expected.contains(&Service::Tls),
            };
            let expects = if expected.is_empty() {
                "which no service is registered for".to_string()
            } else {
                format!("which expects {}", names(&expected))
            };
            Some((
                if heavy { HEAVY } else { LIGHT },
                format!("{s} on port {port}, {expects}"),
            ))
        }
    };
    // A mismatch is exactly a weighed one: the port's verdict and the
    // tier come from the same rules.
    let port_mismatch = Some(mismatch.is_some());
    let (tier, mut reason) = match mismatch {
        // What made it stand out is worked out only for a mismatch.
        Some((tier, why)) => match detail(id) {
            Some(d) => (tier, Some(format!("{why} ({d})"))),
            None => (tier, Some(why)),
        },
        None => (0, None),
    };
    let tier = if let Some(ind) = indicator(policy, id) {
        reason = Some(match reason {
            Some(r) => format!("{r}; {ind}"),
            None => ind,
        });
        INDICATOR
    } else {
        tier
    };
    Judged {
        port_mismatch,
        tier,
        reason,
    }
}

/// Ports below this are IANA's system ports: each belongs to a service, and
/// most of those are ones portent does not identify.
pub const SYSTEM_PORTS_END: u16 = 1024;

/// Whether `service` on `port` is what the policy expects: registered for
/// it, or web traffic (HTTP, TLS) on a port the policy calls standard that
/// no service is registered for (3000, 5000, 9000 by default: application
/// servers, which the seeds never score).
fn follows(policy: &Policy, service: Service, port: u16) -> bool {
    policy.registered(service, port)
        || (matches!(service, Service::Http | Service::Tls)
            && policy.standard.contains(port)
            && policy.expected_on(port).next().is_none())
}

/// A TLS handshake that hides who it talks to: a self-signed certificate,
/// no SNI, or an IP address as SNI. Whether the SNI is missing is known
/// only when the ClientHello was read whole (it has a JA3 then): one cut by
/// the capture's snap length says nothing about it.
fn suspicious_tls(t: &crate::service::TlsInfo) -> bool {
    let self_signed = t.cert.as_ref().is_some_and(|c| c.self_signed);
    let hello_read = t.ja3.is_some();
    let sni_hidden = match t.sni.as_deref() {
        None => hello_read,
        Some(s) => s.parse::<std::net::IpAddr>().is_ok(),
    };
    self_signed || sni_hidden
}

/// What made the connection stand out, in a few words.
fn detail(id: &Identified) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(t) = &id.tls {
        match t.sni.as_deref() {
            Some(s) => parts.push(format!("SNI {s}")),
            None if t.ja3.is_some() => parts.push("no SNI".into()),
            None => parts.push("ClientHello not read".into()),
        }
        if let Some(c) = &t.cert {
            if c.self_signed {
                parts.push(format!("self-signed certificate {}", c.subject));
            } else {
                parts.push(format!("certificate {}", c.subject));
            }
        }
        if let Some(j) = &t.ja4 {
            parts.push(format!("JA4 {j}"));
        }
    }
    if let Some(h) = &id.http {
        if let (Some(m), Some(u)) = (&h.method, &h.uri) {
            parts.push(format!("{m} {u}"));
        }
        if let Some(host) = &h.host {
            parts.push(format!("Host {host}"));
        }
        if let Some(ua) = &h.user_agent {
            parts.push(format!("User-Agent {ua}"));
        }
    }
    if let Some(s) = &id.ssh {
        if let Some(b) = s.server.as_ref().or(s.client.as_ref()) {
            parts.push(b.clone());
        }
    }
    if let Some(u) = id.upgraded_to {
        parts.push(format!("then {u}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A policy indicator the connection matches, said.
fn indicator(policy: &Policy, id: &Identified) -> Option<String> {
    let t = id.tls.as_ref()?;
    let ind = &policy.indicators;
    if let Some(j) = t
        .ja3
        .as_deref()
        .filter(|j| ind.ja3.contains(&j.to_ascii_lowercase()))
    {
        return Some(format!("JA3 {j} is a policy indicator"));
    }
    if let Some(j) = t
        .ja4
        .as_deref()
        .filter(|j| ind.ja4.contains(&j.to_ascii_lowercase()))
    {
        return Some(format!("JA4 {j} is a policy indicator"));
    }
    let c = t.cert.as_ref()?;
    let subject = c.subject.to_ascii_lowercase();
    ind.cert_subjects
        .iter()
        .find(|s| !s.is_empty() && subject.contains(s.as_str()))
        .map(|s| {
            format!(
                "certificate subject {} matches policy indicator {s:?}",
                c.subject
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ConnInfo, FiveTuple, Origin};
    use crate::service::TlsInfo;
    use crate::time::Ts;

    fn attempt(dport: u16, id: Identified) -> Attempt {
        let mut a = Attempt::new(
            Ts(0),
            FiveTuple::tcp(
                "192.0.2.1".parse().unwrap(),
                50000,
                "198.51.100.9".parse().unwrap(),
                dport,
            ),
            Origin { input: 0, frame: 1 },
        );
        a.conn = Some(Box::new(ConnInfo {
            content: Some(Box::new(id)),
            ..ConnInfo::default()
        }));
        a
    }

    fn tls(ja3: Option<&str>, sni: Option<&str>) -> Identified {
        Identified {
            service: Some(Service::Tls),
            tls: Some(TlsInfo {
                ja3: ja3.map(String::from),
                sni: sni.map(String::from),
                ..TlsInfo::default()
            }),
            ..Identified::default()
        }
    }

    #[test]
    fn no_sni_weighs_only_when_the_client_hello_was_read() {
        let p = Policy::default();
        // Read whole, without SNI: heavy, and said.
        let j = judge(&p, &attempt(4444, tls(Some("abc"), None)));
        assert_eq!((j.port_mismatch, j.tier), (Some(true), HEAVY));
        assert!(j.reason.as_deref().unwrap().contains("no SNI"), "{j:?}");
        // Cut by the snap length: the SNI is unknown, not missing.
        let j = judge(&p, &attempt(4444, tls(None, None)));
        assert_eq!((j.port_mismatch, j.tier), (Some(true), LIGHT));
        let r = j.reason.unwrap();
        assert!(
            !r.contains("no SNI") && r.contains("ClientHello not read"),
            "{r}"
        );
        // With a name: light.
        let j = judge(&p, &attempt(4444, tls(Some("abc"), Some("example.com"))));
        assert_eq!(j.tier, LIGHT);
    }

    #[test]
    fn an_upgrade_to_the_ports_service_follows_it() {
        let p = Policy::default();
        let connect = Identified {
            service: Some(Service::Http),
            upgraded_to: Some(Service::Tls),
            ..Identified::default()
        };
        // HTTP CONNECT then TLS on 443: what 443 expects.
        assert_eq!(
            judge(&p, &attempt(443, connect.clone())).port_mismatch,
            Some(false)
        );
        // Plain HTTP on 443 is not.
        let plain = Identified::of(Service::Http);
        assert_eq!(judge(&p, &attempt(443, plain)).port_mismatch, Some(true));
        // And the tunnel on a port neither is registered for still is.
        assert_eq!(judge(&p, &attempt(4444, connect)).port_mismatch, Some(true));
    }
}
