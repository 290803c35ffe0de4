//! The demo fund's circuit, articles 6 to 11, from filing to closure.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

#[tokio::test]
async fn an_application_goes_from_filing_to_closure_and_every_step_is_in_the_audit_trail() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let instr = env.token("instructrice", RoleKind::Instructor).await;
    let rev1 = env.token("membre-1", RoleKind::Reviewer).await;
    let rev2 = env.token("membre-2", RoleKind::Reviewer).await;
    let elue = env.token("elue", RoleKind::Approver).await;
    let fin = env.token("finances", RoleKind::Finance).await;

    let id = env.eligible(&asso, application()).await;
    let r = env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    assert_eq!(r.body["state"], "avis-comite", "{}", r.body);

    // Article 9, 3°: at least two opinions before the decision.
    let early = env
        .act(&id, "proposer-decision", &instr, json!({"amount": "1000"}))
        .await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(early.body["guard"], "vote");
    for rev in [&rev1, &rev2] {
        let r = env
            .act(&id, "donner-avis", rev, json!({"linked": false, "favourable": true, "opinion": "Projet solide.", "scores": {"diagnostic": 15, "innovation": 10}}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let twice = env
        .act(
            &id,
            "donner-avis",
            &rev1,
            json!({"linked": false, "favourable": true, "opinion": "Encore"}),
        )
        .await;
    assert_eq!(
        twice.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "one opinion per reviewer: {}",
        twice.body
    );
    let r = env
        .act(&id, "proposer-decision", &instr, json!({"amount": "1000"}))
        .await;
    assert_eq!(r.body["state"], "a-decider", "{}", r.body);

    // Article 9, 4°: at most the amount requested.
    let over = env
        .act(&id, "attribuer", &elue, json!({"amount": "8000.01"}))
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(over.body["guard"], "amount-within-request");
    assert_eq!(over.body["field"], "amount");
    let r = env
        .act(&id, "attribuer", &elue, json!({"amount": "7500"}))
        .await;
    assert_eq!(r.body["state"], "attribue", "{}", r.body);
    assert_eq!(r.body["awarded"], "7500.00");

    let r = env
        .act(
            &id,
            "signer-convention",
            &instr,
            json!({"signed_on": "2021-03-01"}),
        )
        .await;
    assert_eq!(r.body["state"], "convention-signee", "{}", r.body);
    // Article 10: a 50 % advance, computed from the dated parameter.
    let r = env.act(&id, "verser-avance", &fin, json!({})).await;
    assert_eq!(r.body["paid"], "3750.00", "{}", r.body);
    let early = env.act(&id, "cloturer", &instr, json!({})).await;
    assert_eq!(
        early.status,
        StatusCode::CONFLICT,
        "not from this state: {}",
        early.body
    );
    // The final report's pieces are required: the step is refused without them, and taken
    // once they are joined (by the applicant, in the step's `from` state).
    let bare = env.act(&id, "deposer-bilan", &asso, json!({})).await;
    assert_eq!(bare.body["guard"], "pieces", "{}", bare.body);
    assert!(
        bare.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("bilan_final") && d.contains("compte_rendu_financier")),
        "{}",
        bare.body
    );
    let by_staff = env.upload(&id, "bilan_final", &fin, PDF, "bilan.pdf").await;
    assert_eq!(by_staff.status, StatusCode::FORBIDDEN, "{}", by_staff.body);
    env.final_report_pieces(&id, &asso).await;
    let r = env.act(&id, "deposer-bilan", &asso, json!({})).await;
    assert_eq!(r.body["state"], "bilan-depose", "{}", r.body);
    let late = env
        .upload(&id, "bilan_final", &asso, PDF, "bilan.pdf")
        .await;
    assert_eq!(
        late.status,
        StatusCode::CONFLICT,
        "no step from here asks for it: {}",
        late.body
    );
    let too_much = env
        .act(&id, "verser-solde", &fin, json!({"amount": "3750.01"}))
        .await;
    assert_eq!(too_much.body["guard"], "payment", "{}", too_much.body);
    let r = env.act(&id, "verser-solde", &fin, json!({})).await;
    assert_eq!(r.body["paid"], "7500.00", "{}", r.body);
    let r = env.act(&id, "cloturer", &instr, json!({})).await;
    assert_eq!(r.body["state"], "cloture", "{}", r.body);

    let events = env
        .get(&format!("/api/applications/{id}/events"), &instr)
        .await;
    let actions: Vec<&str> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "deposer",
            "eligibility-check",
            "declarer-incomplet",
            "issue-document",
            "upload",
            "upload",
            "upload",
            "upload",
            "completer",
            "eligibility-check",
            "declarer-recevable",
            "issue-document",
            "soumettre-au-comite",
            "donner-avis",
            "donner-avis",
            "proposer-decision",
            "attribuer",
            "issue-document",
            "issue-document",
            "signer-convention",
            "verser-avance",
            "upload",
            "upload",
            "deposer-bilan",
            "verser-solde",
            "cloturer"
        ]
    );
    let award = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "attribuer")
        .unwrap();
    // Staff read who acted: the identity, and its label.
    assert!(
        award["actor"].as_str().unwrap().starts_with("token:"),
        "{award}"
    );
    assert_eq!(award["actor_name"], "elue");
    assert_eq!(award["role"], "approver");
    assert_eq!(award["payload"]["amount"], "7500");

    // The explanation of the decision is the one recorded, pinned to its ruleset.
    let x = env
        .get(&format!("/api/applications/{id}/explanation"), &asso)
        .await;
    assert_eq!(x.body["evaluation"]["outcome"], "eligible");
    assert_eq!(x.body["evaluation"]["ruleset"], r.body["ruleset"]);
    assert!(
        x.body["text"].as_str().unwrap().contains("L311-3-1"),
        "{}",
        x.body["text"]
    );

    let env_y = env
        .get(
            &format!("/api/plans/{PLAN}/funds/{FUND}/envelope?year=2021"),
            &fin,
        )
        .await;
    assert_eq!(env_y.body["committed"], "7500.00");
    assert_eq!(env_y.body["paid"], "7500.00");
    assert_eq!(
        env_y.body["remaining"], "22500.00",
        "30 000 € in 2021: {}",
        env_y.body
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
    let lines: Vec<&str> = csv.text.lines().collect();
    assert!(lines[0].starts_with("nomAttribuant,idAttribuant,dateConvention,referenceDecision,nomBeneficiaire,idBeneficiaire,objet,montant"));
    assert!(
        lines[1].contains(",81234567800019,") && lines[1].contains(",7500.00,"),
        "{}",
        lines[1]
    );

    let verified = metroplan_server::audit::verify(&env.db).await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn an_application_without_its_pieces_is_incomplete_with_a_deadline_in_the_plans_time_zone() {
    let env = Env::new("2021-03-31T21:30:00Z").await; // 23:30 in Marseille
    let asso = env.token("asso", RoleKind::Applicant).await;
    let mut data = application();
    data["submitted_on"] = json!("2021-02-01"); // backdated: the server's day counts
    let r = env.file(&asso, data).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["state"], "incomplet");
    assert_eq!(
        r.body["filed_on"], "2021-03-31",
        "the day in Marseille, not in UTC"
    );
    assert_eq!(
        r.body["eligibility"]["evaluation"]["filed_on"],
        "2021-03-31"
    );
    assert_eq!(r.body["deadline"], "2021-04-15", "15 days (article 7)");
    let missing = &r.body["eligibility"]["evaluation"]["missing"];
    assert!(
        missing
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "documents.rib"),
        "{missing}"
    );

    // The completion deadline passes: completing is refused, naming the guard.
    let id = r.body["id"].as_str().unwrap();
    let later = env.at("2021-04-16T08:00:00+02:00");
    let current = env.get(&format!("/api/applications/{id}"), &asso).await;
    let etag = current.headers["etag"].to_str().unwrap().to_string();
    let c = call_json(
        &later,
        Method::POST,
        &format!("/api/applications/{id}/actions/completer"),
        Some(&asso),
        &[("if-match", &etag)],
        Some(json!({})),
    )
    .await;
    assert_eq!(c.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", c.body);
    assert_eq!(c.body["guard"], "completion-in-time");
}

#[tokio::test]
async fn a_call_closing_on_31_march_closes_at_the_end_of_that_day_in_marseille() {
    // 22:00 UTC on 31 March 2021 is midnight in Marseille (CEST, UTC+2).
    let env = Env::new("2021-03-31T21:59:00Z").await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    assert_eq!(
        env.file(&asso, application()).await.status,
        StatusCode::CREATED
    );
    let late = env.at("2021-03-31T22:00:01Z");
    let other = env.token("autre", RoleKind::Applicant).await;
    let r = call_json(
        &late,
        Method::POST,
        &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
        Some(&other),
        &[],
        Some(json!({"data": application_of("81234567800027", 5000)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "call-open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_filing_per_siret_per_call_even_when_two_arrive_at_once() {
    let env = Env::new(OPEN).await;
    // One applicant sending the filing twice at once (two principals cannot share a SIRET:
    // see identity.rs).
    let a = env.token("asso-a", RoleKind::Applicant).await;
    let (r1, r2) = tokio::join!(env.file(&a, application()), env.file(&a, application()));
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY],
        "{} / {}",
        r1.body,
        r2.body
    );
    let refused = if r1.status == StatusCode::CREATED {
        &r2
    } else {
        &r1
    };
    assert_eq!(refused.body["guard"], "one-per-applicant");
    assert_eq!(refused.body["field"], "data.applicant.siret");
    // Nothing of the refused filing was kept.
    let list = env.get("/api/applications", &a).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
}

#[tokio::test]
async fn a_draft_is_filed_later_and_its_uploaded_pieces_are_what_the_rules_see() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let mut data = application();
    // What the applicant claims to have attached does not count: the uploads do.
    data["documents"] = json!([
        "budget_previsionnel",
        "rib",
        "statuts",
        "attestation_regularite"
    ]);
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(&asso),
            &[],
            Some(json!({"data": data, "draft": true})),
        )
        .await;
    assert_eq!(r.body["state"], "brouillon", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    for kind in [
        "budget_previsionnel",
        "rib",
        "statuts",
        "attestation_regularite",
    ] {
        assert_eq!(
            env.upload(&id, kind, &asso, PDF, "p.pdf").await.status,
            StatusCode::OK
        );
    }
    let r = env.act(&id, "deposer", &asso, json!({})).await;
    assert_eq!(r.body["state"], "en-instruction", "{}", r.body);
    assert_eq!(r.body["documents"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn an_ineligible_application_is_closed_with_its_reasons() {
    let env = Env::new(OPEN).await;
    let asso = env.token("parti", RoleKind::Applicant).await;
    let mut data = application();
    data["applicant"]["kind"] = json!("parti_politique");
    let r = env.file(&asso, data).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["state"], "irrecevable", "{}", r.body);
    assert_eq!(r.body["eligibility"]["evaluation"]["outcome"], "ineligible");
}

#[tokio::test]
async fn the_applicant_withdraws_and_the_instructor_closes_without_follow_up_with_a_reason() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let instr = env.token("instr", RoleKind::Instructor).await;
    let id = env.eligible(&asso, application()).await;
    let no_reason = env.act(&id, "classer-sans-suite", &instr, json!({})).await;
    assert_eq!(no_reason.body["guard"], "reason-given");
    assert_eq!(no_reason.body["field"], "reason");
    let r = env
        .act(
            &id,
            "classer-sans-suite",
            &instr,
            json!({"reason": "Projet abandonné par le porteur"}),
        )
        .await;
    assert_eq!(r.body["state"], "sans-suite", "{}", r.body);

    let other = env.token("asso2", RoleKind::Applicant).await;
    let r = env
        .file(&other, application_of("81234567800027", 5000))
        .await;
    let id2 = r.body["id"].as_str().unwrap();
    let w = env.act(id2, "retirer", &other, json!({})).await;
    assert_eq!(w.body["state"], "retire", "{}", w.body);
}

#[tokio::test]
async fn a_beneficiary_name_written_as_a_formula_is_neutralised_in_the_open_data_export() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let instr = env.token("instructrice", RoleKind::Instructor).await;
    let elue = env.token("elue", RoleKind::Approver).await;
    let mut data = application();
    data["applicant"]["name"] = json!("=HYPERLINK(\"http://x.example\",\"Cliquez\")");
    let id = env.eligible(&asso, data).await;
    env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    for name in ["membre-1", "membre-2"] {
        let rev = env.token(name, RoleKind::Reviewer).await;
        env.act(
            &id,
            "donner-avis",
            &rev,
            json!({"linked": false, "favourable": true, "opinion": "ok"}),
        )
        .await;
    }
    env.act(&id, "proposer-decision", &instr, json!({"amount": "1000"}))
        .await;
    let r = env
        .act(&id, "attribuer", &elue, json!({"amount": "7500"}))
        .await;
    assert_eq!(r.body["state"], "attribue", "{}", r.body);
    let csv = env
        .call(
            Method::GET,
            &format!("/api/plans/{PLAN}/funds/{FUND}/export.csv"),
            None,
            &[],
            None,
        )
        .await;
    let row = csv.text.lines().nth(1).expect("one award");
    assert!(
        row.contains(",\"'=HYPERLINK(\"\"http://x.example\"\",\"\"Cliquez\"\")\","),
        "{row}"
    );
    assert!(!row.contains(",=HYPERLINK"), "{row}");
}
