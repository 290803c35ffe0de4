//! The rules from the command line: one application, a batch, the rule tests, the
//! publication and a draft's what-if.

use crate::{repo, run, stdout};

fn shared(name: &str) -> String {
    repo()
        .join("../shared/data/applications")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn eligibility_prints_the_result_and_its_explanation() {
    let o = run(&[
        "eligibility",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        &shared("incomplete-missing-rib.json"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["outcome"], "incomplete");
    assert_eq!(v["missing"], serde_json::json!(["documents.rib"]));
    assert!(v["ruleset"].as_str().unwrap().starts_with("sha256:"));
    let rules = v["rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .all(|r| r["id"].is_string() && r["status"].is_string() && r["message"].is_string())
    );
    let x = &v["explanation"];
    assert!(x["notice"].as_str().unwrap().contains("L311-3-1"));
    assert!(
        x["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["source"] == "référentiel des territoires du plan")
    );
    let text = run(&[
        "eligibility",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        &shared("incomplete-missing-rib.json"),
        "--format",
        "text",
    ]);
    let text = stdout(&text);
    assert!(text.contains("Votre dossier est incomplet"), "{text}");
    assert!(text.contains("4. Opérations effectuées"), "{text}");
}

#[test]
fn an_invalid_application_is_a_usage_error_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("metroplan-bad-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    let mut app: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared("eligible-association-vitrolles.json")).unwrap(),
    )
    .unwrap();
    app["project"]["requested_amount"] = "huit mille".into();
    std::fs::write(&path, app.to_string()).unwrap();
    let o = run(&[
        "eligibility",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("project.requested_amount"), "{err}");
    let o = run(&[
        "eligibility",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiativ",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `fonds-initiative`"));
}

#[test]
fn batch_keeps_the_order_reports_bad_lines_and_counts_earlier_filings() {
    let dir = std::env::temp_dir().join(format!("metroplan-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let read = |n: &str| -> String {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(shared(n)).unwrap()).unwrap();
        v.to_string()
    };
    let ok = read("eligible-association-vitrolles.json");
    let lines = [
        ok.clone(),
        read("ineligible-political-party.json"),
        "{ not json".to_string(),
        read("incomplete-missing-rib.json"),
        // The same applicant again in the same call: article 6 allows one.
        ok,
    ];
    let path = dir.join("apps.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let o = run(&[
        "eligibility",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        "--batch",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcomes: Vec<&str> = out
        .iter()
        .map(|v| v["outcome"].as_str().unwrap_or("error"))
        .collect();
    assert_eq!(
        outcomes,
        [
            "eligible",
            "ineligible",
            "error",
            "incomplete",
            "ineligible"
        ]
    );
    assert!(out[2]["error"].as_str().unwrap().contains("not valid JSON"));
    let dup = out[4]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "art-6-un-dossier-par-appel")
        .unwrap();
    assert_eq!(dup["status"], "fail");
}

#[test]
fn metroplan_test_runs_the_rule_tests_with_coverage() {
    let o = run(&["test", "plans/amp-pmlcd"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("rule coverage: 17/17 rules seen passing and failing"),
        "{out}"
    );
    assert!(out.contains("plafond just over"), "{out}");
}

#[test]
fn publish_rules_writes_markdown_and_html_from_the_running_rules() {
    let dir = std::env::temp_dir().join(format!("metroplan-publish-{}", std::process::id()));
    let o = run(&[
        "publish-rules",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(dir.join("fonds-initiative.md")).unwrap();
    let html = std::fs::read_to_string(dir.join("fonds-initiative.html")).unwrap();
    let script =
        std::fs::read_to_string(repo().join("plans/amp-pmlcd/rules/fonds-initiative.rhai"))
            .unwrap();
    // Every declared rule and the 2022 ceiling are in both.
    for needle in [
        "art-2-porteur",
        "art-5-plafond-intercommunal",
        "12 000 €",
        "depuis le 1er janvier 2022",
    ] {
        assert!(md.contains(needle), "md: {needle}");
        assert!(html.contains(needle), "html: {needle}");
    }
    assert!(
        md.contains(script.trim_end()),
        "the source is published as it runs"
    );
    assert!(html.starts_with("<!doctype html>\n<html lang=\"fr\">"));
}

#[test]
fn rules_diff_lists_applications_whose_outcome_changes_under_a_draft() {
    let dir = std::env::temp_dir().join(format!("metroplan-draft-{}", std::process::id()));
    let draft = dir.join("plan");
    let _ = std::fs::remove_dir_all(&draft);
    copy_dir(&repo().join("plans/amp-pmlcd"), &draft);
    // The draft lowers the 2020-2021 ceiling from 10 000 to 8 500.
    let fund = draft.join("funds/fonds-initiative.toml");
    let text = std::fs::read_to_string(&fund).unwrap();
    let text = text.replacen("value = 10000\n", "value = 8500\n", 1);
    std::fs::write(&fund, text).unwrap();
    let mut app: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared("eligible-association-vitrolles.json")).unwrap(),
    )
    .unwrap();
    let same = app.to_string();
    app["project"]["requested_amount"] = 9000.into();
    // Another applicant: the same one twice would be refused by article 6 either way.
    app["applicant"]["siret"] = "81234567800027".into();
    let apps = dir.join("apps.ndjson");
    std::fs::write(&apps, format!("{same}\n{app}\n")).unwrap();
    let o = run(&[
        "rules-diff",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        apps.to_str().unwrap(),
        "--draft-plan",
        draft.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["applications"], 2);
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v:#}");
    assert_eq!(changes[0]["line"], 2);
    assert_eq!(changes[0]["before"], "eligible");
    assert_eq!(changes[0]["after"], "ineligible");
    assert_eq!(
        changes[0]["rules"][0],
        serde_json::json!(["art-5-plafond", "pass", "fail"])
    );
    assert_ne!(v["ruleset_before"], v["ruleset_after"]);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

#[test]
fn a_pinned_ruleset_refuses_to_evaluate_under_other_rules() {
    let app = shared("eligible-association-vitrolles.json");
    let base = [
        "eligibility",
        "plans/amp-pmlcd",
        "--fund",
        "fonds-initiative",
        app.as_str(),
    ];
    let first: serde_json::Value = serde_json::from_str(&stdout(&run(&base))).unwrap();
    let hash = first["ruleset"].as_str().unwrap().to_string();
    let mut pinned = base.to_vec();
    pinned.extend(["--ruleset", hash.as_str()]);
    let again: serde_json::Value = serde_json::from_str(&stdout(&run(&pinned))).unwrap();
    assert_eq!(
        first, again,
        "the same rules give the same result, bit for bit"
    );
    let mut other = base.to_vec();
    other.extend(["--ruleset", "sha256:0000"]);
    let o = run(&other);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&hash));
}

/// A copy of the E026 fixture: one good rule test, one with a key the schema does not know,
/// one whose application does not fit the form and names a rule the script lacks.
fn malformed_rule_tests() -> std::path::PathBuf {
    repo().join("engine/tests/fixtures/diagnostics/E026-rule-test")
}

#[test]
fn check_reports_a_malformed_rule_test() {
    let dir = malformed_rule_tests();
    let o = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("02-cle-inconnue.toml:3:1: error[E026]: rule test: unknown field `echec`"),
        "{out}"
    );
    assert!(
        out.contains("03-hors-formulaire.toml:3:10: error[E026]: rule test: the script declares no rule `quartier-prioritair`"),
        "{out}"
    );
    assert!(
        out.contains("03-hors-formulaire.toml:6:1: error[E026]: rule test: the application does not fit the form"),
        "{out}"
    );
    assert!(out.contains("3 errors"), "{out}");
    // The repository's plans have none.
    for plan in ["plans/amp-pmlcd", "plans/lyon-pama"] {
        let o = run(&["check", plan]);
        assert!(o.status.success(), "{plan}: {}", stdout(&o));
    }
}

#[test]
fn test_reports_every_malformed_case_and_goes_on() {
    let dir = malformed_rule_tests();
    let o = run(&["test", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    // The malformed file is named with what is wrong; the others still ran.
    assert!(
        out.contains("FAIL  rules/fonds/tests/02-cle-inconnue.toml: malformed"),
        "{out}"
    );
    assert!(
        out.contains("line 3, column 1: unknown field `echec`"),
        "{out}"
    );
    assert!(out.contains("ok    01-bon.toml"), "{out}");
    assert!(
        out.contains("FAIL  03-hors-formulaire.toml")
            && out.contains("`project.qpv`: must be true or false"),
        "{out}"
    );
    assert!(out.contains("fund fonds: 3 cases"), "{out}");
}
