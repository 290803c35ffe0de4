//! metroplan's engine: the plan model and its validation (scheduling, eligibility rules
//! and workflow logic build on it). No HTTP, no database; files are read only through
//! [`PlanSource`].

pub mod csv;
pub mod diagnostic;
pub mod diff;
pub mod french;
pub(crate) mod graph;
pub mod model;
pub mod plan;
pub mod rules;
pub mod schedule;
pub mod schema;
pub mod source;
pub mod suggest;
pub mod synth;
pub mod workflow;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use model::Plan;
pub use plan::files::{DirSource, MemorySource, PlanSource};
pub use plan::{Loaded, load};

/// Loads the plan directory at `dir`.
pub fn load_dir(dir: impl Into<std::path::PathBuf>) -> Loaded {
    load(&DirSource::new(dir))
}
