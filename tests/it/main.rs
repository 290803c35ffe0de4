//! End-to-end tests: the `metroplan` binary on real plan directories, and the demonstration
//! plan checked against its founding document.

mod audit;
mod cli;
mod demo_plan;
mod diff;
mod exports;
mod faults;
mod first_run;
mod fmt;
mod logs;
mod mail;
mod new_plan;
mod reload;
mod revoke;
mod rules_cli;
mod server;
mod slow_clients;
mod timers;
mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// The `metroplan` binary of this build, built once if `cargo test` did not build it.
pub fn metroplan() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let bin = dir.join("metroplan");
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo())
            .args(["build", "-q", "-p", "metroplan", "--bin", "metroplan"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo build");
        assert!(status.success(), "building metroplan failed");
    });
    bin
}

/// A copy of a directory tree (`cp -r`), to edit without touching the repository.
pub fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(
        status.success(),
        "cp -r {} {}",
        from.display(),
        to.display()
    );
}

pub fn run(args: &[&str]) -> Output {
    Command::new(metroplan())
        .current_dir(repo())
        .args(args)
        .output()
        .expect("run metroplan")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
