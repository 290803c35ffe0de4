//! `cargo xtask test`: the set-up the test suite needs on a fresh Debian machine, then the
//! whole suite, on SQLite and again on PostgreSQL. `cargo xtask setup`: the set-up alone (CI
//! runs it before the checks that use the npm tools).
//!
//! Std only, so that it builds in seconds before anything else has.

mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask test [--sqlite-only | --postgres-only]
       cargo xtask setup

test           the set-up below, then the whole suite: `cargo test --workspace` on SQLite,
               then the server's tests and the end-to-end server and browser tests again on
               PostgreSQL (METROPLAN_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
  --sqlite-only    skip the PostgreSQL pass
  --postgres-only  skip the SQLite pass (after a change that only the PostgreSQL pass checks)
setup          checks the programs the tests run (Chromium, ChromeDriver, Java, npm, PostgreSQL
               and its tools, mount...); as root, installs the missing Debian packages; without
               root, stops (exit 2) with the commands to run as root. Runs `npm ci` where
               node_modules is missing or older than package-lock.json (tests/web, .ci), and
               starts PostgreSQL when it is installed and down.";

/// The database the PostgreSQL pass uses when `METROPLAN_TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Why xtask stopped: a step failed (exit 1, or the failed test run's own code), or the
/// machine needs something only root may do (exit 2, with the commands).
#[derive(Debug)]
pub struct Stop {
    pub code: u8,
    pub message: String,
}

impl Stop {
    pub fn failed(message: impl Into<String>) -> Stop {
        Stop {
            code: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["setup"] => setup::run(&repo()),
        ["test", options @ ..] => match options {
            [] => test(Passes::Both),
            ["--sqlite-only"] => test(Passes::Sqlite),
            ["--postgres-only"] => test(Passes::Postgres),
            _ => Err(usage()),
        },
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(stop) => {
            eprintln!("\nxtask: {}", stop.message);
            ExitCode::from(stop.code)
        }
    }
}

fn usage() -> Stop {
    Stop {
        code: 2,
        message: USAGE.into(),
    }
}

/// The workspace root: the tests read their fixtures and tools relative to it.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the workspace")
        .to_path_buf()
}

pub fn step(what: &str) {
    println!("\n==> {what}");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Passes {
    Both,
    Sqlite,
    Postgres,
}

fn test(passes: Passes) -> Result<(), Stop> {
    let repo = repo();
    setup::run(&repo)?;
    if passes == Passes::Postgres {
        step("SQLite pass skipped (--postgres-only)");
    } else {
        step("the whole suite on SQLite: cargo test --workspace");
        cargo(&repo, &["test", "--workspace"], None)?;
    }
    if passes == Passes::Sqlite {
        step("PostgreSQL pass skipped (--sqlite-only)");
        step("all tests passed");
        return Ok(());
    }
    let url = setup::test_database();
    step(&format!(
        "the server's tests again, on PostgreSQL: METROPLAN_TEST_DATABASE_URL={url} cargo test -p metroplan --test it"
    ));
    cargo(
        &repo,
        &["test", "-p", "metroplan", "--test", "it"],
        Some(&url),
    )?;
    step("the end-to-end server and browser tests again, on PostgreSQL");
    // The PostgreSQL restart test ran in the SQLite pass, when nothing else used the cluster:
    // here it would stop it under the other tests.
    cargo(
        &repo,
        &[
            "test",
            "-p",
            "metroplan-e2e",
            "--test",
            "it",
            "--",
            "server",
            "web",
            "faults::a_server_killed",
        ],
        Some(&url),
    )?;
    step("all tests passed");
    Ok(())
}

/// Runs cargo (the one that runs xtask) from the workspace root; `database` is the PostgreSQL
/// URL the tests get, or none for SQLite (even if the caller's environment names one).
fn cargo(repo: &Path, args: &[&str], database: Option<&str>) -> Result<(), Stop> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(&cargo);
    c.args(args).current_dir(repo);
    match database {
        Some(url) => c.env("METROPLAN_TEST_DATABASE_URL", url),
        None => c.env_remove("METROPLAN_TEST_DATABASE_URL"),
    };
    println!("$ cargo {}", args.join(" "));
    let status = c
        .status()
        .map_err(|e| Stop::failed(format!("cannot run {cargo}: {e}")))?;
    if status.success() {
        return Ok(());
    }
    Err(Stop {
        code: status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .filter(|&c| c != 0)
            .unwrap_or(1),
        message: format!("`cargo {}` failed ({status})", args.join(" ")),
    })
}
