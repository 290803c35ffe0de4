//! The application validator and the eligibility rules of the demonstration fund on
//! arbitrary JSON.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use metroplan_engine::rules::Ruleset;

#[path = "../checks.rs"]
mod checks;

static RULES: LazyLock<Arc<Ruleset>> = LazyLock::new(|| {
    let plan = metroplan_engine::load_dir(checks::demo_dir())
        .plan
        .expect("the demonstration plan loads");
    checks::demo_rules(&plan)
});

fuzz_target!(|data: &[u8]| {
    checks::check_evaluate(&RULES, data);
});
