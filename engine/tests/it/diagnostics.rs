//! Every diagnostic code has a fixture plan under `tests/fixtures/diagnostics/<CODE>-<what>/`
//! whose rendered text and JSON are snapshots. A fixture named after a code must produce it.

use std::path::{Path, PathBuf};

use metroplan_engine::{Code, DirSource, load};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnostics")
}

fn fixtures() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

fn render(name: &str, dir: &Path) -> (metroplan_engine::Loaded, String, String) {
    let mut loaded = load(&DirSource::with_display(dir, format!("fixtures/{name}")));
    // A plan that loads is scheduled too: schedule diagnostics (S codes) come from there.
    if let Some(plan) = &loaded.plan {
        let options = metroplan_engine::schedule::Options::default();
        let s = metroplan_engine::schedule::schedule(plan, options);
        loaded.diagnostics.extend(s.diagnostics);
        // And its rule tests, as `metroplan check` does (E026).
        let source = DirSource::with_display(dir, format!("fixtures/{name}"));
        let found = metroplan_engine::rules::cases::check_plan(plan, &source, &mut loaded.sources);
        loaded.diagnostics.extend(found);
    }
    let text: String = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d) + "\n")
        .collect();
    let json: Vec<_> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.to_json(d))
        .collect();
    let json = serde_json::to_string_pretty(&json).unwrap();
    (loaded, text, json)
}

#[test]
fn each_fixture_renders_its_snapshot() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, dir) in fixtures() {
            let (loaded, text, json) = render(&name, &dir);
            assert!(!loaded.diagnostics.is_empty(), "{name}: no diagnostic");
            insta::assert_snapshot!(format!("{name}.text"), text);
            insta::assert_snapshot!(format!("{name}.json"), json);
        }
    });
}

#[test]
fn fixture_named_after_a_code_produces_that_code() {
    for (name, dir) in fixtures() {
        let Some(code) = Code::ALL
            .iter()
            .find(|c| name.starts_with(&format!("{}-", c.as_str())))
        else {
            continue;
        };
        let (loaded, text, _) = render(&name, &dir);
        assert!(
            loaded.diagnostics.iter().any(|d| d.code == *code),
            "{name}: expected {code}, got:\n{text}"
        );
        // A warning fixture must not fail the plan because of something else.
        if code.severity() == metroplan_engine::Severity::Warning {
            assert_eq!(loaded.errors(), 0, "{name}: unexpected errors:\n{text}");
            assert!(
                loaded.plan.is_some(),
                "{name}: a plan with only warnings is valid"
            );
        } else if *code == Code::RuleTest {
            // Rule tests are checked once the plan has loaded: a malformed one fails
            // `metroplan check`, and `metroplan test` still runs the others.
            assert!(loaded.plan.is_some(), "{name}: the plan itself is valid");
        } else {
            assert!(
                loaded.plan.is_none(),
                "{name}: a plan with errors must not load"
            );
        }
    }
}

#[test]
fn every_code_has_a_fixture_and_documentation() {
    let names: Vec<String> = fixtures().into_iter().map(|(n, _)| n).collect();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md"))
            .expect("docs/errors.md");
    for code in Code::ALL {
        let c = code.as_str();
        assert!(
            names.iter().any(|n| n.starts_with(&format!("{c}-"))),
            "no fixture for {c}"
        );
        assert!(
            docs.contains(&format!("## {c}:")),
            "docs/errors.md does not document {c}"
        );
    }
}

#[test]
fn many_errors_are_all_reported_in_one_run() {
    let dir = fixtures_dir().join("many-errors-in-one-run");
    let (loaded, text, _) = render("many-errors-in-one-run", &dir);
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code.as_str()).collect();
    // Unknown axis, bad duration, unknown partner, unknown key `titre` + missing `title`,
    // unknown dependency target, impossible date: each item reported on its own.
    for expected in ["E002", "E003", "E004", "E006", "E008"] {
        assert!(codes.contains(&expected), "missing {expected} in:\n{text}");
    }
    assert!(
        loaded.errors() >= 6,
        "expected at least 6 errors, got:\n{text}"
    );
}

#[test]
fn unknown_references_suggest_the_closest_id() {
    let dir = fixtures_dir().join("E006-unknown-dependency");
    let (loaded, text, _) = render("E006-unknown-dependency", &dir);
    let sugg: Vec<&str> = loaded
        .diagnostics
        .iter()
        .flat_map(|d| d.suggestions.iter().map(String::as_str))
        .collect();
    assert!(sugg.contains(&"atelier-elus"), "{text}");
    assert!(sugg.contains(&"cohesion-sociale"), "{text}");
}

#[test]
fn a_cycle_is_printed_as_the_whole_loop_with_every_edge() {
    let dir = fixtures_dir().join("E007-dependency-cycle");
    let (loaded, text, _) = render("E007-dependency-cycle", &dir);
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == Code::DependencyCycle)
        .expect(&text);
    assert!(
        d.message
            .contains("atelier-elus → label-diversite → atelier-elus")
            || d.message
                .contains("label-diversite → atelier-elus → label-diversite"),
        "{}",
        d.message
    );
    assert_eq!(
        d.related.len(),
        1,
        "the other edge of the loop is located too"
    );
}
