//! `metroplan fmt`: one canonical layout, comments and data kept, idempotent.

use std::path::Path;

use crate::{copy_dir, repo, run};

#[test]
fn a_messy_file_is_laid_out_canonically_with_its_comments() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("messy.toml");
    std::fs::copy(repo().join("tests/fixtures/fmt/messy.toml"), &f).unwrap();
    let check = run(&["fmt", "--check", f.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1), "--check reports it");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        std::fs::read_to_string(repo().join("tests/fixtures/fmt/messy.toml")).unwrap(),
        "--check changes nothing"
    );
    assert!(run(&["fmt", f.to_str().unwrap()]).status.success());
    let formatted = std::fs::read_to_string(&f).unwrap();
    // The expected layout, reviewed by hand.
    assert_eq!(
        formatted,
        std::fs::read_to_string(repo().join("tests/fixtures/fmt/messy.formatted.toml")).unwrap()
    );
    assert!(formatted.starts_with("#:schema ../plan.schema.json\n"));
    for comment in [
        "# Un commentaire en tête.",
        "# l'identifiant",
        "# un commentaire indenté",
        "# premier",
    ] {
        assert!(formatted.contains(comment), "{comment}");
    }
    assert!(
        formatted.contains("espaces sont gardés.   \"\"\""),
        "strings are untouched"
    );
    let again = run(&["fmt", "--check", f.to_str().unwrap()]);
    assert!(again.status.success(), "formatting is idempotent");
}

#[test]
fn every_plan_file_of_the_repository_keeps_its_data_and_is_formatted_once_for_all() {
    let tmp = tempfile::tempdir().unwrap();
    let plans = tmp.path().join("plans");
    copy_dir(&repo().join("plans"), &plans);
    let before: Vec<(String, toml::Table)> = toml_files(&plans);
    let out = run(&["fmt", plans.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = toml_files(&plans);
    assert_eq!(before, after, "the same data in every file");
    assert!(
        run(&["fmt", "--check", plans.to_str().unwrap()])
            .status
            .success()
    );
    let check = run(&["check", plans.join("amp-pmlcd").to_str().unwrap()]);
    assert!(check.status.success());
}

#[test]
fn a_file_that_is_not_toml_is_reported_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("broken.toml");
    std::fs::write(&f, "[plan\nid = 1\n").unwrap();
    let out = run(&["fmt", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "[plan\nid = 1\n");
}

fn toml_files(dir: &Path) -> Vec<(String, toml::Table)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                let t: toml::Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), t));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
