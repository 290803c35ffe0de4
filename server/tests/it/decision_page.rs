//! The decision page (a file's page for staff): the summary a decision needs first, then the
//! actions, the destructive ones confirmed server-side; banners coloured by what the file's
//! state means; the receipt and next steps an applicant reads after filing.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use metroplan_server::accounts::{self, NewUser};
use serde_json::json;

use crate::support::*;
use crate::web::{Browser, PASSWORD};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// Spaces of every kind as plain spaces, to compare the text of a page.
fn plain(s: &str) -> String {
    s.replace(['\u{a0}', '\u{202f}'], " ")
}

async fn person(env: &Env, email: &str, name: &str, role: RoleKind) -> accounts::User {
    accounts::create_user(
        &env.db,
        NewUser {
            email,
            name,
            role,
            plan: None,
            fund: None,
            siret: (role == RoleKind::Applicant).then_some("81234567800019"),
            password: PASSWORD,
            grants: &[],
        },
        jiff::Timestamp::now(),
    )
    .await
    .expect("account")
}

/// A file brought to the decision by named people: two opinions with points, the
/// instructor's proposal. Returns its id.
async fn at_decision(env: &Env) -> String {
    let asso = person(
        env,
        "asso@example.org",
        "Association Égalité",
        RoleKind::Applicant,
    )
    .await;
    let instr = person(
        env,
        "instr@amp.example",
        "Inès Instructrice",
        RoleKind::Instructor,
    )
    .await;
    let m1 = person(
        env,
        "membre1@amp.example",
        "Marc Membre",
        RoleKind::Reviewer,
    )
    .await;
    let m2 = person(
        env,
        "membre2@amp.example",
        "Mona Membre",
        RoleKind::Reviewer,
    )
    .await;
    person(env, "elue@amp.example", "Élise Élue", RoleKind::Approver).await;
    let id = env
        .eligible(&env.token_of(&asso).await, application())
        .await;
    let instr = env.token_of(&instr).await;
    let r = env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (m, diagnostic, innovation, favourable) in [(&m1, 15, 10, true), (&m2, 12, 8, false)] {
        let t = env.token_of(m).await;
        let r = env
            .act(
                &id,
                "donner-avis",
                &t,
                json!({"linked": false, "favourable": favourable, "opinion": "Diagnostic solide.",
                       "scores": {"diagnostic": diagnostic, "innovation": innovation}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    // One favourable, one not: the instructor sends it on with the committee's opinion.
    let r = env
        .act(&id, "transmettre-avis-defavorable", &instr, json!({}))
        .await;
    assert_eq!(r.body["state"], "a-decider", "{}", r.body);
    id
}

/// The section of the page with the summary.
fn summary_of(html: &str) -> &str {
    let start = html.find("id=\"resume\"").expect("the summary");
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn the_decision_page_shows_the_summary_first_then_the_actions_the_refusal_last() {
    let env = Env::new(OPEN).await;
    let id = at_decision(&env).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    let page = b.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text;
    let summary = plain(summary_of(&html));
    // The score out of the grid's total, each criterion with its maximum, the reviewers'
    // points averaged over the two opinions.
    assert!(summary.contains(" sur 100"), "{summary}");
    assert!(summary.contains("moyenne de 2 avis"), "{summary}");
    for (label, points, max) in [
        (
            "Qualité du diagnostic et des indicateurs de résultat",
            "13,5",
            "20",
        ),
        ("Caractère innovant ou essaimable", "9", "15"),
        ("Action en QPV ou au bénéfice de ses habitants", "20", "20"),
    ] {
        let row = summary
            .split("<tr>")
            .find(|r| r.contains(label))
            .unwrap_or_else(|| panic!("a row for {label}: {summary}"));
        assert!(
            row.contains(&format!(">{points}</td>")) && row.contains(&format!(">{max}</td>")),
            "{label}: {points} of {max}: {row}"
        );
    }
    // Each opinion by its reviewer's name and its sense, never an email.
    assert!(summary.contains("Marc Membre") && summary.contains("Mona Membre"));
    assert!(summary.contains("favorable") && summary.contains("défavorable"));
    assert!(summary.contains("1 avis favorable sur 2 avis"), "{summary}");
    assert!(!html.contains("membre1@amp.example"), "no reviewer's email");
    assert!(summary.contains("lien d'intérêt : non"), "{summary}");
    // The verdict, the instructor's proposal, the envelope left for the file's year.
    assert!(summary.contains("éligible"), "{summary}");
    assert!(
        summary.contains("Transmettre à la décision avec l'avis défavorable du comité")
            && summary.contains("Inès Instructrice"),
        "{summary}"
    );
    assert!(summary.contains("Enveloppe 2021"), "{summary}");
    assert!(
        summary.contains("30 000 €</strong> sur 30 000 €"),
        "{summary}"
    );
    // Then the actions: the award first (primary, prefilled as French writes it), the
    // refusal last, marked as dangerous.
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s}"));
    let award = at(&format!("action=\"/dossiers/{id}/actions/attribuer\""));
    let refusal = at(&format!("action=\"/dossiers/{id}/actions/refuser\""));
    assert!(at("id=\"resume\"") < award && award < refusal);
    assert!(html[award..refusal].contains("bouton-primaire"));
    assert!(
        !html[award..refusal].contains("value=\"8000.00\""),
        "no 8000.00 prefilled"
    );
    let refusal_form = &html[refusal..refusal + html[refusal..].find("</form>").unwrap()];
    assert!(refusal_form.contains("bouton-danger"), "{refusal_form}");
}

#[tokio::test]
async fn a_refusal_asks_for_a_confirmation_changes_nothing_until_confirmed_and_is_not_green() {
    let env = Env::new(OPEN).await;
    let id = at_decision(&env).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    let page = format!("/dossiers/{id}");
    let version = b.version_on(&page).await;
    let motive = "Le projet ne répond pas aux priorités de l'appel.";
    let first = b
        .post(
            &page,
            &format!("{page}/actions/refuser"),
            &[("version", &version), ("motif", motive)],
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let text = plain(&first.text);
    assert!(text.contains("Confirmer : Refuser l'aide"), "{text}");
    assert!(text.contains("Cette étape est définitive"), "{text}");
    assert!(text.contains("« Aide refusée »"), "{text}");
    assert!(text.contains(">Confirmer</button>") && text.contains(">Annuler</a>"));
    assert!(text.contains("name=\"confirme\" value=\"oui\""));
    assert_eq!(b.version_on(&page).await, version, "nothing was written");
    assert!(plain(&b.get(&page).await.text).contains("Proposé à la décision"));

    // The confirmation page's form, posted: carried out.
    let token = crate::web::csrf_of(&first.text);
    let done = b
        .send(
            axum::http::Method::POST,
            &format!("{page}/actions/refuser"),
            Some(&[
                ("_csrf", token.as_str()),
                ("version", &version),
                ("motif", motive),
                ("confirme", "oui"),
            ]),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let location = done.headers["location"].to_str().unwrap().to_string();
    let after = b.get(&location).await.text;
    assert!(plain(&after).contains("Aide refusée"));
    // The banner and the badge say it is unfavourable: not the success banner.
    let banner = &after[after.find("<div class=\"alert").expect("a banner")..];
    let banner = &banner[..banner.find('>').unwrap()];
    assert!(banner.contains("ton-defavorable"), "{banner}");
    assert!(!banner.contains(" ok"), "not the success banner: {banner}");
    assert!(after.contains("etat-refuse ton-defavorable"));
}

#[tokio::test]
async fn the_award_needs_no_confirmation_and_its_banner_is_green() {
    let env = Env::new(OPEN).await;
    let id = at_decision(&env).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    let page = format!("/dossiers/{id}");
    let version = b.version_on(&page).await;
    let r = b
        .post(
            &page,
            &format!("{page}/actions/attribuer"),
            &[("version", &version), ("montant", "8 000 €")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let after = b.get(r.headers["location"].to_str().unwrap()).await.text;
    assert!(
        after.contains("class=\"alert ok ton-favorable\""),
        "green banner"
    );
    let summary = plain(summary_of(&after));
    assert!(
        summary.contains("22 000 €</strong> sur 30 000 €"),
        "{summary}"
    );
}

#[tokio::test]
async fn after_filing_the_applicant_reads_the_receipt_and_what_happens_next() {
    let env = Env::new(OPEN).await;
    let asso = person(
        &env,
        "asso@example.org",
        "Association Égalité",
        RoleKind::Applicant,
    )
    .await;
    let id = env
        .eligible(&env.token_of(&asso).await, application())
        .await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("asso@example.org").await;
    let html = b.get(&format!("/dossiers/{id}")).await.text;
    let at = html.find("id=\"accuse-titre\"").expect("the receipt");
    let block = plain(&html[at..at + html[at..].find("</section>").unwrap()]);
    assert!(
        block.contains("déposé le <strong>1er mars 2021</strong>"),
        "{block}"
    );
    assert!(
        block.contains(&format!("/dossiers/{id}/courriers/")),
        "the receipt letter: {block}"
    );
    assert!(block.contains("Et maintenant ?"), "{block}");
    assert!(block.contains("En instruction"), "{block}");
    assert!(
        block.contains("Avis du comité de sélection"),
        "the next step: {block}"
    );
    // The implicit rejection's day, if nobody decides.
    assert!(
        block.contains(
            "sans autre intervention d'ici là, le dossier passera à l'étape « Rejeté implicitement"
        ),
        "{block}"
    );
    assert!(!block.contains("2021-"), "no ISO date: {block}");
    // Filed incomplete, then completed: two receipts, the second said to be one.
    let letters = plain(section_of(&html, "courriers-titre"));
    assert_eq!(
        letters
            .matches("Accusé de réception de votre demande de subvention<")
            .count(),
        1,
        "{letters}"
    );
    assert!(
        letters.contains("Accusé de réception de votre demande de subvention (2e envoi)"),
        "{letters}"
    );
    // The history says where each step led, not where it came from.
    let history = plain(section_of(&html, "historique-titre"));
    assert!(history.contains(" → En instruction"), "{history}");
    assert!(!history.contains("Brouillon →"), "{history}");
}

#[tokio::test]
async fn an_incomplete_file_is_shown_waiting_not_green() {
    let env = Env::new(OPEN).await;
    let asso = person(
        &env,
        "asso@example.org",
        "Association Égalité",
        RoleKind::Applicant,
    )
    .await;
    let r = env.file(&env.token_of(&asso).await, application()).await;
    assert_eq!(r.body["state"], "incomplet", "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let mut b = Browser::new(env.app.clone());
    b.sign_in("asso@example.org").await;
    let html = b.get(&format!("/dossiers/{id}?fait=deposer")).await.text;
    assert!(
        html.contains("class=\"alert ton-attente\""),
        "an amber banner"
    );
    assert!(!html.contains("class=\"alert ok"), "no green banner");
    assert!(html.contains("etat-incomplet ton-attente"));
    let text = plain(&html);
    assert!(
        text.contains("Complétez-le au plus tard le <strong>16 mars 2021</strong>"),
        "{text}"
    );
}

/// The section of an applicant's page headed `id`.
fn section_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn the_refused_applicant_reads_the_decision_its_reasons_and_the_appeal_routes() {
    let env = Env::new(OPEN).await;
    let id = at_decision(&env).await;
    let elue = env.token("elue-api", RoleKind::Approver).await;
    let motive = "Le projet ne répond pas aux priorités de l'appel.";
    let r = env
        .act(&id, "refuser", &elue, json!({"reason": motive}))
        .await;
    assert_eq!(r.body["state"], "refuse", "{}", r.body);
    let mut b = Browser::new(env.app.clone());
    b.sign_in("asso@example.org").await;
    let html = b.get(&format!("/dossiers/{id}")).await.text;
    let block = plain(section_of(&html, "decision-titre"));
    assert!(block.contains("Décision du "), "{block}");
    assert!(block.contains("Aide refusée"), "{block}");
    assert!(block.contains("1er mars 2021"), "the day: {block}");
    assert!(block.contains(&format!("Motif : {motive}")), "{block}");
    assert!(
        block.contains("Télécharger la notification"),
        "the letter: {block}"
    );
    // The appeal routes, from the plan's authority: both, and their two months.
    assert!(block.contains("recours gracieux"), "{block}");
    assert!(
        block.contains("Tribunal administratif de Marseille"),
        "{block}"
    );
    assert!(block.contains("deux mois"), "{block}");
    // No technical section, no id, for the person applying; their history in words.
    assert!(!html.contains("Détails techniques"), "no technical section");
    assert!(!html.contains("sha256") && !html.contains("issue-document"));
    let history = plain(section_of(&html, "historique-titre"));
    assert!(history.contains("Courrier émis : "), "{history}");
}

#[tokio::test]
async fn staff_read_pieces_and_letters_by_their_labels_and_no_technical_section() {
    let env = Env::new(OPEN).await;
    let id = at_decision(&env).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    let html = b.get(&format!("/dossiers/{id}")).await.text;
    assert!(
        !html.contains("Détails techniques"),
        "no rule ids nor hash on a page"
    );
    assert!(!html.contains("sha256"), "no hash");
    let history = plain(section_of(&html, "historique-titre"));
    assert!(
        history.contains("Courrier émis : Accusé de réception"),
        "{history}"
    );
    assert!(!history.contains("issue-document"), "{history}");
}

#[tokio::test]
async fn the_proposal_waits_for_the_vote_states_its_amount_and_the_award_starts_from_it() {
    let env = Env::new(OPEN).await;
    let asso = person(
        &env,
        "asso@example.org",
        "Association Égalité",
        RoleKind::Applicant,
    )
    .await;
    let instr = person(
        &env,
        "instr@amp.example",
        "Inès Instructrice",
        RoleKind::Instructor,
    )
    .await;
    person(&env, "elue@amp.example", "Élise Élue", RoleKind::Approver).await;
    let id = env
        .eligible(&env.token_of(&asso).await, application())
        .await;
    let instr_token = env.token_of(&instr).await;
    env.act(&id, "soumettre-au-comite", &instr_token, json!({}))
        .await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("instr@amp.example").await;
    let page = format!("/dossiers/{id}");
    // Before the committee's quorum: not offered, and said why.
    let before = plain(&b.get(&page).await.text);
    assert!(
        !before.contains(&format!(
            "action=\"/dossiers/{id}/actions/proposer-decision\""
        )),
        "no form before the vote"
    );
    assert!(
        before.contains("« Proposer l'attribution (avis favorable du comité) » : pas encore possible. Le nombre minimal d'avis du comité n'est pas encore atteint."),
        "{before}"
    );
    for r in ["Marc Membre", "Mona Membre"] {
        let t = env.token(r, RoleKind::Reviewer).await;
        let done = env
            .act(
                &id,
                "donner-avis",
                &t,
                json!({"linked": false, "favourable": true, "opinion": "Utile."}),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    }
    // After it: the form asks for the amount proposed, prefilled with the request.
    let html = b.get(&page).await.text;
    let at = html
        .find(&format!(
            "action=\"/dossiers/{id}/actions/proposer-decision\""
        ))
        .expect("offered after the vote");
    let form = plain(&html[at..at + html[at..].find("</form>").unwrap()]);
    assert!(form.contains("Montant proposé (€)"), "{form}");
    assert!(form.contains("value=\"8 000\""), "{form}");
    let version = b.version_on(&page).await;
    let r = b
        .post(
            &page,
            &format!("{page}/actions/proposer-decision"),
            &[("version", &version), ("montant", "6 500")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    // The elected official reads the proposal with its amount; the award starts from it.
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    let html = b.get(&page).await.text;
    let summary = plain(summary_of(&html));
    assert!(
        summary.contains(
            "Proposer l'attribution (avis favorable du comité) : <strong>6 500 €</strong>"
        ),
        "{summary}"
    );
    let at = html
        .find(&format!("action=\"/dossiers/{id}/actions/attribuer\""))
        .expect("the award");
    let form = plain(&html[at..at + html[at..].find("</form>").unwrap()]);
    assert!(form.contains("value=\"6 500\""), "{form}");
    assert!(
        form.contains("proposé par l'instruction : 6 500 €"),
        "{form}"
    );
}

#[tokio::test]
async fn a_draft_is_deleted_not_withdrawn() {
    let env = Env::new(OPEN).await;
    let asso = person(
        &env,
        "asso@example.org",
        "Association Égalité",
        RoleKind::Applicant,
    )
    .await;
    let r = env.draft(&env.token_of(&asso).await, application()).await;
    assert_eq!(r.body["state"], "brouillon", "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let mut b = Browser::new(env.app.clone());
    b.sign_in("asso@example.org").await;
    let html = b.get(&format!("/dossiers/{id}")).await.text;
    assert!(html.contains("Supprimer le brouillon"), "{html}");
    assert!(!html.contains("Retirer le dossier"), "{html}");
}
