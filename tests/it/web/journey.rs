//! The journey of one fund's year: an association files, staff decide within the envelope.

use std::path::{Path, PathBuf};

use fantoccini::Locator;
use serde_json::json;

use super::browser::{PASSWORD, Web, out_dir, prerequisites, user};
use crate::mail::MailRelay;
use crate::repo;
use crate::server::{OPEN, Server, database, to_decide};

pub fn pdf(dir: &Path) -> PathBuf {
    let p = dir.join("piece.pdf");
    std::fs::write(
        &p,
        b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
    )
    .unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_association_applies_and_the_staff_decide_within_the_envelope_in_a_real_browser() {
    prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mail = MailRelay::start();
    let args = mail.serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_args(&db, dir.path(), OPEN, &repo().join("plans"), &args);
    for (email, role, name) in [
        (
            "instructrice@amp.example",
            "instructor",
            "Inès Instructrice",
        ),
        ("membre1@amp.example", "reviewer", "Marc Membre"),
        ("membre2@amp.example", "reviewer", "Mona Membre"),
        ("elue@amp.example", "approver", "Élise Élue"),
        ("admin@amp.example", "admin", "Adam Admin"),
    ] {
        user(&db, email, role, name);
    }
    let (_driver, mut w) = Web::open(format!("http://{}", server.addr), out_dir()).await;

    // The public reads the plan, its timeline, the fund and its algorithm.
    w.go("/").await;
    assert_eq!(w.h1().await, "Plans publics");
    w.save("accueil", true).await;
    w.go("/plans/amp-pmlcd").await;
    w.css("table caption").await;
    w.save("plan", true).await;
    w.go("/plans/amp-pmlcd/calendrier?axe=&statut=").await;
    let chart = w.css("figure.gantt svg").await;
    assert!(chart.html(false).await.unwrap().contains("Aujourd'hui"));
    // At 1366 px the chart fits its column: neither the figure nor the page scrolls sideways.
    let fit = w
        .c
        .execute(
            "const f = document.querySelector('figure.gantt'); return [f.scrollWidth, f.clientWidth, document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let fit: Vec<i64> = fit
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(
        fit[0] <= fit[1],
        "the chart scrolls inside its figure: {fit:?}"
    );
    assert!(fit[2] <= fit[3], "the page scrolls sideways: {fit:?}");
    w.save("calendrier", true).await;
    // At 390 px the list by quarter replaces the chart, with every item of it.
    w.c.set_window_size(390, 844).await.unwrap();
    let mut seen = json!(null);
    for _ in 0..50 {
        seen = w
            .c
            .execute(
                "const l = document.querySelector('.vue-liste'); const f = document.querySelector('figure.gantt'); \
                 return [window.innerWidth, l.getClientRects().length > 0 && l.offsetHeight > 0, f.getClientRects().length, \
                 new Set(Array.from(l.querySelectorAll('[data-element]')).map(e => e.dataset.element)).size, \
                 f.querySelectorAll('g.element').length];",
                vec![],
            )
            .await
            .unwrap();
        if seen[0] == json!(390) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen[1],
        json!(true),
        "the list view is shown at 390 px: {seen}"
    );
    assert_eq!(seen[2], json!(0), "the chart is not: {seen}");
    assert_eq!(
        seen[3], seen[4],
        "the list holds every item of the chart: {seen}"
    );
    assert!(seen[4].as_u64().unwrap() > 20, "{seen}");
    w.c.set_window_size(1366, 900).await.unwrap();
    w.go("/plans/amp-pmlcd/fonds/fonds-initiative").await;
    assert!(
        w.text("main").await.contains("ouvert"),
        "the 2021 call is open on 1 March"
    );
    w.save("fonds", true).await;
    w.go("/plans/amp-pmlcd/fonds/fonds-initiative/algorithme")
        .await;
    w.save("algorithme", true).await;

    // The pages the authorities publish, reached from every page's footer.
    for (page, title) in [
        ("mentions-legales", "Mentions légales"),
        ("accessibilite", "Accessibilité"),
        ("donnees-personnelles", "Données personnelles"),
        ("aide", "Aide et contact"),
    ] {
        w.go("/plans/amp-pmlcd").await;
        w.click(&format!("footer a[href='/{page}']")).await;
        assert!(w.h1().await.starts_with(title), "{page}: {}", w.h1().await);
        let text = w.text("main").await;
        for authority in ["Aix-Marseille-Provence", "Lyon"] {
            assert!(
                text.contains(authority),
                "{page}: the section of {authority}"
            );
        }
        w.save(page, true).await;
    }
    w.go("/pas-une-page").await;
    assert_eq!(w.h1().await, "Page introuvable");
    w.save("introuvable", true).await;

    // An association registers, fills the form, sees the eligibility preview, files.
    w.go("/inscription").await;
    w.save("inscription", true).await;
    w.fill("#name", "Association Égalité des chances Vitrolles")
        .await;
    w.fill("#siret", "81234567800019").await;
    w.fill("#email", "asso@vitrolles.example").await;
    w.fill("#password", PASSWORD).await;
    w.fill("#password2", PASSWORD).await;
    w.click("main form button[type=submit]").await;
    // The page says the same whether the address had an account; the link is in the mail.
    assert_eq!(w.h1().await, "Vérifiez votre messagerie");
    w.save("inscription-envoyee", false).await;
    w.go(&mail.link("asso@vitrolles.example", "/inscription/confirmer"))
        .await;
    assert_eq!(w.h1().await, "Confirmer votre adresse électronique");
    w.save("inscription-confirmer", true).await;
    w.fill("#password", PASSWORD).await;
    w.click("main form button[type=submit]").await;
    assert_eq!(w.h1().await, "Mes dossiers");
    w.save("mes-dossiers", true).await;
    // A forgotten password: the request, its answer, and the page the emailed link opens.
    w.go("/mot-de-passe-oublie").await;
    w.save("mot-de-passe-oublie", true).await;
    w.fill("#email", "asso@vitrolles.example").await;
    w.click("main form button[type=submit]").await;
    assert_eq!(w.h1().await, "Lien envoyé");
    w.save("mot-de-passe-demande", false).await;
    w.go(&mail.link("asso@vitrolles.example", "/mot-de-passe/nouveau"))
        .await;
    assert_eq!(w.h1().await, "Choisir un nouveau mot de passe");
    w.save("mot-de-passe-nouveau", true).await;
    w.go("/mes-dossiers").await;
    w.click("main a[href$='/deposer']").await;
    assert!(w.h1().await.starts_with("Nouveau dossier"));
    w.save("formulaire", true).await;
    // The form in its parts, with their table of contents; the year and the account's SIRET
    // as text.
    assert_eq!(
        w.c.execute(
            "return [...document.querySelectorAll('nav.sommaire-formulaire a')].map(a => a.textContent);",
            vec![],
        )
        .await
        .unwrap(),
        json!([
            "Le porteur du projet",
            "Le projet",
            "Les territoires de l'action",
            "Le budget",
            "Les pièces jointes"
        ])
    );
    assert!(
        w.text("#champ-applicant-siret")
            .await
            .contains("812 345 678 00019"),
        "the SIRET of the account is shown: {}",
        w.text("#champ-applicant-siret").await
    );
    assert!(w.text("#champ-call").await.contains("2021"));
    // A field that applies only to associations appears when the kind says so.
    let hidden =
        "return document.getElementById(arguments[0]).closest('[data-visible-when]').hidden;";
    assert_eq!(
        w.c.execute(hidden, vec![json!("champ-applicant-registered_on")])
            .await
            .unwrap(),
        json!(true),
        "hidden until it applies"
    );
    w.css("#champ-applicant-kind")
        .await
        .select_by_value("association")
        .await
        .unwrap();
    assert_eq!(
        w.c.execute(hidden, vec![json!("champ-applicant-registered_on")])
            .await
            .unwrap(),
        json!(false),
        "an association gives its date of declaration"
    );
    assert_eq!(
        w.c.execute(hidden, vec![json!("champ-applicant-commune")])
            .await
            .unwrap(),
        json!(true),
        "the commune of a CCAS stays hidden"
    );
    w.date("champ-applicant-registered_on", "2015-06-01").await;
    w.fill(
        "#champ-project-title",
        "Ateliers de sensibilisation aux discriminations à l'embauche",
    )
    .await;
    w.fill(
        "#champ-project-description",
        "Diagnostic : à Vitrolles, les jeunes des quartiers prioritaires obtiennent deux fois moins d'entretiens. Six ateliers avec des employeurs du bassin ; résultat attendu : 60 jeunes accompagnés.",
    )
    .await;
    w.css("#champ-project-purpose")
        .await
        .select_by_value("plcd")
        .await
        .unwrap();
    // The commune by its name: the search opens its council's group.
    w.fill("#champ-project-communes-recherche", "vitro").await;
    assert!(
        w.text("#champ-project-communes-recherche-compte")
            .await
            .contains("1 commune trouvée")
    );
    w.tick("input[name='f.project.communes'][value='13117']")
        .await;
    for sel in [
        "input[name='f.project.criteria'][value=origine]",
        "input[name='f.project.criteria'][value=lieu_de_residence]",
        "input[name='f.project.domains'][value=emploi]",
        "input[name='f.project.qpv'][value=oui]",
        "input[name='f.project.economic_partner'][value=non]",
        "input[name='f.project.resident_participation'][value=oui]",
    ] {
        w.tick(sel).await;
    }
    w.date("champ-project-starts_on", "2021-04-01").await;
    w.date("champ-project-ends_on", "2021-12-15").await;
    // As people type them: the browser must not refuse the thousands with a bubble of its own.
    w.fill("#champ-project-total_cost", "12 000").await;
    // One faulty value first: the amount in words.
    w.fill("#champ-project-requested_amount", "huit mille")
        .await;
    let piece = pdf(dir.path());
    for kind in [
        "budget_previsionnel",
        "rib",
        "statuts",
        "attestation_regularite",
    ] {
        w.css(&format!("#piece-{kind}"))
            .await
            .send_keys(piece.to_str().unwrap())
            .await
            .unwrap();
    }
    w.click("button[value=apercu]").await;
    // Refused: the summary first, focused, its link to the field; what was typed is there,
    // and the pieces sent are kept.
    assert!(w.c.title().await.unwrap().starts_with("Erreur"));
    assert_eq!(
        w.c.execute("return document.activeElement.id;", vec![])
            .await
            .unwrap(),
        json!("resume-erreurs"),
        "the focus is on the summary of errors"
    );
    assert!(
        w.text("#resume-erreurs h2").await.contains("1 erreur"),
        "{}",
        w.text("#resume-erreurs").await
    );
    assert_eq!(
        w.css("#champ-project-requested_amount")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("huit mille"),
        "the faulty value is kept"
    );
    assert!(w.text("#piece-rib-fourni").await.contains("piece.pdf"));
    assert!(
        w.css("input[name='f.project.communes'][value='13117']")
            .await
            .is_selected()
            .await
            .unwrap()
    );
    w.save("formulaire-erreurs", false).await;
    w.tick("#resume-erreurs a[href='#champ-project-requested_amount']")
        .await;
    w.fill("#champ-project-requested_amount", "8 000 €").await;
    w.click("button[value=apercu]").await;
    assert_eq!(w.text("#apercu-titre").await, "Aperçu de l'éligibilité");
    assert_eq!(
        w.text(".apercu .resultat strong").await,
        "éligible",
        "the preview before filing"
    );
    assert!(
        w.text(".apercu .explication")
            .await
            .contains("Contribution du traitement algorithmique")
    );
    let id = Web::id_now(w.c.current_url().await.unwrap().as_str());
    w.save("apercu", true).await;
    w.act("deposer").await;
    assert!(
        w.state().await.to_lowercase().contains("instruction"),
        "filed: {}",
        w.state().await
    );
    // The receipt and what happens next.
    assert_eq!(w.text("#accuse-titre").await, "Accusé de réception");
    let receipt = w.text("section.accuse").await;
    assert!(receipt.contains("1er mars 2021"), "{receipt}");
    assert!(receipt.contains("Et maintenant ?"), "{receipt}");
    w.css("section.accuse a[href*='/courriers/']").await;
    w.save("depose", true).await;

    // An applicant sees no staff page.
    for page in [
        "/instruction",
        "/admin",
        "/plans/amp-pmlcd/fonds/fonds-initiative/enveloppe",
    ] {
        w.go(page).await;
        assert_eq!(w.h1().await, "Accès refusé", "{page}");
    }
    w.sign_out().await;

    // The instructor, then two reviewers, then the instructor again.
    w.sign_in("instructrice@amp.example").await;
    w.go("/instruction").await;
    w.save("instruction", true).await;
    w.click(&format!("a[href='/dossiers/{id}']")).await;
    w.act("soumettre-au-comite").await;
    assert!(
        w.css(".alert.ok")
            .await
            .text()
            .await
            .unwrap()
            .contains("c'est fait")
    );
    w.save("dossier-instruction", true).await;
    w.sign_out().await;
    for (n, reviewer) in ["membre1@amp.example", "membre2@amp.example"]
        .iter()
        .enumerate()
    {
        w.sign_in(reviewer).await;
        w.go(&format!("/dossiers/{id}")).await;
        assert!(
            w.text("main")
                .await
                .contains("Six ateliers avec des employeurs"),
            "the reviewer reads the description they score"
        );
        w.tick("input[name=lien][value=non]").await;
        w.tick("input[name=favorable][value=oui]").await;
        w.fill(
            "textarea[name=avis]",
            "Diagnostic solide, public bien ciblé.",
        )
        .await;
        w.fill("input[name='note.diagnostic']", "15").await;
        w.fill("input[name='note.innovation']", "10").await;
        if n == 0 {
            w.save("avis-formulaire", true).await;
        }
        w.act("donner-avis").await;
        assert!(w.text(".alert.ok").await.contains("c'est fait"));
        w.sign_out().await;
    }
    w.sign_in("instructrice@amp.example").await;
    w.go(&format!("/dossiers/{id}")).await;
    w.act("proposer-decision").await;
    w.sign_out().await;

    // The delegate approves within the envelope, from sign-in in two page loads: the inbox,
    // then the file, whose summary fits above the fold with the main action on the page.
    w.sign_in("elue@amp.example").await;
    assert!(
        w.c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/instruction"),
        "staff land on their inbox"
    );
    w.click(&format!("a[href='/dossiers/{id}']")).await;
    let bottom =
        w.c.execute(
            "return document.querySelector('#resume').getBoundingClientRect().bottom;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        bottom.as_f64().is_some_and(|b| b <= 900.0),
        "the summary ends above the fold at 1366 × 900: {bottom}"
    );
    w.css("form[action$='/actions/attribuer'] button.bouton-primaire")
        .await;
    let summary = w.text("#resume").await;
    for shown in ["sur 100", "Marc Membre", "Enveloppe 2021", "éligible"] {
        assert!(summary.contains(shown), "{shown} in the summary: {summary}");
    }
    assert!(
        w.text("#avis-titre + *")
            .await
            .contains("Diagnostic solide"),
        "opinions shown to staff"
    );
    assert_eq!(
        w.text("#avis-titre ~ div tbody td").await,
        "non",
        "the reviewer's declaration of no link of interest"
    );
    w.save("decision-resume", true).await;
    w.act("attribuer").await;
    assert_eq!(w.state().await, "Aide attribuée", "awarded");

    // Four more files reach the decision through the API: 8 000 € + 3 × 7 000 € leave 1 000 €.
    let others = to_decide(&server.addr, &db, 4, 7000);
    w.go("/instruction?etat=a-decider").await;
    for other in &others[..3] {
        w.tick(&format!("input[name=dossier][value^='{other}:']"))
            .await;
    }
    w.css("#lot-action")
        .await
        .select_by_value("attribuer")
        .await
        .unwrap();
    w.save("lot-selection", true).await;
    w.click("fieldset.lot button[type=submit]").await;
    // First a summary: the files, the total and the envelope after; nothing done yet.
    assert_eq!(w.h1().await, "Décision groupée : confirmation");
    let summary = w.text("main").await;
    assert!(
        summary.contains("Total attribué") && summary.contains("21 000 €"),
        "{summary}"
    );
    assert!(
        summary.contains("22 000 € avant, 1 000 € après"),
        "{summary}"
    );
    w.save("lot-confirmation", false).await;
    w.click("form.lot-confirmation button[type=submit]").await;
    assert_eq!(w.h1().await, "Décision groupée : rapport");
    assert_eq!(
        w.c.find_all(Locator::Css("td.succes")).await.unwrap().len(),
        3,
        "each file of the batch is awarded"
    );
    w.save("lot-rapport", false).await;

    // A second approval that would overspend is refused, with the remaining amount shown.
    w.go(&format!("/dossiers/{}", others[3])).await;
    w.act("attribuer").await;
    let refusal = w.text(".alert.error").await;
    assert!(refusal.contains("il reste 1 000 €"), "{refusal}");
    assert_eq!(
        w.state().await,
        "Proposé à la décision de l'élue déléguée",
        "nothing changed"
    );
    w.save("depassement-refuse", false).await;
    w.go("/plans/amp-pmlcd/fonds/fonds-initiative/enveloppe?annee=2021")
        .await;
    assert!(
        w.text("dl.chiffres").await.contains("29 000 €"),
        "{}",
        w.text("dl.chiffres").await
    );
    w.save("enveloppe", true).await;
    w.sign_out().await;

    // The applicant sees the decision and its explanation.
    w.sign_in("asso@vitrolles.example").await;
    w.go("/mes-dossiers").await;
    w.click(&format!("a[href='/dossiers/{id}']")).await;
    assert_eq!(w.state().await, "Aide attribuée");
    assert!(w.text("#explication-titre").await.contains("explication"));
    let page = w.text("main").await;
    assert!(page.contains("8 000 €"), "the award is shown");
    assert!(page.contains("1. Contribution du traitement algorithmique"));
    assert!(
        !page.contains("membre1@amp.example"),
        "staff names are not shown to the applicant"
    );
    w.save("decision-porteur", true).await;
    w.sign_out().await;

    // Another applicant cannot open that file, nor its pieces.
    w.register(
        &mail,
        "Autre association",
        "99999999900018",
        "autre@example.org",
    )
    .await;
    for page in [
        format!("/dossiers/{id}"),
        format!("/dossiers/{id}/pieces/rib"),
    ] {
        w.go(&page).await;
        assert_eq!(w.h1().await, "Page introuvable", "{page}");
    }
    w.sign_out().await;

    // The administrator's page.
    w.sign_in("admin@amp.example").await;
    w.go("/admin").await;
    w.css("#t-user")
        .await
        .select_by_value("instructrice@amp.example")
        .await
        .unwrap();
    w.click("form[action='/admin/jetons'] button").await;
    let secret = w.text("code.secret").await;
    assert!(secret.starts_with("mp_"), "{secret}");
    w.save("admin", false).await;
    let api = crate::server::request(
        &server.addr,
        "GET",
        &format!("/api/applications/{id}"),
        Some(&secret),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(api.status, 200, "the token acts as its user: {}", api.body);
    // The application form on a phone's screen, and the keyboard's first stop.
    w.c.set_window_size(390, 844).await.unwrap();
    w.sign_out().await;
    w.sign_in("asso@vitrolles.example").await;
    w.go("/plans/amp-pmlcd/fonds/fonds-initiative/deposer")
        .await;
    let overflow =
        w.c.execute(
            "return document.documentElement.scrollWidth > window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, json!(false), "the form fits a phone's width");
    // Every council's communes unfolded, they still fit.
    let overflow =
        w.c.execute(
            "document.querySelectorAll('details.conseil').forEach(d => d.open = true);
             return document.documentElement.scrollWidth > window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, json!(false), "the communes fit a phone's width");
    w.save("formulaire-mobile", true).await;
    w.c.execute(
        "document.activeElement.blur(); window.scrollTo(0, 0);",
        vec![],
    )
    .await
    .unwrap();
    w.css("body").await.send_keys("\u{e004}").await.unwrap();
    let first =
        w.c.execute("return document.activeElement.textContent;", vec![])
            .await
            .unwrap();
    assert_eq!(
        first,
        json!("Aller au contenu"),
        "Tab first reaches the skip link"
    );
    w.verdict(20).await;
}
