//! The final report on the applicant's page: the step asks for its pieces as files on its own
//! form; a refused step says which piece is missing, by its label, and keeps what was joined.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use metroplan_server::tokens;

use crate::support::*;
use crate::web::{Browser, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";
const STEP: &str = "deposer-bilan";

/// An applicant signed in on the page of their file whose advance is paid.
async fn advanced_file() -> (Env, Browser, String) {
    let env = Env::new(OPEN).await;
    let owner = account(&env, "asso@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &owner, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let id = env.advanced(&token).await;
    let mut b = Browser::new(env.app.clone());
    assert_eq!(
        b.sign_in("asso@example.org").await.status,
        StatusCode::SEE_OTHER
    );
    (env, b, format!("/dossiers/{id}"))
}

#[tokio::test]
async fn the_final_report_step_asks_for_its_pieces_as_files() {
    let (_env, mut b, page) = advanced_file().await;
    let html = b.get(&page).await.text;
    let form_at = html
        .find(&format!("{page}/actions/{STEP}\""))
        .expect("the step's form");
    let form = &html[form_at..form_at + html[form_at..].find("</form>").unwrap()];
    assert!(
        form.contains("enctype=\"multipart/form-data\""),
        "a form with files: {form}"
    );
    for (piece, required) in [
        ("bilan_final", true),
        ("compte_rendu_financier", true),
        ("justificatifs", false),
    ] {
        let input = form
            .split("<input")
            .find(|i| i.contains(&format!("name=\"piece.{piece}\"")))
            .unwrap_or_else(|| panic!("an input for {piece}: {form}"));
        assert!(input.contains("type=\"file\""), "{input}");
        assert_eq!(input.contains("required"), required, "{piece}: {input}");
    }
    assert!(
        form.contains("Bilan final de l'action"),
        "by its label: {form}"
    );
    assert!(
        form.contains("Justificatifs (photos, supports, revue de presse) (facultatif)"),
        "{form}"
    );
}

#[tokio::test]
async fn a_final_report_refused_for_a_missing_piece_keeps_the_piece_joined() {
    let (_env, mut b, page) = advanced_file().await;
    let uri = format!("{page}/actions/{STEP}");
    let version = b.version_on(&page).await;
    let r = b
        .post_files(
            &page,
            &uri,
            &[("version", &version)],
            &[("piece.bilan_final", "bilan.pdf", PDF)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text
            .contains("Joignez d'abord\u{a0}: Compte rendu financier."),
        "the missing piece, by its label: {}",
        r.text
    );
    let html = b.get(&page).await.text;
    let listed = &html[html.find("Pièces fournies").unwrap()..];
    assert!(
        listed.contains("Bilan final de l'action"),
        "the joined report stays on the file: {listed}"
    );
    // A file that is not a PDF or an image is refused and nothing is joined or taken.
    let version = b.version_on(&page).await;
    let r = b
        .post_files(
            &page,
            &uri,
            &[("version", &version)],
            &[(
                "piece.compte_rendu_financier",
                "compte.txt",
                b"des chiffres",
            )],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("ni un PDF ni une image"), "{}", r.text);
    assert_eq!(b.version_on(&page).await, version, "nothing was written");
    let r = b
        .post_files(
            &page,
            &uri,
            &[("version", &version)],
            &[("piece.compte_rendu_financier", "compte.pdf", b"%PDF-")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text
            .contains("Compte rendu financier\u{a0}: ce fichier est incomplet ou endommagé"),
        "{}",
        r.text
    );
    assert_eq!(b.version_on(&page).await, version, "nothing was written");
    // The missing piece sent: the step is taken.
    let r = b
        .post_files(
            &page,
            &uri,
            &[("version", &version)],
            &[("piece.compte_rendu_financier", "compte.pdf", PDF)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let html = b.get(&page).await.text;
    assert!(html.contains("Bilan final déposé"), "{html}");
}

#[tokio::test]
async fn a_stale_final_report_form_joins_nothing() {
    let (_env, mut b, page) = advanced_file().await;
    let uri = format!("{page}/actions/{STEP}");
    let version = b.version_on(&page).await;
    let stale = (version.parse::<i64>().unwrap() - 1).to_string();
    let r = b
        .post_files(
            &page,
            &uri,
            &[("version", &stale)],
            &[("piece.bilan_final", "bilan.pdf", PDF)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text);
    assert_eq!(b.version_on(&page).await, version, "nothing was joined");
}

#[tokio::test]
async fn finance_reads_what_the_balance_pays_without_an_amount() {
    let env = Env::new(OPEN).await;
    let owner = account(&env, "asso@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &owner, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let id = env.advanced(&token).await;
    env.final_report_pieces(&id, &token).await;
    let r = env.act(&id, STEP, &token, serde_json::json!({})).await;
    assert_eq!(r.body["state"], "bilan-depose", "{}", r.body);
    account(&env, "fin@amp.example", RoleKind::Finance).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("fin@amp.example").await;
    let html = b.get(&format!("/dossiers/{id}")).await.text;
    let at = html
        .find(&format!("/dossiers/{id}/actions/verser-solde\""))
        .expect("the balance's form");
    let form = &html[at..at + html[at..].find("</form>").unwrap()];
    // 7 500 € awarded, 3 750 € paid: the balance pays 3 750 € when given no amount.
    assert!(
        form.replace('\u{202f}', " ")
            .contains("Sans montant\u{a0}: <strong>3 750\u{a0}€</strong>"),
        "{form}"
    );
}
