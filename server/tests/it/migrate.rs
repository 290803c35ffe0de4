//! `metroplan migrate` on the plans of the first workflow language (`tests/fixtures/v1/plans`:
//! the two plans as they were at commit eda3f32 and the plan `metroplan new` wrote then): each
//! is copied, migrated, loaded, compared with what it was and migrated again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metroplan_engine::model::Workflow;
use serde_json::{Value, json};

use crate::support::repo;

fn v1() -> PathBuf {
    repo().join("server/tests/fixtures/v1")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn migrate(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .arg("migrate")
        .arg(dir)
        .output()
        .expect("metroplan runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The v1 plans of the fixtures, by name.
fn v1_plans() -> Vec<(String, PathBuf)> {
    let mut plans: Vec<_> = std::fs::read_dir(v1().join("plans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("plan.toml").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    plans.sort();
    assert_eq!(plans.len(), 3, "{plans:?}");
    plans
}

fn comments(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .collect()
}

#[test]
fn each_v1_plan_migrates_loads_keeps_its_comments_and_migrates_once() {
    for (name, fixture) in v1_plans() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(&name);
        copy_dir(&fixture, &dir);
        let before = std::fs::read_to_string(dir.join("workflows.toml")).unwrap();
        let v1_check = metroplan_engine::load_dir(&dir);
        assert!(
            v1_check.plan.is_none(),
            "{name}: the v1 plan should not load as is"
        );

        let first = migrate(&dir);
        let said = stdout(&first);
        assert!(
            first.status.success(),
            "{name}: {said}\n{}",
            String::from_utf8_lossy(&first.stderr)
        );
        assert!(said.contains("the plan loads: no error"), "{name}: {said}");
        let loaded = metroplan_engine::load_dir(&dir);
        let rendered: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| loaded.sources.render(d))
            .collect();
        assert!(
            loaded.plan.is_some() && loaded.errors() == 0,
            "{name}: {rendered:#?}"
        );

        let after = std::fs::read_to_string(dir.join("workflows.toml")).unwrap();
        assert_ne!(before, after, "{name}: nothing migrated");
        assert_eq!(
            comments(&before),
            comments(&after),
            "{name}: comments lost or moved"
        );
        insta::assert_snapshot!(format!("migrated_{name}_workflows"), after);
        // The copy's temporary directory, in the warnings' locations, is no part of the output.
        let said = said.replace(&format!("{}/", tmp.path().display()), "");
        insta::assert_snapshot!(format!("migrated_{name}_output"), said);

        let second = migrate(&dir);
        assert!(second.status.success(), "{name}");
        assert!(
            stdout(&second).contains("already in the v2 workflow language, unchanged"),
            "{name}"
        );
        assert_eq!(
            after,
            std::fs::read_to_string(dir.join("workflows.toml")).unwrap(),
            "{name}: a second run changed the file"
        );
    }
}

#[test]
fn the_v2_plans_are_left_byte_for_byte_unchanged() {
    for name in ["amp-pmlcd", "lyon-pama"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(name);
        copy_dir(&repo().join("plans").join(name), &dir);
        let out = migrate(&dir);
        assert!(out.status.success(), "{name}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("nothing to migrate"),
            "{name}: {}",
            stdout(&out)
        );
        for f in ["workflows.toml", "plan.toml"] {
            assert_eq!(
                std::fs::read(repo().join("plans").join(name).join(f)).unwrap(),
                std::fs::read(dir.join(f)).unwrap(),
                "{name}/{f}"
            );
        }
    }
}

#[test]
fn a_directory_that_is_not_a_plan_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    // A workflow file without its plan: it is not migrated.
    let wf = tmp.path().join("workflows.toml");
    let text = std::fs::read_to_string(v1().join("plans/amp-pmlcd/workflows.toml")).unwrap();
    std::fs::write(&wf, &text).unwrap();
    for dir in [tmp.path().to_path_buf(), tmp.path().join("absent")] {
        let out = migrate(&dir);
        assert_eq!(out.status.code(), Some(1), "{dir:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nothing written"), "{err}");
        assert!(
            err.contains("not a plan directory") || err.contains("not a directory"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&wf).unwrap(), text);
}

/// A transition's declarations that `migrate` writes, as JSON to compare.
fn declared(wf: &Workflow) -> Vec<(String, Value)> {
    wf.transitions
        .iter()
        .map(|t| {
            let guards: Vec<&str> = t.guards.iter().map(|g| g.name()).collect();
            (
                t.id.to_string(),
                json!({
                    "guards": guards,
                    "effects": t.effects,
                    "distinct_from": t.distinct_from,
                    "vote": t.vote,
                    "records": t.records,
                }),
            )
        })
        .collect()
}

#[test]
fn the_migrated_demo_plan_declares_what_the_hand_written_v2_plan_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("amp-pmlcd");
    copy_dir(&v1().join("plans/amp-pmlcd"), &dir);
    assert!(migrate(&dir).status.success());
    let migrated = metroplan_engine::load_dir(&dir)
        .plan
        .expect("migrated plan loads");
    let written = metroplan_engine::load_dir(repo().join("plans/amp-pmlcd"))
        .plan
        .expect("demo plan loads");
    let expected: toml::Table = std::fs::read_to_string(v1().join("amp-pmlcd.differences.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut known: Vec<(String, String)> = expected["difference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["transition"].as_str().unwrap().to_string(),
                d["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    known.sort();
    let ours = declared(&migrated.workflows[0]);
    let theirs = declared(&written.workflows[0]);
    let mut compared = 0;
    let mut differ = Vec::new();
    for (id, m) in &ours {
        let Some((_, w)) = theirs.iter().find(|(i, _)| i == id) else {
            continue;
        };
        compared += 1;
        for field in ["guards", "effects", "distinct_from", "vote", "records"] {
            if m[field] != w[field] {
                differ.push((id.clone(), field.to_string()));
                assert!(
                    known.contains(&(id.clone(), field.to_string())),
                    "`{id}`: {field} migrated as {} but written {} in plans/amp-pmlcd",
                    m[field],
                    w[field]
                );
            }
        }
    }
    assert_eq!(
        compared,
        ours.len(),
        "every v1 transition is in the v2 plan"
    );
    differ.sort();
    // The list of known differences is exact: one that no longer differs is removed from it.
    assert_eq!(differ, known);
}
