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
    /// Print the JSON Schema of plan files (for editors and `taplo`).
    Schema(commands::schema::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Schema(args) => commands::schema::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("metroplan: {e:#}");
            ExitCode::from(2)
        }
    }
}
