//! `metroplan diagram`: a workflow as a Mermaid `stateDiagram-v2`, read from the loaded plan:
//! states with their labels, transitions with theirs, timed ones marked ⏱ with their timer,
//! the initial state from `[*]` and terminal states to `[*]`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use metroplan_engine::model::{DateOf, Timer, Wait, When, Workflow};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan directory (the one holding plan.toml).
    pub plan_dir: PathBuf,
    /// The workflow to draw (default: every workflow of the plan, one diagram each).
    #[arg(long, value_name = "ID")]
    pub workflow: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = metroplan_engine::load_dir(&args.plan_dir);
    let Some(plan) = &loaded.plan else {
        for d in &loaded.diagnostics {
            eprintln!("{}", loaded.sources.render(d));
        }
        eprintln!(
            "metroplan diagram: {} does not load: run `metroplan check {}`",
            args.plan_dir.display(),
            args.plan_dir.display()
        );
        return Ok(ExitCode::from(1));
    };
    let chosen: Vec<&Workflow> = plan
        .workflows
        .iter()
        .filter(|w| {
            args.workflow
                .as_deref()
                .is_none_or(|id| w.id.as_str() == id)
        })
        .collect();
    if chosen.is_empty() {
        let known: Vec<&str> = plan.workflows.iter().map(|w| w.id.as_str()).collect();
        eprintln!(
            "metroplan diagram: no workflow `{}` in the plan (it has: {})",
            args.workflow.unwrap_or_default(),
            known.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    let texts: Vec<String> = chosen.into_iter().map(mermaid).collect();
    print!("{}", texts.join("\n"));
    Ok(ExitCode::SUCCESS)
}

/// A Mermaid node id: letters, digits and underscores only.
fn node(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Text Mermaid shows as written: no double quote (it closes a state's label), no `;` (it
/// ends a statement) and no `#` (it starts an entity).
fn text(s: &str) -> String {
    s.replace('"', "'").replace(';', ",").replace('#', "n°")
}

fn wait(w: &Wait) -> String {
    match w {
        Wait::Span(s) => s.to_string(),
        Wait::Parameter(p) => p.to_string(),
    }
}

/// A timer in a few words: `⏱ day after deadline`, `⏱ after 2mo since en-instruction`.
pub fn timer_text(t: &Timer) -> String {
    match &t.when {
        When::At { date, plus } => {
            let date = match date {
                DateOf::Deadline => "deadline".to_string(),
                DateOf::CallCloses => "call closes".to_string(),
                DateOf::Field(f) => f.clone(),
            };
            match plus {
                Some(p) => format!("⏱ day after {date} + {}", wait(p)),
                None => format!("⏱ day after {date}"),
            }
        }
        When::After { wait: w, since } => match since {
            Some(s) => format!("⏱ after {} since {s}", wait(w)),
            None => format!("⏱ after {}", wait(w)),
        },
    }
}

/// The workflow as a Mermaid state diagram.
pub fn mermaid(wf: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "---\ntitle: {}\n---",
        text(&wf.title).replace(':', " –")
    );
    out.push_str("stateDiagram-v2\n");
    for s in &wf.states {
        let _ = writeln!(
            out,
            "    state \"{}\" as {}",
            text(&s.label),
            node(s.id.as_str())
        );
    }
    let _ = writeln!(out, "    [*] --> {}", node(wf.initial.as_str()));
    for t in &wf.transitions {
        let label = match &t.timer {
            Some(timer) => format!("{} ({})", text(&t.label), timer_text(timer)),
            None => text(&t.label),
        };
        for from in &t.from {
            let _ = writeln!(
                out,
                "    {} --> {} : {label}",
                node(from.as_str()),
                node(t.to.as_str())
            );
        }
    }
    for s in wf.states.iter().filter(|s| s.terminal) {
        let _ = writeln!(out, "    {} --> [*]", node(s.id.as_str()));
    }
    out
}
