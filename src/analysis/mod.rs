//! The analyzers: attempts from signals, tiers, grouping into findings.
//! Beacon detection and the Sysmon join plug in beside these.

pub mod attempts;
pub mod beacon;
pub mod content;
pub mod group;
pub mod join;
pub mod ports;
pub mod profile;
pub mod rdp;
