//! `metroplan diff`: what changed between two versions of a plan, for a council's review.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use metroplan_engine::diff::{PlanDiff, diff};
use metroplan_engine::rules::explain::amount_fr;
use serde_json::Value;

use super::schedule::PlanHasErrors;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan as it is (the version in force).
    pub old: PathBuf,
    /// The plan as proposed.
    pub new: PathBuf,
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text")]
    pub format: String,
}

fn load(dir: &PathBuf) -> anyhow::Result<metroplan_engine::Plan> {
    let loaded = metroplan_engine::load_dir(dir);
    if loaded.errors() > 0 {
        for d in &loaded.diagnostics {
            eprintln!("{}", loaded.sources.render(d));
        }
        eprintln!(
            "metroplan: {} has errors: a diff compares valid plans",
            dir.display()
        );
        return Err(PlanHasErrors.into());
    }
    loaded
        .plan
        .ok_or_else(|| anyhow::anyhow!("{}: no plan", dir.display()))
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn euros(d: Option<rust_decimal::Decimal>) -> String {
    d.map_or_else(|| "—".into(), |d| amount_fr(d).replace('\u{202f}', " "))
}

pub fn text(d: &PlanDiff) -> String {
    let mut o = String::new();
    if d.is_empty() {
        let _ = writeln!(o, "No change.");
        return o;
    }
    if !d.added.is_empty() {
        let _ = writeln!(o, "Actions added ({}):", d.added.len());
        for a in &d.added {
            let _ = writeln!(o, "  + {}  {}", a.id, a.title);
        }
    }
    if !d.removed.is_empty() {
        let _ = writeln!(o, "Actions removed ({}):", d.removed.len());
        for a in &d.removed {
            let _ = writeln!(o, "  - {}  {}", a.id, a.title);
        }
    }
    if !d.changed.is_empty() {
        let _ = writeln!(o, "Actions changed ({}):", d.changed.len());
        for a in &d.changed {
            let _ = writeln!(o, "  ~ {}  {}", a.id, a.title);
            for c in &a.changes {
                let _ = writeln!(
                    o,
                    "      {}: {} -> {}",
                    c.field,
                    shown(&c.old),
                    shown(&c.new)
                );
            }
        }
    }
    if !d.dependencies.is_empty() {
        let _ = writeln!(o, "Dependencies:");
        for c in &d.dependencies {
            let sign = if c.change == "added" { '+' } else { '-' };
            let _ = writeln!(o, "  {sign} {} after {} ({})", c.action, c.on, c.detail);
        }
    }
    if !d.parameters.is_empty() {
        let _ = writeln!(o, "Parameters and envelopes:");
        for p in &d.parameters {
            let period = |u: Option<jiff::civil::Date>| {
                u.map_or_else(|| "open-ended".to_string(), |u| format!("until {u}"))
            };
            let _ = writeln!(
                o,
                "  {} {}.{} from {}: {} ({}) -> {} ({})",
                match p.change {
                    "added" => '+',
                    "removed" => '-',
                    _ => '~',
                },
                p.fund,
                p.parameter,
                p.from,
                euros(p.old),
                period(p.until_old),
                euros(p.new),
                period(p.until_new)
            );
        }
    }
    if !d.budget.is_empty() {
        let _ = writeln!(o, "Budget by year:");
        for b in &d.budget {
            let mut parts = Vec::new();
            if b.allocated_old != b.allocated_new {
                parts.push(format!(
                    "allocated {} -> {}",
                    euros(Some(b.allocated_old)),
                    euros(Some(b.allocated_new))
                ));
            }
            if b.annual_old != b.annual_new {
                parts.push(format!(
                    "annual budget {} -> {}",
                    euros(b.annual_old),
                    euros(b.annual_new)
                ));
            }
            let _ = writeln!(o, "  {}: {}", b.year, parts.join("; "));
        }
    }
    let s = &d.schedule;
    let _ = writeln!(o, "Schedule:");
    let _ = writeln!(
        o,
        "  plan finishes {} -> {}{}",
        s.finish_old,
        s.finish_new,
        if s.finish_old == s.finish_new {
            " (unchanged)"
        } else {
            ""
        }
    );
    for m in &s.moves {
        let _ = writeln!(
            o,
            "  {} {}  {} -> {} ({:+} days)  {}",
            if m.milestone { "◆" } else { "·" },
            m.id,
            m.old_finish,
            m.new_finish,
            m.days,
            m.title
        );
    }
    o
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let d = diff(&old, &new);
    match args.format.as_str() {
        "text" => print!("{}", text(&d)),
        "json" => println!("{}", serde_json::to_string_pretty(&d)?),
        other => anyhow::bail!("--format {other}: use text or json"),
    }
    Ok(ExitCode::SUCCESS)
}
