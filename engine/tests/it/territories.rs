//! The territory hierarchy indexed at load (`Plan::ancestors`, `Plan::council_of`), checked
//! on both plans of the repository against a walk of the `parent` links.

use metroplan_engine::Plan;
use metroplan_engine::model::TerritoryLevel;

fn plan(name: &str) -> Plan {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plans")
        .join(name);
    metroplan_engine::load_dir(dir)
        .plan
        .expect("the repository's plans are valid")
}

/// The ancestors' ids by following `parent`, as written in the files.
fn walk(plan: &Plan, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = plan.territories.iter().find(|t| t.id.as_str() == id);
    while let Some(p) = cur.and_then(|t| t.parent.as_ref()) {
        out.push(p.to_string());
        cur = plan.territories.iter().find(|t| t.id == *p);
    }
    out
}

#[test]
fn ancestors_follow_the_parents_up_to_the_area() {
    for name in ["amp-pmlcd", "lyon-pama"] {
        let plan = plan(name);
        for t in &plan.territories {
            let ids: Vec<String> = plan
                .ancestors(t.id.as_str())
                .map(|a| a.id.to_string())
                .collect();
            assert_eq!(
                ids,
                walk(&plan, t.id.as_str()),
                "{name}: ancestors of {}",
                t.id
            );
            if t.level != TerritoryLevel::Area {
                let top = plan.ancestors(t.id.as_str()).last().expect("not the area");
                assert_eq!(
                    top.level,
                    TerritoryLevel::Area,
                    "{name}: {} ends at the area",
                    t.id
                );
            }
        }
        assert_eq!(plan.ancestors("no-such-territory").count(), 0);
    }
}

#[test]
fn council_of_a_commune_is_its_territorial_council() {
    let plan = plan("amp-pmlcd");
    let aix = plan
        .council_of("aix-en-provence")
        .expect("Aix belongs to a council");
    assert_eq!(aix.id.as_str(), "ct-pays-d-aix");
    let mut communes = 0;
    for t in plan
        .territories
        .iter()
        .filter(|t| t.level == TerritoryLevel::Commune)
    {
        communes += 1;
        let expected = walk(&plan, t.id.as_str()).into_iter().find(|p| {
            plan.territory(p)
                .is_some_and(|p| p.level == TerritoryLevel::Council)
        });
        assert_eq!(
            plan.council_of(t.id.as_str()).map(|c| c.id.to_string()),
            expected,
            "{}",
            t.id
        );
    }
    assert!(
        communes > 90,
        "the demonstration plan has every commune of the metropolis"
    );
    // A council is its own council; the area and unknown ids have none.
    assert_eq!(
        plan.council_of("ct-pays-d-aix").map(|c| c.id.as_str()),
        Some("ct-pays-d-aix")
    );
    assert!(plan.council_of("amp").is_none());
    assert!(plan.council_of("no-such-territory").is_none());
}

#[test]
fn council_of_is_none_in_a_plan_without_councils() {
    // The Lyon plan declares its area only.
    let plan = plan("lyon-pama");
    assert!(!plan.territories.is_empty());
    for t in &plan.territories {
        assert!(plan.council_of(t.id.as_str()).is_none(), "{}", t.id);
    }
}
