//! `metroplan new`: the generated plan passes everything as generated, and a server serves it.

use crate::server::{OPEN, Server, database, request};
use crate::{run, stdout};

#[test]
fn a_new_plan_passes_check_test_and_schedule_as_generated_and_is_served() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("Plan Vélo");
    let d = dir.to_str().unwrap();
    let out = run(&["new", d, "--year", "2021", "--title", "Plan vélo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "plan.toml",
        "actions/actions.toml",
        "rules/fonds-exemple.rhai",
        "plan.schema.json",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let plan = std::fs::read_to_string(dir.join("plan.toml")).unwrap();
    assert!(plan.starts_with("#:schema plan.schema.json\n"));
    assert!(plan.contains("id = \"plan-velo\""));
    let tests =
        std::fs::read_to_string(dir.join("rules/fonds-exemple/tests/01-exemple.toml")).unwrap();
    assert!(tests.starts_with("#:schema ../../../rule-test.schema.json\n"));

    assert!(
        run(&["fmt", "--check", d]).status.success(),
        "generated in the canonical layout"
    );
    let check = run(&["check", d]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(stdout(&check).contains("0 warnings"), "{}", stdout(&check));
    let test = run(&["test", d]);
    assert!(test.status.success(), "{}", stdout(&test));
    assert!(
        stdout(&test).contains("rule coverage: 1/1"),
        "{}",
        stdout(&test)
    );
    let schedule = run(&["schedule", d, "--format", "json"]);
    assert!(schedule.status.success());
    let json: serde_json::Value = serde_json::from_slice(&schedule.stdout).unwrap();
    assert!(json.to_string().contains("appel-a-projets"));

    // A server on it: the plan and its fund, during the 2021 call.
    let (db, _drop) = database(tmp.path());
    let server = Server::start_with(&db, tmp.path(), OPEN, &dir);
    let r = request(&server.addr, "GET", "/api/plans/plan-velo", None, &[], None).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let page = request(
        &server.addr,
        "GET",
        "/plans/plan-velo/fonds/fonds-exemple",
        None,
        &[],
        None,
    )
    .unwrap();
    assert_eq!(page.status, 200);

    // Not over an existing plan.
    let again = run(&["new", d]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn a_new_plan_in_a_directory_of_plans_uses_its_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("plan.schema.json"), "{}").unwrap();
    let dir = tmp.path().join("lyon");
    let out = run(&["new", dir.to_str().unwrap(), "--year", "2026"]);
    assert!(out.status.success());
    assert!(!dir.join("plan.schema.json").exists());
    let actions = std::fs::read_to_string(dir.join("actions/actions.toml")).unwrap();
    assert!(actions.starts_with("#:schema ../../plan.schema.json\n"));
}

#[test]
fn every_plan_of_the_repository_passes_check_test_and_schedule() {
    let mut seen = Vec::new();
    for e in std::fs::read_dir(crate::repo().join("plans")).unwrap() {
        let dir = e.unwrap().path();
        if !dir.join("plan.toml").is_file() {
            continue;
        }
        let d = dir.to_str().unwrap();
        for cmd in [&["check", d][..], &["test", d], &["schedule", d]] {
            let out = run(cmd);
            assert!(
                out.status.success(),
                "metroplan {cmd:?}: {}{}",
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        seen.push(dir.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(
        seen,
        ["amp-pmlcd", "lyon-pama"],
        "the two plans, from two metropolises"
    );
}
