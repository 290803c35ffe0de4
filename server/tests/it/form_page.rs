//! The new application's page as the applicant sees it: the form in the plan's sections with
//! a table of contents, fields shown only when they apply, communes chosen by name by
//! conseil de territoire, the call year and the account's SIRET shown as text, and a refused
//! submission that keeps everything typed and the files sent.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use metroplan_server::tokens;

use crate::support::*;
use crate::web::{Browser, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

fn page() -> String {
    format!("/plans/{PLAN}/fonds/{FUND}/deposer")
}

async fn signed_in(env: &Env) -> Browser {
    account(env, "a@example.org", RoleKind::Applicant).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    b
}

fn at(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` is not on the page"))
}

/// The opening tag of the element whose `id` is `id`.
fn tag_of<'h>(html: &'h str, id: &str) -> &'h str {
    let i = at(html, &format!("id=\"{id}\""));
    let start = html[..i].rfind('<').unwrap();
    let end = i + html[i..].find('>').unwrap();
    &html[start..=end]
}

/// Every field of the demonstration's form, valid, as the page sends them.
fn valid_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "f.applicant.name",
            "Association Égalité des chances Vitrolles",
        ),
        ("f.applicant.kind", "association"),
        ("f.applicant.registered_on", "2015-06-01"),
        ("f.project.title", "Ateliers"),
        ("f.project.purpose", "plcd"),
        ("f.project.communes", "13117"),
        ("f.project.communes", "13001"),
        ("f.project.criteria", "origine"),
        ("f.project.domains", "emploi"),
        ("f.project.starts_on", "2021-04-01"),
        ("f.project.ends_on", "2021-12-15"),
        ("f.project.total_cost", "16 000"),
        ("f.project.requested_amount", "8 000"),
        ("f.project.qpv", "oui"),
        ("f.project.economic_partner", "non"),
        ("f.project.resident_participation", "oui"),
        ("intention", "apercu"),
    ]
}

#[tokio::test]
async fn the_form_is_in_the_plans_sections_in_order_with_a_table_of_contents() {
    let env = Env::new(OPEN).await;
    let mut b = signed_in(&env).await;
    let html = b.get(&page()).await.text;
    let sections = [
        ("porteur", "Le porteur du projet"),
        ("projet", "Le projet"),
        ("territoires", "Les territoires de l'action"),
        ("budget", "Le budget"),
        ("pieces", "Les pièces jointes"),
    ];
    let toc = at(&html, "Les parties du formulaire");
    let mut last = 0;
    for (id, title) in sections {
        let link = at(&html, &format!("<a href=\"#partie-{id}\">{title}</a>"));
        assert!(link > toc, "the table of contents links to « {title} »");
        let heading = at(&html, &format!("id=\"partie-{id}-titre\">{title}</h2>"));
        assert!(heading > last, "« {title} » comes in the plan's order");
        assert!(
            html.contains(&format!("<section class=\"partie\" id=\"partie-{id}\"")),
            "« {title} » is a section the link reaches"
        );
        last = heading;
    }
    // Each field in its section.
    let (projet, territoires, budget, pieces) = (
        at(&html, "id=\"partie-projet\""),
        at(&html, "id=\"partie-territoires\""),
        at(&html, "id=\"partie-budget\""),
        at(&html, "id=\"partie-pieces\""),
    );
    let title = at(&html, "id=\"champ-project-title\"");
    assert!(projet < title && title < territoires);
    let description = at(&html, "id=\"champ-project-description\"");
    assert!(
        projet < description && description < territoires,
        "the description is asked"
    );
    assert!(
        html.contains("id=\"champ-project-indicators\""),
        "and the indicators"
    );
    let communes = at(&html, "id=\"champ-project-communes\"");
    assert!(territoires < communes && communes < budget);
    let amount = at(&html, "id=\"champ-project-requested_amount\"");
    assert!(budget < amount && amount < pieces);
    assert!(
        at(&html, "id=\"piece-rib\"") > pieces,
        "pieces in their section"
    );
}

#[tokio::test]
async fn a_conditional_field_says_what_it_depends_on_for_the_script_to_show_it() {
    let env = Env::new(OPEN).await;
    let mut b = signed_in(&env).await;
    let html = b.get(&page()).await.text;
    // The field's wrapper carries the condition: the commune of a CCAS, the date of an
    // association's declaration, the ESUS approval of a company.
    for (id, values) in [
        ("champ-applicant-commune", "ccas"),
        ("champ-applicant-registered_on", "association"),
    ] {
        let at_field = at(&html, &format!("<label for=\"{id}\""));
        let wrapper = &html[html[..at_field].rfind("<div").unwrap()..at_field];
        assert!(
            wrapper.contains("data-visible-when=\"f.applicant.kind\"")
                && wrapper.contains(&format!("data-visible-values=\"{values}\"")),
            "{id}: {wrapper}"
        );
    }
    let esus = tag_of(&html, "champ-applicant-esus_approved");
    assert!(
        esus.contains("data-visible-when=\"f.applicant.kind\"")
            && esus.contains("data-visible-values=\"entreprise_ess\""),
        "{esus}"
    );
    // A piece asked only of some applicants, too.
    let at_piece = at(&html, "<label for=\"piece-statuts\"");
    let wrapper = &html[html[..at_piece].rfind("<div").unwrap()..at_piece];
    assert!(
        wrapper.contains("data-visible-values=\"association entreprise_ess\""),
        "{wrapper}"
    );
    // A field always asked has no condition.
    let at_title = at(&html, "<label for=\"champ-project-title\"");
    let wrapper = &html[html[..at_title].rfind("<div").unwrap()..at_title];
    assert!(!wrapper.contains("data-visible-when"), "{wrapper}");
    // The commune of a CCAS is chosen by name too, grouped by council; the code is sent.
    let select = &html[at(&html, "<select id=\"champ-applicant-commune\"")..];
    let select = &select[..select.find("</select>").unwrap()];
    assert!(select.contains("<optgroup label=\"Conseil de territoire Pays d'Aix\">"));
    assert!(select.contains("<option value=\"13117\">Vitrolles</option>"));
}

#[tokio::test]
async fn communes_are_chosen_by_name_grouped_by_council_and_sent_as_codes() {
    let env = Env::new(OPEN).await;
    let mut b = signed_in(&env).await;
    let html = b.get(&page()).await.text;
    assert!(
        !html.contains("INSEE"),
        "the page never speaks of INSEE codes"
    );
    assert!(!html.contains("multiple"), "no Ctrl-click list");
    let field = &html[at(&html, "id=\"champ-project-communes\"")..];
    let field = &field[..field.find("</fieldset>\n").unwrap_or(field.len())];
    assert!(field.contains("<legend>Communes où se déroule l'action</legend>"));
    // A group per conseil de territoire, folded, with its communes by name.
    let aix = at(field, "<summary>Conseil de territoire Pays d'Aix");
    let marseille = at(field, "<summary>Conseil de territoire Marseille Provence");
    let vitrolles = at(
        field,
        "<input type=\"checkbox\" name=\"f.project.communes\" value=\"13117\" data-group",
    );
    assert!(aix < vitrolles, "Vitrolles is in the Pays d'Aix");
    assert!(
        field[vitrolles..]
            .trim_start_matches(|c| c != '>')
            .starts_with("> Vitrolles</label>"),
        "the box is labelled by the commune's name"
    );
    assert!(marseille < aix || vitrolles < marseille);
    assert_eq!(
        field.matches("<details class=\"conseil\"").count(),
        6,
        "six councils"
    );
    assert_eq!(
        field.matches("name=\"f.project.communes\"").count(),
        92,
        "92 communes"
    );
    assert!(field.contains("Rechercher une commune par son nom"));
    // Posting names' boxes sends the codes, which the file keeps.
    let r = b.post_files(&page(), &page(), &valid_fields(), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap().to_string();
    let id = to
        .trim_start_matches("/dossiers/")
        .split('?')
        .next()
        .unwrap();
    let user = metroplan_server::accounts::find_by_email(&env.db, "a@example.org")
        .await
        .unwrap()
        .unwrap();
    let token = tokens::create_for_user(&env.db, &user, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let view = env.get(&format!("/api/applications/{id}"), &token).await;
    assert_eq!(
        view.body["data"]["project"]["communes"],
        serde_json::json!(["13117", "13001"])
    );
    // A draft opened again shows the boxes ticked, in their groups unfolded.
    let html = b.get(&to).await.text;
    assert!(html.contains("value=\"13117\" checked"), "{}", &html[..200]);
    assert!(html.contains("Communes choisies\u{a0}: Aix-en-Provence et Vitrolles."));
}

#[tokio::test]
async fn the_call_year_and_the_accounts_siret_are_shown_as_text_and_kept() {
    let env = Env::new(OPEN).await;
    let mut b = signed_in(&env).await;
    let html = b.get(&page()).await.text;
    assert!(
        html.contains("Année de l'appel à projets\u{a0}: </span><strong>2021</strong>"),
        "the year is text"
    );
    assert!(
        html.contains(
            "SIRET du porteur (14 chiffres)\u{a0}: </span><strong>812 345 678 00019</strong>"
        ),
        "the account's SIRET is text"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"f.call\" value=\"2021\">"));
    assert!(
        !html.contains("id=\"champ-call\" type"),
        "no control for the year"
    );
    assert!(
        !html.contains("name=\"f.applicant.siret\" type=\"text\""),
        "no control for the SIRET"
    );
    // Whatever the page sends, the call is the one open and the SIRET the account's.
    let mut fields = valid_fields();
    fields.push(("f.call", "2030"));
    fields.push(("f.applicant.siret", "81234567800027"));
    let r = b.post_files(&page(), &page(), &fields, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap().to_string();
    let html = b.get(&to).await.text;
    assert!(html.contains("812 345 678 00019") || html.contains("81234567800019"));
    assert!(
        !html.contains("81234567800027"),
        "the other SIRET was not kept"
    );
    assert!(!html.contains("2030"), "nor the other year");
}

#[tokio::test]
async fn a_refused_form_lists_its_errors_with_links_and_keeps_what_was_typed_and_sent() {
    let env = Env::new(OPEN).await;
    let mut b = signed_in(&env).await;
    let mut fields = valid_fields();
    fields.retain(|(k, _)| *k != "f.project.requested_amount" && *k != "f.project.title");
    fields.push(("f.project.requested_amount", "beaucoup"));
    fields.push(("f.project.title", "Ateliers de la Cité"));
    let r = b
        .post_files(
            &page(),
            &page(),
            &fields,
            &[("piece.rib", "rib-association.pdf", PDF)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let html = &r.text;
    assert!(
        html.contains("<title>Erreur\u{a0}: Nouveau dossier"),
        "the title says so"
    );
    let summary = tag_of(html, "resume-erreurs");
    assert!(
        summary.contains("role=\"alert\"")
            && summary.contains("tabindex=\"-1\"")
            && summary.contains("autofocus"),
        "{summary}"
    );
    let main = at(html, "<main");
    assert!(at(html, "id=\"resume-erreurs\"") > main);
    assert!(
        at(html, "id=\"resume-erreurs\"") < at(html, "<form class=\"formulaire\""),
        "the summary comes first"
    );
    assert!(html.contains("<h2>Le formulaire contient 1 erreur</h2>"));
    assert!(html.contains(
        "<a href=\"#champ-project-requested_amount\">Montant demandé au fonds (€)\u{a0}: Indiquez un montant"
    ));
    // The field: its message beside it, described by it, and what was typed.
    let input = tag_of(html, "champ-project-requested_amount");
    assert!(input.contains("value=\"beaucoup\""), "{input}");
    assert!(input.contains("aria-invalid=\"true\""), "{input}");
    assert!(
        input.contains("champ-project-requested_amount-erreur"),
        "{input}"
    );
    assert!(html.contains("id=\"champ-project-requested_amount-erreur\""));
    // Everything else typed comes back.
    assert!(tag_of(html, "champ-project-title").contains("value=\"Ateliers de la Cité\""));
    assert!(tag_of(html, "champ-project-total_cost").contains("value=\"16 000\""));
    assert!(html.contains("value=\"13117\" checked"));
    assert!(html.contains("value=\"oui\" checked"));
    assert!(
        html.contains("<option value=\"association\" selected>"),
        "the choice is kept"
    );
    // The file sent is kept as a piece of a draft; the page says so next to its input.
    assert!(
        html.contains("Déjà fourni\u{a0}: <strong>rib-association.pdf</strong>"),
        "{}",
        &html[at(html, "id=\"partie-pieces\"")..]
    );
    let draft = html
        .split("name=\"brouillon\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the draft that keeps the pieces")
        .to_string();
    let user = metroplan_server::accounts::find_by_email(&env.db, "a@example.org")
        .await
        .unwrap()
        .unwrap();
    let token = tokens::create_for_user(&env.db, &user, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let view = env.get(&format!("/api/applications/{draft}"), &token).await;
    assert_eq!(view.body["state"], "brouillon", "{}", view.body);
    assert_eq!(view.body["documents"][0]["kind"], "rib", "{}", view.body);
    // Corrected, the same draft takes the data: one file, with its piece.
    let mut fixed = valid_fields();
    fixed.push(("brouillon", draft.as_str()));
    let r = b.post_files(&page(), &page(), &fixed, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    assert!(to.starts_with(&format!("/dossiers/{draft}")), "{to}");
    let view = env.get(&format!("/api/applications/{draft}"), &token).await;
    assert_eq!(view.body["data"]["project"]["requested_amount"], "8000");
    assert_eq!(view.body["documents"][0]["kind"], "rib");
    let list = env.get("/api/applications", &token).await;
    assert_eq!(
        list.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        list.body
    );
}
