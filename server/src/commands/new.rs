//! `metroplan new`: a commented plan directory that passes `check`, `test` and `schedule` as
//! generated, to copy from rather than to start from a blank page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to create (it must not exist, or be empty).
    pub dir: PathBuf,
    /// The plan's id (default: the directory's name).
    #[arg(long)]
    pub id: Option<String>,
    /// The plan's title.
    #[arg(long, default_value = "Nouveau plan")]
    pub title: String,
    /// The year of the vote and of the first call for projects (default: this year).
    #[arg(long)]
    pub year: Option<i16>,
}

/// (path in the plan directory, template). Depth in the tree decides the schema's path.
const FILES: &[(&str, &str)] = &[
    ("plan.toml", include_str!("scaffold/plan.toml")),
    (
        "referentiels.toml",
        include_str!("scaffold/referentiels.toml"),
    ),
    ("axes.toml", include_str!("scaffold/axes.toml")),
    (
        "actions/actions.toml",
        include_str!("scaffold/actions/actions.toml"),
    ),
    (
        "funds/fonds-exemple.toml",
        include_str!("scaffold/funds/fonds-exemple.toml"),
    ),
    ("workflows.toml", include_str!("scaffold/workflows.toml")),
    (
        "rules/fonds-exemple.rhai",
        include_str!("scaffold/rules/fonds-exemple.rhai"),
    ),
    (
        "rules/fonds-exemple/tests/01-exemple.toml",
        include_str!("scaffold/rules/fonds-exemple/tests/01-exemple.toml"),
    ),
    // The pages an authority publishes (W006 without them), to complete.
    (
        "pages/mentions-legales.md",
        include_str!("scaffold/pages/mentions-legales.md"),
    ),
    (
        "pages/accessibilite.md",
        include_str!("scaffold/pages/accessibilite.md"),
    ),
    (
        "pages/donnees-personnelles.md",
        include_str!("scaffold/pages/donnees-personnelles.md"),
    ),
    ("pages/aide.md", include_str!("scaffold/pages/aide.md")),
];

/// An id as plan files accept it: lowercase letters, digits and single hyphens.
fn id_from(name: &str) -> String {
    let mut id = String::new();
    for c in name.to_lowercase().chars() {
        let c = match c {
            'a'..='z' | '0'..='9' => c,
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            _ => '-',
        };
        if !(c == '-' && (id.is_empty() || id.ends_with('-'))) {
            id.push(c);
        }
    }
    let id = id.trim_end_matches('-').to_string();
    if id.is_empty() {
        "nouveau-plan".into()
    } else {
        id
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("{}", dir.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} exists and is not empty: give a new directory",
            dir.display()
        );
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = match args.id {
        Some(id) => id,
        None => id_from(&name),
    };
    if id != id_from(&id) {
        anyhow::bail!(
            "--id `{id}`: use lowercase letters, digits and hyphens (e.g. `{}`)",
            id_from(&id)
        );
    }
    let year = args
        .year
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date().year());
    // In a directory of plans that shares the schemas (like this repository's `plans/`), the
    // files point at them; elsewhere the plan gets its own copies.
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let shared = parent.join("plan.schema.json").is_file();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if !shared {
        std::fs::write(
            dir.join("plan.schema.json"),
            metroplan_engine::schema::plan_file_schema_text(),
        )?;
        std::fs::write(
            dir.join("rule-test.schema.json"),
            metroplan_engine::schema::rule_test_schema_text(),
        )?;
    }
    let shown = dir.display().to_string();
    for (path, template) in FILES {
        let depth = path.matches('/').count() + usize::from(shared);
        let up = "../".repeat(depth);
        let text = template
            .replace("{{SCHEMA}}", &format!("{up}plan.schema.json"))
            .replace("{{TEST_SCHEMA}}", &format!("{up}rule-test.schema.json"))
            .replace("{{DIR}}", &shown)
            .replace("{{ID}}", &id)
            .replace("{{TITLE}}", &args.title.replace('"', "'"))
            .replace("{{START}}", &format!("{year}-01-02"))
            .replace("{{FIRST_DAY}}", &format!("{year}-01-05"))
            .replace("{{HORIZON}}", &format!("{}-12-31", year + 3))
            .replace("{{YEAR}}", &year.to_string())
            .replace("{{LAST_YEAR}}", &(year + 3).to_string());
        let target = dir.join(path);
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    eprintln!(
        "metroplan: plan `{id}` created in {shown}; next: metroplan check {shown} && metroplan test {shown} && metroplan schedule {shown}"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::id_from;

    #[test]
    fn ids_come_from_directory_names() {
        assert_eq!(id_from("Plan Vélo 2026"), "plan-velo-2026");
        assert_eq!(id_from("--"), "nouveau-plan");
        assert_eq!(id_from("lyon_climat"), "lyon-climat");
    }
}
