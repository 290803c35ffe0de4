//! A fund whose rules script runs away on every call: its filings are refused with a 503 that
//! names the script and the limit, nothing is recorded, the script stops being run after a few
//! tries (so it stops taking the time of the writers every fund shares), the other funds are
//! served meanwhile, and a plan reload that mends the script serves the fund again.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use metroplan_server::rules_guard::TRIPS_AFTER;
use serde_json::{Value, json};

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";
const BIKES: &str = "/api/plans/lyon-pama/funds/aide-velo/applications";
const FUND: &str = "/api/plans/amp-pmlcd/funds/fonds-initiative/applications";
const RUNAWAY: &str =
    "rule(\"boucle\", \"Essai\", \"Une règle qui ne finit jamais\", || { loop {} });\n";

fn bike(numero_fiscal: &str) -> Value {
    json!({"data": {
        "call": 2021,
        "beneficiaire": {"nom": "Camille Martin", "numero_fiscal": numero_fiscal, "reside_metropole": true},
        "velo": {"type": "vae", "modele": "Vélo de ville électrique", "coupure_25kmh": true, "batterie_plomb": false},
        "achat": {"date": "2021-02-20", "prix_ttc": "1200.00", "vendeur_metropole": true, "aide_etat_demandee": false},
        "aide": {"montant_demande": 100}
    }})
}

async fn file_bike(env: &Env, token: &str, numero_fiscal: &str) -> Res {
    env.call(
        Method::POST,
        BIKES,
        Some(token),
        &[],
        Some(bike(numero_fiscal)),
    )
    .await
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

async fn file_for_the_other_fund(env: &Env, token: &str, i: usize) -> Duration {
    let t = Instant::now();
    let r = env
        .call(
            Method::POST,
            FUND,
            Some(token),
            &[],
            Some(json!({"data": application_of(&format!("8123456780{i:04}"), 5000)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.elapsed()
}

#[tokio::test]
async fn a_runaway_rules_script_is_suspended_and_does_not_hold_up_the_other_funds() {
    let (_tmp, dir) = plans_copy();
    let lyon = dir.join("lyon-pama");
    // The bike aid's call is open on the test's day too, and its script never ends.
    edit(
        &lyon.join("funds/aide-velo.toml"),
        "opens = \"05-04\"",
        "opens = \"02-01\"",
    );
    let script = lyon.join("rules/aide-velo.rhai");
    let good = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("{good}\n{RUNAWAY}")).unwrap();
    let env = Env::with_plans(OPEN, &dir).await;
    let cyclist = env.token("cycliste", RoleKind::Applicant).await;
    let asso = env.token("asso", RoleKind::Applicant).await;

    let mut baseline = Duration::ZERO;
    for i in 0..5 {
        baseline += file_for_the_other_fund(&env, &asso, i).await;
    }

    let mut during = Duration::ZERO;
    let calls: u64 = 20;
    let mut runaway = Vec::new();
    for i in 0..calls {
        let t = Instant::now();
        let r = file_bike(&env, &cyclist, &format!("01234567890{i:02}")).await;
        runaway.push(t.elapsed());
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.body["type"], "/problems/rules-unavailable", "{}", r.body);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("aide-velo") && detail.contains("nothing was recorded"),
            "{detail}"
        );
        assert!(
            detail.contains("boucle") || detail.contains("suspended"),
            "names the rule or the suspension: {detail}"
        );
        if i < 5 {
            during += file_for_the_other_fund(&env, &asso, 100 + i as usize).await;
        }
    }
    // The public dry run, which anybody may call, is held by the same suspension.
    let dry = env
        .call(
            Method::POST,
            "/api/plans/lyon-pama/funds/aide-velo/eligibility",
            None,
            &[],
            Some(bike("0123456789098")),
        )
        .await;
    assert_eq!(dry.status, StatusCode::SERVICE_UNAVAILABLE, "{}", dry.body);
    assert_eq!(
        dry.body["type"], "/problems/rules-unavailable",
        "{}",
        dry.body
    );
    assert!(dry.headers.contains_key("retry-after"));
    let metrics = env.get("/metrics", &asso).await;
    let text = metrics.text.clone();
    assert_eq!(
        counter(&text, "metroplan_rules_stopped_total"),
        u64::from(TRIPS_AFTER),
        "the runaway script ran to its limit only until it was suspended"
    );
    assert_eq!(
        counter(&text, "metroplan_rules_refused_total"),
        calls + 1 - u64::from(TRIPS_AFTER)
    );
    let mine = env.get("/api/applications", &cyclist).await;
    assert_eq!(
        mine.body["items"].as_array().map(Vec::len),
        Some(0),
        "nothing recorded: {}",
        mine.body
    );
    let trips = TRIPS_AFTER as usize;
    println!(
        "runaway fund: {:?} per call while its script ran, {:?} per call once suspended; other fund's filings: {:?} each before, {:?} each meanwhile",
        runaway[..trips].iter().sum::<Duration>() / TRIPS_AFTER,
        runaway[trips..].iter().sum::<Duration>() / (calls as u32 - TRIPS_AFTER),
        baseline / 5,
        during / 5
    );

    // The authors mend the script: the new ruleset is run again at once.
    std::fs::write(&script, good).unwrap();
    let reloaded = env.plans.reload(&dir);
    assert!(reloaded.refused.is_empty(), "{:?}", reloaded.refused);
    let r = file_bike(&env, &cyclist, "0123456789099").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}
