//! The other people of the fund's year, each on their own pages: an association whose file is
//! incomplete completes it, one is refused with reasons after a reviewer declares a link of
//! interest, one withdraws, and the award of a fourth is carried to its last payment by the
//! instructor, finance and the association. Their files reach each step through the API; each
//! person's own step is taken in the browser.

use serde_json::json;

use super::browser::{Web, prerequisites, user};
use super::journey::pdf;
use crate::mail::MailRelay;
use crate::repo;
use crate::server::{
    FILE, OPEN, Server, act, application, database, request, token, token_for, upload,
};

const PIECES: [&str; 4] = [
    "budget_previsionnel",
    "rib",
    "statuts",
    "attestation_regularite",
];

/// Files an application for the account of `email` through the API; with `pieces`, its
/// pieces too, and it is complete.
/// A file of `who` (name, SIRET, email) filed through the API under the association's name.
fn file(addr: &str, db: &str, who: (&str, &str, &str), title: &str, pieces: bool) -> String {
    let (name, siret, email) = who;
    let t = token_for(db, email);
    let mut data = application(&siret.replace(' ', ""), 6000);
    data["applicant"]["name"] = json!(name);
    data["project"]["title"] = json!(title);
    let r = request(
        addr,
        "POST",
        FILE,
        Some(&t),
        &[],
        Some(&json!({ "data": data })),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    if pieces {
        for kind in PIECES {
            assert_eq!(upload(addr, &id, kind, &t), 200);
        }
        let done = act(addr, &id, "completer", &t, json!({}));
        assert_eq!(done.body["state"], "en-instruction", "{}", done.body);
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_people_of_the_year_take_their_own_steps_in_a_real_browser() {
    prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mail = MailRelay::start();
    let args = mail.serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_args(&db, dir.path(), OPEN, &repo().join("plans"), &args);
    for (email, role, name) in [
        ("instructeur@amp.example", "instructor", "Ivan Instructeur"),
        ("membre3@amp.example", "reviewer", "Maya Membre"),
        ("elue2@amp.example", "approver", "Éva Élue"),
        ("finances@amp.example", "finance", "Fanny Finances"),
    ] {
        user(&db, email, role, name);
    }
    let out = super::browser::out_dir().with_file_name("web-personnes");
    let (_driver, mut w) = Web::open(format!("http://{}", server.addr), out).await;
    let addr = server.addr.clone();
    let instr = token(&db, "Inès Instruction", "instructor");
    let elue = token(&db, "Élodie Élue", "approver");

    // Four associations register (one types its SIRET as it is printed, in groups).
    let people = [
        (
            "Centre social Les Aygalades",
            "443 061 841 00047",
            "aygalades@example.org",
        ),
        ("Compagnie du Réel", "51234567800012", "reel@example.org"),
        (
            "Association Vivre ensemble à Martigues",
            "52345678900013",
            "martigues@example.org",
        ),
        (
            "Maison des jeunes d'Aubagne",
            "53456789000014",
            "aubagne@example.org",
        ),
    ];
    for (name, siret, email) in people {
        w.register(&mail, name, siret, email).await;
        w.sign_out().await;
    }

    // The first files without pieces: the file is incomplete; she provides them and completes it.
    let incomplete = file(&addr, &db, people[0], "Permanences d'accès au droit", false);
    w.sign_in(people[0].2).await;
    w.go("/mes-dossiers").await;
    w.click(&format!("a[href='/dossiers/{incomplete}']")).await;
    assert!(
        w.state().await.starts_with("Incomplet"),
        "{}",
        w.state().await
    );
    let page = w.text("main").await;
    assert!(page.contains("Ce qui manque"), "what is missing is said");
    assert!(page.contains("RIB"), "by the pieces' labels: {page}");
    w.save("incomplet", true).await;
    let piece = pdf(dir.path());
    for kind in PIECES {
        w.css(&format!("#piece-{kind}"))
            .await
            .send_keys(piece.to_str().unwrap())
            .await
            .unwrap();
    }
    w.click("form[action$='/pieces'] button[type=submit]").await;
    w.act("completer").await;
    assert_eq!(
        w.state().await,
        "En instruction",
        "completed: {}",
        w.text("main").await
    );
    w.save("complete", true).await;
    w.sign_out().await;

    // The second is before the committee: the third reviewer declares a link and is kept out;
    // the others find against it, and the delegate refuses it with her reasons.
    let refused = file(
        &addr,
        &db,
        people[1],
        "Théâtre-forum dans les collèges",
        true,
    );
    act(&addr, &refused, "soumettre-au-comite", &instr, json!({}));
    w.sign_in("membre3@amp.example").await;
    w.go(&format!("/dossiers/{refused}")).await;
    w.tick("input[name=lien][value=oui]").await;
    w.act("donner-avis").await;
    let said = w.text("main").await;
    assert!(said.contains("c'est fait"), "{said}");
    w.save("lien-declare", true).await;
    w.sign_out().await;
    for r in ["Romain Rapporteur", "Rachida Rapporteure"] {
        let t = token(&db, r, "reviewer");
        let done = act(
            &addr,
            &refused,
            "donner-avis",
            &t,
            json!({"linked": false, "favourable": false, "opinion": "Public mal défini."}),
        );
        assert_eq!(done.status, 200, "{}", done.body);
    }
    let sent = act(
        &addr,
        &refused,
        "transmettre-avis-defavorable",
        &instr,
        json!({}),
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    w.sign_in("elue2@amp.example").await;
    w.go(&format!("/dossiers/{refused}")).await;
    let page = w.text("main").await;
    assert!(
        page.contains("Maya Membre"),
        "the declaration is shown with the reviewer's name: {page}"
    );
    w.fill(
        "textarea[name=motif]",
        "Le public visé n'est pas défini et le comité a rendu un avis défavorable.",
    )
    .await;
    w.save("refus-motif", true).await;
    w.act("refuser").await;
    w.save("refus-confirmation", false).await;
    w.click("form.action-danger button[type=submit]").await;
    assert_eq!(w.state().await, "Aide refusée");
    w.sign_out().await;
    w.sign_in(people[1].2).await;
    w.go(&format!("/dossiers/{refused}")).await;
    let page = w.text("main").await;
    assert!(
        page.contains("Le public visé n'est pas défini"),
        "the reasons reach the applicant"
    );
    assert!(
        !page.contains("Maya Membre"),
        "no reviewer's name for the applicant"
    );
    w.save("refus-porteur", true).await;
    w.sign_out().await;

    // The third withdraws her file.
    let withdrawn = file(&addr, &db, people[2], "Fête des voisins solidaires", true);
    w.sign_in(people[2].2).await;
    w.go(&format!("/dossiers/{withdrawn}")).await;
    w.act_confirmed("retirer").await;
    assert_eq!(w.state().await, "Retiré par le porteur");
    w.save("retire", true).await;
    w.sign_out().await;

    // The fourth is awarded; the instructor records the signed agreement, finance pays the
    // advance, the association files its final report, finance pays the balance.
    let awarded = file(&addr, &db, people[3], "Chantiers jeunes citoyens", true);
    act(&addr, &awarded, "soumettre-au-comite", &instr, json!({}));
    for r in ["Romain Rapporteur", "Rachida Rapporteure"] {
        let t = token(&db, r, "reviewer");
        act(
            &addr,
            &awarded,
            "donner-avis",
            &t,
            json!({"linked": false, "favourable": true, "opinion": "ok"}),
        );
    }
    act(
        &addr,
        &awarded,
        "proposer-decision",
        &instr,
        json!({"amount": "6000"}),
    );
    let done = act(
        &addr,
        &awarded,
        "attribuer",
        &elue,
        json!({"amount": "6000"}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    w.sign_in("instructeur@amp.example").await;
    w.go(&format!("/dossiers/{awarded}")).await;
    w.date("signature-signer-convention", "2021-03-01").await;
    w.act("signer-convention").await;
    assert_eq!(w.state().await, "Convention signée");
    w.sign_out().await;
    w.sign_in("finances@amp.example").await;
    w.go(&format!("/dossiers/{awarded}")).await;
    w.save("a-verser", true).await;
    w.act("verser-avance").await;
    assert_eq!(w.state().await, "Avance versée");
    assert!(
        w.text("dl.fiche").await.contains("3 000 €"),
        "half is paid in advance"
    );
    w.sign_out().await;
    w.sign_in(people[3].2).await;
    w.go(&format!("/dossiers/{awarded}")).await;
    w.save("bilan", true).await;
    // The step asks for the report and its financial statement, as files, on its own form.
    for kind in ["bilan_final", "compte_rendu_financier"] {
        w.css(&format!("#piece-deposer-bilan-{kind}"))
            .await
            .send_keys(piece.to_str().unwrap())
            .await
            .unwrap();
    }
    w.act("deposer-bilan").await;
    assert_eq!(w.state().await, "Bilan final déposé");
    let pieces = w.text("section[aria-labelledby=pieces-titre]").await;
    assert!(
        pieces.contains("Bilan final de l'action") && pieces.contains("Compte rendu financier"),
        "the report's pieces are listed by their labels: {pieces}"
    );
    w.sign_out().await;
    w.sign_in("finances@amp.example").await;
    w.go(&format!("/dossiers/{awarded}")).await;
    w.act("verser-solde").await;
    assert_eq!(w.state().await, "Solde versé");
    assert!(w.text("dl.fiche").await.contains("6 000 €"), "all is paid");
    w.save("solde-verse", true).await;
    w.sign_out().await;

    w.verdict(10).await;
}
