//! Regression tests of the review of the demonstration fund's rules (issue 17): a filing
//! outside every call, member communes, the batch, a missing filing date, and the form
//! language (whole-number boundaries, years, `required_when` on a yes/no field).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use metroplan_engine::rules::batch::Batch;
use metroplan_engine::rules::{Context, EvalError, Outcome, Ruleset, Status, cases};
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

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(name)
}

fn vitrolles() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/applications/eligible-association-vitrolles.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("shared application")).expect("JSON")
}

fn failing(e: &metroplan_engine::rules::Evaluation) -> Vec<&str> {
    e.rules
        .iter()
        .filter(|r| r.counts() && r.status == Status::Fail)
        .map(|r| r.id.as_str())
        .collect()
}

fn state<'e>(e: &'e metroplan_engine::rules::Evaluation, id: &str) -> &'e str {
    e.rules
        .iter()
        .find(|r| r.id == id)
        .map_or("absent", |r| r.state())
}

#[test]
fn filing_before_the_first_call_is_irrecevable_not_an_error() {
    let plan = demo();
    let rules = demo_rules(&plan);
    // Before the first call, no parameter is in force: the checks applying one are not
    // evaluated, and article 6 decides.
    let mut app = vitrolles();
    app["submitted_on"] = "2019-12-31".into();
    let e = rules
        .evaluate(&app, Context::default())
        .expect("an outcome");
    assert_eq!(e.outcome, Outcome::Ineligible);
    assert_eq!(failing(&e), ["art-6-periode-appel"]);
    assert_eq!(state(&e, "art-2-anciennete-association"), "not-evaluated");
    assert_eq!(state(&e, "art-5-plafond"), "not-evaluated");
    let skipped = e.rules.iter().find(|r| r.id == "art-5-plafond").unwrap();
    assert!(
        skipped
            .not_evaluated
            .as_deref()
            .unwrap()
            .contains("parameter `plafond` has no value in force"),
        "{skipped:?}"
    );
    // A call year the fund does not have, filed when no parameter is in force either.
    let mut app = vitrolles();
    app["call"] = 2019.into();
    app["submitted_on"] = "2019-03-01".into();
    app["project"]["starts_on"] = "2019-04-01".into();
    app["project"]["ends_on"] = "2019-12-15".into();
    let e = rules
        .evaluate(&app, Context::default())
        .expect("an outcome");
    assert_eq!(e.outcome, Outcome::Ineligible);
    assert_eq!(failing(&e), ["art-6-periode-appel"]);
    // Whatever the periods of the parameters: long before them too.
    let mut app = vitrolles();
    app["submitted_on"] = "1000-01-01".into();
    let e = rules
        .evaluate(&app, Context::default())
        .expect("an outcome");
    assert_eq!(e.outcome, Outcome::Ineligible);
}

/// When nothing else makes the file ineligible, a date the parameters do not cover is still
/// an error (the plan's gap), never an outcome the skipped checks could have changed.
#[test]
fn a_date_the_parameters_do_not_cover_is_an_error_when_no_other_check_decides() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let script = r#"
rule("r-ouvert", "Article 6", "m", || true);
rule("r-plafond", "Article 5", "m", || field("project.requested_amount") <= param("plafond"));
grid("commune-sans-plcd", || false);
"#;
    let fund = plan.fund("fonds-initiative").unwrap();
    let mut map = metroplan_engine::source::SourceMap::default();
    let file = map.add(PathBuf::from("rules/essai.rhai"), script.to_string());
    let draft = Ruleset::compile(
        &plan,
        fund,
        "rules/essai.rhai",
        script,
        file,
        None,
        Default::default(),
    )
    .expect("compiles");
    let mut app = vitrolles();
    app["submitted_on"] = "2019-12-31".into();
    match draft.evaluate(&app, Context::default()) {
        Err(EvalError::Input(e)) => {
            assert_eq!(e.field, "submitted_on");
            assert!(e.message.contains("do not cover 2019-12-31"), "{e}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    // A failing rule that an exception not evaluated could have replaced decides nothing.
    let script = r#"
rule("r-plafond", "Article 5", "m", || field("project.requested_amount") <= 10);
exception("r-derogation", "Article 5", "m", "r-plafond", 1, || true,
    || field("project.requested_amount") <= param("plafond"));
grid("commune-sans-plcd", || false);
"#;
    let file = map.add(PathBuf::from("rules/essai2.rhai"), script.to_string());
    let draft = Ruleset::compile(
        &plan,
        fund,
        "rules/essai2.rhai",
        script,
        file,
        None,
        Default::default(),
    )
    .expect("compiles");
    assert!(matches!(
        draft.evaluate(&app, Context::default()),
        Err(EvalError::Input(_))
    ));
    // Inside the parameters' periods the same exception applies and replaces the rule.
    let e = draft.evaluate(&vitrolles(), Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Eligible);
    assert_eq!(state(&e, "r-plafond"), "overridden");
    drop(rules);
}

#[test]
fn non_member_commune_applicant_is_ineligible() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let commune = |siret: &str, commune: Option<&str>, kind: &str| {
        let mut app = vitrolles();
        app["applicant"] = serde_json::json!({"name": "X", "kind": kind, "siret": siret});
        if let Some(c) = commune {
            app["applicant"]["commune"] = c.into();
        }
        app["documents"] = serde_json::json!(["budget_previsionnel", "rib", "deliberation"]);
        rules.evaluate(&app, Context::default()).expect("evaluated")
    };
    // Arles (SIREN 211300041 → 13004) is not a member of the Métropole.
    let arles = commune("21130004100017", None, "commune");
    assert_eq!(arles.outcome, Outcome::Ineligible);
    assert_eq!(failing(&arles), ["art-2-commune-membre"]);
    // The SIREN is read, and traced, as the commune's INSEE code.
    assert!(
        arles
            .inputs
            .iter()
            .any(|i| i.name == "commune du SIREN 211300041" && i.value == "13004"),
        "{:?}",
        arles.inputs
    );
    // Marseille (211300553 → 13055) is; the commune's SIREN prevails over the field.
    let marseille = commune("21130055300016", Some("13004"), "commune");
    assert_eq!(
        marseille.outcome,
        Outcome::Eligible,
        "{:?}",
        failing(&marseille)
    );
    // A CCAS gives its commune: required, then checked.
    let ccas = commune("26130035600011", None, "ccas");
    assert_eq!(ccas.outcome, Outcome::Incomplete);
    assert_eq!(ccas.missing, ["applicant.commune"]);
    assert_eq!(
        commune("26130035600011", Some("13004"), "ccas").outcome,
        Outcome::Ineligible
    );
    assert_eq!(
        commune("26130035600011", Some("13055"), "ccas").outcome,
        Outcome::Eligible
    );
    // The rule does not concern other applicants.
    let e = rules.evaluate(&vitrolles(), Context::default()).unwrap();
    assert_eq!(state(&e, "art-2-commune-membre"), "not-applicable");
}

#[test]
fn commune_of_siren_reads_the_insee_code() {
    use metroplan_engine::rules::commune_of_siren;
    assert_eq!(commune_of_siren("211300553").as_deref(), Some("13055"));
    assert_eq!(commune_of_siren("21130055300016").as_deref(), Some("13055"));
    assert_eq!(commune_of_siren("211300631").as_deref(), Some("13063"));
    // Not a commune's SIREN: another legal form, another shape, not digits.
    assert_eq!(commune_of_siren("261300356"), None);
    assert_eq!(commune_of_siren("211310553"), None);
    assert_eq!(commune_of_siren("21130055"), None);
    assert_eq!(commune_of_siren("2113005530001"), None);
    assert_eq!(commune_of_siren("21130a553"), None);
}

#[test]
fn paris_does_not_count_as_a_commune_without_plcd() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let mut app = vitrolles();
    app["project"]["purpose"] = "commune_sans_plcd".into();
    app["project"]["communes"] = serde_json::json!(["13117", "75056"]);
    let e = rules.evaluate(&app, Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Ineligible);
    assert_eq!(failing(&e), ["art-1-objet-sans-plcd"]);
    // Consistent with the grid, which gives the same communes no point for the criterion.
    app["project"]["purpose"] = "plcd".into();
    let e = rules.evaluate(&app, Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Eligible);
    let c = e
        .score
        .unwrap()
        .criteria
        .into_iter()
        .find(|c| c.id == "commune-sans-plcd")
        .unwrap();
    assert_eq!(c.points.unwrap().to_string(), "0");
    // A member commune without a PLCD counts (Aix-en-Provence, 13001).
    let mut app = vitrolles();
    app["project"]["purpose"] = "commune_sans_plcd".into();
    app["project"]["communes"] = serde_json::json!(["13001", "75056"]);
    let e = rules.evaluate(&app, Context::default()).unwrap();
    assert_eq!(state(&e, "art-1-objet-sans-plcd"), "pass");
}

fn batch_lines(lines: &[String]) -> Vec<serde_json::Value> {
    let plan = demo();
    let rules = demo_rules(&plan);
    let keys = plan.fund("fonds-initiative").unwrap().keys.as_ref();
    let mut b = Batch::new(&rules, keys, None);
    let numbered: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l.as_str()))
        .collect();
    // Two blocks, so that earlier filings are counted across them.
    let (first, second) = numbered.split_at(numbered.len() / 2);
    let mut out = b.block(first, 2);
    out.extend(b.block(second, 2));
    out.iter()
        .map(|l| serde_json::from_str(l).expect("a JSON result line"))
        .collect()
}

#[test]
fn batch_bad_line_does_not_count_as_an_earlier_filing() {
    let ok = vitrolles();
    let mut bad = ok.clone();
    bad["project"]["requested_amount"] = "huit mille".into();
    let lines = [
        bad.to_string(),
        // The corrected line: the first filing of this SIRET to the 2020 call.
        ok.to_string(),
        // A third one is the second filing: refused under article 6.
        ok.to_string(),
    ];
    let out = batch_lines(&lines);
    assert!(
        out[0]["error"]
            .as_str()
            .unwrap()
            .contains("project.requested_amount")
    );
    assert_eq!(out[1]["outcome"], "eligible", "{}", out[1]);
    assert_eq!(out[2]["outcome"], "ineligible");
    let dup: Vec<&str> = out[2]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(dup, ["art-6-un-dossier-par-appel"]);
    // A line whose date the rules do not cover is refused too, and does not count.
    let mut uncovered = ok.clone();
    uncovered["submitted_on"] = "2020-02-01".into();
    let lines = [uncovered.to_string(), ok.to_string()];
    let out = batch_lines(&lines);
    assert_eq!(out[0]["outcome"], "eligible");
    assert_eq!(out[1]["outcome"], "ineligible");
}

#[test]
fn batch_blank_line_gets_a_result_line_with_its_number() {
    let mut with_id = vitrolles();
    with_id["id"] = "dossier-42".into();
    let lines = [
        vitrolles().to_string(),
        String::new(),
        "   ".to_string(),
        "{ not json".to_string(),
        with_id.to_string(),
    ];
    let out = batch_lines(&lines);
    assert_eq!(out.len(), lines.len(), "one result line per input line");
    let numbers: Vec<u64> = out.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert!(out[1]["error"].as_str().unwrap().contains("blank line"));
    assert!(out[2]["error"].as_str().unwrap().contains("blank line"));
    assert!(out[3]["error"].as_str().unwrap().contains("not valid JSON"));
    assert!(out[0].get("id").is_none());
    assert_eq!(out[4]["id"], "dossier-42");
    // The id is the batch's, not a form field: the application is evaluated without it.
    assert_eq!(
        out[4]["outcome"], "ineligible",
        "second filing of the SIRET"
    );
}

#[test]
fn missing_filing_date_is_incomplete_not_today() {
    let plan = demo();
    let rules = demo_rules(&plan);
    let mut app = vitrolles();
    app.as_object_mut().unwrap().remove("submitted_on");
    let e = rules
        .evaluate(&app, Context::default())
        .expect("an outcome");
    assert_eq!(e.outcome, Outcome::Incomplete);
    assert_eq!(e.missing, ["submitted_on"]);
    assert_eq!(e.filed_on, None);
    // The checks that apply a parameter are missing the filing date, not run on a day.
    assert_eq!(state(&e, "art-5-plafond"), "missing");
    assert!(e.parameters.is_empty(), "{:?}", e.parameters);
    // Given by the caller, the date resolves the parameters.
    let ctx = Context {
        filed_on: Some("2020-03-02".parse().unwrap()),
        other_filings: 0,
    };
    let e = rules.evaluate(&app, ctx).unwrap();
    assert_eq!(e.filed_on, Some("2020-03-02".parse().unwrap()));
    assert_eq!(state(&e, "art-5-plafond"), "pass");
}

/// A fixture plan whose fund reads a year and a whole number, and requires a field when a
/// yes/no answer is yes.
fn form_plan() -> Plan {
    let loaded = load(&DirSource::new(fixture("form-language")));
    let text: String = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d))
        .collect();
    loaded.plan.unwrap_or_else(|| panic!("{text}"))
}

#[test]
fn whole_number_boundary_cases_are_numbers() {
    let plan = form_plan();
    let fund = &plan.funds[0];
    let rules = fund.ruleset.clone().expect("rules");
    let cases = cases::read(&DirSource::new(fixture("form-language")), &fund.rules).unwrap();
    let run = cases::run(&rules, &cases);
    let failed: Vec<_> = run.cases.iter().filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let generated: Vec<&str> = run
        .cases
        .iter()
        .filter(|c| c.name.contains("seuil-personnes"))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(generated.len(), 3, "{generated:?}");
}

#[test]
fn year_field_prints_without_separator() {
    let plan = form_plan();
    let fund = &plan.funds[0];
    let rules = fund.ruleset.clone().expect("rules");
    // The call is a year field, and `keys.call` reads it.
    assert_eq!(fund.keys.as_ref().unwrap().call, "call");
    let app = serde_json::json!({
        "call": 2021, "submitted_on": "2021-03-01", "demandeur": {"nom": "A", "siret": "81234567800019"},
        "logement": {"annee": 1945, "personnes": 3, "qpv": false}, "montant": 1000
    });
    let e = rules.evaluate(&app, Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Eligible, "{:?}", e.rules);
    let year = e
        .inputs
        .iter()
        .find(|i| i.name == "logement.annee")
        .unwrap();
    assert_eq!(year.value, "1945");
    let x = metroplan_engine::rules::explain::explain(&rules, &e);
    let text = metroplan_engine::rules::explain::text_fr(&x, &e);
    assert!(text.contains("1945") && !text.contains("1\u{202f}945") && !text.contains("1 945"));
    // As a form posts it (text), and refused outside 1000..=9999 or as another text.
    let mut posted = app.clone();
    posted["logement"]["annee"] = "1945".into();
    posted["call"] = "2021".into();
    assert_eq!(
        rules.evaluate(&posted, Context::default()).unwrap().outcome,
        Outcome::Eligible
    );
    for bad in [
        serde_json::json!(999),
        serde_json::json!(10000),
        serde_json::json!("19a5"),
        serde_json::json!(1945.5),
    ] {
        let mut a = app.clone();
        a["logement"]["annee"] = bad.clone();
        match rules.evaluate(&a, Context::default()) {
            Err(EvalError::Input(e)) => {
                assert_eq!(e.field, "logement.annee");
                assert!(e.message.contains("year"), "{e}");
            }
            other => panic!("{bad}: expected an input error, got {other:?}"),
        }
    }
}

#[test]
fn required_when_on_a_yes_no_field() {
    let plan = form_plan();
    let rules = plan.funds[0].ruleset.clone().expect("rules");
    let app = |qpv: bool| {
        serde_json::json!({
            "call": 2021, "submitted_on": "2021-03-01", "demandeur": {"nom": "A", "siret": "81234567800019"},
            "logement": {"annee": 1945, "personnes": 3, "qpv": qpv}, "montant": 1000
        })
    };
    let e = rules.evaluate(&app(true), Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Incomplete);
    assert_eq!(e.missing, ["logement.quartier"]);
    let e = rules.evaluate(&app(false), Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Eligible);
    let mut given = app(true);
    given["logement"]["quartier"] = "Les Minguettes".into();
    let e = rules.evaluate(&given, Context::default()).unwrap();
    assert_eq!(e.outcome, Outcome::Eligible);
}

/// `required_when` names a yes/no field with `true`/`false`, a choice field with its ids; any
/// other field, or a value of the other kind, is refused where it is written.
#[test]
fn required_when_refuses_other_fields_and_values_of_the_other_kind() {
    let dir = fixture("form-language");
    let plan = std::fs::read_to_string(dir.join("plan.toml")).unwrap();
    let script = std::fs::read_to_string(dir.join("rules/aide.rhai")).unwrap();
    for (from, to, expected) in [
        (
            "in = [true]",
            "in = [\"oui\"]",
            "`logement.qpv` is a yes/no field: write `true` or `false`, not \"oui\"",
        ),
        (
            "field = \"logement.qpv\"",
            "field = \"demandeur.nom\"",
            "`required_when` needs a choice field or a yes/no field, and `demandeur.nom` is neither",
        ),
    ] {
        let mut src = metroplan_engine::MemorySource::new("mem");
        src.insert("plan.toml", plan.replace(from, to));
        src.insert("rules/aide.rhai", script.clone());
        let loaded = load(&src);
        let text: String = loaded
            .diagnostics
            .iter()
            .map(|d| loaded.sources.render(d))
            .collect();
        assert!(loaded.plan.is_none(), "{to}: {text}");
        assert!(text.contains(expected), "{to}: {text}");
        assert!(text.contains("plan.toml:"), "located: {text}");
    }
}
