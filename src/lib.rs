//! portent: find outbound TCP connection attempts on non-standard ports
//! (MITRE ATT&CK T1571) in packet captures, flow exports and Sysmon logs.
//!
//! The data flows one way, one module per step:
//! [`source`] (find, open, recognise inputs; read captures, flow exports,
//! Sysmon logs) -> [`decode`] (link layer to TCP, in place) -> [`event`]
//! (signals and attempts) -> [`filter`] (public destinations, allow rules)
//! -> [`analysis`] (attempts, tiers, beacons, the Sysmon join, grouping) ->
//! [`findings`] (what a run found) -> [`report`] (table, JSONL, CSV, HTML).
//! [`pipeline`] ties the steps together for a run over files, [`collect`]
//! for a live collector; [`cli`] turns arguments into settings and [`app`]
//! runs a command. Imports point down that list (`tests/layers.rs` checks
//! it); [`policy`], [`time`] and [`stats`] are below every step that uses
//! them.

pub mod analysis;
pub mod app;
pub mod cli;
pub mod collect;
pub mod decode;
pub mod event;
pub mod filter;
pub mod findings;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod service;
pub mod source;
pub mod stats;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod time;
