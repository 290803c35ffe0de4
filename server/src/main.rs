//! The `metroplan` executable. Errors meet `anyhow` only here, at the edge.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Loading a plan allocates many small values: with mimalloc the 100 000-action load
// took about half the time it took with glibc's allocator (README, Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// metroplan: make a public-policy plan executable.
#[derive(Debug, Parser)]
#[command(name = "metroplan", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a plan directory and report every problem with its place and a fix.
    ///
    /// Exit code 0 when the plan is valid (warnings allowed), 1 when it has errors,
    /// 2 when it cannot be read or the command line is wrong.
    Check(commands::check::Args),
    /// Create a commented plan directory (axis, actions, fund, rules, workflow) to start from.
    New(commands::new::Args),
    /// What changed between two versions of a plan: actions, dependencies, dated parameters,
    /// budget by year, and which milestones move (text or JSON).
    Diff(commands::diff::Args),
    /// Format plan files in the canonical layout, keeping comments (`--check` for CI).
    Fmt(commands::fmt::Args),
    /// Rewrite a plan's workflows from the first workflow language into v2, in place,
    /// keeping comments and layout; then load the plan and report what is left.
    ///
    /// Exit code 0 when the migrated plan loads, 1 when it has errors or the directory is
    /// not a plan (nothing written then).
    Migrate(commands::migrate::Args),
    /// Print a workflow as a Mermaid state diagram (`stateDiagram-v2`).
    Diagram(commands::diagram::Args),
    /// Print the JSON Schema of plan files (for editors and `taplo`).
    Schema(commands::schema::Args),
    /// Schedule the plan: early and late dates, floats and the critical path.
    Schedule(commands::schedule::Args),
    /// Explain why an item starts when it does: its chain of driving predecessors.
    Why(commands::schedule::WhyArgs),
    /// Items (and occurrences) in a date window, filtered by axis or lead.
    Timeline(commands::schedule::TimelineArgs),
    /// What moves, and which deadlines break, if an item slips.
    WhatIf(commands::schedule::WhatIfArgs),
    /// Print a baseline (the dates of every item now) to save in the plan directory.
    Baseline(commands::schedule::BaselineArgs),
    /// Check an application (or a batch) against a fund's rules, with the explanation owed
    /// to the applicant.
    Eligibility(commands::rules::EligibilityArgs),
    /// Run the rule tests of the plan's funds, with boundary cases and rule coverage.
    ///
    /// Exit code 1 when a case fails or a rule is not seen both passing and failing.
    Test(commands::rules::TestArgs),
    /// Write the public description of a fund's algorithm (Markdown and HTML).
    PublishRules(commands::rules::PublishArgs),
    /// Which applications change outcome under a draft script or plan, and why.
    RulesDiff(commands::rules::DiffArgs),
    /// Serve the plans and run their grant workflows over HTTP (SQLite by default).
    Serve(commands::serve::ServeArgs),
    /// Manage accounts (staff; applicants may also register on the web pages).
    #[command(subcommand)]
    User(commands::serve::UserCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(commands::serve::TokenCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Manage applicant keys (which account files under a SIRET).
    #[command(subcommand)]
    ApplicantKey(commands::applicant_key::ApplicantKeyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Fmt(args) => commands::fmt::run(args),
        Command::New(args) => commands::new::run(args),
        Command::Migrate(args) => commands::migrate::run(args),
        Command::Diagram(args) => commands::diagram::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Schedule(args) => commands::schedule::run(args),
        Command::Why(args) => commands::schedule::why(args),
        Command::Timeline(args) => commands::schedule::timeline(args),
        Command::WhatIf(args) => commands::schedule::what_if_cmd(args),
        Command::Baseline(args) => commands::schedule::baseline(args),
        Command::Eligibility(args) => commands::rules::eligibility(args),
        Command::Test(args) => commands::rules::test(args),
        Command::PublishRules(args) => commands::rules::publish(args),
        Command::RulesDiff(args) => commands::rules::diff(args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::User(cmd) => commands::serve::user(cmd),
        Command::Token(cmd) => commands::serve::token(cmd),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::ApplicantKey(cmd) => commands::applicant_key::run(cmd),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e)
            if e.downcast_ref::<commands::schedule::PlanHasErrors>()
                .is_some() =>
        {
            eprintln!("metroplan: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("metroplan: {e:#}");
            ExitCode::from(2)
        }
    }
}
