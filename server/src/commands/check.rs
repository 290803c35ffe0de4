//! `metroplan check`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use metroplan_engine::{Code, Severity};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan directory (the one holding plan.toml).
    pub plan_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: error[CODE]: message` with the source line and a caret.
    Text,
    /// One JSON document: the diagnostics with file, line, column, code, message and suggestions.
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.plan_dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.plan_dir.display());
    }
    let mut loaded = metroplan_engine::load_dir(&args.plan_dir);
    // The funds' rule tests (E026), once the plan has loaded.
    if let Some(plan) = &loaded.plan {
        let source = metroplan_engine::DirSource::new(&args.plan_dir);
        let found = metroplan_engine::rules::cases::check_plan(plan, &source, &mut loaded.sources);
        loaded.diagnostics.extend(found);
    }
    let unreadable = loaded
        .diagnostics
        .iter()
        .any(|d| d.code == Code::Include && d.loc.is_none());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Text => {
            for d in &loaded.diagnostics {
                writeln!(out, "{}", loaded.sources.render(d))?;
            }
            let (e, w) = (loaded.errors(), loaded.warnings());
            match &loaded.plan {
                Some(plan) if e == 0 => writeln!(
                    out,
                    "{}: plan `{}` is valid ({} axes, {} actions and milestones, {} partners, {} territories, {} funds, {} workflows; {w} warning{})",
                    args.plan_dir.display(),
                    plan.id,
                    plan.axes.len(),
                    plan.actions.len(),
                    plan.partners.len(),
                    plan.territories.len(),
                    plan.funds.len(),
                    plan.workflows.len(),
                    if w == 1 { "" } else { "s" },
                )?,
                _ => writeln!(
                    out,
                    "{}: {e} error{}, {w} warning{}",
                    args.plan_dir.display(),
                    if e == 1 { "" } else { "s" },
                    if w == 1 { "" } else { "s" }
                )?,
            }
        }
        Format::Json => {
            let diagnostics: Vec<_> = loaded
                .diagnostics
                .iter()
                .map(|d| loaded.sources.to_json(d))
                .collect();
            let doc = serde_json::json!({
                "plan": loaded.plan.as_ref().map(|p| p.id.to_string()),
                "valid": loaded.plan.is_some() && loaded.errors() == 0,
                "errors": loaded.errors(),
                "warnings": loaded.warnings(),
                "diagnostics": diagnostics,
            });
            serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON")?;
            writeln!(out)?;
        }
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else if loaded
        .diagnostics
        .iter()
        .any(|d| d.severity() == Severity::Error)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
