#![allow(dead_code)] // each fuzz target uses its part
//! The invariants the fuzz targets check, shared with the regression tests that replay what
//! the fuzzer found (`engine/tests/it/fuzz_regressions.rs`): a fix is kept by the same check
//! that caught the bug.

use std::path::{Path, PathBuf};

use metroplan_engine::rules::explain::{explain, text_fr};
use metroplan_engine::rules::{Context, EvalError, Ruleset};
use metroplan_engine::{MemorySource, Plan, load};

/// The demonstration plan's files, in memory, to damage one at a time.
pub fn demo_files() -> MemorySource {
    fn walk(root: &Path, dir: &Path, out: &mut MemorySource) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("the demonstration plan")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), text);
            }
        }
    }
    let root = demo_dir();
    let mut src = MemorySource::new("amp-pmlcd");
    walk(&root, &root, &mut src);
    src
}

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("plans/amp-pmlcd/plan.toml").is_file())
        .expect("the repository's plans")
        .join("plans/amp-pmlcd")
}

/// The fuzzer's bytes as a plan: a first line naming one of the demonstration plan's files,
/// then the text that replaces it, so that mutations start from real plan files. A first line
/// that names no file makes the whole input a plan of one file.
pub fn damaged_plan(base: &MemorySource, data: &[u8]) -> MemorySource {
    let text = String::from_utf8_lossy(data);
    if let Some((first, rest)) = text.split_once('\n') {
        let path = PathBuf::from(first);
        if base.files.contains_key(&path) {
            let mut src = base.clone();
            src.insert(path, rest.to_string());
            return src;
        }
    }
    let mut src = MemorySource::new("one-file");
    src.insert("plan.toml", text.into_owned());
    src
}

/// Loading never panics, every diagnostic points inside its file and renders, and loading
/// twice says the same.
pub fn check_load(src: &MemorySource) {
    let a = load(src);
    for d in &a.diagnostics {
        if let Some(loc) = &d.loc {
            let len = a.sources.text(loc.file).len();
            assert!(
                loc.span.start <= loc.span.end && loc.span.end <= len,
                "span {:?} outside a file of {len} bytes: {d:?}",
                loc.span
            );
        }
        let _ = a.sources.render(d);
    }
    let b = load(src);
    let ra: Vec<String> = a.diagnostics.iter().map(|d| a.sources.render(d)).collect();
    let rb: Vec<String> = b.diagnostics.iter().map(|d| b.sources.render(d)).collect();
    assert_eq!(ra, rb, "loading twice said different things");
    assert_eq!(a.plan.is_some(), b.plan.is_some());
}

pub fn demo_rules(plan: &Plan) -> std::sync::Arc<Ruleset> {
    plan.fund("fonds-initiative")
        .and_then(|f| f.ruleset.clone())
        .expect("the demonstration fund's rules")
}

/// Any JSON against the demonstration fund's rules gets an outcome with an explanation, or an
/// input error naming a field: never a script error, a stop on a limit, or a panic.
pub fn check_evaluate(rules: &Ruleset, data: &[u8]) {
    let Ok(app) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let ctx = Context {
        filed_on: Some("2021-03-01".parse().unwrap()),
        other_filings: 0,
    };
    match rules.evaluate(&app, ctx) {
        Ok(e) => {
            let x = explain(rules, &e);
            assert!(!text_fr(&x, &e).is_empty());
        }
        Err(EvalError::Input(i)) => assert!(!i.field.is_empty(), "an input error names a field"),
        Err(other) => panic!("{other}"),
    }
}
