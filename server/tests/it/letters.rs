//! The documents the administration issues (issue 17): the three shared applications and a
//! refused one get their receipt and their decision letter, read back from the PDF by tools we
//! did not write (`pdftotext`, `qpdf --check`), with every item article 13 of the règlement
//! lists; the email links them; the audit trail holds their hash; another applicant cannot
//! download them.

use std::process::Command;

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::*;

/// The 2020 call is open (1 February to 31 March 2020).
const CALL_2020: &str = "2020-03-02T10:00:00+01:00";

fn shared(name: &str) -> Value {
    let p = repo().join("../shared/data/applications").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("shared application")).unwrap()
}

/// Files `data` as the applicant would: a draft, the pieces it lists, then « Déposer ».
async fn file_with_pieces(env: &Env, token: &str, data: Value) -> String {
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(token),
            &[],
            Some(json!({ "data": data, "draft": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    for kind in data["documents"].as_array().into_iter().flatten() {
        let u = env
            .upload(&id, kind.as_str().unwrap(), token, PDF, "piece.pdf")
            .await;
        assert_eq!(u.status, StatusCode::OK, "{}", u.body);
    }
    let d = env.act(&id, "deposer", token, json!({})).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    id
}

/// The file's letters: (template, text pdftotext reads, bytes).
async fn letters(env: &Env, id: &str, token: &str) -> Vec<(String, String, Vec<u8>)> {
    let view = env.get(&format!("/api/applications/{id}"), token).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    let mut out = Vec::new();
    for l in view.body["letters"].as_array().expect("letters").clone() {
        let lid = l["id"].as_str().unwrap();
        let r = raw_get(env, &format!("/api/applications/{id}/letters/{lid}"), token).await;
        assert_eq!(r.0, StatusCode::OK);
        assert_eq!(r.1.as_deref(), Some("application/pdf"));
        let sha = hex::encode(Sha256::digest(&r.2));
        assert_eq!(l["sha256"], sha, "the listed hash is the document's");
        let text = read_back(&r.2);
        out.push((l["template"].as_str().unwrap().to_string(), text, r.2));
    }
    out
}

async fn raw_get(env: &Env, uri: &str, token: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = env.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, ct, bytes)
}

/// The PDF's text as `pdftotext` reads it, after `qpdf --check` accepted the file.
fn read_back(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("lettre.pdf");
    std::fs::write(&f, pdf).unwrap();
    let q = Command::new("qpdf")
        .arg("--check")
        .arg(&f)
        .output()
        .expect("qpdf (Debian package qpdf) is installed by `cargo xtask setup`");
    assert!(
        q.status.success(),
        "qpdf --check: {}{}",
        String::from_utf8_lossy(&q.stdout),
        String::from_utf8_lossy(&q.stderr)
    );
    let t = Command::new("pdftotext")
        .arg(&f)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils) is installed by `cargo xtask setup`");
    assert!(t.status.success());
    // Lines are wrapped where the page is full: read words, not lines.
    String::from_utf8(t.stdout)
        .unwrap()
        .replace(['\u{a0}', '\u{202f}'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_all(text: &str, what: &str, items: &[&str]) {
    for i in items {
        assert!(text.contains(i), "{what}: «{i}» missing from\n{text}");
    }
}

/// What every document of the fund says of the service (R112-5) and of appeals (R421-5 CJA).
const SERVICE: &[&str] = &[
    "Métropole Aix-Marseille-Provence",
    "Direction de la cohésion sociale",
    "58 boulevard Charles Livon, 13007 Marseille",
    "fonds-discriminations@ampmetropole.fr",
    "04 91 99 99 00",
];
const APPEALS: &[&str] = &[
    "Voies et délais de recours",
    "deux mois",
    "recours gracieux",
    "Tribunal administratif de Marseille",
    "Télérecours citoyens",
];

#[tokio::test]
async fn the_eligible_shared_application_gets_a_receipt_with_the_date_of_implicit_rejection() {
    let env = Env::new(CALL_2020).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let id = file_with_pieces(&env, &asso, shared("eligible-association-vitrolles.json")).await;
    let l = letters(&env, &id, &asso).await;
    assert_eq!(
        l.len(),
        1,
        "{:?}",
        l.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    let (template, text, _) = &l[0];
    assert_eq!(template, "accuse-reception");
    has_all(text, "receipt", SERVICE);
    has_all(text, "receipt", APPEALS);
    has_all(
        text,
        "receipt",
        &[
            "Accusé de réception",
            "a reçu le 2 mars 2020",
            "Ateliers de sensibilisation aux discriminations à l'embauche",
            "réputée rejetée",
            // Two months after the complete file was received (article 13 of the règlement).
            "2 mai 2020",
            "Marseille, le 2 mars 2020",
        ],
    );
}

#[tokio::test]
async fn the_incomplete_shared_application_gets_a_receipt_listing_the_missing_piece_and_its_deadline()
 {
    let env = Env::new("2020-03-20T10:00:00+01:00").await;
    let asso = env
        .token_with("asso", RoleKind::Applicant, None, Some("asso@example.fr"))
        .await;
    let id = file_with_pieces(&env, &asso, shared("incomplete-missing-rib.json")).await;
    let l = letters(&env, &id, &asso).await;
    let (template, text, _) = &l[0];
    assert_eq!(template, "accuse-reception");
    has_all(text, "receipt", SERVICE);
    has_all(text, "receipt", APPEALS);
    has_all(
        text,
        "receipt",
        &[
            "Pièces et informations manquantes",
            "Relevé d'identité bancaire (RIB)",
            "au plus tard le",
            "L114-5",
        ],
    );
    // The email says what is missing, by when, and links the file and its receipt.
    let mails = env
        .texts(
            "SELECT subject || ' ' || body AS v FROM outbox WHERE application_id = $1",
            &id,
        )
        .await;
    let mail = mails.last().expect("an email");
    assert!(mail.contains("Relevé d'identité bancaire (RIB)"), "{mail}");
    assert!(
        mail.contains(&format!("http://metroplan.test/dossiers/{id}")),
        "{mail}"
    );
    assert!(mail.contains("/courriers/"), "{mail}");
    assert!(
        !mail.contains("[amp-pmlcd]") && !mail.contains(&format!("Dossier {id}")),
        "{mail}"
    );
}

#[tokio::test]
async fn the_political_party_gets_a_motivated_irrecevabilite_taken_without_human_intervention() {
    let env = Env::new(CALL_2020).await;
    let party = env.token("parti", RoleKind::Applicant).await;
    let id = file_with_pieces(&env, &party, shared("ineligible-political-party.json")).await;
    let l = letters(&env, &id, &party).await;
    let templates: Vec<&str> = l.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        templates,
        ["accuse-reception", "notification-irrecevabilite"]
    );
    let text = &l[1].1;
    has_all(text, "irrecevabilité", SERVICE);
    has_all(text, "irrecevabilité", APPEALS);
    has_all(
        text,
        "irrecevabilité",
        &[
            "Motifs de la décision",
            "Article 2",
            "Parti ou groupement politique",
            "sans intervention humaine",
            "L311-3-1",
            "réexamine",
            "CADA",
        ],
    );
    // Another applicant cannot read it.
    let other = env.token("autre", RoleKind::Applicant).await;
    let lid = env
        .get(&format!("/api/applications/{id}"), &party)
        .await
        .body["letters"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = raw_get(
        &env,
        &format!("/api/applications/{id}/letters/{lid}"),
        &other,
    )
    .await;
    assert_eq!(r.0, StatusCode::NOT_FOUND);
    // The audit trail holds the hash of what was issued.
    let hashes = env
        .texts(
            "SELECT payload AS v FROM events WHERE application_id = $1 AND action = 'issue-document'",
            &id,
        )
        .await;
    let sha = hex::encode(Sha256::digest(&l[1].2));
    assert!(hashes.iter().any(|p| p.contains(&sha)), "{hashes:?}");
}

#[tokio::test]
async fn a_refused_file_gets_a_motivated_refusal_and_an_award_its_notification_and_arrete() {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let instr = env.token("instructrice", RoleKind::Instructor).await;
    let r1 = env.token("membre-1", RoleKind::Reviewer).await;
    let r2 = env.token("membre-2", RoleKind::Reviewer).await;
    let elue = env.token("elue", RoleKind::Approver).await;
    let mut ids = Vec::new();
    for siret in ["81234567800019", "81234567800027"] {
        let id = env.eligible(&asso, application_of(siret, 6000)).await;
        for (action, who, body) in [
            ("soumettre-au-comite", &instr, json!({})),
            (
                "donner-avis",
                &r1,
                json!({"linked": false, "favourable": true, "opinion": "Solide."}),
            ),
            (
                "donner-avis",
                &r2,
                json!({"linked": false, "favourable": true, "opinion": "Utile."}),
            ),
            ("proposer-decision", &instr, json!({"amount": "1000"})),
        ] {
            let r = env.act(&id, action, who, body).await;
            assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
        }
        ids.push(id);
    }
    let reason = "Le projet est retenu au classement, mais l'enveloppe restante ne permet pas de le financer au regard des dossiers mieux classés.";
    let r = env
        .act(&ids[0], "refuser", &elue, json!({ "reason": reason }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let l = letters(&env, &ids[0], &asso).await;
    let (template, text, _) = l.last().unwrap();
    assert_eq!(template, "notification-refus");
    has_all(text, "refusal", SERVICE);
    has_all(text, "refusal", APPEALS);
    has_all(
        text,
        "refusal",
        &[
            "Motifs de la décision",
            "l'enveloppe restante ne permet pas",
            "L311-3-1",
        ],
    );
    assert!(!text.contains("sans intervention humaine"), "{text}");

    let a = env
        .act(&ids[1], "attribuer", &elue, json!({"amount": "5000"}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let l = letters(&env, &ids[1], &asso).await;
    let templates: Vec<&str> = l.iter().map(|x| x.0.as_str()).collect();
    // 5 000 € is below the convention threshold (23 000 €): no convention.
    assert_eq!(
        templates,
        [
            "accuse-reception",
            "accuse-reception",
            "notification-attribution",
            "arrete-attribution"
        ]
    );
    has_all(&l[2].1, "award", &["5 000 €", "Voies et délais de recours"]);
    has_all(&l[3].1, "arrêté", &["Arrête", "5 000 €", "avance de 50 %"]);
}
