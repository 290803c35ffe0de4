//! The demonstration plan against its sources in `../shared`: every commune, every action
//! of the founding document with a quote that is really in it, every rule of the fund.

use std::collections::BTreeSet;

use metroplan_engine::model::{Plan, TerritoryLevel};

use crate::repo;

fn plan() -> Plan {
    let loaded = metroplan_engine::load_dir(repo().join("plans/amp-pmlcd"));
    let text: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d))
        .collect();
    loaded
        .plan
        .unwrap_or_else(|| panic!("demo plan invalid:\n{}", text.join("\n")))
}

fn shared(path: &str) -> String {
    std::fs::read_to_string(repo().join("../shared").join(path))
        .unwrap_or_else(|e| panic!("../shared/{path}: {e}"))
}

/// Whitespace folded and Markdown emphasis removed, as quotes are written in plan files.
fn normalize(s: &str) -> String {
    s.replace("**", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_commune_of_the_metropolis_is_in_the_plan_with_its_council() {
    let plan = plan();
    let csv = shared("data/amp-communes.csv");
    let mut rows = 0;
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let (code, name, council) = (cols[0], cols[2], cols[4]);
        let t = plan
            .territories
            .iter()
            .find(|t| t.code.as_deref() == Some(code))
            .unwrap_or_else(|| panic!("commune {code} {name} missing"));
        assert_eq!(t.name, name);
        assert_eq!(t.level, TerritoryLevel::Commune);
        let parent = plan.territory(t.parent.as_ref().unwrap().as_str()).unwrap();
        assert_eq!(
            parent.name,
            format!("Conseil de territoire {council}"),
            "{name}"
        );
        rows += 1;
    }
    assert_eq!(rows, 92);
    assert_eq!(
        plan.territories
            .iter()
            .filter(|t| t.level == TerritoryLevel::Commune)
            .count(),
        92
    );
    assert_eq!(
        plan.territories
            .iter()
            .filter(|t| t.level == TerritoryLevel::Council)
            .count(),
        6
    );
}

#[test]
fn local_plans_and_officers_follow_the_founding_document() {
    let plan = plan();
    let flagged = |flag: &str| -> BTreeSet<String> {
        plan.territories
            .iter()
            .filter(|t| t.flags.iter().any(|f| f.as_str() == flag))
            .map(|t| t.id.to_string())
            .collect()
    };
    let expect = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        flagged("plcd"),
        expect(&[
            "la-ciotat",
            "vitrolles",
            "salon-de-provence",
            "miramas",
            "ct-pays-de-martigues"
        ])
    );
    assert_eq!(
        flagged("charge-de-mission"),
        expect(&["marseille", "ct-pays-de-martigues"])
    );
}

#[test]
fn every_action_of_the_seed_is_there_with_a_quote_from_the_seed() {
    let plan = plan();
    let seed = normalize(&shared("seed/000_85c631338b25550b.txt"));
    // The actions the founding document names (issue "plan language", section 5).
    let expected = [
        "atelier-elus",
        "conference-manageriale",
        "plan-formation",
        "guide-bonnes-pratiques",
        "candidature-labels",
        "label-diversite-egalite",
        "stages-3e-qpv",
        "stages-etudiants-qpv",
        "parrainage-jeunes-diplomes",
        "partenariat-dga-thematiques",
        "etat-des-lieux",
        "boite-a-outils",
        "ouverture-espace-ressources",
        "formation-externe",
        "travail-en-reseau",
        "veille-strategique",
        "fonds-initiative-annuel",
        "campagne-communication",
        "temps-forts",
        "interviews-elus",
        "co-construction",
        "appui-plcd-locaux",
        "adhesion-reseaux",
        "adoption-plan",
        "equipe-projet",
    ];
    for id in expected {
        assert!(plan.action(id).is_some(), "action {id} missing");
    }
    for a in &plan.actions {
        let source = a
            .source
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no source", a.id));
        let quote = normalize(&source.quote);
        assert!(
            seed.contains(&quote),
            "{}: quote not found in the seed: {quote}",
            a.id
        );
    }
    for item in plan
        .partners
        .iter()
        .filter_map(|p| p.source.as_ref().map(|s| (&p.id, s)))
    {
        assert!(
            seed.contains(&normalize(&item.1.quote)),
            "partner {}: quote not in the seed",
            item.0
        );
    }
    let axes: Vec<&str> = plan.axes.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(
        axes,
        [
            "Une Métropole exemplaire",
            "Une Métropole ressource",
            "Conditions de réussite"
        ]
    );
}

#[test]
fn natural_dependencies_of_the_plan_hold() {
    let plan = plan();
    let deps = |id: &str| -> Vec<String> {
        plan.action(id)
            .unwrap()
            .depends_on
            .iter()
            .map(|d| d.on_id.to_string())
            .collect()
    };
    assert!(deps("candidature-labels").contains(&"plan-formation".to_string()));
    assert!(deps("candidature-labels").contains(&"guide-bonnes-pratiques".to_string()));
    assert!(deps("plan-formation").contains(&"atelier-elus".to_string()));
    assert!(deps("fonds-initiative-annuel").contains(&"adoption-plan".to_string()));
    assert_eq!(plan.deliberation_date.to_string(), "2019-12-19");
}

#[test]
fn the_fund_follows_its_regulation() {
    let plan = plan();
    let fund = plan.fund("fonds-initiative").expect("fund");
    let at = |p: &str, day: &str| -> String {
        let d: jiff::civil::Date = day.parse().unwrap();
        let param = fund
            .parameters
            .iter()
            .find(|x| x.id.as_str() == p)
            .unwrap_or_else(|| panic!("parameter {p}"));
        param
            .values
            .at(d)
            .unwrap_or_else(|| panic!("{p} on {day}"))
            .value
            .normalize()
            .to_string()
    };
    assert_eq!(at("plafond", "2021-12-31"), "10000");
    assert_eq!(at("plafond", "2022-01-01"), "12000");
    assert_eq!(at("montant-minimum", "2020-03-01"), "1000");
    assert_eq!(at("taux-aide-maximum", "2020-03-01"), "0.8");
    assert_eq!(at("majoration-intercommunale", "2020-03-01"), "0.5");
    assert_eq!(at("delai-completion", "2020-03-01"), "15");
    assert_eq!(at("avis-minimum", "2020-03-01"), "2");
    assert_eq!(at("taux-avance", "2020-03-01"), "0.5");
    for p in &fund.parameters {
        for v in p.values.iter() {
            assert!(
                v.reference.starts_with("Article"),
                "{}: reference `{}`",
                p.id,
                v.reference
            );
        }
    }
    let years: Vec<i16> = fund.calls.iter().map(|c| c.year).collect();
    assert_eq!(years, (2020..=2025).collect::<Vec<_>>());
    assert_eq!(fund.calls[0].opens.to_string(), "2020-02-01");
    assert_eq!(fund.calls[0].closes.to_string(), "2020-03-31");
    let env = |day: &str| {
        fund.envelope
            .at(day.parse().unwrap())
            .unwrap()
            .value
            .normalize()
            .to_string()
    };
    assert_eq!(env("2021-06-01"), "30000");
    assert_eq!(env("2022-06-01"), "50000");
    let grid = fund.grid.as_ref().unwrap();
    assert_eq!(grid.criteria.len(), 6);
    assert_eq!(fund.rules.to_str(), Some("rules/fonds-initiative.rhai"));
}

#[test]
fn the_form_is_exactly_the_application_form() {
    let plan = plan();
    let fund = plan.fund("fonds-initiative").unwrap();
    let spec = shared("fonds-initiative-application.md");
    // Every enumerated value of the specification is a choice of the form.
    for set in &fund.form.choices {
        for opt in &set.options {
            assert!(
                spec.contains(&format!("`{}`", opt.id)),
                "choice {} not in the specification",
                opt.id
            );
        }
    }
    let kinds = fund
        .form
        .choices
        .iter()
        .find(|c| c.id.as_str() == "applicant-kind")
        .unwrap();
    assert_eq!(kinds.options.len(), 11);
    let criteria = fund
        .form
        .choices
        .iter()
        .find(|c| c.id.as_str() == "criteria")
        .unwrap();
    assert_eq!(criteria.options.len(), 22);
    // Every field of the example application is declared.
    for path in [
        "call",
        "submitted_on",
        "applicant.name",
        "applicant.kind",
        "applicant.siret",
        "applicant.registered_on",
        "applicant.esus_approved",
        "project.title",
        "project.purpose",
        "project.communes",
        "project.criteria",
        "project.domains",
        "project.starts_on",
        "project.ends_on",
        "project.total_cost",
        "project.requested_amount",
        "project.qpv",
        "project.economic_partner",
        "project.resident_participation",
        "documents",
    ] {
        assert!(
            fund.form.fields.iter().any(|f| f.path == path),
            "field {path} missing"
        );
    }
    let docs: Vec<&str> = fund.form.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        docs,
        [
            "budget_previsionnel",
            "rib",
            "statuts",
            "attestation_regularite",
            "deliberation"
        ]
    );
}

#[test]
fn the_workflow_covers_the_regulation() {
    let plan = plan();
    let wf = plan.workflow("instruction-fonds-initiative").unwrap();
    for t in [
        "deposer",
        "declarer-incomplet",
        "completer",
        "donner-avis",
        "attribuer",
        "refuser",
        "signer-convention",
        "verser-avance",
        "verser-solde",
        "cloturer",
        "retirer",
        "classer-sans-suite",
    ] {
        assert!(
            wf.transitions.iter().any(|x| x.id.as_str() == t),
            "transition {t} missing"
        );
    }
    let attribuer = wf
        .transitions
        .iter()
        .find(|t| t.id.as_str() == "attribuer")
        .unwrap();
    let guards: Vec<&str> = attribuer.guards.iter().map(|g| g.name()).collect();
    for g in ["within-envelope", "amount-within-ceiling"] {
        assert!(guards.contains(&g), "attribuer lacks {g}");
    }
    // Article 15: who instructs, who gives an opinion and who decides are distinct.
    for t in ["soumettre-au-comite", "donner-avis"] {
        assert!(
            attribuer.distinct_from.iter().any(|d| d.as_str() == t),
            "attribuer is not separated from {t}"
        );
    }
    assert!(
        attribuer
            .effects
            .contains(&metroplan_engine::model::MoneyEffect::Award)
    );
    assert_eq!(attribuer.role.as_str(), "elue-deleguee");
}
