//! `metroplan schema`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Instead of printing, compare with this committed schema file and fail (exit 1) if it is stale.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// The schema of rule-test files (`rules/<fund>/tests/*.toml`) instead of plan files.
    #[arg(long, conflicts_with = "reference")]
    pub rule_tests: bool,
    /// The plan language reference in Markdown (`docs/plan-reference.md`) instead.
    #[arg(long, conflicts_with = "workflow_reference")]
    pub reference: bool,
    /// The workflow language reference in Markdown (`docs/workflow.md`), with the circuit of
    /// the plan in `--plan` as a diagram.
    #[arg(long, conflicts_with = "rule_tests")]
    pub workflow_reference: bool,
    /// With `--workflow-reference`: the plan whose circuit the reference draws.
    #[arg(long, value_name = "DIR", default_value = "plans/amp-pmlcd")]
    pub plan: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = if args.workflow_reference {
        super::workflow_reference::markdown(&args.plan)?
    } else if args.reference {
        super::reference::markdown()
    } else if args.rule_tests {
        metroplan_engine::schema::rule_test_schema_text()
    } else {
        metroplan_engine::schema::plan_file_schema_text()
    };
    let command = if args.workflow_reference {
        "schema --workflow-reference"
    } else if args.reference {
        "schema --reference"
    } else if args.rule_tests {
        "schema --rule-tests"
    } else {
        "schema"
    };
    match args.check {
        None => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => {
            let committed = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if committed == text {
                println!("{} is up to date", path.display());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "{} is stale: run `cargo run -p metroplan -- {command} > {}` and commit it",
                    path.display(),
                    path.display()
                );
                Ok(ExitCode::from(1))
            }
        }
    }
}
