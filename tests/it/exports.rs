//! Schedule exports read back by independent parsers, and the timeline and what-if commands.

use std::collections::BTreeSet;

use crate::{run, stdout};

fn ics() -> String {
    let out = run(&["schedule", "plans/amp-pmlcd", "--format", "ics"]);
    assert_eq!(out.status.code(), Some(0));
    stdout(&out)
}

#[test]
fn icalendar_parses_back_with_stable_unique_uids() {
    let text = ics();
    assert_eq!(text, ics(), "two runs give the same bytes");
    assert!(
        text.lines().all(|l| l.len() <= 76),
        "lines are folded at 75 octets"
    );
    let unfolded = icalendar::parser::unfold(&text);
    let cal = icalendar::parser::read_calendar(&unfolded).expect("RFC 5545 parser accepts it");
    let events: Vec<_> = cal
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    let uids: Vec<String> = events
        .iter()
        .map(|e| e.find_prop("UID").expect("UID").val.to_string())
        .collect();
    let unique: BTreeSet<&String> = uids.iter().collect();
    assert_eq!(unique.len(), uids.len(), "UIDs are unique");
    assert!(uids.contains(&"atelier-elus.amp-pmlcd@metroplan".to_string()));
    for y in 2020..=2025 {
        assert!(
            uids.contains(&format!("fonds-initiative-annuel-{y}.amp-pmlcd@metroplan")),
            "call {y}"
        );
    }
    // Every dependency points at an event of the calendar.
    for e in &events {
        for p in e.properties.iter().filter(|p| p.name == "RELATED-TO") {
            assert!(
                unique.contains(&p.val.to_string()),
                "dangling RELATED-TO {}",
                p.val
            );
        }
    }
    let workshop = events
        .iter()
        .find(|e| e.find_prop("UID").unwrap().val.as_ref() == "atelier-elus.amp-pmlcd@metroplan")
        .unwrap();
    assert_eq!(
        workshop.find_prop("DTSTART").unwrap().val.as_ref(),
        "20200124"
    );
}

#[test]
fn csv_has_a_row_per_item_and_quotes_commas() {
    let out = run(&["schedule", "plans/amp-pmlcd", "--format", "csv"]);
    let text = stdout(&out);
    let rows: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(rows[0].starts_with("id,kind,axis,title,lead,early_start"));
    assert_eq!(rows.len(), 1 + 29);
    assert!(rows.iter().any(|r| r.starts_with("veille-strategique,action,metropole-ressource,\"Veille stratégique sur les actions innovantes et efficaces, nationales")));
}

#[test]
fn mermaid_has_a_section_per_axis() {
    let text = stdout(&run(&[
        "schedule",
        "plans/amp-pmlcd",
        "--format",
        "mermaid",
    ]));
    assert!(text.starts_with("gantt\n"));
    for s in [
        "section Une Métropole exemplaire",
        "section Une Métropole ressource",
        "section Conditions de réussite",
    ] {
        assert!(text.contains(s), "{s}");
    }
    assert!(
        text.contains(":milestone, label_diversite_egalite, 2021-11-25, 0d"),
        "{text}"
    );
}

#[test]
fn timeline_lists_what_happens_in_a_window() {
    let out = run(&[
        "timeline",
        "plans/amp-pmlcd",
        "--from",
        "2022-01-01",
        "--to",
        "2022-12-31",
        "--axis",
        "metropole-ressource",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("2022-02-01  2022-02-01  fonds-initiative-annuel"),
        "{text}"
    );
    assert!(
        text.contains("2022-03-16  2022-03-22  campagne-communication"),
        "{text}"
    );
    assert!(
        !text.contains("atelier-elus"),
        "other axes are filtered out"
    );
    let bad = run(&[
        "timeline",
        "plans/amp-pmlcd",
        "--from",
        "2022-01-01",
        "--to",
        "2022-12-31",
        "--axis",
        "ressource",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("metropole-ressource"));
}

#[test]
fn what_if_lists_every_item_that_moves() {
    let out = run(&[
        "what-if",
        "plans/amp-pmlcd",
        "plan-formation",
        "--slip",
        "60",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved: Vec<&str> = doc["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        moved,
        [
            "plan-formation",
            "candidature-labels",
            "label-diversite-egalite"
        ]
    );
    assert!(
        doc["moves"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["days"].as_i64().unwrap() >= 60)
    );
    assert!(doc["broken_deadlines"].as_array().unwrap().is_empty());
}

#[test]
fn svg_gantt_is_well_formed_with_a_mark_per_item_and_a_today_line() {
    let out = run(&[
        "schedule",
        "plans/amp-pmlcd",
        "--format",
        "svg",
        "--as-of",
        "2021-06-15",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("role"), Some("img"));
    let title = root
        .children()
        .find(|n| n.has_tag_name("title"))
        .expect("a title for screen readers");
    assert!(title.text().unwrap().contains("Plan métropolitain"));
    let items: Vec<_> = doc
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.starts_with("element"))
        })
        .collect();
    assert_eq!(items.len(), 29, "one group per item");
    // Milestones are diamonds, the fund call has one mark per year.
    let label = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("item-label-diversite-egalite"))
        .unwrap();
    assert!(label.children().any(|c| c.has_tag_name("polygon")));
    let call = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("item-fonds-initiative-annuel"))
        .unwrap();
    assert_eq!(
        call.children().filter(|c| c.has_tag_name("rect")).count(),
        6
    );
    assert!(
        doc.descendants()
            .any(|n| n.attribute("class") == Some("aujourdhui")),
        "today line"
    );
    let arrows = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("marker-end").is_some())
        .count();
    let plan = metroplan_engine::load_dir(crate::repo().join("plans/amp-pmlcd"))
        .plan
        .unwrap();
    let deps: usize = plan.actions.iter().map(|a| a.depends_on.len()).sum();
    assert_eq!(arrows, deps, "one arrow per dependency");
}

fn ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect()
}

#[test]
fn timeline_upstream_lists_what_must_finish_before_the_label() {
    let out = run(&[
        "timeline",
        "plans/amp-pmlcd",
        "--upstream",
        "label-diversite-egalite",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        ids(&stdout(&out)),
        [
            "adoption-plan",
            "atelier-elus",
            "guide-bonnes-pratiques",
            "plan-formation",
            "candidature-labels"
        ]
    );
}

#[test]
fn timeline_downstream_lists_what_an_item_unblocks() {
    let out = run(&[
        "timeline",
        "plans/amp-pmlcd",
        "--downstream",
        "etat-des-lieux",
    ]);
    let got = ids(&stdout(&out));
    for id in [
        "veille-strategique",
        "boite-a-outils",
        "ouverture-espace-ressources",
        "formation-externe",
    ] {
        assert!(got.contains(&id.to_string()), "{id} in {got:?}");
    }
    assert!(!got.contains(&"etat-des-lieux".to_string()));
}

#[test]
fn timeline_next_gives_what_comes_after_a_day_deterministically() {
    let args = [
        "timeline",
        "plans/amp-pmlcd",
        "--next",
        "3",
        "--as-of",
        "2023-03-01",
    ];
    let first = stdout(&run(&args));
    assert_eq!(
        ids(&first),
        ["campagne-communication", "interviews-elus", "temps-forts"]
    );
    assert_eq!(first, stdout(&run(&args)), "same input, same output");
}

#[test]
fn timeline_filters_by_partner_and_territory() {
    let out = run(&["timeline", "plans/amp-pmlcd", "--partner", "cnfpt"]);
    assert_eq!(ids(&stdout(&out)), ["plan-formation", "formation-externe"]);
    // A commune of a council with a local plan is concerned by the support to local plans,
    // and by everything planned for the whole area.
    let out = run(&["timeline", "plans/amp-pmlcd", "--territory", "miramas"]);
    let got = ids(&stdout(&out));
    assert!(got.contains(&"appui-plcd-locaux".to_string()), "{got:?}");
    assert!(
        got.contains(&"atelier-elus".to_string()),
        "area-wide items concern every commune"
    );
    let out = run(&[
        "timeline",
        "plans/amp-pmlcd",
        "--territory",
        "ct-pays-de-martigues",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-31",
    ]);
    assert!(ids(&stdout(&out)).contains(&"appui-plcd-locaux".to_string()));
}
