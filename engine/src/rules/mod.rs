//! Eligibility rules: a fund's Rhai script, compiled once when the plan loads, run in a
//! sandbox against applications checked by the fund's form.
//!
//! A script declares its checks through host functions, so that every check has an id, an
//! article and a French message, and the trace of an evaluation is produced by
//! construction:
//!
//! ```rhai
//! rule("art-5-plafond", "Article 5", "Le montant demandé ne dépasse pas le plafond",
//!     || field("project.requested_amount") <= param("plafond"));
//! exception("art-5-plafond-intercommunal", "Article 5", "...", "art-5-plafond", 1,
//!     || councils(field("project.communes")) >= 2,
//!     || field("project.requested_amount") <= param("plafond") * (1 + param("majoration-intercommunale")));
//! ```
//!
//! Data are read only inside a check: `field` (the application, through its form), `param`
//! (the fund's dated parameters at the filing date), and the plan's registries (`has_flag`,
//! `council_of`, ...). Reading an absent field makes the check `missing`, never a zero.
//!
//! `types`: declarations, results, errors; `environment`: what a script sees; `host`: the
//! host functions, which reach the running evaluation through the thread-local of `state`
//! (reset by a guard, even when a host function panics); `compile` and `evaluate`: the
//! ruleset's two phases.

pub mod application;
pub mod batch;
pub mod cases;
mod compile;
mod environment;
mod evaluate;
pub mod explain;
mod host;
pub mod publish;
pub(crate) mod sandbox;
pub mod standing;
mod state;
mod types;

pub use application::{Application, InputError};
pub use compile::Ruleset;
pub use environment::{Env, FILING_DATE_FIELD, TerritoryInfo};
pub use host::commune_of_siren;
pub use sandbox::Limits;
pub use types::*;
