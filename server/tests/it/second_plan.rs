//! The second plan (Métropole de Lyon, aid for buying bikes) runs in the same server with no
//! code of its own: people rather than organisations apply, another form and other rules, two
//! approval levels, one payment.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};

use crate::support::*;

const JUNE_2020: &str = "2020-06-15T10:00:00+02:00";
const FILE: &str = "/api/plans/lyon-pama/funds/aide-velo/applications";

fn request(numero_fiscal: &str, amount: u32) -> Value {
    json!({
        "call": 2020,
        "beneficiaire": {"nom": "Camille Martin", "numero_fiscal": numero_fiscal, "reside_metropole": true},
        "velo": {"type": "vae", "modele": "Vélo de ville électrique", "coupure_25kmh": true, "batterie_plomb": false},
        "achat": {"date": "2020-06-10", "prix_ttc": "1200.00", "vendeur_metropole": true, "aide_etat_demandee": false},
        "aide": {"montant_demande": amount}
    })
}

async fn file(env: &Env, token: &str, data: Value) -> Res {
    env.call(
        Method::POST,
        FILE,
        Some(token),
        &[],
        Some(json!({ "data": data })),
    )
    .await
}

#[tokio::test]
async fn both_plans_are_served_and_a_bike_aid_goes_through_two_approval_levels_to_payment() {
    let env = Env::new(JUNE_2020).await;
    let plans = env.call(Method::GET, "/api/plans", None, &[], None).await;
    let ids: Vec<&str> = plans
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"amp-pmlcd") && ids.contains(&"lyon-pama"),
        "{ids:?}"
    );

    let camille = env.token("camille", RoleKind::Applicant).await;
    let instr = env.token("agent-mobilites", RoleKind::Instructor).await;
    let chef = env.token("chef-de-service", RoleKind::Approver).await;
    let conseiller = env.token("conseiller-delegue", RoleKind::Approver).await;
    let compta = env.token("agent-comptable", RoleKind::Finance).await;

    let r = file(&env, &camille, request("1234567890123", 500)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["state"], "incomplete", "no piece yet");
    assert_eq!(
        r.body["applicant"], "1234567890123",
        "the numéro fiscal identifies the applicant"
    );
    assert_eq!(r.body["title"], "Vélo de ville électrique");
    let id = r.body["id"].as_str().unwrap().to_string();
    for kind in ["facture", "justificatif-domicile", "rib"] {
        assert_eq!(
            env.upload(&id, kind, &camille, PDF, "piece.pdf")
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = env.act(&id, "completer", &camille, json!({})).await;
    assert_eq!(r.body["state"], "a-verifier", "{}", r.body);

    let r = env.act(&id, "verifier-facture", &instr, json!({})).await;
    assert_eq!(r.body["state"], "a-valider", "{}", r.body);
    // The instructor may not approve their own instruction.
    let own = env.act(&id, "valider", &instr, json!({})).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    let r = env.act(&id, "valider", &chef, json!({})).await;
    assert_eq!(
        r.body["state"], "a-attribuer",
        "first approval level: {}",
        r.body
    );
    // Over the ceiling of 500 €.
    let over = env
        .act(&id, "attribuer", &conseiller, json!({"amount": "500.01"}))
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = env
        .act(&id, "attribuer", &conseiller, json!({"amount": "500"}))
        .await;
    assert_eq!(
        r.body["state"], "attribuee",
        "second approval level: {}",
        r.body
    );
    let r = env.act(&id, "verser", &compta, json!({})).await;
    assert_eq!(r.body["state"], "payee", "{}", r.body);
    assert_eq!(
        r.body["paid"], "500.00",
        "paid in one go: no advance rate in this fund"
    );

    // The person who received the aid is on no public page and not in the open data.
    for page in [
        "/",
        "/plans/lyon-pama",
        "/plans/lyon-pama/calendrier",
        "/plans/lyon-pama/fonds/aide-velo",
        "/plans/lyon-pama/fonds/aide-velo/algorithme",
        "/api/plans/lyon-pama/funds/aide-velo/export.csv",
    ] {
        let r = env.call(Method::GET, page, None, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        for personal in ["Camille", "Martin", "1234567890123"] {
            assert!(
                !r.text.contains(personal),
                "{personal} on {page}:\n{}",
                r.text
            );
        }
    }
    let csv = env
        .call(
            Method::GET,
            "/api/plans/lyon-pama/funds/aide-velo/export.csv",
            None,
            &[],
            None,
        )
        .await
        .text;
    // SCDL requires each beneficiary's SIRET: a person has none and is never published.
    assert_eq!(
        csv.lines().count(),
        1,
        "the header only, no row naming a person: {csv}"
    );

    // One request per person and year: the same numéro fiscal is refused.
    let again = file(&env, &camille, request("1234567890123", 300)).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert_eq!(again.body["guard"], "one-per-applicant");

    // A speed bike is refused with the rule that says why.
    let mut speed = request("9999999999999", 400);
    speed["velo"]["coupure_25kmh"] = json!(false);
    let r = file(&env, &camille, speed).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["state"], "irrecevable",
        "ineligible outweighs incomplete: {}",
        r.body
    );
    let id2 = r.body["id"].as_str().unwrap().to_string();
    let x = env
        .get(&format!("/api/applications/{id2}/explanation"), &camille)
        .await;
    assert!(
        x.body["text"].as_str().unwrap().contains("25 km/h"),
        "{}",
        x.body
    );

    let envelope = env
        .get(
            "/api/plans/lyon-pama/funds/aide-velo/envelope?year=2020",
            &conseiller,
        )
        .await;
    assert_eq!(envelope.body["envelope"], "8600000");
    assert_eq!(envelope.body["committed"], "500.00");
}
