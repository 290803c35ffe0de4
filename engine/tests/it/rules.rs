//! Eligibility rules: the demonstration fund's rule tests (with boundaries and coverage),
//! the sandbox's limits, the three outcomes, form checks, the explanation and the ruleset's
//! identity.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metroplan_engine::rules::explain::explain;
use metroplan_engine::rules::{Context, EvalError, Limits, Outcome, Ruleset, Status, cases};
use metroplan_engine::source::SourceMap;
use metroplan_engine::{DirSource, Plan, load};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans/amp-pmlcd")
}

fn demo() -> Plan {
    load(&DirSource::new(demo_dir())).plan.expect("demo plan")
}

fn demo_rules(plan: &Plan) -> Arc<Ruleset> {
    plan.fund("fonds-initiative")
        .and_then(|f| f.ruleset.clone())
        .expect("compiled rules")
}

fn shared_application(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/applications")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("shared application")).expect("JSON")
}

/// The fund's rules with another script, as a draft would be.
fn with_script(plan: &Plan, script: &str, limits: Limits) -> Result<Ruleset, String> {
    let fund = plan.fund("fonds-initiative").expect("fund");
    let mut map = SourceMap::default();
    let file = map.add(PathBuf::from("rules/essai.rhai"), script.to_string());
    Ruleset::compile(plan, fund, "rules/essai.rhai", script, file, None, limits).map_err(|ds| {
        ds.iter()
            .map(|d| map.render(d))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn demo_fund_rule_tests_pass_with_full_coverage() {
    let plan = demo();
    let fund = plan.fund("fonds-initiative").unwrap();
    let cases = cases::read(&DirSource::new(demo_dir()), &fund.rules).expect("cases");
    assert!(cases.len() >= 19, "{} cases", cases.len());
    let run = cases::run(&demo_rules(&plan), &cases);
    let failed: Vec<_> = run.cases.iter().filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(run.coverage.complete(), "{:#?}", run.coverage);
    // Every numeric parameter the rules read got its three boundary cases.
    let boundary = run.cases.iter().filter(|c| c.name.ends_with(" at")).count();
    assert_eq!(boundary, 7);
}

#[test]
fn the_three_shared_examples_have_their_outcomes() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let eval = |name| {
        rules
            .evaluate(&shared_application(name), Context::default())
            .expect("evaluated")
    };
    let ok = eval("eligible-association-vitrolles.json");
    assert_eq!(ok.outcome, Outcome::Eligible);
    // Article 8: QPV 20 + participation 15 automatically; Vitrolles has a PLCD (0 of 15);
    // the instructors' 35 points stay open.
    let score = ok.score.expect("score");
    assert_eq!(score.points.to_string(), "35");
    assert_eq!(score.max_reachable.to_string(), "70");
    let rib = eval("incomplete-missing-rib.json");
    assert_eq!(rib.outcome, Outcome::Incomplete);
    assert_eq!(rib.missing, ["documents.rib"]);
    let party = eval("ineligible-political-party.json");
    assert_eq!(party.outcome, Outcome::Ineligible);
    let failing: Vec<&str> = party
        .rules
        .iter()
        .filter(|r| r.counts() && r.status == Status::Fail)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(failing, ["art-2-porteur"]);
}

#[test]
fn an_absent_field_is_missing_never_zero_or_false() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let mut app = shared_application("eligible-association-vitrolles.json");
    app["project"]
        .as_object_mut()
        .unwrap()
        .remove("requested_amount");
    let e = rules.evaluate(&app, Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Incomplete);
    assert!(e.missing.contains(&"project.requested_amount".to_string()));
    let minimum = e
        .rules
        .iter()
        .find(|r| r.id == "art-5-montant-minimum")
        .unwrap();
    assert_eq!(minimum.status, Status::Missing);
    assert_eq!(minimum.missing, ["project.requested_amount"]);
}

#[test]
fn wrong_types_and_unknown_choices_are_refused_naming_the_field() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let base = shared_application("eligible-association-vitrolles.json");
    let refused = |path: &str, value: serde_json::Value| -> String {
        let mut app = base.clone();
        *app.pointer_mut(path).unwrap() = value;
        match rules.evaluate(&app, Context::default()) {
            Err(EvalError::Input(e)) => e.to_string(),
            other => panic!("{path}: expected an input error, got {other:?}"),
        }
    };
    assert!(
        refused("/project/requested_amount", "beaucoup".into())
            .contains("project.requested_amount")
    );
    assert!(refused("/applicant/kind", "asociation".into()).contains("did you mean `association`"));
    assert!(refused("/project/qpv", "oui".into()).contains("true or false"));
    assert!(refused("/submitted_on", "02/03/2020".into()).contains("YYYY-MM-DD"));
    assert!(
        refused(
            "/project/criteria",
            serde_json::json!(["origine", "couleur"])
        )
        .contains("project.criteria[1]")
    );
    assert!(refused("/documents", serde_json::json!(["rib", "rib"])).contains("twice"));
    let mut app = base.clone();
    app["project"]["budget"] = 3.into();
    let err = rules.evaluate(&app, Context::default()).unwrap_err();
    assert!(err.to_string().contains("project.budget"), "{err}");
}

#[test]
fn runaway_scripts_stop_on_a_limit_naming_the_script_and_the_process_goes_on() {
    let plan = demo();
    let app = shared_application("eligible-association-vitrolles.json");
    let cases = [
        (
            "loop",
            "rule(\"boucle\", \"A\", \"m\", || { loop { } });",
            Limits::default(),
            "operation limit",
        ),
        (
            "loop without an operation limit",
            "rule(\"boucle\", \"A\", \"m\", || { loop { } });",
            Limits {
                max_operations: 0,
                ..Limits::default()
            },
            "time limit",
        ),
        (
            "recursion",
            "fn f(x) { f(x + 1) }\nrule(\"recursion\", \"A\", \"m\", || f(1) > 0);",
            Limits::default(),
            "call depth",
        ),
        (
            "huge string",
            "rule(\"texte\", \"A\", \"m\", || { let s = \"x\"; loop { s += s; } });",
            Limits::default(),
            "size limit",
        ),
    ];
    for (what, script, limits, expected) in cases {
        // The demo fund's grid has a criterion the script must compute.
        let script = format!("{script}\ngrid(\"commune-sans-plcd\", || false);");
        let rules = with_script(&plan, &script, limits).unwrap_or_else(|e| panic!("{what}: {e}"));
        let t = Instant::now();
        let err = rules.evaluate(&app, Context::default()).unwrap_err();
        let took = t.elapsed();
        let msg = err.to_string();
        assert!(matches!(err, EvalError::Limit { .. }), "{what}: {msg}");
        assert!(
            msg.contains("in rule `"),
            "{what}: the rule is named: {msg}"
        );
        assert!(
            msg.contains("rules/essai.rhai") && msg.contains(expected),
            "{what}: {msg}"
        );
        eprintln!("{what}: stopped after {took:?}: {msg}");
        // A hang guard, not a benchmark: the release build stops these in a few ms.
        assert!(took < Duration::from_secs(5), "{what} took {took:?}");
    }
    // The demo rules still evaluate on this thread afterwards.
    let e = demo_rules(&plan)
        .evaluate(&app, Context::default())
        .unwrap();
    assert_eq!(e.outcome, Outcome::Eligible);
}

#[test]
fn scripts_cannot_eval_import_or_read_data_outside_a_check() {
    let plan = demo();
    for (script, expected) in [
        ("eval(\"1\");", "eval"),
        ("import \"x\" as y;", "import"),
        ("let a = field(\"project.qpv\");", "inside a `rule`"),
        ("rule(\"a\", \"A\", \"m\", || x > 1);", "x"),
        (
            "rule(\"a\", \"A\", \"m\", || param(\"plafonds\") > 1);",
            "did you mean `plafond`",
        ),
        (
            "rule(\"a\", \"A\", \"m\", || true);\nrule(\"a\", \"A\", \"m\", || true);",
            "declared twice",
        ),
        (
            "exception(\"e\", \"A\", \"m\", \"inconnue\", 1, || true, || true);",
            "not declared",
        ),
    ] {
        let err = with_script(&plan, script, Limits::default()).unwrap_err();
        assert!(
            err.contains("E019") && err.contains(expected),
            "{script}:\n{err}"
        );
    }
}

#[test]
fn explanation_has_the_four_items_of_r311_3_1_2() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let e = rules
        .evaluate(
            &shared_application("eligible-association-vitrolles.json"),
            Context::default(),
        )
        .unwrap();
    let x = explain(&rules, &e);
    assert!(
        x.contribution
            .contains("une personne du service instruit le dossier")
    );
    let commune = x
        .data
        .iter()
        .find(|d| d.name == "territoire 13117")
        .expect("the commune registry is cited");
    assert_eq!(commune.source, "référentiel des territoires du plan");
    let plafond = x.parameters.iter().find(|p| p.id == "plafond").unwrap();
    assert_eq!(plafond.period, "du 1er janvier 2020 au 31 décembre 2021");
    assert_eq!(plafond.reference, "Article 5");
    assert_eq!(plafond.used_by, ["art-5-plafond"]);
    assert_eq!(x.operations.len(), e.rules.len());
    assert!(x.notice.contains("L311-3-1"));
}

#[test]
fn the_ruleset_hash_is_stable_and_changes_with_a_parameter() {
    let a = demo();
    let b = demo();
    assert_eq!(demo_rules(&a).hash, demo_rules(&b).hash);
    let e = demo_rules(&a)
        .evaluate(
            &shared_application("eligible-association-vitrolles.json"),
            Context::default(),
        )
        .unwrap();
    assert_eq!(e.ruleset, demo_rules(&a).hash);
    // The same script with the ceiling changed is another ruleset.
    let fund = a.fund("fonds-initiative").unwrap();
    let mut params = fund.parameters.clone();
    let plafond = params
        .iter_mut()
        .find(|p| p.id.as_str() == "plafond")
        .unwrap();
    let mut values: Vec<_> = plafond.values.iter().cloned().collect();
    values[0].value = rust_decimal::Decimal::from(9000);
    plafond.values = values.into_iter().collect();
    let mut map = SourceMap::default();
    let rules = demo_rules(&a);
    let file = map.add(PathBuf::from("x.rhai"), rules.source.clone());
    let draft = Ruleset::compile(
        &a,
        fund,
        "x",
        &rules.source,
        file,
        Some(params),
        Limits::default(),
    )
    .unwrap();
    assert_ne!(draft.hash, rules.hash);
}

#[test]
fn one_ruleset_evaluates_on_many_threads_with_the_same_results() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let apps: Vec<serde_json::Value> = [
        "eligible-association-vitrolles.json",
        "incomplete-missing-rib.json",
        "ineligible-political-party.json",
    ]
    .iter()
    .map(|n| shared_application(n))
    .collect();
    let expected: Vec<Outcome> = apps
        .iter()
        .map(|a| rules.evaluate(a, Context::default()).unwrap().outcome)
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    for (a, want) in apps.iter().zip(&expected) {
                        assert_eq!(
                            rules.evaluate(a, Context::default()).unwrap().outcome,
                            *want
                        );
                    }
                }
            });
        }
    });
}

#[test]
fn of_two_exceptions_that_apply_the_higher_priority_wins() {
    let plan = demo();
    let script = r#"
rule("plafond", "Article 5", "Sous le plafond", || field("project.requested_amount") <= 1000);
exception("derogation-large", "Article 5", "Sous 20 000", "plafond", 1,
    || true, || field("project.requested_amount") <= 20000);
exception("derogation-stricte", "Article 5", "Sous 5 000", "plafond", 2,
    || true, || field("project.requested_amount") <= 5000);
exception("derogation-inapplicable", "Article 5", "Jamais", "plafond", 3,
    || false, || true);
grid("commune-sans-plcd", || false);
"#;
    let rules = with_script(&plan, script, Limits::default()).unwrap();
    let e = rules
        .evaluate(
            &shared_application("eligible-association-vitrolles.json"),
            Context::default(),
        )
        .unwrap();
    let status = |id: &str| {
        e.rules
            .iter()
            .find(|r| r.id == id)
            .map(|r| (r.state(), r.overridden_by.clone()))
    };
    // 8 000 €: the stricter exception (priority 2) applies and fails; the looser one and the
    // rule are replaced by it; the one that does not apply is not applicable.
    assert_eq!(status("derogation-stricte"), Some(("fail", None)));
    assert_eq!(
        status("derogation-large"),
        Some(("overridden", Some("derogation-stricte".into())))
    );
    assert_eq!(
        status("plafond"),
        Some(("overridden", Some("derogation-stricte".into())))
    );
    assert_eq!(
        status("derogation-inapplicable").map(|s| s.0),
        Some("not-applicable")
    );
    assert_eq!(e.outcome, Outcome::Ineligible);
}

/// Dotted paths of the leaves of a JSON object.
fn leaves(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let Some(map) = v.as_object() {
        for (k, v) in map {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            leaves(v, &p, out);
        }
    } else {
        out.push(prefix.to_string());
    }
}

fn pointer(path: &str) -> String {
    format!("/{}", path.replace('.', "/"))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Damaged applications: fields removed or replaced by values of any type. The result is
    /// an outcome or an input error naming a field (never a script error or a panic); a
    /// required field removed never gives `eligible`; and the same input gives the same
    /// result.
    #[test]
    fn damaged_applications_get_an_outcome_or_an_input_error(
        removed in proptest::collection::vec(0usize..64, 0..4),
        replaced in proptest::collection::vec((0usize..64, 0u8..7, -50_000i64..50_000), 0..3),
    ) {
        thread_local! {
            static PLAN: Plan = demo();
        }
        PLAN.with(|plan| {
            let rules = demo_rules(plan);
            let mut app = shared_application("eligible-association-vitrolles.json");
            let mut paths = Vec::new();
            leaves(&app, "", &mut paths);
            let mut gone = Vec::new();
            for r in &removed {
                let path = &paths[r % paths.len()];
                let (parent, key) = path.rsplit_once('.').map_or(("", path.as_str()), |(p, k)| (p, k));
                let target = if parent.is_empty() { Some(&mut app) } else { app.pointer_mut(&pointer(parent)) };
                if let Some(obj) = target.and_then(|t| t.as_object_mut()) {
                    obj.remove(key);
                    gone.push(path.clone());
                }
            }
            for (r, kind, n) in &replaced {
                let path = &paths[r % paths.len()];
                let value = match kind {
                    0 => serde_json::Value::Null,
                    1 => (*n).into(),
                    2 => (n % 2 == 0).into(),
                    3 => format!("{n}").into(),
                    4 => serde_json::json!([format!("{n}")]),
                    5 => format!("{}-01-01", 1000 + n.rem_euclid(9000)).into(),
                    _ => serde_json::json!({ "x": n }),
                };
                if let Some(slot) = app.pointer_mut(&pointer(path)) {
                    *slot = value;
                }
            }
            let first = rules.evaluate(&app, Context::default());
            let again = rules.evaluate(&app, Context::default());
            match (&first, &again) {
                (Ok(e), Ok(e2)) => {
                    proptest::prop_assert_eq!(
                        serde_json::to_string(e).unwrap(),
                        serde_json::to_string(e2).unwrap()
                    );
                    let form = &plan.fund("fonds-initiative").unwrap().form;
                    let required_gone = gone.iter().any(|g| {
                        form.fields.iter().any(|f| f.path == *g
                            && matches!(f.requirement, metroplan_engine::model::Requirement::Always))
                    });
                    if required_gone {
                        proptest::prop_assert_ne!(e.outcome, Outcome::Eligible, "{:?}", gone);
                    }
                }
                (Err(EvalError::Input(i)), Err(EvalError::Input(_))) => {
                    proptest::prop_assert!(!i.field.is_empty());
                }
                other => proptest::prop_assert!(false, "unexpected: {:?}", other),
            }
            Ok(())
        })?;
    }
}

#[test]
fn regression_a_huge_list_is_refused_before_the_rules_run() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let mut app = shared_application("eligible-association-vitrolles.json");
    let codes: Vec<String> = (0..100_000)
        .map(|i| format!("{:05}", i % 100_000))
        .collect();
    app["project"]["communes"] = serde_json::json!(codes);
    let t = Instant::now();
    let err = rules.evaluate(&app, Context::default()).unwrap_err();
    assert!(
        matches!(&err, EvalError::Input(e) if e.field == "project.communes"),
        "{err}"
    );
    assert!(err.to_string().contains("at most 1000"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn regression_a_filing_date_before_the_rules_is_the_applications_matter_not_a_script_error() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let mut app = shared_application("eligible-association-vitrolles.json");
    app["submitted_on"] = "1000-01-01".into();
    // Outside every call: article 6 makes it irrecevable; the checks whose parameters have
    // no value that day are not evaluated (see `findings.rs`).
    let e = rules
        .evaluate(&app, Context::default())
        .expect("an outcome");
    assert_eq!(e.outcome, Outcome::Ineligible);
}

/// Found by `engine/fuzz/run` (evaluate): a key `""` was reported as an unknown field with an
/// empty name; a dotted key passed for the field it spells and was then read as missing.
#[test]
fn regression_an_empty_or_dotted_key_is_refused_as_no_field_name() {
    let plan = demo();
    let rules = demo_rules(&plan);
    for (key, at) in [("", "(application)"), ("project.title", "(application)")] {
        let mut app = shared_application("eligible-association-vitrolles.json");
        app[key] = "x".into();
        match rules.evaluate(&app, Context::default()) {
            Err(EvalError::Input(e)) => {
                assert_eq!(e.field, at);
                assert!(e.message.contains("is not a field name"), "{}", e.message);
            }
            other => panic!("{key:?}: expected an input error, got {other:?}"),
        }
    }
    let mut app = shared_application("eligible-association-vitrolles.json");
    app["project"]["a.b"] = 1.into();
    match rules.evaluate(&app, Context::default()) {
        Err(EvalError::Input(e)) => assert_eq!(e.field, "project"),
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn regression_without_a_filing_date_the_engine_asks_instead_of_reading_the_clock() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let mut app = shared_application("eligible-association-vitrolles.json");
    app.as_object_mut().unwrap().remove("submitted_on");
    // No date: missing data, never today.
    let e = rules
        .evaluate(&app, Context::default())
        .expect("an outcome");
    assert_eq!(e.outcome, Outcome::Incomplete);
    assert_eq!(e.filed_on, None);
    // Given by the caller, the date resolves the parameters; the field is still missing.
    let ctx = Context {
        filed_on: Some("2020-03-02".parse().unwrap()),
        other_filings: 0,
    };
    let e = rules.evaluate(&app, ctx).unwrap();
    assert_eq!(e.outcome, Outcome::Incomplete);
    assert!(e.missing.contains(&"submitted_on".to_string()));
    assert_eq!(
        e.filed_on.map(|d| d.to_string()).as_deref(),
        Some("2020-03-02")
    );
}
