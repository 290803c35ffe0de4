//! `[fund.keys]`: the fields the server reads of every application, here the optional
//! `total_cost` the open-data export's `pourcentageSubvention` is computed from.

use std::path::{Path, PathBuf};

use metroplan_engine::{DirSource, MemorySource, load};

fn plans() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans")
}

/// The plan directory `name` in memory, every file as it is.
fn in_memory(name: &str) -> MemorySource {
    let root = plans().join(name);
    let mut src = MemorySource::new("p");
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let rel = p.strip_prefix(&root).unwrap().to_path_buf();
                src.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    src
}

#[test]
fn total_cost_defaults_to_the_forms_project_total_cost() {
    let plan = load(&DirSource::new(plans().join("amp-pmlcd")))
        .plan
        .unwrap();
    let keys = plan.fund("fonds-initiative").unwrap().keys.clone().unwrap();
    assert_eq!(keys.total_cost.as_deref(), Some("project.total_cost"));
}

#[test]
fn total_cost_names_a_money_field_of_the_form() {
    let plan = load(&in_memory("lyon-pama")).plan.unwrap();
    let keys = plan.fund("aide-velo").unwrap().keys.clone().unwrap();
    assert_eq!(keys.total_cost.as_deref(), Some("achat.prix_ttc"));

    let mut src = in_memory("lyon-pama");
    let fund = PathBuf::from("funds/aide-velo.toml");
    let text = src.files[&fund].replace(
        "total_cost = \"achat.prix_ttc\"",
        "total_cost = \"velo.modele\"",
    );
    src.insert(fund, text);
    let loaded = load(&src);
    let messages: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`keys.total_cost` is `velo.modele`, which is not a money field")),
        "{messages:?}"
    );
}
