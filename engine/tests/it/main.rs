//! Integration tests of the engine: one binary, fixtures as files, snapshots with insta.

mod diagnostics;
mod explanations;
mod findings;
mod fund_keys;
mod fuzz_regressions;
mod properties;
mod publish;
mod rules;
mod schedule;
mod territories;
mod workflow;
