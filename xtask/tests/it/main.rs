//! xtask's own tests: what it does on a machine where it may not install anything.

use std::process::Command;

/// Without root, the set-up changes nothing and stops with exit 2, saying what to run as
/// root, rather than letting the fault tests fail (or be skipped) later. Run as root, the
/// test drops to `nobody` with setpriv (util-linux) to be a real unprivileged user.
#[test]
fn without_root_setup_stops_with_exit_2_and_the_commands_to_run_as_root() {
    // `nobody` may not reach the build directory (a clone under a 0700 home): run a copy of
    // the binary from a directory anyone can enter.
    let dir = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let copy = dir.join("xtask");
    std::fs::copy(env!("CARGO_BIN_EXE_xtask"), &copy).expect("copy of xtask");
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [&dir, &copy] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
    let xtask = copy.to_str().expect("a UTF-8 temp path");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut c = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
            xtask,
        ]);
        c
    } else {
        Command::new(xtask)
    };
    let out = c
        .arg("setup")
        .current_dir(&dir)
        .output()
        .expect("run xtask");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.contains("==> programs the tests run"), "{stdout}");
    assert!(
        stderr.contains("not running as root")
            && stderr.contains("tests/it/faults.rs")
            && stderr.contains("sudo env \"PATH=$PATH\" cargo xtask test"),
        "{stderr}"
    );
    // Whatever the machine lacks is in the commands, by its Debian package.
    for line in stdout
        .lines()
        .filter(|l| l.contains("missing (Debian package "))
    {
        let package = line
            .split("missing (Debian package ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap();
        let install = stderr
            .lines()
            .find(|l| l.contains("apt-get install -y"))
            .unwrap_or_else(|| panic!("no apt-get install for {package}:\n{stderr}"));
        assert!(
            install.split_whitespace().any(|w| w == package),
            "{package} not in `{install}`"
        );
    }
    // It stopped before `npm ci`: nothing was written as that user.
    assert!(!stdout.contains("npm ci"), "{stdout}");
}
