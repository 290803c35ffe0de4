//! The explanation as the applicant reads it: one application per fixture under
//! `tests/fixtures/explanations/`, its French text a reviewed snapshot. A fixture whose name
//! starts with `automatic-` is explained as decided without human intervention.
//!
//! What a person reads (everything before the technical section) holds no rule id, no field
//! path, no ISO date and no hash: checked here against the ruleset's own ids and the form's own
//! paths, so a new rule or field is covered without a new test.

use std::path::Path;

use metroplan_engine::rules::Context;
use metroplan_engine::rules::explain::{Stage, explain_at, text::TECHNICAL, text_fr};
use metroplan_engine::{DirSource, load};

fn fixtures() -> Vec<(String, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explanations");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 4, "the four reviewed cases are there");
    out
}

#[test]
fn each_explanation_reads_as_its_reviewed_snapshot_with_no_internal_id() {
    let plan = load(&DirSource::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans/amp-pmlcd"),
    ))
    .plan
    .expect("demo plan");
    let fund = plan.fund("fonds-initiative").unwrap();
    let rules = fund.ruleset.clone().unwrap();
    for (name, app) in fixtures() {
        let e = rules.evaluate(&app, Context::default()).unwrap();
        let stage = if name.starts_with("automatic-") {
            Stage::Decided { human: false }
        } else {
            Stage::Pending
        };
        let x = explain_at(&rules, &e, stage);
        let text = text_fr(&x, &e);
        let (personal, technical) = text.split_once(TECHNICAL).expect("a technical section");
        for d in &rules.declarations {
            assert!(
                !personal.contains(&d.id),
                "{name}: rule id `{}` in\n{personal}",
                d.id
            );
        }
        // A path of one plain word ("documents") is also a French word.
        for f in fund
            .form
            .fields
            .iter()
            .filter(|f| f.path.contains(['.', '_']))
        {
            assert!(
                !personal.contains(&f.path),
                "{name}: path `{}` in\n{personal}",
                f.path
            );
        }
        for id in fund.form.documents.iter().map(|d| d.id.as_str()) {
            assert!(
                !personal.contains(&format!("documents.{id}")),
                "{name}: `{id}`"
            );
        }
        assert!(!personal.contains("sha256") && !personal.contains(&e.ruleset));
        assert!(
            technical.contains(&e.ruleset),
            "{name}: the hash is in the technical part"
        );
        let iso = regex_lite_iso(personal);
        assert!(iso.is_none(), "{name}: ISO date {iso:?} in\n{personal}");
        assert!(!personal.contains(" true") && !personal.contains(" false"));
        insta::assert_snapshot!(format!("explanation-{name}"), text);
    }
}

/// The first `dddd-dd-dd` of a text.
fn regex_lite_iso(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        (digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10))
            .then(|| &s[i..i + 10])
    })
}

#[test]
fn an_automatic_irrecevabilite_says_no_person_took_part_and_how_to_ask_for_one() {
    let plan = load(&DirSource::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans/amp-pmlcd"),
    ))
    .plan
    .unwrap();
    let rules = plan
        .fund("fonds-initiative")
        .unwrap()
        .ruleset
        .clone()
        .unwrap();
    let app = &fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("automatic-"))
        .unwrap()
        .1;
    let e = rules.evaluate(app, Context::default()).unwrap();
    let auto = explain_at(&rules, &e, Stage::Decided { human: false });
    assert!(auto.contribution.contains("sans intervention humaine"));
    assert!(auto.notice.contains("réexamine"));
    assert!(auto.notice.contains("CADA"));
    assert!(
        auto.notice
            .contains("fonds-discriminations@ampmetropole.fr")
    );
    let human = explain_at(&rules, &e, Stage::Decided { human: true });
    assert!(
        human
            .contribution
            .contains("une personne du service a instruit")
    );
    assert!(!human.notice.contains("sans intervention humaine"));
}
