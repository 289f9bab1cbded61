//! Risk tiers for one attempt (DETECTION.md §5).
//!
//! Port and process classes come from the policy; the tier table is the
//! seeds' scoring model, with Chronicle's variant as a setting.

use serde::Serialize;

use crate::policy::Policy;

/// Severity of a tier, as the reports print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }

    pub fn from_tier(tier: u8) -> Option<Severity> {
        match tier {
            3.. => Some(Severity::High),
            2 => Some(Severity::Medium),
            1 => Some(Severity::Low),
            0 => None,
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// The tier of an attempt to destination port `port` by `image` (if known):
/// 3 high-risk image on a known C2 port; 2 high-risk image on another port
/// above 1024 that is not standard (any port above 1024 in Chronicle's
/// variant); 1 a known C2 port; 0 nothing to report.
pub fn tier(policy: &Policy, port: u16, image: Option<&str>) -> u8 {
    let c2 = policy.known_c2.contains(port);
    let risky = image.is_some_and(|i| policy.is_high_risk(i));
    if risky && c2 {
        3
    } else if risky && port > 1024 && (policy.chronicle_tier2 || !policy.standard.contains(port)) {
        2
    } else if c2 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_of_the_table() {
        let p = Policy::default();
        let ps = Some(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe");
        let np = Some(r"C:\Program Files\App\app.exe");
        assert_eq!(tier(&p, 4444, ps), 3);
        assert_eq!(tier(&p, 33890, ps), 2);
        assert_eq!(tier(&p, 8080, ps), 0, "standard port above 1024");
        assert_eq!(tier(&p, 443, ps), 0);
        assert_eq!(tier(&p, 1000, ps), 0, "low port, not C2");
        assert_eq!(tier(&p, 587, ps), 3, "C2 port below 1024");
        assert_eq!(tier(&p, 4444, np), 1);
        assert_eq!(tier(&p, 4444, None), 1);
        assert_eq!(tier(&p, 33890, np), 0);
        assert_eq!(tier(&p, 33890, None), 0);
        let mut chron = p.clone();
        chron.chronicle_tier2 = true;
        assert_eq!(tier(&chron, 8080, ps), 2);
        assert_eq!(Severity::from_tier(3), Some(Severity::High));
        assert_eq!(Severity::from_tier(0), None);
    }
}
