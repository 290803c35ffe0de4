//! The command line: exit codes, text and JSON output, schema freshness.

use crate::{repo, run, stdout};

#[test]
fn check_passes_on_the_demo_plan() {
    let out = run(&["check", "plans/amp-pmlcd"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("plan `amp-pmlcd` is valid"), "{text}");
}

#[test]
fn check_exits_1_and_locates_errors_in_json() {
    let fixture = "engine/tests/fixtures/diagnostics/E006-unknown-dependency";
    let out = run(&["check", fixture, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(doc["valid"], false);
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    let dep = diags
        .iter()
        .find(|d| {
            d["message"]
                .as_str()
                .is_some_and(|m| m.contains("atelier-elu`"))
        })
        .expect("unknown dependency reported");
    assert_eq!(dep["code"], "E006");
    assert_eq!(dep["line"], 33);
    assert_eq!(dep["column"], 22);
    assert!(dep["file"].as_str().unwrap().ends_with("plan.toml"));
    assert_eq!(dep["suggestions"][0], "atelier-elus");
}

#[test]
fn check_text_output_has_file_line_col_code_and_caret() {
    let out = run(&[
        "check",
        "engine/tests/fixtures/diagnostics/E002-unknown-key",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("E002-unknown-key/plan.toml:32:1: error[E002]: unknown key `duraton`"),
        "{text}"
    );
    assert!(text.contains("^^^^^^^ not a key of this table"), "{text}");
    assert!(text.contains("did you mean `duration`?"), "{text}");
}

#[test]
fn unreadable_plan_directory_exits_2() {
    let out = run(&["check", "plans/no-such-plan"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = std::env::temp_dir().join(format!("metroplan-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a directory without plan.toml cannot be read"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["check"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["check", "plans/amp-pmlcd", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn committed_schema_is_current() {
    let out = run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(repo().join("plans/plan.schema.json")).unwrap();
    assert!(
        stdout(&out) == committed,
        "plans/plan.schema.json is stale: cargo run -p metroplan -- schema > plans/plan.schema.json"
    );
    let check = run(&["schema", "--check", "plans/plan.schema.json"]);
    assert_eq!(check.status.code(), Some(0));
}

#[test]
fn committed_rule_test_schema_is_current() {
    let o = run(&[
        "schema",
        "--rule-tests",
        "--check",
        "plans/rule-test.schema.json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn every_plan_file_points_at_the_schema() {
    for entry in walk(&repo().join("plans")) {
        // Rule tests (`<plan>/rules/<fund>/tests/*.toml`) have their own schema.
        let rule_test = entry.components().any(|c| c.as_os_str() == "rules");
        let schema = if rule_test {
            "rule-test.schema.json"
        } else {
            "plan.schema.json"
        };
        if entry.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&entry).unwrap();
            let first = text.lines().next().unwrap_or("");
            assert!(
                first.starts_with("#:schema ") && first.ends_with(schema),
                "{}",
                entry.display()
            );
            let target = entry
                .parent()
                .unwrap()
                .join(first.trim_start_matches("#:schema ").trim());
            assert!(
                target.is_file(),
                "{}: {} does not exist",
                entry.display(),
                target.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn schedule_prints_every_item_and_json_parses() {
    let out = run(&["schedule", "plans/amp-pmlcd"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("atelier-elus") && l.contains("2020-01-24")),
        "{text}"
    );
    assert!(text.contains("plan finishes on 2025-12-31"), "{text}");
    let out = run(&["schedule", "plans/amp-pmlcd", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let items = doc["schedule"]["items"].as_array().unwrap();
    let call = items
        .iter()
        .find(|i| i["id"] == "fonds-initiative-annuel")
        .unwrap();
    assert_eq!(
        call["occurrences"].as_array().unwrap().len(),
        6,
        "one call a year, 2020 to 2025"
    );
}

#[test]
fn why_explains_the_label_date_through_its_driving_chain() {
    let out = run(&["why", "plans/amp-pmlcd", "label-diversite-egalite"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for step in [
        "candidature-labels",
        "plan-formation",
        "atelier-elus",
        "adoption-plan",
    ] {
        assert!(text.contains(step), "{step} missing from:\n{text}");
    }
    assert!(text.contains("finish-to-start, lag 3mo"), "{text}");
    let out = run(&["why", "plans/amp-pmlcd", "label-diversit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `label-diversite-egalite`")
    );
}

#[test]
fn schedule_refuses_a_broken_plan_with_exit_1() {
    let out = run(&[
        "schedule",
        "engine/tests/fixtures/diagnostics/E007-dependency-cycle",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E007"));
}

#[test]
fn what_if_refuses_an_absurd_slip_with_a_usage_error() {
    let out = run(&[
        "what-if",
        "plans/amp-pmlcd",
        "atelier-elus",
        "--slip",
        "2000000000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("36500"));
}

#[test]
fn applicant_key_transfer_refuses_a_plan_or_fund_the_plans_do_not_have() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    for (plan, fund, flag) in [
        (
            "amp-pmcld",
            "fonds-initiative",
            "--plan: no plan `amp-pmcld`",
        ),
        (
            "amp-pmlcd",
            "fonds-inititive",
            "--fund: plan `amp-pmlcd` has no fund `fonds-inititive`",
        ),
    ] {
        let out = run(&[
            "applicant-key",
            "transfer",
            "--plan",
            plan,
            "--fund",
            fund,
            "--key",
            "81234567800019",
            "--to",
            "asso@example.org",
            "--plans",
            "plans",
            "--database",
            &db,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(flag), "{err}");
    }
    // Nothing was written: the database was never even created.
    assert!(!dir.path().join("m.db").exists());
}
