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
    #[arg(long)]
    pub reference: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = if args.reference {
        super::reference::markdown()
    } else if args.rule_tests {
        metroplan_engine::schema::rule_test_schema_text()
    } else {
        metroplan_engine::schema::plan_file_schema_text()
    };
    let command = if args.reference {
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
