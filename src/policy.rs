//! The policy file: port and process classes, network scope and allow rules.
//!
//! DETECTION.md makes every list a default the user can replace or extend,
//! and every known false positive tunable without code changes. The defaults
//! live in `policy/default.toml` (compiled in, printed by `portent policy`),
//! so the documented file and the behaviour cannot drift apart. Parsing is a
//! second step after TOML: errors name the file and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

use crate::service::Service;
use crate::time::Ts;

/// The default policy, as shipped.
pub const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

/// A set of TCP/UDP ports as a bitmap: one bit per port, constant-time
/// lookups on the scoring path.
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    pub fn new() -> Self {
        PortSet(Box::new([0; 1024]))
    }

    pub fn insert(&mut self, p: u16) {
        self.0[usize::from(p >> 6)] |= 1 << (p & 63);
    }

    #[inline]
    pub fn contains(&self, p: u16) -> bool {
        self.0[usize::from(p >> 6)] & (1 << (p & 63)) != 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..=u16::MAX).filter(|&p| self.contains(p))
    }
}

impl Default for PortSet {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<u16> for PortSet {
    fn from_iter<I: IntoIterator<Item = u16>>(it: I) -> Self {
        let mut s = PortSet::new();
        for p in it {
            s.insert(p);
        }
        s
    }
}

/// One allow rule: every field that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowRule {
    pub reason: String,
    pub dst: Vec<IpNet>,
    pub src: Vec<IpNet>,
    pub ports: Vec<u16>,
    /// Lower-cased image file names.
    pub images: Vec<String>,
    /// Lower-cased host names.
    pub hosts: Vec<String>,
    pub from: Option<Ts>,
    pub until: Option<Ts>,
}

/// The checked policy the analyzers use.
#[derive(Clone, Debug)]
pub struct Policy {
    pub known_c2: PortSet,
    pub standard: PortSet,
    /// Lower-cased file names.
    pub high_risk: BTreeSet<String>,
    pub chronicle_tier2: bool,
    pub home_net: Vec<IpNet>,
    pub include_private: bool,
    pub allow: Vec<AllowRule>,
    /// The ports each service is registered for (DETECTION.md §10): a
    /// service seen elsewhere is a port mismatch.
    pub services: BTreeMap<Service, PortSet>,
    /// Values that mark a connection as a known C2 framework's.
    pub indicators: Indicators,
}

/// Fingerprints and certificate subjects of known C2 frameworks; lower-case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indicators {
    pub ja3: BTreeSet<String>,
    pub ja4: BTreeSet<String>,
    /// Matched as a substring of the server certificate's subject.
    pub cert_subjects: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::parse(DEFAULT_POLICY, "<default policy>", None)
            .expect("the shipped default policy parses (tested)")
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    ports: RawPorts,
    #[serde(default)]
    processes: RawProcesses,
    #[serde(default)]
    scoring: RawScoring,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    allow: Vec<RawAllow>,
    #[serde(default)]
    services: BTreeMap<String, Vec<RawPort>>,
    #[serde(default)]
    indicators: RawIndicators,
}

/// A port, or a range as "6660-6669".
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawPort {
    One(u16),
    Range(String),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIndicators {
    ja3: Option<Vec<String>>,
    #[serde(default)]
    ja3_add: Vec<String>,
    ja4: Option<Vec<String>>,
    #[serde(default)]
    ja4_add: Vec<String>,
    cert_subjects: Option<Vec<String>>,
    #[serde(default)]
    cert_subjects_add: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPorts {
    known_c2: Option<Vec<u16>>,
    #[serde(default)]
    known_c2_add: Vec<u16>,
    standard: Option<Vec<u16>>,
    #[serde(default)]
    standard_add: Vec<u16>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProcesses {
    high_risk: Option<Vec<String>>,
    #[serde(default)]
    high_risk_add: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScoring {
    chronicle_tier2: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    home_net: Option<Vec<String>>,
    include_private: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    reason: String,
    #[serde(default)]
    dst: Vec<String>,
    #[serde(default)]
    src: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    from: Option<String>,
    until: Option<String>,
}

/// The service names the policy's `[services]` table takes.
fn service_names() -> String {
    Service::ALL
        .iter()
        .filter(|s| **s != Service::Unknown)
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses CIDRs (a bare address means a single host).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR or IP address"))
}

/// The image's file name, lower-cased: the part after the last `\` or `/`.
pub fn image_basename(image: &str) -> String {
    image
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase()
}

impl Policy {
    /// Reads a policy file: the defaults, overridden by what the file sets.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("policy file {}: {e}", path.display()))?;
        Policy::from_toml(&text, &path.display().to_string())
    }

    /// Parses policy text over the shipped defaults. `origin` names the file
    /// in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, String> {
        Policy::parse(text, origin, Some(Policy::default()))
    }

    /// Parses policy text over `base` (`None`: the text is the whole
    /// policy, as the shipped defaults are).
    fn parse(text: &str, origin: &str, base: Option<Policy>) -> Result<Policy, String> {
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| format!("policy file {origin}: {e}"))?;
        let known_c2 = merge_ports(
            raw.ports.known_c2,
            raw.ports.known_c2_add,
            base.as_ref().map(|b| &b.known_c2),
        );
        let standard = merge_ports(
            raw.ports.standard,
            raw.ports.standard_add,
            base.as_ref().map(|b| &b.standard),
        );
        let mut high_risk: BTreeSet<String> = match raw.processes.high_risk {
            Some(list) => list.iter().map(|s| image_basename(s)).collect(),
            None => base
                .as_ref()
                .map(|b| b.high_risk.clone())
                .unwrap_or_default(),
        };
        high_risk.extend(
            raw.processes
                .high_risk_add
                .iter()
                .map(|s| image_basename(s)),
        );
        let home_net = match raw.network.home_net {
            Some(list) => list
                .iter()
                .map(|s| {
                    parse_cidr(s)
                        .map_err(|e| format!("policy file {origin}: network.home_net: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => base
                .as_ref()
                .map(|b| b.home_net.clone())
                .unwrap_or_default(),
        };
        let mut allow = base.as_ref().map(|b| b.allow.clone()).unwrap_or_default();
        for (i, r) in raw.allow.into_iter().enumerate() {
            let at = |field: &str, e: String| {
                format!(
                    "policy file {origin}: allow rule {} ({:?}): {field}: {e}",
                    i + 1,
                    r.reason
                )
            };
            let nets = |list: &[String], field: &str| {
                list.iter()
                    .map(|s| parse_cidr(s).map_err(|e| at(field, e)))
                    .collect::<Result<Vec<_>, _>>()
            };
            let time = |t: &Option<String>, field: &str| {
                t.as_deref()
                    .map(crate::time::parse_rfc3339)
                    .transpose()
                    .map_err(|e| at(field, e))
            };
            let rule = AllowRule {
                dst: nets(&r.dst, "dst")?,
                src: nets(&r.src, "src")?,
                ports: r.ports.clone(),
                images: r.images.iter().map(|s| image_basename(s)).collect(),
                hosts: r.hosts.iter().map(|s| s.to_ascii_lowercase()).collect(),
                from: time(&r.from, "from")?,
                until: time(&r.until, "until")?,
                reason: r.reason.clone(),
            };
            if rule.reason.trim().is_empty() {
                return Err(at("reason", "must not be empty".into()));
            }
            allow.push(rule);
        }
        let mut services = base
            .as_ref()
            .map(|b| b.services.clone())
            .unwrap_or_default();
        for (name, ports) in &raw.services {
            let at = |e: String| format!("policy file {origin}: services.{name}: {e}");
            let service = Service::parse(name)
                .filter(|s| *s != Service::Unknown)
                .ok_or_else(|| {
                    at(format!(
                        "not a service portent identifies ({})",
                        service_names()
                    ))
                })?;
            let mut set = PortSet::new();
            for p in ports {
                match p {
                    RawPort::One(p) => set.insert(*p),
                    RawPort::Range(r) => {
                        let (lo, hi) = r
                            .split_once('-')
                            .and_then(|(a, b)| {
                                Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
                            })
                            .filter(|(a, b)| a <= b)
                            .ok_or_else(|| {
                                at(format!("{r:?} is not a port or a range LOW-HIGH"))
                            })?;
                        for p in lo..=hi {
                            set.insert(p);
                        }
                    }
                }
            }
            services.insert(service, set);
        }
        let base_ind = base.as_ref().map(|b| &b.indicators);
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_ascii_lowercase());
        let merge = |replace: Option<Vec<String>>, add: Vec<String>, base: Option<Vec<String>>| {
            let mut v: Vec<String> = match replace {
                Some(list) => lower(list).collect(),
                None => base.unwrap_or_default(),
            };
            v.extend(lower(add));
            v
        };
        let ind = raw.indicators;
        let indicators = Indicators {
            ja3: merge(
                ind.ja3,
                ind.ja3_add,
                base_ind.map(|b| b.ja3.iter().cloned().collect()),
            )
            .into_iter()
            .collect(),
            ja4: merge(
                ind.ja4,
                ind.ja4_add,
                base_ind.map(|b| b.ja4.iter().cloned().collect()),
            )
            .into_iter()
            .collect(),
            cert_subjects: merge(
                ind.cert_subjects,
                ind.cert_subjects_add,
                base_ind.map(|b| b.cert_subjects.clone()),
            ),
        };
        Ok(Policy {
            services,
            indicators,
            known_c2,
            standard,
            high_risk,
            chronicle_tier2: raw
                .scoring
                .chronicle_tier2
                .or(base.as_ref().map(|b| b.chronicle_tier2))
                .unwrap_or(false),
            home_net,
            include_private: raw
                .network
                .include_private
                .or(base.as_ref().map(|b| b.include_private))
                .unwrap_or(false),
            allow,
        })
    }

    /// Whether `service` is registered for `port`.
    pub fn registered(&self, service: Service, port: u16) -> bool {
        self.services
            .get(&service)
            .is_some_and(|s| s.contains(port))
    }

    /// The services registered for `port`, in [`Service`] order.
    pub fn expected_on(&self, port: u16) -> impl Iterator<Item = Service> + '_ {
        self.services
            .iter()
            .filter(move |(_, ports)| ports.contains(port))
            .map(|(s, _)| *s)
    }

    /// Whether an image (full path or name) is high-risk.
    pub fn is_high_risk(&self, image: &str) -> bool {
        self.high_risk.contains(&image_basename(image))
    }
}

fn merge_ports(replace: Option<Vec<u16>>, add: Vec<u16>, base: Option<&PortSet>) -> PortSet {
    let mut set = match (replace, base) {
        (Some(list), _) => list.into_iter().collect(),
        (None, Some(b)) => b.clone(),
        (None, None) => PortSet::new(),
    };
    for p in add {
        set.insert(p);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_detection_md() {
        let p = Policy::default();
        let c2: Vec<u16> = p.known_c2.iter().collect();
        assert_eq!(
            c2,
            [
                444, 587, 1224, 1337, 2083, 2087, 4443, 4444, 4445, 6666, 6667, 6668, 7777, 8008,
                8088, 8888, 9001, 9090, 31337
            ]
        );
        let std: Vec<u16> = p.standard.iter().collect();
        assert_eq!(std, [25, 53, 80, 443, 3000, 5000, 8080, 8443, 9000]);
        assert_eq!(p.high_risk.len(), 12);
        assert!(p.is_high_risk(r"C:\Windows\System32\WindowsPowerShell\v1.0\PowerShell.EXE"));
        assert!(p.is_high_risk("/usr/bin/SVCHOST.exe"));
        assert!(!p.is_high_risk("notepad.exe"));
        assert!(!p.include_private && !p.chronicle_tier2 && p.allow.is_empty());
    }

    #[test]
    fn lists_replace_and_extend() {
        let p = Policy::from_toml(
            "[ports]\nknown_c2 = [5555]\nstandard_add = [8088]\n[processes]\nhigh_risk_add = ['curl']\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(p.known_c2.iter().collect::<Vec<_>>(), [5555]);
        assert!(p.standard.contains(8088) && p.standard.contains(443));
        assert!(p.is_high_risk("/usr/bin/curl") && p.is_high_risk("cmd.exe"));
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = Policy::from_toml("[[allow]]\nreason='x'\ndst=['10.0.0.0/33']\n", "my.toml")
            .unwrap_err();
        assert!(
            e.contains("my.toml") && e.contains("allow rule 1") && e.contains("dst"),
            "{e}"
        );
        let e = Policy::from_toml("[ports]\nknwon_c2 = [1]\n", "my.toml").unwrap_err();
        assert!(e.contains("my.toml") && e.contains("knwon_c2"), "{e}");
    }
}
