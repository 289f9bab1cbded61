//! portent: find outbound TCP connection attempts on non-standard ports
//! (MITRE ATT&CK T1571) in packet captures.
//!
//! The data flows one way, one module per step:
//! [`source`] (find, open, recognise inputs; read captures) ->
//! [`decode`] (link layer to TCP, in place) -> [`event`] (signals and
//! attempts) -> [`filter`] (public destinations, allow rules) ->
//! [`analysis`] (attempts, tiers, grouping) -> [`report`] (table, JSONL, CSV).
//! [`run`] ties the steps together; [`cli`] turns arguments into settings.

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
pub mod source;
pub mod stats;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod time;
