//! Regression tests of what the review of the first workflow found (issue 16): each test is
//! named after what it guards, on the demo plan, through the router, on SQLite and PostgreSQL.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

struct People {
    asso: String,
    instr: String,
    r1: String,
    r2: String,
    elue: String,
    fin: String,
}

async fn people(env: &Env) -> People {
    People {
        asso: env.token("asso", RoleKind::Applicant).await,
        instr: env.token("instructrice", RoleKind::Instructor).await,
        r1: env.token("membre-1", RoleKind::Reviewer).await,
        r2: env.token("membre-2", RoleKind::Reviewer).await,
        elue: env.token("elue", RoleKind::Approver).await,
        fin: env.token("finances", RoleKind::Finance).await,
    }
}

async fn ok(env: &Env, id: &str, action: &str, who: &str, body: Value) -> Value {
    let r = env.act(id, action, who, body).await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    r.body
}

/// A file with two favourable opinions, proposed for the award.
async fn proposed(env: &Env, p: &People) -> String {
    let id = env.eligible(&p.asso, application()).await;
    ok(env, &id, "soumettre-au-comite", &p.instr, json!({})).await;
    for r in [&p.r1, &p.r2] {
        ok(
            env,
            &id,
            "donner-avis",
            r,
            json!({"linked": false, "favourable": true, "opinion": "Solide."}),
        )
        .await;
    }
    ok(
        env,
        &id,
        "proposer-decision",
        &p.instr,
        json!({"amount": "1000"}),
    )
    .await;
    id
}

/// Awarded 7 500 €, agreement signed, the 3 750 € advance paid.
async fn advanced(env: &Env, p: &People) -> String {
    let id = proposed(env, p).await;
    ok(env, &id, "attribuer", &p.elue, json!({"amount": "7500"})).await;
    ok(
        env,
        &id,
        "signer-convention",
        &p.instr,
        json!({"signed_on": "2021-03-01"}),
    )
    .await;
    let b = ok(env, &id, "verser-avance", &p.fin, json!({})).await;
    assert_eq!(b["paid"], "3750.00", "{b}");
    id
}

async fn envelope_2021(env: &Env, p: &People) -> Value {
    env.get(
        &format!("/api/plans/{PLAN}/funds/{FUND}/envelope?year=2021"),
        &p.fin,
    )
    .await
    .body
}

async fn entries(env: &Env, id: &str) -> Vec<String> {
    env.texts(
        "SELECT kind || ':' || CAST(cents AS TEXT) AS v FROM ledger_entries WHERE application_id = $1 ORDER BY id",
        id,
    )
    .await
}

#[tokio::test]
async fn an_applicant_step_after_the_award_takes_no_data_and_the_file_keeps_its_siret_name_call_and_amount()
 {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = advanced(&env, &p).await;
    let mut other = application_of("99999999900011", 9000);
    other["call"] = json!(2022);
    other["applicant"]["name"] = json!("Autre association");
    let before = env
        .get(&format!("/api/applications/{id}"), &p.asso)
        .await
        .body;
    let r = env
        .act(&id, "deposer-bilan", &p.asso, json!({"data": other}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "data");
    assert!(
        r.body["detail"].as_str().unwrap().contains("deposer-bilan"),
        "{}",
        r.body
    );
    let after = env
        .get(&format!("/api/applications/{id}"), &p.asso)
        .await
        .body;
    assert_eq!(
        before, after,
        "a refused step loses nothing and changes nothing"
    );
    let csv = env
        .call(
            Method::GET,
            &format!("/api/plans/{PLAN}/funds/{FUND}/export.csv"),
            None,
            &[],
            None,
        )
        .await;
    assert!(
        csv.text.contains("81234567800019") && !csv.text.contains("99999999900011"),
        "{}",
        csv.text
    );
}

#[tokio::test]
async fn completing_an_incomplete_file_with_another_siret_or_call_is_refused_and_loses_nothing() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let r = env.file(&p.asso, application()).await;
    assert_eq!(r.body["state"], "incomplet", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let version = r.body["version"].clone();
    let other_siret = application_of("81234567800027", 8000);
    let mut other_call = application();
    other_call["call"] = json!(2022);
    for (data, field) in [
        (other_siret, "data.applicant.siret"),
        (other_call, "data.call"),
    ] {
        let r = env
            .act(&id, "completer", &p.asso, json!({"data": data}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    let now = env
        .get(&format!("/api/applications/{id}"), &p.asso)
        .await
        .body;
    assert_eq!(now["version"], version);
    assert_eq!(now["applicant"], "81234567800019");
}

#[tokio::test]
async fn guards_see_the_file_as_it_will_be_not_the_drafts_old_call() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(&p.asso),
            &[],
            Some(json!({"data": application(), "draft": true})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    // Filing with the 2020 call, closed on 1 March 2021, is refused although the draft said
    // 2021.
    let mut closed = application();
    closed["call"] = json!(2020);
    let r = env
        .act(&id, "deposer", &p.asso, json!({"data": closed}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "call-open", "{}", r.body);
    // And the rules read the amount sent with the filing.
    let mut changed = application();
    changed["project"]["requested_amount"] = json!(6000);
    let r = env
        .act(&id, "deposer", &p.asso, json!({"data": changed}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["requested"], "6000.00", "{}", r.body);
}

#[tokio::test]
async fn a_data_body_on_a_step_that_takes_none_is_a_422_naming_the_step() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = env.eligible(&p.asso, application()).await;
    let r = env
        .act(&id, "retirer", &p.asso, json!({"data": application()}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("`retirer`"),
        "{}",
        r.body
    );
    assert_eq!(
        env.get(&format!("/api/applications/{id}"), &p.asso)
            .await
            .body["state"],
        "en-instruction"
    );
}

#[tokio::test]
async fn the_advance_is_never_paid_above_its_rate_and_the_file_can_still_close() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = proposed(&env, &p).await;
    ok(&env, &id, "attribuer", &p.elue, json!({"amount": "7500"})).await;
    ok(
        &env,
        &id,
        "signer-convention",
        &p.instr,
        json!({"signed_on": "2021-03-01"}),
    )
    .await;
    let r = env
        .act(&id, "verser-avance", &p.fin, json!({"amount": "7500"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "payment", "{}", r.body);
    let r = env
        .act(&id, "verser-avance", &p.fin, json!({"amount": "3750.01"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    ok(&env, &id, "verser-avance", &p.fin, json!({})).await;
    env.final_report_pieces(&id, &p.asso).await;
    ok(&env, &id, "deposer-bilan", &p.asso, json!({})).await;
    let b = ok(&env, &id, "verser-solde", &p.fin, json!({})).await;
    assert_eq!(b["paid"], "7500.00", "{b}");
    let b = ok(&env, &id, "cloturer", &p.instr, json!({})).await;
    assert_eq!(b["state"], "cloture", "{b}");
}

#[tokio::test]
async fn a_reclaim_is_booked_and_the_unpaid_part_returns_to_the_envelope() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = advanced(&env, &p).await;
    let r = env
        .act(&id, "demander-reversement", &p.instr, json!({}))
        .await;
    assert_eq!(r.body["guard"], "reason-given", "{}", r.body);
    ok(
        &env,
        &id,
        "demander-reversement",
        &p.instr,
        json!({"reason": "Action non réalisée."}),
    )
    .await;
    let b = ok(&env, &id, "constater-reversement", &p.fin, json!({})).await;
    assert_eq!(b["state"], "cloture", "{b}");
    assert_eq!(
        entries(&env, &id).await,
        [
            "commit:750000",
            "payment:375000",
            "decommit:375000",
            "reclaim:375000"
        ]
    );
    let e = envelope_2021(&env, &p).await;
    assert_eq!(e["committed"], "3750.00", "{e}");
}

#[tokio::test]
async fn an_award_is_reduced_by_a_motivated_decision_and_the_balance_follows() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = advanced(&env, &p).await;
    env.final_report_pieces(&id, &p.asso).await;
    ok(&env, &id, "deposer-bilan", &p.asso, json!({})).await;
    let r = env
        .act(&id, "reduire", &p.elue, json!({"amount": "1000"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "reason", "{}", r.body);
    let r = env
        .act(
            &id,
            "reduire",
            &p.elue,
            json!({"amount": "3750.01", "reason": "Réalisation partielle."}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not below what was paid: {}",
        r.body
    );
    let b = ok(
        &env,
        &id,
        "reduire",
        &p.elue,
        json!({"amount": "1000", "reason": "Réalisation partielle."}),
    )
    .await;
    assert_eq!(b["awarded"], "6500.00", "{b}");
    assert_eq!(envelope_2021(&env, &p).await["committed"], "6500.00");
    let b = ok(&env, &id, "verser-solde", &p.fin, json!({})).await;
    assert_eq!(b["paid"], "6500.00", "{b}");
    ok(&env, &id, "cloturer", &p.instr, json!({})).await;
    // The reduction's decommitment is in the events: the money tables rebuilt from them
    // agree (a missed mutant of `audit verify`'s money check).
    let breaks = metroplan_server::audit::money::verify(&env.db)
        .await
        .unwrap();
    assert!(breaks.is_empty(), "{breaks:?}");
}

#[tokio::test]
async fn a_committee_step_counts_favourable_opinions_not_opinions_given() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = env.eligible(&p.asso, application()).await;
    ok(&env, &id, "soumettre-au-comite", &p.instr, json!({})).await;
    for r in [&p.r1, &p.r2] {
        ok(
            &env,
            &id,
            "donner-avis",
            r,
            json!({"linked": false, "favourable": false, "opinion": "Fragile."}),
        )
        .await;
    }
    let r = env
        .act(
            &id,
            "proposer-decision",
            &p.instr,
            json!({"amount": "1000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "vote", "{}", r.body);
    let b = ok(
        &env,
        &id,
        "transmettre-avis-defavorable",
        &p.instr,
        json!({}),
    )
    .await;
    assert_eq!(b["state"], "a-decider", "{b}");
    let r = env
        .act(
            &id,
            "refuser",
            &p.elue,
            json!({"reason": "Avis défavorable du comité."}),
        )
        .await;
    assert_eq!(r.body["state"], "refuse", "{}", r.body);
}

#[tokio::test]
async fn a_declaration_of_interest_is_recorded_final_and_shown_to_staff_only() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = env.eligible(&p.asso, application()).await;
    ok(&env, &id, "soumettre-au-comite", &p.instr, json!({})).await;
    let b = ok(&env, &id, "donner-avis", &p.r1, json!({"linked": true})).await;
    assert_eq!(b["state"], "avis-comite", "{b}");
    let r = env
        .act(&id, "donner-avis", &p.r1, json!({"linked": false, "favourable": true, "opinion": "Excellent.", "scores": {"diagnostic": 20, "innovation": 15}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let staff = env
        .get(&format!("/api/applications/{id}/events"), &p.instr)
        .await
        .body;
    assert!(
        staff
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["payload"]["declaration"] == true),
        "{staff}"
    );
    let mine = env
        .get(&format!("/api/applications/{id}/events"), &p.asso)
        .await
        .body;
    assert!(!mine.to_string().contains("declaration"), "{mine}");
    // The declared reviewer's opinion does not count: two others are needed.
    let r = env
        .act(
            &id,
            "proposer-decision",
            &p.instr,
            json!({"amount": "1000"}),
        )
        .await;
    assert_eq!(r.body["guard"], "vote", "{}", r.body);
}

#[tokio::test]
async fn pieces_are_taken_only_where_the_plan_accepts_them_not_by_a_guess() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = env
        .eligible(&p.asso, application_of("81234567800027", 5000))
        .await;
    // In instruction the plan takes no piece.
    let u = env.upload(&id, "rib", &p.asso, PDF, "rib.pdf").await;
    assert_eq!(u.status, StatusCode::CONFLICT, "{}", u.body);
    // Nor after the award: the pieces the decision rested on (the RIB paid to) stay.
    let id = advanced(&env, &p).await;
    let u = env.upload(&id, "rib", &p.asso, PDF, "autre-rib.pdf").await;
    assert_eq!(u.status, StatusCode::CONFLICT, "{}", u.body);
    // While incomplete it does (`accepts = ["pieces"]`).
    let r = env
        .file(&p.asso, application_of("81234567800035", 5000))
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let u = env.upload(&id, "rib", &p.asso, PDF, "rib.pdf").await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.body);
}

#[tokio::test]
async fn an_award_reduced_to_what_was_paid_can_still_close() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = advanced(&env, &p).await;
    env.final_report_pieces(&id, &p.asso).await;
    ok(&env, &id, "deposer-bilan", &p.asso, json!({})).await;
    ok(
        &env,
        &id,
        "reduire",
        &p.elue,
        json!({"amount": "3750", "reason": "Réalisation partielle."}),
    )
    .await;
    let b = ok(&env, &id, "cloturer", &p.instr, json!({})).await;
    assert_eq!(b["state"], "cloture", "{b}");
    assert_eq!(envelope_2021(&env, &p).await["committed"], "3750.00");
}

#[tokio::test]
async fn staff_read_each_opinions_sense_and_every_declaration_of_interest_on_the_file_page() {
    let env = Env::new(OPEN).await;
    let p = people(&env).await;
    let id = env.eligible(&p.asso, application()).await;
    ok(&env, &id, "soumettre-au-comite", &p.instr, json!({})).await;
    ok(&env, &id, "donner-avis", &p.r1, json!({"linked": true})).await;
    ok(
        &env,
        &id,
        "donner-avis",
        &p.r2,
        json!({"linked": false, "favourable": false, "opinion": "Budget fragile."}),
    )
    .await;
    let instr = env
        .state
        .tokens
        .find(&env.db, &p.instr)
        .await
        .unwrap()
        .expect("the instructor's token");
    let opinions = env.state.ctx.opinions(&instr, &id).await.unwrap();
    assert_eq!(opinions.len(), 2, "{opinions:?}");
    assert!(
        opinions
            .iter()
            .any(|o| o.declared_link && o.favourable.is_none()),
        "{opinions:?}"
    );
    assert!(
        opinions
            .iter()
            .any(|o| !o.declared_link && o.favourable == Some(false)),
        "{opinions:?}"
    );
}

#[tokio::test]
async fn an_automatic_step_decides_on_the_file_as_the_last_step_left_it() {
    // A plan whose committee step moves by itself once the vote passes: it must count the
    // opinion just given, not the opinions read before it.
    let (_tmp, dir) = plans_copy();
    let wf = dir.join("amp-pmlcd/workflows.toml");
    let text = std::fs::read_to_string(&wf).unwrap();
    let auto = text.replace(
        "role = \"instructeur\"\n# L'instruction propose un montant (au plus le montant demandé et le plafond retenu), que\n# l'élue retrouve dans son formulaire.\nguards = [\"amount-within-request\", \"amount-within-ceiling\"]\nvote = { quorum = \"avis-minimum\", rule = \"majority\" }\ndistinct_from = [\"donner-avis\"]",
        "role = \"system\"\nvote = { quorum = \"avis-minimum\", rule = \"majority\" }",
    );
    assert_ne!(auto, text, "the fixture edit applies");
    std::fs::write(&wf, auto).unwrap();
    let env = Env::with_plans(OPEN, &dir).await;
    let p = people(&env).await;
    let id = env.eligible(&p.asso, application()).await;
    ok(&env, &id, "soumettre-au-comite", &p.instr, json!({})).await;
    let b = ok(
        &env,
        &id,
        "donner-avis",
        &p.r1,
        json!({"linked": false, "favourable": true, "opinion": "Solide."}),
    )
    .await;
    assert_eq!(b["state"], "avis-comite", "one opinion is no quorum: {b}");
    let b = ok(
        &env,
        &id,
        "donner-avis",
        &p.r2,
        json!({"linked": false, "favourable": true, "opinion": "Solide."}),
    )
    .await;
    assert_eq!(
        b["state"], "a-decider",
        "the second opinion passes the vote: {b}"
    );
}
