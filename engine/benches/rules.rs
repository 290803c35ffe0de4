//! Eligibility: metroplan's full evaluation (form check and conversion, rules with their
//! trace, explanation) against a bare Rhai evaluation of an equivalent precompiled script
//! whose inputs are already converted, in the same run.
//!
//! Run: `cargo bench -p metroplan-engine --bench rules`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use metroplan_engine::rules::Context;
use metroplan_engine::rules::explain::explain;
use metroplan_engine::{DirSource, load};
use rhai::{Dynamic, Engine, Scope};
use rust_decimal::Decimal;

/// The same checks as the demo fund's script, on plain values: no form, no trace.
const BARE: &str = r#"
let r = [];
r.push(purpose != "plcd" || communes.some(|c| plcd_communes.contains(c)));
r.push(purpose != "commune_sans_plcd" || communes.some(|c| !plcd_communes.contains(c)));
r.push(kind in ["association", "commune", "ccas", "conseil_de_territoire", "etablissement_public", "entreprise_ess", "fondation_rup"]);
r.push(kind != "association" || registered_plus_12 <= submitted_on);
r.push(kind != "entreprise_ess" || esus);
r.push(communes.some(|c| c in members));
r.push(criteria.len() >= 1);
r.push(domains.len() >= 1);
r.push(requested >= minimum);
r.push(requested <= ceiling);
r.push(requested <= total * rate);
r.push(opens <= submitted_on && submitted_on <= closes);
r.push(start_year == call_year);
r.push(ends_on >= starts_on && ends_on < starts_plus_12);
r.push(other_filings < per_applicant);
r.push(communes.some(|c| c in members && !plcd_communes.contains(c)));
r
"#;

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans/amp-pmlcd");
    let plan = load(&DirSource::new(dir)).plan.expect("demo plan");
    let rules = plan
        .fund("fonds-initiative")
        .unwrap()
        .ruleset
        .clone()
        .unwrap();
    let app: serde_json::Value = serde_json::from_str(
        r#"{"call":2020,"submitted_on":"2020-03-02","applicant":{"name":"Association Égalité des chances Vitrolles","kind":"association","siret":"81234567800019","registered_on":"2015-06-01","esus_approved":false},"project":{"title":"Ateliers","purpose":"plcd","communes":["13117"],"criteria":["origine","lieu_de_residence"],"domains":["emploi"],"starts_on":"2020-04-01","ends_on":"2020-12-15","total_cost":12000,"requested_amount":8000,"qpv":true,"economic_partner":false,"resident_participation":true},"documents":["budget_previsionnel","rib","statuts","attestation_regularite"]}"#,
    )
    .unwrap();

    // Bare: the same packages, dates as ISO texts, everything already in the scope.
    let mut engine = Engine::new_raw();
    use rhai::packages::Package;
    rhai::packages::CorePackage::new().register_into_engine(&mut engine);
    rhai::packages::LogicPackage::new().register_into_engine(&mut engine);
    rhai::packages::BasicArrayPackage::new().register_into_engine(&mut engine);
    rhai::packages::BasicMapPackage::new().register_into_engine(&mut engine);
    rhai::packages::MoreStringPackage::new().register_into_engine(&mut engine);
    let ast = engine.compile(BARE).unwrap_or_else(|e| panic!("{e}"));
    let members: rhai::Map = plan
        .territories
        .iter()
        .filter_map(|t| t.code.clone())
        .map(|c| (c.into(), Dynamic::TRUE))
        .collect();
    let plcd: rhai::Array = ["13028", "13063", "13103", "13117"]
        .iter()
        .map(|s| Dynamic::from(s.to_string()))
        .collect();
    let dec = |n: i64| Dynamic::from_decimal(Decimal::from(n));
    let mut base = Scope::new();
    base.push("purpose", "plcd")
        .push("communes", vec![Dynamic::from("13117")])
        .push("plcd_communes", plcd)
        .push("members", members)
        .push("kind", "association")
        .push("registered_plus_12", "2016-06-01")
        .push("submitted_on", "2020-03-02")
        .push("esus", false)
        .push(
            "criteria",
            vec![Dynamic::from("origine"), Dynamic::from("lieu_de_residence")],
        )
        .push("domains", vec![Dynamic::from("emploi")])
        .push_dynamic("requested", dec(8000))
        .push_dynamic("minimum", dec(1000))
        .push_dynamic("ceiling", dec(10000))
        .push_dynamic("total", dec(12000))
        .push_dynamic("rate", Dynamic::from_decimal(Decimal::new(8, 1)))
        .push("opens", "2020-02-01")
        .push("closes", "2020-03-31")
        .push("start_year", 2020_i64)
        .push("call_year", 2020_i64)
        .push("starts_on", "2020-04-01")
        .push("ends_on", "2020-12-15")
        .push("starts_plus_12", "2021-04-01")
        .push("other_filings", 0_i64)
        .push_dynamic("per_applicant", dec(1));
    let mut group = c.benchmark_group("eligibility");
    group.bench_function("baseline-bare-rhai", |b| {
        b.iter(|| {
            let n = base.len();
            let r: rhai::Array = engine.eval_ast_with_scope(&mut base, &ast).unwrap();
            base.rewind(n);
            std::hint::black_box(r)
        })
    });
    group.bench_function("metroplan-evaluate-and-explain", |b| {
        b.iter(|| {
            let e = rules.evaluate(&app, Context::default()).unwrap();
            let x = explain(&rules, &e);
            std::hint::black_box((e, x))
        })
    });
    group.bench_function("parts/evaluate-only", |b| {
        b.iter(|| std::hint::black_box(rules.evaluate(&app, Context::default()).unwrap()))
    });
    let e = rules.evaluate(&app, Context::default()).unwrap();
    group.bench_function("parts/explain-only", |b| {
        b.iter(|| std::hint::black_box(explain(&rules, &e)))
    });
    group.bench_function("parts/json-parse-and-form-check", |b| {
        let text = app.to_string();
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            std::hint::black_box(
                metroplan_engine::rules::application::check(&rules.env.form, &v).unwrap(),
            )
        })
    });
    group.bench_function("parts/serialize", |b| {
        let x = explain(&rules, &e);
        b.iter(|| std::hint::black_box(serde_json::to_string(&(&e, &x)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
