//! The L312-1-3 publication (`metroplan publish-rules`, the public algorithm page): complete
//! (authority and contact, date, call calendar, territorial reference) and written for people
//! (French names for types, conditions with the form's labels, no server path, internal names
//! and the rules' hash only in the technical annex). One test per finding of issue 17.

use std::path::{Path, PathBuf};

use jiff::civil::{Date, date};
use metroplan_engine::rules::publish::Publication;
use metroplan_engine::{DirSource, Plan, load};

fn plan_dir(name: &str) -> PathBuf {
    // Absolute, as a server holds it: none of it may reach the publication.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plans")
        .join(name)
        .canonicalize()
        .expect("plan directory")
}

fn plan(name: &str) -> Plan {
    load(&DirSource::new(plan_dir(name))).plan.expect("plan")
}

const ON: Date = date(2021, 3, 1);

fn markdown(plan: &Plan, fund: &str) -> String {
    Publication::new(plan, plan.fund(fund).expect("fund"), ON)
        .expect("compiled rules")
        .markdown()
}

/// The text before the technical annex: what a person reads.
fn text(md: &str) -> &str {
    md.split("## Annexe technique").next().unwrap()
}

#[test]
fn publication_shows_no_server_path() {
    for (name, fund) in [
        ("amp-pmlcd", "fonds-initiative"),
        ("lyon-pama", "aide-velo"),
    ] {
        let p = plan(name);
        let md = markdown(&p, fund);
        let dir = plan_dir(name);
        assert!(
            !md.contains(dir.to_str().unwrap()),
            "{name}: the plan's directory"
        );
        assert!(!md.contains(&format!("plans/{name}")), "{name}: a path");
        assert!(!md.contains("rules/"), "{name}: the script's path");
        let f = p.fund(fund).unwrap();
        let script = f.rules.file_name().unwrap().to_str().unwrap();
        assert!(
            md.contains(&format!("Script `{script}` :")),
            "{name}: the script by its name, in the annex"
        );
    }
}

#[test]
fn publication_names_types_in_french() {
    let p = plan("amp-pmlcd");
    let md = markdown(&p, "fonds-initiative");
    let text = text(&md);
    for internal in [
        "| boolean |",
        "| money |",
        "| integer |",
        "| communes |",
        "| choice |",
        "| choices |",
        "| siret |",
        "| text |",
        "| documents |",
    ] {
        assert!(!text.contains(internal), "{internal}");
    }
    for (label, ty) in [
        ("Titulaire de l'agrément ESUS", "oui ou non"),
        ("Coût total du projet (€)", "montant en euros"),
        ("Date de dépôt", "date"),
        ("Année de l'appel à projets", "nombre entier"),
        ("Communes où se déroule l'action", "liste de communes"),
        (
            "SIRET du porteur (14 chiffres)",
            "numéro SIRET (14 chiffres)",
        ),
    ] {
        assert!(text.contains(&format!("| {label} | {ty} |")), "{label}");
    }
    assert!(
        text.contains("| Nature juridique du porteur | un choix parmi : Association loi 1901, "),
        "a choice field lists its choices by their labels"
    );
}

#[test]
fn publication_states_conditions_with_the_forms_labels() {
    let p = plan("amp-pmlcd");
    let md = markdown(&p, "fonds-initiative");
    let text = text(&md);
    assert!(
        !text.contains("obligatoire si applicant"),
        "no `field vaut id`"
    );
    assert!(!text.contains(" vaut association"), "no `field vaut id`");
    assert!(!text.contains("applicant.kind"), "no field path");
    assert!(!text.contains("entreprise_ess"), "no choice id");
    assert!(
        text.contains(
            "obligatoire si « Nature juridique du porteur » est « Entreprise de l'économie sociale et solidaire »"
        ),
        "{text}"
    );
}

#[test]
fn publication_has_call_calendar_territorial_reference_and_authority() {
    let p = plan("amp-pmlcd");
    let md = markdown(&p, "fonds-initiative");
    let text = text(&md);
    // The authority, its service and a contact.
    for needle in [
        "Autorité responsable : Métropole Aix-Marseille-Provence (SIRET 20005480700017)",
        "Service instructeur : Direction de la cohésion sociale",
        "Courriel : fonds-discriminations@ampmetropole.fr",
        "Adresse : Le Pharo, 58 boulevard Charles Livon, 13007 Marseille",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    // Every call window of the fund.
    for year in 2020..=2025 {
        assert!(
            text.contains(&format!(
                "- Appel {year} : du 1er février au 31 mars {year}"
            )),
            "call {year}"
        );
    }
    // Which councils and communes have a PLCD, and which council each commune belongs to.
    assert!(text.contains("### Plan local de lutte contre les discriminations"));
    assert!(text.contains("- Conseils de territoire : Conseil de territoire Pays de Martigues"));
    assert!(text.contains("- Communes : La Ciotat, Miramas, Salon-de-Provence, Vitrolles"));
    let vitrolles = text
        .lines()
        .find(|l| l.starts_with("| Vitrolles |"))
        .expect("Vitrolles in the communes' table");
    assert!(
        vitrolles.starts_with("| Vitrolles | 13117 | Conseil de territoire Pays d'Aix | oui |"),
        "{vitrolles}"
    );
    let martigues = text
        .lines()
        .find(|l| l.starts_with("| Martigues |"))
        .expect("Martigues");
    assert!(
        martigues.contains("| par Conseil de territoire Pays de Martigues |"),
        "a commune has its council's PLCD, as the rules read it: {martigues}"
    );
    let communes = text
        .lines()
        .skip_while(|l| !l.starts_with("### Communes membres"))
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| {
            l.starts_with("| ") && !l.starts_with("| Commune |") && !l.starts_with("| --- ")
        })
        .count();
    assert_eq!(communes, 92, "every member commune");
}

#[test]
fn publication_is_dated_by_the_caller() {
    let p = plan("amp-pmlcd");
    let md = markdown(&p, "fonds-initiative");
    assert!(md.contains("Publié le 1er mars 2021."), "{}", text(&md));
    assert!(md.contains("| Critère | Points au 1er mars 2021 | Appréciation |"));
    assert!(!md.contains("2020-01-01"), "no ISO date");
    assert!(md.contains("| 10\u{202f}000\u{a0}€ | du 1er janvier 2020 au 31 décembre 2021 |"));
}

#[test]
fn publication_keeps_internal_names_and_the_hash_in_the_technical_annex() {
    let p = plan("amp-pmlcd");
    let f = p.fund("fonds-initiative").unwrap();
    let rules = f.ruleset.as_ref().unwrap();
    let md = markdown(&p, "fonds-initiative");
    let (text, annex) = md.split_once("## Annexe technique").unwrap();
    assert!(!text.contains("sha256"), "no hash in the text");
    assert!(annex.contains(&rules.hash), "the version, in the annex");
    for d in &rules.declarations {
        assert!(!text.contains(&d.id), "rule id {}", d.id);
        if !matches!(d.kind, metroplan_engine::rules::DeclKind::Grid) {
            assert!(annex.contains(&d.id), "rule id {} in the annex", d.id);
        }
    }
    // Parameter names with a separator (a bare word such as `plafond` is also French).
    for param in f.parameters.iter().filter(|p| p.id.as_str().contains('-')) {
        assert!(!text.contains(param.id.as_str()), "parameter {}", param.id);
    }
    for field in &f.form.fields {
        if field.path.contains('.') || field.path.contains('_') {
            assert!(!text.contains(&field.path), "field {}", field.path);
        }
    }
    for d in f
        .form
        .documents
        .iter()
        .filter(|d| d.id.as_str().contains('_'))
    {
        assert!(!text.contains(d.id.as_str()), "document {}", d.id);
    }
}

#[test]
fn publication_markdown_and_html_are_one_document() {
    let p = plan("amp-pmlcd");
    let publication = Publication::new(&p, p.fund("fonds-initiative").unwrap(), ON).unwrap();
    let html = publication.html();
    assert!(html.starts_with("<!doctype html>\n<html lang=\"fr\">"));
    for needle in [
        "<li>Appel 2021 : du 1er février au 31 mars 2021</li>",
        "<h2>Référentiel territorial</h2>",
        "<h2>Autorité responsable et contact</h2>",
        "<td>oui ou non</td>",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
}

#[test]
fn publication_markdown_of_the_demonstration_fund() {
    let p = plan("amp-pmlcd");
    insta::assert_snapshot!(
        "publication-fonds-initiative",
        markdown(&p, "fonds-initiative")
    );
}

#[test]
fn publication_markdown_of_the_bike_aid() {
    let p = plan("lyon-pama");
    insta::assert_snapshot!("publication-aide-velo", markdown(&p, "aide-velo"));
}
