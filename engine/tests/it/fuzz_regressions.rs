//! What the fuzzers found (`engine/fuzz/run`), replayed on every test run with the very
//! checks the fuzz targets make: each file under `tests/fixtures/fuzz/TARGET/` is one input
//! that once broke an invariant, named for what it guards.

use std::path::Path;

#[path = "../../fuzz/checks.rs"]
mod checks;

/// Every saved input, by fuzz target: `tests/fixtures/fuzz/TARGET/NAME`.
fn saved() -> Vec<(String, String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut found = Vec::new();
    for target in std::fs::read_dir(&root).unwrap() {
        let target = target.unwrap().path();
        for input in std::fs::read_dir(&target).unwrap() {
            let input = input.unwrap().path();
            found.push((
                target.file_name().unwrap().to_string_lossy().into_owned(),
                input.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&input).unwrap(),
            ));
        }
    }
    found.sort();
    found
}

#[test]
fn inputs_that_once_broke_an_invariant_keep_it_now() {
    let demo = checks::demo_files();
    let plan = metroplan_engine::load_dir(checks::demo_dir())
        .plan
        .expect("the demonstration plan loads");
    let rules = checks::demo_rules(&plan);
    let found = saved();
    assert!(!found.is_empty());
    for (target, name, data) in found {
        eprintln!("replaying {target}/{name}");
        match target.as_str() {
            "load_plan" => checks::check_load(&checks::damaged_plan(&demo, &data)),
            "evaluate" => checks::check_evaluate(&rules, &data),
            other => panic!("no fuzz target `{other}`: tests/fixtures/fuzz/{other}/{name}"),
        }
    }
}
