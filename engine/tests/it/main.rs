//! Integration tests of the engine: one binary, fixtures as files, snapshots with insta.

mod diagnostics;
mod findings;
mod fuzz_regressions;
mod properties;
mod rules;
mod schedule;
mod territories;
mod workflow;
