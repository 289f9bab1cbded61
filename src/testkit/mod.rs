//! The test kit: synthetic captures and flow exports whose content is known
//! exactly, the benchmark traffic generator and the samples' generator.
//!
//! Not part of the product: compiled for the crate's own unit tests and,
//! through the `testkit` feature (which the crate's dev-dependency on itself
//! turns on), for the integration tests, benches and examples. A release
//! build has none of it, and its helpers may panic on bad arguments.

pub mod bench;
pub mod samples;
pub mod synth;
