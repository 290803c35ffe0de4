//! The plan loader on damaged plan files and on arbitrary bytes.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use metroplan_engine::MemorySource;

#[path = "../checks.rs"]
mod checks;

static DEMO: LazyLock<MemorySource> = LazyLock::new(checks::demo_files);

fuzz_target!(|data: &[u8]| {
    checks::check_load(&checks::damaged_plan(&DEMO, data));
});
