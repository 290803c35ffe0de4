//! Synthetic plans of any size, for benchmarks and load tests. Deterministic: the same
//! size gives the same text.

use std::fmt::Write as _;

use crate::plan::files::MemorySource;

/// Actions per generated file: large plans are split as people would split them.
pub const ACTIONS_PER_FILE: usize = 5_000;

/// A valid plan with `actions` actions (with dependencies, partners, territories,
/// indicators and budget lines), as files in memory.
pub fn plan(actions: usize) -> MemorySource {
    generate(actions, None)
}

/// Like [`plan`], with `deps` dependencies per action (fewer for the first actions), of the
/// finish-to-start, start-to-start and finish-to-finish types in turn, with lags.
pub fn plan_with_dependencies(actions: usize, deps: usize) -> MemorySource {
    generate(actions, Some(deps))
}

fn generate(actions: usize, deps: Option<usize>) -> MemorySource {
    let mut src = MemorySource::new(format!("synthetic-{actions}"));
    let mut root = String::from(
        r#"[plan]
id = "synthetique"
title = "Plan synthétique"
owner = "Métropole de test"
start = 2020-01-01
horizon = 2030-12-31
currency = "EUR"
locale = "fr-FR"
timezone = "Europe/Paris"
include = ["registres.toml", "actions/*.toml"]
deliberation = { date = 2019-12-19, reference = "Délibération de test" }

[calendar]
holidays = "fr"
"#,
    );
    root.push('\n');
    src.insert("plan.toml", root);

    let mut reg = String::new();
    for a in 0..5 {
        let _ = writeln!(reg, "[[axis]]\nid = \"axe-{a}\"\ntitle = \"Axe {a}\"\n");
    }
    for p in 0..50 {
        let _ = writeln!(
            reg,
            "[[partner]]\nid = \"partenaire-{p}\"\nname = \"Partenaire {p}\"\nkind = \"association\"\n"
        );
    }
    let _ = writeln!(
        reg,
        "[[territory]]\nid = \"zone\"\nname = \"Zone\"\nlevel = \"area\"\n"
    );
    for t in 0..20 {
        let _ = writeln!(
            reg,
            "[[territory]]\nid = \"commune-{t}\"\nname = \"Commune {t}\"\nlevel = \"commune\"\nparent = \"zone\"\ncode = \"{:05}\"\n",
            13000 + t
        );
    }
    src.insert("registres.toml", reg);

    let files = actions.div_ceil(ACTIONS_PER_FILE).max(1);
    for f in 0..files {
        let mut text = String::with_capacity(ACTIONS_PER_FILE * 420);
        let lo = f * ACTIONS_PER_FILE;
        let hi = ((f + 1) * ACTIONS_PER_FILE).min(actions);
        for i in lo..hi {
            let _ = writeln!(
                text,
                "[[action]]\nid = \"action-{i}\"\naxis = \"axe-{}\"\ntitle = \"Action numéro {i}\"\nlead = \"partenaire-{}\"\npartners = [\"partenaire-{}\", \"partenaire-{}\"]\nterritories = [\"commune-{}\"]\nduration = \"{}wd\"",
                i % 5,
                i % 50,
                (i * 7) % 50,
                (i * 13) % 50,
                i % 20,
                1 + i % 40,
            );
            if let Some(deps) = deps {
                let mut on: Vec<usize> = Vec::new();
                for k in 0..deps.min(i) {
                    let window = i.min(50 * (k + 1));
                    let mut p = i - 1 - (i * (31 + 17 * k)) % window;
                    // Distinct predecessors: step back to the next one not taken.
                    while on.contains(&p) && p > 0 {
                        p -= 1;
                    }
                    if !on.contains(&p) {
                        on.push(p);
                    }
                }
                if !on.is_empty() {
                    let links: Vec<String> = on
                        .iter()
                        .enumerate()
                        .map(|(k, p)| match k % 3 {
                            0 => format!("{{ on = \"action-{p}\" }}"),
                            1 => format!("{{ on = \"action-{p}\", type = \"start-to-start\", lag = \"2wd\" }}"),
                            _ => format!("{{ on = \"action-{p}\", type = \"finish-to-finish\", lag = \"1wd\" }}"),
                        })
                        .collect();
                    let _ = writeln!(text, "depends_on = [{}]", links.join(", "));
                }
            } else if i > 0 {
                // Each action depends on one or two earlier ones: a long, branching DAG.
                let a = i - 1 - (i * 31) % i.min(50);
                if i % 3 == 0 && i > 1 {
                    let b = i - 1 - (i * 17) % i.min(200);
                    let _ = writeln!(
                        text,
                        "depends_on = [{{ on = \"action-{a}\" }}, {{ on = \"action-{b}\", type = \"start-to-start\", lag = \"2wd\" }}]"
                    );
                } else {
                    let _ = writeln!(text, "depends_on = [{{ on = \"action-{a}\" }}]");
                }
            }
            if i % 10 == 0 {
                let _ = writeln!(
                    text,
                    "indicator = [{{ id = \"realise\", label = \"Réalisé\", target = 1 }}]"
                );
                let _ = writeln!(
                    text,
                    "budget_line = [{{ year = 2021, amount = \"10.50\", label = \"Frais\" }}]"
                );
            }
            text.push('\n');
        }
        src.insert(format!("actions/actions-{f:03}.toml"), text);
    }
    src
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_plans_with_three_dependencies_are_valid() {
        let loaded = crate::load(&super::plan_with_dependencies(3_000, 3));
        assert_eq!(loaded.errors(), 0);
        let plan = loaded.plan.expect("valid");
        assert!(plan.actions.iter().skip(3).all(|a| a.depends_on.len() == 3));
    }

    #[test]
    fn synthetic_plans_are_valid() {
        let loaded = crate::load(&super::plan(12_000));
        let text: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| loaded.sources.render(d))
            .collect();
        assert_eq!(loaded.errors(), 0, "{}", text.join("\n"));
        let plan = loaded.plan.expect("valid");
        assert_eq!(plan.actions.len(), 12_000);
        assert!(
            plan.actions
                .iter()
                .skip(1)
                .all(|a| !a.depends_on.is_empty())
        );
    }
}
